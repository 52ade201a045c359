//! Queues and agent legs: what happens to a caller between "routed to a queue" and "talking
//! to an agent" — the announcements and music while waiting, offering the call to agents'
//! phones within three rings, bridging, the maximum-wait exit — and the desk phones'
//! registrations and feature codes that make agents available.
//!
//! A second `impl Switch` beside `mod.rs`, which owns the callers' calls and the IVR; the
//! agents and queue order themselves live in [`super::acd`].

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::acd::AgentState;
use super::in_call_keys::KeySequence;
use super::timeline::{EventKind, Party};
use super::{MediaCommand, Output, Phase, RecordCommand, Switch};
use crate::config::{Queue, QueueExit};
use crate::media::prompt::PromptId;
use crate::media::{LegRole, PlayId};
use crate::sip::sdp::{self, Negotiated};
use crate::sip::{Binding, CallId};
use crate::store::{CallbackRequest, StoredBinding};

/// A caller offered a callback has at least this long to press 1 before the switch says
/// goodbye, even when the queue's notice before its maximum wait is shorter.
const CALLBACK_ANSWER_WINDOW: Duration = Duration::from_secs(10);
/// The longest voicemail kept.
const VOICEMAIL_MAX: Duration = Duration::from_secs(120);
/// The rest after a refusal when the caller's queue is gone (a caller who left meanwhile).
const DEFAULT_RETRY_AFTER_REFUSAL: Duration = Duration::from_secs(5);

/// A caller waiting in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QueueWait {
    pub queue: String,
    /// When the caller joined this queue (its place in line, and the queue's own waits).
    pub entered: Instant,
    /// When the caller's wait began: the first queue since an agent last had them. An
    /// overflow keeps it, so the maximum wait (standard S5) bounds the whole wait, not each
    /// queue's share of it.
    pub waiting_since: Instant,
    pub priority: u32,
    /// Agents already offered this caller (and who did not take it) since the last round.
    pub tried: BTreeSet<String>,
    /// Agent legs ringing for this caller now (several with ring-all).
    pub offers: Vec<CallId>,
    pub announce_at: Instant,
    /// When the queue's exit is taken; after a callback offer, when the offer ends.
    pub exit_at: Instant,
    /// The caller was offered a callback, and why, and is still in line: 1 books it.
    pub callback_offered: Option<ExitCause>,
    /// Nobody with the queue's skills is taking calls: the exit is taken at this time unless
    /// someone is again by then (the queue's `unstaffed_wait` after the switch noticed).
    pub unstaffed_exit_at: Option<Instant>,
}

impl QueueWait {
    /// When the caller's queue timer is next due: an announcement, the exit, or the exit
    /// taken early because nobody is taking the queue's calls.
    pub(super) fn next_due(&self) -> Instant {
        let due = self.announce_at.min(self.exit_at);
        match (self.callback_offered, self.unstaffed_exit_at) {
            (None, Some(unstaffed)) => due.min(unstaffed),
            _ => due,
        }
    }
}

/// Why the switch moves a caller on before an agent takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ExitCause {
    /// Standard S5's maximum wait (less the queue's notice) came.
    MaxWait,
    /// Nobody with the queue's skills took calls for the queue's `unstaffed_wait`.
    Unstaffed,
}

impl ExitCause {
    /// The `queue_exit` reason when a callback offer of this cause passes untaken.
    fn offer_passed(self) -> &'static str {
        match self {
            ExitCause::MaxWait => "max_wait",
            ExitCause::Unstaffed => "unstaffed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LegState {
    /// INVITE sent; the phone may ring until `ring_deadline`.
    Ringing,
    /// We gave up on it (CANCEL sent); waiting for the final response.
    Cancelling,
    /// Answered; the whisper prompt plays to the agent before connecting — and then, for a
    /// transferred caller still hearing the explanation, ringback until it ends
    /// (`AgentLeg::awaiting_caller`).
    Whisper,
    Connected,
    /// BYE sent; waiting for the endpoint to forget it.
    Leaving,
}

/// The second leg of a call: the switch's INVITE to an agent's phone.
#[derive(Debug)]
pub(super) struct AgentLeg {
    pub caller: CallId,
    pub agent: String,
    pub invited_at: Instant,
    pub rtp_port: u16,
    pub media: Option<Negotiated>,
    pub media_started: bool,
    /// `MediaCommand::Open` went out before the INVITE: the socket needs an `End` to close,
    /// even when the phone never answers.
    pub media_opened: bool,
    pub state: LegState,
    pub timer: Option<Instant>,
    /// What the agent still hears before being connected.
    pub whisper: VecDeque<PromptId>,
    /// The whisper prompt playing now: only its `PromptFinished` moves the whisper on.
    pub play: Option<PlayId>,
    /// The whisper is over and the agent hears ringback: the caller is still hearing the
    /// transfer explanation, and is connected when it ends.
    pub awaiting_caller: bool,
    /// The leg's SDP session (our offer, the phone's answer, re-offers).
    pub sdp: Option<sdp::SdpSession>,
    /// Why the switch called this phone.
    pub purpose: LegPurpose,
    /// In-call keys the agent is pressing.
    pub keys: KeySequence,
    /// Where the phone's SIP comes from (its binding's address): besides its SDP's host, the
    /// only host its RTP may be latched onto.
    pub signalling_host: std::net::IpAddr,
}

/// Why the switch called an agent's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LegPurpose {
    /// A queued caller offered to the agent.
    QueueOffer,
    /// The target of a transfer (blind, or an attended one's colleague).
    TransferTarget,
    /// The transferring agent called back when the target did not answer.
    Recall,
    /// A colleague the agent consults before an attended transfer.
    Consultation,
}

impl Switch {
    fn queue_settings(&self, queue: &str) -> Option<Queue> {
        self.dialplan.queues.get(queue).cloned()
    }

    /// The wait a caller at `position` in `queue` is told to expect: none while no agent who
    /// could answer the queue is taking calls (all logged out, on a break or unregistered),
    /// since any figure would be a promise nobody is there to keep.
    fn promised_wait(&self, queue_name: &str, queue: &Queue, position: u32) -> Option<Duration> {
        self.acd
            .answering(&queue.skills)
            .then(|| self.acd.expected_wait(queue_name, position))
    }

    /// `call` takes its place in `queue_name` by its tier's priority, recorded with the
    /// expected wait; its phase becomes `Queued`, leaving the queue the way it says when it
    /// has waited `max_wait` less the notice since `waiting_since`. Returns its position and
    /// expected wait (none when nobody could answer).
    pub(super) fn put_in_line(
        &mut self,
        now: Instant,
        call: CallId,
        queue_name: &str,
        queue: &Queue,
        waiting_since: Instant,
    ) -> (u32, Option<Duration>) {
        let number = self
            .calls
            .get(&call)
            .map(|c| c.caller_number.clone())
            .unwrap_or_default();
        let (priority, _tier) = self.dialplan.priority_of(&number);
        let position = self.acd.enqueue(queue_name, call, priority, now);
        let expected = self.promised_wait(queue_name, queue, position);
        self.record(
            now,
            call,
            EventKind::QueueEntered {
                queue: queue_name.to_string(),
                position,
                expected_wait_s: expected.map(|e| e.as_secs() as u32),
                priority,
            },
        );
        // The dialplan gives every overflow queue a longer maximum wait than the queue before
        // it, so this is in the future; never in the past, whatever a caller's history.
        let exit_at = (waiting_since + queue.max_wait.saturating_sub(queue.exit_notice)).max(now);
        if let Some(c) = self.calls.get_mut(&call) {
            c.phase = Phase::Queued(Box::new(QueueWait {
                queue: queue_name.to_string(),
                entered: now,
                waiting_since,
                priority,
                tried: BTreeSet::new(),
                offers: Vec::new(),
                announce_at: now + queue.announce_every,
                exit_at,
                callback_offered: None,
                // Noted by the dispatch that follows every entry.
                unstaffed_exit_at: None,
            }));
        }
        (position, expected)
    }

    /// The IVR routed `call` to `queue`: its wait begins.
    pub(super) fn enter_queue(&mut self, now: Instant, call: CallId, queue_name: &str) {
        self.join_queue(now, call, queue_name, now);
    }

    /// `call` joins `queue_name`, having waited since `waiting_since` (now, or its first
    /// queue's entry when it overflows).
    fn join_queue(&mut self, now: Instant, call: CallId, queue_name: &str, waiting_since: Instant) {
        let Some(queue) = self.queue_settings(queue_name) else {
            self.hang_up(now, call, &format!("no queue {queue_name}"));
            return;
        };
        let (position, expected) = self.put_in_line(now, call, queue_name, &queue, waiting_since);
        self.stop_prompts(now, call);
        let language = self.language_of(call);
        self.queue_prompt(now, call, &queue.prompt, &language);
        self.announce_position(now, call, position, expected);
        self.arm_queue_timer(call);
        self.dispatch(now);
    }

    /// "The number of callers ahead of you is N; the expected wait is about M minutes" (or
    /// "you are next in line; ...") as a prompt sequence, followed by music once it ends. No
    /// expected wait is said when there is none to promise.
    fn announce_position(
        &mut self,
        now: Instant,
        call: CallId,
        position: u32,
        expected: Option<Duration>,
    ) {
        let language = self.language_of(call);
        let mut names: Vec<String> = Vec::new();
        if position <= 1 {
            names.push("queue_first".into());
        } else {
            // The prompt counts the callers ahead, not the caller's own place.
            names.push("queue_position".into());
            names.extend(digit_prompts(position - 1));
        }
        if let Some(expected) = expected {
            names.push("queue_expected_wait".into());
            let minutes = expected.as_secs().div_ceil(60);
            if expected < Duration::from_secs(60) {
                names.push("less_than_a_minute".into());
            } else {
                names.extend(digit_prompts(minutes as u32));
                names.push("minutes".into());
            }
        }
        for name in names {
            self.queue_prompt(now, call, &name, &language);
        }
    }

    pub(super) fn arm_queue_timer(&mut self, call: CallId) {
        let at = match self.calls.get(&call).map(|c| &c.phase) {
            Some(Phase::Queued(wait)) => Some(wait.next_due()),
            _ => None,
        };
        self.set_timer(call, at);
    }

    /// Notes which queues with callers nobody is taking calls for: every caller waiting in
    /// one gets an early exit `unstaffed_wait` from when the switch first saw them there
    /// unserved (kept once set); when someone is back, they lose it. A queue that is served
    /// and was served is passed over without looking at its callers.
    fn notice_unstaffed_queues(&mut self, now: Instant) {
        for queue_name in self.acd.queues_with_callers() {
            let Some(queue) = self.dialplan.queues.get(&queue_name) else {
                continue;
            };
            let unstaffed = !self.acd.answering(&queue.skills);
            if !unstaffed && !self.unstaffed_queues.contains(&queue_name) {
                continue;
            }
            let exit_at = now + queue.unstaffed_wait;
            if unstaffed {
                self.unstaffed_queues.insert(queue_name.clone());
            } else {
                self.unstaffed_queues.remove(&queue_name);
            }
            for caller in self.acd.waiting(&queue_name) {
                let Some(Phase::Queued(wait)) = self.calls.get_mut(&caller).map(|c| &mut c.phase)
                else {
                    continue;
                };
                let changed = match (unstaffed, wait.unstaffed_exit_at) {
                    (true, None) => {
                        wait.unstaffed_exit_at = Some(exit_at);
                        true
                    }
                    (false, Some(_)) => {
                        wait.unstaffed_exit_at = None;
                        true
                    }
                    _ => false,
                };
                if changed {
                    self.arm_queue_timer(caller);
                }
            }
        }
    }

    /// A queued caller's announcement or exit time came.
    pub(super) fn on_queued_timer(&mut self, now: Instant, call: CallId) {
        let Some(Phase::Queued(wait)) = self.calls.get(&call).map(|c| c.phase.clone()) else {
            return;
        };
        if wait.exit_at <= now {
            match wait.callback_offered {
                Some(cause) => self.callback_offer_ended(now, call, &wait, cause),
                None => self.queue_exit(now, call, &wait, ExitCause::MaxWait),
            }
            return;
        }
        if wait.callback_offered.is_none() && wait.unstaffed_exit_at.is_some_and(|at| at <= now) {
            let queue = self.queue_settings(&wait.queue);
            let nobody = queue
                .as_ref()
                .is_some_and(|q| !self.acd.answering(&q.skills));
            if nobody {
                let unstaffed_s = queue.map_or(0, |q| q.unstaffed_wait.as_secs() as u32);
                self.record(
                    now,
                    call,
                    EventKind::QueueUnstaffed {
                        queue: wait.queue.clone(),
                        unstaffed_s,
                    },
                );
                self.queue_exit(now, call, &wait, ExitCause::Unstaffed);
                return;
            }
            // Someone took up the queue's calls without a dispatch noticing (a consultation
            // call to an agent on a break): the caller waits on.
            if let Some(Phase::Queued(w)) = self.calls.get_mut(&call).map(|c| &mut c.phase) {
                w.unstaffed_exit_at = None;
            }
        }
        if wait.announce_at <= now {
            let position = self.acd.position(&wait.queue, call).unwrap_or(1);
            let expected = self
                .queue_settings(&wait.queue)
                .and_then(|queue| self.promised_wait(&wait.queue, &queue, position));
            self.record(
                now,
                call,
                EventKind::Announcement {
                    position,
                    expected_wait_s: expected.map(|e| e.as_secs() as u32),
                },
            );
            let every = self
                .queue_settings(&wait.queue)
                .map(|q| q.announce_every)
                .unwrap_or(Duration::from_secs(30));
            if let Some(Phase::Queued(w)) = self.calls.get_mut(&call).map(|c| &mut c.phase) {
                w.announce_at = now + every;
            }
            self.stop_prompts(now, call);
            self.announce_position(now, call, position, expected);
        }
        self.arm_queue_timer(call);
    }

    /// Music while waiting, once announcements end.
    pub(super) fn start_music(&mut self, call: CallId) {
        let Some(Phase::Queued(wait)) = self.calls.get(&call).map(|c| c.phase.clone()) else {
            return;
        };
        let moh = self
            .queue_settings(&wait.queue)
            .map(|q| q.moh)
            .unwrap_or_else(|| "moh".into());
        let language = self.language_of(call);
        if let Some(id) = self.find_prompt(call, &moh, &language) {
            let play = self.next_play();
            if let Some(c) = self.calls.get_mut(&call) {
                c.playing = Some(id);
                c.play = Some(play);
                c.looping = true;
            }
            self.outputs
                .push_back(Output::Media(MediaCommand::PlayLoop {
                    call,
                    prompt: id,
                    play,
                }));
        }
    }

    /// Before the maximum wait is reached (or once nobody has taken the queue's calls for its
    /// `unstaffed_wait`) the caller leaves the queue the way it says, or — with a callback
    /// exit — is offered a callback while keeping their place in line.
    fn queue_exit(&mut self, now: Instant, call: CallId, wait: &QueueWait, cause: ExitCause) {
        let queue = self.queue_settings(&wait.queue);
        let exit = queue
            .as_ref()
            .map(|q| q.exit.clone())
            .unwrap_or(QueueExit::Callback);
        let language = self.language_of(call);
        match exit {
            QueueExit::Callback => {
                // The caller stays in line with music after the offer: an agent who frees up
                // still takes them, and 1 books the callback until the maximum wait.
                self.record(
                    now,
                    call,
                    EventKind::CallbackOffered {
                        queue: wait.queue.clone(),
                    },
                );
                let (max_wait, notice) = queue.map_or((Duration::ZERO, Duration::ZERO), |q| {
                    (q.max_wait, q.exit_notice)
                });
                let max_wait_at = wait.waiting_since + max_wait;
                // With nobody to come, the offer stands for the notice, not the whole wait.
                let ends = match cause {
                    ExitCause::MaxWait => max_wait_at,
                    ExitCause::Unstaffed => max_wait_at.min(now + notice),
                }
                .max(now + CALLBACK_ANSWER_WINDOW);
                if let Some(Phase::Queued(w)) = self.calls.get_mut(&call).map(|c| &mut c.phase) {
                    w.callback_offered = Some(cause);
                    w.exit_at = ends;
                    // No more announcements: the offer is the last thing said.
                    w.announce_at = ends;
                }
                self.stop_prompts(now, call);
                self.queue_prompt(now, call, "callback_offer", &language);
                self.arm_queue_timer(call);
            }
            QueueExit::Overflow(overflow) => {
                self.exit_queue(now, call, wait, format!("overflow {overflow}"));
                self.join_queue(now, call, &overflow, wait.waiting_since);
            }
            QueueExit::Voicemail => {
                self.exit_queue(now, call, wait, "voicemail".into());
                self.queue_prompt(now, call, "voicemail_offer", &language);
                self.queue_prompt(now, call, "beep", &language);
                if let Some(c) = self.calls.get_mut(&call) {
                    c.phase = Phase::Voicemail {
                        recording_since: None,
                    };
                }
                self.set_timer(call, None);
            }
        }
    }

    /// Takes `call` out of `wait`'s line (cancelling its offers) and records why.
    fn exit_queue(&mut self, now: Instant, call: CallId, wait: &QueueWait, reason: String) {
        self.leave_queue(now, call, "caller_left");
        self.stop_prompts(now, call);
        self.record(
            now,
            call,
            EventKind::QueueExit {
                queue: wait.queue.clone(),
                reason,
            },
        );
    }

    /// A caller offered a callback pressed `digit`: 1 books it, keeping their place, and
    /// ends the call; any other key leaves them waiting.
    pub(super) fn on_callback_digit(&mut self, now: Instant, call: CallId, digit: char) {
        let Some(Phase::Queued(wait)) = self.calls.get(&call).map(|c| c.phase.clone()) else {
            return;
        };
        if digit != '1' {
            return;
        }
        let position = self.acd.position(&wait.queue, call).unwrap_or(1);
        self.exit_queue(now, call, &wait, "callback_offer".into());
        let (number, record_id) = self
            .calls
            .get(&call)
            .map(|c| (c.caller_number.clone(), c.record_id.clone()))
            .unwrap_or_default();
        self.record(
            now,
            call,
            EventKind::CallbackRequested {
                number: number.clone(),
                queue: wait.queue.clone(),
                position,
            },
        );
        self.outputs
            .push_back(Output::Record(RecordCommand::Callback(CallbackRequest {
                call_id: record_id,
                number,
                queue: wait.queue.clone(),
                position,
                requested_at: self.wall(now),
            })));
        let language = self.language_of(call);
        self.queue_prompt(now, call, "callback_confirmed", &language);
        self.close_with(now, call, "callback requested", "goodbye");
    }

    /// The maximum wait came after a callback offer the caller did not take: standard S5
    /// lets nobody wait longer, so the switch says goodbye. After an offer made because
    /// nobody was taking the queue's calls, goodbye comes at the end of the notice.
    fn callback_offer_ended(
        &mut self,
        now: Instant,
        call: CallId,
        wait: &QueueWait,
        cause: ExitCause,
    ) {
        self.exit_queue(now, call, wait, cause.offer_passed().into());
        let reason = match cause {
            ExitCause::MaxWait => "maximum wait reached",
            ExitCause::Unstaffed => "nobody taking calls",
        };
        self.close_with(now, call, reason, "goodbye");
    }

    /// Play `prompt` (after whatever plays now), then hang up.
    pub(super) fn close_with(&mut self, now: Instant, call: CallId, reason: &str, prompt: &str) {
        let language = self.language_of(call);
        if let Some(c) = self.calls.get_mut(&call) {
            c.phase = Phase::Closing {
                reason: reason.to_string(),
            };
        }
        self.set_timer(call, None);
        if !self.queue_prompt(now, call, prompt, &language)
            && self.calls.get(&call).is_some_and(|c| c.playing.is_none())
        {
            self.hang_up(now, call, reason);
        }
    }

    /// Voicemail: the offer and beep ended, so start recording.
    pub(super) fn start_voicemail(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.phase = Phase::Voicemail {
            recording_since: Some(now),
        };
        let path = self
            .settings
            .voicemail_dir
            .join(format!("{}.wav", c.record_id));
        c.voicemail = Some(path.clone());
        self.outputs
            .push_back(Output::Media(MediaCommand::RecordCaller {
                call,
                path,
                max: VOICEMAIL_MAX,
            }));
    }

    /// The recording reached its maximum: keep it and say goodbye.
    pub(super) fn on_recording_finished(&mut self, now: Instant, call: CallId, duration_ms: u64) {
        if self.keep_voicemail(now, call, Some(duration_ms)) {
            self.close_with(now, call, "voicemail left", "goodbye");
        }
    }

    /// Write down the voicemail of a caller who was recording (once: the caller's hang-up
    /// usually ends it, before the media engine's own report arrives). Returns whether there
    /// was one.
    pub(super) fn keep_voicemail(
        &mut self,
        now: Instant,
        call: CallId,
        duration_ms: Option<u64>,
    ) -> bool {
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        let Phase::Voicemail {
            recording_since: Some(since),
        } = c.phase
        else {
            return false;
        };
        c.phase = Phase::Closing {
            reason: "voicemail left".into(),
        };
        let file = c
            .voicemail
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let duration_ms = duration_ms.unwrap_or_else(|| (now - since).as_millis() as u64);
        self.record(now, call, EventKind::Voicemail { file, duration_ms });
        true
    }

    /// The caller stops waiting (connected, left, or moved on): out of line, offers cancelled.
    pub(super) fn leave_queue(&mut self, now: Instant, call: CallId, offer_outcome: &str) {
        let Some(Phase::Queued(wait)) = self.calls.get(&call).map(|c| c.phase.clone()) else {
            return;
        };
        self.acd.remove(&wait.queue, call);
        for leg in wait.offers.clone() {
            self.cancel_offer(now, leg, offer_outcome);
        }
        if let Some(Phase::Queued(w)) = self.calls.get_mut(&call).map(|c| &mut c.phase) {
            w.offers.clear();
        }
    }

    /// Offer waiting callers to free agents, first in line first (after noting which queues
    /// nobody is taking calls for: every change of an agent's state ends here).
    pub(super) fn dispatch(&mut self, now: Instant) {
        self.notice_unstaffed_queues(now);
        for queue_name in self.acd.queues_with_callers() {
            let Some(queue) = self.queue_settings(&queue_name) else {
                continue;
            };
            for caller in self.acd.waiting(&queue_name) {
                let Some(Phase::Queued(wait)) = self.calls.get(&caller).map(|c| c.phase.clone())
                else {
                    continue;
                };
                if !wait.offers.is_empty() {
                    continue;
                }
                let mut agents =
                    self.acd
                        .pick(&queue_name, &queue.skills, queue.strategy, &wait.tried);
                if agents.is_empty() && !wait.tried.is_empty() {
                    // Everyone was tried once: start a new round.
                    if let Some(Phase::Queued(w)) =
                        self.calls.get_mut(&caller).map(|c| &mut c.phase)
                    {
                        w.tried.clear();
                    }
                    agents =
                        self.acd
                            .pick(&queue_name, &queue.skills, queue.strategy, &BTreeSet::new());
                }
                if agents.is_empty() {
                    // Nobody free for the head of the line: those behind wait too.
                    break;
                }
                for agent in agents {
                    self.offer(now, caller, &agent);
                }
            }
        }
    }

    fn offer(&mut self, now: Instant, caller: CallId, agent_id: &str) {
        let Some(agent) = self.acd.agent(agent_id) else {
            return;
        };
        let spec = agent.spec.clone();
        let Some(binding) = self.endpoint.bindings(&spec.user).into_iter().next() else {
            return;
        };
        let Some(port) = self.rtp_ports.allocate() else {
            tracing::warn!(agent = agent_id, "out of RTP ports: cannot offer the call");
            return;
        };
        let (number, display) = self
            .calls
            .get(&caller)
            .map(|c| (c.caller_number.clone(), c.caller_number.clone()))
            .unwrap_or_default();
        let caller_codec = self
            .calls
            .get(&caller)
            .and_then(|c| c.media)
            .map(|m| m.codec)
            .unwrap_or(crate::media::Codec::Pcmu);
        let mut session = sdp::SdpSession::new(
            SocketAddr::new(self.settings.media_ip, port),
            u64::from(port),
        );
        let offer_sdp = session.offer_preferring(caller_codec, sdp::Direction::SendRecv);
        let leg = self
            .endpoint
            .invite(now, &binding, &number, &display, &offer_sdp);
        // The INVITE is only queued: the socket opens before it leaves (`poll_output`), so
        // the phone's first packets after its 200 OK find it open.
        self.opens.push_back(MediaCommand::Open {
            call: leg,
            local_port: port,
            conversation: self.conversation_of(caller),
            expect_from: None,
        });
        let deadline = now + self.dialplan.standards.answer_deadline();
        self.legs.insert(
            leg,
            AgentLeg {
                caller,
                agent: agent_id.to_string(),
                invited_at: now,
                rtp_port: port,
                media: None,
                media_started: false,
                media_opened: true,
                state: LegState::Ringing,
                timer: None,
                whisper: VecDeque::new(),
                play: None,
                awaiting_caller: false,
                sdp: Some(session),
                purpose: LegPurpose::QueueOffer,
                keys: KeySequence::default(),
                signalling_host: binding.address.ip(),
            },
        );
        self.set_leg_timer(leg, Some(deadline));
        self.acd
            .set_state(agent_id, AgentState::Ringing { caller }, now);
        if let Some(Phase::Queued(w)) = self.calls.get_mut(&caller).map(|c| &mut c.phase) {
            w.offers.push(leg);
            w.tried.insert(agent_id.to_string());
        }
        self.record(
            now,
            caller,
            EventKind::Offered {
                agent: agent_id.to_string(),
                extension: spec.extension,
            },
        );
    }

    pub(super) fn set_leg_timer(&mut self, leg: CallId, at: Option<Instant>) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        if let Some(old) = l.timer.take() {
            self.timers.remove(&(old, leg));
        }
        if let Some(at) = at {
            l.timer = Some(at);
            self.timers.insert((at, leg));
        }
    }

    /// Three rings passed on an agent's phone: give up on it.
    pub(super) fn on_leg_timer(&mut self, now: Instant, leg: CallId) {
        if self.on_consultation_leg_timer(now, leg) || self.on_transfer_leg_timer(now, leg) {
            return;
        }
        let Some(l) = self.legs.get(&leg) else {
            return;
        };
        if l.state != LegState::Ringing {
            // Answered: the timer waits for the agent's next in-call key.
            return self.on_agent_keys_timeout(now, leg);
        }
        let (agent, caller) = (l.agent.clone(), l.caller);
        self.cancel_offer(now, leg, "no_answer");
        // An agent who lets a call ring out is not at the phone.
        self.acd.set_state(
            &agent,
            AgentState::NotReady {
                reason: "missed".into(),
            },
            now,
        );
        self.transfer_offer_rang_out(now, caller);
        self.dispatch(now);
    }

    /// Stop ringing an agent's phone and write down why.
    fn cancel_offer(&mut self, now: Instant, leg: CallId, outcome: &str) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        if l.state != LegState::Ringing {
            return;
        }
        l.state = LegState::Cancelling;
        self.set_leg_timer(leg, None);
        self.endpoint.cancel(now, leg);
        self.offer_ended(now, leg, outcome);
    }

    /// Write down how an offer ended, take it off the caller's list, free the agent.
    fn offer_ended(&mut self, now: Instant, leg: CallId, outcome: &str) {
        let Some(l) = self.legs.get(&leg) else {
            return;
        };
        let (caller, agent, invited_at) = (l.caller, l.agent.clone(), l.invited_at);
        let rings = self
            .dialplan
            .standards
            .ring_cadence
            .rings_started(now - invited_at);
        self.record(
            now,
            caller,
            EventKind::OfferEnded {
                agent: agent.clone(),
                rings,
                outcome: outcome.to_string(),
            },
        );
        if let Some(Phase::Queued(w)) = self.calls.get_mut(&caller).map(|c| &mut c.phase) {
            w.offers.retain(|o| *o != leg);
        }
        if matches!(self.acd.agent(&agent).map(|a| &a.state), Some(AgentState::Ringing { caller: c }) if *c == caller)
        {
            self.acd.set_state(&agent, AgentState::Ready, now);
        }
    }

    /// The agent's phone refused an offer for `caller`: the agent rests for the caller's
    /// queue's `retry_after_refusal`, or is paused after `pause_after_refusals` in a row.
    fn rest_after_refusal(&mut self, now: Instant, caller: CallId, agent: &str) {
        let queue = match self.calls.get(&caller).map(|c| &c.phase) {
            Some(Phase::Queued(wait)) => self.queue_settings(&wait.queue),
            _ => None,
        };
        let (rest, pause_after) = queue
            .map(|q| (q.retry_after_refusal, q.pause_after_refusals))
            .unwrap_or((DEFAULT_RETRY_AFTER_REFUSAL, 0));
        if self.acd.refused(agent, now, rest, pause_after) {
            tracing::warn!(
                agent,
                refusals = pause_after,
                "agent paused: phone refused offers in a row"
            );
        }
    }

    /// SIP events for agent legs.
    pub(super) fn on_leg_answered(&mut self, now: Instant, leg: CallId, answer: Option<String>) {
        if self.on_transfer_leg_answered(now, leg, answer.as_deref()) {
            return;
        }
        let Some(l) = self.legs.get(&leg) else {
            return;
        };
        let (caller, agent, invited_at, state) = (l.caller, l.agent.clone(), l.invited_at, l.state);
        let still_waiting = matches!(
            self.calls.get(&caller).map(|c| &c.phase),
            Some(Phase::Queued(w)) if w.offers.contains(&leg)
        );
        if state != LegState::Ringing || !still_waiting {
            // Answered after we gave up (a 200 crossing our CANCEL): the endpoint ends it.
            self.end_leg(now, leg);
            return;
        }
        let session = self.legs.get_mut(&leg).and_then(|l| l.sdp.as_mut());
        let negotiated = match (answer.as_deref(), session) {
            (Some(answer), Some(session)) => Some(session.accept_answer(answer)),
            (answer, _) => answer.map(sdp::accept_answer),
        };
        let Some(Ok(media)) = negotiated else {
            tracing::warn!(leg = %leg, "agent's answer has no usable SDP");
            self.end_leg(now, leg);
            self.acd.set_state(&agent, AgentState::Ready, now);
            if let Some(Phase::Queued(w)) = self.calls.get_mut(&caller).map(|c| &mut c.phase) {
                w.offers.retain(|o| *o != leg);
            }
            // A phone that answers with nothing usable refuses as surely as a 486 does.
            self.rest_after_refusal(now, caller, &agent);
            self.dispatch(now);
            return;
        };
        let rings = self
            .dialplan
            .standards
            .ring_cadence
            .rings_started(now - invited_at);
        let Some(Phase::Queued(wait)) = self.calls.get(&caller).map(|c| c.phase.clone()) else {
            return;
        };
        // The other phones of a ring-all offer stop ringing.
        for other in wait.offers.iter().filter(|o| **o != leg) {
            self.cancel_offer(now, *other, "answered_elsewhere");
        }
        self.acd.remove(&wait.queue, caller);
        // The queue's expected wait learns from its own share; the caller waited it all.
        self.acd.record_wait(&wait.queue, now - wait.entered);
        self.record(
            now,
            caller,
            EventKind::AgentAnswered {
                agent: agent.clone(),
                rings,
                wait_ms: (now - wait.waiting_since).as_millis() as u64,
            },
        );
        self.acd
            .set_state(&agent, AgentState::Talking { caller }, now);
        let port = self.legs.get(&leg).map(|l| l.rtp_port).unwrap_or(0);
        if let Some(l) = self.legs.get_mut(&leg) {
            l.media = Some(media);
            l.media_started = true;
        }
        self.set_leg_timer(leg, None);
        let signalling_host = self.legs.get(&leg).map(|l| l.signalling_host);
        let options = self.leg_options(caller, LegRole::Agent, &media, signalling_host);
        self.outputs.push_back(Output::Media(MediaCommand::Start {
            call: leg,
            local_port: port,
            remote: media.remote,
            codec: media.codec,
            payload_type: media.payload_type,
            telephone_event: media.telephone_event,
            options,
        }));
        if let Some(c) = self.calls.get_mut(&caller) {
            c.phase = Phase::Connected {
                leg,
                agent: agent.clone(),
                queue: wait.queue.clone(),
            };
        }
        self.set_timer(caller, None);
        // The whisper names the queue, then the caller's tier when it has a prompt of its
        // own, e.g. "sales call" + "VIP caller"; a transferred caller's context around them.
        // A caller who lost their agent: "reconnected caller" first.
        let reconnect = self.take_reconnect_whisper(caller);
        let queue_whisper = self.queue_settings(&wait.queue).and_then(|q| q.whisper);
        let number = self
            .calls
            .get(&caller)
            .map(|c| c.caller_number.clone())
            .unwrap_or_default();
        let tier_whisper = self
            .dialplan
            .priority_of(&number)
            .1
            .map(|tier| format!("whisper_tier_{tier}"));
        let names = [reconnect, queue_whisper, tier_whisper]
            .into_iter()
            .flatten()
            .collect();
        let names = self.whisper_with_context(now, caller, &agent, names);
        let whisper: VecDeque<PromptId> = names
            .into_iter()
            .filter_map(|name| self.find_prompt(caller, &name, &self.language_of(caller)))
            .collect();
        if whisper.is_empty() {
            return self.bridge_when_caller_ready(now, leg);
        }
        if let Some(l) = self.legs.get_mut(&leg) {
            l.state = LegState::Whisper;
            l.whisper = whisper;
        }
        self.record(now, caller, EventKind::Whisper { agent });
        self.whisper_next(now, leg);
    }

    /// A prompt on the agent's leg finished: the whisper goes on if it was the one playing.
    pub(super) fn on_whisper_finished(&mut self, now: Instant, leg: CallId, play: PlayId) {
        if self.legs.get(&leg).is_some_and(|l| l.play == Some(play)) {
            self.whisper_next(now, leg);
        }
    }

    /// The agent hears the next part of the whisper, or, when it is over, the caller.
    pub(super) fn whisper_next(&mut self, now: Instant, leg: CallId) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        if l.state != LegState::Whisper {
            return;
        }
        match l.whisper.pop_front() {
            Some(prompt) => {
                let play = self.next_play();
                if let Some(l) = self.legs.get_mut(&leg) {
                    l.play = Some(play);
                }
                self.outputs.push_back(Output::Media(MediaCommand::Play {
                    call: leg,
                    prompt,
                    play,
                }))
            }
            None => self.bridge_when_caller_ready(now, leg),
        }
    }

    /// The agent on `leg` is ready to talk. A transferred caller still hearing where they
    /// are going and the expected wait hears it to the end — its last words tell them they
    /// need not repeat themselves — and the agent hears ringback until then, so that their
    /// greeting is not said into a line the caller cannot hear yet.
    pub(super) fn bridge_when_caller_ready(&mut self, now: Instant, leg: CallId) {
        let Some(caller) = self.legs.get(&leg).map(|l| l.caller) else {
            return;
        };
        let explaining = self.calls.get(&caller).is_some_and(|c| {
            c.transfer.is_some()
                && !c.looping
                && (c.playing.is_some() || !c.prompt_queue.is_empty())
        });
        if !explaining {
            return self.bridge(now, leg);
        }
        let language = self.language_of(caller);
        let ringback = self.find_prompt(caller, "ringback", &language);
        let play = self.next_play();
        if let Some(l) = self.legs.get_mut(&leg) {
            l.state = LegState::Whisper;
            l.awaiting_caller = true;
            l.play = Some(play);
        }
        if let Some(prompt) = ringback {
            self.outputs
                .push_back(Output::Media(MediaCommand::PlayLoop {
                    call: leg,
                    prompt,
                    play,
                }));
        }
    }

    /// `caller`'s prompts ended: an agent waiting for them to be free is connected now.
    pub(super) fn bridge_awaiting_agent(&mut self, now: Instant, caller: CallId) {
        let Some(leg) = self.connected_leg_of(caller) else {
            return;
        };
        if self.legs.get(&leg).is_some_and(|l| l.awaiting_caller) {
            self.bridge(now, leg);
        }
    }

    /// Caller and agent hear each other.
    pub(super) fn bridge(&mut self, now: Instant, leg: CallId) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        l.state = LegState::Connected;
        l.play = None;
        l.awaiting_caller = false;
        let (caller, agent) = (l.caller, l.agent.clone());
        let agent_codec = l.media.map(|m| m.codec);
        let caller_codec = self
            .calls
            .get(&caller)
            .and_then(|c| c.media)
            .map(|m| m.codec);
        // Whatever the caller heard (music, ringback) stops: the agent is on the line.
        if let Some(c) = self.calls.get_mut(&caller) {
            c.prompt_queue.clear();
            c.playing = None;
            c.play = None;
            c.looping = false;
        }
        self.outputs
            .push_back(Output::Media(MediaCommand::Stop { call: caller }));
        self.outputs
            .push_back(Output::Media(MediaCommand::Bridge { a: caller, b: leg }));
        self.record(
            now,
            caller,
            EventKind::Bridged {
                agent,
                transcoding: agent_codec != caller_codec,
            },
        );
        self.on_transfer_bridged(now, caller, leg);
    }

    pub(super) fn on_leg_failed(&mut self, now: Instant, leg: CallId, status: u16) {
        if self.on_transfer_leg_failed(now, leg, status) {
            return;
        }
        let Some(l) = self.legs.get(&leg) else {
            return;
        };
        let (state, caller, agent) = (l.state, l.caller, l.agent.clone());
        self.set_leg_timer(leg, None);
        self.release_leg(leg);
        if state == LegState::Ringing {
            let outcome = match status {
                486 | 600 => "busy",
                603 => "declined",
                408 | 480 => "no_answer",
                _ => "failed",
            };
            self.offer_ended(now, leg, outcome);
            self.rest_after_refusal(now, caller, &agent);
        }
        self.dispatch(now);
    }

    /// The agent hung up (BYE from the phone) or the leg failed after answering.
    pub(super) fn on_leg_bye(&mut self, now: Instant, leg: CallId) {
        if self.on_transferor_bye(now, leg) {
            return;
        }
        let Some(l) = self.legs.get(&leg) else {
            return;
        };
        let caller = l.caller;
        self.release_leg(leg);
        self.legs.remove(&leg);
        // Only the caller's current agent hanging up ends the call: a leg the caller already
        // left (transferred away) just goes.
        if matches!(
            self.calls.get(&caller).map(|c| &c.phase),
            Some(Phase::Connected { leg: current, .. }) if *current == leg
        ) {
            self.end_hold(now, caller, false);
            self.record(
                now,
                caller,
                EventKind::Hangup {
                    by: Party::Agent,
                    reason: "agent hung up".into(),
                },
            );
            self.start_wrap_up(now, caller);
            self.end_call_quietly(now, caller, "completed");
        }
    }

    /// The caller's side of a connected call ended: hang up the agent and wrap up.
    pub(super) fn caller_left_connected(&mut self, now: Instant, caller: CallId) {
        self.end_hold(now, caller, false);
        self.caller_left_during_transfer(now, caller);
        let Some(Phase::Connected { leg, .. }) = self.calls.get(&caller).map(|c| c.phase.clone())
        else {
            return;
        };
        self.start_wrap_up(now, caller);
        self.end_leg(now, leg);
    }

    fn start_wrap_up(&mut self, now: Instant, caller: CallId) {
        let Some(Phase::Connected { agent, queue, .. }) =
            self.calls.get(&caller).map(|c| c.phase.clone())
        else {
            return;
        };
        self.wrap_up_agent(now, caller, &agent, &queue);
    }

    /// `agent`, talking to `caller` from `queue`, wraps up (once).
    pub(super) fn wrap_up_agent(&mut self, now: Instant, caller: CallId, agent: &str, queue: &str) {
        let agent = agent.to_string();
        // Both sides' hang-ups pass through here; the agent wraps up once.
        let talking = matches!(
            self.acd.agent(&agent).map(|a| &a.state),
            Some(AgentState::Talking { caller: c }) if *c == caller
        );
        if !talking {
            return;
        }
        let wrap_up = self
            .queue_settings(queue)
            .map(|q| q.wrap_up)
            .unwrap_or(Duration::from_secs(15));
        self.record(
            now,
            caller,
            EventKind::WrapUp {
                agent: agent.clone(),
                seconds: wrap_up.as_secs() as u32,
            },
        );
        if wrap_up.is_zero() {
            self.acd.set_state(&agent, AgentState::Ready, now);
            self.dispatch(now);
        } else {
            self.acd.set_state(
                &agent,
                AgentState::WrapUp {
                    until: now + wrap_up,
                },
                now,
            );
        }
    }

    /// Hang up an agent leg (BYE once answered, CANCEL while ringing).
    pub(super) fn end_leg(&mut self, now: Instant, leg: CallId) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        match l.state {
            LegState::Ringing => {
                self.cancel_offer(now, leg, "caller_left");
                return;
            }
            LegState::Leaving | LegState::Cancelling => return,
            LegState::Whisper | LegState::Connected => {}
        }
        l.state = LegState::Leaving;
        self.endpoint.hangup(now, leg);
        self.release_leg(leg);
    }

    pub(super) fn release_leg(&mut self, leg: CallId) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        // Opened before the INVITE: a phone that never answered (486, CANCEL) gets the
        // socket closed too.
        if l.media_started || l.media_opened {
            l.media_started = false;
            l.media_opened = false;
            self.outputs
                .push_back(Output::Media(MediaCommand::End { call: leg }));
        }
        if l.rtp_port != 0 {
            self.rtp_ports.release(l.rtp_port);
            l.rtp_port = 0;
        }
    }

    pub(super) fn forget_leg(&mut self, leg: CallId) {
        self.release_leg(leg);
        self.set_leg_timer(leg, None);
        self.legs.remove(&leg);
    }

    /// A phone registered, refreshed or went away.
    pub(super) fn on_bindings(&mut self, now: Instant, user: &str, bindings: &[Binding]) {
        let stored = bindings
            .iter()
            .map(|b| StoredBinding {
                user: b.user.clone(),
                contact: b.contact.clone(),
                address: b.address.to_string(),
                transport: match b.transport {
                    crate::sip::Transport::Udp => "udp".into(),
                    crate::sip::Transport::Tcp => "tcp".into(),
                },
                expires_at: self.wall(b.expires_at),
            })
            .collect();
        self.outputs
            .push_back(Output::Record(RecordCommand::SaveBindings {
                user: user.to_string(),
                bindings: stored,
            }));
        if self.acd.set_registered(user, !bindings.is_empty(), now) {
            tracing::info!(user, "agent ready: phone registered");
        }
        self.dispatch(now);
    }

    /// A desk phone dialled a feature code: change the agent's state.
    pub(super) fn apply_feature_code(
        &mut self,
        now: Instant,
        call: CallId,
        phone: &str,
        code: &str,
    ) {
        let codes = self.dialplan.feature_codes.clone();
        let Some(agent) = self.acd.agent_by_user(phone).map(|a| a.spec.id.clone()) else {
            self.close_with(now, call, "no agent on this phone", "invalid");
            return;
        };
        let (state, prompt) = if code == codes.login || code == codes.ready {
            (
                AgentState::Ready,
                if code == codes.login {
                    "agent_logged_in"
                } else {
                    "agent_ready"
                },
            )
        } else if code == codes.logout {
            (AgentState::LoggedOut, "agent_logged_out")
        } else {
            (
                AgentState::NotReady {
                    reason: "by phone".into(),
                },
                "agent_not_ready",
            )
        };
        self.record(
            now,
            call,
            EventKind::FeatureCode {
                code: code.to_string(),
                agent: agent.clone(),
                state: state.name(),
            },
        );
        self.acd.set_state(&agent, state, now);
        self.close_with(now, call, "feature code done", prompt);
        self.dispatch(now);
    }
}

/// The digit prompts that say `n` (digit by digit: 12 is "one two").
fn digit_prompts(n: u32) -> Vec<String> {
    n.to_string()
        .chars()
        .map(|d| format!("digit_{d}"))
        .collect()
}
