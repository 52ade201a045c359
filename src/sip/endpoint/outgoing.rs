//! Calls we place (the UAC legs to agents' phones): the INVITE, its CANCEL, the responses
//! to our requests, and the client transactions' timers.

use super::*;

/// The CSeq number of our dialog-creating INVITEs (any start is allowed; 1 as most UAs do).
/// Their ACK and CANCEL copy it from the INVITE; later requests count on from it.
const FIRST_CSEQ: u32 = 1;

/// Forked 2xx answers to one INVITE that are ACKed and hung up; more are ignored.
const MAX_FORKS: usize = 16;

impl Endpoint {
    /// Offers a call to a registered phone: an INVITE with our SDP offer to the binding's
    /// contact, sent to its address over its transport. `OutgoingProgress`,
    /// `OutgoingAnswered` (ACK already sent) or `OutgoingFailed` follow; once answered the
    /// call works like an incoming one (`hangup`, `Bye`, `Dtmf`, `RemoteSdp`).
    pub fn invite(
        &mut self,
        now: Instant,
        to: &Binding,
        from_user: &str,
        from_display: &str,
        sdp: &str,
    ) -> CallId {
        let call = CallId(self.next_call);
        self.next_call += 1;
        let transport = to.transport;
        let local_tag = new_tag(&mut self.rng);
        let branch = new_branch(&mut self.rng);
        let call_id = format!(
            "{:016x}{:016x}@hotline",
            self.rng.gen::<u64>(),
            self.rng.gen::<u64>()
        );
        let host = match self.config.advertised.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let display = quoted_display(from_display);
        let local_party = format!("{display}<sip:{}@{host}>", uri_user_part(from_user));
        let from = format!("{local_party};tag={local_tag}");
        let to_party = format!("<{}>", to.contact);
        let via = format!(
            "SIP/2.0/{} {};branch={branch};rport",
            transport.via_token(),
            self.config.advertised
        );
        let contact = contact_uri(self.config.advertised, transport);
        let payload = format!(
            "INVITE {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\n\
To: {to_party}\r\nCall-ID: {call_id}\r\nCSeq: {FIRST_CSEQ} INVITE\r\nContact: <{contact}>\r\n\
Allow: {ALLOW}\r\nUser-Agent: {USER_AGENT}\r\nContent-Type: application/sdp\r\n\
Content-Length: {len}\r\n\r\n{sdp}",
            uri = to.contact,
            len = sdp.len(),
        )
        .into_bytes();
        let route = Route {
            transport,
            destination: to.address,
        };
        debug!(%call, %call_id, contact = %to.contact, destination = %to.address, "offering a call");
        let tx = ClientInviteTransaction::new(
            now,
            payload.clone(),
            transport.is_reliable(),
            self.timers,
        );
        self.invite_clients.insert(
            branch.clone(),
            InviteClient {
                tx,
                call,
                route,
                request_uri: to.contact.clone(),
                via,
                from,
                to: to_party.clone(),
                call_id: call_id.clone(),
                cseq: FIRST_CSEQ,
                reinvite_non_2xx_ack: None,
                ack_for_2xx: None,
                forks: Vec::new(),
            },
        );
        let dialog = Dialog::outgoing(
            call_id.clone(),
            local_tag.clone(),
            local_party,
            to_party,
            to.contact.clone(),
            FIRST_CSEQ,
        );
        self.dialogs.insert((call_id, local_tag), call);
        self.calls.insert(
            call,
            Call {
                origin: Origin::Ours {
                    branch,
                    cancel: CancelState::NotAsked,
                },
                source: to.address,
                route,
                dialog,
                phase: Phase::Calling,
                local_sdp: Some(sdp.to_owned()),
                ack_wait: None,
                phone: None,
                quiet_end: false,
                reoffer: None,
                our_reinvite: None,
                refer: None,
            },
        );
        self.send(route, payload);
        call
    }

    /// Withdraws an offered call we placed (RFC 3261 9.1): CANCEL once a provisional
    /// response has arrived (until then it waits for one, or Timer B ends the INVITE);
    /// `OutgoingFailed { status: 487 }` follows. A 200 that crosses the CANCEL is ACKed and
    /// hung up here, and still reported as failed, so the switch never holds a half-answered
    /// leg. On an answered call this is `hangup`.
    pub fn cancel(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            debug!(%call, "cancel for an unknown call ignored");
            return;
        };
        let Origin::Ours { branch, cancel } = &mut c.origin else {
            debug!(%call, "cancel applies to calls we placed; ignored");
            return;
        };
        match c.phase {
            Phase::Calling => {}
            Phase::Answered | Phase::Confirmed => return self.hangup(now, call),
            Phase::Offered | Phase::Terminating => return,
        }
        if *cancel != CancelState::NotAsked {
            return;
        }
        let provisional_seen = self
            .invite_clients
            .get(branch.as_str())
            .is_some_and(|client| client.tx.state() == ClientInviteState::Proceeding);
        if provisional_seen {
            self.send_cancel(now, call);
        } else {
            debug!(%call, "no provisional response yet: CANCEL waits for one");
            *cancel = CancelState::Pending;
        }
    }

    pub(super) fn on_response(&mut self, now: Instant, response: Response) {
        if response.cseq_method == Method::Invite {
            return self.on_invite_response(now, response);
        }
        let key = (
            response.branch.clone(),
            response.cseq_method.as_str().to_owned(),
        );
        let Some(client) = self.clients.get_mut(&key) else {
            debug!(branch = %response.branch, "response matching no transaction dropped");
            return;
        };
        if client.tx.on_response(now, response.status) == ClientResponse::Absorbed {
            return;
        }
        if response.status >= 200 {
            if let Some(call) = client.call {
                if client.method == "BYE" {
                    debug!(%call, status = response.status, "BYE answered");
                    self.end_terminating(call);
                } else if client.method == "NOTIFY" {
                    self.on_notify_outcome(now, call, &response.branch, Some(response.status));
                }
            }
        }
    }

    /// A response to our INVITE (RFC 3261 13.2.2 and 17.1.1).
    pub(super) fn on_invite_response(&mut self, now: Instant, response: Response) {
        let Some(client) = self.invite_clients.get_mut(&response.branch) else {
            debug!(branch = %response.branch, "INVITE response matching no transaction dropped");
            return;
        };
        if client.call_id != response.call_id {
            debug!(branch = %response.branch, "INVITE response with a foreign Call-ID dropped");
            return;
        }
        let (call, route) = (client.call, client.route);
        let reinvite = client.reinvite_non_2xx_ack.is_some();
        let ack = (response.status >= 300).then(|| client.non_2xx_ack(&response));
        match client.tx.on_response(now, response.status, ack.clone()) {
            ClientResponse::Absorbed => {
                if let Some(ack) = client.tx.ack_to_send() {
                    let ack = ack.to_vec();
                    self.send(route, ack);
                }
                return;
            }
            ClientResponse::Deliver => {}
        }
        if reinvite {
            if let Some(ack) = ack {
                self.send(route, ack);
            }
            return self.on_reinvite_response(now, &response);
        }
        match response.status {
            100..=199 => self.on_outgoing_provisional(now, call, &response),
            200..=299 => self.on_outgoing_answer(now, call, &response),
            status => {
                if let Some(ack) = ack {
                    self.send(route, ack);
                }
                let Some(c) = self.calls.get(&call) else {
                    return;
                };
                if c.phase == Phase::Calling {
                    debug!(%call, status, "our INVITE failed");
                    self.forget_call(call);
                    self.events
                        .push_back(CallEvent::OutgoingFailed { call, status });
                }
            }
        }
    }

    pub(super) fn on_outgoing_provisional(
        &mut self,
        now: Instant,
        call: CallId,
        response: &Response,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase != Phase::Calling {
            return;
        }
        if let Some(tag) = response.to.tag.as_deref() {
            // An early dialog: the phone may already send in-dialog requests.
            if c.dialog.remote_tag.is_empty() {
                c.dialog
                    .on_response(tag, response.contact.as_deref(), &response.record_route);
            }
        }
        let Origin::Ours { cancel, .. } = c.origin else {
            return;
        };
        match cancel {
            // RFC 3261 9.1: a CANCEL may only follow a provisional response; 100 counts.
            CancelState::Pending => self.send_cancel(now, call),
            CancelState::NotAsked if response.status > 100 => {
                self.events.push_back(CallEvent::OutgoingProgress {
                    call,
                    status: response.status,
                });
            }
            _ => {}
        }
    }

    pub(super) fn on_outgoing_answer(&mut self, now: Instant, call: CallId, response: &Response) {
        let Some(client) = self.invite_clients.get(&response.branch) else {
            return;
        };
        let tag = response.to.tag.clone().unwrap_or_default();
        let invite_cseq = client.cseq;
        if let Some((route, ack)) = client.ack_for_2xx.clone() {
            let first_tag = self.calls.get(&call).map(|c| c.dialog.remote_tag.as_str());
            if first_tag.is_none_or(|first| first == tag) {
                // A retransmitted 2xx: our ACK was lost.
                return self.send(route, ack);
            }
            return self.on_forked_answer(now, call, response, route);
        }
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase != Phase::Calling {
            return;
        }
        c.dialog
            .on_response(&tag, response.contact.as_deref(), &response.record_route);
        let branch = new_branch(&mut self.rng);
        let contact = contact_uri(self.config.advertised, c.route.transport);
        let ack = c.dialog.ack(
            invite_cseq,
            &branch,
            self.config.advertised,
            c.route.transport,
            &contact,
        );
        let route = next_hop_route(c, ack.next_hop);
        c.phase = Phase::Confirmed;
        let cancelled = !matches!(
            c.origin,
            Origin::Ours {
                cancel: CancelState::NotAsked,
                ..
            }
        );
        if let Some(client) = self.invite_clients.get_mut(&response.branch) {
            client.ack_for_2xx = Some((route, ack.payload.clone()));
        }
        self.send(route, ack.payload);
        if cancelled {
            // The 200 crossed our CANCEL: the switch has moved on, so this leg must go.
            warn!(%call, "200 OK crossed our CANCEL: acknowledged and hung up");
            if let Some(c) = self.calls.get_mut(&call) {
                c.quiet_end = true;
            }
            self.hangup(now, call);
            self.events
                .push_back(CallEvent::OutgoingFailed { call, status: 487 });
        } else {
            let sdp = (!response.body.is_empty())
                .then(|| String::from_utf8_lossy(&response.body).into_owned());
            debug!(%call, "our INVITE was answered");
            self.events
                .push_back(CallEvent::OutgoingAnswered { call, sdp });
        }
    }

    /// A 2xx from another branch of our forked INVITE (another To tag) after the first one
    /// made the call (RFC 3261 13.2.2.4): ACKed, then hung up with a BYE; a retransmission of
    /// it gets the same ACK again and no second BYE.
    fn on_forked_answer(
        &mut self,
        now: Instant,
        call: CallId,
        response: &Response,
        first_route: Route,
    ) {
        let tag = response.to.tag.clone().unwrap_or_default();
        let Some(client) = self.invite_clients.get(&response.branch) else {
            return;
        };
        if let Some((_, route, ack)) = client.forks.iter().find(|(t, _, _)| *t == tag) {
            let (route, ack) = (*route, ack.clone());
            return self.send(route, ack);
        }
        // A bounded number of forks: beyond it a 2xx is left to the peer's timeout.
        if client.forks.len() >= MAX_FORKS {
            warn!(%call, "too many forked answers; one left unacknowledged");
            return;
        }
        let invite_cseq = client.cseq;
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let mut fork = c.dialog.clone();
        fork.on_response(&tag, response.contact.as_deref(), &response.record_route);
        let transport = first_route.transport;
        let contact = contact_uri(self.config.advertised, transport);
        let ack = fork.ack(
            invite_cseq,
            &new_branch(&mut self.rng),
            self.config.advertised,
            transport,
            &contact,
        );
        let ack_route = next_hop_route(c, ack.next_hop);
        let bye_branch = new_branch(&mut self.rng);
        let bye = fork.request(
            "BYE",
            &bye_branch,
            self.config.advertised,
            transport,
            &contact,
        );
        let bye_route = next_hop_route(c, bye.next_hop);
        warn!(%call, "a second branch of our INVITE answered: acknowledged and hung up");
        if let Some(client) = self.invite_clients.get_mut(&response.branch) {
            client.forks.push((tag, ack_route, ack.payload.clone()));
        }
        self.send(ack_route, ack.payload);
        let tx = ClientNonInviteTransaction::new(
            now,
            bye.payload.clone(),
            transport.is_reliable(),
            self.timers,
        );
        self.clients.insert(
            (bye_branch, "BYE".into()),
            Client {
                tx,
                call: None,
                method: "BYE".into(),
                route: bye_route,
            },
        );
        self.send(bye_route, bye.payload);
    }

    pub(super) fn send_cancel(&mut self, now: Instant, call: CallId) {
        let give_up_at = now + self.timers.transaction_timeout();
        let Some(Call {
            origin: Origin::Ours { branch, cancel },
            ..
        }) = self.calls.get_mut(&call)
        else {
            return;
        };
        let Some(client) = self.invite_clients.get(branch.as_str()) else {
            return;
        };
        *cancel = CancelState::Sent { give_up_at };
        let payload = format!(
            "CANCEL {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\n\
Call-ID: {}\r\nCSeq: {} CANCEL\r\nUser-Agent: {USER_AGENT}\r\nContent-Length: 0\r\n\r\n",
            client.request_uri, client.via, client.from, client.to, client.call_id, client.cseq
        )
        .into_bytes();
        let route = client.route;
        let tx = ClientNonInviteTransaction::new(
            now,
            payload.clone(),
            route.transport.is_reliable(),
            self.timers,
        );
        debug!(%call, "sending CANCEL");
        self.clients.insert(
            (branch.clone(), "CANCEL".into()),
            Client {
                tx,
                call: Some(call),
                method: "CANCEL".into(),
                route,
            },
        );
        self.send(route, payload);
    }

    pub(super) fn run_client_timers(&mut self, now: Instant) {
        let mut out = Vec::new();
        let mut ended = Vec::new();
        let mut notifies_lost = Vec::new();
        for key in self.clients.take_due(now) {
            let Some(client) = self.clients.get_mut(&key) else {
                continue;
            };
            while let Some(event) = client.tx.handle_timeout(now) {
                match event {
                    TransactionEvent::Retransmit(bytes) => out.push((client.route, bytes)),
                    TransactionEvent::TimedOut => match client.call {
                        // A phone that hung up after the 202 answers no NOTIFY: not news.
                        Some(call) if client.method == "NOTIFY" => {
                            notifies_lost.push((call, key.0.clone()))
                        }
                        Some(call) => {
                            warn!(%call, method = %client.method, "request timed out (Timer F)");
                            ended.push(call);
                        }
                        None => {}
                    },
                    TransactionEvent::Terminated => {}
                }
            }
            if client.tx.is_terminated() {
                self.clients.remove(&key);
            }
        }
        for (route, bytes) in out {
            self.send(route, bytes);
        }
        for (call, branch) in notifies_lost {
            self.on_notify_outcome(now, call, &branch, None);
        }
        for call in ended {
            if self
                .calls
                .get(&call)
                .is_some_and(|c| c.phase == Phase::Terminating)
            {
                self.end_terminating(call);
            }
        }
    }

    pub(super) fn run_invite_client_timers(&mut self, now: Instant) {
        let mut out = Vec::new();
        let mut timed_out = Vec::new();
        let mut reinvites_timed_out = Vec::new();
        for branch in self.invite_clients.take_due(now) {
            let Some(client) = self.invite_clients.get_mut(&branch) else {
                continue;
            };
            while let Some(event) = client.tx.handle_timeout(now) {
                match event {
                    TransactionEvent::Retransmit(bytes) => out.push((client.route, bytes)),
                    TransactionEvent::TimedOut if client.reinvite_non_2xx_ack.is_some() => {
                        reinvites_timed_out.push((client.call, branch.clone()))
                    }
                    TransactionEvent::TimedOut => timed_out.push(client.call),
                    TransactionEvent::Terminated => {}
                }
            }
            if client.tx.is_terminated() {
                self.invite_clients.remove(&branch);
            }
        }
        for (route, bytes) in out {
            self.send(route, bytes);
        }
        for (call, branch) in reinvites_timed_out {
            self.on_reinvite_timeout(call, &branch);
        }
        for call in timed_out {
            if self
                .calls
                .get(&call)
                .is_some_and(|c| c.phase == Phase::Calling)
            {
                warn!(%call, "no response to our INVITE (Timer B)");
                self.forget_call(call);
                self.events
                    .push_back(CallEvent::OutgoingFailed { call, status: 408 });
            }
        }
    }

    /// RFC 3261 9.1: no final response 64*T1 after our CANCEL: the INVITE is given up.
    /// `due`: the calls whose timer is due at `now`.
    pub(super) fn run_cancel_timers(&mut self, now: Instant, due: &[CallId]) {
        for &call in due {
            let Some(c) = self.calls.get(&call) else {
                continue;
            };
            let branch = match &c.origin {
                Origin::Ours {
                    branch,
                    cancel: CancelState::Sent { give_up_at },
                } if c.phase == Phase::Calling && *give_up_at <= now => branch.clone(),
                _ => continue,
            };
            warn!(%call, "no final response 64*T1 after our CANCEL: INVITE given up");
            self.invite_clients.remove(&branch);
            self.forget_call(call);
            self.events
                .push_back(CallEvent::OutgoingFailed { call, status: 487 });
        }
    }
}

impl InviteClient {
    /// The ACK for a 3xx–6xx (RFC 3261 17.1.1.3): part of the INVITE transaction, so the
    /// INVITE's branch, Request-URI and CSeq number, with the response's To tag.
    fn non_2xx_ack(&self, response: &Response) -> Vec<u8> {
        if let Some(ack) = &self.reinvite_non_2xx_ack {
            return ack.clone();
        }
        let to = match response.to.tag.as_deref() {
            Some(tag) => format!("{};tag={tag}", self.to),
            None => self.to.clone(),
        };
        format!(
            "ACK {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {to}\r\n\
Call-ID: {}\r\nCSeq: {} ACK\r\nUser-Agent: {USER_AGENT}\r\nContent-Length: 0\r\n\r\n",
            self.request_uri, self.via, self.from, self.call_id, self.cseq
        )
        .into_bytes()
    }
}

/// A display name as a quoted string followed by a space, or nothing. It may come from a
/// caller's number or name, so quotes, backslashes and line breaks cannot break the header.
pub(super) fn quoted_display(display: &str) -> String {
    let clean: String = display
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .take(128)
        .collect();
    if clean.trim().is_empty() {
        String::new()
    } else {
        format!("\"{clean}\" ")
    }
}

/// A user part for a SIP URI: characters RFC 3261 allows there unescaped, others dropped.
pub(super) fn uri_user_part(user: &str) -> String {
    let clean: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(*c))
        .take(64)
        .collect();
    if clean.is_empty() {
        "anonymous".into()
    } else {
        clean
    }
}
