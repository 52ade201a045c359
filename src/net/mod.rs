//! net: the tokio drivers — the only place that owns sockets, the clock and signals.
//!
//! One task runs the sans-IO [`Switch`]: it feeds it what the SIP sockets, media tasks and
//! timers produce, and carries out its [`Output`]s. Media runs on the driver
//! [`MediaDriver`] names: today each answered call gets a media task (its RTP socket and
//! 20 ms clock, see [`media`]); the media worker threads of issue 7 ([`media_workers`]) take
//! over once their engine is in. Call records are written by one
//! thread of their own (see [`records`]) so SQLite never blocks signalling or media.
//! Must not: make call-handling decisions; those belong to `switch/`.

pub mod media;
pub mod media_workers;
pub mod records;
mod sip_transport;
mod tcp_connections;
mod tcp_limits;

pub use tcp_limits::{raise_fd_limit, TcpLimits};

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::media::command::MediaCommand;
use crate::media::engine::ConversationEngine;
use crate::media::prompt::PromptLibrary;
use crate::media::session::MediaEvent;
use crate::sip::{CallId, Transport};
use crate::switch::{Output, Switch};

/// How long shutdown waits for calls to end before giving up on their BYEs.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What the sockets and media tasks hand to the core task.
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

/// Which media driver [`run`] uses.
pub struct MediaDriver {
    kind: DriverKind,
}

/// Starts the workers once `run` has the channel their reports go to.
type StartWorkers = Box<
    dyn FnOnce(mpsc::UnboundedSender<Inbound>) -> std::io::Result<media_workers::MediaWorkers>
        + Send,
>;

enum DriverKind {
    Tasks {
        prompts: Arc<PromptLibrary>,
        listen_ip: IpAddr,
    },
    Workers(StartWorkers),
}

impl MediaDriver {
    /// One tokio task per leg on the SIP thread ([`media`]), binding RTP on `listen_ip`.
    pub fn tasks(prompts: Arc<PromptLibrary>, listen_ip: IpAddr) -> MediaDriver {
        MediaDriver {
            kind: DriverKind::Tasks { prompts, listen_ip },
        }
    }

    /// Media worker threads ([`media_workers`]), each running the engine `engine(K)` makes.
    pub fn workers<E, F>(settings: media_workers::WorkerSettings, engine: F) -> MediaDriver
    where
        E: ConversationEngine + Send + 'static,
        F: FnMut(usize) -> E + Send + 'static,
    {
        MediaDriver {
            kind: DriverKind::Workers(Box::new(move |inbox| {
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
            })),
        }
    }
}

/// The running media driver.
enum Media {
    Tasks {
        tasks: HashMap<CallId, media::MediaTask>,
        prompts: Arc<PromptLibrary>,
        listen_ip: IpAddr,
    },
    Workers(media_workers::MediaWorkers),
}

/// How long shutdown waits for the media workers to stop.
const MEDIA_WORKERS_STOP: Duration = Duration::from_secs(2);

impl Media {
    fn send(&mut self, command: MediaCommand, inbox: &mpsc::UnboundedSender<Inbound>) {
        match self {
            Media::Tasks {
                tasks,
                prompts,
                listen_ip,
            } => media::dispatch(command, tasks, prompts, *listen_ip, inbox),
            Media::Workers(workers) => workers.send(command),
        }
    }

    /// Wakes the workers that were given commands (one system call per worker and batch).
    fn flush(&mut self) {
        if let Media::Workers(workers) = self {
            workers.flush();
        }
    }

    fn failed(&mut self, call: CallId) {
        match self {
            Media::Tasks { tasks, .. } => {
                tasks.remove(&call);
            }
            Media::Workers(workers) => workers.forget(call),
        }
    }

    fn stop(self) {
        match self {
            Media::Tasks { mut tasks, .. } => {
                for (_, task) in tasks.drain() {
                    task.end();
                }
            }
            Media::Workers(workers) => workers.stop(MEDIA_WORKERS_STOP),
        }
    }
}

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
    let mut media = match media.kind {
        DriverKind::Tasks { prompts, listen_ip } => Media::Tasks {
            tasks: HashMap::new(),
            prompts,
            listen_ip,
        },
        DriverKind::Workers(start) => match start(inbox_tx.clone()) {
            Ok(workers) => Media::Workers(workers),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the media workers");
                return;
            }
        },
    };
    let mut shutdown = Box::pin(shutdown_signal());
    let mut stopping_since: Option<Instant> = None;

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
                    Inbound::TcpAccepted { stream, peer } => match tcp.admit(peer) {
                        Ok(ends) => sip_transport::spawn_connection(stream, ends, frames_tx.clone(), inbox_tx.clone()),
                        // Dropping the stream closes it at once.
                        Err(refusal) => tracing::debug!(%peer, ?refusal, open = tcp.len(), "TCP connection refused"),
                    },
                    Inbound::TcpClosed { peer, id } => tcp.closed(peer, id),
                    Inbound::Media { call, event } => switch.handle_media_event(now, call, event),
                    Inbound::MediaFailed { call, why } => {
                        media.failed(call);
                        switch.handle_media_failure(now, call, &why);
                    }
                }
            }
            frame = frames.recv() => {
                // The channel never closes: this task holds a sender.
                if let Some(frame) = frame {
                    switch.handle_sip(Instant::now(), Transport::Tcp, frame.peer, &frame.bytes);
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
                    media.send(command, &inbox_tx);
                }
                Output::Record(command) => records.send(command),
            }
        }
        media.flush();

        if let Some(since) = stopping_since {
            if switch.is_idle() || since.elapsed() > SHUTDOWN_GRACE {
                break;
            }
        }
    }
    media.stop();
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
