//! Per-call media tasks: each owns one leg's RTP socket and a 20 ms clock and drives its
//! [`MediaSession`]. The session is sans-IO; this task only moves its packets.
//!
//! Bridged legs talk task to task: each task owns a bounded relay inbox, and the dispatcher,
//! which keeps every task's command and relay senders, hands each leg of a bridge the other's
//! relay sender. A packet received on one leg goes straight to the other leg's inbox with
//! `try_send` (dropped and counted when full, never awaited) and out of that leg's socket as
//! soon as it arrives there. Nothing is shared between calls but these channels, so no lock
//! sits on the per-packet path.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::MissedTickBehavior;

use super::Inbound;
use crate::media::prompt::{PromptId, PromptLibrary};
use crate::media::recorder::Recorder;
use crate::media::session::{MediaEvent, MediaSession, Received, RelayFrame};
use crate::media::{Codec, PlayId};
use crate::sip::CallId;
use crate::switch::MediaCommand;

const TICK: Duration = Duration::from_millis(20);

/// Frames a leg may hold for sending before its peer's new ones are dropped: over a second of
/// 20 ms packets, far more than a task that is keeping up ever holds.
const RELAY_INBOX_FRAMES: usize = 64;

/// What the dispatcher keeps of one call leg's media task.
pub(crate) struct MediaTask {
    commands: mpsc::UnboundedSender<TaskCommand>,
    relay: mpsc::Sender<RelayFrame>,
    bridged_with: Option<CallId>,
}

impl MediaTask {
    /// Ends the task (shutdown), whatever it is doing.
    pub(crate) fn end(&self) {
        let _ = self.commands.send(TaskCommand::End);
    }

    fn send(&self, command: TaskCommand) {
        let _ = self.commands.send(command);
    }
}

/// What a media task is told: the switch's commands for its call, and the bridge wiring the
/// dispatcher does between tasks.
enum TaskCommand {
    Play(PromptId, PlayId),
    PlayLoop(PromptId, PlayId),
    Stop,
    Redirect(SocketAddr),
    Record {
        path: PathBuf,
        max: Duration,
    },
    /// Relay what this leg receives to the peer's inbox, and send what arrives in ours.
    Connect(mpsc::Sender<RelayFrame>),
    Disconnect,
    /// What a renegotiation agreed: destination, format, and whether to send at all.
    Renegotiate {
        remote: SocketAddr,
        codec: Codec,
        payload_type: u8,
        telephone_event: Option<u8>,
        send: bool,
    },
    End,
}

/// The RTP socket a task runs on: bound by the task itself, or given (tests).
enum RtpSocket {
    Bind(SocketAddr),
    #[cfg_attr(not(test), allow(dead_code))]
    Bound(UdpSocket),
}

pub(super) fn dispatch(
    command: MediaCommand,
    tasks: &mut HashMap<CallId, MediaTask>,
    prompts: &Arc<PromptLibrary>,
    listen_ip: IpAddr,
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
            options: _,
        } => {
            let session =
                MediaSession::new(codec, payload_type, telephone_event, Arc::clone(prompts));
            let local = SocketAddr::new(listen_ip, local_port);
            // A second Start replaces the task: the old one sees its commands close and ends.
            unbridge(tasks, call);
            let task = spawn(call, RtpSocket::Bind(local), remote, session, inbox.clone());
            tasks.insert(call, task);
        }
        MediaCommand::End { call } => {
            unbridge(tasks, call);
            if let Some(task) = tasks.remove(&call) {
                task.end();
            }
        }
        MediaCommand::Bridge { a, b } => bridge(tasks, a, b),
        MediaCommand::Unbridge { call } => {
            unbridge(tasks, call);
            forward(tasks, call, TaskCommand::Disconnect);
        }
        MediaCommand::Redirect { call, remote } => {
            forward(tasks, call, TaskCommand::Redirect(remote))
        }
        // The new engine (issue 7) opens sockets early; this driver binds at Start.
        MediaCommand::Open { .. } => {}
        MediaCommand::Play { call, prompt, play } => {
            forward(tasks, call, TaskCommand::Play(prompt, play))
        }
        MediaCommand::PlayLoop { call, prompt, play } => {
            forward(tasks, call, TaskCommand::PlayLoop(prompt, play))
        }
        MediaCommand::Stop { call } => forward(tasks, call, TaskCommand::Stop),
        MediaCommand::RecordCaller { call, path, max } => {
            forward(tasks, call, TaskCommand::Record { path, max })
        }
        MediaCommand::Renegotiate {
            call,
            remote,
            codec,
            payload_type,
            telephone_event,
            send,
        } => forward(
            tasks,
            call,
            TaskCommand::Renegotiate {
                remote,
                codec,
                payload_type,
                telephone_event,
                send,
            },
        ),
    }
}

fn forward(tasks: &HashMap<CallId, MediaTask>, call: CallId, command: TaskCommand) {
    if let Some(task) = tasks.get(&call) {
        task.send(command);
    }
}

/// Connects `a` and `b` both ways, first separating either from any other leg.
fn bridge(tasks: &mut HashMap<CallId, MediaTask>, a: CallId, b: CallId) {
    if a == b || !tasks.contains_key(&a) || !tasks.contains_key(&b) {
        tracing::warn!(a = %a, b = %b, "bridge between legs without media ignored");
        return;
    }
    // A leg still bridged to a third one is separated from it first.
    for (call, other) in [(a, b), (b, a)] {
        if tasks.get(&call).and_then(|t| t.bridged_with) != Some(other) {
            unbridge(tasks, call);
        }
    }
    let (Some(relay_to_a), Some(relay_to_b)) = (
        tasks.get(&a).map(|t| t.relay.clone()),
        tasks.get(&b).map(|t| t.relay.clone()),
    ) else {
        return;
    };
    if let Some(task) = tasks.get_mut(&a) {
        task.bridged_with = Some(b);
        task.send(TaskCommand::Connect(relay_to_b));
    }
    if let Some(task) = tasks.get_mut(&b) {
        task.bridged_with = Some(a);
        task.send(TaskCommand::Connect(relay_to_a));
    }
}

/// Forgets `call`'s bridge and tells the leg it was bridged with to stop relaying to it. The
/// caller decides what `call` itself is told: `Disconnect` (unbridged), `Connect` to another
/// leg (re-paired) or `End`.
fn unbridge(tasks: &mut HashMap<CallId, MediaTask>, call: CallId) {
    let Some(peer) = tasks.get_mut(&call).and_then(|t| t.bridged_with.take()) else {
        return;
    };
    if let Some(task) = tasks.get_mut(&peer) {
        if task.bridged_with == Some(call) {
            task.bridged_with = None;
            task.send(TaskCommand::Disconnect);
        }
    }
}

fn spawn(
    call: CallId,
    socket: RtpSocket,
    remote: SocketAddr,
    session: MediaSession,
    inbox: mpsc::UnboundedSender<Inbound>,
) -> MediaTask {
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (relay, relay_rx) = mpsc::channel(RELAY_INBOX_FRAMES);
    tokio::spawn(run_call(
        call, socket, remote, session, command_rx, relay_rx, inbox,
    ));
    MediaTask {
        commands,
        relay,
        bridged_with: None,
    }
}

async fn run_call(
    call: CallId,
    socket: RtpSocket,
    mut remote: SocketAddr,
    mut session: MediaSession,
    mut commands: mpsc::UnboundedReceiver<TaskCommand>,
    mut relay_inbox: mpsc::Receiver<RelayFrame>,
    inbox: mpsc::UnboundedSender<Inbound>,
) {
    let socket = match socket {
        RtpSocket::Bound(socket) => socket,
        RtpSocket::Bind(local) => match UdpSocket::bind(local).await {
            Ok(s) => s,
            Err(e) => {
                let _ = inbox.send(Inbound::MediaFailed {
                    call,
                    why: format!("cannot bind RTP socket {local}: {e}"),
                });
                return;
            }
        },
    };
    let mut ticker = tokio::time::interval(TICK);
    // Catch up after a stall so the packet rate (and so the RTP clock) never drifts.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut buf = [0u8; 2048];
    let mut peer: Option<mpsc::Sender<RelayFrame>> = None;
    let mut recorder: Option<Recorder> = None;
    let mut relay_frames_dropped = 0u64;
    // False while the peer holds the call: the clock and prompts run, nothing goes out.
    let mut sending = true;
    loop {
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                Some(TaskCommand::Play(prompt, play)) => session.play(prompt, play),
                Some(TaskCommand::PlayLoop(prompt, play)) => session.play_loop(prompt, play),
                Some(TaskCommand::Stop) => {
                    session.stop();
                    end_recording(call, &mut recorder);
                }
                Some(TaskCommand::Redirect(to)) => remote = to,
                Some(TaskCommand::Renegotiate { remote: to, codec, payload_type, telephone_event, send }) => {
                    remote = to;
                    sending = send;
                    session.set_format(codec, payload_type, telephone_event);
                }
                Some(TaskCommand::Record { path, max }) => {
                    end_recording(call, &mut recorder);
                    recorder = start_recording(call, path, max, &inbox);
                }
                Some(TaskCommand::Connect(to)) => {
                    peer = Some(to);
                    session.set_bridged(true);
                }
                Some(TaskCommand::Disconnect) => {
                    peer = None;
                    session.set_bridged(false);
                }
                Some(TaskCommand::End) | None => break,
            },
            _ = ticker.tick() => {
                if let Some(packet) = session.on_tick().filter(|_| sending) {
                    if let Err(e) = socket.try_send_to(packet, remote) {
                        tracing::trace!(call = %call, error = %e, "RTP send failed");
                    }
                }
                if recorder.as_mut().is_some_and(|r| !r.on_tick()) {
                    end_recording(call, &mut recorder);
                }
            }
            Some(frame) = relay_inbox.recv() => {
                let packet = session.relay(&frame);
                if !packet.is_empty() && sending {
                    if let Err(e) = socket.try_send_to(packet, remote) {
                        tracing::trace!(call = %call, error = %e, "relayed RTP send failed");
                    }
                }
            }
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, _from)) = received {
                    let received = session.on_rtp(&buf[..n]);
                    if received == Received::Audio
                        && recorder.as_mut().is_some_and(|r| !r.write(session.last_decoded()))
                    {
                        end_recording(call, &mut recorder);
                    }
                    if let (Some(to), Some(frame)) = (&peer, session.last_relay_frame()) {
                        match to.try_send(frame.clone()) {
                            Ok(()) => {}
                            Err(TrySendError::Full(_)) => relay_frames_dropped += 1,
                            // The other leg's task is gone (its socket failed): alone again.
                            Err(TrySendError::Closed(_)) => {
                                peer = None;
                                session.set_bridged(false);
                            }
                        }
                    }
                }
            }
        }
        while let Some(event) = session.poll_event() {
            if inbox.send(Inbound::Media { call, event }).is_err() {
                return;
            }
        }
    }
    end_recording(call, &mut recorder);
    let stats = session.stats();
    tracing::debug!(
        call = %call,
        sent = stats.packets_sent,
        received = stats.packets_received,
        relayed = stats.packets_relayed,
        relay_dropped = stats.relay_dropped,
        relay_inbox_full = relay_frames_dropped,
        "media ended"
    );
}

/// Starts a recording whose writer reports `RecordingFinished` to the switch once the file
/// is closed; if it cannot even start, reports it finished at once, empty.
fn start_recording(
    call: CallId,
    path: PathBuf,
    max: Duration,
    inbox: &mpsc::UnboundedSender<Inbound>,
) -> Option<Recorder> {
    let report = inbox.clone();
    let started = Recorder::start(path, max, move |outcome| {
        if let Some(error) = &outcome.error {
            tracing::warn!(call = %call, error = %error, "recording failed");
        }
        let _ = report.send(Inbound::Media {
            call,
            event: MediaEvent::RecordingFinished {
                duration_ms: outcome.duration_ms,
            },
        });
    });
    match started {
        Ok(recorder) => Some(recorder),
        Err(error) => {
            tracing::warn!(call = %call, error = %error, "recording not started");
            let _ = inbox.send(Inbound::Media {
                call,
                event: MediaEvent::RecordingFinished { duration_ms: 0 },
            });
            None
        }
    }
}

/// Ends the recording, if any: its writer finishes the file and reports.
fn end_recording(call: CallId, recorder: &mut Option<Recorder>) {
    if let Some(recorder) = recorder.take() {
        if recorder.frames_dropped() > 0 {
            tracing::warn!(
                call = %call,
                frames_dropped = recorder.frames_dropped(),
                "recording lost frames: the disk could not keep up"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::timeout;

    use super::*;
    use crate::media::g711;
    use crate::media::rtp::{RtpPacket, RtpSender};
    use crate::media::Codec;

    const A: CallId = CallId(1);
    const B: CallId = CallId(2);
    const WAIT: Duration = Duration::from_secs(3);

    /// One leg's media task on a loopback socket, sending to `phone` (the far end).
    struct Leg {
        socket: SocketAddr,
        phone: UdpSocket,
        ssrc: u32,
    }

    async fn leg(
        call: CallId,
        codec: Codec,
        tasks: &mut HashMap<CallId, MediaTask>,
        inbox: &mpsc::UnboundedSender<Inbound>,
    ) -> Leg {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let ssrc = 0x1000 + call.0 as u32;
        let sender = RtpSender::with_start(codec.payload_type(), ssrc, 1, 0);
        let prompts = Arc::new(PromptLibrary::new());
        let session = MediaSession::with_sender(codec, sender, Some(101), prompts);
        let leg = Leg {
            socket: socket.local_addr().unwrap(),
            phone,
            ssrc,
        };
        let remote = leg.phone.local_addr().unwrap();
        let task = spawn(
            call,
            RtpSocket::Bound(socket),
            remote,
            session,
            inbox.clone(),
        );
        tasks.insert(call, task);
        leg
    }

    impl Leg {
        /// The phone sends one packet of `payload` to its leg.
        async fn say(&self, sender: &mut RtpSender, payload: &[u8]) {
            let mut packet = [0u8; 200];
            let n = sender.write(payload, 160, &mut packet).unwrap();
            self.phone.send_to(&packet[..n], self.socket).await.unwrap();
        }

        /// The next packet the phone hears whose payload is not all `skip` (the silence the
        /// leg sends while it is not bridged).
        async fn hear_other_than(&self, skip: u8) -> (u8, u16, u32, u32, Vec<u8>) {
            let mut buf = [0u8; 2048];
            loop {
                let (n, _) = timeout(WAIT, self.phone.recv_from(&mut buf))
                    .await
                    .expect("the phone hears something in time")
                    .unwrap();
                let p = RtpPacket::parse(&buf[..n]).unwrap();
                if p.payload.iter().any(|&b| b != skip) {
                    return (
                        p.payload_type,
                        p.sequence,
                        p.timestamp,
                        p.ssrc,
                        p.payload.to_vec(),
                    );
                }
            }
        }

        /// Waits until the phone hears the leg's own silence again, after whatever was in
        /// flight.
        async fn hears_silence(&self, silence: u8) {
            let mut buf = [0u8; 2048];
            loop {
                let (n, _) = timeout(WAIT, self.phone.recv_from(&mut buf))
                    .await
                    .expect("the leg keeps sending")
                    .unwrap();
                let p = RtpPacket::parse(&buf[..n]).unwrap();
                if p.payload.iter().all(|&b| b == silence) && p.payload.len() == 160 {
                    return;
                }
            }
        }
    }

    fn speech(seed: u8) -> Vec<u8> {
        // Loud codes only, so no frame is mistaken for either law's silence.
        (0..160)
            .map(|i| 0x10 + ((i as u8).wrapping_mul(7) ^ seed) % 0x60)
            .collect()
    }

    fn dispatch_here(
        command: MediaCommand,
        tasks: &mut HashMap<CallId, MediaTask>,
        inbox: &mpsc::UnboundedSender<Inbound>,
    ) {
        let prompts = Arc::new(PromptLibrary::new());
        dispatch(
            command,
            tasks,
            &prompts,
            "127.0.0.1".parse().unwrap(),
            inbox,
        );
    }

    #[tokio::test]
    async fn bridged_legs_relay_each_others_packets_transcoded() {
        let (inbox, _events) = mpsc::unbounded_channel();
        let mut tasks = HashMap::new();
        let caller = leg(A, Codec::Pcma, &mut tasks, &inbox).await;
        let agent = leg(B, Codec::Pcmu, &mut tasks, &inbox).await;
        dispatch_here(MediaCommand::Bridge { a: A, b: B }, &mut tasks, &inbox);

        // The caller's phone speaks A-law; the agent's phone hears µ-law from the agent leg.
        let mut caller_phone = RtpSender::with_start(8, 0xCA11, 500, 80_000);
        let mut heard = Vec::new();
        for i in 0..5 {
            let payload = speech(i);
            caller.say(&mut caller_phone, &payload).await;
            let (pt, sequence, timestamp, ssrc, body) = agent.hear_other_than(0xFF).await;
            let expected: Vec<u8> = payload.iter().map(|&b| g711::alaw_to_ulaw(b)).collect();
            assert_eq!((pt, ssrc), (0, agent.ssrc), "packet {i}");
            assert_eq!(body, expected, "packet {i} transcoded A-law to µ-law");
            heard.push((sequence, timestamp));
        }
        for pair in heard.windows(2) {
            assert_eq!(pair[1].0, pair[0].0.wrapping_add(1), "sequence: {heard:?}");
            assert_eq!(
                pair[1].1,
                pair[0].1.wrapping_add(160),
                "timestamp: {heard:?}"
            );
        }

        // And back: the agent's µ-law reaches the caller as A-law.
        let mut agent_phone = RtpSender::with_start(0, 0xA6E7, 9, 1234);
        let payload = speech(9);
        agent.say(&mut agent_phone, &payload).await;
        let (pt, _, _, ssrc, body) = caller.hear_other_than(0xD5).await;
        assert_eq!((pt, ssrc), (8, caller.ssrc));
        let expected: Vec<u8> = payload.iter().map(|&b| g711::ulaw_to_alaw(b)).collect();
        assert_eq!(body, expected);

        // Unbridged, both legs go back to their own silence.
        dispatch_here(MediaCommand::Unbridge { call: A }, &mut tasks, &inbox);
        caller.hears_silence(0xD5).await;
        agent.hears_silence(0xFF).await;
        assert!(tasks.values().all(|t| t.bridged_with.is_none()));

        // Bridged again, then the caller hangs up: the agent's leg is alone at once.
        dispatch_here(MediaCommand::Bridge { a: A, b: B }, &mut tasks, &inbox);
        caller.say(&mut caller_phone, &speech(3)).await;
        assert_eq!(agent.hear_other_than(0xFF).await.3, agent.ssrc);
        dispatch_here(MediaCommand::End { call: A }, &mut tasks, &inbox);
        assert_eq!(tasks.get(&B).map(|t| t.bridged_with), Some(None));
        agent.hears_silence(0xFF).await;
        dispatch_here(MediaCommand::End { call: B }, &mut tasks, &inbox);
        assert!(tasks.is_empty());
    }

    #[tokio::test]
    async fn a_recorded_caller_ends_up_in_a_wav_and_the_switch_hears_when() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("voicemail").join("call-1.wav");
        let (inbox, mut events) = mpsc::unbounded_channel();
        let mut tasks = HashMap::new();
        let caller = leg(A, Codec::Pcmu, &mut tasks, &inbox).await;
        dispatch_here(
            MediaCommand::RecordCaller {
                call: A,
                path: file.clone(),
                max: Duration::from_millis(200),
            },
            &mut tasks,
            &inbox,
        );
        // Twelve packets for a ten-packet maximum: the last two are not recorded.
        let mut phone = RtpSender::with_start(0, 0xCA11, 1, 0);
        let mut said = Vec::new();
        for i in 0..12 {
            let payload = speech(i);
            said.extend(payload.iter().map(|&b| g711::ulaw_decode(b)));
            caller.say(&mut phone, &payload).await;
        }
        let duration_ms = timeout(WAIT, async {
            loop {
                match events.recv().await {
                    Some(Inbound::Media {
                        call,
                        event: MediaEvent::RecordingFinished { duration_ms },
                    }) if call == A => return duration_ms,
                    Some(_) => continue,
                    None => panic!("inbox closed"),
                }
            }
        })
        .await
        .expect("the recording is reported finished");
        assert_eq!(duration_ms, 200);
        let mut reader = hound::WavReader::open(&file).unwrap();
        assert_eq!(reader.spec().sample_rate, 8000);
        let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(samples, said[..1600]);
        dispatch_here(MediaCommand::End { call: A }, &mut tasks, &inbox);
    }

    #[tokio::test]
    async fn bridging_a_leg_to_a_third_one_leaves_its_old_partner_alone() {
        let (inbox, _events) = mpsc::unbounded_channel();
        let mut tasks = HashMap::new();
        let caller = leg(A, Codec::Pcma, &mut tasks, &inbox).await;
        let first_agent = leg(B, Codec::Pcma, &mut tasks, &inbox).await;
        let second_agent = leg(CallId(3), Codec::Pcmu, &mut tasks, &inbox).await;
        dispatch_here(MediaCommand::Bridge { a: A, b: B }, &mut tasks, &inbox);
        dispatch_here(
            MediaCommand::Bridge { a: A, b: CallId(3) },
            &mut tasks,
            &inbox,
        );
        assert_eq!(tasks.get(&B).map(|t| t.bridged_with), Some(None));
        assert_eq!(tasks.get(&A).map(|t| t.bridged_with), Some(Some(CallId(3))));

        let mut caller_phone = RtpSender::with_start(8, 0xCA11, 1, 0);
        let payload = speech(5);
        caller.say(&mut caller_phone, &payload).await;
        let (pt, _, _, ssrc, body) = second_agent.hear_other_than(0xFF).await;
        assert_eq!((pt, ssrc), (0, second_agent.ssrc));
        let expected: Vec<u8> = payload.iter().map(|&b| g711::alaw_to_ulaw(b)).collect();
        assert_eq!(body, expected);
        // What the old partner had queued is silence from before or after its bridge, never
        // the caller; fresh silence shows it is on its own again (a bridged leg sends none).
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = first_agent.phone.try_recv_from(&mut buf) {
            let packet = RtpPacket::parse(&buf[..n]).unwrap();
            assert!(packet.payload.iter().all(|&b| b == 0xD5));
        }
        first_agent.hears_silence(0xD5).await;
    }
}
