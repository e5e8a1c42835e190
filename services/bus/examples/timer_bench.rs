//! A million open deadlines through the real timer loop.
//!
//! ```text
//! cargo run --release -p gridloop-bus --example timer_bench -- <url> [timers] [window_secs]
//! ```
//!
//! `url` is `sqlite://path/timers.db` (use a fresh file) or `postgres://...` (the bench works in
//! a schema of its own and drops it at the end). Arms `timers` (default 1,000,000) timers,
//! due uniformly over `window_secs` (default 600) seconds that start once all are armed, with
//! due times in whole milliseconds (so some share an instant, as deadlines on a working day's
//! boundary do). Then [`run_timers`] lets them fall due on a clock that runs with the wall
//! clock from the end of arming; the handler fires each like a service's would: one commit that
//! appends an event and deletes the timer. Prints how late each fired (HdrHistogram), how many
//! more than 1 s late, any timer fired twice or never (checked one by one, and the store must
//! end with no timer), the firing rate and the process's peak RSS.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::DateTime;
use futures::stream::{self, StreamExt, TryStreamExt};
use gridloop_bus::timers::{run_timers, TimerHandler};
use gridloop_bus::{Clock, HandlerError, Timestamp};
use gridloop_eventstore::{
    Actor, Backend, Commit, DueTimer, EventStore, ExpectedVersion, NewEvent, NewTimer, StoreError, StoreOptions,
};
use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Timers per arming commit, and arming commits in flight.
const ARM_BATCH: usize = 1_000;
const ARM_CONCURRENCY: usize = 8;
/// How long after the last due time the bench waits for stragglers.
const GRACE: Duration = Duration::from_secs(60);

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let url =
        args.next().ok_or("usage: timer_bench <sqlite://path/timers.db | postgres://...> [timers] [window_secs]")?;
    let timers: usize = args.next().map_or(Ok(1_000_000), |n| n.parse())?;
    let window = Duration::from_secs(args.next().map_or(Ok(600), |n| n.parse())?);

    let schema = format!("timers_{}", Uuid::now_v7().simple());
    let options = StoreOptions { schema: Some(schema.clone()), ..StoreOptions::default() };
    let store = EventStore::connect(&url, options).await?;
    println!("backend {:?}: {timers} timers due over {} s", store.backend(), window.as_secs());

    // Due times relative to an epoch the clock reaches when arming is done.
    let epoch = DateTime::from_timestamp(1_800_000_000, 0).ok_or("epoch")?;
    let due =
        |n: usize| epoch + chrono::Duration::milliseconds((n as u128 * window.as_millis() / timers as u128) as i64);
    let armed = Instant::now();
    stream::iter((0..timers).step_by(ARM_BATCH))
        .map(|first| {
            let schedule = (first..(first + ARM_BATCH).min(timers))
                .map(|n| NewTimer { key: key(n), due_at: due(n), kind: "deadline".into(), payload: vec![0; 16] })
                .collect();
            store.commit(Commit { schedule, ..Commit::default() })
        })
        .buffer_unordered(ARM_CONCURRENCY)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    let arming = armed.elapsed();
    println!("armed in {:.1} s ({:.0} timers/s)", arming.as_secs_f64(), timers as f64 / arming.as_secs_f64());

    let clock = Arc::new(WallClockFrom { epoch, start: Instant::now() });
    let handler = Arc::new(Firer {
        store: store.clone(),
        clock: Arc::clone(&clock),
        fired: (0..timers).map(|_| AtomicU32::new(0)).collect(),
        total: AtomicU64::new(0),
        gone: AtomicU64::new(0),
        lateness: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3)?),
    });
    let shutdown = CancellationToken::new();
    let timer_handler: Arc<dyn TimerHandler> = handler.clone();
    let clock_handle: Arc<dyn Clock> = clock.clone();
    let timer_loop = tokio::spawn(run_timers(store.clone(), clock_handle, timer_handler, shutdown.clone()));

    let give_up = Instant::now() + window + GRACE;
    while handler.total.load(Ordering::Relaxed) < timers as u64 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let firing = clock.start.elapsed();
    shutdown.cancel();
    timer_loop.await?;

    let twice = handler.fired.iter().filter(|count| count.load(Ordering::Relaxed) > 1).count();
    let never = handler.fired.iter().filter(|count| count.load(Ordering::Relaxed) == 0).count();
    let (left, _) = store.due_timers_and_next(epoch + chrono::Duration::days(3650), 10).await?;
    let lateness = handler.lateness.lock().map_err(|_| "poisoned")?.clone();
    let late = lateness.count_between(1_000_001, u64::MAX);
    let ms = |quantile: f64| lateness.value_at_quantile(quantile) as f64 / 1_000.0;
    println!(
        "fired {} in {:.1} s ({:.0}/s); late by p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms",
        handler.total.load(Ordering::Relaxed),
        firing.as_secs_f64(),
        handler.total.load(Ordering::Relaxed) as f64 / firing.as_secs_f64(),
        ms(0.5),
        ms(0.99),
        ms(0.999),
        lateness.max() as f64 / 1_000.0,
    );
    println!(
        "more than 1 s late: {late}; fired twice: {twice}; never fired: {never}; refused as already fired: {}; \
         timers left in the store: {}",
        handler.gone.load(Ordering::Relaxed),
        left.len()
    );
    println!("peak RSS of this process: {} MB", peak_rss_kb()? / 1024);
    if store.backend() == Backend::Postgres {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(store.pool()).await?;
    }
    if twice > 0 || never > 0 || !left.is_empty() {
        return Err("a timer fired twice or never".into());
    }
    Ok(())
}

fn key(n: usize) -> String {
    format!("deadline-{n}")
}

/// The wall clock, shifted so that it reads `epoch` at `start`.
struct WallClockFrom {
    epoch: Timestamp,
    start: Instant,
}

#[async_trait]
impl Clock for WallClockFrom {
    fn now(&self) -> Timestamp {
        let elapsed = chrono::Duration::microseconds(self.start.elapsed().as_micros() as i64);
        self.epoch + elapsed
    }

    async fn sleep_until(&self, deadline: Timestamp) {
        tokio::time::sleep((deadline - self.now()).to_std().unwrap_or_default()).await;
    }
}

/// Fires a timer as a service's handler does (an event and the timer's deletion in one commit)
/// and counts, per timer, the firings that committed.
struct Firer {
    store: EventStore,
    clock: Arc<WallClockFrom>,
    fired: Vec<AtomicU32>,
    total: AtomicU64,
    gone: AtomicU64,
    /// Microseconds from due time to committed firing.
    lateness: Mutex<Histogram<u64>>,
}

#[async_trait]
impl TimerHandler for Firer {
    async fn fire(&self, timer: &DueTimer) -> Result<(), HandlerError> {
        let n: usize = timer
            .key
            .strip_prefix("deadline-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| HandlerError::Poison(format!("not a bench timer: {}", timer.key)))?;
        let event = NewEvent {
            event_id: Uuid::now_v7(),
            event_type: "gridloop.v1.CaseDeadlineMissed".into(),
            occurred_at: self.clock.now(),
            correlation_id: timer.key.clone(),
            causation_id: format!("timer:{}", timer.generation),
            actor: Actor { role: "system".into(), id: "timers".into(), jurisdiction: String::new() },
            traceparent: String::new(),
            schema_version: 1,
            routing_key: "321012001001001".into(),
            payload: timer.payload.clone(),
        };
        let commit = Commit {
            fire: Some((timer.key.clone(), timer.generation)),
            ..Commit::append(&timer.key, ExpectedVersion::NoStream, vec![event])
        };
        match self.store.commit(commit).await {
            Ok(_) => {
                let late = (self.clock.now() - timer.due_at).num_microseconds().unwrap_or(i64::MAX).max(1);
                self.lateness
                    .lock()
                    .map_err(|_| HandlerError::Poison("poisoned".into()))?
                    .saturating_record(late as u64);
                self.fired[n].fetch_add(1, Ordering::Relaxed);
                self.total.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(StoreError::TimerGone { .. }) => {
                self.gone.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => Err(HandlerError::Transient(error.to_string())),
        }
    }
}

/// The process's peak resident set size (`VmHWM`), in kB.
fn peak_rss_kb() -> Result<u64, Error> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).ok_or("no VmHWM in /proc/self/status")?;
    Ok(line.split_whitespace().nth(1).ok_or("VmHWM without a value")?.parse()?)
}
