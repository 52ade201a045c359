//! HTTP digest authentication for SIP (RFC 7616 with RFC 2617 and RFC 2069 compatibility):
//! challenges, verification of a client's credentials, and per-source failure counting.
//!
//! Nonces carry their own issue time and a keyed hash of it, so any nonce can be checked
//! without remembering it; the only per-nonce state is the highest nonce count (`nc`) seen
//! for nonces that already authenticated someone, kept to refuse replays and dropped when the
//! nonce expires. Nothing here parses input in a way that can panic.

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
    #[error("a response without qop is only accepted with MD5")]
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

/// Nonce bytes: issue time in ms since the anchor (8), a counter (4), then the keyed hash.
const NONCE_MAC_BYTES: usize = 16;

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
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn millis(&mut self, now: Instant) -> u64 {
        let anchor = *self.anchor.get_or_insert(now);
        u64::try_from(now.saturating_duration_since(anchor).as_millis()).unwrap_or(u64::MAX)
    }

    fn mac(&self, stamp: &[u8]) -> [u8; NONCE_MAC_BYTES] {
        let mut hasher = Sha256::new();
        hasher.update(self.secret);
        hasher.update(stamp);
        hasher.update(self.secret);
        let digest = hasher.finalize();
        let mut out = [0u8; NONCE_MAC_BYTES];
        out.copy_from_slice(&digest[..NONCE_MAC_BYTES]);
        out
    }

    /// A fresh nonce; unique per call even within one millisecond.
    pub fn nonce(&mut self, now: Instant) -> String {
        let millis = self.millis(now);
        self.issued = self.issued.wrapping_add(1);
        let mut stamp = Vec::with_capacity(12 + NONCE_MAC_BYTES);
        stamp.extend_from_slice(&millis.to_be_bytes());
        stamp.extend_from_slice(&self.issued.to_be_bytes());
        let mac = self.mac(&stamp);
        stamp.extend_from_slice(&mac);
        hex(&stamp)
    }

    /// The issue time (ms since the anchor) of a nonce we made, `None` for anything else.
    fn nonce_time(&self, nonce: &str) -> Option<u64> {
        let bytes = unhex(nonce)?;
        if bytes.len() != 12 + NONCE_MAC_BYTES {
            return None;
        }
        let (stamp, mac) = bytes.split_at(12);
        if !constant_time_eq(&self.mac(stamp), mac) {
            return None;
        }
        let mut millis = [0u8; 8];
        millis.copy_from_slice(&stamp[..8]);
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

    /// Checks credentials presented with a request of `method` against `phone`.
    pub fn verify(
        &mut self,
        now: Instant,
        method: &str,
        credentials: &DigestCredentials,
        phone: &PhoneCredentials,
    ) -> Verdict {
        match self.check(now, method, credentials, phone) {
            Ok(verdict) => verdict,
            Err(error) => Verdict::Refused(error),
        }
    }

    fn check(
        &mut self,
        now: Instant,
        method: &str,
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
        let qop = match c.qop.as_deref() {
            None if algorithm == Algorithm::Md5 => None,
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
                Some((q, nc, cnonce, count))
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
            qop.map(|(q, nc, cnonce, _)| (q, nc, cnonce)),
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
        if now_ms.saturating_sub(issued) > lifetime_ms {
            self.nonce_counts.remove(&c.nonce);
            return Ok(Verdict::Stale);
        }
        if let Some((_, _, _, count)) = qop {
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
        }
        if self.nonce_counts.len() > 64 {
            self.nonce_counts
                .retain(|_, seen| now_ms.saturating_sub(seen.issued_ms) <= lifetime_ms);
        }
        Ok(Verdict::Accepted)
    }
}

/// Counts failed authentications per source address and blocks a source that fails too often.
pub struct FailureLimiter {
    allowed: u32,
    window: Duration,
    block: Duration,
    sources: HashMap<IpAddr, SourceRecord>,
}

#[derive(Default)]
struct SourceRecord {
    failures: VecDeque<Instant>,
    blocked_until: Option<Instant>,
}

impl FailureLimiter {
    pub fn new(allowed: u32, window: Duration, block: Duration) -> Self {
        FailureLimiter {
            allowed: allowed.max(1),
            window,
            block,
            sources: HashMap::new(),
        }
    }

    /// True while `ip` is blocked.
    pub fn is_blocked(&mut self, now: Instant, ip: IpAddr) -> bool {
        let Some(record) = self.sources.get_mut(&ip) else {
            return false;
        };
        match record.blocked_until {
            Some(until) if now < until => true,
            Some(_) => {
                // The block is over: the source starts again with a clean slate.
                self.sources.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Records one failure; returns true if it made `ip` blocked.
    pub fn record_failure(&mut self, now: Instant, ip: IpAddr) -> bool {
        if self.sources.len() > 4096 {
            // Strangers must not grow this without bound: forget the quiet ones.
            let window = self.window;
            self.sources.retain(|_, r| {
                r.blocked_until.is_some_and(|until| now < until)
                    || r.failures
                        .back()
                        .is_some_and(|t| now.saturating_duration_since(*t) < window)
            });
        }
        let record = self.sources.entry(ip).or_default();
        if record.blocked_until.is_some_and(|until| now < until) {
            return false;
        }
        while record
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            record.failures.pop_front();
        }
        record.failures.push_back(now);
        if record.failures.len() >= self.allowed as usize {
            record.failures.clear();
            record.blocked_until = Some(now + self.block);
            return true;
        }
        false
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
        auth.verify(now, "REGISTER", &c, &phone("pw"))
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

    #[test]
    fn limiter_blocks_after_n_failures_in_the_window_then_forgives() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut limiter = FailureLimiter::new(3, Duration::from_secs(60), Duration::from_secs(600));
        assert!(!limiter.record_failure(t0, ip));
        // Failures older than the window do not count.
        assert!(!limiter.record_failure(t0 + Duration::from_secs(61), ip));
        assert!(!limiter.record_failure(t0 + Duration::from_secs(62), ip));
        assert!(!limiter.is_blocked(t0 + Duration::from_secs(62), ip));
        assert!(limiter.record_failure(t0 + Duration::from_secs(63), ip));
        assert!(limiter.is_blocked(t0 + Duration::from_secs(64), ip));
        assert!(!limiter.is_blocked(t0 + Duration::from_secs(64), "192.0.2.2".parse().unwrap()));
        assert!(!limiter.is_blocked(t0 + Duration::from_secs(663), ip));
        assert!(!limiter.record_failure(t0 + Duration::from_secs(664), ip));
    }
}
