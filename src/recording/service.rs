//! The recording service: ONE thread writing every journey recording (issue 9), fed by the
//! media workers' taps through a bounded frame queue (never blocking them) and an unbounded
//! control channel for starts and ends.
//!
//! Owns the open recordings by caller leg, the write schedule (audio batched and the header
//! rewritten with the length at least every [`FLUSH_EVERY`]; the disk sync is
//! `disk_sync.rs`'s thread, started and stopped with this one), and the outcome each
//! recording reports back to its media engine as `MediaEvent::JourneyRecorded` (the worker
//! passes it to the switch, which writes the record). Must not: touch the store or the
//! switch, wait for the disk to confirm a write, or be waited on by a media thread.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::disk_sync::{DiskSync, WrittenMark, SYNC_EVERY};
use super::writer::{FinishedFile, RecordingFile, WriteBuffers, BATCH_BYTES};
use crate::media::event::RecordingReports;
use crate::media::journey::{FrameBatch, JourneyControl, JourneyFrame, JourneySink};
use crate::media::{MediaEvent, FRAME_MS};
use crate::sip::{CallId, CallIdMap};

/// Ticks the queue holds between the taps and the service, per media worker: a second of
/// every call (each message is one worker's tick, see `FrameBatch`).
pub const QUEUE_TICKS_PER_WORKER: usize = 50;
/// Batches taken in one pass at most, so a pass always ends (then control and flushes).
const BATCHES_PER_PASS: usize = 4096;
/// The header names the audio on disk at most this long after it was recorded.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How often the service takes what the taps queued: five ticks of every call at a time, a
/// tenth of what the queue holds. Each pass is a futex wait and a context switch; at every
/// tick (20 ms) those were an eighth of the service's CPU under load.
const DRAIN_EVERY: Duration = Duration::from_millis(100);
/// How long the service waits for a control message with no recording open. Frames then
/// come only from a recording whose file could not be created, until its engine hears so
/// and stops the tap, and the queue holds a second of those: drained twice a second, none
/// is dropped, and an idle switch does not wake this thread 50 times a second.
const IDLE_WAIT: Duration = Duration::from_millis(500);

struct Active {
    file: RecordingFile,
    record_id: String,
    report: RecordingReports,
    /// `End` came: the file holds this many frames once the queue is drained.
    end: Option<u64>,
}

/// Every recording being written, by caller leg. Bounded by the calls the switch admits:
/// only the switch starts recordings.
pub struct Recordings {
    data_dir: PathBuf,
    active: CallIdMap<Active>,
    buffers: WriteBuffers,
    /// Frames for no open recording (a file that could not be created).
    pub stray_frames: u64,
    /// The service loop's waits (for a message, or until its drain interval is up).
    pub wake_ups: u64,
    /// Set whenever a file is created, written or finished: the disk sync's cue.
    written: WrittenMark,
}

impl Recordings {
    pub fn new(data_dir: &Path) -> Recordings {
        Recordings {
            data_dir: data_dir.to_path_buf(),
            active: CallIdMap::default(),
            buffers: WriteBuffers::default(),
            stray_frames: 0,
            wake_ups: 0,
            written: WrittenMark::default(),
        }
    }

    /// Every write sets `written` (the disk sync syncs only after one).
    pub fn with_written_mark(mut self, written: WrittenMark) -> Recordings {
        self.written = written;
        self
    }

    pub fn active(&self) -> usize {
        self.active.len()
    }

    pub fn control(&mut self, message: JourneyControl) {
        match message {
            JourneyControl::Start {
                call,
                record_id,
                file,
                report,
            } => {
                if let Some(previous) = self.active.remove(&call) {
                    let frames = previous.file.frames();
                    finish(call, previous, frames, &mut self.buffers);
                }
                let path = self.data_dir.join(&file);
                match RecordingFile::create(&path, &mut self.buffers) {
                    Ok(file) => {
                        self.active.insert(
                            call,
                            Active {
                                file,
                                record_id,
                                report,
                                end: None,
                            },
                        );
                    }
                    Err(e) => {
                        tracing::error!(call = %call, path = %path.display(), error = %e, "cannot create the recording");
                        report.send(
                            call,
                            MediaEvent::JourneyRecorded {
                                record_id,
                                duration_ms: 0,
                                sha256: String::new(),
                                lost_ms: 0,
                                error: Some(format!("cannot create the recording: {e}")),
                            },
                        );
                    }
                }
                self.written.set();
            }
            JourneyControl::Pause { call, from } => {
                if let Some(active) = self.active.get_mut(&call) {
                    if let Err(e) = active.file.pause_from(from) {
                        tracing::error!(call = %call, error = %e, "cannot silence the paused span already written");
                    }
                    self.written.set();
                }
            }
            JourneyControl::Resume { call, until } => {
                if let Some(active) = self.active.get_mut(&call) {
                    active.file.resume_at(until);
                }
            }
            JourneyControl::End { call, frames } => {
                if let Some(active) = self.active.get_mut(&call) {
                    active.end = Some(frames);
                }
            }
        }
    }

    /// Places a frame; false when no recording of its call is open.
    pub fn frame(&mut self, frame: &JourneyFrame) -> bool {
        let Some(active) = self.active.get_mut(&frame.call) else {
            return false;
        };
        active.file.put(frame.index, &frame.wav);
        if active.file.pending_bytes() >= BATCH_BYTES {
            if let Err(e) = active.file.flush() {
                tracing::error!(call = %frame.call, error = %e, "recording write failed");
            }
            self.written.set();
        }
        true
    }

    /// Some recording's `End` came and it is not finished yet.
    pub fn any_ended(&self) -> bool {
        self.active.values().any(|a| a.end.is_some())
    }

    /// Finishes every recording whose `End` came (call once the frame queue is drained).
    pub fn finish_ended(&mut self) {
        let ended: Vec<CallId> = self
            .active
            .iter()
            .filter(|(_, a)| a.end.is_some())
            .map(|(call, _)| *call)
            .collect();
        for call in ended {
            if let Some(active) = self.active.remove(&call) {
                let frames = active.end.unwrap_or(0);
                finish(call, active, frames, &mut self.buffers);
                self.written.set();
            }
        }
    }

    /// Finishes every recording as it stands (the service stops).
    pub fn finish_all(&mut self) {
        for (call, active) in std::mem::take(&mut self.active) {
            let frames = active.end.unwrap_or_else(|| active.file.frames());
            finish(call, active, frames, &mut self.buffers);
            self.written.set();
        }
    }

    /// Audio batches written and headers rewritten.
    pub fn flush_all(&mut self) {
        for (call, active) in &mut self.active {
            if let Err(e) = active.file.flush() {
                tracing::error!(call = %call, error = %e, "recording write failed");
            }
        }
        if !self.active.is_empty() {
            self.written.set();
        }
    }
}

fn finish(call: CallId, active: Active, frames: u64, buffers: &mut WriteBuffers) {
    let path = active.file.path().to_path_buf();
    let event = match active.file.finish(frames, buffers) {
        Ok(FinishedFile {
            duration_ms,
            sha256,
            lost_frames,
        }) => {
            if lost_frames > 0 {
                tracing::warn!(call = %call, lost_ms = lost_frames * FRAME_MS, "recording queue overflowed: the lost span is silence");
            }
            MediaEvent::JourneyRecorded {
                record_id: active.record_id,
                duration_ms,
                sha256,
                lost_ms: lost_frames * FRAME_MS,
                error: None,
            }
        }
        Err(e) => {
            tracing::error!(call = %call, path = %path.display(), error = %e, "cannot finish the recording");
            MediaEvent::JourneyRecorded {
                record_id: active.record_id,
                duration_ms: 0,
                sha256: String::new(),
                lost_ms: 0,
                error: Some(e.to_string()),
            }
        }
    };
    active.report.send(call, event);
}

/// Starts the service thread writing under `data_dir`, and the sync thread beside it; the
/// sink goes to every one of `media_workers` engines. The thread ends (finishing every file,
/// then one last sync) once every clone of the sink is gone.
pub fn start(data_dir: &Path, media_workers: usize) -> io::Result<(JourneySink, JoinHandle<()>)> {
    let (control, control_rx) = mpsc::channel();
    let (batches, frames_rx) = mpsc::sync_channel(QUEUE_TICKS_PER_WORKER * media_workers.max(1));
    let sink = JourneySink {
        control,
        batches,
        dropped: Arc::new(AtomicU64::new(0)),
    };
    let written = WrittenMark::default();
    let mut recordings = Recordings::new(data_dir).with_written_mark(written.clone());
    let disk_sync = DiskSync::start(data_dir, SYNC_EVERY, written)?;
    let thread = std::thread::Builder::new()
        .name("recordings".into())
        .spawn(move || {
            run(&mut recordings, &control_rx, &frames_rx);
            disk_sync.stop();
        })?;
    Ok((sink, thread))
}

/// The service loop: frames as they come, control after them, the flush schedule.
pub fn run(
    recordings: &mut Recordings,
    control: &Receiver<JourneyControl>,
    frames: &Receiver<FrameBatch>,
) {
    let mut flushed = Instant::now();
    let mut control_open = true;
    let mut frames_open = true;
    loop {
        // The service sleeps on the rare control channel, never on the frames: a media
        // thread's `try_send` then never finds it waiting, so a frame costs its sender no
        // wake-up (a futex call and a context switch per frame, 15,000 a second at 300
        // calls), and the frames of a whole tick of every call are taken in one batch. With
        // no recording open it waits longer (see `IDLE_WAIT`).
        recordings.wake_ups += 1;
        if control_open {
            let wait = if recordings.active() == 0 {
                IDLE_WAIT
            } else {
                DRAIN_EVERY
            };
            match control.recv_timeout(wait) {
                Ok(message) => recordings.control(message),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => control_open = false,
            }
        } else {
            match frames.recv_timeout(DRAIN_EVERY) {
                Ok(batch) => take_batch(recordings, control, batch, &mut control_open),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => frames_open = false,
            }
        }
        for _ in 0..BATCHES_PER_PASS {
            match frames.try_recv() {
                Ok(batch) => take_batch(recordings, control, batch, &mut control_open),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    frames_open = false;
                    break;
                }
            }
        }
        take_control(recordings, control, &mut control_open);
        if recordings.any_ended() {
            // Every frame sent before an `End` is in the queue now: place them, then finish.
            while let Ok(batch) = frames.try_recv() {
                take_batch(recordings, control, batch, &mut control_open);
            }
            recordings.finish_ended();
        }
        if !frames_open && !control_open {
            recordings.finish_all();
            // Stray frames: for recordings whose file could not be created, before their
            // engine stopped the tap.
            tracing::info!(
                stray_frames = recordings.stray_frames,
                wake_ups = recordings.wake_ups,
                "recording service stopped"
            );
            return;
        }
        let now = Instant::now();
        if now.saturating_duration_since(flushed) >= FLUSH_EVERY {
            recordings.flush_all();
            flushed = now;
        }
    }
}

/// Places every frame of one tick, then gives the vector back to its engine.
fn take_batch(
    recordings: &mut Recordings,
    control: &Receiver<JourneyControl>,
    batch: FrameBatch,
    control_open: &mut bool,
) {
    let FrameBatch { mut frames, spare } = batch;
    for frame in &frames {
        take_frame(recordings, control, frame, control_open);
    }
    frames.clear();
    let _ = spare.send(frames);
}

/// A frame for a recording whose `Start` is still on the control channel gets it first.
fn take_frame(
    recordings: &mut Recordings,
    control: &Receiver<JourneyControl>,
    frame: &JourneyFrame,
    control_open: &mut bool,
) {
    if recordings.frame(frame) {
        return;
    }
    take_control(recordings, control, control_open);
    if !recordings.frame(frame) {
        recordings.stray_frames += 1;
    }
}

/// Every control message waiting.
fn take_control(
    recordings: &mut Recordings,
    control: &Receiver<JourneyControl>,
    control_open: &mut bool,
) {
    loop {
        match control.try_recv() {
            Ok(message) => recordings.control(message),
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Disconnected) => {
                *control_open = false;
                break;
            }
        }
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
