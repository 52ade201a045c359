//! One outgoing RTP stream of a leg and how what it sends is numbered (rtpengine `ssrc.c`
//! style): the stream keeps its own SSRC for the whole call; a relayed packet goes out with
//! sequence = source sequence + offset and timestamp = source timestamp + offset, so loss,
//! reordering and duplicates from the far end stay visible at the other end. A change of
//! origin — local audio (prompt, silence, mix) after relayed audio or back, a new SSRC from
//! the far end (transfer, SBC switch-over), a big timestamp or sequence jump — re-bases the
//! offsets so the first packet after it follows on from the last one sent (+1 sequence,
//! + the elapsed 20 ms ticks in timestamp) with the marker bit, never a jump of a second.
//!
//! Owns numbering only: no payloads, no sockets, no clock (`now` comes in).

use std::time::{Duration, Instant};

use super::{FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE};

/// A source timestamp step bigger than this (1 s) is not the source's own timing but a
/// restart or a switch-over: the stream re-bases instead of passing the jump on.
const MAX_TIMESTAMP_STEP: u32 = SAMPLE_RATE;

/// A source sequence step bigger than this (20 s of packets) is a restarted source, not loss.
const MAX_SEQUENCE_STEP: u16 = 1000;

/// The header fields of the next packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamHeader {
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Nothing continues: the next packet re-bases.
    None,
    /// Frames made here on the tick, one frame apart.
    Local,
    /// Packets of one source stream, rewritten by offsets.
    Relay {
        ssrc: u32,
        sequence_offset: u16,
        timestamp_offset: u32,
        /// The newest source packet seen (by sequence), to spot jumps.
        newest_sequence: u16,
        newest_timestamp: u32,
    },
}

#[derive(Debug, Clone, Copy)]
struct Newest {
    sequence: u16,
    timestamp: u32,
    at: Instant,
}

/// The numbering of one outgoing stream.
#[derive(Debug, Clone)]
pub struct OutgoingStream {
    ssrc: u32,
    first_sequence: u16,
    first_timestamp: u32,
    /// The newest packet sent (by sequence) and when the last packet went out.
    newest: Option<Newest>,
    origin: Origin,
}

impl OutgoingStream {
    /// A stream starting at random SSRC, sequence and timestamp (RFC 3550 section 5.1).
    pub fn random() -> OutgoingStream {
        OutgoingStream::with_start(rand::random(), rand::random(), rand::random())
    }

    /// A stream whose first packet carries these values (tests, captures).
    pub fn with_start(ssrc: u32, sequence: u16, timestamp: u32) -> OutgoingStream {
        OutgoingStream {
            ssrc,
            first_sequence: sequence,
            first_timestamp: timestamp,
            newest: None,
            origin: Origin::None,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Whatever was being sent stopped (the leg stopped sending, its source changed): the
    /// next packet re-bases with the marker bit.
    pub fn interrupt(&mut self) {
        self.origin = Origin::None;
    }

    /// The header of a 20 ms frame made here (prompt, silence, mix) sent at `now`: one frame
    /// after the previous local frame, or re-based after anything else.
    pub fn local(&mut self, now: Instant) -> StreamHeader {
        let (marker, sequence, timestamp) = match (self.origin, self.newest) {
            (Origin::Local, Some(newest)) => (
                false,
                newest.sequence.wrapping_add(1),
                newest.timestamp.wrapping_add(FRAME_SAMPLES as u32),
            ),
            _ => {
                let (sequence, timestamp) = self.rebased(now);
                (true, sequence, timestamp)
            }
        };
        self.origin = Origin::Local;
        self.sent(now, sequence, timestamp);
        self.header(marker, sequence, timestamp)
    }

    /// The header of a packet relayed from a source stream: the source's numbers moved by
    /// the offsets, or new offsets when the source changed.
    pub fn relay(
        &mut self,
        now: Instant,
        source_ssrc: u32,
        source_sequence: u16,
        source_timestamp: u32,
        source_marker: bool,
    ) -> StreamHeader {
        let continues = match self.origin {
            Origin::Relay {
                ssrc,
                newest_sequence,
                newest_timestamp,
                ..
            } => {
                let sequence_step = source_sequence.wrapping_sub(newest_sequence) as i16;
                let timestamp_step = source_timestamp.wrapping_sub(newest_timestamp) as i32;
                ssrc == source_ssrc
                    && sequence_step.unsigned_abs() <= MAX_SEQUENCE_STEP
                    && timestamp_step.unsigned_abs() <= MAX_TIMESTAMP_STEP
            }
            _ => false,
        };
        if !continues {
            let (sequence, timestamp) = self.rebased(now);
            self.origin = Origin::Relay {
                ssrc: source_ssrc,
                sequence_offset: sequence.wrapping_sub(source_sequence),
                timestamp_offset: timestamp.wrapping_sub(source_timestamp),
                newest_sequence: source_sequence,
                newest_timestamp: source_timestamp,
            };
            self.sent(now, sequence, timestamp);
            return self.header(true, sequence, timestamp);
        }
        let Origin::Relay {
            sequence_offset,
            timestamp_offset,
            ref mut newest_sequence,
            ref mut newest_timestamp,
            ..
        } = self.origin
        else {
            unreachable!("continues only for a relay origin");
        };
        if (source_sequence.wrapping_sub(*newest_sequence) as i16) > 0 {
            *newest_sequence = source_sequence;
            *newest_timestamp = source_timestamp;
        }
        let sequence = source_sequence.wrapping_add(sequence_offset);
        let timestamp = source_timestamp.wrapping_add(timestamp_offset);
        self.sent(now, sequence, timestamp);
        self.header(source_marker, sequence, timestamp)
    }

    /// Where a re-based packet goes: one after the newest sent, its timestamp moved on by
    /// the 20 ms ticks since the last packet went out (at least one).
    fn rebased(&self, now: Instant) -> (u16, u32) {
        match self.newest {
            None => (self.first_sequence, self.first_timestamp),
            Some(newest) => {
                let elapsed = now.saturating_duration_since(newest.at);
                let ticks = ticks_in(elapsed).max(1);
                (
                    newest.sequence.wrapping_add(1),
                    newest
                        .timestamp
                        .wrapping_add(ticks.wrapping_mul(FRAME_SAMPLES as u32)),
                )
            }
        }
    }

    fn sent(&mut self, now: Instant, sequence: u16, timestamp: u32) {
        match &mut self.newest {
            Some(newest) => {
                if (sequence.wrapping_sub(newest.sequence) as i16) > 0 {
                    newest.sequence = sequence;
                    newest.timestamp = timestamp;
                }
                newest.at = now;
            }
            None => {
                self.newest = Some(Newest {
                    sequence,
                    timestamp,
                    at: now,
                })
            }
        }
    }

    fn header(&self, marker: bool, sequence: u16, timestamp: u32) -> StreamHeader {
        StreamHeader {
            marker,
            sequence,
            timestamp,
            ssrc: self.ssrc,
        }
    }
}

/// Whole 20 ms ticks in `elapsed`, rounded to the nearest (a tick a few ms late is one tick).
fn ticks_in(elapsed: Duration) -> u32 {
    let frame_us = FRAME_MS as u128 * 1000;
    let ticks = (elapsed.as_micros() + frame_us / 2) / frame_us;
    u32::try_from(ticks).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn stream() -> (OutgoingStream, Instant) {
        (OutgoingStream::with_start(0xA1, 100, 5000), Instant::now())
    }

    fn numbers(header: StreamHeader) -> (bool, u16, u32) {
        (header.marker, header.sequence, header.timestamp)
    }

    #[test]
    fn local_frames_follow_one_frame_apart_whatever_the_tick_jitter() {
        let (mut stream, t0) = stream();
        let sent: Vec<_> = [0u64, 27, 33, 60, 95]
            .iter()
            .map(|&ms| numbers(stream.local(t0 + MS * ms as u32)))
            .collect();
        assert_eq!(
            sent,
            vec![
                (true, 100, 5000),
                (false, 101, 5160),
                (false, 102, 5320),
                (false, 103, 5480),
                (false, 104, 5640)
            ]
        );
    }

    #[test]
    fn relayed_packets_keep_the_sources_spacing_by_offsets() {
        let (mut stream, t0) = stream();
        let sent: Vec<_> = (0..4u16)
            .map(|i| {
                numbers(stream.relay(
                    t0 + MS * 20 * u32::from(i),
                    0xCA11,
                    9000 + i,
                    70_000 + 160 * u32::from(i),
                    i == 0,
                ))
            })
            .collect();
        assert_eq!(
            sent,
            vec![
                (true, 100, 5000),
                (false, 101, 5160),
                (false, 102, 5320),
                (false, 103, 5480)
            ]
        );
        assert_eq!(stream.relay(t0, 0xCA11, 9004, 70_640, false).ssrc, 0xA1);
    }

    #[test]
    fn a_source_change_rebases_with_the_marker_and_no_jump() {
        let (mut stream, t0) = stream();
        for i in 0..3u32 {
            stream.local(t0 + MS * 20 * i);
        }
        // Prompt → relay: the first relayed packet is the next tick's frame.
        let first = stream.relay(t0 + MS * 60, 0xCA11, 40_000, 3_000_000, false);
        assert_eq!(numbers(first), (true, 103, 5480));
        assert_eq!(
            numbers(stream.relay(t0 + MS * 80, 0xCA11, 40_001, 3_000_160, false)),
            (false, 104, 5640)
        );
        // Relay → prompt, 40 ms later: two ticks on, marked.
        assert_eq!(numbers(stream.local(t0 + MS * 120)), (true, 105, 5960));
    }

    #[test]
    fn a_new_source_ssrc_rebases_instead_of_jumping() {
        let (mut stream, t0) = stream();
        stream.relay(t0, 0x1111, 10, 1000, true);
        stream.relay(t0 + MS * 20, 0x1111, 11, 1160, false);
        // A transfer: another stream, numbers far away, 20 ms later.
        let header = stream.relay(t0 + MS * 40, 0x2222, 60_000, 4_000_000_000, false);
        assert_eq!(numbers(header), (true, 102, 5320));
        assert_eq!(
            numbers(stream.relay(t0 + MS * 60, 0x2222, 60_001, 4_000_000_160, false)),
            (false, 103, 5480)
        );
    }

    #[test]
    fn a_big_timestamp_jump_rebases_to_the_elapsed_time() {
        let (mut stream, t0) = stream();
        stream.relay(t0, 0x1111, 10, 1000, true);
        // Same SSRC, next sequence, but the timestamp leaps an hour ahead 20 ms later.
        let header = stream.relay(t0 + MS * 20, 0x1111, 11, 1000 + 28_800_000, false);
        assert_eq!(numbers(header), (true, 101, 5160));
        // A sequence restart is a new origin too.
        let header = stream.relay(t0 + MS * 40, 0x1111, 30_000, 28_801_160, false);
        assert_eq!(numbers(header), (true, 102, 5320));
    }

    #[test]
    fn reorder_stays_reorder_and_a_duplicate_keeps_its_number() {
        let (mut stream, t0) = stream();
        let mut sent = Vec::new();
        // Source order 1, 3, 2, 2 (duplicate), 4.
        for (i, seq) in [1u16, 3, 2, 2, 4].into_iter().enumerate() {
            let ts = 160 * u32::from(seq);
            let h = stream.relay(t0 + MS * 20 * i as u32, 0xCA11, seq, ts, seq == 1);
            sent.push((h.sequence, h.timestamp));
        }
        assert_eq!(
            sent,
            vec![
                (100, 5000),
                (102, 5320),
                (101, 5160),
                (101, 5160),
                (103, 5480)
            ]
        );
        // A re-base after the reordered packet follows on from the newest sent, not the last.
        let header = stream.local(t0 + MS * 100);
        assert_eq!(numbers(header), (true, 104, 5640));
    }

    #[test]
    fn loss_stays_visible_as_a_sequence_gap() {
        let (mut stream, t0) = stream();
        stream.relay(t0, 0xCA11, 500, 8000, true);
        // 499..=504 lost on the way in: the gap goes out as it came.
        let header = stream.relay(t0 + MS * 120, 0xCA11, 506, 8000 + 6 * 160, false);
        assert_eq!(numbers(header), (false, 106, 5960));
    }

    #[test]
    fn sequence_wraps_around_without_a_rebase() {
        let mut stream = OutgoingStream::with_start(1, 65_535, u32::MAX - 100);
        let t0 = Instant::now();
        stream.relay(t0, 7, 10, 0, true);
        let header = stream.relay(t0 + MS * 20, 7, 11, 160, false);
        assert_eq!(numbers(header), (false, 0, 59));
        assert_eq!(numbers(stream.local(t0 + MS * 40)), (true, 1, 219));
    }

    #[test]
    fn an_interrupted_stream_rebases_after_a_pause() {
        let (mut stream, t0) = stream();
        stream.local(t0);
        stream.interrupt();
        // A second on hold, not sending: the next frame is 50 ticks on, marked.
        assert_eq!(
            numbers(stream.local(t0 + MS * 1000)),
            (true, 101, 5000 + 50 * 160)
        );
    }
}
