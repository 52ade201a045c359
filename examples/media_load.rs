//! End-to-end media load on real sockets: N bridged pairs of legs through the media worker
//! threads on loopback, each leg's "phone" sending 50 RTP packets a second, and what the
//! workers spent on them, read from `/proc/self/task/<worker tid>/stat` (and the whole
//! process from `getrusage`): CPU per packet, CPU per leg-second, wake-ups and system calls
//! per packet (from the workers' own counts of `epoll_wait`, `recvfrom` and `sendto`, and
//! their voluntary context switches).
//!
//! ```text
//! cargo run --release --example media_load -- [--pairs 100] [--seconds 10] [--workers N]
//!     [--relay-batch-ms 10]
//! ```
//!
//! `--engine real` (the default) runs the switch's own `MediaEngine` (stream rewriting,
//! latching, RTCP, the tick for every leg); `--engine relay` a plain relay (`RelayEngine`
//! below: every RTP datagram of a bridged leg goes out of the other leg to its phone), the
//! floor the workers themselves cost.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hotline::media::command::{LegOptions, MediaCommand};
use hotline::media::engine::{ConversationEngine, MediaEngine, Transmit};
use hotline::media::prompt::PromptLibrary;
use hotline::media::MediaEvent;
use hotline::media::{Codec, LegRole, MediaRecordKey};
use hotline::net::media_workers::{
    default_media_workers, MediaWorkers, RelayBatch, WorkerReport, WorkerSettings, WorkerStats,
};
use hotline::sip::CallId;

/// Relays every RTP datagram of a bridged leg out of the other leg, nothing else.
#[derive(Default)]
struct RelayEngine {
    /// call → (its phone, the leg it is bridged with)
    legs: HashMap<CallId, (Option<SocketAddr>, Option<CallId>)>,
    out: Option<(CallId, SocketAddr, usize)>,
    buffer: Vec<u8>,
}

impl ConversationEngine for RelayEngine {
    fn command(&mut self, _now: Instant, command: MediaCommand) {
        match command {
            MediaCommand::Open { call, .. } => {
                self.legs.entry(call).or_default();
            }
            MediaCommand::Start { call, remote, .. } => {
                self.legs.entry(call).or_default().0 = Some(remote);
            }
            MediaCommand::Bridge { a, b } => {
                if let Some(leg) = self.legs.get_mut(&a) {
                    leg.1 = Some(b);
                }
                if let Some(leg) = self.legs.get_mut(&b) {
                    leg.1 = Some(a);
                }
            }
            MediaCommand::End { call } => {
                self.legs.remove(&call);
            }
            _ => {}
        }
    }

    fn on_datagram(
        &mut self,
        _now: Instant,
        call: CallId,
        rtcp: bool,
        _from: SocketAddr,
        bytes: &[u8],
    ) {
        if rtcp {
            return;
        }
        let Some(peer) = self.legs.get(&call).and_then(|l| l.1) else {
            return;
        };
        if let Some(to) = self.legs.get(&peer).and_then(|l| l.0) {
            if self.buffer.len() < bytes.len() {
                self.buffer.resize(2048.max(bytes.len()), 0);
            }
            self.buffer[..bytes.len()].copy_from_slice(bytes);
            self.out = Some((peer, to, bytes.len()));
        }
    }

    fn on_tick(&mut self, _now: Instant) {}

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let (call, to, n) = self.out.take()?;
        Some(Transmit {
            call,
            rtcp: false,
            to,
            bytes: &self.buffer[..n],
        })
    }

    fn poll_event(&mut self) -> Option<(CallId, MediaEvent)> {
        None
    }
}

struct Args {
    pairs: usize,
    seconds: u64,
    workers: usize,
    relay_batch: RelayBatch,
    real_engine: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        pairs: 100,
        seconds: 10,
        workers: default_media_workers(),
        relay_batch: RelayBatch::DEFAULT,
        real_engine: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--pairs" => args.pairs = value.parse().expect("--pairs N"),
            "--seconds" => args.seconds = value.parse().expect("--seconds T"),
            "--workers" => args.workers = value.parse().expect("--workers N"),
            "--relay-batch-ms" => {
                args.relay_batch = value
                    .parse()
                    .map_err(|_| format!("{value} is not a number"))
                    .and_then(RelayBatch::from_ms)
                    .expect("--relay-batch-ms MS")
            }
            "--engine" => {
                args.real_engine = match value.as_str() {
                    "real" => true,
                    "relay" => false,
                    other => panic!("--engine real|relay, not {other}"),
                }
            }
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// An even port with its odd neighbour free as well.
fn free_port_pair() -> u16 {
    loop {
        let probe = UdpSocket::bind((LOOPBACK, 0)).expect("bind");
        let port = probe.local_addr().expect("addr").port();
        if port.is_multiple_of(2)
            && port < u16::MAX
            && UdpSocket::bind((LOOPBACK, port + 1)).is_ok()
        {
            return port;
        }
    }
}

/// One leg as its phone sees it: the phone's socket and the switch port it sends to.
struct Phone {
    socket: UdpSocket,
    leg_port: u16,
}

/// CPU time (user + system) and voluntary context switches of one thread of this process.
fn thread_usage(tid: i32) -> (Duration, u64) {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command: state is field 3, utime 14 and stime 15 (1-based, proc(5)).
    let ticks: u64 = [11, 12]
        .iter()
        .map(|&i| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let status =
        std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap_or_default();
    let voluntary = status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (Duration::from_micros(ticks * 1_000_000 / hz), voluntary)
}

fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Totals over all workers: (waits, received, sent, dropped at send, ticks skipped).
fn totals(stats: &[Arc<WorkerStats>]) -> [u64; 5] {
    let mut t = [0u64; 5];
    for s in stats {
        t[0] += s.waits.load(Ordering::Relaxed);
        t[1] += s.received.load(Ordering::Relaxed);
        t[2] += s.sent.load(Ordering::Relaxed);
        t[3] += s.send_would_block.load(Ordering::Relaxed) + s.send_failed.load(Ordering::Relaxed);
        t[4] += s.ticks_skipped.load(Ordering::Relaxed);
    }
    t
}

fn main() {
    let args = parse_args();
    if args.real_engine {
        let prompts = Arc::new(PromptLibrary::new());
        measure(args, move |_| MediaEngine::new(Arc::clone(&prompts)));
    } else {
        measure(args, |_| RelayEngine::default());
    }
}

fn measure<E, F>(args: Args, engine: F)
where
    E: ConversationEngine + Send + 'static,
    F: FnMut(usize) -> E + Send + 'static,
{
    let failures = Arc::new(AtomicU64::new(0));
    let failed = Arc::clone(&failures);
    let mut workers = MediaWorkers::start(
        WorkerSettings {
            workers: args.workers,
            listen_ip: LOOPBACK.into(),
            relay_batch: args.relay_batch,
        },
        engine,
        move |report| {
            if let WorkerReport::Failed { why, .. } = report {
                eprintln!("{why}");
                failed.fetch_add(1, Ordering::Relaxed);
            }
        },
    )
    .expect("start the media workers");
    // Every phone socket first: one bound later could take a port probed free for a leg.
    let sockets: Vec<UdpSocket> = (0..2 * args.pairs)
        .map(|_| {
            let socket = UdpSocket::bind((LOOPBACK, 0)).expect("phone socket");
            socket.set_nonblocking(true).expect("non-blocking");
            socket
        })
        .collect();
    let mut sockets = sockets.into_iter();

    let mut phones = Vec::new();
    for pair in 0..args.pairs as u64 {
        let caller = CallId(2 * pair + 1);
        let agent = CallId(2 * pair + 2);
        for call in [caller, agent] {
            let socket = sockets.next().expect("a phone per leg");
            let leg_port = free_port_pair();
            workers.send(MediaCommand::Start {
                call,
                local_port: leg_port,
                remote: socket.local_addr().expect("addr"),
                codec: Codec::Pcmu,
                payload_type: 0,
                telephone_event: None,
                options: LegOptions {
                    conversation: caller,
                    record: MediaRecordKey {
                        call_id: format!("load-{pair}"),
                        role: if call == caller {
                            LegRole::Caller
                        } else {
                            LegRole::Agent
                        },
                    },
                    media_timeout: Duration::from_secs(60),
                    inband_dtmf: false,
                    rtcp_mux: false,
                    hold_back_dtmf: false,
                    signalling_host: None,
                },
            });
            // Bound now, before the next probe can pick the same ports.
            workers.flush();
            phones.push(Phone { socket, leg_port });
        }
        workers.send(MediaCommand::Bridge {
            a: caller,
            b: agent,
        });
    }
    workers.flush();

    // Two sender threads share the phones; each sends one packet per phone per 20 ms on a
    // fixed schedule and reads what its phones received.
    let stop = Arc::new(AtomicBool::new(false));
    let phone_sent = Arc::new(AtomicU64::new(0));
    let phone_received = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    let half = phones.len().div_ceil(2);
    let mut rest = phones;
    while !rest.is_empty() {
        let mine: Vec<Phone> = rest.drain(..half.min(rest.len())).collect();
        let (stop, sent, received) = (
            Arc::clone(&stop),
            Arc::clone(&phone_sent),
            Arc::clone(&phone_received),
        );
        senders.push(thread::spawn(move || {
            let mut packet = [0xFFu8; 172];
            packet[0] = 0x80;
            let start = Instant::now();
            let mut buf = [0u8; 2048];
            for k in 0u64.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                packet[2..4].copy_from_slice(&(k as u16).to_be_bytes());
                packet[4..8].copy_from_slice(&((k * 160) as u32).to_be_bytes());
                for (i, phone) in mine.iter().enumerate() {
                    packet[8..12].copy_from_slice(&(0x1000 + i as u32).to_be_bytes());
                    if phone
                        .socket
                        .send_to(&packet, (LOOPBACK, phone.leg_port))
                        .is_ok()
                    {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    while phone.socket.recv_from(&mut buf).is_ok() {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let next = start + Duration::from_millis(20 * (k + 1));
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
            }
        }));
    }

    // Warm up, then measure over the window.
    thread::sleep(Duration::from_secs(1));
    let tids = workers.thread_ids();
    let stats = workers.stats();
    let before_threads: Vec<_> = tids.iter().map(|&t| thread_usage(t)).collect();
    let before_process = process_cpu();
    let before = totals(&stats);
    let before_phones = (
        phone_sent.load(Ordering::Relaxed),
        phone_received.load(Ordering::Relaxed),
    );
    let window = Duration::from_secs(args.seconds);
    thread::sleep(window);
    let after_threads: Vec<_> = tids.iter().map(|&t| thread_usage(t)).collect();
    let after_process = process_cpu();
    let after = totals(&stats);
    let after_phones = (
        phone_sent.load(Ordering::Relaxed),
        phone_received.load(Ordering::Relaxed),
    );
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        let _ = sender.join();
    }
    workers.stop(Duration::from_secs(2));

    let worker_cpu: Duration = before_threads
        .iter()
        .zip(&after_threads)
        .map(|(b, a)| a.0.saturating_sub(b.0))
        .sum();
    let switches: u64 = before_threads
        .iter()
        .zip(&after_threads)
        .map(|(b, a)| a.1 - b.1)
        .sum();
    let d: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    let (waits, received, sent, dropped, skipped) = (d[0], d[1], d[2], d[3], d[4]);
    let legs = 2 * args.pairs;
    let leg_seconds = legs as f64 * window.as_secs_f64();
    let per = |x: f64| x / received.max(1) as f64;
    println!(
        "media_load: {} pairs ({legs} legs) through {} worker(s), {} s window",
        args.pairs, args.workers, args.seconds
    );
    println!(
        "  legs whose ports could not be bound: {}",
        failures.load(Ordering::Relaxed)
    );
    println!(
        "  phones sent {} / received {} packets; workers received {received}, sent {sent}, dropped at send {dropped}, ticks skipped {skipped}",
        after_phones.0 - before_phones.0,
        after_phones.1 - before_phones.1
    );
    println!(
        "  worker CPU {:.0} ms: {:.2} µs per packet in (relayed), {:.3} ms per leg-second",
        worker_cpu.as_secs_f64() * 1e3,
        per(worker_cpu.as_secs_f64() * 1e6),
        worker_cpu.as_secs_f64() * 1e3 / leg_seconds
    );
    println!(
        "  whole process CPU (workers + phone senders) {:.0} ms: {:.2} µs per packet",
        (after_process - before_process).as_secs_f64() * 1e3,
        per((after_process - before_process).as_secs_f64() * 1e6)
    );
    println!(
        "  worker system calls per packet in: {:.3} (epoll_wait {:.3} + recvfrom {:.3} + sendto {:.3}); voluntary context switches per packet {:.3}",
        per((waits + received + sent) as f64),
        per(waits as f64),
        per(received as f64),
        per(sent as f64),
        per(switches as f64)
    );
}
