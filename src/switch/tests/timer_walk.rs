//! Random walks through queues (callers arriving, phones answering, refusing or ringing
//! out, prompts ending, callbacks, hang-ups, exits and overflows) with every timer handled
//! by the harness, which fails as soon as a due time survives its handling.

use super::*;

#[test]
fn no_walk_through_queues_leaves_a_timer_due_after_it_was_handled() {
    for seed in 1..40u64 {
        let mut rng = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = move |n: u64| {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) % n
        };
        let exits = [
            QueueExit::Callback,
            QueueExit::Voicemail,
            QueueExit::Overflow("support".into()),
        ];
        let e1 = exits[next(3) as usize].clone();
        let e2 = exits[next(2) as usize].clone();
        let every = Duration::from_secs(1 + next(20));
        let wrap = Duration::from_secs(next(5));
        let mut h = Harness::new(move |c| {
            c.dialplan.standards.new_calls_per_source = 1000;
            for q in c.dialplan.queues.values_mut() {
                q.max_wait = Duration::from_secs(40);
                q.exit_notice = Duration::from_secs(10);
                q.announce_every = every;
                q.wrap_up = wrap;
                q.pause_after_refusals = 0;
            }
            c.dialplan.queues.get_mut("sales").unwrap().exit = e1;
            c.dialplan.queues.get_mut("support").unwrap().exit = e2;
            c.dialplan.queues.get_mut("support").unwrap().max_wait = Duration::from_secs(15);
        });
        h.switch.rtp_ports = RtpPorts::seeded(40000, 40999, 1);
        let mut callers = 0;
        let mut answered = 0usize;
        for _ in 0..80 {
            match next(5) {
                0 if callers < 6 => {
                    callers += 1;
                    let call = h.queue_nth_caller_for_sales(callers, &format!("1380000{callers}"));
                    let _ = call;
                }
                1 | 2 => {
                    let invites = h.invites_to_agents();
                    while answered < invites.len() {
                        let inv = invites[answered].clone();
                        answered += 1;
                        let ext = phone_extension(&inv);
                        let status = [180u16, 200, 486, 603, 480, 0][next(6) as usize];
                        if status == 0 {
                            continue;
                        }
                        let sdp = (status == 200).then_some(PHONE_SDP_PCMU);
                        h.sip_from_phone(&ext, &phone_response(&inv, status, sdp));
                    }
                }
                3 => {
                    // finish whatever plays on some call
                    let calls: Vec<CallId> = h.switch.calls.keys().copied().collect();
                    if !calls.is_empty() {
                        let call = calls[next(calls.len() as u64) as usize];
                        let playing = h
                            .switch
                            .calls
                            .get(&call)
                            .and_then(|c| c.playing.zip(c.play));
                        if let Some((p, play)) = playing {
                            h.switch.handle_media_event(
                                h.now,
                                call,
                                MediaEvent::PromptFinished {
                                    play,
                                    prompt: p,
                                    interrupted: false,
                                },
                            );
                            h.collect();
                        }
                        if next(4) == 0 {
                            h.switch.handle_media_event(
                                h.now,
                                call,
                                MediaEvent::Dtmf {
                                    digit: '1',
                                    duration_ms: 100,
                                },
                            );
                            h.collect();
                        }
                    }
                }
                4 if next(3) == 0 && callers > 0 => {
                    let n = 1 + next(callers as u64) as u32;
                    if let Some(ok) = h
                        .sent
                        .iter()
                        .rev()
                        .find(|m| {
                            m.starts_with("SIP/2.0 200")
                                && header_value(m, "Call-ID").as_deref()
                                    == Some(call_id_of(n).as_str())
                                && m.contains("INVITE")
                        })
                        .cloned()
                    {
                        let tag = to_tag(&ok);
                        h.sip(&nth_call(
                            &in_dialog("BYE", 2, &tag, "", ""),
                            n,
                            &format!("1380000{n}"),
                        ));
                    }
                }
                _ => h.advance(Duration::from_millis(next(30_000))),
            }
        }
    }
}
