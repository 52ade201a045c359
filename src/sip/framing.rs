//! Stream framing (RFC 3261 §18.3): where one SIP message ends in a TCP byte stream, the CRLF
//! keep-alives (RFC 5626 §3.5.1) between messages, and the refusal sent for a message that
//! cannot be framed. Pure functions over bytes; the `net` driver owns the connections, reads
//! into a [`StreamFramer`] and closes the connection after a [`FrameError`].
//!
//! The rules on a stream, stricter than on UDP because a wrong length desynchronises every
//! message after it: each message carries exactly one Content-Length (a message without one,
//! or with two, is refused — the parser reads the first and a lenient framer the last, so a
//! request hidden in a body would run), and a whole message is at most
//! [`MAX_STREAM_MESSAGE_BYTES`], the same as the largest UDP datagram.

use std::fmt::Write as _;

use thiserror::Error;

use super::message::{MAX_MESSAGE_BYTES, USER_AGENT};

/// Largest message (header section and body) accepted on a stream.
pub const MAX_STREAM_MESSAGE_BYTES: usize = MAX_MESSAGE_BYTES;
/// A header section cannot be longer than a whole message.
pub const MAX_HEADER_BYTES: usize = MAX_STREAM_MESSAGE_BYTES;

/// Why the bytes on a stream are not a message; the connection is closed after it.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("SIP header section exceeds {MAX_HEADER_BYTES} bytes without an empty line")]
    HeadersTooLarge,
    #[error("SIP message on a stream without Content-Length")]
    MissingContentLength,
    #[error("SIP message with more than one Content-Length")]
    DuplicateContentLength,
    #[error("Content-Length header is not a number: {0:?}")]
    InvalidContentLength(String),
    #[error("Content-Length {0} makes the message exceed {MAX_STREAM_MESSAGE_BYTES} bytes")]
    BodyTooLarge(usize),
}

impl FrameError {
    /// The status and reason phrase the refusal carries.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            FrameError::HeadersTooLarge => (513, "Message Too Large"),
            FrameError::BodyTooLarge(_) => (413, "Request Entity Too Large"),
            FrameError::MissingContentLength => (400, "Missing Content-Length"),
            FrameError::DuplicateContentLength => (400, "Duplicate Content-Length"),
            FrameError::InvalidContentLength(_) => (400, "Bad Content-Length"),
        }
    }
}

/// How far the framer got with the message at the front of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    /// No empty line in the first `searched` bytes yet.
    Head { searched: usize },
    /// The header section is complete; the message is `total` bytes long.
    Body { total: usize },
}

/// The bytes received on one connection that do not form a whole message yet. Remembers how
/// far it searched, so a message arriving a byte at a time costs linear, not quadratic, time.
pub struct StreamFramer {
    buf: Vec<u8>,
    progress: Progress,
}

impl Default for StreamFramer {
    fn default() -> Self {
        StreamFramer::new()
    }
}

impl StreamFramer {
    pub fn new() -> Self {
        StreamFramer {
            buf: Vec::new(),
            progress: Progress::Head { searched: 0 },
        }
    }

    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame: a message, or a run of CRLFs (`\r\n\r\n` alone is a keep-alive
    /// ping for the endpoint to answer). `None` until more bytes arrive. After an error the
    /// stream cannot be resynchronised: the caller refuses and closes.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let (len, progress) = frame_len(&self.buf, self.progress)?;
        self.progress = progress;
        Ok(len.map(|len| {
            self.progress = Progress::Head { searched: 0 };
            self.buf.drain(..len).collect()
        }))
    }

    /// True while part of a message (anything but CR and LF) waits for more bytes.
    pub fn in_message(&self) -> bool {
        self.buf.iter().any(|b| *b != b'\r' && *b != b'\n')
    }

    /// What is buffered (after an error: the refused message's beginning).
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }
}

/// How many bytes the first complete SIP message in a TCP stream occupies (header section
/// plus its Content-Length body), or `None` if more bytes are needed. CRLFs before a message
/// come back as a frame of their own: a double CRLF is handed over alone, so the endpoint can
/// answer the keep-alive ping with a CRLF; a partial `\r\n\r\n` waits for the rest.
pub fn stream_frame_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    frame_len(buf, Progress::Head { searched: 0 }).map(|(len, _)| len)
}

fn frame_len(buf: &[u8], progress: Progress) -> Result<(Option<usize>, Progress), FrameError> {
    const PING: &[u8] = b"\r\n\r\n";
    let blank = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if buf.starts_with(PING) {
        return Ok((Some(PING.len()), progress));
    }
    if blank > 0 {
        if blank == buf.len() && PING.starts_with(buf) {
            return Ok((None, progress));
        }
        return Ok((Some(blank), progress));
    }
    let total = match progress {
        Progress::Body { total } => total,
        Progress::Head { searched } => {
            let from = searched.saturating_sub(PING.len() - 1);
            let limit = buf.len().min(MAX_HEADER_BYTES);
            let Some(at) = find_subslice(&buf[from.min(limit)..limit], PING) else {
                if buf.len() >= MAX_HEADER_BYTES {
                    return Err(FrameError::HeadersTooLarge);
                }
                return Ok((None, Progress::Head { searched: limit }));
            };
            let head_len = from + at;
            let content_length = content_length(&buf[..head_len])?;
            let total = head_len + PING.len() + content_length;
            if total > MAX_STREAM_MESSAGE_BYTES {
                return Err(FrameError::BodyTooLarge(content_length));
            }
            total
        }
    };
    if buf.len() >= total {
        Ok((Some(total), Progress::Head { searched: 0 }))
    } else {
        Ok((None, Progress::Body { total }))
    }
}

/// The one Content-Length of a header section (RFC 3261 §18.3: mandatory on streams).
fn content_length(head: &[u8]) -> Result<usize, FrameError> {
    let mut found = None;
    for (name, value) in header_lines(head) {
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        if found.is_some() {
            return Err(FrameError::DuplicateContentLength);
        }
        let valid = !value.is_empty() && value.len() <= 10 && value.iter().all(u8::is_ascii_digit);
        let parsed = std::str::from_utf8(value)
            .ok()
            .filter(|_| valid)
            .and_then(|text| text.parse::<usize>().ok());
        match parsed {
            Some(length) => found = Some(length),
            None => {
                let shown = String::from_utf8_lossy(&value[..value.len().min(32)]).into_owned();
                return Err(FrameError::InvalidContentLength(shown));
            }
        }
    }
    found.ok_or(FrameError::MissingContentLength)
}

/// The header lines after the start line as (name, value), both trimmed; folded lines
/// (starting with a space or tab) are not headers of their own and are skipped.
fn header_lines(head: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    head.split(|b| *b == b'\n').skip(1).filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            return None;
        }
        let colon = line.iter().position(|b| *b == b':')?;
        Some((trim_ascii(&line[..colon]), trim_ascii(&line[colon + 1..])))
    })
}

/// The response to a request the framer refused, from the header lines received so far: Via,
/// From, To, Call-ID and CSeq copied (RFC 3261 §8.2.6.2) with `to_tag` added to a To without
/// one. `None` when the bytes are not a request, are an ACK, or lack one of those headers or
/// carry control characters in them — the connection is then closed without an answer.
pub fn stream_refusal(received: &[u8], error: &FrameError, to_tag: &str) -> Option<Vec<u8>> {
    let complete = match received.iter().rposition(|b| *b == b'\n') {
        Some(last) => &received[..last + 1],
        None => return None,
    };
    let head = match find_subslice(complete, b"\r\n\r\n") {
        Some(end) => &complete[..end + 2],
        None => complete,
    };
    let start_line = head.split(|b| *b == b'\n').next()?;
    let start_line = start_line.strip_suffix(b"\r").unwrap_or(start_line);
    let method = start_line.split(|b| *b == b' ').next()?;
    if method.is_empty()
        || method.starts_with(b"SIP/")
        || method.eq_ignore_ascii_case(b"ACK")
        || !start_line.ends_with(b" SIP/2.0")
    {
        return None;
    }
    let mut vias = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    for (name, value) in header_lines(head) {
        let value = std::str::from_utf8(value).ok()?;
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return None;
        }
        let name = name.to_ascii_lowercase();
        match name.as_slice() {
            b"via" | b"v" => vias.push(value),
            b"from" | b"f" => from = from.or(Some(value)),
            b"to" | b"t" => to = to.or(Some(value)),
            b"call-id" | b"i" => call_id = call_id.or(Some(value)),
            b"cseq" => cseq = cseq.or(Some(value)),
            _ => {}
        }
    }
    let (from, to, call_id, cseq) = (from?, to?, call_id?, cseq?);
    if vias.is_empty() {
        return None;
    }
    let (status, reason) = error.status();
    let mut out = format!("SIP/2.0 {status} {reason}\r\n");
    for via in vias {
        let _ = write!(out, "Via: {via}\r\n");
    }
    let tagged = if to.to_ascii_lowercase().contains(";tag=") {
        to.to_owned()
    } else {
        format!("{to};tag={to_tag}")
    };
    let _ = write!(
        out,
        "From: {from}\r\nTo: {tagged}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n\
Server: {USER_AGENT}\r\nContent-Length: 0\r\n\r\n"
    );
    Some(out.into_bytes())
}

fn find_subslice(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim_ascii(mut bytes: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = bytes {
        if first.is_ascii_whitespace() {
            bytes = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = bytes {
        if last.is_ascii_whitespace() {
            bytes = rest;
        } else {
            break;
        }
    }
    bytes
}

#[cfg(test)]
mod tests;
