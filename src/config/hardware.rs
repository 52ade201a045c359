//! Hardware: the trunk/PBX peers allowed to send calls (`hardware/trunks.toml`) and the
//! agents' desk phones, headsets and softphones with their credentials
//! (`hardware/phones.toml`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::dialplan::read_toml_files;
use super::duration::parse_duration;
use super::error::{key_segment, ConfigError};

/// Everything from `hardware/`.
#[derive(Debug, Clone, Default)]
pub struct Hardware {
    /// In name order.
    pub trunks: Vec<TrunkPeer>,
    /// Agents' devices, in extension order.
    pub phones: Vec<Phone>,
    /// Digest algorithms the registrar offers, in order ("MD5", "SHA-256"): MD5 alone by
    /// default, because common phones (baresip 1.0, SIPp 3.6) give up on a SHA-256 challenge.
    pub digest_algorithms: Vec<String>,
    /// Limits of the registrar (`[registrar]` in `hardware/phones.toml`).
    pub registrar: RegistrarLimits,
}

/// How the registrar limits phones and failed logins (`[registrar]` in phones.toml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarLimits {
    /// Networks whose failed logins are logged but never blocked (trunks never are).
    pub ignore: Vec<(IpAddr, u8)>,
    /// Contacts one phone may have registered at once (beyond: 403).
    pub max_contacts: usize,
    /// Failed logins of one user from one address within `failure_window` that block it.
    pub failures_allowed: u32,
    pub failure_window: Duration,
    /// The first block; each further one lasts twice as long, up to `longest_block`.
    pub first_block: Duration,
    pub longest_block: Duration,
}

impl Default for RegistrarLimits {
    fn default() -> Self {
        RegistrarLimits {
            ignore: Vec::new(),
            max_contacts: 5,
            failures_allowed: 5,
            failure_window: Duration::from_secs(60),
            first_block: Duration::from_secs(60),
            longest_block: Duration::from_secs(60 * 60),
        }
    }
}

/// The digest algorithms a registrar can offer.
pub const DIGEST_ALGORITHMS: &[&str] = &["MD5", "SHA-256"];

/// One agent device from `hardware/phones.toml`. Its `Debug` form leaves the credentials
/// out, so a logged config never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone {
    /// The table key: what the switch and the agent call this device ("1001").
    pub extension: String,
    /// The SIP user name it registers and authenticates with (digest username).
    pub user: String,
    pub password: Option<String>,
    /// HA1 = MD5("user:hotline:password") as 32 lower-case hex digits.
    pub ha1_md5: Option<String>,
    /// HA1 = SHA-256("user:hotline:password") as 64 lower-case hex digits.
    pub ha1_sha256: Option<String>,
    pub kind: PhoneKind,
    /// Free text such as "Yealink T54W"; empty when not given.
    pub model: String,
    pub agent: AgentInfo,
    /// What the agent can answer; a queue needs all of its skills.
    pub skills: Vec<String>,
    /// The agent is logged in and ready as soon as the phone registers.
    pub login_on_register: bool,
    /// The file it came from, relative to the config dir.
    pub file: String,
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |secret: &Option<String>| secret.as_ref().map(|_| "<hidden>");
        f.debug_struct("Phone")
            .field("extension", &self.extension)
            .field("user", &self.user)
            .field("password", &hidden(&self.password))
            .field("ha1_md5", &hidden(&self.ha1_md5))
            .field("ha1_sha256", &hidden(&self.ha1_sha256))
            .field("kind", &self.kind)
            .field("model", &self.model)
            .field("agent", &self.agent)
            .field("skills", &self.skills)
            .field("login_on_register", &self.login_on_register)
            .field("file", &self.file)
            .finish()
    }
}

impl Phone {
    /// Whether the agent has every skill in `required` (an empty list needs none).
    pub fn has_skills(&self, required: &[String]) -> bool {
        required.iter().all(|skill| self.skills.contains(skill))
    }
}

/// What kind of device a phone is; the switch treats them alike, people do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhoneKind {
    DeskPhone,
    Headset,
    Softphone,
}

impl PhoneKind {
    /// As written in phones.toml.
    pub fn config_name(self) -> &'static str {
        match self {
            PhoneKind::DeskPhone => "desk_phone",
            PhoneKind::Headset => "headset",
            PhoneKind::Softphone => "softphone",
        }
    }

    fn parse(text: &str) -> Option<PhoneKind> {
        [
            PhoneKind::DeskPhone,
            PhoneKind::Headset,
            PhoneKind::Softphone,
        ]
        .into_iter()
        .find(|kind| kind.config_name() == text)
    }
}

impl fmt::Display for PhoneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PhoneKind::DeskPhone => "desk phone",
            PhoneKind::Headset => "headset",
            PhoneKind::Softphone => "softphone",
        })
    }
}

/// The agent a device belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    pub id: String,
    /// Display name, e.g. "王芳".
    pub name: String,
}

/// A PBX or SIP trunk that may send requests, by address or network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkPeer {
    pub name: String,
    /// Networks as (address, prefix length); a single address has the full prefix.
    pub networks: Vec<(IpAddr, u8)>,
    /// Listen for DTMF tones in the audio of calls from this peer (for trunks that do not
    /// send telephone-events); off by default.
    pub inband_dtmf: bool,
}

impl TrunkPeer {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.networks
            .iter()
            .any(|&(network, prefix)| network_contains(network, prefix, ip))
    }
}

impl Hardware {
    /// Every trusted network of every trunk peer.
    pub fn trusted(&self) -> Vec<(IpAddr, u8)> {
        self.trunks
            .iter()
            .flat_map(|peer| peer.networks.iter().copied())
            .collect()
    }

    /// The trunk peer a request from `ip` comes from; `None` means answer 403.
    pub fn peer_for(&self, ip: IpAddr) -> Option<&TrunkPeer> {
        let ip = canonical(ip);
        self.trunks.iter().find(|peer| peer.contains(ip))
    }

    /// The phone whose SIP user name is `user` (exact: SIP user parts are case-sensitive).
    pub fn phone_by_user(&self, user: &str) -> Option<&Phone> {
        self.phones.iter().find(|phone| phone.user == user)
    }

    pub fn phone_by_extension(&self, extension: &str) -> Option<&Phone> {
        self.phones
            .iter()
            .find(|phone| phone.extension == extension)
    }

    pub fn phone_by_agent(&self, agent_id: &str) -> Option<&Phone> {
        self.phones.iter().find(|phone| phone.agent.id == agent_id)
    }
}

/// A v4 address arriving on a dual-stack socket looks like ::ffff:a.b.c.d; it is the v4
/// peer all the same.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn network_contains(network: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (network, canonical(ip)) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            let mask = mask_u32(prefix);
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            let mask = mask_u128(prefix);
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

fn mask_u32(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

fn mask_u128(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    }
}

/// Parses "192.0.2.10", "10.0.0.0/8" or "::1". Host bits below the prefix are cleared so
/// "127.0.0.1/8" means the network 127.0.0.0/8, as an admin would expect.
pub fn parse_network(text: &str) -> Result<(IpAddr, u8), String> {
    let text = text.trim();
    let (address_text, prefix_text) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let address: IpAddr = address_text.parse().map_err(|_| {
        format!("\"{text}\" is not an IP address or CIDR network such as \"10.0.0.0/8\"")
    })?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= max => p,
            _ => return Err(format!("\"{text}\": the prefix length must be 0 to {max}")),
        },
    };
    let network = match address {
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask_u32(prefix)).into()),
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask_u128(prefix)).into()),
    };
    Ok((network, prefix))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrunks {
    #[serde(default)]
    trunk: BTreeMap<String, RawTrunk>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrunk {
    /// One address or a list; kept as a raw value so a wrong shape gets our own message.
    address: toml::Value,
    inband_dtmf: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhones {
    #[serde(default)]
    phone: BTreeMap<String, RawPhone>,
    registrar: Option<RawRegistrar>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistrar {
    digest_algorithms: Option<Vec<String>>,
    ignore: Option<Vec<String>>,
    max_contacts: Option<i64>,
    failures_allowed: Option<i64>,
    failure_window: Option<String>,
    first_block: Option<String>,
    longest_block: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhone {
    user: Option<String>,
    password: Option<String>,
    ha1_md5: Option<String>,
    ha1_sha256: Option<String>,
    kind: String,
    model: Option<String>,
    agent: RawAgent,
    #[serde(default)]
    skills: Vec<String>,
    login_on_register: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    id: String,
    name: String,
}

const TRUNKS_FILE: &str = "trunks.toml";
const PHONES_FILE: &str = "phones.toml";
const KNOWN_FILES: &[&str] = &[PHONES_FILE, TRUNKS_FILE];

pub(crate) fn load_hardware(dir: &Path, errors: &mut Vec<ConfigError>) -> Option<Hardware> {
    let before = errors.len();
    let files = read_toml_files(dir, "hardware", errors)?;
    let mut hardware = Hardware::default();
    let mut found_trunks = false;
    for (file, text) in files {
        let name = file.trim_start_matches("hardware/");
        if !KNOWN_FILES.contains(&name) {
            errors.push(ConfigError::new(
                file.as_str(),
                "",
                format!(
                    "unknown hardware file; this version reads {}",
                    KNOWN_FILES.join(", ")
                ),
            ));
            continue;
        }
        if name == PHONES_FILE {
            match toml::from_str::<RawPhones>(&text) {
                Ok(mut raw) => {
                    if let Some(mut registrar) = raw.registrar.take() {
                        if let Some(names) = registrar.digest_algorithms.take() {
                            hardware.digest_algorithms = digest_algorithms(&file, names, errors);
                        }
                        hardware.registrar = registrar_limits(&file, registrar, errors);
                    }
                    hardware.phones = phones(&file, raw, errors);
                }
                Err(error) => errors.push(ConfigError::from_toml(&file, &text, &error)),
            }
            continue;
        }
        found_trunks = true;
        match toml::from_str::<RawTrunks>(&text) {
            Ok(raw) => hardware.trunks = trunks(&file, raw, errors),
            Err(error) => errors.push(ConfigError::from_toml(&file, &text, &error)),
        }
    }
    if !found_trunks {
        errors.push(ConfigError::new(
            "hardware/trunks.toml",
            "",
            "the file is missing; without trunk peers every call would be refused with 403",
        ));
    } else if hardware.trunks.is_empty() && errors.len() == before {
        errors.push(ConfigError::new(
            "hardware/trunks.toml",
            "trunk",
            "no [trunk.NAME] peer is listed, so every call would be refused with 403",
        ));
    }
    if hardware.digest_algorithms.is_empty() {
        hardware.digest_algorithms = vec!["MD5".to_string()];
    }
    (errors.len() == before).then_some(hardware)
}

fn digest_algorithms(file: &str, names: Vec<String>, errors: &mut Vec<ConfigError>) -> Vec<String> {
    let key = "registrar.digest_algorithms";
    if names.is_empty() {
        errors.push(ConfigError::new(
            file,
            key,
            "lists no algorithm; offer \"MD5\", \"SHA-256\" or both",
        ));
    }
    for name in &names {
        if !DIGEST_ALGORITHMS.contains(&name.as_str()) {
            errors.push(ConfigError::new(
                file,
                key,
                format!("\"{name}\" is not a digest algorithm; use \"MD5\" or \"SHA-256\""),
            ));
        }
    }
    names
}

fn registrar_limits(
    file: &str,
    raw: RawRegistrar,
    errors: &mut Vec<ConfigError>,
) -> RegistrarLimits {
    let mut limits = RegistrarLimits::default();
    for (index, text) in raw.ignore.unwrap_or_default().iter().enumerate() {
        match parse_network(text) {
            Ok(network) => limits.ignore.push(network),
            Err(message) => errors.push(ConfigError::new(
                file,
                format!("registrar.ignore[{index}]"),
                message,
            )),
        }
    }
    let mut count = |key: &str, value: Option<i64>, range: (i64, i64), fallback: i64| -> i64 {
        match value {
            None => fallback,
            Some(n) if (range.0..=range.1).contains(&n) => n,
            Some(n) => {
                errors.push(ConfigError::new(
                    file,
                    format!("registrar.{key}"),
                    format!(
                        "{n} is out of range; use a whole number from {} to {}",
                        range.0, range.1
                    ),
                ));
                fallback
            }
        }
    };
    let defaults = RegistrarLimits::default();
    limits.max_contacts = count(
        "max_contacts",
        raw.max_contacts,
        (1, 100),
        defaults.max_contacts as i64,
    ) as usize;
    limits.failures_allowed = count(
        "failures_allowed",
        raw.failures_allowed,
        (1, 1000),
        i64::from(defaults.failures_allowed),
    ) as u32;
    let mut duration = |key: &str, value: Option<String>, fallback: Duration| -> Duration {
        let Some(text) = value else {
            return fallback;
        };
        match parse_duration(&text) {
            Ok(d) if !d.is_zero() && d <= Duration::from_secs(7 * 24 * 3600) => d,
            Ok(_) => {
                errors.push(ConfigError::new(
                    file,
                    format!("registrar.{key}"),
                    format!("\"{text}\" must be longer than zero and at most a week (\"168h\")"),
                ));
                fallback
            }
            Err(message) => {
                errors.push(ConfigError::new(file, format!("registrar.{key}"), message));
                fallback
            }
        }
    };
    limits.failure_window = duration(
        "failure_window",
        raw.failure_window,
        defaults.failure_window,
    );
    limits.first_block = duration("first_block", raw.first_block, defaults.first_block);
    let longest_given = raw.longest_block.clone();
    limits.longest_block = duration("longest_block", raw.longest_block, defaults.longest_block);
    if limits.longest_block < limits.first_block {
        if let Some(text) = longest_given {
            errors.push(ConfigError::new(
                file,
                "registrar.longest_block",
                format!("\"{text}\" is shorter than first_block; blocks only grow"),
            ));
        } else {
            limits.longest_block = limits.first_block;
        }
    }
    limits
}

fn trunks(file: &str, raw: RawTrunks, errors: &mut Vec<ConfigError>) -> Vec<TrunkPeer> {
    let mut peers = Vec::new();
    for (name, trunk) in raw.trunk {
        let key = format!("trunk.{}.address", key_segment(&name));
        let texts: Vec<(String, Option<&str>)> = match &trunk.address {
            toml::Value::String(text) => vec![(key.clone(), Some(text.as_str()))],
            toml::Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| (format!("{key}[{index}]"), item.as_str()))
                .collect(),
            _ => vec![(key.clone(), None)],
        };
        if texts.is_empty() {
            errors.push(ConfigError::new(file, key.as_str(), "lists no address"));
        }
        let mut networks = Vec::new();
        for (item_key, text) in texts {
            match text.map(parse_network) {
                Some(Ok(network)) => networks.push(network),
                Some(Err(message)) => errors.push(ConfigError::new(file, item_key, message)),
                None => errors.push(ConfigError::new(
                    file,
                    item_key,
                    "must be an address string such as \"10.0.0.5\" or \"10.0.0.0/24\", or a list of them",
                )),
            }
        }
        peers.push(TrunkPeer {
            name,
            networks,
            inband_dtmf: trunk.inband_dtmf.unwrap_or(false),
        });
    }
    peers
}

/// The realm HA1 values are computed with (H(user:realm:password)).
pub const DIGEST_REALM: &str = "hotline";

fn phones(file: &str, raw: RawPhones, errors: &mut Vec<ConfigError>) -> Vec<Phone> {
    let mut phones = Vec::new();
    // Registrar and ACD look phones up by user and by agent: both must name one phone.
    let mut users: BTreeMap<String, String> = BTreeMap::new();
    let mut agents: BTreeMap<String, String> = BTreeMap::new();
    for (extension, phone) in raw.phone {
        let key = format!("phone.{}", key_segment(&extension));
        let mut error = |field: &str, message: String| {
            let key = if field.is_empty() {
                key.clone()
            } else {
                format!("{key}.{field}")
            };
            errors.push(ConfigError::new(file, key, message));
        };
        if !is_sip_user(&extension) {
            error(
                "",
                format!("extension \"{extension}\" is not a SIP user name such as \"1001\""),
            );
        }
        let user = phone.user.unwrap_or_else(|| extension.clone());
        if !is_sip_user(&user) {
            error(
                "user",
                format!("\"{user}\" is not a SIP user name such as \"1001\""),
            );
        } else if let Some(first) = users.get(&user) {
            error(
                "user",
                format!("user \"{user}\" is already the user of phone {first}"),
            );
        } else {
            users.insert(user.clone(), extension.clone());
        }
        if phone.password.as_deref() == Some("") {
            error(
                "password",
                "must not be empty; an empty password lets anyone register".to_string(),
            );
        }
        let mut ha1 = |field: &str, value: Option<String>, digits: usize, hash: &str| {
            let value = value?;
            if value.len() != digits || !value.chars().all(|c| c.is_ascii_hexdigit()) {
                error(
                    field,
                    format!(
                        "must be {digits} hexadecimal digits (the {hash} of \"{user}:{DIGEST_REALM}:PASSWORD\"), but is {} characters{}",
                        value.chars().count(),
                        if value.chars().all(|c| c.is_ascii_hexdigit()) {
                            ""
                        } else {
                            " with some that are not hexadecimal digits"
                        }
                    ),
                );
            }
            Some(value.to_ascii_lowercase())
        };
        let ha1_md5 = ha1("ha1_md5", phone.ha1_md5, 32, "MD5");
        let ha1_sha256 = ha1("ha1_sha256", phone.ha1_sha256, 64, "SHA-256");
        if phone.password.is_none() && ha1_md5.is_none() && ha1_sha256.is_none() {
            error(
                "",
                "needs password = \"...\" or ha1_md5 / ha1_sha256, or the phone could never authenticate".to_string(),
            );
        }
        let kind = PhoneKind::parse(&phone.kind).unwrap_or_else(|| {
            error(
                "kind",
                format!(
                    "\"{}\" is not a device kind; use desk_phone, headset or softphone",
                    phone.kind
                ),
            );
            PhoneKind::DeskPhone
        });
        let agent_id = phone.agent.id.trim();
        if agent_id.is_empty()
            || !agent_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            error(
                "agent.id",
                format!(
                    "agent id \"{}\" must be letters, digits, _ and - such as \"a1001\"",
                    phone.agent.id
                ),
            );
        } else if let Some(first) = agents.get(agent_id) {
            error(
                "agent.id",
                format!("agent \"{agent_id}\" already has phone {first}; an agent has one device"),
            );
        } else {
            agents.insert(agent_id.to_string(), extension.clone());
        }
        if phone.agent.name.trim().is_empty() {
            error(
                "agent.name",
                "must not be empty; it is how the agent is shown".to_string(),
            );
        }
        for (index, skill) in phone.skills.iter().enumerate() {
            if skill.trim().is_empty() {
                error(
                    &format!("skills[{index}]"),
                    "a skill must be a non-empty name such as \"sales\"".to_string(),
                );
            } else if phone.skills[..index].contains(skill) {
                error(
                    &format!("skills[{index}]"),
                    format!("skill \"{skill}\" is listed twice"),
                );
            }
        }
        phones.push(Phone {
            extension,
            user,
            password: phone.password,
            ha1_md5,
            ha1_sha256,
            kind,
            model: phone.model.unwrap_or_default(),
            agent: AgentInfo {
                id: phone.agent.id,
                name: phone.agent.name,
            },
            skills: phone.skills,
            login_on_register: phone.login_on_register.unwrap_or(false),
            file: file.to_string(),
        });
    }
    phones
}

/// A SIP user part as it appears in a request URI: no whitespace and none of the
/// characters that would end it.
pub(crate) fn is_sip_user(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"@:;<>\"?".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_parse_with_and_without_prefix() {
        assert_eq!(parse_network("127.0.0.0/8"), Ok((ip("127.0.0.0"), 8)));
        assert_eq!(parse_network("127.0.0.1/8"), Ok((ip("127.0.0.0"), 8)));
        assert_eq!(parse_network("::1"), Ok((ip("::1"), 128)));
        assert_eq!(parse_network("192.0.2.7"), Ok((ip("192.0.2.7"), 32)));
        assert_eq!(parse_network("2001:db8::/32"), Ok((ip("2001:db8::"), 32)));
        assert!(parse_network("10.0.0.0/33")
            .unwrap_err()
            .contains("0 to 32"));
        assert!(parse_network("pbx.example")
            .unwrap_err()
            .contains("not an IP address"));
    }

    #[test]
    fn peers_match_their_networks_only() {
        let hardware = Hardware {
            trunks: vec![TrunkPeer {
                name: "local-pbx".into(),
                networks: vec![
                    parse_network("127.0.0.0/8").unwrap(),
                    parse_network("::1").unwrap(),
                ],
                inband_dtmf: false,
            }],
            ..Hardware::default()
        };
        assert_eq!(
            hardware.peer_for(ip("127.0.0.1")).map(|p| p.name.as_str()),
            Some("local-pbx")
        );
        assert!(hardware.peer_for(ip("127.9.9.9")).is_some());
        assert!(hardware.peer_for(ip("::1")).is_some());
        assert!(hardware.peer_for(ip("::ffff:127.0.0.1")).is_some());
        assert!(hardware.peer_for(ip("192.0.2.1")).is_none());
        assert!(hardware.peer_for(ip("::2")).is_none());
        assert_eq!(
            hardware.trusted(),
            vec![(ip("127.0.0.0"), 8), (ip("::1"), 128)]
        );
    }
}
