//! Waiting in a queue: announcements, priority, the maximum-wait exits.

use super::*;

#[test]
fn waiting_caller_hears_the_wait_again_every_thirty_seconds_and_is_offered_a_callback_before_ten_minutes(
) {
    // Nobody can take sales calls.
    let mut h = Harness::queued_caller(
        |c| {
            for queue in c.dialplan.queues.values_mut() {
                queue.skills = vec!["nobody".into()];
            }
        },
        '1',
    );
    assert!(h.invites_to_agents().is_empty());
    let entered = h.now;
    h.advance(Duration::from_secs(30));
    assert_eq!(
        h.kinds()
            .iter()
            .filter(|k| matches!(k, EventKind::Announcement { .. }))
            .count(),
        1
    );
    h.advance_to(entered + Duration::from_secs(9 * 60 + 29));
    assert!(!h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueExit { .. })));
    h.advance_to(entered + Duration::from_secs(9 * 60 + 30));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueExit { reason, .. } if reason == "callback_offer")));
    assert!(h.prompts.file(h.playing()).ends_with("callback_offer.wav"));
    h.media_event(MediaEvent::Dtmf {
        digit: '1',
        duration_ms: 100,
    });
    assert!(h.kinds().iter().any(|k| matches!(k, EventKind::CallbackRequested { number, queue, position: 1 } if number == "1000" && queue == "sales")));
    assert!(h
        .records
        .iter()
        .any(|r| matches!(r, RecordCommand::Callback(req) if req.number == "1000")));
}

#[test]
fn a_vip_caller_is_served_before_callers_who_came_earlier() {
    let mut h = Harness::new(|c| {
        for queue in c.dialplan.queues.values_mut() {
            queue.skills = vec!["nobody".into()];
        }
    });
    let now = h.now;
    let first = h.switch.acd.enqueue("sales", CallId(50), 0, now);
    let (vip, _) = h.switch.dialplan.priority_of("13800000001");
    let second = h.switch.acd.enqueue("sales", CallId(51), vip, now);
    assert_eq!((first, second), (1, 1));
    assert_eq!(h.switch.acd.waiting("sales"), vec![CallId(51), CallId(50)]);
}

#[test]
fn operator_queue_takes_a_voicemail_before_the_maximum_wait() {
    let mut h = Harness::queued_caller(
        |c| {
            let operator = c.dialplan.queues.get_mut("operator").unwrap();
            operator.skills = vec!["nobody".into()];
            operator.max_wait = Duration::from_secs(2);
            operator.exit_notice = Duration::from_secs(1);
        },
        '0',
    );
    h.advance(Duration::from_secs(1));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueExit { reason, .. } if reason == "voicemail")));
    assert!(h.finish_prompt().ends_with("voicemail_offer.wav"));
    assert!(h.finish_prompt().ends_with("beep.wav"));
    let path = h
        .media
        .iter()
        .find_map(|m| match m {
            MediaCommand::RecordCaller {
                call: CallId(1),
                path,
                max,
            } => {
                assert_eq!(*max, Duration::from_secs(120));
                Some(path.clone())
            }
            _ => None,
        })
        .expect("recording starts after the beep");
    h.advance(Duration::from_secs(5));
    h.media_event(MediaEvent::RecordingFinished { duration_ms: 5000 });
    assert!(h.kinds().iter().any(|k| matches!(k, EventKind::Voicemail { file, duration_ms: 5000 } if *file == path.display().to_string())));
    assert!(h.finish_prompt().ends_with("goodbye.wav"));
    assert!(h.sent.last().unwrap().starts_with("BYE "));
}

#[test]
fn a_full_queue_overflows_to_another_queue_whose_agents_take_the_call() {
    let mut h = Harness::queued_caller(
        |c| {
            let sales = c.dialplan.queues.get_mut("sales").unwrap();
            sales.skills = vec!["nobody".into()];
            sales.max_wait = Duration::from_secs(2);
            sales.exit_notice = Duration::from_secs(1);
            sales.exit = QueueExit::Overflow("support".into());
        },
        '1',
    );
    assert!(h.invites_to_agents().is_empty());
    h.advance(Duration::from_secs(1));
    let kinds = h.kinds();
    assert!(kinds
        .iter()
        .any(|k| matches!(k, EventKind::QueueExit { reason, .. } if reason == "overflow support")));
    assert!(kinds
        .iter()
        .any(|k| matches!(k, EventKind::QueueEntered { queue, .. } if queue == "support")));
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 1);
    assert_eq!(
        phone_extension(&invites[0]),
        "1001",
        "support agents a1001 and a1002"
    );
}

#[test]
fn a_caller_who_hangs_up_after_leaving_a_message_keeps_the_voicemail() {
    let mut h = Harness::queued_caller(
        |c| {
            let operator = c.dialplan.queues.get_mut("operator").unwrap();
            operator.skills = vec!["nobody".into()];
            operator.max_wait = Duration::from_secs(2);
            operator.exit_notice = Duration::from_secs(1);
        },
        '0',
    );
    h.advance(Duration::from_secs(1));
    h.finish_prompt();
    h.finish_prompt();
    h.advance(Duration::from_millis(7_500));
    let tag = to_tag(&h.last_response(200));
    h.sip(&in_dialog("BYE", 5, &tag, "", ""));
    let voicemails: Vec<EventKind> = h
        .kinds()
        .into_iter()
        .filter(|k| matches!(k, EventKind::Voicemail { .. }))
        .collect();
    assert_eq!(voicemails.len(), 1, "{voicemails:?}");
    assert!(matches!(
        voicemails[0],
        EventKind::Voicemail {
            duration_ms: 7_500,
            ..
        }
    ));
    // The media engine's own report of the ended recording comes later and changes nothing.
    h.media_event(MediaEvent::RecordingFinished { duration_ms: 7_480 });
    assert_eq!(
        h.kinds()
            .iter()
            .filter(|k| matches!(k, EventKind::Voicemail { .. }))
            .count(),
        1
    );
    assert_eq!(h.outcome(), Some("completed"));
}
