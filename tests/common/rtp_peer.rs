//! A caller written by hand on plain UDP sockets, for the media tests that need control no
//! SIPp scenario gives: every RTP header field chosen by the test (reordered, duplicated and
//! missing sequence numbers, a source port other than the SDP's), RFC 4733 digits from any
//! socket, and silence without a BYE. It owns its SIP socket (INVITE, ACK, BYE, answering the
//! switch's BYE) and its RTP socket; it parses just enough of the switch's answer to know
//! where to send. Also the `[media]` settings of a config copy.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use super::heard::ReceivedRtp;
use super::{ConfigCopy, Switch};

/// The calling number every raw caller presents (a trunk caller, like the SIPp callers').
pub const RAW_CALLER_NUMBER: &str = "13900000002";
/// The telephone-event payload type the raw caller offers.
pub const TELEPHONE_EVENT_PT: u8 = 101;

impl ConfigCopy {
    /// Sets keys of the dialplan's `[media]` table (values are TOML literals), e.g.
    /// `set_media(&[("timeout", "\"2s\"")])`.
    pub fn set_media(&self, settings: &[(&str, &str)]) {
        self.set_table("media", settings);
    }
}

/// One RTP packet to send.
#[derive(Debug, Clone)]
pub struct RtpOut<'a> {
    pub payload_type: u8,
    pub marker: bool,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// The bytes of an RTP packet (RFC 3550 fixed header, no CSRC).
pub fn rtp_bytes(packet: &RtpOut) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + packet.payload.len());
    out.push(0x80);
    out.push(packet.payload_type | if packet.marker { 0x80 } else { 0 });
    out.extend_from_slice(&packet.seq.to_be_bytes());
    out.extend_from_slice(&packet.timestamp.to_be_bytes());
    out.extend_from_slice(&packet.ssrc.to_be_bytes());
    out.extend_from_slice(packet.payload);
    out
}

/// The RFC 4733 event code of a keypad character.
pub fn event_code(digit: char) -> u8 {
    match digit {
        '0'..='9' => digit as u8 - b'0',
        '*' => 10,
        '#' => 11,
        'A'..='D' => 12 + (digit as u8 - b'A'),
        _ => panic!("not a DTMF digit: {digit}"),
    }
}

/// A caller on its own SIP and RTP sockets (127.0.0.1, ephemeral ports).
pub struct RawCaller {
    pub sip: UdpSocket,
    pub rtp: UdpSocket,
    pub switch_sip: SocketAddr,
    pub call_id: String,
    /// The port the SDP offer names (the RTP socket's own unless `sdp_port` changed it).
    pub sdp_port: u16,
    /// The address the SDP offer names (127.0.0.1 unless `behind_nat` changed it).
    pub sdp_address: String,
    /// `call` leaves the 200 OK unacknowledged (`withholding_the_ack`); `ack` sends it later.
    pub withhold_ack: bool,
    /// Where the switch's answer says to send RTP.
    pub switch_rtp: Option<SocketAddr>,
    /// The telephone-event payload type the answer uses.
    pub event_pt: u8,
    pub number: String,
    from_tag: String,
    to_tag: Option<String>,
    cseq: u32,
    branch: u32,
    /// The caller's own outgoing stream.
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
}

fn bind_loopback() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("read timeout");
    socket
}

/// The value of the first header `name` (case-insensitive) in a SIP message.
pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

impl RawCaller {
    /// A caller of hotline `number` on `switch`; `tag` makes its Call-ID unique in the test.
    pub fn new(switch: &Switch, number: &str, tag: &str) -> RawCaller {
        let sip = bind_loopback();
        let rtp = bind_loopback();
        rtp.set_read_timeout(Some(Duration::from_millis(5)))
            .expect("read timeout");
        let sdp_port = rtp.local_addr().expect("rtp addr").port();
        RawCaller {
            call_id: format!(
                "raw-{tag}-{}@127.0.0.1",
                sip.local_addr().expect("addr").port()
            ),
            sip,
            rtp,
            switch_sip: switch.sip,
            sdp_port,
            sdp_address: "127.0.0.1".into(),
            withhold_ack: false,
            switch_rtp: None,
            event_pt: TELEPHONE_EVENT_PT,
            number: number.to_string(),
            from_tag: format!("raw-{tag}"),
            to_tag: None,
            cseq: 1,
            branch: 0,
            ssrc: 0x5EED_0000 | u32::from(sdp_port),
            seq: 1000,
            timestamp: 50_000,
        }
    }

    /// Names `port` in the SDP offer instead of the RTP socket's own (a sender that does not
    /// receive where it sends from).
    pub fn sdp_port(mut self, port: u16) -> RawCaller {
        self.sdp_port = port;
        self
    }

    /// A caller whose ACK is lost: `call` returns at the 200 OK without acknowledging it.
    pub fn withholding_the_ack(mut self) -> RawCaller {
        self.withhold_ack = true;
        self
    }

    /// Acknowledges the 200 OK now (after `withholding_the_ack`).
    pub fn ack(&mut self) -> Result<(), String> {
        self.send_ack()
    }

    /// Names the private `address:port` a phone behind NAT believes it has in the SDP offer;
    /// its packets still come from the loopback socket (the NAT's mapping).
    pub fn behind_nat(mut self, address: &str, port: u16) -> RawCaller {
        self.sdp_address = address.to_string();
        self.sdp_port = port;
        self
    }

    fn sip_port(&self) -> u16 {
        self.sip.local_addr().expect("sip addr").port()
    }

    fn next_branch(&mut self) -> String {
        self.branch += 1;
        format!("z9hG4bK-{}-{}", self.from_tag, self.branch)
    }

    fn dialog_headers(&self, method: &str, cseq: u32, branch: &str) -> String {
        let to_tag = self
            .to_tag
            .as_ref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        format!(
            "Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{caller}@127.0.0.1:{port}>;tag={from_tag}\r\n\
             To: <sip:{number}@{switch}>{to_tag}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:{caller}@127.0.0.1:{port}>\r\n",
            port = self.sip_port(),
            caller = RAW_CALLER_NUMBER,
            from_tag = self.from_tag,
            number = self.number,
            switch = self.switch_sip,
            call_id = self.call_id,
        )
    }

    /// INVITEs the hotline (PCMA and telephone-event), waits for the 200 OK and ACKs it.
    /// Retransmits the INVITE every 500 ms until a response arrives; bounded by `limit`.
    pub fn call(&mut self, limit: Duration) -> Result<(), String> {
        let sdp = format!(
            "v=0\r\no=raw 1 1 IN IP4 {address}\r\ns=raw caller\r\nc=IN IP4 {address}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 8 {te}\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
            port = self.sdp_port,
            address = self.sdp_address,
            te = TELEPHONE_EVENT_PT,
        );
        let branch = self.next_branch();
        let invite = format!(
            "INVITE sip:{number}@{switch} SIP/2.0\r\n{headers}\
             Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            number = self.number,
            switch = self.switch_sip,
            headers = self.dialog_headers("INVITE", self.cseq, &branch),
            len = sdp.len(),
        );
        let deadline = Instant::now() + limit;
        let mut last_sent: Option<Instant> = None;
        let mut provisional = false;
        let mut buf = [0u8; 8192];
        while Instant::now() < deadline {
            if !provisional && last_sent.is_none_or(|t| t.elapsed() >= Duration::from_millis(500)) {
                self.sip
                    .send_to(invite.as_bytes(), self.switch_sip)
                    .map_err(|e| e.to_string())?;
                last_sent = Some(Instant::now());
            }
            let Ok(n) = self.sip.recv(&mut buf) else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !text.starts_with("SIP/2.0 ") || header(&text, "Call-ID") != Some(&self.call_id) {
                continue;
            }
            let status: u16 = text[8..11].parse().unwrap_or(0);
            if status < 200 {
                provisional = true;
                continue;
            }
            if status >= 300 {
                return Err(format!(
                    "the INVITE got {}",
                    text.lines().next().unwrap_or("")
                ));
            }
            self.to_tag = header(&text, "To")
                .and_then(|to| to.split(";tag=").nth(1))
                .map(|t| t.split(';').next().unwrap_or(t).to_string());
            self.read_answer(&text)?;
            if !self.withhold_ack {
                self.send_ack()?;
            }
            return Ok(());
        }
        Err(format!("no final answer to the INVITE within {limit:?}"))
    }

    fn read_answer(&mut self, response: &str) -> Result<(), String> {
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
        let mut address = None;
        let mut port = None;
        for line in body.lines() {
            if let Some(c) = line.strip_prefix("c=IN IP4 ") {
                address = Some(c.trim().to_string());
            } else if let Some(m) = line.strip_prefix("m=audio ") {
                port = m
                    .split_whitespace()
                    .next()
                    .and_then(|p| p.parse::<u16>().ok());
            } else if let Some(map) = line.strip_prefix("a=rtpmap:") {
                if map.to_ascii_lowercase().contains("telephone-event") {
                    if let Some(pt) = map.split_whitespace().next().and_then(|p| p.parse().ok()) {
                        self.event_pt = pt;
                    }
                }
            }
        }
        let (Some(address), Some(port)) = (address, port) else {
            return Err(format!("no c=/m= line in the answer: {response}"));
        };
        self.switch_rtp = Some(
            format!("{address}:{port}")
                .parse()
                .map_err(|e| format!("the answer's media address {address}:{port}: {e}"))?,
        );
        Ok(())
    }

    fn send_ack(&mut self) -> Result<(), String> {
        let branch = self.next_branch();
        let ack = format!(
            "ACK sip:{number}@{switch} SIP/2.0\r\n{headers}Content-Length: 0\r\n\r\n",
            number = self.number,
            switch = self.switch_sip,
            headers = self.dialog_headers("ACK", self.cseq, &branch),
        );
        self.sip
            .send_to(ack.as_bytes(), self.switch_sip)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Where the switch said to send RTP (after `call`).
    pub fn media_target(&self) -> SocketAddr {
        self.switch_rtp.expect("call() first: no media address yet")
    }

    /// Sends one RTP packet from `socket` (the caller's RTP socket or any other) to the
    /// switch's media address.
    pub fn send_from(&self, socket: &UdpSocket, packet: &RtpOut) {
        socket
            .send_to(&rtp_bytes(packet), self.media_target())
            .expect("send RTP");
    }

    /// Sends the caller's next 20 ms PCMA packet carrying `payload`, from its RTP socket.
    pub fn send_audio(&mut self, payload: &[u8]) {
        let packet = RtpOut {
            payload_type: 8,
            marker: false,
            seq: self.seq,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
            payload,
        };
        self.send_from(&self.rtp, &packet);
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(160);
    }

    /// Speaks PCMA silence for `duration` (a packet every 20 ms) and collects what the switch
    /// sent to the RTP socket meanwhile.
    pub fn talk(&mut self, duration: Duration) -> Vec<ReceivedRtp> {
        let mut heard = Vec::new();
        let end = Instant::now() + duration;
        let mut next = Instant::now();
        while Instant::now() < end {
            if Instant::now() >= next {
                self.send_audio(&[0xD5; 160]);
                next += Duration::from_millis(20);
            }
            heard.extend(receive_rtp(&self.rtp));
        }
        heard
    }

    /// Presses `digit` the RFC 4733 way from `socket` with stream (`ssrc`, `seq`, timestamp):
    /// three updates 50 ms apart and three end packets, 100 ms in all. Returns the next
    /// sequence number. Uses the caller's own stream when `socket` is its RTP socket.
    pub fn send_digit_from(
        &self,
        socket: &UdpSocket,
        digit: char,
        ssrc: u32,
        seq: u16,
        ts: u32,
    ) -> u16 {
        let event = event_code(digit);
        let mut seq = seq;
        for (i, (duration, end)) in [
            (400u16, false),
            (800, false),
            (800, true),
            (800, true),
            (800, true),
        ]
        .into_iter()
        .enumerate()
        {
            let [d0, d1] = duration.to_be_bytes();
            let payload = [event, if end { 0x80 | 10 } else { 10 }, d0, d1];
            self.send_from(
                socket,
                &RtpOut {
                    payload_type: self.event_pt,
                    marker: i == 0,
                    seq,
                    timestamp: ts,
                    ssrc,
                    payload: &payload,
                },
            );
            seq = seq.wrapping_add(1);
            std::thread::sleep(Duration::from_millis(if end { 5 } else { 50 }));
        }
        seq
    }

    /// Presses `digit` on the caller's own stream (its RTP socket, SSRC and numbering).
    pub fn press(&mut self, digit: char) {
        let rtp = self.rtp.try_clone().expect("clone the RTP socket");
        self.seq = self.send_digit_from(&rtp, digit, self.ssrc, self.seq, self.timestamp);
        self.timestamp = self.timestamp.wrapping_add(800);
    }

    /// Waits (bounded) for the switch's BYE, answers it 200 OK and returns when it came.
    /// Keeps draining the RTP socket meanwhile but sends nothing.
    pub fn wait_for_bye(&self, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 8192];
        while Instant::now() < deadline {
            let _ = receive_rtp(&self.rtp);
            let Ok((n, from)) = self.sip.recv_from(&mut buf) else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !text.starts_with("BYE ") || header(&text, "Call-ID") != Some(&self.call_id) {
                continue;
            }
            let at = Instant::now();
            let mut ok = String::from("SIP/2.0 200 OK\r\n");
            for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
                for line in text.lines() {
                    if line
                        .split_once(':')
                        .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                    {
                        ok.push_str(line.trim_end());
                        ok.push_str("\r\n");
                    }
                }
            }
            ok.push_str("Content-Length: 0\r\n\r\n");
            let _ = self.sip.send_to(ok.as_bytes(), from);
            return Some(at);
        }
        None
    }

    /// Sends BYE (and does not wait for its answer beyond a short drain).
    pub fn hang_up(&mut self) {
        self.cseq += 1;
        let branch = self.next_branch();
        let bye = format!(
            "BYE sip:{number}@{switch} SIP/2.0\r\n{headers}Content-Length: 0\r\n\r\n",
            number = self.number,
            switch = self.switch_sip,
            headers = self.dialog_headers("BYE", self.cseq, &branch),
        );
        let _ = self.sip.send_to(bye.as_bytes(), self.switch_sip);
    }
}

/// Every RTP packet waiting on `socket` now (returns after one read timeout with nothing).
pub fn receive_rtp(socket: &UdpSocket) -> Vec<ReceivedRtp> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..64 {
        let Ok(n) = socket.recv(&mut buf) else { break };
        out.extend(ReceivedRtp::parse(&buf[..n], Instant::now()));
    }
    out
}

/// Polls (bounded) the switch's records until the call has an event named `name`.
pub fn wait_for_event(switch: &Switch, call_id: &str, name: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(call) = switch.call(call_id) {
            if super::event_names(&call).iter().any(|n| n == name) {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}
