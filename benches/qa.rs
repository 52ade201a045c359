//! What a QA reviewer waits for the first time a call's flags are computed: voice activity
//! detection (the `earshot` network after ×2 upsampling, plus the tone check) over one
//! minute of one channel, the shipped English menu prompt looped, 8 kHz. An hour-long call
//! is 120 channel-minutes of this.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use hotline::qa::vad;

fn one_minute_of_speech() -> Vec<i16> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/prompts/en/main_menu.wav");
    let mut reader = hound::WavReader::open(path).expect("the shipped menu prompt");
    let prompt: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    assert_eq!(reader.spec().sample_rate, 8_000, "prompts are 8 kHz");
    prompt.iter().copied().cycle().take(60 * 8_000).collect()
}

fn main() {
    let minute = one_minute_of_speech();
    assert!(
        !vad::speech_segments(&minute, 8_000).is_empty(),
        "the prompt is speech"
    );
    let mut criterion = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .configure_from_args();
    criterion.bench_function("vad: speech segments of one minute of one channel", |b| {
        b.iter(|| vad::speech_segments(black_box(&minute), 8_000))
    });
    criterion.bench_function("vad: earshot scores of one minute", |b| {
        b.iter(|| vad::frame_scores(black_box(&minute), 8_000))
    });
    criterion.final_summary();
}
