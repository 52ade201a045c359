//! RFC 4733 telephone-events out: the packets a leg sends, one per 20 ms tick, for each digit
//! the switch asks it to send (`MediaCommand::SendDtmf`) — five updates of a 100 ms key press
//! (the first with the marker bit), then the end packet three times, volume 10, all with the
//! timestamp of the event's start — with a short gap of audio between queued digits.
//!
//! Owns the schedule and the payloads only: the leg numbers the packets on its own stream
//! (SSRC, sequence, the start timestamp) and sends them instead of its audio. Nothing here
//! allocates: the digits waiting their turn sit in a fixed ring.

use super::FRAME_SAMPLES;

/// The volume written in every packet: −10 dBm0, what Asterisk and most phones send.
pub const EVENT_VOLUME: u8 = 10;
/// Updates while the key is "held": 5 × 20 ms = 100 ms of tone.
pub const UPDATE_PACKETS: u8 = 5;
/// RFC 4733 section 2.5.1.4: the end packet is sent three times.
pub const END_PACKETS: u8 = 3;
/// Ticks of audio between one digit's last end packet and the next digit's first packet.
pub const GAP_TICKS: u8 = 2;
/// Digits waiting their turn; more are dropped (an agent keys far slower than this drains).
pub const QUEUE_LIMIT: usize = 16;

/// The duration field of the end packets: the whole press, in 8 kHz samples.
const PRESS_DURATION: u16 = UPDATE_PACKETS as u16 * FRAME_SAMPLES as u16;

/// The RFC 4733 event code of a keypad digit (section 3.2); `None` for anything else.
pub fn digit_event(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(digit as u8 - b'A' + 12),
        _ => None,
    }
}

/// One telephone-event packet to send on this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// The first packet of an event: marker bit set, and its timestamp starts the event.
    pub first: bool,
    /// Event, E|R|volume, duration (big-endian): RFC 4733 section 2.3.
    pub payload: [u8; 4],
}

#[derive(Debug, Clone, Copy)]
struct Sending {
    event: u8,
    /// Packets of this event already sent.
    sent: u8,
}

/// The digits a leg is sending and waiting to send.
#[derive(Debug, Clone, Default)]
pub struct DtmfSender {
    current: Option<Sending>,
    /// Ticks of audio still owed before the next digit starts.
    gap: u8,
    queue: [u8; QUEUE_LIMIT],
    head: usize,
    queued: usize,
}

impl DtmfSender {
    pub fn new() -> DtmfSender {
        DtmfSender::default()
    }

    /// Queues the event code `event` to be sent after those already waiting; false (and
    /// nothing queued) when `QUEUE_LIMIT` digits already wait.
    pub fn push(&mut self, event: u8) -> bool {
        if self.queued >= QUEUE_LIMIT {
            return false;
        }
        self.queue[(self.head + self.queued) % QUEUE_LIMIT] = event;
        self.queued += 1;
        true
    }

    /// Whether an event is under way: its packets replace the leg's audio until it ends.
    pub fn sending(&self) -> bool {
        self.current.is_some()
    }

    /// Drops the event under way and every digit waiting (the leg stopped sending).
    pub fn cancel(&mut self) {
        *self = DtmfSender::default();
    }

    /// The tick: the telephone-event packet to send instead of audio, or `None` (audio).
    pub fn next_packet(&mut self) -> Option<EventPacket> {
        if self.current.is_none() {
            if self.queued == 0 {
                return None;
            }
            if self.gap > 0 {
                self.gap -= 1;
                return None;
            }
            let event = self.queue[self.head];
            self.head = (self.head + 1) % QUEUE_LIMIT;
            self.queued -= 1;
            self.current = Some(Sending { event, sent: 0 });
        }
        let sending = self.current.as_mut()?;
        let index = sending.sent;
        sending.sent += 1;
        let end = index >= UPDATE_PACKETS;
        let duration = if end {
            PRESS_DURATION
        } else {
            (u16::from(index) + 1) * FRAME_SAMPLES as u16
        };
        let event = sending.event;
        if sending.sent == UPDATE_PACKETS + END_PACKETS {
            self.current = None;
            self.gap = GAP_TICKS;
        }
        let flags = if end { 0x80 } else { 0 } | EVENT_VOLUME;
        let [d0, d1] = duration.to_be_bytes();
        Some(EventPacket {
            first: index == 0,
            payload: [event, flags, d0, d1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::dtmf::event_digit;

    fn packet(first: bool, event: u8, end: bool, duration: u16) -> Option<EventPacket> {
        let [d0, d1] = duration.to_be_bytes();
        Some(EventPacket {
            first,
            payload: [event, if end { 0x80 | 10 } else { 10 }, d0, d1],
        })
    }

    #[test]
    fn every_keypad_digit_has_its_rfc_4733_event_and_nothing_else_has_one() {
        for event in 0..16u8 {
            let digit = event_digit(event).unwrap();
            assert_eq!(digit_event(digit), Some(event), "{digit}");
        }
        for other in ['a', 'E', ' ', '\n', '+', 'ä'] {
            assert_eq!(digit_event(other), None, "{other:?}");
        }
    }

    #[test]
    fn a_digit_is_five_updates_then_three_ends_of_the_whole_press() {
        let mut sender = DtmfSender::new();
        assert_eq!(sender.next_packet(), None, "nothing to send");
        assert!(sender.push(7));
        let sent: Vec<_> = (0..9).map(|_| sender.next_packet()).collect();
        assert_eq!(
            sent,
            vec![
                packet(true, 7, false, 160),
                packet(false, 7, false, 320),
                packet(false, 7, false, 480),
                packet(false, 7, false, 640),
                packet(false, 7, false, 800),
                packet(false, 7, true, 800),
                packet(false, 7, true, 800),
                packet(false, 7, true, 800),
                None,
            ]
        );
        assert!(!sender.sending());
    }

    #[test]
    fn queued_digits_follow_in_order_after_two_ticks_of_audio() {
        let mut sender = DtmfSender::new();
        sender.push(1);
        sender.push(11);
        let mut firsts = Vec::new();
        for tick in 0..30 {
            if let Some(p) = sender.next_packet() {
                if p.first {
                    firsts.push((tick, p.payload[0]));
                }
            }
        }
        assert_eq!(firsts, vec![(0, 1), (10, 11)]);
    }

    #[test]
    fn the_queue_is_bounded_and_a_cancel_drops_everything() {
        let mut sender = DtmfSender::new();
        for i in 0..QUEUE_LIMIT {
            assert!(sender.push(i as u8 % 16));
        }
        assert!(!sender.push(3), "the 17th digit is refused");
        assert_eq!(sender.next_packet(), packet(true, 0, false, 160));
        assert!(sender.sending());
        sender.cancel();
        assert!(!sender.sending());
        assert_eq!(sender.next_packet(), None);
    }
}
