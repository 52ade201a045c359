//! sip: the sans-IO SIP user agent (RFC 3261 with RFC 3581 rport).
//!
//! Owns: parsing and validating SIP messages (our own tokenizer, `message/wire.rs`), stream framing for TCP, the four
//! RFC 3261 transaction state machines and their timers, dialogs (tags, CSeq, route set,
//! remote target), digest authentication of the agents' phones and its brute-force limit,
//! the registrar's bindings, and the UAS and UAC behaviour of the hotline's [`Endpoint`].
//! Callers feed it bytes with the time they arrived and poll it for datagrams to send, call
//! events and the next timer instant.
//!
//! Must not touch: sockets, the wall clock (`Instant::now()`), threads or sleeping — the `net`
//! driver owns those. SDP is opaque text here; `sdp.rs` belongs to the SDP engineer and the
//! switch decides what to answer. Call-centre policy (when to ring, answer or hang up) belongs
//! to `switch`.

pub mod auth;
mod dialog;
mod endpoint;
pub mod framing;
pub mod message;
pub mod registrar;
pub mod sdp;
mod transaction;

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use auth::{Algorithm, PhoneCredentials};
pub use endpoint::Endpoint;
pub use framing::{stream_frame_len, FrameError, MAX_HEADER_BYTES};
pub use registrar::Binding;
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

/// A table keyed by [`CallId`], hashed by [`CallIdHasher`]: the media engines, their workers
/// and the recording service look a call up for every packet or frame.
pub type CallIdMap<V> = HashMap<CallId, V, BuildHasherDefault<CallIdHasher>>;

/// A hash for [`CallId`]s: one multiplication (Fibonacci hashing) instead of SipHash, whose
/// resistance to chosen keys buys nothing here — the endpoint numbers calls itself, so no
/// stranger picks a key — and which cost the recording service a tenth of its time per
/// frame under load.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallIdHasher(u64);

impl Hasher for CallIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Settings of the SIP endpoint.
#[derive(Clone)]
pub struct EndpointConfig {
    /// Our address for Via and Contact (the bound SIP address).
    pub advertised: SocketAddr,
    /// CIDRs allowed to send requests without authenticating (trunks); other sources may
    /// only REGISTER, place calls as an authenticated phone, or continue a dialog.
    pub trusted: Vec<(IpAddr, u8)>,
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
    /// Digest realm of the challenges.
    pub realm: String,
    /// The phones that may register and place calls.
    pub phones: Vec<PhoneCredentials>,
    /// How long a nonce is accepted; after that the phone is challenged with `stale=true`.
    pub nonce_lifetime: Duration,
    /// The digest algorithms offered in challenges, one header each, in this order (clients
    /// take the first they support; RFC 7616 wants SHA-256 first). The default is MD5 only:
    /// the peers on our machines fail on any SHA-256 challenge — baresip 1.0 (libre 1.1)
    /// refuses the whole 401 with ENOSYS, SIPp 3.6.1 answers only the first header and
    /// knows only MD5. Credentials with SHA-256 are verified whatever is offered.
    pub digest_algorithms: Vec<Algorithm>,
    /// REGISTER expiry bounds in seconds (below the minimum: 423; above the maximum: capped).
    pub min_expires: u32,
    pub max_expires: u32,
    /// Failed authentications of one user from one address within the window that block
    /// that user from that address (other users and in-dialog requests are not blocked).
    pub auth_failures_allowed: u32,
    pub auth_failure_window: Duration,
    /// How long the first block lasts; each further block of the same address and user
    /// lasts twice the previous one, up to `auth_longest_block`.
    pub auth_block: Duration,
    /// Key for the nonces' keyed hash: random, so nonces cannot be forged.
    pub secret: [u8; 32],
    /// The longest block after repeated authentication failures.
    pub auth_longest_block: Duration,
    /// CIDRs whose authentication failures never block them (as trunk networks are never
    /// blocked); the failures are still logged.
    pub auth_ignore: Vec<(IpAddr, u8)>,
    /// Contacts one phone may have registered at once; a REGISTER that would go past it is
    /// refused with 403.
    pub max_contacts: usize,
    /// Our listening sockets besides `advertised` (the bind address, maybe unspecified): a
    /// Contact pointing at any of them is refused with 403, so a phone cannot make the
    /// switch call itself.
    pub own_addresses: Vec<SocketAddr>,
}

impl EndpointConfig {
    /// RFC 3261 default timers (T1 500 ms, T2 4 s, T4 5 s), no trusted peers, no phones,
    /// realm "hotline", 5 min nonces, MD5 challenges, expires 60–3600 s, 5 failures of one user
    /// from one address in 60 s block that pair for 1 min (doubling on each further block,
    /// up to 1 h), nothing ignored, 5 contacts per phone, and a random secret.
    pub fn new(advertised: SocketAddr) -> Self {
        EndpointConfig {
            advertised,
            trusted: Vec::new(),
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            realm: "hotline".into(),
            phones: Vec::new(),
            nonce_lifetime: Duration::from_secs(5 * 60),
            digest_algorithms: vec![Algorithm::Md5],
            min_expires: 60,
            max_expires: 3600,
            auth_failures_allowed: 5,
            auth_failure_window: Duration::from_secs(60),
            auth_block: Duration::from_secs(60),
            secret: rand::random(),
            auth_longest_block: Duration::from_secs(60 * 60),
            auth_ignore: Vec::new(),
            max_contacts: 5,
            own_addresses: Vec::new(),
        }
    }
}

impl fmt::Debug for EndpointConfig {
    // The secret stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("advertised", &self.advertised)
            .field("trusted", &self.trusted)
            .field("t1", &self.t1)
            .field("t2", &self.t2)
            .field("t4", &self.t4)
            .field("realm", &self.realm)
            .field("phones", &self.phones)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("digest_algorithms", &self.digest_algorithms)
            .field("min_expires", &self.min_expires)
            .field("max_expires", &self.max_expires)
            .field("auth_failures_allowed", &self.auth_failures_allowed)
            .field("auth_failure_window", &self.auth_failure_window)
            .field("auth_block", &self.auth_block)
            .field("auth_longest_block", &self.auth_longest_block)
            .field("auth_ignore", &self.auth_ignore)
            .field("max_contacts", &self.max_contacts)
            .field("own_addresses", &self.own_addresses)
            .finish_non_exhaustive()
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
        /// The phone (SIP user) that placed the call and authenticated; `None` for trunk calls.
        phone: Option<String>,
        /// The dialog this INVITE replaces (its `Replaces` header, RFC 3891), when it has one.
        /// The endpoint has not matched it: the switch looks it up with
        /// `Endpoint::find_dialog`.
        replaces: Option<DialogRef>,
    },
    /// CANCEL handled: 200 to the CANCEL and 487 to the INVITE already sent.
    Cancelled { call: CallId },
    /// ACK for our 2xx; `sdp` is the answer to a delayed offer.
    Confirmed { call: CallId, sdp: Option<String> },
    /// No ACK for our 2xx within 64*T1; the switch should call `hangup`.
    AckTimeout { call: CallId },
    /// The peer's answer to the offer we made in the 2xx to its re-INVITE without SDP
    /// (from the ACK).
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
    /// A phone's bindings changed (REGISTER, un-REGISTER or expiry): all that are left.
    BindingsChanged {
        user: String,
        bindings: Vec<Binding>,
    },
    /// A provisional response (180, 183, …; not 100) to our INVITE.
    OutgoingProgress { call: CallId, status: u16 },
    /// Our INVITE was answered; the ACK is already sent.
    OutgoingAnswered { call: CallId, sdp: Option<String> },
    /// Our INVITE failed: its final non-2xx status, 408 when nothing answered, 487 after
    /// `cancel` (also when a 200 crossed the CANCEL: that leg was ACKed and hung up). The
    /// call is forgotten.
    OutgoingFailed { call: CallId, status: u16 },
    /// An authentication failed (wrong credentials, unknown user, replay); `blocked` when it
    /// made the source blocked. For logs and metrics.
    AuthFailed {
        source: SocketAddr,
        user: String,
        blocked: bool,
    },
    /// A re-INVITE or UPDATE (RFC 3311) asks to change the call's media: `offer` is its SDP
    /// (`None`: a re-INVITE without SDP, which wants our offer). Nothing is answered yet: the
    /// switch calls `Endpoint::answer_reoffer` with the answer (or, for `None`, its offer) or
    /// `Endpoint::refuse_reoffer` (488), after which the call goes on unchanged.
    Reoffer { call: CallId, offer: Option<String> },
    /// What became of our `Endpoint::reinvite`: the final status (408 when nothing answered,
    /// 491 when glare persisted through the RFC 3261 14.1 retries) and, with a 2xx, the
    /// peer's SDP answer. The ACK is already sent.
    ReinviteDone {
        call: CallId,
        status: u16,
        sdp: Option<String>,
    },
    /// The peer asks us to call `target` (REFER, RFC 3515) within this call. Nothing is
    /// answered yet: the switch calls `Endpoint::accept_refer` (202, then a NOTIFY with
    /// "100 Trying") or `Endpoint::refuse_refer`, then reports the outcome with
    /// `Endpoint::notify_refer`. A REFER without a usable Refer-To never gets here (400).
    Refer {
        call: CallId,
        target: ReferTarget,
        /// The Referred-By header's URI, when present (for the record).
        referred_by: Option<String>,
    },
}

/// A dialog named from outside it: a `Replaces` header (RFC 3891), or one embedded in a
/// Refer-To URI (`?Replaces=...`, unescaped). The tags are as RFC 3891 3 defines them and the
/// sender wrote them (which side each names is checked against both orders when matching). A
/// phone that leaves the tags out is matched by Call-ID alone when that is unambiguous.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialogRef {
    pub call_id: String,
    pub to_tag: Option<String>,
    pub from_tag: Option<String>,
    /// `early-only`: replace only a dialog that is not yet confirmed.
    pub early_only: bool,
}

/// Where a REFER sends the call: the Refer-To URI (angle brackets and header part removed),
/// its user part (the number or extension dialled, empty when none), its host, and the dialog
/// to replace when the URI embeds `Replaces` (attended transfer, RFC 5589 7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferTarget {
    pub uri: String,
    pub user: String,
    pub host: String,
    pub replaces: Option<DialogRef>,
}

impl CallEvent {
    /// The call the event is about; `None` for registrar and authentication events.
    pub fn call(&self) -> Option<CallId> {
        match self {
            CallEvent::Incoming { call, .. }
            | CallEvent::Cancelled { call }
            | CallEvent::Confirmed { call, .. }
            | CallEvent::AckTimeout { call }
            | CallEvent::RemoteSdp { call, .. }
            | CallEvent::Bye { call }
            | CallEvent::Dtmf { call, .. }
            | CallEvent::Ended { call }
            | CallEvent::OutgoingProgress { call, .. }
            | CallEvent::OutgoingAnswered { call, .. }
            | CallEvent::OutgoingFailed { call, .. }
            | CallEvent::Reoffer { call, .. }
            | CallEvent::ReinviteDone { call, .. }
            | CallEvent::Refer { call, .. } => Some(*call),
            CallEvent::BindingsChanged { .. } | CallEvent::AuthFailed { .. } => None,
        }
    }
}

#[cfg(test)]
mod call_id_tests {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, BuildHasherDefault};

    use super::{CallId, CallIdHasher, CallIdMap};

    fn hash(call: CallId) -> u64 {
        BuildHasherDefault::<CallIdHasher>::default().hash_one(call)
    }

    #[test]
    fn consecutive_call_ids_spread_over_a_tables_buckets_and_its_control_bits() {
        // hashbrown takes the bucket from the low bits and a 7-bit tag from the top ones:
        // numbered calls must spread over both, or lookups degrade to scans.
        let hashes: Vec<u64> = (0..1024).map(|n| hash(CallId(n))).collect();
        let buckets: HashSet<u64> = hashes.iter().map(|h| h & 1023).collect();
        let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(buckets.len() > 900, "{} buckets of 1024", buckets.len());
        assert!(tags.len() > 120, "{} tags of 128", tags.len());
    }

    #[test]
    fn keys_of_several_words_or_of_bytes_hash_apart_too() {
        let build = BuildHasherDefault::<CallIdHasher>::default();
        let pairs: HashSet<u64> = (0..32)
            .flat_map(|a| (0..32).map(move |b| (CallId(a), CallId(b))))
            .map(|pair| build.hash_one(pair))
            .collect();
        assert_eq!(pairs.len(), 32 * 32);
        let strings: HashSet<u64> = (0..64u8)
            .flat_map(|a| (0..64u8).map(move |b| [a, b]))
            .map(|bytes| build.hash_one(bytes))
            .collect();
        assert_eq!(strings.len(), 64 * 64);
    }

    #[test]
    fn a_call_id_map_finds_what_it_holds() {
        let mut map: CallIdMap<u64> = CallIdMap::default();
        for n in 0..500 {
            map.insert(CallId(n * 7), n);
        }
        assert_eq!(map.get(&CallId(21)), Some(&3));
        assert_eq!(map.get(&CallId(22)), None);
        assert_eq!(map.len(), 500);
    }
}
