//! The switch's side of the new media engine: sockets opened before the answer or offer
//! naming them (and closed on every path), RTP that proves the answer before the ACK, a far
//! end gone silent (media timeout), stale prompt ends, media quality, and the options each
//! leg's media starts with.

use super::*;
use crate::config::TrunkPeer;
use crate::media::{LegQuality, PlayId};
use acd::AgentState;

const TWO_SECONDS: Duration = Duration::from_secs(2);

fn opens(h: &Harness) -> Vec<MediaCommand> {
    h.media
        .iter()
        .filter(|m| matches!(m, MediaCommand::Open { .. }))
        .cloned()
        .collect()
}

fn ends(h: &Harness) -> Vec<CallId> {
    h.media
        .iter()
        .filter_map(|m| match m {
            MediaCommand::End { call } => Some(*call),
            _ => None,
        })
        .collect()
}

fn position(h: &Harness, starts_with: &str) -> usize {
    h.order
        .iter()
        .position(|line| line.starts_with(starts_with))
        .unwrap_or_else(|| panic!("no {starts_with:?} in {:#?}", h.order))
}

/// A caller connected to agent a1001 (no whisper), the phone's 200 OK ACKed. Returns the
/// agent leg.
fn connected_call(edit: impl FnOnce(&mut Config)) -> (Harness, CallId) {
    let mut h = Harness::queued_caller(
        |c| {
            for queue in c.dialplan.queues.values_mut() {
                queue.whisper = None;
            }
            edit(c);
        },
        '1',
    );
    let invite = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let leg = *h.switch.legs.keys().next().expect("the agent leg");
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: leg
    }));
    assert_eq!(h.agent_state("a1001"), "talking");
    (h, leg)
}

fn byes_to(h: &Harness, uri_prefix: &str) -> usize {
    h.sent
        .iter()
        .filter(|m| m.starts_with(&format!("BYE {uri_prefix}")))
        .count()
}

#[test]
fn the_callers_socket_opens_before_the_200_ok_leaves_expecting_the_offered_address() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    assert!(opens(&h).is_empty(), "no socket while it rings");
    h.advance(Duration::from_secs(1));
    let port = h.switch.calls[&CallId(1)].rtp_port;
    assert_eq!(
        opens(&h),
        vec![MediaCommand::Open {
            call: CallId(1),
            local_port: port,
            conversation: CallId(1),
            expect_from: Some("127.0.0.1:6000".parse().unwrap()),
        }]
    );
    assert!(
        position(&h, "Open {") < position(&h, "SIP/2.0 200"),
        "{:#?}",
        h.order
    );
    // The ACK starts the media on the same port; nothing is opened twice.
    let tag = to_tag(&h.last_response(200));
    h.sip(&in_dialog("ACK", 1, &tag, "", ""));
    assert!(matches!(
        h.media[1],
        MediaCommand::Start { call: CallId(1), local_port, .. } if local_port == port
    ));
    assert_eq!(opens(&h).len(), 1);
}

#[test]
fn the_agents_socket_opens_before_the_invite_leaves_and_closes_when_the_phone_is_busy() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let leg = *h.switch.legs.keys().next().expect("an offer");
    let port = h.switch.legs[&leg].rtp_port;
    assert!(opens(&h).contains(&MediaCommand::Open {
        call: leg,
        local_port: port,
        conversation: CallId(1),
        expect_from: None,
    }));
    let open = h
        .order
        .iter()
        .position(|l| l.starts_with(&format!("Open {{ call: {leg:?}")))
        .unwrap();
    assert!(open < position(&h, "INVITE sip:1001@"), "{:#?}", h.order);
    let invite = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&invite, 486, None));
    assert_eq!(ends(&h), vec![leg], "the never-started leg's socket closes");
    // Its port is free again: the caller's and the next offer's are the only ones held.
    assert!(!h.switch.legs.contains_key(&leg));
    assert_eq!(h.switch.rtp_ports.in_use(), 1 + h.switch.legs.len());
}

#[test]
fn an_offer_that_rings_out_closes_its_socket_once_the_phone_confirms_the_cancel() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let leg = *h.switch.legs.keys().next().expect("an offer");
    let invite = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&invite, 180, None));
    h.advance(Duration::from_secs(16));
    assert!(h.sent.iter().any(|m| m.starts_with("CANCEL sip:1001@")));
    h.sip_from_phone("1001", &phone_response(&invite, 487, None));
    assert_eq!(
        ends(&h).iter().filter(|c| **c == leg).count(),
        1,
        "{:?}",
        h.media
    );
}

#[test]
fn a_call_never_acked_closes_the_socket_opened_at_the_answer() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.advance(Duration::from_secs(1));
    h.advance(ACK_WAIT);
    assert!(h.sent.last().unwrap().starts_with("BYE "));
    assert_eq!(ends(&h), vec![CallId(1)]);
    assert_eq!(h.switch.rtp_ports.in_use(), 0);
    assert!(
        !h.media
            .iter()
            .any(|m| matches!(m, MediaCommand::Start { .. })),
        "{:?}",
        h.media
    );
}

#[test]
fn rtp_from_the_caller_before_its_ack_starts_the_greeting_and_the_ack_may_come_until_timer_h() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.advance(Duration::from_secs(1));
    let answered_at = h.now;
    h.advance(Duration::from_millis(300));
    h.media_event(MediaEvent::RtpArrived);
    assert!(matches!(
        h.media[1],
        MediaCommand::Start {
            call: CallId(1),
            ..
        }
    ));
    assert_eq!(h.prompts.label(h.playing()).unwrap().1, "welcome");
    assert!(h.kinds().contains(&EventKind::MediaBeforeAck));
    // Past the 5 s ACK wait the call goes on; the 200 OK is still retransmitted.
    h.advance_to(answered_at + Duration::from_secs(10));
    assert_eq!(byes_to(&h, ""), 0);
    assert_eq!(h.outcome(), None);
    // The ACK arrives late (its first copies lost): confirmed, the greeting not restarted.
    let starts = h
        .media
        .iter()
        .filter(|m| matches!(m, MediaCommand::Start { .. }))
        .count();
    let tag = to_tag(&h.last_response(200));
    h.sip(&in_dialog("ACK", 1, &tag, "", ""));
    assert!(h.kinds().contains(&EventKind::Confirmed));
    let starts_after = h
        .media
        .iter()
        .filter(|m| matches!(m, MediaCommand::Start { .. }))
        .count();
    assert_eq!((starts, starts_after), (1, 1));
    h.advance_to(answered_at + Duration::from_secs(40));
    assert_eq!(byes_to(&h, ""), 0, "an ACKed call is not ended at Timer H");
}

#[test]
fn rtp_before_an_ack_that_never_comes_ends_the_call_at_timer_h_not_at_five_seconds() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", Some(OFFER_PCMA)));
    h.advance(Duration::from_secs(1));
    let answered_at = h.now;
    h.media_event(MediaEvent::RtpArrived);
    h.advance_to(answered_at + Duration::from_millis(31_900));
    assert_eq!(byes_to(&h, ""), 0);
    h.advance_to(answered_at + Duration::from_secs(32));
    assert_eq!(byes_to(&h, "sip:1000@"), 1, "{:#?}", h.order);
    assert_eq!(h.outcome(), Some("failed"));
    assert_eq!(ends(&h), vec![CallId(1)]);
}

#[test]
fn rtp_arriving_on_a_delayed_offer_call_proves_nothing_and_the_five_second_ack_wait_stays() {
    let mut h = Harness::new(|_| {});
    h.sip(&invite("4008", None));
    h.advance(Duration::from_secs(1));
    let answered_at = h.now;
    h.media_event(MediaEvent::RtpArrived);
    assert!(!h
        .media
        .iter()
        .any(|m| matches!(m, MediaCommand::Start { .. })));
    h.advance_to(answered_at + ACK_WAIT);
    assert_eq!(byes_to(&h, "sip:1000@"), 1);
    assert_eq!(h.outcome(), Some("failed"));
}

#[test]
fn rtp_arriving_after_the_ack_changes_nothing() {
    let mut h = Harness::new(|_| {});
    answered_call(&mut h, OFFER_PCMA);
    let (media, records) = (h.media.len(), h.records.len());
    h.media_event(MediaEvent::RtpArrived);
    assert_eq!((h.media.len(), h.records.len()), (media, records));
}

#[test]
fn a_caller_silent_for_the_media_timeout_in_the_menu_gets_bye_and_the_record_says_media_timeout() {
    let mut h = Harness::new(|c| c.dialplan.media.timeout = TWO_SECONDS);
    answered_call(&mut h, OFFER_PCMA);
    h.media_event(MediaEvent::MediaTimeout { silent_ms: 2000 });
    assert_eq!(byes_to(&h, "sip:1000@127.0.0.1:5070"), 1, "{:#?}", h.order);
    assert_eq!(h.outcome(), Some("media_timeout"));
    assert!(h.kinds().contains(&EventKind::MediaTimeout {
        side: Party::Caller,
        silent_ms: 2000
    }));
    assert!(h.kinds().contains(&EventKind::Hangup {
        by: Party::Switch,
        reason: "no audio from the caller for 2 s".into()
    }));
    assert_eq!(ends(&h), vec![CallId(1)]);
    // A second report (the engine racing our End) changes nothing.
    let sent = h.sent.len();
    h.media_event(MediaEvent::MediaTimeout { silent_ms: 2020 });
    assert_eq!(h.sent.len(), sent);
}

#[test]
fn a_connected_caller_gone_silent_is_hung_up_and_the_agent_gets_bye_and_wraps_up() {
    let (mut h, leg) = connected_call(|c| c.dialplan.media.timeout = TWO_SECONDS);
    h.media_event(MediaEvent::MediaTimeout { silent_ms: 2000 });
    assert_eq!(
        byes_to(&h, "sip:1000@127.0.0.1:5070"),
        1,
        "BYE to the caller"
    );
    assert_eq!(
        byes_to(&h, "sip:agent@127.0.0.1:61001"),
        1,
        "BYE to the phone"
    );
    assert_eq!(h.outcome(), Some("media_timeout"));
    assert_eq!(h.agent_state("a1001"), "wrap-up");
    let mut ended = ends(&h);
    ended.sort();
    assert_eq!(ended, vec![CallId(1), leg]);
    assert!(h.kinds().contains(&EventKind::MediaTimeout {
        side: Party::Caller,
        silent_ms: 2000
    }));
}

#[test]
fn an_agent_phone_gone_silent_ends_the_leg_and_keeps_the_caller_naming_the_agent_side() {
    let (mut h, leg) = connected_call(|c| c.dialplan.media.timeout = TWO_SECONDS);
    h.switch
        .handle_media_event(h.now, leg, MediaEvent::MediaTimeout { silent_ms: 2000 });
    h.collect();
    assert_eq!(
        byes_to(&h, "sip:agent@127.0.0.1:61001"),
        1,
        "BYE to the phone"
    );
    // Issue 8: the caller is not cut off but queued again (see tests/hold.rs).
    assert_eq!(
        byes_to(&h, "sip:1000@127.0.0.1:5070"),
        0,
        "no BYE to the caller"
    );
    assert_eq!(h.outcome(), None);
    assert!(h.kinds().contains(&EventKind::MediaTimeout {
        side: Party::Agent,
        silent_ms: 2000
    }));
    assert_eq!(h.agent_state("a1001"), "not ready (lost)");
}

#[test]
fn a_media_timeout_on_a_ringing_offer_changes_nothing() {
    let mut h = Harness::queued_caller(|_| {}, '1');
    let leg = *h.switch.legs.keys().next().unwrap();
    let sent = h.sent.len();
    h.switch
        .handle_media_event(h.now, leg, MediaEvent::MediaTimeout { silent_ms: 60_000 });
    h.collect();
    assert_eq!(h.sent.len(), sent);
    assert_eq!(h.outcome(), None);
    assert!(matches!(
        h.switch.acd.agent("a1001").map(|a| &a.state),
        Some(AgentState::Ringing { .. })
    ));
}

#[test]
fn legs_start_with_the_dialplans_media_timeout_and_in_band_dtmf_from_the_callers_trunk() {
    let (mut h, leg) = {
        let mut h = Harness::new(|c| c.dialplan.media.timeout = TWO_SECONDS);
        h.switch.set_trunks(vec![TrunkPeer {
            name: "old-pbx".into(),
            networks: vec![("127.0.0.1".parse().unwrap(), 32)],
            inband_dtmf: true,
        }]);
        answered_call(&mut h, OFFER_PCMA);
        h.finish_prompt();
        h.finish_prompt();
        h.media_event(MediaEvent::Dtmf {
            digit: '1',
            duration_ms: 100,
        });
        let invite = h.invites_to_agents()[0].clone();
        h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
        let leg = *h.switch.legs.keys().next().unwrap();
        (h, leg)
    };
    h.collect();
    let options: Vec<(CallId, LegOptions)> = h
        .media
        .iter()
        .filter_map(|m| match m {
            MediaCommand::Start { call, options, .. } => Some((*call, options.clone())),
            _ => None,
        })
        .collect();
    let record_id = h.switch.calls[&CallId(1)].record_id.clone();
    assert_eq!(
        options,
        vec![
            (
                CallId(1),
                LegOptions {
                    conversation: CallId(1),
                    record: MediaRecordKey {
                        call_id: record_id.clone(),
                        role: LegRole::Caller
                    },
                    media_timeout: TWO_SECONDS,
                    inband_dtmf: true,
                    rtcp_mux: false,
                    hold_back_dtmf: false,
                    signalling_host: Some([127, 0, 0, 1].into()),
                }
            ),
            (
                leg,
                LegOptions {
                    conversation: CallId(1),
                    record: MediaRecordKey {
                        call_id: record_id,
                        role: LegRole::Agent
                    },
                    media_timeout: TWO_SECONDS,
                    inband_dtmf: false,
                    rtcp_mux: false,
                    hold_back_dtmf: true,
                    signalling_host: Some([127, 0, 0, 1].into()),
                }
            ),
        ]
    );
}

#[test]
fn a_caller_from_a_trunk_without_in_band_dtmf_gets_the_default_sixty_second_timeout() {
    let mut h = Harness::new(|_| {});
    h.switch.set_trunks(vec![
        TrunkPeer {
            name: "elsewhere".into(),
            networks: vec![("10.0.0.0".parse().unwrap(), 8)],
            inband_dtmf: true,
        },
        TrunkPeer {
            name: "local".into(),
            networks: vec![("127.0.0.0".parse().unwrap(), 8)],
            inband_dtmf: false,
        },
    ]);
    answered_call(&mut h, OFFER_PCMA);
    let Some(MediaCommand::Start { options, .. }) = h
        .media
        .iter()
        .find(|m| matches!(m, MediaCommand::Start { .. }))
    else {
        panic!("{:?}", h.media)
    };
    assert_eq!(options.media_timeout, Duration::from_secs(60));
    assert!(!options.inband_dtmf);
}

#[test]
fn an_in_band_digit_works_the_menu_like_a_telephone_event() {
    let mut h = Harness::new(|_| {});
    answered_call(&mut h, OFFER_PCMA);
    h.finish_prompt();
    h.finish_prompt();
    h.media_event(MediaEvent::InbandDtmf {
        digit: '1',
        duration_ms: 80,
    });
    assert!(h.kinds().contains(&EventKind::Dtmf {
        digit: '1',
        source: "inband".into()
    }));
    assert!(h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::QueueEntered { queue, .. } if queue == "sales")));
}

#[test]
fn a_stale_prompt_finish_from_an_earlier_play_of_the_same_prompt_is_ignored() {
    let mut h = Harness::new(|_| {});
    answered_call(&mut h, OFFER_PCMA);
    h.finish_prompt(); // welcome
    h.finish_prompt(); // recording notice
    let menu = h.playing();
    let first_play = h.last_play_on(CallId(1));
    h.finish_prompt(); // the menu, first time: now waiting for a digit
    h.advance(Duration::from_secs(5)); // no input: the menu plays again
    for _ in 0..5 {
        if h.playing() == menu && h.last_play_on(CallId(1)) != first_play {
            break;
        }
        h.finish_prompt(); // what comes before the menu on a no-input
    }
    assert_eq!(h.playing(), menu, "the menu is played again");
    let replayed = h.last_play_on(CallId(1));
    assert_ne!(replayed, first_play);
    // The engine's report of the first play arrives again (late, duplicated).
    let records = h.records.len();
    h.media_event(MediaEvent::PromptFinished {
        prompt: menu,
        play: first_play,
        interrupted: false,
    });
    assert_eq!(h.records.len(), records, "{:?}", &h.records[records..]);
    // The replay's own end counts.
    h.media_event(MediaEvent::PromptFinished {
        prompt: menu,
        play: replayed,
        interrupted: false,
    });
    assert!(matches!(
        &h.events().last().unwrap().kind,
        EventKind::PromptFinished {
            interrupted: false,
            ..
        }
    ));
}

#[test]
fn a_stale_whisper_finish_does_not_connect_the_agent_early() {
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
    let invite = h.invites_to_agents()[0].clone();
    h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let leg = *h.switch.legs.keys().next().unwrap();
    let first = h.last_play_on(leg);
    let finish = |h: &mut Harness, play: PlayId| {
        let prompt = h.playing_on(leg);
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
    };
    finish(&mut h, first); // the queue's whisper: the tier's plays next
    let second = h.last_play_on(leg);
    assert_ne!(first, second);
    finish(&mut h, first); // the first one's end, reported twice
    assert!(
        !h.media
            .iter()
            .any(|m| matches!(m, MediaCommand::Bridge { .. })),
        "bridged while the tier whisper still plays"
    );
    finish(&mut h, second);
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: leg
    }));
}

#[test]
fn a_legs_media_figures_go_on_the_call_record_even_after_the_call_is_gone() {
    let (mut h, leg) = connected_call(|_| {});
    let tag = to_tag(&h.last_response(200));
    h.sip(&in_dialog("BYE", 3, &tag, "", ""));
    let record_id = h.switch.calls.get(&CallId(1)).map(|c| c.record_id.clone());
    let quality = LegQuality {
        packets_sent: 400,
        packets_received: 398,
        packets_lost: 2,
        jitter_us: 1250,
        rtt_us: Some(800),
        ..LegQuality::default()
    };
    let key = |role| MediaRecordKey {
        call_id: "20261123-020000-0001".into(),
        role,
    };
    h.switch.handle_media_event(
        h.now,
        leg,
        MediaEvent::Quality {
            record: key(LegRole::Agent),
            quality,
        },
    );
    h.media_event(MediaEvent::Quality {
        record: key(LegRole::Caller),
        quality,
    });
    let figures: Vec<(String, LegRole, LegQuality)> = h
        .records
        .iter()
        .filter_map(|r| match r {
            RecordCommand::MediaQuality {
                call_id,
                role,
                quality,
            } => Some((call_id.clone(), *role, *quality)),
            _ => None,
        })
        .collect();
    assert_eq!(
        figures,
        vec![
            ("20261123-020000-0001".into(), LegRole::Agent, quality),
            ("20261123-020000-0001".into(), LegRole::Caller, quality),
        ],
        "record id while the call was here: {record_id:?}"
    );
}
