//! Phones that refuse offers: the agent rests for the queue's `retry_after_refusal` before
//! the next offer (no INVITE storm), others are offered meanwhile, and an agent whose phone
//! refuses `pause_after_refusals` offers in a row is set not ready.

use super::*;

/// Sales calls reach a1001 alone, and `pause` is the queue's `pause_after_refusals`.
fn only_a1001_pausing_after(pause: u32) -> impl FnOnce(&mut Config) {
    move |c| {
        for phone in &mut c.hardware.phones {
            if phone.extension == "1004" {
                phone.skills.retain(|s| s != "sales");
            }
        }
        for queue in c.dialplan.queues.values_mut() {
            queue.pause_after_refusals = pause;
        }
    }
}

impl Harness {
    /// Run the clock for `span` in 100 ms steps, the agents' phones answering every INVITE
    /// they get with `status` at once. Returns when each INVITE came (since the start) and
    /// to which extension, every INVITE sent so far included. Stops counting at 1,000
    /// INVITEs (a storm).
    fn phones_refusing_with(&mut self, status: u16, span: Duration) -> Vec<(Duration, String)> {
        let start = self.now;
        let mut answered = 0;
        let mut seen = Vec::new();
        let mut step = |h: &mut Harness, seen: &mut Vec<(Duration, String)>| {
            while answered < h.invites_to_agents().len() && seen.len() < 1_000 {
                let invite = h.invites_to_agents()[answered].clone();
                answered += 1;
                let extension = phone_extension(&invite);
                seen.push((h.now - start, extension.clone()));
                h.sip_from_phone(&extension, &phone_response(&invite, status, None));
            }
        };
        step(self, &mut seen);
        while self.now < start + span && seen.len() < 1_000 {
            self.advance(Duration::from_millis(100));
            step(self, &mut seen);
        }
        seen
    }
}

fn seconds(offers: &[(Duration, String)]) -> Vec<(f64, &str)> {
    offers
        .iter()
        .map(|(at, extension)| (at.as_secs_f64(), extension.as_str()))
        .collect()
}

#[test]
fn a_phone_that_answers_486_to_everything_is_offered_the_call_again_only_every_five_seconds() {
    let mut h = Harness::new(only_a1001_pausing_after(0));
    h.queue_nth_caller_for_sales(1, "1000");
    let offers = h.phones_refusing_with(486, Duration::from_millis(12_000));
    // Offered as the caller joins, refused at once, then again as each 5 s rest ends.
    assert_eq!(
        seconds(&offers),
        vec![(0.0, "1001"), (5.0, "1001"), (10.0, "1001")],
        "{} INVITEs",
        offers.len()
    );
    assert_eq!(h.agent_state("a1001"), "ready", "resting, not paused");
    assert!(h.kinds().iter().any(|k| matches!(k, EventKind::OfferEnded { agent, outcome, .. } if agent == "a1001" && outcome == "busy")));
}

#[test]
fn a_phone_that_declines_with_603_rests_as_long_as_the_queue_says() {
    let mut h = Harness::new(|c| {
        only_a1001_pausing_after(0)(c);
        for queue in c.dialplan.queues.values_mut() {
            queue.retry_after_refusal = Duration::from_secs(2);
        }
    });
    h.queue_nth_caller_for_sales(1, "1000");
    let offers = h.phones_refusing_with(603, Duration::from_millis(5_000));
    assert_eq!(
        seconds(&offers),
        vec![(0.0, "1001"), (2.0, "1001"), (4.0, "1001")]
    );
}

#[test]
fn while_one_agent_rests_after_a_refusal_the_other_ready_agent_is_offered_at_once() {
    let mut h = Harness::new(|_| {});
    h.queue_nth_caller_for_sales(1, "1000");
    let offers = h.phones_refusing_with(486, Duration::from_millis(5_500));
    // a1001 refuses, a1004 is offered in the same instant and refuses too; both rest 5 s,
    // then the longest idle of them (a1001, free since the start) is offered again first.
    assert_eq!(
        seconds(&offers),
        vec![(0.0, "1001"), (0.0, "1004"), (5.0, "1001"), (5.0, "1004")]
    );
}

#[test]
fn after_three_refusals_in_a_row_the_agent_is_set_not_ready_until_ready_again() {
    let mut h = Harness::new(only_a1001_pausing_after(3));
    h.queue_nth_caller_for_sales(1, "1000");
    let offers = h.phones_refusing_with(486, Duration::from_secs(60));
    assert_eq!(
        seconds(&offers),
        vec![(0.0, "1001"), (5.0, "1001"), (10.0, "1001")],
        "paused after the third refusal: no fourth offer in a minute"
    );
    assert_eq!(h.agent_state("a1001"), "not ready (refused 3 offers)");
    assert_eq!(h.dial_feature_code("1001", "*23"), "agent_ready");
    let invites = h.invites_to_agents();
    assert_eq!(invites.len(), 4, "offered at once on becoming ready");
    assert_eq!(phone_extension(&invites[3]), "1001");
}

#[test]
fn a_ringing_phone_that_is_answered_forgets_the_refusals_before_it() {
    let mut h = Harness::new(only_a1001_pausing_after(3));
    h.queue_nth_caller_for_sales(1, "1000");
    let offers = h.phones_refusing_with(486, Duration::from_millis(5_000));
    assert_eq!(offers.len(), 2, "{offers:?}");
    // The second refusal came; the third offer, at 10 s, is answered.
    h.advance(Duration::from_secs(5));
    let third = h.invites_to_agents()[2].clone();
    h.sip_from_phone("1001", &phone_response(&third, 200, Some(PHONE_SDP_PCMU)));
    assert_eq!(h.agent_state("a1001"), "talking");
    assert_eq!(
        h.switch.acd.agent("a1001").map(|a| a.refusals_in_a_row),
        Some(0)
    );
}
