//! Attended transfer: a desk phone's consultation call while its caller is held (ringback,
//! the colleague within three rings, one media conversation), completion by REFER with
//! Replaces on either dialog, by INVITE with Replaces, by the `*2` keys, and the
//! consultations that end without a transfer.
//!
//! Until the SIP piece parses REFER and Replaces, the endpoint emits neither: these tests
//! hand the switch what the endpoint will (`on_refer_event`, an `Incoming` with its
//! `replaces`), and the dialog lookup the endpoint does (`find_dialog`) is given as its
//! result where the switch cannot know the dialog itself.

use super::*;
use crate::media::prompt::PromptLibrary;
use crate::sip::{DialogRef, ReferTarget};
use crate::switch::consultation::ConsultTarget;
use crate::switch::queueing::LegPurpose;

/// The shipped prompts, plus a `ringback` while the media piece has not shipped one yet.
fn prompts_with_ringback() -> Arc<PromptLibrary> {
    static PROMPTS: std::sync::OnceLock<Arc<PromptLibrary>> = std::sync::OnceLock::new();
    Arc::clone(PROMPTS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        let mut library = PromptLibrary::load(&dir).expect("shipped prompts load");
        for language in ["en", "zh"] {
            if library.find(language, "ringback").is_none() {
                let tone: Vec<i16> = (0..8000)
                    .map(|n| {
                        ((n as f32 * 450.0 * std::f32::consts::TAU / 8000.0).sin() * 8000.0) as i16
                    })
                    .collect();
                library.add_pcm(language, "ringback", Path::new("ringback.wav"), &tone);
            }
        }
        Arc::new(library)
    }))
}

/// A phone's request in a dialog it holds with the switch.
struct PhoneDialog {
    extension: String,
    call_id: String,
    /// The phone's From and To header values (with tags), as the phone sends them.
    from: String,
    to: String,
    target: String,
    cseq: u32,
}

impl PhoneDialog {
    /// The phone's side of a dialog the switch opened with `invite` (an agent leg).
    fn of_switch_invite(extension: &str, invite: &str) -> PhoneDialog {
        let to = header_value(invite, "To").unwrap();
        let to = if to.contains("tag=") {
            to
        } else {
            format!("{to};tag=phone")
        };
        let contact = header_value(invite, "Contact").unwrap();
        PhoneDialog {
            extension: extension.to_string(),
            call_id: header_value(invite, "Call-ID").unwrap(),
            from: to,
            to: header_value(invite, "From").unwrap(),
            target: contact
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string(),
            cseq: 1,
        }
    }

    fn request(&mut self, method: &str, extra: &str, body: &str) -> String {
        self.cseq += 1;
        self.with_cseq(method, extra, body)
    }

    /// The ACK of the INVITE that opened the dialog (its CSeq).
    fn ack(&self) -> String {
        self.with_cseq("ACK", "", "")
    }

    fn with_cseq(&self, method: &str, extra: &str, body: &str) -> String {
        format!(
            "{method} {} SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:6{};branch=z9hG4bK-{}-{method}-{};rport\r\n\
Max-Forwards: 70\r\n\
From: {}\r\n\
To: {}\r\n\
Call-ID: {}\r\n\
CSeq: {} {method}\r\n\
{extra}Content-Length: {}\r\n\r\n{body}",
            self.target,
            self.extension,
            self.call_id
                .replace(|c: char| !c.is_ascii_alphanumeric(), ""),
            self.cseq,
            self.from,
            self.to,
            self.call_id,
            self.cseq,
            body.len()
        )
    }
}

/// Desk phone `extension` INVITEs `number` at the switch with `extra` headers, answering the
/// digest challenge as a phone does. Returns the INVITE with credentials (what the
/// endpoint's event comes from) — the caller of this sends it.
fn authenticated_invite(
    h: &mut Harness,
    extension: &str,
    number: &str,
    call_id: &str,
    extra: &str,
) -> String {
    let uri = format!("sip:{number}@127.0.0.1:5060");
    let phone = format!("127.0.0.1:6{extension}");
    let request = |cseq: u32, method: &str, to_tag: &str, extra: &str, body: &str| {
        let to_tag = if to_tag.is_empty() {
            String::new()
        } else {
            format!(";tag={to_tag}")
        };
        format!(
            "{method} {uri} SIP/2.0\r\n\
Via: SIP/2.0/UDP {phone};branch=z9hG4bK-{call_id}-{method}-{cseq};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:{extension}@127.0.0.1>;tag=phone{extension}\r\n\
To: <{uri}>{to_tag}\r\n\
Call-ID: {call_id}\r\n\
CSeq: {cseq} {method}\r\n\
Contact: <sip:{extension}@{phone}>\r\n\
{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let sdp = "Content-Type: application/sdp\r\n";
    h.sip_from_phone(
        extension,
        &request(1, "INVITE", "", &format!("{extra}{sdp}"), PHONE_SDP_PCMU),
    );
    let challenge = h.response_to(call_id, 407);
    h.sip_from_phone(extension, &request(1, "ACK", &to_tag(&challenge), "", ""));
    let nonce = quoted_param(
        &header_value(&challenge, "Proxy-Authenticate").unwrap(),
        "nonce",
    );
    let ha1 = md5_hex(&format!("{extension}:hotline:sample-{extension}"));
    let ha2 = md5_hex(&format!("INVITE:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}"));
    let authorization = format!(
        "Proxy-Authorization: Digest username=\"{extension}\", realm=\"hotline\", \
         nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, \
         qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n{extra}{sdp}"
    );
    request(2, "INVITE", "", &authorization, PHONE_SDP_PCMU)
}

/// The phone's dialog of a call it placed, once the switch's 200 came (CSeq 2 was the
/// INVITE).
fn placed_dialog(h: &Harness, extension: &str, number: &str, call_id: &str) -> PhoneDialog {
    let ok = h.response_to(call_id, 200);
    PhoneDialog {
        extension: extension.to_string(),
        call_id: call_id.to_string(),
        from: format!("<sip:{extension}@127.0.0.1>;tag=phone{extension}"),
        to: format!("<sip:{number}@127.0.0.1:5060>;tag={}", to_tag(&ok)),
        target: format!("sip:{number}@127.0.0.1:5060"),
        cseq: 2,
    }
}

/// Caller X talking with agent a1001 (extension 1001) on leg LA, and the colleague a1002
/// (extension 1002) free.
struct Scene {
    h: Harness,
    caller: CallId,
    agent_leg: CallId,
    /// Phone 1001's side of LA.
    la: PhoneDialog,
}

impl Scene {
    fn new() -> Scene {
        Scene::with(|_| {})
    }

    fn with(edit: impl FnOnce(&mut Config)) -> Scene {
        let mut h = Harness::new(edit);
        let prompts = prompts_with_ringback();
        h.switch.prompts = Arc::clone(&prompts);
        h.prompts = prompts;
        let caller = h.queue_nth_caller_for_sales(1, "13900000001");
        let invite = h.invites_to_agents()[0].clone();
        assert_eq!(phone_extension(&invite), "1001");
        let mark = h.media.len();
        h.sip_from_phone("1001", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
        let agent_leg = started_since(&h, mark);
        h.hear_out(agent_leg); // the whisper
        assert!(h.media.contains(&MediaCommand::Bridge {
            a: caller,
            b: agent_leg
        }));
        assert_eq!(h.agent_state("a1001"), "talking");
        Scene {
            la: PhoneDialog::of_switch_invite("1001", &invite),
            h,
            caller,
            agent_leg,
        }
    }

    /// Phone 1001 holds X and calls `number`; the switch answers at once and the phone
    /// ACKs. Returns the consultation call and the phone's side of its dialog.
    fn consult(&mut self, number: &str) -> (CallId, PhoneDialog) {
        let h = &mut self.h;
        let call_id = format!("consult-{number}");
        let invite = authenticated_invite(h, "1001", number, &call_id, "");
        h.sip_from_phone("1001", &invite);
        assert_eq!(
            h.responses_to(&call_id),
            vec![407, 100, 200],
            "a consultation call is answered at once, without ringing"
        );
        let dialog = placed_dialog(h, "1001", number, &call_id);
        let consult = self.h.switch.consultations[&self.caller]
            .call
            .expect("a consultation from the phone");
        let ack = dialog.ack();
        self.h.sip_from_phone("1001", &ack);
        (consult, dialog)
    }

    /// The INVITE the switch sent to `extension`'s phone last.
    fn invite_to(&self, extension: &str) -> String {
        self.h
            .invites_to_agents()
            .into_iter()
            .rev()
            .find(|i| phone_extension(i) == extension)
            .unwrap_or_else(|| panic!("no INVITE to {extension}"))
    }

    /// Phone 1002 says it rings (180): a CANCEL may follow.
    fn colleague_rings(&mut self) {
        let invite = self.invite_to("1002");
        self.h
            .sip_from_phone("1002", &phone_response(&invite, 180, None));
    }

    /// Phone 1002 answers the switch's INVITE; returns the leg (from its media start).
    fn colleague_answers(&mut self) -> CallId {
        let invite = self.invite_to("1002");
        let mark = self.h.media.len();
        self.h
            .sip_from_phone("1002", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
        started_since(&self.h, mark)
    }

    fn phase(&self, call: CallId) -> Phase {
        self.h.switch.calls[&call].phase.clone()
    }

    /// Requests the switch sent in the dialog with this Call-ID, by method.
    fn requests_in(&self, call_id: &str) -> Vec<String> {
        self.h
            .sent
            .iter()
            .filter(|m| !m.starts_with("SIP/2.0"))
            .filter(|m| header_value(m, "Call-ID").as_deref() == Some(call_id))
            .map(|m| m.split(' ').next().unwrap().to_string())
            .collect()
    }

    fn events_of_caller(&self) -> Vec<EventKind> {
        let record = self.h.switch.calls[&self.caller].record_id.clone();
        self.h
            .records
            .iter()
            .filter_map(|r| match r {
                RecordCommand::Event { call_id, event } if *call_id == record => {
                    Some(event.kind.clone())
                }
                _ => None,
            })
            .collect()
    }
}

/// The call whose media started first after `mark`.
fn started_since(h: &Harness, mark: usize) -> CallId {
    h.media[mark..]
        .iter()
        .find_map(|m| match m {
            MediaCommand::Start { call, .. } => Some(*call),
            _ => None,
        })
        .expect("media starts")
}

fn conversation_opened(h: &Harness, call: CallId) -> CallId {
    h.media
        .iter()
        .find_map(|m| match m {
            MediaCommand::Open {
                call: c,
                conversation,
                ..
            } if *c == call => Some(*conversation),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Open for {call}"))
}

fn replaces(call_id: &str) -> ReferTarget {
    ReferTarget {
        uri: "sip:1002@127.0.0.1".into(),
        user: "1002".into(),
        host: "127.0.0.1".into(),
        replaces: Some(DialogRef {
            call_id: call_id.to_string(),
            to_tag: None,
            from_tag: None,
            early_only: false,
        }),
    }
}

#[test]
fn consultation_call_to_an_extension_hears_ringback_rings_the_colleague_and_is_bridged_in_the_callers_conversation(
) {
    let mut s = Scene::new();
    let (consult, _) = s.consult("1002");
    let h = &s.h;
    assert_eq!(
        conversation_opened(h, consult),
        s.caller,
        "the consultation call's media is in the caller's conversation"
    );
    let ringback = h.prompt(&h.switch.calls[&s.caller].language, "ringback");
    assert!(h.media.contains(&MediaCommand::PlayLoop {
        call: consult,
        prompt: ringback,
        play: h.last_play_on(consult),
    }));
    let invite = s.invite_to("1002");
    assert_eq!(
        offered_caller(&invite),
        "1001",
        "the colleague's phone shows the consulting agent's extension"
    );
    assert_eq!(h.agent_state("a1002"), "ringing");
    assert_eq!(
        s.phase(s.caller),
        Phase::Connected {
            leg: s.agent_leg,
            agent: "a1001".into(),
            queue: "sales".into()
        },
        "the caller stays with its agent while the colleague rings"
    );
    let leg = s.colleague_answers();
    let h = &s.h;
    assert_eq!(conversation_opened(h, leg), s.caller);
    let start_conversation = h.media.iter().find_map(|m| match m {
        MediaCommand::Start { call, options, .. } if *call == leg => Some(options.conversation),
        _ => None,
    });
    assert_eq!(start_conversation, Some(s.caller));
    let tail: Vec<&MediaCommand> = h.media.iter().rev().take(2).collect();
    assert_eq!(
        tail,
        vec![
            &MediaCommand::Bridge { a: consult, b: leg },
            &MediaCommand::Stop { call: consult }
        ],
        "the ringback stops and the consultation call is bridged with the colleague"
    );
    assert_eq!(h.agent_state("a1002"), "talking");
    assert_eq!(h.agent_state("a1001"), "talking");
    assert_eq!(
        s.phase(consult),
        Phase::Connected {
            leg,
            agent: "a1002".into(),
            queue: "sales".into()
        }
    );
}

#[test]
fn colleague_who_does_not_answer_in_three_rings_is_cancelled_and_the_agent_hears_busy_then_the_consultation_call_ends(
) {
    let mut s = Scene::new();
    let (consult, dialog) = s.consult("1002");
    s.colleague_rings();
    let invite = s.invite_to("1002");
    let colleague_call_id = header_value(&invite, "Call-ID").unwrap();
    let deadline = s.h.switch.dialplan.standards.answer_deadline();
    s.h.advance(deadline - Duration::from_millis(1));
    assert!(!s
        .requests_in(&colleague_call_id)
        .contains(&"CANCEL".to_string()));
    s.h.advance(Duration::from_millis(1));
    assert_eq!(s.requests_in(&colleague_call_id), vec!["INVITE", "CANCEL"]);
    assert_eq!(
        s.h.playing_on(consult),
        s.h.prompt(&s.h.switch.calls[&s.caller].language, "busy")
    );
    assert_eq!(
        s.h.agent_state("a1002"),
        "ready",
        "the colleague is not marked as missing"
    );
    assert!(s.events_of_caller().contains(&EventKind::TransferFailed {
        target: "1002".into(),
        reason: "no_answer".into(),
        status: None
    }));
    s.h.hear_out(consult);
    assert_eq!(
        s.requests_in(&dialog.call_id),
        vec!["BYE"],
        "after busy the switch hangs up the consultation call"
    );
    assert_eq!(
        s.phase(s.caller),
        Phase::Connected {
            leg: s.agent_leg,
            agent: "a1001".into(),
            queue: "sales".into()
        },
        "the caller stays with the agent"
    );
    assert!(s.h.switch.consultations.is_empty());
}

#[test]
fn colleague_phone_refusals_are_recorded_by_their_reason() {
    for (status, reason) in [(603, "declined"), (480, "no_answer"), (500, "failed")] {
        let mut s = Scene::new();
        s.consult("1002");
        let invite = s.invite_to("1002");
        s.h.sip_from_phone("1002", &phone_response(&invite, status, None));
        assert!(
            s.events_of_caller().contains(&EventKind::TransferFailed {
                target: "1002".into(),
                reason: reason.into(),
                status: Some(status)
            }),
            "{status}: {:?}",
            s.events_of_caller()
        );
    }
}

#[test]
fn colleague_phone_busy_ends_the_consultation_with_busy_and_keeps_the_caller() {
    let mut s = Scene::new();
    let (consult, _) = s.consult("1002");
    let invite = s.invite_to("1002");
    s.h.sip_from_phone("1002", &phone_response(&invite, 486, None));
    assert_eq!(
        s.h.playing_on(consult),
        s.h.prompt(&s.h.switch.calls[&s.caller].language, "busy")
    );
    assert!(s.events_of_caller().contains(&EventKind::TransferFailed {
        target: "1002".into(),
        reason: "busy".into(),
        status: Some(486)
    }));
    assert_eq!(s.h.agent_state("a1001"), "talking");
    assert!(matches!(s.phase(s.caller), Phase::Connected { leg, .. } if leg == s.agent_leg));
}

/// The checks every completed attended transfer shares: LB is the caller's agent leg,
/// bridged with it, the replaced dialogs get a BYE, the agents' states and the record.
fn assert_joined(s: &Scene, colleague_leg: CallId, consult_sip_id: Option<&str>, method: &str) {
    let h = &s.h;
    assert_eq!(
        s.phase(s.caller),
        Phase::Connected {
            leg: colleague_leg,
            agent: "a1002".into(),
            queue: "sales".into()
        }
    );
    assert_eq!(h.switch.legs[&colleague_leg].caller, s.caller);
    assert!(h.media.contains(&MediaCommand::Bridge {
        a: s.caller,
        b: colleague_leg
    }));
    // The agent's leg to the caller is ended by the switch: at once, or — when the REFER
    // came on it — after the grace that lets its final NOTIFY reach the phone first.
    let la_last = s.requests_in(&s.la.call_id).last().cloned();
    let graced = h.switch.legs.get(&s.agent_leg).and_then(|l| l.timer)
        == Some(h.now + crate::switch::transfer::TRANSFEROR_GRACE);
    assert!(
        la_last.as_deref() == Some("BYE") || graced,
        "the agent's leg to the caller is ended by the switch (last request {la_last:?})"
    );
    if let Some(consult) = consult_sip_id {
        assert_eq!(
            s.requests_in(consult),
            vec!["BYE"],
            "the consultation call is ended"
        );
    }
    assert_eq!(h.agent_state("a1001"), "wrap-up");
    assert_eq!(h.agent_state("a1002"), "talking");
    let events = s.events_of_caller();
    let requested = events
        .iter()
        .position(|e| {
            *e == EventKind::TransferRequested {
                agent: "a1001".into(),
                kind: "attended".into(),
                method: method.into(),
                target: "1002".into(),
            }
        })
        .expect("TransferRequested on the caller's record");
    let completed = events
        .iter()
        .position(|e| {
            *e == EventKind::TransferCompleted {
                agent: "a1002".into(),
                kind: "attended".into(),
            }
        })
        .expect("TransferCompleted");
    assert!(requested < completed);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, EventKind::TransferFailed { .. })),
        "a completed transfer records no failure: {events:?}"
    );
    // A caller the switch held for the consultation (keys) has a hold reason to hand over.
    let held = events
        .iter()
        .any(|e| matches!(e, EventKind::HoldReason { .. }));
    let mut items: Vec<String> = vec!["ivr_path".into()];
    if held {
        items.push("hold_reasons".into());
    }
    items.extend(["transfers".into(), "transferred_by".into(), "agents".into()]);
    assert_eq!(
        events[completed + 1],
        EventKind::ContextHandedOver {
            agent: "a1002".into(),
            items,
        }
    );
    assert!(h.switch.consultations.is_empty());
}

#[test]
fn refer_with_replaces_on_the_agents_leg_joins_the_caller_and_the_colleague() {
    let mut s = Scene::new();
    let (_, dialog) = s.consult("1002");
    let leg = s.colleague_answers();
    let now = s.h.now;
    // Yealink, Polycom, baresip: REFER on the held call, Refer-To naming the consultation.
    s.h.switch
        .on_refer_event(now, s.agent_leg, replaces(&dialog.call_id), None);
    s.h.collect();
    assert_joined(&s, leg, Some(&dialog.call_id), "refer");
    // The phone's own BYE on the old leg, crossing ours, does not hang the caller up.
    let bye = s.la.request("BYE", "", "");
    s.h.sip_from_phone("1001", &bye);
    assert!(matches!(s.phase(s.caller), Phase::Connected { leg: l, .. } if l == leg));
    // The colleague's leg is the caller's now: their hang-up ends the call and wraps them up.
    let mut lb = PhoneDialog::of_switch_invite("1002", &s.invite_to("1002"));
    let bye = lb.request("BYE", "", "");
    s.h.sip_from_phone("1002", &bye);
    assert_eq!(s.h.agent_state("a1002"), "wrap-up");
    let caller_call_id = call_id_of(1);
    assert_eq!(s.requests_in(&caller_call_id), vec!["BYE"]);
}

#[test]
fn refer_with_replaces_on_the_consultation_call_naming_the_agents_leg_joins_them_too() {
    let mut s = Scene::new();
    let (consult, dialog) = s.consult("1002");
    let leg = s.colleague_answers();
    let now = s.h.now;
    // What `Endpoint::find_dialog` answers for the Replaces naming LA.
    s.h.switch
        .complete_attended_refer(now, consult, Some(s.agent_leg));
    s.h.collect();
    assert_joined(&s, leg, Some(&dialog.call_id), "refer");
}

#[test]
fn refer_with_replaces_naming_no_dialog_is_refused_and_the_caller_stays_with_the_agent() {
    let mut s = Scene::new();
    let (_, dialog) = s.consult("1002");
    s.colleague_answers();
    let now = s.h.now;
    s.h.switch
        .on_refer_event(now, s.agent_leg, replaces("nobody-knows-this"), None);
    s.h.collect();
    assert!(s.events_of_caller().contains(&EventKind::TransferFailed {
        target: "replaces".into(),
        reason: "replaces names no dialog".into(),
        status: Some(481)
    }));
    assert!(matches!(s.phase(s.caller), Phase::Connected { leg, .. } if leg == s.agent_leg));
    assert_eq!(
        s.requests_in(&s.la.call_id),
        vec!["INVITE", "ACK"],
        "no BYE"
    );
    assert!(s.requests_in(&dialog.call_id).is_empty());
    assert_eq!(
        s.h.switch.consultations.len(),
        1,
        "the consultation goes on"
    );
}

#[test]
fn refer_naming_a_dialog_outside_its_consultation_is_refused_with_403() {
    let mut s = Scene::new();
    let (consult, _) = s.consult("1002");
    let leg = s.colleague_answers();
    let now = s.h.now;
    // The consultation call naming the colleague's leg (not the agent's leg to the caller).
    s.h.switch.complete_attended_refer(now, consult, Some(leg));
    s.h.collect();
    assert!(s.events_of_caller().contains(&EventKind::TransferFailed {
        target: "replaces".into(),
        reason: "replaces names another dialog".into(),
        status: Some(403)
    }));
    assert!(matches!(s.phase(s.caller), Phase::Connected { leg, .. } if leg == s.agent_leg));
}

#[test]
fn refer_while_the_colleague_still_rings_hands_the_caller_over_when_they_answer() {
    let mut s = Scene::new();
    let (consult, dialog) = s.consult("1002");
    s.colleague_rings();
    let now = s.h.now;
    // Semi-attended: the consultation call hears ringback, so the phone transfers now.
    s.h.switch
        .on_refer_event(now, s.agent_leg, replaces(&dialog.call_id), None);
    s.h.collect();
    // The final NOTIFY goes first; the leg ends when the phone's grace is over.
    assert_ne!(
        s.requests_in(&s.la.call_id).last().map(String::as_str),
        Some("BYE")
    );
    assert_eq!(s.requests_in(&dialog.call_id), vec!["BYE"]);
    s.h.advance(crate::switch::transfer::TRANSFEROR_GRACE);
    assert_eq!(
        s.requests_in(&s.la.call_id).last().map(String::as_str),
        Some("BYE")
    );
    assert_eq!(s.h.agent_state("a1001"), "wrap-up");
    assert_eq!(s.h.agent_state("a1002"), "ringing");
    assert!(s
        .events_of_caller()
        .contains(&EventKind::TransferRequested {
            agent: "a1001".into(),
            kind: "attended".into(),
            method: "refer".into(),
            target: "1002".into(),
        }));
    let leg = s.colleague_answers();
    assert!(s.h.media.ends_with(&[MediaCommand::Bridge {
        a: s.caller,
        b: leg
    }]));
    assert!(!s
        .h
        .media
        .contains(&MediaCommand::Bridge { a: consult, b: leg }));
    assert_eq!(
        s.phase(s.caller),
        Phase::Connected {
            leg,
            agent: "a1002".into(),
            queue: "sales".into()
        }
    );
    assert_eq!(s.h.agent_state("a1002"), "talking");
    let events = s.events_of_caller();
    assert!(events.contains(&EventKind::TransferCompleted {
        agent: "a1002".into(),
        kind: "attended".into(),
    }));
    assert!(s.h.switch.consultations.is_empty());
    assert!(
        s.requests_in(&call_id_of(1)).is_empty(),
        "the caller is kept"
    );
}

#[test]
fn refer_while_the_colleague_rings_then_rings_out_keeps_the_caller() {
    let mut s = Scene::new();
    let (_, dialog) = s.consult("1002");
    s.colleague_rings();
    let colleague_call_id = header_value(&s.invite_to("1002"), "Call-ID").unwrap();
    let now = s.h.now;
    s.h.switch
        .on_refer_event(now, s.agent_leg, replaces(&dialog.call_id), None);
    s.h.collect();
    assert_eq!(
        s.h.agent_state("a1001"),
        "wrap-up",
        "the agent is done at the REFER"
    );
    let leg = s.h.switch.consultations[&s.caller].colleague_leg.unwrap();
    let deadline = s.h.switch.dialplan.standards.answer_deadline();
    s.h.advance(deadline);
    assert!(
        !s.h.switch.calls[&s.caller].finished,
        "the caller is not hung up when the colleague never answers"
    );
    assert!(
        !s.h.media.contains(&MediaCommand::Bridge {
            a: s.caller,
            b: leg
        }),
        "never bridged with a colleague who did not answer"
    );
    assert_eq!(s.requests_in(&colleague_call_id), vec!["INVITE", "CANCEL"]);
    assert!(s.events_of_caller().contains(&EventKind::TransferFailed {
        target: "1002".into(),
        reason: "no_answer".into(),
        status: None
    }));
    assert_eq!(s.h.agent_state("a1002"), "ready");
    assert!(s.h.switch.consultations.is_empty());
    assert!(
        s.requests_in(&call_id_of(1)).is_empty(),
        "the caller is kept"
    );
}

#[test]
fn refer_before_a_queue_consultation_is_answered_is_refused_with_403() {
    let mut s = Scene::with(|config| {
        config
            .dialplan
            .transfer
            .numbers
            .insert("8002".into(), "support".into());
    });
    let (consult, dialog) = s.consult("8002");
    let now = s.h.now;
    s.h.switch
        .on_refer_event(now, s.agent_leg, replaces(&dialog.call_id), None);
    s.h.collect();
    assert!(s.events_of_caller().contains(&EventKind::TransferFailed {
        target: "replaces".into(),
        reason: "colleague not answered yet".into(),
        status: Some(403)
    }));
    assert!(
        matches!(s.phase(consult), Phase::Queued(_)),
        "the consultation call waits on"
    );
    assert!(matches!(s.phase(s.caller), Phase::Connected { leg, .. } if leg == s.agent_leg));
}

/// A phone's INVITE with a `Replaces` header, handed to the switch as the endpoint reports
/// it, with `replaces` filled in as the SIP piece parses it. Returns the new call's handle.
fn invite_with_replaces(
    h: &mut Harness,
    extension: &str,
    invite: &str,
    named: DialogRef,
) -> CallId {
    let source: SocketAddr = format!("127.0.0.1:6{extension}").parse().unwrap();
    h.switch
        .endpoint
        .handle_input(h.now, Transport::Udp, source, invite.as_bytes());
    let mut new_call = None;
    while let Some(mut event) = h.switch.endpoint.poll_event() {
        if let CallEvent::Incoming { call, replaces, .. } = &mut event {
            new_call = Some(*call);
            replaces.get_or_insert(named.clone());
        }
        h.switch.on_call_event(h.now, event);
    }
    h.switch.drain_endpoint(h.now);
    h.collect();
    new_call.expect("the endpoint reports the INVITE")
}

#[test]
fn invite_with_replaces_naming_no_dialog_gets_481() {
    let mut s = Scene::new();
    let invite = authenticated_invite(
        &mut s.h,
        "1002",
        "1001",
        "replacing-1",
        "Replaces: nobody-knows-this;to-tag=a;from-tag=b\r\n",
    );
    invite_with_replaces(
        &mut s.h,
        "1002",
        &invite,
        DialogRef {
            call_id: "nobody-knows-this".into(),
            to_tag: Some("a".into()),
            from_tag: Some("b".into()),
            early_only: false,
        },
    );
    assert_eq!(s.h.responses_to("replacing-1"), vec![407, 100, 481]);
    assert!(matches!(s.phase(s.caller), Phase::Connected { leg, .. } if leg == s.agent_leg));
}

#[test]
fn invite_with_replaces_from_a_stranger_gets_403() {
    let mut s = Scene::new();
    // The caller's own address is a trunk to the endpoint, but not one the switch was given.
    invite_with_replaces(
        &mut s.h,
        "1000",
        &nth_call(&invite("4008", Some(OFFER_PCMA)), 7, "555"),
        DialogRef {
            call_id: s.la.call_id.clone(),
            to_tag: None,
            from_tag: None,
            early_only: false,
        },
    );
    assert_eq!(s.h.responses_to(&call_id_of(7)), vec![100, 403]);
    assert!(matches!(s.phase(s.caller), Phase::Connected { leg, .. } if leg == s.agent_leg));
}

/// The endpoint's `Incoming` for an INVITE, kept instead of handed to the switch (to call
/// `replace_dialog` with what `find_dialog` resolves).
fn incoming_of(h: &mut Harness, extension: &str, invite: &str) -> (CallId, Incoming) {
    let source: SocketAddr = format!("127.0.0.1:6{extension}").parse().unwrap();
    h.switch
        .endpoint
        .handle_input(h.now, Transport::Udp, source, invite.as_bytes());
    while let Some(event) = h.switch.endpoint.poll_event() {
        if let CallEvent::Incoming {
            call,
            sip_call_id,
            from,
            to,
            request_user,
            source,
            sdp,
            phone,
            ..
        } = event
        {
            return (
                call,
                Incoming {
                    source,
                    sip_call_id,
                    from,
                    to,
                    request_user,
                    offer: sdp,
                    phone,
                },
            );
        }
    }
    panic!("no Incoming from {invite}");
}

#[test]
fn invite_with_replaces_takes_the_agent_legs_place_bridged_with_the_caller() {
    let mut s = Scene::new();
    let (_, dialog) = s.consult("1002");
    s.colleague_answers();
    let invite = authenticated_invite(
        &mut s.h,
        "1002",
        "1001",
        "replacing-2",
        &format!("Replaces: {}\r\n", s.la.call_id),
    );
    let (call, incoming) = incoming_of(&mut s.h, "1002", &invite);
    let now = s.h.now;
    s.h.switch
        .replace_dialog(now, call, &incoming, s.agent_leg, false);
    s.h.collect();
    let ok = s.h.response_to("replacing-2", 200);
    assert!(ok.contains("m=audio "), "answered with our SDP: {ok}");
    assert_eq!(conversation_opened(&s.h, call), s.caller);
    assert!(s.h.media.contains(&MediaCommand::Bridge {
        a: s.caller,
        b: call
    }));
    assert_eq!(
        s.phase(s.caller),
        Phase::Connected {
            leg: call,
            agent: "a1002".into(),
            queue: "sales".into()
        }
    );
    assert_eq!(s.h.switch.legs[&call].purpose, LegPurpose::TransferTarget);
    assert_eq!(
        s.requests_in(&s.la.call_id).last().map(String::as_str),
        Some("BYE")
    );
    assert_eq!(
        s.requests_in(&dialog.call_id),
        vec!["BYE"],
        "the consultation is over"
    );
    assert_eq!(s.h.agent_state("a1001"), "wrap-up");
    assert_eq!(s.h.agent_state("a1002"), "talking");
    assert!(s
        .events_of_caller()
        .contains(&EventKind::TransferRequested {
            agent: "a1001".into(),
            kind: "attended".into(),
            method: "invite_replaces".into(),
            target: "1002".into(),
        }));
    // The new dialog is the caller's agent leg: its BYE ends the call.
    let mut new_dialog = placed_dialog(&s.h, "1002", "1001", "replacing-2");
    let bye = new_dialog.request("BYE", "", "");
    s.h.sip_from_phone("1002", &bye);
    assert_eq!(s.requests_in(&call_id_of(1)), vec!["BYE"]);
}

#[test]
fn invite_with_replaces_early_only_for_a_confirmed_dialog_gets_486() {
    let mut s = Scene::new();
    let invite = authenticated_invite(
        &mut s.h,
        "1002",
        "1001",
        "replacing-3",
        &format!("Replaces: {};early-only\r\n", s.la.call_id),
    );
    let (call, incoming) = incoming_of(&mut s.h, "1002", &invite);
    let now = s.h.now;
    s.h.switch
        .replace_dialog(now, call, &incoming, s.agent_leg, true);
    s.h.collect();
    assert_eq!(s.h.responses_to("replacing-3"), vec![407, 100, 486]);
    assert!(matches!(s.phase(s.caller), Phase::Connected { leg, .. } if leg == s.agent_leg));
}

impl Scene {
    /// The agent on LA presses `*2` + `number` (as the in-call keys report it).
    fn keys(&mut self, number: &str) {
        let now = self.h.now;
        self.h
            .switch
            .attended_transfer_by_keys(now, self.agent_leg, number);
        self.h.collect();
    }
}

#[test]
fn keys_consultation_rings_the_colleague_and_bridges_the_agent_with_them_and_the_agents_hang_up_completes(
) {
    let mut s = Scene::new();
    s.keys("1002");
    let ringback =
        s.h.prompt(&s.h.switch.calls[&s.caller].language, "ringback");
    assert_eq!(
        s.h.playing_on(s.agent_leg),
        ringback,
        "the agent hears ringback"
    );
    let invite = s.invite_to("1002");
    assert_eq!(offered_caller(&invite), "1001");
    let leg = s.colleague_answers();
    assert_eq!(conversation_opened(&s.h, leg), s.caller);
    let tail: Vec<&MediaCommand> = s.h.media.iter().rev().take(2).collect();
    assert_eq!(
        tail,
        vec![
            &MediaCommand::Bridge {
                a: s.agent_leg,
                b: leg
            },
            &MediaCommand::Stop { call: s.agent_leg }
        ]
    );
    assert!(
        matches!(s.phase(s.caller), Phase::Connected { leg: l, .. } if l == s.agent_leg),
        "the caller is still the agent's until the transfer completes"
    );
    // The agent hangs up: the caller is joined with the colleague (Asterisk's atxfer).
    let bye = s.la.request("BYE", "", "");
    s.h.sip_from_phone("1001", &bye);
    assert_eq!(
        s.phase(s.caller),
        Phase::Connected {
            leg,
            agent: "a1002".into(),
            queue: "sales".into()
        }
    );
    assert!(s.h.media.contains(&MediaCommand::Bridge {
        a: s.caller,
        b: leg
    }));
    assert_eq!(s.h.agent_state("a1001"), "wrap-up");
    assert_eq!(s.h.agent_state("a1002"), "talking");
    assert!(s
        .events_of_caller()
        .contains(&EventKind::TransferRequested {
            agent: "a1001".into(),
            kind: "attended".into(),
            method: "keys".into(),
            target: "1002".into(),
        }));
    assert!(
        s.requests_in(&call_id_of(1)).is_empty(),
        "the caller is not hung up"
    );
}

#[test]
fn keys_pressed_again_with_the_colleague_on_the_line_complete_the_transfer() {
    let mut s = Scene::new();
    s.keys("1002");
    let leg = s.colleague_answers();
    s.keys("");
    assert_joined(&s, leg, None, "keys");
}

#[test]
fn keys_pressed_again_while_the_colleague_rings_abort_and_the_agent_is_back_with_the_caller() {
    let mut s = Scene::new();
    s.keys("1002");
    s.colleague_rings();
    let colleague_call_id = header_value(&s.invite_to("1002"), "Call-ID").unwrap();
    s.keys("");
    assert_eq!(s.requests_in(&colleague_call_id), vec!["INVITE", "CANCEL"]);
    // The agent's leg leaves the colleague and is bridged with the caller again (the hold's
    // thank-you follows, from the hold piece).
    assert!(s.h.media.windows(2).any(|w| w
        == [
            MediaCommand::Stop { call: s.agent_leg },
            MediaCommand::Bridge {
                a: s.caller,
                b: s.agent_leg
            }
        ]));
    assert_eq!(s.h.agent_state("a1002"), "ready");
    assert_eq!(s.h.agent_state("a1001"), "talking");
    assert!(s.events_of_caller().contains(&EventKind::TransferFailed {
        target: "1002".into(),
        reason: "aborted".into(),
        status: None
    }));
    assert!(s.h.switch.consultations.is_empty());
}

#[test]
fn colleague_hanging_up_a_keys_consultation_returns_the_agent_to_the_caller() {
    let mut s = Scene::new();
    s.keys("1002");
    let leg = s.colleague_answers();
    let mut lb = PhoneDialog::of_switch_invite("1002", &s.invite_to("1002"));
    let bye = lb.request("BYE", "", "");
    s.h.sip_from_phone("1002", &bye);
    assert!(s.h.media.windows(2).any(|w| w
        == [
            MediaCommand::Stop { call: s.agent_leg },
            MediaCommand::Bridge {
                a: s.caller,
                b: s.agent_leg
            }
        ]));
    assert!(!s.h.switch.legs.contains_key(&leg));
    assert!(matches!(s.phase(s.caller), Phase::Connected { leg: l, .. } if l == s.agent_leg));
    assert_eq!(s.h.agent_state("a1001"), "talking");
    assert_eq!(s.h.agent_state("a1002"), "wrap-up");
}

#[test]
fn caller_hanging_up_mid_consultation_ends_the_consultation_call_and_the_colleague() {
    let mut s = Scene::new();
    let (_, dialog) = s.consult("1002");
    s.colleague_answers();
    let colleague_call_id = header_value(&s.invite_to("1002"), "Call-ID").unwrap();
    let tag = to_tag(&s.h.response_to(&call_id_of(1), 200));
    s.h.sip(&nth_call(
        &in_dialog("BYE", 2, &tag, "", ""),
        1,
        "13900000001",
    ));
    assert_eq!(s.requests_in(&s.la.call_id), vec!["INVITE", "ACK", "BYE"]);
    assert_eq!(s.requests_in(&dialog.call_id), vec!["BYE"]);
    assert_eq!(
        s.requests_in(&colleague_call_id),
        vec!["INVITE", "ACK", "BYE"]
    );
    assert_eq!(s.h.agent_state("a1001"), "wrap-up");
    assert_eq!(s.h.agent_state("a1002"), "ready");
    assert!(s.h.switch.consultations.is_empty());
}

#[test]
fn caller_hanging_up_while_the_colleague_rings_cancels_the_colleague() {
    let mut s = Scene::new();
    s.consult("1002");
    s.colleague_rings();
    let colleague_call_id = header_value(&s.invite_to("1002"), "Call-ID").unwrap();
    let tag = to_tag(&s.h.response_to(&call_id_of(1), 200));
    s.h.sip(&nth_call(
        &in_dialog("BYE", 2, &tag, "", ""),
        1,
        "13900000001",
    ));
    assert_eq!(s.requests_in(&colleague_call_id), vec!["INVITE", "CANCEL"]);
    assert_eq!(s.h.agent_state("a1002"), "ready");
}

#[test]
fn agent_hanging_up_the_consultation_call_ends_the_colleague_and_keeps_the_caller_held() {
    let mut s = Scene::new();
    let (consult, mut dialog) = s.consult("1002");
    s.colleague_answers();
    let colleague_call_id = header_value(&s.invite_to("1002"), "Call-ID").unwrap();
    let bye = dialog.request("BYE", "", "");
    s.h.sip_from_phone("1001", &bye);
    assert_eq!(
        s.requests_in(&colleague_call_id),
        vec!["INVITE", "ACK", "BYE"]
    );
    assert!(!s.h.switch.calls.contains_key(&consult) || s.phase(consult) == Phase::Leaving);
    assert!(matches!(s.phase(s.caller), Phase::Connected { leg, .. } if leg == s.agent_leg));
    assert_eq!(s.h.agent_state("a1001"), "talking");
    assert!(s.h.switch.consultations.is_empty());
    assert!(
        s.requests_in(&call_id_of(1)).is_empty(),
        "the caller is not hung up"
    );
}

#[test]
fn colleague_hanging_up_ends_the_consultation_call_and_the_caller_stays_with_the_agent() {
    let mut s = Scene::new();
    let (_, dialog) = s.consult("1002");
    s.colleague_answers();
    let mut lb = PhoneDialog::of_switch_invite("1002", &s.invite_to("1002"));
    let bye = lb.request("BYE", "", "");
    s.h.sip_from_phone("1002", &bye);
    assert_eq!(s.requests_in(&dialog.call_id), vec!["BYE"]);
    assert!(matches!(s.phase(s.caller), Phase::Connected { leg, .. } if leg == s.agent_leg));
    assert_eq!(s.h.agent_state("a1001"), "talking");
    assert!(s.h.switch.consultations.is_empty());
}

#[test]
fn consultation_call_to_a_transfer_number_waits_in_that_queue_and_refer_joins_its_agent() {
    let mut s = Scene::with(|config| {
        config
            .dialplan
            .transfer
            .numbers
            .insert("8002".into(), "support".into());
    });
    let (consult, dialog) = s.consult("8002");
    assert!(matches!(s.phase(consult), Phase::Queued(ref w) if w.queue == "support"));
    // Support: a1001 (busy consulting) and a1002.
    let invite = s.invite_to("1002");
    let mark = s.h.media.len();
    s.h.sip_from_phone("1002", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let leg = started_since(&s.h, mark);
    s.h.hear_out(leg); // whisper_support
    assert!(s
        .h
        .media
        .contains(&MediaCommand::Bridge { a: consult, b: leg }));
    let now = s.h.now;
    s.h.switch
        .on_refer_event(now, s.agent_leg, replaces(&dialog.call_id), None);
    s.h.collect();
    let events = s.events_of_caller();
    assert!(events.contains(&EventKind::TransferRequested {
        agent: "a1001".into(),
        kind: "attended".into(),
        method: "refer".into(),
        target: "8002".into(),
    }));
    assert_eq!(
        s.phase(s.caller),
        Phase::Connected {
            leg,
            agent: "a1002".into(),
            queue: "sales".into()
        }
    );
    assert_eq!(s.requests_in(&dialog.call_id), vec!["BYE"]);
}

#[test]
fn a_second_consultation_while_one_is_in_progress_is_refused_busy() {
    let mut s = Scene::new();
    s.consult("1002");
    let invite = authenticated_invite(&mut s.h, "1001", "1003", "consult-again", "");
    s.h.sip_from_phone("1001", &invite);
    assert_eq!(s.h.responses_to("consult-again"), vec![407, 100, 486]);
    assert_eq!(s.h.agent_state("a1003"), "ready");
}

#[test]
fn agent_hanging_up_while_the_keys_colleague_still_rings_cancels_the_colleague() {
    let mut s = Scene::new();
    s.keys("1002");
    s.colleague_rings();
    let colleague_call_id = header_value(&s.invite_to("1002"), "Call-ID").unwrap();
    let bye = s.la.request("BYE", "", "");
    s.h.sip_from_phone("1001", &bye);
    assert_eq!(s.requests_in(&colleague_call_id), vec!["INVITE", "CANCEL"]);
    assert_eq!(s.h.agent_state("a1002"), "ready");
    assert!(s.h.switch.consultations.is_empty());
    // Nobody was on the line to take the caller: the agent's hang-up ends the call.
    assert_eq!(s.requests_in(&call_id_of(1)), vec!["BYE"]);
}

#[test]
fn consulting_a_colleague_who_is_on_a_call_gives_busy_without_ringing_their_phone() {
    let mut s = Scene::new();
    // Sales caller 2 goes to a1004, the other sales agent.
    let second = s.h.queue_nth_caller_for_sales(2, "13900000002");
    let invite = s.invite_to("1004");
    s.h.sip_from_phone("1004", &phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let leg =
        s.h.switch
            .legs
            .iter()
            .find(|(_, l)| l.caller == second)
            .map(|(c, _)| *c)
            .unwrap();
    s.h.hear_out(leg);
    assert_eq!(s.h.agent_state("a1004"), "talking");
    let invites = s.h.invites_to_agents().len();
    let (consult, _) = s.consult("1004");
    assert_eq!(
        s.h.invites_to_agents().len(),
        invites,
        "no INVITE to a busy colleague"
    );
    assert_eq!(
        s.h.playing_on(consult),
        s.h.prompt(&s.h.switch.calls[&s.caller].language, "busy")
    );
    assert!(s.events_of_caller().contains(&EventKind::TransferFailed {
        target: "1004".into(),
        reason: "unavailable".into(),
        status: None
    }));
}

fn with_outside_numbers(config: &mut Config) {
    config.dialplan.transfer.outside = Some(crate::config::OutsideTransfer {
        prefix: "9".into(),
        trunk: "127.0.0.1:5090".parse().unwrap(),
    });
}

#[test]
fn consultation_with_an_outside_number_goes_through_the_trunk_and_refer_joins_the_caller_with_it() {
    let mut s = Scene::with(with_outside_numbers);
    let (consult, dialog) = s.consult("913800138000");
    let invite = s.h.invites_to_agents().last().cloned().unwrap();
    assert!(
        invite.starts_with("INVITE sip:13800138000@127.0.0.1:5090 SIP/2.0"),
        "the prefix is stripped and the trunk called: {invite}"
    );
    let mark = s.h.media.len();
    s.h.sip(&phone_response(&invite, 200, Some(PHONE_SDP_PCMU)));
    let leg = started_since(&s.h, mark);
    assert!(s
        .h
        .media
        .contains(&MediaCommand::Bridge { a: consult, b: leg }));
    let now = s.h.now;
    s.h.switch
        .on_refer_event(now, s.agent_leg, replaces(&dialog.call_id), None);
    s.h.collect();
    assert_eq!(
        s.phase(s.caller),
        Phase::Connected {
            leg,
            agent: "outside:13800138000".into(),
            queue: "sales".into()
        }
    );
    assert!(s.h.media.contains(&MediaCommand::Bridge {
        a: s.caller,
        b: leg
    }));
    assert_eq!(s.h.agent_state("a1001"), "wrap-up");
    assert!(s
        .events_of_caller()
        .contains(&EventKind::TransferRequested {
            agent: "a1001".into(),
            kind: "attended".into(),
            method: "refer".into(),
            target: "913800138000".into(),
        }));
}

#[test]
fn outside_numbers_that_are_not_digits_are_no_consultation_target() {
    let mut s = Scene::with(with_outside_numbers);
    let invites = s.h.invites_to_agents().len();
    let invite = authenticated_invite(&mut s.h, "1001", "9evil", "consult-evil", "");
    s.h.sip_from_phone("1001", &invite);
    assert_eq!(s.h.responses_to("consult-evil"), vec![407, 100, 404]);
    assert_eq!(s.h.invites_to_agents().len(), invites);
    assert!(s.h.switch.consultations.is_empty());
}

#[test]
fn outside_numbers_are_digits_with_an_optional_leading_plus_up_to_32() {
    let s = Scene::with(with_outside_numbers);
    let outside = |number: &str| ConsultTarget::Outside {
        number: number.into(),
        trunk: "127.0.0.1:5090".parse().unwrap(),
    };
    let target = |number: &str| s.h.switch.consult_target(number);
    assert_eq!(target("9+8613800138000"), Some(outside("+8613800138000")));
    assert_eq!(
        target(&format!("9{}", "1".repeat(32))),
        Some(outside(&"1".repeat(32)))
    );
    assert_eq!(target(&format!("9{}", "1".repeat(33))), None);
    assert_eq!(target("91+2"), None);
    assert_eq!(target("9"), None);
    assert_eq!(target("8613800138000"), None, "without the prefix");
}
