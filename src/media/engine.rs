//! The seam between a media worker thread (`net/`) and the sans-IO media of the
//! conversations it owns: the worker feeds commands, datagrams and its 20 ms tick in, with
//! `now`, and sends what `poll_transmit` hands back with one system call each.

use std::net::SocketAddr;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::command::MediaCommand;
use super::event::{MediaEvent, RecordingReports};
use super::journey::{JourneySink, TickFrames};
use super::leg::{ArrivalKind, EventQueue, Leg};
use super::outbox::Outbox;
use super::prompt::{PromptId, PromptLibrary};
use super::rtcp::is_rtcp;
use super::source::Source;
use super::stream::OutgoingStream;
use super::{LegQuality, PlayId};
use crate::sip::{CallId, CallIdMap};

/// One datagram to send from `call`'s leg: from its RTP socket, or from its RTCP socket when
/// `rtcp` is true (never, when the leg multiplexes RTCP on the RTP port).
#[derive(Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    pub call: CallId,
    pub rtcp: bool,
    pub to: SocketAddr,
    pub bytes: &'a [u8],
}

/// The sans-IO media of the conversations one worker owns. The worker owns the sockets: it
/// binds a leg's RTP port (and the odd port above it for RTCP) on `Open` or on the first
/// `Start` of a call it has no socket for, closes them after `End`, and passes every command
/// on to the engine as well. It calls `on_tick` every 20 ms (one tick for all its legs), and
/// after every call in drains `poll_transmit` and `poll_event`.
pub trait ConversationEngine {
    /// A command from the switch for a leg this worker owns.
    fn command(&mut self, now: Instant, command: MediaCommand);
    /// A datagram from `from` on `call`'s RTP socket (or its RTCP socket when `rtcp`).
    fn on_datagram(
        &mut self,
        now: Instant,
        call: CallId,
        rtcp: bool,
        from: SocketAddr,
        bytes: &[u8],
    );
    /// The worker's 20 ms tick.
    fn on_tick(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit<'_>>;
    /// The next event for the switch, if any.
    fn poll_event(&mut self) -> Option<(CallId, MediaEvent)>;
    /// Nothing will happen until the next command: no leg to tick and no recording's report
    /// still to come (those already come are taken by the next `poll_event`s). The worker
    /// then sleeps without its tick. An engine that cannot tell says no.
    fn idle(&self) -> bool {
        false
    }
}

/// The media of the conversations one worker owns: every leg by `CallId`, each with its own
/// source, outgoing stream, admission and timeout. Sans-IO: `now` comes in with every call,
/// packets go out through `poll_transmit`, events through `poll_event`.
///
/// Bounded: one leg per live call the switch started; nothing grows per packet (transmit
/// slots are reused, events are capped). Nothing on the packet path allocates or locks.
pub struct MediaEngine {
    prompts: Arc<PromptLibrary>,
    legs: CallIdMap<Leg>,
    outbox: Outbox,
    events: EventQueue,
    /// Recorder writer threads report here; drained by `poll_event`.
    recordings: Receiver<(CallId, MediaEvent)>,
    recording_reports: RecordingReports,
    /// The recording service's queues, for journey recordings (none: they are refused).
    journeys: Option<JourneySink>,
    /// The journey frames of the tick being made, sent to the service when it is over.
    tick_frames: TickFrames,
    /// The wall clock at one instant, so RTCP's NTP timestamps follow `now` without reading
    /// a clock: NTP(now) = wall_anchor + (now − instant_anchor).
    instant_anchor: Instant,
    wall_anchor: Duration,
    /// Outgoing streams for tests: taken in order by new legs instead of random ones.
    #[cfg(test)]
    next_streams: std::collections::VecDeque<OutgoingStream>,
}

impl MediaEngine {
    /// An engine whose RTCP wall clock is anchored now (the one clock read it makes).
    pub fn new(prompts: Arc<PromptLibrary>) -> MediaEngine {
        MediaEngine::with_wall_clock(prompts, Instant::now(), SystemTime::now())
    }

    /// An engine whose RTCP wall clock reads `wall` at `instant`.
    pub fn with_wall_clock(
        prompts: Arc<PromptLibrary>,
        instant: Instant,
        wall: SystemTime,
    ) -> MediaEngine {
        let (recording_reports, recordings) = RecordingReports::channel();
        MediaEngine {
            prompts,
            legs: CallIdMap::with_capacity_and_hasher(64, Default::default()),
            outbox: Outbox::with_capacity(64),
            events: EventQueue::new(),
            recordings,
            recording_reports,
            journeys: None,
            tick_frames: TickFrames::new(),
            instant_anchor: instant,
            wall_anchor: wall.duration_since(UNIX_EPOCH).unwrap_or_default(),
            #[cfg(test)]
            next_streams: std::collections::VecDeque::new(),
        }
    }

    /// Journey recordings go to the recording service behind `sink`.
    pub fn with_journeys(mut self, sink: JourneySink) -> MediaEngine {
        self.journeys = Some(sink);
        self
    }

    /// The legs this engine holds.
    pub fn leg_count(&self) -> usize {
        self.legs.len()
    }

    /// A leg's figures so far.
    pub fn quality(&self, call: CallId) -> Option<LegQuality> {
        self.legs.get(&call).map(Leg::quality)
    }

    /// The leg's current source.
    pub fn source(&self, call: CallId) -> Option<Source> {
        self.legs.get(&call).map(|leg| *leg.source())
    }

    /// Plays `prompt` on `call` over what it hears from its bridged leg, both summed (whisper,
    /// later barge). Reported like any play; on a leg that is not bridged, a plain play.
    pub fn play_mixed(&mut self, call: CallId, prompt: PromptId, play: PlayId, looping: bool) {
        self.outbox.compact();
        if let Some(leg) = self.legs.get_mut(&call) {
            leg.play_mixed(&self.prompts, prompt, play, looping, &mut self.events);
        }
    }

    /// `now` as a 64-bit NTP timestamp (seconds since 1900 and a binary fraction).
    fn ntp(&self, now: Instant) -> u64 {
        const UNIX_TO_NTP_SECONDS: u64 = 2_208_988_800;
        let wall = self.wall_anchor + now.saturating_duration_since(self.instant_anchor);
        let seconds = wall.as_secs() + UNIX_TO_NTP_SECONDS;
        let fraction = (u64::from(wall.subsec_nanos()) << 32) / 1_000_000_000;
        (seconds << 32) | fraction
    }

    fn new_stream(&mut self) -> OutgoingStream {
        #[cfg(test)]
        if let Some(stream) = self.next_streams.pop_front() {
            return stream;
        }
        OutgoingStream::random()
    }

    fn leg_entry(
        &mut self,
        call: CallId,
        conversation: CallId,
        expect_from: Option<SocketAddr>,
    ) -> &mut Leg {
        if !self.legs.contains_key(&call) {
            let stream = self.new_stream();
            self.legs
                .insert(call, Leg::new(call, conversation, expect_from, stream));
        }
        self.legs
            .get_mut(&call)
            .unwrap_or_else(|| unreachable!("inserted above"))
    }

    /// Separates `call` from the leg it is bridged with, both ways.
    fn unbridge(&mut self, call: CallId) {
        let Some(peer) = self.legs.get(&call).and_then(Leg::bridged_with) else {
            return;
        };
        if let Some(leg) = self.legs.get_mut(&call) {
            leg.set_bridge(None, &mut self.events);
        }
        if let Some(other) = self.legs.get_mut(&peer) {
            if other.bridged_with() == Some(call) {
                other.set_bridge(None, &mut self.events);
            }
        }
    }

    fn bridge(&mut self, a: CallId, b: CallId) {
        if a == b || !self.legs.contains_key(&a) || !self.legs.contains_key(&b) {
            tracing::warn!(a = %a, b = %b, "bridge between legs without media ignored");
            return;
        }
        for (call, other) in [(a, b), (b, a)] {
            if self.legs.get(&call).and_then(Leg::bridged_with) != Some(other) {
                self.unbridge(call);
            }
        }
        for (call, other) in [(a, b), (b, a)] {
            if let Some(leg) = self.legs.get_mut(&call) {
                if leg.bridged_with() != Some(other) {
                    leg.set_bridge(Some(other), &mut self.events);
                }
            }
        }
    }
}

impl ConversationEngine for MediaEngine {
    fn command(&mut self, now: Instant, command: MediaCommand) {
        self.outbox.compact();
        match command {
            MediaCommand::Open {
                call,
                conversation,
                expect_from,
                ..
            } => {
                self.leg_entry(call, conversation, expect_from);
            }
            MediaCommand::Start {
                call,
                remote,
                codec,
                payload_type,
                telephone_event,
                options,
                ..
            } => {
                let conversation = options.conversation;
                self.leg_entry(call, conversation, None).start(
                    now,
                    remote,
                    codec,
                    payload_type,
                    telephone_event,
                    options,
                );
            }
            MediaCommand::Redirect { call, remote } => {
                if let Some(leg) = self.legs.get_mut(&call) {
                    leg.redirect(remote);
                }
            }
            MediaCommand::Play { call, prompt, play } => {
                if let Some(leg) = self.legs.get_mut(&call) {
                    leg.play(&self.prompts, prompt, play, false, &mut self.events);
                }
            }
            MediaCommand::PlayLoop { call, prompt, play } => {
                if let Some(leg) = self.legs.get_mut(&call) {
                    leg.play(&self.prompts, prompt, play, true, &mut self.events);
                }
            }
            MediaCommand::PlayMixed { call, prompt, play } => {
                self.play_mixed(call, prompt, play, false)
            }
            MediaCommand::SendDtmf { call, digit } => {
                if let Some(leg) = self.legs.get_mut(&call) {
                    leg.send_dtmf(digit);
                }
            }
            MediaCommand::Stop { call } => {
                if let Some(leg) = self.legs.get_mut(&call) {
                    leg.stop(&mut self.events);
                }
            }
            MediaCommand::Bridge { a, b } => self.bridge(a, b),
            MediaCommand::Unbridge { call } => self.unbridge(call),
            MediaCommand::RecordCaller { call, path, max } => {
                if let Some(leg) = self.legs.get_mut(&call) {
                    leg.record(path, max, &self.recording_reports, &mut self.events);
                }
            }
            MediaCommand::RecordJourney {
                call,
                record_id,
                file,
                from,
            } => {
                let refused = match (&self.journeys, self.legs.get_mut(&call)) {
                    (Some(_), Some(leg)) if leg.journey_frames().is_some() => {
                        Some("the leg's journey is being recorded already")
                    }
                    (Some(sink), Some(leg)) => {
                        leg.record_journey(
                            record_id.clone(),
                            file,
                            from,
                            sink.control.clone(),
                            &self.recording_reports,
                        );
                        None
                    }
                    _ => Some("no recording service or no media leg"),
                };
                if let Some(why) = refused {
                    tracing::warn!(call = %call, why, "journey recording refused");
                    self.events.push(
                        call,
                        MediaEvent::JourneyRecorded {
                            record_id,
                            duration_ms: 0,
                            sha256: String::new(),
                            lost_ms: 0,
                            error: Some(why.into()),
                        },
                    );
                }
            }
            MediaCommand::PauseJourney { call, paused, at } => {
                if let Some(leg) = self.legs.get_mut(&call) {
                    leg.pause_journey(paused, at);
                }
            }
            MediaCommand::End { call } => {
                self.unbridge(call);
                if let Some(leg) = self.legs.remove(&call) {
                    leg.end(&mut self.events);
                }
            }
            MediaCommand::Renegotiate {
                call,
                remote,
                codec,
                payload_type,
                telephone_event,
                send,
            } => {
                if let Some(leg) = self.legs.get_mut(&call) {
                    leg.renegotiate(now, remote, codec, payload_type, telephone_event, send);
                }
            }
        }
    }

    fn on_datagram(
        &mut self,
        now: Instant,
        call: CallId,
        rtcp: bool,
        from: SocketAddr,
        bytes: &[u8],
    ) {
        self.outbox.compact();
        let Some(leg) = self.legs.get_mut(&call) else {
            return;
        };
        // RFC 5761 section 4: on a muxed port, RTCP is told from RTP by its packet type.
        if rtcp || (leg.rtcp_mux() && is_rtcp(bytes)) {
            let ntp_now = self.ntp(now);
            if let Some(leg) = self.legs.get_mut(&call) {
                leg.on_rtcp(now, ntp_now, from, bytes);
            }
            return;
        }
        let arrival = leg.on_rtp(now, from, bytes, &mut self.events);
        let Some(peer) = leg.bridged_with() else {
            return;
        };
        // An agent's keys are the switch's to act on, never the caller's to hear.
        if arrival.is_some_and(|a| a.kind == ArrivalKind::TelephoneEvent) && leg.holds_back_dtmf() {
            return;
        }
        let Some(arrival) = arrival else {
            // Comfort noise (or junk): the hearer fills this leg's gaps at its level.
            let level = leg.comfort_noise_level();
            if let Some(hearer) = self.legs.get_mut(&peer) {
                hearer.set_fill_level(level);
            }
            return;
        };
        if let Some(hearer) = self.legs.get_mut(&peer) {
            hearer.hear(now, call, &arrival, &mut self.outbox);
        }
    }

    fn on_tick(&mut self, now: Instant) {
        self.outbox.compact();
        let ntp_now = self.ntp(now);
        for leg in self.legs.values_mut() {
            leg.on_tick(
                now,
                ntp_now,
                &self.prompts,
                &mut self.events,
                &mut self.outbox,
                &mut self.tick_frames,
            );
        }
        if let Some(sink) = &self.journeys {
            self.tick_frames.send(sink);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        self.outbox.pop()
    }

    fn poll_event(&mut self) -> Option<(CallId, MediaEvent)> {
        let (call, event) = self
            .events
            .pop()
            .or_else(|| self.recordings.try_recv().ok())?;
        if let MediaEvent::JourneyRecorded {
            record_id,
            error: Some(_),
            ..
        } = &event
        {
            if let Some(leg) = self.legs.get_mut(&call) {
                leg.journey_failed(record_id);
            }
        }
        Some((call, event))
    }

    fn idle(&self) -> bool {
        self.legs.is_empty() && !self.recording_reports.owed()
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
