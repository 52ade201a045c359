//! The SDP of one call as a session with state (RFC 3264 section 8, RFC 6337): what was
//! agreed last, the m= lines in their order, our `o=` version (one more for every
//! description we write), and our offer while it waits for its answer. An offer we cannot
//! take leaves the session as it was, so the call goes on unchanged.

use std::net::SocketAddr;

use super::{
    accept_answer_to, our_codecs, read_offer, write_answer, write_audio, write_session_header,
    Direction, MediaLine, Negotiated, SdpError, TELEPHONE_EVENT_PAYLOAD_TYPE,
};
use crate::media::Codec;

#[derive(Debug, Clone)]
pub struct SdpSession {
    local_rtp: SocketAddr,
    session_id: u64,
    /// The `o=` version the next description we write carries.
    next_version: u64,
    /// Every m= line of the last exchange, in order.
    lines: Vec<MediaLine>,
    /// Which of `lines` is the call's audio.
    audio_index: usize,
    current: Option<Negotiated>,
    local_sdp: String,
    /// The direction our outstanding offer asked for.
    pending_offer: Option<Direction>,
}

impl SdpSession {
    /// A session for a call whose RTP socket is `local_rtp`; the first description we write
    /// has version `session_id`.
    pub fn new(local_rtp: SocketAddr, session_id: u64) -> SdpSession {
        SdpSession {
            local_rtp,
            session_id,
            next_version: session_id,
            lines: Vec::new(),
            audio_index: 0,
            current: None,
            local_sdp: String::new(),
            pending_offer: None,
        }
    }

    /// What is agreed now (`None` before the first answer).
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.current
    }

    /// The last description we wrote (answer or offer).
    pub fn local_sdp(&self) -> &str {
        &self.local_sdp
    }

    /// Whether our offer waits for its answer.
    pub fn offer_pending(&self) -> bool {
        self.pending_offer.is_some()
    }

    /// Answers the peer's offer (the first one or a re-offer) and makes it the session's
    /// state. A re-offer may reject every stream (port 0): it is answered in kind and the
    /// media goes inactive. On an error nothing changes: the caller answers 488 (or 400).
    pub fn answer(&mut self, offer: &str) -> Result<String, SdpError> {
        let first = self.current.is_none();
        let answerable = read_offer(offer, !first)?;
        let version = self.take_version();
        let sdp = write_answer(&answerable, self.local_rtp, self.session_id, version);
        match (answerable.chosen, answerable.negotiated) {
            (Some((index, _)), Some(negotiated)) => {
                self.audio_index = index;
                self.current = Some(negotiated);
            }
            _ => {
                // Every stream removed: nothing to send to, nothing to hear.
                self.current = self.current.map(|previous| Negotiated {
                    remote: SocketAddr::new(previous.remote.ip(), 0),
                    direction: Direction::Inactive,
                    ..previous
                });
            }
        }
        self.lines = answerable.lines;
        self.pending_offer = None;
        self.local_sdp = sdp.clone();
        Ok(sdp)
    }

    /// Our offer (a delayed-offer INVITE, a re-INVITE without SDP, or our own re-INVITE):
    /// the codec in use first, then the other G.711 law, telephone-event, asking for
    /// `direction`; every other m= line keeps its place with port 0.
    pub fn offer(&mut self, direction: Direction) -> String {
        let first = self.current.map_or(Codec::Pcmu, |n| n.codec);
        self.offer_preferring(first, direction)
    }

    /// Our offer with `first` listed first (an agent's phone is offered the caller's codec
    /// first, sparing the bridge a transcoding when the phone can do it).
    pub fn offer_preferring(&mut self, first: Codec, direction: Direction) -> String {
        let version = self.take_version();
        let mut sdp = String::with_capacity(320);
        write_session_header(&mut sdp, self.local_rtp, self.session_id, version);
        // RTCP multiplexing is offered in a first offer; a re-offer keeps what was agreed,
        // so a call never switches its RTCP port mid-way (RFC 5761 section 5.1.3).
        let rtcp_mux = self.current.is_none_or(|agreed| agreed.rtcp_mux);
        let audio = |sdp: &mut String, proto: &str| {
            write_audio(
                sdp,
                self.local_rtp.port(),
                proto,
                &our_codecs(first),
                Some(TELEPHONE_EVENT_PAYLOAD_TYPE),
                direction,
                rtcp_mux,
            )
        };
        if self.lines.is_empty() {
            audio(&mut sdp, "RTP/AVP");
        } else {
            for (index, line) in self.lines.iter().enumerate() {
                if index == self.audio_index {
                    audio(&mut sdp, &line.proto);
                } else {
                    line.write_rejected(&mut sdp);
                }
            }
        }
        self.pending_offer = Some(direction);
        self.local_sdp = sdp.clone();
        sdp
    }

    /// The peer's answer to our offer. On an error the session keeps what was agreed before
    /// (the offer is withdrawn); so does [`SdpSession::withdraw_offer`] when the offer is
    /// refused (488, 491, a timeout).
    pub fn accept_answer(&mut self, answer: &str) -> Result<Negotiated, SdpError> {
        let offered = self.pending_offer.take().unwrap_or(Direction::SendRecv);
        let negotiated = accept_answer_to(answer, offered)?;
        self.current = Some(negotiated);
        Ok(negotiated)
    }

    pub fn withdraw_offer(&mut self) {
        self.pending_offer = None;
    }

    fn take_version(&mut self) -> u64 {
        let version = self.next_version;
        self.next_version += 1;
        version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> SocketAddr {
        "192.0.2.10:20000".parse().unwrap()
    }

    fn offer_with(connection: &str, media: &str) -> String {
        format!(
            "v=0\r\no=phone 5 5 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 {connection}\r\nt=0 0\r\n{media}"
        )
    }

    fn pcmu(direction: &str) -> String {
        offer_with(
            "198.51.100.7",
            &format!("m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"),
        )
    }

    /// A session that answered a plain PCMU sendrecv offer.
    fn established() -> SdpSession {
        let mut session = SdpSession::new(local(), 40);
        session.answer(&pcmu("sendrecv")).unwrap();
        session
    }

    fn origin(sdp: &str) -> &str {
        sdp.lines().find(|l| l.starts_with("o=")).unwrap()
    }

    fn direction_line(sdp: &str) -> Vec<&str> {
        sdp.lines()
            .filter(|l| Direction::parse(l.trim_start_matches("a=")).is_some())
            .collect()
    }

    fn media_lines(sdp: &str) -> Vec<&str> {
        sdp.lines().filter(|l| l.starts_with("m=")).collect()
    }

    #[test]
    fn the_origin_version_increases_with_every_description_we_write() {
        let mut session = SdpSession::new(local(), 40);
        let first = session.answer(&pcmu("sendrecv")).unwrap();
        assert_eq!(origin(&first), "o=hotline 40 40 IN IP4 192.0.2.10");
        let second = session.answer(&pcmu("sendrecv")).unwrap();
        assert_eq!(origin(&second), "o=hotline 40 41 IN IP4 192.0.2.10");
        let ours = session.offer(Direction::SendRecv);
        assert_eq!(origin(&ours), "o=hotline 40 42 IN IP4 192.0.2.10");
        // A refused re-offer writes nothing and uses up no version.
        assert!(session
            .answer(&offer_with("198.51.100.7", "m=audio 4000 RTP/AVP 18\r\n"))
            .is_err());
        let third = session.answer(&pcmu("sendrecv")).unwrap();
        assert_eq!(origin(&third), "o=hotline 40 43 IN IP4 192.0.2.10");
    }

    #[test]
    fn a_sendonly_hold_is_answered_recvonly_and_stops_our_sending() {
        let mut session = established();
        let answer = session.answer(&pcmu("sendonly")).unwrap();
        assert_eq!(direction_line(&answer), vec!["a=recvonly"]);
        let held = session.negotiated().unwrap();
        assert_eq!(held.direction, Direction::RecvOnly);
        assert!(!held.sends());
        let answer = session.answer(&pcmu("sendrecv")).unwrap();
        assert_eq!(direction_line(&answer), vec!["a=sendrecv"]);
        assert!(session.negotiated().unwrap().sends());
    }

    #[test]
    fn inactive_is_answered_inactive_and_recvonly_sendonly() {
        let mut session = established();
        let answer = session.answer(&pcmu("inactive")).unwrap();
        assert_eq!(direction_line(&answer), vec!["a=inactive"]);
        assert!(!session.negotiated().unwrap().sends());
        let answer = session.answer(&pcmu("recvonly")).unwrap();
        assert_eq!(direction_line(&answer), vec!["a=sendonly"]);
        assert!(session.negotiated().unwrap().sends());
    }

    #[test]
    fn connection_0_0_0_0_is_hold_and_never_a_destination() {
        let mut session = established();
        let hold = offer_with("0.0.0.0", "m=audio 4000 RTP/AVP 0\r\n");
        let answer = session.answer(&hold).unwrap();
        assert_eq!(direction_line(&answer), vec!["a=recvonly"]);
        let held = session.negotiated().unwrap();
        assert!(!held.sends(), "{held:?}");
        let with_recvonly = offer_with("0.0.0.0", "m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n");
        let answer = session.answer(&with_recvonly).unwrap();
        assert_eq!(direction_line(&answer), vec!["a=inactive"]);
        assert!(!session.negotiated().unwrap().sends());
        // Even a sendonly-looking answer to our offer at 0.0.0.0 is no destination.
        session.offer(Direction::SendRecv);
        let accepted = session
            .accept_answer(&offer_with("0.0.0.0", "m=audio 4000 RTP/AVP 0\r\n"))
            .unwrap();
        assert!(!accepted.sends());
    }

    #[test]
    fn a_pcma_re_offer_switches_the_call_to_pcma() {
        let mut session = established();
        assert_eq!(session.negotiated().unwrap().codec, Codec::Pcmu);
        let answer = session
            .answer(&offer_with("198.51.100.8", "m=audio 4100 RTP/AVP 8\r\n"))
            .unwrap();
        assert_eq!(media_lines(&answer), vec!["m=audio 20000 RTP/AVP 8"]);
        let now = session.negotiated().unwrap();
        assert_eq!((now.codec, now.payload_type), (Codec::Pcma, 8));
        assert_eq!(now.remote, "198.51.100.8:4100".parse().unwrap());
        assert_eq!(now.telephone_event, None);
    }

    #[test]
    fn g729_only_or_t38_re_offers_are_refused_and_change_nothing() {
        let mut session = established();
        let before = session.negotiated();
        let before_sdp = session.local_sdp().to_string();
        let g729 = offer_with(
            "198.51.100.9",
            "m=audio 4200 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n",
        );
        assert_eq!(session.answer(&g729), Err(SdpError::NoCommonCodec));
        let t38 = offer_with(
            "198.51.100.9",
            "m=image 4200 udptl t38\r\na=T38FaxVersion:0\r\n",
        );
        assert_eq!(session.answer(&t38), Err(SdpError::NoAudio));
        let t38_replacing_audio = offer_with(
            "198.51.100.9",
            "m=audio 0 RTP/AVP 0\r\nm=image 4200 udptl t38\r\n",
        );
        assert_eq!(session.answer(&t38_replacing_audio), Err(SdpError::NoAudio));
        assert_eq!(session.negotiated(), before);
        assert_eq!(session.local_sdp(), before_sdp);
    }

    #[test]
    fn a_re_offer_rejecting_the_audio_is_answered_with_port_0_and_stops_media() {
        let mut session = established();
        let answer = session
            .answer(&offer_with("198.51.100.7", "m=audio 0 RTP/AVP 0\r\n"))
            .unwrap();
        assert_eq!(media_lines(&answer), vec!["m=audio 0 RTP/AVP 0"]);
        let now = session.negotiated().unwrap();
        assert!(!now.sends());
        assert_eq!(now.codec, Codec::Pcmu);
    }

    #[test]
    fn m_line_order_is_kept_in_answers_and_in_our_offers() {
        let mut session = SdpSession::new(local(), 1);
        let offer = offer_with(
            "198.51.100.7",
            "m=video 5000 RTP/AVP 96\r\nm=audio 4000 RTP/AVP 8\r\n",
        );
        let answer = session.answer(&offer).unwrap();
        assert_eq!(
            media_lines(&answer),
            vec!["m=video 0 RTP/AVP 96", "m=audio 20000 RTP/AVP 8"]
        );
        let ours = session.offer(Direction::SendOnly);
        assert_eq!(
            media_lines(&ours),
            vec!["m=video 0 RTP/AVP 96", "m=audio 20000 RTP/AVP 8 0 101"],
            "the codec in use first, the m= lines in their places"
        );
        assert_eq!(direction_line(&ours), vec!["a=sendonly"]);
    }

    #[test]
    fn the_answer_to_our_offer_narrows_the_direction_we_asked_for() {
        let answer = |direction: &str| {
            offer_with(
                "198.51.100.7",
                &format!("m=audio 4000 RTP/AVP 0\r\na={direction}\r\n"),
            )
        };
        for (ours, theirs, agreed) in [
            (Direction::SendRecv, "inactive", Direction::Inactive),
            (Direction::SendRecv, "sendonly", Direction::RecvOnly),
            (Direction::SendRecv, "recvonly", Direction::SendOnly),
            // Lenient peers answer sendrecv to anything: we keep to what we offered.
            (Direction::SendOnly, "sendrecv", Direction::SendOnly),
            (Direction::Inactive, "sendrecv", Direction::Inactive),
            (Direction::RecvOnly, "sendrecv", Direction::RecvOnly),
        ] {
            let mut session = established();
            session.offer(ours);
            let accepted = session.accept_answer(&answer(theirs)).unwrap();
            assert_eq!(accepted.direction, agreed, "{ours:?} answered {theirs}");
            assert_eq!(
                accepted.sends(),
                matches!(agreed, Direction::SendOnly),
                "{ours:?}/{theirs}"
            );
        }
    }

    #[test]
    fn the_local_sdp_is_the_last_description_we_wrote() {
        let mut session = SdpSession::new(local(), 40);
        let answer = session.answer(&pcmu("sendrecv")).unwrap();
        assert_eq!(session.local_sdp(), answer);
        assert!(session.local_sdp().starts_with("v=0\r\no=hotline 40 40 "));
        let ours = session.offer(Direction::SendOnly);
        assert_eq!(session.local_sdp(), ours);
    }

    #[test]
    fn our_hold_offer_answered_recvonly_leaves_us_sending_only() {
        let mut session = established();
        session.offer(Direction::SendOnly);
        assert!(session.offer_pending());
        let answer = offer_with("198.51.100.7", "m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n");
        let agreed = session.accept_answer(&answer).unwrap();
        assert_eq!(agreed.direction, Direction::SendOnly);
        assert!(!session.offer_pending());
        // A withdrawn offer (491, 488) leaves what was agreed.
        session.offer(Direction::Inactive);
        session.withdraw_offer();
        assert_eq!(session.negotiated(), Some(agreed));
    }

    #[test]
    fn a_re_offer_keeps_rtcp_mux_as_agreed() {
        // Agreed without multiplexing: our re-offer does not ask for it.
        let mut plain = established();
        assert!(!plain.negotiated().unwrap().rtcp_mux);
        let reoffer = plain.offer(Direction::SendOnly);
        assert!(!reoffer.contains("a=rtcp-mux"), "{reoffer}");
        // Agreed with it: every later description of ours keeps it.
        let mut muxed = SdpSession::new(local(), 40);
        let offer = offer_with(
            "198.51.100.7",
            "m=audio 4000 RTP/AVP 0\r\na=rtcp-mux\r\na=sendrecv\r\n",
        );
        let answer = muxed.answer(&offer).unwrap();
        assert!(answer.ends_with("a=sendrecv\r\na=rtcp-mux\r\n"), "{answer}");
        assert!(muxed.negotiated().unwrap().rtcp_mux);
        let reoffer = muxed.offer(Direction::SendOnly);
        assert!(
            reoffer.ends_with("a=sendonly\r\na=rtcp-mux\r\n"),
            "{reoffer}"
        );
        // A first offer of ours (to a phone) asks for it, and the phone's answer decides.
        let mut to_phone = SdpSession::new(local(), 50);
        let first = to_phone.offer(Direction::SendRecv);
        assert!(first.ends_with("a=sendrecv\r\na=rtcp-mux\r\n"), "{first}");
        let phone_answer = offer_with("198.51.100.9", "m=audio 5000 RTP/AVP 0\r\n");
        assert!(!to_phone.accept_answer(&phone_answer).unwrap().rtcp_mux);
        assert!(!to_phone.negotiated().unwrap().rtcp_mux);
    }
}
