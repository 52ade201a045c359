use super::*;

fn prompt(name: &str) -> Vec<i16> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("prompts/en")
        .join(format!("{name}.wav"));
    let reader = hound::WavReader::open(&path).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.sample_rate, spec.channels), (8_000, 1));
    reader.into_samples::<i16>().map(Result::unwrap).collect()
}

fn tone(hz: f64, ms: usize, amplitude: f64) -> Vec<i16> {
    (0..ms * 8)
        .map(|i| (amplitude * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

/// White noise (xorshift), uniform in ±amplitude.
fn noise(ms: usize, amplitude: f64) -> Vec<i16> {
    let mut x: u32 = 12345;
    (0..ms * 8)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ((x as f64 / u32::MAX as f64 * 2.0 - 1.0) * amplitude) as i16
        })
        .collect()
}

fn seg(start_ms: u64, end_ms: u64) -> Segment {
    Segment { start_ms, end_ms }
}

#[test]
fn a_spoken_prompt_is_one_span_of_speech_from_its_first_word_to_its_last() {
    // welcome.wav: espeak, 6.26 s, words from about 0.1 s to 6.0 s.
    let welcome = prompt("welcome");
    assert_eq!(welcome.len(), 50_100);
    assert_eq!(speech_segments(&welcome, 8_000), [seg(80, 6_016)]);
    let goodbye = prompt("goodbye");
    assert_eq!(speech_segments(&goodbye, 8_000), [seg(96, 5_984)]);
}

#[test]
fn speech_between_silences_is_found_where_it_was_put() {
    let mut audio = vec![0i16; 2_000 * 8];
    audio.extend(prompt("welcome"));
    audio.extend(vec![0i16; 3_000 * 8]);
    // The prompt's span moved by the 2 s of silence before it: its end exactly; its onset
    // (80 ms into the file, where the detector starts without context) three frames
    // earlier, as the network now has the prompt's breathy start in its 48 ms of context.
    assert_eq!(speech_segments(&audio, 8_000), [seg(2_032, 8_016)]);
}

#[test]
fn pure_tones_are_not_speech_whatever_their_pitch() {
    for hz in [300.0, 425.0, 450.0, 1_000.0, 2_000.0] {
        let audio = tone(hz, 3_000, 8_000.0);
        assert_eq!(speech_segments(&audio, 8_000), [], "{hz} Hz");
    }
    // The shipped ringback (450 Hz, 1 s on) and a dual-tone key press.
    assert_eq!(speech_segments(&prompt("ringback"), 8_000), []);
    let dtmf: Vec<i16> = tone(852.0, 1_000, 6_000.0)
        .iter()
        .zip(tone(1_209.0, 1_000, 6_000.0))
        .map(|(a, b)| a + b)
        .collect();
    assert_eq!(speech_segments(&dtmf, 8_000), []);
}

#[test]
fn the_network_alone_takes_a_low_tone_for_a_voice_which_the_tone_check_refuses() {
    // Why the tone check exists: earshot scores a 300 Hz tone as voice on most frames.
    let audio = tone(300.0, 3_000, 8_000.0);
    let voiced = frame_scores(&audio, 8_000)
        .iter()
        .filter(|&&score| score >= 0.5)
        .count();
    assert!(voiced > 150, "{voiced} of 188 frames");
    assert_eq!(
        speech_frames(&audio, 8_000, 0.5)
            .iter()
            .filter(|&&s| s)
            .count(),
        0
    );
    assert!(tonal_share(&audio[8_000..8_256]) > 0.999);
}

#[test]
fn silence_and_noise_are_not_speech() {
    assert_eq!(speech_segments(&vec![0i16; 24_000], 8_000), []);
    assert_eq!(speech_segments(&noise(3_000, 3_000.0), 8_000), []);
    assert_eq!(speech_segments(&noise(3_000, 300.0), 8_000), []);
    assert_eq!(speech_segments(&[], 8_000), []);
}

#[test]
fn speech_frames_are_not_tonal_and_tone_frames_are() {
    let welcome = prompt("welcome");
    let scores = frame_scores(&welcome, 8_000);
    let shares: Vec<f64> = (0..scores.len())
        .filter(|&i| scores[i] >= 0.5 && i >= 2)
        .map(|i| tonal_share(&welcome[(i + 1) * 128 - 256..(i + 1) * 128]))
        .collect();
    assert!(shares.len() > 300);
    let highest = shares.iter().copied().fold(0.0, f64::max);
    assert!(highest < TONAL_SHARE, "highest {highest}");
    assert!(tonal_share(&tone(450.0, 40, 8_000.0)[..256]) > 0.999);
}

#[test]
fn gaps_up_to_the_hangover_are_bridged_and_blips_shorter_than_the_minimum_dropped() {
    let settings = VadSettings::default();
    let frames = |pattern: &str| -> Vec<bool> { pattern.chars().map(|c| c == '#').collect() };
    // 10 speech frames, a 20-frame gap (320 ms = the hangover), 10 more: one span.
    let bridged = format!("{}{}{}", "#".repeat(10), ".".repeat(20), "#".repeat(10));
    assert_eq!(smooth(&frames(&bridged), &settings, 10_000), [seg(0, 640)]);
    // A 21-frame gap (336 ms) is two spans.
    let split = format!("{}{}{}", "#".repeat(10), ".".repeat(21), "#".repeat(10));
    assert_eq!(
        smooth(&frames(&split), &settings, 10_000),
        [seg(0, 160), seg(496, 656)]
    );
    // 5 frames (80 ms) is shorter than 96 ms: dropped; 6 frames is kept.
    assert_eq!(smooth(&frames(".....#####....."), &settings, 10_000), []);
    assert_eq!(
        smooth(&frames(".....######....."), &settings, 10_000),
        [seg(80, 176)]
    );
    // The end is clipped to the audio's length.
    assert_eq!(smooth(&frames("########"), &settings, 100), [seg(0, 100)]);
}

#[test]
fn upsampling_keeps_the_samples_and_puts_the_midpoints_between_them() {
    let dc = to_detector_rate(&[1_000; 64], 8_000);
    assert_eq!(dc.len(), 128);
    // Away from the edges a constant stays that constant (unity gain).
    assert!(
        dc[32..96].iter().all(|&s| (999..=1_001).contains(&s)),
        "{:?}",
        &dc[32..96]
    );
    let sine = tone(1_000.0, 10, 10_000.0);
    let up = to_detector_rate(&sine, 8_000);
    for n in 20..60 {
        assert_eq!(up[2 * n], sine[n]);
        let exact =
            10_000.0 * (2.0 * std::f64::consts::PI * 1_000.0 * (n as f64 + 0.5) / 8_000.0).sin();
        assert!(
            (f64::from(up[2 * n + 1]) - exact).abs() < 60.0,
            "n={n}: {} vs {exact}",
            up[2 * n + 1]
        );
    }
}
