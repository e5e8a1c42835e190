//! Pauses between attempts at work that keeps failing because something it needs is down (a
//! store that is full, read-only or unreachable, a broker that is gone): doubling from a first
//! pause up to a ceiling, so that an outage of any length costs a few attempts and log lines a
//! minute instead of a loop that spins, and starting over at the first success.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    ceiling: Duration,
    /// Attempts that failed in a row.
    failures: u32,
}

impl Backoff {
    pub const fn new(first: Duration, ceiling: Duration) -> Self {
        Self { first, ceiling, failures: 0 }
    }

    /// One more attempt failed: how long to pause before the next.
    pub fn failed(&mut self) -> Duration {
        let doublings = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        self.first.saturating_mul(1u32 << doublings).min(self.ceiling)
    }

    /// An attempt succeeded: how many had failed in a row before it (0: none); the next failure
    /// pauses for the first pause again.
    pub fn succeeded(&mut self) -> u32 {
        std::mem::take(&mut self.failures)
    }

    /// Attempts that failed in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_ceiling_and_start_over_after_a_success() {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
        let pauses: Vec<u64> = (0..8).map(|_| backoff.failed().as_millis() as u64).collect();
        assert_eq!(pauses, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
        assert_eq!(backoff.succeeded(), 8);
        assert_eq!(backoff.succeeded(), 0);
        assert_eq!(backoff.failed(), Duration::from_millis(500));
    }

    #[test]
    fn a_long_outage_neither_overflows_nor_shortens_the_pause() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        for _ in 0..100 {
            backoff.failed();
        }
        assert_eq!(backoff.failed(), Duration::from_secs(30));
        assert_eq!(backoff.failures(), 101);
    }

    /// Over a ten-minute outage the attempts are counted, not timed: the pauses alone decide how
    /// many there are.
    #[test]
    fn a_ten_minute_outage_costs_a_bounded_number_of_attempts() {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
        let (mut elapsed, mut attempts) = (Duration::ZERO, 0);
        while elapsed < Duration::from_secs(600) {
            attempts += 1;
            elapsed += backoff.failed();
        }
        // 500 ms, 1, 2, 4, 8 s, then one attempt every 10 s.
        assert!(attempts <= 65, "{attempts} attempts");
    }
}
