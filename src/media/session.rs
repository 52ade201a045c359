//! The sans-IO media half of one call.
//!
//! The `net/` driver calls `on_tick` every 20 ms and sends what it returns, and hands every
//! datagram from the call's RTP socket to `on_rtp`. Outgoing time is counted in ticks, not read
//! from a clock: packet N carries timestamp start + 160·N whatever the scheduler's jitter, so an
//! hour-long call never drifts. Nothing here allocates after `new`.

use std::collections::VecDeque;
use std::sync::Arc;

use super::dtmf::DtmfDetector;
use super::prompt::{PromptId, PromptLibrary};
use super::rtp::{RtpPacket, RtpSender, HEADER_LEN};
use super::{Codec, FRAME_SAMPLES};

/// Largest audio payload decoded per packet: a full Ethernet MTU of G.711 (about 180 ms).
/// Anything longer is cut here rather than growing the buffer on the media path.
pub const MAX_DECODED_SAMPLES: usize = 1500;

/// Events the session holds for the switch between polls; the switch polls every tick, so
/// reaching this means it stopped listening, and the oldest are dropped (and counted) rather
/// than letting a flood of digits grow memory.
const EVENT_QUEUE_LIMIT: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    Dtmf { digit: char, duration_ms: u32 },
    PromptFinished { prompt: PromptId, interrupted: bool },
}

/// Counters for the call's record and for spotting a misbehaving peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    pub packets_sent: u64,
    /// Every datagram handed to `on_rtp`, whatever became of it.
    pub packets_received: u64,
    /// Well-formed packets of a payload type that was not negotiated (comfort noise, a codec
    /// switch we did not agree to, telephone-events when none were negotiated).
    pub packets_ignored: u64,
    /// Datagrams that are not valid RTP.
    pub packets_malformed: u64,
    pub dtmf_digits: u64,
    pub events_dropped: u64,
}

#[derive(Debug, Clone, Copy)]
struct Playback {
    prompt: PromptId,
    next_frame: usize,
}

pub struct MediaSession {
    codec: Codec,
    payload_type: u8,
    telephone_event: Option<u8>,
    prompts: Arc<PromptLibrary>,
    sender: RtpSender,
    outgoing: [u8; HEADER_LEN + FRAME_SAMPLES],
    playing: Option<Playback>,
    dtmf: DtmfDetector,
    events: VecDeque<MediaEvent>,
    decoded: Box<[i16]>,
    decoded_len: usize,
    stats: MediaStats,
}

impl MediaSession {
    /// A session sending `codec` with the negotiated `payload_type` (usually the static 0 or 8),
    /// receiving telephone-events on `telephone_event` if the peer agreed to them. SSRC,
    /// sequence and timestamp start random.
    pub fn new(
        codec: Codec,
        payload_type: u8,
        telephone_event: Option<u8>,
        prompts: Arc<PromptLibrary>,
    ) -> Self {
        MediaSession::with_sender(
            codec,
            RtpSender::new(payload_type),
            telephone_event,
            prompts,
        )
    }

    /// A session whose outgoing stream starts where `sender` says (tests, captures).
    pub fn with_sender(
        codec: Codec,
        sender: RtpSender,
        telephone_event: Option<u8>,
        prompts: Arc<PromptLibrary>,
    ) -> Self {
        MediaSession {
            codec,
            payload_type: sender.payload_type,
            telephone_event,
            prompts,
            sender,
            outgoing: [0; HEADER_LEN + FRAME_SAMPLES],
            playing: None,
            dtmf: DtmfDetector::new(),
            events: VecDeque::with_capacity(EVENT_QUEUE_LIMIT),
            decoded: vec![0; MAX_DECODED_SAMPLES].into_boxed_slice(),
            decoded_len: 0,
            stats: MediaStats::default(),
        }
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The prompt being played, if any.
    pub fn playing(&self) -> Option<PromptId> {
        self.playing.map(|p| p.prompt)
    }

    /// Starts `prompt` from its first frame on the next tick. A prompt already playing is
    /// replaced and reported finished with `interrupted: true`, so every start has one finish.
    pub fn play(&mut self, prompt: PromptId) {
        self.stop();
        if self.prompts.frames(prompt, self.codec).is_empty() {
            // Not from our library: nothing to play, but the switch still waits for the end.
            self.push_event(MediaEvent::PromptFinished {
                prompt,
                interrupted: false,
            });
            return;
        }
        self.playing = Some(Playback {
            prompt,
            next_frame: 0,
        });
    }

    /// Stops the current prompt, reporting it finished with `interrupted: true`; silence
    /// follows. Does nothing when no prompt plays.
    pub fn stop(&mut self) {
        if let Some(playback) = self.playing.take() {
            self.push_event(MediaEvent::PromptFinished {
                prompt: playback.prompt,
                interrupted: true,
            });
        }
    }

    /// The next 20 ms packet to send: the current prompt frame, or silence. The prompt's last
    /// frame goes out on the same tick that reports it finished.
    pub fn on_tick(&mut self) -> &[u8] {
        let Some((header, payload)) = self.outgoing.split_first_chunk_mut::<HEADER_LEN>() else {
            unreachable!("the outgoing buffer is longer than an RTP header by construction");
        };
        let mut finished = None;
        match &mut self.playing {
            Some(playback) => {
                let frames = self.prompts.frames(playback.prompt, self.codec);
                match frames.get(playback.next_frame) {
                    Some(frame) => payload.copy_from_slice(frame),
                    None => payload.fill(self.codec.silence()),
                }
                playback.next_frame += 1;
                if playback.next_frame >= frames.len() {
                    finished = Some(playback.prompt);
                }
            }
            None => payload.fill(self.codec.silence()),
        }
        self.sender
            .write_header_in_place(header, FRAME_SAMPLES as u32);
        self.stats.packets_sent += 1;
        if let Some(prompt) = finished {
            self.playing = None;
            self.push_event(MediaEvent::PromptFinished {
                prompt,
                interrupted: false,
            });
        }
        &self.outgoing
    }

    /// Takes one datagram from the peer: telephone-events become digits, audio of the
    /// negotiated payload type is decoded into `last_decoded`, anything else is counted.
    pub fn on_rtp(&mut self, packet: &[u8]) {
        self.stats.packets_received += 1;
        let Ok(packet) = RtpPacket::parse(packet) else {
            self.stats.packets_malformed += 1;
            return;
        };
        let events = &mut self.events;
        let stats = &mut self.stats;
        let mut report = |digit: super::dtmf::DtmfDigit| {
            stats.dtmf_digits += 1;
            push_bounded(
                events,
                stats,
                MediaEvent::Dtmf {
                    digit: digit.digit,
                    duration_ms: digit.duration_ms,
                },
            );
        };
        if Some(packet.payload_type) == self.telephone_event {
            self.dtmf
                .on_packet(packet.timestamp, packet.payload, &mut report);
        } else if packet.payload_type == self.payload_type {
            self.dtmf.on_audio(packet.timestamp, &mut report);
            self.decoded_len = self.codec.decode_into(packet.payload, &mut self.decoded);
        } else {
            self.stats.packets_ignored += 1;
        }
    }

    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// PCM of the last audio packet received, for the recorder and voice activity detection.
    pub fn last_decoded(&self) -> &[i16] {
        &self.decoded[..self.decoded_len]
    }

    pub fn stats(&self) -> MediaStats {
        self.stats
    }

    fn push_event(&mut self, event: MediaEvent) {
        push_bounded(&mut self.events, &mut self.stats, event);
    }
}

fn push_bounded(events: &mut VecDeque<MediaEvent>, stats: &mut MediaStats, event: MediaEvent) {
    if events.len() >= EVENT_QUEUE_LIMIT {
        events.pop_front();
        stats.events_dropped += 1;
    }
    events.push_back(event);
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::media::g711;

    /// A library with a 1.01 s tone (51 frames, the last one partly padded) and a 60 ms beep.
    fn library() -> (Arc<PromptLibrary>, PromptId, PromptId) {
        let mut library = PromptLibrary::new();
        let tone: Vec<i16> = (0..8080)
            .map(|i| if i % 16 < 8 { 8000 } else { -8000 })
            .collect();
        let greeting = library.add_pcm("zh", "welcome", Path::new("welcome.wav"), &tone);
        let beep = library.add_pcm("zh", "beep", Path::new("beep.wav"), &[1000; 480]);
        (Arc::new(library), greeting, beep)
    }

    fn session(codec: Codec) -> (MediaSession, PromptId, PromptId) {
        let (library, greeting, beep) = library();
        let session = MediaSession::new(codec, codec.payload_type(), Some(101), library);
        (session, greeting, beep)
    }

    fn rtp(payload_type: u8, sequence: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
        let mut sender = RtpSender::with_start(payload_type, 0x5EED, sequence, timestamp);
        let mut buf = vec![0; HEADER_LEN + payload.len()];
        let len = sender.write(payload, 160, &mut buf).unwrap();
        buf.truncate(len);
        buf
    }

    fn events(session: &mut MediaSession) -> Vec<MediaEvent> {
        std::iter::from_fn(|| session.poll_event()).collect()
    }

    #[test]
    fn an_hour_of_ticks_keeps_sequence_and_timestamp_in_step() {
        let (mut session, _, _) = session(Codec::Pcma);
        let first = RtpPacket::parse(session.on_tick()).unwrap();
        assert!(first.marker, "the first packet starts a talkspurt");
        assert_eq!(first.payload_type, 8);
        assert_eq!(
            first.payload,
            &[0xD5; 160][..],
            "silence when nothing plays"
        );
        let (start_sequence, start_timestamp, ssrc) = (first.sequence, first.timestamp, first.ssrc);
        let (mut sequence, mut timestamp) = (start_sequence, start_timestamp);
        // One hour at 50 packets a second.
        for _ in 1..180_000 {
            let packet = RtpPacket::parse(session.on_tick()).unwrap();
            assert_eq!(packet.sequence, sequence.wrapping_add(1));
            assert_eq!(packet.timestamp, timestamp.wrapping_add(160));
            assert_eq!(packet.ssrc, ssrc);
            assert!(!packet.marker);
            sequence = packet.sequence;
            timestamp = packet.timestamp;
        }
        // Exactly 3600 s of 8 kHz samples after the first packet, less the one in flight.
        assert_eq!(
            timestamp.wrapping_sub(start_timestamp),
            (180_000 - 1) * 160,
            "drift"
        );
        assert_eq!(sequence, start_sequence.wrapping_add((180_000 - 1) as u16));
        assert_eq!(session.stats().packets_sent, 180_000);
    }

    #[test]
    fn a_prompt_finishes_after_ceil_duration_over_20_ms_ticks() {
        let (mut session, greeting, _) = session(Codec::Pcmu);
        let library = Arc::clone(&session.prompts);
        let duration = library.duration(greeting);
        let ticks = duration.as_micros().div_ceil(20_000) as usize;
        assert_eq!(ticks, 51);
        session.play(greeting);
        for tick in 0..ticks {
            let packet = session.on_tick();
            assert_eq!(
                &packet[HEADER_LEN..],
                &library.frames(greeting, Codec::Pcmu)[tick][..],
                "tick {tick}"
            );
            if tick + 1 < ticks {
                assert_eq!(session.poll_event(), None, "finished early at tick {tick}");
            }
        }
        assert_eq!(
            events(&mut session),
            vec![MediaEvent::PromptFinished {
                prompt: greeting,
                interrupted: false
            }]
        );
        assert_eq!(session.playing(), None);
        assert_eq!(&session.on_tick()[HEADER_LEN..], &[0xFF; 160][..]);
        assert_eq!(session.poll_event(), None);
    }

    #[test]
    fn stop_reports_the_prompt_interrupted_and_sends_silence() {
        let (mut session, greeting, _) = session(Codec::Pcma);
        session.play(greeting);
        for _ in 0..10 {
            session.on_tick();
        }
        session.stop();
        assert_eq!(
            events(&mut session),
            vec![MediaEvent::PromptFinished {
                prompt: greeting,
                interrupted: true
            }]
        );
        assert_eq!(&session.on_tick()[HEADER_LEN..], &[0xD5; 160][..]);
        session.stop();
        assert_eq!(
            session.poll_event(),
            None,
            "stopping silence reports nothing"
        );
    }

    #[test]
    fn play_replaces_the_current_prompt() {
        let (mut session, greeting, beep) = session(Codec::Pcma);
        session.play(greeting);
        session.on_tick();
        session.play(beep);
        for _ in 0..3 {
            session.on_tick();
        }
        assert_eq!(
            events(&mut session),
            vec![
                MediaEvent::PromptFinished {
                    prompt: greeting,
                    interrupted: true
                },
                MediaEvent::PromptFinished {
                    prompt: beep,
                    interrupted: false
                }
            ]
        );
    }

    #[test]
    fn a_prompt_from_another_library_finishes_at_once() {
        let (mut session, _, _) = session(Codec::Pcmu);
        let mut other = PromptLibrary::new();
        // The session's library holds two prompts, so a third id means nothing to it.
        for name in ["a", "b"] {
            other.add_pcm("en", name, Path::new(name), &[0; 160]);
        }
        let foreign = other.add_pcm("en", "c", Path::new("c"), &[0; 160]);
        session.play(foreign);
        assert_eq!(
            events(&mut session),
            vec![MediaEvent::PromptFinished {
                prompt: foreign,
                interrupted: false
            }]
        );
        assert_eq!(session.playing(), None);
    }

    #[test]
    fn received_audio_is_decoded_into_the_reused_buffer() {
        let (mut session, _, _) = session(Codec::Pcma);
        let payload: Vec<u8> = (0..160).map(|i| i as u8).collect();
        session.on_rtp(&rtp(8, 1, 0, &payload));
        let expected: Vec<i16> = payload.iter().map(|&b| g711::alaw_decode(b)).collect();
        assert_eq!(session.last_decoded(), &expected[..]);
        let address_before = session.last_decoded().as_ptr();
        session.on_rtp(&rtp(8, 2, 160, &[0xD5; 80]));
        assert_eq!(session.last_decoded(), &[8i16; 80][..]);
        assert_eq!(session.last_decoded().as_ptr(), address_before);
        assert_eq!(session.stats().packets_received, 2);
    }

    #[test]
    fn other_payload_types_and_garbage_are_counted_not_decoded() {
        let (mut session, _, _) = session(Codec::Pcmu);
        session.on_rtp(&rtp(0, 1, 0, &[0xFF; 160]));
        session.on_rtp(&rtp(8, 2, 160, &[0x00; 160]));
        session.on_rtp(&rtp(13, 3, 320, &[40]));
        session.on_rtp(&[0x80, 0x00, 0x01]);
        session.on_rtp(&[]);
        assert_eq!(session.last_decoded(), &[0i16; 160][..]);
        let stats = session.stats();
        assert_eq!(stats.packets_received, 5);
        assert_eq!(stats.packets_ignored, 2);
        assert_eq!(stats.packets_malformed, 2);
    }

    #[test]
    fn telephone_events_become_one_digit_each() {
        let (mut session, _, _) = session(Codec::Pcmu);
        let mut sequence = 100;
        let mut send = |session: &mut MediaSession, pt: u8, ts: u32, payload: &[u8]| {
            session.on_rtp(&rtp(pt, sequence, ts, payload));
            sequence += 1;
        };
        // Digit 9 held 60 ms then three ends; then digit # whose ends are all lost, noticed when
        // the audio resumes well after it.
        for (duration, end) in [
            (160u16, false),
            (320, false),
            (480, true),
            (480, true),
            (480, true),
        ] {
            let d = duration.to_be_bytes();
            send(
                &mut session,
                101,
                8000,
                &[9, if end { 0x8A } else { 0x0A }, d[0], d[1]],
            );
        }
        for duration in [160u16, 320] {
            let d = duration.to_be_bytes();
            send(&mut session, 101, 16_000, &[11, 0x0A, d[0], d[1]]);
        }
        send(&mut session, 0, 16_000 + 1600, &[0xFF; 160]);
        assert_eq!(
            events(&mut session),
            vec![
                MediaEvent::Dtmf {
                    digit: '9',
                    duration_ms: 60
                },
                MediaEvent::Dtmf {
                    digit: '#',
                    duration_ms: 40
                }
            ]
        );
        assert_eq!(session.stats().dtmf_digits, 2);
    }

    #[test]
    fn telephone_events_are_ignored_when_not_negotiated() {
        let (library, _, _) = library();
        let mut session = MediaSession::new(Codec::Pcmu, 0, None, library);
        session.on_rtp(&rtp(101, 1, 0, &[1, 0x80, 0, 160]));
        assert_eq!(session.poll_event(), None);
        assert_eq!(session.stats().packets_ignored, 1);
    }

    #[test]
    fn a_flood_of_events_nobody_polls_stays_bounded() {
        let (mut session, greeting, _) = session(Codec::Pcmu);
        for _ in 0..200 {
            session.play(greeting);
        }
        let stats = session.stats();
        assert_eq!(stats.events_dropped, 199 - EVENT_QUEUE_LIMIT as u64);
        assert_eq!(events(&mut session).len(), EVENT_QUEUE_LIMIT);
    }

    #[test]
    fn oversized_audio_is_cut_to_the_buffer() {
        let (mut session, _, _) = session(Codec::Pcmu);
        session.on_rtp(&rtp(0, 1, 0, &[0xFF; 2000]));
        assert_eq!(session.last_decoded().len(), MAX_DECODED_SAMPLES);
    }
}
