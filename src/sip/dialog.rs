//! Dialog state (RFC 3261 section 12): identifiers, CSeq spaces, remote target and route set,
//! and the construction of in-dialog requests with loose (or, for old proxies, strict)
//! routing.

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::message::{uri_socket_addr, NameAddr, Request, USER_AGENT};
use super::Transport;

#[derive(Clone, Debug)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
    /// Our party as the peer addressed it (the INVITE's To, without tag).
    local_party: String,
    /// The peer's party with its tag (the INVITE's From).
    remote_party: String,
    local_seq: u32,
    remote_seq: u32,
    pub remote_target: String,
    /// Route set in the order requests must traverse it.
    pub route_set: Vec<String>,
}

/// An in-dialog request ready to send.
#[derive(Clone, Debug)]
pub struct OutgoingRequest {
    pub payload: Vec<u8>,
    /// The next hop: the first route (loose routing) or the remote target, when either is an
    /// IP literal; `None` means the caller must fall back to where the dialog's requests came
    /// from (a hostname cannot be resolved in sans-IO code).
    pub next_hop: Option<SocketAddr>,
    /// The request's CSeq number (the ACK of an INVITE copies it).
    pub cseq: u32,
}

impl Dialog {
    /// The UAS side of a dialog created by an INVITE (RFC 3261 12.1.1).
    pub fn from_invite(invite: &Request, local_tag: String) -> Dialog {
        Dialog {
            call_id: invite.call_id.clone(),
            local_tag,
            remote_tag: invite.from.tag.clone().unwrap_or_default(),
            local_party: invite.seed.to.clone(),
            remote_party: invite.seed.from.clone(),
            // Our own CSeq space starts fresh; any positive start is allowed.
            local_seq: 1,
            remote_seq: invite.cseq,
            remote_target: invite
                .contact
                .clone()
                .unwrap_or_else(|| invite.from.uri.clone()),
            // The UAS keeps Record-Route in received order.
            route_set: invite.record_route.clone(),
        }
    }

    /// The UAC side of a dialog for an INVITE we send (RFC 3261 12.1.2). The remote tag,
    /// target and route set are filled in by [`Dialog::on_response`].
    pub fn outgoing(
        call_id: String,
        local_tag: String,
        local_party: String,
        remote_party: String,
        remote_target: String,
        invite_cseq: u32,
    ) -> Dialog {
        Dialog {
            call_id,
            local_tag,
            remote_tag: String::new(),
            local_party,
            remote_party,
            local_seq: invite_cseq,
            // No request from the peer yet: any CSeq it starts with is accepted.
            remote_seq: 0,
            remote_target,
            route_set: Vec::new(),
        }
    }

    /// A response to our INVITE that carries a To tag establishes (or, for the 2xx, fixes)
    /// the dialog: the peer's tag, its Contact as remote target, and the Record-Route in
    /// reverse order as the route set.
    pub fn on_response(&mut self, to_tag: &str, contact: Option<&str>, record_route: &[String]) {
        if self.remote_tag != to_tag {
            let party = self
                .remote_party
                .split(";tag=")
                .next()
                .unwrap_or("")
                .to_owned();
            self.remote_party = format!("{party};tag={to_tag}");
            self.remote_tag = to_tag.to_owned();
        }
        if let Some(contact) = contact {
            self.remote_target = contact.to_owned();
        }
        self.route_set = record_route.iter().rev().cloned().collect();
    }

    /// Checks the CSeq of a new in-dialog request (RFC 3261 12.2.2): lower than the last one
    /// seen means out of order (answer 500).
    pub fn accept_remote_cseq(&mut self, cseq: u32) -> bool {
        if cseq < self.remote_seq {
            return false;
        }
        self.remote_seq = cseq;
        true
    }

    /// A target refresh (re-INVITE) may move the remote target.
    pub fn refresh_target(&mut self, contact: Option<&str>) {
        if let Some(contact) = contact {
            self.remote_target = contact.to_owned();
        }
    }

    /// Builds the next in-dialog request with a fresh branch.
    pub fn request(
        &mut self,
        method: &str,
        branch: &str,
        advertised: SocketAddr,
        transport: Transport,
        contact: &str,
    ) -> OutgoingRequest {
        self.request_with_body(method, branch, advertised, transport, contact, None)
    }

    /// Builds the next in-dialog request, with a body (content type, text): each one takes
    /// the next number of our own CSeq space (RFC 3261 12.2.1.1).
    pub fn request_with_body(
        &mut self,
        method: &str,
        branch: &str,
        advertised: SocketAddr,
        transport: Transport,
        contact: &str,
        body: Option<(&str, &str)>,
    ) -> OutgoingRequest {
        self.request_with_headers(method, branch, advertised, transport, contact, &[], body)
    }

    /// Like [`Dialog::request_with_body`], with extra header fields (our own names and
    /// values, e.g. a NOTIFY's Event and Subscription-State) before the body.
    #[allow(clippy::too_many_arguments)]
    pub fn request_with_headers(
        &mut self,
        method: &str,
        branch: &str,
        advertised: SocketAddr,
        transport: Transport,
        contact: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &str)>,
    ) -> OutgoingRequest {
        self.local_seq += 1;
        let mut out = self.build(
            method,
            self.local_seq,
            branch,
            advertised,
            transport,
            contact,
        );
        if headers.is_empty() && body.is_none() {
            return out;
        }
        let head = out.payload.len() - "Content-Length: 0\r\n\r\n".len();
        out.payload.truncate(head);
        let mut tail = String::new();
        for (name, value) in headers {
            let _ = write!(tail, "{name}: {value}\r\n");
        }
        match body {
            Some((content_type, text)) => {
                let _ = write!(
                    tail,
                    "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{text}",
                    text.len()
                );
            }
            None => tail.push_str("Content-Length: 0\r\n\r\n"),
        }
        out.payload.extend_from_slice(tail.as_bytes());
        out
    }

    /// The ACK for a 2xx to our INVITE: its own branch, the INVITE's CSeq number
    /// (RFC 3261 13.2.2.4).
    pub fn ack(
        &self,
        invite_cseq: u32,
        branch: &str,
        advertised: SocketAddr,
        transport: Transport,
        contact: &str,
    ) -> OutgoingRequest {
        self.build("ACK", invite_cseq, branch, advertised, transport, contact)
    }

    fn build(
        &self,
        method: &str,
        cseq: u32,
        branch: &str,
        advertised: SocketAddr,
        transport: Transport,
        contact: &str,
    ) -> OutgoingRequest {
        let routes: Vec<NameAddr> = self
            .route_set
            .iter()
            .filter_map(|r| NameAddr::parse(r))
            .collect();
        let (request_uri, route_headers, next_hop_uri) = match routes.first() {
            None => (
                self.remote_target.clone(),
                Vec::new(),
                self.remote_target.clone(),
            ),
            Some(first) if first.is_loose_route() => (
                self.remote_target.clone(),
                self.route_set.clone(),
                first.uri.clone(),
            ),
            Some(first) => {
                // Strict router (RFC 3261 12.2.1.1): it becomes the Request-URI and the remote
                // target travels as the last Route.
                let mut rest: Vec<String> = self.route_set.iter().skip(1).cloned().collect();
                rest.push(format!("<{}>", self.remote_target));
                (first.uri.clone(), rest, first.uri.clone())
            }
        };
        let mut out = String::with_capacity(512);
        let _ = write!(out, "{method} {request_uri} SIP/2.0\r\n");
        let _ = write!(
            out,
            "Via: SIP/2.0/{} {advertised};branch={branch};rport\r\n",
            transport.via_token()
        );
        out.push_str("Max-Forwards: 70\r\n");
        for route in &route_headers {
            let _ = write!(out, "Route: {route}\r\n");
        }
        let _ = write!(out, "From: {};tag={}\r\n", self.local_party, self.local_tag);
        let _ = write!(out, "To: {}\r\n", self.remote_party);
        let _ = write!(out, "Call-ID: {}\r\n", self.call_id);
        let _ = write!(out, "CSeq: {cseq} {method}\r\n");
        let _ = write!(out, "Contact: <{contact}>\r\n");
        let _ = write!(out, "User-Agent: {USER_AGENT}\r\n");
        out.push_str("Content-Length: 0\r\n\r\n");
        OutgoingRequest {
            payload: out.into_bytes(),
            next_hop: uri_socket_addr(&next_hop_uri),
            cseq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse, Inbound};

    fn invite(extra: &str) -> Request {
        let text = format!(
            "INVITE sip:4008@10.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1\r\n\
{extra}Max-Forwards: 70\r\nFrom: <sip:1000@10.0.0.9>;tag=r1\r\nTo: <sip:4008@10.0.0.1>\r\n\
Call-ID: d1\r\nCSeq: 7 INVITE\r\nContact: <sip:1000@10.0.0.20:5062>\r\nContent-Length: 0\r\n\r\n"
        );
        match parse(text.as_bytes()) {
            Ok(Inbound::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn adv() -> SocketAddr {
        "10.0.0.1:5060".parse().unwrap()
    }

    #[test]
    fn bye_without_route_set_goes_to_the_remote_target() {
        let mut d = Dialog::from_invite(&invite(""), "l1".into());
        let out = d.request(
            "BYE",
            "z9hG4bKx",
            adv(),
            Transport::Udp,
            "sip:hotline@10.0.0.1",
        );
        let text = String::from_utf8(out.payload).unwrap();
        assert!(text.starts_with("BYE sip:1000@10.0.0.20:5062 SIP/2.0\r\n"));
        assert!(text.contains("From: <sip:4008@10.0.0.1>;tag=l1\r\n"));
        assert!(text.contains("To: <sip:1000@10.0.0.9>;tag=r1\r\n"));
        assert!(text.contains("CSeq: 2 BYE\r\n"));
        assert!(!text.contains("Route:"));
        assert_eq!(out.next_hop, Some("10.0.0.20:5062".parse().unwrap()));
    }

    #[test]
    fn loose_route_set_is_sent_as_route_headers_and_first_hop_is_the_proxy() {
        let mut d = Dialog::from_invite(
            &invite("Record-Route: <sip:10.0.0.5;lr>, <sip:10.0.0.6:5070;lr>\r\n"),
            "l1".into(),
        );
        let out = d.request(
            "BYE",
            "z9hG4bKx",
            adv(),
            Transport::Udp,
            "sip:hotline@10.0.0.1",
        );
        let text = String::from_utf8(out.payload).unwrap();
        assert!(text.starts_with("BYE sip:1000@10.0.0.20:5062 SIP/2.0\r\n"));
        let route_at = text.find("Route: <sip:10.0.0.5;lr>\r\n").unwrap();
        let second_at = text.find("Route: <sip:10.0.0.6:5070;lr>\r\n").unwrap();
        assert!(route_at < second_at);
        assert_eq!(out.next_hop, Some("10.0.0.5:5060".parse().unwrap()));
    }

    #[test]
    fn strict_router_becomes_the_request_uri() {
        let mut d = Dialog::from_invite(&invite("Record-Route: <sip:10.0.0.5>\r\n"), "l1".into());
        let out = d.request(
            "BYE",
            "z9hG4bKx",
            adv(),
            Transport::Udp,
            "sip:hotline@10.0.0.1",
        );
        let text = String::from_utf8(out.payload).unwrap();
        assert!(text.starts_with("BYE sip:10.0.0.5 SIP/2.0\r\n"));
        assert!(text.contains("Route: <sip:1000@10.0.0.20:5062>\r\n"));
    }

    #[test]
    fn in_dialog_requests_number_our_cseq_space_and_carry_their_body() {
        let mut d = Dialog::from_invite(&invite(""), "l1".into());
        let contact = "sip:hotline@10.0.0.1";
        let first = d.request_with_body(
            "INVITE",
            "z9hG4bKa",
            adv(),
            Transport::Udp,
            contact,
            Some(("application/sdp", "v=0\r\n")),
        );
        let text = String::from_utf8(first.payload).unwrap();
        assert_eq!(first.cseq, 2);
        assert!(text.contains("CSeq: 2 INVITE\r\n"), "{text}");
        assert!(
            text.ends_with("Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"),
            "{text}"
        );
        let ack = d.ack(first.cseq, "z9hG4bKb", adv(), Transport::Udp, contact);
        assert!(String::from_utf8(ack.payload)
            .unwrap()
            .contains("CSeq: 2 ACK\r\n"));
        let bye = d.request("BYE", "z9hG4bKc", adv(), Transport::Udp, contact);
        assert_eq!(bye.cseq, 3);
    }

    #[test]
    fn out_of_order_remote_cseq_is_refused() {
        let mut d = Dialog::from_invite(&invite(""), "l1".into());
        assert!(d.accept_remote_cseq(8));
        assert!(!d.accept_remote_cseq(6));
    }
}
