//! Floods from a forged or hostile address: no media before the ACK, calls without an ACK
//! released early, new calls per source address held to the rate.

use super::*;

impl Harness {
    /// `text` arriving from `source` instead of the usual caller.
    fn sip_from(&mut self, source: &str, text: &str) {
        let source: SocketAddr = source.parse().unwrap();
        self.switch
            .handle_sip(self.now, Transport::Udp, source, text.as_bytes());
        self.collect();
    }
}

/// Another address of the trusted trunk network.
const ELSEWHERE: &str = "127.0.0.2:5070";

#[test]
fn media_starts_with_the_ack_toward_the_offered_address_and_not_at_the_200() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.responses(), vec![100, 180, 200]);
    h.advance(Duration::from_millis(4_000));
    // The socket is open (it sends nothing); the media starts only with the ACK.
    let port = h.switch.calls[&CallId(1)].rtp_port;
    assert_eq!(
        h.media,
        vec![MediaCommand::Open {
            call: CallId(1),
            local_port: port,
            conversation: CallId(1),
            expect_from: Some("127.0.0.1:6000".parse().unwrap()),
        }],
        "nothing is sent before the ACK"
    );
    let tag = to_tag(&h.last_response(200));
    h.sip(&in_dialog("ACK", 1, &tag, "", ""));
    assert!(
        matches!(h.media[1], MediaCommand::Start { call: CallId(1), remote, .. } if remote == "127.0.0.1:6000".parse().unwrap()),
        "{:?}",
        h.media
    );
    // The ACK came in time: the call goes on past the ACK wait.
    h.advance(Duration::from_secs(10));
    assert!(!h.sent.iter().any(|m| m.starts_with("BYE ")));
    assert_eq!(h.outcome(), None);
}

#[test]
fn a_call_never_acked_gives_its_rtp_port_back_after_five_seconds_for_the_next_call() {
    let mut h = Harness::new(|_| {});
    // One RTP port in all.
    h.switch.rtp_ports = RtpPorts::seeded(40000, 40000, 1);
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.responses_to(&call_id_of(1)), vec![100, 180, 200]);
    h.sip_from(
        ELSEWHERE,
        &nth_call(&invite("4008", Some(OFFER_PCMA)), 2, "2000"),
    );
    assert_eq!(
        h.responses_to(&call_id_of(2)),
        vec![100, 503],
        "the only port is held by the unconfirmed call"
    );
    h.advance(Duration::from_secs(5));
    h.sip_from(
        ELSEWHERE,
        &nth_call(&invite("4008", Some(OFFER_PCMA)), 3, "3000"),
    );
    assert_eq!(h.responses_to(&call_id_of(3)), vec![100, 180]);
    h.advance(Duration::from_secs(1));
    let ok = h.response_to(&call_id_of(3), 200);
    assert!(ok.contains("m=audio 40000 "), "{ok}");
}

#[test]
fn new_calls_from_one_address_over_the_rate_get_503_with_retry_after_once_and_others_get_through() {
    // Three a second: a burst of six at once, then one every third of a second.
    let mut h = Harness::new(|c| c.dialplan.standards.new_calls_per_source = 3);
    for n in 1..=7 {
        h.sip(&nth_call(&invite("4008", Some(OFFER_PCMA)), n, "1000"));
    }
    for n in 1..=6 {
        assert_eq!(h.responses_to(&call_id_of(n)), vec![100, 180], "call {n}");
    }
    assert_eq!(h.responses_to(&call_id_of(7)), vec![100, 503]);
    let refused = h.response_to(&call_id_of(7), 503);
    assert_eq!(
        header_value(&refused, "Retry-After").as_deref(),
        Some("5"),
        "{refused}"
    );
    // Another address still gets through at once.
    h.sip_from(
        ELSEWHERE,
        &nth_call(&invite("4008", Some(OFFER_PCMA)), 8, "5000"),
    );
    assert_eq!(h.responses_to(&call_id_of(8)), vec![100, 180]);
    // The refused call left no record: a flood does not fill the call records.
    let begun = h
        .records
        .iter()
        .filter(|r| matches!(r, RecordCommand::Begin(_)))
        .count();
    assert_eq!(begun, 7);
    // A third of a second later, the first address may start one more, and only one.
    h.advance(Duration::from_millis(334));
    h.sip(&nth_call(&invite("4008", Some(OFFER_PCMA)), 9, "1000"));
    h.sip(&nth_call(&invite("4008", Some(OFFER_PCMA)), 10, "1000"));
    assert_eq!(h.responses_to(&call_id_of(9)), vec![100, 180]);
    assert_eq!(h.responses_to(&call_id_of(10)), vec![100, 503]);
}

#[test]
fn a_503_to_an_address_that_never_acks_is_sent_once_and_not_retransmitted() {
    let mut h = Harness::new(|c| c.dialplan.standards.new_calls_per_source = 1);
    for n in 1..=3 {
        h.sip(&nth_call(&invite("4008", Some(OFFER_PCMA)), n, "1000"));
    }
    h.advance(Duration::from_secs(40));
    assert_eq!(
        h.responses_to(&call_id_of(3)),
        vec![100, 503],
        "one 503 in 40 s, however long the forged caller stays silent"
    );
}
