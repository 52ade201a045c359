//! `hotline qa list|show|export` on real records: a call placed by SIPp through the built
//! switch, and a recorded call seeded into the switch's data dir with a WAV whose audio is
//! known (the shipped welcome prompt as the agent), so the flags' values are exact.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::*;
use hotline::recording::{absolute_path, relative_path};
use hotline::store::{NewCall, RecordingEnd, RecordingState, Store};
use hotline::switch::timeline::{EventKind, Party, TimelineEvent};
use serde_json::Value;

fn hotline(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.args(args);
    let (out, killed) = run_bounded(&mut cmd, Duration::from_secs(30));
    assert!(!killed, "hotline {args:?} took longer than 30 s");
    assert!(
        out.status.success(),
        "hotline {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn flags_of<'a>(review: &'a Value, rule: &str) -> Vec<&'a Value> {
    review["flags"]
        .as_array()
        .unwrap_or_else(|| panic!("no flags: {review:#}"))
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn qa_show_has_the_switchs_answer_flag_at_the_real_ring_count_and_export_writes_the_json() {
    // Two rings on a fast cadence (200 ms on, 300 ms off): 180 at once, 200 OK at 700 ms.
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    config.set_standards(&[
        ("ring_cadence", "\"200ms on, 300ms off\""),
        ("answer_after_rings", "2"),
    ]);
    let switch = Switch::start_with(ports, config);
    let sipp = Sipp::new("basic_call.xml", &switch).hold(Duration::from_millis(1500));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    assert_sipp_ok("SIPp", &run, &switch);
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let answered = event(&call, "answered");
    assert_eq!(answered["rings"], 2, "{call:#}");
    let ringing_at = offset_ms(&event(&call, "ringing"));
    let answered_at = offset_ms(&answered);
    let data = switch.data.path().to_str().unwrap().to_string();

    let review = json(&hotline(&[
        "qa", "show", &call_id, "--data", &data, "--json",
    ]));
    assert_eq!(review["record"]["id"], call["id"], "{review:#}");
    let s1 = flags_of(&review, "answered_within_rings");
    assert_eq!(s1.len(), 1, "{review:#}");
    assert_eq!(s1[0]["passed"], true);
    assert_eq!(s1[0]["measured"], 2.0);
    assert_eq!(s1[0]["threshold"], 3.0);
    assert_eq!(s1[0]["start_ms"], ringing_at);
    assert_eq!(s1[0]["end_ms"], answered_at);
    assert_eq!(
        s1[0]["evidence"],
        "answered event: switch answered at ring 2, measured 2 against threshold 3"
    );
    assert_eq!(review["scores"], serde_json::json!([]));
    // The text view says the same.
    let text =
        String::from_utf8(hotline(&["qa", "show", &call_id, "--data", &data]).stdout).unwrap();
    assert!(
        text.contains("answered_within_rings") && text.contains("switch answered at ring 2"),
        "{text}"
    );

    let out_dir = tempfile::tempdir().unwrap();
    let target = out_dir.path().join("export");
    let id = call["id"].as_str().unwrap();
    let printed = String::from_utf8(
        hotline(&[
            "qa",
            "export",
            id,
            target.to_str().unwrap(),
            "--data",
            &data,
        ])
        .stdout,
    )
    .unwrap();
    let json_path = target.join(format!("{id}.json"));
    let wav_path = target.join(format!("{id}.wav"));
    assert_eq!(
        printed.trim(),
        format!("{}\n{}", wav_path.display(), json_path.display()),
        "the call's recording and its JSON"
    );
    let recording = &call["recording"];
    assert_eq!(recording["state"], "complete", "{call:#}");
    let original = switch
        .data
        .path()
        .join(recording["file"].as_str().expect("the recording's file"));
    assert!(
        std::fs::read(&wav_path).unwrap() == std::fs::read(&original).unwrap(),
        "the exported WAV is the recording, byte for byte"
    );
    assert_eq!(mode(&wav_path), 0o600);
    assert_eq!(mode(&json_path), 0o600);
    assert_eq!(mode(&target), 0o700);
    let exported: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(exported["record"]["id"], id);
    assert_eq!(exported["record"]["sip_call_id"], call_id.as_str());
    assert_eq!(exported["record"]["events"], call["events"]);
    assert_eq!(
        flags_of(&exported, "answered_within_rings")[0]["measured"],
        2.0
    );
    assert_eq!(exported["audio_missing"], Value::Null, "{exported:#}");
    assert_eq!(exported["record"]["recording"], call["recording"]);
}

fn welcome() -> Vec<i16> {
    let path = repo_root().join("prompts/en/welcome.wav");
    hound::WavReader::open(path)
        .unwrap()
        .into_samples::<i16>()
        .map(Result::unwrap)
        .collect()
}

/// A recorded call as the switch would leave it: answered, queued, agent "bob" bridged at
/// 20 s, caller hangs up at 60 s; the recording starts at 1 s and holds the welcome prompt
/// on the right channel (what the caller heard: bob's greeting) from 21 s, and silence after.
fn seed_recorded_call(data: &Path, id: &str) -> Vec<u8> {
    let store = Store::open(data).unwrap();
    let started_at = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(10);
    store
        .begin_call(&NewCall {
            id: id.into(),
            sip_call_id: format!("{id}@seeded"),
            from: "sip:13800000042@trunk".into(),
            to: "sip:4008@hotline".into(),
            hotline: Some("service".into()),
            started_at,
        })
        .unwrap();
    let events = [
        (10, EventKind::Ringing),
        (1_000, EventKind::Answered { rings: 1 }),
        (
            2_000,
            EventKind::QueueEntered {
                queue: "support".into(),
                position: 1,
                expected_wait_s: Some(10),
                priority: 0,
            },
        ),
        (
            19_900,
            EventKind::AgentAnswered {
                agent: "bob".into(),
                rings: 1,
                wait_ms: 17_900,
            },
        ),
        (
            20_000,
            EventKind::Bridged {
                agent: "bob".into(),
                transcoding: false,
            },
        ),
        (
            60_000,
            EventKind::Hangup {
                by: Party::Caller,
                reason: "bye".into(),
            },
        ),
    ];
    for (offset_ms, kind) in events {
        store
            .append_event(id, &TimelineEvent { offset_ms, kind })
            .unwrap();
    }
    let file = relative_path(started_at, id);
    store
        .recording_started(id, &file, started_at, 1_000)
        .unwrap();
    let path = absolute_path(data, &file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let speech = welcome();
    let mut writer = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..59_000usize * 8 {
        let right = i
            .checked_sub(20_000 * 8)
            .and_then(|j| speech.get(j))
            .copied()
            .unwrap_or(0);
        writer.write_sample(0i16).unwrap();
        writer.write_sample(right).unwrap();
    }
    writer.finalize().unwrap();
    store
        .recording_finished(
            id,
            &RecordingEnd {
                state: RecordingState::Complete,
                duration_ms: 59_000,
                sha256: String::new(),
                lost_ms: 0,
            },
        )
        .unwrap();
    // Ended last, as one whole call: the running switch's QA review takes a call once it
    // has ended, and passes by one whose recording is still being written a minute after its
    // end (this one ended nine minutes ago). Ended before its WAV was written, the call was
    // caught half-recorded and never flagged, once in CI.
    store
        .finish_call(
            id,
            started_at + jiff::SignedDuration::from_secs(60),
            "completed",
        )
        .unwrap();
    std::fs::read(&path).unwrap()
}

#[test]
fn a_recorded_calls_flags_come_from_its_audio_and_export_copies_the_wav() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let data_dir = switch.data.path().to_path_buf();
    let data = data_dir.to_str().unwrap().to_string();
    let wav = seed_recorded_call(&data_dir, "rec-1");

    let review = json(&hotline(&[
        "qa", "show", "rec-1", "--data", &data, "--json",
    ]));
    assert_eq!(review["audio_missing"], Value::Null, "{review:#}");
    // The welcome prompt's speech runs 32 ms to 6 016 ms into it (the VAD's unit tests):
    // greeting from 21.032 s to 27.016 s, 7.016 s after the connect at 20 s.
    let greeting = flags_of(&review, "greeting_within_10s");
    assert_eq!(greeting.len(), 1, "{review:#}");
    assert_eq!(
        (
            &greeting[0]["passed"],
            &greeting[0]["start_ms"],
            &greeting[0]["end_ms"],
            &greeting[0]["measured"]
        ),
        (
            &Value::Bool(true),
            &Value::from(20_000),
            &Value::from(27_016),
            &Value::from(7.016)
        ),
        "{review:#}"
    );
    // Then nobody speaks until the hang-up: 32.984 s of silence.
    let silence = flags_of(&review, "silence");
    assert_eq!(silence.len(), 1, "{review:#}");
    assert_eq!(silence[0]["passed"], false);
    assert_eq!(silence[0]["start_ms"], 27_016);
    assert_eq!(silence[0]["end_ms"], 60_000);
    assert_eq!(silence[0]["measured"], 32.984);
    let wait = flags_of(&review, "wait_under_30s");
    assert_eq!(wait[0]["measured"], 17.9, "{review:#}");

    // The list finds it by agent and by the failed rule, and says it has a recording.
    let listed = json(&hotline(&[
        "qa", "list", "--data", &data, "--agent", "bob", "--flag", "silence", "--json",
    ]));
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{listed:#}");
    assert_eq!(rows[0]["id"], "rec-1");
    assert_eq!(rows[0]["has_recording"], true);
    assert_eq!(rows[0]["failed_flags"], 1);
    // An unknown call and an unknown rule are refused with a message, not a panic.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.args(["qa", "show", "no-such-call", "--data", &data]);
    let (out, _) = run_bounded(&mut cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "no call \"no-such-call\"\n"
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.args(["qa", "list", "--data", &data, "--flag", "rude"]);
    let (out, _) = run_bounded(&mut cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("\"rude\" is not a rule; use any or one of: answered_within_rings,"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let none = json(&hotline(&[
        "qa",
        "list",
        "--data",
        &data,
        "--flag",
        "talk_over",
        "--json",
    ]));
    assert_eq!(none, serde_json::json!([]));

    let out_dir = tempfile::tempdir().unwrap();
    let printed = String::from_utf8(
        hotline(&[
            "qa",
            "export",
            "rec-1",
            out_dir.path().to_str().unwrap(),
            "--data",
            &data,
        ])
        .stdout,
    )
    .unwrap();
    let wav_path = out_dir.path().join("rec-1.wav");
    let json_path = out_dir.path().join("rec-1.json");
    assert_eq!(
        printed.lines().collect::<Vec<_>>(),
        [wav_path.to_str().unwrap(), json_path.to_str().unwrap()]
    );
    // (assert!, not assert_eq!: a failure must not print 470 kB of samples)
    assert!(
        std::fs::read(&wav_path).unwrap() == wav,
        "the WAV is copied byte for byte"
    );
    assert_eq!((mode(&wav_path), mode(&json_path)), (0o600, 0o600));
    let exported: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    // Exporting again replaces the files; a symlink planted in the way is replaced, never
    // followed (its target keeps its content).
    let decoy = out_dir.path().join("decoy");
    std::fs::write(&decoy, b"keep").unwrap();
    std::fs::remove_file(&wav_path).unwrap();
    std::os::unix::fs::symlink(&decoy, &wav_path).unwrap();
    hotline(&[
        "qa",
        "export",
        "rec-1",
        out_dir.path().to_str().unwrap(),
        "--data",
        &data,
    ]);
    assert!(
        std::fs::read(&decoy).unwrap() == b"keep",
        "the export wrote through the planted symlink"
    );
    assert!(!std::fs::symlink_metadata(&wav_path)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read(&wav_path).unwrap() == wav, "the WAV differs");
    assert_eq!(mode(&wav_path), 0o600);
    assert_eq!(exported["record"]["recording"]["state"], "complete");
    assert_eq!(
        exported["record"]["recording"]["channels"],
        serde_json::json!(["caller_said", "caller_heard"])
    );
    assert_eq!(
        flags_of(&exported, "greeting_within_10s")[0]["end_ms"],
        27_016
    );
}

#[test]
fn the_running_switch_flags_a_finished_call_before_anyone_asks_and_its_page_reuses_them() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let data_dir = switch.data.path().to_path_buf();
    let data = data_dir.to_str().unwrap().to_string();
    seed_recorded_call(&data_dir, "rec-bg");

    // Nobody runs `qa` or opens a page: the switch's own QA review thread computes them.
    let store = Store::open(&data_dir).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let kept = loop {
        if let Some(kept) = store.computed_flags("rec-bg").unwrap() {
            break kept;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no flags computed in the background within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(kept.0.as_deref(), Some("complete"));
    assert!(kept.1.contains("greeting_within_10s"), "{}", kept.1);

    // The audio is gone from disk (the row still says complete): the reviewer's view still
    // has the flags measured on it, so they were not measured again.
    let record = store.call("rec-bg").unwrap().unwrap();
    std::fs::remove_file(absolute_path(
        &data_dir,
        &record.recording.as_ref().unwrap().file,
    ))
    .unwrap();
    let review = json(&hotline(&[
        "qa", "show", "rec-bg", "--data", &data, "--json",
    ]));
    assert_eq!(review["audio_missing"], Value::Null, "{review:#}");
    let greeting = flags_of(&review, "greeting_within_10s");
    assert_eq!(greeting.len(), 1, "{review:#}");
    assert_eq!(greeting[0]["end_ms"], 27_016, "{review:#}");
    assert_eq!(flags_of(&review, "silence")[0]["measured"], 32.984);
}
