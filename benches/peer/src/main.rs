//! gridloop's event store side by side with cqrs-es + postgres-es, on the same Postgres, in
//! the same run.
//!
//! ```text
//! cargo run --release --manifest-path benches/peer/Cargo.toml -- <postgres-url> [aggregates] [events] [rounds]
//! ```
//!
//! Each side gets a schema of its own (dropped at the end) and does the same work: `aggregates`
//! (default 1,000) counters, each incremented `events` times (default 10), one command at a
//! time: load the aggregate's events, decide, append one event with the version it was decided
//! on; 64 writers at once, each with its share of the aggregates. Then every aggregate is
//! loaded, 64 at a time. cqrs-es runs each command through `CqrsFramework::execute` on
//! postgres-es's event repository; gridloop through `read_stream` and `commit` with the
//! expected version, as its services' command path does. The rounds (default 3) alternate the
//! two sides; the bench prints each round and the medians of the rates and of their ratios.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, DomainEvent, EventStore as _};
use futures::future::try_join_all;
use gridloop_eventstore::{Actor, Commit, EventStore, ExpectedVersion, NewEvent, StoreOptions};
use postgres_es::{PostgresCqrs, PostgresEventRepository};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use uuid::Uuid;

const WRITERS: usize = 64;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: peer-bench <postgres-url> [aggregates] [events] [rounds]")?;
    let aggregates: usize = args.next().map_or(Ok(1_000), |n| n.parse())?;
    let events: usize = args.next().map_or(Ok(10), |n| n.parse())?;
    let rounds: usize = args.next().map_or(Ok(3), |n| n.parse())?;
    println!("{aggregates} aggregates x {events} events, {WRITERS} writers, {rounds} rounds");

    let mut rates: [Vec<f64>; 4] = Default::default();
    let mut ratios: [Vec<f64>; 2] = Default::default();
    for round in 0..rounds {
        let ours = gridloop(&url, aggregates, events).await?;
        let peer = cqrs_es_side(&url, aggregates, events).await?;
        let [append, load] = [ours[0] / peer[0], ours[1] / peer[1]];
        println!(
            "round {round}: append gridloop {:>7.0} cqrs-es {:>7.0} events/s ({append:.1}x); \
             load gridloop {:>7.0} cqrs-es {:>7.0} aggregates/s ({load:.1}x)",
            ours[0], peer[0], ours[1], peer[1]
        );
        for (rates, value) in rates.iter_mut().zip([ours[0], peer[0], ours[1], peer[1]]) {
            rates.push(value);
        }
        ratios[0].push(append);
        ratios[1].push(load);
    }
    let [ours_append, peer_append, ours_load, peer_load] = rates.map(|mut rates| median(&mut rates));
    println!("medians: append gridloop {ours_append:.0}, cqrs-es {peer_append:.0} events/s");
    println!("         load gridloop {ours_load:.0}, cqrs-es {peer_load:.0} aggregates/s");
    println!(
        "ratio gridloop / cqrs-es (median of rounds): append {:.1}x, load {:.1}x",
        median(&mut ratios[0]),
        median(&mut ratios[1])
    );
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The aggregates of writer `writer`: every 64th, from its number on.
fn share(writer: usize, aggregates: usize) -> impl Iterator<Item = String> {
    (writer..aggregates).step_by(WRITERS).map(|n| format!("counter-{n}"))
}

/// Events per second appended, aggregates per second loaded.
fn rates(aggregates: usize, events: usize, append: Duration, load: Duration) -> [f64; 2] {
    [(aggregates * events) as f64 / append.as_secs_f64(), aggregates as f64 / load.as_secs_f64()]
}

// ---------------------------------------------------------------------------------------
// The counter, the same on both sides

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum CounterEvent {
    Incremented { by: u64, total: u64 },
}

impl DomainEvent for CounterEvent {
    fn event_type(&self) -> String {
        "Incremented".into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug)]
struct Increment;

#[derive(Debug, thiserror::Error)]
#[error("counter refused the command")]
struct CounterError;

#[derive(Default, Serialize, Deserialize)]
struct Counter {
    total: u64,
}

impl Counter {
    fn decide(&self, _: Increment) -> CounterEvent {
        CounterEvent::Incremented { by: 1, total: self.total + 1 }
    }

    fn evolve(&mut self, event: CounterEvent) {
        let CounterEvent::Incremented { total, .. } = event;
        self.total = total;
    }
}

impl Aggregate for Counter {
    const TYPE: &'static str = "counter";
    type Command = Increment;
    type Event = CounterEvent;
    type Error = CounterError;
    type Services = ();

    async fn handle(&mut self, command: Increment, _: &(), sink: &EventSink<Self>) -> Result<(), CounterError> {
        let event = self.decide(command);
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: CounterEvent) {
        self.evolve(event);
    }
}

// ---------------------------------------------------------------------------------------
// gridloop

async fn gridloop(url: &str, aggregates: usize, events: usize) -> Result<[f64; 2], Error> {
    let schema = format!("peer_gridloop_{}", Uuid::now_v7().simple());
    let store = EventStore::connect(
        url,
        StoreOptions { schema: Some(schema.clone()), max_connections: 16, ..StoreOptions::default() },
    )
    .await?;
    let start = Instant::now();
    try_join_all((0..WRITERS).map(|writer| {
        let store = store.clone();
        tokio::spawn(async move {
            for stream in share(writer, aggregates) {
                for _ in 0..events {
                    let (counter, version) = load_counter(&store, &stream).await?;
                    let event = counter.decide(Increment);
                    let commit = Commit::append(&stream, ExpectedVersion::Exact(version), vec![new_event(&event)?]);
                    store.commit(commit).await?;
                }
            }
            Ok::<_, Error>(())
        })
    }))
    .await?
    .into_iter()
    .collect::<Result<(), _>>()?;
    let append = start.elapsed();

    let start = Instant::now();
    let loaded = try_join_all((0..WRITERS).map(|writer| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut total = 0;
            for stream in share(writer, aggregates) {
                total += load_counter(&store, &stream).await?.0.total;
            }
            Ok::<_, Error>(total)
        })
    }))
    .await?;
    let load = start.elapsed();
    let total: u64 = loaded.into_iter().collect::<Result<Vec<u64>, _>>()?.into_iter().sum();
    if total != (aggregates * events) as u64 {
        return Err(format!("gridloop counted {total}, expected {}", aggregates * events).into());
    }
    store.pool().execute(format!("DROP SCHEMA {schema} CASCADE").as_str()).await?;
    Ok(rates(aggregates, events, append, load))
}

async fn load_counter(store: &EventStore, stream: &str) -> Result<(Counter, u64), Error> {
    let mut counter = Counter::default();
    let mut version = 0;
    for recorded in store.read_stream(stream, 1).await? {
        counter.evolve(serde_json::from_slice(&recorded.payload)?);
        version = recorded.stream_version;
    }
    Ok((counter, version))
}

fn new_event(event: &CounterEvent) -> Result<NewEvent, Error> {
    Ok(NewEvent {
        event_id: Uuid::now_v7(),
        event_type: event.event_type(),
        occurred_at: chrono::Utc::now(),
        correlation_id: String::new(),
        causation_id: String::new(),
        actor: Actor::default(),
        traceparent: String::new(),
        schema_version: 1,
        routing_key: String::new(),
        payload: serde_json::to_vec(event)?,
    })
}

// ---------------------------------------------------------------------------------------
// cqrs-es + postgres-es

async fn cqrs_es_side(url: &str, aggregates: usize, events: usize) -> Result<[f64; 2], Error> {
    let schema = format!("peer_cqrs_es_{}", Uuid::now_v7().simple());
    let pool = schema_pool(url, &schema).await?;
    pool.execute(include_str!("postgres_es.sql")).await?;
    let cqrs: Arc<PostgresCqrs<Counter>> = Arc::new(postgres_es::postgres_cqrs(pool.clone(), Vec::new(), ()));

    let start = Instant::now();
    try_join_all((0..WRITERS).map(|writer| {
        let cqrs = Arc::clone(&cqrs);
        tokio::spawn(async move {
            for aggregate in share(writer, aggregates) {
                for _ in 0..events {
                    cqrs.execute(&aggregate, Increment).await?;
                }
            }
            Ok::<_, Error>(())
        })
    }))
    .await?
    .into_iter()
    .collect::<Result<(), _>>()?;
    let append = start.elapsed();

    let store =
        Arc::new(PersistedEventStore::<_, Counter>::new_event_store(PostgresEventRepository::new(pool.clone())));
    let start = Instant::now();
    let loaded = try_join_all((0..WRITERS).map(|writer| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut total = 0;
            for aggregate in share(writer, aggregates) {
                let mut context = store.load_aggregate(&aggregate).await?;
                total += cqrs_es::AggregateContext::aggregate(&mut context).total;
            }
            Ok::<_, Error>(total)
        })
    }))
    .await?;
    let load = start.elapsed();
    let total: u64 = loaded.into_iter().collect::<Result<Vec<u64>, _>>()?.into_iter().sum();
    if total != (aggregates * events) as u64 {
        return Err(format!("cqrs-es counted {total}, expected {}", aggregates * events).into());
    }
    pool.execute(format!("DROP SCHEMA {schema} CASCADE").as_str()).await?;
    Ok(rates(aggregates, events, append, load))
}

/// A pool whose connections work in `schema` (created here), as many as gridloop's store may open.
async fn schema_pool(url: &str, schema: &str) -> Result<PgPool, Error> {
    let admin = PgPoolOptions::new().max_connections(1).connect(url).await?;
    admin.execute(format!("CREATE SCHEMA {schema}").as_str()).await?;
    admin.close().await;
    let set_path: Arc<str> = format!("SET search_path TO {schema}").into();
    Ok(PgPoolOptions::new()
        .max_connections(16)
        .after_connect(move |conn, _| {
            let set_path = Arc::clone(&set_path);
            Box::pin(async move { conn.execute(&*set_path).await.map(drop) })
        })
        .connect(url)
        .await?)
}
