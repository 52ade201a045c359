//! The automatic flags of one call: each rule of STANDARDS.md that the call's timeline
//! events and its recording can show, measured against its threshold. Pure functions of a
//! [`CallRecord`] and (for the audio rules) its [`StereoAudio`]; nothing here reads files.
//!
//! Time ranges are on the call's timeline (ms after the INVITE). Rules that did not arise
//! on a call (no hold, no transfer, no queue) give no flag; rules that did give one flag per
//! occurrence (each hold, each offer, each transfer) or, for the audio rules, one failed
//! flag per violation or a single passed flag carrying the worst value measured.

use crate::store::CallRecord;
use crate::switch::timeline::{EventKind, Party, TimelineEvent};

use super::evidence::{BroughtBack, Evidence, HoldAbout, QueueSpellEnd, TransferAbout};
use super::vad::{self, Segment, VadSettings};
use super::{Flag, Rule, StereoAudio};

/// Thresholds of the rules. The defaults are STANDARDS.md's values and the settings the
/// issue names; the ones it leaves open are chosen as a contact centre would.
#[derive(Debug, Clone, PartialEq)]
pub struct QaSettings {
    /// S1: rings (whole cadence periods started) allowed before an answer.
    pub answer_within_rings: u32,
    /// S2: the agent's greeting must have finished this long after connect.
    pub greeting_max_ms: u64,
    /// The agent's first words must start within this of connect (default 3 s: a caller
    /// who hears nothing for longer says "hello?").
    pub greeting_start_max_ms: u64,
    /// A pause this long in the agent's speech ends the greeting (so does the caller
    /// starting to speak).
    pub greeting_turn_gap_ms: u64,
    /// A hold's explanation must start within this of the hold (default 2 s).
    pub hold_explained_within_ms: u64,
    /// Longest time a held caller may hear nothing from the switch: the dialplan's 30 s
    /// check-back interval plus 1 s for timers and prompt starts.
    pub hold_check_back_max_ms: u64,
    /// S4: time in queue target.
    pub wait_target_ms: u64,
    /// S5: time in queue cap.
    pub wait_max_ms: u64,
    /// Silence (both channels quiet) while connected longer than this is flagged.
    pub silence_max_ms: u64,
    /// Both channels speaking at once for longer than this is flagged (default 2 s: a
    /// backchannel "mm" or a polite overlap is shorter).
    pub talk_over_max_ms: u64,
    pub vad: VadSettings,
}

impl Default for QaSettings {
    fn default() -> Self {
        QaSettings {
            answer_within_rings: 3,
            greeting_max_ms: 10_000,
            greeting_start_max_ms: 3_000,
            greeting_turn_gap_ms: 1_500,
            hold_explained_within_ms: 2_000,
            hold_check_back_max_ms: 31_000,
            wait_target_ms: 30_000,
            wait_max_ms: 600_000,
            silence_max_ms: 5_000,
            talk_over_max_ms: 2_000,
            vad: VadSettings::default(),
        }
    }
}

/// The call's flags with the default settings.
pub fn flags(record: &CallRecord, audio: Option<&StereoAudio>) -> Vec<Flag> {
    flags_with(record, audio, &QaSettings::default())
}

/// The call's flags, ordered by start time then rule.
pub fn flags_with(
    record: &CallRecord,
    audio: Option<&StereoAudio>,
    settings: &QaSettings,
) -> Vec<Flag> {
    let events = &record.events;
    let mut out = Vec::new();
    ring_flags(events, settings, &mut out);
    queue_flags(events, settings, &mut out);
    hold_flags(events, settings, &mut out);
    transfer_flags(events, &mut out);
    if let Some(recording) = &record.recording {
        let end_ms = recording.offset_ms + recording.duration_ms.unwrap_or(0);
        let lost = recording.lost_ms;
        out.push(measured(
            flag(
                Rule::RecordingLost,
                lost == 0,
                recording.offset_ms,
                end_ms,
                Evidence::RecordingLost { lost_ms: lost },
            ),
            lost as f64 / 1000.0,
            0.0,
        ));
    }
    if let Some(audio) = audio {
        audio_flags(events, audio, settings, &mut out);
    }
    out.sort_by_key(|f| (f.start_ms, f.rule));
    out
}

fn flag(rule: Rule, passed: bool, start_ms: u64, end_ms: u64, evidence: Evidence) -> Flag {
    Flag {
        rule,
        passed,
        start_ms,
        end_ms: end_ms.max(start_ms),
        evidence: evidence.english(),
        measured: None,
        threshold: None,
        overridden: None,
        sentence: Some(evidence),
    }
}

fn measured(mut f: Flag, value: f64, threshold: f64) -> Flag {
    f.measured = Some(value);
    f.threshold = Some(threshold);
    f
}

/// The spans of transfers: from each request to its completion, failure or the hang-up.
fn transfer_spans(events: &[TimelineEvent]) -> Vec<(usize, u64, u64)> {
    let mut spans = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if let EventKind::TransferRequested { .. } = e.kind {
            let end = events[i + 1..]
                .iter()
                .find(|later| {
                    matches!(
                        later.kind,
                        EventKind::TransferCompleted { .. }
                            | EventKind::TransferFailed { .. }
                            | EventKind::TransferRequested { .. }
                            | EventKind::Hangup { .. }
                    )
                })
                .map_or(u64::MAX, |later| later.offset_ms);
            spans.push((i, e.offset_ms, end));
        }
    }
    spans
}

fn in_transfer(spans: &[(usize, u64, u64)], index: usize, at: u64) -> bool {
    spans
        .iter()
        .any(|&(i, start, end)| index > i && at >= start && at <= end)
}

/// S1 for the switch's answer, every agent offer and every transfer target.
fn ring_flags(events: &[TimelineEvent], settings: &QaSettings, out: &mut Vec<Flag>) {
    let limit = settings.answer_within_rings;
    let transfers = transfer_spans(events);
    let ringing_at = events
        .iter()
        .find(|e| e.kind == EventKind::Ringing)
        .map_or(0, |e| e.offset_ms);
    let mut offered_at: Vec<(String, u64)> = Vec::new();
    let mut requested_at = 0;
    for (i, e) in events.iter().enumerate() {
        let at = e.offset_ms;
        match &e.kind {
            EventKind::Answered { rings } => out.push(measured(
                flag(
                    Rule::AnsweredWithinRings,
                    *rings <= limit,
                    ringing_at,
                    at,
                    Evidence::SwitchAnswered {
                        rings: *rings,
                        limit,
                    },
                ),
                f64::from(*rings),
                f64::from(limit),
            )),
            EventKind::Offered { agent, .. } => offered_at.push((agent.clone(), at)),
            EventKind::TransferRequested { .. } => requested_at = at,
            EventKind::AgentAnswered { agent, rings, .. } => {
                let transfer = in_transfer(&transfers, i, at);
                let (rule, from) = if transfer {
                    (Rule::TransferTargetWithinRings, requested_at)
                } else {
                    let from = offered_at
                        .iter()
                        .rev()
                        .find(|(a, _)| a == agent)
                        .map_or(at, |(_, t)| *t);
                    (Rule::AgentAnsweredWithinRings, from)
                };
                out.push(measured(
                    flag(
                        rule,
                        *rings <= limit,
                        from,
                        at,
                        Evidence::AgentAnswered {
                            transfer_target: transfer,
                            agent: agent.clone(),
                            rings: *rings,
                            limit,
                        },
                    ),
                    f64::from(*rings),
                    f64::from(limit),
                ));
            }
            EventKind::OfferEnded {
                agent,
                rings,
                outcome,
            } if outcome == "no_answer" => {
                let from = offered_at
                    .iter()
                    .rev()
                    .find(|(a, _)| a == agent)
                    .map_or(at, |(_, t)| *t);
                let rule = if in_transfer(&transfers, i, at) {
                    Rule::TransferTargetWithinRings
                } else {
                    Rule::AgentAnsweredWithinRings
                };
                out.push(measured(
                    flag(
                        rule,
                        false,
                        from,
                        at,
                        Evidence::OfferNotAnswered {
                            agent: agent.clone(),
                            rings: *rings,
                            limit,
                        },
                    ),
                    f64::from(*rings),
                    f64::from(limit),
                ));
            }
            EventKind::TransferFailed { target, reason, .. } if reason == "no_answer" => {
                out.push(flag(
                    Rule::TransferTargetWithinRings,
                    false,
                    requested_at,
                    at,
                    Evidence::TransferTargetNotAnswered {
                        target: target.clone(),
                    },
                ));
            }
            _ => {}
        }
    }
}

/// S4, S5 and abandonment, per spell of waiting (entered a queue or requeued, until an
/// agent answered, the caller chose a way out, or hung up). An overflow to another queue
/// does not end the spell: the caller is still waiting, and the standards count it all.
fn queue_flags(events: &[TimelineEvent], settings: &QaSettings, out: &mut Vec<Flag>) {
    let transfers = transfer_spans(events);
    let mut queued_since: Option<(u64, String)> = None;
    // The queue the caller is in now was left because nobody took its calls.
    let mut unstaffed = false;
    let mut queued_ever = false;
    let mut answered = false;
    // Set once the queue's outcome has its own flag.
    let mut abandoned = false;
    let wait = |out: &mut Vec<Flag>, from: u64, to: u64, end: QueueSpellEnd| {
        let ms = to.saturating_sub(from);
        for (rule, limit) in [
            (Rule::WaitUnder30s, settings.wait_target_ms),
            (Rule::WaitUnder10min, settings.wait_max_ms),
        ] {
            out.push(measured(
                flag(
                    rule,
                    ms <= limit,
                    from,
                    to,
                    Evidence::Waited {
                        end: end.clone(),
                        waited_ms: ms,
                        limit_ms: limit,
                    },
                ),
                ms as f64 / 1000.0,
                limit as f64 / 1000.0,
            ));
        }
    };
    for (i, e) in events.iter().enumerate() {
        let at = e.offset_ms;
        match &e.kind {
            EventKind::QueueEntered { queue, .. } => {
                queued_ever = true;
                unstaffed = false;
                // Named by the queue the caller is in now: after an overflow, the last one.
                let since = queued_since.take().map_or(at, |(since, _)| since);
                queued_since = Some((since, queue.clone()));
            }
            EventKind::Requeued { queue } => {
                queued_ever = true;
                unstaffed = false;
                queued_since = Some((at, queue.clone()));
            }
            EventKind::Answered { .. } => answered = true,
            EventKind::AgentAnswered { wait_ms, agent, .. } if !in_transfer(&transfers, i, at) => {
                if let Some((since, queue)) = queued_since.take() {
                    let from = at.saturating_sub(*wait_ms).max(since.min(at));
                    wait(
                        out,
                        from,
                        at,
                        QueueSpellEnd::AgentAnswered {
                            agent: agent.clone(),
                            queue,
                        },
                    );
                }
            }
            EventKind::QueueUnstaffed { .. } => unstaffed = true,
            EventKind::QueueExit { reason, .. } if reason.starts_with("overflow ") => {}
            EventKind::QueueExit { reason, .. } => {
                if let Some((since, queue)) = queued_since.take() {
                    let exit = reason.clone();
                    wait(
                        out,
                        since,
                        at,
                        QueueSpellEnd::ExitTaken {
                            queue,
                            exit,
                            unstaffed,
                        },
                    );
                }
            }
            EventKind::Hangup { by, .. } => {
                if let Some((since, queue)) = queued_since.take() {
                    if *by != Party::Caller {
                        abandoned = true;
                        out.push(flag(
                            Rule::Abandoned,
                            true,
                            since,
                            at,
                            Evidence::SwitchEndedInQueue { queue },
                        ));
                    } else {
                        wait(
                            out,
                            since,
                            at,
                            QueueSpellEnd::CallerLeft {
                                queue: queue.clone(),
                            },
                        );
                        abandoned = true;
                        out.push(flag(
                            Rule::Abandoned,
                            false,
                            since,
                            at,
                            Evidence::AbandonedInQueue {
                                waited_ms: at.saturating_sub(since),
                                queue,
                            },
                        ));
                    }
                } else if !answered && !queued_ever && *by == Party::Caller {
                    abandoned = true;
                    let from = events
                        .iter()
                        .find(|e| e.kind == EventKind::Ringing)
                        .map_or(0, |e| e.offset_ms);
                    out.push(flag(
                        Rule::Abandoned,
                        false,
                        from,
                        at,
                        Evidence::AbandonedWhileRinging {
                            rang_ms: at.saturating_sub(from),
                        },
                    ));
                }
            }
            _ => {}
        }
    }
    if queued_ever && !abandoned {
        let first = events
            .iter()
            .find(|e| matches!(e.kind, EventKind::QueueEntered { .. }))
            .map_or(0, |e| e.offset_ms);
        let end = events.last().map_or(first, |e| e.offset_ms);
        out.push(flag(
            Rule::Abandoned,
            true,
            first,
            end,
            Evidence::StayedInQueue,
        ));
    }
}

/// Slack for a hold's start computed from its end and duration.
const HOLD_ROUNDING_MS: u64 = 10;

/// Each hold: explained at its start, and never longer than the check-back interval
/// without a word to the caller. Evidence names the hold's number, the count and longest.
fn hold_flags(events: &[TimelineEvent], settings: &QaSettings, out: &mut Vec<Flag>) {
    let holds: Vec<(u64, u64, u32)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::HoldEnded {
                duration_ms,
                check_backs,
                ..
            } => Some((
                e.offset_ms.saturating_sub(*duration_ms),
                e.offset_ms,
                *check_backs,
            )),
            _ => None,
        })
        .collect();
    let count = holds.len();
    let longest = holds.iter().map(|(s, e, _)| e - s).max().unwrap_or(0);
    for (n, &(start, end, check_backs)) in holds.iter().enumerate() {
        let about = HoldAbout {
            number: n + 1,
            count,
            held_ms: end - start,
            longest_ms: longest,
        };
        // The start is the end less the duration, each rounded down to the millisecond on
        // its own: the hold's first events may sit a millisecond before it.
        let within =
            |e: &&TimelineEvent| e.offset_ms + HOLD_ROUNDING_MS >= start && e.offset_ms <= end;
        let reason = events.iter().filter(within).find_map(|e| match &e.kind {
            EventKind::HoldReason {
                reason, expected_s, ..
            } => Some((e.offset_ms, reason.clone(), *expected_s)),
            _ => None,
        });
        let limit = settings.hold_explained_within_ms;
        let explained = match &reason {
            Some((at, reason, expected_s)) => measured(
                flag(
                    Rule::HoldExplained,
                    at.saturating_sub(start) <= limit,
                    start,
                    end,
                    Evidence::HoldExplained {
                        hold: about.clone(),
                        reason: reason.clone(),
                        expected_s: *expected_s,
                        after_ms: at.saturating_sub(start),
                        limit_ms: limit,
                    },
                ),
                at.saturating_sub(start) as f64 / 1000.0,
                limit as f64 / 1000.0,
            ),
            None => flag(
                Rule::HoldExplained,
                false,
                start,
                end,
                Evidence::HoldNotExplained {
                    hold: about.clone(),
                },
            ),
        };
        out.push(explained);
        // Every moment the caller heard from the switch: the start, the explanation, each
        // check-back or overrun apology; the longest stretch between two (or to the end).
        let mut told: Vec<u64> = vec![start];
        told.extend(events.iter().filter(within).filter_map(|e| match e.kind {
            EventKind::HoldReason { .. }
            | EventKind::HoldCheckBack { .. }
            | EventKind::HoldOverrun { .. } => Some(e.offset_ms),
            _ => None,
        }));
        told.push(end);
        let gap = told
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .max()
            .unwrap_or(0);
        let limit = settings.hold_check_back_max_ms;
        out.push(measured(
            flag(
                Rule::HoldCheckBacks,
                gap <= limit,
                start,
                end,
                Evidence::HoldCheckBacks {
                    hold: about,
                    check_backs,
                    gap_ms: gap,
                    limit_ms: limit,
                },
            ),
            gap as f64 / 1000.0,
            limit as f64 / 1000.0,
        ));
    }
}

/// Each transfer: explained with its expected wait, context handed to whoever took the
/// caller, and a failed one recalled.
fn transfer_flags(events: &[TimelineEvent], out: &mut Vec<Flag>) {
    for (i, start, end) in transfer_spans(events) {
        let (agent, kind, target) = match &events[i].kind {
            EventKind::TransferRequested {
                agent,
                kind,
                target,
                ..
            } => (agent, kind, target),
            _ => continue,
        };
        let about = TransferAbout {
            kind: kind.clone(),
            agent: agent.clone(),
            target: target.clone(),
        };
        let after: Vec<&TimelineEvent> = events[i + 1..]
            .iter()
            .filter(|e| e.offset_ms <= end)
            .collect();
        let stop = if end == u64::MAX {
            events.last().map_or(start, |e| e.offset_ms)
        } else {
            end
        };
        let explained = after.iter().find_map(|e| match &e.kind {
            EventKind::TransferExplained {
                expected_wait_s, ..
            } => Some((e.offset_ms, *expected_wait_s)),
            _ => None,
        });
        match explained {
            Some((at, wait_s)) => {
                out.push(flag(
                    Rule::TransferExplained,
                    true,
                    start,
                    stop,
                    Evidence::TransferExplained {
                        transfer: about.clone(),
                        after_ms: at - start,
                    },
                ));
                out.push(measured(
                    flag(
                        Rule::TransferWaitAnnounced,
                        true,
                        start,
                        stop,
                        Evidence::TransferWaitAnnounced {
                            transfer: about.clone(),
                            wait_s,
                        },
                    ),
                    f64::from(wait_s),
                    0.0,
                ));
            }
            None => {
                for rule in [Rule::TransferExplained, Rule::TransferWaitAnnounced] {
                    out.push(flag(
                        rule,
                        false,
                        start,
                        stop,
                        Evidence::TransferNotExplained {
                            transfer: about.clone(),
                        },
                    ));
                }
            }
        }
        let ended = events[i + 1..]
            .iter()
            .find(|e| e.offset_ms >= end.min(stop));
        match ended.map(|e| (&e.kind, e.offset_ms)) {
            Some((EventKind::TransferCompleted { agent: to, .. }, at)) => {
                // The context whisper is given while the target's phone is answered, at
                // the latest right as the transfer completes.
                let context = events[i + 1..]
                    .iter()
                    .take_while(|e| e.offset_ms <= at)
                    .find_map(|e| match &e.kind {
                        EventKind::ContextHandedOver { agent, items } => Some((agent, items)),
                        _ => None,
                    });
                out.push(match context {
                    Some((agent, items)) => flag(
                        Rule::ContextHandedOver,
                        true,
                        start,
                        at,
                        Evidence::ContextHandedOver {
                            transfer: about.clone(),
                            agent: agent.clone(),
                            items: items.clone(),
                        },
                    ),
                    None => flag(
                        Rule::ContextHandedOver,
                        false,
                        start,
                        at,
                        Evidence::ContextNotHandedOver {
                            transfer: about.clone(),
                            to: to.clone(),
                        },
                    ),
                });
            }
            Some((EventKind::TransferFailed { reason, .. }, at)) if reason != "caller_left" => {
                let back = events
                    .iter()
                    .skip_while(|e| e.offset_ms < at)
                    .find_map(|e| match &e.kind {
                        EventKind::Recall { to, .. } => {
                            Some(BroughtBack::Recall { to: to.clone() })
                        }
                        EventKind::Requeued { queue } => Some(BroughtBack::Requeued {
                            queue: queue.clone(),
                        }),
                        _ => None,
                    });
                out.push(flag(
                    Rule::TransferRecalled,
                    back.is_some(),
                    start,
                    at,
                    match back {
                        Some(back) => Evidence::TransferRecalled {
                            transfer: about.clone(),
                            reason: reason.clone(),
                            back,
                        },
                        None => Evidence::TransferNotRecalled {
                            transfer: about.clone(),
                            reason: reason.clone(),
                        },
                    },
                ));
            }
            _ => {}
        }
    }
}

/// Whether any audio rule listens to this call: only calls that reached an agent have a
/// greeting, silences or talk-over to measure.
pub fn listens_to_audio(events: &[TimelineEvent]) -> bool {
    events.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::Bridged { .. } | EventKind::TransferCompleted { .. }
        )
    })
}

/// The spans in which caller and agent are talking: from each bridge (or the end of a
/// hold) to the next hold, transfer request, lost agent leg or hang-up.
pub fn connected_spans(events: &[TimelineEvent]) -> Vec<(u64, u64)> {
    let mut spans = Vec::new();
    let mut since: Option<u64> = None;
    let mut holding = false;
    for e in events {
        match &e.kind {
            EventKind::Bridged { .. } | EventKind::TransferCompleted { .. } => {
                holding = false;
                since.get_or_insert(e.offset_ms);
            }
            EventKind::HoldEnded { .. } | EventKind::Resume { .. } if holding => {
                holding = false;
                since.get_or_insert(e.offset_ms);
            }
            EventKind::Hold { .. } | EventKind::TransferRequested { .. } => {
                holding = matches!(e.kind, EventKind::Hold { .. });
                if let Some(s) = since.take() {
                    spans.push((s, e.offset_ms));
                }
            }
            EventKind::AgentLegLost { .. } | EventKind::Hangup { .. } => {
                holding = false;
                if let Some(s) = since.take() {
                    spans.push((s, e.offset_ms));
                }
            }
            _ => {}
        }
    }
    if let Some(s) = since {
        spans.push((s, events.last().map_or(s, |e| e.offset_ms)));
    }
    spans.retain(|(s, e)| e > s);
    spans
}

/// Speech segments of a channel, moved onto the call's timeline.
fn on_timeline(segments: Vec<Segment>, offset_ms: u64) -> Vec<(u64, u64)> {
    segments
        .into_iter()
        .map(|s| (s.start_ms + offset_ms, s.end_ms + offset_ms))
        .collect()
}

fn audio_flags(
    events: &[TimelineEvent],
    audio: &StereoAudio,
    settings: &QaSettings,
    out: &mut Vec<Flag>,
) {
    let (rec_start, rec_end) = (audio.offset_ms, audio.end_ms());
    let spans: Vec<(u64, u64)> = connected_spans(events)
        .into_iter()
        .map(|(s, e)| (s.max(rec_start), e.min(rec_end)))
        .filter(|(s, e)| e > s)
        .collect();
    // The rules listen only while caller and agent are connected: what the caller hears
    // before (menu, queue) and while held or being transferred (announcements, music) is
    // the switch's, never the agent's, and on a call that never reached an agent that is
    // the whole recording.
    let said = speech_in(&audio.left, audio, &spans, settings);
    let heard = speech_in(&audio.right, audio, &spans, settings);
    greeting_flags(events, &said, &heard, rec_start, rec_end, settings, out);
    if spans.is_empty() {
        return;
    }
    silence_flags(&spans, &said, &heard, settings, out);
    talk_over_flags(&spans, &said, &heard, settings, out);
}

/// The detector's warm-up before a window: it starts listening this much earlier, so the
/// first words of a window are scored with context, as in a pass over the whole channel.
const WARM_UP_MS: u64 = 1_000;

/// Speech segments of one channel inside `windows`, on the call's timeline.
fn speech_in(
    channel: &[i16],
    audio: &StereoAudio,
    windows: &[(u64, u64)],
    settings: &QaSettings,
) -> Vec<(u64, u64)> {
    let rate = u64::from(audio.sample_rate);
    let index =
        |ms: u64| ((ms.saturating_sub(audio.offset_ms) * rate / 1000) as usize).min(channel.len());
    let mut speech = Vec::new();
    for &(start, end) in windows {
        // On the detector's 16 ms grid from the recording's start, as a whole-channel pass
        // would frame it.
        let into = start
            .saturating_sub(audio.offset_ms)
            .saturating_sub(WARM_UP_MS);
        let from_ms = audio.offset_ms + into / vad::FRAME_MS * vad::FRAME_MS;
        let (first, last) = (index(from_ms), index(end));
        speech.extend(
            on_timeline(
                vad::speech_segments_with(&channel[first..last], audio.sample_rate, &settings.vad),
                from_ms,
            )
            .into_iter()
            .map(|(s, e)| (s.max(start), e.min(end)))
            .filter(|(s, e)| e > s),
        );
    }
    speech
}

/// S2: after each new agent's bridge, the agent's opening turn on the right channel.
fn greeting_flags(
    events: &[TimelineEvent],
    said: &[(u64, u64)],
    heard: &[(u64, u64)],
    rec_start: u64,
    rec_end: u64,
    settings: &QaSettings,
    out: &mut Vec<Flag>,
) {
    let prompts = prompt_spans(events);
    let mut greeted: Vec<&str> = Vec::new();
    for e in events {
        let EventKind::Bridged { agent, .. } = &e.kind else {
            continue;
        };
        if greeted.contains(&agent.as_str()) {
            continue;
        }
        greeted.push(agent);
        let connect = e.offset_ms;
        if connect < rec_start || connect >= rec_end {
            continue;
        }
        let limit = settings.greeting_max_ms;
        let start_limit = settings.greeting_start_max_ms;
        // Sound already going at the connect (cut to the span, it starts exactly there) is
        // the tail of what the caller heard before: a prompt, music. Speech that starts
        // while the switch plays the caller a prompt (the one after a hold) is the
        // switch's. The agent's greeting is the first other speech after the connect.
        let agents = |&&(start, _): &&(u64, u64)| {
            start > connect && !prompts.iter().any(|&(s, e)| start >= s && start < e)
        };
        let mut turn = heard.iter().filter(agents).copied();
        let Some((first_start, first_end)) = turn.next() else {
            out.push(measured(
                flag(
                    Rule::GreetingWithin10s,
                    false,
                    connect,
                    rec_end,
                    Evidence::NoGreeting {
                        agent: agent.clone(),
                        connect_ms: connect,
                    },
                ),
                (rec_end - connect) as f64 / 1000.0,
                limit as f64 / 1000.0,
            ));
            continue;
        };
        let mut end = first_end;
        for (start, next_end) in turn {
            let caller_spoke = said.iter().any(|&(s, _)| s >= first_start && s < start);
            if start - end > settings.greeting_turn_gap_ms || caller_spoke {
                break;
            }
            end = next_end;
        }
        let (late, took) = (first_start - connect, end - connect);
        out.push(measured(
            flag(
                Rule::GreetingWithin10s,
                took <= limit && late <= start_limit,
                connect,
                end,
                Evidence::Greeting {
                    agent: agent.clone(),
                    late_ms: late,
                    took_ms: took,
                    connect_ms: connect,
                    limit_ms: limit,
                    start_limit_ms: start_limit,
                },
            ),
            took as f64 / 1000.0,
            limit as f64 / 1000.0,
        ));
    }
}

/// When the switch played the caller a prompt: from each start to its finish, or to
/// whatever cut it without one (the next prompt, a bridge, a hold or its end, the hang-up).
fn prompt_spans(events: &[TimelineEvent]) -> Vec<(u64, u64)> {
    let mut spans = Vec::new();
    let mut playing: Option<u64> = None;
    for e in events {
        let ends = matches!(
            e.kind,
            EventKind::PromptStarted { .. }
                | EventKind::PromptFinished { .. }
                | EventKind::Bridged { .. }
                | EventKind::TransferCompleted { .. }
                | EventKind::Hold { .. }
                | EventKind::Resume { .. }
                | EventKind::HoldEnded { .. }
                | EventKind::Hangup { .. }
        );
        if ends {
            if let Some(start) = playing.take() {
                spans.push((start, e.offset_ms));
            }
        }
        if matches!(e.kind, EventKind::PromptStarted { .. }) {
            playing = Some(e.offset_ms);
        }
    }
    if let Some(start) = playing {
        spans.push((start, u64::MAX));
    }
    spans
}

/// The parts of `span` not covered by any of `covered` (sorted or not).
fn gaps(span: (u64, u64), covered: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut inside: Vec<(u64, u64)> = covered
        .iter()
        .filter(|(s, e)| *e > span.0 && *s < span.1)
        .map(|&(s, e)| (s.max(span.0), e.min(span.1)))
        .collect();
    inside.sort();
    let mut out = Vec::new();
    let mut at = span.0;
    for (s, e) in inside {
        if s > at {
            out.push((at, s));
        }
        at = at.max(e);
    }
    if span.1 > at {
        out.push((at, span.1));
    }
    out
}

fn silence_flags(
    spans: &[(u64, u64)],
    said: &[(u64, u64)],
    heard: &[(u64, u64)],
    settings: &QaSettings,
    out: &mut Vec<Flag>,
) {
    let speech: Vec<(u64, u64)> = said.iter().chain(heard).copied().collect();
    let limit = settings.silence_max_ms;
    let mut longest = 0;
    let mut failed = false;
    for &span in spans {
        for (s, e) in gaps(span, &speech) {
            longest = longest.max(e - s);
            if e - s > limit {
                failed = true;
                out.push(measured(
                    flag(
                        Rule::Silence,
                        false,
                        s,
                        e,
                        Evidence::Silence {
                            silent_ms: e - s,
                            limit_ms: limit,
                        },
                    ),
                    (e - s) as f64 / 1000.0,
                    limit as f64 / 1000.0,
                ));
            }
        }
    }
    if !failed {
        out.push(measured(
            flag(
                Rule::Silence,
                true,
                spans[0].0,
                spans[spans.len() - 1].1,
                Evidence::LongestSilence {
                    longest_ms: longest,
                    limit_ms: limit,
                },
            ),
            longest as f64 / 1000.0,
            limit as f64 / 1000.0,
        ));
    }
}

fn talk_over_flags(
    spans: &[(u64, u64)],
    said: &[(u64, u64)],
    heard: &[(u64, u64)],
    settings: &QaSettings,
    out: &mut Vec<Flag>,
) {
    let limit = settings.talk_over_max_ms;
    let mut longest = 0;
    let mut failed = false;
    for &(a, b) in said {
        for &(c, d) in heard {
            let (s, e) = (a.max(c), b.min(d));
            if e <= s {
                continue;
            }
            // Only while connected: both channels may hold speech during prompts too.
            for &(span_s, span_e) in spans {
                let (s, e) = (s.max(span_s), e.min(span_e));
                if e <= s {
                    continue;
                }
                longest = longest.max(e - s);
                if e - s > limit {
                    failed = true;
                    out.push(measured(
                        flag(
                            Rule::TalkOver,
                            false,
                            s,
                            e,
                            Evidence::TalkOver {
                                both_ms: e - s,
                                limit_ms: limit,
                            },
                        ),
                        (e - s) as f64 / 1000.0,
                        limit as f64 / 1000.0,
                    ));
                }
            }
        }
    }
    if !failed {
        out.push(measured(
            flag(
                Rule::TalkOver,
                true,
                spans[0].0,
                spans[spans.len() - 1].1,
                Evidence::LongestTalkOver {
                    longest_ms: longest,
                    limit_ms: limit,
                },
            ),
            longest as f64 / 1000.0,
            limit as f64 / 1000.0,
        ));
    }
}

#[cfg(test)]
#[path = "flags_tests.rs"]
mod tests;
