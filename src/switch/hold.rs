//! Hold with an explanation (STANDARDS.md §2): when an agent's desk phone holds the caller
//! (re-INVITE or UPDATE with sendonly, inactive or c=0.0.0.0 on the agent's leg), the caller
//! hears the reason and how long, music, a check-back every N seconds, an apology with a
//! fresh estimate past the expected duration; the agent is reminded past the maximum; on
//! resume the caller hears "thank you for waiting" before the agent. Hold is a change of the
//! caller leg's source, never a renegotiation of the caller's SDP.
//!
//! Also owns a bridged call's agent leg lost under it (phone gone, media timeout, media or
//! SIP failure): the caller is not cut off but apologised to and put back at the front of
//! the queue (`requeue_at_front`).
//!
//! Schedules (all on the caller's call timer): check-backs every `hold.check_back` after the
//! last thing the caller was told; the overrun apology at the reason's expected duration
//! after the reason was given, then again each time its fresh estimate passes; one reminder
//! to the agent at `hold.max` after the hold began.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use super::acd::AgentState;
use super::queueing::QueueWait;
use super::timeline::{EventKind, Party};
use super::{MediaCommand, Output, Phase, Switch};
use crate::config::HoldReason;
use crate::media::prompt::PromptId;
use crate::media::PlayId;
use crate::sip::CallId;

/// A caller's hold in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HoldExplanation {
    pub since: Instant,
    /// The agent who held the caller, and their leg.
    pub agent: String,
    pub leg: CallId,
    /// The reason the caller was told, and how long it was said to take.
    pub reason: String,
    pub expected: Duration,
    pub check_backs: u32,
    pub next_check_back: Option<Instant>,
    pub next_overrun: Option<Instant>,
    /// When the agent is reminded (`None` once done).
    pub reminder_at: Option<Instant>,
    /// The switch held the caller (attended-transfer keys), not the agent's phone.
    pub by_switch: bool,
    /// The rest of the reminder whisper to the agent, and the play of the part playing.
    pub agent_prompts: VecDeque<PromptId>,
    pub agent_play: Option<PlayId>,
}

/// The prompts that say a duration: "N minutes" (rounded up), or "less than a minute".
pub(super) fn duration_prompts(d: Duration) -> Vec<String> {
    if d < Duration::from_secs(60) {
        return vec!["less_than_a_minute".into()];
    }
    let minutes = d.as_secs().div_ceil(60);
    let mut names: Vec<String> = minutes
        .to_string()
        .chars()
        .map(|c| format!("digit_{c}"))
        .collect();
    names.push("minutes".into());
    names
}

/// The fresh estimate said when a hold outlasts its reason: half the expected duration,
/// rounded up to whole minutes, at least one minute.
pub(super) fn overrun_estimate(expected: Duration) -> Duration {
    let minutes = (expected.as_secs() / 2).div_ceil(60).max(1);
    Duration::from_secs(minutes * 60)
}

impl Switch {
    /// The agent's phone on `leg` stopped sending to us (it holds the caller).
    pub(super) fn on_agent_hold(&mut self, now: Instant, leg: CallId) {
        let Some(caller) = self.connected_caller_of(leg) else {
            return;
        };
        self.start_hold(now, caller, false);
    }

    /// The agent's phone on `leg` takes the caller back.
    pub(super) fn on_agent_resume(&mut self, now: Instant, leg: CallId) {
        let Some(caller) = self.connected_caller_of(leg) else {
            return;
        };
        self.end_hold(now, caller, true);
    }

    /// A prompt on a connected caller's leg finished (hold explanations, check-backs,
    /// the thank-you; a transfer's explanation, which the new agent may be waiting out).
    pub(super) fn on_connected_prompt_finished(&mut self, now: Instant, call: CallId) {
        self.bridge_awaiting_agent(now, call);
        let idle = self
            .calls
            .get(&call)
            .is_some_and(|c| c.hold.is_some() && c.playing.is_none());
        if idle {
            self.start_hold_music(call);
        }
    }

    /// The call timer of a connected caller fired (check-back, overrun, reminder).
    pub(super) fn on_connected_timer(&mut self, now: Instant, call: CallId) {
        let Some(hold) = self.calls.get(&call).and_then(|c| c.hold.clone()) else {
            return;
        };
        let check_back = self.dialplan.hold.check_back;
        if hold.reminder_at.is_some_and(|at| at <= now) {
            self.remind_agent(now, call, &hold);
        }
        if hold.next_overrun.is_some_and(|at| at <= now) {
            let estimate = overrun_estimate(hold.expected);
            self.record(
                now,
                call,
                EventKind::HoldOverrun {
                    reason: hold.reason.clone(),
                    estimate_s: estimate.as_secs() as u32,
                },
            );
            let mut names = vec!["hold_overrun".to_string()];
            names.extend(duration_prompts(estimate));
            names.push("thanks_patience".into());
            self.say_during_hold(now, call, &names);
            if let Some(h) = self.calls.get_mut(&call).and_then(|c| c.hold.as_mut()) {
                h.next_overrun = Some(now + estimate);
                // The apology tells the caller more than a check-back would: the next one
                // counts from it.
                h.next_check_back = (!check_back.is_zero()).then(|| now + check_back);
            }
        } else if hold.next_check_back.is_some_and(|at| at <= now) {
            let number = hold.check_backs + 1;
            if let Some(h) = self.calls.get_mut(&call).and_then(|c| c.hold.as_mut()) {
                h.check_backs = number;
                h.next_check_back = Some(now + check_back);
            }
            self.record(now, call, EventKind::HoldCheckBack { number });
            self.say_during_hold(now, call, &["hold_checkback".to_string()]);
        }
        self.arm_hold_timer(call);
    }

    /// Ends the caller's hold, if any (resume, transfer, join, hang-up): the music stops,
    /// `HoldEnded` is recorded, and with `thank` the caller hears "thank you for waiting"
    /// (the bridged agent's audio follows when it ends).
    ///
    /// With `thank` the agent hears the same thank-you at the same moment, over the caller's
    /// line (`PlayMixed`): they know when the caller can hear them, so their first words
    /// come after it and are not cut.
    pub(super) fn end_hold(&mut self, now: Instant, caller: CallId, thank: bool) {
        let Some(c) = self.calls.get_mut(&caller) else {
            return;
        };
        let Some(hold) = c.hold.take() else {
            return;
        };
        // A reason chosen by keys is for this hold; the next one starts from the default.
        c.chosen_hold_reason = None;
        self.record(
            now,
            caller,
            EventKind::HoldEnded {
                reason: hold.reason.clone(),
                duration_ms: super::millis(now.saturating_duration_since(hold.since)),
                check_backs: hold.check_backs,
            },
        );
        self.stop_prompts(now, caller);
        self.set_timer(caller, None);
        if !thank {
            return;
        }
        let language = self.language_of(caller);
        self.queue_prompt(now, caller, "hold_return", &language);
        if let Some(leg) = self.connected_leg_of(caller) {
            self.play_mixed_to_agent(caller, leg, "hold_return");
        }
    }

    /// The switch itself holds `caller` (the agent pressed the attended-transfer keys and is
    /// consulting a colleague): the same explanation, music and check-backs as a hold from
    /// the phone.
    pub(super) fn hold_by_switch(&mut self, now: Instant, caller: CallId) {
        if self.connected_leg_of(caller).is_none()
            || self.calls.get(&caller).is_some_and(|c| c.hold.is_some())
        {
            return;
        }
        self.record(now, caller, EventKind::Hold { by: Party::Switch });
        self.start_hold(now, caller, true);
    }

    /// `caller` lost its agent (agent leg gone without a hang-up, or a transfer that found
    /// nobody): it hears `apology` and goes back into `queue` at the front, and the next
    /// agent's whisper says it was reconnected. Records `Requeued`.
    pub(super) fn requeue_at_front(
        &mut self,
        now: Instant,
        caller: CallId,
        queue: &str,
        apology: &str,
    ) {
        let Some(settings) = self.dialplan.queues.get(queue).cloned() else {
            self.hang_up(now, caller, &format!("no queue {queue}"));
            return;
        };
        let Some(c) = self.calls.get_mut(&caller) else {
            return;
        };
        if c.phase == Phase::Leaving {
            return;
        }
        c.requeued = true;
        let number = c.caller_number.clone();
        let (priority, _tier) = self.dialplan.priority_of(&number);
        self.acd.enqueue_front(queue, caller, priority, now);
        self.record(
            now,
            caller,
            EventKind::Requeued {
                queue: queue.to_string(),
            },
        );
        let wait = QueueWait {
            queue: queue.to_string(),
            entered: now,
            waiting_since: now,
            priority,
            tried: BTreeSet::new(),
            offers: Vec::new(),
            announce_at: now + settings.announce_every,
            exit_at: now + settings.max_wait.saturating_sub(settings.exit_notice),
            callback_offered: None,
            // Noted by the dispatch below when nobody is taking the queue's calls.
            unstaffed_exit_at: None,
        };
        let timer = wait.next_due();
        if let Some(c) = self.calls.get_mut(&caller) {
            c.phase = Phase::Queued(Box::new(wait));
        }
        self.stop_prompts(now, caller);
        let language = self.language_of(caller);
        if !self.queue_prompt(now, caller, apology, &language) {
            self.start_music(caller);
        }
        self.set_timer(caller, Some(timer));
        self.dispatch(now);
    }

    /// The agent leg of a bridged call is gone without the agent hanging up (`reason`:
    /// "media_timeout", "failed"): the dead leg gets BYE, the agent is set not ready (a
    /// phone that vanished cannot take the next call) and the caller goes back to the front
    /// of the queue with an apology. False when `leg` is not a caller's connected leg.
    pub(super) fn agent_leg_lost(&mut self, now: Instant, leg: CallId, reason: &str) -> bool {
        let Some(caller) = self.connected_caller_of(leg) else {
            return false;
        };
        let Some(Phase::Connected { agent, queue, .. }) =
            self.calls.get(&caller).map(|c| c.phase.clone())
        else {
            return false;
        };
        tracing::warn!(%agent, reason, "agent leg lost; the caller is queued again");
        self.record(
            now,
            caller,
            EventKind::AgentLegLost {
                agent: agent.clone(),
                reason: reason.to_string(),
            },
        );
        self.end_hold(now, caller, false);
        self.end_leg(now, leg);
        self.acd.set_state(
            &agent,
            AgentState::NotReady {
                reason: "lost".into(),
            },
            now,
        );
        self.requeue_at_front(now, caller, &queue, "reconnect_apology");
        true
    }

    /// The reconnect whisper for the next agent of a requeued caller (once).
    pub(super) fn take_reconnect_whisper(&mut self, caller: CallId) -> Option<String> {
        let c = self.calls.get_mut(&caller)?;
        std::mem::take(&mut c.requeued).then(|| "whisper_reconnect".to_string())
    }

    /// A prompt on an agent's leg finished: the reminder whisper goes on if it was its part.
    pub(super) fn on_agent_prompt_finished(&mut self, leg: CallId, play: PlayId) {
        let Some(caller) = self.connected_caller_of(leg) else {
            return;
        };
        let Some(hold) = self.calls.get_mut(&caller).and_then(|c| c.hold.as_mut()) else {
            return;
        };
        if hold.agent_play != Some(play) {
            return;
        }
        hold.agent_play = None;
        let Some(prompt) = hold.agent_prompts.pop_front() else {
            return;
        };
        let play = self.next_play();
        if let Some(h) = self.calls.get_mut(&caller).and_then(|c| c.hold.as_mut()) {
            h.agent_play = Some(play);
        }
        self.outputs
            .push_back(Output::Media(MediaCommand::PlayMixed {
                call: leg,
                prompt,
                play,
            }));
    }

    /// The caller whose connected agent leg `leg` is.
    pub(super) fn connected_caller_of(&self, leg: CallId) -> Option<CallId> {
        let caller = self.legs.get(&leg)?.caller;
        (self.connected_leg_of(caller) == Some(leg)).then_some(caller)
    }

    /// The agent leg `caller` is connected to.
    pub(super) fn connected_leg_of(&self, caller: CallId) -> Option<CallId> {
        match self.calls.get(&caller).map(|c| &c.phase) {
            Some(Phase::Connected { leg, .. }) => Some(*leg),
            _ => None,
        }
    }

    /// The reasons agents of `queue` may give, in the queue's order (all by name when the
    /// queue lists none).
    pub(super) fn allowed_hold_reasons(&self, queue: &str) -> Vec<HoldReason> {
        let all = &self.dialplan.hold.reasons;
        match self.dialplan.queues.get(queue) {
            Some(q) if !q.hold_reasons.is_empty() => q
                .hold_reasons
                .iter()
                .filter_map(|name| all.get(name).cloned())
                .collect(),
            _ => all.values().cloned().collect(),
        }
    }

    /// The reason a hold of `caller` (in `queue`) gets: the one chosen by keys, else the
    /// queue's default, else the dialplan's, else the queue's first; with how it was chosen.
    fn hold_reason_for(&self, caller: CallId, queue: &str) -> Option<(HoldReason, &'static str)> {
        let allowed = self.allowed_hold_reasons(queue);
        let find = |name: &str| allowed.iter().find(|r| r.name == name).cloned();
        if let Some(chosen) = self
            .calls
            .get(&caller)
            .and_then(|c| c.chosen_hold_reason.as_deref())
            .and_then(find)
        {
            return Some((chosen, "keys"));
        }
        let queue_default = self
            .dialplan
            .queues
            .get(queue)
            .and_then(|q| q.default_hold_reason.clone());
        queue_default
            .as_deref()
            .and_then(find)
            .or_else(|| find(&self.dialplan.hold.default_reason))
            .or_else(|| allowed.first().cloned())
            .map(|r| (r, "default"))
    }

    fn start_hold(&mut self, now: Instant, caller: CallId, by_switch: bool) {
        let Some(Phase::Connected { leg, agent, queue }) =
            self.calls.get(&caller).map(|c| c.phase.clone())
        else {
            return;
        };
        if self.calls.get(&caller).is_some_and(|c| c.hold.is_some()) {
            return;
        }
        let settings = self.dialplan.hold.clone();
        let reason = self.hold_reason_for(caller, &queue);
        let (name, expected) = reason
            .as_ref()
            .map(|(r, _)| (r.name.clone(), r.expected))
            .unwrap_or_default();
        let hold = HoldExplanation {
            since: now,
            agent: agent.clone(),
            leg,
            reason: name,
            expected,
            check_backs: 0,
            next_check_back: (!settings.check_back.is_zero()).then(|| now + settings.check_back),
            next_overrun: reason.as_ref().map(|_| now + expected),
            reminder_at: (!settings.max.is_zero()).then(|| now + settings.max),
            by_switch,
            agent_prompts: VecDeque::new(),
            agent_play: None,
        };
        if let Some(c) = self.calls.get_mut(&caller) {
            c.hold = Some(hold);
        }
        match reason {
            Some((reason, by)) => self.explain_hold(now, caller, &agent, &reason, by),
            None => {
                self.stop_prompts(now, caller);
                self.start_hold_music(caller);
            }
        }
        self.arm_hold_timer(caller);
    }

    /// "<reason> about N minutes, thank you for your patience", then music (when it ends).
    fn explain_hold(
        &mut self,
        now: Instant,
        caller: CallId,
        agent: &str,
        reason: &HoldReason,
        by: &str,
    ) {
        self.record(
            now,
            caller,
            EventKind::HoldReason {
                agent: agent.to_string(),
                reason: reason.name.clone(),
                expected_s: reason.expected.as_secs() as u32,
                by: by.to_string(),
            },
        );
        let mut names = vec![reason.prompt.clone()];
        names.extend(duration_prompts(reason.expected));
        names.push("thanks_patience".into());
        self.stop_prompts(now, caller);
        self.say_during_hold(now, caller, &names);
    }

    /// The agent chose `reason` with keys during a hold: the caller is told again, and the
    /// overrun counts from now.
    pub(super) fn change_hold_reason(&mut self, now: Instant, caller: CallId, reason: &HoldReason) {
        let check_back = self.dialplan.hold.check_back;
        let Some(h) = self.calls.get_mut(&caller).and_then(|c| c.hold.as_mut()) else {
            return;
        };
        h.reason = reason.name.clone();
        h.expected = reason.expected;
        h.next_overrun = Some(now + reason.expected);
        h.next_check_back = (!check_back.is_zero()).then(|| now + check_back);
        let agent = h.agent.clone();
        self.explain_hold(now, caller, &agent, reason, "keys");
        self.arm_hold_timer(caller);
    }

    /// Prompts for a held caller: the music stops for them; after a prompt they follow it.
    fn say_during_hold(&mut self, now: Instant, caller: CallId, names: &[String]) {
        if self.calls.get(&caller).is_some_and(|c| c.looping) {
            self.stop_prompts(now, caller);
        }
        let language = self.language_of(caller);
        let mut any = false;
        for name in names {
            any |= self.queue_prompt(now, caller, name, &language);
        }
        if !any && self.calls.get(&caller).is_some_and(|c| c.playing.is_none()) {
            self.start_hold_music(caller);
        }
    }

    /// The queue's music on a loop for a held caller.
    fn start_hold_music(&mut self, caller: CallId) {
        let Some(Phase::Connected { queue, .. }) = self.calls.get(&caller).map(|c| c.phase.clone())
        else {
            return;
        };
        let moh = self
            .dialplan
            .queues
            .get(&queue)
            .map(|q| q.moh.clone())
            .unwrap_or_else(|| "moh".into());
        let language = self.language_of(caller);
        let Some(id) = self.find_prompt(caller, &moh, &language) else {
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

    /// "Caller on hold for N minutes" over the agent's line.
    fn remind_agent(&mut self, now: Instant, caller: CallId, hold: &HoldExplanation) {
        let held = now.saturating_duration_since(hold.since);
        self.record(
            now,
            caller,
            EventKind::HoldReminder {
                agent: hold.agent.clone(),
                held_s: held.as_secs() as u32,
            },
        );
        let language = self.language_of(caller);
        let mut names = vec!["whisper_hold_reminder".to_string()];
        names.extend(duration_prompts(held));
        let mut prompts: VecDeque<PromptId> = names
            .iter()
            .filter_map(|n| self.find_prompt(caller, n, &language))
            .collect();
        let first = prompts.pop_front();
        let play = first.map(|_| self.next_play());
        if let Some(h) = self.calls.get_mut(&caller).and_then(|c| c.hold.as_mut()) {
            h.reminder_at = None;
            h.agent_prompts = prompts;
            h.agent_play = play;
        }
        if let (Some(prompt), Some(play)) = (first, play) {
            self.outputs
                .push_back(Output::Media(MediaCommand::PlayMixed {
                    call: hold.leg,
                    prompt,
                    play,
                }));
        }
    }

    /// One prompt over the agent's line (a tone, a thank-you): the agent still hears the
    /// caller under it.
    pub(super) fn play_mixed_to_agent(&mut self, caller: CallId, leg: CallId, name: &str) {
        let language = self.language_of(caller);
        let Some(prompt) = self.find_prompt(caller, name, &language) else {
            tracing::warn!(prompt = name, "prompt missing; skipped");
            return;
        };
        let play = self.next_play();
        self.outputs
            .push_back(Output::Media(MediaCommand::PlayMixed {
                call: leg,
                prompt,
                play,
            }));
    }

    fn arm_hold_timer(&mut self, caller: CallId) {
        let at = self
            .calls
            .get(&caller)
            .and_then(|c| c.hold.as_ref())
            .and_then(|h| {
                [h.next_check_back, h.next_overrun, h.reminder_at]
                    .into_iter()
                    .flatten()
                    .min()
            });
        self.set_timer(caller, at);
    }
}
