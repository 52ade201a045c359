//! Attacks on the registrar and on phone authentication, performed against the real switch
//! from raw UDP sockets on loopback: lock-out by spoofed failures, enumeration of extensions,
//! replayable or redirected digests, too many contacts and a Contact pointing at the switch.
//! Every digest is computed here from the RFC formulas (never with the switch's code).
//!
//! The phone's address 127.0.0.1 is outside the trunk network (`trust_only("127.0.0.2")`)
//! unless a test says otherwise. Spoofed requests come from another socket on the same IP:
//! what the switch can tell of a spoofer over UDP.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use md5::{Digest as _, Md5};

const USER: &str = "1001";
const PASSWORD: &str = "attack-test-secret";
const REALM: &str = "hotline";

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The switch with phone 1001, 127.0.0.1 untrusted unless `trusted` says otherwise, and these
/// `[registrar]` lines.
fn switch_with(trusted: &str, registrar: &str) -> Switch {
    let config = ConfigCopy::for_agents(&[PhoneEntry::desk_phone(USER, PASSWORD)]);
    config.trust_only(trusted);
    if !registrar.is_empty() {
        let phones = config.path().join("hardware/phones.toml");
        let text = std::fs::read_to_string(&phones).expect("read phones.toml");
        std::fs::write(&phones, format!("[registrar]\n{registrar}\n\n{text}"))
            .expect("write phones.toml");
    }
    Switch::start_with(PortBlock::reserve(), config)
}

/// A SIP client written by hand: one UDP socket on 127.0.0.1.
struct Peer {
    socket: UdpSocket,
    port: u16,
    sent: u32,
}

impl Peer {
    fn new() -> Peer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind peer");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        let port = socket.local_addr().expect("addr").port();
        Peer {
            socket,
            port,
            sent: 0,
        }
    }

    fn branch(&mut self) -> String {
        self.sent += 1;
        format!("z9hG4bK-attack-{}-{}", self.port, self.sent)
    }

    /// Sends `request` (its `BRANCH` replaced) and returns the first final response to it,
    /// within 5 s.
    fn final_response(&mut self, switch: &Switch, request: &str) -> String {
        let branch = self.branch();
        self.send_raw(switch, &request.replace("BRANCH", &branch));
        self.wait_final(switch, &branch)
    }

    fn send_raw(&self, switch: &Switch, request: &str) {
        self.socket
            .send_to(request.as_bytes(), switch.sip)
            .expect("send request");
    }

    fn wait_final(&self, switch: &Switch, branch: &str) -> String {
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

/// The log without its ANSI colour sequences (`ESC [ … m`).
fn without_colours(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a SIP response: {response}"))
}

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

fn nonce_of(response: &str) -> String {
    let challenge = header_values(response, "WWW-Authenticate")
        .into_iter()
        .chain(header_values(response, "Proxy-Authenticate"))
        .next()
        .unwrap_or_else(|| panic!("no challenge in {response}"));
    let start = challenge.find("nonce=\"").expect("nonce") + 7;
    let end = challenge[start..].find('"').expect("closing quote") + start;
    challenge[start..end].to_string()
}

/// An MD5 Authorization value; `nc` None makes an RFC 2069 response (no qop).
fn authorization(
    user: &str,
    password: &str,
    nonce: &str,
    method: &str,
    uri: &str,
    nc: Option<&str>,
) -> String {
    let ha1 = md5_hex(&format!("{user}:{REALM}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    match nc {
        Some(nc) => {
            let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:c0ffee:auth:{ha2}"));
            format!(
                "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
                 response=\"{response}\", algorithm=MD5, qop=auth, nc={nc}, cnonce=\"c0ffee\""
            )
        }
        None => {
            let response = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
            format!(
                "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
                 response=\"{response}\", algorithm=MD5"
            )
        }
    }
}

/// A REGISTER of `user` from `peer`; `contact` None makes a query, `Some("*")` with
/// `expires` "0" removes every binding.
struct Register<'a> {
    user: &'a str,
    call_id: String,
    cseq: u32,
    contact: Option<String>,
    expires: &'a str,
}

impl Register<'_> {
    fn new(user: &str, peer: &Peer) -> Register<'static> {
        Register {
            user: Box::leak(user.to_string().into_boxed_str()),
            call_id: format!("reg-{user}-{}@127.0.0.1", peer.port),
            cseq: 0,
            contact: Some(format!("<sip:{user}@127.0.0.1:{}>", peer.port)),
            expires: "600",
        }
    }

    fn uri(switch: &Switch) -> String {
        format!("sip:{}", switch.sip)
    }

    fn text(&mut self, switch: &Switch, peer: &Peer, authorization: Option<&str>) -> String {
        self.cseq += 1;
        let auth = authorization
            .map(|value| format!("Authorization: {value}\r\n"))
            .unwrap_or_default();
        let contact = self
            .contact
            .as_ref()
            .map(|c| format!("Contact: {c}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch=BRANCH\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@127.0.0.1>;tag=attack-{port}\r\n\
             To: <sip:{user}@127.0.0.1>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             {contact}Expires: {expires}\r\n\
             {auth}Content-Length: 0\r\n\r\n",
            uri = Register::uri(switch),
            port = peer.port,
            user = self.user,
            call_id = self.call_id,
            cseq = self.cseq,
            expires = self.expires,
        )
    }

    /// Challenge, then answer with `password`: the final response to the answer.
    fn with_password(&mut self, switch: &Switch, peer: &mut Peer, password: &str) -> String {
        let request = self.text(switch, peer, None);
        let challenge = peer.final_response(switch, &request);
        if status(&challenge) != 401 {
            return challenge;
        }
        let nonce = nonce_of(&challenge);
        let uri = Register::uri(switch);
        let answer = authorization(
            self.user,
            password,
            &nonce,
            "REGISTER",
            &uri,
            Some("00000001"),
        );
        let request = self.text(switch, peer, Some(&answer));
        peer.final_response(switch, &request)
    }
}

/// The Contacts the switch holds for 1001, from an authenticated query REGISTER.
fn registered_contacts(switch: &Switch) -> Vec<String> {
    let mut peer = Peer::new();
    let mut query = Register::new(USER, &peer);
    query.contact = None;
    let ok = query.with_password(switch, &mut peer, PASSWORD);
    assert_eq!(status(&ok), 200, "{ok}");
    header_values(&ok, "Contact")
}

/// `count` wrong-password attempts for `user` from `peer`: each status of the answer (or of
/// the first REGISTER when it is not challenged).
fn wrong_passwords(switch: &Switch, peer: &mut Peer, user: &str, count: usize) -> Vec<u16> {
    let mut register = Register::new(user, peer);
    (0..count)
        .map(|_| status(&register.with_password(switch, peer, "a-guess")))
        .collect()
}

#[test]
fn spoofed_failures_for_made_up_users_neither_stop_the_phone_registering_nor_its_bye() {
    let switch = switch_with("127.0.0.2", "");
    // The phone calls the hotline and is answered.
    let mut phone = Peer::new();
    let phone_port = phone.port;
    let invite = |auth: &str, cseq: u32| {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n";
        format!(
            "INVITE sip:4008@{sip} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch=BRANCH\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{USER}@127.0.0.1>;tag=phone-call\r\n\
             To: <sip:4008@{sip}>\r\n\
             Call-ID: phone-call-{port}@127.0.0.1\r\n\
             CSeq: {cseq} INVITE\r\n\
             Contact: <sip:{USER}@127.0.0.1:{port}>\r\n\
             {auth}Content-Type: application/sdp\r\n\
             Content-Length: {len}\r\n\r\n{sdp}",
            sip = switch.sip,
            port = phone_port,
            len = sdp.len(),
        )
    };
    let challenge = phone.final_response(&switch, &invite("", 1));
    assert_eq!(status(&challenge), 407, "{challenge}");
    let answer = authorization(
        USER,
        PASSWORD,
        &nonce_of(&challenge),
        "INVITE",
        &format!("sip:4008@{}", switch.sip),
        Some("00000001"),
    );
    let ok = phone.final_response(
        &switch,
        &invite(&format!("Proxy-Authorization: {answer}\r\n"), 2),
    );
    assert_eq!(status(&ok), 200, "{ok}");
    let to = header_values(&ok, "To").remove(0);
    let in_dialog = |method: &str, cseq: u32| {
        format!(
            "{method} sip:hotline@{sip} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch=BRANCH\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{USER}@127.0.0.1>;tag=phone-call\r\n\
             To: {to}\r\n\
             Call-ID: phone-call-{port}@127.0.0.1\r\n\
             CSeq: {cseq} {method}\r\n\
             Content-Length: 0\r\n\r\n",
            sip = switch.sip,
            port = phone_port,
        )
    };
    let ack = in_dialog("ACK", 2).replace("BRANCH", "z9hG4bK-attack-ack");
    phone.send_raw(&switch, &ack);

    // The attacker, from the phone's IP: five made-up users, each failing until refused,
    // and five plain REGISTERs more for each.
    let mut spoofer = Peer::new();
    for n in 0..5 {
        let user = format!("made-up-{n}");
        let statuses = wrong_passwords(&switch, &mut spoofer, &user, 6);
        assert_eq!(statuses, [401, 401, 401, 401, 403, 403], "{user}");
    }

    // The call goes on: its BYE is answered 200.
    let bye = phone.final_response(&switch, &in_dialog("BYE", 3));
    assert_eq!(status(&bye), 200, "{bye}");
    // And the phone registers.
    let mut register = Register::new(USER, &phone);
    let ok = register.with_password(&switch, &mut phone, PASSWORD);
    assert_eq!(status(&ok), 200, "{ok}");
}

#[test]
fn a_user_blocked_from_an_address_leaves_other_users_there_free_and_logs_the_fail2ban_line() {
    let switch = switch_with("127.0.0.2", "");
    let mut spoofer = Peer::new();
    assert_eq!(
        wrong_passwords(&switch, &mut spoofer, USER, 6),
        [401, 401, 401, 401, 403, 403]
    );
    // 1001 is blocked from 127.0.0.1 now, even with the right password.
    let mut phone = Peer::new();
    let mut register = Register::new(USER, &phone);
    assert_eq!(
        status(&register.with_password(&switch, &mut phone, PASSWORD)),
        403
    );
    // Another user from the same address is not.
    let mut other = Register::new("1002", &phone);
    let request = other.text(&switch, &phone, None);
    assert_eq!(status(&phone.final_response(&switch, &request)), 401);
    assert!(
        without_colours(&switch.log_tail()).contains("authentication failed ip=127.0.0.1"),
        "the fail2ban line is missing:\n{}",
        switch.log_tail()
    );
}

#[test]
fn a_trunk_source_is_never_blocked() {
    let switch = switch_with("127.0.0.1", "");
    let mut peer = Peer::new();
    assert_eq!(wrong_passwords(&switch, &mut peer, USER, 8), [401; 8]);
    let mut register = Register::new(USER, &peer);
    let ok = register.with_password(&switch, &mut peer, PASSWORD);
    assert_eq!(status(&ok), 200, "{ok}");
}

#[test]
fn an_ignored_network_is_never_blocked() {
    let switch = switch_with("127.0.0.2", "ignore = [\"127.0.0.0/24\"]");
    let mut peer = Peer::new();
    assert_eq!(wrong_passwords(&switch, &mut peer, USER, 8), [401; 8]);
    let mut register = Register::new(USER, &peer);
    let ok = register.with_password(&switch, &mut peer, PASSWORD);
    assert_eq!(status(&ok), 200, "{ok}");
}

#[test]
fn blocks_escalate_each_one_twice_as_long_as_the_last() {
    let switch = switch_with(
        "127.0.0.2",
        "failures_allowed = 2\nfirst_block = \"1s\"\nlongest_block = \"8s\"",
    );
    let mut peer = Peer::new();
    let plain = |peer: &mut Peer| {
        let mut register = Register::new(USER, peer);
        let request = register.text(&switch, peer, None);
        status(&peer.final_response(&switch, &request))
    };
    assert_eq!(wrong_passwords(&switch, &mut peer, USER, 2), [401, 403]);
    let first = Instant::now();
    assert_eq!(plain(&mut peer), 403, "blocked for the first second");
    std::thread::sleep(Duration::from_millis(1300).saturating_sub(first.elapsed()));
    assert_eq!(plain(&mut peer), 401, "the first block lasts 1 s");
    assert_eq!(wrong_passwords(&switch, &mut peer, USER, 2), [401, 403]);
    let second = Instant::now();
    std::thread::sleep(Duration::from_millis(1300).saturating_sub(second.elapsed()));
    assert_eq!(plain(&mut peer), 403, "the second block lasts 2 s, not 1 s");
    std::thread::sleep(Duration::from_millis(2300).saturating_sub(second.elapsed()));
    assert_eq!(plain(&mut peer), 401, "the second block is over after 2 s");
}

/// The response with what legitimately differs (user, nonce, To tag, Call-ID, branch,
/// port) replaced by placeholders.
fn shape(response: &str, user: &str, peer: &Peer) -> String {
    // Random values first: a nonce or tag may contain the user's or the port's digits.
    let mut out = response.to_owned();
    if response.contains("nonce=\"") {
        out = out.replace(&nonce_of(response), "NONCE");
    }
    if let Some(to) = header_values(response, "To").first() {
        if let Some(tag) = to.split(";tag=").nth(1) {
            out = out.replace(tag, "TAG");
        }
    }
    let out = out
        .replace(user, "USER")
        .replace(&peer.port.to_string(), "PORT");
    // The branch: attack-PORT-<count>.
    let mut parts = out.split("attack-PORT-");
    let mut normalised = parts.next().unwrap_or("").to_string();
    for part in parts {
        normalised.push_str("attack-PORT-N");
        normalised.push_str(part.trim_start_matches(|c: char| c.is_ascii_digit()));
    }
    normalised
}

#[test]
fn an_unknown_user_gets_exactly_what_a_known_user_with_a_wrong_password_gets() {
    let switch = switch_with("127.0.0.2", "digest_algorithms = [\"SHA-256\", \"MD5\"]");
    let mut replies: Vec<Vec<String>> = Vec::new();
    for user in [USER, "7777"] {
        let mut peer = Peer::new();
        let mut register = Register::new(user, &peer);
        let mut shapes = Vec::new();
        // An INVITE from that user first (after the failures below it would be blocked).
        let invite = format!(
            "INVITE sip:4008@{sip} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch=BRANCH\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@127.0.0.1>;tag=enum\r\n\
             To: <sip:4008@{sip}>\r\n\
             Call-ID: enum-invite-{port}@127.0.0.1\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:{user}@127.0.0.1:{port}>\r\n\
             Content-Length: 0\r\n\r\n",
            sip = switch.sip,
            port = peer.port,
        );
        let challenge = peer.final_response(&switch, &invite);
        shapes.push(shape(&challenge, user, &peer));
        for _ in 0..6 {
            let request = register.text(&switch, &peer, None);
            let challenge = peer.final_response(&switch, &request);
            shapes.push(shape(&challenge, user, &peer));
            if status(&challenge) != 401 {
                continue;
            }
            let uri = Register::uri(&switch);
            let answer = authorization(
                user,
                "a-guess",
                &nonce_of(&challenge),
                "REGISTER",
                &uri,
                Some("00000001"),
            );
            let request = register.text(&switch, &peer, Some(&answer));
            let refused = peer.final_response(&switch, &request);
            shapes.push(shape(&refused, user, &peer));
        }
        replies.push(shapes);
    }
    let statuses: Vec<u16> = replies[1].iter().map(|r| status(r)).collect();
    assert_eq!(
        statuses,
        [407, 401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 403]
    );
    assert_eq!(
        replies[0], replies[1],
        "a known and an unknown user are told apart"
    );
    let algorithms: Vec<String> = header_values(&replies[1][1], "WWW-Authenticate")
        .iter()
        .map(|c| c.rsplit("algorithm=").next().unwrap_or("").to_string())
        .collect();
    assert_eq!(algorithms, ["SHA-256", "MD5"]);
}

#[test]
fn an_rfc_2069_response_without_qop_is_refused_and_cannot_be_replayed() {
    let switch = switch_with("127.0.0.2", "");
    let mut phone = Peer::new();
    let mut register = Register::new(USER, &phone);
    let request = register.text(&switch, &phone, None);
    let challenge = phone.final_response(&switch, &request);
    let uri = Register::uri(&switch);
    let answer = authorization(
        USER,
        PASSWORD,
        &nonce_of(&challenge),
        "REGISTER",
        &uri,
        None,
    );
    let sniffed = register.text(&switch, &phone, Some(&answer));
    let first = phone.final_response(&switch, &sniffed);
    assert_eq!(status(&first), 401, "an RFC 2069 response was accepted");
    // The attacker replays it (new branch, higher CSeq): refused again.
    let replay = sniffed.replace(
        &format!("CSeq: {} REGISTER", register.cseq),
        &format!("CSeq: {} REGISTER", register.cseq + 10),
    );
    // Sent from the phone's socket: the Via names it, so that is where the answer goes.
    let again = phone.final_response(&switch, &replay);
    assert_eq!(
        status(&again),
        401,
        "a replayed RFC 2069 response was accepted"
    );
    assert!(registered_contacts(&switch).is_empty());
}

#[test]
fn a_replayed_register_with_the_same_nonce_and_count_cannot_register_again() {
    let switch = switch_with("127.0.0.2", "");
    let mut phone = Peer::new();
    let mut register = Register::new(USER, &phone);
    let request = register.text(&switch, &phone, None);
    let challenge = phone.final_response(&switch, &request);
    let uri = Register::uri(&switch);
    let answer = authorization(
        USER,
        PASSWORD,
        &nonce_of(&challenge),
        "REGISTER",
        &uri,
        Some("00000001"),
    );
    let sniffed = register.text(&switch, &phone, Some(&answer));
    assert_eq!(status(&phone.final_response(&switch, &sniffed)), 200);
    // The phone leaves.
    let mut leave = Register::new(USER, &phone);
    leave.contact = Some("*".into());
    leave.expires = "0";
    assert_eq!(
        status(&leave.with_password(&switch, &mut phone, PASSWORD)),
        200
    );
    assert!(registered_contacts(&switch).is_empty());
    let replay = sniffed.replace(
        &format!("CSeq: {} REGISTER", register.cseq),
        &format!("CSeq: {} REGISTER", register.cseq + 10),
    );
    // Sent from the phone's socket: the Via names it, so that is where the answer goes.
    let again = phone.final_response(&switch, &replay);
    assert_eq!(status(&again), 401, "a replayed REGISTER was accepted");
    assert!(registered_contacts(&switch).is_empty());
}

#[test]
fn a_digest_whose_uri_is_not_the_request_uri_is_refused() {
    let switch = switch_with("127.0.0.2", "");
    let mut phone = Peer::new();
    let mut register = Register::new(USER, &phone);
    let request = register.text(&switch, &phone, None);
    let challenge = phone.final_response(&switch, &request);
    let answer = authorization(
        USER,
        PASSWORD,
        &nonce_of(&challenge),
        "REGISTER",
        "sip:other-registrar.example",
        Some("00000001"),
    );
    let request = register.text(&switch, &phone, Some(&answer));
    let refused = phone.final_response(&switch, &request);
    assert_eq!(status(&refused), 401, "{refused}");
    assert!(registered_contacts(&switch).is_empty());
}

#[test]
fn the_sixth_contact_of_a_phone_is_refused_with_403() {
    let switch = switch_with("127.0.0.2", "");
    let mut phones: Vec<Peer> = (0..6).map(|_| Peer::new()).collect();
    let mut statuses = Vec::new();
    for phone in &mut phones {
        let mut register = Register::new(USER, phone);
        statuses.push(status(&register.with_password(&switch, phone, PASSWORD)));
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 403]);
    let contacts = registered_contacts(&switch);
    assert_eq!(contacts.len(), 5, "{contacts:?}");
    let refused = format!("127.0.0.1:{}", phones[5].port);
    assert!(
        !contacts.iter().any(|c| c.contains(&refused)),
        "{contacts:?}"
    );
}

#[test]
fn a_contact_pointing_at_the_switch_is_refused_with_403() {
    let switch = switch_with("127.0.0.2", "");
    let sip: SocketAddr = switch.sip;
    for contact in [
        format!("<sip:{USER}@{sip}>"),
        format!("<sip:{USER}@127.0.0.1:{}>", sip.port()),
        format!("<sip:{USER}@0.0.0.0:{}>", sip.port()),
    ] {
        let mut phone = Peer::new();
        let mut register = Register::new(USER, &phone);
        register.contact = Some(contact.clone());
        let reply = register.with_password(&switch, &mut phone, PASSWORD);
        assert_eq!(status(&reply), 403, "{contact}: {reply}");
    }
    assert!(registered_contacts(&switch).is_empty());
}
