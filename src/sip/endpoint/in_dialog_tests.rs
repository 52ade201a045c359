//! In-dialog SIP in virtual time: re-INVITE and UPDATE offers handed to the switch and
//! answered or refused, CSeq order, glare (491) both ways with the RFC 3261 14.1 retry
//! timers, our own re-INVITEs and their ACKs, merged INVITEs (482) and forked 2xx answers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::EndpointConfig;

const CALLER: &str = "127.0.0.1:5070";
const PHONE: &str = "127.0.0.1:5090";

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn text_of(t: &Transmit) -> String {
    String::from_utf8(t.payload.clone()).unwrap()
}

fn status_of(t: &Transmit) -> u16 {
    let text = text_of(t);
    assert!(text.starts_with("SIP/2.0 "), "not a response: {text}");
    text[8..11].parse().unwrap()
}

fn header(text: &str, name: &str) -> Option<String> {
    text.split("\r\n")
        .find_map(|line| line.strip_prefix(&format!("{name}: ")).map(str::to_owned))
}

fn tag_of(header_value: &str) -> String {
    header_value.split(";tag=").nth(1).unwrap().to_owned()
}

fn invite_from(source_port: u16, branch: &str) -> String {
    format!(
        "INVITE sip:4008@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:{source_port};branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:1000@127.0.0.1:5070>;tag=caller-tag\r\n\
To: <sip:4008@127.0.0.1:5060>\r\n\
Call-ID: dialog-1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1000@127.0.0.1:5070>\r\n\
Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"
    )
}

/// An in-dialog request from the caller, from `source` (its Via names it).
fn from_caller(
    method: &str,
    cseq: u32,
    branch: &str,
    tag: &str,
    source: &str,
    sdp: &str,
) -> String {
    let body = if sdp.is_empty() {
        String::new()
    } else {
        format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
    };
    let body = if body.is_empty() {
        "Content-Length: 0\r\n\r\n".to_string()
    } else {
        body
    };
    format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {source};branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:1000@127.0.0.1:5070>;tag=caller-tag\r\n\
To: <sip:4008@127.0.0.1:5060>;tag={tag}\r\n\
Call-ID: dialog-1@127.0.0.1\r\n\
CSeq: {cseq} {method}\r\n\
Contact: <sip:1000@127.0.0.1:5070>\r\n{body}"
    )
}

struct Harness {
    endpoint: Endpoint,
    t0: Instant,
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

    fn input(&mut self, offset: Duration, source: &str, text: &str) {
        let now = self.at(offset);
        self.endpoint
            .handle_input(now, Transport::Udp, addr(source), text.as_bytes());
    }

    fn transmits(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.endpoint.poll_transmit()).collect()
    }

    fn events(&mut self) -> Vec<CallEvent> {
        std::iter::from_fn(|| self.endpoint.poll_event()).collect()
    }

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

    /// A caller's call, answered and ACKed: its handle and our To tag.
    fn confirmed(&mut self) -> (CallId, String) {
        self.input(Duration::ZERO, CALLER, &invite_from(5070, "z9hG4bK-inv"));
        let call = match self.events().as_slice() {
            [CallEvent::Incoming { call, .. }] => *call,
            other => panic!("expected Incoming, got {other:?}"),
        };
        self.endpoint
            .answer(self.at(Duration::ZERO), call, "v=0 first\r\n");
        let sent = self.transmits();
        let ok = sent.iter().find(|t| status_of(t) == 200).unwrap();
        let tag = tag_of(&header(&text_of(ok), "To").unwrap());
        self.input(
            ms(10),
            CALLER,
            &from_caller("ACK", 1, "z9hG4bK-ack", &tag, CALLER, ""),
        );
        assert_eq!(
            self.events(),
            vec![CallEvent::Confirmed { call, sdp: None }]
        );
        (call, tag)
    }

    /// The only response sent now.
    fn one_response(&mut self) -> Transmit {
        let sent = self.transmits();
        assert_eq!(sent.len(), 1, "{sent:#?}");
        sent.into_iter().next().unwrap()
    }
}

#[test]
fn a_reinvite_offer_waits_for_the_switch_and_gets_its_answer() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.input(
        ms(1000),
        CALLER,
        &from_caller("INVITE", 2, "z9hG4bK-re", &tag, CALLER, "v=0 hold\r\n"),
    );
    assert!(h.transmits().is_empty());
    assert_eq!(
        h.events(),
        vec![CallEvent::Reoffer {
            call,
            offer: Some("v=0 hold\r\n".into())
        }]
    );
    h.endpoint
        .answer_reoffer(h.at(ms(1000)), call, "v=0 recvonly\r\n");
    let ok = h.one_response();
    assert_eq!(status_of(&ok), 200);
    assert_eq!(header(&text_of(&ok), "CSeq").as_deref(), Some("2 INVITE"));
    assert!(text_of(&ok).ends_with("\r\n\r\nv=0 recvonly\r\n"));
}

#[test]
fn a_refused_reoffer_gets_488_and_the_call_goes_on() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.input(
        ms(1000),
        CALLER,
        &from_caller("INVITE", 2, "z9hG4bK-g729", &tag, CALLER, "v=0 g729\r\n"),
    );
    assert_eq!(h.events().len(), 1);
    h.endpoint.refuse_reoffer(h.at(ms(1000)), call, 488);
    assert_eq!(status_of(&h.one_response()), 488);
    // The ACK for the 488 is absorbed by its transaction; no event.
    h.input(
        ms(1010),
        CALLER,
        &from_caller("ACK", 2, "z9hG4bK-g729", &tag, CALLER, ""),
    );
    assert!(h.events().is_empty());
    // The call is still up: a BYE ends it with 200.
    h.input(
        ms(2000),
        CALLER,
        &from_caller("BYE", 3, "z9hG4bK-bye", &tag, CALLER, ""),
    );
    assert_eq!(status_of(&h.one_response()), 200);
    assert_eq!(h.events(), vec![CallEvent::Bye { call }]);
}

#[test]
fn a_reinvite_without_sdp_gets_our_offer_and_the_ack_brings_the_answer() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.input(
        ms(1000),
        CALLER,
        &from_caller("INVITE", 2, "z9hG4bK-nosdp", &tag, CALLER, ""),
    );
    assert_eq!(h.events(), vec![CallEvent::Reoffer { call, offer: None }]);
    h.endpoint
        .answer_reoffer(h.at(ms(1000)), call, "v=0 our offer\r\n");
    assert_eq!(status_of(&h.one_response()), 200);
    h.input(
        ms(1100),
        CALLER,
        &from_caller(
            "ACK",
            2,
            "z9hG4bK-nosdp-ack",
            &tag,
            CALLER,
            "v=0 their answer\r\n",
        ),
    );
    assert_eq!(
        h.events(),
        vec![CallEvent::RemoteSdp {
            call,
            sdp: "v=0 their answer\r\n".into()
        }]
    );
}

#[test]
fn an_update_with_sdp_is_a_reoffer_answered_in_its_200() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.input(
        ms(1000),
        CALLER,
        &from_caller("UPDATE", 2, "z9hG4bK-up", &tag, CALLER, "v=0 update\r\n"),
    );
    assert_eq!(
        h.events(),
        vec![CallEvent::Reoffer {
            call,
            offer: Some("v=0 update\r\n".into())
        }]
    );
    h.endpoint
        .answer_reoffer(h.at(ms(1000)), call, "v=0 answer\r\n");
    let ok = h.one_response();
    let text = text_of(&ok);
    assert_eq!(status_of(&ok), 200);
    assert_eq!(header(&text, "CSeq").as_deref(), Some("2 UPDATE"));
    assert_eq!(tag_of(&header(&text, "To").unwrap()), tag);
    assert_eq!(
        header(&text, "Contact").as_deref(),
        Some("<sip:hotline@127.0.0.1:5060>")
    );
    assert!(text.ends_with("\r\n\r\nv=0 answer\r\n"));
    // No ACK for UPDATE: nothing is retransmitted.
    assert!(h.run_until(ms(5000)).is_empty());
    // Refused likewise with 488.
    h.input(
        ms(6000),
        CALLER,
        &from_caller("UPDATE", 3, "z9hG4bK-up2", &tag, CALLER, "v=0 t38\r\n"),
    );
    assert_eq!(h.events().len(), 1);
    h.endpoint.refuse_reoffer(h.at(ms(6000)), call, 488);
    let refused = h.one_response();
    assert_eq!(status_of(&refused), 488);
    assert_eq!(
        header(&text_of(&refused), "CSeq").as_deref(),
        Some("3 UPDATE")
    );
    // In a non-INVITE transaction: no ACK is awaited, so the 488 is not resent (Timer G).
    assert!(h.run_until(ms(6900)).is_empty());
    // An UPDATE without SDP is a plain target refresh: 200, no event.
    h.input(
        ms(7000),
        CALLER,
        &from_caller("UPDATE", 4, "z9hG4bK-up3", &tag, CALLER, ""),
    );
    assert_eq!(status_of(&h.one_response()), 200);
    assert!(h.events().is_empty());
}

#[test]
fn a_lower_cseq_on_any_in_dialog_request_gets_500() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.input(
        ms(1000),
        CALLER,
        &from_caller("INFO", 5, "z9hG4bK-info5", &tag, CALLER, ""),
    );
    assert_eq!(status_of(&h.one_response()), 200);
    for (method, branch) in [
        ("INVITE", "z9hG4bK-low-inv"),
        ("UPDATE", "z9hG4bK-low-upd"),
        ("INFO", "z9hG4bK-low-info"),
        ("OPTIONS", "z9hG4bK-low-opt"),
        ("BYE", "z9hG4bK-low-bye"),
    ] {
        h.input(
            ms(2000),
            CALLER,
            &from_caller(method, 4, branch, &tag, CALLER, "v=0\r\n"),
        );
        assert_eq!(
            status_of(&h.one_response()),
            500,
            "{method} with CSeq 4 after 5"
        );
    }
    assert!(h.events().is_empty(), "nothing reaches the switch");
    // The call is still up.
    h.input(
        ms(3000),
        CALLER,
        &from_caller("BYE", 6, "z9hG4bK-bye6", &tag, CALLER, ""),
    );
    assert_eq!(status_of(&h.one_response()), 200);
    assert_eq!(h.events(), vec![CallEvent::Bye { call }]);
}

#[test]
fn the_2xx_of_a_reinvite_is_resent_to_where_that_reinvite_came_from() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    // The re-INVITE comes by another address (a failover proxy).
    let other = "127.0.0.1:5099";
    h.input(
        ms(1000),
        other,
        &from_caller("INVITE", 2, "z9hG4bK-moved", &tag, other, "v=0\r\n"),
    );
    h.events();
    h.endpoint.answer_reoffer(h.at(ms(1000)), call, "v=0 a\r\n");
    let ok = h.one_response();
    assert_eq!(ok.destination, addr(other));
    let resent = h.run_until(ms(2000));
    assert!(!resent.is_empty());
    for (_, t) in &resent {
        assert_eq!(status_of(t), 200);
        assert_eq!(
            t.destination,
            addr(other),
            "resent to the re-INVITE's source"
        );
    }
}

#[test]
fn a_reinvite_while_our_own_waits_for_its_answer_gets_491() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    assert!(h.endpoint.reinvite(h.at(ms(1000)), call, "v=0 ours\r\n"));
    let ours = h.one_response_request();
    assert!(
        ours.starts_with("INVITE sip:1000@127.0.0.1:5070 SIP/2.0\r\n"),
        "{ours}"
    );
    h.input(
        ms(1100),
        CALLER,
        &from_caller("INVITE", 2, "z9hG4bK-glare", &tag, CALLER, "v=0\r\n"),
    );
    assert_eq!(status_of(&h.one_response()), 491);
    h.input(
        ms(1100),
        CALLER,
        &from_caller("UPDATE", 3, "z9hG4bK-glare-up", &tag, CALLER, "v=0\r\n"),
    );
    assert_eq!(status_of(&h.one_response()), 491);
    assert!(h.events().is_empty());
    // And while our 2xx (with our offer, to a re-INVITE without SDP) waits for its ACK.
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.input(
        ms(1000),
        CALLER,
        &from_caller("INVITE", 2, "z9hG4bK-nosdp", &tag, CALLER, ""),
    );
    h.events();
    h.endpoint
        .answer_reoffer(h.at(ms(1000)), call, "v=0 offer\r\n");
    assert_eq!(status_of(&h.one_response()), 200);
    h.input(
        ms(1100),
        CALLER,
        &from_caller("INVITE", 3, "z9hG4bK-early", &tag, CALLER, "v=0\r\n"),
    );
    assert_eq!(status_of(&h.one_response()), 491);
    assert!(h.events().is_empty());
}

impl Harness {
    /// The only request sent now, as text.
    fn one_response_request(&mut self) -> String {
        let sent = self.transmits();
        assert_eq!(sent.len(), 1, "{sent:#?}");
        text_of(&sent[0])
    }
}

/// A response from the caller to our in-dialog request `request`.
fn answer_to(request: &str, status: u16, sdp: &str) -> String {
    let via = header(request, "Via").unwrap();
    let from = header(request, "From").unwrap();
    let to = header(request, "To").unwrap();
    let call_id = header(request, "Call-ID").unwrap();
    let cseq = header(request, "CSeq").unwrap();
    let body = if sdp.is_empty() {
        "Content-Length: 0\r\n\r\n".to_string()
    } else {
        format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
    };
    format!(
        "SIP/2.0 {status} Whatever\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to}\r\n\
Call-ID: {call_id}\r\nCSeq: {cseq}\r\nContact: <sip:1000@127.0.0.1:5070>\r\n{body}"
    )
}

#[test]
fn our_reinvite_takes_the_next_cseq_and_its_ack_copies_it() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    assert!(h.endpoint.reinvite(h.at(ms(1000)), call, "v=0 hold\r\n"));
    let invite = h.one_response_request();
    assert_eq!(header(&invite, "CSeq").as_deref(), Some("2 INVITE"));
    assert_eq!(tag_of(&header(&invite, "From").unwrap()), tag);
    assert!(invite.ends_with("\r\n\r\nv=0 hold\r\n"));
    assert!(
        !h.endpoint.reinvite(h.at(ms(1001)), call, "v=0\r\n"),
        "one at a time"
    );
    h.input(
        ms(1050),
        CALLER,
        &answer_to(&invite, 200, "v=0 recvonly\r\n"),
    );
    let ack = h.one_response_request();
    assert!(
        ack.starts_with("ACK sip:1000@127.0.0.1:5070 SIP/2.0\r\n"),
        "{ack}"
    );
    assert_eq!(header(&ack, "CSeq").as_deref(), Some("2 ACK"));
    assert_eq!(
        h.events(),
        vec![CallEvent::ReinviteDone {
            call,
            status: 200,
            sdp: Some("v=0 recvonly\r\n".into())
        }]
    );
    // A retransmitted 2xx gets the same ACK again.
    h.input(
        ms(1500),
        CALLER,
        &answer_to(&invite, 200, "v=0 recvonly\r\n"),
    );
    assert_eq!(h.one_response_request(), ack);
    // The next in-dialog request counts on.
    h.endpoint.hangup(h.at(ms(2000)), call);
    let bye = h.one_response_request();
    assert_eq!(header(&bye, "CSeq").as_deref(), Some("3 BYE"));
}

#[test]
fn glare_491_is_retried_after_the_rfc3261_wait_with_a_new_cseq() {
    let mut h = Harness::new();
    let (call, _tag) = h.confirmed();
    assert!(h.endpoint.reinvite(h.at(ms(1000)), call, "v=0 hold\r\n"));
    let first = h.one_response_request();
    h.input(ms(1050), CALLER, &answer_to(&first, 491, ""));
    let ack = h.one_response_request();
    assert!(ack.starts_with("ACK "), "{ack}");
    assert_eq!(header(&ack, "CSeq").as_deref(), Some("2 ACK"));
    assert_eq!(
        header(&ack, "Via"),
        header(&first, "Via"),
        "the non-2xx ACK shares the branch"
    );
    assert!(h.events().is_empty(), "a 491 is retried, not reported");
    // The caller placed this call, so we do not own the Call-ID: 0-2 s.
    let mut resent: Vec<(u128, String)> = h
        .run_until(ms(4000))
        .into_iter()
        .map(|(at, t)| (at, text_of(&t)))
        .filter(|(_, t)| t.starts_with("INVITE "))
        .collect();
    // Timer A retransmits the new INVITE: one request, sent again.
    resent.dedup_by(|a, b| a.1 == b.1);
    assert_eq!(resent.len(), 1, "{resent:#?}");
    let (at, second) = &resent[0];
    assert!((1050..=3050).contains(at), "retried {at} ms in");
    assert_eq!(header(second, "CSeq").as_deref(), Some("3 INVITE"));
    assert_ne!(header(second, "Via"), header(&first, "Via"));
    assert!(second.ends_with("\r\n\r\nv=0 hold\r\n"));
    // Glare every time: after three attempts the switch hears 491.
    h.input(ms(4000), CALLER, &answer_to(second, 491, ""));
    h.transmits();
    let mut third: Vec<String> = h
        .run_until(ms(7000))
        .into_iter()
        .map(|(_, t)| text_of(&t))
        .filter(|t| t.starts_with("INVITE "))
        .collect();
    third.dedup();
    assert_eq!(third.len(), 1);
    h.input(ms(7000), CALLER, &answer_to(&third[0], 491, ""));
    h.transmits();
    assert_eq!(
        h.events(),
        vec![CallEvent::ReinviteDone {
            call,
            status: 491,
            sdp: None
        }]
    );
    assert!(h
        .run_until(ms(20_000))
        .iter()
        .all(|(_, t)| !text_of(t).starts_with("INVITE ")));
}

#[test]
fn a_reinvite_of_ours_that_nobody_answers_is_reported_408() {
    let mut h = Harness::new();
    let (call, _tag) = h.confirmed();
    assert!(h.endpoint.reinvite(h.at(ms(1000)), call, "v=0\r\n"));
    h.transmits();
    h.run_until(ms(1000 + 32_000 + 10));
    assert_eq!(
        h.events(),
        vec![CallEvent::ReinviteDone {
            call,
            status: 408,
            sdp: None
        }]
    );
}

#[test]
fn a_merged_invite_by_another_branch_gets_482_and_makes_no_second_call() {
    let mut h = Harness::new();
    h.input(Duration::ZERO, CALLER, &invite_from(5070, "z9hG4bK-path-a"));
    assert_eq!(h.events().len(), 1);
    h.transmits();
    h.input(
        ms(40),
        "127.0.0.1:5071",
        &invite_from(5071, "z9hG4bK-path-b"),
    );
    let refused = h.one_response();
    assert_eq!(status_of(&refused), 482);
    assert_eq!(refused.destination, addr("127.0.0.1:5071"));
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.active_calls(), 1);
    // The same branch again is a retransmission: absorbed, not 482.
    h.input(ms(60), CALLER, &invite_from(5070, "z9hG4bK-path-a"));
    assert!(h.transmits().iter().all(|t| status_of(t) != 482));
}

#[test]
fn the_merged_request_table_is_bounded() {
    let mut table = RecentInvites::default();
    let now = Instant::now();
    let window = Duration::from_secs(32);
    for n in 0..(RECENT_INVITES_FOR_TESTS + 100) {
        let text = invite_from(5070, "z9hG4bK-x").replace("dialog-1@", &format!("flood-{n}@"));
        let Ok(message::Inbound::Request(request)) = message::parse(text.as_bytes()) else {
            panic!("unparsable");
        };
        assert!(table.first_time(now, &request, window));
    }
    assert_eq!(table.len(), RECENT_INVITES_FOR_TESTS);
}

const RECENT_INVITES_FOR_TESTS: usize = 4096;

/// Our INVITE to a phone; returns the call and the INVITE's text.
fn invite_phone(h: &mut Harness) -> (CallId, String) {
    let binding = Binding {
        user: "1001".into(),
        contact: format!("sip:1001@{PHONE}"),
        address: addr(PHONE),
        transport: Transport::Udp,
        expires_at: h.at(Duration::from_secs(3600)),
    };
    let call = h.endpoint.invite(
        h.at(Duration::ZERO),
        &binding,
        "1000",
        "Caller",
        "v=0 offer\r\n",
    );
    let invite = h.one_response_request();
    (call, invite)
}

fn phone_answer(invite: &str, to_tag: &str, contact_port: u16) -> String {
    let via = header(invite, "Via").unwrap();
    let from = header(invite, "From").unwrap();
    let to = header(invite, "To").unwrap();
    let call_id = header(invite, "Call-ID").unwrap();
    let cseq = header(invite, "CSeq").unwrap();
    format!(
        "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to};tag={to_tag}\r\n\
Call-ID: {call_id}\r\nCSeq: {cseq}\r\nContact: <sip:1001@127.0.0.1:{contact_port}>\r\n\
Content-Type: application/sdp\r\nContent-Length: 7\r\n\r\nv=0 ok\n"
    )
}

#[test]
fn a_second_2xx_from_another_fork_is_acked_then_hung_up() {
    let mut h = Harness::new();
    let (call, invite) = invite_phone(&mut h);
    h.input(ms(100), PHONE, &phone_answer(&invite, "fork-a", 5090));
    let ack = h.one_response_request();
    assert_eq!(
        header(&ack, "CSeq"),
        Some(format!(
            "{} ACK",
            header(&invite, "CSeq").unwrap().split(' ').next().unwrap()
        ))
    );
    assert!(matches!(
        h.events().as_slice(),
        [CallEvent::OutgoingAnswered { .. }]
    ));
    h.input(ms(150), PHONE, &phone_answer(&invite, "fork-b", 5091));
    let sent: Vec<String> = h.transmits().iter().map(text_of).collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(
        sent[0].starts_with("ACK sip:1001@127.0.0.1:5091 SIP/2.0\r\n"),
        "{}",
        sent[0]
    );
    assert_eq!(tag_of(&header(&sent[0], "To").unwrap()), "fork-b");
    assert!(
        sent[1].starts_with("BYE sip:1001@127.0.0.1:5091 SIP/2.0\r\n"),
        "{}",
        sent[1]
    );
    assert_eq!(tag_of(&header(&sent[1], "To").unwrap()), "fork-b");
    assert!(
        h.events().is_empty(),
        "the switch's call is the first fork's"
    );
    // The fork's 2xx again: ACKed again, no second BYE.
    h.input(ms(600), PHONE, &phone_answer(&invite, "fork-b", 5091));
    let again: Vec<String> = h.transmits().iter().map(text_of).collect();
    assert_eq!(again, vec![sent[0].clone()]);
    // The first fork's call is untouched: our BYE goes to it.
    h.endpoint.hangup(h.at(ms(1000)), call);
    let bye = h.one_response_request();
    assert!(
        bye.starts_with("BYE sip:1001@127.0.0.1:5090 SIP/2.0\r\n"),
        "{bye}"
    );
    assert_eq!(tag_of(&header(&bye, "To").unwrap()), "fork-a");
}

#[test]
fn ack_and_cancel_of_our_invite_copy_its_cseq() {
    let mut h = Harness::new();
    let (call, invite) = invite_phone(&mut h);
    let number = header(&invite, "CSeq")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    // A provisional response lets CANCEL go.
    let ringing = phone_answer(&invite, "p", 5090).replace("SIP/2.0 200 OK", "SIP/2.0 180 Ringing");
    h.input(ms(100), PHONE, &ringing);
    h.events();
    h.endpoint.cancel(h.at(ms(200)), call);
    let cancel = h.one_response_request();
    assert_eq!(header(&cancel, "CSeq"), Some(format!("{number} CANCEL")));
    // The 487 is ACKed with the INVITE's number too.
    let terminated = phone_answer(&invite, "p", 5090)
        .replace("SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated");
    h.input(ms(300), PHONE, &terminated);
    let ack = h.one_response_request();
    assert_eq!(header(&ack, "CSeq"), Some(format!("{number} ACK")));
}

#[test]
fn the_merged_request_window_ends_exactly_64_t1_after_the_first_invite() {
    let window = Duration::from_secs(32);
    let text = invite_from(5070, "z9hG4bK-w");
    let Ok(message::Inbound::Request(request)) = message::parse(text.as_bytes()) else {
        panic!("unparsable");
    };
    let t = Instant::now();
    let mut table = RecentInvites::default();
    assert!(table.first_time(t, &request, window));
    assert!(!table.first_time(t + window - ms(1), &request, window));
    let mut table = RecentInvites::default();
    assert!(table.first_time(t, &request, window));
    assert!(table.first_time(t + window, &request, window));
}

#[test]
fn an_update_with_an_offer_before_our_answer_gets_500_retry_after_and_one_without_gets_200() {
    let mut h = Harness::new();
    h.input(Duration::ZERO, CALLER, &invite_from(5070, "z9hG4bK-early"));
    let call = match h.events().as_slice() {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("expected Incoming, got {other:?}"),
    };
    h.transmits();
    h.endpoint.ringing(h.at(ms(5)), call);
    let ringing = h.one_response();
    assert_eq!(status_of(&ringing), 180);
    let tag = tag_of(&header(&text_of(&ringing), "To").unwrap());
    // RFC 3311 5.2: the INVITE's own offer is not answered yet.
    h.input(
        ms(100),
        CALLER,
        &from_caller("UPDATE", 2, "z9hG4bK-eu1", &tag, CALLER, "v=0 early\r\n"),
    );
    let busy = h.one_response();
    assert_eq!(status_of(&busy), 500);
    assert_eq!(header(&text_of(&busy), "Retry-After").as_deref(), Some("1"));
    assert!(h.events().is_empty());
    // Without an offer it only refreshes the target.
    h.input(
        ms(200),
        CALLER,
        &from_caller("UPDATE", 3, "z9hG4bK-eu2", &tag, CALLER, ""),
    );
    assert_eq!(status_of(&h.one_response()), 200);
    assert!(h.events().is_empty());
}

#[test]
fn an_update_while_our_bye_is_in_flight_gets_481() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.endpoint.hangup(h.at(ms(500)), call);
    let bye = h.one_response();
    assert!(text_of(&bye).starts_with("BYE "));
    h.input(
        ms(600),
        CALLER,
        &from_caller("UPDATE", 2, "z9hG4bK-late", &tag, CALLER, "v=0 late\r\n"),
    );
    assert_eq!(status_of(&h.one_response()), 481);
    assert!(h.events().is_empty());
}
