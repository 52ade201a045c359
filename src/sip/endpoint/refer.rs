//! Call transfer requests (RFC 3515 REFER, RFC 3891 Replaces, RFC 5589): parsing Refer-To
//! and Replaces, answering a REFER (202 or a refusal), the implicit subscription's NOTIFYs
//! (`message/sipfrag` progress), and finding the dialog a `Replaces` names.
//!
//! Contract only (issue 8): the bodies are filled in by the SIP piece.

use super::*;
use crate::sip::DialogRef;

impl Endpoint {
    /// Answers the REFER of [`CallEvent::Refer`] with 202 Accepted and sends the first
    /// NOTIFY (`SIP/2.0 100 Trying`, subscription active).
    pub fn accept_refer(&mut self, now: Instant, call: CallId) {
        let _ = (now, call);
    }

    /// Refuses the pending REFER with `status` (403 not allowed, 404 no such target, 488 …).
    pub fn refuse_refer(&mut self, now: Instant, call: CallId, status: u16) {
        let _ = (now, call, status);
    }

    /// Reports the referred call's progress in a NOTIFY (`SIP/2.0 <status> <reason>` as
    /// `message/sipfrag`); `last` terminates the subscription (a final status). Without an
    /// accepted REFER on the call, nothing is sent.
    pub fn notify_refer(&mut self, now: Instant, call: CallId, status: u16, last: bool) {
        let _ = (now, call, status, last);
    }

    /// The call whose dialog `dialog` names, matched by Call-ID and both tags (either
    /// order), or by Call-ID alone when the tags are missing and one call has that Call-ID.
    pub fn find_dialog(&self, dialog: &DialogRef) -> Option<CallId> {
        let _ = dialog;
        None
    }
}
