//! net: the tokio drivers — the only place that owns sockets, the clock and signals.
//!
//! One task runs the sans-IO [`Switch`]: it feeds it what the SIP sockets, media workers and
//! timers produce, and carries out its [`Output`]s. Media runs on worker threads of its own
//! ([`media_workers`]: epoll, one 20 ms tick per worker, whole conversations each), started
//! by the [`MediaDriver`] `run` is given. Call records are written by one thread of their
//! own (see [`records`]) so SQLite never blocks signalling or media.
//! Must not: make call-handling decisions; those belong to `switch/`.

pub mod media_workers;
pub mod records;
mod sip_transport;
mod tcp_connections;
mod tcp_limits;

pub use tcp_limits::{raise_fd_limit, TcpLimits};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::media::engine::ConversationEngine;
use crate::media::MediaEvent;
use crate::sip::{CallId, Transport};
use crate::switch::{Output, Switch};

/// How long shutdown waits for calls to end before giving up on their BYEs.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What the sockets and media workers hand to the core task.
pub(crate) enum Inbound {
    Sip {
        transport: Transport,
        source: SocketAddr,
        bytes: Vec<u8>,
    },
    /// A connection accepted by the listener, for the core task to admit or drop.
    TcpAccepted {
        stream: TcpStream,
        peer: SocketAddr,
    },
    /// A connection's task ended (`id` tells it from a newer connection of the same peer).
    TcpClosed {
        peer: SocketAddr,
        id: u64,
    },
    Media {
        call: CallId,
        event: MediaEvent,
    },
    MediaFailed {
        call: CallId,
        why: String,
    },
}

/// Sockets the switch listens on, bound before the core starts.
pub struct Listeners {
    pub udp: Arc<UdpSocket>,
    pub tcp: tokio::net::TcpListener,
}

impl Listeners {
    /// Bind UDP and TCP on the same port (port 0: whatever UDP gets, then TCP on it).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Listeners> {
        for _ in 0..20 {
            let udp = UdpSocket::bind(addr).await?;
            let bound = udp.local_addr()?;
            match tokio::net::TcpListener::bind(bound).await {
                Ok(tcp) => {
                    return Ok(Listeners {
                        udp: Arc::new(udp),
                        tcp,
                    })
                }
                Err(e) if addr.port() != 0 => return Err(e),
                Err(_) => continue,
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "no port free for both UDP and TCP",
        ))
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }
}

/// The media workers [`run`] starts.
pub struct MediaDriver {
    start: StartWorkers,
}

/// Starts the workers once `run` has the channel their reports go to.
type StartWorkers = Box<
    dyn FnOnce(mpsc::UnboundedSender<Inbound>) -> std::io::Result<media_workers::MediaWorkers>
        + Send,
>;

impl MediaDriver {
    /// Media worker threads ([`media_workers`]), each running the engine `engine(K)` makes.
    pub fn workers<E, F>(settings: media_workers::WorkerSettings, engine: F) -> MediaDriver
    where
        E: ConversationEngine + Send + 'static,
        F: FnMut(usize) -> E + Send + 'static,
    {
        MediaDriver {
            start: Box::new(move |inbox| {
                media_workers::MediaWorkers::start(settings, engine, move |report| {
                    let _ = inbox.send(match report {
                        media_workers::WorkerReport::Media { call, event } => {
                            Inbound::Media { call, event }
                        }
                        media_workers::WorkerReport::Failed { call, why } => {
                            Inbound::MediaFailed { call, why }
                        }
                    });
                })
            }),
        }
    }
}

/// How long shutdown waits for the media workers to stop.
const MEDIA_WORKERS_STOP: Duration = Duration::from_secs(2);

/// Framed TCP messages waiting for the core task; a connection whose frame does not fit
/// stops reading until one does.
const TCP_FRAMES_WAITING: usize = 256;

/// Runs the switch until SIGINT/SIGTERM, then ends calls and returns.
pub async fn run(
    mut switch: Switch,
    listeners: Listeners,
    media: MediaDriver,
    records: records::RecordWriter,
    tcp_limits: TcpLimits,
) {
    let (inbox_tx, mut inbox) = mpsc::unbounded_channel::<Inbound>();
    let (frames_tx, mut frames) = mpsc::channel::<sip_transport::TcpFrame>(TCP_FRAMES_WAITING);
    sip_transport::spawn_udp(Arc::clone(&listeners.udp), inbox_tx.clone());
    sip_transport::spawn_tcp_accept(listeners.tcp, inbox_tx.clone());

    let base_fds = tcp_limits::open_fds();
    tracing::info!(
        fd_limit = tcp_limits::fd_soft_limit(),
        open = base_fds,
        tcp_connections = tcp_limits
            .max_connections
            .min(tcp_limits::tcp_share(tcp_limits::fd_soft_limit(), base_fds)),
        "file descriptors: TCP may use at most half of those left; the rest is kept for media"
    );
    let mut tcp = tcp_connections::TcpConnections::new(tcp_limits, base_fds);
    let mut media = match (media.start)(inbox_tx.clone()) {
        Ok(workers) => workers,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the media workers");
            return;
        }
    };
    let mut shutdown = Box::pin(shutdown_signal());
    let mut stopping_since: Option<Instant> = None;
    // Journey recordings the media side has not reported finished: at shutdown the workers
    // keep running until they are (bounded by the grace), so their rows say complete. One
    // per call in progress, so bounded by the switch's admission.
    let mut recordings_open: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut tcp_pressure = tcp_connections::TcpPressure::default();

    loop {
        let wake = switch.poll_timeout();
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            inbound = inbox.recv() => {
                let Some(inbound) = inbound else { break };
                let now = Instant::now();
                match inbound {
                    Inbound::Sip { transport, source, bytes } => switch.handle_sip(now, transport, source, &bytes),
                    Inbound::TcpAccepted { stream, peer } => {
                        match tcp.admit(peer, switch.trusts(peer.ip())) {
                            Ok(ends) => sip_transport::spawn_connection(stream, ends, frames_tx.clone(), inbox_tx.clone()),
                            // Dropping the stream closes it at once.
                            Err(refusal) => tracing::debug!(%peer, ?refusal, open = tcp.len(), "TCP connection refused"),
                        }
                        tcp_pressure.report(Instant::now(), &tcp);
                    }
                    Inbound::TcpClosed { peer, id } => tcp.closed(peer, id),
                    Inbound::Media { call, event } => {
                        if let MediaEvent::JourneyRecorded { record_id, .. } = &event {
                            recordings_open.remove(record_id);
                        }
                        switch.handle_media_event(now, call, event)
                    }
                    Inbound::MediaFailed { call, why } => {
                        media.forget(call);
                        switch.handle_media_failure(now, call, &why);
                    }
                }
            }
            frame = frames.recv() => {
                // The channel never closes: this task holds a sender.
                if let Some(frame) = frame {
                    switch.handle_sip(Instant::now(), Transport::Tcp, frame.peer, &frame.bytes);
                    for peer in switch.take_vetted_tcp_peers() {
                        tcp.vet(peer);
                    }
                }
            }
            _ = sleep => switch.handle_timeout(Instant::now()),
            _ = &mut shutdown, if stopping_since.is_none() => {
                tracing::info!(calls = switch.active_calls(), "shutting down: refusing new calls, ending calls in progress");
                stopping_since = Some(Instant::now());
                switch.shutdown(Instant::now());
            }
            _ = tokio::time::sleep(Duration::from_millis(250)), if stopping_since.is_some() => {}
        }

        while let Some(output) = switch.poll_output() {
            match output {
                Output::Transmit(t) => match t.transport {
                    Transport::Udp => {
                        if let Err(e) = listeners.udp.try_send_to(&t.payload, t.destination) {
                            tracing::warn!(destination = %t.destination, error = %e, "SIP send failed");
                        }
                    }
                    Transport::Tcp => match tcp.send(t.destination, t.payload) {
                        tcp_connections::Sent::Queued => {}
                        tcp_connections::Sent::Connect(ends) => {
                            sip_transport::spawn_connect(ends, frames_tx.clone(), inbox_tx.clone())
                        }
                        tcp_connections::Sent::Refused(refusal) => {
                            tracing::warn!(destination = %t.destination, ?refusal, "no TCP connection may be opened; SIP message dropped")
                        }
                        tcp_connections::Sent::QueueFull => {
                            tracing::warn!(peer = %t.destination, "TCP peer does not read what we send; connection closed")
                        }
                    },
                },
                Output::Media(command) => {
                    if let crate::media::command::MediaCommand::RecordJourney {
                        record_id, ..
                    } = &command
                    {
                        recordings_open.insert(record_id.clone());
                    }
                    media.send(command);
                }
                Output::Record(command) => records.send(command),
            }
        }
        media.flush();

        if let Some(since) = stopping_since {
            if (switch.is_idle() && recordings_open.is_empty()) || since.elapsed() > SHUTDOWN_GRACE
            {
                break;
            }
        }
    }
    media.stop(MEDIA_WORKERS_STOP);
    tcp.close_all();
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
