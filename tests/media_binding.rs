//! Where the switch's media lives, seen from outside: RTP sockets bind the address SIP
//! listens on, not `--advertise` (behind 1:1 NAT the public address is not one of this
//! host's, so binding it fails and every call would end "media failed"), and
//! `--media-workers` takes 1 to 64 threads, and `--relay-batch-ms` a period that divides the
//! 20 ms tick (or 0).
//! Each test reserves its own port block (`PortBlock::reserve`).

mod common;

use std::process::Command;
use std::time::Duration;

use common::heard::PromptFrames;
use common::*;

#[test]
fn behind_one_to_one_nat_rtp_binds_the_listen_address_and_the_caller_hears_the_greeting() {
    let ports = PortBlock::reserve();
    // 192.0.2.1 (TEST-NET-1) is no address of this host: the NAT's public side.
    let switch = Switch::start_with_options(
        ports,
        None,
        ServeOptions {
            advertise: Some("192.0.2.1".parse().expect("IP")),
            ..ServeOptions::default()
        },
    );
    let prompts = PromptFrames::load(&switch.config_dir);
    let sink = RtpSink::listen(ports.rtp_sink());
    let sipp = Sipp::new("basic_call.xml", &switch)
        .call_id_tag("nat")
        .key("rtp_sink", ports.rtp_sink())
        .hold(Duration::from_millis(1500));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    let heard = sink.finish();
    // A switch that could not open the call's RTP socket hangs up at once ("media failed"),
    // and the caller's script fails on the unexpected BYE.
    assert_sipp_ok("the caller", &run, &switch);
    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    assert_eq!(event(&call, "hangup")["by"], "caller", "{call:#}");
    let labels: Vec<String> = prompts
        .heard(&heard.received, 10)
        .iter()
        .map(|h| h.label())
        .collect();
    assert_eq!(
        labels.first().map(String::as_str),
        Some("zh/welcome"),
        "{labels:?}"
    );
}

#[test]
fn a_media_worker_count_outside_one_to_sixty_four_is_refused_in_one_sentence() {
    for count in ["0", "65", "many"] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
        cmd.args(["serve", "--media-workers", count]);
        let (out, killed) = run_bounded(&mut cmd, Duration::from_secs(20));
        assert!(
            !killed,
            "hotline serve --media-workers {count} did not finish"
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "exit of --media-workers {count}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!(
                "error: invalid value '{count}' for '--media-workers <MEDIA_WORKERS>': \
                 \"{count}\" is not a number of media workers from 1 to 64"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn a_relay_batch_that_does_not_divide_the_tick_is_refused_in_one_sentence() {
    for (value, why) in [
        (
            "3",
            "3 ms is not a relay batch: it must be 0 (forward each packet at once) or divide \
             the 20 ms tick: 1, 2, 4, 5, 10 or 20",
        ),
        ("40", "40 ms is not a relay batch"),
        ("soon", "\"soon\" is not a number of milliseconds"),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
        cmd.args(["serve", "--relay-batch-ms", value]);
        let (out, killed) = run_bounded(&mut cmd, Duration::from_secs(20));
        assert!(
            !killed,
            "hotline serve --relay-batch-ms {value} did not finish"
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "exit of --relay-batch-ms {value}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!(
                "error: invalid value '{value}' for '--relay-batch-ms <MS>': {why}"
            )),
            "{stderr}"
        );
    }
}
