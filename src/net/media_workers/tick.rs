//! The fixed 20 ms schedule of a media worker: tick k is due at `start + 20 ms × k`, so the
//! packet clock never drifts however late a wake-up comes, and after a stall only a few
//! missed ticks are run at once (the rest are skipped, keeping the grid).

use std::time::{Duration, Instant};

pub(super) struct TickSchedule {
    start: Instant,
    period_ns: u64,
    /// The index of the next tick to run.
    next: u64,
    max_catch_up: u64,
    skipped: u64,
}

impl TickSchedule {
    pub(super) fn new(start: Instant, period: Duration, max_catch_up: u64) -> TickSchedule {
        TickSchedule {
            start,
            period_ns: period.as_nanos() as u64,
            next: 1,
            max_catch_up: max_catch_up.max(1),
            skipped: 0,
        }
    }

    /// A new grid from `now` (the next tick 20 ms later), after the worker slept without
    /// ticks: the ticks of the sleep are neither run nor counted as skipped.
    pub(super) fn restart(&mut self, now: Instant) {
        self.start = now;
        self.next = 1;
    }

    /// When the next tick is due.
    pub(super) fn deadline(&self) -> Instant {
        self.start + Duration::from_nanos(self.period_ns.saturating_mul(self.next))
    }

    /// How many ticks to run now (at most the catch-up bound); ticks missed beyond the bound
    /// are skipped and counted.
    pub(super) fn take_due(&mut self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_nanos() as u64;
        // Ticks 1..=last are due at `now`.
        let last = elapsed / self.period_ns;
        if last < self.next {
            return 0;
        }
        let behind = last - self.next + 1;
        let run = behind.min(self.max_catch_up);
        self.skipped += behind - run;
        self.next = last + 1;
        run
    }

    /// Ticks that a stall made the worker skip, since it started.
    pub(super) fn skipped(&self) -> u64 {
        self.skipped
    }

    /// How long until the next point of a grid of `period` locked to the ticks (a tick is
    /// always one: `period` divides the tick, see `RelayBatch`), from `now`; zero on a point,
    /// past the deadline, or for a zero `period`. A steady stream's packets, 20 ms apart,
    /// then all wait the same time: the wait adds delay, never jitter.
    pub(super) fn until_grid(&self, now: Instant, period: Duration) -> Duration {
        let period = period.as_nanos();
        if period == 0 {
            return Duration::ZERO;
        }
        let left = self.deadline().saturating_duration_since(now).as_nanos();
        Duration::from_nanos((left % period) as u64)
    }

    /// The epoll timeout until the next tick: whole milliseconds rounded up, so the worker
    /// never wakes just before a tick and spins.
    pub(super) fn timeout_ms(&self, now: Instant) -> i32 {
        let left = self.deadline().saturating_duration_since(now).as_nanos();
        left.div_ceil(1_000_000).min(i32::MAX as u128) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ticks_fall_on_a_fixed_grid_however_late_the_wake_up() {
        let t0 = Instant::now();
        let mut s = TickSchedule::new(t0, 20 * MS, 3);
        assert_eq!(s.take_due(t0 + 19 * MS), 0);
        assert_eq!(s.timeout_ms(t0 + 19 * MS), 1);
        // Woken 7 ms late: one tick, and the next is still due at 40 ms, not 47 ms.
        assert_eq!(s.take_due(t0 + 27 * MS), 1);
        assert_eq!(s.deadline(), t0 + 40 * MS);
        assert_eq!(s.timeout_ms(t0 + 27 * MS), 13);
        assert_eq!(s.take_due(t0 + 39 * MS), 0);
        assert_eq!(s.take_due(t0 + 40 * MS), 1);
        assert_eq!(s.deadline(), t0 + 60 * MS);
    }

    #[test]
    fn after_a_stall_at_most_three_ticks_catch_up_and_the_rest_are_skipped() {
        let t0 = Instant::now();
        let mut s = TickSchedule::new(t0, 20 * MS, 3);
        // First woken at 61 ms: the ticks of 20, 40 and 60 ms all run.
        assert_eq!(s.take_due(t0 + 61 * MS), 3);
        assert_eq!(s.skipped(), 0);
        // A one-second stall: 50 ticks due, three run, 47 skipped, the grid is kept.
        assert_eq!(s.take_due(t0 + 1061 * MS), 3);
        assert_eq!(s.skipped(), 47);
        assert_eq!(s.deadline(), t0 + 1080 * MS);
    }

    #[test]
    fn a_restart_starts_the_grid_afresh_and_counts_no_tick_of_the_sleep_as_skipped() {
        let t0 = Instant::now();
        let mut s = TickSchedule::new(t0, 20 * MS, 3);
        assert_eq!(s.take_due(t0 + 21 * MS), 1);
        // Asleep for ten seconds with nothing to tick, then woken at 10 s + 5 ms.
        s.restart(t0 + 10_005 * MS);
        assert_eq!(s.take_due(t0 + 10_005 * MS), 0);
        assert_eq!(s.deadline(), t0 + 10_025 * MS);
        assert_eq!(s.take_due(t0 + 10_025 * MS), 1);
        assert_eq!(s.skipped(), 0);
    }

    #[test]
    fn the_grid_points_fall_on_the_ticks_and_every_period_between() {
        let t0 = Instant::now();
        let s = TickSchedule::new(t0, 20 * MS, 3);
        let us = Duration::from_micros;
        // Next tick at 20 ms: with a 10 ms grid the points are 10 and 20 ms.
        assert_eq!(s.until_grid(t0 + us(3_250), 10 * MS), us(6_750));
        assert_eq!(s.until_grid(t0 + us(10_000), 10 * MS), Duration::ZERO);
        assert_eq!(s.until_grid(t0 + us(10_001), 10 * MS), us(9_999));
        assert_eq!(s.until_grid(t0 + us(12_000), 5 * MS), us(3_000));
        // The whole tick: wait for it.
        assert_eq!(s.until_grid(t0 + us(3_250), 20 * MS), us(16_750));
        // No batching, or the tick overdue: no wait.
        assert_eq!(s.until_grid(t0 + us(3_250), Duration::ZERO), Duration::ZERO);
        assert_eq!(s.until_grid(t0 + us(25_000), 10 * MS), Duration::ZERO);
    }

    #[test]
    fn the_grid_moves_with_the_ticks() {
        let t0 = Instant::now();
        let mut s = TickSchedule::new(t0, 20 * MS, 3);
        assert_eq!(s.take_due(t0 + 21 * MS), 1);
        // Next tick at 40 ms: points at 25, 30, 35, 40 ms.
        assert_eq!(s.until_grid(t0 + 21 * MS, 5 * MS), 4 * MS);
        s.restart(t0 + Duration::from_micros(100_300));
        // Ticks now at 120.3 ms, …: the points move with them.
        assert_eq!(
            s.until_grid(t0 + 101 * MS, 10 * MS),
            Duration::from_micros(9_300)
        );
    }

    #[test]
    fn the_timeout_rounds_up_to_whole_milliseconds() {
        let t0 = Instant::now();
        let s = TickSchedule::new(t0, 20 * MS, 3);
        assert_eq!(s.timeout_ms(t0 + Duration::from_micros(19_001)), 1);
        assert_eq!(s.timeout_ms(t0 + Duration::from_micros(18_999)), 2);
        assert_eq!(s.timeout_ms(t0 + 25 * MS), 0);
    }
}
