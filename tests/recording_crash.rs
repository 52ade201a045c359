//! A switch killed with SIGKILL in the middle of a recorded call: after `hotline serve` starts
//! again, the recording plays (a valid WAV holding the audio written before the kill, whole
//! frames only) and its record says `cut_short` with that length; the call is `interrupted`.

mod common;

use std::time::{Duration, Instant};

use common::rtp_peer::RawCaller;
use common::*;
use hotline::recording::{absolute_path, HEADER_LEN};
use serde_json::Value;

#[test]
fn a_switch_killed_mid_call_leaves_a_playable_recording_marked_cut_short() {
    let mut switch =
        Switch::start_with_options(PortBlock::reserve(), None, ServeOptions::default());
    let mut caller = RawCaller::new(&switch, "4008", "killed");
    if let Err(e) = caller.call(Duration::from_secs(10)) {
        panic!("the caller's INVITE: {e}\n{}", switch.log_tail());
    }
    // Talk until the recording has at least 2 s on disk (the header may still say less).
    let data = switch.data.path().to_path_buf();
    let deadline = Instant::now() + Duration::from_secs(15);
    let file = loop {
        caller.talk(Duration::from_millis(200));
        let recording = switch
            .call(&caller.call_id)
            .map(|c| c["recording"].clone())
            .unwrap_or(Value::Null);
        if let Some(file) = recording["file"].as_str() {
            let path = absolute_path(&data, file);
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if len >= HEADER_LEN + 2 * 32_000 {
                assert_eq!(recording["state"], "recording", "{recording:#}");
                break path;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no recording with 2 s of audio within 15 s: {recording:#}\n{}",
            switch.log_tail()
        );
    };

    switch.send_signal(Signal::Kill);
    assert!(switch.wait_for_exit(Duration::from_secs(5)).is_some());
    let on_disk_at_kill = std::fs::metadata(&file).unwrap().len();
    switch.restart(Duration::from_secs(5));

    let record = switch
        .call(&caller.call_id)
        .expect("the killed call's record survives");
    assert_eq!(record["outcome"], "interrupted", "{record:#}");
    let recording = &record["recording"];
    assert_eq!(recording["state"], "cut_short", "{recording:#}");
    let wav = hound::WavReader::open(&file).expect("the recording plays after the restart");
    let spec = wav.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8_000, 16)
    );
    let frames = u64::from(wav.duration());
    let len = std::fs::metadata(&file).unwrap().len();
    assert_eq!(len, HEADER_LEN + frames * 4, "header and size agree");
    assert!(
        len + 3 >= on_disk_at_kill && len <= on_disk_at_kill,
        "nothing written before the kill is lost: {on_disk_at_kill} bytes then, {len} now"
    );
    assert_eq!(
        recording["duration_ms"],
        frames * 1000 / 8_000,
        "{recording:#}"
    );
    assert!(
        frames >= 2 * 8_000,
        "at least the 2 s seen before the kill: {frames} frames"
    );
}
