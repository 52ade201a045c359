//! Transfers at the SIP level, driven with raw SIP bytes in virtual time: REFER in both
//! directions of a call (a caller's call to us, our INVITE to a desk phone), Refer-To as
//! real phones write it, 202 and the NOTIFY progress with its retransmissions and failures,
//! refusals (400/403/416/481/500), INVITE with Replaces, `find_dialog`, unsolicited
//! NOTIFY/SUBSCRIBE, and the abuse cases (strangers, garbage, storms).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::{DialogRef, EndpointConfig, ReferTarget};

const CALLER: &str = "127.0.0.1:5070";
/// A desk phone outside the trunk network.
const PHONE: &str = "192.0.2.50:5072";
/// Someone else outside the trunk network.
const STRANGER: &str = "198.51.100.7:5072";
const CALL_ID: &str = "call-1@127.0.0.1";

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

/// The start line of a message.
fn first_line(t: &Transmit) -> String {
    text_of(t).split("\r\n").next().unwrap().to_owned()
}

fn header(text: &str, name: &str) -> Option<String> {
    let head = text.split("\r\n\r\n").next().unwrap();
    head.split("\r\n")
        .find_map(|line| line.strip_prefix(&format!("{name}: ")).map(str::to_owned))
}

fn body(text: &str) -> &str {
    text.split_once("\r\n\r\n").unwrap().1
}

fn tag_of(value: &str) -> String {
    value.split(";tag=").nth(1).unwrap().to_owned()
}

/// The response a peer sends to one of our requests (`request` as it received it).
fn answer_to(request: &str, status: u16) -> String {
    format!(
        "SIP/2.0 {status} {}\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\n\
Content-Length: 0\r\n\r\n",
        message::reason_phrase(status),
        header(request, "Via").unwrap(),
        header(request, "From").unwrap(),
        header(request, "To").unwrap(),
        header(request, "Call-ID").unwrap(),
        header(request, "CSeq").unwrap(),
    )
}

/// A request within the caller's call (`to_tag` is ours), from `CALLER`.
fn from_caller(method: &str, cseq: u32, branch: &str, to_tag: &str, extra: &str) -> String {
    format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {CALLER};branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: \"Caller\" <sip:1000@127.0.0.1:5070>;tag=caller-tag\r\n\
To: <sip:4008@127.0.0.1:5060>;tag={to_tag}\r\n\
Call-ID: {CALL_ID}\r\n\
CSeq: {cseq} {method}\r\n\
Contact: <sip:1000@127.0.0.1:5070>\r\n\
{extra}Content-Length: 0\r\n\r\n"
    )
}

fn refer(cseq: u32, branch: &str, to_tag: &str, refer_to: &str) -> String {
    from_caller("REFER", cseq, branch, to_tag, refer_to)
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

    /// The only message sent now.
    fn one(&mut self) -> Transmit {
        let sent = self.transmits();
        assert_eq!(sent.len(), 1, "{sent:#?}");
        sent.into_iter().next().unwrap()
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

    /// A caller's call (its INVITE carrying `extra` headers), answered and ACKed: its
    /// handle and our To tag.
    fn confirmed_with(&mut self, extra: &str) -> (CallId, String) {
        let invite = format!(
            "INVITE sip:4008@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {CALLER};branch=z9hG4bK-inv;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Caller\" <sip:1000@127.0.0.1:5070>;tag=caller-tag\r\n\
To: <sip:4008@127.0.0.1:5060>\r\n\
Call-ID: {CALL_ID}\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1000@127.0.0.1:5070>\r\n\
{extra}Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"
        );
        self.input(Duration::ZERO, CALLER, &invite);
        let call = match self.events().as_slice() {
            [CallEvent::Incoming { call, .. }] => *call,
            other => panic!("expected Incoming, got {other:?}"),
        };
        self.endpoint.answer(self.at(ms(1)), call, "v=0 ours\r\n");
        let ok = self
            .transmits()
            .into_iter()
            .find(|t| status_of(t) == 200)
            .unwrap();
        let tag = tag_of(&header(&text_of(&ok), "To").unwrap());
        self.input(
            ms(10),
            CALLER,
            &from_caller("ACK", 1, "z9hG4bK-ack", &tag, ""),
        );
        assert_eq!(
            self.events(),
            vec![CallEvent::Confirmed { call, sdp: None }]
        );
        (call, tag)
    }

    fn confirmed(&mut self) -> (CallId, String) {
        self.confirmed_with("")
    }

    /// A REFER from the caller at `offset`: the target handed to the switch.
    fn referred(&mut self, offset: Duration, cseq: u32, tag: &str, refer_to: &str) -> ReferTarget {
        self.input(
            offset,
            CALLER,
            &refer(cseq, &format!("z9hG4bK-ref{cseq}"), tag, refer_to),
        );
        assert!(
            self.transmits().is_empty(),
            "nothing answered before the switch"
        );
        match self.events().as_slice() {
            [CallEvent::Refer { target, .. }] => target.clone(),
            other => panic!("expected Refer, got {other:?}"),
        }
    }

    /// REFER with this Refer-To (whole header lines): the one response it gets.
    fn refused(&mut self, offset: Duration, cseq: u32, tag: &str, headers: &str) -> Transmit {
        self.input(
            offset,
            CALLER,
            &refer(cseq, &format!("z9hG4bK-bad{cseq}"), tag, headers),
        );
        assert_eq!(self.events(), vec![], "a refused REFER is no event");
        self.one()
    }
}

fn target(uri: &str, user: &str, host: &str, replaces: Option<DialogRef>) -> ReferTarget {
    ReferTarget {
        uri: uri.into(),
        user: user.into(),
        host: host.into(),
        replaces,
    }
}

fn dialog(call_id: &str, to_tag: Option<&str>, from_tag: Option<&str>) -> DialogRef {
    DialogRef {
        call_id: call_id.into(),
        to_tag: to_tag.map(Into::into),
        from_tag: from_tag.map(Into::into),
        early_only: false,
    }
}

// ------------------------------------------------------------------------------------
// REFER accepted, NOTIFY progress.

#[test]
fn a_refer_waits_for_the_switch_then_gets_202_and_a_notify_saying_100_trying() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.input(
        ms(1000),
        CALLER,
        &refer(
            2,
            "z9hG4bK-r1",
            &tag,
            "Refer-To: <sip:2001@127.0.0.1:5060>\r\nReferred-By: <sip:1000@127.0.0.1>\r\n",
        ),
    );
    assert!(h.transmits().is_empty());
    assert_eq!(
        h.events(),
        vec![CallEvent::Refer {
            call,
            target: target("sip:2001@127.0.0.1:5060", "2001", "127.0.0.1", None),
            referred_by: Some("sip:1000@127.0.0.1".into()),
        }]
    );
    h.endpoint.accept_refer(h.at(ms(1001)), call);
    let sent = h.transmits();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let accepted = text_of(&sent[0]);
    assert_eq!(first_line(&sent[0]), "SIP/2.0 202 Accepted");
    assert_eq!(sent[0].destination, addr(CALLER));
    assert_eq!(header(&accepted, "CSeq").as_deref(), Some("2 REFER"));
    assert_eq!(tag_of(&header(&accepted, "To").unwrap()), tag);
    assert_eq!(
        header(&accepted, "Contact").as_deref(),
        Some("<sip:hotline@127.0.0.1:5060>")
    );
    let notify = text_of(&sent[1]);
    assert_eq!(
        first_line(&sent[1]),
        "NOTIFY sip:1000@127.0.0.1:5070 SIP/2.0"
    );
    assert_eq!(sent[1].destination, addr(CALLER));
    assert_eq!(header(&notify, "CSeq").as_deref(), Some("2 NOTIFY"));
    assert_eq!(header(&notify, "Call-ID").as_deref(), Some(CALL_ID));
    assert_eq!(tag_of(&header(&notify, "From").unwrap()), tag);
    assert_eq!(tag_of(&header(&notify, "To").unwrap()), "caller-tag");
    assert_eq!(header(&notify, "Event").as_deref(), Some("refer;id=2"));
    assert_eq!(
        header(&notify, "Subscription-State").as_deref(),
        Some("active;expires=60")
    );
    assert_eq!(
        header(&notify, "Content-Type").as_deref(),
        Some("message/sipfrag;version=2.0")
    );
    assert_eq!(body(&notify), "SIP/2.0 100 Trying\r\n");
    assert_eq!(header(&notify, "Content-Length").as_deref(), Some("20"));
}

#[test]
fn progress_then_the_final_status_terminates_the_subscription() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.referred(ms(1000), 2, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    h.endpoint.accept_refer(h.at(ms(1001)), call);
    let trying = text_of(&h.transmits()[1]);
    // A 2xx without a body (as most phones answer) is fine.
    h.input(ms(1010), CALLER, &answer_to(&trying, 200));
    assert!(h.transmits().is_empty());
    h.endpoint.notify_refer(h.at(ms(3000)), call, 180, false);
    let ringing = text_of(&h.one());
    assert_eq!(header(&ringing, "CSeq").as_deref(), Some("3 NOTIFY"));
    assert_eq!(body(&ringing), "SIP/2.0 180 Ringing\r\n");
    assert_eq!(
        header(&ringing, "Subscription-State").as_deref(),
        Some("active;expires=60")
    );
    h.input(ms(3010), CALLER, &answer_to(&ringing, 200));
    h.endpoint.notify_refer(h.at(ms(6000)), call, 200, true);
    let done = text_of(&h.one());
    assert_eq!(header(&done, "CSeq").as_deref(), Some("4 NOTIFY"));
    assert_eq!(body(&done), "SIP/2.0 200 OK\r\n");
    assert_eq!(
        header(&done, "Subscription-State").as_deref(),
        Some("terminated;reason=noresource")
    );
    assert_eq!(header(&done, "Event").as_deref(), Some("refer;id=2"));
    h.input(ms(6010), CALLER, &answer_to(&done, 200));
    // The subscription is over: later progress sends nothing.
    h.endpoint.notify_refer(h.at(ms(7000)), call, 486, true);
    assert!(h.transmits().is_empty());
    assert!(h.events().is_empty());
}

#[test]
fn progress_while_a_notify_is_in_flight_waits_and_only_the_latest_is_sent() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.referred(ms(1000), 2, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    h.endpoint.accept_refer(h.at(ms(1001)), call);
    let trying = text_of(&h.transmits()[1]);
    h.endpoint.notify_refer(h.at(ms(1002)), call, 180, false);
    h.endpoint.notify_refer(h.at(ms(1003)), call, 503, true);
    assert!(h.transmits().is_empty(), "one NOTIFY at a time");
    h.input(ms(1100), CALLER, &answer_to(&trying, 200));
    let last = text_of(&h.one());
    assert_eq!(body(&last), "SIP/2.0 503 Service Unavailable\r\n");
    assert_eq!(header(&last, "CSeq").as_deref(), Some("3 NOTIFY"));
    assert_eq!(
        header(&last, "Subscription-State").as_deref(),
        Some("terminated;reason=noresource")
    );
}

#[test]
fn a_notify_is_retransmitted_over_udp_until_timer_f_then_the_subscription_ends_quietly() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.referred(ms(1000), 2, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    h.endpoint.accept_refer(h.at(ms(1000)), call);
    let first = text_of(&h.transmits()[1]);
    let sent = h.run_until(Duration::from_secs(40));
    let notify_at: Vec<u128> = sent
        .iter()
        .filter(|(_, t)| text_of(t) == first)
        .map(|(at, _)| *at)
        .collect();
    // Timer E: T1 doubling up to T2 (4 s), for 64*T1 = 32 s.
    assert_eq!(
        notify_at,
        vec![1500, 2500, 4500, 8500, 12500, 16500, 20500, 24500, 28500, 32500]
    );
    assert_eq!(sent.len(), notify_at.len(), "nothing else sent: {sent:#?}");
    assert!(h.events().is_empty(), "a lost NOTIFY is no event");
    // The subscription is over before its 60 s: a new transfer may be asked for at once.
    let again = h.referred(
        Duration::from_secs(41),
        3,
        &tag,
        "Refer-To: <sip:2002@127.0.0.1>\r\n",
    );
    assert_eq!(again.user, "2002");
    h.endpoint
        .refuse_refer(h.at(Duration::from_secs(41)), call, 603);
    assert_eq!(status_of(&h.one()), 603);
    h.endpoint
        .notify_refer(h.at(Duration::from_secs(41)), call, 200, true);
    assert!(h.transmits().is_empty(), "nothing to report on");
    // The call itself goes on.
    h.endpoint.hangup(h.at(Duration::from_secs(42)), call);
    assert!(first_line(&h.one()).starts_with("BYE sip:1000@127.0.0.1:5070"));
}

#[test]
fn a_notify_answered_481_ends_the_subscription_but_not_the_call() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.referred(ms(1000), 2, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    h.endpoint.accept_refer(h.at(ms(1000)), call);
    let trying = text_of(&h.transmits()[1]);
    h.endpoint.notify_refer(h.at(ms(1001)), call, 180, false);
    h.input(ms(1050), CALLER, &answer_to(&trying, 481));
    assert!(h.transmits().is_empty(), "the waiting progress is dropped");
    h.endpoint.notify_refer(h.at(ms(2000)), call, 200, true);
    assert!(h.transmits().is_empty());
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.active_calls(), 1);
    // And another transfer may be asked for.
    let again = h.referred(ms(3000), 3, &tag, "Refer-To: <sip:2002@127.0.0.1>\r\n");
    assert_eq!(again.user, "2002");
}

#[test]
fn a_percent_without_two_hex_digits_stays_as_written_and_a_referred_by_without_scheme_is_dropped() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.input(
        ms(1000),
        CALLER,
        &refer(
            2,
            "z9hG4bK-pct",
            &tag,
            "Refer-To: <sip:2001@127.0.0.1?Replaces=c%zz%4z1%3Bto-tag%3Da>\r\nReferred-By: agent1001\r\n",
        ),
    );
    assert_eq!(
        h.events(),
        vec![CallEvent::Refer {
            call,
            target: target(
                "sip:2001@127.0.0.1",
                "2001",
                "127.0.0.1",
                Some(dialog("c%zz%4z1", Some("a"), None))
            ),
            referred_by: None,
        }]
    );
}

#[test]
fn a_replaces_of_600_bytes_is_read_and_one_of_601_is_refused() {
    let mut h = Harness::new();
    let at_limit = format!("c1;to-tag=a;from-tag=b;x={}", "p".repeat(600 - 25));
    assert_eq!(at_limit.len(), 600);
    h.input(
        Duration::ZERO,
        CALLER,
        &invite_with(
            "lim-1",
            "z9hG4bK-lim1",
            &format!("Replaces: {at_limit}\r\n"),
        ),
    );
    match h.events().as_slice() {
        [CallEvent::Incoming { replaces, .. }] => {
            assert_eq!(replaces, &Some(dialog("c1", Some("a"), Some("b"))))
        }
        other => panic!("{other:?}"),
    }
    h.transmits();
    h.input(
        ms(1),
        CALLER,
        &invite_with(
            "lim-2",
            "z9hG4bK-lim2",
            &format!("Replaces: {at_limit}p\r\n"),
        ),
    );
    assert_eq!(first_line(&h.one()), "SIP/2.0 400 Bad Replaces Header");
    assert!(h.events().is_empty());
}

#[test]
fn a_bye_right_after_the_202_means_no_notify_is_ever_sent() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.referred(ms(1000), 2, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    h.endpoint.accept_refer(h.at(ms(1000)), call);
    let trying = text_of(&h.transmits()[1]);
    h.input(
        ms(1005),
        CALLER,
        &from_caller("BYE", 3, "z9hG4bK-bye", &tag, ""),
    );
    assert_eq!(status_of(&h.one()), 200);
    assert_eq!(h.events(), vec![CallEvent::Bye { call }]);
    h.endpoint.notify_refer(h.at(ms(2000)), call, 180, false);
    h.endpoint.notify_refer(h.at(ms(3000)), call, 200, true);
    assert!(h.transmits().is_empty());
    // The first NOTIFY's answer (or its loss) is absorbed without a trace.
    h.input(ms(3100), CALLER, &answer_to(&trying, 481));
    let sent = h.run_until(Duration::from_secs(60));
    assert!(sent.iter().all(|(_, t)| text_of(t) == trying), "{sent:#?}");
    assert!(h.events().is_empty());
}

#[test]
fn our_hangup_stops_the_notifies() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.referred(ms(1000), 2, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    h.endpoint.accept_refer(h.at(ms(1000)), call);
    let trying = text_of(&h.transmits()[1]);
    h.input(ms(1010), CALLER, &answer_to(&trying, 200));
    h.endpoint.hangup(h.at(ms(2000)), call);
    assert!(first_line(&h.one()).starts_with("BYE "));
    h.endpoint.notify_refer(h.at(ms(2001)), call, 200, true);
    assert!(h.transmits().is_empty());
}

#[test]
fn a_refer_accepted_after_our_hangup_gets_481_and_no_notify() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.referred(ms(1000), 2, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    h.endpoint.hangup(h.at(ms(1001)), call);
    assert!(first_line(&h.one()).starts_with("BYE "));
    h.endpoint.accept_refer(h.at(ms(1002)), call);
    assert_eq!(first_line(&h.one()), "SIP/2.0 481 Call Is Ending");
}

#[test]
fn over_tcp_the_notify_uses_the_callers_connection_and_is_not_retransmitted() {
    let mut h = Harness::new();
    let invite = format!(
        "INVITE sip:4008@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/TCP {CALLER};branch=z9hG4bK-tinv\r\n\
Max-Forwards: 70\r\n\
From: <sip:1000@127.0.0.1:5070>;tag=caller-tag\r\n\
To: <sip:4008@127.0.0.1:5060>\r\n\
Call-ID: {CALL_ID}\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1000@127.0.0.1:5999;transport=tcp>\r\n\
Content-Length: 0\r\n\r\n"
    );
    let source = addr("127.0.0.1:40123");
    let t0 = h.at(Duration::ZERO);
    h.endpoint
        .handle_input(t0, Transport::Tcp, source, invite.as_bytes());
    let call = match h.events().as_slice() {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    h.endpoint.answer(h.at(ms(1)), call, "v=0\r\n");
    let ok = h.transmits().pop().unwrap();
    let tag = tag_of(&header(&text_of(&ok), "To").unwrap());
    let over_tcp =
        |text: String| text.replace("SIP/2.0/UDP 127.0.0.1:5070", "SIP/2.0/TCP 127.0.0.1:5070");
    let ack = over_tcp(from_caller("ACK", 1, "z9hG4bK-tack", &tag, ""));
    h.endpoint
        .handle_input(h.at(ms(5)), Transport::Tcp, source, ack.as_bytes());
    h.events();
    let refer = over_tcp(refer(
        2,
        "z9hG4bK-tref",
        &tag,
        "Refer-To: <sip:2001@127.0.0.1>\r\n",
    ));
    h.endpoint
        .handle_input(h.at(ms(1000)), Transport::Tcp, source, refer.as_bytes());
    assert!(matches!(h.events().as_slice(), [CallEvent::Refer { .. }]));
    h.endpoint.accept_refer(h.at(ms(1000)), call);
    let sent = h.transmits();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent.iter()
            .map(|t| (t.transport, t.destination))
            .collect::<Vec<_>>(),
        vec![(Transport::Tcp, source), (Transport::Tcp, source)]
    );
    assert!(text_of(&sent[1]).contains("Via: SIP/2.0/TCP 127.0.0.1:5060;branch="));
    let later = h.run_until(Duration::from_secs(40));
    assert!(later.is_empty(), "{later:#?}");
    // Timer F ended the subscription: a new transfer may be asked for.
    let again = over_tcp(refer_to_2002(3, &tag));
    h.endpoint.handle_input(
        h.at(Duration::from_secs(41)),
        Transport::Tcp,
        source,
        again.as_bytes(),
    );
    assert!(matches!(h.events().as_slice(), [CallEvent::Refer { .. }]));
}

fn refer_to_2002(cseq: u32, tag: &str) -> String {
    refer(
        cseq,
        &format!("z9hG4bK-2002-{cseq}"),
        tag,
        "Refer-To: <sip:2002@127.0.0.1>\r\n",
    )
}

#[test]
fn a_refused_refer_gets_the_switchs_status_and_no_notify() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.referred(ms(1000), 2, &tag, "Refer-To: <sip:9999@127.0.0.1>\r\n");
    h.endpoint.refuse_refer(h.at(ms(1001)), call, 404);
    let refused = h.one();
    assert_eq!(first_line(&refused), "SIP/2.0 404 Not Found");
    assert_eq!(header(&text_of(&refused), "Contact"), None);
    assert_eq!(
        header(&text_of(&refused), "CSeq").as_deref(),
        Some("2 REFER")
    );
    h.endpoint.notify_refer(h.at(ms(1002)), call, 100, false);
    h.endpoint.accept_refer(h.at(ms(1003)), call);
    assert!(h.transmits().is_empty());
}

#[test]
fn a_notify_follows_the_route_set_of_a_record_routed_call() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed_with("Record-Route: <sip:127.0.0.1:5080;lr>\r\n");
    h.referred(ms(1000), 2, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    h.endpoint.accept_refer(h.at(ms(1000)), call);
    let sent = h.transmits();
    assert_eq!(sent[1].destination, addr("127.0.0.1:5080"));
    let notify = text_of(&sent[1]);
    assert!(notify.starts_with("NOTIFY sip:1000@127.0.0.1:5070 SIP/2.0\r\n"));
    assert_eq!(
        header(&notify, "Route").as_deref(),
        Some("<sip:127.0.0.1:5080;lr>")
    );
}

// ------------------------------------------------------------------------------------
// Refer-To as phones write it.

#[test]
fn refer_to_without_brackets_as_baresip_writes_it() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.input(
        ms(1000),
        CALLER,
        &refer(
            2,
            "z9hG4bK-bs",
            &tag,
            "Refer-To: sip:2001@127.0.0.1:5060\r\nReferred-by: sip:1000@127.0.0.1\r\n",
        ),
    );
    assert_eq!(
        h.events(),
        vec![CallEvent::Refer {
            call,
            target: target("sip:2001@127.0.0.1:5060", "2001", "127.0.0.1", None),
            referred_by: Some("sip:1000@127.0.0.1".into()),
        }]
    );
}

#[test]
fn attended_refer_to_with_escaped_replaces_as_yealink_and_baresip_write_it() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    // Yealink: Call-ID with an escaped @, to-tag then from-tag.
    let yealink = h.referred(
        ms(1000),
        2,
        &tag,
        "Refer-To: <sip:2001@127.0.0.1:5060?Replaces=0_12345%40192.168.1.20%3Bto-tag%3Dab12%3Bfrom-tag%3D3344>\r\n",
    );
    assert_eq!(
        yealink,
        target(
            "sip:2001@127.0.0.1:5060",
            "2001",
            "127.0.0.1",
            Some(dialog("0_12345@192.168.1.20", Some("ab12"), Some("3344")))
        )
    );
    h.endpoint.refuse_refer(h.at(ms(1001)), call, 603);
    h.transmits();
    // baresip (call_replace_transfer): the Call-ID as is, `@` unescaped.
    let baresip = h.referred(
        ms(2000),
        3,
        &tag,
        "Refer-To: <sip:2001@127.0.0.1;transport=udp?Replaces=d1f2@host%3Bto-tag%3Dt9%3Bfrom-tag%3Df8>\r\nReferred-By: sip:1000@127.0.0.1\r\n",
    );
    assert_eq!(
        baresip,
        target(
            "sip:2001@127.0.0.1;transport=udp",
            "2001",
            "127.0.0.1",
            Some(dialog("d1f2@host", Some("t9"), Some("f8")))
        )
    );
}

#[test]
fn attended_refer_to_as_polycom_grandstream_and_rfc_5589_write_it() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    // Polycom: display name, user=phone, from-tag first, lower-case escapes.
    let polycom = h.referred(
        ms(1000),
        2,
        &tag,
        "Refer-To: \"Agent 2001\" <sip:2001@pbx.example.com;user=phone?Replaces=abc%40pc%3bfrom-tag%3d11%3bto-tag%3d22>\r\n",
    );
    assert_eq!(
        polycom,
        target(
            "sip:2001@pbx.example.com;user=phone",
            "2001",
            "pbx.example.com",
            Some(dialog("abc@pc", Some("22"), Some("11")))
        )
    );
    h.endpoint.refuse_refer(h.at(ms(1001)), call, 603);
    h.transmits();
    // Grandstream and others: the compact header name and early-only.
    let compact = h.referred(
        ms(2000),
        3,
        &tag,
        "r: <sip:2001@127.0.0.1?Replaces=gs-77%3Bto-tag%3Dx1%3Bfrom-tag%3Dy2%3Bearly-only>\r\n",
    );
    let mut early = dialog("gs-77", Some("x1"), Some("y2"));
    early.early_only = true;
    assert_eq!(compact.replaces, Some(early));
    h.endpoint.refuse_refer(h.at(ms(2001)), call, 603);
    h.transmits();
    // RFC 5589 7.1, sips.
    let rfc = h.referred(
        ms(3000),
        4,
        &tag,
        "Refer-To: <sips:Transfer-Target@target.example?Replaces=090459243588173445%3Bto-tag%3D7553452%3Bfrom-tag%3D31431>\r\n",
    );
    assert_eq!(
        rfc,
        target(
            "sips:Transfer-Target@target.example",
            "Transfer-Target",
            "target.example",
            Some(dialog("090459243588173445", Some("7553452"), Some("31431")))
        )
    );
}

#[test]
fn refer_to_pointing_at_a_proxy_without_user_or_with_an_unescaped_replaces_is_taken() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    // Yealink T4x with "Refer-To uses the Contact": no user part, only the host.
    let proxy = h.referred(
        ms(1000),
        2,
        &tag,
        "Refer-To: <sip:127.0.0.1:5060?Replaces=c1%3Bto-tag%3Da%3Bfrom-tag%3Db>\r\n",
    );
    assert_eq!(
        proxy,
        target(
            "sip:127.0.0.1:5060",
            "",
            "127.0.0.1",
            Some(dialog("c1", Some("a"), Some("b")))
        )
    );
    h.endpoint.refuse_refer(h.at(ms(1001)), call, 603);
    h.transmits();
    // Replaces with its semicolons left unescaped.
    let unescaped = h.referred(
        ms(1500),
        3,
        &tag,
        "Refer-To: <sip:2001@127.0.0.1?Replaces=c2;to-tag=a2;from-tag=b2>\r\n",
    );
    assert_eq!(
        unescaped.replaces,
        Some(dialog("c2", Some("a2"), Some("b2")))
    );
    h.endpoint.refuse_refer(h.at(ms(1501)), call, 603);
    h.transmits();
    // No tags, another URI header after it, an escaped user, an IPv6 host.
    let lenient = h.referred(
        ms(2000),
        5,
        &tag,
        "Refer-To: <sip:%2B8613800000001@[::1]:5060?Replaces=only-call-id&Priority=urgent>\r\n",
    );
    assert_eq!(
        lenient,
        target(
            "sip:%2B8613800000001@[::1]:5060",
            "+8613800000001",
            "[::1]",
            Some(dialog("only-call-id", None, None))
        )
    );
    h.endpoint.refuse_refer(h.at(ms(2001)), call, 603);
    h.transmits();
    let tel = h.referred(ms(3000), 6, &tag, "Refer-To: <tel:+4930123456>\r\n");
    assert_eq!(tel, target("tel:+4930123456", "+4930123456", "", None));
}

// ------------------------------------------------------------------------------------
// Refusals.

#[test]
fn missing_repeated_or_unreadable_refer_to_gets_400_with_the_reason() {
    let mut h = Harness::new();
    let (_, tag) = h.confirmed();
    let cases = [
        ("", "SIP/2.0 400 Missing Refer-To"),
        (
            "Refer-To: <sip:2001@127.0.0.1>\r\nRefer-To: <sip:2002@127.0.0.1>\r\n",
            "SIP/2.0 400 More Than One Refer-To",
        ),
        (
            "Refer-To: <sip:2001@127.0.0.1>, <sip:2002@127.0.0.1>\r\n",
            "SIP/2.0 400 More Than One Refer-To",
        ),
        (
            "Refer-To: <sip:2001@127.0.0.1\r\n",
            "SIP/2.0 400 Bad Refer-To",
        ),
        ("Refer-To: 2001\r\n", "SIP/2.0 400 Bad Refer-To"),
        ("Refer-To: <sip:2001@>\r\n", "SIP/2.0 400 Bad Refer-To"),
        ("Refer-To: <sip:@host>\r\n", "SIP/2.0 400 Bad Refer-To"),
        ("Refer-To: <sip:%20@host>\r\n", "SIP/2.0 400 Bad Refer-To"),
        ("Refer-To: <sip:2001@ho$t>\r\n", "SIP/2.0 400 Bad Refer-To"),
        ("Refer-To: <sip:20 01@host>\r\n", "SIP/2.0 400 Bad Refer-To"),
        (
            "Refer-To: <sip:20%0D%0AX-Evil:%201@host>\r\n",
            "SIP/2.0 400 Bad Refer-To",
        ),
        (
            "Refer-To: <sip:2001@host?Replaces=%3Bto-tag%3Da>\r\n",
            "SIP/2.0 400 Bad Replaces In Refer-To",
        ),
        (
            "Refer-To: <sip:2001@host?Replaces=c%3Bto-tag%3Da%3Bto-tag%3Db>\r\n",
            "SIP/2.0 400 Bad Replaces In Refer-To",
        ),
        (
            "Refer-To: <sip:2001@host?Replaces=a&Replaces=b>\r\n",
            "SIP/2.0 400 More Than One Replaces In Refer-To",
        ),
        (
            "Refer-To: <sip:2001@host;method=SUBSCRIBE>\r\n",
            "SIP/2.0 400 Refer-To Method Is Not INVITE",
        ),
        (
            "Refer-To: <http://example.com/transfer>\r\n",
            "SIP/2.0 416 Unsupported Refer-To URI Scheme",
        ),
        (
            "Refer-To: <sip:2001@host>\r\nReplaces: c1;to-tag=a;from-tag=b\r\n",
            "SIP/2.0 400 Replaces Header In REFER",
        ),
    ];
    for (i, (headers, expected)) in cases.iter().enumerate() {
        let cseq = 2 + i as u32;
        let refused = h.refused(ms(1000 + i as u64), cseq, &tag, headers);
        assert_eq!(first_line(&refused), *expected, "{headers}");
        assert_eq!(
            header(&text_of(&refused), "CSeq"),
            Some(format!("{cseq} REFER"))
        );
        assert!(!text_of(&refused).contains("X-Evil"));
    }
}

#[test]
fn oversized_refer_to_and_replaces_are_refused_without_an_event() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    let long_user = "9".repeat(3000);
    let refused = h.refused(
        ms(1000),
        2,
        &tag,
        &format!("Refer-To: <sip:{long_user}@127.0.0.1>\r\n"),
    );
    assert_eq!(first_line(&refused), "SIP/2.0 400 Refer-To Too Long");
    // The limit itself (2048 bytes) is allowed; one byte more is not.
    let at_limit = format!("<sip:{}@127.0.0.1>", "7".repeat(2048 - 16));
    assert_eq!(at_limit.len(), 2048);
    let refused = h.refused(
        ms(1000),
        2,
        &tag,
        &format!("Refer-To: {}>\r\n", &at_limit[..2047]),
    );
    assert_eq!(first_line(&refused), "SIP/2.0 400 Refer-To Too Long");
    let taken = h.referred(ms(1000), 2, &tag, &format!("Refer-To: {at_limit}\r\n"));
    assert_eq!(taken.user.len(), 2032);
    h.endpoint.refuse_refer(h.at(ms(1000)), call, 603);
    h.transmits();
    let long_call_id = "c".repeat(300);
    let refused = h.refused(
        ms(1001),
        3,
        &tag,
        &format!("Refer-To: <sip:2001@127.0.0.1?Replaces={long_call_id}%3Bto-tag%3Da>\r\n"),
    );
    assert_eq!(first_line(&refused), "SIP/2.0 400 Bad Replaces In Refer-To");
    // The call is untouched: a good REFER still works.
    let fine = h.referred(ms(1002), 4, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    assert_eq!(fine.user, "2001");
}

#[test]
fn refer_outside_any_dialog_gets_481_from_a_trunk_and_403_from_a_stranger() {
    let mut h = Harness::new();
    let (_, tag) = h.confirmed();
    let headers = "Refer-To: <sip:2001@127.0.0.1>\r\n";
    // No To tag at all.
    let no_tag = refer(2, "z9hG4bK-nt", &tag, headers).replace(&format!(";tag={tag}"), "");
    h.input(ms(1000), CALLER, &no_tag);
    assert_eq!(
        first_line(&h.one()),
        "SIP/2.0 481 Call/Transaction Does Not Exist"
    );
    // A tag of no dialog.
    h.input(
        ms(1001),
        CALLER,
        &refer(2, "z9hG4bK-wt", "not-ours", headers),
    );
    assert_eq!(status_of(&h.one()), 481);
    // From outside the trunks, without the dialog's identifiers: 403, as any request.
    h.input(
        ms(1002),
        STRANGER,
        &refer(2, "z9hG4bK-st", "not-ours", headers),
    );
    let refused = h.one();
    assert_eq!(status_of(&refused), 403);
    assert_eq!(
        refused.destination,
        addr(STRANGER),
        "answered where it came from (rport)"
    );
    assert!(h.events().is_empty());
}

#[test]
fn a_stranger_who_knows_the_dialog_cannot_transfer_a_phones_call() {
    let mut h = Harness::new();
    let (phone, call) = PhoneCall::answered(&mut h);
    let forged = phone
        .request(
            "REFER",
            2,
            "z9hG4bK-forged",
            "Refer-To: <sip:00441234567@127.0.0.1>\r\n",
        )
        .replace(PHONE, STRANGER);
    h.input(ms(1000), STRANGER, &forged);
    let refused = h.one();
    assert_eq!(status_of(&refused), 403);
    assert!(h.events().is_empty(), "no transfer asked");
    // The forged REFER did not move the dialog's CSeq: the phone's own REFER is taken.
    h.input(
        ms(1001),
        PHONE,
        &phone.request(
            "REFER",
            2,
            "z9hG4bK-own",
            "Refer-To: <sip:2001@127.0.0.1>\r\n",
        ),
    );
    assert!(matches!(
        h.events().as_slice(),
        [CallEvent::Refer { call: c, .. }] if *c == call
    ));
}

#[test]
fn an_out_of_order_refer_gets_500() {
    let mut h = Harness::new();
    let (_, tag) = h.confirmed();
    h.input(
        ms(1000),
        CALLER,
        &from_caller("INFO", 5, "z9hG4bK-info", &tag, ""),
    );
    assert_eq!(status_of(&h.one()), 200);
    let refused = h.refused(ms(1001), 4, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    assert_eq!(status_of(&refused), 500);
}

#[test]
fn a_refer_requiring_norefersub_gets_420() {
    let mut h = Harness::new();
    let (_, tag) = h.confirmed();
    let refused = h.refused(
        ms(1000),
        2,
        &tag,
        "Refer-To: <sip:2001@127.0.0.1>\r\nRefer-Sub: false\r\nRequire: norefersub\r\n",
    );
    assert_eq!(status_of(&refused), 420);
    assert_eq!(
        header(&text_of(&refused), "Unsupported").as_deref(),
        Some("norefersub")
    );
}

#[test]
fn a_refer_storm_on_one_call_gets_one_event_and_500_with_retry_after_for_the_rest() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.referred(ms(1000), 2, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    // The same REFER retransmitted is absorbed while the switch decides.
    h.input(
        ms(1500),
        CALLER,
        &refer(
            2,
            "z9hG4bK-ref2",
            &tag,
            "Refer-To: <sip:2001@127.0.0.1>\r\n",
        ),
    );
    assert!(h.transmits().is_empty());
    for i in 0..50u32 {
        h.input(
            ms(1600 + u64::from(i)),
            CALLER,
            &refer(
                3 + i,
                &format!("z9hG4bK-storm{i}"),
                &tag,
                "Refer-To: <sip:00991234@127.0.0.1>\r\n",
            ),
        );
        let busy = h.one();
        assert_eq!(
            first_line(&busy),
            "SIP/2.0 500 Transfer Already In Progress"
        );
        assert_eq!(header(&text_of(&busy), "Retry-After").as_deref(), Some("1"));
    }
    assert!(
        h.events().is_empty(),
        "only the first REFER reached the switch"
    );
    // Accepted: while its subscription reports, still one transfer at a time.
    h.endpoint.accept_refer(h.at(ms(2000)), call);
    let trying = text_of(&h.transmits()[1]);
    h.input(ms(2010), CALLER, &answer_to(&trying, 200));
    let busy = h.refused(ms(2100), 60, &tag, "Refer-To: <sip:2002@127.0.0.1>\r\n");
    assert_eq!(status_of(&busy), 500);
    // Once the final NOTIFY is out, the next transfer may be asked for.
    h.endpoint.notify_refer(h.at(ms(3000)), call, 486, true);
    let done = text_of(&h.one());
    assert_eq!(body(&done), "SIP/2.0 486 Busy Here\r\n");
    let next = h.referred(ms(3100), 61, &tag, "Refer-To: <sip:2002@127.0.0.1>\r\n");
    assert_eq!(next.user, "2002");
}

#[test]
fn a_subscription_left_without_news_lapses_60_s_after_its_last_notify() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    h.referred(ms(1000), 2, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    h.endpoint.accept_refer(h.at(ms(1000)), call);
    let trying = text_of(&h.transmits()[1]);
    h.input(ms(1010), CALLER, &answer_to(&trying, 200));
    // Progress at 50 s renews it until 110 s.
    h.endpoint
        .notify_refer(h.at(Duration::from_secs(50)), call, 180, false);
    let ringing = text_of(&h.one());
    h.input(Duration::from_secs(50), CALLER, &answer_to(&ringing, 200));
    let busy = h.refused(
        Duration::from_secs(62),
        3,
        &tag,
        "Refer-To: <sip:2002@127.0.0.1>\r\n",
    );
    assert_eq!(status_of(&busy), 500);
    let busy = h.refused(
        Duration::from_millis(109_999),
        4,
        &tag,
        "Refer-To: <sip:2002@127.0.0.1>\r\n",
    );
    assert_eq!(status_of(&busy), 500);
    let taken = h.referred(
        Duration::from_secs(110),
        5,
        &tag,
        "Refer-To: <sip:2002@127.0.0.1>\r\n",
    );
    assert_eq!(taken.user, "2002");
}

#[test]
fn a_refer_the_switch_never_answers_stops_blocking_after_its_transaction_time() {
    let mut h = Harness::new();
    let (_, tag) = h.confirmed();
    h.referred(ms(1000), 2, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    let busy = h.refused(ms(32_999), 3, &tag, "Refer-To: <sip:2001@127.0.0.1>\r\n");
    assert_eq!(status_of(&busy), 500);
    let taken = h.referred(ms(33_000), 4, &tag, "Refer-To: <sip:2003@127.0.0.1>\r\n");
    assert_eq!(taken.user, "2003");
}

// ------------------------------------------------------------------------------------
// REFER from a desk phone on our INVITE to it.

/// Our INVITE to the agent's phone at `PHONE`, answered: what the phone's requests copy.
struct PhoneCall {
    call_id: String,
    /// Our From (with our tag): the To of the phone's requests.
    ours: String,
}

impl PhoneCall {
    fn answered(h: &mut Harness) -> (PhoneCall, CallId) {
        let binding = crate::sip::Binding {
            user: "1001".into(),
            contact: "sip:1001@192.0.2.50:5072".into(),
            address: addr(PHONE),
            transport: Transport::Udp,
            expires_at: h.at(Duration::from_secs(3600)),
        };
        let call = h
            .endpoint
            .invite(h.at(Duration::ZERO), &binding, "13800000001", "", "v=0\r\n");
        let invite = text_of(&h.one());
        let ok = format!(
            "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=agent-tag\r\nCall-ID: {}\r\n\
CSeq: 1 INVITE\r\nContact: <sip:1001@192.0.2.50:5072>\r\nContent-Type: application/sdp\r\n\
Content-Length: 5\r\n\r\nv=0\r\n",
            header(&invite, "Via").unwrap(),
            header(&invite, "From").unwrap(),
            header(&invite, "To").unwrap(),
            header(&invite, "Call-ID").unwrap(),
        );
        h.input(ms(100), PHONE, &ok);
        assert_eq!(first_line(&h.one()).split(' ').next(), Some("ACK"));
        assert!(matches!(
            h.events().as_slice(),
            [CallEvent::OutgoingAnswered { .. }]
        ));
        let phone = PhoneCall {
            call_id: header(&invite, "Call-ID").unwrap(),
            ours: header(&invite, "From").unwrap(),
        };
        (phone, call)
    }

    fn request(&self, method: &str, cseq: u32, branch: &str, extra: &str) -> String {
        format!(
            "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {PHONE};branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:1001@192.0.2.50:5072>;tag=agent-tag\r\n\
To: {}\r\n\
Call-ID: {}\r\n\
CSeq: {cseq} {method}\r\n\
Contact: <sip:1001@192.0.2.50:5072>\r\n\
{extra}Content-Length: 0\r\n\r\n",
            self.ours, self.call_id
        )
    }
}

#[test]
fn a_desk_phone_transfers_the_call_we_placed_to_it_and_hears_the_progress() {
    let mut h = Harness::new();
    let (phone, call) = PhoneCall::answered(&mut h);
    h.input(
        ms(1000),
        PHONE,
        &phone.request(
            "REFER",
            1,
            "z9hG4bK-pr1",
            "Refer-To: <sip:8001@127.0.0.1:5060>\r\nReferred-By: <sip:1001@127.0.0.1>\r\n",
        ),
    );
    assert!(h.transmits().is_empty());
    assert_eq!(
        h.events(),
        vec![CallEvent::Refer {
            call,
            target: target("sip:8001@127.0.0.1:5060", "8001", "127.0.0.1", None),
            referred_by: Some("sip:1001@127.0.0.1".into()),
        }]
    );
    h.endpoint.accept_refer(h.at(ms(1001)), call);
    let sent = h.transmits();
    assert_eq!(first_line(&sent[0]), "SIP/2.0 202 Accepted");
    assert_eq!(sent[0].destination, addr(PHONE));
    assert_eq!(
        first_line(&sent[1]),
        "NOTIFY sip:1001@192.0.2.50:5072 SIP/2.0"
    );
    assert_eq!(sent[1].destination, addr(PHONE));
    let notify = text_of(&sent[1]);
    // Our INVITE was CSeq 1: the NOTIFY is the next of our requests.
    assert_eq!(header(&notify, "CSeq").as_deref(), Some("2 NOTIFY"));
    assert_eq!(header(&notify, "Event").as_deref(), Some("refer;id=1"));
    assert_eq!(tag_of(&header(&notify, "To").unwrap()), "agent-tag");
    assert_eq!(body(&notify), "SIP/2.0 100 Trying\r\n");
}

// ------------------------------------------------------------------------------------
// NOTIFY and SUBSCRIBE nobody asked for.

#[test]
fn unsolicited_notify_gets_481_or_489_without_event_and_subscribe_gets_489() {
    let mut h = Harness::new();
    let (_, tag) = h.confirmed();
    h.input(
        ms(1000),
        CALLER,
        &from_caller(
            "NOTIFY",
            2,
            "z9hG4bK-n1",
            &tag,
            "Event: refer\r\nSubscription-State: active\r\n",
        ),
    );
    let in_dialog = h.one();
    assert_eq!(
        first_line(&in_dialog),
        "SIP/2.0 481 Call/Transaction Does Not Exist"
    );
    assert_eq!(tag_of(&header(&text_of(&in_dialog), "To").unwrap()), tag);
    h.input(
        ms(1001),
        CALLER,
        &from_caller("NOTIFY", 3, "z9hG4bK-n2", &tag, ""),
    );
    assert_eq!(first_line(&h.one()), "SIP/2.0 489 Bad Event");
    let out_of_dialog = from_caller("NOTIFY", 1, "z9hG4bK-n3", "x", "Event: message-summary\r\n")
        .replace(";tag=x", "");
    h.input(ms(1002), CALLER, &out_of_dialog);
    assert_eq!(status_of(&h.one()), 481);
    let subscribe =
        from_caller("SUBSCRIBE", 1, "z9hG4bK-s1", "x", "Event: dialog\r\n").replace(";tag=x", "");
    h.input(ms(1003), CALLER, &subscribe);
    assert_eq!(first_line(&h.one()), "SIP/2.0 489 Bad Event");
    // From a stranger outside any dialog: 403 as always.
    h.input(
        ms(1004),
        STRANGER,
        &out_of_dialog.replace("z9hG4bK-n3", "z9hG4bK-n4"),
    );
    assert_eq!(status_of(&h.one()), 403);
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.active_calls(), 1);
}

// ------------------------------------------------------------------------------------
// INVITE with Replaces, find_dialog.

fn invite_with(call_id: &str, branch: &str, extra: &str) -> String {
    format!(
        "INVITE sip:4008@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {CALLER};branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:1000@127.0.0.1:5070>;tag=from-{branch}\r\n\
To: <sip:4008@127.0.0.1:5060>\r\n\
Call-ID: {call_id}\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1000@127.0.0.1:5070>\r\n\
{extra}Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn an_invite_with_replaces_and_require_replaces_carries_the_dialog_to_the_switch() {
    let mut h = Harness::new();
    h.input(
        Duration::ZERO,
        CALLER,
        &invite_with(
            "new-1",
            "z9hG4bK-rep1",
            "Require: replaces\r\nReplaces: 425928@bobster.example.org;to-tag=7743;from-tag=6472\r\n",
        ),
    );
    let sent = h.transmits();
    assert_eq!(sent.iter().map(status_of).collect::<Vec<_>>(), vec![100]);
    match h.events().as_slice() {
        [CallEvent::Incoming { replaces, .. }] => assert_eq!(
            replaces,
            &Some(dialog(
                "425928@bobster.example.org",
                Some("7743"),
                Some("6472")
            ))
        ),
        other => panic!("{other:?}"),
    }
    h.input(
        ms(1),
        CALLER,
        &invite_with(
            "new-2",
            "z9hG4bK-rep2",
            "Replaces: abc ; from-tag=1;early-only\r\n",
        ),
    );
    match h.events().as_slice() {
        [CallEvent::Incoming { replaces, .. }] => assert_eq!(
            replaces,
            &Some(DialogRef {
                call_id: "abc".into(),
                to_tag: None,
                from_tag: Some("1".into()),
                early_only: true,
            })
        ),
        other => panic!("{other:?}"),
    }
    h.input(ms(2), CALLER, &invite_with("new-3", "z9hG4bK-rep3", ""));
    assert!(matches!(
        h.events().as_slice(),
        [CallEvent::Incoming { replaces: None, .. }]
    ));
}

#[test]
fn an_invite_with_a_malformed_repeated_or_huge_replaces_gets_400_and_no_call() {
    let mut h = Harness::new();
    let huge = format!("Replaces: {};to-tag=a;from-tag=b\r\n", "x".repeat(5000));
    let cases = [
        (
            "Replaces: ;to-tag=a;from-tag=b\r\n",
            "SIP/2.0 400 Bad Replaces Header",
        ),
        (
            "Replaces: c1;to-tag=a;to-tag=b\r\n",
            "SIP/2.0 400 Bad Replaces Header",
        ),
        (
            "Replaces: c1;to-tag=a b\r\n",
            "SIP/2.0 400 Bad Replaces Header",
        ),
        (huge.as_str(), "SIP/2.0 400 Bad Replaces Header"),
        (
            "Replaces: c1;to-tag=a;from-tag=b\r\nReplaces: c2;to-tag=a;from-tag=b\r\n",
            "SIP/2.0 400 More Than One Replaces Header",
        ),
    ];
    for (i, (extra, expected)) in cases.iter().enumerate() {
        h.input(
            ms(i as u64),
            CALLER,
            &invite_with(&format!("bad-{i}"), &format!("z9hG4bK-bad{i}"), extra),
        );
        assert_eq!(first_line(&h.one()), *expected);
    }
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.active_calls(), 0);
}

#[test]
fn find_dialog_matches_both_tags_in_either_order_or_a_lone_call_id() {
    let mut h = Harness::new();
    let (call, tag) = h.confirmed();
    let ours_first = dialog(CALL_ID, Some(&tag), Some("caller-tag"));
    let theirs_first = dialog(CALL_ID, Some("caller-tag"), Some(&tag));
    assert_eq!(h.endpoint.find_dialog(&ours_first), Some(call));
    assert_eq!(h.endpoint.find_dialog(&theirs_first), Some(call));
    assert_eq!(
        h.endpoint.find_dialog(&dialog(CALL_ID, None, None)),
        Some(call)
    );
    assert_eq!(
        h.endpoint.find_dialog(&dialog(CALL_ID, Some(&tag), None)),
        Some(call)
    );
    assert_eq!(
        h.endpoint
            .find_dialog(&dialog(CALL_ID, None, Some("someone-else"))),
        None
    );
    assert_eq!(
        h.endpoint
            .find_dialog(&dialog(CALL_ID, Some(&tag), Some("wrong"))),
        None
    );
    assert_eq!(
        h.endpoint
            .find_dialog(&dialog("other-call", Some(&tag), Some("caller-tag"))),
        None
    );
    // early-only: this dialog is confirmed.
    let mut early = ours_first.clone();
    early.early_only = true;
    assert_eq!(h.endpoint.find_dialog(&early), None);
    // A dialog being torn down is not matched.
    h.endpoint.hangup(h.at(ms(100)), call);
    assert_eq!(h.endpoint.find_dialog(&ours_first), None);
}

#[test]
fn find_dialog_without_tags_refuses_an_ambiguous_call_id_and_early_only_matches_early() {
    let mut h = Harness::new();
    // Two offered calls with one Call-ID (different From tags: two dialogs).
    h.input(
        Duration::ZERO,
        CALLER,
        &invite_with("shared", "z9hG4bK-a", ""),
    );
    h.input(
        ms(1),
        CALLER,
        &invite_with("shared", "z9hG4bK-b", "").replace("CSeq: 1", "CSeq: 2"),
    );
    let calls: Vec<CallId> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            CallEvent::Incoming { call, .. } => Some(call),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 2);
    h.transmits();
    assert_eq!(h.endpoint.find_dialog(&dialog("shared", None, None)), None);
    // With its tags, each is found; early-only fits an offered (unanswered) call.
    h.endpoint.ringing(h.at(ms(2)), calls[0]);
    let ringing = text_of(&h.transmits()[0]);
    let ours = tag_of(&header(&ringing, "To").unwrap());
    let mut early = dialog("shared", Some(&ours), Some("from-z9hG4bK-a"));
    early.early_only = true;
    assert_eq!(h.endpoint.find_dialog(&early), Some(calls[0]));
}
