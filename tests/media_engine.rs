//! The media engine against real peers on loopback (issue 7): a relayed stream keeps the far
//! end's sequence numbers and timestamps moving together, so reordering, duplicates and gaps
//! stay visible to the agent's phone; RTP is taken only from the caller (a third address
//! cannot press keys in its menu); a caller behind NAT hears audio at the port it sends from;
//! and a caller that goes silent without BYE is hung up after the media timeout, freeing its
//! agent; an agent's keys (telephone-events) stay with the switch while the agent's voice
//! still reaches the caller (issue 8). The caller is written by hand (`common::rtp_peer`) so
//! every header field is the test's; agents are SIPp desk phones whose RTP lands on a test
//! socket.

mod common;

use std::net::UdpSocket;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::heard::ReceivedRtp;
use common::rtp_peer::*;
use common::*;

/// A hotline number that starts in the main menu (no greeting to wait out).
const MENU_NUMBER: &str = "4018";

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

fn placed_call(caller: &mut RawCaller, switch: &Switch) {
    if let Err(e) = caller.call(Duration::from_secs(10)) {
        panic!("the raw caller's INVITE: {e}\n{}", switch.log_tail());
    }
}

fn answering_phone(phone: &DeskPhone, switch: &Switch) -> JoinHandle<SippRun> {
    phone.take_call(
        switch.sip,
        "agent_answers.xml",
        &[
            ("answer_after_ms", "100".to_string()),
            ("who_hangs_up", "caller".into()),
            ("talk_ms", "0".into()),
        ],
        Duration::from_secs(60),
    )
}

fn register(phone: &DeskPhone, switch: &Switch) {
    let run = phone.register(switch.sip);
    assert_sipp_ok("the desk phone's REGISTER", &run, switch);
}

/// Calls the menu number, presses 1 (sales) and waits until the agent's phone is bridged.
fn caller_bridged_to_the_agent(switch: &Switch, tag: &str) -> RawCaller {
    let mut caller = RawCaller::new(switch, MENU_NUMBER, tag);
    placed_call(&mut caller, switch);
    caller.talk(Duration::from_millis(300));
    caller.press('1');
    let mut bridged = false;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !bridged && Instant::now() < deadline {
        caller.talk(Duration::from_millis(200));
        bridged = switch
            .call(&caller.call_id)
            .is_some_and(|c| find_event(&c, "bridged", |_| true).is_some());
    }
    assert!(
        bridged,
        "the caller was not bridged to the agent within 15 s\n{}",
        switch.log_tail()
    );
    // Let the whisper and the bridge settle: the caller keeps talking meanwhile.
    caller.talk(Duration::from_millis(500));
    caller
}

/// A payload the test can recognise after the relay: "TAPS", the packet's index, then PCMA
/// silence. Both legs are PCMA, so the relay forwards these bytes unchanged.
fn marked_payload(index: u8) -> [u8; 160] {
    let mut payload = [0xD5u8; 160];
    payload[..4].copy_from_slice(b"TAPS");
    payload[4] = index;
    payload
}

fn marked_index(packet: &ReceivedRtp) -> Option<u8> {
    (packet.payload.len() == 160 && packet.payload.starts_with(b"TAPS")).then(|| packet.payload[4])
}

#[test]
fn a_relayed_stream_keeps_reordering_duplicates_and_gaps_with_sequence_and_timestamp_in_step() {
    let ports = PortBlock::reserve();
    let entry = PhoneEntry::desk_phone("1001", "secret-1001");
    let config = ConfigCopy::for_agents(std::slice::from_ref(&entry));
    straight_to_the_menu(&config);
    let switch = Switch::start_with(ports, config);
    let phone = DeskPhone::new(entry, ports, 0);
    let phone_run = answering_phone(&phone, &switch);
    register(&phone, &switch);
    let phone_sink = RtpSink::listen(phone.rtp_sink);

    let mut caller = caller_bridged_to_the_agent(&switch, "reorder");
    // Indices 0..=19 of a stream that crosses the 16-bit sequence wrap and the 32-bit
    // timestamp wrap: 6 and 7 swapped, 12 sent twice, 15 never sent.
    let sent_order: Vec<u8> = (0..=5)
        .chain([7, 6])
        .chain(8..=12)
        .chain([12])
        .chain(13..=14)
        .chain(16..=19)
        .collect();
    let (ssrc, seq0, ts0) = (0x7A95_0001u32, 65_530u16, u32::MAX - 1_000);
    for &index in &sent_order {
        let payload = marked_payload(index);
        caller.send_from(
            &caller.rtp,
            &RtpOut {
                payload_type: 8,
                marker: index == 0,
                seq: seq0.wrapping_add(u16::from(index)),
                timestamp: ts0.wrapping_add(160 * u32::from(index)),
                ssrc,
                payload: &payload,
            },
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    caller.talk(Duration::from_millis(500));
    caller.hang_up();
    let _ = caller.wait_for_bye(Duration::from_millis(200));
    let phone_run = phone_run.join().expect("phone thread");
    let heard = phone_sink.finish();
    assert_sipp_ok("the desk phone", &phone_run, &switch);

    let marked: Vec<(u8, &ReceivedRtp)> = heard
        .received
        .iter()
        .filter_map(|p| marked_index(p).map(|i| (i, p)))
        .collect();
    let arrived: Vec<u8> = marked.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        arrived, sent_order,
        "the relay forwards on arrival: the phone gets the caller's packets in the order sent"
    );
    let (_, first) = marked[0];
    for &(index, packet) in &marked {
        let seq_delta = packet.seq.wrapping_sub(first.seq);
        let ts_delta = packet.timestamp.wrapping_sub(first.timestamp);
        assert_eq!(
            (seq_delta, ts_delta),
            (u16::from(index), 160 * u32::from(index)),
            "packet {index} reached the phone as seq {} ts {} (first: seq {} ts {}): sequence \
             and timestamp must keep the caller's spacing, so the reordered pair stays \
             reordered, the duplicate keeps its number and the lost packet leaves a gap",
            packet.seq,
            packet.timestamp,
            first.seq,
            first.timestamp
        );
        assert_eq!(packet.ssrc, first.ssrc, "one outgoing stream, one SSRC");
    }
}

/// The caller presses 1 in the menu, is queued for sales, hangs up; the ended call's
/// record, which holds exactly that one digit.
fn presses_1_for_sales_and_hangs_up(caller: &mut RawCaller, switch: &Switch) -> serde_json::Value {
    caller.press('1');
    caller.talk(Duration::from_millis(1_500));
    caller.hang_up();
    let _ = caller.wait_for_bye(Duration::from_millis(200));
    let call = switch.ended_call(&caller.call_id, Duration::from_secs(10));
    let names = event_names(&call);
    assert_eq!(
        names.iter().filter(|n| *n == "dtmf").count(),
        1,
        "exactly the caller's one digit: {call:#}"
    );
    assert_eq!(event(&call, "queue_entered")["queue"], "sales", "{call:#}");
    call
}

#[test]
fn telephone_events_from_a_third_address_do_not_reach_the_menu_but_the_callers_own_do() {
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    straight_to_the_menu(&config);
    let switch = Switch::start_with(ports, config);
    let mut caller = RawCaller::new(&switch, MENU_NUMBER, "third-address");
    placed_call(&mut caller, &switch);
    caller.talk(Duration::from_millis(600));

    // Someone else on the host guesses the port and presses 2 (support) with its own stream,
    // twice, with the caller's audio flowing in between.
    let attacker = UdpSocket::bind("127.0.0.1:0").expect("bind the attacker's socket");
    let next = caller.send_digit_from(&attacker, '2', 0xBAD0_0001, 100, 9_000);
    caller.talk(Duration::from_millis(300));
    // And once more pretending to be the caller's own stream.
    caller.send_digit_from(&attacker, '2', caller.ssrc, next, 20_000);
    caller.talk(Duration::from_millis(1_000));
    let during_attack = switch
        .call(&caller.call_id)
        .expect("the live call's record");
    assert_eq!(
        event_names(&during_attack)
            .iter()
            .filter(|n| *n == "dtmf")
            .count(),
        0,
        "RTP from a third address reached the menu: {during_attack:#}"
    );
    assert!(
        !event_names(&during_attack)
            .iter()
            .any(|n| n == "queue_entered"),
        "the attacker's 2 moved the IVR: {during_attack:#}"
    );

    // The caller's own 1 does.
    let call = presses_1_for_sales_and_hangs_up(&mut caller, &switch);
    assert_eq!(event(&call, "dtmf")["digit"], "1", "{call:#}");
}

#[test]
fn a_stranger_who_sends_before_the_caller_does_neither_presses_its_keys_nor_hears_its_call() {
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    straight_to_the_menu(&config);
    let switch = Switch::start_with(ports, config);
    let mut caller = RawCaller::new(&switch, MENU_NUMBER, "bleed");
    placed_call(&mut caller, &switch);
    // The greeting's first packet: the call's media port is open and its leg started.
    let started = Instant::now() + Duration::from_secs(5);
    let mut to_caller = Vec::new();
    while to_caller.is_empty() && Instant::now() < started {
        to_caller.extend(receive_rtp(&caller.rtp));
    }
    assert!(!to_caller.is_empty(), "no greeting within 5 s of the ACK");

    // RTP Bleed: before the caller's first packet, a host that is neither the SDP's nor the
    // SIP's sends the call's media port audio and then a 2 (support).
    let stranger = UdpSocket::bind("127.0.0.5:0").expect("bind a socket on 127.0.0.5");
    stranger
        .set_read_timeout(Some(Duration::from_millis(5)))
        .expect("read timeout");
    for i in 0..5u16 {
        let packet = RtpOut {
            payload_type: 8,
            marker: i == 0,
            seq: 500 + i,
            timestamp: 7_000 + u32::from(i) * 160,
            ssrc: 0xBAD0_0002,
            payload: &[0x55; 160],
        };
        caller.send_from(&stranger, &packet);
    }
    caller.send_digit_from(&stranger, '2', 0xBAD0_0002, 505, 7_800);
    // For a second, the stranger and the (still silent) caller listen.
    let mut to_stranger = Vec::new();
    to_caller.clear();
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        to_stranger.extend(receive_rtp(&stranger));
        to_caller.extend(receive_rtp(&caller.rtp));
    }
    assert_eq!(
        to_stranger.len(),
        0,
        "the stranger was latched onto and got the caller's audio\n{}",
        switch.log_tail()
    );
    assert!(
        to_caller.len() >= 30,
        "the caller heard {} packets of its greeting in 1 s",
        to_caller.len()
    );
    let during_attack = switch
        .call(&caller.call_id)
        .expect("the live call's record");
    let names = event_names(&during_attack);
    assert!(
        !names.iter().any(|n| n == "dtmf" || n == "queue_entered"),
        "the stranger's 2 reached the menu: {during_attack:#}"
    );

    // The caller's own 1 does.
    caller.talk(Duration::from_millis(300));
    let call = presses_1_for_sales_and_hangs_up(&mut caller, &switch);
    let refused = call["media"]
        .as_array()
        .and_then(|legs| legs.iter().find(|l| l["role"] == "caller"))
        .map(|leg| leg["packets_from_strangers"].as_u64().unwrap_or(0));
    assert!(
        refused.is_some_and(|n| n >= 10),
        "the stranger's 10 packets are counted on the caller's leg: {call:#}"
    );
}

#[test]
fn a_caller_behind_nat_hears_the_greeting_at_the_port_it_sends_from() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    // The SDP names the private address the phone thinks it has; the NAT maps its packets
    // to the loopback socket they come from.
    let mut caller = RawCaller::new(&switch, "4008", "nat").behind_nat("192.168.1.20", 4000);
    placed_call(&mut caller, &switch);
    let heard = caller.talk(Duration::from_secs(3));
    caller.hang_up();
    let _ = caller.wait_for_bye(Duration::from_millis(200));
    let audio: Vec<&ReceivedRtp> = heard.iter().filter(|p| p.payload_type == 8).collect();
    let not_silence = audio
        .iter()
        .filter(|p| p.payload.iter().any(|&b| b != p.payload[0]))
        .count();
    // 3 s of greeting is 150 packets; allow the first ones to go to the SDP's address before
    // the caller's first packet arrives and for scheduling at the end.
    assert!(
        audio.len() >= 130 && not_silence >= 100,
        "the caller's socket got {} PCMA packets ({} not silence) in 3 s: the switch must send \
         to where the caller's RTP comes from (symmetric RTP), not to the SDP's private \
         address\n{}",
        audio.len(),
        not_silence,
        switch.log_tail()
    );
}

/// The shipped config with the media timeout at 2 s.
fn two_second_media_timeout(config: &ConfigCopy) {
    config.set_media(&[("timeout", "\"2s\"")]);
}

#[test]
fn a_caller_silent_without_bye_is_hung_up_after_the_media_timeout() {
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    two_second_media_timeout(&config);
    let switch = Switch::start_with(ports, config);
    let mut caller = RawCaller::new(&switch, "4008", "silent");
    placed_call(&mut caller, &switch);
    caller.talk(Duration::from_secs(1));
    // The caller's network dies: no RTP, no RTCP, no BYE.
    let silent_from = Instant::now();
    let bye = caller.wait_for_bye(Duration::from_secs(8));
    let bye_at = bye.unwrap_or_else(|| {
        panic!(
            "no BYE within 8 s of the caller going silent (media timeout 2 s)\n{}",
            switch.log_tail()
        )
    });
    let after = bye_at - silent_from;
    assert!(
        after >= Duration::from_millis(1_900),
        "BYE {after:?} after the last RTP: before the 2 s media timeout"
    );
    let call = switch.ended_call(&caller.call_id, Duration::from_secs(10));
    assert_eq!(call["outcome"], "media_timeout", "{call:#}");
}

#[test]
fn a_bridged_caller_silent_without_bye_frees_the_agent_for_the_next_call() {
    let ports = PortBlock::reserve();
    let entry = PhoneEntry::desk_phone("1001", "secret-1001");
    let config = ConfigCopy::for_agents(std::slice::from_ref(&entry));
    straight_to_the_menu(&config);
    two_second_media_timeout(&config);
    let switch = Switch::start_with(ports, config);
    let phone = DeskPhone::new(entry, ports, 0);
    let phone_run = answering_phone(&phone, &switch);
    register(&phone, &switch);

    let caller = caller_bridged_to_the_agent(&switch, "silent-bridged");
    let silent_from = Instant::now();
    // The agent's phone keeps sending its tone; only the caller is silent.
    let bye_at = caller
        .wait_for_bye(Duration::from_secs(8))
        .unwrap_or_else(|| {
            panic!(
                "the silent caller got no BYE within 8 s (media timeout 2 s)\n{}",
                switch.log_tail()
            )
        });
    // `silent_from` is taken when the bridging helper returns, a little after the caller's
    // last packet (more on a loaded machine): the margin below the 2 s rule allows for it.
    let after = bye_at - silent_from;
    assert!(
        after >= Duration::from_millis(1_500),
        "BYE {after:?} after the caller's last RTP: before the 2 s media timeout"
    );
    // The phone's scenario ends successfully only when the switch's BYE reaches it.
    let phone_run = phone_run.join().expect("phone thread");
    assert_sipp_ok("the desk phone (BYE from the switch)", &phone_run, &switch);
    let call = switch.ended_call(&caller.call_id, Duration::from_secs(10));
    assert_eq!(call["outcome"], "media_timeout", "{call:#}");
    assert_eq!(call["agent"], "a1001", "{call:#}");

    // After its 1 s wrap-up the agent takes the next call.
    let next_phone = answering_phone(&phone, &switch);
    let next = caller_bridged_to_the_agent(&switch, "next-caller");
    let mut next = next;
    next.hang_up();
    let _ = next.wait_for_bye(Duration::from_millis(200));
    let next_phone = next_phone.join().expect("phone thread");
    assert_sipp_ok("the desk phone's second call", &next_phone, &switch);
    let second = switch.ended_call(&next.call_id, Duration::from_secs(10));
    assert_eq!(second["agent"], "a1001", "{second:#}");
}

#[test]
fn a_caller_whose_ack_is_lost_but_whose_rtp_arrives_hears_the_greeting() {
    // RFC 3261 13.3.1.4: RTP from the caller's SDP address proves the 200 OK arrived, so the
    // greeting starts without waiting for an ACK that may never come.
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let mut caller = RawCaller::new(&switch, "4008", "no-ack").withholding_the_ack();
    placed_call(&mut caller, &switch);
    let heard = caller.talk(Duration::from_secs(3));
    let greeting: Vec<&ReceivedRtp> = heard
        .iter()
        .filter(|p| p.payload_type == 8 && p.payload.iter().any(|&b| b != p.payload[0]))
        .collect();
    assert!(
        greeting.len() >= 100,
        "the caller heard {} packets of the greeting in 3 s of RTP without an ACK\n{}",
        greeting.len(),
        switch.log_tail()
    );
    // The ACK, late, changes nothing; the call ends normally.
    caller.ack().expect("send the late ACK");
    caller.hang_up();
    let call = switch.ended_call(&caller.call_id, Duration::from_secs(10));
    let names = event_names(&call);
    let before_ack = names.iter().position(|n| n == "media_before_ack");
    let greeting_started = position(&call, "prompt_started", |e| e["name"] == "welcome");
    assert!(
        before_ack.is_some() && greeting_started > before_ack,
        "media_before_ack, then the greeting: {names:?}"
    );
    assert_eq!(call["outcome"], "completed", "{call:#}");
}

/// One 20 ms A-law frame of DTMF `1` (697 Hz + 1209 Hz, each about -10 dBm0), frame `k` of
/// the tone so consecutive frames join without a phase jump.
fn dtmf_one_frame(k: usize) -> Vec<u8> {
    (0..160)
        .map(|i| {
            let t = (k * 160 + i) as f64 / 8000.0;
            let s = 5_000.0 * (2.0 * std::f64::consts::PI * 697.0 * t).sin()
                + 5_000.0 * (2.0 * std::f64::consts::PI * 1209.0 * t).sin();
            hotline::media::g711::alaw_encode(s as i16)
        })
        .collect()
}

#[test]
fn a_trunk_set_for_inband_dtmf_has_a_tone_in_the_audio_heard_as_a_digit() {
    for inband in [true, false] {
        let ports = PortBlock::reserve();
        let config = ConfigCopy::of_shipped();
        straight_to_the_menu(&config);
        let trunks = config.path().join("hardware/trunks.toml");
        let text = std::fs::read_to_string(&trunks).expect("read trunks.toml");
        assert!(
            text.contains("inband_dtmf = false"),
            "the shipped trunk line moved"
        );
        std::fs::write(
            &trunks,
            text.replace("inband_dtmf = false", &format!("inband_dtmf = {inband}")),
        )
        .expect("write trunks.toml");
        let switch = Switch::start_with(ports, config);
        let mut caller = RawCaller::new(&switch, MENU_NUMBER, "inband");
        placed_call(&mut caller, &switch);
        caller.talk(Duration::from_millis(600));
        // 120 ms of the tone in the audio itself, no telephone-event, then quiet audio.
        let mut next = Instant::now();
        for k in 0..6 {
            caller.send_audio(&dtmf_one_frame(k));
            next += Duration::from_millis(20);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        caller.talk(Duration::from_millis(1_500));
        caller.hang_up();
        let _ = caller.wait_for_bye(Duration::from_millis(200));
        let call = switch.ended_call(&caller.call_id, Duration::from_secs(10));
        let digits: Vec<(String, String)> = events(&call)
            .iter()
            .filter(|e| e["event"] == "dtmf")
            .map(|e| {
                (
                    e["digit"].as_str().unwrap_or("").to_string(),
                    e["source"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        if inband {
            assert_eq!(
                digits,
                [("1".to_string(), "inband".to_string())],
                "the tone is the caller's 1: {call:#}"
            );
            assert_eq!(event(&call, "queue_entered")["queue"], "sales", "{call:#}");
        } else {
            assert_eq!(
                digits,
                [],
                "a trunk not set for it hears no tones: {call:#}"
            );
        }
    }
}

/// An agent's keys (issue 8): telephone-events from the agent's phone are the switch's in-call
/// keys and never reach the caller, while the agent's voice still does.
#[test]
fn an_agents_telephone_events_never_reach_the_callers_socket_but_the_agents_voice_does() {
    let ports = PortBlock::reserve();
    let entry = PhoneEntry::desk_phone("1001", "secret-1001");
    let config = ConfigCopy::for_agents(std::slice::from_ref(&entry));
    straight_to_the_menu(&config);
    let switch = Switch::start_with(ports, config);
    let phone = DeskPhone::new(entry, ports, 0);
    let phone_run = phone.take_call(
        switch.sip,
        "agent_answers_with_events.xml",
        &[
            ("answer_after_ms", "100".to_string()),
            ("who_hangs_up", "caller".into()),
            ("talk_ms", "0".into()),
        ],
        Duration::from_secs(60),
    );
    register(&phone, &switch);
    // The phone's SDP names this socket: the switch's agent leg sends here and takes RTP
    // from here, so the test speaks and presses keys as the agent's phone.
    let agent_rtp = UdpSocket::bind(("127.0.0.1", phone.rtp_sink)).expect("bind the phone's RTP");
    agent_rtp
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("read timeout");

    let mut caller = caller_bridged_to_the_agent(&switch, "agent-keys");
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(5);
    let agent_leg = loop {
        caller.talk(Duration::from_millis(20));
        if let Ok((_, from)) = agent_rtp.recv_from(&mut buf) {
            break from;
        }
        assert!(
            Instant::now() < deadline,
            "the switch sent the agent's phone no RTP within 5 s\n{}",
            switch.log_tail()
        );
    };

    // *4 then 2, as an agent choosing a hold reason presses them, then a word.
    let (ssrc, mut seq, mut ts) = (0xA6E7_0001u32, 1000u16, 50_000u32);
    let send = |seq: u16, ts: u32, pt: u8, marker: bool, payload: &[u8]| {
        let packet = rtp_bytes(&RtpOut {
            payload_type: pt,
            marker,
            seq,
            timestamp: ts,
            ssrc,
            payload,
        });
        agent_rtp.send_to(&packet, agent_leg).expect("send RTP");
    };
    let mut heard = Vec::new();
    for digit in ['*', '4', '2'] {
        for (i, (duration, end)) in [(160u16, false), (320, false), (480, true), (480, true)]
            .into_iter()
            .enumerate()
        {
            let [d0, d1] = duration.to_be_bytes();
            let flags = if end { 0x80 | 10 } else { 10 };
            send(seq, ts, 101, i == 0, &[event_code(digit), flags, d0, d1]);
            seq = seq.wrapping_add(1);
            heard.extend(caller.talk(Duration::from_millis(20)));
        }
        ts = ts.wrapping_add(1600);
    }
    for index in 0..5u8 {
        send(seq, ts, 8, index == 0, &marked_payload(index));
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
        heard.extend(caller.talk(Duration::from_millis(20)));
    }
    heard.extend(caller.talk(Duration::from_millis(300)));
    caller.hang_up();
    let _ = caller.wait_for_bye(Duration::from_millis(200));
    let phone_run = phone_run.join().expect("phone thread");
    assert_sipp_ok("the desk phone", &phone_run, &switch);

    let events: Vec<&ReceivedRtp> = heard
        .iter()
        .filter(|p| p.payload_type == caller.event_pt)
        .collect();
    assert_eq!(
        events.len(),
        0,
        "the agent's keys reached the caller as telephone-events: {events:?}"
    );
    let voice: Vec<u8> = heard.iter().filter_map(marked_index).collect();
    assert_eq!(
        voice,
        vec![0, 1, 2, 3, 4],
        "the agent's voice after the keys reaches the caller"
    );
}
