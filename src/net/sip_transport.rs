//! SIP over UDP and TCP: datagrams and framed stream messages go to the core task as bytes.
//!
//! Owns the sockets' tasks: the UDP receiver, the TCP listener, and one task per TCP
//! connection (accepted or opened by us) that reads and frames what arrives, writes what the
//! core queued, and closes the connection on the limits of [`TcpLimits`] (read timeout for a
//! message, idle timeout, send timeout) or after refusing a message the framer cannot frame.
//! Which connection a message goes out on, and who may connect, is `tcp_connections`'s.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

use super::tcp_connections::{ConnectionEnds, Direction};
use super::tcp_limits::{TcpLimits, CONNECT_TIMEOUT, LINGER, SEND_TIMEOUT};
use super::Inbound;
use crate::sip::framing::{stream_refusal, StreamFramer};
use crate::sip::Transport;

/// Largest UDP datagram we read; anything bigger is truncated by the kernel and then
/// rejected by the parser.
const UDP_MAX: usize = 65_535;
/// One read from a TCP connection.
const TCP_CHUNK: usize = 8192;

/// One framed message (or CRLF keep-alive) from a TCP connection.
pub(super) struct TcpFrame {
    pub peer: SocketAddr,
    pub bytes: Vec<u8>,
}

pub(super) fn spawn_udp(socket: Arc<UdpSocket>, inbox: mpsc::UnboundedSender<Inbound>) {
    tokio::spawn(async move {
        let mut buf = vec![0u8; UDP_MAX];
        loop {
            match socket.recv_from(&mut buf).await {
                Ok((n, source)) => {
                    let inbound = Inbound::Sip {
                        transport: Transport::Udp,
                        source,
                        bytes: buf[..n].to_vec(),
                    };
                    if inbox.send(inbound).is_err() {
                        return;
                    }
                }
                // ICMP port unreachable from a vanished peer surfaces here on Linux.
                Err(e) => tracing::debug!(error = %e, "UDP receive error"),
            }
        }
    });
}

/// Accepts connections and hands them to the core task, which admits or drops them.
pub(super) fn spawn_tcp_accept(listener: TcpListener, inbox: mpsc::UnboundedSender<Inbound>) {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    if inbox.send(Inbound::TcpAccepted { stream, peer }).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    // EMFILE lands here: wait for descriptors to be freed.
                    tracing::warn!(error = %e, "TCP accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    });
}

/// Runs an admitted connection until it closes, then reports `TcpClosed`.
pub(super) fn spawn_connection(
    stream: TcpStream,
    ends: ConnectionEnds,
    frames: mpsc::Sender<TcpFrame>,
    inbox: mpsc::UnboundedSender<Inbound>,
) {
    tokio::spawn(async move {
        let (peer, id) = (ends.peer, ends.id);
        let why = serve_connection(stream, ends, frames).await;
        tracing::debug!(%peer, why, "TCP connection closed");
        let _ = inbox.send(Inbound::TcpClosed { peer, id });
    });
}

/// Opens a connection to `ends.peer` (its first message is already queued), then runs it.
pub(super) fn spawn_connect(
    ends: ConnectionEnds,
    frames: mpsc::Sender<TcpFrame>,
    inbox: mpsc::UnboundedSender<Inbound>,
) {
    tokio::spawn(async move {
        let (peer, id) = (ends.peer, ends.id);
        match timeout(CONNECT_TIMEOUT, TcpStream::connect(peer)).await {
            Ok(Ok(stream)) => {
                let why = serve_connection(stream, ends, frames).await;
                tracing::debug!(%peer, why, "TCP connection closed");
            }
            Ok(Err(e)) => {
                tracing::warn!(%peer, error = %e, "cannot open a TCP connection; SIP message dropped")
            }
            Err(_) => {
                tracing::warn!(%peer, "TCP connection not established in time; SIP message dropped")
            }
        }
        let _ = inbox.send(Inbound::TcpClosed { peer, id });
    });
}

/// Reads, frames and writes until something closes the connection; says what did.
async fn serve_connection(
    stream: TcpStream,
    mut ends: ConnectionEnds,
    frames: mpsc::Sender<TcpFrame>,
) -> &'static str {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let limits: TcpLimits = ends.limits;
    let peer = ends.peer;
    let mut framer = StreamFramer::new();
    let mut chunk = vec![0u8; TCP_CHUNK];
    let mut last_received = Instant::now();
    // An accepted connection must bring its first message within the read timeout, as a
    // message must arrive whole within it of its first byte.
    let mut awaiting_first = ends.direction == Direction::Accepted;
    let mut message_since = awaiting_first.then(Instant::now);
    loop {
        let read_deadline = message_since.map(|since| since + limits.read_timeout);
        let idle_deadline = last_received + limits.idle_timeout;
        let deadline = read_deadline.map_or(idle_deadline, |r| r.min(idle_deadline));
        // Biased: what is queued is written before more is read, so a peer that reads what
        // it is sent never finds its queue growing, and one that does not read is no longer
        // read either (its requests wait in its own socket) until the send timeout.
        tokio::select! {
            biased;
            _ = &mut ends.closed_by_switch => return "closed by the switch",
            outbound = ends.outbound.recv() => {
                let Some(bytes) = outbound else { return "closed by the switch" };
                tokio::select! {
                    written = timeout(SEND_TIMEOUT, writer.write_all(&bytes)) => match written {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return "write failed",
                        Err(_) => return "send timeout",
                    },
                    _ = &mut ends.closed_by_switch => return "closed by the switch",
                }
                ends.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
            }
            _ = tokio::time::sleep_until(deadline) => {
                return if read_deadline.is_some_and(|r| r <= idle_deadline) {
                    "read timeout"
                } else {
                    "idle timeout"
                };
            }
            read = reader.read(&mut chunk) => {
                let n = match read {
                    Ok(0) => return "closed by the peer",
                    Err(_) => return "read failed",
                    Ok(n) => n,
                };
                let now = Instant::now();
                last_received = now;
                framer.extend(&chunk[..n]);
                let mut completed = false;
                loop {
                    match framer.next_frame() {
                        Ok(Some(bytes)) => {
                            if bytes.iter().any(|b| *b != b'\r' && *b != b'\n') {
                                awaiting_first = false;
                                completed = true;
                            }
                            // Waiting here holds this connection's reading back while the
                            // core is busy: TCP flow control, not memory, absorbs a burst.
                            if frames.send(TcpFrame { peer, bytes }).await.is_err() {
                                return "switch stopped";
                            }
                        }
                        Ok(None) => break,
                        Err(error) => {
                            tracing::warn!(%peer, %error, "unframeable SIP over TCP; refusing and closing the connection");
                            let tag = format!("{:016x}", rand::random::<u64>());
                            if let Some(refusal) = stream_refusal(framer.buffered(), &error, &tag) {
                                refuse_and_close(&mut reader, &mut writer, &refusal).await;
                            }
                            return "refused an unframeable message";
                        }
                    }
                }
                message_since = if awaiting_first {
                    message_since
                } else if framer.in_message() {
                    // A message under way is due within the read timeout of its first byte
                    // (one completed in this read: the next one began now).
                    match message_since {
                        Some(since) if !completed => Some(since),
                        _ => Some(now),
                    }
                } else {
                    None
                };
            }
        }
    }
}

/// Writes the refusal, sends FIN, and reads (discarding, briefly) what the peer still sends,
/// so the refusal is not destroyed by the reset a close with unread data would cause.
async fn refuse_and_close(reader: &mut OwnedReadHalf, writer: &mut OwnedWriteHalf, refusal: &[u8]) {
    if timeout(SEND_TIMEOUT, writer.write_all(refusal))
        .await
        .is_err()
    {
        return;
    }
    let _ = writer.shutdown().await;
    let mut sink = vec![0u8; TCP_CHUNK];
    let _ = timeout(LINGER, async {
        while let Ok(n) = reader.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
