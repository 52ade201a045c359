//! The tap's jitter buffer: turns one far end's audio packets, as they arrive (late,
//! reordered, duplicated, lost, 10/20/30 ms each), into an ordered stream of 20 ms PCM frames
//! for the decoding consumers (recording, voice activity, in-band DTMF). The relay does not
//! go through it.
//!
//! Owns: extended (wrapping) sequence numbers and timestamps, placing decoded samples by RTP
//! timestamp in a fixed ring, the playout point, loss concealment (the last frame repeated
//! at falling gain for up to 60 ms, then silence), resets on a new SSRC or a clock jump, the
//! 60 ms bound on what it holds, and the counters a call record reports.
//!
//! Playout: the first packet anchors the playout point at its first sample; frames are handed
//! out from the first `pop` at which `depth` of audio is buffered (so the buffer delays audio
//! by about `depth`), then one 20 ms frame per `pop` whether the audio arrived or not. A
//! packet whose samples start before the playout point is late. A missing frame is concealed
//! (at most three, 60 ms); if after that nothing is buffered the stream is taken as stopped
//! (phones with voice activity detection stop sending; or the network's delay grew past the
//! depth, so every packet is late): the buffer goes quiet, those frames are not counted as
//! loss, and the next packet anchors afresh (a moved clock after such a pause is not counted
//! as a reset). `now` is taken for the API's sake; playout is counted in ticks.
//!
//! Pure: `now` is passed in, nothing allocates after `new`, no I/O.

use std::time::{Duration, Instant};

use super::{Codec, FRAME_SAMPLES};

/// The most audio the buffer ever holds ahead of its playout point: 60 ms at 8 kHz.
pub const MAX_DEPTH_SAMPLES: usize = 480;
/// The shallowest target depth: one frame.
pub const MIN_DEPTH: Duration = Duration::from_millis(20);
/// The deepest target depth.
pub const MAX_DEPTH: Duration = Duration::from_millis(60);
/// Concealed frames before a loss is played as silence (60 ms).
const MAX_CONCEALED_FRAMES: u8 = 3;
/// A sequence number this far behind the highest seen is not a reordered packet but a
/// restarted stream (RFC 3550 appendix A.1 uses 100 for misorder).
const MAX_MISORDER: i64 = 100;
/// A sequence number this far ahead is not loss but a restarted stream (RFC 3550: 3000).
const MAX_DROPOUT: i64 = 3000;
/// A timestamp this far (1 s of samples) from where the sequence number says it should be is
/// a clock jump.
const MAX_TIMESTAMP_SLIP: i64 = 8000;
/// Ring of decoded samples indexed by extended timestamp; larger than the 60 ms window.
const RING: usize = 512;
/// Sequence numbers remembered (behind the highest) to recognise duplicates.
const SEEN_WINDOW: i64 = 128;

/// What a popped frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// The far end's audio (a frame partly lost to a 10 ms gap still counts as received; the
    /// missing samples are filled from the previous frame at half gain).
    Received,
    /// A lost frame: the last one repeated at falling gain.
    Concealed,
    /// Nothing to play: the stream has not started, is buffering, stopped, or has been lost
    /// for more than 60 ms.
    Silence,
}

/// The next 20 ms of the far end's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapFrame<'a> {
    pub kind: FrameKind,
    pub pcm: &'a [i16; FRAME_SAMPLES],
}

/// Counters since `new`, for the call record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets taken into the buffer.
    pub received: u64,
    /// Packets dropped because their audio starts before the playout point.
    pub late: u64,
    /// Packets dropped because their sequence number was already received.
    pub duplicate: u64,
    /// 20 ms frames played with none of their audio (concealed, or silence after 60 ms of
    /// loss), counted once audio follows them: the frames concealed at the end of a stream
    /// that stopped are not loss.
    pub lost: u64,
    /// Packets taken in although a higher sequence number had already arrived.
    pub reordered: u64,
    /// Pushes that would have held more than 60 ms, so the oldest audio was dropped.
    pub overflowed: u64,
    /// Restarts on a new SSRC or a clock jump.
    pub resets: u64,
}

/// Where the current stream stands. Positions are extended timestamps (i64, never wrap).
#[derive(Debug, Clone, Copy)]
struct Stream {
    ssrc: u32,
    /// Highest sequence number seen, raw and extended.
    highest_sequence: u16,
    highest_sequence_ext: i64,
    /// Bit i set: sequence `highest_sequence_ext - i` was received.
    seen: u128,
    /// Timestamp of the highest sequence number, raw and extended.
    reference_timestamp: u32,
    reference_timestamp_ext: i64,
    /// Samples per packet of the latest packet.
    packet_samples: usize,
    /// Next sample to play, and one past the last sample buffered.
    play: i64,
    end: i64,
    playing: bool,
    stopped: bool,
    concealed_run: u8,
    /// Frames played without audio since the last received one: counted as lost when audio
    /// follows them, forgotten when the stream turns out to have stopped.
    unconfirmed_lost: u64,
    last_arrival: Instant,
}

/// A bounded jitter buffer for one far end's G.711 audio.
///
/// Laid out in this order (`repr(C)`): what every packet reads and writes — the stream, the
/// codec, the slots filled, the counters — shares the first cache lines, ahead of the sample
/// ring. With hundreds of calls a buffer is cold at each packet, and the compiler's own
/// order put those fields kilobytes apart: three cache misses per packet, the media
/// thread's largest symbol under load with recording on.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct JitterBuffer {
    stream: Option<Stream>,
    codec: Codec,
    depth_samples: usize,
    filled: Filled,
    stats: JitterStats,
    samples: [i16; RING],
    /// The frame handed out and the last received one (concealment repeats it), in turns:
    /// a received frame becomes the last one by its index, not by a copy.
    frames: [[i16; FRAME_SAMPLES]; 2],
    last_received: usize,
    silence: [i16; FRAME_SAMPLES],
}

/// The ring slot of an extended position (`RING` is a power of two, so this is
/// `rem_euclid` for negative positions too).
fn slot(position: i64) -> usize {
    (position as u64 as usize) & (RING - 1)
}

/// Slots `start..start + len` of the ring (`len <= RING`) as at most two contiguous ranges.
fn spans(start: usize, len: usize) -> [std::ops::Range<usize>; 2] {
    let first = (RING - start).min(len);
    [start..start + first, 0..len - first]
}

/// Which ring slots hold a sample: one bit each, so a frame is checked, counted and cleared
/// a word at a time (a bool per slot made the buffer the media thread's largest symbol).
#[derive(Debug, Clone, Copy, Default)]
struct Filled([u64; RING / 64]);

impl Filled {
    fn is_set(&self, slot: usize) -> bool {
        self.0[slot / 64] & (1 << (slot % 64)) != 0
    }

    /// Calls `f(word, mask)` for the bits of slots `start..start + len`, wrapping.
    fn words(start: usize, len: usize, mut f: impl FnMut(usize, u64)) {
        let mut at = start;
        let mut left = len.min(RING);
        while left > 0 {
            let bit = at % 64;
            let take = (64 - bit).min(left);
            let mask = if take == 64 {
                u64::MAX
            } else {
                ((1u64 << take) - 1) << bit
            };
            f(at / 64, mask);
            left -= take;
            at = (at + take) & (RING - 1);
        }
    }

    fn set(&mut self, start: usize, len: usize) {
        Filled::words(start, len, |w, mask| self.0[w] |= mask);
    }

    /// Clears the slots of positions `from..to` (all of them when the span covers the ring).
    fn clear_positions(&mut self, from: i64, to: i64) {
        if to <= from {
            return;
        }
        let len = usize::try_from(to - from).unwrap_or(RING);
        Filled::words(slot(from), len, |w, mask| self.0[w] &= !mask);
    }

    fn count(&self, start: usize, len: usize) -> usize {
        let mut n = 0;
        Filled::words(start, len, |w, mask| {
            n += (self.0[w] & mask).count_ones() as usize
        });
        n
    }

    fn clear_all(&mut self) {
        self.0 = [0; RING / 64];
    }
}

impl JitterBuffer {
    /// A buffer for `codec` audio that delays it by `depth`, clamped to 20..=60 ms.
    pub fn new(codec: Codec, depth: Duration) -> JitterBuffer {
        let depth = depth.clamp(MIN_DEPTH, MAX_DEPTH);
        JitterBuffer {
            codec,
            depth_samples: (depth.as_micros() as usize * 8 / 1000).min(MAX_DEPTH_SAMPLES),
            samples: [0; RING],
            filled: Filled::default(),
            frames: [[0; FRAME_SAMPLES]; 2],
            last_received: 0,
            silence: [0; FRAME_SAMPLES],
            stream: None,
            stats: JitterStats::default(),
        }
    }

    /// The law of packets pushed from now on (after a re-INVITE); audio already buffered was
    /// decoded on arrival and is unaffected.
    pub fn set_codec(&mut self, codec: Codec) {
        self.codec = codec;
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Takes one audio packet as it arrives.
    pub fn push(&mut self, now: Instant, sequence: u16, timestamp: u32, ssrc: u32, payload: &[u8]) {
        if payload.is_empty() {
            return;
        }
        // A packet longer than the buffer keeps its newest 60 ms, placed where they belong.
        let len = payload.len().min(MAX_DEPTH_SAMPLES);
        let skipped = payload.len() - len;
        let payload = &payload[skipped..];
        let timestamp = timestamp.wrapping_add(skipped as u32);
        let Some(mut stream) = self.stream else {
            self.anchor(now, sequence, timestamp, ssrc, len);
            self.store(timestamp_position_first(), payload);
            self.stats.received += 1;
            return;
        };
        if stream.ssrc != ssrc {
            self.reset(now, sequence, timestamp, ssrc, len, payload);
            return;
        }
        let sequence_delta = i64::from(sequence.wrapping_sub(stream.highest_sequence) as i16);
        let sequence_ext = stream.highest_sequence_ext + sequence_delta;
        let position = stream.reference_timestamp_ext
            + i64::from(timestamp.wrapping_sub(stream.reference_timestamp) as i32);
        let expected =
            stream.reference_timestamp_ext + sequence_delta * stream.packet_samples as i64;
        if !(-MAX_MISORDER..=MAX_DROPOUT).contains(&sequence_delta)
            || (position - expected).abs() > MAX_TIMESTAMP_SLIP
        {
            if stream.stopped {
                // A pause (voice activity detection) may well move the clock: start afresh.
                self.anchor(now, sequence, timestamp, ssrc, len);
                self.store(timestamp_position_first(), payload);
                self.stats.received += 1;
            } else {
                self.reset(now, sequence, timestamp, ssrc, len, payload);
            }
            return;
        }
        let behind = stream.highest_sequence_ext - sequence_ext;
        if (0..SEEN_WINDOW).contains(&behind) && stream.seen & (1u128 << behind) != 0 {
            self.stats.duplicate += 1;
            return;
        }
        stream.last_arrival = now;
        if stream.stopped {
            // The far end resumes after a pause: play from this packet after a fresh delay.
            stream.stopped = false;
            stream.playing = false;
            stream.play = position;
            stream.end = position;
            stream.concealed_run = 0;
            stream.unconfirmed_lost = 0;
            self.filled.clear_all();
        }
        if position < stream.play {
            let fits = stream.end - position <= MAX_DEPTH_SAMPLES as i64;
            if stream.playing || !fits {
                self.stream = Some(stream);
                self.stats.late += 1;
                return;
            }
            // Still buffering: an earlier packet overtaken by a later one moves the start back.
            stream.play = position;
        }
        if sequence_ext > stream.highest_sequence_ext {
            let advance = sequence_ext - stream.highest_sequence_ext;
            stream.seen = if advance >= 128 {
                1
            } else {
                (stream.seen << advance) | 1
            };
            stream.highest_sequence = sequence;
            stream.highest_sequence_ext = sequence_ext;
            stream.reference_timestamp = timestamp;
            stream.reference_timestamp_ext = position;
            stream.packet_samples = len;
        } else {
            if behind < SEEN_WINDOW {
                stream.seen |= 1u128 << behind;
            }
            self.stats.reordered += 1;
        }
        let end = position + len as i64;
        if end - stream.play > MAX_DEPTH_SAMPLES as i64 {
            let new_play = end - MAX_DEPTH_SAMPLES as i64;
            self.filled
                .clear_positions(stream.play, new_play.min(stream.end));
            stream.play = new_play;
            self.stats.overflowed += 1;
        }
        stream.end = stream.end.max(end);
        self.stream = Some(stream);
        self.store(position, payload);
        self.stats.received += 1;
    }

    /// The next 20 ms of audio, called on every tick.
    pub fn pop(&mut self, _now: Instant) -> TapFrame<'_> {
        let Some(mut stream) = self.stream else {
            return self.silent();
        };
        if stream.stopped {
            return self.silent();
        }
        if !stream.playing {
            let target = self.start_threshold(stream.packet_samples) as i64;
            if stream.end - stream.play < target {
                return self.silent();
            }
            // Start exactly `target` behind the newest audio: a head start beyond it (two
            // 30 ms packets before the first tick) would only overflow later.
            let head = stream.end - target;
            self.filled.clear_positions(stream.play, head);
            stream.play = stream.play.max(head);
            stream.playing = true;
        }
        let start = stream.play;
        let first = slot(start);
        let present = self.filled.count(first, FRAME_SAMPLES);
        let written = 1 - self.last_received;
        let (frame, last_frame) = match &mut self.frames {
            [zero, one] if written == 0 => (zero, &*one),
            [zero, one] => (one, &*zero),
        };
        let kind = if present == FRAME_SAMPLES {
            let [a, b] = spans(first, FRAME_SAMPLES);
            let (front, back) = frame.split_at_mut(a.len());
            front.copy_from_slice(&self.samples[a]);
            back.copy_from_slice(&self.samples[b]);
            FrameKind::Received
        } else if present > 0 {
            for (i, out) in frame.iter_mut().enumerate() {
                let s = slot(start + i as i64);
                *out = if self.filled.is_set(s) {
                    self.samples[s]
                } else {
                    last_frame[i] / 2
                };
            }
            FrameKind::Received
        } else if stream.concealed_run < MAX_CONCEALED_FRAMES {
            stream.concealed_run += 1;
            let shift = stream.concealed_run;
            for (out, &last) in frame.iter_mut().zip(last_frame) {
                *out = last >> shift;
            }
            FrameKind::Concealed
        } else if stream.end <= start {
            // 60 ms concealed and nothing buffered: the far end stopped (or paused for voice
            // activity detection), or its packets now all come too late (the network's delay
            // grew past the depth). Either way start afresh from the next packet. What was
            // concealed is not counted as loss: it cannot be told from a pause.
            stream.stopped = true;
            stream.playing = false;
            stream.unconfirmed_lost = 0;
            self.stream = Some(stream);
            return self.silent();
        } else {
            frame.fill(0);
            FrameKind::Silence
        };
        if kind == FrameKind::Received {
            stream.concealed_run = 0;
            self.last_received = written;
            // Audio after a gap: the gap was loss.
            self.stats.lost += stream.unconfirmed_lost;
            stream.unconfirmed_lost = 0;
        } else {
            stream.unconfirmed_lost += 1;
        }
        self.filled
            .clear_positions(start, start + FRAME_SAMPLES as i64);
        stream.play = start + FRAME_SAMPLES as i64;
        stream.end = stream.end.max(stream.play);
        self.stream = Some(stream);
        TapFrame {
            kind,
            pcm: &self.frames[written],
        }
    }

    fn silent(&self) -> TapFrame<'_> {
        TapFrame {
            kind: FrameKind::Silence,
            pcm: &self.silence,
        }
    }

    /// Audio buffered before playout starts: the target depth, but enough that packets
    /// longer than a frame (30 ms) never leave a tick short, and low enough that packets
    /// shorter or longer than a frame (10 or 30 ms), whose arrivals beat against the 20 ms
    /// tick, never push the buffer past 60 ms in steady flow.
    fn start_threshold(&self, packet_samples: usize) -> usize {
        let least = if packet_samples > FRAME_SAMPLES {
            (packet_samples + FRAME_SAMPLES / 2).min(MAX_DEPTH_SAMPLES)
        } else {
            FRAME_SAMPLES
        };
        let most = MAX_DEPTH_SAMPLES - FRAME_SAMPLES.abs_diff(packet_samples).min(FRAME_SAMPLES);
        self.depth_samples.max(least).min(most.max(least))
    }

    fn anchor(&mut self, now: Instant, sequence: u16, timestamp: u32, ssrc: u32, len: usize) {
        self.filled.clear_all();
        self.stream = Some(Stream {
            ssrc,
            highest_sequence: sequence,
            highest_sequence_ext: 1 << 20,
            seen: 1,
            reference_timestamp: timestamp,
            reference_timestamp_ext: timestamp_position_first(),
            packet_samples: len,
            play: timestamp_position_first(),
            end: timestamp_position_first() + len as i64,
            playing: false,
            stopped: false,
            concealed_run: 0,
            unconfirmed_lost: 0,
            last_arrival: now,
        });
    }

    fn reset(
        &mut self,
        now: Instant,
        sequence: u16,
        timestamp: u32,
        ssrc: u32,
        len: usize,
        payload: &[u8],
    ) {
        self.stats.resets += 1;
        self.anchor(now, sequence, timestamp, ssrc, len);
        self.store(timestamp_position_first(), payload);
        self.stats.received += 1;
    }

    fn store(&mut self, position: i64, payload: &[u8]) {
        let table = self.codec.decode_table();
        let first = slot(position);
        let [a, b] = spans(first, payload.len());
        let (front, back) = payload.split_at(a.len());
        for (out, &byte) in self.samples[a].iter_mut().zip(front) {
            *out = table[usize::from(byte)];
        }
        for (out, &byte) in self.samples[b].iter_mut().zip(back) {
            *out = table[usize::from(byte)];
        }
        self.filled.set(first, payload.len());
    }
}

/// The extended position given to the first sample of a stream (any value works; this one
/// leaves room both ways).
fn timestamp_position_first() -> i64 {
    1 << 40
}

#[cfg(test)]
mod tests;
