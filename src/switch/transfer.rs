//! Transfers from the agent's desk phone: blind (REFER, RFC 3515, or `#1` + number) to an
//! extension, a queue's transfer number or an outside number; the caller hears where they
//! are going and the expected wait, then music or ringback until the target answers within
//! three rings; NOTIFY progress to the transferring phone; recall to the transferring agent
//! (or the front of the original queue) when nobody answers; the call's context on the next
//! agent's whisper and record.
//!
//! A transfer is `Call::transfer` while it runs. A queue target puts the caller in that queue
//! (`Phase::Queued`, the normal offers); an extension, an outside number or a recall rings one
//! leg while the caller is `Phase::Transferring`. It ends when the caller is bridged with
//! someone (`on_transfer_bridged`) or hangs up (`caller_left_during_transfer`). The
//! transferring agent's leg is never relied on: it may BYE at any moment (right after the
//! 202, or never), and a failed transfer never drops the caller.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::acd::AgentState;
use super::in_call_keys::KeySequence;
use super::queueing::{AgentLeg, LegPurpose, LegState};
use super::timeline::EventKind;
use super::{MediaCommand, Output, Phase, Switch};
use crate::media::prompt::PromptId;
use crate::media::LegRole;
use crate::sip::sdp;
use crate::sip::{Binding, CallId, ReferTarget, Transport};

/// How long an outside number rings before the transfer counts as unanswered (no
/// three-ring rule: the switch does not own that phone).
pub(super) const OUTSIDE_RING: Duration = Duration::from_secs(30);
/// After a successful REFER transfer the transferring phone has this long to send its own
/// BYE (most do on the final NOTIFY) before the switch ends its leg: long enough for the
/// NOTIFY's retransmissions at 0.5, 1.5 and 3.5 s.
pub(super) const TRANSFEROR_GRACE: Duration = Duration::from_secs(4);
/// The longest outside number accepted (E.164 is 15 digits; room for access codes).
const MAX_OUTSIDE_DIGITS: usize = 24;

/// A caller's transfer in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TransferState {
    /// The agent who asked for it.
    pub by_agent: String,
    /// The queue the caller was talking to that agent from (recall goes back to it).
    pub from_queue: String,
    /// The transferring agent's leg while it is up (a recall re-bridges it).
    pub transferor_leg: Option<CallId>,
    /// The leg whose REFER still awaits its final NOTIFY.
    pub refer: Option<CallId>,
    /// Where the caller goes, as recorded (`queue:NAME`, an extension, an outside number).
    pub target: String,
    pub destination: Destination,
    /// "blind" (attended transfers are the consultation's).
    pub kind: String,
    /// "refer" or "keys".
    pub method: String,
    pub step: TransferStep,
}

/// Where a blind transfer sends the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Destination {
    /// A queue, by a transfer number.
    Queue(String),
    /// An agent, by extension (agent id).
    Agent(String),
    /// An outside number (prefix stripped) through a trunk.
    Outside { number: String, trunk: SocketAddr },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TransferStep {
    /// The target is being reached.
    Target,
    /// The target did not answer: the transferring agent's phone rings again.
    Recall,
    /// The target did not answer: the caller hears the apology, then the transferring
    /// agent's leg (still up) again.
    Back,
}

/// What the switch asked the endpoint about a REFER (kept for tests in a thread-local, since
/// the endpoint's side is the SIP piece's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReferAnswer {
    Accepted,
    Refused(u16),
    Notified { status: u16, last: bool },
}

#[cfg(test)]
thread_local! {
    /// Every REFER answer the switch gave on this thread, in order.
    pub(super) static REFER_ANSWERS: std::cell::RefCell<Vec<(CallId, ReferAnswer)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl Switch {
    /// A REFER arrived on `call` (an agent's leg, or a call a phone placed to the switch).
    pub(super) fn on_refer(
        &mut self,
        now: Instant,
        call: CallId,
        target: ReferTarget,
        referred_by: Option<String>,
    ) {
        let _ = referred_by;
        match self.blind_destination(call, &target.user) {
            Ok((destination, label)) => {
                self.answer_refer(now, call, ReferAnswer::Accepted);
                self.start_blind_transfer(now, call, destination, label, "refer");
            }
            Err(status) => {
                tracing::info!(call = %call, target = ?target.user, status, "REFER refused");
                self.answer_refer(now, call, ReferAnswer::Refused(status));
            }
        }
    }

    /// The agent on `leg` pressed the blind-transfer keys and `number`.
    pub(super) fn blind_transfer_by_keys(&mut self, now: Instant, leg: CallId, number: &str) {
        match self.blind_destination(leg, number) {
            Ok((destination, label)) => {
                self.start_blind_transfer(now, leg, destination, label, "keys")
            }
            Err(status) => {
                tracing::info!(leg = %leg, number = ?number, status, "transfer keys refused");
                // The agent hears that the number did not work; the caller hears nothing.
                let caller = self.legs.get(&leg).map(|l| l.caller);
                let prompt = caller.and_then(|caller| {
                    self.find_prompt(caller, "invalid", &self.language_of(caller))
                });
                if let Some(prompt) = prompt {
                    let play = self.next_play();
                    self.outputs
                        .push_back(Output::Media(MediaCommand::PlayMixed {
                            call: leg,
                            prompt,
                            play,
                        }));
                }
            }
        }
    }

    /// Where a blind transfer from `leg` to `user` goes, and how it is recorded; or the SIP
    /// status refusing it (403: this leg cannot transfer now; 404: no such target).
    fn blind_destination(&self, leg: CallId, user: &str) -> Result<(Destination, String), u16> {
        let Some(l) = self.legs.get(&leg) else {
            return Err(403);
        };
        let connected = matches!(
            self.calls.get(&l.caller).map(|c| &c.phase),
            Some(Phase::Connected { leg: current, .. }) if *current == leg
        );
        // (A caller being transferred is not connected with this leg: a second REFER is
        // refused here too.)
        if l.state != LegState::Connected || !connected {
            return Err(403);
        }
        if user.is_empty() {
            return Err(404);
        }
        if let Some(agent) = self.acd.agents().find(|a| a.spec.extension == user) {
            if agent.spec.id == l.agent {
                // Transferring a caller to oneself would only ring one's own phone.
                return Err(403);
            }
            return Ok((Destination::Agent(agent.spec.id.clone()), user.to_string()));
        }
        let plan = &self.dialplan.transfer;
        if let Some(queue) = plan.numbers.get(user) {
            if self.dialplan.queues.contains_key(queue) {
                return Ok((Destination::Queue(queue.clone()), format!("queue:{queue}")));
            }
        }
        if let Some(outside) = &plan.outside {
            if let Some(number) = user.strip_prefix(outside.prefix.as_str()) {
                let digits = number.strip_prefix('+').unwrap_or(number);
                if !digits.is_empty()
                    && digits.len() <= MAX_OUTSIDE_DIGITS
                    && digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Ok((
                        Destination::Outside {
                            number: number.to_string(),
                            trunk: outside.trunk,
                        },
                        user.to_string(),
                    ));
                }
            }
        }
        Err(404)
    }

    /// The agent on `leg` sends its caller to `destination`.
    fn start_blind_transfer(
        &mut self,
        now: Instant,
        leg: CallId,
        destination: Destination,
        target: String,
        method: &str,
    ) {
        let Some(l) = self.legs.get(&leg) else {
            return;
        };
        let caller = l.caller;
        let Some(Phase::Connected { agent, queue, .. }) =
            self.calls.get(&caller).map(|c| c.phase.clone())
        else {
            return;
        };
        self.record(
            now,
            caller,
            EventKind::TransferRequested {
                agent: agent.clone(),
                kind: "blind".into(),
                method: method.into(),
                target: target.clone(),
            },
        );
        self.end_hold(now, caller, false);
        // The caller stops hearing the agent; the agent's leg stays up for a recall.
        self.stop_prompts(now, caller);
        self.outputs
            .push_back(Output::Media(MediaCommand::Unbridge { call: caller }));
        self.set_timer(caller, None);
        if let Some(c) = self.calls.get_mut(&caller) {
            c.transfer = Some(TransferState {
                by_agent: agent,
                from_queue: queue,
                transferor_leg: Some(leg),
                refer: (method == "refer").then_some(leg),
                target: target.clone(),
                destination: destination.clone(),
                kind: "blind".into(),
                method: method.into(),
                step: TransferStep::Target,
            });
            c.phase = Phase::Transferring { leg: None };
        }
        match destination {
            Destination::Queue(queue) => {
                // Nobody there taking calls but the transferring agent: refused like an agent
                // who is away (480), so that agent keeps the caller instead of parking them
                // in a line nobody else serves.
                let by_agent = self
                    .calls
                    .get(&caller)
                    .and_then(|c| c.transfer.as_ref())
                    .map(|t| t.by_agent.clone());
                let answering =
                    self.dialplan.queues.get(&queue).is_some_and(|q| {
                        self.acd.answering_besides(&q.skills, by_agent.as_deref())
                    });
                if !answering {
                    return self.fail_transfer(now, caller, "unavailable", None, 480);
                }
                let expected = self.join_queue_for_transfer(now, caller, &queue);
                let department = self
                    .dialplan
                    .queues
                    .get(&queue)
                    .and_then(|q| q.department.clone());
                self.explain_transfer(now, caller, &target, department, expected, true);
                self.arm_queue_timer(caller);
                self.dispatch(now);
            }
            Destination::Agent(agent) => {
                let state = self
                    .acd
                    .agent(&agent)
                    .map(|a| (a.registered, a.state.clone()));
                // On a call: busy (486). Logged out, not ready or with no phone registered:
                // unavailable (480, RFC 3261 §21.4.18), as for a phone that does not answer.
                let on_a_call = matches!(
                    state,
                    Some((
                        true,
                        AgentState::Ringing { .. } | AgentState::Talking { .. }
                    ))
                );
                let free = matches!(
                    state,
                    Some((true, AgentState::Ready | AgentState::WrapUp { .. }))
                );
                let ringing = if free {
                    self.ring_agent(now, caller, &agent, LegPurpose::TransferTarget)
                } else {
                    None
                };
                let Some(target_leg) = ringing else {
                    return match on_a_call {
                        true => self.fail_transfer(now, caller, "busy", None, 486),
                        false => self.fail_transfer(now, caller, "unavailable", None, 480),
                    };
                };
                if let Some(c) = self.calls.get_mut(&caller) {
                    c.phase = Phase::Transferring {
                        leg: Some(target_leg),
                    };
                }
                let within = self.dialplan.standards.answer_deadline();
                self.explain_transfer(now, caller, &target, None, within, true);
            }
            Destination::Outside { number, trunk } => {
                let Some(target_leg) = self.ring_outside(now, caller, &number, trunk) else {
                    return self.fail_transfer(now, caller, "failed", None, 503);
                };
                if let Some(c) = self.calls.get_mut(&caller) {
                    c.phase = Phase::Transferring {
                        leg: Some(target_leg),
                    };
                }
                // The outside party does not get the context: no "you need not repeat".
                self.explain_transfer(now, caller, &target, None, OUTSIDE_RING, false);
            }
        }
    }

    /// The caller joins `queue` as a transferred caller: in line and offered like any
    /// other, without the queue's own entry prompt (the transfer explanation replaces it).
    /// Returns the expected wait for the place they got.
    fn join_queue_for_transfer(&mut self, now: Instant, caller: CallId, queue: &str) -> Duration {
        match self.dialplan.queues.get(queue).cloned() {
            Some(settings) => self
                .put_in_line(now, caller, queue, &settings, now)
                .1
                .unwrap_or(Duration::ZERO),
            None => Duration::ZERO,
        }
    }

    /// "Your question needs a colleague from [department] ... the expected wait is about N
    /// minutes; you will not need to explain again." Music or ringback follows.
    fn explain_transfer(
        &mut self,
        now: Instant,
        caller: CallId,
        target: &str,
        department: Option<String>,
        wait: Duration,
        no_repeat: bool,
    ) {
        self.record(
            now,
            caller,
            EventKind::TransferExplained {
                target: target.to_string(),
                expected_wait_s: wait.as_secs() as u32,
            },
        );
        let mut names: Vec<String> = match department {
            Some(department) => vec![
                "transfer_to".into(),
                department,
                "transfer_colleague".into(),
            ],
            None => vec!["transfer".into()],
        };
        if wait < Duration::from_secs(60) {
            names.push("less_than_a_minute".into());
        } else {
            let minutes = wait.as_secs().div_ceil(60);
            names.extend(
                minutes
                    .to_string()
                    .chars()
                    .map(|digit| format!("digit_{digit}")),
            );
            names.push("minutes".into());
        }
        if no_repeat {
            names.push("transfer_no_repeat".into());
        }
        let language = self.language_of(caller);
        let mut any = false;
        for name in names {
            any |= self.queue_prompt(now, caller, &name, &language);
        }
        if !any {
            self.on_transfer_prompts_done(now, caller);
        }
    }

    /// The caller's prompts ended while being transferred: ringback while a leg rings, or
    /// back to the transferring agent after the apology.
    pub(super) fn on_transfer_prompts_done(&mut self, now: Instant, caller: CallId) {
        let Some(c) = self.calls.get(&caller) else {
            return;
        };
        let Phase::Transferring { leg } = c.phase else {
            return;
        };
        let step = c.transfer.as_ref().map(|t| t.step);
        match (leg, step) {
            (Some(_), _) => self.play_loop(caller, "ringback"),
            (None, Some(TransferStep::Back)) => self.back_to_transferor(now, caller),
            _ => {}
        }
    }

    /// A prompt on a loop (ringback, music) until something else plays.
    fn play_loop(&mut self, caller: CallId, name: &str) {
        let language = self.language_of(caller);
        let Some(id) = self.find_prompt(caller, name, &language) else {
            tracing::warn!(call = %caller, prompt = name, "loop prompt missing; silence");
            return;
        };
        let play = self.next_play();
        if let Some(c) = self.calls.get_mut(&caller) {
            c.playing = Some(id);
            c.play = Some(play);
            c.looping = true;
        }
        self.outputs
            .push_back(Output::Media(MediaCommand::PlayLoop {
                call: caller,
                prompt: id,
                play,
            }));
    }

    /// An INVITE to `agent`'s phone for `caller` (a transfer target or a recall), ringing at
    /// most three rings. `None` when the phone is not registered or no port is free.
    fn ring_agent(
        &mut self,
        now: Instant,
        caller: CallId,
        agent: &str,
        purpose: LegPurpose,
    ) -> Option<CallId> {
        let user = self.acd.agent(agent)?.spec.user.clone();
        let binding = self.endpoint.bindings(&user).into_iter().next()?;
        let deadline = now + self.dialplan.standards.answer_deadline();
        let leg = self.ring_leg(now, caller, &binding, agent, purpose, deadline)?;
        self.acd
            .set_state(agent, AgentState::Ringing { caller }, now);
        let extension = self
            .acd
            .agent(agent)
            .map(|a| a.spec.extension.clone())
            .unwrap_or_default();
        self.record(
            now,
            caller,
            EventKind::Offered {
                agent: agent.to_string(),
                extension,
            },
        );
        Some(leg)
    }

    /// An INVITE to `number` through the trunk at `trunk`, ringing at most [`OUTSIDE_RING`].
    fn ring_outside(
        &mut self,
        now: Instant,
        caller: CallId,
        number: &str,
        trunk: SocketAddr,
    ) -> Option<CallId> {
        let binding = Binding {
            user: number.to_string(),
            contact: format!("sip:{number}@{trunk}"),
            address: trunk,
            transport: Transport::Udp,
            expires_at: now + OUTSIDE_RING,
        };
        let label = format!("outside:{number}");
        self.ring_leg(
            now,
            caller,
            &binding,
            &label,
            LegPurpose::TransferTarget,
            now + OUTSIDE_RING,
        )
    }

    /// The switch's INVITE for `caller` to `binding`, its media socket opened in the
    /// caller's conversation, its ring deadline armed.
    fn ring_leg(
        &mut self,
        now: Instant,
        caller: CallId,
        binding: &Binding,
        label: &str,
        purpose: LegPurpose,
        deadline: Instant,
    ) -> Option<CallId> {
        let c = self.calls.get(&caller)?;
        let number = c.caller_number.clone();
        let caller_codec = c
            .media
            .map(|m| m.codec)
            .unwrap_or(crate::media::Codec::Pcmu);
        let Some(port) = self.rtp_ports.allocate() else {
            tracing::warn!(call = %caller, "out of RTP ports: cannot ring the transfer target");
            return None;
        };
        let mut session = sdp::SdpSession::new(
            SocketAddr::new(self.settings.media_ip, port),
            u64::from(port),
        );
        let offer = session.offer_preferring(caller_codec, sdp::Direction::SendRecv);
        let leg = self.endpoint.invite(now, binding, &number, &number, &offer);
        self.opens.push_back(MediaCommand::Open {
            call: leg,
            local_port: port,
            conversation: self.conversation_of(caller),
            expect_from: None,
        });
        self.legs.insert(
            leg,
            AgentLeg {
                caller,
                agent: label.to_string(),
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
                purpose,
                keys: KeySequence::default(),
                signalling_host: binding.address.ip(),
            },
        );
        self.set_leg_timer(leg, Some(deadline));
        Some(leg)
    }

    /// Answers, refuses or reports on the REFER received on `call`.
    fn answer_refer(&mut self, now: Instant, call: CallId, answer: ReferAnswer) {
        #[cfg(test)]
        REFER_ANSWERS.with(|answers| answers.borrow_mut().push((call, answer)));
        match answer {
            ReferAnswer::Accepted => self.endpoint.accept_refer(now, call),
            ReferAnswer::Refused(status) => self.endpoint.refuse_refer(now, call, status),
            ReferAnswer::Notified { status, last } => {
                self.endpoint.notify_refer(now, call, status, last)
            }
        }
    }

    /// The final NOTIFY of the caller's pending REFER, if one is pending.
    fn finish_refer(&mut self, now: Instant, caller: CallId, status: u16) {
        let refer = self
            .calls
            .get_mut(&caller)
            .and_then(|c| c.transfer.as_mut())
            .and_then(|t| t.refer.take());
        if let Some(leg) = refer {
            let answer = ReferAnswer::Notified { status, last: true };
            self.answer_refer(now, leg, answer);
        }
    }

    /// The transfer reached nobody (`reason`; the target's SIP `status` when it gave one):
    /// the transferring phone is told (`notify` as the final status), and the caller is
    /// recalled — never dropped.
    fn fail_transfer(
        &mut self,
        now: Instant,
        caller: CallId,
        reason: &str,
        status: Option<u16>,
        notify: u16,
    ) {
        let Some(t) = self.calls.get(&caller).and_then(|c| c.transfer.clone()) else {
            return;
        };
        self.finish_refer(now, caller, notify);
        self.record(
            now,
            caller,
            EventKind::TransferFailed {
                target: t.target.clone(),
                reason: reason.to_string(),
                status,
            },
        );
        self.recall(now, caller, reason);
    }

    /// Back to the transferring agent: their leg if it is still up, else a new INVITE to
    /// their phone if they are free, else the front of the original queue.
    fn recall(&mut self, now: Instant, caller: CallId, reason: &str) {
        let Some(t) = self.calls.get(&caller).and_then(|c| c.transfer.clone()) else {
            return;
        };
        self.stop_prompts(now, caller);
        let leg_up = t
            .transferor_leg
            .filter(|leg| self.legs.get(leg).map(|l| l.state) == Some(LegState::Connected));
        let language = self.language_of(caller);
        if let Some(leg) = leg_up {
            self.set_transfer(caller, TransferStep::Back, None);
            self.record_recall(now, caller, &t.by_agent, reason);
            // The agent hears that the caller is coming back.
            if let Some(prompt) = self.find_prompt(caller, "whisper_recall", &language) {
                let play = self.next_play();
                self.outputs
                    .push_back(Output::Media(MediaCommand::PlayMixed {
                        call: leg,
                        prompt,
                        play,
                    }));
            }
            if !self.queue_prompt(now, caller, "transfer_recall", &language) {
                self.back_to_transferor(now, caller);
            }
            return;
        }
        if !self.ring_transferor(now, caller, reason) {
            self.requeue_after_transfer(now, caller, reason);
        } else if !self.queue_prompt(now, caller, "transfer_recall", &language) {
            self.play_loop(caller, "ringback");
        }
    }

    /// Rings the transferring agent's phone again when they are free (ready, or in the
    /// wrap-up their leg's end began); false when they are not.
    fn ring_transferor(&mut self, now: Instant, caller: CallId, reason: &str) -> bool {
        let Some(t) = self.calls.get(&caller).and_then(|c| c.transfer.clone()) else {
            return false;
        };
        let free = self.acd.agent(&t.by_agent).is_some_and(|a| {
            a.registered && matches!(a.state, AgentState::Ready | AgentState::WrapUp { .. })
        });
        let ringing = if free {
            self.ring_agent(now, caller, &t.by_agent, LegPurpose::Recall)
        } else {
            None
        };
        let Some(leg) = ringing else {
            return false;
        };
        self.set_transfer(caller, TransferStep::Recall, Some(leg));
        self.record_recall(now, caller, &t.by_agent, reason);
        true
    }

    fn set_transfer(&mut self, caller: CallId, step: TransferStep, leg: Option<CallId>) {
        if let Some(c) = self.calls.get_mut(&caller) {
            if let Some(t) = c.transfer.as_mut() {
                t.step = step;
            }
            c.phase = Phase::Transferring { leg };
        }
    }

    fn record_recall(&mut self, now: Instant, caller: CallId, to: &str, reason: &str) {
        self.record(
            now,
            caller,
            EventKind::Recall {
                to: to.to_string(),
                reason: reason.to_string(),
            },
        );
    }

    /// Nobody to recall to: the front of the queue the caller came from.
    fn requeue_after_transfer(&mut self, now: Instant, caller: CallId, reason: &str) {
        let Some(t) = self.calls.get_mut(&caller).and_then(|c| c.transfer.take()) else {
            return;
        };
        if let Some(c) = self.calls.get_mut(&caller) {
            c.phase = Phase::Transferring { leg: None };
        }
        let to = format!("queue:{}", t.from_queue);
        self.record_recall(now, caller, &to, reason);
        self.requeue_at_front(now, caller, &t.from_queue, "transfer_requeue");
    }

    /// The apology ended: the caller and the transferring agent hear each other again.
    fn back_to_transferor(&mut self, now: Instant, caller: CallId) {
        let Some(t) = self.calls.get(&caller).and_then(|c| c.transfer.clone()) else {
            return;
        };
        let Some(leg) = t
            .transferor_leg
            .filter(|leg| self.legs.get(leg).map(|l| l.state) == Some(LegState::Connected))
        else {
            return self.requeue_after_transfer(now, caller, "transferor_left");
        };
        if let Some(c) = self.calls.get_mut(&caller) {
            c.phase = Phase::Connected {
                leg,
                agent: t.by_agent.clone(),
                queue: t.from_queue.clone(),
            };
        }
        self.bridge(now, leg);
    }

    /// `caller` was bridged with `leg`: a transfer in progress is over. When it reached its
    /// target, the transferring phone gets the final NOTIFY and its leg ends (at once
    /// without a REFER, after [`TRANSFEROR_GRACE`] with one if the phone has not hung up).
    pub(super) fn on_transfer_bridged(&mut self, now: Instant, caller: CallId, leg: CallId) {
        let Some(t) = self.calls.get(&caller).and_then(|c| c.transfer.clone()) else {
            return;
        };
        if t.step == TransferStep::Target {
            let agent = self
                .legs
                .get(&leg)
                .map(|l| l.agent.clone())
                .unwrap_or_default();
            self.record(
                now,
                caller,
                EventKind::TransferCompleted {
                    agent,
                    kind: t.kind.clone(),
                },
            );
            let notified = t.refer.is_some();
            self.finish_refer(now, caller, 200);
            self.wrap_up_agent(now, caller, &t.by_agent, &t.from_queue);
            if let Some(old) = t.transferor_leg.filter(|old| *old != leg) {
                if notified {
                    self.set_leg_timer(old, Some(now + TRANSFEROR_GRACE));
                } else {
                    self.end_leg(now, old);
                }
            }
        }
        if let Some(c) = self.calls.get_mut(&caller) {
            c.transfer = None;
        }
    }

    /// The names of the whisper for `agent`, who takes `caller`: for a transferred caller,
    /// "transferred call", then `base` (the queue, the tier), the last hold reason and
    /// "account verified"; the hand-over is recorded. Other callers: `base`.
    pub(super) fn whisper_with_context(
        &mut self,
        now: Instant,
        caller: CallId,
        agent: &str,
        base: Vec<String>,
    ) -> Vec<String> {
        let Some(c) = self.calls.get(&caller) else {
            return base;
        };
        let Some(t) = c.transfer.as_ref() else {
            return base;
        };
        let context = &c.context;
        let mut names = vec!["whisper_transferred".to_string()];
        names.extend(base);
        let mut items = vec![
            format!("transferred_by:{}", t.by_agent),
            format!("from_queue:{}", t.from_queue),
        ];
        if !context.ivr_path.is_empty() {
            items.push(format!("ivr_path:{}", context.ivr_path.join(",")));
        }
        if let Some(account) = &context.account {
            items.push(format!("account:{account}"));
        }
        if let Some(reason) = context.hold_reasons.last() {
            names.push(format!("whisper_hold_{reason}"));
            items.push(format!("hold_reason:{reason}"));
        }
        if context.identity_verified {
            names.push("whisper_verified".into());
            items.push("identity_verified".into());
        }
        self.record(
            now,
            caller,
            EventKind::ContextHandedOver {
                agent: agent.to_string(),
                items,
            },
        );
        names
    }

    /// The caller's leg being rung for a transfer or a recall (`Phase::Transferring`).
    fn transfer_leg_of(&self, leg: CallId) -> Option<CallId> {
        let caller = self.legs.get(&leg)?.caller;
        match self.calls.get(&caller).map(|c| &c.phase) {
            Some(Phase::Transferring { leg: Some(l) }) if *l == leg => Some(caller),
            _ => None,
        }
    }

    /// A transfer target or recalled phone answered. Returns false for any other leg.
    pub(super) fn on_transfer_leg_answered(
        &mut self,
        now: Instant,
        leg: CallId,
        answer: Option<&str>,
    ) -> bool {
        let Some(caller) = self.transfer_leg_of(leg) else {
            return false;
        };
        let Some(l) = self.legs.get_mut(&leg) else {
            return false;
        };
        if l.state != LegState::Ringing {
            self.end_leg(now, leg);
            return true;
        }
        let (agent, invited_at, purpose) = (l.agent.clone(), l.invited_at, l.purpose.clone());
        let negotiated = match (answer, l.sdp.as_mut()) {
            (Some(answer), Some(session)) => Some(session.accept_answer(answer)),
            (answer, _) => answer.map(sdp::accept_answer),
        };
        self.set_leg_timer(leg, None);
        let Some(Ok(media)) = negotiated else {
            tracing::warn!(leg = %leg, "transfer target's answer has no usable SDP");
            // Answered: BYE it (end_leg on a ringing leg would CANCEL).
            if let Some(l) = self.legs.get_mut(&leg) {
                l.state = LegState::Connected;
            }
            self.end_leg(now, leg);
            self.free_ringing_agent(now, &agent, caller);
            return self.transfer_leg_lost(now, caller, "failed", Some(488), 488);
        };
        let rings = self
            .dialplan
            .standards
            .ring_cadence
            .rings_started(now - invited_at);
        let is_agent = self.acd.agent(&agent).is_some();
        if is_agent {
            self.record(
                now,
                caller,
                EventKind::AgentAnswered {
                    agent: agent.clone(),
                    rings,
                    wait_ms: (now - invited_at).as_millis() as u64,
                },
            );
            self.acd
                .set_state(&agent, AgentState::Talking { caller }, now);
        }
        let port = self.legs.get(&leg).map(|l| l.rtp_port).unwrap_or(0);
        if let Some(l) = self.legs.get_mut(&leg) {
            l.media = Some(media);
            l.media_started = true;
        }
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
        let from_queue = self
            .calls
            .get(&caller)
            .and_then(|c| c.transfer.as_ref())
            .map(|t| t.from_queue.clone())
            .unwrap_or_default();
        if let Some(c) = self.calls.get_mut(&caller) {
            c.phase = Phase::Connected {
                leg,
                agent: agent.clone(),
                queue: from_queue.clone(),
            };
        }
        let names = if !is_agent {
            // An outside party hears no whisper in our prompts' language.
            Vec::new()
        } else if purpose == LegPurpose::Recall {
            vec!["whisper_recall".to_string()]
        } else {
            let number = self
                .calls
                .get(&caller)
                .map(|c| c.caller_number.clone())
                .unwrap_or_default();
            let tier = self.dialplan.priority_of(&number).1.map(str::to_string);
            let base = [
                self.dialplan
                    .queues
                    .get(&from_queue)
                    .and_then(|q| q.whisper.clone()),
                tier.map(|tier| format!("whisper_tier_{tier}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            self.whisper_with_context(now, caller, &agent, base)
        };
        let language = self.language_of(caller);
        let whisper: VecDeque<PromptId> = names
            .iter()
            .filter_map(|name| self.find_prompt(caller, name, &language))
            .collect();
        if whisper.is_empty() {
            self.bridge_when_caller_ready(now, leg);
            return true;
        }
        if let Some(l) = self.legs.get_mut(&leg) {
            l.state = LegState::Whisper;
            l.whisper = whisper;
        }
        self.record(now, caller, EventKind::Whisper { agent });
        self.whisper_next(now, leg);
        true
    }

    /// An agent reserved for `caller` (ringing) is free again.
    fn free_ringing_agent(&mut self, now: Instant, agent: &str, caller: CallId) {
        if matches!(self.acd.agent(agent).map(|a| &a.state), Some(AgentState::Ringing { caller: c }) if *c == caller)
        {
            self.acd.set_state(agent, AgentState::Ready, now);
        }
    }

    /// The leg rung for `caller`'s transfer is gone without reaching anyone: the transfer
    /// fails (a target) or the caller goes to the queue's front (a recall). Returns true.
    fn transfer_leg_lost(
        &mut self,
        now: Instant,
        caller: CallId,
        reason: &str,
        status: Option<u16>,
        notify: u16,
    ) -> bool {
        let step = self
            .calls
            .get(&caller)
            .and_then(|c| c.transfer.as_ref())
            .map(|t| t.step);
        if let Some(c) = self.calls.get_mut(&caller) {
            c.phase = Phase::Transferring { leg: None };
        }
        self.stop_prompts(now, caller);
        match step {
            Some(TransferStep::Target) => self.fail_transfer(now, caller, reason, status, notify),
            Some(_) => self.requeue_after_transfer(now, caller, reason),
            None => {}
        }
        true
    }

    /// A transfer target or recalled phone refused (busy, decline, error). Returns false
    /// for any other leg.
    pub(super) fn on_transfer_leg_failed(
        &mut self,
        now: Instant,
        leg: CallId,
        status: u16,
    ) -> bool {
        let Some(caller) = self.transfer_leg_of(leg) else {
            return false;
        };
        let agent = self
            .legs
            .get(&leg)
            .map(|l| l.agent.clone())
            .unwrap_or_default();
        self.set_leg_timer(leg, None);
        if let Some(l) = self.legs.get_mut(&leg) {
            l.state = LegState::Leaving;
        }
        self.release_leg(leg);
        self.free_ringing_agent(now, &agent, caller);
        let reason = match status {
            486 | 600 => "busy",
            603 => "declined",
            408 | 480 => "no_answer",
            _ => "failed",
        };
        self.transfer_leg_lost(now, caller, reason, Some(status), status)
    }

    /// A leg timer: a transfer target or recall rang too long (three rings; 30 s outside),
    /// or a transferring phone's grace after a completed transfer ended. Returns false for
    /// any other timer.
    pub(super) fn on_transfer_leg_timer(&mut self, now: Instant, leg: CallId) -> bool {
        let Some(l) = self.legs.get(&leg) else {
            return false;
        };
        let (caller, agent, state) = (l.caller, l.agent.clone(), l.state);
        let consultation = l.purpose == LegPurpose::Consultation;
        if self.transfer_leg_of(leg).is_some() && state == LegState::Ringing {
            if let Some(l) = self.legs.get_mut(&leg) {
                l.state = LegState::Cancelling;
            }
            self.endpoint.cancel(now, leg);
            if self.acd.agent(&agent).is_some() {
                // An agent who lets a call ring out is not at the phone.
                self.acd.set_state(
                    &agent,
                    AgentState::NotReady {
                        reason: "missed".into(),
                    },
                    now,
                );
            }
            return self.transfer_leg_lost(now, caller, "no_answer", None, 480);
        }
        let c = self.calls.get(&caller);
        let transferring_from_it = c
            .and_then(|c| c.transfer.as_ref())
            .is_some_and(|t| t.transferor_leg == Some(leg));
        // The caller is with someone else now (or in a queue again, or gone).
        let not_current = !matches!(
            c.map(|c| &c.phase),
            Some(Phase::Connected { leg: current, .. }) if *current == leg
        );
        if matches!(state, LegState::Connected | LegState::Whisper)
            && !consultation
            && !transferring_from_it
            && not_current
        {
            // The phone kept its leg after the transfer completed: end it.
            self.end_leg(now, leg);
            return true;
        }
        false
    }

    /// One of a transferred caller's queue offers rang out: the transfer failed.
    pub(super) fn transfer_offer_rang_out(&mut self, now: Instant, caller: CallId) {
        let pending = self.calls.get(&caller).is_some_and(|c| {
            matches!(c.phase, Phase::Queued(_))
                && c.transfer.as_ref().is_some_and(|t| {
                    t.step == TransferStep::Target && matches!(t.destination, Destination::Queue(_))
                })
        });
        if !pending {
            return;
        }
        self.leave_queue(now, caller, "transfer_failed");
        self.transfer_leg_lost(now, caller, "no_answer", None, 480);
    }

    /// A BYE on a leg a transfer involves. The transferring agent's phone hung up while it
    /// was transferring its caller, or after it did: the caller stays where the transfer put
    /// them, the agent wraps up. The target (or recalled) phone hung up during its whisper,
    /// before the caller heard it: the transfer failed, and the caller is recalled. Returns
    /// false for any other leg (the caller's current agent hanging up).
    pub(super) fn on_transferor_bye(&mut self, now: Instant, leg: CallId) -> bool {
        let Some(l) = self.legs.get(&leg) else {
            return false;
        };
        let (caller, agent, state) = (l.caller, l.agent.clone(), l.state);
        let not_consultation = l.purpose != LegPurpose::Consultation;
        let c = self.calls.get(&caller);
        let whispering_target = state == LegState::Whisper
            && c.is_some_and(|c| c.transfer.is_some())
            && matches!(c.map(|c| &c.phase), Some(Phase::Connected { leg: current, .. }) if *current == leg);
        if whispering_target {
            self.set_leg_timer(leg, None);
            self.release_leg(leg);
            self.legs.remove(&leg);
            if matches!(self.acd.agent(&agent).map(|a| &a.state), Some(AgentState::Talking { caller: c }) if *c == caller)
            {
                self.acd.set_state(&agent, AgentState::Ready, now);
            }
            return self.transfer_leg_lost(now, caller, "failed", None, 480);
        }
        let transfer = c
            .and_then(|c| c.transfer.clone())
            .filter(|t| t.transferor_leg == Some(leg));
        // A consultation call's legs are the consultation's to handle.
        let talking_to_another = not_consultation
            && matches!(c.map(|c| &c.phase), Some(Phase::Connected { leg: current, .. }) if *current != leg);
        if transfer.is_none() && !talking_to_another {
            return false;
        }
        self.set_leg_timer(leg, None);
        self.release_leg(leg);
        self.legs.remove(&leg);
        let Some(t) = transfer else {
            return true;
        };
        if let Some(t) = self
            .calls
            .get_mut(&caller)
            .and_then(|c| c.transfer.as_mut())
        {
            t.transferor_leg = None;
            // Its dialog is gone: no NOTIFY can follow.
            if t.refer == Some(leg) {
                t.refer = None;
            }
        }
        self.wrap_up_agent(now, caller, &agent, &t.from_queue);
        if t.step == TransferStep::Back {
            // The caller was hearing why they are being put back through to that phone. A
            // phone that hangs up on the failed transfer's final NOTIFY (baresip does) has a
            // free agent: it is rung again at once, and the apology goes on, ringback after
            // it. An agent who cannot be rung: the front of the queue.
            if self.ring_transferor(now, caller, "transferor_left") {
                let apologising = self.calls.get(&caller).is_some_and(|c| c.playing.is_some());
                if !apologising {
                    self.play_loop(caller, "ringback");
                }
            } else {
                self.stop_prompts(now, caller);
                self.requeue_after_transfer(now, caller, "transferor_left");
            }
        }
        true
    }

    /// The caller hangs up (or is hung up) during a transfer: the target stops ringing, the
    /// transferring phone is told (487) and its leg ended, and the failure is recorded.
    pub(super) fn caller_left_during_transfer(&mut self, now: Instant, caller: CallId) {
        let Some(t) = self.calls.get(&caller).and_then(|c| c.transfer.clone()) else {
            return;
        };
        if let Some(Phase::Transferring { leg: Some(leg) }) =
            self.calls.get(&caller).map(|c| c.phase.clone())
        {
            self.end_leg(now, leg);
            if let Some(c) = self.calls.get_mut(&caller) {
                c.phase = Phase::Transferring { leg: None };
            }
        }
        if t.step == TransferStep::Target {
            // (A recall follows a failure already recorded.)
            self.finish_refer(now, caller, 487);
            self.record(
                now,
                caller,
                EventKind::TransferFailed {
                    target: t.target.clone(),
                    reason: "caller_left".into(),
                    status: None,
                },
            );
        }
        if let Some(c) = self.calls.get_mut(&caller) {
            c.transfer = None;
        }
        if let Some(old) = t.transferor_leg {
            self.wrap_up_agent(now, caller, &t.by_agent, &t.from_queue);
            self.end_leg(now, old);
        }
    }
}
