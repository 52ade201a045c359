//! Attended transfer: an agent holds the caller, calls a colleague or a queue through the
//! switch from the same desk phone (a consultation call, kept in the caller's media
//! conversation), talks, then completes with REFER carrying `Replaces` (RFC 3891, RFC 5589)
//! or the `*2` keys; the switch joins the caller and the colleague and ends the replaced
//! legs. A failed or abandoned consultation returns the agent to the held caller. An INVITE
//! with `Replaces` naming one of our dialogs takes that dialog's place in its conversation.
//!
//! Owns [`Consultation`] (one per held caller, in `Switch::consultations`): who consults,
//! on which dialogs, whom, and how far it got. Two shapes share it:
//! - **from the phone**: the agent's phone holds the caller (re-INVITE on its leg LA) and
//!   INVITEs the switch (the consultation call C). C hears `ringback` while the colleague's
//!   phone rings on leg LB (three rings), or waits in a queue like a caller; once answered
//!   C is `Phase::Connected` with LB like any caller with its agent. REFER with Replaces on
//!   LA naming C, or on C naming LA, completes it.
//! - **by keys** (`*2` + extension): the switch holds the caller, rings LB, the agent's leg
//!   LA hears `ringback` and then is bridged with LB. The agent hanging up or pressing `*2`
//!   again completes it; `*2` while LB still rings, or LB failing or hanging up, returns LA
//!   to the caller.
//!
//! Completing moves LB to the caller: the caller's agent leg becomes LB, the caller is
//! bridged with it, the hold ends with the thank-you, the transferring agent wraps up and
//! the colleague talks with the caller; LA and C are ended by the switch.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::acd::AgentState;
use super::context::CallContext;
use super::in_call_keys::KeySequence;
use super::queueing::{AgentLeg, LegPurpose, LegState};
use super::timeline::{EventKind, Party};
use super::{Call, Incoming, MediaCommand, Output, Phase, RecordCommand, Switch};
use crate::media::{Codec, LegRole};
use crate::sip::sdp::{self, Direction, SdpError, SdpSession};
use crate::sip::{Binding, CallEvent, CallId, DialogRef, ReferTarget, Transport};
use crate::store::NewCall;

mod replaces;

/// The wrap-up of an agent whose caller's queue is gone.
const DEFAULT_WRAP_UP: Duration = Duration::from_secs(15);

/// An agent consulting someone while their caller waits on hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Consultation {
    /// The consulting agent (A).
    pub agent: String,
    /// A's leg to the caller (LA).
    pub agent_leg: CallId,
    /// The consultation call A's phone placed (C), when it came from the phone; `None` for
    /// the keys.
    pub call: Option<CallId>,
    /// C's SIP Call-ID (a `Replaces` may name it).
    pub call_sip_id: Option<String>,
    /// What A dialled.
    pub target: String,
    /// Whom C or LA is for: an agent, a queue or an outside number.
    pub to: ConsultTarget,
    /// The colleague's leg the switch rang (LB); for a queue, the queue's own offer legs.
    pub colleague_leg: Option<CallId>,
    /// The colleague's state before their phone rang, restored when it does not answer.
    pub colleague_was: Option<AgentState>,
    /// LB answered (keys) — from the phone, C's phase says it.
    pub answered: bool,
    /// The agent completed before the colleague answered (semi-attended): the agent has
    /// left, the caller stays on hold until LB answers and is then joined with it.
    pub handed_over: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ConsultTarget {
    /// An agent, by id (dialled by extension).
    Agent(String),
    /// A queue, by name (dialled by one of `[transfer] numbers`).
    Queue(String),
    /// An outside number (dialled with `[transfer] outside`'s prefix, which is stripped),
    /// called through that trunk.
    Outside { number: String, trunk: SocketAddr },
}

impl ConsultTarget {
    /// The `agent` of the leg that calls this target: the agent's id, or `outside:NUMBER`
    /// (no agent: the ACD ignores it).
    fn leg_agent(&self) -> String {
        match self {
            ConsultTarget::Agent(id) => id.clone(),
            ConsultTarget::Queue(queue) => format!("queue:{queue}"),
            ConsultTarget::Outside { number, .. } => format!("outside:{number}"),
        }
    }
}

impl Switch {
    /// A desk phone's INVITE to an extension or transfer number while its agent has a
    /// caller: returns true when it was taken as a consultation call.
    pub(super) fn on_consultation_invite(
        &mut self,
        now: Instant,
        call: CallId,
        incoming: &Incoming,
    ) -> bool {
        let Some(agent) = incoming
            .phone
            .as_deref()
            .and_then(|user| self.acd.agent_by_user(user))
            .map(|a| a.spec.id.clone())
        else {
            return false;
        };
        let Some((caller, agent_leg)) = self.talking_with(&agent) else {
            return false;
        };
        let Some(to) = self.consult_target(&incoming.request_user) else {
            return false;
        };
        if !self.open_consultation_call(now, call, incoming, caller) {
            return true;
        }
        if !self.accepting {
            self.reject(now, call, 503, Some(60), "switch shutting down");
            return true;
        }
        if self.consultations.contains_key(&caller) {
            self.reject(
                now,
                call,
                486,
                None,
                "a consultation is already in progress",
            );
            return true;
        }
        if to == ConsultTarget::Agent(agent.clone()) {
            self.reject(now, call, 486, None, "an agent cannot consult themselves");
            return true;
        }
        self.consultations.insert(
            caller,
            Consultation {
                agent,
                agent_leg,
                call: Some(call),
                call_sip_id: Some(incoming.sip_call_id.clone()),
                target: incoming.request_user.clone(),
                to,
                colleague_leg: None,
                colleague_was: None,
                answered: false,
                handed_over: false,
            },
        );
        // The phone's own colleague: no reason to make it ring.
        self.answer(now, call);
        true
    }

    /// The consultation call `call` is answered and its media started (from
    /// `begin_service`): ring the colleague or enter the queue. False for other calls.
    pub(super) fn on_consultation_confirmed(&mut self, now: Instant, call: CallId) -> bool {
        let Some(caller) = self.consultation_of_call(call) else {
            return false;
        };
        let Some(to) = self.consultations.get(&caller).map(|c| c.to.clone()) else {
            return false;
        };
        if let Some(c) = self.calls.get_mut(&call) {
            c.phase = Phase::Consulting { caller };
        }
        match to {
            ConsultTarget::Agent(_) | ConsultTarget::Outside { .. } => {
                let codec = self.codec_of_call(call);
                if self.ring_colleague(now, caller, call, &to, codec) {
                    self.play_ringback(now, call);
                } else {
                    self.consultation_failed(now, caller, "unavailable", None);
                }
            }
            ConsultTarget::Queue(queue) => {
                self.record(
                    now,
                    call,
                    EventKind::Route {
                        target: queue.clone(),
                    },
                );
                self.enter_queue(now, call, &queue);
            }
        }
        true
    }

    /// A REFER with `Replaces` (attended transfer) on `call`.
    pub(super) fn on_attended_refer(&mut self, now: Instant, call: CallId, target: &ReferTarget) {
        let Some(replaces) = target.replaces.as_ref() else {
            return self.endpoint.refuse_refer(now, call, 400);
        };
        let named = self.dialog_named(replaces);
        self.complete_attended_refer(now, call, named);
    }

    /// The REFER on `call` names `named` (`None`: no dialog of ours, 481). The two must be
    /// the two dialogs of one consultation from the phone — the agent's leg to the caller
    /// and the consultation call, either carrying the REFER — else 403; so must the
    /// consultation be answered.
    pub(super) fn complete_attended_refer(
        &mut self,
        now: Instant,
        call: CallId,
        named: Option<CallId>,
    ) {
        let on_caller = self.legs.get(&call).map(|l| l.caller);
        let Some(named) = named else {
            tracing::info!(call = %call, "REFER's Replaces names no dialog of ours: 481");
            self.endpoint.refuse_refer(now, call, 481);
            if let Some(caller) = on_caller.or_else(|| self.consultation_of_call(call)) {
                self.transfer_refused(now, caller, "replaces names no dialog", 481);
            }
            return;
        };
        let caller = self
            .consultations
            .iter()
            .find(|(_, c)| match c.call {
                Some(consult) => {
                    (c.agent_leg == call && consult == named)
                        || (consult == call && c.agent_leg == named)
                }
                None => false,
            })
            .map(|(caller, _)| *caller);
        let Some(caller) = caller else {
            tracing::info!(call = %call, "REFER's Replaces names a dialog outside its consultation: 403");
            self.endpoint.refuse_refer(now, call, 403);
            if let Some(caller) = on_caller.or_else(|| self.consultation_of_call(call)) {
                self.transfer_refused(now, caller, "replaces names another dialog", 403);
            }
            return;
        };
        if self
            .join_with_colleague(now, caller, "refer", Some(call))
            .is_err()
            && self.hand_over_ringing(now, caller, call).is_err()
        {
            self.endpoint.refuse_refer(now, call, 403);
            self.transfer_refused(now, caller, "colleague not answered yet", 403);
        }
    }

    /// The agent on `leg` pressed the attended-transfer keys and `number`.
    pub(super) fn attended_transfer_by_keys(&mut self, now: Instant, leg: CallId, number: &str) {
        let Some(l) = self.legs.get(&leg) else {
            return;
        };
        let (caller, agent) = (l.caller, l.agent.clone());
        if !matches!(self.calls.get(&caller).map(|c| &c.phase), Some(Phase::Connected { leg: on, .. }) if *on == leg)
        {
            return;
        }
        if let Some(consultation) = self.consultations.get(&caller) {
            // `*2` again: complete when the colleague is on the line, else give up on them.
            if consultation.call.is_none() {
                if consultation.answered {
                    let _ = self.join_with_colleague(now, caller, "keys", None);
                } else {
                    self.consultation_failed(now, caller, "aborted", None);
                }
            }
            return;
        }
        let Some(to) = self
            .consult_target(number)
            .filter(|to| !matches!(to, ConsultTarget::Queue(_)))
        else {
            // A queue needs a call of its own: only an extension or an outside number.
            self.record(
                now,
                caller,
                EventKind::TransferFailed {
                    target: number.to_string(),
                    reason: "no such extension".into(),
                    status: None,
                },
            );
            self.play_on_leg(now, caller, leg, "invalid", false);
            return;
        };
        if to == ConsultTarget::Agent(agent.clone()) {
            self.play_on_leg(now, caller, leg, "invalid", false);
            return;
        }
        self.consultations.insert(
            caller,
            Consultation {
                agent,
                agent_leg: leg,
                call: None,
                call_sip_id: None,
                target: number.to_string(),
                to: to.clone(),
                colleague_leg: None,
                colleague_was: None,
                answered: false,
                handed_over: false,
            },
        );
        self.hold_by_switch(now, caller);
        let codec = self
            .legs
            .get(&leg)
            .and_then(|l| l.media)
            .map_or(Codec::Pcmu, |m| m.codec);
        if self.ring_colleague(now, caller, caller, &to, codec) {
            self.play_on_leg(now, caller, leg, "ringback", true);
        } else {
            self.consultation_failed(now, caller, "unavailable", None);
        }
    }

    /// SIP events on agent legs that belong to a consultation (the colleague's leg), or
    /// that a transfer replaced (a late BYE on the old leg must not hang up the caller).
    /// Returns true when handled here.
    pub(super) fn on_consultation_leg_event(&mut self, now: Instant, event: &CallEvent) -> bool {
        let Some(leg) = event.call() else {
            return false;
        };
        if let Some(caller) = self.consultation_of_leg(leg) {
            return match event {
                CallEvent::OutgoingAnswered { sdp, .. } => {
                    self.colleague_answered(now, caller, leg, sdp.as_deref());
                    true
                }
                CallEvent::OutgoingFailed { status, .. } => {
                    let reason = match status {
                        486 | 600 => "busy",
                        603 => "declined",
                        408 | 480 => "no_answer",
                        _ => "failed",
                    };
                    self.consultation_failed(now, caller, reason, Some(*status));
                    self.forget_leg(leg);
                    true
                }
                CallEvent::Bye { .. } | CallEvent::AckTimeout { .. } => {
                    self.colleague_left(now, caller, leg)
                }
                _ => false,
            };
        }
        if let Some(caller) = self.consultation_by_agent_leg(leg) {
            // The agent hung up while consulting by keys: Asterisk's atxfer completes.
            if matches!(event, CallEvent::Bye { .. }) {
                let answered = self
                    .consultations
                    .get(&caller)
                    .is_some_and(|c| c.call.is_none() && c.answered);
                if answered {
                    self.forget_leg(leg);
                    let _ = self.join_with_colleague(now, caller, "keys", None);
                    return true;
                }
                // Nobody to hand the caller to: the colleague stops ringing and the
                // agent's hang-up ends the call as it would without a consultation.
                if let Some(consultation) = self.consultations.remove(&caller) {
                    self.drop_colleague(now, &consultation);
                }
            }
            return false;
        }
        if matches!(event, CallEvent::Bye { .. } | CallEvent::AckTimeout { .. }) {
            let caller = self.legs.get(&leg).map(|l| l.caller);
            let replaced = caller.is_some_and(|caller| {
                matches!(self.calls.get(&caller).map(|c| &c.phase),
                    Some(Phase::Connected { leg: on, .. }) if *on != leg)
            });
            if replaced {
                self.forget_leg(leg);
                return true;
            }
        }
        false
    }

    /// A leg's timer fired: a consultation's colleague rang three rings. True when handled.
    pub(super) fn on_consultation_leg_timer(&mut self, now: Instant, leg: CallId) -> bool {
        let Some(caller) = self.consultation_of_leg(leg) else {
            return false;
        };
        if self
            .legs
            .get(&leg)
            .is_some_and(|l| l.state == LegState::Ringing)
        {
            self.consultation_failed(now, caller, "no_answer", None);
        }
        true
    }

    /// `call` is being forgotten (from `forget`): a consultation call or a held caller
    /// leaving ends the consultation. The caller stays held when only the consultation call
    /// went; the consultation call and the colleague's leg end when the caller went.
    pub(super) fn on_consultation_call_gone(&mut self, now: Instant, call: CallId) {
        if let Some(caller) = self.consultation_of_call(call) {
            if let Some(consultation) = self.consultations.remove(&caller) {
                // A connected colleague is hung up by `forget` (C is Connected with LB).
                self.drop_ringing_colleague(now, &consultation);
            }
            return;
        }
        if let Some(consultation) = self.consultations.remove(&call) {
            self.end_consultation_dialogs(
                now,
                &consultation,
                Some("caller hung up during the consultation"),
            );
        }
    }

    /// The caller's agent leg LA → the colleague's leg LB. From the phone, LB is C's
    /// connected leg; by keys, the consultation's answered leg. Err (nothing changed) when
    /// the colleague has not answered.
    fn join_with_colleague(
        &mut self,
        now: Instant,
        caller: CallId,
        method: &str,
        refer_on: Option<CallId>,
    ) -> Result<(), ()> {
        let consultation = self.consultations.get(&caller).cloned().ok_or(())?;
        let (leg_b, agent_b) = match consultation.call {
            Some(consult) => match self.calls.get(&consult).map(|c| &c.phase) {
                Some(Phase::Connected { leg, agent, .. }) => (*leg, agent.clone()),
                _ => return Err(()),
            },
            None => match (consultation.colleague_leg, &consultation.to) {
                (Some(leg), ConsultTarget::Agent(_) | ConsultTarget::Outside { .. })
                    if consultation.answered =>
                {
                    (leg, consultation.to.leg_agent())
                }
                _ => return Err(()),
            },
        };
        let Some(Phase::Connected {
            leg: leg_a,
            agent: agent_a,
            queue,
        }) = self.calls.get(&caller).map(|c| c.phase.clone())
        else {
            return Err(());
        };
        self.consultations.remove(&caller);
        if let Some(refer_on) = refer_on {
            self.endpoint.accept_refer(now, refer_on);
        }
        if let Some(l) = self.legs.get_mut(&leg_b) {
            l.caller = caller;
            l.purpose = LegPurpose::TransferTarget;
            l.state = LegState::Connected;
        }
        if let Some(c) = self.calls.get_mut(&caller) {
            c.phase = Phase::Connected {
                leg: leg_b,
                agent: agent_b.clone(),
                queue: queue.clone(),
            };
        }
        self.record(
            now,
            caller,
            EventKind::TransferRequested {
                agent: agent_a.clone(),
                kind: "attended".into(),
                method: method.to_string(),
                target: consultation.target.clone(),
            },
        );
        self.outputs.push_back(Output::Media(MediaCommand::Bridge {
            a: caller,
            b: leg_b,
        }));
        self.end_hold(now, caller, true);
        self.hand_over(now, caller, &agent_a, &agent_b, &queue);
        if let Some(refer_on) = refer_on {
            self.endpoint.notify_refer(now, refer_on, 200, true);
        }
        self.end_transferor_leg(now, leg_a, refer_on);
        self.end_consultation_dialogs(now, &consultation, Some("attended transfer completed"));
        Ok(())
    }

    /// The caller now talks with `to` instead of `from`: `from` wraps up, `to` talks, and
    /// the record says so.
    fn hand_over(&mut self, now: Instant, caller: CallId, from: &str, to: &str, queue: &str) {
        self.acd.set_state(to, AgentState::Talking { caller }, now);
        self.wrap_up(now, caller, from, queue);
        self.completed_to(now, caller, to);
    }

    /// The record says the caller talks with `to` now, and what context they got.
    fn completed_to(&mut self, now: Instant, caller: CallId, to: &str) {
        self.record(
            now,
            caller,
            EventKind::TransferCompleted {
                agent: to.to_string(),
                kind: "attended".into(),
            },
        );
        let items = self
            .calls
            .get(&caller)
            .map(|c| context_items(&c.context))
            .unwrap_or_default();
        self.record(
            now,
            caller,
            EventKind::ContextHandedOver {
                agent: to.to_string(),
                items,
            },
        );
    }

    /// `agent` stops talking with `caller`: wrap-up as `queue` says.
    fn wrap_up(&mut self, now: Instant, caller: CallId, agent: &str, queue: &str) {
        let wrap_up = self
            .dialplan
            .queues
            .get(queue)
            .map_or(DEFAULT_WRAP_UP, |q| q.wrap_up);
        self.record(
            now,
            caller,
            EventKind::WrapUp {
                agent: agent.to_string(),
                seconds: wrap_up.as_secs() as u32,
            },
        );
        if wrap_up.is_zero() {
            self.acd.set_state(agent, AgentState::Ready, now);
            self.dispatch(now);
        } else {
            self.acd.set_state(
                agent,
                AgentState::WrapUp {
                    until: now + wrap_up,
                },
                now,
            );
        }
    }

    /// The consultation call (BYE, `why` on its record when given) and a colleague's leg
    /// still ringing or left behind end.
    fn end_consultation_dialogs(
        &mut self,
        now: Instant,
        consultation: &Consultation,
        why: Option<&str>,
    ) {
        self.drop_ringing_colleague(now, consultation);
        if let Some(consult) = consultation.call {
            if let Some(phase) = self.calls.get(&consult).map(|c| c.phase.clone()) {
                if phase == Phase::Leaving {
                    return;
                }
                let colleague = match phase {
                    Phase::Connected { leg, .. } => Some(leg),
                    _ => None,
                };
                // `end_call_quietly` leaves C's colleague alone: handed over, or ended here.
                if let Some(leg) = colleague {
                    let left_behind = self.legs.get(&leg).filter(|l| l.caller == consult);
                    if let Some(agent) = left_behind.map(|l| l.agent.clone()) {
                        self.end_leg(now, leg);
                        self.acd.set_state(&agent, AgentState::Ready, now);
                        self.dispatch(now);
                    }
                }
                self.leave_queue(now, consult, "caller_left");
                self.record(
                    now,
                    consult,
                    EventKind::Hangup {
                        by: Party::Switch,
                        reason: why.unwrap_or("consultation over").to_string(),
                    },
                );
                self.end_call_quietly(now, consult, "completed");
            }
        } else if let Some(leg) = consultation.colleague_leg {
            let still_ours = self
                .legs
                .get(&leg)
                .is_some_and(|l| l.purpose == LegPurpose::Consultation);
            if still_ours {
                self.end_leg(now, leg);
                if let ConsultTarget::Agent(b) = &consultation.to {
                    if consultation.answered {
                        self.acd.set_state(b, AgentState::Ready, now);
                    }
                }
            }
        }
    }

    /// The colleague's phone still rings: CANCEL it and give the colleague back their state.
    fn drop_ringing_colleague(&mut self, now: Instant, consultation: &Consultation) {
        let Some(leg) = consultation.colleague_leg else {
            return;
        };
        let ringing = self
            .legs
            .get(&leg)
            .is_some_and(|l| l.state == LegState::Ringing);
        if !ringing {
            return;
        }
        if let Some(l) = self.legs.get_mut(&leg) {
            l.state = LegState::Cancelling;
        }
        self.clear_leg_timer(leg);
        self.endpoint.cancel(now, leg);
        self.restore_colleague(now, consultation);
    }

    /// The colleague's leg goes, whatever its state.
    fn drop_colleague(&mut self, now: Instant, consultation: &Consultation) {
        self.drop_ringing_colleague(now, consultation);
        if let Some(leg) = consultation.colleague_leg {
            if self
                .legs
                .get(&leg)
                .is_some_and(|l| l.state != LegState::Cancelling)
            {
                self.end_leg(now, leg);
                if let ConsultTarget::Agent(b) = &consultation.to {
                    self.acd.set_state(b, AgentState::Ready, now);
                }
            }
        }
    }

    fn restore_colleague(&mut self, now: Instant, consultation: &Consultation) {
        let (ConsultTarget::Agent(b), Some(was)) = (&consultation.to, &consultation.colleague_was)
        else {
            return;
        };
        let ringing = matches!(
            self.acd.agent(b).map(|a| &a.state),
            Some(AgentState::Ringing { .. })
        );
        if ringing {
            self.acd.set_state(b, was.clone(), now);
            self.dispatch(now);
        }
    }

    /// The colleague (or the consultation's target) cannot be reached: from the phone, the
    /// agent hears `busy` and the consultation call ends; by keys, the agent is back with
    /// the caller. The caller stays held with the agent (the phone resumes it).
    fn consultation_failed(
        &mut self,
        now: Instant,
        caller: CallId,
        reason: &str,
        status: Option<u16>,
    ) {
        let Some(consultation) = self.consultations.remove(&caller) else {
            return;
        };
        self.drop_ringing_colleague(now, &consultation);
        self.record(
            now,
            caller,
            EventKind::TransferFailed {
                target: consultation.target.clone(),
                reason: reason.to_string(),
                status,
            },
        );
        match consultation.call {
            Some(consult) => {
                self.stop_prompts(now, consult);
                self.close_with(now, consult, &format!("consultation {reason}"), "busy");
            }
            None if consultation.handed_over => {
                // The transferring agent has gone: the caller goes back to the front of
                // their queue, with an apology.
                let queue = match self.calls.get(&caller).map(|c| &c.phase) {
                    Some(Phase::Connected { queue, .. }) => queue.clone(),
                    _ => String::new(),
                };
                self.requeue_at_front(now, caller, &queue, "transfer_requeue");
            }
            None => self.back_to_caller(now, caller, consultation.agent_leg),
        }
    }

    /// Semi-attended: the REFER on `refer_on` came while the colleague's phone still rings
    /// (the consultation call hears ringback, so the phone thinks it connected). The agent
    /// is done — the REFER is answered, LA and C end, the agent wraps up — and the caller,
    /// still hearing the hold, is joined with the colleague when they answer. Err (nothing
    /// changed) when the colleague is not ringing for this consultation.
    fn hand_over_ringing(
        &mut self,
        now: Instant,
        caller: CallId,
        refer_on: CallId,
    ) -> Result<(), ()> {
        let consultation = self.consultations.get(&caller).cloned().ok_or(())?;
        let (Some(leg_b), Some(_)) = (consultation.colleague_leg, consultation.call) else {
            return Err(());
        };
        let agent_b = &consultation.to.leg_agent();
        if !self
            .legs
            .get(&leg_b)
            .is_some_and(|l| l.state == LegState::Ringing)
        {
            return Err(());
        }
        let Some(Phase::Connected {
            leg: leg_a,
            agent: agent_a,
            queue,
        }) = self.calls.get(&caller).map(|c| c.phase.clone())
        else {
            return Err(());
        };
        self.endpoint.accept_refer(now, refer_on);
        if let Some(l) = self.legs.get_mut(&leg_b) {
            l.caller = caller;
        }
        if let Some(c) = self.calls.get_mut(&caller) {
            c.phase = Phase::Connected {
                leg: leg_b,
                agent: agent_b.clone(),
                queue: queue.clone(),
            };
        }
        if matches!(
            self.acd.agent(agent_b).map(|a| &a.state),
            Some(AgentState::Ringing { .. })
        ) {
            self.acd
                .set_state(agent_b, AgentState::Ringing { caller }, now);
        }
        self.record(
            now,
            caller,
            EventKind::TransferRequested {
                agent: agent_a.clone(),
                kind: "attended".into(),
                method: "refer".into(),
                target: consultation.target.clone(),
            },
        );
        self.wrap_up(now, caller, &agent_a, &queue);
        self.endpoint.notify_refer(now, refer_on, 200, true);
        self.end_transferor_leg(now, leg_a, Some(refer_on));
        if let Some(c) = self.consultations.get_mut(&caller) {
            c.handed_over = true;
            c.call = None;
            c.agent_leg = leg_b;
        }
        self.end_consultation_dialogs(
            now,
            &consultation_without_colleague(&consultation),
            Some("attended transfer completed"),
        );
        Ok(())
    }

    /// By keys: the agent's leg hears the caller again, after the hold's thank-you.
    fn back_to_caller(&mut self, now: Instant, caller: CallId, leg: CallId) {
        self.outputs
            .push_back(Output::Media(MediaCommand::Stop { call: leg }));
        self.outputs
            .push_back(Output::Media(MediaCommand::Bridge { a: caller, b: leg }));
        self.end_hold(now, caller, true);
    }

    /// The colleague's phone answered.
    fn colleague_answered(
        &mut self,
        now: Instant,
        caller: CallId,
        leg: CallId,
        answer: Option<&str>,
    ) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        if l.state != LegState::Ringing {
            self.end_leg(now, leg);
            return;
        }
        let on = l.caller;
        let invited_at = l.invited_at;
        let negotiated = match (answer, l.sdp.as_mut()) {
            (Some(answer), Some(session)) => Some(session.accept_answer(answer)),
            (answer, _) => answer.map(sdp::accept_answer),
        };
        let Some(Ok(media)) = negotiated else {
            tracing::warn!(leg = %leg, "colleague's answer has no usable SDP");
            if let Some(l) = self.legs.get_mut(&leg) {
                // Answered: a BYE ends it, not a CANCEL.
                l.state = LegState::Connected;
            }
            self.end_leg(now, leg);
            self.consultation_failed(now, caller, "failed", None);
            return;
        };
        let port = l.rtp_port;
        l.media = Some(media);
        l.media_started = true;
        self.clear_leg_timer(leg);
        let signalling_host = self.legs.get(&leg).map(|l| l.signalling_host);
        let options = self.leg_options(on, LegRole::Agent, &media, signalling_host);
        self.outputs.push_back(Output::Media(MediaCommand::Start {
            call: leg,
            local_port: port,
            remote: media.remote,
            codec: media.codec,
            payload_type: media.payload_type,
            telephone_event: media.telephone_event,
            options,
        }));
        let Some(consultation) = self.consultations.get_mut(&caller) else {
            return;
        };
        consultation.answered = true;
        let colleague = consultation.to.leg_agent();
        let (consult, agent_leg) = (consultation.call, consultation.agent_leg);
        if consultation.handed_over {
            // Semi-attended: the caller was waiting for exactly this answer.
            self.consultations.remove(&caller);
            if let Some(l) = self.legs.get_mut(&leg) {
                l.state = LegState::Connected;
                l.purpose = LegPurpose::TransferTarget;
            }
            self.outputs
                .push_back(Output::Media(MediaCommand::Bridge { a: caller, b: leg }));
            self.end_hold(now, caller, true);
            self.acd
                .set_state(&colleague, AgentState::Talking { caller }, now);
            self.completed_to(now, caller, &colleague);
            return;
        }
        self.acd
            .set_state(&colleague, AgentState::Talking { caller: on }, now);
        match consult {
            Some(consult) => {
                let queue = match self.calls.get(&caller).map(|c| &c.phase) {
                    Some(Phase::Connected { queue, .. }) => queue.clone(),
                    _ => String::new(),
                };
                let rings = self
                    .dialplan
                    .standards
                    .ring_cadence
                    .rings_started(now - invited_at);
                let waited = self
                    .calls
                    .get(&consult)
                    .map_or(Duration::ZERO, |c| now - c.invited_at);
                self.record(
                    now,
                    consult,
                    EventKind::AgentAnswered {
                        agent: colleague.clone(),
                        rings,
                        wait_ms: waited.as_millis() as u64,
                    },
                );
                if let Some(c) = self.calls.get_mut(&consult) {
                    c.phase = Phase::Connected {
                        leg,
                        agent: colleague,
                        queue,
                    };
                }
                self.bridge(now, leg);
            }
            None => {
                if let Some(l) = self.legs.get_mut(&leg) {
                    l.state = LegState::Connected;
                }
                self.outputs
                    .push_back(Output::Media(MediaCommand::Stop { call: agent_leg }));
                self.outputs.push_back(Output::Media(MediaCommand::Bridge {
                    a: agent_leg,
                    b: leg,
                }));
            }
        }
    }

    /// The colleague hung up. From the phone, the consultation call ends as any call whose
    /// agent hangs up (false: `on_leg_bye` does it); by keys, the agent is back with the
    /// caller.
    fn colleague_left(&mut self, now: Instant, caller: CallId, leg: CallId) -> bool {
        let Some(consultation) = self.consultations.remove(&caller) else {
            return false;
        };
        if consultation.call.is_some() {
            return false;
        }
        let queue = match self.calls.get(&caller).map(|c| &c.phase) {
            Some(Phase::Connected { queue, .. }) => queue.clone(),
            _ => String::new(),
        };
        self.forget_leg(leg);
        if let ConsultTarget::Agent(colleague) = &consultation.to {
            self.wrap_up(now, caller, colleague, &queue);
        }
        // An outside party has no wrap-up.
        self.back_to_caller(now, caller, consultation.agent_leg);
        true
    }

    /// Ring `colleague`'s phone for the consultation of `caller`, on behalf of `on` (C, or
    /// the caller itself by keys). False when the colleague is busy or unreachable.
    fn ring_colleague(
        &mut self,
        now: Instant,
        caller: CallId,
        on: CallId,
        to: &ConsultTarget,
        codec: Codec,
    ) -> bool {
        let colleague = to.leg_agent();
        let colleague = colleague.as_str();
        let (was, binding) = match to {
            ConsultTarget::Agent(id) => {
                let Some(agent) = self.acd.agent(id) else {
                    return false;
                };
                if matches!(
                    agent.state,
                    AgentState::Talking { .. } | AgentState::Ringing { .. }
                ) {
                    return false;
                }
                let binding = self.endpoint.bindings(&agent.spec.user).into_iter().next();
                (Some(agent.state.clone()), binding)
            }
            ConsultTarget::Outside { number, trunk } => (
                None,
                Some(Binding {
                    user: number.clone(),
                    contact: format!("sip:{number}@{trunk}"),
                    address: *trunk,
                    transport: Transport::Udp,
                    expires_at: now,
                }),
            ),
            ConsultTarget::Queue(_) => return false,
        };
        let Some(consultant) = self
            .consultations
            .get(&caller)
            .and_then(|c| self.acd.agent(&c.agent))
            .map(|a| (a.spec.extension.clone(), a.spec.name.clone()))
        else {
            return false;
        };
        let Some(binding) = binding else {
            return false;
        };
        let Some(port) = self.rtp_ports.allocate() else {
            return false;
        };
        let mut session = SdpSession::new(
            SocketAddr::new(self.settings.media_ip, port),
            u64::from(port),
        );
        let offer = session.offer_preferring(codec, Direction::SendRecv);
        let leg = self
            .endpoint
            .invite(now, &binding, &consultant.0, &consultant.1, &offer);
        self.opens.push_back(MediaCommand::Open {
            call: leg,
            local_port: port,
            conversation: self.conversation_of(caller),
            expect_from: None,
        });
        self.legs.insert(
            leg,
            AgentLeg {
                caller: on,
                agent: colleague.to_string(),
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
                purpose: LegPurpose::Consultation,
                keys: KeySequence::default(),
                signalling_host: binding.address.ip(),
            },
        );
        let deadline = now + self.dialplan.standards.answer_deadline();
        if let Some(l) = self.legs.get_mut(&leg) {
            l.timer = Some(deadline);
        }
        self.timers.insert((deadline, leg));
        if was == Some(AgentState::Ready) {
            self.acd
                .set_state(colleague, AgentState::Ringing { caller: on }, now);
        }
        if let Some(c) = self.consultations.get_mut(&caller) {
            c.colleague_leg = Some(leg);
            c.colleague_was = was;
        }
        true
    }

    fn clear_leg_timer(&mut self, leg: CallId) {
        if let Some(at) = self.legs.get_mut(&leg).and_then(|l| l.timer.take()) {
            self.timers.remove(&(at, leg));
        }
    }

    /// The consultation call hears ringback on a loop.
    fn play_ringback(&mut self, now: Instant, call: CallId) {
        let language = self.language_of(call);
        let Some(id) = self.find_prompt(call, "ringback", &language) else {
            tracing::warn!(call = %call, "prompt ringback missing");
            return;
        };
        self.stop_prompts(now, call);
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

    /// An agent's leg hears `name` (in the caller's language), once or on a loop.
    fn play_on_leg(&mut self, now: Instant, caller: CallId, leg: CallId, name: &str, looped: bool) {
        let _ = now;
        let language = self.language_of(caller);
        let Some(prompt) = self.find_prompt(caller, name, &language) else {
            tracing::warn!(prompt = name, "prompt missing");
            return;
        };
        let play = self.next_play();
        let command = if looped {
            MediaCommand::PlayLoop {
                call: leg,
                prompt,
                play,
            }
        } else {
            MediaCommand::PlayMixed {
                call: leg,
                prompt,
                play,
            }
        };
        self.outputs.push_back(Output::Media(command));
    }

    /// A refused attended transfer, on the caller's record (the caller is kept).
    fn transfer_refused(&mut self, now: Instant, caller: CallId, reason: &str, status: u16) {
        self.record(
            now,
            caller,
            EventKind::TransferFailed {
                target: "replaces".into(),
                reason: reason.to_string(),
                status: Some(status),
            },
        );
    }

    /// The caller `agent` talks with now, and the agent's leg to them.
    fn talking_with(&self, agent: &str) -> Option<(CallId, CallId)> {
        let AgentState::Talking { caller } = self.acd.agent(agent)?.state else {
            return None;
        };
        match &self.calls.get(&caller)?.phase {
            Phase::Connected { leg, agent: a, .. } if a == agent => Some((caller, *leg)),
            _ => None,
        }
    }

    /// What a number dialled during a call reaches: an agent's extension, or a queue's
    /// transfer number.
    pub(super) fn consult_target(&self, number: &str) -> Option<ConsultTarget> {
        if number.is_empty() {
            return None;
        }
        if let Some(agent) = self.acd.agents().find(|a| a.spec.extension == number) {
            return Some(ConsultTarget::Agent(agent.spec.id.clone()));
        }
        let transfer = &self.dialplan.transfer;
        if let Some(queue) = transfer.numbers.get(number) {
            return self
                .dialplan
                .queues
                .contains_key(queue)
                .then(|| ConsultTarget::Queue(queue.clone()));
        }
        let outside = transfer.outside.as_ref()?;
        let rest = number.strip_prefix(outside.prefix.as_str())?;
        // Digits (and a leading +) only: the number goes into a Request-URI.
        let dialable = !rest.is_empty()
            && rest.len() <= 32
            && rest
                .char_indices()
                .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == '+'));
        dialable.then(|| ConsultTarget::Outside {
            number: rest.to_string(),
            trunk: outside.trunk,
        })
    }

    /// Our call or leg a `Replaces` names: the endpoint's dialogs first, then the
    /// consultation calls by their Call-ID (when the phone left the tags out).
    fn dialog_named(&self, dialog: &DialogRef) -> Option<CallId> {
        self.endpoint.find_dialog(dialog).or_else(|| {
            self.consultations
                .values()
                .find(|c| c.call_sip_id.as_deref() == Some(dialog.call_id.as_str()))
                .and_then(|c| c.call)
        })
    }

    /// The held caller whose consultation call is `call`.
    fn consultation_of_call(&self, call: CallId) -> Option<CallId> {
        self.consultations
            .iter()
            .find(|(_, c)| c.call == Some(call))
            .map(|(caller, _)| *caller)
    }

    /// The held caller whose consultation rang the colleague on `leg`.
    fn consultation_of_leg(&self, leg: CallId) -> Option<CallId> {
        self.consultations
            .iter()
            .find(|(_, c)| c.colleague_leg == Some(leg))
            .map(|(caller, _)| *caller)
    }

    /// The held caller whose agent consults by keys from `leg`.
    fn consultation_by_agent_leg(&self, leg: CallId) -> Option<CallId> {
        self.consultations
            .iter()
            .find(|(_, c)| c.agent_leg == leg && c.call.is_none())
            .map(|(caller, _)| *caller)
    }

    fn codec_of_call(&self, call: CallId) -> Codec {
        self.calls
            .get(&call)
            .and_then(|c| c.media)
            .map_or(Codec::Pcmu, |m| m.codec)
    }

    /// A call entry for the consultation call `call` (its own record, the held caller's
    /// conversation, hotline and language) with its SDP answer ready. False when it was
    /// refused instead (no port, unusable offer).
    fn open_consultation_call(
        &mut self,
        now: Instant,
        call: CallId,
        incoming: &Incoming,
        caller: CallId,
    ) -> bool {
        let Some(held) = self.calls.get(&caller) else {
            return false;
        };
        let (hotline, language, conversation) = (
            held.hotline.clone(),
            held.language.clone(),
            held.conversation,
        );
        self.calls_seen += 1;
        let wall = self.wall(now);
        let record_id = format!(
            "{}-{:04}",
            wall.strftime("%Y%m%d-%H%M%S"),
            self.calls_seen % 10_000
        );
        self.outputs
            .push_back(Output::Record(RecordCommand::Begin(NewCall {
                id: record_id.clone(),
                sip_call_id: incoming.sip_call_id.clone(),
                from: incoming.from.clone(),
                to: incoming.to.clone(),
                hotline: None,
                started_at: wall,
            })));
        self.calls.insert(
            call,
            Call {
                record_id,
                caller_number: super::user_of(&incoming.from),
                invited_at: now,
                phase: Phase::Alerting { answer_at: now },
                standards: self.dialplan.standards.clone(),
                hotline,
                language,
                entry_flow: None,
                rtp_port: 0,
                local_sdp: String::new(),
                media: None,
                media_started: false,
                media_opened: false,
                awaiting_ack: false,
                inband_dtmf: false,
                signalling_host: incoming.source.ip(),
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
                conversation,
                context: CallContext::default(),
                hold: None,
                transfer: None,
                chosen_hold_reason: None,
                requeued: false,
                recording: None,
            },
        );
        self.record(
            now,
            call,
            EventKind::Invite {
                from: incoming.from.clone(),
                to: incoming.to.clone(),
            },
        );
        let Some(port) = self.rtp_ports.allocate() else {
            self.reject(now, call, 503, Some(5), "out of RTP ports");
            return false;
        };
        let local_rtp = SocketAddr::new(self.settings.media_ip, port);
        let mut session = SdpSession::new(local_rtp, self.calls_seen);
        let (local_sdp, media) = match incoming.offer.as_deref() {
            Some(offer) => match session.answer(offer) {
                Ok(answer) => (answer, session.negotiated()),
                Err(error) => {
                    self.rtp_ports.release(port);
                    let (status, reason) = match error {
                        SdpError::Malformed(_) => (400, "malformed SDP offer"),
                        SdpError::NoAudio => (488, "no audio stream in the offer"),
                        SdpError::NoCommonCodec => (488, "no common codec (PCMU/PCMA)"),
                    };
                    self.reject(now, call, status, None, reason);
                    return false;
                }
            },
            None => (session.offer(Direction::SendRecv), None),
        };
        if let Some(c) = self.calls.get_mut(&call) {
            c.rtp_port = port;
            c.local_sdp = local_sdp;
            c.media = media;
            c.sdp = Some(session);
        }
        true
    }
}

/// What of the caller's context the next agent gets (names of the items known).
fn context_items(context: &CallContext) -> Vec<String> {
    let mut items = Vec::new();
    if !context.ivr_path.is_empty() {
        items.push("ivr_path".to_string());
    }
    if context.account.is_some() {
        items.push("account".to_string());
    }
    if context.tier.is_some() {
        items.push("tier".to_string());
    }
    if context.identity_verified {
        items.push("identity_verified".to_string());
    }
    if !context.hold_reasons.is_empty() {
        items.push("hold_reasons".to_string());
    }
    if !context.transfers.is_empty() {
        items.push("transfers".to_string());
    }
    if context.transferred_by.is_some() {
        items.push("transferred_by".to_string());
    }
    if !context.agents.is_empty() {
        items.push("agents".to_string());
    }
    items
}

/// The consultation as far as its dialogs go, the colleague's leg left out (handed over).
fn consultation_without_colleague(consultation: &Consultation) -> Consultation {
    Consultation {
        colleague_leg: None,
        ..consultation.clone()
    }
}

impl Switch {
    /// The transferring agent's leg after a completed attended transfer: when the REFER came
    /// on it, its final NOTIFY must reach the phone first (one NOTIFY at a time, and none
    /// after our BYE), so the phone gets `TRANSFEROR_GRACE` to hang up by itself, as phones
    /// do after a successful transfer; otherwise it ends now.
    fn end_transferor_leg(&mut self, now: Instant, leg_a: CallId, refer_on: Option<CallId>) {
        if refer_on == Some(leg_a) {
            self.set_leg_timer(leg_a, Some(now + super::transfer::TRANSFEROR_GRACE));
        } else {
            self.end_leg(now, leg_a);
        }
    }
}
