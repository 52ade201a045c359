//! RFC 4733 telephone-events in, keypad digits out.
//!
//! A sender repeats an event's packets every few tens of milliseconds while the key is held,
//! all with the timestamp of the event's start, then sends the end packet three times. A digit
//! is reported once per event: on the first end packet, or, when every end packet was lost, as
//! soon as something shows the event is over (a new event's timestamp or the audio resuming).

/// One key press, as reported to the switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit {
    /// One of `0-9 * # A-D`.
    pub digit: char,
    /// How long the key was held, from the event's duration field (8 kHz clock).
    pub duration_ms: u32,
}

/// The telephone-event payload fields of RFC 4733 section 2.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    /// In RTP clock units (samples at 8 kHz).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Reads the first four bytes; a shorter payload is not a telephone-event.
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let [event, flags, d0, d1] = *payload.first_chunk::<4>()?;
        Some(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }
}

/// The keypad character for a DTMF event code (RFC 4733 section 3.2); `None` for the other
/// events (flash, modem and fax tones) which the switch does not act on.
pub fn event_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + (event - 12))),
        _ => None,
    }
}

/// How far behind the last reported digit a telephone-event may arrive and still be taken
/// for a late copy of it: 2 s of 8 kHz samples.
const LATE_WINDOW_SAMPLES: i32 = 16_000;

/// How far past an open event's last reported duration audio must be before the event is
/// taken as over: RFC 4733 senders update every 50 ms, so 100 ms (800 samples) means at least
/// one update would have arrived had the key still been held.
const AUDIO_RESUMED_MARGIN: i32 = 800;

#[derive(Debug, Clone, Copy)]
struct EventInProgress {
    timestamp: u32,
    event: u8,
    duration: u16,
}

/// Turns a stream of telephone-event packets into one digit per key press.
#[derive(Debug, Clone, Default)]
pub struct DtmfDetector {
    in_progress: Option<EventInProgress>,
    /// Timestamp of the last event reported; its late repeats and retransmitted ends are
    /// ignored, as is anything older.
    last_reported: Option<u32>,
}

impl DtmfDetector {
    pub fn new() -> DtmfDetector {
        DtmfDetector::default()
    }

    /// Feeds one telephone-event packet (its RTP timestamp and payload). Calls `report` for each
    /// digit that is now complete: at most two, when a lost end is discovered by the next
    /// event's own end packet.
    pub fn on_packet(&mut self, timestamp: u32, payload: &[u8], mut report: impl FnMut(DtmfDigit)) {
        let Some(packet) = TelephoneEvent::parse(payload) else {
            return;
        };
        if let Some(last) = self.last_reported {
            // Serial-number comparison (RFC 1982 style) so the test survives timestamp wrap.
            // A packet a little older than the last digit is a late copy of an event already
            // reported; one far older means the sender restarted its RTP clock (some gateways
            // and SIPp's replayed captures do), so it starts a new event.
            let behind = last.wrapping_sub(timestamp) as i32;
            if timestamp == last || (0 < behind && behind <= LATE_WINDOW_SAMPLES) {
                return;
            }
        }
        match self.in_progress.as_mut() {
            Some(current) if current.timestamp == timestamp => {
                current.duration = current.duration.max(packet.duration);
                current.event = packet.event;
            }
            _ => {
                // A new event began before the old one's end arrived: the end was lost.
                self.finish(&mut report);
                self.start(timestamp, packet);
            }
        }
        if packet.end {
            self.finish(&mut report);
        }
    }

    /// An audio packet with RTP timestamp `timestamp` arrived on the same stream. If it lies
    /// clearly past the open event's last known end, the sender has gone back to audio and the
    /// event lost all its end packets. Audio that some phones keep sending during the event
    /// falls inside it and changes nothing.
    pub fn on_audio(&mut self, timestamp: u32, mut report: impl FnMut(DtmfDigit)) {
        let Some(current) = self.in_progress else {
            return;
        };
        let since_start = timestamp.wrapping_sub(current.timestamp) as i32;
        if since_start > i32::from(current.duration) + AUDIO_RESUMED_MARGIN {
            self.finish(&mut report);
        }
    }

    fn start(&mut self, timestamp: u32, packet: TelephoneEvent) {
        self.in_progress = Some(EventInProgress {
            timestamp,
            event: packet.event,
            duration: packet.duration,
        });
    }

    fn finish(&mut self, report: &mut impl FnMut(DtmfDigit)) {
        let Some(done) = self.in_progress.take() else {
            return;
        };
        self.last_reported = Some(done.timestamp);
        if let Some(digit) = event_digit(done.event) {
            report(DtmfDigit {
                digit,
                duration_ms: u32::from(done.duration) / 8,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let d = duration.to_be_bytes();
        [event, if end { 0x80 | 10 } else { 10 }, d[0], d[1]]
    }

    fn run(detector: &mut DtmfDetector, packets: &[(u32, [u8; 4])]) -> Vec<DtmfDigit> {
        let mut digits = Vec::new();
        for (timestamp, p) in packets {
            detector.on_packet(*timestamp, p, |d| digits.push(d));
        }
        digits
    }

    /// What a phone sends for a 100 ms key press: updates every 20 ms (160 samples), all with
    /// the event's start timestamp, then the end packet three times with the final duration.
    fn key_press(event: u8, timestamp: u32, updates: u16, with_end: bool) -> Vec<(u32, [u8; 4])> {
        let mut packets: Vec<_> = (1..=updates)
            .map(|i| (timestamp, payload(event, false, i * 160)))
            .collect();
        if with_end {
            for _ in 0..3 {
                packets.push((timestamp, payload(event, true, (updates + 1) * 160)));
            }
        }
        packets
    }

    #[test]
    fn maps_every_keypad_event() {
        let keys: String = (0..=15).filter_map(event_digit).collect();
        assert_eq!(keys, "0123456789*#ABCD");
        assert_eq!(event_digit(16), None);
    }

    #[test]
    fn a_key_press_with_three_end_packets_is_one_digit() {
        let mut detector = DtmfDetector::new();
        let digits = run(&mut detector, &key_press(5, 48_000, 5, true));
        assert_eq!(
            digits,
            vec![DtmfDigit {
                digit: '5',
                duration_ms: 120
            }]
        );
    }

    #[test]
    fn the_digit_is_reported_on_the_first_end_packet() {
        let mut detector = DtmfDetector::new();
        let packets = key_press(11, 1000, 3, true);
        let (before_end, ends) = packets.split_at(3);
        assert!(run(&mut detector, before_end).is_empty());
        assert_eq!(run(&mut detector, &ends[..1]).len(), 1);
        assert!(run(&mut detector, &ends[1..]).is_empty());
    }

    #[test]
    fn the_same_digit_twice_is_two_events() {
        let mut detector = DtmfDetector::new();
        let mut packets = key_press(1, 8000, 4, true);
        packets.extend(key_press(1, 8000 + 1600, 4, true));
        let digits: String = run(&mut detector, &packets)
            .iter()
            .map(|d| d.digit)
            .collect();
        assert_eq!(digits, "11");
    }

    #[test]
    fn a_lost_end_is_reported_when_the_next_event_starts() {
        let mut detector = DtmfDetector::new();
        let mut packets = key_press(9, 16_000, 4, false);
        packets.extend(key_press(1, 16_000 + 2400, 4, true));
        let digits = run(&mut detector, &packets);
        assert_eq!(
            digits,
            vec![
                DtmfDigit {
                    digit: '9',
                    duration_ms: 80
                },
                DtmfDigit {
                    digit: '1',
                    duration_ms: 100
                }
            ]
        );
    }

    #[test]
    fn a_lost_end_is_reported_when_audio_resumes() {
        let mut detector = DtmfDetector::new();
        // Key held for 6 updates (duration 960 samples from timestamp 500), then all ends lost.
        assert!(run(&mut detector, &key_press(0, 500, 6, false)).is_empty());
        let mut digits = Vec::new();
        // Audio inside the event (a phone that keeps sending it) does not end the event.
        detector.on_audio(500 + 960, |d| digits.push(d));
        assert!(digits.is_empty());
        detector.on_audio(500 + 960 + 960, |d| digits.push(d));
        detector.on_audio(500 + 960 + 1120, |d| digits.push(d));
        assert_eq!(digits.len(), 1);
        assert_eq!(digits[0].digit, '0');
        // The event's straggling end packets after the audio must not report it again.
        assert!(run(&mut detector, &key_press(0, 500, 0, true)).is_empty());
    }

    #[test]
    fn late_packets_of_an_older_event_are_ignored() {
        let mut detector = DtmfDetector::new();
        assert_eq!(run(&mut detector, &key_press(2, 10_000, 2, true)).len(), 1);
        assert!(run(&mut detector, &key_press(7, 9_000, 2, true)).is_empty());
    }

    #[test]
    fn timestamps_that_wrap_still_work() {
        let mut detector = DtmfDetector::new();
        let mut packets = key_press(3, u32::MAX - 100, 2, true);
        packets.extend(key_press(4, 1500, 2, true));
        let digits: String = run(&mut detector, &packets)
            .iter()
            .map(|d| d.digit)
            .collect();
        assert_eq!(digits, "34");
    }

    #[test]
    fn short_payloads_and_non_keypad_events_are_ignored() {
        let mut detector = DtmfDetector::new();
        let mut digits = Vec::new();
        detector.on_packet(0, &[1, 0x80], |d| digits.push(d));
        detector.on_packet(0, &[], |d| digits.push(d));
        for p in key_press(16, 320, 2, true) {
            detector.on_packet(p.0, &p.1, |d| digits.push(d));
        }
        assert!(digits.is_empty());
    }

    #[test]
    fn a_sender_that_restarts_its_clock_still_gets_its_next_digit() {
        // SIPp's dtmf_2833_9.pcap then dtmf_2833_1.pcap: same SSRC, timestamp 67840 then 13280.
        let mut detector = DtmfDetector::new();
        let mut digits = Vec::new();
        for (ts, event) in [(67_840u32, 9u8), (13_280, 1)] {
            for step in 0..7u16 {
                detector.on_packet(ts, &payload(event, false, step * 320), |d| {
                    digits.push(d.digit)
                });
            }
            for _ in 0..3 {
                detector.on_packet(ts, &payload(event, true, 2240), |d| digits.push(d.digit));
            }
        }
        assert_eq!(digits, vec!['9', '1']);
    }

    #[test]
    fn a_late_copy_of_an_earlier_event_is_not_a_new_digit() {
        let mut detector = DtmfDetector::new();
        let mut digits = Vec::new();
        detector.on_packet(8_000, &payload(5, true, 800), |d| digits.push(d.digit));
        detector.on_packet(16_000, &payload(6, true, 800), |d| digits.push(d.digit));
        detector.on_packet(8_000, &payload(5, true, 800), |d| digits.push(d.digit));
        assert_eq!(digits, vec!['5', '6']);
    }
}
