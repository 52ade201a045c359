//! The datagrams a media engine has ready for its worker to send: fixed-size slots reused
//! for the whole life of the worker, so queueing a packet never allocates once the worker has
//! seen its busiest tick (one slot per leg). Packets are written in place into a slot.

use std::net::SocketAddr;

use super::engine::Transmit;
use super::rtp::HEADER_LEN;
use crate::sip::CallId;

/// Room for one packet: an RTP header and the largest payload relayed (60 ms of G.711), or
/// an RTCP compound report.
/// Largest payload carried from one leg to the other: 60 ms of G.711, the longest packet
/// time phones use. A longer payload is cut to this, so every slot has a fixed size.
pub const RELAY_PAYLOAD_MAX: usize = 480;

pub const SLOT_BYTES: usize = HEADER_LEN + RELAY_PAYLOAD_MAX + 20;

/// Packets held between drains: far more than one tick of any worker's legs. Reaching it
/// means the worker stopped draining; newer packets are dropped and counted.
const MAX_QUEUED: usize = 16_384;

struct Slot {
    call: CallId,
    rtcp: bool,
    to: SocketAddr,
    len: usize,
    bytes: [u8; SLOT_BYTES],
}

/// A queue of datagrams to send, drained by `pop` in order.
pub struct Outbox {
    slots: Vec<Slot>,
    used: usize,
    next: usize,
    dropped: u64,
}

impl Outbox {
    pub fn with_capacity(packets: usize) -> Outbox {
        Outbox {
            slots: Vec::with_capacity(packets),
            used: 0,
            next: 0,
            dropped: 0,
        }
    }

    /// Moves what was not sent yet to the front; called before each input, after the worker
    /// drained (or not) the previous one.
    pub fn compact(&mut self) {
        if self.next == self.used {
            self.used = 0;
        } else if self.next > 0 {
            self.slots[..self.used].rotate_left(self.next);
            self.used -= self.next;
        }
        self.next = 0;
    }

    /// The buffer of the next packet, to be written in place and then `commit`ted; `None`
    /// when the queue is full.
    pub fn buffer(&mut self) -> Option<&mut [u8; SLOT_BYTES]> {
        if self.used >= MAX_QUEUED {
            self.dropped += 1;
            return None;
        }
        if self.used == self.slots.len() {
            self.slots.push(Slot {
                call: CallId(0),
                rtcp: false,
                to: SocketAddr::from(([0, 0, 0, 0], 0)),
                len: 0,
                bytes: [0; SLOT_BYTES],
            });
        }
        Some(&mut self.slots[self.used].bytes)
    }

    /// Queues the packet just written into `buffer`, `len` bytes long.
    pub fn commit(&mut self, call: CallId, rtcp: bool, to: SocketAddr, len: usize) {
        let slot = &mut self.slots[self.used];
        slot.call = call;
        slot.rtcp = rtcp;
        slot.to = to;
        slot.len = len.min(SLOT_BYTES);
        self.used += 1;
    }

    pub fn pop(&mut self) -> Option<Transmit<'_>> {
        if self.next >= self.used {
            return None;
        }
        let slot = &self.slots[self.next];
        self.next += 1;
        Some(Transmit {
            call: slot.call,
            rtcp: slot.rtcp,
            to: slot.to,
            bytes: &slot.bytes[..slot.len],
        })
    }

    /// Packets dropped because the worker stopped draining.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(outbox: &mut Outbox, call: u64, byte: u8) {
        let to = SocketAddr::from(([127, 0, 0, 1], 4000));
        outbox.buffer().unwrap()[0] = byte;
        outbox.commit(CallId(call), false, to, 1);
    }

    #[test]
    fn packets_come_out_in_order_and_undrained_ones_survive_a_compaction() {
        let mut outbox = Outbox::with_capacity(4);
        for (call, byte) in [(1, 10), (2, 20), (3, 30)] {
            push(&mut outbox, call, byte);
        }
        let first = outbox.pop().unwrap();
        assert_eq!((first.call, first.bytes), (CallId(1), &[10u8][..]));
        outbox.compact();
        push(&mut outbox, 4, 40);
        let mut rest = Vec::new();
        while let Some(t) = outbox.pop() {
            rest.push((t.call.0, t.bytes[0]));
        }
        assert_eq!(rest, vec![(2, 20), (3, 30), (4, 40)]);
        outbox.compact();
        assert_eq!(outbox.pop(), None);
        assert_eq!(outbox.slots.len(), 3, "slots are reused, not added");
    }
}
