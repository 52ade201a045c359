//! RTCP (RFC 3550) for one media leg, sans-IO: the receiver statistics of the far end's RTP
//! stream (A.1 sequence validation, A.3 loss, A.8 jitter), the sender statistics of ours, the
//! parse of the far end's compound reports (loss and jitter of our stream, round-trip time from
//! LSR/DLSR), the report schedule (6.2/6.3: every 5 s, randomized 0.5..1.5), the writing of our
//! own compound report (SR or RR, then SDES CNAME), and the RFC 5761 test that tells an RTCP
//! datagram from an RTP one on a multiplexed port.
//!
//! Must not touch: sockets or clocks (the caller passes `now` and the NTP wall clock), RTP
//! payloads, call state or storage. Nothing here allocates after `RtcpSession::new`, and the
//! work per received datagram is bounded by its length; a malformed datagram is an error, never
//! a panic, and changes nothing.

use std::time::{Duration, Instant};

use thiserror::Error;

use crate::media::quality::LegQuality;
use crate::media::SAMPLE_RATE;

const VERSION: u8 = 2;
/// RTCP packet types (RFC 3550 12.1).
pub const PT_SR: u8 = 200;
pub const PT_RR: u8 = 201;
pub const PT_SDES: u8 = 202;
pub const PT_BYE: u8 = 203;
pub const PT_APP: u8 = 204;
const SDES_CNAME: u8 = 1;
/// Bytes in one report block (RFC 3550 6.4.1).
const REPORT_BLOCK_LEN: usize = 24;
/// Header plus sender info of an SR, before its report blocks.
const SR_FIXED_LEN: usize = 28;
/// Header plus reporter SSRC of an RR, before its report blocks.
const RR_FIXED_LEN: usize = 8;

/// RFC 3550 A.1: a source is valid after this many packets in sequence.
const MIN_SEQUENTIAL: u16 = 2;
/// RFC 3550 A.1: a forward jump larger than this is a restart or a broken sender.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: a backward step larger than this is not reordering.
const MAX_MISORDER: u16 = 100;
const RTP_SEQ_MOD: u32 = 1 << 16;

/// The deterministic report interval (RFC 3550 6.2, the recommended minimum of 5 s: a two-party
/// call's bandwidth share never asks for more).
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);
/// The first report goes out after half the interval (RFC 3550 6.2 "initial"), randomized too.
const FIRST_REPORT_INTERVAL: Duration = Duration::from_millis(2500);

/// Microseconds in one RTP clock tick at 8 kHz.
const US_PER_RTP_TICK: u64 = 1_000_000 / SAMPLE_RATE as u64;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtcpError {
    #[error("RTCP datagram of {len} bytes is not a whole number of 32-bit words of at least one")]
    BadLength { len: usize },
    #[error("RTCP version {version} is not 2")]
    BadVersion { version: u8 },
    #[error("a compound RTCP packet must start with SR or RR, not packet type {packet_type}")]
    FirstNotReport { packet_type: u8 },
    #[error("the first packet of a compound RTCP packet has the padding bit set")]
    PaddingOnFirst,
    #[error("RTCP packet claims {claimed} bytes where {remaining} remain")]
    Truncated { claimed: usize, remaining: usize },
    #[error("RTCP padding is only allowed on the last packet of a compound packet")]
    PaddingNotLast,
    #[error("RTCP padding of {padding} bytes does not fit a {len}-byte packet")]
    BadPadding { padding: usize, len: usize },
    #[error(
        "RTCP packet type {packet_type} of {len} bytes is too short for {count} report blocks"
    )]
    BadReportCount {
        packet_type: u8,
        count: usize,
        len: usize,
    },
}

/// RFC 5761 section 4: on a port where RTP and RTCP are multiplexed, a datagram whose second
/// octet is 192..=223 is RTCP (packet types 192..=223; as an RTP marker bit plus payload type
/// that is 64..=95, which RFC 5761 forbids for RTP on a multiplexed port — the switch only ever
/// negotiates 0, 8, 13 and dynamic types from 96). It must also be version 2 and hold at least
/// the header and a sender SSRC.
pub fn is_rtcp(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[0] >> 6 == VERSION && (192..=223).contains(&bytes[1])
}

/// The middle 32 bits of a 64-bit NTP timestamp: the "compact" form LSR and DLSR use.
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// A duration in the 1/65536 s units of DLSR (saturating at the field's maximum).
fn duration_to_ntp_short(duration: Duration) -> u32 {
    let units = (duration.as_micros() << 16) / 1_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// 1/65536 s units to microseconds, rounded down.
fn ntp_short_to_us(units: u32) -> u32 {
    ((u64::from(units) * 1_000_000) >> 16) as u32
}

/// RTP clock ticks at 8 kHz elapsed between `from` and `to`, wrapping like an RTP timestamp.
fn rtp_ticks(from: Instant, to: Instant) -> u32 {
    (to.saturating_duration_since(from).as_micros() as u64 / US_PER_RTP_TICK) as u32
}

/// What we know of the far end's RTP stream (RFC 3550 A.1 `source`, plus A.8 jitter).
#[derive(Debug, Clone, Copy)]
struct Source {
    ssrc: u32,
    max_seq: u16,
    /// Shifted count of sequence number cycles (multiples of 65536).
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u16,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Relative transit time of the previous packet, in RTP ticks (None before the first).
    transit: Option<u32>,
    /// Interarrival jitter times 16 (the integer form of A.8).
    jitter_x16: u32,
}

impl Source {
    fn new(ssrc: u32, seq: u16) -> Source {
        Source {
            ssrc,
            // A.1: max_seq = seq - 1 so the next in-order packet counts toward probation.
            max_seq: seq.wrapping_sub(1),
            cycles: 0,
            base_seq: u32::from(seq),
            bad_seq: RTP_SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter_x16: 0,
        }
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// RFC 3550 A.1 `update_seq`: true when the packet counts (valid source, plausible seq).
    fn update_seq(&mut self, seq: u16) -> bool {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return true;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return false;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(RTP_SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= RTP_SEQ_MOD - u32::from(MAX_MISORDER) {
            // A very large jump: take it as a restart only if the next packet follows it.
            if u32::from(seq) == self.bad_seq {
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                return false;
            }
        }
        // else: duplicate or reordered packet, counted.
        self.received = self.received.wrapping_add(1);
        true
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    fn expected(&self) -> u32 {
        if self.probation > 0 {
            return 0;
        }
        self.extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    /// Cumulative lost (A.3): expected − received, negative with duplicates.
    fn lost(&self) -> i64 {
        i64::from(self.expected()) - i64::from(self.received)
    }

    /// A.8: one packet's arrival (in RTP ticks on our clock) against its RTP timestamp.
    fn update_jitter(&mut self, arrival: u32, rtp_timestamp: u32) {
        let transit = arrival.wrapping_sub(rtp_timestamp);
        if let Some(previous) = self.transit {
            let d = (transit.wrapping_sub(previous) as i32).unsigned_abs();
            // J += (|D| - J) / 16, kept times 16 in integers as A.8 shows.
            self.jitter_x16 = self
                .jitter_x16
                .wrapping_add(d)
                .wrapping_sub((self.jitter_x16 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    fn jitter(&self) -> u32 {
        self.jitter_x16 >> 4
    }

    /// A.3: the fraction lost since the previous report (8-bit fixed point), and the interval
    /// is closed.
    fn take_fraction_lost(&mut self) -> u8 {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        }
    }
}

/// The far end's last sender report: for LSR/DLSR in our report block.
#[derive(Debug, Clone, Copy)]
struct LastSenderReport {
    ntp_middle: u32,
    received_at: Instant,
}

/// A tiny seeded generator (SplitMix64) for the report interval's randomization: the schedule
/// is reproducible from the seed, which is what virtual-time tests need.
#[derive(Debug, Clone)]
struct IntervalRng(u64);

impl IntervalRng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `base` times a factor uniform in [0.5, 1.5), to the microsecond.
    fn randomize(&mut self, base: Duration) -> Duration {
        let base_us = base.as_micros() as u64;
        let offset = self.next_u64() % base_us.max(1);
        Duration::from_micros(base_us / 2 + offset)
    }
}

/// RTCP state of one leg: what we sent, what we received, what the far end reported, and when
/// our next report is due.
#[derive(Debug, Clone)]
pub struct RtcpSession {
    local_ssrc: u32,
    /// Our SDES CNAME (RFC 7022: unique per session, here derived from the SSRC).
    cname: [u8; 16],
    /// Our RTP clock is counted from here when we time arrivals for jitter.
    epoch: Instant,
    packets_sent: u64,
    octets_sent: u64,
    last_rtp_sent: Option<(Instant, u32)>,
    sent_since_report: bool,
    packets_received: u64,
    source: Option<Source>,
    /// Losses of far-end streams replaced by a new SSRC (a transfer, an SBC switch-over).
    lost_before: i64,
    last_sender_report: Option<LastSenderReport>,
    rtt_us: Option<u32>,
    remote_packets_lost: Option<u64>,
    remote_jitter_us: Option<u32>,
    rtcp_received: u64,
    rtcp_sent: u64,
    bye_received: bool,
    next_report_at: Instant,
    rng: IntervalRng,
}

impl RtcpSession {
    /// A leg's RTCP starting at `now`, seeding the report-interval randomization from the
    /// (random) SSRC.
    pub fn new(local_ssrc: u32, now: Instant) -> RtcpSession {
        RtcpSession::with_seed(local_ssrc, now, u64::from(local_ssrc))
    }

    /// As `new`, with the seed of the report schedule's randomization given.
    pub fn with_seed(local_ssrc: u32, now: Instant, seed: u64) -> RtcpSession {
        let mut cname = *b"00000000@hotline";
        let hex = b"0123456789abcdef";
        for (i, byte) in cname[..8].iter_mut().enumerate() {
            *byte = hex[((local_ssrc >> (28 - 4 * i)) & 0xF) as usize];
        }
        let mut rng = IntervalRng(seed);
        let next_report_at = now + rng.randomize(FIRST_REPORT_INTERVAL);
        RtcpSession {
            local_ssrc,
            cname,
            epoch: now,
            packets_sent: 0,
            octets_sent: 0,
            last_rtp_sent: None,
            sent_since_report: false,
            packets_received: 0,
            source: None,
            lost_before: 0,
            last_sender_report: None,
            rtt_us: None,
            remote_packets_lost: None,
            remote_jitter_us: None,
            rtcp_received: 0,
            rtcp_sent: 0,
            bye_received: false,
            next_report_at,
            rng,
        }
    }

    pub fn local_ssrc(&self) -> u32 {
        self.local_ssrc
    }

    /// The SSRC of the far end's stream we report on, once it sent RTP.
    pub fn remote_ssrc(&self) -> Option<u32> {
        self.source.map(|s| s.ssrc)
    }

    /// The far end sent an RTCP BYE.
    pub fn bye_received(&self) -> bool {
        self.bye_received
    }

    /// We sent one RTP packet with this timestamp and payload size.
    pub fn on_rtp_sent(&mut self, now: Instant, rtp_timestamp: u32, payload_len: usize) {
        self.packets_sent += 1;
        self.octets_sent += payload_len as u64;
        self.last_rtp_sent = Some((now, rtp_timestamp));
        self.sent_since_report = true;
    }

    /// One RTP packet arrived from the far end (already accepted by source address).
    pub fn on_rtp_received(&mut self, now: Instant, ssrc: u32, sequence: u16, rtp_timestamp: u32) {
        self.packets_received += 1;
        let source = match &mut self.source {
            Some(source) if source.ssrc == ssrc => source,
            slot => {
                // A new far-end stream (first packet, or a new SSRC after a transfer): the old
                // stream's losses stay counted, its sequence state goes.
                if let Some(old) = slot {
                    self.lost_before += old.lost().max(0);
                }
                slot.insert(Source::new(ssrc, sequence))
            }
        };
        if source.update_seq(sequence) {
            source.update_jitter(rtp_ticks(self.epoch, now), rtp_timestamp);
        }
    }

    /// One RTCP datagram from the far end. It is validated whole (RFC 3550 A.2) before
    /// anything in it is used, so an error means nothing changed.
    pub fn on_rtcp(&mut self, now: Instant, ntp_now: u64, bytes: &[u8]) -> Result<(), RtcpError> {
        validate_compound(bytes)?;
        self.rtcp_received += 1;
        let mut rest = bytes;
        while let Some((packet, tail)) = next_packet(rest) {
            rest = tail;
            let count = usize::from(packet[0] & 0x1F);
            let blocks = match packet[1] {
                PT_SR => {
                    self.last_sender_report = Some(LastSenderReport {
                        ntp_middle: read_u32(packet, 10),
                        received_at: now,
                    });
                    &packet[SR_FIXED_LEN..SR_FIXED_LEN + count * REPORT_BLOCK_LEN]
                }
                PT_RR => &packet[RR_FIXED_LEN..RR_FIXED_LEN + count * REPORT_BLOCK_LEN],
                PT_BYE => {
                    self.bye_received = true;
                    continue;
                }
                // SDES, APP and anything newer (feedback, XR) carry nothing we use.
                _ => continue,
            };
            for block in blocks.chunks_exact(REPORT_BLOCK_LEN) {
                if read_u32(block, 0) == self.local_ssrc {
                    self.on_report_block(ntp_now, block);
                }
            }
        }
        Ok(())
    }

    /// The far end's report about our stream: its loss and jitter, and the round trip.
    fn on_report_block(&mut self, ntp_now: u64, block: &[u8]) {
        // Cumulative lost is a 24-bit signed count; duplicates can make it negative.
        let raw = read_u32(block, 4) & 0x00FF_FFFF;
        let lost = ((raw << 8) as i32) >> 8;
        self.remote_packets_lost = Some(lost.max(0) as u64);
        let jitter = read_u32(block, 12);
        self.remote_jitter_us =
            Some(u32::try_from(u64::from(jitter) * US_PER_RTP_TICK).unwrap_or(u32::MAX));
        let lsr = read_u32(block, 16);
        let dlsr = read_u32(block, 20);
        if lsr != 0 {
            // RFC 3550 6.4.1: RTT = A - LSR - DLSR, all in 1/65536 s; a negative result is a
            // clock step or a lie, not a round trip.
            let rtt = ntp_middle(ntp_now).wrapping_sub(lsr).wrapping_sub(dlsr);
            if (rtt as i32) >= 0 {
                self.rtt_us = Some(ntp_short_to_us(rtt));
            }
        }
    }

    /// Our next report is due.
    pub fn report_due(&self, now: Instant) -> bool {
        now >= self.next_report_at
    }

    /// When our next report is due.
    pub fn poll_timeout(&self) -> Instant {
        self.next_report_at
    }

    /// Bytes our next report takes: SR or RR with at most one block, then SDES CNAME.
    fn report_len(&self) -> usize {
        let blocks = self.report_block_count() * REPORT_BLOCK_LEN;
        let fixed = if self.sent_since_report {
            SR_FIXED_LEN
        } else {
            RR_FIXED_LEN
        };
        fixed + blocks + self.sdes_len()
    }

    fn report_block_count(&self) -> usize {
        usize::from(self.source.is_some_and(|s| s.probation == 0))
    }

    /// SDES header, SSRC, CNAME item (type, length, text), then a null end item padded to a
    /// 32-bit boundary.
    fn sdes_len(&self) -> usize {
        let items = 2 + self.cname.len() + 1;
        8 + items.div_ceil(4) * 4
    }

    /// Writes our compound report into `out` and schedules the next one; returns its length,
    /// or 0 (and changes nothing) when `out` is too small.
    pub fn write_report(&mut self, now: Instant, ntp_now: u64, out: &mut [u8]) -> usize {
        let len = self.report_len();
        if out.len() < len {
            return 0;
        }
        let out = &mut out[..len];
        out.fill(0);
        let blocks = self.report_block_count();
        let mut at = if self.sent_since_report {
            let rtp_now = match self.last_rtp_sent {
                Some((sent_at, ts)) => ts.wrapping_add(rtp_ticks(sent_at, now)),
                None => 0,
            };
            write_header(
                out,
                blocks as u8,
                PT_SR,
                SR_FIXED_LEN + blocks * REPORT_BLOCK_LEN,
            );
            write_u32(out, 4, self.local_ssrc);
            write_u32(out, 8, (ntp_now >> 32) as u32);
            write_u32(out, 12, ntp_now as u32);
            write_u32(out, 16, rtp_now);
            // Both counts wrap (RFC 3550 6.4.1).
            write_u32(out, 20, self.packets_sent as u32);
            write_u32(out, 24, self.octets_sent as u32);
            SR_FIXED_LEN
        } else {
            write_header(
                out,
                blocks as u8,
                PT_RR,
                RR_FIXED_LEN + blocks * REPORT_BLOCK_LEN,
            );
            write_u32(out, 4, self.local_ssrc);
            RR_FIXED_LEN
        };
        if let Some(source) = self.source.as_mut().filter(|s| s.probation == 0) {
            let block = &mut out[at..at + REPORT_BLOCK_LEN];
            let fraction = source.take_fraction_lost();
            let lost = source.lost().clamp(-0x80_0000, 0x7F_FFFF) as i32;
            write_u32(block, 0, source.ssrc);
            write_u32(
                block,
                4,
                (u32::from(fraction) << 24) | (lost as u32 & 0x00FF_FFFF),
            );
            write_u32(block, 8, source.extended_max());
            write_u32(block, 12, source.jitter());
            if let Some(sr) = self.last_sender_report {
                write_u32(block, 16, sr.ntp_middle);
                write_u32(
                    block,
                    20,
                    duration_to_ntp_short(now.saturating_duration_since(sr.received_at)),
                );
            }
            at += REPORT_BLOCK_LEN;
        }
        let sdes = &mut out[at..];
        let sdes_len = sdes.len();
        write_header(sdes, 1, PT_SDES, sdes_len);
        write_u32(sdes, 4, self.local_ssrc);
        sdes[8] = SDES_CNAME;
        sdes[9] = self.cname.len() as u8;
        sdes[10..10 + self.cname.len()].copy_from_slice(&self.cname);
        // The rest is already zero: the end item and the padding.
        self.sent_since_report = false;
        self.rtcp_sent += 1;
        self.next_report_at = now + self.rng.randomize(REPORT_INTERVAL);
        len
    }

    /// The leg's figures so far (the engine adds the packets it refused from strangers).
    pub fn quality(&self) -> LegQuality {
        let current_lost = self.source.map_or(0, |s| s.lost().max(0));
        LegQuality {
            packets_sent: self.packets_sent,
            packets_received: self.packets_received,
            packets_lost: (self.lost_before + current_lost) as u64,
            jitter_us: self.source.map_or(0, |s| {
                u32::try_from(u64::from(s.jitter()) * US_PER_RTP_TICK).unwrap_or(u32::MAX)
            }),
            rtt_us: self.rtt_us,
            remote_packets_lost: self.remote_packets_lost,
            remote_jitter_us: self.remote_jitter_us,
            rtcp_received: self.rtcp_received,
            rtcp_sent: self.rtcp_sent,
            packets_from_strangers: 0,
        }
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn write_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// V=2, no padding, count, type and the length in 32-bit words minus one.
fn write_header(out: &mut [u8], count: u8, packet_type: u8, len: usize) {
    out[0] = (VERSION << 6) | (count & 0x1F);
    out[1] = packet_type;
    out[2..4].copy_from_slice(&((len / 4 - 1) as u16).to_be_bytes());
}

/// Splits the next packet off a compound datagram already checked by `validate_compound`.
fn next_packet(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    if bytes.len() < 4 {
        return None;
    }
    let len = (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])) + 1) * 4;
    Some(bytes.split_at(len.min(bytes.len())))
}

/// RFC 3550 A.2 validity checks for a compound RTCP packet: version 2 throughout, SR or RR
/// first with no padding, lengths that add up to the datagram exactly, padding only on the
/// last packet, and report counts that fit their packets.
fn validate_compound(bytes: &[u8]) -> Result<(), RtcpError> {
    let total = bytes.len();
    if total < 4 || !total.is_multiple_of(4) {
        return Err(RtcpError::BadLength { len: total });
    }
    let first_type = bytes[1];
    if first_type != PT_SR && first_type != PT_RR {
        return Err(RtcpError::FirstNotReport {
            packet_type: first_type,
        });
    }
    if bytes[0] & 0x20 != 0 {
        return Err(RtcpError::PaddingOnFirst);
    }
    let mut rest = bytes;
    while !rest.is_empty() {
        let version = rest[0] >> 6;
        if version != VERSION {
            return Err(RtcpError::BadVersion { version });
        }
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        if len > rest.len() {
            return Err(RtcpError::Truncated {
                claimed: len,
                remaining: rest.len(),
            });
        }
        let (packet, tail) = rest.split_at(len);
        let padding = if packet[0] & 0x20 != 0 {
            if !tail.is_empty() {
                return Err(RtcpError::PaddingNotLast);
            }
            let padding = usize::from(packet[len - 1]);
            if padding == 0 || padding > len - 4 {
                return Err(RtcpError::BadPadding { padding, len });
            }
            padding
        } else {
            0
        };
        let count = usize::from(packet[0] & 0x1F);
        let fixed = match packet[1] {
            PT_SR => Some(SR_FIXED_LEN),
            PT_RR => Some(RR_FIXED_LEN),
            _ => None,
        };
        if let Some(fixed) = fixed {
            if fixed + count * REPORT_BLOCK_LEN > len - padding {
                return Err(RtcpError::BadReportCount {
                    packet_type: packet[1],
                    count,
                    len,
                });
            }
        }
        rest = tail;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
