//! What the switch does when a call's media goes wrong under it: the far end of a leg stops
//! sending RTP and RTCP (its network died without a BYE), reported by the media engine as
//! `MediaEvent::MediaTimeout`. A third `impl Switch` beside `mod.rs` and `queueing.rs`.

use std::time::Instant;

use super::queueing::LegState;
use super::timeline::{EventKind, Party};
use super::Switch;
use crate::sip::CallId;

/// The call record's outcome for a call ended because a side went silent.
pub(super) const MEDIA_TIMEOUT_OUTCOME: &str = "media_timeout";

impl Switch {
    /// The caller sent nothing for the media timeout: BYE to the caller, and, when an agent
    /// was talking to them, BYE to the agent's phone and wrap-up as after any hang-up.
    pub(super) fn on_media_timeout(&mut self, now: Instant, call: CallId, silent_ms: u64) {
        if !self.calls.get(&call).is_some_and(|c| c.media_started) {
            return;
        }
        self.record(
            now,
            call,
            EventKind::MediaTimeout {
                side: Party::Caller,
                silent_ms,
            },
        );
        self.hang_up_with(
            now,
            call,
            &format!("no audio from the caller for {} s", silent_ms / 1000),
            MEDIA_TIMEOUT_OUTCOME,
        );
    }

    /// The agent's phone sent nothing for the media timeout: the agent leg ends (BYE to the
    /// phone), the agent is set not ready, and a bridged caller is kept: an apology, then
    /// back to the front of the queue (issue 8, "interrupted and re-answered"). A leg that
    /// is not a caller's connected one ends the call, as before.
    pub(super) fn on_leg_media_timeout(&mut self, now: Instant, leg: CallId, silent_ms: u64) {
        let Some(l) = self.legs.get(&leg) else {
            return;
        };
        if !matches!(l.state, LegState::Whisper | LegState::Connected) {
            return;
        }
        let caller = l.caller;
        self.record(
            now,
            caller,
            EventKind::MediaTimeout {
                side: Party::Agent,
                silent_ms,
            },
        );
        if self.agent_leg_lost(now, leg, "media_timeout") {
            return;
        }
        self.hang_up_with(
            now,
            caller,
            &format!("no audio from the agent's phone for {} s", silent_ms / 1000),
            MEDIA_TIMEOUT_OUTCOME,
        );
    }
}
