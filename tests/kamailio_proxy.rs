//! Calls that reach the switch through Kamailio, a real record-routing proxy standing in for
//! the PBX/SBC: the switch must copy the proxy's Record-Route into its 200 OK, accept in-dialog
//! requests that arrive through the proxy, and send its own in-dialog requests (the BYE when it
//! hangs up) to the proxy with the route set as Route headers. A switch that ignores
//! Route/Record-Route fails here on the first BYE.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Kamailio in the foreground (`-DD -E`) on its own loopback port, with its pid file, runtime
/// dir and log in a tempdir. Dropping it sends SIGTERM (its main process then stops the
/// workers), waits a bounded time, then kills.
struct Kamailio {
    child: Option<Child>,
    addr: SocketAddr,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Kamailio {
    /// Starts the proxy on a SIP port of the test's block, relaying INVITEs for 4008 to
    /// `switch`; waits (bounded) until it answers an OPTIONS probe.
    fn start(switch: SocketAddr, ports: PortBlock) -> Kamailio {
        let mut last_log = String::new();
        // The port is free when handed out but an unrelated process may take it before
        // Kamailio binds: a proxy that exits at once is tried again on the block's next one.
        for _ in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("hotline-kamailio-")
                .tempdir()
                .expect("kamailio tempdir");
            let port = ports.sip_port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("proxy addr");
            let template = repo_root().join("tests/kamailio/proxy.cfg.template");
            let config = std::fs::read_to_string(&template)
                .unwrap_or_else(|e| panic!("read {}: {e}", template.display()))
                .replace("{{PROXY_PORT}}", &port.to_string())
                .replace("{{SWITCH}}", &switch.to_string());
            assert!(!config.contains("{{"), "unfilled placeholder: {config}");
            let config_path = dir.path().join("kamailio.cfg");
            std::fs::write(&config_path, config).expect("write kamailio.cfg");
            let runtime = dir.path().join("run");
            std::fs::create_dir_all(&runtime).expect("kamailio runtime dir");
            let log_path = dir.path().join("kamailio.log");
            let log = std::fs::File::create(&log_path).expect("kamailio log");
            let child = Command::new("kamailio")
                .arg("-DD")
                .arg("-E")
                .arg("-f")
                .arg(&config_path)
                .arg("-P")
                .arg(dir.path().join("kamailio.pid"))
                .arg("-Y")
                .arg(&runtime)
                .arg("-w")
                .arg(dir.path())
                .args(["-m", "32", "-M", "4"])
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().expect("log handle")))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("start kamailio (apt-get install kamailio)");
            let mut proxy = Kamailio {
                child: Some(child),
                addr,
                log_path,
                _dir: dir,
            };
            if proxy.wait_ready(Duration::from_secs(10)) {
                return proxy;
            }
            last_log = proxy.log();
            proxy.stop();
        }
        panic!("kamailio did not answer OPTIONS within 10 s (three tries); last log:\n{last_log}");
    }

    /// Probes with OPTIONS until the proxy answers, it exits, or the time is up.
    fn wait_ready(&mut self, limit: Duration) -> bool {
        let probe = UdpSocket::bind("127.0.0.1:0").expect("bind probe");
        probe
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        let local = probe.local_addr().expect("probe addr");
        let deadline = Instant::now() + limit;
        let mut n = 0;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if !matches!(child.try_wait(), Ok(None)) {
                    return false;
                }
            }
            n += 1;
            let options = format!(
                "OPTIONS sip:{proxy} SIP/2.0\r\n\
                 Via: SIP/2.0/UDP {local};branch=z9hG4bK-ready-{n}\r\n\
                 From: <sip:probe@{local}>;tag=probe\r\n\
                 To: <sip:{proxy}>\r\n\
                 Call-ID: kamailio-ready-{n}@127.0.0.1\r\n\
                 CSeq: {n} OPTIONS\r\n\
                 Max-Forwards: 70\r\n\
                 Content-Length: 0\r\n\r\n",
                proxy = self.addr
            );
            let _ = probe.send_to(options.as_bytes(), self.addr);
            let mut buf = [0u8; 2048];
            if let Ok(len) = probe.recv(&mut buf) {
                if buf[..len].starts_with(b"SIP/2.0 200") {
                    return true;
                }
            }
        }
        false
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "--- kamailio log ({}) ---\n{}",
                self.log_path.display(),
                lines[lines.len().saturating_sub(40)..].join("\n")
            );
        }
    }
}

/// The SIP messages SIPp received whose first line starts with `start` (a method or
/// `SIP/2.0 200`), from its `-trace_msg` log.
fn received(run: &SippRun, start: &str) -> Vec<String> {
    run.messages
        .split("-----------------------------------------------")
        .filter(|block| block.contains("message received"))
        .filter_map(|block| {
            let sip = block
                .lines()
                .skip_while(|l| !l.starts_with("SIP/2.0") && !l.contains(" SIP/2.0"))
                .collect::<Vec<_>>()
                .join("\n");
            sip.starts_with(start).then_some(sip)
        })
        .collect()
}

fn header_values<'a>(message: &'a str, name: &str) -> Vec<&'a str> {
    message
        .lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .collect()
}

fn assert_through(run: &SippRun, switch: &Switch, proxy: &Kamailio) {
    assert!(
        run.success(),
        "SIPp through kamailio failed\n{}\n--- switch log ---\n{}\n--- kamailio log ---\n{}",
        run.report(),
        switch.log_tail(),
        proxy.log()
    );
}

/// The switch's 200 OK reached the caller with the proxy's Record-Route copied in, so the
/// caller's route set (and the switch's) goes through the proxy.
fn assert_record_routed(run: &SippRun, proxy: &Kamailio) {
    let oks: Vec<String> = received(run, "SIP/2.0 200")
        .into_iter()
        .filter(|m| {
            header_values(m, "CSeq")
                .iter()
                .any(|v| v.contains("INVITE"))
        })
        .collect();
    let ok = oks
        .first()
        .unwrap_or_else(|| panic!("no 200 OK to the INVITE in:\n{}", run.messages));
    let record_route = header_values(ok, "Record-Route");
    assert!(
        record_route
            .iter()
            .any(|rr| rr.contains(&proxy.addr.to_string()) && rr.contains(";lr")),
        "the switch's 200 OK lost the proxy's Record-Route (want {}): {ok}",
        proxy.addr
    );
}

#[test]
fn caller_hangs_up_through_the_proxy_route_set() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let proxy = Kamailio::start(switch.sip, ports);
    let sipp = Sipp::new("basic_call.xml", &switch)
        .target(proxy.addr)
        .call_id_tag("kamailio-caller-bye")
        .hold(Duration::from_secs(3))
        .timeout(Duration::from_secs(20));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    assert_through(&run, &switch, &proxy);
    assert_record_routed(&run, &proxy);

    // The caller's ACK and BYE went to the proxy with a Route header naming it, and the proxy
    // relayed them to the switch along that route (its 404 would have failed the BYE).
    let log = proxy.log();
    for method in ["ACK", "BYE"] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("loose_route {method} from"))),
            "the caller's {method} did not follow the route set through the proxy:\n{log}"
        );
    }

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    event(&call, "confirmed");
    assert_eq!(event(&call, "hangup")["by"], "caller", "{call:#}");
    assert_eq!(call["outcome"], "completed", "{call:#}");
}

#[test]
fn switch_hangs_up_after_operator_digit_and_its_bye_goes_through_the_proxy() {
    let ports = PortBlock::reserve();
    // With nobody logged in the operator queue's (shortened) maximum wait ends the call:
    // callback offer, no key, music until the maximum wait, goodbye, and the switch's BYE.
    let config = ConfigCopy::of_shipped();
    config.set_table(
        "queue.operator",
        &[
            ("max_wait", "\"2s\""),
            ("exit_notice", "\"1s\""),
            ("exit", "{ callback = true }"),
        ],
    );
    let switch = Switch::start_with(ports, config);
    let proxy = Kamailio::start(switch.sip, ports);
    let greeting = greeting_duration(&switch.config_dir, "zh");
    assert!(
        Path::new(SIPP_SHARE).join("dtmf_2833_0.pcap").exists(),
        "sip-tester's dtmf_2833_0.pcap is missing"
    );
    let sipp = Sipp::new("operator_by_rfc4733.xml", &switch)
        .target(proxy.addr)
        .call_id_tag("kamailio-switch-bye")
        .set(
            "first_digit_ms",
            (greeting + Duration::from_secs(1)).as_millis(),
        )
        .timeout(greeting + Duration::from_secs(30));
    let call_id = sipp.call_id(1);
    let run = sipp.run();
    assert_through(&run, &switch, &proxy);
    assert_record_routed(&run, &proxy);

    // The switch's BYE reached the caller from the proxy: the proxy's Via is on top and the
    // switch's below it, and the header the proxy adds only on loose_route() shows the switch
    // sent it with a Route header naming the proxy.
    let byes = received(&run, "BYE ");
    let bye = byes
        .first()
        .unwrap_or_else(|| panic!("the caller never received a BYE:\n{}", run.messages));
    let vias = header_values(bye, "Via");
    assert!(
        vias.len() >= 2 && vias[0].contains(&proxy.addr.to_string()),
        "the BYE did not come through the proxy at {} (Via {vias:?}): {bye}",
        proxy.addr
    );
    assert!(
        vias[1].contains(&switch.sip.to_string()),
        "the BYE's second Via is not the switch's {} ({vias:?}): {bye}",
        switch.sip
    );
    assert_eq!(
        header_values(bye, "X-Hotline-Proxy"),
        vec!["loose_route"],
        "the switch's BYE reached the proxy without a Route header naming it: {bye}"
    );
    let log = proxy.log();
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("loose_route BYE from {}", switch.sip))),
        "the proxy did not route the switch's BYE:\n{log}"
    );

    let call = switch.ended_call(&call_id, Duration::from_secs(10));
    let zero = find_event(&call, "dtmf", |e| e["digit"] == "0")
        .unwrap_or_else(|| panic!("digit 0 never arrived: {call:#}"));
    assert_eq!(zero["source"], "rfc4733", "{call:#}");
    position(&call, "route", |e| e["target"] == "operator")
        .unwrap_or_else(|| panic!("the call never went to the operator: {call:#}"));
    assert_eq!(event(&call, "hangup")["by"], "switch", "{call:#}");
    assert_eq!(call["outcome"], "completed", "{call:#}");
}
