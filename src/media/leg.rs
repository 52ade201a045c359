//! One call leg inside a media engine: who may send it audio (negotiated or latched
//! address), what it makes of what arrives (digits, recording, relay to the leg that hears
//! it), what it sends on the tick (its source: silence, playlist, the other leg's gaps filled,
//! a mix), whether its far end has gone quiet for too long, and its figures for the record.
//!
//! Owns per-leg state only; the engine (`engine.rs`) routes between legs and owns the queues.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::comfort_noise::{noise_level, ComfortNoise, CN_PAYLOAD_TYPE};
use super::command::LegOptions;
use super::dtmf::{DtmfDetector, DtmfDigit};
use super::dtmf_send::{digit_event, DtmfSender, EventPacket};
use super::event::{MediaEvent, RecordingReports};
use super::inband_dtmf::InbandDtmf;
use super::jitter::{FrameKind, JitterBuffer};
use super::journey::{JourneyControl, JourneyTap, TickFrames};
use super::outbox::Outbox;
use super::outbox::RELAY_PAYLOAD_MAX;
use super::prompt::{PromptId, PromptLibrary};
use super::recorder::Recorder;
use super::rtcp::RtcpSession;
use super::rtp::{RtpPacket, HEADER_LEN};

/// Largest audio payload decoded per packet: a full Ethernet MTU of G.711 (about 180 ms).
/// Anything longer is cut here rather than growing the buffer on the media path.
const MAX_DECODED_SAMPLES: usize = 1500;
use super::source::{Playlist, Source};
use super::stream::{OutgoingStream, StreamHeader};
use super::{Codec, LegQuality, PlayId, FRAME_MS, FRAME_SAMPLES};
use crate::sip::CallId;

/// How far behind the live stream the in-band DTMF tap listens: room for 40 ms of
/// reordering, well inside the jitter buffer's 60 ms bound.
const TAP_DEPTH: Duration = Duration::from_millis(40);

/// A leg whose source leg has sent nothing for longer than this (two ticks) fills the gap
/// itself, so a trunk never sees a hole in the RTP while a phone with VAD is quiet.
const FILL_AFTER: Duration = Duration::from_millis(2 * FRAME_MS);

/// Events the engine holds for the switch between drains. The worker drains after every
/// input, so reaching this means it stopped; newer events are dropped and counted.
const EVENT_QUEUE_LIMIT: usize = 4096;

const PCMU_SILENCE: [u8; FRAME_SAMPLES] = [0xFF; FRAME_SAMPLES];
const PCMA_SILENCE: [u8; FRAME_SAMPLES] = [0xD5; FRAME_SAMPLES];

fn silence(codec: Codec) -> &'static [u8; FRAME_SAMPLES] {
    match codec {
        Codec::Pcmu => &PCMU_SILENCE,
        Codec::Pcma => &PCMA_SILENCE,
    }
}

/// The engine's events for the switch, bounded.
pub struct EventQueue {
    queue: VecDeque<(CallId, MediaEvent)>,
    dropped: u64,
}

impl Default for EventQueue {
    fn default() -> EventQueue {
        EventQueue::new()
    }
}

impl EventQueue {
    pub fn new() -> EventQueue {
        EventQueue {
            queue: VecDeque::with_capacity(256),
            dropped: 0,
        }
    }

    pub fn push(&mut self, call: CallId, event: MediaEvent) {
        if self.queue.len() >= EVENT_QUEUE_LIMIT {
            self.dropped += 1;
            return;
        }
        self.queue.push_back((call, event));
    }

    pub fn pop(&mut self) -> Option<(CallId, MediaEvent)> {
        self.queue.pop_front()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// What a received RTP packet carries, for the leg that hears this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrivalKind {
    Audio(Codec),
    TelephoneEvent,
}

/// An accepted packet of audio or telephone-event, borrowed from the datagram.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    pub kind: ArrivalKind,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// A decoding tap on what the far end says: the jitter buffer orders and conceals it into
/// 20 ms frames on the tick for the in-band DTMF detector. Only legs that subscribe have one.
struct InbandTap {
    jitter: JitterBuffer,
    detector: InbandDtmf,
}

/// When the far end was last heard from, for the media timeout.
#[derive(Debug, Clone, Copy)]
struct Activity {
    /// Start, or the last change between sending and holding: the clock starts again.
    since: Instant,
    last_rtp: Option<Instant>,
    last_rtcp: Option<Instant>,
    timed_out: bool,
}

impl Activity {
    fn new(now: Instant) -> Activity {
        Activity {
            since: now,
            last_rtp: None,
            last_rtcp: None,
            timed_out: false,
        }
    }

    /// How long the far end has been silent in the way that counts: RTP or RTCP while the
    /// leg sends; only RTCP while it holds, and not at all if the far end never sent RTCP.
    fn silent_for(&self, now: Instant, sending: bool) -> Option<Duration> {
        let last = if sending {
            self.last_rtp.max(self.last_rtcp)
        } else {
            Some(self.last_rtcp?)
        };
        let from = last.map_or(self.since, |at| at.max(self.since));
        Some(now.saturating_duration_since(from))
    }
}

/// What `Start` (and later renegotiations) fixed.
struct Negotiated {
    /// The address the SDP names.
    remote: SocketAddr,
    /// The address RTP is accepted from and sent to, once one was (symmetric RTP).
    latched: Option<SocketAddr>,
    /// Where the far end's RTCP comes from (answered there).
    rtcp_from: Option<SocketAddr>,
    codec: Codec,
    payload_type: u8,
    telephone_event: Option<u8>,
    /// False while the far end holds (or its address is 0.0.0.0): nothing goes out.
    sending: bool,
    options: LegOptions,
    activity: Activity,
    /// RTCP of this leg (RFC 3550): statistics both ways, reports, the figures at the end.
    rtcp: RtcpSession,
    /// The in-band DTMF tap, when the trunk sends digits as tones.
    tap: Option<Box<InbandTap>>,
}

impl Negotiated {
    /// Where our RTP goes: the SDP's address, unless the far end sends from another host
    /// (a phone behind NAT writes its private address in the SDP and is seen from the
    /// NAT's): then back where its packets come from (symmetric RTP, RFC 4961; Asterisk's
    /// `nat=auto_comedia`). A different port on the SDP's own host is a sender that does
    /// not receive on its sending port (SIPp, some gateways), and still gets the SDP's port.
    fn target(&self) -> SocketAddr {
        match self.latched {
            Some(latched) if latched.ip() != self.remote.ip() => latched,
            _ => self.remote,
        }
    }

    /// Where our RTCP goes: the RTP address when muxed, else where the far end's RTCP came
    /// from, else the port above its RTP (RFC 3550 section 11).
    fn rtcp_target(&self) -> SocketAddr {
        let rtp = self.target();
        if self.options.rtcp_mux {
            return rtp;
        }
        self.rtcp_from
            .unwrap_or_else(|| SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)))
    }

    /// Whether `from` may be taken as the far end before anything was latched: the SDP's
    /// host (another port on it too), or the host its SIP comes from (behind NAT).
    /// Hosts compare in canonical form: a dual-stack SIP socket sees an IPv4 phone as
    /// `::ffff:a.b.c.d`, its RTP socket as `a.b.c.d`.
    fn may_latch_onto(&self, from: SocketAddr) -> bool {
        let from = from.ip().to_canonical();
        from == self.remote.ip().to_canonical()
            || self.options.signalling_host.map(|h| h.to_canonical()) == Some(from)
    }

    fn set_remote(&mut self, remote: SocketAddr) {
        if remote != self.remote {
            self.remote = remote;
            self.latched = None;
            self.rtcp_from = None;
        }
    }
}

pub struct Leg {
    call: CallId,
    conversation: CallId,
    expect_from: Option<SocketAddr>,
    negotiated: Option<Negotiated>,
    bridged_with: Option<CallId>,
    source: Source,
    stream: OutgoingStream,
    dtmf: DtmfDetector,
    /// Digits the switch asked this leg to send its far end (`SendDtmf`).
    dtmf_out: DtmfSender,
    /// The timestamp of the telephone-event being sent: that of its first packet.
    dtmf_timestamp: u32,
    recorder: Option<Recorder>,
    /// The caller's journey recording (QA), on a caller's leg.
    journey: Option<Box<JourneyTap>>,
    rtp_arrived: bool,
    /// When the source leg last gave this one something to send or mix.
    fed_at: Option<Instant>,
    /// The far end's last comfort-noise level (−dBov).
    comfort_noise_level: Option<u8>,
    /// The comfort-noise level of the leg this one hears, for filling that leg's gaps.
    fill_level: Option<u8>,
    noise: ComfortNoise,
    fill_pcm: [i16; FRAME_SAMPLES],
    /// The other leg's latest 20 ms, for a mix; `mix_fresh` until used.
    mix: [i16; FRAME_SAMPLES],
    mix_fresh: bool,
    /// The frame being made on the tick.
    frame: [u8; FRAME_SAMPLES],
    decoded: Box<[i16; MAX_DECODED_SAMPLES]>,
    packets_from_strangers: u64,
    /// Packets before `Start` from an address other than `expect_from`: the first such
    /// source and its count. The far end behind NAT sends from its SIP host as soon as it
    /// has the answer, before the switch has its ACK; `Start` (which knows that host)
    /// judges them, so the phone's own early packets are not counted as a stranger's.
    early_unknown: Option<(SocketAddr, u64)>,
    relay_dropped: u64,
}

impl Leg {
    pub fn new(
        call: CallId,
        conversation: CallId,
        expect_from: Option<SocketAddr>,
        stream: OutgoingStream,
    ) -> Leg {
        let noise_seed = stream.ssrc();
        Leg {
            call,
            conversation,
            expect_from,
            negotiated: None,
            bridged_with: None,
            source: Source::Silence,
            stream,
            dtmf: DtmfDetector::new(),
            dtmf_out: DtmfSender::new(),
            dtmf_timestamp: 0,
            recorder: None,
            journey: None,
            rtp_arrived: false,
            fed_at: None,
            comfort_noise_level: None,
            fill_level: None,
            noise: ComfortNoise::new(noise_seed),
            fill_pcm: [0; FRAME_SAMPLES],
            mix: [0; FRAME_SAMPLES],
            mix_fresh: false,
            frame: [0; FRAME_SAMPLES],
            decoded: Box::new([0; MAX_DECODED_SAMPLES]),
            packets_from_strangers: 0,
            early_unknown: None,
            relay_dropped: 0,
        }
    }

    pub fn conversation(&self) -> CallId {
        self.conversation
    }

    pub fn bridged_with(&self) -> Option<CallId> {
        self.bridged_with
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The leg's figures so far: RTP and RTCP counts, loss, jitter and round trip from its
    /// RTCP session, and the datagrams refused from strangers.
    pub fn quality(&self) -> LegQuality {
        let mut quality = match &self.negotiated {
            Some(n) => n.rtcp.quality(),
            None => LegQuality::default(),
        };
        // Never judged (no Start came): a stranger's.
        let unjudged = self.early_unknown.map_or(0, |(_, count)| count);
        quality.packets_from_strangers = self.packets_from_strangers + unjudged;
        quality
    }

    /// The comfort-noise level of the leg this one hears (`None`: fill its gaps with silence).
    pub fn set_fill_level(&mut self, level: Option<u8>) {
        self.fill_level = level;
    }

    /// The far end's last comfort-noise level, if it sent any.
    pub fn comfort_noise_level(&self) -> Option<u8> {
        self.comfort_noise_level
    }

    /// Frames from the other leg this one could not send (a telephone-event its peer did not
    /// negotiate).
    pub fn relay_dropped(&self) -> u64 {
        self.relay_dropped
    }

    /// `Start`: the far end's address and format; a second `Start` updates them and keeps
    /// the stream, source and latching going.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        codec: Codec,
        payload_type: u8,
        telephone_event: Option<u8>,
        options: LegOptions,
    ) {
        self.conversation = options.conversation;
        if let Some(journey) = &mut self.journey {
            journey.set_codec(codec);
        }
        match &mut self.negotiated {
            Some(n) => {
                n.set_remote(remote);
                n.codec = codec;
                n.payload_type = payload_type;
                n.telephone_event = telephone_event;
                n.tap = tap(codec, &options);
                n.options = options;
            }
            None => {
                let tap = tap(codec, &options);
                self.negotiated = Some(Negotiated {
                    remote,
                    latched: None,
                    rtcp_from: None,
                    codec,
                    payload_type,
                    telephone_event,
                    sending: true,
                    options,
                    activity: Activity::new(now),
                    rtcp: RtcpSession::new(self.stream.ssrc(), now),
                    tap,
                });
            }
        }
        if let (Some((source, count)), Some(n)) = (self.early_unknown.take(), &self.negotiated) {
            if !n.may_latch_onto(source) {
                self.packets_from_strangers += count;
            }
        }
    }

    pub fn redirect(&mut self, remote: SocketAddr) {
        if let Some(n) = &mut self.negotiated {
            n.set_remote(remote);
        }
    }

    pub fn renegotiate(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        codec: Codec,
        payload_type: u8,
        telephone_event: Option<u8>,
        send: bool,
    ) {
        let Some(n) = &mut self.negotiated else {
            return;
        };
        n.set_remote(remote);
        n.codec = codec;
        n.payload_type = payload_type;
        n.telephone_event = telephone_event;
        if let Some(tap) = &mut n.tap {
            tap.jitter.set_codec(codec);
        }
        if let Some(journey) = &mut self.journey {
            journey.set_codec(codec);
        }
        if n.sending != send {
            n.sending = send;
            // Hold and resume start the silence clock again: a long hold is no silence.
            n.activity.since = now;
            self.stream.interrupt();
        }
    }

    /// Whether RTCP shares the RTP port on this leg.
    pub fn rtcp_mux(&self) -> bool {
        self.negotiated.as_ref().is_some_and(|n| n.options.rtcp_mux)
    }

    /// Whether telephone-events from this leg's far end stay here (reported to the switch,
    /// never relayed): an agent's in-call keys.
    pub fn holds_back_dtmf(&self) -> bool {
        self.negotiated
            .as_ref()
            .is_some_and(|n| n.options.hold_back_dtmf)
    }

    /// `SendDtmf`: queues `digit` to go to the far end as RFC 4733 telephone-events on this
    /// leg's stream, from the next tick. Dropped (and logged) when the leg negotiated no
    /// telephone-event, is not started, or `digit` is not a keypad key.
    pub fn send_dtmf(&mut self, digit: char) {
        let call = self.call;
        let digit_text = digit.escape_debug();
        let Some(n) = &self.negotiated else {
            tracing::debug!(call = %call, digit = %digit_text, "digit not sent: the leg has no media yet");
            return;
        };
        if n.telephone_event.is_none() {
            tracing::debug!(call = %call, digit = %digit_text, "digit not sent: the far end negotiated no telephone-event");
            return;
        }
        let Some(event) = digit_event(digit) else {
            tracing::debug!(call = %call, digit = %digit_text, "digit not sent: not a keypad key");
            return;
        };
        if !self.dtmf_out.push(event) {
            tracing::debug!(call = %call, digit = %digit_text, "digit not sent: too many digits waiting");
        }
    }

    /// A datagram on the RTP port. Strangers are dropped before anything is parsed beyond the
    /// header and counted; digits become events, audio goes to the recorder; what the leg
    /// hearing this one should get is returned.
    pub fn on_rtp<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &'a [u8],
        events: &mut EventQueue,
    ) -> Option<Arrival<'a>> {
        let known = match &self.negotiated {
            None => self.expect_from == Some(from),
            Some(n) => n.latched == Some(from) || n.remote == from,
        };
        let may_latch = self
            .negotiated
            .as_ref()
            .is_some_and(|n| n.latched.is_none() && n.may_latch_onto(from));
        if !known && !may_latch {
            if self.negotiated.is_none() {
                match &mut self.early_unknown {
                    None => {
                        self.early_unknown = Some((from, 1));
                        return None;
                    }
                    Some((source, count)) if *source == from => {
                        *count += 1;
                        return None;
                    }
                    Some(_) => {}
                }
            }
            self.packets_from_strangers += 1;
            return None;
        }
        let Ok(packet) = RtpPacket::parse(bytes) else {
            if !known {
                self.packets_from_strangers += 1;
            }
            return None;
        };
        if !self.rtp_arrived {
            self.rtp_arrived = true;
            events.push(self.call, MediaEvent::RtpArrived);
        }
        let call = self.call;
        let Some(n) = &mut self.negotiated else {
            // Before Start: proof of the answer only.
            return None;
        };
        // Symmetric RTP: the first source from the SDP's host or the SIP's (or the SDP's own
        // address) is the far end.
        n.latched = Some(from);
        n.activity.last_rtp = Some(now);
        n.rtcp
            .on_rtp_received(now, packet.ssrc, packet.sequence, packet.timestamp);
        let mut report = |digit: DtmfDigit| {
            events.push(
                call,
                MediaEvent::Dtmf {
                    digit: digit.digit,
                    duration_ms: digit.duration_ms,
                },
            )
        };
        let kind = if Some(packet.payload_type) == n.telephone_event {
            self.dtmf
                .on_packet(packet.timestamp, packet.payload, &mut report);
            ArrivalKind::TelephoneEvent
        } else if packet.payload_type == n.payload_type {
            self.dtmf.on_audio(packet.timestamp, &mut report);
            if let Some(tap) = &mut n.tap {
                tap.jitter.push(
                    now,
                    packet.sequence,
                    packet.timestamp,
                    packet.ssrc,
                    packet.payload,
                );
            }
            if let Some(journey) = &mut self.journey {
                journey.said(
                    now,
                    packet.sequence,
                    packet.timestamp,
                    packet.ssrc,
                    packet.payload,
                );
            }
            if let Some(recorder) = &mut self.recorder {
                let len = n.codec.decode_into(packet.payload, &mut self.decoded[..]);
                if !recorder.write(&self.decoded[..len]) {
                    self.recorder = None;
                }
            }
            ArrivalKind::Audio(n.codec)
        } else {
            if packet.payload_type == CN_PAYLOAD_TYPE {
                // RFC 3389: the far end is quiet, not gone; remember how loud its room is.
                self.comfort_noise_level = noise_level(packet.payload);
            }
            return None;
        };
        Some(Arrival {
            kind,
            marker: packet.marker,
            sequence: packet.sequence,
            timestamp: packet.timestamp,
            ssrc: packet.ssrc,
            payload: packet.payload,
        })
    }

    /// A datagram of RTCP (on the RTCP port, or muxed): accepted from the far end's host,
    /// where it counts as activity; a stranger's is dropped and counted.
    /// A malformed report changes nothing and is no sign of life.
    pub fn on_rtcp(&mut self, now: Instant, ntp_now: u64, from: SocketAddr, bytes: &[u8]) {
        let Some(n) = &mut self.negotiated else {
            return;
        };
        if from.ip() != n.target().ip() {
            self.packets_from_strangers += 1;
            return;
        }
        if n.rtcp.on_rtcp(now, ntp_now, bytes).is_err() {
            return;
        }
        if !n.options.rtcp_mux {
            n.rtcp_from = Some(from);
        }
        n.activity.last_rtcp = Some(now);
    }

    /// What the leg this one hears (`from`) just received: relayed at once when this leg's
    /// source is that leg, kept for the tick when it is mixed, dropped otherwise.
    pub fn hear(&mut self, now: Instant, from: CallId, arrival: &Arrival, outbox: &mut Outbox) {
        let Some(n) = &self.negotiated else {
            return;
        };
        // The bridged leg is talking, whatever this one plays over it now: no gap to fill.
        if self.bridged_with == Some(from)
            && (matches!(arrival.kind, ArrivalKind::Audio(_)) || n.telephone_event.is_some())
        {
            self.fed_at = Some(now);
        }
        if self.source.mixes() == Some(from) {
            if let ArrivalKind::Audio(codec) = arrival.kind {
                let len = codec.decode_into(arrival.payload, &mut self.mix);
                self.mix[len..].fill(0);
                self.mix_fresh = true;
            }
            return;
        }
        if self.source.relays() != Some(from) {
            return;
        }
        // A digit of our own is going out: its packets replace the relayed audio.
        if self.dtmf_out.sending() {
            return;
        }
        let payload_type = match arrival.kind {
            ArrivalKind::Audio(_) => n.payload_type,
            ArrivalKind::TelephoneEvent => match n.telephone_event {
                Some(payload_type) => payload_type,
                None => {
                    self.relay_dropped += 1;
                    return;
                }
            },
        };
        if !n.sending {
            self.stream.interrupt();
            return;
        }
        let (codec, target) = (n.codec, n.target());
        let Some(buffer) = outbox.buffer() else {
            return;
        };
        let header = self.stream.relay(
            now,
            arrival.ssrc,
            arrival.sequence,
            arrival.timestamp,
            arrival.marker,
        );
        let (head, body) = buffer.split_at_mut(HEADER_LEN);
        write_header(head, &header, payload_type);
        let body = &mut body[..RELAY_PAYLOAD_MAX];
        let len = match arrival.kind {
            ArrivalKind::Audio(source_codec) => {
                if let Some(journey) = &mut self.journey {
                    journey.relayed(source_codec, arrival.payload);
                }
                source_codec.transcode_into(codec, arrival.payload, body)
            }
            ArrivalKind::TelephoneEvent => {
                let len = arrival.payload.len().min(body.len());
                body[..len].copy_from_slice(&arrival.payload[..len]);
                len
            }
        };
        outbox.commit(self.call, false, target, HEADER_LEN + len);
        if let Some(n) = &mut self.negotiated {
            n.rtcp.on_rtp_sent(now, header.timestamp, len);
        }
    }

    /// The 20 ms tick: the media timeout, the recording's maximum, and the frame this leg's
    /// source makes (nothing while it relays a leg that is talking).
    pub fn on_tick(
        &mut self,
        now: Instant,
        ntp_now: u64,
        prompts: &PromptLibrary,
        events: &mut EventQueue,
        outbox: &mut Outbox,
        journeys: &mut TickFrames,
    ) {
        let call = self.call;
        let Some(n) = &mut self.negotiated else {
            if let Some(journey) = &mut self.journey {
                journey.on_silent_tick(now, journeys);
            }
            return;
        };
        if self.recorder.as_mut().is_some_and(|r| !r.on_tick()) {
            self.recorder = None;
        }
        // RTCP goes on while held (receiver reports), never toward an unspecified address.
        if n.rtcp.report_due(now) && !n.target().ip().is_unspecified() {
            if let Some(buffer) = outbox.buffer() {
                let len = n.rtcp.write_report(now, ntp_now, buffer);
                if len > 0 {
                    outbox.commit(call, !n.options.rtcp_mux, n.rtcp_target(), len);
                }
            }
        }
        if let Some(tap) = &mut n.tap {
            let frame = tap.jitter.pop(now);
            if frame.kind != FrameKind::Silence {
                if let Some(digit) = tap.detector.on_frame(frame.pcm) {
                    events.push(
                        call,
                        MediaEvent::InbandDtmf {
                            digit: digit.digit,
                            duration_ms: digit.duration_ms,
                        },
                    );
                }
            }
        }
        if !n.activity.timed_out {
            if let Some(silent) = n.activity.silent_for(now, n.sending) {
                if silent >= n.options.media_timeout {
                    n.activity.timed_out = true;
                    let silent_ms = u64::try_from(silent.as_millis()).unwrap_or(u64::MAX);
                    events.push(call, MediaEvent::MediaTimeout { silent_ms });
                }
            }
        }
        let codec = n.codec;
        let quiet = silence(codec);
        let mut ended = None;
        // Whether the relay of a talking leg sends this tick's audio (no frame made here).
        let mut relaying = false;
        match &mut self.source {
            Source::Silence => self.frame = *quiet,
            Source::Playlist(playlist) => {
                let next = playlist.next(prompts, codec, quiet);
                self.frame = *next.frame;
                if next.ended {
                    ended = Some(*playlist);
                }
            }
            Source::Leg(_) => {
                if self
                    .fed_at
                    .is_some_and(|at| now.saturating_duration_since(at) <= FILL_AFTER)
                {
                    relaying = true;
                } else {
                    // The other leg is quiet (VAD) or silent: keep the stream going, with
                    // comfort noise at the level its far end last announced, or silence.
                    match self.fill_level {
                        Some(level) => {
                            self.noise.fill(level, &mut self.fill_pcm);
                            codec.encode_into(&self.fill_pcm, &mut self.frame);
                        }
                        None => self.frame = *quiet,
                    }
                }
            }
            Source::Mix { playlist, .. } => {
                let next = playlist.next(prompts, codec, quiet);
                for (i, out) in self.frame.iter_mut().enumerate() {
                    let mut sample = codec.decode(next.frame[i]);
                    if self.mix_fresh {
                        sample = sample.saturating_add(self.mix[i]);
                    }
                    *out = codec.encode(sample);
                }
                self.mix_fresh = false;
                if next.ended {
                    ended = Some(*playlist);
                }
            }
        }
        if let Some(journey) = &mut self.journey {
            // What the caller heard this tick: what the relay sent on arrival, else the frame.
            let sending = self.negotiated.as_ref().is_some_and(|n| n.sending);
            match (relaying, sending) {
                (true, _) => journey.on_tick(now, None, journeys),
                (false, true) => journey.on_tick(now, Some((codec, &self.frame)), journeys),
                (false, false) => journey.on_tick(now, Some((codec, quiet)), journeys),
            }
        }
        if let Some(playlist) = ended {
            self.source = self.after_playlist();
            events.push(
                call,
                MediaEvent::PromptFinished {
                    prompt: playlist.prompt,
                    play: playlist.play,
                    interrupted: false,
                },
            );
        }
        let Some(n) = &self.negotiated else {
            return;
        };
        if !n.sending {
            self.stream.interrupt();
            self.dtmf_out.cancel();
            return;
        }
        let telephone_event = n.telephone_event;
        match telephone_event {
            Some(event_type) => {
                if let Some(packet) = self.dtmf_out.next_packet() {
                    self.send_event(now, event_type, packet, outbox);
                    return;
                }
            }
            None => self.dtmf_out.cancel(),
        }
        if relaying {
            return;
        }
        let Some(n) = &self.negotiated else {
            return;
        };
        let (payload_type, target) = (n.payload_type, n.target());
        let Some(buffer) = outbox.buffer() else {
            return;
        };
        let header = self.stream.local(now);
        let (head, body) = buffer.split_at_mut(HEADER_LEN);
        write_header(head, &header, payload_type);
        body[..FRAME_SAMPLES].copy_from_slice(&self.frame);
        outbox.commit(call, false, target, HEADER_LEN + FRAME_SAMPLES);
        if let Some(n) = &mut self.negotiated {
            n.rtcp.on_rtp_sent(now, header.timestamp, FRAME_SAMPLES);
        }
    }

    /// One telephone-event packet of a digit the switch sent, in place of this tick's audio:
    /// next on the leg's own stream, with the event's start timestamp (RFC 4733 2.5.1).
    fn send_event(
        &mut self,
        now: Instant,
        payload_type: u8,
        packet: EventPacket,
        outbox: &mut Outbox,
    ) {
        let Some(n) = &mut self.negotiated else {
            return;
        };
        let target = n.target();
        let Some(buffer) = outbox.buffer() else {
            return;
        };
        // The stream moves on by one frame per tick as for audio, so what follows the event
        // is timed right; the packets themselves all carry the event's start.
        let mut header = self.stream.local(now);
        let clock = header.timestamp;
        if packet.first {
            self.dtmf_timestamp = header.timestamp;
        }
        header.marker = packet.first;
        header.timestamp = self.dtmf_timestamp;
        let (head, body) = buffer.split_at_mut(HEADER_LEN);
        write_header(head, &header, payload_type);
        body[..packet.payload.len()].copy_from_slice(&packet.payload);
        outbox.commit(self.call, false, target, HEADER_LEN + packet.payload.len());
        n.rtcp.on_rtp_sent(now, clock, packet.payload.len());
    }

    /// What follows a play: the bridged leg again, or silence.
    fn after_playlist(&self) -> Source {
        self.bridged_with.map_or(Source::Silence, Source::Leg)
    }

    /// Plays `prompt` (over and over when `looping`), replacing what the leg hears until it
    /// ends; a play under way is reported interrupted, so every play has one finish. A prompt
    /// the library does not hold finishes at once.
    pub fn play(
        &mut self,
        prompts: &PromptLibrary,
        prompt: PromptId,
        play: PlayId,
        looping: bool,
        events: &mut EventQueue,
    ) {
        self.interrupt_playlist(events);
        if prompts.frames(prompt, Codec::Pcmu).is_empty() {
            events.push(
                self.call,
                MediaEvent::PromptFinished {
                    prompt,
                    play,
                    interrupted: false,
                },
            );
            return;
        }
        self.source = Source::Playlist(Playlist::new(prompt, play, looping));
    }

    /// Plays `prompt` over the bridged leg's audio (a whisper): both are heard, summed. On a
    /// leg that is not bridged this is a plain play.
    pub fn play_mixed(
        &mut self,
        prompts: &PromptLibrary,
        prompt: PromptId,
        play: PlayId,
        looping: bool,
        events: &mut EventQueue,
    ) {
        self.play(prompts, prompt, play, looping, events);
        if let (Some(leg), Source::Playlist(playlist)) = (self.bridged_with, self.source) {
            self.mix_fresh = false;
            self.source = Source::Mix { leg, playlist };
        }
    }

    /// `Stop`: the play ends (interrupted) and the leg hears its bridged leg or silence; a
    /// recording ends too.
    pub fn stop(&mut self, events: &mut EventQueue) {
        self.interrupt_playlist(events);
        self.recorder = None;
    }

    fn interrupt_playlist(&mut self, events: &mut EventQueue) {
        if let Some(playlist) = self.source.playlist().copied() {
            events.push(
                self.call,
                MediaEvent::PromptFinished {
                    prompt: playlist.prompt,
                    play: playlist.play,
                    interrupted: true,
                },
            );
            self.source = self.after_playlist();
        }
    }

    /// Connects the leg to `peer` (it hears that leg) or disconnects it (`None`). Music on
    /// hold stops at a bridge (reported interrupted: the leg has someone to hear now); a
    /// one-off prompt plays to its end first, then the peer.
    pub fn set_bridge(&mut self, peer: Option<CallId>, events: &mut EventQueue) {
        self.bridged_with = peer;
        self.fed_at = None;
        self.fill_level = None;
        self.mix_fresh = false;
        self.source = match (peer, self.source) {
            (Some(peer), Source::Playlist(playlist)) if playlist.looping => {
                events.push(
                    self.call,
                    MediaEvent::PromptFinished {
                        prompt: playlist.prompt,
                        play: playlist.play,
                        interrupted: true,
                    },
                );
                Source::Leg(peer)
            }
            (Some(_), Source::Playlist(playlist)) => Source::Playlist(playlist),
            (Some(peer), Source::Mix { playlist, .. }) => Source::Mix {
                leg: peer,
                playlist,
            },
            (Some(peer), Source::Silence | Source::Leg(_)) => Source::Leg(peer),
            (None, Source::Leg(_)) => Source::Silence,
            (None, Source::Mix { playlist, .. }) => Source::Playlist(playlist),
            (None, source) => source,
        };
    }

    /// `RecordCaller`: writes what the far end says to a WAV file for at most `max`. The
    /// writer thread reports `RecordingFinished` through `report` when the file is closed.
    pub fn record(
        &mut self,
        path: PathBuf,
        max: Duration,
        report: &RecordingReports,
        events: &mut EventQueue,
    ) {
        self.recorder = None;
        let call = self.call;
        let report = report.clone();
        let started = Recorder::start(path, max, move |outcome| {
            if let Some(error) = &outcome.error {
                tracing::warn!(call = %call, error = %error, "recording failed");
            }
            report.send(
                call,
                MediaEvent::RecordingFinished {
                    duration_ms: outcome.duration_ms,
                },
            );
        });
        match started {
            Ok(recorder) => self.recorder = Some(recorder),
            Err(error) => {
                tracing::warn!(call = %call, error = %error, "recording not started");
                events.push(call, MediaEvent::RecordingFinished { duration_ms: 0 });
            }
        }
    }

    /// `RecordJourney`: the caller's journey is recorded, frame 0 at `from`, until the leg
    /// ends (the engine refuses a second one: the service knows a recording by its call).
    pub fn record_journey(
        &mut self,
        record_id: String,
        file: PathBuf,
        from: Instant,
        control: Sender<JourneyControl>,
        report: &RecordingReports,
    ) {
        let codec = self.negotiated.as_ref().map_or(Codec::Pcmu, |n| n.codec);
        self.journey = Some(Box::new(JourneyTap::start(
            self.call,
            record_id,
            file,
            codec,
            from,
            control,
            report.clone(),
        )));
    }

    /// `PauseJourney`: frames from `at` are written as silence (or, resumed, sound again).
    pub fn pause_journey(&mut self, paused: bool, at: Instant) {
        if let Some(journey) = &mut self.journey {
            journey.set_paused(paused, at);
        }
    }

    /// `record_id` could not be recorded (its file could not be created): if it is this
    /// leg's journey, the tap stops, instead of making frames no file takes until the call
    /// ends. The refusal of another recording of the leg leaves this one going.
    pub fn journey_failed(&mut self, record_id: &str) {
        if self
            .journey
            .as_ref()
            .is_some_and(|journey| journey.record_id() == record_id)
        {
            self.journey = None;
        }
    }

    /// The journey recording's frames so far, if one runs.
    pub fn journey_frames(&self) -> Option<u64> {
        self.journey.as_ref().map(|j| j.frames())
    }

    /// `End`: the recording (if any) is finished by its writer; the leg's figures go on the
    /// record named at `Start` (a leg that never started has none).
    pub fn end(mut self, events: &mut EventQueue) {
        self.recorder = None;
        let quality = self.quality();
        if let Some(n) = self.negotiated.take() {
            events.push(
                self.call,
                MediaEvent::Quality {
                    record: n.options.record,
                    quality,
                },
            );
        }
    }
}

fn write_header(out: &mut [u8], header: &StreamHeader, payload_type: u8) {
    out[0] = 0x80;
    out[1] = (u8::from(header.marker) << 7) | (payload_type & 0x7F);
    out[2..4].copy_from_slice(&header.sequence.to_be_bytes());
    out[4..8].copy_from_slice(&header.timestamp.to_be_bytes());
    out[8..12].copy_from_slice(&header.ssrc.to_be_bytes());
}

/// The in-band DTMF tap a leg's options ask for.
fn tap(codec: Codec, options: &LegOptions) -> Option<Box<InbandTap>> {
    options.inband_dtmf.then(|| {
        Box::new(InbandTap {
            jitter: JitterBuffer::new(codec, TAP_DEPTH),
            detector: InbandDtmf::new(),
        })
    })
}
