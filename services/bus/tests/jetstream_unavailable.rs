//! A JetStream consumer whose own database is down (stopped, read-only, out of disk) holds the
//! events it fetched and tries them again after pauses, however many times: an outage longer
//! than the consumer's delivery limit gives up on no event. An ordinary failure that keeps
//! failing is still dead-lettered at the limit. Both against a real NATS server.

use async_trait::async_trait;
use gridloop_bus::jetstream::{JetStreamBus, JetStreamConfig};
use gridloop_bus::{BatchHandler, Bus, HandlerError, Subscription};
use gridloop_eventstore::{testing, Actor, RecordedEvent};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Fails the first `failing` calls with the error `failure` makes, then handles everything.
struct FlakyStore {
    failing: usize,
    failure: fn() -> HandlerError,
    calls: AtomicUsize,
    handled: AtomicUsize,
}

#[async_trait]
impl BatchHandler for FlakyStore {
    async fn handle_batch(&self, _: &str, events: &[&RecordedEvent]) -> Result<(), HandlerError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failing {
            return Err((self.failure)());
        }
        self.handled.fetch_add(events.len(), Ordering::SeqCst);
        Ok(())
    }
}

fn event(case: &str) -> RecordedEvent {
    RecordedEvent {
        global_position: 1,
        stream: case.into(),
        stream_version: 1,
        recorded_at: chrono::Utc::now(),
        event_id: uuid::Uuid::now_v7(),
        event_type: "gridloop.v1.CaseReported".into(),
        occurred_at: chrono::Utc::now(),
        correlation_id: case.into(),
        causation_id: String::new(),
        actor: Actor::default(),
        traceparent: String::new(),
        schema_version: 1,
        routing_key: "110101001001001".into(),
        payload: vec![],
    }
}

/// A bus on a stream of its own, with a delivery limit of 3 and short pauses.
async fn bus(url: &str) -> Arc<JetStreamBus> {
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let mut config = JetStreamConfig::new(url);
    config.stream = format!("UNAVAILABLE_{tag}");
    config.subject_prefix = format!("unavailable{tag}");
    config.max_deliver = 3;
    config.backoff = vec![Duration::from_millis(100)];
    JetStreamBus::connect(config, "jetstream-unavailable-test").await.unwrap()
}

/// Publishes two events of one case to a consumer whose store fails `failing` times as
/// `failure` says; returns the handler and the bus once `settled` holds or 30 s have passed.
async fn run(
    failing: usize,
    failure: fn() -> HandlerError,
    settled: fn(&FlakyStore, &JetStreamBus) -> bool,
) -> Option<(Arc<FlakyStore>, Arc<JetStreamBus>)> {
    let url = testing::nats_url()?;
    let bus = bus(&url).await;
    let store = Arc::new(FlakyStore { failing, failure, calls: AtomicUsize::new(0), handled: AtomicUsize::new(0) });
    let subscription = Subscription {
        consumer: "evaluation.intake".into(),
        sources: vec!["intake".into()],
        event_types: vec![],
        handler: store.clone(),
    };
    bus.subscribe(subscription).unwrap();
    bus.publish("intake", &[event("case-1"), event("case-1")]).await.unwrap();
    let shutdown = CancellationToken::new();
    let consumers = bus.spawn_consumers(shutdown.clone());
    let give_up = tokio::time::Instant::now() + Duration::from_secs(30);
    while !settled(&store, &bus) && tokio::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A little longer, so that a late dead letter or a second handling would show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.cancel();
    for consumer in consumers {
        consumer.await.unwrap();
    }
    Some((store, bus))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_store_longer_than_the_delivery_limit_loses_no_event() {
    let unavailable = || HandlerError::Unavailable("disk full: database or disk is full".into());
    // Six refused attempts (the batch, then each event retried in place), more than the
    // server's delivery limit of 3 would allow if each counted.
    let Some((store, bus)) = run(6, unavailable, |store, _| store.handled.load(Ordering::SeqCst) >= 2).await else {
        return;
    };
    assert_eq!(store.handled.load(Ordering::SeqCst), 2, "both events handled, once each");
    let calls = store.calls.load(Ordering::SeqCst);
    assert!(calls > 6, "{calls} attempts: six refused, then those that took the events");
    assert!(bus.dead_letters().is_empty(), "dead-lettered: {:?}", bus.dead_letters());
    assert_eq!(bus.dead_letter_count().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_that_persists_is_still_dead_lettered_at_the_delivery_limit() {
    let transient = || HandlerError::Transient("conflict".into());
    let Some((store, bus)) = run(usize::MAX, transient, |_, bus| !bus.dead_letters().is_empty()).await else {
        return;
    };
    assert_eq!(store.handled.load(Ordering::SeqCst), 0);
    let dead = bus.dead_letters();
    // The first event gives up after 3 deliveries; the second, deferred behind it each time,
    // was never tried and is nak'ed back, so it is dead-lettered only once it fails itself.
    assert!(!dead.is_empty());
    assert!(dead[0].reason.contains("gave up after 3 deliveries"), "{:?}", dead[0].reason);
}
