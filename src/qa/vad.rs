//! Voice activity detection on a recording's channel: which spans hold speech. The
//! detector is `earshot`'s small neural network (16 kHz, 16 ms frames; not an energy
//! threshold: a loud tone, music-like steady sounds and noise score low), fed the
//! recording's 8 kHz audio upsampled ×2 by a windowed-sinc half-band interpolator. Frame
//! decisions are smoothed as WebRTC's VAD does: a short gap inside speech (hangover) is
//! speech, and a blip shorter than a syllable is not. The network alone scores low pure
//! tones (300–450 Hz: ringback, dial tone) as voice, so a frame whose energy sits in a
//! few spectral lines ([`tonal_share`]) is never speech.

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

/// Samples (at 8 kHz) of the window a frame's tonality is measured on: the frame and the
/// one before it, 32 ms, so a pure tone's peak is 31 Hz bins wide.
const TONE_WINDOW: usize = 256;

/// Share of a window's energy held by its [`TONE_BINS`] strongest DFT bins above which the
/// window is a tone (ringback, dial tone, DTMF, a beep), not a voice. A sinusoid under a Hann
/// window puts over 99.9 % of its energy in 4 bins, a dual tone in 8; voiced speech (even
/// espeak's buzzy voice, at most 97 % on the shipped prompts) spreads its energy over a dozen
/// harmonics and their formants. Known limit: the onsets of plucked notes in the hold music
/// are broadband and score as speech; the flags never read the audio during holds.
pub const TONAL_SHARE: f64 = 0.99;
const TONE_BINS: usize = 8;

/// The share of `window`'s energy (Hann-windowed, zero-padded to 256) in its 8 strongest
/// DFT bins: 1.0 for silence's limit of a single tone, far lower for speech and noise.
pub fn tonal_share(window: &[i16]) -> f64 {
    let n = TONE_WINDOW;
    let mut re = [0.0f64; TONE_WINDOW];
    let mut im = [0.0f64; TONE_WINDOW];
    let len = window.len().min(n);
    for (i, &sample) in window.iter().take(len).enumerate() {
        let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / len as f64).cos();
        re[i] = f64::from(sample) * hann;
    }
    fft(&mut re, &mut im);
    let mut energy: Vec<f64> = (1..n / 2).map(|k| re[k] * re[k] + im[k] * im[k]).collect();
    let total: f64 = energy.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    energy.sort_by(|a, b| b.total_cmp(a));
    energy.iter().take(TONE_BINS).sum::<f64>() / total
}

/// In-place radix-2 FFT of 256 points.
fn fft(re: &mut [f64; TONE_WINDOW], im: &mut [f64; TONE_WINDOW]) {
    let n = TONE_WINDOW;
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut size = 2;
    while size <= n {
        let angle = -2.0 * std::f64::consts::PI / size as f64;
        for start in (0..n).step_by(size) {
            for k in 0..size / 2 {
                let (w_re, w_im) = ((angle * k as f64).cos(), (angle * k as f64).sin());
                let (a, b) = (start + k, start + k + size / 2);
                let t_re = re[b] * w_re - im[b] * w_im;
                let t_im = re[b] * w_im + im[b] * w_re;
                re[b] = re[a] - t_re;
                im[b] = im[a] - t_im;
                re[a] += t_re;
                im[a] += t_im;
            }
        }
        size <<= 1;
    }
}

/// Per 16 ms frame: speech or not. A frame is speech when the detector scores it at least
/// `threshold` and it is not a tone ([`tonal_share`] of its 32 ms window below
/// [`TONAL_SHARE`]).
pub fn speech_frames(samples: &[i16], sample_rate: u32, threshold: f32) -> Vec<bool> {
    let scores = frame_scores(samples, sample_rate);
    // The tone check runs on 8 kHz audio: 16 ms = 128 samples there.
    let narrow: std::borrow::Cow<'_, [i16]> = if sample_rate == 8_000 {
        std::borrow::Cow::Borrowed(samples)
    } else {
        let wide = to_detector_rate(samples, sample_rate);
        std::borrow::Cow::Owned(wide.iter().step_by(2).copied().collect())
    };
    scores
        .iter()
        .enumerate()
        .map(|(i, &score)| {
            if score < threshold {
                return false;
            }
            let end = ((i + 1) * FRAME / 2).min(narrow.len());
            let start = end.saturating_sub(TONE_WINDOW);
            tonal_share(&narrow[start..end]) < TONAL_SHARE
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
    let speech = speech_frames(samples, sample_rate, settings.threshold);
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
