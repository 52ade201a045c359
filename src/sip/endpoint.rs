//! The hotline's SIP user agent: routes inbound messages to transactions and dialogs, turns
//! the switch's intents into responses and requests, and runs every timer in virtual time.
//!
//! Who may talk to it: trunk addresses (`trusted`) send calls without authenticating; the
//! agents' phones authenticate with digest (401 for REGISTER, 407 for INVITE) from wherever
//! they are — also from a trunk address, since a phone is recognised by its From user; any
//! source may continue a dialog it knows the identifiers of. Everything else gets 403, and
//! so does a REGISTER or INVITE of a user blocked from an address after repeated failures
//! (never a request within a dialog, and never from a trunk or ignored network).
//!
//! Here: the transaction and call tables, routing of inbound messages, the server
//! transactions' timers and the response writers. By concept: [`registration`] (who a phone
//! is), [`in_dialog`] (requests within a call), [`outgoing`] (calls we place), [`refer`]
//! (transfers: REFER, its NOTIFYs, Replaces).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, warn};

use super::auth::{
    Algorithm, DigestAuthenticator, DigestCredentials, FailureLimiter, FailurePolicy,
    PhoneCredentials, Verdict,
};
use super::dialog::Dialog;
use super::message::{
    self, response_destination, stamp_top_via, uri_user, Inbound, Method, Request, Response,
    ResponseSeed, ResponseText, ACCEPT, ALLOW, SUPPORTED, USER_AGENT,
};
use super::registrar::{remaining_seconds, Binding, RegisterError, RegisterRequest, Registrar};
use super::transaction::{
    ClientInviteState, ClientInviteTransaction, ClientNonInviteTransaction, ClientResponse,
    ServerInviteTransaction, ServerNonInviteTransaction, Timers, TransactionEvent,
};
use super::{CallEvent, CallId, EndpointConfig, Transmit, Transport};
use timer_queue::{CachedDeadline, Deadline, Timed};

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
    /// The INVITE's CSeq number, which its ACK and CANCEL copy.
    cseq: u32,
    /// For our re-INVITE in an established dialog (else `None`: the dialog-creating INVITE):
    /// the ACK for a non-2xx, built with it (same branch, Request-URI, routes and CSeq).
    reinvite_non_2xx_ack: Option<Vec<u8>>,
    /// The ACK for the 2xx, sent again for each retransmitted 2xx.
    ack_for_2xx: Option<(Route, Vec<u8>)>,
    /// Other branches of a forked INVITE that answered 2xx too: their To tag and ACK (sent
    /// again for a retransmitted 2xx; each was hung up at once).
    forks: Vec<(String, Route, Vec<u8>)>,
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
    /// Where the 2xx goes: where its INVITE came from.
    route: Route,
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
    /// The peer's re-INVITE or UPDATE offer the switch has not answered yet.
    reoffer: Option<PendingReoffer>,
    /// Our own re-INVITE, in flight or waiting to retry after a 491.
    our_reinvite: Option<OurReinvite>,
    /// The peer's transfer request (REFER) and its subscription, one at a time.
    refer: Option<refer::ReferState>,
}

pub struct Endpoint {
    config: EndpointConfig,
    timers: Timers,
    rng: StdRng,
    next_call: u64,
    /// The tables with timers keep their deadlines in order ([`Timed`]): no event scans them.
    calls: Timed<CallId, Call>,
    /// (Call-ID, our tag) → call.
    dialogs: HashMap<(String, String), CallId>,
    invite_servers: Timed<ServerKey, InviteServer>,
    non_invite_servers: Timed<ServerKey, NonInviteServer>,
    /// Non-INVITE client transactions by (branch, method): a CANCEL shares its INVITE's branch.
    clients: Timed<(String, String), Client>,
    invite_clients: Timed<String, InviteClient>,
    /// Dialog-creating INVITEs seen lately, to spot merged requests (RFC 3261 8.2.2.2).
    recent_invites: RecentInvites,
    phones: HashMap<String, PhoneCredentials>,
    auth: DigestAuthenticator,
    limiter: FailureLimiter,
    registrar: CachedDeadline<Registrar>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<CallEvent>,
    /// Which malformed messages get a log line of their own; the rest are summarised.
    malformed: malformed_log::MalformedLog,
    /// TCP peers whose REGISTER was just authenticated, for the transport to keep their
    /// connections (`take_vetted_tcp_peers`); bounded in case nobody takes them.
    vetted_tcp: Vec<SocketAddr>,
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
        let limiter = FailureLimiter::new(FailurePolicy {
            allowed: config.auth_failures_allowed,
            window: config.auth_failure_window,
            first_block: config.auth_block,
            longest_block: config.auth_longest_block,
        });
        let mut own_addresses = vec![config.advertised];
        own_addresses.extend(config.own_addresses.iter().copied());
        let registrar = CachedDeadline::new(
            Registrar::new(config.min_expires, config.max_expires)
                .with_max_contacts(config.max_contacts)
                .with_own_addresses(own_addresses),
        );
        Endpoint {
            config,
            timers,
            rng: StdRng::from_entropy(),
            next_call: 1,
            calls: Timed::new(),
            dialogs: HashMap::new(),
            invite_servers: Timed::new(),
            non_invite_servers: Timed::new(),
            clients: Timed::new(),
            invite_clients: Timed::new(),
            recent_invites: RecentInvites::default(),
            phones,
            auth,
            limiter,
            registrar,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            malformed: malformed_log::MalformedLog::default(),
            vetted_tcp: Vec::new(),
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

    /// Whether `ip` is in a trusted network (a trunk's).
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.is_trusted(ip)
    }

    /// The TCP peers whose REGISTER was authenticated since the last call.
    pub fn take_vetted_tcp_peers(&mut self) -> Vec<SocketAddr> {
        std::mem::take(&mut self.vetted_tcp)
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

    /// The earliest pending timer (O(log n) amortised: each table keeps its deadlines in a
    /// heap).
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.invite_servers.next_deadline(),
            self.non_invite_servers.next_deadline(),
            self.clients.next_deadline(),
            self.invite_clients.next_deadline(),
            self.calls.next_deadline(),
            self.registrar.next_deadline(),
            self.malformed.poll_timeout(),
        ]
        .into_iter()
        .flatten()
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
            Err(rejected) => self.on_rejected(now, transport, source, &rejected),
        }
    }

    /// Fires every timer due at `now`; only the entries due are visited.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.run_invite_server_timers(now);
        self.run_non_invite_server_timers(now);
        self.run_client_timers(now);
        self.run_invite_client_timers(now);
        // In call order, as the events of calls due at the same time always came.
        let mut due_calls = self.calls.take_due(now);
        due_calls.sort_unstable();
        self.run_cancel_timers(now, &due_calls);
        self.run_ack_timers(now, &due_calls);
        self.run_reinvite_retry_timers(now, &due_calls);
        self.run_binding_expiry(now);
        if let Some(summary) = self.malformed.take_due(now) {
            log_malformed_summary(&summary);
        }
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

    /// A final 3xx–6xx like [`Endpoint::reject`], but sent once: over UDP it is not
    /// retransmitted while the ACK is awaited, so one INVITE from a forged address never
    /// turns into eleven responses to it; a retransmitted INVITE still gets it again, one
    /// for one, so a real caller whose response was lost still hears it.
    pub fn reject_once(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
        retry_after: Option<u32>,
    ) {
        let key = match self.calls.get(&call).map(|c| &c.origin) {
            Some(Origin::Theirs { key, .. }) => Some(key.clone()),
            _ => None,
        };
        self.reject(now, call, status, retry_after);
        if let Some(server) = key.and_then(|key| self.invite_servers.get_mut(&key)) {
            server.tx.stop_retransmitting();
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

    // ----------------------------------------------------------------------------------
    // Inbound requests.

    fn on_rejected(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        rejected: &message::Rejected,
    ) {
        // A flood of junk is summarised, not logged datagram by datagram.
        let (ended, log_it) = self.malformed.note(now, source.ip());
        if let Some(summary) = ended {
            log_malformed_summary(&summary);
        }
        let Some(seed) = rejected
            .seed
            .as_ref()
            .filter(|_| rejected.is_request && !rejected.is_ack)
        else {
            if log_it {
                warn!(%source, reason = %rejected.reason, "dropped a SIP message that cannot be answered");
            }
            return;
        };
        // A trusted peer is told what is wrong (RFC 3261 20.43, code 399); a stranger learns
        // nothing of how its message was read.
        let trusted = self.is_trusted(source.ip());
        let warning = warning_text(&rejected.reason.to_string());
        let with_warning = [("Warning", warning.as_str())];
        let (status, extra): (u16, &[(&str, &str)]) = if trusted {
            (rejected.status, &with_warning)
        } else {
            (403, &[])
        };
        if log_it {
            warn!(%source, reason = %rejected.reason, status, "refused a malformed SIP request");
        }
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
        let refusal_applies = match &request.method {
            Method::Other(name) => name == "REFER",
            Method::Cancel => false,
            _ => true,
        };
        if refusal_applies {
            if let Some(refusal) = request.refusal() {
                debug!(%source, method = request.method.as_str(), status = refusal.status, "request refused before its method");
                let extra: Vec<(&str, &str)> = refusal
                    .header
                    .iter()
                    .map(|(name, value)| (*name, value.as_str()))
                    .collect();
                return self.reply_in_transaction(
                    now,
                    &request,
                    route,
                    refusal.status,
                    None,
                    &extra,
                    None,
                );
            }
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
            Method::Other(ref name) if name == "UPDATE" => self.on_update(now, route, request),
            Method::Other(ref name) if name == "REFER" => {
                self.on_refer(now, source, route, request)
            }
            Method::Other(ref name) if name == "NOTIFY" => self.on_notify(now, route, &request),
            Method::Other(ref name) if name == "SUBSCRIBE" => {
                self.on_subscribe(now, route, &request)
            }
            Method::Options => {
                if request.to.tag.is_some() {
                    let Some(call) = self.dialog_of(&request) else {
                        return self.reply_in_transaction(
                            now,
                            &request,
                            route,
                            481,
                            None,
                            &[],
                            None,
                        );
                    };
                    if !self.in_order(call, &request) {
                        return self.reply_in_transaction(
                            now,
                            &request,
                            route,
                            500,
                            None,
                            &[],
                            None,
                        );
                    }
                }
                let extra = [
                    ("Allow", ALLOW),
                    ("Supported", SUPPORTED),
                    ("Accept", ACCEPT),
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
        let phone = self.claimed_phone(source, &request);
        if let Some(user) = &phone {
            match self.authenticate(now, source, &request, user, AuthKind::Proxy) {
                AuthOutcome::Accepted => {}
                AuthOutcome::Challenge { stale } => {
                    return self.challenge(now, &request, route, user, AuthKind::Proxy, stale)
                }
                AuthOutcome::Refused => return self.reply_stateless(&request, route, 403, &[]),
            }
        }
        if !self
            .recent_invites
            .first_time(now, &request, self.timers.transaction_timeout())
        {
            // The same INVITE by another path (a forking proxy, an SBC's failover): one call.
            debug!(call_id = %printable(&request.call_id), %source, "merged INVITE refused (482)");
            return self.reply_stateless(&request, route, 482, &[]);
        }
        let replaces = match Endpoint::replaces_of(&request) {
            Ok(replaces) => replaces,
            Err(refusal) => {
                debug!(%source, reason = refusal.reason, "INVITE with an unusable Replaces refused");
                return self.reply_stateless_because(&request, route, refusal);
            }
        };
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
        debug!(%call, call_id = %printable(&request.call_id), %source, "incoming INVITE");
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
            replaces,
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
                reoffer: None,
                our_reinvite: None,
                refer: None,
            },
        );
    }

    // ----------------------------------------------------------------------------------
    // Inbound responses (our client transactions).

    // ----------------------------------------------------------------------------------
    // Timers.

    fn run_invite_server_timers(&mut self, now: Instant) {
        for key in self.invite_servers.take_due(now) {
            let Some(server) = self.invite_servers.get_mut(&key) else {
                continue;
            };
            let mut out = Vec::new();
            while let Some(event) = server.tx.handle_timeout(now) {
                match event {
                    TransactionEvent::Retransmit(bytes) => out.push(bytes),
                    TransactionEvent::TimedOut => {
                        debug!(call = %server.call, "no ACK for a final error response (Timer H)")
                    }
                    TransactionEvent::Terminated => {}
                }
            }
            let route = server.route;
            if server.tx.is_terminated() {
                self.invite_servers.remove(&key);
            }
            for bytes in out {
                self.send(route, bytes);
            }
        }
    }

    fn run_non_invite_server_timers(&mut self, now: Instant) {
        for key in self.non_invite_servers.take_due(now) {
            let Some(server) = self.non_invite_servers.get_mut(&key) else {
                continue;
            };
            while server.tx.handle_timeout(now).is_some() {}
            if server.tx.is_terminated() {
                self.non_invite_servers.remove(&key);
            }
        }
    }

    fn run_binding_expiry(&mut self, now: Instant) {
        if self.registrar.next_deadline().is_none_or(|at| at > now) {
            return;
        }
        for (user, bindings) in self.registrar.expire(now) {
            debug!(%user, left = bindings.len(), "binding expired");
            self.events
                .push_back(CallEvent::BindingsChanged { user, bindings });
        }
    }

    // ----------------------------------------------------------------------------------
    // Helpers.

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
        // Every 2xx says what we allow and support (RFC 3261 13.3.1.4).
        let with_capabilities: Vec<(&str, &str)>;
        let extra = if (200..300).contains(&status) {
            with_capabilities = extra
                .iter()
                .copied()
                .chain([("Allow", ALLOW), ("Supported", SUPPORTED)])
                .collect();
            &with_capabilities[..]
        } else {
            extra
        };
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

/// A Warning header's value naming why a request was refused: `399 hotline "reason"`, the
/// reason cut to 200 characters of printable ASCII (anything else becomes `?`) with quotes
/// and backslashes escaped, so nothing a peer sent can break the header.
fn warning_text(reason: &str) -> String {
    let mut text = String::from("399 hotline \"");
    for c in reason.chars().take(200) {
        match c {
            '"' | '\\' => {
                text.push('\\');
                text.push(c);
            }
            ' '..='~' => text.push(c),
            _ => text.push('?'),
        }
    }
    text.push('"');
    text
}

/// The one line that stands for an interval's malformed messages (fail2ban need not read it:
/// it names no address).
fn log_malformed_summary(summary: &malformed_log::Summary) {
    warn!(
        messages = summary.messages,
        logged = summary.logged,
        sources = summary.sources,
        more_sources = summary.more_sources,
        interval_s = malformed_log::INTERVAL.as_secs(),
        "malformed SIP messages in the last interval, not all logged one by one"
    );
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

impl Deadline for InviteServer {
    fn deadline(&self) -> Option<Instant> {
        self.tx.poll_timeout()
    }
    fn is_finished(&self) -> bool {
        self.tx.is_terminated()
    }
}

impl Deadline for NonInviteServer {
    fn deadline(&self) -> Option<Instant> {
        self.tx.poll_timeout()
    }
    fn is_finished(&self) -> bool {
        self.tx.is_terminated()
    }
}

impl Deadline for Client {
    fn deadline(&self) -> Option<Instant> {
        self.tx.poll_timeout()
    }
    fn is_finished(&self) -> bool {
        self.tx.is_terminated()
    }
}

impl Deadline for InviteClient {
    fn deadline(&self) -> Option<Instant> {
        self.tx.poll_timeout()
    }
    fn is_finished(&self) -> bool {
        self.tx.is_terminated()
    }
}

/// A call's own timers: the 2xx retransmission until the ACK, and giving up our INVITE
/// after its CANCEL.
impl Deadline for Call {
    fn deadline(&self) -> Option<Instant> {
        let ack = self
            .ack_wait
            .as_ref()
            .map(|w| w.next.map_or(w.deadline, |n| n.min(w.deadline)));
        let cancel = match self.origin {
            Origin::Ours {
                cancel: CancelState::Sent { give_up_at },
                ..
            } if self.phase == Phase::Calling => Some(give_up_at),
            _ => None,
        };
        let retry = self.our_reinvite.as_ref().and_then(|r| r.retry_at);
        ack.into_iter().chain(cancel).chain(retry).min()
    }
}

impl Deadline for Registrar {
    fn deadline(&self) -> Option<Instant> {
        self.next_expiry()
    }
}

mod in_dialog;
mod malformed_log;
mod outgoing;
mod refer;
use in_dialog::{OurReinvite, PendingReoffer, RecentInvites};
mod registration;
mod timer_queue;

#[cfg(test)]
mod in_dialog_tests;
#[cfg(test)]
mod phone_tests;
#[cfg(test)]
mod refer_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timer_tests;
