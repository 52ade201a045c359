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
    Agent,
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
    /// The caller joined a queue: place in line (1 = next) and the wait announced — none
    /// when no agent who could answer was taking calls.
    QueueEntered {
        queue: String,
        position: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected_wait_s: Option<u32>,
        priority: u32,
    },
    /// Position and expected wait (none, as above) announced again while waiting.
    Announcement {
        position: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected_wait_s: Option<u32>,
    },
    /// An agent's phone was offered the call (an INVITE sent to its registered contact).
    Offered {
        agent: String,
        extension: String,
    },
    /// An offer ended without the agent taking the call: "no_answer" (three rings passed),
    /// "busy", "declined", "failed", "caller_left".
    OfferEnded {
        agent: String,
        rings: u32,
        outcome: String,
    },
    /// The agent answered at ring `rings`, `wait_ms` after the caller entered the queue.
    AgentAnswered {
        agent: String,
        rings: u32,
        wait_ms: u64,
    },
    /// A prompt told the agent about the call before connecting.
    Whisper {
        agent: String,
    },
    /// Caller and agent are talking; `transcoding` when their codecs differ.
    Bridged {
        agent: String,
        transcoding: bool,
    },
    /// The caller left the queue before an agent answered, and how: "callback_offer" (they
    /// pressed 1 at the offer), "max_wait" (the maximum wait came after an offer they did not
    /// take), "unstaffed" (nobody came back to take calls after an offer they did not take),
    /// "overflow QUEUE", "voicemail".
    QueueExit {
        queue: String,
        reason: String,
    },
    /// The maximum wait is near: the caller, still in line, is offered a callback (press 1).
    CallbackOffered {
        queue: String,
    },
    /// Nobody with the queue's skills has taken calls for `unstaffed_s` (the queue's
    /// `unstaffed_wait`) while the caller waited: the queue's exit is taken now, before the
    /// maximum wait.
    QueueUnstaffed {
        queue: String,
        unstaffed_s: u32,
    },
    /// The caller asked to be called back, keeping their place.
    CallbackRequested {
        number: String,
        queue: String,
        position: u32,
    },
    /// A voicemail recording was kept.
    Voicemail {
        file: String,
        duration_ms: u64,
    },
    /// After the call the agent wraps up for this long before the next call.
    WrapUp {
        agent: String,
        seconds: u32,
    },
    /// A desk phone dialled a feature code (log in, log out, ready, not ready).
    FeatureCode {
        code: String,
        agent: String,
        state: String,
    },
    /// A party put the call on hold (a re-INVITE or UPDATE with sendonly, inactive or
    /// c=0.0.0.0): the switch stopped sending it media.
    Hold {
        by: Party,
    },
    /// The party that held the call took it back: media flows to it again.
    Resume {
        by: Party,
    },
    /// The caller's RTP arrived before its ACK: it has the answer, so media and the IVR
    /// started without waiting (the ACK is still expected).
    MediaBeforeAck,
    /// `side` sent neither RTP nor RTCP for `silent_ms`: its network is gone without a BYE,
    /// and the switch ends the call.
    MediaTimeout {
        side: Party,
        silent_ms: u64,
    },
    /// The agent pressed an in-call key sequence (`*4` + reason, `#1` + number, ...); its
    /// digits were not passed to the caller. `action` names what it did, or why nothing.
    InCallKeys {
        agent: String,
        keys: String,
        action: String,
    },
    /// The reason the caller is (or will be) held for: chosen by the agent's keys (`by` =
    /// "keys") or the queue's default (`by` = "default").
    HoldReason {
        agent: String,
        reason: String,
        expected_s: u32,
        by: String,
    },
    /// A check-back prompt started during a hold (the `number`th of this hold).
    HoldCheckBack {
        number: u32,
    },
    /// The hold outlasted its reason's expected duration: the caller hears an apology and a
    /// fresh estimate.
    HoldOverrun {
        reason: String,
        estimate_s: u32,
    },
    /// The hold passed the maximum: the agent is reminded in a whisper.
    HoldReminder {
        agent: String,
        held_s: u32,
    },
    /// A hold ended (resume, transfer or hang-up) after `duration_ms`.
    HoldEnded {
        reason: String,
        duration_ms: u64,
        check_backs: u32,
    },
    /// An agent asked for a transfer: `kind` "blind" or "attended", `method` "refer",
    /// "keys" or "invite_replaces", `target` what was dialled.
    TransferRequested {
        agent: String,
        kind: String,
        method: String,
        target: String,
    },
    /// The caller heard where they are going and the expected wait.
    TransferExplained {
        target: String,
        expected_wait_s: u32,
    },
    /// The caller now talks to `agent` (the transfer's target).
    TransferCompleted {
        agent: String,
        kind: String,
    },
    /// A transfer did not reach anyone (`reason`, the target's `status` when it answered
    /// one); the caller was kept.
    TransferFailed {
        target: String,
        reason: String,
        status: Option<u16>,
    },
    /// The caller goes back: to the transferring agent (`to` = agent id) or to the front of
    /// a queue (`to` = "queue:NAME").
    Recall {
        to: String,
        reason: String,
    },
    /// A bridged call's agent leg was lost (`reason`: "bye", "media_timeout", "failed"); the
    /// caller stays and is queued again.
    AgentLegLost {
        agent: String,
        reason: String,
    },
    /// The caller went back into `queue`, at the front.
    Requeued {
        queue: String,
    },
    /// The call's context was handed to `agent` (whisper and record): `items` names what.
    ContextHandedOver {
        agent: String,
        items: Vec<String>,
    },
    /// The call's QA recording began (at the answer): `file` relative to the data dir.
    RecordingStarted {
        file: String,
    },
    /// `by` paused the recording (`*7`): what follows is written as silence.
    RecordingPaused {
        by: Party,
        agent: String,
    },
    /// `by` resumed the recording after `paused_ms` of silence.
    RecordingResumed {
        by: Party,
        agent: String,
        paused_ms: u64,
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
            EventKind::QueueEntered { .. } => "queue_entered",
            EventKind::Announcement { .. } => "announcement",
            EventKind::Offered { .. } => "offered",
            EventKind::OfferEnded { .. } => "offer_ended",
            EventKind::AgentAnswered { .. } => "agent_answered",
            EventKind::Whisper { .. } => "whisper",
            EventKind::Bridged { .. } => "bridged",
            EventKind::QueueExit { .. } => "queue_exit",
            EventKind::CallbackOffered { .. } => "callback_offered",
            EventKind::QueueUnstaffed { .. } => "queue_unstaffed",
            EventKind::CallbackRequested { .. } => "callback_requested",
            EventKind::Voicemail { .. } => "voicemail",
            EventKind::WrapUp { .. } => "wrap_up",
            EventKind::FeatureCode { .. } => "feature_code",
            EventKind::Hold { .. } => "hold",
            EventKind::Resume { .. } => "resume",
            EventKind::MediaBeforeAck => "media_before_ack",
            EventKind::MediaTimeout { .. } => "media_timeout",
            EventKind::InCallKeys { .. } => "in_call_keys",
            EventKind::HoldReason { .. } => "hold_reason",
            EventKind::HoldCheckBack { .. } => "hold_check_back",
            EventKind::HoldOverrun { .. } => "hold_overrun",
            EventKind::HoldReminder { .. } => "hold_reminder",
            EventKind::HoldEnded { .. } => "hold_ended",
            EventKind::TransferRequested { .. } => "transfer_requested",
            EventKind::TransferExplained { .. } => "transfer_explained",
            EventKind::TransferCompleted { .. } => "transfer_completed",
            EventKind::TransferFailed { .. } => "transfer_failed",
            EventKind::Recall { .. } => "recall",
            EventKind::AgentLegLost { .. } => "agent_leg_lost",
            EventKind::Requeued { .. } => "requeued",
            EventKind::ContextHandedOver { .. } => "context_handed_over",
            EventKind::RecordingStarted { .. } => "recording_started",
            EventKind::RecordingPaused { .. } => "recording_paused",
            EventKind::RecordingResumed { .. } => "recording_resumed",
        }
    }
}
