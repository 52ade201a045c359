//! Agents: offers to their phones within three rings, whisper and bridge, hang-ups, wrap-up.

use super::*;

#[test]
fn queued_caller_rings_the_longest_idle_sales_agent_and_is_bridged_after_the_whisper() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 1);
    let invite = invites[0].clone();
    assert_eq!(
        phone_extension(&invite),
        "1001",
        "sales agents a1001 and a1004, equally idle: a1001"
    );
    assert!(
        invite.contains("From: \"1000\" <sip:1000@"),
        "the caller's number shows on the phone"
    );
    h.sip_from_phone("1001", &phone_response(&invite, 180, None));
    h.advance(Duration::from_secs(6));
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    assert!(
        h.sent.last().unwrap().starts_with("ACK "),
        "the switch ACKs the agent's 200"
    );
    let kinds = h.kinds();
    assert!(kinds.iter().any(
        |k| matches!(k, EventKind::AgentAnswered { agent, rings: 2, .. } if agent == "a1001")
    ));
    assert!(kinds.iter().any(|k| matches!(k, EventKind::Whisper { .. })));
    let leg = h
        .media
        .iter()
        .find_map(|m| match m {
            MediaCommand::Start {
                call,
                codec: Codec::Pcmu,
                ..
            } if *call != CallId(1) => Some(*call),
            _ => None,
        })
        .expect("the agent leg's media starts");
    assert!(
        h.media
            .iter()
            .any(|m| matches!(m, MediaCommand::Play { call, .. } if *call == leg)),
        "whisper to the agent"
    );
    let whisper = h.prompt("en", "whisper_sales");
    h.switch.handle_media_event(
        h.now,
        leg,
        MediaEvent::PromptFinished {
            play: h.last_play_on(leg),
            prompt: whisper,
            interrupted: false,
        },
    );
    h.collect();
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: leg
    }));
    assert!(
        h.kinds().iter().any(|k| matches!(
            k,
            EventKind::Bridged {
                transcoding: true,
                ..
            }
        )),
        "PCMA caller, PCMU agent"
    );
}

#[test]
fn unanswered_agent_phone_is_cancelled_as_ring_three_ends_and_the_next_agent_rings() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let first = h.invites_to_agents()[0].clone();
    let offered_at = h.now;
    h.sip_from_phone("1001", &phone_response(&first, 180, None));
    h.advance(Duration::from_millis(10_999));
    assert!(
        !h.sent.iter().any(|m| m.starts_with("CANCEL ")),
        "still within three rings"
    );
    h.advance(Duration::from_millis(1));
    assert_eq!(h.now - offered_at, Duration::from_secs(11));
    assert!(
        h.sent.iter().any(|m| m.starts_with("CANCEL ")),
        "cancelled as ring 3 ends"
    );
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 2);
    assert_eq!(
        phone_extension(&invites[1]),
        "1004",
        "the other sales agent rings next"
    );
    assert!(h.kinds().iter().any(|k| matches!(k, EventKind::OfferEnded { agent, rings: 3, outcome } if agent == "a1001" && outcome == "no_answer")));
    let states = h.switch.agent_states();
    assert!(
        states.contains(&("a1001".to_string(), "not ready (missed)".to_string())),
        "{states:?}"
    );
}

#[test]
fn busy_agent_passes_the_call_to_the_next_at_once() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let first = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&first, 486, None));
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 2, "the next agent at once");
    assert_eq!(phone_extension(&invites[1]), "1004");
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::OfferEnded { agent, outcome, .. } if agent == "a1001" && outcome == "busy")));
}

#[test]
fn caller_hanging_up_while_the_phone_rings_cancels_it_and_is_abandoned() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let first = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&first, 180, None));
    let tag = to_tag(
        &h.sent
            .iter()
            .find(|m| m.starts_with("SIP/2.0 200"))
            .unwrap()
            .clone(),
    );
    h.sip(&in_dialog("BYE", 2, &tag, "", ""));
    assert!(h.sent.iter().any(|m| m.starts_with("CANCEL ")));
    assert_eq!(h.outcome(), Some("abandoned"));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::OfferEnded { outcome, .. } if outcome == "caller_left")));
    assert!(h
        .switch
        .agent_states()
        .contains(&("a1001".to_string(), "ready".to_string())));
}

#[test]
fn agent_hanging_up_ends_the_caller_and_wraps_up_for_fifteen_seconds() {
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
    assert!(
        h.media
            .iter()
            .any(|m| matches!(m, MediaCommand::Bridge { .. })),
        "bridged at once without a whisper"
    );
    let call_id = invite
        .split("\r\n")
        .find(|l| l.starts_with("Call-ID:"))
        .unwrap()
        .to_string();
    let bye = format!(
        "BYE sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:61001;branch=z9hG4bK-agentbye\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1:61001>;tag=phone\r\n{}\r\n{call_id}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        invite.split("\r\n").find(|l| l.starts_with("From:")).unwrap().replacen("From:", "To:", 1)
    );
    h.sip_from_phone("1001", &bye);
    assert!(
        h.sent.iter().any(|m| m.starts_with("BYE sip:1000@")),
        "the caller is hung up: {:?}",
        h.sent.last()
    );
    assert!(h.kinds().iter().any(|k| *k
        == EventKind::Hangup {
            by: Party::Agent,
            reason: "agent hung up".into()
        }));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::WrapUp { seconds: 15, .. })));
    assert!(h
        .switch
        .agent_states()
        .contains(&("a1001".to_string(), "wrap-up".to_string())));
    h.advance(Duration::from_secs(15));
    assert!(h
        .switch
        .agent_states()
        .contains(&("a1001".to_string(), "ready".to_string())));
}

#[test]
fn agent_phone_rings_at_most_three_north_american_rings() {
    let mut h = Harness::queued_caller(
        |c| {
            c.dialplan.standards.ring_cadence = config::RingCadence {
                on: Duration::from_secs(2),
                off: Duration::from_secs(4),
            };
        },
        '1',
    );
    // The caller's own answer came as ring 1 ended (2 s); the agent leg has its own budget.
    let offered_at = h.now;
    let invite = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&invite, 180, None));
    h.advance(Duration::from_millis(13_999));
    assert!(!h.sent.iter().any(|m| m.starts_with("CANCEL ")));
    h.advance(Duration::from_millis(1));
    assert_eq!(
        h.now - offered_at,
        Duration::from_secs(14),
        "ring 3 ends at 2 × 6 s + 2 s"
    );
    assert!(h.sent.iter().any(|m| m.starts_with("CANCEL ")));
}

#[test]
fn caller_hanging_up_a_connected_call_hangs_up_the_agent_who_wraps_up_once() {
    let mut h = Harness::queued_caller(
        |c| {
            for queue in c.dialplan.queues.values_mut() {
                queue.whisper = None;
            }
        },
        '1',
    );
    let invite = h.invites_to_agents()[0].clone();
    let leg_port = h.switch.legs.values().next().unwrap().rtp_port;
    assert!(
        invite.contains(&format!("m=audio {leg_port} RTP/AVP 8 0 101")),
        "the PCMA caller's codec is offered first: {invite}"
    );
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let tag = to_tag(&h.last_response(200));
    h.sip(&in_dialog("BYE", 3, &tag, "", ""));
    assert!(
        h.sent.iter().any(|m| m.starts_with("BYE sip:agent@")),
        "the agent is hung up"
    );
    let wrap_ups = h
        .kinds()
        .iter()
        .filter(|k| matches!(k, EventKind::WrapUp { .. }))
        .count();
    assert_eq!(wrap_ups, 1);
    assert_eq!(h.outcome(), Some("completed"));
}

#[test]
fn the_agent_hears_the_queue_and_a_vip_callers_tier_before_being_connected() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)).replace("sip:1000@", "sip:13800000001@"));
    h.advance(Duration::from_secs(1));
    let tag = to_tag(&h.last_response(200));
    h.sip(&in_dialog("ACK", 1, &tag, "", ""));
    h.finish_prompt();
    h.finish_prompt();
    h.media_event(MediaEvent::Dtmf {
        digit: '1',
        duration_ms: 100,
    });
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueEntered { priority: 10, .. })));
    let invite = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let leg = h
        .media
        .iter()
        .find_map(|m| match m {
            MediaCommand::Start { call, .. } if *call != CallId(1) => Some(*call),
            _ => None,
        })
        .unwrap();
    let whispered = |h: &Harness| -> Vec<PromptId> {
        h.media
            .iter()
            .filter_map(|m| match m {
                MediaCommand::Play { call, prompt, .. } if *call == leg => Some(*prompt),
                _ => None,
            })
            .collect()
    };
    assert_eq!(whispered(&h), vec![h.prompt("zh", "whisper_sales")]);
    h.switch.handle_media_event(
        h.now,
        leg,
        MediaEvent::PromptFinished {
            play: h.last_play_on(leg),
            prompt: h.prompt("zh", "whisper_sales"),
            interrupted: false,
        },
    );
    h.collect();
    assert_eq!(
        whispered(&h),
        vec![
            h.prompt("zh", "whisper_sales"),
            h.prompt("zh", "whisper_tier_vip")
        ]
    );
    assert!(
        !h.media
            .iter()
            .any(|m| matches!(m, MediaCommand::Bridge { .. })),
        "not yet"
    );
    h.switch.handle_media_event(
        h.now,
        leg,
        MediaEvent::PromptFinished {
            play: h.last_play_on(leg),
            prompt: h.prompt("zh", "whisper_tier_vip"),
            interrupted: false,
        },
    );
    h.collect();
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: leg
    }));
}

#[test]
fn declining_agent_passes_the_call_to_the_next_at_once() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let first = h.invites_to_agents()[0].clone();
    assert_eq!(phone_extension(&first), "1001");
    h.sip_from_phone("1001", &phone_response(&first, 180, None));
    h.advance(Duration::from_secs(2));
    h.sip_from_phone("1001", &phone_response(&first, 603, None));
    let invites = h.invites_to_agents();
    assert_eq!(
        invites.len(),
        2,
        "the next agent at once, in the same instant"
    );
    assert_eq!(phone_extension(&invites[1]), "1004");
    assert_eq!(offered_caller(&invites[1]), "1000");
    assert!(h.kinds().iter().any(|k| matches!(k, EventKind::OfferEnded { agent, outcome, .. } if agent == "a1001" && outcome == "declined")));
}

#[test]
fn ring_all_rings_every_ready_agent_at_once_and_cancels_the_others_when_one_answers() {
    let mut h = Harness::queued_caller(
        |c| {
            let sales = c.dialplan.queues.get_mut("sales").unwrap();
            sales.strategy = config::Strategy::RingAll;
            sales.whisper = None;
        },
        '1',
    );
    let invites = h.invites_to_agents();
    let phones: Vec<String> = invites.iter().map(|i| phone_extension(i)).collect();
    assert_eq!(phones, ["1001", "1004"], "both sales agents ring at once");
    for invite in &invites {
        h.sip_from_phone(&phone_extension(invite), &phone_response(invite, 180, None));
    }
    h.advance(Duration::from_secs(3));
    let (ringing, answering) = (invites[0].clone(), invites[1].clone());
    let mark = h.sent.len();
    h.sip_from_phone(
        "1004",
        &phone_response(&answering, 200, Some(PHONE_SDP_PCMU)),
    );
    let cancels: Vec<&String> = h.sent[mark..]
        .iter()
        .filter(|m| m.starts_with("CANCEL "))
        .collect();
    assert_eq!(cancels.len(), 1, "{:#?}", &h.sent[mark..]);
    assert_eq!(phone_extension(cancels[0]), "1001");
    assert_eq!(
        header_value(cancels[0], "Call-ID"),
        header_value(&ringing, "Call-ID"),
        "the other phone's INVITE is cancelled"
    );
    let leg = h
        .media
        .iter()
        .find_map(|m| match m {
            MediaCommand::Start { call, .. } if *call != CallId(1) => Some(*call),
            _ => None,
        })
        .expect("the answering agent's media starts");
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: leg
    }));
    let kinds = h.kinds();
    assert!(kinds
        .iter()
        .any(|k| matches!(k, EventKind::Bridged { agent, .. } if agent == "a1004")));
    assert!(kinds.iter().any(|k| matches!(k, EventKind::OfferEnded { agent, outcome, .. } if agent == "a1001" && outcome == "answered_elsewhere")));
    assert_eq!(h.agent_state("a1004"), "talking");
    assert_eq!(h.agent_state("a1001"), "ready");
    h.sip_from_phone("1001", &phone_response(&ringing, 487, None));
    assert_eq!(h.invites_to_agents().len(), 2, "nobody else is rung");
}

/// Sales calls reach a1001 alone: a1004, the other sales agent, takes none today.
fn only_a1001_takes_sales(c: &mut Config) {
    for phone in &mut c.hardware.phones {
        if phone.extension == "1004" {
            phone.skills.retain(|s| s != "sales");
        }
    }
}

#[test]
fn an_agent_logged_out_with_star_22_is_offered_no_call_until_logging_in_with_star_21() {
    let mut h = Harness::new(only_a1001_takes_sales);
    assert_eq!(h.agent_state("a1001"), "ready", "logged in on register");
    assert_eq!(h.dial_feature_code("1001", "*22"), "agent_logged_out");
    h.queue_nth_caller_for_sales(1, "1000");
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueEntered { queue, .. } if queue == "sales")));
    h.advance(Duration::from_secs(60));
    assert!(
        h.invites_to_agents().is_empty(),
        "a logged-out agent's phone does not ring"
    );
    assert_eq!(h.agent_state("a1001"), "logged out");
    assert_eq!(h.dial_feature_code("1001", "*21"), "agent_logged_in");
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 1, "offered at once on logging in");
    assert_eq!(phone_extension(&invites[0]), "1001");
    assert_eq!(offered_caller(&invites[0]), "1000");
}

#[test]
fn an_agent_not_ready_with_star_24_is_offered_no_call_until_ready_again_with_star_23() {
    let mut h = Harness::new(only_a1001_takes_sales);
    assert_eq!(h.dial_feature_code("1001", "*24"), "agent_not_ready");
    h.queue_nth_caller_for_sales(1, "1000");
    h.advance(Duration::from_secs(60));
    assert!(
        h.invites_to_agents().is_empty(),
        "a not-ready agent's phone does not ring"
    );
    assert_eq!(h.agent_state("a1001"), "not ready (by phone)");
    assert_eq!(h.dial_feature_code("1001", "*23"), "agent_ready");
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 1, "offered at once on becoming ready");
    assert_eq!(phone_extension(&invites[0]), "1001");
    assert_eq!(offered_caller(&invites[0]), "1000");
}

#[test]
fn a_phone_that_answers_480_is_recorded_as_no_answer_and_the_next_agent_rings_at_once() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let first = h.invites_to_agents()[0].clone();
    assert_eq!(phone_extension(&first), "1001");
    h.sip_from_phone("1001", &phone_response(&first, 480, None));
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 2, "the next agent at once");
    assert_eq!(phone_extension(&invites[1]), "1004");
    assert!(
        h.kinds().iter().any(|k| matches!(k, EventKind::OfferEnded { agent, outcome, .. } if agent == "a1001" && outcome == "no_answer")),
        "{:?}",
        h.kinds()
    );
}
