//! The QA recording tap of a caller's leg (issue 9): on every 20 ms tick of the leg, one
//! stereo frame — left what the caller said (through a jitter buffer: ordered, loss
//! concealed), right what the caller heard that tick (the frame sent, or what was relayed
//! from the bridged leg during the tick) — added to the engine's [`TickFrames`], which hands
//! the frames of every recording of one tick to the recording service as one message
//! through a bounded queue.
//!
//! Owns where each frame goes in the file — on the call's clock: frame k is the 20 ms from
//! `from + 20 ms × k`, where `from` is the switch's answer (the recording's offset on the
//! timeline), so a timeline marker falls on its sound however late the command reached the
//! worker, and a stalled worker's missed ticks leave a gap (silence, counted lost) instead of
//! shifting the rest of the call — the relay's decoded samples, the pause's span in frames,
//! and the queue's messages (`JourneyControl`, `FrameBatch`). Must not: block, allocate per
//! frame or touch a file: a full queue drops the tick's frames and the service writes their
//! indexes as silence.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::event::RecordingReports;
use super::jitter::JitterBuffer;
use super::{Codec, FRAME_MS, FRAME_SAMPLES};
use crate::sip::CallId;

/// How far behind the live stream the caller's side is taken: room for 40 ms of reordering.
const SAID_DEPTH: Duration = Duration::from_millis(40);
/// Relayed samples kept for the next ticks: three frames; older ones are dropped.
const HEARD_RING: usize = 3 * FRAME_SAMPLES;
/// Silent frames written ahead of the first tick, for the time the command took to reach
/// the worker: at most a second (a longer wait leaves a gap the service counts lost).
const MAX_LEAD_IN: u64 = 50;
const FRAME_NANOS: u64 = FRAME_MS * 1_000_000;

/// Nanoseconds from `from` to `now` (none if `now` is earlier), in 64 bits: a `u128`
/// division per tick of every recording was the tap's largest cost under load. 2^64 ns is
/// 584 years.
fn nanos_since(from: Instant, now: Instant) -> u64 {
    let elapsed = now.saturating_duration_since(from);
    elapsed
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(elapsed.subsec_nanos()))
}

/// Bytes of one stereo frame as the recording holds it: 160 samples of each channel,
/// interleaved left, right, 16-bit little-endian.
pub const STEREO_FRAME_BYTES: usize = 4 * FRAME_SAMPLES;

/// One stereo frame of a recording, already in the file's bytes: the tap writes each sample
/// once, where the service copies it from into its batch (converting it there too was a
/// second pass over every frame, on a core whose cache had not seen it).
#[derive(Clone, Copy)]
pub struct JourneyFrame {
    pub call: CallId,
    /// Ticks since the recording started: where the frame goes in the file.
    pub index: u64,
    pub wav: [u8; STEREO_FRAME_BYTES],
}

impl JourneyFrame {
    /// The frame's samples, interleaved left, right.
    pub fn samples(&self) -> impl Iterator<Item = i16> + '_ {
        self.wav
            .chunks_exact(2)
            .map(|bytes| i16::from_le_bytes([bytes[0], bytes[1]]))
    }
}

/// The rare messages of a recording's life, on the unbounded control channel (never lost).
pub enum JourneyControl {
    /// A recording begins: `file` relative to the service's data dir; the outcome goes back
    /// through `report` as `MediaEvent::JourneyRecorded`.
    Start {
        call: CallId,
        record_id: String,
        file: PathBuf,
        report: RecordingReports,
    },
    /// The agent paused the recording at frame `from`: from there on the frames are
    /// silence, those already written too.
    Pause { call: CallId, from: u64 },
    /// The agent resumed it before frame `until`: frames from there on are sound again (any
    /// already written silent stay silent).
    Resume { call: CallId, until: u64 },
    /// The leg ended after `frames` frames: every index below it belongs to the file.
    End { call: CallId, frames: u64 },
}

/// The frames of one tick of one engine's recordings, on the queue as one message: the
/// service takes a tick of 300 calls with one receive instead of 300 (the per-frame
/// channel's receive was a sixth of the service's CPU under load).
pub struct FrameBatch {
    pub frames: Vec<JourneyFrame>,
    /// Where the service returns the emptied vector, for its engine to fill again.
    pub spare: Sender<Vec<JourneyFrame>>,
}

/// The recording service's two queues, cloned into every media engine.
#[derive(Clone)]
pub struct JourneySink {
    pub control: Sender<JourneyControl>,
    /// Bounded, in ticks (batches), whatever the number of recordings.
    pub batches: SyncSender<FrameBatch>,
    /// Frames dropped because the queue was full, all recordings together.
    pub dropped: Arc<AtomicU64>,
}

/// The frames an engine's taps made this tick, sent together when the tick is over. Its
/// vectors go round between the engine and the service: a new one is allocated only when
/// none has come back (at the start, or while the queue is full), so their number is bounded
/// by the queue's.
pub struct TickFrames {
    frames: Vec<JourneyFrame>,
    spare_to: Sender<Vec<JourneyFrame>>,
    spares: Receiver<Vec<JourneyFrame>>,
}

impl TickFrames {
    pub fn new() -> TickFrames {
        let (spare_to, spares) = mpsc::channel();
        TickFrames {
            frames: Vec::new(),
            spare_to,
            spares,
        }
    }

    /// A frame of `call` at `index` in this tick, silent until written: the tap writes its
    /// samples where the service will read them, not into a frame of its own copied here.
    pub fn next_frame(&mut self, call: CallId, index: u64) -> &mut [u8; STEREO_FRAME_BYTES] {
        self.frames.push(JourneyFrame {
            call,
            index,
            wav: [0; STEREO_FRAME_BYTES],
        });
        let last = self.frames.len() - 1;
        &mut self.frames[last].wav
    }

    /// The frames of this tick so far.
    pub fn frames(&self) -> &[JourneyFrame] {
        &self.frames
    }

    /// Hands this tick's frames to the service as one message, never waiting: when the
    /// queue is full they are dropped and counted, and the service writes their indexes as
    /// silence.
    pub fn send(&mut self, sink: &JourneySink) {
        if self.frames.is_empty() {
            return;
        }
        let next = self
            .spares
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(self.frames.len()));
        let batch = FrameBatch {
            frames: std::mem::replace(&mut self.frames, next),
            spare: self.spare_to.clone(),
        };
        if let Err(TrySendError::Full(batch) | TrySendError::Disconnected(batch)) =
            sink.batches.try_send(batch)
        {
            sink.dropped
                .fetch_add(batch.frames.len() as u64, Ordering::Relaxed);
            let mut frames = batch.frames;
            frames.clear();
            let _ = self
                .spare_to
                .send(std::mem::replace(&mut self.frames, frames));
        }
    }
}

impl Default for TickFrames {
    fn default() -> TickFrames {
        TickFrames::new()
    }
}

/// A caller leg's recording in progress.
pub struct JourneyTap {
    call: CallId,
    /// The record the recording belongs to (its report names it).
    record_id: String,
    control: Sender<JourneyControl>,
    /// The instant of frame 0: the switch's answer.
    from: Instant,
    /// The next frame's index.
    index: u64,
    /// A frame has been placed (the lead-in is written).
    started: bool,
    paused: bool,
    said: JitterBuffer,
    /// Decoded audio relayed to the caller since the last tick, oldest first.
    heard: [i16; HEARD_RING],
    heard_len: usize,
    /// The right channel of the last tick: what the caller heard is held back by the tick
    /// the caller's jitter buffer holds its audio (it plays from its second packet), so both
    /// channels lag the call alike.
    delay: [i16; FRAME_SAMPLES],
    ended: bool,
}

impl JourneyTap {
    /// Starts a recording of `call` into `file` whose frame 0 begins at `from`; the service
    /// is told at once.
    pub fn start(
        call: CallId,
        record_id: String,
        file: PathBuf,
        codec: Codec,
        from: Instant,
        control: Sender<JourneyControl>,
        report: RecordingReports,
    ) -> JourneyTap {
        let _ = control.send(JourneyControl::Start {
            call,
            record_id: record_id.clone(),
            file,
            report,
        });
        JourneyTap {
            call,
            record_id,
            control,
            from,
            index: 0,
            started: false,
            paused: false,
            said: JitterBuffer::new(codec, SAID_DEPTH),
            heard: [0; HEARD_RING],
            heard_len: 0,
            delay: [0; FRAME_SAMPLES],
            ended: false,
        }
    }

    pub fn set_codec(&mut self, codec: Codec) {
        self.said.set_codec(codec);
    }

    /// The agent paused (or resumed) the recording at `at`: the service silences both
    /// channels from the frame `at` falls in (frames already written included) to the end
    /// of the frame the resume falls in — a frame partly paused is silent.
    pub fn set_paused(&mut self, paused: bool, at: Instant) {
        if paused == self.paused {
            return;
        }
        self.paused = paused;
        let call = self.call;
        let elapsed = nanos_since(self.from, at);
        let _ = self.control.send(if paused {
            JourneyControl::Pause {
                call,
                from: elapsed / FRAME_NANOS,
            }
        } else {
            JourneyControl::Resume {
                call,
                until: elapsed.div_ceil(FRAME_NANOS),
            }
        });
    }

    /// The frame edge of the call's clock nearest to `now`: a tick writes the frame that
    /// ends there.
    fn edge_near(&self, now: Instant) -> u64 {
        (nanos_since(self.from, now) + FRAME_NANOS / 2) / FRAME_NANOS
    }

    /// Where this tick's frame goes, keeping the file on the call's clock: the first tick
    /// writes silence for the time before it (a tick less than half a frame after the answer
    /// has nothing of the call and writes nothing); a frame more than one behind the clock
    /// (ticks a stall skipped) jumps to it, leaving a gap the service counts lost; one more
    /// than one ahead (catch-up ticks run at one instant) is not taken this tick, its audio
    /// waits in the buffers. Within one frame either way — a wake-up late across an edge —
    /// nothing moves.
    fn place(&mut self, now: Instant, out: &mut TickFrames) -> Option<u64> {
        let edge = self.edge_near(now);
        if !self.started {
            if edge == 0 {
                return None;
            }
            self.started = true;
            let lead_in = (edge - 1).saturating_sub(self.index).min(MAX_LEAD_IN);
            for _ in 0..lead_in {
                out.next_frame(self.call, self.index);
                self.index += 1;
            }
        }
        if self.index > edge {
            return None;
        }
        if self.index + 2 < edge {
            self.index = edge - 1;
        }
        let index = self.index;
        self.index += 1;
        Some(index)
    }

    pub fn record_id(&self) -> &str {
        &self.record_id
    }

    /// Frames handed over so far (the next frame's index).
    pub fn frames(&self) -> u64 {
        self.index
    }

    /// An audio packet from the caller.
    pub fn said(&mut self, now: Instant, sequence: u16, timestamp: u32, ssrc: u32, payload: &[u8]) {
        self.said.push(now, sequence, timestamp, ssrc, payload);
    }

    /// Audio relayed to the caller from the bridged leg, in `codec`.
    pub fn relayed(&mut self, codec: Codec, payload: &[u8]) {
        let n = payload.len().min(HEARD_RING);
        let overflow = (self.heard_len + n).saturating_sub(HEARD_RING);
        if overflow > 0 {
            self.heard.copy_within(overflow..self.heard_len, 0);
            self.heard_len -= overflow;
        }
        let table = codec.decode_table();
        let at = self.heard_len;
        for (out, &byte) in self.heard[at..at + n].iter_mut().zip(&payload[..n]) {
            *out = table[usize::from(byte)];
        }
        self.heard_len += n;
    }

    /// The tick: `sent` is the frame the caller was sent this tick (`None` when the relay
    /// sent what arrived, or nothing went out); the frame goes into `out`.
    pub fn on_tick(
        &mut self,
        now: Instant,
        sent: Option<(Codec, &[u8; FRAME_SAMPLES])>,
        out: &mut TickFrames,
    ) {
        let Some(index) = self.place(now, out) else {
            return;
        };
        let said = self.said.pop(now);
        // Last tick's right channel comes out of the delay line into the frame; this tick's
        // goes in.
        let frame = out.next_frame(self.call, index);
        // While paused the frame stays silent here too: only the frames between the keys and
        // this worker hearing of them reach the service with sound, for it to silence.
        if !self.paused {
            for ((pair, &said), &heard) in frame.chunks_exact_mut(4).zip(said.pcm).zip(&self.delay)
            {
                pair[..2].copy_from_slice(&said.to_le_bytes());
                pair[2..].copy_from_slice(&heard.to_le_bytes());
            }
        }
        let heard = &mut self.delay;
        match sent {
            Some((codec, frame)) => {
                let table = codec.decode_table();
                for (slot, &byte) in heard.iter_mut().zip(frame.iter()) {
                    *slot = table[usize::from(byte)];
                }
                self.heard_len = 0;
            }
            None => {
                let take = self.heard_len.min(FRAME_SAMPLES);
                heard[..take].copy_from_slice(&self.heard[..take]);
                heard[take..].fill(0);
                self.heard.copy_within(take..self.heard_len, 0);
                self.heard_len -= take;
            }
        }
    }

    /// A tick before the leg has media: silence on both sides, the clock still runs.
    pub fn on_silent_tick(&mut self, now: Instant, out: &mut TickFrames) {
        if let Some(index) = self.place(now, out) {
            self.delay = [0; FRAME_SAMPLES];
            out.next_frame(self.call, index);
        }
    }

    /// The leg ended: the service finishes the file.
    pub fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            let _ = self.control.send(JourneyControl::End {
                call: self.call,
                frames: self.index,
            });
        }
    }
}

impl Drop for JourneyTap {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(test)]
#[path = "journey_tests.rs"]
mod tests;
