//! Requests inside an established (or early) dialog: re-INVITE, ACK, CANCEL, BYE and INFO
//! (DTMF relay), with the UAS core's own 2xx retransmission until the ACK.

use super::*;

impl Endpoint {
    pub(super) fn on_reinvite(&mut self, now: Instant, route: Route, request: Request) {
        let Some(call) = self.dialog_of(&request) else {
            return self.reply_in_transaction(now, &request, route, 481, None, &[], None);
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase != Phase::Confirmed || !c.dialog.accept_remote_cseq(request.cseq) {
            // Our 2xx is still unacknowledged, or we are hanging up: the peer must retry.
            let status = if c.phase == Phase::Terminating {
                481
            } else {
                491
            };
            self.reply_invite_transaction(now, call, &request, route, status, None);
            return;
        }
        c.dialog.refresh_target(request.contact.as_deref());
        let local_sdp = c.local_sdp.clone();
        let offer = request.body_text();
        if let Some(payload) =
            self.reply_invite_transaction(now, call, &request, route, 200, local_sdp.as_deref())
        {
            if let Some(c) = self.calls.get_mut(&call) {
                let t1 = self.timers.t1;
                c.ack_wait = Some(AckWait {
                    cseq: request.cseq,
                    next: (!route.transport.is_reliable()).then(|| now + t1),
                    payload,
                    interval: t1,
                    deadline: now + self.timers.transaction_timeout(),
                    initial: false,
                    answer_in_ack: offer.is_none(),
                });
            }
        }
        if let Some(sdp) = offer {
            self.events.push_back(CallEvent::RemoteSdp { call, sdp });
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
                out.push((c.route, wait.payload.clone()));
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
