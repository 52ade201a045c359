//! Endpoint behaviour driven with raw SIP bytes in virtual time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::EndpointConfig;

const CALLER: &str = "127.0.0.1:5070";
const PROXY: &str = "127.0.0.1:5080";

struct Harness {
    endpoint: Endpoint,
    t0: Instant,
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn status_of(payload: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(payload);
    assert!(text.starts_with("SIP/2.0 "), "not a response: {text}");
    text[8..11].parse().unwrap()
}

fn text_of(t: &Transmit) -> String {
    String::from_utf8(t.payload.clone()).unwrap()
}

/// The value of the first header called `name` in a message.
fn header(text: &str, name: &str) -> Option<String> {
    text.split("\r\n")
        .find_map(|line| line.strip_prefix(&format!("{name}: ")).map(str::to_owned))
}

fn to_tag(text: &str) -> String {
    let to = header(text, "To").unwrap();
    to.split(";tag=").nth(1).unwrap().to_owned()
}

struct Invite<'a> {
    branch: &'a str,
    call_id: &'a str,
    extra: &'a str,
    sdp: Option<&'a str>,
}

impl Default for Invite<'_> {
    fn default() -> Self {
        Invite {
            branch: "z9hG4bK-inv1",
            call_id: "call-1@127.0.0.1",
            extra: "",
            sdp: Some("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"),
        }
    }
}

impl Invite<'_> {
    fn text(&self) -> String {
        let body = self.sdp.unwrap_or("");
        let content_type = if self.sdp.is_some() {
            "Content-Type: application/sdp\r\n"
        } else {
            ""
        };
        format!(
            "INVITE sip:4008@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {CALLER};branch={};rport\r\n\
{}Max-Forwards: 70\r\n\
From: \"Caller\" <sip:1000@127.0.0.1:5070>;tag=caller-tag\r\n\
To: <sip:4008@127.0.0.1:5060>\r\n\
Call-ID: {}\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1000@127.0.0.1:5070>\r\n\
{content_type}Content-Length: {}\r\n\r\n{body}",
            self.branch,
            self.extra,
            self.call_id,
            body.len()
        )
    }
}

/// An in-dialog request from the caller (`to_tag` is ours).
fn in_dialog(
    method: &str,
    cseq: u32,
    branch: &str,
    to_tag: &str,
    extra: &str,
    body: &str,
) -> String {
    format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {CALLER};branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: \"Caller\" <sip:1000@127.0.0.1:5070>;tag=caller-tag\r\n\
To: <sip:4008@127.0.0.1:5060>;tag={to_tag}\r\n\
Call-ID: call-1@127.0.0.1\r\n\
CSeq: {cseq} {method}\r\n\
{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

impl Harness {
    fn new() -> Harness {
        let mut config = EndpointConfig::new(addr("127.0.0.1:5060"));
        config.trusted = vec![(addr("127.0.0.0:0").ip(), 8)];
        Harness {
            endpoint: Endpoint::new(config),
            t0: Instant::now(),
        }
    }

    fn at(&self, offset: Duration) -> Instant {
        self.t0 + offset
    }

    fn input(&mut self, offset: Duration, transport: Transport, source: &str, text: &str) {
        let now = self.at(offset);
        self.endpoint
            .handle_input(now, transport, addr(source), text.as_bytes());
    }

    fn udp(&mut self, offset: Duration, text: &str) {
        self.input(offset, Transport::Udp, CALLER, text);
    }

    fn transmits(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.endpoint.poll_transmit()).collect()
    }

    fn statuses(&mut self) -> Vec<u16> {
        self.transmits()
            .iter()
            .map(|t| status_of(&t.payload))
            .collect()
    }

    fn events(&mut self) -> Vec<CallEvent> {
        std::iter::from_fn(|| self.endpoint.poll_event()).collect()
    }

    /// Runs timers up to `until`, collecting what was sent with its offset in ms.
    fn run_until(&mut self, until: Duration) -> Vec<(u128, Transmit)> {
        let mut sent = Vec::new();
        while let Some(at) = self.endpoint.poll_timeout() {
            if at > self.at(until) {
                break;
            }
            self.endpoint.handle_timeout(at);
            for t in self.transmits() {
                sent.push(((at - self.t0).as_millis(), t));
            }
        }
        sent
    }

    /// An INVITE arrives and is offered to the switch; returns the call handle.
    fn incoming(&mut self, invite: &Invite<'_>) -> CallId {
        self.udp(Duration::ZERO, &invite.text());
        let sent = self.statuses();
        assert_eq!(sent, vec![100]);
        match self.events().as_slice() {
            [CallEvent::Incoming { call, .. }] => *call,
            other => panic!("expected Incoming, got {other:?}"),
        }
    }

    /// An answered call; returns the call and our To tag.
    fn answered(&mut self, invite: &Invite<'_>) -> (CallId, String) {
        let call = self.incoming(invite);
        self.endpoint
            .answer(self.at(Duration::ZERO), call, "v=0 ours\r\n");
        let sent = self.transmits();
        assert_eq!(sent.len(), 1);
        assert_eq!(status_of(&sent[0].payload), 200);
        (call, to_tag(&text_of(&sent[0])))
    }

    fn confirmed(&mut self) -> (CallId, String) {
        let (call, tag) = self.answered(&Invite::default());
        self.udp(ms(10), &in_dialog("ACK", 1, "z9hG4bK-ack", &tag, "", ""));
        assert_eq!(
            self.events(),
            vec![CallEvent::Confirmed { call, sdp: None }]
        );
        (call, tag)
    }
}

#[test]
fn incoming_invite_gets_100_trying_at_once_and_is_offered() {
    let mut h = Harness::new();
    h.udp(Duration::ZERO, &Invite::default().text());
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    assert_eq!(status_of(&sent[0].payload), 100);
    assert_eq!(sent[0].destination, addr(CALLER));
    match h.events().as_slice() {
        [CallEvent::Incoming {
            from,
            to,
            request_user,
            sdp,
            transport,
            sip_call_id,
            ..
        }] => {
            assert_eq!(from, "sip:1000@127.0.0.1:5070");
            assert_eq!(to, "sip:4008@127.0.0.1:5060");
            assert_eq!(request_user, "4008");
            assert_eq!(sip_call_id, "call-1@127.0.0.1");
            assert_eq!(*transport, Transport::Udp);
            assert!(sdp.as_deref().unwrap().contains("m=audio 6000"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.endpoint.active_calls(), 1);
}

#[test]
fn ringing_then_answer_carry_the_same_to_tag_contact_and_sdp() {
    let mut h = Harness::new();
    let call = h.incoming(&Invite::default());
    h.endpoint.ringing(h.at(ms(1)), call);
    h.endpoint.answer(h.at(ms(1000)), call, "v=0 ours\r\n");
    let sent = h.transmits();
    assert_eq!(status_of(&sent[0].payload), 180);
    assert_eq!(status_of(&sent[1].payload), 200);
    let (ringing, ok) = (text_of(&sent[0]), text_of(&sent[1]));
    assert_eq!(to_tag(&ringing), to_tag(&ok));
    assert_eq!(
        header(&ok, "Contact").as_deref(),
        Some("<sip:hotline@127.0.0.1:5060>")
    );
    assert_eq!(
        header(&ok, "Content-Type").as_deref(),
        Some("application/sdp")
    );
    assert!(ok.ends_with("\r\n\r\nv=0 ours\r\n"));
    assert_eq!(header(&ok, "Server").as_deref(), Some("hotline"));
    assert!(header(&ok, "Via")
        .unwrap()
        .contains("received=127.0.0.1;rport=5070"));
}

#[test]
fn two_hundred_is_retransmitted_at_t1_doubling_to_t2_until_the_ack() {
    let mut h = Harness::new();
    let (call, tag) = h.answered(&Invite::default());
    let sent = h.run_until(ms(12_000));
    let at: Vec<u128> = sent.iter().map(|(at, _)| *at).collect();
    assert_eq!(at, vec![500, 1500, 3500, 7500, 11500]);
    assert!(sent.iter().all(|(_, t)| status_of(&t.payload) == 200));
    h.udp(
        ms(12_000),
        &in_dialog("ACK", 1, "z9hG4bK-ack", &tag, "", ""),
    );
    assert_eq!(h.events(), vec![CallEvent::Confirmed { call, sdp: None }]);
    assert!(h.run_until(ms(60_000)).is_empty());
    assert!(h.events().is_empty());
}

#[test]
fn no_ack_reports_ack_timeout_at_64_t1() {
    let mut h = Harness::new();
    let (call, _) = h.answered(&Invite::default());
    let sent = h.run_until(ms(31_999));
    assert_eq!(sent.last().map(|(at, _)| *at), Some(31_500));
    assert!(h.events().is_empty());
    h.run_until(ms(32_000));
    assert_eq!(h.events(), vec![CallEvent::AckTimeout { call }]);
    // The switch then hangs up: BYE goes out.
    h.endpoint.hangup(h.at(ms(32_000)), call);
    let bye = h.transmits();
    assert!(text_of(&bye[0]).starts_with("BYE sip:1000@127.0.0.1:5070 SIP/2.0"));
}

#[test]
fn our_bye_follows_timer_e_and_timer_f_ends_the_call() {
    let mut h = Harness::new();
    let (call, _) = h.confirmed();
    h.endpoint.hangup(h.at(ms(1000)), call);
    let first = h.transmits();
    assert_eq!(first.len(), 1);
    let bye = text_of(&first[0]);
    assert!(bye.starts_with("BYE "));
    assert!(header(&bye, "Via").unwrap().contains(";branch=z9hG4bK"));
    assert_eq!(header(&bye, "Max-Forwards").as_deref(), Some("70"));
    assert_eq!(header(&bye, "User-Agent").as_deref(), Some("hotline"));
    assert_eq!(header(&bye, "CSeq").as_deref(), Some("2 BYE"));
    let sent = h.run_until(ms(40_000));
    let at: Vec<u128> = sent.iter().map(|(at, _)| *at).collect();
    assert_eq!(
        at,
        vec![1500, 2500, 4500, 8500, 12500, 16500, 20500, 24500, 28500, 32500]
    );
    assert_eq!(h.events(), vec![CallEvent::Ended { call }]);
    assert_eq!(h.endpoint.active_calls(), 0);
}

#[test]
fn a_final_response_to_our_bye_ends_the_call() {
    let mut h = Harness::new();
    let (call, _) = h.confirmed();
    h.endpoint.hangup(h.at(ms(1000)), call);
    let bye = text_of(&h.transmits()[0]);
    let via = header(&bye, "Via").unwrap();
    let response = format!(
        "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: call-1@127.0.0.1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        header(&bye, "From").unwrap(),
        header(&bye, "To").unwrap()
    );
    h.udp(ms(1100), &response);
    assert_eq!(h.events(), vec![CallEvent::Ended { call }]);
    // A retransmitted 200 is absorbed and no BYE retransmission follows.
    h.udp(ms(1200), &response);
    assert!(h.events().is_empty());
    assert!(h.run_until(ms(40_000)).is_empty());
}

#[test]
fn over_tcp_nothing_is_retransmitted() {
    let mut h = Harness::new();
    let text = Invite::default()
        .text()
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    h.input(Duration::ZERO, Transport::Tcp, "127.0.0.1:40000", &text);
    let trying = h.transmits();
    assert_eq!(trying[0].transport, Transport::Tcp);
    assert_eq!(trying[0].destination, addr("127.0.0.1:40000"));
    let call = match h.events().as_slice() {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    h.endpoint.answer(h.at(ms(0)), call, "v=0\r\n");
    let ok = h.transmits();
    assert!(header(&text_of(&ok[0]), "Contact")
        .unwrap()
        .contains("transport=tcp"));
    let sent = h.run_until(ms(31_999));
    assert!(sent.is_empty());
    h.run_until(ms(32_000));
    assert_eq!(h.events(), vec![CallEvent::AckTimeout { call }]);
    h.endpoint.hangup(h.at(ms(32_000)), call);
    let bye = h.transmits();
    assert_eq!(bye[0].destination, addr("127.0.0.1:40000"));
    assert!(h.run_until(ms(63_999)).is_empty());
    h.run_until(ms(64_000));
    assert_eq!(h.events(), vec![CallEvent::Ended { call }]);
}

#[test]
fn retransmitted_invite_is_absorbed_with_the_last_response() {
    let mut h = Harness::new();
    let call = h.incoming(&Invite::default());
    h.udp(ms(500), &Invite::default().text());
    assert_eq!(h.statuses(), vec![100]);
    h.endpoint.ringing(h.at(ms(600)), call);
    assert_eq!(h.statuses(), vec![180]);
    h.udp(ms(1500), &Invite::default().text());
    assert_eq!(h.statuses(), vec![180]);
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.active_calls(), 1);
}

#[test]
fn cancel_before_answer_sends_200_and_487_and_absorbs_the_ack() {
    let mut h = Harness::new();
    let call = h.incoming(&Invite::default());
    let cancel = Invite::default()
        .text()
        .replace("INVITE sip:", "CANCEL sip:")
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
        .split("Content-Type")
        .next()
        .unwrap()
        .to_owned()
        + "Content-Length: 0\r\n\r\n";
    h.udp(ms(2000), &cancel);
    let sent = h.transmits();
    let statuses: Vec<u16> = sent.iter().map(|t| status_of(&t.payload)).collect();
    assert_eq!(statuses, vec![200, 487]);
    assert!(header(&text_of(&sent[0]), "CSeq")
        .unwrap()
        .ends_with("CANCEL"));
    assert!(header(&text_of(&sent[1]), "CSeq")
        .unwrap()
        .ends_with("INVITE"));
    assert_eq!(h.events(), vec![CallEvent::Cancelled { call }]);
    assert_eq!(h.endpoint.active_calls(), 0);
    // 487 is retransmitted (Timer G) until the ACK, which is absorbed silently.
    let sent = h.run_until(ms(2500));
    assert_eq!(sent.len(), 1);
    assert_eq!(status_of(&sent[0].1.payload), 487);
    let tag = to_tag(&text_of(&sent[0].1));
    let ack = format!(
        "ACK sip:4008@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-inv1;rport\r\n\
Max-Forwards: 70\r\nFrom: \"Caller\" <sip:1000@127.0.0.1:5070>;tag=caller-tag\r\n\
To: <sip:4008@127.0.0.1:5060>;tag={tag}\r\nCall-ID: call-1@127.0.0.1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    h.udp(ms(2600), &ack);
    assert!(h.transmits().is_empty());
    assert!(h.events().is_empty());
    assert!(h.run_until(ms(60_000)).is_empty());
    // Late switch intents on the cancelled call do nothing.
    h.endpoint.answer(h.at(ms(60_000)), call, "v=0\r\n");
    assert!(h.transmits().is_empty());
}

#[test]
fn cancel_after_answer_gets_only_200() {
    let mut h = Harness::new();
    let (call, _) = h.answered(&Invite::default());
    let cancel = format!(
        "CANCEL sip:4008@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-inv1;rport\r\n\
Max-Forwards: 70\r\nFrom: \"Caller\" <sip:1000@127.0.0.1:5070>;tag=caller-tag\r\n\
To: <sip:4008@127.0.0.1:5060>\r\nCall-ID: call-1@127.0.0.1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"
    );
    h.udp(ms(100), &cancel);
    assert_eq!(h.statuses(), vec![200]);
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.active_calls(), 1);
    let _ = call;
}

#[test]
fn cancel_matching_nothing_gets_481() {
    let mut h = Harness::new();
    let cancel = format!(
        "CANCEL sip:4008@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-none\r\n\
Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1>;tag=x\r\nTo: <sip:4008@127.0.0.1>\r\n\
Call-ID: nope\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"
    );
    h.udp(Duration::ZERO, &cancel);
    assert_eq!(h.statuses(), vec![481]);
}

#[test]
fn bye_in_dialog_gets_200_and_a_bye_event() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    let bye = in_dialog("BYE", 2, "z9hG4bK-bye", &tag, "", "");
    h.udp(ms(5000), &bye);
    let sent = h.transmits();
    assert_eq!(status_of(&sent[0].payload), 200);
    assert_eq!(to_tag(&text_of(&sent[0])), tag);
    assert_eq!(h.events(), vec![CallEvent::Bye { call }]);
    assert_eq!(h.endpoint.active_calls(), 0);
    // A retransmitted BYE gets the same 200, not a 481.
    h.udp(ms(5500), &bye);
    assert_eq!(h.statuses(), vec![200]);
    assert!(h.events().is_empty());
}

#[test]
fn bye_for_an_unknown_dialog_gets_481() {
    let mut h = Harness::new();
    h.udp(
        Duration::ZERO,
        &in_dialog("BYE", 2, "z9hG4bK-b", "no-such-tag", "", ""),
    );
    assert_eq!(h.statuses(), vec![481]);
    assert!(h.events().is_empty());
}

#[test]
fn options_keep_alive_gets_200_with_allow_and_accept() {
    let mut h = Harness::new();
    let options = format!(
        "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PROXY};branch=z9hG4bK-o1\r\n\
Max-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\n\
Call-ID: ka1\r\nCSeq: 9 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    h.input(Duration::ZERO, Transport::Udp, PROXY, &options);
    let sent = h.transmits();
    let text = text_of(&sent[0]);
    assert_eq!(status_of(&sent[0].payload), 200);
    assert_eq!(sent[0].destination, addr(PROXY));
    assert!(header(&text, "Allow").unwrap().contains("INVITE"));
    assert!(header(&text, "Accept").unwrap().contains("application/sdp"));
    assert!(header(&text, "To").unwrap().contains(";tag="));
}

#[test]
fn unknown_methods_get_405_with_allow() {
    let mut h = Harness::new();
    // REGISTER is the registrar's (see phone_tests.rs); SUBSCRIBE gets 489 (refer_tests.rs).
    for method in ["FROBNICATE", "PUBLISH"] {
        let request = format!(
            "{method} sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-{method}\r\n\
Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1>;tag=s\r\nTo: <sip:4008@127.0.0.1>\r\n\
Call-ID: s1\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        );
        h.udp(Duration::ZERO, &request);
        let sent = h.transmits();
        assert_eq!(sent.len(), 1, "{method}");
        assert_eq!(status_of(&sent[0].payload), 405, "{method}");
        assert_eq!(header(&text_of(&sent[0]), "Allow").as_deref(), Some(ALLOW));
    }
}

#[test]
fn a_warnings_text_cannot_break_its_header() {
    assert_eq!(
        super::warning_text("bad CSeq \"1\\x\"\r\nVia: evil\u{1b}[31m 中"),
        "399 hotline \"bad CSeq \\\"1\\\\x\\\"??Via: evil?[31m ?\""
    );
    assert_eq!(super::warning_text(&"x".repeat(500)).len(), 14 + 200);
}

#[test]
fn a_strangers_malformed_request_gets_403_and_no_word_of_what_is_wrong() {
    let mut h = Harness::new();
    let stranger = "192.0.2.7:5060";
    let invite = Invite::default()
        .text()
        .replace(CALLER, stranger)
        .replace("Max-Forwards: 70\r\n", "");
    h.input(Duration::ZERO, Transport::Udp, stranger, &invite);
    let sent = h.transmits();
    assert_eq!(status_of(&sent[0].payload), 403);
    assert_eq!(header(&text_of(&sent[0]), "Warning"), None);
}

#[test]
fn malformed_requests_get_400_or_are_dropped_never_a_panic() {
    let mut h = Harness::new();
    let good = Invite::default().text();
    // Missing Call-ID: the 400 still reaches the client (it matches by Via branch and
    // CSeq), without a Call-ID to copy.
    h.udp(
        Duration::ZERO,
        &good.replace("Call-ID: call-1@127.0.0.1\r\n", ""),
    );
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    assert_eq!(status_of(&sent[0].payload), 400);
    assert_eq!(header(&text_of(&sent[0]), "Call-ID"), None);
    assert!(text_of(&sent[0]).contains("branch=z9hG4bK-inv1"));
    // No CSeq and no Via: nothing to answer with, so it is dropped.
    h.udp(
        Duration::ZERO,
        &good.replace("CSeq: 1 INVITE\r\n", "").replace(
            &format!("Via: SIP/2.0/UDP {CALLER};branch=z9hG4bK-inv1;rport\r\n"),
            "",
        ),
    );
    assert!(h.transmits().is_empty());
    // Bad CSeq: 400 built from the readable headers.
    h.udp(
        Duration::ZERO,
        &good.replace("CSeq: 1 INVITE", "CSeq: one INVITE"),
    );
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    assert_eq!(status_of(&sent[0].payload), 400);
    assert_eq!(
        header(&text_of(&sent[0]), "CSeq").as_deref(),
        Some("one INVITE")
    );
    // CSeq method not matching the request.
    h.udp(
        Duration::ZERO,
        &good.replace("CSeq: 1 INVITE", "CSeq: 1 BYE"),
    );
    assert_eq!(h.statuses(), vec![400]);
    // Missing Max-Forwards and missing From tag; the 400 says what is missing.
    h.udp(Duration::ZERO, &good.replace("Max-Forwards: 70\r\n", ""));
    let sent = h.transmits();
    assert_eq!(status_of(&sent[0].payload), 400);
    let warning = header(&text_of(&sent[0]), "Warning").unwrap_or_default();
    assert!(
        warning.starts_with("399 hotline \"") && warning.contains("Max-Forwards"),
        "{warning}"
    );
    h.udp(Duration::ZERO, &good.replace(";tag=caller-tag", ""));
    assert_eq!(h.statuses(), vec![400]);
    // Body shorter than Content-Length (a truncated datagram).
    h.udp(Duration::ZERO, &good[..good.len() - 10]);
    assert_eq!(h.statuses(), vec![400]);
    // Garbage, truncations at every byte and an oversized datagram.
    h.endpoint.handle_input(
        h.t0,
        Transport::Udp,
        addr(CALLER),
        b"\xff\x00\x13garbage\r\n\r\n",
    );
    h.endpoint
        .handle_input(h.t0, Transport::Udp, addr(CALLER), &vec![b'Z'; 70_000]);
    for cut in 0..good.len() {
        h.endpoint
            .handle_input(h.t0, Transport::Udp, addr(CALLER), &good.as_bytes()[..cut]);
    }
    for t in h.transmits() {
        assert_eq!(status_of(&t.payload), 400);
    }
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.active_calls(), 0);
}

#[test]
fn untrusted_source_is_challenged_like_a_phone_and_its_ack_is_dropped() {
    let mut h = Harness::new();
    let stranger = "192.0.2.7:5060";
    let invite = Invite::default().text().replace(CALLER, stranger);
    h.input(Duration::ZERO, Transport::Udp, stranger, &invite);
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    // 407, as a phone gets: a 403 would tell the stranger its From user is no phone.
    assert_eq!(status_of(&sent[0].payload), 407);
    assert_eq!(sent[0].destination, addr(stranger));
    assert!(h.events().is_empty());
    let ack = in_dialog("ACK", 1, "z9hG4bK-inv1", "t", "", "").replace(CALLER, stranger);
    h.input(ms(10), Transport::Udp, stranger, &ack);
    assert!(h.transmits().is_empty());
    assert_eq!(h.endpoint.poll_timeout(), None);
}

#[test]
fn info_dtmf_relay_and_dtmf_bodies_become_digits() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    let relay = in_dialog(
        "INFO",
        2,
        "z9hG4bK-i1",
        &tag,
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=5\r\nDuration=160\r\n",
    );
    h.udp(ms(100), &relay);
    assert_eq!(h.statuses(), vec![200]);
    let plain = in_dialog(
        "INFO",
        3,
        "z9hG4bK-i2",
        &tag,
        "Content-Type: application/dtmf\r\n",
        "#",
    );
    h.udp(ms(200), &plain);
    assert_eq!(h.statuses(), vec![200]);
    let star = in_dialog(
        "INFO",
        4,
        "z9hG4bK-i3",
        &tag,
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=10\r\nDuration=100\r\n",
    );
    h.udp(ms(300), &star);
    assert_eq!(
        h.events(),
        vec![
            CallEvent::Dtmf {
                call,
                digit: '5',
                duration_ms: 160
            },
            CallEvent::Dtmf {
                call,
                digit: '#',
                duration_ms: 0
            },
            CallEvent::Dtmf {
                call,
                digit: '*',
                duration_ms: 100
            },
        ]
    );
}

#[test]
fn record_route_is_echoed_and_our_bye_follows_the_route_set() {
    let mut h = Harness::new();
    let invite = Invite {
        extra: "Record-Route: <sip:127.0.0.1:5080;lr>, <sip:127.0.0.2;lr>\r\n",
        ..Invite::default()
    };
    let (call, tag) = {
        h.input(Duration::ZERO, Transport::Udp, PROXY, &invite.text());
        h.transmits();
        let call = match h.events().as_slice() {
            [CallEvent::Incoming { call, .. }] => *call,
            other => panic!("{other:?}"),
        };
        h.endpoint.ringing(h.at(ms(0)), call);
        h.endpoint.answer(h.at(ms(1)), call, "v=0\r\n");
        let sent = h.transmits();
        for t in &sent {
            let text = text_of(t);
            let rr: Vec<&str> = text
                .split("\r\n")
                .filter(|l| l.starts_with("Record-Route: "))
                .collect();
            assert_eq!(
                rr,
                vec![
                    "Record-Route: <sip:127.0.0.1:5080;lr>",
                    "Record-Route: <sip:127.0.0.2;lr>"
                ]
            );
        }
        (call, to_tag(&text_of(&sent[1])))
    };
    h.input(
        ms(10),
        Transport::Udp,
        PROXY,
        &in_dialog("ACK", 1, "z9hG4bK-a", &tag, "", ""),
    );
    assert_eq!(h.events(), vec![CallEvent::Confirmed { call, sdp: None }]);
    h.endpoint.hangup(h.at(ms(20)), call);
    let bye = h.transmits();
    assert_eq!(bye[0].destination, addr(PROXY));
    let text = text_of(&bye[0]);
    assert!(text.starts_with("BYE sip:1000@127.0.0.1:5070 SIP/2.0\r\n"));
    let routes: Vec<&str> = text
        .split("\r\n")
        .filter(|l| l.starts_with("Route: "))
        .collect();
    assert_eq!(
        routes,
        vec![
            "Route: <sip:127.0.0.1:5080;lr>",
            "Route: <sip:127.0.0.2;lr>"
        ]
    );
}

#[test]
fn a_reinvite_is_handed_to_the_switch_and_answered_with_its_sdp() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    let reinvite = in_dialog(
        "INVITE",
        2,
        "z9hG4bK-re",
        &tag,
        "Contact: <sip:1000@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\n",
        "v=0 hold\r\n",
    );
    h.udp(ms(1000), &reinvite);
    assert!(
        h.transmits().is_empty(),
        "nothing answered before the switch"
    );
    assert_eq!(
        h.events(),
        vec![CallEvent::Reoffer {
            call,
            offer: Some("v=0 hold\r\n".into())
        }]
    );
    h.endpoint
        .answer_reoffer(h.at(ms(1000)), call, "v=0 held\r\n");
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    assert_eq!(status_of(&sent[0].payload), 200);
    assert!(text_of(&sent[0]).ends_with("v=0 held\r\n"));
    // Its 2xx is retransmitted until its ACK too.
    assert_eq!(h.run_until(ms(1500)).len(), 1);
    h.udp(
        ms(1600),
        &in_dialog("ACK", 2, "z9hG4bK-re-ack", &tag, "", ""),
    );
    assert!(h.run_until(ms(40_000)).is_empty());
    assert!(h.events().is_empty());
}

#[test]
fn delayed_offer_answer_arrives_in_the_ack() {
    let mut h = Harness::new();
    let (call, tag) = h.answered(&Invite {
        sdp: None,
        ..Invite::default()
    });
    h.udp(
        ms(50),
        &in_dialog(
            "ACK",
            1,
            "z9hG4bK-ack",
            &tag,
            "Content-Type: application/sdp\r\n",
            "v=0 answer\r\n",
        ),
    );
    assert_eq!(
        h.events(),
        vec![CallEvent::Confirmed {
            call,
            sdp: Some("v=0 answer\r\n".into())
        }]
    );
}

#[test]
fn responses_go_to_the_sent_by_port_without_rport() {
    let mut h = Harness::new();
    let text = Invite::default().text().replace(";rport", "");
    h.input(Duration::ZERO, Transport::Udp, "127.0.0.1:40001", &text);
    let sent = h.transmits();
    assert_eq!(sent[0].destination, addr(CALLER));
    assert!(!header(&text_of(&sent[0]), "Via").unwrap().contains("rport"));
}

#[test]
fn reject_sends_the_final_status_with_retry_after() {
    let mut h = Harness::new();
    let call = h.incoming(&Invite::default());
    h.endpoint.reject(h.at(ms(5)), call, 503, Some(30));
    let sent = h.transmits();
    assert_eq!(status_of(&sent[0].payload), 503);
    assert_eq!(
        header(&text_of(&sent[0]), "Retry-After").as_deref(),
        Some("30")
    );
    assert_eq!(h.endpoint.active_calls(), 0);
    assert!(h.events().is_empty());
}

#[test]
fn hangup_before_answer_refuses_with_480_and_ends() {
    let mut h = Harness::new();
    let call = h.incoming(&Invite::default());
    h.endpoint.hangup(h.at(ms(5)), call);
    assert_eq!(h.statuses(), vec![480]);
    assert_eq!(h.events(), vec![CallEvent::Ended { call }]);
}

#[test]
fn double_crlf_keep_alive_over_tcp_gets_a_crlf_pong() {
    let mut h = Harness::new();
    h.input(
        Duration::ZERO,
        Transport::Tcp,
        "127.0.0.1:40000",
        "\r\n\r\n",
    );
    let sent = h.transmits();
    assert_eq!(sent[0].payload, b"\r\n");
    h.udp(Duration::ZERO, "\r\n");
    assert!(h.transmits().is_empty());
}

#[test]
fn trusted_cidrs_match_by_prefix() {
    let net: IpAddr = "10.1.0.0".parse().unwrap();
    assert!(cidr_contains(net, 16, "10.1.200.3".parse().unwrap()));
    assert!(!cidr_contains(net, 16, "10.2.0.1".parse().unwrap()));
    assert!(cidr_contains(net, 0, "192.0.2.1".parse().unwrap()));
    let v6: IpAddr = "2001:db8::".parse().unwrap();
    assert!(cidr_contains(v6, 32, "2001:db8:1::1".parse().unwrap()));
    assert!(!cidr_contains(v6, 32, "10.1.0.1".parse().unwrap()));
}

#[test]
fn tcp_stream_frames_feed_the_endpoint_one_message_at_a_time() {
    let mut h = Harness::new();
    let invite = Invite::default()
        .text()
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    let mut stream = b"\r\n\r\n".to_vec();
    stream.extend_from_slice(invite.as_bytes());
    stream.extend_from_slice(
        b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-o\r\n",
    );
    let mut consumed = 0;
    while let Ok(Some(len)) = crate::sip::stream_frame_len(&stream[consumed..]) {
        let frame = &stream[consumed..consumed + len];
        h.endpoint
            .handle_input(h.t0, Transport::Tcp, addr("127.0.0.1:40000"), frame);
        consumed += len;
    }
    // The keep-alive pong, then 100 Trying; the half-received OPTIONS waits for more bytes.
    let sent = h.transmits();
    assert_eq!(sent[0].payload, b"\r\n");
    assert_eq!(status_of(&sent[1].payload), 100);
    assert_eq!(sent.len(), 2);
    assert_eq!(consumed, 4 + invite.len());
    assert!(matches!(
        h.events().as_slice(),
        [CallEvent::Incoming { .. }]
    ));
}

#[test]
fn invite_with_an_unknown_to_tag_gets_481() {
    let mut h = Harness::new();
    let stale = in_dialog("INVITE", 5, "z9hG4bK-stale", "gone", "", "");
    h.udp(Duration::ZERO, &stale);
    assert_eq!(h.statuses(), vec![481]);
    assert!(h.events().is_empty());
}

#[test]
fn two_hundred_to_invite_and_options_say_allow_and_supported_but_ringing_does_not() {
    let mut h = Harness::new();
    let call = h.incoming(&Invite::default());
    h.endpoint.ringing(h.at(ms(1)), call);
    let ringing = text_of(&h.transmits()[0]);
    assert_eq!(header(&ringing, "Allow"), None);
    h.endpoint.answer(h.at(ms(2)), call, "v=0 ours\r\n");
    let ok = text_of(&h.transmits()[0]);
    assert_eq!(header(&ok, "Allow").as_deref(), Some(ALLOW));
    assert_eq!(header(&ok, "Supported").as_deref(), Some(SUPPORTED));
    let options = format!(
        "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PROXY};branch=z9hG4bK-o2\r\n\
Max-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\n\
Call-ID: ka2\r\nCSeq: 9 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    h.input(ms(3), Transport::Udp, PROXY, &options);
    let text = text_of(&h.transmits()[0]);
    assert_eq!(header(&text, "Supported").as_deref(), Some(SUPPORTED));
    assert_eq!(header(&text, "Accept").as_deref(), Some(ACCEPT));
}

#[test]
fn unknown_require_gets_420_unknown_body_415_and_tel_uri_416_before_any_call() {
    let mut h = Harness::new();
    let invite = Invite::default().text();
    let require = invite.replace("Max-Forwards", "Require: 100rel\r\nMax-Forwards");
    h.udp(Duration::ZERO, &require);
    let sent = h.transmits();
    assert_eq!(status_of(&sent[0].payload), 420);
    assert_eq!(
        header(&text_of(&sent[0]), "Unsupported").as_deref(),
        Some("100rel")
    );
    let xml = invite
        .replace("branch=z9hG4bK-inv1", "branch=z9hG4bK-inv2")
        .replace("application/sdp", "application/xml");
    h.udp(ms(1), &xml);
    let sent = h.transmits();
    assert_eq!(status_of(&sent[0].payload), 415);
    assert_eq!(
        header(&text_of(&sent[0]), "Accept").as_deref(),
        Some(ACCEPT)
    );
    let tel = invite
        .replace("branch=z9hG4bK-inv1", "branch=z9hG4bK-inv3")
        .replacen("INVITE sip:", "INVITE tel:", 1);
    h.udp(ms(2), &tel);
    assert_eq!(h.statuses(), vec![416]);
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.active_calls(), 0);
}
