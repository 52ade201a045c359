//! The QA recording of each customer journey (issue 9): one stereo WAV per call record
//! (left: what the caller said, right: what the caller heard), its state as it is written,
//! finished, repaired after a crash or deleted by retention, its length and its SHA-256.
//! The file itself is written by the recording service; this is only its row.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{format_timestamp, Store, StoreError};

/// Issue 9: one row per recorded call record.
pub(super) const SCHEMA_V4: &str = "
CREATE TABLE recordings (
    call_id     TEXT PRIMARY KEY REFERENCES calls (id),
    file        TEXT NOT NULL,      -- relative to the data dir, e.g. recordings/2026/12/01/ID.wav
    state       TEXT NOT NULL,      -- recording | complete | cut_short | deleted
    started_at  TEXT NOT NULL,      -- fixed-width RFC 3339 UTC, as calls.started_at
    offset_ms   INTEGER NOT NULL,   -- where sample 0 sits on the call's timeline
    duration_ms INTEGER,            -- length of the audio, when finished or repaired
    sha256      TEXT,               -- hex digest of the whole file, when finished or repaired
    lost_ms     INTEGER NOT NULL DEFAULT 0, -- written as silence because a queue overflowed
    deleted_at  TEXT
);
CREATE INDEX recordings_by_state ON recordings (state);
";

/// What the two channels of every recording hold, for the record and exports.
pub const CHANNEL_MAP: [&str; 2] = ["caller_said", "caller_heard"];

/// Where a recording is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    /// Being written (or the switch stopped before finishing it: repaired at start-up).
    Recording,
    /// Finished at the caller's hang-up.
    Complete,
    /// The switch stopped mid-call; the file was repaired at start-up to what was on disk.
    CutShort,
    /// Removed by retention; the row stays to say so.
    Deleted,
}

impl RecordingState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingState::Recording => "recording",
            RecordingState::Complete => "complete",
            RecordingState::CutShort => "cut_short",
            RecordingState::Deleted => "deleted",
        }
    }

    fn parse(text: &str) -> Option<RecordingState> {
        Some(match text {
            "recording" => RecordingState::Recording,
            "complete" => RecordingState::Complete,
            "cut_short" => RecordingState::CutShort,
            "deleted" => RecordingState::Deleted,
            _ => return None,
        })
    }
}

/// A call record's recording, as stored and shown (`calls show`, its JSON `recording`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingInfo {
    pub call_id: String,
    /// Relative to the data dir.
    pub file: String,
    pub state: RecordingState,
    #[serde(serialize_with = "super::serialize_timestamp")]
    pub started_at: jiff::Timestamp,
    /// Where the recording's first sample sits on the call's timeline (ms after the INVITE).
    pub offset_ms: u64,
    pub duration_ms: Option<u64>,
    pub sha256: Option<String>,
    /// Milliseconds written as silence because the recording queue overflowed.
    pub lost_ms: u64,
    /// Always [`CHANNEL_MAP`]: left, right.
    pub channels: [&'static str; 2],
}

/// How a recording ended, for [`Store::recording_finished`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingEnd {
    pub state: RecordingState,
    pub duration_ms: u64,
    pub sha256: String,
    pub lost_ms: u64,
}

fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    /// A recording of `call_id` began: its row, in state `recording`.
    pub fn recording_started(
        &self,
        call_id: &str,
        file: &str,
        started_at: jiff::Timestamp,
        offset_ms: u64,
    ) -> Result<(), StoreError> {
        self.connection()
            .prepare_cached(
                "INSERT OR REPLACE INTO recordings (call_id, file, state, started_at, offset_ms)
                 VALUES (?1, ?2, 'recording', ?3, ?4)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    call_id,
                    file,
                    format_timestamp(started_at),
                    int(offset_ms)
                ])
            })
            .map_err(|source| {
                self.unknown_call_or(call_id, "record a recording's start", source)
            })?;
        Ok(())
    }

    /// A recording was finished (or repaired, or deleted): its state, length and digest.
    pub fn recording_finished(&self, call_id: &str, end: &RecordingEnd) -> Result<(), StoreError> {
        let updated = self
            .connection()
            .prepare_cached(
                "UPDATE recordings SET state = ?2, duration_ms = ?3, sha256 = ?4, lost_ms = ?5
                 WHERE call_id = ?1",
            )
            .and_then(|mut update| {
                update.execute(params![
                    call_id,
                    end.state.as_str(),
                    int(end.duration_ms),
                    end.sha256,
                    int(end.lost_ms)
                ])
            })
            .map_err(self.sqlite("record a recording's end"))?;
        if updated == 0 {
            return Err(StoreError::UnknownCall {
                path: self.path.clone(),
                call_id: call_id.to_string(),
            });
        }
        Ok(())
    }

    /// Retention removed the file: the row says so (and when).
    pub fn recording_deleted(&self, call_id: &str, at: jiff::Timestamp) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "UPDATE recordings SET state = 'deleted', deleted_at = ?2 WHERE call_id = ?1",
                params![call_id, format_timestamp(at)],
            )
            .map_err(self.sqlite("record a recording's deletion"))?;
        Ok(())
    }

    /// The recording of one call record, if it has one.
    pub fn recording(&self, call_id: &str) -> Result<Option<RecordingInfo>, StoreError> {
        let connection = self.connection();
        Store::recording_of(&connection, call_id).map_err(self.sqlite("read a recording"))
    }

    /// Recordings still in state `recording`: at start-up, the ones a stopped switch left
    /// unfinished (to repair and mark `cut_short`).
    pub fn unfinished_recordings(&self) -> Result<Vec<RecordingInfo>, StoreError> {
        self.recordings_where("state = 'recording'", &[])
    }

    /// Finished recordings (complete or cut short) started before `before`: what retention
    /// deletes.
    pub fn recordings_started_before(
        &self,
        before: jiff::Timestamp,
    ) -> Result<Vec<RecordingInfo>, StoreError> {
        self.recordings_where(
            "state IN ('complete', 'cut_short') AND started_at < ?1",
            &[&format_timestamp(before)],
        )
    }

    fn recordings_where(
        &self,
        condition: &str,
        values: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<RecordingInfo>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(&format!(
                "{RECORDING_SELECT} WHERE {condition} ORDER BY started_at"
            ))
            .map_err(self.sqlite("list recordings"))?;
        let rows = statement
            .query_map(values, recording_row)
            .map_err(self.sqlite("list recordings"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(self.sqlite("list recordings"))
    }

    pub(super) fn recording_of(
        connection: &rusqlite::Connection,
        call_id: &str,
    ) -> rusqlite::Result<Option<RecordingInfo>> {
        connection
            .query_row(
                &format!("{RECORDING_SELECT} WHERE call_id = ?1"),
                [call_id],
                recording_row,
            )
            .optional()
    }

    fn unknown_call_or(
        &self,
        call_id: &str,
        action: &'static str,
        source: rusqlite::Error,
    ) -> StoreError {
        match source {
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
                action,
                source,
            },
        }
    }
}

const RECORDING_SELECT: &str = "SELECT call_id, file, state, started_at, offset_ms, duration_ms,
    sha256, lost_ms FROM recordings";

fn recording_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RecordingInfo> {
    let state: String = row.get(2)?;
    let started_at: String = row.get(3)?;
    let bad = |column: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, what.into())
    };
    Ok(RecordingInfo {
        call_id: row.get(0)?,
        file: row.get(1)?,
        state: RecordingState::parse(&state)
            .ok_or_else(|| bad(2, format!("unknown recording state \"{state}\"")))?,
        started_at: started_at
            .parse()
            .map_err(|e| bad(3, format!("bad timestamp \"{started_at}\": {e}")))?,
        offset_ms: u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
        duration_ms: row
            .get::<_, Option<i64>>(5)?
            .map(|v| u64::try_from(v).unwrap_or(0)),
        sha256: row.get(6)?,
        lost_ms: u64::try_from(row.get::<_, i64>(7)?).unwrap_or(0),
        channels: CHANNEL_MAP,
    })
}
