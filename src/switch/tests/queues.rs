//! Waiting in a queue: announcements, priority, the maximum-wait exits.

use super::*;

/// Nobody can take calls in any queue, and callers wait for the maximum wait even so
/// (`unstaffed_wait` as long as `max_wait`): the maximum wait's exits, on their own.
fn nobody_answers(c: &mut Config) {
    for queue in c.dialplan.queues.values_mut() {
        queue.skills = vec!["nobody".into()];
        queue.unstaffed_wait = MAX_WAIT;
    }
}

/// The longest wait the standards allow, and the sample dialplan's.
const MAX_WAIT: Duration = Duration::from_secs(600);

impl Harness {
    /// The caller hears every queued prompt out, until the music on a loop starts. Returns
    /// the prompts heard.
    fn hear_out_to_music(&mut self, call: CallId) -> Vec<PromptId> {
        let mut heard = Vec::new();
        loop {
            let last = self.media.iter().rev().find(|m| {
                matches!(m, MediaCommand::Play { call: c, .. } | MediaCommand::PlayLoop { call: c, .. } if *c == call)
            });
            match last {
                Some(MediaCommand::PlayLoop { .. }) => return heard,
                Some(MediaCommand::Play { prompt, .. }) => heard.push(*prompt),
                _ => panic!("nothing plays: {:?}", self.media),
            }
            assert!(heard.len() < 20, "no music after {heard:?}");
            self.hear_out(call);
        }
    }
}

#[test]
fn waiting_caller_hears_the_wait_again_every_thirty_seconds_and_is_offered_a_callback_before_ten_minutes(
) {
    // Nobody can take sales calls.
    let mut h = Harness::queued_caller(nobody_answers, '1');
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
    // 1 before any offer books nothing: the caller just waits on.
    h.media_event(MediaEvent::Dtmf {
        digit: '1',
        duration_ms: 100,
    });
    assert_eq!(h.switch.acd.waiting("sales"), [CallId(1)]);
    assert!(!h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::CallbackRequested { .. })));
    h.advance_to(entered + Duration::from_secs(9 * 60 + 29));
    assert_eq!(
        h.kinds()
            .iter()
            .filter(|k| matches!(k, EventKind::Announcement { .. }))
            .count(),
        18,
        "every 30 s from 0:30 to 9:00"
    );
    assert!(!h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueExit { .. })));
    h.advance_to(entered + Duration::from_secs(9 * 60 + 30));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::CallbackOffered { queue } if queue == "sales")));
    assert!(h.prompts.file(h.playing()).ends_with("callback_offer.wav"));
    assert_eq!(
        h.switch.acd.waiting("sales"),
        [CallId(1)],
        "offered while keeping their place"
    );
    h.media_event(MediaEvent::Dtmf {
        digit: '1',
        duration_ms: 100,
    });
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueExit { reason, .. } if reason == "callback_offer")));
    assert!(h.switch.acd.waiting("sales").is_empty());
    assert!(h.kinds().iter().any(|k| matches!(k, EventKind::CallbackRequested { number, queue, position: 1 } if number == "1000" && queue == "sales")));
    assert!(h.finish_prompt().ends_with("callback_confirmed.wav"));
    assert!(h.finish_prompt().ends_with("goodbye.wav"));
    assert!(h
        .records
        .iter()
        .any(|r| matches!(r, RecordCommand::Callback(req) if req.number == "1000")));
}

#[test]
fn a_caller_who_lets_the_callback_offer_pass_waits_with_music_and_hears_goodbye_at_the_maximum_wait(
) {
    let mut h = Harness::queued_caller(nobody_answers, '1');
    let entered = h.now;
    h.advance_to(entered + Duration::from_secs(9 * 60 + 30));
    assert!(h.finish_prompt().ends_with("callback_offer.wav"));
    assert!(
        matches!(h.media.last(), Some(MediaCommand::PlayLoop { call: CallId(1), prompt, .. }) if h.prompts.file(*prompt).ends_with("moh.wav")),
        "music after the offer, not silence: {:?}",
        h.media.last()
    );
    // Another key is not an answer: the caller keeps waiting.
    h.media_event(MediaEvent::Dtmf {
        digit: '5',
        duration_ms: 100,
    });
    h.advance_to(entered + Duration::from_secs(10 * 60) - Duration::from_millis(1));
    assert_eq!(h.switch.acd.waiting("sales"), [CallId(1)]);
    assert!(!h.kinds().iter().any(|k| matches!(
        k,
        EventKind::QueueExit { .. } | EventKind::CallbackRequested { .. }
    )));
    h.advance_to(entered + Duration::from_secs(10 * 60));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueExit { queue, reason } if queue == "sales" && reason == "max_wait")));
    assert!(h.switch.acd.waiting("sales").is_empty());
    let mark = h.sent.len();
    assert!(h.finish_prompt().ends_with("goodbye.wav"));
    assert!(
        h.sent[mark..].iter().any(|m| m.starts_with("BYE ")),
        "the switch hangs up after goodbye"
    );
}

#[test]
fn a_notice_shorter_than_ten_seconds_still_leaves_the_caller_ten_seconds_to_press_1() {
    let mut h = Harness::queued_caller(
        |c| {
            nobody_answers(c);
            let sales = c.dialplan.queues.get_mut("sales").unwrap();
            sales.max_wait = Duration::from_secs(3);
            sales.exit_notice = Duration::from_secs(1);
        },
        '1',
    );
    let entered = h.now;
    h.advance_to(entered + Duration::from_secs(2));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::CallbackOffered { .. })));
    h.advance_to(entered + Duration::from_secs(12) - Duration::from_millis(1));
    assert_eq!(
        h.switch.acd.waiting("sales"),
        [CallId(1)],
        "past max_wait, still answering"
    );
    h.media_event(MediaEvent::Dtmf {
        digit: '1',
        duration_ms: 100,
    });
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::CallbackRequested { .. })));
}

#[test]
fn an_agent_who_frees_up_during_the_callback_offer_still_takes_the_caller() {
    let wrap_up = Duration::from_secs(9 * 60 + 50);
    let mut h = queued_while_every_agent_wraps_up_for(wrap_up);
    let until = h.t0 + wrap_up;
    let entered = h.now;
    assert!(until > entered + Duration::from_secs(9 * 60 + 30));
    h.advance_to(entered + Duration::from_secs(9 * 60 + 30));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::CallbackOffered { .. })));
    assert!(h.invites_to_agents().is_empty());
    h.advance_to(until);
    assert!(
        !h.invites_to_agents().is_empty(),
        "a sales agent whose wrap-up ended is offered the caller"
    );
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
fn the_maximum_wait_counts_from_the_first_queue_across_an_overflow() {
    // Sales moves callers on after 2m30s to the operator, which takes messages 4m30s after
    // the caller first queued: 2 minutes in the operator's line, not another 4m30s.
    let mut h = Harness::queued_caller(
        |c| {
            nobody_answers(c);
            let sales = c.dialplan.queues.get_mut("sales").unwrap();
            sales.max_wait = Duration::from_secs(180);
            sales.exit = QueueExit::Overflow("operator".into());
            let operator = c.dialplan.queues.get_mut("operator").unwrap();
            operator.max_wait = Duration::from_secs(300);
        },
        '1',
    );
    let entered = h.now;
    let exits = |h: &Harness| -> Vec<String> {
        h.kinds()
            .into_iter()
            .filter_map(|k| match k {
                EventKind::QueueExit { queue, reason } => Some(format!("{queue}: {reason}")),
                _ => None,
            })
            .collect()
    };
    h.advance_to(entered + Duration::from_secs(149));
    assert_eq!(exits(&h), Vec::<String>::new());
    h.advance_to(entered + Duration::from_secs(150));
    assert_eq!(exits(&h), ["sales: overflow operator"]);
    h.advance_to(entered + Duration::from_secs(269));
    assert_eq!(exits(&h), ["sales: overflow operator"]);
    h.advance_to(entered + Duration::from_secs(270));
    assert_eq!(
        exits(&h),
        ["sales: overflow operator", "operator: voicemail"]
    );
    assert!(h.finish_prompt().ends_with("voicemail_offer.wav"));
}

#[test]
fn the_wait_an_agent_answers_after_counts_every_queue_the_caller_waited_in() {
    let mut h = Harness::queued_caller(
        |c| {
            let sales = c.dialplan.queues.get_mut("sales").unwrap();
            sales.skills = vec!["nobody".into()];
            sales.max_wait = Duration::from_secs(60);
            sales.exit_notice = Duration::from_secs(10);
            sales.exit = QueueExit::Overflow("support".into());
        },
        '1',
    );
    assert!(h.invites_to_agents().is_empty());
    h.advance(Duration::from_secs(50));
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 1, "support's agent is offered the call");
    h.advance(Duration::from_secs(2));
    h.sip_from_phone(
        &phone_extension(&invites[0]),
        &phone_response(&invites[0], 200, Some(PHONE_SDP_PCMU)),
    );
    let waits: Vec<u64> = h
        .kinds()
        .into_iter()
        .filter_map(|k| match k {
            EventKind::AgentAnswered { wait_ms, .. } => Some(wait_ms),
            _ => None,
        })
        .collect();
    assert_eq!(waits, [52_000], "50 s in sales and 2 s in support");
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

/// A sales caller (`CallId(1)`) who joins the queue while every agent is staffed but wraps
/// up for an hour: callers wait, and a wait can be promised.
fn queued_while_every_agent_wraps_up() -> Harness {
    queued_while_every_agent_wraps_up_for(Duration::from_secs(3600))
}

/// The same, with wrap-ups that end `wrap_up` after the harness starts.
fn queued_while_every_agent_wraps_up_for(wrap_up: Duration) -> Harness {
    let mut h = Harness::new(|_| {});
    let (now, until) = (h.now, h.now + wrap_up);
    let agents: Vec<String> = h
        .switch
        .agent_states()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    for agent in agents {
        h.switch
            .acd
            .set_state(&agent, acd::AgentState::WrapUp { until }, now);
    }
    h.caller_presses('1');
    h
}

#[test]
fn a_caller_nobody_could_answer_hears_their_place_but_no_promised_wait() {
    let mut h = Harness::queued_caller(nobody_answers, '1');
    let entered = h.now;
    let heard = h.hear_out_to_music(CallId(1));
    assert_eq!(heard[1..], [h.prompt("zh", "queue_first")]);
    h.advance_to(entered + Duration::from_secs(30));
    assert_eq!(
        h.hear_out_to_music(CallId(1)),
        [h.prompt("zh", "queue_first")],
        "nor in the announcement at 30 s"
    );
    let promised: Vec<Option<u32>> = h
        .kinds()
        .into_iter()
        .filter_map(|k| match k {
            EventKind::QueueEntered {
                expected_wait_s, ..
            }
            | EventKind::Announcement {
                expected_wait_s, ..
            } => Some(expected_wait_s),
            _ => None,
        })
        .collect();
    assert_eq!(promised, [None, None], "the record says none was promised");
}

#[test]
fn the_second_caller_hears_one_caller_ahead_of_them_and_a_minute_each() {
    let mut h = queued_while_every_agent_wraps_up();
    h.hear_out_to_music(CallId(1));
    let second = h.queue_nth_caller_for_sales(2, "2000");
    let heard = h.hear_out_to_music(second);
    let names: Vec<String> = heard
        .iter()
        .map(|&id| h.prompts.label(id).unwrap().1.to_string())
        .collect();
    assert_eq!(
        names[1..],
        [
            "queue_position",
            "digit_1",
            "queue_expected_wait",
            "digit_1",
            "minutes"
        ],
        "one caller ahead; 30 s a place before any history, rounded up to a minute"
    );
}

#[test]
fn a_waiting_caller_hears_the_position_and_wait_again_at_exactly_thirty_sixty_and_ninety_seconds() {
    let mut h = queued_while_every_agent_wraps_up();
    let entered = h.now;
    let announcement = vec![
        h.prompt("zh", "queue_first"),
        h.prompt("zh", "queue_expected_wait"),
        h.prompt("zh", "less_than_a_minute"),
    ];
    let heard = h.hear_out_to_music(CallId(1));
    assert_eq!(
        heard[1..],
        announcement[..],
        "the position and wait on entering"
    );
    for k in 1..=3u64 {
        let due = entered + Duration::from_secs(30 * k);
        let mark = h.media.len();
        h.advance_to(due - Duration::from_millis(1));
        assert_eq!(h.media[mark..], [], "nothing new before {} s", 30 * k);
        h.advance_to(due);
        assert!(
            matches!(
                h.media[mark..],
                [
                    MediaCommand::Stop { call: CallId(1) },
                    MediaCommand::Play {
                        call: CallId(1),
                        prompt,
                        ..
                    }
                ] if prompt == announcement[0]
            ),
            "the music stops and the announcement starts at {} s",
            30 * k
        );
        assert_eq!(
            h.hear_out_to_music(CallId(1)),
            announcement,
            "announcement {k}"
        );
    }
    let announced_at: Vec<u64> = h
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::Announcement { position: 1, .. }))
        .map(|e| e.offset_ms - (entered - h.t0).as_millis() as u64)
        .collect();
    assert_eq!(announced_at, vec![30_000, 60_000, 90_000]);
}

#[test]
fn a_caller_whose_offer_rings_out_keeps_the_front_of_the_line() {
    // Both sales agents start logged out, so two callers wait in line.
    let mut h = Harness::new(|c| {
        for phone in &mut c.hardware.phones {
            phone.login_on_register = false;
        }
    });
    let first = h.queue_nth_caller_for_sales(1, "1000");
    let second = h.queue_nth_caller_for_sales(2, "2000");
    assert_eq!(h.switch.acd.waiting("sales"), vec![first, second]);
    assert!(h.invites_to_agents().is_empty());

    assert_eq!(h.dial_feature_code("1001", "*21"), "agent_logged_in");
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 1);
    assert_eq!(
        (phone_extension(&invites[0]), offered_caller(&invites[0])),
        ("1001".to_string(), "1000".to_string())
    );
    h.sip_from_phone("1001", &phone_response(&invites[0], 180, None));
    h.advance(Duration::from_secs(11));
    assert!(
        h.sent.iter().any(|m| m.starts_with("CANCEL sip:1001@")),
        "rang out at three rings"
    );
    h.sip_from_phone("1001", &phone_response(&invites[0], 487, None));
    assert_eq!(h.agent_state("a1001"), "not ready (missed)");
    assert_eq!(h.invites_to_agents().len(), 1, "nobody else is free yet");

    // The next agent to become free is offered the first caller, not the second.
    assert_eq!(h.dial_feature_code("1004", "*21"), "agent_logged_in");
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 2);
    assert_eq!(
        (phone_extension(&invites[1]), offered_caller(&invites[1])),
        ("1004".to_string(), "1000".to_string())
    );
    assert_eq!(h.switch.acd.waiting("sales"), vec![first, second]);
}
