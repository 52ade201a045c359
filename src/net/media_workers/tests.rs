//! The workers on real loopback sockets, driving a fake engine that echoes every datagram
//! back to its source from the socket it came in on, sends one packet per started leg per
//! tick, sends a last packet when a leg ends, and writes down everything it is given.
//! Every wait is bounded; nothing asserts how long anything took.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::media::command::LegOptions;
use crate::media::engine::Transmit;
use crate::media::{Codec, LegRole, MediaRecordKey};

const WAIT: Duration = Duration::from_secs(5);
const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Everything one fake engine was given, for the test to read.
#[derive(Default)]
struct Seen {
    commands: Vec<MediaCommand>,
    /// (call, rtcp, source, bytes)
    datagrams: Vec<(CallId, bool, SocketAddr, Vec<u8>)>,
    /// The `now` each of `datagrams` came with: the worker's wake-up that took it.
    taken_at: Vec<Instant>,
    /// How many commands the engine had been given when each of `datagrams` was taken.
    commands_before: Vec<usize>,
    /// (now, the legs that sent a packet in that tick)
    ticks: Vec<(Instant, Vec<CallId>)>,
}

struct FakeEngine {
    seen: Arc<Mutex<Seen>>,
    remotes: Vec<(CallId, SocketAddr)>,
    out: Vec<(CallId, bool, SocketAddr, Vec<u8>)>,
    sending: Option<(CallId, bool, SocketAddr, Vec<u8>)>,
    events: Vec<(CallId, MediaEvent)>,
    arrived: HashSet<CallId>,
    ticks: u32,
    /// Holds the worker inside the `Open` of [`GATE`]: says so on the first, waits on the second.
    gate: Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>,
}

/// The leg whose `Open` a gated engine holds the worker in.
const GATE: CallId = CallId(99_999);

impl FakeEngine {
    fn new(seen: Arc<Mutex<Seen>>) -> FakeEngine {
        FakeEngine {
            seen,
            remotes: Vec::new(),
            out: Vec::new(),
            sending: None,
            events: Vec::new(),
            arrived: HashSet::new(),
            ticks: 0,
            gate: None,
        }
    }

    fn with_gate(mut self, entered: mpsc::Sender<()>, release: mpsc::Receiver<()>) -> FakeEngine {
        self.gate = Some((entered, release));
        self
    }
}

impl ConversationEngine for FakeEngine {
    fn command(&mut self, _now: Instant, command: MediaCommand) {
        match &command {
            MediaCommand::Start { call, remote, .. } => self.remotes.push((*call, *remote)),
            MediaCommand::Open { call, .. } if *call == GATE => {
                if let Some((entered, release)) = &self.gate {
                    entered.send(()).unwrap();
                    release
                        .recv_timeout(WAIT)
                        .expect("the test lets the worker go");
                }
            }
            MediaCommand::End { call } => {
                if let Some(&(_, remote)) = self.remotes.iter().find(|(c, _)| c == call) {
                    self.out.push((*call, false, remote, b"last".to_vec()));
                }
                self.remotes.retain(|(c, _)| c != call);
            }
            _ => {}
        }
        self.seen.lock().unwrap().commands.push(command);
    }

    fn on_datagram(
        &mut self,
        now: Instant,
        call: CallId,
        rtcp: bool,
        from: SocketAddr,
        bytes: &[u8],
    ) {
        self.out.push((call, rtcp, from, bytes.to_vec()));
        if self.arrived.insert(call) {
            self.events.push((call, MediaEvent::RtpArrived));
        }
        let mut seen = self.seen.lock().unwrap();
        seen.datagrams.push((call, rtcp, from, bytes.to_vec()));
        seen.taken_at.push(now);
        let commands = seen.commands.len();
        seen.commands_before.push(commands);
    }

    fn on_tick(&mut self, now: Instant) {
        self.ticks += 1;
        let mut legs = Vec::new();
        for &(call, remote) in &self.remotes {
            let mut packet = b"tick".to_vec();
            packet.extend_from_slice(&self.ticks.to_be_bytes());
            self.out.push((call, false, remote, packet));
            legs.push(call);
        }
        self.seen.lock().unwrap().ticks.push((now, legs));
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        if self.out.is_empty() {
            return None;
        }
        self.sending = Some(self.out.remove(0));
        let (call, rtcp, to, bytes) = self.sending.as_ref()?;
        Some(Transmit {
            call: *call,
            rtcp: *rtcp,
            to: *to,
            bytes,
        })
    }

    fn poll_event(&mut self) -> Option<(CallId, MediaEvent)> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }

    fn idle(&self) -> bool {
        self.remotes.is_empty() && self.out.is_empty() && self.events.is_empty()
    }
}

/// Workers with fake engines, what each engine saw, and what the workers reported.
struct Rig {
    workers: MediaWorkers,
    seen: Vec<Arc<Mutex<Seen>>>,
    reports: mpsc::Receiver<WorkerReport>,
}

impl Rig {
    fn start(count: usize) -> Rig {
        Rig::start_with(count, RelayBatch::DEFAULT)
    }

    fn start_with(count: usize, relay_batch: RelayBatch) -> Rig {
        let seen: Vec<_> = (0..count)
            .map(|_| Arc::new(Mutex::new(Seen::default())))
            .collect();
        let engines = seen.clone();
        let (tx, reports) = mpsc::channel();
        let workers = MediaWorkers::start(
            WorkerSettings {
                workers: count,
                listen_ip: LOOPBACK,
                relay_batch,
            },
            move |k| FakeEngine::new(Arc::clone(&engines[k])),
            move |report| {
                let _ = tx.send(report);
            },
        )
        .expect("workers start");
        Rig {
            workers,
            seen,
            reports,
        }
    }

    fn send(&mut self, command: MediaCommand) {
        self.workers.send(command);
        self.workers.flush();
    }

    /// Waits (bounded) until engine `k`'s record satisfies `done`.
    fn wait_for<T>(&self, k: usize, what: &str, mut done: impl FnMut(&Seen) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(value) = done(&self.seen[k].lock().unwrap()) {
                return value;
            }
            assert!(Instant::now() < deadline, "engine {k} never saw {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn next_report(&self) -> WorkerReport {
        self.reports
            .recv_timeout(WAIT)
            .expect("a report from a worker")
    }
}

/// A peer's socket on loopback with a bounded read.
fn peer() -> UdpSocket {
    let socket = UdpSocket::bind((LOOPBACK, 0)).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
}

/// An even port, and the odd one above it, free when probed. Drawn below Linux's ephemeral
/// range (32768-60999), so a test elsewhere binding port 0 in parallel cannot be handed it
/// between the probe and the worker's bind.
///
/// A port is handed out once per test process: the probe sockets close at once, so without
/// this two legs of one test (or two tests) could be given the same free pair.
fn free_port_pair() -> u16 {
    use rand::Rng;
    static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut rng = rand::thread_rng();
    loop {
        let port = rng.gen_range(10_000u16..16_000) * 2;
        let mut handed_out = HANDED_OUT.lock().unwrap();
        if !handed_out.contains(&port)
            && UdpSocket::bind((LOOPBACK, port)).is_ok()
            && UdpSocket::bind((LOOPBACK, port + 1)).is_ok()
        {
            handed_out.push(port);
            return port;
        }
    }
}

/// Reads datagrams until one satisfies `wanted` (bounded by the socket's read timeout).
fn receive_until(
    socket: &UdpSocket,
    wanted: impl Fn(&[u8], SocketAddr) -> bool,
) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "the wanted datagram never came");
        let (n, from) = socket
            .recv_from(&mut buf)
            .expect("a datagram within the wait");
        if wanted(&buf[..n], from) {
            return (buf[..n].to_vec(), from);
        }
    }
}

fn options(conversation: CallId) -> LegOptions {
    LegOptions {
        conversation,
        record: MediaRecordKey {
            call_id: format!("conversation-{}", conversation.0),
            role: LegRole::Caller,
        },
        media_timeout: Duration::from_secs(60),
        inband_dtmf: false,
        rtcp_mux: false,
        hold_back_dtmf: false,
        signalling_host: None,
    }
}

fn start(call: CallId, local_port: u16, remote: SocketAddr) -> MediaCommand {
    MediaCommand::Start {
        call,
        local_port,
        remote,
        codec: Codec::Pcmu,
        payload_type: 0,
        telephone_event: None,
        options: options(call),
    }
}

fn open(call: CallId, local_port: u16, conversation: CallId) -> MediaCommand {
    MediaCommand::Open {
        call,
        local_port,
        conversation,
        expect_from: None,
    }
}

const A: CallId = CallId(1);
const B: CallId = CallId(2);
const C: CallId = CallId(3);

#[test]
fn datagrams_reach_the_engine_with_their_call_socket_kind_and_source() {
    let mut rig = Rig::start(1);
    let port = free_port_pair();
    rig.send(open(A, port, A));
    let phone = peer();
    let from = phone.local_addr().unwrap();
    // Sent until the socket is open (Open is asynchronous), then once on RTCP.
    rig.wait_for(0, "the RTP datagram", |seen| {
        let _ = phone.send_to(b"rtp!", (LOOPBACK, port));
        seen.datagrams.first().cloned()
    });
    phone.send_to(b"rtcp", (LOOPBACK, port + 1)).unwrap();
    let seen = rig.wait_for(0, "the RTCP datagram", |seen| {
        seen.datagrams
            .iter()
            .any(|d| d.1)
            .then(|| seen.datagrams.clone())
    });
    assert_eq!(seen[0], (A, false, from, b"rtp!".to_vec()));
    assert_eq!(seen.last(), Some(&(A, true, from, b"rtcp".to_vec())));
    assert!(seen[..seen.len() - 1]
        .iter()
        .all(|d| *d == (A, false, from, b"rtp!".to_vec())));
    // The engine's event for the first datagram comes back to the switch.
    match rig.next_report() {
        WorkerReport::Media { call, event } => {
            assert_eq!((call, event), (A, MediaEvent::RtpArrived))
        }
        other => panic!("unexpected report {other:?}"),
    }
}

#[test]
fn a_relay_batch_is_zero_or_divides_the_tick() {
    for ms in [0, 1, 2, 4, 5, 10, 20] {
        assert_eq!(
            RelayBatch::from_ms(ms).map(RelayBatch::period),
            Ok(Duration::from_millis(ms))
        );
    }
    for ms in [3, 7, 15, 21, 40] {
        let why = RelayBatch::from_ms(ms).unwrap_err();
        assert!(
            why.starts_with(&format!("{ms} ms is not a relay batch"))
                && why.ends_with("1, 2, 4, 5, 10 or 20"),
            "{why}"
        );
    }
    assert_eq!(RelayBatch::default().period(), Duration::from_millis(10));
}

/// One worker with a 20 ms relay batch and leg `A` started, its socket taking datagrams:
/// the worker, the leg's port, and its phone.
fn one_leg_open_with_a_20_ms_batch() -> (Rig, u16, UdpSocket) {
    let mut rig = Rig::start_with(1, RelayBatch::from_ms(20).unwrap());
    let port = free_port_pair();
    let phone = peer();
    rig.send(start(A, port, phone.local_addr().unwrap()));
    rig.wait_for(0, "the first datagram", |seen| {
        let _ = phone.send_to(b"open?", (LOOPBACK, port));
        (!seen.datagrams.is_empty()).then_some(())
    });
    (rig, port, phone)
}

#[test]
fn with_a_relay_batch_the_datagrams_spread_over_a_tick_are_taken_in_a_few_wake_ups() {
    let batch = Duration::from_millis(20);
    let (rig, port, phone) = one_leg_open_with_a_20_ms_batch();
    // Sixty datagrams a millisecond apart: one wake-up each without the batch.
    for i in 0..60u8 {
        phone.send_to(&[b'#', i], (LOOPBACK, port)).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let taken = rig.wait_for(0, "all sixty datagrams", |seen| {
        let taken: Vec<Instant> = seen
            .datagrams
            .iter()
            .zip(&seen.taken_at)
            .filter(|(d, _)| d.3.first() == Some(&b'#'))
            .map(|(_, &at)| at)
            .collect();
        (taken.len() == 60).then_some(taken)
    });
    let mut wake_ups = taken.clone();
    wake_ups.dedup();
    // After a wake-up that took datagrams the worker sleeps to the next point of the grid,
    // so each period has at most two: one on its point and one for a datagram after it.
    let span = *taken.last().unwrap() - taken[0];
    let periods = (span.as_nanos() / batch.as_nanos()) as usize + 2;
    assert!(
        wake_ups.len() <= 2 * periods,
        "{} wake-ups took sixty datagrams over {span:?}",
        wake_ups.len()
    );
}

#[test]
fn a_command_sent_while_the_worker_waits_for_the_batch_is_taken_before_the_datagrams() {
    let (mut rig, port, phone) = one_leg_open_with_a_20_ms_batch();
    // Just after a tick, so the worker that takes "first" waits most of a tick for the grid.
    let ticks = rig.wait_for(0, "a tick", |seen| Some(seen.ticks.len()));
    rig.wait_for(0, "the next tick", |seen| {
        (seen.ticks.len() > ticks).then_some(())
    });
    phone.send_to(b"first", (LOOPBACK, port)).unwrap();
    rig.wait_for(0, "the first datagram of the batch", |seen| {
        seen.datagrams.iter().any(|d| d.3 == b"first").then_some(())
    });
    // While it waits: the far end's next packet, then the switch's command.
    phone.send_to(b"second", (LOOPBACK, port)).unwrap();
    std::thread::sleep(Duration::from_millis(1));
    rig.send(start(B, free_port_pair(), phone.local_addr().unwrap()));
    let (commands_then, commands) = rig.wait_for(0, "the second datagram", |seen| {
        let at = seen.datagrams.iter().position(|d| d.3 == b"second")?;
        Some((seen.commands_before[at], seen.commands.len()))
    });
    assert_eq!(commands, 2, "Start A and Start B");
    assert_eq!(
        commands_then, 2,
        "the datagram that came first was taken before the command sent while the worker waited"
    );
}

#[test]
fn one_wait_takes_every_ready_socket_however_many_legs_the_worker_has() {
    // 301 legs are 602 sockets: more than the soft limit some shells set.
    let _ = crate::net::raise_fd_limit();
    const LEGS: u64 = 300;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let mut gate = Some((entered_tx, release_rx));
    let engine_seen = Arc::clone(&seen);
    let mut workers = MediaWorkers::start(
        WorkerSettings {
            workers: 1,
            listen_ip: LOOPBACK,
            relay_batch: RelayBatch::from_ms(20).unwrap(),
        },
        move |_| {
            let (entered, release) = gate.take().expect("one worker");
            FakeEngine::new(Arc::clone(&engine_seen)).with_gate(entered, release)
        },
        |_report| {},
    )
    .expect("workers start");
    let legs: Vec<(CallId, u16)> = (0..LEGS)
        .map(|i| (CallId(100 + i), free_port_pair()))
        .collect();
    for &(call, port) in &legs {
        workers.send(open(call, port, call));
    }
    workers.flush();
    let phone = peer();
    // Every socket open (Open is asynchronous): probes until the engine saw each leg's.
    let heard = |payload: &[u8]| -> HashSet<CallId> {
        let seen = seen.lock().unwrap();
        seen.datagrams
            .iter()
            .filter(|d| d.3 == payload)
            .map(|d| d.0)
            .collect()
    };
    let deadline = Instant::now() + WAIT;
    while heard(b"probe").len() < legs.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {LEGS} legs open",
            heard(b"probe").len()
        );
        let open = heard(b"probe");
        for &(call, port) in &legs {
            if !open.contains(&call) {
                let _ = phone.send_to(b"probe", (LOOPBACK, port));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // A last datagram on every leg, taken after any probe still queued: then none is.
    for &(_, port) in &legs {
        phone.send_to(b"last", (LOOPBACK, port)).unwrap();
    }
    while heard(b"last").len() < legs.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {LEGS} taken",
            heard(b"last").len()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    // The worker held in a command while a command waits (its eventfd ready first) and
    // every socket it watches, RTP and RTCP, gets a datagram (on loopback a datagram is in
    // its socket's queue when send_to returns), then let go: its next wait finds all of
    // them ready at once, 603 descriptors.
    let gate_port = free_port_pair();
    workers.send(open(GATE, gate_port, GATE));
    workers.flush();
    entered.recv_timeout(WAIT).expect("the worker in the gate");
    workers.send(MediaCommand::Stop { call: legs[0].0 });
    workers.flush();
    for port in legs.iter().map(|&(_, port)| port).chain([gate_port]) {
        phone.send_to(b"ready", (LOOPBACK, port)).unwrap();
        phone.send_to(b"ready", (LOOPBACK, port + 1)).unwrap();
    }
    release.send(()).unwrap();
    let deadline = Instant::now() + WAIT;
    let taken = loop {
        let taken: Vec<Instant> = {
            let seen = seen.lock().unwrap();
            seen.datagrams
                .iter()
                .zip(&seen.taken_at)
                .filter(|(d, _)| d.3 == b"ready")
                .map(|(_, &at)| at)
                .collect()
        };
        if taken.len() == 2 * legs.len() + 2 {
            break taken;
        }
        assert!(Instant::now() < deadline, "{} datagrams taken", taken.len());
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut wake_ups = taken;
    wake_ups.dedup();
    assert_eq!(wake_ups.len(), 1, "602 ready sockets taken in one wait");
    workers.stop(WAIT);
}

#[test]
fn transmits_leave_from_the_legs_rtp_or_rtcp_port_to_their_address() {
    let mut rig = Rig::start(1);
    let port = free_port_pair();
    rig.send(open(A, port, A));
    let phone = peer();
    rig.wait_for(0, "the first datagram", |seen| {
        let _ = phone.send_to(b"ping-rtp", (LOOPBACK, port));
        (!seen.datagrams.is_empty()).then_some(())
    });
    let (_, rtp_from) = receive_until(&phone, |bytes, _| bytes == b"ping-rtp");
    assert_eq!(
        rtp_from,
        SocketAddr::new(LOOPBACK, port),
        "echo from the RTP socket"
    );
    phone.send_to(b"ping-rtcp", (LOOPBACK, port + 1)).unwrap();
    let (_, rtcp_from) = receive_until(&phone, |bytes, _| bytes == b"ping-rtcp");
    assert_eq!(
        rtcp_from,
        SocketAddr::new(LOOPBACK, port + 1),
        "echo from the RTCP socket"
    );
}

#[test]
fn one_tick_drives_every_leg_of_the_worker_with_a_later_now_each_time() {
    let mut rig = Rig::start(1);
    let phones: Vec<UdpSocket> = (0..3).map(|_| peer()).collect();
    let mut ports = Vec::new();
    for (i, call) in [A, B, C].into_iter().enumerate() {
        let port = free_port_pair();
        ports.push(port);
        rig.send(start(call, port, phones[i].local_addr().unwrap()));
    }
    let ticks = rig.wait_for(0, "ten ticks with all three legs", |seen| {
        let full: Vec<_> = seen
            .ticks
            .iter()
            .filter(|t| t.1.len() == 3)
            .cloned()
            .collect();
        (full.len() >= 10).then(|| seen.ticks.clone())
    });
    for pair in ticks.windows(2) {
        assert!(pair[1].0 > pair[0].0, "now moves forward from tick to tick");
    }
    // Once all three have started, every tick sends for all three, in one call.
    let first_full = ticks.iter().position(|t| t.1.len() == 3).unwrap();
    for (now, legs) in &ticks[first_full..] {
        assert_eq!(legs, &vec![A, B, C], "tick at {now:?}");
    }
    // And the packets leave each leg's RTP port toward its own phone.
    for (i, phone) in phones.iter().enumerate() {
        let (_, from) = receive_until(phone, |bytes, _| bytes.starts_with(b"tick"));
        assert_eq!(from, SocketAddr::new(LOOPBACK, ports[i]), "leg {i}");
    }
}

#[test]
fn a_start_after_open_reuses_the_socket_open_opened() {
    let mut rig = Rig::start(1);
    let port = free_port_pair();
    let phone = peer();
    rig.send(open(A, port, A));
    rig.wait_for(0, "a datagram on the opened socket", |seen| {
        let _ = phone.send_to(b"early", (LOOPBACK, port));
        (!seen.datagrams.is_empty()).then_some(())
    });
    rig.send(start(A, port, phone.local_addr().unwrap()));
    // The leg sends its ticks from the port Open bound, and the engine got both commands.
    let (_, from) = receive_until(&phone, |bytes, _| bytes.starts_with(b"tick"));
    assert_eq!(from, SocketAddr::new(LOOPBACK, port));
    let commands = rig.wait_for(0, "Open and Start", |seen| {
        (seen.commands.len() == 2).then(|| seen.commands.clone())
    });
    assert!(matches!(commands[0], MediaCommand::Open { call: A, .. }));
    assert!(matches!(commands[1], MediaCommand::Start { call: A, .. }));
    // A Start that bound the port again would have failed (EADDRINUSE) and never reached
    // the engine.
    let failures: Vec<_> = rig
        .reports
        .try_iter()
        .filter(|r| matches!(r, WorkerReport::Failed { .. }))
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn a_port_that_cannot_be_bound_is_reported_as_media_failed() {
    let mut rig = Rig::start(1);
    let taken = UdpSocket::bind((LOOPBACK, 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    rig.send(start(A, port, "127.0.0.1:9".parse().unwrap()));
    match rig.next_report() {
        WorkerReport::Failed { call, why } => {
            assert_eq!(call, A);
            assert!(
                why.starts_with(&format!("cannot bind RTP socket 127.0.0.1:{port}: ")),
                "{why}"
            );
        }
        other => panic!("unexpected report {other:?}"),
    }
    // The RTCP port taken fails the leg too, naming it.
    let pair = free_port_pair();
    let _rtcp_taken = UdpSocket::bind((LOOPBACK, pair + 1)).unwrap();
    rig.send(open(B, pair, B));
    match rig.next_report() {
        WorkerReport::Failed { call, why } => {
            assert_eq!(call, B);
            let expected = format!("cannot bind RTCP socket 127.0.0.1:{}: ", pair + 1);
            assert!(why.starts_with(&expected), "{why}");
        }
        other => panic!("unexpected report {other:?}"),
    }
    // Neither command reached the engine, and the RTP port of B was let go again.
    rig.send(open(C, free_port_pair(), C));
    rig.wait_for(0, "the third command", |seen| {
        (!seen.commands.is_empty()).then_some(())
    });
    let commands = rig.seen[0].lock().unwrap().commands.clone();
    assert!(
        matches!(commands[..], [MediaCommand::Open { call: C, .. }]),
        "{commands:?}"
    );
    assert!(UdpSocket::bind((LOOPBACK, pair)).is_ok());
}

#[test]
fn sockets_bind_the_listen_address() {
    // The workers are only ever told the listen address; this leg's far end sends to it.
    let mut rig = Rig::start(2);
    let port = free_port_pair();
    let phone = peer();
    rig.send(start(A, port, phone.local_addr().unwrap()));
    let (_, from) = receive_until(&phone, |bytes, _| bytes.starts_with(b"tick"));
    assert_eq!(from, SocketAddr::new(LOOPBACK, port));
}

#[test]
fn end_sends_the_engines_last_packet_then_closes_both_ports() {
    let mut rig = Rig::start(1);
    let port = free_port_pair();
    let phone = peer();
    rig.send(start(A, port, phone.local_addr().unwrap()));
    receive_until(&phone, |bytes, _| bytes.starts_with(b"tick"));
    assert!(
        UdpSocket::bind((LOOPBACK, port)).is_err(),
        "the leg holds its port"
    );
    rig.send(MediaCommand::End { call: A });
    let (_, from) = receive_until(&phone, |bytes, _| bytes == b"last");
    assert_eq!(
        from,
        SocketAddr::new(LOOPBACK, port),
        "the last packet left the leg's socket"
    );
    // The sockets close right after the last packet; bounded retries cover that moment.
    let deadline = Instant::now() + WAIT;
    let (rtp, rtcp) = loop {
        match (
            UdpSocket::bind((LOOPBACK, port)),
            UdpSocket::bind((LOOPBACK, port + 1)),
        ) {
            (Ok(rtp), Ok(rtcp)) => break (rtp, rtcp),
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "the ports stayed bound after End"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    };
    drop((rtp, rtcp));
}

#[test]
fn a_worker_with_nothing_to_tick_sleeps_until_a_command_comes_and_again_after_the_last_leg() {
    let mut rig = Rig::start(1);
    let waits = |rig: &Rig| rig.workers.stats()[0].waits.load(Ordering::Relaxed);
    // A worker that woke for its tick with no legs would have woken 15 times in this time.
    let asleep = Duration::from_millis(300);
    std::thread::sleep(asleep);
    assert!(
        rig.seen[0].lock().unwrap().ticks.is_empty(),
        "no tick without a leg"
    );
    assert!(waits(&rig) <= 1, "{} wake-ups without a leg", waits(&rig));
    let port = free_port_pair();
    let phone = peer();
    rig.send(start(A, port, phone.local_addr().unwrap()));
    receive_until(&phone, |bytes, _| bytes.starts_with(b"tick"));
    rig.wait_for(0, "three ticks", |seen| {
        (seen.ticks.len() >= 3).then_some(())
    });
    // The grid starts when the worker wakes: the 15 ticks of its sleep are not owed (a
    // stall of over 200 ms would be needed to skip 10 for real).
    let skipped = rig.workers.stats()[0].ticks_skipped.load(Ordering::Relaxed);
    assert!(
        skipped < 10,
        "{skipped} ticks counted as skipped after the sleep"
    );
    rig.send(MediaCommand::End { call: A });
    receive_until(&phone, |bytes, _| bytes == b"last");
    let at_end = (rig.seen[0].lock().unwrap().ticks.len(), waits(&rig));
    std::thread::sleep(asleep);
    let later = (rig.seen[0].lock().unwrap().ticks.len(), waits(&rig));
    // The loop pass that took the End may still tick and wait once more; then nothing.
    assert!(
        later.0 <= at_end.0 + 1 && later.1 <= at_end.1 + 2,
        "asleep again after the last leg: (ticks, wake-ups) {at_end:?} at the end, {later:?} later"
    );
}

#[test]
fn every_leg_of_a_conversation_lands_in_one_worker_of_four() {
    let mut rig = Rig::start(4);
    let mut worker_of = HashMap::new();
    for conversation in 10..22u64 {
        let caller = CallId(conversation);
        let agent = CallId(conversation + 1000);
        rig.send(start(
            caller,
            free_port_pair(),
            "127.0.0.1:9".parse().unwrap(),
        ));
        rig.send(open(agent, free_port_pair(), caller));
        rig.send(MediaCommand::Bridge {
            a: caller,
            b: agent,
        });
        worker_of.insert(conversation, rig.workers.worker_of(caller).unwrap());
    }
    let mut workers_used = HashSet::new();
    for (&conversation, &k) in &worker_of {
        workers_used.insert(k);
        let (caller, agent) = (CallId(conversation), CallId(conversation + 1000));
        let commands = rig.wait_for(k, "the conversation's three commands", |seen| {
            let mine: Vec<_> = seen
                .commands
                .iter()
                .filter(|c| match c {
                    MediaCommand::Start { call, .. } | MediaCommand::Open { call, .. } => {
                        *call == caller || *call == agent
                    }
                    MediaCommand::Bridge { a, .. } => *a == caller,
                    _ => false,
                })
                .cloned()
                .collect();
            (mine.len() == 3).then_some(mine)
        });
        assert!(matches!(commands[0], MediaCommand::Start { call, .. } if call == caller));
        assert!(matches!(commands[1], MediaCommand::Open { call, .. } if call == agent));
        assert_eq!(
            commands[2],
            MediaCommand::Bridge {
                a: caller,
                b: agent
            }
        );
    }
    assert!(
        workers_used.len() > 1,
        "conversations spread over the workers"
    );
    // No engine saw a leg of another worker's conversation.
    for (k, seen) in rig.seen.iter().enumerate() {
        for command in &seen.lock().unwrap().commands {
            if let MediaCommand::Start { call, .. } = command {
                assert_eq!(worker_of[&call.0], k);
            }
        }
    }
}

#[test]
fn stopping_ends_every_worker_thread() {
    let rig = Rig::start(3);
    let deadline = Instant::now() + WAIT;
    let ids = loop {
        let ids = rig.workers.thread_ids();
        if ids.iter().all(|&id| id != 0) {
            break ids;
        }
        assert!(Instant::now() < deadline, "workers never started");
        std::thread::sleep(Duration::from_millis(2));
    };
    let tasks = |ids: &[i32]| -> usize {
        ids.iter()
            .filter(|id| std::path::Path::new(&format!("/proc/self/task/{id}")).exists())
            .count()
    };
    assert_eq!(tasks(&ids), 3);
    let names: Vec<String> = ids
        .iter()
        .map(|id| std::fs::read_to_string(format!("/proc/self/task/{id}/comm")).unwrap())
        .collect();
    assert_eq!(names, ["media-0\n", "media-1\n", "media-2\n"]);
    rig.workers.stop(WAIT);
    assert_eq!(tasks(&ids), 0);
}

#[test]
fn a_worker_count_outside_one_to_sixty_four_is_refused() {
    for count in [0, 65] {
        let error = MediaWorkers::start(
            WorkerSettings {
                workers: count,
                listen_ip: LOOPBACK,
                relay_batch: RelayBatch::DEFAULT,
            },
            |_| FakeEngine::new(Arc::default()),
            |_report| {},
        )
        .err()
        .expect("refused");
        assert_eq!(
            error.to_string(),
            format!("{count} media workers: there must be 1 to 64")
        );
    }
}
