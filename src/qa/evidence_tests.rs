//! Tests of the evidence sentences: every one worded in Chinese with its values kept.

use super::*;
use crate::qa::Rule;

fn hold() -> HoldAbout {
    HoldAbout {
        number: 2,
        count: 3,
        held_ms: 45_000,
        longest_ms: 61_500,
    }
}

fn transfer(kind: &str) -> TransferAbout {
    TransferAbout {
        kind: kind.into(),
        agent: "小王".into(),
        target: "8002".into(),
    }
}

/// One sample of every sentence (and every way a sentence's parts can be), with the rule
/// whose flags write it. Values are Chinese or digits, so any ASCII letter left in a
/// Chinese sentence is an English word.
fn samples() -> Vec<(Rule, Evidence)> {
    use Evidence::*;
    vec![
        (
            Rule::AnsweredWithinRings,
            SwitchAnswered { rings: 4, limit: 3 },
        ),
        (
            Rule::AgentAnsweredWithinRings,
            AgentAnswered {
                transfer_target: false,
                agent: "小王".into(),
                rings: 2,
                limit: 3,
            },
        ),
        (
            Rule::TransferTargetWithinRings,
            AgentAnswered {
                transfer_target: true,
                agent: "小李".into(),
                rings: 5,
                limit: 3,
            },
        ),
        (
            Rule::AgentAnsweredWithinRings,
            OfferNotAnswered {
                agent: "小王".into(),
                rings: 3,
                limit: 3,
            },
        ),
        (
            Rule::TransferTargetWithinRings,
            TransferTargetNotAnswered {
                target: "8002".into(),
            },
        ),
        (
            Rule::WaitUnder30s,
            Waited {
                end: QueueSpellEnd::AgentAnswered {
                    agent: "小王".into(),
                    queue: "售后".into(),
                },
                waited_ms: 42_000,
                limit_ms: 30_000,
            },
        ),
        (
            Rule::WaitUnder10min,
            Waited {
                end: QueueSpellEnd::ExitTaken {
                    queue: "售后".into(),
                    exit: "callback_offer".into(),
                    unstaffed: false,
                },
                waited_ms: 42_000,
                limit_ms: 600_000,
            },
        ),
        (
            Rule::WaitUnder10min,
            Waited {
                end: QueueSpellEnd::ExitTaken {
                    queue: "售后".into(),
                    exit: "unstaffed".into(),
                    unstaffed: true,
                },
                waited_ms: 72_000,
                limit_ms: 600_000,
            },
        ),
        (
            Rule::WaitUnder30s,
            Waited {
                end: QueueSpellEnd::CallerLeft {
                    queue: "售后".into(),
                },
                waited_ms: 12_300,
                limit_ms: 30_000,
            },
        ),
        (
            Rule::Abandoned,
            SwitchEndedInQueue {
                queue: "售后".into(),
            },
        ),
        (
            Rule::Abandoned,
            AbandonedInQueue {
                waited_ms: 75_000,
                queue: "售后".into(),
            },
        ),
        (Rule::Abandoned, AbandonedWhileRinging { rang_ms: 9_000 }),
        (Rule::Abandoned, StayedInQueue),
        (
            Rule::HoldExplained,
            HoldExplained {
                hold: hold(),
                reason: "查询账户".into(),
                expected_s: 60,
                after_ms: 1_200,
                limit_ms: 2_000,
            },
        ),
        (Rule::HoldExplained, HoldNotExplained { hold: hold() }),
        (
            Rule::HoldCheckBacks,
            HoldCheckBacks {
                hold: hold(),
                check_backs: 1,
                gap_ms: 33_000,
                limit_ms: 31_000,
            },
        ),
        (
            Rule::TransferExplained,
            TransferExplained {
                transfer: transfer("blind"),
                after_ms: 800,
            },
        ),
        (
            Rule::TransferWaitAnnounced,
            TransferWaitAnnounced {
                transfer: transfer("attended"),
                wait_s: 20,
            },
        ),
        (
            Rule::TransferWaitAnnounced,
            TransferNotExplained {
                transfer: transfer("blind"),
            },
        ),
        (
            Rule::ContextHandedOver,
            ContextHandedOver {
                transfer: transfer("blind"),
                agent: "小李".into(),
                items: vec!["账号 12345".into(), "语言 中文".into()],
            },
        ),
        (
            Rule::ContextHandedOver,
            ContextHandedOver {
                transfer: transfer("attended"),
                agent: "小李".into(),
                items: vec![],
            },
        ),
        (
            Rule::ContextHandedOver,
            ContextNotHandedOver {
                transfer: transfer("blind"),
                to: "小李".into(),
            },
        ),
        (
            Rule::TransferRecalled,
            TransferRecalled {
                transfer: transfer("blind"),
                reason: "no_answer".into(),
                back: BroughtBack::Recall {
                    to: "小王".into()
                },
            },
        ),
        (
            Rule::TransferRecalled,
            TransferRecalled {
                transfer: transfer("blind"),
                reason: "busy".into(),
                back: BroughtBack::Requeued {
                    queue: "售后".into(),
                },
            },
        ),
        (
            Rule::TransferRecalled,
            TransferNotRecalled {
                transfer: transfer("attended"),
                reason: "declined".into(),
            },
        ),
        (Rule::RecordingLost, RecordingLost { lost_ms: 1_500 }),
        (
            Rule::GreetingWithin10s,
            NoGreeting {
                agent: "小王".into(),
                connect_ms: 8_500,
            },
        ),
        (
            Rule::GreetingWithin10s,
            Greeting {
                agent: "小王".into(),
                late_ms: 600,
                took_ms: 11_200,
                connect_ms: 8_500,
                limit_ms: 10_000,
                start_limit_ms: 3_000,
            },
        ),
        (
            Rule::Silence,
            Silence {
                silent_ms: 7_400,
                limit_ms: 5_000,
            },
        ),
        (
            Rule::Silence,
            LongestSilence {
                longest_ms: 2_100,
                limit_ms: 5_000,
            },
        ),
        (
            Rule::TalkOver,
            TalkOver {
                both_ms: 3_300,
                limit_ms: 2_000,
            },
        ),
        (
            Rule::TalkOver,
            LongestTalkOver {
                longest_ms: 900,
                limit_ms: 2_000,
            },
        ),
    ]
}

/// Each sentence's number: a new sentence does not compile here until it has one, and the
/// test below then asks for a sample of it.
fn sentence_number(evidence: &Evidence) -> usize {
    use Evidence::*;
    match evidence {
        SwitchAnswered { .. } => 0,
        AgentAnswered { .. } => 1,
        OfferNotAnswered { .. } => 2,
        TransferTargetNotAnswered { .. } => 3,
        Waited { .. } => 4,
        SwitchEndedInQueue { .. } => 5,
        AbandonedInQueue { .. } => 6,
        AbandonedWhileRinging { .. } => 7,
        StayedInQueue => 8,
        HoldExplained { .. } => 9,
        HoldNotExplained { .. } => 10,
        HoldCheckBacks { .. } => 11,
        TransferExplained { .. } => 12,
        TransferWaitAnnounced { .. } => 13,
        TransferNotExplained { .. } => 14,
        ContextHandedOver { .. } => 15,
        ContextNotHandedOver { .. } => 16,
        TransferRecalled { .. } => 17,
        TransferNotRecalled { .. } => 18,
        RecordingLost { .. } => 19,
        NoGreeting { .. } => 20,
        Greeting { .. } => 21,
        Silence { .. } => 22,
        LongestSilence { .. } => 23,
        TalkOver { .. } => 24,
        LongestTalkOver { .. } => 25,
    }
}

const SENTENCES: usize = 26;

#[test]
fn every_evidence_sentence_of_every_rule_has_a_chinese_wording_with_no_english_left() {
    let samples = samples();
    let mut seen: Vec<usize> = samples.iter().map(|(_, e)| sentence_number(e)).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        (0..SENTENCES).collect::<Vec<_>>(),
        "a sentence has no sample"
    );
    for rule in Rule::ALL {
        assert!(
            samples.iter().any(|(r, _)| *r == rule),
            "{rule}: no evidence sample"
        );
    }
    for (rule, evidence) in &samples {
        let zh = evidence.text("zh");
        let en = evidence.text("en");
        assert_eq!(en, evidence.english());
        assert_ne!(zh, en, "{rule}");
        assert!(
            !zh.chars().any(|c| c.is_ascii_alphabetic()),
            "{rule}: English left in {zh:?}"
        );
        assert!(zh.chars().any(|c| c as u32 > 0x2E80), "{rule}: {zh:?}");
        // Every number of the English sentence is in the Chinese one.
        for number in en
            .split(|c: char| !c.is_ascii_digit() && c != '.')
            .map(|n| n.trim_matches('.'))
            .filter(|n| !n.is_empty())
        {
            assert!(zh.contains(number), "{rule}: {number} missing from {zh:?}");
        }
    }
}

#[test]
fn chinese_evidence_keeps_the_measured_values() {
    let late = Evidence::Waited {
        end: QueueSpellEnd::AgentAnswered {
            agent: "alice".into(),
            queue: "general".into(),
        },
        waited_ms: 42_000,
        limit_ms: 30_000,
    };
    assert_eq!(
        late.text("en"),
        "agent_answered event: alice answered from general: measured 42.0 s in queue against threshold 30.0 s"
    );
    assert_eq!(
        late.text("zh"),
        "坐席接听事件：alice 从队列 general 接听：排队 42.0 秒，阈值 30.0 秒"
    );
    let rings = Evidence::SwitchAnswered { rings: 4, limit: 3 };
    assert_eq!(
        rings.text("zh"),
        "应答事件：系统在第 4 声振铃时接听，测得 4 声，阈值 3 声"
    );
}

#[test]
fn reason_codes_have_chinese_words_and_other_values_stay_as_they_are() {
    assert_eq!(code_word("no_answer", "zh"), "无人接听");
    assert_eq!(code_word("no_answer", "en"), "no_answer");
    assert_eq!(code_word("general", "zh"), "general");
    for (code, zh) in CODE_WORDS_ZH {
        assert!(zh.chars().all(|c| c as u32 > 0x2E80), "{code}: {zh}");
    }
}
