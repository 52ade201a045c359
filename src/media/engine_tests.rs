//! Engine-level tests in virtual time: commands, datagrams and ticks go in with `now`; what
//! the far ends would receive comes out of `poll_transmit`, what the switch hears out of
//! `poll_event`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::media::command::LegOptions;
use crate::media::g711;
use crate::media::rtp::{RtpPacket, RtpSender};
use crate::media::{Codec, LegRole, MediaRecordKey};

const CALLER: CallId = CallId(1);
const AGENT: CallId = CallId(2);
const TICK: Duration = Duration::from_millis(20);

/// What a far end received.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Heard {
    call: CallId,
    rtcp: bool,
    to: SocketAddr,
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

struct Harness {
    engine: MediaEngine,
    now: Instant,
    greeting: PromptId,
    beep: PromptId,
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10], port))
}

fn caller_phone() -> SocketAddr {
    addr(4000)
}

fn agent_phone() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 20], 6000))
}

fn stranger() -> SocketAddr {
    SocketAddr::from(([203, 0, 113, 66], 4000))
}

fn options(call: CallId, role: LegRole) -> LegOptions {
    LegOptions {
        conversation: CALLER,
        record: MediaRecordKey {
            call_id: format!("record-{}", call.0),
            role,
        },
        media_timeout: Duration::from_secs(60),
        inband_dtmf: false,
        rtcp_mux: false,
        hold_back_dtmf: false,
        signalling_host: None,
    }
}

fn rtp(payload_type: u8, ssrc: u32, sequence: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let mut sender = RtpSender::with_start(payload_type, ssrc, sequence, timestamp);
    let mut buf = vec![0; 12 + payload.len()];
    let len = sender.write(payload, 160, &mut buf).unwrap();
    buf.truncate(len);
    // Only a stream's very first packet is marked by the writer; these are mid-stream.
    buf[1] &= 0x7F;
    buf
}

fn speech(seed: u8) -> Vec<u8> {
    // Loud codes only, so no frame is mistaken for either law's silence.
    (0..160)
        .map(|i| 0x10 + ((i as u8).wrapping_mul(7) ^ seed) % 0x60)
        .collect()
}

impl Harness {
    fn new() -> Harness {
        let mut library = PromptLibrary::new();
        let tone: Vec<i16> = (0..8080)
            .map(|i| if i % 16 < 8 { 8000 } else { -8000 })
            .collect();
        let greeting = library.add_pcm("zh", "welcome", Path::new("welcome.wav"), &tone);
        let beep = library.add_pcm("zh", "beep", Path::new("beep.wav"), &[1000; 480]);
        let mut engine = MediaEngine::new(Arc::new(library));
        // Known outgoing streams: the first leg created sends SSRC 0xA1 from 100/5000, the
        // second 0xB2 from 200/9000, then 0xC3 from 300/20000.
        engine.next_streams.extend([
            OutgoingStream::with_start(0xA1, 100, 5000),
            OutgoingStream::with_start(0xB2, 200, 9000),
            OutgoingStream::with_start(0xC3, 300, 20_000),
        ]);
        Harness {
            engine,
            now: Instant::now(),
            greeting,
            beep,
        }
    }

    fn command(&mut self, command: MediaCommand) {
        self.engine.command(self.now, command);
    }

    fn start(&mut self, call: CallId, remote: SocketAddr, codec: Codec, te: Option<u8>) {
        self.start_with(call, remote, codec, te, options(call, LegRole::Caller));
    }

    fn start_with(
        &mut self,
        call: CallId,
        remote: SocketAddr,
        codec: Codec,
        telephone_event: Option<u8>,
        options: LegOptions,
    ) {
        self.command(MediaCommand::Start {
            call,
            local_port: 10_000 + call.0 as u16 * 2,
            remote,
            codec,
            payload_type: codec.payload_type(),
            telephone_event,
            options,
        });
    }

    /// A caller leg (PCMA) and an agent leg (PCMU), bridged.
    fn bridged_pair(&mut self) {
        self.start(CALLER, caller_phone(), Codec::Pcma, Some(101));
        self.start(AGENT, agent_phone(), Codec::Pcmu, Some(101));
        self.command(MediaCommand::Bridge {
            a: CALLER,
            b: AGENT,
        });
    }

    /// Gives the engine a recording service: its control messages and its frame batches
    /// (room for `ticks` of them) come out of the two receivers.
    fn with_recording_service(
        &mut self,
        ticks: usize,
    ) -> (
        std::sync::mpsc::Receiver<crate::media::journey::JourneyControl>,
        std::sync::mpsc::Receiver<crate::media::journey::FrameBatch>,
    ) {
        let (control, controls) = std::sync::mpsc::channel();
        let (batches, received) = std::sync::mpsc::sync_channel(ticks);
        let engine = std::mem::replace(
            &mut self.engine,
            MediaEngine::new(Arc::new(PromptLibrary::new())),
        );
        self.engine = engine.with_journeys(crate::media::journey::JourneySink {
            control,
            batches,
            dropped: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        });
        (controls, received)
    }

    /// Records `call`'s journey from now, as `journey-N` into `recordings/N.wav`.
    fn record_journey(&mut self, call: CallId) {
        self.command(MediaCommand::RecordJourney {
            call,
            record_id: format!("journey-{}", call.0),
            file: format!("recordings/{}.wav", call.0).into(),
            from: self.now,
        });
    }

    fn receive(&mut self, call: CallId, from: SocketAddr, packet: &[u8]) {
        self.engine.on_datagram(self.now, call, false, from, packet);
    }

    fn receive_rtcp(&mut self, call: CallId, from: SocketAddr) {
        let report = [0x80, 201, 0, 1, 0, 0, 0, 9];
        self.engine.on_datagram(self.now, call, true, from, &report);
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    fn tick(&mut self) {
        self.now += TICK;
        self.engine.on_tick(self.now);
    }

    /// The RTP packets sent since the last drain (RTCP reports are left out).
    fn heard(&mut self) -> Vec<Heard> {
        self.drain().0
    }

    /// Everything sent since the last drain: RTP packets, and RTCP reports as (call, rtcp
    /// socket?, to, bytes).
    #[allow(clippy::type_complexity)]
    fn drain(&mut self) -> (Vec<Heard>, Vec<(CallId, bool, SocketAddr, Vec<u8>)>) {
        let mut heard = Vec::new();
        let mut reports = Vec::new();
        while let Some(t) = self.engine.poll_transmit() {
            if t.rtcp || crate::media::rtcp::is_rtcp(t.bytes) {
                reports.push((t.call, t.rtcp, t.to, t.bytes.to_vec()));
                continue;
            }
            let p = RtpPacket::parse(t.bytes).expect("the engine sends valid RTP");
            heard.push(Heard {
                call: t.call,
                rtcp: t.rtcp,
                to: t.to,
                marker: p.marker,
                payload_type: p.payload_type,
                sequence: p.sequence,
                timestamp: p.timestamp,
                ssrc: p.ssrc,
                payload: p.payload.to_vec(),
            });
        }
        (heard, reports)
    }

    fn heard_by(&mut self, call: CallId) -> Vec<Heard> {
        self.heard()
            .into_iter()
            .filter(|h| h.call == call)
            .collect()
    }

    fn events(&mut self) -> Vec<(CallId, MediaEvent)> {
        std::iter::from_fn(|| self.engine.poll_event()).collect()
    }

    fn numbers(heard: &[Heard]) -> Vec<(bool, u16, u32)> {
        heard
            .iter()
            .map(|h| (h.marker, h.sequence, h.timestamp))
            .collect()
    }
}

fn finished(prompt: PromptId, play: u64, interrupted: bool) -> MediaEvent {
    MediaEvent::PromptFinished {
        prompt,
        play: PlayId(play),
        interrupted,
    }
}

#[test]
fn one_tick_sends_exactly_one_packet_per_leg_that_is_not_relaying_a_talking_leg() {
    let mut h = Harness::new();
    h.engine.next_streams.clear();
    // 10 lone legs (silence or prompts) and 3 bridged pairs whose phones are talking.
    for i in 0..10u64 {
        h.start(CallId(100 + i), addr(20_000 + i as u16), Codec::Pcmu, None);
    }
    let greeting = h.greeting;
    h.command(MediaCommand::Play {
        call: CallId(100),
        prompt: greeting,
        play: PlayId(1),
    });
    for i in 0..3u64 {
        let (a, b) = (CallId(200 + 2 * i), CallId(201 + 2 * i));
        h.start(a, addr(30_000 + 2 * i as u16), Codec::Pcmu, None);
        h.start(b, addr(30_001 + 2 * i as u16), Codec::Pcma, None);
        h.command(MediaCommand::Bridge { a, b });
    }
    h.heard();
    for tick in 0..5u16 {
        h.advance(TICK);
        for i in 0..3u64 {
            for (call, codec) in [(200 + 2 * i, 0u8), (201 + 2 * i, 8)] {
                let from = addr(30_000 + (call - 200) as u16);
                let packet = rtp(codec, 7, tick, 160 * u32::from(tick), &speech(1));
                h.receive(CallId(call), from, &packet);
            }
        }
        let relayed = h.heard();
        assert_eq!(
            relayed.len(),
            6,
            "tick {tick}: each packet relayed on arrival"
        );
        h.engine.on_tick(h.now);
        let mut on_tick: Vec<u64> = h.heard().iter().map(|t| t.call.0).collect();
        on_tick.sort_unstable();
        assert_eq!(on_tick, (100..110).collect::<Vec<_>>(), "tick {tick}");
    }
}

#[test]
fn a_play_is_finished_once_with_its_own_id_and_a_replaced_one_is_interrupted() {
    let mut h = Harness::new();
    let (greeting, beep) = (h.greeting, h.beep);
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    h.command(MediaCommand::Play {
        call: CALLER,
        prompt: greeting,
        play: PlayId(7),
    });
    h.tick();
    h.command(MediaCommand::Play {
        call: CALLER,
        prompt: beep,
        play: PlayId(8),
    });
    assert_eq!(h.events(), vec![(CALLER, finished(greeting, 7, true))]);
    h.tick();
    h.tick();
    assert_eq!(h.events(), vec![], "the beep is three frames long");
    h.tick();
    assert_eq!(h.events(), vec![(CALLER, finished(beep, 8, false))]);
    // A stop after the end reports nothing: the finished play is not the current one.
    h.command(MediaCommand::Stop { call: CALLER });
    assert_eq!(h.events(), vec![]);
    h.tick();
    let heard = h.heard();
    assert_eq!(heard.len(), 5);
    assert_eq!(heard[4].payload, vec![0xFF; 160], "silence after the play");
}

#[test]
fn a_loop_plays_until_stopped_and_is_reported_interrupted_with_its_id() {
    let mut h = Harness::new();
    let beep = h.beep;
    h.start(CALLER, caller_phone(), Codec::Pcma, None);
    h.command(MediaCommand::PlayLoop {
        call: CALLER,
        prompt: beep,
        play: PlayId(3),
    });
    for _ in 0..10 {
        h.tick();
    }
    assert_eq!(h.events(), vec![]);
    h.command(MediaCommand::Stop { call: CALLER });
    assert_eq!(h.events(), vec![(CALLER, finished(beep, 3, true))]);
    let heard = h.heard();
    let frames = h.engine.prompts.frames(beep, Codec::Pcma).to_vec();
    for (i, packet) in heard.iter().enumerate() {
        assert_eq!(packet.payload, frames[i % 3], "tick {i}");
        assert_eq!(
            (packet.sequence, packet.timestamp),
            (100 + i as u16, 5000 + 160 * i as u32)
        );
    }
}

#[test]
fn bridged_legs_hear_each_other_transcoded_with_their_own_streams() {
    let mut h = Harness::new();
    h.bridged_pair();
    let mut heard = Vec::new();
    for i in 0..5u16 {
        h.advance(TICK);
        let payload = speech(i as u8);
        h.receive(
            CALLER,
            caller_phone(),
            &rtp(8, 0xCA11, 500 + i, 80_000 + 160 * u32::from(i), &payload),
        );
        let out = h.heard();
        assert_eq!(out.len(), 1);
        let expected: Vec<u8> = payload.iter().map(|&b| g711::alaw_to_ulaw(b)).collect();
        assert_eq!(
            (out[0].call, out[0].to, out[0].payload_type, out[0].ssrc),
            (AGENT, agent_phone(), 0, 0xB2)
        );
        assert_eq!(out[0].payload, expected, "packet {i} transcoded");
        heard.extend(out);
    }
    assert_eq!(
        Harness::numbers(&heard),
        vec![
            (true, 200, 9000),
            (false, 201, 9160),
            (false, 202, 9320),
            (false, 203, 9480),
            (false, 204, 9640)
        ]
    );
    // And back: µ-law from the agent's phone reaches the caller's as A-law.
    let payload = speech(9);
    h.receive(AGENT, agent_phone(), &rtp(0, 0xA6E7, 9, 1234, &payload));
    let out = h.heard();
    let expected: Vec<u8> = payload.iter().map(|&b| g711::ulaw_to_alaw(b)).collect();
    assert_eq!(
        (out[0].call, out[0].to, out[0].payload_type, out[0].ssrc),
        (CALLER, caller_phone(), 8, 0xA1)
    );
    assert_eq!(out[0].payload, expected);
}

#[test]
fn telephone_events_are_relayed_with_the_hearers_payload_type_or_dropped() {
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcmu, Some(101));
    h.start(AGENT, agent_phone(), Codec::Pcmu, Some(96));
    h.start(CallId(3), addr(7000), Codec::Pcmu, None);
    h.command(MediaCommand::Bridge {
        a: CALLER,
        b: AGENT,
    });
    let key = [5u8, 0x0A, 0, 160];
    h.receive(CALLER, caller_phone(), &rtp(101, 1, 800, 4000, &key));
    let out = h.heard();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].payload_type, &out[0].payload[..]), (96, &key[..]));
    // A leg whose phone did not negotiate telephone-event gets none.
    h.command(MediaCommand::Bridge {
        a: CALLER,
        b: CallId(3),
    });
    h.receive(CALLER, caller_phone(), &rtp(101, 1, 801, 4000, &key));
    assert_eq!(h.heard(), vec![]);
    assert_eq!(h.engine.legs[&CallId(3)].relay_dropped(), 1);
}

#[test]
fn unbridged_legs_go_back_to_their_own_silence_and_an_ended_leg_leaves_its_partner_alone() {
    let mut h = Harness::new();
    h.bridged_pair();
    h.command(MediaCommand::Unbridge { call: CALLER });
    assert_eq!(h.engine.source(CALLER), Some(Source::Silence));
    assert_eq!(h.engine.source(AGENT), Some(Source::Silence));
    h.tick();
    let mut heard: Vec<(CallId, Vec<u8>)> =
        h.heard().into_iter().map(|t| (t.call, t.payload)).collect();
    heard.sort_by_key(|(call, _)| call.0);
    assert_eq!(
        heard,
        vec![(CALLER, vec![0xD5; 160]), (AGENT, vec![0xFF; 160])]
    );
    h.command(MediaCommand::Bridge {
        a: CALLER,
        b: AGENT,
    });
    h.command(MediaCommand::End { call: CALLER });
    assert_eq!(h.engine.source(AGENT), Some(Source::Silence));
    assert_eq!(h.engine.legs[&AGENT].bridged_with(), None);
    h.tick();
    let heard = h.heard();
    assert_eq!(heard.len(), 1);
    assert_eq!(
        (heard[0].call, &heard[0].payload),
        (AGENT, &vec![0xFF; 160])
    );
}

#[test]
fn bridging_a_leg_to_a_third_one_leaves_its_old_partner_alone() {
    let mut h = Harness::new();
    h.bridged_pair();
    let third = CallId(3);
    h.start(third, addr(7000), Codec::Pcmu, None);
    h.command(MediaCommand::Bridge {
        a: CALLER,
        b: third,
    });
    assert_eq!(h.engine.legs[&AGENT].bridged_with(), None);
    assert_eq!(h.engine.source(AGENT), Some(Source::Silence));
    assert_eq!(h.engine.source(CALLER), Some(Source::Leg(third)));
    h.heard();
    h.receive(CALLER, caller_phone(), &rtp(8, 1, 1, 160, &speech(5)));
    let out = h.heard();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].call, out[0].ssrc), (third, 0xC3));
}

#[test]
fn a_prompt_on_a_bridged_leg_replaces_the_relay_until_it_ends_then_the_leg_again() {
    let mut h = Harness::new();
    let beep = h.beep;
    h.bridged_pair();
    h.advance(TICK);
    h.receive(
        CALLER,
        caller_phone(),
        &rtp(8, 0xCA11, 10, 1600, &speech(1)),
    );
    assert_eq!(h.heard_by(AGENT).len(), 1);
    assert_eq!(h.events(), vec![(CALLER, MediaEvent::RtpArrived)]);
    h.command(MediaCommand::Play {
        call: AGENT,
        prompt: beep,
        play: PlayId(4),
    });
    let beep_frames = h.engine.prompts.frames(beep, Codec::Pcmu).to_vec();
    let mut agent_heard = Vec::new();
    for i in 0..3u16 {
        h.advance(TICK);
        h.receive(
            CALLER,
            caller_phone(),
            &rtp(8, 0xCA11, 11 + i, 1760 + 160 * u32::from(i), &speech(2)),
        );
        assert_eq!(
            h.heard_by(AGENT),
            vec![],
            "the prompt plays over the caller"
        );
        h.engine.on_tick(h.now);
        let out = h.heard_by(AGENT);
        assert_eq!(out[0].payload, beep_frames[usize::from(i)]);
        agent_heard.extend(out);
    }
    assert_eq!(h.events(), vec![(AGENT, finished(beep, 4, false))]);
    assert_eq!(h.engine.source(AGENT), Some(Source::Leg(CALLER)));
    h.advance(TICK);
    h.receive(
        CALLER,
        caller_phone(),
        &rtp(8, 0xCA11, 14, 2240, &speech(3)),
    );
    agent_heard.extend(h.heard_by(AGENT));
    // Relay → prompt → relay: each change marked, one frame on, no jump.
    assert_eq!(
        Harness::numbers(&agent_heard),
        vec![
            (true, 201, 9160),
            (false, 202, 9320),
            (false, 203, 9480),
            (true, 204, 9640)
        ]
    );
}

#[test]
fn bridging_stops_music_on_hold_but_lets_a_prompt_finish() {
    let mut h = Harness::new();
    let (greeting, beep) = (h.greeting, h.beep);
    h.start(CALLER, caller_phone(), Codec::Pcma, None);
    h.start(AGENT, agent_phone(), Codec::Pcmu, None);
    h.command(MediaCommand::PlayLoop {
        call: CALLER,
        prompt: greeting,
        play: PlayId(1),
    });
    h.command(MediaCommand::Play {
        call: AGENT,
        prompt: beep,
        play: PlayId(2),
    });
    h.command(MediaCommand::Bridge {
        a: CALLER,
        b: AGENT,
    });
    assert_eq!(h.events(), vec![(CALLER, finished(greeting, 1, true))]);
    assert_eq!(h.engine.source(CALLER), Some(Source::Leg(AGENT)));
    assert_eq!(
        h.engine
            .source(AGENT)
            .and_then(|s| s.playlist().map(|p| p.play)),
        Some(PlayId(2))
    );
}

#[test]
fn a_stream_continues_across_prompt_relay_and_a_new_far_end_ssrc_without_a_jump() {
    let mut h = Harness::new();
    let beep = h.beep;
    h.bridged_pair();
    h.command(MediaCommand::Play {
        call: AGENT,
        prompt: beep,
        play: PlayId(1),
    });
    for _ in 0..3 {
        h.tick();
    }
    h.advance(TICK);
    // The caller's stream, then a transfer upstream: a new SSRC far away in numbers.
    h.receive(
        CALLER,
        caller_phone(),
        &rtp(8, 0x1111, 40, 64_000, &speech(1)),
    );
    h.advance(TICK);
    h.receive(
        CALLER,
        caller_phone(),
        &rtp(8, 0x1111, 41, 64_160, &speech(1)),
    );
    h.advance(TICK);
    h.receive(
        CALLER,
        caller_phone(),
        &rtp(8, 0x2222, 9, 3_000_000_000, &speech(1)),
    );
    h.advance(TICK);
    h.receive(
        CALLER,
        caller_phone(),
        &rtp(8, 0x2222, 10, 3_000_000_160, &speech(1)),
    );
    let heard = h.heard_by(AGENT);
    assert!(heard.iter().all(|p| p.ssrc == 0xB2), "one SSRC throughout");
    assert_eq!(
        Harness::numbers(&heard),
        vec![
            (true, 200, 9000),
            (false, 201, 9160),
            (false, 202, 9320),
            (true, 203, 9480),
            (false, 204, 9640),
            (true, 205, 9800),
            (false, 206, 9960)
        ]
    );
}

#[test]
fn reordering_duplicates_and_loss_from_the_far_end_stay_visible_at_the_other_end() {
    let mut h = Harness::new();
    h.bridged_pair();
    // Caller's phone sends 1, 3, 2, 2, 6 (4 and 5 lost).
    for (i, seq) in [1u16, 3, 2, 2, 6].into_iter().enumerate() {
        h.advance(TICK);
        let packet = rtp(
            8,
            0xCA11,
            1000 + seq,
            160 * u32::from(seq),
            &speech(i as u8),
        );
        h.receive(CALLER, caller_phone(), &packet);
    }
    let heard: Vec<(u16, u32)> = h
        .heard_by(AGENT)
        .iter()
        .map(|p| (p.sequence, p.timestamp))
        .collect();
    assert_eq!(
        heard,
        vec![
            (200, 9000),
            (202, 9320),
            (201, 9160),
            (201, 9160),
            (205, 9800)
        ]
    );
}

#[test]
fn rtp_from_the_sdp_address_is_accepted_and_a_stranger_is_dropped_and_counted() {
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcmu, Some(101));
    h.receive(CALLER, caller_phone(), &rtp(0, 1, 1, 160, &[0xFF; 160]));
    for seq in 0..3 {
        h.receive(CALLER, stranger(), &rtp(0, 2, seq, 160, &[0xFF; 160]));
    }
    let quality = h.engine.quality(CALLER).unwrap();
    assert_eq!(
        (quality.packets_received, quality.packets_from_strangers),
        (1, 3)
    );
    h.tick();
    assert_eq!(h.heard()[0].to, caller_phone());
}

#[test]
fn a_strangers_digits_never_reach_the_switch() {
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcmu, Some(101));
    h.receive(CALLER, caller_phone(), &rtp(0, 1, 1, 160, &[0xFF; 160]));
    h.events();
    // The stranger presses 1 (start and three ends) on a guessed port.
    for (seq, flags) in [(10u16, 0x0Au8), (11, 0x8A), (12, 0x8A), (13, 0x8A)] {
        h.receive(
            CALLER,
            stranger(),
            &rtp(101, 9, seq, 8000, &[1, flags, 3, 0]),
        );
    }
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.engine.quality(CALLER).unwrap().packets_from_strangers, 4);
    // The real phone's digit does.
    for (seq, flags) in [(2u16, 0x0Au8), (3, 0x8A)] {
        h.receive(
            CALLER,
            caller_phone(),
            &rtp(101, 1, seq, 800, &[1, flags, 3, 0]),
        );
    }
    assert_eq!(
        h.events(),
        vec![(
            CALLER,
            MediaEvent::Dtmf {
                digit: '1',
                duration_ms: 96
            }
        )]
    );
}

#[test]
fn a_phone_behind_nat_is_latched_on_its_first_packet_and_hears_audio_there() {
    let mut h = Harness::new();
    let nat = SocketAddr::from(([198, 51, 100, 7], 31_337));
    // Its SIP comes from the NAT's address too.
    let options = LegOptions {
        signalling_host: Some(nat.ip()),
        ..options(CALLER, LegRole::Caller)
    };
    h.start_with(CALLER, caller_phone(), Codec::Pcmu, None, options);
    h.tick();
    assert_eq!(
        h.heard()[0].to,
        caller_phone(),
        "the SDP address until latched"
    );
    h.receive(CALLER, nat, &rtp(0, 1, 1, 160, &[0xFF; 160]));
    h.receive(CALLER, stranger(), &rtp(0, 2, 1, 160, &[0xFF; 160]));
    h.tick();
    assert_eq!(h.heard()[0].to, nat);
    let quality = h.engine.quality(CALLER).unwrap();
    assert_eq!(
        (quality.packets_received, quality.packets_from_strangers),
        (1, 1)
    );
    // A re-INVITE moving the far end forgets the latch.
    let moved = addr(4100);
    h.command(MediaCommand::Redirect {
        call: CALLER,
        remote: moved,
    });
    h.tick();
    assert_eq!(h.heard()[0].to, moved);
}

#[test]
fn a_stranger_who_sends_before_the_far_end_does_is_not_latched_onto_and_hears_nothing() {
    // RTP Bleed: someone who sprays the port range before the caller's first packet would
    // otherwise become "the caller": press its keys and get its audio.
    let mut h = Harness::new();
    let nat = SocketAddr::from(([198, 51, 100, 7], 31_337));
    let options = LegOptions {
        signalling_host: Some(nat.ip()),
        ..options(CALLER, LegRole::Caller)
    };
    h.start_with(CALLER, caller_phone(), Codec::Pcmu, Some(101), options);
    h.receive(CALLER, stranger(), &rtp(0, 2, 1, 160, &speech(1)));
    h.receive(
        CALLER,
        stranger(),
        &rtp(101, 2, 2, 320, &[1, 0x8A, 0x03, 0x20]),
    );
    h.tick();
    assert_eq!(h.heard()[0].to, caller_phone(), "still the SDP's address");
    assert_eq!(
        h.events(),
        vec![],
        "no RtpArrived, no digit from a stranger"
    );
    let quality = h.engine.quality(CALLER).unwrap();
    assert_eq!(
        (quality.packets_received, quality.packets_from_strangers),
        (0, 2)
    );
    // The far end, from behind its NAT, is then taken and answered where it sends from.
    h.receive(CALLER, nat, &rtp(0, 1, 1, 160, &speech(2)));
    h.tick();
    assert_eq!(h.heard()[0].to, nat);
    // A dual-stack SIP socket names the NAT's host in its IPv4-mapped form: the same host.
    let mut h = Harness::new();
    let mapped: std::net::IpAddr = "::ffff:198.51.100.7".parse().unwrap();
    let dual_stack = LegOptions {
        signalling_host: Some(mapped),
        ..self::options(CALLER, LegRole::Caller)
    };
    h.start_with(CALLER, caller_phone(), Codec::Pcmu, None, dual_stack);
    h.receive(CALLER, nat, &rtp(0, 1, 1, 160, &speech(2)));
    h.tick();
    assert_eq!(h.heard()[0].to, nat);
    // Without a host for its SIP, only the SDP's host may be latched onto.
    let mut h = Harness::new();
    h.start(AGENT, agent_phone(), Codec::Pcmu, None);
    h.receive(AGENT, nat, &rtp(0, 1, 1, 160, &speech(3)));
    h.tick();
    assert_eq!(h.heard()[0].to, agent_phone());
    assert_eq!(h.engine.quality(AGENT).unwrap().packets_from_strangers, 1);
}

#[test]
fn a_sender_on_the_sdp_host_but_another_port_is_heard_and_answered_at_the_sdp_port() {
    // SIPp, some gateways: RTP leaves from a port other than the one they receive on. Its
    // packets are taken (latched), while ours keep going where its SDP asked.
    let mut h = Harness::new();
    let other_port = SocketAddr::new(caller_phone().ip(), caller_phone().port() + 10);
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    h.receive(CALLER, other_port, &rtp(0, 1, 1, 160, &[0xFF; 160]));
    h.receive(CALLER, stranger(), &rtp(0, 2, 1, 160, &[0xFF; 160]));
    h.tick();
    assert_eq!(h.heard()[0].to, caller_phone());
    let quality = h.engine.quality(CALLER).unwrap();
    assert_eq!(
        (quality.packets_received, quality.packets_from_strangers),
        (1, 1)
    );
}

#[test]
fn garbage_from_a_stranger_does_not_latch() {
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    h.receive(CALLER, stranger(), &[0x00, 0x01, 0x02]);
    h.receive(CALLER, caller_phone(), &rtp(0, 1, 1, 160, &[0xFF; 160]));
    h.tick();
    assert_eq!(h.heard()[0].to, caller_phone());
    assert_eq!(h.engine.quality(CALLER).unwrap().packets_from_strangers, 1);
}

#[test]
fn rtp_arrived_is_reported_once_and_before_start_only_from_the_expected_address() {
    let mut h = Harness::new();
    h.command(MediaCommand::Open {
        call: CALLER,
        local_port: 10_002,
        conversation: CALLER,
        expect_from: Some(caller_phone()),
    });
    h.receive(CALLER, stranger(), &rtp(0, 1, 1, 160, &[0xFF; 160]));
    h.receive(CALLER, addr(4001), &rtp(0, 1, 1, 160, &[0xFF; 160]));
    assert_eq!(h.events(), vec![], "not the SDP address, not even its port");
    h.receive(CALLER, caller_phone(), &rtp(0, 1, 2, 320, &[0xFF; 160]));
    h.receive(CALLER, caller_phone(), &rtp(0, 1, 3, 480, &[0xFF; 160]));
    assert_eq!(h.events(), vec![(CALLER, MediaEvent::RtpArrived)]);
    h.tick();
    assert_eq!(h.heard(), vec![], "nothing is sent before Start");
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    h.receive(CALLER, caller_phone(), &rtp(0, 1, 4, 640, &[0xFF; 160]));
    assert_eq!(h.events(), vec![], "once per leg");

    let mut h = Harness::new();
    h.start(AGENT, agent_phone(), Codec::Pcmu, None);
    h.receive(AGENT, agent_phone(), &rtp(0, 1, 1, 160, &[0xFF; 160]));
    h.receive(AGENT, agent_phone(), &rtp(0, 1, 2, 320, &[0xFF; 160]));
    assert_eq!(h.events(), vec![(AGENT, MediaEvent::RtpArrived)]);
}

#[test]
fn the_far_ends_packets_before_start_from_its_sip_host_are_not_counted_as_a_strangers() {
    // A phone behind NAT: its SDP names a private address, it sends from its SIP host as
    // soon as it has the answer, before the switch has its ACK (and sends Start).
    let nat = SocketAddr::from(([198, 51, 100, 7], 31_337));
    let behind_nat = || LegOptions {
        signalling_host: Some(nat.ip()),
        ..options(CALLER, LegRole::Caller)
    };
    let open = MediaCommand::Open {
        call: CALLER,
        local_port: 10_002,
        conversation: CALLER,
        expect_from: Some(caller_phone()),
    };
    let mut h = Harness::new();
    h.command(open.clone());
    h.receive(CALLER, nat, &rtp(0, 1, 1, 160, &speech(1)));
    h.receive(CALLER, nat, &rtp(0, 1, 2, 320, &speech(1)));
    h.receive(CALLER, stranger(), &rtp(0, 2, 1, 160, &speech(2)));
    h.receive(CALLER, stranger(), &rtp(0, 2, 2, 320, &speech(2)));
    assert_eq!(h.events(), vec![], "no proof of the answer from elsewhere");
    h.start_with(CALLER, caller_phone(), Codec::Pcmu, None, behind_nat());
    assert_eq!(
        h.engine.quality(CALLER).unwrap().packets_from_strangers,
        2,
        "the stranger's packets only"
    );
    // The same early packets, when the far end's SIP came from elsewhere, were a stranger's.
    let mut h = Harness::new();
    h.command(open.clone());
    h.receive(CALLER, nat, &rtp(0, 1, 1, 160, &speech(1)));
    h.receive(CALLER, nat, &rtp(0, 1, 2, 320, &speech(1)));
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    assert_eq!(h.engine.quality(CALLER).unwrap().packets_from_strangers, 2);
    // And a call that ends before Start counts them.
    let mut h = Harness::new();
    h.command(open);
    h.receive(CALLER, nat, &rtp(0, 1, 1, 160, &speech(1)));
    assert_eq!(h.engine.quality(CALLER).unwrap().packets_from_strangers, 1);
}

fn short_timeout(call: CallId) -> LegOptions {
    LegOptions {
        media_timeout: Duration::from_secs(1),
        ..options(call, LegRole::Caller)
    }
}

fn timeouts(h: &mut Harness) -> Vec<u64> {
    h.events()
        .into_iter()
        .filter_map(|(_, e)| match e {
            MediaEvent::MediaTimeout { silent_ms } => Some(silent_ms),
            _ => None,
        })
        .collect()
}

#[test]
fn a_far_end_silent_for_the_media_timeout_is_reported_once() {
    let mut h = Harness::new();
    h.start_with(
        CALLER,
        caller_phone(),
        Codec::Pcmu,
        None,
        short_timeout(CALLER),
    );
    // Talking for 2 s: no timeout.
    for seq in 0..100u16 {
        h.receive(
            CALLER,
            caller_phone(),
            &rtp(0, 1, seq, 160 * u32::from(seq), &[0xFF; 160]),
        );
        h.tick();
    }
    assert_eq!(timeouts(&mut h), Vec::<u64>::new());
    // Then nothing: reported on the tick that reaches one second after the last packet.
    for _ in 0..48 {
        h.tick();
    }
    assert_eq!(timeouts(&mut h), Vec::<u64>::new());
    h.tick();
    assert_eq!(timeouts(&mut h), vec![1000]);
    for _ in 0..100 {
        h.tick();
    }
    assert_eq!(timeouts(&mut h), Vec::<u64>::new());
}

#[test]
fn rtcp_alone_keeps_a_leg_alive() {
    let mut h = Harness::new();
    h.start_with(
        CALLER,
        caller_phone(),
        Codec::Pcmu,
        None,
        short_timeout(CALLER),
    );
    for i in 0..150 {
        if i % 25 == 0 {
            h.receive_rtcp(CALLER, addr(4001));
        }
        h.tick();
    }
    assert_eq!(timeouts(&mut h), Vec::<u64>::new());
    assert_eq!(h.engine.quality(CALLER).unwrap().rtcp_received, 6);
    // RTCP from a stranger does not count.
    for i in 0..60 {
        if i % 10 == 0 {
            h.receive_rtcp(CALLER, stranger());
        }
        h.tick();
    }
    assert_eq!(timeouts(&mut h), vec![1000]);
}

#[test]
fn on_hold_a_far_end_that_never_sent_rtcp_is_not_timed_out() {
    let mut h = Harness::new();
    h.start_with(
        CALLER,
        caller_phone(),
        Codec::Pcmu,
        None,
        short_timeout(CALLER),
    );
    h.receive(CALLER, caller_phone(), &rtp(0, 1, 1, 160, &[0xFF; 160]));
    h.command(MediaCommand::Renegotiate {
        call: CALLER,
        remote: caller_phone(),
        codec: Codec::Pcmu,
        payload_type: 0,
        telephone_event: None,
        send: false,
    });
    for _ in 0..500 {
        h.tick();
    }
    assert_eq!(timeouts(&mut h), Vec::<u64>::new());
    assert_eq!(h.heard(), vec![], "nothing is sent while held");
    // Resumed: the clock starts again at the resume, RTP counts again.
    h.command(MediaCommand::Renegotiate {
        call: CALLER,
        remote: caller_phone(),
        codec: Codec::Pcmu,
        payload_type: 0,
        telephone_event: None,
        send: true,
    });
    for _ in 0..49 {
        h.tick();
    }
    assert_eq!(timeouts(&mut h), Vec::<u64>::new());
    h.tick();
    assert_eq!(timeouts(&mut h), vec![1000]);
}

#[test]
fn on_hold_only_rtcp_absence_counts_once_the_far_end_sent_rtcp() {
    let mut h = Harness::new();
    h.start_with(
        CALLER,
        caller_phone(),
        Codec::Pcmu,
        None,
        short_timeout(CALLER),
    );
    h.receive_rtcp(CALLER, addr(4001));
    h.command(MediaCommand::Renegotiate {
        call: CALLER,
        remote: caller_phone(),
        codec: Codec::Pcmu,
        payload_type: 0,
        telephone_event: None,
        send: false,
    });
    // RTP keeps coming (a phone playing its own music) but RTCP stops: RTP does not count.
    for seq in 0..49u16 {
        h.receive(
            CALLER,
            caller_phone(),
            &rtp(0, 1, seq, 160 * u32::from(seq), &[0xFF; 160]),
        );
        h.tick();
    }
    assert_eq!(timeouts(&mut h), Vec::<u64>::new());
    h.tick();
    assert_eq!(timeouts(&mut h), vec![1000]);
}

#[test]
fn comfort_noise_is_activity_not_junk_and_its_level_is_kept() {
    let mut h = Harness::new();
    h.start_with(
        CALLER,
        caller_phone(),
        Codec::Pcmu,
        None,
        short_timeout(CALLER),
    );
    for i in 0..150u16 {
        if i % 10 == 0 {
            h.receive(
                CALLER,
                caller_phone(),
                &rtp(13, 1, i, 160 * u32::from(i), &[62]),
            );
        }
        h.tick();
    }
    assert_eq!(timeouts(&mut h), Vec::<u64>::new());
    let leg = &h.engine.legs[&CALLER];
    assert_eq!(leg.comfort_noise_level(), Some(62));
    assert_eq!(leg.quality().packets_received, 15);
}

#[test]
fn a_leg_whose_bridged_peer_goes_quiet_fills_the_gap_with_silence_then_follows_on() {
    let mut h = Harness::new();
    h.bridged_pair();
    h.advance(TICK);
    h.receive(
        CALLER,
        caller_phone(),
        &rtp(8, 0xCA11, 10, 1600, &speech(1)),
    );
    // Two ticks without a packet are jitter: nothing is added.
    h.tick();
    h.tick();
    let agent = h.heard_by(AGENT);
    assert_eq!(agent.len(), 1);
    // The third: the caller's phone went quiet (VAD); the agent hears silence each tick.
    for _ in 0..3 {
        h.tick();
    }
    h.advance(TICK);
    h.receive(
        CALLER,
        caller_phone(),
        &rtp(8, 0xCA11, 11, 1600 + 5 * 160, &speech(2)),
    );
    let mut heard = agent;
    heard.extend(h.heard_by(AGENT));
    assert_eq!(
        heard.iter().map(|p| p.payload[0]).collect::<Vec<_>>()[1..4],
        [0xFF; 3],
        "µ-law silence"
    );
    assert_eq!(
        Harness::numbers(&heard),
        vec![
            (true, 200, 9000),
            (true, 201, 9480),
            (false, 202, 9640),
            (false, 203, 9800),
            (true, 204, 9960)
        ]
    );
}

#[test]
fn a_bridged_leg_whose_peer_never_spoke_still_sends_every_tick() {
    let mut h = Harness::new();
    h.bridged_pair();
    for _ in 0..4 {
        h.tick();
    }
    let heard = h.heard();
    assert_eq!(heard.len(), 8, "both legs, every tick");
}

#[test]
fn a_whisper_mixes_the_prompt_into_the_bridged_audio() {
    let mut h = Harness::new();
    let beep = h.beep;
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    h.start(AGENT, agent_phone(), Codec::Pcmu, None);
    h.command(MediaCommand::Bridge {
        a: CALLER,
        b: AGENT,
    });
    h.engine.play_mixed(AGENT, beep, PlayId(6), false);
    assert!(matches!(h.engine.source(AGENT), Some(Source::Mix { leg, .. }) if leg == CALLER));
    h.advance(TICK);
    let caller_says = g711::ulaw_encode(2000);
    h.receive(
        CALLER,
        caller_phone(),
        &rtp(0, 5, 1, 160, &[caller_says; 160]),
    );
    assert_eq!(h.heard_by(AGENT), vec![], "mixed on the tick, not relayed");
    assert_eq!(h.events(), vec![(CALLER, MediaEvent::RtpArrived)]);
    h.engine.on_tick(h.now);
    let heard = h.heard_by(AGENT);
    let beep_frame = h.engine.prompts.frames(beep, Codec::Pcmu)[0];
    let expected: Vec<u8> = beep_frame
        .iter()
        .map(|&b| {
            g711::ulaw_encode(g711::ulaw_decode(b).saturating_add(g711::ulaw_decode(caller_says)))
        })
        .collect();
    assert_eq!(heard[0].payload, expected);
    assert_ne!(heard[0].payload, beep_frame.to_vec());
    // The whisper ends; the agent hears the caller again.
    h.tick();
    h.tick();
    assert_eq!(h.events(), vec![(AGENT, finished(beep, 6, false))]);
    assert_eq!(h.engine.source(AGENT), Some(Source::Leg(CALLER)));
}

#[test]
fn a_held_leg_sends_nothing_and_resumes_one_sequence_on_at_the_elapsed_time() {
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    h.tick();
    let renegotiate = |send| MediaCommand::Renegotiate {
        call: CALLER,
        remote: caller_phone(),
        codec: Codec::Pcmu,
        payload_type: 0,
        telephone_event: None,
        send,
    };
    h.command(renegotiate(false));
    for _ in 0..50 {
        h.tick();
    }
    h.command(renegotiate(true));
    h.tick();
    assert_eq!(
        Harness::numbers(&h.heard()),
        vec![(true, 100, 5000), (true, 101, 5000 + 51 * 160)]
    );
}

#[test]
fn the_legs_figures_go_on_its_record_when_it_ends() {
    let mut h = Harness::new();
    h.start_with(
        AGENT,
        agent_phone(),
        Codec::Pcmu,
        None,
        options(AGENT, LegRole::Agent),
    );
    for seq in 0..4u16 {
        h.receive(
            AGENT,
            agent_phone(),
            &rtp(0, 1, seq, 160 * u32::from(seq), &[0xFF; 160]),
        );
        h.tick();
    }
    h.receive(AGENT, stranger(), &rtp(0, 1, 1, 160, &[0xFF; 160]));
    h.receive_rtcp(AGENT, SocketAddr::from(([192, 0, 2, 20], 6001)));
    h.events();
    h.command(MediaCommand::End { call: AGENT });
    assert_eq!(
        h.events(),
        vec![(
            AGENT,
            MediaEvent::Quality {
                record: MediaRecordKey {
                    call_id: "record-2".into(),
                    role: LegRole::Agent
                },
                quality: LegQuality {
                    packets_sent: 4,
                    packets_received: 4,
                    rtcp_received: 1,
                    packets_from_strangers: 1,
                    ..LegQuality::default()
                }
            }
        )]
    );
    assert_eq!(h.engine.leg_count(), 0);
    h.command(MediaCommand::End { call: AGENT });
    assert_eq!(h.events(), vec![], "one record per leg");
}

#[test]
fn muxed_rtcp_on_the_rtp_port_is_rtcp_not_audio() {
    let mut h = Harness::new();
    let options = LegOptions {
        rtcp_mux: true,
        ..short_timeout(CALLER)
    };
    h.start_with(CALLER, caller_phone(), Codec::Pcmu, None, options);
    h.receive(CALLER, caller_phone(), &[0x80, 201, 0, 1, 0, 0, 0, 1]);
    let quality = h.engine.quality(CALLER).unwrap();
    assert_eq!((quality.rtcp_received, quality.packets_received), (1, 0));
    assert_eq!(h.events(), vec![], "RTCP is no RtpArrived");
}

#[test]
fn a_recorded_caller_ends_up_in_a_wav_and_the_switch_hears_when() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("voicemail").join("call-1.wav");
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    h.command(MediaCommand::RecordCaller {
        call: CALLER,
        path: file.clone(),
        max: Duration::from_millis(200),
    });
    let mut said = Vec::new();
    // Twelve packets for a ten-packet maximum: the last two are not recorded.
    for i in 0..12u16 {
        let payload = speech(i as u8);
        said.extend(payload.iter().map(|&b| g711::ulaw_decode(b)));
        h.receive(
            CALLER,
            caller_phone(),
            &rtp(0, 1, i, 160 * u32::from(i), &payload),
        );
    }
    // The writer is a thread of the recording's own, writing a real file: its report is
    // waited for where it arrives, the engine's channel of recording reports.
    let report = h
        .engine
        .recordings
        .recv_timeout(Duration::from_secs(5))
        .expect("the recording reported within 5 s");
    assert!(
        matches!(
            report,
            (CALLER, MediaEvent::RecordingFinished { duration_ms: 200 })
        ),
        "{report:?}"
    );
    let mut reader = hound::WavReader::open(&file).unwrap();
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    assert_eq!(samples, said[..1600]);
}

/// Ticks until the leg sends an RTCP report (at most 10 s); returns it with the elapsed time
/// and the RTP packets sent before it.
fn first_report(h: &mut Harness) -> ((CallId, bool, SocketAddr, Vec<u8>), Duration, usize) {
    let start = h.now;
    let mut rtp_sent = 0;
    for _ in 0..500 {
        h.tick();
        let (rtp, mut reports) = h.drain();
        if let Some(report) = reports.pop() {
            assert_eq!(reports, vec![], "one report at a time");
            // The report goes out before the tick's own RTP packet.
            return (report, h.now - start, rtp_sent);
        }
        rtp_sent += rtp.len();
    }
    panic!("no RTCP report in 10 s");
}

#[test]
fn a_sender_report_goes_to_the_port_above_rtp_with_what_we_sent_and_received() {
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    for seq in 0..5u16 {
        h.receive(
            CALLER,
            caller_phone(),
            &rtp(0, 0xCA11, seq, 160 * u32::from(seq), &[0xFF; 160]),
        );
    }
    let ((call, rtcp_socket, to, bytes), after, rtp_sent) = first_report(&mut h);
    assert_eq!((call, rtcp_socket, to), (CALLER, true, addr(4001)));
    // RFC 3550 6.2: the first report after half the 5 s interval, randomized 0.5..1.5.
    assert!(
        after >= Duration::from_millis(1250) && after <= Duration::from_millis(3750),
        "{after:?}"
    );
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    assert_eq!(bytes[1], 200, "an SR: we sent RTP");
    assert_eq!(bytes[0] & 0x1F, 1, "one report block");
    assert_eq!(word(4), 0xA1, "our SSRC");
    assert_eq!(word(20) as usize, rtp_sent, "packets sent");
    assert_eq!(word(28), 0xCA11, "the block is about the caller's stream");
    assert_eq!(word(36), 4, "highest sequence received");
    assert_eq!(h.engine.quality(CALLER).unwrap().rtcp_sent, 1);
}

#[test]
fn a_muxed_leg_sends_its_reports_on_the_rtp_port() {
    let mut h = Harness::new();
    let options = LegOptions {
        rtcp_mux: true,
        ..options(CALLER, LegRole::Caller)
    };
    h.start_with(CALLER, caller_phone(), Codec::Pcmu, None, options);
    let ((_, rtcp_socket, to, bytes), _, _) = first_report(&mut h);
    assert_eq!((rtcp_socket, to, bytes[1]), (false, caller_phone(), 200));
}

#[test]
fn the_record_gets_loss_counted_from_the_far_ends_sequence_numbers() {
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    // 10 and 13 lost; 12 arrives twice, and RFC 3550 A.3 counts it: 8 expected − 7 received.
    for seq in [8u16, 9, 11, 12, 12, 14, 15] {
        h.advance(TICK);
        h.receive(
            CALLER,
            caller_phone(),
            &rtp(0, 0xCA11, seq, 160 * u32::from(seq), &[0xFF; 160]),
        );
    }
    h.events();
    h.command(MediaCommand::End { call: CALLER });
    let quality = match h.events().pop() {
        Some((_, MediaEvent::Quality { quality, .. })) => quality,
        other => panic!("no quality: {other:?}"),
    };
    assert_eq!((quality.packets_received, quality.packets_lost), (7, 1));
}

#[test]
fn a_quiet_peer_that_sent_comfort_noise_is_filled_with_noise_at_its_level() {
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    h.start(AGENT, agent_phone(), Codec::Pcmu, None);
    h.command(MediaCommand::Bridge {
        a: CALLER,
        b: AGENT,
    });
    // The caller's phone goes quiet at 40 dB below full scale: one CN packet, then nothing.
    h.receive(CALLER, caller_phone(), &rtp(13, 1, 1, 160, &[40]));
    h.heard();
    h.tick();
    let heard = h.heard_by(AGENT);
    assert_eq!(heard.len(), 1);
    let pcm: Vec<f64> = heard[0]
        .payload
        .iter()
        .map(|&b| f64::from(g711::ulaw_decode(b)))
        .collect();
    let rms = (pcm.iter().map(|s| s * s).sum::<f64>() / pcm.len() as f64).sqrt();
    // -40 dBov of 32767 is an RMS of 328; µ-law rounding and 160 samples of noise stay near.
    assert!((250.0..400.0).contains(&rms), "rms {rms}");
    // Unbridged and bridged again, the old level is forgotten: plain silence.
    h.command(MediaCommand::Unbridge { call: AGENT });
    h.command(MediaCommand::Bridge {
        a: CALLER,
        b: AGENT,
    });
    h.tick();
    assert_eq!(h.heard_by(AGENT)[0].payload, vec![0xFF; 160]);
}

/// 20 ms frames of the DTMF tone for `digit` 5 (770 Hz + 1336 Hz), µ-law, at -10 dBm0 each.
fn tone_five(frames: usize) -> Vec<Vec<u8>> {
    let amplitude = 22_805.0 * 10f64.powf(-10.0 / 20.0);
    (0..frames)
        .map(|f| {
            (0..160)
                .map(|i| {
                    let t = (f * 160 + i) as f64 / 8000.0;
                    let s = amplitude
                        * ((std::f64::consts::TAU * 770.0 * t).sin()
                            + (std::f64::consts::TAU * 1336.0 * t).sin());
                    g711::ulaw_encode(s as i16)
                })
                .collect()
        })
        .collect()
}

fn inband_digits(inband_dtmf: bool) -> Vec<MediaEvent> {
    let mut h = Harness::new();
    let options = LegOptions {
        inband_dtmf,
        ..options(CALLER, LegRole::Caller)
    };
    h.start_with(CALLER, caller_phone(), Codec::Pcmu, None, options);
    let mut frames = tone_five(6);
    frames.extend(std::iter::repeat_n(vec![0xFF; 160], 10));
    for (i, payload) in frames.iter().enumerate() {
        let seq = i as u16;
        h.receive(
            CALLER,
            caller_phone(),
            &rtp(0, 7, seq, 160 * u32::from(seq), payload),
        );
        h.tick();
    }
    h.events()
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| !matches!(e, MediaEvent::RtpArrived))
        .collect()
}

#[test]
fn a_trunk_set_for_inband_dtmf_reports_a_tone_digit_once() {
    let digits = inband_digits(true);
    assert_eq!(digits.len(), 1, "{digits:?}");
    assert!(
        matches!(digits[0], MediaEvent::InbandDtmf { digit: '5', .. }),
        "{digits:?}"
    );
}

#[test]
fn a_trunk_not_set_for_inband_dtmf_reports_no_tones() {
    assert_eq!(inband_digits(false), vec![]);
}

#[path = "engine_dtmf_tests.rs"]
mod dtmf;

#[path = "engine_idle_tests.rs"]
mod idle;

#[path = "engine_journey_tests.rs"]
mod journey;
