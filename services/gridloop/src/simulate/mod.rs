//! `gridloop simulate`: a synthetic city driven through the real services in one process, on a
//! virtual clock.
//!
//! The simulator starts the one-process app (`App`) on a [`ManualClock`] and calls its gRPC API
//! in process, through the same edge (authentication, authorization, limits) as any client and
//! without a socket (see `InProcessChannel`): residents and grid workers report cases (`ReportCase`), units accept,
//! resolve and escalate them (`AcceptCase`, `ResolveCase`, `EscalateCase`), reporters answer
//! (`EvaluateCase`), and the services' own timers escalate missed deadlines and apply default
//! evaluations. At the end it reads the 4321 distribution from the monitor
//! (`GetLevelDistribution`).
//!
//! **Time.** The clock moves in steps (`--step`, 10 virtual minutes). At each step the clock is
//! set, the timers due by then fire, the agents' actions due then run concurrently, and the
//! simulator waits until every effect has gone through all services before the clock moves again
//! (see [`observer`]). Steps where nothing is due are skipped.
//!
//! **Determinism.** Every random decision is drawn from the seed and what is being decided (the
//! case's arrival index, the episode, the purpose), fixed when a case reaches a level, and every
//! event of a step happens at the step's virtual time. A case's timers and its agent actions are
//! never due in the same step (the timer wins: an action due when the deadline has passed is too
//! late). So the simulation figures are a pure function of seed and flags; only the wall-clock
//! figures differ between runs.

mod args;
mod calls;
mod cases;
pub mod model;
pub mod observer;
pub mod report;
mod step;

pub use args::SimulateArgs;

use crate::app::{App, UpArgs};
use anyhow::{bail, Context, Result};
use calls::{City, Clients};
use cases::Simulation;
use chrono::Duration;
use gridloop_bus::{ManualClock, Subscription};
use gridloop_proto::v1 as pb;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use model::{Arrivals, Grid, Params};
use observer::{Observer, ObserverHandler};
use report::{Monitor, Performance, Setup};
use serde_json::Value;
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::Arc;
use step::Services;

/// The result of a run: the simulation figures and the wall-clock figures, apart.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub simulation: Value,
    pub performance: Value,
}

impl Outcome {
    pub fn json(&self) -> Value {
        serde_json::json!({"simulation": self.simulation, "performance": self.performance})
    }

    pub fn text(&self) -> String {
        report::text(&self.simulation, &self.performance)
    }
}

/// `gridloop simulate`: run and print.
pub async fn run(args: SimulateArgs) -> Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=warn")),
        )
        .try_init();
    let progress = !args.json && std::io::stderr().is_terminal();
    let outcome = simulate(&args, progress).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome.json())?);
    } else {
        print!("{}", outcome.text());
    }
    Ok(())
}

/// Run one simulation. `progress` shows a progress bar on stderr.
pub async fn simulate(args: &SimulateArgs, progress: bool) -> Result<Outcome> {
    let temp;
    let data_dir = match &args.data_dir {
        Some(dir) => {
            if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
                bail!("--data-dir {} is not empty: a simulation needs a fresh city", dir.display());
            }
            dir.clone()
        }
        None => {
            // In memory where the system has a tmpfs: the city is thrown away at the end, so the
            // stores' fsyncs buy nothing (on this project's VMs they cost ~3× the run time).
            let builder = || tempfile::Builder::new().prefix("gridloop-simulate-").clone();
            let shm = std::path::Path::new("/dev/shm");
            temp = match shm.is_dir().then(|| builder().tempdir_in(shm)) {
                Some(Ok(dir)) => dir,
                _ => builder().tempdir().context("cannot create a temporary data directory")?,
            };
            temp.path().to_path_buf()
        }
    };
    let storage = data_dir.display().to_string();
    let wall = std::time::Instant::now();
    let clock = ManualClock::new(args.start);
    let mut up = UpArgs::embedded(&data_dir, "127.0.0.1:0".parse().expect("a socket address"));
    up.policy = args.policy.clone();
    up.duplicate_radius_m = args.duplicate_radius_m;
    // A what-if run is started again rather than recovered (a fresh city every time), so its
    // commits need not survive a machine crash: no syncs, journals in memory (see `Durability`).
    up.durability = gridloop_eventstore::Durability::Relaxed;
    // The simulator's own server on loopback, driven by one principal: no per-principal throttle.
    up.security.limits = gridloop_auth::LimitArgs::unthrottled();
    let app = App::start(&up, Arc::new(clock.clone())).await?;
    let observer = Arc::new(Observer::default());
    app.bus.subscribe(Subscription {
        consumer: "simulate.observer".into(),
        sources: crate::app::ServiceName::ALL.iter().map(|s| s.as_str().to_string()).collect(),
        event_types: vec![],
        handler: Arc::new(ObserverHandler(observer.clone())),
    })?;
    let result = drive(args, &app, &clock, &observer, progress, wall, storage).await;
    app.shutdown().await?;
    result
}

async fn drive(
    args: &SimulateArgs,
    app: &App,
    clock: &ManualClock,
    observer: &Observer,
    progress: bool,
    wall: std::time::Instant,
    storage: String,
) -> Result<Outcome> {
    let params = args.params();
    let mut lanes = Vec::new();
    for _ in 0..args.concurrency {
        lanes.push(Clients::connect(app)?);
    }
    let mut clients = lanes[0].clone();
    let city = calls::load_city(&mut clients).await?;

    let start = args.start;
    let arrivals_end = start + Duration::days(i64::from(args.days));
    let end = arrivals_end + Duration::days(i64::from(args.drain_days));
    let grid = Grid { start, step: params.step };
    let mut arrivals =
        Arrivals::new(args.seed, start, args.cases_per_day, &city.weights, city.grids.clone()).peekable();
    let setup = setup(args, &params, &city);
    let bar = progress_bar(progress, (end - start).num_seconds().max(1) as u64);
    let mut sim = Simulation::new(args.seed, args.duplicate_radius_m, params, grid);
    let services = Services { lanes: &lanes, city: &city, observer, seed: args.seed };
    let mut perf = Performance { storage, ..Performance::default() };
    let mut now = start;
    let mut first = true;

    loop {
        let next_arrival = arrivals.peek().filter(|a| a.at < arrivals_end).map(|a| a.at);
        let next = if first { Some(grid.ceil(next_arrival.unwrap_or(start))) } else { sim.next_due(now, next_arrival) };
        first = false;
        let Some(next) = next.filter(|t| *t <= end) else { break };
        now = next;
        clock.set(now);
        perf.steps += 1;

        // Reports of this step, in arrival order.
        let mut pending: VecDeque<usize> = VecDeque::new();
        while let Some(arrival) = arrivals.next_if(|a| a.at < arrivals_end && grid.ceil(a.at) <= now) {
            pending.push_back(sim.arrive(&arrival, now));
        }
        perf.commands += sim.step(&services, pending, now).await?;

        bar.set_position((now - start).num_seconds().max(0) as u64);
        bar.set_message(format!(
            "{:.1}/{} · {} cases · {} open",
            (now - start).num_seconds() as f64 / 86_400.0,
            args.days + args.drain_days,
            sim.stats.reported,
            sim.active.len()
        ));
    }
    bar.finish_and_clear();

    let monitor = read_monitor(&mut clients).await?;
    perf.elapsed = wall.elapsed();
    perf.events = observer.events_seen();
    perf.reported = sim.stats.reported;
    Ok(Outcome {
        simulation: report::simulation_json(&setup, &sim.stats, &monitor, &sim.open()),
        performance: report::performance_json(&perf),
    })
}

/// What the run is set up with, and what the model aims at: the catalog's entry mix under the
/// category weights.
fn setup(args: &SimulateArgs, params: &Params, city: &City) -> Setup {
    let mut entry_mix = [0.0; 4];
    let total_weight: f64 = city.weights.iter().sum();
    for (category, weight) in city.categories.iter().zip(&city.weights) {
        entry_mix[observer::level(category.start_level) as usize] += weight / total_weight;
    }
    Setup {
        seed: args.seed,
        zone: args.policy.time_zone,
        days: args.days,
        drain_days: args.drain_days,
        cases_per_day: args.cases_per_day,
        start: args.start,
        expected: params.expected_distribution(entry_mix),
        expected_entry: entry_mix,
        params: params.clone(),
        grids: city.grids.len(),
        categories: city.categories.len(),
    }
}

/// A progress bar over `len` virtual seconds on stderr, or a hidden one.
fn progress_bar(progress: bool, len: u64) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} day {msg} [{wide_bar}] {percent:>3}% {elapsed}")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    bar
}

/// The 4321 monitor's figures at the end of the run.
async fn read_monitor(clients: &mut Clients) -> Result<Monitor> {
    let distribution = clients
        .evaluation
        .get_level_distribution(pb::GetLevelDistributionRequest::default())
        .await
        .context("GetLevelDistribution")?
        .into_inner();
    let mut monitor = Monitor { closed_total: distribution.closed_total, counts: [0; 4] };
    for share in &distribution.levels {
        monitor.counts[observer::level(share.level) as usize] = share.count;
    }
    Ok(monitor)
}
