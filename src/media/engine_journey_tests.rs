//! The engine's journey recordings: each tick's frames of every recorded leg go to the
//! recording service as one message, the agent's pause reaches it with the frames of the
//! keys, an engine without the service refuses a recording and says why, and a recording
//! whose file could not be created stops its tap.

use super::*;
use crate::media::journey::JourneyControl;
use crate::media::FRAME_SAMPLES;

#[test]
fn each_tick_sends_the_frames_of_every_recorded_leg_to_the_recording_service_as_one_message() {
    let mut h = Harness::new();
    let (controls, received) = h.with_recording_service(16);
    let other_caller = CallId(3);
    h.bridged_pair();
    h.start(other_caller, addr(4100), Codec::Pcmu, None);
    for call in [CALLER, other_caller] {
        h.record_journey(call);
    }
    h.tick();
    h.tick();
    h.tick();
    let ticks: Vec<Vec<(CallId, u64)>> = received
        .try_iter()
        .map(|batch| {
            let mut frames: Vec<(CallId, u64)> =
                batch.frames.iter().map(|f| (f.call, f.index)).collect();
            frames.sort();
            frames
        })
        .collect();
    assert_eq!(
        ticks,
        (0..3)
            .map(|index| vec![(CALLER, index), (other_caller, index)])
            .collect::<Vec<_>>(),
        "one message per tick, a frame of each recorded leg, none of the agent's"
    );
    let starts = controls
        .try_iter()
        .filter(|m| matches!(m, JourneyControl::Start { .. }))
        .count();
    assert_eq!(starts, 2);
    assert!(h.engine.poll_event().is_none(), "nothing refused");
}

#[test]
fn an_engine_without_a_recording_service_refuses_a_journey_recording_and_says_why() {
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcma, None);
    h.record_journey(CALLER);
    let refused =
        std::iter::from_fn(|| h.engine.poll_event()).find_map(|(call, event)| match event {
            MediaEvent::JourneyRecorded {
                record_id, error, ..
            } => Some((call, record_id, error)),
            _ => None,
        });
    assert_eq!(
        refused,
        Some((
            CALLER,
            "journey-1".to_string(),
            Some("no recording service or no media leg".to_string())
        ))
    );
}

#[test]
fn an_agents_pause_reaches_the_service_as_the_frames_of_the_keys_and_the_tap_writes_silence_meanwhile(
) {
    let mut h = Harness::new();
    let (controls, received) = h.with_recording_service(64);
    h.start(CALLER, caller_phone(), Codec::Pcma, None);
    h.record_journey(CALLER);
    let t0 = h.now;
    let loud = [0x10u8; FRAME_SAMPLES];
    for k in 0..12u16 {
        // The keys: at the start of frame 4, and 5 ms into frame 8.
        match k {
            4 => h.command(MediaCommand::PauseJourney {
                call: CALLER,
                paused: true,
                at: h.now,
            }),
            8 => h.command(MediaCommand::PauseJourney {
                call: CALLER,
                paused: false,
                at: h.now + Duration::from_millis(5),
            }),
            _ => {}
        }
        let packet = rtp(8, 0x55, k, u32::from(k) * 160, &loud);
        h.receive(CALLER, caller_phone(), &packet);
        h.tick();
    }
    assert_eq!(h.now, t0 + 12 * TICK);
    let spans: Vec<(bool, u64)> = controls
        .try_iter()
        .filter_map(|m| match m {
            JourneyControl::Pause { call: CALLER, from } => Some((true, from)),
            JourneyControl::Resume {
                call: CALLER,
                until,
            } => Some((false, until)),
            _ => None,
        })
        .collect();
    assert_eq!(
        spans,
        vec![(true, 4), (false, 9)],
        "frame 8 was partly paused"
    );
    let said: Vec<(u64, bool)> = received
        .try_iter()
        .flat_map(|batch| batch.frames)
        .map(|f| (f.index, f.samples().step_by(2).any(|s| s != 0)))
        .collect();
    // The caller's side lags a tick (the jitter buffer plays from the second packet).
    let expected: Vec<(u64, bool)> = (0..12)
        .map(|i| (i, i != 0 && !(4..8).contains(&i)))
        .collect();
    assert_eq!(said, expected);
}

/// The recording service's report of `record_id` for `call`: its file could not be created.
fn cannot_create(controls: &std::sync::mpsc::Receiver<JourneyControl>, record_id: &str) {
    let report = controls.try_iter().find_map(|m| match m {
        JourneyControl::Start {
            call,
            record_id: id,
            report,
            ..
        } if id == record_id => Some((call, report)),
        _ => None,
    });
    let (call, report) = report.expect("the recording was started");
    report.send(
        call,
        MediaEvent::JourneyRecorded {
            record_id: record_id.into(),
            duration_ms: 0,
            sha256: String::new(),
            lost_ms: 0,
            error: Some("cannot create the recording: permission denied".into()),
        },
    );
}

/// The indexes of `call`'s frames the engine sent since the last look.
fn frames_of(
    received: &std::sync::mpsc::Receiver<crate::media::journey::FrameBatch>,
    call: CallId,
) -> Vec<u64> {
    received
        .try_iter()
        .flat_map(|batch| batch.frames)
        .filter(|f| f.call == call)
        .map(|f| f.index)
        .collect()
}

#[test]
fn a_recording_whose_file_could_not_be_created_stops_its_tap_once_the_engine_hears_so() {
    let mut h = Harness::new();
    let (controls, received) = h.with_recording_service(64);
    h.start(CALLER, caller_phone(), Codec::Pcma, None);
    h.record_journey(CALLER);
    h.tick();
    h.tick();
    assert_eq!(frames_of(&received, CALLER), vec![0, 1]);
    cannot_create(&controls, "journey-1");
    // The report reaches the switch as it is; the tap stops with it.
    let reported = std::iter::from_fn(|| h.engine.poll_event()).any(|(call, event)| {
        call == CALLER && matches!(event, MediaEvent::JourneyRecorded { error: Some(_), .. })
    });
    assert!(reported, "the failure still goes to the switch");
    h.tick();
    h.tick();
    assert_eq!(
        frames_of(&received, CALLER),
        Vec::<u64>::new(),
        "no frame for a file that does not exist"
    );
    assert!(
        controls
            .try_iter()
            .any(|m| matches!(m, JourneyControl::End { call: CALLER, .. })),
        "the service is told the recording is over"
    );
}

#[test]
fn a_second_recording_of_a_leg_is_refused_and_the_first_goes_on() {
    let mut h = Harness::new();
    let (controls, received) = h.with_recording_service(64);
    h.start(CALLER, caller_phone(), Codec::Pcma, None);
    h.record_journey(CALLER);
    h.tick();
    // The service knows a recording by its call: a second one at once would take the first
    // one's frames still queued.
    h.command(MediaCommand::RecordJourney {
        call: CALLER,
        record_id: "journey-1b".into(),
        file: "recordings/1b.wav".into(),
        from: h.now,
    });
    let refused: Vec<(String, Option<String>)> = std::iter::from_fn(|| h.engine.poll_event())
        .filter_map(|(_, event)| match event {
            MediaEvent::JourneyRecorded {
                record_id, error, ..
            } => Some((record_id, error)),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        vec![(
            "journey-1b".to_string(),
            Some("the leg's journey is being recorded already".to_string())
        )]
    );
    h.tick();
    assert_eq!(
        frames_of(&received, CALLER),
        vec![0, 1],
        "journey-1 goes on"
    );
    let started: Vec<String> = controls
        .try_iter()
        .filter_map(|m| match m {
            JourneyControl::Start { record_id, .. } => Some(record_id),
            JourneyControl::End { .. } => Some("end".into()),
            _ => None,
        })
        .collect();
    assert_eq!(started, vec!["journey-1".to_string()]);
}
