//! The media worker threads (issue 7): a few threads, separate from the SIP thread, each
//! owning whole conversations — the sockets of every leg of its calls and a
//! [`ConversationEngine`] that relays, plays and records between them on one 20 ms tick.
//!
//! This module owns the threads and the routing: [`MediaWorkers::send`] takes the switch's
//! media commands on the SIP thread and queues each to the worker of its conversation
//! ([`route`]), [`MediaWorkers::flush`] wakes the workers that got some (one eventfd write per
//! batch), and events come back through the `reports` callback each worker calls. The
//! engine's decisions live in `media/`; the system calls live in [`worker`] and [`epoll`].
//! Must not: decide anything about a call, or share anything across calls on the per-packet
//! path.

mod epoll;
mod route;
mod tick;
mod worker;

#[cfg(test)]
mod tests;

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::media::command::MediaCommand;
use crate::media::engine::ConversationEngine;
use crate::media::MediaEvent;
use crate::sip::CallId;

use epoll::EventFd;
use route::Router;
use worker::{Message, Worker};

/// At most this many media workers (`--media-workers`).
pub const MAX_MEDIA_WORKERS: usize = 64;

/// How many workers by default: one per core, less one for the SIP thread, at least one.
pub fn default_media_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_sub(1).clamp(1, MAX_MEDIA_WORKERS)
}

/// The longest a relayed packet waits in a worker so that the packets of many calls are
/// forwarded in one wake-up (`--relay-batch-ms`): after a wake-up that found datagrams the
/// worker looks again at the next point of a grid of this period locked to its 20 ms tick.
/// A steady stream's packets fall on the same point every time, so the wait adds a fixed
/// delay (at most the period) and no jitter. Zero forwards every packet as it comes, one
/// wake-up each.
///
/// The trade, measured on the 2-core machine with 50 bridged calls (`tests/load/bridged.sh`):
/// a wake-up costs about as much as relaying ten packets, and packets come every 0.2 ms, so
/// looking again 2 ms later cost 0.34 ms of CPU per call-second; 10 ms, 0.26; 20 ms, 0.23.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayBatch(Duration);

impl RelayBatch {
    /// The milliseconds allowed: 0, or a divisor of the tick, so the grid's points fall on
    /// the ticks.
    pub const ALLOWED_MS: [u64; 7] = [0, 1, 2, 4, 5, 10, 20];
    /// 10 ms: at most 10 ms (5 ms on average) of delay on relayed audio, a twentieth of the
    /// 150 ms one-way budget of ITU-T G.114, for a third less CPU than 2 ms (see above).
    pub const DEFAULT: RelayBatch = RelayBatch(Duration::from_millis(10));

    /// `ms` if allowed, else a sentence saying what is.
    pub fn from_ms(ms: u64) -> Result<RelayBatch, String> {
        if Self::ALLOWED_MS.contains(&ms) {
            Ok(RelayBatch(Duration::from_millis(ms)))
        } else {
            Err(format!(
                "{ms} ms is not a relay batch: it must be 0 (forward each packet at once) or divide the 20 ms tick: 1, 2, 4, 5, 10 or 20"
            ))
        }
    }

    pub fn period(self) -> Duration {
        self.0
    }
}

impl Default for RelayBatch {
    fn default() -> RelayBatch {
        RelayBatch::DEFAULT
    }
}

/// How the workers are set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerSettings {
    /// How many worker threads (1 to [`MAX_MEDIA_WORKERS`]).
    pub workers: usize,
    /// How long a relayed packet may wait for others to go out in the same wake-up.
    pub relay_batch: RelayBatch,
    /// The address RTP and RTCP sockets bind to: the SIP listen address (0.0.0.0 or ::
    /// when that is unspecified), never the advertised one, which behind 1:1 NAT is not
    /// an address of this host.
    pub listen_ip: IpAddr,
}

/// What a worker tells the switch.
#[derive(Debug)]
pub enum WorkerReport {
    /// An event of the engine for one of the worker's legs.
    Media { call: CallId, event: MediaEvent },
    /// `call`'s sockets could not be opened: its command went no further.
    Failed { call: CallId, why: String },
}

/// A worker's running totals, published once per tick (never per packet): what the load
/// benchmark reads to count system calls per packet.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// `epoll_wait` calls: one per wake-up.
    pub waits: AtomicU64,
    pub ticks: AtomicU64,
    /// Ticks a stall made it skip (beyond the few it catches up).
    pub ticks_skipped: AtomicU64,
    /// Datagrams received: one `recvfrom` each.
    pub received: AtomicU64,
    /// Datagrams sent: one `sendto` each.
    pub sent: AtomicU64,
    /// Datagrams dropped because the socket buffer was full (EAGAIN).
    pub send_would_block: AtomicU64,
    pub send_failed: AtomicU64,
}

struct WorkerHandle {
    messages: mpsc::Sender<Message>,
    wake: Arc<EventFd>,
    thread: Option<JoinHandle<()>>,
    thread_id: Arc<AtomicI32>,
    stats: Arc<WorkerStats>,
    /// Commands were queued since the last wake-up.
    pending: bool,
}

/// The running media workers, driven from the SIP thread.
pub struct MediaWorkers {
    workers: Vec<WorkerHandle>,
    router: Router,
}

impl MediaWorkers {
    /// Starts `settings.workers` threads named `media-K`, each with the engine
    /// `engine(K)` makes and its own clone of `reports`.
    pub fn start<E, F, R>(
        settings: WorkerSettings,
        mut engine: F,
        reports: R,
    ) -> io::Result<MediaWorkers>
    where
        E: ConversationEngine + Send + 'static,
        F: FnMut(usize) -> E,
        R: FnMut(WorkerReport) + Clone + Send + 'static,
    {
        if !(1..=MAX_MEDIA_WORKERS).contains(&settings.workers) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} media workers: there must be 1 to {MAX_MEDIA_WORKERS}",
                    settings.workers
                ),
            ));
        }
        let mut started = MediaWorkers {
            workers: Vec::with_capacity(settings.workers),
            router: Router::new(settings.workers),
        };
        for index in 0..settings.workers {
            let (messages, receiver) = mpsc::channel();
            let wake = Arc::new(EventFd::new()?);
            let thread_id = Arc::new(AtomicI32::new(0));
            let stats = Arc::new(WorkerStats::default());
            let worker = Worker {
                index,
                engine: engine(index),
                reports: reports.clone(),
                messages: receiver,
                wake: Arc::clone(&wake),
                listen_ip: settings.listen_ip,
                relay_batch: settings.relay_batch.period(),
                thread_id: Arc::clone(&thread_id),
                stats: Arc::clone(&stats),
            };
            let thread = std::thread::Builder::new()
                .name(format!("media-{index}"))
                .spawn(move || worker.run())?;
            started.workers.push(WorkerHandle {
                messages,
                wake,
                thread: Some(thread),
                thread_id,
                stats,
                pending: false,
            });
        }
        Ok(started)
    }

    /// Queues `command` to the worker of its call's conversation (dropped, with a log
    /// line, when no worker owns the call). Workers see it after the next [`flush`].
    ///
    /// [`flush`]: MediaWorkers::flush
    pub fn send(&mut self, command: MediaCommand) {
        let Some(index) = self.router.route(&command) else {
            return;
        };
        let worker = &mut self.workers[index];
        if worker.messages.send(Message::Command(command)).is_ok() {
            worker.pending = true;
        }
    }

    /// Wakes every worker that has commands waiting: one eventfd write each.
    pub fn flush(&mut self) {
        for worker in &mut self.workers {
            if std::mem::take(&mut worker.pending) {
                worker.wake.notify();
            }
        }
    }

    /// Forgets `call` (its sockets failed, so no `End` will come for it).
    pub fn forget(&mut self, call: CallId) {
        self.router.forget(call);
    }

    /// The worker that owns `call`, if any.
    pub fn worker_of(&self, call: CallId) -> Option<usize> {
        self.router.worker_of(call)
    }

    /// The kernel thread ids of the workers (0 until a thread has started), for CPU
    /// figures from `/proc/self/task/<tid>/stat`.
    pub fn thread_ids(&self) -> Vec<i32> {
        self.workers
            .iter()
            .map(|w| w.thread_id.load(Ordering::Acquire))
            .collect()
    }

    /// Each worker's running totals.
    pub fn stats(&self) -> Vec<Arc<WorkerStats>> {
        self.workers.iter().map(|w| Arc::clone(&w.stats)).collect()
    }

    /// Stops every worker and waits at most `bound` for them all; a worker still running
    /// then is left to end with the process (logged).
    pub fn stop(mut self, bound: Duration) {
        self.stop_within(bound);
    }

    fn stop_within(&mut self, bound: Duration) {
        for worker in &self.workers {
            let _ = worker.messages.send(Message::Stop);
            worker.wake.notify();
        }
        let deadline = Instant::now() + bound;
        for (index, worker) in self.workers.iter_mut().enumerate() {
            let Some(thread) = worker.thread.take() else {
                continue;
            };
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                tracing::warn!(worker = index, "media worker did not stop in time");
            }
        }
    }
}

impl Drop for MediaWorkers {
    fn drop(&mut self) {
        self.stop_within(Duration::from_secs(1));
    }
}
