//! Attacks on the registrar and on phone authentication, in virtual time: enumeration of
//! extensions, lock-out by spoofed failures, replayable or redirected digests, and tables a
//! stranger could grow. Each test performs the attack and checks what the attacker and the
//! real phone get.

use super::*;

/// The reply with everything that legitimately differs between two requests (the user
/// named, nonce, To tag) replaced by placeholders.
fn shape(text: &str, user: &str) -> String {
    // Random values first: a nonce or tag may contain the user's digits ("…1001…").
    let mut out = text.to_owned();
    for name in ["WWW-Authenticate", "Proxy-Authenticate"] {
        for value in headers(text, name) {
            if let Some(nonce) = param(value, "nonce") {
                out = out.replace(&nonce, "NONCE");
            }
        }
    }
    if let Some(to) = header(text, "To") {
        if let Some(tag) = to.split(";tag=").nth(1) {
            out = out.replace(tag, "TAG");
        }
    }
    out.replace(user, "USER")
}

fn wrong_answer(user: &str, nonce: &str, method: &str, uri: &str) -> String {
    Answer {
        alg: Alg::Md5,
        user,
        password: "guess",
        nonce,
        method,
        uri,
        nc: Some("00000001"),
    }
    .header_value()
}

/// Sends REGISTERs with a wrong password for `user` until one is not 401 or `limit` were
/// sent; returns every status.
fn failing_registers(h: &mut Harness, offset: Duration, user: &str, limit: u32) -> Vec<u16> {
    let mut statuses = Vec::new();
    for attempt in 0..limit {
        let mut register = Register::new(user);
        register.cseq = 100 + attempt * 2;
        h.phone_sends(offset, &register.text());
        let challenge = h.sent_one();
        if status_of(&challenge) != 401 {
            statuses.push(status_of(&challenge));
            break;
        }
        let nonce = param(header(&challenge, "WWW-Authenticate").unwrap(), "nonce").unwrap();
        register.cseq += 1;
        register.authorization = Some(wrong_answer(user, &nonce, "REGISTER", REGISTRAR_URI));
        h.phone_sends(offset, &register.text());
        let status = status_of(&h.sent_one());
        statuses.push(status);
        if status != 401 {
            break;
        }
    }
    statuses
}

#[test]
fn an_unknown_user_is_challenged_and_refused_exactly_like_a_known_one_with_a_wrong_password() {
    for config in [config(), config_offering_both()] {
        let mut h = Harness::with(config);
        let mut replies = Vec::new();
        for user in ["1001", "9999"] {
            let mut shapes = Vec::new();
            for attempt in 0..6u32 {
                let mut register = Register::new(user);
                register.cseq = attempt * 2 + 1;
                h.phone_sends(secs(u64::from(attempt)), &register.text());
                let challenge = h.sent_one();
                shapes.push(shape(&challenge, user));
                let Some(offer) = header(&challenge, "WWW-Authenticate") else {
                    continue;
                };
                let nonce = param(offer, "nonce").unwrap();
                register.cseq += 1;
                register.authorization =
                    Some(wrong_answer(user, &nonce, "REGISTER", REGISTRAR_URI));
                h.phone_sends(secs(u64::from(attempt)), &register.text());
                shapes.push(shape(&h.sent_one(), user));
            }
            replies.push(shapes);
        }
        let statuses: Vec<u16> = replies[1].iter().map(|t| status_of(t)).collect();
        assert_eq!(
            statuses,
            [401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 403],
            "an unknown user is challenged, refused after the fifth failure, then blocked"
        );
        assert_eq!(
            replies[0], replies[1],
            "known and unknown users are told apart"
        );
        assert!(replies[1][0].contains("qop=\"auth\""), "{}", replies[1][0]);
    }
}

#[test]
fn an_invite_from_an_unknown_user_is_challenged_and_refused_like_a_wrong_password() {
    let mut h = Harness::with(config_offering_both());
    let mut replies = Vec::new();
    for user in ["1001", "13800000001"] {
        let mut shapes = Vec::new();
        for attempt in 0..6u32 {
            let call_id = format!("enum-{user}-{attempt}");
            let branch = format!("z9hG4bK-e-{user}-{attempt}");
            h.phone_sends(secs(1), &phone_invite(&branch, &call_id, user, None));
            let challenge = h.sent_one();
            shapes.push(shape(&challenge, user).replace(&branch, "BRANCH"));
            let Some(offer) = header(&challenge, "Proxy-Authenticate") else {
                continue;
            };
            let nonce = param(offer, "nonce").unwrap();
            let answer = wrong_answer(user, &nonce, "INVITE", "sip:*21@127.0.0.1:5060");
            let branch = format!("{branch}-2");
            h.phone_sends(
                secs(1),
                &phone_invite(&branch, &call_id, user, Some(&answer)),
            );
            shapes.push(shape(&h.sent_one(), user).replace(&branch, "BRANCH"));
        }
        replies.push(
            shapes
                .into_iter()
                .map(|s| s.replace(&format!("enum-{user}-"), "enum-"))
                .collect::<Vec<_>>(),
        );
    }
    let statuses: Vec<u16> = replies[1].iter().map(|t| status_of(t)).collect();
    assert_eq!(
        statuses,
        [407, 407, 407, 407, 407, 407, 407, 407, 407, 403, 403]
    );
    assert_eq!(
        replies[0], replies[1],
        "known and unknown callers are told apart"
    );
    assert!(
        !h.events()
            .iter()
            .any(|e| matches!(e, CallEvent::Incoming { .. })),
        "a wrong password placed a call"
    );
}

#[test]
fn five_failures_block_that_user_from_that_address_for_a_minute_and_the_next_block_twice_as_long() {
    let mut h = Harness::new();
    assert_eq!(
        failing_registers(&mut h, Duration::ZERO, "1001", 10),
        [401, 401, 401, 401, 403]
    );
    let events = h.events();
    assert_eq!(events.len(), 5);
    assert_eq!(
        events[4],
        CallEvent::AuthFailed {
            source: addr(PHONE),
            user: "1001".into(),
            blocked: true,
        }
    );
    let plain = |cseq: u32| {
        let mut register = Register::new("1001");
        register.cseq = cseq;
        register.text()
    };
    // Blocked: that user from that address gets 403 at once, until the minute is over.
    h.phone_sends(secs(59), &plain(20));
    assert_eq!(status_of(&h.sent_one()), 403);
    // Another user from the same address, and the same user from another address, are not.
    let mut other = Register::new("1002");
    other.cseq = 1;
    h.phone_sends(secs(5), &other.text());
    assert_eq!(status_of(&h.sent_one()), 401);
    h.input(secs(5), Transport::Udp, "192.0.2.99:5060", &plain(21));
    assert_eq!(status_of(&h.sent_one()), 401);
    // Five more failures after the first block: blocked for two minutes.
    assert_eq!(
        failing_registers(&mut h, secs(60), "1001", 10),
        [401, 401, 401, 401, 403]
    );
    h.phone_sends(secs(60 + 119), &plain(40));
    assert_eq!(status_of(&h.sent_one()), 403);
    // Then the phone may authenticate again.
    let mut register = Register::new("1001");
    register.cseq = 50;
    h.registered(secs(60 + 120), register);
}

#[test]
fn spoofed_failures_for_made_up_users_do_not_lock_the_phone_out() {
    let mut h = Harness::new();
    for n in 0..20 {
        let user = format!("made-up-{n}");
        assert_eq!(
            failing_registers(&mut h, secs(1), &user, 5),
            [401, 401, 401, 401, 403]
        );
    }
    let mut register = Register::new("1001");
    register.cseq = 500;
    h.registered(secs(2), register);
    assert_eq!(h.endpoint.bindings("1001").len(), 1);
}

#[test]
fn a_user_blocked_from_an_address_still_gets_its_in_dialog_bye_answered() {
    let mut h = Harness::new();
    h.phone_sends(
        Duration::ZERO,
        &phone_invite("z9hG4bK-d1", "dlg-1", "1001", None),
    );
    let nonce = param(
        header(&h.sent_one(), "Proxy-Authenticate").unwrap(),
        "nonce",
    )
    .unwrap();
    let authorization = Answer {
        alg: Alg::Md5,
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
        &phone_invite("z9hG4bK-d2", "dlg-1", "1001", Some(&authorization)),
    );
    assert_eq!(status_of(&h.sent_one()), 100);
    let call = match h.events().as_slice() {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("expected Incoming, got {other:?}"),
    };
    h.endpoint.answer(h.at(ms(20)), call, "v=0 ours\r\n");
    let our_tag = tag_of(header(&h.sent_one(), "To").unwrap());
    // A spoofer fails as 1001 (and as made-up users) from the phone's address: blocked.
    assert_eq!(
        failing_registers(&mut h, secs(1), "1001", 10),
        [401, 401, 401, 401, 403]
    );
    failing_registers(&mut h, secs(1), "made-up", 5);
    h.events();
    let in_dialog = |method: &str, cseq: u32, branch: &str| {
        format!(
            "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch={branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=phone-tag\r\nTo: <sip:*21@127.0.0.1:5060>;tag={our_tag}\r\n\
Call-ID: dlg-1\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    h.phone_sends(secs(2), &in_dialog("ACK", 1, "z9hG4bK-a"));
    h.phone_sends(secs(2), &in_dialog("BYE", 2, "z9hG4bK-b"));
    assert_eq!(status_of(&h.sent_one()), 200);
    assert_eq!(
        h.events(),
        vec![
            CallEvent::Confirmed { call, sdp: None },
            CallEvent::Bye { call }
        ]
    );
}

#[test]
fn a_trunk_address_is_never_blocked_and_still_carries_trunk_calls() {
    let mut config = config();
    config.auth_failures_allowed = 1;
    let mut h = Harness::with(config);
    for n in 0..3u32 {
        let mut register = Register::new("1001");
        register.cseq = n * 2 + 1;
        h.input(secs(1), Transport::Udp, TRUNK, &register.text());
        let challenge = h.sent_one();
        assert_eq!(status_of(&challenge), 401);
        let nonce = param(header(&challenge, "WWW-Authenticate").unwrap(), "nonce").unwrap();
        register.cseq += 1;
        register.authorization = Some(wrong_answer("1001", &nonce, "REGISTER", REGISTRAR_URI));
        h.input(secs(1), Transport::Udp, TRUNK, &register.text());
        assert_eq!(status_of(&h.sent_one()), 401, "failure {n} from the trunk");
    }
    assert!(h
        .events()
        .iter()
        .all(|e| matches!(e, CallEvent::AuthFailed { blocked: false, .. })));
    h.input(
        secs(2),
        Transport::Udp,
        TRUNK,
        &phone_invite("z9hG4bK-b1", "b-1", "1001", None),
    );
    assert_eq!(status_of(&h.sent_one()), 407);
    h.input(
        secs(2),
        Transport::Udp,
        TRUNK,
        &phone_invite("z9hG4bK-b2", "b-2", "13800000001", None),
    );
    assert_eq!(status_of(&h.sent_one()), 100);
}

#[test]
fn an_ignored_network_is_never_blocked() {
    let mut config = config();
    config.auth_ignore = vec![(addr("192.0.2.0:0").ip(), 24)];
    let mut h = Harness::with(config);
    assert_eq!(failing_registers(&mut h, secs(1), "1001", 12), [401; 12]);
    let mut register = Register::new("1001");
    register.cseq = 900;
    h.registered(secs(1), register);
}

#[test]
fn a_stranger_invite_is_challenged_and_never_offered() {
    let mut h = Harness::new();
    h.phone_sends(
        Duration::ZERO,
        &phone_invite("z9hG4bK-s", "s-1", "13800000001", None),
    );
    let text = h.sent_one();
    assert_eq!(status_of(&text), 407);
    assert_eq!(headers(&text, "Proxy-Authenticate").len(), 1);
    assert!(h.events().is_empty());
}

#[test]
fn a_right_digest_for_another_uri_is_refused() {
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
            uri: "sip:other-registrar.example",
            nc: Some("00000001"),
        }
        .header_value(),
    );
    h.phone_sends(ms(10), &register.text());
    assert_eq!(status_of(&h.sent_one()), 401);
    assert!(matches!(
        h.events().as_slice(),
        [CallEvent::AuthFailed { blocked: false, .. }]
    ));
    assert!(h.endpoint.bindings("1001").is_empty());
}

#[test]
fn a_replayed_register_with_a_new_branch_cannot_register_again() {
    let mut h = Harness::new();
    let mut register = Register::new("1001");
    register.contacts = "Contact: <sip:USER@192.0.2.66:5072>\r\n";
    let sniffed = {
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
        register.text()
    };
    h.phone_sends(ms(10), &sniffed);
    assert_eq!(status_of(&h.sent_one()), 200);
    // The phone unregisters; the attacker replays the sniffed REGISTER (a new branch and a
    // higher CSeq, so it is no retransmission) to get the binding back.
    let mut bye = Register::new("1001");
    bye.expires = Some("0");
    bye.contacts = "Contact: *\r\n";
    bye.cseq = 10;
    h.registered(ms(20), bye);
    assert!(h.endpoint.bindings("1001").is_empty());
    let replay = sniffed
        .replace("branch=z9hG4bK-reg-1001-2", "branch=z9hG4bK-replay")
        .replace("CSeq: 2 REGISTER", "CSeq: 30 REGISTER");
    h.phone_sends(ms(30), &replay);
    assert_eq!(status_of(&h.sent_one()), 401);
    assert!(h.endpoint.bindings("1001").is_empty());
}

fn register_contact(h: &mut Harness, offset: Duration, cseq: u32, contact: &str) -> String {
    let mut register = Register::new("1001");
    register.cseq = cseq;
    let contacts = format!("Contact: <{contact}>\r\n");
    register.contacts = &contacts;
    let nonce = h.nonce_for(offset, &register);
    register.cseq += 1;
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
    h.phone_sends(offset, &register.text());
    h.sent_one()
}

#[test]
fn the_sixth_contact_of_a_phone_is_refused_with_403() {
    let mut h = Harness::new();
    for n in 0..5u32 {
        let contact = format!("sip:1001@192.0.2.{}:5072", 60 + n);
        let ok = register_contact(&mut h, ms(u64::from(n)), n * 2 + 1, &contact);
        assert_eq!(status_of(&ok), 200, "contact {n}");
    }
    let refused = register_contact(&mut h, ms(10), 20, "sip:1001@192.0.2.70:5072");
    assert_eq!(status_of(&refused), 403);
    assert_eq!(h.endpoint.bindings("1001").len(), 5);
    // Refreshing one of the five is still fine.
    let refresh = register_contact(&mut h, ms(20), 30, "sip:1001@192.0.2.60:5072");
    assert_eq!(status_of(&refresh), 200);
}

#[test]
fn a_contact_pointing_at_the_switch_is_refused_with_403() {
    let mut config = config();
    config.own_addresses = vec![addr("0.0.0.0:5060")];
    let mut h = Harness::with(config);
    for (n, contact) in [
        "sip:1001@127.0.0.1:5060",
        "sip:1001@127.0.0.1",
        "sip:1001@10.1.2.3:5060",
        "sip:1001@0.0.0.0:5060",
    ]
    .into_iter()
    .enumerate()
    {
        let reply = register_contact(&mut h, ms(n as u64), n as u32 * 2 + 1, contact);
        assert_eq!(status_of(&reply), 403, "{contact}");
    }
    assert!(h.endpoint.bindings("1001").is_empty());
    let ok = register_contact(&mut h, ms(10), 20, "sip:1001@127.0.0.1:5072");
    assert_eq!(status_of(&ok), 200);
}
