//! Virtual-time tests of the jitter buffer: packets and ticks at chosen instants.

use std::time::{Duration, Instant};

use super::*;

const SSRC: u32 = 0x1234_5678;

/// The sample value packet `n` carries (every sample the same), as decoded by `codec`.
fn value(codec: Codec, n: i64) -> i16 {
    codec.decode(codec.encode(((n % 100) as i16 + 1) * 200))
}

fn payload(codec: Codec, n: i64, samples: usize) -> Vec<u8> {
    vec![codec.encode(((n % 100) as i16 + 1) * 200); samples]
}

/// One observed pop: its kind and the first and last sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Out(FrameKind, i16, i16);

struct Clock {
    t0: Instant,
}

impl Clock {
    fn new() -> Clock {
        Clock { t0: Instant::now() }
    }
    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }
}

fn pop(jb: &mut JitterBuffer, now: Instant) -> Out {
    let frame = jb.pop(now);
    Out(frame.kind, frame.pcm[0], frame.pcm[FRAME_SAMPLES - 1])
}

fn received(codec: Codec, n: i64) -> Out {
    let v = value(codec, n);
    Out(FrameKind::Received, v, v)
}

fn silence() -> Out {
    Out(FrameKind::Silence, 0, 0)
}

fn concealed(codec: Codec, n: i64, shift: u8) -> Out {
    let v = value(codec, n) >> shift;
    Out(FrameKind::Concealed, v, v)
}

/// A 20 ms stream: packet `index` is sent with sequence `seq0 + index`, timestamp
/// `ts0 + 160 * index`, arriving at `20 * slot` ms where `arrivals` lists (slot, index).
/// Ticks run at `20 * k + 10` ms for `ticks` ticks. Returns every tick's output.
fn run_20ms(
    jb: &mut JitterBuffer,
    codec: Codec,
    seq0: u16,
    ts0: u32,
    arrivals: &[(u64, i64)],
    ticks: u64,
) -> Vec<Out> {
    let clock = Clock::new();
    let mut out = Vec::new();
    for k in 0..ticks {
        for &(_, index) in arrivals.iter().filter(|(slot, _)| *slot == k) {
            jb.push(
                clock.at(20 * k),
                seq0.wrapping_add(index as u16),
                ts0.wrapping_add(160 * index as u32),
                SSRC,
                &payload(codec, index, 160),
            );
        }
        out.push(pop(jb, clock.at(20 * k + 10)));
    }
    out
}

fn in_order(n: i64) -> Vec<(u64, i64)> {
    (0..n).map(|i| (i as u64, i)).collect()
}

#[test]
fn an_in_order_stream_plays_every_frame_once_after_the_depth() {
    let codec = Codec::Pcmu;
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(40));
    let out = run_20ms(&mut jb, codec, 100, 5000, &in_order(6), 7);
    let expected = vec![
        silence(),
        received(codec, 0),
        received(codec, 1),
        received(codec, 2),
        received(codec, 3),
        received(codec, 4),
        received(codec, 5),
    ];
    assert_eq!(out, expected);
    let stats = jb.stats();
    assert_eq!(
        stats,
        JitterStats {
            received: 6,
            ..JitterStats::default()
        }
    );
}

#[test]
fn a_reordered_pair_is_played_in_order() {
    let codec = Codec::Pcmu;
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(40));
    let arrivals = [(0, 0), (1, 1), (2, 3), (3, 2), (4, 4), (5, 5)];
    let out = run_20ms(&mut jb, codec, 7, 0, &arrivals, 7);
    let expected: Vec<Out> = std::iter::once(silence())
        .chain((0..6).map(|n| received(codec, n)))
        .collect();
    assert_eq!(out, expected);
    assert_eq!(jb.stats().reordered, 1);
    assert_eq!(jb.stats().received, 6);
    assert_eq!(jb.stats().lost, 0);
}

#[test]
fn a_duplicate_is_counted_and_played_once() {
    let codec = Codec::Pcma;
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(40));
    let arrivals = [(0, 0), (1, 1), (1, 1), (2, 2), (3, 3), (4, 1)];
    let out = run_20ms(&mut jb, codec, 900, 0, &arrivals, 5);
    assert_eq!(
        out,
        vec![
            silence(),
            received(codec, 0),
            received(codec, 1),
            received(codec, 2),
            received(codec, 3)
        ]
    );
    let stats = jb.stats();
    assert_eq!(stats.duplicate, 2);
    assert_eq!(stats.received, 4);
    assert_eq!(stats.late, 0);
    assert_eq!(stats.reordered, 0);
}

#[test]
fn a_lost_frame_is_concealed_then_silence_after_sixty_ms() {
    let codec = Codec::Pcmu;
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(40));
    // Packet 2 lost; packets 4..=7 lost (80 ms); then 8 and 9 arrive.
    let arrivals = [(0, 0), (1, 1), (3, 3), (8, 8), (9, 9)];
    let out = run_20ms(&mut jb, codec, 0, 0, &arrivals, 11);
    assert_eq!(
        out,
        vec![
            silence(),
            received(codec, 0),
            received(codec, 1),
            concealed(codec, 1, 1),
            received(codec, 3),
            concealed(codec, 3, 1),
            concealed(codec, 3, 2),
            concealed(codec, 3, 3),
            silence(),
            received(codec, 8),
            received(codec, 9),
        ]
    );
    assert_eq!(jb.stats().lost, 5);
    assert_eq!(jb.stats().resets, 0);
}

#[test]
fn a_packet_later_than_the_playout_point_is_dropped_and_counted() {
    let codec = Codec::Pcmu;
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(40));
    // Packet 2 is due at tick 3 but arrives in slot 4.
    let arrivals = [(0, 0), (1, 1), (3, 3), (4, 2), (4, 4), (5, 5)];
    let out = run_20ms(&mut jb, codec, 0, 0, &arrivals, 6);
    assert_eq!(
        out,
        vec![
            silence(),
            received(codec, 0),
            received(codec, 1),
            concealed(codec, 1, 1),
            received(codec, 3),
            received(codec, 4),
        ]
    );
    let stats = jb.stats();
    assert_eq!(stats.late, 1);
    assert_eq!(stats.received, 5);
    assert_eq!(stats.lost, 1);
}

#[test]
fn sequence_numbers_wrap_at_65535_without_a_reset() {
    let codec = Codec::Pcmu;
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(40));
    // Sequence numbers 65533, 65534, 65535, 0, 1, 2 with 65535 and 0 swapped.
    let arrivals = [(0, 0), (1, 1), (2, 3), (3, 2), (4, 4), (5, 5)];
    let out = run_20ms(&mut jb, codec, 65533, 1000, &arrivals, 7);
    let expected: Vec<Out> = std::iter::once(silence())
        .chain((0..6).map(|n| received(codec, n)))
        .collect();
    assert_eq!(out, expected);
    assert_eq!(jb.stats().resets, 0);
    assert_eq!(jb.stats().reordered, 1);
}

#[test]
fn timestamps_wrap_without_a_reset() {
    let codec = Codec::Pcmu;
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(40));
    let arrivals = [(0, 0), (1, 1), (2, 3), (3, 2), (4, 4), (5, 5)];
    let out = run_20ms(&mut jb, codec, 40, u32::MAX - 300, &arrivals, 7);
    let expected: Vec<Out> = std::iter::once(silence())
        .chain((0..6).map(|n| received(codec, n)))
        .collect();
    assert_eq!(out, expected);
    assert_eq!(jb.stats().resets, 0);
}

#[test]
fn a_timestamp_jump_resets_the_buffer_and_plays_the_new_clock() {
    let codec = Codec::Pcmu;
    let clock = Clock::new();
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(40));
    let mut out = Vec::new();
    for k in 0..8u64 {
        let n = k as i64;
        // From packet 4 the timestamp is 10 s further on (the sender's clock jumped).
        let ts = 160 * k as u32 + if k >= 4 { 80_000 } else { 0 };
        jb.push(
            clock.at(20 * k),
            k as u16,
            ts,
            SSRC,
            &payload(codec, n, 160),
        );
        out.push(pop(&mut jb, clock.at(20 * k + 10)));
    }
    assert_eq!(
        out,
        vec![
            silence(),
            received(codec, 0),
            received(codec, 1),
            received(codec, 2),
            // Reset: the old audio is gone, the new clock buffers its depth again.
            silence(),
            received(codec, 4),
            received(codec, 5),
            received(codec, 6),
        ]
    );
    assert_eq!(jb.stats().resets, 1);
    assert_eq!(jb.stats().late, 0);
}

#[test]
fn a_sequence_jump_resets_the_buffer() {
    let codec = Codec::Pcmu;
    let clock = Clock::new();
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(20));
    for k in 0..3u64 {
        jb.push(
            clock.at(20 * k),
            k as u16,
            160 * k as u32,
            SSRC,
            &payload(codec, k as i64, 160),
        );
        assert_eq!(
            pop(&mut jb, clock.at(20 * k + 10)),
            received(codec, k as i64)
        );
    }
    // Sequence 30000 with the next timestamp: a restarted sender, not 29997 lost packets.
    jb.push(clock.at(60), 30_000, 480, SSRC, &payload(codec, 3, 160));
    assert_eq!(pop(&mut jb, clock.at(70)), received(codec, 3));
    assert_eq!(jb.stats().resets, 1);
    assert_eq!(jb.stats().lost, 0);
    // And a big step backwards is also a restart, not a late packet.
    jb.push(clock.at(80), 10, 640, SSRC, &payload(codec, 4, 160));
    assert_eq!(pop(&mut jb, clock.at(90)), received(codec, 4));
    assert_eq!(jb.stats().resets, 2);
    assert_eq!(jb.stats().late, 0);
}

#[test]
fn a_new_ssrc_resets_the_buffer() {
    let codec = Codec::Pcma;
    let clock = Clock::new();
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(40));
    let mut out = Vec::new();
    for k in 0..7u64 {
        // From packet 3 another source (an SBC switch-over) whose numbers happen to follow
        // on: only the SSRC says it is another stream.
        let ssrc = if k < 3 { SSRC } else { 0xABCD };
        let (seq, ts) = (k as u16, 160 * k as u32);
        jb.push(
            clock.at(20 * k),
            seq,
            ts,
            ssrc,
            &payload(codec, k as i64, 160),
        );
        out.push(pop(&mut jb, clock.at(20 * k + 10)));
    }
    assert_eq!(
        out,
        vec![
            silence(),
            received(codec, 0),
            received(codec, 1),
            silence(),
            received(codec, 3),
            received(codec, 4),
            received(codec, 5),
        ]
    );
    assert_eq!(jb.stats().resets, 1);
    // A straggler from the old source after the switch is a reset too, not mixed in.
    jb.push(clock.at(140), 2, 320, SSRC, &payload(codec, 2, 160));
    assert_eq!(jb.stats().resets, 2);
}

#[test]
fn ten_millisecond_packets_make_whole_frames() {
    let codec = Codec::Pcmu;
    let clock = Clock::new();
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(40));
    let mut kinds = Vec::new();
    for k in 0..50u64 {
        jb.push(
            clock.at(10 * k),
            k as u16,
            80 * k as u32,
            SSRC,
            &payload(codec, k as i64, 80),
        );
        if k % 2 == 1 {
            let frame = jb.pop(clock.at(10 * k + 5));
            kinds.push((frame.kind, frame.pcm[0], frame.pcm[159]));
        }
    }
    // Buffering until 40 ms are held, then frame j is packets 2j and 2j+1.
    assert_eq!(kinds[0].0, FrameKind::Silence);
    for (j, &(kind, first, last)) in kinds.iter().enumerate().skip(1) {
        let frame = j as i64 - 1;
        assert_eq!(kind, FrameKind::Received, "frame {frame}");
        assert_eq!(first, value(codec, 2 * frame), "frame {frame}");
        assert_eq!(last, value(codec, 2 * frame + 1), "frame {frame}");
    }
    let stats = jb.stats();
    assert_eq!((stats.lost, stats.overflowed, stats.late), (0, 0, 0));
}

#[test]
fn a_lost_ten_millisecond_packet_leaves_half_a_frame_filled_from_the_last() {
    let codec = Codec::Pcmu;
    let clock = Clock::new();
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(20));
    for k in 0..2u64 {
        jb.push(
            clock.at(10 * k),
            k as u16,
            80 * k as u32,
            SSRC,
            &payload(codec, 0, 80),
        );
    }
    assert_eq!(pop(&mut jb, clock.at(15)), received(codec, 0));
    // Packet 2 lost, packet 3 arrives.
    jb.push(clock.at(30), 3, 240, SSRC, &payload(codec, 3, 80));
    let frame = jb.pop(clock.at(35));
    assert_eq!(frame.kind, FrameKind::Received);
    assert_eq!(frame.pcm[0], value(codec, 0) / 2);
    assert_eq!(frame.pcm[80], value(codec, 3));
    assert_eq!(jb.stats().lost, 0);
}

#[test]
fn ten_and_thirty_millisecond_packets_play_without_loss_or_overflow_at_any_depth() {
    let codec = Codec::Pcma;
    let sample = |i: u64| codec.decode(codec.encode(((i % 2000) as i16 - 1000) * 16));
    for (packet_ms, depth, tick_phase) in (0..24).map(|i| {
        (
            [10, 30][i / 12],
            [20, 40, 60][i / 4 % 3],
            [0, 5, 10, 15][i % 4],
        )
    }) {
        {
            let clock = Clock::new();
            let mut jb = JitterBuffer::new(codec, Duration::from_millis(depth));
            let mut played = Vec::new();
            // 1.2 s: packets every 10 or 30 ms, ticks every 20 ms.
            let size = packet_ms as usize * 8;
            for ms in 0..1200u64 {
                if ms % packet_ms == 0 {
                    let k = ms / packet_ms;
                    let mut samples = [0u8; 240];
                    for (i, byte) in samples[..size].iter_mut().enumerate() {
                        let n = size as u64 * k + i as u64;
                        *byte = codec.encode((n % 2000) as i16 * 16 - 16_000);
                    }
                    let ts = (size as u64 * k) as u32;
                    jb.push(clock.at(ms), k as u16, ts, SSRC, &samples[..size]);
                }
                if ms % 20 == tick_phase {
                    let frame = jb.pop(clock.at(ms));
                    if frame.kind != FrameKind::Silence || !played.is_empty() {
                        let at = (packet_ms, depth, tick_phase, ms);
                        assert_eq!(frame.kind, FrameKind::Received, "{at:?}");
                        played.extend_from_slice(frame.pcm);
                    }
                }
            }
            // What was played is the sender's audio, sample for sample, from where it began.
            let first =
                (0..480).find(|&o| (0..FRAME_SAMPLES).all(|i| sample(o + i as u64) == played[i]));
            let first = first.expect("playout starts within the first 60 ms");
            for (i, &s) in played.iter().enumerate() {
                let at = (packet_ms, depth, tick_phase, i);
                assert_eq!(s, sample(first + i as u64), "{at:?}");
            }
            assert!(
                played.len() >= 55 * FRAME_SAMPLES,
                "{packet_ms} {depth} {tick_phase}"
            );
            let stats = jb.stats();
            let counters = (stats.lost, stats.overflowed, stats.late);
            assert_eq!(counters, (0, 0, 0), "{packet_ms} {depth} {tick_phase}");
        }
    }
}

#[test]
fn the_buffer_never_holds_more_than_sixty_ms() {
    let codec = Codec::Pcmu;
    let clock = Clock::new();
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(60));
    // A burst of ten packets (200 ms) at once: only the newest 60 ms can stay.
    for k in 0..10u64 {
        jb.push(
            clock.at(0),
            k as u16,
            160 * k as u32,
            SSRC,
            &payload(codec, k as i64, 160),
        );
    }
    assert_eq!(jb.stats().overflowed, 7);
    let out: Vec<Out> = (0..4)
        .map(|k| pop(&mut jb, clock.at(10 + 20 * k)))
        .collect();
    assert_eq!(
        out,
        vec![
            received(codec, 7),
            received(codec, 8),
            received(codec, 9),
            concealed(codec, 9, 1)
        ]
    );
    // A packet far ahead (but not a clock jump) drops everything older than 60 ms before it.
    jb.push(clock.at(80), 20, 160 * 20, SSRC, &payload(codec, 20, 160));
    assert_eq!(jb.stats().overflowed, 8);
    assert_eq!(jb.stats().resets, 0);
}

#[test]
fn the_depth_is_clamped_to_twenty_and_sixty_ms() {
    let codec = Codec::Pcmu;
    for (asked, buffered_frames) in [(0, 1), (5, 1), (20, 1), (40, 2), (60, 3), (500, 3)] {
        let clock = Clock::new();
        let mut jb = JitterBuffer::new(codec, Duration::from_millis(asked));
        let mut first_audio = None;
        for k in 0..6u64 {
            jb.push(
                clock.at(20 * k),
                k as u16,
                160 * k as u32,
                SSRC,
                &payload(codec, k as i64, 160),
            );
            if jb.pop(clock.at(20 * k + 10)).kind == FrameKind::Received && first_audio.is_none() {
                first_audio = Some(k + 1);
            }
        }
        assert_eq!(first_audio, Some(buffered_frames), "asked {asked} ms");
    }
}

#[test]
fn pcma_and_pcmu_payloads_are_decoded_with_the_current_law() {
    let clock = Clock::new();
    let ramp: Vec<i16> = (0..160).map(|i| (i as i16 - 80) * 300).collect();
    for codec in [Codec::Pcma, Codec::Pcmu] {
        let mut encoded = [0u8; 160];
        codec.encode_into(&ramp, &mut encoded);
        let mut expected = [0i16; 160];
        codec.decode_into(&encoded, &mut expected);
        let other = if codec == Codec::Pcma {
            Codec::Pcmu
        } else {
            Codec::Pcma
        };
        let mut jb = JitterBuffer::new(other, Duration::from_millis(20));
        jb.set_codec(codec);
        jb.push(clock.at(0), 1, 0, SSRC, &encoded);
        let frame = jb.pop(clock.at(10));
        assert_eq!(frame.kind, FrameKind::Received);
        assert_eq!(frame.pcm, &expected, "{codec:?}");
    }
}

#[test]
fn a_stream_that_stops_goes_silent_and_restarts_after_the_depth() {
    let codec = Codec::Pcmu;
    let clock = Clock::new();
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(40));
    let mut out = Vec::new();
    for k in 0..3u64 {
        jb.push(
            clock.at(20 * k),
            k as u16,
            160 * k as u32,
            SSRC,
            &payload(codec, k as i64, 160),
        );
        out.push(pop(&mut jb, clock.at(20 * k + 10)));
    }
    for k in 3..10u64 {
        out.push(pop(&mut jb, clock.at(20 * k + 10)));
    }
    // Voice activity detection: 2 s later the next talk spurt, timestamp moved on by 2 s.
    for k in 0..3u64 {
        let n = 3 + k;
        jb.push(
            clock.at(2000 + 20 * k),
            n as u16,
            16_000 + 160 * n as u32,
            SSRC,
            &payload(codec, n as i64, 160),
        );
        out.push(pop(&mut jb, clock.at(2010 + 20 * k)));
    }
    assert_eq!(
        out,
        vec![
            silence(),
            received(codec, 0),
            received(codec, 1),
            received(codec, 2),
            concealed(codec, 2, 1),
            concealed(codec, 2, 2),
            concealed(codec, 2, 3),
            silence(),
            silence(),
            silence(),
            silence(),
            received(codec, 3),
            received(codec, 4),
        ]
    );
    // The end of a talk spurt is not loss.
    let stats = jb.stats();
    assert_eq!((stats.lost, stats.resets, stats.late), (0, 0, 0));
}

#[test]
fn nothing_pushed_is_silence_and_an_empty_payload_is_ignored() {
    let clock = Clock::new();
    let mut jb = JitterBuffer::new(Codec::Pcmu, Duration::from_millis(20));
    assert_eq!(pop(&mut jb, clock.at(0)), silence());
    jb.push(clock.at(5), 1, 0, SSRC, &[]);
    assert_eq!(pop(&mut jb, clock.at(20)), silence());
    assert_eq!(jb.stats(), JitterStats::default());
}

#[test]
fn a_packet_longer_than_sixty_ms_keeps_its_newest_sixty_ms_in_place() {
    let codec = Codec::Pcmu;
    let clock = Clock::new();
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(20));
    // 100 ms in one packet: five 20 ms blocks carrying values 0..=4.
    let mut big = Vec::new();
    for block in 0..5 {
        big.extend(payload(codec, block, 160));
    }
    jb.push(clock.at(0), 1, 0, SSRC, &big);
    let mut out = vec![pop(&mut jb, clock.at(10))];
    // The next packet follows on at timestamp 800, right after the kept tail.
    jb.push(clock.at(20), 2, 800, SSRC, &payload(codec, 5, 160));
    out.extend((1..4).map(|k| pop(&mut jb, clock.at(10 + 20 * k))));
    assert_eq!(
        out,
        vec![
            received(codec, 2),
            received(codec, 3),
            received(codec, 4),
            received(codec, 5)
        ]
    );
    assert_eq!(jb.stats().overflowed, 0);
    assert_eq!(jb.stats().resets, 0);
}

#[test]
fn a_delay_that_grows_past_the_depth_resynchronises_instead_of_dropping_everything() {
    let codec = Codec::Pcmu;
    let clock = Clock::new();
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(20));
    let mut out = Vec::new();
    for k in 0..12u64 {
        // From packet 2 on the network holds every packet 60 ms longer: each is late.
        for n in 0..12u64 {
            let arrives = 20 * n + if n >= 2 { 60 } else { 0 };
            if arrives == 20 * k {
                jb.push(
                    clock.at(arrives),
                    n as u16,
                    160 * n as u32,
                    SSRC,
                    &payload(codec, n as i64, 160),
                );
            }
        }
        out.push(pop(&mut jb, clock.at(20 * k + 10)));
    }
    assert_eq!(
        out,
        vec![
            received(codec, 0),
            received(codec, 1),
            concealed(codec, 1, 1),
            concealed(codec, 1, 2),
            concealed(codec, 1, 3),
            // Packet 2 came at 100 ms, too late; nothing usable: start afresh.
            silence(),
            // Packet 3 (arriving at 120 ms) anchors the stream again.
            received(codec, 3),
            received(codec, 4),
            received(codec, 5),
            received(codec, 6),
            received(codec, 7),
            received(codec, 8),
        ]
    );
    let stats = jb.stats();
    assert_eq!((stats.late, stats.resets, stats.lost), (1, 0, 0));
}

#[test]
fn the_filled_bits_wrap_around_the_ring_and_count_only_their_span() {
    let mut filled = Filled::default();
    // 160 slots from 450 wrap to slots 0..98.
    filled.set(450, FRAME_SAMPLES);
    assert_eq!(filled.count(450, FRAME_SAMPLES), FRAME_SAMPLES);
    assert_eq!(filled.count(0, 98), 98);
    assert_eq!(filled.count(98, 352), 0);
    assert!(filled.is_set(511) && filled.is_set(0) && filled.is_set(97));
    assert!(!filled.is_set(98) && !filled.is_set(449));
    // A whole word and a partial one.
    filled.set(128, 70);
    assert_eq!(filled.count(120, 100), 70);
    // Clearing by position: 1 << 40 is slot 0; the span wraps like the set did.
    let base = 1i64 << 40;
    filled.clear_positions(base - 62, base + 10);
    assert_eq!(filled.count(450, FRAME_SAMPLES), FRAME_SAMPLES - 72);
    assert!(!filled.is_set(511) && !filled.is_set(9) && filled.is_set(10));
    filled.clear_positions(base, base);
    assert!(filled.is_set(10));
    // A span longer than the ring clears all of it.
    filled.clear_positions(base, base + 10_000);
    assert_eq!(filled.count(0, RING), 0);
    assert_eq!(spans(450, FRAME_SAMPLES), [450..512, 0..98]);
    assert_eq!(spans(0, FRAME_SAMPLES), [0..160, 0..0]);
    assert_eq!(slot(-1), RING - 1);
}

#[test]
fn audio_still_buffered_from_the_old_source_is_never_played_after_a_reset() {
    let codec = Codec::Pcma;
    let clock = Clock::new();
    let mut jb = JitterBuffer::new(codec, Duration::from_millis(40));
    // Three frames of one source, buffered and not played yet...
    for k in 0..3u16 {
        jb.push(
            clock.at(0),
            k,
            160 * u32::from(k),
            SSRC,
            &payload(codec, i64::from(k), 160),
        );
    }
    // ...when another source takes over (an SBC switch-over); its second packet is lost.
    jb.push(clock.at(1), 500, 90_000, 0xABCD, &payload(codec, 10, 160));
    jb.push(clock.at(1), 502, 90_320, 0xABCD, &payload(codec, 12, 160));
    assert_eq!(jb.stats().resets, 1);
    let out: Vec<Out> = (0..3)
        .map(|k| pop(&mut jb, clock.at(20 * k + 10)))
        .collect();
    // Playout starts 40 ms behind the newest audio, at the lost packet's place: concealed
    // (from nothing yet), never the old source's frame whose ring slots it shares.
    assert_eq!(
        out,
        vec![
            Out(FrameKind::Concealed, 0, 0),
            received(codec, 12),
            concealed(codec, 12, 1),
        ]
    );
}
