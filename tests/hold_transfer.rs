//! Hold and transfer from real desk phones (issue 8), observed where people are: what the
//! caller's RTP carried (the prompts' exact frames, `common::heard`, and the agents' tones),
//! what the phones saw (baresip's console, SIPp's messages), and the call's one record.
//!
//! baresip is the agent's desk phone whose keys the test presses through `ctrl_tcp` (hold,
//! resume, and transfer — baresip's blind transfer is REFER); a SIPp scenario is the phone that
//! does an attended transfer (REFER with Replaces, as Yealink and Polycom phones do); SIPp desk
//! phones stand in for colleagues who answer, are busy or never answer. Each test reserves its
//! own port blocks.

mod common;

use std::thread;
use std::time::Duration;

use common::heard::{tone_packets, PromptFrames};
use common::*;
use serde_json::Value;

/// Ten frames (200 ms) of a prompt's exact audio make it heard (see tests/caller_heard.rs).
const MIN_FRAMES: usize = 10;
/// The number that skips the greeting and starts in the main menu (1 = sales, 2 = support).
const MENU_NUMBER: &str = "4018";
/// The tone each party speaks, so the caller can tell whose voice crossed the bridge.
const CALLER_HZ: f64 = 700.0;
const FIRST_AGENT_HZ: f64 = 600.0;
const SECOND_AGENT_HZ: f64 = 900.0;
/// The ringback prompt's pitch (prompts/generate.sh: 450 Hz, 1 s on, 4 s off).
const RINGBACK_HZ: f64 = 450.0;

/// Phones 1001 (sales, accounts and operator: not support) and 1002 (support only), ready
/// when registered; a fast ring
/// cadence (ring 3 ends 1.2 s after the INVITE), a 1 s wrap-up, and `MENU_NUMBER`.
fn agents_config() -> ConfigCopy {
    agents_config_for(&[
        ("1001", &["sales", "accounts", "operator"]),
        ("1002", &["support"]),
    ])
}

/// `agents_config` with these phones and skills.
fn agents_config_for(phones: &[(&str, &[&str])]) -> ConfigCopy {
    let entries: Vec<PhoneEntry> = phones
        .iter()
        .map(|(extension, skills)| {
            let mut entry = PhoneEntry::desk_phone(extension, &format!("sample-{extension}"));
            entry.skills = skills.iter().map(|s| s.to_string()).collect();
            entry
        })
        .collect();
    let config = ConfigCopy::for_agents(&entries);
    config.set_table("queue.support", &[("wrap_up", "\"1s\"")]);
    config.set_table(
        "hotline.menu_first",
        &[
            ("numbers", &format!("[\"{MENU_NUMBER}\"]")),
            ("language", "\"zh\""),
            ("flow", "\"main_menu\""),
        ],
    );
    config
}

/// A trunk caller on `MENU_NUMBER` who presses 1 (sales) half a second into the menu, speaks a
/// 700 Hz tone to the switch, and hangs up `talk` after pressing it; what it hears arrives on
/// the port block's RTP sink.
fn caller(switch: &Switch, talk: Duration, tag: &str) -> Sipp {
    let ports = switch.ports;
    Sipp::new("queue_caller.xml", switch)
        .service(MENU_NUMBER)
        .call_id_tag(tag)
        .key("caller", "13900000001")
        .key("codec_pt", 8)
        .key("codec_name", "PCMA")
        .key("rtp_sink", ports.rtp_sink())
        .file("caller_audio.pcap", tone_pcap(8, CALLER_HZ, 90))
        .set("first_digit_ms", 500)
        .set("who_hangs_up", "caller")
        .hold(talk)
        .timeout(Duration::from_secs(90))
}

/// A baresip desk phone for `extension`, registered, answering by itself, speaking `hz`,
/// with its keys reachable through `ctrl_tcp`.
fn baresip_phone(
    ports: PortBlock,
    switch: &Switch,
    extension: &str,
    hz: f64,
    run_for: Duration,
) -> (Baresip, BaresipControl) {
    let control_port = ports.sip_port();
    let phone = Baresip::start_controlled(
        ports,
        &baresip_agent_account(extension, &format!("sample-{extension}"), switch.sip.port()),
        hz,
        run_for,
        control_port,
    );
    assert!(
        phone.wait_for("200 OK", Duration::from_secs(10)),
        "baresip {extension} did not register:\n{}\n--- switch log ---\n{}",
        phone.console(),
        switch.log_tail()
    );
    let control = BaresipControl::connect(control_port, Duration::from_secs(5));
    (phone, control)
}

/// Waits (bounded) for the caller's record to have event `name`; panics with the record.
fn await_event(switch: &Switch, call_id: &str, name: &str, limit: Duration) {
    await_event_seen_by(switch, call_id, name, limit, "");
}

/// `await_event`, with what a phone saw (its console, its answer to a key) in the panic.
fn await_event_seen_by(switch: &Switch, call_id: &str, name: &str, limit: Duration, phone: &str) {
    if !rtp_peer::wait_for_event(switch, call_id, name, limit) {
        panic!(
            "no {name} on the call within {limit:?}: {:#}\n--- log ---\n{}\n--- phone ---\n{phone}",
            switch.call(call_id).unwrap_or(Value::Null),
            switch.log_tail()
        );
    }
}

/// Once the caller is bridged to the baresip phone and has talked for 2 s, the phone's
/// transfer key sends them to `extension` (baresip: REFER); returns ctrl_tcp's answer.
fn transfer_when_bridged(
    switch: &Switch,
    keys: &mut BaresipControl,
    call_id: &str,
    extension: &str,
) -> String {
    await_event(switch, call_id, "bridged", Duration::from_secs(15));
    thread::sleep(Duration::from_secs(2));
    keys.command(
        "transfer",
        &format!("sip:{extension}@127.0.0.1:{}", switch.sip.port()),
    )
}

/// The prompts the caller heard, in order, without repeats in a row ("zh/moh" once per stretch).
fn heard_in_order(switch: &Switch, heard: &RtpHeard) -> Vec<String> {
    let frames = PromptFrames::load(&switch.config_dir);
    let mut labels = frames.labels(&heard.received, MIN_FRAMES);
    labels.dedup();
    labels
}

/// True when `wanted` appear in `labels` in this order (others may come between).
fn in_order(labels: &[String], wanted: &[&str]) -> bool {
    // Audio shipped under two names is heard as "en/moh or zh/moh".
    let mut rest = labels.iter();
    wanted
        .iter()
        .all(|w| rest.any(|l| l.split(" or ").any(|name| name == *w)))
}

/// The packet index where the caller's first hearing of prompt `label` ends.
fn end_of(switch: &Switch, heard: &RtpHeard, label: &str) -> usize {
    let frames = PromptFrames::load(&switch.config_dir);
    frames
        .heard(&heard.received, MIN_FRAMES)
        .iter()
        .find(|p| p.labels.iter().any(|l| l == label))
        .map(|p| p.last_packet)
        .unwrap_or_else(|| {
            panic!(
                "the caller never heard {label}; heard {:?}",
                frames.labels(&heard.received, MIN_FRAMES)
            )
        })
}

/// After a failed transfer the caller is back with the first agent: the recall's apology (or,
/// when the transferring phone hung up on the failure — baresip 1.0 does — the front of the
/// queue's apology, which the same free agent then answers), then that agent's voice.
fn assert_back_with_the_first_agent(switch: &Switch, heard: &RtpHeard, call: &Value) {
    let frames = PromptFrames::load(&switch.config_dir);
    let apology = frames
        .heard(&heard.received, MIN_FRAMES)
        .iter()
        .filter(|p| {
            p.labels
                .iter()
                .any(|l| l == "zh/transfer_recall" || l == "zh/transfer_requeue")
        })
        .map(|p| p.last_packet)
        .next_back()
        .unwrap_or_else(|| {
            panic!(
                "no apology heard: {:?}",
                frames.labels(&heard.received, MIN_FRAMES)
            )
        });
    let agent = tone_packets(&heard.received, FIRST_AGENT_HZ);
    assert!(
        agent.iter().filter(|&&n| n > apology).count() >= 50,
        "the caller talks to the first agent again after the apology"
    );
    let last_bridge = events(call)
        .into_iter()
        .rfind(|e| e["event"] == "bridged")
        .expect("bridged");
    assert_eq!(last_bridge["agent"], "a1001", "{call:#}");
    assert_eq!(event(call, "recall")["to"], "a1001", "{call:#}");
    assert_eq!(
        event(call, "hangup")["by"],
        "caller",
        "never dropped: {call:#}"
    );
}

#[test]
fn a_caller_held_from_a_baresip_desk_phone_hears_why_and_how_long_then_music_then_thanks() {
    let ports = PortBlock::reserve();
    let switch = Switch::start_with(ports, agents_config());
    let run_for = Duration::from_secs(40);
    let (mut phone, mut keys) = baresip_phone(ports, &switch, "1001", FIRST_AGENT_HZ, run_for);

    let sink = RtpSink::listen(ports.rtp_sink());
    let caller = caller(&switch, Duration::from_secs(20), "held");
    let call_id = caller.call_id(1);
    let caller_run = caller.spawn();
    await_event(&switch, &call_id, "bridged", Duration::from_secs(15));
    thread::sleep(Duration::from_secs(2));
    let held = keys.command("hold", "");
    await_event(&switch, &call_id, "hold_reason", Duration::from_secs(5));
    // The explanation (about 5 s) and some music.
    thread::sleep(Duration::from_secs(8));
    let resumed = keys.command("resume", "");
    await_event(&switch, &call_id, "hold_ended", Duration::from_secs(5));
    let caller_run = caller_run.join().expect("caller thread");
    let heard = sink.finish();
    phone.finish(Duration::from_secs(5));
    assert_sipp_ok("the held caller", &caller_run, &switch);

    let labels = heard_in_order(&switch, &heard);
    assert!(
        in_order(
            &labels,
            &[
                "zh/hold",
                "zh/digit_2",
                "zh/minutes",
                "zh/thanks_patience",
                "zh/moh",
                "zh/hold_return"
            ]
        ),
        "the caller heard {labels:?} (hold: {held}, resume: {resumed})"
    );
    // The agent's voice before the hold and again after the thank-you, never during it.
    let agent = tone_packets(&heard.received, FIRST_AGENT_HZ);
    let thanks_end = end_of(&switch, &heard, "zh/hold_return");
    let hold_start = PromptFrames::load(&switch.config_dir)
        .heard(&heard.received, MIN_FRAMES)
        .iter()
        .find(|p| p.labels.iter().any(|l| l == "zh/hold"))
        .map(|p| p.first_packet)
        .expect("the caller heard the hold explanation");
    assert!(
        agent.iter().filter(|&&n| n < hold_start).count() >= 50,
        "the caller heard the agent for a second before the hold"
    );
    assert!(
        agent.iter().filter(|&&n| n > thanks_end).count() >= 50,
        "the caller heard the agent again after the thank-you"
    );
    assert_eq!(
        agent
            .iter()
            .filter(|&&n| n > hold_start + 5 && n < thanks_end)
            .count(),
        0,
        "the caller heard the agent while on hold"
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let reason = event(&call, "hold_reason");
    assert_eq!(reason["reason"], "lookup", "{call:#}");
    assert_eq!(reason["expected_s"], 120, "{call:#}");
    assert_eq!(reason["by"], "default", "{call:#}");
    let ended = event(&call, "hold_ended");
    let held_ms = ended["duration_ms"].as_u64().unwrap_or(0);
    assert!(
        (7_000..12_000).contains(&held_ms),
        "hold lasted {held_ms} ms: {call:#}"
    );
}

#[test]
fn a_blind_transfer_from_baresip_to_a_queue_number_explains_and_hands_the_context_over() {
    let ports = PortBlock::reserve();
    let second = PortBlock::reserve();
    let switch = Switch::start_with(ports, agents_config());
    let run_for = Duration::from_secs(45);
    let (mut first_phone, mut keys) =
        baresip_phone(ports, &switch, "1001", FIRST_AGENT_HZ, run_for);
    let mut second_phone = Baresip::start(
        second,
        &baresip_agent_account("1002", "sample-1002", switch.sip.port()),
        SECOND_AGENT_HZ,
        run_for,
    );
    assert!(
        second_phone.wait_for("200 OK", Duration::from_secs(10)),
        "baresip 1002 did not register:\n{}",
        second_phone.console()
    );

    let sink = RtpSink::listen(ports.rtp_sink());
    let caller = caller(&switch, Duration::from_secs(26), "blind");
    let call_id = caller.call_id(1);
    let caller_run = caller.spawn();
    // 8002 is the support queue's transfer number in the shipped dialplan.
    let transfer = transfer_when_bridged(&switch, &mut keys, &call_id, "8002");
    await_event_seen_by(
        &switch,
        &call_id,
        "transfer_completed",
        Duration::from_secs(20),
        &format!("{transfer}\n{}", first_phone.console()),
    );
    let caller_run = caller_run.join().expect("caller thread");
    let heard = sink.finish();
    first_phone.finish(Duration::from_secs(5));
    second_phone.finish(Duration::from_secs(5));
    assert_sipp_ok("the transferred caller", &caller_run, &switch);

    let labels = heard_in_order(&switch, &heard);
    assert!(
        in_order(
            &labels,
            &[
                "zh/transfer_to",
                "zh/dept_support",
                "zh/transfer_colleague",
                "zh/transfer_no_repeat"
            ]
        ),
        "the caller heard {labels:?} (transfer: {transfer})"
    );
    let explained = end_of(&switch, &heard, "zh/transfer_no_repeat");
    let second_agent = tone_packets(&heard.received, SECOND_AGENT_HZ);
    assert!(
        second_agent.iter().filter(|&&n| n > explained).count() >= 50,
        "the caller heard the support agent after the explanation"
    );
    // The support agent answered at once; its whisper is shorter than the caller's
    // explanation, so it heard ringback until the caller could hear it — not the caller,
    // who could not hear a greeting yet.
    let support_heard = decoded_recordings(&second_phone.recordings);
    assert_eq!(
        support_heard.len(),
        1,
        "one decoded stream from baresip 1002:\n{}",
        second_phone.console()
    );
    let ringback = wav_tone_frames(&support_heard[0], RINGBACK_HZ);
    let caller_heard_by_support = wav_tone_frames(&support_heard[0], CALLER_HZ);
    let first_caller = *caller_heard_by_support
        .first()
        .unwrap_or_else(|| panic!("baresip 1002 never heard the caller"));
    assert!(
        ringback.iter().filter(|&&n| n < first_caller).count() >= 25,
        "the support agent heard ringback before the caller: ringback frames {ringback:?}, the caller from frame {first_caller}"
    );
    assert!(
        ringback.iter().all(|&n| n < first_caller),
        "no ringback once the caller is on the line: {ringback:?}, the caller from frame {first_caller}"
    );
    // baresip saw its REFER accepted and the call leave it.
    let console = first_phone.console();
    assert!(
        console.contains("transfer") || console.contains("REFER"),
        "baresip 1001 console:\n{console}"
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let requested = event(&call, "transfer_requested");
    assert_eq!(requested["agent"], "a1001", "{call:#}");
    assert_eq!(requested["kind"], "blind", "{call:#}");
    assert_eq!(requested["method"], "refer", "{call:#}");
    // 8002 is the support queue's number; the record names what it resolved to.
    assert_eq!(requested["target"], "queue:support", "{call:#}");
    let handed = event(&call, "context_handed_over");
    assert_eq!(handed["agent"], "a1002", "{call:#}");
    assert_eq!(event(&call, "transfer_completed")["agent"], "a1002");
    // One record from the first ring to the last hang-up, both agents on it.
    assert!(
        event_names(&call)
            .iter()
            .filter(|n| *n == "bridged")
            .count()
            >= 2,
        "{call:#}"
    );
}

#[test]
fn an_attended_transfer_with_refer_and_replaces_joins_the_caller_and_the_colleague() {
    let ports = PortBlock::reserve();
    let switch = Switch::start_with(ports, agents_config());
    let agent = DeskPhone::new(PhoneEntry::desk_phone("1001", "sample-1001"), ports, 0);
    let colleague = DeskPhone::new(PhoneEntry::desk_phone("1002", "sample-1002"), ports, 1);
    for phone in [&agent, &colleague] {
        let run = phone.register(switch.sip);
        assert_sipp_ok("REGISTER", &run, &switch);
    }
    let colleague_run = colleague.take_call(
        switch.sip,
        "agent_answers.xml",
        &[
            ("answer_after_ms", "300".into()),
            ("who_hangs_up", "switch".into()),
            ("talk_ms", "0".into()),
        ],
        Duration::from_secs(60),
    );
    let transferring = Sipp::towards("agent_attended_transfer.xml", switch.sip, ports)
        .service("1001")
        .local_port(agent.sip_port)
        .media_port(agent.media_port)
        .key("rtp_sink", agent.rtp_sink)
        .key("consult_rtp", agent.rtp_sink + 2)
        .credentials("1001", "sample-1001")
        .call_id_tag("attended-1001")
        .set("hold_after_ms", 2000)
        .set("consult_target", "1002")
        .set("consult_ms", 2500)
        .timeout(Duration::from_secs(60));
    let transferring = transferring.spawn();
    assert!(wait_for_udp_listener(
        agent.sip_port,
        Duration::from_secs(10)
    ));

    let sink = RtpSink::listen(ports.rtp_sink());
    let caller = caller(&switch, Duration::from_secs(25), "attended");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let heard = sink.finish();
    let transferring = transferring.join().expect("transferring phone");
    let colleague_run = colleague_run.join().expect("colleague phone");
    assert_sipp_ok("the transferring phone", &transferring, &switch);
    assert_sipp_ok("the colleague's phone", &colleague_run, &switch);
    assert_sipp_ok("the caller", &caller_run, &switch);

    // The phone saw its REFER accepted and the transfer's progress to the end.
    assert_eq!(
        transferring.log_lines("refer").len(),
        1,
        "{}",
        transferring.logs
    );
    let notifies = transferring.log_lines("notify");
    assert!(
        notifies.iter().any(|l| l.contains("SIP/2.0 100"))
            && notifies.iter().any(|l| l.contains("SIP/2.0 200")),
        "NOTIFYs the phone saw: {notifies:?}"
    );

    let labels = heard_in_order(&switch, &heard);
    assert!(
        in_order(&labels, &["zh/hold", "zh/hold_return"]),
        "the caller heard {labels:?}"
    );
    let thanks_end = end_of(&switch, &heard, "zh/hold_return");
    let colleague_heard = tone_packets(&heard.received, colleague.tone_hz);
    assert!(
        colleague_heard.iter().filter(|&&n| n > thanks_end).count() >= 50,
        "the caller heard the colleague after the thank-you ({} packets of their tone)",
        colleague_heard.len()
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let requested = event(&call, "transfer_requested");
    assert_eq!(requested["kind"], "attended", "{call:#}");
    assert_eq!(requested["agent"], "a1001", "{call:#}");
    assert_eq!(event(&call, "transfer_completed")["agent"], "a1002");
}

#[test]
fn a_blind_transfer_to_an_extension_nobody_answers_comes_back_to_the_transferring_agent() {
    let ports = PortBlock::reserve();
    let switch = Switch::start_with(ports, agents_config());
    let run_for = Duration::from_secs(40);
    let (mut phone, mut keys) = baresip_phone(ports, &switch, "1001", FIRST_AGENT_HZ, run_for);
    // 1002's phone rings and never answers.
    let silent = DeskPhone::new(PhoneEntry::desk_phone("1002", "sample-1002"), ports, 1);
    let run = silent.register(switch.sip);
    assert_sipp_ok("REGISTER of 1002", &run, &switch);
    let never = silent.take_call(
        switch.sip,
        "agent_never_answers.xml",
        &[],
        Duration::from_secs(30),
    );

    let sink = RtpSink::listen(ports.rtp_sink());
    let caller = caller(&switch, Duration::from_secs(22), "recall");
    let call_id = caller.call_id(1);
    let caller_run = caller.spawn();
    let transfer = transfer_when_bridged(&switch, &mut keys, &call_id, "1002");
    await_event(&switch, &call_id, "recall", Duration::from_secs(20));
    let caller_run = caller_run.join().expect("caller thread");
    let heard = sink.finish();
    phone.finish(Duration::from_secs(5));
    let _ = never.join();
    assert_sipp_ok("the caller", &caller_run, &switch);

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    // 1002 rang three rings ("200ms on, 300ms off": ring 3 ends 1.2 s after its INVITE).
    let offered = find_event(&call, "offered", |e| e["agent"] == "a1002")
        .unwrap_or_else(|| panic!("1002 was never rung: {call:#}"));
    let failed = event(&call, "transfer_failed");
    assert_eq!(failed["target"], "1002", "{call:#}");
    assert_eq!(failed["reason"], "no_answer", "{call:#}");
    let rang_ms = offset_ms(&failed) - offset_ms(&offered);
    assert!(
        (1_150..1_700).contains(&rang_ms),
        "rang {rang_ms} ms (transfer: {transfer})"
    );
    assert_back_with_the_first_agent(&switch, &heard, &call);
}

#[test]
fn a_blind_transfer_to_a_busy_extension_keeps_the_caller_with_the_agent() {
    let ports = PortBlock::reserve();
    let switch = Switch::start_with(ports, agents_config());
    let run_for = Duration::from_secs(35);
    let (mut phone, mut keys) = baresip_phone(ports, &switch, "1001", FIRST_AGENT_HZ, run_for);
    let busy = DeskPhone::new(PhoneEntry::desk_phone("1002", "sample-1002"), ports, 1);
    let run = busy.register(switch.sip);
    assert_sipp_ok("REGISTER of 1002", &run, &switch);
    let refusing = busy.take_call(switch.sip, "agent_busy.xml", &[], Duration::from_secs(30));

    let sink = RtpSink::listen(ports.rtp_sink());
    let caller = caller(&switch, Duration::from_secs(16), "busy");
    let call_id = caller.call_id(1);
    let caller_run = caller.spawn();
    let transfer = transfer_when_bridged(&switch, &mut keys, &call_id, "1002");
    await_event(
        &switch,
        &call_id,
        "transfer_failed",
        Duration::from_secs(15),
    );
    let caller_run = caller_run.join().expect("caller thread");
    let heard = sink.finish();
    phone.finish(Duration::from_secs(5));
    let _ = refusing.join();
    // The caller hung up by itself at the end: it was never dropped.
    assert_sipp_ok("the caller", &caller_run, &switch);

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let failed = event(&call, "transfer_failed");
    assert_eq!(failed["reason"], "busy", "{call:#} (transfer: {transfer})");
    assert_eq!(failed["status"], 486, "{call:#}");
    assert_back_with_the_first_agent(&switch, &heard, &call);
}

/// A caller on `MENU_NUMBER` talks to baresip 1001, whose transfer key sends them to
/// `target`, which is refused at once: returns the switch, the ended call (its
/// `transfer_failed` says "unavailable") and what the caller heard. baresip was told 480 in
/// the REFER's NOTIFY.
fn transfer_refused_as_unavailable(
    config: ConfigCopy,
    target: &str,
    tag: &str,
) -> (Switch, Value, RtpHeard) {
    let ports = PortBlock::reserve();
    let switch = Switch::start_with(ports, config);
    let run_for = Duration::from_secs(35);
    let (mut phone, mut keys) = baresip_phone(ports, &switch, "1001", FIRST_AGENT_HZ, run_for);
    let sink = RtpSink::listen(ports.rtp_sink());
    let caller = caller(&switch, Duration::from_secs(20), tag);
    let call_id = caller.call_id(1);
    let caller_run = caller.spawn();
    let transfer = transfer_when_bridged(&switch, &mut keys, &call_id, target);
    await_event(
        &switch,
        &call_id,
        "transfer_failed",
        Duration::from_secs(15),
    );
    let caller_run = caller_run.join().expect("caller thread");
    let heard = sink.finish();
    phone.finish(Duration::from_secs(5));
    let console = phone.console();
    assert_sipp_ok("the caller", &caller_run, &switch);

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let failed = event(&call, "transfer_failed");
    assert_eq!(
        failed["reason"], "unavailable",
        "{call:#} (transfer: {transfer})"
    );
    // What the phone was told, in the REFER's NOTIFY.
    assert!(
        console.contains("480 Temporarily Unavailable"),
        "baresip saw no 480: {console}"
    );
    (switch, call, heard)
}

/// A transfer to a phone that is not registered fails at once with 480 (not "busy"); baresip
/// hangs up on that final NOTIFY, and the switch rings it again at once — the caller does
/// not wait out the agent's 15 s wrap-up in the queue.
#[test]
fn a_blind_transfer_to_a_phone_that_is_not_registered_is_unavailable_and_the_agent_is_rung_again_at_once(
) {
    let (switch, call, heard) =
        transfer_refused_as_unavailable(agents_config(), "1002", "unregistered");
    let failed = event(&call, "transfer_failed");
    let back = events(&call)
        .into_iter()
        .rfind(|e| e["event"] == "bridged")
        .expect("bridged again");
    assert_eq!(back["agent"], "a1001", "{call:#}");
    let waited_ms = offset_ms(&back) - offset_ms(&failed);
    assert!(
        waited_ms < 8_000,
        "back with the agent {waited_ms} ms after the failure, not after a wrap-up: {call:#}"
    );
    assert_back_with_the_first_agent(&switch, &heard, &call);
}

/// A transfer to a queue that only the transferring agent takes calls for (1001 does sales
/// and support; 1002, the other support agent, has no phone registered here) fails at once with
/// 480: baresip is told so in the REFER's NOTIFY and the caller comes back to 1001 — not
/// parked in a line that only 1001 could answer, after 1001's wrap-up.
#[test]
fn a_blind_transfer_to_a_queue_only_the_transferring_agent_serves_is_unavailable() {
    let config = agents_config_for(&[
        ("1001", &["sales", "support"]),
        ("1002", &["support", "accounts", "operator"]),
    ]);
    // 8002 is the support queue's transfer number in the shipped dialplan.
    let (switch, call, heard) = transfer_refused_as_unavailable(config, "8002", "only-self");
    assert_eq!(
        event(&call, "transfer_failed")["target"],
        "queue:support",
        "{call:#}"
    );
    assert!(
        events(&call)
            .iter()
            .all(|e| e["event"] != "queue_entered" || e["queue"] != "support"),
        "the caller was put in the support line: {call:#}"
    );
    assert_back_with_the_first_agent(&switch, &heard, &call);
}

#[test]
fn an_agent_chooses_the_hold_reason_with_star_four_and_the_caller_never_hears_the_keys() {
    let ports = PortBlock::reserve();
    let switch = Switch::start_with(ports, agents_config());
    let agent = DeskPhone::new(PhoneEntry::desk_phone("1001", "sample-1001"), ports, 0);
    let run = agent.register(switch.sip);
    assert_sipp_ok("REGISTER of 1001", &run, &switch);
    let phone = Sipp::towards("agent_keys_then_hold.xml", switch.sip, ports)
        .service("1001")
        .local_port(agent.sip_port)
        .media_port(agent.media_port)
        .key("rtp_sink", agent.rtp_sink)
        .call_id_tag("keys-1001")
        .file("agent_keys.pcap", keys_pcap("*42", 400))
        .set("hold_after_ms", 1500)
        .set("held_ms", 7000)
        .timeout(Duration::from_secs(60))
        .spawn();
    assert!(wait_for_udp_listener(
        agent.sip_port,
        Duration::from_secs(10)
    ));

    let sink = RtpSink::listen(ports.rtp_sink());
    let caller = caller(&switch, Duration::from_secs(18), "keys");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let heard = sink.finish();
    let phone = phone.join().expect("desk phone");
    assert_sipp_ok("the caller", &caller_run, &switch);
    assert_sipp_ok("the desk phone", &phone, &switch);
    let call = switch.ended_call(&call_id, Duration::from_secs(10));

    // Only audio reached the caller: the agent's *, 4 and 2 were not relayed as events.
    assert_eq!(
        heard.payload_types,
        vec![8],
        "payload types the caller received"
    );
    let labels = heard_in_order(&switch, &heard);
    assert!(
        in_order(
            &labels,
            &[
                "zh/hold_colleague",
                "zh/digit_3",
                "zh/minutes",
                "zh/thanks_patience",
                "zh/hold_return"
            ]
        ),
        "the caller heard {labels:?}; record: {:?}",
        events(&call)
    );

    let keys = event(&call, "in_call_keys");
    assert_eq!(keys["keys"], "*42", "{call:#}");
    assert_eq!(keys["agent"], "a1001", "{call:#}");
    let reason = event(&call, "hold_reason");
    assert_eq!(reason["reason"], "colleague", "{call:#}");
    assert_eq!(reason["expected_s"], 180, "{call:#}");
    assert_eq!(reason["by"], "keys", "{call:#}");
    // The caller's own digit (1, sales) is its only one: the agent's keys are not the caller's.
    let digits: Vec<Value> = events(&call)
        .into_iter()
        .filter(|e| e["event"] == "dtmf")
        .map(|e| e["digit"].clone())
        .collect();
    assert_eq!(digits, vec![Value::from("1")], "{call:#}");
}
