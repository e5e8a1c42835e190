//! A relay whose bus refuses every batch (a consumer whose store is full, read-only or gone; a
//! broker that is down) retries after pauses that double: counted over a window, its attempts
//! stay few instead of one every half second, and the batch goes out once the bus takes it.

use async_trait::async_trait;
use gridloop_bus::relay::run_relay;
use gridloop_bus::{Bus, BusError, DeadLetter, Subscription};
use gridloop_eventstore::{
    Actor, Commit, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreOptions, StreamAppend,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Refuses every batch while `refusing`, counting the attempts.
#[derive(Default)]
struct RefusingBus {
    refusing: AtomicBool,
    attempts: AtomicUsize,
    delivered: AtomicUsize,
}

#[async_trait]
impl Bus for RefusingBus {
    fn subscribe(&self, _: Subscription) -> Result<(), BusError> {
        Ok(())
    }

    async fn publish(&self, _: &str, events: &[RecordedEvent]) -> Result<(), BusError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.refusing.load(Ordering::SeqCst) {
            return Err(BusError::Transport("the consumer's disk is full".into()));
        }
        self.delivered.fetch_add(events.len(), Ordering::SeqCst);
        Ok(())
    }

    fn dead_letters(&self) -> Vec<DeadLetter> {
        Vec::new()
    }
}

fn one_event() -> Commit {
    let event = NewEvent {
        event_id: uuid::Uuid::now_v7(),
        event_type: "gridloop.v1.CaseReported".into(),
        occurred_at: chrono::Utc::now(),
        correlation_id: "case-1".into(),
        causation_id: String::new(),
        actor: Actor::default(),
        traceparent: String::new(),
        schema_version: 1,
        routing_key: String::new(),
        payload: vec![],
    };
    let append = StreamAppend { stream: "case-1".into(), expected: ExpectedVersion::NoStream, events: vec![event] };
    Commit { appends: vec![append], ..Commit::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_refused_by_its_bus_backs_off_and_delivers_once_the_bus_takes_events_again() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("relay.db").display());
    let store = EventStore::connect(&url, StoreOptions::default()).await.unwrap();
    store.commit(one_event()).await.unwrap();
    let bus = Arc::new(RefusingBus::default());
    bus.refusing.store(true, Ordering::SeqCst);
    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(run_relay(store.clone(), bus.clone(), "intake".into(), shutdown.clone()));

    // Pauses of 0.5, 1, 2, 4 s: attempts at 0, 0.5, 1.5 and 3.5 s, the next at 7.5 s. A fixed
    // half-second pause made 13 in the same window.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let attempts = bus.attempts.load(Ordering::SeqCst);
    eprintln!("{attempts} attempts in 6 s against a bus that refuses every batch");
    assert!((2..=5).contains(&attempts), "{attempts} attempts in 6 s");

    bus.refusing.store(false, Ordering::SeqCst);
    let give_up = tokio::time::Instant::now() + Duration::from_secs(30);
    while bus.delivered.load(Ordering::SeqCst) == 0 {
        assert!(tokio::time::Instant::now() < give_up, "the relay never tried again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(bus.delivered.load(Ordering::SeqCst), 1);
    shutdown.cancel();
    relay.await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 0, "acknowledged once delivered");
}
