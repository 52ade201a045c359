//! `[hold]`: how a caller on hold is told why and for how long — the hold reasons (each a
//! prompt and an expected duration, chosen by the agent's keys), the check-back interval and
//! the maximum before the agent is reminded — its TOML shape and its checks. Queues pick
//! their reasons and default by name (`[queue.NAME] hold_reasons`, `default_hold_reason`).
//!
//! Without a `[hold.reason.NAME]` table the three shipped reasons apply (lookup `1` 2 min,
//! colleague `2` 3 min, system `3` 1 min); a reason table replaces them all.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::Checker;
use crate::config::duration::format_duration;
use crate::config::error::key_segment;

/// One reason an agent can give for a hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldReason {
    pub name: String,
    /// The digit after the hold-reason keys (`*4` then this) that chooses it.
    pub digit: char,
    /// The explanation's opening prompt ("To look this up for you, I need to place you on
    /// hold for about"); the switch says the duration after it ("2 minutes. Thank you for
    /// your patience.").
    pub prompt: String,
    /// How long the caller is told the hold lasts.
    pub expected: Duration,
}

/// Hold settings shared by the dialplan's queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldSettings {
    /// "Your agent will be back shortly" this often during a hold (default 30 s).
    pub check_back: Duration,
    /// Past this the agent is reminded in a whisper (default 5 min).
    pub max: Duration,
    /// Every reason, by name.
    pub reasons: BTreeMap<String, HoldReason>,
    /// The reason used when a queue names none and the agent chose none.
    pub default_reason: String,
}

pub const DEFAULT_CHECK_BACK: Duration = Duration::from_secs(30);
pub const DEFAULT_HOLD_MAX: Duration = Duration::from_secs(5 * 60);
/// Check-backs closer than 10 s would talk over the music; beyond 10 min the caller would
/// think the line dead.
const CHECK_BACK_RANGE: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(600));
/// The reminder to the agent: not before a minute, not after an hour.
const HOLD_MAX_RANGE: (Duration, Duration) = (Duration::from_secs(60), Duration::from_secs(3600));
/// What a caller can be told a hold lasts: 10 s to 30 min.
const EXPECTED_RANGE: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(1800));

/// What the switch plays around any hold, whatever the reason: the duration
/// ("digit_N minutes", "less_than_a_minute"), "thanks_patience", the check-back, the thanks
/// on resume, the overrun apology, the agent's confirmation tone and over-long reminder
/// ("whisper_hold_reminder digit_N minutes"). Each reason adds its own prompt and
/// `whisper_hold_<REASON>`, what the next agent hears when the call moves on.
/// The digits `digit_0` … `digit_9` are needed as well.
pub const HOLD_PROMPTS: [&str; 8] = [
    "minutes",
    "less_than_a_minute",
    "thanks_patience",
    "hold_checkback",
    "hold_return",
    "hold_overrun",
    "confirm_tone",
    "whisper_hold_reminder",
];

/// The prompt the next agent hears for a hold with this reason (`whisper_hold_lookup`).
pub fn hold_whisper_prompt(reason: &str) -> String {
    format!("whisper_hold_{reason}")
}

impl Default for HoldSettings {
    fn default() -> Self {
        let reasons = [
            ("lookup", '1', "hold", 120),
            ("colleague", '2', "hold_colleague", 180),
            ("system", '3', "hold_system", 60),
        ]
        .into_iter()
        .map(|(name, digit, prompt, seconds)| {
            (
                name.to_string(),
                HoldReason {
                    name: name.to_string(),
                    digit,
                    prompt: prompt.to_string(),
                    expected: Duration::from_secs(seconds),
                },
            )
        })
        .collect();
        HoldSettings {
            check_back: DEFAULT_CHECK_BACK,
            max: DEFAULT_HOLD_MAX,
            reasons,
            default_reason: "lookup".to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHold {
    check_back: Option<String>,
    max: Option<String>,
    default_reason: Option<String>,
    reason: Option<BTreeMap<String, RawHoldReason>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHoldReason {
    digit: Option<String>,
    prompt: Option<String>,
    expected: Option<String>,
}

impl Checker<'_> {
    pub(super) fn hold(&mut self, raw: RawHold) -> HoldSettings {
        let defaults = HoldSettings::default();
        let check_back = self.bounded_duration(
            "hold.check_back",
            raw.check_back,
            defaults.check_back,
            CHECK_BACK_RANGE,
            "how often a caller on hold hears that their agent will be back",
        );
        let max = self.bounded_duration(
            "hold.max",
            raw.max,
            defaults.max,
            HOLD_MAX_RANGE,
            "how long a caller is on hold before the agent is reminded",
        );
        let reasons = match raw.reason {
            None => defaults.reasons,
            Some(raw_reasons) => self.hold_reasons(raw_reasons),
        };
        let default_reason = match raw.default_reason {
            Some(name) => {
                if !reasons.contains_key(&name) {
                    self.error(
                        "hold.default_reason",
                        format!(
                            "unknown hold reason \"{name}\" (declare it as [hold.reason.{}])",
                            key_segment(&name)
                        ),
                    );
                }
                name
            }
            None => {
                if !reasons.is_empty() && !reasons.contains_key(&defaults.default_reason) {
                    self.error(
                        "hold.default_reason",
                        format!(
                            "is not set and there is no reason \"{}\" to default to; name one of {}",
                            defaults.default_reason,
                            names(&reasons)
                        ),
                    );
                }
                defaults.default_reason
            }
        };
        HoldSettings {
            check_back,
            max,
            reasons,
            default_reason,
        }
    }

    fn hold_reasons(
        &mut self,
        raw: BTreeMap<String, RawHoldReason>,
    ) -> BTreeMap<String, HoldReason> {
        if raw.is_empty() {
            self.error(
                "hold.reason",
                "has no reasons; declare at least one [hold.reason.NAME], or leave the table out for the three shipped ones",
            );
        }
        let mut reasons: BTreeMap<String, HoldReason> = BTreeMap::new();
        for (name, raw_reason) in raw {
            let key = format!("hold.reason.{}", key_segment(&name));
            let plain = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !plain {
                self.error(
                    &key,
                    format!("reason name \"{name}\" must be lower-case letters, digits and _ (it names the prompt whisper_hold_<NAME>)"),
                );
            }
            let missing: Vec<&str> = [
                ("digit", raw_reason.digit.is_none()),
                ("prompt", raw_reason.prompt.is_none()),
                ("expected", raw_reason.expected.is_none()),
            ]
            .into_iter()
            .filter_map(|(field, missing)| missing.then_some(field))
            .collect();
            if !missing.is_empty() {
                self.error(
                    &key,
                    format!(
                        "reason \"{name}\" needs digit, prompt and expected, but has no {}",
                        missing.join(" or ")
                    ),
                );
                continue;
            }
            let (Some(digit_text), Some(prompt), Some(expected_text)) =
                (raw_reason.digit, raw_reason.prompt, raw_reason.expected)
            else {
                continue;
            };
            let digit_key = format!("{key}.digit");
            let mut chars = digit_text.chars();
            let digit = match (chars.next(), chars.next()) {
                (Some(digit), None) if digit.is_ascii_digit() => digit,
                _ => {
                    self.error(
                        &digit_key,
                        format!("\"{digit_text}\" must be one digit 0-9, pressed after the hold-reason keys"),
                    );
                    continue;
                }
            };
            if let Some(other) = reasons.values().find(|r| r.digit == digit) {
                self.error(
                    &digit_key,
                    format!("digit \"{digit}\" already chooses reason \"{}\"; each reason needs its own digit", other.name),
                );
            }
            let prompt = self.prompt_name(&format!("{key}.prompt"), prompt);
            let expected = self.bounded_duration(
                &format!("{key}.expected"),
                Some(expected_text),
                Duration::from_secs(120),
                EXPECTED_RANGE,
                "what the caller is told the hold lasts",
            );
            reasons.insert(
                name.clone(),
                HoldReason {
                    name,
                    digit,
                    prompt,
                    expected,
                },
            );
        }
        reasons
    }

    /// A duration within `range` (inclusive); outside it (or unreadable) an error that says
    /// what the setting is for, and `default`.
    pub(super) fn bounded_duration(
        &mut self,
        key: &str,
        text: Option<String>,
        default: Duration,
        (least, most): (Duration, Duration),
        what: &str,
    ) -> Duration {
        let Some(text) = text else { return default };
        let Ok(value) = super::parse_duration(&text).map_err(|message| self.error(key, message))
        else {
            return default;
        };
        if value < least || value > most {
            self.error(
                key,
                format!(
                    "\"{text}\" is out of range: {what} must be from {} to {}",
                    format_duration(least),
                    format_duration(most)
                ),
            );
            return default;
        }
        value
    }
}

fn names(reasons: &BTreeMap<String, HoldReason>) -> String {
    let quoted: Vec<String> = reasons.keys().map(|name| format!("\"{name}\"")).collect();
    quoted.join(", ")
}

pub(crate) fn describe_hold(hold: &HoldSettings) -> String {
    let mut by_digit: Vec<&HoldReason> = hold.reasons.values().collect();
    by_digit.sort_by_key(|reason| reason.digit);
    let reasons: Vec<String> = by_digit
        .into_iter()
        .map(|reason| {
            format!(
                "{} {} ({}, {})",
                reason.digit,
                reason.name,
                reason.prompt,
                format_duration(reason.expected)
            )
        })
        .collect();
    format!(
        "reasons {}; default {}; check-back every {}; agent reminded after {}",
        reasons.join(", "),
        hold.default_reason,
        format_duration(hold.check_back),
        format_duration(hold.max)
    )
}
