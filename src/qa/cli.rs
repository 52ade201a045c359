//! `hotline qa list|show|export`: the reviewers' call list with filters, one call's flags
//! and scores, and a call's evidence bundle (its WAV and a JSON of record, flags, scores).
//! Text from SIP headers is printed with control characters escaped (`log_line`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use jiff::Timestamp;
use serde::Serialize;

use super::scorecard::Score;
use super::{review_call, CallFlags, Flag, QaSettings, Rule};
use crate::log_line::escape_controls;
use crate::store::{file_modes, format_timestamp, CallFilter, FlagFilter, ReviewRow, Store};

/// Calls whose flags `qa list` computes before listing, at most (newest first).
const REFRESH_PER_LIST: usize = 500;

#[derive(Subcommand, Debug)]
pub enum QaCommand {
    /// Calls for review, newest first, with filters.
    List {
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        /// Calls started at or after: a UTC date (2026-12-01) or an RFC 3339 time.
        #[arg(long, value_parser = parse_time)]
        from: Option<Timestamp>,
        /// Calls started before: a UTC date (that day excluded) or an RFC 3339 time.
        #[arg(long, value_parser = parse_time)]
        to: Option<Timestamp>,
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        queue: Option<String>,
        #[arg(long)]
        hotline: Option<String>,
        /// A part of the caller's number (From URI).
        #[arg(long)]
        caller: Option<String>,
        /// Only calls with a failed flag of this rule, or "any".
        #[arg(long, value_parser = parse_flag_filter)]
        flag: Option<FlagFilter>,
        #[arg(long)]
        min_score: Option<u32>,
        #[arg(long)]
        max_score: Option<u32>,
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// One call's record summary, flags and scores (by call id or SIP Call-ID).
    Show {
        call_id: String,
        #[arg(long, default_value = "./data")]
        data: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Writes DIR/CALL_ID.wav (the recording, when there is one) and DIR/CALL_ID.json
    /// (record, flags, scores); files 0600.
    Export {
        call_id: String,
        dir: PathBuf,
        #[arg(long, default_value = "./data")]
        data: PathBuf,
    },
}

/// "2026-12-01" (midnight UTC) or an RFC 3339 time.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    text.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|date| date.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
        .ok_or_else(|| format!("\"{text}\" is neither a date like 2026-12-01 nor an RFC 3339 time"))
}

/// A rule name or "any".
pub fn parse_flag_filter(text: &str) -> Result<FlagFilter, String> {
    if text == "any" {
        return Ok(FlagFilter::AnyFailed);
    }
    Rule::parse(text).map(FlagFilter::Failed).ok_or_else(|| {
        let names: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
        format!(
            "\"{text}\" is not a rule; use any or one of: {}",
            names.join(", ")
        )
    })
}

/// Runs a `hotline qa` command; the error is the message to print.
pub fn run(command: QaCommand) -> Result<(), String> {
    match command {
        QaCommand::List {
            data,
            from,
            to,
            agent,
            queue,
            hotline,
            caller,
            flag,
            min_score,
            max_score,
            offset,
            limit,
            json,
        } => {
            let store = open_existing(&data)?;
            super::refresh_flag_cache(&store, &data, REFRESH_PER_LIST)
                .map_err(|e| e.to_string())?;
            let filter = CallFilter {
                from,
                to,
                hotline,
                queue,
                agent,
                caller,
                flagged: flag,
                min_score,
                max_score,
                offset,
                limit,
            };
            let rows = store
                .list_calls_filtered(&filter)
                .map_err(|e| e.to_string())?;
            if json {
                println!("{}", to_json(&rows)?);
            } else {
                print!("{}", render_rows(&rows));
            }
        }
        QaCommand::Show {
            call_id,
            data,
            json,
        } => {
            let store = open_existing(&data)?;
            let review = review(&store, &data, &call_id)?;
            if json {
                println!("{}", to_json(&review)?);
            } else {
                print!("{}", render_review(&review));
            }
        }
        QaCommand::Export { call_id, dir, data } => {
            let store = open_existing(&data)?;
            let written = export(&store, &data, &call_id, &dir)?;
            for path in written {
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}

/// What `qa show --json` prints and `qa export` writes.
#[derive(Debug, Serialize)]
pub struct Review {
    #[serde(flatten)]
    pub call: CallFlags,
    pub scores: Vec<Score>,
}

/// A call's record, flags (overrides applied) and saved scores.
pub fn review(store: &Store, data: &Path, call_id: &str) -> Result<Review, String> {
    let call =
        review_call(store, data, call_id, &QaSettings::default()).map_err(|e| e.to_string())?;
    let scores = store
        .scores(&call.record.summary.id)
        .map_err(|e| e.to_string())?;
    Ok(Review { call, scores })
}

/// Writes the call's WAV copy (when it has a recording file) and its JSON into `dir`
/// (created 0700 if missing), both 0600. Returns the files written.
pub fn export(
    store: &Store,
    data: &Path,
    call_id: &str,
    dir: &Path,
) -> Result<Vec<PathBuf>, String> {
    let review = review(store, data, call_id)?;
    file_modes::create_private_dir_all(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let id = &review.call.record.summary.id;
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut written = Vec::new();
    if let Some(recording) = &review.call.record.recording {
        let source = crate::recording::absolute_path(data, &recording.file);
        if source.is_file() {
            let target = dir.join(format!("{safe}.wav"));
            let bytes = std::fs::read(&source)
                .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
            write_private(&target, &bytes)?;
            written.push(target);
        }
    }
    let target = dir.join(format!("{safe}.json"));
    write_private(&target, to_json(&review)?.as_bytes())?;
    written.push(target);
    Ok(written)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    // Replace, never follow or reuse: a file already there may have looser modes.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e)),
        _ => {}
    }
    file_modes::create_private_file(path).map_err(fail)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string_pretty(value).map_err(|e| e.to_string())
}

fn open_existing(data: &Path) -> Result<Store, String> {
    if !data.join(crate::store::DATABASE_FILE).exists() {
        return Err(format!(
            "no call records in {} (run `hotline serve --data {}` first)",
            data.display(),
            data.display()
        ));
    }
    Store::open(data).map_err(|e| e.to_string())
}

fn dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The list as an aligned table.
pub fn render_rows(rows: &[ReviewRow]) -> String {
    if rows.is_empty() {
        return "no calls match\n".to_string();
    }
    let header = [
        "ID",
        "STARTED (UTC)",
        "FROM",
        "QUEUE",
        "AGENT",
        "WAIT",
        "OUTCOME",
        "REC",
        "FAILED",
        "SCORE",
    ];
    let table: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            let s = &r.summary;
            [
                s.id.clone(),
                format_timestamp(s.started_at),
                s.from.clone(),
                dash(s.queue.as_ref()),
                dash(s.agent.as_ref()),
                dash(s.wait_ms.map(|ms| format!("{:.1} s", ms as f64 / 1000.0))),
                s.outcome.clone().unwrap_or_else(|| "in progress".into()),
                if r.has_recording { "yes" } else { "no" }.to_string(),
                dash(r.failed_flags),
                dash(r.score),
            ]
            .map(|cell| escape_controls(&cell).into_owned())
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(&mut out, &header.map(String::from));
    for row in &table {
        line(&mut out, row);
    }
    out
}

fn render_flag(out: &mut String, f: &Flag) {
    let verdict = match (&f.overridden, f.passed) {
        (Some(o), _) => format!(
            "{} (overridden by {}: {})",
            if o.passed { "PASS" } else { "FAIL" },
            o.by,
            o.comment
        ),
        (None, true) => "pass".into(),
        (None, false) => "FAIL".into(),
    };
    let _ = writeln!(
        out,
        "  {:>8.1}-{:<8.1} {:<30} {}  {}",
        f.start_ms as f64 / 1000.0,
        f.end_ms as f64 / 1000.0,
        f.rule.name(),
        escape_controls(&verdict),
        escape_controls(&f.evidence)
    );
}

/// `qa show` as text.
pub fn render_review(review: &Review) -> String {
    let record = &review.call.record;
    let s = &record.summary;
    let mut out = String::new();
    let _ = writeln!(out, "call {}", escape_controls(&s.id));
    let _ = writeln!(out, "  from     {}", escape_controls(&s.from));
    let _ = writeln!(out, "  started  {}", format_timestamp(s.started_at));
    let _ = writeln!(
        out,
        "  queue    {}",
        escape_controls(&dash(s.queue.as_ref()))
    );
    let _ = writeln!(
        out,
        "  agent    {}",
        escape_controls(&dash(s.agent.as_ref()))
    );
    let _ = writeln!(
        out,
        "  outcome  {}",
        escape_controls(&dash(s.outcome.as_ref()))
    );
    match &record.recording {
        Some(r) => {
            let _ = writeln!(
                out,
                "  recording {} ({}, {} ms, offset {} ms, lost {} ms)",
                escape_controls(&r.file),
                r.state.as_str(),
                dash(r.duration_ms),
                r.offset_ms,
                r.lost_ms
            );
        }
        None => {
            let _ = writeln!(out, "  recording none");
        }
    }
    if let Some(why) = &review.call.audio_missing {
        let _ = writeln!(out, "  audio checks skipped: {why}");
    }
    let failed = review
        .call
        .flags
        .iter()
        .filter(|f| !f.effective_passed())
        .count();
    let _ = writeln!(
        out,
        "flags ({} failed of {}; times in s after the INVITE):",
        failed,
        review.call.flags.len()
    );
    for f in &review.call.flags {
        render_flag(&mut out, f);
    }
    if review.scores.is_empty() {
        let _ = writeln!(out, "scores: none saved");
    }
    for score in &review.scores {
        let _ = writeln!(
            out,
            "score by {} at {}: {}{}",
            escape_controls(&score.reviewer),
            format_timestamp(score.at),
            score.total,
            if score.critical_failed {
                " (critical item failed)"
            } else {
                ""
            }
        );
    }
    out
}
