//! `[tier.NAME]`: caller numbers that go ahead in every queue, their TOML shape and
//! its checks.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Checker;
use crate::config::error::{key_segment, ConfigError};

/// Callers whose number is in a tier go ahead of those with a lower priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub name: String,
    /// Higher goes first; callers in no tier have 0.
    pub priority: u32,
    /// Caller numbers (the From user part), matched exactly.
    pub numbers: Vec<String>,
    pub file: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTier {
    priority: u32,
    numbers: Vec<String>,
}

impl Checker<'_> {
    pub(super) fn tier(&mut self, name: &str, raw: RawTier) -> Tier {
        let key = format!("tier.{}", key_segment(name));
        if raw.numbers.is_empty() {
            self.error(
                &format!("{key}.numbers"),
                "a tier needs at least one caller number",
            );
        }
        for (index, number) in raw.numbers.iter().enumerate() {
            if !crate::config::hardware::is_sip_user(number) {
                self.error(
                    &format!("{key}.numbers[{index}]"),
                    format!("\"{number}\" is not a caller number such as \"13800000001\""),
                );
            }
        }
        Tier {
            name: name.to_string(),
            priority: raw.priority,
            numbers: raw.numbers,
            file: self.file.to_string(),
        }
    }
}

/// A caller number in two tiers would have two priorities.
pub(super) fn check_tier_numbers_unique(
    tiers: &BTreeMap<String, Tier>,
    errors: &mut Vec<ConfigError>,
) {
    let mut owners: BTreeMap<&str, &Tier> = BTreeMap::new();
    for tier in tiers.values() {
        for (index, number) in tier.numbers.iter().enumerate() {
            let key = format!("tier.{}.numbers[{index}]", key_segment(&tier.name));
            match owners.get(number.as_str()) {
                Some(owner) if owner.name == tier.name => errors.push(ConfigError::new(
                    tier.file.as_str(),
                    key,
                    format!("number \"{number}\" is listed twice"),
                )),
                Some(owner) => errors.push(ConfigError::new(
                    tier.file.as_str(),
                    key,
                    format!(
                        "number \"{number}\" is already in tier \"{}\" in {}; a caller has one priority",
                        owner.name, owner.file
                    ),
                )),
                None => {
                    owners.insert(number, tier);
                }
            }
        }
    }
}
