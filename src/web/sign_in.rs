//! The sign-in page, signing in (password check on the blocking pool, failed sign-ins
//! limited per name and per address, and per device for a browser that signed in as that
//! user before), signing out, and the language switch.
//!
//! The sign-in form carries its own CSRF token before any session exists (a double-submit
//! token: the form's hidden field must equal the `hotline_signin` cookie, HttpOnly and
//! SameSite=Strict), so another site cannot post its own name and password here and sign a
//! reviewer's browser in as someone else (login CSRF).

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::Deserialize;

use super::auth::{self, Signer};
use super::rejections::FormOf;
use super::text::{esc, Lang, LANG_COOKIE};
use super::{blocking, layout, local_path, signed_in, store_error, Gate, Shared};

#[derive(Deserialize)]
pub(super) struct Next {
    next: Option<String>,
}

/// The cookie holding the sign-in form's token.
pub const FORM_COOKIE: &str = "hotline_signin";

/// The device token the browser holds, if it looks like one of ours.
fn device_token_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| auth::cookie(c, auth::DEVICE_COOKIE))
        .filter(|t| auth::well_formed_token(t))
        .map(str::to_string)
}

/// The sign-in form's token the browser already holds, if it looks like one of ours.
fn form_token_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| auth::cookie(c, FORM_COOKIE))
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
}

pub(super) async fn form(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(next): Query<Next>,
) -> Response {
    let lang = super::lang_of(&headers);
    let token = form_token_of(&headers).unwrap_or_else(auth::random_token);
    sign_in_page(
        lang,
        next.next.as_deref().unwrap_or("/calls"),
        &token,
        app.settings.secure_cookies,
        None,
        StatusCode::OK,
    )
}

/// The sign-in page with `token` in its form and in the cookie it is checked against.
fn sign_in_page(
    lang: Lang,
    next: &str,
    token: &str,
    secure: bool,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let problem = problem
        .map(|p| format!("<p class=\"problem\" role=\"alert\">{}</p>", esc(p)))
        .unwrap_or_default();
    let body = format!(
        "<h1>{title}</h1>{problem}<form method=\"post\" action=\"/signin\" class=\"signin\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label>{name} <input name=\"name\" autocomplete=\"username\" required maxlength=\"64\"></label>\
         <label>{password} <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"1024\"></label>\
         <button type=\"submit\">{title}</button></form>",
        title = lang.t("sign_in"),
        token = esc(token),
        next = esc(local_path(next)),
        name = lang.t("name"),
        password = lang.t("password"),
    );
    let cookie = format!(
        "{FORM_COOKIE}={token}; Path=/signin; HttpOnly; SameSite=Strict; Max-Age=86400{}",
        if secure { "; Secure" } else { "" }
    );
    (
        status,
        [(header::SET_COOKIE, cookie)],
        layout(lang, None, "/signin", lang.t("sign_in"), &body),
    )
        .into_response()
}

#[derive(Deserialize)]
pub(super) struct SignIn {
    name: String,
    password: String,
    next: Option<String>,
    csrf: Option<String>,
}

/// What a sign-in attempt came to.
enum Attempt {
    Limited,
    Wrong,
    /// A session id, and a device token when this browser was not trusted yet.
    Session(String, Option<String>),
}

pub(super) async fn submit(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    FormOf(form): FormOf<SignIn>,
) -> Response {
    let lang = super::lang_of(&headers);
    let next = local_path(form.next.as_deref().unwrap_or("/calls")).to_string();
    let secure = app.settings.secure_cookies;
    let address =
        super::forwarded::client_address(peer.ip(), &headers, &app.settings.trusted_proxies);
    let Some(token) =
        form_token_of(&headers).filter(|token| auth::csrf_matches(token, form.csrf.as_deref()))
    else {
        tracing::info!(address = %address, "QA pages: sign-in without the form's token refused");
        return sign_in_page(
            lang,
            &next,
            &auth::random_token(),
            secure,
            Some(lang.t("stale_sign_in")),
            StatusCode::FORBIDDEN,
        );
    };
    let name = form.name.clone();
    let device_token = device_token_of(&headers);
    let attempt = blocking(
        &app,
        move |app| -> Result<Attempt, crate::store::StoreError> {
            let now = jiff::Timestamp::now();
            // A device cookie counts only for the name it was given to.
            let trusted_since =
                now - jiff::SignedDuration::try_from(auth::DEVICE_TRUSTED_FOR).unwrap_or_default();
            let trusted_device = match device_token.as_deref() {
                Some(token) => {
                    let hash = auth::session_id_hash(token);
                    app.store
                        .device_user(&hash, trusted_since)?
                        .filter(|user| *user == name)
                        .map(|_| hash)
                }
                None => None,
            };
            let signer = match trusted_device.as_deref() {
                Some(hash) => Signer::TrustedDevice(hash),
                None => Signer::Address(address),
            };
            {
                let limiter = app
                    .limiter
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if !limiter.allowed(&name, signer, Instant::now()) {
                    return Ok(Attempt::Limited);
                }
            }
            let user = if name.len() <= 64 {
                app.store.user(&name)?
            } else {
                None
            };
            // An unknown name costs the same Argon2 check as a known one.
            let hash = user
                .as_ref()
                .map(|u| u.password_hash.as_str())
                .unwrap_or(auth::dummy_hash());
            let right = auth::verify_password(&form.password, hash) && user.is_some();
            let mut limiter = app
                .limiter
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if !right {
                limiter.failed(&name, signer, Instant::now());
                return Ok(Attempt::Wrong);
            }
            limiter.succeeded(&name, signer);
            drop(limiter);
            let limits = app.settings.sessions;
            let idle_before = now - jiff::SignedDuration::try_from(limits.idle).unwrap_or_default();
            let started_before =
                now - jiff::SignedDuration::try_from(limits.absolute).unwrap_or_default();
            app.store
                .delete_expired_sessions(idle_before, started_before)?;
            let id = auth::random_token();
            app.store.create_session(
                &auth::session_id_hash(&id),
                &name,
                &auth::random_token(),
                now,
            )?;
            // This browser is trusted for this user from now on.
            let new_device = match trusted_device {
                Some(_) => None,
                None => {
                    let token = auth::random_token();
                    app.store.trust_device(
                        &auth::session_id_hash(&token),
                        &name,
                        now,
                        auth::DEVICES_PER_USER,
                    )?;
                    Some(token)
                }
            };
            Ok(Attempt::Session(id, new_device))
        },
    )
    .await;
    let attempt = match attempt {
        Ok(Ok(attempt)) => attempt,
        Ok(Err(error)) => return store_error(error),
        Err(response) => return response,
    };
    match attempt {
        Attempt::Limited => {
            tracing::warn!(address = %address, "QA pages: sign-in refused, too many failures");
            sign_in_page(
                lang,
                &next,
                &token,
                secure,
                Some(lang.t("too_many")),
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
        Attempt::Wrong => {
            tracing::info!(address = %address, "QA pages: failed sign-in");
            sign_in_page(
                lang,
                &next,
                &token,
                secure,
                Some(lang.t("bad_sign_in")),
                StatusCode::UNAUTHORIZED,
            )
        }
        Attempt::Session(id, new_device) => {
            let cookie = auth::session_cookie(&id, &app.settings.sessions, secure);
            // The form's token is spent: the next sign-in form gets a new one.
            let spent = format!(
                "{FORM_COOKIE}=; Path=/signin; HttpOnly; SameSite=Strict; Max-Age=0{}",
                if secure { "; Secure" } else { "" }
            );
            let mut headers = vec![
                (header::SET_COOKIE, cookie),
                (header::SET_COOKIE, spent),
                (header::LOCATION, next),
            ];
            if let Some(token) = new_device {
                headers.push((header::SET_COOKIE, auth::device_cookie(&token, secure)));
            }
            (StatusCode::SEE_OTHER, AppendHeaders(headers)).into_response()
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Csrf {
    csrf: Option<String>,
}

pub(super) async fn sign_out(
    State(app): State<Shared>,
    headers: HeaderMap,
    FormOf(form): FormOf<Csrf>,
) -> Response {
    let session = match signed_in(&app, &headers, Gate::Page, "/calls").await {
        Ok(session) => session,
        Err(response) => return response,
    };
    if let Err(response) = super::check_csrf(&session, form.csrf.as_deref()) {
        return response;
    }
    let id = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| auth::cookie(c, auth::SESSION_COOKIE))
        .map(str::to_string)
        .unwrap_or_default();
    let ended = blocking(&app, move |app| {
        app.store.delete_session(&auth::session_id_hash(&id))
    })
    .await;
    match ended {
        Ok(Ok(())) => (
            StatusCode::SEE_OTHER,
            [
                (
                    header::SET_COOKIE,
                    auth::cleared_session_cookie(app.settings.secure_cookies),
                ),
                (header::LOCATION, "/signin".to_string()),
            ],
        )
            .into_response(),
        Ok(Err(error)) => store_error(error),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
pub(super) struct Back {
    back: Option<String>,
}

/// Sets the language cookie (a year) and goes back to the page.
pub(super) async fn choose_language(
    Path(code): Path<String>,
    Query(back): Query<Back>,
) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let back = local_path(back.back.as_deref().unwrap_or("/calls")).to_string();
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!(
                    "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
                    lang.code()
                ),
            ),
            (header::LOCATION, back),
        ],
    )
        .into_response()
}
