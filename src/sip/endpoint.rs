//! The hotline's SIP user agent: routes inbound messages to transactions and dialogs, turns
//! the switch's intents into responses and requests, and runs every timer in virtual time.
//!
//! Who may talk to it: trunk addresses (`trusted`) send calls without authenticating; the
//! agents' phones authenticate with digest (401 for REGISTER, 407 for INVITE) from wherever
//! they are — also from a trunk address, since a phone is recognised by its From user; any
//! source may continue a dialog it knows the identifiers of. Everything else gets 403, and
//! so does every request needing authentication from an address blocked after repeated
//! failures.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, warn};

use super::auth::{
    Algorithm, DigestAuthenticator, DigestCredentials, FailureLimiter, PhoneCredentials, Verdict,
};
use super::dialog::Dialog;
use super::message::{
    self, response_destination, stamp_top_via, uri_user, Inbound, Method, Request, Response,
    ResponseSeed, ResponseText, ALLOW, USER_AGENT,
};
use super::registrar::{remaining_seconds, Binding, RegisterError, RegisterRequest, Registrar};
use super::transaction::{
    ClientInviteState, ClientInviteTransaction, ClientNonInviteTransaction, ClientResponse,
    ServerInviteTransaction, ServerNonInviteTransaction, Timers, TransactionEvent,
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

/// Our INVITE's client transaction and what ACK and CANCEL copy from the INVITE.
struct InviteClient {
    tx: ClientInviteTransaction,
    call: CallId,
    route: Route,
    request_uri: String,
    /// Our Via (with the transaction's branch), From (with tag) and To (without tag).
    via: String,
    from: String,
    to: String,
    call_id: String,
    /// The ACK for the 2xx, sent again for each retransmitted 2xx.
    ack_for_2xx: Option<(Route, Vec<u8>)>,
}

/// Where a CANCEL of our INVITE stands (RFC 3261 9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CancelState {
    NotAsked,
    /// Asked before any provisional response: sent when one arrives (Timer B still runs).
    Pending,
    /// Sent; without a final response by then the INVITE is given up (64*T1).
    Sent {
        give_up_at: Instant,
    },
}

/// The INVITE that created a call.
enum Origin {
    /// The peer's INVITE, answered through our INVITE server transaction.
    Theirs {
        key: ServerKey,
        seed: ResponseSeed,
        cseq: u32,
        record_route: Vec<String>,
        offer_in_invite: bool,
    },
    /// Our INVITE to an agent's phone (the branch names its client transaction).
    Ours { branch: String, cancel: CancelState },
}

/// Which digest exchange: registrar (401) or proxy-style for INVITEs (407).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthKind {
    Registrar,
    Proxy,
}

impl AuthKind {
    fn status(self) -> u16 {
        match self {
            AuthKind::Registrar => 401,
            AuthKind::Proxy => 407,
        }
    }

    fn challenge_header(self) -> &'static str {
        match self {
            AuthKind::Registrar => "WWW-Authenticate",
            AuthKind::Proxy => "Proxy-Authenticate",
        }
    }

    /// Where credentials are looked for, the expected header first. Both are read because
    /// phones share one credential state between REGISTER and INVITE: libre (baresip) sends
    /// its REGISTER credentials pre-emptively as `Authorization` on the INVITE, and after a
    /// 407 sends `Proxy-Authorization` on the next REGISTER.
    fn credentials_headers(self) -> [&'static str; 2] {
        match self {
            AuthKind::Registrar => ["Authorization", "Proxy-Authorization"],
            AuthKind::Proxy => ["Proxy-Authorization", "Authorization"],
        }
    }
}

enum AuthOutcome {
    Accepted,
    Challenge { stale: bool },
    Refused,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Our INVITE is out, no final response yet.
    Calling,
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
    origin: Origin,
    /// Where the INVITE came from (or, for ours, went to): the fallback next hop and the TCP
    /// connection.
    source: SocketAddr,
    route: Route,
    dialog: Dialog,
    phase: Phase,
    local_sdp: Option<String>,
    ack_wait: Option<AckWait>,
    /// The authenticated phone that placed the call.
    phone: Option<String>,
    /// `OutgoingFailed` already told the switch: the end of our BYE is not reported.
    quiet_end: bool,
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
    /// Non-INVITE client transactions by (branch, method): a CANCEL shares its INVITE's branch.
    clients: HashMap<(String, String), Client>,
    invite_clients: HashMap<String, InviteClient>,
    phones: HashMap<String, PhoneCredentials>,
    auth: DigestAuthenticator,
    limiter: FailureLimiter,
    registrar: Registrar,
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
        let phones = config
            .phones
            .iter()
            .map(|p| (p.user.clone(), p.clone()))
            .collect();
        let auth =
            DigestAuthenticator::new(config.realm.clone(), config.secret, config.nonce_lifetime);
        let limiter = FailureLimiter::new(
            config.auth_failures_allowed,
            config.auth_failure_window,
            config.auth_block,
        );
        let registrar = Registrar::new(config.min_expires, config.max_expires);
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
            invite_clients: HashMap::new(),
            phones,
            auth,
            limiter,
            registrar,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Puts back a binding remembered across a restart (from the store). Bindings of users
    /// not in the phone list are dropped.
    pub fn restore_binding(&mut self, binding: Binding) {
        if !self.phones.contains_key(&binding.user) {
            debug!(user = %binding.user, "stored binding of an unknown phone dropped");
            return;
        }
        self.registrar.restore(binding);
    }

    /// The phone's current bindings (an expired one goes when its timer is handled).
    pub fn bindings(&self, user: &str) -> Vec<Binding> {
        self.registrar.bindings(user)
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
        let invite_clients = self
            .invite_clients
            .values()
            .filter_map(|c| c.tx.poll_timeout());
        let acks = self.calls.values().filter_map(|c| {
            c.ack_wait
                .as_ref()
                .map(|w| w.next.map_or(w.deadline, |n| n.min(w.deadline)))
        });
        let cancels = self.calls.values().filter_map(|c| match c.origin {
            Origin::Ours {
                cancel: CancelState::Sent { give_up_at },
                ..
            } if c.phase == Phase::Calling => Some(give_up_at),
            _ => None,
        });
        servers
            .chain(others)
            .chain(clients)
            .chain(invite_clients)
            .chain(acks)
            .chain(cancels)
            .chain(self.registrar.next_expiry())
            .min()
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
        self.run_invite_client_timers(now);
        self.run_cancel_timers(now);
        self.run_ack_timers(now);
        self.run_binding_expiry(now);
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

    /// BYE on an answered call (also before its ACK). On an incoming call not yet answered
    /// this answers 480 instead; either way `Ended` follows. On a call we placed that is not
    /// answered yet this is [`Endpoint::cancel`] (and `OutgoingFailed` follows instead).
    pub fn hangup(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            debug!(%call, "hangup for an unknown call ignored");
            return;
        };
        match c.phase {
            Phase::Calling => self.cancel(now, call),
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
                    (branch, "BYE".into()),
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
To: {to_party}\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <{contact}>\r\n\
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
                ack_for_2xx: None,
            },
        );
        let dialog = Dialog::outgoing(
            call_id.clone(),
            local_tag.clone(),
            local_party,
            to_party,
            to.contact.clone(),
            1,
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
        let trusted = self.is_trusted(source.ip());
        if request.method == Method::Ack {
            // Only an ACK matching one of our transactions or dialogs does anything.
            return self.on_ack(now, &request);
        }
        if !trusted && self.limiter.is_blocked(now, source.ip()) {
            debug!(%source, method = request.method.as_str(), "request from a blocked source refused");
            return self.reply_stateless(&request, route, 403, &[]);
        }
        match request.method {
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
        if !trusted && !self.may_enter_untrusted(&request) {
            warn!(%source, method = request.method.as_str(), "request from an untrusted source refused");
            return self.reply_stateless(&request, route, 403, &[]);
        }
        if request.max_forwards == 0 && request.method != Method::Options {
            return self.reply_in_transaction(now, &request, route, 483, None, &[], None);
        }
        match request.method {
            Method::Register => self.on_register(now, source, route, request),
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

    /// What a source outside the trunks may send: REGISTER, a phone's new INVITE (both
    /// authenticated next), and requests within a dialog or INVITE of a phone it knows.
    fn may_enter_untrusted(&self, request: &Request) -> bool {
        match request.method {
            Method::Register => true,
            Method::Invite if request.to.tag.is_none() => self.phone_of(request).is_some(),
            Method::Cancel => self
                .invite_servers
                .get(&ServerKey::of(request, "INVITE"))
                .and_then(|server| self.calls.get(&server.call))
                .is_some_and(|c| c.phone.is_some()),
            _ => request.to.tag.is_some() && self.dialog_of(request).is_some(),
        }
    }

    /// The phone a new INVITE claims to come from (its From user), if it is one of ours.
    fn phone_of<'r>(&self, request: &'r Request) -> Option<&'r str> {
        uri_user(&request.from.uri).filter(|user| self.phones.contains_key(*user))
    }

    fn on_register(&mut self, now: Instant, source: SocketAddr, route: Route, request: Request) {
        let user = uri_user(&request.to.uri).unwrap_or_default().to_owned();
        if !self.phones.contains_key(&user) {
            // Not worth a challenge: count it, as scanners probe for extensions this way.
            self.auth_failed(now, source, &user, &"REGISTER for an unknown user");
            return self.reply_stateless(&request, route, 403, &[]);
        }
        match self.authenticate(now, source, &request, &user, AuthKind::Registrar) {
            AuthOutcome::Accepted => {}
            AuthOutcome::Challenge { stale } => {
                return self.challenge(now, &request, route, &user, AuthKind::Registrar, stale)
            }
            AuthOutcome::Refused => return self.reply_stateless(&request, route, 403, &[]),
        }
        let contacts = request.header_values(&["Contact", "m"]);
        let expires = request.header_values(&["Expires"]).into_iter().next();
        let outcome = self.registrar.register(
            now,
            &RegisterRequest {
                user: &user,
                contacts: &contacts,
                expires: expires.as_deref(),
                call_id: &request.call_id,
                cseq: request.cseq,
                source,
                transport: route.transport,
            },
        );
        match outcome {
            Ok(outcome) => {
                let values: Vec<String> = outcome
                    .bindings
                    .iter()
                    .map(|b| format!("<{}>;expires={}", b.contact, remaining_seconds(b, now)))
                    .collect();
                let extra: Vec<(&str, &str)> =
                    values.iter().map(|v| ("Contact", v.as_str())).collect();
                self.reply_in_transaction(now, &request, route, 200, None, &extra, None);
                if outcome.changed {
                    debug!(%user, bindings = outcome.bindings.len(), "bindings changed by REGISTER");
                    self.events.push_back(CallEvent::BindingsChanged {
                        user,
                        bindings: outcome.bindings,
                    });
                }
            }
            Err(error) => {
                warn!(%user, %source, %error, "REGISTER refused");
                let min = self.registrar.min_expires().to_string();
                let extra: Vec<(&str, &str)> = match error {
                    RegisterError::IntervalTooBrief { .. } => vec![("Min-Expires", min.as_str())],
                    _ => Vec::new(),
                };
                self.reply_in_transaction(now, &request, route, error.status(), None, &extra, None);
            }
        }
    }

    /// Checks a phone's digest credentials for this request (never for retransmissions:
    /// the transaction layer absorbs those first, so their reused nonce count is no replay).
    fn authenticate(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        user: &str,
        kind: AuthKind,
    ) -> AuthOutcome {
        if self.limiter.is_blocked(now, source.ip()) {
            debug!(%source, user = %printable(user), "source blocked after authentication failures");
            return AuthOutcome::Refused;
        }
        let Some(phone) = self.phones.get(user) else {
            return AuthOutcome::Refused;
        };
        let [expected, other] = kind.credentials_headers();
        let mut values = request.header_values(&[expected]);
        values.extend(request.header_values(&[other]));
        if values.is_empty() {
            return AuthOutcome::Challenge { stale: false };
        }
        // A request may carry credentials for several realms: ours decides.
        let parsed: Vec<_> = values.iter().map(|v| DigestCredentials::parse(v)).collect();
        let chosen = parsed
            .iter()
            .find(|p| p.as_ref().is_ok_and(|c| c.realm == self.auth.realm()))
            .or_else(|| parsed.first())
            .cloned();
        let verdict = match chosen {
            Some(Ok(credentials)) => {
                let phone = phone.clone();
                self.auth
                    .verify(now, request.method.as_str(), &credentials, &phone)
            }
            Some(Err(error)) => Verdict::Refused(error),
            None => return AuthOutcome::Challenge { stale: false },
        };
        match verdict {
            Verdict::Accepted => AuthOutcome::Accepted,
            Verdict::Stale => {
                debug!(%source, user = %printable(user), "stale nonce: challenging again");
                AuthOutcome::Challenge { stale: true }
            }
            Verdict::Replayed { nc } => {
                warn!(ip = %source.ip(), %source, user = %printable(user), nc, "nonce count replayed: refused, challenging again");
                AuthOutcome::Challenge { stale: true }
            }
            Verdict::Refused(error) => {
                if self.auth_failed(now, source, user, &error) {
                    AuthOutcome::Refused
                } else {
                    AuthOutcome::Challenge { stale: false }
                }
            }
        }
    }

    /// Counts and reports a failed authentication; true if the source is now blocked.
    fn auth_failed(
        &mut self,
        now: Instant,
        source: SocketAddr,
        user: &str,
        reason: &dyn std::fmt::Display,
    ) -> bool {
        let blocked = self.limiter.record_failure(now, source.ip());
        let user = printable(user);
        warn!(ip = %source.ip(), %source, %user, %reason, "authentication failed");
        if blocked {
            warn!(
                ip = %source.ip(),
                %user,
                block_s = self.config.auth_block.as_secs(),
                "address blocked after repeated authentication failures"
            );
        }
        self.events.push_back(CallEvent::AuthFailed {
            source,
            user,
            blocked,
        });
        blocked
    }

    /// 401 or 407 with one challenge per algorithm the phone can answer (SHA-256 first).
    /// Stateless: strangers get no transaction state, and a retransmission just gets a new
    /// nonce.
    fn challenge(
        &mut self,
        now: Instant,
        request: &Request,
        route: Route,
        user: &str,
        kind: AuthKind,
        stale: bool,
    ) {
        // The configured algorithms, in their order, that this phone has credentials for;
        // a phone with none of them is offered what it has.
        let usable = self
            .phones
            .get(user)
            .map(PhoneCredentials::algorithms)
            .unwrap_or_default();
        let mut algorithms: Vec<Algorithm> = self
            .config
            .digest_algorithms
            .iter()
            .copied()
            .filter(|a| usable.contains(a))
            .collect();
        if algorithms.is_empty() {
            algorithms = if usable.is_empty() {
                vec![Algorithm::Md5]
            } else {
                usable
            };
        }
        let values = self.auth.challenge(now, &algorithms, stale);
        let extra: Vec<(&str, &str)> = values
            .iter()
            .map(|v| (kind.challenge_header(), v.as_str()))
            .collect();
        self.reply_stateless(request, route, kind.status(), &extra);
    }

    fn on_new_invite(&mut self, now: Instant, source: SocketAddr, route: Route, request: Request) {
        let phone = self.phone_of(&request).map(str::to_owned);
        if let Some(user) = &phone {
            match self.authenticate(now, source, &request, user, AuthKind::Proxy) {
                AuthOutcome::Accepted => {}
                AuthOutcome::Challenge { stale } => {
                    return self.challenge(now, &request, route, user, AuthKind::Proxy, stale)
                }
                AuthOutcome::Refused => return self.reply_stateless(&request, route, 403, &[]),
            }
        }
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
            phone: phone.clone(),
        });
        self.calls.insert(
            call,
            Call {
                origin: Origin::Theirs {
                    key,
                    seed: request.seed,
                    cseq: request.cseq,
                    record_route: request.record_route,
                    offer_in_invite: sdp.is_some(),
                },
                source,
                route,
                dialog,
                phase: Phase::Offered,
                local_sdp: None,
                ack_wait: None,
                phone,
                quiet_end: false,
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
                }
            }
        }
    }

    /// A response to our INVITE (RFC 3261 13.2.2 and 17.1.1).
    fn on_invite_response(&mut self, now: Instant, response: Response) {
        let Some(client) = self.invite_clients.get_mut(&response.branch) else {
            debug!(branch = %response.branch, "INVITE response matching no transaction dropped");
            return;
        };
        if client.call_id != response.call_id {
            debug!(branch = %response.branch, "INVITE response with a foreign Call-ID dropped");
            return;
        }
        let (call, route) = (client.call, client.route);
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

    fn on_outgoing_provisional(&mut self, now: Instant, call: CallId, response: &Response) {
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

    fn on_outgoing_answer(&mut self, now: Instant, call: CallId, response: &Response) {
        let Some(client) = self.invite_clients.get(&response.branch) else {
            return;
        };
        if let Some((route, ack)) = client.ack_for_2xx.clone() {
            // A retransmitted 2xx: our ACK was lost.
            return self.send(route, ack);
        }
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase != Phase::Calling {
            return;
        }
        let tag = response.to.tag.clone().unwrap_or_default();
        c.dialog
            .on_response(&tag, response.contact.as_deref(), &response.record_route);
        let branch = new_branch(&mut self.rng);
        let contact = contact_uri(self.config.advertised, c.route.transport);
        let ack = c.dialog.ack(
            1,
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

    fn send_cancel(&mut self, now: Instant, call: CallId) {
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
Call-ID: {}\r\nCSeq: 1 CANCEL\r\nUser-Agent: {USER_AGENT}\r\nContent-Length: 0\r\n\r\n",
            client.request_uri, client.via, client.from, client.to, client.call_id
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
                self.end_terminating(call);
            }
        }
    }

    fn run_invite_client_timers(&mut self, now: Instant) {
        let mut out = Vec::new();
        let mut timed_out = Vec::new();
        self.invite_clients.retain(|_, client| {
            while let Some(event) = client.tx.handle_timeout(now) {
                match event {
                    TransactionEvent::Retransmit(bytes) => out.push((client.route, bytes)),
                    TransactionEvent::TimedOut => timed_out.push(client.call),
                    TransactionEvent::Terminated => {}
                }
            }
            !client.tx.is_terminated()
        });
        for (route, bytes) in out {
            self.send(route, bytes);
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
    fn run_cancel_timers(&mut self, now: Instant) {
        let due: Vec<(CallId, String)> = self
            .calls
            .iter()
            .filter_map(|(call, c)| match &c.origin {
                Origin::Ours {
                    branch,
                    cancel: CancelState::Sent { give_up_at },
                } if c.phase == Phase::Calling && *give_up_at <= now => {
                    Some((*call, branch.clone()))
                }
                _ => None,
            })
            .collect();
        for (call, branch) in due {
            warn!(%call, "no final response 64*T1 after our CANCEL: INVITE given up");
            self.invite_clients.remove(&branch);
            self.forget_call(call);
            self.events
                .push_back(CallEvent::OutgoingFailed { call, status: 487 });
        }
    }

    fn run_binding_expiry(&mut self, now: Instant) {
        for (user, bindings) in self.registrar.expire(now) {
            debug!(%user, left = bindings.len(), "binding expired");
            self.events
                .push_back(CallEvent::BindingsChanged { user, bindings });
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
        let Origin::Theirs {
            key,
            seed,
            record_route,
            ..
        } = &c.origin
        else {
            return None;
        };
        let server = self.invite_servers.get_mut(key)?;
        if !server.tx.is_proceeding() {
            return None;
        }
        let establishing = (101..300).contains(&status);
        let contact = establishing.then(|| contact_uri(self.config.advertised, c.route.transport));
        let payload = ResponseText {
            status,
            seed,
            to_tag: Some(&c.dialog.local_tag),
            contact: contact.as_deref(),
            record_route: if establishing { record_route } else { &[] },
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

    /// Our BYE is done: the call goes, with `Ended` unless the switch was already told.
    fn end_terminating(&mut self, call: CallId) {
        let quiet = self.calls.get(&call).is_some_and(|c| c.quiet_end);
        self.forget_call(call);
        if !quiet {
            self.events.push_back(CallEvent::Ended { call });
        }
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

impl InviteClient {
    /// The ACK for a 3xx–6xx (RFC 3261 17.1.1.3): part of the INVITE transaction, so the
    /// INVITE's branch, Request-URI and CSeq number, with the response's To tag.
    fn non_2xx_ack(&self, response: &Response) -> Vec<u8> {
        let to = match response.to.tag.as_deref() {
            Some(tag) => format!("{};tag={tag}", self.to),
            None => self.to.clone(),
        };
        format!(
            "ACK {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {to}\r\n\
Call-ID: {}\r\nCSeq: 1 ACK\r\nUser-Agent: {USER_AGENT}\r\nContent-Length: 0\r\n\r\n",
            self.request_uri, self.via, self.from, self.call_id
        )
        .into_bytes()
    }
}

/// A display name as a quoted string followed by a space, or nothing. It may come from a
/// caller's number or name, so quotes, backslashes and line breaks cannot break the header.
fn quoted_display(display: &str) -> String {
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
fn uri_user_part(user: &str) -> String {
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

/// Network text made safe for one log field.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
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
mod phone_tests;
#[cfg(test)]
mod tests;
