//! The IVR: greeting, menu digits (RFC 4733 and SIP INFO), no-input retries, business hours.

use super::*;

#[test]
fn greeting_starts_as_the_ack_arrives_then_menu_digits_route_in_english() {
    let mut h = Harness::new(|_| {});
    answered_call(&mut h, OFFER_PCMA);
    assert!(matches!(h.media[0], MediaCommand::Open { .. }));
    assert!(matches!(
        h.media[1],
        MediaCommand::Start {
            codec: Codec::Pcma,
            payload_type: 8,
            telephone_event: Some(101),
            ..
        }
    ));
    let MediaCommand::Play { prompt, .. } = h.media[2].clone() else {
        panic!("{:?}", h.media)
    };
    assert!(
        h.prompts.file(prompt).ends_with("zh/welcome.wav"),
        "the greeting plays first, at the ACK"
    );
    assert!(h.finish_prompt().ends_with("zh/welcome.wav"));
    assert!(h.finish_prompt().ends_with("zh/recording_notice.wav"));
    // The menu prompt plays; 9 barges in and switches to English.
    h.media_event(MediaEvent::Dtmf {
        digit: '9',
        duration_ms: 100,
    });
    assert!(h.media.contains(&MediaCommand::Stop { call: CallId(1) }));
    let MediaCommand::Play { prompt, .. } = h.media.last().cloned().unwrap() else {
        panic!()
    };
    assert!(h.prompts.file(prompt).ends_with("en/main_menu.wav"));
    h.media_event(MediaEvent::PromptFinished {
        play: crate::media::PlayId::default(),
        prompt: h.prompt("zh", "main_menu"),
        interrupted: true,
    });
    h.media_event(MediaEvent::Dtmf {
        digit: '1',
        duration_ms: 100,
    });
    let kinds: Vec<EventKind> = h.events().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::Language {
        language: "en".into()
    }));
    assert!(kinds.contains(&EventKind::Route {
        target: "sales".into()
    }));
    // In line for sales: "connecting you" in English, and an agent's phone rings.
    assert!(kinds.iter().any(
        |k| matches!(k, EventKind::QueueEntered { queue, position: 1, .. } if queue == "sales")
    ));
    assert!(h.prompts.file(h.playing()).ends_with("en/connecting.wav"));
    assert!(h.invites_to_agents().len() == 1, "{:?}", h.sent.last());
}

#[test]
fn silence_at_the_menu_goes_to_the_operator_after_three_tries() {
    let mut h = Harness::new(|_| {});
    answered_call(&mut h, OFFER_PCMA);
    h.finish_prompt();
    h.finish_prompt();
    for _ in 0..3 {
        h.finish_prompt(); // the menu (or no-input + menu) prompt sequence
        while h
            .events()
            .iter()
            .filter(|e| matches!(e.kind, EventKind::PromptFinished { .. }))
            .count()
            < h.events()
                .iter()
                .filter(|e| matches!(e.kind, EventKind::PromptStarted { .. }))
                .count()
        {
            h.finish_prompt();
        }
        h.advance(Duration::from_secs(5));
    }
    let no_inputs = h
        .events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::MenuNoInput { .. }))
        .count();
    assert_eq!(no_inputs, 3);
    assert!(h.events().iter().any(|e| e.kind
        == EventKind::Route {
            target: "operator".into()
        }));
}

#[test]
fn sip_info_digit_chooses_a_branch() {
    let mut h = Harness::new(|_| {});
    let tag = answered_call(&mut h, OFFER_PCMA);
    h.finish_prompt();
    h.finish_prompt();
    h.sip(&in_dialog(
        "INFO",
        2,
        &tag,
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=2\r\nDuration=160\r\n",
    ));
    let kinds: Vec<EventKind> = h.events().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::Dtmf {
        digit: '2',
        source: "sip-info".into()
    }));
    assert!(kinds.contains(&EventKind::Route {
        target: "support".into()
    }));
}

#[test]
fn office_hotline_plays_the_closed_flow_on_a_sunday_and_the_greeting_on_a_monday() {
    let mut sunday = Harness::at("2026-11-22T02:00:00Z", |_| {});
    sunday.sip(&invite("4009", Some(OFFER_PCMA)));
    sunday.advance(Duration::from_secs(1));
    let tag = to_tag(&sunday.last_response(200));
    sunday.sip(&in_dialog("ACK", 1, &tag, "", ""));
    assert!(sunday
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Hours { open: false }));
    assert!(sunday.finish_prompt().ends_with("zh/closed.wav"));
    assert!(sunday.finish_prompt().ends_with("zh/goodbye.wav"));
    assert!(sunday.sent.last().unwrap().starts_with("BYE "));

    let mut monday = Harness::new(|_| {});
    monday.sip(&invite("4009", Some(OFFER_PCMA)));
    monday.advance(Duration::from_secs(1));
    let tag = to_tag(&monday.last_response(200));
    monday.sip(&in_dialog("ACK", 1, &tag, "", ""));
    assert!(monday
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Hours { open: true }));
    assert!(monday.finish_prompt().ends_with("zh/welcome.wav"));
}
