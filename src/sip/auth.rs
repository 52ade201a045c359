//! HTTP digest authentication for SIP (RFC 7616 with RFC 2617 hashes): challenges,
//! verification of a client's credentials, and failure counting per (address, user) with
//! escalating blocks.
//!
//! Only `qop=auth` responses are accepted (an RFC 2069 response without `qop` can be replayed
//! as is), and the digest `uri` must name the Request-URI (RFC 7616 section 3.4.6).
//!
//! Nonces carry their issue time encrypted under a per-nonce salt and a keyed hash of both,
//! so any nonce can be checked without remembering it while an observer learns neither the
//! issue time (uptime) nor how many nonces were issued. The only per-nonce state is the
//! nonce counts (`nc`) seen for nonces that already authenticated someone, kept to refuse
//! replays, dropped when the nonce expires and bounded: when the table is full the oldest
//! nonce is forgotten and every nonce issued up to it is treated as stale from then on, so
//! forgetting never reopens a replay. Nothing here parses input in a way that can panic.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest as _, Sha256};
use thiserror::Error;

/// A phone's credentials: its plain password, or the HA1 values `H(user:realm:password)`
/// precomputed for MD5 and/or SHA-256 (so the password need not be stored).
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneCredentials {
    pub user: String,
    pub password: Option<String>,
    pub ha1_md5: Option<String>,
    pub ha1_sha256: Option<String>,
}

impl fmt::Debug for PhoneCredentials {
    // Secrets stay out of logs and panic messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneCredentials")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("ha1_md5", &self.ha1_md5.as_ref().map(|_| "…"))
            .field("ha1_sha256", &self.ha1_sha256.as_ref().map(|_| "…"))
            .finish()
    }
}

impl PhoneCredentials {
    /// HA1 for `algorithm`, from the precomputed value or the password; `None` when this
    /// phone has no credentials usable with that algorithm.
    fn ha1(&self, algorithm: Algorithm, realm: &str) -> Option<String> {
        let precomputed = match algorithm {
            Algorithm::Md5 => self.ha1_md5.as_deref(),
            Algorithm::Sha256 => self.ha1_sha256.as_deref(),
        };
        if let Some(ha1) = precomputed {
            return Some(ha1.trim().to_ascii_lowercase());
        }
        let password = self.password.as_deref()?;
        Some(algorithm.hash(&format!("{}:{realm}:{password}", self.user)))
    }

    /// The algorithms this phone can answer, strongest first.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        [Algorithm::Sha256, Algorithm::Md5]
            .into_iter()
            .filter(|a| match a {
                Algorithm::Md5 => self.password.is_some() || self.ha1_md5.is_some(),
                Algorithm::Sha256 => self.password.is_some() || self.ha1_sha256.is_some(),
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// Every algorithm, strongest first.
    pub const ALL: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Md5];

    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Lowercase hex of the hash of `text`.
    pub fn hash(self, text: &str) -> String {
        match self {
            Algorithm::Md5 => hex(&Md5::digest(text.as_bytes())),
            Algorithm::Sha256 => hex(&Sha256::digest(text.as_bytes())),
        }
    }
}

/// The `response` value of RFC 7616 section 3.4.1 (and RFC 2069 when `qop` is absent).
pub fn digest_response(
    algorithm: Algorithm,
    ha1: &str,
    nonce: &str,
    qop: Option<(&str, &str, &str)>, // (qop, nc, cnonce)
    method: &str,
    uri: &str,
) -> String {
    let ha2 = algorithm.hash(&format!("{method}:{uri}"));
    match qop {
        Some((qop, nc, cnonce)) => {
            algorithm.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"))
        }
        None => algorithm.hash(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Compares without an early exit, so the time taken does not tell how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why credentials were not accepted.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    #[error("credentials are not a Digest header: {0:?}")]
    NotDigest(String),
    #[error("Digest credentials lack the {0} parameter")]
    MissingParam(&'static str),
    #[error("Digest credentials have a malformed {0} parameter")]
    MalformedParam(&'static str),
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
    #[error("a response without qop=auth (RFC 2069 style) can be replayed: refused")]
    QopRequired,
    #[error("credentials for realm {0:?}, not ours")]
    WrongRealm(String),
    #[error("credentials for user {given:?} presented for {expected:?}")]
    WrongUser { given: String, expected: String },
    #[error("user {user:?} has no credentials for {algorithm}")]
    NoCredentials {
        user: String,
        algorithm: &'static str,
    },
    #[error("wrong digest response for user {0:?}")]
    WrongResponse(String),
    #[error("digest uri {given:?} is not the Request-URI {request_uri:?}")]
    UriMismatch { given: String, request_uri: String },
}

/// Parsed `Authorization` / `Proxy-Authorization` Digest credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestCredentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Option<String>,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
}

impl DigestCredentials {
    /// `Digest username="…", realm="…", …` (parameters in any order, quoted or not).
    pub fn parse(value: &str) -> Result<DigestCredentials, AuthError> {
        let value = value.trim();
        let (scheme, rest) = value
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::NotDigest(scheme.chars().take(32).collect()));
        }
        let mut out = DigestCredentials::default();
        let (mut username, mut realm, mut nonce, mut uri, mut response) =
            (None, None, None, None, None);
        for (key, val) in auth_params(rest).ok_or(AuthError::MalformedParam("list"))? {
            match key.to_ascii_lowercase().as_str() {
                "username" => username = Some(val),
                "realm" => realm = Some(val),
                "nonce" => nonce = Some(val),
                "uri" => uri = Some(val),
                "response" => response = Some(val),
                "algorithm" => out.algorithm = Some(val),
                "qop" => out.qop = Some(val),
                "nc" => out.nc = Some(val),
                "cnonce" => out.cnonce = Some(val),
                _ => {}
            }
        }
        out.username = username.ok_or(AuthError::MissingParam("username"))?;
        out.realm = realm.ok_or(AuthError::MissingParam("realm"))?;
        out.nonce = nonce.ok_or(AuthError::MissingParam("nonce"))?;
        out.uri = uri.ok_or(AuthError::MissingParam("uri"))?;
        out.response = response.ok_or(AuthError::MissingParam("response"))?;
        Ok(out)
    }
}

/// `key=value` pairs separated by commas; values may be quoted strings with `\` escapes.
/// `None` when a quoted string is not closed or a pair has no `=`.
fn auth_params(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next() != Some('=') {
            return None;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return None;
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key.trim().to_owned(), value.trim().to_owned()));
    }
}

/// The outcome of checking credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// The digest was right but the nonce is expired or not one of ours (e.g. issued before a
    /// restart): challenge again with `stale=true`. Not a failure.
    Stale,
    /// The digest was right but its nonce count was already used with this nonce: refused.
    /// The sender knew the password at some point, so this is no guess to count; a fresh
    /// nonce lets an honest client recover while a replayed request gains nothing.
    Replayed {
        nc: u32,
    },
    Refused(AuthError),
}

/// How far below the highest nonce count seen a count may arrive late (requests sent close
/// together can overtake each other over UDP) and still be accepted once.
const NC_WINDOW: u32 = 64;

/// The nonce counts accepted for one nonce: the highest, and a bitmap of the `NC_WINDOW`
/// counts below it (bit i is count `highest - 1 - i`).
#[derive(Clone, Copy, Debug)]
struct SeenCounts {
    issued_ms: u64,
    highest: u32,
    below: u64,
}

impl SeenCounts {
    /// Marks `nc` used; false if it was already used or is too old to tell.
    fn accept(&mut self, nc: u32) -> bool {
        if nc > self.highest {
            let shift = nc - self.highest;
            self.below = if shift >= 64 { 0 } else { self.below << shift };
            if shift <= NC_WINDOW {
                // The previous highest is now `shift` below.
                self.below |= 1 << (shift - 1);
            }
            self.highest = nc;
            return true;
        }
        let gap = self.highest - nc;
        if gap == 0 || gap > NC_WINDOW {
            return false;
        }
        let bit = 1u64 << (gap - 1);
        if self.below & bit != 0 {
            return false;
        }
        self.below |= bit;
        true
    }
}

/// Nonce bytes: a salt (12) derived from the secret and a counter, the issue time in ms since
/// the anchor encrypted with a keystream derived from the secret and the salt (8), then a
/// keyed hash of both (16).
const NONCE_SALT_BYTES: usize = 12;
const NONCE_TIME_BYTES: usize = 8;
const NONCE_MAC_BYTES: usize = 16;
const NONCE_BYTES: usize = NONCE_SALT_BYTES + NONCE_TIME_BYTES + NONCE_MAC_BYTES;

/// Nonces whose counts are remembered at most (only nonces that authenticated someone get
/// here, so an honest switch stays far below it).
pub const NONCE_STATE_CAPACITY: usize = 4096;

/// Issues and checks nonces and verifies digest responses.
pub struct DigestAuthenticator {
    realm: String,
    secret: [u8; 32],
    lifetime: Duration,
    /// Set by the first `now` seen: nonce times are relative to it.
    anchor: Option<Instant>,
    issued: u32,
    /// The counts accepted per nonce, for nonces that authenticated someone.
    nonce_counts: HashMap<String, SeenCounts>,
    /// Nonces issued at or before this time (ms since the anchor) are stale: the oldest
    /// remembered nonces were forgotten to keep the table bounded.
    forgotten_up_to: Option<u64>,
}

impl DigestAuthenticator {
    pub fn new(realm: String, secret: [u8; 32], lifetime: Duration) -> Self {
        DigestAuthenticator {
            realm,
            secret,
            lifetime,
            anchor: None,
            issued: 0,
            nonce_counts: HashMap::new(),
            forgotten_up_to: None,
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn millis(&mut self, now: Instant) -> u64 {
        let anchor = *self.anchor.get_or_insert(now);
        u64::try_from(now.saturating_duration_since(anchor).as_millis()).unwrap_or(u64::MAX)
    }

    /// SHA-256 keyed with the secret, domain-separated by `label`.
    fn keyed(&self, label: &[u8], data: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.secret);
        hasher.update(label);
        hasher.update(data);
        hasher.update(self.secret);
        hasher.finalize().into()
    }

    fn mac(&self, stamp: &[u8]) -> [u8; NONCE_MAC_BYTES] {
        let mut out = [0u8; NONCE_MAC_BYTES];
        out.copy_from_slice(&self.keyed(b"mac", stamp)[..NONCE_MAC_BYTES]);
        out
    }

    /// The keystream that hides the issue time of the nonce with this salt.
    fn time_pad(&self, salt: &[u8]) -> [u8; NONCE_TIME_BYTES] {
        let mut out = [0u8; NONCE_TIME_BYTES];
        out.copy_from_slice(&self.keyed(b"time", salt)[..NONCE_TIME_BYTES]);
        out
    }

    /// A fresh nonce; unique per call even within one millisecond, and opaque: without the
    /// secret neither its issue time nor its sequence number can be read from it.
    pub fn nonce(&mut self, now: Instant) -> String {
        let millis = self.millis(now);
        self.issued = self.issued.wrapping_add(1);
        let mut stamp = Vec::with_capacity(NONCE_BYTES);
        stamp.extend_from_slice(
            &self.keyed(b"salt", &self.issued.to_be_bytes())[..NONCE_SALT_BYTES],
        );
        let pad = self.time_pad(&stamp);
        stamp.extend(millis.to_be_bytes().iter().zip(pad).map(|(m, p)| m ^ p));
        let mac = self.mac(&stamp);
        stamp.extend_from_slice(&mac);
        hex(&stamp)
    }

    /// The issue time (ms since the anchor) of a nonce we made, `None` for anything else.
    fn nonce_time(&self, nonce: &str) -> Option<u64> {
        let bytes = unhex(nonce)?;
        if bytes.len() != NONCE_BYTES {
            return None;
        }
        let (stamp, mac) = bytes.split_at(NONCE_SALT_BYTES + NONCE_TIME_BYTES);
        if !constant_time_eq(&self.mac(stamp), mac) {
            return None;
        }
        let (salt, hidden) = stamp.split_at(NONCE_SALT_BYTES);
        let mut millis = [0u8; NONCE_TIME_BYTES];
        for ((out, h), p) in millis.iter_mut().zip(hidden).zip(self.time_pad(salt)) {
            *out = h ^ p;
        }
        Some(u64::from_be_bytes(millis))
    }

    /// Challenge header values (`WWW-Authenticate` or `Proxy-Authenticate`), one per
    /// algorithm in the order given (strongest first), all with the same nonce.
    pub fn challenge(
        &mut self,
        now: Instant,
        algorithms: &[Algorithm],
        stale: bool,
    ) -> Vec<String> {
        let nonce = self.nonce(now);
        algorithms
            .iter()
            .map(|algorithm| {
                let mut value = format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", qop=\"auth\", algorithm={}",
                    self.realm,
                    algorithm.token()
                );
                if stale {
                    value.push_str(", stale=true");
                }
                value
            })
            .collect()
    }

    /// Checks credentials presented with a request of `method` to `request_uri` against
    /// `phone`.
    pub fn verify(
        &mut self,
        now: Instant,
        method: &str,
        request_uri: &str,
        credentials: &DigestCredentials,
        phone: &PhoneCredentials,
    ) -> Verdict {
        match self.check(now, method, request_uri, credentials, phone) {
            Ok(verdict) => verdict,
            Err(error) => Verdict::Refused(error),
        }
    }

    /// Checks credentials presented for a user we do not know, the same way as for a known
    /// one (same checks, same hashing), against a password nobody can know: the verdict is
    /// what a wrong password gets, so the answer does not tell whether the user exists.
    pub fn verify_unknown(
        &mut self,
        now: Instant,
        method: &str,
        request_uri: &str,
        user: &str,
        credentials: &DigestCredentials,
    ) -> Verdict {
        let nobody = PhoneCredentials {
            user: user.to_owned(),
            password: Some(hex(&self.keyed(b"unknown user", user.as_bytes()))),
            ha1_md5: None,
            ha1_sha256: None,
        };
        self.verify(now, method, request_uri, credentials, &nobody)
    }

    fn check(
        &mut self,
        now: Instant,
        method: &str,
        request_uri: &str,
        c: &DigestCredentials,
        phone: &PhoneCredentials,
    ) -> Result<Verdict, AuthError> {
        if c.realm != self.realm {
            return Err(AuthError::WrongRealm(c.realm.chars().take(64).collect()));
        }
        if c.username != phone.user {
            return Err(AuthError::WrongUser {
                given: c.username.chars().take(64).collect(),
                expected: phone.user.clone(),
            });
        }
        let algorithm = match c.algorithm.as_deref() {
            None => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("MD5") => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Algorithm::Sha256,
            Some(other) => {
                return Err(AuthError::UnsupportedAlgorithm(
                    other.chars().take(32).collect(),
                ))
            }
        };
        if !same_resource(&c.uri, request_uri) {
            return Err(AuthError::UriMismatch {
                given: c.uri.chars().take(80).collect(),
                request_uri: request_uri.chars().take(80).collect(),
            });
        }
        let (q, nc, cnonce, count) = match c.qop.as_deref() {
            None => return Err(AuthError::QopRequired),
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc = c.nc.as_deref().ok_or(AuthError::MissingParam("nc"))?;
                let cnonce = c
                    .cnonce
                    .as_deref()
                    .ok_or(AuthError::MissingParam("cnonce"))?;
                let count = (nc.len() == 8)
                    .then(|| u32::from_str_radix(nc, 16).ok())
                    .flatten()
                    .ok_or(AuthError::MalformedParam("nc"))?;
                (q, nc, cnonce, count)
            }
            Some(other) => return Err(AuthError::UnsupportedQop(other.chars().take(32).collect())),
        };
        let ha1 = phone
            .ha1(algorithm, &self.realm)
            .ok_or_else(|| AuthError::NoCredentials {
                user: phone.user.clone(),
                algorithm: algorithm.token(),
            })?;
        let expected = digest_response(
            algorithm,
            &ha1,
            &c.nonce,
            Some((q, nc, cnonce)),
            method,
            &c.uri,
        );
        let given = c.response.to_ascii_lowercase();
        if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Err(AuthError::WrongResponse(phone.user.clone()));
        }
        // The client knows the password; only now does the nonce's freshness matter.
        let now_ms = self.millis(now);
        let lifetime_ms = u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX);
        let Some(issued) = self.nonce_time(&c.nonce) else {
            return Ok(Verdict::Stale);
        };
        if now_ms.saturating_sub(issued) > lifetime_ms
            || self.forgotten_up_to.is_some_and(|up_to| issued <= up_to)
        {
            self.nonce_counts.remove(&c.nonce);
            return Ok(Verdict::Stale);
        }
        if !self.nonce_counts.contains_key(&c.nonce) {
            self.make_room_for_a_nonce(now_ms, lifetime_ms);
            if self.forgotten_up_to.is_some_and(|up_to| issued <= up_to) {
                return Ok(Verdict::Stale);
            }
        }
        let seen = self
            .nonce_counts
            .entry(c.nonce.clone())
            .or_insert(SeenCounts {
                issued_ms: issued,
                highest: 0,
                below: 0,
            });
        if !seen.accept(count) {
            return Ok(Verdict::Replayed { nc: count });
        }
        Ok(Verdict::Accepted)
    }

    /// Drops expired nonces and, when the table is still full, the oldest ones: every nonce
    /// issued up to the newest forgotten one is stale from then on.
    fn make_room_for_a_nonce(&mut self, now_ms: u64, lifetime_ms: u64) {
        if self.nonce_counts.len() < NONCE_STATE_CAPACITY {
            return;
        }
        self.nonce_counts
            .retain(|_, seen| now_ms.saturating_sub(seen.issued_ms) <= lifetime_ms);
        while self.nonce_counts.len() >= NONCE_STATE_CAPACITY {
            let Some(oldest) = self.nonce_counts.values().map(|s| s.issued_ms).min() else {
                break;
            };
            self.forgotten_up_to = Some(self.forgotten_up_to.map_or(oldest, |f| f.max(oldest)));
            self.nonce_counts.retain(|_, seen| seen.issued_ms > oldest);
        }
    }

    /// How many nonces have their counts remembered (for tests of the bound).
    pub fn remembered_nonces(&self) -> usize {
        self.nonce_counts.len()
    }
}

/// Whether the digest `uri` and the Request-URI name the same resource (RFC 7616 3.4.6):
/// the same text, or the same scheme, user, host and port (5060 when absent) with
/// parameters and headers set aside, as proxies may reorder or add those.
fn same_resource(digest_uri: &str, request_uri: &str) -> bool {
    fn resource(uri: &str) -> Option<(String, String, String, u16)> {
        let uri = uri.trim();
        let (scheme, rest) = uri.split_once(':')?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "sip" && scheme != "sips" {
            return None;
        }
        let rest = rest.split([';', '?']).next()?;
        let (user, host_port) = rest.rsplit_once('@').unwrap_or(("", rest));
        let (host, port) = match host_port.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']')?;
                (host, after.strip_prefix(':'))
            }
            None => match host_port.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            },
        };
        let port = match port {
            Some(p) => p.parse().ok()?,
            None if scheme == "sips" => 5061,
            None => 5060,
        };
        Some((scheme, user.to_owned(), host.to_ascii_lowercase(), port))
    }
    if digest_uri.trim() == request_uri.trim() {
        return true;
    }
    let (Some(digest), Some(request)) = (resource(digest_uri), resource(request_uri)) else {
        return false;
    };
    // Some user agents (SIPp's `[authentication]`, phones calling a domain) digest our own
    // address without the user part: still this server, and the method is in the digest,
    // so it cannot stand for another request. A different user, host or port can.
    digest == request
        || (digest.1.is_empty()
            && (digest.0, &digest.2, digest.3) == (request.0, &request.2, request.3))
}

/// How failed authentications turn into blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailurePolicy {
    /// Failures of one (address, user) within `window` that block it.
    pub allowed: u32,
    pub window: Duration,
    /// The first block; each further block of the same (address, user) lasts twice the
    /// previous one, up to `longest_block`.
    pub first_block: Duration,
    pub longest_block: Duration,
}

/// (address, user) pairs whose failures are remembered at most; when full, the pairs that
/// are not blocked go first, oldest first, so a flood of made-up users cannot grow memory
/// nor lift a block without first earning as many blocks of its own.
pub const FAILURE_TABLE_CAPACITY: usize = 8192;

/// Longest user name kept as part of a key (longer ones are cut: bounded memory per entry).
const KEY_USER_CHARS: usize = 64;

/// Counts failed authentications per (source address, user) and blocks a pair that fails
/// too often, for longer each time it does it again. Other users from the same address, and
/// requests that need no authentication, are not affected.
pub struct FailureLimiter {
    policy: FailurePolicy,
    capacity: usize,
    entries: HashMap<(IpAddr, String), FailureRecord>,
}

#[derive(Debug)]
struct FailureRecord {
    /// Times of the failures since the last block, at most `allowed`.
    failures: VecDeque<Instant>,
    blocked_until: Option<Instant>,
    /// Blocks so far: the next one lasts `first_block * 2^blocks`.
    blocks: u32,
    /// The last failure or the end of the last block, whichever is later.
    last_activity: Instant,
}

impl FailureRecord {
    fn is_blocked(&self, now: Instant) -> bool {
        self.blocked_until.is_some_and(|until| now < until)
    }
}

fn key(ip: IpAddr, user: &str) -> (IpAddr, String) {
    (ip, user.chars().take(KEY_USER_CHARS).collect())
}

impl FailureLimiter {
    pub fn new(policy: FailurePolicy) -> Self {
        FailureLimiter::with_capacity(policy, FAILURE_TABLE_CAPACITY)
    }

    pub fn with_capacity(policy: FailurePolicy, capacity: usize) -> Self {
        FailureLimiter {
            policy: FailurePolicy {
                allowed: policy.allowed.max(1),
                longest_block: policy.longest_block.max(policy.first_block),
                ..policy
            },
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// When `user` from `ip` may try again, if it is blocked now.
    pub fn blocked_until(&self, now: Instant, ip: IpAddr, user: &str) -> Option<Instant> {
        self.entries
            .get(&key(ip, user))
            .filter(|r| r.is_blocked(now))
            .and_then(|r| r.blocked_until)
    }

    /// True while `user` from `ip` is blocked.
    pub fn is_blocked(&self, now: Instant, ip: IpAddr, user: &str) -> bool {
        self.blocked_until(now, ip, user).is_some()
    }

    /// The user authenticated from `ip`: its failures and past blocks are forgotten.
    pub fn record_success(&mut self, ip: IpAddr, user: &str) {
        self.entries.remove(&key(ip, user));
    }

    /// How many (address, user) pairs are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records one failure of `user` from `ip`; returns how long it is blocked if this
    /// failure started a block. Failures while blocked are not counted.
    pub fn record_failure(&mut self, now: Instant, ip: IpAddr, user: &str) -> Option<Duration> {
        let key = key(ip, user);
        if !self.entries.contains_key(&key) {
            self.make_room(now);
        }
        let policy = self.policy;
        let record = self.entries.entry(key).or_insert_with(|| FailureRecord {
            failures: VecDeque::new(),
            blocked_until: None,
            blocks: 0,
            last_activity: now,
        });
        record.last_activity = record.last_activity.max(now);
        if record.is_blocked(now) {
            return None;
        }
        while record
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= policy.window)
        {
            record.failures.pop_front();
        }
        record.failures.push_back(now);
        if record.failures.len() < policy.allowed as usize {
            return None;
        }
        record.failures.clear();
        let block = policy
            .first_block
            .saturating_mul(1u32 << record.blocks.min(20))
            .min(policy.longest_block);
        record.blocks = record.blocks.saturating_add(1);
        record.blocked_until = Some(now + block);
        record.last_activity = now + block;
        Some(block)
    }

    /// A pair is forgotten once it has been quiet for the failure window and the longest
    /// block after its last activity: by then its escalation starts over.
    fn forgotten(&self, record: &FailureRecord, now: Instant) -> bool {
        let quiet = if record.blocks == 0 {
            self.policy.window
        } else {
            self.policy.window + self.policy.longest_block
        };
        !record.is_blocked(now) && now.saturating_duration_since(record.last_activity) >= quiet
    }

    fn make_room(&mut self, now: Instant) {
        if self.entries.len() < self.capacity {
            return;
        }
        let forgotten: Vec<_> = self
            .entries
            .iter()
            .filter(|(_, r)| self.forgotten(r, now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in forgotten {
            self.entries.remove(&k);
        }
        if self.entries.len() < self.capacity {
            return;
        }
        // Unblocked pairs first (oldest activity first), a sixteenth of the table at once so
        // a flood pays this sort rarely; a blocked pair (the block that ends first) only
        // when every pair is blocked.
        let mut ranked: Vec<_> = self
            .entries
            .iter()
            .map(|(k, r)| ((r.is_blocked(now), r.blocked_until, r.last_activity), k))
            .collect();
        let unblocked = ranked.iter().filter(|(rank, _)| !rank.0).count();
        let evict = unblocked.min(self.capacity / 16).max(1);
        ranked.select_nth_unstable_by_key(evict - 1, |(rank, _)| *rank);
        let victims: Vec<_> = ranked[..evict].iter().map(|(_, k)| (*k).clone()).collect();
        for victim in victims {
            self.entries.remove(&victim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(password: &str) -> PhoneCredentials {
        PhoneCredentials {
            user: "1001".into(),
            password: Some(password.into()),
            ha1_md5: None,
            ha1_sha256: None,
        }
    }

    #[test]
    fn rfc_7616_section_3_9_1_examples_sha256_and_md5() {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let qop = Some(("auth", "00000001", cnonce));
        let ha1 = |a: Algorithm| a.hash("Mufasa:http-auth@example.org:Circle of Life");
        assert_eq!(
            digest_response(
                Algorithm::Sha256,
                &ha1(Algorithm::Sha256),
                nonce,
                qop,
                "GET",
                "/dir/index.html"
            ),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert_eq!(
            digest_response(
                Algorithm::Md5,
                &ha1(Algorithm::Md5),
                nonce,
                qop,
                "GET",
                "/dir/index.html"
            ),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn rfc_2617_section_3_5_example() {
        let ha1 = Algorithm::Md5.hash("Mufasa:testrealm@host.com:Circle Of Life");
        assert_eq!(
            digest_response(
                Algorithm::Md5,
                &ha1,
                "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                Some(("auth", "00000001", "0a4f113b")),
                "GET",
                "/dir/index.html"
            ),
            "6629fae49393a05397450978507c4ef1"
        );
    }

    #[test]
    fn credentials_parse_quoted_escaped_and_bare_values_in_any_order() {
        let c = DigestCredentials::parse(
            "Digest  qop=auth, username=\"10\\\"01\",realm=\"hotline\", nonce=\"n, 1\", \
             uri=\"sip:127.0.0.1\", response=\"abc\", nc=00000001, cnonce=\"x\", algorithm=SHA-256",
        )
        .unwrap();
        assert_eq!(c.username, "10\"01");
        assert_eq!(c.nonce, "n, 1");
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.algorithm.as_deref(), Some("SHA-256"));
        assert_eq!(
            DigestCredentials::parse("Basic dXNlcjpwYXNz"),
            Err(AuthError::NotDigest("Basic".into()))
        );
        assert_eq!(
            DigestCredentials::parse("Digest username=\"unterminated"),
            Err(AuthError::MalformedParam("list"))
        );
        assert_eq!(
            DigestCredentials::parse("Digest username=a, realm=b, nonce=c, uri=d"),
            Err(AuthError::MissingParam("response"))
        );
        for junk in [
            "",
            "Digest",
            "Digest ,,,",
            "Digest =",
            "Digest a",
            "\u{fffd}\"\\",
        ] {
            let _ = DigestCredentials::parse(junk);
        }
    }

    fn answer(
        auth: &mut DigestAuthenticator,
        now: Instant,
        nonce: &str,
        password: &str,
        nc: &str,
    ) -> Verdict {
        let ha1 = Algorithm::Md5.hash(&format!("1001:hotline:{password}"));
        let response = digest_response(
            Algorithm::Md5,
            &ha1,
            nonce,
            Some(("auth", nc, "cn")),
            "REGISTER",
            "sip:hotline",
        );
        let c = DigestCredentials {
            username: "1001".into(),
            realm: "hotline".into(),
            nonce: nonce.into(),
            uri: "sip:hotline".into(),
            response,
            algorithm: Some("MD5".into()),
            qop: Some("auth".into()),
            nc: Some(nc.into()),
            cnonce: Some("cn".into()),
        };
        auth.verify(now, "REGISTER", "sip:hotline", &c, &phone("pw"))
    }

    #[test]
    fn nonces_are_checked_by_their_keyed_hash_expire_and_counts_must_grow() {
        let t0 = Instant::now();
        let mut auth =
            DigestAuthenticator::new("hotline".into(), [7; 32], Duration::from_secs(300));
        let nonce = auth.nonce(t0);
        assert_ne!(auth.nonce(t0), nonce, "two nonces in one instant differ");
        assert_eq!(
            answer(&mut auth, t0, &nonce, "pw", "00000001"),
            Verdict::Accepted
        );
        assert_eq!(
            answer(&mut auth, t0, &nonce, "pw", "00000002"),
            Verdict::Accepted
        );
        assert_eq!(
            answer(&mut auth, t0, &nonce, "pw", "00000002"),
            Verdict::Replayed { nc: 2 }
        );
        assert!(matches!(
            answer(&mut auth, t0, &nonce, "bad", "00000003"),
            Verdict::Refused(AuthError::WrongResponse(_))
        ));
        let late = t0 + Duration::from_secs(301);
        assert_eq!(
            answer(&mut auth, late, &nonce, "pw", "00000003"),
            Verdict::Stale
        );
        // A nonce with a forged time (its hash no longer matches) is not ours.
        let mut forged = nonce.clone().into_bytes();
        forged[15] = if forged[15] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(
            answer(&mut auth, t0, &forged, "pw", "00000001"),
            Verdict::Stale
        );
        // Another switch (another secret) does not accept our nonces.
        let mut other =
            DigestAuthenticator::new("hotline".into(), [8; 32], Duration::from_secs(300));
        other.nonce(t0);
        assert_eq!(
            answer(&mut other, t0, &nonce, "pw", "00000001"),
            Verdict::Stale
        );
    }

    #[test]
    fn nonce_counts_may_arrive_out_of_order_but_never_twice() {
        let mut seen = SeenCounts {
            issued_ms: 0,
            highest: 0,
            below: 0,
        };
        assert!(seen.accept(1));
        assert!(seen.accept(3));
        assert!(seen.accept(2), "overtaken, not replayed");
        assert!(!seen.accept(2));
        assert!(!seen.accept(3));
        assert!(!seen.accept(1));
        assert!(seen.accept(3 + NC_WINDOW));
        assert!(!seen.accept(3), "exactly one window back, already used");
        assert!(seen.accept(4));
        assert!(!seen.accept(2), "older than the window");
        assert!(seen.accept(1000));
        assert!(!seen.accept(4 + NC_WINDOW), "more than a window back");
        assert!(seen.accept(999));
        assert!(!seen.accept(0));
    }

    #[test]
    fn precomputed_ha1_decides_which_algorithms_a_phone_can_use() {
        let ha1 = Algorithm::Sha256.hash("1001:hotline:pw");
        let only_sha = PhoneCredentials {
            user: "1001".into(),
            password: None,
            ha1_md5: None,
            ha1_sha256: Some(ha1.to_uppercase()),
        };
        assert_eq!(only_sha.algorithms(), vec![Algorithm::Sha256]);
        assert_eq!(only_sha.ha1(Algorithm::Sha256, "hotline"), Some(ha1));
        assert_eq!(only_sha.ha1(Algorithm::Md5, "hotline"), None);
        assert_eq!(
            phone("pw").algorithms(),
            vec![Algorithm::Sha256, Algorithm::Md5]
        );
        assert!(!format!("{:?}", phone("secret-pw")).contains("secret-pw"));
    }

    fn policy() -> FailurePolicy {
        FailurePolicy {
            allowed: 3,
            window: Duration::from_secs(60),
            first_block: Duration::from_secs(60),
            longest_block: Duration::from_secs(300),
        }
    }

    #[test]
    fn limiter_blocks_a_user_from_an_address_after_n_failures_in_the_window_then_forgives() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut limiter = FailureLimiter::new(policy());
        assert_eq!(limiter.record_failure(at(0), ip, "1001"), None);
        // Failures older than the window do not count.
        assert_eq!(limiter.record_failure(at(61), ip, "1001"), None);
        assert_eq!(limiter.record_failure(at(62), ip, "1001"), None);
        assert!(!limiter.is_blocked(at(62), ip, "1001"));
        assert_eq!(
            limiter.record_failure(at(63), ip, "1001"),
            Some(Duration::from_secs(60))
        );
        assert!(limiter.is_blocked(at(64), ip, "1001"));
        assert_eq!(limiter.blocked_until(at(64), ip, "1001"), Some(at(123)));
        // Only that user from that address.
        assert!(!limiter.is_blocked(at(64), "192.0.2.2".parse().unwrap(), "1001"));
        assert!(!limiter.is_blocked(at(64), ip, "1002"));
        assert!(!limiter.is_blocked(at(123), ip, "1001"));
        assert_eq!(limiter.record_failure(at(124), ip, "1001"), None);
    }

    #[test]
    fn failures_of_other_users_from_the_same_address_never_block_a_user() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut limiter = FailureLimiter::new(policy());
        assert!(limiter.is_empty());
        for n in 0..50 {
            limiter.record_failure(t0, ip, &format!("made-up-{n}"));
        }
        assert!(!limiter.is_empty());
        assert_eq!(limiter.len(), 50);
        assert!(!limiter.is_blocked(t0, ip, "1001"));
        assert_eq!(limiter.record_failure(t0, ip, "1001"), None);
        assert_eq!(limiter.len(), 51);
    }

    #[test]
    fn a_policy_allowing_no_failure_blocks_at_the_first_and_blocks_never_shrink() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut limiter = FailureLimiter::new(FailurePolicy {
            allowed: 0,
            window: Duration::from_secs(60),
            first_block: Duration::from_secs(60),
            longest_block: Duration::from_secs(10),
        });
        assert_eq!(
            limiter.record_failure(t0, ip, "1001"),
            Some(Duration::from_secs(60))
        );
        let later = t0 + Duration::from_secs(60);
        assert_eq!(
            limiter.record_failure(later, ip, "1001"),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn each_further_block_lasts_twice_as_long_up_to_the_longest() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut limiter = FailureLimiter::new(policy());
        let mut now = t0;
        let mut blocks = Vec::new();
        for _ in 0..5 {
            let block = (0..3)
                .filter_map(|_| limiter.record_failure(now, ip, "1001"))
                .last()
                .expect("the third failure blocks");
            assert!(limiter.is_blocked(now + block - Duration::from_millis(1), ip, "1001"));
            now += block;
            assert!(!limiter.is_blocked(now, ip, "1001"));
            blocks.push(block.as_secs());
        }
        assert_eq!(blocks, [60, 120, 240, 300, 300]);
        // A success forgets the past blocks.
        limiter.record_success(ip, "1001");
        let block = (0..3)
            .filter_map(|_| limiter.record_failure(now, ip, "1001"))
            .last();
        assert_eq!(block, Some(Duration::from_secs(60)));
    }

    #[test]
    fn escalation_starts_over_after_a_quiet_window_and_longest_block() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut limiter = FailureLimiter::with_capacity(policy(), 1);
        let first = (0..3)
            .filter_map(|_| limiter.record_failure(t0, ip, "1001"))
            .last();
        assert_eq!(first, Some(Duration::from_secs(60)));
        // Quiet for the window and the longest block after the block ended: forgotten when
        // room is needed.
        let later = t0 + Duration::from_secs(60 + 60 + 300);
        limiter.record_failure(later, ip, "other");
        assert_eq!(limiter.len(), 1);
        let again = (0..3)
            .filter_map(|_| limiter.record_failure(later, ip, "1001"))
            .last();
        assert_eq!(again, Some(Duration::from_secs(60)));
    }

    #[test]
    fn a_flood_of_made_up_users_stays_within_the_capacity_and_keeps_the_blocks() {
        let t0 = Instant::now();
        let victim: IpAddr = "192.0.2.9".parse().unwrap();
        let flood: IpAddr = "198.51.100.1".parse().unwrap();
        let mut limiter = FailureLimiter::with_capacity(policy(), 64);
        for _ in 0..3 {
            limiter.record_failure(t0, victim, "1001");
        }
        assert!(limiter.is_blocked(t0, victim, "1001"));
        for n in 0..10_000 {
            limiter.record_failure(t0, flood, &format!("user-{n}"));
            assert!(limiter.len() <= 64);
        }
        assert!(
            limiter.is_blocked(t0, victim, "1001"),
            "a flood of one-failure entries evicted a block"
        );
        // A very long user name is stored cut short.
        limiter.record_failure(t0, flood, &"x".repeat(100_000));
        assert!(limiter.entries.keys().all(|(_, u)| u.chars().count() <= 64));
    }

    #[test]
    fn nonces_do_not_show_their_issue_time_or_sequence() {
        let t0 = Instant::now();
        let mut auth =
            DigestAuthenticator::new("hotline".into(), [7; 32], Duration::from_secs(300));
        let a = unhex(&auth.nonce(t0)).unwrap();
        let b = unhex(&auth.nonce(t0)).unwrap();
        let c = unhex(&auth.nonce(t0 + Duration::from_millis(1))).unwrap();
        assert_eq!(a.len(), NONCE_BYTES);
        // Issued in the same millisecond, one after the other: no byte position where they
        // are all equal except by chance, i.e. no plain time or counter field. Count the
        // positions with equal bytes: random data matches in about 1 in 256.
        let equal = (0..NONCE_BYTES)
            .filter(|&i| a[i] == b[i] && b[i] == c[i])
            .count();
        assert!(
            equal <= 2,
            "{equal} byte positions equal in three nonces: {a:?} {b:?}"
        );
        // Still readable by us.
        let nonce = auth.nonce(t0 + Duration::from_secs(5));
        auth.millis(t0);
        assert_eq!(auth.nonce_time(&nonce), Some(5000));
    }

    fn qop_answer(nonce: &str, nc: &str, uri: &str, qop: Option<&str>) -> DigestCredentials {
        let ha1 = Algorithm::Md5.hash("1001:hotline:pw");
        let response = digest_response(
            Algorithm::Md5,
            &ha1,
            nonce,
            qop.map(|q| (q, nc, "cn")),
            "REGISTER",
            uri,
        );
        DigestCredentials {
            username: "1001".into(),
            realm: "hotline".into(),
            nonce: nonce.into(),
            uri: uri.into(),
            response,
            algorithm: Some("MD5".into()),
            qop: qop.map(str::to_owned),
            nc: qop.map(|_| nc.to_owned()),
            cnonce: qop.map(|_| "cn".to_owned()),
        }
    }

    #[test]
    fn an_rfc_2069_response_without_qop_is_refused_even_when_right() {
        let t0 = Instant::now();
        let mut auth =
            DigestAuthenticator::new("hotline".into(), [7; 32], Duration::from_secs(300));
        let nonce = auth.nonce(t0);
        let c = qop_answer(&nonce, "", "sip:hotline", None);
        assert_eq!(
            auth.verify(t0, "REGISTER", "sip:hotline", &c, &phone("pw")),
            Verdict::Refused(AuthError::QopRequired)
        );
    }

    #[test]
    fn a_digest_uri_other_than_the_request_uri_is_refused() {
        let t0 = Instant::now();
        let mut auth =
            DigestAuthenticator::new("hotline".into(), [7; 32], Duration::from_secs(300));
        let nonce = auth.nonce(t0);
        let c = qop_answer(&nonce, "00000001", "sip:elsewhere.example", Some("auth"));
        assert!(matches!(
            auth.verify(t0, "REGISTER", "sip:hotline", &c, &phone("pw")),
            Verdict::Refused(AuthError::UriMismatch { .. })
        ));
        // The same resource written differently (default port, parameters) is fine.
        let c = qop_answer(
            &nonce,
            "00000001",
            "sip:Hotline;transport=udp",
            Some("auth"),
        );
        assert_eq!(
            auth.verify(t0, "REGISTER", "sip:hotline:5060", &c, &phone("pw")),
            Verdict::Accepted
        );
        assert!(same_resource(
            "sip:1001@[::1]:5070",
            "sip:1001@[::1]:5070;lr"
        ));
        assert!(!same_resource("sip:1001@[::1]:5070", "sip:1001@[::1]"));
        assert!(!same_resource("sip:1001@host", "sip:1002@host"));
        // Our own address without the user (SIPp's digest uri) names this server...
        assert!(same_resource(
            "sip:127.0.0.1:5080",
            "sip:*21@127.0.0.1:5080"
        ));
        // ...but not another port, host or user.
        assert!(!same_resource(
            "sip:127.0.0.1:5081",
            "sip:*21@127.0.0.1:5080"
        ));
        assert!(!same_resource(
            "sip:127.0.0.2:5080",
            "sip:*21@127.0.0.1:5080"
        ));
        assert!(!same_resource(
            "sip:4008@127.0.0.1:5080",
            "sip:*21@127.0.0.1:5080"
        ));
    }

    #[test]
    fn an_unknown_user_gets_the_verdict_of_a_wrong_password() {
        let t0 = Instant::now();
        let mut auth =
            DigestAuthenticator::new("hotline".into(), [7; 32], Duration::from_secs(300));
        let nonce = auth.nonce(t0);
        let mut c = qop_answer(&nonce, "00000001", "sip:hotline", Some("auth"));
        c.username = "9999".into();
        assert_eq!(
            auth.verify_unknown(t0, "REGISTER", "sip:hotline", "9999", &c),
            Verdict::Refused(AuthError::WrongResponse("9999".into()))
        );
    }

    #[test]
    fn the_nonce_table_is_bounded_and_a_forgotten_nonce_is_stale_not_replayable() {
        let t0 = Instant::now();
        let mut auth =
            DigestAuthenticator::new("hotline".into(), [7; 32], Duration::from_secs(300));
        let first = auth.nonce(t0);
        assert_eq!(
            answer(&mut auth, t0, &first, "pw", "00000001"),
            Verdict::Accepted
        );
        let mut newest = String::new();
        for n in 1..=NONCE_STATE_CAPACITY as u64 {
            let at = t0 + Duration::from_millis(n);
            newest = auth.nonce(at);
            assert_eq!(
                answer(&mut auth, at, &newest, "pw", "00000001"),
                Verdict::Accepted
            );
            assert!(auth.remembered_nonces() <= NONCE_STATE_CAPACITY);
        }
        // Only the oldest was forgotten: the table is full of the newest.
        assert_eq!(auth.remembered_nonces(), NONCE_STATE_CAPACITY);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(
            answer(&mut auth, later, &first, "pw", "00000001"),
            Verdict::Stale,
            "a forgotten nonce must not take its first count again"
        );
        // A nonce still remembered keeps refusing a count it has seen.
        assert_eq!(
            answer(&mut auth, later, &newest, "pw", "00000001"),
            Verdict::Replayed { nc: 1 }
        );
    }
}
