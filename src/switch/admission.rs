//! Who may start a new call: the rate of new calls (INVITEs) each source address may start,
//! as a token bucket per address in a bounded table.
//!
//! Trust by address is spoofable over UDP, so the rate is kept per address whatever it is
//! (the trunk's included): a flood from one address is held to the rate while calls from
//! other addresses still get through. An address may start up to [`BURST_SECONDS`] seconds'
//! worth of calls at once (a trunk's busy moment), then the rate. The table never holds
//! more than [`MAX_SOURCES`]
//! addresses; an address whose bucket has filled up again is the same as an unknown one, so
//! those are dropped first when the table is full, then the longest unseen.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Addresses tracked at most. Ten thousand spoofed addresses cost at most this many entries.
pub const MAX_SOURCES: usize = 4096;
/// The burst an address may start at once, in seconds of its rate.
pub const BURST_SECONDS: u32 = 2;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// New calls this address may still start now ([`BURST_SECONDS`] worth at most).
    tokens: f64,
    refilled: Instant,
    /// Whether the last attempt was refused (so the refusal is logged once per burst).
    refusing: bool,
}

/// What [`NewCallRate::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Over the rate; `first` is true for the first refusal of a burst.
    Refused {
        first: bool,
    },
}

#[derive(Debug)]
pub struct NewCallRate {
    per_second: u32,
    sources: HashMap<IpAddr, Bucket>,
}

impl NewCallRate {
    pub fn new(per_second: u32) -> NewCallRate {
        NewCallRate {
            per_second: per_second.max(1),
            sources: HashMap::new(),
        }
    }

    /// A new call from `source` at `now`: admitted while the address has a call to spend.
    pub fn admit(&mut self, source: IpAddr, now: Instant) -> Admission {
        let capacity = f64::from(self.per_second * BURST_SECONDS);
        let rate = f64::from(self.per_second);
        if !self.sources.contains_key(&source) && self.sources.len() >= MAX_SOURCES {
            self.make_room(now);
        }
        let bucket = self.sources.entry(source).or_insert(Bucket {
            tokens: capacity,
            refilled: now,
            refusing: false,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            bucket.refusing = false;
            Admission::Admitted
        } else {
            let first = !bucket.refusing;
            bucket.refusing = true;
            Admission::Refused { first }
        }
    }

    /// Addresses tracked now (never more than [`MAX_SOURCES`]).
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }

    fn make_room(&mut self, now: Instant) {
        let capacity = f64::from(self.per_second * BURST_SECONDS);
        let rate = f64::from(self.per_second);
        // A bucket full again remembers nothing an unknown address would not.
        self.sources.retain(|_, bucket| {
            let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
            bucket.tokens + elapsed * rate < capacity
        });
        if self.sources.len() >= MAX_SOURCES {
            if let Some(oldest) = self
                .sources
                .iter()
                .min_by_key(|(_, bucket)| bucket.refilled)
                .map(|(address, _)| *address)
            {
                self.sources.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn an_address_starts_two_seconds_of_its_rate_at_once_then_one_more_per_tenth() {
        let t0 = Instant::now();
        let mut rate = NewCallRate::new(10);
        for n in 0..20 {
            assert_eq!(rate.admit(ip(1), t0), Admission::Admitted, "call {n}");
        }
        assert_eq!(rate.admit(ip(1), t0), Admission::Refused { first: true });
        assert_eq!(rate.admit(ip(1), t0), Admission::Refused { first: false });
        // Another address is not held back by the first one's flood.
        assert_eq!(rate.admit(ip(2), t0), Admission::Admitted);
        let later = t0 + Duration::from_millis(100);
        assert_eq!(rate.admit(ip(1), later), Admission::Admitted);
        assert_eq!(rate.admit(ip(1), later), Admission::Refused { first: true });
    }

    #[test]
    fn the_table_never_holds_more_than_its_bound() {
        let t0 = Instant::now();
        let mut rate = NewCallRate::new(1);
        for n in 1..(3 * MAX_SOURCES as u32) {
            rate.admit(ip(n), t0 + Duration::from_micros(u64::from(n)));
            assert!(rate.tracked() <= MAX_SOURCES);
        }
        assert_eq!(rate.tracked(), MAX_SOURCES);
    }
}
