use std::sync::atomic::Ordering;

use super::*;
use crate::media::journey::{JourneyTap, TickFrames};
use crate::media::Codec;

/// A frame whose every sample, both channels, is 7.
fn sevens() -> [u8; crate::media::journey::STEREO_FRAME_BYTES] {
    let mut wav = [0; crate::media::journey::STEREO_FRAME_BYTES];
    for sample in wav.chunks_exact_mut(2) {
        sample.copy_from_slice(&7i16.to_le_bytes());
    }
    wav
}

#[test]
fn frames_a_full_queue_dropped_are_written_as_silence_and_reported_as_lost_ms() {
    let dir = tempfile::tempdir().unwrap();
    let (control, control_rx) = mpsc::channel();
    let (batches, frames_rx) = mpsc::sync_channel(4);
    let sink = JourneySink {
        control,
        batches,
        dropped: Arc::new(AtomicU64::new(0)),
    };
    let (report, reports) = RecordingReports::channel();
    let t0 = Instant::now();
    let mut tap = JourneyTap::start(
        CallId(3),
        "rec-3".into(),
        "recordings/2026/12/01/rec-3.wav".into(),
        Codec::Pcmu,
        t0,
        sink.control.clone(),
        report,
    );
    // The service is not reading yet: four ticks fit, six are dropped.
    let mut tick_frames = TickFrames::new();
    for k in 1..=10 {
        tap.on_silent_tick(t0 + Duration::from_millis(20 * k), &mut tick_frames);
        tick_frames.send(&sink);
    }
    assert_eq!(sink.dropped.load(Ordering::Relaxed), 6);
    drop(tap);
    drop(sink);
    let mut recordings = Recordings::new(dir.path());
    let service = std::thread::spawn(move || {
        run(&mut recordings, &control_rx, &frames_rx);
        recordings.stray_frames
    });
    let (call, event) = reports.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(call, CallId(3));
    let path = dir.path().join("recordings/2026/12/01/rec-3.wav");
    let bytes = std::fs::read(&path).unwrap();
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        event,
        MediaEvent::JourneyRecorded {
            record_id: "rec-3".into(),
            duration_ms: 200,
            sha256: digest,
            lost_ms: 120,
            error: None,
        }
    );
    assert_eq!(hound::WavReader::open(&path).unwrap().duration(), 10 * 160);
    assert_eq!(service.join().unwrap(), 0);
}

#[test]
fn one_service_thread_writes_many_recordings_each_to_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    // Two workers' room: the 100 ticks below come faster than the service drains them.
    let (sink, thread) = start(dir.path(), 2).unwrap();
    let (report, reports) = RecordingReports::channel();
    let t0 = Instant::now();
    let mut taps: Vec<JourneyTap> = (0..20)
        .map(|n| {
            JourneyTap::start(
                CallId(n),
                format!("r{n}"),
                format!("recordings/r{n}.wav").into(),
                Codec::Pcma,
                t0,
                sink.control.clone(),
                report.clone(),
            )
        })
        .collect();
    let mut tick_frames = TickFrames::new();
    for tick in 0..100 {
        for (n, tap) in taps.iter_mut().enumerate() {
            if tick < 50 + n {
                let now = t0 + Duration::from_millis(20 * (tick as u64 + 1));
                tap.on_silent_tick(now, &mut tick_frames);
            }
        }
        tick_frames.send(&sink);
    }
    drop(taps);
    drop(sink);
    let mut durations: Vec<(String, u64, u64)> = (0..20)
        .map(
            |_| match reports.recv_timeout(Duration::from_secs(5)).unwrap().1 {
                MediaEvent::JourneyRecorded {
                    record_id,
                    duration_ms,
                    lost_ms,
                    ..
                } => (record_id, duration_ms, lost_ms),
                other => panic!("{other:?}"),
            },
        )
        .collect();
    durations.sort_by_key(|(_, d, _)| *d);
    for (n, (record_id, duration_ms, lost_ms)) in durations.iter().enumerate() {
        assert_eq!(record_id, &format!("r{n}"));
        assert_eq!(*duration_ms, (50 + n as u64) * 20);
        assert_eq!(*lost_ms, 0);
    }
    // Joined on a thread of the test's own, which says so: a service that never ends fails
    // the test after 5 s instead of hanging it.
    let (joined, ended) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = thread.join();
        let _ = joined.send(());
    });
    assert!(
        ended.recv_timeout(Duration::from_secs(5)).is_ok(),
        "the service ends with its last sink"
    );
}

fn recorded(reports: &Receiver<(CallId, MediaEvent)>) -> (CallId, String, u64) {
    match reports.try_recv() {
        Ok((
            call,
            MediaEvent::JourneyRecorded {
                record_id,
                duration_ms,
                ..
            },
        )) => (call, record_id, duration_ms),
        other => panic!("no recording reported: {other:?}"),
    }
}

fn started(recordings: &mut Recordings, call: u64, report: &RecordingReports) {
    recordings.control(JourneyControl::Start {
        call: CallId(call),
        record_id: format!("r{call}"),
        file: format!("recordings/r{call}.wav").into(),
        report: report.clone(),
    });
    for index in 0..3 {
        assert!(recordings.frame(&JourneyFrame {
            call: CallId(call),
            index,
            wav: sevens(),
        }));
    }
}

#[test]
fn an_ended_recording_is_finished_at_its_end_while_others_go_on_and_the_rest_when_the_service_stops(
) {
    let dir = tempfile::tempdir().unwrap();
    let (report, reports) = RecordingReports::channel();
    let mut recordings = Recordings::new(dir.path());
    started(&mut recordings, 1, &report);
    started(&mut recordings, 2, &report);
    // Call 1 ends after five ticks (the last two never came: silence).
    recordings.control(JourneyControl::End {
        call: CallId(1),
        frames: 5,
    });
    assert!(recordings.any_ended());
    recordings.finish_ended();
    assert_eq!(recorded(&reports), (CallId(1), "r1".into(), 100));
    assert!(reports.try_recv().is_err(), "call 2 goes on");
    assert_eq!(recordings.active(), 1);
    // The service stops with call 2 still open: finished as it stands.
    recordings.finish_all();
    assert_eq!(recorded(&reports), (CallId(2), "r2".into(), 60));
    assert_eq!(recordings.active(), 0);
    let samples = hound::WavReader::open(dir.path().join("recordings/r1.wav"))
        .unwrap()
        .into_samples::<i16>()
        .map(|s| s.unwrap())
        .collect::<Vec<_>>();
    assert_eq!(samples.len(), 5 * 320);
    assert!(samples[..3 * 320].iter().all(|&s| s == 7));
    assert!(samples[3 * 320..].iter().all(|&s| s == 0));
}

#[test]
fn with_no_recording_open_the_service_sleeps_until_a_control_message_comes() {
    let dir = tempfile::tempdir().unwrap();
    let (control, control_rx) = mpsc::channel::<JourneyControl>();
    let (batches, frames_rx) = mpsc::sync_channel::<FrameBatch>(4);
    let mut recordings = Recordings::new(dir.path());
    let service = std::thread::spawn(move || {
        run(&mut recordings, &control_rx, &frames_rx);
        recordings.wake_ups
    });
    // Draining every 20 ms, the service would have woken 15 times in this time; waiting
    // for control messages, it wakes at most once.
    std::thread::sleep(Duration::from_millis(300));
    drop(control);
    drop(batches);
    let wake_ups = service.join().unwrap();
    // One wait ended by the closed control channel, one on the closed frame queue.
    assert!(
        (1..=3).contains(&wake_ups),
        "{wake_ups} wake-ups with nothing to record"
    );
}

#[test]
fn creating_flushing_and_finishing_a_recording_each_cue_the_disk_sync_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let written = WrittenMark::default();
    let mut recordings = Recordings::new(dir.path()).with_written_mark(written.clone());
    recordings.flush_all();
    assert!(!written.take(), "nothing open: nothing written");
    let (report, _reports) = RecordingReports::channel();
    started(&mut recordings, 1, &report);
    assert!(written.take(), "the file was created with its header");
    recordings.flush_all();
    assert!(written.take(), "an open recording's frames were flushed");
    for index in 3..103 {
        recordings.frame(&JourneyFrame {
            call: CallId(1),
            index,
            wav: sevens(),
        });
    }
    assert!(written.take(), "a full batch was written before the flush");
    recordings.control(JourneyControl::End {
        call: CallId(1),
        frames: 103,
    });
    recordings.finish_ended();
    assert!(written.take(), "the finished file's header was written");
    recordings.flush_all();
    recordings.finish_ended();
    assert!(!written.take(), "nothing open again: nothing written");
    started(&mut recordings, 2, &report);
    written.take();
    recordings.finish_all();
    assert!(
        written.take(),
        "a recording finished when the service stops"
    );
}

#[test]
fn the_agents_pause_and_resume_reach_only_their_own_calls_file() {
    let dir = tempfile::tempdir().unwrap();
    let (report, reports) = RecordingReports::channel();
    let mut recordings = Recordings::new(dir.path());
    started(&mut recordings, 1, &report);
    started(&mut recordings, 2, &report);
    // Call 1's agent paused in frame 1 and resumed in frame 2; a pause for a call with no
    // recording changes nothing.
    recordings.control(JourneyControl::Pause {
        call: CallId(1),
        from: 1,
    });
    recordings.control(JourneyControl::Resume {
        call: CallId(1),
        until: 2,
    });
    recordings.control(JourneyControl::Pause {
        call: CallId(9),
        from: 0,
    });
    recordings.finish_all();
    let _ = (recorded(&reports), recorded(&reports));
    let first_samples = |call: u64| -> Vec<i16> {
        let samples: Vec<i16> =
            hound::WavReader::open(dir.path().join(format!("recordings/r{call}.wav")))
                .unwrap()
                .into_samples::<i16>()
                .map(|s| s.unwrap())
                .collect();
        samples.chunks_exact(320).map(|frame| frame[0]).collect()
    };
    // Frames 0 to 2 were placed before the pause was heard: 1 and 2 are silenced, and the
    // resume cannot bring 2 back.
    assert_eq!(first_samples(1), vec![7, 0, 0]);
    assert_eq!(first_samples(2), vec![7, 7, 7]);
}
