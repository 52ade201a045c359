//! `[standards]`: the service standards every call is held to (ring count, cadence,
//! greeting length, simultaneous calls), their TOML shape and its checks.

use std::time::Duration;

use serde::Deserialize;

use super::Checker;
use crate::config::duration::{format_duration, RingCadence};

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
    /// Simultaneous calls; beyond it a new call gets 503 at once instead of ringing on
    /// (default [`DEFAULT_MAX_CALLS`]).
    pub max_calls: Option<u32>,
    /// New calls (INVITEs) one source address may start per second; beyond it a new call
    /// gets 503 with Retry-After at once (default [`DEFAULT_NEW_CALLS_PER_SOURCE`]).
    pub new_calls_per_source: u32,
}

/// A call centre switch of this kind serves tens of agents: 200 calls at once is a hundred
/// agents talking and as many callers waiting. Each call holds up to two RTP ports and a
/// share of a media worker; the limit keeps a flood (or a trunk misrouting) from taking every port and
/// all the CPU the calls in progress need, long before the default 5,000 port pairs run out.
pub const DEFAULT_MAX_CALLS: u32 = 200;
/// Ten new calls a second from one address (after a burst of twenty at once) fills 200
/// lines in 20 s — more than any trunk sends a centre this size at its busiest (one new call
/// a second is a busy hour) — while a flood from one address is held to ten calls a second.
pub const DEFAULT_NEW_CALLS_PER_SOURCE: u32 = 10;

impl Default for Standards {
    fn default() -> Self {
        Standards {
            answer_within_rings: 3,
            ring_cadence: RingCadence::CHINA,
            answer_after_rings: 1,
            greeting_max: Duration::from_secs(10),
            max_calls: Some(DEFAULT_MAX_CALLS),
            new_calls_per_source: DEFAULT_NEW_CALLS_PER_SOURCE,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStandards {
    answer_within_rings: Option<u32>,
    ring_cadence: Option<String>,
    answer_after_rings: Option<u32>,
    greeting_max: Option<String>,
    max_calls: Option<u32>,
    new_calls_per_source: Option<u32>,
}

impl Checker<'_> {
    pub(super) fn standards(&mut self, raw: RawStandards) -> Standards {
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
                format!(
                    "0 would refuse every call; leave it out for the default {DEFAULT_MAX_CALLS}"
                ),
            );
        }
        if raw.new_calls_per_source == Some(0) {
            self.error(
                "standards.new_calls_per_source",
                format!("0 would refuse every call; leave it out for the default {DEFAULT_NEW_CALLS_PER_SOURCE} a second"),
            );
        }
        Standards {
            answer_within_rings,
            ring_cadence,
            answer_after_rings,
            greeting_max,
            max_calls: raw.max_calls.or(defaults.max_calls),
            new_calls_per_source: raw
                .new_calls_per_source
                .unwrap_or(defaults.new_calls_per_source),
        }
    }
}

pub(crate) fn describe_standards(standards: &Standards) -> String {
    format!(
        "answer within {} rings, ring cadence \"{}\", answer after {} ring(s) ({} after alerting), greeting at most {}{}, at most {} new calls a second from one address",
        standards.answer_within_rings,
        standards.ring_cadence,
        standards.answer_after_rings,
        format_duration(standards.answer_delay()),
        format_duration(standards.greeting_max),
        match standards.max_calls {
            Some(limit) => format!(", at most {limit} calls at once"),
            None => String::new(),
        },
        standards.new_calls_per_source
    )
}
