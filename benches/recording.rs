//! What recording a call costs, tap to file, without the noise of a load run: 100 caller legs
//! in one engine, each sent one caller packet per 20 ms tick and playing a looped prompt,
//! through one tick — once unrecorded, once with every journey recorded, where the same
//! thread then does the recording service's work for that tick (takes the queued frames,
//! places them in their files, writes each file's header every 50 ticks). Every 400 ticks —
//! an 8 s call, as in `tests/load/run.sh` — the calls hang up and new ones are answered, so
//! each file is finished with its SHA-256 and the next one created. The difference between the two, over 100 legs, is the CPU recording
//! adds per call-tick on both threads (the service's wake-ups aside).
//!
//!   cargo bench --bench recording

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use hotline::media::command::{LegOptions, MediaCommand};
use hotline::media::journey::{FrameBatch, JourneyControl, JourneySink};
use hotline::media::{
    Codec, ConversationEngine, LegRole, MediaEngine, MediaRecordKey, PlayId, PromptId,
    PromptLibrary, RtpSender,
};
use hotline::recording::service::Recordings;
use hotline::sip::CallId;

const TICK: Duration = Duration::from_millis(20);
const LEGS: u64 = 100;
/// Ticks between writes of every file (the service's one second).
const FLUSH_TICKS: u64 = 50;
/// Ticks of one recorded call (8 s).
const CALL_TICKS: u64 = 400;

fn phone(call: CallId) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 20_000 + call.0 as u16 * 2))
}

/// A caller's leg and the packets its phone sends, one per tick.
struct Caller {
    call: CallId,
    sender: RtpSender,
    packet: [u8; 172],
}

/// An engine of `LEGS` callers hearing a looped prompt while they speak.
struct Worker {
    engine: MediaEngine,
    greeting: PromptId,
    now: Instant,
    callers: Vec<Caller>,
    ticks: u64,
    round: u64,
    /// The recording service's side, when the journeys are recorded.
    service: Option<Service>,
}

struct Service {
    recordings: Recordings,
    controls: Receiver<JourneyControl>,
    batches: Receiver<FrameBatch>,
    dir: PathBuf,
}

impl Worker {
    fn new(dir: Option<&Path>) -> Worker {
        let mut library = PromptLibrary::new();
        let speech: Vec<i16> = (0..80_000)
            .map(|i| ((i as f32 * 0.05).sin() * 12_000.0) as i16)
            .collect();
        let greeting = library.add_pcm("zh", "welcome", Path::new("welcome.wav"), &speech);
        let mut engine = MediaEngine::new(Arc::new(library));
        let service = dir.map(|dir| {
            let (control, controls) = mpsc::channel();
            let (batches, received) = mpsc::sync_channel(50);
            engine = std::mem::replace(
                &mut engine,
                MediaEngine::new(Arc::new(PromptLibrary::new())),
            )
            .with_journeys(JourneySink {
                control,
                batches,
                dropped: Arc::new(AtomicU64::new(0)),
            });
            Service {
                recordings: Recordings::new(dir),
                controls,
                batches: received,
                dir: dir.to_path_buf(),
            }
        });
        let mut worker = Worker {
            engine,
            greeting,
            now: Instant::now(),
            callers: Vec::new(),
            ticks: 0,
            round: 0,
            service,
        };
        worker.next_calls();
        worker
    }

    /// The calls of the last round hang up and `LEGS` new ones are answered, each playing
    /// the prompt and, with a service, recorded; the files of the round before last (all
    /// finished by now) are removed.
    fn next_calls(&mut self) {
        for caller in self.callers.drain(..) {
            self.engine
                .command(self.now, MediaCommand::End { call: caller.call });
        }
        self.round += 1;
        for i in 0..LEGS {
            let call = CallId(self.round * 1000 + i);
            self.engine.command(
                self.now,
                MediaCommand::Start {
                    call,
                    local_port: 10_000 + i as u16 * 2,
                    remote: phone(call),
                    codec: Codec::Pcma,
                    payload_type: 8,
                    telephone_event: Some(101),
                    options: LegOptions {
                        conversation: call,
                        record: MediaRecordKey {
                            call_id: format!("bench-{}", call.0),
                            role: LegRole::Caller,
                        },
                        media_timeout: Duration::from_secs(60),
                        inband_dtmf: false,
                        rtcp_mux: false,
                        hold_back_dtmf: false,
                        signalling_host: None,
                    },
                },
            );
            self.engine.command(
                self.now,
                MediaCommand::PlayLoop {
                    call,
                    prompt: self.greeting,
                    play: PlayId(call.0),
                },
            );
            if self.service.is_some() {
                self.engine.command(
                    self.now,
                    MediaCommand::RecordJourney {
                        call,
                        record_id: format!("r{}", call.0),
                        file: format!("recordings/{}.wav", call.0).into(),
                        from: self.now,
                    },
                );
            }
            self.callers.push(Caller {
                call,
                sender: RtpSender::with_start(8, 0x1000 + i as u32, 1, 160),
                packet: [0; 172],
            });
        }
        while self.engine.poll_event().is_some() {}
        let Some(service) = &mut self.service else {
            return;
        };
        let last_round = self.round.saturating_sub(1);
        if let Ok(entries) = std::fs::read_dir(service.dir.join("recordings")) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let round = name.split('.').next().and_then(|n| n.parse::<u64>().ok());
                if round.is_some_and(|call| call / 1000 < last_round) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }

    /// One tick: every caller's packet in, the tick, what it sends drained, and the
    /// service's share.
    fn tick(&mut self) -> usize {
        let payload: [u8; 160] = std::array::from_fn(|i| (i * 7) as u8);
        self.now += TICK;
        for caller in &mut self.callers {
            let n = caller
                .sender
                .write(&payload, 160, &mut caller.packet)
                .expect("172 bytes hold one packet");
            self.engine.on_datagram(
                self.now,
                caller.call,
                false,
                phone(caller.call),
                black_box(&caller.packet[..n]),
            );
        }
        self.engine.on_tick(self.now);
        let mut sent = 0;
        while let Some(transmit) = self.engine.poll_transmit() {
            sent += black_box(transmit.bytes).len();
        }
        while self.engine.poll_event().is_some() {}
        self.ticks += 1;
        if let Some(service) = &mut self.service {
            while let Ok(control) = service.controls.try_recv() {
                service.recordings.control(control);
            }
            while let Ok(FrameBatch { mut frames, spare }) = service.batches.try_recv() {
                for frame in &frames {
                    sent += usize::from(service.recordings.frame(frame));
                }
                frames.clear();
                let _ = spare.send(frames);
            }
            if self.ticks.is_multiple_of(FLUSH_TICKS) {
                service.recordings.flush_all();
            }
            if service.recordings.any_ended() {
                service.recordings.finish_ended();
            }
        }
        if self.ticks.is_multiple_of(CALL_TICKS) {
            self.next_calls();
        }
        sent
    }
}

/// Before timing anything: two calls' worth of ticks leave every file of the first round
/// finished, 8 s long, with no frame gone astray.
fn recorded_as_calls_are(worker: &mut Worker) {
    for _ in 0..CALL_TICKS + 60 {
        worker.tick();
    }
    let service = worker.service.as_ref().expect("a recorded worker");
    assert_eq!(
        service.recordings.stray_frames, 0,
        "frames for no open file"
    );
    for i in 0..LEGS {
        let path = service.dir.join(format!("recordings/{}.wav", 1000 + i));
        let length = std::fs::metadata(&path)
            .expect("the first call's file")
            .len();
        assert_eq!(length, 44 + CALL_TICKS * 640, "{}", path.display());
    }
}

fn main() {
    // On tmpfs where there is one: the files' own cost without a disk filesystem's state
    // (ext4 scans past recently deleted inodes for minutes after the bench removes files).
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("a temporary directory");
    let mut criterion = Criterion::default().configure_from_args();
    let mut plain = Worker::new(None);
    criterion.bench_function("recording: one tick of 100 callers, not recorded", |b| {
        b.iter(|| plain.tick())
    });
    let mut recorded = Worker::new(Some(dir.path()));
    recorded_as_calls_are(&mut recorded);
    criterion.bench_function(
        "recording: one tick of 100 callers, recorded (taps, service, files)",
        |b| b.iter(|| recorded.tick()),
    );
    criterion.final_summary();
}
