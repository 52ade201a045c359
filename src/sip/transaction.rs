//! The four RFC 3261 section 17 transaction state machines, sans-IO.
//!
//! Each machine holds the bytes it may have to send again and its own timer deadlines.
//! Deadlines advance from the previous deadline, not from the `now` the timer was handled
//! at, so a driver that wakes late still produces the exact RFC schedule.
//! Over reliable transports the retransmission timers never start and the wait timers
//! (D, I, J, K) are zero, as section 17 prescribes.

use std::time::{Duration, Instant};

/// T1, T2 and T4 of RFC 3261 (defaults 500 ms, 4 s, 5 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// Timers B, F, H and J, and the wait for the ACK of a 2xx: 64*T1.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// What a transaction asks of its owner when a timer fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransactionEvent {
    /// Send these bytes again.
    Retransmit(Vec<u8>),
    /// The transaction gave up (Timer B, F or H) and is terminated.
    TimedOut,
    /// The transaction finished normally and can be forgotten.
    Terminated,
}

/// Doubling retransmission interval with an optional cap.
#[derive(Clone, Copy, Debug)]
struct Backoff {
    next: Instant,
    interval: Duration,
    cap: Option<Duration>,
}

impl Backoff {
    fn start(now: Instant, t1: Duration, cap: Option<Duration>) -> Backoff {
        Backoff {
            next: now + t1,
            interval: t1,
            cap,
        }
    }

    fn advance(&mut self) {
        let doubled = self.interval * 2;
        self.interval = self.cap.map_or(doubled, |cap| doubled.min(cap));
        self.next += self.interval;
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

// ---------------------------------------------------------------------------------------
// INVITE server transaction (RFC 3261 17.2.1, with RFC 6026's Accepted state).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerInviteState {
    Proceeding,
    /// A 2xx was sent; the transaction user retransmits it. Retransmitted INVITEs are
    /// absorbed until Timer L (64*T1).
    Accepted,
    /// A 3xx–6xx was sent; waiting for the ACK (Timers G and H).
    Completed,
    /// ACK received; absorbing ACK retransmissions (Timer I).
    Confirmed,
    Terminated,
}

#[derive(Debug)]
pub struct ServerInviteTransaction {
    state: ServerInviteState,
    reliable: bool,
    timers: Timers,
    last_response: Option<Vec<u8>>,
    retransmit: Option<Backoff>,
    deadline: Option<Instant>,
}

impl ServerInviteTransaction {
    /// Created when the INVITE arrives; the owner sends 100 Trying through `respond`.
    pub fn new(reliable: bool, timers: Timers) -> Self {
        ServerInviteTransaction {
            state: ServerInviteState::Proceeding,
            reliable,
            timers,
            last_response: None,
            retransmit: None,
            deadline: None,
        }
    }

    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    /// True until a final response has been sent.
    pub fn is_proceeding(&self) -> bool {
        self.state == ServerInviteState::Proceeding
    }

    /// Records a response the owner is sending now; returns false if a final response was
    /// already sent (the new one must not go out).
    pub fn respond(&mut self, now: Instant, status: u16, bytes: Vec<u8>) -> bool {
        if self.state != ServerInviteState::Proceeding {
            return false;
        }
        self.last_response = Some(bytes);
        match status {
            100..=199 => {}
            200..=299 => {
                self.state = ServerInviteState::Accepted;
                self.deadline = Some(now + self.timers.transaction_timeout());
            }
            _ => {
                self.state = ServerInviteState::Completed;
                if !self.reliable {
                    self.retransmit =
                        Some(Backoff::start(now, self.timers.t1, Some(self.timers.t2)));
                }
                self.deadline = Some(now + self.timers.transaction_timeout());
            }
        }
        true
    }

    /// A retransmitted INVITE: the last response to send again, if any.
    pub fn on_retransmitted_request(&self) -> Option<&[u8]> {
        match self.state {
            ServerInviteState::Proceeding
            | ServerInviteState::Accepted
            | ServerInviteState::Completed => self.last_response.as_deref(),
            _ => None,
        }
    }

    /// An ACK for a non-2xx final response. Returns true if it was the first one.
    pub fn on_ack(&mut self, now: Instant) -> bool {
        if self.state != ServerInviteState::Completed {
            return false;
        }
        self.retransmit = None;
        if self.reliable {
            self.state = ServerInviteState::Terminated;
            self.deadline = None;
        } else {
            self.state = ServerInviteState::Confirmed;
            self.deadline = Some(now + self.timers.t4);
        }
        true
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(self.retransmit.map(|b| b.next), self.deadline)
    }

    /// Handles the earliest due timer, if one is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<TransactionEvent> {
        if let Some(backoff) = self.retransmit.as_mut() {
            if backoff.next <= now && self.deadline.is_none_or(|d| backoff.next < d) {
                backoff.advance();
                return self.last_response.clone().map(TransactionEvent::Retransmit);
            }
        }
        let deadline = self.deadline?;
        if deadline > now {
            return None;
        }
        let timed_out = self.state == ServerInviteState::Completed;
        self.state = ServerInviteState::Terminated;
        self.retransmit = None;
        self.deadline = None;
        Some(if timed_out {
            TransactionEvent::TimedOut
        } else {
            TransactionEvent::Terminated
        })
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ServerInviteState::Terminated
    }

    /// Sends the final 3xx–6xx no more by itself (no Timer G): only a retransmitted INVITE
    /// gets it again, one for one. For refusals to a source that may be forged.
    pub fn stop_retransmitting(&mut self) {
        self.retransmit = None;
    }
}

// ---------------------------------------------------------------------------------------
// Non-INVITE server transaction (RFC 3261 17.2.2).

#[derive(Debug)]
pub struct ServerNonInviteTransaction {
    reliable: bool,
    timers: Timers,
    last_response: Option<Vec<u8>>,
    final_sent: bool,
    /// Timer J.
    deadline: Option<Instant>,
    terminated: bool,
}

impl ServerNonInviteTransaction {
    pub fn new(reliable: bool, timers: Timers) -> Self {
        ServerNonInviteTransaction {
            reliable,
            timers,
            last_response: None,
            final_sent: false,
            deadline: None,
            terminated: false,
        }
    }

    /// Records a response being sent; false if the final response was already sent.
    pub fn respond(&mut self, now: Instant, status: u16, bytes: Vec<u8>) -> bool {
        if self.final_sent || self.terminated {
            return false;
        }
        self.last_response = Some(bytes);
        if status >= 200 {
            self.final_sent = true;
            let wait = if self.reliable {
                Duration::ZERO
            } else {
                self.timers.transaction_timeout()
            };
            self.deadline = Some(now + wait);
        }
        true
    }

    /// A retransmitted request: the last response to send again (none while Trying).
    pub fn on_retransmitted_request(&self) -> Option<&[u8]> {
        if self.terminated {
            None
        } else {
            self.last_response.as_deref()
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Option<TransactionEvent> {
        match self.deadline {
            Some(deadline) if deadline <= now => {
                self.deadline = None;
                self.terminated = true;
                Some(TransactionEvent::Terminated)
            }
            _ => None,
        }
    }

    pub fn is_terminated(&self) -> bool {
        self.terminated
    }
}

// ---------------------------------------------------------------------------------------
// Client transactions.

/// What a client transaction passes up when a response arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientResponse {
    /// Pass the response to the transaction user.
    Deliver,
    /// A retransmitted final response: absorbed (the INVITE transaction re-sent its ACK
    /// through `ack_to_send`).
    Absorbed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientInviteState {
    Calling,
    Proceeding,
    /// A 2xx was received (RFC 6026): further 2xx go to the transaction user for ACKing.
    Accepted,
    /// A 3xx–6xx was received and ACKed; absorbing retransmissions (Timer D).
    Completed,
    Terminated,
}

/// INVITE client transaction (RFC 3261 17.1.1). The ACK for a non-2xx final response is
/// built by the owner (it needs the response's To) and handed in with the response.
#[derive(Debug)]
pub struct ClientInviteTransaction {
    state: ClientInviteState,
    reliable: bool,
    timers: Timers,
    request: Vec<u8>,
    ack: Option<Vec<u8>>,
    /// Timer A.
    retransmit: Option<Backoff>,
    /// Timer B, then D (Completed) or M (Accepted).
    deadline: Option<Instant>,
}

impl ClientInviteTransaction {
    /// Created as the INVITE is sent for the first time.
    pub fn new(now: Instant, request: Vec<u8>, reliable: bool, timers: Timers) -> Self {
        ClientInviteTransaction {
            state: ClientInviteState::Calling,
            reliable,
            timers,
            request,
            ack: None,
            // Timer A doubles without a cap; Timer B ends it.
            retransmit: (!reliable).then(|| Backoff::start(now, timers.t1, None)),
            deadline: Some(now + timers.transaction_timeout()),
        }
    }

    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    /// A response matched to this transaction. For 3xx–6xx, `ack` is the ACK to send (the
    /// owner transmits it the first time; later it comes back through `ack_to_send`).
    pub fn on_response(
        &mut self,
        now: Instant,
        status: u16,
        ack: Option<Vec<u8>>,
    ) -> ClientResponse {
        match (self.state, status) {
            (ClientInviteState::Calling | ClientInviteState::Proceeding, 100..=199) => {
                self.state = ClientInviteState::Proceeding;
                self.retransmit = None;
                // RFC 3261 17.1.1.2: Timer B does not run in Proceeding; the TU cancels.
                self.deadline = None;
                ClientResponse::Deliver
            }
            (ClientInviteState::Calling | ClientInviteState::Proceeding, 200..=299) => {
                self.state = ClientInviteState::Accepted;
                self.retransmit = None;
                self.deadline = Some(now + self.timers.transaction_timeout());
                ClientResponse::Deliver
            }
            (ClientInviteState::Calling | ClientInviteState::Proceeding, _) => {
                self.state = ClientInviteState::Completed;
                self.retransmit = None;
                self.ack = ack;
                let wait = if self.reliable {
                    Duration::ZERO
                } else {
                    Duration::from_secs(32).max(self.timers.transaction_timeout())
                };
                self.deadline = Some(now + wait);
                ClientResponse::Deliver
            }
            (ClientInviteState::Accepted, 200..=299) => ClientResponse::Deliver,
            _ => ClientResponse::Absorbed,
        }
    }

    /// The ACK to re-send for a retransmitted non-2xx final response.
    pub fn ack_to_send(&self) -> Option<&[u8]> {
        match self.state {
            ClientInviteState::Completed => self.ack.as_deref(),
            _ => None,
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(self.retransmit.map(|b| b.next), self.deadline)
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Option<TransactionEvent> {
        if let Some(backoff) = self.retransmit.as_mut() {
            if backoff.next <= now && self.deadline.is_none_or(|d| backoff.next < d) {
                backoff.advance();
                return Some(TransactionEvent::Retransmit(self.request.clone()));
            }
        }
        let deadline = self.deadline?;
        if deadline > now {
            return None;
        }
        let timed_out = self.state == ClientInviteState::Calling;
        self.state = ClientInviteState::Terminated;
        self.retransmit = None;
        self.deadline = None;
        Some(if timed_out {
            TransactionEvent::TimedOut
        } else {
            TransactionEvent::Terminated
        })
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientInviteState::Terminated
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientNonInviteState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// Non-INVITE client transaction (RFC 3261 17.1.2), e.g. our BYE.
#[derive(Debug)]
pub struct ClientNonInviteTransaction {
    state: ClientNonInviteState,
    reliable: bool,
    timers: Timers,
    request: Vec<u8>,
    /// Timer E.
    retransmit: Option<Backoff>,
    /// Timer F, then K.
    deadline: Option<Instant>,
}

impl ClientNonInviteTransaction {
    /// Created as the request is sent for the first time.
    pub fn new(now: Instant, request: Vec<u8>, reliable: bool, timers: Timers) -> Self {
        ClientNonInviteTransaction {
            state: ClientNonInviteState::Trying,
            reliable,
            timers,
            request,
            retransmit: (!reliable).then(|| Backoff::start(now, timers.t1, Some(timers.t2))),
            deadline: Some(now + timers.transaction_timeout()),
        }
    }

    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    pub fn on_response(&mut self, now: Instant, status: u16) -> ClientResponse {
        match (self.state, status) {
            (ClientNonInviteState::Trying | ClientNonInviteState::Proceeding, 100..=199) => {
                self.state = ClientNonInviteState::Proceeding;
                // In Proceeding Timer E fires every T2 (RFC 3261 17.1.2.2).
                if let Some(backoff) = self.retransmit.as_mut() {
                    backoff.interval = self.timers.t2;
                    backoff.cap = Some(self.timers.t2);
                }
                ClientResponse::Deliver
            }
            (ClientNonInviteState::Trying | ClientNonInviteState::Proceeding, _) => {
                self.state = ClientNonInviteState::Completed;
                self.retransmit = None;
                let wait = if self.reliable {
                    Duration::ZERO
                } else {
                    self.timers.t4
                };
                self.deadline = Some(now + wait);
                ClientResponse::Deliver
            }
            _ => ClientResponse::Absorbed,
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(self.retransmit.map(|b| b.next), self.deadline)
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Option<TransactionEvent> {
        if let Some(backoff) = self.retransmit.as_mut() {
            if backoff.next <= now && self.deadline.is_none_or(|d| backoff.next < d) {
                backoff.advance();
                return Some(TransactionEvent::Retransmit(self.request.clone()));
            }
        }
        let deadline = self.deadline?;
        if deadline > now {
            return None;
        }
        let timed_out = self.state != ClientNonInviteState::Completed;
        self.state = ClientNonInviteState::Terminated;
        self.retransmit = None;
        self.deadline = None;
        Some(if timed_out {
            TransactionEvent::TimedOut
        } else {
            TransactionEvent::Terminated
        })
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientNonInviteState::Terminated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs every timer up to `until`, returning (offset in ms, event) pairs.
    fn drain(
        start: Instant,
        until: Duration,
        mut poll: impl FnMut() -> Option<Instant>,
        mut fire: impl FnMut(Instant) -> Option<TransactionEvent>,
    ) -> Vec<(u128, TransactionEvent)> {
        let mut out = Vec::new();
        while let Some(at) = poll() {
            if at > start + until {
                break;
            }
            if let Some(event) = fire(at) {
                out.push(((at - start).as_millis(), event));
            }
        }
        out
    }

    #[test]
    fn non_invite_client_timer_e_doubles_to_t2_then_timer_f_times_out() {
        let t0 = Instant::now();
        let tx = std::cell::RefCell::new(ClientNonInviteTransaction::new(
            t0,
            b"BYE".to_vec(),
            false,
            Timers::default(),
        ));
        let events = drain(
            t0,
            Duration::from_secs(40),
            || tx.borrow().poll_timeout(),
            |at| tx.borrow_mut().handle_timeout(at),
        );
        let retransmits: Vec<u128> = events
            .iter()
            .filter(|(_, e)| matches!(e, TransactionEvent::Retransmit(_)))
            .map(|(at, _)| *at)
            .collect();
        assert_eq!(
            retransmits,
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        assert_eq!(events.last(), Some(&(32000, TransactionEvent::TimedOut)));
        assert!(tx.borrow().is_terminated());
    }

    #[test]
    fn non_invite_client_final_response_stops_retransmits_and_waits_timer_k() {
        let t0 = Instant::now();
        let mut tx = ClientNonInviteTransaction::new(t0, b"BYE".to_vec(), false, Timers::default());
        assert_eq!(tx.on_response(t0 + ms(100), 200), ClientResponse::Deliver);
        assert_eq!(tx.on_response(t0 + ms(200), 200), ClientResponse::Absorbed);
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(5100)));
        assert_eq!(
            tx.handle_timeout(t0 + ms(5100)),
            Some(TransactionEvent::Terminated)
        );
    }

    #[test]
    fn non_invite_client_over_tcp_never_retransmits() {
        let t0 = Instant::now();
        let mut tx = ClientNonInviteTransaction::new(t0, b"BYE".to_vec(), true, Timers::default());
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        assert_eq!(
            tx.handle_timeout(t0 + Duration::from_secs(32)),
            Some(TransactionEvent::TimedOut)
        );
    }

    #[test]
    fn non_invite_client_in_proceeding_retransmits_every_t2() {
        let t0 = Instant::now();
        let mut tx = ClientNonInviteTransaction::new(t0, b"BYE".to_vec(), false, Timers::default());
        assert!(matches!(
            tx.handle_timeout(t0 + ms(500)),
            Some(TransactionEvent::Retransmit(_))
        ));
        tx.on_response(t0 + ms(600), 100);
        // The pending deadline stays; later ones are T2 apart.
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(1500)));
        tx.handle_timeout(t0 + ms(1500));
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(5500)));
    }

    #[test]
    fn invite_client_timer_a_doubles_until_timer_b() {
        let t0 = Instant::now();
        let tx = std::cell::RefCell::new(ClientInviteTransaction::new(
            t0,
            b"INVITE".to_vec(),
            false,
            Timers::default(),
        ));
        let events = drain(
            t0,
            Duration::from_secs(40),
            || tx.borrow().poll_timeout(),
            |at| tx.borrow_mut().handle_timeout(at),
        );
        let at: Vec<u128> = events.iter().map(|(at, _)| *at).collect();
        assert_eq!(at, vec![500, 1500, 3500, 7500, 15500, 31500, 32000]);
        assert_eq!(
            events.last().map(|e| &e.1),
            Some(&TransactionEvent::TimedOut)
        );
    }

    #[test]
    fn invite_client_provisional_stops_timer_a_and_b() {
        let t0 = Instant::now();
        let mut tx = ClientInviteTransaction::new(t0, b"INVITE".to_vec(), false, Timers::default());
        assert_eq!(
            tx.on_response(t0 + ms(100), 180, None),
            ClientResponse::Deliver
        );
        assert_eq!(tx.poll_timeout(), None);
        assert_eq!(tx.state(), ClientInviteState::Proceeding);
    }

    #[test]
    fn invite_client_error_response_is_acked_and_retransmissions_reacked_until_timer_d() {
        let t0 = Instant::now();
        let mut tx = ClientInviteTransaction::new(t0, b"INVITE".to_vec(), false, Timers::default());
        assert_eq!(
            tx.on_response(t0 + ms(100), 486, Some(b"ACK".to_vec())),
            ClientResponse::Deliver
        );
        assert_eq!(
            tx.on_response(t0 + ms(600), 486, None),
            ClientResponse::Absorbed
        );
        assert_eq!(tx.ack_to_send(), Some(&b"ACK"[..]));
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(32100)));
        assert_eq!(
            tx.handle_timeout(t0 + ms(32100)),
            Some(TransactionEvent::Terminated)
        );
        assert!(tx.is_terminated());
    }

    #[test]
    fn invite_client_2xx_goes_to_the_user_including_retransmissions() {
        let t0 = Instant::now();
        let mut tx = ClientInviteTransaction::new(t0, b"INVITE".to_vec(), true, Timers::default());
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        assert_eq!(tx.on_response(t0, 200, None), ClientResponse::Deliver);
        assert_eq!(
            tx.on_response(t0 + ms(500), 200, None),
            ClientResponse::Deliver
        );
        assert_eq!(tx.state(), ClientInviteState::Accepted);
    }

    #[test]
    fn invite_server_error_response_retransmits_on_timer_g_until_timer_h() {
        let t0 = Instant::now();
        let tx = std::cell::RefCell::new(ServerInviteTransaction::new(false, Timers::default()));
        tx.borrow_mut().respond(t0, 486, b"486".to_vec());
        let events = drain(
            t0,
            Duration::from_secs(40),
            || tx.borrow().poll_timeout(),
            |at| tx.borrow_mut().handle_timeout(at),
        );
        let at: Vec<u128> = events.iter().map(|(at, _)| *at).collect();
        assert_eq!(
            at,
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500, 32000]
        );
        assert_eq!(
            events.last().map(|e| &e.1),
            Some(&TransactionEvent::TimedOut)
        );
    }

    #[test]
    fn invite_server_ack_confirms_and_timer_i_terminates() {
        let t0 = Instant::now();
        let mut tx = ServerInviteTransaction::new(false, Timers::default());
        tx.respond(t0, 487, b"487".to_vec());
        assert!(tx.on_ack(t0 + ms(100)));
        assert!(!tx.on_ack(t0 + ms(200)));
        assert_eq!(tx.state(), ServerInviteState::Confirmed);
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(5100)));
        assert_eq!(
            tx.handle_timeout(t0 + ms(5100)),
            Some(TransactionEvent::Terminated)
        );
    }

    #[test]
    fn invite_server_over_tcp_does_not_retransmit_and_ack_terminates_at_once() {
        let t0 = Instant::now();
        let mut tx = ServerInviteTransaction::new(true, Timers::default());
        tx.respond(t0, 486, b"486".to_vec());
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        assert!(tx.on_ack(t0 + ms(10)));
        assert!(tx.is_terminated());
    }

    #[test]
    fn invite_server_absorbs_retransmitted_invite_with_last_response() {
        let t0 = Instant::now();
        let mut tx = ServerInviteTransaction::new(false, Timers::default());
        assert_eq!(tx.on_retransmitted_request(), None);
        tx.respond(t0, 100, b"100".to_vec());
        tx.respond(t0, 180, b"180".to_vec());
        assert_eq!(tx.on_retransmitted_request(), Some(&b"180"[..]));
        assert!(tx.respond(t0, 200, b"200".to_vec()));
        assert!(!tx.respond(t0, 487, b"487".to_vec()));
        assert_eq!(tx.on_retransmitted_request(), Some(&b"200"[..]));
    }

    #[test]
    fn non_invite_server_timer_j_is_64_t1_on_udp_and_zero_on_tcp() {
        let t0 = Instant::now();
        let mut udp = ServerNonInviteTransaction::new(false, Timers::default());
        udp.respond(t0, 200, b"200".to_vec());
        assert_eq!(udp.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        assert_eq!(udp.on_retransmitted_request(), Some(&b"200"[..]));
        let mut tcp = ServerNonInviteTransaction::new(true, Timers::default());
        tcp.respond(t0, 200, b"200".to_vec());
        assert_eq!(tcp.poll_timeout(), Some(t0));
        assert_eq!(tcp.handle_timeout(t0), Some(TransactionEvent::Terminated));
    }
}
