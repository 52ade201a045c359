//! The call's QA recording, switch side (issue 9): started at the answer on the caller's
//! leg when the hotline records (the default), one recording for the whole journey (holds
//! and transfers keep the caller's leg, so they keep the recording), paused and resumed by
//! the agent's keys, and its outcome written to the call record when the media side
//! reports the file finished.
//!
//! Owns the decision to record, the recording's row (`RecordingStarted` before the first
//! audio, `RecordingFinished` at the end) and its timeline events. The file itself is the
//! recording service's (`recording::service`), fed by the caller leg's tap.

use std::time::Instant;

use super::timeline::{EventKind, Party};
use super::{millis, MediaCommand, Output, RecordCommand, Switch};
use crate::media::MediaEvent;
use crate::sip::CallId;
use crate::store::{RecordingEnd, RecordingState};

/// A call's recording in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Recording {
    /// Paused since then (by the agent's keys): the frames are silence.
    pub paused_since: Option<Instant>,
}

impl Switch {
    /// At the answer (after the leg's `Open`): the recording's row, its timeline event,
    /// then the media tap, unless the call's hotline says `record = false` (or the call is
    /// an agent's feature code or consultation, which belong to no hotline).
    pub(super) fn start_recording(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.recording.is_some() || c.feature_code.is_some() || c.rtp_port == 0 {
            return;
        }
        let records = self
            .dialplan
            .hotlines
            .iter()
            .any(|h| h.name == c.hotline && h.record);
        if !records {
            return;
        }
        let started_at = self.wall(now);
        let record_id = c.record_id.clone();
        let file = crate::recording::relative_path(started_at, &record_id);
        let offset_ms = millis(now.saturating_duration_since(c.invited_at));
        self.outputs
            .push_back(Output::Record(RecordCommand::RecordingStarted {
                call_id: record_id.clone(),
                file: file.clone(),
                started_at,
                offset_ms,
            }));
        self.record(
            now,
            call,
            EventKind::RecordingStarted { file: file.clone() },
        );
        self.outputs
            .push_back(Output::Media(MediaCommand::RecordJourney {
                call,
                record_id,
                file: file.into(),
                from: now,
            }));
        if let Some(c) = self.calls.get_mut(&call) {
            c.recording = Some(Recording::default());
        }
    }

    /// Whether `caller`'s recording is paused now.
    pub(super) fn recording_paused(&self, caller: CallId) -> bool {
        self.calls
            .get(&caller)
            .and_then(|c| c.recording.as_ref())
            .is_some_and(|r| r.paused_since.is_some())
    }

    /// The agent on `leg` pressed the pause keys: the recording pauses (or resumes), with
    /// who and, on resume, how long it was paused on the timeline. False when the call is
    /// not recorded.
    pub(super) fn toggle_recording_pause(
        &mut self,
        now: Instant,
        caller: CallId,
        leg: CallId,
    ) -> bool {
        let agent = self
            .legs
            .get(&leg)
            .map(|l| l.agent.clone())
            .unwrap_or_default();
        let Some(recording) = self
            .calls
            .get_mut(&caller)
            .and_then(|c| c.recording.as_mut())
        else {
            return false;
        };
        let (paused, kind) = match recording.paused_since.take() {
            None => {
                recording.paused_since = Some(now);
                (
                    true,
                    EventKind::RecordingPaused {
                        by: Party::Agent,
                        agent,
                    },
                )
            }
            Some(since) => (
                false,
                EventKind::RecordingResumed {
                    by: Party::Agent,
                    agent,
                    paused_ms: millis(now.saturating_duration_since(since)),
                },
            ),
        };
        self.outputs
            .push_back(Output::Media(MediaCommand::PauseJourney {
                call: caller,
                paused,
                at: now,
            }));
        self.record(now, caller, kind);
        true
    }

    /// The recording service finished the file (the call may be gone): its record says
    /// how long, its digest and the span lost to an overflowing queue.
    pub(super) fn on_journey_recorded(&mut self, call: CallId, event: MediaEvent) {
        let MediaEvent::JourneyRecorded {
            record_id,
            duration_ms,
            sha256,
            lost_ms,
            error,
        } = event
        else {
            return;
        };
        if let Some(error) = &error {
            tracing::error!(call = %call, %error, "the call's recording failed");
        }
        let state = match error {
            None => RecordingState::Complete,
            Some(_) => RecordingState::CutShort,
        };
        self.outputs
            .push_back(Output::Record(RecordCommand::RecordingFinished {
                call_id: record_id,
                end: RecordingEnd {
                    state,
                    duration_ms,
                    sha256,
                    lost_ms,
                },
            }));
    }
}
