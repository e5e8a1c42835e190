//! Deadlines never fire twice, also across restarts.
//!
//! Cases are opened through the real dispatch service on an SQLite store; a seeded sequence of
//! clock jumps then lets the durable timer scheduler fire their deadlines (accept deadlines
//! escalate the case up the ladder; at the district a miss is recorded and re-armed). Between
//! jumps the service is restarted: gracefully, or by aborting the scheduler task in the middle of
//! its work (a crash: an uncommitted firing rolls back). Afterwards every case's history must show
//! each deadline it was given answered by exactly one escalation or `CaseDeadlineMissed`: never
//! twice, and none left unanswered once past.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::details;
use gridloop_bus::timers::run_timers;
use gridloop_bus::{Clock, ManualClock};
use gridloop_dispatch::Dispatch;
use gridloop_domain::case::{CaseCommand, CaseDetails, CaseEvent, EscalationReason};
use gridloop_domain::ids::CaseId;
use gridloop_domain::policy::CityPolicy;
use gridloop_eventstore::{Actor, Commit, EventStore, StoreOptions};
use gridloop_kit::EventContext;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Categories with different ladders: working-time hours and days, and wall-clock minutes.
const CATEGORIES: [&str; 5] =
    ["env.garbage", "dispute.neighbour-noise", "emergency.pipe-burst", "facility.elevator", "order.street-vendor"];

/// One running dispatch service with its timer scheduler.
struct Running {
    dispatch: Dispatch,
    shutdown: CancellationToken,
    timers: JoinHandle<()>,
}

async fn start(path: &Path, clock: &ManualClock) -> Running {
    let url = format!("sqlite://{}", path.display());
    let store = EventStore::connect(&url, StoreOptions { schema: None, max_connections: 4, ..StoreOptions::default() })
        .await
        .expect("store");
    let dispatch = Dispatch::new(store.clone(), Arc::new(CityPolicy::default_city()), Arc::new(clock.clone()));
    let shutdown = CancellationToken::new();
    let timers = tokio::spawn(run_timers(store, Arc::new(clock.clone()), Arc::new(dispatch.clone()), shutdown.clone()));
    Running { dispatch, shutdown, timers }
}

impl Running {
    /// A clean stop: the scheduler finishes what it is doing.
    async fn stop(self) {
        self.shutdown.cancel();
        self.timers.await.expect("scheduler task");
    }

    /// A crash: the scheduler is dropped wherever it is, open transactions roll back.
    async fn crash(self) {
        self.timers.abort();
        let _ = self.timers.await;
    }
}

async fn open(dispatch: &Dispatch, case_id: CaseId, details: CaseDetails, now: DateTime<Utc>) {
    let context = EventContext {
        actor: Actor { role: "test".into(), id: "test".into(), jurisdiction: String::new() },
        correlation_id: case_id.to_string(),
        causation_id: "test:open".into(),
        traceparent: String::new(),
        occurred_at: now,
        routing_key: details.grid_code.clone(),
    };
    let open = CaseCommand::Open { case_id, details };
    dispatch.execute(case_id, &open, None, &context, Commit::default()).await.expect("open");
}

/// Waits until no case has a running deadline at or before `now` (every due timer has fired).
async fn settle(dispatch: &Dispatch, cases: &[CaseId], now: DateTime<Utc>) {
    let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    for case_id in cases {
        loop {
            let case = dispatch.load(*case_id).await.expect("load").case;
            if case.status.deadline().is_none_or(|deadline| deadline > now) {
                break;
            }
            assert!(tokio::time::Instant::now() < give_up, "case {case_id} still has a due deadline: {case:?}");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// Every deadline the case was given and that is past was answered by exactly one firing event,
/// and every firing answered the deadline then running, once it was due.
async fn assert_each_deadline_fired_once(dispatch: &Dispatch, case_id: CaseId, now: DateTime<Utc>) -> usize {
    let history = dispatch.load(case_id).await.expect("load").history;
    let mut running: Option<DateTime<Utc>> = None;
    let mut fired = Vec::new();
    let mut causes = HashSet::new();
    for (record, event) in &history {
        let (firing, next) = match event {
            CaseEvent::Opened { .. } => (None, None),
            CaseEvent::Dispatched { to, .. } => (None, Some(to.deadline)),
            CaseEvent::Escalated { to, reason: EscalationReason::DeadlineMissed, .. } => (running, Some(to.deadline)),
            CaseEvent::DeadlineMissed { deadline, next_deadline, .. } => {
                assert_eq!(Some(*deadline), running, "{case_id}: a miss of a deadline that was not running");
                (Some(*deadline), Some(*next_deadline))
            }
            other => panic!("{case_id}: unexpected {other:?}"),
        };
        if let Some(deadline) = firing {
            assert!(deadline <= record.occurred_at, "{case_id}: fired {deadline} early at {}", record.occurred_at);
            assert!(record.causation_id.starts_with("timer:"), "{case_id}: {}", record.causation_id);
            assert!(causes.insert(record.causation_id.clone()), "{case_id}: timer {} fired twice", record.causation_id);
            fired.push(deadline);
        }
        running = next;
    }
    let distinct: HashSet<_> = fired.iter().collect();
    assert_eq!(distinct.len(), fired.len(), "{case_id}: a deadline fired twice: {fired:?}");
    assert!(running.is_some_and(|d| d > now), "{case_id}: deadline {running:?} is past but did not fire");
    fired.len()
}

/// A small deterministic generator (64-bit LCG), so each seed replays the same schedule.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_fire_exactly_once_across_restarts_and_crashes() {
    let mut total_firings = 0;
    for seed in 1..=3u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dispatch.db");
        // Friday afternoon before a weekend, Beijing time: working-time deadlines skip it.
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2025, 3, 14, 8, 0, 0).unwrap());
        let mut rng = Lcg(seed);
        let mut running = start(&path, &clock).await;
        let grids = ["321012001001001", "321012003004005", "321012008005005"];
        let mut cases = Vec::new();
        for (i, category) in CATEGORIES.iter().enumerate() {
            let case_id = CaseId(uuid::Uuid::from_u128(u128::from(seed) << 64 | i as u128));
            open(&running.dispatch, case_id, details(category, grids[i % grids.len()], clock.now()), clock.now()).await;
            cases.push(case_id);
        }
        for _ in 0..10 {
            // Jump between ten minutes and five days ahead.
            clock.advance(Duration::minutes(10 + rng.next(5 * 24 * 60) as i64));
            match rng.next(3) {
                // Crash right away: firings may be cut off mid-transaction.
                0 => {
                    running.crash().await;
                    running = start(&path, &clock).await;
                }
                // Let everything due fire, then restart cleanly.
                1 => {
                    settle(&running.dispatch, &cases, clock.now()).await;
                    running.stop().await;
                    running = start(&path, &clock).await;
                }
                // Keep running.
                _ => {}
            }
            settle(&running.dispatch, &cases, clock.now()).await;
            for case_id in &cases {
                assert_each_deadline_fired_once(&running.dispatch, *case_id, clock.now()).await;
            }
        }
        for case_id in &cases {
            total_firings += assert_each_deadline_fired_once(&running.dispatch, *case_id, clock.now()).await;
        }
        running.stop().await;
    }
    // The schedule really exercised the ladder: each case climbed to the district (3 firings) and
    // missed deadlines there, in every seed.
    assert!(total_firings > 3 * CATEGORIES.len() * 3, "only {total_firings} firings");
}
