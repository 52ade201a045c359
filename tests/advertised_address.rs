//! `hotline serve --advertise IP` (README: "the address written in Via, Contact and SDP; it
//! defaults to the SIP address"), read where a caller reads it: the 200 OK's Contact, the SDP
//! answer's o= and c= lines, and the Via of a request the switch sends (its BYE at shutdown).
//! The switch listens on 127.0.0.1 and advertises 127.0.0.2: all of 127/8 is loopback, so the
//! caller still reaches it and its media still flows.
//! Each test reserves its own port block (`PortBlock::reserve`).

mod common;

use std::net::IpAddr;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// What the switch wrote about itself in one call, as the caller logged it.
struct SelfDescription {
    contact: String,
    sdp_origin: String,
    sdp_connection: String,
    bye_via: String,
}

fn logged(run: &SippRun, word: &str) -> String {
    let lines = run.log_lines(word);
    assert_eq!(lines.len(), 1, "one {word} line\n{}", run.report());
    lines[0].trim_start_matches(word).trim().to_string()
}

/// One call on a switch started with `options`, ended by the switch (SIGTERM) so it sends a
/// request of its own. Returns what the caller saw and the switch's SIP port.
fn call_and_read_the_switch(options: ServeOptions) -> (SelfDescription, u16) {
    let ports = PortBlock::reserve();
    let mut switch = Switch::start_with_options(ports, None, options);
    let sipp = Sipp::new("caller_stays_until_the_switch_hangs_up.xml", &switch)
        .set("bye_answer_delay_ms", 0)
        .timeout(Duration::from_secs(20));
    let call_id = sipp.call_id(1);
    let caller = sipp.spawn();

    let deadline = Instant::now() + Duration::from_secs(10);
    while !switch
        .call(&call_id)
        .is_some_and(|c| event_names(&c).iter().any(|n| n == "confirmed"))
    {
        assert!(
            Instant::now() < deadline,
            "the call was not up within 10 s\n{}",
            switch.log_tail()
        );
        thread::sleep(Duration::from_millis(100));
    }
    let status = switch.terminate(Duration::from_secs(10));
    let run = caller.join().expect("SIPp thread");
    assert!(
        run.success(),
        "SIPp failed\n{}\n--- switch log ---\n{}",
        run.report(),
        switch.log_tail()
    );
    assert!(
        status.is_some_and(|s| s.code() == Some(0)),
        "hotline serve exit {status:?}"
    );
    let seen = SelfDescription {
        contact: logged(&run, "contact"),
        sdp_origin: logged(&run, "sdp_origin"),
        sdp_connection: logged(&run, "sdp_connection"),
        bye_via: logged(&run, "bye_via"),
    };
    (seen, switch.sip.port())
}

/// Every place the caller reads the switch's address carries `ip` (and the SIP port).
fn assert_written_everywhere(seen: &SelfDescription, ip: &str, port: u16) {
    assert_eq!(
        seen.contact,
        format!("<sip:hotline@{ip}:{port}>"),
        "the 200 OK's Contact"
    );
    // o=<username> <sess-id> <sess-version> IN IP4 <unicast-address> (RFC 8866 5.2); the
    // first field keeps its "o=".
    let origin: Vec<&str> = seen.sdp_origin.split_whitespace().collect();
    assert_eq!(
        origin.get(3..),
        Some(&["IN", "IP4", ip][..]),
        "the SDP answer's origin: {}",
        seen.sdp_origin
    );
    assert_eq!(
        seen.sdp_connection,
        format!("c=IN IP4 {ip}"),
        "the SDP answer's connection"
    );
    // SIP/2.0/UDP <sent-by>;branch=...
    let sent_by = seen
        .bye_via
        .strip_prefix("SIP/2.0/UDP ")
        .and_then(|rest| rest.split(';').next());
    assert_eq!(
        sent_by,
        Some(format!("{ip}:{port}").as_str()),
        "the sent-by of the switch's BYE Via: {}",
        seen.bye_via
    );
}

#[test]
fn advertise_is_the_address_in_contact_sdp_and_via() {
    let advertised: IpAddr = "127.0.0.2".parse().expect("IP");
    let (seen, port) = call_and_read_the_switch(ServeOptions {
        advertise: Some(advertised),
        ..ServeOptions::default()
    });
    assert_written_everywhere(&seen, "127.0.0.2", port);
}

#[test]
fn without_advertise_the_sip_address_is_in_contact_sdp_and_via() {
    let (seen, port) = call_and_read_the_switch(ServeOptions::default());
    assert_written_everywhere(&seen, "127.0.0.1", port);
}
