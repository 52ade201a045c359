//! What happened on a call, in the order it happened: the observable truth that
//! `hotline calls show`, the tests and (later) QA replay read. The switch produces these;
//! the store keeps them. Offsets are milliseconds from the INVITE's arrival.

use serde::{Deserialize, Serialize};

/// One event on a call's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// Milliseconds since the INVITE arrived.
    pub offset_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Caller,
    Switch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The INVITE arrived.
    Invite {
        from: String,
        to: String,
    },
    /// 180 Ringing sent.
    Ringing,
    /// 200 OK sent; `rings` is the number of ring periods started before the answer.
    Answered {
        rings: u32,
    },
    /// The caller's ACK arrived (media may flow).
    Confirmed,
    PromptStarted {
        name: String,
        language: String,
    },
    PromptFinished {
        name: String,
        interrupted: bool,
    },
    /// A keypad digit arrived (`source` is "rfc4733" or "sip-info").
    Dtmf {
        digit: char,
        source: String,
    },
    /// A menu accepted a choice.
    MenuChoice {
        menu: String,
        digit: char,
        action: String,
    },
    /// A menu got a digit it has no choice for, or nothing before its timeout.
    MenuInvalid {
        menu: String,
        digit: Option<char>,
    },
    MenuNoInput {
        menu: String,
    },
    /// Digits collected by a collect step.
    Collected {
        name: String,
        digits: String,
    },
    /// The caller's language changed.
    Language {
        language: String,
    },
    /// The call went to a queue or another target.
    Route {
        target: String,
    },
    /// Business hours decided between the open and closed flows.
    Hours {
        open: bool,
    },
    /// The call was refused before answer (status code, reason).
    Rejected {
        status: u16,
        reason: String,
    },
    /// The call ended.
    Hangup {
        by: Party,
        reason: String,
    },
}

impl EventKind {
    /// Short name used in listings and as the store's `kind` column.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Invite { .. } => "invite",
            EventKind::Ringing => "ringing",
            EventKind::Answered { .. } => "answered",
            EventKind::Confirmed => "confirmed",
            EventKind::PromptStarted { .. } => "prompt_started",
            EventKind::PromptFinished { .. } => "prompt_finished",
            EventKind::Dtmf { .. } => "dtmf",
            EventKind::MenuChoice { .. } => "menu_choice",
            EventKind::MenuInvalid { .. } => "menu_invalid",
            EventKind::MenuNoInput { .. } => "menu_no_input",
            EventKind::Collected { .. } => "collected",
            EventKind::Language { .. } => "language",
            EventKind::Route { .. } => "route",
            EventKind::Hours { .. } => "hours",
            EventKind::Rejected { .. } => "rejected",
            EventKind::Hangup { .. } => "hangup",
        }
    }
}
