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
        length_ms.abs_diff(call_ms) <= 60,
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
    // The menu prompt is on the right sample for sample (through the caller's A-law), where
    // the timeline says it started: its first frame goes out on the next tick, and the right
    // channel is held back one tick to match the caller's jitter buffer (at most 60 ms).
    let menu = prompt_as_heard(&switch, "main_menu");
    let at = find(&wav.right, &menu[..20 * FRAME])
        .expect("the first 400 ms of the main menu prompt are on the right channel")
        as u64
        / 8;
    let started = offset_ms(&event(&call, "prompt_started")) - answered_at;
    eprintln!("the menu prompt starts at {at} ms in the recording, {started} ms on the timeline");
    assert!(
        at >= started && at - started <= 60,
        "the menu prompt is at {at} ms in the recording, the timeline says {started} ms"
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

// ---------------------------------------------------------------------------------------------
// One recording per journey

const FIRST_AGENT_HZ: f64 = 600.0;
const SECOND_AGENT_HZ: f64 = 900.0;

/// Phones 1001 (sales) and 1002 (support), ready when registered, and `MENU_NUMBER`.
fn two_agents() -> ConfigCopy {
    let phones: [(&str, &[&str]); 2] = [
        ("1001", &["sales", "accounts", "operator"]),
        ("1002", &["support"]),
    ];
    let entries: Vec<PhoneEntry> = phones
        .iter()
        .map(|(extension, skills)| {
            let mut entry = PhoneEntry::desk_phone(extension, &format!("sample-{extension}"));
            entry.skills = skills.iter().map(|s| s.to_string()).collect();
            entry
        })
        .collect();
    let config = ConfigCopy::for_agents(&entries);
    straight_to_the_menu(&config, true);
    config
}

fn await_event(switch: &Switch, call_id: &str, name: &str) {
    assert!(
        rtp_peer::wait_for_event(switch, call_id, name, Duration::from_secs(20)),
        "no {name} on the call: {:#}\n--- log ---\n{}",
        switch.call(call_id).unwrap_or(Value::Null),
        switch.log_tail()
    );
}

fn wav_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(wav_files(&path));
            } else if path.extension().is_some_and(|e| e == "wav") {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn a_held_then_blind_transferred_call_is_one_recording_with_both_agents_on_the_right() {
    let ports = PortBlock::reserve();
    let second = PortBlock::reserve();
    let switch = Switch::start_with(ports, two_agents());
    let run_for = Duration::from_secs(45);
    let control_port = ports.sip_port();
    let mut first_phone = Baresip::start_controlled(
        ports,
        &baresip_agent_account("1001", "sample-1001", switch.sip.port()),
        FIRST_AGENT_HZ,
        run_for,
        control_port,
    );
    assert!(first_phone.wait_for("200 OK", Duration::from_secs(10)));
    let mut keys = BaresipControl::connect(control_port, Duration::from_secs(5));
    let mut second_phone = Baresip::start(
        second,
        &baresip_agent_account("1002", "sample-1002", switch.sip.port()),
        SECOND_AGENT_HZ,
        run_for,
    );
    assert!(second_phone.wait_for("200 OK", Duration::from_secs(10)));

    let sink = RtpSink::listen(ports.rtp_sink());
    let caller =
        caller(&switch, Duration::from_secs(24), "journey").timeout(Duration::from_secs(60));
    let call_id = caller.call_id(1);
    let caller_run = caller.spawn();
    await_event(&switch, &call_id, "bridged");
    std::thread::sleep(Duration::from_secs(2));
    keys.command("hold", "");
    await_event(&switch, &call_id, "hold_reason");
    std::thread::sleep(Duration::from_secs(3));
    keys.command("resume", "");
    await_event(&switch, &call_id, "hold_ended");
    std::thread::sleep(Duration::from_secs(1));
    // 8002 is the support queue's transfer number in the shipped dialplan.
    keys.command(
        "transfer",
        &format!("sip:8002@127.0.0.1:{}", switch.sip.port()),
    );
    await_event(&switch, &call_id, "transfer_completed");
    // Mid-call, the file on disk is already a WAV hound reads, its header naming the audio
    // written so far (flushed at least every second).
    let live = switch.call(&call_id).expect("the call's record");
    assert_eq!(live["recording"]["state"], "recording", "{live:#}");
    let live_path = switch
        .data
        .path()
        .join(live["recording"]["file"].as_str().unwrap());
    let started: jiff::Timestamp = live["recording"]["started_at"]
        .as_str()
        .expect("started_at")
        .parse()
        .expect("a timestamp");
    let elapsed_ms = jiff::Timestamp::now().duration_since(started).as_millis() as u64;
    // One read of the file: the header names whole frames, at most what is on disk and no
    // more than about a second behind it.
    let bytes = std::fs::read(&live_path).expect("the live recording");
    let reader =
        hound::WavReader::new(std::io::Cursor::new(&bytes[..])).expect("the live recording parses");
    let so_far_ms = u64::from(reader.duration()) / 8;
    let named = 44 + u64::from(reader.duration()) * 4;
    let on_disk = bytes.len() as u64;
    assert!(
        named <= on_disk && on_disk - named <= 2 * 32_000,
        "the header names {named} bytes of {on_disk}"
    );
    assert!(
        so_far_ms + 1_500 >= elapsed_ms && so_far_ms <= elapsed_ms,
        "{so_far_ms} ms in the header {elapsed_ms} ms after the recording started"
    );
    let caller_run = caller_run.join().expect("caller thread");
    let heard = sink.finish();
    first_phone.finish(Duration::from_secs(5));
    second_phone.finish(Duration::from_secs(5));
    assert_sipp_ok("the transferred caller", &caller_run, &switch);

    switch.ended_call(&call_id, Duration::from_secs(10));
    let call = finished_recording(&switch, &call_id);
    let recording = &call["recording"];
    assert_eq!(recording["state"], "complete", "{call:#}");
    let files = wav_files(&switch.data.path().join("recordings"));
    assert_eq!(files.len(), 1, "one file for the journey: {files:?}");
    let path = switch.data.path().join(recording["file"].as_str().unwrap());
    assert_eq!(files[0], path);
    let wav = read_wav(&path);
    let answered_at = offset_ms(&event(&call, "answered"));
    let length_ms = wav.left.len() as u64 / 8;
    let call_ms = offset_ms(&event(&call, "hangup")) - answered_at;
    assert!(
        length_ms.abs_diff(call_ms) <= 60,
        "{length_ms} ms for {call_ms} ms"
    );

    let at = |name: &str, nth: usize| {
        let offsets: Vec<u64> = events(&call)
            .iter()
            .filter(|e| e["event"] == name)
            .map(offset_ms)
            .collect();
        offsets
            .get(nth)
            .copied()
            .unwrap_or_else(|| panic!("no {name} #{nth}: {call:#}"))
            - answered_at
    };
    // First agent from the bridge to the hold, silence-free hold audio (the reason and the
    // music), the first agent again, then the second agent after the transfer.
    let (bridged, held, ended) = (at("bridged", 0), at("hold_reason", 0), at("hold_ended", 0));
    let (second_bridge, hangup) = (at("bridged", 1), length_ms);
    let first = tone_frames(&wav.right, bridged + 300, held - 100, FIRST_AGENT_HZ);
    let first_frames = ((held - 100 - bridged - 300) / 20) as usize;
    assert!(
        first * 10 >= first_frames * 9,
        "first agent: {first} of {first_frames}"
    );
    assert_eq!(
        tone_frames(&wav.right, held + 300, ended - 100, FIRST_AGENT_HZ),
        0
    );
    let hold_frames = ((ended - 100 - held - 300) / 20) as usize;
    assert!(
        loud_frames(&wav.right, held + 300, ended - 100) * 10 >= hold_frames * 9,
        "the hold's prompts and music are on the right"
    );
    // After the transfer: the second agent, exactly as much of them as the caller heard (the
    // second phone's audio has gaps of its own, so the test's own RTP socket is the measure).
    let (first_heard, second_heard) = (
        heard.tone_frames(FIRST_AGENT_HZ),
        heard.tone_frames(SECOND_AGENT_HZ),
    );
    let first_recorded = tone_frames(&wav.right, 0, length_ms, FIRST_AGENT_HZ);
    let second_recorded = tone_frames(&wav.right, 0, length_ms, SECOND_AGENT_HZ);
    eprintln!(
        "the caller heard {first_heard} frames of the first agent, {second_heard} of the second; the recording has {first_recorded} and {second_recorded}"
    );
    assert!(second_heard >= 250, "the caller heard the second agent");
    // A frame the relay's jitter splits across a gap in the agent's audio may miss the tone
    // threshold on one side only: two frames and 2 % are allowed.
    assert!(first_recorded.abs_diff(first_heard) <= 2 + first_heard / 50);
    assert!(second_recorded.abs_diff(second_heard) <= 2 + second_heard / 50);
    assert_eq!(
        tone_frames(&wav.right, 0, second_bridge, SECOND_AGENT_HZ),
        0
    );
    assert_eq!(
        tone_frames(&wav.right, second_bridge, length_ms, FIRST_AGENT_HZ),
        0
    );
    let said = tone_frames(&wav.left, bridged + 300, hangup - 200, CALLER_HZ);
    let talk_frames = ((hangup - 200 - bridged - 300) / 20) as usize;
    assert!(
        said * 100 >= talk_frames * 95,
        "left: {said} of {talk_frames}"
    );
    eprintln!(
        "journey: {length_ms} ms recorded for {call_ms} ms; first agent {first}/{first_frames}, caller {said}/{talk_frames}"
    );
}

#[test]
fn the_agents_star_seven_writes_silence_until_pressed_again_and_the_timeline_says_how_long() {
    let ports = PortBlock::reserve();
    let switch = Switch::start_with(ports, two_agents());
    let agent = DeskPhone::new(PhoneEntry::desk_phone("1001", "sample-1001"), ports, 0);
    let run = agent.register(switch.sip);
    assert_sipp_ok("REGISTER of 1001", &run, &switch);
    // *7 at 2.0 s after the phone's answer (pause), *7 again at 2.8 s (resume); then the
    // scenario holds and resumes the caller.
    let phone = Sipp::towards("agent_keys_then_hold.xml", switch.sip, ports)
        .service("1001")
        .local_port(agent.sip_port)
        .media_port(agent.media_port)
        .key("rtp_sink", agent.rtp_sink)
        .call_id_tag("pause-1001")
        .file("agent_keys.pcap", keys_pcap("*7*7", 400))
        .set("hold_after_ms", 2000)
        .set("held_ms", 2000)
        .timeout(Duration::from_secs(60))
        .spawn();
    assert!(wait_for_udp_listener(
        agent.sip_port,
        Duration::from_secs(10)
    ));
    let sink = RtpSink::listen(ports.rtp_sink());
    let caller = caller(&switch, Duration::from_secs(12), "paused");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let heard = sink.finish();
    let phone = phone.join().expect("desk phone");
    assert_sipp_ok("the caller", &caller_run, &switch);
    assert_sipp_ok("the desk phone", &phone, &switch);
    assert_eq!(heard.payload_types, vec![8], "the caller got no key events");

    switch.ended_call(&call_id, Duration::from_secs(10));
    let call = finished_recording(&switch, &call_id);
    assert_eq!(call["recording"]["state"], "complete", "{call:#}");
    let paused = event(&call, "recording_paused");
    let resumed = event(&call, "recording_resumed");
    assert_eq!(paused["agent"], "a1001", "{call:#}");
    assert_eq!(paused["by"], "agent", "{call:#}");
    assert_eq!(resumed["agent"], "a1001", "{call:#}");
    let span = offset_ms(&resumed) - offset_ms(&paused);
    // Each offset is rounded down to the millisecond on its own.
    let paused_ms = resumed["paused_ms"].as_u64().expect("paused_ms");
    assert!(
        paused_ms.abs_diff(span) <= 1,
        "{paused_ms} ms, {span} ms apart: {call:#}"
    );
    assert!(
        (600..=1000).contains(&span),
        "the keys were 800 ms apart: {span} ms"
    );

    let path = switch
        .data
        .path()
        .join(call["recording"]["file"].as_str().unwrap());
    let wav = read_wav(&path);
    let answered_at = offset_ms(&event(&call, "answered"));
    let (from, to) = (
        offset_ms(&paused) - answered_at,
        offset_ms(&resumed) - answered_at,
    );
    // The file's first sample is the answer, so the pause is silence from the frame of the
    // first key press to the frame of the second on both channels, however late the keys
    // reached the media worker; the caller's tone on the left before and after it (after
    // it once the resume reached the worker: a tick or two).
    assert_eq!(loud_frames(&wav.left, from, to), 0, "left paused");
    assert_eq!(loud_frames(&wav.right, from, to), 0, "right paused");
    let before = tone_frames(&wav.left, from - 500, from, CALLER_HZ);
    let after = tone_frames(&wav.left, to + 100, to + 600, CALLER_HZ);
    assert!(
        before >= 23 && after >= 23,
        "caller's tone around the pause: {before}, {after}"
    );
    eprintln!("paused {span} ms; caller's tone frames: {before} before, {after} after");
}

#[test]
fn a_switch_stopped_with_sigterm_mid_call_finishes_the_recording_and_its_row_says_complete() {
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    straight_to_the_menu(&config, true);
    let mut switch = Switch::start_with(ports, config);
    // No agent: the caller waits in the sales queue until the switch stops.
    let caller =
        caller(&switch, Duration::from_secs(30), "stopped").timeout(Duration::from_secs(40));
    let call_id = caller.call_id(1);
    let caller_run = caller.spawn();
    assert!(rtp_peer::wait_for_event(
        &switch,
        &call_id,
        "queue_entered",
        Duration::from_secs(15)
    ));
    std::thread::sleep(Duration::from_secs(2));
    let status = switch.terminate(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "the switch stopped: {status:?}"
    );
    let _ = caller_run.join();

    let call = switch.call(&call_id).expect("the call's record");
    let recording = &call["recording"];
    assert_eq!(recording["state"], "complete", "{call:#}");
    let path = switch.data.path().join(recording["file"].as_str().unwrap());
    let bytes = std::fs::read(&path).expect("the recording");
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(recording["sha256"], digest.as_str(), "{call:#}");
    let wav = read_wav(&path);
    let length_ms = wav.left.len() as u64 / 8;
    assert_eq!(recording["duration_ms"], length_ms, "{call:#}");
    let call_ms = offset_ms(&event(&call, "hangup")) - offset_ms(&event(&call, "answered"));
    assert!(
        length_ms.abs_diff(call_ms) <= 60,
        "{length_ms} ms for {call_ms} ms"
    );
    assert!(tone_frames(&wav.left, 1000, length_ms, CALLER_HZ) > 50);
}

#[test]
fn a_recording_whose_file_cannot_be_created_leaves_the_call_alone_and_stops_its_frames() {
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    straight_to_the_menu(&config, true);
    let mut switch = Switch::start_with(ports, config);
    // `recordings` is a file, so no day folder under it can be made.
    let recordings = switch.data.path().join("recordings");
    if recordings.is_dir() {
        std::fs::remove_dir_all(&recordings).unwrap();
    }
    std::fs::write(&recordings, b"not a folder").unwrap();
    let caller = caller(&switch, Duration::from_secs(3), "uncreatable");
    let call_id = caller.call_id(1);
    let run = caller.run();
    // The caller went through the menu and the queue as on any other day.
    assert_sipp_ok("the caller", &run, &switch);
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let recording = finished_recording(&switch, &call_id)["recording"].clone();
    assert_eq!(recording["state"], "cut_short", "{call:#}");
    assert_eq!(recording["duration_ms"], 0, "{call:#}");
    let status = switch.terminate(Duration::from_secs(15));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    // The tap stopped once its worker heard of the failure, not at the hang-up: a 3 s call
    // would have sent 150 frames and more.
    let log = switch.log_tail();
    let stray: u64 = log
        .lines()
        .find_map(|line| {
            line.split_whitespace()
                .find_map(|field| field.strip_prefix("stray_frames="))
                .map(|n| n.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("the recording service's stop line:\n{log}"));
    assert!(stray < 25, "{stray} frames came after the failure:\n{log}");
}
