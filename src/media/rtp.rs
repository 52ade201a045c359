//! RTP (RFC 3550) packets: a borrowing parser for what arrives and a writer for what we send.
//!
//! Parsing never allocates and never panics: every length comes from the packet and is checked
//! before it is used. Writing goes into a caller-owned buffer so the session reuses one array
//! for the whole call.

use thiserror::Error;

/// Fixed RTP header: V/P/X/CC, M/PT, sequence, timestamp, SSRC.
pub const HEADER_LEN: usize = 12;
const VERSION: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtpError {
    #[error("RTP packet of {len} bytes is shorter than the 12-byte header")]
    TooShort { len: usize },
    #[error("RTP version {version} is not 2")]
    BadVersion { version: u8 },
    #[error("RTP packet of {len} bytes is too short for its {csrc_count} CSRCs")]
    TruncatedCsrc { len: usize, csrc_count: usize },
    #[error("RTP header extension runs past the end of the {len}-byte packet")]
    TruncatedExtension { len: usize },
    #[error("RTP padding of {padding} bytes does not fit a {payload_len}-byte payload")]
    BadPadding { padding: usize, payload_len: usize },
    #[error("buffer of {capacity} bytes cannot hold an RTP packet of {needed} bytes")]
    BufferTooSmall { capacity: usize, needed: usize },
}

/// A received RTP packet, borrowing from the datagram it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    csrc: &'a [u8],
    /// Profile-defined identifier and the extension body (without its 4-byte header).
    pub extension: Option<(u16, &'a [u8])>,
    /// The payload with any padding removed.
    pub payload: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    pub fn parse(packet: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        let len = packet.len();
        let Some((header, rest)) = packet.split_first_chunk::<HEADER_LEN>() else {
            return Err(RtpError::TooShort { len });
        };
        let version = header[0] >> 6;
        if version != VERSION {
            return Err(RtpError::BadVersion { version });
        }
        let has_padding = header[0] & 0x20 != 0;
        let has_extension = header[0] & 0x10 != 0;
        let csrc_count = usize::from(header[0] & 0x0F);
        let marker = header[1] & 0x80 != 0;
        let payload_type = header[1] & 0x7F;
        let sequence = u16::from_be_bytes([header[2], header[3]]);
        let timestamp = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let ssrc = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);

        let (csrc, rest) = rest
            .split_at_checked(csrc_count * 4)
            .ok_or(RtpError::TruncatedCsrc { len, csrc_count })?;

        let (extension, rest) = if has_extension {
            let (ext_header, ext_rest) = rest
                .split_first_chunk::<4>()
                .ok_or(RtpError::TruncatedExtension { len })?;
            let profile = u16::from_be_bytes([ext_header[0], ext_header[1]]);
            let words = usize::from(u16::from_be_bytes([ext_header[2], ext_header[3]]));
            let (body, after) = ext_rest
                .split_at_checked(words * 4)
                .ok_or(RtpError::TruncatedExtension { len })?;
            (Some((profile, body)), after)
        } else {
            (None, rest)
        };

        let payload = if has_padding {
            // The last byte counts the padding, itself included (RFC 3550 section 5.1).
            let padding = usize::from(rest.last().copied().unwrap_or(0));
            if padding == 0 || padding > rest.len() {
                return Err(RtpError::BadPadding {
                    padding,
                    payload_len: rest.len(),
                });
            }
            &rest[..rest.len() - padding]
        } else {
            rest
        };

        Ok(RtpPacket {
            marker,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrc,
            extension,
            payload,
        })
    }

    /// Contributing sources, as listed by a mixer.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.csrc
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }

    pub fn csrc_count(&self) -> usize {
        self.csrc.len() / 4
    }
}

/// The sending side of one RTP stream: SSRC, sequence and timestamp, advanced per packet.
///
/// All three start random (RFC 3550 section 5.1) so that a known-plaintext attack or a stale
/// packet from an earlier call cannot line up with this one.
#[derive(Debug, Clone)]
pub struct RtpSender {
    pub ssrc: u32,
    pub payload_type: u8,
    next_sequence: u16,
    next_timestamp: u32,
    sent_any: bool,
}

impl RtpSender {
    pub fn new(payload_type: u8) -> RtpSender {
        RtpSender::with_start(payload_type, rand::random(), rand::random(), rand::random())
    }

    /// A sender with chosen starting values, for tests and reproducible captures.
    pub fn with_start(payload_type: u8, ssrc: u32, sequence: u16, timestamp: u32) -> RtpSender {
        RtpSender {
            ssrc,
            payload_type: payload_type & 0x7F,
            next_sequence: sequence,
            next_timestamp: timestamp,
            sent_any: false,
        }
    }

    pub fn next_sequence(&self) -> u16 {
        self.next_sequence
    }

    pub fn next_timestamp(&self) -> u32 {
        self.next_timestamp
    }

    /// Writes the next packet (header + `payload`) into `out` and advances the sequence by one
    /// and the timestamp by `samples`. Returns the packet length.
    ///
    /// The marker bit is set on the stream's first packet: the start of the first talkspurt.
    pub fn write(
        &mut self,
        payload: &[u8],
        samples: u32,
        out: &mut [u8],
    ) -> Result<usize, RtpError> {
        let needed = HEADER_LEN + payload.len();
        let capacity = out.len();
        let Some(packet) = out.get_mut(..needed) else {
            return Err(RtpError::BufferTooSmall { capacity, needed });
        };
        let marker = !self.sent_any;
        write_header(
            packet,
            marker,
            self.payload_type,
            self.next_sequence,
            self.next_timestamp,
            self.ssrc,
        );
        packet[HEADER_LEN..].copy_from_slice(payload);
        self.advance(samples);
        Ok(needed)
    }

    /// Writes only the header into the first 12 bytes of `packet` and advances; the caller has
    /// already put the payload after it (saves a copy when the payload is built in place).
    pub fn write_header_in_place(&mut self, packet: &mut [u8; HEADER_LEN], samples: u32) {
        let marker = !self.sent_any;
        write_header(
            packet,
            marker,
            self.payload_type,
            self.next_sequence,
            self.next_timestamp,
            self.ssrc,
        );
        self.advance(samples);
    }

    /// Writes a header with the caller's `marker`, `payload_type` and `timestamp` (a relayed
    /// packet keeps the timing and talkspurts of its source), then continues the stream from
    /// it: the sequence advances by one and the next timestamp is `timestamp + samples`.
    pub fn write_header_at(
        &mut self,
        packet: &mut [u8; HEADER_LEN],
        marker: bool,
        payload_type: u8,
        timestamp: u32,
        samples: u32,
    ) {
        write_header(
            packet,
            marker,
            payload_type,
            self.next_sequence,
            timestamp,
            self.ssrc,
        );
        self.next_timestamp = timestamp;
        self.advance(samples);
    }

    fn advance(&mut self, samples: u32) {
        self.sent_any = true;
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.next_timestamp = self.next_timestamp.wrapping_add(samples);
    }
}

fn write_header(
    packet: &mut [u8],
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
) {
    packet[0] = VERSION << 6;
    packet[1] = (u8::from(marker) << 7) | (payload_type & 0x7F);
    packet[2..4].copy_from_slice(&sequence.to_be_bytes());
    packet[4..8].copy_from_slice(&timestamp.to_be_bytes());
    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(first: u8, second: u8) -> Vec<u8> {
        let mut p = vec![
            first, second, 0x12, 0x34, 0, 0, 0x03, 0x20, 0xDE, 0xAD, 0xBE, 0xEF,
        ];
        p.truncate(HEADER_LEN);
        p
    }

    #[test]
    fn parses_a_plain_pcma_packet() {
        let mut p = header(0x80, 0x88);
        p.extend_from_slice(&[0xD5; 160]);
        let packet = RtpPacket::parse(&p).unwrap();
        assert!(packet.marker);
        assert_eq!(packet.payload_type, 8);
        assert_eq!(packet.sequence, 0x1234);
        assert_eq!(packet.timestamp, 800);
        assert_eq!(packet.ssrc, 0xDEADBEEF);
        assert_eq!(packet.payload.len(), 160);
        assert_eq!(packet.csrc_count(), 0);
        assert_eq!(packet.extension, None);
    }

    #[test]
    fn parses_csrcs_extension_and_padding_together() {
        // V=2, P=1, X=1, CC=2
        let mut p = header(0xB2, 0x00);
        p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
        p.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAA, 0x00, 0x00]);
        p.extend_from_slice(&[0xFF, 0xFE, 0xFD]);
        p.extend_from_slice(&[0, 0, 3]);
        let packet = RtpPacket::parse(&p).unwrap();
        assert_eq!(packet.csrcs().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(packet.extension, Some((0xBEDE, &[0x10, 0xAA, 0, 0][..])));
        assert_eq!(packet.payload, &[0xFF, 0xFE, 0xFD]);
        assert!(!packet.marker);
    }

    #[test]
    fn truncated_or_inconsistent_packets_are_errors() {
        assert_eq!(RtpPacket::parse(&[]), Err(RtpError::TooShort { len: 0 }));
        assert_eq!(
            RtpPacket::parse(&[0x80; 11]),
            Err(RtpError::TooShort { len: 11 })
        );
        assert_eq!(
            RtpPacket::parse(&header(0x40, 0)),
            Err(RtpError::BadVersion { version: 1 })
        );
        // CC=15 but no CSRCs follow.
        assert!(matches!(
            RtpPacket::parse(&header(0x8F, 0)),
            Err(RtpError::TruncatedCsrc { csrc_count: 15, .. })
        ));
        // X=1 with an extension claiming 0xFFFF words.
        let mut p = header(0x90, 0);
        p.extend_from_slice(&[0, 0, 0xFF, 0xFF, 1, 2]);
        assert!(matches!(
            RtpPacket::parse(&p),
            Err(RtpError::TruncatedExtension { .. })
        ));
        let mut p = header(0x90, 0);
        p.extend_from_slice(&[0, 0]);
        assert!(matches!(
            RtpPacket::parse(&p),
            Err(RtpError::TruncatedExtension { .. })
        ));
        // P=1 with a padding count larger than what is left, zero, or no payload at all.
        let mut p = header(0xA0, 0);
        p.extend_from_slice(&[1, 2, 9]);
        assert!(matches!(
            RtpPacket::parse(&p),
            Err(RtpError::BadPadding { padding: 9, .. })
        ));
        let mut p = header(0xA0, 0);
        p.push(0);
        assert!(matches!(
            RtpPacket::parse(&p),
            Err(RtpError::BadPadding { .. })
        ));
        assert!(matches!(
            RtpPacket::parse(&header(0xA0, 0)),
            Err(RtpError::BadPadding { .. })
        ));
    }

    #[test]
    fn no_prefix_of_a_full_packet_panics() {
        let mut p = header(0xB1, 0x80);
        p.extend_from_slice(&[0, 0, 0, 7]);
        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 1, 2, 3, 4]);
        p.extend_from_slice(&[9; 20]);
        p.push(4);
        for end in 0..=p.len() {
            let _ = RtpPacket::parse(&p[..end]);
        }
        assert!(RtpPacket::parse(&p).is_ok());
    }

    #[test]
    fn sender_writes_what_the_parser_reads_back() {
        let mut sender = RtpSender::with_start(0, 0x01020304, u16::MAX, u32::MAX - 100);
        let mut buf = [0u8; 200];
        let len = sender.write(&[0xFF; 160], 160, &mut buf).unwrap();
        assert_eq!(len, 172);
        let first = RtpPacket::parse(&buf[..len]).unwrap();
        assert!(first.marker);
        assert_eq!(first.sequence, u16::MAX);
        assert_eq!(first.timestamp, u32::MAX - 100);
        assert_eq!(first.ssrc, 0x01020304);
        assert_eq!(first.payload, &[0xFF; 160][..]);

        let len = sender.write(&[0x7F; 160], 160, &mut buf).unwrap();
        let second = RtpPacket::parse(&buf[..len]).unwrap();
        assert!(!second.marker);
        assert_eq!(second.sequence, 0, "sequence wraps");
        assert_eq!(second.timestamp, 59, "timestamp wraps");
    }

    #[test]
    fn header_at_continues_the_stream_from_the_given_timestamp() {
        let mut sender = RtpSender::with_start(0, 7, 10, 1000);
        let mut header = [0u8; HEADER_LEN];
        sender.write_header_at(&mut header, true, 101, 5000, 0);
        let mut packet = header.to_vec();
        packet.extend_from_slice(&[1, 0, 0, 160]);
        let event = RtpPacket::parse(&packet).unwrap();
        assert!(event.marker);
        assert_eq!(
            (
                event.payload_type,
                event.sequence,
                event.timestamp,
                event.ssrc
            ),
            (101, 10, 5000, 7)
        );
        assert_eq!(sender.next_sequence(), 11);
        assert_eq!(sender.next_timestamp(), 5000, "an event takes no samples");
        sender.write_header_in_place(&mut header, 160);
        let next = RtpPacket::parse(&header).unwrap();
        assert!(!next.marker, "the stream had started already");
        assert_eq!(
            (next.payload_type, next.sequence, next.timestamp),
            (0, 11, 5000)
        );
    }

    #[test]
    fn sender_refuses_a_buffer_too_small() {
        let mut sender = RtpSender::with_start(8, 1, 1, 1);
        let mut buf = [0u8; 100];
        assert_eq!(
            sender.write(&[0; 160], 160, &mut buf),
            Err(RtpError::BufferTooSmall {
                capacity: 100,
                needed: 172
            })
        );
        assert_eq!(sender.next_sequence(), 1, "a failed write does not advance");
    }

    #[test]
    fn random_starts_differ_between_streams() {
        let a = RtpSender::new(0);
        let b = RtpSender::new(0);
        assert!(
            a.ssrc != b.ssrc || a.next_timestamp() != b.next_timestamp(),
            "two streams drew the same SSRC and timestamp"
        );
    }
}
