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
