//! Tests of the call page: markers, clocks, and the whole page read in Chinese.

use super::*;
use crate::switch::timeline::{EventKind, Party};

#[test]
fn a_moment_is_shown_on_the_calls_clock_and_the_players() {
    // The audit's hold: 19.899 s after the INVITE, the recording began at 1.0 s.
    assert_eq!(
        both_clocks(Lang::En, 19_899, Some(1_000)),
        "19.9 s <span class=\"rec-at\">(in the recording 0:18.9)</span>"
    );
    assert_eq!(
        both_clocks(Lang::Zh, 75_049, Some(1_000)),
        "75.0 s <span class=\"rec-at\">(录音中 1:14.0)</span>"
    );
    // Before the recording, or without one: the call's clock alone.
    assert_eq!(both_clocks(Lang::En, 999, Some(1_000)), "1.0 s");
    assert_eq!(
        both_clocks(Lang::En, 1_000, Some(1_000)),
        "1.0 s <span class=\"rec-at\">(in the recording 0:00.0)</span>"
    );
    assert_eq!(both_clocks(Lang::En, 19_899, None), "19.9 s");
}

#[test]
fn a_marker_sits_at_the_event_offset_less_the_recording_offset() {
    let events = vec![
        TimelineEvent {
            offset_ms: 500,
            kind: EventKind::Ringing,
        },
        TimelineEvent {
            offset_ms: 2_000,
            kind: EventKind::Answered { rings: 1 },
        },
        TimelineEvent {
            offset_ms: 14_250,
            kind: EventKind::Hold { by: Party::Agent },
        },
        TimelineEvent {
            offset_ms: 15_000,
            kind: EventKind::Confirmed,
        },
    ];
    let markers = markers(&events, 2_000, Lang::En);
    assert_eq!(markers.len(), 3, "confirmed has no marker of its own");
    assert_eq!((markers[0].at_s, markers[0].before), (0.0, true));
    assert_eq!(markers[0].group, "ring");
    assert_eq!((markers[1].at_s, markers[1].before), (0.0, false));
    assert_eq!(markers[1].detail, "rings=1");
    assert_eq!(markers[2].at_s, 12.25);
    assert_eq!(markers[2].kind, "hold");
    assert_eq!(markers[2].group, "hold");
    assert_eq!(markers[2].detail, "by=agent");
}

#[test]
fn events_fall_into_the_groups_the_page_colours() {
    assert_eq!(group_of("hold_reason"), "hold");
    assert_eq!(group_of("transfer_requested"), "transfer");
    assert_eq!(group_of("menu_choice"), "menu");
    for queue_event in [
        "queue_entered",
        "announcement",
        "queue_exit",
        "requeued",
        "callback_offered",
        "callback_requested",
        "queue_unstaffed",
    ] {
        assert_eq!(group_of(queue_event), "queue", "{queue_event}");
    }
    assert_eq!(group_of("hangup"), "hangup");
    assert_eq!(group_of("recording_paused"), "pause");
}

/// A finished call of agent "alice" in queue "general" whose flags fail: answered at ring 4,
/// a hold with no reason, 1.5 s of the recording lost. Recorded from 2 s.
fn audited_call(dir: &std::path::Path) -> CallRecord {
    use crate::store::{NewCall, RecordingEnd, Store};
    let store = Store::open(dir).unwrap();
    let t0: jiff::Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
    store
        .begin_call(&NewCall {
            id: "call-1".into(),
            sip_call_id: "call-1@seed".into(),
            from: "sip:13800138000@caller.example".into(),
            to: "sip:support@hotline.example".into(),
            hotline: Some("support".into()),
            started_at: t0,
        })
        .unwrap();
    let events = [
        (0, EventKind::Ringing),
        (2_000, EventKind::Answered { rings: 4 }),
        (
            2_100,
            EventKind::PromptStarted {
                name: "welcome".into(),
                language: "zh".into(),
            },
        ),
        (
            3_000,
            EventKind::QueueEntered {
                queue: "general".into(),
                position: 1,
                expected_wait_s: Some(10),
                priority: 0,
            },
        ),
        (
            40_000,
            EventKind::AgentAnswered {
                agent: "alice".into(),
                rings: 1,
                wait_ms: 37_000,
            },
        ),
        (
            40_500,
            EventKind::Bridged {
                agent: "alice".into(),
                transcoding: false,
            },
        ),
        (50_000, EventKind::Hold { by: Party::Agent }),
        (
            56_000,
            EventKind::HoldEnded {
                reason: "resume".into(),
                duration_ms: 6_000,
                check_backs: 0,
            },
        ),
        (
            70_000,
            EventKind::Hangup {
                by: Party::Caller,
                reason: "bye".into(),
            },
        ),
    ];
    for (offset_ms, kind) in events {
        store
            .append_event("call-1", &TimelineEvent { offset_ms, kind })
            .unwrap();
    }
    store
        .recording_started("call-1", "2026/12/01/call-1.wav", t0, 2_000)
        .unwrap();
    store
        .recording_finished(
            "call-1",
            &RecordingEnd {
                state: RecordingState::Complete,
                duration_ms: 68_000,
                sha256: String::new(),
                lost_ms: 1_500,
            },
        )
        .unwrap();
    store
        .finish_call(
            "call-1",
            t0 + jiff::SignedDuration::from_secs(70),
            "completed",
        )
        .unwrap();
    store.call("call-1").unwrap().unwrap()
}

fn reviewer(lang: Lang) -> Session {
    Session {
        user: super::super::auth::User {
            name: "rita".into(),
            role: super::super::auth::Role::Reviewer,
            agent: None,
        },
        csrf: "token".into(),
        lang,
    }
}

/// What a reviewer reads of a page: the text between its tags and its tooltips.
fn read_by_a_reviewer(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c + 1);
        let tag = &rest[open..close];
        for attribute in ["title=\"", "placeholder=\""] {
            if let Some(at) = tag.find(attribute) {
                let value = &tag[at + attribute.len()..];
                out.push_str(&value[..value.find('"').unwrap_or(value.len())]);
                out.push(' ');
            }
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    out.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The desk-phone list's names: alice is 王芳.
fn names() -> super::super::agents::AgentNames {
    super::super::agents::AgentNames::new([("alice".to_string(), "王芳".to_string())])
}

/// The words of lower-case ASCII letters (ids included) in `text`.
fn english_words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '\''))
        .filter(|w| w.chars().any(|c| c.is_ascii_lowercase()))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_chinese_call_page_has_no_english_event_ids_evidence_or_comments_left() {
    let dir = tempfile::tempdir().unwrap();
    let record = audited_call(dir.path());
    let flags = crate::qa::flags(&record, None);
    assert!(flags.iter().any(|f| !f.passed), "{flags:?}");
    let qa = QaView {
        flags: flags.clone(),
        scores: Vec::new(),
        error: None,
    };
    let page = render(&reviewer(Lang::Zh), &record, Some(68_000), &qa, &names());
    let read = read_by_a_reviewer(&page);
    // Only the call's own values (its id, numbers, agent, queue, prompt name) and the
    // seconds' unit are in Latin letters.
    let values = [
        "call",
        "1",
        "sip",
        "13800138000",
        "caller",
        "example",
        "support",
        "hotline",
        "general",
        "alice",
        "welcome",
        "zh",
        "resume",
        "s",
    ];
    let left: Vec<String> = english_words(&read)
        .into_iter()
        .filter(|w| !values.contains(&w.as_str()))
        .collect();
    assert!(left.is_empty(), "English left: {left:?}\n{read}");
    for (id, _, _) in super::super::event_text::EVENT_KINDS {
        assert!(!read.contains(&format!(" {id} ")), "{id} shown\n{read}");
    }
    for flag in &flags {
        assert!(!read.contains(&flag.evidence), "{}\n{read}", flag.evidence);
    }
    // The words a reviewer reads, in Chinese, with the measured values kept.
    for phrase in [
        "<dd>王芳 (alice)</dd>",
        ">坐席接听<",
        ">开始播放提示音<",
        "应答事件：系统在第 4 声振铃时接听，测得 4 声，阈值 3 声",
        "第 1 次保留（共 1 次），6.0 秒（最长 6.0 秒）：没有保留原因事件",
        "坐席接听事件：alice 从队列 general 接听：排队 37.0 秒，阈值 30.0 秒",
        "测得丢失 1.5 秒，阈值 0 秒",
        "未通过：系统三声内接听 (S1)（0.0 秒）",
        "发起方：坐席",
        "title=\"保留 0:48.0 录音中 发起方：坐席\"",
    ] {
        assert!(page.contains(phrase), "{phrase} missing\n{page}");
    }
    // Machines keep the ids.
    for id in [
        "data-kind=\"agent_answered\"",
        "data-kind=\"prompt_started\"",
        "data-kind=\"flag:hold_explained\"",
    ] {
        assert!(page.contains(id), "{id} missing");
    }
    // The same page in English reads the same facts in English.
    let english = render(&reviewer(Lang::En), &record, Some(68_000), &qa, &names());
    assert!(english.contains(">Agent answered<"), "{english}");
    assert!(english.contains(&flags[0].evidence.replace('"', "&quot;")));
    assert!(english.contains("failed: answered_within_rings at 0.0 s"));
}

#[test]
fn flag_markers_read_their_rule_and_evidence_in_the_pages_language() {
    let dir = tempfile::tempdir().unwrap();
    let record = audited_call(dir.path());
    let flags = crate::qa::flags(&record, None);
    let zh = flag_markers(&flags, 2_000, Lang::Zh);
    assert!(!zh.is_empty());
    for (marker, flag) in zh.iter().zip(flags.iter().filter(|f| !f.passed)) {
        assert_eq!(marker.kind, format!("flag:{}", flag.rule.name()));
        assert_eq!(marker.label, flag.rule.label_zh());
        assert!(!marker.detail.contains("event"), "{}", marker.detail);
        assert!(!marker.detail.contains("measured"), "{}", marker.detail);
        assert!(!marker.detail.contains("threshold"), "{}", marker.detail);
    }
    let en = flag_markers(&flags, 2_000, Lang::En);
    assert_eq!(
        en[0].detail,
        flags.iter().find(|f| !f.passed).unwrap().evidence
    );
}
