//! A queue nobody is taking calls for (every agent with its skills logged out, on a break or
//! unregistered): its callers take the exit after the queue's `unstaffed_wait` (60 s in the
//! sample dialplan), not after the whole maximum wait — and only while it stays so.

use super::*;

const UNSTAFFED_WAIT: Duration = Duration::from_secs(60);
const EXIT_NOTICE: Duration = Duration::from_secs(30);

/// Every agent on a break, then a caller presses 1 for sales.
fn queued_while_every_agent_is_on_a_break(edit: impl FnOnce(&mut Config)) -> Harness {
    let mut h = Harness::new(edit);
    let now = h.now;
    for (agent, _) in h.switch.agent_states() {
        h.switch.acd.set_state(
            &agent,
            acd::AgentState::NotReady {
                reason: "break".into(),
            },
            now,
        );
    }
    h.caller_presses('1');
    h
}

/// a1004 (sales) is on a call the switch's dispatch did not see start: taking calls, not
/// free.
fn a1004_on_a_call_no_dispatch_saw(h: &mut Harness) {
    let now = h.now;
    h.switch.acd.set_state(
        "a1004",
        acd::AgentState::Talking { caller: CallId(99) },
        now,
    );
}

fn offered_a_callback(h: &Harness) -> bool {
    h.kinds()
        .iter()
        .any(|k| matches!(k, EventKind::CallbackOffered { .. }))
}

fn unstaffed_events(h: &Harness) -> Vec<EventKind> {
    h.kinds()
        .into_iter()
        .filter(|k| matches!(k, EventKind::QueueUnstaffed { .. }))
        .collect()
}

fn queue_exits(h: &Harness) -> Vec<String> {
    h.kinds()
        .into_iter()
        .filter_map(|k| match k {
            EventKind::QueueExit { queue, reason } => Some(format!("{queue}: {reason}")),
            _ => None,
        })
        .collect()
}

#[test]
fn a_caller_nobody_takes_calls_for_is_offered_a_callback_after_a_minute_and_hears_goodbye_after_the_notice(
) {
    let mut h = queued_while_every_agent_is_on_a_break(|_| {});
    let entered = h.now;
    h.advance_to(entered + UNSTAFFED_WAIT - Duration::from_millis(1));
    assert_eq!(unstaffed_events(&h), []);
    assert!(!offered_a_callback(&h));
    h.advance_to(entered + UNSTAFFED_WAIT);
    let kinds = h.kinds();
    let told = kinds
        .iter()
        .position(|k| {
            *k == EventKind::QueueUnstaffed {
                queue: "sales".into(),
                unstaffed_s: 60,
            }
        })
        .expect("the empty queue is noted");
    assert_eq!(
        kinds[told + 1],
        EventKind::CallbackOffered {
            queue: "sales".into()
        }
    );
    assert!(h.prompts.file(h.playing()).ends_with("callback_offer.wav"));
    assert_eq!(h.switch.acd.waiting("sales"), [CallId(1)], "still in line");
    // The offer stands for the queue's notice, not the nine minutes left of the wait.
    h.advance_to(entered + UNSTAFFED_WAIT + EXIT_NOTICE - Duration::from_millis(1));
    assert_eq!(queue_exits(&h), Vec::<String>::new());
    h.advance_to(entered + UNSTAFFED_WAIT + EXIT_NOTICE);
    assert_eq!(queue_exits(&h), ["sales: unstaffed"]);
    assert!(h.switch.acd.waiting("sales").is_empty());
    let mark = h.sent.len();
    assert!(h.finish_prompt().ends_with("goodbye.wav"));
    assert!(h.sent[mark..].iter().any(|m| m.starts_with("BYE ")));
}

#[test]
fn pressing_1_at_the_offer_made_for_an_empty_queue_books_the_callback() {
    let mut h = queued_while_every_agent_is_on_a_break(|_| {});
    h.advance(UNSTAFFED_WAIT);
    h.media_event(MediaEvent::Dtmf {
        digit: '1',
        duration_ms: 100,
    });
    assert_eq!(queue_exits(&h), ["sales: callback_offer"]);
    assert!(h.kinds().iter().any(
        |k| matches!(k, EventKind::CallbackRequested { queue, position: 1, .. } if queue == "sales")
    ));
}

#[test]
fn an_agent_back_from_a_break_takes_the_caller_and_no_early_exit_comes() {
    let mut h = queued_while_every_agent_is_on_a_break(|_| {});
    let entered = h.now;
    h.advance_to(entered + Duration::from_secs(40));
    assert!(h.invites_to_agents().is_empty());
    assert_eq!(h.dial_feature_code("1001", "*23"), "agent_ready");
    assert_eq!(
        h.invites_to_agents().len(),
        1,
        "a1001 is offered the caller"
    );
    // a1001 lets it ring: the offer is not an exit.
    h.advance_to(entered + UNSTAFFED_WAIT + Duration::from_secs(1));
    assert_eq!(unstaffed_events(&h), []);
    assert_eq!(queue_exits(&h), Vec::<String>::new());
}

#[test]
fn an_agent_who_comes_back_busy_elsewhere_keeps_the_caller_waiting_for_the_maximum_wait() {
    let mut h = queued_while_every_agent_is_on_a_break(|_| {});
    let entered = h.now;
    h.advance_to(entered + Duration::from_secs(40));
    // a1004 (sales) is back and on another call: taking calls, but not free.
    a1004_on_a_call_no_dispatch_saw(&mut h);
    h.advance_to(entered + Duration::from_secs(9 * 60 + 29));
    assert_eq!(unstaffed_events(&h), []);
    assert!(!offered_a_callback(&h));
    h.advance_to(entered + Duration::from_secs(9 * 60 + 30));
    assert!(offered_a_callback(&h));
}

#[test]
fn the_minute_counts_from_when_the_last_agent_left_the_queue() {
    // Both sales agents are wrapping up other calls (taking calls, not free) when the caller
    // queues; 20 s later both go on a break.
    let mut h = Harness::new(|_| {});
    let now = h.now;
    for (agent, _) in h.switch.agent_states() {
        h.switch.acd.set_state(
            &agent,
            acd::AgentState::WrapUp {
                until: now + Duration::from_secs(3600),
            },
            now,
        );
    }
    h.caller_presses('1');
    let entered = h.now;
    h.advance_to(entered + Duration::from_secs(20));
    assert_eq!(h.dial_feature_code("1001", "*24"), "agent_not_ready");
    assert_eq!(h.dial_feature_code("1004", "*24"), "agent_not_ready");
    let left = h.now;
    h.advance_to(left + UNSTAFFED_WAIT - Duration::from_millis(1));
    assert_eq!(unstaffed_events(&h), []);
    h.advance_to(left + UNSTAFFED_WAIT);
    assert_eq!(
        unstaffed_events(&h),
        [EventKind::QueueUnstaffed {
            queue: "sales".into(),
            unstaffed_s: 60,
        }]
    );
}

#[test]
fn an_empty_queue_overflows_to_one_whose_agent_takes_the_call() {
    // Sales overflows to support; a1002 (support) is back from the break, sales's agents not.
    let mut h = queued_while_every_agent_is_on_a_break(|c| {
        c.dialplan.queues.get_mut("sales").unwrap().exit = QueueExit::Overflow("support".into());
    });
    let entered = h.now;
    let now = h.now;
    h.switch.acd.set_state("a1002", acd::AgentState::Ready, now);
    h.advance_to(entered + UNSTAFFED_WAIT);
    assert_eq!(queue_exits(&h), ["sales: overflow support"]);
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 1);
    assert_eq!(phone_extension(&invites[0]), "1002");
}

#[test]
fn with_the_unstaffed_wait_as_long_as_the_maximum_wait_callers_wait_it_all() {
    let mut h = queued_while_every_agent_is_on_a_break(|c| {
        let sales = c.dialplan.queues.get_mut("sales").unwrap();
        sales.unstaffed_wait = sales.max_wait;
    });
    let entered = h.now;
    h.advance_to(entered + Duration::from_secs(9 * 60 + 29));
    assert!(!offered_a_callback(&h));
    h.advance_to(entered + Duration::from_secs(9 * 60 + 30));
    assert_eq!(unstaffed_events(&h), [], "the maximum wait's offer");
    assert!(offered_a_callback(&h));
}

#[test]
fn a_caller_who_joins_a_queue_already_unserved_gets_their_own_minute() {
    let mut h = queued_while_every_agent_is_on_a_break(|_| {});
    let first_entered = h.now;
    h.advance(Duration::from_secs(30));
    let second = h.queue_nth_caller_for_sales(2, "13900000002");
    let second_entered = h.now;
    assert_eq!(h.switch.acd.waiting("sales"), [CallId(1), second]);
    h.advance_to(first_entered + UNSTAFFED_WAIT);
    assert_eq!(unstaffed_events(&h).len(), 1, "the first caller's minute");
    h.advance_to(second_entered + UNSTAFFED_WAIT - Duration::from_millis(1));
    assert_eq!(unstaffed_events(&h).len(), 1);
    h.advance_to(second_entered + UNSTAFFED_WAIT);
    assert_eq!(unstaffed_events(&h).len(), 2, "the second caller's minute");
}

#[test]
fn after_an_agent_came_back_unnoticed_the_queue_emptying_again_is_noticed() {
    let mut h = queued_while_every_agent_is_on_a_break(|_| {});
    let entered = h.now;
    h.advance_to(entered + Duration::from_secs(40));
    // a1004 is on a call the queue did not see start (no dispatch): found at 60 s.
    a1004_on_a_call_no_dispatch_saw(&mut h);
    h.advance_to(entered + UNSTAFFED_WAIT);
    assert_eq!(unstaffed_events(&h), []);
    // At 100 s a1004 goes on a break again: the minute starts then.
    h.advance_to(entered + Duration::from_secs(100));
    assert_eq!(h.dial_feature_code("1004", "*24"), "agent_not_ready");
    let left = h.now;
    h.advance_to(left + UNSTAFFED_WAIT - Duration::from_millis(1));
    assert_eq!(unstaffed_events(&h), []);
    h.advance_to(left + UNSTAFFED_WAIT);
    assert_eq!(unstaffed_events(&h).len(), 1);
}

#[test]
fn an_agent_back_for_a_while_restarts_the_minute_when_they_leave_again() {
    let mut h = queued_while_every_agent_is_on_a_break(|_| {});
    let entered = h.now;
    // At 20 s a1004 (sales) is on a call again, noticed at the next dispatch (a1002's
    // feature code); at 30 s a1004 goes on a break: the minute counts from 30 s, not 0 s.
    h.advance_to(entered + Duration::from_secs(20));
    a1004_on_a_call_no_dispatch_saw(&mut h);
    assert_eq!(h.dial_feature_code("1002", "*24"), "agent_not_ready");
    h.advance_to(entered + Duration::from_secs(30));
    assert_eq!(h.dial_feature_code("1004", "*24"), "agent_not_ready");
    let left = h.now;
    h.advance_to(left + UNSTAFFED_WAIT - Duration::from_millis(1));
    assert_eq!(unstaffed_events(&h), []);
    h.advance_to(left + UNSTAFFED_WAIT);
    assert_eq!(unstaffed_events(&h).len(), 1);
}
