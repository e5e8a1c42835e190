//! Per-principal limits (OWASP API4, unrestricted resource consumption): a request rate
//! (`governor`'s GCRA, keyed by subject) and a number of requests in flight. One principal
//! flooding the server slows only itself. gridloop's own front ends (the HTTP server's service
//! principal) carry the requests of many clients, each limited at that front end: they have
//! limits of their own, sized for all those clients together.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often (in checks) the rate limiter forgets subjects that have been quiet, so memory stays
/// bounded by the active principals.
const FORGET_EVERY: u64 = 4096;

/// The limits of the ordinary callers, and of the front ends' service principals.
pub struct EdgeLimits {
    callers: PrincipalLimits,
    services: PrincipalLimits,
    service_subjects: std::collections::HashSet<String>,
}

impl EdgeLimits {
    pub fn new(callers: LimitSettings, services: LimitSettings, service_subjects: &[String]) -> EdgeLimits {
        EdgeLimits {
            callers: PrincipalLimits::new(callers),
            services: PrincipalLimits::new(services),
            service_subjects: service_subjects.iter().cloned().collect(),
        }
    }

    /// Admit one request of `subject` under the limits its kind of principal has.
    pub fn admit(&self, subject: &str) -> Result<Option<InFlight>, LimitExceeded> {
        if self.service_subjects.contains(subject) {
            self.services.admit(subject)
        } else {
            self.callers.admit(subject)
        }
    }
}

/// Why a request was held back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    #[error("more than {per_second} requests per second (burst {burst}); retry in {retry_after_ms} ms")]
    Rate { per_second: u32, burst: u32, retry_after_ms: u64 },
    #[error("more than {0} requests in flight; wait for one to finish")]
    Concurrency(usize),
}

impl LimitExceeded {
    pub fn reason(&self) -> &'static str {
        match self {
            LimitExceeded::Rate { .. } => "rate_limit",
            LimitExceeded::Concurrency(_) => "concurrency_limit",
        }
    }
}

/// The limits' settings; 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    pub requests_per_second: u32,
    pub burst: u32,
    pub max_in_flight: usize,
}

/// The per-principal limiters.
pub struct PrincipalLimits {
    settings: LimitSettings,
    rate: Option<DefaultKeyedRateLimiter<String>>,
    checks: std::sync::atomic::AtomicU64,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

/// A request's place among its principal's requests in flight; dropping it frees the place.
pub struct InFlight {
    subject: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().expect("lock");
        if let Some(count) = counts.get_mut(&self.subject) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.subject);
            }
        }
    }
}

impl PrincipalLimits {
    pub fn new(settings: LimitSettings) -> PrincipalLimits {
        let rate = NonZeroU32::new(settings.requests_per_second).map(|per_second| {
            let burst = NonZeroU32::new(settings.burst.max(settings.requests_per_second)).unwrap_or(per_second);
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        PrincipalLimits { settings, rate, checks: Default::default(), in_flight: Default::default() }
    }

    /// Admit one request of `subject`, or say which limit it exceeds.
    pub fn admit(&self, subject: &str) -> Result<Option<InFlight>, LimitExceeded> {
        if let Some(rate) = &self.rate {
            if self.checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
                rate.retain_recent();
            }
            if let Err(not_until) = rate.check_key(&subject.to_string()) {
                let wait: Duration = not_until.wait_time_from(DefaultClock::default().now());
                return Err(LimitExceeded::Rate {
                    per_second: self.settings.requests_per_second,
                    burst: self.settings.burst.max(self.settings.requests_per_second),
                    retry_after_ms: wait.as_millis().try_into().unwrap_or(u64::MAX).max(1),
                });
            }
        }
        if self.settings.max_in_flight == 0 {
            return Ok(None);
        }
        let mut counts = self.in_flight.lock().expect("lock");
        let count = counts.entry(subject.to_string()).or_default();
        if *count >= self.settings.max_in_flight {
            return Err(LimitExceeded::Concurrency(self.settings.max_in_flight));
        }
        *count += 1;
        Ok(Some(InFlight { subject: subject.to_string(), counts: self.in_flight.clone() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_rate_is_refused_for_that_subject_only() {
        let limits = PrincipalLimits::new(LimitSettings { requests_per_second: 1, burst: 3, max_in_flight: 0 });
        for _ in 0..3 {
            assert!(limits.admit("flood").is_ok());
        }
        let refused = limits.admit("flood").err().expect("the fourth within a second");
        assert!(matches!(refused, LimitExceeded::Rate { per_second: 1, burst: 3, .. }), "{refused:?}");
        assert!(limits.admit("quiet").is_ok(), "another subject has its own budget");
    }

    #[test]
    fn a_service_subject_has_its_own_larger_limits() {
        let caller = LimitSettings { requests_per_second: 1, burst: 1, max_in_flight: 0 };
        let service = LimitSettings { requests_per_second: 1, burst: 3, max_in_flight: 0 };
        let limits = EdgeLimits::new(caller, service, &["gridloop-http".to_string()]);
        assert!(limits.admit("resident").is_ok());
        assert!(limits.admit("resident").is_err(), "a caller's burst is 1");
        for _ in 0..3 {
            assert!(limits.admit("gridloop-http").is_ok());
        }
        assert!(matches!(limits.admit("gridloop-http"), Err(LimitExceeded::Rate { burst: 3, .. })));
    }

    #[test]
    fn requests_in_flight_are_counted_until_they_finish() {
        let limits = PrincipalLimits::new(LimitSettings { requests_per_second: 0, burst: 0, max_in_flight: 2 });
        let first = limits.admit("p").unwrap();
        let _second = limits.admit("p").unwrap();
        assert_eq!(limits.admit("p").err(), Some(LimitExceeded::Concurrency(2)));
        assert!(limits.admit("q").is_ok());
        drop(first);
        assert!(limits.admit("p").is_ok(), "a finished request frees its place");
    }
}
