//! In-call keys from the agent's phone, in virtual time: `*4` + reason before and during a
//! hold, an unknown reason, digits never relayed as keys, a plain digit passed to the
//! caller, the timeout between digits, the buffer bound.

use super::*;

fn connected() -> (Harness, CallId, String) {
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
    let leg = *h.switch.legs.keys().next().expect("the agent leg");
    (h, leg, invite)
}

fn press(h: &mut Harness, leg: CallId, digits: &str) {
    for digit in digits.chars() {
        h.switch.handle_media_event(
            h.now,
            leg,
            MediaEvent::Dtmf {
                digit,
                duration_ms: 100,
            },
        );
        h.collect();
    }
}

/// Prompt and DTMF commands since `mark`, one line each.
fn commands(h: &Harness, mark: usize, leg: CallId) -> Vec<String> {
    let who = |call: &CallId| if *call == leg { "agent" } else { "caller" };
    let name = |p: &PromptId| h.prompts.label(*p).unwrap().1.to_string();
    h.media[mark..]
        .iter()
        .filter_map(|m| match m {
            MediaCommand::Play { call, prompt, .. } => {
                Some(format!("{} play {}", who(call), name(prompt)))
            }
            MediaCommand::PlayLoop { call, prompt, .. } => {
                Some(format!("{} loop {}", who(call), name(prompt)))
            }
            MediaCommand::PlayMixed { call, prompt, .. } => {
                Some(format!("{} mixed {}", who(call), name(prompt)))
            }
            MediaCommand::Stop { call } => Some(format!("{} stop", who(call))),
            MediaCommand::SendDtmf { call, digit } => Some(format!("{} dtmf {digit}", who(call))),
            _ => None,
        })
        .collect()
}

fn key_events(h: &Harness, mark: usize) -> Vec<EventKind> {
    h.kinds()[mark..]
        .iter()
        .filter(|k| {
            matches!(
                k,
                EventKind::InCallKeys { .. }
                    | EventKind::Dtmf { .. }
                    | EventKind::HoldReason { .. }
            )
        })
        .cloned()
        .collect()
}

fn keys(keys: &str, action: &str) -> EventKind {
    EventKind::InCallKeys {
        agent: "a1001".into(),
        keys: keys.into(),
        action: action.into(),
    }
}

fn hold_from_phone(h: &mut Harness, invite: &str) {
    let line = |name: &str| {
        invite
            .split("\r\n")
            .find(|l| l.starts_with(&format!("{name}:")))
            .unwrap()
            .to_string()
    };
    let sdp = "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7100 RTP/AVP 0\r\na=sendonly\r\n";
    let request = |method: &str, body: &str| {
        let ct = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        format!(
            "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:61001;branch=z9hG4bK-keys-{method}\r\n\
Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1:61001>;tag=phone\r\n{}\r\n{}\r\nCSeq: 1 {method}\r\n\
Contact: <sip:agent@127.0.0.1:61001>\r\n{ct}Content-Length: {}\r\n\r\n{body}",
            line("From").replacen("From:", "To:", 1),
            line("Call-ID"),
            body.len()
        )
    };
    h.sip_from_phone("1001", &request("INVITE", sdp));
    h.sip_from_phone("1001", &request("ACK", ""));
}

/// The caller hears the hold explanation out, up to the music (bounded: a broken hold
/// must fail, not loop).
fn hear_explanation_out(h: &mut Harness) {
    for _ in 0..20 {
        if h.switch.calls[&CallId(1)].looping {
            return;
        }
        h.hear_out(CallId(1));
    }
    panic!("no music after the explanation: {:?}", h.media);
}

#[test]
fn a_reason_chosen_before_the_hold_is_confirmed_to_the_agent_and_explained_at_the_hold() {
    let (mut h, leg, invite) = connected();
    let (mark, events) = (h.media.len(), h.kinds().len());
    press(&mut h, leg, "*42");
    assert_eq!(commands(&h, mark, leg), vec!["agent mixed confirm_tone"]);
    hold_from_phone(&mut h, &invite);
    assert_eq!(commands(&h, mark, leg)[1..], ["caller play hold_colleague"]);
    assert_eq!(
        key_events(&h, events),
        vec![
            keys("*42", "hold_reason:colleague"),
            EventKind::HoldReason {
                agent: "a1001".into(),
                reason: "colleague".into(),
                expected_s: 180,
                by: "keys".into()
            },
        ]
    );
    // "about 3 minutes"
    h.hear_out(CallId(1));
    assert_eq!(commands(&h, mark, leg)[2], "caller play digit_3");
}

#[test]
fn a_reason_chosen_during_the_hold_is_explained_again_and_its_overrun_counts_from_then() {
    let (mut h, leg, invite) = connected();
    hold_from_phone(&mut h, &invite);
    let held_at = h.now;
    hear_explanation_out(&mut h);
    h.advance_to(held_at + Duration::from_secs(20));
    let (mark, events) = (h.media.len(), h.kinds().len());
    press(&mut h, leg, "*43");
    assert_eq!(
        commands(&h, mark, leg),
        vec![
            "agent mixed confirm_tone",
            "caller stop",
            "caller play hold_system"
        ]
    );
    assert_eq!(
        key_events(&h, events),
        vec![
            keys("*43", "hold_reason:system"),
            EventKind::HoldReason {
                agent: "a1001".into(),
                reason: "system".into(),
                expected_s: 60,
                by: "keys".into()
            },
        ]
    );
    hear_explanation_out(&mut h);
    // "system" is 1 minute from its choice at 20 s: the apology comes at 80 s.
    let events = h.kinds().len();
    h.advance_to(held_at + Duration::from_millis(79_999));
    assert!(!h.kinds()[events..]
        .iter()
        .any(|k| matches!(k, EventKind::HoldOverrun { .. })));
    h.advance_to(held_at + Duration::from_secs(80));
    assert!(h.kinds()[events..].contains(&EventKind::HoldOverrun {
        reason: "system".into(),
        estimate_s: 60
    }));
}

#[test]
fn an_unknown_reason_digit_gets_the_not_understood_prompt_and_changes_nothing() {
    let (mut h, leg, invite) = connected();
    let (mark, events) = (h.media.len(), h.kinds().len());
    press(&mut h, leg, "*49");
    assert_eq!(commands(&h, mark, leg), vec!["agent mixed invalid"]);
    assert_eq!(
        key_events(&h, events),
        vec![keys("*49", "unknown_hold_reason")]
    );
    hold_from_phone(&mut h, &invite);
    assert!(h.kinds().contains(&EventKind::HoldReason {
        agent: "a1001".into(),
        reason: "lookup".into(),
        expected_s: 120,
        by: "default".into()
    }));
}

#[test]
fn a_reason_the_queue_does_not_allow_is_unknown() {
    let mut h = Harness::queued_caller(
        |c| {
            for queue in c.dialplan.queues.values_mut() {
                queue.whisper = None;
            }
            c.dialplan.queues.get_mut("sales").unwrap().hold_reasons = vec!["lookup".into()];
        },
        '1',
    );
    let invite = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let leg = *h.switch.legs.keys().next().unwrap();
    let events = h.kinds().len();
    press(&mut h, leg, "*42");
    assert_eq!(
        key_events(&h, events),
        vec![keys("*42", "unknown_hold_reason")]
    );
}

#[test]
fn key_digits_never_reach_the_caller_and_a_plain_digit_is_passed_on() {
    let (mut h, leg, _invite) = connected();
    let (mark, events) = (h.media.len(), h.kinds().len());
    press(&mut h, leg, "5");
    press(&mut h, leg, "*41");
    press(&mut h, leg, "0");
    assert_eq!(
        commands(&h, mark, leg),
        vec!["caller dtmf 5", "agent mixed confirm_tone", "caller dtmf 0"]
    );
    // Passed digits are not sequences, and nothing shows up as the caller's own keypad.
    assert_eq!(
        key_events(&h, events),
        vec![keys("*41", "hold_reason:lookup")]
    );
}

#[test]
fn an_unfinished_sequence_is_dropped_after_the_digit_timeout_and_the_next_digit_starts_afresh() {
    let (mut h, leg, _invite) = connected();
    let (mark, events) = (h.media.len(), h.kinds().len());
    press(&mut h, leg, "*");
    h.advance(Duration::from_millis(2_999));
    press(&mut h, leg, "4");
    h.advance(Duration::from_millis(2_999));
    assert_eq!(key_events(&h, events), vec![]);
    h.advance(Duration::from_millis(1));
    assert_eq!(key_events(&h, events), vec![keys("*4", "timeout")]);
    assert_eq!(commands(&h, mark, leg), vec!["agent mixed invalid"]);
    press(&mut h, leg, "2");
    assert_eq!(commands(&h, mark, leg)[1..], ["caller dtmf 2"]);
}

#[test]
fn an_unknown_sequence_is_swallowed() {
    let (mut h, leg, _invite) = connected();
    let (mark, events) = (h.media.len(), h.kinds().len());
    press(&mut h, leg, "*9");
    assert_eq!(commands(&h, mark, leg), vec!["agent mixed invalid"]);
    assert_eq!(key_events(&h, events), vec![keys("*9", "unknown")]);
}

#[test]
fn transfer_keys_collect_a_number_until_hash_or_the_timeout() {
    let (mut h, leg, _invite) = connected();
    let events = h.kinds().len();
    press(&mut h, leg, "#12002#");
    press(&mut h, leg, "*2300");
    assert_eq!(
        key_events(&h, events),
        vec![keys("#12002#", "blind_transfer:2002")]
    );
    h.advance(Duration::from_secs(3));
    assert_eq!(
        key_events(&h, events),
        vec![
            keys("#12002#", "blind_transfer:2002"),
            keys("*2300", "attended_transfer:300")
        ]
    );
}

#[test]
fn a_sequence_longer_than_the_bound_is_dropped() {
    let (mut h, leg, _invite) = connected();
    let events = h.kinds().len();
    press(&mut h, leg, &format!("#1{}", "1".repeat(40)));
    let expected = format!("#1{}", "1".repeat(30));
    let recorded = key_events(&h, events);
    assert_eq!(recorded[0], keys(&expected, "too_long"));
    assert!(h.switch.legs[&leg].keys.digits.len() <= 32);
}
