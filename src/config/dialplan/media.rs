//! `[media]`: how the switch treats a call's audio — for now, how long a far end may send
//! nothing (no RTP, no RTCP) before the call is ended as `media_timeout` — its TOML shape and
//! its checks.

use std::time::Duration;

use serde::Deserialize;

use super::Checker;
use crate::config::duration::format_seconds;

/// Media settings shared by every call of the dialplan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSettings {
    /// A call whose far end sends neither RTP nor RTCP this long (on hold: no RTCP) is
    /// ended with BYE and recorded as `media_timeout`.
    pub timeout: Duration,
}

/// Asterisk's `rtptimeout` and FreeSWITCH's `media_timeout` are commonly set to a minute:
/// long enough for any network hiccup, short enough that an agent is not held "talking" to
/// a caller who vanished without a BYE.
pub const DEFAULT_MEDIA_TIMEOUT: Duration = Duration::from_secs(60);
/// Below a second a single late packet would end a call.
pub const MIN_MEDIA_TIMEOUT: Duration = Duration::from_secs(1);
/// Beyond a day the setting is a typo, and the engine's deadline arithmetic stays small.
pub const MAX_MEDIA_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

impl Default for MediaSettings {
    fn default() -> Self {
        MediaSettings {
            timeout: DEFAULT_MEDIA_TIMEOUT,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMedia {
    timeout: Option<String>,
}

impl Checker<'_> {
    pub(super) fn media(&mut self, raw: RawMedia) -> MediaSettings {
        let defaults = MediaSettings::default();
        let Some(text) = raw.timeout else {
            return defaults;
        };
        let key = "media.timeout";
        let timeout = self.duration(key, &text, defaults.timeout);
        if timeout < MIN_MEDIA_TIMEOUT {
            self.error(
                key,
                format!(
                    "\"{text}\" is too short: a call is ended after this long without audio from the far end, so one late packet would end it; use at least 1s (default 60s)"
                ),
            );
            return defaults;
        }
        if timeout > MAX_MEDIA_TIMEOUT {
            self.error(
                key,
                format!("\"{text}\" is too long; use at most 24h (default 60s)"),
            );
            return defaults;
        }
        MediaSettings { timeout }
    }
}

pub(crate) fn describe_media(media: &MediaSettings) -> String {
    format!(
        "a call without audio from the far end for {} is ended",
        format_seconds(media.timeout)
    )
}
