//! A call's context: what the caller already told the hotline and what happened to them —
//! IVR path and choices, account number, caller tier, whether their identity was verified,
//! hold and transfer reasons, the agents who had them. It travels with the caller to every
//! agent the call reaches (whisper and record) so the caller never repeats themselves
//! (STANDARDS.md §2).
//!
//! Derived from the call's own timeline: every event the switch records passes through
//! [`CallContext::observe`], so the context and the record cannot drift apart.

use super::timeline::EventKind;

/// The most IVR steps or reasons kept: a caller looping in a menu cannot grow it.
const MAX_ITEMS: usize = 16;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// Menu choices in order, e.g. `main:1`.
    pub ivr_path: Vec<String>,
    /// The account number the IVR collected, if any.
    pub account: Option<String>,
    /// The caller's priority tier, if any.
    pub tier: Option<String>,
    /// The IVR collected the caller's account number (the hotline's identity check).
    pub identity_verified: bool,
    /// Hold reasons given to the caller, in order.
    pub hold_reasons: Vec<String>,
    /// Where the call was transferred, in order (`queue:NAME`, an extension, a number).
    pub transfers: Vec<String>,
    /// The agent who transferred the call last.
    pub transferred_by: Option<String>,
    /// Every agent who talked to the caller, in order.
    pub agents: Vec<String>,
}

impl CallContext {
    /// Takes in one event of the call's timeline.
    pub fn observe(&mut self, event: &EventKind) {
        match event {
            EventKind::MenuChoice { menu, digit, .. } => {
                push_bounded(&mut self.ivr_path, format!("{menu}:{digit}"))
            }
            EventKind::Collected { name, digits } if name == "account" => {
                self.account = Some(digits.clone());
                self.identity_verified = true;
            }
            EventKind::HoldReason { reason, .. } => {
                push_bounded(&mut self.hold_reasons, reason.clone())
            }
            EventKind::TransferRequested { agent, target, .. } => {
                push_bounded(&mut self.transfers, target.clone());
                self.transferred_by = Some(agent.clone());
            }
            EventKind::AgentAnswered { agent, .. } if self.agents.last() != Some(agent) => {
                push_bounded(&mut self.agents, agent.clone())
            }
            _ => {}
        }
    }
}

fn push_bounded(list: &mut Vec<String>, item: String) {
    if list.len() < MAX_ITEMS {
        list.push(item);
    }
}
