//! The lenient SIP tokenizer: one message's bytes into a start line, unfolded header fields
//! and a body, as RFC 3261 7 and 25 describe them. It replaces rsip for inbound messages,
//! which refused valid input (folded lines, whitespace before the colon, escaped
//! characters, long values; RFC 4475 3.1.1) and put the whole message into its error text.
//!
//! Lenient where the grammar allows it (LWS and line folding anywhere in a field, header
//! names in any case, an empty reason phrase), strict where RFC 4475 wants a refusal (more
//! than one SP between the request line's parts, trailing SP, a Request-URI without a
//! scheme, a header line without a token name). Never panics, whatever the bytes.

/// The start line, split into its three parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum StartLine {
    Request {
        method: String,
        uri: String,
        version: String,
    },
    Response {
        status: u16,
    },
}

/// One tokenized message; header values are unfolded (each CRLF + LWS became one SP) and
/// trimmed, names keep their spelling.
#[derive(Debug)]
pub(super) struct Wire<'a> {
    pub start: StartLine,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// Why the bytes are no SIP message. `headers` holds what could still be read, so a request
/// with a broken start line can get its 400.
#[derive(Debug)]
pub(super) struct Broken {
    pub why: &'static str,
    /// The first line looks like a request (not `SIP/…`); its method if it has one.
    pub request_method: Option<String>,
    /// `SIP/x.y` with another version than 2.0 (answer 505).
    pub other_version: bool,
    pub headers: Vec<(String, String)>,
}

/// RFC 3261 25.1 `token` characters.
pub(super) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

pub(super) fn is_token(text: &str) -> bool {
    !text.is_empty() && text.chars().all(is_token_char)
}

pub(super) fn tokenize(bytes: &[u8]) -> Result<Wire<'_>, Broken> {
    let (head, body, terminated) = match find(bytes, b"\r\n\r\n") {
        Some(end) => (&bytes[..end], &bytes[end + 4..], true),
        // Without the empty line the message was cut short: still read what is there, so
        // a 400 can be formed.
        None => (bytes, &bytes[bytes.len()..], false),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("");
    let (headers, mut header_error) = header_fields(lines);
    if !terminated {
        header_error.get_or_insert("no empty line after the header section");
    }
    let start = start_line(first);
    match (start, header_error) {
        (Ok(start), None) => Ok(Wire {
            start,
            headers,
            body,
        }),
        (Ok(start), Some(why)) => Err(Broken {
            why,
            request_method: match start {
                StartLine::Request { method, .. } => Some(method),
                StartLine::Response { .. } => None,
            },
            other_version: false,
            headers,
        }),
        (Err(mut broken), _) => {
            broken.headers = headers;
            Err(broken)
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn start_line(line: &str) -> Result<StartLine, Broken> {
    let broken = |why, request_method, other_version| Broken {
        why,
        request_method,
        other_version,
        headers: Vec::new(),
    };
    if let Some(rest) = line.strip_prefix("SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let (version, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if version != "2.0" {
            return Err(broken("response of another SIP version", None, false));
        }
        let (code, _reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(broken("status code is not three digits", None, false));
        }
        let status: u16 = code.parse().unwrap_or(0);
        if !(100..=699).contains(&status) {
            return Err(broken("status code out of range", None, false));
        }
        return Ok(StartLine::Response { status });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version, exactly one SP each.
    let parts: Vec<&str> = line.split(' ').collect();
    let method = parts.first().copied().unwrap_or("");
    let method_owned = is_token(method).then(|| method.to_owned());
    let looks_like_request = method_owned.clone();
    let &[_, uri, version] = parts.as_slice() else {
        return Err(broken(
            "request line is not Method SP Request-URI SP SIP-Version",
            looks_like_request,
            false,
        ));
    };
    if method_owned.is_none() {
        return Err(broken("method is not a token", None, false));
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        let other_version = version
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
            && version[4..].split_once('.').is_some_and(|(major, minor)| {
                !major.is_empty()
                    && !minor.is_empty()
                    && major.bytes().all(|b| b.is_ascii_digit())
                    && minor.bytes().all(|b| b.is_ascii_digit())
            });
        return Err(broken(
            "unknown SIP version",
            looks_like_request,
            other_version,
        ));
    }
    if !has_scheme(uri) {
        return Err(broken(
            "Request-URI has no scheme",
            looks_like_request,
            false,
        ));
    }
    Ok(StartLine::Request {
        method: method.to_owned(),
        uri: uri.to_owned(),
        version: version.to_owned(),
    })
}

/// `scheme ":" …` with scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 3.1),
/// and no whitespace or control characters.
fn has_scheme(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
        && !uri.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// The header fields, unfolded. A line that is neither a continuation nor `token *LWS ":"`
/// makes the message malformed (the fields before it are still returned).
fn header_fields<'l>(
    lines: impl Iterator<Item = &'l str>,
) -> (Vec<(String, String)>, Option<&'static str>) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut error = None;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line.contains('\r') {
            // A CR that ends no line (quoted-pair excludes it too).
            error.get_or_insert("bare CR in a header line");
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match headers.last_mut() {
                Some((_, value)) => {
                    let more = line.trim();
                    if !more.is_empty() {
                        if !value.is_empty() {
                            value.push(' ');
                        }
                        value.push_str(more);
                    }
                }
                None => {
                    error.get_or_insert("continuation line before any header");
                }
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            error.get_or_insert("header line without a colon");
            continue;
        };
        let name = name.trim_end_matches([' ', '\t']);
        if !is_token(name) {
            error.get_or_insert("header name is not a token");
            continue;
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    (headers, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_lines_and_space_before_colon_are_one_field() {
        let wire = tokenize(
            b"OPTIONS sip:a@b SIP/2.0\r\ncseq: 0009\r\n  OPTIONS\r\nVia  : SIP  /   2.0\r\n /UDP\r\n    h;branch=x\r\ns :\r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(
            wire.headers,
            vec![
                ("cseq".to_owned(), "0009 OPTIONS".to_owned()),
                ("Via".to_owned(), "SIP  /   2.0 /UDP h;branch=x".to_owned()),
                ("s".to_owned(), String::new()),
            ]
        );
        assert_eq!(wire.body, b"body");
    }

    #[test]
    fn request_line_wants_exactly_one_space_between_three_parts() {
        for bad in [
            "INVITE  sip:a@b  SIP/2.0",
            "OPTIONS sip:a@b SIP/2.0  ",
            "INVITE sip:a@b; lr SIP/2.0",
            "INVITE <sip:a@b> SIP/2.0",
        ] {
            let text = format!("{bad}\r\nVia: SIP/2.0/UDP h;branch=z\r\n\r\n");
            let broken = tokenize(text.as_bytes()).unwrap_err();
            assert!(broken.request_method.is_some(), "{bad}: {}", broken.why);
            assert!(!broken.other_version);
            assert_eq!(broken.headers.len(), 1, "{bad}");
        }
    }

    #[test]
    fn a_request_uri_with_a_control_character_has_no_scheme() {
        let broken = tokenize(b"OPTIONS sip:a\x01b@host SIP/2.0\r\n\r\n").unwrap_err();
        assert_eq!(broken.why, "Request-URI has no scheme");
        assert!(tokenize(b"OPTIONS sip:ab@host SIP/2.0\r\n\r\n").is_ok());
    }

    #[test]
    fn another_sip_version_is_told_apart_from_garbage() {
        let broken = tokenize(b"OPTIONS sip:a@b SIP/7.0\r\n\r\n").unwrap_err();
        assert!(broken.other_version);
        let broken = tokenize(b"OPTIONS sip:a@b HTTP/1.1\r\n\r\n").unwrap_err();
        assert!(!broken.other_version);
    }

    #[test]
    fn status_codes_are_three_digits_in_range() {
        assert_eq!(
            tokenize(b"SIP/2.0 100 \r\n\r\n").unwrap().start,
            StartLine::Response { status: 100 }
        );
        assert!(tokenize(b"SIP/2.0 4294967301 big\r\n\r\n").is_err());
        assert!(tokenize(b"SIP/2.0 099 low\r\n\r\n").is_err());
    }

    #[test]
    fn a_header_line_without_a_token_name_is_refused() {
        let broken =
            tokenize(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\nFoobar roobar\r\n\r\n").unwrap_err();
        assert_eq!(broken.why, "header line without a colon");
        let broken = tokenize(b"OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n").unwrap_err();
        assert_eq!(broken.why, "header name is not a token");
    }
}
