//! Queued calls reaching agents on real desk phones (issue 3), driven end to end: SIPp plays
//! the trunk caller who presses 1 for sales, and SIPp plays the agents' desk phones, which
//! REGISTER with their passwords and then take (or refuse, or ignore) the switch's offers.
//! Checked on the wire (what each phone received and when, the RTP each side heard) and in
//! `hotline calls show` (the queue story on the caller's record).
//!
//! Every test runs on the fast cadence "200ms on, 300ms off" unless it says otherwise: ring N
//! of an agent's phone starts at (N-1) x 500 ms and ring 3 ends at 1.2 s after the offer.
//! Port blocks 60-69 (unique across all test files).

mod common;

use std::thread::JoinHandle;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// The caller's number (From user part); not in any tier.
const CALLER: &str = "13900000001";
/// The tone the caller speaks.
const CALLER_HZ: f64 = 700.0;

fn assert_sipp_ok(what: &str, run: &SippRun, switch: &Switch) {
    assert!(
        run.success(),
        "{what} failed\n{}\n--- switch log ---\n{}",
        run.report(),
        switch.log_tail()
    );
}

fn register(phone: &DeskPhone, switch: &Switch) {
    let run = phone.register(switch.sip);
    assert_sipp_ok(
        &format!("REGISTER of desk phone {}", phone.entry.extension),
        &run,
        switch,
    );
}

/// A trunk caller who presses 1 (sales) in the main menu and speaks a tone; codec PCMA (8) or
/// PCMU (0). `hangs_up_after`: the caller sends BYE this long after pressing 1 (plus the one
/// second before it starts speaking); None: it waits for the switch's BYE.
fn queued_caller(
    switch: &Switch,
    payload_type: u8,
    hangs_up_after: Option<Duration>,
    tag: &str,
) -> Sipp {
    let codec = if payload_type == 0 { "PCMU" } else { "PCMA" };
    let ports = switch.ports;
    Sipp::new("queue_caller.xml", switch)
        .call_id_tag(tag)
        .key("caller", CALLER)
        .key("codec_pt", payload_type)
        .key("codec_name", codec)
        .key("rtp_sink", ports.rtp_sink())
        .file("caller_audio.pcap", tone_pcap(payload_type, CALLER_HZ, 90))
        .set("first_digit_ms", first_digit_ms(switch))
        .set(
            "who_hangs_up",
            if hangs_up_after.is_some() {
                "caller"
            } else {
                "switch"
            },
        )
        .hold(hangs_up_after.unwrap_or(Duration::from_secs(1)))
        .timeout(Duration::from_secs(90))
}

fn answering(phone: &DeskPhone, switch: &Switch, answer_after_ms: u64) -> JoinHandle<SippRun> {
    phone.take_call(
        switch.sip,
        "agent_answers.xml",
        &[
            ("answer_after_ms", answer_after_ms.to_string()),
            ("who_hangs_up", "caller".into()),
            ("talk_ms", "0".into()),
        ],
        Duration::from_secs(90),
    )
}

fn answering_then_hanging_up(
    phone: &DeskPhone,
    switch: &Switch,
    answer_after_ms: u64,
    talk: Duration,
) -> JoinHandle<SippRun> {
    phone.take_call(
        switch.sip,
        "agent_answers.xml",
        &[
            ("answer_after_ms", answer_after_ms.to_string()),
            ("who_hangs_up", "agent".into()),
            ("talk_ms", talk.as_millis().to_string()),
        ],
        Duration::from_secs(90),
    )
}

fn join(handle: JoinHandle<SippRun>) -> SippRun {
    handle.join().expect("sipp thread")
}

fn event_where(call: &Value, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
    find_event(call, name, pred)
        .unwrap_or_else(|| panic!("no matching {name} event in the record: {call:#}"))
}

fn assert_before(call: &Value, first: usize, second: usize, what: &str) {
    assert!(first < second, "{what} out of order: {call:#}");
}

/// Seconds between the first `from` and the first `to` the phone logged.
fn phone_interval(run: &SippRun, from: &str, to: &str) -> Duration {
    let a = run.logged_times(from);
    let b = run.logged_times(to);
    assert!(
        !a.is_empty() && !b.is_empty(),
        "the phone did not log {from} and {to}:\n{}",
        run.logs
    );
    Duration::from_secs_f64((b[0] - a[0]).max(0.0))
}

/// When the run first logged `word`, in seconds since the epoch.
fn first_time(run: &SippRun, word: &str) -> f64 {
    *run.logged_times(word)
        .first()
        .unwrap_or_else(|| panic!("the SIPp run did not log {word}:\n{}", run.logs))
}

/// How long the digit "1" lasts on the wire: SIPp's dtmf_2833_1.pcap sends RFC 4733 event
/// packets from 0 to 140 ms (the end packets). A switch may take the digit at its first
/// packet or at its end.
const DIGIT_LENGTH: Duration = Duration::from_millis(140);
/// Loopback hops and the SIPp processes' own scheduling on a loaded machine, between a time a
/// peer logged and the moment the switch saw the packet.
const PEER_CLOCK_SLACK: Duration = Duration::from_millis(60);

/// Asserts that a duration the switch recorded lies between what the peers measured at the
/// earliest and at the latest, give or take `PEER_CLOCK_SLACK`.
fn assert_measured_ms(recorded_ms: u64, shortest_s: f64, longest_s: f64, what: &str) {
    let slack = PEER_CLOCK_SLACK.as_secs_f64() * 1000.0;
    let (low, high) = (shortest_s * 1000.0 - slack, longest_s * 1000.0 + slack);
    assert!(
        (low..=high).contains(&(recorded_ms as f64)),
        "{what}: recorded {recorded_ms} ms, the peers measured {:.0}-{:.0} ms (± {slack:.0} ms)",
        shortest_s * 1000.0,
        longest_s * 1000.0
    );
}

#[test]
fn agent_answers_at_ring_two_and_audio_flows_both_ways() {
    let ports = PortBlock::for_test(60);
    let entry = PhoneEntry::desk_phone("1001", "secret-1001");
    let switch = Switch::start_with(ports, ConfigCopy::for_agents(std::slice::from_ref(&entry)));
    let phone = DeskPhone::new(entry, ports, 0);
    // Ring 2 runs from 500 to 700 ms.
    let phone_run = answering(&phone, &switch, 600);
    register(&phone, &switch);

    let caller_sink = RtpSink::listen(ports.rtp_sink());
    let phone_sink = RtpSink::listen(phone.rtp_sink);
    let caller = queued_caller(&switch, 8, Some(Duration::from_secs(14)), "ring-two");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let phone_run = join(phone_run);
    let caller_heard = caller_sink.finish();
    let phone_heard = phone_sink.finish();
    assert_sipp_ok("the caller", &caller_run, &switch);
    assert_sipp_ok("the desk phone", &phone_run, &switch);

    // The offer named the caller.
    let invite = phone_run.log_lines("invite");
    assert!(
        invite.iter().any(|l| l.contains(&format!("sip:{CALLER}@"))),
        "the INVITE to the agent's phone should come From the caller's number: {invite:?}"
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let entered = event(&call, "queue_entered");
    assert_eq!(entered["queue"], "sales", "{call:#}");
    assert_eq!(entered["position"], 1, "{call:#}");
    let offered = position(&call, "offered", |e| {
        e["agent"] == "a1001" && e["extension"] == "1001"
    })
    .unwrap_or_else(|| panic!("phone 1001 was never offered the call: {call:#}"));
    let answered = event_where(&call, "agent_answered", |e| e["agent"] == "a1001");
    assert_eq!(
        answered["rings"], 2,
        "answered at 600 ms is ring 2: {call:#}"
    );
    let bridged = event_where(&call, "bridged", |e| e["agent"] == "a1001");
    assert_eq!(
        bridged["transcoding"], false,
        "both legs are PCMA: {call:#}"
    );
    let entered_at = position(&call, "queue_entered", |_| true).unwrap_or(usize::MAX);
    let bridged_at = position(&call, "bridged", |_| true).unwrap_or(0);
    assert_before(&call, entered_at, offered, "queue_entered → offered");
    assert_before(&call, offered, bridged_at, "offered → bridged");
    assert_eq!(event(&call, "hangup")["by"], "caller", "{call:#}");
    assert_eq!(call["outcome"], "completed", "{call:#}");
    assert_eq!(call["queue"], "sales", "summary: {call:#}");
    assert_eq!(call["agent"], "a1001", "summary: {call:#}");
    // The recorded wait runs from the digit that put the caller in line to the phone's 200
    // OK; the talk time from the bridge (after the agent's whisper) to the caller's BYE.
    // Both are checked against the peers' own clocks: the caller logged when it began sending
    // the digit and its BYE, the phone when its 200 OK left and when the ACK came.
    let digit_at = first_time(&caller_run, "digit");
    let answered_at = first_time(&phone_run, "answered");
    let recorded_wait = call["wait_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("no wait_ms in the summary: {call:#}"));
    assert_eq!(
        event(&call, "agent_answered")["wait_ms"],
        recorded_wait,
        "the summary's wait is the answer's: {call:#}"
    );
    assert_measured_ms(
        recorded_wait,
        answered_at - digit_at - DIGIT_LENGTH.as_secs_f64(),
        answered_at - digit_at,
        "the caller's recorded wait (digit 1 → the phone's 200 OK)",
    );
    let whisper = prompt_duration(&switch.config_dir, "zh", "whisper_sales")
        .expect("the shipped whisper_sales prompt is a WAV");
    let talk =
        first_time(&caller_run, "bye_sent") - first_time(&phone_run, "ack") - whisper.as_secs_f64();
    let recorded_talk = call["talk_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("no talk_ms in the summary: {call:#}"));
    assert_measured_ms(
        recorded_talk,
        talk,
        talk,
        "the recorded talk time (end of the whisper → the caller's BYE)",
    );

    // RTP both ways through the switch: each side heard the other's tone.
    assert!(
        caller_heard.tone_frames(phone.tone_hz) >= 50,
        "the caller heard only {} frames of the agent's {} Hz tone ({} packets)",
        caller_heard.tone_frames(phone.tone_hz),
        phone.tone_hz,
        caller_heard.packets
    );
    assert!(
        phone_heard.tone_frames(CALLER_HZ) >= 50,
        "the agent heard only {} frames of the caller's {CALLER_HZ} Hz tone ({} packets)",
        phone_heard.tone_frames(CALLER_HZ),
        phone_heard.packets
    );
    assert_eq!(
        phone_heard.payload_types,
        vec![8],
        "the phone answered PCMA"
    );
}

#[test]
fn unanswered_phone_is_cancelled_as_ring_three_ends_and_the_next_agent_answers() {
    let ports = PortBlock::for_test(61);
    let silent = PhoneEntry::desk_phone("1001", "secret-1001");
    let answers = PhoneEntry::desk_phone("1002", "secret-1002");
    let switch = Switch::start_with(
        ports,
        ConfigCopy::for_agents(&[silent.clone(), answers.clone()]),
    );
    let silent = DeskPhone::new(silent, ports, 0);
    let answers = DeskPhone::new(answers, ports, 1);
    let silent_run = silent.take_call(
        switch.sip,
        "agent_never_answers.xml",
        &[],
        Duration::from_secs(60),
    );
    let answers_run = answering(&answers, &switch, 100);
    // Registered first, so idle longest: the longest-idle strategy offers it first.
    register(&silent, &switch);
    std::thread::sleep(Duration::from_millis(300));
    register(&answers, &switch);

    let caller = queued_caller(&switch, 8, Some(Duration::from_secs(14)), "no-answer");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let silent_run = join(silent_run);
    let answers_run = join(answers_run);
    assert_sipp_ok("the caller", &caller_run, &switch);
    assert_sipp_ok("the unanswered phone", &silent_run, &switch);
    assert_sipp_ok("the answering phone", &answers_run, &switch);

    // The phone rings three times and no more: ring 3 ends 1.2 s after the offer, and the
    // CANCEL comes then (measured between the INVITE and the CANCEL the phone got). The
    // window is 1.1-1.4 s: a switch cancelling as ring 3 starts (1.0 s) or as ring 2 ends
    // (0.7 s) is early, one cancelling in ring 4 (1.5 s on) is late.
    let rang = phone_interval(&silent_run, "invite", "cancel");
    assert!(
        rang >= Duration::from_millis(1100) && rang <= Duration::from_millis(1400),
        "the unanswered phone was cancelled {rang:?} after its INVITE, not as ring 3 ends (1.2 s)"
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let first = position(&call, "offered", |e| e["agent"] == "a1001")
        .unwrap_or_else(|| panic!("the longest-idle agent a1001 was not offered: {call:#}"));
    let ended = event_where(&call, "offer_ended", |e| e["agent"] == "a1001");
    assert_eq!(ended["outcome"], "no_answer", "{call:#}");
    assert_eq!(ended["rings"], 3, "{call:#}");
    let ended_at = position(&call, "offer_ended", |e| e["agent"] == "a1001").unwrap_or(0);
    let second = position(&call, "offered", |e| e["agent"] == "a1002")
        .unwrap_or_else(|| panic!("the next agent a1002 was not offered: {call:#}"));
    let answered = position(&call, "agent_answered", |e| e["agent"] == "a1002")
        .unwrap_or_else(|| panic!("a1002 did not answer: {call:#}"));
    assert_before(&call, first, ended_at, "offered a1001 → offer_ended a1001");
    assert_before(&call, ended_at, second, "offer_ended a1001 → offered a1002");
    assert_before(
        &call,
        second,
        answered,
        "offered a1002 → agent_answered a1002",
    );
    assert!(
        find_event(&call, "agent_answered", |e| e["agent"] == "a1001").is_none(),
        "{call:#}"
    );
    assert_eq!(event(&call, "agent_answered")["rings"], 1, "{call:#}");
    event_where(&call, "bridged", |e| e["agent"] == "a1002");
    assert_eq!(call["agent"], "a1002", "summary: {call:#}");
}

#[test]
fn busy_phone_passes_the_call_to_the_next_agent_at_once() {
    let ports = PortBlock::for_test(62);
    let busy = PhoneEntry::desk_phone("1001", "secret-1001");
    let answers = PhoneEntry::desk_phone("1002", "secret-1002");
    let switch = Switch::start_with(
        ports,
        ConfigCopy::for_agents(&[busy.clone(), answers.clone()]),
    );
    let busy = DeskPhone::new(busy, ports, 0);
    let answers = DeskPhone::new(answers, ports, 1);
    let busy_run = busy.take_call(switch.sip, "agent_busy.xml", &[], Duration::from_secs(60));
    // The agent ends this call.
    let answers_run = answering_then_hanging_up(&answers, &switch, 100, Duration::from_secs(3));
    register(&busy, &switch);
    std::thread::sleep(Duration::from_millis(300));
    register(&answers, &switch);

    let caller = queued_caller(&switch, 8, None, "busy");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let busy_run = join(busy_run);
    let answers_run = join(answers_run);
    assert_sipp_ok("the caller", &caller_run, &switch);
    assert_sipp_ok("the busy phone", &busy_run, &switch);
    assert_sipp_ok("the answering phone", &answers_run, &switch);

    let busy_at = busy_run.logged_times("invite");
    let next_at = answers_run.logged_times("invite");
    assert!(
        !busy_at.is_empty() && !next_at.is_empty(),
        "both phones should log their INVITE:\n{}\n{}",
        busy_run.logs,
        answers_run.logs
    );
    // "At once": the 486 comes straight back, and the next phone's INVITE follows within
    // 200 ms of the busy phone's (less than one ring's "on" time, well before the 1.2 s ring
    // budget a switch waiting out the busy phone would take).
    let gap = next_at[0] - busy_at[0];
    assert!(
        (0.0..0.2).contains(&gap),
        "the next agent's phone rang {gap:.3} s after the busy one, not at once"
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let ended = event_where(&call, "offer_ended", |e| e["agent"] == "a1001");
    assert_eq!(ended["outcome"], "busy", "{call:#}");
    event_where(&call, "agent_answered", |e| e["agent"] == "a1002");
    event_where(&call, "bridged", |e| e["agent"] == "a1002");
    assert_eq!(
        event(&call, "hangup")["by"],
        "agent",
        "the agent's BYE ended the call: {call:#}"
    );
    let wrap_up = event_where(&call, "wrap_up", |e| e["agent"] == "a1002");
    assert_eq!(wrap_up["seconds"], 1, "the queue's wrap_up is 1s: {call:#}");
}

#[test]
fn caller_hanging_up_while_the_phone_rings_cancels_it_and_is_abandoned() {
    // The shipped cadence (ring 3 ends 11 s after the offer) so the caller's BYE, 7 s after
    // pressing 1, always lands while the phone rings.
    let ports = PortBlock::for_test(63);
    let entry = PhoneEntry::desk_phone("1001", "secret-1001");
    let config = ConfigCopy::for_agents(std::slice::from_ref(&entry));
    config.set_standards(&[
        ("ring_cadence", "\"1s on, 4s off\""),
        ("answer_after_rings", "1"),
    ]);
    let switch = Switch::start_with(ports, config);
    let phone = DeskPhone::new(entry, ports, 0);
    let phone_run = phone.take_call(
        switch.sip,
        "agent_never_answers.xml",
        &[],
        Duration::from_secs(60),
    );
    register(&phone, &switch);

    let caller = queued_caller(&switch, 8, Some(Duration::from_secs(6)), "abandon");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let phone_run = join(phone_run);
    assert_sipp_ok("the caller", &caller_run, &switch);
    assert_sipp_ok("the ringing phone (expects CANCEL)", &phone_run, &switch);
    // The caller's BYE cancels the ringing phone at once: the CANCEL reaches the phone within
    // 200 ms of the caller sending BYE (not at the end of the ring budget, 11 s after the
    // offer), on the two peers' clocks.
    let cancelled_after_bye =
        first_time(&phone_run, "cancel") - first_time(&caller_run, "bye_sent");
    assert!(
        (0.0..0.2).contains(&cancelled_after_bye),
        "the phone got CANCEL {cancelled_after_bye:.3} s after the caller's BYE, not at once"
    );
    let rang = phone_interval(&phone_run, "invite", "cancel");
    assert!(
        rang < Duration::from_secs(11),
        "the phone rang {rang:?}: the caller's hang-up should cancel it before the ring budget"
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert_eq!(call["outcome"], "abandoned", "{call:#}");
    event_where(&call, "offered", |e| e["agent"] == "a1001");
    let ended = event_where(&call, "offer_ended", |e| e["agent"] == "a1001");
    assert_eq!(ended["outcome"], "caller_left", "{call:#}");
    assert!(
        find_event(&call, "agent_answered", |_| true).is_none(),
        "{call:#}"
    );
    assert_eq!(event(&call, "hangup")["by"], "caller", "{call:#}");
}

#[test]
fn pcmu_caller_talks_to_a_pcma_phone_through_transcoding() {
    let ports = PortBlock::for_test(64);
    let entry = PhoneEntry::desk_phone("1001", "secret-1001");
    let switch = Switch::start_with(ports, ConfigCopy::for_agents(std::slice::from_ref(&entry)));
    let phone = DeskPhone::new(entry, ports, 0);
    let phone_run = answering(&phone, &switch, 100);
    register(&phone, &switch);

    let caller_sink = RtpSink::listen(ports.rtp_sink());
    let phone_sink = RtpSink::listen(phone.rtp_sink);
    let caller = queued_caller(&switch, 0, Some(Duration::from_secs(14)), "transcode");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let phone_run = join(phone_run);
    let caller_heard = caller_sink.finish();
    let phone_heard = phone_sink.finish();
    assert_sipp_ok("the PCMU caller", &caller_run, &switch);
    assert_sipp_ok("the PCMA phone", &phone_run, &switch);

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let bridged = event_where(&call, "bridged", |e| e["agent"] == "a1001");
    assert_eq!(bridged["transcoding"], true, "{call:#}");

    // Each side gets its own codec, and the tone survives the change of law (a relay that
    // forgot to transcode would deliver noise under the other law's table).
    assert_eq!(
        caller_heard.payload_types,
        vec![0],
        "the caller offered PCMU only"
    );
    assert_eq!(
        phone_heard.payload_types,
        vec![8],
        "the phone answered PCMA only"
    );
    assert!(
        caller_heard.tone_frames(phone.tone_hz) >= 50,
        "the PCMU caller heard {} frames of the PCMA agent's tone",
        caller_heard.tone_frames(phone.tone_hz)
    );
    assert!(
        phone_heard.tone_frames(CALLER_HZ) >= 50,
        "the PCMA agent heard {} frames of the PCMU caller's tone",
        phone_heard.tone_frames(CALLER_HZ)
    );
}

/// Each registration attempt's outcome, as `phone_register_attempts.xml` logged it.
fn attempt_outcomes(run: &SippRun) -> Vec<String> {
    run.log_lines("attempt")
        .iter()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect()
}

#[test]
fn the_fifth_wrong_password_in_a_minute_gets_403_and_the_source_stays_forbidden() {
    let ports = PortBlock::for_test(65);
    let entry = PhoneEntry::desk_phone("1001", "right-secret");
    let switch = Switch::start_with(ports, ConfigCopy::for_agents(std::slice::from_ref(&entry)));
    let phone = DeskPhone::new(entry, ports, 0);
    let attempts = |password: &str, calls: u32| {
        Sipp::new("phone_register_attempts.xml", &switch)
            .call_id_tag(password)
            .service("1001")
            .media_port(ports.base + 76)
            .key("user", "1001")
            .key("contact_port", phone.sip_port)
            .credentials("1001", password)
            .calls(calls)
            .limit(1)
            .timeout(Duration::from_secs(30))
            .run()
    };
    // Seven attempts one after the other from one address, well within a minute.
    let wrong = attempts("wrong-secret", 7);
    assert_sipp_ok("the REGISTERs with a wrong password", &wrong, &switch);
    // Failures 1-4 are challenged again (401 with a fresh Digest challenge); the fifth
    // failure is answered 403 and blocks the address, so attempts 6 and 7 get 403 to their
    // first REGISTER, before any credentials.
    assert_eq!(
        attempt_outcomes(&wrong),
        [
            "challenged_again",
            "challenged_again",
            "challenged_again",
            "challenged_again",
            "forbidden_after_credentials",
            "forbidden_at_once",
            "forbidden_at_once",
        ],
        "five failures in 60 s from one address → 403 from the fifth on:\n{}",
        wrong.logs
    );

    // The blocked address gets 403 even with the right password.
    let right = attempts("right-secret", 1);
    assert_sipp_ok("the REGISTER with the right password", &right, &switch);
    assert_eq!(
        attempt_outcomes(&right),
        ["forbidden_at_once"],
        "an address under a 403 block still got a challenge or a registration:\n{}",
        right.report()
    );
}

#[test]
fn feature_code_logs_the_agent_in_and_then_a_call_reaches_the_phone() {
    let ports = PortBlock::for_test(66);
    let entry = PhoneEntry::desk_phone("1001", "secret-1001").login_on_register(false);
    let switch = Switch::start_with(ports, ConfigCopy::for_agents(std::slice::from_ref(&entry)));
    let phone = DeskPhone::new(entry, ports, 0);
    let phone_run = answering(&phone, &switch, 100);
    register(&phone, &switch);

    // Logged out until *21: the phone dials it (challenged with 407, then authenticated).
    let login = Sipp::new("phone_dials_feature_code.xml", &switch)
        .service("*21")
        .call_id_tag("login")
        .media_port(ports.base + 76)
        .key("user", "1001")
        .key("rtp_sink", ports.base + 79)
        .credentials("1001", "secret-1001")
        .timeout(Duration::from_secs(20));
    let login_call_id = login.call_id(1);
    let login_run = login.run();
    assert_sipp_ok("*21 from desk phone 1001", &login_run, &switch);

    let caller = queued_caller(&switch, 8, Some(Duration::from_secs(10)), "after-login");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let phone_run = join(phone_run);
    assert_sipp_ok("the caller", &caller_run, &switch);
    assert_sipp_ok("the logged-in phone", &phone_run, &switch);

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    event_where(&call, "agent_answered", |e| e["agent"] == "a1001");
    event_where(&call, "bridged", |e| e["agent"] == "a1001");

    // The feature code is on a record of its own.
    let code = switch
        .call(&login_call_id)
        .and_then(|c| find_event(&c, "feature_code", |e| e["code"] == "*21"))
        .or_else(|| {
            switch.calls().iter().find_map(|c| {
                let full = switch.call(c["id"].as_str().unwrap_or(""))?;
                find_event(&full, "feature_code", |e| e["code"] == "*21")
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "no feature_code *21 event in any record: {}",
                Value::Array(switch.calls())
            )
        });
    assert_eq!(code["agent"], "a1001", "{code}");
}

#[test]
fn baresip_desk_phone_registers_with_its_password_and_answers_a_queued_call() {
    let ports = PortBlock::for_test(67);
    let entry = PhoneEntry::desk_phone("1001", "sample-1001");
    let switch = Switch::start_with(ports, ConfigCopy::for_agents(&[entry]));
    let greeting = Duration::from_millis(first_digit_ms(&switch) as u64);
    let run_for = greeting + Duration::from_secs(25);
    let mut phone = Baresip::start(
        ports,
        &baresip_agent_account("1001", "sample-1001", switch.sip.port()),
        600.0,
        run_for,
    );
    assert!(
        phone.wait_for("200 OK", Duration::from_secs(10)),
        "baresip did not register with the switch:\n{}\n--- switch log ---\n{}",
        phone.console(),
        switch.log_tail()
    );

    let caller_sink = RtpSink::listen(ports.rtp_sink());
    let caller = queued_caller(&switch, 8, Some(Duration::from_secs(14)), "baresip-agent");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let caller_heard = caller_sink.finish();
    phone.finish(run_for + Duration::from_secs(10));
    assert_sipp_ok("the caller", &caller_run, &switch);
    let console = phone.console();
    assert!(
        console.contains("Call established"),
        "baresip did not take the call:\n{console}"
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    event_where(&call, "offered", |e| e["extension"] == "1001");
    event_where(&call, "agent_answered", |e| e["agent"] == "a1001");
    event_where(&call, "bridged", |e| e["agent"] == "a1001");
    assert_eq!(call["agent"], "a1001", "summary: {call:#}");

    // baresip heard the caller; the caller heard baresip's microphone.
    let heard = decoded_recordings(&phone.recordings);
    assert_eq!(
        heard.len(),
        1,
        "one decoded stream from baresip:\n{console}"
    );
    let (rms, length) = loudness(&heard[0]);
    assert!(
        length >= Duration::from_secs(3) && rms > 100.0,
        "baresip heard {length:?} at rms {rms:.1}"
    );
    assert!(
        caller_heard.tone_frames(600.0) >= 50,
        "the caller heard {} frames of baresip's 600 Hz microphone",
        caller_heard.tone_frames(600.0)
    );
}

#[test]
fn registration_survives_a_restart_and_the_next_queued_call_reaches_the_phone() {
    let ports = PortBlock::for_test(68);
    let entry = PhoneEntry::desk_phone("1001", "secret-1001");
    let mut switch =
        Switch::start_with(ports, ConfigCopy::for_agents(std::slice::from_ref(&entry)));
    let phone = DeskPhone::new(entry, ports, 0);
    // The one REGISTER of this test, for an hour, before the restart.
    register(&phone, &switch);

    let before = switch.sip;
    let stopped = switch.restart(Duration::from_secs(10));
    assert!(
        stopped.is_some_and(|s| s.success()),
        "SIGTERM should stop the switch cleanly (exit 0), got {stopped:?}\n{}",
        switch.log_tail()
    );
    assert_eq!(
        switch.sip, before,
        "the restarted switch listens where the phone registered"
    );

    // The phone's SIPp only takes calls: it never registers again.
    let phone_run = answering(&phone, &switch, 100);
    let caller = queued_caller(&switch, 8, Some(Duration::from_secs(8)), "after-restart");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let phone_run = join(phone_run);
    assert_sipp_ok("the caller after the restart", &caller_run, &switch);
    assert_sipp_ok(
        "the desk phone registered before the restart",
        &phone_run,
        &switch,
    );
    assert!(
        phone_run
            .log_lines("invite")
            .iter()
            .any(|l| l.contains(&format!("sip:{CALLER}@"))),
        "the phone's INVITE should come From the caller: {}",
        phone_run.logs
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    event_where(&call, "offered", |e| {
        e["agent"] == "a1001" && e["extension"] == "1001"
    });
    event_where(&call, "agent_answered", |e| e["agent"] == "a1001");
    event_where(&call, "bridged", |e| e["agent"] == "a1001");
    assert_eq!(call["agent"], "a1001", "summary: {call:#}");
    assert_eq!(call["outcome"], "completed", "{call:#}");
}

#[test]
fn with_no_agent_before_the_maximum_wait_the_caller_leaves_a_voicemail_that_is_kept() {
    // Nobody registered; sales exits to voicemail one second after the caller joins it.
    let ports = PortBlock::for_test(69);
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
    // The caller speaks its tone from a second after pressing 1 and hangs up 14 s later:
    // long enough for the voicemail offer, the beep and several seconds of message.
    let caller = queued_caller(&switch, 8, Some(Duration::from_secs(14)), "voicemail");
    let call_id = caller.call_id(1);
    let run = caller.run();
    assert_sipp_ok("the caller", &run, &switch);

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let exit = event_where(&call, "queue_exit", |e| e["queue"] == "sales");
    assert_eq!(exit["reason"], "voicemail", "{call:#}");
    event_where(&call, "prompt_started", |e| e["name"] == "voicemail_offer");
    event_where(&call, "prompt_started", |e| e["name"] == "beep");
    let voicemail = event_where(&call, "voicemail", |_| true);
    let kept = voicemail["duration_ms"].as_u64().unwrap_or(0);
    assert!(kept >= 4_000, "the message lasted {kept} ms: {call:#}");
    assert_eq!(event(&call, "hangup")["by"], "caller", "{call:#}");

    let file = std::path::PathBuf::from(voicemail["file"].as_str().expect("file"));
    assert!(
        file.starts_with(switch.data.path()),
        "kept in the data folder: {}",
        file.display()
    );
    let (rms, length) = loudness(&file);
    assert!(
        length >= Duration::from_secs(3),
        "the voicemail WAV holds {length:?}"
    );
    assert!(rms > 100.0, "the voicemail is silent (RMS {rms:.0})");
}
