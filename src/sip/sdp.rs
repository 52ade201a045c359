//! SDP offer/answer for one audio stream (RFC 3264 over RFC 4566): G.711 µ-law and A-law,
//! RFC 4733 telephone-events, 20 ms packets.
//!
//! Parsing is lenient where that costs nothing (unknown lines and attributes are skipped, `c=`
//! may sit at session or media level, static payload types need no `a=rtpmap`) and strict
//! where a wrong guess would send audio to the wrong place (`m=` ports, `c=` addresses).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use thiserror::Error;

use crate::media::Codec;

/// The payload type we offer telephone-events on; in answers we echo the offerer's.
pub const TELEPHONE_EVENT_PAYLOAD_TYPE: u8 = 101;
/// The only packetisation we send.
pub const PTIME_MS: u32 = 20;

/// What offer/answer settled for the call's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Where to send RTP.
    pub remote: SocketAddr,
    pub codec: Codec,
    /// The payload type carrying `codec` (the static 0 or 8 in practice).
    pub payload_type: u8,
    /// The payload type of telephone-events, if both sides support them.
    pub telephone_event: Option<u8>,
    /// The packetisation the peer asked for with `a=ptime` (20 when it did not say). We always
    /// send 20 ms; this is for the record and for a receiver that wants to know.
    pub ptime_ms: u32,
    /// Our side's direction as agreed (RFC 3264 section 6.1): `RecvOnly` or `Inactive` while
    /// the peer holds the call.
    pub direction: Direction,
    /// RTCP shares the RTP port (RFC 5761): the offer and the answer both carry
    /// `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// The port the peer named with `a=rtcp:` (RFC 3605) for its RTCP; `None` when it did
    /// not say, so RTCP goes to the RTP port plus one (RFC 3550 section 11). Unused when
    /// `rtcp_mux` is set.
    pub rtcp_port: Option<u16>,
}

impl Negotiated {
    /// Whether we may send RTP: our direction allows it and the peer gave a real address
    /// (`c=0.0.0.0` is RFC 2543 hold, never a destination; port 0 is a rejected stream).
    pub fn sends(&self) -> bool {
        matches!(self.direction, Direction::SendRecv | Direction::SendOnly)
            && !self.remote.ip().is_unspecified()
            && self.remote.port() != 0
    }

    /// Where our RTCP for this stream goes: the RTP address when multiplexed, else the
    /// `a=rtcp:` port or the RTP port plus one, at the RTP address.
    pub fn rtcp_remote(&self) -> SocketAddr {
        if self.rtcp_mux {
            return self.remote;
        }
        let port = self
            .rtcp_port
            .unwrap_or_else(|| self.remote.port().saturating_add(1));
        SocketAddr::new(self.remote.ip(), port)
    }
}

/// Why a session description cannot be used. `NoCommonCodec` and `NoAudio` map to 488 Not
/// Acceptable Here, `Malformed` to 400.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    #[error("malformed SDP: {0}")]
    Malformed(String),
    #[error("SDP has no usable audio stream (no m=audio line with a non-zero port over RTP/AVP)")]
    NoAudio,
    #[error("SDP offers no codec we support (PCMU or PCMA at 8000 Hz)")]
    NoCommonCodec,
}

/// A media direction attribute (RFC 3264 section 5.1), seen from the side that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn parse(attribute: &str) -> Option<Direction> {
        match attribute {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// RFC 3264 section 6.1: the answer's direction mirrors the offer's.
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    pub fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct RtpMap<'a> {
    payload_type: u8,
    encoding: &'a str,
    clock_rate: u32,
}

#[derive(Debug, Default)]
struct MediaDescription<'a> {
    kind: &'a str,
    port: u16,
    proto: &'a str,
    formats: Vec<&'a str>,
    connection: Option<IpAddr>,
    rtpmaps: Vec<RtpMap<'a>>,
    ptime: Option<u32>,
    direction: Option<Direction>,
    /// `a=rtcp-mux` (RFC 5761).
    rtcp_mux: bool,
    /// The port of `a=rtcp:` (RFC 3605); an address there, if any, is not used.
    rtcp_port: Option<u16>,
}

#[derive(Debug, Default)]
struct SessionDescription<'a> {
    connection: Option<IpAddr>,
    direction: Option<Direction>,
    media: Vec<MediaDescription<'a>>,
}

/// The codec, its payload type and the telephone-event payload type one m= line allows.
#[derive(Debug, Clone, Copy)]
struct Choice {
    codec: Codec,
    payload_type: u8,
    telephone_event: Option<u8>,
}

impl<'a> MediaDescription<'a> {
    fn is_usable_audio(&self) -> bool {
        self.kind == "audio" && self.port != 0 && matches!(self.proto, "RTP/AVP" | "RTP/AVPF")
    }

    fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap<'a>> {
        self.rtpmaps.iter().find(|m| m.payload_type == payload_type)
    }

    fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|&pt| pt < 128)
    }

    /// The first format, in the offerer's order of preference, that we can speak.
    fn choose(&self) -> Option<Choice> {
        let (codec, payload_type) = self.payload_types().find_map(|pt| {
            let codec = match self.rtpmap(pt) {
                Some(map) if map.clock_rate == 8000 => Codec::from_name(map.encoding),
                Some(_) => None,
                None => Codec::from_static_payload_type(pt),
            };
            codec.map(|c| (c, pt))
        })?;
        let telephone_event = self.payload_types().find(|&pt| {
            self.rtpmap(pt).is_some_and(|map| {
                map.encoding.eq_ignore_ascii_case("telephone-event") && map.clock_rate == 8000
            })
        });
        Some(Choice {
            codec,
            payload_type,
            telephone_event,
        })
    }
}

fn malformed(what: impl Into<String>) -> SdpError {
    SdpError::Malformed(what.into())
}

fn parse(text: &str) -> Result<SessionDescription<'_>, SdpError> {
    if text.trim().is_empty() {
        return Err(malformed("empty session description"));
    }
    let mut session = SessionDescription::default();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        // Lines that are not `x=...` are skipped: RFC 4566 asks parsers to ignore what they do
        // not understand, and refusing a call over a stray blank line helps nobody.
        let Some((kind, value)) = line.split_once('=') else {
            continue;
        };
        match kind {
            "c" => {
                let address = parse_connection(value)?;
                match session.media.last_mut() {
                    Some(media) => media.connection = Some(address),
                    None => session.connection = Some(address),
                }
            }
            "m" => session.media.push(parse_media(value)?),
            "a" => {
                let attribute = value.trim();
                match session.media.last_mut() {
                    Some(media) => parse_media_attribute(media, attribute),
                    None => {
                        if let Some(direction) = Direction::parse(attribute) {
                            session.direction = Some(direction);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(session)
}

fn parse_connection(value: &str) -> Result<IpAddr, SdpError> {
    let mut fields = value.split_whitespace();
    let (Some(network), Some(address_type), Some(address)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed(format!(
            "c={value}: expected `IN IP4|IP6 address`"
        )));
    };
    if network != "IN" || !matches!(address_type, "IP4" | "IP6") {
        return Err(malformed(format!(
            "c={value}: not an IN IP4/IP6 connection"
        )));
    }
    // A multicast address may carry /ttl and /count; only the address matters here.
    let address = address.split('/').next().unwrap_or(address);
    address
        .parse::<IpAddr>()
        .map_err(|_| malformed(format!("c={value}: `{address}` is not an IP address")))
}

fn parse_media(value: &str) -> Result<MediaDescription<'_>, SdpError> {
    let mut fields = value.split_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed(format!(
            "m={value}: expected `media port proto formats`"
        )));
    };
    // `port/count` asks for several consecutive ports; we use the first.
    let port_text = port.split('/').next().unwrap_or(port);
    let port = port_text
        .parse::<u16>()
        .map_err(|_| malformed(format!("m={value}: port `{port_text}` is not a number")))?;
    Ok(MediaDescription {
        kind,
        port,
        proto,
        formats: fields.collect(),
        ..MediaDescription::default()
    })
}

fn parse_rtpmap(map: &str) -> Option<RtpMap<'_>> {
    let (payload_type, encoding) = map.trim().split_once(char::is_whitespace)?;
    let mut parts = encoding.trim().split('/');
    Some(RtpMap {
        payload_type: payload_type.parse().ok()?,
        encoding: parts.next()?,
        clock_rate: parts.next()?.parse().ok()?,
    })
}

fn parse_media_attribute<'a>(media: &mut MediaDescription<'a>, attribute: &'a str) {
    if let Some(direction) = Direction::parse(attribute) {
        media.direction = Some(direction);
    } else if let Some(map) = attribute.strip_prefix("rtpmap:") {
        // A broken rtpmap for a format we would not use anyway must not cost the call, so it
        // is skipped; a static payload type then keeps its RFC 3551 meaning.
        match parse_rtpmap(map) {
            Some(map) => media.rtpmaps.push(map),
            None => tracing::debug!(attribute, "skipping unreadable a=rtpmap"),
        }
    } else if let Some(ptime) = attribute.strip_prefix("ptime:") {
        // A fractional or absurd ptime is the peer's problem, not a reason to refuse the call.
        media.ptime = ptime.trim().parse::<u32>().ok().filter(|&p| p > 0);
    } else if attribute == "rtcp-mux" {
        media.rtcp_mux = true;
    } else if let Some(rtcp) = attribute.strip_prefix("rtcp:") {
        // `a=rtcp:port [IN IP4 address]`: a port that is not one (0, text) is ignored and
        // RTCP goes to the default port, rather than refusing the call over it.
        media.rtcp_port = rtcp
            .split_whitespace()
            .next()
            .and_then(|port| port.parse::<u16>().ok())
            .filter(|&port| port != 0);
    }
}

fn remote_address(
    session: &SessionDescription<'_>,
    media: &MediaDescription<'_>,
) -> Result<SocketAddr, SdpError> {
    let address = media
        .connection
        .or(session.connection)
        .ok_or_else(|| malformed("no c= line for the audio stream, at media or session level"))?;
    Ok(SocketAddr::new(address, media.port))
}

/// Finds the first audio stream we can use; `NoAudio` when there is no audio stream at all,
/// `NoCommonCodec` when there is audio but in codecs we do not speak.
fn select<'s, 'a>(
    session: &'s SessionDescription<'a>,
) -> Result<(usize, &'s MediaDescription<'a>, Choice), SdpError> {
    let mut saw_audio = false;
    for (index, media) in session.media.iter().enumerate() {
        if !media.is_usable_audio() {
            continue;
        }
        saw_audio = true;
        if let Some(choice) = media.choose() {
            return Ok((index, media, choice));
        }
    }
    Err(if saw_audio {
        SdpError::NoCommonCodec
    } else {
        SdpError::NoAudio
    })
}

/// The direction the offerer really asks for: what it wrote, less receiving when its address
/// is `0.0.0.0` (RFC 2543 hold: it cannot receive at no address).
fn offered_direction(session: &SessionDescription<'_>, media: &MediaDescription<'_>) -> Direction {
    let written = media
        .direction
        .or(session.direction)
        .unwrap_or(Direction::SendRecv);
    let hold_address = media
        .connection
        .or(session.connection)
        .is_some_and(|ip| ip.is_unspecified());
    if !hold_address {
        return written;
    }
    match written {
        Direction::SendRecv | Direction::SendOnly => Direction::SendOnly,
        Direction::RecvOnly | Direction::Inactive => Direction::Inactive,
    }
}

fn write_session_header(sdp: &mut String, local_rtp: SocketAddr, session_id: u64, version: u64) {
    let address_type = if local_rtp.is_ipv4() { "IP4" } else { "IP6" };
    let ip = local_rtp.ip();
    // Writing to a String cannot fail.
    let _ = write!(
        sdp,
        "v=0\r\no=hotline {session_id} {version} IN {address_type} {ip}\r\ns=hotline\r\n\
         c=IN {address_type} {ip}\r\nt=0 0\r\n"
    );
}

fn write_audio(
    sdp: &mut String,
    port: u16,
    proto: &str,
    codecs: &[(Codec, u8)],
    telephone_event: Option<u8>,
    direction: Direction,
    rtcp_mux: bool,
) {
    let _ = write!(sdp, "m=audio {port} {proto}");
    for (_, payload_type) in codecs {
        let _ = write!(sdp, " {payload_type}");
    }
    if let Some(te) = telephone_event {
        let _ = write!(sdp, " {te}");
    }
    sdp.push_str("\r\n");
    for (codec, payload_type) in codecs {
        let _ = write!(sdp, "a=rtpmap:{payload_type} {}/8000\r\n", codec.name());
    }
    if let Some(te) = telephone_event {
        let _ = write!(
            sdp,
            "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-15\r\n"
        );
    }
    let _ = write!(sdp, "a=ptime:{PTIME_MS}\r\na={}\r\n", direction.attribute());
    if rtcp_mux {
        sdp.push_str("a=rtcp-mux\r\n");
    }
}

/// One m= line as offered, kept to answer or re-offer it in its place (RFC 3264 section 8:
/// m= lines are never removed or reordered).
#[derive(Debug, Clone, PartialEq, Eq)]
struct MediaLine {
    kind: String,
    proto: String,
    formats: String,
}

impl MediaLine {
    fn of(media: &MediaDescription<'_>) -> MediaLine {
        MediaLine {
            kind: media.kind.to_owned(),
            proto: media.proto.to_owned(),
            formats: if media.formats.is_empty() {
                "0".to_string()
            } else {
                media.formats.join(" ")
            },
        }
    }

    /// The line refused or removed: port 0 (RFC 3264 section 6 and 8.2).
    fn write_rejected(&self, sdp: &mut String) {
        let _ = write!(sdp, "m={} 0 {} {}\r\n", self.kind, self.proto, self.formats);
    }
}

/// An offer read and matched against what we speak.
struct Answerable {
    lines: Vec<MediaLine>,
    /// The audio line we take, with what we agreed for it; `None` when every stream in the
    /// offer is rejected (port 0) already.
    chosen: Option<(usize, Choice)>,
    negotiated: Option<Negotiated>,
}

/// Reads an offer. `allow_all_rejected`: an offer whose streams all have port 0 is accepted
/// (a re-offer removing the audio) rather than refused as `NoAudio`.
fn read_offer(offer: &str, allow_all_rejected: bool) -> Result<Answerable, SdpError> {
    let session = parse(offer)?;
    let lines: Vec<MediaLine> = session.media.iter().map(MediaLine::of).collect();
    match select(&session) {
        Ok((index, media, choice)) => {
            let negotiated = Negotiated {
                remote: remote_address(&session, media)?,
                codec: choice.codec,
                payload_type: choice.payload_type,
                telephone_event: choice.telephone_event,
                ptime_ms: media.ptime.unwrap_or(PTIME_MS),
                direction: offered_direction(&session, media).answer(),
                rtcp_mux: media.rtcp_mux,
                rtcp_port: media.rtcp_port,
            };
            Ok(Answerable {
                lines,
                chosen: Some((index, choice)),
                negotiated: Some(negotiated),
            })
        }
        Err(SdpError::NoAudio)
            if allow_all_rejected
                && !lines.is_empty()
                && session.media.iter().all(|m| m.port == 0) =>
        {
            Ok(Answerable {
                lines,
                chosen: None,
                negotiated: None,
            })
        }
        Err(error) => Err(error),
    }
}

fn write_answer(
    answerable: &Answerable,
    local_rtp: SocketAddr,
    session_id: u64,
    version: u64,
) -> String {
    let mut sdp = String::with_capacity(320);
    write_session_header(&mut sdp, local_rtp, session_id, version);
    for (index, line) in answerable.lines.iter().enumerate() {
        match (answerable.chosen, answerable.negotiated) {
            (Some((chosen, choice)), Some(negotiated)) if chosen == index => write_audio(
                &mut sdp,
                local_rtp.port(),
                &line.proto,
                &[(choice.codec, choice.payload_type)],
                choice.telephone_event,
                negotiated.direction,
                negotiated.rtcp_mux,
            ),
            _ => line.write_rejected(&mut sdp),
        }
    }
    sdp
}

/// Answers `offer` for a call whose RTP socket is `local_rtp` (the address the peer should
/// send to, so not 0.0.0.0). Picks the first codec in the offer's order that we support,
/// echoes telephone-event on the offerer's payload type, and rejects every other m= line with
/// port 0 as RFC 3264 section 6 requires.
pub fn answer(
    offer: &str,
    local_rtp: SocketAddr,
    session_id: u64,
) -> Result<(String, Negotiated), SdpError> {
    let answerable = read_offer(offer, false)?;
    let Some(negotiated) = answerable.negotiated else {
        return Err(SdpError::NoAudio);
    };
    Ok((
        write_answer(&answerable, local_rtp, session_id, session_id),
        negotiated,
    ))
}

/// Our offer, for an INVITE that came without one (delayed offer): PCMU, PCMA and
/// telephone-event on 101, 20 ms, sendrecv, RTCP multiplexing offered (RFC 5761).
pub fn offer(local_rtp: SocketAddr, session_id: u64) -> String {
    offer_preferring(local_rtp, session_id, Codec::Pcmu)
}

fn our_codecs(first: Codec) -> [(Codec, u8); 2] {
    match first {
        Codec::Pcmu => [(Codec::Pcmu, 0), (Codec::Pcma, 8)],
        Codec::Pcma => [(Codec::Pcma, 8), (Codec::Pcmu, 0)],
    }
}

/// Our offer with `first` listed first: offering an agent's phone the caller's own codec
/// first spares the bridge a transcoding when the phone can do it.
pub fn offer_preferring(local_rtp: SocketAddr, session_id: u64, first: Codec) -> String {
    let mut sdp = String::with_capacity(320);
    write_session_header(&mut sdp, local_rtp, session_id, session_id);
    write_audio(
        &mut sdp,
        local_rtp.port(),
        "RTP/AVP",
        &our_codecs(first),
        Some(TELEPHONE_EVENT_PAYLOAD_TYPE),
        Direction::SendRecv,
        true,
    );
    sdp
}

/// Reads the peer's answer to our sendrecv `offer` (in the ACK of a delayed-offer call, or
/// the 200 of our INVITE).
pub fn accept_answer(answer: &str) -> Result<Negotiated, SdpError> {
    accept_answer_to(answer, Direction::SendRecv)
}

/// Reads the peer's answer to an offer of ours that asked for `offered`: our direction is
/// what we offered, narrowed by what the answer allows.
fn accept_answer_to(answer: &str, offered: Direction) -> Result<Negotiated, SdpError> {
    let session = parse(answer)?;
    let (_, media, choice) = select(&session)?;
    let theirs = offered_direction(&session, media).answer();
    Ok(Negotiated {
        remote: remote_address(&session, media)?,
        codec: choice.codec,
        payload_type: choice.payload_type,
        telephone_event: choice.telephone_event,
        ptime_ms: media.ptime.unwrap_or(PTIME_MS),
        direction: offered.narrowed_to(theirs),
        // We always offer `a=rtcp-mux`; the answer decides (RFC 5761 section 5.1.1).
        rtcp_mux: media.rtcp_mux,
        rtcp_port: media.rtcp_port,
    })
}

impl Direction {
    fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    fn from_parts(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// What both `self` and `other` allow.
    fn narrowed_to(self, other: Direction) -> Direction {
        Direction::from_parts(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
}

mod session;
pub use session::SdpSession;

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> SocketAddr {
        "192.0.2.10:20000".parse().unwrap()
    }

    fn offer_with(media: &str) -> String {
        format!(
            "v=0\r\no=pbx 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n{media}"
        )
    }

    fn media_lines(sdp: &str) -> Vec<&str> {
        sdp.lines().filter(|l| l.starts_with("m=")).collect()
    }

    #[test]
    fn a_pcma_only_offer_is_answered_with_pcma() {
        let offer = offer_with("m=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n");
        let (sdp, negotiated) = answer(&offer, local(), 77).unwrap();
        assert_eq!(negotiated.codec, Codec::Pcma);
        assert_eq!(negotiated.payload_type, 8);
        assert_eq!(negotiated.telephone_event, None);
        assert_eq!(negotiated.remote, "198.51.100.7:4000".parse().unwrap());
        assert_eq!(negotiated.ptime_ms, 20);
        assert_eq!(media_lines(&sdp), vec!["m=audio 20000 RTP/AVP 8"]);
        assert!(sdp.contains("a=rtpmap:8 PCMA/8000\r\n"));
        assert!(sdp.contains("a=ptime:20\r\n"));
        assert!(sdp.contains("a=sendrecv\r\n"));
        assert!(sdp.contains("c=IN IP4 192.0.2.10\r\n"));
        assert!(sdp.starts_with("v=0\r\no=hotline 77 77 IN IP4 192.0.2.10\r\n"));
    }

    #[test]
    fn the_offerers_first_supported_codec_wins() {
        let offer = offer_with("m=audio 4000 RTP/AVP 18 0 8\r\na=rtpmap:18 G729/8000\r\n");
        let (sdp, negotiated) = answer(&offer, local(), 1).unwrap();
        assert_eq!(negotiated.codec, Codec::Pcmu);
        assert_eq!(media_lines(&sdp), vec!["m=audio 20000 RTP/AVP 0"]);
        let offer = offer_with("m=audio 4000 RTP/AVP 8 0\r\n");
        assert_eq!(answer(&offer, local(), 1).unwrap().1.codec, Codec::Pcma);
    }

    #[test]
    fn a_g729_only_offer_has_no_common_codec() {
        let offer = offer_with("m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n");
        assert_eq!(answer(&offer, local(), 1), Err(SdpError::NoCommonCodec));
        // A static payload type remapped to something else is taken at its word.
        let offer = offer_with("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 opus/48000/2\r\n");
        assert_eq!(answer(&offer, local(), 1), Err(SdpError::NoCommonCodec));
    }

    #[test]
    fn telephone_event_is_echoed_on_the_offerers_payload_type() {
        let offer = offer_with(
            "m=audio 4000 RTP/AVP 0 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\n\
             a=fmtp:96 0-16\r\na=ptime:30\r\n",
        );
        let (sdp, negotiated) = answer(&offer, local(), 1).unwrap();
        assert_eq!(negotiated.telephone_event, Some(96));
        assert_eq!(negotiated.ptime_ms, 30);
        assert_eq!(media_lines(&sdp), vec!["m=audio 20000 RTP/AVP 0 96"]);
        assert!(sdp.contains("a=rtpmap:96 telephone-event/8000\r\n"));
        assert!(sdp.contains("a=fmtp:96 0-15\r\n"));
        assert!(sdp.contains("a=ptime:20\r\n"));
    }

    #[test]
    fn connection_may_be_at_session_or_media_level() {
        let session_level = offer_with("m=audio 4000 RTP/AVP 0\r\n");
        assert_eq!(
            answer(&session_level, local(), 1).unwrap().1.remote,
            "198.51.100.7:4000".parse().unwrap()
        );
        let media_level = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n\
                           m=audio 5004 RTP/AVP 8\r\nc=IN IP4 10.0.0.9\r\n";
        assert_eq!(
            answer(media_level, local(), 1).unwrap().1.remote,
            "10.0.0.9:5004".parse().unwrap()
        );
        let both = offer_with("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 203.0.113.5\r\n");
        assert_eq!(
            answer(&both, local(), 1).unwrap().1.remote,
            "203.0.113.5:4000".parse().unwrap(),
            "media level overrides session level"
        );
        let neither = "v=0\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        assert!(matches!(
            answer(neither, local(), 1),
            Err(SdpError::Malformed(_))
        ));
    }

    #[test]
    fn streams_we_cannot_use_are_rejected_with_port_zero_in_order() {
        let offer = offer_with(
            "m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
             m=audio 0 RTP/AVP 0\r\n\
             m=audio 4002 RTP/SAVP 0\r\n\
             m=audio 4004 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n\
             m=audio 4006 RTP/AVP 0\r\n",
        );
        let (sdp, negotiated) = answer(&offer, local(), 1).unwrap();
        assert_eq!(negotiated.remote.port(), 4004);
        assert_eq!(negotiated.codec, Codec::Pcma);
        assert_eq!(
            media_lines(&sdp),
            vec![
                "m=video 0 RTP/AVP 96",
                "m=audio 0 RTP/AVP 0",
                "m=audio 0 RTP/SAVP 0",
                "m=audio 20000 RTP/AVP 8 101",
                "m=audio 0 RTP/AVP 0",
            ]
        );
    }

    #[test]
    fn an_audio_stream_without_our_codecs_is_skipped_for_one_with_them() {
        let offer = offer_with("m=audio 4000 RTP/AVP 18\r\nm=audio 4002 RTP/AVP 0\r\n");
        let (sdp, negotiated) = answer(&offer, local(), 1).unwrap();
        assert_eq!(negotiated.remote.port(), 4002);
        assert_eq!(
            media_lines(&sdp),
            vec!["m=audio 0 RTP/AVP 18", "m=audio 20000 RTP/AVP 0"]
        );
    }

    #[test]
    fn no_audio_at_all_is_no_audio() {
        let video = offer_with("m=video 5000 RTP/AVP 96\r\n");
        assert_eq!(answer(&video, local(), 1), Err(SdpError::NoAudio));
        let rejected = offer_with("m=audio 0 RTP/AVP 0\r\n");
        assert_eq!(answer(&rejected, local(), 1), Err(SdpError::NoAudio));
        let session_only = offer_with("");
        assert_eq!(answer(&session_only, local(), 1), Err(SdpError::NoAudio));
    }

    #[test]
    fn malformed_lines_are_errors_not_panics() {
        for bad in [
            "",
            "   \r\n",
            "v=0\r\nc=IN IP4\r\nm=audio 4000 RTP/AVP 0\r\n",
            "v=0\r\nc=IN IP4 not-an-address\r\nm=audio 4000 RTP/AVP 0\r\n",
            "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio port RTP/AVP 0\r\n",
            "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n",
            "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio\r\n",
        ] {
            assert!(
                matches!(answer(bad, local(), 1), Err(SdpError::Malformed(_))),
                "{bad:?}"
            );
        }
        // Every prefix of a full offer parses to something or an error, never a panic.
        let full = offer_with(
            "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n",
        );
        for end in 0..=full.len() {
            let _ = answer(&full[..end], local(), 1);
        }
    }

    #[test]
    fn lenient_about_what_does_not_matter() {
        // Bare LF line ends, unknown lines, lower-case names, a multicast TTL, a port count,
        // a non-numeric format, a fractional ptime.
        let offer = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nx-junk\nc=IN IP4 10.0.0.2/127\nt=0 0\n\
                     b=AS:64\nm=audio 4000/2 RTP/AVP foo 8\na=rtpmap:8 pcma/8000\na=ptime:20.5\n";
        let (_, negotiated) = answer(offer, local(), 1).unwrap();
        assert_eq!(negotiated.codec, Codec::Pcma);
        assert_eq!(negotiated.remote, "10.0.0.2:4000".parse().unwrap());
        assert_eq!(negotiated.ptime_ms, 20);
        // Unreadable rtpmaps are skipped; static payload types keep their meaning.
        let offer = "v=0\nc=IN IP4 1.2.3.4\nm=audio 4000 RTP/AVP 0\na=rtpmap:x PCMU/8000\n\
                     a=rtpmap:0 PCMU\na=rtpmap:\n";
        assert_eq!(answer(offer, local(), 1).unwrap().1.codec, Codec::Pcmu);
    }

    #[test]
    fn direction_is_mirrored() {
        let hold = offer_with("m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n");
        assert!(answer(&hold, local(), 1)
            .unwrap()
            .0
            .contains("a=recvonly\r\n"));
        let session_level = "v=0\r\nc=IN IP4 1.2.3.4\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\n";
        assert!(answer(session_level, local(), 1)
            .unwrap()
            .0
            .contains("a=inactive\r\n"));
    }

    #[test]
    fn ipv6_addresses_work_both_ways() {
        let offer = "v=0\r\nc=IN IP6 2001:db8::1\r\nm=audio 4000 RTP/AVP 0\r\n";
        let local6: SocketAddr = "[2001:db8::2]:20002".parse().unwrap();
        let (sdp, negotiated) = answer(offer, local6, 5).unwrap();
        assert_eq!(negotiated.remote, "[2001:db8::1]:4000".parse().unwrap());
        assert!(sdp.contains("c=IN IP6 2001:db8::2\r\n"));
    }

    #[test]
    fn our_offer_lists_pcmu_pcma_and_telephone_event_101() {
        let sdp = offer(local(), 42);
        assert_eq!(media_lines(&sdp), vec!["m=audio 20000 RTP/AVP 0 8 101"]);
        for line in [
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=ptime:20",
            "a=sendrecv",
        ] {
            assert!(sdp.contains(&format!("{line}\r\n")), "missing {line}");
        }
    }

    #[test]
    fn delayed_offer_round_trip() {
        // We offer in the 200 OK; the caller answers in the ACK; each side agrees.
        let ours = offer(local(), 9);
        let phone: SocketAddr = "198.51.100.20:30000".parse().unwrap();
        let (their_answer, seen_by_phone) = answer(&ours, phone, 3).unwrap();
        assert_eq!(seen_by_phone.remote, local());
        assert_eq!(seen_by_phone.codec, Codec::Pcmu);
        let accepted = accept_answer(&their_answer).unwrap();
        assert_eq!(
            accepted,
            Negotiated {
                remote: phone,
                codec: Codec::Pcmu,
                payload_type: 0,
                telephone_event: Some(101),
                ptime_ms: 20,
                direction: Direction::SendRecv,
                rtcp_mux: true,
                rtcp_port: None,
            }
        );
    }

    #[test]
    fn an_answer_choosing_pcma_without_events_is_accepted() {
        let their_answer = offer_with("m=audio 4100 RTP/AVP 8\r\n");
        let accepted = accept_answer(&their_answer).unwrap();
        assert_eq!(accepted.codec, Codec::Pcma);
        assert_eq!(accepted.telephone_event, None);
        let refused = offer_with("m=audio 0 RTP/AVP 0\r\n");
        assert_eq!(accept_answer(&refused), Err(SdpError::NoAudio));
    }

    #[test]
    fn an_offer_can_put_the_callers_codec_first() {
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let pcma_first = offer_preferring(local, 7, Codec::Pcma);
        assert!(
            pcma_first.contains("m=audio 40000 RTP/AVP 8 0 101"),
            "{pcma_first}"
        );
        assert!(offer(local, 7).contains("m=audio 40000 RTP/AVP 0 8 101"));
    }

    fn lines_of(sdp: &str) -> Vec<&str> {
        sdp.lines().collect()
    }

    #[test]
    fn an_offer_with_rtcp_mux_is_answered_with_rtcp_mux() {
        let offer =
            offer_with("m=audio 4000 RTP/AVP 0\r\na=rtcp:4000\r\na=rtcp-mux\r\na=sendrecv\r\n");
        let (sdp, negotiated) = answer(&offer, local(), 77).unwrap();
        assert!(negotiated.rtcp_mux);
        assert_eq!(negotiated.rtcp_port, Some(4000));
        assert_eq!(
            negotiated.rtcp_remote(),
            "198.51.100.7:4000".parse().unwrap()
        );
        assert_eq!(
            lines_of(&sdp)[5..],
            [
                "m=audio 20000 RTP/AVP 0",
                "a=rtpmap:0 PCMU/8000",
                "a=ptime:20",
                "a=sendrecv",
                "a=rtcp-mux",
            ]
        );
    }

    #[test]
    fn an_offer_without_rtcp_mux_is_answered_without_it() {
        let offer = offer_with("m=audio 4000 RTP/AVP 0\r\n");
        let (sdp, negotiated) = answer(&offer, local(), 77).unwrap();
        assert!(!negotiated.rtcp_mux);
        assert_eq!(negotiated.rtcp_port, None);
        assert_eq!(
            negotiated.rtcp_remote(),
            "198.51.100.7:4001".parse().unwrap()
        );
        assert!(!sdp.contains("rtcp"), "{sdp}");
    }

    #[test]
    fn an_rtcp_attribute_names_the_rtcp_port() {
        let offer = offer_with("m=audio 4000 RTP/AVP 0\r\na=rtcp:4711 IN IP4 198.51.100.7\r\n");
        let (_, negotiated) = answer(&offer, local(), 77).unwrap();
        assert!(!negotiated.rtcp_mux);
        assert_eq!(negotiated.rtcp_port, Some(4711));
        assert_eq!(
            negotiated.rtcp_remote(),
            "198.51.100.7:4711".parse().unwrap()
        );
        // Nonsense in a=rtcp falls back to the default port instead of costing the call.
        for junk in ["a=rtcp:", "a=rtcp:0", "a=rtcp:seventy", "a=rtcp:70000"] {
            let offer = offer_with(&format!("m=audio 4000 RTP/AVP 0\r\n{junk}\r\n"));
            let (_, negotiated) = answer(&offer, local(), 77).unwrap();
            assert_eq!(negotiated.rtcp_port, None, "{junk}");
            assert_eq!(negotiated.rtcp_remote().port(), 4001, "{junk}");
        }
    }

    #[test]
    fn a_session_level_rtcp_mux_is_not_a_media_level_one() {
        // RFC 5761 makes a=rtcp-mux a media-level attribute.
        let offer = "v=0\r\nc=IN IP4 198.51.100.7\r\na=rtcp-mux\r\nm=audio 4000 RTP/AVP 0\r\n";
        let (sdp, negotiated) = answer(offer, local(), 77).unwrap();
        assert!(!negotiated.rtcp_mux);
        assert!(!sdp.contains("a=rtcp-mux"), "{sdp}");
    }

    #[test]
    fn our_offer_asks_for_rtcp_mux_and_the_answer_decides() {
        let ours = offer(local(), 42);
        assert!(
            ours.ends_with("a=ptime:20\r\na=sendrecv\r\na=rtcp-mux\r\n"),
            "{ours}"
        );
        let with_mux = offer_with("m=audio 4100 RTP/AVP 0\r\na=rtcp-mux\r\n");
        let accepted = accept_answer(&with_mux).unwrap();
        assert!(accepted.rtcp_mux);
        assert_eq!(accepted.rtcp_remote(), "198.51.100.7:4100".parse().unwrap());
        let without = offer_with("m=audio 4100 RTP/AVP 0\r\n");
        let accepted = accept_answer(&without).unwrap();
        assert!(!accepted.rtcp_mux);
        assert_eq!(accepted.rtcp_remote(), "198.51.100.7:4101".parse().unwrap());
    }
}
