//! Phones proving who they are: which requests a source outside the trunks may send, the
//! registrar's REGISTER handling, and the digest challenge, check and failure count shared by
//! REGISTER (401) and a phone's INVITE (407).
//!
//! A user we do not know is treated exactly like a known one with a wrong password (as
//! Asterisk's `alwaysauthreject`): the same challenge, the same failure count, the same
//! refusal, so the answers do not tell which extensions exist. Failures are counted per
//! (address, user) and never block a trunk or `auth_ignore` network.

use super::*;

/// Authenticated TCP peers held for the transport at most (it takes them after every
/// message); more would mean nobody takes them.
pub(super) const MAX_VETTED_WAITING: usize = 1024;

impl Endpoint {
    /// What a source outside the trunks may send: REGISTER, a phone's new INVITE (both
    /// authenticated next), and requests within a dialog or INVITE of a phone it knows.
    pub(super) fn may_enter_untrusted(&self, request: &Request) -> bool {
        match request.method {
            Method::Register => true,
            // Authenticated next, whoever it claims to be: refusing unknown From users here
            // would tell a scanner which extensions exist.
            Method::Invite if request.to.tag.is_none() => true,
            Method::Cancel => self
                .invite_servers
                .get(&ServerKey::of(request, "INVITE"))
                .and_then(|server| self.calls.get(&server.call))
                .is_some_and(|c| c.phone.is_some()),
            _ => request.to.tag.is_some() && self.dialog_of(request).is_some(),
        }
    }

    /// The phone a new INVITE claims to come from (its From user), if it is one of ours.
    pub(super) fn phone_of<'r>(&self, request: &'r Request) -> Option<&'r str> {
        uri_user(&request.from.uri).filter(|user| self.phones.contains_key(*user))
    }

    /// The user a new INVITE must authenticate as: its From user when that is one of our
    /// phones, or whenever the source is not a trunk (a stranger is challenged like a phone
    /// and can never pass); `None` for a trunk's call.
    pub(super) fn claimed_phone(&self, source: SocketAddr, request: &Request) -> Option<String> {
        if self.phone_of(request).is_some() || !self.is_trusted(source.ip()) {
            Some(uri_user(&request.from.uri).unwrap_or_default().to_owned())
        } else {
            None
        }
    }

    /// Sources whose failures are logged but never block: trunks and `auth_ignore`.
    fn never_blocked(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.is_trusted(ip)
            || self
                .config
                .auth_ignore
                .iter()
                .any(|(net, prefix)| cidr_contains(net.to_canonical(), *prefix, ip))
    }

    pub(super) fn on_register(
        &mut self,
        now: Instant,
        source: SocketAddr,
        route: Route,
        request: Request,
    ) {
        let user = uri_user(&request.to.uri).unwrap_or_default().to_owned();
        match self.authenticate(now, source, &request, &user, AuthKind::Registrar) {
            AuthOutcome::Accepted => {
                if route.transport == Transport::Tcp && self.vetted_tcp.len() < MAX_VETTED_WAITING {
                    self.vetted_tcp.push(source);
                }
            }
            AuthOutcome::Challenge { stale } => {
                return self.challenge(now, &request, route, &user, AuthKind::Registrar, stale)
            }
            AuthOutcome::Refused => return self.reply_stateless(&request, route, 403, &[]),
        }
        let contacts = request.header_values(&["Contact", "m"]);
        let expires = request.header_values(&["Expires"]).into_iter().next();
        let outcome = self.registrar.register(
            now,
            &RegisterRequest {
                user: &user,
                contacts: &contacts,
                expires: expires.as_deref(),
                call_id: &request.call_id,
                cseq: request.cseq,
                source,
                transport: route.transport,
            },
        );
        match outcome {
            Ok(outcome) => {
                let values: Vec<String> = outcome
                    .bindings
                    .iter()
                    .map(|b| format!("<{}>;expires={}", b.contact, remaining_seconds(b, now)))
                    .collect();
                let extra: Vec<(&str, &str)> =
                    values.iter().map(|v| ("Contact", v.as_str())).collect();
                self.reply_in_transaction(now, &request, route, 200, None, &extra, None);
                if outcome.changed {
                    debug!(%user, bindings = outcome.bindings.len(), "bindings changed by REGISTER");
                    self.events.push_back(CallEvent::BindingsChanged {
                        user,
                        bindings: outcome.bindings,
                    });
                }
            }
            Err(error) => {
                warn!(%user, %source, %error, "REGISTER refused");
                let min = self.registrar.min_expires().to_string();
                let extra: Vec<(&str, &str)> = match error {
                    RegisterError::IntervalTooBrief { .. } => vec![("Min-Expires", min.as_str())],
                    _ => Vec::new(),
                };
                self.reply_in_transaction(now, &request, route, error.status(), None, &extra, None);
            }
        }
    }

    /// Checks a phone's digest credentials for this request (never for retransmissions:
    /// the transaction layer absorbs those first, so their reused nonce count is no replay).
    pub(super) fn authenticate(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        user: &str,
        kind: AuthKind,
    ) -> AuthOutcome {
        if !self.never_blocked(source.ip()) && self.limiter.is_blocked(now, source.ip(), user) {
            debug!(%source, user = %printable(user), "user blocked from this address after authentication failures");
            return AuthOutcome::Refused;
        }
        let phone = self.phones.get(user).cloned();
        let [expected, other] = kind.credentials_headers();
        let mut values = request.header_values(&[expected]);
        values.extend(request.header_values(&[other]));
        if values.is_empty() {
            return AuthOutcome::Challenge { stale: false };
        }
        // A request may carry credentials for several realms: ours decides.
        let parsed: Vec<_> = values.iter().map(|v| DigestCredentials::parse(v)).collect();
        let chosen = parsed
            .iter()
            .find(|p| p.as_ref().is_ok_and(|c| c.realm == self.auth.realm()))
            .or_else(|| parsed.first())
            .cloned();
        let method = request.method.as_str();
        let verdict = match (chosen, phone) {
            (Some(Ok(credentials)), Some(phone)) => {
                self.auth
                    .verify(now, method, &request.request_uri, &credentials, &phone)
            }
            (Some(Ok(credentials)), None) => {
                self.auth
                    .verify_unknown(now, method, &request.request_uri, user, &credentials)
            }
            (Some(Err(error)), _) => Verdict::Refused(error),
            (None, _) => return AuthOutcome::Challenge { stale: false },
        };
        match verdict {
            Verdict::Accepted => {
                self.limiter.record_success(source.ip(), user);
                AuthOutcome::Accepted
            }
            Verdict::Stale => {
                debug!(%source, user = %printable(user), "stale nonce: challenging again");
                AuthOutcome::Challenge { stale: true }
            }
            Verdict::Replayed { nc } => {
                warn!(ip = %source.ip(), %source, user = %printable(user), nc, "nonce count replayed: refused, challenging again");
                AuthOutcome::Challenge { stale: true }
            }
            Verdict::Refused(error) => {
                if self.auth_failed(now, source, user, &error) {
                    AuthOutcome::Refused
                } else {
                    AuthOutcome::Challenge { stale: false }
                }
            }
        }
    }

    /// Counts and reports a failed authentication; true if the source is now blocked.
    pub(super) fn auth_failed(
        &mut self,
        now: Instant,
        source: SocketAddr,
        user: &str,
        reason: &dyn std::fmt::Display,
    ) -> bool {
        let block = if self.never_blocked(source.ip()) {
            None
        } else {
            self.limiter.record_failure(now, source.ip(), user)
        };
        let blocked = block.is_some();
        let user = printable(user);
        warn!(ip = %source.ip(), %source, %user, %reason, "authentication failed");
        if let Some(block) = block {
            warn!(
                ip = %source.ip(),
                %user,
                block_s = block.as_secs(),
                "user blocked from this address after repeated authentication failures"
            );
        }
        self.events.push_back(CallEvent::AuthFailed {
            source,
            user,
            blocked,
        });
        blocked
    }

    /// 401 or 407 with one challenge per algorithm the phone can answer (SHA-256 first).
    /// Stateless: strangers get no transaction state, and a retransmission just gets a new
    /// nonce.
    pub(super) fn challenge(
        &mut self,
        now: Instant,
        request: &Request,
        route: Route,
        user: &str,
        kind: AuthKind,
        stale: bool,
    ) {
        // The configured algorithms, in their order, that this phone has credentials for;
        // a phone with none of them is offered what it has. A user we do not know is
        // offered what a phone with a password is.
        let usable = self
            .phones
            .get(user)
            .map_or_else(|| Algorithm::ALL.to_vec(), PhoneCredentials::algorithms);
        let mut algorithms: Vec<Algorithm> = self
            .config
            .digest_algorithms
            .iter()
            .copied()
            .filter(|a| usable.contains(a))
            .collect();
        if algorithms.is_empty() {
            algorithms = if usable.is_empty() {
                vec![Algorithm::Md5]
            } else {
                usable
            };
        }
        let values = self.auth.challenge(now, &algorithms, stale);
        let extra: Vec<(&str, &str)> = values
            .iter()
            .map(|v| (kind.challenge_header(), v.as_str()))
            .collect();
        self.reply_stateless(request, route, kind.status(), &extra);
    }
}

impl AuthKind {
    fn status(self) -> u16 {
        match self {
            AuthKind::Registrar => 401,
            AuthKind::Proxy => 407,
        }
    }

    fn challenge_header(self) -> &'static str {
        match self {
            AuthKind::Registrar => "WWW-Authenticate",
            AuthKind::Proxy => "Proxy-Authenticate",
        }
    }

    /// Where credentials are looked for, the expected header first. Both are read because
    /// phones share one credential state between REGISTER and INVITE: libre (baresip) sends
    /// its REGISTER credentials pre-emptively as `Authorization` on the INVITE, and after a
    /// 407 sends `Proxy-Authorization` on the next REGISTER.
    fn credentials_headers(self) -> [&'static str; 2] {
        match self {
            AuthKind::Registrar => ["Authorization", "Proxy-Authorization"],
            AuthKind::Proxy => ["Proxy-Authorization", "Authorization"],
        }
    }
}
