//! Media figures on call records: saved per leg, read back, replaced, rendered, in the JSON
//! the CLI prints, and on a database of the previous release.

use rusqlite::Connection;

use crate::media::quality::{LegQuality, LegRole};
use crate::store::{
    render_call, NewCall, Store, StoreError, DATABASE_FILE, SCHEMA_V1, SCHEMA_V2, SCHEMA_VERSION,
};

fn new_call(id: &str) -> NewCall {
    NewCall {
        id: id.to_string(),
        sip_call_id: format!("{id}@host"),
        from: "sip:1001@127.0.0.1".to_string(),
        to: "sip:4008@127.0.0.1".to_string(),
        hotline: None,
        started_at: "2025-03-11T02:00:00Z".parse().unwrap(),
    }
}

fn caller_quality() -> LegQuality {
    LegQuality {
        packets_sent: 1498,
        packets_received: 1500,
        packets_lost: 3,
        jitter_us: 4_100,
        rtt_us: Some(12_400),
        remote_packets_lost: Some(2),
        remote_jitter_us: Some(3_050),
        rtcp_received: 3,
        rtcp_sent: 4,
        packets_from_strangers: 0,
    }
}

fn agent_quality() -> LegQuality {
    LegQuality {
        packets_sent: 700,
        packets_received: 690,
        packets_lost: 0,
        jitter_us: 250,
        rtt_us: None,
        remote_packets_lost: None,
        remote_jitter_us: None,
        rtcp_received: 0,
        rtcp_sent: 2,
        packets_from_strangers: 17,
    }
}

fn media_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.contains(" media ")).collect()
}

#[test]
fn each_legs_figures_read_back_caller_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.begin_call(&new_call("c1")).unwrap();
    store
        .save_media_quality("c1", LegRole::Agent, &agent_quality())
        .unwrap();
    store
        .save_media_quality("c1", LegRole::Caller, &caller_quality())
        .unwrap();
    let media = store.call("c1").unwrap().unwrap().media;
    assert_eq!(media.len(), 2);
    let (caller, agent) = (&media[0], &media[1]);
    assert_eq!(caller.role, "caller");
    assert_eq!(
        (
            caller.packets_sent,
            caller.packets_received,
            caller.packets_lost,
            caller.jitter_us,
            caller.rtt_us,
            caller.remote_packets_lost,
            caller.remote_jitter_us,
            caller.rtcp_received,
            caller.rtcp_sent,
            caller.packets_from_strangers
        ),
        (
            1498,
            1500,
            3,
            4_100,
            Some(12_400),
            Some(2),
            Some(3_050),
            3,
            4,
            0
        )
    );
    assert_eq!(agent.role, "agent");
    assert_eq!(
        (
            agent.rtt_us,
            agent.remote_packets_lost,
            agent.remote_jitter_us,
            agent.packets_from_strangers
        ),
        (None, None, None, 17)
    );
}

#[test]
fn a_second_report_for_the_same_leg_replaces_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.begin_call(&new_call("c1")).unwrap();
    store
        .save_media_quality("c1", LegRole::Caller, &agent_quality())
        .unwrap();
    store
        .save_media_quality("c1", LegRole::Caller, &caller_quality())
        .unwrap();
    let media = store.call("c1").unwrap().unwrap().media;
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].packets_received, 1500);
    assert_eq!(media[0].rtt_us, Some(12_400));
}

#[test]
fn figures_for_an_unknown_call_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let error = store
        .save_media_quality("ghost", LegRole::Caller, &caller_quality())
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::UnknownCall { call_id, .. } if call_id == "ghost"),
        "{error}"
    );
}

#[test]
fn calls_show_has_one_line_per_leg() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.begin_call(&new_call("c1")).unwrap();
    store
        .save_media_quality("c1", LegRole::Caller, &caller_quality())
        .unwrap();
    store
        .save_media_quality("c1", LegRole::Agent, &agent_quality())
        .unwrap();
    let text = render_call(&store.call("c1").unwrap().unwrap());
    assert_eq!(
        media_lines(&text),
        [
            "  caller media 1500 packets in, 3 lost (0.2 %), jitter 4.1 ms, round trip 12 ms, \
             0 from strangers; 1498 packets out, far end lost 2, jitter 3.1 ms",
            "  agent media  690 packets in, 0 lost (0.0 %), jitter 0.3 ms, \
             17 from strangers; 700 packets out",
        ],
        "{text}"
    );
    // Right after the outcome, before the timeline.
    let lines: Vec<&str> = text.lines().collect();
    let outcome = lines
        .iter()
        .position(|l| l.starts_with("  outcome"))
        .unwrap();
    assert!(lines[outcome + 1].starts_with("  caller media "), "{text}");
    assert!(lines[outcome + 2].starts_with("  agent media  "), "{text}");
    assert_eq!(lines[outcome + 3], "timeline:");
}

#[test]
fn a_leg_that_heard_nothing_renders_no_percentage_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.begin_call(&new_call("c1")).unwrap();
    store
        .save_media_quality("c1", LegRole::Caller, &LegQuality::default())
        .unwrap();
    let text = render_call(&store.call("c1").unwrap().unwrap());
    assert_eq!(
        media_lines(&text),
        ["  caller media 0 packets in, 0 lost (0.0 %), jitter 0.0 ms, 0 from strangers; 0 packets out"]
    );
}

#[test]
fn a_record_without_figures_renders_nothing_extra() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.begin_call(&new_call("c1")).unwrap();
    let record = store.call("c1").unwrap().unwrap();
    assert!(record.media.is_empty());
    let text = render_call(&record);
    assert!(media_lines(&text).is_empty(), "{text}");
    assert_eq!(
        text,
        "call c1\n  sip call-id  c1@host\n  from         sip:1001@127.0.0.1\n  \
         to           sip:4008@127.0.0.1\n  started      2025-03-11T02:00:00.000Z\n  \
         outcome      in progress\ntimeline:\n"
    );
}

#[test]
fn the_cli_json_lists_each_legs_figures() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.begin_call(&new_call("c1")).unwrap();
    let json = serde_json::to_value(store.call("c1").unwrap().unwrap()).unwrap();
    assert_eq!(json["media"], serde_json::json!([]));
    store
        .save_media_quality("c1", LegRole::Caller, &caller_quality())
        .unwrap();
    store
        .save_media_quality("c1", LegRole::Agent, &agent_quality())
        .unwrap();
    let json = serde_json::to_value(store.call("c1").unwrap().unwrap()).unwrap();
    assert_eq!(
        json["media"],
        serde_json::json!([
            {
                "role": "caller", "packets_sent": 1498, "packets_received": 1500,
                "packets_lost": 3, "jitter_us": 4100, "rtt_us": 12400,
                "remote_packets_lost": 2, "remote_jitter_us": 3050, "rtcp_received": 3,
                "rtcp_sent": 4, "packets_from_strangers": 0
            },
            {
                "role": "agent", "packets_sent": 700, "packets_received": 690,
                "packets_lost": 0, "jitter_us": 250, "rtt_us": null,
                "remote_packets_lost": null, "remote_jitter_us": null, "rtcp_received": 0,
                "rtcp_sent": 2, "packets_from_strangers": 17
            }
        ])
    );
    assert_eq!(
        json["id"], "c1",
        "the summary stays flat beside the media list"
    );
}

/// A database as the previous release (schema 2) left it, with a finished call: it opens,
/// gains the media table, and the old call takes figures.
#[test]
fn a_previous_release_database_gains_the_media_table() {
    let dir = tempfile::tempdir().unwrap();
    {
        let connection = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        connection
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; BEGIN; {SCHEMA_V1} PRAGMA user_version = 1; COMMIT;
                 BEGIN; {SCHEMA_V2} PRAGMA user_version = 2; COMMIT;
                 INSERT INTO calls (id, sip_call_id, from_uri, to_uri, started_at, outcome)
                 VALUES ('old', 'old@host', 'sip:1@h', 'sip:4008@h',
                         '2025-01-02T03:04:05.000Z', 'completed');"
            ))
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert!(store.call("old").unwrap().unwrap().media.is_empty());
    store
        .save_media_quality("old", LegRole::Caller, &caller_quality())
        .unwrap();
    assert_eq!(store.call("old").unwrap().unwrap().media[0].packets_lost, 3);
    drop(store);
    let connection = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}
