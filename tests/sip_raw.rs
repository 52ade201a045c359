//! SIP requests written byte by byte on a plain UDP socket: the PBX keep-alive (OPTIONS) and
//! requests a parser must refuse without falling over.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::*;

struct RawPeer {
    socket: UdpSocket,
    port: u16,
}

impl RawPeer {
    fn new() -> RawPeer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind raw peer");
        socket
            .set_read_timeout(Some(Duration::from_secs(3)))
            .expect("read timeout");
        let port = socket.local_addr().expect("addr").port();
        RawPeer { socket, port }
    }

    /// Sends one datagram and returns the first final response that carries `branch` (so
    /// answers to other datagrams and a 100 Trying are skipped), if one arrives in time.
    fn exchange(&self, switch: &Switch, request: &str, branch: &str) -> Option<String> {
        self.socket
            .send_to(request.as_bytes(), switch.sip)
            .expect("send request");
        let mut buf = [0u8; 4096];
        for _ in 0..10 {
            let n = self.socket.recv(&mut buf).ok()?;
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with("SIP/2.0 1") || !text.contains(branch) {
                continue;
            }
            return Some(text);
        }
        None
    }
}

fn options(switch: &Switch, peer: &RawPeer, n: u32) -> String {
    format!(
        "OPTIONS sip:4008@{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-raw-options-{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:pbx@127.0.0.1>;tag=raw-options-{n}\r\n\
         To: <sip:4008@{sip}>\r\n\
         Call-ID: raw-options-{n}@127.0.0.1\r\n\
         CSeq: {n} OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        sip = switch.sip,
        port = peer.port
    )
}

#[test]
fn options_keepalive_gets_200() {
    let switch = Switch::start(PortBlock::reserve());
    let peer = RawPeer::new();
    let response = peer
        .exchange(
            &switch,
            &options(&switch, &peer, 1),
            "z9hG4bK-raw-options-1",
        )
        .unwrap_or_else(|| panic!("no answer to OPTIONS\n{}", switch.log_tail()));
    assert!(
        response.starts_with("SIP/2.0 200"),
        "OPTIONS answer: {response}"
    );
    assert!(
        response.contains("z9hG4bK-raw-options-1"),
        "the answer must echo the Via branch: {response}"
    );
    assert!(
        response.contains("raw-options-1@127.0.0.1"),
        "the answer must echo the Call-ID: {response}"
    );
}

#[test]
fn invite_without_call_id_gets_400_and_the_switch_keeps_working() {
    let switch = Switch::start(PortBlock::reserve());
    let peer = RawPeer::new();
    let invite = format!(
        "INVITE sip:4008@{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-raw-no-call-id\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:caller@127.0.0.1>;tag=raw-no-call-id\r\n\
         To: <sip:4008@{sip}>\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:caller@127.0.0.1:{port}>\r\n\
         Content-Length: 0\r\n\r\n",
        sip = switch.sip,
        port = peer.port
    );
    let response = peer
        .exchange(&switch, &invite, "z9hG4bK-raw-no-call-id")
        .unwrap_or_else(|| {
            panic!(
                "no answer to an INVITE without Call-ID\n{}",
                switch.log_tail()
            )
        });
    assert!(
        response.starts_with("SIP/2.0 400"),
        "INVITE without Call-ID: {response}"
    );

    // Garbage gets no answer (nothing to answer to) and must not take the switch down.
    for junk in [
        &b"\x00\x01\x02 not sip at all"[..],
        b"INVITE\r\n\r\n",
        b"SIP/2.0 200 OK\r\nCSeq: x\r\n\r\n",
        b"INVITE sip:4008@127.0.0.1 SIP/2.0\r\nContent-Length: 99999\r\n\r\nv=0",
    ] {
        peer.socket.send_to(junk, switch.sip).expect("send junk");
    }
    let response = peer
        .exchange(
            &switch,
            &options(&switch, &peer, 2),
            "z9hG4bK-raw-options-2",
        )
        .unwrap_or_else(|| {
            panic!(
                "the switch stopped answering after junk\n{}",
                switch.log_tail()
            )
        });
    assert!(response.starts_with("SIP/2.0 200"), "{response}");
    assert!(
        response.contains("raw-options-2@127.0.0.1"),
        "the OPTIONS answer came for the wrong request: {response}"
    );
}

#[test]
fn the_rtp_sinks_g711_expansion_matches_the_standards_code_points() {
    // The tests judge "not silence" by expanding G.711 themselves; check that on the
    // standard's end points: µ-law 0xFF/0x7F are zero, 0x00/0x80 the extremes; A-law 0xD5
    // is the smallest positive step, 0xAA/0x2A the extremes.
    assert_eq!(ulaw_to_linear(0xff), 0);
    assert_eq!(ulaw_to_linear(0x7f), 0);
    assert_eq!(ulaw_to_linear(0x00), -32124);
    assert_eq!(ulaw_to_linear(0x80), 32124);
    assert_eq!(alaw_to_linear(0xd5), 8);
    assert_eq!(alaw_to_linear(0x55), -8);
    assert_eq!(alaw_to_linear(0xaa), 32256);
    assert_eq!(alaw_to_linear(0x2a), -32256);
}
