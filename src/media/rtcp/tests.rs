//! RTCP in virtual time: receiver statistics (loss, reordering, wrap, jitter), the far end's
//! reports (loss, jitter, round trip), our reports (SR or RR, blocks, DLSR), the schedule, and
//! malformed datagrams.

use std::time::{Duration, Instant};

use super::*;

const LOCAL: u32 = 0x1111_1111;
const FAR: u32 = 0x5A3C_1102;

fn at(start: Instant, ms: u64) -> Instant {
    start + Duration::from_millis(ms)
}

/// Feeds `sequences` from the far end, one every 20 ms from `from_ms`, timestamps in step.
fn receive_all(session: &mut RtcpSession, start: Instant, from_ms: u64, sequences: &[u16]) {
    for (i, &seq) in sequences.iter().enumerate() {
        let ts = u32::from(seq).wrapping_mul(160);
        session.on_rtp_received(at(start, from_ms + 20 * i as u64), FAR, seq, ts);
    }
}

fn block(
    ssrc: u32,
    fraction: u8,
    lost: u32,
    ext_max: u32,
    jitter: u32,
    lsr: u32,
    dlsr: u32,
) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&ssrc.to_be_bytes());
    b.extend_from_slice(&((u32::from(fraction) << 24) | (lost & 0xFF_FFFF)).to_be_bytes());
    for word in [ext_max, jitter, lsr, dlsr] {
        b.extend_from_slice(&word.to_be_bytes());
    }
    b
}

fn rr(sender: u32, blocks: &[Vec<u8>]) -> Vec<u8> {
    let len = 8 + 24 * blocks.len();
    let mut p = vec![0x80 | blocks.len() as u8, PT_RR];
    p.extend_from_slice(&((len / 4 - 1) as u16).to_be_bytes());
    p.extend_from_slice(&sender.to_be_bytes());
    for b in blocks {
        p.extend_from_slice(b);
    }
    p
}

fn sr(
    sender: u32,
    ntp: u64,
    rtp_ts: u32,
    packets: u32,
    octets: u32,
    blocks: &[Vec<u8>],
) -> Vec<u8> {
    let len = 28 + 24 * blocks.len();
    let mut p = vec![0x80 | blocks.len() as u8, PT_SR];
    p.extend_from_slice(&((len / 4 - 1) as u16).to_be_bytes());
    p.extend_from_slice(&sender.to_be_bytes());
    p.extend_from_slice(&ntp.to_be_bytes());
    for word in [rtp_ts, packets, octets] {
        p.extend_from_slice(&word.to_be_bytes());
    }
    for b in blocks {
        p.extend_from_slice(b);
    }
    p
}

/// SDES with one chunk: CNAME and TOOL items, end item, padding.
fn sdes(ssrc: u32, cname: &str, tool: &str) -> Vec<u8> {
    let mut chunk = ssrc.to_be_bytes().to_vec();
    chunk.extend_from_slice(&[1, cname.len() as u8]);
    chunk.extend_from_slice(cname.as_bytes());
    chunk.extend_from_slice(&[6, tool.len() as u8]);
    chunk.extend_from_slice(tool.as_bytes());
    chunk.push(0);
    while !chunk.len().is_multiple_of(4) {
        chunk.push(0);
    }
    let mut p = vec![0x81, PT_SDES];
    p.extend_from_slice(&(((4 + chunk.len()) / 4 - 1) as u16).to_be_bytes());
    p.extend_from_slice(&chunk);
    p
}

fn bye(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x81, PT_BYE, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

fn app(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, PT_APP, 0, 3];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(b"PING");
    p.extend_from_slice(&[1, 2, 3, 4]);
    p
}

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Writes our report with a generous buffer and returns exactly its bytes.
fn report(session: &mut RtcpSession, now: Instant, ntp: u64) -> Vec<u8> {
    let mut out = [0u8; 1500];
    let n = session.write_report(now, ntp, &mut out);
    assert!(n > 0, "report written");
    out[..n].to_vec()
}

/// The report block of one of our RRs (which has exactly one).
fn rr_block(report: &[u8]) -> &[u8] {
    assert_eq!(report[1], PT_RR);
    assert_eq!(report[0] & 0x1F, 1, "one report block");
    &report[8..32]
}

#[test]
fn loss_is_expected_minus_received_after_probation() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    let seqs: Vec<u16> = (1000..=1099)
        .filter(|q| ![1010, 1050, 1051].contains(q))
        .collect();
    receive_all(&mut s, start, 0, &seqs);
    let q = s.quality();
    assert_eq!(q.packets_received, 97);
    assert_eq!(q.packets_lost, 3);
}

#[test]
fn reordered_packets_are_not_lost() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    let mut seqs: Vec<u16> = (1000..=1099).collect();
    seqs.swap(20, 21);
    seqs.swap(60, 62);
    receive_all(&mut s, start, 0, &seqs);
    assert_eq!(s.quality().packets_lost, 0);
    assert_eq!(s.quality().packets_received, 100);
}

#[test]
fn reordering_with_one_loss_counts_one() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    let mut seqs: Vec<u16> = (1000..=1099).filter(|&q| q != 1080).collect();
    seqs.swap(20, 21);
    receive_all(&mut s, start, 0, &seqs);
    assert_eq!(s.quality().packets_lost, 1);
}

#[test]
fn a_duplicate_never_makes_loss_negative() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    receive_all(&mut s, start, 0, &[10, 11, 12, 12, 13]);
    assert_eq!(s.quality().packets_lost, 0);
    assert_eq!(s.quality().packets_received, 5);
}

#[test]
fn fraction_lost_is_per_interval_and_cumulative_loss_carries_on() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    // 1001..=1100 are expected after probation; 1011..=1020 never arrive.
    let seqs: Vec<u16> = (1000..=1100)
        .filter(|q| !(1011..=1020).contains(q))
        .collect();
    receive_all(&mut s, start, 0, &seqs);
    let first = report(&mut s, at(start, 3000), 0);
    let b = rr_block(&first);
    assert_eq!(word(b, 0), FAR);
    assert_eq!(b[4], 25, "10 of 100 lost = 25/256");
    assert_eq!(word(b, 4) & 0xFF_FFFF, 10);
    assert_eq!(word(b, 8), 1100);
    let seqs: Vec<u16> = (1101..=1150).collect();
    receive_all(&mut s, start, 3000, &seqs);
    let second = report(&mut s, at(start, 8000), 0);
    let b = rr_block(&second);
    assert_eq!(b[4], 0, "nothing lost in the second interval");
    assert_eq!(word(b, 4) & 0xFF_FFFF, 10);
    assert_eq!(word(b, 8), 1150);
}

#[test]
fn sequence_wrap_extends_the_highest_sequence_number() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    let seqs: Vec<u16> = (65530..=65535).chain(1..=5).collect(); // 0 is lost
    receive_all(&mut s, start, 0, &seqs);
    assert_eq!(s.quality().packets_lost, 1);
    let r = report(&mut s, at(start, 3000), 0);
    assert_eq!(word(rr_block(&r), 8), 65536 + 5);
    assert_eq!(word(rr_block(&r), 4) & 0xFF_FFFF, 1);
}

#[test]
fn a_wild_sequence_jump_is_ignored_until_confirmed() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    receive_all(&mut s, start, 0, &[100, 101, 102, 30000, 103, 104]);
    // The lone 30000 is neither counted nor taken as the new maximum.
    assert_eq!(s.quality().packets_lost, 0);
    let r = report(&mut s, at(start, 3000), 0);
    assert_eq!(word(rr_block(&r), 8), 104);
}

#[test]
fn jitter_follows_rfc_3550_a8_on_a_hand_computed_series() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    // Timestamps every 160 ticks; arrivals at 0, 20, 40, 65, 80, 100 ms = ticks 0, 160, 320,
    // 520, 640, 800. Transit: 0, 0, 0, 40, 0, 0 (the first packet is probation, not counted).
    // J*16: D=0 -> 0; D=40 -> 0+40-0 = 40; D=40 -> 40+40-3 = 77; D=0 -> 77-5 = 72.
    // J = 72 >> 4 = 4 ticks = 500 us.
    for (i, ms) in [0u64, 20, 40, 65, 80, 100].into_iter().enumerate() {
        s.on_rtp_received(at(start, ms), FAR, 500 + i as u16, 160 * i as u32);
    }
    assert_eq!(s.quality().jitter_us, 500);
    let r = report(&mut s, at(start, 3000), 0);
    assert_eq!(word(rr_block(&r), 12), 4);
}

#[test]
fn steady_arrivals_have_no_jitter() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    let seqs: Vec<u16> = (0..50).collect();
    receive_all(&mut s, start, 7, &seqs);
    assert_eq!(s.quality().jitter_us, 0);
}

#[test]
fn a_new_far_end_ssrc_keeps_the_old_streams_losses() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    let seqs: Vec<u16> = (1..=50).filter(|&q| q != 10 && q != 20).collect();
    receive_all(&mut s, start, 0, &seqs);
    for (i, seq) in (7000u16..=7049).filter(|&q| q != 7030).enumerate() {
        s.on_rtp_received(at(start, 2000 + 20 * i as u64), 0xBEEF, seq, 0);
    }
    assert_eq!(s.remote_ssrc(), Some(0xBEEF));
    assert_eq!(s.quality().packets_lost, 3);
    assert_eq!(s.quality().packets_received, 48 + 49);
}

/// RTT = A - LSR - DLSR in 1/65536 s: A = LSR + 0.5 s + 3277 units, DLSR = 0.5 s, so the
/// round trip is 3277 units = 3277 * 1e6 / 65536 us = 50003.05 -> 50003 us.
#[test]
fn round_trip_time_comes_from_lsr_and_dlsr_of_the_block_about_us() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    let lsr = 0x1234_5678;
    let dlsr = 0x8000;
    let ntp_now: u64 = 0xE0A1_1234_E345_ABCD; // middle 32 bits 0x1234_E345 = lsr + dlsr + 3277
    assert_eq!(ntp_middle(ntp_now), lsr + dlsr + 3277);
    let other = block(0x3333_3333, 200, 999, 1, 999, 1, 1);
    let ours = block(LOCAL, 10, 5, 0x1_0010, 80, lsr, dlsr);
    let packet = rr(FAR, &[other, ours]);
    s.on_rtcp(at(start, 1000), ntp_now, &packet).unwrap();
    let q = s.quality();
    assert_eq!(q.rtt_us, Some(50003));
    assert_eq!(q.remote_packets_lost, Some(5));
    assert_eq!(q.remote_jitter_us, Some(80 * 125));
    assert_eq!(q.rtcp_received, 1);
}

#[test]
fn no_lsr_or_a_negative_round_trip_gives_no_rtt() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    let ntp_now: u64 = 0x0000_1000_0000_0000;
    s.on_rtcp(start, ntp_now, &rr(FAR, &[block(LOCAL, 0, 0, 1, 0, 0, 0)]))
        .unwrap();
    assert_eq!(s.quality().rtt_us, None);
    // LSR + DLSR later than now: a clock step or a lie.
    let lsr = ntp_middle(ntp_now) - 100;
    s.on_rtcp(
        start,
        ntp_now,
        &rr(FAR, &[block(LOCAL, 0, 0, 1, 0, lsr, 200)]),
    )
    .unwrap();
    assert_eq!(s.quality().rtt_us, None);
    assert_eq!(s.quality().remote_packets_lost, Some(0));
    assert_eq!(s.quality().rtcp_received, 2);
}

#[test]
fn a_negative_cumulative_loss_reads_as_zero() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    s.on_rtcp(
        start,
        0,
        &rr(FAR, &[block(LOCAL, 0, 0xFF_FFFE, 1, 0, 0, 0)]),
    )
    .unwrap();
    assert_eq!(s.quality().remote_packets_lost, Some(0));
}

/// Both ends of a call, with 125 ms of network each way... (62.5 ms out, 62.5 ms back): times
/// in multiples of 1/64 s are exact in both microseconds and 1/65536 s.
#[test]
fn two_sessions_measure_each_others_round_trip_exactly() {
    let start = Instant::now();
    let mut a = RtcpSession::new(LOCAL, start);
    let mut b = RtcpSession::new(FAR, start);
    for i in 0..10u16 {
        let t = at(start, 20 * u64::from(i));
        a.on_rtp_sent(t, 160 * u32::from(i), 160);
        b.on_rtp_received(t, LOCAL, 40 + i, 160 * u32::from(i));
    }
    let n0: u64 = 0xE6B0_0000_8000_0000;
    let a_report = report(&mut a, at(start, 1000), n0);
    assert_eq!(a_report[1], PT_SR);
    b.on_rtcp(at(start, 1000), 0, &a_report).unwrap();
    // B answers 250 ms later: DLSR = 16384.
    let b_report = report(&mut b, at(start, 1250), 0);
    let block = rr_block(&b_report);
    assert_eq!(word(block, 0), LOCAL);
    assert_eq!(word(block, 16), ntp_middle(n0));
    assert_eq!(word(block, 20), 16384);
    // It reaches A 375 ms after A's SR left: RTT = 375 - 250 = 125 ms.
    let a_now = n0 + (24576u64 << 16);
    a.on_rtcp(at(start, 1375), a_now, &b_report).unwrap();
    assert_eq!(a.quality().rtt_us, Some(125_000));
    assert_eq!(a.quality().remote_packets_lost, Some(0));
}

#[test]
fn our_report_is_sr_after_sending_rtp_and_rr_otherwise() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    let quiet = report(&mut s, at(start, 3000), 0);
    assert_eq!(quiet[1], PT_RR);
    assert_eq!(quiet[0] & 0x1F, 0, "no block before we heard the far end");
    assert_eq!(word(&quiet, 4), LOCAL);
    assert_eq!(quiet.len(), 8 + 28);

    for i in 0..3u32 {
        s.on_rtp_sent(at(start, 4000 + 20 * u64::from(i)), 160 * (i + 1), 160);
    }
    let ntp: u64 = 0xE6B0_1234_5678_9ABC;
    let sent = report(&mut s, at(start, 4100), ntp);
    assert_eq!(sent[1], PT_SR);
    assert_eq!(sent.len(), 28 + 28);
    assert_eq!(
        u16::from_be_bytes([sent[2], sent[3]]),
        6,
        "SR length in words minus one"
    );
    assert_eq!(word(&sent, 4), LOCAL);
    assert_eq!(word(&sent, 8), 0xE6B0_1234);
    assert_eq!(word(&sent, 12), 0x5678_9ABC);
    // Last packet's timestamp 480 at 4040 ms, extrapolated 60 ms = 480 ticks.
    assert_eq!(word(&sent, 16), 960);
    assert_eq!(word(&sent, 20), 3);
    assert_eq!(word(&sent, 24), 480);

    let quiet_again = report(&mut s, at(start, 9000), 0);
    assert_eq!(quiet_again[1], PT_RR);
    assert_eq!(s.quality().rtcp_sent, 3);
    assert_eq!(s.quality().packets_sent, 3);
}

#[test]
fn our_report_ends_with_sdes_cname() {
    let start = Instant::now();
    let mut s = RtcpSession::new(0x00C0_FFEE, start);
    let r = report(&mut s, start, 0);
    let sdes = &r[8..];
    assert_eq!(sdes[0], 0x81);
    assert_eq!(sdes[1], PT_SDES);
    assert_eq!(u16::from_be_bytes([sdes[2], sdes[3]]), 6);
    assert_eq!(word(sdes, 4), 0x00C0_FFEE);
    assert_eq!(sdes[8], 1, "CNAME");
    assert_eq!(&sdes[10..10 + usize::from(sdes[9])], b"00c0ffee@hotline");
    assert_eq!(&sdes[26..], &[0, 0], "end item and padding");
    // And it is a valid compound packet by our own parser.
    let mut other = RtcpSession::new(1, start);
    assert_eq!(other.on_rtcp(start, 0, &r), Ok(()));
}

#[test]
fn our_report_carries_dlsr_since_the_far_ends_sender_report() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    receive_all(&mut s, start, 0, &[1, 2, 3]);
    let far_sr = sr(FAR, 0xE6B0_0001_8000_0000, 0, 10, 1600, &[]);
    s.on_rtcp(at(start, 1000), 0, &far_sr).unwrap();
    let r = report(&mut s, at(start, 1750), 0);
    let b = rr_block(&r);
    assert_eq!(word(b, 16), 0x0001_8000);
    assert_eq!(word(b, 20), 49152, "0.75 s in 1/65536 s");
}

#[test]
fn a_too_small_buffer_writes_nothing_and_changes_nothing() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    s.on_rtp_sent(start, 0, 160);
    let due = s.poll_timeout();
    let mut out = [0u8; 55];
    assert_eq!(s.write_report(due, 0, &mut out), 0);
    assert_eq!(s.quality().rtcp_sent, 0);
    assert_eq!(s.poll_timeout(), due);
    let mut out = [0u8; 56];
    assert_eq!(s.write_report(due, 0, &mut out), 56);
    assert_eq!(
        out[1], PT_SR,
        "still an SR: the RTP sent is still unreported"
    );
}

#[test]
fn the_first_report_comes_soon_and_the_rest_every_five_seconds_randomized() {
    let start = Instant::now();
    for seed in 0..20u64 {
        let s = RtcpSession::with_seed(LOCAL, start, seed);
        let first = s.poll_timeout() - start;
        assert!(first >= Duration::from_millis(1250), "first {first:?}");
        assert!(first < Duration::from_millis(3750), "first {first:?}");
        assert!(!s.report_due(s.poll_timeout() - Duration::from_micros(1)));
        assert!(s.report_due(s.poll_timeout()));
    }
    let mut s = RtcpSession::with_seed(LOCAL, start, 7);
    let mut shortest = Duration::MAX;
    let mut longest = Duration::ZERO;
    for _ in 0..500 {
        let now = s.poll_timeout();
        report(&mut s, now, 0);
        let interval = s.poll_timeout() - now;
        shortest = shortest.min(interval);
        longest = longest.max(interval);
    }
    assert!(
        shortest >= Duration::from_millis(2500),
        "shortest {shortest:?}"
    );
    assert!(longest < Duration::from_millis(7500), "longest {longest:?}");
    // Randomized across nearly the whole range, not a fixed period.
    assert!(
        shortest < Duration::from_millis(2600),
        "shortest {shortest:?}"
    );
    assert!(longest > Duration::from_millis(7400), "longest {longest:?}");
}

#[test]
fn the_schedule_is_reproducible_from_its_seed() {
    let start = Instant::now();
    let a = RtcpSession::with_seed(LOCAL, start, 42);
    let b = RtcpSession::with_seed(LOCAL, start, 42);
    let c = RtcpSession::with_seed(LOCAL, start, 43);
    assert_eq!(a.poll_timeout(), b.poll_timeout());
    assert_ne!(a.poll_timeout(), c.poll_timeout());
}

/// A baresip-style compound packet typed in by hand: RR with one block about us, then SDES
/// with the CNAME "alice@10.0.0.7".
#[test]
fn a_baresip_style_rr_and_sdes_is_understood() {
    #[rustfmt::skip]
    let mut bytes = vec![
        0x81, 0xc9, 0x00, 0x07, 0x5a, 0x3c, 0x11, 0x02,
        0x11, 0x11, 0x11, 0x11, 0x05, 0x00, 0x00, 0x02,
        0x00, 0x00, 0x12, 0x5e, 0x00, 0x00, 0x00, 0x19,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x81, 0xca, 0x00, 0x06, 0x5a, 0x3c, 0x11, 0x02,
        0x01, 0x0e,
    ];
    bytes.extend_from_slice(b"alice@10.0.0.7");
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(bytes.len(), 60);
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    s.on_rtcp(start, 0, &bytes).unwrap();
    let q = s.quality();
    assert_eq!(q.remote_packets_lost, Some(2));
    assert_eq!(q.remote_jitter_us, Some(25 * 125));
    assert_eq!(q.rtt_us, None);
    assert!(!s.bye_received());
}

#[test]
fn sr_with_sdes_app_and_bye_is_understood_and_the_bye_noted() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    let mut compound = sr(
        FAR,
        0xE6B0_0002_0000_0000,
        8000,
        50,
        8000,
        &[block(LOCAL, 0, 7, 99, 16, 0, 0)],
    );
    compound.extend(sdes(FAR, "linphone@192.168.1.20", "Linphone 5.2"));
    compound.extend(app(FAR));
    compound.extend(bye(FAR));
    s.on_rtcp(start, 0, &compound).unwrap();
    assert_eq!(s.quality().remote_packets_lost, Some(7));
    assert_eq!(s.quality().remote_jitter_us, Some(2000));
    assert!(s.bye_received());
    // The SR's time is remembered for our next block's LSR.
    receive_all(&mut s, start, 0, &[1, 2]);
    let r = report(&mut s, at(start, 500), 0);
    assert_eq!(word(rr_block(&r), 16), 0x0002_0000);
}

#[test]
fn padding_on_the_last_packet_is_accepted() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    let mut compound = rr(FAR, &[block(LOCAL, 0, 3, 1, 0, 0, 0)]);
    // A BYE with 4 bytes of padding: length 2 words + 1, padding bit set, last byte = 4.
    compound.extend_from_slice(&[0xA1, PT_BYE, 0, 2]);
    compound.extend_from_slice(&FAR.to_be_bytes());
    compound.extend_from_slice(&[0, 0, 0, 4]);
    assert_eq!(s.on_rtcp(start, 0, &compound), Ok(()));
    assert_eq!(s.quality().remote_packets_lost, Some(3));
}

#[test]
fn malformed_datagrams_are_rejected_and_change_nothing() {
    let good_rr = rr(FAR, &[block(LOCAL, 0, 3, 1, 0, 0, 0)]);
    let mut version_one = good_rr.clone();
    version_one[0] = 0x41;
    let mut truncated = good_rr.clone();
    truncated.truncate(24);
    let mut oversized_count = good_rr.clone();
    oversized_count[0] = 0x80 | 31;
    let mut short_sr = vec![0x80, PT_SR, 0, 1];
    short_sr.extend_from_slice(&FAR.to_be_bytes());
    let mut padded_first = good_rr.clone();
    padded_first[0] |= 0x20;
    let mut padding_not_last = good_rr.clone();
    padding_not_last.extend_from_slice(&[0xA1, PT_BYE, 0, 2]);
    padding_not_last.extend_from_slice(&FAR.to_be_bytes());
    padding_not_last.extend_from_slice(&[0, 0, 0, 4]);
    padding_not_last.extend(bye(FAR));
    let mut padding_too_big = good_rr.clone();
    padding_too_big.extend_from_slice(&[0xA1, PT_BYE, 0, 1]);
    padding_too_big.extend_from_slice(&[0, 0, 0, 9]);
    let mut trailing_junk = good_rr.clone();
    trailing_junk.extend_from_slice(&[0, 0, 0, 0]);
    let mut second_overruns = good_rr.clone();
    second_overruns.extend_from_slice(&[0x81, PT_SDES, 0xFF, 0xFF]);
    let mut odd_length = good_rr.clone();
    odd_length.push(0);

    let cases: Vec<(&str, Vec<u8>, RtcpError)> = vec![
        ("empty", vec![], RtcpError::BadLength { len: 0 }),
        ("odd length", odd_length, RtcpError::BadLength { len: 33 }),
        (
            "version 1",
            version_one,
            RtcpError::BadVersion { version: 1 },
        ),
        (
            "sdes first",
            sdes(FAR, "x", "y"),
            RtcpError::FirstNotReport {
                packet_type: PT_SDES,
            },
        ),
        (
            "rtp",
            vec![0x80, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 1],
            RtcpError::FirstNotReport { packet_type: 0 },
        ),
        (
            "truncated",
            truncated,
            RtcpError::Truncated {
                claimed: 32,
                remaining: 24,
            },
        ),
        (
            "31 blocks in one",
            oversized_count,
            RtcpError::BadReportCount {
                packet_type: PT_RR,
                count: 31,
                len: 32,
            },
        ),
        (
            "sr without sender info",
            short_sr,
            RtcpError::BadReportCount {
                packet_type: PT_SR,
                count: 0,
                len: 8,
            },
        ),
        ("padding on first", padded_first, RtcpError::PaddingOnFirst),
        (
            "padding not last",
            padding_not_last,
            RtcpError::PaddingNotLast,
        ),
        (
            "padding too big",
            padding_too_big,
            RtcpError::BadPadding { padding: 9, len: 8 },
        ),
        (
            "trailing zeros",
            trailing_junk,
            RtcpError::BadVersion { version: 0 },
        ),
        (
            "second overruns",
            second_overruns,
            RtcpError::Truncated {
                claimed: 262144,
                remaining: 4,
            },
        ),
    ];
    let start = Instant::now();
    for (name, bytes, expected) in cases {
        let mut s = RtcpSession::new(LOCAL, start);
        assert_eq!(s.on_rtcp(start, 0, &bytes), Err(expected), "{name}");
        assert_eq!(s.quality(), LegQuality::default(), "{name} changed nothing");
        assert!(!s.bye_received(), "{name}");
    }
}

#[test]
fn random_bytes_never_panic() {
    let start = Instant::now();
    let mut s = RtcpSession::new(LOCAL, start);
    let mut rng = IntervalRng(99);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let len = (rng.next_u64() % 80) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        // Give half of them a plausible first header so the deeper checks run too.
        if bytes.len() >= 4 && rng.next_u64().is_multiple_of(2) {
            bytes[0] = 0x80 | (bytes[0] & 0x1F);
            bytes[1] = PT_RR;
            bytes[2] = 0;
        }
        if s.on_rtcp(start, rng.next_u64(), &bytes).is_ok() {
            accepted += 1;
        }
    }
    assert_eq!(s.quality().rtcp_received, accepted);
}

#[test]
fn rfc_5761_demultiplexing_by_the_second_octet() {
    let rtcp = |pt: u8| {
        let mut p = vec![0x80, pt, 0, 1];
        p.extend_from_slice(&FAR.to_be_bytes());
        p
    };
    for pt in [PT_SR, PT_RR, PT_SDES, PT_BYE, PT_APP, 205, 206, 207] {
        assert!(is_rtcp(&rtcp(pt)), "{pt}");
    }
    // RTP: PCMU, PCMA, CN and telephone-event 101, with and without the marker bit.
    for second in [0u8, 8, 13, 101, 0x80, 0x88, 0x8D, 0x80 | 101] {
        let mut p = vec![0x80, second, 0, 1, 0, 0, 0, 160];
        p.extend_from_slice(&FAR.to_be_bytes());
        assert!(!is_rtcp(&p), "{second}");
    }
    assert!(
        !is_rtcp(&[0x80, PT_RR, 0, 1]),
        "too short for a sender SSRC"
    );
    assert!(!is_rtcp(&[0x40, PT_RR, 0, 1, 0, 0, 0, 0]), "version 1");
}
