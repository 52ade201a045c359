use super::*;
use crate::store::{CallSummary, RecordingInfo, RecordingState, CHANNEL_MAP};

fn record(events: Vec<(u64, EventKind)>) -> CallRecord {
    CallRecord {
        summary: CallSummary {
            id: "c1".into(),
            sip_call_id: "sip-1".into(),
            from: "sip:13800000000@trunk".into(),
            to: "sip:hotline@switch".into(),
            hotline: Some("main".into()),
            started_at: jiff::Timestamp::UNIX_EPOCH,
            answered_at_ms: None,
            ended_at: None,
            outcome: Some("completed".into()),
            ended_by: None,
            reason: None,
            duration_ms: None,
            event_count: events.len() as u64,
            queue: None,
            agent: None,
            wait_ms: None,
            talk_ms: None,
        },
        events: events
            .into_iter()
            .map(|(offset_ms, kind)| TimelineEvent { offset_ms, kind })
            .collect(),
        media: Vec::new(),
        recording: None,
    }
}

fn of(flags: &[Flag], rule: Rule) -> Vec<&Flag> {
    flags.iter().filter(|f| f.rule == rule).collect()
}

/// (passed, start, end, measured, threshold)
type Shape = (bool, u64, u64, Option<f64>, Option<f64>);

fn shape(f: &Flag) -> Shape {
    (f.passed, f.start_ms, f.end_ms, f.measured, f.threshold)
}

/// The shapes of the flags of one rule, in order.
fn shapes(flags: &[Flag], rule: Rule) -> Vec<Shape> {
    of(flags, rule).into_iter().map(shape).collect()
}

fn hangup(by: Party) -> EventKind {
    EventKind::Hangup {
        by,
        reason: "bye".into(),
    }
}

fn bridged(agent: &str) -> EventKind {
    EventKind::Bridged {
        agent: agent.into(),
        transcoding: false,
    }
}

fn agent_answered(agent: &str, rings: u32, wait_ms: u64) -> EventKind {
    EventKind::AgentAnswered {
        agent: agent.into(),
        rings,
        wait_ms,
    }
}

fn offered(agent: &str) -> EventKind {
    EventKind::Offered {
        agent: agent.into(),
        extension: "1001".into(),
    }
}

fn queue_entered() -> EventKind {
    EventKind::QueueEntered {
        queue: "support".into(),
        position: 1,
        expected_wait_s: Some(20),
        priority: 0,
    }
}

#[test]
fn rings_of_the_switch_each_offer_and_each_transfer_target_are_held_to_three() {
    let r = record(vec![
        (
            0,
            EventKind::Invite {
                from: "a".into(),
                to: "b".into(),
            },
        ),
        (10, EventKind::Ringing),
        (1_010, EventKind::Answered { rings: 1 }),
        (4_000, queue_entered()),
        (4_100, offered("alice")),
        (
            19_200,
            EventKind::OfferEnded {
                agent: "alice".into(),
                rings: 4,
                outcome: "no_answer".into(),
            },
        ),
        (19_300, offered("bob")),
        (30_000, agent_answered("bob", 3, 26_000)),
        (30_050, bridged("bob")),
        (
            90_000,
            EventKind::TransferRequested {
                agent: "bob".into(),
                kind: "blind".into(),
                method: "refer".into(),
                target: "2001".into(),
            },
        ),
        (106_000, agent_answered("carol", 4, 16_000)),
        (
            106_100,
            EventKind::TransferCompleted {
                agent: "carol".into(),
                kind: "blind".into(),
            },
        ),
        (200_000, hangup(Party::Caller)),
    ]);
    let flags = flags(&r, None);
    let switch = of(&flags, Rule::AnsweredWithinRings);
    assert_eq!(
        switch.iter().map(|f| shape(f)).collect::<Vec<_>>(),
        [(true, 10, 1_010, Some(1.0), Some(3.0))]
    );
    assert_eq!(
        switch[0].evidence,
        "answered event: switch answered at ring 1, measured 1 against threshold 3"
    );
    let agents = of(&flags, Rule::AgentAnsweredWithinRings);
    assert_eq!(
        agents.iter().map(|f| shape(f)).collect::<Vec<_>>(),
        [
            (false, 4_100, 19_200, Some(4.0), Some(3.0)),
            (true, 19_300, 30_000, Some(3.0), Some(3.0)),
        ]
    );
    assert_eq!(
        agents[0].evidence,
        "offer_ended event: alice did not answer in 4 rings, measured 4 against threshold 3"
    );
    let targets = of(&flags, Rule::TransferTargetWithinRings);
    assert_eq!(
        targets.iter().map(|f| shape(f)).collect::<Vec<_>>(),
        [(false, 90_000, 106_000, Some(4.0), Some(3.0))]
    );
    assert_eq!(
        targets[0].evidence,
        "agent_answered event: transfer target carol answered at ring 4, measured 4 against threshold 3"
    );
}

#[test]
fn time_in_queue_is_measured_against_30_seconds_and_10_minutes() {
    let r = record(vec![
        (5_000, queue_entered()),
        (47_000, agent_answered("bob", 1, 42_000)),
        (47_100, bridged("bob")),
        (100_000, hangup(Party::Caller)),
    ]);
    let flags = flags(&r, None);
    assert_eq!(
        shapes(&flags, Rule::WaitUnder30s),
        [(false, 5_000, 47_000, Some(42.0), Some(30.0))]
    );
    assert_eq!(
        shapes(&flags, Rule::WaitUnder10min),
        [(true, 5_000, 47_000, Some(42.0), Some(600.0))]
    );
    assert_eq!(
        of(&flags, Rule::WaitUnder30s)[0].evidence,
        "agent_answered event: bob answered from support: measured 42.0 s in queue against threshold 30.0 s"
    );
    let abandoned = of(&flags, Rule::Abandoned);
    assert_eq!(
        abandoned.iter().map(|f| shape(f)).collect::<Vec<_>>(),
        [(true, 5_000, 100_000, None, None)]
    );
}

#[test]
fn a_wait_that_overflows_to_another_queue_is_one_wait_from_the_first_queue() {
    let in_queue = |queue: &str| EventKind::QueueEntered {
        queue: queue.into(),
        position: 1,
        expected_wait_s: Some(20),
        priority: 0,
    };
    let r = record(vec![
        (5_000, in_queue("sales")),
        (
            305_000,
            EventKind::QueueExit {
                queue: "sales".into(),
                reason: "overflow support".into(),
            },
        ),
        (305_000, in_queue("support")),
        // The switch counts the whole wait too.
        (665_000, agent_answered("bob", 1, 660_000)),
        (665_100, bridged("bob")),
        (700_000, hangup(Party::Caller)),
    ]);
    let flags = flags(&r, None);
    assert_eq!(
        shapes(&flags, Rule::WaitUnder10min),
        [(false, 5_000, 665_000, Some(660.0), Some(600.0))]
    );
    assert_eq!(
        shapes(&flags, Rule::WaitUnder30s),
        [(false, 5_000, 665_000, Some(660.0), Some(30.0))]
    );
    assert_eq!(
        of(&flags, Rule::WaitUnder10min)[0].evidence,
        "agent_answered event: bob answered from support: measured 660.0 s in queue against threshold 600.0 s"
    );
    // Any other way out of a queue ends the wait there.
    let offered_a_callback = record(vec![
        (5_000, in_queue("sales")),
        (
            305_000,
            EventKind::QueueExit {
                queue: "sales".into(),
                reason: "callback_offer".into(),
            },
        ),
        (320_000, hangup(Party::Caller)),
    ]);
    let flags = flags_fn(&offered_a_callback);
    assert_eq!(
        shapes(&flags, Rule::WaitUnder10min),
        [(true, 5_000, 305_000, Some(300.0), Some(600.0))]
    );
    // The switch moved the caller on; it was not the caller's choice.
    assert_eq!(
        of(&flags, Rule::WaitUnder10min)[0].evidence,
        "queue_exit event: sales's maximum wait came and the switch took its exit (callback_offer): measured 300.0 s in queue against threshold 600.0 s"
    );
}

#[test]
fn a_wait_cut_short_because_nobody_took_the_queues_calls_says_so() {
    let in_queue = |queue: &str| EventKind::QueueEntered {
        queue: queue.into(),
        position: 1,
        expected_wait_s: None,
        priority: 0,
    };
    let exit = |queue: &str, reason: &str| EventKind::QueueExit {
        queue: queue.into(),
        reason: reason.into(),
    };
    let unstaffed = |queue: &str| EventKind::QueueUnstaffed {
        queue: queue.into(),
        unstaffed_s: 60,
    };
    let let_the_offer_pass = record(vec![
        (5_000, in_queue("sales")),
        (65_000, unstaffed("sales")),
        (
            65_000,
            EventKind::CallbackOffered {
                queue: "sales".into(),
            },
        ),
        (95_000, exit("sales", "unstaffed")),
        (99_000, hangup(Party::Switch)),
    ]);
    let flags = flags_fn(&let_the_offer_pass);
    assert_eq!(
        shapes(&flags, Rule::WaitUnder30s),
        [(false, 5_000, 95_000, Some(90.0), Some(30.0))]
    );
    assert_eq!(
        of(&flags, Rule::WaitUnder30s)[0].evidence,
        "queue_exit event: nobody was taking sales's calls and the switch took its exit (unstaffed): measured 90.0 s in queue against threshold 30.0 s"
    );
    // Overflowed from an empty queue to one whose maximum wait then came: that exit was the
    // maximum wait's.
    let overflowed = record(vec![
        (5_000, in_queue("sales")),
        (65_000, unstaffed("sales")),
        (65_000, exit("sales", "overflow operator")),
        (65_000, in_queue("operator")),
        (575_000, exit("operator", "voicemail")),
        (640_000, hangup(Party::Caller)),
    ]);
    let flags = flags_fn(&overflowed);
    assert_eq!(
        of(&flags, Rule::WaitUnder10min)[0].evidence,
        "queue_exit event: operator's maximum wait came and the switch took its exit (voicemail): measured 570.0 s in queue against threshold 600.0 s"
    );
}

#[test]
fn a_caller_put_back_in_the_queue_waits_a_new_spell_measured_from_the_requeue() {
    // a1 took the caller after 5 s; a1's phone was lost at 50 s and the caller went back to
    // the front of the queue, where b1 took them 45 s later.
    let r = record(vec![
        (5_000, queue_entered()),
        (10_000, agent_answered("a1", 1, 5_000)),
        (10_100, bridged("a1")),
        (
            50_000,
            EventKind::Requeued {
                queue: "sales".into(),
            },
        ),
        (95_000, agent_answered("b1", 1, 45_000)),
        (95_100, bridged("b1")),
        (120_000, hangup(Party::Caller)),
    ]);
    let flags = flags_fn(&r);
    assert_eq!(
        shapes(&flags, Rule::WaitUnder30s),
        [
            (true, 5_000, 10_000, Some(5.0), Some(30.0)),
            (false, 50_000, 95_000, Some(45.0), Some(30.0))
        ]
    );
}

#[test]
fn a_caller_who_hangs_up_in_the_queue_abandoned_after_their_wait() {
    let r = record(vec![
        (5_000, queue_entered()),
        (700_000, hangup(Party::Caller)),
    ]);
    let flags = flags(&r, None);
    assert_eq!(
        shapes(&flags, Rule::Abandoned),
        [(false, 5_000, 700_000, None, None)]
    );
    assert_eq!(
        of(&flags, Rule::Abandoned)[0].evidence,
        "hangup event: the caller hung up after 695.0 s in support before an agent answered"
    );
    assert_eq!(
        shapes(&flags, Rule::WaitUnder10min),
        [(false, 5_000, 700_000, Some(695.0), Some(600.0))]
    );
    // Hanging up while the switch still rings is abandoning too; the switch ending a call
    // in the queue (closing time) is not the caller's doing.
    let ringing = record(vec![
        (10, EventKind::Ringing),
        (3_000, hangup(Party::Caller)),
    ]);
    assert_eq!(
        of(&flags_fn(&ringing), Rule::Abandoned)
            .iter()
            .map(|f| shape(f))
            .collect::<Vec<_>>(),
        [(false, 10, 3_000, None, None)]
    );
    let by_switch = record(vec![
        (5_000, queue_entered()),
        (9_000, hangup(Party::Switch)),
    ]);
    let flags = flags_fn(&by_switch);
    let kept = of(&flags, Rule::Abandoned);
    assert_eq!(
        kept.iter().map(|f| shape(f)).collect::<Vec<_>>(),
        [(true, 5_000, 9_000, None, None)]
    );
    assert_eq!(
        kept[0].evidence,
        "hangup event: the switch ended the call in support; not abandoned by the caller"
    );
}

fn flags_fn(r: &CallRecord) -> Vec<Flag> {
    flags(r, None)
}

#[test]
fn each_hold_is_checked_for_its_explanation_and_its_check_backs() {
    let r = record(vec![
        (20_000, bridged("bob")),
        (60_000, EventKind::Hold { by: Party::Agent }),
        (
            60_000,
            EventKind::HoldReason {
                agent: "bob".into(),
                reason: "lookup".into(),
                expected_s: 120,
                by: "default".into(),
            },
        ),
        (90_000, EventKind::HoldCheckBack { number: 1 }),
        (120_000, EventKind::HoldCheckBack { number: 2 }),
        (
            140_000,
            EventKind::HoldEnded {
                reason: "lookup".into(),
                duration_ms: 80_000,
                check_backs: 2,
            },
        ),
        (200_000, EventKind::Hold { by: Party::Agent }),
        (
            250_000,
            EventKind::HoldEnded {
                reason: "".into(),
                duration_ms: 50_000,
                check_backs: 0,
            },
        ),
        (300_000, hangup(Party::Caller)),
    ]);
    let flags = flags(&r, None);
    let explained = of(&flags, Rule::HoldExplained);
    assert_eq!(
        explained.iter().map(|f| shape(f)).collect::<Vec<_>>(),
        [
            (true, 60_000, 140_000, Some(0.0), Some(2.0)),
            (false, 200_000, 250_000, None, None),
        ]
    );
    assert_eq!(
        explained[1].evidence,
        "hold 2 of 2, 50.0 s (longest 80.0 s): no hold_reason event: the caller heard music without a reason"
    );
    let check_backs = of(&flags, Rule::HoldCheckBacks);
    assert_eq!(
        check_backs.iter().map(|f| shape(f)).collect::<Vec<_>>(),
        [
            (true, 60_000, 140_000, Some(30.0), Some(31.0)),
            (false, 200_000, 250_000, Some(50.0), Some(31.0)),
        ]
    );
    assert_eq!(
        check_backs[0].evidence,
        "hold 1 of 2, 80.0 s (longest 80.0 s): 2 check-back(s) played; measured 30.0 s longest without a word against threshold 31.0 s"
    );
}

#[test]
fn a_late_explanation_fails_the_hold() {
    let r = record(vec![
        (10_000, bridged("bob")),
        (60_000, EventKind::Hold { by: Party::Agent }),
        (
            62_500,
            EventKind::HoldReason {
                agent: "bob".into(),
                reason: "system".into(),
                expected_s: 60,
                by: "keys".into(),
            },
        ),
        (
            70_000,
            EventKind::HoldEnded {
                reason: "system".into(),
                duration_ms: 10_000,
                check_backs: 0,
            },
        ),
    ]);
    let flags = flags(&r, None);
    assert_eq!(
        shapes(&flags, Rule::HoldExplained),
        [(false, 60_000, 70_000, Some(2.5), Some(2.0))]
    );
}

#[test]
fn an_explanation_a_millisecond_before_the_rounded_hold_start_still_explains_it() {
    // Hold at 60 000; HoldEnded at 70 000 says 9 999 ms (rounded down on its own), so the
    // computed start is 60 001, after the explanation.
    let r = record(vec![
        (60_000, EventKind::Hold { by: Party::Agent }),
        (
            60_000,
            EventKind::HoldReason {
                agent: "bob".into(),
                reason: "lookup".into(),
                expected_s: 60,
                by: "default".into(),
            },
        ),
        (
            70_000,
            EventKind::HoldEnded {
                reason: "lookup".into(),
                duration_ms: 9_999,
                check_backs: 0,
            },
        ),
    ]);
    let flags = flags(&r, None);
    assert_eq!(
        shapes(&flags, Rule::HoldExplained),
        [(true, 60_001, 70_000, Some(0.0), Some(2.0))]
    );
    assert_eq!(
        shapes(&flags, Rule::HoldCheckBacks),
        [(true, 60_001, 70_000, Some(10.0), Some(31.0))]
    );
}

fn transfer_requested(target: &str) -> EventKind {
    EventKind::TransferRequested {
        agent: "bob".into(),
        kind: "blind".into(),
        method: "keys".into(),
        target: target.into(),
    }
}

#[test]
fn transfers_are_checked_for_explanation_wait_context_and_recall() {
    let r = record(vec![
        (20_000, bridged("bob")),
        (300_000, transfer_requested("sales")),
        (
            300_100,
            EventKind::TransferExplained {
                target: "sales".into(),
                expected_wait_s: 60,
            },
        ),
        (
            305_000,
            EventKind::ContextHandedOver {
                agent: "carol".into(),
                items: vec!["account:42".into(), "identity_verified".into()],
            },
        ),
        (
            306_000,
            EventKind::TransferCompleted {
                agent: "carol".into(),
                kind: "blind".into(),
            },
        ),
        (
            400_000,
            EventKind::TransferRequested {
                agent: "carol".into(),
                kind: "blind".into(),
                method: "refer".into(),
                target: "2002".into(),
            },
        ),
        (
            420_000,
            EventKind::TransferFailed {
                target: "2002".into(),
                reason: "no_answer".into(),
                status: None,
            },
        ),
        (
            420_000,
            EventKind::Recall {
                to: "carol".into(),
                reason: "no_answer".into(),
            },
        ),
        (500_000, transfer_requested("2003")),
        (
            510_000,
            EventKind::TransferFailed {
                target: "2003".into(),
                reason: "busy".into(),
                status: Some(486),
            },
        ),
        (600_000, hangup(Party::Caller)),
    ]);
    let flags = flags(&r, None);
    assert_eq!(
        of(&flags, Rule::TransferExplained)
            .iter()
            .map(|f| (f.passed, f.start_ms, f.end_ms))
            .collect::<Vec<_>>(),
        [
            (true, 300_000, 306_000),
            (false, 400_000, 420_000),
            (false, 500_000, 510_000)
        ]
    );
    let wait = of(&flags, Rule::TransferWaitAnnounced);
    assert_eq!(
        wait.iter()
            .map(|f| (f.passed, f.measured))
            .collect::<Vec<_>>(),
        [(true, Some(60.0)), (false, None), (false, None)]
    );
    assert_eq!(
        wait[0].evidence,
        "blind transfer by bob to sales: expected wait of 60 s announced"
    );
    let context = of(&flags, Rule::ContextHandedOver);
    assert_eq!(
        context
            .iter()
            .map(|f| (f.passed, f.start_ms, f.end_ms))
            .collect::<Vec<_>>(),
        [(true, 300_000, 306_000)]
    );
    assert_eq!(
        context[0].evidence,
        "blind transfer by bob to sales: context_handed_over event to carol: account:42, identity_verified"
    );
    let recalled = of(&flags, Rule::TransferRecalled);
    assert_eq!(
        recalled
            .iter()
            .map(|f| (f.passed, f.start_ms, f.end_ms))
            .collect::<Vec<_>>(),
        [(true, 400_000, 420_000), (false, 500_000, 510_000)]
    );
    assert_eq!(
        recalled[1].evidence,
        "blind transfer by bob to 2003 failed (busy) and the caller was not brought back"
    );
    assert_eq!(
        of(&flags, Rule::TransferTargetWithinRings)
            .iter()
            .map(|f| (f.passed, f.start_ms, f.end_ms))
            .collect::<Vec<_>>(),
        [(false, 400_000, 420_000)]
    );
}

#[test]
fn a_completed_transfer_without_a_context_hand_over_fails_it() {
    let r = record(vec![
        (20_000, bridged("bob")),
        (30_000, transfer_requested("sales")),
        (
            30_000,
            EventKind::TransferExplained {
                target: "sales".into(),
                expected_wait_s: 0,
            },
        ),
        (
            40_000,
            EventKind::TransferCompleted {
                agent: "carol".into(),
                kind: "blind".into(),
            },
        ),
        // A hand-over after the caller already talks to carol is too late.
        (
            41_000,
            EventKind::ContextHandedOver {
                agent: "carol".into(),
                items: vec![],
            },
        ),
    ]);
    let flags = flags(&r, None);
    assert_eq!(
        of(&flags, Rule::ContextHandedOver)
            .iter()
            .map(|f| (f.passed, f.start_ms, f.end_ms))
            .collect::<Vec<_>>(),
        [(false, 30_000, 40_000)]
    );
}

fn recording(offset_ms: u64, duration_ms: u64, lost_ms: u64) -> RecordingInfo {
    RecordingInfo {
        call_id: "c1".into(),
        file: "recordings/1970/01/01/c1.wav".into(),
        state: RecordingState::Complete,
        started_at: jiff::Timestamp::UNIX_EPOCH,
        offset_ms,
        duration_ms: Some(duration_ms),
        sha256: None,
        lost_ms,
        channels: CHANNEL_MAP,
    }
}

#[test]
fn a_recording_with_a_lost_span_is_flagged_with_its_length() {
    let mut r = record(vec![(1_000, EventKind::Answered { rings: 0 })]);
    r.recording = Some(recording(1_000, 60_000, 1_500));
    let lost = of(&flags(&r, None), Rule::RecordingLost)
        .iter()
        .map(|f| shape(f))
        .collect::<Vec<_>>();
    assert_eq!(lost, [(false, 1_000, 61_000, Some(1.5), Some(0.0))]);
    r.recording = Some(recording(1_000, 60_000, 0));
    let kept = of(&flags(&r, None), Rule::RecordingLost)
        .iter()
        .map(|f| shape(f))
        .collect::<Vec<_>>();
    assert_eq!(kept, [(true, 1_000, 61_000, Some(0.0), Some(0.0))]);
}

// Audio rules on speech segments (timeline ms), exact.

#[test]
fn silence_longer_than_five_seconds_while_connected_is_flagged_where_it_was() {
    let settings = QaSettings::default();
    let spans = [(20_000, 60_000)];
    let heard = [(21_000, 27_000), (40_000, 45_000)];
    let said = [(28_000, 33_000), (45_500, 59_000)];
    let mut out = Vec::new();
    silence_flags(&spans, &said, &heard, &settings, &mut out);
    // 33.0–40.0: 7 s with neither side speaking; the others are at most 1 s.
    assert_eq!(
        out.iter().map(shape).collect::<Vec<_>>(),
        [(false, 33_000, 40_000, Some(7.0), Some(5.0))]
    );
    assert_eq!(
        out[0].evidence,
        "measured 7.0 s with neither side speaking against threshold 5.0 s"
    );
    // Exactly 5 s is within the standard.
    let said = [(28_000, 35_000), (45_500, 59_000)];
    let mut out = Vec::new();
    silence_flags(&spans, &said, &heard, &settings, &mut out);
    assert_eq!(
        out.iter().map(shape).collect::<Vec<_>>(),
        [(true, 20_000, 60_000, Some(5.0), Some(5.0))]
    );
}

#[test]
fn talk_over_longer_than_two_seconds_is_flagged_and_shorter_is_not() {
    let settings = QaSettings::default();
    let spans = [(20_000, 60_000)];
    let heard = [(21_000, 27_000), (40_000, 45_000)];
    // 26.0–27.0: 1 s overlap (fine); 42.0–45.0: 3 s (flagged).
    let said = [(26_000, 30_000), (42_000, 50_000)];
    let mut out = Vec::new();
    talk_over_flags(&spans, &said, &heard, &settings, &mut out);
    assert_eq!(
        out.iter().map(shape).collect::<Vec<_>>(),
        [(false, 42_000, 45_000, Some(3.0), Some(2.0))]
    );
    let said = [(26_000, 30_000)];
    let mut out = Vec::new();
    talk_over_flags(&spans, &said, &heard, &settings, &mut out);
    assert_eq!(
        out.iter().map(shape).collect::<Vec<_>>(),
        [(true, 20_000, 60_000, Some(1.0), Some(2.0))]
    );
    // Overlap outside the connected spans (a prompt over the caller) is not talk-over.
    let mut out = Vec::new();
    talk_over_flags(
        &[(50_000, 60_000)],
        &[(42_000, 50_000)],
        &heard,
        &settings,
        &mut out,
    );
    assert_eq!(
        out.iter().map(shape).collect::<Vec<_>>(),
        [(true, 50_000, 60_000, Some(0.0), Some(2.0))]
    );
}

fn greeting(heard: &[(u64, u64)], said: &[(u64, u64)]) -> Vec<Shape> {
    let events = vec![TimelineEvent {
        offset_ms: 20_000,
        kind: bridged("bob"),
    }];
    let mut out = Vec::new();
    greeting_flags(
        &events,
        said,
        heard,
        0,
        120_000,
        &QaSettings::default(),
        &mut out,
    );
    out.iter().map(shape).collect()
}

#[test]
fn the_greeting_is_the_agents_first_turn_after_connect_measured_to_its_end() {
    // Starts 0.5 s after connect, pauses 1 s, ends 9.5 s after connect: within 10 s.
    assert_eq!(
        greeting(&[(20_500, 25_000), (26_000, 29_500)], &[]),
        [(true, 20_000, 29_500, Some(9.5), Some(10.0))]
    );
    // A second sentence 1 s later (no reply in between) is still the greeting: 12 s.
    assert_eq!(
        greeting(&[(20_500, 25_000), (26_000, 29_500), (30_500, 32_000)], &[]),
        [(false, 20_000, 32_000, Some(12.0), Some(10.0))]
    );
    // A pause over 1.5 s ends the greeting.
    assert_eq!(
        greeting(&[(20_500, 25_000), (26_000, 29_500), (31_100, 40_000)], &[]),
        [(true, 20_000, 29_500, Some(9.5), Some(10.0))]
    );
    // The caller answering ends it too.
    assert_eq!(
        greeting(&[(20_500, 25_000), (26_000, 29_500)], &[(25_200, 25_800)]),
        [(true, 20_000, 25_000, Some(5.0), Some(10.0))]
    );
    // Music cut by the bridge counts from the connect, not before it.
    assert_eq!(
        greeting(&[(15_000, 20_000), (20_300, 24_000)], &[]),
        [(true, 20_000, 24_000, Some(4.0), Some(10.0))]
    );
    // A prompt still playing at the connect is not the agent's greeting, whether the
    // detector's segment reaches back before it or was cut to start there.
    assert_eq!(
        greeting(&[(15_000, 20_100), (20_300, 24_000)], &[]),
        [(true, 20_000, 24_000, Some(4.0), Some(10.0))]
    );
    assert_eq!(
        greeting(&[(20_000, 20_100), (20_300, 24_000)], &[]),
        [(true, 20_000, 24_000, Some(4.0), Some(10.0))]
    );
}

#[test]
fn an_agent_who_says_nothing_fails_the_greeting_even_when_a_prompt_ends_after_the_connect() {
    // An audit's call: the caller heard the tail of a prompt for 0.1 s after the connect,
    // then the agent's phone sent only a tone; the greeting "passed" in 0.1 s.
    assert_eq!(
        greeting(&[(18_500, 20_100)], &[]),
        [(false, 20_000, 120_000, Some(100.0), Some(10.0))]
    );
    assert_eq!(
        greeting(&[(20_000, 20_100)], &[]),
        [(false, 20_000, 120_000, Some(100.0), Some(10.0))]
    );
}

#[test]
fn a_greeting_that_starts_late_fails_even_when_short() {
    // First words 3.5 s after connect (over the 3 s setting), done by 6 s.
    assert_eq!(
        greeting(&[(23_500, 26_000)], &[]),
        [(false, 20_000, 26_000, Some(6.0), Some(10.0))]
    );
    // Nothing said at all: failed over the rest of the recording.
    assert_eq!(
        greeting(&[], &[]),
        [(false, 20_000, 120_000, Some(100.0), Some(10.0))]
    );
}

#[test]
fn connected_spans_leave_out_holds_and_transfers() {
    let events: Vec<TimelineEvent> = [
        (20_000, bridged("bob")),
        (60_000, EventKind::Hold { by: Party::Agent }),
        (
            90_000,
            EventKind::HoldEnded {
                reason: "x".into(),
                duration_ms: 30_000,
                check_backs: 1,
            },
        ),
        (100_000, transfer_requested("sales")),
        (
            120_000,
            EventKind::TransferCompleted {
                agent: "carol".into(),
                kind: "blind".into(),
            },
        ),
        (120_100, bridged("carol")),
        (150_000, hangup(Party::Caller)),
    ]
    .into_iter()
    .map(|(offset_ms, kind)| TimelineEvent { offset_ms, kind })
    .collect();
    assert_eq!(
        connected_spans(&events),
        [(20_000, 60_000), (90_000, 100_000), (120_000, 150_000)]
    );
}

// End to end on real speech: the shipped welcome prompt as the agent.

fn welcome() -> Vec<i16> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/en/welcome.wav");
    hound::WavReader::open(path)
        .unwrap()
        .into_samples::<i16>()
        .map(Result::unwrap)
        .collect()
}

/// A recording starting at `offset_ms` on the timeline, `ms` long, with `speech` copied
/// into the right channel at timeline time `at`.
fn stereo(offset_ms: u64, ms: u64, right: &[(u64, &[i16])], left: &[(u64, &[i16])]) -> StereoAudio {
    let n = (ms * 8) as usize;
    let mut audio = StereoAudio {
        left: vec![0; n],
        right: vec![0; n],
        sample_rate: 8_000,
        offset_ms,
    };
    for (channel, parts) in [(&mut audio.right, right), (&mut audio.left, left)] {
        for (at, samples) in parts {
            let start = ((at - offset_ms) * 8) as usize;
            channel[start..start + samples.len()].copy_from_slice(samples);
        }
    }
    audio
}

#[test]
fn greeting_and_silence_are_measured_on_the_recording_itself() {
    let speech = welcome();
    let mut r = record(vec![
        (1_000, EventKind::Answered { rings: 0 }),
        (20_000, bridged("bob")),
        (60_000, hangup(Party::Caller)),
    ]);
    r.recording = Some(recording(1_000, 59_000, 0));
    // The agent says the 6.3 s welcome 1 s after connect; the caller says it back at 36 s.
    let audio = stereo(1_000, 59_000, &[(21_000, &speech)], &[(36_000, &speech)]);
    let flags = flags(&r, Some(&audio));
    // The prompt's speech runs 32 ms to 6 016 ms into it (see the VAD tests): 21.032–27.016.
    assert_eq!(
        shapes(&flags, Rule::GreetingWithin10s),
        [(true, 20_000, 27_016, Some(7.016), Some(10.0))]
    );
    // The caller's copy starts 35 s into the recording, half a 16 ms frame off the
    // detector's grid: its speech is 36.024–42.024. Silent from 27.016 to 36.024 (9.008 s)
    // and from 42.024 to the hang-up at 60 s (17.976 s).
    assert_eq!(
        shapes(&flags, Rule::Silence),
        [
            (false, 27_016, 36_024, Some(9.008), Some(5.0)),
            (false, 42_024, 60_000, Some(17.976), Some(5.0)),
        ]
    );
    assert_eq!(
        shapes(&flags, Rule::TalkOver),
        [(true, 20_000, 60_000, Some(0.0), Some(2.0))]
    );
    // Both at once from 22 s (21 s into the recording, half a frame off the grid):
    // 22.024–27.016 is 4.992 s of talk-over.
    let audio = stereo(1_000, 59_000, &[(21_000, &speech)], &[(22_000, &speech)]);
    assert_eq!(
        of(
            &flags_with(&r, Some(&audio), &QaSettings::default()),
            Rule::TalkOver
        )
        .iter()
        .map(|f| shape(f))
        .collect::<Vec<_>>(),
        [(false, 22_024, 27_016, Some(4.992), Some(2.0))]
    );
    // Without audio the audio rules are absent, not passed.
    let without = super::flags(&r, None);
    assert!(of(&without, Rule::GreetingWithin10s).is_empty());
    assert!(of(&without, Rule::Silence).is_empty());
}

#[test]
fn speech_the_caller_hears_while_held_is_not_the_agents_greeting() {
    let speech = welcome();
    let mut r = record(vec![
        (1_000, EventKind::Answered { rings: 0 }),
        (20_000, bridged("bob")),
        (40_000, EventKind::Hold { by: Party::Agent }),
        (
            70_000,
            EventKind::HoldEnded {
                reason: "lookup".into(),
                duration_ms: 30_000,
                check_backs: 0,
            },
        ),
        (90_000, hangup(Party::Caller)),
    ]);
    r.recording = Some(recording(1_000, 89_000, 0));
    // The agent says nothing; the hold explanation (speech) plays at 45 s, and the menu's
    // speech before the connect: neither is listened to for the greeting.
    let audio = stereo(1_000, 89_000, &[(5_000, &speech), (45_000, &speech)], &[]);
    let flags = flags(&r, Some(&audio));
    assert_eq!(
        shapes(&flags, Rule::GreetingWithin10s),
        [(false, 20_000, 90_000, Some(70.0), Some(10.0))]
    );
    // Connected 20–40 s and 70–90 s: silent throughout, the held span is not silence.
    assert_eq!(
        shapes(&flags, Rule::Silence),
        [
            (false, 20_000, 40_000, Some(20.0), Some(5.0)),
            (false, 70_000, 90_000, Some(20.0), Some(5.0)),
        ]
    );
}

#[test]
fn a_greeting_after_a_window_that_starts_off_the_detectors_grid_is_measured_alike() {
    // The same call as above but connected at 20.01 s: the speech is found on the
    // recording's 16 ms grid, exactly as a pass over the whole channel finds it.
    let speech = welcome();
    let mut r = record(vec![
        (1_000, EventKind::Answered { rings: 0 }),
        (20_010, bridged("bob")),
        (60_000, hangup(Party::Caller)),
    ]);
    r.recording = Some(recording(1_000, 59_000, 0));
    let audio = stereo(1_000, 59_000, &[(21_000, &speech)], &[]);
    let whole: Vec<(u64, u64)> = vad::speech_segments(&audio.right, 8_000)
        .into_iter()
        .map(|s| (s.start_ms + 1_000, s.end_ms + 1_000))
        .collect();
    assert_eq!(whole, [(21_032, 27_016)]);
    let flags = flags(&r, Some(&audio));
    assert_eq!(
        shapes(&flags, Rule::GreetingWithin10s),
        [(true, 20_010, 27_016, Some(7.006), Some(10.0))]
    );
}

#[test]
fn only_calls_that_reached_an_agent_are_listened_to() {
    let menu_only = record(vec![
        (1_000, EventKind::Answered { rings: 0 }),
        (2_000, queue_entered()),
        (30_000, hangup(Party::Caller)),
    ]);
    assert!(!listens_to_audio(&menu_only.events));
    let bridged_call = record(vec![
        (20_000, bridged("bob")),
        (60_000, hangup(Party::Caller)),
    ]);
    assert!(listens_to_audio(&bridged_call.events));
    let transferred = record(vec![(
        20_000,
        EventKind::TransferCompleted {
            agent: "carol".into(),
            kind: "blind".into(),
        },
    )]);
    assert!(listens_to_audio(&transferred.events));
}

fn hold_ended(duration_ms: u64) -> EventKind {
    EventKind::HoldEnded {
        reason: "lookup".into(),
        duration_ms,
        check_backs: 0,
    }
}

#[test]
fn an_announcement_heard_while_held_just_after_the_connect_is_not_the_agents_greeting() {
    // Connected at 20 s and held half a second later; the hold's announcement (speech) plays
    // from 29 s, 9 s after the connect. It is the switch's voice, not the agent's: the agent
    // said nothing (an audit found such an announcement passing as the greeting).
    let speech = welcome();
    let mut r = record(vec![
        (1_000, EventKind::Answered { rings: 0 }),
        (20_000, bridged("bob")),
        (20_500, EventKind::Hold { by: Party::Agent }),
        (60_000, hold_ended(39_500)),
        (90_000, hangup(Party::Caller)),
    ]);
    r.recording = Some(recording(1_000, 89_000, 0));
    let audio = stereo(1_000, 89_000, &[(29_000, &speech)], &[]);
    let flags = flags(&r, Some(&audio));
    assert_eq!(
        shapes(&flags, Rule::GreetingWithin10s),
        [(false, 20_000, 90_000, Some(70.0), Some(10.0))]
    );
    assert_eq!(
        of(&flags, Rule::GreetingWithin10s)[0].evidence,
        "no speech from bob on the caller's side after connect at 20.0 s"
    );
    // The connected spans themselves are measured as before: silent after the hold.
    assert_eq!(
        shapes(&flags, Rule::Silence),
        [(false, 60_000, 90_000, Some(30.0), Some(5.0))]
    );
    // Once taken back, the agent's first words are the greeting, however late.
    let audio = stereo(1_000, 89_000, &[(29_000, &speech), (61_000, &speech)], &[]);
    let later = super::flags(&r, Some(&audio));
    let greeting = of(&later, Rule::GreetingWithin10s)[0];
    assert!(!greeting.passed);
    assert!(
        greeting.start_ms == 20_000 && (67_000..68_000).contains(&greeting.end_ms),
        "{greeting:?}"
    );
}

#[test]
fn speech_that_ends_exactly_as_a_hold_ends_is_not_heard_after_it() {
    // The hold's announcement runs to the very moment the agent takes the caller back at
    // 50.008 s (on the detector's 16 ms grid from the recording's start): a whole pass finds
    // it at 44.024–50.008. Nothing of it is inside a listening window, so the agent said
    // nothing at all.
    let speech = welcome();
    let mut r = record(vec![
        (1_000, EventKind::Answered { rings: 0 }),
        (20_000, bridged("bob")),
        (20_500, EventKind::Hold { by: Party::Agent }),
        (50_008, hold_ended(29_508)),
        (90_000, hangup(Party::Caller)),
    ]);
    r.recording = Some(recording(1_000, 89_000, 0));
    let audio = stereo(1_000, 89_000, &[(43_992, &speech)], &[]);
    let whole: Vec<(u64, u64)> = vad::speech_segments(&audio.right, 8_000)
        .into_iter()
        .map(|s| (s.start_ms + 1_000, s.end_ms + 1_000))
        .collect();
    assert_eq!(whole, [(44_024, 50_008)]);
    let flags = flags(&r, Some(&audio));
    assert_eq!(
        shapes(&flags, Rule::GreetingWithin10s),
        [(false, 20_000, 90_000, Some(70.0), Some(10.0))]
    );
    assert_eq!(
        of(&flags, Rule::GreetingWithin10s)[0].evidence,
        "no speech from bob on the caller's side after connect at 20.0 s"
    );
}

#[test]
fn a_span_after_a_hold_is_listened_to_from_the_grid_point_a_second_before_it() {
    // The agent greets at 2.5 s, holds from 10 s to 17.565 s (17.565 is 16.565 s into the
    // recording, off the detector's 16 ms grid) while an announcement plays, speaks again
    // from 17.765 s and the caller hangs up at 30 s.
    let speech = welcome();
    let mut r = record(vec![
        (1_000, EventKind::Answered { rings: 0 }),
        (2_000, bridged("bob")),
        (10_000, EventKind::Hold { by: Party::Agent }),
        (17_565, hold_ended(7_565)),
        (30_000, hangup(Party::Caller)),
    ]);
    r.recording = Some(recording(1_000, 29_000, 0));
    let audio = stereo(
        1_000,
        29_000,
        &[(2_500, &speech), (10_200, &speech), (17_765, &speech)],
        &[],
    );
    // The detector starts a second before the span, on the grid: at 16.552 s. What it
    // finds from there is what the flags measure; a pass from the recording's start scores
    // the same frames after a different history (and ends these words at 23.768 s).
    let from_ms = 1_000 + (17_565 - 1_000 - 1_000) / vad::FRAME_MS * vad::FRAME_MS;
    assert_eq!(from_ms, 16_552);
    let warmed: Vec<(u64, u64)> =
        vad::speech_segments(&audio.right[((from_ms - 1_000) * 8) as usize..], 8_000)
            .into_iter()
            .map(|s| (s.start_ms + from_ms, s.end_ms + from_ms))
            .filter(|&(_, e)| e > 17_565)
            .collect();
    assert_eq!(warmed, [(17_784, 23_784)]);
    let flags = flags(&r, Some(&audio));
    // Silent from the agent's last words to the hang-up: 6.216 s.
    assert_eq!(
        shapes(&flags, Rule::Silence),
        [(false, 23_784, 30_000, Some(6.216), Some(5.0))]
    );
}

fn prompt(offset_ms: u64, started: bool) -> (u64, EventKind) {
    let kind = if started {
        EventKind::PromptStarted {
            name: "hold_return".into(),
            language: "en".into(),
        }
    } else {
        EventKind::PromptFinished {
            name: "hold_return".into(),
            interrupted: false,
        }
    };
    (offset_ms, kind)
}

fn greeting_over(events: Vec<(u64, EventKind)>, heard: &[(u64, u64)]) -> Vec<Shape> {
    let events: Vec<TimelineEvent> = events
        .into_iter()
        .map(|(offset_ms, kind)| TimelineEvent { offset_ms, kind })
        .collect();
    let mut out = Vec::new();
    greeting_flags(
        &events,
        &[],
        heard,
        0,
        120_000,
        &QaSettings::default(),
        &mut out,
    );
    out.iter().map(shape).collect()
}

#[test]
fn a_prompt_the_switch_plays_the_caller_after_a_hold_is_not_the_agents_greeting() {
    // An audit's call: held at once, taken back at 30 s, when the switch said "thank you
    // for holding" for 1.5 s; the agent's phone only ever sent a tone.
    let held_at_once = || {
        vec![
            (20_000, bridged("bob")),
            (20_500, EventKind::Hold { by: Party::Agent }),
            (30_000, hold_ended(9_500)),
            prompt(30_000, true),
            prompt(31_500, false),
        ]
    };
    assert_eq!(
        greeting_over(held_at_once(), &[(30_016, 31_500)]),
        [(false, 20_000, 120_000, Some(100.0), Some(10.0))]
    );
    // Words that start the moment the prompt finishes are the agent's.
    assert_eq!(
        greeting_over(held_at_once(), &[(31_500, 33_000)]),
        [(false, 20_000, 33_000, Some(13.0), Some(10.0))]
    );
    // The agent's own first words after the prompt are the greeting (late).
    assert_eq!(
        greeting_over(held_at_once(), &[(30_016, 31_500), (32_000, 34_000)]),
        [(false, 20_000, 34_000, Some(14.0), Some(10.0))]
    );
    // A prompt the bridge cut without a "finished" (ringback's "connecting") ends there.
    assert_eq!(
        greeting_over(
            vec![prompt(15_000, true), (20_000, bridged("bob"))],
            &[(20_500, 23_000)]
        ),
        [(true, 20_000, 23_000, Some(3.0), Some(10.0))]
    );
    // A hold's end stops whatever the hold played, announced or not.
    assert_eq!(
        greeting_over(
            vec![
                (20_000, bridged("bob")),
                (20_500, EventKind::Hold { by: Party::Agent }),
                prompt(21_000, true),
                (30_000, hold_ended(9_500)),
            ],
            &[(31_000, 33_000)]
        ),
        [(false, 20_000, 33_000, Some(13.0), Some(10.0))]
    );
    // One still playing at the end of the timeline covers the rest of it.
    assert_eq!(
        greeting_over(
            vec![(20_000, bridged("bob")), prompt(21_000, true)],
            &[(21_500, 23_000)]
        ),
        [(false, 20_000, 120_000, Some(100.0), Some(10.0))]
    );
}
