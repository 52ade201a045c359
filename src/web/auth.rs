//! Who may use the replay pages: Argon2 password hashes, random session ids (only their
//! SHA-256 is stored), session expiry, CSRF tokens, the session cookie, the roles and what
//! each may see, and the bounded limit on failed sign-ins per name and per address.
//! Sans-IO: time is an argument; the handlers in `web::pages` do the I/O.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

use crate::store::CallSummary;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "hotline_session";

/// A role of a user of the replay pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Scores calls and overrides flags; sees every call.
    Reviewer,
    /// As a reviewer (a team leader).
    Supervisor,
    /// Sees (and never scores) only the calls they answered.
    Agent,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        Some(match text {
            "reviewer" => Role::Reviewer,
            "supervisor" => Role::Supervisor,
            "agent" => Role::Agent,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
        }
    }

    /// Reviewers and supervisors score calls and override flags; agents only look.
    pub fn may_score(self) -> bool {
        matches!(self, Role::Reviewer | Role::Supervisor)
    }
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// For an agent: the agent name their calls carry (`CallSummary::agent`).
    pub agent: Option<String>,
}

impl User {
    /// Whether this user may see the call (its list row, page, recording and export). An
    /// agent sees only calls whose answering agent is theirs; an agent without an agent name
    /// sees none.
    pub fn may_see(&self, call: &CallSummary) -> bool {
        match self.role {
            Role::Reviewer | Role::Supervisor => true,
            Role::Agent => match (&self.agent, &call.agent) {
                (Some(mine), Some(theirs)) => mine == theirs,
                _ => false,
            },
        }
    }
}

/// Argon2id (the crate's defaults: 19 MiB, 2 passes) with a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches the stored PHC string (false for an unreadable one).
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash no password matches, verified against for unknown names so a sign-in takes as
/// long whether or not the name exists.
pub fn dummy_hash() -> &'static str {
    use std::sync::OnceLock;
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 32] = rand::random();
        hash_password(&hex(&random)).unwrap_or_default()
    })
}

/// 256 random bits as 64 hex digits: session ids and CSRF tokens.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

/// What the database keeps of a session id or a device token: its SHA-256, hex.
pub fn session_id_hash(id: &str) -> String {
    hex(&Sha256::digest(id.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a cookie value can be a session id at all (64 lowercase hex digits): anything
/// else is not looked up.
pub fn well_formed_token(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session unused this long is over.
    pub idle: Duration,
    /// A session this old is over however much it is used.
    pub absolute: Duration,
}

impl Default for SessionLimits {
    /// 12 hours idle (a working day), 7 days at most.
    fn default() -> SessionLimits {
        SessionLimits {
            idle: Duration::from_secs(12 * 3600),
            absolute: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl SessionLimits {
    /// Whether a session started at `created_at` and last used at `last_seen` is over at `now`.
    pub fn expired(
        &self,
        created_at: jiff::Timestamp,
        last_seen: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> bool {
        let older_than = |since: jiff::Timestamp, limit: Duration| {
            let age = now.duration_since(since);
            age.is_negative() || age.unsigned_abs() >= limit
        };
        older_than(last_seen, self.idle) || older_than(created_at, self.absolute)
    }
}

/// Compares a submitted CSRF token with the session's in constant time.
pub fn csrf_matches(expected: &str, submitted: Option<&str>) -> bool {
    let Some(submitted) = submitted else {
        return false;
    };
    if expected.is_empty() || expected.len() != submitted.len() {
        return false;
    }
    expected
        .bytes()
        .zip(submitted.bytes())
        .fold(0u8, |diff, (a, b)| diff | (a ^ b))
        == 0
}

/// The value of one cookie in a Cookie header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

/// The Set-Cookie value that gives the browser its session: HttpOnly, SameSite=Strict,
/// Path=/, Secure when the pages are served over https (behind a proxy).
pub fn session_cookie(id: &str, limits: &SessionLimits, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        limits.absolute.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The Set-Cookie value that removes the session cookie.
pub fn cleared_session_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Failed sign-ins allowed per name, per address and per trusted device in one window.
pub const FAILURES_ALLOWED: u32 = 5;
/// The window failed sign-ins are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Names, addresses and devices whose failures are remembered at once (each); past this
/// the oldest is forgotten (the tables are keyed by what strangers send).
pub const FAILURE_ENTRIES: usize = 4096;

/// The cookie of a browser that signed in before: a random token whose SHA-256 the store
/// keeps with the user it signed in as.
pub const DEVICE_COOKIE: &str = "hotline_device";
/// How long a device stays trusted after the sign-in that trusted it.
pub const DEVICE_TRUSTED_FOR: Duration = Duration::from_secs(180 * 24 * 3600);
/// Trusted devices kept per user (the newest).
pub const DEVICES_PER_USER: usize = 10;

/// The Set-Cookie value giving a browser its device token (sent only to /signin).
pub fn device_cookie(token: &str, secure: bool) -> String {
    format!(
        "{DEVICE_COOKIE}={token}; Path=/signin; HttpOnly; SameSite=Strict; Max-Age={}{}",
        DEVICE_TRUSTED_FOR.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    first: Instant,
    count: u32,
}

/// Who is signing in, as far as counting failures goes.
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// A browser whose device cookie is trusted for the name it signs in as (the token's
    /// hash): only its own failures count against it.
    TrustedDevice(&'a str),
    /// Anyone else, by address: failures count against the name and the address.
    Address(IpAddr),
}

/// Counts failed sign-ins per user name and per client address, and per trusted device.
/// A stranger's [`FAILURES_ALLOWED`] failures within [`FAILURE_WINDOW`] refuse sign-ins
/// (even right ones) for that name, and from that address, until the window passes — but
/// not from a browser that signed in as that user before ([`Signer::TrustedDevice`]), so
/// a stranger guessing a reviewer's password cannot lock the reviewer out (OWASP's device
/// cookies). A trusted device gets its own [`FAILURES_ALLOWED`].
#[derive(Debug, Default)]
pub struct SignInLimiter {
    by_name: HashMap<String, Failures>,
    by_address: HashMap<IpAddr, Failures>,
    by_device: HashMap<String, Failures>,
}

impl SignInLimiter {
    /// Whether a sign-in for `name` by `signer` may be tried at `now`.
    pub fn allowed(&self, name: &str, signer: Signer<'_>, now: Instant) -> bool {
        let open = |entry: Option<&Failures>| match entry {
            Some(f) => {
                now.saturating_duration_since(f.first) >= FAILURE_WINDOW
                    || f.count < FAILURES_ALLOWED
            }
            None => true,
        };
        match signer {
            Signer::TrustedDevice(device) => open(self.by_device.get(device)),
            Signer::Address(address) => {
                open(self.by_name.get(name)) && open(self.by_address.get(&address))
            }
        }
    }

    /// A sign-in for `name` by `signer` failed at `now`.
    pub fn failed(&mut self, name: &str, signer: Signer<'_>, now: Instant) {
        match signer {
            Signer::TrustedDevice(device) => count(&mut self.by_device, device.to_string(), now),
            Signer::Address(address) => {
                // Names are cut to what a user name can be so the table's keys stay small.
                let name: String = name.chars().take(64).collect();
                count(&mut self.by_name, name, now);
                count(&mut self.by_address, address, now);
            }
        }
    }

    /// A sign-in for `name` by `signer` succeeded. From a trusted device only the device's
    /// count starts again (the name's is what strangers did); otherwise the name's does
    /// (the address's does not: one right password must not hide an address guessing
    /// other names).
    pub fn succeeded(&mut self, name: &str, signer: Signer<'_>) {
        match signer {
            Signer::TrustedDevice(device) => {
                self.by_device.remove(device);
            }
            Signer::Address(_) => {
                self.by_name.remove(name);
            }
        }
    }

    /// Names, addresses and devices remembered (for tests and bounds).
    pub fn len(&self) -> (usize, usize, usize) {
        (
            self.by_name.len(),
            self.by_address.len(),
            self.by_device.len(),
        )
    }
}

fn count<K: std::hash::Hash + Eq + Clone>(table: &mut HashMap<K, Failures>, key: K, now: Instant) {
    if !table.contains_key(&key) && table.len() >= FAILURE_ENTRIES {
        table.retain(|_, f| now.saturating_duration_since(f.first) < FAILURE_WINDOW);
        if table.len() >= FAILURE_ENTRIES {
            let oldest = table
                .iter()
                .min_by_key(|(_, f)| f.first)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                table.remove(&oldest);
            }
        }
    }
    let entry = table.entry(key).or_insert(Failures {
        first: now,
        count: 0,
    });
    if now.saturating_duration_since(entry.first) >= FAILURE_WINDOW {
        *entry = Failures {
            first: now,
            count: 0,
        };
    }
    entry.count += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_of(agent: Option<&str>) -> CallSummary {
        CallSummary {
            id: "c1".into(),
            sip_call_id: "s1".into(),
            from: "sip:1@x".into(),
            to: "sip:2@x".into(),
            hotline: None,
            started_at: jiff::Timestamp::UNIX_EPOCH,
            answered_at_ms: None,
            ended_at: None,
            outcome: None,
            ended_by: None,
            reason: None,
            duration_ms: None,
            event_count: 0,
            queue: None,
            agent: agent.map(String::from),
            wait_ms: None,
            talk_ms: None,
        }
    }

    #[test]
    fn a_password_hash_verifies_the_password_and_nothing_else() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsE", &hash));
        assert!(!verify_password("", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(!verify_password("anything", dummy_hash()));
        // A fresh salt each time.
        assert_ne!(hash, hash_password("correct horse").unwrap());
    }

    #[test]
    fn session_ids_are_256_random_bits_and_only_their_hash_is_kept() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert!(well_formed_token(&a));
        assert_ne!(a, b);
        let hash = session_id_hash(&a);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, a);
        assert_eq!(
            session_id_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!well_formed_token(&a.to_uppercase()));
        assert!(!well_formed_token(&a[..63]));
        assert!(!well_formed_token("../../etc/passwd"));
    }

    #[test]
    fn a_session_expires_after_the_idle_time_or_the_absolute_time() {
        let limits = SessionLimits {
            idle: Duration::from_secs(3600),
            absolute: Duration::from_secs(10 * 3600),
        };
        let t0: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let at = |s: i64| t0 + jiff::SignedDuration::from_secs(s);
        assert!(!limits.expired(t0, t0, at(3599)));
        assert!(limits.expired(t0, t0, at(3600)));
        // Used recently, but older than the absolute limit.
        assert!(!limits.expired(t0, at(9 * 3600), at(10 * 3600 - 1)));
        assert!(limits.expired(t0, at(9 * 3600), at(10 * 3600)));
        // A last use in the future (clock stepped back) is not trusted.
        assert!(limits.expired(t0, at(100), at(50)));
    }

    #[test]
    fn the_csrf_token_must_match_exactly() {
        let token = random_token();
        assert!(csrf_matches(&token, Some(&token)));
        assert!(!csrf_matches(&token, None));
        assert!(!csrf_matches(&token, Some("")));
        assert!(!csrf_matches(&token, Some(&token[..63])));
        let mut other = token.clone().into_bytes();
        other[10] = if other[10] == b'0' { b'1' } else { b'0' };
        assert!(!csrf_matches(
            &token,
            Some(std::str::from_utf8(&other).unwrap())
        ));
        assert!(!csrf_matches("", Some("")));
    }

    #[test]
    fn the_session_cookie_is_http_only_and_same_site_strict() {
        let limits = SessionLimits::default();
        assert_eq!(
            session_cookie("ab", &limits, false),
            "hotline_session=ab; Path=/; HttpOnly; SameSite=Strict; Max-Age=604800"
        );
        assert!(session_cookie("ab", &limits, true).ends_with("; Secure"));
        assert_eq!(
            cookie("lang=zh; hotline_session=xyz; other=1", SESSION_COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie("xhotline_session=xyz", SESSION_COOKIE), None);
    }

    #[test]
    fn an_agent_sees_only_the_calls_they_answered() {
        let agent = User {
            name: "alice".into(),
            role: Role::Agent,
            agent: Some("alice".into()),
        };
        assert!(agent.may_see(&call_of(Some("alice"))));
        assert!(!agent.may_see(&call_of(Some("bob"))));
        assert!(!agent.may_see(&call_of(None)));
        let nameless = User {
            agent: None,
            ..agent.clone()
        };
        assert!(!nameless.may_see(&call_of(None)));
        for role in [Role::Reviewer, Role::Supervisor] {
            let user = User {
                name: "r".into(),
                role,
                agent: None,
            };
            assert!(user.may_see(&call_of(Some("bob"))));
            assert!(user.may_see(&call_of(None)));
            assert!(role.may_score());
        }
        assert!(!Role::Agent.may_score());
        assert_eq!(Role::parse("agent"), Some(Role::Agent));
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn failed_sign_ins_are_limited_per_name_and_per_address() {
        let mut limiter = SignInLimiter::default();
        let t0 = Instant::now();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let (a, b) = (Signer::Address(a), Signer::Address(b));
        for _ in 0..FAILURES_ALLOWED {
            assert!(limiter.allowed("alice", a, t0));
            limiter.failed("alice", a, t0);
        }
        assert!(!limiter.allowed("alice", a, t0));
        // The name is closed from another address too, and the address for another name.
        assert!(!limiter.allowed("alice", b, t0));
        assert!(!limiter.allowed("bob", a, t0));
        assert!(limiter.allowed("bob", b, t0));
        // Still closed a second before the quarter of an hour, open again at it.
        assert!(!limiter.allowed("alice", a, t0 + Duration::from_secs(15 * 60 - 1)));
        assert!(limiter.allowed("alice", a, t0 + FAILURE_WINDOW));
        // A right password from another address opens the name again, not the address.
        limiter.succeeded("alice", b);
        assert!(limiter.allowed("alice", b, t0));
        assert!(!limiter.allowed("alice", a, t0));
    }

    #[test]
    fn a_strangers_failures_do_not_lock_out_a_trusted_device_which_has_its_own_count() {
        let mut limiter = SignInLimiter::default();
        let t0 = Instant::now();
        let stranger = Signer::Address("10.0.0.9".parse().unwrap());
        for _ in 0..FAILURES_ALLOWED {
            limiter.failed("alice", stranger, t0);
        }
        assert!(!limiter.allowed("alice", stranger, t0));
        let device = Signer::TrustedDevice("device-of-alice");
        assert!(limiter.allowed("alice", device, t0));
        // The device's own failures count against it alone...
        for _ in 0..FAILURES_ALLOWED {
            assert!(limiter.allowed("alice", device, t0));
            limiter.failed("alice", device, t0);
        }
        assert!(!limiter.allowed("alice", device, t0));
        assert!(limiter.allowed("alice", Signer::TrustedDevice("another"), t0));
        assert!(limiter.allowed("bob", Signer::Address("10.0.0.8".parse().unwrap()), t0));
        assert_eq!(limiter.len(), (1, 1, 1));
        // ...until it signs in; that does not clear what the stranger did to the name.
        limiter.succeeded("alice", device);
        assert!(limiter.allowed("alice", device, t0));
        assert!(!limiter.allowed("alice", Signer::Address("10.0.0.7".parse().unwrap()), t0));
        assert!(limiter.allowed("alice", device, t0 + FAILURE_WINDOW));
    }

    #[test]
    fn the_failed_sign_in_table_stays_bounded() {
        let mut limiter = SignInLimiter::default();
        let t0 = Instant::now();
        for i in 0..(FAILURE_ENTRIES as u32 + 100) {
            let address = IpAddr::from((i + 1).to_be_bytes());
            let at = t0 + Duration::from_millis(i as u64);
            limiter.failed(&format!("name{i}"), Signer::Address(address), at);
            limiter.failed("x", Signer::TrustedDevice(&format!("device{i}")), at);
        }
        assert_eq!(
            limiter.len(),
            (FAILURE_ENTRIES, FAILURE_ENTRIES, FAILURE_ENTRIES)
        );
    }
}
