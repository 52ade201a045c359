//! Scoring on the call page (STANDARDS.md §4 through `qa::scorecard`): the call's QA flags
//! with a reviewer's override form, the scorecard form (auto-scored items filled in from
//! the flags on the server, reviewer items with points and a comment, critical items that
//! zero the score), saving (POST + CSRF; reviewers and supervisors only), and the page of
//! totals per agent and per ISO week.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::recording_files::visible_call;
use super::rejections::{CallId, FormOf};
use super::text::{esc, url_component, Lang};
use super::{blocking, check_csrf, layout, signed_in, store_error, Gate, Session, Shared};
use crate::qa::scorecard::{self, ItemScore, Score, ITEMS};
use crate::qa::{Flag, FlagOverride, Rule};

/// The longest comment kept (characters).
pub const COMMENT_CHARS: usize = 2_000;

/// What QA says about a call, as the page and the export show it.
#[derive(Debug, Default, Serialize)]
pub(crate) struct QaView {
    pub flags: Vec<Flag>,
    pub scores: Vec<Score>,
    /// Why the flags could not be computed, if they could not.
    pub error: Option<String>,
}

/// The call's flags (with overrides) and saved scores.
pub(crate) fn qa_of(app: &super::App, call_id: &str) -> QaView {
    let mut view = QaView::default();
    match flags_of(app, call_id) {
        Ok(flags) => view.flags = flags,
        Err(error) => view.error = Some(error),
    }
    match app.store.scores(call_id) {
        Ok(scores) => view.scores = scores,
        Err(error) => view.error = Some(error.to_string()),
    }
    view
}

/// A call's flags (with overrides), computed once per state of what they come from: the
/// call's timeline and outcome, its recording's row and file length, the overrides.
pub(crate) fn flags_of(app: &super::App, call_id: &str) -> Result<Vec<Flag>, String> {
    let record = app
        .store
        .call(call_id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no call \"{call_id}\""))?;
    let file_len = super::recording_files::recording_path(app, &record)
        .and_then(|path| std::fs::metadata(path).ok())
        .map(|m| m.len());
    let overrides = app
        .store
        .flag_overrides(&record.summary.id)
        .map_err(|e| e.to_string())?;
    let key = format!(
        "{}|{}|{:?}|{:?}|{file_len:?}|{overrides:?}",
        record.summary.id, record.summary.event_count, record.summary.outcome, record.recording
    );
    if let Some(flags) = app.flags.get(&key) {
        return Ok((*flags).clone());
    }
    let flags = crate::qa::flags_for_call(&app.store, &app.settings.data_dir, &record.summary.id)
        .map_err(|e| e.to_string())?;
    app.flags.put(key, std::sync::Arc::new(flags.clone()));
    Ok(flags)
}

/// The flags' section: each flag with its evidence, and (for a reviewer) a form to decide
/// it passed or failed.
pub(crate) fn flags_section(
    session: &Session,
    call_id: &str,
    qa: &QaView,
    recording_offset_ms: Option<u64>,
) -> String {
    let lang = session.lang;
    let mut out = format!(
        "<section class=\"flags\" id=\"flags\"><h2>{}</h2>",
        lang.t("flags")
    );
    if let Some(error) = &qa.error {
        out.push_str(&format!("<p class=\"problem\">{}</p>", esc(error)));
    }
    out.push_str(&format!(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        lang.t("rule"),
        lang.t("at"),
        lang.t("evidence"),
        lang.t("state"),
    ));
    for flag in &qa.flags {
        let state = if flag.effective_passed() {
            lang.t("passed")
        } else {
            lang.t("failed")
        };
        let overridden = flag
            .overridden
            .as_ref()
            .map(|o| {
                format!(
                    " ({} {}: {})",
                    lang.t("overridden"),
                    esc(&o.by),
                    esc(&o.comment)
                )
            })
            .unwrap_or_default();
        let form = if session.user.role.may_score() {
            format!(
                "<form method=\"post\" action=\"/calls/{id}/flags\" class=\"override\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"rule\" value=\"{rule}\">\
                 <input type=\"hidden\" name=\"start_ms\" value=\"{start}\">\
                 <select name=\"passed\"><option value=\"1\"{p}>{passed}</option><option value=\"0\"{f}>{failed}</option></select> \
                 <input name=\"comment\" maxlength=\"{COMMENT_CHARS}\" placeholder=\"{comment}\"> \
                 <button type=\"submit\">{save}</button></form>",
                id = esc(&url_component(call_id)),
                csrf = esc(&session.csrf),
                rule = esc(flag.rule.name()),
                start = flag.start_ms,
                p = if flag.effective_passed() { " selected" } else { "" },
                f = if flag.effective_passed() { "" } else { " selected" },
                passed = lang.t("passed"),
                failed = lang.t("failed"),
                comment = lang.t("comment"),
                save = lang.t("save_override"),
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "<tr class=\"flag {cls}\" data-rule=\"{rule}\"><td>{label}</td><td>{at}</td><td>{evidence}</td><td>{state}{overridden}</td><td>{form}</td></tr>",
            cls = if flag.effective_passed() { "passed" } else { "failed" },
            rule = esc(flag.rule.name()),
            label = esc(flag.rule.label(lang.code())),
            at = super::call_page::both_clocks(lang, flag.start_ms, recording_offset_ms),
            evidence = esc(&super::call_page::evidence_text(flag, lang)),
        ));
    }
    out.push_str("</tbody></table></section>");
    out
}

/// The scorecard: saved scores, then (for a reviewer) the form, filled with their last one.
pub(crate) fn scorecard_section(session: &Session, call_id: &str, qa: &QaView) -> String {
    let lang = session.lang;
    let mut out = format!(
        "<section class=\"scorecard\" id=\"scorecard\"><h2>{}</h2>",
        lang.t("scorecard")
    );
    for score in &qa.scores {
        out.push_str(&format!(
            "<p class=\"saved-score\" data-total=\"{total}\">{} {} · {} · {}: <strong>{total}</strong>{}</p>",
            lang.t("saved_by"),
            esc(&score.reviewer),
            esc(&super::call_page::local_time(score.at)),
            lang.t("total"),
            if score.critical_failed {
                format!(" ({})", lang.t("critical"))
            } else {
                String::new()
            },
            total = score.total,
        ));
    }
    if !session.user.role.may_score() {
        out.push_str(&format!("<p>{}</p></section>", lang.t("reviewer_only")));
        return out;
    }
    let mine = qa
        .scores
        .iter()
        .rev()
        .find(|s| s.reviewer == session.user.name);
    let auto = scorecard::auto_items_in(&qa.flags, lang.code());
    out.push_str(&format!(
        "<form method=\"post\" action=\"/calls/{}/score\" id=\"score-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(&url_component(call_id)),
        esc(&session.csrf),
        lang.t("item"),
        lang.t("points"),
        lang.t("comment"),
    ));
    for item in ITEMS.iter() {
        let label = format!(
            "{}{}",
            esc(item.label(lang.code())),
            if item.critical {
                format!(" <em>({})</em>", lang.t("critical_item"))
            } else {
                String::new()
            }
        );
        if item.auto.is_some() {
            let scored = auto.iter().find(|s| s.id == item.id);
            out.push_str(&format!(
                "<tr class=\"auto\" data-item=\"{id}\"><td>{label}</td><td>{} / {}</td><td>{}</td></tr>",
                scored.map(|s| s.points).unwrap_or(0),
                item.points,
                esc(scored.map(|s| s.comment.as_str()).unwrap_or("")),
                id = item.id,
            ));
            continue;
        }
        // An item not scored yet starts blank, and the form cannot be sent until it is
        // scored: a reviewer who only marks the critical item does not give the rest full
        // marks unread.
        let previous = mine.and_then(|s| s.items.iter().find(|i| i.id == item.id));
        let chosen = previous.map(|p| p.points);
        let mut options = format!(
            "<option value=\"\"{}>—</option>",
            if chosen.is_none() { " selected" } else { "" }
        );
        for p in (0..=item.points).rev() {
            options.push_str(&format!(
                "<option{}>{p}</option>",
                if Some(p) == chosen { " selected" } else { "" }
            ));
        }
        out.push_str(&format!(
            "<tr data-item=\"{id}\"><td>{label}</td><td><select name=\"points_{id}\" required>{options}</select> / {max}</td>\
             <td><input name=\"comment_{id}\" maxlength=\"{COMMENT_CHARS}\" value=\"{comment}\"></td></tr>",
            id = item.id,
            max = item.points,
            comment = esc(previous.map(|p| p.comment.as_str()).unwrap_or("")),
        ));
    }
    out.push_str(&format!(
        "</tbody></table><button type=\"submit\">{}</button></form></section>",
        lang.t("save")
    ));
    out
}

/// A scorecard or flag decision that could not be saved: what was wrong, and the way back.
fn bad_request(lang: Lang, why: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<p>{}: {}</p><p><a href=\"/calls\">{}</a></p>",
            lang.t("not_saved"),
            esc(why),
            lang.t("calls")
        )),
    )
        .into_response()
}

/// The scorecard a reviewer submitted: auto items from the flags (never from the form),
/// reviewer items from the form.
pub fn submitted_items(
    form: &HashMap<String, String>,
    flags: &[Flag],
    lang: Lang,
) -> Result<Vec<ItemScore>, String> {
    let auto = scorecard::auto_items(flags);
    ITEMS
        .iter()
        .map(|item| {
            if item.auto.is_some() {
                return auto
                    .iter()
                    .find(|s| s.id == item.id)
                    .cloned()
                    .ok_or_else(|| format!("no automatic score for {}", item.id));
            }
            let points = form
                .get(&format!("points_{}", item.id))
                .and_then(|p| p.trim().parse::<u32>().ok())
                .ok_or_else(|| {
                    format!("{} \"{}\"", lang.t("no_points"), item.label(lang.code()))
                })?;
            let comment: String = form
                .get(&format!("comment_{}", item.id))
                .map(|c| c.chars().take(COMMENT_CHARS).collect())
                .unwrap_or_default();
            Ok(ItemScore {
                id: item.id.to_string(),
                points,
                comment,
            })
        })
        .collect()
}

/// The session of a POST that may score, its CSRF token checked.
async fn scorer(
    app: &Shared,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Session, Response> {
    let session = signed_in(app, headers, Gate::Api, "").await?;
    check_csrf(&session, form.get("csrf").map(String::as_str))?;
    if !session.user.role.may_score() {
        return Err((
            StatusCode::FORBIDDEN,
            Html(format!("<p>{}</p>", session.lang.t("reviewer_only"))),
        )
            .into_response());
    }
    Ok(session)
}

pub(super) async fn save_score(
    State(app): State<Shared>,
    CallId(id): CallId,
    headers: HeaderMap,
    FormOf(form): FormOf<HashMap<String, String>>,
) -> Response {
    let session = match scorer(&app, &headers, &form).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let record = match visible_call(&app, &session, id).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let call_id = record.summary.id.clone();
    let reviewer = session.user.name.clone();
    let lang = session.lang;
    let saved = blocking(&app, move |app| -> Result<Result<(), String>, Response> {
        let flags = flags_of(app, &call_id).map_err(|e| super::server_error(&e))?;
        let items = match submitted_items(&form, &flags, lang) {
            Ok(items) => items,
            Err(why) => return Ok(Err(why)),
        };
        let score = match Score::new(&call_id, &reviewer, Timestamp::now(), items) {
            Ok(score) => score,
            Err(why) => return Ok(Err(why.to_string())),
        };
        app.store.save_score(&score).map_err(store_error)?;
        Ok(Ok(()))
    })
    .await;
    match saved {
        Ok(Ok(Ok(()))) => see_other(&format!(
            "/calls/{}#scorecard",
            url_component(&record.summary.id)
        )),
        Ok(Ok(Err(why))) => bad_request(session.lang, &why),
        Ok(Err(response)) | Err(response) => response,
    }
}

pub(super) async fn override_flag(
    State(app): State<Shared>,
    CallId(id): CallId,
    headers: HeaderMap,
    FormOf(form): FormOf<HashMap<String, String>>,
) -> Response {
    let session = match scorer(&app, &headers, &form).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let record = match visible_call(&app, &session, id).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let Some(rule) = form.get("rule").and_then(|r| Rule::parse(r)) else {
        return bad_request(session.lang, "rule");
    };
    let Some(start_ms) = form.get("start_ms").and_then(|s| s.parse::<u64>().ok()) else {
        return bad_request(session.lang, "start_ms");
    };
    let passed = match form.get("passed").map(String::as_str) {
        Some("1") => true,
        Some("0") => false,
        _ => return bad_request(session.lang, "passed"),
    };
    let decision = FlagOverride {
        by: session.user.name.clone(),
        at: Timestamp::now(),
        passed,
        comment: form
            .get("comment")
            .map(|c| c.chars().take(COMMENT_CHARS).collect())
            .unwrap_or_default(),
    };
    let call_id = record.summary.id.clone();
    let saved = blocking(&app, move |app| {
        app.store
            .save_flag_override(&call_id, rule, start_ms, &decision)
    })
    .await;
    match saved {
        Ok(Ok(())) => see_other(&format!(
            "/calls/{}#flags",
            url_component(&record.summary.id)
        )),
        Ok(Err(error)) => store_error(error),
        Err(response) => response,
    }
}

fn see_other(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(axum::http::header::LOCATION, to.to_string())],
    )
        .into_response()
}

#[derive(Deserialize)]
pub(super) struct TotalsQuery {
    /// Read leniently: anything but a number of weeks shows the default.
    weeks: Option<String>,
}

/// Totals per agent and per ISO week over the last N weeks (default 8, at most 104).
pub(super) async fn totals(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<TotalsQuery>,
) -> Response {
    let session = match signed_in(&app, &headers, Gate::Page, "/totals").await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let lang = session.lang;
    if !session.user.role.may_score() {
        let body = format!(
            "<h1>{}</h1><p>{}</p><p><a href=\"/calls\">{}</a></p>",
            lang.t("totals"),
            lang.t("reviewer_only"),
            lang.t("calls")
        );
        return (
            StatusCode::FORBIDDEN,
            layout(lang, Some(&session), "/totals", lang.t("totals"), &body),
        )
            .into_response();
    }
    let weeks = query
        .weeks
        .and_then(|w| w.trim().parse::<u32>().ok())
        .unwrap_or(8)
        .clamp(1, 104);
    let found = blocking(&app, move |app| {
        let to = Timestamp::now() + jiff::SignedDuration::from_hours(24);
        let from = to - jiff::SignedDuration::from_hours(24 * 7 * i64::from(weeks));
        app.store.score_totals_by_agent_and_week(from, to)
    })
    .await;
    let totals = match found {
        Ok(Ok(totals)) => totals,
        Ok(Err(error)) => return store_error(error),
        Err(response) => return response,
    };
    let mut body = format!("<h1>{}</h1>", lang.t("totals"));
    if totals.is_empty() {
        body.push_str(&format!("<p class=\"empty\">{}</p>", lang.t("no_scores")));
    } else {
        body.push_str(&format!(
            "<table class=\"totals\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            lang.t("agent"),
            lang.t("week"),
            lang.t("calls_count"),
            lang.t("scores_count"),
            lang.t("average"),
            lang.t("critical_failed"),
        ));
        for total in &totals {
            body.push_str(&format!(
                "<tr data-agent=\"{a}\" data-week=\"{w}\"><td><a href=\"/calls?agent={q}\">{}</a></td><td>{w}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
                esc(&app.settings.agents.label(&total.agent)),
                total.calls,
                total.scores,
                total.average,
                total.critical_failed,
                a = esc(&total.agent),
                w = esc(&total.week),
                q = esc(&url_component(&total.agent)),
            ));
        }
        body.push_str("</tbody></table>");
    }
    layout(lang, Some(&session), "/totals", lang.t("totals"), &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_items_come_from_the_flags_never_from_the_form() {
        let mut form: HashMap<String, String> = ITEMS
            .iter()
            .filter(|i| i.auto.is_none())
            .map(|i| (format!("points_{}", i.id), i.points.to_string()))
            .collect();
        // A form that claims full points for an auto item is not listened to.
        form.insert("points_answered_within_rings".into(), "10".into());
        let failed = Flag {
            rule: Rule::AnsweredWithinRings,
            passed: false,
            start_ms: 0,
            end_ms: 9_000,
            evidence: "answered at ring 4".into(),
            measured: Some(4.0),
            threshold: Some(3.0),
            overridden: None,
            sentence: None,
        };
        let items = submitted_items(&form, &[failed], Lang::En).unwrap();
        assert_eq!(items.len(), ITEMS.len());
        let rings = items
            .iter()
            .find(|i| i.id == "answered_within_rings")
            .unwrap();
        assert_eq!(rings.points, 0);
        let score = Score::new("c", "rita", Timestamp::UNIX_EPOCH, items).unwrap();
        assert_eq!(score.total, 90);
        assert!(!score.critical_failed);
    }

    #[test]
    fn a_reviewer_item_left_out_of_the_form_is_refused_and_comments_are_cut() {
        let mut form: HashMap<String, String> = ITEMS
            .iter()
            .filter(|i| i.auto.is_none())
            .map(|i| (format!("points_{}", i.id), "0".to_string()))
            .collect();
        let first = ITEMS.iter().find(|i| i.auto.is_none()).unwrap();
        form.insert(format!("comment_{}", first.id), "x".repeat(5_000));
        let items = submitted_items(&form, &[], Lang::En).unwrap();
        let commented = items.iter().find(|i| i.id == first.id).unwrap();
        assert_eq!(commented.comment.chars().count(), COMMENT_CHARS);
        // Every reviewer item 0: a critical one among them zeroes the total.
        let score = Score::new("c", "rita", Timestamp::UNIX_EPOCH, items).unwrap();
        assert_eq!((score.total, score.critical_failed), (0, true));
        form.remove(&format!("points_{}", first.id));
        assert_eq!(
            submitted_items(&form, &[], Lang::En),
            Err(format!("no points chosen for \"{}\"", first.label("en")))
        );
        // The blank choice an unscored item starts with is no score either.
        form.insert(format!("points_{}", first.id), String::new());
        assert!(submitted_items(&form, &[], Lang::Zh).is_err_and(|e| e.starts_with("未选择分数")));
    }
}
