//! SIP hot paths: parsing and validating a typical INVITE with SDP (target < 20 µs), an
//! OPTIONS keep-alive through the whole endpoint (parse, validate, transaction, 200 out), and
//! the same with 80,000 live transactions (2,500 OPTIONS/s, each alive 32 s): what one message
//! and one timer cost must not grow with the table.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use hotline::sip::{message, Endpoint, EndpointConfig, Transport};

const INVITE: &str = "INVITE sip:4008@192.0.2.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
Record-Route: <sip:192.0.2.10;lr>\r\n\
From: \"Zhang San\" <sip:13800138000@192.0.2.10>;tag=1928301774\r\n\
To: <sip:4008@192.0.2.1>\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:13800138000@192.0.2.10:5060>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY\r\n\
Supported: replaces, timer\r\n\
User-Agent: PBX 1.0\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 222\r\n\
\r\n\
v=0\r\n\
o=- 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n";

fn options(n: u64) -> String {
    format!(
        "OPTIONS sip:192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-{n}\r\n\
Max-Forwards: 70\r\nFrom: <sip:pbx@192.0.2.10>;tag=p{n}\r\nTo: <sip:192.0.2.1>\r\n\
Call-ID: ka{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

fn parse_invite(c: &mut Criterion) {
    assert!(matches!(
        message::parse(INVITE.as_bytes()),
        Ok(message::Inbound::Request(_))
    ));
    c.bench_function("sip parse+validate INVITE with SDP", |b| {
        b.iter(|| message::parse(black_box(INVITE.as_bytes())))
    });
}

fn options_through_endpoint(c: &mut Criterion) {
    let pbx: SocketAddr = "192.0.2.10:5060".parse().unwrap();
    let mut config = EndpointConfig::new("192.0.2.1:5060".parse().unwrap());
    config.trusted = vec![(pbx.ip(), 32)];
    let mut endpoint = Endpoint::new(config);
    let now = Instant::now();
    let requests: Vec<String> = (0..1024).map(options).collect();
    let mut n = 0usize;
    c.bench_function("sip OPTIONS keep-alive through the endpoint", |b| {
        b.iter(|| {
            endpoint.handle_input(now, Transport::Udp, pbx, requests[n % 1024].as_bytes());
            n += 1;
            // Transactions would pile up in virtual time that never advances: expire them.
            if n.is_multiple_of(1024) {
                endpoint.handle_timeout(now + std::time::Duration::from_secs(64));
            }
            black_box(endpoint.poll_transmit())
        })
    });
}

/// An endpoint holding `live` OPTIONS server transactions that arrived 400 µs apart (2,500/s)
/// from `t0`; returns it with the instant after the last one.
fn endpoint_with_live_transactions(live: u64, t0: Instant) -> (Endpoint, SocketAddr, Instant) {
    let pbx: SocketAddr = "192.0.2.10:5060".parse().unwrap();
    let mut config = EndpointConfig::new("192.0.2.1:5060".parse().unwrap());
    config.trusted = vec![(pbx.ip(), 32)];
    let mut endpoint = Endpoint::new(config);
    let mut now = t0;
    for n in 0..live {
        endpoint.handle_input(now, Transport::Udp, pbx, options(n).as_bytes());
        while endpoint.poll_transmit().is_some() {}
        now += Duration::from_micros(400);
    }
    (endpoint, pbx, now)
}

fn with_80k_live_transactions(c: &mut Criterion) {
    const LIVE: u64 = 80_000;
    let t0 = Instant::now();
    let (mut endpoint, pbx, mut now) = endpoint_with_live_transactions(LIVE, t0);
    let _ = endpoint.poll_timeout();
    c.bench_function("sip poll_timeout with 80,000 live transactions", |b| {
        b.iter(|| black_box(endpoint.poll_timeout()))
    });
    // The driver's loop at 2,500 OPTIONS/s in steady state: each message makes one new
    // transaction, and the one that arrived 32 s earlier expires.
    let mut n = LIVE;
    c.bench_function(
        "sip OPTIONS + poll_timeout + due timers with 80,000 live transactions",
        |b| {
            b.iter(|| {
                now += Duration::from_micros(400);
                endpoint.handle_input(now, Transport::Udp, pbx, options(n).as_bytes());
                n += 1;
                while let Some(transmit) = endpoint.poll_transmit() {
                    black_box(transmit);
                }
                if endpoint.poll_timeout().is_some_and(|at| at <= now) {
                    endpoint.handle_timeout(now);
                }
                black_box(endpoint.poll_timeout())
            })
        },
    );
}

criterion_group!(
    benches,
    parse_invite,
    options_through_endpoint,
    with_80k_live_transactions
);
criterion_main!(benches);
