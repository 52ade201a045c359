//! Answering: ringing within the ring budget, the ACK, hang-ups and cancels, delayed offers.

use super::*;

#[test]
fn answers_after_the_first_ring_and_within_three_rings() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    assert_eq!(h.responses(), vec![100, 180], "Trying and Ringing at once");
    assert_eq!(
        h.switch.poll_timeout().map(|t| t - h.t0),
        Some(Duration::from_secs(1))
    );
    h.advance(Duration::from_millis(999));
    assert_eq!(
        h.responses(),
        vec![100, 180],
        "not answered before ring 1 ends"
    );
    h.advance(Duration::from_millis(1));
    assert_eq!(h.responses(), vec![100, 180, 200]);
    assert!(h.last_response(200).contains("a=rtpmap:8 PCMA/8000"));
    let answered = h
        .events()
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::Answered { .. }))
        .unwrap();
    assert_eq!(answered.offset_ms, 1000);
    assert_eq!(answered.kind, EventKind::Answered { rings: 1 });
}

#[test]
fn answers_on_the_second_north_american_ring_when_configured() {
    let mut h = Harness::new(|c| {
        c.dialplan.standards.ring_cadence = config::RingCadence {
            on: Duration::from_secs(2),
            off: Duration::from_secs(4),
        };
        c.dialplan.standards.answer_after_rings = 2;
    });
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.advance(Duration::from_millis(7999));
    assert!(!h.responses().contains(&200));
    h.advance(Duration::from_millis(1));
    assert!(h.responses().contains(&200));
    assert!(h
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Answered { rings: 2 } && e.offset_ms == 8000));
}

#[test]
fn caller_hangs_up_and_media_ends() {
    let mut h = Harness::new(|_| {});
    let tag = answered_call(&mut h, OFFER_PCMA);
    h.sip(&in_dialog("BYE", 2, &tag, "", ""));
    assert_eq!(*h.responses().last().unwrap(), 200);
    assert!(h.media.contains(&MediaCommand::End { call: CallId(1) }));
    assert_eq!(h.outcome(), Some("completed"));
    assert!(h.events().iter().any(|e| e.kind
        == EventKind::Hangup {
            by: Party::Caller,
            reason: "caller hung up".into()
        }));
    assert!(h.switch.is_idle());
}

#[test]
fn cancel_while_ringing_is_abandoned() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.advance(Duration::from_millis(500));
    h.sip(
        &invite("4008", None)
            .replacen("INVITE sip", "CANCEL sip", 1)
            .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL"),
    );
    assert!(h.responses().ends_with(&[200, 487]));
    assert_eq!(h.outcome(), Some("abandoned"));
    h.advance(Duration::from_secs(2));
    assert!(
        !h.responses().contains(&200) || h.responses().iter().filter(|s| **s == 200).count() == 1
    );
    assert!(h.media.is_empty(), "no media for a call never answered");
}

#[test]
fn delayed_offer_gets_our_offer_and_media_starts_with_the_ack_answer() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", None));
    h.advance(Duration::from_secs(1));
    let ok = h.last_response(200);
    let port = h.switch.calls[&CallId(1)].rtp_port;
    assert!(
        (40000..=40018).contains(&port) && port.is_multiple_of(2),
        "{port}"
    );
    assert!(ok.contains(&format!("m=audio {port} RTP/AVP")), "{ok}");
    // Opened for the caller's first packets, with no address to expect them from yet.
    assert_eq!(
        h.media,
        vec![MediaCommand::Open {
            call: CallId(1),
            local_port: port,
            conversation: CallId(1),
            expect_from: None,
        }]
    );
    let tag = to_tag(&ok);
    let answer = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n";
    h.sip(&in_dialog(
        "ACK",
        1,
        &tag,
        "Content-Type: application/sdp\r\n",
        answer,
    ));
    assert!(
        matches!(h.media[1], MediaCommand::Start { codec: Codec::Pcmu, remote, .. } if remote.port() == 7000)
    );
}

#[test]
fn no_ack_for_the_200_within_five_seconds_ends_the_call_with_bye_and_sends_no_media() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.advance(Duration::from_secs(1));
    let answered_at = h.now;
    h.advance(Duration::from_millis(4_999));
    assert!(!h.sent.iter().any(|m| m.starts_with("BYE ")));
    h.advance_to(answered_at + Duration::from_secs(5));
    assert!(h.sent.last().unwrap().starts_with("BYE "));
    assert_eq!(h.outcome(), Some("failed"));
    let retransmits = h
        .sent
        .iter()
        .filter(|m| m.starts_with("SIP/2.0 200"))
        .count();
    assert_eq!(retransmits, 1 + 3, "200 at 0, then 0.5, 1.5 and 3.5 s");
    assert!(
        !h.media
            .iter()
            .any(|m| matches!(m, MediaCommand::Start { .. })),
        "no media toward an address that never confirmed: {:?}",
        h.media
    );
}

#[test]
fn every_call_gets_its_own_record_numbered_in_arrival_order() {
    // Two callers in the same second: the record ids differ by their running number, so
    // `hotline calls show` can never mix them up.
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.sip(&nth_call(&invite("4008", Some(OFFER_PCMA)), 2, "2000"));
    let ids: Vec<String> = h
        .records
        .iter()
        .filter_map(|r| match r {
            RecordCommand::Begin(call) => Some(call.id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    // The count the shutdown log line reports.
    assert_eq!(h.switch.active_calls(), 2);
    assert!(
        ids[0].ends_with("-0001") && ids[1].ends_with("-0002"),
        "{ids:?}"
    );
}
