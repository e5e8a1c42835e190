//! Event transport between gridloop's services.
//!
//! A service appends events to its own store; the same transaction writes them to its outbox.
//! The [`relay`] publishes the outbox to a [`Bus`] and removes rows only once the bus has them,
//! so a crash anywhere redelivers instead of losing. Consumers are idempotent (inbox or version
//! check in the same transaction as their effect), so at-least-once delivery has exactly-once
//! effect. [`InProcessBus`] is the one-process transport: publishing hands each event to every
//! matching subscriber and returns only when they have handled it, so the producer's outbox is
//! the durable queue, exactly as JetStream is in distributed mode.

pub mod backlog;
pub mod backoff;
pub mod clock;
pub mod jetstream;
pub mod nats_auth;
pub mod relay;
pub mod timers;
pub mod trace;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use gridloop_eventstore::{RecordedEvent, StoreError};
use gridloop_proto::convert::short_type;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tracing::Instrument;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};

/// Why a handler did not handle an event.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying (storage busy, a conflict with a concurrent writer).
    #[error("transient: {0}")]
    Transient(String),
    /// Will never succeed (undecodable payload, an event that contradicts the state): dead-letter it.
    #[error("poison: {0}")]
    Poison(String),
    /// The consumer's own database cannot take work now (down, read-only, disk full): the event
    /// is not at fault, so however long the outage lasts it must not count towards giving up on it.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl HandlerError {
    /// A store failure: [`HandlerError::Unavailable`] when the database is out of reach or
    /// refusing all work for now, else [`HandlerError::Transient`].
    pub fn store(error: impl Into<StoreError>) -> HandlerError {
        let error = error.into();
        match error.unavailable() {
            Some(why) => HandlerError::Unavailable(format!("{why}: {error}")),
            None => HandlerError::Transient(error.to_string()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("consumer {consumer} could not handle event {event_id} after {attempts} attempts: {reason}")]
    DeliveryFailed { consumer: String, event_id: String, attempts: u32, reason: String },
    #[error("consumer {0} is already subscribed")]
    DuplicateConsumer(String),
    /// The broker did not take the events (down, timed out): they stay in the outbox.
    #[error("transport: {0}")]
    Transport(String),
}

#[async_trait]
pub trait EventHandler: Send + Sync {
    /// Handle one event. Must be idempotent: the same event may be delivered again.
    async fn handle(&self, source: &str, event: &RecordedEvent) -> Result<(), HandlerError>;

    /// Handle several events, in log order, as one unit of work (one transaction), all or
    /// nothing. Handlers that override this return `true` from [`EventHandler::batches`]; on
    /// any error the bus falls back to delivering the same events one by one.
    async fn handle_batch(&self, source: &str, events: &[&RecordedEvent]) -> Result<(), HandlerError> {
        for event in events {
            self.handle(source, event).await?;
        }
        Ok(())
    }

    /// Whether [`EventHandler::handle_batch`] saves work (e.g. one transaction for many events).
    fn batches(&self) -> bool {
        false
    }
}

/// A consumer that handles whatever it is given, one event or a relay batch, as one unit of work
/// (one transaction): every such consumer is an [`EventHandler`] that batches.
#[async_trait]
pub trait BatchHandler: Send + Sync {
    /// Handle `events`, in log order, all or nothing. Must be idempotent, as [`EventHandler::handle`].
    async fn handle_batch(&self, source: &str, events: &[&RecordedEvent]) -> Result<(), HandlerError>;
}

#[async_trait]
impl<T: BatchHandler> EventHandler for T {
    async fn handle(&self, source: &str, event: &RecordedEvent) -> Result<(), HandlerError> {
        BatchHandler::handle_batch(self, source, &[event]).await
    }

    async fn handle_batch(&self, source: &str, events: &[&RecordedEvent]) -> Result<(), HandlerError> {
        BatchHandler::handle_batch(self, source, events).await
    }

    fn batches(&self) -> bool {
        true
    }
}

/// A durable consumer: which producers and event types it wants, and who handles them.
#[derive(Clone)]
pub struct Subscription {
    pub consumer: String,
    /// Producing services (`intake`, `dispatch`, …).
    pub sources: Vec<String>,
    /// Event type names (`gridloop.v1.CaseResolved`); empty means every type.
    pub event_types: Vec<String>,
    pub handler: Arc<dyn EventHandler>,
}

/// Add `subscription` to `subscriptions`, refusing a second consumer of the same name.
fn register(subscriptions: &mut Vec<Subscription>, subscription: Subscription) -> Result<(), BusError> {
    if subscriptions.iter().any(|s| s.consumer == subscription.consumer) {
        return Err(BusError::DuplicateConsumer(subscription.consumer));
    }
    subscriptions.push(subscription);
    Ok(())
}

impl Subscription {
    pub fn wants(&self, source: &str, event_type: &str) -> bool {
        self.sources.iter().any(|s| s == source)
            && (self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type))
    }
}

/// An event a consumer could not handle, with the reason. Kept for operators; the event itself
/// stays in its producer's store and can be replayed from there.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub consumer: String,
    pub source: String,
    pub event_id: String,
    pub event_type: String,
    pub reason: String,
}

#[async_trait]
pub trait Bus: Send + Sync {
    /// Register a durable consumer. Consumers subscribe before relays start publishing.
    fn subscribe(&self, subscription: Subscription) -> Result<(), BusError>;
    /// Deliver a batch from `source`'s outbox. `Ok` means the transport has it durably: the
    /// relay may then remove the rows from the outbox.
    async fn publish(&self, source: &str, events: &[RecordedEvent]) -> Result<(), BusError>;
    fn dead_letters(&self) -> Vec<DeadLetter>;
}

/// Delivery tuning: attempts per event and the backoff between them.
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    pub max_deliver: u32,
    pub backoff: Vec<Duration>,
    /// Cases handled concurrently per batch; events of one case are always handled in order.
    pub concurrency: usize,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self { max_deliver: 5, backoff: [10, 50, 200, 1000].map(Duration::from_millis).to_vec(), concurrency: 64 }
    }
}

/// What became of one event handed to a consumer by [`deliver`].
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Handled,
    /// The handler refused it for good: dead-letter it.
    Poison(String),
    /// Still failing after the in-place retries: leave it unacknowledged, deliver it again later.
    Failed {
        attempts: u32,
        reason: String,
    },
    /// Not tried: an earlier event of the same case failed, and a case's events go in order.
    Deferred,
    /// The consumer's store cannot take work now: deliver it again once it can, without counting
    /// this delivery against the event.
    Unavailable(String),
}

/// Hand `events` (from `source`, in log order, all wanted by `subscription`) to its handler:
/// as one batch when the handler batches, else grouped by case — cases concurrently, the
/// events of one case strictly in order, transient failures retried in place per `policy`.
/// Returns one [`Delivery`] per event, in the same order. Shared by every transport.
pub async fn deliver(
    policy: &DeliveryPolicy,
    subscription: &Subscription,
    source: &str,
    events: &[&RecordedEvent],
) -> Vec<Delivery> {
    if events.is_empty() {
        return Vec::new();
    }
    if subscription.handler.batches() {
        // One span per event, each in its case's trace, open while the batch is handled.
        let spans: Vec<tracing::Span> = events.iter().map(|e| trace::event_span(&subscription.consumer, e)).collect();
        let handled = subscription.handler.handle_batch(source, events).await;
        drop(spans);
        match handled {
            Ok(()) => {
                metrics::counter!("gridloop_events_consumed_total", "consumer" => subscription.consumer.clone(), "outcome" => "handled")
                    .increment(events.len() as u64);
                return vec![Delivery::Handled; events.len()];
            }
            // One event may be poison or conflicting: sort it out one event at a time.
            Err(error) => {
                tracing::debug!(consumer = %subscription.consumer, %error, "batch refused; delivering one by one")
            }
        }
    }
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let group = *group_of.entry(event.correlation_id.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push(index);
    }
    // Futures built up front: a closure inside the stream trips rustc's Send inference.
    let deliveries: Vec<_> =
        groups.into_iter().map(|group| deliver_in_order(policy, subscription, source, events, group)).collect();
    let mut outcomes = vec![Delivery::Deferred; events.len()];
    let results: Vec<Vec<(usize, Delivery)>> =
        stream::iter(deliveries).buffer_unordered(policy.concurrency.max(1)).collect().await;
    for (index, outcome) in results.into_iter().flatten() {
        outcomes[index] = outcome;
    }
    outcomes
}

/// One case's events, in order; stops at the first event that keeps failing.
async fn deliver_in_order(
    policy: &DeliveryPolicy,
    subscription: &Subscription,
    source: &str,
    events: &[&RecordedEvent],
    group: Vec<usize>,
) -> Vec<(usize, Delivery)> {
    let mut outcomes = Vec::with_capacity(group.len());
    for index in group {
        let outcome = deliver_one(policy, subscription, source, events[index]).await;
        let outcome_label = match &outcome {
            Delivery::Handled => "handled",
            Delivery::Poison(_) => "poison",
            Delivery::Unavailable(_) => "unavailable",
            Delivery::Failed { .. } | Delivery::Deferred => "failed",
        };
        metrics::counter!("gridloop_events_consumed_total", "consumer" => subscription.consumer.clone(), "outcome" => outcome_label)
            .increment(1);
        let failed = matches!(outcome, Delivery::Failed { .. } | Delivery::Unavailable(_));
        outcomes.push((index, outcome));
        if failed {
            break; // the rest of this case stays Deferred
        }
    }
    outcomes
}

async fn deliver_one(
    policy: &DeliveryPolicy,
    subscription: &Subscription,
    source: &str,
    event: &RecordedEvent,
) -> Delivery {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let handled =
            subscription.handler.handle(source, event).instrument(trace::event_span(&subscription.consumer, event));
        match handled.await {
            Ok(()) => return Delivery::Handled,
            Err(HandlerError::Poison(reason)) => return Delivery::Poison(reason),
            // Still down after the retries in place (a connection cut by a restart is often
            // fine on the next try): the transport holds the event and tries it again later.
            Err(HandlerError::Unavailable(reason)) if attempt >= policy.max_deliver => {
                return Delivery::Unavailable(reason);
            }
            Err(HandlerError::Transient(reason)) if attempt >= policy.max_deliver => {
                return Delivery::Failed { attempts: attempt, reason };
            }
            Err(HandlerError::Transient(reason) | HandlerError::Unavailable(reason)) => {
                tracing::debug!(consumer = %subscription.consumer, %reason, attempt, "retrying delivery");
                let pause = policy.backoff.get(attempt as usize - 1).or(policy.backoff.last());
                tokio::time::sleep(pause.copied().unwrap_or_default()).await;
            }
        }
    }
}

/// The one-process bus: same contract as JetStream, no broker.
#[derive(Default)]
pub struct InProcessBus {
    subscriptions: RwLock<Vec<Subscription>>,
    dead_letters: Mutex<Vec<DeadLetter>>,
    policy: DeliveryPolicy,
}

impl InProcessBus {
    pub fn new(policy: DeliveryPolicy) -> Self {
        Self { policy, ..Self::default() }
    }

    fn dead_letter(&self, subscription: &Subscription, source: &str, event: &RecordedEvent, reason: String) {
        tracing::error!(consumer = %subscription.consumer, event_id = %event.event_id, %reason, "dead-lettered event");
        self.dead_letters.lock().expect("dead letter lock").push(DeadLetter {
            consumer: subscription.consumer.clone(),
            source: source.to_string(),
            event_id: event.event_id.to_string(),
            event_type: event.event_type.clone(),
            reason,
        });
    }
}

#[async_trait]
impl Bus for InProcessBus {
    fn subscribe(&self, subscription: Subscription) -> Result<(), BusError> {
        register(&mut self.subscriptions.write().expect("subscription lock"), subscription)
    }

    async fn publish(&self, source: &str, events: &[RecordedEvent]) -> Result<(), BusError> {
        let subscriptions = self.subscriptions.read().expect("subscription lock").clone();
        for subscription in &subscriptions {
            let wanted: Vec<&RecordedEvent> =
                events.iter().filter(|e| subscription.wants(source, &e.event_type)).collect();
            let outcomes = deliver(&self.policy, subscription, source, &wanted).await;
            let mut failure = None;
            for (event, outcome) in wanted.iter().zip(outcomes) {
                match outcome {
                    Delivery::Handled | Delivery::Deferred => {}
                    Delivery::Poison(reason) => self.dead_letter(subscription, source, event, reason),
                    // Not acked: the events stay in the outbox and are redelivered later.
                    Delivery::Failed { attempts, reason } => {
                        failure.get_or_insert(BusError::DeliveryFailed {
                            consumer: subscription.consumer.clone(),
                            event_id: event.event_id.to_string(),
                            attempts,
                            reason,
                        });
                    }
                    Delivery::Unavailable(reason) => {
                        failure.get_or_insert(BusError::DeliveryFailed {
                            consumer: subscription.consumer.clone(),
                            event_id: event.event_id.to_string(),
                            attempts: 1,
                            reason,
                        });
                    }
                }
            }
            if let Some(error) = failure {
                return Err(error);
            }
        }
        Ok(())
    }

    fn dead_letters(&self) -> Vec<DeadLetter> {
        self.dead_letters.lock().expect("dead letter lock").clone()
    }
}

/// The NATS subject of an event:
/// `<prefix>.evt.<district>.<street>.<community>.<grid>.<source>.<type>` (prefix `gridloop` by
/// default), so a street office
/// subscribes to `gridloop.evt.321012.001.>` and sees exactly its subtree, and a consumer of one
/// producer filters on `gridloop.evt.*.*.*.*.dispatch.>`. `routing_key` is the case's 15-digit
/// grid code; anything shorter fills the missing levels with `_`.
pub fn subject_for(prefix: &str, routing_key: &str, source: &str, event_type: &str) -> String {
    let digits: Vec<&str> = [(0, 6), (6, 9), (9, 12), (12, 15)]
        .iter()
        .map(|&(from, to)| routing_key.get(from..to).unwrap_or("_"))
        .collect();
    format!("{prefix}.evt.{}.{source}.{}", digits.join("."), short_type(event_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_the_jurisdiction_tree() {
        assert_eq!(
            subject_for("gridloop", "321012001002003", "dispatch", "gridloop.v1.CaseOpened"),
            "gridloop.evt.321012.001.002.003.dispatch.CaseOpened"
        );
        assert_eq!(
            subject_for("gridloop", "321012001", "dispatch", "gridloop.v1.CaseOpened"),
            "gridloop.evt.321012.001._._.dispatch.CaseOpened"
        );
    }
}
