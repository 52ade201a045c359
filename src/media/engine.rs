//! The seam between a media worker thread (`net/`) and the sans-IO media of the
//! conversations it owns: the worker feeds commands, datagrams and its 20 ms tick in, with
//! `now`, and sends what `poll_transmit` hands back with one system call each.

use std::net::SocketAddr;
use std::time::Instant;

use super::command::MediaCommand;
use super::session::MediaEvent;
use crate::sip::CallId;

/// One datagram to send from `call`'s leg: from its RTP socket, or from its RTCP socket when
/// `rtcp` is true (never, when the leg multiplexes RTCP on the RTP port).
#[derive(Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    pub call: CallId,
    pub rtcp: bool,
    pub to: SocketAddr,
    pub bytes: &'a [u8],
}

/// The sans-IO media of the conversations one worker owns. The worker owns the sockets: it
/// binds a leg's RTP port (and the odd port above it for RTCP) on `Open` or on the first
/// `Start` of a call it has no socket for, closes them after `End`, and passes every command
/// on to the engine as well. It calls `on_tick` every 20 ms (one tick for all its legs), and
/// after every call in drains `poll_transmit` and `poll_event`.
pub trait ConversationEngine {
    /// A command from the switch for a leg this worker owns.
    fn command(&mut self, now: Instant, command: MediaCommand);
    /// A datagram from `from` on `call`'s RTP socket (or its RTCP socket when `rtcp`).
    fn on_datagram(
        &mut self,
        now: Instant,
        call: CallId,
        rtcp: bool,
        from: SocketAddr,
        bytes: &[u8],
    );
    /// The worker's 20 ms tick.
    fn on_tick(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit<'_>>;
    /// The next event for the switch, if any.
    fn poll_event(&mut self) -> Option<(CallId, MediaEvent)>;
}
