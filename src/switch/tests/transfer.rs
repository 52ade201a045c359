//! Blind transfer from the agent's desk phone (REFER or the `#1` keys): the explanation the
//! caller hears, music or ringback, the target's three rings, the context whisper, recall to
//! the transferring agent or the queue's front, and the phones that misbehave.
//!
//! The REFER arrives as the endpoint reports it (`CallEvent::Refer`); what the switch asks
//! of the endpoint (202, refusals, NOTIFYs) is read from `REFER_ANSWERS`.

use super::*;
use crate::config::OutsideTransfer;
use crate::sip::ReferTarget;
use crate::switch::transfer::{ReferAnswer, REFER_ANSWERS};

const TRUNK: &str = "127.0.0.1:5080";

/// `8002` is the support queue's transfer number, support names its department, and
/// numbers starting with 9 go out through the trunk.
fn transfer_plan(c: &mut Config) {
    c.dialplan
        .transfer
        .numbers
        .insert("8002".into(), "support".into());
    c.dialplan
        .transfer
        .numbers
        .insert("8003".into(), "accounts".into());
    c.dialplan.queues.get_mut("support").unwrap().department = Some("dept_support".into());
    c.dialplan.transfer.outside = Some(OutsideTransfer {
        prefix: "9".into(),
        trunk: TRUNK.parse().unwrap(),
    });
}

/// A sales caller (CallId 1) talking to a1001 (extension 1001). Returns the agent's leg and
/// the switch's INVITE to that phone.
fn caller_talking_to_a1001() -> (Harness, CallId, String) {
    REFER_ANSWERS.with(|answers| answers.borrow_mut().clear());
    let mut h = Harness::queued_caller(transfer_plan, '1');
    let invite = h.invites_to_agents()[0].clone();
    assert_eq!(phone_extension(&invite), "1001");
    let leg = answer(&mut h, "1001", &invite);
    h.hear_out(leg); // whisper_sales
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: leg
    }));
    (h, leg, invite)
}

/// Phone `extension` answers `invite`; returns the leg whose media starts.
fn answer(h: &mut Harness, extension: &str, invite: &str) -> CallId {
    let mark = h.media.len();
    h.sip_from_phone(
        extension,
        &phone_response(invite, 200, Some(PHONE_SDP_PCMU)),
    );
    h.media[mark..]
        .iter()
        .find_map(|m| match m {
            MediaCommand::Start { call, .. } if *call != CallId(1) => Some(*call),
            _ => None,
        })
        .expect("the answered leg's media starts")
}

/// The agent's phone on `leg` sends REFER with Refer-To `sip:USER@127.0.0.1`.
fn refer(h: &mut Harness, leg: CallId, user: &str) {
    let event = CallEvent::Refer {
        call: leg,
        target: ReferTarget {
            uri: format!("sip:{user}@127.0.0.1"),
            user: user.into(),
            host: "127.0.0.1".into(),
            replaces: None,
        },
        referred_by: Some("sip:1001@127.0.0.1".into()),
    };
    h.switch.on_call_event(h.now, event);
    h.collect();
}

fn refer_answers() -> Vec<(CallId, ReferAnswer)> {
    REFER_ANSWERS.with(|answers| answers.borrow().clone())
}

/// The timeline from event `mark` on.
fn kinds_since(h: &Harness, mark: usize) -> Vec<EventKind> {
    h.kinds()[mark..].to_vec()
}

fn started(name: &str) -> EventKind {
    EventKind::PromptStarted {
        name: name.into(),
        language: "zh".into(),
    }
}

/// The caller hears out `count` prompts; returns their names in order.
fn hear_prompts(h: &mut Harness, count: usize) -> Vec<String> {
    (0..count)
        .map(|_| {
            let name = h.prompts.label(h.playing()).unwrap().1.to_string();
            h.hear_out(CallId(1));
            name
        })
        .collect()
}

/// The prompt names played on `call` (plain or mixed) from media command `mark` on.
fn plays_on(h: &Harness, call: CallId, mark: usize) -> Vec<String> {
    h.media[mark..]
        .iter()
        .filter_map(|m| match m {
            MediaCommand::Play {
                call: c, prompt, ..
            }
            | MediaCommand::PlayMixed {
                call: c, prompt, ..
            }
            | MediaCommand::PlayLoop {
                call: c, prompt, ..
            } if *c == call => Some(h.prompts.label(*prompt).unwrap().1.to_string()),
            _ => None,
        })
        .collect()
}

/// The requests of `method` sent in the dialog with `invite`'s Call-ID.
fn requests_in(h: &Harness, invite: &str, method: &str) -> usize {
    let call_id = header_value(invite, "Call-ID");
    h.sent
        .iter()
        .filter(|m| m.starts_with(&format!("{method} ")))
        .filter(|m| header_value(m, "Call-ID") == call_id)
        .count()
}

/// BYEs sent to the caller.
fn byes_to_caller(h: &Harness) -> usize {
    h.sent
        .iter()
        .filter(|m| m.starts_with("BYE sip:1000@"))
        .count()
}

/// The phone that got `invite` hangs up.
fn phone_bye(h: &mut Harness, extension: &str, invite: &str) {
    let bye = format!(
        "BYE sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:6{extension};branch=z9hG4bK-bye{extension}\r\nMax-Forwards: 70\r\nFrom: <sip:{extension}@127.0.0.1:6{extension}>;tag=phone\r\n{}\r\nCall-ID: {}\r\nCSeq: 9 BYE\r\nContent-Length: 0\r\n\r\n",
        invite
            .split("\r\n")
            .find(|l| l.starts_with("From:"))
            .unwrap()
            .replacen("From:", "To:", 1),
        header_value(invite, "Call-ID").unwrap()
    );
    h.sip_from_phone(extension, &bye);
}

/// The caller hears out the transfer explanation, to its last prompt; returns the names.
fn hear_out_the_explanation(h: &mut Harness) -> Vec<String> {
    let mut heard = Vec::new();
    while let Some(c) = h.switch.calls.get(&CallId(1)) {
        let Some(prompt) = c.playing.filter(|_| !c.looping) else {
            break;
        };
        heard.push(h.prompts.label(prompt).unwrap().1.to_string());
        h.hear_out(CallId(1));
        assert!(heard.len() < 20, "the explanation never ends: {heard:?}");
    }
    heard
}

fn is_connected_to(h: &Harness, leg: CallId) -> bool {
    matches!(h.switch.calls.get(&CallId(1)).map(|c| &c.phase), Some(Phase::Connected { leg: l, .. }) if *l == leg)
}

#[test]
fn blind_transfer_to_a_queue_explains_department_and_live_wait_plays_music_and_hands_the_context_over(
) {
    let (mut h, leg, first_invite) = caller_talking_to_a1001();
    // Support's recent answers took 150 s: the first in line is told 3 minutes.
    h.switch
        .acd
        .record_wait("support", Duration::from_secs(150));
    let (mark, media_mark) = (h.kinds().len(), h.media.len());
    refer(&mut h, leg, "8002");
    assert_eq!(refer_answers(), vec![(leg, ReferAnswer::Accepted)]);
    assert!(h.media[media_mark..].contains(&MediaCommand::Unbridge { call: CallId(1) }));
    assert_eq!(
        kinds_since(&h, mark),
        vec![
            EventKind::TransferRequested {
                agent: "a1001".into(),
                kind: "blind".into(),
                method: "refer".into(),
                target: "queue:support".into(),
            },
            EventKind::QueueEntered {
                queue: "support".into(),
                position: 1,
                expected_wait_s: Some(150),
                priority: 0,
            },
            EventKind::TransferExplained {
                target: "queue:support".into(),
                expected_wait_s: 150,
            },
            started("transfer_to"),
            EventKind::Offered {
                agent: "a1002".into(),
                extension: "1002".into(),
            },
        ]
    );
    assert_eq!(
        hear_prompts(&mut h, 6),
        [
            "transfer_to",
            "dept_support",
            "transfer_colleague",
            "digit_3",
            "minutes",
            "transfer_no_repeat"
        ]
    );
    assert!(
        matches!(h.media.last(), Some(MediaCommand::PlayLoop { call: CallId(1), prompt, .. }) if *prompt == h.prompt("zh", "moh")),
        "music after the explanation: {:?}",
        h.media.last()
    );
    // a1002, the support agent, answers: the whisper says it is a transferred support call.
    let invite = h.invites_to_agents().last().unwrap().clone();
    assert_eq!(phone_extension(&invite), "1002");
    let (mark, media_mark) = (h.kinds().len(), h.media.len());
    let target = answer(&mut h, "1002", &invite);
    assert!(
        kinds_since(&h, mark).contains(&EventKind::ContextHandedOver {
            agent: "a1002".into(),
            items: vec![
                "transferred_by:a1001".into(),
                "from_queue:sales".into(),
                "ivr_path:main:1".into()
            ],
        })
    );
    h.hear_out(target);
    h.hear_out(target);
    assert_eq!(
        plays_on(&h, target, media_mark),
        ["whisper_transferred", "whisper_support"]
    );
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: target
    }));
    assert!(h.kinds().contains(&EventKind::TransferCompleted {
        agent: "a1002".into(),
        kind: "blind".into()
    }));
    assert_eq!(
        refer_answers(),
        vec![
            (leg, ReferAnswer::Accepted),
            (
                leg,
                ReferAnswer::Notified {
                    status: 200,
                    last: true
                }
            )
        ]
    );
    assert_eq!(h.agent_state("a1001"), "wrap-up");
    assert_eq!(h.agent_state("a1002"), "talking");
    // The transferring phone keeps its leg: the switch ends it after the grace.
    h.advance(TRANSFEROR_GRACE - Duration::from_millis(1));
    assert_eq!(requests_in(&h, &first_invite, "BYE"), 0);
    h.advance(Duration::from_millis(1));
    assert_eq!(requests_in(&h, &first_invite, "BYE"), 1);
    assert!(is_connected_to(&h, target));
    assert_eq!(byes_to_caller(&h), 0);
    assert_eq!(h.outcome(), None, "the same call record goes on");
}

use crate::switch::transfer::TRANSFEROR_GRACE;

#[test]
fn blind_transfer_to_an_extension_rings_back_and_recalls_to_the_transferors_leg_as_ring_three_ends()
{
    let (mut h, leg, _) = caller_talking_to_a1001();
    let mark = h.kinds().len();
    refer(&mut h, leg, "1002");
    let invite = h.invites_to_agents().last().unwrap().clone();
    assert_eq!(phone_extension(&invite), "1002");
    let rung_at = h.now;
    assert_eq!(
        kinds_since(&h, mark),
        vec![
            EventKind::TransferRequested {
                agent: "a1001".into(),
                kind: "blind".into(),
                method: "refer".into(),
                target: "1002".into(),
            },
            EventKind::Offered {
                agent: "a1002".into(),
                extension: "1002".into(),
            },
            EventKind::TransferExplained {
                target: "1002".into(),
                expected_wait_s: 11,
            },
            started("transfer"),
        ]
    );
    assert_eq!(
        hear_prompts(&mut h, 3),
        ["transfer", "less_than_a_minute", "transfer_no_repeat"]
    );
    assert!(
        matches!(h.media.last(), Some(MediaCommand::PlayLoop { call: CallId(1), prompt, .. }) if *prompt == h.prompt("zh", "ringback")),
        "ringback after the explanation: {:?}",
        h.media.last()
    );
    h.sip_from_phone("1002", &phone_response(&invite, 180, None));
    h.advance_to(rung_at + Duration::from_millis(10_999));
    assert_eq!(requests_in(&h, &invite, "CANCEL"), 0, "within three rings");
    let (mark, media_mark) = (h.kinds().len(), h.media.len());
    h.advance_to(rung_at + Duration::from_secs(11));
    assert_eq!(
        requests_in(&h, &invite, "CANCEL"),
        1,
        "cancelled as ring 3 ends"
    );
    assert_eq!(
        kinds_since(&h, mark),
        vec![
            EventKind::TransferFailed {
                target: "1002".into(),
                reason: "no_answer".into(),
                status: None,
            },
            EventKind::Recall {
                to: "a1001".into(),
                reason: "no_answer".into(),
            },
            started("transfer_recall"),
        ]
    );
    assert_eq!(
        refer_answers()[1..],
        [(
            leg,
            ReferAnswer::Notified {
                status: 480,
                last: true
            }
        )]
    );
    assert_eq!(plays_on(&h, leg, media_mark), ["whisper_recall"]);
    assert_eq!(h.agent_state("a1002"), "not ready (missed)");
    h.hear_out(CallId(1));
    let bridges = h
        .media
        .iter()
        .filter(|m| {
            **m == MediaCommand::Bridge {
                a: CallId(1),
                b: leg,
            }
        })
        .count();
    assert_eq!(bridges, 2, "back with the transferring agent");
    assert!(is_connected_to(&h, leg));
    assert_eq!(h.agent_state("a1001"), "talking");
    assert_eq!(byes_to_caller(&h), 0);
}

/// A REFER to agent `extension`'s phone while that agent is `state`: the transfer fails at
/// once with `reason` and the NOTIFY's `status`, and the caller is put back through.
fn transfer_to_an_agent_who_cannot_take_it(state: acd::AgentState, reason: &str, status: u16) {
    let (mut h, leg, _) = caller_talking_to_a1001();
    let now = h.now;
    h.switch.acd.set_state("a1002", state, now);
    let invites = h.invites_to_agents().len();
    let mark = h.kinds().len();
    refer(&mut h, leg, "1002");
    assert_eq!(
        h.invites_to_agents().len(),
        invites,
        "a phone that cannot take it is not rung"
    );
    assert_eq!(
        kinds_since(&h, mark)[1..],
        [
            EventKind::TransferFailed {
                target: "1002".into(),
                reason: reason.into(),
                status: None,
            },
            EventKind::Recall {
                to: "a1001".into(),
                reason: reason.into(),
            },
            started("transfer_recall"),
        ]
    );
    assert_eq!(
        refer_answers(),
        vec![
            (leg, ReferAnswer::Accepted),
            (leg, ReferAnswer::Notified { status, last: true })
        ]
    );
    h.hear_out(CallId(1));
    assert!(is_connected_to(&h, leg));
    assert_eq!(byes_to_caller(&h), 0);
}

#[test]
fn a_target_on_a_call_is_busy_486_and_the_caller_is_put_back_through_to_the_agent() {
    transfer_to_an_agent_who_cannot_take_it(
        acd::AgentState::Talking {
            caller: CallId(999),
        },
        "busy",
        486,
    );
}

/// RFC 3261 §21.4.18: 480 for a callee who is not taking calls, as for one who does not
/// answer; 486 is for one on a call.
#[test]
fn a_target_not_ready_or_logged_out_is_unavailable_480_not_busy() {
    transfer_to_an_agent_who_cannot_take_it(
        acd::AgentState::NotReady {
            reason: "break".into(),
        },
        "unavailable",
        480,
    );
    transfer_to_an_agent_who_cannot_take_it(acd::AgentState::LoggedOut, "unavailable", 480);
}

/// A queue with nobody taking calls (its agents logged out or on a break) is refused like
/// an agent who is away: the caller is not parked in a line nobody serves, and is not told a
/// wait nobody is there to keep.
#[test]
fn a_queue_nobody_is_taking_calls_for_is_unavailable_480_and_the_caller_stays_with_the_agent() {
    let (mut h, leg, _) = caller_talking_to_a1001();
    let now = h.now;
    // Accounts: a1002 on a break, a1003 logged out.
    h.switch.acd.set_state(
        "a1002",
        acd::AgentState::NotReady {
            reason: "break".into(),
        },
        now,
    );
    h.switch
        .acd
        .set_state("a1003", acd::AgentState::LoggedOut, now);
    let (invites, mark) = (h.invites_to_agents().len(), h.kinds().len());
    refer(&mut h, leg, "8003");
    assert_eq!(h.invites_to_agents().len(), invites, "nobody is rung");
    assert_eq!(
        kinds_since(&h, mark)[1..],
        [
            EventKind::TransferFailed {
                target: "queue:accounts".into(),
                reason: "unavailable".into(),
                status: None,
            },
            EventKind::Recall {
                to: "a1001".into(),
                reason: "unavailable".into(),
            },
            started("transfer_recall"),
        ]
    );
    assert_eq!(
        refer_answers(),
        vec![
            (leg, ReferAnswer::Accepted),
            (
                leg,
                ReferAnswer::Notified {
                    status: 480,
                    last: true
                }
            )
        ]
    );
    assert!(h.switch.acd.waiting("accounts").is_empty());
    h.hear_out(CallId(1));
    assert!(is_connected_to(&h, leg));
    // With one of them back, the same transfer goes through.
    let now = h.now;
    h.switch.acd.set_state("a1003", acd::AgentState::Ready, now);
    refer(&mut h, leg, "8003");
    assert_eq!(h.invites_to_agents().len(), invites + 1, "a1003 is rung");
}

/// The transferring agent does not count as someone taking the target queue's calls: a1001
/// (sales and support) sending a caller to support while a1002, the other support agent, is
/// on a break would park the caller where only a1001 could answer — after a1001's wrap-up.
#[test]
fn a_queue_only_the_transferring_agent_takes_calls_for_is_unavailable_480() {
    let (mut h, leg, _) = caller_talking_to_a1001();
    let now = h.now;
    h.switch.acd.set_state(
        "a1002",
        acd::AgentState::NotReady {
            reason: "break".into(),
        },
        now,
    );
    let (invites, mark) = (h.invites_to_agents().len(), h.kinds().len());
    refer(&mut h, leg, "8002");
    assert_eq!(h.invites_to_agents().len(), invites, "nobody is rung");
    assert_eq!(
        kinds_since(&h, mark)[1],
        EventKind::TransferFailed {
            target: "queue:support".into(),
            reason: "unavailable".into(),
            status: None,
        }
    );
    assert_eq!(
        refer_answers().last(),
        Some(&(
            leg,
            ReferAnswer::Notified {
                status: 480,
                last: true
            }
        ))
    );
    assert!(h.switch.acd.waiting("support").is_empty());
    h.hear_out(CallId(1));
    assert!(is_connected_to(&h, leg));
    // With a1002 back from the break, the same transfer goes through to a1002.
    let now = h.now;
    h.switch.acd.set_state("a1002", acd::AgentState::Ready, now);
    refer(&mut h, leg, "8002");
    let invite = h.invites_to_agents().last().unwrap().clone();
    assert_eq!(h.invites_to_agents().len(), invites + 1);
    assert_eq!(phone_extension(&invite), "1002");
}

#[test]
fn a_target_phone_that_declines_fails_the_transfer_with_its_status_and_frees_the_agent() {
    let (mut h, leg, _) = caller_talking_to_a1001();
    refer(&mut h, leg, "1002");
    let invite = h.invites_to_agents().last().unwrap().clone();
    let mark = h.kinds().len();
    h.sip_from_phone("1002", &phone_response(&invite, 603, None));
    assert_eq!(
        kinds_since(&h, mark)[..3],
        [
            EventKind::PromptFinished {
                name: "transfer".into(),
                interrupted: true,
            },
            EventKind::TransferFailed {
                target: "1002".into(),
                reason: "declined".into(),
                status: Some(603),
            },
            EventKind::Recall {
                to: "a1001".into(),
                reason: "declined".into(),
            },
        ]
    );
    assert_eq!(
        refer_answers().last(),
        Some(&(
            leg,
            ReferAnswer::Notified {
                status: 603,
                last: true
            }
        ))
    );
    assert_eq!(h.agent_state("a1002"), "ready");
    h.hear_out(CallId(1));
    assert!(is_connected_to(&h, leg));
}

#[test]
fn a_transferor_who_hung_up_after_the_202_is_recalled_by_a_new_invite_and_hears_whisper_recall() {
    let (mut h, leg, first_invite) = caller_talking_to_a1001();
    refer(&mut h, leg, "1002");
    let target_invite = h.invites_to_agents().last().unwrap().clone();
    h.sip_from_phone("1002", &phone_response(&target_invite, 180, None));
    let rung_at = h.now;
    let mark = h.kinds().len();
    // Like many phones: BYE right after the 202.
    phone_bye(&mut h, "1001", &first_invite);
    assert_eq!(
        byes_to_caller(&h),
        0,
        "the transferor's BYE does not end the caller"
    );
    assert_eq!(
        kinds_since(&h, mark),
        vec![EventKind::WrapUp {
            agent: "a1001".into(),
            seconds: 15
        }]
    );
    assert_eq!(h.agent_state("a1001"), "wrap-up");
    h.advance_to(rung_at + Duration::from_secs(11));
    assert_eq!(requests_in(&h, &target_invite, "CANCEL"), 1);
    assert_eq!(
        refer_answers(),
        vec![(leg, ReferAnswer::Accepted)],
        "the REFER's dialog is gone: no NOTIFY"
    );
    let recall = h.invites_to_agents().last().unwrap().clone();
    assert_eq!(
        phone_extension(&recall),
        "1001",
        "the transferring agent's phone"
    );
    h.sip_from_phone("1001", &phone_response(&recall, 180, None));
    assert!(h.kinds().contains(&EventKind::Recall {
        to: "a1001".into(),
        reason: "no_answer".into()
    }));
    assert_eq!(hear_prompts(&mut h, 1), ["transfer_recall"]);
    assert!(
        matches!(h.media.last(), Some(MediaCommand::PlayLoop { call: CallId(1), prompt, .. }) if *prompt == h.prompt("zh", "ringback"))
    );
    let media_mark = h.media.len();
    let back = answer(&mut h, "1001", &recall);
    assert_eq!(plays_on(&h, back, media_mark), ["whisper_recall"]);
    h.hear_out(back);
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: back
    }));
    assert!(is_connected_to(&h, back));
    assert_eq!(h.agent_state("a1001"), "talking");
    assert!(!h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::TransferCompleted { .. })));
}

#[test]
fn an_unanswered_recall_sends_the_caller_to_the_front_of_the_original_queue() {
    let (mut h, leg, first_invite) = caller_talking_to_a1001();
    refer(&mut h, leg, "1002");
    let target = h.invites_to_agents().last().unwrap().clone();
    h.sip_from_phone("1002", &phone_response(&target, 180, None));
    phone_bye(&mut h, "1001", &first_invite);
    h.advance(Duration::from_secs(11));
    let recall = h.invites_to_agents().last().unwrap().clone();
    assert_eq!(phone_extension(&recall), "1001");
    h.sip_from_phone("1001", &phone_response(&recall, 180, None));
    assert_eq!(hear_prompts(&mut h, 1), ["transfer_recall"]);
    let mark = h.kinds().len();
    h.advance(Duration::from_secs(11));
    assert_eq!(requests_in(&h, &recall, "CANCEL"), 1);
    assert_eq!(
        kinds_since(&h, mark)[..1],
        [EventKind::Recall {
            to: "queue:sales".into(),
            reason: "no_answer".into()
        }]
    );
    assert!(h.switch.calls[&CallId(1)].transfer.is_none());
    assert_eq!(byes_to_caller(&h), 0);
}

#[test]
fn a_transferor_logged_out_after_the_202_sends_the_failed_transfer_to_the_queue_front() {
    let (mut h, leg, first_invite) = caller_talking_to_a1001();
    refer(&mut h, leg, "1002");
    let target = h.invites_to_agents().last().unwrap().clone();
    h.sip_from_phone("1002", &phone_response(&target, 180, None));
    phone_bye(&mut h, "1001", &first_invite);
    let now = h.now;
    h.switch
        .acd
        .set_state("a1001", acd::AgentState::LoggedOut, now);
    let invites = h.invites_to_agents().len();
    h.advance(Duration::from_secs(11));
    // The queue may offer the caller to another agent; the logged-out transferor gets nothing.
    let to_transferor = h.invites_to_agents()[invites..]
        .iter()
        .filter(|invite| phone_extension(invite) == "1001")
        .count();
    assert_eq!(to_transferor, 0, "no recall INVITE");
    assert!(h.kinds().contains(&EventKind::Recall {
        to: "queue:sales".into(),
        reason: "no_answer".into()
    }));
    assert_eq!(byes_to_caller(&h), 0);
}

#[test]
fn the_caller_hanging_up_mid_transfer_cancels_the_target_and_ends_the_transferors_leg() {
    let (mut h, leg, first_invite) = caller_talking_to_a1001();
    refer(&mut h, leg, "1002");
    let target = h.invites_to_agents().last().unwrap().clone();
    h.sip_from_phone("1002", &phone_response(&target, 180, None));
    h.advance(Duration::from_secs(2));
    let tag = to_tag(&h.last_response(200));
    let mark = h.kinds().len();
    h.sip(&in_dialog("BYE", 2, &tag, "", ""));
    assert_eq!(requests_in(&h, &target, "CANCEL"), 1);
    assert_eq!(requests_in(&h, &first_invite, "BYE"), 1);
    assert_eq!(
        kinds_since(&h, mark),
        vec![
            EventKind::Hangup {
                by: Party::Caller,
                reason: "caller hung up".into()
            },
            EventKind::OfferEnded {
                agent: "a1002".into(),
                rings: 1,
                outcome: "caller_left".into()
            },
            EventKind::TransferFailed {
                target: "1002".into(),
                reason: "caller_left".into(),
                status: None
            },
            EventKind::WrapUp {
                agent: "a1001".into(),
                seconds: 15
            },
        ]
    );
    assert_eq!(
        refer_answers().last(),
        Some(&(
            leg,
            ReferAnswer::Notified {
                status: 487,
                last: true
            }
        ))
    );
    assert_eq!(h.outcome(), Some("abandoned"));
    assert_eq!(h.agent_state("a1002"), "ready");
    assert_eq!(h.agent_state("a1001"), "wrap-up");
}

#[test]
fn an_unknown_number_is_refused_with_404_and_the_call_goes_on_unchanged() {
    let (mut h, leg, _) = caller_talking_to_a1001();
    let (mark, media_mark, sent) = (h.kinds().len(), h.media.len(), h.sent.len());
    refer(&mut h, leg, "5555");
    assert_eq!(refer_answers(), vec![(leg, ReferAnswer::Refused(404))]);
    assert_eq!(kinds_since(&h, mark), vec![]);
    assert_eq!(h.media.len(), media_mark, "no media command: still bridged");
    assert_eq!(h.sent.len(), sent);
    assert!(is_connected_to(&h, leg));
    // Nor may the agent transfer to their own extension, or a caller's own call transfer.
    refer(&mut h, leg, "1001");
    refer(&mut h, CallId(1), "1002");
    assert_eq!(
        refer_answers()[1..],
        [
            (leg, ReferAnswer::Refused(403)),
            (CallId(1), ReferAnswer::Refused(403))
        ]
    );
    assert!(is_connected_to(&h, leg));
}

#[test]
fn a_refer_before_the_agent_is_bridged_is_refused_with_403() {
    REFER_ANSWERS.with(|answers| answers.borrow_mut().clear());
    let mut h = Harness::queued_caller(transfer_plan, '1');
    let invite = h.invites_to_agents()[0].clone();
    let leg = answer(&mut h, "1001", &invite); // the whisper plays
    refer(&mut h, leg, "1002");
    assert_eq!(refer_answers(), vec![(leg, ReferAnswer::Refused(403))]);
    assert!(!h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::TransferRequested { .. })));
}

#[test]
fn the_transfer_keys_do_the_same_without_refer_and_end_the_agents_leg_at_once_on_success() {
    let (mut h, leg, first_invite) = caller_talking_to_a1001();
    h.switch.blind_transfer_by_keys(h.now, leg, "8002");
    h.collect();
    assert!(h.kinds().contains(&EventKind::TransferRequested {
        agent: "a1001".into(),
        kind: "blind".into(),
        method: "keys".into(),
        target: "queue:support".into(),
    }));
    let invite = h.invites_to_agents().last().unwrap().clone();
    assert_eq!(phone_extension(&invite), "1002");
    let target = answer(&mut h, "1002", &invite);
    h.hear_out(target);
    h.hear_out(target);
    hear_out_the_explanation(&mut h);
    assert!(is_connected_to(&h, target));
    assert_eq!(
        requests_in(&h, &first_invite, "BYE"),
        1,
        "no NOTIFY to wait for"
    );
    assert_eq!(refer_answers(), vec![], "no REFER, no NOTIFY");
    // A number that goes nowhere: the agent hears "invalid", the caller nothing.
    let media_mark = h.media.len();
    h.switch.blind_transfer_by_keys(h.now, target, "5555");
    h.collect();
    assert_eq!(plays_on(&h, target, media_mark), ["invalid"]);
    assert_eq!(plays_on(&h, CallId(1), media_mark), Vec::<String>::new());
    assert!(is_connected_to(&h, target));
}

#[test]
fn the_whisper_of_a_transferred_caller_names_the_hold_reason_and_the_verified_account() {
    let (mut h, leg, _) = caller_talking_to_a1001();
    let now = h.now;
    h.switch.record(
        now,
        CallId(1),
        EventKind::Collected {
            name: "account".into(),
            digits: "12345678".into(),
        },
    );
    h.switch.record(
        now,
        CallId(1),
        EventKind::HoldReason {
            agent: "a1001".into(),
            reason: "colleague".into(),
            expected_s: 180,
            by: "keys".into(),
        },
    );
    refer(&mut h, leg, "1002");
    let invite = h.invites_to_agents().last().unwrap().clone();
    h.sip_from_phone("1002", &phone_response(&invite, 180, None));
    h.advance(Duration::from_secs(6));
    let (mark, media_mark) = (h.kinds().len(), h.media.len());
    let target = answer(&mut h, "1002", &invite);
    for _ in 0..3 {
        h.hear_out(target);
    }
    assert_eq!(
        plays_on(&h, target, media_mark),
        [
            "whisper_transferred",
            "whisper_sales",
            "whisper_hold_colleague",
            "whisper_verified"
        ]
    );
    h.hear_out(target);
    hear_out_the_explanation(&mut h);
    let kinds = kinds_since(&h, mark);
    assert_eq!(
        kinds[..2],
        [
            EventKind::AgentAnswered {
                agent: "a1002".into(),
                rings: 2,
                wait_ms: 6000
            },
            EventKind::ContextHandedOver {
                agent: "a1002".into(),
                items: vec![
                    "transferred_by:a1001".into(),
                    "from_queue:sales".into(),
                    "ivr_path:main:1".into(),
                    "account:12345678".into(),
                    "hold_reason:colleague".into(),
                    "identity_verified".into(),
                ]
            }
        ]
    );
    assert!(kinds.contains(&EventKind::TransferCompleted {
        agent: "a1002".into(),
        kind: "blind".into()
    }));
    assert!(is_connected_to(&h, target));
}

#[test]
fn a_target_whose_whisper_ends_before_the_explanation_hears_ringback_and_then_the_caller() {
    let (mut h, leg, _) = caller_talking_to_a1001();
    refer(&mut h, leg, "1002");
    let invite = h.invites_to_agents().last().unwrap().clone();
    // a1002 answers at once: the caller has heard nothing of the explanation yet.
    let (mark, media_mark) = (h.kinds().len(), h.media.len());
    let target = answer(&mut h, "1002", &invite);
    h.hear_out(target);
    h.hear_out(target);
    assert_eq!(
        plays_on(&h, target, media_mark),
        ["whisper_transferred", "whisper_sales", "ringback"],
        "after its whisper the agent hears ringback, not a caller who cannot hear them"
    );
    let not_yet = |h: &Harness| {
        !h.media[media_mark..].contains(&MediaCommand::Bridge {
            a: CallId(1),
            b: target,
        }) && !kinds_since(h, mark).iter().any(|k| {
            matches!(
                k,
                EventKind::Bridged { .. } | EventKind::TransferCompleted { .. }
            )
        })
    };
    assert!(not_yet(&h), "{:?}", kinds_since(&h, mark));
    let explanation = hear_out_the_explanation(&mut h);
    assert_eq!(
        explanation,
        ["transfer", "less_than_a_minute", "transfer_no_repeat"],
        "the caller hears the whole explanation"
    );
    assert!(h.media[media_mark..].contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: target
    }));
    let kinds = kinds_since(&h, mark);
    let explained = kinds
        .iter()
        .rposition(|k| matches!(k, EventKind::PromptFinished { name, interrupted: false } if name == "transfer_no_repeat"))
        .expect("the explanation ended");
    let bridged = kinds
        .iter()
        .position(|k| matches!(k, EventKind::Bridged { agent, .. } if agent == "a1002"))
        .expect("a1002 was bridged");
    assert!(explained < bridged, "{kinds:?}");
    assert!(kinds.contains(&EventKind::TransferCompleted {
        agent: "a1002".into(),
        kind: "blind".into()
    }));
    assert!(is_connected_to(&h, target));
    // A target answering after the explanation is bridged as its whisper ends.
    let (mut h, leg, _) = caller_talking_to_a1001();
    refer(&mut h, leg, "1002");
    let invite = h.invites_to_agents().last().unwrap().clone();
    hear_out_the_explanation(&mut h);
    let media_mark = h.media.len();
    let target = answer(&mut h, "1002", &invite);
    h.hear_out(target);
    h.hear_out(target);
    assert_eq!(
        plays_on(&h, target, media_mark),
        ["whisper_transferred", "whisper_sales"]
    );
    assert!(h.media[media_mark..].contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: target
    }));
}

#[test]
fn the_agent_waits_out_the_explanations_last_words_but_not_a_caller_who_hears_nothing() {
    let bridged_to = |h: &Harness, target: CallId, mark: usize| {
        h.media[mark..].contains(&MediaCommand::Bridge {
            a: CallId(1),
            b: target,
        })
    };
    // The whisper ends while "you need not repeat" is the explanation's last prompt playing.
    let (mut h, leg, _) = caller_talking_to_a1001();
    refer(&mut h, leg, "1002");
    let invite = h.invites_to_agents().last().unwrap().clone();
    assert_eq!(hear_prompts(&mut h, 2), ["transfer", "less_than_a_minute"]);
    let media_mark = h.media.len();
    let target = answer(&mut h, "1002", &invite);
    h.hear_out(target);
    h.hear_out(target);
    assert_eq!(
        plays_on(&h, target, media_mark),
        ["whisper_transferred", "whisper_sales", "ringback"]
    );
    assert!(!bridged_to(&h, target, media_mark));
    assert_eq!(hear_out_the_explanation(&mut h), ["transfer_no_repeat"]);
    assert!(bridged_to(&h, target, media_mark));
    // The explanation ends during the whisper; the caller hears nothing after it, and the
    // agent is connected as the whisper ends, with no ringback.
    let (mut h, leg, _) = caller_talking_to_a1001();
    refer(&mut h, leg, "1002");
    let invite = h.invites_to_agents().last().unwrap().clone();
    let media_mark = h.media.len();
    let target = answer(&mut h, "1002", &invite);
    assert_eq!(hear_out_the_explanation(&mut h).len(), 3);
    assert!(
        !bridged_to(&h, target, media_mark),
        "the whisper still plays"
    );
    h.hear_out(target);
    h.hear_out(target);
    assert_eq!(
        plays_on(&h, target, media_mark),
        ["whisper_transferred", "whisper_sales"]
    );
    assert!(bridged_to(&h, target, media_mark));
}

#[test]
fn a_queue_offer_that_rings_out_fails_the_transfer_and_takes_the_caller_out_of_that_queue() {
    let (mut h, leg, _) = caller_talking_to_a1001();
    refer(&mut h, leg, "8002");
    let invite = h.invites_to_agents().last().unwrap().clone();
    assert_eq!(phone_extension(&invite), "1002");
    h.sip_from_phone("1002", &phone_response(&invite, 180, None));
    let mark = h.kinds().len();
    h.advance(Duration::from_secs(11));
    assert_eq!(requests_in(&h, &invite, "CANCEL"), 1);
    assert_eq!(
        kinds_since(&h, mark)[..4],
        [
            EventKind::OfferEnded {
                agent: "a1002".into(),
                rings: 3,
                outcome: "no_answer".into(),
            },
            EventKind::PromptFinished {
                name: "transfer_to".into(),
                interrupted: true,
            },
            EventKind::TransferFailed {
                target: "queue:support".into(),
                reason: "no_answer".into(),
                status: None,
            },
            EventKind::Recall {
                to: "a1001".into(),
                reason: "no_answer".into(),
            },
        ]
    );
    assert_eq!(h.switch.acd.position("support", CallId(1)), None);
    assert_eq!(
        refer_answers().last(),
        Some(&(
            leg,
            ReferAnswer::Notified {
                status: 480,
                last: true
            }
        ))
    );
    h.hear_out(CallId(1));
    assert!(is_connected_to(&h, leg));
}

#[test]
fn an_outside_number_rings_thirty_seconds_through_the_trunk_and_is_bridged_without_a_whisper() {
    let (mut h, leg, _) = caller_talking_to_a1001();
    let mark = h.kinds().len();
    refer(&mut h, leg, "913800138000");
    let invite = h.invites_to_agents().last().unwrap().clone();
    assert!(
        invite.starts_with(&format!("INVITE sip:13800138000@{TRUNK} ")),
        "{invite}"
    );
    assert!(
        kinds_since(&h, mark).contains(&EventKind::TransferExplained {
            target: "913800138000".into(),
            expected_wait_s: 30,
        })
    );
    assert_eq!(
        hear_prompts(&mut h, 2),
        ["transfer", "less_than_a_minute"],
        "the outside party does not have the context: no promise"
    );
    let media_mark = h.media.len();
    let outside = answer(&mut h, "5080", &invite);
    assert_eq!(plays_on(&h, outside, media_mark), Vec::<String>::new());
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: CallId(1),
        b: outside
    }));
    assert!(h.kinds().contains(&EventKind::TransferCompleted {
        agent: "outside:13800138000".into(),
        kind: "blind".into()
    }));
}

#[test]
fn an_outside_number_that_never_answers_is_cancelled_at_thirty_seconds() {
    let (mut h, leg, _) = caller_talking_to_a1001();
    refer(&mut h, leg, "913800138000");
    let invite = h.invites_to_agents().last().unwrap().clone();
    h.sip(&phone_response(&invite, 180, None));
    h.advance(OUTSIDE_RING - Duration::from_millis(1));
    assert_eq!(requests_in(&h, &invite, "CANCEL"), 0);
    h.advance(Duration::from_millis(1));
    assert_eq!(requests_in(&h, &invite, "CANCEL"), 1);
    assert!(h.kinds().contains(&EventKind::TransferFailed {
        target: "913800138000".into(),
        reason: "no_answer".into(),
        status: None,
    }));
    h.hear_out(CallId(1));
    assert!(is_connected_to(&h, leg));
}

use crate::switch::transfer::OUTSIDE_RING;

#[test]
fn the_transferors_bye_after_the_final_notify_ends_only_its_own_leg() {
    let (mut h, leg, first_invite) = caller_talking_to_a1001();
    refer(&mut h, leg, "1002");
    let invite = h.invites_to_agents().last().unwrap().clone();
    let target = answer(&mut h, "1002", &invite);
    for _ in 0..2 {
        h.hear_out(target);
    }
    assert!(is_connected_to(&h, target));
    // The phone hangs up on the NOTIFY, as most do: its BYE is answered, nothing else.
    phone_bye(&mut h, "1001", &first_invite);
    assert_eq!(
        h.sent.last().map(|m| m.starts_with("SIP/2.0 200")),
        Some(true),
        "{:?}",
        h.sent.last()
    );
    h.advance(TRANSFEROR_GRACE * 2);
    assert_eq!(
        requests_in(&h, &first_invite, "BYE"),
        0,
        "nothing left to end"
    );
    assert_eq!(byes_to_caller(&h), 0);
    assert!(is_connected_to(&h, target));
    assert!(!h
        .kinds()
        .iter()
        .any(|k| matches!(k, EventKind::Hangup { .. })));
    assert_eq!(h.outcome(), None);
}

#[test]
fn a_target_that_hangs_up_during_its_whisper_fails_the_transfer_and_the_caller_goes_back() {
    let (mut h, leg, _) = caller_talking_to_a1001();
    refer(&mut h, leg, "1002");
    let invite = h.invites_to_agents().last().unwrap().clone();
    answer(&mut h, "1002", &invite);
    let mark = h.kinds().len();
    phone_bye(&mut h, "1002", &invite);
    assert_eq!(byes_to_caller(&h), 0);
    let kinds = kinds_since(&h, mark);
    assert!(
        kinds.contains(&EventKind::TransferFailed {
            target: "1002".into(),
            reason: "failed".into(),
            status: None,
        }),
        "{kinds:?}"
    );
    assert!(kinds.contains(&EventKind::Recall {
        to: "a1001".into(),
        reason: "failed".into(),
    }));
    assert_eq!(h.agent_state("a1002"), "ready");
    h.hear_out(CallId(1));
    assert!(is_connected_to(&h, leg));
}

#[test]
fn outside_numbers_that_are_not_plain_digits_within_24_are_refused_with_404() {
    let (mut h, leg, _) = caller_talking_to_a1001();
    let too_long = format!("9{}", "1".repeat(25));
    for number in ["9", "9+", "91380a", "9138;00", too_long.as_str()] {
        refer(&mut h, leg, number);
    }
    assert_eq!(
        refer_answers(),
        vec![(leg, ReferAnswer::Refused(404)); 5],
        "nothing goes out to a number the trunk cannot dial"
    );
    assert!(is_connected_to(&h, leg));
    refer(&mut h, leg, &format!("9+{}", "1".repeat(24)));
    assert_eq!(refer_answers().last(), Some(&(leg, ReferAnswer::Accepted)));
    assert!(h
        .invites_to_agents()
        .last()
        .unwrap()
        .starts_with(&format!("INVITE sip:+{}@{TRUNK} ", "1".repeat(24))));
}

#[test]
fn a_second_refer_during_a_transfer_is_refused_with_403() {
    let (mut h, leg, _) = caller_talking_to_a1001();
    refer(&mut h, leg, "1002");
    refer(&mut h, leg, "8002");
    assert_eq!(
        refer_answers(),
        vec![
            (leg, ReferAnswer::Accepted),
            (leg, ReferAnswer::Refused(403))
        ]
    );
}

/// a1002 is on a break when the agent on `leg` transfers the caller to 1002: the transfer
/// fails at once and the caller hears the recall apology.
fn refer_to_a1002_on_a_break(h: &mut Harness, leg: CallId) {
    let now = h.now;
    h.switch.acd.set_state(
        "a1002",
        acd::AgentState::NotReady {
            reason: "break".into(),
        },
        now,
    );
    refer(h, leg, "1002");
}

/// Many phones (baresip among them) hang up when the failed transfer's final NOTIFY comes:
/// their agent is free, so the caller, who has just heard why, is put back through by
/// ringing that phone again — not sent to wait in the queue while it sits in wrap-up.
#[test]
fn a_transferor_hanging_up_during_the_recall_apology_is_rung_again_at_once() {
    let (mut h, leg, first_invite) = caller_talking_to_a1001();
    refer_to_a1002_on_a_break(&mut h, leg);
    assert_eq!(h.prompts.label(h.playing()).unwrap().1, "transfer_recall");
    let invites = h.invites_to_agents().len();
    let mark = h.kinds().len();
    phone_bye(&mut h, "1001", &first_invite);
    let kinds = kinds_since(&h, mark);
    assert_eq!(
        kinds,
        [
            EventKind::WrapUp {
                agent: "a1001".into(),
                seconds: 15
            },
            EventKind::Offered {
                agent: "a1001".into(),
                extension: "1001".into()
            },
            EventKind::Recall {
                to: "a1001".into(),
                reason: "transferor_left".into()
            },
        ],
        "{kinds:?}"
    );
    let recall = h.invites_to_agents()[invites..].to_vec();
    assert_eq!(recall.len(), 1, "one new INVITE");
    assert_eq!(phone_extension(&recall[0]), "1001");
    // The apology is heard to its end, then ringback while the phone rings.
    assert_eq!(h.prompts.label(h.playing()).unwrap().1, "transfer_recall");
    h.hear_out(CallId(1));
    assert!(
        matches!(h.media.last(), Some(MediaCommand::PlayLoop { call: CallId(1), prompt, .. }) if *prompt == h.prompt("zh", "ringback"))
    );
    let back = answer(&mut h, "1001", &recall[0]);
    h.hear_out(back);
    assert!(is_connected_to(&h, back));
    assert_eq!(h.agent_state("a1001"), "talking");
    assert_eq!(byes_to_caller(&h), 0);
}

/// When that agent cannot be rung (they logged out), the caller goes to the front of the
/// queue they came from.
#[test]
fn a_transferor_gone_during_the_recall_apology_sends_the_caller_to_the_queue_front() {
    let (mut h, leg, first_invite) = caller_talking_to_a1001();
    refer_to_a1002_on_a_break(&mut h, leg);
    let now = h.now;
    h.switch.acd.set_registered("1001", false, now);
    let invites = h.invites_to_agents().len();
    let mark = h.kinds().len();
    phone_bye(&mut h, "1001", &first_invite);
    let kinds = kinds_since(&h, mark);
    assert!(
        kinds.contains(&EventKind::Recall {
            to: "queue:sales".into(),
            reason: "transferor_left".into()
        }),
        "{kinds:?}"
    );
    assert!(
        h.invites_to_agents()[invites..]
            .iter()
            .all(|invite| phone_extension(invite) != "1001"),
        "the phone that left is not rung"
    );
    assert_eq!(byes_to_caller(&h), 0);
    assert!(h.switch.calls[&CallId(1)].transfer.is_none());
}

#[test]
fn an_agent_hanging_up_in_the_whisper_of_a_plain_queue_call_is_no_transfer() {
    REFER_ANSWERS.with(|answers| answers.borrow_mut().clear());
    let mut h = Harness::queued_caller(transfer_plan, '1');
    let invite = h.invites_to_agents()[0].clone();
    answer(&mut h, "1001", &invite); // the whisper plays
    phone_bye(&mut h, "1001", &invite);
    assert!(!matches!(
        h.switch.calls.get(&CallId(1)).map(|c| &c.phase),
        Some(Phase::Transferring { .. })
    ));
    assert!(!h.kinds().iter().any(|k| matches!(
        k,
        EventKind::TransferFailed { .. } | EventKind::Recall { .. }
    )));
}
