//! STUB (replaced at merge by the sip module)
pub mod sdp;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}
#[derive(Debug)]
pub struct Transmit {
    pub transport: Transport,
    pub destination: SocketAddr,
    pub payload: Vec<u8>,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);
impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
pub struct EndpointConfig {
    pub advertised: SocketAddr,
    pub trusted: Vec<(std::net::IpAddr, u8)>,
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
}
pub struct Endpoint;
impl Endpoint {
    pub fn new(_c: EndpointConfig) -> Self {
        todo!()
    }
    pub fn handle_input(&mut self, _now: Instant, _t: Transport, _s: SocketAddr, _b: &[u8]) {
        todo!()
    }
    pub fn handle_timeout(&mut self, _now: Instant) {
        todo!()
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        todo!()
    }
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        todo!()
    }
    pub fn ringing(&mut self, _now: Instant, _call: CallId) {
        todo!()
    }
    pub fn answer(&mut self, _now: Instant, _call: CallId, _sdp: &str) {
        todo!()
    }
    pub fn reject(
        &mut self,
        _now: Instant,
        _call: CallId,
        _status: u16,
        _retry_after: Option<u32>,
    ) {
        todo!()
    }
    pub fn hangup(&mut self, _now: Instant, _call: CallId) {
        todo!()
    }
    pub fn active_calls(&self) -> usize {
        todo!()
    }
}
#[derive(Debug)]
pub enum CallEvent {
    Incoming {
        call: CallId,
        sip_call_id: String,
        from: String,
        to: String,
        request_user: String,
        source: SocketAddr,
        transport: Transport,
        sdp: Option<String>,
    },
    Cancelled {
        call: CallId,
    },
    Confirmed {
        call: CallId,
        sdp: Option<String>,
    },
    AckTimeout {
        call: CallId,
    },
    RemoteSdp {
        call: CallId,
        sdp: String,
    },
    Bye {
        call: CallId,
    },
    Dtmf {
        call: CallId,
        digit: char,
        duration_ms: u32,
    },
    Ended {
        call: CallId,
    },
}
#[derive(Debug)]
pub struct FrameError;
pub fn stream_frame_len(_buf: &[u8]) -> Result<Option<usize>, FrameError> {
    todo!()
}
