//! The QA recording of a call (issue 9), end to end with real peers: a SIPp trunk caller
//! speaking a 700 Hz tone goes through the menu and the queue to a SIPp desk phone speaking
//! 1100 Hz, then hangs up. The WAV under the data dir is read back and checked sample by
//! sample: left is what the caller said, right what it heard (prompts, then the agent),
//! aligned to the call's timeline, and the record knows its length and SHA-256.
//! Each test reserves its own port block (`PortBlock::reserve`).

mod common;

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const CALLER: &str = "13900000001";
const CALLER_HZ: f64 = 700.0;
/// The hotline that starts in the main menu (no greeting to wait out).
const MENU_NUMBER: &str = "4018";
/// 20 ms at 8 kHz.
const FRAME: usize = 160;

fn straight_to_the_menu(config: &ConfigCopy, record: bool) {
    config.set_table(
        "hotline.menu_first",
        &[
            ("numbers", &format!("[\"{MENU_NUMBER}\"]")),
            ("language", "\"zh\""),
            ("flow", "\"main_menu\""),
            ("record", if record { "true" } else { "false" }),
        ],
    );
}

/// A PCMA caller on `MENU_NUMBER` who presses 1 half a second into the menu, speaks its
/// tone a second later, and hangs up `talk` after the digit.
fn caller(switch: &Switch, talk: Duration, tag: &str) -> Sipp {
    Sipp::new("queue_caller.xml", switch)
        .service(MENU_NUMBER)
        .call_id_tag(tag)
        .key("caller", CALLER)
        .key("codec_pt", 8)
        .key("codec_name", "PCMA")
        .key("rtp_sink", switch.ports.rtp_sink())
        .file("caller_audio.pcap", tone_pcap(8, CALLER_HZ, 90))
        .set("first_digit_ms", 500)
        .set("who_hangs_up", "caller")
        .hold(talk)
        .timeout(Duration::from_secs(40))
}

fn answering(phone: &DeskPhone, switch: &Switch) -> JoinHandle<SippRun> {
    phone.take_call(
        switch.sip,
        "agent_answers.xml",
        &[
            ("answer_after_ms", "300".into()),
            ("who_hangs_up", "caller".into()),
        ],
        Duration::from_secs(40),
    )
}

/// Waits (bounded) until the call's recording is no longer being written.
fn finished_recording(switch: &Switch, sip_call_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        if let Some(call) = switch.call(sip_call_id) {
            if call["recording"]["state"] != "recording" && !call["recording"].is_null() {
                return call;
            }
            last = call;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "the recording of {sip_call_id} did not finish within 10 s: {last:#}\nlog:\n{}",
        switch.log_tail()
    );
}

/// The recording's channels, decoded with hound (which checks the header).
struct Wav {
    left: Vec<i16>,
    right: Vec<i16>,
}

fn read_wav(path: &std::path::Path) -> Wav {
    let mut reader = hound::WavReader::open(path).expect("the recording parses as a WAV");
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16),
        "stereo 8 kHz 16-bit"
    );
    assert_eq!(spec.sample_format, hound::SampleFormat::Int);
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    Wav {
        left: samples.iter().step_by(2).copied().collect(),
        right: samples.iter().skip(1).step_by(2).copied().collect(),
    }
}

/// 20 ms frames of `channel` between `from_ms` and `to_ms` (recording time) where `hz`
/// holds most of the energy.
fn tone_frames(channel: &[i16], from_ms: u64, to_ms: u64, hz: f64) -> usize {
    let (from, to) = (from_ms as usize * 8 / FRAME, to_ms as usize * 8 / FRAME);
    channel
        .chunks_exact(FRAME)
        .skip(from)
        .take(to.saturating_sub(from))
        .filter(|frame| tone_share(frame, hz) > 0.5)
        .count()
}

fn loud_frames(channel: &[i16], from_ms: u64, to_ms: u64) -> usize {
    let (from, to) = (from_ms as usize * 8 / FRAME, to_ms as usize * 8 / FRAME);
    channel
        .chunks_exact(FRAME)
        .skip(from)
        .take(to.saturating_sub(from))
        .filter(|frame| {
            let energy: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
            energy / FRAME as f64 > 300.0 * 300.0
        })
        .count()
}

/// A shipped prompt as a PCMA caller hears it.
fn prompt_as_heard(switch: &Switch, name: &str) -> Vec<i16> {
    let path = switch.config_dir.join(format!("prompts/zh/{name}.wav"));
    hound::WavReader::open(path)
        .expect("the shipped prompt")
        .samples::<i16>()
        .map(|s| alaw_to_linear(linear_to_alaw(s.unwrap())))
        .collect()
}

/// Where `needle` first appears in `haystack`, sample for sample.
fn find(haystack: &[i16], needle: &[i16]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn file_mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("file metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_call_is_one_stereo_recording_left_what_the_caller_said_right_what_it_heard() {
    let ports = PortBlock::reserve();
    let entry = PhoneEntry::desk_phone("1001", "secret-1001");
    let config = ConfigCopy::for_agents(std::slice::from_ref(&entry));
    straight_to_the_menu(&config, true);
    let switch = Switch::start_with(ports, config);
    let phone = DeskPhone::new(entry, ports, 0);
    let phone_run = answering(&phone, &switch);
    let run = phone.register(switch.sip);
    assert_sipp_ok("REGISTER of the desk phone", &run, &switch);

    let caller = caller(&switch, Duration::from_secs(7), "recorded");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let phone_run = phone_run.join().expect("sipp thread");
    assert_sipp_ok("the caller", &caller_run, &switch);
    assert_sipp_ok("the desk phone", &phone_run, &switch);

    switch.ended_call(&call_id, Duration::from_secs(10));
    let call = finished_recording(&switch, &call_id);
    let recording = &call["recording"];
    assert_eq!(recording["state"], "complete", "{call:#}");
    assert_eq!(
        recording["channels"],
        serde_json::json!(["caller_said", "caller_heard"])
    );
    assert_eq!(recording["lost_ms"], 0, "{call:#}");
    let file = recording["file"].as_str().expect("file").to_string();
    let record_id = call["id"].as_str().expect("id");
    assert!(
        file.starts_with("recordings/") && file.ends_with(&format!("/{record_id}.wav")),
        "{file}"
    );
    let path: PathBuf = switch.data.path().join(&file);
    assert_eq!(file_mode(&path), 0o600, "{}", path.display());
    assert_eq!(file_mode(path.parent().unwrap()), 0o700);

    // The record's digest is the file's.
    let bytes = std::fs::read(&path).expect("the recording");
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(recording["sha256"], digest.as_str(), "{call:#}");

    // Sample 0 is the answer; the last sample the caller's BYE.
    let answered_at = offset_ms(&event(&call, "answered"));
    assert_eq!(
        recording["offset_ms"], answered_at,
        "the recording starts at the answer: {call:#}"
    );
    let wav = read_wav(&path);
    assert_eq!(wav.left.len(), wav.right.len());
    let length_ms = wav.left.len() as u64 / 8;
    assert_eq!(recording["duration_ms"], length_ms, "{call:#}");
    let hangup_at = offset_ms(&event(&call, "hangup"));
    let call_ms = hangup_at - answered_at;
    assert!(
        length_ms.abs_diff(call_ms) <= 40,
        "the recording lasts {length_ms} ms, answer to hang-up was {call_ms} ms: {call:#}"
    );

    // While caller and agent talk: left is the caller's 700 Hz, right the agent's 1100 Hz,
    // each without the other's.
    let bridged_at = offset_ms(&event(&call, "bridged")) - answered_at;
    let (talk_from, talk_to) = (bridged_at + 200, length_ms - 200);
    let talk_frames = ((talk_to - talk_from) / 20) as usize;
    assert!(talk_frames > 150, "at least 3 s of talk: {call:#}");
    let said = tone_frames(&wav.left, talk_from, talk_to, CALLER_HZ);
    let heard = tone_frames(&wav.right, talk_from, talk_to, phone.tone_hz);
    assert!(
        said * 100 >= talk_frames * 95,
        "left: {said} of {talk_frames} talk frames are the caller's {CALLER_HZ} Hz"
    );
    assert!(
        heard * 100 >= talk_frames * 95,
        "right: {heard} of {talk_frames} talk frames are the agent's {} Hz",
        phone.tone_hz
    );
    eprintln!(
        "recorded {length_ms} ms for {call_ms} ms answer to hang-up; talk {talk_frames} frames: left {said} at {CALLER_HZ} Hz, right {heard} at {} Hz",
        phone.tone_hz
    );
    assert_eq!(tone_frames(&wav.left, talk_from, talk_to, phone.tone_hz), 0);
    assert_eq!(tone_frames(&wav.right, talk_from, talk_to, CALLER_HZ), 0);
    // Before the agent, the caller heard the menu and the queue's prompts: the right channel
    // is not silent there, and the left carries no prompt.
    let queued_at = offset_ms(&event(&call, "queue_entered")) - answered_at;
    assert!(
        loud_frames(&wav.right, 0, queued_at) * 2 >= (queued_at / 20) as usize,
        "the menu prompt is on the right before the queue"
    );
    assert_eq!(
        loud_frames(&wav.left, 0, 400),
        0,
        "the caller said nothing at first"
    );
}

#[test]
fn a_hotline_with_record_false_makes_no_recording() {
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    straight_to_the_menu(&config, false);
    let switch = Switch::start_with(ports, config);
    let caller = caller(&switch, Duration::from_secs(2), "unrecorded");
    let call_id = caller.call_id(1);
    let run = caller.run();
    assert_sipp_ok("the caller", &run, &switch);
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert!(call["recording"].is_null(), "{call:#}");
    assert!(!event_names(&call).contains(&"recording_started".to_string()));
    assert!(!switch.data.path().join("recordings").exists());
}
