//! Plain-text views of call records for `hotline calls list`, `hotline calls show` and
//! `hotline calls callbacks`.
//!
//! Much of a record is text from SIP headers (From, To, display names, Call-IDs): every
//! control character in it is shown escaped (`\x1b`, `\r`, `\n`, as in the log), so a
//! caller cannot clear or drive the admin's terminal or fake lines of the listing.

use std::fmt::Write as _;

use super::{format_timestamp, media_quality, CallRecord, CallSummary, CallbackRequest};
use crate::log_line::escape_controls;
use crate::switch::timeline::{EventKind, TimelineEvent};

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
        "QUEUE",
        "AGENT",
        "WAIT",
        "DURATION",
        "OUTCOME",
        "EVENTS",
    ];
    let dash = || "-".to_string();
    let rows: Vec<[String; 12]> = calls
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
                call.queue.clone().unwrap_or_else(dash),
                call.agent.clone().unwrap_or_else(dash),
                call.wait_ms.map(format_millis).unwrap_or_else(dash),
                call.duration_ms
                    .map(format_millis)
                    .unwrap_or_else(|| "-".into()),
                call.outcome.clone().unwrap_or_else(|| "in progress".into()),
                call.event_count.to_string(),
            ]
            .map(|cell| escape_controls(&cell).into_owned())
        })
        .collect();
    table(header, &rows)
}

/// The callback requests callers left, oldest first as given (the first to call back),
/// with the number to call, the queue and the place they kept.
pub fn render_callbacks(requests: &[CallbackRequest]) -> String {
    if requests.is_empty() {
        return "no callback requests\n".to_string();
    }
    let header = ["REQUESTED (UTC)", "NUMBER", "QUEUE", "PLACE", "CALL"];
    let rows: Vec<[String; 5]> = requests
        .iter()
        .map(|request| {
            [
                format_timestamp(request.requested_at),
                request.number.clone(),
                request.queue.clone(),
                request.position.to_string(),
                request.call_id.clone(),
            ]
            .map(|cell| escape_controls(&cell).into_owned())
        })
        .collect();
    table(header, &rows)
}

/// `header` and `rows` as columns as wide as their widest cell, two spaces apart.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
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
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// A header describing the call, then one line per event with its offset from the
/// INVITE: "+   1003 ms  answered  rings=1".
pub fn render_call(call: &CallRecord) -> String {
    let summary = &call.summary;
    let mut out = String::new();
    push_line(&mut out, format_args!("call {}", summary.id));
    push_line(
        &mut out,
        format_args!("  sip call-id  {}", summary.sip_call_id),
    );
    push_line(&mut out, format_args!("  from         {}", summary.from));
    push_line(&mut out, format_args!("  to           {}", summary.to));
    if let Some(hotline) = &summary.hotline {
        push_line(&mut out, format_args!("  hotline      {hotline}"));
    }
    push_line(
        &mut out,
        format_args!("  started      {}", format_timestamp(summary.started_at)),
    );
    if let Some(answered) = summary.answered_at_ms {
        push_line(&mut out, format_args!("  answered     after {answered} ms"));
    }
    if let Some(queue) = &summary.queue {
        push_line(&mut out, format_args!("  queue        {queue}"));
    }
    if let Some(agent) = &summary.agent {
        push_line(
            &mut out,
            format_args!(
                "  agent        {agent}{}",
                summary
                    .wait_ms
                    .map(|ms| format!(" (answered after waiting {})", format_millis(ms)))
                    .unwrap_or_default()
            ),
        );
    }
    if let Some(talk) = summary.talk_ms {
        push_line(
            &mut out,
            format_args!("  talk         {}", format_millis(talk)),
        );
    }
    if let Some(ended) = summary.ended_at {
        push_line(
            &mut out,
            format_args!(
                "  ended        {}{}",
                format_timestamp(ended),
                summary
                    .duration_ms
                    .map(|ms| format!(" ({})", format_millis(ms)))
                    .unwrap_or_default()
            ),
        );
    }
    let outcome = summary.outcome.as_deref().unwrap_or("in progress");
    match (&summary.ended_by, &summary.reason) {
        (Some(by), Some(reason)) => push_line(
            &mut out,
            format_args!("  outcome      {outcome} (ended by {by}: {reason})"),
        ),
        (Some(by), None) => push_line(
            &mut out,
            format_args!("  outcome      {outcome} (ended by {by})"),
        ),
        _ => push_line(&mut out, format_args!("  outcome      {outcome}")),
    }
    for media in &call.media {
        push_line(
            &mut out,
            format_args!(
                "  {:<12} {}",
                format!("{} media", media.role),
                media_quality::describe(media)
            ),
        );
    }
    let story: Vec<String> = call
        .events
        .iter()
        .filter_map(|event| {
            queue_story_line(&event.kind).map(|line| {
                format!(
                    "  {:>10}  {line}",
                    format!("+{}", format_millis(event.offset_ms))
                )
            })
        })
        .collect();
    // A hangup belongs in the story only when there is a queue story to end.
    let queued = call.events.iter().any(|event| {
        !matches!(event.kind, EventKind::Hangup { .. }) && queue_story_line(&event.kind).is_some()
    });
    if queued {
        push_line(&mut out, format_args!("queue and agents:"));
        for line in story {
            out.push_str(&escape_controls(&line));
            out.push('\n');
        }
    }
    push_line(&mut out, format_args!("timeline:"));
    for event in &call.events {
        out.push_str(&escape_controls(&render_event(event)));
        out.push('\n');
    }
    out
}

/// Writes one line of `calls show` with whatever was formatted into it escaped.
fn push_line(out: &mut String, line: std::fmt::Arguments<'_>) {
    out.push_str(&escape_controls(&line.to_string()));
    out.push('\n');
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

/// The queue, agent and desk-phone events told as sentences, for a reader who wants the
/// story of a wait without reading every prompt and digit.
fn queue_story_line(kind: &EventKind) -> Option<String> {
    let seconds = |s: u32| format!("{s} s");
    let promised = |wait: Option<u32>| match wait {
        Some(s) => format!("expected wait {}", seconds(s)),
        None => "no wait promised (nobody taking calls)".to_string(),
    };
    Some(match kind {
        EventKind::QueueEntered {
            queue,
            position,
            expected_wait_s,
            priority,
        } => format!(
            "entered queue {queue} at position {position}, {}{}",
            promised(*expected_wait_s),
            if *priority > 0 {
                format!(", priority {priority}")
            } else {
                String::new()
            }
        ),
        EventKind::Announcement {
            position,
            expected_wait_s,
        } => format!(
            "announced position {position}, {}",
            promised(*expected_wait_s)
        ),
        EventKind::Offered { agent, extension } => {
            format!("offered to agent {agent} on phone {extension}")
        }
        EventKind::OfferEnded {
            agent,
            rings,
            outcome,
        } => format!(
            "agent {agent} did not take it: {} after {rings} ring{}",
            outcome.replace('_', " "),
            if *rings == 1 { "" } else { "s" }
        ),
        EventKind::AgentAnswered {
            agent,
            rings,
            wait_ms,
        } => format!(
            "agent {agent} answered at ring {rings}, after the caller waited {}",
            format_millis(*wait_ms)
        ),
        EventKind::Whisper { agent } => format!("whisper played to agent {agent}"),
        EventKind::Bridged { agent, transcoding } => format!(
            "caller and agent {agent} connected{}",
            if *transcoding { " (transcoding)" } else { "" }
        ),
        EventKind::QueueExit { queue, reason } => {
            format!("left queue {queue}: {}", reason.replace('_', " "))
        }
        EventKind::CallbackOffered { queue } => {
            format!("offered a callback while waiting in queue {queue} (press 1)")
        }
        EventKind::QueueUnstaffed { queue, unstaffed_s } => {
            format!("nobody took queue {queue}'s calls for {unstaffed_s} s: its exit is taken before the maximum wait")
        }
        EventKind::CallbackRequested {
            number,
            queue,
            position,
        } => {
            format!("callback requested to {number}, keeping position {position} in queue {queue}")
        }
        EventKind::Voicemail { file, duration_ms } => {
            format!(
                "voicemail of {} kept in {file}",
                format_millis(*duration_ms)
            )
        }
        EventKind::WrapUp { agent, seconds: s } => {
            format!("agent {agent} wraps up for {}", seconds(*s))
        }
        EventKind::FeatureCode { code, agent, state } => {
            format!(
                "agent {agent} dialled {code}: now {}",
                state.replace('_', " ")
            )
        }
        EventKind::Hangup { by, reason } => {
            let by = serde_json::to_value(by)
                .ok()
                .and_then(|value| value.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("ended by {by}: {reason}")
        }
        _ => return None,
    })
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
