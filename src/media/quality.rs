//! What a leg's media looked like, for the call record: packets each way, loss, jitter and
//! round-trip time from RTP and RTCP (RFC 3550), and what was refused at the door.
//!
//! Filled in by the media engine when a leg ends and carried to the store by the switch;
//! a QA reviewer and the metrics read it from the call record.

/// Which side of a call a media leg is: the caller's (trunk) leg or an agent's phone leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LegRole {
    Caller,
    Agent,
}

impl LegRole {
    pub fn as_str(self) -> &'static str {
        match self {
            LegRole::Caller => "caller",
            LegRole::Agent => "agent",
        }
    }
}

/// Which call record a leg's media figures belong to: the record's id (the caller's call, for
/// agent legs too) and the side. Given with `MediaCommand::Start` and handed back with the
/// figures, so they reach the record even after the switch has forgotten the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRecordKey {
    pub call_id: String,
    pub role: LegRole,
}

/// One leg's media figures when it ended. Counts are packets; times are microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegQuality {
    /// RTP packets this leg sent toward its far end.
    pub packets_sent: u64,
    /// RTP packets accepted from the far end (negotiated or latched source).
    pub packets_received: u64,
    /// Packets the far end sent that never arrived (RFC 3550 A.3: expected − received).
    pub packets_lost: u64,
    /// Interarrival jitter of what we received (RFC 3550 A.8), at the end of the call.
    pub jitter_us: u32,
    /// Round-trip time from the far end's last receiver report (LSR/DLSR), if it sent one.
    pub rtt_us: Option<u32>,
    /// Loss the far end reported of our stream (its last report block), if it sent one.
    pub remote_packets_lost: Option<u64>,
    /// Jitter the far end reported of our stream, if it sent a report.
    pub remote_jitter_us: Option<u32>,
    /// RTCP packets received from and sent to the far end.
    pub rtcp_received: u64,
    pub rtcp_sent: u64,
    /// Datagrams from addresses other than the far end's (dropped, never decoded).
    pub packets_from_strangers: u64,
}
