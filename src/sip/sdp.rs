//! STUB
use crate::media::Codec;
use std::net::SocketAddr;
#[derive(Debug, Clone)]
pub struct Negotiated {
    pub remote: SocketAddr,
    pub codec: Codec,
    pub payload_type: u8,
    pub telephone_event: Option<u8>,
    pub ptime_ms: u32,
}
#[derive(Debug, thiserror::Error)]
pub enum SdpError {
    #[error("malformed {0}")]
    Malformed(String),
    #[error("no audio")]
    NoAudio,
    #[error("no common codec")]
    NoCommonCodec,
}
pub fn answer(
    _offer: &str,
    _local_rtp: SocketAddr,
    _session_id: u64,
) -> Result<(String, Negotiated), SdpError> {
    todo!()
}
pub fn offer(_local_rtp: SocketAddr, _session_id: u64) -> String {
    todo!()
}
pub fn accept_answer(_answer: &str) -> Result<Negotiated, SdpError> {
    todo!()
}
