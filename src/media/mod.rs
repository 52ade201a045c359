//! Media: everything that happens to audio inside one call, on a 20 ms tick.
//!
//! Owns G.711 coding (`g711`), RTP packets in and out (`rtp`), RFC 4733 telephone-event
//! detection (`dtmf`) and sending (`dtmf_send`), the prompt cache decoded once at start-up
//! (`prompt`), the recorder (`recorder`) that writes what a caller says to a WAV file, and
//! the media engine of one worker (`engine::MediaEngine`): whole conversations of legs
//! (`leg`) fed from explicit sources (`source`), each outgoing stream renumbered by offsets
//! (`stream`), packets queued in reused slots (`outbox`), with RTCP (`rtcp`), a jitter-buffer
//! tap (`jitter`, `inband_dtmf`) and comfort noise (`comfort_noise`). The switch drives it
//! with commands (`command`) and hears back events (`event`); a leg's figures end up in
//! `quality`.
//!
//! Must not touch: sockets, clocks or timers (the `net/` driver owns them and calls the
//! engine's `on_tick` every 20 ms), SIP or call state (`sip/`, `switch/`), or storage.
//! The one file this module writes is a recording, and only from the recorder's own writer
//! thread, never from the media path. Nothing on the per-packet path allocates or takes a
//! lock shared across calls; prompts are shared read-only through `Arc<PromptLibrary>`.

pub mod comfort_noise;
pub mod command;
pub mod dtmf;
pub mod dtmf_send;
pub mod engine;
pub mod event;
pub mod g711;
pub mod inband_dtmf;
pub mod jitter;
pub mod journey;
pub mod leg;
pub mod outbox;
pub mod prompt;
pub mod quality;
pub mod recorder;
pub mod rtcp;
pub mod rtp;
pub mod source;
pub mod stream;

pub use dtmf::{DtmfDetector, DtmfDigit};
pub use engine::{ConversationEngine, MediaEngine, Transmit};
pub use event::MediaEvent;
pub use prompt::{PromptError, PromptId, PromptLibrary};
pub use quality::{LegQuality, LegRole, MediaRecordKey};
pub use recorder::{Recorder, RecorderError, RecordingOutcome};
pub use rtp::{RtpError, RtpPacket, RtpSender};

/// Samples in one 20 ms frame at 8 kHz: also the RTP timestamp step per packet.
pub const FRAME_SAMPLES: usize = 160;
/// Packetisation interval: one RTP packet per tick.
pub const FRAME_MS: u64 = 20;
/// G.711 and telephone-event both run on an 8 kHz RTP clock.
pub const SAMPLE_RATE: u32 = 8000;

/// One start of a prompt on a leg, numbered by the switch: the `PromptFinished` that ends it
/// carries the same id, so a stale "finished" (a play that was replaced while its end was in
/// flight) is never mistaken for the current one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlayId(pub u64);

/// The audio codecs the switch speaks: G.711 in both companding laws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0 (North America, Japan).
    Pcmu,
    /// G.711 A-law, static payload type 8 (Europe, China).
    Pcma,
}

impl Codec {
    /// The static RTP payload type of RFC 3551.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The encoding name as written in an SDP `a=rtpmap` line.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The codec a static payload type stands for, if it is one of ours.
    pub fn from_static_payload_type(payload_type: u8) -> Option<Codec> {
        match payload_type {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The codec an SDP encoding name stands for (case-insensitive, as RFC 4566 says).
    pub fn from_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Codec::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Codec::Pcma)
        } else {
            None
        }
    }

    /// One encoded sample of digital silence.
    pub fn silence(self) -> u8 {
        self.encode(0)
    }

    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => g711::ulaw_encode(sample),
            Codec::Pcma => g711::alaw_encode(sample),
        }
    }

    /// What each of the 256 codes decodes to.
    pub fn decode_table(self) -> &'static [i16; 256] {
        match self {
            Codec::Pcmu => g711::ulaw_decode_table(),
            Codec::Pcma => g711::alaw_decode_table(),
        }
    }

    pub fn decode(self, byte: u8) -> i16 {
        match self {
            Codec::Pcmu => g711::ulaw_decode(byte),
            Codec::Pcma => g711::alaw_decode(byte),
        }
    }

    /// Decodes `encoded` into the front of `pcm`; returns how many samples were written
    /// (the shorter of the two lengths), so a caller's reused buffer never grows.
    pub fn decode_into(self, encoded: &[u8], pcm: &mut [i16]) -> usize {
        let n = encoded.len().min(pcm.len());
        match self {
            Codec::Pcmu => {
                for (out, &b) in pcm.iter_mut().zip(&encoded[..n]) {
                    *out = g711::ulaw_decode(b);
                }
            }
            Codec::Pcma => {
                for (out, &b) in pcm.iter_mut().zip(&encoded[..n]) {
                    *out = g711::alaw_decode(b);
                }
            }
        }
        n
    }

    /// Re-encodes `encoded` (in this law) into the front of `out` in law `to`; returns how
    /// many bytes were written (the shorter of the two lengths). A plain copy when the laws
    /// are the same.
    pub fn transcode_into(self, to: Codec, encoded: &[u8], out: &mut [u8]) -> usize {
        let n = encoded.len().min(out.len());
        let (src, dst) = (&encoded[..n], &mut out[..n]);
        match (self, to) {
            (Codec::Pcmu, Codec::Pcma) => {
                for (o, &b) in dst.iter_mut().zip(src) {
                    *o = g711::ulaw_to_alaw(b);
                }
            }
            (Codec::Pcma, Codec::Pcmu) => {
                for (o, &b) in dst.iter_mut().zip(src) {
                    *o = g711::alaw_to_ulaw(b);
                }
            }
            _ => dst.copy_from_slice(src),
        }
        n
    }

    pub fn encode_into(self, pcm: &[i16], encoded: &mut [u8]) -> usize {
        let n = encoded.len().min(pcm.len());
        for (out, &s) in encoded.iter_mut().zip(&pcm[..n]) {
            *out = self.encode(s);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_payload_types_follow_rfc_3551() {
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::from_static_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_static_payload_type(18), None);
        assert_eq!(Codec::from_name("pcmu"), Some(Codec::Pcmu));
        assert_eq!(Codec::Pcma.name(), "PCMA");
    }

    #[test]
    fn silence_is_the_code_for_zero() {
        assert_eq!(Codec::Pcmu.silence(), 0xFF);
        assert_eq!(Codec::Pcma.silence(), 0xD5);
    }

    #[test]
    fn decode_into_stops_at_the_shorter_buffer() {
        let mut pcm = [1i16; 4];
        assert_eq!(Codec::Pcmu.decode_into(&[0xFF; 10], &mut pcm), 4);
        assert_eq!(pcm, [0; 4]);
        let mut big = [1i16; 8];
        assert_eq!(Codec::Pcma.decode_into(&[0xD5; 3], &mut big), 3);
        assert_eq!(&big[..4], &[8, 8, 8, 1]);
    }
}
