use std::sync::mpsc::{self, Receiver};

use super::*;

/// Each packet's payload is one A-law code repeated: frame k of the recording can be told
/// from every other by its samples.
fn code(packet: u64) -> u8 {
    (packet % 251) as u8
}

fn tap(capacity: usize) -> (JourneyTap, Receiver<JourneyFrame>, Receiver<JourneyControl>) {
    let (control, control_rx) = mpsc::channel();
    let (frames, frames_rx) = mpsc::sync_channel(capacity);
    let sink = JourneySink {
        control,
        frames,
        dropped: Arc::new(AtomicU64::new(0)),
    };
    let (report, _) = mpsc::channel();
    let tap = JourneyTap::start(
        CallId(7),
        "r-7".into(),
        "recordings/x.wav".into(),
        Codec::Pcma,
        sink,
        report,
    );
    (tap, frames_rx, control_rx)
}

fn left(frame: &JourneyFrame) -> Vec<i16> {
    frame.pcm.iter().step_by(2).copied().collect()
}

fn right(frame: &JourneyFrame) -> Vec<i16> {
    frame.pcm.iter().skip(1).step_by(2).copied().collect()
}

#[test]
fn an_hour_of_ticks_with_loss_and_reordering_keeps_both_channels_on_the_tick_grid() {
    const TICKS: u64 = 60 * 60 * 50;
    let (mut tap, frames, _control) = tap(4);
    let t0 = Instant::now();
    let mut checked = 0u64;
    // Packet k is sent during tick k: every 97th is lost, and every 13th pair arrives
    // swapped (k+1 before k), both before the tick that plays them.
    let lost = |k: u64| k % 97 == 50;
    for tick in 0..TICKS {
        let now = t0 + Duration::from_millis(20 * tick);
        let order: [u64; 2] = if tick % 13 == 5 {
            [tick + 1, tick]
        } else if tick % 13 == 6 {
            [u64::MAX, u64::MAX]
        } else {
            [tick, u64::MAX]
        };
        for k in order.into_iter().filter(|&k| k != u64::MAX && !lost(k)) {
            let payload = [code(k); FRAME_SAMPLES];
            tap.said(now, k as u16, (k * 160) as u32, 0x1234, &payload);
        }
        let sent = [code(tick + 1000); FRAME_SAMPLES];
        tap.on_tick(now, Some((Codec::Pcma, &sent)));
        let frame = frames.try_recv().expect("one frame per tick");
        assert_eq!(frame.index, tick, "the index is the tick");
        // The caller's side lags by the tick its jitter buffer holds; so does what it heard.
        if tick >= 3 && !(tick - 3..=tick).any(lost) {
            let expected = Codec::Pcma.decode(code(tick - 1));
            assert_eq!(
                left(&frame),
                vec![expected; FRAME_SAMPLES],
                "left at tick {tick}"
            );
            let heard = Codec::Pcma.decode(code(tick - 1 + 1000));
            assert_eq!(
                right(&frame),
                vec![heard; FRAME_SAMPLES],
                "right at tick {tick}"
            );
            checked += 1;
        }
    }
    assert_eq!(tap.frames(), TICKS);
    assert!(checked > TICKS * 9 / 10, "{checked} frames checked");
    assert_eq!(tap.sink.dropped.load(Ordering::Relaxed), 0);
}

#[test]
fn audio_relayed_from_the_bridged_leg_is_what_the_caller_heard_in_arrival_order() {
    let (mut tap, frames, _control) = tap(16);
    let now = Instant::now();
    // Two packets in one tick, none in the next: the second is heard a tick later.
    tap.relayed(Codec::Pcmu, &[0x10; FRAME_SAMPLES]);
    tap.relayed(Codec::Pcmu, &[0x20; FRAME_SAMPLES]);
    for _ in 0..4 {
        tap.on_tick(now, None);
    }
    let rights: Vec<Vec<i16>> = frames.try_iter().map(|f| right(&f)).collect();
    let (a, b) = (Codec::Pcmu.decode(0x10), Codec::Pcmu.decode(0x20));
    assert_eq!(rights[0], vec![0; FRAME_SAMPLES]);
    assert_eq!(rights[1], vec![a; FRAME_SAMPLES]);
    assert_eq!(rights[2], vec![b; FRAME_SAMPLES]);
    assert_eq!(rights[3], vec![0; FRAME_SAMPLES]);
}

#[test]
fn a_full_queue_drops_and_counts_frames_without_blocking_and_the_end_names_every_tick() {
    let (mut tap, frames, control) = tap(3);
    for _ in 0..10 {
        tap.on_silent_tick();
    }
    assert_eq!(tap.sink.dropped.load(Ordering::Relaxed), 7);
    let indexes: Vec<u64> = frames.try_iter().map(|f| f.index).collect();
    assert_eq!(indexes, vec![0, 1, 2]);
    drop(tap);
    let messages: Vec<JourneyControl> = control.try_iter().collect();
    assert!(matches!(
        messages[0],
        JourneyControl::Start {
            call: CallId(7),
            ..
        }
    ));
    assert!(matches!(
        messages[1],
        JourneyControl::End {
            call: CallId(7),
            frames: 10
        }
    ));
    assert_eq!(messages.len(), 2, "one End, even when dropped");
}

#[test]
fn paused_frames_are_silence_on_both_channels_and_keep_their_place() {
    let (mut tap, frames, _control) = tap(64);
    let now = Instant::now();
    let loud = [0x10u8; FRAME_SAMPLES];
    for tick in 0..9u64 {
        tap.set_paused((3..6).contains(&tick));
        tap.said(now, tick as u16, (tick * 160) as u32, 1, &loud);
        tap.on_tick(now, Some((Codec::Pcma, &loud)));
    }
    let frames: Vec<JourneyFrame> = frames.try_iter().collect();
    assert_eq!(frames.len(), 9);
    let quiet: Vec<bool> = frames
        .iter()
        .map(|f| f.pcm.iter().all(|&s| s == 0))
        .collect();
    assert_eq!(
        quiet,
        vec![true, false, false, true, true, true, false, false, false],
        "a tick of lag at the start, then ticks 3 to 5 paused"
    );
    assert_eq!(frames[8].index, 8);
}
