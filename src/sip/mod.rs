//! sip: the sans-IO SIP user agent (RFC 3261 with RFC 3581 rport).
//!
//! Owns: parsing and validating SIP messages (over rsip), stream framing for TCP, the four
//! RFC 3261 transaction state machines and their timers, dialogs (tags, CSeq, route set,
//! remote target) and the UAS behaviour of the hotline's [`Endpoint`]. Callers feed it bytes
//! with the time they arrived and poll it for datagrams to send, call events and the next
//! timer instant.
//!
//! Must not touch: sockets, the wall clock (`Instant::now()`), threads or sleeping — the `net`
//! driver owns those. SDP is opaque text here; `sdp.rs` belongs to the SDP engineer and the
//! switch decides what to answer. Call-centre policy (when to ring, answer or hang up) belongs
//! to `switch`.

mod dialog;
mod endpoint;
pub mod message;
pub mod sdp;
mod transaction;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use endpoint::Endpoint;
pub use message::{stream_frame_len, FrameError, MAX_HEADER_BYTES};
pub use transaction::{
    ClientInviteTransaction, ClientNonInviteTransaction, ClientResponse, ServerInviteTransaction,
    ServerNonInviteTransaction, Timers, TransactionEvent,
};

/// The transport a SIP message came in on or must go out on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// Reliable transports carry no retransmissions and have zero-length wait timers.
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }

    pub(crate) fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// One message for the `net` driver to send. Over TCP the destination names the connection
/// the request came in on (the driver opens a new one only if that is gone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub transport: Transport,
    pub destination: SocketAddr,
    pub payload: Vec<u8>,
}

/// The endpoint's handle for one call (one INVITE dialog), stable for the call's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call-{}", self.0)
    }
}

/// Settings of the SIP endpoint.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Our address for Via and Contact (the bound SIP address).
    pub advertised: SocketAddr,
    /// CIDRs allowed to send requests; requests from anywhere else get 403.
    pub trusted: Vec<(IpAddr, u8)>,
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
}

impl EndpointConfig {
    /// RFC 3261 default timers (T1 500 ms, T2 4 s, T4 5 s) and no trusted peers.
    pub fn new(advertised: SocketAddr) -> Self {
        EndpointConfig {
            advertised,
            trusted: Vec::new(),
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// What happened to a call, for the switch (the transaction user).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallEvent {
    /// A new INVITE; 100 Trying has already been sent.
    Incoming {
        call: CallId,
        sip_call_id: String,
        from: String,
        to: String,
        request_user: String,
        source: SocketAddr,
        transport: Transport,
        sdp: Option<String>,
    },
    /// CANCEL handled: 200 to the CANCEL and 487 to the INVITE already sent.
    Cancelled { call: CallId },
    /// ACK for our 2xx; `sdp` is the answer to a delayed offer.
    Confirmed { call: CallId, sdp: Option<String> },
    /// No ACK for our 2xx within 64*T1; the switch should call `hangup`.
    AckTimeout { call: CallId },
    /// A re-INVITE offer, already answered with our last SDP.
    RemoteSdp { call: CallId, sdp: String },
    /// The remote party hung up; 200 already sent.
    Bye { call: CallId },
    /// A digit from SIP INFO (application/dtmf-relay or application/dtmf).
    Dtmf {
        call: CallId,
        digit: char,
        duration_ms: u32,
    },
    /// Our BYE got a final response or timed out (or `hangup` refused an unanswered call):
    /// forget the call.
    Ended { call: CallId },
}

impl CallEvent {
    pub fn call(&self) -> CallId {
        match self {
            CallEvent::Incoming { call, .. }
            | CallEvent::Cancelled { call }
            | CallEvent::Confirmed { call, .. }
            | CallEvent::AckTimeout { call }
            | CallEvent::RemoteSdp { call, .. }
            | CallEvent::Bye { call }
            | CallEvent::Dtmf { call, .. }
            | CallEvent::Ended { call } => *call,
        }
    }
}
