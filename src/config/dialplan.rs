//! Dialplans: hotline numbers, call flows, queues and the service standards, read from
//! `dialplans/*.toml` and checked as a whole (every problem found, not just the first).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::duration::{format_duration, parse_duration, RingCadence};
use super::error::{key_segment, ConfigError};
use super::hours::{parse_holiday, parse_time_zone, parse_weekly_interval, BusinessHours};

/// The service standards the switch enforces (STANDARDS.md S1, S2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standards {
    /// S1: no call rings longer than this many rings.
    pub answer_within_rings: u32,
    pub ring_cadence: RingCadence,
    /// The switch answers as this ring ends; 0 answers at once.
    pub answer_after_rings: u32,
    /// S2: a greeting prompt longer than this is refused.
    pub greeting_max: Duration,
    /// Simultaneous calls; beyond it a new call gets 503 at once instead of ringing on.
    pub max_calls: Option<u32>,
}

impl Default for Standards {
    fn default() -> Self {
        Standards {
            answer_within_rings: 3,
            ring_cadence: RingCadence::CHINA,
            answer_after_rings: 1,
            greeting_max: Duration::from_secs(10),
            max_calls: None,
        }
    }
}

impl Standards {
    /// How long after alerting starts the switch sends 200 OK: when ring
    /// `answer_after_rings` ends (at once for 0).
    pub fn answer_delay(&self) -> Duration {
        self.ring_cadence.ring_end(self.answer_after_rings)
    }

    /// The latest moment an answer still meets S1: when ring `answer_within_rings` ends.
    pub fn answer_deadline(&self) -> Duration {
        self.ring_cadence.ring_end(self.answer_within_rings)
    }
}

/// Everything from `dialplans/*.toml`, merged and validated.
#[derive(Debug, Clone)]
pub struct Dialplan {
    pub standards: Standards,
    /// In name order.
    pub hotlines: Vec<Hotline>,
    pub flows: BTreeMap<String, Flow>,
    pub queues: BTreeMap<String, Queue>,
}

impl Dialplan {
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
    /// The flow a call arriving at `at` starts in.
    pub fn flow_at(&self, at: jiff::Timestamp) -> &str {
        match self {
            Entry::Flow(flow) => flow,
            Entry::Hours {
                hours,
                open,
                closed,
            } => {
                if hours.is_open(at) {
                    open
                } else {
                    closed
                }
            }
        }
    }
}

/// A named list of steps, run in order. A flow that runs off its end hangs up.
#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    pub steps: Vec<Step>,
    /// The dialplan file it came from, relative to the config dir.
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Play {
        prompt: String,
        greeting: bool,
    },
    Menu(Menu),
    Collect(Collect),
    /// Switch the caller's language and go on with the next step.
    Language(String),
    Queue(String),
    Goto(String),
    Hangup {
        prompt: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    /// The name in the call timeline's menu events.
    pub name: String,
    pub prompt: String,
    pub choices: BTreeMap<char, Action>,
    /// How long to wait for a key after the prompt.
    pub timeout: Duration,
    /// Attempts (invalid key or no key) before `on_failure`.
    pub tries: u32,
    pub invalid_prompt: Option<String>,
    pub no_input_prompt: Option<String>,
    pub on_failure: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collect {
    /// The name in the call timeline's `collected` event.
    pub name: String,
    pub prompt: String,
    pub min_digits: u32,
    pub max_digits: u32,
    /// Ends input early; never part of the digits.
    pub terminator: Option<char>,
    /// Inter-digit timeout (also the wait for the first digit).
    pub timeout: Duration,
    pub tries: u32,
    pub invalid_prompt: Option<String>,
    /// What happens once valid digits are in.
    pub then: Action,
    /// What happens when the tries are used up.
    pub on_failure: Action,
}

/// Where a menu choice, a collect or a failure leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Flow(String),
    Queue(String),
    Language {
        language: String,
        flow: String,
    },
    /// Play the menu again (menu choices only).
    Repeat,
    Hangup {
        prompt: Option<String>,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Flow(flow) => write!(f, "flow {flow}"),
            Action::Queue(queue) => write!(f, "queue {queue}"),
            Action::Language { language, flow } => write!(f, "language {language}, flow {flow}"),
            Action::Repeat => write!(f, "repeat"),
            Action::Hangup { prompt: None } => write!(f, "hangup"),
            Action::Hangup {
                prompt: Some(prompt),
            } => write!(f, "hangup after {prompt}"),
        }
    }
}

/// A queue calls are routed to. In issue 2 routing plays `prompt` and hangs up politely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub name: String,
    /// Played when a call is routed here; default "connecting".
    pub prompt: String,
    pub file: String,
}

/// A prompt named somewhere in a flow or queue, with the key path that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptUse {
    pub file: String,
    pub key: String,
    pub prompt: String,
    pub greeting: bool,
}

enum Target<'a> {
    Flow(&'a str),
    Queue(&'a str),
    Language(&'a str),
}

impl Step {
    fn for_each_target<'a>(&'a self, visit: &mut impl FnMut(Target<'a>)) {
        match self {
            Step::Play { .. } | Step::Hangup { .. } => {}
            Step::Menu(menu) => {
                for action in menu.choices.values() {
                    action.for_each_target(visit);
                }
                menu.on_failure.for_each_target(visit);
            }
            Step::Collect(collect) => {
                collect.then.for_each_target(visit);
                collect.on_failure.for_each_target(visit);
            }
            Step::Language(language) => visit(Target::Language(language)),
            Step::Queue(queue) => visit(Target::Queue(queue)),
            Step::Goto(flow) => visit(Target::Flow(flow)),
        }
    }
}

impl Action {
    fn for_each_target<'a>(&'a self, visit: &mut impl FnMut(Target<'a>)) {
        match self {
            Action::Flow(flow) => visit(Target::Flow(flow)),
            Action::Queue(queue) => visit(Target::Queue(queue)),
            Action::Language { language, flow } => {
                visit(Target::Language(language));
                visit(Target::Flow(flow));
            }
            Action::Repeat | Action::Hangup { .. } => {}
        }
    }

    fn prompt_uses(&self, file: &str, key: &str, out: &mut Vec<PromptUse>) {
        if let Action::Hangup {
            prompt: Some(prompt),
        } = self
        {
            out.push(PromptUse {
                file: file.to_string(),
                key: format!("{key}.prompt"),
                prompt: prompt.clone(),
                greeting: false,
            });
        }
    }
}

impl Flow {
    /// Every prompt this flow may play, with the key path where it is named.
    pub fn prompt_uses(&self) -> Vec<PromptUse> {
        let mut out = Vec::new();
        let use_at = |key: String, prompt: &str, greeting: bool| PromptUse {
            file: self.file.clone(),
            key,
            prompt: prompt.to_string(),
            greeting,
        };
        for (index, step) in self.steps.iter().enumerate() {
            let step_key = format!("flow.{}.steps[{index}]", key_segment(&self.name));
            match step {
                Step::Play { prompt, greeting } => {
                    out.push(use_at(format!("{step_key}.play"), prompt, *greeting))
                }
                Step::Menu(menu) => {
                    let key = format!("{step_key}.menu");
                    out.push(use_at(format!("{key}.prompt"), &menu.prompt, false));
                    if let Some(prompt) = &menu.invalid_prompt {
                        out.push(use_at(format!("{key}.invalid_prompt"), prompt, false));
                    }
                    if let Some(prompt) = &menu.no_input_prompt {
                        out.push(use_at(format!("{key}.no_input_prompt"), prompt, false));
                    }
                    for (digit, action) in &menu.choices {
                        let choice_key = format!("{key}.choices.\"{digit}\"");
                        action.prompt_uses(&self.file, &choice_key, &mut out);
                    }
                    menu.on_failure
                        .prompt_uses(&self.file, &format!("{key}.on_failure"), &mut out);
                }
                Step::Collect(collect) => {
                    let key = format!("{step_key}.collect");
                    out.push(use_at(format!("{key}.prompt"), &collect.prompt, false));
                    if let Some(prompt) = &collect.invalid_prompt {
                        out.push(use_at(format!("{key}.invalid_prompt"), prompt, false));
                    }
                    collect
                        .then
                        .prompt_uses(&self.file, &format!("{key}.then"), &mut out);
                    collect.on_failure.prompt_uses(
                        &self.file,
                        &format!("{key}.on_failure"),
                        &mut out,
                    );
                }
                Step::Hangup {
                    prompt: Some(prompt),
                } => out.push(use_at(format!("{step_key}.prompt"), prompt, false)),
                Step::Hangup { prompt: None }
                | Step::Language(_)
                | Step::Queue(_)
                | Step::Goto(_) => {}
            }
        }
        out
    }
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStandards {
    answer_within_rings: Option<u32>,
    ring_cadence: Option<String>,
    answer_after_rings: Option<u32>,
    greeting_max: Option<String>,
    max_calls: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHotline {
    numbers: Vec<String>,
    language: Option<String>,
    flow: Option<String>,
    hours: Option<RawHours>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHours {
    time_zone: String,
    open: Vec<String>,
    #[serde(default)]
    holidays: Vec<String>,
    open_flow: String,
    closed_flow: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    play: Option<String>,
    greeting: Option<bool>,
    menu: Option<RawMenu>,
    collect: Option<RawCollect>,
    language: Option<String>,
    queue: Option<String>,
    goto: Option<String>,
    hangup: Option<bool>,
    prompt: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMenu {
    name: Option<String>,
    prompt: String,
    choices: BTreeMap<String, RawAction>,
    timeout: Option<String>,
    tries: Option<u32>,
    invalid_prompt: Option<String>,
    no_input_prompt: Option<String>,
    on_failure: Option<RawAction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCollect {
    name: String,
    prompt: String,
    min_digits: Option<u32>,
    max_digits: u32,
    terminator: Option<String>,
    timeout: Option<String>,
    tries: Option<u32>,
    invalid_prompt: Option<String>,
    then: RawAction,
    on_failure: Option<RawAction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    flow: Option<String>,
    queue: Option<String>,
    language: Option<String>,
    repeat: Option<bool>,
    hangup: Option<bool>,
    prompt: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    prompt: Option<String>,
}

const DEFAULT_LANGUAGE: &str = "zh";
const DEFAULT_MENU_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_TRIES: u32 = 3;
const DEFAULT_QUEUE_PROMPT: &str = "connecting";
const KEYPAD: &str = "0123456789*#";

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

fn build_dialplan(
    files: Vec<(String, RawFile)>,
    all_files_parsed: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<Dialplan> {
    // Names first, so references can be checked whichever file defines them.
    let mut flow_files: BTreeMap<String, String> = BTreeMap::new();
    let mut queue_files: BTreeMap<String, String> = BTreeMap::new();
    let mut hotline_files: BTreeMap<String, String> = BTreeMap::new();
    let mut standards_file: Option<String> = None;
    for (file, raw) in &files {
        for (kind, names, seen) in [
            ("flow", raw.flow.keys().collect::<Vec<_>>(), &mut flow_files),
            ("queue", raw.queue.keys().collect(), &mut queue_files),
            ("hotline", raw.hotline.keys().collect(), &mut hotline_files),
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
    }
    let names = Names {
        flows: flow_files.keys().cloned().collect(),
        queues: queue_files.keys().cloned().collect(),
    };

    let mut standards = Standards::default();
    let mut hotlines = Vec::new();
    let mut flows = BTreeMap::new();
    let mut queues = BTreeMap::new();
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
            let key = format!("queue.{}.prompt", key_segment(&name));
            let prompt = match raw_queue.prompt {
                Some(prompt) => check.prompt_name(&key, prompt),
                None => DEFAULT_QUEUE_PROMPT.to_string(),
            };
            if queue_files.get(&name) == Some(&file) {
                queues.insert(
                    name.clone(),
                    Queue {
                        name,
                        prompt,
                        file: file.clone(),
                    },
                );
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
    hotlines.sort_by(|a, b| a.name.cmp(&b.name));
    Some(Dialplan {
        standards,
        hotlines,
        flows,
        queues,
    })
}

fn check_numbers_unique(hotlines: &[Hotline], errors: &mut Vec<ConfigError>) {
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

struct Names {
    flows: BTreeSet<String>,
    queues: BTreeSet<String>,
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

    fn standards(&mut self, raw: RawStandards) -> Standards {
        let defaults = Standards::default();
        let ring_cadence = match raw.ring_cadence {
            Some(text) => RingCadence::parse(&text).unwrap_or_else(|message| {
                self.error("standards.ring_cadence", message);
                defaults.ring_cadence
            }),
            None => defaults.ring_cadence,
        };
        let greeting_max = match raw.greeting_max {
            Some(text) => self.duration("standards.greeting_max", &text, defaults.greeting_max),
            None => defaults.greeting_max,
        };
        if greeting_max.is_zero() {
            self.error("standards.greeting_max", "must be longer than 0s");
        }
        let answer_within_rings = raw
            .answer_within_rings
            .unwrap_or(defaults.answer_within_rings);
        if answer_within_rings == 0 {
            self.error(
                "standards.answer_within_rings",
                "must be at least 1 (standard S1 asks for 3)",
            );
        }
        let answer_after_rings = raw
            .answer_after_rings
            .unwrap_or(defaults.answer_after_rings);
        if answer_after_rings >= answer_within_rings {
            self.error(
                "standards.answer_after_rings",
                format!(
                    "{answer_after_rings} must be less than answer_within_rings {answer_within_rings}, or calls would ring past the standard"
                ),
            );
        }
        if raw.max_calls == Some(0) {
            self.error(
                "standards.max_calls",
                "0 would refuse every call; leave it out for no limit",
            );
        }
        Standards {
            answer_within_rings,
            ring_cadence,
            answer_after_rings,
            greeting_max,
            max_calls: raw.max_calls,
        }
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

    fn tries(&mut self, key: &str, tries: Option<u32>) -> u32 {
        let tries = tries.unwrap_or(DEFAULT_TRIES);
        if tries == 0 {
            self.error(key, "must be at least 1");
        }
        tries
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

    fn hotline(&mut self, name: &str, raw: RawHotline) -> Option<Hotline> {
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
        })
    }

    fn hours(&mut self, key: &str, raw: RawHours) -> Option<Entry> {
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

    fn flow(&mut self, name: &str, raw: RawFlow) -> Flow {
        let key = format!("flow.{}", key_segment(name));
        if raw.steps.is_empty() {
            self.error(&format!("{key}.steps"), "a flow needs at least one step");
        }
        let mut menus_seen = 0;
        let mut steps = Vec::new();
        for (index, raw_step) in raw.steps.into_iter().enumerate() {
            let step_key = format!("{key}.steps[{index}]");
            let default_menu_name = match menus_seen {
                0 => name.to_string(),
                n => format!("{name}-{}", n + 1),
            };
            if raw_step.menu.is_some() {
                menus_seen += 1;
            }
            if let Some(step) = self.step(&step_key, raw_step, default_menu_name) {
                steps.push(step);
            }
        }
        Flow {
            name: name.to_string(),
            steps,
            file: self.file.to_string(),
        }
    }

    fn step(&mut self, key: &str, raw: RawStep, default_menu_name: String) -> Option<Step> {
        let kinds: Vec<&str> = [
            ("play", raw.play.is_some()),
            ("menu", raw.menu.is_some()),
            ("collect", raw.collect.is_some()),
            ("language", raw.language.is_some()),
            ("queue", raw.queue.is_some()),
            ("goto", raw.goto.is_some()),
            ("hangup", raw.hangup.is_some()),
        ]
        .into_iter()
        .filter_map(|(kind, present)| present.then_some(kind))
        .collect();
        match kinds.len() {
            0 => {
                self.error(
                    key,
                    "a step needs one of play, menu, collect, language, queue, goto or hangup",
                );
                return None;
            }
            1 => {}
            _ => {
                self.error(
                    key,
                    format!(
                        "a step does one thing, but this one has {}; split it into separate steps",
                        kinds.join(" and ")
                    ),
                );
                return None;
            }
        }
        if raw.greeting.is_some() && raw.play.is_none() {
            self.error(
                &format!("{key}.greeting"),
                "greeting only applies to a play step",
            );
        }
        if raw.prompt.is_some() && raw.hangup.is_none() {
            self.error(
                &format!("{key}.prompt"),
                "prompt here only applies to a hangup step (menus and collects have their own prompt)",
            );
        }
        if let Some(prompt) = raw.play {
            let prompt = self.prompt_name(&format!("{key}.play"), prompt);
            return Some(Step::Play {
                prompt,
                greeting: raw.greeting.unwrap_or(false),
            });
        }
        if let Some(menu) = raw.menu {
            return Some(Step::Menu(self.menu(
                &format!("{key}.menu"),
                menu,
                default_menu_name,
            )));
        }
        if let Some(collect) = raw.collect {
            return Some(Step::Collect(
                self.collect(&format!("{key}.collect"), collect),
            ));
        }
        if let Some(language) = raw.language {
            return Some(Step::Language(
                self.language(&format!("{key}.language"), language),
            ));
        }
        if let Some(queue) = raw.queue {
            return Some(Step::Queue(self.queue_ref(&format!("{key}.queue"), queue)));
        }
        if let Some(flow) = raw.goto {
            return Some(Step::Goto(self.flow_ref(&format!("{key}.goto"), flow)));
        }
        if raw.hangup == Some(false) {
            self.error(
                &format!("{key}.hangup"),
                "hangup = false does nothing; remove the step or write hangup = true",
            );
            return None;
        }
        let prompt = raw
            .prompt
            .map(|prompt| self.prompt_name(&format!("{key}.prompt"), prompt));
        Some(Step::Hangup { prompt })
    }

    fn menu(&mut self, key: &str, raw: RawMenu, default_name: String) -> Menu {
        let prompt = self.prompt_name(&format!("{key}.prompt"), raw.prompt);
        if raw.choices.is_empty() {
            self.error(
                &format!("{key}.choices"),
                "a menu needs at least one choice",
            );
        }
        let mut choices = BTreeMap::new();
        for (digit_text, raw_action) in raw.choices {
            let choice_key = format!("{key}.choices.{digit_text:?}");
            let mut chars = digit_text.chars();
            let digit = match (chars.next(), chars.next()) {
                (Some(digit), None) if KEYPAD.contains(digit) => Some(digit),
                _ => {
                    self.error(
                        &choice_key,
                        format!("\"{digit_text}\" is not a keypad key (0-9, * or #)"),
                    );
                    None
                }
            };
            if let (Some(action), Some(digit)) = (self.action(&choice_key, raw_action, true), digit)
            {
                choices.insert(digit, action);
            }
        }
        let timeout =
            self.positive_duration(&format!("{key}.timeout"), raw.timeout, DEFAULT_MENU_TIMEOUT);
        let tries = self.tries(&format!("{key}.tries"), raw.tries);
        let invalid_prompt = raw
            .invalid_prompt
            .map(|p| self.prompt_name(&format!("{key}.invalid_prompt"), p));
        let no_input_prompt = raw
            .no_input_prompt
            .map(|p| self.prompt_name(&format!("{key}.no_input_prompt"), p));
        let on_failure = self.failure_action(&format!("{key}.on_failure"), raw.on_failure);
        let name = match raw.name {
            Some(name) if name.trim().is_empty() => {
                self.error(&format!("{key}.name"), "must not be empty");
                name
            }
            Some(name) => name,
            None => default_name,
        };
        Menu {
            name,
            prompt,
            choices,
            timeout,
            tries,
            invalid_prompt,
            no_input_prompt,
            on_failure,
        }
    }

    fn collect(&mut self, key: &str, raw: RawCollect) -> Collect {
        if raw.name.trim().is_empty() {
            self.error(&format!("{key}.name"), "must not be empty");
        }
        let prompt = self.prompt_name(&format!("{key}.prompt"), raw.prompt);
        let min_digits = raw.min_digits.unwrap_or(1);
        if raw.max_digits == 0 {
            self.error(&format!("{key}.max_digits"), "must be at least 1");
        }
        if min_digits > raw.max_digits {
            self.error(
                &format!("{key}.min_digits"),
                format!("{min_digits} is more than max_digits {}", raw.max_digits),
            );
        }
        let terminator = match raw.terminator.as_deref() {
            None => Some('#'),
            Some("") => None,
            Some("#") => Some('#'),
            Some("*") => Some('*'),
            Some(other) => {
                self.error(
                    &format!("{key}.terminator"),
                    format!("\"{other}\" cannot end input; use \"#\", \"*\" or \"\" for none"),
                );
                None
            }
        };
        let timeout =
            self.positive_duration(&format!("{key}.timeout"), raw.timeout, DEFAULT_MENU_TIMEOUT);
        let tries = self.tries(&format!("{key}.tries"), raw.tries);
        let invalid_prompt = raw
            .invalid_prompt
            .map(|p| self.prompt_name(&format!("{key}.invalid_prompt"), p));
        let then = self
            .action(&format!("{key}.then"), raw.then, false)
            .unwrap_or(Action::Hangup { prompt: None });
        let on_failure = self.failure_action(&format!("{key}.on_failure"), raw.on_failure);
        Collect {
            name: raw.name,
            prompt,
            min_digits,
            max_digits: raw.max_digits,
            terminator,
            timeout,
            tries,
            invalid_prompt,
            then,
            on_failure,
        }
    }

    /// Used up tries end the call unless the admin says otherwise.
    fn failure_action(&mut self, key: &str, raw: Option<RawAction>) -> Action {
        raw.and_then(|raw| self.action(key, raw, false))
            .unwrap_or(Action::Hangup { prompt: None })
    }

    fn action(&mut self, key: &str, raw: RawAction, repeat_allowed: bool) -> Option<Action> {
        let kinds: Vec<&str> = [
            ("flow", raw.flow.is_some()),
            ("queue", raw.queue.is_some()),
            ("repeat", raw.repeat.is_some()),
            ("hangup", raw.hangup.is_some()),
        ]
        .into_iter()
        .filter_map(|(kind, present)| present.then_some(kind))
        .collect();
        if kinds.len() != 1 {
            let found = if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(" and ")
            };
            self.error(
                key,
                format!(
                    "an action needs exactly one of flow, queue, repeat or hangup, but has {found}"
                ),
            );
            return None;
        }
        if raw.language.is_some() && raw.flow.is_none() {
            self.error(
                &format!("{key}.language"),
                "a language change needs a flow to go on with, e.g. { language = \"en\", flow = \"main_menu\" }",
            );
            return None;
        }
        if raw.prompt.is_some() && raw.hangup.is_none() {
            self.error(
                &format!("{key}.prompt"),
                "prompt only applies to a hangup action",
            );
        }
        if let Some(flow) = raw.flow {
            let flow = self.flow_ref(&format!("{key}.flow"), flow);
            return Some(match raw.language {
                Some(language) => Action::Language {
                    language: self.language(&format!("{key}.language"), language),
                    flow,
                },
                None => Action::Flow(flow),
            });
        }
        if let Some(queue) = raw.queue {
            return Some(Action::Queue(
                self.queue_ref(&format!("{key}.queue"), queue),
            ));
        }
        if let Some(repeat) = raw.repeat {
            if !repeat {
                self.error(
                    &format!("{key}.repeat"),
                    "repeat = false does nothing; write repeat = true",
                );
                return None;
            }
            if !repeat_allowed {
                self.error(
                    &format!("{key}.repeat"),
                    "repeat only makes sense as a menu choice; here it would loop for ever",
                );
                return None;
            }
            return Some(Action::Repeat);
        }
        if raw.hangup == Some(false) {
            self.error(
                &format!("{key}.hangup"),
                "hangup = false does nothing; write hangup = true",
            );
            return None;
        }
        let prompt = raw
            .prompt
            .map(|prompt| self.prompt_name(&format!("{key}.prompt"), prompt));
        Some(Action::Hangup { prompt })
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

pub(crate) fn describe_standards(standards: &Standards) -> String {
    format!(
        "answer within {} rings, ring cadence \"{}\", answer after {} ring(s) ({} after alerting), greeting at most {}{}",
        standards.answer_within_rings,
        standards.ring_cadence,
        standards.answer_after_rings,
        format_duration(standards.answer_delay()),
        format_duration(standards.greeting_max),
        match standards.max_calls {
            Some(limit) => format!(", at most {limit} calls at once"),
            None => String::new(),
        }
    )
}
