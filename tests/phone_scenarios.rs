//! The phone-side test scenarios checked against each other, without the switch: a desk phone
//! scenario (`agent_*.xml`, `phone_register.xml`, baresip's account line) faces a SIPp
//! stand-in (`stub_*.xml`) for the switch, so when an agent test fails, the phone is known to
//! work and the switch is what to look at. Also the harness's own G.711 and tone helpers.
//! Each test reserves its own port block (`PortBlock::reserve`).

mod common;

use std::time::Duration;

use common::*;

const SWITCH_HZ: f64 = 700.0;

fn assert_ok(what: &str, run: &SippRun) {
    assert!(run.success(), "{what} failed\n{}", run.report());
}

/// A stand-in switch (a UAC scenario) aimed at the phone's SIP port.
fn stub_towards(phone: &DeskPhone, scenario: &str) -> Sipp {
    let target = format!("127.0.0.1:{}", phone.sip_port)
        .parse()
        .expect("phone addr");
    Sipp::towards(scenario, target, phone.ports)
        .service(&phone.entry.extension)
        .key("rtp_sink", phone.ports.rtp_sink())
        .file("switch_audio.pcap", tone_pcap(8, SWITCH_HZ, 30))
        .timeout(Duration::from_secs(20))
}

#[test]
fn g711_helpers_invert_each_other_and_tones_are_recognised() {
    for byte in 0..=255u8 {
        let linear = ulaw_to_linear(byte);
        assert_eq!(
            ulaw_to_linear(linear_to_ulaw(linear)),
            linear,
            "µ-law {byte:#x}"
        );
        let linear = alaw_to_linear(byte);
        assert_eq!(
            alaw_to_linear(linear_to_alaw(linear)),
            linear,
            "A-law {byte:#x}"
        );
    }
    let tone: Vec<i16> = (0..160)
        .map(|n| (8000.0 * (2.0 * std::f64::consts::PI * 700.0 * n as f64 / 8000.0).sin()) as i16)
        .collect();
    assert!(tone_share(&tone, 700.0) > 0.9);
    assert!(tone_share(&tone, 1100.0) < 0.1);
    assert_eq!(tone_share(&[0; 160], 700.0), 0.0, "silence is no tone");
}

#[test]
fn sipp_desk_phone_answers_at_a_chosen_ring_and_hangs_up_with_audio_both_ways() {
    let ports = PortBlock::reserve();
    let phone = DeskPhone::new(PhoneEntry::desk_phone("1001", "s"), ports, 0);
    let stub_target = "127.0.0.1:9".parse().expect("unused target");
    let phone_run = phone.take_call(
        stub_target,
        "agent_answers.xml",
        &[
            ("answer_after_ms", "600".into()),
            ("who_hangs_up", "agent".into()),
            ("talk_ms", "2000".into()),
        ],
        Duration::from_secs(20),
    );
    let stub_sink = RtpSink::listen(ports.rtp_sink());
    let phone_sink = RtpSink::listen(phone.rtp_sink);
    let stub = stub_towards(&phone, "stub_switch_offers.xml")
        .set("who_hangs_up", "agent")
        .run();
    let phone_run = phone_run.join().expect("phone thread");
    let stub_heard = stub_sink.finish();
    let phone_heard = phone_sink.finish();
    assert_ok("the stand-in switch", &stub);
    assert_ok("the desk phone", &phone_run);

    let ringing = phone_run.logged_times("invite");
    let acked = phone_run.logged_times("ack");
    assert_eq!((ringing.len(), acked.len()), (1, 1), "{}", phone_run.logs);
    let answered_after = acked[0] - ringing[0];
    assert!(
        (0.55..0.9).contains(&answered_after),
        "answer_after_ms 600 answered after {answered_after:.3} s"
    );
    assert!(
        phone_run.log_lines("invite")[0].contains("sip:13900000001@"),
        "the phone logs who called: {}",
        phone_run.logs
    );
    assert!(
        stub_heard.tone_frames(phone.tone_hz) >= 50,
        "the stand-in switch heard {} frames of the phone's tone",
        stub_heard.tone_frames(phone.tone_hz)
    );
    assert!(
        phone_heard.tone_frames(SWITCH_HZ) >= 50,
        "the phone heard {} frames of the stand-in's tone",
        phone_heard.tone_frames(SWITCH_HZ)
    );
}

#[test]
fn sipp_desk_phone_waits_for_the_far_end_bye() {
    let ports = PortBlock::reserve();
    let phone = DeskPhone::new(PhoneEntry::desk_phone("1001", "s"), ports, 0);
    let phone_run = phone.take_call(
        "127.0.0.1:9".parse().expect("addr"),
        "agent_answers.xml",
        &[
            ("answer_after_ms", "0".into()),
            ("who_hangs_up", "caller".into()),
            ("talk_ms", "0".into()),
        ],
        Duration::from_secs(20),
    );
    let stub = stub_towards(&phone, "stub_switch_offers.xml")
        .set("who_hangs_up", "caller")
        .hold(Duration::from_secs(1))
        .run();
    let phone_run = phone_run.join().expect("phone thread");
    assert_ok("the stand-in switch", &stub);
    assert_ok("the desk phone", &phone_run);
    assert_eq!(phone_run.logged_times("bye_received").len(), 1);
}

#[test]
fn sipp_desk_phone_that_never_answers_takes_the_cancel() {
    let ports = PortBlock::reserve();
    let phone = DeskPhone::new(PhoneEntry::desk_phone("1001", "s"), ports, 0);
    let phone_run = phone.take_call(
        "127.0.0.1:9".parse().expect("addr"),
        "agent_never_answers.xml",
        &[],
        Duration::from_secs(20),
    );
    let stub = stub_towards(&phone, "stub_switch_cancels.xml")
        .set("cancel_after_ms", 1100)
        .run();
    let phone_run = phone_run.join().expect("phone thread");
    assert_ok("the stand-in switch", &stub);
    assert_ok("the unanswering phone", &phone_run);
    let rang = phone_run.logged_times("cancel")[0] - phone_run.logged_times("invite")[0];
    assert!(
        (1.05..1.4).contains(&rang),
        "CANCEL logged {rang:.3} s after INVITE"
    );
}

#[test]
fn sipp_desk_phone_that_is_busy_refuses_with_486() {
    let ports = PortBlock::reserve();
    let phone = DeskPhone::new(PhoneEntry::desk_phone("1001", "s"), ports, 0);
    let phone_run = phone.take_call(
        "127.0.0.1:9".parse().expect("addr"),
        "agent_busy.xml",
        &[],
        Duration::from_secs(20),
    );
    let stub = stub_towards(&phone, "stub_switch_offers.xml")
        .set("who_hangs_up", "caller")
        .run();
    let phone_run = phone_run.join().expect("phone thread");
    assert_ok("the stand-in switch", &stub);
    assert_ok("the busy phone", &phone_run);
    assert!(
        stub.messages.contains("SIP/2.0 486 Busy Here"),
        "the stand-in got no 486:\n{}",
        stub.report()
    );
}

#[test]
fn sipp_desk_phone_registers_with_digest_credentials_for_its_contact_port() {
    let ports = PortBlock::reserve();
    let phone = DeskPhone::new(PhoneEntry::desk_phone("1001", "sample-1001"), ports, 0);
    let registrar_port = ports.sip_port();
    let registrar = Sipp::towards(
        "stub_registrar.xml",
        "127.0.0.1:9".parse().expect("addr"),
        ports,
    )
    .local_port(registrar_port)
    .media_port(ports.base + 64)
    .timeout(Duration::from_secs(15))
    .spawn();
    assert!(wait_for_udp_listener(
        registrar_port,
        Duration::from_secs(10)
    ));
    let register = phone.register(
        format!("127.0.0.1:{registrar_port}")
            .parse()
            .expect("registrar addr"),
    );
    let registrar = registrar.join().expect("registrar thread");
    assert_ok("the REGISTER", &register);
    assert_ok("the stand-in registrar", &registrar);
    let authorization = registrar.log_lines("authorization").join("\n");
    assert!(
        authorization.contains("username=\"1001\"") && authorization.contains("realm=\"hotline\""),
        "{authorization}"
    );
    let contact = registrar.log_lines("contact").join("\n");
    assert!(
        contact.contains(&format!("sip:1001@127.0.0.1:{}", phone.sip_port)),
        "the binding names the call-taking port: {contact}"
    );
}

#[test]
fn queued_caller_scenario_presses_one_speaks_and_takes_the_far_end_bye() {
    let ports = PortBlock::reserve();
    // A SIPp "phone" stands in for the switch answering the caller and hanging up.
    let far_end = DeskPhone::new(PhoneEntry::desk_phone("4008", "s"), ports, 0);
    let far_run = far_end.take_call(
        "127.0.0.1:9".parse().expect("addr"),
        "agent_answers.xml",
        &[
            ("answer_after_ms", "0".into()),
            ("who_hangs_up", "agent".into()),
            ("talk_ms", "3000".into()),
        ],
        Duration::from_secs(20),
    );
    let far_sink = RtpSink::listen(far_end.rtp_sink);
    let caller = Sipp::towards(
        "queue_caller.xml",
        format!("127.0.0.1:{}", far_end.sip_port)
            .parse()
            .expect("addr"),
        ports,
    )
    .key("caller", "13900000001")
    .key("codec_pt", 0)
    .key("codec_name", "PCMU")
    .key("rtp_sink", ports.rtp_sink())
    .file("caller_audio.pcap", tone_pcap(0, 700.0, 10))
    .set("first_digit_ms", 200)
    .set("who_hangs_up", "switch")
    .timeout(Duration::from_secs(20))
    .run();
    let far_run = far_run.join().expect("far end thread");
    let heard = far_sink.finish();
    assert_ok("the queued caller", &caller);
    assert_ok("the stand-in far end", &far_run);
    assert!(caller.log_lines("digit_sent").len() == 1, "{}", caller.logs);
    assert!(
        heard.payload_types.contains(&0) && heard.payload_types.contains(&101),
        "the caller sent PCMU and an RFC 4733 digit: {:?}",
        heard.payload_types
    );
    assert!(
        heard.tone_frames(700.0) >= 50,
        "the caller's tone: {}",
        heard.tone_frames(700.0)
    );
}

#[test]
fn baresip_registers_with_its_password_and_answers_automatically() {
    let ports = PortBlock::reserve();
    let registrar_port = ports.sip_port();
    let registrar = Sipp::towards(
        "stub_registrar.xml",
        "127.0.0.1:9".parse().expect("addr"),
        ports,
    )
    .local_port(registrar_port)
    .media_port(ports.base + 64)
    .timeout(Duration::from_secs(15))
    .spawn();
    assert!(wait_for_udp_listener(
        registrar_port,
        Duration::from_secs(10)
    ));
    let mut phone = Baresip::start(
        ports,
        &baresip_agent_account("1001", "sample-1001", registrar_port),
        600.0,
        Duration::from_secs(8),
    );
    let registrar = registrar.join().expect("registrar thread");
    assert_ok("the stand-in registrar", &registrar);
    assert!(
        phone.wait_for("200 OK", Duration::from_secs(5)),
        "baresip did not report its registration:\n{}",
        phone.console()
    );
    let contact = registrar.log_lines("contact").join("\n");
    assert!(
        contact.contains(&format!("@127.0.0.1:{}", phone.sip_port)),
        "baresip's binding names its SIP port: {contact}"
    );

    let sink = RtpSink::listen(ports.rtp_sink());
    let target = format!("127.0.0.1:{}", phone.sip_port)
        .parse()
        .expect("baresip addr");
    let stub = Sipp::towards("stub_switch_offers.xml", target, ports)
        .service("1001")
        .key("rtp_sink", ports.rtp_sink())
        .file("switch_audio.pcap", tone_pcap(8, SWITCH_HZ, 10))
        .set("who_hangs_up", "caller")
        .hold(Duration::from_secs(3))
        .timeout(Duration::from_secs(20))
        .run();
    let heard = sink.finish();
    phone.finish(Duration::from_secs(15));
    assert_ok("the stand-in switch offering baresip a call", &stub);
    assert!(
        phone.console().contains("Call established"),
        "baresip did not answer by itself:\n{}",
        phone.console()
    );
    assert!(
        heard.tone_frames(600.0) >= 50,
        "the stand-in heard {} frames of baresip's microphone tone",
        heard.tone_frames(600.0)
    );
}

#[test]
fn desk_phone_feature_code_answers_the_407_challenge_and_takes_the_bye() {
    let ports = PortBlock::reserve();
    let stub_port = ports.sip_port();
    let stub = Sipp::towards(
        "stub_feature_code.xml",
        "127.0.0.1:9".parse().expect("addr"),
        ports,
    )
    .local_port(stub_port)
    .media_port(ports.base + 64)
    .timeout(Duration::from_secs(15))
    .spawn();
    assert!(wait_for_udp_listener(stub_port, Duration::from_secs(10)));
    let phone = Sipp::towards(
        "phone_dials_feature_code.xml",
        format!("127.0.0.1:{stub_port}").parse().expect("stub addr"),
        ports,
    )
    .service("*21")
    .key("user", "1001")
    .credentials("1001", "sample-1001")
    .timeout(Duration::from_secs(15))
    .run();
    let stub = stub.join().expect("stub thread");
    assert_ok("the phone dialling *21", &phone);
    assert_ok("the stand-in switch", &stub);
    let authorization = stub.log_lines("authorization").join("\n");
    assert!(
        authorization.contains("username=\"1001\""),
        "{authorization}"
    );
    let dialled = stub.log_lines("dialled").join("\n");
    assert!(dialled.contains("sip:*21"), "{dialled}");
}
