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

#[test]
fn at_the_call_limit_the_caller_gets_503_with_retry_after_instead_of_ringing() {
    let mut h = Harness::new(|c| c.dialplan.standards.max_calls = Some(0));
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    assert_eq!(h.responses(), vec![100, 503]);
    assert!(h.last_response(503).contains("Retry-After: 5"));
}

#[test]
fn out_of_rtp_ports_gets_503_at_once() {
    let mut h = Harness::new(|_| {});
    while h.switch.rtp_ports.allocate().is_some() {}
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    assert_eq!(h.responses(), vec![100, 503]);
}

#[test]
fn shutdown_refuses_new_calls_and_ends_calls_in_progress_with_bye() {
    let mut h = Harness::new(|_| {});
    answered_call(&mut h, OFFER_PCMA);
    h.switch.shutdown(h.now);
    h.collect();
    assert!(h.sent.last().unwrap().starts_with("BYE "));
    assert!(!h.switch.is_idle(), "waits for the BYE's answer");
    let second = invite("4008", Some(OFFER_PCMA))
        .replace("switch-test-1", "switch-test-2")
        .replace("z9hG4bK-inv1", "z9hG4bK-inv2");
    h.sip(&second);
    assert_eq!(*h.responses().last().unwrap(), 503);
}
