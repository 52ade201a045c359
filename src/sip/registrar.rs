//! The registrar (RFC 3261 section 10.3): contact bindings of the agents' phones, their
//! expiry in virtual time, and how to reach each binding. Authentication happens before a
//! REGISTER gets here (see `auth.rs`); this module only applies an accepted one, within a
//! bounded number of contacts per phone and never with a Contact that points at the switch
//! itself.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use thiserror::Error;

use super::message::{split_list, uri_param, uri_socket_addr, NameAddr};
use super::Transport;

/// Where one registered device of a phone can be reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The phone's SIP user (its address-of-record user part).
    pub user: String,
    /// The Contact URI as registered.
    pub contact: String,
    /// Where requests to this contact are sent.
    pub address: SocketAddr,
    pub transport: Transport,
    pub expires_at: Instant,
}

/// Why a REGISTER was refused after authentication.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RegisterError {
    #[error("Contact {0:?} is not a SIP URI")]
    MalformedContact(String),
    #[error("expires value {0:?} is not a number of seconds")]
    MalformedExpires(String),
    #[error("Contact: * must be alone and come with Expires: 0")]
    BadWildcard,
    #[error("expires {requested}s is below the minimum of {min}s")]
    IntervalTooBrief { requested: u32, min: u32 },
    #[error("REGISTER CSeq {cseq} of Call-ID {call_id} is not newer than the binding's")]
    OutOfOrder { call_id: String, cseq: u32 },
    #[error("the phone would have {would_have} contacts, more than the {max} allowed")]
    TooManyContacts { would_have: usize, max: usize },
    #[error("Contact {0:?} points at the switch itself")]
    PointsAtUs(String),
}

impl RegisterError {
    /// The SIP status that tells the phone what went wrong.
    pub fn status(&self) -> u16 {
        match self {
            RegisterError::IntervalTooBrief { .. } => 423,
            // RFC 3261 10.3 step 7 asks for 500 on an out-of-order REGISTER.
            RegisterError::OutOfOrder { .. } => 500,
            // As Asterisk answers past an AOR's max_contacts and for a forbidden Contact:
            // final, so the phone does not retry it as it would a 503.
            RegisterError::TooManyContacts { .. } | RegisterError::PointsAtUs(_) => 403,
            _ => 400,
        }
    }
}

/// An authenticated REGISTER, reduced to what the registrar needs.
pub struct RegisterRequest<'a> {
    pub user: &'a str,
    /// Each Contact header value as received (lists allowed).
    pub contacts: &'a [String],
    /// The Expires header, unparsed.
    pub expires: Option<&'a str>,
    pub call_id: &'a str,
    pub cseq: u32,
    pub source: SocketAddr,
    pub transport: Transport,
}

/// What a REGISTER did.
#[derive(Debug, PartialEq, Eq)]
pub struct RegisterOutcome {
    /// The phone's bindings after the request (for the 200's Contact list).
    pub bindings: Vec<Binding>,
    /// False for a query (no Contact) or when nothing changed.
    pub changed: bool,
}

struct Entry {
    binding: Binding,
    /// The REGISTER that made or last refreshed the binding (absent when restored).
    call_id: Option<String>,
    cseq: u32,
}

/// One contact of a REGISTER.
struct ContactUpdate {
    uri: String,
    expires: u32,
}

pub struct Registrar {
    min_expires: u32,
    max_expires: u32,
    default_expires: u32,
    bindings: BTreeMap<String, Vec<Entry>>,
    /// Contacts one user may have at once.
    max_contacts: usize,
    /// Our own listening sockets (an unspecified IP stands for every local address).
    own_addresses: Vec<SocketAddr>,
}

/// Contacts per phone unless configured otherwise.
pub const DEFAULT_MAX_CONTACTS: usize = 5;

impl Registrar {
    pub fn new(min_expires: u32, max_expires: u32) -> Self {
        let max_expires = max_expires.max(min_expires);
        Registrar {
            min_expires,
            max_expires,
            default_expires: 3600u32.clamp(min_expires, max_expires),
            bindings: BTreeMap::new(),
            max_contacts: DEFAULT_MAX_CONTACTS,
            own_addresses: Vec::new(),
        }
    }

    /// At most `max` contacts per phone (at least one).
    pub fn with_max_contacts(mut self, max: usize) -> Self {
        self.max_contacts = max.max(1);
        self
    }

    /// Contacts pointing at any of these sockets are refused.
    pub fn with_own_addresses(mut self, own: Vec<SocketAddr>) -> Self {
        self.own_addresses = own;
        self
    }

    /// Whether requests sent to `target` would come back to us: one of our sockets, or our
    /// port on a loopback or unspecified address, or on any address when we listen on all.
    fn is_ours(&self, target: SocketAddr) -> bool {
        let ip = target.ip().to_canonical();
        self.own_addresses.iter().any(|own| {
            let own_ip = own.ip().to_canonical();
            own.port() == target.port()
                && (own_ip == ip
                    || ip.is_unspecified()
                    || own_ip.is_unspecified()
                    || (ip.is_loopback() && own_ip.is_loopback()))
        })
    }

    pub fn min_expires(&self) -> u32 {
        self.min_expires
    }

    /// The bindings the timer has not removed yet.
    pub fn bindings(&self, user: &str) -> Vec<Binding> {
        self.bindings
            .get(user)
            .map(|entries| entries.iter().map(|e| e.binding.clone()).collect())
            .unwrap_or_default()
    }

    /// Puts back a binding remembered across a restart (replacing one with the same contact).
    pub fn restore(&mut self, binding: Binding) {
        let entries = self.bindings.entry(binding.user.clone()).or_default();
        entries.retain(|e| e.binding.contact != binding.contact);
        entries.push(Entry {
            binding,
            call_id: None,
            cseq: 0,
        });
    }

    /// Applies an authenticated REGISTER (RFC 3261 10.3 steps 6–8). Nothing changes when
    /// any contact is refused.
    pub fn register(
        &mut self,
        now: Instant,
        request: &RegisterRequest<'_>,
    ) -> Result<RegisterOutcome, RegisterError> {
        let header_expires = request
            .expires
            .map(|v| parse_expires(v).ok_or_else(|| RegisterError::MalformedExpires(clip(v))))
            .transpose()?;
        let values = split_list(
            &request
                .contacts
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        if values.iter().any(|v| v.trim() == "*") {
            if values.len() != 1 || header_expires != Some(0) {
                return Err(RegisterError::BadWildcard);
            }
            let removed = self.bindings.remove(request.user).is_some();
            return Ok(RegisterOutcome {
                bindings: Vec::new(),
                changed: removed,
            });
        }
        let mut updates = Vec::with_capacity(values.len());
        for value in &values {
            let contact = NameAddr::parse(value)
                .ok_or_else(|| RegisterError::MalformedContact(clip(value)))?;
            if !contact.uri.to_ascii_lowercase().starts_with("sip:") {
                return Err(RegisterError::MalformedContact(clip(value)));
            }
            let expires = match contact.param("expires") {
                Some(v) => {
                    parse_expires(v).ok_or_else(|| RegisterError::MalformedExpires(clip(v)))?
                }
                None => header_expires.unwrap_or(self.default_expires),
            };
            if expires != 0 && expires < self.min_expires {
                return Err(RegisterError::IntervalTooBrief {
                    requested: expires,
                    min: self.min_expires,
                });
            }
            let target = uri_socket_addr(&contact.uri).unwrap_or(request.source);
            if expires != 0 && self.is_ours(target) {
                return Err(RegisterError::PointsAtUs(clip(&contact.uri)));
            }
            updates.push(ContactUpdate {
                uri: contact.uri,
                expires: expires.min(self.max_expires),
            });
        }
        let max_contacts = self.max_contacts;
        let entries = self.bindings.entry(request.user.to_owned()).or_default();
        let mut kept: Vec<&str> = entries.iter().map(|e| e.binding.contact.as_str()).collect();
        for update in &updates {
            kept.retain(|c| *c != update.uri);
            if update.expires != 0 {
                kept.push(&update.uri);
            }
        }
        if kept.len() > max_contacts && kept.len() > entries.len() {
            let would_have = kept.len();
            if entries.is_empty() {
                self.bindings.remove(request.user);
            }
            return Err(RegisterError::TooManyContacts {
                would_have,
                max: max_contacts,
            });
        }
        for update in &updates {
            let stale = entries.iter().any(|e| {
                e.binding.contact == update.uri
                    && e.call_id.as_deref() == Some(request.call_id)
                    && request.cseq <= e.cseq
            });
            if stale {
                return Err(RegisterError::OutOfOrder {
                    call_id: clip(request.call_id),
                    cseq: request.cseq,
                });
            }
        }
        let mut changed = false;
        for update in updates {
            let existing = entries.iter().position(|e| e.binding.contact == update.uri);
            if update.expires == 0 {
                if let Some(index) = existing {
                    entries.remove(index);
                    changed = true;
                }
                continue;
            }
            let transport = match uri_param(&update.uri, "transport") {
                Some(t) if t.eq_ignore_ascii_case("tcp") => Transport::Tcp,
                Some(t) if t.eq_ignore_ascii_case("udp") => Transport::Udp,
                _ => request.transport,
            };
            // Over a stream the phone is reached on the connection it registered on (RFC 5626
            // flow): the REGISTER's source names that connection for the `net` driver.
            let address = if transport.is_reliable() && transport == request.transport {
                request.source
            } else {
                uri_socket_addr(&update.uri).unwrap_or(request.source)
            };
            let binding = Binding {
                user: request.user.to_owned(),
                address,
                transport,
                expires_at: now + Duration::from_secs(u64::from(update.expires)),
                contact: update.uri,
            };
            let entry = Entry {
                binding,
                call_id: Some(request.call_id.to_owned()),
                cseq: request.cseq,
            };
            match existing {
                Some(index) => entries[index] = entry,
                None => entries.push(entry),
            }
            changed = true;
        }
        let bindings = entries.iter().map(|e| e.binding.clone()).collect();
        if entries.is_empty() {
            self.bindings.remove(request.user);
        }
        Ok(RegisterOutcome { bindings, changed })
    }

    /// The next binding to expire.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.bindings
            .values()
            .flatten()
            .map(|e| e.binding.expires_at)
            .min()
    }

    /// Removes every binding expired at `now`; returns each affected user with what is left.
    pub fn expire(&mut self, now: Instant) -> Vec<(String, Vec<Binding>)> {
        let mut changed = Vec::new();
        self.bindings.retain(|user, entries| {
            let before = entries.len();
            entries.retain(|e| e.binding.expires_at > now);
            if entries.len() != before {
                changed.push((
                    user.clone(),
                    entries.iter().map(|e| e.binding.clone()).collect(),
                ));
            }
            !entries.is_empty()
        });
        changed
    }
}

/// `delta-seconds`; values past 2^32-1 are capped as RFC 3261 allows.
fn parse_expires(value: &str) -> Option<u32> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        value
            .parse::<u64>()
            .map_or(u32::MAX, |v| u32::try_from(v).unwrap_or(u32::MAX)),
    )
}

/// Network text quoted in an error, cut short.
fn clip(text: &str) -> String {
    text.chars().take(80).collect()
}

/// The `;expires=` value left for a binding, rounded up so it never reads 0 while alive.
pub fn remaining_seconds(binding: &Binding, now: Instant) -> u64 {
    let left = binding.expires_at.saturating_duration_since(now);
    left.as_secs() + u64::from(left.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(
        contacts: &'a [String],
        expires: Option<&'a str>,
        cseq: u32,
    ) -> RegisterRequest<'a> {
        RegisterRequest {
            user: "1001",
            contacts,
            expires,
            call_id: "reg-1",
            cseq,
            source: "192.0.2.7:40000".parse().unwrap(),
            transport: Transport::Udp,
        }
    }

    #[test]
    fn contact_address_is_the_ip_literal_else_the_source_and_transport_comes_from_the_uri() {
        let t0 = Instant::now();
        let mut r = Registrar::new(60, 3600);
        let contacts = vec![
            "<sip:1001@10.0.0.5:5072;transport=TCP>".to_owned(),
            "<sip:1001@phone.example>;expires=120".to_owned(),
        ];
        let out = r.register(t0, &request(&contacts, None, 1)).unwrap();
        assert!(out.changed);
        assert_eq!(out.bindings.len(), 2);
        assert_eq!(out.bindings[0].address, "10.0.0.5:5072".parse().unwrap());
        assert_eq!(out.bindings[0].transport, Transport::Tcp);
        assert_eq!(out.bindings[0].expires_at, t0 + Duration::from_secs(3600));
        assert_eq!(out.bindings[1].address, "192.0.2.7:40000".parse().unwrap());
        assert_eq!(out.bindings[1].transport, Transport::Udp);
        assert_eq!(out.bindings[1].expires_at, t0 + Duration::from_secs(120));
    }

    #[test]
    fn expires_is_capped_and_refused_below_the_minimum() {
        let t0 = Instant::now();
        let mut r = Registrar::new(60, 3600);
        let contacts = vec!["<sip:1001@10.0.0.5>".to_owned()];
        let out = r
            .register(t0, &request(&contacts, Some("99999999999"), 1))
            .unwrap();
        assert_eq!(out.bindings[0].expires_at, t0 + Duration::from_secs(3600));
        assert_eq!(
            r.register(t0, &request(&contacts, Some("59"), 2)),
            Err(RegisterError::IntervalTooBrief {
                requested: 59,
                min: 60
            })
        );
        assert!(matches!(
            r.register(t0, &request(&contacts, Some("soon"), 3)),
            Err(RegisterError::MalformedExpires(_))
        ));
    }

    #[test]
    fn out_of_order_register_in_the_same_call_id_is_refused() {
        let t0 = Instant::now();
        let mut r = Registrar::new(60, 3600);
        let contacts = vec!["<sip:1001@10.0.0.5>".to_owned()];
        r.register(t0, &request(&contacts, None, 5)).unwrap();
        let err = r.register(t0, &request(&contacts, None, 4)).unwrap_err();
        assert_eq!(err.status(), 500);
    }

    #[test]
    fn wildcard_needs_expires_zero_and_no_other_contact() {
        let t0 = Instant::now();
        let mut r = Registrar::new(60, 3600);
        let star = vec!["*".to_owned()];
        assert_eq!(
            r.register(t0, &request(&star, Some("60"), 1)),
            Err(RegisterError::BadWildcard)
        );
        let mixed = vec!["*, <sip:1001@10.0.0.5>".to_owned()];
        assert_eq!(
            r.register(t0, &request(&mixed, Some("0"), 1)),
            Err(RegisterError::BadWildcard)
        );
    }

    #[test]
    fn expiry_removes_only_what_is_due() {
        let t0 = Instant::now();
        let mut r = Registrar::new(60, 3600);
        let contacts = vec![
            "<sip:1001@10.0.0.5>;expires=60".to_owned(),
            "<sip:1001@10.0.0.6>;expires=120".to_owned(),
        ];
        r.register(t0, &request(&contacts, None, 1)).unwrap();
        assert_eq!(r.next_expiry(), Some(t0 + Duration::from_secs(60)));
        assert!(r.expire(t0 + Duration::from_secs(59)).is_empty());
        let changed = r.expire(t0 + Duration::from_secs(60));
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].1.len(), 1);
        assert_eq!(changed[0].1[0].contact, "sip:1001@10.0.0.6");
        assert_eq!(r.next_expiry(), Some(t0 + Duration::from_secs(120)));
    }

    #[test]
    fn contacts_past_the_maximum_are_refused_with_403_and_nothing_changes() {
        let t0 = Instant::now();
        let mut r = Registrar::new(60, 3600).with_max_contacts(2);
        let two = vec!["<sip:1001@10.0.0.5>, <sip:1001@10.0.0.6>".to_owned()];
        assert_eq!(
            r.register(t0, &request(&two, None, 1))
                .unwrap()
                .bindings
                .len(),
            2
        );
        let third = vec!["<sip:1001@10.0.0.7>".to_owned()];
        let err = r.register(t0, &request(&third, None, 2)).unwrap_err();
        assert_eq!(
            err,
            RegisterError::TooManyContacts {
                would_have: 3,
                max: 2
            }
        );
        assert_eq!(err.status(), 403);
        assert_eq!(r.bindings("1001").len(), 2);
        // Replacing one (remove and add in one request) and refreshing are fine.
        let swap = vec!["<sip:1001@10.0.0.5>;expires=0, <sip:1001@10.0.0.7>".to_owned()];
        let out = r.register(t0, &request(&swap, None, 3)).unwrap();
        let contacts: Vec<_> = out.bindings.iter().map(|b| b.contact.as_str()).collect();
        assert_eq!(contacts, ["sip:1001@10.0.0.6", "sip:1001@10.0.0.7"]);
        // A new user refused for too many contacts leaves no empty entry behind.
        let many = vec!["<sip:1002@10.0.0.1>, <sip:1002@10.0.0.2>, <sip:1002@10.0.0.3>".to_owned()];
        let mut other = request(&many, None, 1);
        other.user = "1002";
        assert!(r.register(t0, &other).is_err());
        assert!(!r.bindings.contains_key("1002"));
    }

    #[test]
    fn a_contact_at_one_of_our_sockets_is_refused_but_may_be_removed() {
        let t0 = Instant::now();
        let mut r = Registrar::new(60, 3600).with_own_addresses(vec![
            "192.0.2.1:5060".parse().unwrap(),
            "0.0.0.0:5080".parse().unwrap(),
        ]);
        for contact in [
            "<sip:1001@192.0.2.1>",
            "<sip:1001@192.0.2.1:5060;transport=tcp>",
            "<sip:1001@0.0.0.0:5060>",
            "<sip:1001@198.51.100.9:5080>",
            "<sip:1001@127.0.0.1:5080>",
        ] {
            let contacts = vec![contact.to_owned()];
            assert!(
                matches!(
                    r.register(t0, &request(&contacts, None, 1)),
                    Err(RegisterError::PointsAtUs(_))
                ),
                "{contact}"
            );
        }
        for contact in ["<sip:1001@192.0.2.1:5062>", "<sip:1001@127.0.0.1:5060>"] {
            let contacts = vec![contact.to_owned()];
            assert!(
                r.register(t0, &request(&contacts, None, 1)).is_ok(),
                "{contact}"
            );
        }
        let removal = vec!["<sip:1001@192.0.2.1>;expires=0".to_owned()];
        assert!(r.register(t0, &request(&removal, None, 2)).is_ok());
    }

    #[test]
    fn a_binding_registered_over_tcp_is_reached_on_the_registering_connection() {
        let t0 = Instant::now();
        let mut r = Registrar::new(60, 3600);
        let contacts = vec![
            "<sip:1001@10.0.0.5:5072;transport=tcp>".to_owned(),
            "<sip:1001@10.0.0.5:5074;transport=udp>".to_owned(),
        ];
        let over_tcp = RegisterRequest {
            transport: Transport::Tcp,
            ..request(&contacts, None, 1)
        };
        let out = r.register(t0, &over_tcp).unwrap();
        // The flow (the connection's remote end), not the Contact's listening port.
        assert_eq!(out.bindings[0].address, "192.0.2.7:40000".parse().unwrap());
        assert_eq!(out.bindings[0].transport, Transport::Tcp);
        // A contact asking for another transport is reached where it says.
        assert_eq!(out.bindings[1].address, "10.0.0.5:5074".parse().unwrap());
        assert_eq!(out.bindings[1].transport, Transport::Udp);
    }
}
