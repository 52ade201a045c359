//! A switch waiting for calls sleeps: before its first call and after its last one, the
//! media worker and the recording service do not wake on timers of their own (each woke 50
//! times a second) — and a recorded call that ended just before the worker went to sleep
//! still gets its recording's outcome on its record. Wake-ups are read from
//! `/proc/PID/task/TID/status`, as `tests/load/idle.sh` does.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Context switches (voluntary and not) of the switch's threads named `thread`.
fn switches(pid: u32, thread: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("the switch's threads") {
        let task = task.unwrap().path();
        let Ok(name) = std::fs::read_to_string(task.join("comm")) else {
            continue;
        };
        if name.trim_end() != thread {
            continue;
        }
        let status = std::fs::read_to_string(task.join("status")).unwrap_or_default();
        total += status
            .lines()
            .filter(|line| line.contains("ctxt_switches"))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    total
}

/// How often each of the media worker and the recording service woke in one second.
fn wake_ups_in_a_second(switch: &Switch) -> (u64, u64) {
    let pid = switch.pid();
    let before = (switches(pid, "media-0"), switches(pid, "recordings"));
    std::thread::sleep(Duration::from_secs(1));
    (
        switches(pid, "media-0") - before.0,
        switches(pid, "recordings") - before.1,
    )
}

#[test]
fn a_switch_with_no_call_does_not_wake_and_a_recorded_call_still_gets_its_outcome() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    // Start-up settles (prompts decoded, the first review pass).
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        switches(switch.pid(), "media-0") > 0 && switches(switch.pid(), "recordings") > 0,
        "the threads are there to be measured"
    );
    let (media, recordings) = wake_ups_in_a_second(&switch);
    assert!(
        media <= 5 && recordings <= 5,
        "before any call: media worker woke {media} times, recording service {recordings} times in 1 s"
    );

    let sipp = Sipp::new("basic_call.xml", &switch)
        .call_id_tag("idle")
        .key("rtp_sink", ports.rtp_sink())
        .hold(Duration::from_millis(1500));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    assert_sipp_ok("the caller", &run, &switch);
    switch.ended_call(&call_id, Duration::from_secs(10));

    // The recording is finished on the service's thread after the leg ended; its outcome
    // reaches the record although the worker has no leg left to tick for.
    let deadline = Instant::now() + Duration::from_secs(10);
    let call = loop {
        let call = switch.call(&call_id).expect("the call's record");
        if call["recording"]["state"] == "complete" {
            break call;
        }
        assert!(
            Instant::now() < deadline,
            "the recording's outcome never reached the record: {call:#}\nlog:\n{}",
            switch.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        call["recording"]["sha256"].as_str().map(str::len),
        Some(64),
        "{call:#}"
    );

    let (media, recordings) = wake_ups_in_a_second(&switch);
    assert!(
        media <= 5 && recordings <= 5,
        "after the call: media worker woke {media} times, recording service {recordings} times in 1 s"
    );
}
