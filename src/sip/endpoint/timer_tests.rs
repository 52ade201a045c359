//! The endpoint's timers with many live transactions: the earliest deadline is found, only
//! the due transactions expire (the cost per event is measured by `benches/sip.rs`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::EndpointConfig;

const PBX: &str = "127.0.0.1:5070";

fn endpoint() -> Endpoint {
    let mut config = EndpointConfig::new("127.0.0.1:5060".parse().unwrap());
    config.trusted = vec![("127.0.0.0".parse().unwrap(), 8)];
    Endpoint::new(config)
}

fn options(n: usize) -> String {
    format!(
        "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {PBX};branch=z9hG4bK-ka{n}\r\n\
Max-Forwards: 70\r\n\
From: <sip:pbx@127.0.0.1>;tag=p{n}\r\n\
To: <sip:127.0.0.1>\r\n\
Call-ID: ka{n}@pbx\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
    )
}

fn pbx() -> SocketAddr {
    PBX.parse().unwrap()
}

/// The To tag of the one response sent since the last call.
fn answer_tag(endpoint: &mut Endpoint) -> String {
    let sent: Vec<Transmit> = std::iter::from_fn(|| endpoint.poll_transmit()).collect();
    assert_eq!(sent.len(), 1, "one response expected");
    let text = String::from_utf8(sent[0].payload.clone()).unwrap();
    assert!(text.starts_with("SIP/2.0 200 "), "{text}");
    let to = text
        .split("\r\n")
        .find_map(|line| line.strip_prefix("To: "))
        .unwrap()
        .to_owned();
    to.split(";tag=").nth(1).unwrap().to_owned()
}

#[test]
fn with_ten_thousand_live_transactions_exactly_the_due_ones_expire() {
    let mut endpoint = endpoint();
    let t0 = Instant::now();
    let timer_j = Duration::from_secs(32);
    let mut tags = Vec::new();
    // One OPTIONS per millisecond; the order of arrival is not the order of the branches.
    for i in 0..10_000 {
        let n = (i * 7919) % 10_000;
        let at = t0 + Duration::from_millis(i as u64);
        endpoint.handle_input(at, Transport::Udp, pbx(), options(n).as_bytes());
        tags.push((n, answer_tag(&mut endpoint)));
    }
    assert_eq!(endpoint.non_invite_servers.len(), 10_000);
    assert_eq!(endpoint.poll_timeout(), Some(t0 + timer_j));

    // At the earliest deadline exactly the first transaction ends.
    endpoint.handle_timeout(t0 + timer_j);
    assert_eq!(endpoint.non_invite_servers.len(), 9_999);
    assert_eq!(
        endpoint.poll_timeout(),
        Some(t0 + timer_j + Duration::from_millis(1))
    );

    // 4,999 ms later the first 5,000 are gone, the other 5,000 still absorb retransmissions.
    let now = t0 + timer_j + Duration::from_millis(4_999);
    endpoint.handle_timeout(now);
    assert_eq!(endpoint.non_invite_servers.len(), 5_000);
    assert_eq!(
        endpoint.poll_timeout(),
        Some(t0 + timer_j + Duration::from_millis(5_000))
    );
    let (kept, kept_tag) = &tags[5_000];
    endpoint.handle_input(now, Transport::Udp, pbx(), options(*kept).as_bytes());
    assert_eq!(
        &answer_tag(&mut endpoint),
        kept_tag,
        "a live transaction resends"
    );
    let (gone, gone_tag) = &tags[4_999];
    endpoint.handle_input(now, Transport::Udp, pbx(), options(*gone).as_bytes());
    assert_ne!(
        &answer_tag(&mut endpoint),
        gone_tag,
        "an expired one is new"
    );

    // The rest expire at their own time, and then nothing is left to wake for (the OPTIONS
    // just answered again has its own new Timer J).
    endpoint.handle_timeout(t0 + timer_j + Duration::from_millis(9_999));
    assert_eq!(endpoint.non_invite_servers.len(), 1);
    assert_eq!(endpoint.poll_timeout(), Some(now + timer_j));
    endpoint.handle_timeout(now + timer_j);
    assert_eq!(endpoint.non_invite_servers.len(), 0);
    assert_eq!(endpoint.poll_timeout(), None);
}
