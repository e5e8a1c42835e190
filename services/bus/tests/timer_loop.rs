//! The timer loop sleeps until its next timer is due and reads the store again only when a
//! commit schedules one due earlier: such a timer must still fire as soon as the clock reaches
//! it, while a commit scheduling a later one must not make it fire anything early. A clock that
//! steps backwards or forwards fires each timer once.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use gridloop_bus::timers::{run_timers, TimerHandler};
use gridloop_bus::{HandlerError, ManualClock};
use gridloop_eventstore::{Commit, DueTimer, EventStore, NewTimer, StoreOptions};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Fires by committing the timer's deletion, and remembers what it fired.
struct Recorder {
    store: EventStore,
    fired: Mutex<Vec<String>>,
}

#[async_trait]
impl TimerHandler for Recorder {
    async fn fire(&self, timer: &DueTimer) -> Result<(), HandlerError> {
        let commit = Commit { fire: Some((timer.key.clone(), timer.generation)), ..Commit::default() };
        self.store.commit(commit).await.map_err(|e| HandlerError::Transient(e.to_string()))?;
        self.fired.lock().unwrap().push(timer.key.clone());
        Ok(())
    }
}

fn timer(key: &str, due_at: DateTime<Utc>) -> Commit {
    let timer = NewTimer { key: key.into(), due_at, kind: "test".into(), payload: vec![] };
    Commit { schedule: vec![timer], ..Commit::default() }
}

async fn wait_for(recorder: &Recorder, expected: &[&str]) {
    let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while recorder.fired.lock().unwrap().as_slice() != expected {
        assert!(tokio::time::Instant::now() < give_up, "fired {:?}, expected {expected:?}", recorder.fired);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_scheduled_before_the_one_waited_for_fires_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("timers.db").display());
    let store = EventStore::connect(&url, StoreOptions::default()).await.unwrap();
    let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let clock = ManualClock::new(start);
    let recorder = Arc::new(Recorder { store: store.clone(), fired: Mutex::new(Vec::new()) });
    let shutdown = CancellationToken::new();
    let minutes = Duration::minutes;

    // The loop waits for the one timer there is, due in an hour.
    store.commit(timer("in-an-hour", start + minutes(60))).await.unwrap();
    let handler: Arc<dyn TimerHandler> = recorder.clone();
    let timers = tokio::spawn(run_timers(store.clone(), Arc::new(clock.clone()), handler, shutdown.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    // Scheduled meanwhile: one due in two hours (nothing to do yet), one due in ten minutes.
    store.commit(timer("in-two-hours", start + minutes(120))).await.unwrap();
    store.commit(timer("in-ten-minutes", start + minutes(10))).await.unwrap();
    clock.set(start + minutes(11));
    wait_for(&recorder, &["in-ten-minutes"]).await;

    // The rest in due order, each once the clock has reached it.
    clock.set(start + minutes(61));
    wait_for(&recorder, &["in-ten-minutes", "in-an-hour"]).await;
    clock.set(start + minutes(121));
    wait_for(&recorder, &["in-ten-minutes", "in-an-hour", "in-two-hours"]).await;
    assert_eq!(store.due_timers_and_next(start + minutes(121), 10).await.unwrap(), (vec![], None));

    // Already due when scheduled: fired without the clock moving.
    store.commit(timer("overdue", start + minutes(100))).await.unwrap();
    wait_for(&recorder, &["in-ten-minutes", "in-an-hour", "in-two-hours", "overdue"]).await;

    shutdown.cancel();
    timers.await.unwrap();
}

/// A wall clock stepped backwards (an NTP correction, a restored VM) or forwards (a suspended
/// host waking up) neither fires a deadline twice nor skips one: a timer fires once, when the
/// clock first reaches it, and everything a forward jump passes fires at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_stepping_back_or_forward_fires_each_timer_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("timers.db").display());
    let store = EventStore::connect(&url, StoreOptions::default()).await.unwrap();
    let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let clock = ManualClock::new(start);
    let recorder = Arc::new(Recorder { store: store.clone(), fired: Mutex::new(Vec::new()) });
    let shutdown = CancellationToken::new();
    let minutes = Duration::minutes;
    for (key, due) in [("at-10", 10), ("at-60", 60), ("at-120", 120), ("at-180", 180)] {
        store.commit(timer(key, start + minutes(due))).await.unwrap();
    }
    let handler: Arc<dyn TimerHandler> = recorder.clone();
    let timers = tokio::spawn(run_timers(store.clone(), Arc::new(clock.clone()), handler, shutdown.clone()));

    // Forward past two deadlines at once: both fire, in due order.
    clock.set(start + minutes(61));
    wait_for(&recorder, &["at-10", "at-60"]).await;

    // Back before them all: a probe due at the new time fires, and nothing fired before it again.
    clock.set(start);
    store.commit(timer("probe-back", start)).await.unwrap();
    wait_for(&recorder, &["at-10", "at-60", "probe-back"]).await;

    // Forward again, short of the next deadline: only a probe due by then fires.
    clock.set(start + minutes(119));
    store.commit(timer("probe-short", start + minutes(100))).await.unwrap();
    wait_for(&recorder, &["at-10", "at-60", "probe-back", "probe-short"]).await;

    // A day forward: the remaining deadlines fire once each, none skipped.
    clock.set(start + Duration::days(1));
    wait_for(&recorder, &["at-10", "at-60", "probe-back", "probe-short", "at-120", "at-180"]).await;
    assert_eq!(store.due_timers_and_next(start + Duration::days(2), 10).await.unwrap(), (vec![], None));

    shutdown.cancel();
    timers.await.unwrap();
}
