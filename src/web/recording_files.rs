//! A call's files for the browser: the recording (WAV, with HTTP Range so the player
//! seeks; streamed from the blocking pool, never read whole into memory), the waveform's
//! peaks (JSON), and the export (the record, flags and scores as JSON; the WAV is the
//! second download). Each answers 401 without a session and 404 for a call the user may
//! not see, exactly as for one that does not exist.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::range::{self, RangeAnswer};
use super::rejections::CallId;
use super::{blocking, signed_in, store_error, Gate, Session, Shared};
use crate::store::{CallRecord, RecordingState};

/// The call if it exists and this user may see it.
pub(crate) async fn visible_call(
    app: &Shared,
    session: &Session,
    id: String,
) -> Result<CallRecord, Response> {
    let found = blocking(app, move |app| app.store.call(&id))
        .await?
        .map_err(store_error)?;
    match found {
        Some(record) if session.user.may_see(&record.summary) => Ok(record),
        _ => Err(call_not_found(session)),
    }
}

/// A call that does not exist, or that this user may not see (the two look alike): the
/// site's page with a sentence and the way back to the list.
pub(crate) fn call_not_found(session: &Session) -> Response {
    let lang = session.lang;
    let body = format!(
        "<h1>{}</h1><p>{}</p><p><a href=\"/calls\">{}</a></p>",
        lang.t("not_found"),
        lang.t("call_not_found"),
        lang.t("calls")
    );
    (
        StatusCode::NOT_FOUND,
        super::layout(lang, Some(session), "/calls", lang.t("not_found"), &body),
    )
        .into_response()
}

/// The recording's file, when it has one on disk.
pub(crate) fn recording_path(app: &super::App, record: &CallRecord) -> Option<PathBuf> {
    let recording = record.recording.as_ref()?;
    if recording.state == RecordingState::Deleted
        || recording.file.split(['/', '\\']).any(|part| part == "..")
        || recording.file.starts_with('/')
    {
        return None;
    }
    Some(crate::recording::absolute_path(
        &app.settings.data_dir,
        &recording.file,
    ))
}

#[derive(Deserialize)]
pub(super) struct WavQuery {
    download: Option<String>,
}

/// Bytes read per chunk of a streamed answer.
const CHUNK: usize = 64 * 1024;

pub(super) async fn wav(
    State(app): State<Shared>,
    CallId(id): CallId,
    Query(query): Query<WavQuery>,
    headers: HeaderMap,
) -> Response {
    let session = match signed_in(&app, &headers, Gate::Api, "").await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let record = match visible_call(&app, &session, id).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let not_found = || (StatusCode::NOT_FOUND, session.lang.t("no_recording")).into_response();
    let Some(path) = recording_path(&app, &record) else {
        return not_found();
    };
    let range_header = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let opened = blocking(&app, move |_| -> std::io::Result<(File, u64)> {
        let file = File::open(&path)?;
        let len = file.metadata()?.len();
        Ok((file, len))
    })
    .await;
    let (mut file, len) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(_)) => return not_found(),
        Err(response) => return response,
    };
    let (status, start, end) = match range::answer(range_header.as_deref(), len) {
        RangeAnswer::Unsatisfiable => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [
                    (header::CONTENT_RANGE, format!("bytes */{len}")),
                    (header::ACCEPT_RANGES, "bytes".to_string()),
                ],
            )
                .into_response()
        }
        RangeAnswer::Whole => (StatusCode::OK, 0, len.saturating_sub(1)),
        RangeAnswer::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    // A reader on the blocking pool feeds a small channel; the body drains it.
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = file.seek(SeekFrom::Start(start)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let mut left = count;
        let mut reader = BufReader::with_capacity(CHUNK, file);
        while left > 0 {
            let mut chunk = vec![0u8; CHUNK.min(left as usize)];
            match reader.read_exact(&mut chunk) {
                Ok(()) => {
                    left -= chunk.len() as u64;
                    if tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "audio/wav")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, count.to_string())
        .header(header::CACHE_CONTROL, "private, no-store");
    if status == StatusCode::PARTIAL_CONTENT {
        response = response.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
    }
    if query.download.is_some() {
        response = response.header(
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}.wav\"",
                safe_file_name(&record.summary.id)
            ),
        );
    }
    response
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| super::server_error("cannot build the recording's response"))
}

/// A call id as a file name: letters, digits, '-' and '_' only.
pub(crate) fn safe_file_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Deserialize)]
pub(super) struct PeaksQuery {
    /// Read here, not by the framework, so a bad value gets the site's sentence.
    buckets: Option<String>,
}

pub(super) async fn peaks(
    State(app): State<Shared>,
    CallId(id): CallId,
    Query(query): Query<PeaksQuery>,
    headers: HeaderMap,
) -> Response {
    let session = match signed_in(&app, &headers, Gate::Api, "").await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let record = match visible_call(&app, &session, id).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let Some(path) = recording_path(&app, &record) else {
        return (StatusCode::NOT_FOUND, session.lang.t("no_recording")).into_response();
    };
    let buckets = match query.buckets.as_deref().map(str::trim) {
        None | Some("") => super::peaks::DEFAULT_BUCKETS,
        Some(text) => match text.parse::<usize>() {
            // More than MAX_BUCKETS are drawn as MAX_BUCKETS.
            Ok(n) if n >= 1 => n,
            _ => return (StatusCode::BAD_REQUEST, session.lang.t("buckets_range")).into_response(),
        },
    };
    let call_id = record.summary.id.clone();
    let computed = blocking(
        &app,
        move |app| -> std::io::Result<std::sync::Arc<super::peaks::Peaks>> {
            let file = File::open(&path)?;
            let len = file.metadata()?.len();
            let key = format!("{call_id}|{buckets}|{len}");
            if let Some(peaks) = app.peaks.get(&key) {
                return Ok(peaks);
            }
            let peaks = std::sync::Arc::new(super::peaks::compute(
                &mut BufReader::with_capacity(CHUNK, file),
                len,
                buckets,
            )?);
            app.peaks.put(key, std::sync::Arc::clone(&peaks));
            Ok(peaks)
        },
    )
    .await;
    match computed {
        Ok(Ok(peaks)) => axum::Json(&*peaks).into_response(),
        Ok(Err(_)) => (StatusCode::NOT_FOUND, session.lang.t("no_recording")).into_response(),
        Err(response) => response,
    }
}

pub(super) async fn export(
    State(app): State<Shared>,
    CallId(id): CallId,
    headers: HeaderMap,
) -> Response {
    let session = match signed_in(&app, &headers, Gate::Api, "").await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let record = match visible_call(&app, &session, id).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let file_name = safe_file_name(&record.summary.id);
    let call_id = record.summary.id.clone();
    let qa = match blocking(&app, move |app| super::scoring::qa_of(app, &call_id)).await {
        Ok(qa) => qa,
        Err(response) => return response,
    };
    let body = serde_json::json!({
        "call": record,
        "flags": qa.flags,
        "scores": qa.scores,
        "flags_error": qa.error,
    });
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}.json\""),
            ),
        ],
        serde_json::to_string_pretty(&body).unwrap_or_default(),
    )
        .into_response()
}
