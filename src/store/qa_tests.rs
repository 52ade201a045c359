use super::*;
use crate::qa::scorecard::{ItemScore, Score, ITEMS};
use crate::qa::{Flag, FlagOverride, Rule};
use crate::store::{NewCall, Store};
use crate::switch::timeline::{EventKind, Party, TimelineEvent};

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// A finished call answered by `agent` from `queue`, started at `started_at`.
fn call(store: &Store, id: &str, from: &str, started_at: &str, agent: &str, queue: &str) {
    store
        .begin_call(&NewCall {
            id: id.into(),
            sip_call_id: format!("sip-{id}"),
            from: from.into(),
            to: "sip:4008@switch".into(),
            hotline: Some("service".into()),
            started_at: ts(started_at),
        })
        .unwrap();
    let events = [
        (1_000, EventKind::Answered { rings: 1 }),
        (
            2_000,
            EventKind::QueueEntered {
                queue: queue.into(),
                position: 1,
                expected_wait_s: Some(10),
                priority: 0,
            },
        ),
        (
            5_000,
            EventKind::AgentAnswered {
                agent: agent.into(),
                rings: 1,
                wait_ms: 3_000,
            },
        ),
        (
            60_000,
            EventKind::Hangup {
                by: Party::Caller,
                reason: "bye".into(),
            },
        ),
    ];
    for (offset_ms, kind) in events {
        store
            .append_event(id, &TimelineEvent { offset_ms, kind })
            .unwrap();
    }
    store
        .finish_call(
            id,
            ts(started_at) + jiff::SignedDuration::from_secs(60),
            "completed",
        )
        .unwrap();
}

fn flag(rule: Rule, passed: bool) -> Flag {
    Flag {
        rule,
        passed,
        start_ms: 1_000,
        end_ms: 2_000,
        evidence: String::new(),
        measured: None,
        threshold: None,
        overridden: None,
        sentence: None,
    }
}

fn score(call_id: &str, reviewer: &str, at: &str, points_off: u32, critical_zero: bool) -> Score {
    let mut items: Vec<ItemScore> = ITEMS
        .iter()
        .map(|item| ItemScore {
            id: item.id.into(),
            points: item.points,
            comment: String::new(),
        })
        .collect();
    items[5].points -= points_off;
    if critical_zero {
        items
            .iter_mut()
            .find(|i| i.id == "identity_verified")
            .unwrap()
            .points = 0;
    }
    Score::new(call_id, reviewer, ts(at), items).unwrap()
}

fn ids(rows: &[ReviewRow]) -> Vec<&str> {
    rows.iter().map(|r| r.summary.id.as_str()).collect()
}

fn three_calls(store: &Store) {
    call(
        store,
        "a",
        "sip:13800000001@trunk",
        "2026-11-30T09:00:00Z",
        "alice",
        "support",
    );
    call(
        store,
        "b",
        "sip:13900000002@trunk",
        "2026-11-30T10:00:00Z",
        "bob",
        "sales",
    );
    call(
        store,
        "c",
        "sip:13800000003@trunk",
        "2026-12-01T09:00:00Z",
        "alice",
        "sales",
    );
}

#[test]
fn the_review_list_filters_by_date_agent_queue_caller_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    three_calls(&store);
    let list = |filter: CallFilter| store.list_calls_filtered(&filter).unwrap();
    assert_eq!(ids(&list(CallFilter::default())), ["c", "b", "a"]);
    let yesterday = CallFilter {
        from: Some(ts("2026-11-30T00:00:00Z")),
        to: Some(ts("2026-12-01T00:00:00Z")),
        ..CallFilter::default()
    };
    assert_eq!(ids(&list(yesterday.clone())), ["b", "a"]);
    let alice_yesterday = CallFilter {
        agent: Some("alice".into()),
        ..yesterday.clone()
    };
    assert_eq!(ids(&list(alice_yesterday.clone())), ["a"]);
    assert_eq!(store.count_calls_filtered(&alice_yesterday).unwrap(), 1);
    assert_eq!(
        ids(&list(CallFilter {
            queue: Some("sales".into()),
            ..CallFilter::default()
        })),
        ["c", "b"]
    );
    assert_eq!(
        ids(&list(CallFilter {
            caller: Some("138".into()),
            ..CallFilter::default()
        })),
        ["c", "a"]
    );
    // The caller filter is a literal substring: LIKE wildcards match nothing.
    assert_eq!(
        ids(&list(CallFilter {
            caller: Some("%".into()),
            ..CallFilter::default()
        })),
        Vec::<&str>::new()
    );
    let page = CallFilter {
        offset: 1,
        limit: 1,
        ..CallFilter::default()
    };
    assert_eq!(ids(&list(page.clone())), ["b"]);
    assert_eq!(store.count_calls_filtered(&page).unwrap(), 3);
    let row = &list(CallFilter::default())[0];
    assert_eq!(
        (row.has_recording, row.failed_flags, row.score),
        (false, None, None)
    );
}

#[test]
fn the_pickers_offer_the_values_of_the_calls_in_the_range_or_of_one_agents_calls() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    three_calls(&store);
    let choices = |from: Option<&str>, to: Option<&str>, agent: Option<&str>| {
        store
            .filter_choices(from.map(ts), to.map(ts), agent)
            .unwrap()
    };
    let all = choices(None, None, None);
    assert_eq!(all.hotlines, ["service"]);
    assert_eq!(all.queues, ["sales", "support"]);
    assert_eq!(all.agents, ["alice", "bob"]);
    // 30 November: a (alice, support) and b (bob, sales); c is on 1 December.
    let nov_30 = (Some("2026-11-30T00:00:00Z"), Some("2026-12-01T00:00:00Z"));
    let day = choices(nov_30.0, nov_30.1, None);
    assert_eq!(day.queues, ["sales", "support"]);
    assert_eq!(day.agents, ["alice", "bob"]);
    // The end is not included; the start is.
    let dec_1 = choices(Some("2026-12-01T09:00:00Z"), None, None);
    assert_eq!(
        (dec_1.queues, dec_1.agents),
        (vec!["sales".to_string()], vec!["alice".to_string()])
    );
    let before_c = choices(None, Some("2026-12-01T09:00:00Z"), None);
    assert_eq!(before_c.queues, ["sales", "support"]);
    let before_a = choices(None, Some("2026-11-30T09:00:00Z"), None);
    assert_eq!(before_a, FilterChoices::default());
    // One agent's calls: alice answered support on the 30th and sales on the 1st.
    let alice = choices(None, None, Some("alice"));
    assert_eq!(alice.queues, ["sales", "support"]);
    assert_eq!(alice.agents, ["alice"]);
    let alice_nov_30 = choices(nov_30.0, nov_30.1, Some("alice"));
    assert_eq!(alice_nov_30.queues, ["support"]);
    assert_eq!(choices(None, None, Some("carol")), FilterChoices::default());
}

#[test]
fn a_picker_offers_at_most_max_choices_values_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for n in 0..MAX_CHOICES + 5 {
        call(
            &store,
            &format!("c{n}"),
            "sip:1@trunk",
            "2026-11-30T09:00:00Z",
            &format!("agent{n:04}"),
            "q",
        );
    }
    let agents = store.filter_choices(None, None, None).unwrap().agents;
    assert_eq!(agents.len(), MAX_CHOICES);
    assert_eq!(agents[0], "agent0000");
    assert_eq!(
        agents[MAX_CHOICES - 1],
        format!("agent{:04}", MAX_CHOICES - 1)
    );
}

#[test]
fn flagged_filters_read_the_failed_flags_cache_and_an_override_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    three_calls(&store);
    assert_eq!(store.calls_without_flag_cache(10).unwrap(), ["c", "b", "a"]);
    assert_eq!(store.calls_without_flag_cache(2).unwrap(), ["c", "b"]);
    let now = ts("2026-12-01T12:00:00Z");
    store
        .cache_failed_flags(
            "a",
            &[
                flag(Rule::Silence, false),
                flag(Rule::Silence, false),
                flag(Rule::TalkOver, true),
            ],
            None,
            now,
        )
        .unwrap();
    store
        .cache_failed_flags("b", &[flag(Rule::TalkOver, true)], None, now)
        .unwrap();
    assert_eq!(store.calls_without_flag_cache(10).unwrap(), ["c"]);
    let flagged = |filter: FlagFilter| {
        store
            .list_calls_filtered(&CallFilter {
                flagged: Some(filter),
                ..CallFilter::default()
            })
            .unwrap()
    };
    let silence = flagged(FlagFilter::Failed(Rule::Silence));
    assert_eq!(ids(&silence), ["a"]);
    assert_eq!(silence[0].failed_flags, Some(2));
    assert_eq!(
        ids(&flagged(FlagFilter::Failed(Rule::TalkOver))),
        Vec::<&str>::new()
    );
    assert_eq!(ids(&flagged(FlagFilter::AnyFailed)), ["a"]);

    let decision = FlagOverride {
        by: "rita".into(),
        at: now,
        passed: true,
        comment: "the caller was reading a number".into(),
    };
    store
        .save_flag_override("a", Rule::Silence, 1_000, &decision)
        .unwrap();
    assert_eq!(
        store.flag_overrides("a").unwrap(),
        [(Rule::Silence, 1_000, decision.clone())]
    );
    // The cached result no longer holds: the call is recomputed before the next listing.
    assert_eq!(store.calls_without_flag_cache(10).unwrap(), ["c", "a"]);
    assert_eq!(ids(&flagged(FlagFilter::AnyFailed)), Vec::<&str>::new());
    // Saving again replaces the decision.
    let reversed = FlagOverride {
        passed: false,
        ..decision
    };
    store
        .save_flag_override("a", Rule::Silence, 1_000, &reversed)
        .unwrap();
    assert_eq!(
        store.flag_overrides("a").unwrap(),
        [(Rule::Silence, 1_000, reversed)]
    );
    assert!(matches!(
        store.save_flag_override(
            "nope",
            Rule::Silence,
            0,
            &FlagOverride {
                by: "x".into(),
                at: now,
                passed: true,
                comment: String::new()
            }
        ),
        Err(StoreError::UnknownCall { .. })
    ));
}

#[test]
fn one_score_per_call_and_reviewer_and_the_list_filters_on_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    three_calls(&store);
    store
        .save_score(&score("a", "rita", "2026-12-01T10:00:00Z", 0, false))
        .unwrap();
    store
        .save_score(&score("a", "rita", "2026-12-01T11:00:00Z", 4, false))
        .unwrap();
    store
        .save_score(&score("b", "sam", "2026-12-01T10:00:00Z", 0, true))
        .unwrap();
    let saved = store.scores("a").unwrap();
    assert_eq!(
        saved.len(),
        1,
        "the same reviewer's second save replaced the first"
    );
    assert_eq!((saved[0].total, saved[0].critical_failed), (96, false));
    assert_eq!(saved[0].at, ts("2026-12-01T11:00:00Z"));
    assert_eq!(saved[0].items[5].points, 6);
    let b = store.scores("b").unwrap();
    assert_eq!((b[0].total, b[0].critical_failed), (0, true));
    let list = |min: Option<u32>, max: Option<u32>| {
        ids(&store
            .list_calls_filtered(&CallFilter {
                min_score: min,
                max_score: max,
                ..CallFilter::default()
            })
            .unwrap())
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    assert_eq!(list(Some(90), None), ["a"]);
    assert_eq!(list(None, Some(50)), ["b"]);
    assert_eq!(list(Some(0), Some(100)), ["b", "a"]);
    // Another reviewer's later scorecard is the one the list shows.
    store
        .save_score(&score("a", "tom", "2026-12-01T12:00:00Z", 10, false))
        .unwrap();
    assert_eq!(store.scores("a").unwrap().len(), 2);
    let rows = store.list_calls_filtered(&CallFilter::default()).unwrap();
    assert_eq!(
        rows.iter().find(|r| r.summary.id == "a").unwrap().score,
        Some(90)
    );
}

#[test]
fn score_totals_are_per_agent_and_iso_week_of_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    three_calls(&store);
    // 2026-11-30 is a Monday (ISO week 49), as is 2026-12-01.
    call(
        &store,
        "d",
        "sip:1@t",
        "2026-11-29T23:00:00Z",
        "alice",
        "support",
    ); // week 48
    store
        .save_score(&score("a", "rita", "2026-12-01T10:00:00Z", 0, false))
        .unwrap();
    store
        .save_score(&score("a", "sam", "2026-12-01T10:00:00Z", 10, false))
        .unwrap();
    store
        .save_score(&score("c", "rita", "2026-12-02T10:00:00Z", 0, true))
        .unwrap();
    store
        .save_score(&score("b", "rita", "2026-12-01T10:00:00Z", 4, false))
        .unwrap();
    store
        .save_score(&score("d", "rita", "2026-12-01T10:00:00Z", 2, false))
        .unwrap();
    let totals = store
        .score_totals_by_agent_and_week(ts("2026-11-01T00:00:00Z"), ts("2026-12-31T00:00:00Z"))
        .unwrap();
    let shown: Vec<(&str, &str, u32, u32, f64, u32)> = totals
        .iter()
        .map(|t| {
            (
                t.agent.as_str(),
                t.week.as_str(),
                t.scores,
                t.calls,
                t.average,
                t.critical_failed,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("alice", "2026-W48", 1, 1, 98.0, 0),
            ("alice", "2026-W49", 3, 2, (100.0 + 90.0 + 0.0) / 3.0, 1),
            ("bob", "2026-W49", 1, 1, 96.0, 0),
        ]
    );
    // The range is on the call's start.
    let narrow = store
        .score_totals_by_agent_and_week(ts("2026-11-30T00:00:00Z"), ts("2026-11-30T23:59:59Z"))
        .unwrap();
    assert_eq!(
        narrow
            .iter()
            .map(|t| (t.agent.as_str(), t.scores))
            .collect::<Vec<_>>(),
        [("alice", 2), ("bob", 1)]
    );
}

#[test]
fn ended_calls_that_reached_an_agent_are_walked_by_end_time_then_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    three_calls(&store);
    // A fourth ending at the same instant as b, and a menu-only call (no agent).
    call(
        &store,
        "b2",
        "sip:1@trunk",
        "2026-11-30T10:00:00Z",
        "carol",
        "sales",
    );
    store
        .begin_call(&NewCall {
            id: "m".into(),
            sip_call_id: "sip-m".into(),
            from: "sip:2@trunk".into(),
            to: "sip:4008@switch".into(),
            hotline: Some("service".into()),
            started_at: ts("2026-11-30T09:30:00Z"),
        })
        .unwrap();
    store
        .finish_call("m", ts("2026-11-30T09:31:00Z"), "completed")
        .unwrap();
    let walk = |at: &str, id: &str, limit: usize| -> Vec<String> {
        store
            .answered_calls_ended_after((ts(at), id), limit)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect()
    };
    assert_eq!(walk("2026-11-30T00:00:00Z", "", 10), ["a", "b", "b2", "c"]);
    // The cursor sits on b: b2 ended at the same instant and still comes.
    assert_eq!(walk("2026-11-30T10:01:00Z", "b", 10), ["b2", "c"]);
    assert_eq!(walk("2026-11-30T10:01:00Z", "b2", 1), ["c"]);
    assert_eq!(walk("2026-12-01T09:01:00Z", "c", 10), Vec::<String>::new());
    let first = store
        .answered_calls_ended_after((ts("2026-11-30T00:00:00Z"), ""), 1)
        .unwrap();
    assert_eq!(
        first,
        [EndedCall {
            id: "a".into(),
            ended_at: ts("2026-11-30T09:01:00Z"),
            recording: false,
        }]
    );
}

#[test]
fn a_calls_computed_flags_are_kept_with_their_recording_state_replaced_by_the_next_and_outlive_an_override(
) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    three_calls(&store);
    let now = ts("2026-12-01T12:00:00Z");
    assert_eq!(store.computed_flags("a").unwrap(), None);
    store
        .keep_computed_flags(
            "a",
            Some(RecordingState::Complete),
            r#"{"version":1,"flags":[]}"#,
            now,
        )
        .unwrap();
    store
        .keep_computed_flags("b", None, r#"{"version":1,"flags":[1]}"#, now)
        .unwrap();
    assert_eq!(
        store.computed_flags("a").unwrap(),
        Some((
            Some("complete".to_string()),
            r#"{"version":1,"flags":[]}"#.to_string()
        ))
    );
    // Without a recording the state is absent, not an empty string.
    assert_eq!(
        store.computed_flags("b").unwrap(),
        Some((None, r#"{"version":1,"flags":[1]}"#.to_string()))
    );
    // Only the calls whose flags were kept have any.
    assert_eq!(store.computed_flags("c").unwrap(), None);
    // Keeping them again (the recording was deleted since) replaces the earlier ones.
    store
        .keep_computed_flags(
            "a",
            Some(RecordingState::Deleted),
            r#"{"version":1,"flags":[2]}"#,
            ts("2026-12-02T12:00:00Z"),
        )
        .unwrap();
    assert_eq!(
        store.computed_flags("a").unwrap(),
        Some((
            Some("deleted".to_string()),
            r#"{"version":1,"flags":[2]}"#.to_string()
        ))
    );
    // A reviewer's override drops the failed-flags cache, never the computed flags.
    store
        .save_flag_override(
            "a",
            Rule::Silence,
            1_000,
            &FlagOverride {
                by: "rita".into(),
                at: now,
                passed: true,
                comment: String::new(),
            },
        )
        .unwrap();
    assert_eq!(
        store.computed_flags("a").unwrap().map(|(_, json)| json),
        Some(r#"{"version":1,"flags":[2]}"#.to_string())
    );
    assert!(matches!(
        store.keep_computed_flags("nope", None, "{}", now),
        Err(StoreError::UnknownCall { .. })
    ));
    assert_eq!(store.computed_flags("nope").unwrap(), None);
}
