//! Voice activity detection on a recording's channel: which spans hold speech. The
//! detector is `earshot`'s small neural network (16 kHz, 16 ms frames; not an energy
//! threshold: a loud tone, music-like steady sounds and noise score low), fed the
//! recording's 8 kHz audio upsampled ×2 by a windowed-sinc half-band interpolator. Frame
//! decisions are smoothed as WebRTC's VAD does: a short gap inside speech (hangover) is
//! speech, and a blip shorter than a syllable is not.

use serde::Serialize;

/// The rate the detector works at.
const DETECTOR_RATE: u32 = 16_000;
/// Samples per detector frame (16 ms at 16 kHz).
const FRAME: usize = 256;
/// Milliseconds per detector frame.
pub const FRAME_MS: u64 = 16;

/// A span of speech, in milliseconds from the channel's first sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
}

impl Segment {
    pub fn duration_ms(&self) -> u64 {
        self.end_ms - self.start_ms
    }
}

/// How frame scores become speech spans.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadSettings {
    /// A frame scoring at least this is speech (earshot's recommended 0.5).
    pub threshold: f32,
    /// Gaps this short between speech frames are bridged (the pauses inside a sentence).
    pub hangover_ms: u64,
    /// Speech runs shorter than this are dropped (clicks, a cough's onset).
    pub min_speech_ms: u64,
}

impl Default for VadSettings {
    fn default() -> Self {
        VadSettings {
            threshold: 0.5,
            hangover_ms: 320,
            min_speech_ms: 96,
        }
    }
}

/// The detector's score (0 = no voice, 1 = voice) of each 16 ms frame of `samples`
/// (a trailing partial frame is padded with silence).
pub fn frame_scores(samples: &[i16], sample_rate: u32) -> Vec<f32> {
    let audio = to_detector_rate(samples, sample_rate);
    let mut detector = earshot::Detector::default_boxed();
    let mut frame = [0i16; FRAME];
    audio
        .chunks(FRAME)
        .map(|chunk| {
            frame.fill(0);
            frame[..chunk.len()].copy_from_slice(chunk);
            detector.predict_i16(&frame)
        })
        .collect()
}

/// The speech spans of one channel, with the default smoothing.
pub fn speech_segments(samples: &[i16], sample_rate: u32) -> Vec<Segment> {
    speech_segments_with(samples, sample_rate, &VadSettings::default())
}

/// The speech spans of one channel.
pub fn speech_segments_with(
    samples: &[i16],
    sample_rate: u32,
    settings: &VadSettings,
) -> Vec<Segment> {
    let total_ms = if sample_rate == 0 {
        0
    } else {
        samples.len() as u64 * 1000 / u64::from(sample_rate)
    };
    let speech: Vec<bool> = frame_scores(samples, sample_rate)
        .into_iter()
        .map(|score| score >= settings.threshold)
        .collect();
    smooth(&speech, settings, total_ms)
}

/// Frame decisions to spans: runs of speech frames, gaps up to the hangover bridged, runs
/// shorter than the minimum dropped, ends clipped to the audio's length.
pub fn smooth(speech: &[bool], settings: &VadSettings, total_ms: u64) -> Vec<Segment> {
    let mut runs: Vec<Segment> = Vec::new();
    let mut start = None;
    for (i, &is_speech) in speech.iter().chain(std::iter::once(&false)).enumerate() {
        match (is_speech, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push(Segment {
                    start_ms: s as u64 * FRAME_MS,
                    end_ms: (i as u64 * FRAME_MS).min(total_ms),
                });
                start = None;
            }
            _ => {}
        }
    }
    let mut merged: Vec<Segment> = Vec::new();
    for run in runs {
        match merged.last_mut() {
            Some(last) if run.start_ms.saturating_sub(last.end_ms) <= settings.hangover_ms => {
                last.end_ms = run.end_ms;
            }
            _ => merged.push(run),
        }
    }
    merged.retain(|s| s.duration_ms() >= settings.min_speech_ms);
    merged
}

/// `samples` at 16 kHz: 8 kHz is interpolated ×2 (half-band windowed sinc, 16 taps), 16 kHz
/// passes through, any other rate is resampled linearly.
pub fn to_detector_rate(samples: &[i16], sample_rate: u32) -> Vec<i16> {
    match sample_rate {
        DETECTOR_RATE => samples.to_vec(),
        8_000 => upsample_by_two(samples),
        0 => Vec::new(),
        rate => {
            let out_len = samples.len() as u64 * u64::from(DETECTOR_RATE) / u64::from(rate);
            (0..out_len)
                .map(|i| {
                    let pos = i as f64 * f64::from(rate) / f64::from(DETECTOR_RATE);
                    let k = pos.floor() as usize;
                    let frac = pos - k as f64;
                    let a = f64::from(samples[k.min(samples.len() - 1)]);
                    let b = f64::from(samples[(k + 1).min(samples.len() - 1)]);
                    (a + (b - a) * frac).round() as i16
                })
                .collect()
        }
    }
}

/// Taps each side of the half-band interpolator.
const HALF_TAPS: usize = 8;

fn half_band_taps() -> [f64; HALF_TAPS] {
    let mut taps = [0.0; HALF_TAPS];
    for (k, tap) in taps.iter_mut().enumerate() {
        // The sample halfway between x[n] and x[n+1] takes x[n-k] and x[n+1+k] at ±(k+½).
        let t = k as f64 + 0.5;
        let sinc = (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t);
        let window = 0.5 + 0.5 * (std::f64::consts::PI * t / (HALF_TAPS as f64 + 0.5)).cos();
        *tap = sinc * window;
    }
    // Unity gain at DC: the taps on both sides sum to 1.
    let sum: f64 = taps.iter().sum::<f64>() * 2.0;
    taps.map(|t| t / sum)
}

fn upsample_by_two(samples: &[i16]) -> Vec<i16> {
    let taps = half_band_taps();
    let at = |i: isize| -> f64 {
        if i < 0 || i as usize >= samples.len() {
            0.0
        } else {
            f64::from(samples[i as usize])
        }
    };
    let mut out = Vec::with_capacity(samples.len() * 2);
    for n in 0..samples.len() {
        out.push(samples[n]);
        let n = n as isize;
        let mid: f64 = taps
            .iter()
            .enumerate()
            .map(|(k, tap)| tap * (at(n - k as isize) + at(n + 1 + k as isize)))
            .sum();
        out.push(mid.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16);
    }
    out
}

#[cfg(test)]
#[path = "vad_tests.rs"]
mod tests;
