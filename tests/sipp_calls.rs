//! Calls placed on the built `hotline serve` by SIPp over loopback, checked on the wire (SIPp's
//! expected responses, the RTP the switch sends) and in `hotline calls show`.
//! Every test reserves its own port block (`PortBlock::reserve`), so the tests may run in
//! parallel, and beside other test runs.

mod common;

use std::time::Duration;

use common::heard::PromptFrames;
use common::*;
use serde_json::Value;

/// The caller stays long enough to hear the welcome greeting start after the recording notice.
fn hold_into_welcome(switch: &Switch) -> Duration {
    let notice = prompt_duration(&switch.config_dir, "zh", "recording_notice")
        .unwrap_or(Duration::from_secs(4));
    (notice + Duration::from_millis(1500)).max(Duration::from_secs(3))
}

fn assert_in_order(call: &Value, names: &[&str]) {
    let mut last = None;
    for name in names {
        let at = position(call, name, |_| true)
            .unwrap_or_else(|| panic!("no {name} event in the record: {call:#}"));
        if let Some((prev_name, prev)) = last {
            assert!(
                at > prev,
                "{name} came before {prev_name} in the record: {call:#}"
            );
        }
        last = Some((*name, at));
    }
}

fn assert_rings(call: &Value, expected_rings: u64, answer_after_ms: u64, slack_ms: u64) {
    let ringing = event(call, "ringing");
    let answered = event(call, "answered");
    assert!(
        offset_ms(&ringing) < 200,
        "180 Ringing should go out at once, not at {} ms: {call:#}",
        offset_ms(&ringing)
    );
    assert_eq!(answered["rings"].as_u64(), Some(expected_rings), "{call:#}");
    assert!(
        expected_rings <= 3,
        "the standard is to answer within three rings"
    );
    let at = offset_ms(&answered);
    assert!(
        at + 100 >= answer_after_ms && at <= answer_after_ms + slack_ms,
        "answered at {at} ms, expected {answer_after_ms} ms (+{slack_ms}): {call:#}"
    );
}

fn assert_hangup_by(call: &Value, by: &str) {
    let hangup = event(call, "hangup");
    assert_eq!(hangup["by"], by, "who hung up: {call:#}");
}

#[test]
fn basic_call_is_answered_after_one_ring_greets_and_ends_with_callers_bye() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let sink = RtpSink::listen(ports.rtp_sink());
    let sipp = Sipp::new("basic_call.xml", &switch)
        .key("rtp_sink", ports.rtp_sink())
        .hold(hold_into_welcome(&switch));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    let heard = sink.finish();
    assert_sipp_ok("SIPp", &run, &switch);

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert_eq!(call["outcome"], "completed", "{call:#}");
    assert_eq!(call["sip_call_id"], call_id.as_str());
    assert_in_order(
        &call,
        &[
            "invite",
            "ringing",
            "answered",
            "confirmed",
            "prompt_started",
        ],
    );
    assert_eq!(event(&call, "answered")["rings"], 1, "{call:#}");
    let welcome = find_event(&call, "prompt_started", |e| e["name"] == "welcome")
        .unwrap_or_else(|| panic!("the welcome greeting never started: {call:#}"));
    assert_eq!(welcome["language"], "zh", "{call:#}");
    assert_hangup_by(&call, "caller");

    // The greeting reached the caller: a steady stream of PCMA that is not silence.
    assert!(
        heard.packets >= 100,
        "the switch sent only {} RTP packets in a {:?} call",
        heard.packets,
        hold_into_welcome(&switch)
    );
    assert_eq!(heard.payload_types, vec![8], "the caller offered PCMA only");
    assert!(
        heard.rms > 100.0,
        "the switch's audio is silence (rms {:.1} over {} samples)",
        heard.rms,
        heard.samples
    );
}

#[test]
fn answers_within_three_rings_on_the_shipped_cadence() {
    // Shipped standards: "1s on, 4s off", answer_after_rings = 1: 180 at once, 200 at 1 s.
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let sipp = Sipp::new("basic_call.xml", &switch).hold(Duration::from_millis(1500));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    assert_sipp_ok("SIPp", &run, &switch);
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert_rings(&call, 1, 1000, 300);
}

#[test]
fn answer_follows_a_configured_fast_cadence() {
    // Ring 2 ends at one period (500 ms) plus the on-time (200 ms).
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
    assert_rings(&call, 2, 700, 250);
}

#[test]
fn rfc4733_digits_choose_english_then_sales() {
    let ports = PortBlock::reserve();
    // No agent is registered: the caller waits in sales until its (shortened) exit, lets the
    // callback offer pass while waiting on with music, and at the maximum wait (at least 10 s
    // after the offer) the switch says goodbye.
    let switch = Switch::start_with(ports, short_wait_in(&["sales"]));
    let prompts = PromptFrames::load(&switch.config_dir);
    let sink = RtpSink::listen(ports.rtp_sink());
    let greeting = greeting_duration(&switch.config_dir, "zh");
    let sipp = Sipp::new("dtmf_rfc4733.xml", &switch)
        .key("rtp_sink", ports.rtp_sink())
        .set(
            "first_digit_ms",
            (greeting + Duration::from_secs(1)).as_millis(),
        )
        .set("second_digit_ms", 2000)
        .timeout(greeting + Duration::from_secs(40));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    let heard = sink.finish();
    assert_sipp_ok("SIPp", &run, &switch);

    // At the caller: the Mandarin menu cut short by 9, the English one from its start (and
    // never the Mandarin one again), then sales' prompt in English cut by the offer, the whole
    // callback offer, music (not silence) until the maximum wait, and the goodbye.
    assert_caller_heard(
        &prompts,
        &heard,
        &[
            "zh/welcome",
            "zh/recording_notice",
            "zh/main_menu",
            "en/main_menu",
            "en/connecting",
            "en/callback_offer",
            "en/moh or zh/moh",
            "en/goodbye",
        ],
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let nines: Vec<Value> = events(&call)
        .into_iter()
        .filter(|e| e["event"] == "dtmf" && e["digit"] == "9")
        .collect();
    assert_eq!(
        nines.len(),
        1,
        "the three RFC 4733 end packets of one key press are one digit: {call:#}"
    );
    assert_eq!(nines[0]["source"], "rfc4733", "{call:#}");
    let english = position(&call, "language", |e| e["language"] == "en")
        .unwrap_or_else(|| panic!("no switch to English: {call:#}"));
    let nine_chosen = position(&call, "menu_choice", |e| {
        e["menu"] == "main" && e["digit"] == "9"
    })
    .unwrap_or_else(|| panic!("9 was not taken as a main menu choice: {call:#}"));
    let one = position(&call, "dtmf", |e| {
        e["digit"] == "1" && e["source"] == "rfc4733"
    })
    .unwrap_or_else(|| panic!("digit 1 never arrived: {call:#}"));
    let one_chosen = position(&call, "menu_choice", |e| e["digit"] == "1")
        .unwrap_or_else(|| panic!("1 was not taken as a menu choice: {call:#}"));
    let sales = position(&call, "route", |e| e["target"] == "sales")
        .unwrap_or_else(|| panic!("the call never went to sales: {call:#}"));
    assert!(
        nine_chosen <= english && english < one && one < one_chosen && one_chosen < sales,
        "9 → English → 1 → sales out of order: {call:#}"
    );
    assert!(
        find_event(&call, "prompt_started", |e| e["language"] == "en").is_some(),
        "nothing was played in English after 9: {call:#}"
    );
    assert_waited_then_was_offered_a_callback(&call, "sales", "max_wait");
    assert_hangup_by(&call, "switch");
    assert_eq!(call["outcome"], "completed", "{call:#}");
}

/// The shipped config with `queues` offering a callback one second after entry (the offer
/// then lasts its 10 s at least).
fn short_wait_in(queues: &[&str]) -> ConfigCopy {
    let config = ConfigCopy::of_shipped();
    for queue in queues {
        config.set_table(
            &format!("queue.{queue}"),
            &[
                ("max_wait", "\"2s\""),
                ("exit_notice", "\"1s\""),
                ("exit", "{ callback = true }"),
            ],
        );
    }
    config
}

/// The caller heard exactly these prompts, in order (each for at least 200 ms); the first
/// two, the callback offer and the goodbye whole, the main menu (barged in on), the queue's
/// prompt (cut by the offer) only in part, the music as long as it lasted, and each one
/// after a cut from its own start.
fn assert_caller_heard(prompts: &PromptFrames, heard: &RtpHeard, expected: &[&str]) {
    let all = prompts.heard(&heard.received, 10);
    let labels: Vec<String> = all.iter().map(|h| h.label()).collect();
    assert_eq!(
        labels,
        expected,
        "what the caller heard ({} packets): {all:#?}",
        heard.received.len()
    );
    for hearing in &all {
        let name = hearing.label();
        assert_eq!(hearing.first_frame, 0, "{name} from its start: {hearing:?}");
        if name.ends_with("/moh") {
            // The same file in both languages, looping until the goodbye cuts it.
            continue;
        }
        let total = prompts.frame_count(&name);
        let cut = name.ends_with("/main_menu") || name.ends_with("/connecting");
        if cut {
            assert!(hearing.frames < total, "{name} was cut short: {hearing:?}");
        } else {
            assert_eq!(hearing.frames, total, "{name} is heard whole: {hearing:?}");
        }
    }
}

/// The caller joined `queue`, was offered a callback there while still in line, and left
/// the line `how`: "callback_offer" (pressed 1) or "max_wait" (let the offer pass).
fn assert_waited_then_was_offered_a_callback(call: &Value, queue: &str, how: &str) {
    let entered = position(call, "queue_entered", |e| e["queue"] == queue)
        .unwrap_or_else(|| panic!("the caller never joined {queue}: {call:#}"));
    let offered = position(call, "callback_offered", |e| e["queue"] == queue)
        .unwrap_or_else(|| panic!("no callback offer before the maximum wait: {call:#}"));
    let exit = position(call, "queue_exit", |e| e["reason"] == how)
        .unwrap_or_else(|| panic!("no queue exit {how}: {call:#}"));
    assert!(entered < offered && offered < exit, "{call:#}");
    assert!(
        find_event(call, "prompt_started", |e| e["name"] == "callback_offer").is_some(),
        "{call:#}"
    );
}

#[test]
fn sip_info_digit_chooses_support() {
    let ports = PortBlock::reserve();
    let switch = Switch::start_with(ports, short_wait_in(&["support"]));
    let prompts = PromptFrames::load(&switch.config_dir);
    let sink = RtpSink::listen(ports.rtp_sink());
    let greeting = greeting_duration(&switch.config_dir, "zh");
    let sipp = Sipp::new("dtmf_sip_info.xml", &switch)
        .key("rtp_sink", ports.rtp_sink())
        .key("digit", 2)
        .set(
            "first_digit_ms",
            (greeting + Duration::from_secs(1)).as_millis(),
        )
        .timeout(greeting + Duration::from_secs(40));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    let heard = sink.finish();
    assert_sipp_ok("SIPp", &run, &switch);

    assert_caller_heard(
        &prompts,
        &heard,
        &[
            "zh/welcome",
            "zh/recording_notice",
            "zh/main_menu",
            "zh/connecting",
            "zh/callback_offer",
            "en/moh or zh/moh",
            "zh/goodbye",
        ],
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let digit = find_event(&call, "dtmf", |e| e["digit"] == "2")
        .unwrap_or_else(|| panic!("the INFO digit 2 never arrived: {call:#}"));
    assert_eq!(digit["source"], "sip-info", "{call:#}");
    let chosen = position(&call, "menu_choice", |e| e["digit"] == "2")
        .unwrap_or_else(|| panic!("2 was not taken as a menu choice: {call:#}"));
    let support = position(&call, "route", |e| e["target"] == "support")
        .unwrap_or_else(|| panic!("the call never went to support: {call:#}"));
    assert!(chosen < support, "{call:#}");
    assert_waited_then_was_offered_a_callback(&call, "support", "max_wait");
    assert_hangup_by(&call, "switch");
}

#[test]
fn a_caller_who_presses_1_at_the_callback_offer_is_confirmed_and_listed_for_a_call_back() {
    let ports = PortBlock::reserve();
    let switch = Switch::start_with(ports, short_wait_in(&["support"]));
    let prompts = PromptFrames::load(&switch.config_dir);
    let sink = RtpSink::listen(ports.rtp_sink());
    let greeting = greeting_duration(&switch.config_dir, "zh");
    // 2 into the main menu; 1 three seconds later, as the offer (a second after queuing,
    // after a moment of "connecting") plays.
    let sipp = Sipp::new("callback_by_sip_info.xml", &switch)
        .key("rtp_sink", ports.rtp_sink())
        .set(
            "first_digit_ms",
            (greeting + Duration::from_secs(1)).as_millis(),
        )
        .set("second_digit_ms", 3000)
        .timeout(greeting + Duration::from_secs(40));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    let heard = sink.finish();
    assert_sipp_ok("SIPp", &run, &switch);

    // At the caller: the offer cut by the key, then the confirmation and goodbye whole.
    assert_eq!(
        prompts.labels(&heard.received, 10),
        [
            "zh/welcome",
            "zh/recording_notice",
            "zh/main_menu",
            "zh/connecting",
            "zh/callback_offer",
            "zh/callback_confirmed",
            "zh/goodbye",
        ],
        "what the caller heard"
    );
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert_waited_then_was_offered_a_callback(&call, "support", "callback_offer");
    assert!(
        find_event(&call, "callback_requested", |e| e["number"] == "caller").is_some(),
        "{call:#}"
    );

    // The supervisor's list: the number to call, the queue, and the place kept.
    let data = switch.data.path().to_str().expect("utf-8 data dir");
    let out = switch.cli(&["calls", "callbacks", "--data", data]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("REQUESTED (UTC)"), "{text}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[1..4], ["caller", "support", "1"], "{text}");
    assert_eq!(cells[4], call["id"].as_str().unwrap(), "{text}");
}

/// Nobody is registered to take support's calls: five seconds after queuing (support's
/// `unstaffed_wait` here), not at the ten-minute maximum wait, the caller is offered a
/// callback; letting it pass, they hear music and, ten seconds later, goodbye.
#[test]
fn a_caller_in_a_queue_nobody_serves_is_offered_a_callback_soon_instead_of_waiting_ten_minutes() {
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    config.set_table(
        "queue.support",
        &[("unstaffed_wait", "\"5s\""), ("exit_notice", "\"1s\"")],
    );
    let switch = Switch::start_with(ports, config);
    let prompts = PromptFrames::load(&switch.config_dir);
    let sink = RtpSink::listen(ports.rtp_sink());
    let greeting = greeting_duration(&switch.config_dir, "zh");
    let sipp = Sipp::new("dtmf_sip_info.xml", &switch)
        .key("rtp_sink", ports.rtp_sink())
        .key("digit", 2)
        .set(
            "first_digit_ms",
            (greeting + Duration::from_secs(1)).as_millis(),
        )
        .timeout(greeting + Duration::from_secs(45));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    let heard = sink.finish();
    assert_sipp_ok("SIPp", &run, &switch);

    assert_eq!(
        prompts.labels(&heard.received, 10),
        [
            "zh/welcome",
            "zh/recording_notice",
            "zh/main_menu",
            "zh/connecting",
            "zh/queue_first",
            "en/moh or zh/moh",
            "zh/callback_offer",
            "en/moh or zh/moh",
            "zh/goodbye",
        ],
        "what the caller heard: no expected wait, the offer, music, goodbye"
    );
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let entered = find_event(&call, "queue_entered", |e| e["queue"] == "support")
        .unwrap_or_else(|| panic!("never queued in support: {call:#}"));
    let unstaffed = find_event(&call, "queue_unstaffed", |e| e["queue"] == "support")
        .unwrap_or_else(|| panic!("the empty queue was not noted: {call:#}"));
    assert_eq!(unstaffed["unstaffed_s"], 5, "{call:#}");
    let after_ms = offset_ms(&unstaffed) - offset_ms(&entered);
    assert!(
        (5_000..6_000).contains(&after_ms),
        "offered {after_ms} ms after queuing: {call:#}"
    );
    assert_waited_then_was_offered_a_callback(&call, "support", "unstaffed");
    assert_hangup_by(&call, "switch");
}

#[test]
fn cancel_while_ringing_gets_487_and_is_recorded_as_abandoned() {
    // Answer only as ring 2 ends (6 s), so nothing races the CANCEL sent at 0.5 s.
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    config.set_standards(&[
        ("ring_cadence", "\"1s on, 4s off\""),
        ("answer_after_rings", "2"),
    ]);
    let switch = Switch::start_with(ports, config);
    let sipp = Sipp::new("cancel_while_ringing.xml", &switch).timeout(Duration::from_secs(15));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    assert_sipp_ok("SIPp", &run, &switch);

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert_eq!(call["outcome"], "abandoned", "{call:#}");
    assert!(
        find_event(&call, "answered", |_| true).is_none(),
        "a cancelled call was answered: {call:#}"
    );
    event(&call, "ringing");
}

#[test]
fn delayed_offer_gets_the_offer_in_200_and_media_flows() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let sink = RtpSink::listen(ports.rtp_sink());
    let sipp = Sipp::new("delayed_offer.xml", &switch)
        .key("rtp_sink", ports.rtp_sink())
        .hold(Duration::from_secs(3));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    let heard = sink.finish();
    assert_sipp_ok("SIPp", &run, &switch);

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert_in_order(&call, &["answered", "confirmed", "prompt_started"]);
    assert_eq!(call["outcome"], "completed", "{call:#}");
    assert!(
        heard.packets >= 75,
        "RTP did not flow to the address in the ACK's answer: {} packets in 3 s",
        heard.packets
    );
    assert!(
        heard.payload_types.iter().all(|pt| *pt == 0 || *pt == 8),
        "the switch sent payload types {:?}, not the answered G.711",
        heard.payload_types
    );
    assert!(heard.rms > 50.0, "the switch's audio is silence");
}

#[test]
fn basic_call_over_tcp() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let sink = RtpSink::listen(ports.rtp_sink());
    let sipp = Sipp::new("basic_call.xml", &switch)
        .transport(Transport::Tcp)
        .call_id_tag("basic-call-tcp")
        .key("rtp_sink", ports.rtp_sink())
        .hold(Duration::from_secs(3));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    let heard = sink.finish();
    assert_sipp_ok("SIPp", &run, &switch);
    assert!(
        run.messages.contains("TCP message sent"),
        "SIPp did not use TCP"
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert_in_order(
        &call,
        &["ringing", "answered", "confirmed", "prompt_started"],
    );
    assert_hangup_by(&call, "caller");
    assert_eq!(call["outcome"], "completed", "{call:#}");
    assert!(heard.packets >= 75, "{} RTP packets", heard.packets);
}

#[test]
fn twenty_calls_in_parallel_all_succeed_and_are_recorded() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let run = Sipp::new("basic_call.xml", &switch)
        .call_id_tag("parallel")
        .calls(20)
        .limit(20)
        .rate(20)
        .hold(Duration::from_secs(3))
        .timeout(Duration::from_secs(60))
        .run();
    assert_sipp_ok("SIPp", &run, &switch);
    if let Some((ok, failed)) = run.call_counts() {
        assert_eq!((ok, failed), (20, 0), "SIPp statistics");
    }

    let calls = switch.ended_calls(20, Duration::from_secs(15));
    assert_eq!(calls.len(), 20, "records: {}", Value::Array(calls.clone()));
    let mut ids: Vec<&str> = calls
        .iter()
        .map(|c| c["sip_call_id"].as_str().unwrap_or(""))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "each call has its own record");
    for call in &calls {
        assert_eq!(call["outcome"], "completed", "{call:#}");
        let full = switch
            .call(call["id"].as_str().unwrap_or(""))
            .unwrap_or_else(|| panic!("calls show cannot find {call}"));
        assert_eq!(event(&full, "answered")["rings"], 1, "{full:#}");
    }
}

#[test]
fn offer_with_only_g729_gets_488() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let sipp = Sipp::new("g729_only_offer.xml", &switch).timeout(Duration::from_secs(10));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    assert_sipp_ok("SIPp", &run, &switch);

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert_eq!(call["outcome"], "rejected", "{call:#}");
    assert_eq!(event(&call, "rejected")["status"], 488, "{call:#}");
    assert!(find_event(&call, "answered", |_| true).is_none());
}

#[test]
fn caller_that_is_not_a_listed_trunk_is_challenged_like_a_phone_and_never_rung() {
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    config.trust_only("127.0.0.2");
    let switch = Switch::start_with(ports, config);
    let run = Sipp::new("untrusted_caller.xml", &switch)
        .timeout(Duration::from_secs(10))
        .run();
    assert_sipp_ok("SIPp", &run, &switch);
    assert!(
        !run.messages.contains("SIP/2.0 180"),
        "an untrusted caller was rung"
    );
}
