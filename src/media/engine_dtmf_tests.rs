//! Engine tests of issue 8 in virtual time: an agent's keys held back from the caller, digits
//! the switch sends as RFC 4733 telephone-events on a leg's own stream, and a whisper over
//! the bridged audio started by its command.

use super::*;

/// An agent leg (PCMU, telephone-event 101) whose keys the switch keeps, bridged with a
/// caller leg (PCMA, telephone-event 101).
fn caller_and_agent_holding_back_keys(h: &mut Harness) {
    h.start(CALLER, caller_phone(), Codec::Pcma, Some(101));
    h.start_with(
        AGENT,
        agent_phone(),
        Codec::Pcmu,
        Some(101),
        LegOptions {
            hold_back_dtmf: true,
            signalling_host: None,
            ..options(AGENT, LegRole::Agent)
        },
    );
    h.command(MediaCommand::Bridge {
        a: CALLER,
        b: AGENT,
    });
    h.heard();
    h.events();
}

/// A 60 ms key press of `event` as a phone sends it: two updates and three ends.
fn key_press(h: &mut Harness, call: CallId, from: SocketAddr, event: u8, sequence: u16) {
    let start = 40_000 + u32::from(sequence) * 160;
    for (i, (end, duration)) in [
        (false, 160u16),
        (false, 320),
        (true, 480),
        (true, 480),
        (true, 480),
    ]
    .into_iter()
    .enumerate()
    {
        let [d0, d1] = duration.to_be_bytes();
        let flags = if end { 0x8A } else { 0x0A };
        let packet = rtp(
            101,
            0xAE,
            sequence + i as u16,
            start,
            &[event, flags, d0, d1],
        );
        h.receive(call, from, &packet);
    }
}

fn digits(events: &[(CallId, MediaEvent)]) -> Vec<(CallId, char)> {
    events
        .iter()
        .filter_map(|(call, event)| match event {
            MediaEvent::Dtmf { digit, .. } => Some((*call, *digit)),
            _ => None,
        })
        .collect()
}

#[test]
fn an_agents_keys_are_reported_to_the_switch_but_never_reach_the_caller() {
    let mut h = Harness::new();
    caller_and_agent_holding_back_keys(&mut h);
    h.advance(TICK);
    key_press(&mut h, AGENT, agent_phone(), 10, 300);
    key_press(&mut h, AGENT, agent_phone(), 4, 310);
    assert_eq!(h.heard_by(CALLER), vec![], "no telephone-event relayed");
    assert_eq!(
        digits(&h.events()),
        vec![(AGENT, '*'), (AGENT, '4')],
        "each key reported once"
    );
    // The agent's voice still reaches the caller, and the caller's keys still reach the agent.
    h.receive(AGENT, agent_phone(), &rtp(0, 0xAE, 320, 60_000, &speech(3)));
    let heard = h.heard_by(CALLER);
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].payload_type, 8);
    key_press(&mut h, CALLER, caller_phone(), 7, 900);
    let heard = h.heard_by(AGENT);
    assert_eq!(heard.len(), 5, "the caller's key relayed to the agent");
    assert!(heard
        .iter()
        .all(|p| p.payload_type == 101 && p.payload[0] == 7));
    assert_eq!(digits(&h.events()), vec![(CALLER, '7')]);
}

#[test]
fn without_hold_back_an_agents_keys_are_relayed_as_before() {
    let mut h = Harness::new();
    h.bridged_pair();
    h.heard();
    key_press(&mut h, AGENT, agent_phone(), 10, 300);
    let heard = h.heard_by(CALLER);
    assert_eq!(heard.len(), 5);
    assert!(heard
        .iter()
        .all(|p| p.payload_type == 101 && p.payload[0] == 10));
}

/// (marker, payload type, sequence, timestamp, payload) of each packet.
fn fields(heard: &[Heard]) -> Vec<(bool, u8, u16, u32, Vec<u8>)> {
    heard
        .iter()
        .map(|p| {
            (
                p.marker,
                p.payload_type,
                p.sequence,
                p.timestamp,
                p.payload.clone(),
            )
        })
        .collect()
}

#[test]
fn a_sent_digit_is_five_updates_and_three_ends_on_the_legs_own_stream_then_audio() {
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcma, Some(101));
    h.tick();
    h.tick();
    let before = h.heard_by(CALLER);
    assert_eq!(
        Harness::numbers(&before),
        vec![(true, 100, 5000), (false, 101, 5160)]
    );
    h.command(MediaCommand::SendDtmf {
        call: CALLER,
        digit: '#',
    });
    assert_eq!(h.heard(), vec![], "sent on the tick");
    for _ in 0..9 {
        h.tick();
    }
    let sent = h.heard();
    assert!(sent
        .iter()
        .all(|p| p.call == CALLER && p.to == caller_phone() && p.ssrc == 0xA1 && !p.rtcp));
    let event = |marker: bool, sequence: u16, end: bool, duration: u16| {
        let [d0, d1] = duration.to_be_bytes();
        let flags = if end { 0x80 | 10 } else { 10 };
        (marker, 101, sequence, 5320, vec![11, flags, d0, d1])
    };
    let mut expected = vec![
        event(true, 102, false, 160),
        event(false, 103, false, 320),
        event(false, 104, false, 480),
        event(false, 105, false, 640),
        event(false, 106, false, 800),
        event(false, 107, true, 800),
        event(false, 108, true, 800),
        event(false, 109, true, 800),
    ];
    // Audio again, on time: ten ticks after the last frame before the digit.
    expected.push((false, 8, 110, 5160 + 9 * 160, vec![0xD5; 160]));
    assert_eq!(fields(&sent), expected);
}

#[test]
fn a_digit_sent_to_a_bridged_caller_replaces_the_agents_audio_until_it_ends() {
    let mut h = Harness::new();
    caller_and_agent_holding_back_keys(&mut h);
    let agent_says = |h: &mut Harness, i: u16| {
        h.receive(
            AGENT,
            agent_phone(),
            &rtp(
                0,
                0xAE,
                500 + i,
                90_000 + 160 * u32::from(i),
                &speech(i as u8),
            ),
        );
    };
    h.advance(TICK);
    agent_says(&mut h, 0);
    h.engine.on_tick(h.now);
    let relayed = h.heard_by(CALLER);
    assert_eq!(Harness::numbers(&relayed), vec![(true, 100, 5000)]);
    h.command(MediaCommand::SendDtmf {
        call: CALLER,
        digit: '3',
    });
    let mut sent = Vec::new();
    for i in 1..=9u16 {
        h.advance(TICK);
        agent_says(&mut h, i);
        h.engine.on_tick(h.now);
        sent.extend(h.heard_by(CALLER));
    }
    let kinds: Vec<(u8, u16, u32)> = sent
        .iter()
        .map(|p| (p.payload_type, p.sequence, p.timestamp))
        .collect();
    // Tick 1: the agent's packet arrives before the tick and is still relayed; from the
    // tick on, the event's eight packets go out alone; then the agent is heard again.
    let mut expected = vec![(8, 101, 5160)];
    expected.extend((0..8).map(|i| (101, 102 + i, 5320)));
    expected.push((8, 110, 5000 + 10 * 160));
    assert_eq!(kinds, expected);
    assert!(sent[1].marker && !sent[2].marker);
    assert!(sent[9].marker, "the relay starts again with the marker bit");
}

#[test]
fn a_digit_for_a_leg_without_telephone_event_or_a_non_key_is_dropped() {
    let mut h = Harness::new();
    h.start(CALLER, caller_phone(), Codec::Pcmu, None);
    h.start(AGENT, agent_phone(), Codec::Pcmu, Some(101));
    h.command(MediaCommand::SendDtmf {
        call: CALLER,
        digit: '5',
    });
    h.command(MediaCommand::SendDtmf {
        call: AGENT,
        digit: 'x',
    });
    for _ in 0..9 {
        h.tick();
    }
    let heard = h.heard();
    assert_eq!(heard.len(), 18, "one audio frame per leg and tick");
    assert!(heard.iter().all(|p| p.payload_type == 0), "{heard:?}");
}

#[test]
fn a_play_mixed_command_whispers_over_the_bridged_audio() {
    let mut h = Harness::new();
    let beep = h.beep;
    h.bridged_pair();
    h.command(MediaCommand::PlayMixed {
        call: AGENT,
        prompt: beep,
        play: PlayId(12),
    });
    assert!(matches!(h.engine.source(AGENT), Some(Source::Mix { leg, .. }) if leg == CALLER));
    assert_eq!(
        h.engine.source(CALLER),
        Some(Source::Leg(AGENT)),
        "the caller hears no whisper"
    );
    h.advance(TICK);
    let caller_says = g711::alaw_encode(1500);
    h.receive(
        CALLER,
        caller_phone(),
        &rtp(8, 5, 1, 160, &[caller_says; 160]),
    );
    assert_eq!(h.heard_by(AGENT), vec![], "mixed on the tick, not relayed");
    h.engine.on_tick(h.now);
    let heard = h.heard_by(AGENT);
    let beep_frame = h.engine.prompts.frames(beep, Codec::Pcmu)[0];
    let expected: Vec<u8> = beep_frame
        .iter()
        .map(|&b| {
            g711::ulaw_encode(g711::ulaw_decode(b).saturating_add(g711::alaw_decode(caller_says)))
        })
        .collect();
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].payload, expected);
    h.events();
    h.tick();
    h.tick();
    assert_eq!(h.events(), vec![(AGENT, finished(beep, 12, false))]);
    assert_eq!(h.engine.source(AGENT), Some(Source::Leg(CALLER)));
}
