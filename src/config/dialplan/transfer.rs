//! `[transfer]` and `[in_call_keys]`: where an agent may transfer a caller — queues by their
//! transfer numbers, agents by extension, outside numbers through a trunk when allowed — and
//! the key sequences agents press during a call (hold reason, blind and attended transfer),
//! their TOML shape and their checks.
//!
//! Contract (issue 8): the types and shipped defaults; the TOML reading is the config piece's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

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
}

impl Default for InCallKeys {
    fn default() -> Self {
        InCallKeys {
            hold_reason: "*4".into(),
            blind_transfer: "#1".into(),
            attended_transfer: "*2".into(),
            digit_timeout: Duration::from_secs(3),
        }
    }
}
