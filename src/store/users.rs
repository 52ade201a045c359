//! The people who sign in to the QA replay pages (issue 9) and their sessions: a user's
//! name, Argon2 password hash, role and (for an agent) the agent name their calls carry;
//! a session's id hash, CSRF token and times; the browsers a user signed in from (trusted
//! devices, by the hash of their cookie's token). Hashing, ids and expiry rules live in
//! `web::auth`; this is only their rows.

use rusqlite::{params, OptionalExtension};

use super::{format_timestamp, parse_timestamp, Store, StoreError};

/// Issue 9, WEB: users and their sessions.
pub(super) const SCHEMA_V6: &str = "
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,   -- Argon2id PHC string
    role          TEXT NOT NULL,   -- reviewer | supervisor | agent
    agent         TEXT,            -- for an agent: the agent name calls carry (calls.agent)
    created_at    TEXT NOT NULL
);
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,   -- SHA-256 of the session id; the id itself is never stored
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen);
";

/// Trusted devices: a browser that signed in as a user holds a random token in a cookie;
/// only the token's SHA-256 is stored. Its sign-ins as that user are not refused for
/// failures strangers caused (see `web::auth::SignInLimiter`).
pub(super) const SCHEMA_V8: &str = "
CREATE TABLE trusted_devices (
    token_hash TEXT PRIMARY KEY,   -- SHA-256 of the device cookie's token
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);
CREATE INDEX trusted_devices_by_user ON trusted_devices (user_name, created_at);
";

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    pub name: String,
    pub password_hash: String,
    /// "reviewer", "supervisor" or "agent".
    pub role: String,
    pub agent: Option<String>,
}

/// A session as stored, with its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub user: StoredUser,
    pub csrf_token: String,
    pub created_at: jiff::Timestamp,
    pub last_seen: jiff::Timestamp,
}

impl Store {
    /// Adds a user, or replaces the password, role and agent of the user of that name.
    /// Returns true when the user was new. A replaced user's sessions are ended and the
    /// browsers they signed in from are no longer trusted (a new password is often the
    /// answer to a leaked one).
    pub fn save_user(&self, user: &StoredUser, now: jiff::Timestamp) -> Result<bool, StoreError> {
        let mut connection = self.connection();
        let transaction = connection
            .savepoint()
            .map_err(self.sqlite("start a transaction"))?;
        let existed = transaction
            .query_row("SELECT 1 FROM users WHERE name = ?1", [&user.name], |_| {
                Ok(())
            })
            .optional()
            .map_err(self.sqlite("look up a user"))?
            .is_some();
        transaction
            .execute(
                "INSERT INTO users (name, password_hash, role, agent, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET password_hash = ?2, role = ?3, agent = ?4",
                params![
                    user.name,
                    user.password_hash,
                    user.role,
                    user.agent,
                    format_timestamp(now)
                ],
            )
            .map_err(self.sqlite("save a user"))?;
        transaction
            .execute("DELETE FROM sessions WHERE user_name = ?1", [&user.name])
            .map_err(self.sqlite("end a user's sessions"))?;
        transaction
            .execute(
                "DELETE FROM trusted_devices WHERE user_name = ?1",
                [&user.name],
            )
            .map_err(self.sqlite("forget a user's devices"))?;
        transaction.commit().map_err(self.sqlite("commit a user"))?;
        Ok(!existed)
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<StoredUser>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT name, password_hash, role, agent FROM users ORDER BY name")
            .map_err(self.sqlite("list the users"))?;
        let rows = statement
            .query_map([], |row| {
                Ok(StoredUser {
                    name: row.get(0)?,
                    password_hash: row.get(1)?,
                    role: row.get(2)?,
                    agent: row.get(3)?,
                })
            })
            .map_err(self.sqlite("list the users"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.sqlite("list the users"))
    }

    /// Removes the user of that name and ends their sessions; false when there was none.
    /// What they scored and overrode keeps their name.
    pub fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection();
        let transaction = connection
            .savepoint()
            .map_err(self.sqlite("start a transaction"))?;
        transaction
            .execute("DELETE FROM sessions WHERE user_name = ?1", [name])
            .map_err(self.sqlite("end a user's sessions"))?;
        transaction
            .execute("DELETE FROM trusted_devices WHERE user_name = ?1", [name])
            .map_err(self.sqlite("forget a user's devices"))?;
        let removed = transaction
            .execute("DELETE FROM users WHERE name = ?1", [name])
            .map_err(self.sqlite("remove a user"))?;
        transaction.commit().map_err(self.sqlite("commit a user"))?;
        Ok(removed > 0)
    }

    /// The user of that name.
    pub fn user(&self, name: &str) -> Result<Option<StoredUser>, StoreError> {
        self.connection()
            .query_row(
                "SELECT name, password_hash, role, agent FROM users WHERE name = ?1",
                [name],
                |row| {
                    Ok(StoredUser {
                        name: row.get(0)?,
                        password_hash: row.get(1)?,
                        role: row.get(2)?,
                        agent: row.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(self.sqlite("look up a user"))
    }

    /// Starts a session of `user` (who must exist).
    pub fn create_session(
        &self,
        id_hash: &str,
        user: &str,
        csrf_token: &str,
        now: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        let now = format_timestamp(now);
        self.connection()
            .execute(
                "INSERT INTO sessions (id_hash, user_name, csrf_token, created_at, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![id_hash, user, csrf_token, now],
            )
            .map_err(self.sqlite("start a session"))?;
        Ok(())
    }

    /// The session of that id hash, with its user.
    pub fn session(&self, id_hash: &str) -> Result<Option<StoredSession>, StoreError> {
        let row = self
            .connection()
            .query_row(
                "SELECT u.name, u.password_hash, u.role, u.agent, s.csrf_token, s.created_at,
                        s.last_seen
                 FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id_hash = ?1",
                [id_hash],
                |row| {
                    Ok((
                        StoredUser {
                            name: row.get(0)?,
                            password_hash: row.get(1)?,
                            role: row.get(2)?,
                            agent: row.get(3)?,
                        },
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, String>(6)?,
                    ))
                },
            )
            .optional()
            .map_err(self.sqlite("look up a session"))?;
        let Some((user, csrf_token, created_at, last_seen)) = row else {
            return Ok(None);
        };
        let corrupt = |message| StoreError::CorruptRow {
            path: self.path.clone(),
            what: "session of user",
            key: user.name.clone(),
            message,
        };
        let created_at = parse_timestamp(&created_at).map_err(corrupt)?;
        let last_seen = parse_timestamp(&last_seen).map_err(corrupt)?;
        Ok(Some(StoredSession {
            user,
            csrf_token,
            created_at,
            last_seen,
        }))
    }

    /// The session was used at `now`.
    pub fn touch_session(&self, id_hash: &str, now: jiff::Timestamp) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1",
                params![id_hash, format_timestamp(now)],
            )
            .map_err(self.sqlite("note a session's use"))?;
        Ok(())
    }

    /// Ends one session (sign-out, or found expired).
    pub fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.connection()
            .execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])
            .map_err(self.sqlite("end a session"))?;
        Ok(())
    }

    /// Ends every session last used before `idle_before` or started before `started_before`.
    /// Returns how many.
    pub fn delete_expired_sessions(
        &self,
        idle_before: jiff::Timestamp,
        started_before: jiff::Timestamp,
    ) -> Result<usize, StoreError> {
        self.connection()
            .execute(
                "DELETE FROM sessions WHERE last_seen < ?1 OR created_at < ?2",
                params![
                    format_timestamp(idle_before),
                    format_timestamp(started_before)
                ],
            )
            .map_err(self.sqlite("end expired sessions"))
    }

    /// Trusts the browser whose device token hashes to `token_hash` for `user` (who must
    /// exist), keeping only the user's `keep` newest devices.
    pub fn trust_device(
        &self,
        token_hash: &str,
        user: &str,
        now: jiff::Timestamp,
        keep: usize,
    ) -> Result<(), StoreError> {
        let mut connection = self.connection();
        let transaction = connection
            .savepoint()
            .map_err(self.sqlite("start a transaction"))?;
        transaction
            .execute(
                "INSERT OR REPLACE INTO trusted_devices (token_hash, user_name, created_at)
                 VALUES (?1, ?2, ?3)",
                params![token_hash, user, format_timestamp(now)],
            )
            .map_err(self.sqlite("trust a device"))?;
        transaction
            .execute(
                "DELETE FROM trusted_devices WHERE user_name = ?1 AND token_hash NOT IN
                 (SELECT token_hash FROM trusted_devices WHERE user_name = ?1
                  ORDER BY created_at DESC, token_hash LIMIT ?2)",
                params![user, i64::try_from(keep).unwrap_or(i64::MAX)],
            )
            .map_err(self.sqlite("forget a user's oldest devices"))?;
        transaction
            .commit()
            .map_err(self.sqlite("commit a device"))?;
        Ok(())
    }

    /// The user the device of `token_hash` is trusted for, if it was trusted at or after
    /// `trusted_since`.
    pub fn device_user(
        &self,
        token_hash: &str,
        trusted_since: jiff::Timestamp,
    ) -> Result<Option<String>, StoreError> {
        self.connection()
            .query_row(
                "SELECT user_name FROM trusted_devices WHERE token_hash = ?1 AND created_at >= ?2",
                params![token_hash, format_timestamp(trusted_since)],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sqlite("look up a device"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    fn rita(hash: &str, role: &str) -> StoredUser {
        StoredUser {
            name: "rita".into(),
            password_hash: hash.into(),
            role: role.into(),
            agent: None,
        }
    }

    #[test]
    fn a_user_is_saved_replaced_and_a_replaced_users_sessions_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = at("2026-12-01T00:00:00Z");
        assert!(store.save_user(&rita("h1", "reviewer"), now).unwrap());
        assert_eq!(store.user("rita").unwrap(), Some(rita("h1", "reviewer")));
        assert_eq!(store.user("nobody").unwrap(), None);
        store.create_session("idhash", "rita", "csrf", now).unwrap();
        let session = store.session("idhash").unwrap().unwrap();
        assert_eq!(session.user.name, "rita");
        assert_eq!(session.csrf_token, "csrf");
        assert_eq!((session.created_at, session.last_seen), (now, now));
        // A new password: the old sessions end.
        assert!(!store.save_user(&rita("h2", "supervisor"), now).unwrap());
        assert_eq!(store.user("rita").unwrap(), Some(rita("h2", "supervisor")));
        assert_eq!(store.session("idhash").unwrap(), None);
    }

    #[test]
    fn a_device_is_trusted_for_one_user_until_too_old_replaced_or_its_user_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0 = at("2026-12-01T00:00:00Z");
        store.save_user(&rita("h", "reviewer"), t0).unwrap();
        store.trust_device("d1", "rita", t0, 2).unwrap();
        assert_eq!(
            store.device_user("d1", t0).unwrap().as_deref(),
            Some("rita")
        );
        assert_eq!(store.device_user("nothing", t0).unwrap(), None);
        // Trusted before the cut-off: no longer.
        assert_eq!(
            store.device_user("d1", at("2026-12-01T00:00:01Z")).unwrap(),
            None
        );
        // Only the newest two of a user's devices are kept.
        store
            .trust_device("d2", "rita", at("2026-12-02T00:00:00Z"), 2)
            .unwrap();
        store
            .trust_device("d3", "rita", at("2026-12-03T00:00:00Z"), 2)
            .unwrap();
        assert_eq!(store.device_user("d1", t0).unwrap(), None);
        assert!(store.device_user("d2", t0).unwrap().is_some());
        assert!(store.device_user("d3", t0).unwrap().is_some());
        // Another user's devices are not counted against rita's.
        let mut sam = rita("h", "supervisor");
        sam.name = "sam".into();
        store.save_user(&sam, t0).unwrap();
        store
            .trust_device("s1", "sam", at("2026-12-04T00:00:00Z"), 2)
            .unwrap();
        assert!(store.device_user("d2", t0).unwrap().is_some());
        // A new password forgets rita's devices; removing sam forgets his.
        store.save_user(&rita("h2", "reviewer"), t0).unwrap();
        assert_eq!(store.device_user("d2", t0).unwrap(), None);
        assert_eq!(store.device_user("d3", t0).unwrap(), None);
        assert!(store.device_user("s1", t0).unwrap().is_some());
        assert!(store.remove_user("sam").unwrap());
        assert_eq!(store.device_user("s1", t0).unwrap(), None);
    }

    #[test]
    fn sessions_are_touched_ended_and_swept_when_expired() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0 = at("2026-12-01T00:00:00Z");
        store.save_user(&rita("h", "reviewer"), t0).unwrap();
        store.create_session("old", "rita", "c1", t0).unwrap();
        store.create_session("used", "rita", "c2", t0).unwrap();
        store.create_session("gone", "rita", "c3", t0).unwrap();
        store
            .touch_session("used", at("2026-12-01T10:00:00Z"))
            .unwrap();
        assert_eq!(
            store.session("used").unwrap().unwrap().last_seen,
            at("2026-12-01T10:00:00Z")
        );
        store.delete_session("gone").unwrap();
        assert_eq!(store.session("gone").unwrap(), None);
        let swept = store
            .delete_expired_sessions(at("2026-12-01T05:00:00Z"), at("2026-11-01T00:00:00Z"))
            .unwrap();
        assert_eq!(swept, 1);
        assert_eq!(store.session("old").unwrap(), None);
        assert!(store.session("used").unwrap().is_some());
        // Too old in absolute terms, however recently used.
        let swept = store
            .delete_expired_sessions(at("2026-12-01T05:00:00Z"), at("2026-12-01T00:00:01Z"))
            .unwrap();
        assert_eq!(swept, 1);
        assert_eq!(store.session("used").unwrap(), None);
    }
}
