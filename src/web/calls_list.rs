//! The call list: filters (date range or a quick day, hotline, queue, agent, caller
//! number, flag, score), paging, and links by agent so a reviewer reaches yesterday's calls
//! of one agent in two clicks (Yesterday, then the agent). An agent's list holds only
//! their own calls. Dates are days of the switch's local time zone.

use axum::extract::{Query, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Deserialize;

use super::text::{esc, url_component, Lang};
use super::{blocking, layout, path_of, signed_in, store_error, Gate, Session, Shared};
use crate::store::CallSummary;

/// Calls on one page of the list.
pub const PAGE_SIZE: usize = 50;
/// The newest calls the list filters among.
pub const SEARCHED_CALLS: usize = 20_000;

/// The list's query string.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ListQuery {
    /// "today", "yesterday" or "7d": a quick date range.
    pub day: Option<String>,
    /// First day, YYYY-MM-DD.
    pub from: Option<String>,
    /// Last day (included), YYYY-MM-DD.
    pub to: Option<String>,
    pub hotline: Option<String>,
    pub queue: Option<String>,
    pub agent: Option<String>,
    /// Part of the caller's number or URI.
    pub caller: Option<String>,
    /// A QA rule name the call failed.
    pub flag: Option<String>,
    pub score_min: Option<String>,
    pub score_max: Option<String>,
    /// 1-based.
    pub page: Option<String>,
}

fn filled(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ListQuery {
    /// The time range [start, end) the query asks for, in `tz`, at `now`.
    pub fn time_range(
        &self,
        now: Timestamp,
        tz: &TimeZone,
    ) -> (Option<Timestamp>, Option<Timestamp>) {
        let today = now.to_zoned(tz.clone()).date();
        let start_of = |date: Date| date.to_zoned(tz.clone()).ok().map(|z| z.timestamp());
        let days = |n: i64| today.checked_add(jiff::Span::new().days(n)).ok();
        match filled(&self.day) {
            Some("today") => return (start_of(today), days(1).and_then(start_of)),
            Some("yesterday") => return (days(-1).and_then(start_of), start_of(today)),
            Some("7d") => return (days(-6).and_then(start_of), days(1).and_then(start_of)),
            _ => {}
        }
        let parse = |v: &Option<String>| filled(v).and_then(|d| d.parse::<Date>().ok());
        let from = parse(&self.from).and_then(start_of);
        let to = parse(&self.to)
            .and_then(|d| d.tomorrow().ok())
            .and_then(start_of);
        (from, to)
    }

    /// Whether the call passes the call-row filters (not the flag and score ones, which
    /// need the QA results).
    pub fn matches(
        &self,
        call: &CallSummary,
        range: (Option<Timestamp>, Option<Timestamp>),
    ) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| match filled(want) {
            Some(want) => have.as_deref() == Some(want),
            None => true,
        };
        range.0.is_none_or(|from| call.started_at >= from)
            && range.1.is_none_or(|to| call.started_at < to)
            && same(&self.hotline, &call.hotline)
            && same(&self.queue, &call.queue)
            && same(&self.agent, &call.agent)
            && filled(&self.caller).is_none_or(|c| call.from.contains(c))
    }

    pub fn page(&self) -> usize {
        filled(&self.page)
            .and_then(|p| p.parse::<usize>().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1)
    }

    /// This query as a query string with `changes` applied (None removes the key).
    pub fn with(&self, changes: &[(&str, Option<&str>)]) -> String {
        let mut pairs: Vec<(&str, Option<&str>)> = vec![
            ("day", filled(&self.day)),
            ("from", filled(&self.from)),
            ("to", filled(&self.to)),
            ("hotline", filled(&self.hotline)),
            ("queue", filled(&self.queue)),
            ("agent", filled(&self.agent)),
            ("caller", filled(&self.caller)),
            ("flag", filled(&self.flag)),
            ("score_min", filled(&self.score_min)),
            ("score_max", filled(&self.score_max)),
            ("page", filled(&self.page)),
        ];
        for (key, value) in changes {
            if let Some(pair) = pairs.iter_mut().find(|(k, _)| k == key) {
                pair.1 = *value;
            }
        }
        let query: Vec<String> = pairs
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k}={}", url_component(v))))
            .collect();
        format!("/calls?{}", query.join("&"))
    }
}

/// A call's row with what QA found (when known).
pub(crate) struct ListedCall {
    pub call: CallSummary,
    pub failed_flags: Option<Vec<String>>,
    pub score: Option<f64>,
}

/// The calls a user may see that match the query, newest first.
pub(crate) fn find_calls(
    app: &super::App,
    session: &Session,
    query: &ListQuery,
    now: Timestamp,
) -> Result<Vec<ListedCall>, crate::store::StoreError> {
    let tz = TimeZone::system();
    let range = query.time_range(now, &tz);
    let calls = app.store.list_calls(SEARCHED_CALLS)?;
    Ok(calls
        .into_iter()
        .filter(|call| session.user.may_see(call) && query.matches(call, range))
        .map(|call| ListedCall {
            call,
            failed_flags: None,
            score: None,
        })
        .collect())
}

pub(super) async fn page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
    request: Request,
) -> Response {
    let here = path_of(&request);
    let session = match signed_in(&app, &headers, Gate::Page, &here).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let lang = session.lang;
    let (q, s) = (query.clone(), session.clone());
    let found = blocking(&app, move |app| {
        let now = Timestamp::now();
        let all_agents = {
            let mut without_agent = q.clone();
            without_agent.agent = None;
            find_calls(app, &s, &without_agent, now)
        };
        (find_calls(app, &s, &q, now), all_agents)
    })
    .await;
    let (calls, by_agent) = match found {
        Ok((Ok(calls), Ok(by_agent))) => (calls, by_agent),
        Ok((Err(e), _)) | Ok((_, Err(e))) => return store_error(e),
        Err(response) => return response,
    };
    let mut agents: Vec<String> = by_agent.into_iter().filter_map(|c| c.call.agent).collect();
    agents.sort();
    agents.dedup();
    let body = render(lang, &session, &query, &calls, &agents);
    layout(lang, Some(&session), &here, lang.t("calls"), &body).into_response()
}

fn render(
    lang: Lang,
    session: &Session,
    query: &ListQuery,
    calls: &[ListedCall],
    agents: &[String],
) -> String {
    let tz = TimeZone::system();
    let mut out = format!("<h1>{}</h1>", lang.t("calls"));
    // Quick days.
    out.push_str("<p class=\"quick\">");
    for (day, key) in [
        ("today", "today"),
        ("yesterday", "yesterday"),
        ("7d", "last_7_days"),
    ] {
        let href = query.with(&[
            ("day", Some(day)),
            ("from", None),
            ("to", None),
            ("page", None),
        ]);
        let current = if filled(&query.day) == Some(day) {
            " class=\"current\""
        } else {
            ""
        };
        out.push_str(&format!(
            "<a href=\"{}\" id=\"day-{day}\"{current}>{}</a> ",
            esc(&href),
            lang.t(key)
        ));
    }
    out.push_str("</p>");
    if session.user.role != super::auth::Role::Agent && !agents.is_empty() {
        out.push_str(&format!("<p class=\"agents\">{}: ", lang.t("by_agent")));
        let all = query.with(&[("agent", None), ("page", None)]);
        out.push_str(&format!(
            "<a href=\"{}\">{}</a> ",
            esc(&all),
            lang.t("all_agents")
        ));
        for agent in agents {
            let href = query.with(&[("agent", Some(agent)), ("page", None)]);
            let current = if filled(&query.agent) == Some(agent.as_str()) {
                " class=\"current\""
            } else {
                ""
            };
            out.push_str(&format!(
                "<a href=\"{}\" class=\"agent-link\" data-agent=\"{a}\"{current}>{a}</a> ",
                esc(&href),
                a = esc(agent)
            ));
        }
        out.push_str("</p>");
    }
    // The filter form (GET: nothing changes, no CSRF needed).
    let field = |name: &str, key: &str, value: &Option<String>, kind: &str| {
        format!(
            "<label>{} <input name=\"{name}\" type=\"{kind}\" value=\"{}\"></label> ",
            lang.t(key),
            esc(filled(value).unwrap_or(""))
        )
    };
    out.push_str("<form method=\"get\" action=\"/calls\" class=\"filters\">");
    out.push_str(&field("from", "from", &query.from, "date"));
    out.push_str(&field("to", "to", &query.to, "date"));
    out.push_str(&field("hotline", "hotline", &query.hotline, "text"));
    out.push_str(&field("queue", "queue", &query.queue, "text"));
    if session.user.role != super::auth::Role::Agent {
        out.push_str(&field("agent", "agent", &query.agent, "text"));
    }
    out.push_str(&field("caller", "caller", &query.caller, "text"));
    out.push_str(&field("flag", "flag", &query.flag, "text"));
    out.push_str(&field("score_min", "score_min", &query.score_min, "number"));
    out.push_str(&field("score_max", "score_max", &query.score_max, "number"));
    out.push_str(&format!(
        "<button type=\"submit\">{}</button> <a href=\"/calls\">{}</a></form>",
        lang.t("filter"),
        lang.t("clear")
    ));
    let page = query.page();
    let pages = calls.len().div_ceil(PAGE_SIZE).max(1);
    let shown: Vec<&ListedCall> = calls
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    if shown.is_empty() {
        out.push_str(&format!("<p class=\"empty\">{}</p>", lang.t("no_calls")));
    } else {
        out.push_str(&format!(
            "<table class=\"calls\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>\
             <th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            lang.t("started"),
            lang.t("caller"),
            lang.t("hotline"),
            lang.t("queue"),
            lang.t("agent"),
            lang.t("duration"),
            lang.t("wait"),
            lang.t("outcome"),
            lang.t("flags"),
            lang.t("score"),
        ));
        for listed in shown {
            let call = &listed.call;
            let started = call
                .started_at
                .to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string();
            let seconds =
                |ms: Option<u64>| ms.map(|ms| format!("{} s", ms / 1000)).unwrap_or_default();
            let flags = listed
                .failed_flags
                .as_ref()
                .map(|f| f.join(", "))
                .unwrap_or_default();
            let score = listed.score.map(|s| format!("{s:.0}")).unwrap_or_default();
            out.push_str(&format!(
                "<tr data-call=\"{id}\"><td><a href=\"/calls/{href}\">{started}</a></td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&call.from),
                esc(call.hotline.as_deref().unwrap_or("")),
                esc(call.queue.as_deref().unwrap_or("")),
                esc(call.agent.as_deref().unwrap_or("")),
                seconds(call.duration_ms),
                seconds(call.wait_ms),
                esc(call.outcome.as_deref().unwrap_or("")),
                esc(&flags),
                esc(&score),
                id = esc(&call.id),
                href = esc(&url_component(&call.id)),
            ));
        }
        out.push_str("</tbody></table>");
    }
    out.push_str(&format!(
        "<p class=\"paging\">{} {page} / {pages} ",
        lang.t("page")
    ));
    if page > 1 {
        let href = query.with(&[("page", Some(&(page - 1).to_string()))]);
        out.push_str(&format!(
            "<a href=\"{}\" rel=\"prev\">{}</a> ",
            esc(&href),
            lang.t("previous")
        ));
    }
    if page < pages {
        let href = query.with(&[("page", Some(&(page + 1).to_string()))]);
        out.push_str(&format!(
            "<a href=\"{}\" rel=\"next\">{}</a>",
            esc(&href),
            lang.t("next")
        ));
    }
    out.push_str("</p>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(started: &str, agent: Option<&str>, from: &str) -> CallSummary {
        CallSummary {
            id: "c".into(),
            sip_call_id: "s".into(),
            from: from.into(),
            to: "sip:hotline@x".into(),
            hotline: Some("support".into()),
            started_at: started.parse().unwrap(),
            answered_at_ms: None,
            ended_at: None,
            outcome: None,
            ended_by: None,
            reason: None,
            duration_ms: None,
            event_count: 0,
            queue: Some("general".into()),
            agent: agent.map(String::from),
            wait_ms: None,
            talk_ms: None,
        }
    }

    #[test]
    fn yesterday_is_the_whole_previous_day_in_the_time_zone() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let now: Timestamp = "2026-12-01T03:00:00Z".parse().unwrap(); // 11:00 in Shanghai
        let query = ListQuery {
            day: Some("yesterday".into()),
            ..ListQuery::default()
        };
        let range = query.time_range(now, &tz);
        assert_eq!(range.0, Some("2026-11-29T16:00:00Z".parse().unwrap()));
        assert_eq!(range.1, Some("2026-11-30T16:00:00Z".parse().unwrap()));
        assert!(query.matches(&call("2026-11-29T16:00:00Z", None, "1"), range));
        assert!(query.matches(&call("2026-11-30T15:59:59Z", None, "1"), range));
        assert!(!query.matches(&call("2026-11-30T16:00:00Z", None, "1"), range));
        assert!(!query.matches(&call("2026-11-29T15:59:59Z", None, "1"), range));
    }

    #[test]
    fn a_date_range_includes_its_last_day_and_filters_combine() {
        let tz = TimeZone::UTC;
        let query = ListQuery {
            from: Some("2026-11-01".into()),
            to: Some("2026-11-02".into()),
            agent: Some("alice".into()),
            caller: Some("5551".into()),
            ..ListQuery::default()
        };
        let range = query.time_range(Timestamp::UNIX_EPOCH, &tz);
        assert!(query.matches(
            &call("2026-11-02T23:59:00Z", Some("alice"), "sip:5551234@x"),
            range
        ));
        assert!(!query.matches(
            &call("2026-11-03T00:00:00Z", Some("alice"), "sip:5551234@x"),
            range
        ));
        assert!(!query.matches(
            &call("2026-11-02T10:00:00Z", Some("bob"), "sip:5551234@x"),
            range
        ));
        assert!(!query.matches(
            &call("2026-11-02T10:00:00Z", Some("alice"), "sip:999@x"),
            range
        ));
        assert!(!query.matches(&call("2026-11-02T10:00:00Z", None, "sip:5551234@x"), range));
    }

    #[test]
    fn links_keep_the_other_filters_and_encode_values() {
        let query = ListQuery {
            day: Some("yesterday".into()),
            page: Some("3".into()),
            ..ListQuery::default()
        };
        assert_eq!(
            query.with(&[("agent", Some("a&b")), ("page", None)]),
            "/calls?day=yesterday&agent=a%26b"
        );
        assert_eq!(query.page(), 3);
        assert_eq!(
            ListQuery {
                page: Some("0".into()),
                ..ListQuery::default()
            }
            .page(),
            1
        );
        assert_eq!(
            ListQuery {
                page: Some("x".into()),
                ..ListQuery::default()
            }
            .page(),
            1
        );
    }
}
