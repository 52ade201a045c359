//! A fuzz run against the real binary: mutated INVITE, REGISTER, BYE, CANCEL and OPTIONS
//! requests (bit flips, truncation, inserted and deleted bytes, duplicated header lines,
//! huge values, folded lines, control bytes, random bytes) sent over UDP and TCP from a
//! trunk address. Afterwards the switch must still run, must not have panicked, must answer
//! an OPTIONS and must complete a SIPp call; its memory (VmRSS) before and after is printed.
//!
//! `HOTLINE_FUZZ_MESSAGES` sets how many messages are sent (default 5,000, for CI); a third
//! go over TCP, the rest over UDP. The INVITEs call a number that does not exist, so no
//! call state builds up beyond transactions.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn messages() -> usize {
    std::env::var("HOTLINE_FUZZ_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}

/// A valid request of `method` to the switch, unique by `n`.
fn template(method: &str, n: usize, switch: SocketAddr, transport: &str) -> Vec<u8> {
    let (body, content_type) = if method == "INVITE" {
        (
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio 6000 RTP/AVP 0 8\r\n",
            "Content-Type: application/sdp\r\n",
        )
    } else {
        ("", "")
    };
    let (user, to_tag) = match method {
        "REGISTER" => ("1001", ""),
        "BYE" => ("fuzz-nobody", ";tag=fuzz-to"),
        _ => ("fuzz-nobody", ""),
    };
    format!(
        "{method} sip:{user}@{switch} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:5999;branch=z9hG4bK-fuzz-{n};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"Fuzz\" <sip:fuzz@127.0.0.1>;tag=fuzz-{n}\r\n\
         To: <sip:{user}@{switch}>{to_tag}\r\n\
         Call-ID: fuzz-{n}@127.0.0.1\r\n\
         CSeq: {n} {method}\r\n\
         Contact: <sip:fuzz@127.0.0.1:5999>\r\n\
         Expires: 60\r\n\
         {content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
    if rng.gen_ratio(1, 20) {
        let n = rng.gen_range(0..1_500);
        return (0..n).map(|_| rng.gen()).collect();
    }
    let mut out = input.to_vec();
    for _ in 0..rng.gen_range(1..4) {
        let len = out.len().max(1);
        match rng.gen_range(0..8) {
            0 => {
                let i = rng.gen_range(0..len);
                if let Some(b) = out.get_mut(i) {
                    *b ^= 1 << rng.gen_range(0..8);
                }
            }
            1 => out.truncate(rng.gen_range(0..len)),
            2 => {
                let i = rng.gen_range(0..=out.len());
                out.insert(i, rng.gen());
            }
            3 => {
                if !out.is_empty() {
                    out.remove(rng.gen_range(0..out.len()));
                }
            }
            4 => {
                let text = String::from_utf8_lossy(&out).into_owned();
                let lines: Vec<&str> = text.split("\r\n").collect();
                let pick = rng.gen_range(0..lines.len());
                let mut again = lines.clone();
                for _ in 0..rng.gen_range(1..50) {
                    again.insert(pick, lines[pick]);
                }
                out = again.join("\r\n").into_bytes();
            }
            5 => {
                let i = rng.gen_range(0..=out.len());
                let filler = [b'9', b'a', b';', b',', b'"', b'<', b' ', b'%'][rng.gen_range(0..8)];
                let n = rng.gen_range(100..8_000);
                out.splice(i..i, std::iter::repeat_n(filler, n));
            }
            6 => {
                let i = rng.gen_range(0..=out.len());
                out.splice(i..i, *b"\r\n  ");
            }
            _ => {
                let i = rng.gen_range(0..=out.len());
                let b = [0x00, 0x1b, b'\r', b'\n', 0xff, 0xc3][rng.gen_range(0..6)];
                out.insert(i, b);
            }
        }
    }
    out
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A TCP connection to the switch whose answers are read and thrown away (a peer that never
/// reads would test write-queue limits, not the parser).
fn tcp_connect(switch: SocketAddr) -> Option<TcpStream> {
    let stream = TcpStream::connect_timeout(&switch, Duration::from_secs(2)).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .ok()?;
    let mut reader = stream.try_clone().ok()?;
    thread::spawn(move || {
        let mut buf = [0u8; 16_384];
        while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
    });
    Some(stream)
}

/// How long until the switch answered an OPTIONS (asked once a second, for at most
/// `limit`), or `None`.
fn options_answered(switch: &Switch, limit: Duration) -> Option<Duration> {
    let asked = Instant::now();
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let port = socket.local_addr().expect("addr").port();
    let mut attempt = 0;
    while asked.elapsed() < limit {
        attempt += 1;
        let options = format!(
            "OPTIONS sip:{sip} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-after-{attempt};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=after\r\nTo: <sip:{sip}>\r\n\
             Call-ID: after-fuzz-{attempt}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            sip = switch.sip
        );
        socket
            .send_to(options.as_bytes(), switch.sip)
            .expect("send");
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]);
                if text.starts_with("SIP/2.0 200") && text.contains("after-fuzz-") {
                    return Some(asked.elapsed());
                }
            }
        }
    }
    None
}

#[test]
fn mutated_requests_over_udp_and_tcp_leave_the_switch_answering_and_calling() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let pid = switch.pid();
    let rss_before = vm_rss_kib(pid).expect("VmRSS of the switch");
    let total = messages();
    let mut rng = StdRng::seed_from_u64(0xf022_0006);
    let methods = ["INVITE", "REGISTER", "BYE", "CANCEL", "OPTIONS"];
    let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut tcp = tcp_connect(switch.sip);
    let started = Instant::now();
    let (mut sent_udp, mut sent_tcp, mut reconnects) = (0usize, 0usize, 0usize);
    for n in 0..total {
        let method = methods[n % methods.len()];
        let over_tcp = n % 3 == 0;
        let valid = template(method, n, switch.sip, if over_tcp { "TCP" } else { "UDP" });
        let mut message = mutate(&mut rng, &valid);
        if over_tcp {
            // The switch closes a connection on a framing error: then the message goes again
            // on a new one.
            for _ in 0..3 {
                if tcp.as_mut().is_some_and(|s| s.write_all(&message).is_ok()) {
                    sent_tcp += 1;
                    break;
                }
                tcp = tcp_connect(switch.sip);
                reconnects += 1;
            }
            // A broken frame can leave the stream waiting for a body that never comes: start
            // afresh now and then.
            if n % 300 == 0 {
                tcp = tcp_connect(switch.sip);
                reconnects += 1;
            }
        } else {
            // A datagram cannot be larger.
            message.truncate(65_507);
            if udp.send_to(&message, switch.sip).is_ok() {
                sent_udp += 1;
            }
        }
        if n % 500 == 499 {
            // Let the switch keep up rather than measure the kernel's socket buffers.
            thread::sleep(Duration::from_millis(20));
        }
    }
    drop(tcp);
    let sending = started.elapsed();
    thread::sleep(Duration::from_millis(500));
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
    // The switch may still be working through what it was sent; it must answer within a
    // minute.
    let answers_options = options_answered(&switch, Duration::from_secs(60));
    let rss_after = vm_rss_kib(pid).unwrap_or(0);
    let log = std::fs::read_to_string(switch.data.path().join("switch.log")).unwrap_or_default();
    let panics = log.matches("panicked").count();
    eprintln!(
        "fuzz run: {total} messages ({sent_udp} UDP, {sent_tcp} TCP over {reconnects} connections) \
         in {:.1} s; switch alive: {alive}; panics: {panics}; OPTIONS answered after {answers_options:?}; \
         VmRSS before {rss_before} KiB, after {rss_after} KiB",
        sending.as_secs_f64()
    );
    assert!(alive, "the switch died\n{}", switch.log_tail());
    assert_eq!(panics, 0, "the switch panicked\n{}", switch.log_tail());
    assert_eq!(sent_udp + sent_tcp, total, "every message went out");
    assert!(
        answers_options.is_some(),
        "no 200 to OPTIONS within a minute of the fuzz run\n{}",
        switch.log_tail()
    );
    let sipp = Sipp::new("basic_call.xml", &switch).hold(Duration::from_millis(1500));
    let run = sipp.run();
    assert_sipp_ok("SIPp call after the fuzz run", &run, &switch);
    assert!(
        rss_after < rss_before + 256 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
}
