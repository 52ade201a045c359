//! Floods from the trunk's address, where trust by IP is spoofable over UDP, written byte by
//! byte on plain UDP sockets: an INVITE whose SDP aims the switch's RTP at a third party gets
//! no media until the ACK, a call never ACKed gives its RTP port back after 5 s, and new
//! calls from one address beyond `new_calls_per_source` get one 503 with Retry-After while
//! another address still gets through. Observed at the test's own sockets.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;

/// A caller on a plain UDP socket of `ip`, and a second socket standing in for the third
/// party its SDP names as the media destination.
struct RawCaller {
    sip: UdpSocket,
    media: UdpSocket,
}

impl RawCaller {
    fn on(ip: &str) -> RawCaller {
        let sip = UdpSocket::bind((ip, 0)).expect("bind the caller's SIP socket");
        let media = UdpSocket::bind((ip, 0)).expect("bind the third party's socket");
        RawCaller { sip, media }
    }

    fn sip_addr(&self) -> SocketAddr {
        self.sip.local_addr().expect("addr")
    }

    fn invite(&self, switch: &Switch, n: u32) -> String {
        let media = self.media.local_addr().expect("addr");
        let sdp = format!(
            "v=0\r\no=- {n} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
            ip = media.ip(),
            port = media.port()
        );
        format!(
            "INVITE sip:4008@{sip} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bK-flood-{n}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:13900000001@{ip}>;tag=flood-{n}\r\n\
             To: <sip:4008@{sip}>\r\n\
             Call-ID: flood-{n}@{ip}\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:13900000001@{me}>\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: {len}\r\n\r\n{sdp}",
            sip = switch.sip,
            me = self.sip_addr(),
            ip = self.sip_addr().ip(),
            len = sdp.len()
        )
    }

    fn send(&self, switch: &Switch, text: &str) {
        self.sip
            .send_to(text.as_bytes(), switch.sip)
            .expect("send to the switch");
    }

    /// Every SIP message that arrives within `window`.
    fn messages_for(&self, window: Duration) -> Vec<(Duration, String)> {
        let start = Instant::now();
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        while let Some(left) = window.checked_sub(start.elapsed()) {
            if left.is_zero() {
                break;
            }
            self.sip
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("read timeout");
            match self.sip.recv(&mut buf) {
                Ok(n) => out.push((
                    start.elapsed(),
                    String::from_utf8_lossy(&buf[..n]).into_owned(),
                )),
                Err(_) => break,
            }
        }
        out
    }

    /// Waits (bounded) for the final response to call `n`'s INVITE.
    fn final_response(&self, n: u32, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 8192];
        while Instant::now() < deadline {
            self.sip
                .set_read_timeout(Some(Duration::from_millis(100)))
                .expect("read timeout");
            if let Ok(len) = self.sip.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..len]).into_owned();
                if !text.starts_with("SIP/2.0 1") && text.contains(&format!("flood-{n}@")) {
                    return text;
                }
            }
        }
        panic!("no final response to INVITE {n} within {limit:?}");
    }

    /// RTP datagrams (bytes) reaching the third party within `window`.
    fn media_heard_for(&self, window: Duration) -> (usize, usize) {
        let start = Instant::now();
        let (mut packets, mut bytes) = (0, 0);
        let mut buf = [0u8; 2048];
        self.media
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        while start.elapsed() < window {
            if let Ok(n) = self.media.recv(&mut buf) {
                packets += 1;
                bytes += n;
            }
        }
        (packets, bytes)
    }

    fn ack(&self, switch: &Switch, n: u32, ok: &str) {
        let to = header(ok, "To");
        let ack = format!(
            "ACK sip:4008@{sip} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bK-flood-ack-{n}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:13900000001@{ip}>;tag=flood-{n}\r\n\
             To: {to}\r\n\
             Call-ID: flood-{n}@{ip}\r\n\
             CSeq: 1 ACK\r\n\
             Content-Length: 0\r\n\r\n",
            sip = switch.sip,
            me = self.sip_addr(),
            ip = self.sip_addr().ip(),
        );
        self.send(switch, &ack);
    }
}

fn header(message: &str, name: &str) -> String {
    message
        .split("\r\n")
        .find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {name} in {message}"))
}

fn status(message: &str) -> u16 {
    message[8..11].parse().expect("a status code")
}

#[test]
fn an_invite_never_acked_sends_no_rtp_to_the_address_in_its_sdp_and_is_released_at_five_seconds() {
    let switch = Switch::start(PortBlock::reserve());
    let caller = RawCaller::on("127.0.0.1");
    caller.send(&switch, &caller.invite(&switch, 1));
    let ok = caller.final_response(1, Duration::from_secs(5));
    assert_eq!(status(&ok), 200, "{ok}");
    let answered = Instant::now();
    let (packets, bytes) = caller.media_heard_for(Duration::from_secs(7));
    assert_eq!(
        (packets, bytes),
        (0, 0),
        "the third party named in the SDP of an INVITE never ACKed got RTP"
    );
    // What reached the caller's SIP socket meanwhile: the 200 again at 0.5, 1.5 and 3.5 s,
    // then the switch's BYE as it gave up at 5 s (no more 200s after it).
    assert!(answered.elapsed() >= Duration::from_secs(7));
    let messages: Vec<String> = caller
        .messages_for(Duration::from_millis(100))
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    let firsts: Vec<&str> = messages
        .iter()
        .map(|m| m.split(' ').take(2).last().unwrap_or(""))
        .collect();
    let first_bye = messages
        .iter()
        .position(|m| m.starts_with("BYE "))
        .unwrap_or_else(|| panic!("no BYE: {firsts:?}"));
    assert_eq!(
        messages[..first_bye]
            .iter()
            .filter(|m| m.starts_with("SIP/2.0 200"))
            .count(),
        3,
        "{firsts:?}"
    );
    assert!(
        !messages[first_bye..]
            .iter()
            .any(|m| m.starts_with("SIP/2.0 200")),
        "{firsts:?}"
    );
    let call = switch.ended_call("flood-1@127.0.0.1", Duration::from_secs(5));
    assert_eq!(call["outcome"], "failed", "{call:#}");
    assert_eq!(
        event(&call, "hangup")["reason"],
        "no ACK within 5s of the 200 OK",
        "{call:#}"
    );
}

#[test]
fn the_greeting_reaches_the_address_in_the_sdp_once_the_ack_comes() {
    let switch = Switch::start(PortBlock::reserve());
    let caller = RawCaller::on("127.0.0.1");
    caller.send(&switch, &caller.invite(&switch, 1));
    let ok = caller.final_response(1, Duration::from_secs(5));
    assert_eq!(status(&ok), 200, "{ok}");
    assert_eq!(
        caller.media_heard_for(Duration::from_millis(1500)),
        (0, 0),
        "nothing before the ACK"
    );
    caller.ack(&switch, 1, &ok);
    let (packets, bytes) = caller.media_heard_for(Duration::from_secs(2));
    // 20 ms PCMU packets: 100 in 2 s, 172 bytes each (12 header + 160 audio).
    assert!(
        (90..=101).contains(&packets),
        "{packets} RTP packets in 2 s after the ACK"
    );
    assert_eq!(bytes, packets * 172);
}

#[test]
fn new_calls_from_one_address_beyond_the_rate_get_one_503_with_retry_after_and_another_address_gets_through(
) {
    let config = ConfigCopy::of_shipped();
    config.set_standards(&[("new_calls_per_source", "3")]);
    let switch = Switch::start_with(PortBlock::reserve(), config);
    let flood = RawCaller::on("127.0.0.1");
    // Three a second: a burst of six at once is taken, the seventh and eighth are not.
    for n in 1..=8 {
        flood.send(&switch, &flood.invite(&switch, n));
    }
    // 2.5 s: time for the 503s' retransmissions at 0.5 and 1.5 s, were there any.
    let messages = flood.messages_for(Duration::from_millis(2500));
    let statuses_of = |n: u32| -> Vec<u16> {
        messages
            .iter()
            .filter(|(_, m)| m.starts_with("SIP/2.0 ") && m.contains(&format!("flood-{n}@")))
            .map(|(_, m)| status(m))
            .collect()
    };
    for n in 1..=6 {
        assert_eq!(
            statuses_of(n)[..2],
            [100, 180],
            "call {n}: {:?}",
            statuses_of(n)
        );
    }
    for n in 7..=8 {
        assert_eq!(statuses_of(n), vec![100, 503], "call {n}: sent once");
        let refused = messages
            .iter()
            .map(|(_, m)| m)
            .find(|m| m.starts_with("SIP/2.0 503") && m.contains(&format!("flood-{n}@")))
            .unwrap();
        assert_eq!(header(refused, "Retry-After"), "5", "{refused}");
    }
    // Another address of the trunk network is not held back.
    let other = RawCaller::on("127.0.0.2");
    other.send(&switch, &other.invite(&switch, 9));
    let ok = other.final_response(9, Duration::from_secs(5));
    assert_eq!(status(&ok), 200, "{ok}");
}

#[test]
fn a_call_never_acked_frees_the_only_rtp_port_for_the_next_call_after_five_seconds() {
    let ports = PortBlock::reserve();
    let low = ports.base;
    assert_eq!(low % 2, 0, "the range must start on an even port");
    let switch = Switch::start_with_options(
        ports,
        None,
        ServeOptions {
            rtp_ports: Some((low, low + 1)),
            ..ServeOptions::default()
        },
    );
    let silent = RawCaller::on("127.0.0.1");
    silent.send(&switch, &silent.invite(&switch, 1));
    let ok = silent.final_response(1, Duration::from_secs(5));
    assert_eq!(status(&ok), 200, "{ok}");
    let held_since = Instant::now();
    let next = RawCaller::on("127.0.0.2");
    next.send(&switch, &next.invite(&switch, 2));
    let refused = next.final_response(2, Duration::from_secs(5));
    assert_eq!(status(&refused), 503, "the only port is held: {refused}");
    std::thread::sleep(Duration::from_secs(6).saturating_sub(held_since.elapsed()));
    next.send(&switch, &next.invite(&switch, 3));
    let ok = next.final_response(3, Duration::from_secs(5));
    assert_eq!(status(&ok), 200, "{ok}");
    assert!(
        ok.contains(&format!("m=audio {low} ")),
        "the freed port is the next call's: {ok}"
    );
}
