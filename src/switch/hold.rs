//! Hold with an explanation (STANDARDS.md §2): when an agent's desk phone holds the caller
//! (re-INVITE or UPDATE with sendonly, inactive or c=0.0.0.0 on the agent's leg), the caller
//! hears the reason and how long, music, a check-back every N seconds, an apology with a
//! fresh estimate past the expected duration; the agent is reminded past the maximum; on
//! resume the caller hears "thank you for waiting" before the agent. Hold is a change of the
//! caller leg's source, never a renegotiation of the caller's SDP.
//!
//! Contract only (issue 8): filled in by the hold piece.

use std::time::Instant;

use super::Switch;
use crate::sip::CallId;

/// A caller's hold in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HoldExplanation {
    pub since: Instant,
}

impl Switch {
    /// The agent's phone on `leg` stopped sending to us (it holds the caller).
    pub(super) fn on_agent_hold(&mut self, now: Instant, leg: CallId) {
        let _ = (now, leg);
    }

    /// The agent's phone on `leg` takes the caller back.
    pub(super) fn on_agent_resume(&mut self, now: Instant, leg: CallId) {
        let _ = (now, leg);
    }

    /// A prompt on a connected caller's leg finished (hold explanations, check-backs,
    /// the thank-you).
    pub(super) fn on_connected_prompt_finished(&mut self, now: Instant, call: CallId) {
        let _ = (now, call);
    }

    /// The call timer of a connected caller fired (check-back, overrun, reminder).
    pub(super) fn on_connected_timer(&mut self, now: Instant, call: CallId) {
        let _ = (now, call);
    }

    /// Ends the caller's hold, if any (resume, transfer, join, hang-up): the music stops,
    /// `HoldEnded` is recorded, and with `thank` the caller hears "thank you for waiting"
    /// (the bridged agent's audio follows when it ends).
    pub(super) fn end_hold(&mut self, now: Instant, caller: CallId, thank: bool) {
        let _ = (now, caller, thank);
    }

    /// The switch itself holds `caller` (the agent pressed the attended-transfer keys and is
    /// consulting a colleague): the same explanation, music and check-backs as a hold from
    /// the phone.
    pub(super) fn hold_by_switch(&mut self, now: Instant, caller: CallId) {
        let _ = (now, caller);
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
        let _ = (now, caller, queue, apology);
    }
}
