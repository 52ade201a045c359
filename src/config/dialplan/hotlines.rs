//! `[hotline.NAME]`: the numbers callers dial, their language and where their calls
//! start (one flow, or flows by business hours), their TOML shape and its checks.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::Checker;
use crate::config::error::{key_segment, ConfigError};
use crate::config::hours::{parse_holiday, parse_time_zone, parse_weekly_interval, BusinessHours};

const DEFAULT_LANGUAGE: &str = "zh";

/// A number (or several) that callers dial, and where their calls go.
#[derive(Debug, Clone)]
pub struct Hotline {
    pub name: String,
    /// Request-URI users, e.g. ["4008", "hotline"].
    pub numbers: Vec<String>,
    /// The language prompts are played in until a language step changes it.
    pub language: String,
    pub entry: Entry,
    /// The dialplan file it came from, relative to the config dir.
    pub file: String,
    /// Calls are recorded for QA from the answer (`record = false` turns it off), with the
    /// recording notice played first.
    pub record: bool,
}

/// Where a hotline's calls start.
#[derive(Debug, Clone)]
pub enum Entry {
    Flow(String),
    Hours {
        hours: BusinessHours,
        open: String,
        closed: String,
    },
}

impl Entry {
    /// The flow a call arriving at `at` starts in, and for an entry by business hours
    /// whether they were open (the call's record says so).
    pub fn flow_at(&self, at: jiff::Timestamp) -> (&str, Option<bool>) {
        match self {
            Entry::Flow(flow) => (flow, None),
            Entry::Hours {
                hours,
                open,
                closed,
            } => {
                let is_open = hours.is_open(at);
                (if is_open { open } else { closed }, Some(is_open))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHotline {
    numbers: Vec<String>,
    language: Option<String>,
    flow: Option<String>,
    hours: Option<RawHours>,
    record: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHours {
    time_zone: String,
    open: Vec<String>,
    #[serde(default)]
    holidays: Vec<String>,
    open_flow: String,
    closed_flow: String,
}

impl Checker<'_> {
    pub(super) fn hotline(&mut self, name: &str, raw: RawHotline) -> Option<Hotline> {
        let key = format!("hotline.{}", key_segment(name));
        if raw.numbers.is_empty() {
            self.error(
                &format!("{key}.numbers"),
                "a hotline needs at least one number",
            );
        }
        for (index, number) in raw.numbers.iter().enumerate() {
            let valid = !number.is_empty()
                && number
                    .chars()
                    .all(|c| !c.is_whitespace() && !"@:;<>\"".contains(c));
            if !valid {
                self.error(
                    &format!("{key}.numbers[{index}]"),
                    format!("\"{number}\" is not a request-URI user such as \"4008\""),
                );
            }
        }
        let language = self.language(
            &format!("{key}.language"),
            raw.language.unwrap_or_else(|| DEFAULT_LANGUAGE.to_string()),
        );
        let entry = match (raw.flow, raw.hours) {
            (Some(flow), None) => Entry::Flow(self.flow_ref(&format!("{key}.flow"), flow)),
            (None, Some(hours)) => self.hours(&format!("{key}.hours"), hours)?,
            (Some(_), Some(_)) => {
                self.error(
                    &key,
                    "has both flow and hours; with business hours, name the flows in hours.open_flow and hours.closed_flow",
                );
                return None;
            }
            (None, None) => {
                self.error(
                    &key,
                    format!("needs flow = \"...\" or a [{key}.hours] table saying where calls go"),
                );
                return None;
            }
        };
        Some(Hotline {
            name: name.to_string(),
            numbers: raw.numbers,
            language,
            entry,
            file: self.file.to_string(),
            record: raw.record.unwrap_or(true),
        })
    }

    pub(super) fn hours(&mut self, key: &str, raw: RawHours) -> Option<Entry> {
        let time_zone = parse_time_zone(&raw.time_zone)
            .map_err(|message| self.error(&format!("{key}.time_zone"), message))
            .ok();
        if raw.open.is_empty() {
            self.error(
                &format!("{key}.open"),
                "lists no opening intervals, so the hotline would always be closed",
            );
        }
        let mut open = Vec::new();
        for (index, text) in raw.open.iter().enumerate() {
            match parse_weekly_interval(text) {
                Ok(interval) => open.push(interval),
                Err(message) => self.error(&format!("{key}.open[{index}]"), message),
            }
        }
        let mut holidays = BTreeSet::new();
        for (index, text) in raw.holidays.iter().enumerate() {
            match parse_holiday(text) {
                Ok(date) => {
                    holidays.insert(date);
                }
                Err(message) => self.error(&format!("{key}.holidays[{index}]"), message),
            }
        }
        let open_flow = self.flow_ref(&format!("{key}.open_flow"), raw.open_flow);
        let closed_flow = self.flow_ref(&format!("{key}.closed_flow"), raw.closed_flow);
        Some(Entry::Hours {
            hours: BusinessHours {
                time_zone_name: raw.time_zone,
                time_zone: time_zone?,
                open,
                holidays,
            },
            open: open_flow,
            closed: closed_flow,
        })
    }
}

pub(super) fn check_numbers_unique(hotlines: &[Hotline], errors: &mut Vec<ConfigError>) {
    let mut owners: BTreeMap<&str, &Hotline> = BTreeMap::new();
    for hotline in hotlines {
        for (index, number) in hotline.numbers.iter().enumerate() {
            let key = format!("hotline.{}.numbers[{index}]", key_segment(&hotline.name));
            match owners.get(number.as_str()) {
                Some(owner) if owner.name == hotline.name => errors.push(ConfigError::new(
                    hotline.file.as_str(),
                    key,
                    format!("number \"{number}\" is listed twice"),
                )),
                Some(owner) => errors.push(ConfigError::new(
                    hotline.file.as_str(),
                    key,
                    format!(
                        "number \"{number}\" is already used by hotline \"{}\" in {}",
                        owner.name, owner.file
                    ),
                )),
                None => {
                    owners.insert(number, hotline);
                }
            }
        }
    }
}

/// Human description of a hotline's entry, for summaries.
pub(crate) fn describe_entry(entry: &Entry) -> String {
    match entry {
        Entry::Flow(flow) => format!("flow {flow}"),
        Entry::Hours {
            hours,
            open,
            closed,
        } => {
            let intervals: Vec<&str> = hours.open.iter().map(|i| i.text.as_str()).collect();
            format!(
                "open {} ({}) → flow {open}, otherwise flow {closed}{}",
                intervals.join(", "),
                hours.time_zone_name,
                if hours.holidays.is_empty() {
                    String::new()
                } else {
                    format!("; {} holidays", hours.holidays.len())
                }
            )
        }
    }
}
