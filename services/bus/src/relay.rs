//! The outbox relay: publishes a store's outbox to the bus in batches, in log order, and removes
//! rows only after the bus has them. Nothing is lost if the bus is down: rows wait and are retried.

use crate::Bus;
use gridloop_eventstore::EventStore;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Outbox rows taken per round trip.
pub const RELAY_BATCH: u32 = 500;
/// Pause after a failed publish before the batch is retried.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Fallback poll, for rows written by another process sharing the store.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Run until `shutdown`; on shutdown, flush what the outbox holds (one last drain) and return.
pub async fn run_relay(store: EventStore, bus: Arc<dyn Bus>, source: String, shutdown: CancellationToken) {
    let mut head = store.watch_head();
    loop {
        // Marked seen before the read: a commit after it wakes the wait below.
        head.mark_unchanged();
        match relay_once(&store, bus.as_ref(), &source).await {
            // A full batch: more may be waiting.
            Ok(n) if n >= RELAY_BATCH as usize => continue,
            // Everything committed before the read went out: wait for the next commit.
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%source, %error, "outbox relay failed; will retry");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(RETRY_PAUSE) => continue,
                }
            }
        }
        if shutdown.is_cancelled() {
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {
                // Graceful shutdown: publish what is left before going.
                while let Ok(n) = relay_once(&store, bus.as_ref(), &source).await {
                    if n == 0 { break; }
                }
                return;
            }
            _ = head.changed() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
        }
    }
}

/// Publish one batch; returns how many events were relayed.
pub async fn relay_once(
    store: &EventStore,
    bus: &dyn Bus,
    source: &str,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let batch = store.outbox_batch(RELAY_BATCH).await?;
    if batch.is_empty() {
        return Ok(0);
    }
    bus.publish(source, &batch).await?;
    let positions: Vec<i64> = batch.iter().map(|e| e.global_position).collect();
    store.outbox_ack(&positions).await?;
    metrics::counter!("gridloop_events_published_total", "service" => source.to_string()).increment(batch.len() as u64);
    Ok(batch.len())
}
