//! switch: the sans-IO call-centre core (calls, IVR, service standards).
pub mod timeline;
