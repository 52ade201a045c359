//! INVITE with `Replaces` (RFC 3891): a new dialog that takes the place of one of ours. An
//! agent's connected leg can be replaced (the phone completing an attended transfer, a
//! colleague's phone taking the call over): the new dialog is answered in the caller's
//! media conversation, bridged with the caller and tracked as its agent leg; the replaced
//! leg gets a BYE. Refusals: 403 from neither a phone nor a trunk or for a dialog that is
//! not an agent's leg, 481 for no such dialog (or a leg not connected), 486 for
//! `early-only`, 488 without an SDP offer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use super::super::in_call_keys::KeySequence;
use super::super::queueing::{AgentLeg, LegPurpose, LegState};
use super::super::timeline::EventKind;
use super::super::{Incoming, MediaCommand, Output, Phase, Switch};
use crate::media::LegRole;
use crate::sip::sdp::{SdpError, SdpSession};
use crate::sip::{CallId, DialogRef};

impl Switch {
    /// A new INVITE carries `Replaces`: returns true when it was taken (or refused) here.
    pub(in crate::switch) fn on_replacing_invite(
        &mut self,
        now: Instant,
        call: CallId,
        incoming: &Incoming,
        replaces: &DialogRef,
    ) -> bool {
        let trunk = self.trunks.iter().any(|p| p.contains(incoming.source.ip()));
        if incoming.phone.is_none() && !trunk {
            tracing::warn!(source = %incoming.source, "INVITE with Replaces from neither a phone nor a trunk: 403");
            self.endpoint.reject_once(now, call, 403, None);
            return true;
        }
        let Some(named) = self.dialog_named(replaces) else {
            tracing::info!(call = %call, "INVITE with Replaces names no dialog of ours: 481");
            self.endpoint.reject_once(now, call, 481, None);
            return true;
        };
        self.replace_dialog(now, call, incoming, named, replaces.early_only);
        true
    }

    /// The new INVITE `call` takes the place of our dialog `named` (found from its
    /// `Replaces`): answered from a new RTP port in the conversation of the caller `named`
    /// served, bridged with that caller, tracked as the caller's agent leg; `named` gets a
    /// BYE. Only an agent's answered leg can be replaced; `early_only` refuses it (486).
    pub(in crate::switch) fn replace_dialog(
        &mut self,
        now: Instant,
        call: CallId,
        incoming: &Incoming,
        named: CallId,
        early_only: bool,
    ) {
        let Some(old) = self.legs.get(&named) else {
            // A caller's own dialog or a consultation call: nothing here can stand in for it.
            tracing::info!(call = %call, "INVITE with Replaces names a dialog that cannot be replaced: 403");
            return self.endpoint.reject_once(now, call, 403, None);
        };
        let (caller, old_agent) = (old.caller, old.agent.clone());
        let queue = match self.calls.get(&caller).map(|c| &c.phase) {
            Some(Phase::Connected { leg, queue, .. }) if *leg == named => queue.clone(),
            _ => {
                // Ringing, ending, or a consultation's colleague: no caller to hand over.
                tracing::info!(call = %call, "Replaces names an agent leg not connected: 481");
                return self.endpoint.reject_once(now, call, 481, None);
            }
        };
        if early_only {
            // RFC 3891 3: early-only, and the connected leg's dialog is confirmed.
            return self.endpoint.reject_once(now, call, 486, None);
        }
        let Some(offer) = incoming.offer.as_deref() else {
            tracing::info!(call = %call, "INVITE with Replaces without an SDP offer: 488");
            return self.endpoint.reject_once(now, call, 488, None);
        };
        let Some(port) = self.rtp_ports.allocate() else {
            return self.endpoint.reject_once(now, call, 503, Some(5));
        };
        let mut session = SdpSession::new(
            SocketAddr::new(self.settings.media_ip, port),
            u64::from(port),
        );
        let answer = match session.answer(offer) {
            Ok(answer) => answer,
            Err(error) => {
                self.rtp_ports.release(port);
                let status = if matches!(error, SdpError::Malformed(_)) {
                    400
                } else {
                    488
                };
                return self.endpoint.reject_once(now, call, status, None);
            }
        };
        let Some(media) = session.negotiated() else {
            self.rtp_ports.release(port);
            return self.endpoint.reject_once(now, call, 488, None);
        };
        let agent = incoming
            .phone
            .as_deref()
            .and_then(|user| self.acd.agent_by_user(user))
            .map(|a| a.spec.id.clone())
            .unwrap_or_else(|| old_agent.clone());
        self.opens.push_back(MediaCommand::Open {
            call,
            local_port: port,
            conversation: self.conversation_of(caller),
            expect_from: Some(media.remote),
        });
        self.endpoint.answer(now, call, &answer);
        let options = self.leg_options(caller, LegRole::Agent, &media, Some(incoming.source.ip()));
        self.outputs.push_back(Output::Media(MediaCommand::Start {
            call,
            local_port: port,
            remote: media.remote,
            codec: media.codec,
            payload_type: media.payload_type,
            telephone_event: media.telephone_event,
            options,
        }));
        self.legs.insert(
            call,
            AgentLeg {
                caller,
                agent: agent.clone(),
                invited_at: now,
                rtp_port: port,
                media: Some(media),
                media_started: true,
                media_opened: true,
                state: LegState::Connected,
                timer: None,
                whisper: VecDeque::new(),
                play: None,
                awaiting_caller: false,
                sdp: Some(session),
                purpose: LegPurpose::TransferTarget,
                keys: KeySequence::default(),
                signalling_host: incoming.source.ip(),
            },
        );
        if let Some(c) = self.calls.get_mut(&caller) {
            c.phase = Phase::Connected {
                leg: call,
                agent: agent.clone(),
                queue: queue.clone(),
            };
        }
        self.outputs
            .push_back(Output::Media(MediaCommand::Bridge { a: caller, b: call }));
        self.end_leg(now, named);
        if agent != old_agent {
            let target = self
                .acd
                .agent(&agent)
                .map(|a| a.spec.extension.clone())
                .unwrap_or_default();
            self.record(
                now,
                caller,
                EventKind::TransferRequested {
                    agent: old_agent.clone(),
                    kind: "attended".into(),
                    method: "invite_replaces".into(),
                    target,
                },
            );
            // A consultation the new phone's agent took part in is over: its call ends.
            if let Some(consultation) = self.consultations.remove(&caller) {
                self.end_consultation_dialogs(now, &consultation, None);
            }
            self.hand_over(now, caller, &old_agent, &agent, &queue);
        }
        self.end_hold(now, caller, true);
    }
}
