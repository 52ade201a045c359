//! In-call keys: digit sequences an agent presses on their desk phone during a call (`*4` +
//! reason to choose a hold reason, `#1` + number for a blind transfer, `*2` + number for an
//! attended one, as Asterisk's in-call features do). Digits from an agent's leg are never
//! relayed to the caller; this module collects them (with a timeout between digits) and
//! carries out what they name.
//!
//! Contract only (issue 8): filled in by the hold piece.

use std::time::Instant;

use super::Switch;
use crate::sip::CallId;

/// Digits an agent has pressed so far on one leg.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeySequence {
    pub digits: String,
    pub last_at: Option<Instant>,
}

impl Switch {
    /// A digit from the agent's phone on `leg` (RFC 4733 or SIP INFO).
    pub(super) fn on_agent_key(&mut self, now: Instant, leg: CallId, digit: char) {
        let _ = (now, leg, digit);
    }
}
