//! Dialplans: hotline numbers, call flows, queues and the service standards, read from
//! `dialplans/*.toml` and checked as a whole (every problem found, not just the first).
//! This module reads the files, resolves names across them and holds the checks every
//! table shares; each table's model, TOML shape and checks live in its own submodule.

mod feature_codes;
mod flows;
mod hold;
mod hotlines;
mod media;
mod queues;
mod standards;
mod tiers;
mod transfer;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::duration::parse_duration;
use super::error::{key_segment, ConfigError};

pub use feature_codes::{FeatureCode, FeatureCodes};
pub use flows::{Action, Collect, Flow, Menu, Step};
pub(crate) use hold::describe_hold;
pub use hold::{hold_whisper_prompt, HoldReason, HoldSettings, HOLD_PROMPTS};
pub(crate) use hotlines::describe_entry;
pub use hotlines::{Entry, Hotline};
pub(crate) use media::describe_media;
pub use media::MediaSettings;
pub use queues::{
    Queue, QueueExit, Strategy, ANNOUNCEMENT_PROMPTS, CALLBACK_PROMPTS, VOICEMAIL_PROMPTS,
};
pub(crate) use standards::describe_standards;
pub use standards::Standards;
pub use tiers::Tier;
pub(crate) use transfer::describe_transfer;
pub use transfer::{InCallKeys, OutsideTransfer, TransferSettings, TRANSFER_PROMPTS};

use feature_codes::RawFeatureCodes;
use flows::{RawFlow, Target};
use hold::RawHold;
use hotlines::{check_numbers_unique, RawHotline};
use media::RawMedia;
use queues::{check_overflow_leaves_time, check_overflow_loops, RawQueue};
use standards::RawStandards;
use tiers::{check_tier_numbers_unique, RawTier};
use transfer::{check_transfer_numbers, RawInCallKeys, RawTransfer};

/// Everything from `dialplans/*.toml`, merged and validated.
#[derive(Debug, Clone, Default)]
pub struct Dialplan {
    pub standards: Standards,
    /// In name order.
    pub hotlines: Vec<Hotline>,
    pub flows: BTreeMap<String, Flow>,
    pub queues: BTreeMap<String, Queue>,
    /// Caller tiers by name.
    pub tiers: BTreeMap<String, Tier>,
    pub feature_codes: FeatureCodes,
    /// `[media]`: the media timeout.
    pub media: MediaSettings,
    /// `[hold]`: hold reasons, check-backs, the maximum.
    pub hold: HoldSettings,
    /// `[transfer]`: transfer numbers and outside transfers.
    pub transfer: TransferSettings,
    /// `[in_call_keys]`: what agents press during a call.
    pub in_call_keys: InCallKeys,
}

impl Dialplan {
    /// The queue priority of a caller and the tier that gives it: (0, None) for a number in
    /// no tier. `caller_number` is the From user part, matched exactly.
    pub fn priority_of(&self, caller_number: &str) -> (u32, Option<&str>) {
        self.tiers
            .values()
            .find(|tier| tier.numbers.iter().any(|number| number == caller_number))
            .map(|tier| (tier.priority, Some(tier.name.as_str())))
            .unwrap_or((0, None))
    }

    /// The hotline a request-URI user ("4008", "hotline") dials. SIP user parts are
    /// case-sensitive (RFC 3261 19.1.4), so the match is exact.
    pub fn hotline_for(&self, request_user: &str) -> Option<&Hotline> {
        self.hotlines
            .iter()
            .find(|hotline| hotline.numbers.iter().any(|n| n == request_user))
    }

    pub fn flow(&self, name: &str) -> Option<&Flow> {
        self.flows.get(name)
    }

    /// What a call to `hotline` can reach: flows, queues and languages (its own language
    /// plus every language a reachable step or action switches to).
    pub fn reach(&self, hotline: &Hotline) -> Reach {
        let mut reach = Reach::default();
        reach.languages.insert(hotline.language.clone());
        let mut pending: Vec<&str> = match &hotline.entry {
            Entry::Flow(flow) => vec![flow],
            Entry::Hours { open, closed, .. } => vec![open, closed],
        };
        while let Some(name) = pending.pop() {
            if !reach.flows.insert(name.to_string()) {
                continue;
            }
            let Some(flow) = self.flows.get(name) else {
                continue;
            };
            let mut targets = Vec::new();
            for step in &flow.steps {
                step.for_each_target(&mut |target| targets.push(target));
            }
            for target in targets {
                match target {
                    Target::Flow(flow) => pending.push(flow),
                    Target::Queue(queue) => {
                        reach.queues.insert(queue.to_string());
                    }
                    Target::Language(language) => {
                        reach.languages.insert(language.to_string());
                    }
                }
            }
        }
        // A caller who overflows keeps their language, so the overflow queue is reached too.
        let mut pending: Vec<String> = reach.queues.iter().cloned().collect();
        while let Some(name) = pending.pop() {
            if let Some(QueueExit::Overflow(next)) = self.queues.get(&name).map(|q| &q.exit) {
                if reach.queues.insert(next.clone()) {
                    pending.push(next.clone());
                }
            }
        }
        reach
    }
}

/// See [`Dialplan::reach`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub flows: BTreeSet<String>,
    pub queues: BTreeSet<String>,
    pub languages: BTreeSet<String>,
}

/// A prompt named somewhere in a flow or queue, with the key path that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptUse {
    pub file: String,
    pub key: String,
    pub prompt: String,
    pub greeting: bool,
}

// ---- The TOML shape an admin writes. Kept apart from the typed model so the model
// ---- never holds half-checked values.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    standards: Option<RawStandards>,
    #[serde(default)]
    hotline: BTreeMap<String, RawHotline>,
    #[serde(default)]
    flow: BTreeMap<String, RawFlow>,
    #[serde(default)]
    queue: BTreeMap<String, RawQueue>,
    #[serde(default)]
    tier: BTreeMap<String, RawTier>,
    feature_codes: Option<RawFeatureCodes>,
    media: Option<RawMedia>,
    hold: Option<RawHold>,
    transfer: Option<RawTransfer>,
    in_call_keys: Option<RawInCallKeys>,
}

/// Reads and checks every `dialplans/*.toml` under `dir`. Problems go to `errors`; the
/// dialplan is returned only when there were none in it.
pub(crate) fn load_dialplans(dir: &Path, errors: &mut Vec<ConfigError>) -> Option<Dialplan> {
    let before = errors.len();
    let files = read_toml_files(dir, "dialplans", errors)?;
    if files.is_empty() {
        errors.push(ConfigError::new(
            "dialplans",
            "",
            "the folder has no *.toml dialplan, so no number would be answered",
        ));
        return None;
    }
    let file_count = files.len();
    let mut parsed = Vec::new();
    for (file, text) in files {
        match toml::from_str::<RawFile>(&text) {
            Ok(raw) => parsed.push((file, raw)),
            Err(error) => errors.push(ConfigError::from_toml(&file, &text, &error)),
        }
    }
    let all_files_parsed = parsed.len() == file_count;
    if !all_files_parsed {
        // Names defined in a file that did not parse would look missing from the others:
        // report only what is really wrong until the broken file reads again.
        return None;
    }
    let dialplan = build_dialplan(parsed, all_files_parsed, errors);
    (errors.len() == before).then_some(dialplan).flatten()
}

/// `DIR/<folder>/*.toml` in name order, as (path relative to DIR, text).
pub(crate) fn read_toml_files(
    dir: &Path,
    folder: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Vec<(String, String)>> {
    let path = dir.join(folder);
    let entries = match std::fs::read_dir(&path) {
        Ok(entries) => entries,
        Err(error) => {
            errors.push(ConfigError::new(
                folder,
                "",
                format!("cannot read the folder {}: {error}", path.display()),
            ));
            return None;
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_file())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
        .filter(|name| name.ends_with(".toml"))
        .collect();
    names.sort();
    let mut files = Vec::new();
    for name in names {
        let relative = format!("{folder}/{name}");
        match std::fs::read_to_string(path.join(&name)) {
            Ok(text) => files.push((relative, text)),
            Err(error) => errors.push(ConfigError::new(
                relative,
                "",
                format!("cannot read the file: {error}"),
            )),
        }
    }
    Some(files)
}

/// Which file sets a table that may be set in one file only (`[media]`, `[hold]` …): the
/// first; each later one is an error naming it.
fn claim_table(
    claimed: &mut Option<String>,
    file: &str,
    present: bool,
    key: &str,
    what: &str,
    errors: &mut Vec<ConfigError>,
) {
    if !present {
        return;
    }
    match claimed {
        Some(first) => errors.push(ConfigError::new(
            file,
            key,
            format!("{what} are already set in {first}; set them in one file only"),
        )),
        None => *claimed = Some(file.to_string()),
    }
}

fn build_dialplan(
    mut files: Vec<(String, RawFile)>,
    all_files_parsed: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<Dialplan> {
    // Names first, so references can be checked whichever file defines them.
    let mut flow_files: BTreeMap<String, String> = BTreeMap::new();
    let mut queue_files: BTreeMap<String, String> = BTreeMap::new();
    let mut hotline_files: BTreeMap<String, String> = BTreeMap::new();
    let mut tier_files: BTreeMap<String, String> = BTreeMap::new();
    let mut standards_file: Option<String> = None;
    let mut feature_codes_file: Option<String> = None;
    let mut media_file: Option<String> = None;
    let mut hold_file: Option<String> = None;
    let mut transfer_file: Option<String> = None;
    let mut in_call_keys_file: Option<String> = None;
    for (file, raw) in &files {
        for (kind, names, seen) in [
            ("flow", raw.flow.keys().collect::<Vec<_>>(), &mut flow_files),
            ("queue", raw.queue.keys().collect(), &mut queue_files),
            ("hotline", raw.hotline.keys().collect(), &mut hotline_files),
            ("tier", raw.tier.keys().collect(), &mut tier_files),
        ] {
            for name in names {
                if let Some(first) = seen.get(name) {
                    errors.push(ConfigError::new(
                        file.as_str(),
                        format!("{kind}.{}", key_segment(name)),
                        format!("{kind} \"{name}\" is already defined in {first}"),
                    ));
                } else {
                    seen.insert(name.clone(), file.clone());
                }
            }
        }
        if raw.standards.is_some() {
            match &standards_file {
                Some(first) => errors.push(ConfigError::new(
                    file.as_str(),
                    "standards",
                    format!("standards are already set in {first}; set them in one file only"),
                )),
                None => standards_file = Some(file.clone()),
            }
        }
        if raw.feature_codes.is_some() {
            match &feature_codes_file {
                Some(first) => errors.push(ConfigError::new(
                    file.as_str(),
                    "feature_codes",
                    format!("feature codes are already set in {first}; set them in one file only"),
                )),
                None => feature_codes_file = Some(file.clone()),
            }
        }
        if raw.media.is_some() {
            match &media_file {
                Some(first) => errors.push(ConfigError::new(
                    file.as_str(),
                    "media",
                    format!("media settings are already set in {first}; set them in one file only"),
                )),
                None => media_file = Some(file.clone()),
            }
        }
        for (claimed, present, key, what) in [
            (&mut hold_file, raw.hold.is_some(), "hold", "hold settings"),
            (
                &mut transfer_file,
                raw.transfer.is_some(),
                "transfer",
                "transfer settings",
            ),
            (
                &mut in_call_keys_file,
                raw.in_call_keys.is_some(),
                "in_call_keys",
                "in-call keys",
            ),
        ] {
            claim_table(claimed, file, present, key, what, errors);
        }
    }
    let mut names = Names {
        flows: flow_files.keys().cloned().collect(),
        queues: queue_files.keys().cloned().collect(),
        hold_reasons: BTreeSet::new(),
        default_hold_reason: String::new(),
    };

    // Hold, transfer and in-call keys first: queues name hold reasons.
    let mut hold = HoldSettings::default();
    let mut transfer = TransferSettings::default();
    let mut in_call_keys = InCallKeys::default();
    for (file, raw) in &mut files {
        let mut check = Checker {
            file,
            names: &names,
            errors: &mut *errors,
        };
        if let Some(raw_hold) = raw.hold.take() {
            if hold_file.as_deref() == Some(file.as_str()) {
                hold = check.hold(raw_hold);
            }
        }
        if let Some(raw_transfer) = raw.transfer.take() {
            if transfer_file.as_deref() == Some(file.as_str()) {
                transfer = check.transfer(raw_transfer);
            }
        }
        if let Some(raw_keys) = raw.in_call_keys.take() {
            if in_call_keys_file.as_deref() == Some(file.as_str()) {
                in_call_keys = check.in_call_keys(raw_keys);
            }
        }
    }
    names.hold_reasons = hold.reasons.keys().cloned().collect();
    names.default_hold_reason = hold.default_reason.clone();

    let mut standards = Standards::default();
    let mut hotlines = Vec::new();
    let mut flows = BTreeMap::new();
    let mut queues = BTreeMap::new();
    let mut tiers = BTreeMap::new();
    let mut feature_codes = FeatureCodes::default();
    let mut media = MediaSettings::default();
    for (file, raw) in files {
        let mut check = Checker {
            file: &file,
            names: &names,
            errors: &mut *errors,
        };
        if let Some(raw_standards) = raw.standards {
            if standards_file.as_deref() == Some(file.as_str()) {
                standards = check.standards(raw_standards);
            }
        }
        for (name, raw_flow) in raw.flow {
            if flow_files.get(&name) == Some(&file) {
                let flow = check.flow(&name, raw_flow);
                flows.insert(name, flow);
            }
        }
        for (name, raw_queue) in raw.queue {
            let queue = check.queue(&name, raw_queue);
            if queue_files.get(&name) == Some(&file) {
                queues.insert(name, queue);
            }
        }
        for (name, raw_tier) in raw.tier {
            let tier = check.tier(&name, raw_tier);
            if tier_files.get(&name) == Some(&file) {
                tiers.insert(name, tier);
            }
        }
        if let Some(raw_media) = raw.media {
            if media_file.as_deref() == Some(file.as_str()) {
                media = check.media(raw_media);
            }
        }
        if let Some(raw_codes) = raw.feature_codes {
            if feature_codes_file.as_deref() == Some(file.as_str()) {
                feature_codes = check.feature_codes(raw_codes);
            }
        }
        for (name, raw_hotline) in raw.hotline {
            if let Some(hotline) = check.hotline(&name, raw_hotline) {
                if hotline_files.get(&name) == Some(&file) {
                    hotlines.push(hotline);
                }
            }
        }
    }
    if hotline_files.is_empty() && all_files_parsed {
        errors.push(ConfigError::new(
            "dialplans",
            "hotline",
            "no dialplan defines a [hotline.NAME] table, so no number would be answered",
        ));
    }
    // File order first, so the later definition is the one reported.
    check_numbers_unique(&hotlines, errors);
    // A loop is reported alone: its queues cannot all wait longer than the one before.
    if !check_overflow_loops(&queues, errors) {
        check_overflow_leaves_time(&queues, errors);
    }
    check_tier_numbers_unique(&tiers, errors);
    check_transfer_numbers(
        transfer_file.as_deref(),
        &transfer,
        &hotlines,
        &feature_codes,
        errors,
    );
    hotlines.sort_by(|a, b| a.name.cmp(&b.name));
    Some(Dialplan {
        standards,
        hotlines,
        flows,
        queues,
        tiers,
        feature_codes,
        media,
        hold,
        transfer,
        in_call_keys,
    })
}

struct Names {
    flows: BTreeSet<String>,
    queues: BTreeSet<String>,
    /// The hold reasons of `[hold]` (or the shipped ones) and the dialplan's default.
    hold_reasons: BTreeSet<String>,
    default_hold_reason: String,
}

/// Converts one file's raw tables, reporting problems under that file's name.
struct Checker<'a> {
    file: &'a str,
    names: &'a Names,
    errors: &'a mut Vec<ConfigError>,
}

impl Checker<'_> {
    fn error(&mut self, key: &str, message: impl Into<String>) {
        self.errors
            .push(ConfigError::new(self.file, key, message.into()));
    }

    fn duration(&mut self, key: &str, text: &str, fallback: Duration) -> Duration {
        parse_duration(text).unwrap_or_else(|message| {
            self.error(key, message);
            fallback
        })
    }

    fn positive_duration(
        &mut self,
        key: &str,
        text: Option<String>,
        default: Duration,
    ) -> Duration {
        let Some(text) = text else { return default };
        let value = self.duration(key, &text, default);
        if value.is_zero() {
            self.error(key, "must be longer than 0s");
        }
        value
    }

    fn flow_ref(&mut self, key: &str, name: String) -> String {
        if !self.names.flows.contains(&name) {
            self.error(key, format!("unknown flow \"{name}\""));
        }
        name
    }

    fn queue_ref(&mut self, key: &str, name: String) -> String {
        if !self.names.queues.contains(&name) {
            self.error(
                key,
                format!(
                    "unknown queue \"{name}\" (declare it as [queue.{}])",
                    key_segment(&name)
                ),
            );
        }
        name
    }

    /// Prompt names become file names under prompts/<language>/, so they are kept to
    /// letters, digits, '_' and '-' (no paths, no extension).
    fn prompt_name(&mut self, key: &str, name: String) -> String {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !plain {
            self.error(
                key,
                format!(
                    "prompt name \"{name}\" must be a plain file name without extension (letters, digits, _ and -)"
                ),
            );
        }
        name
    }

    fn language(&mut self, key: &str, code: String) -> String {
        let plain = !code.is_empty()
            && code.len() <= 16
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !plain {
            self.error(
                key,
                format!("language \"{code}\" must be a short code such as \"zh\" or \"en\" (it names a folder under prompts/)"),
            );
        }
        code
    }

    /// Whether exactly one of `fields` (name, present) is given; if not, says so as
    /// "`what` needs exactly one of a, b or c, but has …".
    fn exactly_one(&mut self, key: &str, what: &str, fields: &[(&str, bool)]) -> bool {
        let given: Vec<&str> = fields
            .iter()
            .filter_map(|(name, present)| present.then_some(*name))
            .collect();
        if given.len() == 1 {
            return true;
        }
        let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
        let choices = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        };
        let found = if given.is_empty() {
            "none".to_string()
        } else {
            given.join(" and ")
        };
        self.error(
            key,
            format!("{what} needs exactly one of {choices}, but has {found}"),
        );
        false
    }
}
