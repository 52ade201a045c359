//! One media worker thread: it owns the RTP and RTCP sockets of the legs its conversations
//! have, sleeps in one level-triggered epoll on them and on its command eventfd, feeds the
//! engine each datagram (one `recvfrom` per readiness), each command and one 20 ms tick for
//! all its legs, and sends whatever the engine hands back with one `sendto` each. A worker
//! whose engine is idle (no legs, no report to wait for) sleeps without the tick.
//!
//! Nothing here allocates per packet or takes a lock: one receive buffer per worker, the
//! engine's transmits are borrowed, and a leg's socket is found by its slot in the epoll
//! token (datagrams in) or by its call in this worker's own map (datagrams out).

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::epoll::{Epoll, EventFd};
use super::tick::TickSchedule;
use super::{WorkerReport, WorkerStats};
use crate::media::command::MediaCommand;
use crate::media::engine::{ConversationEngine, Transmit};
use crate::sip::{CallId, CallIdMap};

/// The media clock: one packet per leg per tick.
pub(super) const TICK: Duration = Duration::from_millis(20);
/// Missed ticks run at once after a stall; older ones are skipped (the far end's jitter
/// buffer would drop a longer burst anyway).
const MAX_CATCH_UP: u64 = 3;
/// Room for readiness events in one wait, at first. It grows with the sockets watched, so
/// one wait takes every ready socket: a capped wait would leave the rest a relay batch later
/// (with a 20 ms batch and 300 legs, 44 sockets a tick fell behind until their buffers
/// overflowed).
const EVENTS_PER_WAIT: usize = 256;

/// Larger than any RTP or RTCP datagram a G.711 leg sees; longer ones are truncated.
const RECEIVE_BUFFER: usize = 2048;
/// The epoll token of the command eventfd; legs use `slot << 1 | rtcp`.
const WAKE_TOKEN: u64 = u64::MAX;

/// What the SIP thread puts in a worker's channel.
pub(super) enum Message {
    Command(MediaCommand),
    Stop,
}

/// What a worker counted that never reaches the switch: logged when it stops, published
/// (see [`WorkerStats`]) once per tick.
#[derive(Debug, Default)]
struct Counters {
    /// `epoll_wait` calls (every wake-up, for a packet, a command or a tick).
    waits: u64,
    ticks: u64,
    received: u64,
    sent: u64,
    /// Sends that found the socket buffer full (EAGAIN): dropped, never waited for.
    send_would_block: u64,
    send_failed: u64,
    receive_failed: u64,
    /// Transmits for a call this worker has no socket for.
    no_socket: u64,
}

/// One leg's pair of sockets: RTP on the even port, RTCP on the odd one above it.
struct LegSockets {
    call: CallId,
    port: u16,
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

/// The sockets of every leg this worker owns.
struct Sockets {
    listen_ip: IpAddr,
    slots: Vec<Option<LegSockets>>,
    free: Vec<usize>,
    slot_of: CallIdMap<usize>,
    counters: Counters,
}

impl Sockets {
    /// Binds `call`'s RTP and RTCP ports on the listen address, unless it already has them
    /// on `port` (an `Open` before its `Start`). A leg that moves to another port is re-bound.
    fn ensure_bound(&mut self, epoll: &Epoll, call: CallId, port: u16) -> Result<(), String> {
        if let Some(&slot) = self.slot_of.get(&call) {
            if self.slots[slot].as_ref().is_some_and(|l| l.port == port) {
                return Ok(());
            }
            self.close(epoll, call);
        }
        let rtp_at = SocketAddr::new(self.listen_ip, port);
        let rtp = bind(rtp_at).map_err(|e| format!("cannot bind RTP socket {rtp_at}: {e}"))?;
        let rtcp_port = port
            .checked_add(1)
            .ok_or_else(|| format!("no RTCP port above {rtp_at}"))?;
        let rtcp_at = SocketAddr::new(self.listen_ip, rtcp_port);
        let rtcp = bind(rtcp_at).map_err(|e| format!("cannot bind RTCP socket {rtcp_at}: {e}"))?;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let token = (slot as u64) << 1;
        let watched = epoll
            .add(rtp.as_raw_fd(), token)
            .and_then(|()| epoll.add(rtcp.as_raw_fd(), token | 1));
        if let Err(e) = watched {
            epoll.delete(rtp.as_raw_fd());
            self.free.push(slot);
            return Err(format!("cannot watch the sockets of {rtp_at}: {e}"));
        }
        self.slots[slot] = Some(LegSockets {
            call,
            port,
            rtp,
            rtcp,
        });
        self.slot_of.insert(call, slot);
        Ok(())
    }

    /// The most descriptors the epoll can report at once: both sockets of every slot, and
    /// the command eventfd.
    fn watched(&self) -> usize {
        self.slots.len() * 2 + 1
    }

    /// Closes `call`'s sockets, if it has any: its ports can be bound again at once.
    fn close(&mut self, epoll: &Epoll, call: CallId) {
        let Some(slot) = self.slot_of.remove(&call) else {
            return;
        };
        if let Some(leg) = self.slots[slot].take() {
            epoll.delete(leg.rtp.as_raw_fd());
            epoll.delete(leg.rtcp.as_raw_fd());
        }
        self.free.push(slot);
    }

    /// Sends one datagram with one system call; a full socket buffer drops it.
    fn send(&mut self, transmit: &Transmit<'_>) {
        let Some(leg) = self
            .slot_of
            .get(&transmit.call)
            .and_then(|&slot| self.slots[slot].as_ref())
        else {
            self.counters.no_socket += 1;
            return;
        };
        let socket = if transmit.rtcp { &leg.rtcp } else { &leg.rtp };
        let to = match (self.listen_ip, transmit.to) {
            // A dual-stack socket on `::` reaches IPv4 peers through mapped addresses.
            (IpAddr::V6(_), SocketAddr::V4(v4)) => {
                SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            (_, to) => to,
        };
        match socket.send_to(transmit.bytes, to) {
            Ok(_) => self.counters.sent += 1,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.counters.send_would_block += 1,
            Err(e) => {
                self.counters.send_failed += 1;
                tracing::trace!(call = %transmit.call, to = %to, error = %e, "media send failed");
            }
        }
    }
}

fn bind(at: SocketAddr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(at)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// One worker: its engine, its sockets, and what connects it to the SIP thread.
pub(super) struct Worker<E, R> {
    pub(super) index: usize,
    pub(super) engine: E,
    pub(super) reports: R,
    pub(super) messages: Receiver<Message>,
    pub(super) wake: Arc<EventFd>,
    pub(super) listen_ip: IpAddr,
    /// See `RelayBatch`.
    pub(super) relay_batch: Duration,
    /// Where the thread writes its kernel thread id (for CPU figures from /proc).
    pub(super) thread_id: Arc<AtomicI32>,
    pub(super) stats: Arc<WorkerStats>,
}

impl<E, R> Worker<E, R>
where
    E: ConversationEngine,
    R: FnMut(WorkerReport),
{
    /// Runs until `Stop` (or the SIP side is gone).
    pub(super) fn run(self) {
        // SAFETY: gettid has no preconditions.
        self.thread_id
            .store(unsafe { libc::gettid() }, Ordering::Release);
        let epoll = match Epoll::new().and_then(|epoll| {
            epoll.add(self.wake.raw(), WAKE_TOKEN)?;
            Ok(epoll)
        }) {
            Ok(epoll) => epoll,
            Err(e) => {
                tracing::error!(worker = self.index, error = %e, "media worker cannot start epoll");
                return;
            }
        };
        let mut running = Running {
            index: self.index,
            engine: self.engine,
            reports: self.reports,
            sockets: Sockets {
                listen_ip: self.listen_ip,
                slots: Vec::new(),
                free: Vec::new(),
                slot_of: CallIdMap::default(),
                counters: Counters::default(),
            },
            epoll,
            buffer: vec![0; RECEIVE_BUFFER].into_boxed_slice(),
            stats: self.stats,
            relay_batch: self.relay_batch,
        };
        running.run(&self.messages, &self.wake);
    }
}

struct Running<E, R> {
    index: usize,
    engine: E,
    reports: R,
    sockets: Sockets,
    epoll: Epoll,
    buffer: Box<[u8]>,
    stats: Arc<WorkerStats>,
    relay_batch: Duration,
}

impl<E, R> Running<E, R>
where
    E: ConversationEngine,
    R: FnMut(WorkerReport),
{
    fn run(&mut self, messages: &Receiver<Message>, wake: &EventFd) {
        let mut schedule = TickSchedule::new(Instant::now(), TICK, MAX_CATCH_UP);
        let mut events: Vec<libc::epoll_event> = Vec::with_capacity(EVENTS_PER_WAIT);
        loop {
            // With nothing to tick, the worker sleeps until a command (or a stray datagram)
            // comes instead of waking 50 times a second, and the tick grid starts afresh
            // from that moment.
            let idle = self.engine.idle();
            if idle {
                self.drain();
                self.publish(schedule.skipped());
            }
            let timeout = if idle {
                -1
            } else {
                schedule.timeout_ms(Instant::now())
            };
            // Room for every descriptor watched, however many commands opened since.
            let watched = self.sockets.watched();
            if events.capacity() < watched {
                events = Vec::with_capacity(watched);
            }
            self.sockets.counters.waits += 1;
            if let Err(e) = self.epoll.wait(&mut events, timeout) {
                tracing::error!(worker = self.index, error = %e, "media worker epoll failed");
                break;
            }
            let now = Instant::now();
            if idle {
                schedule.restart(now);
            }
            let mut woken = false;
            let mut datagrams = false;
            for event in &events {
                let token = event.u64;
                if token == WAKE_TOKEN {
                    woken = true;
                } else {
                    datagrams = true;
                    self.receive(now, token);
                }
            }
            // Commands after the datagrams: slots only change between waits, so no token
            // of this wait can name a slot a command just reused.
            if woken && !self.take_commands(messages, wake) {
                break;
            }
            let due = schedule.take_due(Instant::now());
            for _ in 0..due {
                self.sockets.counters.ticks += 1;
                self.engine.on_tick(Instant::now());
                self.drain();
            }
            if due > 0 {
                self.publish(schedule.skipped());
            }
            if datagrams {
                // Packets of many legs arrive spread over a tick: the worker looks again at
                // the next point of the relay batch's grid (never past the tick), taking them
                // in a few batches instead of one wake-up each (see `RelayBatch`).
                let pause = schedule.until_grid(Instant::now(), self.relay_batch);
                if !pause.is_zero() {
                    std::thread::sleep(pause);
                    // What the switch sent meanwhile goes first: a Start that came with the
                    // far end's first packets must be in place before they are taken (the
                    // packets would otherwise meet a leg not yet answered, and be refused).
                    if !self.take_commands(messages, wake) {
                        break;
                    }
                }
            }
        }
        self.publish(schedule.skipped());
        let c = &self.sockets.counters;
        tracing::debug!(
            worker = self.index,
            waits = c.waits,
            ticks = c.ticks,
            received = c.received,
            sent = c.sent,
            send_would_block = c.send_would_block,
            send_failed = c.send_failed,
            receive_failed = c.receive_failed,
            no_socket = c.no_socket,
            ticks_skipped = schedule.skipped(),
            "media worker stopped"
        );
    }

    fn publish(&self, ticks_skipped: u64) {
        let c = &self.sockets.counters;
        let s = &self.stats;
        for (to, value) in [
            (&s.waits, c.waits),
            (&s.ticks, c.ticks),
            (&s.ticks_skipped, ticks_skipped),
            (&s.received, c.received),
            (&s.sent, c.sent),
            (&s.send_would_block, c.send_would_block),
            (&s.send_failed, c.send_failed),
        ] {
            to.store(value, Ordering::Relaxed);
        }
    }

    /// One `recvfrom` on the socket `token` names: level triggering brings the socket back
    /// on the next wait if more is queued, so no second read ever finds it empty.
    fn receive(&mut self, now: Instant, token: u64) {
        let slot = (token >> 1) as usize;
        let rtcp = token & 1 == 1;
        let Some(leg) = self.sockets.slots.get(slot).and_then(Option::as_ref) else {
            return;
        };
        let socket = if rtcp { &leg.rtcp } else { &leg.rtp };
        match socket.recv_from(&mut self.buffer) {
            Ok((n, from)) => {
                self.sockets.counters.received += 1;
                let from = SocketAddr::new(from.ip().to_canonical(), from.port());
                self.engine
                    .on_datagram(now, leg.call, rtcp, from, &self.buffer[..n]);
                self.drain();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                self.sockets.counters.receive_failed += 1;
                tracing::trace!(call = %leg.call, error = %e, "media receive failed");
            }
        }
    }

    /// Takes every queued command; false when the worker must stop.
    fn take_commands(&mut self, messages: &Receiver<Message>, wake: &EventFd) -> bool {
        // Cleared before reading: a command queued after this read wakes the next wait.
        wake.clear();
        loop {
            match messages.try_recv() {
                Ok(Message::Command(command)) => self.command(command),
                Ok(Message::Stop) | Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => return true,
            }
        }
    }

    fn command(&mut self, command: MediaCommand) {
        let needs_socket = match &command {
            MediaCommand::Open {
                call, local_port, ..
            }
            | MediaCommand::Start {
                call, local_port, ..
            } => Some((*call, *local_port)),
            _ => None,
        };
        if let Some((call, port)) = needs_socket {
            if let Err(why) = self.sockets.ensure_bound(&self.epoll, call, port) {
                (self.reports)(WorkerReport::Failed { call, why });
                return;
            }
        }
        let ended = match &command {
            MediaCommand::End { call } => Some(*call),
            _ => None,
        };
        self.engine.command(Instant::now(), command);
        self.drain();
        // After the engine's last packets (an RTCP BYE) and its Quality event.
        if let Some(call) = ended {
            self.sockets.close(&self.epoll, call);
        }
    }

    fn drain(&mut self) {
        while let Some(transmit) = self.engine.poll_transmit() {
            self.sockets.send(&transmit);
        }
        while let Some((call, event)) = self.engine.poll_event() {
            (self.reports)(WorkerReport::Media { call, event });
        }
    }
}
