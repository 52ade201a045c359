//! OPTIONS flood against a running switch with one call in progress: what each message costs
//! the switch in CPU, and what the flood does to the call's audio (issue 6, item 7).
//!
//! A trunk floods the switch with OPTIONS at a fixed rate, each a new transaction (over UDP a
//! server transaction lives 64*T1 = 32 s, so 2,500/s keeps 80,000 alive). Shortly before the
//! table is full, a raw-UDP caller dials the hotline, ACKs the 200 and sends silence; it
//! records the arrival time of every RTP packet the switch sends it. Over the measurement
//! window (after the fill) the switch's CPU time comes from /proc/PID/stat.
//!
//! ```text
//! cargo run --release --example options_flood -- --switch 127.0.0.1:5060 --pid PID \
//!     [--rate 2500] [--fill 34] [--measure 20] [--number 4008]
//! ```
//! `benches/options_flood.sh` starts a switch and runs this against it.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

struct Args {
    switch: SocketAddr,
    pid: u32,
    rate: u64,
    fill: Duration,
    measure: Duration,
    number: String,
}

fn parse_args() -> Args {
    let mut args = Args {
        switch: "127.0.0.1:5060".parse().unwrap(),
        pid: 0,
        rate: 2500,
        fill: Duration::from_secs(34),
        measure: Duration::from_secs(20),
        number: "4008".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--switch" => args.switch = value.parse().expect("--switch HOST:PORT"),
            "--pid" => args.pid = value.parse().expect("--pid N"),
            "--rate" => args.rate = value.parse().expect("--rate per second"),
            "--fill" => args.fill = Duration::from_secs(value.parse().expect("--fill seconds")),
            "--measure" => {
                args.measure = Duration::from_secs(value.parse().expect("--measure seconds"))
            }
            "--number" => args.number = value,
            other => panic!("unknown option {other}"),
        }
    }
    assert!(args.pid != 0, "--pid of the switch is required");
    args
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the whole line (utime, stime) are 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

fn options(n: u64, local: SocketAddr, switch: SocketAddr) -> String {
    format!(
        "OPTIONS sip:{switch} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-flood{n}\r\n\
Max-Forwards: 70\r\nFrom: <sip:pbx@{ip}>;tag=f{n}\r\nTo: <sip:{switch}>\r\n\
Call-ID: flood{n}@{ip}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        ip = local.ip()
    )
}

/// Sends OPTIONS at `rate` per second until `stop`; counts what was sent and answered.
fn flood(
    switch: SocketAddr,
    rate: u64,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    answered: Arc<AtomicU64>,
) -> thread::JoinHandle<()> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind flood socket");
    let local = socket.local_addr().unwrap();
    let reader = socket.try_clone().unwrap();
    reader
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let stop_reader = Arc::clone(&stop);
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !stop_reader.load(Ordering::Relaxed) {
            if let Ok(n) = reader.recv(&mut buf) {
                if buf[..n].starts_with(b"SIP/2.0 200 ") {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    thread::spawn(move || {
        let start = Instant::now();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
            while n < due {
                let _ = socket.send_to(options(n, local, switch).as_bytes(), switch);
                n += 1;
                sent.store(n, Ordering::Relaxed);
            }
            thread::sleep(Duration::from_millis(1));
        }
    })
}

/// A header's value in a SIP message (first occurrence, long names only).
fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.split("\r\n").find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

struct Caller {
    sip: UdpSocket,
    local: SocketAddr,
    switch: SocketAddr,
    call_id: String,
    to: String,
    request_uri: String,
}

/// Dials the hotline, waits for the 200, ACKs; returns the call and the switch's RTP address.
fn call(switch: SocketAddr, number: &str, rtp_port: u16) -> (Caller, SocketAddr) {
    let sip = UdpSocket::bind("127.0.0.1:0").expect("bind caller socket");
    sip.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let local = sip.local_addr().unwrap();
    let call_id = format!("flood-call-{}@127.0.0.1", std::process::id());
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n"
    );
    let invite = format!(
        "INVITE sip:{number}@{switch} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-fc1;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag=fc\r\nTo: <sip:{number}@{switch}>\r\n\
Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{local}>\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 8192];
    let mut last_send = Instant::now() - Duration::from_secs(1);
    let mut provisional = false;
    loop {
        assert!(Instant::now() < deadline, "no 200 OK to the INVITE in 30 s");
        if !provisional && last_send.elapsed() > Duration::from_millis(500) {
            sip.send_to(invite.as_bytes(), switch).unwrap();
            last_send = Instant::now();
        }
        let Ok(n) = sip.recv(&mut buf) else { continue };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 ") {
            continue;
        }
        let status: u16 = text[8..11].parse().unwrap_or(0);
        if status < 200 {
            provisional = true;
            continue;
        }
        assert_eq!(status, 200, "the call was refused:\n{text}");
        let to = header(&text, "To").expect("To").to_owned();
        let request_uri = header(&text, "Contact")
            .and_then(|c| Some(c[c.find('<')? + 1..c.find('>')?].to_owned()))
            .unwrap_or_else(|| format!("sip:{number}@{switch}"));
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        let port: u16 = body
            .lines()
            .find_map(|l| l.strip_prefix("m=audio "))
            .and_then(|m| m.split(' ').next())
            .and_then(|p| p.parse().ok())
            .expect("m=audio port in the 200");
        let caller = Caller {
            sip,
            local,
            switch,
            call_id,
            to,
            request_uri,
        };
        caller.send_in_dialog("ACK", 1, "z9hG4bK-fc-ack");
        return (caller, SocketAddr::new(switch.ip(), port));
    }
}

impl Caller {
    fn send_in_dialog(&self, method: &str, cseq: u32, branch: &str) {
        let request = format!(
            "{method} {} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag=fc\r\nTo: {}\r\nCall-ID: {}\r\n\
CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
            self.request_uri, self.local, self.to, self.call_id
        );
        self.sip.send_to(request.as_bytes(), self.switch).unwrap();
    }
}

/// Receives the switch's RTP until `stop`, noting each packet's arrival; sends 20 ms of
/// PCMU silence every 20 ms toward the switch (so symmetric-RTP switches know where to send).
fn media(
    rtp: UdpSocket,
    switch_rtp: SocketAddr,
    stop: Arc<AtomicBool>,
    arrivals: Arc<Mutex<Vec<Instant>>>,
) -> Vec<thread::JoinHandle<()>> {
    rtp.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let sender = rtp.try_clone().unwrap();
    let stop_sender = Arc::clone(&stop);
    let send = thread::spawn(move || {
        let start = Instant::now();
        let mut seq: u16 = 0;
        while !stop_sender.load(Ordering::Relaxed) {
            let mut packet = vec![0x80, 0x00];
            packet.extend_from_slice(&seq.to_be_bytes());
            packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            packet.extend_from_slice(&0x5eed_f00du32.to_be_bytes());
            packet.extend_from_slice(&[0xFF; 160]);
            let _ = sender.send_to(&packet, switch_rtp);
            seq = seq.wrapping_add(1);
            let next = start + Duration::from_millis(20) * u32::from(seq);
            thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    });
    let receive = thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            if let Ok(n) = rtp.recv(&mut buf) {
                let at = Instant::now();
                if n >= 12 && buf[0] >> 6 == 2 {
                    arrivals.lock().unwrap().push(at);
                }
            }
        }
    });
    vec![send, receive]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let args = parse_args();
    let tick = clock_ticks_per_second();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let cpu_start = cpu_ticks(args.pid);
    println!(
        "flood: {} OPTIONS/s to {} (pid {}), fill {} s, measure {} s",
        args.rate,
        args.switch,
        args.pid,
        args.fill.as_secs(),
        args.measure.as_secs()
    );
    let flooder = flood(
        args.switch,
        args.rate,
        Arc::clone(&stop),
        Arc::clone(&sent),
        Arc::clone(&answered),
    );

    // The call starts 8 s before the window, to be answered and playing by then.
    thread::sleep(args.fill.saturating_sub(Duration::from_secs(8)));
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("bind RTP socket");
    let rtp_port = rtp.local_addr().unwrap().port();
    let (caller, switch_rtp) = call(args.switch, &args.number, rtp_port);
    let media_stop = Arc::new(AtomicBool::new(false));
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let media_threads = media(
        rtp,
        switch_rtp,
        Arc::clone(&media_stop),
        Arc::clone(&arrivals),
    );

    thread::sleep((start + args.fill).saturating_duration_since(Instant::now()));
    let (window_start, cpu_before, sent_before, answered_before) = (
        Instant::now(),
        cpu_ticks(args.pid),
        sent.load(Ordering::Relaxed),
        answered.load(Ordering::Relaxed),
    );
    thread::sleep(args.measure);
    let (window_end, cpu_after, sent_after, answered_after) = (
        Instant::now(),
        cpu_ticks(args.pid),
        sent.load(Ordering::Relaxed),
        answered.load(Ordering::Relaxed),
    );

    caller.send_in_dialog("BYE", 2, "z9hG4bK-fc-bye");
    stop.store(true, Ordering::Relaxed);
    media_stop.store(true, Ordering::Relaxed);
    flooder.join().unwrap();
    for t in media_threads {
        t.join().unwrap();
    }

    let seconds = (window_end - window_start).as_secs_f64();
    let messages = sent_after - sent_before;
    let cpu_s = (cpu_after - cpu_before) as f64 / tick as f64;
    let arrivals = arrivals.lock().unwrap();
    let window: Vec<Instant> = arrivals
        .iter()
        .copied()
        .filter(|at| *at >= window_start && *at <= window_end)
        .collect();
    let mut gaps: Vec<f64> = window
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0)
        .collect();
    gaps.sort_by(f64::total_cmp);
    println!(
        "window {seconds:.1} s: {messages} OPTIONS sent ({:.0}/s), {} answered; live transactions ≈ {}",
        messages as f64 / seconds,
        answered_after - answered_before,
        args.rate * 32
    );
    println!(
        "switch CPU: {cpu_s:.2} s in {seconds:.1} s ({:.0} % of one core), {:.1} µs per message; whole run {:.2} s",
        100.0 * cpu_s / seconds,
        1e6 * cpu_s / messages.max(1) as f64,
        (cpu_after - cpu_start) as f64 / tick as f64
    );
    println!(
        "call RTP: {} packets in the window (expected {:.0}), gap p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        window.len(),
        seconds * 50.0,
        percentile(&gaps, 50.0),
        percentile(&gaps, 99.0),
        gaps.last().copied().unwrap_or(f64::NAN)
    );
}
