//! Attended transfer: an agent holds the caller, calls a colleague or a queue through the
//! switch from the same desk phone (a consultation call, kept in the caller's media
//! conversation), talks, then completes with REFER carrying `Replaces` (RFC 3891, RFC 5589)
//! or the `*2` keys; the switch joins the caller and the colleague and ends the replaced
//! legs. A failed or abandoned consultation returns the agent to the held caller. An INVITE
//! with `Replaces` naming one of our dialogs takes that dialog's place in its conversation.
//!
//! Contract only (issue 8): filled in by the consultation piece.

use std::time::Instant;

use super::{Incoming, Switch};
use crate::sip::{CallId, DialogRef, ReferTarget};

impl Switch {
    /// A new INVITE carries `Replaces`: returns true when it was taken (or refused) here.
    pub(super) fn on_replacing_invite(
        &mut self,
        now: Instant,
        call: CallId,
        incoming: &Incoming,
        replaces: &DialogRef,
    ) -> bool {
        let _ = (now, call, incoming, replaces);
        false
    }

    /// A desk phone's INVITE to an extension or transfer number while its agent has a
    /// caller: returns true when it was taken as a consultation call.
    pub(super) fn on_consultation_invite(
        &mut self,
        now: Instant,
        call: CallId,
        incoming: &Incoming,
    ) -> bool {
        let _ = (now, call, incoming);
        false
    }

    /// A REFER with `Replaces` (attended transfer) on `call`.
    pub(super) fn on_attended_refer(&mut self, now: Instant, call: CallId, target: &ReferTarget) {
        let _ = target;
        self.endpoint.refuse_refer(now, call, 501);
    }

    /// The agent on `leg` pressed the attended-transfer keys and `number`.
    pub(super) fn attended_transfer_by_keys(&mut self, now: Instant, leg: CallId, number: &str) {
        let _ = (now, leg, number);
    }
}
