//! Durations as an admin writes them ("4s", "500ms", "10m", "1h") and the ring cadence
//! ("1s on, 4s off").

use std::fmt;
use std::time::Duration;

/// Parses "4s", "500ms", "1.5s", "10m", "1h". A unit is required: a bare "5" is ambiguous
/// between seconds and milliseconds, and guessing wrong would silently break a timer.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    if text.is_empty() {
        return Err(
            "a duration is empty; write it like \"4s\", \"500ms\", \"10m\" or \"1h\"".into(),
        );
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    if number.is_empty() {
        return Err(format!("duration \"{text}\" does not start with a number"));
    }
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "" => {
            return Err(format!(
                "duration \"{text}\" has no unit; write it like \"{text}s\" or \"{text}ms\""
            ))
        }
        other => {
            return Err(format!(
                "duration \"{text}\" has unknown unit \"{other}\"; use ms, s, m or h"
            ))
        }
    };
    let bad_number = || format!("duration \"{text}\" does not start with a number");
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return Err(bad_number());
    }
    if fraction.contains('.') {
        return Err(bad_number());
    }
    let too_long = || format!("duration \"{text}\" is too long");
    let whole_value: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_long())?
    };
    let mut millis = whole_value
        .checked_mul(millis_per_unit)
        .ok_or_else(too_long)?;
    // The fraction is exact up to the unit's millisecond resolution; digits beyond it
    // cannot be represented and are refused rather than rounded away.
    let mut scale = millis_per_unit;
    for digit in fraction.chars() {
        let value = u64::from(digit.to_digit(10).ok_or_else(bad_number)?);
        if !scale.is_multiple_of(10) {
            if value != 0 {
                return Err(format!("duration \"{text}\" is finer than a millisecond"));
            }
            continue;
        }
        scale /= 10;
        millis = millis.checked_add(value * scale).ok_or_else(too_long)?;
    }
    Ok(Duration::from_millis(millis))
}

/// Writes a duration the way [`parse_duration`] reads it, choosing the largest exact unit.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".into()
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1_000) {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}

/// Seconds for people: "10 s", "11.2 s", "4.435 s" (no rounding, so a greeting 10.0004 s
/// long is never shown as "10 s" next to a 10 s limit).
pub fn format_seconds(d: Duration) -> String {
    let ms = d.as_millis();
    let whole = ms / 1000;
    let rest = ms % 1000;
    if rest == 0 {
        format!("{whole} s")
    } else {
        let fraction = format!("{rest:03}");
        format!("{whole}.{} s", fraction.trim_end_matches('0'))
    }
}

/// How a ringing phone sounds: `on` of ring tone, then `off` of silence, repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingCadence {
    pub on: Duration,
    pub off: Duration,
}

impl RingCadence {
    /// China's cadence, the default.
    pub const CHINA: RingCadence = RingCadence {
        on: Duration::from_secs(1),
        off: Duration::from_secs(4),
    };

    /// Parses "<duration> on, <duration> off", e.g. "1s on, 4s off".
    pub fn parse(s: &str) -> Result<RingCadence, String> {
        let shape = || {
            format!(
                "ring cadence \"{}\" is not written like \"1s on, 4s off\"",
                s.trim()
            )
        };
        let (on_part, off_part) = s.split_once(',').ok_or_else(shape)?;
        let on_text = on_part.trim().strip_suffix("on").ok_or_else(shape)?.trim();
        let off_text = off_part
            .trim()
            .strip_suffix("off")
            .ok_or_else(shape)?
            .trim();
        let on = parse_duration(on_text)?;
        let off = parse_duration(off_text)?;
        if on.is_zero() {
            return Err(format!(
                "ring cadence \"{}\" has no ring: the on-time must be longer than 0",
                s.trim()
            ));
        }
        Ok(RingCadence { on, off })
    }

    /// One ring plus the silence after it.
    pub fn period(&self) -> Duration {
        self.on + self.off
    }

    /// When ring `n` (1-based) has finished sounding: ring N starts at (N-1) periods and
    /// ends with its on-time. Ring 0 "ends" at once, which is how answering at once is said.
    pub fn ring_end(&self, n: u32) -> Duration {
        match n {
            0 => Duration::ZERO,
            n => self.period() * (n - 1) + self.on,
        }
    }

    /// Rings started strictly before `elapsed` since alerting began (standard S1 counts
    /// whole cadence periods started before the answer).
    pub fn rings_started(&self, elapsed: Duration) -> u32 {
        let period = self.period().as_nanos();
        let elapsed = elapsed.as_nanos();
        if elapsed == 0 || period == 0 {
            return 0;
        }
        u32::try_from(elapsed.div_ceil(period)).unwrap_or(u32::MAX)
    }
}

impl fmt::Display for RingCadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on, {} off",
            format_duration(self.on),
            format_duration(self.off)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("4s"), Ok(Duration::from_secs(4)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration(" 1.5s "), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2 s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("0.25m"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
        assert!(parse_duration("5 days")
            .unwrap_err()
            .contains("unknown unit \"days\""));
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(parse_duration("s")
            .unwrap_err()
            .contains("does not start with a number"));
        assert!(parse_duration("-4s")
            .unwrap_err()
            .contains("does not start with a number"));
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration("1.5ms")
            .unwrap_err()
            .contains("finer than a millisecond"));
        assert!(parse_duration("99999999999999999999h")
            .unwrap_err()
            .contains("too long"));
        assert!(parse_duration("9999999999999999h")
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn durations_print_back_as_written() {
        for text in ["4s", "500ms", "10m", "1h", "1500ms", "0s"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_seconds(Duration::from_millis(11_200)), "11.2 s");
        assert_eq!(format_seconds(Duration::from_secs(10)), "10 s");
        assert_eq!(format_seconds(Duration::from_millis(10_001)), "10.001 s");
    }

    #[test]
    fn china_and_north_america_cadences() {
        let china = RingCadence::parse("1s on, 4s off").unwrap();
        assert_eq!(china, RingCadence::CHINA);
        assert_eq!(china.period(), Duration::from_secs(5));
        let america = RingCadence::parse("2s on, 4s off").unwrap();
        assert_eq!(america.on, Duration::from_secs(2));
        assert_eq!(america.period(), Duration::from_secs(6));
        let odd = RingCadence::parse("  400ms on ,200ms off ").unwrap();
        assert_eq!(odd.on, Duration::from_millis(400));
        assert_eq!(odd.off, Duration::from_millis(200));
        assert_eq!(odd.to_string(), "400ms on, 200ms off");
    }

    #[test]
    fn bad_cadences_say_why() {
        assert!(RingCadence::parse("1s, 4s")
            .unwrap_err()
            .contains("not written like"));
        assert!(RingCadence::parse("1s on 4s off")
            .unwrap_err()
            .contains("not written like"));
        assert!(RingCadence::parse("1x on, 4s off")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(RingCadence::parse("0s on, 4s off")
            .unwrap_err()
            .contains("no ring"));
    }

    #[test]
    fn third_ring_ends_eleven_seconds_after_alerting_with_china_cadence() {
        let china = RingCadence::CHINA;
        assert_eq!(china.ring_end(0), Duration::ZERO);
        assert_eq!(china.ring_end(1), Duration::from_secs(1));
        assert_eq!(china.ring_end(3), Duration::from_secs(11));
        let america = RingCadence::parse("2s on, 4s off").unwrap();
        assert_eq!(america.ring_end(3), Duration::from_secs(14));
    }

    #[test]
    fn rings_are_counted_as_periods_started_before_the_answer() {
        let china = RingCadence::CHINA;
        assert_eq!(china.rings_started(Duration::ZERO), 0);
        assert_eq!(china.rings_started(Duration::from_millis(1)), 1);
        assert_eq!(china.rings_started(Duration::from_secs(1)), 1);
        assert_eq!(china.rings_started(Duration::from_secs(5)), 1);
        assert_eq!(china.rings_started(Duration::from_millis(5001)), 2);
        assert_eq!(china.rings_started(Duration::from_secs(11)), 3);
        let america = RingCadence::parse("2s on, 4s off").unwrap();
        assert_eq!(america.rings_started(Duration::from_secs(2)), 1);
        assert_eq!(america.rings_started(Duration::from_secs(13)), 3);
    }
}
