//! Refusals: the final responses a caller gets at once instead of ringing (S1).

use super::*;

#[test]
fn no_common_codec_gets_488_at_once() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_G729)));
    assert_eq!(h.responses(), vec![100, 488]);
    assert_eq!(h.outcome(), Some("rejected"));
}

#[test]
fn unknown_number_gets_404() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("5555", Some(OFFER_PCMA)));
    assert_eq!(h.responses(), vec![100, 404]);
}

/// The switch asks a refused caller to try again in 5 s (busy) or 60 s (shutting down).
const RETRY_AFTER_BUSY: &str = "5";
const RETRY_AFTER_SHUTDOWN: &str = "60";

#[test]
fn at_the_call_limit_the_next_caller_gets_503_with_retry_after_and_a_freed_place_is_taken_again() {
    // The limit at N = 2: an off-by-one either way turns away the second caller or lets a
    // third one ring.
    let mut h = Harness::new(|c| c.dialplan.standards.max_calls = Some(2));
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.sip(&nth_call(&invite("4008", Some(OFFER_PCMA)), 2, "2000"));
    assert_eq!(h.responses_to(&call_id_of(1)), vec![100, 180]);
    assert_eq!(h.responses_to(&call_id_of(2)), vec![100, 180]);
    h.advance(Duration::from_secs(1));
    assert_eq!(h.responses_to(&call_id_of(1)), vec![100, 180, 200]);
    assert_eq!(h.responses_to(&call_id_of(2)), vec![100, 180, 200]);
    let tag_1 = to_tag(&h.response_to(&call_id_of(1), 200));
    let tag_2 = to_tag(&h.response_to(&call_id_of(2), 200));
    h.sip(&in_dialog("ACK", 1, &tag_1, "", ""));
    h.sip(&nth_call(&in_dialog("ACK", 1, &tag_2, "", ""), 2, "2000"));

    // The third caller is refused at once, never rung.
    h.sip(&nth_call(&invite("4008", Some(OFFER_PCMA)), 3, "3000"));
    assert_eq!(h.responses_to(&call_id_of(3)), vec![100, 503]);
    let refused = h.response_to(&call_id_of(3), 503);
    assert_eq!(
        header_value(&refused, "Retry-After").as_deref(),
        Some(RETRY_AFTER_BUSY),
        "{refused}"
    );

    // One call ends: its place is free for the next caller.
    h.sip(&in_dialog("BYE", 2, &tag_1, "", ""));
    assert_eq!(h.responses_to(&call_id_of(1)), vec![100, 180, 200, 200]);
    h.sip(&nth_call(&invite("4008", Some(OFFER_PCMA)), 4, "4000"));
    assert_eq!(h.responses_to(&call_id_of(4)), vec![100, 180]);
    h.advance(Duration::from_secs(1));
    assert_eq!(h.responses_to(&call_id_of(4)), vec![100, 180, 200]);
}

#[test]
fn out_of_rtp_ports_gets_503_at_once() {
    let mut h = Harness::new(|_| {});
    while h.switch.rtp_ports.allocate().is_some() {}
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    assert_eq!(h.responses(), vec![100, 503]);
    let refused = h.last_response(503);
    assert_eq!(
        header_value(&refused, "Retry-After").as_deref(),
        Some(RETRY_AFTER_BUSY),
        "{refused}"
    );
}

#[test]
fn shutdown_refuses_new_calls_and_ends_calls_in_progress_with_bye() {
    let mut h = Harness::new(|_| {});
    answered_call(&mut h, OFFER_PCMA);
    // A second caller still hears ringing when the switch shuts down.
    h.sip(&nth_call(&invite("4008", Some(OFFER_PCMA)), 2, "2000"));
    assert_eq!(h.responses_to(&call_id_of(2)), vec![100, 180]);
    let mark = h.sent.len();
    h.switch.shutdown(h.now);
    h.collect();
    let byes: Vec<&String> = h.sent[mark..]
        .iter()
        .filter(|m| m.starts_with("BYE "))
        .collect();
    assert_eq!(byes.len(), 1, "{:#?}", &h.sent[mark..]);
    assert_eq!(
        header_value(byes[0], "Call-ID"),
        Some(call_id_of(1)),
        "the answered call is hung up"
    );
    assert_eq!(
        h.responses_to(&call_id_of(2)),
        vec![100, 180, 503],
        "the ringing call is refused, not answered"
    );
    let refused = h.response_to(&call_id_of(2), 503);
    assert_eq!(
        header_value(&refused, "Retry-After").as_deref(),
        Some(RETRY_AFTER_SHUTDOWN),
        "{refused}"
    );
    // The caller ACKs the 503 (same branch as its INVITE), which ends its retransmissions.
    let ack =
        in_dialog("ACK", 1, &to_tag(&refused), "", "").replace("z9hG4bK-ACK-1", "z9hG4bK-inv1");
    h.sip(&nth_call(&ack, 2, "2000"));
    assert!(!h.switch.is_idle(), "waits for the BYE's answer");
    let second = invite("4008", Some(OFFER_PCMA))
        .replace("switch-test-1", "switch-test-3")
        .replace("z9hG4bK-inv1", "z9hG4bK-inv3");
    h.sip(&second);
    assert_eq!(h.responses_to(&call_id_of(3)), vec![100, 503]);
    let refused = h.response_to(&call_id_of(3), 503);
    assert_eq!(
        header_value(&refused, "Retry-After").as_deref(),
        Some(RETRY_AFTER_SHUTDOWN),
        "{refused}"
    );
    // The refused caller is not answered later either.
    h.advance(Duration::from_secs(2));
    assert_eq!(h.responses_to(&call_id_of(2)), vec![100, 180, 503]);
}
