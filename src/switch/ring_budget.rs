//! The three-ring standard (STANDARDS.md S1) as arithmetic on a ring cadence.
//!
//! Ring N starts at (N−1) × period and ends when its on-time ends, so with the default
//! China cadence (1 s on, 4 s off) ring 1 ends at 1 s and ring 3 at 11 s. The ring count
//! of an answer is the number of cadence periods started before it.

use std::time::Duration;

use crate::config::RingCadence;

#[derive(Debug, Clone, Copy)]
pub struct RingBudget {
    cadence: RingCadence,
    /// Rings the caller hears before the switch answers (0 answers at once).
    answer_after_rings: u32,
    /// The standard: never ring past this many rings.
    within_rings: u32,
}

impl RingBudget {
    pub fn new(cadence: RingCadence, answer_after_rings: u32, within_rings: u32) -> Self {
        RingBudget {
            cadence,
            answer_after_rings,
            within_rings,
        }
    }

    /// When ring `n` (1-based) ends, measured from when alerting started.
    pub fn ring_ends(&self, n: u32) -> Duration {
        if n == 0 {
            return Duration::ZERO;
        }
        self.cadence.period() * (n - 1) + self.cadence.on
    }

    /// How long after alerting starts the switch answers.
    pub fn answer_delay(&self) -> Duration {
        self.ring_ends(self.answer_after_rings)
    }

    /// The latest moment an answer still meets the standard.
    pub fn deadline(&self) -> Duration {
        self.ring_ends(self.within_rings)
    }

    /// Whole cadence periods started before an answer given `elapsed` after alerting began.
    pub fn rings_at(&self, elapsed: Duration) -> u32 {
        let period = self.cadence.period().as_micros().max(1);
        let elapsed = elapsed.as_micros();
        // A period starting exactly at the answer instant was not heard.
        elapsed.div_ceil(period) as u32
    }

    /// Whether an answer `elapsed` after alerting began is within the standard.
    pub fn met_by(&self, elapsed: Duration) -> bool {
        elapsed <= self.deadline()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn china() -> RingCadence {
        RingCadence {
            on: Duration::from_secs(1),
            off: Duration::from_secs(4),
        }
    }
    fn north_america() -> RingCadence {
        RingCadence {
            on: Duration::from_secs(2),
            off: Duration::from_secs(4),
        }
    }

    #[test]
    fn third_ring_ends_eleven_seconds_after_alerting_with_china_cadence() {
        let budget = RingBudget::new(china(), 1, 3);
        assert_eq!(budget.ring_ends(1), Duration::from_secs(1));
        assert_eq!(budget.ring_ends(3), Duration::from_secs(11));
        assert_eq!(budget.deadline(), Duration::from_secs(11));
    }

    #[test]
    fn third_ring_ends_fourteen_seconds_after_alerting_with_north_american_cadence() {
        let budget = RingBudget::new(north_america(), 1, 3);
        assert_eq!(budget.ring_ends(1), Duration::from_secs(2));
        assert_eq!(budget.deadline(), Duration::from_secs(14));
        assert_eq!(budget.answer_delay(), Duration::from_secs(2));
    }

    #[test]
    fn answers_as_the_first_ring_ends_by_default() {
        let budget = RingBudget::new(china(), 1, 3);
        assert_eq!(budget.answer_delay(), Duration::from_secs(1));
        assert_eq!(budget.rings_at(budget.answer_delay()), 1);
        assert!(budget.met_by(budget.answer_delay()));
    }

    #[test]
    fn answer_after_zero_rings_is_immediate_and_counts_no_ring() {
        let budget = RingBudget::new(china(), 0, 3);
        assert_eq!(budget.answer_delay(), Duration::ZERO);
        assert_eq!(budget.rings_at(Duration::ZERO), 0);
    }

    #[test]
    fn ring_count_is_periods_started_before_answer() {
        let budget = RingBudget::new(china(), 1, 3);
        assert_eq!(budget.rings_at(Duration::from_millis(1)), 1);
        assert_eq!(budget.rings_at(Duration::from_secs(5)), 1);
        assert_eq!(budget.rings_at(Duration::from_millis(5001)), 2);
        assert_eq!(budget.rings_at(Duration::from_secs(11)), 3);
        assert_eq!(budget.rings_at(Duration::from_millis(15_001)), 4);
        assert!(!budget.met_by(Duration::from_millis(11_001)));
        let na = RingBudget::new(north_america(), 2, 3);
        assert_eq!(na.answer_delay(), Duration::from_secs(8));
        assert_eq!(na.rings_at(na.answer_delay()), 2);
    }
}
