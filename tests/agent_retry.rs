//! A desk phone that refuses every offer (486 to each INVITE, as a phone on do-not-disturb
//! does) is offered the waiting call again only when its agent's rest after a refusal ends
//! (`retry_after_refusal`, 5 s by default): counted at the phone, a real SIPp, over a
//! bounded window.

mod common;

use std::time::Duration;

use common::*;

/// The caller's number (From user part); not in any tier.
const CALLER: &str = "13900000001";
/// A hotline that starts in the main menu, so the caller joins sales within a second.
const MENU_NUMBER: &str = "4018";

/// A PCMA caller who presses 1 (sales) half a second into the main menu and hangs up
/// `hangs_up_after` later.
fn quick_queued_caller(switch: &Switch, hangs_up_after: Duration) -> Sipp {
    let ports = switch.ports;
    Sipp::new("queue_caller.xml", switch)
        .service(MENU_NUMBER)
        .call_id_tag("retry-caller")
        .key("caller", CALLER)
        .key("codec_pt", 8)
        .key("codec_name", "PCMA")
        .key("rtp_sink", ports.rtp_sink())
        .file("caller_audio.pcap", tone_pcap(8, 700.0, 90))
        .set("first_digit_ms", 500)
        .set("who_hangs_up", "caller")
        .hold(hangs_up_after)
        .timeout(Duration::from_secs(40))
}

#[test]
fn a_phone_answering_486_to_everything_gets_one_invite_every_five_seconds_not_a_storm() {
    let ports = PortBlock::reserve();
    let busy = PhoneEntry::desk_phone("1001", "secret-1001");
    let config = ConfigCopy::for_agents(std::slice::from_ref(&busy));
    config.set_table(
        "hotline.menu_first",
        &[
            ("numbers", &format!("[\"{MENU_NUMBER}\"]")),
            ("language", "\"zh\""),
            ("flow", "\"main_menu\""),
        ],
    );
    // Never paused: the 5 s rest alone must hold the phone to one INVITE per rest.
    config.set_table("queue.sales", &[("pause_after_refusals", "0")]);
    let switch = Switch::start_with(ports, config);
    let phone = DeskPhone::new(busy, ports, 0);
    // The phone takes (refuses) any number of calls, for 25 s.
    let phone_run = Sipp::towards("agent_busy.xml", switch.sip, ports)
        .service(&phone.entry.extension)
        .local_port(phone.sip_port)
        .media_port(phone.media_port)
        .key("rtp_sink", phone.rtp_sink)
        .call_id_tag("phone-1001")
        .calls(100_000)
        .timeout(Duration::from_secs(25))
        .spawn();
    assert!(
        wait_for_udp_listener(phone.sip_port, Duration::from_secs(10)),
        "the desk phone's SIPp did not listen"
    );
    let registered = phone.register(switch.sip);
    assert_sipp_ok("REGISTER of desk phone 1001", &registered, &switch);

    let caller_run = quick_queued_caller(&switch, Duration::from_secs(16)).run();
    assert_sipp_ok("the caller", &caller_run, &switch);
    let phone_run = phone_run.join().expect("sipp thread");

    let invites = phone_run.logged_times("invite");
    assert!(
        !invites.is_empty(),
        "the phone got no INVITE:\n{}",
        phone_run.logs
    );
    let first = invites[0];
    // 12 s from the first offer: offers at 0, 5 and 10 s, each 2 s away from the edges.
    let in_window: Vec<f64> = invites
        .iter()
        .map(|t| t - first)
        .filter(|t| *t <= 12.0)
        .collect();
    assert_eq!(
        in_window.len(),
        3,
        "INVITEs at the phone in the 12 s from the first (of {} in all): {:?}",
        invites.len(),
        &in_window[..in_window.len().min(20)]
    );
    for (n, gap) in in_window.windows(2).map(|w| w[1] - w[0]).enumerate() {
        assert!(
            (4.9..5.5).contains(&gap),
            "offer {} came {gap:.3} s after the one before, not after the 5 s rest",
            n + 2
        );
    }
}
