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

use super::agents::AgentNames;
use super::text::{esc, url_component, Lang};
use super::{blocking, layout, path_of, signed_in, store_error, Gate, Session, Shared};
use crate::qa::Rule;
#[cfg(test)]
use crate::store::CallSummary;
use crate::store::{CallFilter, FilterChoices, FlagFilter, ReviewRow};

/// Calls on one page of the list.
pub const PAGE_SIZE: usize = 50;

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

    /// The store's filter for this query, for `user`, one page of [`PAGE_SIZE`]; None when
    /// nothing can match (an agent asking for another agent's calls, an unknown flag).
    pub fn to_filter(
        &self,
        user: &super::auth::User,
        range: (Option<Timestamp>, Option<Timestamp>),
    ) -> Option<CallFilter> {
        let text = |v: &Option<String>| filled(v).map(str::to_string);
        let agent = match user.role {
            super::auth::Role::Agent => {
                let own = user.agent.clone()?;
                if filled(&self.agent).is_some_and(|asked| asked != own) {
                    return None;
                }
                Some(own)
            }
            _ => text(&self.agent),
        };
        let flagged = match filled(&self.flag) {
            None => None,
            Some("any") => Some(FlagFilter::AnyFailed),
            Some(name) => Some(FlagFilter::Failed(Rule::parse(name)?)),
        };
        let score = |v: &Option<String>| filled(v).and_then(|s| s.parse::<u32>().ok());
        Some(CallFilter {
            from: range.0,
            to: range.1,
            hotline: text(&self.hotline),
            queue: text(&self.queue),
            agent,
            caller: text(&self.caller),
            flagged,
            min_score: score(&self.score_min),
            max_score: score(&self.score_max),
            offset: (self.page() - 1) * PAGE_SIZE,
            limit: PAGE_SIZE,
        })
    }

    /// The filters given a value the list cannot use, each with the text key of why: they
    /// are left out of the search, and the page says so rather than look filtered.
    pub fn ignored(&self) -> Vec<(&'static str, &str, &'static str)> {
        let mut out = Vec::new();
        if let Some(day) = filled(&self.day) {
            if !["today", "yesterday", "7d"].contains(&day) {
                out.push(("day", day, "not_a_day"));
            }
        }
        for (name, value) in [("from", &self.from), ("to", &self.to)] {
            if let Some(v) = filled(value).filter(|v| v.parse::<Date>().is_err()) {
                out.push((name, v, "not_a_date"));
            }
        }
        for (name, value) in [
            ("score_min", &self.score_min),
            ("score_max", &self.score_max),
            ("page", &self.page),
        ] {
            if let Some(v) = filled(value).filter(|v| v.parse::<u32>().is_err()) {
                out.push((name, v, "not_a_number"));
            }
        }
        out
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

/// Calls whose flags are computed before a list filtered on flags (the rest wait for the
/// next list: each takes a VAD pass over its recording).
pub const FLAGS_COMPUTED_PER_LIST: usize = 100;

/// One page of the calls a user may see that match the query, newest first, the number
/// of matching calls, and what the hotline, queue and agent pickers offer: the values the
/// calls in the query's date range carry (the user's own calls, for an agent).
pub(crate) struct Found {
    pub rows: Vec<ReviewRow>,
    pub matching: u64,
    pub choices: FilterChoices,
}

pub(crate) fn find_calls(
    app: &super::App,
    session: &Session,
    query: &ListQuery,
    now: Timestamp,
) -> Result<Found, crate::store::StoreError> {
    let tz = TimeZone::system();
    let range = query.time_range(now, &tz);
    let Some(filter) = query.to_filter(&session.user, range) else {
        return Ok(Found {
            rows: Vec::new(),
            matching: 0,
            choices: FilterChoices::default(),
        });
    };
    if filter.flagged.is_some() {
        if let Err(error) = crate::qa::refresh_flag_cache(
            &app.store,
            &app.settings.data_dir,
            FLAGS_COMPUTED_PER_LIST,
        ) {
            tracing::warn!(%error, "QA pages: cannot compute flags before listing");
        }
    }
    let rows = app.store.list_calls_filtered(&filter)?;
    let matching = app.store.count_calls_filtered(&filter)?;
    let own = match session.user.role {
        super::auth::Role::Agent => filter.agent.as_deref(),
        _ => None,
    };
    let choices = app.store.filter_choices(filter.from, filter.to, own)?;
    let choices = shown_choices(session.user.role, choices);
    Ok(Found {
        rows,
        matching,
        choices,
    })
}

/// What the pickers may offer `role`: an agent's list is their own calls, so the hotline and
/// queue pickers offer what those carry, and nothing names another agent.
fn shown_choices(role: super::auth::Role, mut choices: FilterChoices) -> FilterChoices {
    if role == super::auth::Role::Agent {
        choices.agents.clear();
    }
    choices
}

pub(super) async fn page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(mut query): Query<ListQuery>,
    request: Request,
) -> Response {
    let here = path_of(&request);
    let session = match signed_in(&app, &headers, Gate::Page, &here).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let lang = session.lang;
    // A name typed for the agent means that agent's id.
    if let Some(typed) = filled(&query.agent) {
        query.agent = Some(app.settings.agents.resolve(typed).to_string());
    }
    let (q, s) = (query.clone(), session.clone());
    let found = blocking(&app, move |app| find_calls(app, &s, &q, Timestamp::now())).await;
    let found = match found {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return store_error(e),
        Err(response) => return response,
    };
    let body = render(lang, &session, &query, &found, &app.settings.agents);
    layout(lang, Some(&session), &here, lang.t("calls"), &body).into_response()
}

fn render(
    lang: Lang,
    session: &Session,
    query: &ListQuery,
    found: &Found,
    names: &AgentNames,
) -> String {
    let agents = &found.choices.agents;
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
                "<a href=\"{}\" class=\"agent-link\" data-agent=\"{}\"{current}>{}</a> ",
                esc(&href),
                esc(agent),
                esc(&names.label(agent))
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
    let as_is = |value: &str| value.to_string();
    let choices = &found.choices;
    out.push_str(&picker(
        lang,
        "hotline",
        &query.hotline,
        &choices.hotlines,
        &as_is,
    ));
    out.push_str(&picker(
        lang,
        "queue",
        &query.queue,
        &choices.queues,
        &as_is,
    ));
    if session.user.role != super::auth::Role::Agent {
        let label = |id: &str| names.label(id);
        out.push_str(&picker(
            lang,
            "agent",
            &query.agent,
            &choices.agents,
            &label,
        ));
    }
    out.push_str(&field("caller", "caller", &query.caller, "text"));
    out.push_str(&format!(
        "<label>{} <select name=\"flag\"><option value=\"\"></option>",
        lang.t("flag")
    ));
    let chosen = filled(&query.flag);
    let mut options = vec![("any".to_string(), lang.t("any_failed").to_string())];
    options.extend(
        Rule::ALL
            .iter()
            .map(|rule| (rule.name().to_string(), rule.label(lang.code()).to_string())),
    );
    for (value, label) in options {
        let selected = if chosen == Some(value.as_str()) {
            " selected"
        } else {
            ""
        };
        out.push_str(&format!(
            "<option value=\"{}\"{selected}>{}</option>",
            esc(&value),
            esc(&label)
        ));
    }
    out.push_str("</select></label> ");
    out.push_str(&field("score_min", "score_min", &query.score_min, "number"));
    out.push_str(&field("score_max", "score_max", &query.score_max, "number"));
    out.push_str(&format!(
        "<button type=\"submit\">{}</button> <a href=\"/calls\">{}</a></form>",
        lang.t("filter"),
        lang.t("clear")
    ));
    for (name, value, why) in query.ignored() {
        out.push_str(&format!(
            "<p class=\"ignored\" data-filter=\"{name}\">{}: {} “{}” {}</p>",
            lang.t("not_applied"),
            lang.t(name),
            esc(value),
            lang.t(why)
        ));
    }
    let page = query.page();
    let pages = (found.matching as usize).div_ceil(PAGE_SIZE).max(1);
    let shown = &found.rows;
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
            let call = &listed.summary;
            let started = call
                .started_at
                .to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string();
            let seconds =
                |ms: Option<u64>| ms.map(|ms| format!("{} s", ms / 1000)).unwrap_or_default();
            let flags = listed
                .failed_flags
                .map(|f| f.to_string())
                .unwrap_or_default();
            let score = listed.score.map(|s| s.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "<tr data-call=\"{id}\"><td><a href=\"/calls/{href}\">{started}</a></td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&call.from),
                esc(call.hotline.as_deref().unwrap_or("")),
                esc(call.queue.as_deref().unwrap_or("")),
                esc(&call.agent.as_deref().map(|a| names.label(a)).unwrap_or_default()),
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

/// A `<select>` named `name` offering "all" and `values` (shown by `label`); a chosen
/// value the calls no longer have stays offered, so the form shows what is applied.
fn picker(
    lang: Lang,
    name: &str,
    chosen: &Option<String>,
    values: &[String],
    label: &dyn Fn(&str) -> String,
) -> String {
    let chosen = filled(chosen);
    let mut out = format!(
        "<label>{} <select name=\"{name}\" id=\"pick-{name}\"><option value=\"\">{}</option>",
        lang.t(name),
        lang.t("all")
    );
    let missing = chosen.filter(|c| !values.iter().any(|v| v == c));
    for value in missing.into_iter().chain(values.iter().map(String::as_str)) {
        let selected = if chosen == Some(value) {
            " selected"
        } else {
            ""
        };
        out.push_str(&format!(
            "<option value=\"{}\"{selected}>{}</option>",
            esc(value),
            esc(&label(value))
        ));
    }
    out.push_str("</select></label> ");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::auth::{Role, User};

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
    }

    fn user(role: Role, agent: Option<&str>) -> User {
        User {
            name: "u".into(),
            role,
            agent: agent.map(String::from),
        }
    }

    #[test]
    fn a_date_range_includes_its_last_day_and_the_query_becomes_the_stores_filter() {
        let tz = TimeZone::UTC;
        let query = ListQuery {
            from: Some("2026-11-01".into()),
            to: Some("2026-11-02".into()),
            agent: Some("alice".into()),
            caller: Some("5551".into()),
            flag: Some("hold_explained".into()),
            score_min: Some("60".into()),
            page: Some("2".into()),
            ..ListQuery::default()
        };
        let range = query.time_range(Timestamp::UNIX_EPOCH, &tz);
        let filter = query.to_filter(&user(Role::Reviewer, None), range).unwrap();
        assert_eq!(filter.from, Some("2026-11-01T00:00:00Z".parse().unwrap()));
        assert_eq!(filter.to, Some("2026-11-03T00:00:00Z".parse().unwrap()));
        assert_eq!(filter.agent.as_deref(), Some("alice"));
        assert_eq!(filter.caller.as_deref(), Some("5551"));
        assert_eq!(
            filter.flagged,
            Some(FlagFilter::Failed(Rule::HoldExplained))
        );
        assert_eq!((filter.min_score, filter.max_score), (Some(60), None));
        assert_eq!((filter.offset, filter.limit), (PAGE_SIZE, PAGE_SIZE));
        let unknown_flag = ListQuery {
            flag: Some("nonsense".into()),
            ..ListQuery::default()
        };
        assert_eq!(
            unknown_flag.to_filter(&user(Role::Reviewer, None), (None, None)),
            None
        );
        let _ = call("2026-11-02T23:59:00Z", None, "1");
    }

    #[test]
    fn an_agents_list_is_always_their_own_calls() {
        let alice = user(Role::Agent, Some("alice"));
        let filter = ListQuery::default()
            .to_filter(&alice, (None, None))
            .unwrap();
        assert_eq!(filter.agent.as_deref(), Some("alice"));
        let asks_for_bob = ListQuery {
            agent: Some("bob".into()),
            ..ListQuery::default()
        };
        assert_eq!(asks_for_bob.to_filter(&alice, (None, None)), None);
        assert_eq!(
            ListQuery::default().to_filter(&user(Role::Agent, None), (None, None)),
            None
        );
        let supervisor = ListQuery::default()
            .to_filter(&user(Role::Supervisor, None), (None, None))
            .unwrap();
        assert_eq!(supervisor.agent, None);
    }

    #[test]
    fn an_agent_is_offered_no_other_agent() {
        let choices = FilterChoices {
            hotlines: vec!["support".into()],
            queues: vec!["general".into()],
            agents: vec!["alice".into(), "bob".into()],
        };
        let for_agent = shown_choices(Role::Agent, choices.clone());
        assert_eq!(for_agent.agents, Vec::<String>::new());
        assert_eq!(
            (for_agent.hotlines, for_agent.queues),
            (choices.hotlines.clone(), choices.queues.clone())
        );
        assert_eq!(shown_choices(Role::Reviewer, choices.clone()), choices);
        assert_eq!(shown_choices(Role::Supervisor, choices.clone()), choices);
    }

    #[test]
    fn filters_the_list_cannot_use_are_named_not_silently_dropped() {
        let query = ListQuery {
            day: Some("tomorrow".into()),
            from: Some("2026-13-45".into()),
            to: Some("2026-11-03".into()),
            score_min: Some("-5".into()),
            score_max: Some("80".into()),
            page: Some("two".into()),
            ..ListQuery::default()
        };
        assert_eq!(
            query.ignored(),
            [
                ("day", "tomorrow", "not_a_day"),
                ("from", "2026-13-45", "not_a_date"),
                ("score_min", "-5", "not_a_number"),
                ("page", "two", "not_a_number"),
            ]
        );
        let fine = ListQuery {
            day: Some("7d".into()),
            to: Some("bad".into()),
            score_max: Some(" ".into()),
            ..ListQuery::default()
        };
        assert_eq!(fine.ignored(), [("to", "bad", "not_a_date")]);
        assert_eq!(ListQuery::default().ignored(), []);
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
