//! `[flow.NAME]`: the steps a call runs through (prompts, menus, digit collection,
//! language changes, queues), their TOML shape and its checks.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::{Checker, PromptUse};
use crate::config::error::key_segment;

const DEFAULT_MENU_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_TRIES: u32 = 3;
const KEYPAD: &str = "0123456789*#";

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

pub(super) enum Target<'a> {
    Flow(&'a str),
    Queue(&'a str),
    Language(&'a str),
}

impl Step {
    pub(super) fn for_each_target<'a>(&'a self, visit: &mut impl FnMut(Target<'a>)) {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFlow {
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
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
pub(super) struct RawMenu {
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
pub(super) struct RawCollect {
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
pub(super) struct RawAction {
    flow: Option<String>,
    queue: Option<String>,
    language: Option<String>,
    repeat: Option<bool>,
    hangup: Option<bool>,
    prompt: Option<String>,
}

impl Checker<'_> {
    pub(super) fn tries(&mut self, key: &str, tries: Option<u32>) -> u32 {
        let tries = tries.unwrap_or(DEFAULT_TRIES);
        if tries == 0 {
            self.error(key, "must be at least 1");
        }
        tries
    }

    pub(super) fn flow(&mut self, name: &str, raw: RawFlow) -> Flow {
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

    pub(super) fn step(
        &mut self,
        key: &str,
        raw: RawStep,
        default_menu_name: String,
    ) -> Option<Step> {
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

    pub(super) fn menu(&mut self, key: &str, raw: RawMenu, default_name: String) -> Menu {
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

    pub(super) fn collect(&mut self, key: &str, raw: RawCollect) -> Collect {
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
    pub(super) fn failure_action(&mut self, key: &str, raw: Option<RawAction>) -> Action {
        raw.and_then(|raw| self.action(key, raw, false))
            .unwrap_or(Action::Hangup { prompt: None })
    }

    pub(super) fn action(
        &mut self,
        key: &str,
        raw: RawAction,
        repeat_allowed: bool,
    ) -> Option<Action> {
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
