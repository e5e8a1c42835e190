//! What a bench run records: a latency histogram (HdrHistogram) per RPC and for report →
//! dispatched visible, errors by gRPC code, and p99 per second for the plot.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The latencies a run measures, in the order the report lists them.
pub const MEASURES: [&str; 7] =
    ["report_to_dispatched", "ReportCase", "GetCase", "AcceptCase", "ResolveCase", "VerifyCase", "EvaluateCase"];

/// Microseconds, from 1 µs to an hour, three significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Everything recorded during the measured window, shared by the cases in flight.
pub struct Recorder {
    inner: Mutex<Recorded>,
}

struct Recorded {
    latencies: BTreeMap<&'static str, Histogram<u64>>,
    /// Per second of the window: the report → dispatched latencies of the cases reported then.
    timeline: Vec<Histogram<u64>>,
    errors: BTreeMap<String, u64>,
    started: u64,
    completed: u64,
    linked: u64,
    dropped: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        let latencies = MEASURES.iter().map(|name| (*name, histogram())).collect();
        let recorded = Recorded {
            latencies,
            timeline: Vec::new(),
            errors: BTreeMap::new(),
            started: 0,
            completed: 0,
            linked: 0,
            dropped: 0,
        };
        Self { inner: Mutex::new(recorded) }
    }
}

impl Recorder {
    fn with<T>(&self, f: impl FnOnce(&mut Recorded) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    pub fn started(&self) {
        self.with(|r| r.started += 1);
    }

    pub fn completed(&self) {
        self.with(|r| r.completed += 1);
    }

    /// A report the server linked to an open case (a duplicate) instead of opening one.
    pub fn linked(&self) {
        self.with(|r| r.linked += 1);
    }

    /// An arrival not started because too many cases were in flight.
    pub fn dropped(&self) {
        self.with(|r| r.dropped += 1);
    }

    pub fn latency(&self, measure: &'static str, elapsed: Duration) {
        self.with(|r| {
            if let Some(histogram) = r.latencies.get_mut(measure) {
                histogram.saturating_record(micros(elapsed));
            }
        });
    }

    /// Report → dispatched visible of a case reported `second` seconds into the window.
    pub fn dispatched(&self, second: usize, elapsed: Duration) {
        self.latency(MEASURES[0], elapsed);
        self.with(|r| {
            while r.timeline.len() <= second {
                r.timeline.push(histogram());
            }
            r.timeline[second].saturating_record(micros(elapsed));
        });
    }

    /// A failed RPC, by its gRPC code (`rpc: Code`).
    pub fn error(&self, rpc: &'static str, code: tonic::Code) {
        self.with(|r| *r.errors.entry(format!("{rpc}: {code:?}")).or_default() += 1);
    }

    /// The summary of the run: `offered` arrivals per second (None: as fast as it can) over
    /// `window`.
    pub fn summary(&self, offered: Option<f64>, window: Duration) -> Summary {
        self.with(|r| Summary {
            offered_per_second: offered,
            window_seconds: window.as_secs_f64(),
            cases_started: r.started,
            cases_completed: r.completed,
            reports_linked: r.linked,
            arrivals_dropped: r.dropped,
            achieved_per_second: r.completed as f64 / window.as_secs_f64(),
            latency_ms: r.latencies.iter().map(|(name, h)| (name.to_string(), Percentiles::of(h))).collect(),
            p99_report_to_dispatched_ms_per_second: r.timeline.iter().map(|h| ms(h.value_at_quantile(0.99))).collect(),
            errors: r.errors.clone(),
        })
    }
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1)
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1_000.0
}

/// What `gridloop bench --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// `null` for `--rate max`.
    pub offered_per_second: Option<f64>,
    pub window_seconds: f64,
    /// Cases whose report was sent in the window, and those of them driven to the end.
    pub cases_started: u64,
    pub cases_completed: u64,
    /// Reports the server linked to an open case as duplicates (not driven further).
    pub reports_linked: u64,
    /// Open-loop arrivals not started because `--max-in-flight` cases were in flight.
    pub arrivals_dropped: u64,
    pub achieved_per_second: f64,
    /// Per RPC, and `report_to_dispatched`.
    pub latency_ms: BTreeMap<String, Percentiles>,
    /// For the plot: per second of the window, p99 of report → dispatched visible.
    pub p99_report_to_dispatched_ms_per_second: Vec<f64>,
    /// `RPC: code` → count.
    pub errors: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    fn of(histogram: &Histogram<u64>) -> Self {
        let at = |quantile| ms(histogram.value_at_quantile(quantile));
        Self { count: histogram.len(), p50: at(0.5), p95: at(0.95), p99: at(0.99), max: ms(histogram.max()) }
    }
}

impl Summary {
    /// The report as a table, for people.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let offered = self.offered_per_second.map_or("max".to_string(), |rate| format!("{rate:.0}/s"));
        out.push_str(&format!(
            "offered {offered}, achieved {:.1} cases/s over {:.0} s ({} started, {} completed, {} linked as \
             duplicates, {} arrivals dropped)\n",
            self.achieved_per_second,
            self.window_seconds,
            self.cases_started,
            self.cases_completed,
            self.reports_linked,
            self.arrivals_dropped
        ));
        out.push_str(&format!(
            "{:<22} {:>8} {:>10} {:>10} {:>10} {:>10}\n",
            "latency (ms)", "count", "p50", "p95", "p99", "max"
        ));
        for name in MEASURES {
            if let Some(p) = self.latency_ms.get(name).filter(|p| p.count > 0) {
                out.push_str(&format!(
                    "{name:<22} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>10.1}\n",
                    p.count, p.p50, p.p95, p.p99, p.max
                ));
            }
        }
        if self.errors.is_empty() {
            out.push_str("errors: none\n");
        }
        for (what, count) in &self.errors {
            out.push_str(&format!("error {what}: {count}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_counts_and_ranks_what_was_recorded() {
        let recorder = Recorder::default();
        for ms in [1, 2, 3, 100] {
            recorder.started();
            recorder.latency("ReportCase", Duration::from_millis(ms));
        }
        recorder.dispatched(0, Duration::from_millis(5));
        recorder.dispatched(2, Duration::from_millis(7));
        recorder.completed();
        recorder.error("AcceptCase", tonic::Code::Aborted);
        let summary = recorder.summary(Some(4.0), Duration::from_secs(2));
        assert_eq!((summary.cases_started, summary.cases_completed), (4, 1));
        assert_eq!(summary.achieved_per_second, 0.5);
        let report = summary.latency_ms["ReportCase"];
        assert_eq!(report.count, 4);
        assert!((report.max - 100.0).abs() < 0.1 && report.p50 < 3.1, "{report:?}");
        assert_eq!(summary.latency_ms["report_to_dispatched"].count, 2);
        assert_eq!(summary.p99_report_to_dispatched_ms_per_second.len(), 3);
        assert_eq!(summary.errors["AcceptCase: Aborted"], 1);
        let table = summary.table();
        assert!(table.contains("offered 4/s, achieved 0.5 cases/s"), "{table}");
        assert!(table.contains("error AcceptCase: Aborted: 1"), "{table}");
    }
}
