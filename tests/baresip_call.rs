//! A call from a real softphone: headless baresip dials the hotline, speaks from a WAV file
//! and records what it hears. The switch must answer, start its prompts, and the recording
//! of what baresip heard must hold audio, not silence.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// A microphone file: one second of a 440 Hz tone, then silence up to `length`, as 8 kHz mono
/// 16-bit signed PCM (what aufile accepts). The silence keeps the call up: baresip hangs up
/// when its microphone file ends.
fn write_microphone(path: &Path, length: Duration) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create microphone wav");
    let total = (length.as_millis() * 8) as u32;
    for n in 0..total {
        let sample = if n < 8000 {
            let t = n as f64 / 8000.0;
            (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
        } else {
            0
        };
        writer.write_sample(sample).expect("write sample");
    }
    writer.finalize().expect("finish microphone wav");
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    let path = repo_root().join("tests/baresip").join(template);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    assert!(
        !text.contains("{{"),
        "unfilled placeholder in {template}: {text}"
    );
    text
}

fn decoded_recordings(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name.starts_with("dump-") && name.ends_with("-dec.wav")
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Root mean square and length of a 16-bit WAV.
fn loudness(path: &Path) -> (f64, Duration) {
    let mut reader = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("read baresip's recording {}: {e}", path.display()));
    let rate = reader.spec().sample_rate.max(1);
    let channels = reader.spec().channels.max(1) as u32;
    let mut sum_sq = 0f64;
    let mut count = 0u64;
    for sample in reader.samples::<i16>() {
        let s = sample.expect("sample") as f64;
        sum_sq += s * s;
        count += 1;
    }
    let rms = if count == 0 {
        0.0
    } else {
        (sum_sq / count as f64).sqrt()
    };
    let frames = count / channels as u64;
    (rms, Duration::from_millis(frames * 1000 / rate as u64))
}

#[test]
fn baresip_calls_the_hotline_and_hears_the_greeting() {
    let ports = PortBlock::for_test(30);
    let switch = Switch::start(ports);
    let phone = tempfile::Builder::new()
        .prefix("hotline-baresip-")
        .tempdir()
        .expect("baresip tempdir");
    let config_dir = phone.path().join("config");
    let recordings = phone.path().join("recordings");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    std::fs::create_dir_all(&recordings).expect("recordings dir");

    // Stay on the line until the welcome greeting has been playing for a while.
    let notice = prompt_duration(&switch.config_dir, "zh", "recording_notice")
        .unwrap_or(Duration::from_secs(4));
    let run_for = (notice + Duration::from_secs(5)).max(Duration::from_secs(7));
    let microphone = phone.path().join("microphone.wav");
    write_microphone(&microphone, run_for + Duration::from_secs(10));

    let (rtp_lo, rtp_hi) = ports.baresip_rtp();
    let config = fill(
        "config.template",
        &[
            ("SIP_PORT", free_sip_port().to_string()),
            ("RTP_LO", rtp_lo.to_string()),
            ("RTP_HI", rtp_hi.to_string()),
            ("MIC_WAV", microphone.display().to_string()),
            ("SND_PATH", recordings.display().to_string()),
        ],
    );
    std::fs::write(config_dir.join("config"), config).expect("write config");
    let accounts = fill("accounts.template", &[("USER", "baresip-caller".into())]);
    std::fs::write(config_dir.join("accounts"), accounts).expect("write accounts");

    let mut cmd = Command::new("baresip");
    cmd.current_dir(phone.path())
        .arg("-f")
        .arg(&config_dir)
        .arg("-e")
        .arg(format!("/dial sip:4008@{}", switch.sip))
        .arg("-t")
        .arg(run_for.as_secs().to_string());
    let (out, killed) = run_bounded(&mut cmd, run_for + Duration::from_secs(15));
    let console =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !killed,
        "baresip did not quit after -t {run_for:?}:\n{console}"
    );
    assert!(
        console.contains("Call established"),
        "baresip's call was not established:\n{console}\n--- switch log ---\n{}",
        switch.log_tail()
    );

    let calls = switch.ended_calls(1, Duration::from_secs(10));
    assert_eq!(calls.len(), 1, "one call expected: {calls:?}");
    let call = switch
        .call(calls[0]["id"].as_str().unwrap_or(""))
        .expect("calls show finds the call");
    assert_eq!(event(&call, "answered")["rings"], 1, "{call:#}");
    event(&call, "confirmed");
    let welcome = find_event(&call, "prompt_started", |e| e["name"] == "welcome")
        .unwrap_or_else(|| panic!("the welcome greeting never started: {call:#}"));
    assert_eq!(welcome["language"], "zh");
    assert_eq!(event(&call, "hangup")["by"], "caller", "{call:#}");
    assert_eq!(call["outcome"], "completed", "{call:#}");

    let heard = decoded_recordings(&recordings);
    assert_eq!(
        heard.len(),
        1,
        "baresip's sndfile should record one decoded stream in {}:\n{console}",
        recordings.display()
    );
    let (rms, length) = loudness(&heard[0]);
    assert!(
        length >= Duration::from_secs(2),
        "baresip heard only {length:?} of audio"
    );
    assert!(
        rms > 100.0,
        "what baresip heard is silence (rms {rms:.1} over {length:?})"
    );
}
