//! switch: the sans-IO call-centre core.
//!
//! Owns the calls: for each one its ring budget (STANDARDS.md S1), its IVR, its media
//! commands and its timeline. It is fed SIP bytes, media events and time, and asked for
//! [`Output`]s (datagrams to send, media commands, record writes) and its next timeout.
//! It never touches a socket, a file or the clock: `net/` does that and passes `now` in,
//! which is why every timer rule here is testable in virtual time.
//!
//! Must not: read `Instant::now()`, spawn, block, or reach into the media engine's state —
//! it sends [`MediaCommand`]s and receives [`MediaEvent`]s.

pub mod acd;
pub mod admission;
mod consultation;
pub mod context;
mod hold;
mod in_call_keys;
pub mod ivr;
mod media_faults;
mod prompts;
mod queueing;
mod recording;
pub mod rtp_ports;
pub mod timeline;
mod transfer;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Dialplan, Standards, TrunkPeer};
pub use crate::media::command::{LegOptions, MediaCommand};
use crate::media::prompt::{PromptId, PromptLibrary};
use crate::media::MediaEvent;
use crate::media::{LegQuality, LegRole, MediaRecordKey, PlayId};
use crate::sip::sdp::{self, Direction, Negotiated, SdpError, SdpSession};
use crate::sip::{CallEvent, CallId, Endpoint, Transmit, Transport};
use crate::store::{CallbackRequest, NewCall, StoredBinding};

use acd::{Acd, AgentSpec};
use admission::{Admission, NewCallRate};
use context::CallContext;
use hold::HoldExplanation;
use ivr::{Ivr, IvrAction};
use queueing::{AgentLeg, QueueWait};
use rtp_ports::RtpPorts;
use timeline::{EventKind, Party, TimelineEvent};
use transfer::TransferState;

/// How long a refused caller is asked to wait before trying again.
const RETRY_AFTER_BUSY_S: u32 = 5;
const RETRY_AFTER_SHUTDOWN_S: u32 = 60;
/// How long the switch waits for the ACK of its 200 OK before releasing the call and its
/// RTP port. The 200 goes out again at 0.5, 1.5 and 3.5 s, so a real caller has four
/// chances to get an ACK through; a flood of INVITEs from a forged address (which never
/// ACKs) holds each port 5 s instead of the 32 s of the transaction timeout.
const ACK_WAIT: Duration = Duration::from_secs(5);

/// What the core asks its drivers to do.
#[derive(Debug)]
pub enum Output {
    Transmit(Transmit),
    Media(MediaCommand),
    Record(RecordCommand),
}

/// Writes for the call records store.
#[derive(Debug, Clone)]
pub enum RecordCommand {
    Begin(NewCall),
    Event {
        call_id: String,
        event: TimelineEvent,
    },
    Finish {
        call_id: String,
        ended_at: jiff::Timestamp,
        outcome: &'static str,
    },
    /// A phone's registrations, to survive a restart (replaces the user's set).
    SaveBindings {
        user: String,
        bindings: Vec<StoredBinding>,
    },
    Callback(CallbackRequest),
    /// A leg's media figures (loss, jitter, round trip), arriving after the leg ended.
    MediaQuality {
        call_id: String,
        role: LegRole,
        quality: LegQuality,
    },
    /// The call's QA recording began (issue 9): `file` relative to the data dir, its first
    /// sample at `offset_ms` on the call's timeline.
    RecordingStarted {
        call_id: String,
        file: String,
        started_at: jiff::Timestamp,
        offset_ms: u64,
    },
    /// The call's QA recording was finished, repaired or deleted.
    RecordingFinished {
        call_id: String,
        end: crate::store::RecordingEnd,
    },
}

/// Settings the core needs that are not in the dialplan.
#[derive(Debug, Clone)]
pub struct SwitchSettings {
    /// The address callers send RTP to (written in our SDP).
    pub media_ip: IpAddr,
    pub rtp_ports: (u16, u16),
    /// Where voicemail recordings are written.
    pub voicemail_dir: std::path::PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// 180 sent; the switch answers at `answer_at`.
    Alerting { answer_at: Instant },
    /// 200 sent, waiting for the ACK (at most [`ACK_WAIT`]); no media is sent before it, so
    /// a forged INVITE cannot aim our RTP at a third party.
    Answered,
    /// Media flows and the IVR runs. (The ACK may still be due: see `Call::awaiting_ack`.)
    Ivr,
    /// Waiting in a queue: announcements, music, offers to agents.
    Queued(Box<QueueWait>),
    /// Talking to an agent through the agent leg.
    Connected {
        leg: CallId,
        agent: String,
        queue: String,
    },
    /// Being transferred (blind) to an extension or an outside number, or recalled to the
    /// transferring agent (`Call::transfer` says which): `leg` rings for the caller, who
    /// hears the explanation then ringback; `None` while nothing rings (the apology before
    /// going back to the transferring agent's leg).
    Transferring { leg: Option<CallId> },
    /// Leaving a message (recording since the offer and beep ended).
    Voicemail { recording_since: Option<Instant> },
    /// A last prompt plays, then the switch hangs up for `reason`.
    Closing { reason: String },
    /// BYE sent or final response given; waiting for the endpoint to forget the call.
    Leaving,
    /// A desk phone's consultation call while its agent's `caller` is held: ringback while
    /// the colleague's phone rings (see `consultation`).
    Consulting { caller: CallId },
}

struct Call {
    record_id: String,
    /// The caller's number (the From user), for priority tiers and callbacks.
    caller_number: String,
    invited_at: Instant,
    phase: Phase,
    /// The ring rules in force when the call arrived.
    standards: Standards,
    hotline: String,
    language: String,
    entry_flow: Option<String>,
    rtp_port: u16,
    /// Our SDP (answer, or offer for a delayed-offer INVITE).
    local_sdp: String,
    media: Option<Negotiated>,
    media_started: bool,
    /// `MediaCommand::Open` went out (at the answer): the socket needs an `End` to close,
    /// even when the media never starts.
    media_opened: bool,
    /// The caller's RTP proved our answer arrived before its ACK did (RFC 3261 13.3.1.4):
    /// media and IVR run, and the ACK is still awaited until the endpoint's Timer H.
    awaiting_ack: bool,
    /// The trunk the call came from listens for DTMF tones in the audio.
    inband_dtmf: bool,
    /// Where the INVITE came from: besides its SDP's host, the only host the caller's RTP
    /// may be latched onto (`LegOptions::signalling_host`).
    signalling_host: std::net::IpAddr,
    ivr: Option<Ivr>,
    /// Prompts queued behind the one playing; the IVR hears one "finished" for the lot.
    prompt_queue: VecDeque<PromptId>,
    playing: Option<PromptId>,
    /// The id of that play: only its `PromptFinished` ends it (a stale one is ignored).
    play: Option<PlayId>,
    /// The prompt playing is music on a loop (no "finished" will come).
    looping: bool,
    /// A desk phone dialled a feature code: (phone user, code).
    feature_code: Option<(String, String)>,
    voicemail: Option<std::path::PathBuf>,
    timer: Option<Instant>,
    finished: bool,
    /// The call's SDP session (what was offered and agreed, our o= version).
    sdp: Option<SdpSession>,
    /// The media conversation the call's legs live in: its own id, or the caller's whose
    /// agent placed it (a consultation call), so every leg a transfer joins is in one
    /// media worker.
    conversation: CallId,
    /// What the caller told the hotline and what happened, for every agent who gets the call.
    context: CallContext,
    /// The caller is on hold (an agent's phone held them).
    hold: Option<HoldExplanation>,
    /// The caller is being transferred.
    transfer: Option<TransferState>,
    /// The hold reason the agent chose with keys for the coming (or current) hold.
    chosen_hold_reason: Option<String>,
    /// The caller went back into a queue after losing its agent: the next agent's whisper
    /// says so.
    requeued: bool,
    /// The call's QA recording, from the answer when its hotline records.
    recording: Option<recording::Recording>,
}

pub struct Switch {
    endpoint: Endpoint,
    dialplan: Arc<Dialplan>,
    prompts: Arc<PromptLibrary>,
    settings: SwitchSettings,
    rtp_ports: RtpPorts,
    calls: BTreeMap<CallId, Call>,
    /// The switch's INVITEs to agents' phones, by their endpoint handle.
    legs: BTreeMap<CallId, AgentLeg>,
    acd: Acd,
    timers: BTreeSet<(Instant, CallId)>,
    outputs: VecDeque<Output>,
    accepting: bool,
    /// Wall-clock anchor: records and business hours need real time, derived from `now`.
    anchor: (Instant, jiff::Timestamp),
    calls_seen: u64,
    /// New calls per source address (standards `new_calls_per_source`).
    new_call_rate: NewCallRate,
    /// The last `PlayId` handed out: every Play/PlayLoop gets the next one.
    last_play: u64,
    /// Trunk peers (for each call's `inband_dtmf`), set by `set_trunks`.
    trunks: Vec<TrunkPeer>,
    /// `MediaCommand::Open`s not yet polled: they go out before any datagram, so a socket
    /// is open before the offer or answer naming it leaves.
    opens: VecDeque<MediaCommand>,
    /// Attended transfers in progress, by the held caller (one each; at most one per agent).
    consultations: BTreeMap<CallId, consultation::Consultation>,
    /// Queues nobody was taking calls for when last looked at (while they had callers):
    /// dialplan queue names, so bounded by the configuration.
    unstaffed_queues: BTreeSet<String>,
}

impl Switch {
    pub fn new(
        endpoint: Endpoint,
        dialplan: Arc<Dialplan>,
        prompts: Arc<PromptLibrary>,
        settings: SwitchSettings,
        agents: Vec<AgentSpec>,
        now: Instant,
        wall_now: jiff::Timestamp,
    ) -> Self {
        let rtp_ports = RtpPorts::new(settings.rtp_ports.0, settings.rtp_ports.1);
        let new_call_rate = NewCallRate::new(dialplan.standards.new_calls_per_source);
        let mut acd = Acd::new(agents, now);
        // Phones whose registrations survived a restart make their agents available again.
        let users: Vec<String> = acd.agents().map(|a| a.spec.user.clone()).collect();
        for user in users {
            if !endpoint.bindings(&user).is_empty() {
                acd.set_registered(&user, true, now);
            }
        }
        Switch {
            legs: BTreeMap::new(),
            acd,
            endpoint,
            dialplan,
            prompts,
            settings,
            rtp_ports,
            calls: BTreeMap::new(),
            timers: BTreeSet::new(),
            outputs: VecDeque::new(),
            accepting: true,
            anchor: (now, wall_now),
            calls_seen: 0,
            new_call_rate,
            last_play: 0,
            trunks: Vec::new(),
            opens: VecDeque::new(),
            consultations: BTreeMap::new(),
            unstaffed_queues: BTreeSet::new(),
        }
    }

    /// The trunk peers calls come from (`hardware/trunks.toml`): a call from a peer with
    /// `inband_dtmf` has its audio searched for DTMF tones. Without it, no call is.
    pub fn set_trunks(&mut self, trunks: Vec<TrunkPeer>) {
        self.trunks = trunks;
    }

    /// Whether `ip` is in a trusted network (a trunk's): its TCP connections are kept.
    pub fn trusts(&self, ip: std::net::IpAddr) -> bool {
        self.endpoint.trusts(ip)
    }

    /// TCP peers whose phone just authenticated a REGISTER: their connections are kept.
    pub fn take_vetted_tcp_peers(&mut self) -> Vec<SocketAddr> {
        self.endpoint.take_vetted_tcp_peers()
    }

    pub fn handle_sip(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        bytes: &[u8],
    ) {
        self.endpoint.handle_input(now, transport, source, bytes);
        self.drain_endpoint(now);
    }

    pub fn handle_media_event(&mut self, now: Instant, call: CallId, event: MediaEvent) {
        if self.legs.contains_key(&call) {
            // The agent's side: only the whisper's progress matters.
            match event {
                MediaEvent::PromptFinished {
                    interrupted: false,
                    play,
                    ..
                } => {
                    self.on_whisper_finished(now, call, play);
                    self.on_agent_prompt_finished(call, play);
                }
                MediaEvent::Quality { record, quality } => self.record_quality(record, quality),
                MediaEvent::MediaTimeout { silent_ms } => {
                    self.on_leg_media_timeout(now, call, silent_ms)
                }
                MediaEvent::Dtmf { digit, .. } => self.on_agent_key(now, call, digit),
                _ => {}
            }
            self.drain_endpoint(now);
            return;
        }
        match event {
            MediaEvent::Dtmf { digit, .. } => self.on_digit(now, call, digit, "rfc4733"),
            MediaEvent::InbandDtmf { digit, .. } => self.on_digit(now, call, digit, "inband"),
            MediaEvent::PromptFinished {
                prompt,
                play,
                interrupted,
            } => self.on_prompt_finished(now, call, prompt, play, interrupted),
            MediaEvent::RecordingFinished { duration_ms } => {
                self.on_recording_finished(now, call, duration_ms)
            }
            MediaEvent::RtpArrived => self.on_rtp_arrived(now, call),
            MediaEvent::MediaTimeout { silent_ms } => self.on_media_timeout(now, call, silent_ms),
            MediaEvent::Quality { record, quality } => self.record_quality(record, quality),
            MediaEvent::JourneyRecorded { .. } => self.on_journey_recorded(call, event),
        }
        self.drain_endpoint(now);
    }

    /// A leg's media figures go on its call record, whether or not the call is still here.
    fn record_quality(&mut self, record: MediaRecordKey, quality: LegQuality) {
        self.outputs
            .push_back(Output::Record(RecordCommand::MediaQuality {
                call_id: record.call_id,
                role: record.role,
                quality,
            }));
    }

    /// The driver could not open or use a call's media socket: the call cannot go on.
    pub fn handle_media_failure(&mut self, now: Instant, call: CallId, why: &str) {
        tracing::error!(call = %call, why, "media failed");
        if self.agent_leg_lost(now, call, "failed") {
            // A bridged caller is kept and queued again.
            self.drain_endpoint(now);
            return;
        }
        if let Some(leg) = self.legs.get_mut(&call) {
            // The agent's side cannot carry the call: end it for both, as a failure.
            leg.media_started = false;
            let caller = leg.caller;
            self.hang_up_with(now, caller, &format!("agent media failed: {why}"), "failed");
            self.drain_endpoint(now);
            return;
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.media_started = false;
        }
        self.hang_up_with(now, call, &format!("media failed: {why}"), "failed");
        self.drain_endpoint(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.endpoint.handle_timeout(now);
        self.drain_endpoint(now);
        while let Some(&(at, call)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, call));
            if let Some(c) = self.calls.get_mut(&call) {
                if c.timer == Some(at) {
                    c.timer = None;
                    self.on_call_timer(now, call);
                }
            } else if let Some(l) = self.legs.get_mut(&call) {
                if l.timer == Some(at) {
                    l.timer = None;
                    self.on_leg_timer(now, call);
                }
            }
        }
        let wrap_ups_ended = !self.acd.end_wrap_ups(now).is_empty();
        if self.acd.end_rests(now) || wrap_ups_ended {
            self.dispatch(now);
        }
        self.drain_endpoint(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let ours = [
            self.timers.first().map(|(at, _)| *at),
            self.acd.next_wrap_up_end(),
            self.acd.next_rest_end(),
        ]
        .into_iter()
        .flatten()
        .min();
        match (ours, self.endpoint.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(open) = self.opens.pop_front() {
            return Some(Output::Media(open));
        }
        if let Some(transmit) = self.endpoint.poll_transmit() {
            return Some(Output::Transmit(transmit));
        }
        self.outputs.pop_front()
    }

    /// Refuse new calls with 503 and end every call in progress.
    pub fn shutdown(&mut self, now: Instant) {
        self.accepting = false;
        let calls: Vec<CallId> = self.calls.keys().copied().collect();
        for call in calls {
            let phase = self.calls.get(&call).map(|c| c.phase.clone());
            match phase {
                Some(Phase::Alerting { .. }) => self.reject(
                    now,
                    call,
                    503,
                    Some(RETRY_AFTER_SHUTDOWN_S),
                    "switch shutting down",
                ),
                Some(Phase::Leaving) | None => {}
                Some(_) => self.hang_up(now, call, "switch shutting down"),
            }
        }
        self.drain_endpoint(now);
    }

    /// No call left, not even one waiting for its BYE to be answered.
    pub fn is_idle(&self) -> bool {
        self.calls.is_empty() && self.legs.is_empty()
    }

    /// Each agent's state, for logs and (later) the CTI API.
    pub fn agent_states(&self) -> Vec<(String, String)> {
        self.acd
            .agents()
            .map(|a| (a.spec.id.clone(), a.state.name()))
            .collect()
    }

    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    fn wall(&self, now: Instant) -> jiff::Timestamp {
        let since = now.saturating_duration_since(self.anchor.0);
        self.anchor.1.checked_add(since).unwrap_or(self.anchor.1)
    }

    fn drain_endpoint(&mut self, now: Instant) {
        while let Some(event) = self.endpoint.poll_event() {
            self.on_call_event(now, event);
        }
    }

    fn on_call_event(&mut self, now: Instant, event: CallEvent) {
        if event
            .call()
            .is_some_and(|call| self.legs.contains_key(&call))
        {
            return self.on_leg_event(now, event);
        }
        match event {
            CallEvent::Incoming {
                call,
                sip_call_id,
                from,
                to,
                request_user,
                source,
                transport,
                sdp,
                phone,
                replaces,
            } => {
                let _span = tracing::info_span!("call", sip_call_id = %sip_call_id).entered();
                // Desk phones proved who they are; anyone else may be a forged address.
                if phone.is_none() {
                    if let Admission::Refused { first } = self.new_call_rate.admit(source.ip(), now)
                    {
                        if first {
                            tracing::warn!(%source, "new calls from this address over new_calls_per_source: refused with 503");
                        }
                        // No record: a flood must not fill the call records.
                        self.endpoint
                            .reject_once(now, call, 503, Some(RETRY_AFTER_BUSY_S));
                        return;
                    }
                }
                tracing::info!(%from, %to, %source, ?transport, ?phone, "incoming call");
                let incoming = Incoming {
                    source,
                    sip_call_id,
                    from,
                    to,
                    request_user,
                    offer: sdp,
                    phone,
                };
                if let Some(replaces) = replaces {
                    if self.on_replacing_invite(now, call, &incoming, &replaces) {
                        return;
                    }
                }
                if incoming.phone.is_some() && self.on_consultation_invite(now, call, &incoming) {
                    return;
                }
                self.on_incoming(now, call, incoming);
            }
            CallEvent::Cancelled { call } => {
                self.record(
                    now,
                    call,
                    EventKind::Hangup {
                        by: Party::Caller,
                        reason: "cancelled before answer".into(),
                    },
                );
                self.finish(now, call, "abandoned");
                self.forget(now, call);
            }
            CallEvent::Confirmed { call, sdp } => self.on_confirmed(now, call, sdp),
            CallEvent::AckTimeout { call } => {
                self.hang_up_with(now, call, "no ACK for the 200 OK", "failed");
            }
            CallEvent::RemoteSdp { call, sdp } => self.on_remote_answer(now, call, Some(&sdp)),
            CallEvent::Reoffer { call, offer } => self.on_reoffer(now, call, offer.as_deref()),
            CallEvent::ReinviteDone { call, status, sdp } => {
                let answer = sdp.as_deref().filter(|_| (200..300).contains(&status));
                self.on_remote_answer(now, call, answer);
            }
            CallEvent::Bye { call } => {
                let outcome = match self.calls.get(&call).map(|c| &c.phase) {
                    // Hung up while waiting for an agent: the queue lost the call.
                    Some(Phase::Queued(_)) | Some(Phase::Transferring { .. }) => "abandoned",
                    _ => "completed",
                };
                // A caller leaving a message ends it by hanging up.
                self.keep_voicemail(now, call, None);
                self.record(
                    now,
                    call,
                    EventKind::Hangup {
                        by: Party::Caller,
                        reason: "caller hung up".into(),
                    },
                );
                self.caller_left_connected(now, call);
                self.finish(now, call, outcome);
                self.forget(now, call);
            }
            CallEvent::Dtmf { call, digit, .. } => self.on_digit(now, call, digit, "sip-info"),
            CallEvent::Refer {
                call,
                target,
                referred_by,
            } => self.on_refer_event(now, call, target, referred_by),
            CallEvent::Ended { call } => self.forget(now, call),
            CallEvent::BindingsChanged { user, bindings } => {
                self.on_bindings(now, &user, &bindings)
            }
            CallEvent::AuthFailed {
                source,
                user,
                blocked,
            } => {
                tracing::warn!(%source, user, blocked, "desk phone authentication failed");
            }
            // Outgoing-call events for a leg we no longer track: nothing to do.
            CallEvent::OutgoingProgress { .. }
            | CallEvent::OutgoingAnswered { .. }
            | CallEvent::OutgoingFailed { .. } => {}
        }
    }

    /// Events for the switch's INVITEs to agents.
    fn on_leg_event(&mut self, now: Instant, event: CallEvent) {
        if self.on_consultation_leg_event(now, &event) {
            return;
        }
        match event {
            CallEvent::OutgoingProgress { .. } => {}
            CallEvent::OutgoingAnswered { call, sdp } => self.on_leg_answered(now, call, sdp),
            CallEvent::OutgoingFailed { call, status } => {
                self.on_leg_failed(now, call, status);
                self.forget_leg(call);
            }
            CallEvent::Bye { call } => self.on_leg_bye(now, call),
            // The phone never ACKed our answer to its re-INVITE: it is gone.
            CallEvent::AckTimeout { call } if !self.agent_leg_lost(now, call, "failed") => {
                self.on_leg_bye(now, call)
            }
            CallEvent::Ended { call } => self.forget_leg(call),
            CallEvent::RemoteSdp { call, sdp } => self.on_remote_answer(now, call, Some(&sdp)),
            CallEvent::Reoffer { call, offer } => self.on_reoffer(now, call, offer.as_deref()),
            CallEvent::ReinviteDone { call, status, sdp } => {
                let answer = sdp.as_deref().filter(|_| (200..300).contains(&status));
                self.on_remote_answer(now, call, answer);
            }
            CallEvent::Dtmf { call, digit, .. } => self.on_agent_key(now, call, digit),
            CallEvent::Refer {
                call,
                target,
                referred_by,
            } => self.on_refer_event(now, call, target, referred_by),
            _ => {}
        }
    }

    /// A REFER: attended when its Refer-To embeds `Replaces`, else blind.
    fn on_refer_event(
        &mut self,
        now: Instant,
        call: CallId,
        target: crate::sip::ReferTarget,
        referred_by: Option<String>,
    ) {
        if target.replaces.is_some() {
            self.on_attended_refer(now, call, &target);
        } else {
            self.on_refer(now, call, target, referred_by);
        }
    }

    fn on_incoming(&mut self, now: Instant, call: CallId, incoming: Incoming) {
        let Incoming {
            source,
            sip_call_id,
            from,
            to,
            request_user,
            offer,
            phone,
        } = incoming;
        self.calls_seen += 1;
        let wall = self.wall(now);
        let record_id = format!(
            "{}-{:04}",
            wall.strftime("%Y%m%d-%H%M%S"),
            self.calls_seen % 10_000
        );
        let standards = self.dialplan.standards.clone();
        let mut answer_delay = standards.answer_delay();
        let hotline = self.dialplan.hotline_for(&request_user).cloned();
        let codes = &self.dialplan.feature_codes;
        let feature_code = phone.clone().filter(|_| {
            [&codes.login, &codes.logout, &codes.ready, &codes.not_ready]
                .iter()
                .any(|code| **code == request_user)
        });
        if feature_code.is_some() {
            // An agent's own phone: no reason to make it ring.
            answer_delay = Duration::ZERO;
        }
        let caller_number = user_of(&from);
        // Desk phones send telephone-events; a trunk says whether its audio needs listening to.
        let inband_dtmf = phone.is_none()
            && self
                .trunks
                .iter()
                .find(|peer| peer.contains(source.ip()))
                .is_some_and(|peer| peer.inband_dtmf);
        self.outputs
            .push_back(Output::Record(RecordCommand::Begin(NewCall {
                id: record_id.clone(),
                sip_call_id,
                from: from.clone(),
                to: to.clone(),
                hotline: hotline.as_ref().map(|h| h.name.clone()),
                started_at: wall,
            })));
        self.calls.insert(
            call,
            Call {
                record_id,
                caller_number,
                invited_at: now,
                phase: Phase::Alerting { answer_at: now },
                standards,
                hotline: hotline.as_ref().map(|h| h.name.clone()).unwrap_or_default(),
                language: hotline
                    .as_ref()
                    .or(self.dialplan.hotlines.first())
                    .map(|h| h.language.clone())
                    .unwrap_or_default(),
                entry_flow: None,
                rtp_port: 0,
                local_sdp: String::new(),
                media: None,
                media_started: false,
                media_opened: false,
                awaiting_ack: false,
                inband_dtmf,
                signalling_host: source.ip(),
                ivr: None,
                prompt_queue: VecDeque::new(),
                playing: None,
                play: None,
                looping: false,
                feature_code: None,
                voicemail: None,
                timer: None,
                finished: false,
                sdp: None,
                conversation: call,
                context: CallContext::default(),
                hold: None,
                transfer: None,
                chosen_hold_reason: None,
                requeued: false,
                recording: None,
            },
        );
        self.record(now, call, EventKind::Invite { from, to });

        // Refusals come at once with a reason, never after ringing on (S1).
        if !self.accepting {
            return self.reject(
                now,
                call,
                503,
                Some(RETRY_AFTER_SHUTDOWN_S),
                "switch shutting down",
            );
        }
        let hotline = match (hotline, &feature_code) {
            (Some(hotline), _) => Some(hotline),
            (None, Some(_)) => None,
            (None, None) => {
                return self.reject(now, call, 404, None, "no hotline at this number");
            }
        };
        if let Some(limit) = self.dialplan.standards.max_calls {
            // This call is already in the table; calls ending (BYE sent, port released)
            // hold no place.
            let holding = self.calls.values().filter(|c| c.phase != Phase::Leaving);
            if holding.count() > limit as usize {
                return self.reject(
                    now,
                    call,
                    503,
                    Some(RETRY_AFTER_BUSY_S),
                    "at the configured call limit",
                );
            }
        }
        let Some(port) = self.rtp_ports.allocate() else {
            return self.reject(now, call, 503, Some(RETRY_AFTER_BUSY_S), "out of RTP ports");
        };
        let local_rtp = SocketAddr::new(self.settings.media_ip, port);
        let session_id = self.calls_seen;
        let mut session = SdpSession::new(local_rtp, session_id);
        let (local_sdp, media) = match offer {
            Some(offer) => match session.answer(&offer) {
                Ok(answer) => (answer, session.negotiated()),
                Err(error) => {
                    self.rtp_ports.release(port);
                    let (status, reason) = match error {
                        SdpError::NoCommonCodec => (488, "no common codec (PCMU/PCMA)".to_string()),
                        SdpError::NoAudio => (488, "no audio stream in the offer".to_string()),
                        SdpError::Malformed(why) => (400, format!("malformed SDP offer: {why}")),
                    };
                    return self.reject(now, call, status, None, &reason);
                }
            },
            None => (session.offer(Direction::SendRecv), None),
        };
        let (entry_flow, hours_open) = match &hotline {
            None => (String::new(), None),
            Some(h) => {
                let (flow, open) = h.entry.flow_at(self.wall(now));
                (flow.to_string(), open)
            }
        };
        if let Some(open) = hours_open {
            self.record(now, call, EventKind::Hours { open });
        }
        let answer_at = now + answer_delay;
        if let Some(c) = self.calls.get_mut(&call) {
            c.rtp_port = port;
            c.local_sdp = local_sdp;
            c.media = media;
            c.sdp = Some(session);
            c.entry_flow = Some(entry_flow);
            c.phase = Phase::Alerting { answer_at };
            c.feature_code = feature_code.map(|phone| (phone, request_user.clone()));
        }
        self.endpoint.ringing(now, call);
        self.record(now, call, EventKind::Ringing);
        if answer_at <= now {
            self.answer(now, call);
        } else {
            self.set_timer(call, Some(answer_at));
        }
    }

    fn on_call_timer(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        match c.phase {
            Phase::Alerting { answer_at } if answer_at <= now => self.answer(now, call),
            Phase::Answered => self.hang_up_with(
                now,
                call,
                &format!("no ACK within {}s of the 200 OK", ACK_WAIT.as_secs()),
                "failed",
            ),
            Phase::Ivr => {
                self.with_ivr(now, call, |ivr, plan, now| ivr.on_timeout(plan, now));
            }
            Phase::Queued(_) => self.on_queued_timer(now, call),
            Phase::Connected { .. } => self.on_connected_timer(now, call),
            _ => {}
        }
    }

    fn answer(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let alerting = now - c.invited_at;
        let rings = c.standards.ring_cadence.rings_started(alerting);
        if alerting > c.standards.answer_deadline() {
            tracing::warn!(call = %call, rings, "answered past the ring budget");
        }
        c.phase = Phase::Answered;
        // The socket opens before the 200 OK leaves, so the caller's first packets (often
        // sent as soon as it has our answer, before its ACK) find it open; RTP from the
        // address its offer named proves the answer arrived (`on_rtp_arrived`).
        if c.rtp_port != 0 && !c.media_opened {
            c.media_opened = true;
            self.opens.push_back(MediaCommand::Open {
                call,
                local_port: c.rtp_port,
                conversation: c.conversation,
                expect_from: c.media.map(|m| m.remote),
            });
        }
        let sdp = c.local_sdp.clone();
        self.endpoint.answer(now, call, &sdp);
        self.record(now, call, EventKind::Answered { rings });
        self.start_recording(now, call);
        // Media starts with the ACK (see `on_confirmed`), never toward an unconfirmed `c=`.
        self.set_timer(call, Some(now + ACK_WAIT));
    }

    fn start_media(&mut self, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(media) = c.media else { return };
        if c.media_started {
            return;
        }
        c.media_started = true;
        let local_port = c.rtp_port;
        let signalling_host = Some(c.signalling_host);
        let options = self.leg_options(call, LegRole::Caller, &media, signalling_host);
        self.outputs.push_back(Output::Media(MediaCommand::Start {
            call,
            local_port,
            remote: media.remote,
            codec: media.codec,
            payload_type: media.payload_type,
            telephone_event: media.telephone_event,
            options,
        }));
        if !media.sends() {
            // Called on hold (sendonly, inactive or c=0.0.0.0): nothing goes out yet.
            self.outputs
                .push_back(Output::Media(renegotiate_command(call, media)));
        }
    }

    fn on_confirmed(&mut self, now: Instant, call: CallId, answer: Option<String>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.awaiting_ack {
            // The caller's RTP already started the call; the ACK only confirms it.
            c.awaiting_ack = false;
            return self.record(now, call, EventKind::Confirmed);
        }
        if c.phase != Phase::Answered {
            return;
        }
        if c.media.is_none() {
            // Delayed offer: the ACK carries the caller's answer to our offer.
            let session = c.sdp.as_mut();
            let accepted = match (answer.as_deref(), session) {
                (Some(answer), Some(session)) => Some(session.accept_answer(answer)),
                (answer, None) => answer.map(sdp::accept_answer),
                (None, Some(_)) => None,
            };
            match accepted {
                Some(Ok(negotiated)) => c.media = Some(negotiated),
                Some(Err(error)) => {
                    tracing::warn!(call = %call, %error, "unusable SDP answer in ACK");
                    return self.hang_up_with(
                        now,
                        call,
                        "unusable SDP answer in the ACK",
                        "failed",
                    );
                }
                None => {
                    return self.hang_up_with(
                        now,
                        call,
                        "ACK without the SDP answer to our offer",
                        "failed",
                    );
                }
            }
        }
        self.record(now, call, EventKind::Confirmed);
        self.begin_service(now, call);
    }

    /// The caller's RTP came from the address its offer named while we wait for its ACK:
    /// it has our answer (RFC 3261 13.3.1.4), so the call starts now instead of making it
    /// wait for an ACK that may be lost. The ACK is still awaited, until the endpoint's
    /// Timer H (64*T1 = 32 s) ends the call without one (`AckTimeout`), instead of 5 s.
    fn on_rtp_arrived(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        // A delayed-offer call has no agreed media until the ACK brings the answer.
        if c.phase != Phase::Answered || c.media.is_none() {
            return;
        }
        c.awaiting_ack = true;
        self.record(now, call, EventKind::MediaBeforeAck);
        self.begin_service(now, call);
    }

    /// The call is answered and its media agreed: media starts and the IVR (or the feature
    /// code) runs.
    fn begin_service(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.phase = Phase::Ivr;
        let flow = c.entry_flow.clone().unwrap_or_default();
        let language = c.language.clone();
        let feature_code = c.feature_code.clone();
        self.set_timer(call, None);
        self.start_media(call);
        if self.on_consultation_confirmed(now, call) {
            return;
        }
        if let Some((phone, code)) = feature_code {
            return self.apply_feature_code(now, call, &phone, &code);
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.ivr = Some(Ivr::new(&language, &flow));
        }
        self.with_ivr(now, call, |ivr, plan, now| ivr.start(plan, now));
    }

    /// The peer's re-INVITE or UPDATE offer (`None`: a re-INVITE wanting our offer), on a
    /// caller's call or an agent's leg: answered from the call's SDP session, and the media
    /// engine told what changed. An offer we cannot take gets 488 (400 when unreadable) and
    /// the call goes on as it was.
    fn on_reoffer(&mut self, now: Instant, call: CallId, offer: Option<&str>) {
        let session = match self.calls.get_mut(&call) {
            Some(c) => c.sdp.as_mut(),
            None => self.legs.get_mut(&call).and_then(|l| l.sdp.as_mut()),
        };
        let Some(session) = session else {
            return self.endpoint.refuse_reoffer(now, call, 488);
        };
        let Some(offer) = offer else {
            // The answer comes in the ACK (`RemoteSdp`).
            let ours = session.offer(Direction::SendRecv);
            return self.endpoint.answer_reoffer(now, call, &ours);
        };
        match session.answer(offer) {
            Ok(answer) => {
                let negotiated = session.negotiated();
                self.endpoint.answer_reoffer(now, call, &answer);
                if let Some(negotiated) = negotiated {
                    self.renegotiate_media(now, call, negotiated);
                }
            }
            Err(error) => {
                tracing::info!(call = %call, %error, "re-offer refused; the call goes on unchanged");
                let status = match error {
                    SdpError::Malformed(_) => 400,
                    SdpError::NoAudio | SdpError::NoCommonCodec => 488,
                };
                self.endpoint.refuse_reoffer(now, call, status);
            }
        }
    }

    /// The peer's answer to an offer of ours (in an ACK, or the 2xx of our re-INVITE);
    /// `None` when the offer was refused or never answered: what was agreed before stands.
    fn on_remote_answer(&mut self, now: Instant, call: CallId, answer: Option<&str>) {
        let session = match self.calls.get_mut(&call) {
            Some(c) => c.sdp.as_mut(),
            None => self.legs.get_mut(&call).and_then(|l| l.sdp.as_mut()),
        };
        let Some(session) = session else {
            return;
        };
        let Some(answer) = answer else {
            return session.withdraw_offer();
        };
        match session.accept_answer(answer) {
            Ok(negotiated) => self.renegotiate_media(now, call, negotiated),
            Err(error) => {
                tracing::warn!(call = %call, %error, "unusable SDP answer; media unchanged")
            }
        }
    }

    /// Tells the media engine of a caller's call or an agent's leg what was agreed anew, and
    /// records a hold or resume on the caller's timeline.
    fn renegotiate_media(&mut self, now: Instant, call: CallId, negotiated: Negotiated) {
        let (media, started, record_on, by) = match self.calls.get_mut(&call) {
            Some(c) => (&mut c.media, c.media_started, call, Party::Caller),
            None => match self.legs.get_mut(&call) {
                Some(l) => (&mut l.media, l.media_started, l.caller, Party::Agent),
                None => return,
            },
        };
        let agent_leg = by == Party::Agent;
        let previous = media.replace(negotiated);
        if started && previous != Some(negotiated) {
            self.outputs
                .push_back(Output::Media(renegotiate_command(call, negotiated)));
        }
        match previous.map(|p| p.sends()) {
            Some(true) if !negotiated.sends() => {
                self.record(now, record_on, EventKind::Hold { by });
                if agent_leg {
                    self.on_agent_hold(now, call);
                }
            }
            Some(false) if negotiated.sends() => {
                self.record(now, record_on, EventKind::Resume { by });
                if agent_leg {
                    self.on_agent_resume(now, call);
                }
            }
            _ => {}
        }
    }

    fn on_digit(&mut self, now: Instant, call: CallId, digit: char, source: &str) {
        if !self.calls.contains_key(&call) {
            return;
        }
        self.record(
            now,
            call,
            EventKind::Dtmf {
                digit,
                source: source.to_string(),
            },
        );
        match self.calls.get(&call).map(|c| &c.phase) {
            Some(Phase::Ivr) => {
                self.with_ivr(now, call, |ivr, plan, now| ivr.on_digit(plan, now, digit));
            }
            Some(Phase::Queued(wait)) if wait.callback_offered.is_some() => {
                self.on_callback_digit(now, call, digit)
            }
            _ => {}
        }
    }

    fn on_prompt_finished(
        &mut self,
        now: Instant,
        call: CallId,
        prompt: PromptId,
        play: PlayId,
        interrupted: bool,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        // Interruptions are ours (stop, replace) and were recorded when we asked for them;
        // music on a loop never finishes by itself; the end of an earlier play (stopped or
        // replaced, its report late) is not the end of the one playing now.
        if interrupted || c.looping || c.playing != Some(prompt) || c.play != Some(play) {
            return;
        }
        c.playing = None;
        c.play = None;
        let name = self.prompt_name(prompt);
        self.record(
            now,
            call,
            EventKind::PromptFinished {
                name,
                interrupted: false,
            },
        );
        if self.play_next_queued(now, call) {
            return;
        }
        let phase = self.calls.get(&call).map(|c| c.phase.clone());
        match phase {
            Some(Phase::Ivr) => {
                self.with_ivr(now, call, |ivr, plan, now| {
                    ivr.on_prompt_finished(plan, now)
                });
            }
            Some(Phase::Queued(_)) => self.start_music(call),
            Some(Phase::Closing { reason }) => self.hang_up(now, call, &reason),
            Some(Phase::Voicemail {
                recording_since: None,
            }) => self.start_voicemail(now, call),
            Some(Phase::Connected { .. }) => self.on_connected_prompt_finished(now, call),
            Some(Phase::Transferring { .. }) => self.on_transfer_prompts_done(now, call),
            _ => {}
        }
    }

    /// Run one IVR input, then carry out what the IVR asked for.
    fn with_ivr(
        &mut self,
        now: Instant,
        call: CallId,
        input: impl FnOnce(&mut Ivr, &Dialplan, Instant),
    ) {
        let plan = Arc::clone(&self.dialplan);
        let Some(ivr) = self.calls.get_mut(&call).and_then(|c| c.ivr.as_mut()) else {
            return;
        };
        input(ivr, &plan, now);
        let mut actions = Vec::new();
        while let Some(action) = ivr.poll_action() {
            actions.push(action);
        }
        let deadline = ivr.deadline();
        self.set_timer(call, deadline);
        for action in actions {
            self.carry_out(now, call, action);
        }
    }

    fn carry_out(&mut self, now: Instant, call: CallId, action: IvrAction) {
        match action {
            IvrAction::Play { prompt, language } => {
                self.queue_prompt(now, call, &prompt, &language);
            }
            IvrAction::StopPrompt => self.stop_prompts(now, call),
            IvrAction::Event(event) => {
                if let EventKind::Language { language } = &event {
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.language = language.clone();
                    }
                }
                self.record(now, call, event);
            }
            IvrAction::Route { queue } => {
                self.record(
                    now,
                    call,
                    EventKind::Route {
                        target: queue.clone(),
                    },
                );
                self.enter_queue(now, call, &queue);
            }
            IvrAction::Hangup { reason } => self.hang_up(now, call, &reason),
        }
    }

    fn reject(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
        retry_after: Option<u32>,
        reason: &str,
    ) {
        tracing::info!(call = %call, status, reason, "refusing call");
        // Sent once: the caller's own INVITE retransmissions fetch it again if it was lost,
        // and a forged source gets one datagram, not eleven.
        self.endpoint.reject_once(now, call, status, retry_after);
        self.record(
            now,
            call,
            EventKind::Rejected {
                status,
                reason: reason.to_string(),
            },
        );
        self.finish(now, call, "rejected");
        self.forget(now, call);
    }

    fn hang_up(&mut self, now: Instant, call: CallId, reason: &str) {
        self.hang_up_with(now, call, reason, "completed");
    }

    fn hang_up_with(&mut self, now: Instant, call: CallId, reason: &str, outcome: &'static str) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase == Phase::Leaving {
            return;
        }
        self.record(
            now,
            call,
            EventKind::Hangup {
                by: Party::Switch,
                reason: reason.to_string(),
            },
        );
        self.caller_left_connected(now, call);
        self.leave_queue(now, call, "caller_left");
        self.end_call_quietly(now, call, outcome);
    }

    /// BYE the caller and close the record, the reason already written.
    fn end_call_quietly(&mut self, now: Instant, call: CallId, outcome: &'static str) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase == Phase::Leaving {
            return;
        }
        c.phase = Phase::Leaving;
        self.endpoint.hangup(now, call);
        self.finish(now, call, outcome);
        self.end_media(call);
        self.set_timer(call, None);
    }

    fn end_media(&mut self, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        // Opened at the answer but never started (no ACK, CANCEL): the socket closes too.
        if c.media_started || c.media_opened {
            c.media_started = false;
            c.media_opened = false;
            self.outputs
                .push_back(Output::Media(MediaCommand::End { call }));
        }
        if c.rtp_port != 0 {
            self.rtp_ports.release(c.rtp_port);
            c.rtp_port = 0;
        }
    }

    fn finish(&mut self, now: Instant, call: CallId, outcome: &'static str) {
        let ended_at = self.wall(now);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.finished {
            return;
        }
        c.finished = true;
        self.outputs
            .push_back(Output::Record(RecordCommand::Finish {
                call_id: c.record_id.clone(),
                ended_at,
                outcome,
            }));
    }

    fn forget(&mut self, now: Instant, call: CallId) {
        self.on_consultation_call_gone(now, call);
        self.caller_left_connected(now, call);
        self.leave_queue(now, call, "caller_left");
        self.end_media(call);
        self.set_timer(call, None);
        self.calls.remove(&call);
    }

    fn set_timer(&mut self, call: CallId, at: Option<Instant>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let Some(old) = c.timer.take() {
            self.timers.remove(&(old, call));
        }
        if let Some(at) = at {
            c.timer = Some(at);
            self.timers.insert((at, call));
        }
    }

    /// A fresh id for the next prompt started on any leg.
    fn next_play(&mut self) -> PlayId {
        self.last_play += 1;
        PlayId(self.last_play)
    }

    /// The options a leg's media starts with: its record key, RTCP multiplexing as its SDP
    /// agreed, the host its SIP comes from, and the media settings — the
    /// dialplan's media timeout, and in-band DTMF as the caller's trunk says (agents' phones
    /// send telephone-events).
    fn leg_options(
        &self,
        caller: CallId,
        role: LegRole,
        media: &Negotiated,
        signalling_host: Option<std::net::IpAddr>,
    ) -> LegOptions {
        let c = self.calls.get(&caller);
        let call_id = c.map(|c| c.record_id.clone()).unwrap_or_default();
        LegOptions {
            conversation: c.map_or(caller, |c| c.conversation),
            record: MediaRecordKey { call_id, role },
            media_timeout: self.dialplan.media.timeout,
            inband_dtmf: role == LegRole::Caller && c.is_some_and(|c| c.inband_dtmf),
            rtcp_mux: media.rtcp_mux,
            hold_back_dtmf: role == LegRole::Agent,
            signalling_host,
        }
    }

    fn record(&mut self, now: Instant, call: CallId, kind: EventKind) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.context.observe(&kind);
        let offset_ms = millis(now.saturating_duration_since(c.invited_at));
        self.outputs.push_back(Output::Record(RecordCommand::Event {
            call_id: c.record_id.clone(),
            event: TimelineEvent { offset_ms, kind },
        }));
    }
}

fn renegotiate_command(call: CallId, negotiated: Negotiated) -> MediaCommand {
    MediaCommand::Renegotiate {
        call,
        remote: negotiated.remote,
        codec: negotiated.codec,
        payload_type: negotiated.payload_type,
        telephone_event: negotiated.telephone_event,
        send: negotiated.sends(),
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}
#[cfg(test)]
mod tests;

/// What arrived with an INVITE, for `on_incoming`.
struct Incoming {
    /// Where the INVITE came from (which trunk).
    source: SocketAddr,
    sip_call_id: String,
    from: String,
    to: String,
    request_user: String,
    offer: Option<String>,
    /// The authenticated desk phone that called, if it was one.
    phone: Option<String>,
}

impl Switch {
    /// The media conversation of `caller`'s legs (its own id unless it joined another's).
    fn conversation_of(&self, caller: CallId) -> CallId {
        self.calls.get(&caller).map_or(caller, |c| c.conversation)
    }
}

/// The user part of a SIP URI (`sip:1000@host` → `1000`), or the whole text.
fn user_of(uri: &str) -> String {
    let rest = uri
        .trim_start_matches("sips:")
        .trim_start_matches("sip:")
        .trim_start_matches("tel:");
    rest.split(['@', ';', '>'])
        .next()
        .unwrap_or(rest)
        .to_string()
}
