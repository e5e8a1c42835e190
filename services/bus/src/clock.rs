//! The injectable clock. Services read time only through it, so tests and the simulator can run
//! on a virtual clock where days pass in milliseconds.

use async_trait::async_trait;
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::sync::Arc;
use tokio::sync::watch;

pub type Timestamp = DateTime<Utc>;

#[async_trait]
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
    /// Returns once `now() >= deadline` (it may return earlier, callers re-check).
    async fn sleep_until(&self, deadline: Timestamp);
}

/// Wall-clock time, truncated to microseconds: the store keeps microseconds, and a deadline must
/// compare equal after a round trip through it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

/// Longest single sleep, so a wall-clock jump is noticed within a minute.
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let now = Utc::now();
        now.duration_trunc(Duration::microseconds(1)).unwrap_or(now)
    }

    async fn sleep_until(&self, deadline: Timestamp) {
        let wait = (deadline - self.now()).to_std().unwrap_or_default().min(MAX_SLEEP);
        tokio::time::sleep(wait).await;
    }
}

/// A virtual clock that moves only when told to.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<Timestamp>>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self { now: Arc::new(watch::Sender::new(start)) }
    }

    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|now| *now += by);
    }

    pub fn set(&self, to: Timestamp) {
        self.now.send_replace(to);
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.borrow()
    }

    async fn sleep_until(&self, deadline: Timestamp) {
        let mut rx = self.now.subscribe();
        // `wait_for` returns an error only if the sender is gone, which `self` prevents.
        let _ = rx.wait_for(|now| *now >= deadline).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_when_advanced_past_their_deadline() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let clock = ManualClock::new(start);
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(start + Duration::hours(4)).await })
        };
        clock.advance(Duration::hours(3));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "woke before its deadline");
        clock.advance(Duration::hours(1));
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper).await.unwrap().unwrap();
        assert_eq!(clock.now(), start + Duration::hours(4));
    }

    #[test]
    fn system_clock_has_microsecond_precision() {
        assert_eq!(SystemClock.now().timestamp_subsec_nanos() % 1_000, 0);
    }
}
