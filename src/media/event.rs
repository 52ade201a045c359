//! What the media engine tells the switch about a leg: digits, the end of a play, the first
//! RTP, silence past the media timeout, the leg's figures when it ends, and the end of a
//! recording.

use std::sync::atomic::{fence, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use super::prompt::PromptId;
use super::{LegQuality, MediaRecordKey, PlayId};
use crate::sip::CallId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    Dtmf {
        digit: char,
        duration_ms: u32,
    },
    /// A digit found in the audio itself (Goertzel), on a trunk set for in-band DTMF.
    InbandDtmf {
        digit: char,
        duration_ms: u32,
    },
    PromptFinished {
        prompt: PromptId,
        play: PlayId,
        interrupted: bool,
    },
    /// The first RTP packet from the far end after `Start` (once per leg): proof the far
    /// end has the answer even when its ACK is lost.
    RtpArrived,
    /// Neither RTP nor RTCP came from the far end for the leg's media timeout (on hold, no
    /// RTCP): the far end is gone without a BYE.
    MediaTimeout {
        silent_ms: u64,
    },
    /// The leg's media figures, once, when the leg ends (`End` or shutdown).
    Quality {
        record: MediaRecordKey,
        quality: LegQuality,
    },
    /// A recording of what the far end said (voicemail) ended: it reached its maximum, was
    /// stopped, or the call ended. The file is complete when this is reported.
    RecordingFinished {
        duration_ms: u64,
    },
    /// A caller's journey recording (`RecordJourney`) was finished by the recording
    /// service: its length, the SHA-256 of the whole file, and the span written as silence
    /// because the queue overflowed. `error` says why the file could not be written.
    JourneyRecorded {
        record_id: String,
        duration_ms: u64,
        sha256: String,
        lost_ms: u64,
        error: Option<String>,
    },
}

/// Where a recording tells the engine that started it how it ended (`RecordingFinished`,
/// `JourneyRecorded`): a channel's sender that also counts the reports still to come. Each
/// clone lives with one recording (its writer thread, or its entry in the recording service)
/// and is dropped once its report is sent. So when the engine's own is the last one left,
/// every report there will be is already in the channel, and a worker with no legs may sleep
/// without its tick.
#[derive(Clone)]
pub struct RecordingReports {
    to: Sender<(CallId, MediaEvent)>,
    owed: Arc<()>,
}

impl RecordingReports {
    /// The engine's end and the receiver its `poll_event` drains.
    pub fn channel() -> (RecordingReports, Receiver<(CallId, MediaEvent)>) {
        let (to, from) = mpsc::channel();
        let reports = RecordingReports {
            to,
            owed: Arc::new(()),
        };
        (reports, from)
    }

    /// Reports how `call`'s recording ended (lost if the engine is gone).
    pub fn send(&self, call: CallId, event: MediaEvent) {
        let _ = self.to.send((call, event));
    }

    /// A clone of this one is alive somewhere: a recording's report may yet come.
    pub fn owed(&self) -> bool {
        let owed = Arc::strong_count(&self.owed) > 1;
        // Pairs with the release in the last clone's drop: the report it sent before it was
        // dropped is in the channel for the receives that follow.
        fence(Ordering::Acquire);
        owed
    }
}
