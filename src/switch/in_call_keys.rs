//! In-call keys: digit sequences an agent presses on their desk phone during a call (`*4` +
//! reason to choose a hold reason, `#1` + number for a blind transfer, `*2` + number for an
//! attended one, as Asterisk's in-call features do). Digits from an agent's leg are never
//! relayed to the caller as they come; this module collects them (with a timeout between
//! digits) and carries out what they name. A digit that cannot start any sequence is passed
//! on to the caller (`SendDtmf`); a sequence that names nothing is dropped with a "not
//! understood" prompt over the agent's line.

use std::time::Instant;

use super::queueing::LegState;
use super::timeline::EventKind;
use super::{MediaCommand, Output, Switch};
use crate::config::InCallKeys;
use crate::sip::CallId;

/// The longest sequence kept (a phone sending digits without end cannot grow it).
pub(super) const MAX_KEYS: usize = 32;

/// Digits an agent has pressed so far on one leg.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeySequence {
    pub digits: String,
    pub last_at: Option<Instant>,
}

/// What the digits pressed so far mean.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Keys {
    /// A sequence has begun: wait for more.
    Pending,
    /// One digit that starts no sequence: the caller gets it.
    Pass(char),
    /// The hold-reason keys and a reason digit.
    HoldReason(char),
    /// The pause-recording keys: pause or resume the call's recording.
    PauseRecording,
    /// Transfer keys, a number and `#` (or the digit timeout).
    Transfer { attended: bool, number: String },
    /// A sequence that names nothing (or a transfer without a number).
    Unknown,
}

/// Reads `seq` (all digits so far); `finished` when no more will come (the timeout).
fn classify(keys: &InCallKeys, seq: &str, finished: bool) -> Keys {
    let starters = [
        &keys.hold_reason,
        &keys.blind_transfer,
        &keys.attended_transfer,
        &keys.pause_recording,
    ];
    if !keys.pause_recording.is_empty() && seq == keys.pause_recording {
        return Keys::PauseRecording;
    }
    if !keys.hold_reason.is_empty() {
        if let Some(rest) = seq.strip_prefix(keys.hold_reason.as_str()) {
            return match rest.chars().next() {
                None if !finished => Keys::Pending,
                None => Keys::Unknown,
                Some(d) if rest.len() == 1 => Keys::HoldReason(d),
                Some(_) => Keys::Unknown,
            };
        }
    }
    for (starter, attended) in [
        (&keys.blind_transfer, false),
        (&keys.attended_transfer, true),
    ] {
        if starter.is_empty() {
            continue;
        }
        let Some(rest) = seq.strip_prefix(starter.as_str()) else {
            continue;
        };
        let (number, ended) = match rest.strip_suffix('#') {
            Some(number) => (number, true),
            None => (rest, finished),
        };
        if !number.chars().all(|c| c.is_ascii_digit()) {
            return Keys::Unknown;
        }
        return match (ended, number.is_empty()) {
            (false, _) => Keys::Pending,
            (true, true) => Keys::Unknown,
            (true, false) => Keys::Transfer {
                attended,
                number: number.to_string(),
            },
        };
    }
    if !finished && starters.iter().any(|s| !s.is_empty() && s.starts_with(seq)) {
        return Keys::Pending;
    }
    match (seq.chars().next(), seq.chars().count()) {
        (Some(d), 1) if !starters.iter().any(|s| s.starts_with(d)) => Keys::Pass(d),
        _ => Keys::Unknown,
    }
}

impl Switch {
    /// A digit from the agent's phone on `leg` (RFC 4733 or SIP INFO).
    pub(super) fn on_agent_key(&mut self, now: Instant, leg: CallId, digit: char) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        if !matches!(l.state, LegState::Whisper | LegState::Connected) {
            return;
        }
        let mut seq = std::mem::take(&mut l.keys.digits);
        seq.push(digit);
        l.keys.last_at = Some(now);
        if seq.chars().count() > MAX_KEYS {
            self.keys_done(now, leg, &seq, "too_long");
            return;
        }
        let keys = self.dialplan.in_call_keys.clone();
        match classify(&keys, &seq, false) {
            Keys::Pending => {
                if let Some(l) = self.legs.get_mut(&leg) {
                    l.keys.digits = seq;
                }
                self.set_key_timer(leg, Some(now + keys.digit_timeout));
            }
            Keys::Pass(d) => {
                self.set_key_timer(leg, None);
                if let Some(caller) = self.connected_caller_of(leg) {
                    self.outputs
                        .push_back(Output::Media(MediaCommand::SendDtmf {
                            call: caller,
                            digit: d,
                        }));
                }
            }
            other => self.act_on_keys(now, leg, &seq, other),
        }
    }

    /// No digit came within the timeout: what was pressed is complete (a transfer number)
    /// or dropped.
    pub(super) fn on_agent_keys_timeout(&mut self, now: Instant, leg: CallId) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        let seq = std::mem::take(&mut l.keys.digits);
        if seq.is_empty() {
            return;
        }
        let keys = self.dialplan.in_call_keys.clone();
        match classify(&keys, &seq, true) {
            Keys::Pending | Keys::Pass(_) | Keys::Unknown => {
                self.keys_done(now, leg, &seq, "timeout")
            }
            other => self.act_on_keys(now, leg, &seq, other),
        }
    }

    fn act_on_keys(&mut self, now: Instant, leg: CallId, seq: &str, keys: Keys) {
        match keys {
            Keys::HoldReason(digit) => self.choose_hold_reason(now, leg, seq, digit),
            Keys::PauseRecording => {
                self.set_key_timer(leg, None);
                match self.connected_caller_of(leg) {
                    Some(caller) if self.toggle_recording_pause(now, caller, leg) => {
                        let action = match self.recording_paused(caller) {
                            true => "pause_recording",
                            false => "resume_recording",
                        };
                        self.record_keys(now, leg, seq, action);
                        self.play_mixed_to_agent(caller, leg, "confirm_tone");
                    }
                    _ => self.keys_done(now, leg, seq, "not_recording"),
                }
            }
            Keys::Transfer { attended, number } => {
                let action = if attended {
                    format!("attended_transfer:{number}")
                } else {
                    format!("blind_transfer:{number}")
                };
                self.record_keys(now, leg, seq, &action);
                self.set_key_timer(leg, None);
                if attended {
                    self.attended_transfer_by_keys(now, leg, &number);
                } else {
                    self.blind_transfer_by_keys(now, leg, &number);
                }
            }
            _ => self.keys_done(now, leg, seq, "unknown"),
        }
    }

    /// `*4` + `digit`: the hold reason for this caller, before or during the hold.
    fn choose_hold_reason(&mut self, now: Instant, leg: CallId, seq: &str, digit: char) {
        let Some(caller) = self.connected_caller_of(leg) else {
            return self.keys_done(now, leg, seq, "not_connected");
        };
        let queue = match self.calls.get(&caller).map(|c| &c.phase) {
            Some(super::Phase::Connected { queue, .. }) => queue.clone(),
            _ => return,
        };
        let Some(reason) = self
            .allowed_hold_reasons(&queue)
            .into_iter()
            .find(|r| r.digit == digit)
        else {
            return self.keys_done(now, leg, seq, "unknown_hold_reason");
        };
        self.set_key_timer(leg, None);
        self.record_keys(now, leg, seq, &format!("hold_reason:{}", reason.name));
        self.play_mixed_to_agent(caller, leg, "confirm_tone");
        let held = match self.calls.get_mut(&caller) {
            Some(c) => {
                c.chosen_hold_reason = Some(reason.name.clone());
                c.hold.is_some()
            }
            None => false,
        };
        if held {
            self.change_hold_reason(now, caller, &reason);
        }
    }

    /// A sequence that did nothing: recorded with why, and "not understood" to the agent.
    fn keys_done(&mut self, now: Instant, leg: CallId, seq: &str, why: &str) {
        self.set_key_timer(leg, None);
        if let Some(l) = self.legs.get_mut(&leg) {
            l.keys.digits.clear();
        }
        let kept: String = seq.chars().take(MAX_KEYS).collect();
        self.record_keys(now, leg, &kept, why);
        if let Some(caller) = self.legs.get(&leg).map(|l| l.caller) {
            self.play_mixed_to_agent(caller, leg, "invalid");
        }
    }

    fn record_keys(&mut self, now: Instant, leg: CallId, seq: &str, action: &str) {
        let Some(l) = self.legs.get(&leg) else {
            return;
        };
        let (caller, agent) = (l.caller, l.agent.clone());
        self.record(
            now,
            caller,
            EventKind::InCallKeys {
                agent,
                keys: seq.to_string(),
                action: action.to_string(),
            },
        );
    }

    /// The leg's timer slot, once answered, waits for the next in-call key.
    fn set_key_timer(&mut self, leg: CallId, at: Option<Instant>) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        if let Some(old) = l.timer.take() {
            self.timers.remove(&(old, leg));
        }
        if let Some(at) = at {
            l.timer = Some(at);
            self.timers.insert((at, leg));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_are_read_as_the_default_keys_name_them() {
        let k = InCallKeys::default();
        assert_eq!(classify(&k, "*", false), Keys::Pending);
        assert_eq!(classify(&k, "*4", false), Keys::Pending);
        assert_eq!(classify(&k, "*42", false), Keys::HoldReason('2'));
        assert_eq!(classify(&k, "*4", true), Keys::Unknown);
        assert_eq!(classify(&k, "#", false), Keys::Pending);
        assert_eq!(classify(&k, "#12002", false), Keys::Pending);
        assert_eq!(
            classify(&k, "#12002#", false),
            Keys::Transfer {
                attended: false,
                number: "2002".into()
            }
        );
        assert_eq!(
            classify(&k, "*2300", true),
            Keys::Transfer {
                attended: true,
                number: "300".into()
            }
        );
        assert_eq!(classify(&k, "#1#", false), Keys::Unknown);
        assert_eq!(classify(&k, "#1", true), Keys::Unknown);
        assert_eq!(classify(&k, "*9", false), Keys::Unknown);
        assert_eq!(classify(&k, "#2", false), Keys::Unknown);
        assert_eq!(classify(&k, "*21*", false), Keys::Unknown);
        assert_eq!(classify(&k, "5", false), Keys::Pass('5'));
        assert_eq!(classify(&k, "*", true), Keys::Unknown);
    }
}
