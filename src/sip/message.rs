//! Inbound SIP messages: our own lenient tokenizer ([`wire`]) reads the bytes once, then
//! the mandatory headers are checked and lifted into plain fields so the rest of `sip` never
//! re-parses header text. Outbound messages are written directly as text: we only ever emit
//! a handful of fixed shapes.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use thiserror::Error;

mod wire;

/// Largest message accepted by `parse` (a UDP datagram cannot be bigger).
pub(crate) const MAX_MESSAGE_BYTES: usize = 65_535;

/// Methods this user agent accepts (sent in Allow).
pub(crate) const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER, UPDATE, REFER, NOTIFY";
/// Option tags of the extensions we support (sent in Supported; a Require naming any other
/// gets 420): `replaces` (RFC 3891). No 100rel, no session timers, no norefersub.
pub(crate) const SUPPORTED: &str = "replaces";
/// Body types we take (sent in Accept; another Content-Type gets 415).
pub(crate) const ACCEPT: &str = "application/sdp, application/dtmf-relay, application/dtmf";
pub(crate) const USER_AGENT: &str = "hotline";

/// The SIP methods the endpoint distinguishes; anything else is kept by name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Cancel,
    Bye,
    Options,
    Info,
    Register,
    Other(String),
}

impl Method {
    pub fn parse(token: &str) -> Method {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "CANCEL" => Method::Cancel,
            "BYE" => Method::Bye,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "REGISTER" => Method::Register,
            other => Method::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Cancel => "CANCEL",
            Method::Bye => "BYE",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Register => "REGISTER",
            Method::Other(name) => name,
        }
    }
}

/// The header fields the user agent reads; compact forms map to the same field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Via,
    From,
    To,
    CallId,
    CSeq,
    MaxForwards,
    ContentLength,
    ContentType,
    Contact,
    RecordRoute,
    Route,
    Other,
}

fn field_of_name(name: &str) -> Field {
    const NAMES: [(&str, Field); 16] = [
        ("via", Field::Via),
        ("v", Field::Via),
        ("from", Field::From),
        ("f", Field::From),
        ("to", Field::To),
        ("t", Field::To),
        ("call-id", Field::CallId),
        ("i", Field::CallId),
        ("cseq", Field::CSeq),
        ("max-forwards", Field::MaxForwards),
        ("content-length", Field::ContentLength),
        ("l", Field::ContentLength),
        ("content-type", Field::ContentType),
        ("c", Field::ContentType),
        ("contact", Field::Contact),
        ("m", Field::Contact),
    ];
    let name = name.trim();
    if name.eq_ignore_ascii_case("record-route") {
        return Field::RecordRoute;
    }
    if name.eq_ignore_ascii_case("route") {
        return Field::Route;
    }
    NAMES
        .iter()
        .find(|(known, _)| name.eq_ignore_ascii_case(known))
        .map_or(Field::Other, |(_, field)| *field)
}

/// Raw values of the fields we read, gathered from the tokenized header fields (also when
/// the start line was broken, so a 400 can still be formed).
#[derive(Default)]
struct RawFields<'a> {
    vias: Vec<&'a str>,
    from: Option<&'a str>,
    to: Option<&'a str>,
    call_id: Option<&'a str>,
    cseq: Option<&'a str>,
    max_forwards: Option<&'a str>,
    content_length: Option<&'a str>,
    content_type: Option<&'a str>,
    contacts: Vec<&'a str>,
    record_routes: Vec<&'a str>,
    routes: Vec<&'a str>,
    /// Single-valued fields that appeared more than once (RFC 4475 3.3.8, 3.3.9).
    duplicates: Vec<&'static str>,
}

impl<'a> RawFields<'a> {
    fn push(&mut self, field: Field, value: &'a str) {
        let value = value.trim();
        let (slot, name) = match field {
            Field::Via => return self.vias.push(value),
            Field::Contact => return self.contacts.push(value),
            Field::RecordRoute => return self.record_routes.push(value),
            Field::Route => return self.routes.push(value),
            Field::Other => return,
            Field::From => (&mut self.from, "From"),
            Field::To => (&mut self.to, "To"),
            Field::CallId => (&mut self.call_id, "Call-ID"),
            Field::CSeq => (&mut self.cseq, "CSeq"),
            Field::MaxForwards => (&mut self.max_forwards, "Max-Forwards"),
            Field::ContentLength => (&mut self.content_length, "Content-Length"),
            Field::ContentType => (&mut self.content_type, "Content-Type"),
        };
        if slot.is_some() {
            if !self.duplicates.contains(&name) {
                self.duplicates.push(name);
            }
        } else {
            *slot = Some(value);
        }
    }

    fn from_headers(headers: &'a [(String, String)]) -> RawFields<'a> {
        let mut fields = RawFields::default();
        for (name, value) in headers {
            fields.push(field_of_name(name), value);
        }
        fields
    }

    /// Everything needed to answer a request (RFC 3261 8.2.6.2). The client matches a
    /// response by its top Via branch and CSeq (17.1.3), so those two are enough to tell a
    /// broken request why it failed; From, To and Call-ID are copied when present.
    fn response_seed(&self) -> Option<ResponseSeed> {
        let vias = split_list(&self.vias);
        if vias.is_empty() {
            return None;
        }
        Some(ResponseSeed {
            vias,
            from: self.from.unwrap_or_default().to_owned(),
            to: self.to.unwrap_or_default().to_owned(),
            call_id: self.call_id.unwrap_or_default().to_owned(),
            cseq: self.cseq.filter(|c| !c.is_empty())?.to_owned(),
        })
    }
}

/// Splits header values that may hold comma-separated lists (Via, Route, Record-Route) into
/// one entry each, ignoring commas inside quotes and angle brackets.
pub(crate) fn split_list(values: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for value in values {
        let mut depth_angle = false;
        let mut in_quotes = false;
        let mut start = 0;
        let bytes = value.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => in_quotes = !in_quotes,
                b'\\' if in_quotes => i += 1,
                b'<' if !in_quotes => depth_angle = true,
                b'>' if !in_quotes => depth_angle = false,
                b',' if !in_quotes && !depth_angle => {
                    let part = value.get(start..i).unwrap_or("").trim();
                    if !part.is_empty() {
                        out.push(part.to_owned());
                    }
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        let part = value.get(start..).unwrap_or("").trim();
        if !part.is_empty() {
            out.push(part.to_owned());
        }
    }
    out
}

/// The headers copied from a request into any response to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseSeed {
    /// Each Via entry, top first, as received (the top one gets received/rport added).
    pub vias: Vec<String>,
    pub from: String,
    pub to: String,
    pub call_id: String,
    /// The CSeq value as received, "number METHOD".
    pub cseq: String,
}

/// The top Via, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub branch: String,
    /// `rport` present (RFC 3581): answer to the source port.
    pub rport: bool,
}

impl Via {
    /// `SIP / 2.0 / transport sent-by *( ; param )`, with LWS allowed around the slashes,
    /// the colon and the parameters' `=` (RFC 3261 25.1). A missing branch is an RFC 2543
    /// client: `branch` is then empty and the request's transaction is keyed otherwise.
    fn parse(value: &str) -> Result<Via, Invalid> {
        let mut params = value.trim().split(';');
        let protocol_and_host = params.next().unwrap_or("");
        let mut parts = protocol_and_host.splitn(3, '/');
        let (Some(name), Some(version), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Invalid::Via("sent-protocol is not SIP/2.0/transport"));
        };
        if !name.trim().eq_ignore_ascii_case("SIP") || version.trim() != "2.0" {
            return Err(Invalid::Via("sent-protocol is not SIP/2.0"));
        }
        let rest = rest.trim_start();
        let (transport, sent_by) = rest
            .split_once(|c: char| c.is_ascii_whitespace())
            .ok_or(Invalid::Via("no sent-by"))?;
        if !wire::is_token(transport) {
            return Err(Invalid::Via("transport is not a token"));
        }
        let sent_by = sent_by.trim();
        if sent_by.chars().any(char::is_whitespace) && !sent_by.contains(':') {
            return Err(Invalid::Via("bad sent-by"));
        }
        let (host, port) = split_host_port(sent_by).ok_or(Invalid::Via("bad sent-by"))?;
        let host = host.trim();
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Invalid::Via("bad sent-by"));
        }
        let mut branch = None;
        let mut rport = false;
        for param in params {
            let (key, val) = match param.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (param.trim(), None),
            };
            if key.is_empty() {
                return Err(Invalid::Via("empty parameter"));
            }
            if key.eq_ignore_ascii_case("branch") {
                branch = Some(
                    val.filter(|v| wire::is_token(v))
                        .ok_or(Invalid::Via("bad branch"))?,
                );
            } else if key.eq_ignore_ascii_case("rport") {
                rport = true;
            }
        }
        Ok(Via {
            transport: transport.to_ascii_uppercase(),
            host: host.to_owned(),
            port,
            branch: branch.unwrap_or("").to_owned(),
            rport,
        })
    }
}

/// `host[:port]` with IPv6 references in brackets.
fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port.trim().parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match text.split_once(':') {
        Some((host, port)) => Some((host, Some(port.trim().parse().ok()?))),
        None => Some((text, None)),
    }
}

/// A From, To, Contact or route entry: `["name"] <uri>;params` or `uri;params`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    pub uri: String,
    pub tag: Option<String>,
    /// The parameters after the URI (for routes: inside the URI, e.g. `lr`).
    params: String,
}

impl NameAddr {
    pub fn parse(value: &str) -> Option<NameAddr> {
        let value = value.trim();
        let bytes = value.as_bytes();
        let mut i = 0;
        let mut in_quotes = false;
        let mut open = None;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => in_quotes = !in_quotes,
                b'\\' if in_quotes => i += 1,
                b'<' if !in_quotes => {
                    open = Some(i);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let (uri, params) = match open {
            Some(start) => {
                if !is_display_name(value.get(..start)?) {
                    return None;
                }
                let rest = value.get(start + 1..)?;
                let close = rest.find('>')?;
                let uri = rest.get(..close)?;
                // LAQUOT addr-spec RAQUOT: no whitespace inside the brackets (RFC 4475 3.1.2.14).
                if uri.trim() != uri {
                    return None;
                }
                (uri, rest.get(close + 1..)?)
            }
            None if in_quotes => return None,
            None => match value.find(';') {
                Some(semi) => (value.get(..semi)?, value.get(semi..)?),
                None => (value, ""),
            },
        };
        let uri = uri.trim();
        if uri.is_empty() || !uri.contains(':') || uri.chars().any(char::is_whitespace) {
            return None;
        }
        // An addr-spec holding `?` (URI headers) must be in brackets (RFC 3261 20.10).
        if open.is_none() && uri.contains('?') {
            return None;
        }
        let tag = param_value(params, "tag").map(str::to_owned);
        Some(NameAddr {
            uri: uri.to_owned(),
            tag,
            params: params.to_owned(),
        })
    }

    /// A parameter after the URI (`expires` of a Contact, `tag` of a From).
    pub fn param(&self, name: &str) -> Option<&str> {
        param_value(&self.params, name)
    }

    /// True when the URI itself carries `;lr` (a loose router, RFC 3261 16.12).
    pub fn is_loose_route(&self) -> bool {
        self.uri
            .split(';')
            .skip(1)
            .any(|p| p.trim().eq_ignore_ascii_case("lr") || p.trim().starts_with("lr="))
    }
}

/// `display-name = *(token LWS) / quoted-string` (RFC 3261 25.1), possibly empty.
fn is_display_name(text: &str) -> bool {
    let text = text.trim();
    if text.is_empty() {
        return true;
    }
    if let Some(inner) = text.strip_prefix('"') {
        // The closing quote is the last character; NameAddr::parse already checked that the
        // quotes balance (escapes included) before the `<`.
        return inner.ends_with('"');
    }
    text.split_whitespace().all(wire::is_token)
}

fn param_value<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params.split(';').find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim())
            .filter(|v| !v.is_empty())
    })
}

/// A parameter of the URI itself (`transport` in `sip:a@b;transport=tcp`).
pub fn uri_param<'a>(uri: &'a str, name: &str) -> Option<&'a str> {
    let params = uri.split('?').next()?;
    let (_, params) = params.split_once(';')?;
    param_value(params, name)
}

/// The user part of a SIP URI (`1001` in `sip:1001@host`), if it has one.
pub fn uri_user(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once(':')?;
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return None;
    }
    let (user, _) = rest.split_once('@')?;
    let user = user.split(':').next()?;
    (!user.is_empty()).then_some(user)
}

/// `sip:user@host:port;params` → host and port; `None` for a hostname we cannot resolve here.
pub fn uri_socket_addr(uri: &str) -> Option<SocketAddr> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("SIP:"))?;
    let rest = rest.split([';', '?']).next()?;
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, hp)| hp);
    let (host, port) = split_host_port(host_port)?;
    let ip: IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, port.unwrap_or(5060)))
}

/// Why an inbound message was not accepted.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Invalid {
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("bad Via: {0}")]
    Via(&'static str),
    #[error("From has no tag")]
    FromTag,
    #[error("bad {0} header")]
    Malformed(&'static str),
    #[error("CSeq method {cseq} does not match request method {method}")]
    CSeqMethod { cseq: String, method: String },
    #[error("Content-Length {declared} but body has {actual} bytes")]
    Truncated { declared: usize, actual: usize },
    #[error("unparseable: {0}")]
    Unparseable(&'static str),
    #[error("SIP version other than 2.0")]
    Version,
    #[error("more than one {0} header")]
    Duplicate(&'static str),
    #[error("message of {0} bytes exceeds {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
}

/// A request that passed validation.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    #[allow(dead_code)] // read by proxies of issue 3 (REFER targets, request-URI checks)
    pub request_uri: String,
    pub request_user: String,
    pub top_via: Via,
    pub seed: ResponseSeed,
    pub from: NameAddr,
    pub to: NameAddr,
    pub call_id: String,
    pub cseq: u32,
    pub max_forwards: u32,
    /// Contact URI (remote target), if any.
    pub contact: Option<String>,
    /// Record-Route entries as received, top first.
    pub record_route: Vec<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// Every header field as (name as received, unfolded value), in order.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn body_text(&self) -> Option<String> {
        if self.body.is_empty() {
            None
        } else {
            Some(String::from_utf8_lossy(&self.body).into_owned())
        }
    }

    /// The values of every header with one of these names (case-insensitive), in order.
    /// For headers the endpoint reads rarely (Authorization, Expires, all Contacts).
    pub fn header_values(&self, names: &[&str]) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(name, _)| names.iter().any(|n| n.eq_ignore_ascii_case(name)))
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// Why a request we otherwise handle must be refused before its method runs, in the
    /// order of RFC 3261 8.2.2 and 8.2.3: a Request-URI scheme other than sip/sips (416), a
    /// Require naming an extension we lack (420 with Unsupported), a body of a type or
    /// encoding we do not read (415 with Accept / Accept-Encoding). Proxy-Require is for
    /// proxies; a user agent ignores it (RFC 3261 20.29).
    pub fn refusal(&self) -> Option<Refusal> {
        let scheme = self.request_uri.split(':').next().unwrap_or("");
        if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
            return Some(Refusal {
                status: 416,
                header: None,
            });
        }
        let unsupported: Vec<String> = self
            .header_values(&["Require"])
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|tag| !tag.is_empty())
            .filter(|tag| {
                !SUPPORTED
                    .split(',')
                    .any(|ours| ours.trim().eq_ignore_ascii_case(tag))
            })
            .map(printable_token)
            .collect();
        if !unsupported.is_empty() {
            return Some(Refusal {
                status: 420,
                header: Some(("Unsupported", unsupported.join(", "))),
            });
        }
        if !self.body.is_empty() {
            let known_type = ACCEPT
                .split(',')
                .any(|mime| self.has_content_type(mime.trim()));
            if !known_type {
                return Some(Refusal {
                    status: 415,
                    header: Some(("Accept", ACCEPT.to_owned())),
                });
            }
            let encoded = self
                .header_values(&["Content-Encoding", "e"])
                .iter()
                .flat_map(|value| value.split(','))
                .any(|coding| !coding.trim().eq_ignore_ascii_case("identity"));
            if encoded {
                return Some(Refusal {
                    status: 415,
                    header: Some(("Accept-Encoding", "identity".to_owned())),
                });
            }
        }
        None
    }

    pub fn has_content_type(&self, mime: &str) -> bool {
        self.content_type.as_deref().is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(mime))
        })
    }
}

/// A refusal of a well-formed request: the status and the header that says why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub header: Option<(&'static str, String)>,
}

/// A response that passed validation.
#[derive(Clone, Debug)]
#[allow(dead_code)] // dialog fields are read by the UAC side (issue 3: INVITEs to agents)
pub struct Response {
    pub status: u16,
    pub branch: String,
    pub call_id: String,
    pub cseq: u32,
    pub cseq_method: Method,
    pub to: NameAddr,
    pub from: NameAddr,
    pub contact: Option<String>,
    pub record_route: Vec<String>,
    pub body: Vec<u8>,
}

// Requests dominate inbound traffic; boxing them would add an allocation to the common case.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Inbound {
    Request(Request),
    Response(Response),
}

/// A rejected message: `seed` is present when a 400 can be formed.
#[derive(Debug)]
pub struct Rejected {
    pub reason: Invalid,
    pub is_request: bool,
    pub is_ack: bool,
    /// The status to answer a request with when `seed` allows: 400, 505 for another SIP
    /// version, 501 for an unknown method whose CSeq names another (RFC 4475 3.1.2.18).
    pub status: u16,
    pub seed: Option<ResponseSeed>,
}

/// Parses and validates one SIP message (one datagram or one framed TCP message).
pub fn parse(bytes: &[u8]) -> Result<Inbound, Box<Rejected>> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(Box::new(Rejected {
            reason: Invalid::TooLarge(bytes.len()),
            is_request: false,
            is_ack: false,
            status: 400,
            seed: None,
        }));
    }
    let wire = match wire::tokenize(bytes) {
        Ok(wire) => wire,
        Err(broken) => return Err(Box::new(broken_rejection(broken))),
    };
    let fields = RawFields::from_headers(&wire.headers);
    match wire.start {
        wire::StartLine::Request { method, uri, .. } => {
            let method = Method::parse(&method);
            let valid = check_date(&wire.headers)
                .and_then(|()| validate_request(method.clone(), &uri, &fields, wire.body));
            match valid {
                Ok(mut valid) => {
                    valid.body = trimmed_body(&fields, wire.body.to_vec());
                    valid.headers = wire.headers.clone();
                    Ok(Inbound::Request(valid))
                }
                Err(reason) => Err(Box::new(Rejected {
                    status: match (&method, &reason) {
                        (Method::Other(_), Invalid::CSeqMethod { .. }) => 501,
                        _ => 400,
                    },
                    reason,
                    is_request: true,
                    is_ack: method == Method::Ack,
                    seed: fields.response_seed(),
                })),
            }
        }
        wire::StartLine::Response { status } => {
            validate_response(status, &fields, wire.body.to_vec())
                .map(Inbound::Response)
                .map_err(|reason| {
                    Box::new(Rejected {
                        reason,
                        is_request: false,
                        is_ack: false,
                        status: 400,
                        seed: None,
                    })
                })
        }
    }
}

/// The bytes are no SIP message: a request-looking one still gets its 400 (505 for another
/// SIP version) when its Via and CSeq can be read.
fn broken_rejection(broken: wire::Broken) -> Rejected {
    let fields = RawFields::from_headers(&broken.headers);
    let is_request = broken.request_method.is_some();
    Rejected {
        reason: if broken.other_version {
            Invalid::Version
        } else {
            Invalid::Unparseable(broken.why)
        },
        is_request,
        is_ack: broken.request_method.as_deref() == Some("ACK"),
        status: if broken.other_version { 505 } else { 400 },
        seed: if is_request {
            fields.response_seed()
        } else {
            None
        },
    }
}

fn trimmed_body(fields: &RawFields<'_>, mut body: Vec<u8>) -> Vec<u8> {
    // Over UDP bytes past Content-Length are discarded (RFC 3261 18.3).
    if let Some(declared) = fields
        .content_length
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        body.truncate(declared);
    }
    body
}

fn parse_cseq(value: &str) -> Result<(u32, Method), Invalid> {
    let mut parts = value.split_ascii_whitespace();
    let number = parts
        .next()
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| *n < (1 << 31))
        .ok_or(Invalid::Malformed("CSeq"))?;
    let method = parts.next().ok_or(Invalid::Malformed("CSeq"))?;
    if parts.next().is_some() {
        return Err(Invalid::Malformed("CSeq"));
    }
    Ok((number, Method::parse(method)))
}

fn check_content_length(fields: &RawFields<'_>, body: &[u8]) -> Result<(), Invalid> {
    if let Some(value) = fields.content_length {
        let declared: usize = value
            .trim()
            .parse()
            .map_err(|_| Invalid::Malformed("Content-Length"))?;
        if declared > body.len() {
            return Err(Invalid::Truncated {
                declared,
                actual: body.len(),
            });
        }
    }
    Ok(())
}

fn validate_request(
    method: Method,
    request_uri: &str,
    fields: &RawFields<'_>,
    body: &[u8],
) -> Result<Request, Invalid> {
    if let Some(name) = fields.duplicates.first() {
        return Err(Invalid::Duplicate(name));
    }
    let seed_vias = split_list(&fields.vias);
    let top = seed_vias.first().ok_or(Invalid::Missing("Via"))?;
    let mut top_via = Via::parse(top)?;
    if request_uri_has_headers(request_uri) {
        return Err(Invalid::Malformed("Request-URI"));
    }
    let from_raw = fields.from.ok_or(Invalid::Missing("From"))?;
    let to_raw = fields.to.ok_or(Invalid::Missing("To"))?;
    let call_id = fields.call_id.ok_or(Invalid::Missing("Call-ID"))?;
    if call_id.is_empty() {
        return Err(Invalid::Malformed("Call-ID"));
    }
    let cseq_raw = fields.cseq.ok_or(Invalid::Missing("CSeq"))?;
    let (cseq, cseq_method) = parse_cseq(cseq_raw)?;
    if cseq_method != method {
        return Err(Invalid::CSeqMethod {
            cseq: printable_token(cseq_method.as_str()),
            method: printable_token(method.as_str()),
        });
    }
    if top_via.branch.is_empty() {
        // RFC 2543 client (RFC 3261 17.2.3): no branch to key the transaction by, so a key
        // is made of what identifies the request instead.
        top_via.branch = format!(
            "rfc2543-{}-{}-{}",
            call_id,
            cseq,
            param_value(from_raw, "tag").unwrap_or("")
        );
    }
    let max_forwards = fields
        .max_forwards
        .ok_or(Invalid::Missing("Max-Forwards"))?
        .trim()
        .parse::<u32>()
        .map_err(|_| Invalid::Malformed("Max-Forwards"))?;
    let from = NameAddr::parse(from_raw).ok_or(Invalid::Malformed("From"))?;
    if from.tag.is_none() {
        return Err(Invalid::FromTag);
    }
    let to = NameAddr::parse(to_raw).ok_or(Invalid::Malformed("To"))?;
    check_content_length(fields, body)?;
    let contact = match fields.contacts.first() {
        // The wildcard of a REGISTER that removes every binding (RFC 3261 10.2.2).
        Some(raw) if raw.trim() == "*" => None,
        Some(raw) => Some(
            NameAddr::parse(split_list(&[raw]).first().map_or("", String::as_str))
                .ok_or(Invalid::Malformed("Contact"))?
                .uri,
        ),
        None => None,
    };
    Ok(Request {
        // The number without its user parameters (`4008;phone-context=pbx.example.com` is
        // 4008; RFC 3261 19.1.6), for the dialplan; `request_uri` keeps them.
        request_user: uri_user(request_uri)
            .map(|user| decode_user(user.split(';').next().unwrap_or(user)))
            .unwrap_or_default(),
        method,
        request_uri: request_uri.to_owned(),
        top_via,
        seed: ResponseSeed {
            vias: seed_vias,
            from: from_raw.to_owned(),
            to: to_raw.to_owned(),
            call_id: call_id.to_owned(),
            cseq: cseq_raw.to_owned(),
        },
        from,
        to,
        call_id: call_id.to_owned(),
        cseq,
        max_forwards,
        contact,
        record_route: split_list(&fields.record_routes),
        content_type: fields.content_type.map(str::to_owned),
        body: Vec::new(),
        headers: Vec::new(),
    })
}

/// A sip/sips Request-URI with `?headers` after its host (RFC 3261 19.1.5 forbids them
/// there; RFC 4475 3.1.2.11). A `?` in the user part is allowed.
fn request_uri_has_headers(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return false;
    }
    let host_part = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    host_part.contains('?')
}

/// The Date header, if present, must be in GMT (RFC 3261 20.17; RFC 4475 3.1.2.12).
fn check_date(headers: &[(String, String)]) -> Result<(), Invalid> {
    match headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("date"))
    {
        Some((_, value)) if !value.trim_end().ends_with(" GMT") => Err(Invalid::Malformed("Date")),
        _ => Ok(()),
    }
}

/// The user of a Request-URI with its %-escapes decoded (`%34%30%30%38` is 4008), unless
/// the result would not be printable text; then it stays as received.
fn decode_user(user: &str) -> String {
    let bytes = user.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(text) if !text.chars().any(char::is_control) => text,
        _ => user.to_owned(),
    }
}

/// A token from the network made safe for a log line: control characters become `?`.
fn printable_token(text: &str) -> String {
    text.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn validate_response(
    status: u16,
    fields: &RawFields<'_>,
    body: Vec<u8>,
) -> Result<Response, Invalid> {
    if let Some(name) = fields.duplicates.first() {
        return Err(Invalid::Duplicate(name));
    }
    let vias = split_list(&fields.vias);
    let top_via = Via::parse(vias.first().ok_or(Invalid::Missing("Via"))?)?;
    let from = NameAddr::parse(fields.from.ok_or(Invalid::Missing("From"))?)
        .ok_or(Invalid::Malformed("From"))?;
    let to = NameAddr::parse(fields.to.ok_or(Invalid::Missing("To"))?)
        .ok_or(Invalid::Malformed("To"))?;
    let call_id = fields.call_id.ok_or(Invalid::Missing("Call-ID"))?;
    let (cseq, cseq_method) = parse_cseq(fields.cseq.ok_or(Invalid::Missing("CSeq"))?)?;
    check_content_length(fields, &body)?;
    let contact = fields
        .contacts
        .first()
        .and_then(|raw| NameAddr::parse(split_list(&[raw]).first()?))
        .map(|c| c.uri);
    Ok(Response {
        status,
        branch: top_via.branch,
        call_id: call_id.to_owned(),
        cseq,
        cseq_method,
        to,
        from,
        contact,
        record_route: split_list(&fields.record_routes),
        body: trimmed_body(fields, body),
    })
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match status / 100 {
            1 => "Session Progress",
            2 => "OK",
            3 => "Redirection",
            4 => "Request Failure",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

/// Adds `received` and `rport` to the top Via as RFC 3261 18.2.1 and RFC 3581 require.
pub fn stamp_top_via(via: &str, top: &Via, source: SocketAddr) -> String {
    let source_ip = source.ip().to_string();
    let mut out = String::with_capacity(via.len() + 40);
    let mut params = via.split(';');
    out.push_str(params.next().unwrap_or(""));
    for param in params {
        let key = param.split('=').next().unwrap_or("").trim();
        if key.eq_ignore_ascii_case("rport") || key.eq_ignore_ascii_case("received") {
            continue;
        }
        out.push(';');
        out.push_str(param);
    }
    if top.host != source_ip || top.rport {
        let _ = write!(out, ";received={source_ip}");
    }
    if top.rport {
        let _ = write!(out, ";rport={}", source.port());
    }
    out
}

/// Where responses to a request go (RFC 3261 18.2.2, RFC 3581): the source address; the
/// source port only with rport, otherwise the sent-by port. Over TCP, the connection it
/// came in on.
pub fn response_destination(top: &Via, source: SocketAddr, reliable: bool) -> SocketAddr {
    if reliable || top.rport {
        return source;
    }
    SocketAddr::new(source.ip(), top.port.unwrap_or(5060))
}

/// Writes one response. `to_tag` is appended when the request's To has none.
pub struct ResponseText<'a> {
    pub status: u16,
    pub seed: &'a ResponseSeed,
    pub to_tag: Option<&'a str>,
    pub contact: Option<&'a str>,
    pub record_route: &'a [String],
    pub extra: &'a [(&'a str, &'a str)],
    pub body: Option<(&'a str, &'a str)>,
}

impl ResponseText<'_> {
    pub fn write(&self) -> Vec<u8> {
        self.write_with_reason(reason_phrase(self.status))
    }

    /// The response with our own reason phrase (a constant of ours, never network text),
    /// to say which part of a request was refused ("Missing Refer-To").
    pub fn write_with_reason(&self, reason: &str) -> Vec<u8> {
        let body_len = self.body.map_or(0, |(_, b)| b.len());
        let mut out = String::with_capacity(400 + body_len);
        let _ = write!(out, "SIP/2.0 {} {reason}\r\n", self.status);
        for via in &self.seed.vias {
            let _ = write!(out, "Via: {via}\r\n");
        }
        for route in self.record_route {
            let _ = write!(out, "Record-Route: {route}\r\n");
        }
        // Empty only in a 400 to a request that lacked them: better a response without
        // them than none at all.
        if !self.seed.from.is_empty() {
            let _ = write!(out, "From: {}\r\n", self.seed.from);
        }
        let has_tag = NameAddr::parse(&self.seed.to).is_some_and(|to| to.tag.is_some());
        match self.to_tag {
            _ if self.seed.to.is_empty() => {}
            Some(tag) if !has_tag => {
                let _ = write!(out, "To: {};tag={tag}\r\n", self.seed.to);
            }
            _ => {
                let _ = write!(out, "To: {}\r\n", self.seed.to);
            }
        }
        if !self.seed.call_id.is_empty() {
            let _ = write!(out, "Call-ID: {}\r\n", self.seed.call_id);
        }
        let _ = write!(out, "CSeq: {}\r\n", self.seed.cseq);
        if let Some(contact) = self.contact {
            let _ = write!(out, "Contact: <{contact}>\r\n");
        }
        for (name, value) in self.extra {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        let _ = write!(out, "Server: {USER_AGENT}\r\n");
        match self.body {
            Some((content_type, body)) => {
                let _ = write!(
                    out,
                    "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
            None => out.push_str("Content-Length: 0\r\n\r\n"),
        }
        out.into_bytes()
    }
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

    fn request(text: &str) -> Request {
        match parse(text.as_bytes()) {
            Ok(Inbound::Request(r)) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_typical_invite_once_into_fields() {
        let r = request(INVITE);
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.request_user, "4008");
        assert_eq!(r.top_via.branch, "z9hG4bK-1");
        assert!(r.top_via.rport);
        assert_eq!(r.top_via.port, Some(5070));
        assert_eq!(r.from.uri, "sip:1000@127.0.0.1:5070");
        assert_eq!(r.from.tag.as_deref(), Some("abc"));
        assert_eq!(r.to.tag, None);
        assert_eq!(r.cseq, 1);
        assert_eq!(r.contact.as_deref(), Some("sip:1000@127.0.0.1:5070"));
        assert_eq!(r.body, b"v=0\n");
        assert!(r.has_content_type("application/sdp"));
    }

    #[test]
    fn compact_header_names_are_understood() {
        let text =
            "OPTIONS sip:4008@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n\
f: <sip:a@10.0.0.1>;tag=1\r\nt: <sip:4008@127.0.0.1>\r\ni: cid\r\nCSeq: 2 OPTIONS\r\n\
Max-Forwards: 70\r\nl: 0\r\n\r\n";
        let r = request(text);
        assert_eq!(r.call_id, "cid");
        assert_eq!(r.top_via.host, "10.0.0.1");
    }

    #[test]
    fn missing_call_id_is_rejected_with_a_seed_for_400_without_call_id() {
        let text = INVITE.replace("Call-ID: c1@127.0.0.1\r\n", "");
        let rejected = parse(text.as_bytes()).unwrap_err();
        assert_eq!(rejected.reason, Invalid::Missing("Call-ID"));
        let seed = rejected.seed.expect("Via and CSeq are enough to answer");
        assert!(seed.call_id.is_empty());
        let response = String::from_utf8(
            ResponseText {
                status: 400,
                seed: &seed,
                to_tag: None,
                contact: None,
                record_route: &[],
                extra: &[],
                body: None,
            }
            .write(),
        )
        .unwrap();
        assert!(!response.contains("Call-ID"), "{response}");
        assert!(response.contains("CSeq: 1 INVITE"), "{response}");
    }

    #[test]
    fn request_without_cseq_has_no_seed() {
        let text = INVITE.replace("CSeq: 1 INVITE\r\n", "");
        let rejected = parse(text.as_bytes()).unwrap_err();
        assert!(rejected.seed.is_none());
    }

    #[test]
    fn cseq_method_mismatch_is_rejected_with_a_seed_for_400() {
        let text = INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 BYE");
        let rejected = parse(text.as_bytes()).unwrap_err();
        assert!(matches!(rejected.reason, Invalid::CSeqMethod { .. }));
        assert!(rejected.seed.is_some());
    }

    #[test]
    fn via_without_branch_is_an_rfc2543_client_keyed_by_call_id_cseq_and_from_tag() {
        let r = request(&INVITE.replace(";branch=z9hG4bK-1", ""));
        assert_eq!(r.top_via.branch, "rfc2543-c1@127.0.0.1-1-abc");
        assert_eq!(r.top_via.port, Some(5070));
    }

    #[test]
    fn via_with_empty_parameters_is_rejected() {
        let text = INVITE.replace(";branch=z9hG4bK-1;rport", ";;,;,,");
        assert_eq!(
            parse(text.as_bytes()).unwrap_err().reason,
            Invalid::Via("empty parameter")
        );
    }

    #[test]
    fn duplicate_content_length_is_rejected_with_a_seed_for_400() {
        let text = INVITE.replace(
            "Content-Length: 4",
            "Content-Length: 0\r\nContent-Length: 4",
        );
        let rejected = parse(text.as_bytes()).unwrap_err();
        assert_eq!(rejected.reason, Invalid::Duplicate("Content-Length"));
        assert_eq!(rejected.status, 400);
        assert!(rejected.seed.is_some());
    }

    #[test]
    fn refusals_name_the_status_and_what_to_send_instead() {
        let tel = request(&INVITE.replace("INVITE sip:4008@127.0.0.1:5060", "INVITE tel:+4930123"));
        assert_eq!(tel.refusal().map(|r| r.status), Some(416));
        let require =
            request(&INVITE.replace("Max-Forwards", "Require: 100rel, foo\r\nMax-Forwards"));
        assert_eq!(
            require.refusal(),
            Some(Refusal {
                status: 420,
                header: Some(("Unsupported", "100rel, foo".to_owned()))
            })
        );
        let proxy_require =
            request(&INVITE.replace("Max-Forwards", "Proxy-Require: foo\r\nMax-Forwards"));
        assert_eq!(proxy_require.refusal(), None);
        let xml = request(&INVITE.replace("application/sdp", "application/xml"));
        assert_eq!(
            xml.refusal(),
            Some(Refusal {
                status: 415,
                header: Some(("Accept", ACCEPT.to_owned()))
            })
        );
        let gzip =
            request(&INVITE.replace("Max-Forwards", "Content-Encoding: gzip\r\nMax-Forwards"));
        assert_eq!(gzip.refusal().map(|r| r.status), Some(415));
        assert_eq!(request(INVITE).refusal(), None);
    }

    #[test]
    fn require_replaces_is_supported_and_transfers_are_allowed() {
        let require = request(&INVITE.replace("Max-Forwards", "Require: replaces\r\nMax-Forwards"));
        assert_eq!(require.refusal(), None);
        assert_eq!(
            ALLOW,
            "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER, UPDATE, REFER, NOTIFY"
        );
        assert_eq!(SUPPORTED, "replaces");
    }

    #[test]
    fn a_reason_of_our_own_replaces_the_standard_one() {
        let seed = request(INVITE).seed;
        let text = ResponseText {
            status: 400,
            seed: &seed,
            to_tag: Some("t"),
            contact: None,
            record_route: &[],
            extra: &[],
            body: None,
        };
        assert!(text.write().starts_with(b"SIP/2.0 400 Bad Request\r\n"));
        assert!(text
            .write_with_reason("Missing Refer-To")
            .starts_with(b"SIP/2.0 400 Missing Refer-To\r\n"));
    }

    #[test]
    fn rejection_reasons_carry_no_raw_bytes() {
        let text = INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 IN\x1b[2JVITE");
        let rejected = parse(text.as_bytes()).unwrap_err();
        assert!(matches!(rejected.reason, Invalid::CSeqMethod { .. }));
        let reason = rejected.reason.to_string();
        assert!(!reason.contains(['\x1b', '\r', '\n']), "{reason:?}");
        let garbage =
            parse(b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z\r\n\x1b[31mfake\r\n\r\n");
        let reason = garbage.unwrap_err().reason.to_string();
        assert!(!reason.contains('\x1b'), "{reason:?}");
    }

    #[test]
    fn request_user_is_percent_decoded_when_printable() {
        let r = request(&INVITE.replace("INVITE sip:4008@", "INVITE sip:%34%30%30%38@"));
        assert_eq!(r.request_user, "4008");
        let r = request(&INVITE.replace("INVITE sip:4008@", "INVITE sip:null-%00-null@"));
        assert_eq!(r.request_user, "null-%00-null");
        let r = request(&INVITE.replace(
            "INVITE sip:4008@127.0.0.1:5060",
            "INVITE sip:4008;phone-context=pbx.example.com@127.0.0.1:5060;user=phone",
        ));
        assert_eq!(r.request_user, "4008");
        assert_eq!(
            r.request_uri,
            "sip:4008;phone-context=pbx.example.com@127.0.0.1:5060;user=phone"
        );
    }

    #[test]
    fn request_uri_headers_a_non_gmt_date_and_a_missing_scheme_are_400() {
        let escruri = INVITE.replace(
            "INVITE sip:4008@127.0.0.1:5060",
            "INVITE sip:4008@127.0.0.1:5060?Route=%3Csip:example.com%3E",
        );
        let rejected = parse(escruri.as_bytes()).unwrap_err();
        assert_eq!(rejected.reason, Invalid::Malformed("Request-URI"));
        assert_eq!(rejected.status, 400);
        // A `?` in the user part is no header (RFC 4475 3.1.1.2).
        let user = INVITE.replace("INVITE sip:4008@", "INVITE sip:crazy?,/;;*@");
        assert!(parse(user.as_bytes()).is_ok());
        // Other schemes are for `refusal` (416), not the parser.
        assert!(!request_uri_has_headers("tel:+1?x"));

        let est = INVITE.replace(
            "Max-Forwards",
            "Date: Fri, 01 Jan 2010 16:00:00 EST\r\nMax-Forwards",
        );
        assert_eq!(
            parse(est.as_bytes()).unwrap_err().reason,
            Invalid::Malformed("Date")
        );
        let gmt = INVITE.replace(
            "Max-Forwards",
            "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\nMax-Forwards",
        );
        assert!(parse(gmt.as_bytes()).is_ok());

        let no_scheme = INVITE.replace("INVITE sip:4008@127.0.0.1:5060", "INVITE 4008@127.0.0.1");
        let rejected = parse(no_scheme.as_bytes()).unwrap_err();
        assert_eq!(
            rejected.reason,
            Invalid::Unparseable("Request-URI has no scheme")
        );
        assert!(rejected.seed.is_some());
        let version = INVITE.replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia");
        let rejected = parse(version.as_bytes()).unwrap_err();
        assert_eq!((rejected.reason, rejected.status), (Invalid::Version, 505));
        assert_eq!(reason_phrase(505), "Version Not Supported");
        // The request line says NEWMETHOD, the CSeq still INVITE.
        let mismatch = INVITE.replacen("INVITE sip:", "NEWMETHOD sip:", 1);
        assert_eq!(parse(mismatch.as_bytes()).unwrap_err().status, 501);
    }

    #[test]
    fn display_names_are_tokens_or_quoted_and_brackets_hold_no_spaces() {
        assert!(NameAddr::parse("caller<sip:c@example.com>;tag=1").is_some());
        assert!(NameAddr::parse("Bell, Alexander <sip:a@example.com>;tag=43").is_none());
        assert!(NameAddr::parse("\"Watson, Thomas\" < sip:t@example.org >").is_none());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:x%3E").is_none());
        assert!(NameAddr::parse("<sip:user@example.com?Route=%3Csip:x%3E>").is_some());
    }

    #[test]
    fn content_length_longer_than_body_is_truncation() {
        let text = INVITE.replace("Content-Length: 4", "Content-Length: 40");
        assert_eq!(
            parse(text.as_bytes()).unwrap_err().reason,
            Invalid::Truncated {
                declared: 40,
                actual: 4
            }
        );
    }

    #[test]
    fn garbage_truncated_and_oversized_input_never_panics() {
        let mut inputs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\x00\xff\xfe garbage".to_vec(),
            b"INVITE".to_vec(),
            b"INVITE sip:a SIP/2.0\r\nVia".to_vec(),
            vec![b'A'; 200_000],
            b"SIP/2.0 200\r\n\r\n".to_vec(),
        ];
        for cut in 0..INVITE.len() {
            inputs.push(INVITE.as_bytes()[..cut].to_vec());
        }
        for input in &inputs {
            let _ = parse(input);
        }
    }

    #[test]
    fn name_addr_with_quoted_brackets_and_semicolons() {
        let n = NameAddr::parse("\"a <b>; c\" <sip:x@y;lr>;tag=9").unwrap();
        assert_eq!(n.uri, "sip:x@y;lr");
        assert_eq!(n.tag.as_deref(), Some("9"));
        assert!(n.is_loose_route());
    }

    #[test]
    fn list_values_split_outside_quotes_and_brackets() {
        let parts = split_list(&["<sip:a;lr>, <sip:b,c;lr>", "\"x,y\" <sip:d>"]);
        assert_eq!(parts, vec!["<sip:a;lr>", "<sip:b,c;lr>", "\"x,y\" <sip:d>"]);
    }

    #[test]
    fn uri_addresses_default_to_port_5060() {
        assert_eq!(
            uri_socket_addr("sip:p@10.1.2.3;lr"),
            Some("10.1.2.3:5060".parse().unwrap())
        );
        assert_eq!(
            uri_socket_addr("sip:[::1]:5080;transport=tcp"),
            Some("[::1]:5080".parse().unwrap())
        );
        assert_eq!(uri_socket_addr("sip:pbx.example.com"), None);
    }

    #[test]
    fn responses_stamp_received_and_rport() {
        let r = request(INVITE);
        let source: SocketAddr = "192.0.2.9:40000".parse().unwrap();
        let stamped = stamp_top_via(&r.seed.vias[0], &r.top_via, source);
        assert!(
            stamped.ends_with(";received=192.0.2.9;rport=40000"),
            "{stamped}"
        );
        assert_eq!(response_destination(&r.top_via, source, false), source);
    }
}
