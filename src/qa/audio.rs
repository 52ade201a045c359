//! A call's recording as samples in memory: left (what the caller said) and right (what the
//! caller heard), each at the recording's rate, placed on the call's timeline by the
//! recording's offset.

use std::path::Path;

/// The two channels of a recording, and where its first sample sits on the call's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StereoAudio {
    /// What the caller said.
    pub left: Vec<i16>,
    /// What the caller heard (prompts, music, agents).
    pub right: Vec<i16>,
    /// Samples per second of each channel.
    pub sample_rate: u32,
    /// Milliseconds after the INVITE of sample 0.
    pub offset_ms: u64,
}

/// Why a recording cannot be read as the project's stereo 16-bit WAV.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error(transparent)]
    Wav(#[from] hound::Error),
    #[error("{channels} channel(s) of {bits}-bit {format:?} audio, not 2 channels of 16-bit PCM")]
    Format {
        channels: u16,
        bits: u16,
        format: hound::SampleFormat,
    },
}

impl StereoAudio {
    /// Reads a stereo 16-bit PCM WAV (any rate; recordings are 8 kHz). `offset_ms` is the
    /// recording's offset on the call's timeline (`RecordingInfo::offset_ms`).
    pub fn load(path: &Path, offset_ms: u64) -> Result<StereoAudio, AudioError> {
        let reader = hound::WavReader::open(path)?;
        let spec = reader.spec();
        if spec.channels != 2
            || spec.bits_per_sample != 16
            || spec.sample_format != hound::SampleFormat::Int
        {
            return Err(AudioError::Format {
                channels: spec.channels,
                bits: spec.bits_per_sample,
                format: spec.sample_format,
            });
        }
        let frames = reader.duration() as usize;
        let mut left = Vec::with_capacity(frames);
        let mut right = Vec::with_capacity(frames);
        let mut samples = reader.into_samples::<i16>();
        // A torn last frame (left without right) is dropped: channels stay aligned.
        while let (Some(l), Some(r)) = (samples.next(), samples.next()) {
            left.push(l?);
            right.push(r?);
        }
        Ok(StereoAudio {
            left,
            right,
            sample_rate: spec.sample_rate,
            offset_ms,
        })
    }

    /// Milliseconds of audio.
    pub fn duration_ms(&self) -> u64 {
        if self.sample_rate == 0 {
            return 0;
        }
        self.left.len() as u64 * 1000 / u64::from(self.sample_rate)
    }

    /// The recording's end on the call's timeline.
    pub fn end_ms(&self) -> u64 {
        self.offset_ms + self.duration_ms()
    }
}
