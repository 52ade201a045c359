//! Plain-text views of call records for `hotline calls list` and `hotline calls show`.

use std::fmt::Write as _;

use super::{format_timestamp, CallRecord, CallSummary};
use crate::switch::timeline::TimelineEvent;

/// An aligned table, one call per line, newest first as given.
pub fn render_list(calls: &[CallSummary]) -> String {
    if calls.is_empty() {
        return "no calls recorded\n".to_string();
    }
    let header = [
        "ID",
        "STARTED (UTC)",
        "FROM",
        "TO",
        "HOTLINE",
        "ANSWER",
        "DURATION",
        "OUTCOME",
        "EVENTS",
    ];
    let rows: Vec<[String; 9]> = calls
        .iter()
        .map(|call| {
            [
                call.id.clone(),
                format_timestamp(call.started_at),
                call.from.clone(),
                call.to.clone(),
                call.hotline.clone().unwrap_or_else(|| "-".into()),
                call.answered_at_ms
                    .map(|ms| format!("{ms} ms"))
                    .unwrap_or_else(|| "-".into()),
                call.duration_ms
                    .map(format_millis)
                    .unwrap_or_else(|| "-".into()),
                call.outcome.clone().unwrap_or_else(|| "in progress".into()),
                call.event_count.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (cell, width) in cells.zip(widths) {
            let _ = write!(text, "{cell}{}  ", " ".repeat(width - cell.chars().count()));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// A header describing the call, then one line per event with its offset from the
/// INVITE: "+   1003 ms  answered  rings=1".
pub fn render_call(call: &CallRecord) -> String {
    let summary = &call.summary;
    let mut out = String::new();
    let _ = writeln!(out, "call {}", summary.id);
    let _ = writeln!(out, "  sip call-id  {}", summary.sip_call_id);
    let _ = writeln!(out, "  from         {}", summary.from);
    let _ = writeln!(out, "  to           {}", summary.to);
    if let Some(hotline) = &summary.hotline {
        let _ = writeln!(out, "  hotline      {hotline}");
    }
    let _ = writeln!(
        out,
        "  started      {}",
        format_timestamp(summary.started_at)
    );
    if let Some(answered) = summary.answered_at_ms {
        let _ = writeln!(out, "  answered     after {answered} ms");
    }
    if let Some(ended) = summary.ended_at {
        let _ = writeln!(
            out,
            "  ended        {}{}",
            format_timestamp(ended),
            summary
                .duration_ms
                .map(|ms| format!(" ({})", format_millis(ms)))
                .unwrap_or_default()
        );
    }
    let outcome = summary.outcome.as_deref().unwrap_or("in progress");
    let _ = match (&summary.ended_by, &summary.reason) {
        (Some(by), Some(reason)) => {
            writeln!(out, "  outcome      {outcome} (ended by {by}: {reason})")
        }
        (Some(by), None) => writeln!(out, "  outcome      {outcome} (ended by {by})"),
        _ => writeln!(out, "  outcome      {outcome}"),
    };
    let _ = writeln!(out, "timeline:");
    for event in &call.events {
        out.push_str(&render_event(event));
        out.push('\n');
    }
    out
}

fn render_event(event: &TimelineEvent) -> String {
    let mut line = format!("+{:>7} ms  {}", event.offset_ms, event.kind.name());
    // Fields come from the event's own JSON form so event kinds added later render
    // without a change here.
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&event.kind) {
        let details: Vec<String> = fields
            .iter()
            .filter(|(key, _)| key.as_str() != "event")
            .map(|(key, value)| format!("{key}={}", render_value(value)))
            .collect();
        if !details.is_empty() {
            line.push_str("  ");
            line.push_str(&details.join(" "));
        }
    }
    line
}

fn render_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text)
            if !text.is_empty() && !text.contains(char::is_whitespace) && !text.contains('"') =>
        {
            text.clone()
        }
        serde_json::Value::String(text) => format!("{text:?}"),
        serde_json::Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

fn format_millis(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{}.{:03} s", ms / 1000, ms % 1000)
    }
}
