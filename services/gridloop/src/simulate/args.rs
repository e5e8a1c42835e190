//! The flags of `gridloop simulate`: the city's size and pace, the agents' behaviour, and how the
//! run is carried out. Every flag is checked on the way in (probabilities in 0..=1, positive
//! spans and rates).

use super::model::{self, Params};
use chrono::{DateTime, Duration, Utc};
use std::path::PathBuf;

/// Drive a synthetic city through the real services on a virtual clock.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "gridloop simulate")]
pub struct SimulateArgs {
    /// Virtual days of arrivals.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// Seed of every random decision: the same seed and flags give the same simulation figures.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// City-wide arrival rate (a Poisson process).
    #[arg(long, default_value = "400", value_parser = positive)]
    pub cases_per_day: f64,
    /// Virtual time between clock steps (units s, m, h, d); every action happens on a step.
    #[arg(long, default_value = "10m", value_parser = span)]
    pub step: Duration,
    /// Extra virtual days after the last arrival, so open cases can finish.
    #[arg(long, default_value_t = 0)]
    pub drain_days: u32,
    /// Virtual start time (the default is a Monday, 09:00 Beijing time).
    #[arg(long, default_value = "2026-03-02T09:00:00+08:00", value_parser = instant)]
    pub start: DateTime<Utc>,

    /// Probability that the grid accepts and resolves a case that reaches it.
    #[arg(long, default_value = "0.51", value_parser = probability)]
    pub grid_resolve_prob: f64,
    /// Probability that the community resolves a case that reaches it.
    #[arg(long, default_value = "0.57", value_parser = probability)]
    pub community_resolve_prob: f64,
    /// Probability that the street resolves a case that reaches it (the district always does).
    #[arg(long, default_value = "0.70", value_parser = probability)]
    pub street_resolve_prob: f64,
    /// Of the cases a level does not resolve, the share it asks to escalate (提请); it leaves the
    /// others until the deadline escalates them.
    #[arg(long, default_value = "0.75", value_parser = probability)]
    pub request_share: f64,
    /// Mean handling time at the grid (exponentially distributed).
    #[arg(long, default_value = "4h", value_parser = span)]
    pub grid_handling: Duration,
    /// Mean handling time at the community.
    #[arg(long, default_value = "8h", value_parser = span)]
    pub community_handling: Duration,
    /// Mean handling time at the street.
    #[arg(long, default_value = "1d", value_parser = span)]
    pub street_handling: Duration,
    /// Mean handling time at the district.
    #[arg(long, default_value = "2d", value_parser = span)]
    pub district_handling: Duration,
    /// Multiplies every handling time: slower units miss more deadlines and the system escalates
    /// those cases (the same as tightening every SLA by this factor).
    #[arg(long, default_value = "1", value_parser = positive)]
    pub handling_scale: f64,
    /// Reporters who never answer (the default evaluation applies at the feedback deadline).
    #[arg(long, default_value = "0.15", value_parser = probability)]
    pub no_answer: f64,
    /// Of the answers, the share unsatisfied (the case reopens with the unit that resolved it).
    #[arg(long, default_value = "0.05", value_parser = probability)]
    pub unsatisfied: f64,
    /// Of the answers, the share basically satisfied (the rest are satisfied).
    #[arg(long, default_value = "0.15", value_parser = probability)]
    pub basically_satisfied: f64,
    /// Mean time a reporter takes to answer.
    #[arg(long, default_value = "6h", value_parser = span)]
    pub answer_delay: Duration,
    /// Mean time the grid worker takes to verify on site (核查) a case resolved above the grid
    /// whose category requires it.
    #[arg(long, default_value = "2h", value_parser = span)]
    pub verify_delay: Duration,
    /// Share of on-site verifications that fail (the resolving unit reworks the case).
    #[arg(long, default_value = "0.05", value_parser = probability)]
    pub verify_fail: f64,

    /// Duplicate detection's radius in metres, as `gridloop up --duplicate-radius-m` (0 turns it
    /// off): a report of the same category this close to an open case is linked to it.
    #[arg(long, default_value_t = gridloop_domain::duplicates::DuplicatePolicy::DEFAULT_RADIUS_M, value_parser = non_negative)]
    pub duplicate_radius_m: f64,
    /// Lanes of gRPC calls, each carrying one call at a time: the calls in flight within a step.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// Simulate this city instead of the shipped default: its jurisdiction, responsibility list
    /// (SLAs) and holidays, as `gridloop up` takes them.
    #[command(flatten)]
    pub policy: crate::app::PolicyFiles,
    /// Keep the services' data here (must be empty or absent). Default: a temporary directory,
    /// in memory (/dev/shm) where there is one, deleted at the end.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print one JSON document: {"simulation": …, "performance": …}.
    #[arg(long)]
    pub json: bool,
}

impl SimulateArgs {
    pub fn params(&self) -> Params {
        Params {
            resolve_prob: [self.grid_resolve_prob, self.community_resolve_prob, self.street_resolve_prob],
            handling_mean: [self.grid_handling, self.community_handling, self.street_handling, self.district_handling],
            handling_scale: self.handling_scale,
            request_share: self.request_share,
            no_answer: self.no_answer,
            unsatisfied: self.unsatisfied,
            basically_satisfied: self.basically_satisfied,
            answer_delay_mean: self.answer_delay,
            verify_delay_mean: self.verify_delay,
            verify_fail: self.verify_fail,
            step: self.step,
        }
    }
}

fn probability(text: &str) -> Result<f64, String> {
    let p: f64 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability (0 to 1)"))
    }
}

fn positive(text: &str) -> Result<f64, String> {
    let x: f64 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if x > 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{x} must be positive"))
    }
}

fn non_negative(text: &str) -> Result<f64, String> {
    let x: f64 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if x >= 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{x} must be 0 or more"))
    }
}

fn span(text: &str) -> Result<Duration, String> {
    let d = model::parse_span(text)?;
    if d <= Duration::zero() {
        return Err(format!("{text:?} must be longer than zero"));
    }
    Ok(d)
}

fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time such as 2026-03-02T09:00:00+08:00: {e}"))
}
