//! Desk phones over TCP get their calls: the switch reaches a phone on the connection it
//! registered on (RFC 5626 flow), opens a connection of its own when the phone's contact asks
//! for TCP and none is open, and answers CRLF keep-alives. Checked at the peers: baresip
//! registered over TCP answers a queued call from a SIPp caller on UDP (audio both ways), a
//! test socket listening for the switch's connection gets the INVITE, and a raw connection
//! gets its pongs.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The caller's number (From user part); not in any tier.
const CALLER: &str = "13900000001";
/// The tone the caller speaks.
const CALLER_HZ: f64 = 700.0;
/// The tone baresip's microphone plays.
const PHONE_HZ: f64 = 600.0;

/// A trunk caller on UDP who presses 1 (sales) in the main menu, speaks a PCMA tone, and
/// hangs up `hangs_up_after` later.
fn queued_caller(switch: &Switch, hangs_up_after: Duration, tag: &str) -> Sipp {
    let ports = switch.ports;
    Sipp::new("queue_caller.xml", switch)
        .service("4008")
        .call_id_tag(tag)
        .key("caller", CALLER)
        .key("codec_pt", 8)
        .key("codec_name", "PCMA")
        .key("rtp_sink", ports.rtp_sink())
        .file("caller_audio.pcap", tone_pcap(8, CALLER_HZ, 90))
        .set("first_digit_ms", first_digit_ms(switch))
        .set("who_hangs_up", "caller")
        .hold(hangs_up_after)
        .timeout(Duration::from_secs(90))
}

fn event_where(call: &Value, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
    find_event(call, name, pred)
        .unwrap_or_else(|| panic!("no matching {name} event in the record: {call:#}"))
}

#[test]
fn baresip_registered_over_tcp_answers_a_queued_call_from_a_udp_caller() {
    let ports = PortBlock::reserve();
    let entry = PhoneEntry::desk_phone("1001", "sample-1001");
    let switch = Switch::start_with(ports, ConfigCopy::for_agents(&[entry]));
    let greeting = Duration::from_millis(first_digit_ms(&switch) as u64);
    let run_for = greeting + Duration::from_secs(25);
    let account = format!(
        "<sip:1001@127.0.0.1:{};transport=tcp>;auth_pass=sample-1001;answermode=auto;\
         audio_codecs=pcma;regint=3600",
        switch.sip.port()
    );
    let mut phone = Baresip::start(ports, &account, PHONE_HZ, run_for);
    assert!(
        phone.wait_for("200 OK", Duration::from_secs(10)),
        "baresip did not register with the switch over TCP:\n{}\n--- switch log ---\n{}",
        phone.console(),
        switch.log_tail()
    );

    let caller_sink = RtpSink::listen(ports.rtp_sink());
    let caller = queued_caller(&switch, Duration::from_secs(8), "tcp-agent");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let caller_heard = caller_sink.finish();
    phone.finish(run_for + Duration::from_secs(10));
    assert_sipp_ok("the caller", &caller_run, &switch);
    let console = phone.console();
    assert!(
        console.contains("1001@127.0.0.1: {0/TCP/v4} 200 OK"),
        "baresip did not register over TCP:\n{console}"
    );
    assert!(
        console.contains("Call established"),
        "baresip did not take the call:\n{console}\n--- switch log ---\n{}",
        switch.log_tail()
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let names = event_names(&call);
    assert_eq!(
        names.iter().filter(|n| *n == "offered").count(),
        1,
        "one offer, answered at once: {call:#}"
    );
    event_where(&call, "offered", |e| e["extension"] == "1001");
    assert!(
        find_event(&call, "offer_ended", |_| true).is_none(),
        "the offer to the TCP phone ended unanswered: {call:#}"
    );
    event_where(&call, "agent_answered", |e| e["agent"] == "a1001");
    event_where(&call, "bridged", |e| e["agent"] == "a1001");
    assert_eq!(call["agent"], "a1001", "summary: {call:#}");

    // The caller heard baresip's microphone through the bridge.
    let talk_ms = call["talk_ms"].as_u64().unwrap_or(0);
    let frames = caller_heard.tone_frames(PHONE_HZ);
    assert!(
        talk_ms >= 5000 && frames as f64 >= talk_ms as f64 / 20.0 - 10.0,
        "the caller heard {frames} frames of baresip's {PHONE_HZ} Hz tone in {talk_ms} ms of talk"
    );
}

// ---------------------------------------------------------------------------------------------
// A phone that asks for TCP but has no connection open

/// Reads one SIP message (header section and Content-Length body) from `stream`.
fn read_message(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.trim()
                        .eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return Some(String::from_utf8_lossy(&got).into_owned());
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        stream.set_read_timeout(Some(left)).expect("read timeout");
        match stream.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            _ => return None,
        }
    }
}

fn header<'a>(message: &'a str, name: &str) -> Vec<&'a str> {
    message
        .lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

#[test]
fn a_phone_whose_contact_asks_for_tcp_gets_its_invite_on_a_connection_the_switch_opens() {
    let ports = PortBlock::reserve();
    let entry = PhoneEntry::desk_phone("1001", "secret-1001");
    let switch = Switch::start_with(ports, ConfigCopy::for_agents(&[entry]));
    // The phone listens for TCP only; it registers over UDP, naming that TCP port.
    let listener = TcpListener::bind("127.0.0.1:0").expect("phone's TCP listener");
    let phone_port = listener.local_addr().expect("addr").port();
    let register = Sipp::towards("phone_register.xml", switch.sip, ports)
        .service("1001")
        .media_port(ports.base + 76)
        .key("user", "1001")
        .key("contact_port", format!("{phone_port};transport=tcp"))
        .key("expires", 3600)
        .credentials("1001", "secret-1001")
        .call_id_tag("register-tcp-contact")
        .timeout(Duration::from_secs(10))
        .run();
    assert_sipp_ok("the REGISTER over UDP", &register, &switch);

    let caller = queued_caller(&switch, Duration::from_secs(2), "tcp-contact").spawn();
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + Duration::from_secs(40);
    let (mut connection, from) = loop {
        match listener.accept() {
            Ok(accepted) => break accepted,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!(
                "the switch never connected to the phone's TCP port: {e}\n{}",
                switch.log_tail()
            ),
        }
    };
    connection.set_nonblocking(false).expect("blocking");
    assert_eq!(from.ip(), switch.sip.ip());
    let invite = read_message(&mut connection, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no INVITE on the connection\n{}", switch.log_tail()));
    assert!(invite.starts_with("INVITE sip:1001@127.0.0.1:"), "{invite}");
    let via = header(&invite, "Via");
    assert_eq!(via.len(), 1, "{invite}");
    assert!(via[0].starts_with("SIP/2.0/TCP "), "{invite}");
    // The phone is busy: the switch ACKs on the same connection.
    let busy = format!(
        "SIP/2.0 486 Busy Here\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=busy\r\nCall-ID: {}\r\n\
         CSeq: {}\r\nContent-Length: 0\r\n\r\n",
        via[0],
        header(&invite, "From")[0],
        header(&invite, "To")[0],
        header(&invite, "Call-ID")[0],
        header(&invite, "CSeq")[0],
    );
    connection.write_all(busy.as_bytes()).expect("send 486");
    let ack = read_message(&mut connection, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no ACK for the 486\n{}", switch.log_tail()));
    assert!(ack.starts_with("ACK sip:1001@127.0.0.1:"), "{ack}");
    assert_eq!(header(&ack, "Call-ID"), header(&invite, "Call-ID"));
    let caller_run = caller.join().expect("caller thread");
    assert_sipp_ok("the caller", &caller_run, &switch);
}

/// The value of `param` in a WWW-Authenticate header (`param="value"` or `param=value`).
fn auth_param(header: &str, param: &str) -> Option<String> {
    let at = header.find(&format!("{param}="))? + param.len() + 1;
    let rest = &header[at..];
    Some(match rest.strip_prefix('"') {
        Some(quoted) => quoted[..quoted.find('"')?].to_owned(),
        None => rest
            .split(|c: char| c == ',' || c.is_whitespace())
            .next()?
            .to_owned(),
    })
}

fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A desk phone written by hand: it REGISTERs over one TCP connection (answering the digest
/// challenge) with a Contact whose port nothing listens on, and keeps the connection.
fn register_over_tcp(switch: &Switch, user: &str, password: &str, contact_port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(switch.sip).expect("connect");
    let local = stream.local_addr().expect("addr");
    let uri = format!("sip:{}", switch.sip);
    let register = |cseq: u32, authorization: &str| {
        format!(
            "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK-reg-{cseq}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{user}@{sip}>;tag=reg\r\nTo: <sip:{user}@{sip}>\r\n\
             Call-ID: tcp-flow-register\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{user}@127.0.0.1:{contact_port};transport=tcp>\r\nExpires: 3600\r\n\
             {authorization}Content-Length: 0\r\n\r\n",
            sip = switch.sip
        )
    };
    stream
        .write_all(register(1, "").as_bytes())
        .expect("send REGISTER");
    let challenge = read_message(&mut stream, Duration::from_secs(5)).expect("a challenge");
    assert!(challenge.starts_with("SIP/2.0 401 "), "{challenge}");
    let www = header(&challenge, "WWW-Authenticate")[0].to_owned();
    let realm = auth_param(&www, "realm").expect("realm");
    let nonce = auth_param(&www, "nonce").expect("nonce");
    let (nc, cnonce) = ("00000001", "0a4f113b");
    let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("REGISTER:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    let opaque = auth_param(&www, "opaque")
        .map(|o| format!(", opaque=\"{o}\""))
        .unwrap_or_default();
    let authorization = format!(
        "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
         uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc={nc}, \
         cnonce=\"{cnonce}\"{opaque}\r\n"
    );
    stream
        .write_all(register(2, &authorization).as_bytes())
        .expect("send REGISTER with credentials");
    let ok = read_message(&mut stream, Duration::from_secs(5)).expect("an answer");
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    stream
}

#[test]
fn a_phone_registered_over_tcp_gets_its_invite_on_that_connection_not_at_its_contact_port() {
    let ports = PortBlock::reserve();
    let entry = PhoneEntry::desk_phone("1001", "secret-1001");
    let switch = Switch::start_with(ports, ConfigCopy::for_agents(&[entry]));
    // The Contact names a port on which the phone does not listen (behind NAT, say): a
    // switch that connects there instead of using the flow gets nowhere.
    let closed_port = {
        let probe = TcpListener::bind("127.0.0.1:0").expect("probe");
        probe.local_addr().expect("addr").port()
    };
    let mut flow = register_over_tcp(&switch, "1001", "secret-1001", closed_port);

    let caller = queued_caller(&switch, Duration::from_secs(2), "tcp-flow").spawn();
    let invite = read_message(&mut flow, Duration::from_secs(40)).unwrap_or_else(|| {
        panic!(
            "no INVITE on the registration's connection\n{}",
            switch.log_tail()
        )
    });
    assert!(
        invite.starts_with(&format!(
            "INVITE sip:1001@127.0.0.1:{closed_port};transport=tcp SIP/2.0\r\n"
        )),
        "{invite}"
    );
    assert!(
        header(&invite, "Via")[0].starts_with("SIP/2.0/TCP "),
        "{invite}"
    );
    let caller_run = caller.join().expect("caller thread");
    assert_sipp_ok("the caller", &caller_run, &switch);
}

// ---------------------------------------------------------------------------------------------
// Keep-alives

#[test]
fn a_double_crlf_gets_one_crlf_back_even_split_across_packets() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let mut stream = TcpStream::connect(switch.sip).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let pong = |stream: &mut TcpStream| -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        stream
            .set_read_timeout(Some(Duration::from_millis(700)))
            .expect("timeout");
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got
    };
    stream.write_all(b"\r\n\r\n").expect("ping");
    assert_eq!(pong(&mut stream), b"\r\n", "the answer to one ping");
    stream.write_all(b"\r\n").expect("half a ping");
    std::thread::sleep(Duration::from_millis(200));
    stream.write_all(b"\r\n").expect("the other half");
    assert_eq!(
        pong(&mut stream),
        b"\r\n",
        "the answer to a ping in two packets"
    );

    // The connection still carries SIP.
    let local = stream.local_addr().expect("addr");
    let options = format!(
        "OPTIONS sip:4008@{sip} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK-ka\r\n\
         Max-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=ka\r\nTo: <sip:4008@{sip}>\r\n\
         Call-ID: keep-alive-then-options\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        sip = switch.sip
    );
    stream.write_all(options.as_bytes()).expect("send");
    let answer = read_message(&mut stream, Duration::from_secs(5)).expect("an answer");
    assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{answer:?}");
}

// ---------------------------------------------------------------------------------------------
// A stranger who fills every TCP place

/// Whether `stream` is closed by the far end within `limit` (reads and discards until then).
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 256];
    while Instant::now() < deadline {
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn a_registered_phones_connection_outlives_a_stranger_who_fills_every_tcp_place() {
    let ports = PortBlock::reserve();
    let entry = PhoneEntry::desk_phone("1001", "secret-1001");
    let config = ConfigCopy::for_agents(&[entry]);
    // Loopback is no trusted network here: the phone and the stranger are just addresses.
    config.trust_only("127.0.0.9");
    let switch = Switch::start_with_options(
        ports,
        Some(config),
        ServeOptions {
            extra_args: vec!["--tcp-max-connections".into(), "4".into()],
            ..ServeOptions::default()
        },
    );
    let mut phone = register_over_tcp(&switch, "1001", "secret-1001", 5999);
    // The stranger opens eight idle connections: each newcomer takes the place of the
    // oldest one nobody vouched for, never the phone's.
    let mut stranger: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(switch.sip).expect("connect"))
        .collect();
    assert!(
        closed_within(&mut stranger[0], Duration::from_secs(5)),
        "the stranger's first connection was never closed to make room\n{}",
        switch.log_tail()
    );
    assert!(!closed_within(&mut stranger[7], Duration::from_millis(300)));
    // The phone's connection still carries its keep-alive and gets the pong.
    phone.write_all(b"\r\n\r\n").expect("keep-alive");
    phone
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("read timeout");
    let mut pong = [0u8; 2];
    let read = phone.read(&mut pong);
    assert!(
        matches!(read, Ok(2)) && pong == *b"\r\n",
        "the registered phone's connection was closed for the stranger: {read:?}\n{}",
        switch.log_tail()
    );
}
