//! How far behind a feed of events is while it takes in a backlog — a relay publishing an outbox
//! that `gridloop import` filled, a JetStream consumer starting far behind its stream — so that
//! an operator can tell a service that is busy catching up from one that is stuck, and see when
//! it is done:
//!
//! - the gauge `gridloop_backlog_events{feed}`: events left, set on every batch (0 once caught up);
//! - while at least [`MIN_BACKLOG`] events are left, a log line every [`REPORT_EVERY`]:
//!   `catching up: 8412 events/s, 240000 events left`;
//! - once nothing is left, one line: `caught up: 350000 events in 41.2 s`.
//!
//! A feed that keeps up (batches smaller than the backlog threshold) logs nothing.

use std::time::{Duration, Instant};

/// Events left from which a feed counts as taking in a backlog, and reports it.
pub const MIN_BACKLOG: u64 = 5_000;
/// How often a feed taking in a backlog logs its rate and the events left.
pub const REPORT_EVERY: Duration = Duration::from_secs(5);

/// What a feed has to say after a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A backlog began: this many events are left.
    Behind { left: u64 },
    /// Taking in a backlog: the rate since the last report, and the events left.
    Progress { per_second: f64, left: u64 },
    /// The backlog is taken in: events taken since it began, and how long that took.
    CaughtUp { events: u64, seconds: f64 },
}

/// A backlog being taken in.
#[derive(Debug, Clone, Copy)]
struct Catching {
    since: Instant,
    taken: u64,
    reported_at: Instant,
    taken_at_report: u64,
}

/// One feed's backlog: fed after every batch with the events taken and the events left.
#[derive(Debug)]
pub struct Backlog {
    feed: String,
    catching: Option<Catching>,
}

impl Backlog {
    /// `feed` names it in the gauge's label and the log lines (`outbox:dispatch`,
    /// `consumer:evaluation-projection`).
    pub fn new(feed: impl Into<String>) -> Self {
        Self { feed: feed.into(), catching: None }
    }

    /// `taken` events were just taken in and `left` remain: sets the gauge and logs what
    /// [`Backlog::observe`] reports.
    pub fn record(&mut self, taken: u64, left: u64) {
        metrics::gauge!("gridloop_backlog_events", "feed" => self.feed.clone()).set(left as f64);
        let report = self.observe(Instant::now(), taken, left);
        let feed = self.feed.as_str();
        match report {
            None => {}
            Some(Report::Behind { left }) => tracing::info!(feed, left, "taking in a backlog: {left} events left"),
            Some(Report::Progress { per_second, left }) => {
                tracing::info!(feed, left, "catching up: {per_second:.0} events/s, {left} events left")
            }
            Some(Report::CaughtUp { events, seconds }) => {
                tracing::info!(feed, events, "caught up: {events} events in {seconds:.1} s")
            }
        }
    }

    /// The same, at `now`, without side effects: what there is to report, if anything.
    pub fn observe(&mut self, now: Instant, taken: u64, left: u64) -> Option<Report> {
        let Some(catching) = self.catching.as_mut() else {
            if left < MIN_BACKLOG {
                return None;
            }
            self.catching = Some(Catching { since: now, taken, reported_at: now, taken_at_report: taken });
            return Some(Report::Behind { left });
        };
        catching.taken += taken;
        if left == 0 {
            let events = catching.taken;
            let seconds = now.duration_since(catching.since).as_secs_f64();
            self.catching = None;
            return Some(Report::CaughtUp { events, seconds });
        }
        let since_report = now.duration_since(catching.reported_at);
        if since_report < REPORT_EVERY {
            return None;
        }
        let per_second = (catching.taken - catching.taken_at_report) as f64 / since_report.as_secs_f64();
        catching.reported_at = now;
        catching.taken_at_report = catching.taken;
        Some(Report::Progress { per_second, left })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backlog_reports_its_start_its_rate_every_few_seconds_and_once_that_it_caught_up() {
        let mut backlog = Backlog::new("outbox:dispatch");
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert_eq!(backlog.observe(at(0), 500, 20_000), Some(Report::Behind { left: 20_000 }));
        assert_eq!(backlog.observe(at(2_000), 10_000, 10_000), None, "no report within REPORT_EVERY");
        let Some(Report::Progress { per_second, left }) = backlog.observe(at(5_000), 5_000, 5_000) else {
            panic!("a progress report after REPORT_EVERY");
        };
        assert_eq!(left, 5_000);
        assert!((per_second - 3_000.0).abs() < 1e-6, "15,000 events in 5 s: {per_second}");
        let Some(Report::CaughtUp { events, seconds }) = backlog.observe(at(6_500), 5_000, 0) else {
            panic!("caught up once nothing is left");
        };
        assert_eq!(events, 20_500);
        assert!((seconds - 6.5).abs() < 1e-6);
        assert_eq!(backlog.observe(at(7_000), 10, 0), None, "caught up is said once");
    }

    #[test]
    fn a_feed_that_keeps_up_reports_nothing() {
        let mut backlog = Backlog::new("consumer:evaluation-projection");
        let start = Instant::now();
        for second in 0..60 {
            let now = start + Duration::from_secs(second);
            assert_eq!(backlog.observe(now, 400, MIN_BACKLOG - 1), None);
            assert_eq!(backlog.observe(now, 400, 0), None);
        }
    }
}
