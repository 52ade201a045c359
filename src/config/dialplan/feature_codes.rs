//! `[feature_codes]`: the codes agents dial from the desk phone to log in, log out and
//! change state, their TOML shape and its checks.

use serde::Deserialize;

use super::Checker;

/// Codes an agent dials from the desk phone to change state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureCodes {
    /// Log in (and become ready); default "*21".
    pub login: String,
    /// Default "*22".
    pub logout: String,
    /// Default "*23".
    pub ready: String,
    /// Default "*24".
    pub not_ready: String,
}

impl Default for FeatureCodes {
    fn default() -> Self {
        FeatureCodes {
            login: "*21".to_string(),
            logout: "*22".to_string(),
            ready: "*23".to_string(),
            not_ready: "*24".to_string(),
        }
    }
}

/// What a feature code asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeatureCode {
    Login,
    Logout,
    Ready,
    NotReady,
}

impl FeatureCodes {
    /// What a dialled number (request-URI user) means, if it is a feature code.
    pub fn lookup(&self, dialled: &str) -> Option<FeatureCode> {
        self.all()
            .into_iter()
            .find(|(_, code)| *code == dialled)
            .map(|(feature, _)| feature)
    }

    /// (what, code) in the order login, logout, ready, not ready.
    pub fn all(&self) -> [(FeatureCode, &str); 4] {
        [
            (FeatureCode::Login, self.login.as_str()),
            (FeatureCode::Logout, self.logout.as_str()),
            (FeatureCode::Ready, self.ready.as_str()),
            (FeatureCode::NotReady, self.not_ready.as_str()),
        ]
    }
}

impl FeatureCode {
    /// The key in `[feature_codes]`.
    pub fn config_name(self) -> &'static str {
        match self {
            FeatureCode::Login => "login",
            FeatureCode::Logout => "logout",
            FeatureCode::Ready => "ready",
            FeatureCode::NotReady => "not_ready",
        }
    }

    /// The confirmation prompt played after the code is accepted.
    pub fn confirmation_prompt(self) -> &'static str {
        match self {
            FeatureCode::Login => "agent_logged_in",
            FeatureCode::Logout => "agent_logged_out",
            FeatureCode::Ready => "agent_ready",
            FeatureCode::NotReady => "agent_not_ready",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeatureCodes {
    login: Option<String>,
    logout: Option<String>,
    ready: Option<String>,
    not_ready: Option<String>,
}

impl Checker<'_> {
    pub(super) fn feature_codes(&mut self, raw: RawFeatureCodes) -> FeatureCodes {
        let defaults = FeatureCodes::default();
        let codes = FeatureCodes {
            login: raw.login.unwrap_or(defaults.login),
            logout: raw.logout.unwrap_or(defaults.logout),
            ready: raw.ready.unwrap_or(defaults.ready),
            not_ready: raw.not_ready.unwrap_or(defaults.not_ready),
        };
        let all = codes.all();
        for (index, (feature, code)) in all.iter().enumerate() {
            let key = format!("feature_codes.{}", feature.config_name());
            let digits = code.strip_prefix('*').unwrap_or("");
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                self.error(
                    &key,
                    format!("\"{code}\" must be * followed by digits, such as \"*21\""),
                );
            } else if let Some((other, _)) = all[..index].iter().find(|(_, c)| c == code) {
                self.error(
                    &key,
                    format!(
                        "\"{code}\" is also the {} code; each code must be different",
                        other.config_name()
                    ),
                );
            }
        }
        codes
    }
}
