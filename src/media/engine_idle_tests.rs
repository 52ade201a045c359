//! When the engine is idle, so its worker may sleep without the 20 ms tick: no leg, and no
//! recording's report still to come — and once idle, every report that came is there for
//! the next `poll_event`.

use super::*;
use crate::media::journey::JourneyControl;

#[test]
fn an_engine_is_idle_with_no_leg_and_no_recording_report_still_to_come() {
    let mut h = Harness::new();
    let (controls, _frames) = h.with_recording_service(16);
    assert!(h.engine.idle(), "a new engine has nothing to tick");
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    assert!(!h.engine.idle(), "a leg is ticked");
    h.record_journey(CALLER);
    h.tick();
    h.command(MediaCommand::End { call: CALLER });
    h.events();
    assert_eq!(h.engine.leg_count(), 0);
    assert!(
        !h.engine.idle(),
        "the recording service still owes the journey's report"
    );
    // The service's side: the Start carries the report's sender, which reports, then goes.
    let report = controls
        .try_iter()
        .find_map(|message| match message {
            JourneyControl::Start { report, .. } => Some(report),
            _ => None,
        })
        .expect("the journey was started");
    report.send(
        CALLER,
        MediaEvent::JourneyRecorded {
            record_id: "journey-1".into(),
            duration_ms: 20,
            sha256: "ab".into(),
            lost_ms: 0,
            error: None,
        },
    );
    assert!(!h.engine.idle(), "owed while the sender lives");
    drop(report);
    assert!(h.engine.idle(), "nothing owed once the sender is gone");
    assert!(
        matches!(
            h.engine.poll_event(),
            Some((CALLER, MediaEvent::JourneyRecorded { .. }))
        ),
        "and the report it sent is taken by the next poll"
    );
}

#[test]
fn a_voicemail_recording_finished_after_its_leg_ended_is_reported_by_the_time_the_engine_is_idle() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    h.command(MediaCommand::RecordCaller {
        call: CALLER,
        path: dir.path().join("voicemail.wav"),
        max: Duration::from_secs(60),
    });
    h.command(MediaCommand::End { call: CALLER });
    // The recorder's writer is a real thread: it sends its report, then drops its sender.
    // The engine's idleness is the only signal here, so the test yields until it comes.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !h.engine.idle() {
        assert!(
            Instant::now() < deadline,
            "the recorder's report never came"
        );
        std::thread::yield_now();
    }
    let finished = h
        .events()
        .into_iter()
        .filter(|(call, event)| {
            *call == CALLER && matches!(event, MediaEvent::RecordingFinished { .. })
        })
        .count();
    assert_eq!(finished, 1);
}

/// An engine that keeps no legs of its own to look at (a relay benchmark's, say).
struct CannotTell;

impl ConversationEngine for CannotTell {
    fn command(&mut self, _now: Instant, _command: MediaCommand) {}
    fn on_datagram(&mut self, _: Instant, _: CallId, _: bool, _: SocketAddr, _: &[u8]) {}
    fn on_tick(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        None
    }
    fn poll_event(&mut self) -> Option<(CallId, MediaEvent)> {
        None
    }
}

#[test]
fn an_engine_that_cannot_tell_whether_it_is_idle_is_ticked() {
    assert!(!CannotTell.idle());
}
