//! The table of open SIP-over-TCP connections, owned by the core task: which connection a
//! `Transmit { transport: Tcp, destination }` goes out on (the one accepted from or opened to
//! `destination`; a new outgoing one when there is none), who may connect (per-address and
//! total caps, the descriptor share of `tcp_limits`), which connections are vetted (accepted
//! from a trusted network, carrying an authenticated phone's REGISTER, or opened by the
//! switch) and so never make room for another, and each connection's bounded write queue.
//! When the table is full, the oldest unvetted connection is closed to admit a new one: a
//! stranger holding every slot with idle connections cannot lock out a trunk or a phone.
//! The connections' own tasks live in `sip_transport`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::tcp_limits::{fd_soft_limit, tcp_share, TcpLimits};

/// Whether the peer connected to us or we to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Direction {
    Accepted,
    Opened,
}

/// The core task's end of one connection. Dropping it closes the connection.
struct Connection {
    id: u64,
    direction: Direction,
    /// Never closed to make room: trusted, authenticated or ours.
    vetted: bool,
    queue: mpsc::UnboundedSender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    _close: oneshot::Sender<()>,
}

/// The connection task's ends: what to write, how much is queued, and the signal that the
/// switch closed it.
pub(super) struct ConnectionEnds {
    pub id: u64,
    pub peer: SocketAddr,
    pub direction: Direction,
    pub limits: TcpLimits,
    pub outbound: mpsc::UnboundedReceiver<Vec<u8>>,
    pub queued: Arc<AtomicUsize>,
    pub closed_by_switch: oneshot::Receiver<()>,
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    PerAddressCap,
    TotalCap,
    DescriptorShare,
}

/// What became of a message for a TCP destination.
pub(super) enum Sent {
    Queued,
    /// No connection to the destination: the caller connects with these ends (the message
    /// is already queued on them).
    Connect(ConnectionEnds),
    /// Not sent: a connection to it could not be admitted.
    Refused(Refusal),
    /// The connection's write queue would pass its bound: it is closed, the message dropped.
    QueueFull,
}

pub(super) struct TcpConnections {
    limits: TcpLimits,
    /// Unvetted connections closed to admit others, since start.
    pub evicted: u64,
    /// Connections refused, since start.
    pub refused: u64,
    by_peer: HashMap<SocketAddr, Connection>,
    accepted_per_ip: HashMap<IpAddr, usize>,
    next_id: u64,
    /// Descriptors open before the first connection (listeners, database, runtime).
    base_fds: usize,
    /// Reads the soft descriptor limit (the process's, in production).
    soft_limit: fn() -> u64,
}

impl TcpConnections {
    pub fn new(limits: TcpLimits, base_fds: usize) -> Self {
        TcpConnections::with_soft_limit(limits, base_fds, fd_soft_limit)
    }

    fn with_soft_limit(limits: TcpLimits, base_fds: usize, soft_limit: fn() -> u64) -> Self {
        TcpConnections {
            limits,
            evicted: 0,
            refused: 0,
            by_peer: HashMap::new(),
            accepted_per_ip: HashMap::new(),
            next_id: 1,
            base_fds,
            soft_limit,
        }
    }

    pub fn len(&self) -> usize {
        self.by_peer.len()
    }

    /// Admits a connection accepted from `peer` (`trusted`: from a trusted network), or says
    /// why not (the caller drops it).
    pub fn admit(&mut self, peer: SocketAddr, trusted: bool) -> Result<ConnectionEnds, Refusal> {
        let from_ip = self
            .accepted_per_ip
            .get(&peer.ip().to_canonical())
            .copied()
            .unwrap_or(0);
        if from_ip >= self.limits.max_per_address {
            self.refused += 1;
            return Err(Refusal::PerAddressCap);
        }
        self.open(peer, Direction::Accepted, trusted)
    }

    /// The connection from `peer` carried an authenticated phone's request: it is kept.
    pub fn vet(&mut self, peer: SocketAddr) {
        if let Some(connection) = self.by_peer.get_mut(&peer) {
            connection.vetted = true;
        }
    }

    /// Queues `payload` on the connection to `destination`, or opens one.
    pub fn send(&mut self, destination: SocketAddr, payload: Vec<u8>) -> Sent {
        if let Some(connection) = self.by_peer.get(&destination) {
            let queued = connection.queued.load(Ordering::Relaxed);
            if queued + payload.len() > self.limits.write_queue_bytes {
                self.remove(destination);
                return Sent::QueueFull;
            }
            connection
                .queued
                .fetch_add(payload.len(), Ordering::Relaxed);
            if connection.queue.send(payload).is_err() {
                // Its task has ended; the TcpClosed report is on its way.
                self.remove(destination);
            }
            return Sent::Queued;
        }
        match self.open(destination, Direction::Opened, true) {
            Ok(ends) => {
                let connection = &self.by_peer[&destination];
                connection
                    .queued
                    .fetch_add(payload.len(), Ordering::Relaxed);
                let _ = connection.queue.send(payload);
                Sent::Connect(ends)
            }
            Err(refusal) => Sent::Refused(refusal),
        }
    }

    /// A connection task ended (only the connection with this id is forgotten: the peer may
    /// have a newer one).
    pub fn closed(&mut self, peer: SocketAddr, id: u64) {
        if self.by_peer.get(&peer).is_some_and(|c| c.id == id) {
            self.remove(peer);
        }
    }

    /// Closes every connection (shutdown).
    pub fn close_all(&mut self) {
        self.by_peer.clear();
        self.accepted_per_ip.clear();
    }

    fn open(
        &mut self,
        peer: SocketAddr,
        direction: Direction,
        vetted: bool,
    ) -> Result<ConnectionEnds, Refusal> {
        // A peer that reconnects from the same address and port replaces its old connection.
        self.remove(peer);
        let full = if self.by_peer.len() >= self.limits.max_connections {
            Some(Refusal::TotalCap)
        } else if self.by_peer.len() >= tcp_share((self.soft_limit)(), self.base_fds) {
            Some(Refusal::DescriptorShare)
        } else {
            None
        };
        if let Some(refusal) = full {
            match self.oldest_unvetted() {
                Some(oldest) => {
                    self.remove(oldest);
                    self.evicted += 1;
                }
                None => {
                    self.refused += 1;
                    return Err(refusal);
                }
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let (queue, outbound) = mpsc::unbounded_channel();
        let (close, closed_by_switch) = oneshot::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        self.by_peer.insert(
            peer,
            Connection {
                id,
                direction,
                vetted,
                queue,
                queued: Arc::clone(&queued),
                _close: close,
            },
        );
        if direction == Direction::Accepted {
            *self
                .accepted_per_ip
                .entry(peer.ip().to_canonical())
                .or_default() += 1;
        }
        Ok(ConnectionEnds {
            id,
            peer,
            direction,
            limits: self.limits,
            outbound,
            queued,
            closed_by_switch,
        })
    }

    /// The unvetted connection open longest (the smallest id), if any.
    fn oldest_unvetted(&self) -> Option<SocketAddr> {
        self.by_peer
            .iter()
            .filter(|(_, c)| !c.vetted)
            .min_by_key(|(_, c)| c.id)
            .map(|(peer, _)| *peer)
    }

    fn remove(&mut self, peer: SocketAddr) {
        let Some(connection) = self.by_peer.remove(&peer) else {
            return;
        };
        if connection.direction == Direction::Accepted {
            let ip = peer.ip().to_canonical();
            if let Some(count) = self.accepted_per_ip.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    self.accepted_per_ip.remove(&ip);
                }
            }
        }
    }
}

/// How often at most a full connection table is reported.
const PRESSURE_REPORT_EVERY: Duration = Duration::from_secs(10);

/// The warning that the table is full: one line per [`PRESSURE_REPORT_EVERY`] at most, with
/// the connections closed to make room and refused since the last, so a flood of connects
/// is seen at the default log level without a line each.
#[derive(Default)]
pub(super) struct TcpPressure {
    reported_at: Option<Instant>,
    evicted: u64,
    refused: u64,
}

impl TcpPressure {
    /// Logs the warning when the table turned someone away since the last one and the last
    /// was long enough ago; says whether it did.
    pub fn report(&mut self, now: Instant, table: &TcpConnections) -> bool {
        let (evicted, refused) = (table.evicted - self.evicted, table.refused - self.refused);
        if evicted + refused == 0
            || self
                .reported_at
                .is_some_and(|at| now.saturating_duration_since(at) < PRESSURE_REPORT_EVERY)
        {
            return false;
        }
        tracing::warn!(
            open = table.len(),
            closed_to_make_room = evicted,
            refused,
            "TCP connections at their limit: the oldest not yet authenticated are closed for newcomers"
        );
        self.reported_at = Some(now);
        (self.evicted, self.refused) = (table.evicted, table.refused);
        true
    }
}

#[cfg(test)]
mod tests;
