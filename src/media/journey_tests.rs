use std::sync::mpsc::{self, Receiver};

use super::*;

/// Each packet's payload is one A-law code repeated: frame k of the recording can be told
/// from every other by its samples.
fn code(packet: u64) -> u8 {
    (packet % 251) as u8
}

/// A tap as its engine drives it: each tick's frame goes to the queue as that tick's batch.
struct Harness {
    tap: JourneyTap,
    tick_frames: TickFrames,
    sink: JourneySink,
    batches: Receiver<FrameBatch>,
    control: Receiver<JourneyControl>,
    /// The answer: frame 0 starts here.
    t0: Instant,
    silent_ticks: u64,
}

impl Harness {
    /// A tap of `CallId(7)` whose queue holds `capacity` ticks.
    fn new(capacity: usize) -> Harness {
        let (control, control_rx) = mpsc::channel();
        let (batches, batches_rx) = mpsc::sync_channel(capacity);
        let sink = JourneySink {
            control,
            batches,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        let (report, _) = RecordingReports::channel();
        let t0 = Instant::now();
        let tap = JourneyTap::start(
            CallId(7),
            "r-7".into(),
            "recordings/x.wav".into(),
            Codec::Pcma,
            t0,
            sink.control.clone(),
            report,
        );
        Harness {
            tap,
            tick_frames: TickFrames::new(),
            sink,
            batches: batches_rx,
            control: control_rx,
            t0,
            silent_ticks: 0,
        }
    }

    /// `ms` after the answer.
    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// The instant of the `k`th tick on a grid in step with the answer: the end of frame
    /// `k - 1`.
    fn tick_at(&self, k: u64) -> Instant {
        self.at(20 * k)
    }

    fn tick(&mut self, now: Instant, sent: Option<(Codec, &[u8; FRAME_SAMPLES])>) {
        self.tap.on_tick(now, sent, &mut self.tick_frames);
        self.tick_frames.send(&self.sink);
    }

    fn silent_tick_at(&mut self, now: Instant) {
        self.tap.on_silent_tick(now, &mut self.tick_frames);
        self.tick_frames.send(&self.sink);
    }

    fn silent_tick(&mut self) {
        self.silent_ticks += 1;
        let now = self.tick_at(self.silent_ticks);
        self.tap.on_silent_tick(now, &mut self.tick_frames);
        self.tick_frames.send(&self.sink);
    }

    /// The frames queued so far, as the service takes them.
    fn received(&self) -> Vec<JourneyFrame> {
        self.batches
            .try_iter()
            .flat_map(|batch| batch.frames)
            .collect()
    }

    fn dropped(&self) -> u64 {
        self.sink.dropped.load(Ordering::Relaxed)
    }
}

fn left(frame: &JourneyFrame) -> Vec<i16> {
    frame.samples().step_by(2).collect()
}

fn right(frame: &JourneyFrame) -> Vec<i16> {
    frame.samples().skip(1).step_by(2).collect()
}

#[test]
fn an_hour_of_ticks_with_loss_and_reordering_keeps_both_channels_on_the_tick_grid() {
    const TICKS: u64 = 60 * 60 * 50;
    let mut h = Harness::new(4);
    let mut checked = 0u64;
    // Packet k is sent during tick k: every 97th is lost, and every 13th pair arrives
    // swapped (k+1 before k), both before the tick that plays them.
    let lost = |k: u64| k % 97 == 50;
    for tick in 0..TICKS {
        let now = h.tick_at(tick + 1);
        let order: [u64; 2] = if tick % 13 == 5 {
            [tick + 1, tick]
        } else if tick % 13 == 6 {
            [u64::MAX, u64::MAX]
        } else {
            [tick, u64::MAX]
        };
        for k in order.into_iter().filter(|&k| k != u64::MAX && !lost(k)) {
            let payload = [code(k); FRAME_SAMPLES];
            h.tap
                .said(now, k as u16, (k * 160) as u32, 0x1234, &payload);
        }
        let sent = [code(tick + 1000); FRAME_SAMPLES];
        h.tick(now, Some((Codec::Pcma, &sent)));
        let batch = h.batches.try_recv().expect("one batch per tick");
        assert_eq!(batch.frames.len(), 1);
        let frame = batch.frames[0];
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
    assert_eq!(h.tap.frames(), TICKS);
    assert!(checked > TICKS * 9 / 10, "{checked} frames checked");
    assert_eq!(h.dropped(), 0);
}

#[test]
fn audio_relayed_from_the_bridged_leg_is_what_the_caller_heard_in_arrival_order() {
    let mut h = Harness::new(16);
    // Two packets in one tick, none in the next: the second is heard a tick later.
    h.tap.relayed(Codec::Pcmu, &[0x10; FRAME_SAMPLES]);
    h.tap.relayed(Codec::Pcmu, &[0x20; FRAME_SAMPLES]);
    for k in 1..=4 {
        h.tick(h.tick_at(k), None);
    }
    let rights: Vec<Vec<i16>> = h.received().iter().map(right).collect();
    let (a, b) = (Codec::Pcmu.decode(0x10), Codec::Pcmu.decode(0x20));
    assert_eq!(rights[0], vec![0; FRAME_SAMPLES]);
    assert_eq!(rights[1], vec![a; FRAME_SAMPLES]);
    assert_eq!(rights[2], vec![b; FRAME_SAMPLES]);
    assert_eq!(rights[3], vec![0; FRAME_SAMPLES]);
}

#[test]
fn a_full_queue_drops_and_counts_frames_without_blocking_and_the_end_names_every_tick() {
    let mut h = Harness::new(3);
    for _ in 0..10 {
        h.silent_tick();
    }
    assert_eq!(h.dropped(), 7);
    let indexes: Vec<u64> = h.received().iter().map(|f| f.index).collect();
    assert_eq!(indexes, vec![0, 1, 2]);
    drop(h.tap);
    let messages: Vec<JourneyControl> = h.control.try_iter().collect();
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
fn paused_frames_are_silence_on_both_channels_and_the_service_is_told_the_frames_of_the_keys() {
    let mut h = Harness::new(64);
    let loud = [0x10u8; FRAME_SAMPLES];
    for k in 1..=9u64 {
        // The keys: pause 5 ms into frame 3, resume at the start of frame 6, each heard by
        // the tap before the tick that writes that frame.
        match k {
            4 => h.tap.set_paused(true, h.at(65)),
            7 => h.tap.set_paused(false, h.at(120)),
            _ => {}
        }
        let now = h.tick_at(k);
        h.tap.said(now, k as u16, (k * 160) as u32, 1, &loud);
        h.tick(now, Some((Codec::Pcma, &loud)));
    }
    // A second press of the same state tells the service nothing more.
    h.tap.set_paused(false, h.at(200));
    let frames: Vec<JourneyFrame> = h.received();
    let quiet: Vec<(u64, bool)> = frames
        .iter()
        .map(|f| (f.index, f.wav.iter().all(|&b| b == 0)))
        .collect();
    assert_eq!(
        quiet,
        (0..9)
            .map(|i| (i, i == 0 || (3..6).contains(&i)))
            .collect::<Vec<_>>(),
        "a tick of lag at the start, then frames 3 to 5 paused"
    );
    let spans: Vec<(bool, u64)> = h
        .control
        .try_iter()
        .filter_map(|m| match m {
            JourneyControl::Pause { call, from } => {
                Some((true, from)).filter(|_| call == CallId(7))
            }
            JourneyControl::Resume { call, until } => {
                Some((false, until)).filter(|_| call == CallId(7))
            }
            _ => None,
        })
        .collect();
    assert_eq!(spans, vec![(true, 3), (false, 6)]);
}

#[test]
fn a_pause_heard_late_names_the_frame_of_the_keys_and_a_resume_the_end_of_the_frame_it_falls_in() {
    let mut h = Harness::new(64);
    let loud = [0x10u8; FRAME_SAMPLES];
    for k in 1..=6u64 {
        h.tick(h.tick_at(k), Some((Codec::Pcma, &loud)));
    }
    // Pressed 30 ms into the call; the tap hears of it after frame 5 went out.
    h.tap.set_paused(true, h.at(30));
    assert!(matches!(
        h.control.try_iter().last(),
        Some(JourneyControl::Pause {
            call: CallId(7),
            from: 1
        })
    ));
    // Resumed 1 ms into frame 4: that frame, partly paused, stays silent.
    h.tap.set_paused(false, h.at(81));
    assert!(matches!(
        h.control.try_iter().last(),
        Some(JourneyControl::Resume {
            call: CallId(7),
            until: 5
        })
    ));
}

#[test]
fn frames_follow_the_calls_clock_from_the_answer_however_late_the_first_tick() {
    let mut h = Harness::new(64);
    // A tick less than half a frame after the answer has nothing of the call.
    h.tap.on_silent_tick(h.at(9), &mut h.tick_frames);
    assert!(h.tick_frames.frames().is_empty());
    // The command reached the worker late: its first tick is 75 ms after the answer, so
    // frames 0 to 2 are written silent ahead of the tick's own frame 3.
    let loud = [0x10u8; FRAME_SAMPLES];
    h.tick(h.at(75), Some((Codec::Pcma, &loud)));
    h.tick(h.at(95), Some((Codec::Pcma, &loud)));
    let indexes: Vec<u64> = h.received().iter().map(|f| f.index).collect();
    assert_eq!(indexes, vec![0, 1, 2, 3, 4]);
    assert_eq!(h.tap.frames(), 5);
}

#[test]
fn wake_ups_late_across_a_frames_edge_move_no_frame() {
    let mut h = Harness::new(64);
    // Ticks on a grid 9 ms past the frames' edges, every other one 2 ms late: the edge
    // nearest the tick flips, the frames stay in step.
    for (k, late) in [(1, 9), (2, 11), (3, 9), (4, 11), (5, 9), (6, 11)] {
        h.silent_tick_at(h.at(20 * k + late));
    }
    let indexes: Vec<u64> = h.received().iter().map(|f| f.index).collect();
    assert_eq!(indexes, vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_stall_leaves_a_gap_and_catch_up_ticks_do_not_push_the_file_ahead_of_the_clock() {
    let mut h = Harness::new(64);
    for k in 1..=5 {
        h.silent_tick_at(h.tick_at(k));
    }
    // Stalled from 100 ms to 201 ms: three catch-up ticks run at once.
    for _ in 0..3 {
        h.silent_tick_at(h.at(201));
    }
    h.silent_tick_at(h.at(221));
    h.silent_tick_at(h.at(241));
    let indexes: Vec<u64> = h.received().iter().map(|f| f.index).collect();
    assert_eq!(indexes, vec![0, 1, 2, 3, 4, 9, 10, 11, 12]);
}

#[test]
fn an_hour_of_late_wake_ups_and_stalls_ends_within_a_frame_of_the_clock() {
    const TICKS: u64 = 60 * 60 * 50;
    let mut h = Harness::new(4);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut k = 1;
    let mut jumps = 0;
    let mut last = None;
    let mut last_tick = h.t0;
    while k <= TICKS {
        // Every tick a little late (up to 15 ms); now and then a stall of up to 200 ms
        // after which up to three ticks catch up at one instant.
        if random(500) == 0 {
            let stall = random(10) + 2;
            k += stall;
            let now = h.tick_at(k) + Duration::from_millis(random(5));
            for _ in 0..3 {
                h.silent_tick_at(now);
            }
            last_tick = now;
        } else {
            let now = h.tick_at(k) + Duration::from_micros(random(15_000));
            h.silent_tick_at(now);
            last_tick = now;
        }
        for frame in h.received() {
            if let Some(previous) = last {
                assert!(frame.index > previous, "frames never go back");
                if frame.index > previous + 1 {
                    jumps += 1;
                }
            }
            last = Some(frame.index);
        }
        k += 1;
    }
    // The frames the clock says the file holds after the last tick: up to the edge nearest it.
    let clock = (last_tick.duration_since(h.t0).as_millis() as u64 + 10) / 20;
    assert!(clock >= TICKS);
    assert!(
        h.tap.frames().abs_diff(clock) <= 1,
        "{} frames for {clock} frames of the clock",
        h.tap.frames()
    );
    assert!(jumps > 0, "the stalls left gaps");
}

/// Two taps of one engine (calls 7 and 8) and the queue their ticks go to.
fn two_taps(capacity: usize) -> (Harness, JourneyTap) {
    let h = Harness::new(capacity);
    let (report, _) = RecordingReports::channel();
    let other = JourneyTap::start(
        CallId(8),
        "r-8".into(),
        "recordings/y.wav".into(),
        Codec::Pcma,
        h.t0,
        h.sink.control.clone(),
        report,
    );
    (h, other)
}

#[test]
fn every_recordings_frame_of_one_tick_reaches_the_service_in_one_message_whose_vector_comes_back() {
    let (mut h, mut other) = two_taps(8);
    h.tick_frames.send(&h.sink);
    assert!(
        h.batches.try_recv().is_err(),
        "a tick without frames sends nothing"
    );
    h.tap.on_silent_tick(h.tick_at(1), &mut h.tick_frames);
    other.on_silent_tick(h.tick_at(1), &mut h.tick_frames);
    assert_eq!(h.tick_frames.frames().len(), 2);
    h.tick_frames.send(&h.sink);
    assert!(h.tick_frames.frames().is_empty());
    let batch = h.batches.try_recv().expect("one message for the tick");
    assert!(h.batches.try_recv().is_err(), "only one");
    let calls: Vec<(CallId, u64)> = batch.frames.iter().map(|f| (f.call, f.index)).collect();
    assert_eq!(calls, vec![(CallId(7), 0), (CallId(8), 0)]);
    // The service empties the vector and gives it back: the next tick after the one already
    // being filled travels in it, so no tick allocates once the vectors go round.
    let returned = batch.frames.as_ptr();
    let mut emptied = batch.frames;
    emptied.clear();
    batch.spare.send(emptied).unwrap();
    for k in 2..=3 {
        h.tap.on_silent_tick(h.tick_at(k), &mut h.tick_frames);
        h.tick_frames.send(&h.sink);
    }
    let second = h.batches.try_recv().unwrap();
    let third = h.batches.try_recv().unwrap();
    assert_ne!(second.frames.as_ptr(), returned);
    assert_eq!(
        third.frames.as_ptr(),
        returned,
        "the returned vector is reused"
    );
    assert_eq!(third.frames[0].index, 2);
}

#[test]
fn a_full_queue_drops_a_whole_tick_and_counts_each_of_its_frames() {
    let (mut h, mut other) = two_taps(1);
    for k in 1..=2 {
        h.tap.on_silent_tick(h.tick_at(k), &mut h.tick_frames);
        other.on_silent_tick(h.tick_at(k), &mut h.tick_frames);
        h.tick_frames.send(&h.sink);
    }
    assert_eq!(h.dropped(), 2, "the second tick's two frames");
    assert!(h.tick_frames.frames().is_empty(), "nothing carried over");
    let first = h.batches.try_recv().unwrap();
    assert_eq!(first.frames.len(), 2);
    // Room again: the next tick goes through, with the indexes the taps moved on to.
    h.tap.on_silent_tick(h.tick_at(3), &mut h.tick_frames);
    other.on_silent_tick(h.tick_at(3), &mut h.tick_frames);
    h.tick_frames.send(&h.sink);
    assert_eq!(h.dropped(), 2);
    let indexes: Vec<u64> = h.received().iter().map(|f| f.index).collect();
    assert_eq!(indexes, vec![2, 2]);
}
