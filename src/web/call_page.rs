//! The call page: the call's facts, the player (`<audio>` on the recording), the waveform
//! canvas the page's script draws from the server's peaks, the timeline as markers placed
//! on the waveform (a marker's time on the recording = event offset − recording offset;
//! clicking one seeks there), the first 30 seconds shaded with a button to play them,
//! per-channel volume and speed controls, the QA flags, the scorecard and the export links.
//! Every word of it in the reviewer's language: event kinds and details from
//! [`event_text`](super::event_text), flags' evidence from their sentences; raw ids stay
//! in `data-kind` for machines. The page's script (assets/replay.js) places the markers.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use jiff::tz::TimeZone;

use super::event_text::{event_detail, kind_label};
use super::recording_files::{recording_path, visible_call};
use super::rejections::CallId;
use super::scoring::{flags_section, qa_of, scorecard_section, QaView};
use super::text::{esc, url_component, Lang};
use super::{blocking, layout, signed_in, Gate, Session, Shared};
use crate::store::{CallRecord, RecordingState};
use crate::switch::timeline::TimelineEvent;

/// A time as the pages show it: the switch's local time zone, to the second.
pub(crate) fn local_time(at: jiff::Timestamp) -> String {
    at.to_zoned(TimeZone::system())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Markers for the call's failed flags (after overrides), at each flag's start.
pub fn flag_markers(
    flags: &[crate::qa::Flag],
    recording_offset_ms: u64,
    lang: Lang,
) -> Vec<Marker> {
    flags
        .iter()
        .filter(|flag| !flag.effective_passed())
        .map(|flag| Marker {
            at_s: flag.start_ms.saturating_sub(recording_offset_ms) as f64 / 1000.0,
            before: flag.start_ms < recording_offset_ms,
            kind: format!("flag:{}", flag.rule.name()),
            label: flag.rule.label(lang.code()).to_string(),
            group: "flag",
            detail: evidence_text(flag, lang),
        })
        .collect()
}

/// A flag's evidence in `lang` (English as kept when a flag has no sentence).
pub(crate) fn evidence_text(flag: &crate::qa::Flag, lang: Lang) -> String {
    match &flag.sentence {
        Some(sentence) => sentence.text(lang.code()),
        None => flag.evidence.clone(),
    }
}

/// One marker on the waveform.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Seconds into the recording (0 for what happened before it began).
    pub at_s: f64,
    /// Whether the event happened before the recording began.
    pub before: bool,
    /// The event's id ("answered", "hold", "flag:silence", ...), for machines.
    pub kind: String,
    /// What the reviewer reads: the event's or flag's name in the page's language.
    pub label: String,
    /// A group for the marker's colour.
    pub group: &'static str,
    /// The event's details (or the flag's evidence) in the page's language.
    pub detail: String,
}

/// The group a timeline event's marker is drawn in.
pub fn group_of(kind: &str) -> &'static str {
    match kind {
        "invite" | "ringing" | "offered" | "offer_ended" => "ring",
        "answered" | "agent_answered" | "bridged" | "whisper" => "answer",
        "prompt_started" => "prompt",
        "dtmf" | "menu_choice" | "menu_invalid" | "menu_no_input" | "collected" => "menu",
        "queue_entered" | "announcement" | "queue_exit" | "requeued" | "callback_offered"
        | "callback_requested" | "queue_unstaffed" => "queue",
        "hangup" | "rejected" | "media_timeout" | "agent_leg_lost" => "hangup",
        k if k.starts_with("hold") || k == "resume" => "hold",
        k if k.starts_with("transfer") || k == "recall" || k == "context_handed_over" => "transfer",
        k if k.contains("recording") || k.contains("pause") => "pause",
        _ => "other",
    }
}

/// Events not worth a marker of their own (they sit next to one that says more).
fn skipped(kind: &str) -> bool {
    matches!(kind, "prompt_finished" | "confirmed" | "media_before_ack")
}

/// The markers of a call's timeline on a recording whose sample 0 is at `recording_offset_ms`.
pub fn markers(events: &[TimelineEvent], recording_offset_ms: u64, lang: Lang) -> Vec<Marker> {
    events
        .iter()
        .filter(|e| !skipped(e.kind.name()))
        .map(|event| {
            let kind = event.kind.name();
            Marker {
                at_s: event.offset_ms.saturating_sub(recording_offset_ms) as f64 / 1000.0,
                before: event.offset_ms < recording_offset_ms,
                group: group_of(kind),
                kind: kind.to_string(),
                label: kind_label(kind, lang).to_string(),
                detail: event_detail(&event.kind, lang),
            }
        })
        .collect()
}

pub(super) async fn page(
    State(app): State<Shared>,
    CallId(id): CallId,
    headers: HeaderMap,
) -> Response {
    let here = format!("/calls/{}", url_component(&id));
    let session = match signed_in(&app, &headers, Gate::Page, &here).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let record = match visible_call(&app, &session, id).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let record_for_files = record.clone();
    let looked = blocking(&app, move |app| {
        let length = recording_path(app, &record_for_files)
            .and_then(|path| std::fs::metadata(path).ok())
            .map(|m| {
                crate::recording::duration_ms(m.len().saturating_sub(crate::recording::HEADER_LEN))
            });
        (length, qa_of(app, &record_for_files.summary.id))
    })
    .await;
    let (recorded_ms, qa) = match looked {
        Ok(found) => found,
        Err(response) => return response,
    };
    let body = render(&session, &record, recorded_ms, &qa, &app.settings.agents);
    layout(
        session.lang,
        Some(&session),
        &here,
        session.lang.t("call"),
        &body,
    )
    .into_response()
}

fn render(
    session: &Session,
    record: &CallRecord,
    recorded_ms: Option<u64>,
    qa: &QaView,
    names: &super::agents::AgentNames,
) -> String {
    let lang = session.lang;
    let call = &record.summary;
    let id = url_component(&call.id);
    let mut out = format!("<h1>{} {}</h1>", lang.t("call"), esc(&call.id));
    let started = local_time(call.started_at);
    out.push_str("<dl class=\"facts\">");
    for (key, value) in [
        ("started", Some(started)),
        ("caller", Some(call.from.clone())),
        ("hotline", call.hotline.clone()),
        ("queue", call.queue.clone()),
        ("agent", call.agent.as_deref().map(|id| names.label(id))),
        (
            "duration",
            call.duration_ms
                .map(|ms| format!("{:.1} s", ms as f64 / 1000.0)),
        ),
        (
            "wait",
            call.wait_ms
                .map(|ms| format!("{:.1} s", ms as f64 / 1000.0)),
        ),
        (
            "outcome",
            call.outcome
                .as_deref()
                .map(|outcome| crate::qa::evidence::code_word(outcome, lang.code())),
        ),
    ] {
        out.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>",
            lang.t(key),
            esc(value.as_deref().unwrap_or("—"))
        ));
    }
    out.push_str("</dl>");
    let recording = record
        .recording
        .as_ref()
        .filter(|r| r.state != RecordingState::Deleted);
    match (recording, recorded_ms) {
        (Some(recording), Some(length_ms)) => {
            if recording.state == RecordingState::CutShort {
                out.push_str(&format!(
                    "<p class=\"cut-short\">{}</p>",
                    lang.t("cut_short")
                ));
            }
            let mut all = markers(&record.events, recording.offset_ms, lang);
            all.extend(flag_markers(&qa.flags, recording.offset_ms, lang));
            all.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
            out.push_str(&player(lang, &id, length_ms, &all));
        }
        _ => out.push_str(&format!(
            "<p class=\"no-recording\">{}</p>",
            lang.t("no_recording")
        )),
    }
    out.push_str(&timeline_table(lang, record));
    let offset = recording.map(|r| r.offset_ms);
    out.push_str(&flags_section(session, &call.id, qa, offset));
    out.push_str(&scorecard_section(session, &call.id, qa));
    out.push_str(&format!(
        "<section class=\"export\"><h2>{}</h2><a id=\"export-wav\" href=\"/calls/{id}/recording.wav?download=1\">{}</a> · \
         <a id=\"export-json\" href=\"/calls/{id}/export.json\">{}</a></section>",
        lang.t("export"),
        lang.t("download_wav"),
        lang.t("download_json"),
    ));
    out
}

pub(crate) fn player(lang: Lang, id: &str, length_ms: u64, markers: &[Marker]) -> String {
    let length_s = (length_ms as f64 / 1000.0).max(0.001);
    let first_30 = (30.0 / length_s * 100.0).min(100.0);
    let mut out = format!(
        "<section id=\"replay\" data-peaks=\"/calls/{id}/peaks.json\" data-duration=\"{length_s:.3}\" \
         data-caller-said=\"{said}\" data-caller-heard=\"{heard}\">\
         <audio id=\"player\" controls preload=\"auto\" src=\"/calls/{id}/recording.wav\"></audio>\
         <div class=\"wave\" id=\"wave\"><canvas id=\"waveform\" width=\"1200\" height=\"200\"></canvas>\
         <div class=\"first30\" id=\"first30-shade\" data-share=\"{first_30:.3}\" title=\"{shade}\"></div>\
         <div id=\"playhead\"></div><div id=\"markers\" data-cluster=\"{cluster}\">",
        shade = lang.t("marker_first_30"),
        said = lang.t("caller_said"),
        heard = lang.t("caller_heard"),
        cluster = lang.t("marker_cluster"),
    );
    for (n, marker) in markers.iter().enumerate() {
        let left = (marker.at_s / length_s * 100.0).clamp(0.0, 100.0);
        out.push_str(&format!(
            "<button type=\"button\" class=\"marker {group}{before}\" id=\"marker-{n}\" data-t=\"{t:.3}\" \
             data-kind=\"{kind}\" data-left=\"{left:.3}\" title=\"{label} {clock} {detail}\"><span>{label}</span></button>",
            clock = esc(&format!(
                "{}:{:04.1} {}",
                (marker.at_s / 60.0).floor(),
                marker.at_s % 60.0,
                lang.t("in_recording")
            )),
            group = marker.group,
            before = if marker.before { " before" } else { "" },
            t = marker.at_s,
            kind = esc(&marker.kind),
            label = esc(&marker.label),
            detail = esc(&marker.detail),
        ));
    }
    out.push_str(&format!(
        "</div></div><div class=\"controls\">\
         <button type=\"button\" id=\"first30\">{first}</button> \
         <label>{said} {vol} <input type=\"range\" id=\"vol-left\" min=\"0\" max=\"2\" step=\"0.05\" value=\"1\"></label> \
         <label>{heard} {vol} <input type=\"range\" id=\"vol-right\" min=\"0\" max=\"2\" step=\"0.05\" value=\"1\"></label> \
         <label>{speed} <select id=\"speed\"><option>0.75</option><option selected>1</option><option>1.25</option>\
         <option>1.5</option><option>2</option></select></label></div></section>",
        first = lang.t("first_30"),
        said = lang.t("caller_said"),
        heard = lang.t("caller_heard"),
        vol = lang.t("volume"),
        speed = lang.t("speed"),
    ));
    out.push_str("<script src=\"/assets/replay.js\" defer></script>");
    out
}

/// A moment of the call on both of the page's clocks: seconds since the INVITE (the
/// timeline's), then where it is in the recording as the player shows it (m:ss.s), when
/// the recording has it.
pub(crate) fn both_clocks(lang: Lang, at_ms: u64, recording_offset_ms: Option<u64>) -> String {
    let call = format!("{:.1} s", at_ms as f64 / 1000.0);
    match recording_offset_ms.filter(|offset| at_ms >= *offset) {
        Some(offset) => {
            let tenths = (at_ms - offset + 50) / 100;
            format!(
                "{call} <span class=\"rec-at\">({} {}:{:02}.{})</span>",
                lang.t("in_recording"),
                tenths / 600,
                tenths / 10 % 60,
                tenths % 10
            )
        }
        None => call,
    }
}

fn timeline_table(lang: Lang, record: &CallRecord) -> String {
    let recording = record
        .recording
        .as_ref()
        .filter(|r| r.state != RecordingState::Deleted);
    let mut out = format!(
        "<section><h2>{}</h2><p class=\"clocks\">{}</p><table class=\"timeline\"><tbody>",
        lang.t("timeline"),
        lang.t("clocks_explained")
    );
    for event in record.events.iter() {
        out.push_str(&format!(
            "<tr data-kind=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(event.kind.name()),
            both_clocks(lang, event.offset_ms, recording.map(|r| r.offset_ms)),
            esc(kind_label(event.kind.name(), lang)),
            esc(&event_detail(&event.kind, lang))
        ));
    }
    out.push_str("</tbody></table></section>");
    out
}

#[cfg(test)]
#[path = "call_page_tests.rs"]
mod tests;
