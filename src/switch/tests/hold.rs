//! Hold with an explanation, in virtual time: the agent's phone holds the caller (re-INVITE
//! sendonly on the agent leg), the caller hears why and for how long, music, check-backs,
//! an apology past the expected duration; the agent is reminded past the maximum; resume
//! plays the thank-you to both. Also an agent leg lost under a bridged call: the caller is
//! kept, apologised to and put back at the front of the queue.

use super::*;
use acd::AgentState;

/// A caller connected to agent a1001 on the sales queue (whispers off unless `whisper`).
/// Returns the harness, the agent leg and the switch's INVITE to the phone.
fn connected(whisper: bool, edit: impl FnOnce(&mut Config)) -> (Harness, CallId, String) {
    let mut h = Harness::queued_caller(
        |c| {
            if !whisper {
                for queue in c.dialplan.queues.values_mut() {
                    queue.whisper = None;
                }
            }
            edit(c);
        },
        '1',
    );
    let invite = h.invites_to_agents()[0].clone();
    assert!(invite.starts_with("INVITE sip:1001@"), "{invite}");
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let leg = *h.switch.legs.keys().next().expect("the agent leg");
    if whisper {
        h.hear_out(leg);
    }
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: leg
    }));
    (h, leg, invite)
}

/// An in-dialog request from phone 1001 on the leg the switch's `invite` opened.
fn from_phone(invite: &str, method: &str, cseq: u32, sdp: Option<&str>) -> String {
    let line = |name: &str| {
        invite
            .split("\r\n")
            .find(|l| l.starts_with(&format!("{name}:")))
            .unwrap()
            .to_string()
    };
    let (content_type, body) = match sdp {
        Some(sdp) => ("Content-Type: application/sdp\r\n", sdp),
        None => ("", ""),
    };
    format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:61001;branch=z9hG4bK-phone-{method}-{cseq}\r\n\
Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1:61001>;tag=phone\r\n{}\r\n{}\r\nCSeq: {cseq} {method}\r\n\
Contact: <sip:agent@127.0.0.1:61001>\r\n{content_type}Content-Length: {}\r\n\r\n{body}",
        line("From").replacen("From:", "To:", 1),
        line("Call-ID"),
        body.len()
    )
}

fn phone_sdp(version: u32, direction: &str) -> String {
    format!(
        "v=0\r\no=- 3 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 7100 RTP/AVP 0\r\na={direction}\r\n"
    )
}

/// The phone re-INVITEs with `direction` (CSeq `cseq`) and ACKs the switch's 200.
fn phone_reinvite(h: &mut Harness, invite: &str, cseq: u32, direction: &str) {
    let sdp = phone_sdp(cseq + 3, direction);
    h.sip_from_phone("1001", &from_phone(invite, "INVITE", cseq, Some(&sdp)));
    let answer = h.last_response(200);
    assert!(answer.contains(&format!("CSeq: {cseq} INVITE")), "{answer}");
    h.sip_from_phone("1001", &from_phone(invite, "ACK", cseq, None));
}

/// What the caller and the agent were told to hear (and any renegotiation) since `mark`,
/// one line per media command.
fn heard(h: &Harness, mark: usize, leg: CallId) -> Vec<String> {
    let who = |call: &CallId| {
        if *call == CallId(1) {
            "caller".to_string()
        } else if *call == leg {
            "agent".to_string()
        } else {
            format!("{call:?}")
        }
    };
    let name = |p: &PromptId| h.prompts.label(*p).unwrap().1.to_string();
    h.media[mark..]
        .iter()
        // Sockets opened for the next offer are not something anyone hears.
        .filter(|m| !matches!(m, MediaCommand::Open { .. }))
        .map(|m| match m {
            MediaCommand::Play { call, prompt, .. } => {
                format!("{} play {}", who(call), name(prompt))
            }
            MediaCommand::PlayLoop { call, prompt, .. } => {
                format!("{} loop {}", who(call), name(prompt))
            }
            MediaCommand::PlayMixed { call, prompt, .. } => {
                format!("{} mixed {}", who(call), name(prompt))
            }
            MediaCommand::Stop { call } => format!("{} stop", who(call)),
            MediaCommand::SendDtmf { call, digit } => format!("{} dtmf {digit}", who(call)),
            MediaCommand::Renegotiate { call, send, .. } => {
                format!("{} renegotiate send={send}", who(call))
            }
            MediaCommand::End { call } => format!("{} end", who(call)),
            MediaCommand::Bridge { a, b } => format!("bridge {} {}", who(a), who(b)),
            other => format!("{other:?}"),
        })
        .collect()
}

fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|s| s.to_string()).collect()
}

/// Hold events (and prompt starts) recorded since event `mark`.
fn hold_events(h: &Harness, mark: usize) -> Vec<EventKind> {
    h.kinds()[mark..]
        .iter()
        .filter(|k| {
            matches!(
                k,
                EventKind::Hold { .. }
                    | EventKind::Resume { .. }
                    | EventKind::HoldReason { .. }
                    | EventKind::HoldCheckBack { .. }
                    | EventKind::HoldOverrun { .. }
                    | EventKind::HoldReminder { .. }
                    | EventKind::HoldEnded { .. }
                    | EventKind::InCallKeys { .. }
                    | EventKind::PromptStarted { .. }
            )
        })
        .cloned()
        .collect()
}

fn started(name: &str) -> EventKind {
    EventKind::PromptStarted {
        name: name.into(),
        language: "zh".into(),
    }
}

/// The caller hears every prompt queued now to its end (no time passing).
fn hear_all_out(h: &mut Harness) {
    for _ in 0..20 {
        let c = &h.switch.calls[&CallId(1)];
        if c.playing.is_none() || c.looping {
            return;
        }
        h.hear_out(CallId(1));
    }
    panic!("prompts without end: {:?}", h.media);
}

#[test]
fn a_hold_from_the_phone_explains_the_default_reason_then_plays_the_queues_music() {
    let (mut h, leg, invite) = connected(false, |_| {});
    let (mark, events) = (h.media.len(), h.kinds().len());
    phone_reinvite(&mut h, &invite, 1, "sendonly");
    hear_all_out(&mut h);
    assert_eq!(
        heard(&h, mark, leg),
        strings(&[
            "agent renegotiate send=false",
            "caller play hold",
            "caller play digit_2",
            "caller play minutes",
            "caller play thanks_patience",
            "caller loop moh",
        ])
    );
    assert_eq!(
        hold_events(&h, events),
        vec![
            EventKind::Hold { by: Party::Agent },
            EventKind::HoldReason {
                agent: "a1001".into(),
                reason: "lookup".into(),
                expected_s: 120,
                by: "default".into()
            },
            started("hold"),
            started("digit_2"),
            started("minutes"),
            started("thanks_patience"),
        ]
    );
    // The caller's own SDP is never renegotiated: only the agent's phone said anything.
    assert!(h.sent.iter().all(|m| !m.starts_with("INVITE sip:1000@")));
}

#[test]
fn the_queues_default_reason_and_a_reason_under_a_minute_are_said_as_such() {
    let (mut h, leg, invite) = connected(false, |c| {
        let sales = c.dialplan.queues.get_mut("sales").unwrap();
        sales.default_hold_reason = Some("system".into());
        c.dialplan.hold.reasons.get_mut("system").unwrap().expected = Duration::from_secs(45);
    });
    let mark = h.media.len();
    phone_reinvite(&mut h, &invite, 1, "inactive");
    hear_all_out(&mut h);
    assert_eq!(
        heard(&h, mark, leg),
        strings(&[
            "agent renegotiate send=false",
            "caller play hold_system",
            "caller play less_than_a_minute",
            "caller play thanks_patience",
            "caller loop moh",
        ])
    );
}

#[test]
fn check_backs_come_every_thirty_seconds_of_hold_exactly_and_not_before() {
    let (mut h, leg, invite) = connected(false, |_| {});
    phone_reinvite(&mut h, &invite, 1, "sendonly");
    let held_at = h.now;
    hear_all_out(&mut h);
    let (mark, events) = (h.media.len(), h.kinds().len());
    h.advance_to(held_at + Duration::from_millis(29_999));
    assert_eq!(heard(&h, mark, leg), Vec::<String>::new());
    h.advance_to(held_at + Duration::from_secs(30));
    assert_eq!(
        heard(&h, mark, leg),
        strings(&["caller stop", "caller play hold_checkback"])
    );
    hear_all_out(&mut h);
    assert_eq!(heard(&h, mark, leg)[2..], strings(&["caller loop moh"])[..]);
    let mark = h.media.len();
    h.advance_to(held_at + Duration::from_millis(59_999));
    assert_eq!(heard(&h, mark, leg), Vec::<String>::new());
    h.advance_to(held_at + Duration::from_secs(60));
    assert_eq!(
        heard(&h, mark, leg),
        strings(&["caller stop", "caller play hold_checkback"])
    );
    assert_eq!(
        hold_events(&h, events),
        vec![
            EventKind::HoldCheckBack { number: 1 },
            started("hold_checkback"),
            EventKind::HoldCheckBack { number: 2 },
            started("hold_checkback"),
        ]
    );
}

#[test]
fn past_the_reasons_expected_duration_the_caller_hears_an_apology_and_a_fresh_estimate() {
    // Check-backs every 50 s so the overrun at 120 s does not fall on one.
    let (mut h, leg, invite) = connected(false, |c| {
        c.dialplan.hold.check_back = Duration::from_secs(50);
        c.dialplan.hold.reasons.get_mut("lookup").unwrap().expected = Duration::from_secs(120);
    });
    phone_reinvite(&mut h, &invite, 1, "sendonly");
    let held_at = h.now;
    hear_all_out(&mut h);
    h.advance_to(held_at + Duration::from_secs(100));
    hear_all_out(&mut h);
    let (mark, events) = (h.media.len(), h.kinds().len());
    h.advance_to(held_at + Duration::from_millis(119_999));
    assert_eq!(heard(&h, mark, leg), Vec::<String>::new());
    h.advance_to(held_at + Duration::from_secs(120));
    hear_all_out(&mut h);
    assert_eq!(
        heard(&h, mark, leg),
        strings(&[
            "caller stop",
            "caller play hold_overrun",
            "caller play digit_1",
            "caller play minutes",
            "caller play thanks_patience",
            "caller loop moh",
        ])
    );
    assert_eq!(
        hold_events(&h, events)[0],
        EventKind::HoldOverrun {
            reason: "lookup".into(),
            estimate_s: 60
        }
    );
    // The next check-back counts from the apology: 170 s, not 150 s.
    let mark = h.media.len();
    h.advance_to(held_at + Duration::from_millis(169_999));
    assert_eq!(heard(&h, mark, leg), Vec::<String>::new());
    h.advance_to(held_at + Duration::from_secs(170));
    assert_eq!(
        heard(&h, mark, leg),
        strings(&["caller stop", "caller play hold_checkback"])
    );
    hear_all_out(&mut h);
    // And the apology comes again when the fresh estimate passes (180 s).
    let mark = h.media.len();
    h.advance_to(held_at + Duration::from_secs(180));
    assert_eq!(heard(&h, mark, leg)[1], "caller play hold_overrun");
}

#[test]
fn past_the_maximum_the_agent_is_reminded_over_their_line_and_the_caller_hears_nothing_of_it() {
    let (mut h, leg, invite) = connected(false, |c| {
        c.dialplan.hold.check_back = Duration::from_secs(1000);
        c.dialplan.hold.reasons.get_mut("lookup").unwrap().expected = Duration::from_secs(1000);
    });
    phone_reinvite(&mut h, &invite, 1, "sendonly");
    let held_at = h.now;
    hear_all_out(&mut h);
    let (mark, events) = (h.media.len(), h.kinds().len());
    h.advance_to(held_at + Duration::from_millis(299_999));
    assert_eq!(heard(&h, mark, leg), Vec::<String>::new());
    h.advance_to(held_at + Duration::from_secs(300));
    assert_eq!(
        heard(&h, mark, leg),
        strings(&["agent mixed whisper_hold_reminder"])
    );
    // Each part follows the one before it, on the agent's leg only.
    for _ in 0..2 {
        let Some(MediaCommand::PlayMixed { prompt, play, .. }) = h.media.last().cloned() else {
            panic!("{:?}", h.media.last());
        };
        h.switch.handle_media_event(
            h.now,
            leg,
            MediaEvent::PromptFinished {
                prompt,
                play,
                interrupted: false,
            },
        );
        h.collect();
    }
    assert_eq!(
        heard(&h, mark, leg),
        strings(&[
            "agent mixed whisper_hold_reminder",
            "agent mixed digit_5",
            "agent mixed minutes",
        ])
    );
    assert_eq!(
        hold_events(&h, events),
        vec![EventKind::HoldReminder {
            agent: "a1001".into(),
            held_s: 300
        }]
    );
    // Once only.
    let mark = h.media.len();
    h.advance_to(held_at + Duration::from_secs(900));
    assert_eq!(heard(&h, mark, leg), Vec::<String>::new());
}

#[test]
fn resume_plays_the_thank_you_to_both_sides_at_once_then_no_more_hold_prompts() {
    let (mut h, leg, invite) = connected(false, |_| {});
    phone_reinvite(&mut h, &invite, 1, "sendonly");
    let held_at = h.now;
    hear_all_out(&mut h);
    h.advance_to(held_at + Duration::from_secs(45));
    hear_all_out(&mut h);
    let (mark, events) = (h.media.len(), h.kinds().len());
    phone_reinvite(&mut h, &invite, 2, "sendrecv");
    assert_eq!(
        heard(&h, mark, leg),
        strings(&[
            "agent renegotiate send=true",
            "caller stop",
            "caller play hold_return",
            "agent mixed hold_return",
        ])
    );
    assert_eq!(
        hold_events(&h, events),
        vec![
            EventKind::Resume { by: Party::Agent },
            EventKind::HoldEnded {
                reason: "lookup".into(),
                duration_ms: 45_000,
                check_backs: 1
            },
            started("hold_return"),
        ]
    );
    // When the thank-you ends the engine relays the agent again: no music, no check-back.
    h.hear_out(CallId(1));
    let mark = h.media.len();
    h.advance(Duration::from_secs(600));
    assert_eq!(heard(&h, mark, leg), Vec::<String>::new());
    assert!(h.switch.calls[&CallId(1)].hold.is_none());
}

#[test]
fn a_refresh_that_changes_nothing_is_no_hold_and_no_explanation() {
    let (mut h, leg, invite) = connected(false, |_| {});
    let mark = h.media.len();
    phone_reinvite(&mut h, &invite, 1, "sendrecv");
    h.advance(Duration::from_secs(60));
    assert_eq!(heard(&h, mark, leg), Vec::<String>::new());
    assert!(h.switch.calls[&CallId(1)].hold.is_none());
}

#[test]
fn a_caller_hanging_up_during_hold_ends_the_hold_on_the_record() {
    let (mut h, leg, invite) = connected(false, |_| {});
    phone_reinvite(&mut h, &invite, 1, "sendonly");
    let held_at = h.now;
    hear_all_out(&mut h);
    h.advance_to(held_at + Duration::from_secs(70));
    let tag = to_tag(&h.response_to(&call_id_of(1), 200));
    let events = h.kinds().len();
    h.sip(&in_dialog("BYE", 3, &tag, "", ""));
    let ended: Vec<EventKind> = h.kinds()[events..]
        .iter()
        .filter(|k| matches!(k, EventKind::HoldEnded { .. }))
        .cloned()
        .collect();
    assert_eq!(
        ended,
        vec![EventKind::HoldEnded {
            reason: "lookup".into(),
            duration_ms: 70_000,
            check_backs: 2
        }]
    );
    assert!(h
        .sent
        .iter()
        .any(|m| m.starts_with("BYE sip:agent@127.0.0.1:61001")));
    // Nothing is scheduled for the gone call: no more check-backs.
    let mark = h.media.len();
    h.advance(Duration::from_secs(600));
    assert_eq!(heard(&h, mark, leg), Vec::<String>::new());
}

#[test]
fn an_agent_phone_gone_silent_puts_the_caller_first_in_line_with_an_apology() {
    let (mut h, leg, _invite) =
        connected(true, |c| c.dialplan.media.timeout = Duration::from_secs(2));
    // Another caller waits in the sales queue behind nobody: a1004 is busy elsewhere.
    h.switch.acd.set_state(
        "a1004",
        AgentState::NotReady {
            reason: "test".into(),
        },
        h.now,
    );
    let second = h.queue_nth_caller_for_sales(2, "2000");
    assert_eq!(h.switch.acd.waiting("sales"), vec![second]);
    let (mark, events, sent) = (h.media.len(), h.kinds().len(), h.sent.len());
    h.switch
        .handle_media_event(h.now, leg, MediaEvent::MediaTimeout { silent_ms: 2000 });
    h.collect();
    let sent_now: Vec<&String> = h.sent[sent..].iter().collect();
    assert_eq!(sent_now.len(), 1, "{sent_now:?}");
    assert!(
        sent_now[0].starts_with("BYE sip:agent@127.0.0.1:61001"),
        "BYE to the phone only"
    );
    assert_eq!(h.outcome(), None, "the caller's call goes on");
    assert_eq!(h.agent_state("a1001"), "not ready (lost)");
    assert_eq!(h.switch.acd.waiting("sales"), vec![CallId(1), second]);
    assert_eq!(
        heard(&h, mark, leg),
        strings(&["agent end", "caller play reconnect_apology"])
    );
    let caller_events: Vec<EventKind> = h.kinds()[events..]
        .iter()
        .filter(|k| !matches!(k, EventKind::PromptStarted { .. }))
        .cloned()
        .collect();
    assert_eq!(
        caller_events,
        vec![
            EventKind::MediaTimeout {
                side: Party::Agent,
                silent_ms: 2000
            },
            EventKind::AgentLegLost {
                agent: "a1001".into(),
                reason: "media_timeout".into()
            },
            EventKind::Requeued {
                queue: "sales".into()
            },
        ]
    );
    h.hear_out(CallId(1));
    assert!(matches!(
        h.media.last(),
        Some(MediaCommand::PlayLoop {
            call: CallId(1),
            ..
        })
    ));
    // The next sales agent gets the caller first, and hears "reconnected caller" first.
    h.switch.acd.set_state("a1004", AgentState::Ready, h.now);
    h.switch.dispatch(h.now);
    h.collect();
    let invite = h.invites_to_agents().last().cloned().unwrap();
    assert!(invite.starts_with("INVITE sip:1004@"), "{invite}");
    assert_eq!(offered_caller(&invite), "1000");
    h.sip_from_phone("1004", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let leg2 = *h
        .switch
        .legs
        .iter()
        .find(|(_, l)| l.agent == "a1004")
        .map(|(id, _)| id)
        .unwrap();
    let whisper = |h: &Harness| h.prompts.label(h.playing_on(leg2)).unwrap().1.to_string();
    assert_eq!(whisper(&h), "whisper_reconnect");
    h.hear_out(leg2);
    assert_eq!(whisper(&h), "whisper_sales");
    h.hear_out(leg2);
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: leg2
    }));
}

#[test]
fn an_agent_leg_whose_media_fails_while_bridged_requeues_the_caller() {
    let (mut h, leg, _invite) = connected(false, |_| {});
    h.switch.handle_media_failure(h.now, leg, "socket gone");
    h.collect();
    assert_eq!(h.outcome(), None);
    assert!(h.kinds().contains(&EventKind::AgentLegLost {
        agent: "a1001".into(),
        reason: "failed".into()
    }));
    assert_eq!(h.agent_state("a1001"), "not ready (lost)");
    assert_eq!(h.switch.acd.waiting("sales"), vec![CallId(1)]);
}

#[test]
fn a_requeued_caller_waits_a_fresh_maximum_wait_before_the_callback_offer() {
    let (mut h, leg, _invite) = connected(false, |c| {
        let sales = c.dialplan.queues.get_mut("sales").unwrap();
        sales.unstaffed_wait = sales.max_wait;
    });
    // a1004, the other sales agent, is away: the caller waits in line.
    let now = h.now;
    h.switch
        .acd
        .set_state("a1004", acd::AgentState::LoggedOut, now);
    h.switch.handle_media_failure(h.now, leg, "socket gone");
    h.collect();
    let requeued = h.now;
    let offered = |h: &Harness| {
        h.kinds()
            .iter()
            .any(|k| matches!(k, EventKind::CallbackOffered { .. }))
    };
    h.advance_to(requeued + Duration::from_secs(9 * 60 + 30) - Duration::from_millis(1));
    assert!(!offered(&h));
    assert_eq!(h.switch.acd.waiting("sales"), vec![CallId(1)]);
    h.advance_to(requeued + Duration::from_secs(9 * 60 + 30));
    assert!(offered(&h));
}

#[test]
fn an_agent_hanging_up_still_ends_the_call_for_the_caller() {
    let (mut h, _leg, invite) = connected(false, |_| {});
    h.sip_from_phone("1001", &from_phone(&invite, "BYE", 5, None));
    assert!(h.sent.iter().any(|m| m.starts_with("BYE sip:1000@")));
    assert_eq!(h.outcome(), Some("completed"));
    assert!(!h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::Requeued { .. })));
}

#[test]
fn an_agent_losing_the_leg_during_hold_ends_the_hold_and_requeues() {
    let (mut h, leg, invite) = connected(false, |_| {});
    phone_reinvite(&mut h, &invite, 1, "sendonly");
    hear_all_out(&mut h);
    h.advance(Duration::from_secs(10));
    let mark = h.media.len();
    h.switch
        .handle_media_event(h.now, leg, MediaEvent::MediaTimeout { silent_ms: 60_000 });
    h.collect();
    assert_eq!(
        heard(&h, mark, leg),
        strings(&["caller stop", "agent end", "caller play reconnect_apology"])
    );
    assert!(h.kinds().contains(&EventKind::HoldEnded {
        reason: "lookup".into(),
        duration_ms: 10_000,
        check_backs: 0
    }));
    assert!(h.switch.calls[&CallId(1)].hold.is_none());
}

#[test]
fn a_phone_that_never_acks_our_answer_to_its_reinvite_is_lost_and_the_caller_requeued() {
    let (mut h, _leg, invite) = connected(false, |_| {});
    let sdp = phone_sdp(4, "sendrecv");
    h.sip_from_phone("1001", &from_phone(&invite, "INVITE", 1, Some(&sdp)));
    h.advance(Duration::from_secs(31));
    assert!(!h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::AgentLegLost { .. })));
    h.advance(Duration::from_secs(2));
    assert!(h.kinds().contains(&EventKind::AgentLegLost {
        agent: "a1001".into(),
        reason: "failed".into()
    }));
    assert_eq!(h.outcome(), None);
    assert_eq!(h.switch.acd.waiting("sales"), vec![CallId(1)]);
}

#[test]
fn a_hold_by_the_switch_explains_and_plays_music_without_touching_either_sdp() {
    let (mut h, leg, _invite) = connected(false, |_| {});
    let (mark, events, sent) = (h.media.len(), h.kinds().len(), h.sent.len());
    h.switch.hold_by_switch(h.now, CallId(1));
    h.collect();
    hear_all_out(&mut h);
    assert_eq!(
        heard(&h, mark, leg),
        strings(&[
            "caller play hold",
            "caller play digit_2",
            "caller play minutes",
            "caller play thanks_patience",
            "caller loop moh",
        ])
    );
    assert_eq!(
        hold_events(&h, events)[..2],
        [
            EventKind::Hold { by: Party::Switch },
            EventKind::HoldReason {
                agent: "a1001".into(),
                reason: "lookup".into(),
                expected_s: 120,
                by: "default".into()
            },
        ]
    );
    assert_eq!(h.sent.len(), sent, "no re-INVITE to anyone");
}

#[test]
fn the_fresh_estimate_is_half_the_expected_time_rounded_up_to_whole_minutes_at_least_one() {
    use crate::switch::hold::overrun_estimate;
    let minutes = |m: u64| Duration::from_secs(m * 60);
    assert_eq!(overrun_estimate(minutes(3)), minutes(2));
    assert_eq!(overrun_estimate(minutes(10)), minutes(5));
    assert_eq!(overrun_estimate(minutes(2)), minutes(1));
    assert_eq!(overrun_estimate(Duration::from_secs(30)), minutes(1));
    assert_eq!(overrun_estimate(Duration::ZERO), minutes(1));
}
