//! The QA recording tap of a caller's leg (issue 9): on every 20 ms tick of the leg, one
//! stereo frame — left what the caller said (through a jitter buffer: ordered, loss
//! concealed), right what the caller heard that tick (the frame sent, or what was relayed
//! from the bridged leg during the tick) — handed to the recording service through a
//! bounded queue.
//!
//! Owns the frame index (one per tick from `RecordJourney`, so the file follows the media
//! clock and never drifts), the pause, the relay's decoded samples, and the queue's
//! messages (`JourneyControl`, `JourneyFrame`). Must not: block, allocate per frame or touch
//! a file: a full queue drops the frame and the service writes its index as silence.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::event::MediaEvent;
use super::jitter::JitterBuffer;
use super::{Codec, FRAME_SAMPLES};
use crate::sip::CallId;

/// How far behind the live stream the caller's side is taken: room for 40 ms of reordering.
const SAID_DEPTH: Duration = Duration::from_millis(40);
/// Relayed samples kept for the next ticks: three frames; older ones are dropped.
const HEARD_RING: usize = 3 * FRAME_SAMPLES;

/// One stereo frame of a recording: `pcm` interleaved left, right (160 samples each).
#[derive(Clone, Copy)]
pub struct JourneyFrame {
    pub call: CallId,
    /// Ticks since the recording started: where the frame goes in the file.
    pub index: u64,
    pub pcm: [i16; 2 * FRAME_SAMPLES],
}

/// The rare messages of a recording's life, on the unbounded control channel (never lost).
pub enum JourneyControl {
    /// A recording begins: `file` relative to the service's data dir; the outcome goes back
    /// through `report` as `MediaEvent::JourneyRecorded`.
    Start {
        call: CallId,
        record_id: String,
        file: PathBuf,
        report: Sender<(CallId, MediaEvent)>,
    },
    /// The leg ended after `frames` ticks: every index below it belongs to the file.
    End { call: CallId, frames: u64 },
}

/// The recording service's two queues, cloned into every media engine.
#[derive(Clone)]
pub struct JourneySink {
    pub control: Sender<JourneyControl>,
    pub frames: SyncSender<JourneyFrame>,
    /// Frames dropped because the queue was full, all recordings together.
    pub dropped: Arc<AtomicU64>,
}

/// A caller leg's recording in progress.
pub struct JourneyTap {
    call: CallId,
    sink: JourneySink,
    index: u64,
    paused: bool,
    said: JitterBuffer,
    /// Decoded audio relayed to the caller since the last tick, oldest first.
    heard: [i16; HEARD_RING],
    heard_len: usize,
    /// The right channel of the last tick: what the caller heard is held back by the tick
    /// the caller's jitter buffer holds its audio (it plays from its second packet), so both
    /// channels lag the call alike.
    delay: [i16; FRAME_SAMPLES],
    frame: [i16; 2 * FRAME_SAMPLES],
    ended: bool,
}

impl JourneyTap {
    /// Starts a recording of `call` into `file`; the service is told at once.
    pub fn start(
        call: CallId,
        record_id: String,
        file: PathBuf,
        codec: Codec,
        sink: JourneySink,
        report: Sender<(CallId, MediaEvent)>,
    ) -> JourneyTap {
        let _ = sink.control.send(JourneyControl::Start {
            call,
            record_id,
            file,
            report,
        });
        JourneyTap {
            call,
            sink,
            index: 0,
            paused: false,
            said: JitterBuffer::new(codec, SAID_DEPTH),
            heard: [0; HEARD_RING],
            heard_len: 0,
            delay: [0; FRAME_SAMPLES],
            frame: [0; 2 * FRAME_SAMPLES],
            ended: false,
        }
    }

    pub fn set_codec(&mut self, codec: Codec) {
        self.said.set_codec(codec);
    }

    /// Paused frames are written as silence on both channels.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    pub fn paused(&self) -> bool {
        self.paused
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
    /// sent what arrived, or nothing went out); the frame goes to the queue.
    pub fn on_tick(&mut self, now: Instant, sent: Option<(Codec, &[u8; FRAME_SAMPLES])>) {
        let said = self.said.pop(now);
        for (i, &sample) in said.pcm.iter().enumerate() {
            self.frame[2 * i] = sample;
        }
        // This tick's right channel goes into the delay line; the oldest comes out.
        let heard = &mut self.delay;
        let out = *heard;
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
        for (i, &sample) in out.iter().enumerate() {
            self.frame[2 * i + 1] = sample;
        }
        self.push();
    }

    /// A tick before the leg has media: silence on both sides, the clock still runs.
    pub fn on_silent_tick(&mut self) {
        self.frame = [0; 2 * FRAME_SAMPLES];
        self.delay = [0; FRAME_SAMPLES];
        self.push();
    }

    fn push(&mut self) {
        if self.paused {
            self.frame = [0; 2 * FRAME_SAMPLES];
        }
        let frame = JourneyFrame {
            call: self.call,
            index: self.index,
            pcm: self.frame,
        };
        self.index += 1;
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.sink.frames.try_send(frame)
        {
            self.sink.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The leg ended: the service finishes the file.
    pub fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            let _ = self.sink.control.send(JourneyControl::End {
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
