//! The agents' phones, driven with raw SIP bytes in virtual time: registrar with digest
//! authentication, authenticated phone INVITEs and brute-force blocking. Our INVITEs to
//! registered phones (the UAC side) are in [`calls_to_phones`]. Expected digests are computed here with the hash crates
//! directly, not with `auth.rs`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest as _, Sha256};

use super::*;
use crate::sip::{Algorithm, Binding, EndpointConfig, PhoneCredentials};

/// A desk phone outside the trunk network.
const PHONE: &str = "192.0.2.50:5072";
const TRUNK: &str = "127.0.0.1:5070";
const REGISTRAR_URI: &str = "sip:127.0.0.1:5060";

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn md5_hex(text: &str) -> String {
    hex(&Md5::digest(text.as_bytes()))
}

fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn text_of(t: &Transmit) -> String {
    String::from_utf8(t.payload.clone()).unwrap()
}

fn status_of(text: &str) -> u16 {
    assert!(text.starts_with("SIP/2.0 "), "not a response: {text}");
    text[8..11].parse().unwrap()
}

fn headers<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let head = text.split("\r\n\r\n").next().unwrap();
    head.split("\r\n")
        .filter_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    headers(text, name).first().copied()
}

/// A quoted parameter of a challenge header.
fn param(value: &str, name: &str) -> Option<String> {
    let start = value.find(&format!("{name}=\""))? + name.len() + 2;
    let end = value[start..].find('"')? + start;
    Some(value[start..end].to_owned())
}

fn tag_of(value: &str) -> String {
    value.split(";tag=").nth(1).unwrap().to_owned()
}

fn config() -> EndpointConfig {
    let mut config = EndpointConfig::new(addr("127.0.0.1:5060"));
    config.trusted = vec![(addr("127.0.0.0:0").ip(), 8)];
    config.secret = [9; 32];
    config.phones = vec![
        PhoneCredentials {
            user: "1001".into(),
            password: Some("sample-1001".into()),
            ha1_md5: None,
            ha1_sha256: None,
        },
        PhoneCredentials {
            user: "1002".into(),
            password: None,
            ha1_md5: Some(md5_hex("1002:hotline:sample-1002")),
            ha1_sha256: None,
        },
    ];
    config
}

/// Both algorithms offered, SHA-256 first, as RFC 7616 would have it.
fn config_offering_both() -> EndpointConfig {
    EndpointConfig {
        digest_algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        ..config()
    }
}

#[derive(Clone, Copy)]
enum Alg {
    Md5,
    Sha256,
}

/// Digest credentials as a phone computes them (RFC 7616 3.4.1).
struct Answer<'a> {
    alg: Alg,
    user: &'a str,
    password: &'a str,
    nonce: &'a str,
    method: &'a str,
    uri: &'a str,
    nc: Option<&'a str>,
}

impl Answer<'_> {
    fn header_value(&self) -> String {
        let h = |text: &str| match self.alg {
            Alg::Md5 => md5_hex(text),
            Alg::Sha256 => sha256_hex(text),
        };
        let ha1 = h(&format!("{}:hotline:{}", self.user, self.password));
        let ha2 = h(&format!("{}:{}", self.method, self.uri));
        let algorithm = match self.alg {
            Alg::Md5 => "MD5",
            Alg::Sha256 => "SHA-256",
        };
        match self.nc {
            Some(nc) => {
                let response = h(&format!("{ha1}:{}:{nc}:0a4f113b:auth:{ha2}", self.nonce));
                format!(
                    "Digest username=\"{}\", realm=\"hotline\", nonce=\"{}\", uri=\"{}\", \
                     response=\"{response}\", algorithm={algorithm}, qop=auth, nc={nc}, \
                     cnonce=\"0a4f113b\"",
                    self.user, self.nonce, self.uri
                )
            }
            None => {
                let response = h(&format!("{ha1}:{}:{ha2}", self.nonce));
                format!(
                    "Digest username=\"{}\", realm=\"hotline\", nonce=\"{}\", uri=\"{}\", \
                     response=\"{response}\", algorithm={algorithm}",
                    self.user, self.nonce, self.uri
                )
            }
        }
    }
}

/// A REGISTER from the phone at `PHONE` for `user`.
struct Register<'a> {
    user: &'a str,
    cseq: u32,
    contacts: &'a str,
    expires: Option<&'a str>,
    authorization: Option<String>,
}

impl Register<'_> {
    fn new(user: &str) -> Register<'_> {
        Register {
            user,
            cseq: 1,
            contacts: "Contact: <sip:USER@192.0.2.50:5072>\r\n",
            expires: Some("3600"),
            authorization: None,
        }
    }

    fn text(&self) -> String {
        let user = self.user;
        let expires = self
            .expires
            .map(|e| format!("Expires: {e}\r\n"))
            .unwrap_or_default();
        let auth = self
            .authorization
            .as_ref()
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER {REGISTRAR_URI} SIP/2.0\r\n\
Via: SIP/2.0/UDP {PHONE};branch=z9hG4bK-reg-{user}-{cseq};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:{user}@127.0.0.1>;tag=reg-{user}\r\n\
To: <sip:{user}@127.0.0.1>\r\n\
Call-ID: reg-{user}@192.0.2.50\r\n\
CSeq: {cseq} REGISTER\r\n\
{contacts}{expires}{auth}Content-Length: 0\r\n\r\n",
            cseq = self.cseq,
            contacts = self.contacts.replace("USER", user),
        )
    }
}

struct Harness {
    endpoint: Endpoint,
    t0: Instant,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(config())
    }

    fn with(config: EndpointConfig) -> Harness {
        Harness {
            endpoint: Endpoint::new(config),
            t0: Instant::now(),
        }
    }

    fn at(&self, offset: Duration) -> Instant {
        self.t0 + offset
    }

    fn input(&mut self, offset: Duration, transport: Transport, source: &str, text: &str) {
        let now = self.at(offset);
        self.endpoint
            .handle_input(now, transport, addr(source), text.as_bytes());
    }

    fn phone_sends(&mut self, offset: Duration, text: &str) {
        self.input(offset, Transport::Udp, PHONE, text);
    }

    fn transmits(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.endpoint.poll_transmit()).collect()
    }

    /// The one message sent, as text.
    fn sent_one(&mut self) -> String {
        let sent = self.transmits();
        assert_eq!(
            sent.len(),
            1,
            "{:?}",
            sent.iter().map(text_of).collect::<Vec<_>>()
        );
        text_of(&sent[0])
    }

    fn events(&mut self) -> Vec<CallEvent> {
        std::iter::from_fn(|| self.endpoint.poll_event()).collect()
    }

    /// Runs timers up to `until`, collecting what was sent with its offset in ms.
    fn run_until(&mut self, until: Duration) -> Vec<(u128, Transmit)> {
        let mut sent = Vec::new();
        while let Some(at) = self.endpoint.poll_timeout() {
            if at > self.at(until) {
                break;
            }
            self.endpoint.handle_timeout(at);
            for t in self.transmits() {
                sent.push(((at - self.t0).as_millis(), t));
            }
        }
        sent
    }

    /// Sends `register` without credentials and returns the nonce of the 401.
    fn nonce_for(&mut self, offset: Duration, register: &Register<'_>) -> String {
        self.phone_sends(offset, &register.text());
        let text = self.sent_one();
        assert_eq!(status_of(&text), 401, "{text}");
        param(header(&text, "WWW-Authenticate").unwrap(), "nonce").unwrap()
    }

    /// Challenge, then answer with the right password; returns the 200.
    fn registered(&mut self, offset: Duration, mut register: Register<'_>) -> String {
        let nonce = self.nonce_for(offset, &register);
        let password = format!("sample-{}", register.user);
        register.cseq += 1;
        register.authorization = Some(
            Answer {
                alg: Alg::Md5,
                user: register.user,
                password: &password,
                nonce: &nonce,
                method: "REGISTER",
                uri: REGISTRAR_URI,
                nc: Some("00000001"),
            }
            .header_value(),
        );
        self.phone_sends(offset, &register.text());
        let text = self.sent_one();
        assert_eq!(status_of(&text), 200, "{text}");
        text
    }
}

fn binding_of(h: &Harness, user: &str) -> Binding {
    let bindings = h.endpoint.bindings(user);
    assert_eq!(bindings.len(), 1, "{bindings:?}");
    bindings[0].clone()
}

// ---------------------------------------------------------------------------------------
// Registrar and digest authentication.

#[test]
fn by_default_only_md5_is_offered_as_the_real_peers_fail_on_sha256() {
    let mut h = Harness::new();
    h.phone_sends(Duration::ZERO, &Register::new("1001").text());
    let text = h.sent_one();
    assert_eq!(status_of(&text), 401);
    let challenges = headers(&text, "WWW-Authenticate");
    assert_eq!(challenges.len(), 1, "{text}");
    assert!(challenges[0].contains("algorithm=MD5"));
}

#[test]
fn register_without_credentials_is_challenged_with_sha256_then_md5() {
    let mut h = Harness::with(config_offering_both());
    h.phone_sends(Duration::ZERO, &Register::new("1001").text());
    let text = h.sent_one();
    assert_eq!(status_of(&text), 401);
    let challenges = headers(&text, "WWW-Authenticate");
    assert_eq!(challenges.len(), 2, "{text}");
    assert!(challenges[0].starts_with("Digest "));
    assert!(
        challenges[0].contains("algorithm=SHA-256"),
        "{}",
        challenges[0]
    );
    assert!(challenges[1].contains("algorithm=MD5"), "{}", challenges[1]);
    for c in &challenges {
        assert_eq!(param(c, "realm").as_deref(), Some("hotline"));
        assert_eq!(param(c, "qop").as_deref(), Some("auth"));
        assert!(!c.contains("stale=true"));
    }
    assert_eq!(param(challenges[0], "nonce"), param(challenges[1], "nonce"));
    assert!(h.events().is_empty(), "a first challenge is no failure");
    assert!(h.endpoint.bindings("1001").is_empty());
}

#[test]
fn a_phone_with_only_an_md5_ha1_is_offered_md5_only_and_accepted_with_it() {
    let mut h = Harness::with(config_offering_both());
    h.phone_sends(Duration::ZERO, &Register::new("1002").text());
    let text = h.sent_one();
    let challenges = headers(&text, "WWW-Authenticate");
    assert_eq!(challenges.len(), 1);
    assert!(challenges[0].contains("algorithm=MD5"));
    h.registered(Duration::ZERO, Register::new("1002"));
    assert_eq!(h.endpoint.bindings("1002").len(), 1);
}

#[test]
fn register_with_md5_digest_is_accepted_and_lists_the_contact_with_its_expiry() {
    let mut h = Harness::new();
    let text = h.registered(Duration::ZERO, Register::new("1001"));
    assert_eq!(
        headers(&text, "Contact"),
        vec!["<sip:1001@192.0.2.50:5072>;expires=3600"]
    );
    let binding = binding_of(&h, "1001");
    assert_eq!(
        binding,
        Binding {
            user: "1001".into(),
            contact: "sip:1001@192.0.2.50:5072".into(),
            address: addr("192.0.2.50:5072"),
            transport: Transport::Udp,
            expires_at: h.at(secs(3600)),
        }
    );
    assert_eq!(
        h.events(),
        vec![CallEvent::BindingsChanged {
            user: "1001".into(),
            bindings: vec![binding],
        }]
    );
}

#[test]
fn register_with_sha256_digest_is_accepted() {
    let mut h = Harness::with(config_offering_both());
    let mut register = Register::new("1001");
    let nonce = h.nonce_for(Duration::ZERO, &register);
    register.cseq = 2;
    register.authorization = Some(
        Answer {
            alg: Alg::Sha256,
            user: "1001",
            password: "sample-1001",
            nonce: &nonce,
            method: "REGISTER",
            uri: REGISTRAR_URI,
            nc: Some("00000001"),
        }
        .header_value(),
    );
    h.phone_sends(ms(20), &register.text());
    assert_eq!(status_of(&h.sent_one()), 200);
    assert_eq!(h.endpoint.bindings("1001").len(), 1);
}

#[test]
fn a_right_response_without_qop_is_refused_as_replayable_with_either_algorithm() {
    let mut h = Harness::new();
    for (alg, expected) in [(Alg::Sha256, 401), (Alg::Md5, 401)] {
        let mut register = Register::new("1001");
        let nonce = h.nonce_for(Duration::ZERO, &register);
        register.cseq = 2;
        register.authorization = Some(
            Answer {
                alg,
                user: "1001",
                password: "sample-1001",
                nonce: &nonce,
                method: "REGISTER",
                uri: REGISTRAR_URI,
                nc: None,
            }
            .header_value(),
        );
        h.phone_sends(ms(10), &register.text());
        assert_eq!(status_of(&h.sent_one()), expected);
        assert!(matches!(
            h.events().as_slice(),
            [CallEvent::AuthFailed { blocked: false, .. }]
        ));
    }
    assert!(h.endpoint.bindings("1001").is_empty());
}

fn wrong_password_register(h: &mut Harness, offset: Duration, cseq: u32) -> String {
    let mut register = Register::new("1001");
    register.cseq = cseq;
    let nonce = h.nonce_for(offset, &register);
    register.cseq = cseq + 1;
    register.authorization = Some(
        Answer {
            alg: Alg::Md5,
            user: "1001",
            password: "guess",
            nonce: &nonce,
            method: "REGISTER",
            uri: REGISTRAR_URI,
            nc: Some("00000001"),
        }
        .header_value(),
    );
    h.phone_sends(offset, &register.text());
    h.sent_one()
}

#[test]
fn wrong_password_is_challenged_again_and_reported() {
    let mut h = Harness::new();
    let text = wrong_password_register(&mut h, Duration::ZERO, 1);
    assert_eq!(status_of(&text), 401);
    assert_eq!(headers(&text, "WWW-Authenticate").len(), 1);
    assert_eq!(
        h.events(),
        vec![CallEvent::AuthFailed {
            source: addr(PHONE),
            user: "1001".into(),
            blocked: false,
        }]
    );
    assert!(h.endpoint.bindings("1001").is_empty());
}

#[test]
fn a_nonce_past_its_lifetime_is_challenged_again_with_stale_true() {
    let mut h = Harness::new();
    let mut register = Register::new("1001");
    let nonce = h.nonce_for(Duration::ZERO, &register);
    register.cseq = 2;
    register.authorization = Some(
        Answer {
            alg: Alg::Md5,
            user: "1001",
            password: "sample-1001",
            nonce: &nonce,
            method: "REGISTER",
            uri: REGISTRAR_URI,
            nc: Some("00000001"),
        }
        .header_value(),
    );
    // Within the 5 minute lifetime the same nonce is fine ...
    h.phone_sends(secs(299), &register.text());
    assert_eq!(status_of(&h.sent_one()), 200);
    h.events();
    // ... after it, the right password gets a fresh challenge marked stale, not a failure.
    register.cseq = 3;
    register.authorization = Some(
        Answer {
            alg: Alg::Md5,
            user: "1001",
            password: "sample-1001",
            nonce: &nonce,
            method: "REGISTER",
            uri: REGISTRAR_URI,
            nc: Some("00000002"),
        }
        .header_value(),
    );
    h.phone_sends(secs(301), &register.text());
    let text = h.sent_one();
    assert_eq!(status_of(&text), 401);
    let challenges = headers(&text, "WWW-Authenticate");
    assert!(
        challenges.iter().all(|c| c.contains("stale=true")),
        "{text}"
    );
    assert_ne!(param(challenges[0], "nonce").unwrap(), nonce);
    assert!(h.events().is_empty());
}

#[test]
fn a_replayed_nonce_count_is_refused_with_a_fresh_nonce_and_a_higher_one_accepted() {
    let mut h = Harness::new();
    let mut register = Register::new("1001");
    let nonce = h.nonce_for(Duration::ZERO, &register);
    let answer = |nc| {
        Answer {
            alg: Alg::Md5,
            user: "1001",
            password: "sample-1001",
            nonce: &nonce,
            method: "REGISTER",
            uri: REGISTRAR_URI,
            nc: Some(nc),
        }
        .header_value()
    };
    register.cseq = 2;
    register.authorization = Some(answer("00000001"));
    h.phone_sends(ms(10), &register.text());
    assert_eq!(status_of(&h.sent_one()), 200);
    h.events();
    // The same credentials in a new request (new branch and CSeq): a replay. Whoever sent
    // it knew the password once, so it is no guess to count: a fresh nonce, marked stale.
    register.cseq = 3;
    h.phone_sends(ms(20), &register.text());
    let text = h.sent_one();
    assert_eq!(status_of(&text), 401);
    let challenge = header(&text, "WWW-Authenticate").unwrap();
    assert!(challenge.contains("stale=true"), "{challenge}");
    assert_ne!(param(challenge, "nonce").unwrap(), nonce);
    assert!(h.events().is_empty());
    assert_eq!(binding_of(&h, "1001").expires_at, h.at(ms(10) + secs(3600)));
    register.cseq = 4;
    register.authorization = Some(answer("00000002"));
    h.phone_sends(ms(30), &register.text());
    assert_eq!(status_of(&h.sent_one()), 200);
}

#[test]
fn a_retransmitted_authenticated_register_is_absorbed_not_taken_for_a_replay() {
    let mut h = Harness::new();
    let mut register = Register::new("1001");
    let nonce = h.nonce_for(Duration::ZERO, &register);
    register.cseq = 2;
    register.authorization = Some(
        Answer {
            alg: Alg::Md5,
            user: "1001",
            password: "sample-1001",
            nonce: &nonce,
            method: "REGISTER",
            uri: REGISTRAR_URI,
            nc: Some("00000001"),
        }
        .header_value(),
    );
    h.phone_sends(ms(10), &register.text());
    assert_eq!(status_of(&h.sent_one()), 200);
    h.events();
    h.phone_sends(ms(510), &register.text());
    assert_eq!(status_of(&h.sent_one()), 200);
    assert!(h.events().is_empty());
}

#[test]
fn expires_below_the_minimum_gets_423_with_min_expires() {
    let mut h = Harness::new();
    let mut register = Register::new("1001");
    register.expires = Some("30");
    let nonce = h.nonce_for(Duration::ZERO, &register);
    register.cseq = 2;
    register.authorization = Some(
        Answer {
            alg: Alg::Md5,
            user: "1001",
            password: "sample-1001",
            nonce: &nonce,
            method: "REGISTER",
            uri: REGISTRAR_URI,
            nc: Some("00000001"),
        }
        .header_value(),
    );
    h.phone_sends(ms(10), &register.text());
    let text = h.sent_one();
    assert_eq!(status_of(&text), 423);
    assert_eq!(header(&text, "Min-Expires"), Some("60"));
    assert!(h.endpoint.bindings("1001").is_empty());
    assert!(h.events().is_empty());
}

#[test]
fn two_contacts_each_get_a_binding_and_expires_zero_removes_only_one() {
    let mut h = Harness::new();
    let mut register = Register::new("1001");
    register.contacts = "Contact: <sip:USER@192.0.2.50:5072>;expires=600\r\n\
Contact: <sip:USER@192.0.2.60:5080;transport=tcp>\r\n";
    register.expires = Some("1200");
    let text = h.registered(Duration::ZERO, register);
    assert_eq!(
        headers(&text, "Contact"),
        vec![
            "<sip:1001@192.0.2.50:5072>;expires=600",
            "<sip:1001@192.0.2.60:5080;transport=tcp>;expires=1200"
        ]
    );
    let bindings = h.endpoint.bindings("1001");
    assert_eq!(bindings[1].address, addr("192.0.2.60:5080"));
    assert_eq!(bindings[1].transport, Transport::Tcp);
    h.events();
    // Later, one device un-registers (same Call-ID, higher CSeq).
    let mut register = Register::new("1001");
    register.cseq = 10;
    register.contacts = "Contact: <sip:USER@192.0.2.50:5072>\r\n";
    register.expires = Some("0");
    let text = h.registered(secs(60), register);
    assert_eq!(
        headers(&text, "Contact"),
        vec!["<sip:1001@192.0.2.60:5080;transport=tcp>;expires=1140"]
    );
    match h.events().as_slice() {
        [CallEvent::BindingsChanged { user, bindings }] => {
            assert_eq!(user, "1001");
            assert_eq!(bindings.len(), 1);
            assert_eq!(
                bindings[0].contact,
                "sip:1001@192.0.2.60:5080;transport=tcp"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_same_contact_refreshes_its_binding() {
    let mut h = Harness::new();
    h.registered(Duration::ZERO, Register::new("1001"));
    let mut again = Register::new("1001");
    again.cseq = 5;
    h.registered(secs(1800), again);
    let binding = binding_of(&h, "1001");
    assert_eq!(binding.expires_at, h.at(secs(1800 + 3600)));
}

#[test]
fn wildcard_contact_with_expires_zero_removes_every_binding() {
    let mut h = Harness::new();
    let mut register = Register::new("1001");
    register.contacts = "Contact: <sip:USER@192.0.2.50:5072>, <sip:USER@192.0.2.51:5072>\r\n";
    h.registered(Duration::ZERO, register);
    assert_eq!(h.endpoint.bindings("1001").len(), 2);
    h.events();
    let mut register = Register::new("1001");
    register.cseq = 10;
    register.contacts = "Contact: *\r\n";
    register.expires = Some("0");
    let text = h.registered(secs(1), register);
    assert!(headers(&text, "Contact").is_empty());
    assert!(h.endpoint.bindings("1001").is_empty());
    assert_eq!(
        h.events(),
        vec![CallEvent::BindingsChanged {
            user: "1001".into(),
            bindings: vec![],
        }]
    );
}

#[test]
fn a_register_without_contact_is_a_query_that_changes_nothing() {
    let mut h = Harness::new();
    h.registered(Duration::ZERO, Register::new("1001"));
    h.events();
    let mut query = Register::new("1001");
    query.cseq = 10;
    query.contacts = "";
    query.expires = None;
    let text = h.registered(secs(100), query);
    assert_eq!(
        headers(&text, "Contact"),
        vec!["<sip:1001@192.0.2.50:5072>;expires=3500"]
    );
    assert!(h.events().is_empty());
}

#[test]
fn bindings_expire_by_timer_and_the_removal_is_reported() {
    let mut h = Harness::new();
    let mut register = Register::new("1001");
    register.expires = Some("120");
    h.registered(Duration::ZERO, register);
    h.events();
    h.run_until(secs(119));
    assert!(h.events().is_empty());
    assert_eq!(h.endpoint.poll_timeout(), Some(h.at(secs(120))));
    h.run_until(secs(120));
    assert_eq!(
        h.events(),
        vec![CallEvent::BindingsChanged {
            user: "1001".into(),
            bindings: vec![],
        }]
    );
    assert!(h.endpoint.bindings("1001").is_empty());
    assert_eq!(h.endpoint.poll_timeout(), None);
}

#[test]
fn restored_bindings_are_listed_and_expire_like_registered_ones() {
    let mut h = Harness::new();
    let binding = Binding {
        user: "1001".into(),
        contact: "sip:1001@192.0.2.50:5072".into(),
        address: addr("192.0.2.50:5072"),
        transport: Transport::Udp,
        expires_at: h.at(secs(30)),
    };
    h.endpoint.restore_binding(binding.clone());
    h.endpoint.restore_binding(Binding {
        user: "7777".into(),
        ..binding.clone()
    });
    assert_eq!(h.endpoint.bindings("1001"), vec![binding]);
    assert!(
        h.endpoint.bindings("7777").is_empty(),
        "not a phone any more"
    );
    h.run_until(secs(30));
    assert!(h.endpoint.bindings("1001").is_empty());
    assert!(matches!(
        h.events().as_slice(),
        [CallEvent::BindingsChanged { .. }]
    ));
}

#[test]
fn failures_spread_wider_than_the_window_do_not_block() {
    let mut h = Harness::new();
    for attempt in 0..8u32 {
        let text = wrong_password_register(&mut h, secs(u64::from(attempt) * 16), attempt * 2 + 1);
        assert_eq!(status_of(&text), 401, "attempt {attempt}");
    }
}

// ---------------------------------------------------------------------------------------
// INVITEs from phones.

fn phone_invite(branch: &str, call_id: &str, user: &str, authorization: Option<&str>) -> String {
    let auth = authorization
        .map(|a| format!("Proxy-Authorization: {a}\r\n"))
        .unwrap_or_default();
    let sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n";
    format!(
        "INVITE sip:*21@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {PHONE};branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:{user}@127.0.0.1>;tag=phone-tag\r\n\
To: <sip:*21@127.0.0.1:5060>\r\n\
Call-ID: {call_id}\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:{user}@192.0.2.50:5072>\r\n\
{auth}Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

#[test]
fn a_phone_invite_is_challenged_with_407_then_offered_with_its_phone() {
    let mut h = Harness::with(config_offering_both());
    h.phone_sends(
        Duration::ZERO,
        &phone_invite("z9hG4bK-p1", "pc-1", "1001", None),
    );
    let text = h.sent_one();
    assert_eq!(status_of(&text), 407);
    let challenges = headers(&text, "Proxy-Authenticate");
    assert_eq!(challenges.len(), 2);
    assert!(challenges[0].contains("algorithm=SHA-256"));
    assert!(h.events().is_empty());
    // The phone's ACK for the 407 (stateless) is dropped quietly.
    let ack = format!(
        "ACK sip:*21@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK-p1;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=phone-tag\r\nTo: <sip:*21@127.0.0.1:5060>;tag={}\r\n\
Call-ID: pc-1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        tag_of(header(&text, "To").unwrap())
    );
    h.phone_sends(ms(5), &ack);
    assert!(h.transmits().is_empty());
    let nonce = param(challenges[0], "nonce").unwrap();
    let authorization = Answer {
        alg: Alg::Sha256,
        user: "1001",
        password: "sample-1001",
        nonce: &nonce,
        method: "INVITE",
        uri: "sip:*21@127.0.0.1:5060",
        nc: Some("00000001"),
    }
    .header_value();
    h.phone_sends(
        ms(10),
        &phone_invite("z9hG4bK-p2", "pc-1", "1001", Some(&authorization)),
    );
    assert_eq!(status_of(&h.sent_one()), 100);
    let call = match h.events().as_slice() {
        [CallEvent::Incoming {
            call,
            phone,
            request_user,
            source,
            ..
        }] => {
            assert_eq!(phone.as_deref(), Some("1001"));
            assert_eq!(request_user, "*21");
            assert_eq!(*source, addr(PHONE));
            *call
        }
        other => panic!("expected Incoming, got {other:?}"),
    };
    // Answered; the phone's ACK and BYE come from an untrusted address but match the dialog.
    h.endpoint.answer(h.at(ms(20)), call, "v=0 ours\r\n");
    let ok = h.sent_one();
    assert_eq!(status_of(&ok), 200);
    let our_tag = tag_of(header(&ok, "To").unwrap());
    let in_dialog = |method: &str, cseq: u32, branch: &str| {
        format!(
            "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch={branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=phone-tag\r\nTo: <sip:*21@127.0.0.1:5060>;tag={our_tag}\r\n\
Call-ID: pc-1\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    h.phone_sends(ms(30), &in_dialog("ACK", 1, "z9hG4bK-a"));
    assert_eq!(h.events(), vec![CallEvent::Confirmed { call, sdp: None }]);
    h.phone_sends(ms(40), &in_dialog("BYE", 2, "z9hG4bK-b"));
    assert_eq!(status_of(&h.sent_one()), 200);
    assert_eq!(h.events(), vec![CallEvent::Bye { call }]);
    // A request in a dialog that does not exist is still refused to strangers.
    h.phone_sends(ms(50), &in_dialog("BYE", 3, "z9hG4bK-c"));
    assert_eq!(status_of(&h.sent_one()), 403);
}

#[test]
fn credentials_a_phone_keeps_from_its_register_are_accepted_on_its_invite_and_back() {
    // libre (baresip) keeps one credential state per account: after the REGISTER's 401 it
    // sends `Authorization` with the next nonce count on the INVITE, unasked.
    let mut h = Harness::new();
    let mut register = Register::new("1001");
    let nonce = h.nonce_for(Duration::ZERO, &register);
    let answer = |method, uri, nc| {
        Answer {
            alg: Alg::Md5,
            user: "1001",
            password: "sample-1001",
            nonce: &nonce,
            method,
            uri,
            nc: Some(nc),
        }
        .header_value()
    };
    register.cseq = 2;
    register.authorization = Some(answer("REGISTER", REGISTRAR_URI, "00000001"));
    h.phone_sends(ms(10), &register.text());
    assert_eq!(status_of(&h.sent_one()), 200);
    h.events();
    let invite = phone_invite("z9hG4bK-pre", "pre-1", "1001", None).replace(
        "Content-Type:",
        &format!(
            "Authorization: {}\r\nContent-Type:",
            answer("INVITE", "sip:*21@127.0.0.1:5060", "00000002")
        ),
    );
    h.phone_sends(ms(20), &invite);
    assert_eq!(status_of(&h.sent_one()), 100);
    assert!(matches!(
        h.events().as_slice(),
        [CallEvent::Incoming { phone: Some(_), .. }]
    ));
    // And after a 407 it answers with Proxy-Authorization, also on its next REGISTER.
    register.cseq = 3;
    register.authorization = None;
    let text = register.text().replace(
        "Content-Length: 0",
        &format!(
            "Proxy-Authorization: {}\r\nContent-Length: 0",
            answer("REGISTER", REGISTRAR_URI, "00000003")
        ),
    );
    h.phone_sends(ms(30), &text);
    assert_eq!(status_of(&h.sent_one()), 200);
}

#[test]
fn a_phone_invite_from_a_trunk_address_is_still_authenticated() {
    let mut h = Harness::new();
    h.input(
        Duration::ZERO,
        Transport::Udp,
        TRUNK,
        &phone_invite("z9hG4bK-t1", "tc-1", "1001", None),
    );
    assert_eq!(status_of(&h.sent_one()), 407);
    assert!(h.events().is_empty());
}

#[test]
fn a_phone_invite_with_a_wrong_password_is_challenged_again_and_reported() {
    let mut h = Harness::new();
    h.phone_sends(
        Duration::ZERO,
        &phone_invite("z9hG4bK-w1", "wc-1", "1001", None),
    );
    let nonce = param(
        header(&h.sent_one(), "Proxy-Authenticate").unwrap(),
        "nonce",
    )
    .unwrap();
    let authorization = Answer {
        alg: Alg::Md5,
        user: "1001",
        password: "nope",
        nonce: &nonce,
        method: "INVITE",
        uri: "sip:*21@127.0.0.1:5060",
        nc: Some("00000001"),
    }
    .header_value();
    h.phone_sends(
        ms(10),
        &phone_invite("z9hG4bK-w2", "wc-1", "1001", Some(&authorization)),
    );
    assert_eq!(status_of(&h.sent_one()), 407);
    assert!(matches!(
        h.events().as_slice(),
        [CallEvent::AuthFailed { blocked: false, .. }]
    ));
}

#[test]
fn a_trunk_invite_is_offered_without_a_phone() {
    let mut h = Harness::new();
    let invite = phone_invite("z9hG4bK-tr", "tr-1", "13800000001", None);
    h.input(Duration::ZERO, Transport::Udp, TRUNK, &invite);
    assert_eq!(status_of(&h.sent_one()), 100);
    assert!(matches!(
        h.events().as_slice(),
        [CallEvent::Incoming { phone: None, .. }]
    ));
}

mod attacks;
mod calls_to_phones;

#[test]
fn an_authenticated_register_over_tcp_vouches_for_its_connection_and_nothing_else_does() {
    let mut h = Harness::new();
    // Over UDP there is no connection to keep.
    h.registered(Duration::ZERO, Register::new("1001"));
    assert!(h.endpoint.take_vetted_tcp_peers().is_empty());
    // Over TCP: the challenge alone vouches for nothing; the authenticated REGISTER does.
    let mut register = Register::new("1002");
    h.input(ms(10), Transport::Tcp, PHONE, &register.text());
    let text = h.sent_one();
    assert_eq!(status_of(&text), 401, "{text}");
    assert!(h.endpoint.take_vetted_tcp_peers().is_empty());
    let nonce = param(header(&text, "WWW-Authenticate").unwrap(), "nonce").unwrap();
    register.cseq += 1;
    register.authorization = Some(
        Answer {
            alg: Alg::Md5,
            user: "1002",
            password: "sample-1002",
            nonce: &nonce,
            method: "REGISTER",
            uri: REGISTRAR_URI,
            nc: Some("00000001"),
        }
        .header_value(),
    );
    h.input(ms(20), Transport::Tcp, PHONE, &register.text());
    assert_eq!(status_of(&h.sent_one()), 200);
    assert_eq!(h.endpoint.take_vetted_tcp_peers(), vec![addr(PHONE)]);
    assert!(h.endpoint.take_vetted_tcp_peers().is_empty(), "taken once");
    // Nobody taking them: the list stops at its bound.
    let waiting = super::registration::MAX_VETTED_WAITING;
    h.endpoint.vetted_tcp = vec![addr("192.0.2.99:1"); waiting];
    register.cseq += 1;
    register.authorization = Some(
        Answer {
            alg: Alg::Md5,
            user: "1002",
            password: "sample-1002",
            nonce: &nonce,
            method: "REGISTER",
            uri: REGISTRAR_URI,
            nc: Some("00000002"),
        }
        .header_value(),
    );
    h.input(ms(30), Transport::Tcp, PHONE, &register.text());
    assert_eq!(status_of(&h.sent_one()), 200);
    assert_eq!(h.endpoint.take_vetted_tcp_peers().len(), waiting);
}
