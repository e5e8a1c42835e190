//! Event transport between gridloop's services.
//!
//! A service appends events to its own store; the same transaction writes them to its outbox.
//! The [`relay`] publishes the outbox to a [`Bus`] and removes rows only once the bus has them,
//! so a crash anywhere redelivers instead of losing. Consumers are idempotent (inbox or version
//! check in the same transaction as their effect), so at-least-once delivery has exactly-once
//! effect. [`InProcessBus`] is the one-process transport: publishing hands each event to every
//! matching subscriber and returns only when they have handled it, so the producer's outbox is
//! the durable queue, exactly as JetStream is in distributed mode.

pub mod clock;
pub mod relay;
pub mod timers;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use gridloop_eventstore::RecordedEvent;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

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
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("consumer {consumer} could not handle event {event_id} after {attempts} attempts: {reason}")]
    DeliveryFailed { consumer: String, event_id: String, attempts: u32, reason: String },
    #[error("consumer {0} is already subscribed")]
    DuplicateConsumer(String),
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

impl Subscription {
    fn wants(&self, source: &str, event_type: &str) -> bool {
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

    /// Hand `events` (one case, in order) to `subscription`, retrying transient failures.
    async fn deliver_in_order(
        &self,
        source: &str,
        subscription: &Subscription,
        events: Vec<&RecordedEvent>,
    ) -> Result<(), BusError> {
        for event in events {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match subscription.handler.handle(source, event).await {
                    Ok(()) => break,
                    Err(HandlerError::Poison(reason)) => {
                        self.dead_letter(subscription, source, event, reason);
                        break;
                    }
                    Err(HandlerError::Transient(reason)) if attempt >= self.policy.max_deliver => {
                        // Not acked: the event stays in the outbox and is redelivered later.
                        return Err(BusError::DeliveryFailed {
                            consumer: subscription.consumer.clone(),
                            event_id: event.event_id.to_string(),
                            attempts: attempt,
                            reason,
                        });
                    }
                    Err(HandlerError::Transient(reason)) => {
                        tracing::debug!(consumer = %subscription.consumer, %reason, attempt, "retrying delivery");
                        let pause = self.policy.backoff.get(attempt as usize - 1).or(self.policy.backoff.last());
                        tokio::time::sleep(pause.copied().unwrap_or_default()).await;
                    }
                }
            }
        }
        Ok(())
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
        let mut subscriptions = self.subscriptions.write().expect("subscription lock");
        if subscriptions.iter().any(|s| s.consumer == subscription.consumer) {
            return Err(BusError::DuplicateConsumer(subscription.consumer));
        }
        subscriptions.push(subscription);
        Ok(())
    }

    async fn publish(&self, source: &str, events: &[RecordedEvent]) -> Result<(), BusError> {
        let subscriptions = self.subscriptions.read().expect("subscription lock").clone();
        for subscription in &subscriptions {
            if subscription.handler.batches() {
                let wanted: Vec<&RecordedEvent> =
                    events.iter().filter(|e| subscription.wants(source, &e.event_type)).collect();
                if wanted.is_empty() {
                    continue;
                }
                match subscription.handler.handle_batch(source, &wanted).await {
                    Ok(()) => continue,
                    // One event may be poison or conflicting: sort it out one event at a time.
                    Err(error) => {
                        tracing::debug!(consumer = %subscription.consumer, %error, "batch refused; delivering one by one")
                    }
                }
            }
            // Group by case, keeping log order inside each group: cases proceed in parallel,
            // the events of one case strictly in order.
            let mut group_of: HashMap<&str, usize> = HashMap::new();
            let mut groups: Vec<Vec<&RecordedEvent>> = Vec::new();
            for event in events.iter().filter(|e| subscription.wants(source, &e.event_type)) {
                let index = *group_of.entry(event.correlation_id.as_str()).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[index].push(event);
            }
            // Futures built up front: a closure inside the stream trips rustc's Send inference.
            let deliveries: Vec<_> =
                groups.into_iter().map(|group| self.deliver_in_order(source, subscription, group)).collect();
            let results: Vec<Result<(), BusError>> =
                stream::iter(deliveries).buffer_unordered(self.policy.concurrency.max(1)).collect().await;
            results.into_iter().collect::<Result<(), _>>()?;
        }
        Ok(())
    }

    fn dead_letters(&self) -> Vec<DeadLetter> {
        self.dead_letters.lock().expect("dead letter lock").clone()
    }
}

/// The NATS subject of an event: `gridloop.evt.<district>.<street>.<community>.<grid>.<type>`,
/// so a street office subscribes to `gridloop.evt.321012.001.>` and sees exactly its subtree.
/// `routing_key` is the case's 15-digit grid code; anything shorter fills the missing levels
/// with `_`.
pub fn subject_for(routing_key: &str, event_type: &str) -> String {
    let digits: Vec<&str> = [(0, 6), (6, 9), (9, 12), (12, 15)]
        .iter()
        .map(|&(from, to)| routing_key.get(from..to).unwrap_or("_"))
        .collect();
    let short_type = event_type.rsplit('.').next().unwrap_or(event_type);
    format!("gridloop.evt.{}.{short_type}", digits.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_the_jurisdiction_tree() {
        assert_eq!(
            subject_for("321012001002003", "gridloop.v1.CaseOpened"),
            "gridloop.evt.321012.001.002.003.CaseOpened"
        );
        assert_eq!(subject_for("321012001", "gridloop.v1.CaseOpened"), "gridloop.evt.321012.001._._.CaseOpened");
    }
}
