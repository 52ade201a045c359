//! Tests of the timeline's words: every event kind named, every detail worded, in both languages.

use super::*;
use crate::switch::timeline::Party;

/// One event of every kind, its values Chinese, digits or the switch's codes, so that any
/// ASCII letter left in its Chinese wording is an English word.
fn every_kind() -> Vec<EventKind> {
    use EventKind::*;
    let s = |v: &str| v.to_string();
    vec![
        Invite {
            from: s("13800138000"),
            to: s("4008"),
        },
        Ringing,
        Answered { rings: 1 },
        Confirmed,
        PromptStarted {
            name: s("欢迎"),
            language: s("中文"),
        },
        PromptFinished {
            name: s("欢迎"),
            interrupted: true,
        },
        Dtmf {
            digit: '1',
            source: s("带内"),
        },
        MenuChoice {
            menu: s("主菜单"),
            digit: '2',
            action: s("转队列"),
        },
        MenuInvalid {
            menu: s("主菜单"),
            digit: None,
        },
        MenuNoInput {
            menu: s("主菜单")
        },
        Collected {
            name: s("账号"),
            digits: s("12345"),
        },
        Language {
            language: s("中文"),
        },
        Route {
            target: s("售后")
        },
        Hours { open: false },
        Rejected {
            status: 486,
            reason: s("busy"),
        },
        Hangup {
            by: Party::Caller,
            reason: s("caller hung up"),
        },
        QueueEntered {
            queue: s("售后"),
            position: 2,
            expected_wait_s: Some(40),
            priority: 0,
        },
        Announcement {
            position: 1,
            expected_wait_s: Some(20),
        },
        Offered {
            agent: s("小王"),
            extension: s("8001"),
        },
        OfferEnded {
            agent: s("小王"),
            rings: 3,
            outcome: s("no_answer"),
        },
        AgentAnswered {
            agent: s("小王"),
            rings: 1,
            wait_ms: 5_000,
        },
        Whisper { agent: s("小王") },
        Bridged {
            agent: s("小王"),
            transcoding: false,
        },
        QueueExit {
            queue: s("售后"),
            reason: s("voicemail"),
        },
        CallbackOffered { queue: s("售后") },
        QueueUnstaffed {
            queue: s("售后"),
            unstaffed_s: 60,
        },
        CallbackRequested {
            number: s("13800138000"),
            queue: s("售后"),
            position: 3,
        },
        Voicemail {
            file: s("留言/一号"),
            duration_ms: 12_000,
        },
        WrapUp {
            agent: s("小王"),
            seconds: 30,
        },
        FeatureCode {
            code: s("*21"),
            agent: s("小王"),
            state: s("就绪"),
        },
        Hold { by: Party::Agent },
        Resume { by: Party::Agent },
        MediaBeforeAck,
        MediaTimeout {
            side: Party::Switch,
            silent_ms: 30_000,
        },
        InCallKeys {
            agent: s("小王"),
            keys: s("*4 2"),
            action: s("保留"),
        },
        HoldReason {
            agent: s("小王"),
            reason: s("查询账户"),
            expected_s: 60,
            by: s("keys"),
        },
        HoldCheckBack { number: 1 },
        HoldOverrun {
            reason: s("查询账户"),
            estimate_s: 30,
        },
        HoldReminder {
            agent: s("小王"),
            held_s: 120,
        },
        HoldEnded {
            reason: s("查询账户"),
            duration_ms: 6_000,
            check_backs: 0,
        },
        TransferRequested {
            agent: s("小王"),
            kind: s("blind"),
            method: s("refer"),
            target: s("8002"),
        },
        TransferExplained {
            target: s("8002"),
            expected_wait_s: 20,
        },
        TransferCompleted {
            agent: s("小李"),
            kind: s("attended"),
        },
        TransferFailed {
            target: s("8002"),
            reason: s("no_answer"),
            status: Some(480),
        },
        Recall {
            to: s("小王"),
            reason: s("declined"),
        },
        AgentLegLost {
            agent: s("小王"),
            reason: s("media_timeout"),
        },
        Requeued { queue: s("售后") },
        ContextHandedOver {
            agent: s("小李"),
            items: vec![s("账号 12345"), s("语言 中文")],
        },
        RecordingStarted {
            file: s("录音/甲")
        },
        RecordingPaused {
            by: Party::Agent,
            agent: s("小王"),
        },
        RecordingResumed {
            by: Party::Agent,
            agent: s("小王"),
            paused_ms: 4_000,
        },
    ]
}

/// Each kind's number: a new kind does not compile here until it has one, and the test
/// then asks for an event of it (and so for its words).
fn kind_number(kind: &EventKind) -> usize {
    use EventKind::*;
    match kind {
        Invite { .. } => 0,
        Ringing => 1,
        Answered { .. } => 2,
        Confirmed => 3,
        PromptStarted { .. } => 4,
        PromptFinished { .. } => 5,
        Dtmf { .. } => 6,
        MenuChoice { .. } => 7,
        MenuInvalid { .. } => 8,
        MenuNoInput { .. } => 9,
        Collected { .. } => 10,
        Language { .. } => 11,
        Route { .. } => 12,
        Hours { .. } => 13,
        Rejected { .. } => 14,
        Hangup { .. } => 15,
        QueueEntered { .. } => 16,
        Announcement { .. } => 17,
        Offered { .. } => 18,
        OfferEnded { .. } => 19,
        AgentAnswered { .. } => 20,
        Whisper { .. } => 21,
        Bridged { .. } => 22,
        QueueExit { .. } => 23,
        CallbackRequested { .. } => 24,
        Voicemail { .. } => 25,
        WrapUp { .. } => 26,
        FeatureCode { .. } => 27,
        Hold { .. } => 28,
        Resume { .. } => 29,
        MediaBeforeAck => 30,
        MediaTimeout { .. } => 31,
        InCallKeys { .. } => 32,
        HoldReason { .. } => 33,
        HoldCheckBack { .. } => 34,
        HoldOverrun { .. } => 35,
        HoldReminder { .. } => 36,
        HoldEnded { .. } => 37,
        TransferRequested { .. } => 38,
        TransferExplained { .. } => 39,
        TransferCompleted { .. } => 40,
        TransferFailed { .. } => 41,
        Recall { .. } => 42,
        AgentLegLost { .. } => 43,
        Requeued { .. } => 44,
        ContextHandedOver { .. } => 45,
        RecordingStarted { .. } => 46,
        RecordingPaused { .. } => 47,
        RecordingResumed { .. } => 48,
        CallbackOffered { .. } => 49,
        QueueUnstaffed { .. } => 50,
    }
}

const KINDS: usize = 51;

#[test]
fn every_event_kind_has_an_english_and_a_chinese_name_and_chinese_details() {
    let kinds = every_kind();
    let mut numbers: Vec<usize> = kinds.iter().map(kind_number).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(
        numbers,
        (0..KINDS).collect::<Vec<_>>(),
        "a kind has no sample"
    );
    for kind in &kinds {
        let id = kind.name();
        let row = EVENT_KINDS.iter().find(|(k, _, _)| *k == id);
        assert!(row.is_some(), "{id} has no words");
        let (en, zh) = (kind_label(id, Lang::En), kind_label(id, Lang::Zh));
        assert!(!en.contains('_') && en != id, "{id}: {en}");
        assert!(zh.chars().all(|c| c as u32 > 0x2E80), "{id}: {zh}");
        let detail = event_detail(kind, Lang::Zh);
        assert!(
            !detail.chars().any(|c| c.is_ascii_alphabetic() || c == '='),
            "{id}: English left in {detail:?}"
        );
        let english = event_detail(kind, Lang::En);
        assert_eq!(
            english.matches('=').count(),
            detail.matches('：').count(),
            "{id}: {english} / {detail}"
        );
    }
    assert_eq!(EVENT_KINDS.len(), KINDS, "a row for a kind that is not one");
}

#[test]
fn details_name_fields_parties_and_codes_in_chinese_and_keep_the_values() {
    let offer = EventKind::OfferEnded {
        agent: "alice".into(),
        rings: 3,
        outcome: "no_answer".into(),
    };
    assert_eq!(
        event_detail(&offer, Lang::En),
        "agent=alice outcome=no_answer rings=3"
    );
    assert_eq!(
        event_detail(&offer, Lang::Zh),
        "坐席：alice，结果：无人接听，振铃次数：3"
    );
    let hold = EventKind::Hold { by: Party::Agent };
    assert_eq!(event_detail(&hold, Lang::Zh), "发起方：坐席");
    assert_eq!(kind_label("agent_answered", Lang::Zh), "坐席接听");
    assert_eq!(kind_label("prompt_started", Lang::En), "Prompt started");
}
