//! qa: automatic quality checks of recorded calls (issue 9) — the rules of STANDARDS.md
//! measured on each call from its timeline and its stereo recording ([`flags`]), voice
//! activity detection on the recording ([`vad`]), the §4 scorecard and its scoring
//! ([`scorecard`]), and the `hotline qa` command ([`cli`]). Reviewers' overrides and saved
//! scores live in the store (`store::qa`); this module only computes.
//!
//! Owns: the rule names, their labels (English and Chinese), their thresholds and how each
//! is measured. Must not touch: sockets, the switch, the recording files' writing.

pub mod audio;
pub mod cli;
pub mod evidence;
pub mod flags;
pub mod scorecard;
pub mod vad;

use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::store::{CallRecord, RecordingState, Store, StoreError};

pub use audio::StereoAudio;
pub use flags::{flags, flags_with, QaSettings};

/// One automatic check of STANDARDS.md, by its stable snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// S1: the switch answered the call within three rings.
    AnsweredWithinRings,
    /// S1: an agent's desk phone was answered within three rings (each offer).
    AgentAnsweredWithinRings,
    /// S1: every transfer target answered within three rings.
    TransferTargetWithinRings,
    /// S2: the agent's greeting started promptly and finished within 10 s of connect.
    #[serde(rename = "greeting_within_10s")]
    GreetingWithin10s,
    /// A hold began with its reason and expected duration told to the caller.
    HoldExplained,
    /// During a hold the caller was never left longer than the check-back interval.
    HoldCheckBacks,
    /// A transfer was explained to the caller.
    TransferExplained,
    /// The transfer's expected wait was announced.
    TransferWaitAnnounced,
    /// The call's context was handed to the transfer target.
    ContextHandedOver,
    /// A transfer that reached nobody brought the caller back (recall) instead of losing them.
    TransferRecalled,
    /// S4: time in queue against 30 s.
    #[serde(rename = "wait_under_30s")]
    WaitUnder30s,
    /// S5: time in queue against 10 minutes.
    #[serde(rename = "wait_under_10min")]
    WaitUnder10min,
    /// The caller hung up before reaching an agent.
    Abandoned,
    /// Neither side spoke for longer than the threshold while connected.
    Silence,
    /// Both sides spoke at once for longer than the threshold.
    TalkOver,
    /// Part of the recording was lost (written as silence).
    RecordingLost,
}

impl Rule {
    /// Every rule, in the order flags are listed.
    pub const ALL: [Rule; 16] = [
        Rule::AnsweredWithinRings,
        Rule::AgentAnsweredWithinRings,
        Rule::TransferTargetWithinRings,
        Rule::GreetingWithin10s,
        Rule::HoldExplained,
        Rule::HoldCheckBacks,
        Rule::TransferExplained,
        Rule::TransferWaitAnnounced,
        Rule::ContextHandedOver,
        Rule::TransferRecalled,
        Rule::WaitUnder30s,
        Rule::WaitUnder10min,
        Rule::Abandoned,
        Rule::Silence,
        Rule::TalkOver,
        Rule::RecordingLost,
    ];

    /// The stable name (as serialized, stored and accepted by `--flag`).
    pub fn name(self) -> &'static str {
        match self {
            Rule::AnsweredWithinRings => "answered_within_rings",
            Rule::AgentAnsweredWithinRings => "agent_answered_within_rings",
            Rule::TransferTargetWithinRings => "transfer_target_within_rings",
            Rule::GreetingWithin10s => "greeting_within_10s",
            Rule::HoldExplained => "hold_explained",
            Rule::HoldCheckBacks => "hold_check_backs",
            Rule::TransferExplained => "transfer_explained",
            Rule::TransferWaitAnnounced => "transfer_wait_announced",
            Rule::ContextHandedOver => "context_handed_over",
            Rule::TransferRecalled => "transfer_recalled",
            Rule::WaitUnder30s => "wait_under_30s",
            Rule::WaitUnder10min => "wait_under_10min",
            Rule::Abandoned => "abandoned",
            Rule::Silence => "silence",
            Rule::TalkOver => "talk_over",
            Rule::RecordingLost => "recording_lost",
        }
    }

    /// The rule of a stable name.
    pub fn parse(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.name() == name)
    }

    /// What the rule checks, in English.
    pub fn label_en(self) -> &'static str {
        match self {
            Rule::AnsweredWithinRings => "Switch answered within 3 rings (S1)",
            Rule::AgentAnsweredWithinRings => "Agent answered within 3 rings (S1)",
            Rule::TransferTargetWithinRings => "Transfer target answered within 3 rings (S1)",
            Rule::GreetingWithin10s => "Greeting finished within 10 s (S2)",
            Rule::HoldExplained => "Hold explained (reason and expected time)",
            Rule::HoldCheckBacks => "Check-backs played during the hold",
            Rule::TransferExplained => "Transfer explained",
            Rule::TransferWaitAnnounced => "Transfer's expected wait announced",
            Rule::ContextHandedOver => "Context handed over on transfer",
            Rule::TransferRecalled => "Failed transfer recalled",
            Rule::WaitUnder30s => "Time in queue within 30 s (S4)",
            Rule::WaitUnder10min => "Time in queue within 10 min (S5)",
            Rule::Abandoned => "Caller not lost before an agent answered",
            Rule::Silence => "No long silence while connected",
            Rule::TalkOver => "No long talk-over",
            Rule::RecordingLost => "Recording complete (nothing lost)",
        }
    }

    /// What the rule checks, in Chinese.
    pub fn label_zh(self) -> &'static str {
        match self {
            Rule::AnsweredWithinRings => "系统三声内接听 (S1)",
            Rule::AgentAnsweredWithinRings => "客服三声内接听 (S1)",
            Rule::TransferTargetWithinRings => "转接对象三声内接听 (S1)",
            Rule::GreetingWithin10s => "开场白10秒内完成 (S2)",
            Rule::HoldExplained => "保留前说明原因及时间",
            Rule::HoldCheckBacks => "保留期间定时回报",
            Rule::TransferExplained => "转接前说明原因",
            Rule::TransferWaitAnnounced => "转接告知预计等待时间",
            Rule::ContextHandedOver => "转接时交接背景资料",
            Rule::TransferRecalled => "转接失败后接回客户",
            Rule::WaitUnder30s => "排队等候30秒内 (S4)",
            Rule::WaitUnder10min => "排队等候不超过10分钟 (S5)",
            Rule::Abandoned => "客户未在接通前放弃",
            Rule::Silence => "通话中无长时间静默",
            Rule::TalkOver => "无长时间抢话",
            Rule::RecordingLost => "录音完整无遗失",
        }
    }

    /// The label in `language` ("zh..." gives Chinese, anything else English).
    pub fn label(self, language: &str) -> &'static str {
        if language.starts_with("zh") {
            self.label_zh()
        } else {
            self.label_en()
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A reviewer's decision on a flag: it stands as `passed` whatever the measurement said.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagOverride {
    /// The reviewer's user name.
    pub by: String,
    #[serde(serialize_with = "serialize_timestamp")]
    pub at: Timestamp,
    pub passed: bool,
    pub comment: String,
}

/// One rule checked on one call: passed or not, where on the call's timeline, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub rule: Rule,
    /// What the measurement found (an override, if any, is in `overridden`).
    pub passed: bool,
    /// Milliseconds after the INVITE (the recording's time is this minus its offset_ms).
    pub start_ms: u64,
    pub end_ms: u64,
    /// The event, or "measured X against threshold Y".
    pub evidence: String,
    /// The measured value, in the unit of `threshold` (rings, seconds).
    pub measured: Option<f64>,
    pub threshold: Option<f64>,
    /// Never kept with computed flags: overrides are read from the store each time.
    #[serde(default, skip_deserializing)]
    pub overridden: Option<FlagOverride>,
    /// `evidence` as a sentence with its values, to word in the reviewer's language; not
    /// exported (kept flags keep it beside them, see `Computed`).
    #[serde(skip)]
    pub sentence: Option<evidence::Evidence>,
}

impl Flag {
    /// The result that counts: the reviewer's override when there is one.
    pub fn effective_passed(&self) -> bool {
        self.overridden.as_ref().map_or(self.passed, |o| o.passed)
    }
}

fn serialize_timestamp<S: serde::Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::store::format_timestamp(*ts))
}

/// Why a call's flags could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum QaError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no call \"{0}\"")]
    UnknownCall(String),
}

/// A call's flags, the record they were computed from, and why the audio checks are
/// missing when they are (no recording, deleted, unreadable).
#[derive(Debug, Clone, Serialize)]
pub struct CallFlags {
    pub record: CallRecord,
    pub flags: Vec<Flag>,
    /// Set when the recording could not be used: the audio rules (greeting, silence,
    /// talk-over) are then absent from `flags`.
    pub audio_missing: Option<String>,
}

/// Loads a call (by id or SIP Call-ID) and its recording, computes its flags with the
/// default settings, applies the reviewers' stored overrides and refreshes the call's row in
/// the failed-flags cache the reviewers' list filters on.
pub fn flags_for_call(store: &Store, data_dir: &Path, call_id: &str) -> Result<Vec<Flag>, QaError> {
    Ok(review_call(store, data_dir, call_id, &QaSettings::default())?.flags)
}

/// [`flags_for_call`] with the record and the audio status kept, and chosen settings.
pub fn review_call(
    store: &Store,
    data_dir: &Path,
    call_id: &str,
    settings: &QaSettings,
) -> Result<CallFlags, QaError> {
    let record = store
        .call(call_id)?
        .ok_or_else(|| QaError::UnknownCall(call_id.to_string()))?;
    let state = record.recording.as_ref().map(|r| r.state);
    // Only a finished call's flags are final enough to keep.
    let settled = record.summary.outcome.is_some() && state != Some(RecordingState::Recording);
    let default_settings = *settings == QaSettings::default();
    let kept = if settled && default_settings {
        kept_flags(store, &record.summary.id, state)?
    } else {
        None
    };
    let fresh = kept.is_none();
    let Computed {
        mut flags,
        audio_missing,
        ..
    } = match kept {
        Some(kept) => kept.with_sentences(),
        None => {
            // A call that never reached an agent has nothing the audio rules listen to: its
            // recording is not read at all (most of a busy hour's calls, and the largest
            // cost of flagging them).
            let (audio, audio_missing) = if flags::listens_to_audio(&record.events) {
                load_audio(&record, data_dir)
            } else {
                (None, recording_unusable(&record))
            };
            Computed {
                version: COMPUTED_VERSION,
                flags: flags_with(&record, audio.as_ref(), settings),
                audio_missing,
                sentences: Vec::new(),
            }
        }
    };
    let overrides = store.flag_overrides(&record.summary.id)?;
    for flag in &mut flags {
        flag.overridden = overrides
            .iter()
            .find(|(rule, start_ms, _)| *rule == flag.rule && *start_ms == flag.start_ms)
            .map(|(_, _, o)| o.clone());
    }
    if settled {
        let now = Timestamp::now();
        store.cache_failed_flags(&record.summary.id, &flags, state, now)?;
        if fresh && default_settings {
            let computed = Computed {
                version: COMPUTED_VERSION,
                flags: flags
                    .iter()
                    .map(|f| Flag {
                        overridden: None,
                        ..f.clone()
                    })
                    .collect(),
                audio_missing: audio_missing.clone(),
                sentences: flags.iter().map(|f| f.sentence.clone()).collect(),
            };
            match serde_json::to_string(&computed) {
                Ok(json) => store.keep_computed_flags(&record.summary.id, state, &json, now)?,
                Err(error) => tracing::warn!(%error, "QA: cannot keep a call's flags"),
            }
        }
    }
    Ok(CallFlags {
        record,
        flags,
        audio_missing,
    })
}

/// The version of the rules' measurements: kept flags of another version are computed
/// afresh (raise it whenever a rule or the detector changes what it finds).
const COMPUTED_VERSION: u32 = 4;

/// A call's flags as computed (no overrides), as kept in the store.
#[derive(Debug, Serialize, Deserialize)]
struct Computed {
    version: u32,
    flags: Vec<Flag>,
    audio_missing: Option<String>,
    /// Each flag's evidence sentence, in the order of `flags` (a flag's own serialization,
    /// the export's, leaves it out).
    #[serde(default)]
    sentences: Vec<Option<evidence::Evidence>>,
}

impl Computed {
    /// The kept flags with their evidence sentences put back.
    fn with_sentences(mut self) -> Computed {
        for (flag, sentence) in self.flags.iter_mut().zip(self.sentences.drain(..)) {
            flag.sentence = sentence;
        }
        self
    }
}

/// The flags kept for `call_id` when they were computed by this version of the rules with
/// the recording in the state it is now.
fn kept_flags(
    store: &Store,
    call_id: &str,
    state: Option<RecordingState>,
) -> Result<Option<Computed>, QaError> {
    let Some((kept_state, json)) = store.computed_flags(call_id)? else {
        return Ok(None);
    };
    if kept_state.as_deref() != state.map(RecordingState::as_str) {
        return Ok(None);
    }
    Ok(serde_json::from_str::<Computed>(&json)
        .ok()
        .filter(|c| c.version == COMPUTED_VERSION))
}

/// Why the call's recording cannot be used, as far as its row tells (the file unread).
fn recording_unusable(record: &CallRecord) -> Option<String> {
    match &record.recording {
        None => Some("the call has no recording".into()),
        Some(r) if r.state == RecordingState::Deleted => {
            Some("the recording was deleted by retention".into())
        }
        Some(_) => None,
    }
}

/// The call's recording as samples, or why there is none to use.
pub fn load_audio(record: &CallRecord, data_dir: &Path) -> (Option<StereoAudio>, Option<String>) {
    if let Some(why) = recording_unusable(record) {
        return (None, Some(why));
    }
    let Some(recording) = &record.recording else {
        return (None, None);
    };
    let path = crate::recording::absolute_path(data_dir, &recording.file);
    match StereoAudio::load(&path, recording.offset_ms) {
        Ok(audio) => (Some(audio), None),
        Err(error) => (
            None,
            Some(format!(
                "the recording {} is unreadable: {error}",
                recording.file
            )),
        ),
    }
}

/// Computes and caches the flags of up to `limit` finished calls whose cache row is
/// missing or stale (their recording changed state since): what `hotline qa list` and the
/// web list run before filtering on flags. Returns how many were computed.
pub fn refresh_flag_cache(store: &Store, data_dir: &Path, limit: usize) -> Result<usize, QaError> {
    let stale = store.calls_without_flag_cache(limit)?;
    for call_id in &stale {
        review_call(store, data_dir, call_id, &QaSettings::default())?;
    }
    Ok(stale.len())
}

/// Where the switch's background review has got to: the end time and id of the last
/// finished call it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewCursor {
    pub ended_at: Timestamp,
    pub id: String,
}

impl ReviewCursor {
    /// Starts with the calls that ended after `since`.
    pub fn since(since: Timestamp) -> ReviewCursor {
        ReviewCursor {
            ended_at: since,
            id: String::new(),
        }
    }
}

/// How long a finished call's recording may still be being written before the review
/// passes it by (it is flagged when viewed).
pub const RECORDING_GRACE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// The switch's background review: computes and keeps the flags of up to `limit` calls that
/// reached an agent and ended after `cursor`, oldest first, moving the cursor past each.
/// A call whose recording is still being written (for at most [`RECORDING_GRACE`] after it
/// ended) stops the pass until it is finished; a store failure stops it with the cursor on
/// the call before. Returns how many calls were reviewed.
pub fn review_ended_calls(
    store: &Store,
    data_dir: &Path,
    cursor: &mut ReviewCursor,
    now: Timestamp,
    limit: usize,
) -> Result<usize, QaError> {
    let ended = store.answered_calls_ended_after((cursor.ended_at, &cursor.id), limit)?;
    let mut reviewed = 0;
    for call in ended {
        if call.recording {
            if now < call.ended_at + RECORDING_GRACE {
                break;
            }
        } else {
            match review_call(store, data_dir, &call.id, &QaSettings::default()) {
                Ok(_) => reviewed += 1,
                // Passed by (it is flagged when viewed) rather than retried for ever.
                Err(QaError::Store(error)) => return Err(QaError::Store(error)),
                Err(error) => tracing::warn!(call = %call.id, %error, "QA review passes a call by"),
            }
        }
        *cursor = ReviewCursor {
            ended_at: call.ended_at,
            id: call.id,
        };
    }
    Ok(reviewed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_is_stored_and_serialized_by_its_one_stable_name_with_two_labels() {
        let mut names = std::collections::BTreeSet::new();
        for rule in Rule::ALL {
            assert_eq!(
                serde_json::to_string(&rule).unwrap(),
                format!("\"{}\"", rule.name())
            );
            assert_eq!(Rule::parse(rule.name()), Some(rule));
            assert_eq!(
                serde_json::from_str::<Rule>(&format!("\"{}\"", rule.name())).unwrap(),
                rule
            );
            assert!(names.insert(rule.name()));
            assert_ne!(rule.label("zh-CN"), rule.label("en"));
        }
        assert_eq!(names.len(), 16);
        assert_eq!(Rule::GreetingWithin10s.name(), "greeting_within_10s");
        assert_eq!(Rule::WaitUnder10min.name(), "wait_under_10min");
        assert_eq!(Rule::parse("any"), None);
    }

    fn ended_call(store: &Store, id: &str, started_at: Timestamp, agent: bool) {
        use crate::store::NewCall;
        use crate::switch::timeline::{EventKind, Party, TimelineEvent};
        store
            .begin_call(&NewCall {
                id: id.into(),
                sip_call_id: format!("sip-{id}"),
                from: "sip:1@trunk".into(),
                to: "sip:4008@switch".into(),
                hotline: Some("service".into()),
                started_at,
            })
            .unwrap();
        let mut events = vec![(1_000, EventKind::Answered { rings: 1 })];
        if agent {
            events.push((
                5_000,
                EventKind::AgentAnswered {
                    agent: "bob".into(),
                    rings: 1,
                    wait_ms: 3_000,
                },
            ));
            events.push((
                5_000,
                EventKind::Bridged {
                    agent: "bob".into(),
                    transcoding: false,
                },
            ));
        }
        events.push((
            60_000,
            EventKind::Hangup {
                by: Party::Caller,
                reason: "bye".into(),
            },
        ));
        for (offset_ms, kind) in events {
            store
                .append_event(id, &TimelineEvent { offset_ms, kind })
                .unwrap();
        }
        store
            .finish_call(
                id,
                started_at + jiff::SignedDuration::from_secs(60),
                "completed",
            )
            .unwrap();
    }

    #[test]
    fn the_background_review_waits_for_a_recording_then_moves_past_each_call_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let ended = |i: i64| t0 + jiff::SignedDuration::from_secs(60 + i);
        ended_call(&store, "a", t0, true);
        ended_call(
            &store,
            "menu",
            t0 + jiff::SignedDuration::from_secs(1),
            false,
        );
        ended_call(&store, "b", t0 + jiff::SignedDuration::from_secs(2), true);
        store
            .recording_started("b", "2026/12/01/b.wav", t0, 1_000)
            .unwrap();
        ended_call(&store, "c", t0 + jiff::SignedDuration::from_secs(3), true);
        let mut cursor = ReviewCursor::since(t0);

        // b's recording is still being written 10 s after it ended: the pass stops at it.
        let now = ended(2) + jiff::SignedDuration::from_secs(10);
        assert_eq!(
            review_ended_calls(&store, dir.path(), &mut cursor, now, 16).unwrap(),
            1
        );
        assert_eq!(cursor.id, "a");
        assert_eq!(cursor.ended_at, ended(0));
        assert!(store.computed_flags("a").unwrap().is_some());
        assert!(
            store.computed_flags("menu").unwrap().is_none(),
            "no agent: not taken"
        );
        assert!(store.computed_flags("b").unwrap().is_none());
        assert!(store.computed_flags("c").unwrap().is_none());

        // Finished: b and c are reviewed, and a second pass finds nothing new.
        store
            .recording_finished(
                "b",
                &crate::store::RecordingEnd {
                    state: RecordingState::Complete,
                    duration_ms: 59_000,
                    sha256: String::new(),
                    lost_ms: 0,
                },
            )
            .unwrap();
        assert_eq!(
            review_ended_calls(&store, dir.path(), &mut cursor, now, 16).unwrap(),
            2
        );
        assert_eq!((cursor.id.as_str(), cursor.ended_at), ("c", ended(3)));
        let (state, _) = store.computed_flags("b").unwrap().unwrap();
        assert_eq!(state.as_deref(), Some("complete"));
        assert_eq!(
            review_ended_calls(&store, dir.path(), &mut cursor, now, 16).unwrap(),
            0
        );
    }

    #[test]
    fn a_recording_never_finished_is_passed_by_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        ended_call(&store, "stuck", t0, true);
        store
            .recording_started("stuck", "2026/12/01/stuck.wav", t0, 1_000)
            .unwrap();
        ended_call(
            &store,
            "next",
            t0 + jiff::SignedDuration::from_secs(1),
            true,
        );
        let end = t0 + jiff::SignedDuration::from_secs(60);
        let mut cursor = ReviewCursor::since(t0);
        let at = |s: i64| end + jiff::SignedDuration::from_secs(s);
        assert_eq!(
            review_ended_calls(&store, dir.path(), &mut cursor, at(59), 16).unwrap(),
            0
        );
        assert_eq!(cursor, ReviewCursor::since(t0));
        assert_eq!(
            review_ended_calls(&store, dir.path(), &mut cursor, at(60), 16).unwrap(),
            1
        );
        assert_eq!(cursor.id, "next");
        assert!(store.computed_flags("stuck").unwrap().is_none());
        assert!(store.computed_flags("next").unwrap().is_some());
    }

    #[test]
    fn kept_flags_of_another_recording_state_or_version_are_computed_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        ended_call(&store, "a", t0, true);
        store
            .recording_started("a", "2026/12/01/a.wav", t0, 1_000)
            .unwrap();
        let end = |state| crate::store::RecordingEnd {
            state,
            duration_ms: 59_000,
            sha256: String::new(),
            lost_ms: 0,
        };
        store
            .recording_finished("a", &end(RecordingState::Complete))
            .unwrap();
        // The file is not there: the flags say so, and are kept with the state.
        let first = review_call(&store, dir.path(), "a", &QaSettings::default()).unwrap();
        assert!(first
            .audio_missing
            .as_deref()
            .unwrap()
            .contains("unreadable"));
        assert!(kept_flags(&store, "a", Some(RecordingState::Complete))
            .unwrap()
            .is_some());
        assert!(kept_flags(&store, "a", Some(RecordingState::Deleted))
            .unwrap()
            .is_none());
        // Retention deleted it: computed afresh, with the new reason.
        store
            .recording_finished("a", &end(RecordingState::Deleted))
            .unwrap();
        let after = review_call(&store, dir.path(), "a", &QaSettings::default()).unwrap();
        assert_eq!(
            after.audio_missing.as_deref(),
            Some("the recording was deleted by retention")
        );
        // Flags kept by another version of the rules are not used.
        let json = serde_json::json!({"version": COMPUTED_VERSION + 1, "flags": [], "audio_missing": null});
        store
            .keep_computed_flags("a", Some(RecordingState::Deleted), &json.to_string(), t0)
            .unwrap();
        assert!(kept_flags(&store, "a", Some(RecordingState::Deleted))
            .unwrap()
            .is_none());
        let again = review_call(&store, dir.path(), "a", &QaSettings::default()).unwrap();
        assert!(!again.flags.is_empty());
    }

    fn answer_passed(flags: &CallFlags) -> Option<bool> {
        flags
            .flags
            .iter()
            .find(|f| f.rule == Rule::AnsweredWithinRings)
            .map(|f| f.passed)
    }

    #[test]
    fn flags_under_a_reviewers_own_settings_are_neither_taken_from_nor_kept_for_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        // The switch answered at the first ring: within the standard three, not within a
        // reviewer's stricter none.
        ended_call(&store, "a", t0, true);
        let strict = QaSettings {
            answer_within_rings: 0,
            ..QaSettings::default()
        };
        let first = review_call(&store, dir.path(), "a", &strict).unwrap();
        assert_eq!(answer_passed(&first), Some(false));
        assert!(kept_flags(&store, "a", None).unwrap().is_none());
        let standard = review_call(&store, dir.path(), "a", &QaSettings::default()).unwrap();
        assert_eq!(answer_passed(&standard), Some(true));
        assert!(kept_flags(&store, "a", None).unwrap().is_some());
        // The stricter settings again: computed afresh, not the kept standard flags.
        let again = review_call(&store, dir.path(), "a", &strict).unwrap();
        assert_eq!(answer_passed(&again), Some(false));
    }

    #[test]
    fn a_call_still_in_progress_has_nothing_kept_and_kept_flags_carry_no_override() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        store
            .begin_call(&crate::store::NewCall {
                id: "live".into(),
                sip_call_id: "sip-live".into(),
                from: "sip:1@trunk".into(),
                to: "sip:4008@switch".into(),
                hotline: Some("service".into()),
                started_at: t0,
            })
            .unwrap();
        review_call(&store, dir.path(), "live", &QaSettings::default()).unwrap();
        assert!(store.computed_flags("live").unwrap().is_none());
        // A finished call with a reviewer's override: the override is shown, never kept
        // inside the computed flags (it is read from its own table each time).
        ended_call(&store, "a", t0, true);
        store
            .save_flag_override(
                "a",
                Rule::AgentAnsweredWithinRings,
                5_000,
                &FlagOverride {
                    by: "rita".into(),
                    at: t0,
                    passed: false,
                    comment: "rang too long".into(),
                },
            )
            .unwrap();
        let reviewed = review_call(&store, dir.path(), "a", &QaSettings::default()).unwrap();
        let agent_answer = reviewed
            .flags
            .iter()
            .find(|f| f.rule == Rule::AgentAnsweredWithinRings)
            .unwrap();
        assert!(agent_answer.overridden.is_some(), "{agent_answer:?}");
        let (_, json) = store.computed_flags("a").unwrap().unwrap();
        assert!(!json.contains("rang too long"), "{json}");
    }

    #[test]
    fn kept_flags_come_back_with_their_evidence_sentences_and_the_export_leaves_them_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        ended_call(&store, "a", t0, true);
        let fresh = review_call(&store, dir.path(), "a", &QaSettings::default()).unwrap();
        assert!(store.computed_flags("a").unwrap().is_some());
        let kept = review_call(&store, dir.path(), "a", &QaSettings::default()).unwrap();
        assert!(!kept.flags.is_empty());
        assert_eq!(kept.flags, fresh.flags);
        for flag in &kept.flags {
            let sentence = flag.sentence.as_ref().expect("a kept flag's sentence");
            assert_eq!(sentence.english(), flag.evidence);
        }
        let exported = serde_json::to_value(&kept.flags[0]).unwrap();
        let keys: Vec<&String> = exported.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "end_ms",
                "evidence",
                "measured",
                "overridden",
                "passed",
                "rule",
                "start_ms",
                "threshold"
            ]
        );
    }
}
