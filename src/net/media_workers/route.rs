//! Which media worker a command goes to. Every leg of a conversation lives in the worker
//! its conversation hashes to, remembered per call from its `Open` or `Start` until its `End`;
//! commands for calls no worker owns are dropped.

use crate::media::command::MediaCommand;
use crate::sip::{CallId, CallIdMap};

pub(super) struct Router {
    workers: usize,
    /// The worker of every call with media, from its first `Open`/`Start` to its `End`.
    /// Bounded by the switch's own call admission: only the switch creates call ids.
    worker_of: CallIdMap<usize>,
}

impl Router {
    pub(super) fn new(workers: usize) -> Router {
        Router {
            workers: workers.max(1),
            worker_of: CallIdMap::default(),
        }
    }

    /// The worker `command` goes to, or `None` when it is dropped (logged).
    pub(super) fn route(&mut self, command: &MediaCommand) -> Option<usize> {
        match command {
            MediaCommand::Open {
                call, conversation, ..
            } => Some(self.place(*call, *conversation)),
            MediaCommand::Start { call, options, .. } => {
                Some(self.place(*call, options.conversation))
            }
            MediaCommand::End { call } => {
                let worker = self.worker_of.remove(call);
                if worker.is_none() {
                    tracing::debug!(call = %call, "media End for a call without media dropped");
                }
                worker
            }
            MediaCommand::Bridge { a, b } => {
                match (self.worker_of.get(a), self.worker_of.get(b)) {
                    (Some(&wa), Some(&wb)) if wa == wb => Some(wa),
                    (Some(&wa), Some(&wb)) => {
                        // Issue 8 moves a leg between workers; until then the bridge is
                        // refused rather than relayed across threads.
                        tracing::warn!(a = %a, b = %b, worker_a = wa, worker_b = wb,
                            "bridge between legs of different media workers dropped");
                        None
                    }
                    _ => {
                        tracing::debug!(a = %a, b = %b, "bridge with a leg without media dropped");
                        None
                    }
                }
            }
            MediaCommand::Redirect { call, .. }
            | MediaCommand::Play { call, .. }
            | MediaCommand::PlayLoop { call, .. }
            | MediaCommand::PlayMixed { call, .. }
            | MediaCommand::SendDtmf { call, .. }
            | MediaCommand::Stop { call }
            | MediaCommand::Unbridge { call }
            | MediaCommand::RecordCaller { call, .. }
            | MediaCommand::RecordJourney { call, .. }
            | MediaCommand::PauseJourney { call, .. }
            | MediaCommand::Renegotiate { call, .. } => {
                let worker = self.worker_of.get(call).copied();
                if worker.is_none() {
                    tracing::debug!(call = %call, "media command for a call without media dropped");
                }
                worker
            }
        }
    }

    /// The worker that owns `call`, if any.
    pub(super) fn worker_of(&self, call: CallId) -> Option<usize> {
        self.worker_of.get(&call).copied()
    }

    /// Forgets `call` (its socket could not be opened, so there will be no `End` for it).
    pub(super) fn forget(&mut self, call: CallId) {
        self.worker_of.remove(&call);
    }

    /// A call already placed stays where it is; a new one joins its conversation's worker
    /// (where the conversation's first leg is) or the one the conversation hashes to.
    fn place(&mut self, call: CallId, conversation: CallId) -> usize {
        if let Some(&worker) = self.worker_of.get(&call) {
            return worker;
        }
        let worker = self
            .worker_of
            .get(&conversation)
            .copied()
            .unwrap_or_else(|| self.hash(conversation));
        self.worker_of.insert(call, worker);
        worker
    }

    /// Fibonacci hashing: call ids are handed out in order, the top bits of the product
    /// spread them evenly whatever the worker count.
    fn hash(&self, conversation: CallId) -> usize {
        let mixed = conversation.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((mixed >> 32) % self.workers as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::media::command::LegOptions;
    use crate::media::{Codec, LegRole, MediaRecordKey};

    fn open(call: u64, conversation: u64) -> MediaCommand {
        MediaCommand::Open {
            call: CallId(call),
            local_port: 20_000,
            conversation: CallId(conversation),
            expect_from: None,
        }
    }

    fn start(call: u64, conversation: u64) -> MediaCommand {
        MediaCommand::Start {
            call: CallId(call),
            local_port: 20_000,
            remote: "127.0.0.1:9".parse().unwrap(),
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event: None,
            options: LegOptions {
                conversation: CallId(conversation),
                record: MediaRecordKey {
                    call_id: String::new(),
                    role: LegRole::Caller,
                },
                media_timeout: Duration::from_secs(60),
                inband_dtmf: false,
                rtcp_mux: false,
                hold_back_dtmf: false,
                signalling_host: None,
            },
        }
    }

    #[test]
    fn both_legs_of_every_conversation_share_a_worker_and_conversations_spread() {
        let mut router = Router::new(4);
        let mut used = [0usize; 4];
        for conversation in 1..=64u64 {
            let caller = router.route(&start(conversation, conversation)).unwrap();
            let agent = router
                .route(&open(1000 + conversation, conversation))
                .unwrap();
            assert_eq!(caller, agent, "conversation {conversation}");
            used[caller] += 1;
        }
        assert!(
            used.iter().all(|&n| n > 0),
            "every worker gets calls: {used:?}"
        );
    }

    #[test]
    fn a_placed_call_stays_in_its_worker_until_end_and_is_unknown_after() {
        let mut router = Router::new(4);
        let w = router.route(&open(7, 7)).unwrap();
        // Start naming another conversation does not move an opened leg.
        let other = (100..200).find(|&c| router.hash(CallId(c)) != w).unwrap();
        assert_eq!(router.route(&start(7, other)), Some(w));
        assert_eq!(
            router.route(&MediaCommand::Stop { call: CallId(7) }),
            Some(w)
        );
        assert_eq!(
            router.route(&MediaCommand::End { call: CallId(7) }),
            Some(w)
        );
        assert_eq!(router.route(&MediaCommand::Stop { call: CallId(7) }), None);
        assert_eq!(router.route(&MediaCommand::End { call: CallId(7) }), None);
        assert_eq!(router.worker_of(CallId(7)), None);
    }

    #[test]
    fn bridges_go_to_the_shared_worker_and_are_dropped_across_workers() {
        let mut router = Router::new(4);
        let w = router.route(&start(1, 1)).unwrap();
        router.route(&open(2, 1));
        assert_eq!(
            router.route(&MediaCommand::Bridge {
                a: CallId(1),
                b: CallId(2)
            }),
            Some(w)
        );
        let elsewhere = (100..200).find(|&c| router.hash(CallId(c)) != w).unwrap();
        router.route(&start(50, elsewhere));
        assert_ne!(router.worker_of(CallId(50)), Some(w));
        assert_eq!(
            router.route(&MediaCommand::Bridge {
                a: CallId(1),
                b: CallId(50)
            }),
            None
        );
        assert_eq!(
            router.route(&MediaCommand::Bridge {
                a: CallId(1),
                b: CallId(99)
            }),
            None
        );
    }

    #[test]
    fn a_forgotten_call_takes_no_more_commands() {
        let mut router = Router::new(2);
        router.route(&open(3, 3));
        router.forget(CallId(3));
        assert_eq!(
            router.route(&MediaCommand::Unbridge { call: CallId(3) }),
            None
        );
    }
}
