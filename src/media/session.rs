//! The sans-IO media half of one call leg.
//!
//! The `net/` driver calls `on_tick` every 20 ms and sends what it returns, and hands every
//! datagram from the leg's RTP socket to `on_rtp`. Outgoing time is counted in ticks, not read
//! from a clock: packet N carries timestamp start + 160·N whatever the scheduler's jitter, so an
//! hour-long call never drifts. Nothing here allocates after `new`.
//!
//! A leg hears one source at a time: a prompt (once or looped, for music on hold), silence, or
//! — while bridged — another leg, whose packets arrive as [`RelayFrame`]s and leave through
//! `relay` rewritten as this leg's own stream (SSRC, sequence, continuous timestamps, codec and
//! telephone-event payload type). The relay path has no jitter buffer: a frame goes out as soon
//! as it comes in, so the bridge adds no delay. A prompt started on a bridged leg replaces the
//! relayed audio until it ends, which is how whispers and announcements reach a connected party
//! without renegotiating anything.

use std::collections::VecDeque;
use std::sync::Arc;

use super::dtmf::DtmfDetector;
use super::prompt::{PromptId, PromptLibrary};
use super::rtp::{RtpPacket, RtpSender, HEADER_LEN};
use super::{Codec, LegQuality, MediaRecordKey, PlayId, FRAME_SAMPLES, SAMPLE_RATE};

/// Largest audio payload decoded per packet: a full Ethernet MTU of G.711 (about 180 ms).
/// Anything longer is cut here rather than growing the buffer on the media path.
pub const MAX_DECODED_SAMPLES: usize = 1500;

/// Largest payload carried from one leg to the other: 60 ms of G.711, the longest packet
/// time phones use. A longer payload is cut to this, keeping every frame a fixed size so the
/// relay channel never allocates per packet.
pub const RELAY_PAYLOAD_MAX: usize = 480;

/// Largest source timestamp step (1 s at 8 kHz) taken as the source's own timing. Within it,
/// steps are kept exactly — telephone-event packets of one key press share a timestamp, late
/// packets step back, 10 or 30 ms packets step by 80 or 240 — so the relayed stream keeps the
/// source's timing relations. A bigger jump (the source restarted, or was silent a long time)
/// is cut to 1 s forward, or one frame when it goes backwards, and marked as a new talkspurt.
const MAX_RELAY_STEP: u32 = SAMPLE_RATE;

/// Events the session holds for the switch between polls; the switch polls every tick, so
/// reaching this means it stopped listening, and the oldest are dropped (and counted) rather
/// than letting a flood of digits grow memory.
const EVENT_QUEUE_LIMIT: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    Dtmf {
        digit: char,
        duration_ms: u32,
    },
    /// A digit found in the audio itself (Goertzel), on a trunk set for in-band DTMF.
    InbandDtmf {
        digit: char,
        duration_ms: u32,
    },
    PromptFinished {
        prompt: PromptId,
        play: PlayId,
        interrupted: bool,
    },
    /// The first RTP packet from the far end after `Start` (once per leg): proof the far
    /// end has the answer even when its ACK is lost.
    RtpArrived,
    /// Neither RTP nor RTCP came from the far end for the leg's media timeout (on hold, no
    /// RTCP): the far end is gone without a BYE.
    MediaTimeout {
        silent_ms: u64,
    },
    /// The leg's media figures, once, when the leg ends (`End` or shutdown).
    Quality {
        record: MediaRecordKey,
        quality: LegQuality,
    },
    /// A recording of what the far end said (voicemail) ended: it reached its maximum, was
    /// stopped, or the call ended. The file is complete when this is reported.
    RecordingFinished {
        duration_ms: u64,
    },
}

/// Counters for the call's record and for spotting a misbehaving peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// Every packet sent on this leg: prompts, silence and relayed packets.
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
    /// Packets from the other leg sent on this one.
    pub packets_relayed: u64,
    /// Frames from the other leg not sent: a prompt was playing over them, the leg was not
    /// bridged (a frame in flight at unbridging), or a telephone-event this leg's peer did
    /// not agree to.
    pub relay_dropped: u64,
}

/// What `on_rtp` made of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Audio of the negotiated codec: `last_decoded` and `last_relay_frame` hold it.
    Audio,
    /// An RFC 4733 telephone-event: `last_relay_frame` holds it.
    TelephoneEvent,
    /// Valid RTP of a payload type we did not negotiate.
    Ignored,
    /// Not RTP.
    Malformed,
}

/// What a relay frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayKind {
    /// G.711 audio in the codec of the leg it came from.
    Audio(Codec),
    /// An RFC 4733 telephone-event payload, passed on as it is.
    TelephoneEvent,
}

/// One packet received on a leg, as handed to the leg it is bridged with: fixed size, so a
/// bounded channel of them never allocates per packet. Deliberately not `Copy`: moving 500
/// bytes should be visible in the code that does it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayFrame {
    pub kind: RelayKind,
    /// The source's marker bit: the start of a talkspurt or of a key press.
    pub marker: bool,
    /// The source's RTP timestamp; only differences between frames are used.
    pub timestamp: u32,
    len: u16,
    payload: [u8; RELAY_PAYLOAD_MAX],
}

impl RelayFrame {
    /// A frame holding `payload`, cut to `RELAY_PAYLOAD_MAX` bytes.
    pub fn new(kind: RelayKind, marker: bool, timestamp: u32, payload: &[u8]) -> RelayFrame {
        let mut frame = RelayFrame {
            kind,
            marker,
            timestamp,
            len: 0,
            payload: [0; RELAY_PAYLOAD_MAX],
        };
        frame.fill(kind, marker, timestamp, payload);
        frame
    }

    /// Overwrites the frame in place (the session reuses one for every packet received).
    pub fn fill(&mut self, kind: RelayKind, marker: bool, timestamp: u32, payload: &[u8]) {
        let n = payload.len().min(RELAY_PAYLOAD_MAX);
        self.kind = kind;
        self.marker = marker;
        self.timestamp = timestamp;
        self.payload[..n].copy_from_slice(&payload[..n]);
        // n ≤ RELAY_PAYLOAD_MAX, far below u16::MAX.
        self.len = n as u16;
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload[..usize::from(self.len)]
    }
}

#[derive(Debug, Clone, Copy)]
struct Playback {
    prompt: PromptId,
    play: PlayId,
    next_frame: usize,
    /// Music on hold: start again after the last frame instead of finishing.
    looping: bool,
}

/// What this leg sent last, which decides the timestamp and marker of what it sends next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LastSent {
    Nothing,
    /// A prompt frame or silence, on the tick clock.
    Local,
    /// A frame from the other leg: its source timestamp and the timestamp it went out with.
    Relayed {
        source_timestamp: u32,
        timestamp: u32,
    },
}

pub struct MediaSession {
    codec: Codec,
    payload_type: u8,
    telephone_event: Option<u8>,
    prompts: Arc<PromptLibrary>,
    sender: RtpSender,
    outgoing: [u8; HEADER_LEN + FRAME_SAMPLES],
    relayed: [u8; HEADER_LEN + RELAY_PAYLOAD_MAX],
    playing: Option<Playback>,
    bridged: bool,
    last_sent: LastSent,
    dtmf: DtmfDetector,
    events: VecDeque<MediaEvent>,
    decoded: Box<[i16]>,
    decoded_len: usize,
    received_frame: RelayFrame,
    received_frame_valid: bool,
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
            relayed: [0; HEADER_LEN + RELAY_PAYLOAD_MAX],
            playing: None,
            bridged: false,
            last_sent: LastSent::Nothing,
            dtmf: DtmfDetector::new(),
            events: VecDeque::with_capacity(EVENT_QUEUE_LIMIT),
            decoded: vec![0; MAX_DECODED_SAMPLES].into_boxed_slice(),
            decoded_len: 0,
            received_frame: RelayFrame::new(RelayKind::Audio(codec), false, 0, &[]),
            received_frame_valid: false,
            stats: MediaStats::default(),
        }
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Switches the leg to what a renegotiation agreed (re-INVITE, UPDATE): the codec and
    /// payload type sent and expected from the next packet on, and the telephone-event type.
    /// The stream (SSRC, sequence, timestamps) and a prompt playing go on.
    pub fn set_format(&mut self, codec: Codec, payload_type: u8, telephone_event: Option<u8>) {
        self.codec = codec;
        self.payload_type = payload_type;
        self.sender.payload_type = payload_type;
        self.telephone_event = telephone_event;
    }

    /// The prompt being played, if any.
    pub fn playing(&self) -> Option<PromptId> {
        self.playing.map(|p| p.prompt)
    }

    /// Starts `prompt` from its first frame on the next tick. A prompt already playing is
    /// replaced and reported finished with `interrupted: true`, so every start has one finish.
    pub fn play(&mut self, prompt: PromptId, play: PlayId) {
        self.start(prompt, play, false);
    }

    /// Plays `prompt` over and over (music on hold) until `stop`, `play` or bridging. Each
    /// pass follows the last without a gap and reports nothing; the one finish comes when the
    /// loop is stopped or replaced (`interrupted: true`).
    pub fn play_loop(&mut self, prompt: PromptId, play: PlayId) {
        self.start(prompt, play, true);
    }

    fn start(&mut self, prompt: PromptId, play: PlayId, looping: bool) {
        self.stop();
        if self.prompts.frames(prompt, self.codec).is_empty() {
            // Not from our library: nothing to play, but the switch still waits for the end.
            self.push_event(MediaEvent::PromptFinished {
                prompt,
                play,
                interrupted: false,
            });
            return;
        }
        self.playing = Some(Playback {
            prompt,
            play,
            next_frame: 0,
            looping,
        });
    }

    /// Stops the current prompt, reporting it finished with `interrupted: true`; silence (or,
    /// when bridged, the other leg) follows. Does nothing when no prompt plays.
    pub fn stop(&mut self) {
        if let Some(playback) = self.playing.take() {
            self.push_event(MediaEvent::PromptFinished {
                prompt: playback.prompt,
                play: playback.play,
                interrupted: true,
            });
        }
    }

    /// Connects this leg to another one (`true`): from now on it sends what `relay` is given
    /// instead of silence. Music playing at that moment stops (reported interrupted): it was
    /// there because the leg had nobody to hear, and now it has. A one-off prompt plays to its
    /// end first. `false` goes back to silence between prompts.
    pub fn set_bridged(&mut self, bridged: bool) {
        if bridged && !self.bridged && self.playing.is_some_and(|p| p.looping) {
            self.stop();
        }
        self.bridged = bridged;
    }

    pub fn is_bridged(&self) -> bool {
        self.bridged
    }

    /// The next 20 ms packet to send: the current prompt frame, or silence; nothing while the
    /// leg is bridged and no prompt plays, since the other leg's packets are its audio then.
    /// The prompt's last frame goes out on the same tick that reports it finished.
    pub fn on_tick(&mut self) -> Option<&[u8]> {
        if self.bridged && self.playing.is_none() {
            return None;
        }
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
                    if playback.looping {
                        playback.next_frame = 0;
                    } else {
                        finished = Some((playback.prompt, playback.play));
                    }
                }
            }
            None => payload.fill(self.codec.silence()),
        }
        // Local audio after relayed audio (or at the very start) begins a talkspurt.
        let marker = self.last_sent != LastSent::Local;
        let timestamp = self.sender.next_timestamp();
        self.sender.write_header_at(
            header,
            marker,
            self.payload_type,
            timestamp,
            FRAME_SAMPLES as u32,
        );
        self.last_sent = LastSent::Local;
        self.stats.packets_sent += 1;
        if let Some((prompt, play)) = finished {
            self.playing = None;
            self.push_event(MediaEvent::PromptFinished {
                prompt,
                play,
                interrupted: false,
            });
        }
        Some(&self.outgoing)
    }

    /// Turns a frame received on the other leg into the packet this leg sends, or an empty
    /// slice when it sends nothing for it. The packet carries this leg's SSRC, the next
    /// sequence number, a timestamp following on from what this leg sent before, this leg's
    /// codec (re-encoded through the G.711 tables when the legs differ) or telephone-event
    /// payload type.
    pub fn relay(&mut self, frame: &RelayFrame) -> &[u8] {
        if !self.bridged || self.playing.is_some() {
            self.stats.relay_dropped += 1;
            return &[];
        }
        let Some((header, body)) = self.relayed.split_first_chunk_mut::<HEADER_LEN>() else {
            unreachable!("the relay buffer is longer than an RTP header by construction");
        };
        let (payload_type, len, samples) = match frame.kind {
            RelayKind::Audio(source_codec) => {
                let len = source_codec.transcode_into(self.codec, frame.payload(), body);
                // One G.711 byte is one sample.
                (self.payload_type, len, len as u32)
            }
            RelayKind::TelephoneEvent => {
                let Some(payload_type) = self.telephone_event else {
                    self.stats.relay_dropped += 1;
                    return &[];
                };
                let payload = frame.payload();
                body[..payload.len()].copy_from_slice(payload);
                // Local audio after a key press starts a frame later.
                (payload_type, payload.len(), FRAME_SAMPLES as u32)
            }
        };
        let (timestamp, marker) = match self.last_sent {
            LastSent::Relayed {
                source_timestamp,
                timestamp,
            } => {
                let step = frame.timestamp.wrapping_sub(source_timestamp) as i32;
                if step.unsigned_abs() <= MAX_RELAY_STEP {
                    (timestamp.wrapping_add_signed(step), frame.marker)
                } else if step > 0 {
                    (timestamp.wrapping_add(MAX_RELAY_STEP), true)
                } else {
                    (timestamp.wrapping_add(FRAME_SAMPLES as u32), true)
                }
            }
            // Straight on from the last local frame, as a new talkspurt.
            LastSent::Local | LastSent::Nothing => (self.sender.next_timestamp(), true),
        };
        self.sender
            .write_header_at(header, marker, payload_type, timestamp, samples);
        self.last_sent = LastSent::Relayed {
            source_timestamp: frame.timestamp,
            timestamp,
        };
        self.stats.packets_sent += 1;
        self.stats.packets_relayed += 1;
        &self.relayed[..HEADER_LEN + len]
    }

    /// Takes one datagram from the peer: telephone-events become digits, audio of the
    /// negotiated payload type is decoded into `last_decoded`, anything else is counted.
    /// Audio and telephone-events are also kept as `last_relay_frame` for a bridged leg.
    pub fn on_rtp(&mut self, packet: &[u8]) -> Received {
        self.stats.packets_received += 1;
        self.received_frame_valid = false;
        let Ok(packet) = RtpPacket::parse(packet) else {
            self.stats.packets_malformed += 1;
            return Received::Malformed;
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
        let (received, kind) = if Some(packet.payload_type) == self.telephone_event {
            self.dtmf
                .on_packet(packet.timestamp, packet.payload, &mut report);
            (Received::TelephoneEvent, RelayKind::TelephoneEvent)
        } else if packet.payload_type == self.payload_type {
            self.dtmf.on_audio(packet.timestamp, &mut report);
            self.decoded_len = self.codec.decode_into(packet.payload, &mut self.decoded);
            (Received::Audio, RelayKind::Audio(self.codec))
        } else {
            self.stats.packets_ignored += 1;
            return Received::Ignored;
        };
        self.received_frame
            .fill(kind, packet.marker, packet.timestamp, packet.payload);
        self.received_frame_valid = true;
        received
    }

    /// The packet just given to `on_rtp`, ready for the leg this one is bridged with; `None`
    /// when it was neither audio nor a telephone-event.
    pub fn last_relay_frame(&self) -> Option<&RelayFrame> {
        self.received_frame_valid.then_some(&self.received_frame)
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
        let first = RtpPacket::parse(session.on_tick().unwrap()).unwrap();
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
            let packet = RtpPacket::parse(session.on_tick().unwrap()).unwrap();
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
        session.play(greeting, PlayId(1));
        for tick in 0..ticks {
            let packet = session.on_tick().unwrap();
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
                play: PlayId(1),
                prompt: greeting,
                interrupted: false
            }]
        );
        assert_eq!(session.playing(), None);
        assert_eq!(&session.on_tick().unwrap()[HEADER_LEN..], &[0xFF; 160][..]);
        assert_eq!(session.poll_event(), None);
    }

    #[test]
    fn stop_reports_the_prompt_interrupted_and_sends_silence() {
        let (mut session, greeting, _) = session(Codec::Pcma);
        session.play(greeting, PlayId(1));
        for _ in 0..10 {
            session.on_tick().unwrap();
        }
        session.stop();
        assert_eq!(
            events(&mut session),
            vec![MediaEvent::PromptFinished {
                play: PlayId(1),
                prompt: greeting,
                interrupted: true
            }]
        );
        assert_eq!(&session.on_tick().unwrap()[HEADER_LEN..], &[0xD5; 160][..]);
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
        session.play(greeting, PlayId(1));
        session.on_tick().unwrap();
        session.play(beep, PlayId(1));
        for _ in 0..3 {
            session.on_tick().unwrap();
        }
        assert_eq!(
            events(&mut session),
            vec![
                MediaEvent::PromptFinished {
                    play: PlayId(1),
                    prompt: greeting,
                    interrupted: true
                },
                MediaEvent::PromptFinished {
                    play: PlayId(1),
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
        session.play(foreign, PlayId(1));
        assert_eq!(
            events(&mut session),
            vec![MediaEvent::PromptFinished {
                play: PlayId(1),
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
            session.play(greeting, PlayId(1));
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

    /// A PCMA leg with a known outgoing stream: SSRC 0xA1, sequence 100, timestamp 5000.
    fn known_leg(codec: Codec, telephone_event: Option<u8>) -> (MediaSession, PromptId) {
        let (library, _, beep) = library();
        let sender = RtpSender::with_start(codec.payload_type(), 0xA1, 100, 5000);
        let session = MediaSession::with_sender(codec, sender, telephone_event, library);
        (session, beep)
    }

    fn audio_frame(codec: Codec, timestamp: u32, payload: &[u8]) -> RelayFrame {
        RelayFrame::new(RelayKind::Audio(codec), false, timestamp, payload)
    }

    fn parsed(packet: &[u8]) -> (bool, u8, u16, u32, u32, Vec<u8>) {
        let p = RtpPacket::parse(packet).unwrap();
        (
            p.marker,
            p.payload_type,
            p.sequence,
            p.timestamp,
            p.ssrc,
            p.payload.to_vec(),
        )
    }

    #[test]
    fn a_loop_plays_on_past_the_prompts_end_with_continuous_sequence_and_timestamp() {
        let (mut session, beep) = known_leg(Codec::Pcma, None);
        let frames = session.prompts.frames(beep, Codec::Pcma).to_vec();
        assert_eq!(frames.len(), 3);
        session.play_loop(beep, PlayId(1));
        for tick in 0..10u16 {
            let (marker, pt, sequence, timestamp, ssrc, payload) =
                parsed(session.on_tick().unwrap());
            assert_eq!(payload, frames[usize::from(tick) % 3], "tick {tick}");
            assert_eq!((pt, ssrc), (8, 0xA1));
            assert_eq!(sequence, 100 + tick);
            assert_eq!(timestamp, 5000 + 160 * u32::from(tick));
            assert_eq!(marker, tick == 0);
            assert_eq!(session.poll_event(), None, "a pass ending is not reported");
        }
        assert_eq!(session.playing(), Some(beep));
        session.stop();
        assert_eq!(
            events(&mut session),
            vec![MediaEvent::PromptFinished {
                play: PlayId(1),
                prompt: beep,
                interrupted: true
            }]
        );
        assert_eq!(
            parsed(session.on_tick().unwrap()).5,
            vec![0xD5; 160],
            "silence after the loop"
        );
    }

    #[test]
    fn a_bridged_leg_sends_nothing_on_tick_and_silence_again_when_unbridged() {
        let (mut session, _) = known_leg(Codec::Pcmu, None);
        session.set_bridged(true);
        for _ in 0..5 {
            assert_eq!(session.on_tick(), None);
        }
        assert_eq!(session.stats().packets_sent, 0);
        session.set_bridged(false);
        let (marker, _, sequence, timestamp, _, payload) = parsed(session.on_tick().unwrap());
        assert_eq!(payload, vec![0xFF; 160]);
        assert_eq!((marker, sequence, timestamp), (true, 100, 5000));
    }

    #[test]
    fn bridging_stops_music_on_hold_but_lets_a_prompt_finish() {
        let (mut session, beep) = known_leg(Codec::Pcma, None);
        session.play_loop(beep, PlayId(1));
        session.on_tick();
        session.set_bridged(true);
        assert_eq!(
            events(&mut session),
            vec![MediaEvent::PromptFinished {
                play: PlayId(1),
                prompt: beep,
                interrupted: true
            }]
        );
        assert_eq!(session.on_tick(), None);

        session.set_bridged(false);
        session.play(beep, PlayId(1));
        session.set_bridged(true);
        assert_eq!(session.playing(), Some(beep));
        for _ in 0..3 {
            assert!(session.on_tick().is_some());
        }
        assert_eq!(
            events(&mut session),
            vec![MediaEvent::PromptFinished {
                play: PlayId(1),
                prompt: beep,
                interrupted: false
            }]
        );
        assert_eq!(session.on_tick(), None);
    }

    #[test]
    fn relay_keeps_the_payload_with_own_ssrc_and_continuous_sequence_and_timestamp() {
        let (mut session, beep) = known_leg(Codec::Pcma, Some(101));
        session.play(beep, PlayId(1));
        session.set_bridged(true);
        let mut sent = Vec::new();
        for _ in 0..3 {
            sent.push(parsed(session.on_tick().unwrap()));
        }
        assert_eq!(
            session.on_tick(),
            None,
            "the prompt is over: the other leg speaks"
        );
        // The other leg's stream has its own, unrelated numbering.
        for i in 0..4u32 {
            let payload: Vec<u8> = (0..160).map(|b| (b as u32 * 3 + i) as u8).collect();
            let frame = audio_frame(Codec::Pcma, 900_000 + 160 * i, &payload);
            let packet = parsed(session.relay(&frame));
            assert_eq!(packet.5, payload, "same codec: the bytes pass untouched");
            sent.push(packet);
        }
        for (i, (marker, pt, sequence, timestamp, ssrc, _)) in sent.iter().enumerate() {
            assert_eq!((*pt, *ssrc), (8, 0xA1), "packet {i}");
            assert_eq!(*sequence, 100 + i as u16, "packet {i}");
            assert_eq!(*timestamp, 5000 + 160 * i as u32, "packet {i}");
            // The stream's start and the switch from prompt to relay, nothing else.
            assert_eq!(*marker, i == 0 || i == 3, "packet {i}");
        }
        let stats = session.stats();
        assert_eq!((stats.packets_sent, stats.packets_relayed), (7, 4));
    }

    #[test]
    fn relay_keeps_the_sources_packet_time_and_late_packets() {
        let (mut session, _) = known_leg(Codec::Pcmu, None);
        session.set_bridged(true);
        let mut timestamps = Vec::new();
        // 30 ms packets, then one arriving late (its timestamp before the previous one).
        for source in [7000u32, 7240, 7480, 7240 + 240 + 240 + 240, 7720] {
            let frame = audio_frame(Codec::Pcmu, source, &[0xFF; 240]);
            timestamps.push(parsed(session.relay(&frame)).3);
        }
        assert_eq!(timestamps, vec![5000, 5240, 5480, 5960, 5720]);
    }

    #[test]
    fn relay_cuts_source_timestamp_jumps_and_marks_them() {
        let (mut session, _) = known_leg(Codec::Pcmu, None);
        session.set_bridged(true);
        let mut sent = Vec::new();
        // A 5 s gap (silence suppression), then a restarted source far behind.
        for source in [1000u32, 1160, 1160 + 40_000, 12] {
            let frame = audio_frame(Codec::Pcmu, source, &[0xFF; 160]);
            let (marker, _, _, timestamp, _, _) = parsed(session.relay(&frame));
            sent.push((marker, timestamp));
        }
        assert_eq!(
            sent,
            vec![
                (true, 5000),
                (false, 5160),
                (true, 5160 + 8000),
                (true, 5160 + 8000 + 160)
            ]
        );
    }

    #[test]
    fn relay_transcodes_pcmu_to_pcma_and_back_through_the_g711_tables() {
        // 20 ms of a 1 kHz tone, µ-law, as a PCMU phone would send it.
        let tone: Vec<i16> = (0..160)
            .map(|i| ((i as f32 * std::f32::consts::TAU / 8.0).sin() * 12_000.0) as i16)
            .collect();
        let ulaw: Vec<u8> = tone.iter().map(|&s| g711::ulaw_encode(s)).collect();
        let expected_alaw: Vec<u8> = ulaw
            .iter()
            .map(|&b| g711::alaw_encode(g711::ulaw_decode(b)))
            .collect();
        let (mut pcma_leg, _) = known_leg(Codec::Pcma, None);
        pcma_leg.set_bridged(true);
        let (_, pt, _, _, _, payload) = parsed(pcma_leg.relay(&audio_frame(Codec::Pcmu, 0, &ulaw)));
        assert_eq!(pt, 8);
        assert_eq!(payload, expected_alaw);
        // Known code points: µ-law silence is A-law silence; full scale stays full scale.
        let (_, _, _, _, _, payload) =
            parsed(pcma_leg.relay(&audio_frame(Codec::Pcmu, 160, &[0xFF, 0x80, 0x00])));
        assert_eq!(payload, vec![0xD5, 0xAA, 0x2A]);

        let (mut pcmu_leg, _) = known_leg(Codec::Pcmu, None);
        pcmu_leg.set_bridged(true);
        let (_, pt, _, _, _, payload) =
            parsed(pcmu_leg.relay(&audio_frame(Codec::Pcma, 0, &expected_alaw)));
        assert_eq!(pt, 0);
        let expected_ulaw: Vec<u8> = expected_alaw
            .iter()
            .map(|&b| g711::ulaw_encode(g711::alaw_decode(b)))
            .collect();
        assert_eq!(payload, expected_ulaw);
    }

    #[test]
    fn telephone_events_are_relayed_with_this_legs_payload_type_or_dropped() {
        let (mut session, _) = known_leg(Codec::Pcma, Some(96));
        session.set_bridged(true);
        session.relay(&audio_frame(Codec::Pcmu, 4000, &[0xFF; 160]));
        let mut sent = Vec::new();
        // Digit 5: start (marked), an update, then the end; all carry the event's start time.
        for (marker, payload) in [
            (true, [5u8, 0x0A, 0, 160]),
            (false, [5, 0x0A, 1, 64]),
            (false, [5, 0x8A, 3, 32]),
        ] {
            let frame = RelayFrame::new(RelayKind::TelephoneEvent, marker, 4160, &payload);
            let (m, pt, sequence, timestamp, _, body) = parsed(session.relay(&frame));
            assert_eq!(body, payload);
            sent.push((m, pt, sequence, timestamp));
        }
        assert_eq!(
            sent,
            vec![
                (true, 96, 101, 5160),
                (false, 96, 102, 5160),
                (false, 96, 103, 5160)
            ]
        );

        let (mut no_events, _) = known_leg(Codec::Pcma, None);
        no_events.set_bridged(true);
        let frame = RelayFrame::new(RelayKind::TelephoneEvent, true, 0, &[5, 0x0A, 0, 160]);
        assert!(no_events.relay(&frame).is_empty());
        assert_eq!(no_events.stats().relay_dropped, 1);
        assert_eq!(no_events.stats().packets_sent, 0);
    }

    #[test]
    fn a_prompt_played_while_bridged_replaces_relayed_audio_until_it_ends() {
        let (mut session, beep) = known_leg(Codec::Pcmu, None);
        let beep_frames = session.prompts.frames(beep, Codec::Pcmu).to_vec();
        session.set_bridged(true);
        let speech = [0x42u8; 160];
        assert_eq!(
            parsed(session.relay(&audio_frame(Codec::Pcmu, 0, &speech))).3,
            5000
        );
        session.play(beep, PlayId(1));
        let mut heard = Vec::new();
        for i in 0..3u32 {
            assert!(
                session
                    .relay(&audio_frame(Codec::Pcmu, 160 * (i + 1), &speech))
                    .is_empty(),
                "the prompt plays over the other leg"
            );
            let (marker, _, sequence, timestamp, _, payload) = parsed(session.on_tick().unwrap());
            heard.push((marker, sequence, timestamp));
            assert_eq!(payload, beep_frames[i as usize]);
        }
        assert_eq!(
            heard,
            vec![(true, 101, 5160), (false, 102, 5320), (false, 103, 5480)]
        );
        assert_eq!(
            events(&mut session),
            vec![MediaEvent::PromptFinished {
                play: PlayId(1),
                prompt: beep,
                interrupted: false
            }]
        );
        assert_eq!(session.on_tick(), None);
        let (marker, _, sequence, timestamp, _, payload) =
            parsed(session.relay(&audio_frame(Codec::Pcmu, 800, &speech)));
        assert_eq!((marker, sequence, timestamp), (true, 104, 5640));
        assert_eq!(payload, speech);
        assert_eq!(session.stats().relay_dropped, 3);
    }

    #[test]
    fn an_unbridged_leg_sends_nothing_for_a_late_relay_frame() {
        let (mut session, _) = known_leg(Codec::Pcmu, None);
        assert!(session
            .relay(&audio_frame(Codec::Pcmu, 0, &[0xFF; 160]))
            .is_empty());
        assert_eq!(session.stats().relay_dropped, 1);
        assert_eq!(session.stats().packets_sent, 0);
    }

    #[test]
    fn the_relay_frame_from_on_rtp_carries_the_packet() {
        let (mut session, _, _) = session(Codec::Pcma);
        assert_eq!(session.last_relay_frame(), None);
        let payload: Vec<u8> = (0..160).map(|i| i as u8).collect();
        assert_eq!(
            session.on_rtp(&rtp(8, 7, 48_000, &payload)),
            Received::Audio
        );
        let frame = session.last_relay_frame().expect("audio is relayed");
        assert_eq!(frame.kind, RelayKind::Audio(Codec::Pcma));
        assert_eq!(frame.timestamp, 48_000);
        assert!(frame.marker, "the test packets are each a stream's first");
        assert_eq!(frame.payload(), &payload[..]);

        assert_eq!(
            session.on_rtp(&rtp(101, 8, 48_160, &[3, 0x0A, 0, 160])),
            Received::TelephoneEvent
        );
        let frame = session.last_relay_frame().expect("events are relayed");
        assert_eq!(frame.kind, RelayKind::TelephoneEvent);
        assert_eq!(frame.payload(), &[3, 0x0A, 0, 160]);

        assert_eq!(session.on_rtp(&rtp(13, 9, 0, &[40])), Received::Ignored);
        assert_eq!(
            session.last_relay_frame(),
            None,
            "comfort noise is not relayed"
        );
        assert_eq!(session.on_rtp(&[0x80]), Received::Malformed);
        assert_eq!(session.last_relay_frame(), None);

        session.on_rtp(&rtp(8, 10, 0, &[0x55; 1000]));
        assert_eq!(
            session.last_relay_frame().map(|f| f.payload().len()),
            Some(RELAY_PAYLOAD_MAX),
            "an oversized payload is cut to the frame"
        );
    }

    #[test]
    fn caller_to_agent_end_to_end_transcoded() {
        let (mut caller, _, _) = session(Codec::Pcma);
        let (mut agent, _) = known_leg(Codec::Pcmu, Some(101));
        caller.set_bridged(true);
        agent.set_bridged(true);
        let payload: Vec<u8> = (0..160).map(|i| (i * 7) as u8).collect();
        caller.on_rtp(&rtp(8, 1, 160, &payload));
        let frame = caller.last_relay_frame().unwrap().clone();
        let (_, pt, sequence, _, ssrc, body) = parsed(agent.relay(&frame));
        assert_eq!((pt, sequence, ssrc), (0, 100, 0xA1));
        let expected: Vec<u8> = payload.iter().map(|&b| g711::alaw_to_ulaw(b)).collect();
        assert_eq!(body, expected);
    }
}
