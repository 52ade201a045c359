//! What the caller heard, observed at the caller: the RTP a SIPp caller's media address
//! received, read as the prompts whose exact frames it carried (`common::heard`), against the
//! prompts dir of the switch under test. First the matcher itself on synthetic streams, then
//! the queue exits (voicemail, overflow) and business hours with real callers.
//! Each test reserves its own port block (`PortBlock::reserve`).

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::heard::{tone_packets, PromptFrames, ReceivedRtp};
use common::*;
use hotline::media::prompt::PromptLibrary;
use hotline::media::Codec;

/// A prompt counts as heard from ten frames (200 ms) on: every prompt these tests expect is
/// heard for at least a second, and a stray frame that happens to equal another prompt's
/// never makes ten in a row.
const MIN_FRAMES: usize = 10;

// ---------------------------------------------------------------------------------------------
// The matcher on synthetic streams

/// A deterministic noise-like signal (a linear congruential generator): every 20 ms frame
/// differs from every other, as speech does.
fn noise_pcm(seed: u32, samples: usize, amplitude: i32) -> Vec<i16> {
    let mut state = seed;
    (0..samples)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((state >> 16) as i32 % amplitude) as i16
        })
        .collect()
}

/// A rising tone, 300 Hz to 3 kHz over its length.
fn chirp_pcm(samples: usize) -> Vec<i16> {
    let mut phase = 0f64;
    (0..samples)
        .map(|n| {
            let hz = 300.0 + 2700.0 * n as f64 / samples as f64;
            phase += std::f64::consts::TAU * hz / 8000.0;
            (8000.0 * phase.sin()) as i16
        })
        .collect()
}

/// "en/alpha" (a 1 s chirp, 50 frames), "en/bravo" (0.8 s of noise, 40 frames), the same
/// 0.4 s 1 kHz beep shipped as both "en/beep" and "zh/beep", and "en/quiet_start" (two frames
/// of digital silence, then 0.2 s of chirp).
fn synthetic_prompts() -> PromptFrames {
    let mut library = PromptLibrary::new();
    library.add_pcm("en", "alpha", Path::new("alpha"), &chirp_pcm(8000));
    library.add_pcm("en", "bravo", Path::new("bravo"), &noise_pcm(7, 6400, 9000));
    let beep: Vec<i16> = (0..3200)
        .map(|n| (6000.0 * (std::f64::consts::TAU * 1000.0 * n as f64 / 8000.0).sin()) as i16)
        .collect();
    library.add_pcm("en", "beep", Path::new("beep"), &beep);
    let mut quiet = vec![0i16; 320];
    quiet.extend(chirp_pcm(1600));
    library.add_pcm("en", "quiet_start", Path::new("quiet"), &quiet);
    library.add_pcm("zh", "beep", Path::new("beep"), &beep);
    PromptFrames::of_library(&library)
}

/// A stream as the caller receives it: one packet per payload, sequence numbers from `seq`.
struct Stream {
    payload_type: u8,
    seq: u16,
    packets: Vec<ReceivedRtp>,
}

impl Stream {
    fn new(payload_type: u8) -> Stream {
        // Start near the top so the run crosses the sequence number's wrap.
        Stream {
            payload_type,
            seq: 65_500,
            packets: Vec::new(),
        }
    }

    fn send(&mut self, payload: &[u8]) {
        self.packets.push(ReceivedRtp {
            payload_type: self.payload_type,
            seq: self.seq,
            timestamp: u32::from(self.seq) * 160,
            ssrc: 0x1234_5678,
            payload: payload.to_vec(),
            at: Instant::now(),
        });
        self.seq = self.seq.wrapping_add(1);
    }

    fn play(&mut self, frames: &[[u8; 160]]) {
        for frame in frames {
            self.send(frame);
        }
    }

    fn silence(&mut self, count: usize) {
        let codec = Codec::from_static_payload_type(self.payload_type).expect("G.711");
        for _ in 0..count {
            self.send(&[codec.silence(); 160]);
        }
    }

    /// A packet the network lost: its sequence number is used up, nothing arrives.
    fn lose(&mut self) {
        self.seq = self.seq.wrapping_add(1);
    }
}

#[test]
fn two_prompts_one_after_the_other_are_heard_as_those_two_in_order_in_either_law() {
    let prompts = synthetic_prompts();
    for payload_type in [0u8, 8] {
        let mut stream = Stream::new(payload_type);
        stream.silence(5);
        stream.play(prompts.frames("en/alpha", payload_type));
        stream.play(prompts.frames("en/bravo", payload_type));
        stream.silence(5);
        let heard = prompts.heard(&stream.packets, MIN_FRAMES);
        let labels: Vec<String> = heard.iter().map(|h| h.label()).collect();
        assert_eq!(
            labels,
            ["en/alpha", "en/bravo"],
            "payload type {payload_type}"
        );
        assert_eq!(
            (heard[0].first_frame, heard[0].last_frame, heard[0].frames),
            (0, 49, 50)
        );
        assert_eq!(
            (heard[1].first_frame, heard[1].last_frame, heard[1].frames),
            (0, 39, 40)
        );
        assert_eq!((heard[0].first_packet, heard[0].last_packet), (5, 54));
        assert_eq!(heard[1].payload_type, payload_type);
    }
}

#[test]
fn a_prompt_starting_with_silence_is_heard_from_its_first_frame_after_other_audio() {
    let prompts = synthetic_prompts();
    let mut stream = Stream::new(8);
    stream.play(&prompts.frames("en/bravo", 8)[..20]);
    stream.play(prompts.frames("en/quiet_start", 8));
    let heard = prompts.heard(&stream.packets, MIN_FRAMES);
    assert_eq!(heard.len(), 2, "{heard:?}");
    assert_eq!(heard[1].label(), "en/quiet_start");
    assert_eq!(
        (heard[1].first_frame, heard[1].frames, heard[1].first_packet),
        (0, 12, 20)
    );
}

#[test]
fn a_prompt_in_one_law_is_not_heard_in_packets_labelled_with_the_other() {
    let prompts = synthetic_prompts();
    let mut stream = Stream::new(8);
    stream.play(prompts.frames("en/alpha", 0));
    assert_eq!(prompts.labels(&stream.packets, 1), Vec::<String>::new());
}

#[test]
fn silence_and_noise_match_no_prompt() {
    let prompts = synthetic_prompts();
    let mut stream = Stream::new(8);
    stream.silence(100);
    for chunk in noise_pcm(99, 160 * 100, 12_000).chunks(160) {
        let mut frame = [0u8; 160];
        Codec::Pcma.encode_into(chunk, &mut frame);
        stream.send(&frame);
    }
    assert!(
        prompts.runs(&stream.packets).is_empty(),
        "{:?}",
        prompts.runs(&stream.packets)
    );
}

#[test]
fn a_prompt_cut_short_by_barge_in_is_heard_for_the_frames_that_arrived() {
    let prompts = synthetic_prompts();
    let mut stream = Stream::new(8);
    stream.play(&prompts.frames("en/alpha", 8)[..12]);
    stream.play(prompts.frames("en/bravo", 8));
    let heard = prompts.heard(&stream.packets, MIN_FRAMES);
    let labels: Vec<String> = heard.iter().map(|h| h.label()).collect();
    assert_eq!(labels, ["en/alpha", "en/bravo"]);
    assert_eq!((heard[0].last_frame, heard[0].frames), (11, 12));
    // Too short for a higher minimum: only bravo is left.
    assert_eq!(prompts.labels(&stream.packets, 13), ["en/bravo"]);
}

#[test]
fn lost_packets_and_a_noisy_one_do_not_split_a_prompt() {
    let prompts = synthetic_prompts();
    let mut stream = Stream::new(0);
    let alpha = prompts.frames("en/alpha", 0).to_vec();
    let mut arrived = 0;
    for (i, frame) in alpha.iter().enumerate() {
        match i {
            // A burst of three lost, then every seventh.
            10..=12 => stream.lose(),
            _ if i % 7 == 0 => stream.lose(),
            // One packet corrupted on the way.
            30 => stream.send(&[0x42; 160][..]),
            _ => {
                stream.send(frame);
                arrived += 1;
            }
        }
    }
    let heard = prompts.heard(&stream.packets, MIN_FRAMES);
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert_eq!(heard[0].label(), "en/alpha");
    assert_eq!(heard[0].frames, arrived);
    assert_eq!((heard[0].first_frame, heard[0].last_frame), (1, 48));
}

#[test]
fn a_prompt_played_twice_is_heard_twice_and_shared_audio_names_both_prompts() {
    let prompts = synthetic_prompts();
    let mut stream = Stream::new(8);
    stream.play(prompts.frames("zh/beep", 8));
    stream.play(prompts.frames("zh/beep", 8));
    stream.silence(3);
    stream.play(prompts.frames("en/bravo", 8));
    stream.play(prompts.frames("en/bravo", 8));
    assert_eq!(
        prompts.labels(&stream.packets, MIN_FRAMES),
        [
            "en/beep or zh/beep",
            "en/beep or zh/beep",
            "en/bravo",
            "en/bravo"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Real callers

/// A trunk caller (queue_caller.xml) offering only G.711 `payload_type` (0 PCMU, 8 PCMA) who
/// presses 1 (sales) in the main menu, speaks a 700 Hz tone from a second later, and hangs up
/// `hangs_up_after` after that second.
fn sales_caller(switch: &Switch, payload_type: u8, hangs_up_after: Duration, tag: &str) -> Sipp {
    let codec = if payload_type == 0 { "PCMU" } else { "PCMA" };
    Sipp::new("queue_caller.xml", switch)
        .call_id_tag(tag)
        .key("caller", "13900000001")
        .key("codec_pt", payload_type)
        .key("codec_name", codec)
        .key("rtp_sink", switch.ports.rtp_sink())
        .file("caller_audio.pcap", tone_pcap(payload_type, 700.0, 90))
        .set("first_digit_ms", first_digit_ms(switch))
        .set("who_hangs_up", "caller")
        .hold(hangs_up_after)
        .timeout(Duration::from_secs(90))
}

/// The prompts the caller heard, with every run matched (for failure messages).
fn heard_labels(prompts: &PromptFrames, heard: &RtpHeard) -> Vec<String> {
    prompts.labels(&heard.received, MIN_FRAMES)
}

fn describe(prompts: &PromptFrames, heard: &RtpHeard) -> String {
    format!(
        "{} packets; runs: {:#?}",
        heard.received.len(),
        prompts.heard(&heard.received, 1)
    )
}

#[test]
fn the_voicemail_caller_hears_the_offer_then_the_whole_beep_and_is_recorded_from_its_end() {
    // Nobody registered; sales exits to voicemail one second after the caller joins it.
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    config.set_table(
        "queue.sales",
        &[
            ("max_wait", "\"3s\""),
            ("exit_notice", "\"2s\""),
            ("exit", "{ voicemail = true }"),
        ],
    );
    let switch = Switch::start_with(ports, config);
    let prompts = PromptFrames::load(&switch.config_dir);
    let sink = RtpSink::listen(ports.rtp_sink());
    // 1 s in the queue, 3.4 s of offer and 0.4 s of beep: the message runs about 6 s.
    // A PCMU caller: the prompts reach it in µ-law, frame for frame.
    let caller = sales_caller(&switch, 0, Duration::from_secs(10), "heard-voicemail");
    let call_id = caller.call_id(1);
    let run = caller.run();
    let heard = sink.finish();
    assert_sipp_ok("the caller", &run, &switch);

    let labels = heard_labels(&prompts, &heard);
    assert_eq!(
        labels,
        [
            "zh/welcome",
            "zh/recording_notice",
            "zh/main_menu",
            "zh/connecting",
            "zh/voicemail_offer",
            "en/beep or zh/beep",
        ],
        "{}",
        describe(&prompts, &heard)
    );
    let all = prompts.heard(&heard.received, MIN_FRAMES);
    assert!(
        all.iter().all(|h| h.payload_type == 0),
        "every prompt in PCMU: {all:?}"
    );
    let (offer, beep) = (&all[4], &all[5]);
    assert_eq!(
        (offer.first_frame, offer.frames),
        (0, prompts.frame_count("zh/voicemail_offer")),
        "the offer is heard whole: {offer:?}"
    );
    assert_eq!(
        (beep.first_frame, beep.frames),
        (0, prompts.frame_count("zh/beep")),
        "the beep is heard whole: {beep:?}"
    );

    // The message is what the caller said after the beep: from the beep's last packet to the
    // caller's hang-up (its last packet). The bound is well under the beep's 400 ms, so a
    // recording that began with the beep, or during the offer, is too long.
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let kept = event(&call, "voicemail")["duration_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("no voicemail duration: {call:#}"));
    let beep_end = heard.received[beep.last_packet].at;
    let call_end = heard.received.last().expect("packets").at;
    let after_beep = (call_end - beep_end).as_millis() as u64;
    assert!(
        kept.abs_diff(after_beep) <= 150,
        "the voicemail lasted {kept} ms; the caller spoke for {after_beep} ms after the beep: {call:#}"
    );
}

#[test]
fn a_caller_overflowing_to_the_operator_is_offered_voicemail_at_its_maximum_wait_from_the_first_queue(
) {
    // Nobody registered. Sales moves callers on to the operator 4 s after they join it; the
    // operator offers voicemail 6 s after they first queued: 2 s later, not 6 s.
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    config.set_table(
        "queue.sales",
        &[
            ("max_wait", "\"6s\""),
            ("exit_notice", "\"2s\""),
            ("exit", "{ overflow = \"operator\" }"),
        ],
    );
    config.set_table(
        "queue.operator",
        &[("max_wait", "\"8s\""), ("exit_notice", "\"2s\"")],
    );
    let switch = Switch::start_with(ports, config);
    let prompts = PromptFrames::load(&switch.config_dir);
    let sink = RtpSink::listen(ports.rtp_sink());
    let caller = sales_caller(&switch, 8, Duration::from_secs(14), "heard-overflow-wait");
    let call_id = caller.call_id(1);
    let run = caller.run();
    let heard = sink.finish();
    assert_sipp_ok("the caller", &run, &switch);

    let all = prompts.heard(&heard.received, MIN_FRAMES);
    let first = |label: &str| {
        all.iter()
            .find(|h| h.label() == label)
            .map(|h| heard.received[h.first_packet].at)
            .unwrap_or_else(|| panic!("no {label}: {}", describe(&prompts, &heard)))
    };
    let queued = first("zh/connecting");
    let offered = first("zh/voicemail_offer");
    let waited = offered.duration_since(queued);
    // The offer comes 6 s after the caller first queued (a fresh maximum wait in the
    // operator's line would make it 10 s); the prompts' own timing may shift it a little.
    assert!(
        waited >= Duration::from_millis(5_500) && waited <= Duration::from_millis(7_500),
        "voicemail offered {waited:?} after the caller first queued; {}",
        describe(&prompts, &heard)
    );
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let exit = find_event(&call, "queue_exit", |e| e["queue"] == "operator")
        .unwrap_or_else(|| panic!("no exit from the operator: {call:#}"));
    assert_eq!(exit["reason"], "voicemail", "{call:#}");
}

/// The current minute of the day in Asia/Shanghai (UTC+8 all year: no daylight saving).
fn shanghai_minute_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    (secs / 60 + 8 * 60).rem_euclid(1440)
}

/// "daily HH:MM-HH:MM" intervals open from `from` to `to` minutes of the day (either may be
/// outside 0..1440: the window wraps round midnight, split there as the config asks).
fn daily_window(from: i64, to: i64) -> String {
    let hhmm = |m: i64| format!("{:02}:{:02}", m / 60, m % 60);
    let start = from.rem_euclid(1440);
    let end = start + (to - from);
    let intervals: Vec<String> = if end <= 1440 {
        vec![format!("daily {}-{}", hhmm(start), hhmm(end))]
    } else {
        vec![
            format!("daily {}-24:00", hhmm(start)),
            format!("daily 00:00-{}", hhmm(end - 1440)),
        ]
    };
    let quoted: Vec<String> = intervals.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The shipped config with the office line (4009) open only between these minutes of the
/// day, Beijing time, and no holidays.
fn office_open(from: i64, to: i64) -> ConfigCopy {
    let config = ConfigCopy::of_shipped();
    config.set_table(
        "hotline.office.hours",
        &[("open", &daily_window(from, to)), ("holidays", "[]")],
    );
    config
}

#[test]
fn the_office_line_outside_its_hours_plays_closed_then_goodbye_and_hangs_up() {
    // Open from two to four hours from now: closed now, on any day.
    let ports = PortBlock::reserve();
    let now = shanghai_minute_now();
    let switch = Switch::start_with(ports, office_open(now + 120, now + 240));
    let prompts = PromptFrames::load(&switch.config_dir);
    let sink = RtpSink::listen(ports.rtp_sink());
    let sipp = Sipp::new("caller_waits_for_switch_bye.xml", &switch)
        .service("4009")
        .call_id_tag("office-closed")
        .key("rtp_sink", ports.rtp_sink())
        .timeout(Duration::from_secs(25));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    let heard = sink.finish();

    // What the caller heard first: a switch in the wrong flow also fails SIPp (no BYE).
    let all = prompts.heard(&heard.received, MIN_FRAMES);
    let labels: Vec<String> = all.iter().map(|h| h.label()).collect();
    assert_eq!(
        labels,
        ["zh/closed", "zh/goodbye"],
        "{}",
        describe(&prompts, &heard)
    );
    for (hearing, name) in all.iter().zip(["zh/closed", "zh/goodbye"]) {
        assert_eq!(
            (hearing.first_frame, hearing.frames),
            (0, prompts.frame_count(name)),
            "{name} is heard whole before the switch hangs up: {hearing:?}"
        );
    }
    assert_sipp_ok("the caller", &run, &switch);
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert_eq!(event(&call, "hangup")["by"], "switch", "{call:#}");
}

#[test]
fn the_office_line_in_its_hours_greets_and_offers_the_main_menu() {
    // Open from an hour ago to an hour from now.
    let ports = PortBlock::reserve();
    let now = shanghai_minute_now();
    let switch = Switch::start_with(ports, office_open(now - 60, now + 60));
    let prompts = PromptFrames::load(&switch.config_dir);
    let sink = RtpSink::listen(ports.rtp_sink());
    // Into the main menu by a second and a half.
    let hold = greeting_duration(&switch.config_dir, "zh") + Duration::from_millis(1500);
    let sipp = Sipp::new("basic_call.xml", &switch)
        .service("4009")
        .call_id_tag("office-open")
        .key("rtp_sink", ports.rtp_sink())
        .hold(hold);
    let run = sipp.run();
    let heard = sink.finish();
    assert_sipp_ok("the caller", &run, &switch);

    let all = prompts.heard(&heard.received, MIN_FRAMES);
    let labels: Vec<String> = all.iter().map(|h| h.label()).collect();
    assert_eq!(
        labels,
        ["zh/welcome", "zh/recording_notice", "zh/main_menu"],
        "{}",
        describe(&prompts, &heard)
    );
    assert_eq!(
        (all[0].first_frame, all[0].frames),
        (0, prompts.frame_count("zh/welcome")),
        "the greeting is heard whole: {:?}",
        all[0]
    );
}

#[test]
fn a_caller_overflowing_from_sales_hears_supports_prompt_then_its_agent() {
    // Sales has no agent on the line and overflows to support one second after the caller
    // joins; the one registered desk phone is a support agent's, answering at once.
    let ports = PortBlock::reserve();
    let mut entry = PhoneEntry::desk_phone("1001", "secret-1001");
    entry.skills = vec!["support".into()];
    // The other queues need an agent for the config to load; this one never registers.
    let mut absent = PhoneEntry::desk_phone("1002", "secret-1002");
    absent.skills = vec!["sales".into(), "accounts".into(), "operator".into()];
    let config = ConfigCopy::for_agents(&[entry.clone(), absent]);
    config.set_table(
        "queue.sales",
        &[
            ("max_wait", "\"3s\""),
            ("exit_notice", "\"2s\""),
            ("exit", "{ overflow = \"support\" }"),
        ],
    );
    let switch = Switch::start_with(ports, config);
    let prompts = PromptFrames::load(&switch.config_dir);
    let phone = DeskPhone::new(entry, ports, 0);
    let phone_run = phone.take_call(
        switch.sip,
        "agent_answers.xml",
        &[
            ("answer_after_ms", "100".into()),
            ("who_hangs_up", "caller".into()),
            ("talk_ms", "0".into()),
        ],
        // The caller's call lasts about 19 s from here.
        Duration::from_secs(40),
    );
    let registered = phone.register(switch.sip);
    assert_sipp_ok("REGISTER of the support phone", &registered, &switch);

    let sink = RtpSink::listen(ports.rtp_sink());
    let caller = sales_caller(&switch, 8, Duration::from_secs(9), "heard-overflow");
    let call_id = caller.call_id(1);
    let run = caller.run();
    let phone_run = phone_run.join().expect("phone thread");
    let heard = sink.finish();
    assert_sipp_ok("the caller", &run, &switch);

    let all = prompts.heard(&heard.received, MIN_FRAMES);
    let labels: Vec<String> = all.iter().map(|h| h.label()).collect();
    // Sales' "connecting" cut short by the exit, then support's from its start.
    assert!(
        labels.len() >= 5
            && labels[..5]
                == [
                    "zh/welcome",
                    "zh/recording_notice",
                    "zh/main_menu",
                    "zh/connecting",
                    "zh/connecting",
                ],
        "{labels:?}\n{}",
        describe(&prompts, &heard)
    );
    assert!(
        all[3].frames < prompts.frame_count("zh/connecting") && all[4].first_frame == 0,
        "sales' prompt is cut by the exit and support's starts over: {:?}",
        &all[3..5]
    );

    // Then the support agent's voice, and no prompt once it is on the line.
    let agent = tone_packets(&heard.received, phone.tone_hz);
    let first_agent = *agent.first().unwrap_or_else(|| {
        panic!(
            "the caller never heard the support agent's {} Hz tone; {}",
            phone.tone_hz,
            describe(&prompts, &heard)
        )
    });
    let last_prompt = all.last().map(|h| h.last_packet).unwrap_or(0);
    assert!(
        last_prompt < first_agent,
        "a prompt ({:?}) was still heard after the agent came on at packet {first_agent}",
        all.last()
    );
    // About 6.5 s of the 9 s the caller stays are with the agent (1 s to the exit, about 1.5 s
    // of answer and whisper); 5 s leaves room for a slow machine.
    assert!(
        agent.len() >= 250,
        "the caller heard the agent for only {} packets",
        agent.len()
    );

    assert_sipp_ok("the support phone", &phone_run, &switch);
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let exit = find_event(&call, "queue_exit", |e| e["queue"] == "sales")
        .unwrap_or_else(|| panic!("no exit from sales: {call:#}"));
    assert_eq!(exit["reason"], "overflow support", "{call:#}");
    assert_eq!(call["queue"], "support", "summary: {call:#}");
    assert_eq!(call["agent"], "a1001", "summary: {call:#}");
}

#[test]
fn the_second_caller_in_line_hears_that_one_caller_is_ahead_of_them() {
    // Nobody registered: both callers wait in sales. The prompt says how many callers are
    // ahead, so the second in line hears "1", not their own place "2".
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let prompts = PromptFrames::load(&switch.config_dir);
    let first = sales_caller(&switch, 8, Duration::from_secs(9), "first-in-line").spawn();
    // The first caller joins the line (welcome, notice and menu take about 8 s) before the
    // second dials.
    std::thread::sleep(Duration::from_secs(3));
    let second_sink = ports.rtp_sink() + 2;
    let sink = RtpSink::listen(second_sink);
    let second = sales_caller(&switch, 8, Duration::from_secs(9), "second-in-line")
        .key("rtp_sink", second_sink)
        .media_port(ports.base + 76)
        .run();
    let heard = sink.finish();
    assert_sipp_ok("the first caller", &first.join().unwrap(), &switch);
    assert_sipp_ok("the second caller", &second, &switch);
    assert_eq!(
        heard_labels(&prompts, &heard),
        [
            "zh/welcome",
            "zh/recording_notice",
            "zh/main_menu",
            "zh/connecting",
            "zh/queue_position",
            "zh/digit_1",
            "en/moh or zh/moh",
        ],
        "{}",
        describe(&prompts, &heard)
    );
}

#[test]
fn a_waiting_caller_nobody_could_answer_hears_connecting_and_place_but_no_promised_wait_then_the_announcement_again(
) {
    // Nobody registered: the caller waits in sales, announced every 8 s (README: "connecting
    // you", place in line, then music; the announcement repeats). No expected wait is said:
    // nobody is there to keep it.
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    config.set_table("queue.sales", &[("announce_every", "\"8s\"")]);
    let switch = Switch::start_with(ports, config);
    let prompts = PromptFrames::load(&switch.config_dir);
    let sink = RtpSink::listen(ports.rtp_sink());
    // In line about 14 s: the second announcement (from 8 s) and some music after it.
    let caller = sales_caller(&switch, 8, Duration::from_secs(13), "heard-announcements");
    let run = caller.run();
    let heard = sink.finish();
    assert_sipp_ok("the caller", &run, &switch);

    let all = prompts.heard(&heard.received, MIN_FRAMES);
    let labels: Vec<String> = all.iter().map(|h| h.label()).collect();
    let announcement = [
        "zh/queue_first",
        // The music is the same file in both languages.
        "en/moh or zh/moh",
    ];
    let mut expected = vec![
        "zh/welcome",
        "zh/recording_notice",
        "zh/main_menu",
        "zh/connecting",
    ];
    expected.extend(announcement);
    expected.extend(announcement);
    assert_eq!(labels, expected, "{}", describe(&prompts, &heard));
    for hearing in &all[3..7] {
        assert_eq!(hearing.first_frame, 0, "from its start: {hearing:?}");
    }
    for hearing in [&all[3], &all[4], &all[6]] {
        assert_eq!(
            hearing.frames,
            prompts.frame_count(&hearing.label()),
            "heard whole: {hearing:?}"
        );
    }

    // The announcement comes again announce_every after the caller joined the line (when
    // "connecting" began), as the caller's clock sees it; 100 ms is five packets.
    let joined = heard.received[all[3].first_packet].at;
    let again = heard.received[all[6].first_packet].at;
    let interval = again - joined;
    assert!(
        interval.abs_diff(Duration::from_secs(8)) <= Duration::from_millis(100),
        "the announcement came again {interval:?} after the caller joined, not 8 s"
    );
}
