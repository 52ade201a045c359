//! The sample passwords shipped in `hardware/phones.toml` are public: anyone who has read
//! the repository knows them. A phone that still uses one is fine while the switch listens on
//! loopback only (trying it out on one machine), and an open door as soon as it listens
//! anywhere else; `hotline check` and `hotline serve` warn then.

use std::net::{IpAddr, SocketAddr};

use md5::Md5;
use sha2::{Digest, Sha256};

use super::hardware::{Hardware, DIGEST_REALM};

/// The phones file as shipped, so the list of samples follows it.
const SHIPPED_PHONES: &str = include_str!("../../hardware/phones.toml");

/// Every `password = "..."` value of the shipped phones file.
pub fn shipped_sample_passwords() -> Vec<String> {
    let Ok(table) = SHIPPED_PHONES.parse::<toml::Table>() else {
        return Vec::new();
    };
    let phones = table.get("phone").and_then(|p| p.as_table());
    phones
        .into_iter()
        .flat_map(|phones| phones.values())
        .filter_map(|phone| phone.get("password")?.as_str().map(str::to_string))
        .collect()
}

/// One warning per phone whose password (or HA1) is a shipped sample, when `bind` is not a
/// loopback address; none on loopback.
pub fn sample_password_warnings(hardware: &Hardware, bind: SocketAddr) -> Vec<String> {
    if is_loopback(bind.ip()) {
        return Vec::new();
    }
    let samples = shipped_sample_passwords();
    hardware
        .phones
        .iter()
        .filter(|phone| {
            samples.iter().any(|sample| {
                let a1 = format!("{}:{DIGEST_REALM}:{sample}", phone.user);
                phone.password.as_deref() == Some(sample.as_str())
                    || phone.ha1_md5.as_deref() == Some(hex(&Md5::digest(a1.as_bytes())).as_str())
                    || phone.ha1_sha256.as_deref()
                        == Some(hex(&Sha256::digest(a1.as_bytes())).as_str())
            })
        })
        .map(|phone| {
            format!(
                "warning: {}: phone.{}: the password is a sample shipped with hotline, and SIP \
                 listens on {bind}, which is not loopback: anyone can register as this phone; \
                 set a password of its own",
                phone.file, phone.extension
            )
        })
        .collect()
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        IpAddr::V4(v4) => v4.is_loopback(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AgentInfo, Phone, PhoneKind};

    fn phone(extension: &str, password: Option<&str>, ha1_md5: Option<String>) -> Phone {
        Phone {
            extension: extension.into(),
            user: extension.into(),
            password: password.map(str::to_string),
            ha1_md5,
            ha1_sha256: None,
            kind: PhoneKind::DeskPhone,
            model: String::new(),
            agent: AgentInfo {
                id: format!("a{extension}"),
                name: "x".into(),
            },
            skills: Vec::new(),
            login_on_register: false,
            file: "hardware/phones.toml".into(),
        }
    }

    #[test]
    fn the_shipped_samples_are_read_from_the_shipped_file() {
        assert_eq!(
            shipped_sample_passwords(),
            ["sample-1001", "sample-1002", "sample-1003", "sample-1004"]
        );
    }

    #[test]
    fn a_sample_password_or_its_ha1_warns_off_loopback_only() {
        let ha1 = hex(&Md5::digest(b"1003:hotline:sample-1001"));
        let hardware = Hardware {
            phones: vec![
                phone("1001", Some("sample-1002"), None),
                phone("1002", Some("a-real-secret"), None),
                phone("1003", None, Some(ha1)),
            ],
            ..Hardware::default()
        };
        let warned = |bind: &str| sample_password_warnings(&hardware, bind.parse().unwrap());
        let warnings = warned("0.0.0.0:5060");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("warning: hardware/phones.toml: phone.1001: "));
        assert!(warnings[1].starts_with("warning: hardware/phones.toml: phone.1003: "));
        assert_eq!(warned("192.0.2.5:5060").len(), 2);
        assert_eq!(warned("[::]:5060").len(), 2);
        assert!(warned("127.0.0.1:5060").is_empty());
        assert!(warned("127.0.0.2:5060").is_empty());
        assert!(warned("[::1]:5060").is_empty());
    }
}
