//! Business hours: weekly open intervals in a named IANA time zone, minus holidays.
//! The instant is always passed in, so the decision is testable at any chosen moment.

use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// When a hotline is open.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    /// The IANA name as written, e.g. "Asia/Shanghai".
    pub time_zone_name: String,
    pub time_zone: TimeZone,
    pub open: Vec<WeeklyInterval>,
    /// Whole days closed, in the hotline's time zone.
    pub holidays: BTreeSet<Date>,
}

/// One line such as "Mon-Fri 09:00-18:00": open on these weekdays from `start` up to (not
/// including) `end`, both in minutes after local midnight; `end` may be 1440 ("24:00").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyInterval {
    /// Indexed Monday = 0 … Sunday = 6.
    pub days: [bool; 7],
    pub start_minute: u32,
    pub end_minute: u32,
    /// The text it was read from, for summaries.
    pub text: String,
}

impl BusinessHours {
    /// Whether the hotline is open at `at`. Holidays close the whole local day.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = at.to_zoned(self.time_zone.clone());
        if self.holidays.contains(&local.date()) {
            return false;
        }
        let day = usize::try_from(local.weekday().to_monday_zero_offset()).unwrap_or(0);
        let minute = u32::try_from(local.hour()).unwrap_or(0) * 60
            + u32::try_from(local.minute()).unwrap_or(0);
        self.open.iter().any(|interval| {
            interval.days.get(day).copied().unwrap_or(false)
                && interval.start_minute <= minute
                && minute < interval.end_minute
        })
    }
}

/// Looks up an IANA time zone name such as "Asia/Shanghai".
pub fn parse_time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| {
        format!("\"{name}\" is not a known IANA time zone (write it like \"Asia/Shanghai\")")
    })
}

/// Parses a holiday written as "2025-10-01".
pub fn parse_holiday(text: &str) -> Result<Date, String> {
    text.trim()
        .parse::<Date>()
        .map_err(|_| format!("\"{text}\" is not a date written like \"2025-10-01\""))
}

/// Parses "Mon-Fri 09:00-18:00", "Sat,Sun 10:00-14:00", "daily 00:00-24:00".
pub fn parse_weekly_interval(text: &str) -> Result<WeeklyInterval, String> {
    let shape =
        || format!("\"{text}\" is not an opening interval written like \"Mon-Fri 09:00-18:00\"");
    let mut parts = text.split_whitespace();
    let (Some(days_text), Some(times_text), None) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(shape());
    };
    let days = parse_days(days_text).ok_or_else(|| {
        format!(
            "\"{text}\": \"{days_text}\" is not a list of weekdays such as \"Mon-Fri\", \"Sat,Sun\" or \"daily\""
        )
    })?;
    let (start_text, end_text) = times_text.split_once('-').ok_or_else(shape)?;
    let bad_time =
        |t: &str| format!("\"{text}\": \"{t}\" is not a time of day written like \"09:00\"");
    let start_minute = parse_clock(start_text).ok_or_else(|| bad_time(start_text))?;
    let end_minute = parse_clock(end_text).ok_or_else(|| bad_time(end_text))?;
    if start_minute >= end_minute {
        return Err(format!(
            "\"{text}\": closes before it opens; split an overnight interval at 24:00"
        ));
    }
    Ok(WeeklyInterval {
        days,
        start_minute,
        end_minute,
        text: text.trim().to_string(),
    })
}

fn parse_days(text: &str) -> Option<[bool; 7]> {
    let mut days = [false; 7];
    if text.eq_ignore_ascii_case("daily") {
        return Some([true; 7]);
    }
    for item in text.split(',') {
        match item.split_once('-') {
            Some((first, last)) => {
                let first = weekday_index(first)?;
                let last = weekday_index(last)?;
                // A range such as "Sat-Mon" wraps over the weekend.
                let mut day = first;
                loop {
                    days[day] = true;
                    if day == last {
                        break;
                    }
                    day = (day + 1) % 7;
                }
            }
            None => days[weekday_index(item)?] = true,
        }
    }
    Some(days)
}

fn weekday_index(text: &str) -> Option<usize> {
    let weekday = match text.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return None,
    };
    usize::try_from(weekday.to_monday_zero_offset()).ok()
}

/// "09:00" → 540; "24:00" → 1440 (only as the end of a day).
fn parse_clock(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u32 = hours.parse().ok()?;
    let minutes: u32 = minutes.parse().ok()?;
    match (hours, minutes) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(hours * 60 + minutes),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai_office() -> BusinessHours {
        BusinessHours {
            time_zone_name: "Asia/Shanghai".into(),
            time_zone: parse_time_zone("Asia/Shanghai").unwrap(),
            open: vec![parse_weekly_interval("Mon-Fri 09:00-18:00").unwrap()],
            holidays: [parse_holiday("2025-10-01").unwrap()].into_iter().collect(),
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn shanghai_office_is_open_on_weekday_working_hours() {
        let hours = shanghai_office();
        // Tuesday 2025-03-11 09:00 in Shanghai is 01:00 UTC (UTC+8, no daylight saving).
        assert!(hours.is_open(at("2025-03-11T01:00:00Z")));
        assert!(!hours.is_open(at("2025-03-11T00:59:59Z")));
        assert!(hours.is_open(at("2025-03-11T09:59:59Z")));
        // 18:00 local closes.
        assert!(!hours.is_open(at("2025-03-11T10:00:00Z")));
        // Summer: still UTC+8, so the same UTC hours decide.
        assert!(hours.is_open(at("2025-07-15T01:00:00Z")));
        assert!(!hours.is_open(at("2025-07-15T00:30:00Z")));
    }

    #[test]
    fn shanghai_office_is_closed_at_weekends_and_holidays() {
        let hours = shanghai_office();
        // Saturday 2025-03-15 12:00 local.
        assert!(!hours.is_open(at("2025-03-15T04:00:00Z")));
        // Monday 2025-03-17 00:30 UTC is 08:30 local Monday: not yet open.
        assert!(!hours.is_open(at("2025-03-17T00:30:00Z")));
        // Friday 2025-03-14 23:00 UTC is already Saturday 07:00 local.
        assert!(!hours.is_open(at("2025-03-14T23:00:00Z")));
        // National Day, a Wednesday, at noon local.
        assert!(!hours.is_open(at("2025-10-01T04:00:00Z")));
        assert!(hours.is_open(at("2025-10-02T04:00:00Z")));
    }

    #[test]
    fn new_york_hours_follow_daylight_saving() {
        let hours = BusinessHours {
            time_zone_name: "America/New_York".into(),
            time_zone: parse_time_zone("America/New_York").unwrap(),
            open: vec![parse_weekly_interval("Mon-Fri 09:00-17:00").unwrap()],
            holidays: BTreeSet::new(),
        };
        // 13:30 UTC is 08:30 EST in January but 09:30 EDT in July.
        assert!(!hours.is_open(at("2025-01-15T13:30:00Z")));
        assert!(hours.is_open(at("2025-07-15T13:30:00Z")));
    }

    #[test]
    fn interval_shapes() {
        let daily = parse_weekly_interval("daily 00:00-24:00").unwrap();
        assert_eq!(daily.days, [true; 7]);
        assert_eq!((daily.start_minute, daily.end_minute), (0, 1440));
        let weekend = parse_weekly_interval("Sat,sun 10:00-14:30").unwrap();
        assert_eq!(
            weekend.days,
            [false, false, false, false, false, true, true]
        );
        assert_eq!(weekend.end_minute, 14 * 60 + 30);
        let wrap = parse_weekly_interval("Sat-Mon 08:00-12:00").unwrap();
        assert_eq!(wrap.days, [true, false, false, false, false, true, true]);
    }

    #[test]
    fn bad_intervals_say_why() {
        assert!(parse_weekly_interval("Mon-Fri")
            .unwrap_err()
            .contains("written like"));
        assert!(parse_weekly_interval("Mon-Fry 09:00-18:00")
            .unwrap_err()
            .contains("\"Mon-Fry\" is not a list of weekdays"));
        assert!(parse_weekly_interval("Mon 9-18")
            .unwrap_err()
            .contains("\"9\" is not a time"));
        assert!(parse_weekly_interval("Mon 09:00-25:00")
            .unwrap_err()
            .contains("\"25:00\""));
        assert!(parse_weekly_interval("Mon 18:00-09:00")
            .unwrap_err()
            .contains("closes before it opens"));
        assert!(parse_time_zone("Asia/Shanghia")
            .unwrap_err()
            .contains("not a known IANA time zone"));
        assert!(parse_holiday("2025-13-01")
            .unwrap_err()
            .contains("not a date"));
    }
}
