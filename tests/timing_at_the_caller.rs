//! The README's timing promises measured at the caller, not read from the switch's own
//! timeline: "the 200 OK after `answer_after_rings` rings of the `ring_cadence` (default one
//! ring of "1s on, 4s off": the answer comes 1 s after the INVITE)" and "the greeting's first
//! RTP packet leaves within one 20 ms tick of the ACK". SIPp logs its own `gettimeofday`
//! times; the greeting's first packet is timed on the same wall clock where it arrives.
//! Each test reserves its own port block (`PortBlock::reserve`).

mod common;

use std::net::UdpSocket;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

/// Each test times `CALLS` calls one after the other. The switch's timers are exact to the
/// millisecond, but on a loaded two-core test machine any one call may be scheduled late (the
/// switch, SIPp or the sink waiting for a core). Measured here at load average 11-14 (other
/// builds on the two cores): of 128 answers the median came 3.7 ms after the promised time,
/// 11 more than 15 ms, the worst 108 ms (first calls are the slowest); of 64 greetings the
/// median began 21.3 ms after the ACK, one more than 35 ms (44.8 ms), 8 under 20 ms (an ACK
/// that landed just before a tick). So the promise is held by the best of the calls, with a
/// small allowance for the clocks (tokio's 1 ms timer resolution, SIPp writing its log line
/// before the message leaves, loopback), and every call is held to a ceiling far below what
/// a broken promise costs (one more ring is 500 ms on the fast cadence).
const CALLS: u32 = 3;
const CLOCK_ALLOWANCE: Duration = Duration::from_millis(15);
const SCHEDULING_CEILING: Duration = Duration::from_millis(250);

/// "180 Ringing goes out at once".
const RINGING_AT_ONCE: Duration = Duration::from_millis(100);

/// One media tick of the switch: 20 ms of G.711 per packet.
const TICK: Duration = Duration::from_millis(20);

/// The times the caller logged as `word`, one per call, in seconds since the epoch.
fn logged_per_call(run: &SippRun, word: &str) -> Vec<f64> {
    let times = run.logged_times(word);
    assert_eq!(
        times.len(),
        CALLS as usize,
        "one {word} time per call\n{}",
        run.report()
    );
    times
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Each call's span from `from` to `to` (seconds since the epoch), in milliseconds.
fn spans_ms(from: &[f64], to: &[f64]) -> Vec<f64> {
    from.iter().zip(to).map(|(a, b)| (b - a) * 1000.0).collect()
}

fn best(spans: &[f64]) -> f64 {
    spans.iter().copied().fold(f64::INFINITY, f64::min)
}

/// `CALLS` calls one after the other.
fn timed_calls(switch: &Switch, hold: Duration) -> Sipp {
    Sipp::new("timed_call.xml", switch)
        .calls(CALLS)
        .limit(1)
        .rate(10)
        .hold(hold)
        .timeout(Duration::from_secs(30))
}

/// Checks, on SIPp's clock, that 180 came at once and the 200 OK `answer_after` after the
/// INVITE left: never earlier, the best call within the clock allowance, every call within
/// the scheduling ceiling.
fn assert_answered_after(switch: &Switch, answer_after: Duration) {
    let run = timed_calls(switch, Duration::from_millis(200)).run();
    assert_sipp_ok("SIPp", &run, switch);
    assert_eq!(
        run.call_counts(),
        Some((CALLS as u64, 0)),
        "{}",
        run.report()
    );
    let invite = logged_per_call(&run, "invite");
    let ringing = spans_ms(&invite, &logged_per_call(&run, "ringing"));
    let answered = spans_ms(&invite, &logged_per_call(&run, "answered"));
    eprintln!("at the caller: 180 after {ringing:.1?} ms, 200 after {answered:.1?} ms");
    let promised = ms(answer_after);
    for (ringing, answered) in ringing.iter().zip(&answered) {
        assert!(
            *ringing < ms(RINGING_AT_ONCE),
            "180 Ringing came {ringing:.1} ms after the INVITE, not at once"
        );
        assert!(
            *answered >= promised && *answered <= promised + ms(SCHEDULING_CEILING),
            "a 200 OK came {answered:.1} ms after the INVITE; promised {promised} ms"
        );
    }
    let best = best(&answered);
    assert!(
        best <= promised + ms(CLOCK_ALLOWANCE),
        "the best of {CALLS} answers came {best:.1} ms after the INVITE; promised {promised} ms \
         (+{CLOCK_ALLOWANCE:?} for the clocks)"
    );
}

#[test]
fn on_the_shipped_cadence_the_caller_is_answered_one_second_after_its_invite() {
    // Shipped: one ring of "1s on, 4s off", so the ring ends (and the answer comes) at 1 s.
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    assert_answered_after(&switch, Duration::from_millis(1000));
}

#[test]
fn on_a_fast_cadence_the_caller_is_answered_as_ring_two_ends() {
    // Ring 2 of "200ms on, 300ms off" ends at one period (500 ms) plus the on-time (200 ms),
    // inside the three rings of S1 (ring 3 would end at 1200 ms).
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    config.set_standards(&[
        ("ring_cadence", "\"200ms on, 300ms off\""),
        ("answer_after_rings", "2"),
    ]);
    let switch = Switch::start_with(ports, config);
    assert_answered_after(&switch, Duration::from_millis(700));
}

/// Listens where the callers' SDP points the switch's RTP and notes, on the wall clock (the
/// one SIPp's `gettimeofday` reads), when the first packet carrying sound arrived in each
/// stream (SSRC), in the order the streams began to sound. The switch sends silence from
/// its answer on, so a call's first loud packet is its greeting's first.
fn first_loud_packets(port: u16, limit: Duration) -> thread::JoinHandle<Vec<(u32, SystemTime)>> {
    let socket = UdpSocket::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("bind the RTP sink on 127.0.0.1:{port}: {e}"));
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("read timeout");
    thread::spawn(move || {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 2048];
        let mut first: Vec<(u32, SystemTime)> = Vec::new();
        while Instant::now() < deadline && first.len() < CALLS as usize {
            let Ok(n) = socket.recv(&mut buf) else {
                continue;
            };
            let arrived = SystemTime::now();
            let packet = &buf[..n];
            // PCMA (payload type 8) with a fixed 12-byte header: what the callers offered.
            if n <= 12 || packet[0] >> 6 != 2 || packet[1] & 0x7f != 8 {
                continue;
            }
            let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
            let loud = packet[12..]
                .iter()
                .any(|&b| alaw_to_linear(b).unsigned_abs() > 1000);
            if loud && first.iter().all(|(known, _)| *known != ssrc) {
                first.push((ssrc, arrived));
            }
        }
        first
    })
}

#[test]
fn the_greetings_first_packet_reaches_the_caller_within_one_tick_of_its_ack() {
    // The greeting is a tone from its first sample on, so its first packet is unmistakable.
    let ports = PortBlock::reserve();
    let config = ConfigCopy::of_shipped();
    write_microphone(
        &config.path().join("prompts/zh/welcome.wav"),
        1000.0,
        Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let switch = Switch::start_with(ports, config);
    let greetings = first_loud_packets(ports.rtp_sink(), Duration::from_secs(30));
    let run = timed_calls(&switch, Duration::from_millis(300))
        .key("rtp_sink", ports.rtp_sink())
        .run();
    assert_sipp_ok("SIPp", &run, &switch);
    assert_eq!(
        run.call_counts(),
        Some((CALLS as u64, 0)),
        "{}",
        run.report()
    );
    let acks = logged_per_call(&run, "ack");
    let greetings: Vec<f64> = greetings
        .join()
        .expect("RTP sink thread")
        .iter()
        .map(|(_, at)| {
            at.duration_since(UNIX_EPOCH)
                .expect("after 1970")
                .as_secs_f64()
        })
        .collect();
    assert_eq!(
        greetings.len(),
        CALLS as usize,
        "a greeting reached each caller (one stream each)\n{}",
        run.report()
    );
    let after = spans_ms(&acks, &greetings);
    eprintln!("at the caller: the greetings' first packets {after:.1?} ms after the ACKs");
    for after in &after {
        // Before the ACK it would be played to a caller who may not be listening yet.
        assert!(
            *after >= 0.0 && *after <= ms(TICK + SCHEDULING_CEILING),
            "a greeting's first packet came {after:.1} ms after the ACK left"
        );
    }
    let best = best(&after);
    assert!(
        best <= ms(TICK + CLOCK_ALLOWANCE),
        "the best of {CALLS} greetings began {best:.1} ms after the ACK left; promised within \
         one {TICK:?} tick (+{CLOCK_ALLOWANCE:?} for the clocks)"
    );
}
