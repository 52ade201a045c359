//! `[queue.NAME]`: where callers wait for an agent (skills, strategy, wrap-up, the
//! S5 maximum wait and its exit, announcements, music), their TOML shape and its checks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::{Checker, PromptUse};
use crate::config::duration::format_duration;
use crate::config::error::{key_segment, ConfigError};

const DEFAULT_QUEUE_PROMPT: &str = "connecting";
const DEFAULT_WRAP_UP: Duration = Duration::from_secs(15);
/// Standard S5: the longest any caller waits in a queue.
const MAX_WAIT_LIMIT: Duration = Duration::from_secs(600);
const DEFAULT_EXIT_NOTICE: Duration = Duration::from_secs(30);
const DEFAULT_ANNOUNCE_EVERY: Duration = Duration::from_secs(30);
/// A minute with nobody taking a queue's calls is no passing gap (a phone re-registering, an
/// agent between states) but a queue nobody serves: the caller is moved on instead of being
/// kept for the whole maximum wait.
const DEFAULT_UNSTAFFED_WAIT: Duration = Duration::from_secs(60);
const DEFAULT_MOH: &str = "moh";
const DEFAULT_RETRY_AFTER_REFUSAL: Duration = Duration::from_secs(5);
/// Three refusals in a row is no longer one busy moment: the phone is on do-not-disturb,
/// unplugged from its handset or misconfigured, and every caller offered to it waits
/// through another refusal. Three still forgives a single busy press or two.
const DEFAULT_PAUSE_AFTER_REFUSALS: u32 = 3;

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
    /// A caller waiting while nobody with the queue's skills is taking calls (all logged
    /// out, on a break or unregistered) takes the exit once it has been so this long (default
    /// 60 s; FreeSWITCH's `max-wait-time-with-no-agent`, Asterisk's `leavewhenempty`), not
    /// at the maximum wait. 0s moves them on at once; `max_wait` or longer never early.
    pub unstaffed_wait: Duration,
    /// Position and expected wait are announced again this often (default 30 s).
    pub announce_every: Duration,
    /// Music on hold prompt (default "moh").
    pub moh: String,
    /// Played to the agent before connecting, when set.
    pub whisper: Option<String>,
    /// An agent whose phone refused an offer from this queue (busy, declined, any failure)
    /// is not offered a call again for this long (default 5 s; Asterisk's `retry`), so a
    /// phone that always refuses is not sent an INVITE storm. Other agents are offered the
    /// call meanwhile.
    pub retry_after_refusal: Duration,
    /// After this many refused offers in a row an agent is set not ready, as if they had
    /// dialled the not-ready code (default 3; 0 never pauses; Asterisk's `autopause`).
    pub pause_after_refusals: u32,
    /// The hold reasons (`[hold.reason.NAME]`) agents of this queue may give, by name;
    /// empty: all of them.
    pub hold_reasons: Vec<String>,
    /// The reason a hold gets when the agent chose none; `None`: the dialplan's default.
    pub default_hold_reason: Option<String>,
    /// A prompt naming the department this queue serves ("the sales department"), said in
    /// the transfer explanation; `None`: the generic "a colleague from another department".
    pub department: Option<String>,
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
        if let Some(department) = &self.department {
            out.push(use_at("department", department));
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueue {
    prompt: Option<String>,
    skills: Option<Vec<String>>,
    strategy: Option<String>,
    wrap_up: Option<String>,
    max_wait: Option<String>,
    exit_notice: Option<String>,
    exit: Option<RawQueueExit>,
    unstaffed_wait: Option<String>,
    announce_every: Option<String>,
    moh: Option<String>,
    whisper: Option<String>,
    retry_after_refusal: Option<String>,
    pause_after_refusals: Option<u32>,
    hold_reasons: Option<Vec<String>>,
    default_hold_reason: Option<String>,
    department: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueueExit {
    callback: Option<bool>,
    overflow: Option<String>,
    voicemail: Option<bool>,
}

impl Checker<'_> {
    pub(super) fn queue(&mut self, name: &str, raw: RawQueue) -> Queue {
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
        let unstaffed_wait = match raw.unstaffed_wait {
            Some(text) => self.duration(
                &format!("{key}.unstaffed_wait"),
                &text,
                DEFAULT_UNSTAFFED_WAIT,
            ),
            None => DEFAULT_UNSTAFFED_WAIT,
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
        let retry_after_refusal = self.positive_duration(
            &format!("{key}.retry_after_refusal"),
            raw.retry_after_refusal,
            DEFAULT_RETRY_AFTER_REFUSAL,
        );
        if !retry_after_refusal.is_zero() && retry_after_refusal < Duration::from_secs(1) {
            self.error(
                &format!("{key}.retry_after_refusal"),
                format!(
                    "{} would re-offer a refusing phone several times a second; use at least 1s",
                    format_duration(retry_after_refusal)
                ),
            );
        }
        let pause_after_refusals = raw
            .pause_after_refusals
            .unwrap_or(DEFAULT_PAUSE_AFTER_REFUSALS);
        let (hold_reasons, default_hold_reason) =
            self.queue_hold_reasons(&key, raw.hold_reasons, raw.default_hold_reason);
        let department = raw
            .department
            .map(|department| self.prompt_name(&format!("{key}.department"), department));
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
            unstaffed_wait,
            announce_every,
            moh,
            whisper,
            retry_after_refusal,
            pause_after_refusals,
            hold_reasons,
            default_hold_reason,
            department,
        }
    }

    /// `hold_reasons` and `default_hold_reason`: reasons that exist, each listed once, and a
    /// default the queue's agents may give.
    fn queue_hold_reasons(
        &mut self,
        key: &str,
        listed: Option<Vec<String>>,
        default: Option<String>,
    ) -> (Vec<String>, Option<String>) {
        let names = self.names;
        let list_key = format!("{key}.hold_reasons");
        let listed = match listed {
            Some(listed) if listed.is_empty() => {
                self.error(
                    &list_key,
                    "an empty list gives agents no reason to choose; leave hold_reasons out to allow every reason",
                );
                Vec::new()
            }
            Some(listed) => listed,
            None => Vec::new(),
        };
        for (index, reason) in listed.iter().enumerate() {
            let item_key = format!("{list_key}[{index}]");
            if !names.hold_reasons.contains(reason) {
                self.error(
                    &item_key,
                    format!(
                        "unknown hold reason \"{reason}\" (declare it as [hold.reason.{}])",
                        key_segment(reason)
                    ),
                );
            } else if listed[..index].contains(reason) {
                self.error(
                    &item_key,
                    format!("hold reason \"{reason}\" is listed twice"),
                );
            }
        }
        let allowed = |reason: &str| listed.is_empty() || listed.iter().any(|r| r == reason);
        match &default {
            Some(reason) if !names.hold_reasons.contains(reason) => self.error(
                &format!("{key}.default_hold_reason"),
                format!(
                    "unknown hold reason \"{reason}\" (declare it as [hold.reason.{}])",
                    key_segment(reason)
                ),
            ),
            Some(reason) if !allowed(reason) => self.error(
                &format!("{key}.default_hold_reason"),
                format!("\"{reason}\" is not in this queue's hold_reasons; add it there or choose one of them"),
            ),
            None if !allowed(&names.default_hold_reason)
                && names.hold_reasons.contains(&names.default_hold_reason) =>
            {
                self.error(
                    &list_key,
                    format!(
                        "leaves out the dialplan's default reason \"{}\"; add it or set default_hold_reason",
                        names.default_hold_reason
                    ),
                )
            }
            _ => {}
        }
        (listed, default)
    }

    pub(super) fn queue_exit(&mut self, key: &str, queue: &str, raw: RawQueueExit) -> QueueExit {
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
}

/// Overflow moves a caller on; a ring of overflows would move them round for ever.
/// Overflow queues that go round in a loop, each loop reported once; true if there was one.
pub(super) fn check_overflow_loops(
    queues: &BTreeMap<String, Queue>,
    errors: &mut Vec<ConfigError>,
) -> bool {
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
    !reported.is_empty()
}

/// A caller's maximum wait counts from the first queue they joined, across overflows
/// (standard S5 bounds the whole wait), so an overflow queue must move callers on later
/// than the queue that sends them there, or they would arrive only to leave again.
pub(super) fn check_overflow_leaves_time(
    queues: &BTreeMap<String, Queue>,
    errors: &mut Vec<ConfigError>,
) {
    let moved_on_after = |q: &Queue| q.max_wait.saturating_sub(q.exit_notice);
    for queue in queues.values() {
        let QueueExit::Overflow(next) = &queue.exit else {
            continue;
        };
        let Some(next_queue) = queues.get(next) else {
            continue;
        };
        if next_queue.name == queue.name {
            continue;
        }
        let here = moved_on_after(queue);
        let there = moved_on_after(next_queue);
        if there <= here {
            errors.push(ConfigError::new(
                queue.file.as_str(),
                format!("queue.{}.exit.overflow", key_segment(&queue.name)),
                format!(
                    "callers overflow to {} after waiting {} here, but the maximum wait counts from the first queue and {} moves them on at {} (max_wait less exit_notice), leaving them no time there; give {} a shorter max_wait",
                    next_queue.name,
                    format_duration(here),
                    next_queue.name,
                    format_duration(there),
                    queue.name
                ),
            ));
        }
    }
}
