//! The hotline's SIP user agent: routes inbound messages to transactions and dialogs, turns
//! the switch's intents into responses and requests, and runs every timer in virtual time.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, warn};

use super::dialog::Dialog;
use super::message::{
    self, response_destination, stamp_top_via, Inbound, Method, Request, Response, ResponseSeed,
    ResponseText, ALLOW,
};
use super::transaction::{
    ClientNonInviteTransaction, ClientResponse, ServerInviteTransaction,
    ServerNonInviteTransaction, Timers, TransactionEvent,
};
use super::{CallEvent, CallId, EndpointConfig, Transmit, Transport};

/// RFC 3261 17.2.3 server transaction identity: branch, sent-by and method (ACK and CANCEL
/// look up the INVITE's entry by using "INVITE" here).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ServerKey {
    branch: String,
    sent_by: String,
    method: String,
}

impl ServerKey {
    fn of(request: &Request, method: &str) -> ServerKey {
        let via = &request.top_via;
        ServerKey {
            branch: via.branch.clone(),
            sent_by: format!(
                "{}:{}",
                via.host.to_ascii_lowercase(),
                via.port.unwrap_or(5060)
            ),
            method: method.to_owned(),
        }
    }
}

/// Where and how a transaction's messages go.
#[derive(Clone, Copy, Debug)]
struct Route {
    transport: Transport,
    destination: SocketAddr,
}

struct InviteServer {
    tx: ServerInviteTransaction,
    call: CallId,
    route: Route,
}

struct NonInviteServer {
    tx: ServerNonInviteTransaction,
    route: Route,
}

struct Client {
    tx: ClientNonInviteTransaction,
    call: Option<CallId>,
    method: String,
    route: Route,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// INVITE received, no final response yet.
    Offered,
    /// 2xx sent, waiting for the ACK.
    Answered,
    Confirmed,
    /// Our BYE is in flight.
    Terminating,
}

/// The UAS core's own 2xx retransmission (RFC 3261 13.3.1.4): the INVITE transaction is gone
/// once a 2xx is sent, so the dialog keeps sending it until the ACK arrives.
struct AckWait {
    cseq: u32,
    payload: Vec<u8>,
    next: Option<Instant>,
    interval: Duration,
    deadline: Instant,
    /// For the dialog-creating INVITE (else a re-INVITE).
    initial: bool,
    /// The INVITE had no offer, so the ACK carries the answer.
    answer_in_ack: bool,
}

struct Call {
    invite_key: ServerKey,
    invite_seed: ResponseSeed,
    invite_cseq: u32,
    /// Where the INVITE came from: the fallback next hop and the TCP connection.
    source: SocketAddr,
    route: Route,
    dialog: Dialog,
    record_route: Vec<String>,
    phase: Phase,
    offer_in_invite: bool,
    local_sdp: Option<String>,
    ack_wait: Option<AckWait>,
}

pub struct Endpoint {
    config: EndpointConfig,
    timers: Timers,
    rng: StdRng,
    next_call: u64,
    calls: BTreeMap<CallId, Call>,
    /// (Call-ID, our tag) → call.
    dialogs: HashMap<(String, String), CallId>,
    invite_servers: HashMap<ServerKey, InviteServer>,
    non_invite_servers: HashMap<ServerKey, NonInviteServer>,
    clients: HashMap<String, Client>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<CallEvent>,
}

impl Endpoint {
    pub fn new(config: EndpointConfig) -> Self {
        let timers = Timers {
            t1: config.t1,
            t2: config.t2,
            t4: config.t4,
        };
        Endpoint {
            config,
            timers,
            rng: StdRng::from_entropy(),
            next_call: 1,
            calls: BTreeMap::new(),
            dialogs: HashMap::new(),
            invite_servers: HashMap::new(),
            non_invite_servers: HashMap::new(),
            clients: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Calls the endpoint still knows (offered, answered, confirmed or hanging up).
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// The earliest pending timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let servers = self
            .invite_servers
            .values()
            .filter_map(|s| s.tx.poll_timeout());
        let others = self
            .non_invite_servers
            .values()
            .filter_map(|s| s.tx.poll_timeout());
        let clients = self.clients.values().filter_map(|c| c.tx.poll_timeout());
        let acks = self.calls.values().filter_map(|c| {
            c.ack_wait
                .as_ref()
                .map(|w| w.next.map_or(w.deadline, |n| n.min(w.deadline)))
        });
        servers.chain(others).chain(clients).chain(acks).min()
    }

    /// One datagram, or one message framed by [`super::stream_frame_len`] on TCP.
    pub fn handle_input(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        bytes: &[u8],
    ) {
        let start = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(bytes.len());
        if start == bytes.len() {
            // RFC 5626 keep-alive: a double CRLF over a stream is answered with one CRLF.
            if transport.is_reliable() && bytes.windows(4).any(|w| w == b"\r\n\r\n") {
                self.send(
                    Route {
                        transport,
                        destination: source,
                    },
                    b"\r\n".to_vec(),
                );
            }
            return;
        }
        match message::parse(&bytes[start..]) {
            Ok(Inbound::Request(request)) => self.on_request(now, transport, source, request),
            Ok(Inbound::Response(response)) => self.on_response(now, response),
            Err(rejected) => self.on_rejected(transport, source, &rejected),
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.run_invite_server_timers(now);
        self.run_non_invite_server_timers(now);
        self.run_client_timers(now);
        self.run_ack_timers(now);
    }

    /// 180 Ringing (with our To tag and Contact) on an offered call.
    pub fn ringing(&mut self, now: Instant, call: CallId) {
        self.respond_to_invite(now, call, 180, None, &[]);
    }

    /// 200 OK with our SDP; retransmitted over UDP until the ACK arrives.
    pub fn answer(&mut self, now: Instant, call: CallId, sdp: &str) {
        let Some(c) = self.calls.get_mut(&call) else {
            debug!(%call, "answer for an unknown call ignored");
            return;
        };
        if c.phase != Phase::Offered {
            debug!(%call, phase = ?c.phase, "answer ignored: call already answered or ending");
            return;
        }
        c.local_sdp = Some(sdp.to_owned());
        if let Some(payload) = self.respond_to_invite(now, call, 200, Some(sdp), &[]) {
            self.start_ack_wait(now, call, payload, true);
        }
    }

    /// A final 3xx–6xx response to the INVITE; the call is then forgotten (no more events).
    pub fn reject(&mut self, now: Instant, call: CallId, status: u16, retry_after: Option<u32>) {
        let status = if (300..=699).contains(&status) {
            status
        } else {
            warn!(%call, status, "reject with a non-final status; sending 500 instead");
            500
        };
        let retry = retry_after.map(|s| s.to_string());
        let extra: Vec<(&str, &str)> = retry.iter().map(|v| ("Retry-After", v.as_str())).collect();
        if self
            .respond_to_invite(now, call, status, None, &extra)
            .is_some()
        {
            self.forget_call(call);
        }
    }

    /// BYE on an answered call (also before its ACK). On a call not yet answered this
    /// answers 480 instead; either way `Ended` follows.
    pub fn hangup(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            debug!(%call, "hangup for an unknown call ignored");
            return;
        };
        match c.phase {
            Phase::Offered => {
                if self.respond_to_invite(now, call, 480, None, &[]).is_some() {
                    self.forget_call(call);
                    self.events.push_back(CallEvent::Ended { call });
                }
            }
            Phase::Answered | Phase::Confirmed => {
                c.ack_wait = None;
                c.phase = Phase::Terminating;
                let branch = new_branch(&mut self.rng);
                let contact = contact_uri(self.config.advertised, c.route.transport);
                let bye = c.dialog.request(
                    "BYE",
                    &branch,
                    self.config.advertised,
                    c.route.transport,
                    &contact,
                );
                let route = next_hop_route(c, bye.next_hop);
                let tx = ClientNonInviteTransaction::new(
                    now,
                    bye.payload.clone(),
                    route.transport.is_reliable(),
                    self.timers,
                );
                self.clients.insert(
                    branch,
                    Client {
                        tx,
                        call: Some(call),
                        method: "BYE".into(),
                        route,
                    },
                );
                self.send(route, bye.payload);
            }
            Phase::Terminating => {}
        }
    }

    // ----------------------------------------------------------------------------------
    // Inbound requests.

    fn on_rejected(
        &mut self,
        transport: Transport,
        source: SocketAddr,
        rejected: &message::Rejected,
    ) {
        let Some(seed) = rejected
            .seed
            .as_ref()
            .filter(|_| rejected.is_request && !rejected.is_ack)
        else {
            warn!(%source, reason = %rejected.reason, "dropped a SIP message that cannot be answered");
            return;
        };
        let (status, extra): (u16, &[(&str, &str)]) = if !self.is_trusted(source.ip()) {
            (403, &[])
        } else if rejected.unknown_method {
            (405, &[("Allow", ALLOW)])
        } else {
            (400, &[])
        };
        warn!(%source, reason = %rejected.reason, status, "refused a malformed SIP request");
        let tag = new_tag(&mut self.rng);
        let payload = ResponseText {
            status,
            seed,
            to_tag: Some(&tag),
            contact: None,
            record_route: &[],
            extra,
            body: None,
        }
        .write();
        self.send(
            Route {
                transport,
                destination: source,
            },
            payload,
        );
    }

    fn on_request(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        mut request: Request,
    ) {
        if let Some(top) = request.seed.vias.first_mut() {
            *top = stamp_top_via(top, &request.top_via, source);
        }
        let route = Route {
            transport,
            destination: response_destination(&request.top_via, source, transport.is_reliable()),
        };
        if !self.is_trusted(source.ip()) {
            if request.method != Method::Ack {
                warn!(%source, method = request.method.as_str(), "request from an untrusted source refused");
                self.reply_stateless(&request, route, 403, &[]);
            }
            return;
        }
        match request.method {
            Method::Ack => return self.on_ack(now, &request),
            Method::Invite => {
                if let Some(server) = self.invite_servers.get(&ServerKey::of(&request, "INVITE")) {
                    if let Some(last) = server.tx.on_retransmitted_request() {
                        let (route, last) = (server.route, last.to_vec());
                        self.send(route, last);
                    }
                    return;
                }
            }
            _ => {
                let key = ServerKey::of(&request, request.method.as_str());
                if let Some(server) = self.non_invite_servers.get(&key) {
                    if let Some(last) = server.tx.on_retransmitted_request() {
                        let (route, last) = (server.route, last.to_vec());
                        self.send(route, last);
                    }
                    return;
                }
            }
        }
        if request.max_forwards == 0 && request.method != Method::Options {
            return self.reply_in_transaction(now, &request, route, 483, None, &[], None);
        }
        match request.method {
            Method::Invite if request.to.tag.is_none() => {
                self.on_new_invite(now, source, route, request)
            }
            Method::Invite => self.on_reinvite(now, route, request),
            Method::Cancel => self.on_cancel(now, route, &request),
            Method::Bye => self.on_bye(now, route, &request),
            Method::Info => self.on_info(now, route, &request),
            Method::Options => {
                if request.to.tag.is_some() && self.dialog_of(&request).is_none() {
                    return self.reply_in_transaction(now, &request, route, 481, None, &[], None);
                }
                let extra = [
                    ("Allow", ALLOW),
                    ("Accept", "application/sdp, application/dtmf-relay"),
                ];
                self.reply_in_transaction(now, &request, route, 200, None, &extra, None);
            }
            Method::Ack => {}
            Method::Other(_) => self.reply_in_transaction(
                now,
                &request,
                route,
                405,
                None,
                &[("Allow", ALLOW)],
                None,
            ),
        }
    }

    fn on_new_invite(&mut self, now: Instant, source: SocketAddr, route: Route, request: Request) {
        let call = CallId(self.next_call);
        self.next_call += 1;
        let local_tag = new_tag(&mut self.rng);
        let key = ServerKey::of(&request, "INVITE");
        let mut tx = ServerInviteTransaction::new(route.transport.is_reliable(), self.timers);
        let trying = ResponseText {
            status: 100,
            seed: &request.seed,
            to_tag: None,
            contact: None,
            record_route: &[],
            extra: &[],
            body: None,
        }
        .write();
        tx.respond(now, 100, trying.clone());
        self.send(route, trying);
        self.invite_servers
            .insert(key.clone(), InviteServer { tx, call, route });
        let dialog = Dialog::from_invite(&request, local_tag.clone());
        self.dialogs
            .insert((request.call_id.clone(), local_tag), call);
        let sdp = request.body_text();
        debug!(%call, call_id = %request.call_id, %source, "incoming INVITE");
        self.events.push_back(CallEvent::Incoming {
            call,
            sip_call_id: request.call_id.clone(),
            from: request.from.uri.clone(),
            to: request.to.uri.clone(),
            request_user: request.request_user.clone(),
            source,
            transport: route.transport,
            sdp: sdp.clone(),
        });
        self.calls.insert(
            call,
            Call {
                invite_key: key,
                invite_seed: request.seed,
                invite_cseq: request.cseq,
                source,
                route,
                dialog,
                record_route: request.record_route,
                phase: Phase::Offered,
                offer_in_invite: sdp.is_some(),
                local_sdp: None,
                ack_wait: None,
            },
        );
    }

    fn on_reinvite(&mut self, now: Instant, route: Route, request: Request) {
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

    fn on_ack(&mut self, now: Instant, request: &Request) {
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

    fn on_cancel(&mut self, now: Instant, route: Route, request: &Request) {
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

    fn on_bye(&mut self, now: Instant, route: Route, request: &Request) {
        let Some(call) = self.dialog_of(request) else {
            return self.reply_in_transaction(now, request, route, 481, None, &[], None);
        };
        self.reply_in_transaction(now, request, route, 200, None, &[], None);
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        match c.phase {
            // Our own BYE crossed theirs: `Ended` follows from our transaction.
            Phase::Terminating => {}
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

    fn on_info(&mut self, now: Instant, route: Route, request: &Request) {
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

    // ----------------------------------------------------------------------------------
    // Inbound responses (our client transactions).

    fn on_response(&mut self, now: Instant, response: Response) {
        let Some(client) = self.clients.get_mut(&response.branch) else {
            debug!(branch = %response.branch, "response matching no transaction dropped");
            return;
        };
        if client.method != response.cseq_method.as_str() {
            return;
        }
        if client.tx.on_response(now, response.status) == ClientResponse::Absorbed {
            return;
        }
        if response.status >= 200 {
            if let Some(call) = client.call {
                if client.method == "BYE" {
                    debug!(%call, status = response.status, "BYE answered");
                    self.forget_call(call);
                    self.events.push_back(CallEvent::Ended { call });
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Timers.

    fn run_invite_server_timers(&mut self, now: Instant) {
        let mut out = Vec::new();
        self.invite_servers.retain(|_, server| {
            while let Some(event) = server.tx.handle_timeout(now) {
                match event {
                    TransactionEvent::Retransmit(bytes) => out.push((server.route, bytes)),
                    TransactionEvent::TimedOut => {
                        debug!(call = %server.call, "no ACK for a final error response (Timer H)")
                    }
                    TransactionEvent::Terminated => {}
                }
            }
            !server.tx.is_terminated()
        });
        for (route, bytes) in out {
            self.send(route, bytes);
        }
    }

    fn run_non_invite_server_timers(&mut self, now: Instant) {
        self.non_invite_servers.retain(|_, server| {
            while server.tx.handle_timeout(now).is_some() {}
            !server.tx.is_terminated()
        });
    }

    fn run_client_timers(&mut self, now: Instant) {
        let mut out = Vec::new();
        let mut ended = Vec::new();
        self.clients.retain(|_, client| {
            while let Some(event) = client.tx.handle_timeout(now) {
                match event {
                    TransactionEvent::Retransmit(bytes) => out.push((client.route, bytes)),
                    TransactionEvent::TimedOut => {
                        if let Some(call) = client.call {
                            warn!(%call, method = %client.method, "request timed out (Timer F)");
                            ended.push(call);
                        }
                    }
                    TransactionEvent::Terminated => {}
                }
            }
            !client.tx.is_terminated()
        });
        for (route, bytes) in out {
            self.send(route, bytes);
        }
        for call in ended {
            if self
                .calls
                .get(&call)
                .is_some_and(|c| c.phase == Phase::Terminating)
            {
                self.forget_call(call);
                self.events.push_back(CallEvent::Ended { call });
            }
        }
    }

    fn run_ack_timers(&mut self, now: Instant) {
        let t2 = self.timers.t2;
        let mut out = Vec::new();
        for (call, c) in self.calls.iter_mut() {
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

    // ----------------------------------------------------------------------------------
    // Helpers.

    fn start_ack_wait(&mut self, now: Instant, call: CallId, payload: Vec<u8>, initial: bool) {
        let t1 = self.timers.t1;
        let deadline = now + self.timers.transaction_timeout();
        if let Some(c) = self.calls.get_mut(&call) {
            c.phase = Phase::Answered;
            c.ack_wait = Some(AckWait {
                cseq: c.invite_cseq,
                next: (!c.route.transport.is_reliable()).then(|| now + t1),
                payload,
                interval: t1,
                deadline,
                initial,
                answer_in_ack: !c.offer_in_invite,
            });
        }
    }

    /// Sends a response to the call's initial INVITE through its server transaction;
    /// returns the bytes sent, or `None` if the INVITE already has a final response.
    fn respond_to_invite(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
        sdp: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Option<Vec<u8>> {
        let c = self.calls.get(&call)?;
        let server = self.invite_servers.get_mut(&c.invite_key)?;
        if !server.tx.is_proceeding() {
            return None;
        }
        let establishing = (101..300).contains(&status);
        let contact = establishing.then(|| contact_uri(self.config.advertised, c.route.transport));
        let payload = ResponseText {
            status,
            seed: &c.invite_seed,
            to_tag: Some(&c.dialog.local_tag),
            contact: contact.as_deref(),
            record_route: if establishing { &c.record_route } else { &[] },
            extra,
            body: sdp.map(|s| ("application/sdp", s)),
        }
        .write();
        server.tx.respond(now, status, payload.clone());
        let route = server.route;
        self.send(route, payload.clone());
        Some(payload)
    }

    /// A response to a re-INVITE, in its own INVITE server transaction.
    fn reply_invite_transaction(
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

    /// A final response in a new non-INVITE server transaction (absorbs retransmissions).
    #[allow(clippy::too_many_arguments)]
    fn reply_in_transaction(
        &mut self,
        now: Instant,
        request: &Request,
        route: Route,
        status: u16,
        to_tag: Option<&str>,
        extra: &[(&str, &str)],
        body: Option<(&str, &str)>,
    ) {
        let fresh_tag;
        let to_tag = match to_tag {
            Some(tag) => tag,
            None => {
                fresh_tag = new_tag(&mut self.rng);
                &fresh_tag
            }
        };
        let payload = ResponseText {
            status,
            seed: &request.seed,
            to_tag: Some(to_tag),
            contact: None,
            record_route: &[],
            extra,
            body,
        }
        .write();
        let mut tx = ServerNonInviteTransaction::new(route.transport.is_reliable(), self.timers);
        tx.respond(now, status, payload.clone());
        let key = ServerKey::of(request, request.method.as_str());
        self.non_invite_servers
            .insert(key, NonInviteServer { tx, route });
        self.send(route, payload);
    }

    /// A response with no transaction state (403 to untrusted sources: nothing to absorb
    /// for, and no state should be kept for strangers).
    fn reply_stateless(
        &mut self,
        request: &Request,
        route: Route,
        status: u16,
        extra: &[(&str, &str)],
    ) {
        let tag = new_tag(&mut self.rng);
        let payload = ResponseText {
            status,
            seed: &request.seed,
            to_tag: Some(&tag),
            contact: None,
            record_route: &[],
            extra,
            body: None,
        }
        .write();
        self.send(route, payload);
    }

    fn dialog_of(&self, request: &Request) -> Option<CallId> {
        let tag = request.to.tag.as_ref()?;
        let call = *self.dialogs.get(&(request.call_id.clone(), tag.clone()))?;
        let c = self.calls.get(&call)?;
        (c.dialog.remote_tag == request.from.tag.clone().unwrap_or_default()).then_some(call)
    }

    fn forget_call(&mut self, call: CallId) {
        if let Some(c) = self.calls.remove(&call) {
            self.dialogs
                .remove(&(c.dialog.call_id.clone(), c.dialog.local_tag.clone()));
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.config
            .trusted
            .iter()
            .any(|(net, prefix)| cidr_contains(net.to_canonical(), *prefix, ip))
    }

    fn send(&mut self, route: Route, payload: Vec<u8>) {
        self.transmits.push_back(Transmit {
            transport: route.transport,
            destination: route.destination,
            payload,
        });
    }
}

/// The next hop for an in-dialog request. Over TCP we stay on the connection the INVITE came
/// in on (peers expect their flow to be reused); over UDP the route set decides, falling back
/// to the INVITE's source when the hop is a hostname.
fn next_hop_route(call: &Call, next_hop: Option<SocketAddr>) -> Route {
    let destination = match call.route.transport {
        Transport::Tcp => call.source,
        Transport::Udp => next_hop.unwrap_or(call.source),
    };
    Route {
        transport: call.route.transport,
        destination,
    }
}

fn contact_uri(advertised: SocketAddr, transport: Transport) -> String {
    match transport {
        Transport::Udp => format!("sip:hotline@{advertised}"),
        Transport::Tcp => format!("sip:hotline@{advertised};transport=tcp"),
    }
}

fn cidr_contains(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            let prefix = u32::from(prefix.min(32));
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            let prefix = u32::from(prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

fn new_tag(rng: &mut StdRng) -> String {
    format!("{:016x}", rng.gen::<u64>())
}

fn new_branch(rng: &mut StdRng) -> String {
    format!("z9hG4bK{:016x}", rng.gen::<u64>())
}

fn normalize_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' | '*' | '#' | 'A'..='D' => Some(c),
        'a'..='d' => Some(c.to_ascii_uppercase()),
        _ => None,
    }
}

/// `Signal=5\r\nDuration=160` (application/dtmf-relay, as Cisco and most PBXs send it).
fn parse_dtmf_relay(body: &str) -> Option<(char, u32)> {
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

#[cfg(test)]
mod tests;
