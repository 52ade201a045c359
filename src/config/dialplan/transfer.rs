//! `[transfer]` and `[in_call_keys]`: where an agent may transfer a caller — queues by their
//! transfer numbers, agents by extension, outside numbers through a trunk when allowed — and
//! the key sequences agents press during a call (hold reason, blind and attended transfer),
//! their TOML shape and their checks.
//!
//! Without `[transfer]` agents transfer to extensions only; without `outside` never to an
//! outside number. Without `[in_call_keys]` the keys are Asterisk's usual `*4`, `#1`, `*2`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::Checker;
use crate::config::duration::format_duration;
use crate::config::error::{key_segment, ConfigError};

/// What the switch plays around a transfer, and to a caller whose agent's phone dropped:
/// the explanation ("transfer_to dept_X transfer_colleague digit_N minutes
/// transfer_no_repeat", or "transfer …" without a department), the ringback while an
/// extension rings, the apologies on recall, requeue and reconnection, and the whispers the
/// receiving agent hears. The digits and "minutes" are among the hold prompts.
pub const TRANSFER_PROMPTS: [&str; 12] = [
    "transfer",
    "transfer_to",
    "transfer_colleague",
    "transfer_no_repeat",
    "ringback",
    "transfer_recall",
    "transfer_requeue",
    "reconnect_apology",
    "whisper_transferred",
    "whisper_verified",
    "whisper_recall",
    "whisper_reconnect",
];

/// An unfinished key sequence is dropped after at least 1 s and at most 10 s.
const DIGIT_TIMEOUT_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(10));
/// Longest in-call key sequence: a few keys, as Asterisk's features are.
const MAX_KEYS: usize = 8;
/// Longest transfer number or outside prefix.
const MAX_NUMBER: usize = 32;

/// Transfer targets besides agents' extensions (which come from `hardware/phones.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferSettings {
    /// A number an agent dials to send the caller to a queue: number → queue name.
    pub numbers: BTreeMap<String, String>,
    /// Outside numbers, when allowed: none by default.
    pub outside: Option<OutsideTransfer>,
}

/// Numbers starting with `prefix` go out through `trunk` (the prefix is stripped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideTransfer {
    pub prefix: String,
    pub trunk: SocketAddr,
}

/// The in-call key sequences (Asterisk's `features.conf` style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InCallKeys {
    /// Then a reason's digit: choose the hold reason (default `*4`).
    pub hold_reason: String,
    /// Then a number and `#` (or a pause): blind transfer (default `#1`).
    pub blind_transfer: String,
    /// Then a number and `#` (or a pause): attended transfer (default `*2`).
    pub attended_transfer: String,
    /// A sequence left unfinished this long is dropped (default 3 s).
    pub digit_timeout: Duration,
    /// Pause or resume the call's recording (default `*7`, a toggle): card numbers, PCI.
    pub pause_recording: String,
}

impl Default for InCallKeys {
    fn default() -> Self {
        InCallKeys {
            hold_reason: "*4".into(),
            blind_transfer: "#1".into(),
            attended_transfer: "*2".into(),
            digit_timeout: Duration::from_secs(3),
            pause_recording: "*7".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTransfer {
    numbers: Option<BTreeMap<String, String>>,
    outside: Option<RawOutside>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutside {
    prefix: String,
    trunk: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInCallKeys {
    hold_reason: Option<String>,
    blind_transfer: Option<String>,
    attended_transfer: Option<String>,
    digit_timeout: Option<String>,
    pause_recording: Option<String>,
}

/// `*` or `#`, then keys of the keypad: what a phone without feature buttons can send.
fn is_key_sequence(sequence: &str) -> bool {
    (sequence.starts_with('*') || sequence.starts_with('#'))
        && sequence.len() <= MAX_KEYS
        && sequence
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_NUMBER && text.chars().all(|c| c.is_ascii_digit())
}

impl Checker<'_> {
    pub(super) fn transfer(&mut self, raw: RawTransfer) -> TransferSettings {
        let mut numbers = BTreeMap::new();
        for (number, queue) in raw.numbers.unwrap_or_default() {
            let key = format!("transfer.numbers.{}", key_segment(&number));
            if !is_digits(&number) {
                self.error(
                    &key,
                    format!("transfer number \"{number}\" must be 1 to {MAX_NUMBER} digits 0-9, as an agent dials it"),
                );
                continue;
            }
            let queue = self.queue_ref(&key, queue);
            numbers.insert(number, queue);
        }
        let outside = raw.outside.and_then(|outside| {
            let mut ok = true;
            if !is_digits(&outside.prefix) {
                self.error(
                    "transfer.outside.prefix",
                    format!("\"{}\" must be 1 to {MAX_NUMBER} digits 0-9, such as \"0\"", outside.prefix),
                );
                ok = false;
            }
            let trunk = match outside.trunk.parse::<SocketAddr>() {
                Ok(trunk) if !trunk.ip().is_unspecified() && trunk.port() != 0 => Some(trunk),
                _ => {
                    self.error(
                        "transfer.outside.trunk",
                        format!("\"{}\" must be the trunk's IP address and SIP port, such as \"127.0.0.1:5080\"", outside.trunk),
                    );
                    None
                }
            };
            if let Some((number, _)) = numbers.iter().find(|(n, _)| n.starts_with(&outside.prefix)) {
                self.error(
                    "transfer.outside.prefix",
                    format!("\"{}\" also starts transfer number \"{number}\", which would then go out through the trunk", outside.prefix),
                );
                ok = false;
            }
            Some(OutsideTransfer {
                prefix: outside.prefix,
                trunk: trunk?,
            })
            .filter(|_| ok)
        });
        TransferSettings { numbers, outside }
    }

    pub(super) fn in_call_keys(&mut self, raw: RawInCallKeys) -> InCallKeys {
        let defaults = InCallKeys::default();
        let keys = InCallKeys {
            hold_reason: raw.hold_reason.unwrap_or(defaults.hold_reason.clone()),
            blind_transfer: raw
                .blind_transfer
                .unwrap_or(defaults.blind_transfer.clone()),
            attended_transfer: raw
                .attended_transfer
                .unwrap_or(defaults.attended_transfer.clone()),
            digit_timeout: self.bounded_duration(
                "in_call_keys.digit_timeout",
                raw.digit_timeout,
                defaults.digit_timeout,
                DIGIT_TIMEOUT_RANGE,
                "how long an unfinished key sequence waits for its next key",
            ),
            pause_recording: raw
                .pause_recording
                .unwrap_or(defaults.pause_recording.clone()),
        };
        let sequences = keys.sequences();
        for (index, (name, sequence)) in sequences.iter().enumerate() {
            let key = format!("in_call_keys.{name}");
            if !is_key_sequence(sequence) {
                self.error(
                    &key,
                    format!("\"{sequence}\" must be * or # then up to {} more keys of 0-9, * and #, such as \"*4\"", MAX_KEYS - 1),
                );
                continue;
            }
            if let Some((other, other_sequence)) = sequences[..index]
                .iter()
                .filter(|(_, other)| is_key_sequence(other))
                .find(|(_, other)| other.starts_with(sequence) || sequence.starts_with(other))
            {
                let what = other.replace('_', " ");
                let message = if other_sequence == sequence {
                    format!(
                        "\"{sequence}\" is also the {what} keys; each sequence must be different"
                    )
                } else {
                    format!("\"{sequence}\" and the {what} keys \"{other_sequence}\" begin alike; no sequence may begin another, or the shorter would always be taken first")
                };
                self.error(&key, message);
            }
        }
        keys
    }
}

impl InCallKeys {
    /// (key in `[in_call_keys]`, sequence) in the order hold reason, blind, attended.
    pub fn sequences(&self) -> [(&'static str, &str); 4] {
        [
            ("hold_reason", self.hold_reason.as_str()),
            ("blind_transfer", self.blind_transfer.as_str()),
            ("attended_transfer", self.attended_transfer.as_str()),
            ("pause_recording", self.pause_recording.as_str()),
        ]
    }
}

/// A transfer number must mean one thing on a desk phone: not a hotline number, not a
/// feature code (phone extensions are checked with the hardware).
pub(super) fn check_transfer_numbers(
    file: Option<&str>,
    transfer: &TransferSettings,
    hotlines: &[super::Hotline],
    codes: &super::FeatureCodes,
    errors: &mut Vec<ConfigError>,
) {
    let Some(file) = file else { return };
    for number in transfer.numbers.keys() {
        let key = format!("transfer.numbers.{}", key_segment(number));
        if let Some(hotline) = hotlines.iter().find(|h| h.numbers.contains(number)) {
            errors.push(ConfigError::new(
                file,
                key.as_str(),
                format!(
                    "transfer number \"{number}\" is also a number of hotline \"{}\" in {}",
                    hotline.name, hotline.file
                ),
            ));
        }
        if let Some(feature) = codes.lookup(number) {
            errors.push(ConfigError::new(
                file,
                key.as_str(),
                format!(
                    "transfer number \"{number}\" is also the {} feature code",
                    feature.config_name()
                ),
            ));
        }
    }
}

pub(crate) fn describe_transfer(transfer: &TransferSettings, keys: &InCallKeys) -> String {
    let numbers: Vec<String> = transfer
        .numbers
        .iter()
        .map(|(number, queue)| format!("{number} queue {queue}"))
        .collect();
    let numbers = if numbers.is_empty() {
        "extensions only".to_string()
    } else {
        format!("extensions and {}", numbers.join(", "))
    };
    let outside = match &transfer.outside {
        Some(outside) => format!(
            "outside numbers {}… through {}",
            outside.prefix, outside.trunk
        ),
        None => "no outside numbers".to_string(),
    };
    format!(
        "{numbers}; {outside}; keys {} hold reason, {} blind, {} attended, {} pause recording (dropped after {})",
        keys.hold_reason,
        keys.blind_transfer,
        keys.attended_transfer,
        keys.pause_recording,
        format_duration(keys.digit_timeout)
    )
}
