//! SHA-256 digest authentication (RFC 7616) against the real switch, from a raw UDP client:
//! baresip 1.0 and SIPp 3.6 give up on a SHA-256 challenge, so the test is the phone. It
//! computes every response itself from the RFC's formulas (never with the switch's code), so
//! a switch that hashed the wrong way, or offered the algorithms out of order, fails here.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::*;
use sha2::{Digest as _, Sha256};

const USER: &str = "1001";
const PASSWORD: &str = "sha-256-test-secret";
/// The realm `hardware/phones.toml` documents for the registrar.
const REALM: &str = "hotline";

/// A switch whose only phone is 1001, with the registrar offering SHA-256 before MD5.
fn switch_offering_sha256_first(ports: PortBlock) -> Switch {
    let config = ConfigCopy::of_shipped();
    config.set_phones(&[PhoneEntry::desk_phone(USER, PASSWORD)]);
    let phones = config.path().join("hardware/phones.toml");
    let text = std::fs::read_to_string(&phones).expect("read phones.toml");
    std::fs::write(
        &phones,
        format!("[registrar]\ndigest_algorithms = [\"SHA-256\", \"MD5\"]\n\n{text}"),
    )
    .expect("write phones.toml");
    Switch::start_with(ports, config)
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// RFC 7616 section 3.4.1 with qop=auth: H(H(A1):nonce:nc:cnonce:qop:H(A2)), where
/// A1 = user:realm:password and A2 = method:uri.
fn sha256_digest_response(
    password: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
    method: &str,
    uri: &str,
) -> String {
    let ha1 = sha256_hex(&format!("{USER}:{REALM}:{password}"));
    let ha2 = sha256_hex(&format!("{method}:{uri}"));
    sha256_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
}

/// The helper above reproduces the SHA-256 example of RFC 7616 section 3.9.1, so a failure
/// against the switch is the switch's, not the test's arithmetic.
#[test]
fn the_test_client_computes_the_rfc_7616_sha_256_example() {
    let ha1 = sha256_hex("Mufasa:http-auth@example.org:Circle of Life");
    let ha2 = sha256_hex("GET:/dir/index.html");
    let response = sha256_hex(&format!(
        "{ha1}:7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v:00000001:\
         f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ:auth:{ha2}"
    ));
    assert_eq!(
        response,
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
}

/// A phone written by hand: one UDP socket, requests as text, responses matched by branch.
struct RawPhone {
    socket: UdpSocket,
    port: u16,
}

impl RawPhone {
    fn new() -> RawPhone {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind raw phone");
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("read timeout");
        let port = socket.local_addr().expect("addr").port();
        RawPhone { socket, port }
    }

    /// Sends `request` and returns the first final response carrying `branch`, waiting at
    /// most 5 s (the switch answers on loopback in milliseconds).
    fn final_response(&self, switch: &Switch, request: &str, branch: &str) -> String {
        self.socket
            .send_to(request.as_bytes(), switch.sip)
            .expect("send request");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 8192];
        while Instant::now() < deadline {
            let Ok(n) = self.socket.recv(&mut buf) else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with("SIP/2.0 1") || !text.contains(branch) {
                continue;
            }
            return text;
        }
        panic!(
            "no final response to {branch} within 5 s\n{}",
            switch.log_tail()
        );
    }
}

fn status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a SIP response: {response}"))
}

/// The values of header `name`, in the order they came.
fn header_values(response: &str, name: &str) -> Vec<String> {
    response
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
        .collect()
}

/// A parameter of a Digest challenge, unquoted.
fn challenge_param(challenge: &str, key: &str) -> Option<String> {
    let rest = challenge.strip_prefix("Digest ")?;
    rest.split(',').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The challenges of a 401/407, checked to be what RFC 7616 section 3.7 asks of a server
/// that prefers SHA-256: one SHA-256 challenge first, then one MD5, same realm, nonce and qop.
/// Returns the nonce.
fn assert_sha256_offered_first(challenges: &[String]) -> String {
    assert_eq!(
        challenges.len(),
        2,
        "one challenge per configured algorithm: {challenges:?}"
    );
    let algorithms: Vec<Option<String>> = challenges
        .iter()
        .map(|c| challenge_param(c, "algorithm"))
        .collect();
    assert_eq!(
        algorithms,
        [Some("SHA-256".to_string()), Some("MD5".to_string())],
        "challenges in the configured order, SHA-256 first: {challenges:?}"
    );
    for challenge in challenges {
        assert_eq!(
            challenge_param(challenge, "realm").as_deref(),
            Some(REALM),
            "{challenge}"
        );
        assert_eq!(
            challenge_param(challenge, "qop").as_deref(),
            Some("auth"),
            "{challenge}"
        );
    }
    let nonce = challenge_param(&challenges[0], "nonce").expect("the challenge has a nonce");
    assert_eq!(
        challenge_param(&challenges[1], "nonce").as_deref(),
        Some(nonce.as_str()),
        "both challenges carry one nonce"
    );
    nonce
}

struct Register<'a> {
    phone: &'a RawPhone,
    switch: &'a Switch,
    cseq: u32,
}

impl Register<'_> {
    fn uri(&self) -> String {
        format!("sip:{}", self.switch.sip)
    }

    fn branch(&self) -> String {
        format!("z9hG4bK-sha256-register-{}", self.cseq)
    }

    /// REGISTER for 1001 with Expires 600 and, if given, an Authorization header.
    fn send(&mut self, authorization: Option<&str>) -> String {
        self.cseq += 1;
        let auth = authorization
            .map(|value| format!("Authorization: {value}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "REGISTER {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{USER}@127.0.0.1>;tag=sha256-register\r\n\
             To: <sip:{USER}@127.0.0.1>\r\n\
             Call-ID: sha256-register@127.0.0.1\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{USER}@127.0.0.1:{port}>\r\n\
             Expires: 600\r\n\
             {auth}\
             Content-Length: 0\r\n\r\n",
            uri = self.uri(),
            port = self.phone.port,
            branch = self.branch(),
            cseq = self.cseq,
        );
        self.phone
            .final_response(self.switch, &request, &self.branch())
    }

    /// The Authorization value answering `nonce` with SHA-256, qop=auth and nonce count `nc`.
    fn sha256_authorization(&self, password: &str, nonce: &str, nc: &str, cnonce: &str) -> String {
        let uri = self.uri();
        let response = sha256_digest_response(password, nonce, nc, cnonce, "REGISTER", &uri);
        format!(
            "Digest username=\"{USER}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=SHA-256, qop=auth, nc={nc}, cnonce=\"{cnonce}\""
        )
    }
}

#[test]
fn register_with_an_rfc_7616_sha_256_response_gets_200_with_the_binding() {
    let switch = switch_offering_sha256_first(PortBlock::reserve());
    let phone = RawPhone::new();
    let mut register = Register {
        phone: &phone,
        switch: &switch,
        cseq: 0,
    };

    let challenge = register.send(None);
    assert_eq!(status(&challenge), 401, "{challenge}");
    let nonce = assert_sha256_offered_first(&header_values(&challenge, "WWW-Authenticate"));

    let authorization =
        register.sha256_authorization(PASSWORD, &nonce, "00000001", "0a4f113b-sha256");
    let ok = register.send(Some(&authorization));
    assert_eq!(
        status(&ok),
        200,
        "a right SHA-256 response: {ok}\n{}",
        switch.log_tail()
    );
    assert_eq!(
        header_values(&ok, "Contact"),
        [format!("<sip:{USER}@127.0.0.1:{}>;expires=600", phone.port)],
        "the 200 lists the binding with the granted expiry: {ok}"
    );

    // The same nonce with the next count authenticates again (RFC 7616 section 3.4.4).
    let again = register.sha256_authorization(PASSWORD, &nonce, "00000002", "0a4f113b-sha256");
    let ok = register.send(Some(&again));
    assert_eq!(status(&ok), 200, "nonce count 2 on the same nonce: {ok}");
}

#[test]
fn register_with_a_sha_256_response_from_a_wrong_password_is_challenged_again() {
    let switch = switch_offering_sha256_first(PortBlock::reserve());
    let phone = RawPhone::new();
    let mut register = Register {
        phone: &phone,
        switch: &switch,
        cseq: 0,
    };

    let challenge = register.send(None);
    assert_eq!(status(&challenge), 401, "{challenge}");
    let nonce = assert_sha256_offered_first(&header_values(&challenge, "WWW-Authenticate"));

    let wrong = register.sha256_authorization("not-the-password", &nonce, "00000001", "c-wrong");
    let refused = register.send(Some(&wrong));
    assert_eq!(
        status(&refused),
        401,
        "a wrong password is challenged again (one failure does not block): {refused}"
    );
    let fresh = assert_sha256_offered_first(&header_values(&refused, "WWW-Authenticate"));
    assert_ne!(fresh, nonce, "a new challenge comes with a new nonce");

    // The phone with the right password still gets in on the new challenge: the refusal was
    // about the response, not about the client.
    let right = register.sha256_authorization(PASSWORD, &fresh, "00000001", "c-right");
    let ok = register.send(Some(&right));
    assert_eq!(
        status(&ok),
        200,
        "the right password after a wrong one: {ok}"
    );
}

/// An INVITE from phone 1001 to hotline 4008 offering PCMU at `rtp_port`, with CSeq `cseq`
/// and, if given, a Proxy-Authorization header.
fn invite(
    switch: &Switch,
    phone: &RawPhone,
    rtp_port: u16,
    cseq: u32,
    auth: Option<&str>,
) -> String {
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    );
    let auth = auth
        .map(|value| format!("Proxy-Authorization: {value}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:4008@{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-sha256-invite-{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{USER}@127.0.0.1>;tag=sha256-invite\r\n\
         To: <sip:4008@{sip}>\r\n\
         Call-ID: sha256-invite@127.0.0.1\r\n\
         CSeq: {cseq} INVITE\r\n\
         Contact: <sip:{USER}@127.0.0.1:{port}>\r\n\
         {auth}\
         Content-Type: application/sdp\r\n\
         Content-Length: {len}\r\n\r\n{sdp}",
        sip = switch.sip,
        port = phone.port,
        len = sdp.len(),
    )
}

/// An in-dialog request (ACK or BYE) for the call the switch answered with `ok`.
fn in_dialog(phone: &RawPhone, ok: &str, method: &str, cseq: u32, branch: &str) -> String {
    let to = header_values(ok, "To").pop().expect("the 200 has a To");
    // The remote target is the switch's Contact (RFC 3261 section 12.1.2).
    let contact = header_values(ok, "Contact")
        .pop()
        .expect("the 200 has a Contact");
    let target = contact
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map_or(contact.as_str(), |(uri, _)| uri)
        .to_string();
    format!(
        "{method} {target} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{USER}@127.0.0.1>;tag=sha256-invite\r\n\
         To: {to}\r\n\
         Call-ID: sha256-invite@127.0.0.1\r\n\
         CSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n",
        port = phone.port,
    )
}

#[test]
fn an_invite_from_the_phone_answers_the_407_with_sha_256_and_is_connected() {
    let ports = PortBlock::reserve();
    let switch = switch_offering_sha256_first(ports);
    let phone = RawPhone::new();
    // The phone's media port, bound so the greeting's RTP has somewhere to go.
    let _media = UdpSocket::bind(("127.0.0.1", ports.rtp_sink())).expect("bind the phone's RTP");

    let challenge = phone.final_response(
        &switch,
        &invite(&switch, &phone, ports.rtp_sink(), 1, None),
        "z9hG4bK-sha256-invite-1",
    );
    assert_eq!(status(&challenge), 407, "{challenge}");
    let nonce = assert_sha256_offered_first(&header_values(&challenge, "Proxy-Authenticate"));
    // The ACK for the 407 (RFC 3261 section 17.1.1.3): same branch as the refused INVITE.
    let to = header_values(&challenge, "To")
        .pop()
        .expect("the 407 has a To");
    let ack = format!(
        "ACK sip:4008@{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-sha256-invite-1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{USER}@127.0.0.1>;tag=sha256-invite\r\n\
         To: {to}\r\n\
         Call-ID: sha256-invite@127.0.0.1\r\n\
         CSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n",
        sip = switch.sip,
        port = phone.port,
    );
    phone
        .socket
        .send_to(ack.as_bytes(), switch.sip)
        .expect("send ACK");

    let uri = format!("sip:4008@{}", switch.sip);
    let cnonce = "invite-cnonce";
    let response = sha256_digest_response(PASSWORD, &nonce, "00000001", cnonce, "INVITE", &uri);
    let authorization = format!(
        "Digest username=\"{USER}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"{cnonce}\""
    );
    let ok = phone.final_response(
        &switch,
        &invite(&switch, &phone, ports.rtp_sink(), 2, Some(&authorization)),
        "z9hG4bK-sha256-invite-2",
    );
    assert_eq!(
        status(&ok),
        200,
        "the hotline answers the authenticated INVITE: {ok}\n{}",
        switch.log_tail()
    );

    let ack = in_dialog(&phone, &ok, "ACK", 2, "z9hG4bK-sha256-ack-2");
    phone
        .socket
        .send_to(ack.as_bytes(), switch.sip)
        .expect("send ACK");
    let bye = in_dialog(&phone, &ok, "BYE", 3, "z9hG4bK-sha256-bye-3");
    let bye_ok = phone.final_response(&switch, &bye, "z9hG4bK-sha256-bye-3");
    assert_eq!(status(&bye_ok), 200, "the BYE ends the call: {bye_ok}");
}
