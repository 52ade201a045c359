//! hotline: a CTI telephony and IVR switch.
pub mod config;
pub mod log_line;
pub mod media;
pub mod net;
pub mod qa;
pub mod recording;
pub mod sip;
pub mod store;
pub mod switch;
pub mod web;
