//! The call's QA recording, switch side, in virtual time: started at the answer (row, then
//! timeline event, then the media tap), not at all on a hotline with `record = false`,
//! paused and resumed by the agent's `*7`, and finished on the record when the recording
//! service reports the file, even after the call is gone.

use super::*;
use crate::store::{RecordingEnd, RecordingState};

fn recording_on(config: &mut Config) {
    for hotline in &mut config.dialplan.hotlines {
        hotline.record = true;
    }
}

fn record_id(h: &Harness) -> String {
    h.records
        .iter()
        .find_map(|r| match r {
            RecordCommand::Begin(call) => Some(call.id.clone()),
            _ => None,
        })
        .expect("the call's record")
}

fn started(h: &Harness) -> Vec<(String, String, jiff::Timestamp, u64)> {
    h.records
        .iter()
        .filter_map(|r| match r {
            RecordCommand::RecordingStarted {
                call_id,
                file,
                started_at,
                offset_ms,
            } => Some((call_id.clone(), file.clone(), *started_at, *offset_ms)),
            _ => None,
        })
        .collect()
}

fn journeys(h: &Harness) -> Vec<MediaCommand> {
    h.media
        .iter()
        .filter(|m| {
            matches!(
                m,
                MediaCommand::RecordJourney { .. } | MediaCommand::PauseJourney { .. }
            )
        })
        .cloned()
        .collect()
}

#[test]
fn a_recorded_hotline_starts_the_recording_at_the_answer_row_first_then_the_tap() {
    let mut h = Harness::new(recording_on);
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    let answer_delay = h.switch.dialplan.standards.answer_delay();
    h.advance(answer_delay);
    let id = record_id(&h);
    let wall: jiff::Timestamp = "2026-11-23T02:00:00Z".parse().unwrap();
    let at = wall.checked_add(answer_delay).unwrap();
    let file = crate::recording::relative_path(at, &id);
    assert_eq!(file, format!("recordings/2026/11/23/{id}.wav"));
    assert_eq!(
        started(&h),
        vec![(
            id.clone(),
            file.clone(),
            at,
            answer_delay.as_millis() as u64
        )]
    );
    assert_eq!(
        journeys(&h),
        vec![MediaCommand::RecordJourney {
            call: CallId(1),
            record_id: id.clone(),
            file: file.clone().into(),
            from: h.now,
        }]
    );
    // The socket opens first; the tap goes to the leg it opened.
    let open = h.order.iter().position(|o| o.starts_with("Open")).unwrap();
    let tap = h
        .order
        .iter()
        .position(|o| o.starts_with("RecordJourney"))
        .unwrap();
    assert!(open < tap, "{:?}", h.order);
    let answered = h
        .events()
        .iter()
        .position(|e| matches!(e.kind, EventKind::Answered { .. }))
        .unwrap();
    let event = &h.events()[answered + 1];
    assert_eq!(event.kind, EventKind::RecordingStarted { file });
    assert_eq!(event.offset_ms, answer_delay.as_millis() as u64);
    // The ACK and the whole IVR start no second recording.
    let tag = to_tag(&h.last_response(200));
    h.sip(&in_dialog("ACK", 1, &tag, "", ""));
    h.finish_prompt();
    assert_eq!(journeys(&h).len(), 1);
    assert_eq!(started(&h).len(), 1);
}

#[test]
fn a_hotline_with_record_false_is_not_recorded() {
    let mut h = Harness::new(|_| {});
    answered_call(&mut h, OFFER_PCMA);
    h.finish_prompt();
    assert_eq!(journeys(&h), vec![]);
    assert_eq!(started(&h), vec![]);
    assert!(!h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::RecordingStarted { .. })));
}

fn connected(record: bool) -> (Harness, CallId) {
    let mut h = Harness::queued_caller(
        |c| {
            if record {
                recording_on(c);
            }
            for queue in c.dialplan.queues.values_mut() {
                queue.whisper = None;
            }
        },
        '1',
    );
    let Some(invite) = h.invites_to_agents().first().cloned() else {
        panic!("no offer to an agent: {:#?}", h.kinds());
    };
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let leg = *h.switch.legs.keys().next().expect("the agent leg");
    (h, leg)
}

fn press(h: &mut Harness, leg: CallId, digits: &str) {
    for digit in digits.chars() {
        h.switch.handle_media_event(
            h.now,
            leg,
            MediaEvent::Dtmf {
                digit,
                duration_ms: 100,
            },
        );
        h.collect();
    }
}

#[test]
fn the_agents_star_seven_pauses_and_resumes_the_recording_saying_who_and_how_long() {
    let (mut h, leg) = connected(true);
    let mark = h.media.len();
    let paused_at = h.now;
    press(&mut h, leg, "*7");
    h.advance(Duration::from_millis(4_500));
    let resumed_at = h.now;
    press(&mut h, leg, "*7");
    let pauses: Vec<MediaCommand> = h.media[mark..]
        .iter()
        .filter(|m| {
            matches!(
                m,
                MediaCommand::PauseJourney { .. } | MediaCommand::SendDtmf { .. }
            )
        })
        .cloned()
        .collect();
    assert_eq!(
        pauses,
        vec![
            MediaCommand::PauseJourney {
                call: CallId(1),
                paused: true,
                at: paused_at,
            },
            MediaCommand::PauseJourney {
                call: CallId(1),
                paused: false,
                at: resumed_at,
            },
        ],
        "the caller hears none of the keys"
    );
    let events: Vec<TimelineEvent> = h
        .events()
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::RecordingPaused { .. }
                    | EventKind::RecordingResumed { .. }
                    | EventKind::InCallKeys { .. }
            )
        })
        .collect();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::RecordingPaused {
                by: Party::Agent,
                agent: "a1001".into()
            },
            EventKind::InCallKeys {
                agent: "a1001".into(),
                keys: "*7".into(),
                action: "pause_recording".into()
            },
            EventKind::RecordingResumed {
                by: Party::Agent,
                agent: "a1001".into(),
                paused_ms: 4_500
            },
            EventKind::InCallKeys {
                agent: "a1001".into(),
                keys: "*7".into(),
                action: "resume_recording".into()
            },
        ]
    );
    assert_eq!(events[2].offset_ms - events[0].offset_ms, 4_500);
}

#[test]
fn star_seven_on_a_call_that_is_not_recorded_changes_nothing_and_says_why() {
    let (mut h, leg) = connected(false);
    let mark = h.media.len();
    press(&mut h, leg, "*7");
    assert!(!h.media[mark..].iter().any(|m| matches!(
        m,
        MediaCommand::PauseJourney { .. } | MediaCommand::SendDtmf { .. }
    )));
    assert!(h.kinds().contains(&EventKind::InCallKeys {
        agent: "a1001".into(),
        keys: "*7".into(),
        action: "not_recording".into()
    }));
}

#[test]
fn the_services_report_finishes_the_record_even_after_the_call_is_gone() {
    let mut h = Harness::new(recording_on);
    let tag = answered_call(&mut h, OFFER_PCMA);
    let id = record_id(&h);
    h.sip(&in_dialog("BYE", 2, &tag, "", ""));
    h.advance(Duration::from_secs(40));
    assert!(h.switch.calls.is_empty(), "the call is gone");
    for (error, state) in [
        (None, RecordingState::Complete),
        (Some("disk full".to_string()), RecordingState::CutShort),
    ] {
        h.media_event(MediaEvent::JourneyRecorded {
            record_id: id.clone(),
            duration_ms: 8_520,
            sha256: "ab".repeat(32),
            lost_ms: 60,
            error,
        });
        let finished = h.records.iter().rev().find_map(|r| match r {
            RecordCommand::RecordingFinished { call_id, end } => {
                Some((call_id.clone(), end.clone()))
            }
            _ => None,
        });
        assert_eq!(
            finished,
            Some((
                id.clone(),
                RecordingEnd {
                    state,
                    duration_ms: 8_520,
                    sha256: "ab".repeat(32),
                    lost_ms: 60,
                }
            ))
        );
    }
}
