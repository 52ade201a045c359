//! Re-offers in a call (re-INVITE, UPDATE): the answer comes from the call's SDP session and
//! the media engine is told the new codec, destination and whether to send.

use super::*;

const OFFER_PCMU: &str =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fn offer(connection: &str, port: u16, formats: &str, direction: &str) -> String {
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 {connection}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {formats}\r\na={direction}\r\n"
    )
}

/// A re-INVITE from the caller with `sdp`, CSeq `cseq`, and its ACK if answered 2xx.
fn reinvite(h: &mut Harness, tag: &str, cseq: u32, sdp: &str) -> String {
    let extra = "Contact: <sip:1000@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\n";
    h.sip(&in_dialog("INVITE", cseq, tag, extra, sdp));
    let response = h.sent.last().cloned().unwrap();
    if response.starts_with("SIP/2.0 2") {
        h.sip(&format!(
            "ACK sip:4008@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bK-ack-{cseq}\r\n\
Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1:5070>;tag=caller\r\nTo: <sip:4008@127.0.0.1:5060>;tag={tag}\r\n\
Call-ID: switch-test-1\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n"
        ));
    }
    response
}

fn renegotiations(h: &Harness) -> Vec<MediaCommand> {
    h.media
        .iter()
        .filter(|m| matches!(m, MediaCommand::Renegotiate { .. }))
        .cloned()
        .collect()
}

fn direction_of(response: &str) -> Vec<&str> {
    response
        .lines()
        .filter(|l| {
            matches!(
                *l,
                "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"
            )
        })
        .collect()
}

#[test]
fn a_hold_reinvite_is_answered_recvonly_and_stops_our_rtp_until_unhold() {
    let mut h = Harness::new(|_| {});
    let tag = answered_call(&mut h, OFFER_PCMU);
    let hold = reinvite(
        &mut h,
        &tag,
        2,
        &offer("127.0.0.1", 6000, "0 101", "sendonly"),
    );
    assert!(hold.starts_with("SIP/2.0 200 "), "{hold}");
    assert_eq!(direction_of(&hold), vec!["a=recvonly"]);
    let remote: SocketAddr = "127.0.0.1:6000".parse().unwrap();
    assert_eq!(
        renegotiations(&h),
        vec![MediaCommand::Renegotiate {
            call: CallId(1),
            remote,
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event: None,
            send: false,
        }]
    );
    let resume = reinvite(&mut h, &tag, 3, &offer("127.0.0.1", 6000, "0", "sendrecv"));
    assert_eq!(direction_of(&resume), vec!["a=sendrecv"]);
    assert_eq!(
        renegotiations(&h).last(),
        Some(&MediaCommand::Renegotiate {
            call: CallId(1),
            remote,
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event: None,
            send: true,
        })
    );
    let holds: Vec<EventKind> = h
        .kinds()
        .into_iter()
        .filter(|k| matches!(k, EventKind::Hold { .. } | EventKind::Resume { .. }))
        .collect();
    assert_eq!(
        holds,
        vec![
            EventKind::Hold { by: Party::Caller },
            EventKind::Resume { by: Party::Caller }
        ]
    );
    // The origin version went up with each answer.
    let origin = |r: &str| r.lines().find(|l| l.starts_with("o=")).unwrap().to_string();
    let versions: Vec<u64> = [
        h.sent
            .iter()
            .find(|m| m.contains("o=hotline"))
            .unwrap()
            .as_str(),
        &hold,
        &resume,
    ]
    .iter()
    .map(|r| origin(r).split(' ').nth(2).unwrap().parse().unwrap())
    .collect();
    assert_eq!(
        versions,
        vec![versions[0], versions[0] + 1, versions[0] + 2]
    );
}

#[test]
fn inactive_and_0_0_0_0_are_hold_too() {
    let mut h = Harness::new(|_| {});
    let tag = answered_call(&mut h, OFFER_PCMU);
    let inactive = reinvite(&mut h, &tag, 2, &offer("127.0.0.1", 6000, "0", "inactive"));
    assert_eq!(direction_of(&inactive), vec!["a=inactive"]);
    assert!(matches!(
        renegotiations(&h).last(),
        Some(MediaCommand::Renegotiate { send: false, .. })
    ));
    let old_style = reinvite(&mut h, &tag, 3, &offer("0.0.0.0", 6000, "0", "sendrecv"));
    assert_eq!(direction_of(&old_style), vec!["a=recvonly"]);
    assert!(matches!(
        renegotiations(&h).last(),
        Some(MediaCommand::Renegotiate { send: false, .. })
    ));
}

#[test]
fn a_pcma_re_offer_moves_the_media_to_pcma() {
    let mut h = Harness::new(|_| {});
    let tag = answered_call(&mut h, OFFER_PCMU);
    let answer = reinvite(&mut h, &tag, 2, &offer("127.0.0.2", 6002, "8", "sendrecv"));
    let m_lines: Vec<&str> = answer.lines().filter(|l| l.starts_with("m=")).collect();
    let port = h.switch.calls[&CallId(1)].rtp_port;
    assert_eq!(m_lines, vec![format!("m=audio {port} RTP/AVP 8")]);
    assert_eq!(
        renegotiations(&h),
        vec![MediaCommand::Renegotiate {
            call: CallId(1),
            remote: "127.0.0.2:6002".parse().unwrap(),
            codec: Codec::Pcma,
            payload_type: 8,
            telephone_event: None,
            send: true,
        }]
    );
}

#[test]
fn g729_and_t38_re_offers_get_488_and_the_call_goes_on_unchanged() {
    let mut h = Harness::new(|_| {});
    let tag = answered_call(&mut h, OFFER_PCMU);
    let refused = reinvite(&mut h, &tag, 2, OFFER_G729);
    assert!(refused.starts_with("SIP/2.0 488 "), "{refused}");
    let t38 = "v=0\r\no=- 1 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=image 6004 udptl t38\r\n";
    let refused = reinvite(&mut h, &tag, 3, t38);
    assert!(refused.starts_with("SIP/2.0 488 "), "{refused}");
    assert!(renegotiations(&h).is_empty());
    h.sip(&in_dialog("BYE", 4, &tag, "", ""));
    assert!(h.last_response(200).contains("CSeq: 4 BYE"));
    assert_eq!(h.outcome(), Some("completed"));
}

#[test]
fn an_update_offer_is_answered_like_a_reinvite() {
    let mut h = Harness::new(|_| {});
    let tag = answered_call(&mut h, OFFER_PCMU);
    let extra = "Content-Type: application/sdp\r\n";
    h.sip(&in_dialog(
        "UPDATE",
        2,
        &tag,
        extra,
        &offer("127.0.0.1", 6000, "0", "sendonly"),
    ));
    let answer = h.last_response(200);
    assert!(answer.contains("CSeq: 2 UPDATE"));
    assert_eq!(direction_of(&answer), vec!["a=recvonly"]);
    assert!(matches!(
        renegotiations(&h).last(),
        Some(MediaCommand::Renegotiate { send: false, .. })
    ));
}

#[test]
fn an_agent_phone_holding_gets_recvonly_and_its_leg_stops_sending() {
    let mut h = Harness::queued_caller(
        |c| {
            for queue in c.dialplan.queues.values_mut() {
                queue.whisper = None;
            }
        },
        '1',
    );
    let invite = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let leg = h
        .media
        .iter()
        .find_map(|m| match m {
            MediaCommand::Bridge { a, b } => Some(if *a == CallId(1) { *b } else { *a }),
            _ => None,
        })
        .expect("bridged");
    let line = |name: &str| {
        invite
            .split("\r\n")
            .find(|l| l.starts_with(&format!("{name}:")))
            .unwrap()
            .to_string()
    };
    let from_phone = |cseq: u32, direction: &str| {
        let sdp = offer("127.0.0.1", 7000, "0", direction);
        format!(
            "INVITE sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:61001;branch=z9hG4bK-agenthold{cseq}\r\n\
Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1:61001>;tag=phone\r\n{}\r\n{}\r\nCSeq: {cseq} INVITE\r\n\
Contact: <sip:agent@127.0.0.1:61001>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            line("From").replacen("From:", "To:", 1),
            line("Call-ID"),
            sdp.len()
        )
    };
    h.sip_from_phone("1001", &from_phone(1, "sendonly"));
    let answer = h.last_response(200);
    assert!(answer.contains("CSeq: 1 INVITE"), "{answer}");
    assert_eq!(direction_of(&answer), vec!["a=recvonly"]);
    assert!(matches!(
        renegotiations(&h).last(),
        Some(MediaCommand::Renegotiate { call, send: false, .. }) if *call == leg
    ));
    assert!(h.kinds().contains(&EventKind::Hold { by: Party::Agent }));
}
