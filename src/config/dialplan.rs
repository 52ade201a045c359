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

/// A queue calls wait in until an agent with the queue's skills answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub name: String,
    /// Played when a call is routed here; default "connecting".
    pub prompt: String,
    pub file: String,
    /// An agent needs all of these; empty means any agent.
    pub skills: Vec<String>,
    pub strategy: Strategy,
    /// The agent's wrap-up after each call from this queue (default 15 s).
    pub wrap_up: Duration,
    /// Standard S5: no caller waits longer than this (default and most 10 min).
    pub max_wait: Duration,
    /// The exit is taken this long before `max_wait` (default 30 s), so the caller hears
    /// the offer and still leaves the queue within the standard.
    pub exit_notice: Duration,
    pub exit: QueueExit,
    /// Position and expected wait are announced again this often (default 30 s).
    pub announce_every: Duration,
    /// Music on hold prompt (default "moh").
    pub moh: String,
    /// Played to the agent before connecting, when set.
    pub whisper: Option<String>,
}

impl Queue {
    /// When the caller is taken out of the queue: `exit_notice` before `max_wait`.
    pub fn exit_after(&self) -> Duration {
        self.max_wait.saturating_sub(self.exit_notice)
    }

    /// Every prompt a call in this queue may hear (and the agent's whisper), with the key
    /// path that makes it needed.
    pub fn prompt_uses(&self) -> Vec<PromptUse> {
        let key = format!("queue.{}", key_segment(&self.name));
        let use_at = |field: &str, prompt: &str| PromptUse {
            file: self.file.clone(),
            key: format!("{key}.{field}"),
            prompt: prompt.to_string(),
            greeting: false,
        };
        let mut out = vec![use_at("prompt", &self.prompt), use_at("moh", &self.moh)];
        if let Some(whisper) = &self.whisper {
            out.push(use_at("whisper", whisper));
        }
        for prompt in ANNOUNCEMENT_PROMPTS {
            out.push(use_at("announce_every", prompt));
        }
        for digit in 0..10 {
            out.push(use_at("announce_every", &format!("digit_{digit}")));
        }
        let exit_prompts: &[&str] = match self.exit {
            QueueExit::Callback => &CALLBACK_PROMPTS,
            QueueExit::Voicemail => &VOICEMAIL_PROMPTS,
            QueueExit::Overflow(_) => &[],
        };
        for prompt in exit_prompts {
            out.push(use_at("exit", prompt));
        }
        out
    }
}

/// What the switch plays to announce position and expected wait:
/// "queue_position digit_N", "queue_expected_wait digit_N minutes" or
/// "queue_expected_wait less_than_a_minute", "queue_first" for the caller who is next.
pub const ANNOUNCEMENT_PROMPTS: [&str; 5] = [
    "queue_position",
    "queue_expected_wait",
    "minutes",
    "queue_first",
    "less_than_a_minute",
];
/// The callback exit: the offer ("press 1 …") and the confirmation.
pub const CALLBACK_PROMPTS: [&str; 2] = ["callback_offer", "callback_confirmed"];
/// The voicemail exit: the invitation and the tone.
pub const VOICEMAIL_PROMPTS: [&str; 2] = ["voicemail_offer", "beep"];

/// How a queue picks the agent to offer a call to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// The ready agent idle the longest.
    #[default]
    LongestIdle,
    /// Each agent in turn, after the one offered last.
    RoundRobin,
    /// Every ready agent at once; the first to answer takes the call.
    RingAll,
    /// The ready agent who has answered the fewest calls.
    FewestCalls,
}

impl Strategy {
    const ALL: [Strategy; 4] = [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::RingAll,
        Strategy::FewestCalls,
    ];

    /// As written in a dialplan.
    pub fn config_name(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest_idle",
            Strategy::RoundRobin => "round_robin",
            Strategy::RingAll => "ring_all",
            Strategy::FewestCalls => "fewest_calls",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::LongestIdle => "longest idle",
            Strategy::RoundRobin => "round robin",
            Strategy::RingAll => "ring all",
            Strategy::FewestCalls => "fewest calls",
        })
    }
}

/// Where a caller goes when the queue's maximum wait is near.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum QueueExit {
    /// Offer a callback that keeps the caller's place (press 1).
    #[default]
    Callback,
    /// Move the caller to another queue.
    Overflow(String),
    /// Record a voicemail message.
    Voicemail,
}

impl fmt::Display for QueueExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueExit::Callback => f.write_str("callback"),
            QueueExit::Overflow(queue) => write!(f, "overflow to queue {queue}"),
            QueueExit::Voicemail => f.write_str("voicemail"),
        }
    }
}

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

/// Codes an agent dials from the desk phone to change state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureCodes {
    /// Log in (and become ready); default "*21".
    pub login: String,
    /// Default "*22".
    pub logout: String,
    /// Default "*23".
    pub ready: String,
    /// Default "*24".
    pub not_ready: String,
}

impl Default for FeatureCodes {
    fn default() -> Self {
        FeatureCodes {
            login: "*21".to_string(),
            logout: "*22".to_string(),
            ready: "*23".to_string(),
            not_ready: "*24".to_string(),
        }
    }
}

/// What a feature code asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeatureCode {
    Login,
    Logout,
    Ready,
    NotReady,
}

impl FeatureCodes {
    /// What a dialled number (request-URI user) means, if it is a feature code.
    pub fn lookup(&self, dialled: &str) -> Option<FeatureCode> {
        self.all()
            .into_iter()
            .find(|(_, code)| *code == dialled)
            .map(|(feature, _)| feature)
    }

    /// (what, code) in the order login, logout, ready, not ready.
    pub fn all(&self) -> [(FeatureCode, &str); 4] {
        [
            (FeatureCode::Login, self.login.as_str()),
            (FeatureCode::Logout, self.logout.as_str()),
            (FeatureCode::Ready, self.ready.as_str()),
            (FeatureCode::NotReady, self.not_ready.as_str()),
        ]
    }
}

impl FeatureCode {
    /// The key in `[feature_codes]`.
    pub fn config_name(self) -> &'static str {
        match self {
            FeatureCode::Login => "login",
            FeatureCode::Logout => "logout",
            FeatureCode::Ready => "ready",
            FeatureCode::NotReady => "not_ready",
        }
    }

    /// The confirmation prompt played after the code is accepted.
    pub fn confirmation_prompt(self) -> &'static str {
        match self {
            FeatureCode::Login => "agent_logged_in",
            FeatureCode::Logout => "agent_logged_out",
            FeatureCode::Ready => "agent_ready",
            FeatureCode::NotReady => "agent_not_ready",
        }
    }
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
    #[serde(default)]
    tier: BTreeMap<String, RawTier>,
    feature_codes: Option<RawFeatureCodes>,
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
    skills: Option<Vec<String>>,
    strategy: Option<String>,
    wrap_up: Option<String>,
    max_wait: Option<String>,
    exit_notice: Option<String>,
    exit: Option<RawQueueExit>,
    announce_every: Option<String>,
    moh: Option<String>,
    whisper: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueueExit {
    callback: Option<bool>,
    overflow: Option<String>,
    voicemail: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    priority: u32,
    numbers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeatureCodes {
    login: Option<String>,
    logout: Option<String>,
    ready: Option<String>,
    not_ready: Option<String>,
}

const DEFAULT_LANGUAGE: &str = "zh";
const DEFAULT_MENU_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_TRIES: u32 = 3;
const DEFAULT_QUEUE_PROMPT: &str = "connecting";
const DEFAULT_WRAP_UP: Duration = Duration::from_secs(15);
/// Standard S5: the longest any caller waits in a queue.
const MAX_WAIT_LIMIT: Duration = Duration::from_secs(600);
const DEFAULT_EXIT_NOTICE: Duration = Duration::from_secs(30);
const DEFAULT_ANNOUNCE_EVERY: Duration = Duration::from_secs(30);
const DEFAULT_MOH: &str = "moh";
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
    let mut tier_files: BTreeMap<String, String> = BTreeMap::new();
    let mut standards_file: Option<String> = None;
    let mut feature_codes_file: Option<String> = None;
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
    }
    let names = Names {
        flows: flow_files.keys().cloned().collect(),
        queues: queue_files.keys().cloned().collect(),
    };

    let mut standards = Standards::default();
    let mut hotlines = Vec::new();
    let mut flows = BTreeMap::new();
    let mut queues = BTreeMap::new();
    let mut tiers = BTreeMap::new();
    let mut feature_codes = FeatureCodes::default();
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
    check_overflow_loops(&queues, errors);
    check_tier_numbers_unique(&tiers, errors);
    hotlines.sort_by(|a, b| a.name.cmp(&b.name));
    Some(Dialplan {
        standards,
        hotlines,
        flows,
        queues,
        tiers,
        feature_codes,
    })
}

/// Overflow moves a caller on; a ring of overflows would move them round for ever.
fn check_overflow_loops(queues: &BTreeMap<String, Queue>, errors: &mut Vec<ConfigError>) {
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    for start in queues.values() {
        let mut path: Vec<&str> = vec![start.name.as_str()];
        let mut current = start;
        while let QueueExit::Overflow(next) = &current.exit {
            let Some(next_queue) = queues.get(next) else {
                break;
            };
            if let Some(position) = path.iter().position(|name| *name == next.as_str()) {
                // Report each loop once, at its first queue in name order.
                let ring = &path[position..];
                let first = ring.iter().min().copied().unwrap_or(start.name.as_str());
                if ring.len() > 1 && first == start.name.as_str() && reported.insert(first) {
                    let mut names: Vec<&str> = ring.to_vec();
                    names.push(first);
                    errors.push(ConfigError::new(
                        start.file.as_str(),
                        format!("queue.{}.exit.overflow", key_segment(&start.name)),
                        format!(
                            "overflow queues go round in a loop ({}), so a caller would never leave",
                            names.join(" → ")
                        ),
                    ));
                }
                break;
            }
            path.push(next.as_str());
            current = next_queue;
        }
    }
}

/// A caller number in two tiers would have two priorities.
fn check_tier_numbers_unique(tiers: &BTreeMap<String, Tier>, errors: &mut Vec<ConfigError>) {
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

    fn queue(&mut self, name: &str, raw: RawQueue) -> Queue {
        let key = format!("queue.{}", key_segment(name));
        let prompt = match raw.prompt {
            Some(prompt) => self.prompt_name(&format!("{key}.prompt"), prompt),
            None => DEFAULT_QUEUE_PROMPT.to_string(),
        };
        let skills = raw.skills.unwrap_or_default();
        for (index, skill) in skills.iter().enumerate() {
            if skill.trim().is_empty() {
                self.error(
                    &format!("{key}.skills[{index}]"),
                    "a skill must be a non-empty name such as \"sales\"",
                );
            } else if skills[..index].contains(skill) {
                self.error(
                    &format!("{key}.skills[{index}]"),
                    format!("skill \"{skill}\" is listed twice"),
                );
            }
        }
        let strategy = match raw.strategy {
            None => Strategy::default(),
            Some(text) => Strategy::ALL
                .into_iter()
                .find(|strategy| strategy.config_name() == text)
                .unwrap_or_else(|| {
                    self.error(
                        &format!("{key}.strategy"),
                        format!("\"{text}\" is not a strategy; use longest_idle, round_robin, ring_all or fewest_calls"),
                    );
                    Strategy::default()
                }),
        };
        let wrap_up = match raw.wrap_up {
            Some(text) => self.duration(&format!("{key}.wrap_up"), &text, DEFAULT_WRAP_UP),
            None => DEFAULT_WRAP_UP,
        };
        let max_wait =
            self.positive_duration(&format!("{key}.max_wait"), raw.max_wait, MAX_WAIT_LIMIT);
        if max_wait > MAX_WAIT_LIMIT {
            self.error(
                &format!("{key}.max_wait"),
                format!(
                    "{} is longer than the {} standard S5 allows a caller to wait",
                    format_duration(max_wait),
                    format_duration(MAX_WAIT_LIMIT)
                ),
            );
        }
        let exit_notice = match raw.exit_notice {
            Some(text) => self.duration(&format!("{key}.exit_notice"), &text, DEFAULT_EXIT_NOTICE),
            None => DEFAULT_EXIT_NOTICE,
        };
        // A zero max_wait is already refused; one sentence per mistake.
        if !max_wait.is_zero() && exit_notice >= max_wait {
            self.error(
                &format!("{key}.exit_notice"),
                format!(
                    "{} must be shorter than max_wait {}, or callers would be moved on as they arrive",
                    format_duration(exit_notice),
                    format_duration(max_wait)
                ),
            );
        }
        let exit = match raw.exit {
            None => QueueExit::default(),
            Some(raw_exit) => self.queue_exit(&format!("{key}.exit"), name, raw_exit),
        };
        let announce_every = self.positive_duration(
            &format!("{key}.announce_every"),
            raw.announce_every,
            DEFAULT_ANNOUNCE_EVERY,
        );
        let moh = match raw.moh {
            Some(moh) => self.prompt_name(&format!("{key}.moh"), moh),
            None => DEFAULT_MOH.to_string(),
        };
        let whisper = raw
            .whisper
            .map(|whisper| self.prompt_name(&format!("{key}.whisper"), whisper));
        Queue {
            name: name.to_string(),
            prompt,
            file: self.file.to_string(),
            skills,
            strategy,
            wrap_up,
            max_wait,
            exit_notice,
            exit,
            announce_every,
            moh,
            whisper,
        }
    }

    fn queue_exit(&mut self, key: &str, queue: &str, raw: RawQueueExit) -> QueueExit {
        if !self.exactly_one(
            key,
            "an exit",
            &[
                ("callback", raw.callback.is_some()),
                ("overflow", raw.overflow.is_some()),
                ("voicemail", raw.voicemail.is_some()),
            ],
        ) {
            return QueueExit::default();
        }
        if let Some(target) = raw.overflow {
            if target == queue {
                self.error(
                    &format!("{key}.overflow"),
                    format!("queue \"{queue}\" cannot overflow to itself; name another queue"),
                );
                return QueueExit::default();
            }
            return QueueExit::Overflow(self.queue_ref(&format!("{key}.overflow"), target));
        }
        let (field, enabled, exit) = match raw.callback {
            Some(enabled) => ("callback", enabled, QueueExit::Callback),
            None => (
                "voicemail",
                raw.voicemail.unwrap_or(false),
                QueueExit::Voicemail,
            ),
        };
        if !enabled {
            self.error(
                &format!("{key}.{field}"),
                format!(
                    "{field} = false does nothing; write {field} = true or choose another exit"
                ),
            );
        }
        exit
    }

    fn tier(&mut self, name: &str, raw: RawTier) -> Tier {
        let key = format!("tier.{}", key_segment(name));
        if raw.numbers.is_empty() {
            self.error(
                &format!("{key}.numbers"),
                "a tier needs at least one caller number",
            );
        }
        for (index, number) in raw.numbers.iter().enumerate() {
            if !super::hardware::is_sip_user(number) {
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

    fn feature_codes(&mut self, raw: RawFeatureCodes) -> FeatureCodes {
        let defaults = FeatureCodes::default();
        let codes = FeatureCodes {
            login: raw.login.unwrap_or(defaults.login),
            logout: raw.logout.unwrap_or(defaults.logout),
            ready: raw.ready.unwrap_or(defaults.ready),
            not_ready: raw.not_ready.unwrap_or(defaults.not_ready),
        };
        let all = codes.all();
        for (index, (feature, code)) in all.iter().enumerate() {
            let key = format!("feature_codes.{}", feature.config_name());
            let digits = code.strip_prefix('*').unwrap_or("");
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                self.error(
                    &key,
                    format!("\"{code}\" must be * followed by digits, such as \"*21\""),
                );
            } else if let Some((other, _)) = all[..index].iter().find(|(_, c)| c == code) {
                self.error(
                    &key,
                    format!(
                        "\"{code}\" is also the {} code; each code must be different",
                        other.config_name()
                    ),
                );
            }
        }
        codes
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

    fn action(&mut self, key: &str, raw: RawAction, repeat_allowed: bool) -> Option<Action> {
        if !self.exactly_one(
            key,
            "an action",
            &[
                ("flow", raw.flow.is_some()),
                ("queue", raw.queue.is_some()),
                ("repeat", raw.repeat.is_some()),
                ("hangup", raw.hangup.is_some()),
            ],
        ) {
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
