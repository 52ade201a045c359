//! QA review data (issue 9): reviewers' overrides of automatic flags, saved scorecards (one
//! per call and reviewer), the per-call cache of failed flags the reviewers' call list
//! filters on, and that filtered, paged list.
//!
//! Flags are computed (`qa::flags_for_call`) from the timeline and the recording; voice
//! activity detection over every call at each listing would be too slow, so each finished
//! call's failed rules are cached when its flags are computed (`qa::refresh_flag_cache`
//! fills the missing ones before a listing) and dropped when a reviewer overrides one of its
//! flags or its recording changes state.

use jiff::Timestamp;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{format_timestamp, parse_timestamp, summary_row, CallSummary, Store, StoreError};
use crate::qa::scorecard::{ItemScore, Score};
use crate::qa::{Flag, FlagOverride, Rule};
use crate::store::RecordingState;

/// Issue 9, QA: overrides, scores and the failed-flags cache.
pub(super) const SCHEMA_V5: &str = "
CREATE TABLE qa_flag_overrides (
    call_id  TEXT NOT NULL REFERENCES calls (id),
    rule     TEXT NOT NULL,     -- qa::Rule name
    start_ms INTEGER NOT NULL,  -- the flag's start on the call's timeline: which occurrence
    by_user  TEXT NOT NULL,
    at       TEXT NOT NULL,     -- fixed-width RFC 3339 UTC
    passed   INTEGER NOT NULL,
    comment  TEXT NOT NULL,
    PRIMARY KEY (call_id, rule, start_ms)
);
CREATE TABLE qa_scores (
    call_id         TEXT NOT NULL REFERENCES calls (id),
    reviewer        TEXT NOT NULL,
    at              TEXT NOT NULL,
    total           INTEGER NOT NULL,
    critical_failed INTEGER NOT NULL,
    items           TEXT NOT NULL,  -- JSON [{id, points, comment}]
    PRIMARY KEY (call_id, reviewer)
);
CREATE TABLE qa_flag_cache (
    call_id         TEXT PRIMARY KEY REFERENCES calls (id),
    failed_count    INTEGER NOT NULL,
    recording_state TEXT,           -- the recording's state the flags were computed with
    computed_at     TEXT NOT NULL
);
CREATE TABLE qa_failed_rules (
    call_id TEXT NOT NULL REFERENCES calls (id),
    rule    TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (call_id, rule)
);
CREATE INDEX qa_failed_rules_by_rule ON qa_failed_rules (rule);
CREATE INDEX calls_by_agent ON calls (agent, started_at);
";

/// Version 7: a call's computed flags themselves (JSON, before reviewers' overrides), kept
/// so a long call's page needs no second pass of the voice detector; an override drops the
/// failed-flags cache above, never these.
pub(super) const SCHEMA_V7: &str = "
CREATE TABLE qa_computed_flags (
    call_id         TEXT PRIMARY KEY REFERENCES calls (id),
    recording_state TEXT,           -- the recording's state the flags were computed with
    flags           TEXT NOT NULL,  -- JSON, written by qa
    computed_at     TEXT NOT NULL
);
CREATE INDEX calls_by_ended_at ON calls (ended_at, id);
";

/// A finished call the switch's background QA review may take: see
/// [`Store::answered_calls_ended_after`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedCall {
    pub id: String,
    pub ended_at: Timestamp,
    /// Its recording is still being written (the flags would not be final yet).
    pub recording: bool,
}

/// Which flags a listed call must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagFilter {
    /// At least one failed flag of this rule.
    Failed(Rule),
    /// At least one failed flag of any rule.
    AnyFailed,
}

/// The reviewers' call list filter. Every field narrows; `None` does not filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFilter {
    /// Calls started at or after.
    pub from: Option<Timestamp>,
    /// Calls started before.
    pub to: Option<Timestamp>,
    pub hotline: Option<String>,
    pub queue: Option<String>,
    /// The agent who answered (exact): what restricts an agent to their own calls.
    pub agent: Option<String>,
    /// A substring of the caller's From URI (the number).
    pub caller: Option<String>,
    pub flagged: Option<FlagFilter>,
    /// The latest saved score's total, inclusive bounds (unscored calls never match).
    pub min_score: Option<u32>,
    pub max_score: Option<u32>,
    pub offset: usize,
    /// At most this many rows (capped at 1,000).
    pub limit: usize,
}

impl Default for CallFilter {
    fn default() -> Self {
        CallFilter {
            from: None,
            to: None,
            hotline: None,
            queue: None,
            agent: None,
            caller: None,
            flagged: None,
            min_score: None,
            max_score: None,
            offset: 0,
            limit: 50,
        }
    }
}

/// The most rows one page may ask for.
pub const MAX_PAGE: usize = 1_000;

/// One row of the reviewers' list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewRow {
    #[serde(flatten)]
    pub summary: CallSummary,
    /// A recording exists and was not deleted.
    pub has_recording: bool,
    /// Failed flags (after overrides); `None` until the call's flags were computed.
    pub failed_flags: Option<u32>,
    /// The latest saved score's total.
    pub score: Option<u32>,
}

/// Scores of one agent's calls in one ISO week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentWeekTotal {
    pub agent: String,
    /// ISO week of the calls' start (UTC), "2026-W49".
    pub week: String,
    /// Scorecards saved (a call scored by two reviewers counts twice).
    pub scores: u32,
    pub calls: u32,
    /// Average total, 0 to 100.
    pub average: f64,
    /// Scorecards with a critical item failed.
    pub critical_failed: u32,
}

/// One agent's week while totalling.
#[derive(Default)]
struct WeekSums {
    scores: u32,
    calls: Vec<String>,
    sum: u64,
    critical_failed: u32,
}

fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    /// Saves (or replaces) a reviewer's decision on the flag of `rule` starting at
    /// `start_ms`; the call's cached flags are dropped so the list recomputes them.
    pub fn save_flag_override(
        &self,
        call_id: &str,
        rule: Rule,
        start_ms: u64,
        decision: &FlagOverride,
    ) -> Result<(), StoreError> {
        let mut connection = self.connection();
        let transaction = connection
            .savepoint()
            .map_err(self.sqlite("start a transaction"))?;
        transaction
            .execute(
                "INSERT OR REPLACE INTO qa_flag_overrides
                     (call_id, rule, start_ms, by_user, at, passed, comment)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    call_id,
                    rule.name(),
                    int(start_ms),
                    decision.by,
                    format_timestamp(decision.at),
                    decision.passed,
                    decision.comment
                ],
            )
            .map_err(|source| unknown_call_or(self, call_id, "save a flag override", source))?;
        forget_cached_flags(&transaction, call_id)
            .map_err(self.sqlite("drop a call's cached flags"))?;
        transaction
            .commit()
            .map_err(self.sqlite("commit a flag override"))?;
        Ok(())
    }

    /// The overrides of a call's flags: (rule, flag start, decision), by rule then start.
    pub fn flag_overrides(
        &self,
        call_id: &str,
    ) -> Result<Vec<(Rule, u64, FlagOverride)>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT rule, start_ms, by_user, at, passed, comment FROM qa_flag_overrides
                 WHERE call_id = ?1 ORDER BY rule, start_ms",
            )
            .map_err(self.sqlite("read flag overrides"))?;
        let rows = statement
            .query_map([call_id], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, bool>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })
            .map_err(self.sqlite("read flag overrides"))?;
        let mut out = Vec::new();
        for row in rows {
            let (rule, start_ms, by, at, passed, comment) =
                row.map_err(self.sqlite("read flag overrides"))?;
            let corrupt = |message: String| StoreError::CorruptRow {
                path: self.path.clone(),
                what: "flag override of call",
                key: call_id.to_string(),
                message,
            };
            let rule =
                Rule::parse(&rule).ok_or_else(|| corrupt(format!("unknown rule \"{rule}\"")))?;
            let at = parse_timestamp(&at).map_err(corrupt)?;
            out.push((
                rule,
                u64::try_from(start_ms).unwrap_or(0),
                FlagOverride {
                    by,
                    at,
                    passed,
                    comment,
                },
            ));
        }
        Ok(out)
    }

    /// Saves a scorecard; the same reviewer's earlier one for the call is replaced.
    pub fn save_score(&self, score: &Score) -> Result<(), StoreError> {
        let items = serde_json::to_string(&score.items).map_err(|error| StoreError::Corrupt {
            path: self.path.clone(),
            call_id: score.call_id.clone(),
            what: "score",
            message: error.to_string(),
        })?;
        self.connection()
            .execute(
                "INSERT OR REPLACE INTO qa_scores
                     (call_id, reviewer, at, total, critical_failed, items)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    score.call_id,
                    score.reviewer,
                    format_timestamp(score.at),
                    score.total,
                    score.critical_failed,
                    items
                ],
            )
            .map_err(|source| unknown_call_or(self, &score.call_id, "save a score", source))?;
        Ok(())
    }

    /// A call's saved scorecards, oldest first.
    pub fn scores(&self, call_id: &str) -> Result<Vec<Score>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT reviewer, at, total, critical_failed, items FROM qa_scores
                 WHERE call_id = ?1 ORDER BY at, reviewer",
            )
            .map_err(self.sqlite("read scores"))?;
        let rows = statement
            .query_map([call_id], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, u32>(2)?,
                    row.get::<_, bool>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })
            .map_err(self.sqlite("read scores"))?;
        let mut out = Vec::new();
        for row in rows {
            let (reviewer, at, total, critical_failed, items) =
                row.map_err(self.sqlite("read scores"))?;
            let corrupt = |message: String| StoreError::CorruptRow {
                path: self.path.clone(),
                what: "score of call",
                key: format!("{call_id} by {reviewer}"),
                message,
            };
            let at = parse_timestamp(&at).map_err(corrupt)?;
            let items: Vec<ItemScore> =
                serde_json::from_str(&items).map_err(|e| corrupt(e.to_string()))?;
            out.push(Score {
                call_id: call_id.to_string(),
                reviewer,
                at,
                items,
                total,
                critical_failed,
            });
        }
        Ok(out)
    }

    /// Scorecard totals per answering agent and ISO week of the call's start, for calls
    /// started in [from, to); by agent, then week.
    pub fn score_totals_by_agent_and_week(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<AgentWeekTotal>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT c.agent, c.started_at, c.id, s.total, s.critical_failed
                 FROM qa_scores s JOIN calls c ON c.id = s.call_id
                 WHERE c.agent IS NOT NULL AND c.started_at >= ?1 AND c.started_at < ?2
                 ORDER BY c.agent, c.started_at",
            )
            .map_err(self.sqlite("total scores"))?;
        let rows = statement
            .query_map(
                params![format_timestamp(from), format_timestamp(to)],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, u32>(3)?,
                        row.get::<_, bool>(4)?,
                    ))
                },
            )
            .map_err(self.sqlite("total scores"))?;
        let mut totals: std::collections::BTreeMap<(String, String), WeekSums> =
            std::collections::BTreeMap::new();
        for row in rows {
            let (agent, started_at, call_id, total, critical) =
                row.map_err(self.sqlite("total scores"))?;
            let started = parse_timestamp(&started_at).map_err(|message| StoreError::Corrupt {
                path: self.path.clone(),
                call_id: call_id.clone(),
                what: "start time",
                message,
            })?;
            let week = started
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date()
                .iso_week_date();
            let key = (agent, format!("{:04}-W{:02}", week.year(), week.week()));
            let entry = totals.entry(key).or_default();
            entry.scores += 1;
            if !entry.calls.contains(&call_id) {
                entry.calls.push(call_id);
            }
            entry.sum += u64::from(total);
            entry.critical_failed += u32::from(critical);
        }
        Ok(totals
            .into_iter()
            .map(|((agent, week), sums)| AgentWeekTotal {
                agent,
                week,
                scores: sums.scores,
                calls: sums.calls.len() as u32,
                average: sums.sum as f64 / f64::from(sums.scores.max(1)),
                critical_failed: sums.critical_failed,
            })
            .collect())
    }

    /// Writes the call's failed rules (after overrides) to the cache the list filters on.
    pub fn cache_failed_flags(
        &self,
        call_id: &str,
        flags: &[Flag],
        recording_state: Option<RecordingState>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut failed: std::collections::BTreeMap<&'static str, u32> = Default::default();
        for flag in flags.iter().filter(|f| !f.effective_passed()) {
            *failed.entry(flag.rule.name()).or_default() += 1;
        }
        let mut connection = self.connection();
        let transaction = connection
            .savepoint()
            .map_err(self.sqlite("start a transaction"))?;
        forget_cached_flags(&transaction, call_id).map_err(self.sqlite("cache flags"))?;
        transaction
            .execute(
                "INSERT INTO qa_flag_cache (call_id, failed_count, recording_state, computed_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    call_id,
                    failed.values().sum::<u32>(),
                    recording_state.map(RecordingState::as_str),
                    format_timestamp(at)
                ],
            )
            .map_err(|source| unknown_call_or(self, call_id, "cache flags", source))?;
        for (rule, count) in &failed {
            transaction
                .execute(
                    "INSERT INTO qa_failed_rules (call_id, rule, count) VALUES (?1, ?2, ?3)",
                    params![call_id, rule, count],
                )
                .map_err(self.sqlite("cache flags"))?;
        }
        transaction.commit().map_err(self.sqlite("cache flags"))?;
        Ok(())
    }

    /// Keeps a call's computed flags (`json`, written by `qa`) beside its cache row, so the
    /// call's page shows them without running the detector again.
    pub fn keep_computed_flags(
        &self,
        call_id: &str,
        recording_state: Option<RecordingState>,
        json: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "INSERT OR REPLACE INTO qa_computed_flags
                     (call_id, recording_state, flags, computed_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    call_id,
                    recording_state.map(RecordingState::as_str),
                    json,
                    format_timestamp(at)
                ],
            )
            .map_err(|source| unknown_call_or(self, call_id, "keep computed flags", source))?;
        Ok(())
    }

    /// A call's kept flags (as `keep_computed_flags` stored them) and the recording state
    /// they were computed with, if any are kept.
    pub fn computed_flags(
        &self,
        call_id: &str,
    ) -> Result<Option<(Option<String>, String)>, StoreError> {
        self.connection()
            .query_row(
                "SELECT recording_state, flags FROM qa_computed_flags WHERE call_id = ?1",
                [call_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(self.sqlite("read computed flags"))
    }

    /// Finished calls (newest first, at most `limit`) whose flags are not cached, or were
    /// cached before their recording changed state; calls still being recorded are left.
    pub fn calls_without_flag_cache(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        self.uncached_calls(limit)
    }

    /// Calls that reached an agent (the ones whose recording the audio rules read) and
    /// ended after the call `after` (its end time and id), oldest end first, at most
    /// `limit`: the switch's background review walks them with a cursor, so each pass
    /// costs what ended since the last one, through the end-time index.
    pub fn answered_calls_ended_after(
        &self,
        after: (Timestamp, &str),
        limit: usize,
    ) -> Result<Vec<EndedCall>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT c.id, c.ended_at, r.state IS 'recording' FROM calls c
                 LEFT JOIN recordings r ON r.call_id = c.id
                 WHERE (c.ended_at, c.id) > (?1, ?2) AND c.agent IS NOT NULL
                 ORDER BY c.ended_at, c.id LIMIT ?3",
            )
            .map_err(self.sqlite("find ended calls to review"))?;
        let rows = statement
            .query_map(
                params![format_timestamp(after.0), after.1, int(limit as u64)],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, bool>(2)?,
                    ))
                },
            )
            .map_err(self.sqlite("find ended calls to review"))?;
        let mut calls = Vec::new();
        for row in rows {
            let (id, ended_at, recording) =
                row.map_err(self.sqlite("find ended calls to review"))?;
            let ended_at = parse_timestamp(&ended_at).map_err(|message| StoreError::Corrupt {
                path: self.path().to_path_buf(),
                call_id: id.clone(),
                what: "end time",
                message,
            })?;
            calls.push(EndedCall {
                id,
                ended_at,
                recording,
            });
        }
        Ok(calls)
    }

    fn uncached_calls(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT c.id FROM calls c
                 LEFT JOIN qa_flag_cache q ON q.call_id = c.id
                 LEFT JOIN recordings r ON r.call_id = c.id
                 WHERE c.outcome IS NOT NULL
                   AND (r.state IS NULL OR r.state != 'recording')
                   AND (q.call_id IS NULL OR q.recording_state IS NOT r.state)
                 ORDER BY c.started_at DESC LIMIT ?1",
            )
            .map_err(self.sqlite("find calls to flag"))?;
        let rows = statement
            .query_map([int(limit as u64)], |row| row.get::<_, String>(0))
            .map_err(self.sqlite("find calls to flag"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.sqlite("find calls to flag"))
    }

    /// The reviewers' list: calls matching `filter`, newest first, one page.
    pub fn list_calls_filtered(&self, filter: &CallFilter) -> Result<Vec<ReviewRow>, StoreError> {
        let (condition, values) = filter_sql(filter);
        let limit = int(filter.limit.min(MAX_PAGE) as u64);
        let offset = int(filter.offset as u64);
        let connection = self.connection();
        let sql = format!(
            "SELECT * FROM ({}) c {condition} ORDER BY c.started_at DESC, c.id DESC LIMIT {limit} OFFSET {offset}",
            review_select()
        );
        let mut statement = connection
            .prepare(&sql)
            .map_err(self.sqlite("list calls for review"))?;
        let params: Vec<&dyn rusqlite::ToSql> =
            values.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
        let rows = statement
            .query_map(params.as_slice(), |row| {
                Ok((
                    summary_row(row)?,
                    row.get::<_, Option<String>>(16)?,
                    row.get::<_, Option<u32>>(17)?,
                    row.get::<_, Option<u32>>(18)?,
                ))
            })
            .map_err(self.sqlite("list calls for review"))?;
        let raw: Vec<_> = rows
            .collect::<Result<_, _>>()
            .map_err(self.sqlite("list calls for review"))?;
        drop(statement);
        drop(connection);
        raw.into_iter()
            .map(|(row, recording_state, failed_flags, score)| {
                Ok(ReviewRow {
                    summary: self.summary(row)?,
                    has_recording: recording_state.is_some_and(|s| s != "deleted"),
                    failed_flags,
                    score,
                })
            })
            .collect()
    }

    /// How many calls match `filter` (paging ignored): for "page N of M".
    pub fn count_calls_filtered(&self, filter: &CallFilter) -> Result<u64, StoreError> {
        let (condition, values) = filter_sql(filter);
        let params: Vec<&dyn rusqlite::ToSql> =
            values.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
        let count: i64 = self
            .connection()
            .query_row(
                &format!("SELECT COUNT(*) FROM ({}) c {condition}", review_select()),
                params.as_slice(),
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sqlite("count calls for review"))?
            .unwrap_or(0);
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

/// What the list's pickers offer: the hotlines, queues and agents of the calls in a time
/// range (of one agent's calls, for an agent), each sorted and at most [`MAX_CHOICES`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterChoices {
    pub hotlines: Vec<String>,
    pub queues: Vec<String>,
    pub agents: Vec<String>,
}

/// The most values one picker offers.
pub const MAX_CHOICES: usize = 200;
/// The most distinct values of a column looked at for one picker (each costs one index
/// lookup, whatever the number of calls).
const MAX_CANDIDATES: usize = 5_000;

/// Version 9: hotline and queue indexes like the agent's, so the pickers' values are found
/// by walking the distinct values (one lookup each), not by reading every call.
pub(super) const SCHEMA_V9: &str = "
CREATE INDEX calls_by_hotline ON calls (hotline, started_at);
CREATE INDEX calls_by_queue ON calls (queue, started_at);
";

impl Store {
    /// The hotlines, queues and agents of the calls started in [from, to) — of `agent`'s
    /// calls only, when given. The cost grows with the number of distinct values, not of
    /// calls: each value is found by one index lookup and kept if a call in the range has it
    /// (300,000 calls: under 10 ms, where reading them took 0.4 s). For one agent it reads
    /// that agent's calls in the range.
    pub fn filter_choices(
        &self,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        agent: Option<&str>,
    ) -> Result<FilterChoices, StoreError> {
        use rusqlite::types::Value;
        // Text order is time order (fixed-width RFC 3339), so these bound every timestamp.
        let from = from.map(format_timestamp).unwrap_or_default();
        let to = to.map(format_timestamp).unwrap_or_else(|| "~".to_string());
        let connection = self.connection();
        let values = |column: &str| -> Result<Vec<String>, StoreError> {
            let (sql, params): (String, Vec<Value>) = match agent {
                // One agent's calls: a range of the agent index.
                Some(agent) => (
                    format!(
                        "SELECT DISTINCT {column} FROM calls WHERE agent = ?1 \
                         AND started_at >= ?2 AND started_at < ?3 \
                         AND {column} IS NOT NULL AND {column} <> '' ORDER BY 1 LIMIT {MAX_CHOICES}"
                    ),
                    vec![Value::Text(agent.to_string()), Value::Text(from.clone()), Value::Text(to.clone())],
                ),
                // Every distinct value in order, one index lookup each, kept if a call in
                // the range has it (another lookup).
                None => (
                    format!(
                        "WITH RECURSIVE value(v, n) AS ( \
                           SELECT (SELECT MIN({column}) FROM calls WHERE {column} > ''), 1 \
                           UNION ALL \
                           SELECT (SELECT MIN({column}) FROM calls WHERE {column} > value.v), n + 1 \
                           FROM value WHERE value.v IS NOT NULL AND n < {MAX_CANDIDATES}) \
                         SELECT v FROM value WHERE v IS NOT NULL AND EXISTS ( \
                           SELECT 1 FROM calls c WHERE c.{column} = value.v \
                           AND c.started_at >= ?1 AND c.started_at < ?2) \
                         LIMIT {MAX_CHOICES}"
                    ),
                    vec![Value::Text(from.clone()), Value::Text(to.clone())],
                ),
            };
            let mut statement = connection
                .prepare_cached(&sql)
                .map_err(self.sqlite("list filter choices"))?;
            let rows = statement
                .query_map(rusqlite::params_from_iter(params), |row| {
                    row.get::<_, String>(0)
                })
                .map_err(self.sqlite("list filter choices"))?;
            rows.collect::<Result<_, _>>()
                .map_err(self.sqlite("list filter choices"))
        };
        Ok(FilterChoices {
            hotlines: values("hotline")?,
            queues: values("queue")?,
            agents: values("agent")?,
        })
    }
}

/// A foreign-key failure means the call does not exist.
fn unknown_call_or(
    store: &Store,
    call_id: &str,
    action: &'static str,
    source: rusqlite::Error,
) -> StoreError {
    match source {
        rusqlite::Error::SqliteFailure(error, _)
            if error.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::UnknownCall {
                path: store.path.clone(),
                call_id: call_id.to_string(),
            }
        }
        source => StoreError::Sqlite {
            path: store.path.clone(),
            action,
            source,
        },
    }
}

fn forget_cached_flags(connection: &rusqlite::Connection, call_id: &str) -> rusqlite::Result<()> {
    connection.execute("DELETE FROM qa_failed_rules WHERE call_id = ?1", [call_id])?;
    connection.execute("DELETE FROM qa_flag_cache WHERE call_id = ?1", [call_id])?;
    Ok(())
}

/// The summary columns (as `SUMMARY_SELECT`, 0..=15), then the recording state, the cached
/// failed count and the latest score.
fn review_select() -> String {
    "SELECT c.id, c.sip_call_id, c.from_uri, c.to_uri, c.hotline,
            c.started_at, c.answered_at_ms, c.ended_at, c.outcome, c.ended_by, c.reason,
            (SELECT COUNT(*) FROM events e WHERE e.call_id = c.id) AS event_count,
            c.queue, c.agent, c.wait_ms, c.talk_ms,
            (SELECT r.state FROM recordings r WHERE r.call_id = c.id) AS recording_state,
            (SELECT q.failed_count FROM qa_flag_cache q WHERE q.call_id = c.id) AS failed_count,
            (SELECT s.total FROM qa_scores s WHERE s.call_id = c.id
              ORDER BY s.at DESC, s.reviewer LIMIT 1) AS score
     FROM calls c"
        .to_string()
}

/// The WHERE clause of a filter and its values, in order (every value is a parameter).
fn filter_sql(filter: &CallFilter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut clauses: Vec<&str> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(from) = filter.from {
        clauses.push("c.started_at >= ?");
        values.push(Value::Text(format_timestamp(from)));
    }
    if let Some(to) = filter.to {
        clauses.push("c.started_at < ?");
        values.push(Value::Text(format_timestamp(to)));
    }
    for (column, value) in [
        ("c.hotline = ?", &filter.hotline),
        ("c.queue = ?", &filter.queue),
        ("c.agent = ?", &filter.agent),
    ] {
        if let Some(value) = value {
            clauses.push(column);
            values.push(Value::Text(value.clone()));
        }
    }
    if let Some(caller) = &filter.caller {
        // A substring, matched literally (instr, not LIKE: no wildcards from the form).
        clauses.push("instr(c.from_uri, ?) > 0");
        values.push(Value::Text(caller.clone()));
    }
    match filter.flagged {
        Some(FlagFilter::AnyFailed) => clauses.push("c.failed_count > 0"),
        Some(FlagFilter::Failed(rule)) => {
            clauses.push(
                "EXISTS (SELECT 1 FROM qa_failed_rules f WHERE f.call_id = c.id AND f.rule = ?)",
            );
            values.push(Value::Text(rule.name().to_string()));
        }
        None => {}
    }
    if let Some(min) = filter.min_score {
        clauses.push("c.score >= ?");
        values.push(Value::Integer(i64::from(min)));
    }
    if let Some(max) = filter.max_score {
        clauses.push("c.score <= ?");
        values.push(Value::Integer(i64::from(max)));
    }
    let condition = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (condition, values)
}

#[cfg(test)]
#[path = "qa_tests.rs"]
mod tests;
