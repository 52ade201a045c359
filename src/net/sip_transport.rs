//! SIP over UDP and TCP: datagrams and framed stream messages go to the core task as bytes.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::Inbound;
use crate::sip::{stream_frame_len, Transport};

/// Largest UDP datagram we read; anything bigger is truncated by the kernel and then
/// rejected by the parser.
const UDP_MAX: usize = 65_535;

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

pub(super) fn spawn_tcp_accept(listener: TcpListener, inbox: mpsc::UnboundedSender<Inbound>) {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(tcp_connection(stream, peer, inbox.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "TCP accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    });
}

async fn tcp_connection(
    stream: TcpStream,
    peer: SocketAddr,
    inbox: mpsc::UnboundedSender<Inbound>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    if inbox
        .send(Inbound::TcpOpened {
            peer,
            writer: out_tx,
        })
        .is_err()
    {
        return;
    }
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = out_rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });

    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    'read: loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match stream_frame_len(&buf) {
                Ok(Some(len)) => {
                    let message: Vec<u8> = buf.drain(..len).collect();
                    if message.iter().all(|b| *b == b'\r' || *b == b'\n') {
                        continue; // keep-alive
                    }
                    let inbound = Inbound::Sip {
                        transport: Transport::Tcp,
                        source: peer,
                        bytes: message,
                    };
                    if inbox.send(inbound).is_err() {
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%peer, error = ?e, "unframeable SIP over TCP; closing the connection");
                    break 'read;
                }
            }
        }
    }
    let _ = inbox.send(Inbound::TcpClosed { peer });
    write_task.abort();
}
