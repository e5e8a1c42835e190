//! `gridloop bench`: a load generator for a running deployment, one address (`gridloop up`) or
//! the four services' (`--intake`, `--dispatch`, …, as every client command takes them).
//!
//! Cases arrive open-loop at `--rate N` per second (each arrival starts a case whether or not
//! earlier ones are done, as residents do), or with `--rate max` as fast as `--concurrency`
//! cases in flight allow. Each case is driven report → dispatched visible → accept → resolve
//! (→ verify where its category asks for it) → evaluate, in the server's real grids (interior
//! points from `GetJurisdiction`) and categories that start at grid level (`GetCatalog`).
//! "Dispatched visible" is observed by polling `GetCase` (from 1 ms, backing off to 20 ms) until
//! the case shows as dispatched: the first moment a client can act on it. The `--warmup` runs
//! the same load unrecorded; only cases reported during `--duration` count. Prints offered
//! against achieved throughput, latency percentiles per RPC and for report → dispatched
//! (HdrHistogram), errors by gRPC code, as a table or `--json`, and writes the p99 of report →
//! dispatched per second as an SVG plot (`--plot`). It authenticates as every client command does
//! (`--token`, or a token minted with the local installation's key); evaluations go as a hotline's
//! callback (`--callback-token`).
//!
//! Duplicate detection links reports of one category near an open case; a load test of the
//! loop wants it off on the server (`--duplicate-radius-m 0`), and the bench counts any report
//! linked nonetheless.

mod drive;
mod plot;
pub mod stats;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::rpc::Server;
use crate::client::Global;
use drive::{drive, Target};
use gridloop_domain::access::Role;
use stats::{Recorder, Summary};

/// The hotline principal a locally minted callback token stands for.
const BENCH_CALLBACK: &str = "bench-12345";
/// How long the bench waits, after the window, for the cases still in flight.
const DRAIN: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub global: Global,
    /// The token evaluations are sent with: a hotline or platform principal recording the
    /// reporter's answer (回访), since the staff who resolve cases may not. Default: one minted
    /// with the local installation's key, as the other calls' admin token is.
    #[arg(long, env = "GRIDLOOP_CALLBACK_TOKEN", hide_env_values = true)]
    pub callback_token: Option<String>,
    /// Case arrivals per second (open loop), or `max`: as fast as --concurrency cases in flight allow.
    #[arg(long, default_value = "100")]
    pub rate: Rate,
    /// With --rate max: cases in flight at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// The measured window, e.g. 60s or 2m.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// The same load before the window, unrecorded, e.g. 5s.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Where to write the latency-over-time plot (SVG).
    #[arg(long, default_value = "gridloop-bench.svg")]
    pub plot: PathBuf,
    /// Open-loop arrivals find at most this many cases in flight; beyond, they are dropped (and
    /// counted): a server that falls that far behind has been measured enough.
    #[arg(long, default_value_t = 20_000)]
    pub max_in_flight: usize,
}

/// `--rate`: arrivals per second, or as fast as possible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    PerSecond(f64),
    Max,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "max" {
            return Ok(Rate::Max);
        }
        match text.parse::<f64>() {
            Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(Rate::PerSecond(rate)),
            _ => Err(format!("{text:?} is neither a positive number of cases per second nor \"max\"")),
        }
    }
}

/// `500ms`, `30s`, `2m`, or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.find(|c: char| c.is_ascii_alphabetic()).map_or((text, "s"), |at| text.split_at(at));
    let value: f64 = number.trim().parse().map_err(|_| format!("{text:?} is not a duration like 500ms, 30s or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1_000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: the unit must be ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is not a duration"))
}

/// Runs the bench and prints its report; the plot goes to `--plot`.
pub async fn run(args: BenchArgs) -> Result<()> {
    let summary = measure(&args).await?;
    std::fs::write(&args.plot, plot::svg(&summary.p99_report_to_dispatched_ms_per_second, "gridloop bench")?)
        .with_context(|| format!("writing the plot to {}", args.plot.display()))?;
    if args.global.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.table());
        println!("plot: {}", args.plot.display());
    }
    Ok(())
}

/// Drives the load and returns what it measured.
pub async fn measure(args: &BenchArgs) -> Result<Summary> {
    let server = Server::connect(&args.global.addresses()).await?;
    let mut callback = args.global.addresses();
    callback.credentials.local = (BENCH_CALLBACK, Role::Hotline);
    if let Some(token) = &args.callback_token {
        callback.credentials.token = Some(token.clone());
    }
    let callback = Server::connect(&callback).await?;
    let target = Arc::new(Target::discover(server, callback).await?);
    let recorder = Arc::new(Recorder::default());
    let start = Instant::now();
    let window = Window { start: start + args.warmup, end: start + args.warmup + args.duration };
    let mut cases = match args.rate {
        Rate::PerSecond(rate) => open_loop(&target, &recorder, window, rate, args.max_in_flight).await,
        Rate::Max => closed_loop(&target, &recorder, window, args.concurrency),
    };
    let drained =
        tokio::time::timeout_at(Instant::now() + DRAIN, async { while cases.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        cases.abort_all();
        return Err(anyhow!("{} cases were still in flight {} s after the window", cases.len(), DRAIN.as_secs()));
    }
    let offered = match args.rate {
        Rate::PerSecond(rate) => Some(rate),
        Rate::Max => None,
    };
    Ok(recorder.summary(offered, args.duration))
}

/// The measured part of the run.
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    /// Whether a case reported at `at` is measured, and in which second of the window.
    fn place(&self, at: Instant) -> (bool, usize) {
        let measured = at >= self.start && at < self.end;
        (measured, at.saturating_duration_since(self.start).as_secs() as usize)
    }
}

/// Starts a case every `1 / rate` s until the window ends, whatever is still in flight.
async fn open_loop(
    target: &Arc<Target>,
    recorder: &Arc<Recorder>,
    window: Window,
    rate: f64,
    max_in_flight: usize,
) -> JoinSet<()> {
    let mut cases = JoinSet::new();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let first = Instant::now();
    for n in 0_u64.. {
        let at = first + interval.mul_f64(n as f64);
        if at >= window.end {
            break;
        }
        tokio::time::sleep_until(at).await;
        while cases.try_join_next().is_some() {}
        let (measured, second) = window.place(at);
        if cases.len() >= max_in_flight {
            if measured {
                recorder.dropped();
            }
            continue;
        }
        cases.spawn(drive(Arc::clone(target), Arc::clone(recorder), n, measured, second));
    }
    cases
}

/// `concurrency` drivers, each starting its next case as soon as the last is done.
fn closed_loop(target: &Arc<Target>, recorder: &Arc<Recorder>, window: Window, concurrency: usize) -> JoinSet<()> {
    let mut drivers = JoinSet::new();
    let next = Arc::new(AtomicU64::new(0));
    for _ in 0..concurrency {
        let (target, recorder, next) = (Arc::clone(target), Arc::clone(recorder), Arc::clone(&next));
        drivers.spawn(async move {
            loop {
                let at = Instant::now();
                if at >= window.end {
                    return;
                }
                let (measured, second) = window.place(at);
                let n = next.fetch_add(1, Ordering::Relaxed);
                drive(Arc::clone(&target), Arc::clone(&recorder), n, measured, second).await;
            }
        });
    }
    drivers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_durations_parse_or_say_why_not() {
        assert_eq!("max".parse::<Rate>(), Ok(Rate::Max));
        assert_eq!("1000".parse::<Rate>(), Ok(Rate::PerSecond(1000.0)));
        assert!("0".parse::<Rate>().unwrap_err().contains("positive"));
        assert!("fast".parse::<Rate>().is_err());
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("5h").unwrap_err().contains("unit"));
        assert!(parse_duration("soon").is_err());
    }
}
