//! The calls the switch refuses, and how it stops, as a SIPp caller sees them (README: "A call
//! the switch cannot take (shutting down, at `max_calls`, out of RTP ports) gets 503 with
//! Retry-After at once rather than ringing on"; "SIGINT/SIGTERM: new calls get 503, calls in
//! progress get BYE, records are flushed, exit 0").
//! Each test reserves its own port block (`PortBlock::reserve`).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Retry-After of a 503 for a busy switch (at `max_calls`, out of RTP ports), in seconds:
/// `RETRY_AFTER_BUSY_S` in src/switch/mod.rs.
const RETRY_AFTER_BUSY: &str = "5";
/// Retry-After of a 503 from a switch shutting down: `RETRY_AFTER_SHUTDOWN_S`.
const RETRY_AFTER_SHUTDOWN: &str = "60";

/// "At once": a refusal must come well before the first ring of the shipped cadence would end
/// (1 s), which is when a call that rang on would get its answer. On loopback the 503 takes a
/// few milliseconds; the rest is room for a loaded test machine.
const AT_ONCE: Duration = Duration::from_millis(250);

/// What one `caller_gets_503.xml` call saw.
struct Refusal {
    retry_after: String,
    rang: bool,
    /// From the INVITE leaving to the 503 arriving, on SIPp's clock.
    after: Duration,
}

fn refusal(run: &SippRun) -> Refusal {
    let retry_after = run
        .log_lines("retry_after")
        .first()
        .map(|line| line.trim_start_matches("retry_after").trim().to_string())
        .unwrap_or_else(|| panic!("the caller logged no Retry-After\n{}", run.report()));
    let invite = run.logged_times("invite");
    let refused = run.logged_times("refused");
    assert_eq!(
        (invite.len(), refused.len()),
        (1, 1),
        "one INVITE and one 503\n{}",
        run.report()
    );
    Refusal {
        retry_after,
        rang: !run.logged_times("ringing").is_empty(),
        after: Duration::from_secs_f64((refused[0] - invite[0]).max(0.0)),
    }
}

/// The caller got 503 with this Retry-After, without ringing first, at once.
fn assert_refused_at_once(run: &SippRun, switch: &Switch, retry_after: &str) {
    assert_sipp_ok("SIPp", run, switch);
    let refusal = refusal(run);
    assert_eq!(
        refusal.retry_after,
        retry_after,
        "the 503's Retry-After\n{}",
        run.report()
    );
    assert!(
        !refusal.rang,
        "a call the switch cannot take was rung (180) before the 503\n{}",
        run.report()
    );
    assert!(
        refusal.after < AT_ONCE,
        "the 503 came {:?} after the INVITE, not at once (< {AT_ONCE:?})",
        refusal.after
    );
}

/// Waits (bounded) until the switch's records show each of these calls confirmed (ACKed);
/// says which was not, and why, otherwise.
fn calls_confirmed(
    switch: &Switch,
    sip_call_ids: &[String],
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    for id in sip_call_ids {
        loop {
            let call = switch.call(id);
            if call
                .as_ref()
                .is_some_and(|c| event_names(c).iter().any(|n| n == "confirmed"))
            {
                break;
            }
            let ended = call.as_ref().is_some_and(|c| !c["outcome"].is_null());
            if ended || Instant::now() >= deadline {
                return Err(format!(
                    "call {id} was not up (ended, or not up within {limit:?}); its record: {}",
                    call.map(|c| format!("{c:#}"))
                        .unwrap_or_else(|| "none".into())
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

fn wait_until_confirmed(switch: &Switch, sip_call_ids: &[String], limit: Duration) {
    if let Err(why) = calls_confirmed(switch, sip_call_ids, limit) {
        panic!("{why}\n{}", switch.log_tail());
    }
}

/// Waits (bounded) until the switch's record of this call shows it ringing.
fn wait_until_ringing(switch: &Switch, sip_call_id: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let call = switch.call(sip_call_id);
        if call
            .as_ref()
            .is_some_and(|c| event_names(c).iter().any(|n| n == "ringing"))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "call {sip_call_id} was not ringing within {limit:?}; its record: {}\n{}",
            call.map(|c| format!("{c:#}"))
                .unwrap_or_else(|| "none".into()),
            switch.log_tail()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// A second SIPp in the same test needs media ports of its own (the first has the block's
/// `sipp_media`, and SIPp binds the one two above as well).
fn second_sipp_media(ports: PortBlock) -> u16 {
    ports.base + 76
}

/// `up` callers get through and stay; then one more caller must get 503 with `retry_after`,
/// at once; then the `up` calls end normally.
fn calls_up_then_one_refused(switch: &Switch, ports: PortBlock, up: u32, retry_after: &str) {
    let callers = Sipp::new("basic_call.xml", switch)
        .call_id_tag("within-capacity")
        .calls(up)
        .limit(up)
        .rate(10)
        .hold(Duration::from_secs(5))
        .timeout(Duration::from_secs(30));
    let ids: Vec<String> = (1..=up).map(|n| callers.call_id(n)).collect();
    let callers = callers.spawn();
    if let Err(why) = calls_confirmed(switch, &ids, Duration::from_secs(15)) {
        // What the callers saw says more than the switch's records.
        let callers = callers.join().expect("SIPp thread");
        assert_sipp_ok("SIPp", &callers, switch);
        panic!("{why}");
    }

    let refused = Sipp::new("caller_gets_503.xml", switch)
        .call_id_tag("beyond-capacity")
        .media_port(second_sipp_media(ports))
        .timeout(Duration::from_secs(10))
        .run();
    assert_refused_at_once(&refused, switch, retry_after);

    // Not one earlier: every call within the capacity was answered and ended normally.
    let callers = callers.join().expect("SIPp thread");
    assert_sipp_ok("SIPp", &callers, switch);
    assert_eq!(
        callers.call_counts(),
        Some((up as u64, 0)),
        "SIPp's successful and failed calls within the capacity\n{}",
        callers.report()
    );
}

#[test]
fn at_max_calls_the_next_call_gets_503_with_retry_after_5_and_not_one_earlier() {
    const MAX_CALLS: u32 = 3;
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    config.set_standards(&[("max_calls", &MAX_CALLS.to_string())]);
    let switch = Switch::start_with(ports, config);
    calls_up_then_one_refused(&switch, ports, MAX_CALLS, RETRY_AFTER_BUSY);
}

#[test]
fn out_of_rtp_ports_the_next_call_gets_503_with_retry_after_5() {
    // Two even ports (RTP), each with its odd RTCP neighbour: room for two calls.
    let ports = PortBlock::reserve();
    let low = ports.base;
    assert_eq!(low % 2, 0, "the range must start on an even port");
    let switch = Switch::start_with_options(
        ports,
        None,
        ServeOptions {
            rtp_ports: Some((low, low + 3)),
            ..ServeOptions::default()
        },
    );
    calls_up_then_one_refused(&switch, ports, 2, RETRY_AFTER_BUSY);
}

#[test]
fn a_call_arriving_while_the_switch_drains_gets_503_with_retry_after_60() {
    // A call in progress keeps the switch draining after SIGTERM: its caller answers the
    // switch's BYE only 2.5 s later (the switch waits up to 5 s for its BYEs).
    let ports = PortBlock::reserve();
    let mut switch = Switch::start(ports);
    let in_progress = Sipp::new("caller_stays_until_the_switch_hangs_up.xml", &switch)
        .set("bye_answer_delay_ms", 2500)
        .timeout(Duration::from_secs(30));
    let in_progress_id = in_progress.call_id(1);
    let in_progress = in_progress.spawn();
    wait_until_confirmed(&switch, &[in_progress_id], Duration::from_secs(10));

    switch.send_signal(Signal::Term);
    // The INVITE must arrive after the switch took the signal, not race it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !switch.log_tail().contains("shutting down") {
        assert!(
            Instant::now() < deadline,
            "the switch did not start shutting down within 5 s of SIGTERM\n{}",
            switch.log_tail()
        );
        thread::sleep(Duration::from_millis(20));
    }
    let refused = Sipp::new("caller_gets_503.xml", &switch)
        .call_id_tag("while-draining")
        .media_port(second_sipp_media(ports))
        .timeout(Duration::from_secs(10))
        .run();

    let status = switch.wait_for_exit(Duration::from_secs(15));
    let in_progress = in_progress.join().expect("SIPp thread");
    assert_refused_at_once(&refused, &switch, RETRY_AFTER_SHUTDOWN);
    assert_sipp_ok("SIPp", &in_progress, &switch);
    assert!(
        status.is_some_and(|s| s.code() == Some(0)),
        "hotline serve should exit 0 once drained, got {status:?}"
    );
}

/// On `signal`: the ringing call gets 503 with Retry-After, the call in progress gets BYE, and
/// the switch exits 0 with the records written.
fn shutdown_on(signal: Signal) {
    // The switch answers as ring 2 ends, 3.5 s after the INVITE: long enough for the second
    // call to be caught ringing.
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    config.set_standards(&[
        ("ring_cadence", "\"500ms on, 2500ms off\""),
        ("answer_after_rings", "2"),
    ]);
    let mut switch = Switch::start_with(ports, config);
    let in_progress = Sipp::new("caller_stays_until_the_switch_hangs_up.xml", &switch)
        .set("bye_answer_delay_ms", 0)
        .timeout(Duration::from_secs(30));
    let in_progress_id = in_progress.call_id(1);
    let in_progress = in_progress.spawn();
    wait_until_confirmed(
        &switch,
        std::slice::from_ref(&in_progress_id),
        Duration::from_secs(15),
    );

    let ringing = Sipp::new("caller_gets_503.xml", &switch)
        .call_id_tag("ringing")
        .media_port(second_sipp_media(ports))
        .timeout(Duration::from_secs(20));
    let ringing_id = ringing.call_id(1);
    let ringing = ringing.spawn();
    wait_until_ringing(&switch, &ringing_id, Duration::from_secs(3));

    switch.send_signal(signal);
    let status = switch.wait_for_exit(Duration::from_secs(15));
    let ringing = ringing.join().expect("SIPp thread");
    let in_progress = in_progress.join().expect("SIPp thread");

    assert_sipp_ok("SIPp", &ringing, &switch);
    let refusal = refusal(&ringing);
    assert!(
        refusal.rang,
        "the call was refused before it rang\n{}",
        ringing.report()
    );
    assert_eq!(
        refusal.retry_after,
        RETRY_AFTER_SHUTDOWN,
        "the ringing call's 503 Retry-After\n{}",
        ringing.report()
    );
    assert_sipp_ok("SIPp", &in_progress, &switch);
    assert_eq!(
        in_progress.logged_times("bye").len(),
        1,
        "the call in progress got the switch's BYE\n{}",
        in_progress.report()
    );
    assert!(
        status.is_some_and(|s| s.code() == Some(0)),
        "hotline serve should exit 0 on {signal:?}, got {status:?}"
    );
    // Records are flushed: the stopped switch's database says who ended each call.
    let call = switch.ended_call(&in_progress_id, Duration::from_secs(5));
    assert_eq!(event(&call, "hangup")["by"], "switch", "{call:#}");
    let call = switch.ended_call(&ringing_id, Duration::from_secs(5));
    assert_eq!(event(&call, "rejected")["status"], 503, "{call:#}");
}

#[test]
fn sigterm_refuses_the_ringing_call_with_503_ends_calls_in_progress_with_bye_and_exits_0() {
    shutdown_on(Signal::Term);
}

#[test]
fn sigint_refuses_the_ringing_call_with_503_ends_calls_in_progress_with_bye_and_exits_0() {
    shutdown_on(Signal::Int);
}
