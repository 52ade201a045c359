//! What a request the handlers cannot read gets: the site's own page, in the reader's
//! language, with the way back — never the framework's English text ("Failed to
//! deserialize query string…", "Invalid URL…"). [`CallId`] takes a call's URL, [`FormOf`]
//! a posted form; an address nobody routes gets [`not_found`].

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::de::DeserializeOwned;

use super::text::Lang;
use super::{lang_of, layout};

/// The site's page for a request it cannot serve: `status`, a heading and a sentence in
/// the reader's language, and the way back to the call list.
pub(crate) fn refusal(lang: Lang, status: StatusCode, heading: &str, why: &str) -> Response {
    let body = format!(
        "<h1>{heading}</h1><p>{why}</p><p><a href=\"/calls\">{}</a></p>",
        lang.t("calls")
    );
    (status, layout(lang, None, "/calls", heading, &body)).into_response()
}

/// An address no page has.
pub(crate) async fn not_found(headers: HeaderMap) -> Response {
    let lang = lang_of(&headers);
    refusal(
        lang,
        StatusCode::NOT_FOUND,
        lang.t("not_found"),
        lang.t("no_such_page"),
    )
}

/// The `{id}` of a call's address. One that is not text (a bad percent-encoding such as
/// `/calls/%ff`) names no call: 404, like any call that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CallId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(CallId(id)),
            Err(_) => {
                let lang = lang_of(&parts.headers);
                Err(refusal(
                    lang,
                    StatusCode::NOT_FOUND,
                    lang.t("not_found"),
                    lang.t("call_not_found"),
                ))
            }
        }
    }
}

/// A posted form. One the server cannot read (not a form, too large, a field missing or
/// malformed) keeps the framework's status code and says, in the site's words, to send it
/// again from its page.
#[derive(Debug, Clone)]
pub(crate) struct FormOf<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for FormOf<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let lang = lang_of(request.headers());
        match Form::<T>::from_request(request, state).await {
            Ok(Form(value)) => Ok(FormOf(value)),
            Err(rejection) => Err(refusal(
                lang,
                rejection.status(),
                lang.t("form_unreadable"),
                lang.t("form_send_again"),
            )),
        }
    }
}
