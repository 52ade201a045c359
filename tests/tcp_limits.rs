//! SIP over TCP cannot exhaust the switch: each test performs one attack on the running
//! binary from the test's own sockets and watches what the attacker's socket sees and what
//! the switch holds (/proc/PID: resident memory, open descriptors). Framing refusals (no or
//! two Content-Lengths, a body over 64 KiB), the read and idle timeouts, the per-address
//! cap, the bounded write queue, the descriptors kept for media, and RLIMIT_NOFILE.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

// ---------------------------------------------------------------------------------------------
// The attacker's tools

/// A TCP connection to `target` from `ip` (any 127.x address works on loopback: many
/// attackers from one machine).
fn connect_from(ip: &str, target: SocketAddr) -> TcpStream {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime for bound connects")
    });
    let local: SocketAddr = SocketAddr::new(ip.parse::<IpAddr>().expect("ip"), 0);
    let stream = runtime
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(local)?;
            tokio::time::timeout(Duration::from_secs(5), socket.connect(target))
                .await
                .map_err(|_| std::io::Error::new(ErrorKind::TimedOut, "connect timed out"))?
        })
        .unwrap_or_else(|e| panic!("connect {local} -> {target}: {e}"))
        .into_std()
        .expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    stream
}

fn connect(switch: &Switch) -> TcpStream {
    connect_from("127.0.0.1", switch.sip)
}

fn options(switch: &Switch, stream: &TcpStream, call_id: &str) -> String {
    let local = stream.local_addr().expect("local addr");
    format!(
        "OPTIONS sip:4008@{sip} SIP/2.0\r\n\
         Via: SIP/2.0/TCP {local};branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:pbx@127.0.0.1>;tag=t-{call_id}\r\n\
         To: <sip:4008@{sip}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        sip = switch.sip
    )
}

/// Everything the switch sends on `stream` until it closes it or `quiet` passes without a
/// byte (bounded by `limit` overall); and whether it closed.
fn read_until_closed_or_quiet(
    stream: &mut TcpStream,
    quiet: Duration,
    limit: Duration,
) -> (String, bool) {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&got).into_owned(), false);
        }
        stream
            .set_read_timeout(Some(quiet.min(left)))
            .expect("read timeout");
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (String::from_utf8_lossy(&got).into_owned(), false)
            }
            // A reset is a close too.
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), true),
        }
    }
}

/// Reads one response (header section; these carry no body), or None on close or timeout.
fn read_response(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
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
    Some(String::from_utf8_lossy(&got).into_owned())
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

/// Waits (bounded) until the switch closes `stream`; how long that took from `since`.
fn closed_after(stream: &mut TcpStream, since: Instant, limit: Duration) -> Option<Duration> {
    let (_, closed) = read_until_closed_or_quiet(stream, limit, limit);
    closed.then(|| since.elapsed())
}

// ---------------------------------------------------------------------------------------------
// What the switch holds

/// Resident memory of `pid` in KiB (/proc/PID/status VmRSS).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Open descriptors of `pid` (entries of /proc/PID/fd).
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proc fd")
        .count()
}

/// The soft and hard "Max open files" of `pid` (/proc/PID/limits).
fn nofile_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("proc limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files line");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

fn switch_with(ports: PortBlock, args: &[&str]) -> Switch {
    Switch::start_with_options(
        ports,
        None,
        ServeOptions {
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            ..ServeOptions::default()
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Framing

#[test]
fn a_megabyte_content_length_gets_413_and_the_connection_closes_without_the_body() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let mut stream = connect(&switch);
    let head = options(&switch, &stream, "big-body")
        .replace("Content-Length: 0", "Content-Length: 1048576");
    stream.write_all(head.as_bytes()).expect("send header");
    // Not a byte of the body is sent: the refusal and the close come from the header alone.
    let (seen, closed) =
        read_until_closed_or_quiet(&mut stream, Duration::from_secs(5), Duration::from_secs(5));
    assert_eq!(
        status_line(&seen),
        "SIP/2.0 413 Request Entity Too Large",
        "{seen:?}\n{}",
        switch.log_tail()
    );
    assert!(seen.contains("\r\nCall-ID: big-body\r\n"), "{seen}");
    assert!(closed, "the switch kept the connection open after 413");
}

#[test]
fn a_message_without_content_length_gets_400_and_the_connection_closes() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let mut stream = connect(&switch);
    let request = options(&switch, &stream, "no-length").replace("Content-Length: 0\r\n", "");
    stream.write_all(request.as_bytes()).expect("send");
    let (seen, closed) =
        read_until_closed_or_quiet(&mut stream, Duration::from_secs(5), Duration::from_secs(5));
    assert_eq!(
        status_line(&seen),
        "SIP/2.0 400 Missing Content-Length",
        "{seen:?}"
    );
    assert!(seen.contains("\r\nCall-ID: no-length\r\n"), "{seen}");
    assert!(closed, "the switch kept the connection open after 400");
}

#[test]
fn duplicate_content_lengths_get_400_and_the_request_hidden_in_the_body_never_runs() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    for (case, lengths) in [
        ("differ", "{hidden}\r\nContent-Length: 0"),
        ("same", "0\r\nContent-Length: 0"),
    ] {
        let mut stream = connect(&switch);
        let hidden = options(&switch, &stream, &format!("hidden-{case}"));
        let lengths = lengths.replace("{hidden}", &hidden.len().to_string());
        let outer = options(&switch, &stream, &format!("outer-{case}"))
            .replace("Content-Length: 0", &format!("Content-Length: {lengths}"));
        let attack = format!("{outer}{hidden}");
        stream.write_all(attack.as_bytes()).expect("send");
        let (seen, closed) =
            read_until_closed_or_quiet(&mut stream, Duration::from_secs(3), Duration::from_secs(5));
        assert_eq!(
            status_line(&seen),
            "SIP/2.0 400 Duplicate Content-Length",
            "{case}: {seen:?}"
        );
        assert!(
            seen.contains(&format!("\r\nCall-ID: outer-{case}\r\n")),
            "{seen}"
        );
        assert!(
            !seen.contains(&format!("hidden-{case}")),
            "{case}: the request in the body was answered: {seen}"
        );
        assert_eq!(seen.matches("SIP/2.0 ").count(), 1, "{case}: {seen}");
        assert!(
            closed,
            "{case}: the switch kept the connection open after 400"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Timeouts

#[test]
fn half_sent_messages_are_closed_after_the_read_timeout_and_a_slow_whole_one_is_answered() {
    const CONNECTIONS: usize = 120;
    let ports = PortBlock::reserve();
    let switch = switch_with(ports, &["--tcp-read-timeout", "2s"]);
    let pid = switch.pid();
    let rss_before = rss_kib(pid);

    // 120 attackers from two addresses (under the per-address cap), each with a 60,000-byte
    // body of which half is sent.
    let mut attackers = Vec::new();
    for n in 0..CONNECTIONS {
        let ip = if n % 2 == 0 { "127.0.0.1" } else { "127.0.0.2" };
        let mut stream = connect_from(ip, switch.sip);
        let head = options(&switch, &stream, &format!("half-{n}"))
            .replace("Content-Length: 0", "Content-Length: 60000");
        stream.write_all(head.as_bytes()).expect("send header");
        stream.write_all(&[b'x'; 30_000]).expect("send half a body");
        attackers.push((stream, Instant::now()));
    }
    // A whole message sent slowly but within the timeout is answered.
    let mut slow = connect(&switch);
    let request = options(&switch, &slow, "slow-but-whole");
    let (first, rest) = request.split_at(request.len() / 2);
    slow.write_all(first.as_bytes()).expect("send first half");
    std::thread::sleep(Duration::from_millis(1200));
    slow.write_all(rest.as_bytes()).expect("send second half");
    let answer = read_response(&mut slow, Duration::from_secs(5)).expect("an answer");
    assert_eq!(status_line(&answer), "SIP/2.0 200 OK", "{answer}");

    let rss_holding = rss_kib(pid);
    for (n, (stream, sent)) in attackers.iter_mut().enumerate() {
        let closed = closed_after(stream, *sent, Duration::from_secs(10));
        let Some(after) = closed else {
            panic!("half-sent connection {n} still open 10 s later");
        };
        assert!(
            after >= Duration::from_millis(1800) && after <= Duration::from_secs(6),
            "half-sent connection {n} closed {after:?} after its last byte (timeout 2 s)"
        );
    }
    let rss_after = rss_kib(pid);
    eprintln!(
        "{CONNECTIONS} half-sent 60,000-byte messages: VmRSS {rss_before} KiB before, \
         {rss_holding} KiB while held, {rss_after} KiB after the read timeout"
    );
    assert!(
        rss_holding < rss_before + 32 * 1024,
        "holding {CONNECTIONS} half messages took {} KiB",
        rss_holding - rss_before
    );
}

#[test]
fn silent_connections_close_at_the_idle_timeout_but_keep_alives_keep_a_flow_open() {
    let ports = PortBlock::reserve();
    let switch = switch_with(ports, &["--tcp-idle-timeout", "2s"]);

    // Both connections bring a message (a flow: the read timeout is out of the way).
    let mut silent = connect(&switch);
    let mut alive = connect(&switch);
    for (stream, id) in [(&mut silent, "silent-1"), (&mut alive, "alive-1")] {
        let request = options(&switch, stream, id);
        stream.write_all(request.as_bytes()).expect("send");
        let answer = read_response(stream, Duration::from_secs(5)).expect("an answer");
        assert_eq!(status_line(&answer), "SIP/2.0 200 OK", "{answer}");
    }
    let since = Instant::now();
    let watcher =
        std::thread::spawn(move || closed_after(&mut silent, since, Duration::from_secs(8)));
    // The live one pings every 700 ms for 4 s (twice the idle timeout); each ping gets a pong.
    let mut pongs = 0;
    while since.elapsed() < Duration::from_secs(4) {
        alive.write_all(b"\r\n\r\n").expect("ping");
        let mut pong = [0u8; 2];
        alive
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        alive.read_exact(&mut pong).expect("pong");
        assert_eq!(&pong, b"\r\n");
        pongs += 1;
        std::thread::sleep(Duration::from_millis(700));
    }
    assert!(pongs >= 5, "{pongs} pongs");
    let request = options(&switch, &alive, "alive-2");
    alive
        .write_all(request.as_bytes())
        .expect("send on the kept flow");
    let answer = read_response(&mut alive, Duration::from_secs(5)).expect("an answer");
    assert_eq!(status_line(&answer), "SIP/2.0 200 OK", "{answer}");

    let after = watcher
        .join()
        .expect("watcher")
        .expect("the silent connection was never closed");
    assert!(
        after >= Duration::from_millis(1800) && after <= Duration::from_secs(4),
        "the silent connection closed {after:?} after its last message (idle timeout 2 s)"
    );
}

// ---------------------------------------------------------------------------------------------
// Caps

#[test]
fn connections_beyond_the_per_address_cap_are_closed_at_once_while_another_address_connects() {
    const CAP: usize = 64; // the default
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let mut admitted = Vec::new();
    for n in 0..CAP {
        let mut stream = connect(&switch);
        let request = options(&switch, &stream, &format!("cap-{n}"));
        stream.write_all(request.as_bytes()).expect("send");
        let answer = read_response(&mut stream, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("connection {n} (under the cap) got no answer"));
        assert_eq!(status_line(&answer), "SIP/2.0 200 OK", "{answer}");
        admitted.push(stream);
    }
    for extra in 0..3 {
        let mut over = connect(&switch);
        let started = Instant::now();
        let (seen, closed) =
            read_until_closed_or_quiet(&mut over, Duration::from_secs(3), Duration::from_secs(3));
        assert!(
            closed && seen.is_empty(),
            "connection {} from the same address was not closed at once (saw {seen:?})",
            CAP + extra + 1
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    let mut other = connect_from("127.0.0.2", switch.sip);
    let request = options(&switch, &other, "other-address");
    other.write_all(request.as_bytes()).expect("send");
    let answer = read_response(&mut other, Duration::from_secs(5)).expect("an answer");
    assert_eq!(status_line(&answer), "SIP/2.0 200 OK", "{answer}");
    // The admitted ones still work.
    let request = options(&switch, &admitted[0], "first-again");
    admitted[0].write_all(request.as_bytes()).expect("send");
    let answer = read_response(&mut admitted[0], Duration::from_secs(5)).expect("an answer");
    assert_eq!(status_line(&answer), "SIP/2.0 200 OK", "{answer}");
}

#[test]
fn a_client_that_never_reads_its_responses_is_disconnected_and_memory_stays_bounded() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let pid = switch.pid();
    let rss_before = rss_kib(pid);
    let mut stream = connect(&switch);
    stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .expect("write timeout");
    // Batches of 50 pipelined OPTIONS; their answers are never read.
    let batch: String = (0..50)
        .map(|n| options(&switch, &stream, &format!("unread-{n}")))
        .collect();
    let started = Instant::now();
    let mut sent_bytes = 0usize;
    let mut peak_rss = rss_before;
    let disconnected = loop {
        if started.elapsed() > Duration::from_secs(40) {
            break false;
        }
        match stream.write(batch.as_bytes()) {
            Ok(n) => sent_bytes += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break true,
        }
        peak_rss = peak_rss.max(rss_kib(pid));
    };
    let took = started.elapsed();
    let rss_after = rss_kib(pid);
    eprintln!(
        "a client that never reads: {sent_bytes} bytes of OPTIONS sent, disconnected={disconnected} \
         after {took:?}; VmRSS {rss_before} KiB before, peak {peak_rss} KiB, {rss_after} KiB after"
    );
    assert!(
        disconnected,
        "still connected after {took:?} and {sent_bytes} bytes\n{}",
        switch.log_tail()
    );
    assert!(
        peak_rss < rss_before + 32 * 1024,
        "VmRSS grew from {rss_before} KiB to {peak_rss} KiB"
    );
    // The switch still answers others.
    let mut other = connect(&switch);
    let request = options(&switch, &other, "after-unread");
    other.write_all(request.as_bytes()).expect("send");
    let answer = read_response(&mut other, Duration::from_secs(5)).expect("an answer");
    assert_eq!(status_line(&answer), "SIP/2.0 200 OK", "{answer}");
}

// ---------------------------------------------------------------------------------------------
// Descriptors

#[test]
fn after_an_idle_connection_flood_a_udp_call_still_gets_200_and_rtp() {
    const ADDRESSES: usize = 20;
    const PER_ADDRESS: usize = 55; // under the per-address cap: 1,100 connections in all
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let pid = switch.pid();
    // As on a host where the switch may open 1,024 files (Debian's default hard limit).
    let status = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--nofile=1024:1024"])
        .status()
        .expect("run prlimit");
    assert!(status.success(), "prlimit failed");
    let fds_before = fd_count(pid);
    let rss_before = rss_kib(pid);

    let mut flood = Vec::new();
    for a in 0..ADDRESSES {
        let ip = format!("127.0.7.{}", a + 1);
        for _ in 0..PER_ADDRESS {
            flood.push(connect_from(&ip, switch.sip));
        }
    }
    // Let the switch accept (and admit or drop) all of them.
    std::thread::sleep(Duration::from_millis(1500));
    let fds_flooded = fd_count(pid);
    let mut still_open = 0;
    for stream in &mut flood {
        stream.set_nonblocking(true).expect("nonblocking");
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => still_open += 1,
            _ => {}
        }
    }
    eprintln!(
        "idle flood of {} connections with RLIMIT_NOFILE 1024: {still_open} kept open; \
         switch fds {fds_before} before, {fds_flooded} during; VmRSS {rss_before} KiB before, {} KiB during",
        flood.len(),
        rss_kib(pid)
    );
    assert!(
        fds_flooded < 1024 / 2 + fds_before + 16,
        "the flood took {fds_flooded} of 1,024 descriptors"
    );
    assert!(still_open > 0, "no connection was admitted at all");

    let sink = RtpSink::listen(ports.rtp_sink());
    let run = Sipp::new("basic_call.xml", &switch)
        .call_id_tag("after-flood")
        .key("rtp_sink", ports.rtp_sink())
        .hold(Duration::from_secs(2))
        .timeout(Duration::from_secs(20))
        .run();
    let heard = sink.finish();
    assert_sipp_ok("the caller after the flood", &run, &switch);
    assert!(
        heard.packets >= 50,
        "the caller got {} RTP packets in a 2 s call",
        heard.packets
    );
    drop(flood);
}

#[test]
fn the_switch_raises_its_open_file_limit_to_the_hard_limit_at_start_up() {
    let ports = PortBlock::reserve();
    let data = tempfile::tempdir().expect("data dir");
    let hard = nofile_limits(std::process::id()).1;
    let soft = 256.min(hard);
    let mut child = Command::new("prlimit")
        .arg(format!("--nofile={soft}:{hard}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_hotline"))
        .arg("serve")
        .arg("--config")
        .arg(repo_root())
        .args(["--sip", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--data")
        .arg(data.path())
        .args(["--rtp-ports", &ports.switch_rtp()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hotline under prlimit");
    // prlimit execs the switch: same process.
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
            if text.contains("hotline ready") {
                let _ = tx.send(());
            }
        }
    });
    let ready = rx.recv_timeout(Duration::from_secs(30)).is_ok();
    let limits = nofile_limits(pid);
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready, "the switch gave no ready line");
    assert_eq!(
        limits,
        (hard, hard),
        "started with soft {soft}, hard {hard}"
    );
}

/// The trunk's OPTIONS on `trunk` gets its 200 within 5 s; `failure` says what it means
/// when not.
fn trunk_is_answered(switch: &Switch, trunk: &mut TcpStream, call_id: &str, failure: &str) {
    let request = options(switch, trunk, call_id);
    trunk.write_all(request.as_bytes()).expect("send");
    let answer = read_response(trunk, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("the trunk: {failure}\n{}", switch.log_tail()));
    assert_eq!(status_line(&answer), "SIP/2.0 200 OK", "{answer}");
}

#[test]
fn a_stranger_holding_every_connection_place_cannot_lock_out_the_trunk() {
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    config.trust_only("127.0.0.1");
    let switch = Switch::start_with_options(
        ports,
        Some(config),
        ServeOptions {
            extra_args: ["--tcp-max-connections", "8", "--tcp-max-per-address", "4"]
                .map(String::from)
                .to_vec(),
            ..ServeOptions::default()
        },
    );
    // The stranger holds every place with idle connections from two untrusted addresses
    // (accepted in order, before the trunk's).
    let mut held: Vec<TcpStream> = (0..8)
        .map(|n| connect_from(if n < 4 { "127.0.1.1" } else { "127.0.1.2" }, switch.sip))
        .collect();
    let mut trunk = connect(&switch);
    trunk_is_answered(
        &switch,
        &mut trunk,
        "trunk-while-full",
        "no answer while a stranger held every TCP place",
    );
    // The stranger's oldest connection made room; its newest is still open.
    let (_, closed) =
        read_until_closed_or_quiet(&mut held[0], Duration::from_secs(3), Duration::from_secs(3));
    assert!(closed, "the stranger's oldest connection is still open");
    let (_, closed) = read_until_closed_or_quiet(
        &mut held[7],
        Duration::from_millis(300),
        Duration::from_millis(300),
    );
    assert!(!closed, "more than the oldest was closed");
    // The trunk's connection, from a trusted network, is never the one that makes room:
    // eight more of the stranger's close only the stranger's own.
    let _more: Vec<TcpStream> = (0..8)
        .map(|n| connect_from(if n < 4 { "127.0.1.3" } else { "127.0.1.4" }, switch.sip))
        .collect();
    let (_, closed) =
        read_until_closed_or_quiet(&mut held[7], Duration::from_secs(3), Duration::from_secs(3));
    assert!(
        closed,
        "the stranger's newest first-round connection is still open"
    );
    trunk_is_answered(
        &switch,
        &mut trunk,
        "trunk-again",
        "its connection was closed to make room for a stranger",
    );
    assert!(
        switch.log_tail().contains("TCP connections at their limit"),
        "{}",
        switch.log_tail()
    );
}
