//! The outbox relay: publishes a store's outbox to the bus in batches, in log order, and removes
//! rows only after the bus has them. Nothing is lost if the bus is down: rows wait and are retried.
//!
//! Removal (the acknowledgement) is lazy: the relay reads on from the last position it published,
//! and deletes the published rows once a batch's worth is pending or when it has had nothing to
//! publish for [`ACK_IDLE`], so a burst costs one delete per batch of batches instead of a write
//! transaction per batch. A crash in between publishes those rows again; consumers are idempotent
//! and JetStream drops the duplicates by message id.
//!
//! While the store or the bus is down (a full disk, a read-only or unreachable database, a
//! consumer whose store fails), the relay retries after pauses that double up to
//! [`RETRY_CEILING`], with one log line per attempt, and says when it has recovered. A backlog
//! (an outbox filled by `gridloop import`) is reported as it is taken in (see [`crate::backlog`]).

use crate::backlog::Backlog;
use crate::backoff::Backoff;
use crate::Bus;
use gridloop_eventstore::EventStore;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Outbox rows taken per round trip.
pub const RELAY_BATCH: u32 = 500;
/// Published rows that may wait for their acknowledgement while the relay is busy.
const ACK_PENDING: usize = RELAY_BATCH as usize;
/// The relay acknowledges what it published once it has been idle this long.
const ACK_IDLE: Duration = Duration::from_millis(20);
/// Pause after the first failed publish before the batch is retried; it doubles with every
/// failure in a row up to [`RETRY_CEILING`].
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Longest pause between attempts while the store or the bus stays down: how late, at most, the
/// relay notices that it is back.
pub const RETRY_CEILING: Duration = Duration::from_secs(10);
/// Fallback poll, for rows written by another process sharing the store.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// A relay's progress: what it has published and not yet removed from the outbox.
#[derive(Debug, Default)]
struct Relay {
    /// The last position published (0: none yet, read the outbox from its start).
    published: i64,
    unacked: Vec<i64>,
}

impl Relay {
    /// Publish the next batch after the last published position; returns how many events.
    async fn publish_next(
        &mut self,
        store: &EventStore,
        bus: &dyn Bus,
        source: &str,
    ) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
        let batch = store.outbox_batch(self.published, RELAY_BATCH).await?;
        let Some(last) = batch.last() else { return Ok(0) };
        bus.publish(source, &batch).await?;
        self.published = last.global_position;
        self.unacked.extend(batch.iter().map(|event| event.global_position));
        metrics::counter!("gridloop_events_published_total", "service" => source.to_string())
            .increment(batch.len() as u64);
        Ok(batch.len())
    }

    /// Remove what was published from the outbox; on failure it stays pending for the next try.
    async fn ack(&mut self, store: &EventStore, source: &str) {
        if self.unacked.is_empty() {
            return;
        }
        match store.outbox_ack(&self.unacked).await {
            Ok(()) => self.unacked.clear(),
            Err(error) => tracing::warn!(%source, %error, "outbox acknowledgement failed; will retry"),
        }
    }

    /// Published events not yet removed from the outbox.
    fn pending(&self) -> usize {
        self.unacked.len()
    }
}

/// Run until `shutdown`; on shutdown, flush what the outbox holds (one last drain) and return.
pub async fn run_relay(store: EventStore, bus: Arc<dyn Bus>, source: String, shutdown: CancellationToken) {
    let mut head = store.watch_head();
    let mut relay = Relay::default();
    let mut backoff = Backoff::new(RETRY_PAUSE, RETRY_CEILING);
    let mut backlog = Backlog::new(format!("outbox:{source}"));
    loop {
        // Marked seen before the read: a commit after it wakes the wait below.
        head.mark_unchanged();
        match relay.publish_next(&store, bus.as_ref(), &source).await {
            Ok(n) => {
                let failed = backoff.succeeded();
                if failed > 0 {
                    tracing::info!(%source, failed, "outbox relay recovered after {failed} failed attempts");
                }
                if relay.pending() >= ACK_PENDING {
                    relay.ack(&store, &source).await;
                }
                // A full batch: more may be waiting.
                if n >= RELAY_BATCH as usize {
                    if let Some(left) = events_left(&store, &relay).await {
                        backlog.record(n as u64, left);
                    }
                    continue;
                }
                // Everything committed before the read went out.
                backlog.record(n as u64, 0);
            }
            Err(error) => {
                let pause = backoff.failed();
                let attempts = backoff.failures();
                tracing::warn!(%source, %error, attempts, "outbox relay failed; retrying in {pause:?}");
                tokio::select! {
                    _ = shutdown.cancelled() => {
                        relay.ack(&store, &source).await;
                        return;
                    }
                    _ = tokio::time::sleep(pause) => continue,
                }
            }
        }
        // Wait for the next commit, and acknowledge once nothing else is happening.
        let mut ack_when_idle = relay.pending() > 0;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    // Graceful shutdown: publish what is left before going.
                    while let Ok(n) = relay.publish_next(&store, bus.as_ref(), &source).await {
                        if n == 0 { break; }
                    }
                    relay.ack(&store, &source).await;
                    return;
                }
                _ = head.changed() => break,
                _ = tokio::time::sleep(ACK_IDLE), if ack_when_idle => {
                    relay.ack(&store, &source).await;
                    ack_when_idle = false;
                }
                _ = tokio::time::sleep(IDLE_POLL) => break,
            }
        }
    }
}

/// Events in the outbox not yet published (None if the store cannot say now).
async fn events_left(store: &EventStore, relay: &Relay) -> Option<u64> {
    let depth = store.outbox_depth().await.ok()?;
    Some((depth.max(0) as u64).saturating_sub(relay.pending() as u64))
}
