//! The distributed transport: NATS JetStream.
//!
//! Publishing: the relay hands a batch of stored events; each becomes one message on
//! `<prefix>.evt.<district>.<street>.<community>.<grid>.<source>.<Type>` (see
//! [`subject_for`](crate::subject_for)) whose body is a `gridloop.v1.EventEnvelope` and whose
//! `Nats-Msg-Id` is the event id, so a batch republished after a crash is deduplicated by the
//! stream. All messages of a batch are sent before any acknowledgement is awaited: one round
//! trip per batch, not per event. `Ok` only once every message is acknowledged (stored).
//!
//! Consuming: one durable pull consumer per [`Subscription`], filtered on its producer, with
//! explicit acks. A fetched batch goes through [`deliver`]; handled events are acked, poison
//! ones are copied to `<prefix>.dlq.<consumer>` with the reason and terminated, failing ones are
//! nak'ed with a backoff (and dead-lettered once `max_deliver` is reached, so nothing is dropped
//! silently). While the consumer's own store is unavailable the batch is held instead: marked in
//! progress and tried again after pauses, so an outage of any length gives up on no event. Handlers are idempotent and check versions, so redelivery and out-of-order
//! redelivery never double or reorder an effect.

use crate::backlog::Backlog;
use crate::backoff::Backoff;
pub use crate::nats_auth::NatsAuth;
use crate::{deliver, register, subject_for, Bus, BusError, DeadLetter, Delivery, DeliveryPolicy, Subscription};
use async_nats::jetstream::{self, consumer::pull, stream, AckKind};
use async_trait::async_trait;
use futures::StreamExt;
use gridloop_eventstore::RecordedEvent;
use gridloop_proto::envelope::{envelope, from_envelope};
use gridloop_proto::v1::EventEnvelope;
use prost::Message as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Events fetched per pull request.
const FETCH_BATCH: usize = 256;
/// How long a pull request waits for messages before it returns what it has.
const FETCH_WAIT: Duration = Duration::from_secs(1);
/// Pause after a transport error (NATS down, stream missing) before trying again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);
/// Longest pause between attempts while NATS stays away (the pause doubles up to it).
const RECONNECT_CEILING: Duration = Duration::from_secs(10);

/// Where and how the JetStream transport keeps events.
#[derive(Debug, Clone)]
pub struct JetStreamConfig {
    pub url: String,
    /// The events stream; dead letters go to `<stream>_DLQ`.
    pub stream: String,
    /// First token of every subject (`gridloop`), so deployments can share a NATS server.
    pub subject_prefix: String,
    pub replicas: usize,
    /// Events older than this are dropped from the stream (Postgres keeps them for good).
    pub max_age: Duration,
    /// Messages with an event id seen within this window are dropped as duplicates. Longer than
    /// the relay's retry horizon: a batch is republished within seconds of a crash.
    pub duplicate_window: Duration,
    /// Redelivery of an unacked message after this long (a consumer died mid-batch).
    pub ack_wait: Duration,
    /// Deliveries of one message before it is dead-lettered.
    pub max_deliver: i64,
    /// Delays before the 1st, 2nd, … redelivery of a nak'ed message (the last one repeats).
    pub backoff: Vec<Duration>,
    /// Credentials and TLS of the connection.
    pub auth: NatsAuth,
}

impl JetStreamConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            stream: "GRIDLOOP".into(),
            subject_prefix: "gridloop".into(),
            replicas: 1,
            max_age: Duration::from_secs(30 * 24 * 3600),
            duplicate_window: Duration::from_secs(10 * 60),
            ack_wait: Duration::from_secs(30),
            max_deliver: 20,
            backoff: [1, 2, 5, 10, 30].map(Duration::from_secs).to_vec(),
            auth: NatsAuth::default(),
        }
    }

    pub fn dead_letter_stream(&self) -> String {
        format!("{}_DLQ", self.stream)
    }

    /// The subject a consumer's dead letters go to.
    pub fn dead_letter_subject(&self, consumer: &str) -> String {
        format!("{}.dlq.{}", self.subject_prefix, durable_name(consumer))
    }

    fn nak_delay(&self, delivered: i64) -> Duration {
        let index = usize::try_from(delivered.saturating_sub(1)).unwrap_or(0);
        self.backoff.get(index).or(self.backoff.last()).copied().unwrap_or(Duration::from_secs(1))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JetStreamError {
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("JetStream: {0}")]
    Api(String),
    #[error("invalid NATS settings: {0}")]
    Config(String),
}

fn api(error: impl std::fmt::Display) -> JetStreamError {
    JetStreamError::Api(error.to_string())
}

/// NATS consumer names allow no dots: `dispatch.intake` → `dispatch_intake`.
fn durable_name(consumer: &str) -> String {
    consumer.replace('.', "_")
}

pub struct JetStreamBus {
    client: async_nats::Client,
    context: jetstream::Context,
    config: JetStreamConfig,
    /// Streams are created lazily (NATS may be down when the service starts).
    streams_ready: tokio::sync::Mutex<bool>,
    subscriptions: Mutex<Vec<Subscription>>,
    dead_letters: Mutex<Vec<DeadLetter>>,
    /// In-place retries before a failing event is nak'ed back to the server.
    policy: DeliveryPolicy,
}

impl JetStreamBus {
    /// Connects without waiting for the server: if NATS is down the client keeps reconnecting,
    /// publishes fail (events wait in the outbox) and consumers wait.
    pub async fn connect(config: JetStreamConfig, client_name: &str) -> Result<Arc<Self>, JetStreamError> {
        let options = config.auth.apply(async_nats::ConnectOptions::new()).await?;
        let client = options
            .name(client_name)
            .retry_on_initial_connect()
            .connect(config.url.as_str())
            .await
            .map_err(|e| JetStreamError::Connect { url: config.url.clone(), reason: e.to_string() })?;
        let mut context = jetstream::new(client.clone());
        context.set_timeout(Duration::from_secs(5));
        let policy = DeliveryPolicy { max_deliver: 3, ..DeliveryPolicy::default() };
        Ok(Arc::new(Self {
            client,
            context,
            config,
            streams_ready: tokio::sync::Mutex::new(false),
            subscriptions: Mutex::new(Vec::new()),
            dead_letters: Mutex::new(Vec::new()),
            policy,
        }))
    }

    pub fn config(&self) -> &JetStreamConfig {
        &self.config
    }

    /// Returns once the client is connected to a server (at once if it is).
    pub async fn connected(&self) {
        while self.client.connection_state() != async_nats::connection::State::Connected {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Create the events and dead-letter streams if absent (an existing stream is left as its
    /// operator configured it).
    pub async fn ensure_streams(&self) -> Result<(), JetStreamError> {
        let mut ready = self.streams_ready.lock().await;
        if *ready {
            return Ok(());
        }
        let prefix = &self.config.subject_prefix;
        self.context
            .get_or_create_stream(stream::Config {
                name: self.config.stream.clone(),
                subjects: vec![format!("{prefix}.evt.>")],
                storage: stream::StorageType::File,
                num_replicas: self.config.replicas,
                max_age: self.config.max_age,
                duplicate_window: self.config.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(api)?;
        self.context
            .get_or_create_stream(stream::Config {
                name: self.config.dead_letter_stream(),
                subjects: vec![format!("{prefix}.dlq.>")],
                storage: stream::StorageType::File,
                num_replicas: self.config.replicas,
                duplicate_window: self.config.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(api)?;
        *ready = true;
        Ok(())
    }

    /// Messages in the dead-letter stream (all consumers of this deployment).
    pub async fn dead_letter_count(&self) -> Result<u64, JetStreamError> {
        self.ensure_streams().await?;
        let mut stream = self.context.get_stream(self.config.dead_letter_stream()).await.map_err(api)?;
        Ok(stream.info().await.map_err(api)?.state.messages)
    }

    /// Start one pull-consumer task per subscription; they stop at `shutdown` after finishing
    /// the batch in hand.
    pub fn spawn_consumers(self: &Arc<Self>, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
        let subscriptions = self.subscriptions.lock().expect("subscription lock").clone();
        subscriptions
            .into_iter()
            .map(|subscription| tokio::spawn(self.clone().run_consumer(subscription, shutdown.clone())))
            .collect()
    }

    async fn consumer_for(
        &self,
        subscription: &Subscription,
    ) -> Result<jetstream::consumer::Consumer<pull::Config>, JetStreamError> {
        self.ensure_streams().await?;
        let [source] = subscription.sources.as_slice() else {
            return Err(JetStreamError::Api(format!(
                "consumer {} must read exactly one producing service",
                subscription.consumer
            )));
        };
        let name = durable_name(&subscription.consumer);
        let stream = self.context.get_stream(&self.config.stream).await.map_err(api)?;
        stream
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    description: Some(format!("gridloop consumer {}", subscription.consumer)),
                    filter_subject: format!("{}.evt.*.*.*.*.{source}.>", self.config.subject_prefix),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: self.config.ack_wait,
                    max_deliver: self.config.max_deliver,
                    max_ack_pending: 4 * FETCH_BATCH as i64,
                    ..Default::default()
                },
            )
            .await
            .map_err(api)
    }

    async fn run_consumer(self: Arc<Self>, subscription: Subscription, shutdown: CancellationToken) {
        let mut consumer = None;
        // NATS or the consumer gone: retried after pauses that double, not in a loop.
        let mut backoff = Backoff::new(RECONNECT_PAUSE, RECONNECT_CEILING);
        let mut backlog = Backlog::new(format!("consumer:{}", subscription.consumer));
        while !shutdown.is_cancelled() {
            if consumer.is_none() {
                match self.consumer_for(&subscription).await {
                    Ok(created) => consumer = Some(created),
                    Err(error) => {
                        let pause = backoff.failed();
                        tracing::warn!(consumer = %subscription.consumer, %error, "consumer not ready; retrying in {pause:?}");
                        pause_for(&shutdown, pause).await;
                        continue;
                    }
                }
            }
            let Some(pull) = consumer.as_mut() else { continue };
            let fetched = tokio::select! {
                _ = shutdown.cancelled() => break,
                fetched = fetch(pull) => fetched,
            };
            match fetched {
                Ok(messages) if messages.is_empty() => {
                    backoff.succeeded();
                    backlog.record(0, 0);
                }
                Ok(messages) => {
                    backoff.succeeded();
                    let taken = messages.len() as u64;
                    if let Err(error) = self.handle_fetched(&subscription, messages, &shutdown).await {
                        tracing::warn!(consumer = %subscription.consumer, %error, "acknowledging failed");
                    }
                    if let Ok(info) = pull.info().await {
                        metrics::gauge!("gridloop_consumer_lag", "consumer" => subscription.consumer.clone())
                            .set(info.num_pending as f64);
                        backlog.record(taken, info.num_pending);
                    }
                }
                Err(error) => {
                    let pause = backoff.failed();
                    tracing::warn!(consumer = %subscription.consumer, %error, "fetch failed; retrying in {pause:?}");
                    // The consumer may have been deleted with the stream: look it up again.
                    consumer = None;
                    pause_for(&shutdown, pause).await;
                }
            }
        }
    }

    /// Deliver one fetched batch and settle every message (ack, nak or dead-letter).
    async fn handle_fetched(
        &self,
        subscription: &Subscription,
        messages: Vec<jetstream::Message>,
        shutdown: &CancellationToken,
    ) -> Result<(), JetStreamError> {
        let mut wanted = Vec::with_capacity(messages.len());
        let mut events = Vec::with_capacity(messages.len());
        for message in messages {
            match EventEnvelope::decode(message.payload.as_ref())
                .map_err(|e| e.to_string())
                .and_then(|envelope| from_envelope(envelope).map_err(|e| e.to_string()))
            {
                Ok((source, event)) if subscription.wants(&source, &event.event_type) => {
                    wanted.push((message, source));
                    events.push(event);
                }
                // Another event type of the same producer: nothing to do.
                Ok(_) => message.ack().await.map_err(api)?,
                Err(reason) => self.dead_letter_message(subscription, &message, None, "", reason).await?,
            }
        }
        // Every message of one consumer comes from its one producer.
        let Some(source) = wanted.first().map(|(_, source)| source.clone()) else {
            return self.client.flush().await.map_err(api);
        };
        let mut pending: Vec<usize> = (0..wanted.len()).collect();
        let mut holds = 0;
        loop {
            let refs: Vec<&RecordedEvent> = pending.iter().map(|&i| &events[i]).collect();
            let outcomes = deliver(&self.policy, subscription, &source, &refs).await;
            let held = held_back(&refs, &outcomes);
            let mut kept = Vec::new();
            for ((&i, outcome), hold) in pending.iter().zip(outcomes).zip(held) {
                if hold {
                    kept.push(i);
                } else {
                    let (message, source) = &wanted[i];
                    self.settle(subscription, message, &events[i], source, outcome).await?;
                }
            }
            if kept.is_empty() {
                break;
            }
            holds += 1;
            if !self.hold(subscription, kept.iter().map(|&i| &wanted[i].0), holds, shutdown).await? {
                break;
            }
            pending = kept;
        }
        self.client.flush().await.map_err(api)
    }

    /// Ack, nak or dead-letter one delivered message by its outcome.
    async fn settle(
        &self,
        subscription: &Subscription,
        message: &jetstream::Message,
        event: &RecordedEvent,
        source: &str,
        outcome: Delivery,
    ) -> Result<(), JetStreamError> {
        let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
        match outcome {
            Delivery::Handled => message.ack().await.map_err(api),
            Delivery::Poison(reason) => {
                self.dead_letter_message(subscription, message, Some(event), source, reason).await
            }
            Delivery::Failed { reason, .. } if delivered >= self.config.max_deliver => {
                let reason = format!("gave up after {delivered} deliveries: {reason}");
                self.dead_letter_message(subscription, message, Some(event), source, reason).await
            }
            Delivery::Failed { .. } | Delivery::Deferred | Delivery::Unavailable(_) => {
                message.ack_with(AckKind::Nak(Some(self.config.nak_delay(delivered)))).await.map_err(api)
            }
        }
    }

    /// Keep `messages` while the consumer's store is unavailable: tell the server they are in
    /// progress (so it neither redelivers them nor counts a delivery), then pause. Returns false
    /// at shutdown, having handed them back for redelivery.
    async fn hold<'m>(
        &self,
        subscription: &Subscription,
        messages: impl Iterator<Item = &'m jetstream::Message>,
        holds: i64,
        shutdown: &CancellationToken,
    ) -> Result<bool, JetStreamError> {
        let messages: Vec<&jetstream::Message> = messages.collect();
        if shutdown.is_cancelled() {
            for message in messages {
                message.ack_with(AckKind::Nak(None)).await.map_err(api)?;
            }
            return Ok(false);
        }
        for message in &messages {
            message.ack_with(AckKind::Progress).await.map_err(api)?;
        }
        self.client.flush().await.map_err(api)?;
        // Progress must reach the server again within AckWait.
        let pause = self.config.nak_delay(holds).min(self.config.ack_wait / 2);
        tracing::warn!(consumer = %subscription.consumer, events = messages.len(), holds,
            "storage unavailable: holding the events; retrying in {pause:?}");
        pause_for(shutdown, pause).await;
        Ok(true)
    }

    /// Copy `message` to the consumer's dead-letter subject with the reason, then terminate it.
    async fn dead_letter_message(
        &self,
        subscription: &Subscription,
        message: &jetstream::Message,
        event: Option<&RecordedEvent>,
        source: &str,
        reason: String,
    ) -> Result<(), JetStreamError> {
        tracing::error!(consumer = %subscription.consumer, subject = %message.subject, %reason, "dead-lettered event");
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Gridloop-Consumer", subscription.consumer.as_str());
        headers.insert("Gridloop-Original-Subject", message.subject.as_str());
        // The reason is free text: keep it on one line, as headers require.
        headers.insert("Gridloop-Reason", reason.replace(['\r', '\n'], " ").as_str());
        let subject = self.config.dead_letter_subject(&subscription.consumer);
        self.context
            .publish_with_headers(subject, headers, message.payload.clone())
            .await
            .map_err(api)?
            .await
            .map_err(api)?;
        message.ack_with(AckKind::Term).await.map_err(api)?;
        self.dead_letters.lock().expect("dead letter lock").push(DeadLetter {
            consumer: subscription.consumer.clone(),
            source: source.to_string(),
            event_id: event.map(|e| e.event_id.to_string()).unwrap_or_default(),
            event_type: event.map(|e| e.event_type.clone()).unwrap_or_default(),
            reason,
        });
        Ok(())
    }
}

async fn fetch(
    consumer: &jetstream::consumer::Consumer<pull::Config>,
) -> Result<Vec<jetstream::Message>, JetStreamError> {
    let mut batch = consumer.fetch().max_messages(FETCH_BATCH).expires(FETCH_WAIT).messages().await.map_err(api)?;
    let mut messages = Vec::new();
    while let Some(message) = batch.next().await {
        messages.push(message.map_err(api)?);
    }
    Ok(messages)
}

/// Which delivered events to hold rather than settle: those the store could not take, and the
/// later events of the same cases (a case's events go in order). Events deferred behind an
/// ordinary failure are settled with it.
fn held_back(events: &[&RecordedEvent], outcomes: &[Delivery]) -> Vec<bool> {
    let unavailable_cases: std::collections::HashSet<&str> = events
        .iter()
        .zip(outcomes)
        .filter(|(_, outcome)| matches!(outcome, Delivery::Unavailable(_)))
        .map(|(event, _)| event.correlation_id.as_str())
        .collect();
    events
        .iter()
        .zip(outcomes)
        .map(|(event, outcome)| match outcome {
            Delivery::Unavailable(_) => true,
            Delivery::Deferred => unavailable_cases.contains(event.correlation_id.as_str()),
            _ => false,
        })
        .collect()
}

async fn pause_for(shutdown: &CancellationToken, how_long: Duration) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(how_long) => {}
    }
}

#[async_trait]
impl Bus for JetStreamBus {
    fn subscribe(&self, subscription: Subscription) -> Result<(), BusError> {
        register(&mut self.subscriptions.lock().expect("subscription lock"), subscription)
    }

    async fn publish(&self, source: &str, events: &[RecordedEvent]) -> Result<(), BusError> {
        let transport = |error: &dyn std::fmt::Display| BusError::Transport(error.to_string());
        self.ensure_streams().await.map_err(|e| transport(&e))?;
        let mut acks = Vec::with_capacity(events.len());
        for event in events {
            let subject = subject_for(&self.config.subject_prefix, &event.routing_key, source, &event.event_type);
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Gridloop-Source", source);
            headers.insert("Gridloop-Event-Type", event.event_type.as_str());
            headers.insert("Gridloop-Case-Id", event.correlation_id.as_str());
            if !event.traceparent.is_empty() {
                headers.insert("traceparent", event.traceparent.as_str());
            }
            let body = envelope(event, source).encode_to_vec();
            let publish = jetstream::message::PublishMessage::build()
                .payload(body.into())
                .headers(headers)
                .message_id(event.event_id.to_string());
            acks.push(self.context.send_publish(subject, publish).await.map_err(|e| transport(&e))?);
        }
        for ack in acks {
            ack.await.map_err(|e| transport(&e))?;
        }
        Ok(())
    }

    fn dead_letters(&self) -> Vec<DeadLetter> {
        self.dead_letters.lock().expect("dead letter lock").clone()
    }
}

/// Where a replay from JetStream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayStart {
    /// The oldest message the stream still holds.
    Beginning,
    /// A stream sequence number.
    Sequence(u64),
    /// The first message stored at or after this time.
    Time(chrono::DateTime<chrono::Utc>),
}

/// Reads one producer's events from the stream in order, from a start up to the last message
/// present when the reader opened: an ordered consumer (ephemeral, flow-controlled, no acks,
/// recreated by the client on a gap), so a replay leaves nothing behind on the server.
pub struct HistoryReader {
    messages: pull::Ordered,
    total: u64,
    read: u64,
}

impl HistoryReader {
    pub async fn open(config: &JetStreamConfig, source: &str, start: ReplayStart) -> Result<Self, JetStreamError> {
        let options = config.auth.apply(async_nats::ConnectOptions::new()).await?;
        let client = options
            .connect(config.url.as_str())
            .await
            .map_err(|e| JetStreamError::Connect { url: config.url.clone(), reason: e.to_string() })?;
        let context = jetstream::new(client);
        let stream = context.get_stream(&config.stream).await.map_err(api)?;
        let deliver_policy = match start {
            ReplayStart::Beginning => jetstream::consumer::DeliverPolicy::All,
            ReplayStart::Sequence(start_sequence) => {
                jetstream::consumer::DeliverPolicy::ByStartSequence { start_sequence }
            }
            ReplayStart::Time(at) => jetstream::consumer::DeliverPolicy::ByStartTime {
                start_time: time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.timestamp_micros()) * 1000)
                    .map_err(api)?,
            },
        };
        let mut consumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: format!("{}.evt.*.*.*.*.{source}.>", config.subject_prefix),
                deliver_policy,
                ..Default::default()
            })
            .await
            .map_err(api)?;
        let total = consumer.info().await.map_err(api)?.num_pending;
        let messages = consumer.messages().await.map_err(api)?;
        Ok(Self { messages, total, read: 0 })
    }

    /// Messages to read in all (those present when the reader opened).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Up to `max` further events in stream order; empty once all have been read.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>, JetStreamError> {
        let mut batch = Vec::with_capacity(max.min(4096));
        while self.read < self.total && batch.len() < max {
            let Some(message) = self.messages.next().await else { break };
            let message = message.map_err(api)?;
            self.read += 1;
            let envelope = EventEnvelope::decode(message.payload.as_ref()).map_err(api)?;
            let (_, event) = from_envelope(envelope).map_err(api)?;
            batch.push(event);
        }
        Ok(batch)
    }
}
