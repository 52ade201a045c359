use std::path::Path;

use super::*;
use crate::switch::timeline::Party;

fn new_call(id: &str, sip_call_id: &str, started_at: &str) -> NewCall {
    NewCall {
        id: id.to_string(),
        sip_call_id: sip_call_id.to_string(),
        from: "sip:1001@127.0.0.1".to_string(),
        to: "sip:4008@127.0.0.1".to_string(),
        hotline: Some("service".to_string()),
        started_at: started_at.parse().unwrap(),
    }
}

fn event(offset_ms: u64, kind: EventKind) -> TimelineEvent {
    TimelineEvent { offset_ms, kind }
}

fn answered_call_timeline() -> Vec<TimelineEvent> {
    vec![
        event(
            0,
            EventKind::Invite {
                from: "sip:1001@127.0.0.1".into(),
                to: "sip:4008@127.0.0.1".into(),
            },
        ),
        event(1, EventKind::Ringing),
        event(1003, EventKind::Answered { rings: 1 }),
        event(1010, EventKind::Confirmed),
        event(
            1020,
            EventKind::PromptStarted {
                name: "welcome".into(),
                language: "zh".into(),
            },
        ),
        event(
            6000,
            EventKind::Dtmf {
                digit: '9',
                source: "rfc4733".into(),
            },
        ),
        event(
            6001,
            EventKind::MenuChoice {
                menu: "main".into(),
                digit: '9',
                action: "language en, flow main_menu".into(),
            },
        ),
        event(
            9500,
            EventKind::Hangup {
                by: Party::Caller,
                reason: "bye".into(),
            },
        ),
    ]
}

#[test]
fn a_call_round_trips_with_its_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("c1", "abc@host", "2025-03-11T02:00:00Z"))
        .unwrap();
    let timeline = answered_call_timeline();
    for e in &timeline {
        store.append_event("c1", e).unwrap();
    }
    store
        .finish_call("c1", "2025-03-11T02:00:09.5Z".parse().unwrap(), "completed")
        .unwrap();
    let record = store.call("c1").unwrap().unwrap();
    assert_eq!(record.events, timeline);
    let summary = &record.summary;
    assert_eq!(summary.sip_call_id, "abc@host");
    assert_eq!(summary.hotline.as_deref(), Some("service"));
    assert_eq!(summary.answered_at_ms, Some(1003));
    assert_eq!(summary.duration_ms, Some(9500));
    assert_eq!(summary.outcome.as_deref(), Some("completed"));
    assert_eq!(summary.ended_by.as_deref(), Some("caller"));
    assert_eq!(summary.reason.as_deref(), Some("bye"));
    assert_eq!(summary.event_count, 8);
    assert!(store.call("nope").unwrap().is_none());
}

#[test]
fn calls_are_found_by_sip_call_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("c1", "same@host", "2025-03-11T02:00:00Z"))
        .unwrap();
    store
        .begin_call(&new_call("c2", "same@host", "2025-03-11T02:05:00Z"))
        .unwrap();
    store
        .begin_call(&new_call("c3", "other@host", "2025-03-11T02:06:00Z"))
        .unwrap();
    assert_eq!(store.call("other@host").unwrap().unwrap().summary.id, "c3");
    // A Call-ID seen twice gives the newest call; the switch's own id is exact.
    assert_eq!(store.call("same@host").unwrap().unwrap().summary.id, "c2");
    assert_eq!(store.call("c1").unwrap().unwrap().summary.id, "c1");
}

#[test]
fn list_is_newest_first_and_limited() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Sub-second start times must still sort as times, not as text of varying width.
    for (id, at) in [
        ("a", "2025-03-11T02:00:00Z"),
        ("c", "2025-03-11T02:00:00.5Z"),
        ("b", "2025-03-11T02:00:00.25Z"),
        ("d", "2025-03-11T01:59:59.999Z"),
    ] {
        store.begin_call(&new_call(id, id, at)).unwrap();
    }
    let ids: Vec<String> = store
        .list_calls(10)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["c", "b", "a", "d"]);
    assert_eq!(store.list_calls(2).unwrap().len(), 2);
    assert!(store.list_calls(10).unwrap()[0].outcome.is_none());
}

#[test]
fn unfinished_calls_are_marked_interrupted_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("done", "done", "2025-03-11T02:00:00Z"))
        .unwrap();
    store
        .finish_call("done", "2025-03-11T02:00:05Z".parse().unwrap(), "completed")
        .unwrap();
    store
        .begin_call(&new_call("cut", "cut", "2025-03-11T02:01:00Z"))
        .unwrap();
    store
        .append_event("cut", &event(2500, EventKind::Answered { rings: 1 }))
        .unwrap();
    store
        .begin_call(&new_call("silent", "silent", "2025-03-11T02:02:00Z"))
        .unwrap();
    assert_eq!(store.mark_interrupted().unwrap(), 2);
    assert_eq!(store.mark_interrupted().unwrap(), 0);
    let cut = store.call("cut").unwrap().unwrap().summary;
    assert_eq!(cut.outcome.as_deref(), Some("interrupted"));
    assert_eq!(cut.duration_ms, Some(2500));
    assert_eq!(cut.ended_by.as_deref(), Some("switch"));
    let done = store.call("done").unwrap().unwrap().summary;
    assert_eq!(done.outcome.as_deref(), Some("completed"));
    assert_eq!(
        store.call("silent").unwrap().unwrap().summary.duration_ms,
        Some(0)
    );
}

#[test]
fn reopening_keeps_the_data_and_the_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .begin_call(&new_call("c1", "abc", "2025-03-11T02:00:00Z"))
            .unwrap();
        store
            .append_event("c1", &event(1, EventKind::Ringing))
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let record = store.call("c1").unwrap().unwrap();
    assert_eq!(record.events, vec![event(1, EventKind::Ringing)]);
    // The next event continues the sequence after reopening.
    store
        .append_event("c1", &event(1003, EventKind::Answered { rings: 1 }))
        .unwrap();
    assert_eq!(store.call("c1").unwrap().unwrap().events.len(), 2);
    let connection = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = connection
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn open_creates_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let store = Store::open(&data).unwrap();
    assert_eq!(store.path(), data.join("hotline.db"));
    assert!(data.join("hotline.db").exists());
}

#[test]
fn a_newer_schema_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    Connection::open(dir.path().join(DATABASE_FILE))
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let error = Store::open(dir.path()).unwrap_err().to_string();
    assert!(error.contains("hotline.db"), "{error}");
    assert!(error.contains("schema version 99"), "{error}");
}

#[test]
fn events_and_finish_for_an_unknown_call_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let error = store
        .append_event("ghost", &event(1, EventKind::Ringing))
        .unwrap_err();
    assert!(matches!(error, StoreError::UnknownCall { .. }), "{error}");
    let error = store
        .finish_call("ghost", Timestamp::UNIX_EPOCH, "completed")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("hotline.db") && error.contains("\"ghost\""),
        "{error}"
    );
}

#[test]
fn rendered_call_shows_header_and_one_line_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("c1", "abc@host", "2025-03-11T02:00:00Z"))
        .unwrap();
    for e in answered_call_timeline() {
        store.append_event("c1", &e).unwrap();
    }
    store
        .finish_call("c1", "2025-03-11T02:00:09.5Z".parse().unwrap(), "completed")
        .unwrap();
    let text = render_call(&store.call("abc@host").unwrap().unwrap());
    for needle in [
        "call c1",
        "sip call-id  abc@host",
        "hotline      service",
        "started      2025-03-11T02:00:00.000Z",
        "answered     after 1003 ms",
        "(9.500 s)",
        "outcome      completed (ended by caller: bye)",
        "+   1003 ms  answered  rings=1",
        "+      0 ms  invite  from=sip:1001@127.0.0.1 to=sip:4008@127.0.0.1",
        "+   6001 ms  menu_choice  action=\"language en, flow main_menu\" digit=9 menu=main",
        "+   9500 ms  hangup  by=caller reason=bye",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(text.lines().filter(|l| l.starts_with('+')).count(), 8);
}

#[test]
fn rendered_list_is_an_aligned_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("short", "s", "2025-03-11T02:00:00Z"))
        .unwrap();
    store
        .begin_call(&new_call("a-much-longer-id", "l", "2025-03-11T02:01:00Z"))
        .unwrap();
    store
        .finish_call(
            "short",
            "2025-03-11T02:00:03Z".parse().unwrap(),
            "completed",
        )
        .unwrap();
    let text = render_list(&store.list_calls(10).unwrap());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("ID "));
    assert!(lines[1].starts_with("a-much-longer-id  2025-03-11T02:01:00.000Z"));
    assert!(lines[1].contains("in progress"));
    assert!(lines[2].contains("3.000 s") && lines[2].contains("completed"));
    let column = |line: &str| line.find("2025").unwrap();
    assert_eq!(column(lines[1]), column(lines[2]));
    assert_eq!(render_list(&[]), "no calls recorded\n");
}

#[test]
fn records_serialize_to_json_for_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("c1", "abc", "2025-03-11T02:00:00Z"))
        .unwrap();
    store
        .append_event("c1", &event(1003, EventKind::Answered { rings: 1 }))
        .unwrap();
    let json = serde_json::to_value(store.call("c1").unwrap().unwrap()).unwrap();
    assert_eq!(json["id"], "c1");
    assert_eq!(json["started_at"], "2025-03-11T02:00:00.000Z");
    assert_eq!(json["ended_at"], serde_json::Value::Null);
    assert_eq!(json["events"][0]["event"], "answered");
    assert_eq!(json["events"][0]["offset_ms"], 1003);
    assert_eq!(json["events"][0]["rings"], 1);
}

// ---- Issue 3: queue story, bindings, callbacks, migration.

/// A caller who enters sales as a VIP, misses one agent and talks to the next.
fn queued_call_timeline() -> Vec<TimelineEvent> {
    vec![
        event(
            0,
            EventKind::Invite {
                from: "sip:13800000001@127.0.0.1".into(),
                to: "sip:4008@127.0.0.1".into(),
            },
        ),
        event(1, EventKind::Ringing),
        event(1003, EventKind::Answered { rings: 1 }),
        event(
            9000,
            EventKind::MenuChoice {
                menu: "main".into(),
                digit: '1',
                action: "queue sales".into(),
            },
        ),
        event(
            9001,
            EventKind::Route {
                target: "queue sales".into(),
            },
        ),
        event(
            9002,
            EventKind::QueueEntered {
                queue: "sales".into(),
                position: 2,
                expected_wait_s: Some(45),
                priority: 10,
            },
        ),
        event(
            39002,
            EventKind::Announcement {
                position: 1,
                expected_wait_s: Some(20),
            },
        ),
        event(
            40000,
            EventKind::Offered {
                agent: "a1001".into(),
                extension: "1001".into(),
            },
        ),
        event(
            51000,
            EventKind::OfferEnded {
                agent: "a1001".into(),
                rings: 3,
                outcome: "no_answer".into(),
            },
        ),
        event(
            51001,
            EventKind::Offered {
                agent: "a1002".into(),
                extension: "1002".into(),
            },
        ),
        event(
            57202,
            EventKind::AgentAnswered {
                agent: "a1002".into(),
                rings: 2,
                wait_ms: 48200,
            },
        ),
        event(
            57203,
            EventKind::Whisper {
                agent: "a1002".into(),
            },
        ),
        event(
            58500,
            EventKind::Bridged {
                agent: "a1002".into(),
                transcoding: true,
            },
        ),
        event(
            181500,
            EventKind::Hangup {
                by: Party::Agent,
                reason: "bye".into(),
            },
        ),
        event(
            181501,
            EventKind::WrapUp {
                agent: "a1002".into(),
                seconds: 15,
            },
        ),
    ]
}

fn store_with_queued_call(dir: &Path) -> Store {
    let store = Store::open(dir).unwrap();
    store
        .begin_call(&new_call("q1", "queued@host", "2025-03-11T02:00:00Z"))
        .unwrap();
    for e in queued_call_timeline() {
        store.append_event("q1", &e).unwrap();
    }
    store
        .finish_call("q1", "2025-03-11T02:03:01.5Z".parse().unwrap(), "completed")
        .unwrap();
    store
}

#[test]
fn the_summary_follows_the_queue_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_queued_call(dir.path());
    let summary = store.call("q1").unwrap().unwrap().summary;
    assert_eq!(summary.queue.as_deref(), Some("sales"));
    assert_eq!(summary.agent.as_deref(), Some("a1002"));
    assert_eq!(summary.wait_ms, Some(48200));
    assert_eq!(summary.talk_ms, Some(181500 - 58500));
    assert_eq!(summary.ended_by.as_deref(), Some("agent"));
    assert_eq!(store.list_calls(1).unwrap()[0], summary);
}

#[test]
fn an_overflowed_call_shows_the_last_queue_and_no_talk_without_a_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("o1", "o1", "2025-03-11T02:00:00Z"))
        .unwrap();
    let entered = |queue: &str| EventKind::QueueEntered {
        queue: queue.into(),
        position: 1,
        expected_wait_s: Some(30),
        priority: 0,
    };
    for e in [
        event(5000, entered("sales")),
        event(
            575000,
            EventKind::QueueExit {
                queue: "sales".into(),
                reason: "overflow operator".into(),
            },
        ),
        event(575001, entered("operator")),
        event(
            580000,
            EventKind::Hangup {
                by: Party::Caller,
                reason: "bye".into(),
            },
        ),
    ] {
        store.append_event("o1", &e).unwrap();
    }
    let summary = store.call("o1").unwrap().unwrap().summary;
    assert_eq!(summary.queue.as_deref(), Some("operator"));
    assert_eq!(summary.agent, None);
    assert_eq!(summary.wait_ms, None);
    assert_eq!(summary.talk_ms, None);
}

#[test]
fn an_interrupted_bridged_call_talked_until_its_last_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("cut", "cut", "2025-03-11T02:00:00Z"))
        .unwrap();
    store
        .append_event(
            "cut",
            &event(
                10000,
                EventKind::Bridged {
                    agent: "a1001".into(),
                    transcoding: false,
                },
            ),
        )
        .unwrap();
    store
        .append_event(
            "cut",
            &event(
                25000,
                EventKind::Dtmf {
                    digit: '5',
                    source: "rfc4733".into(),
                },
            ),
        )
        .unwrap();
    assert_eq!(store.mark_interrupted().unwrap(), 1);
    assert_eq!(
        store.call("cut").unwrap().unwrap().summary.talk_ms,
        Some(15000)
    );
}

fn binding(user: &str, contact: &str, expires_at: &str) -> StoredBinding {
    StoredBinding {
        user: user.into(),
        contact: contact.into(),
        address: "127.0.0.1:5062".into(),
        transport: "udp".into(),
        expires_at: expires_at.parse().unwrap(),
    }
}

#[test]
fn bindings_survive_a_restart_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let desk = binding("1001", "<sip:1001@127.0.0.1:5062>", "2025-03-11T03:00:00Z");
    let mobile = StoredBinding {
        transport: "tcp".into(),
        address: "[::1]:5070".into(),
        ..binding(
            "1001",
            "<sip:1001@[::1]:5070;transport=tcp>",
            "2025-03-11T02:10:00.250Z",
        )
    };
    let other = binding("1002", "<sip:1002@127.0.0.1:5064>", "2025-03-11T02:30:00Z");
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .save_bindings("1001", &[desk.clone(), mobile.clone()])
            .unwrap();
        store
            .save_bindings("1002", std::slice::from_ref(&other))
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let at = |text: &str| text.parse::<Timestamp>().unwrap();
    assert_eq!(
        store.load_bindings(at("2025-03-11T02:00:00Z")).unwrap(),
        vec![desk.clone(), mobile.clone(), other.clone()]
    );
    // Expiry is exclusive and millisecond exact.
    assert_eq!(
        store.load_bindings(at("2025-03-11T02:10:00.250Z")).unwrap(),
        vec![desk.clone(), other.clone()]
    );
    assert_eq!(
        store.load_bindings(at("2025-03-11T02:45:00Z")).unwrap(),
        vec![desk.clone()]
    );
    // Expired rows are gone for good, even when asked about an earlier time.
    assert_eq!(
        store.load_bindings(at("2025-03-11T02:00:00Z")).unwrap(),
        vec![desk.clone()]
    );
}

#[test]
fn saving_bindings_replaces_the_users_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let now: Timestamp = "2025-03-11T02:00:00Z".parse().unwrap();
    let old = binding("1001", "<sip:1001@127.0.0.1:5062>", "2025-03-11T03:00:00Z");
    let new = binding("1001", "<sip:1001@127.0.0.1:5066>", "2025-03-11T03:00:00Z");
    let other = binding("1002", "<sip:1002@127.0.0.1:5064>", "2025-03-11T03:00:00Z");
    store.save_bindings("1001", &[old]).unwrap();
    store
        .save_bindings("1002", std::slice::from_ref(&other))
        .unwrap();
    store
        .save_bindings("1001", std::slice::from_ref(&new))
        .unwrap();
    assert_eq!(store.load_bindings(now).unwrap(), vec![new, other.clone()]);
    // Un-registering (Expires: 0 on every contact) leaves nothing for the user.
    store.save_bindings("1001", &[]).unwrap();
    assert_eq!(store.load_bindings(now).unwrap(), vec![other.clone()]);
    let error = store
        .save_bindings("1001", &[other])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("hotline.db") && error.contains("\"1002\"") && error.contains("\"1001\""),
        "{error}"
    );
}

#[test]
fn callback_requests_are_kept_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let later = CallbackRequest {
        call_id: "c2".into(),
        number: "+8613800000002".into(),
        queue: "support".into(),
        position: 1,
        requested_at: "2025-03-11T02:09:30.125Z".parse().unwrap(),
    };
    let first = CallbackRequest {
        call_id: "c1".into(),
        number: "13800000001".into(),
        queue: "sales".into(),
        position: 3,
        requested_at: "2025-03-11T02:09:00Z".parse().unwrap(),
    };
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.callbacks().unwrap(), vec![]);
        store.add_callback(&later).unwrap();
        store.add_callback(&first).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.callbacks().unwrap(), vec![first.clone(), later]);
    assert_eq!(render_callbacks(&[]), "no callback requests\n");
    let strange = CallbackRequest {
        number: "666\x1b[2J\nfake".into(),
        ..first.clone()
    };
    let text = render_callbacks(&store.callbacks().unwrap()[..1]);
    assert_eq!(
        text,
        "REQUESTED (UTC)           NUMBER       QUEUE  PLACE  CALL\n\
         2025-03-11T02:09:00.000Z  13800000001  sales  3      c1\n"
    );
    let text = render_callbacks(&[strange]);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("666\\x1b[2J\\nfake"), "{text}");
}

/// The issue-2 schema exactly as that version created it, with one finished call.
fn write_version_1_database(dir: &Path) {
    let connection = Connection::open(dir.join(DATABASE_FILE)).unwrap();
    connection
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL; BEGIN; {SCHEMA_V1} PRAGMA user_version = 1; COMMIT;"
        ))
        .unwrap();
    connection
        .execute_batch(
            "INSERT INTO calls (id, sip_call_id, from_uri, to_uri, hotline, started_at,
                                answered_at_ms, ended_at, outcome, ended_by, reason)
             VALUES ('old', 'old@host', 'sip:1@h', 'sip:4008@h', 'service',
                     '2025-01-02T03:04:05.000Z', 1003, '2025-01-02T03:04:15.000Z',
                     'completed', 'caller', 'bye');
             INSERT INTO events (call_id, seq, offset_ms, kind, detail)
             VALUES ('old', 0, 1003, 'answered', '{\"event\":\"answered\",\"rings\":1}');",
        )
        .unwrap();
}

#[test]
fn an_issue_2_database_opens_and_upgrades() {
    let dir = tempfile::tempdir().unwrap();
    write_version_1_database(dir.path());
    let store = Store::open(dir.path()).unwrap();
    let old = store.call("old").unwrap().unwrap();
    assert_eq!(
        old.events,
        vec![event(1003, EventKind::Answered { rings: 1 })]
    );
    assert_eq!(old.summary.outcome.as_deref(), Some("completed"));
    assert_eq!(old.summary.duration_ms, Some(10_000));
    assert_eq!(
        (
            &old.summary.queue,
            &old.summary.agent,
            old.summary.wait_ms,
            old.summary.talk_ms
        ),
        (&None, &None, None, None)
    );
    // The old call continues its sequence and gains the new columns.
    store
        .append_event(
            "old",
            &event(
                2000,
                EventKind::QueueEntered {
                    queue: "sales".into(),
                    position: 1,
                    expected_wait_s: Some(0),
                    priority: 0,
                },
            ),
        )
        .unwrap();
    assert_eq!(
        store.call("old").unwrap().unwrap().summary.queue.as_deref(),
        Some("sales")
    );
    let now: Timestamp = "2025-03-11T02:00:00Z".parse().unwrap();
    let kept = binding("1001", "<sip:1001@127.0.0.1:5062>", "2025-03-11T03:00:00Z");
    store
        .save_bindings("1001", std::slice::from_ref(&kept))
        .unwrap();
    assert_eq!(store.load_bindings(now).unwrap(), vec![kept]);
    drop(store);
    let connection = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    // Opening again does not try to upgrade twice.
    drop(connection);
    assert!(Store::open(dir.path()).is_ok());
}

#[test]
fn every_issue_3_event_renders_with_its_fields() {
    let cases = [
        (
            EventKind::QueueEntered {
                queue: "sales".into(),
                position: 2,
                expected_wait_s: Some(45),
                priority: 10,
            },
            "queue_entered  expected_wait_s=45 position=2 priority=10 queue=sales",
        ),
        (
            EventKind::Announcement {
                position: 1,
                expected_wait_s: Some(20),
            },
            "announcement  expected_wait_s=20 position=1",
        ),
        (
            EventKind::Offered {
                agent: "a1001".into(),
                extension: "1001".into(),
            },
            "offered  agent=a1001 extension=1001",
        ),
        (
            EventKind::OfferEnded {
                agent: "a1001".into(),
                rings: 3,
                outcome: "no_answer".into(),
            },
            "offer_ended  agent=a1001 outcome=no_answer rings=3",
        ),
        (
            EventKind::AgentAnswered {
                agent: "a1002".into(),
                rings: 2,
                wait_ms: 48200,
            },
            "agent_answered  agent=a1002 rings=2 wait_ms=48200",
        ),
        (
            EventKind::Whisper {
                agent: "a1002".into(),
            },
            "whisper  agent=a1002",
        ),
        (
            EventKind::Bridged {
                agent: "a1002".into(),
                transcoding: true,
            },
            "bridged  agent=a1002 transcoding=true",
        ),
        (
            EventKind::QueueExit {
                queue: "sales".into(),
                reason: "overflow operator".into(),
            },
            "queue_exit  queue=sales reason=\"overflow operator\"",
        ),
        (
            EventKind::CallbackRequested {
                number: "13800000001".into(),
                queue: "sales".into(),
                position: 3,
            },
            "callback_requested  number=13800000001 position=3 queue=sales",
        ),
        (
            EventKind::Voicemail {
                file: "voicemail/q1.wav".into(),
                duration_ms: 12300,
            },
            "voicemail  duration_ms=12300 file=voicemail/q1.wav",
        ),
        (
            EventKind::WrapUp {
                agent: "a1002".into(),
                seconds: 15,
            },
            "wrap_up  agent=a1002 seconds=15",
        ),
        (
            EventKind::FeatureCode {
                code: "*21".into(),
                agent: "a1001".into(),
                state: "ready".into(),
            },
            "feature_code  agent=a1001 code=*21 state=ready",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("all", "all", "2025-03-11T02:00:00Z"))
        .unwrap();
    for (index, (kind, _)) in cases.iter().enumerate() {
        store
            .append_event("all", &event(1000 * index as u64, kind.clone()))
            .unwrap();
    }
    let text = render_call(&store.call("all").unwrap().unwrap());
    for (index, (_, expected)) in cases.iter().enumerate() {
        let line = format!("+{:>7} ms  {expected}", 1000 * index);
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
}

#[test]
fn a_callback_offer_is_told_in_the_queue_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("offer", "offer", "2025-03-11T02:00:00Z"))
        .unwrap();
    let offered = EventKind::CallbackOffered {
        queue: "sales".into(),
    };
    store
        .append_event("offer", &event(570_000, offered))
        .unwrap();
    let text = render_call(&store.call("offer").unwrap().unwrap());
    let needle = "  +570.000 s  offered a callback while waiting in queue sales (press 1)\n";
    assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
}

#[test]
fn a_queue_nobody_served_is_told_on_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("empty", "empty", "2025-03-11T02:00:00Z"))
        .unwrap();
    let unstaffed = EventKind::QueueUnstaffed {
        queue: "sales".into(),
        unstaffed_s: 60,
    };
    store
        .append_event("empty", &event(61_000, unstaffed))
        .unwrap();
    let text = render_call(&store.call("empty").unwrap().unwrap());
    let needle = "  +61.000 s  nobody took queue sales's calls for 60 s: its exit is taken before the maximum wait\n";
    assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
}

#[test]
fn a_wait_nobody_promised_is_told_as_such_and_kept_out_of_the_stored_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("nobody", "nobody", "2025-03-11T02:00:00Z"))
        .unwrap();
    for (offset, kind) in [
        (
            1_000,
            EventKind::QueueEntered {
                queue: "sales".into(),
                position: 1,
                expected_wait_s: None,
                priority: 0,
            },
        ),
        (
            31_000,
            EventKind::Announcement {
                position: 1,
                expected_wait_s: None,
            },
        ),
    ] {
        store.append_event("nobody", &event(offset, kind)).unwrap();
    }
    let call = store.call("nobody").unwrap().unwrap();
    let text = render_call(&call);
    for needle in [
        "    +1.000 s  entered queue sales at position 1, no wait promised (nobody taking calls)\n",
        "   +31.000 s  announced position 1, no wait promised (nobody taking calls)\n",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let stored = serde_json::to_string(&call.events[0]).unwrap();
    assert!(!stored.contains("expected_wait_s"), "{stored}");
    // Records written before the field could be empty still read back.
    let old: TimelineEvent = serde_json::from_str(
        r#"{"offset_ms":5,"event":"announcement","position":2,"expected_wait_s":40}"#,
    )
    .unwrap();
    assert_eq!(
        old.kind,
        EventKind::Announcement {
            position: 2,
            expected_wait_s: Some(40)
        }
    );
}

#[test]
fn rendered_call_tells_the_queue_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_queued_call(dir.path());
    let text = render_call(&store.call("q1").unwrap().unwrap());
    for needle in [
        "  queue        sales\n",
        "  agent        a1002 (answered after waiting 48.200 s)\n",
        "  talk         123.000 s\n",
        "  outcome      completed (ended by agent: bye)\n",
        "queue and agents:\n",
        "    +9.002 s  entered queue sales at position 2, expected wait 45 s, priority 10\n",
        "   +39.002 s  announced position 1, expected wait 20 s\n",
        "   +40.000 s  offered to agent a1001 on phone 1001\n",
        "   +51.000 s  agent a1001 did not take it: no answer after 3 rings\n",
        "   +57.202 s  agent a1002 answered at ring 2, after the caller waited 48.200 s\n",
        "   +57.203 s  whisper played to agent a1002\n",
        "   +58.500 s  caller and agent a1002 connected (transcoding)\n",
        "  +181.500 s  ended by agent: bye\n",
        "  +181.501 s  agent a1002 wraps up for 15 s\n",
        "+ 181500 ms  hangup  by=agent reason=bye\n",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(
        text.find("queue and agents:") < text.find("timeline:"),
        "the story comes before the full timeline"
    );
    // A call that never queued has no story section, hangup or not.
    store
        .begin_call(&new_call("c1", "c1", "2025-03-11T02:10:00Z"))
        .unwrap();
    for e in answered_call_timeline() {
        store.append_event("c1", &e).unwrap();
    }
    let plain = render_call(&store.call("c1").unwrap().unwrap());
    assert!(!plain.contains("queue and agents:"), "{plain}");
    assert!(!plain.contains("  queue  "), "{plain}");
}

#[test]
fn story_sentences_cover_exits_callbacks_voicemail_and_feature_codes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("x", "x", "2025-03-11T02:00:00Z"))
        .unwrap();
    for (offset, kind) in [
        (
            1000,
            EventKind::QueueExit {
                queue: "sales".into(),
                reason: "callback_offer".into(),
            },
        ),
        (
            2000,
            EventKind::CallbackRequested {
                number: "13800000001".into(),
                queue: "sales".into(),
                position: 3,
            },
        ),
        (
            3000,
            EventKind::Voicemail {
                file: "voicemail/x.wav".into(),
                duration_ms: 12300,
            },
        ),
        (
            4000,
            EventKind::FeatureCode {
                code: "*24".into(),
                agent: "a1001".into(),
                state: "not_ready".into(),
            },
        ),
        (
            5000,
            EventKind::OfferEnded {
                agent: "a1003".into(),
                rings: 1,
                outcome: "busy".into(),
            },
        ),
    ] {
        store.append_event("x", &event(offset, kind)).unwrap();
    }
    let text = render_call(&store.call("x").unwrap().unwrap());
    for needle in [
        "left queue sales: callback offer",
        "callback requested to 13800000001, keeping position 3 in queue sales",
        "voicemail of 12.300 s kept in voicemail/x.wav",
        "agent a1001 dialled *24: now not ready",
        "agent a1003 did not take it: busy after 1 ring\n",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn rendered_list_has_queue_agent_and_wait_columns() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_queued_call(dir.path());
    store
        .begin_call(&new_call("plain", "p", "2025-03-11T01:00:00Z"))
        .unwrap();
    let text = render_list(&store.list_calls(10).unwrap());
    let lines: Vec<&str> = text.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID", "STARTED", "(UTC)", "FROM", "TO", "HOTLINE", "ANSWER", "QUEUE", "AGENT", "WAIT",
            "DURATION", "OUTCOME", "EVENTS"
        ]
    );
    let column = |line: &str, name: &str| {
        let at = lines[0].find(name).unwrap();
        line.get(at..)
            .unwrap()
            .split("  ")
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(column(lines[1], "QUEUE"), "sales");
    assert_eq!(column(lines[1], "AGENT"), "a1002");
    assert_eq!(column(lines[1], "WAIT"), "48.200 s");
    assert_eq!(column(lines[2], "QUEUE"), "-");
    assert_eq!(column(lines[2], "WAIT"), "-");
}

#[test]
fn control_characters_from_sip_headers_are_shown_escaped_in_list_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let hostile = "\"Evil\x1b[2J\" <sip:x\r\nfake line@127.0.0.1>";
    store
        .begin_call(&NewCall {
            from: hostile.to_string(),
            ..new_call("c1", "id\x1b]0;t\x07", "2025-03-11T02:00:00Z")
        })
        .unwrap();
    store
        .append_event(
            "c1",
            &event(
                0,
                EventKind::Invite {
                    from: hostile.into(),
                    to: "sip:4008@127.0.0.1".into(),
                },
            ),
        )
        .unwrap();
    let shown = render_call(&store.call("c1").unwrap().unwrap());
    let listed = render_list(&store.list_calls(10).unwrap());
    for text in [&shown, &listed] {
        assert!(
            !text.contains(|c: char| c.is_control() && c != '\n'),
            "{text:?}"
        );
    }
    assert!(
        shown.contains("  from         \"Evil\\x1b[2J\" <sip:x\\r\\nfake line@127.0.0.1>\n"),
        "{shown}"
    );
    assert!(
        shown.contains("  sip call-id  id\\x1b]0;t\\x07\n"),
        "{shown}"
    );
    assert!(
        shown.contains("invite  from=\"\\\"Evil\\u{1b}[2J\\\" <sip:x\\r\\nfake line@127.0.0.1>\""),
        "{shown}"
    );
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains("\"Evil\\x1b[2J\" <sip:x\\r\\nfake line@127.0.0.1>"));
}

#[test]
fn a_batch_is_committed_at_its_end_and_a_failed_write_inside_it_is_undone_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let reader = Store::open(dir.path()).unwrap();
    store.begin_batch().unwrap();
    store
        .begin_call(&new_call("c1", "abc@host", "2025-03-11T02:00:00Z"))
        .unwrap();
    let timeline = answered_call_timeline();
    let (first, rest) = timeline.split_at(3);
    for e in first {
        store.append_event("c1", e).unwrap();
    }
    let error = store
        .append_event("ghost", &event(1, EventKind::Ringing))
        .unwrap_err();
    assert!(matches!(error, StoreError::UnknownCall { .. }), "{error}");
    for e in rest {
        store.append_event("c1", e).unwrap();
    }
    // Nothing is visible to another connection until the batch ends: it is one commit.
    assert!(reader.call("c1").unwrap().is_none());
    store.end_batch().unwrap();
    let record = reader.call("c1").unwrap().unwrap();
    assert_eq!(record.events, timeline);
    // Outside a batch, ending one is harmless and writes commit one by one.
    store.end_batch().unwrap();
    store
        .finish_call("c1", "2025-03-11T02:00:09.5Z".parse().unwrap(), "completed")
        .unwrap();
    let summary = reader.call("c1").unwrap().unwrap().summary;
    assert_eq!(summary.outcome.as_deref(), Some("completed"));
}

#[test]
fn a_recording_goes_from_recording_to_complete_and_its_row_travels_with_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .begin_call(&new_call("c1", "sip-1", "2026-12-01T02:00:00Z"))
        .unwrap();
    store
        .begin_call(&new_call("c2", "sip-2", "2026-12-01T03:00:00Z"))
        .unwrap();
    let at: jiff::Timestamp = "2026-12-01T02:00:01Z".parse().unwrap();
    store
        .recording_started("c1", "recordings/2026/12/01/c1.wav", at, 1003)
        .unwrap();
    store
        .recording_started("c2", "recordings/2026/12/01/c2.wav", at, 900)
        .unwrap();
    let unfinished: Vec<String> = store
        .unfinished_recordings()
        .unwrap()
        .into_iter()
        .map(|r| r.call_id)
        .collect();
    assert_eq!(unfinished, vec!["c1", "c2"]);

    let end = RecordingEnd {
        state: RecordingState::Complete,
        duration_ms: 61_240,
        sha256: "ab".repeat(32),
        lost_ms: 40,
    };
    store.recording_finished("c1", &end).unwrap();
    let record = store.call("c1").unwrap().unwrap();
    let recording = record.recording.expect("the call's recording");
    assert_eq!(recording.file, "recordings/2026/12/01/c1.wav");
    assert_eq!(recording.state, RecordingState::Complete);
    assert_eq!(recording.offset_ms, 1003);
    assert_eq!(recording.duration_ms, Some(61_240));
    assert_eq!(recording.sha256.as_deref(), Some("ab".repeat(32).as_str()));
    assert_eq!(recording.lost_ms, 40);
    assert_eq!(recording.started_at, at);
    let json = serde_json::to_value(&recording).unwrap();
    assert_eq!(json["state"], "complete");
    assert_eq!(
        json["channels"],
        serde_json::json!(["caller_said", "caller_heard"])
    );
    let unfinished: Vec<String> = store
        .unfinished_recordings()
        .unwrap()
        .into_iter()
        .map(|r| r.call_id)
        .collect();
    assert_eq!(unfinished, vec!["c2"]);

    let later: jiff::Timestamp = "2026-12-02T00:00:00Z".parse().unwrap();
    let expired: Vec<String> = store
        .recordings_started_before(later)
        .unwrap()
        .into_iter()
        .map(|r| r.call_id)
        .collect();
    assert_eq!(expired, vec!["c1"], "only finished recordings expire");
    assert!(store.recordings_started_before(at).unwrap().is_empty());
    store.recording_deleted("c1", later).unwrap();
    assert_eq!(
        store.recording("c1").unwrap().unwrap().state,
        RecordingState::Deleted
    );
    assert!(store.call("c2").unwrap().unwrap().recording.is_some());
}

#[test]
fn a_recording_of_an_unknown_call_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let at: jiff::Timestamp = "2026-12-01T02:00:01Z".parse().unwrap();
    let error = store
        .recording_started("ghost", "recordings/x.wav", at, 0)
        .unwrap_err();
    assert!(error.to_string().contains("ghost"), "{error}");
    let end = RecordingEnd {
        state: RecordingState::CutShort,
        duration_ms: 1,
        sha256: String::new(),
        lost_ms: 0,
    };
    let error = store.recording_finished("ghost", &end).unwrap_err();
    assert!(error.to_string().contains("ghost"), "{error}");
}
