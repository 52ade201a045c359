//! Our INVITEs to registered phones (the UAC side), driven with raw SIP bytes in virtual
//! time: where they go, provisional and final responses, CANCEL, BYE and INFO from the agent.

use super::*;

const OFFER: &str = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8\r\n";

fn agent_binding(h: &Harness) -> Binding {
    Binding {
        user: "1001".into(),
        contact: "sip:1001@192.0.2.50:5072".into(),
        address: addr("192.0.2.50:5072"),
        transport: Transport::Udp,
        expires_at: h.at(secs(3600)),
    }
}

/// Our INVITE as the phone received it.
struct Offered {
    call: CallId,
    text: String,
}

impl Offered {
    /// A response from the phone to our INVITE.
    fn response(&self, status: u16, to_tag: Option<&str>, body: &str) -> String {
        let via = header(&self.text, "Via").unwrap();
        let from = header(&self.text, "From").unwrap();
        let mut to = header(&self.text, "To").unwrap().to_owned();
        if let Some(tag) = to_tag {
            to = format!("{to};tag={tag}");
        }
        let call_id = header(&self.text, "Call-ID").unwrap();
        let content_type = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        let contact = if (101..300).contains(&status) {
            "Contact: <sip:1001@192.0.2.50:5072;transport=udp>\r\n"
        } else {
            ""
        };
        format!(
            "SIP/2.0 {status} {}\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
CSeq: 1 INVITE\r\n{contact}{content_type}Content-Length: {}\r\n\r\n{body}",
            message::reason_phrase(status),
            body.len()
        )
    }

    /// The 200 to a non-INVITE request we sent (CANCEL or BYE).
    fn ok_to(request: &str) -> String {
        format!(
            "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
            header(request, "Via").unwrap(),
            header(request, "From").unwrap(),
            header(request, "To").unwrap(),
            header(request, "Call-ID").unwrap(),
            header(request, "CSeq").unwrap(),
        )
    }
}

fn offer(h: &mut Harness) -> Offered {
    let binding = agent_binding(h);
    let call = h.endpoint.invite(
        h.at(Duration::ZERO),
        &binding,
        "13800000001",
        "Caller \"VIP\"",
        OFFER,
    );
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].destination, addr("192.0.2.50:5072"));
    assert_eq!(sent[0].transport, Transport::Udp);
    Offered {
        call,
        text: text_of(&sent[0]),
    }
}

#[test]
fn our_invite_goes_to_the_binding_address_with_our_offer() {
    let mut h = Harness::new();
    let offered = offer(&mut h);
    let text = &offered.text;
    assert!(
        text.starts_with("INVITE sip:1001@192.0.2.50:5072 SIP/2.0\r\n"),
        "{text}"
    );
    assert_eq!(header(text, "To"), Some("<sip:1001@192.0.2.50:5072>"));
    let from = header(text, "From").unwrap();
    assert!(
        from.starts_with("\"Caller \\\"VIP\\\"\" <sip:13800000001@127.0.0.1>;tag="),
        "{from}"
    );
    assert!(header(text, "Via")
        .unwrap()
        .starts_with("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK"));
    assert_eq!(header(text, "CSeq"), Some("1 INVITE"));
    assert_eq!(
        header(text, "Contact"),
        Some("<sip:hotline@127.0.0.1:5060>")
    );
    assert_eq!(header(text, "Content-Type"), Some("application/sdp"));
    assert!(text.ends_with(OFFER));
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.active_calls(), 1);
}

#[test]
fn a_display_name_cannot_inject_headers() {
    let mut h = Harness::new();
    let binding = agent_binding(&h);
    h.endpoint.invite(
        h.at(Duration::ZERO),
        &binding,
        "1380\r\nX-Evil: 1",
        "A\r\nX-Evil: 1",
        OFFER,
    );
    let text = text_of(&h.transmits()[0]);
    assert!(!text.contains("\r\nX-Evil"), "{text}");
    assert!(message::parse(text.as_bytes()).is_ok());
}

#[test]
fn ringing_then_answer_report_progress_and_answer_and_the_2xx_is_acked_each_time() {
    let mut h = Harness::new();
    let offered = offer(&mut h);
    let call = offered.call;
    h.phone_sends(ms(50), &offered.response(100, None, ""));
    assert!(h.events().is_empty(), "100 Trying is not reported");
    h.phone_sends(ms(100), &offered.response(180, Some("agent-tag"), ""));
    h.phone_sends(ms(150), &offered.response(183, Some("agent-tag"), ""));
    assert_eq!(
        h.events(),
        vec![
            CallEvent::OutgoingProgress { call, status: 180 },
            CallEvent::OutgoingProgress { call, status: 183 },
        ]
    );
    assert!(h.transmits().is_empty());
    // No retransmissions of the INVITE once a provisional arrived, and no Timer B.
    assert_eq!(h.endpoint.poll_timeout(), None);
    let answer = "v=0\r\no=agent 1 1 IN IP4 192.0.2.50\r\n";
    let ok = offered.response(200, Some("agent-tag"), answer);
    h.phone_sends(ms(2000), &ok);
    let ack = h.transmits();
    assert_eq!(ack.len(), 1);
    let ack_text = text_of(&ack[0]);
    assert!(
        ack_text.starts_with("ACK sip:1001@192.0.2.50:5072;transport=udp SIP/2.0\r\n"),
        "{ack_text}"
    );
    assert_eq!(header(&ack_text, "CSeq"), Some("1 ACK"));
    assert!(header(&ack_text, "To").unwrap().ends_with(";tag=agent-tag"));
    assert_ne!(
        header(&ack_text, "Via"),
        header(&offered.text, "Via"),
        "the 2xx ACK has its own branch"
    );
    assert_eq!(ack[0].destination, addr("192.0.2.50:5072"));
    assert_eq!(
        h.events(),
        vec![CallEvent::OutgoingAnswered {
            call,
            sdp: Some(answer.to_owned())
        }]
    );
    // The phone did not get our ACK and sends its 200 again: the same ACK again.
    h.phone_sends(ms(2500), &ok);
    let again = h.transmits();
    assert_eq!(again.len(), 1);
    assert_eq!(text_of(&again[0]), ack_text);
    assert!(h.events().is_empty());
}

#[test]
fn busy_is_acked_in_the_invite_transaction_and_reported() {
    let mut h = Harness::new();
    let offered = offer(&mut h);
    let call = offered.call;
    let busy = offered.response(486, Some("agent-tag"), "");
    h.phone_sends(ms(100), &busy);
    let ack = h.sent_one();
    assert!(
        ack.starts_with("ACK sip:1001@192.0.2.50:5072 SIP/2.0\r\n"),
        "{ack}"
    );
    assert_eq!(
        header(&ack, "Via"),
        header(&offered.text, "Via"),
        "same branch as the INVITE"
    );
    assert_eq!(header(&ack, "CSeq"), Some("1 ACK"));
    assert!(header(&ack, "To").unwrap().ends_with(";tag=agent-tag"));
    assert_eq!(
        h.events(),
        vec![CallEvent::OutgoingFailed { call, status: 486 }]
    );
    assert_eq!(h.endpoint.active_calls(), 0);
    // A retransmitted 486 is ACKed again but not reported again.
    h.phone_sends(ms(600), &busy);
    assert_eq!(h.sent_one(), ack);
    assert!(h.events().is_empty());
}

#[test]
fn cancel_after_ringing_sends_cancel_and_the_487_fails_the_call() {
    let mut h = Harness::new();
    let offered = offer(&mut h);
    let call = offered.call;
    h.phone_sends(ms(100), &offered.response(180, Some("agent-tag"), ""));
    h.events();
    h.endpoint.cancel(h.at(secs(3)), call);
    let cancel = h.sent_one();
    assert!(
        cancel.starts_with("CANCEL sip:1001@192.0.2.50:5072 SIP/2.0\r\n"),
        "{cancel}"
    );
    assert_eq!(header(&cancel, "Via"), header(&offered.text, "Via"));
    assert_eq!(header(&cancel, "From"), header(&offered.text, "From"));
    assert_eq!(header(&cancel, "To"), header(&offered.text, "To"));
    assert_eq!(header(&cancel, "CSeq"), Some("1 CANCEL"));
    assert!(h.events().is_empty());
    // Cancelling twice sends nothing more.
    h.endpoint.cancel(h.at(secs(3)), call);
    assert!(h.transmits().is_empty());
    h.phone_sends(secs(3) + ms(10), &Offered::ok_to(&cancel));
    assert!(h.transmits().is_empty());
    assert!(h.events().is_empty());
    h.phone_sends(
        secs(3) + ms(20),
        &offered.response(487, Some("agent-tag"), ""),
    );
    let ack = h.sent_one();
    assert!(ack.starts_with("ACK "));
    assert_eq!(
        h.events(),
        vec![CallEvent::OutgoingFailed { call, status: 487 }]
    );
    assert_eq!(h.endpoint.active_calls(), 0);
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut h = Harness::new();
    let offered = offer(&mut h);
    h.endpoint.cancel(h.at(ms(100)), offered.call);
    assert!(
        h.transmits().is_empty(),
        "RFC 3261 9.1: no CANCEL before a provisional"
    );
    h.phone_sends(ms(200), &offered.response(100, None, ""));
    let cancel = h.sent_one();
    assert!(cancel.starts_with("CANCEL "), "{cancel}");
    assert!(h.events().is_empty());
}

#[test]
fn a_200_crossing_our_cancel_is_acked_hung_up_and_reported_as_failed() {
    let mut h = Harness::new();
    let offered = offer(&mut h);
    let call = offered.call;
    h.phone_sends(ms(100), &offered.response(180, Some("agent-tag"), ""));
    h.events();
    h.endpoint.cancel(h.at(secs(3)), call);
    h.transmits();
    h.phone_sends(
        secs(3) + ms(5),
        &offered.response(200, Some("agent-tag"), "v=0\r\n"),
    );
    let sent: Vec<String> = h.transmits().iter().map(text_of).collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].starts_with("ACK "));
    assert!(
        sent[1].starts_with("BYE sip:1001@192.0.2.50:5072;transport=udp SIP/2.0\r\n"),
        "{}",
        sent[1]
    );
    assert_eq!(header(&sent[1], "CSeq"), Some("2 BYE"));
    assert_eq!(
        h.events(),
        vec![CallEvent::OutgoingFailed { call, status: 487 }]
    );
    // The BYE completes quietly: the switch already forgot the call.
    h.phone_sends(secs(3) + ms(50), &Offered::ok_to(&sent[1]));
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.active_calls(), 0);
}

#[test]
fn no_response_at_all_is_timer_b_and_408() {
    let mut h = Harness::new();
    let offered = offer(&mut h);
    let sent = h.run_until(secs(40));
    let retransmits: Vec<u128> = sent.iter().map(|(at, _)| *at).collect();
    assert_eq!(retransmits, vec![500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(
        h.events(),
        vec![CallEvent::OutgoingFailed {
            call: offered.call,
            status: 408
        }]
    );
    assert_eq!(h.endpoint.active_calls(), 0);
}

#[test]
fn a_cancel_never_answered_with_a_final_response_gives_up_after_64_t1() {
    let mut h = Harness::new();
    let offered = offer(&mut h);
    h.phone_sends(ms(100), &offered.response(180, Some("agent-tag"), ""));
    h.events();
    h.endpoint.cancel(h.at(secs(1)), offered.call);
    let cancel = h.sent_one();
    h.phone_sends(secs(1) + ms(10), &Offered::ok_to(&cancel));
    h.run_until(secs(1 + 31));
    assert!(h.events().is_empty());
    h.run_until(secs(1 + 32));
    assert_eq!(
        h.events(),
        vec![CallEvent::OutgoingFailed {
            call: offered.call,
            status: 487
        }]
    );
    assert_eq!(h.endpoint.active_calls(), 0);
}

/// An answered outgoing call; returns it with the phone's 200.
fn answered(h: &mut Harness) -> (Offered, String) {
    let offered = offer(h);
    let ok = offered.response(200, Some("agent-tag"), "v=0\r\n");
    h.phone_sends(ms(100), &ok);
    h.transmits();
    assert!(matches!(
        h.events().as_slice(),
        [CallEvent::OutgoingAnswered { .. }]
    ));
    (offered, ok)
}

fn from_agent(offered: &Offered, method: &str, cseq: u32, extra: &str, body: &str) -> String {
    let ours = header(&offered.text, "From").unwrap();
    let theirs = format!("{};tag=agent-tag", header(&offered.text, "To").unwrap());
    format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK-ag{cseq};rport\r\n\
Max-Forwards: 70\r\nFrom: {theirs}\r\nTo: {ours}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\n\
{extra}Content-Length: {}\r\n\r\n{body}",
        header(&offered.text, "Call-ID").unwrap(),
        body.len()
    )
}

#[test]
fn a_bye_from_the_agent_ends_our_call_with_a_bye_event() {
    let mut h = Harness::new();
    let (offered, _) = answered(&mut h);
    h.phone_sends(secs(5), &from_agent(&offered, "BYE", 1, "", ""));
    assert_eq!(status_of(&h.sent_one()), 200);
    assert_eq!(h.events(), vec![CallEvent::Bye { call: offered.call }]);
    assert_eq!(h.endpoint.active_calls(), 0);
}

#[test]
fn dtmf_info_from_the_agent_is_reported_on_our_call() {
    let mut h = Harness::new();
    let (offered, _) = answered(&mut h);
    let info = from_agent(
        &offered,
        "INFO",
        1,
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=5\r\nDuration=160\r\n",
    );
    h.phone_sends(secs(5), &info);
    assert_eq!(status_of(&h.sent_one()), 200);
    assert_eq!(
        h.events(),
        vec![CallEvent::Dtmf {
            call: offered.call,
            digit: '5',
            duration_ms: 160
        }]
    );
}

#[test]
fn our_hangup_of_an_outgoing_call_sends_bye_to_the_contact_and_ends_it() {
    let mut h = Harness::new();
    let (offered, _) = answered(&mut h);
    h.endpoint.hangup(h.at(secs(10)), offered.call);
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    let bye = text_of(&sent[0]);
    assert!(
        bye.starts_with("BYE sip:1001@192.0.2.50:5072;transport=udp SIP/2.0\r\n"),
        "{bye}"
    );
    assert_eq!(sent[0].destination, addr("192.0.2.50:5072"));
    assert_eq!(header(&bye, "From"), header(&offered.text, "From"));
    assert!(header(&bye, "To").unwrap().ends_with(";tag=agent-tag"));
    assert_eq!(header(&bye, "CSeq"), Some("2 BYE"));
    h.phone_sends(secs(10) + ms(20), &Offered::ok_to(&bye));
    assert_eq!(h.events(), vec![CallEvent::Ended { call: offered.call }]);
}

#[test]
fn hangup_of_an_unanswered_outgoing_call_cancels_it() {
    let mut h = Harness::new();
    let offered = offer(&mut h);
    h.phone_sends(ms(100), &offered.response(180, Some("agent-tag"), ""));
    h.events();
    h.endpoint.hangup(h.at(secs(2)), offered.call);
    assert!(h.sent_one().starts_with("CANCEL "));
}

#[test]
fn our_invite_over_tcp_is_not_retransmitted_and_uses_the_bindings_transport() {
    let mut h = Harness::new();
    let binding = Binding {
        transport: Transport::Tcp,
        contact: "sip:1001@192.0.2.50:5072;transport=tcp".into(),
        ..agent_binding(&h)
    };
    let call = h
        .endpoint
        .invite(h.at(Duration::ZERO), &binding, "1000", "", OFFER);
    let sent = h.transmits();
    assert_eq!(sent[0].transport, Transport::Tcp);
    let text = text_of(&sent[0]);
    assert!(header(&text, "Via").unwrap().starts_with("SIP/2.0/TCP "));
    assert!(header(&text, "From")
        .unwrap()
        .starts_with("<sip:1000@127.0.0.1>;tag="));
    assert!(h.run_until(secs(31)).is_empty());
    h.run_until(secs(32));
    assert_eq!(
        h.events(),
        vec![CallEvent::OutgoingFailed { call, status: 408 }]
    );
}
