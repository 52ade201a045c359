//! store: call records and their timelines in SQLite (`DATA/hotline.db`, WAL mode), the
//! registrar's bindings (so registered phones survive a restart until they expire), the
//! callback requests callers leave in a queue, and the text renderings
//! `hotline calls list` / `hotline calls show` print.
//!
//! Owns: the database file, its schema and migrations. Must not touch: sockets, call
//! state or timers — the driver calls these plain synchronous methods from its own
//! background writer thread, and the switch only produces [`TimelineEvent`]s.

pub mod file_modes;
mod media_quality;
mod qa;
mod recordings;
mod render;
mod users;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use jiff::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::switch::timeline::{EventKind, TimelineEvent};

pub use media_quality::LegMedia;
pub use qa::{
    AgentWeekTotal, CallFilter, FilterChoices, FlagFilter, ReviewRow, MAX_CHOICES, MAX_PAGE,
};
pub use recordings::{RecordingEnd, RecordingInfo, RecordingState, CHANNEL_MAP};
pub use render::{render_call, render_callbacks, render_list};
pub use users::{StoredSession, StoredUser};

/// The database file inside the data dir.
pub const DATABASE_FILE: &str = "hotline.db";

/// Version written to `PRAGMA user_version` once the schema is in place. Each version's
/// script upgrades the one before, so a database of any older version opens and upgrades.
const SCHEMA_VERSION: i64 = 9;

const SCHEMA_V1: &str = "
CREATE TABLE calls (
    id             TEXT PRIMARY KEY,
    sip_call_id    TEXT NOT NULL,
    from_uri       TEXT NOT NULL,
    to_uri         TEXT NOT NULL,
    hotline        TEXT,
    started_at     TEXT NOT NULL,  -- RFC 3339 UTC, fixed millisecond width so text order is time order
    answered_at_ms INTEGER,        -- offset from started_at, from the 'answered' event
    ended_at       TEXT,
    outcome        TEXT,
    ended_by       TEXT,           -- from the 'hangup' event
    reason         TEXT
);
CREATE INDEX calls_by_sip_call_id ON calls (sip_call_id);
CREATE INDEX calls_by_started_at ON calls (started_at);
CREATE TABLE events (
    call_id   TEXT NOT NULL REFERENCES calls (id),
    seq       INTEGER NOT NULL,
    offset_ms INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    detail    TEXT NOT NULL,       -- the event as JSON
    PRIMARY KEY (call_id, seq)
);
";

/// Issue 3: the queue story in the call row (so listings need no join), registrar bindings
/// and callback requests.
const SCHEMA_V2: &str = "
ALTER TABLE calls ADD COLUMN queue TEXT;            -- the last queue entered
ALTER TABLE calls ADD COLUMN agent TEXT;            -- the agent who answered
ALTER TABLE calls ADD COLUMN wait_ms INTEGER;       -- queue entry to agent answer
ALTER TABLE calls ADD COLUMN bridged_at_ms INTEGER; -- offset of the 'bridged' event
ALTER TABLE calls ADD COLUMN talk_ms INTEGER;       -- bridged to hangup
CREATE TABLE bindings (
    user       TEXT NOT NULL,
    contact    TEXT NOT NULL,
    address    TEXT NOT NULL,  -- ip:port the REGISTER came from
    transport  TEXT NOT NULL,  -- udp | tcp
    expires_at TEXT NOT NULL,  -- same fixed-width RFC 3339 as calls.started_at
    PRIMARY KEY (user, contact)
);
CREATE INDEX bindings_by_expires_at ON bindings (expires_at);
CREATE TABLE callbacks (
    call_id      TEXT NOT NULL,
    number       TEXT NOT NULL,
    queue        TEXT NOT NULL,
    position     INTEGER NOT NULL,
    requested_at TEXT NOT NULL
);
CREATE INDEX callbacks_by_requested_at ON callbacks (requested_at);
";

/// The scripts that bring a database from version N-1 to N, in order.
const MIGRATIONS: [(i64, &str); 9] = [
    (1, SCHEMA_V1),
    (2, SCHEMA_V2),
    (3, media_quality::SCHEMA_V3),
    (4, recordings::SCHEMA_V4),
    (5, qa::SCHEMA_V5),
    (6, users::SCHEMA_V6),
    (7, qa::SCHEMA_V7),
    (8, users::SCHEMA_V8),
    (9, qa::SCHEMA_V9),
];

/// A store failure, naming the database file and what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create {path}: {source}")]
    CreateFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot {action}: {source}")]
    Sqlite {
        path: PathBuf,
        action: &'static str,
        source: rusqlite::Error,
    },
    #[error("{path}: schema version {found} is newer than this hotline understands ({SCHEMA_VERSION}); use a newer hotline")]
    NewerSchema { path: PathBuf, found: i64 },
    #[error("{path}: no call with id \"{call_id}\"")]
    UnknownCall { path: PathBuf, call_id: String },
    #[error("{path}: a binding of user \"{found}\" was given to save for user \"{user}\"")]
    BindingUser {
        path: PathBuf,
        user: String,
        found: String,
    },
    #[error("{path}: stored {what} \"{key}\" is unreadable: {message}")]
    CorruptRow {
        path: PathBuf,
        what: &'static str,
        key: String,
        message: String,
    },
    #[error("{path}: call {call_id} has an unreadable {what}: {message}")]
    Corrupt {
        path: PathBuf,
        call_id: String,
        what: &'static str,
        message: String,
    },
}

/// What the driver knows when a call arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    /// The switch's own call id.
    pub id: String,
    pub sip_call_id: String,
    pub from: String,
    pub to: String,
    /// The hotline the request-URI matched, if any.
    pub hotline: Option<String>,
    pub started_at: Timestamp,
}

/// A registered contact of a phone, as the registrar keeps it across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredBinding {
    /// The phone's SIP user name.
    pub user: String,
    /// The Contact URI as registered.
    pub contact: String,
    /// Where the REGISTER came from, "ip:port": requests to the phone go there.
    pub address: String,
    /// "udp" or "tcp".
    pub transport: String,
    /// Kept to the millisecond.
    #[serde(serialize_with = "serialize_timestamp")]
    pub expires_at: Timestamp,
}

/// A caller who pressed 1 to be called back, keeping their place in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackRequest {
    /// The switch's id of the call the request was made on.
    pub call_id: String,
    /// The number to call back (the caller's From user part).
    pub number: String,
    pub queue: String,
    /// The place in the queue the caller kept (1 = next).
    pub position: u32,
    /// Kept to the millisecond.
    #[serde(serialize_with = "serialize_timestamp")]
    pub requested_at: Timestamp,
}

/// One row of `hotline calls list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallSummary {
    pub id: String,
    pub sip_call_id: String,
    pub from: String,
    pub to: String,
    pub hotline: Option<String>,
    #[serde(serialize_with = "serialize_timestamp")]
    pub started_at: Timestamp,
    /// Milliseconds from the INVITE to the 200 OK.
    pub answered_at_ms: Option<u64>,
    #[serde(serialize_with = "serialize_optional_timestamp")]
    pub ended_at: Option<Timestamp>,
    pub outcome: Option<String>,
    /// "caller" or "switch", from the hangup event.
    pub ended_by: Option<String>,
    pub reason: Option<String>,
    pub duration_ms: Option<u64>,
    pub event_count: u64,
    /// The last queue the call entered.
    pub queue: Option<String>,
    /// The agent who answered.
    pub agent: Option<String>,
    /// Milliseconds from entering the queue to the agent's answer.
    pub wait_ms: Option<u64>,
    /// Milliseconds the caller and the agent were connected.
    pub talk_ms: Option<u64>,
}

/// A call with its whole timeline, for `hotline calls show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    #[serde(flatten)]
    pub summary: CallSummary,
    pub events: Vec<TimelineEvent>,
    /// Each leg's media figures (loss, jitter, round trip), the caller's first; empty when
    /// none were recorded.
    pub media: Vec<LegMedia>,
    /// The call's QA recording (issue 9), when it was recorded.
    pub recording: Option<RecordingInfo>,
}

fn serialize_timestamp<S: serde::Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_timestamp(*ts))
}

fn serialize_optional_timestamp<S: serde::Serializer>(
    ts: &Option<Timestamp>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match ts {
        Some(ts) => s.serialize_str(&format_timestamp(*ts)),
        None => s.serialize_none(),
    }
}

/// RFC 3339 in UTC with exactly three fraction digits, so stored text sorts as time does.
pub(crate) fn format_timestamp(ts: Timestamp) -> String {
    jiff::fmt::temporal::DateTimePrinter::new()
        .precision(Some(3))
        .timestamp_to_string(&ts)
}

/// Call records in SQLite. Methods take `&self`; one connection is shared behind a mutex,
/// which is uncontended in practice because a single writer thread owns the store.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    connection: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) `data_dir/hotline.db`, in WAL mode, with the schema
    /// created or migrated to the current version. A folder or database it creates is
    /// private (0700, 0600, see [`file_modes`]).
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let create_dir = |source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        };
        file_modes::create_private_dir_all(data_dir).map_err(create_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        if !path.exists() {
            // SQLite gives the -wal and -shm files the database file's mode.
            file_modes::create_private_file(&path).map_err(|source| StoreError::CreateFile {
                path: path.clone(),
                source,
            })?;
        }
        let fail = |action: &'static str| {
            let path = path.clone();
            move |source| StoreError::Sqlite {
                path,
                action,
                source,
            }
        };
        let connection = Connection::open(&path).map_err(fail("open the database"))?;
        // WAL lets `hotline calls list` read while the switch writes.
        connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| {
                row.get::<_, String>(0)
            })
            .map_err(fail("switch to WAL mode"))?;
        connection
            .execute_batch(
                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
            )
            .map_err(fail("set connection options"))?;
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(fail("read the schema version"))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path,
                found: version,
            });
        }
        // One transaction per step: a failed upgrade leaves the previous version intact.
        for (target, script) in MIGRATIONS {
            if version < target {
                connection
                    .execute_batch(&format!(
                        "BEGIN; {script} PRAGMA user_version = {target}; COMMIT;"
                    ))
                    .map_err(fail(if target == 1 {
                        "create the schema"
                    } else {
                        "upgrade the schema"
                    }))?;
            }
        }
        Ok(Store {
            path,
            connection: Mutex::new(connection),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a batch of writes: what follows until [`Store::end_batch`] is committed at
    /// once (one WAL commit instead of one per event). Each write keeps its own savepoint, so
    /// one that fails is undone alone and the rest of the batch is kept.
    pub fn begin_batch(&self) -> Result<(), StoreError> {
        self.connection()
            .execute_batch("BEGIN")
            .map_err(self.sqlite("start a batch of writes"))
    }

    /// Commits the batch [`Store::begin_batch`] started (nothing to do outside one).
    pub fn end_batch(&self) -> Result<(), StoreError> {
        let connection = self.connection();
        if connection.is_autocommit() {
            return Ok(());
        }
        connection
            .execute_batch("COMMIT")
            .map_err(self.sqlite("commit a batch of writes"))
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (statements are
        // atomic), so a poisoned lock is still safe to use.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sqlite(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            action,
            source,
        }
    }

    /// Records a new call as it arrives.
    pub fn begin_call(&self, call: &NewCall) -> Result<(), StoreError> {
        self.connection()
            .prepare_cached(
                "INSERT INTO calls (id, sip_call_id, from_uri, to_uri, hotline, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    call.id,
                    call.sip_call_id,
                    call.from,
                    call.to,
                    call.hotline,
                    format_timestamp(call.started_at)
                ])
            })
            .map_err(self.sqlite("record a new call"))?;
        Ok(())
    }

    /// Appends one event to a call's timeline. `answered` and `hangup` events also fill
    /// the call's answered_at_ms / ended_by / reason columns, so listings need no join.
    pub fn append_event(&self, call_id: &str, event: &TimelineEvent) -> Result<(), StoreError> {
        let detail = serde_json::to_string(&event.kind).map_err(|error| StoreError::Corrupt {
            path: self.path.clone(),
            call_id: call_id.to_string(),
            what: "event",
            message: error.to_string(),
        })?;
        let offset = i64::try_from(event.offset_ms).unwrap_or(i64::MAX);
        let mut connection = self.connection();
        let transaction = connection
            .savepoint()
            .map_err(self.sqlite("start a transaction"))?;
        let inserted = transaction
            .prepare_cached(
                "INSERT INTO events (call_id, seq, offset_ms, kind, detail)
                 SELECT ?1, COALESCE(MAX(seq) + 1, 0), ?2, ?3, ?4 FROM events WHERE call_id = ?1",
            )
            .and_then(|mut insert| {
                insert.execute(params![call_id, offset, event.kind.name(), detail])
            })
            .map_err(|source| match source {
                rusqlite::Error::SqliteFailure(error, _)
                    if error.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    StoreError::UnknownCall {
                        path: self.path.clone(),
                        call_id: call_id.to_string(),
                    }
                }
                source => StoreError::Sqlite {
                    path: self.path.clone(),
                    action: "append an event",
                    source,
                },
            })?;
        debug_assert_eq!(inserted, 1);
        match &event.kind {
            EventKind::Answered { .. } => {
                transaction
                    .prepare_cached("UPDATE calls SET answered_at_ms = ?2 WHERE id = ?1")
                    .and_then(|mut update| update.execute(params![call_id, offset]))
                    .map_err(self.sqlite("record the answer time"))?;
            }
            EventKind::Hangup { by, reason } => {
                let by = serde_json::to_value(by)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_string));
                transaction
                    .prepare_cached(
                        "UPDATE calls SET ended_by = ?2, reason = ?3,
                             talk_ms = CASE WHEN bridged_at_ms IS NULL THEN talk_ms
                                            ELSE MAX(?4 - bridged_at_ms, 0) END
                         WHERE id = ?1",
                    )
                    .and_then(|mut update| update.execute(params![call_id, by, reason, offset]))
                    .map_err(self.sqlite("record who hung up"))?;
            }
            EventKind::QueueEntered { queue, .. } => {
                transaction
                    .prepare_cached("UPDATE calls SET queue = ?2 WHERE id = ?1")
                    .and_then(|mut update| update.execute(params![call_id, queue]))
                    .map_err(self.sqlite("record the queue"))?;
            }
            EventKind::AgentAnswered { agent, wait_ms, .. } => {
                let wait_ms = i64::try_from(*wait_ms).unwrap_or(i64::MAX);
                transaction
                    .prepare_cached("UPDATE calls SET agent = ?2, wait_ms = ?3 WHERE id = ?1")
                    .and_then(|mut update| update.execute(params![call_id, agent, wait_ms]))
                    .map_err(self.sqlite("record the answering agent"))?;
            }
            EventKind::Bridged { .. } => {
                transaction
                    .prepare_cached(
                        "UPDATE calls SET bridged_at_ms = ?2, talk_ms = NULL WHERE id = ?1",
                    )
                    .and_then(|mut update| update.execute(params![call_id, offset]))
                    .map_err(self.sqlite("record the bridge time"))?;
            }
            _ => {}
        }
        transaction
            .commit()
            .map_err(self.sqlite("commit an event"))?;
        Ok(())
    }

    /// Marks a call ended with an outcome such as "completed", "cancelled", "rejected".
    pub fn finish_call(
        &self,
        call_id: &str,
        ended_at: Timestamp,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let updated = self
            .connection()
            .prepare_cached("UPDATE calls SET ended_at = ?2, outcome = ?3 WHERE id = ?1")
            .and_then(|mut update| {
                update.execute(params![call_id, format_timestamp(ended_at), outcome])
            })
            .map_err(self.sqlite("finish a call"))?;
        if updated == 0 {
            return Err(StoreError::UnknownCall {
                path: self.path.clone(),
                call_id: call_id.to_string(),
            });
        }
        Ok(())
    }

    /// At start-up: calls left without an outcome by a previous run that stopped get
    /// outcome "interrupted", ending at their last recorded event. Returns how many.
    pub fn mark_interrupted(&self) -> Result<usize, StoreError> {
        let mut connection = self.connection();
        let transaction = connection
            .savepoint()
            .map_err(self.sqlite("start a transaction"))?;
        let unfinished: Vec<(String, String, i64)> = {
            let mut statement = transaction
                .prepare(
                    "SELECT c.id, c.started_at, COALESCE(MAX(e.offset_ms), 0)
                     FROM calls c LEFT JOIN events e ON e.call_id = c.id
                     WHERE c.outcome IS NULL GROUP BY c.id",
                )
                .map_err(self.sqlite("find unfinished calls"))?;
            let rows = statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .map_err(self.sqlite("find unfinished calls"))?;
            rows.collect::<Result<_, _>>()
                .map_err(self.sqlite("find unfinished calls"))?
        };
        for (id, started_at, last_offset) in &unfinished {
            let ended_at = parse_timestamp(started_at)
                .ok()
                .and_then(|start| {
                    start
                        .checked_add(jiff::SignedDuration::from_millis(*last_offset))
                        .ok()
                })
                .map(format_timestamp);
            transaction
                .execute(
                    "UPDATE calls SET outcome = 'interrupted',
                         ended_at = COALESCE(ended_at, ?2),
                         ended_by = COALESCE(ended_by, 'switch'),
                         reason = COALESCE(reason, 'the switch stopped before the call ended'),
                         talk_ms = CASE WHEN talk_ms IS NULL AND bridged_at_ms IS NOT NULL
                                        THEN MAX(?3 - bridged_at_ms, 0) ELSE talk_ms END
                     WHERE id = ?1",
                    params![id, ended_at, last_offset],
                )
                .map_err(self.sqlite("mark a call interrupted"))?;
        }
        transaction
            .commit()
            .map_err(self.sqlite("commit interrupted calls"))?;
        Ok(unfinished.len())
    }

    /// The newest `limit` calls, newest first.
    pub fn list_calls(&self, limit: usize) -> Result<Vec<CallSummary>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let connection = self.connection();
        let mut statement = connection
            .prepare(&format!(
                "{SUMMARY_SELECT} ORDER BY c.started_at DESC, c.rowid DESC LIMIT ?1"
            ))
            .map_err(self.sqlite("list calls"))?;
        let rows = statement
            .query_map([limit], summary_row)
            .map_err(self.sqlite("list calls"))?;
        let raw: Vec<SummaryRow> = rows
            .collect::<Result<_, _>>()
            .map_err(self.sqlite("list calls"))?;
        raw.into_iter().map(|row| self.summary(row)).collect()
    }

    /// One call by the switch's id or by its SIP Call-ID (the newest, if a Call-ID was
    /// seen more than once), with its whole timeline.
    pub fn call(&self, id_or_sip_call_id: &str) -> Result<Option<CallRecord>, StoreError> {
        let connection = self.connection();
        let row = connection
            .query_row(
                &format!(
                    "{SUMMARY_SELECT} WHERE c.id = ?1 OR c.sip_call_id = ?1
                     ORDER BY (c.id = ?1) DESC, c.started_at DESC, c.rowid DESC LIMIT 1"
                ),
                [id_or_sip_call_id],
                summary_row,
            )
            .optional()
            .map_err(self.sqlite("look up a call"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let summary = self.summary(row)?;
        let mut statement = connection
            .prepare("SELECT offset_ms, detail FROM events WHERE call_id = ?1 ORDER BY seq")
            .map_err(self.sqlite("read a call's events"))?;
        let rows = statement
            .query_map([&summary.id], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(self.sqlite("read a call's events"))?;
        let mut events = Vec::new();
        for row in rows {
            let (offset, detail) = row.map_err(self.sqlite("read a call's events"))?;
            let kind: EventKind =
                serde_json::from_str(&detail).map_err(|error| StoreError::Corrupt {
                    path: self.path.clone(),
                    call_id: summary.id.clone(),
                    what: "event",
                    message: error.to_string(),
                })?;
            events.push(TimelineEvent {
                offset_ms: u64::try_from(offset).unwrap_or(0),
                kind,
            });
        }
        let media = Store::media_of(&connection, &summary.id)
            .map_err(self.sqlite("read a call's media figures"))?;
        let recording = Store::recording_of(&connection, &summary.id)
            .map_err(self.sqlite("read a call's recording"))?;
        Ok(Some(CallRecord {
            summary,
            events,
            media,
            recording,
        }))
    }

    /// Replaces every stored binding of `user` by `bindings` (none: the phone is
    /// unregistered). Each binding must be of `user`.
    pub fn save_bindings(&self, user: &str, bindings: &[StoredBinding]) -> Result<(), StoreError> {
        if let Some(other) = bindings.iter().find(|binding| binding.user != user) {
            return Err(StoreError::BindingUser {
                path: self.path.clone(),
                user: user.to_string(),
                found: other.user.clone(),
            });
        }
        let mut connection = self.connection();
        let transaction = connection
            .savepoint()
            .map_err(self.sqlite("start a transaction"))?;
        transaction
            .execute("DELETE FROM bindings WHERE user = ?1", [user])
            .map_err(self.sqlite("replace a phone's bindings"))?;
        for binding in bindings {
            transaction
                .execute(
                    "INSERT OR REPLACE INTO bindings (user, contact, address, transport, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        binding.user,
                        binding.contact,
                        binding.address,
                        binding.transport,
                        format_timestamp(binding.expires_at)
                    ],
                )
                .map_err(self.sqlite("save a binding"))?;
        }
        transaction
            .commit()
            .map_err(self.sqlite("commit bindings"))?;
        Ok(())
    }

    /// The bindings still valid at `now`, by user then contact. Expired ones are deleted:
    /// nothing will ever need them again.
    pub fn load_bindings(&self, now: Timestamp) -> Result<Vec<StoredBinding>, StoreError> {
        let now_text = format_timestamp(now);
        let connection = self.connection();
        connection
            .execute("DELETE FROM bindings WHERE expires_at <= ?1", [&now_text])
            .map_err(self.sqlite("delete expired bindings"))?;
        let mut statement = connection
            .prepare(
                "SELECT user, contact, address, transport, expires_at FROM bindings
                 WHERE expires_at > ?1 ORDER BY user, contact",
            )
            .map_err(self.sqlite("load bindings"))?;
        let rows = statement
            .query_map([&now_text], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })
            .map_err(self.sqlite("load bindings"))?;
        let mut bindings = Vec::new();
        for row in rows {
            let (user, contact, address, transport, expires_at) =
                row.map_err(self.sqlite("load bindings"))?;
            let expires_at =
                parse_timestamp(&expires_at).map_err(|message| StoreError::CorruptRow {
                    path: self.path.clone(),
                    what: "binding",
                    key: format!("{user} {contact}"),
                    message,
                })?;
            bindings.push(StoredBinding {
                user,
                contact,
                address,
                transport,
                expires_at,
            });
        }
        Ok(bindings)
    }

    /// Records a caller's request to be called back.
    pub fn add_callback(&self, request: &CallbackRequest) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "INSERT INTO callbacks (call_id, number, queue, position, requested_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    request.call_id,
                    request.number,
                    request.queue,
                    request.position,
                    format_timestamp(request.requested_at)
                ],
            )
            .map_err(self.sqlite("record a callback request"))?;
        Ok(())
    }

    /// Every callback request, oldest first.
    pub fn callbacks(&self) -> Result<Vec<CallbackRequest>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT call_id, number, queue, position, requested_at FROM callbacks
                 ORDER BY requested_at, rowid",
            )
            .map_err(self.sqlite("read callback requests"))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })
            .map_err(self.sqlite("read callback requests"))?;
        let mut requests = Vec::new();
        for row in rows {
            let (call_id, number, queue, position, requested_at) =
                row.map_err(self.sqlite("read callback requests"))?;
            let corrupt = |message: String| StoreError::CorruptRow {
                path: self.path.clone(),
                what: "callback request of call",
                key: call_id.clone(),
                message,
            };
            let requested_at = parse_timestamp(&requested_at).map_err(corrupt)?;
            let position = u32::try_from(position)
                .map_err(|_| corrupt(format!("position {position} is out of range")))?;
            requests.push(CallbackRequest {
                call_id,
                number,
                queue,
                position,
                requested_at,
            });
        }
        Ok(requests)
    }

    fn summary(&self, row: SummaryRow) -> Result<CallSummary, StoreError> {
        let corrupt = |what: &'static str, message: String| StoreError::Corrupt {
            path: self.path.clone(),
            call_id: row.id.clone(),
            what,
            message,
        };
        let started_at =
            parse_timestamp(&row.started_at).map_err(|message| corrupt("start time", message))?;
        let ended_at = row
            .ended_at
            .as_deref()
            .map(parse_timestamp)
            .transpose()
            .map_err(|message| corrupt("end time", message))?;
        let duration_ms = ended_at.and_then(|end| {
            let millis = end.duration_since(started_at).as_millis();
            u64::try_from(millis).ok()
        });
        Ok(CallSummary {
            id: row.id,
            sip_call_id: row.sip_call_id,
            from: row.from,
            to: row.to,
            hotline: row.hotline,
            started_at,
            answered_at_ms: row.answered_at_ms.and_then(|ms| u64::try_from(ms).ok()),
            ended_at,
            outcome: row.outcome,
            ended_by: row.ended_by,
            reason: row.reason,
            duration_ms,
            event_count: u64::try_from(row.event_count).unwrap_or(0),
            queue: row.queue,
            agent: row.agent,
            wait_ms: row.wait_ms.and_then(|ms| u64::try_from(ms).ok()),
            talk_ms: row.talk_ms.and_then(|ms| u64::try_from(ms).ok()),
        })
    }
}

const SUMMARY_SELECT: &str = "SELECT c.id, c.sip_call_id, c.from_uri, c.to_uri, c.hotline,
        c.started_at, c.answered_at_ms, c.ended_at, c.outcome, c.ended_by, c.reason,
        (SELECT COUNT(*) FROM events e WHERE e.call_id = c.id),
        c.queue, c.agent, c.wait_ms, c.talk_ms
    FROM calls c";

struct SummaryRow {
    id: String,
    sip_call_id: String,
    from: String,
    to: String,
    hotline: Option<String>,
    started_at: String,
    answered_at_ms: Option<i64>,
    ended_at: Option<String>,
    outcome: Option<String>,
    ended_by: Option<String>,
    reason: Option<String>,
    event_count: i64,
    queue: Option<String>,
    agent: Option<String>,
    wait_ms: Option<i64>,
    talk_ms: Option<i64>,
}

fn summary_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SummaryRow> {
    Ok(SummaryRow {
        id: row.get(0)?,
        sip_call_id: row.get(1)?,
        from: row.get(2)?,
        to: row.get(3)?,
        hotline: row.get(4)?,
        started_at: row.get(5)?,
        answered_at_ms: row.get(6)?,
        ended_at: row.get(7)?,
        outcome: row.get(8)?,
        ended_by: row.get(9)?,
        reason: row.get(10)?,
        event_count: row.get(11)?,
        queue: row.get(12)?,
        agent: row.get(13)?,
        wait_ms: row.get(14)?,
        talk_ms: row.get(15)?,
    })
}

fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>()
        .map_err(|error| format!("\"{text}\": {error}"))
}

#[cfg(test)]
mod tests;
