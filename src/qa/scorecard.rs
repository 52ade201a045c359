//! The QA scorecard of STANDARDS.md §4: its items (auto-scored ones filled in from the
//! flags, the others scored by the reviewer), points, the critical items that zero the
//! score, and a reviewer's saved [`Score`].
//!
//! Critical items: "identity verified" (S3 asks 100 %) and "no forbidden phrases" (§2's
//! list, "never"). Either scored 0 zeroes the call's total, as commercial QA forms do with
//! "fatal" items.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Flag, Rule};

/// One line of the scorecard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Stable id (stored with scores, used in forms).
    pub id: &'static str,
    pub label_en: &'static str,
    pub label_zh: &'static str,
    /// Points when fully met.
    pub points: u32,
    /// Scored from this rule's flags (and the rules it covers, see [`covers`]); `None`
    /// means the reviewer scores it.
    pub auto: Option<Rule>,
    /// Scored 0, the whole call scores 0.
    pub critical: bool,
}

impl Item {
    pub fn label(&self, language: &str) -> &'static str {
        if language.starts_with("zh") {
            self.label_zh
        } else {
            self.label_en
        }
    }
}

const fn item(
    id: &'static str,
    label_en: &'static str,
    label_zh: &'static str,
    points: u32,
    auto: Option<Rule>,
    critical: bool,
) -> Item {
    Item {
        id,
        label_en,
        label_zh,
        points,
        auto,
        critical,
    }
}

/// The scorecard, in the order of the form; points add up to 100.
pub const ITEMS: [Item; 15] = [
    item(
        "answered_within_rings",
        "Answered within 3 rings (S1)",
        "三声内接听 (S1)",
        10,
        Some(Rule::AnsweredWithinRings),
        false,
    ),
    item(
        "greeting_within_10s",
        "Greeting within 10 s (S2)",
        "开场白10秒内完成 (S2)",
        10,
        Some(Rule::GreetingWithin10s),
        false,
    ),
    item(
        "hold_explained",
        "Hold: explanation played, check-backs",
        "保留:说明原因并定时回报",
        5,
        Some(Rule::HoldExplained),
        false,
    ),
    item(
        "transfer_explained",
        "Transfer: explained, wait announced, context handed over",
        "转接:说明原因、告知等待时间、交接背景",
        5,
        Some(Rule::TransferExplained),
        false,
    ),
    item(
        "wait_in_queue",
        "Time in queue within 30 s (S4) and 10 min (S5)",
        "排队等候30秒内 (S4)、不超过10分钟 (S5)",
        5,
        Some(Rule::WaitUnder30s),
        false,
    ),
    item(
        "greeting_content",
        "Greeting names company, centre and agent",
        "开场白包含公司、中心及客服姓名",
        10,
        None,
        false,
    ),
    item(
        "identity_verified",
        "Identity verified (S3)",
        "身份确认 (S3)",
        10,
        None,
        true,
    ),
    item(
        "first_guiding_question",
        "First guiding question (S8)",
        "首句引导 (S8)",
        5,
        None,
        false,
    ),
    item(
        "listened",
        "Listened without interrupting",
        "耐心倾听不打断",
        5,
        None,
        false,
    ),
    item(
        "confirmed_need",
        "Confirmed the need",
        "确认客户需求",
        5,
        None,
        false,
    ),
    item(
        "no_forbidden_phrases",
        "No forbidden phrases",
        "无禁用语",
        10,
        None,
        true,
    ),
    item(
        "hold_permission",
        "Hold permission asked",
        "保留前征得同意",
        5,
        None,
        false,
    ),
    item(
        "solution_next_steps",
        "Solution and next steps with a time",
        "提供解决方案及时限",
        5,
        None,
        false,
    ),
    item("summary", "Summary", "总结", 5, None, false),
    item(
        "closing",
        "Closing with thanks and a wish",
        "结束语致谢及祝福",
        5,
        None,
        false,
    ),
];

/// The item of an id.
pub fn item_by_id(id: &str) -> Option<&'static Item> {
    ITEMS.iter().find(|item| item.id == id)
}

/// Whether an item auto-scored from `item_rule` takes flags of `flag_rule` into account:
/// S1 covers the switch, the agent and every transfer target; the hold item covers
/// check-backs; the transfer item its wait and context; the queue item both S4 and S5.
pub fn covers(item_rule: Rule, flag_rule: Rule) -> bool {
    use Rule::*;
    item_rule == flag_rule
        || matches!(
            (item_rule, flag_rule),
            (
                AnsweredWithinRings,
                AgentAnsweredWithinRings | TransferTargetWithinRings
            ) | (HoldExplained, HoldCheckBacks)
                | (
                    TransferExplained,
                    TransferWaitAnnounced | ContextHandedOver | TransferRecalled
                )
                | (WaitUnder30s, WaitUnder10min)
        )
}

/// One item's score, with the reviewer's (or the automatic) comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemScore {
    pub id: String,
    pub points: u32,
    pub comment: String,
}

/// A reviewer's scorecard of one call (one per call and reviewer; saving again replaces it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Score {
    pub call_id: String,
    pub reviewer: String,
    #[serde(serialize_with = "super::serialize_timestamp")]
    pub at: Timestamp,
    pub items: Vec<ItemScore>,
    pub total: u32,
    /// A critical item scored 0: `total` is 0.
    pub critical_failed: bool,
}

/// Why a submitted scorecard is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    #[error("no scorecard item \"{0}\"")]
    UnknownItem(String),
    #[error("item \"{id}\" scored {points}, more than its {max} points")]
    TooManyPoints { id: String, points: u32, max: u32 },
    #[error("item \"{0}\" scored twice")]
    Duplicate(String),
    #[error("item \"{0}\" is not scored")]
    Missing(String),
}

impl Score {
    /// A complete scorecard: every item scored once within its points; total and the
    /// critical rule computed here, never taken from the form.
    pub fn new(
        call_id: &str,
        reviewer: &str,
        at: Timestamp,
        items: Vec<ItemScore>,
    ) -> Result<Score, ScoreError> {
        for (i, scored) in items.iter().enumerate() {
            let item =
                item_by_id(&scored.id).ok_or_else(|| ScoreError::UnknownItem(scored.id.clone()))?;
            if scored.points > item.points {
                return Err(ScoreError::TooManyPoints {
                    id: scored.id.clone(),
                    points: scored.points,
                    max: item.points,
                });
            }
            if items[..i].iter().any(|other| other.id == scored.id) {
                return Err(ScoreError::Duplicate(scored.id.clone()));
            }
        }
        if let Some(missing) = ITEMS
            .iter()
            .find(|item| !items.iter().any(|s| s.id == item.id))
        {
            return Err(ScoreError::Missing(missing.id.to_string()));
        }
        let (total, critical_failed) = total(&items);
        Ok(Score {
            call_id: call_id.to_string(),
            reviewer: reviewer.to_string(),
            at,
            items,
            total,
            critical_failed,
        })
    }
}

/// The sum of the items' points, and whether a critical item scored 0 — which makes the
/// total 0. Unknown ids count nothing.
pub fn total(items: &[ItemScore]) -> (u32, bool) {
    let critical_failed = items.iter().any(|scored| {
        item_by_id(&scored.id).is_some_and(|item| item.critical && scored.points == 0)
    });
    if critical_failed {
        return (0, true);
    }
    let sum = items
        .iter()
        .filter_map(|scored| item_by_id(&scored.id).map(|item| scored.points.min(item.points)))
        .sum();
    (sum, false)
}

/// The auto-scored items filled in from the flags (overrides count): full points when
/// every covered flag passed, 0 when one failed (the comment names which), full points
/// with "not applicable" when the call had no such flag (no hold, no transfer, no queue).
/// Comments in English, as saved and exported.
pub fn auto_items(flags: &[Flag]) -> Vec<ItemScore> {
    auto_items_in(flags, "en")
}

/// [`auto_items`] with the comments in `language` ("zh..." gives Chinese, naming the failed
/// rules by their Chinese labels; anything else English, naming them by their ids).
pub fn auto_items_in(flags: &[Flag], language: &str) -> Vec<ItemScore> {
    let chinese = language.starts_with("zh");
    ITEMS
        .iter()
        .filter_map(|item| {
            let rule = item.auto?;
            let covered: Vec<&Flag> = flags.iter().filter(|f| covers(rule, f.rule)).collect();
            let failed: Vec<&Flag> = covered
                .iter()
                .copied()
                .filter(|f| !f.effective_passed())
                .collect();
            let (points, comment) = if covered.is_empty() {
                let comment = if chinese {
                    "不适用：此通话没有需要检查的内容"
                } else {
                    "not applicable: nothing on this call to check"
                };
                (item.points, comment.to_string())
            } else if failed.is_empty() {
                let comment = if chinese {
                    format!("{} 项标记通过", covered.len())
                } else {
                    format!("{} flag(s) passed", covered.len())
                };
                (item.points, comment)
            } else {
                let at = |f: &Flag| f.start_ms as f64 / 1000.0;
                let comment = if chinese {
                    let names: Vec<String> = failed
                        .iter()
                        .map(|f| format!("{}（{:.1} 秒）", f.rule.label_zh(), at(f)))
                        .collect();
                    format!("未通过：{}", names.join("；"))
                } else {
                    let names: Vec<String> = failed
                        .iter()
                        .map(|f| format!("{} at {:.1} s", f.rule, at(f)))
                        .collect();
                    format!("failed: {}", names.join("; "))
                };
                (0, comment)
            };
            Some(ItemScore {
                id: item.id.to_string(),
                points,
                comment,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_full() -> Vec<ItemScore> {
        ITEMS
            .iter()
            .map(|item| ItemScore {
                id: item.id.into(),
                points: item.points,
                comment: String::new(),
            })
            .collect()
    }

    #[test]
    fn the_scorecard_adds_up_to_100_with_two_critical_items() {
        assert_eq!(ITEMS.iter().map(|i| i.points).sum::<u32>(), 100);
        let critical: Vec<&str> = ITEMS.iter().filter(|i| i.critical).map(|i| i.id).collect();
        assert_eq!(critical, ["identity_verified", "no_forbidden_phrases"]);
        assert_eq!(total(&all_full()), (100, false));
    }

    #[test]
    fn a_failed_critical_item_zeroes_the_total() {
        let mut items = all_full();
        items
            .iter_mut()
            .find(|i| i.id == "no_forbidden_phrases")
            .unwrap()
            .points = 0;
        assert_eq!(total(&items), (0, true));
        let mut items = all_full();
        items.iter_mut().find(|i| i.id == "summary").unwrap().points = 2;
        assert_eq!(total(&items), (97, false));
    }

    #[test]
    fn a_scorecard_over_an_items_points_or_missing_an_item_is_refused() {
        let at = Timestamp::UNIX_EPOCH;
        let mut items = all_full();
        items[0].points = 11;
        assert_eq!(
            Score::new("c", "r", at, items),
            Err(ScoreError::TooManyPoints {
                id: "answered_within_rings".into(),
                points: 11,
                max: 10
            })
        );
        let mut items = all_full();
        items.pop();
        assert_eq!(
            Score::new("c", "r", at, items),
            Err(ScoreError::Missing("closing".into()))
        );
        let mut items = all_full();
        items.push(items[1].clone());
        assert_eq!(
            Score::new("c", "r", at, items),
            Err(ScoreError::Duplicate("greeting_within_10s".into()))
        );
        let score = Score::new("c", "r", at, all_full()).unwrap();
        assert_eq!((score.total, score.critical_failed), (100, false));
    }

    fn flag(rule: Rule, passed: bool, start_ms: u64) -> Flag {
        Flag {
            rule,
            passed,
            start_ms,
            end_ms: start_ms,
            evidence: String::new(),
            measured: None,
            threshold: None,
            overridden: None,
            sentence: None,
        }
    }

    #[test]
    fn auto_items_take_every_covered_flag_and_reviewers_overrides() {
        let mut flags = vec![
            flag(Rule::AnsweredWithinRings, true, 0),
            flag(Rule::AgentAnsweredWithinRings, false, 20_000),
            flag(Rule::HoldExplained, true, 60_000),
            flag(Rule::HoldCheckBacks, true, 60_000),
        ];
        let items = auto_items(&flags);
        let by_id = |items: &[ItemScore], id: &str| {
            let i = items.iter().find(|i| i.id == id).unwrap();
            (i.points, i.comment.clone())
        };
        assert_eq!(items.len(), 5);
        assert_eq!(
            by_id(&items, "answered_within_rings"),
            (0, "failed: agent_answered_within_rings at 20.0 s".into())
        );
        assert_eq!(
            by_id(&items, "hold_explained"),
            (5, "2 flag(s) passed".into())
        );
        assert_eq!(
            by_id(&items, "transfer_explained"),
            (5, "not applicable: nothing on this call to check".into())
        );
        let chinese = auto_items_in(&flags, "zh");
        assert_eq!(
            by_id(&chinese, "answered_within_rings"),
            (0, "未通过：客服三声内接听 (S1)（20.0 秒）".into())
        );
        assert_eq!(
            by_id(&chinese, "hold_explained"),
            (5, "2 项标记通过".into())
        );
        assert_eq!(
            by_id(&chinese, "transfer_explained"),
            (5, "不适用：此通话没有需要检查的内容".into())
        );
        for item in &chinese {
            assert!(
                !item.comment.chars().any(|c| c.is_ascii_lowercase()),
                "{item:?}"
            );
        }
        flags[1].overridden = Some(super::super::FlagOverride {
            by: "rev".into(),
            at: Timestamp::UNIX_EPOCH,
            passed: true,
            comment: "phone was faulty".into(),
        });
        assert_eq!(by_id(&auto_items(&flags), "answered_within_rings").0, 10);
    }
}
