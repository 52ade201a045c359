//! Stream framing (RFC 3261 §18.3): where one SIP message ends in a TCP byte stream, and the
//! CRLF keep-alives (RFC 5626 §3.5.1) between messages. Pure functions over bytes; the `net`
//! driver owns the connections and their buffers.

use thiserror::Error;

/// Header section larger than this is refused by the stream framer.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// A body larger than this cannot be a telephony SDP or INFO: refused rather than buffered.
const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("SIP header section exceeds {MAX_HEADER_BYTES} bytes without an empty line")]
    HeadersTooLarge,
    #[error("Content-Length header is not a number: {0:?}")]
    InvalidContentLength(String),
    #[error("Content-Length {0} exceeds the {MAX_BODY_BYTES} byte limit")]
    BodyTooLarge(usize),
}

/// How many bytes the first complete SIP message in a TCP stream occupies (header section
/// plus Content-Length body; no Content-Length means no body), or `None` if more bytes are
/// needed. Leading CRLF keep-alives come back as a frame of their own: the driver passes
/// every frame to `Endpoint::handle_input`, which ignores them (and answers a double-CRLF
/// ping with a CRLF).
pub fn stream_frame_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    let keep_alive = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if keep_alive > 0 {
        // Handed over as a frame of its own, so the endpoint can answer a double-CRLF ping.
        return Ok(Some(keep_alive));
    }
    let search_limit = buf.len().min(MAX_HEADER_BYTES + 4);
    let Some(head_len) = find_subslice(&buf[..search_limit], b"\r\n\r\n") else {
        if buf.len() > MAX_HEADER_BYTES {
            return Err(FrameError::HeadersTooLarge);
        }
        return Ok(None);
    };
    let head = &buf[..head_len];
    let mut content_length = 0usize;
    for line in head.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = trim_ascii(&line[..colon]);
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let value = trim_ascii(&line[colon + 1..]);
            let text = String::from_utf8_lossy(value).into_owned();
            content_length = text
                .parse::<usize>()
                .map_err(|_| FrameError::InvalidContentLength(text.clone()))?;
            if content_length > MAX_BODY_BYTES {
                return Err(FrameError::BodyTooLarge(content_length));
            }
        }
    }
    let total = head_len + 4 + content_length;
    Ok(if buf.len() >= total {
        Some(total)
    } else {
        None
    })
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
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:4008@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Caller, A\" <sip:1000@127.0.0.1:5070>;tag=abc\r\n\
To: <sip:4008@127.0.0.1:5060>\r\n\
Call-ID: c1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1000@127.0.0.1:5070>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

    #[test]
    fn stream_frame_counts_headers_and_body() {
        let msg = INVITE.as_bytes();
        assert_eq!(stream_frame_len(msg), Ok(Some(msg.len())));
        assert_eq!(stream_frame_len(&msg[..msg.len() - 1]), Ok(None));
        let mut two = msg.to_vec();
        two.extend_from_slice(b"OPTIONS");
        assert_eq!(stream_frame_len(&two), Ok(Some(msg.len())));
    }

    #[test]
    fn stream_frame_consumes_keep_alives_first() {
        assert_eq!(stream_frame_len(b"\r\n\r\nINVITE"), Ok(Some(4)));
        assert_eq!(stream_frame_len(b"\r\n\r\n"), Ok(Some(4)));
        assert_eq!(stream_frame_len(b""), Ok(None));
    }

    #[test]
    fn stream_frame_refuses_endless_headers() {
        let mut big = b"INVITE sip:a SIP/2.0\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'x', MAX_HEADER_BYTES + 10));
        assert_eq!(stream_frame_len(&big), Err(FrameError::HeadersTooLarge));
        let bad = b"BYE sip:a SIP/2.0\r\nContent-Length: lots\r\n\r\n";
        assert!(matches!(
            stream_frame_len(bad),
            Err(FrameError::InvalidContentLength(_))
        ));
    }
}
