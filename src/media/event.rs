//! What the media engine tells the switch about a leg: digits, the end of a play, the first
//! RTP, silence past the media timeout, the leg's figures when it ends, and the end of a
//! recording.

use super::prompt::PromptId;
use super::{LegQuality, MediaRecordKey, PlayId};

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
