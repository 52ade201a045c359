//! web: the QA replay pages served at `hotline serve --http` (issue 9) — sign-in with
//! roles, sessions and CSRF ([`auth`]), the call list, the call page with its player,
//! server-computed waveform ([`peaks`]) and timeline markers, the recording with HTTP Range
//! ([`range`]), the scorecard and the export, in English and Chinese ([`text`]).
//!
//! Runs on the switch's tokio runtime; every database read or write and every file read is
//! done on tokio's blocking pool, so a page never holds up signalling or media. It has its
//! own connection to the database (WAL: it reads while the records thread writes).
//! Must not: change calls or recordings (it only reads them, and writes users, sessions
//! and — through the QA store — scores and flag overrides).

// Handlers answer early with a whole `Response` as the error (axum's idiom); its size is
// the framework's.
#![allow(clippy::result_large_err)]

pub mod agents;
pub mod auth;
mod call_page;
mod calls_list;
mod computed;
mod event_text;
pub mod forwarded;
pub mod peaks;
pub mod range;
mod recording_files;
mod rejections;
mod scoring;
mod sign_in;
pub mod text;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::store::{Store, StoreError};
use auth::{SessionLimits, SignInLimiter, User};
use text::{esc, Lang};

/// How the pages are served.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// The switch's data folder (database and recordings).
    pub data_dir: PathBuf,
    /// Mark the session cookie Secure: set when the pages are reached over https (a reverse
    /// proxy terminating TLS in front of this listener).
    pub secure_cookies: bool,
    pub sessions: SessionLimits,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--http-trusted-proxy`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The desk-phone list's agent names, shown beside the ids calls carry.
    pub agents: agents::AgentNames,
}

/// What every handler shares.
pub(crate) struct App {
    store: Store,
    settings: WebSettings,
    limiter: Mutex<SignInLimiter>,
    peaks: computed::Computed<peaks::Peaks>,
    flags: computed::Computed<Vec<crate::qa::Flag>>,
}

type Shared = Arc<App>;

/// Serves the pages on `listener` until the runtime stops.
pub async fn serve(listener: tokio::net::TcpListener, settings: WebSettings) -> Result<(), String> {
    let store = Store::open(&settings.data_dir).map_err(|e| e.to_string())?;
    let app = Arc::new(App {
        store,
        settings,
        limiter: Mutex::new(SignInLimiter::default()),
        peaks: computed::Computed::default(),
        flags: computed::Computed::default(),
    });
    let router = router(app);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .map_err(|e| format!("the QA pages stopped: {e}"))
}

fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/calls") }))
        .route("/signin", get(sign_in::form).post(sign_in::submit))
        .route("/signout", post(sign_in::sign_out))
        .route("/lang/{code}", get(sign_in::choose_language))
        .route("/calls", get(calls_list::page))
        .route("/calls/{id}", get(call_page::page))
        .route("/calls/{id}/recording.wav", get(recording_files::wav))
        .route("/calls/{id}/peaks.json", get(recording_files::peaks))
        .route("/calls/{id}/export.json", get(recording_files::export))
        .route("/calls/{id}/score", post(scoring::save_score))
        .route("/calls/{id}/flags", post(scoring::override_flag))
        .route("/totals", get(scoring::totals))
        .route("/assets/replay.js", get(replay_js))
        .route("/assets/style.css", get(style_css))
        .fallback(rejections::not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(app)
}

const REPLAY_JS: &str = include_str!("assets/replay.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

async fn replay_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        REPLAY_JS,
    )
        .into_response()
}

async fn style_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLE_CSS,
    )
        .into_response()
}

/// Pages are never cached, framed, or sniffed; scripts and styles come only from here.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "same-origin");
    set(
        headers,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         media-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; \
         base-uri 'none'",
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, "cache-control", "no-store");
    }
    response
}

/// The language of the page for these request headers.
pub(crate) fn lang_of(headers: &HeaderMap) -> Lang {
    let cookies = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Lang::choose(
        auth::cookie(cookies, text::LANG_COOKIE),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// A signed-in request's session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub user: User,
    pub csrf: String,
    pub lang: Lang,
}

/// What a request without a valid session gets: pages go to the sign-in page, the
/// recording and JSON endpoints get 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    Page,
    Api,
}

/// Runs `work` on the blocking pool with the app (database and file work).
pub(crate) async fn blocking<T: Send + 'static>(
    app: &Shared,
    work: impl FnOnce(&App) -> T + Send + 'static,
) -> Result<T, Response> {
    let app = Arc::clone(app);
    tokio::task::spawn_blocking(move || work(&app))
        .await
        .map_err(|_| server_error("a background task failed"))
}

/// 500, with the cause logged (escaped by the log layer), not shown.
pub(crate) fn server_error(what: &str) -> Response {
    tracing::error!(error = %what, "QA pages: internal error");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

pub(crate) fn store_error(error: StoreError) -> Response {
    server_error(&error.to_string())
}

/// The session of the request, or the answer for one without.
pub(crate) async fn signed_in(
    app: &Shared,
    headers: &HeaderMap,
    gate: Gate,
    path: &str,
) -> Result<Session, Response> {
    let lang = lang_of(headers);
    let id = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| auth::cookie(c, auth::SESSION_COOKIE))
        .filter(|id| auth::well_formed_token(id))
        .map(str::to_string);
    let refuse = || match gate {
        Gate::Api => (StatusCode::UNAUTHORIZED, "sign in first").into_response(),
        Gate::Page => {
            Redirect::to(&format!("/signin?next={}", text::url_component(path))).into_response()
        }
    };
    let Some(id) = id else {
        return Err(refuse());
    };
    let found = blocking(app, move |app| -> Result<Option<Session>, StoreError> {
        let hash = auth::session_id_hash(&id);
        let Some(session) = app.store.session(&hash)? else {
            return Ok(None);
        };
        let now = jiff::Timestamp::now();
        if app
            .settings
            .sessions
            .expired(session.created_at, session.last_seen, now)
        {
            app.store.delete_session(&hash)?;
            return Ok(None);
        }
        // One write a minute at most per session.
        if now.duration_since(session.last_seen).as_secs() >= 60 {
            app.store.touch_session(&hash, now)?;
        }
        let Some(role) = auth::Role::parse(&session.user.role) else {
            return Ok(None);
        };
        Ok(Some(Session {
            user: User {
                name: session.user.name,
                role,
                agent: session.user.agent,
            },
            csrf: session.csrf_token,
            lang,
        }))
    })
    .await?
    .map_err(store_error)?;
    found.ok_or_else(refuse)
}

/// 403 for a form posted without the session's CSRF token.
pub(crate) fn check_csrf(session: &Session, submitted: Option<&str>) -> Result<(), Response> {
    if auth::csrf_matches(&session.csrf, submitted) {
        Ok(())
    } else {
        Err((
            StatusCode::FORBIDDEN,
            Html(format!("<p>{}</p>", session.lang.t("forbidden"))),
        )
            .into_response())
    }
}

/// A whole page: header with navigation, the user, the language switch and sign-out.
pub(crate) fn layout(
    lang: Lang,
    session: Option<&Session>,
    here: &str,
    title: &str,
    body: &str,
) -> Html<String> {
    let mut nav = String::new();
    if let Some(session) = session {
        nav.push_str(&format!(
            "<nav><a href=\"/calls\">{}</a> <a href=\"/calls?day=yesterday\" id=\"yesterday\">{}</a>",
            lang.t("calls"),
            lang.t("yesterday"),
        ));
        if session.user.role.may_score() {
            nav.push_str(&format!(" <a href=\"/totals\">{}</a>", lang.t("totals")));
        }
        nav.push_str(&format!(
            " <span class=\"who\">{} ({})</span>\
             <form method=\"post\" action=\"/signout\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\">{}</button></form></nav>",
            esc(&session.user.name),
            lang.t(&format!("role_{}", session.user.role.as_str())),
            esc(&session.csrf),
            lang.t("sign_out"),
        ));
    }
    let back = text::url_component(here);
    Html(format!(
        "<!DOCTYPE html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {app}</title><link rel=\"stylesheet\" href=\"/assets/style.css\">\
         </head><body><header><strong>{app}</strong> {nav}\
         <span class=\"langs\"><a href=\"/lang/en?back={back}\" lang=\"en\">English</a> · \
         <a href=\"/lang/zh?back={back}\" lang=\"zh\">中文</a></span></header>\
         <main>{body}</main></body></html>",
        code = lang.code(),
        title = esc(title),
        app = lang.t("title"),
    ))
}

/// Where a request may send the browser back to: a path on this site only.
pub(crate) fn local_path(target: &str) -> &str {
    let ok = target.starts_with('/')
        && !target.starts_with("//")
        && !target.starts_with("/\\")
        && !target.chars().any(|c| c.is_control());
    if ok {
        target
    } else {
        "/calls"
    }
}

/// The path and query of the request, for sign-in's way back.
pub(crate) fn path_of(request: &Request) -> String {
    request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert_eq!(local_path("/calls/abc?x=1"), "/calls/abc?x=1");
        assert_eq!(local_path("//evil.example/"), "/calls");
        assert_eq!(local_path("/\\evil.example"), "/calls");
        assert_eq!(local_path("https://evil.example/"), "/calls");
        assert_eq!(local_path("/a\r\nSet-Cookie: x"), "/calls");
    }
}
