//! The commands the switch gives the media engine: one call leg's media each, from opening
//! its socket to ending it. The switch decides; the engine (and its driver) carries out.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::prompt::PromptId;
use super::{Codec, MediaRecordKey, PlayId};
use crate::sip::CallId;

/// Commands to the media engine, one call's media session each.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCommand {
    /// Open the leg's RTP (and RTCP) socket on `local_port` now, before its offer or answer
    /// goes out, so the far end's first packets find it open; nothing is sent until `Start`.
    /// `conversation` keeps every leg of one call in one media worker (the caller's
    /// `CallId`, for the agent legs too). `expect_from` is the far end's SDP address when it
    /// is known (a caller leg opened at the answer): the first packet from exactly there is
    /// reported as `RtpArrived`, even before `Start`.
    Open {
        call: CallId,
        local_port: u16,
        conversation: CallId,
        expect_from: Option<SocketAddr>,
    },
    /// Start the call's media on `local_port` (opening it if `Open` did not) toward
    /// `remote`: the 20 ms clock, silence until told otherwise.
    Start {
        call: CallId,
        local_port: u16,
        remote: SocketAddr,
        codec: Codec,
        payload_type: u8,
        telephone_event: Option<u8>,
        options: LegOptions,
    },
    /// The far end moved its media (re-INVITE).
    Redirect {
        call: CallId,
        remote: SocketAddr,
    },
    Play {
        call: CallId,
        prompt: PromptId,
        play: PlayId,
    },
    /// Play a prompt over and over (music on hold) until stopped or replaced.
    PlayLoop {
        call: CallId,
        prompt: PromptId,
        play: PlayId,
    },
    Stop {
        call: CallId,
    },
    /// Play a prompt over what the leg hears from its bridged leg, both summed (a whisper or
    /// a confirmation tone to an agent who still hears the caller); on a leg that is not
    /// bridged, a plain play. Reported like any play.
    PlayMixed {
        call: CallId,
        prompt: PromptId,
        play: PlayId,
    },
    /// Send `digit` (0-9, *, #, A-D) to the leg's far end as an RFC 4733 telephone-event
    /// (an agent's digit that was not an in-call key, passed on to the caller); dropped when
    /// the leg negotiated no telephone-event.
    SendDtmf {
        call: CallId,
        digit: char,
    },
    /// Relay media between two calls' legs (both directions), transcoding when their
    /// codecs differ. A prompt played on either leg afterwards replaces what it hears.
    Bridge {
        a: CallId,
        b: CallId,
    },
    /// Stop relaying to and from this leg; it hears silence until told otherwise.
    Unbridge {
        call: CallId,
    },
    /// Write what the far end of this leg says to a WAV file (voicemail), for at most
    /// `max`; ends with a `RecordingFinished` media event.
    RecordCaller {
        call: CallId,
        path: std::path::PathBuf,
        max: Duration,
    },
    End {
        call: CallId,
    },
    /// The call's media was renegotiated (re-INVITE, UPDATE, our own re-INVITE): send
    /// `codec` on `payload_type` to `remote` from now on, or send nothing while `send` is
    /// false (the peer holds the call, or its address is 0.0.0.0).
    Renegotiate {
        call: CallId,
        remote: SocketAddr,
        codec: Codec,
        payload_type: u8,
        telephone_event: Option<u8>,
        send: bool,
    },
    /// Record the caller's whole journey on this (caller's) leg into `file` (relative to the
    /// data dir): left what it says, right what it hears, one stereo frame per 20 ms of the
    /// call's clock from `from` (the answer: the file's first sample is that instant), until
    /// `End`; the outcome comes back as `MediaEvent::JourneyRecorded` with `record_id`.
    RecordJourney {
        call: CallId,
        record_id: String,
        file: std::path::PathBuf,
        from: Instant,
    },
    /// Pause (frames written as silence) or resume the journey's recording, from the frame
    /// that `at` (the keys' instant) falls in.
    PauseJourney {
        call: CallId,
        paused: bool,
        at: Instant,
    },
}

/// How a leg's media behaves, fixed when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegOptions {
    /// The conversation the leg belongs to (see `MediaCommand::Open`).
    pub conversation: CallId,
    /// Whose record the leg's media figures go on (`MediaEvent::Quality`).
    pub record: MediaRecordKey,
    /// End the call when the far end sends neither RTP nor RTCP for this long (on hold,
    /// only RTCP counts).
    pub media_timeout: Duration,
    /// Look for DTMF tones in the audio (trunks without telephone-event).
    pub inband_dtmf: bool,
    /// RTCP shares the RTP port (RFC 5761), as both SDPs agreed with `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// Telephone-events from this leg are reported (`MediaEvent::Dtmf`) but not relayed to
    /// the bridged leg: an agent's in-call keys never reach the caller.
    pub hold_back_dtmf: bool,
    /// The host the far end's SIP comes from (the INVITE's source, or the address a phone
    /// registered from). Besides the SDP's own host, only this one may be latched onto: a
    /// far end behind NAT sends its RTP from where its SIP comes from, and anyone else who
    /// sends before the far end does is a stranger, not the call (RTP Bleed). `None`: the
    /// SDP's host only.
    pub signalling_host: Option<IpAddr>,
}
