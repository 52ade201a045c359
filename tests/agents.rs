//! Queued calls reaching agents on real desk phones (issue 3), driven end to end: SIPp plays
//! the trunk caller who presses 1 for sales, and SIPp plays the agents' desk phones, which
//! REGISTER with their passwords and then take (or refuse, or ignore) the switch's offers.
//! Checked on the wire (what each phone received and when, the RTP each side heard) and in
//! `hotline calls show` (the queue story on the caller's record).
//!
//! Every test runs on the fast cadence "200ms on, 300ms off" unless it says otherwise: ring N
//! of an agent's phone starts at (N-1) x 500 ms and ring 3 ends at 1.2 s after the offer.
//! Each test reserves its own port block (`PortBlock::reserve`).

mod common;

use std::thread::JoinHandle;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// The caller's number (From user part); not in any tier.
const CALLER: &str = "13900000001";
/// The tone the caller speaks.
const CALLER_HZ: f64 = 700.0;

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
    queued_caller_dialling(
        switch,
        "4008",
        first_digit_ms(switch),
        payload_type,
        hangs_up_after,
        tag,
    )
    .timeout(Duration::from_secs(90))
}

/// The number that skips the greeting (see `straight_to_the_menu`).
const MENU_NUMBER: &str = "4018";

/// A PCMA caller on `MENU_NUMBER`: it presses 1 half a second into the main menu prompt (a
/// digit barges in), so it joins sales about 0.7 s after dialling instead of after the 7.6 s
/// greeting. Bounded to 30 s: the tests that use it expect their callers served or gone
/// within seconds.
fn quick_queued_caller(switch: &Switch, hangs_up_after: Option<Duration>, tag: &str) -> Sipp {
    queued_caller_dialling(switch, MENU_NUMBER, 500, 8, hangs_up_after, tag)
        .timeout(Duration::from_secs(30))
}

fn queued_caller_dialling(
    switch: &Switch,
    number: &str,
    first_digit_ms: u128,
    payload_type: u8,
    hangs_up_after: Option<Duration>,
    tag: &str,
) -> Sipp {
    let codec = if payload_type == 0 { "PCMU" } else { "PCMA" };
    let ports = switch.ports;
    Sipp::new("queue_caller.xml", switch)
        .service(number)
        .call_id_tag(tag)
        .key("caller", CALLER)
        .key("codec_pt", payload_type)
        .key("codec_name", codec)
        .key("rtp_sink", ports.rtp_sink())
        .file("caller_audio.pcap", tone_pcap(payload_type, CALLER_HZ, 90))
        .set("first_digit_ms", first_digit_ms)
        .set(
            "who_hangs_up",
            if hangs_up_after.is_some() {
                "caller"
            } else {
                "switch"
            },
        )
        .hold(hangs_up_after.unwrap_or(Duration::from_secs(1)))
}

/// Adds hotline `MENU_NUMBER`, which starts in the main menu: the tests of what happens in
/// the queue need not wait out the greeting for every caller.
fn straight_to_the_menu(config: &ConfigCopy) {
    config.set_table(
        "hotline.menu_first",
        &[
            ("numbers", &format!("[\"{MENU_NUMBER}\"]")),
            ("language", "\"zh\""),
            ("flow", "\"main_menu\""),
        ],
    );
}

/// Seconds since the epoch on the test's clock (the same clock SIPp's `gettimeofday` reads).
fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// The desk phone dials a feature code (challenged with 407, then authenticated) and hears
/// the confirmation until the switch hangs up. Returns when it began dialling.
fn dial_feature_code(phone: &DeskPhone, switch: &Switch, code: &str) -> f64 {
    let ports = switch.ports;
    let dialled_at = epoch_now();
    let run = Sipp::new("phone_dials_feature_code.xml", switch)
        .service(code)
        .call_id_tag(&format!("code-{}", code.trim_start_matches('*')))
        .media_port(ports.base + 76)
        .key("user", &phone.entry.extension)
        .key("rtp_sink", ports.base + 79)
        .credentials(&phone.entry.extension, &phone.entry.password)
        .timeout(Duration::from_secs(20))
        .run();
    assert_sipp_ok(
        &format!("{code} from desk phone {}", phone.entry.extension),
        &run,
        switch,
    );
    dialled_at
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

/// Asserts that one side heard the other's tone through the whole talk the switch recorded
/// (bridge → hang-up) and not before it: one 20 ms frame per 20 ms of talk, give or take 5
/// frames (100 ms) for the packets in flight at the bridge and at the BYE.
fn assert_heard_through_the_talk(frames: usize, talk_ms: u64, what: &str) {
    assert_heard_through_the_talk_less(frames, talk_ms, 0, what);
}

/// The same for a receiver that may still hold `held_back` frames in its jitter buffer when
/// the call ends (never written out).
fn assert_heard_through_the_talk_less(frames: usize, talk_ms: u64, held_back: usize, what: &str) {
    let expected = talk_ms as f64 / 20.0;
    let (low, high) = (expected - 5.0 - held_back as f64, expected + 5.0);
    assert!(
        (low..=high).contains(&(frames as f64)),
        "{what}: {frames} frames of the tone, but the talk lasted {talk_ms} ms \
         ({low:.0}-{high:.0} frames expected)"
    );
}

#[test]
fn agent_answers_at_ring_two_and_audio_flows_both_ways() {
    let ports = PortBlock::reserve();
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

    // RTP both ways through the switch: each side heard the other's tone, all through the
    // talk.
    assert_heard_through_the_talk(
        caller_heard.tone_frames(phone.tone_hz),
        recorded_talk,
        "the caller heard the agent",
    );
    assert_heard_through_the_talk(
        phone_heard.tone_frames(CALLER_HZ),
        recorded_talk,
        "the agent heard the caller",
    );
    assert_eq!(
        phone_heard.payload_types,
        vec![8],
        "the phone answered PCMA"
    );
}

#[test]
fn unanswered_phone_is_cancelled_as_ring_three_ends_and_the_next_agent_answers() {
    let ports = PortBlock::reserve();
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
    let ports = PortBlock::reserve();
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
    let ports = PortBlock::reserve();
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
    let ports = PortBlock::reserve();
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
    let talk_ms = call["talk_ms"].as_u64().unwrap_or(0);
    assert_heard_through_the_talk(
        caller_heard.tone_frames(phone.tone_hz),
        talk_ms,
        "the PCMU caller heard the PCMA agent",
    );
    assert_heard_through_the_talk(
        phone_heard.tone_frames(CALLER_HZ),
        talk_ms,
        "the PCMA agent heard the PCMU caller",
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
fn the_fifth_wrong_password_in_a_minute_gets_403_and_blocks_that_user_from_that_address() {
    let ports = PortBlock::reserve();
    let entry = PhoneEntry::desk_phone("1001", "right-secret");
    let config = ConfigCopy::for_agents(std::slice::from_ref(&entry));
    // The phone's address outside the trunk network: trunk addresses are never blocked.
    config.trust_only("127.0.0.2");
    let switch = Switch::start_with(ports, config);
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
    // failure is answered 403 and blocks 1001 from this address for a minute, so attempts 6
    // and 7 get 403 to their first REGISTER, before any credentials.
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

    // 1001 from the blocked address gets 403 even with the right password.
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
    let ports = PortBlock::reserve();
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

    // The feature code is on a record of its own, under the phone's Call-ID.
    let login_call = switch.ended_call(&login_call_id, Duration::from_secs(10));
    let code = event_where(&login_call, "feature_code", |e| e["code"] == "*21");
    assert_eq!(code["agent"], "a1001", "{code}");
    assert_eq!(code["state"], "ready", "{code}");
}

#[test]
fn baresip_desk_phone_registers_with_its_password_and_answers_a_queued_call() {
    let ports = PortBlock::reserve();
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
    // Its jitter buffer ("jitter_buffer_delay 5-10" in tests/baresip/config.template) may
    // hold up to 10 frames at the BYE.
    assert_heard_through_the_talk_less(
        wav_tone_frames(&heard[0], CALLER_HZ).len(),
        call["talk_ms"].as_u64().unwrap_or(0),
        10,
        "baresip heard the caller",
    );
    assert_heard_through_the_talk(
        caller_heard.tone_frames(600.0),
        call["talk_ms"].as_u64().unwrap_or(0),
        "the caller heard baresip's 600 Hz microphone",
    );
}

#[test]
fn registration_survives_a_restart_and_the_next_queued_call_reaches_the_phone() {
    let ports = PortBlock::reserve();
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
    // The caller speaks its tone from a second after pressing 1 and hangs up 14 s later:
    // long enough for the voicemail offer, the beep and several seconds of message.
    let caller_sink = RtpSink::listen(ports.rtp_sink());
    // The sink times packets on the test's monotonic clock; this pairs it with the epoch
    // seconds SIPp logs.
    let (epoch_mark, instant_mark) = (epoch_now(), std::time::Instant::now());
    let caller = queued_caller(&switch, 8, Some(Duration::from_secs(14)), "voicemail");
    let call_id = caller.call_id(1);
    let run = caller.run();
    let heard = caller_sink.finish();
    assert_sipp_ok("the caller", &run, &switch);

    // At the caller: the beep (0.4 s of 1 kHz, 20 frames) arrives, and the message runs from
    // its end to the caller's BYE. The switch sends a steady 20 ms stream until the BYE, so
    // frame i of what the caller heard arrived i x 20 ms after the first packet.
    let beep_frames: Vec<usize> = heard
        .audio
        .chunks_exact(160)
        .enumerate()
        .filter(|(_, frame)| tone_share(frame, BEEP_HZ) > 0.6)
        .map(|(i, _)| i)
        .collect();
    // Its 10 ms fades and frames that straddle its edges may fall below the tone test.
    assert!(
        (18..=21).contains(&beep_frames.len()),
        "the caller heard {} frames of the 1 kHz beep, not the 0.4 s (20 frames) it lasts",
        beep_frames.len()
    );
    let first_packet = heard.first_at.expect("the caller heard the switch");
    let beep_end = epoch_mark
        + (first_packet - instant_mark).as_secs_f64()
        + (beep_frames[beep_frames.len() - 1] + 1) as f64 * 0.020;
    let message = first_time(&run, "bye_sent") - beep_end;

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let exit = event_where(&call, "queue_exit", |e| e["queue"] == "sales");
    assert_eq!(exit["reason"], "voicemail", "{call:#}");
    event_where(&call, "prompt_started", |e| e["name"] == "voicemail_offer");
    event_where(&call, "prompt_started", |e| e["name"] == "beep");
    let voicemail = event_where(&call, "voicemail", |_| true);
    let kept = voicemail["duration_ms"].as_u64().unwrap_or(0);
    assert_measured_ms(
        kept,
        message,
        message,
        "the voicemail's recorded length (end of the beep → the caller's BYE)",
    );
    assert_eq!(event(&call, "hangup")["by"], "caller", "{call:#}");

    let file = std::path::PathBuf::from(voicemail["file"].as_str().expect("file"));
    assert!(
        file.starts_with(switch.data.path()),
        "kept in the data folder: {}",
        file.display()
    );
    // The file holds the whole message, and it is the caller's voice: the 700 Hz tone it
    // spoke throughout (one 20 ms frame of slack at either end).
    let (_, length) = loudness(&file);
    let length_ms = length.as_millis() as i64;
    assert!(
        (length_ms - kept as i64).abs() <= 20,
        "the voicemail WAV holds {length:?}, the record says {kept} ms"
    );
    let frames = (length_ms / 20) as usize;
    let caller_frames = wav_tone_frames(&file, CALLER_HZ).len();
    assert!(
        caller_frames + 2 >= frames,
        "only {caller_frames} of the voicemail's {frames} frames are the caller's tone"
    );
}

/// The voicemail beep's pitch (prompts/generate.sh: 0.4 s of 1 kHz).
const BEEP_HZ: f64 = 1000.0;

/// Waits (bounded) until the call with this SIP Call-ID has joined a queue in the records.
fn wait_until_queued(switch: &Switch, sip_call_id: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let queued = switch
            .call(sip_call_id)
            .is_some_and(|c| find_event(&c, "queue_entered", |_| true).is_some());
        if queued {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "call {sip_call_id} did not join a queue within 10 s\n{}",
        switch.log_tail()
    );
}

/// How long a queued caller waits with the agent not available before the test concludes
/// it is not offered: the switch offers a waiting call the moment an agent is ready, so
/// nothing should come in the whole window (and 2 s is longer than the 1.2 s ring budget).
const NOT_OFFERED_WINDOW: Duration = Duration::from_secs(2);

/// The SIP requests that reach `port` until `until` finishes, read from a plain UDP socket
/// standing in for a phone whose agent should not be offered anything.
fn requests_to(port: u16, until: JoinHandle<SippRun>) -> (Vec<String>, SippRun) {
    let socket = std::net::UdpSocket::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("bind the phone's SIP port {port}: {e}"));
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("read timeout");
    let mut requests = Vec::new();
    let mut buf = [0u8; 4096];
    while !until.is_finished() {
        if let Ok(n) = socket.recv(&mut buf) {
            requests.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    (requests, join(until))
}

#[test]
fn agent_state_codes_decide_whether_the_next_queued_call_is_offered() {
    // One phone, logged out until *21; three callers who join sales 0.7 s after dialling.
    let ports = PortBlock::reserve();
    let entry = PhoneEntry::desk_phone("1001", "secret-1001").login_on_register(false);
    let config = ConfigCopy::for_agents(std::slice::from_ref(&entry));
    straight_to_the_menu(&config);
    let switch = Switch::start_with(ports, config);
    let phone = DeskPhone::new(entry, ports, 0);
    // The phone takes two calls, one after the other, answering each at ring 1 and hanging
    // up 1.5 s after the ACK (once the caller, a second past its digit, waits for the end):
    // the call after *21 and the call after *23.
    let phone_sipp = Sipp::towards("agent_answers.xml", switch.sip, ports)
        .service("1001")
        .local_port(phone.sip_port)
        .media_port(phone.media_port)
        .key("rtp_sink", phone.rtp_sink)
        .call_id_tag("phone-1001")
        .file("agent_audio.pcap", tone_pcap(8, phone.tone_hz, 60))
        .calls(2)
        .limit(1)
        .set("answer_after_ms", 100)
        .set("who_hangs_up", "agent")
        .set("talk_ms", 1500)
        .timeout(Duration::from_secs(60))
        .spawn();
    if !wait_for_udp_listener(phone.sip_port, Duration::from_secs(10)) {
        panic!(
            "the desk phone's SIPp did not listen:\n{}",
            join(phone_sipp).report()
        );
    }
    register(&phone, &switch);
    // Wrap-up (1 s) must be over before the next code, so each code starts from "ready".
    let past_wrap_up = Duration::from_millis(1500);

    // *21 logs the agent in: the next caller is offered to the phone.
    dial_feature_code(&phone, &switch, "*21");
    let first = quick_queued_caller(&switch, None, "after-21");
    let first_id = first.call_id(1);
    let first_run = first.run();
    assert_sipp_ok("the caller after *21", &first_run, &switch);
    std::thread::sleep(past_wrap_up);

    // *24: not ready. The next caller waits, not offered, until *23 makes the agent ready.
    dial_feature_code(&phone, &switch, "*24");
    let second = quick_queued_caller(&switch, None, "after-24");
    let second_id = second.call_id(1);
    let second_run = second.spawn();
    wait_until_queued(&switch, &second_id);
    std::thread::sleep(NOT_OFFERED_WINDOW);
    let ready_dialled_at = dial_feature_code(&phone, &switch, "*23");
    let second_run = join(second_run);
    assert_sipp_ok("the caller after *24 and *23", &second_run, &switch);
    let phone_run = join(phone_sipp);
    assert_sipp_ok("the desk phone (two calls)", &phone_run, &switch);
    std::thread::sleep(past_wrap_up);

    // *22 logs the agent out: the next caller is not offered. A plain socket listens where
    // the phone registered, for as long as the caller waits (3 s) and hangs up.
    dial_feature_code(&phone, &switch, "*22");
    let third = quick_queued_caller(&switch, Some(Duration::from_secs(2)), "after-22");
    let third_id = third.call_id(1);
    let (to_phone_after_logout, third_run) = requests_to(phone.sip_port, third.spawn());
    assert_sipp_ok("the caller after *22", &third_run, &switch);

    // At the phone: the first call came at once after the caller's digit; the second only
    // after *23 was dialled (not in the 2 s it waited while the agent was not ready), and
    // then at once; nothing after *22.
    let offers = phone_run.logged_times("invite");
    assert_eq!(
        offers.len(),
        2,
        "two offers reached the phone:\n{}",
        phone_run.logs
    );
    let first_offer_after = offers[0] - first_time(&first_run, "digit");
    // "At once": the digit lasts 140 ms on the wire, then loopback and SIPp's scheduling.
    assert!(
        (0.0..0.3).contains(&first_offer_after),
        "after *21 the phone was offered the call {first_offer_after:.3} s after the \
         caller's digit, not at once"
    );
    let second_queued_at = first_time(&second_run, "digit");
    assert!(
        ready_dialled_at - second_queued_at >= NOT_OFFERED_WINDOW.as_secs_f64(),
        "the second caller waited only {:.3} s before *23",
        ready_dialled_at - second_queued_at
    );
    assert!(
        offers[1] > ready_dialled_at,
        "after *24 the phone was offered the waiting call {:.3} s after the caller's digit, \
         before *23 was dialled ({:.3} s after the digit)",
        offers[1] - second_queued_at,
        ready_dialled_at - second_queued_at
    );
    // *23 takes effect as the switch takes the authenticated INVITE (two round trips after
    // dialling began), and the waiting call is offered in the same step.
    let offered_after_ready = offers[1] - ready_dialled_at;
    assert!(
        offered_after_ready < 0.5,
        "after *23 the waiting call reached the phone {offered_after_ready:.3} s after the \
         code was dialled, not at once"
    );
    let invites: Vec<&String> = to_phone_after_logout
        .iter()
        .filter(|m| m.starts_with("INVITE "))
        .collect();
    assert!(
        invites.is_empty(),
        "after *22 the logged-out agent's phone was offered a call: {invites:?}"
    );

    // The records agree: each code set its state, and who was offered what.
    let first_call = switch.ended_call(&first_id, Duration::from_secs(10));
    event_where(&first_call, "agent_answered", |e| e["agent"] == "a1001");
    let second_call = switch.ended_call(&second_id, Duration::from_secs(10));
    event_where(&second_call, "agent_answered", |e| e["agent"] == "a1001");
    // The second caller's wait counts from its digit, through the seconds the agent was not
    // ready, to the phone's 200 OK; not from the offer.
    let second_answered_at = phone_run.logged_times("answered")[1];
    assert_measured_ms(
        second_call["wait_ms"].as_u64().unwrap_or(0),
        second_answered_at - second_queued_at - DIGIT_LENGTH.as_secs_f64(),
        second_answered_at - second_queued_at,
        "the recorded wait of the caller who waited through *24",
    );
    let third_call = switch.ended_call(&third_id, Duration::from_secs(10));
    assert!(
        find_event(&third_call, "offered", |_| true).is_none(),
        "the caller after *22 was offered: {third_call:#}"
    );
    assert_eq!(third_call["outcome"], "abandoned", "{third_call:#}");
    for (code, state) in [
        ("*21", "ready"),
        ("*24", "not ready (by phone)"),
        ("*23", "ready"),
        ("*22", "logged out"),
    ] {
        let tag = format!("code-{}-1@127.0.0.1", code.trim_start_matches('*'));
        let record = switch.ended_call(&tag, Duration::from_secs(10));
        let event = event_where(&record, "feature_code", |e| e["code"] == code);
        assert_eq!(event["agent"], "a1001", "{record:#}");
        assert_eq!(event["state"], state, "{code}: {record:#}");
    }
}

#[test]
fn declined_phone_passes_the_call_to_the_next_agent_at_once_and_the_caller_is_bridged_to_it() {
    let ports = PortBlock::reserve();
    let declines = PhoneEntry::desk_phone("1001", "secret-1001");
    let answers = PhoneEntry::desk_phone("1002", "secret-1002");
    let config = ConfigCopy::for_agents(&[declines.clone(), answers.clone()]);
    straight_to_the_menu(&config);
    let switch = Switch::start_with(ports, config);
    let declines = DeskPhone::new(declines, ports, 0);
    let answers = DeskPhone::new(answers, ports, 1);
    // The agent presses "decline" 300 ms into ring 1.
    let declines_run = declines.take_call(
        switch.sip,
        "agent_declines.xml",
        &[("decline_after_ms", "300".into())],
        Duration::from_secs(30),
    );
    let answers_run = answering(&answers, &switch, 100);
    // Registered first, so idle longest: the longest-idle strategy offers it first.
    register(&declines, &switch);
    std::thread::sleep(Duration::from_millis(300));
    register(&answers, &switch);

    let caller_sink = RtpSink::listen(ports.rtp_sink());
    let answers_sink = RtpSink::listen(answers.rtp_sink);
    let caller = quick_queued_caller(&switch, Some(Duration::from_secs(5)), "declined");
    let call_id = caller.call_id(1);
    let caller_run = caller.run();
    let declines_run = join(declines_run);
    let answers_run = join(answers_run);
    let caller_heard = caller_sink.finish();
    let answers_heard = answers_sink.finish();
    assert_sipp_ok("the declining phone", &declines_run, &switch);

    // The next phone rings within 200 ms of the 603 (less than one ring's "on" time), well
    // before the declining phone's ring budget (1.2 s after its INVITE) would have run out.
    let declined_at = first_time(&declines_run, "declined");
    let next_offer_at = *answers_run
        .logged_times("invite")
        .first()
        .unwrap_or_else(|| {
            panic!(
                "after the 603 Decline the next agent's phone was never offered the call\n{}",
                switch.log_tail()
            )
        });
    let gap = next_offer_at - declined_at;
    assert!(
        (0.0..0.2).contains(&gap),
        "the next agent's phone rang {gap:.3} s after the 603 Decline, not at once"
    );
    let since_first_offer = next_offer_at - first_time(&declines_run, "invite");
    assert!(
        since_first_offer < 0.6,
        "the next agent was offered {since_first_offer:.3} s after the first (the decline \
         came at 0.3 s; the ring budget ends at 1.2 s)"
    );

    assert_sipp_ok("the caller", &caller_run, &switch);
    assert_sipp_ok("the answering phone", &answers_run, &switch);

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let ended = event_where(&call, "offer_ended", |e| e["agent"] == "a1001");
    assert_eq!(ended["outcome"], "declined", "{call:#}");
    assert_eq!(ended["rings"], 1, "declined in ring 1: {call:#}");
    let answered = event_where(&call, "agent_answered", |e| e["agent"] == "a1002");
    assert_eq!(answered["rings"], 1, "{call:#}");
    event_where(&call, "bridged", |e| e["agent"] == "a1002");
    assert!(
        find_event(&call, "agent_answered", |e| e["agent"] == "a1001").is_none(),
        "{call:#}"
    );
    assert_eq!(call["agent"], "a1002", "summary: {call:#}");
    assert_eq!(call["outcome"], "completed", "{call:#}");

    // Bridged at the peers: the caller heard the second phone's tone, and that phone heard
    // the caller's.
    let talk_ms = call["talk_ms"].as_u64().unwrap_or(0);
    assert_heard_through_the_talk(
        caller_heard.tone_frames(answers.tone_hz),
        talk_ms,
        "the caller heard the answering phone",
    );
    assert_eq!(
        caller_heard.tone_frames(declines.tone_hz),
        0,
        "the caller heard the declining phone's tone"
    );
    assert_heard_through_the_talk(
        answers_heard.tone_frames(CALLER_HZ),
        talk_ms,
        "the answering phone heard the caller",
    );
}
