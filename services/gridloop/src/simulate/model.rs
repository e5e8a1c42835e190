//! The agent model of `gridloop simulate`, without IO: the seeded random draws, what a unit does
//! with a case that reaches it, and what a reporter answers.
//!
//! Every draw comes from a generator seeded by the simulation seed and *what* is being decided
//! (the case's arrival index, its episode number, the purpose of the draw), never from a case id,
//! the wall clock or the order in which asynchronous events happen to arrive. So a decision is
//! fixed the moment a case reaches a level, and a run is a pure function of its seed and flags.

use chrono::Duration;
use gridloop_domain::level::Level;
use gridloop_domain::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The parameters of the agent model (all from flags).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Probability that a level accepts and resolves a case that reaches it (district: always).
    pub resolve_prob: [f64; 3],
    /// Mean handling time per level, before `handling_scale`.
    pub handling_mean: [Duration; 4],
    /// Multiplies every handling time: above 1 units are slower and miss more deadlines.
    pub handling_scale: f64,
    /// Of the cases a level does not resolve, the share it escalates on request (提请); the rest
    /// it leaves until the deadline escalates them.
    pub request_share: f64,
    /// Reporters who never answer (the default evaluation applies).
    pub no_answer: f64,
    /// Of the answers: unsatisfied (reopens) and basically satisfied; the rest are satisfied.
    pub unsatisfied: f64,
    pub basically_satisfied: f64,
    /// Mean time a reporter takes to answer.
    pub answer_delay_mean: Duration,
    /// Mean time the grid worker takes to verify a resolution on site (核查).
    pub verify_delay_mean: Duration,
    /// Share of verifications that find the resolution does not hold (rework).
    pub verify_fail: f64,
    /// The virtual clock's step: every action happens on a step boundary.
    pub step: Duration,
}

/// What a unit does when a case reaches it (one *episode*: a dispatch, an escalation or a
/// reopening). Times are absolute and on the step grid.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Accept at `accept_at` (if the case is still only dispatched), resolve at `resolve_at`.
    Resolve { accept_at: Option<Timestamp>, resolve_at: Timestamp },
    /// Accept, then ask for escalation (提请) with `note` at `escalate_at`.
    Request { accept_at: Timestamp, escalate_at: Timestamp, note: &'static str },
    /// Do nothing: the accept deadline passes and the system escalates the case.
    Ignore,
}

/// What the reporter does with a resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Satisfied,
    BasicallySatisfied,
    Unsatisfied,
}

impl Answer {
    pub fn name(self) -> &'static str {
        match self {
            Answer::Satisfied => "satisfied",
            Answer::BasicallySatisfied => "basically_satisfied",
            Answer::Unsatisfied => "unsatisfied",
        }
    }
}

/// Reasons a level gives when it asks the level above to take a case (三提).
pub fn request_notes(level: Level) -> &'static [&'static str] {
    match level {
        Level::Grid => &["超出网格处置能力,提请社区两委", "需社区议事会协商,提请社区"],
        Level::Community => &["社区议事会协商未果,提请街道议事站", "需执法力量,提请街道"],
        Level::Street => &["需区级部门联动,提请区领导会办"],
        Level::District => &[],
    }
}

/// Purposes of a draw, so two decisions about the same case never share random numbers.
#[derive(Clone, Copy)]
#[repr(u64)]
enum Purpose {
    Arrivals = 1,
    Episode = 2,
    Feedback = 3,
    Verification = 4,
}

/// SplitMix64: a well-mixed 64-bit hash step, to turn (seed, index, purpose…) into a seed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn rng_for(seed: u64, parts: &[u64]) -> ChaCha8Rng {
    let key = parts.iter().fold(mix(seed), |acc, part| mix(acc ^ mix(*part)));
    ChaCha8Rng::seed_from_u64(key)
}

/// An exponentially distributed duration with the given mean (inverse transform).
pub fn exponential(rng: &mut impl Rng, mean: Duration) -> Duration {
    let u: f64 = rng.gen(); // [0, 1)
    let ms = -(1.0 - u).ln() * mean.num_milliseconds() as f64;
    Duration::milliseconds(ms.round().min(i64::MAX as f64 / 2.0) as i64)
}

/// The virtual-time grid: `start + k × step`. Actions happen on it; anything due between two
/// points happens at the next one.
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub start: Timestamp,
    pub step: Duration,
}

impl Grid {
    /// The first grid point at or after `t`.
    pub fn ceil(&self, t: Timestamp) -> Timestamp {
        let step = self.step.num_milliseconds().max(1);
        let offset = (t - self.start).num_milliseconds();
        if offset <= 0 {
            return self.start;
        }
        let steps = (offset + step - 1) / step;
        self.start + Duration::milliseconds(steps * step)
    }

    /// The first grid point at or after `t + delay`, and never before the next step after `t`
    /// (nothing happens twice in one step).
    pub fn after(&self, t: Timestamp, delay: Duration) -> Timestamp {
        self.ceil(t + delay).max(t + self.step)
    }
}

/// A grid as the simulator places reports in it: its boundary and a point known to be inside.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// (lat, lon) of the interior point.
    pub interior: (f64, f64),
    /// (lat, lon) vertices of the boundary polygon (may be empty).
    pub boundary: Vec<(f64, f64)>,
}

impl Area {
    /// Whether (`lat`, `lon`) lies inside the boundary (even-odd rule).
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        let b = &self.boundary;
        let mut inside = false;
        for i in 0..b.len() {
            let (y1, x1) = b[i];
            let (y2, x2) = b[(i + 1) % b.len()];
            if (y1 > lat) != (y2 > lat) && lon < x1 + (lat - y1) / (y2 - y1) * (x2 - x1) {
                inside = !inside;
            }
        }
        inside
    }

    /// A uniformly random point inside the boundary (rejection sampling in its bounding box), or
    /// the interior point when the boundary is missing or too thin to hit.
    pub fn sample(&self, rng: &mut impl Rng) -> (f64, f64) {
        if self.boundary.len() >= 3 {
            let (mut min_lat, mut max_lat, mut min_lon, mut max_lon) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for &(lat, lon) in &self.boundary {
                min_lat = min_lat.min(lat);
                max_lat = max_lat.max(lat);
                min_lon = min_lon.min(lon);
                max_lon = max_lon.max(lon);
            }
            for _ in 0..64 {
                let lat = min_lat + rng.gen::<f64>() * (max_lat - min_lat);
                let lon = min_lon + rng.gen::<f64>() * (max_lon - min_lon);
                if self.contains(lat, lon) {
                    return (lat, lon);
                }
            }
        }
        self.interior
    }
}

/// Great-circle distance in metres (haversine), for the simulator's duplicate-conflict check.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (phi1, phi2) = (a.0.to_radians(), b.0.to_radians());
    let d_phi = (b.0 - a.0).to_radians();
    let d_lambda = (b.1 - a.1).to_radians();
    let h = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().min(1.0).asin()
}

/// One report of the arrival stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    pub index: u64,
    /// When it happens (continuous time; reported at the next step).
    pub at: Timestamp,
    /// Index into the weighted category table.
    pub category: usize,
    /// Index into the grid list.
    pub grid: usize,
    /// (lat, lon): a uniformly random point of the grid.
    pub location: (f64, f64),
    /// A grid worker on patrol (巡查) rather than a resident.
    pub patrol: bool,
}

/// The Poisson arrival process: exponential gaps at `per_day` cases a day, categories drawn from
/// `weights`, locations uniformly over the grids and uniformly inside each.
pub struct Arrivals {
    rng: ChaCha8Rng,
    next_index: u64,
    now: Timestamp,
    mean_gap: Duration,
    cumulative: Vec<f64>,
    areas: Vec<Area>,
}

impl Arrivals {
    pub fn new(seed: u64, start: Timestamp, per_day: f64, weights: &[f64], areas: Vec<Area>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        let mean_gap = Duration::milliseconds((86_400_000.0 / per_day.max(1e-9)).round() as i64);
        Self { rng: rng_for(seed, &[Purpose::Arrivals as u64]), next_index: 0, now: start, mean_gap, cumulative, areas }
    }
}

impl Iterator for Arrivals {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        self.now += exponential(&mut self.rng, self.mean_gap);
        let total = *self.cumulative.last()?;
        let pick = self.rng.gen::<f64>() * total;
        let category = self.cumulative.iter().position(|c| pick < *c).unwrap_or(self.cumulative.len() - 1);
        let grid = self.rng.gen_range(0..self.areas.len().max(1));
        let location = self.areas.get(grid)?.sample(&mut self.rng);
        let patrol = self.rng.gen_bool(0.3);
        let index = self.next_index;
        self.next_index += 1;
        Some(Arrival { index, at: self.now, category, grid, location, patrol })
    }
}

/// Relative frequency of each category of the shipped catalog: everyday city-management matters
/// are common, projects and emergencies rare. A category not listed (a changed catalog) weighs 1.
pub const CATEGORY_WEIGHTS: [(&str, f64); 27] = [
    ("ad.illegal-posting", 8.0),
    ("ad.outdoor-sign", 2.0),
    ("construction.illegal-building", 2.0),
    ("construction.noise", 4.0),
    ("construction.unpermitted", 2.0),
    ("dispute.neighbour-noise", 4.0),
    ("dispute.pet-nuisance", 3.0),
    ("dispute.public-space", 4.0),
    ("dispute.water-leak", 3.0),
    ("emergency.fire-hazard", 1.0),
    ("emergency.pipe-burst", 1.0),
    ("emergency.road-collapse", 0.5),
    ("env.debris", 8.0),
    ("env.garbage", 12.0),
    ("env.greenbelt", 3.0),
    ("env.sewage", 4.0),
    ("facility.elevator", 1.0),
    ("facility.ev-charging", 2.0),
    ("facility.road-damage", 3.0),
    ("facility.roof-leak", 3.0),
    ("order.fire-lane", 5.0),
    ("order.out-of-store", 6.0),
    ("order.street-vendor", 6.0),
    ("property.fee-dispute", 2.0),
    ("property.service-quality", 4.0),
    ("service.elderly", 3.0),
    ("service.hardship", 2.0),
];

pub fn category_weight(code: &str) -> f64 {
    CATEGORY_WEIGHTS.iter().find(|(c, _)| *c == code).map_or(1.0, |(_, w)| *w)
}

impl Params {
    fn handling(&self, level: Level) -> Duration {
        let mean = self.handling_mean[level as usize].num_milliseconds() as f64 * self.handling_scale;
        Duration::milliseconds(mean.round() as i64)
    }

    /// What the unit at `level` does with case `index` in its `episode`-th episode (0 = the
    /// dispatch, then one per escalation or reopening), which began at `now` (a grid point).
    /// `accept_by` is the accept deadline of a dispatched case; `None` for a reopened case, which
    /// is back with its unit already accepted.
    pub fn episode(
        &self,
        seed: u64,
        index: u64,
        episode: u32,
        level: Level,
        accept_by: Option<Timestamp>,
        now: Timestamp,
    ) -> Plan {
        let grid = Grid { start: now, step: self.step };
        let mut rng = rng_for(seed, &[Purpose::Episode as u64, index, u64::from(episode), level as u64]);
        let resolves = match level {
            Level::District => {
                let _: f64 = rng.gen(); // same number of draws at every level
                true
            }
            _ => rng.gen::<f64>() < self.resolve_prob[level as usize],
        };
        let requests = rng.gen::<f64>() < self.request_share;
        let handling = exponential(&mut rng, self.handling(level));
        let Some(accept_by) = accept_by else {
            // A reopened case: 不满意再搭台协商, the unit works on it again.
            return Plan::Resolve { accept_at: None, resolve_at: grid.after(now, handling) };
        };
        // Units that engage accept at the next step (网格接单), or at once when the accept
        // deadline comes sooner (emergencies: minutes).
        let next = grid.after(now, Duration::zero());
        let accept_at = if next < accept_by { next } else { now };
        if resolves {
            Plan::Resolve { accept_at: Some(accept_at), resolve_at: grid.after(accept_at, handling) }
        } else if requests && level != Level::District {
            let notes = request_notes(level);
            let note = notes[rng.gen_range(0..notes.len())];
            // Finding out that it cannot settle the case takes about half the handling time.
            let escalate_at = grid.after(accept_at, handling / 2);
            Plan::Request { accept_at, escalate_at, note }
        } else {
            Plan::Ignore
        }
    }

    /// The reporter's answer to the `round`-th resolution of case `index`, resolved at `now`:
    /// `None` when they do not answer before `due_at` (the default evaluation applies).
    /// The grid worker's on-site check of the `round`-th resolution awaiting one: when (on the
    /// step grid, after `now`), and whether it passes.
    pub fn verification(&self, seed: u64, index: u64, round: u32, now: Timestamp) -> (Timestamp, bool) {
        let grid = Grid { start: now, step: self.step };
        let mut rng = rng_for(seed, &[Purpose::Verification as u64, index, u64::from(round)]);
        let at = grid.after(now, exponential(&mut rng, self.verify_delay_mean));
        (at, rng.gen::<f64>() >= self.verify_fail)
    }

    pub fn feedback(
        &self,
        seed: u64,
        index: u64,
        round: u32,
        now: Timestamp,
        due_at: Timestamp,
    ) -> Option<(Timestamp, Answer)> {
        let grid = Grid { start: now, step: self.step };
        let mut rng = rng_for(seed, &[Purpose::Feedback as u64, index, u64::from(round)]);
        let silent = rng.gen::<f64>() < self.no_answer;
        let delay = exponential(&mut rng, self.answer_delay_mean);
        let kind: f64 = rng.gen();
        let at = grid.after(now, delay);
        if silent || at >= due_at {
            return None;
        }
        let answer = if kind < self.unsatisfied {
            Answer::Unsatisfied
        } else if kind < self.unsatisfied + self.basically_satisfied {
            Answer::BasicallySatisfied
        } else {
            Answer::Satisfied
        };
        Some((at, answer))
    }

    /// The distribution the model aims at, ignoring deadlines and reopenings: the share of cases
    /// that settle at each level given the share that *enters* at each level.
    pub fn expected_distribution(&self, entry: [f64; 4]) -> [f64; 4] {
        let mut reaching = 0.0;
        let mut settled = [0.0; 4];
        for level in Level::ALL {
            reaching += entry[level as usize];
            let p = match level {
                Level::District => 1.0,
                _ => self.resolve_prob[level as usize],
            };
            settled[level as usize] = reaching * p;
            reaching -= settled[level as usize];
        }
        settled
    }
}

/// Parses a span of virtual time: `90s`, `10m`, `4h`, `2d`, `1d12h` (units s, m, h, d).
pub fn parse_span(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::zero();
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 =
            number.parse().map_err(|_| format!("{text:?}: expected a number before {c:?} (e.g. 10m, 4h, 1d12h)"))?;
        let unit = match c {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86_400.0,
            _ => return Err(format!("{text:?}: unknown unit {c:?} (use s, m, h or d)")),
        };
        total += Duration::milliseconds((value * unit * 1000.0).round() as i64);
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!("{text:?}: missing unit after {number} (use s, m, h or d)"));
    }
    Ok(total)
}

/// A span as `parse_span` reads it: `1d12h`, `10m`, `0s`.
pub fn format_span(span: Duration) -> String {
    let mut seconds = span.num_seconds();
    if seconds == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if seconds >= size {
            out.push_str(&format!("{}{unit}", seconds / size));
            seconds %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn params() -> Params {
        Params {
            resolve_prob: [0.5, 0.55, 0.66],
            handling_mean: [Duration::hours(4), Duration::hours(8), Duration::days(1), Duration::days(2)],
            handling_scale: 1.0,
            request_share: 0.75,
            no_answer: 0.15,
            unsatisfied: 0.05,
            basically_satisfied: 0.15,
            answer_delay_mean: Duration::hours(6),
            verify_delay_mean: Duration::hours(2),
            verify_fail: 0.05,
            step: Duration::minutes(10),
        }
    }

    fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap()
    }

    fn later() -> Timestamp {
        t0() + Duration::hours(2)
    }

    /// A 0.01° square with a notch cut out of its north-east quarter.
    fn square() -> Area {
        Area {
            interior: (32.402, 119.502),
            boundary: vec![
                (32.40, 119.50),
                (32.40, 119.51),
                (32.405, 119.51),
                (32.405, 119.505),
                (32.41, 119.505),
                (32.41, 119.50),
            ],
        }
    }

    #[test]
    fn report_locations_are_uniform_inside_the_grid() {
        let area = square();
        assert!(area.contains(32.402, 119.502));
        assert!(!area.contains(32.408, 119.508), "the notch is outside");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let points: Vec<(f64, f64)> = (0..3000).map(|_| area.sample(&mut rng)).collect();
        assert!(points.iter().all(|p| area.contains(p.0, p.1)));
        let south = points.iter().filter(|p| p.0 < 32.405).count() as f64 / points.len() as f64;
        assert!((south - 2.0 / 3.0).abs() < 0.03, "area-uniform: {south}");
        let empty = Area { interior: (1.0, 2.0), boundary: vec![] };
        assert_eq!(empty.sample(&mut rng), (1.0, 2.0));
        assert!((distance_m((32.40, 119.50), (32.41, 119.50)) - 1112.0).abs() < 2.0);
    }

    #[test]
    fn spans_parse_and_print() {
        assert_eq!(parse_span("10m"), Ok(Duration::minutes(10)));
        assert_eq!(parse_span("1d12h"), Ok(Duration::hours(36)));
        assert_eq!(parse_span("1.5h"), Ok(Duration::minutes(90)));
        assert!(parse_span("10").is_err());
        assert!(parse_span("10w").is_err());
        assert!(parse_span("").is_err());
        assert_eq!(format_span(Duration::hours(36)), "1d12h");
        assert_eq!(format_span(Duration::minutes(10)), "10m");
    }

    #[test]
    fn the_grid_rounds_up_and_always_moves_forward() {
        let grid = Grid { start: t0(), step: Duration::minutes(10) };
        assert_eq!(grid.ceil(t0()), t0());
        assert_eq!(grid.ceil(t0() + Duration::minutes(1)), t0() + Duration::minutes(10));
        assert_eq!(grid.ceil(t0() + Duration::minutes(10)), t0() + Duration::minutes(10));
        assert_eq!(grid.after(t0(), Duration::zero()), t0() + Duration::minutes(10));
        assert_eq!(grid.after(t0(), Duration::minutes(25)), t0() + Duration::minutes(30));
    }

    #[test]
    fn decisions_depend_only_on_seed_and_what_is_decided() {
        let p = params();
        let a = p.episode(7, 42, 0, Level::Grid, Some(later()), t0());
        assert_eq!(a, p.episode(7, 42, 0, Level::Grid, Some(later()), t0()));
        let differs = (0..50).any(|i| {
            p.episode(8, i, 0, Level::Grid, Some(later()), t0()) != p.episode(7, i, 0, Level::Grid, Some(later()), t0())
        });
        assert!(differs, "another seed gives other decisions");
        let arrivals: Vec<Arrival> = Arrivals::new(3, t0(), 400.0, &[1.0, 2.0], vec![square()]).take(100).collect();
        assert_eq!(arrivals, Arrivals::new(3, t0(), 400.0, &[1.0, 2.0], vec![square()]).take(100).collect::<Vec<_>>());
    }

    #[test]
    fn arrivals_are_poisson_at_the_requested_rate() {
        let n = 20_000;
        let last = Arrivals::new(1, t0(), 400.0, &[1.0], vec![square()]).take(n).last().unwrap();
        let days = (last.at - t0()).num_seconds() as f64 / 86_400.0;
        let rate = n as f64 / days;
        assert!((rate - 400.0).abs() < 12.0, "{rate} cases a day");
    }

    #[test]
    fn episode_draws_follow_the_probabilities() {
        let p = params();
        let n = 20_000;
        let mut resolved = 0;
        let mut requested = 0;
        for i in 0..n {
            match p.episode(1, i, 0, Level::Grid, Some(later()), t0()) {
                Plan::Resolve { accept_at, resolve_at } => {
                    resolved += 1;
                    assert!(resolve_at > accept_at.unwrap());
                }
                Plan::Request { accept_at, escalate_at, note } => {
                    requested += 1;
                    assert!(escalate_at > accept_at);
                    assert!(request_notes(Level::Grid).contains(&note));
                }
                Plan::Ignore => {}
            }
        }
        let resolved = resolved as f64 / n as f64;
        let requested = requested as f64 / n as f64;
        assert!((resolved - 0.5).abs() < 0.02, "{resolved}");
        assert!((requested - 0.5 * 0.75).abs() < 0.02, "{requested}");
        assert!(matches!(p.episode(1, 0, 3, Level::District, Some(later()), t0()), Plan::Resolve { .. }));
        // An accept deadline closer than one step: accept in this step.
        let urgent = t0() + Duration::minutes(5);
        match p.episode(1, 0, 3, Level::District, Some(urgent), t0()) {
            Plan::Resolve { accept_at, .. } => assert_eq!(accept_at, Some(t0())),
            other => panic!("{other:?}"),
        }
        match p.episode(1, 0, 3, Level::District, Some(later()), t0()) {
            Plan::Resolve { accept_at, .. } => assert_eq!(accept_at, Some(t0() + Duration::minutes(10))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_expected_distribution_follows_the_entry_mix() {
        let mut p = params();
        p.resolve_prob = [0.5, 0.5, 0.5];
        let d = p.expected_distribution([1.0, 0.0, 0.0, 0.0]);
        assert_eq!(d, [0.5, 0.25, 0.125, 0.125]);
    }

    #[test]
    fn verifications_fail_at_the_requested_share_after_the_step_they_were_asked_in() {
        let p = params();
        let n = 20_000;
        let mut failed = 0;
        for index in 0..n {
            let (at, passed) = p.verification(7, index, 0, t0());
            assert!(at > t0(), "a check happens after the resolution");
            assert_eq!((at - t0()).num_minutes() % 10, 0, "on the step grid");
            failed += u64::from(!passed);
        }
        let share = failed as f64 / n as f64;
        assert!((share - 0.05).abs() < 0.01, "{share}");
        assert_eq!(p.verification(7, 3, 1, t0()), p.verification(7, 3, 1, t0()), "deterministic");
        let rounds: Vec<_> = (0..8).map(|round| p.verification(7, 3, round, t0()).0).collect();
        assert!(rounds.windows(2).any(|w| w[0] != w[1]), "each round draws anew: {rounds:?}");
    }
}
