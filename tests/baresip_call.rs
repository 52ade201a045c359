//! A call from a real softphone: headless baresip dials the hotline, speaks from a WAV file
//! and records what it hears. The switch must answer, start its prompts, and the recording
//! of what baresip heard must hold audio, not silence. The two exchange RTCP: baresip's own
//! statistics show the switch's receiver reports, and the call record has baresip's.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[test]
fn baresip_calls_the_hotline_and_hears_the_greeting() {
    let ports = PortBlock::reserve();
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
    write_microphone(
        &microphone,
        440.0,
        Duration::from_secs(1),
        run_for + Duration::from_secs(10),
    );

    let (rtp_lo, rtp_hi) = ports.baresip_rtp();
    let config = fill_baresip_template(
        "config.template",
        &[
            ("SIP_PORT", ports.sip_port().to_string()),
            ("RTP_LO", rtp_lo.to_string()),
            ("RTP_HI", rtp_hi.to_string()),
            ("MIC_WAV", microphone.display().to_string()),
            ("SND_PATH", recordings.display().to_string()),
        ],
    );
    // baresip prints its RTP statistics when the call ends; the loss and jitter rows are
    // there only when the far end sent RTCP reports about baresip's stream.
    let config = config.replace("rtp_stats\t\tno", "rtp_stats\t\tyes");
    assert!(
        config.contains("rtp_stats\t\tyes"),
        "the template's rtp_stats line moved"
    );
    std::fs::write(config_dir.join("config"), config).expect("write config");
    let accounts = fill_baresip_template("accounts.template", &[("USER", "baresip-caller".into())]);
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

    // RTCP both ways. baresip's statistics table (Transmit / Receive columns) has loss and
    // jitter rows only when it received the switch's reports of its stream.
    let stats = console
        .split("Transmit:")
        .nth(1)
        .unwrap_or_else(|| panic!("baresip printed no RTP statistics:\n{console}"));
    for row in ["packets:", "lost:", "jitter:"] {
        assert!(
            stats.lines().any(|l| l.trim_start().starts_with(row)),
            "baresip's statistics have no {row:?} row, so no RTCP report of its stream \
             reached it from the switch:\n{stats}"
        );
    }
    // And the record has the caller leg's figures, baresip's reports among them.
    let media = call["media"]
        .as_array()
        .unwrap_or_else(|| panic!("no media figures on the record: {call:#}"));
    assert_eq!(media.len(), 1, "one leg, the caller's: {call:#}");
    let leg = &media[0];
    assert_eq!(leg["role"], "caller", "{leg:#}");
    let talked_ms = call["duration_ms"]
        .as_u64()
        .unwrap_or(0)
        .saturating_sub(1_000);
    let received = leg["packets_received"].as_u64().unwrap_or(0);
    assert!(
        received * 20 >= talked_ms * 8 / 10,
        "{received} packets from baresip in about {talked_ms} ms of call: {leg:#}"
    );
    assert_eq!(leg["packets_lost"], 0, "loopback loses nothing: {leg:#}");
    assert_eq!(leg["packets_from_strangers"], 0, "{leg:#}");
    assert!(
        leg["rtcp_received"].as_u64().unwrap_or(0) >= 1,
        "baresip's RTCP reached the switch: {leg:#}"
    );
    assert!(
        leg["rtcp_sent"].as_u64().unwrap_or(0) >= 1,
        "the switch sent RTCP: {leg:#}"
    );
    assert!(
        leg["remote_jitter_us"].is_u64() && leg["remote_packets_lost"] == 0,
        "baresip's receiver report of the switch's stream is on the record: {leg:#}"
    );
}
