//! sip
pub mod sdp;
