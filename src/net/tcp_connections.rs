//! The table of open SIP-over-TCP connections, owned by the core task: which connection a
//! `Transmit { transport: Tcp, destination }` goes out on (the one accepted from or opened to
//! `destination`; a new outgoing one when there is none), who may connect (per-address and
//! total caps, the descriptor share of `tcp_limits`), and each connection's bounded write
//! queue. The connections' own tasks live in `sip_transport`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

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

    /// Admits a connection accepted from `peer`, or says why not (the caller drops it).
    pub fn admit(&mut self, peer: SocketAddr) -> Result<ConnectionEnds, Refusal> {
        let from_ip = self
            .accepted_per_ip
            .get(&peer.ip().to_canonical())
            .copied()
            .unwrap_or(0);
        if from_ip >= self.limits.max_per_address {
            return Err(Refusal::PerAddressCap);
        }
        self.open(peer, Direction::Accepted)
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
        match self.open(destination, Direction::Opened) {
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

    fn open(&mut self, peer: SocketAddr, direction: Direction) -> Result<ConnectionEnds, Refusal> {
        if self.by_peer.len() >= self.limits.max_connections {
            return Err(Refusal::TotalCap);
        }
        if self.by_peer.len() >= tcp_share((self.soft_limit)(), self.base_fds) {
            return Err(Refusal::DescriptorShare);
        }
        // A peer that reconnects from the same address and port replaces its old connection.
        self.remove(peer);
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

#[cfg(test)]
mod tests;
