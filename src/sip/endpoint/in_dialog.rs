//! Requests inside an established (or early) dialog: re-INVITE and UPDATE offers (handed to
//! the switch, answered when it says), our own re-INVITEs with RFC 3261 14.1 glare retries,
//! ACK, CANCEL, BYE and INFO (DTMF relay), CSeq order (RFC 3261 12.2.2), the UAS core's own
//! 2xx retransmission until the ACK, and merged-request detection for new INVITEs
//! (RFC 3261 8.2.2.2).

use std::collections::HashSet;

use super::*;

/// How many recent dialog-creating INVITEs are remembered for merged-request detection; the
/// oldest goes first when a flood fills it.
const RECENT_INVITES_MAX: usize = 4096;

/// Attempts of one re-INVITE of ours before persistent glare is reported as 491.
const REINVITE_ATTEMPTS: u32 = 3;

/// The identity of a dialog-creating INVITE apart from its branch: Call-ID, From tag, CSeq.
type InviteIdentity = (String, String, u32);

/// Dialog-creating INVITEs of the last 64*T1, bounded.
#[derive(Default)]
pub(super) struct RecentInvites {
    seen: HashSet<InviteIdentity>,
    order: VecDeque<(Instant, InviteIdentity)>,
}

impl RecentInvites {
    /// Records `request`; `false` when the same INVITE (same Call-ID, From tag and CSeq)
    /// already came within `window`, by another branch: a merged request.
    pub(super) fn first_time(&mut self, now: Instant, request: &Request, window: Duration) -> bool {
        while let Some((at, _)) = self.order.front() {
            if *at + window > now && self.order.len() < RECENT_INVITES_MAX {
                break;
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        let identity = (
            request.call_id.clone(),
            request.from.tag.clone().unwrap_or_default(),
            request.cseq,
        );
        if self.seen.contains(&identity) {
            return false;
        }
        self.seen.insert(identity.clone());
        self.order.push_back((now, identity));
        true
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.seen.len()
    }
}

/// A re-INVITE or UPDATE offer waiting for the switch's answer.
pub(super) struct PendingReoffer {
    request: Request,
    route: Route,
}

/// Our re-INVITE: its offer, the branch in flight, and the 491 retry timer.
pub(super) struct OurReinvite {
    sdp: String,
    branch: Option<String>,
    pub(super) retry_at: Option<Instant>,
    attempts: u32,
}

impl Endpoint {
    pub(super) fn on_reinvite(&mut self, now: Instant, route: Route, request: Request) {
        let Some(call) = self.dialog_of(&request) else {
            return self.reply_in_transaction(now, &request, route, 481, None, &[], None);
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if !c.dialog.accept_remote_cseq(request.cseq) {
            // Older than a request already seen: out of order (RFC 3261 12.2.2).
            self.reply_invite_transaction(now, call, &request, route, 500, None);
            return;
        }
        if c.phase == Phase::Terminating {
            self.reply_invite_transaction(now, call, &request, route, 481, None);
            return;
        }
        let our_offer_out = c.our_reinvite.as_ref().is_some_and(|r| r.branch.is_some());
        if c.phase != Phase::Confirmed
            || c.ack_wait.is_some()
            || c.reoffer.is_some()
            || our_offer_out
        {
            // An offer/answer exchange is still open (ours, or our 2xx is unacknowledged):
            // the peer retries later (RFC 3261 14.2).
            self.reply_invite_transaction(now, call, &request, route, 491, None);
            return;
        }
        c.dialog.refresh_target(request.contact.as_deref());
        let offer = request.body_text();
        c.reoffer = Some(PendingReoffer { request, route });
        self.events.push_back(CallEvent::Reoffer { call, offer });
    }

    /// UPDATE (RFC 3311): a target refresh, and an offer when it carries SDP.
    pub(super) fn on_update(&mut self, now: Instant, route: Route, request: Request) {
        let Some(call) = self.dialog_of(&request) else {
            return self.reply_in_transaction(now, &request, route, 481, None, &[], None);
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let tag = c.dialog.local_tag.clone();
        if !c.dialog.accept_remote_cseq(request.cseq) {
            return self.reply_in_transaction(now, &request, route, 500, Some(&tag), &[], None);
        }
        let offer = request.body_text();
        match c.phase {
            Phase::Terminating => {
                return self.reply_in_transaction(now, &request, route, 481, Some(&tag), &[], None)
            }
            // The INVITE's own offer is not answered yet (RFC 3311 5.2): retry shortly.
            Phase::Offered | Phase::Calling if offer.is_some() => {
                return self.reply_in_transaction(
                    now,
                    &request,
                    route,
                    500,
                    Some(&tag),
                    &[("Retry-After", "1")],
                    None,
                )
            }
            _ => {}
        }
        let our_offer_out = c.our_reinvite.as_ref().is_some_and(|r| r.branch.is_some())
            || c.ack_wait.as_ref().is_some_and(|w| w.answer_in_ack);
        if offer.is_some() && (our_offer_out || c.reoffer.is_some()) {
            return self.reply_in_transaction(now, &request, route, 491, Some(&tag), &[], None);
        }
        c.dialog.refresh_target(request.contact.as_deref());
        match offer {
            Some(offer) => {
                c.reoffer = Some(PendingReoffer { request, route });
                self.events.push_back(CallEvent::Reoffer {
                    call,
                    offer: Some(offer),
                });
            }
            None => self.reply_update(now, call, &request, route, 200, None),
        }
    }

    /// Answers the pending re-INVITE or UPDATE of [`CallEvent::Reoffer`] with 200 and `sdp`
    /// (our answer, or our offer when the re-INVITE had none: the peer's answer then comes
    /// in the ACK as [`CallEvent::RemoteSdp`]). A re-INVITE's 200 is sent again until the ACK.
    pub fn answer_reoffer(&mut self, now: Instant, call: CallId, sdp: &str) {
        let Some(pending) = self.calls.get_mut(&call).and_then(|c| c.reoffer.take()) else {
            debug!(%call, "answer to a re-offer that is not pending ignored");
            return;
        };
        let PendingReoffer { request, route } = pending;
        if request.method != Method::Invite {
            return self.reply_update(now, call, &request, route, 200, Some(sdp));
        }
        let Some(payload) =
            self.reply_invite_transaction(now, call, &request, route, 200, Some(sdp))
        else {
            return;
        };
        let t1 = self.timers.t1;
        let deadline = now + self.timers.transaction_timeout();
        if let Some(c) = self.calls.get_mut(&call) {
            c.local_sdp = Some(sdp.to_owned());
            c.ack_wait = Some(AckWait {
                cseq: request.cseq,
                next: (!route.transport.is_reliable()).then(|| now + t1),
                payload,
                interval: t1,
                deadline,
                initial: false,
                answer_in_ack: request.body.is_empty(),
                route,
            });
        }
    }

    /// Refuses the pending re-INVITE or UPDATE of [`CallEvent::Reoffer`] (488 for an offer we
    /// cannot take); the session stays as it was.
    pub fn refuse_reoffer(&mut self, now: Instant, call: CallId, status: u16) {
        let Some(pending) = self.calls.get_mut(&call).and_then(|c| c.reoffer.take()) else {
            debug!(%call, "refusal of a re-offer that is not pending ignored");
            return;
        };
        let status = if (300..=699).contains(&status) {
            status
        } else {
            488
        };
        let PendingReoffer { request, route } = pending;
        if request.method == Method::Invite {
            self.reply_invite_transaction(now, call, &request, route, status, None);
        } else {
            self.reply_update(now, call, &request, route, status, None);
        }
    }

    /// A response to an UPDATE, in its own non-INVITE server transaction; a 2xx carries our
    /// Contact (UPDATE is a target refresh).
    fn reply_update(
        &mut self,
        now: Instant,
        call: CallId,
        request: &Request,
        route: Route,
        status: u16,
        sdp: Option<&str>,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let contact = contact_uri(self.config.advertised, c.route.transport);
        let payload = ResponseText {
            status,
            seed: &request.seed,
            to_tag: Some(&c.dialog.local_tag),
            contact: (status < 300).then_some(contact.as_str()),
            record_route: &[],
            extra: &[],
            body: sdp.map(|s| ("application/sdp", s)),
        }
        .write();
        let mut tx = ServerNonInviteTransaction::new(route.transport.is_reliable(), self.timers);
        tx.respond(now, status, payload.clone());
        self.non_invite_servers.insert(
            ServerKey::of(request, request.method.as_str()),
            NonInviteServer { tx, route },
        );
        self.send(route, payload);
    }

    /// Sends a re-INVITE with our `sdp` offer on an established call (the switch's own
    /// session change: hold, transfer). [`CallEvent::ReinviteDone`] follows; on 491 it is
    /// retried after the RFC 3261 14.1 wait (2.1-4 s when we placed the call, else up to
    /// 2 s). `false` (and nothing sent) when the call is not established or an offer/answer
    /// exchange is still open: try again after it.
    pub fn reinvite(&mut self, now: Instant, call: CallId, sdp: &str) -> bool {
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        if c.phase != Phase::Confirmed
            || c.ack_wait.is_some()
            || c.reoffer.is_some()
            || c.our_reinvite.is_some()
        {
            debug!(%call, phase = ?c.phase, "re-INVITE not possible now");
            return false;
        }
        c.our_reinvite = Some(OurReinvite {
            sdp: sdp.to_owned(),
            branch: None,
            retry_at: None,
            attempts: 0,
        });
        self.send_reinvite(now, call);
        true
    }

    fn send_reinvite(&mut self, now: Instant, call: CallId) {
        let branch = new_branch(&mut self.rng);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(sdp) = c.our_reinvite.as_ref().map(|r| r.sdp.clone()) else {
            return;
        };
        let transport = c.route.transport;
        let contact = contact_uri(self.config.advertised, transport);
        let invite = c.dialog.request_with_body(
            "INVITE",
            &branch,
            self.config.advertised,
            transport,
            &contact,
            Some(("application/sdp", &sdp)),
        );
        // The ACK for a non-2xx shares the INVITE's branch, Request-URI, routes and CSeq.
        let non_2xx_ack = c
            .dialog
            .ack(
                invite.cseq,
                &branch,
                self.config.advertised,
                transport,
                &contact,
            )
            .payload;
        let route = next_hop_route(c, invite.next_hop);
        let Some(ours) = c.our_reinvite.as_mut() else {
            return;
        };
        ours.branch = Some(branch.clone());
        ours.retry_at = None;
        ours.attempts += 1;
        let tx = ClientInviteTransaction::new(
            now,
            invite.payload.clone(),
            transport.is_reliable(),
            self.timers,
        );
        debug!(%call, cseq = invite.cseq, attempt = ours.attempts, "sending re-INVITE");
        self.invite_clients.insert(
            branch,
            InviteClient {
                tx,
                call,
                route,
                request_uri: String::new(),
                via: String::new(),
                from: String::new(),
                to: String::new(),
                call_id: c.dialog.call_id.clone(),
                cseq: invite.cseq,
                reinvite_non_2xx_ack: Some(non_2xx_ack),
                ack_for_2xx: None,
                forks: Vec::new(),
            },
        );
        self.send(route, invite.payload);
    }

    /// A final response (or 1xx) to our re-INVITE; the transaction already matched it.
    pub(super) fn on_reinvite_response(&mut self, now: Instant, response: &Response) {
        let Some(client) = self.invite_clients.get_mut(&response.branch) else {
            return;
        };
        let (call, cseq) = (client.call, client.cseq);
        if response.status < 200 {
            return;
        }
        if response.status < 300 {
            if let Some((route, ack)) = client.ack_for_2xx.clone() {
                // A retransmitted 2xx: our ACK was lost.
                return self.send(route, ack);
            }
        }
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.our_reinvite.as_ref().and_then(|r| r.branch.as_deref())
            != Some(response.branch.as_str())
        {
            return;
        }
        if response.status < 300 {
            c.dialog.refresh_target(response.contact.as_deref());
            let branch = new_branch(&mut self.rng);
            let contact = contact_uri(self.config.advertised, c.route.transport);
            let ack = c.dialog.ack(
                cseq,
                &branch,
                self.config.advertised,
                c.route.transport,
                &contact,
            );
            let route = next_hop_route(c, ack.next_hop);
            c.our_reinvite = None;
            if let Some(client) = self.invite_clients.get_mut(&response.branch) {
                client.ack_for_2xx = Some((route, ack.payload.clone()));
            }
            self.send(route, ack.payload);
            let sdp = (!response.body.is_empty())
                .then(|| String::from_utf8_lossy(&response.body).into_owned());
            self.events.push_back(CallEvent::ReinviteDone {
                call,
                status: response.status,
                sdp,
            });
            return;
        }
        let retry = response.status == 491
            && c.our_reinvite
                .as_ref()
                .is_some_and(|r| r.attempts < REINVITE_ATTEMPTS);
        if retry {
            // RFC 3261 14.1: the Call-ID's owner waits 2.1-4 s, the other side 0-2 s, in
            // units of 10 ms.
            let ticks = if matches!(c.origin, Origin::Ours { .. }) {
                self.rng.gen_range(210..=400u64)
            } else {
                self.rng.gen_range(0..=200u64)
            };
            if let Some(ours) = c.our_reinvite.as_mut() {
                ours.branch = None;
                ours.retry_at = Some(now + Duration::from_millis(ticks * 10));
            }
            debug!(%call, wait_ms = ticks * 10, "re-INVITE glare (491): retrying later");
            return;
        }
        c.our_reinvite = None;
        self.events.push_back(CallEvent::ReinviteDone {
            call,
            status: response.status,
            sdp: None,
        });
    }

    /// Our re-INVITE got no final response (Timer B).
    pub(super) fn on_reinvite_timeout(&mut self, call: CallId, branch: &str) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.our_reinvite.as_ref().and_then(|r| r.branch.as_deref()) == Some(branch) {
            warn!(%call, "no response to our re-INVITE (Timer B)");
            c.our_reinvite = None;
            self.events.push_back(CallEvent::ReinviteDone {
                call,
                status: 408,
                sdp: None,
            });
        }
    }

    /// Re-INVITEs of ours whose 491 wait is over go out again, unless the peer's own
    /// exchange is still open (then a little later).
    /// `due`: the calls whose timer is due at `now`.
    pub(super) fn run_reinvite_retry_timers(&mut self, now: Instant, due_calls: &[CallId]) {
        let t1 = self.timers.t1;
        let mut due = Vec::new();
        for call in due_calls {
            let Some(c) = self.calls.get_mut(call) else {
                continue;
            };
            let Some(ours) = c.our_reinvite.as_mut() else {
                continue;
            };
            if ours.retry_at.is_none_or(|at| at > now) {
                continue;
            }
            if c.phase != Phase::Confirmed {
                ours.retry_at = None;
                c.our_reinvite = None;
                continue;
            }
            if c.ack_wait.is_some() || c.reoffer.is_some() {
                ours.retry_at = Some(now + t1);
                continue;
            }
            due.push(*call);
        }
        for call in due {
            self.send_reinvite(now, call);
        }
    }

    pub(super) fn on_ack(&mut self, now: Instant, request: &Request) {
        // ACK for a non-2xx final response: same branch as the INVITE (RFC 3261 17.2.3).
        if let Some(server) = self
            .invite_servers
            .get_mut(&ServerKey::of(request, "INVITE"))
        {
            if server.tx.on_ack(now) {
                debug!(call = %server.call, "ACK for a final error response absorbed");
                return;
            }
            if !server.tx.is_proceeding() && request.to.tag.is_none() {
                return;
            }
        }
        // ACK for a 2xx: a new transaction, matched to the dialog.
        let Some(call) = self.dialog_of(request) else {
            debug!(call_id = %request.call_id, "ACK matching no dialog dropped");
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(wait) = c.ack_wait.as_ref().filter(|w| w.cseq == request.cseq) else {
            return;
        };
        let (initial, answer_in_ack) = (wait.initial, wait.answer_in_ack);
        c.ack_wait = None;
        let sdp = request.body_text();
        if initial {
            c.phase = Phase::Confirmed;
            self.events.push_back(CallEvent::Confirmed { call, sdp });
        } else if let Some(sdp) = sdp.filter(|_| answer_in_ack) {
            self.events.push_back(CallEvent::RemoteSdp { call, sdp });
        }
    }

    pub(super) fn on_cancel(&mut self, now: Instant, route: Route, request: &Request) {
        let invite_key = ServerKey::of(request, "INVITE");
        let Some(server) = self.invite_servers.get(&invite_key) else {
            return self.reply_in_transaction(now, request, route, 481, None, &[], None);
        };
        let call = server.call;
        let pending = server.tx.is_proceeding();
        let tag = self.calls.get(&call).map(|c| c.dialog.local_tag.clone());
        self.reply_in_transaction(now, request, route, 200, tag.as_deref(), &[], None);
        if pending && self.respond_to_invite(now, call, 487, None, &[]).is_some() {
            self.forget_call(call);
            self.events.push_back(CallEvent::Cancelled { call });
        }
    }

    pub(super) fn on_bye(&mut self, now: Instant, route: Route, request: &Request) {
        let Some(call) = self.dialog_of(request) else {
            return self.reply_in_transaction(now, request, route, 481, None, &[], None);
        };
        if !self.in_order(call, request) {
            return self.reply_in_transaction(now, request, route, 500, None, &[], None);
        }
        self.reply_in_transaction(now, request, route, 200, None, &[], None);
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        match c.phase {
            // Our own BYE crossed theirs: `Ended` follows from our transaction. A BYE while
            // our INVITE is unanswered ends nothing: its final response does.
            Phase::Terminating | Phase::Calling => {}
            Phase::Offered => {
                // A BYE on an early dialog still ends the INVITE (RFC 3261 15.1.2).
                self.respond_to_invite(now, call, 487, None, &[]);
                self.forget_call(call);
                self.events.push_back(CallEvent::Bye { call });
            }
            Phase::Answered | Phase::Confirmed => {
                self.forget_call(call);
                self.events.push_back(CallEvent::Bye { call });
            }
        }
    }

    pub(super) fn on_info(&mut self, now: Instant, route: Route, request: &Request) {
        let Some(call) = self.dialog_of(request) else {
            return self.reply_in_transaction(now, request, route, 481, None, &[], None);
        };
        if !self.in_order(call, request) {
            return self.reply_in_transaction(now, request, route, 500, None, &[], None);
        }
        self.reply_in_transaction(now, request, route, 200, None, &[], None);
        let body = String::from_utf8_lossy(&request.body);
        let digit = if request.has_content_type("application/dtmf-relay") {
            parse_dtmf_relay(&body)
        } else if request.has_content_type("application/dtmf") {
            body.trim()
                .chars()
                .next()
                .and_then(normalize_digit)
                .map(|d| (d, 0))
        } else {
            None
        };
        if let Some((digit, duration_ms)) = digit {
            self.events.push_back(CallEvent::Dtmf {
                call,
                digit,
                duration_ms,
            });
        }
    }

    /// RFC 3261 12.2.2: an in-dialog request older than the last one seen is out of order.
    pub(super) fn in_order(&mut self, call: CallId, request: &Request) -> bool {
        self.calls
            .get_mut(&call)
            .is_none_or(|c| c.dialog.accept_remote_cseq(request.cseq))
    }

    /// The 2xx retransmissions and the ACK deadline of the `due` calls.
    pub(super) fn run_ack_timers(&mut self, now: Instant, due: &[CallId]) {
        let t2 = self.timers.t2;
        let mut out = Vec::new();
        for call in due {
            let Some(c) = self.calls.get_mut(call) else {
                continue;
            };
            let Some(wait) = c.ack_wait.as_mut() else {
                continue;
            };
            while let Some(next) = wait.next.filter(|n| *n <= now && *n < wait.deadline) {
                out.push((wait.route, wait.payload.clone()));
                wait.interval = (wait.interval * 2).min(t2);
                wait.next = Some(next + wait.interval);
            }
            if wait.deadline <= now {
                warn!(%call, "no ACK for our 2xx within 64*T1");
                c.ack_wait = None;
                self.events.push_back(CallEvent::AckTimeout { call: *call });
            }
        }
        for (route, bytes) in out {
            self.send(route, bytes);
        }
    }

    pub(super) fn start_ack_wait(
        &mut self,
        now: Instant,
        call: CallId,
        payload: Vec<u8>,
        initial: bool,
    ) {
        let t1 = self.timers.t1;
        let deadline = now + self.timers.transaction_timeout();
        if let Some(c) = self.calls.get_mut(&call) {
            let Origin::Theirs {
                cseq,
                offer_in_invite,
                ..
            } = c.origin
            else {
                return;
            };
            c.phase = Phase::Answered;
            c.ack_wait = Some(AckWait {
                cseq,
                next: (!c.route.transport.is_reliable()).then(|| now + t1),
                payload,
                interval: t1,
                deadline,
                initial,
                answer_in_ack: !offer_in_invite,
                route: c.route,
            });
        }
    }

    /// A response to a re-INVITE, in its own INVITE server transaction.
    pub(super) fn reply_invite_transaction(
        &mut self,
        now: Instant,
        call: CallId,
        request: &Request,
        route: Route,
        status: u16,
        sdp: Option<&str>,
    ) -> Option<Vec<u8>> {
        let transport = self.calls.get(&call).map(|c| c.route.transport)?;
        let contact = contact_uri(self.config.advertised, transport);
        let payload = ResponseText {
            status,
            seed: &request.seed,
            to_tag: None,
            contact: (status < 300).then_some(contact.as_str()),
            record_route: &[],
            extra: &[],
            body: sdp.map(|s| ("application/sdp", s)),
        }
        .write();
        let mut tx = ServerInviteTransaction::new(route.transport.is_reliable(), self.timers);
        tx.respond(now, status, payload.clone());
        self.invite_servers.insert(
            ServerKey::of(request, "INVITE"),
            InviteServer { tx, call, route },
        );
        self.send(route, payload.clone());
        Some(payload)
    }
}

pub(super) fn normalize_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' | '*' | '#' | 'A'..='D' => Some(c),
        'a'..='d' => Some(c.to_ascii_uppercase()),
        _ => None,
    }
}

/// `Signal=5\r\nDuration=160` (application/dtmf-relay, as Cisco and most PBXs send it).
pub(super) fn parse_dtmf_relay(body: &str) -> Option<(char, u32)> {
    let mut digit = None;
    let mut duration = 0;
    for line in body.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        if key.trim().eq_ignore_ascii_case("signal") {
            digit = match value {
                "10" => Some('*'),
                "11" => Some('#'),
                v => v
                    .chars()
                    .next()
                    .filter(|_| v.len() == 1)
                    .and_then(normalize_digit),
            };
        } else if key.trim().eq_ignore_ascii_case("duration") {
            duration = value.parse().unwrap_or(0);
        }
    }
    digit.map(|d| (d, duration))
}
