//! The switch's log as fail2ban and an admin's terminal read it, attacked from the network:
//! a stranger puts CR, LF and ESC into a From user, a Call-ID, a digest user name and plain
//! junk to write a fake `authentication failed ip=6.6.6.6` line (so fail2ban would ban a
//! victim) or to drive the terminal. Every line of the log must stay one event that starts
//! with the switch's own timestamp and level, fail2ban's pattern (SECURITY.md) must find only
//! the real source address, `calls show` must show header text escaped, and a flood of junk
//! must write a bounded number of lines.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use regex::Regex;

/// The forged event an attacker wants on a line of its own; its timestamp is in the past so
/// no real line can start with it.
const FORGED: &str = "2026-01-01T00:00:00.000000Z  WARN hotline::sip::endpoint::registration: authentication failed ip=6.6.6.6 source=6.6.6.6:5060 user=1001 reason=wrong";

/// SECURITY.md's fail2ban `failregex`, applied as fail2ban applies it: to the line after the
/// date, with `<HOST>` standing for an address.
const FAILREGEX: &str = r"^\s*WARN\s+hotline(?:::\w+)*: authentication failed ip=<HOST>(?:\s|$)";

/// SECURITY.md's `datepattern`: the RFC 3339 UTC timestamp that starts every line.
const DATE: &str = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z";

/// The whole log the switch wrote to stderr (the harness keeps it in the data folder).
fn whole_log(switch: &Switch) -> String {
    std::fs::read_to_string(switch.data.path().join("switch.log")).unwrap_or_default()
}

/// Waits (bounded) until the log has a line containing `needle`.
fn wait_for_log(switch: &Switch, needle: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let log = whole_log(switch);
        if log.contains(needle) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needle:?} within {limit:?}:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn peer() -> (UdpSocket, u16) {
    peer_at("127.0.0.1")
}

/// A raw peer on one of the loopback addresses (all of 127.0.0.0/8 is this machine).
fn peer_at(ip: &str) -> (UdpSocket, u16) {
    let socket = UdpSocket::bind((ip, 0)).expect("bind raw peer");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("read timeout");
    let port = socket.local_addr().expect("addr").port();
    (socket, port)
}

/// The first response carrying `branch` that is final (>= 200), if one comes in 3 s.
fn final_response(socket: &UdpSocket, branch: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline {
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.contains(branch) && !text.starts_with("SIP/2.0 1") {
            return Some(text);
        }
    }
    None
}

fn register(
    switch: &Switch,
    port: u16,
    branch: &str,
    from_user: &str,
    call_id: &str,
    cseq: u32,
    authorization: Option<&str>,
) -> String {
    format!(
        "REGISTER sip:{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from_user}@{sip}>;tag=attacker-{cseq}\r\n\
         To: <sip:1001@{sip}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:1001@127.0.0.1:{port}>\r\n\
         {auth}Content-Length: 0\r\n\r\n",
        sip = switch.sip,
        auth = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default()
    )
}

/// A digest answer for user 1001 with the wrong response: the real failure fail2ban must see.
fn wrong_answer(challenge: &str, sip: SocketAddr, username: &str) -> String {
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no nonce in the challenge:\n{challenge}"));
    format!(
        "Digest username=\"{username}\", realm=\"hotline\", nonce=\"{nonce}\", \
         uri=\"sip:{sip}\", response=\"0123456789abcdef0123456789abcdef\", \
         algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\""
    )
}

#[test]
fn forged_lines_in_headers_and_junk_stay_escaped_inside_one_event_and_fail2ban_sees_only_the_real_address(
) {
    let switch = Switch::start(PortBlock::reserve());
    let (socket, port) = peer();
    let injected = format!("\r\n{FORGED}\x1b[2J\x1b]0;owned\x07");
    let bare_lf = format!("\n{FORGED}\x1b[2J");

    // 1. Junk that the parser quotes in its complaint.
    let junk = format!("\x00\x01junk{injected}");
    socket.send_to(junk.as_bytes(), switch.sip).expect("send");
    // 2. A REGISTER whose Call-ID carries the forged line after a bare LF, and the real
    //    failure: a wrong digest answer for phone 1001 from 127.0.0.1.
    let first = register(&switch, port, "z9hG4bK-inj-1", "1001", "inj-1", 1, None);
    socket.send_to(first.as_bytes(), switch.sip).expect("send");
    let challenge = final_response(&socket, "z9hG4bK-inj-1")
        .unwrap_or_else(|| panic!("no challenge to REGISTER\n{}", switch.log_tail()));
    let answer = wrong_answer(&challenge, switch.sip, "1001");
    let call_id = format!("inj-2{bare_lf}");
    let second = register(
        &switch,
        port,
        "z9hG4bK-inj-2",
        "1001",
        &call_id,
        2,
        Some(&answer),
    );
    socket.send_to(second.as_bytes(), switch.sip).expect("send");
    final_response(&socket, "z9hG4bK-inj-2")
        .unwrap_or_else(|| panic!("no answer to the wrong digest\n{}", switch.log_tail()));
    // 3. A digest user name and a From user carrying the forged line.
    let answer = wrong_answer(&challenge, switch.sip, &format!("1001{bare_lf}"));
    let from_user = format!("1001{bare_lf}");
    let third = register(
        &switch,
        port,
        "z9hG4bK-inj-3",
        &from_user,
        "inj-3",
        3,
        Some(&answer),
    );
    socket.send_to(third.as_bytes(), switch.sip).expect("send");
    // 4. A call from the trunk address whose From and Call-ID carry escapes and the line.
    let invite = format!(
        "INVITE sip:4008@{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-inj-4\r\n\
         Max-Forwards: 70\r\n\
         From: \"Evil\x1b[2J\" <sip:ev\x1b[2Jil@127.0.0.1>;tag=inj-4\r\n\
         To: <sip:4008@{sip}>\r\n\
         Call-ID: inj-4{bare_lf}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:caller@127.0.0.1:{port}>\r\n\
         Content-Length: 0\r\n\r\n",
        sip = switch.sip
    );
    socket.send_to(invite.as_bytes(), switch.sip).expect("send");
    // The switch handles datagrams in order: once the call is logged, all of them are.
    let log = wait_for_log(&switch, "incoming call", Duration::from_secs(10));

    let date = Regex::new(DATE).expect("date pattern");
    let event = Regex::new(&format!(r"{DATE}\s+(?:TRACE|DEBUG|INFO|WARN|ERROR)\s\S")).unwrap();
    let failure = Regex::new(&FAILREGEX.replace("<HOST>", r"(?P<host>\S+)")).unwrap();
    let mut hosts = Vec::new();
    for line in log.lines() {
        assert!(
            !line.starts_with(FORGED),
            "a forged line made it into the log:\n{log}"
        );
        assert!(
            !line.contains(|c: char| c.is_control()),
            "a control character reached the log: {line:?}"
        );
        assert!(
            event.is_match(line),
            "a log line is not one event of the switch's own: {line:?}\n{log}"
        );
        let rest = date.replace(line, "");
        if let Some(found) = failure.captures(&rest) {
            hosts.push(found["host"].to_string());
        }
    }
    assert!(
        !hosts.is_empty(),
        "fail2ban's pattern found no authentication failure:\n{log}"
    );
    assert!(
        hosts.iter().all(|h| h == "127.0.0.1"),
        "fail2ban's pattern found {hosts:?}; only 127.0.0.1 failed:\n{log}"
    );
    // The attack arrived and is there, escaped, inside a line of the switch's own. (The
    // parser ends a header at a bare LF, so the forged line itself now never becomes a
    // field; the ESC in the From user does, and the log writer escapes it.)
    assert!(
        log.lines()
            .any(|l| l.contains("incoming call") && l.contains("sip:ev\\x1b[2Jil@127.0.0.1")),
        "the ESC sequence never reached the log escaped, so nothing was tested:\n{log}"
    );
    assert!(log.contains("\\x1b[2J"), "ESC is written as \\x1b:\n{log}");

    // `calls show` of that call shows the From user's ESC escaped, not raw.
    let data = switch.data.path().to_str().expect("utf-8").to_string();
    // The record is written on the records thread, a moment after the call is logged: ask
    // until it is there (a bounded wait).
    let deadline = Instant::now() + Duration::from_secs(10);
    let out = loop {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"));
        // The bare LF ended the Call-ID header: the parser took "inj-4" and left the rest out.
        cmd.args(["calls", "show", "inj-4", "--data", &data]);
        let (out, killed) = run_bounded(&mut cmd, Duration::from_secs(15));
        assert!(!killed, "{out:?}");
        let not_yet = String::from_utf8_lossy(&out.stderr).contains("no call \"inj-4\"");
        if out.status.success() || !not_yet || Instant::now() >= deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(out.status.success(), "{out:?}");
    let shown = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        !shown.contains(|c: char| c.is_control() && c != '\n'),
        "calls show printed a control character: {shown:?}"
    );
    assert!(
        shown.contains("  from         sip:ev\\x1b[2Jil@127.0.0.1\n"),
        "calls show does not show the From escaped:\n{shown}"
    );
    assert!(
        shown.contains("  sip call-id  inj-4\n"),
        "calls show does not show the Call-ID the parser kept:\n{shown}"
    );
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.args(["calls", "list", "--data", &data]);
    let (out, _) = run_bounded(&mut cmd, Duration::from_secs(15));
    let listed = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        !listed.contains(|c: char| c.is_control() && c != '\n') && listed.lines().count() == 2,
        "calls list: {listed:?}"
    );
}

/// The individual warnings and the summary line of malformed messages.
const DROPPED: &str = "dropped a SIP message that cannot be answered";
const REFUSED: &str = "refused a malformed SIP request";
const SUMMARY: &str = "malformed SIP messages in the last interval, not all logged one by one";

fn field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
}

#[test]
fn a_flood_of_ten_thousand_junk_datagrams_writes_at_most_eleven_lines_per_ten_seconds() {
    const FLOOD: u64 = 10_000;
    let switch = Switch::start(PortBlock::reserve());
    // Four sources (127.0.0.1-4), and an OPTIONS ping every 200 datagrams so that none is lost in a full
    // socket buffer: every datagram sent is one the switch handled.
    let sources: Vec<(UdpSocket, u16)> =
        (1..=4).map(|n| peer_at(&format!("127.0.0.{n}"))).collect();
    let (pinger, ping_port) = peer();
    let started = Instant::now();
    for n in 0..FLOOD {
        let (socket, port) = &sources[(n % 4) as usize];
        let datagram = if n % 2 == 0 {
            format!("\x00junk {n}\r\n")
        } else {
            // A request with every header a 400 needs but a CSeq that does not match.
            format!(
                "INVITE sip:4008@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-junk-{n}\r\n\
                 From: <sip:junk@127.0.0.1>;tag=j{n}\r\nTo: <sip:4008@{sip}>\r\nCall-ID: junk-{n}\r\n\
                 CSeq: 1 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                sip = switch.sip
            )
        };
        socket
            .send_to(datagram.as_bytes(), switch.sip)
            .expect("send");
        if n % 200 == 199 {
            let branch = format!("z9hG4bK-ping-{n}");
            let ping = format!(
                "OPTIONS sip:4008@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{ping_port};branch={branch}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=p{n}\r\nTo: <sip:4008@{sip}>\r\n\
                 Call-ID: ping-{n}\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n",
                sip = switch.sip
            );
            pinger.send_to(ping.as_bytes(), switch.sip).expect("send");
            final_response(&pinger, &branch)
                .unwrap_or_else(|| panic!("no answer to OPTIONS during the flood"));
        }
    }
    let flood_took = started.elapsed();

    // Wait (bounded) until the summaries account for every datagram.
    let deadline = Instant::now() + Duration::from_secs(25);
    let (lines, accounted) = loop {
        let log = whole_log(&switch);
        let lines: Vec<String> = log
            .lines()
            .filter(|l| l.contains(DROPPED) || l.contains(REFUSED) || l.contains(SUMMARY))
            .map(str::to_string)
            .collect();
        let individual = lines.iter().filter(|l| !l.contains(SUMMARY)).count() as u64;
        let summaries: Vec<&String> = lines.iter().filter(|l| l.contains(SUMMARY)).collect();
        let summarised: u64 = summaries.iter().map(|l| field(l, "messages")).sum();
        let logged_in_summaries: u64 = summaries.iter().map(|l| field(l, "logged")).sum();
        let accounted = summarised + individual - logged_in_summaries;
        if accounted >= FLOOD || Instant::now() > deadline {
            break (lines, accounted);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        accounted,
        FLOOD,
        "the log accounts for {accounted} of {FLOOD} junk datagrams:\n{}",
        lines.join("\n")
    );
    // The rule: per 10 s interval, 3 lines per source and 10 in all, plus one summary. The
    // flood touched at most (its length / 10 s) + 1 intervals.
    let intervals = flood_took.as_secs() / 10 + 1;
    assert!(
        lines.len() as u64 <= 11 * intervals,
        "{} lines for a {flood_took:?} flood ({intervals} intervals of 10 s, 11 lines each at most):\n{}",
        lines.len(),
        lines.join("\n")
    );
    let first = &lines[..lines.len().min(11)];
    if intervals == 1 {
        // One interval: exactly 10 lines of their own (4 sources x 3, capped at 10), then
        // the summary counting all 10,000 from 4 sources.
        assert_eq!(lines.len(), 11, "{}", lines.join("\n"));
        let summary = &first[10];
        assert!(summary.contains(SUMMARY), "{summary}");
        assert_eq!(field(summary, "messages"), FLOOD, "{summary}");
        assert_eq!(field(summary, "logged"), 10, "{summary}");
        assert_eq!(field(summary, "sources"), 4, "{summary}");
    }
}
