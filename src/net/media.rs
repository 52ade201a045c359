//! Per-call media tasks: each owns its RTP socket and a 20 ms clock and drives one
//! [`MediaSession`]. The session is sans-IO; this task only moves its packets. Nothing
//! here is shared between calls, so no lock sits on the per-packet path.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::Inbound;
use crate::media::prompt::PromptLibrary;
use crate::media::session::MediaSession;
use crate::sip::CallId;
use crate::switch::MediaCommand;

const TICK: Duration = Duration::from_millis(20);

pub(super) fn dispatch(
    command: MediaCommand,
    tasks: &mut HashMap<CallId, mpsc::UnboundedSender<MediaCommand>>,
    prompts: &Arc<PromptLibrary>,
    media_ip: IpAddr,
    inbox: &mpsc::UnboundedSender<Inbound>,
) {
    match command {
        MediaCommand::Start {
            call,
            local_port,
            remote,
            codec,
            payload_type,
            telephone_event,
        } => {
            let session =
                MediaSession::new(codec, payload_type, telephone_event, Arc::clone(prompts));
            let (tx, rx) = mpsc::unbounded_channel();
            tasks.insert(call, tx);
            let local = SocketAddr::new(media_ip, local_port);
            tokio::spawn(run_call(call, local, remote, session, rx, inbox.clone()));
        }
        MediaCommand::End { call } => {
            if let Some(task) = tasks.remove(&call) {
                let _ = task.send(MediaCommand::End { call });
            }
        }
        other => {
            let call = match &other {
                MediaCommand::Redirect { call, .. }
                | MediaCommand::Play { call, .. }
                | MediaCommand::PlayLoop { call, .. }
                | MediaCommand::Unbridge { call }
                | MediaCommand::RecordCaller { call, .. }
                | MediaCommand::Stop { call } => *call,
                MediaCommand::Bridge { a, .. } => *a,
                MediaCommand::Start { .. } | MediaCommand::End { .. } => unreachable!(),
            };
            if let Some(task) = tasks.get(&call) {
                let _ = task.send(other);
            }
        }
    }
}

async fn run_call(
    call: CallId,
    local: SocketAddr,
    mut remote: SocketAddr,
    mut session: MediaSession,
    mut commands: mpsc::UnboundedReceiver<MediaCommand>,
    inbox: mpsc::UnboundedSender<Inbound>,
) {
    let socket = match UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(e) => {
            let _ = inbox.send(Inbound::MediaFailed {
                call,
                why: format!("cannot bind RTP socket {local}: {e}"),
            });
            return;
        }
    };
    let mut ticker = tokio::time::interval(TICK);
    // Catch up after a stall so the packet rate (and so the RTP clock) never drifts.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut buf = [0u8; 2048];
    loop {
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                Some(MediaCommand::Play { prompt, .. }) => session.play(prompt),
                Some(MediaCommand::Stop { .. }) => session.stop(),
                Some(MediaCommand::Redirect { remote: to, .. }) => remote = to,
                Some(MediaCommand::End { .. }) | None => break,
                // Bridges, loops and recordings arrive with the queues (issue 3).
                Some(_) => {}
            },
            _ = ticker.tick() => {
                let packet = session.on_tick();
                if let Err(e) = socket.try_send_to(packet, remote) {
                    tracing::trace!(call = %call, error = %e, "RTP send failed");
                }
            }
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, _from)) = received {
                    session.on_rtp(&buf[..n]);
                }
            }
        }
        while let Some(event) = session.poll_event() {
            if inbox.send(Inbound::Media { call, event }).is_err() {
                return;
            }
        }
    }
}
