//! In-band DTMF: keypad digits heard as dual tones in 8 kHz PCM, for trunks that do not send
//! RFC 4733 telephone-events.
//!
//! Owns the Goertzel detector and the ITU-T Q.24 acceptance rules: a digit is one row tone
//! (697/770/852/941 Hz) plus one column tone (1209/1336/1477/1633 Hz), each above a minimum
//! level, within the twist limits (column up to 8 dB weaker than row, "normal twist", or up
//! to 4 dB stronger, "reverse twist"), each clearly the strongest of its group, and together
//! carrying most of the window's energy (so speech, music and noise do not make digits).
//! Windows are 160 samples (20 ms, 50 Hz resolution) every 80 samples; a digit is reported
//! once when it has been present for 40 ms (three consecutive windows), and the same key is
//! reported again only after the tone has been absent for two windows.
//!
//! Pure: fed one 20 ms frame at a time, no allocation, no clock, no I/O.

use super::dtmf::DtmfDigit;
use super::FRAME_SAMPLES;

const HOP: usize = FRAME_SAMPLES / 2;
const WINDOW: usize = FRAME_SAMPLES;
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLUMNS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Peak amplitude of a 0 dBm0 sine in 16-bit linear PCM (G.711's full-scale sine is
/// +3.14 dBm0).
pub const ZERO_DBM0_PEAK: f32 = 22_805.0;
/// Quietest tone accepted, per frequency: -36 dBm0.
const MIN_LEVEL_DBM0: f32 = -36.0;
/// Column weaker than row by more than this is rejected (normal twist).
const NORMAL_TWIST_DB: f32 = 8.0;
/// Column stronger than row by more than this is rejected (reverse twist).
const REVERSE_TWIST_DB: f32 = 4.0;
/// The chosen tone of a group must beat every other tone of its group by this much.
const GROUP_PEAK_DB: f32 = 6.0;
/// Share of the window's energy the two tones must carry.
const MIN_TONE_SHARE: f32 = 0.7;
/// Consecutive windows a digit needs: 160 + 2 × 80 samples = 40 ms.
const WINDOWS_TO_REPORT: u32 = 3;
/// Consecutive windows without the digit that end a key press.
const WINDOWS_TO_RELEASE: u32 = 2;

fn db_ratio(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

/// Energy (sum of squares over the window) of the component at `frequency`, by Goertzel at
/// the exact frequency: for a sine of amplitude A filling the window this is N·A²/2.
fn tone_energy(samples: impl Iterator<Item = i16>, frequency: f32) -> f32 {
    let coeff = 2.0 * (2.0 * std::f32::consts::PI * frequency / super::SAMPLE_RATE as f32).cos();
    let (mut s1, mut s2) = (0f32, 0f32);
    for x in samples {
        let s0 = f32::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2.0 / WINDOW as f32
}

/// Finds the strongest tone of a group and checks it beats the others; its index and energy.
fn group_peak(energies: &[f32; 4]) -> Option<(usize, f32)> {
    let (best, &peak) = energies
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    let beaten = energies
        .iter()
        .enumerate()
        .all(|(i, &e)| i == best || e * db_ratio(GROUP_PEAK_DB) <= peak);
    beaten.then_some((best, peak))
}

/// The digit a 160-sample window holds, if it passes every Q.24 check.
fn classify(window: impl Iterator<Item = i16> + Clone) -> Option<char> {
    let total: f32 = window.clone().map(|x| f32::from(x) * f32::from(x)).sum();
    let min_amplitude = ZERO_DBM0_PEAK * 10f32.powf(MIN_LEVEL_DBM0 / 20.0);
    let min_energy = WINDOW as f32 * min_amplitude * min_amplitude / 2.0;
    if total < 2.0 * min_energy {
        return None;
    }
    let rows = ROWS.map(|f| tone_energy(window.clone(), f));
    let columns = COLUMNS.map(|f| tone_energy(window.clone(), f));
    let (row, row_energy) = group_peak(&rows)?;
    let (column, column_energy) = group_peak(&columns)?;
    if row_energy < min_energy || column_energy < min_energy {
        return None;
    }
    let twist_ok = if row_energy >= column_energy {
        row_energy <= column_energy * db_ratio(NORMAL_TWIST_DB)
    } else {
        column_energy <= row_energy * db_ratio(REVERSE_TWIST_DB)
    };
    if !twist_ok || row_energy + column_energy < MIN_TONE_SHARE * total {
        return None;
    }
    Some(KEYS[row][column])
}

/// Detects DTMF key presses in a stream of 20 ms frames of 8 kHz PCM.
#[derive(Debug, Clone)]
pub struct InbandDtmf {
    /// The second half of the previous frame, for the window that straddles two frames.
    previous_half: [i16; HOP],
    have_previous: bool,
    /// The digit seen in the latest windows and how many windows in a row it has lasted.
    candidate: Option<char>,
    present_windows: u32,
    absent_windows: u32,
    reported: bool,
}

impl Default for InbandDtmf {
    fn default() -> Self {
        InbandDtmf::new()
    }
}

impl InbandDtmf {
    pub fn new() -> InbandDtmf {
        InbandDtmf {
            previous_half: [0; HOP],
            have_previous: false,
            candidate: None,
            present_windows: 0,
            absent_windows: 0,
            reported: false,
        }
    }

    /// Feeds the next 20 ms of audio; returns a digit the first time a key press has lasted
    /// 40 ms. `duration_ms` is how long the tone had lasted when it was reported.
    pub fn on_frame(&mut self, pcm: &[i16; FRAME_SAMPLES]) -> Option<DtmfDigit> {
        let mut found = None;
        if self.have_previous {
            let straddling = self.previous_half.iter().chain(&pcm[..HOP]).copied();
            found = found.or(self.on_window(classify(straddling)));
        }
        found = found.or(self.on_window(classify(pcm.iter().copied())));
        self.previous_half.copy_from_slice(&pcm[HOP..]);
        self.have_previous = true;
        found
    }

    fn on_window(&mut self, digit: Option<char>) -> Option<DtmfDigit> {
        match digit {
            Some(d) if self.candidate == Some(d) => {
                self.present_windows += 1;
                self.absent_windows = 0;
            }
            Some(d) => {
                self.candidate = Some(d);
                self.present_windows = 1;
                self.absent_windows = 0;
                self.reported = false;
            }
            None => {
                self.absent_windows += 1;
                if self.absent_windows >= WINDOWS_TO_RELEASE {
                    self.candidate = None;
                    self.present_windows = 0;
                    self.reported = false;
                }
                return None;
            }
        }
        if self.reported || self.present_windows < WINDOWS_TO_REPORT {
            return None;
        }
        self.reported = true;
        let samples = WINDOW as u32 + HOP as u32 * (self.present_windows - 1);
        Some(DtmfDigit {
            digit: self.candidate?,
            duration_ms: samples * 1000 / super::SAMPLE_RATE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Codec;

    fn amplitude(dbm0: f32) -> f32 {
        ZERO_DBM0_PEAK * 10f32.powf(dbm0 / 20.0)
    }

    fn frequencies(digit: char) -> (f32, f32) {
        for (r, row) in KEYS.iter().enumerate() {
            for (c, &key) in row.iter().enumerate() {
                if key == digit {
                    return (ROWS[r], COLUMNS[c]);
                }
            }
        }
        panic!("not a key: {digit}")
    }

    /// Appends `ms` of the two tones (row level, column level in dBm0) to `audio`.
    fn tones(audio: &mut Vec<i16>, ms: usize, parts: &[(f32, f32)]) {
        let start = audio.len();
        for n in 0..ms * 8 {
            let t = (start + n) as f32 / 8000.0;
            let v: f32 = parts
                .iter()
                .map(|&(f, dbm0)| amplitude(dbm0) * (2.0 * std::f32::consts::PI * f * t).sin())
                .sum();
            audio.push(v.round().clamp(-32768.0, 32767.0) as i16);
        }
    }

    fn key(audio: &mut Vec<i16>, digit: char, ms: usize, row_dbm0: f32, column_dbm0: f32) {
        let (r, c) = frequencies(digit);
        tones(audio, ms, &[(r, row_dbm0), (c, column_dbm0)]);
    }

    fn silence(audio: &mut Vec<i16>, ms: usize) {
        audio.extend(std::iter::repeat_n(0, ms * 8));
    }

    fn detect(audio: &[i16]) -> Vec<DtmfDigit> {
        let mut detector = InbandDtmf::new();
        let mut frame = [0i16; FRAME_SAMPLES];
        let mut digits = Vec::new();
        for chunk in audio.chunks(FRAME_SAMPLES) {
            frame.fill(0);
            frame[..chunk.len()].copy_from_slice(chunk);
            digits.extend(detector.on_frame(&frame));
        }
        // Trailing silence so nothing depends on the audio ending mid-frame.
        frame.fill(0);
        for _ in 0..3 {
            digits.extend(detector.on_frame(&frame));
        }
        digits
    }

    fn chars(digits: &[DtmfDigit]) -> String {
        digits.iter().map(|d| d.digit).collect()
    }

    #[test]
    fn all_sixteen_digits_are_detected_at_several_levels() {
        for level in [-3.0, -10.0, -20.0, -30.0] {
            for digit in "123A456B789C*0#D".chars() {
                let mut audio = Vec::new();
                silence(&mut audio, 30);
                key(&mut audio, digit, 80, level, level);
                silence(&mut audio, 40);
                let digits = detect(&audio);
                assert_eq!(chars(&digits), digit.to_string(), "{digit} at {level} dBm0");
                assert_eq!(
                    digits[0].duration_ms, 40,
                    "reported as soon as it lasted 40 ms"
                );
            }
        }
    }

    #[test]
    fn a_forty_millisecond_tone_at_any_phase_is_a_digit() {
        for offset in [0, 10, 25, 40, 55, 70] {
            let mut audio = vec![0i16; offset];
            key(&mut audio, '5', 40, -10.0, -10.0);
            silence(&mut audio, 40);
            assert_eq!(chars(&detect(&audio)), "5", "offset {offset} samples");
        }
    }

    #[test]
    fn a_twenty_millisecond_tone_is_too_short() {
        for offset in [0, 10, 25, 40, 55, 70] {
            let mut audio = vec![0i16; offset];
            key(&mut audio, '5', 20, -10.0, -10.0);
            silence(&mut audio, 60);
            assert_eq!(chars(&detect(&audio)), "", "offset {offset} samples");
        }
    }

    #[test]
    fn a_tone_below_the_minimum_level_is_not_a_digit() {
        let mut audio = Vec::new();
        key(&mut audio, '8', 200, -45.0, -45.0);
        assert_eq!(chars(&detect(&audio)), "");
    }

    #[test]
    fn twist_within_the_limits_is_accepted_and_beyond_them_rejected() {
        let cases = [
            // (row dBm0, column dBm0, detected)
            (-10.0, -17.0, true),  // normal twist 7 dB
            (-10.0, -19.0, false), // normal twist 9 dB
            (-13.0, -10.0, true),  // reverse twist 3 dB
            (-15.0, -10.0, false), // reverse twist 5 dB
        ];
        for (row, column, detected) in cases {
            let mut audio = Vec::new();
            key(&mut audio, '9', 100, row, column);
            let expected = if detected { "9" } else { "" };
            assert_eq!(
                chars(&detect(&audio)),
                expected,
                "row {row} column {column}"
            );
        }
    }

    #[test]
    fn a_single_tone_is_not_a_digit() {
        for f in ROWS.iter().chain(&COLUMNS) {
            let mut audio = Vec::new();
            tones(&mut audio, 200, &[(*f, -6.0)]);
            assert_eq!(chars(&detect(&audio)), "", "{f} Hz alone");
        }
    }

    #[test]
    fn white_noise_is_not_a_digit() {
        let mut state = 0x1234_5678u32;
        let audio: Vec<i16> = (0..8000 * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 16) as u16 as i16 / 4
            })
            .collect();
        assert_eq!(chars(&detect(&audio)), "");
    }

    #[test]
    fn a_digit_under_speech_like_harmonics_is_not_a_digit() {
        // A 100 Hz voice with strong harmonics, two of which sit near '1' (700 and 1200 Hz).
        let mut parts: Vec<(f32, f32)> = (1..=16).map(|h| (100.0 * h as f32, -20.0)).collect();
        parts.push((697.0, -14.0));
        parts.push((1209.0, -14.0));
        let mut audio = Vec::new();
        tones(&mut audio, 300, &parts);
        assert_eq!(chars(&detect(&audio)), "");
    }

    #[test]
    fn a_held_key_is_one_digit_and_a_second_press_after_a_gap_is_another() {
        let mut audio = Vec::new();
        key(&mut audio, '7', 400, -10.0, -10.0);
        silence(&mut audio, 40);
        key(&mut audio, '7', 60, -10.0, -10.0);
        silence(&mut audio, 40);
        key(&mut audio, '3', 60, -10.0, -10.0);
        assert_eq!(chars(&detect(&audio)), "773");
    }

    #[test]
    fn a_different_key_right_after_another_is_reported() {
        let mut audio = Vec::new();
        key(&mut audio, '1', 60, -10.0, -10.0);
        key(&mut audio, '2', 60, -10.0, -10.0);
        assert_eq!(chars(&detect(&audio)), "12");
    }

    #[test]
    fn a_tone_survives_the_pcma_and_pcmu_round_trip() {
        for codec in [Codec::Pcma, Codec::Pcmu] {
            for level in [-3.0, -25.0] {
                let mut audio = Vec::new();
                key(&mut audio, '#', 60, level, level);
                silence(&mut audio, 40);
                key(&mut audio, 'D', 60, level, level);
                let mut encoded = vec![0u8; audio.len()];
                codec.encode_into(&audio, &mut encoded);
                let mut decoded = vec![0i16; audio.len()];
                codec.decode_into(&encoded, &mut decoded);
                assert_eq!(chars(&detect(&decoded)), "#D", "{codec:?} at {level} dBm0");
            }
        }
    }
}
