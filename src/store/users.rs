//! The people who sign in to the QA replay pages (issue 9) and their sessions: a user's
//! name, Argon2 password hash, role and (for an agent) the agent name their calls carry;
//! a session's id hash, CSRF token and times. Hashing, ids and expiry rules live in
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
    /// Returns true when the user was new. A replaced user's sessions are ended.
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
        transaction.commit().map_err(self.sqlite("commit a user"))?;
        Ok(!existed)
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
}
