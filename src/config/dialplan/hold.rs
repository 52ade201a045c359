//! `[hold]`: how a caller on hold is told why and for how long — the hold reasons (each a
//! prompt and an expected duration, chosen by the agent's keys), the check-back interval and
//! the maximum before the agent is reminded — its TOML shape and its checks. Queues pick
//! their reasons and default by name (`[queue.NAME] hold_reasons`, `default_hold_reason`).
//!
//! Contract (issue 8): the types and shipped defaults; the TOML reading is the config piece's.

use std::collections::BTreeMap;
use std::time::Duration;

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
