//! RFC 4475 (SIP torture test messages) against the running switch: each message of
//! section 3.1 is sent as one UDP datagram from a trunk address (loopback is the shipped
//! trunk), and what the switch answers on the wire is checked against the RFC. The 13 valid
//! messages must parse (a request gets an answer for what it is, never 400; a response is
//! taken silently), the 19 invalid ones get the answer the RFC prefers (400 mostly, 505 for
//! an unknown SIP version, 501 for an unknown method with a mismatched CSeq) or are dropped
//! where the RFC says so. A few application-layer messages of section 3.3 check 416, 415, 420
//! and the duplicate Content-Length refusal. The messages are in tests/torture/ (see its
//! README for where their bytes come from).
//!
//! None of the messages carries `rport`, so (RFC 3261 18.2.2) the switch answers to the
//! source address at the Via's sent-by port, 5060 (5050 for `quotbal`). The test therefore
//! listens on port 5060 of an address of its own in 127/8, which no other test uses.

mod common;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;

/// What the RFC wants done with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// A valid request: any answer but a refusal of its syntax.
    Accepted,
    /// A valid response to nothing we sent: parsed, then ignored.
    Ignored,
    /// This final status.
    Status(u16),
    /// No answer at all.
    Dropped,
}

/// RFC 4475 3.1.1: the valid messages.
const VALID: [(&str, Expect); 13] = [
    ("wsinv", Expect::Accepted),
    ("intmeth", Expect::Accepted),
    ("esc01", Expect::Accepted),
    ("escnull", Expect::Accepted),
    ("esc02", Expect::Accepted),
    ("lwsdisp", Expect::Accepted),
    ("longreq", Expect::Accepted),
    ("dblreq", Expect::Accepted),
    ("semiuri", Expect::Accepted),
    ("transports", Expect::Accepted),
    ("mpart01", Expect::Accepted),
    ("unreason", Expect::Ignored),
    ("noreason", Expect::Ignored),
];

/// RFC 4475 3.1.2: the invalid messages and the answer each section prefers.
const INVALID: [(&str, Expect); 19] = [
    ("badinv01", Expect::Status(400)),
    ("clerr", Expect::Status(400)),
    ("ncl", Expect::Status(400)),
    ("scalar02", Expect::Status(400)),
    ("scalarlg", Expect::Dropped),
    ("quotbal", Expect::Status(400)),
    ("ltgtruri", Expect::Status(400)),
    ("lwsruri", Expect::Status(400)),
    ("lwsstart", Expect::Status(400)),
    ("trws", Expect::Status(400)),
    ("escruri", Expect::Status(400)),
    ("baddate", Expect::Status(400)),
    ("regbadct", Expect::Status(400)),
    ("badaspec", Expect::Status(400)),
    ("baddn", Expect::Status(400)),
    ("badvers", Expect::Status(505)),
    ("mismatch01", Expect::Status(400)),
    ("mismatch02", Expect::Status(501)),
    ("bigcode", Expect::Dropped),
];

/// RFC 4475 3.3: application-layer messages with an answer this switch must give.
/// (`novelsc` shares `unkscm`'s Via branch and sent-by, so it is the same transaction to
/// the switch: it goes to a switch of its own.)
const APPLICATION: [(&str, Expect); 5] = [
    ("unkscm", Expect::Status(416)),
    ("bext01", Expect::Status(420)),
    ("invut", Expect::Status(415)),
    ("mcl01", Expect::Status(400)),
    ("insuf", Expect::Status(400)),
];

fn message(name: &str) -> Vec<u8> {
    let path: PathBuf = repo_root()
        .join("tests/torture")
        .join(format!("{name}.dat"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The Call-ID the message carries (long or compact form), to pick out its answers.
fn call_id_of(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    head.split("\r\n")
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            let name = name.trim();
            (name.eq_ignore_ascii_case("call-id") || name.eq_ignore_ascii_case("i"))
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default()
}

/// The peer: an address of its own in 127/8 (a trunk address), listening where the switch
/// sends answers to requests without rport.
struct TrunkPeer {
    sockets: Vec<UdpSocket>,
}

impl TrunkPeer {
    fn bind() -> TrunkPeer {
        // An address no other test binds: 127.(pid-derived).(x).(y).
        let pid = std::process::id();
        for attempt in 0..50u32 {
            let seed = pid.wrapping_mul(2_654_435_761).wrapping_add(attempt * 7919);
            let ip = Ipv4Addr::new(127, 100 + (seed % 100) as u8, (seed >> 8) as u8, {
                let last = (seed >> 16) as u8;
                last.clamp(2, 254)
            });
            let Ok(main) = UdpSocket::bind((ip, 5060)) else {
                continue;
            };
            let Ok(quotbal) = UdpSocket::bind((ip, 5050)) else {
                continue;
            };
            for s in [&main, &quotbal] {
                s.set_read_timeout(Some(Duration::from_millis(50)))
                    .expect("timeout");
            }
            return TrunkPeer {
                sockets: vec![main, quotbal],
            };
        }
        panic!("no free 127/8 address with ports 5060 and 5050");
    }

    fn send(&self, switch: &Switch, bytes: &[u8]) {
        self.sockets[0].send_to(bytes, switch.sip).expect("send");
    }

    /// Every datagram received within `window` whose Call-ID is `call_id`, as text.
    fn answers(&self, call_id: &str, window: Duration, stop_at_final: bool) -> Vec<String> {
        let deadline = Instant::now() + window;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while Instant::now() < deadline {
            for socket in &self.sockets {
                if let Ok(n) = socket.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if call_id_of(&buf[..n]) == call_id {
                        got.push(text);
                    }
                }
            }
            if stop_at_final && got.iter().any(|a| status_of(a).is_some_and(|s| s >= 200)) {
                break;
            }
        }
        got
    }
}

fn status_of(answer: &str) -> Option<u16> {
    let rest = answer.strip_prefix("SIP/2.0 ")?;
    rest.get(..3)?.parse().ok()
}

/// What the switch did with one message: the statuses it sent back, in order.
fn exchange(switch: &Switch, peer: &TrunkPeer, name: &str, expect: Expect) -> Vec<String> {
    let bytes = message(name);
    let call_id = call_id_of(&bytes);
    peer.send(switch, &bytes);
    let window = match expect {
        Expect::Dropped | Expect::Ignored => Duration::from_millis(600),
        _ => Duration::from_secs(3),
    };
    peer.answers(
        &call_id,
        window,
        !matches!(expect, Expect::Dropped | Expect::Ignored),
    )
}

fn verdict(expect: Expect, answers: &[String]) -> bool {
    let finals: Vec<u16> = answers.iter().filter_map(|a| status_of(a)).collect();
    match expect {
        Expect::Accepted => {
            !finals.is_empty() && !finals.iter().any(|s| matches!(s, 400 | 505 | 416 | 415))
        }
        Expect::Ignored | Expect::Dropped => answers.is_empty(),
        Expect::Status(status) => finals.iter().find(|s| **s >= 200) == Some(&status),
    }
}

fn run(switch: &Switch, peer: &TrunkPeer, cases: &[(&str, Expect)]) -> BTreeMap<String, String> {
    let mut failures = BTreeMap::new();
    for (name, expect) in cases {
        let answers = exchange(switch, peer, name, *expect);
        if !verdict(*expect, &answers) {
            let firsts: Vec<String> = answers
                .iter()
                .map(|a| a.lines().next().unwrap_or("").to_owned())
                .collect();
            failures.insert(
                name.to_string(),
                format!("expected {expect:?}, got {firsts:?}"),
            );
        }
    }
    failures
}

#[test]
fn rfc4475_valid_messages_are_accepted_and_invalid_ones_get_the_preferred_answer() {
    let switch = Switch::start(PortBlock::reserve());
    let peer = TrunkPeer::bind();
    let valid_failures = run(&switch, &peer, &VALID);
    let invalid_failures = run(&switch, &peer, &INVALID);
    eprintln!(
        "RFC 4475: valid accepted {}/13, invalid answered as preferred {}/19",
        13 - valid_failures.len(),
        19 - invalid_failures.len()
    );
    assert!(
        valid_failures.is_empty() && invalid_failures.is_empty(),
        "valid: {valid_failures:#?}\ninvalid: {invalid_failures:#?}\n{}",
        switch.log_tail()
    );
}

#[test]
fn rfc4475_valid_messages_parse() {
    for (name, _) in VALID {
        let bytes = message(name);
        if let Err(rejected) = hotline::sip::message::parse(&bytes) {
            panic!("{name} refused: {}", rejected.reason);
        }
    }
}

#[test]
fn rfc4475_application_layer_answers_416_415_420_and_400() {
    let switch = Switch::start(PortBlock::reserve());
    let peer = TrunkPeer::bind();
    let failures = run(&switch, &peer, &APPLICATION);
    assert!(failures.is_empty(), "{failures:#?}\n{}", switch.log_tail());
    let other = Switch::start(PortBlock::reserve());
    let failures = run(&other, &peer, &[("novelsc", Expect::Status(416))]);
    assert!(failures.is_empty(), "{failures:#?}\n{}", other.log_tail());

    // The details the statuses promise: which extensions are unsupported, what we accept.
    let answers = exchange(&switch, &peer, "bext01", Expect::Status(420));
    let answer = answers.last().expect("an answer to bext01");
    assert!(
        answer.contains("\r\nUnsupported: nothingSupportsThis, nothingSupportsThisEither\r\n"),
        "420 names the Require tags it refuses (not the Proxy-Require ones, we are no proxy): {answer}"
    );
    let answers = exchange(&switch, &peer, "invut", Expect::Status(415));
    let answer = answers.last().expect("an answer to invut");
    assert!(
        answer
            .contains("\r\nAccept: application/sdp, application/dtmf-relay, application/dtmf\r\n"),
        "415 says what bodies we take: {answer}"
    );
}

#[test]
fn tel_request_uri_gets_416() {
    let switch = Switch::start(PortBlock::reserve());
    let peer = TrunkPeer::bind();
    let text = "INVITE tel:+4930123456 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKtel416\r\n\
        Max-Forwards: 70\r\n\
        From: <sip:caller@example.net>;tag=tel1\r\n\
        To: <tel:+4930123456>\r\n\
        Call-ID: tel416.1@example.net\r\n\
        CSeq: 1 INVITE\r\n\
        Content-Length: 0\r\n\r\n";
    peer.send(&switch, text.as_bytes());
    let answers = peer.answers("tel416.1@example.net", Duration::from_secs(3), true);
    let finals: Vec<u16> = answers.iter().filter_map(|a| status_of(a)).collect();
    assert_eq!(
        finals,
        vec![416],
        "a tel: Request-URI gets only 416: {answers:?}"
    );
}

#[test]
fn duplicate_content_length_gets_400() {
    let switch = Switch::start(PortBlock::reserve());
    let peer = TrunkPeer::bind();
    // A request hidden in the body: Content-Length 0 first, then one covering the body.
    let text = "OPTIONS sip:4008@127.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKdupcl\r\n\
        Max-Forwards: 70\r\n\
        From: <sip:caller@example.net>;tag=dup1\r\n\
        To: <sip:4008@127.0.0.1>\r\n\
        Call-ID: dupcl.1@example.net\r\n\
        CSeq: 1 OPTIONS\r\n\
        Content-Length: 0\r\n\
        Content-Length: 4\r\n\r\nabcd";
    peer.send(&switch, text.as_bytes());
    let answers = peer.answers("dupcl.1@example.net", Duration::from_secs(3), true);
    let finals: Vec<u16> = answers.iter().filter_map(|a| status_of(a)).collect();
    assert_eq!(finals, vec![400], "{answers:?}");
    let _: SocketAddr = switch.sip;
}

#[test]
fn a_hotline_number_with_phone_context_is_rung_not_refused() {
    let switch = Switch::start(PortBlock::reserve());
    let peer = TrunkPeer::bind();
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 6000 RTP/AVP 0\r\n";
    let text = format!(
        "INVITE sip:4008;phone-context=pbx.example.com@{sip};user=phone SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKphonectx\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:caller@example.net>;tag=pc1\r\n\
         To: <sip:4008;phone-context=pbx.example.com@{sip};user=phone>\r\n\
         Call-ID: phonectx.1@example.net\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:caller@192.0.2.7>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len(),
        sip = switch.sip
    );
    peer.send(&switch, text.as_bytes());
    let answers = peer.answers("phonectx.1@example.net", Duration::from_secs(3), false);
    let statuses: Vec<u16> = answers.iter().filter_map(|a| status_of(a)).collect();
    assert!(
        statuses.starts_with(&[100, 180]),
        "the hotline 4008 rings (shipped: 180 at once): {statuses:?}\n{}",
        switch.log_tail()
    );
}
