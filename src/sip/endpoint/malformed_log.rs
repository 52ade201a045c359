//! How much of a stream of malformed SIP reaches the log. Junk costs an attacker nothing to
//! send, and one warning per datagram would let them fill the disk and bury the lines that
//! matter, so within each 10 s interval only the first [`PER_SOURCE`] malformed messages of a
//! source, and at most [`PER_INTERVAL`] in all, get a line of their own; the rest are counted
//! and told in one summary line when the interval ends. At most `PER_INTERVAL + 1` lines per
//! interval, whatever arrives. Sans-IO: time comes in as an argument, and the endpoint's
//! timer asks for the summary.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The length of one counting interval.
pub(super) const INTERVAL: Duration = Duration::from_secs(10);
/// Malformed messages of one source logged one by one per interval.
pub(super) const PER_SOURCE: u32 = 3;
/// Malformed messages logged one by one per interval, over all sources.
pub(super) const PER_INTERVAL: u32 = 10;
/// Sources told apart per interval; more are counted as "more than this many".
pub(super) const MAX_SOURCES: usize = 1024;

/// The malformed messages of an interval that were not logged one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Summary {
    /// Every malformed message of the interval, logged or not.
    pub messages: u64,
    /// Those that had a line of their own.
    pub logged: u32,
    /// Distinct source addresses (at most [`MAX_SOURCES`], see `more_sources`).
    pub sources: usize,
    /// More sources sent junk than were told apart.
    pub more_sources: bool,
}

#[derive(Debug)]
struct Interval {
    started: Instant,
    per_source: HashMap<IpAddr, u32>,
    more_sources: bool,
    messages: u64,
    logged: u32,
}

/// The counter of malformed messages (see the module doc).
#[derive(Debug, Default)]
pub(super) struct MalformedLog {
    current: Option<Interval>,
}

impl MalformedLog {
    /// Counts a malformed message from `source` at `now`. Returns the summary of an interval
    /// that ended before it (to be logged first), and whether this message gets a line of
    /// its own.
    pub(super) fn note(&mut self, now: Instant, source: IpAddr) -> (Option<Summary>, bool) {
        let ended = self.take_due(now);
        let interval = self.current.get_or_insert_with(|| Interval {
            started: now,
            per_source: HashMap::new(),
            more_sources: false,
            messages: 0,
            logged: 0,
        });
        interval.messages += 1;
        let tracked = interval.per_source.len();
        let seen = match interval.per_source.get_mut(&source) {
            Some(count) => {
                *count += 1;
                Some(*count)
            }
            None if tracked < MAX_SOURCES => {
                interval.per_source.insert(source, 1);
                Some(1)
            }
            None => {
                interval.more_sources = true;
                None
            }
        };
        let log_it = seen.is_some_and(|n| n <= PER_SOURCE) && interval.logged < PER_INTERVAL;
        if log_it {
            interval.logged += 1;
        }
        (ended, log_it)
    }

    /// When the current interval's summary is due; None when there is nothing to tell
    /// (no interval, or every message of it was logged).
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.current
            .as_ref()
            .filter(|i| i.messages > u64::from(i.logged))
            .map(|i| i.started + INTERVAL)
    }

    /// The summary of the interval if it has ended by `now` and some of its messages were
    /// not logged one by one; the interval is closed either way once it has ended.
    pub(super) fn take_due(&mut self, now: Instant) -> Option<Summary> {
        let interval = self.current.take_if(|i| now >= i.started + INTERVAL)?;
        (interval.messages > u64::from(interval.logged)).then_some(Summary {
            messages: interval.messages,
            logged: interval.logged,
            sources: interval.per_source.len(),
            more_sources: interval.more_sources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn a_source_gets_three_lines_per_interval_and_the_rest_is_one_summary_when_it_ends() {
        let t0 = Instant::now();
        let mut log = MalformedLog::default();
        let logged: Vec<bool> = (0..10_000)
            .map(|n| {
                let (summary, log_it) = log.note(t0 + Duration::from_micros(n * 100), ip(1));
                assert_eq!(summary, None);
                log_it
            })
            .collect();
        assert_eq!(logged.iter().filter(|&&l| l).count(), 3);
        assert!(logged[..3].iter().all(|&l| l));
        assert_eq!(log.poll_timeout(), Some(t0 + INTERVAL));
        assert_eq!(log.take_due(t0 + INTERVAL - Duration::from_millis(1)), None);
        assert_eq!(
            log.take_due(t0 + INTERVAL),
            Some(Summary {
                messages: 10_000,
                logged: 3,
                sources: 1,
                more_sources: false,
            })
        );
        assert_eq!(log.poll_timeout(), None);
        // The next interval starts afresh.
        assert!(log.note(t0 + INTERVAL + Duration::from_secs(1), ip(1)).1);
    }

    #[test]
    fn many_sources_share_ten_lines_per_interval() {
        let t0 = Instant::now();
        let mut log = MalformedLog::default();
        let mut lines = 0;
        for n in 0..2_000u32 {
            let source = IpAddr::from(n.to_be_bytes());
            if log.note(t0, source).1 {
                lines += 1;
            }
        }
        assert_eq!(lines, PER_INTERVAL);
        assert_eq!(
            log.take_due(t0 + INTERVAL),
            Some(Summary {
                messages: 2_000,
                logged: PER_INTERVAL,
                sources: MAX_SOURCES,
                more_sources: true,
            })
        );
    }

    #[test]
    fn an_interval_whose_messages_were_all_logged_ends_without_a_summary_or_a_timer() {
        let t0 = Instant::now();
        let mut log = MalformedLog::default();
        assert!(log.note(t0, ip(1)).1);
        assert!(log.note(t0, ip(2)).1);
        assert_eq!(log.poll_timeout(), None);
        let (summary, log_it) = log.note(t0 + INTERVAL, ip(1));
        assert_eq!(summary, None);
        assert!(log_it);
    }

    #[test]
    fn junk_after_the_interval_brings_its_summary_before_its_own_line() {
        let t0 = Instant::now();
        let mut log = MalformedLog::default();
        for _ in 0..5 {
            log.note(t0, ip(1));
        }
        let (summary, log_it) = log.note(t0 + INTERVAL + Duration::from_secs(3), ip(1));
        assert_eq!(
            summary,
            Some(Summary {
                messages: 5,
                logged: 3,
                sources: 1,
                more_sources: false,
            })
        );
        assert!(
            log_it,
            "a new interval: the source's first message is logged"
        );
    }
}
