//! RFC 5761 at the caller: a caller whose offer carries `a=rtcp-mux` gets `a=rtcp-mux` back in
//! the switch's 200 OK; one whose offer does not, does not. Observed on the caller's own UDP
//! socket, in the SDP it received.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::*;

/// A caller on a plain UDP socket (its SIP port; the RTP port it names is the block's sink).
struct RawCaller {
    socket: UdpSocket,
    port: u16,
}

impl RawCaller {
    fn new() -> RawCaller {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind raw caller");
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("read timeout");
        let port = socket.local_addr().expect("addr").port();
        RawCaller { socket, port }
    }

    fn send(&self, switch: &Switch, text: &str) {
        self.socket
            .send_to(text.as_bytes(), switch.sip)
            .expect("send to the switch");
    }

    /// The first final response whose CSeq is `cseq`, within `limit`.
    fn final_response(&self, cseq: &str, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 8192];
        while Instant::now() < deadline {
            let Ok(n) = self.socket.recv(&mut buf) else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with("SIP/2.0 1") || !text.contains(&format!("CSeq: {cseq}")) {
                continue;
            }
            return Some(text);
        }
        None
    }
}

fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
        .unwrap_or_else(|| panic!("no {name} in {message}"))
}

/// The attribute lines of the SDP body's audio section.
fn audio_attributes(message: &str) -> Vec<String> {
    let body = message.split("\r\n\r\n").nth(1).unwrap_or("");
    body.lines()
        .skip_while(|line| !line.starts_with("m=audio"))
        .filter(|line| line.starts_with("a="))
        .map(str::to_string)
        .collect()
}

/// Calls hotline 4008 offering PCMU at `rtp_port` with `extra` SDP lines; returns the 200 OK
/// and ends the call (ACK, BYE).
fn call_and_answer(
    switch: &Switch,
    caller: &RawCaller,
    tag: &str,
    rtp_port: u16,
    extra: &str,
) -> String {
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n{extra}"
    );
    let call_id = format!("rtcp-mux-{tag}@127.0.0.1");
    let common = |method: &str, cseq: u32, branch: &str, to_tag: &str| {
        format!(
            "{method} sip:4008@{sip} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{tag}-{branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:caller@127.0.0.1:{port}>;tag=caller-{tag}\r\n\
             To: <sip:4008@{sip}>{to_tag}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:caller@127.0.0.1:{port}>\r\n",
            sip = switch.sip,
            port = caller.port,
        )
    };
    let invite = format!(
        "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        common("INVITE", 1, "invite", ""),
        sdp.len()
    );
    caller.send(switch, &invite);
    let answer = caller
        .final_response("1 INVITE", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no final answer to the INVITE\n{}", switch.log_tail()));
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    let to = header(&answer, "To");
    let to_tag = &to[to.find(">").map_or(to.len(), |i| i + 1)..];
    caller.send(
        switch,
        &format!(
            "{}Content-Length: 0\r\n\r\n",
            common("ACK", 1, "ack", to_tag)
        ),
    );
    caller.send(
        switch,
        &format!(
            "{}Content-Length: 0\r\n\r\n",
            common("BYE", 2, "bye", to_tag)
        ),
    );
    let bye = caller
        .final_response("2 BYE", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no answer to the BYE\n{}", switch.log_tail()));
    assert!(bye.starts_with("SIP/2.0 200"), "{bye}");
    answer
}

#[test]
fn a_caller_offering_rtcp_mux_gets_it_in_the_answer_and_one_not_offering_does_not() {
    let ports = PortBlock::reserve();
    let switch = Switch::start(ports);
    let caller = RawCaller::new();
    let muxed = call_and_answer(
        &switch,
        &caller,
        "with",
        ports.rtp_sink(),
        "a=rtcp:{port}\r\na=rtcp-mux\r\na=sendrecv\r\n"
            .replace("{port}", &ports.rtp_sink().to_string())
            .as_str(),
    );
    assert_eq!(
        audio_attributes(&muxed),
        [
            "a=rtpmap:0 PCMU/8000",
            "a=ptime:20",
            "a=sendrecv",
            "a=rtcp-mux"
        ],
        "{muxed}"
    );
    let plain = call_and_answer(&switch, &caller, "without", ports.rtp_sink() + 2, "");
    assert_eq!(
        audio_attributes(&plain),
        ["a=rtpmap:0 PCMU/8000", "a=ptime:20", "a=sendrecv"],
        "{plain}"
    );
}
