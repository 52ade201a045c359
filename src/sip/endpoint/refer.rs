//! Call transfer requests (RFC 3515 REFER, RFC 3891 Replaces, RFC 5589): parsing Refer-To
//! and Replaces, answering a REFER (202 or a refusal), the implicit subscription's NOTIFYs
//! (`message/sipfrag` progress), finding the dialog a `Replaces` names, and the answers to
//! NOTIFY and SUBSCRIBE requests nobody asked for.
//!
//! One transfer request per call: while the switch has not answered a REFER, or while the
//! subscription of an accepted one is still reporting, another REFER on the same call gets
//! 500 with Retry-After. NOTIFYs of a subscription go one at a time (each is an in-dialog
//! non-INVITE client transaction, retransmitted over UDP until Timer F); progress reported
//! while one is in flight waits, and only the latest waiting progress is kept. A failed
//! NOTIFY (481, 408, timeout or any other error: the phone hung up after the 202) ends the
//! subscription quietly; the call goes on.

use super::*;
use crate::sip::{DialogRef, ReferTarget};

/// A Refer-To value longer than this is refused (400): an attended transfer's URI with an
/// escaped `Replaces` is well under 1 KiB.
const MAX_REFER_TO_BYTES: usize = 2048;
/// A Replaces value (or the one embedded in a Refer-To, unescaped) longer than this is
/// refused (400).
const MAX_REPLACES_BYTES: usize = 600;
/// Longest Call-ID and tag a Replaces may name.
const MAX_REPLACES_CALL_ID: usize = 256;
const MAX_REPLACES_TAG: usize = 128;
/// Referred-By values longer than this are not kept (the REFER is still taken).
const MAX_REFERRED_BY_BYTES: usize = 512;
/// How long the implicit subscription lasts without a new NOTIFY (Subscription-State
/// `active;expires=60`).
const SUBSCRIPTION_SECONDS: u64 = 60;
/// Retry-After of the 500 that refuses a REFER while another one on the call is pending.
const BUSY_RETRY_AFTER: &str = "1";

/// A call's transfer request: the REFER waiting for the switch, then the implicit
/// subscription its NOTIFYs report on.
pub(super) enum ReferState {
    /// `CallEvent::Refer` is out; the switch has not accepted or refused it yet.
    Asked {
        request: Box<Request>,
        route: Route,
        since: Instant,
    },
    /// 202 sent: the NOTIFYs of the implicit subscription (RFC 3515 2.4.4).
    Subscribed(Subscription),
}

pub(super) struct Subscription {
    /// The REFER's CSeq number: the `id` of the NOTIFYs' Event header.
    id: u32,
    /// The branch of the NOTIFY in flight; the next one waits for its final response.
    in_flight: Option<String>,
    /// The latest progress not sent yet: (status, last).
    waiting: Option<(u16, bool)>,
    /// The terminating NOTIFY is sent or waiting, or the subscription failed.
    ended: bool,
    /// When the subscription lapses by itself (`expires` of the last active NOTIFY).
    expires_at: Instant,
}

/// Why a Refer-To or Replaces cannot be used: the status and our reason phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Unusable {
    pub(super) status: u16,
    pub(super) reason: &'static str,
}

const fn bad(reason: &'static str) -> Unusable {
    Unusable {
        status: 400,
        reason,
    }
}

impl Endpoint {
    /// Answers the REFER of [`CallEvent::Refer`] with 202 Accepted and sends the first
    /// NOTIFY (`SIP/2.0 100 Trying`, subscription active).
    pub fn accept_refer(&mut self, now: Instant, call: CallId) {
        let Some((request, route)) = self.take_asked_refer(call) else {
            debug!(%call, "accept_refer without a REFER waiting; ignored");
            return;
        };
        if self
            .calls
            .get(&call)
            .is_some_and(|c| c.phase == Phase::Terminating)
        {
            // We hung up while the switch decided: nothing left to transfer.
            let reason = Some("Call Is Ending");
            return self.reply_in_dialog(now, call, &request, route, 481, reason, &[]);
        }
        self.reply_in_dialog(now, call, &request, route, 202, None, &[]);
        if let Some(c) = self.calls.get_mut(&call) {
            c.refer = Some(ReferState::Subscribed(Subscription {
                id: request.cseq,
                in_flight: None,
                waiting: None,
                ended: false,
                // Set by each active NOTIFY, the first one next.
                expires_at: now,
            }));
        }
        self.send_notify(now, call, 100, false);
    }

    /// Refuses the pending REFER with `status` (403 not allowed, 404 no such target, 488 …;
    /// anything outside 300–699 becomes 403).
    pub fn refuse_refer(&mut self, now: Instant, call: CallId, status: u16) {
        let Some((request, route)) = self.take_asked_refer(call) else {
            debug!(%call, "refuse_refer without a REFER waiting; ignored");
            return;
        };
        let status = if (300..=699).contains(&status) {
            status
        } else {
            403
        };
        self.reply_in_dialog(now, call, &request, route, status, None, &[]);
    }

    /// Reports the referred call's progress in a NOTIFY (`SIP/2.0 <status> <reason>` as
    /// `message/sipfrag`); `last` terminates the subscription (a final status). Without an
    /// accepted REFER on the call, nothing is sent.
    pub fn notify_refer(&mut self, now: Instant, call: CallId, status: u16, last: bool) {
        if !(100..=699).contains(&status) {
            debug!(%call, status, "notify_refer with an impossible status; ignored");
            return;
        }
        let Some(c) = self.calls.get_mut(&call) else {
            debug!(%call, "notify_refer for a call that is gone; nothing sent");
            return;
        };
        let Some(ReferState::Subscribed(sub)) = c.refer.as_mut() else {
            debug!(%call, "notify_refer without an accepted REFER; nothing sent");
            return;
        };
        if sub.ended {
            return;
        }
        if sub.in_flight.is_some() {
            sub.waiting = Some((status, last));
            sub.ended = last;
            return;
        }
        self.send_notify(now, call, status, last);
    }

    /// The call whose dialog `dialog` names, matched by Call-ID and both tags (either
    /// order), or by Call-ID alone when the tags are missing and one call has that Call-ID
    /// (one tag alone must be one of that call's tags). A dialog being torn down (our BYE
    /// out) or not yet created (no To tag from the phone) is not matched; with `early_only`
    /// only a dialog not yet confirmed (no 2xx yet) is.
    pub fn find_dialog(&self, dialog: &DialogRef) -> Option<CallId> {
        let usable = |c: &Call| {
            c.phase != Phase::Terminating
                && !c.dialog.remote_tag.is_empty()
                && (!dialog.early_only || matches!(c.phase, Phase::Calling | Phase::Offered))
        };
        if let (Some(to), Some(from)) = (&dialog.to_tag, &dialog.from_tag) {
            return [(to, from), (from, to)]
                .into_iter()
                .find_map(|(local, remote)| {
                    let call = *self.dialogs.get(&(dialog.call_id.clone(), local.clone()))?;
                    let c = self.calls.get(&call)?;
                    (c.dialog.remote_tag == *remote && usable(c)).then_some(call)
                });
        }
        let tag = dialog.to_tag.as_ref().or(dialog.from_tag.as_ref());
        let mut same_call_id = self
            .calls
            .iter()
            .filter(|(_, c)| c.dialog.call_id == dialog.call_id);
        let (call, c) = same_call_id.next()?;
        if same_call_id.next().is_some() {
            return None;
        }
        let tag_fits = tag.is_none_or(|t| c.dialog.local_tag == *t || c.dialog.remote_tag == *t);
        (tag_fits && usable(c)).then_some(*call)
    }

    // ----------------------------------------------------------------------------------
    // Inbound REFER, NOTIFY, SUBSCRIBE.

    /// REFER within one of our dialogs (RFC 3515): checked, parsed, then handed to the
    /// switch as [`CallEvent::Refer`], unanswered until it says.
    pub(super) fn on_refer(
        &mut self,
        now: Instant,
        source: SocketAddr,
        route: Route,
        request: Request,
    ) {
        let Some(call) = self.dialog_of(&request) else {
            debug!(%source, "REFER outside any dialog of ours (481)");
            return self.reply_in_transaction(now, &request, route, 481, None, &[], None);
        };
        let trusted = self.is_trusted(source.ip());
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        // A transfer places calls (perhaps through a trunk): from outside the trunks only
        // the dialog's own peer may ask for one, however it learnt the dialog's identifiers.
        if !trusted && c.source.ip() != source.ip() {
            warn!(%call, %source, "REFER from an address other than the call's refused");
            return self.reply_stateless(&request, route, 403, &[]);
        }
        let key = ServerKey::of(&request, "REFER");
        if let Some(ReferState::Asked { request: asked, .. }) = &c.refer {
            if ServerKey::of(asked, "REFER") == key {
                // The same REFER again (UDP retransmission): the answer comes when the
                // switch gives it.
                return;
            }
        }
        if !self.in_order(call, &request) {
            return self.reply_in_transaction(now, &request, route, 500, None, &[], None);
        }
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let refusal = match c.phase {
            Phase::Terminating => Some(Unusable {
                status: 481,
                reason: "Call Is Ending",
            }),
            Phase::Calling | Phase::Offered => Some(Unusable {
                status: 403,
                reason: "Call Not Established",
            }),
            Phase::Answered | Phase::Confirmed => None,
        };
        let refusal = refusal.or_else(|| {
            (!request.header_values(&["Replaces"]).is_empty())
                .then_some(bad("Replaces Header In REFER"))
        });
        let parsed = match refusal {
            Some(refusal) => Err(refusal),
            None => parse_refer_to(&request.header_values(&["Refer-To", "r"])),
        };
        let target = match parsed {
            Ok(target) => target,
            Err(refusal) => {
                debug!(%call, status = refusal.status, reason = refusal.reason, "REFER refused");
                return self.reply_in_dialog(
                    now,
                    call,
                    &request,
                    route,
                    refusal.status,
                    Some(refusal.reason),
                    &[],
                );
            }
        };
        if self.transfer_pending(now, call) {
            debug!(%call, "REFER while another transfer request is pending (500)");
            return self.reply_in_dialog(
                now,
                call,
                &request,
                route,
                500,
                Some("Transfer Already In Progress"),
                &[("Retry-After", BUSY_RETRY_AFTER)],
            );
        }
        let referred_by = request
            .header_values(&["Referred-By", "b"])
            .first()
            .and_then(|value| referred_by_uri(value));
        debug!(
            %call,
            user = %printable(&target.user),
            host = %printable(&target.host),
            attended = target.replaces.is_some(),
            "REFER handed to the switch"
        );
        if let Some(c) = self.calls.get_mut(&call) {
            c.refer = Some(ReferState::Asked {
                request: Box::new(request),
                route,
                since: now,
            });
        }
        self.events.push_back(CallEvent::Refer {
            call,
            target,
            referred_by,
        });
    }

    /// NOTIFY: we never subscribe to anything, so none is expected. Without an Event
    /// header it is 489 (RFC 6665 8.2.1), else 481: no such subscription.
    pub(super) fn on_notify(&mut self, now: Instant, route: Route, request: &Request) {
        let status = if request.header_values(&["Event", "o"]).is_empty() {
            489
        } else {
            481
        };
        debug!(status, call_id = %printable(&request.call_id), "unsolicited NOTIFY refused");
        let tag = self
            .dialog_of(request)
            .and_then(|call| self.calls.get(&call))
            .map(|c| c.dialog.local_tag.clone());
        self.reply_in_transaction(now, request, route, status, tag.as_deref(), &[], None);
    }

    /// SUBSCRIBE: we are the notifier of no event package anyone may subscribe to (a
    /// REFER's subscription is implicit), so 489 Bad Event, as Asterisk answers unknown ones.
    pub(super) fn on_subscribe(&mut self, now: Instant, route: Route, request: &Request) {
        debug!(call_id = %printable(&request.call_id), "SUBSCRIBE refused (489)");
        self.reply_in_transaction(now, request, route, 489, None, &[], None);
    }

    /// The Replaces header of a new INVITE (RFC 3891): `Ok(None)` without one, an error
    /// (answered 400) when it is repeated or unreadable.
    pub(super) fn replaces_of(request: &Request) -> Result<Option<DialogRef>, Unusable> {
        let values = request.header_values(&["Replaces"]);
        match values.as_slice() {
            [] => Ok(None),
            [value] => parse_replaces(value)
                .map(Some)
                .ok_or(bad("Bad Replaces Header")),
            _ => Err(bad("More Than One Replaces Header")),
        }
    }

    // ----------------------------------------------------------------------------------
    // NOTIFYs we send.

    /// A NOTIFY's final response (`Some(status)`) or its Timer F (`None`).
    pub(super) fn on_notify_outcome(
        &mut self,
        now: Instant,
        call: CallId,
        branch: &str,
        status: Option<u16>,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(ReferState::Subscribed(sub)) = c.refer.as_mut() else {
            return;
        };
        if sub.in_flight.as_deref() != Some(branch) {
            return;
        }
        sub.in_flight = None;
        match status {
            Some(200..=299) => {
                // An ended subscription stays as it is (`ended`) until the call's next REFER.
                if let Some((status, last)) = sub.waiting.take() {
                    self.send_notify(now, call, status, last);
                }
            }
            _ => {
                // 481/408/timeout: the phone has already let go of the call (often it hangs
                // up right after the 202). Nothing more is sent; the call itself goes on.
                debug!(%call, status, "NOTIFY failed; the transfer subscription ends");
                c.refer = None;
            }
        }
    }

    fn send_notify(&mut self, now: Instant, call: CallId, status: u16, last: bool) {
        let branch = new_branch(&mut self.rng);
        let advertised = self.config.advertised;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if !matches!(c.phase, Phase::Answered | Phase::Confirmed) {
            debug!(%call, "dialog ending: no NOTIFY sent");
            c.refer = None;
            return;
        }
        let Some(ReferState::Subscribed(sub)) = c.refer.as_mut() else {
            return;
        };
        let event = format!("refer;id={}", sub.id);
        let state = if last {
            "terminated;reason=noresource".to_owned()
        } else {
            format!("active;expires={SUBSCRIPTION_SECONDS}")
        };
        let body = format!("SIP/2.0 {status} {}\r\n", message::reason_phrase(status));
        sub.in_flight = Some(branch.clone());
        sub.ended |= last;
        if !last {
            sub.expires_at = now + Duration::from_secs(SUBSCRIPTION_SECONDS);
        }
        let transport = c.route.transport;
        let contact = contact_uri(advertised, transport);
        let notify = c.dialog.request_with_headers(
            "NOTIFY",
            &branch,
            advertised,
            transport,
            &contact,
            &[("Event", &event), ("Subscription-State", &state)],
            Some(("message/sipfrag;version=2.0", &body)),
        );
        let route = next_hop_route(c, notify.next_hop);
        debug!(%call, status, last, cseq = notify.cseq, "sending NOTIFY");
        let tx = ClientNonInviteTransaction::new(
            now,
            notify.payload.clone(),
            transport.is_reliable(),
            self.timers,
        );
        self.clients.insert(
            (branch, "NOTIFY".into()),
            Client {
                tx,
                call: Some(call),
                method: "NOTIFY".into(),
                route,
            },
        );
        self.send(route, notify.payload);
    }

    // ----------------------------------------------------------------------------------
    // Helpers.

    fn take_asked_refer(&mut self, call: CallId) -> Option<(Box<Request>, Route)> {
        let c = self.calls.get_mut(&call)?;
        match c.refer.take() {
            Some(ReferState::Asked { request, route, .. }) => Some((request, route)),
            other => {
                c.refer = other;
                None
            }
        }
    }

    /// A transfer request on the call still holds its place: a REFER the switch has not
    /// answered (within the REFER's own transaction time), or a subscription still
    /// reporting (neither terminated nor lapsed).
    fn transfer_pending(&self, now: Instant, call: CallId) -> bool {
        match self.calls.get(&call).and_then(|c| c.refer.as_ref()) {
            None => false,
            Some(ReferState::Asked { since, .. }) => {
                now < *since + self.timers.transaction_timeout()
            }
            Some(ReferState::Subscribed(sub)) => !sub.ended && now < sub.expires_at,
        }
    }

    /// A response within the call's dialog, in its own non-INVITE server transaction: our
    /// To tag, our Contact on a 2xx, and our reason phrase when given.
    #[allow(clippy::too_many_arguments)]
    fn reply_in_dialog(
        &mut self,
        now: Instant,
        call: CallId,
        request: &Request,
        route: Route,
        status: u16,
        reason: Option<&str>,
        extra: &[(&str, &str)],
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let contact = contact_uri(self.config.advertised, c.route.transport);
        let text = ResponseText {
            status,
            seed: &request.seed,
            to_tag: Some(&c.dialog.local_tag),
            contact: (status < 300).then_some(contact.as_str()),
            record_route: &[],
            extra,
            body: None,
        };
        let payload = match reason {
            Some(reason) => text.write_with_reason(reason),
            None => text.write(),
        };
        let mut tx = ServerNonInviteTransaction::new(route.transport.is_reliable(), self.timers);
        tx.respond(now, status, payload.clone());
        self.non_invite_servers.insert(
            ServerKey::of(request, request.method.as_str()),
            NonInviteServer { tx, route },
        );
        self.send(route, payload);
    }

    /// A response without transaction state, with our reason phrase (a 400 to a new
    /// INVITE whose Replaces cannot be read).
    pub(super) fn reply_stateless_because(
        &mut self,
        request: &Request,
        route: Route,
        refusal: Unusable,
    ) {
        let tag = new_tag(&mut self.rng);
        let payload = ResponseText {
            status: refusal.status,
            seed: &request.seed,
            to_tag: Some(&tag),
            contact: None,
            record_route: &[],
            extra: &[],
            body: None,
        }
        .write_with_reason(refusal.reason);
        self.send(route, payload);
    }
}

/// The one Refer-To of a REFER (every header line, compact `r` included), read into a
/// target: exactly one value, with or without angle brackets, a sip/sips/tel URI, its
/// `?Replaces=` header part unescaped into a [`DialogRef`].
pub(super) fn parse_refer_to(values: &[String]) -> Result<ReferTarget, Unusable> {
    if values.iter().any(|v| v.len() > MAX_REFER_TO_BYTES) {
        return Err(bad("Refer-To Too Long"));
    }
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let entries = message::split_list(&refs);
    let value = match entries.as_slice() {
        [] => return Err(bad("Missing Refer-To")),
        [one] => one.as_str(),
        _ => return Err(bad("More Than One Refer-To")),
    };
    if value.chars().any(char::is_control) {
        return Err(bad("Bad Refer-To"));
    }
    let full_uri = if value.contains('<') {
        message::NameAddr::parse(value)
            .ok_or(bad("Bad Refer-To"))?
            .uri
    } else {
        // A bare URI (baresip writes `Refer-To: sip:1002@host`): everything is the URI.
        if value.chars().any(char::is_whitespace) {
            return Err(bad("Bad Refer-To"));
        }
        value.to_owned()
    };
    let (uri, headers) = match full_uri.split_once('?') {
        Some((uri, headers)) => (uri, Some(headers)),
        None => (full_uri.as_str(), None),
    };
    let (scheme, rest) = uri.split_once(':').ok_or(bad("Bad Refer-To"))?;
    let (user, host) = if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips")
    {
        sip_user_and_host(rest).ok_or(bad("Bad Refer-To"))?
    } else if scheme.eq_ignore_ascii_case("tel") {
        let number = rest.split(';').next().unwrap_or("");
        let number = unescape(number).ok_or(bad("Bad Refer-To"))?;
        if number.is_empty() {
            return Err(bad("Bad Refer-To"));
        }
        (number, String::new())
    } else {
        return Err(Unusable {
            status: 416,
            reason: "Unsupported Refer-To URI Scheme",
        });
    };
    if message::uri_param(uri, "method").is_some_and(|m| !m.eq_ignore_ascii_case("INVITE")) {
        return Err(bad("Refer-To Method Is Not INVITE"));
    }
    let mut replaces = None;
    for header in headers.unwrap_or("").split('&') {
        let (name, value) = header.split_once('=').unwrap_or((header, ""));
        if !name.trim().eq_ignore_ascii_case("Replaces") {
            continue;
        }
        if replaces.is_some() {
            return Err(bad("More Than One Replaces In Refer-To"));
        }
        let value = unescape(value).ok_or(bad("Bad Replaces In Refer-To"))?;
        replaces = Some(parse_replaces(&value).ok_or(bad("Bad Replaces In Refer-To"))?);
    }
    Ok(ReferTarget {
        uri: uri.to_owned(),
        user,
        host,
        replaces,
    })
}

/// `user:password@host:port;params` (after `sip:`) → the user (unescaped, without user
/// parameters; empty when there is none) and the host (without port).
fn sip_user_and_host(rest: &str) -> Option<(String, String)> {
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, rest),
    };
    let hostport = hostport.split(';').next().unwrap_or("");
    let host = if hostport.starts_with('[') {
        let end = hostport.find(']')?;
        &hostport[..=end]
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._[]:".contains(c));
    if !host_ok {
        return None;
    }
    let user = match userinfo {
        Some(userinfo) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let user = user.split(';').next().unwrap_or("");
            let user = unescape(user)?;
            if user.is_empty() || user.contains(char::is_whitespace) {
                return None;
            }
            user
        }
        None => String::new(),
    };
    Some((user, host.to_owned()))
}

/// A Replaces value, `call-id;to-tag=…;from-tag=…[;early-only]` (RFC 3891 6.1), with the
/// parameters in any order. The tags may be missing (matched then by Call-ID alone);
/// `None` when it has no Call-ID, repeats a tag, is too long or holds spaces or control
/// characters.
pub(crate) fn parse_replaces(value: &str) -> Option<DialogRef> {
    if value.len() > MAX_REPLACES_BYTES {
        return None;
    }
    let clean = |text: &str, max: usize| {
        !text.is_empty()
            && text.len() <= max
            && !text.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    let mut parts = value.split(';');
    let call_id = parts.next()?.trim();
    if !clean(call_id, MAX_REPLACES_CALL_ID) {
        return None;
    }
    let mut dialog = DialogRef {
        call_id: call_id.to_owned(),
        to_tag: None,
        from_tag: None,
        early_only: false,
    };
    let (mut to_seen, mut from_seen) = (false, false);
    for param in parts {
        let (name, tag) = match param.split_once('=') {
            Some((name, tag)) => (name.trim(), tag.trim()),
            None => (param.trim(), ""),
        };
        let (slot, seen) = if name.eq_ignore_ascii_case("to-tag") {
            (&mut dialog.to_tag, &mut to_seen)
        } else if name.eq_ignore_ascii_case("from-tag") {
            (&mut dialog.from_tag, &mut from_seen)
        } else {
            dialog.early_only |= name.eq_ignore_ascii_case("early-only");
            continue;
        };
        if std::mem::replace(seen, true) {
            return None;
        }
        if tag.is_empty() {
            continue;
        }
        if !clean(tag, MAX_REPLACES_TAG) {
            return None;
        }
        *slot = Some(tag.to_owned());
    }
    Some(dialog)
}

/// `%HH` escapes decoded (either case); `None` when the result is not UTF-8 text free of
/// control characters. A `%` not followed by two hex digits stays as it is.
fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .ok()
        .filter(|text| !text.chars().any(char::is_control))
}

/// The URI of a Referred-By value (`<sip:1001@host>` or a bare URI); `None` when it is
/// unreadable or too long (the REFER is taken without it).
fn referred_by_uri(value: &str) -> Option<String> {
    if value.len() > MAX_REFERRED_BY_BYTES || value.chars().any(char::is_control) {
        return None;
    }
    let value = value.trim();
    let uri = if value.contains('<') {
        message::NameAddr::parse(value)?.uri
    } else {
        value.split(';').next()?.trim().to_owned()
    };
    (uri.contains(':') && !uri.contains(char::is_whitespace)).then_some(uri)
}
