//! Hardware: the trunk/PBX peers allowed to send calls (`hardware/trunks.toml`). Agents'
//! desk phones (`hardware/phones.toml`) arrive in a later issue.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use super::dialplan::read_toml_files;
use super::error::{key_segment, ConfigError};

/// Everything from `hardware/`.
#[derive(Debug, Clone, Default)]
pub struct Hardware {
    /// In name order.
    pub trunks: Vec<TrunkPeer>,
}

/// A PBX or SIP trunk that may send requests, by address or network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkPeer {
    pub name: String,
    /// Networks as (address, prefix length); a single address has the full prefix.
    pub networks: Vec<(IpAddr, u8)>,
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
}

const KNOWN_FILES: &[&str] = &["trunks.toml"];

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
    (errors.len() == before).then_some(hardware)
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
        peers.push(TrunkPeer { name, networks });
    }
    peers
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
            }],
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
