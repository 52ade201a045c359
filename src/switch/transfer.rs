//! Transfers from the agent's desk phone: blind (REFER, RFC 3515, or `#1` + number) to an
//! extension, a queue's transfer number or an outside number; the caller hears where they
//! are going and the expected wait, then music or ringback until the target answers within
//! three rings; NOTIFY progress to the transferring phone; recall to the transferring agent
//! (or the front of the original queue) when nobody answers; the call's context on the next
//! agent's whisper and record.
//!
//! Contract only (issue 8): filled in by the transfer piece.

use std::time::Instant;

use super::Switch;
use crate::sip::{CallId, ReferTarget};

/// A caller's transfer in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TransferState {
    /// The agent who asked for it.
    pub by_agent: String,
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
        let _ = (now, target, referred_by);
        self.endpoint.refuse_refer(now, call, 501);
    }

    /// The agent on `leg` pressed the blind-transfer keys and `number`.
    pub(super) fn blind_transfer_by_keys(&mut self, now: Instant, leg: CallId, number: &str) {
        let _ = (now, leg, number);
    }
}
