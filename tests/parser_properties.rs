//! Property test (cargo-fuzz style, seeded so every run is the same and bounded for CI) of
//! the parsers that read network bytes: `sip::message::parse`, the TCP framer
//! `sip::stream_frame_len` and the SDP parser behind `sip::sdp::answer` and
//! `sip::sdp::accept_answer`. Random bytes and mutated valid messages (bit flips,
//! truncation, inserted and deleted bytes, duplicated header lines, huge values, folded
//! lines) must never panic, and what is accepted must be sane: the invariants below.
//!
//! `HOTLINE_PROPERTY_CASES` raises the number of cases per input (default 3,000).

use std::net::SocketAddr;

use hotline::sip::message::{parse, Inbound};
use hotline::sip::{sdp, stream_frame_len};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const INVITE: &str = "INVITE sip:4008@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Caller, A\" <sip:1000@127.0.0.1:5070>;tag=abc\r\n\
To: <sip:4008@127.0.0.1:5060>\r\n\
Call-ID: c1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1000@127.0.0.1:5070>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 128\r\n\r\n\
v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

const REGISTER: &str = "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/TCP 10.0.0.5:5062;branch=z9hG4bK-r1\r\n\
Max-Forwards: 70\r\n\
From: <sip:1001@127.0.0.1>;tag=r\r\n\
To: <sip:1001@127.0.0.1>\r\n\
Call-ID: reg-1\r\n\
CSeq: 7 REGISTER\r\n\
Contact: <sip:1001@10.0.0.5:5062;transport=tcp>;expires=600\r\n\
Authorization: Digest username=\"1001\", realm=\"hotline\", nonce=\"n\", uri=\"sip:127.0.0.1\", response=\"0123456789abcdef0123456789abcdef\", qop=auth, nc=00000001, cnonce=\"c\"\r\n\
Content-Length: 0\r\n\r\n";

const RESPONSE: &str = "SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-ours\r\n\
From: <sip:hotline@127.0.0.1>;tag=us\r\n\
To: <sip:1001@127.0.0.1>;tag=them\r\n\
Call-ID: out-1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1001@10.0.0.5:5062>\r\n\
Content-Length: 0\r\n\r\n";

const SDP_OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n\
m=video 51372 RTP/AVP 31\r\n";

fn cases() -> usize {
    std::env::var("HOTLINE_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

/// One random mutation of `input`.
fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.gen_range(1..4) {
        let len = out.len().max(1);
        match rng.gen_range(0..9) {
            0 => {
                let i = rng.gen_range(0..len);
                if let Some(b) = out.get_mut(i) {
                    *b ^= 1 << rng.gen_range(0..8);
                }
            }
            1 => out.truncate(rng.gen_range(0..len)),
            2 => {
                let i = rng.gen_range(0..=out.len());
                out.insert(i, rng.gen());
            }
            3 => {
                if !out.is_empty() {
                    out.remove(rng.gen_range(0..out.len()));
                }
            }
            4 => {
                // Duplicate one line.
                let text = String::from_utf8_lossy(&out).into_owned();
                let lines: Vec<&str> = text.split("\r\n").collect();
                let pick = rng.gen_range(0..lines.len());
                let mut again = lines.clone();
                again.insert(pick, lines[pick]);
                out = again.join("\r\n").into_bytes();
            }
            5 => {
                // A huge value somewhere.
                let i = rng.gen_range(0..=out.len());
                let filler = [b'9', b'a', b';', b',', b'"', b'<', b' '][rng.gen_range(0..7)];
                let n = rng.gen_range(100..20_000);
                out.splice(i..i, std::iter::repeat_n(filler, n));
            }
            6 => {
                // Fold a line: CRLF plus whitespace at a random place.
                let i = rng.gen_range(0..=out.len());
                out.splice(i..i, *b"\r\n  ");
            }
            7 => {
                // Control and non-ASCII bytes.
                let i = rng.gen_range(0..=out.len());
                let b = [0x00, 0x1b, b'\r', b'\n', 0xff, 0xc3, b'%'][rng.gen_range(0..7)];
                out.insert(i, b);
            }
            _ => {
                // Swap two byte ranges' order: headers out of place.
                if out.len() > 4 {
                    let a = rng.gen_range(0..out.len() / 2);
                    let b = rng.gen_range(out.len() / 2..out.len());
                    out.swap(a, b);
                }
            }
        }
    }
    out
}

fn random_bytes(rng: &mut StdRng) -> Vec<u8> {
    let n = rng.gen_range(0..2_000);
    (0..n).map(|_| rng.gen()).collect()
}

/// The invariants of whatever `parse` says about `input`.
fn check_message(input: &[u8]) {
    match parse(input) {
        Ok(Inbound::Request(r)) => {
            assert!(!r.method.as_str().is_empty(), "{input:?}");
            assert!(!r.call_id.is_empty(), "{input:?}");
            assert!(!r.top_via.branch.is_empty(), "{input:?}");
            assert!(r.cseq < 1 << 31, "{input:?}");
            assert!(!r.seed.vias.is_empty() && !r.seed.cseq.is_empty());
            assert!(
                r.from.tag.is_some(),
                "a request without From tag passed: {input:?}"
            );
            assert!(r.body.len() <= input.len());
            let declared: Vec<&String> = r
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("content-length") || n == "l")
                .map(|(_, v)| v)
                .collect();
            assert!(
                declared.len() <= 1,
                "duplicate Content-Length passed: {input:?}"
            );
            if let Some(value) = declared.first() {
                assert_eq!(value.parse::<usize>().ok(), Some(r.body.len()), "{input:?}");
            }
            for (name, value) in &r.headers {
                assert!(
                    !name.contains(['\r', '\n', ':']) && !value.contains(['\r', '\n']),
                    "header fields are unfolded: {name:?}: {value:?}"
                );
            }
        }
        Ok(Inbound::Response(r)) => {
            assert!((100..=699).contains(&r.status), "{input:?}");
            assert!(!r.call_id.is_empty());
            assert!(r.body.len() <= input.len());
        }
        Err(rejected) => {
            assert!(
                matches!(rejected.status, 400 | 501 | 505),
                "{}",
                rejected.status
            );
            if let Some(seed) = &rejected.seed {
                assert!(rejected.is_request);
                assert!(!seed.vias.is_empty() && !seed.cseq.is_empty());
            }
            let reason = rejected.reason.to_string();
            assert!(
                !reason.contains(['\r', '\n', '\x1b']),
                "a rejection reason echoes raw bytes: {reason:?}"
            );
            assert!(
                reason.len() < 300,
                "a rejection reason echoes the message: {reason:?}"
            );
        }
    }
}

fn check_frame(input: &[u8]) {
    if let Ok(Some(n)) = stream_frame_len(input) {
        assert!(
            n > 0 && n <= input.len(),
            "frame of {n} in {} bytes",
            input.len()
        );
    }
}

#[test]
fn the_original_messages_are_valid() {
    assert!(matches!(parse(INVITE.as_bytes()), Ok(Inbound::Request(_))));
    assert!(matches!(
        parse(REGISTER.as_bytes()),
        Ok(Inbound::Request(_))
    ));
    assert!(matches!(
        parse(RESPONSE.as_bytes()),
        Ok(Inbound::Response(_))
    ));
    let local: SocketAddr = "127.0.0.1:20000".parse().unwrap();
    assert!(sdp::answer(SDP_OFFER, local, 1).is_ok());
}

#[test]
fn message_parser_and_framer_never_panic_and_keep_their_invariants() {
    let mut rng = StdRng::seed_from_u64(0x5eed_4475);
    for _ in 0..cases() {
        let random = random_bytes(&mut rng);
        check_message(&random);
        check_frame(&random);
        for valid in [INVITE, REGISTER, RESPONSE] {
            let mutated = mutate(&mut rng, valid.as_bytes());
            check_message(&mutated);
            check_frame(&mutated);
        }
    }
}

#[test]
fn folding_and_spacing_do_not_change_what_a_request_means() {
    let plain = match parse(INVITE.as_bytes()) {
        Ok(Inbound::Request(r)) => r,
        other => panic!("{other:?}"),
    };
    let tortured = INVITE
        .replace("CSeq: 1 INVITE", "cseq :\r\n  0001\r\n\tINVITE")
        .replace("Max-Forwards: 70", "MaX-fOrWaRdS   : 0070")
        .replace("Call-ID: ", "i:    ")
        .replace("Via: SIP/2.0/UDP ", "v: SIP / 2.0 /\r\n UDP ");
    let r = match parse(tortured.as_bytes()) {
        Ok(Inbound::Request(r)) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (r.cseq, r.max_forwards, &r.call_id, &r.top_via, &r.body),
        (
            plain.cseq,
            plain.max_forwards,
            &plain.call_id,
            &plain.top_via,
            &plain.body
        )
    );
}

#[test]
fn sdp_parser_never_panics_and_an_answer_is_sane() {
    let mut rng = StdRng::seed_from_u64(0x5d9);
    let local: SocketAddr = "127.0.0.1:20000".parse().unwrap();
    for _ in 0..cases() {
        let random = String::from_utf8_lossy(&random_bytes(&mut rng)).into_owned();
        let mutated = String::from_utf8_lossy(&mutate(&mut rng, SDP_OFFER.as_bytes())).into_owned();
        for offer in [random, mutated] {
            let _ = sdp::accept_answer(&offer);
            if let Ok((answer, negotiated)) = sdp::answer(&offer, local, 7) {
                assert!(answer.starts_with("v=0\r\n"), "{answer}");
                assert_ne!(negotiated.remote.port(), 0, "{offer:?}");
                let open_audio = answer
                    .lines()
                    .filter(|l| l.starts_with("m=audio ") && !l.starts_with("m=audio 0 "))
                    .count();
                assert_eq!(open_audio, 1, "one audio stream is answered: {answer}");
            }
        }
    }
}
