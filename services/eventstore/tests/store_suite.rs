//! One suite, both backends: every test is an `async fn(Harness)` instantiated by
//! `store_suite!` as `sqlite::<name>` (a temporary file) and `postgres::<name>` (a fresh
//! schema in the database at `GRIDLOOP_TEST_DATABASE_URL`, dropped afterwards).
//!
//! If Postgres is unreachable, the Postgres tests fail when `CI=true` and are skipped with a
//! warning otherwise.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use gridloop_eventstore::{
    Actor, Backend, Commit, DueTimer, EventStore, ExpectedVersion, NewEvent, NewTimer, RecordedEvent, StoreError,
    StoreOptions, StreamAppend,
};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, Connection, Executor, Row};
use uuid::Uuid;

/// How a test reaches its store; `connect` may be called again to reopen it.
#[derive(Clone)]
struct Harness {
    url: String,
    options: StoreOptions,
}

impl Harness {
    async fn connect(&self) -> EventStore {
        EventStore::connect(&self.url, self.options.clone()).await.expect("connect to the store")
    }
}

async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}/gridloop-data/store.db", dir.path().display());
    test(Harness { url, options: StoreOptions::default() }).await;
}

async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = gridloop_eventstore::testing::postgres_url() else { return };
    sqlx::any::install_default_drivers();
    let mut admin = AnyConnection::connect(&url).await.unwrap_or_else(|e| panic!("connect to Postgres at {url}: {e}"));
    let schema = format!("t_{}", Uuid::now_v7().simple());
    let harness = Harness { url, options: StoreOptions { schema: Some(schema.clone()), ..StoreOptions::default() } };
    let outcome = tokio::spawn(test(harness)).await;
    admin.execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str()).await.expect("drop the test schema");
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run_sqlite(crate::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run_postgres(crate::$name).await;
                }
            )*
        }
    };
}

store_suite!(
    append_and_read_back,
    expected_version_conflicts_write_nothing,
    multi_stream_commit_is_atomic,
    outbox_tracks_unrelayed_events,
    an_outbox_of_single_positions_becomes_ranges_on_upgrade,
    outbox_batches_take_in_what_another_process_wrote,
    reads_see_every_commit_also_after_reads_cut_short,
    checkpoints_save_load_overwrite,
    inbox_makes_consumers_idempotent,
    old_inbox_entries_are_pruned_and_recent_ones_kept,
    timers_fire_exactly_once,
    group_commit_isolates_failures,
    concurrent_writers_never_make_a_follower_skip,
    two_processes_fire_a_timer_and_claim_an_event_once,
    text_with_quotes_backslashes_and_braces_round_trips,
    store_tx_serves_read_models,
    a_store_tx_that_ends_without_commit_frees_the_database,
    a_batch_consumer_claims_its_inbox_in_one_go,
    watch_head_follows_commits,
    scheduled_timers_wake_the_timer_loop_with_the_earliest_due_time,
    data_survives_reopening,
    a_bulk_load_ends_with_its_events_in_the_database_file,
    a_scan_hands_over_a_range_in_order_in_pages,
);

// ---------------------------------------------------------------------------------------
// Helpers

/// An event whose every envelope field is distinct and non-trivial.
fn event(tag: &str) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: format!("gridloop.v1.Test{tag}"),
        // Nanoseconds: the store keeps microseconds.
        occurred_at: DateTime::from_timestamp(1_760_000_000, 123_456_789).unwrap(),
        correlation_id: format!("case-{tag}"),
        causation_id: format!("cause-{tag}"),
        actor: Actor { role: "dispatcher".into(), id: format!("user-{tag}"), jurisdiction: "110101001001001".into() },
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        schema_version: 3,
        routing_key: "110101001001001".into(),
        payload: format!("payload {tag} \u{0}\u{ff}").into_bytes(),
    }
}

fn events(tag: &str, count: usize) -> Vec<NewEvent> {
    (0..count).map(|i| event(&format!("{tag}-{i}"))).collect()
}

fn assert_envelope(recorded: &RecordedEvent, new: &NewEvent) {
    assert_eq!(recorded.event_id, new.event_id);
    assert_eq!(recorded.event_type, new.event_type);
    assert_eq!(recorded.occurred_at, DateTime::from_timestamp(1_760_000_000, 123_456_000).unwrap());
    assert_eq!(recorded.correlation_id, new.correlation_id);
    assert_eq!(recorded.causation_id, new.causation_id);
    assert_eq!(recorded.actor, new.actor);
    assert_eq!(recorded.traceparent, new.traceparent);
    assert_eq!(recorded.schema_version, new.schema_version);
    assert_eq!(recorded.routing_key, new.routing_key);
    assert_eq!(recorded.payload, new.payload);
}

fn positions(events: &[RecordedEvent]) -> Vec<i64> {
    events.iter().map(|e| e.global_position).collect()
}

/// Base time for timer tests, at microsecond precision.
fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 250_000_000).unwrap()
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn timer(key: &str, due_at: DateTime<Utc>) -> NewTimer {
    NewTimer { key: key.into(), due_at, kind: format!("kind-{key}"), payload: key.as_bytes().to_vec() }
}

async fn schedule(store: &EventStore, timers: Vec<NewTimer>) {
    store.commit(Commit { schedule: timers, ..Commit::default() }).await.unwrap();
}

async fn due(store: &EventStore, now: DateTime<Utc>) -> Vec<DueTimer> {
    store.due_timers(now, 100).await.unwrap()
}

fn fire(key: &str, generation: i64) -> Commit {
    Commit { fire: Some((key.into(), generation)), ..Commit::default() }
}

/// A small deterministic generator for sleeps and sizes.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

// ---------------------------------------------------------------------------------------
// Tests

async fn append_and_read_back(h: Harness) {
    let store = h.connect().await;
    if store.backend() == Backend::Postgres {
        let schema: String =
            sqlx::query_scalar("SELECT CAST(current_schema() AS TEXT)").fetch_one(store.pool()).await.unwrap();
        assert_eq!(Some(schema), h.options.schema);
    }
    assert_eq!(store.head_position().await.unwrap(), 0);
    assert_eq!(store.stream_version("case-1").await.unwrap(), 0);
    assert!(store.read_stream("case-1", 1).await.unwrap().is_empty());

    let mut new = events("a", 2);
    new[1].payload = Vec::new();
    let before = Utc::now() - secs(1);
    let committed = store.commit(Commit::append("case-1", ExpectedVersion::NoStream, new.clone())).await.unwrap();
    assert_eq!(committed.head, 2);
    assert_eq!(committed.events.len(), 2);
    for (i, (recorded, new)) in committed.events.iter().zip(&new).enumerate() {
        assert_eq!(recorded.global_position, i as i64 + 1);
        assert_eq!(recorded.stream, "case-1");
        assert_eq!(recorded.stream_version, i as u64 + 1);
        assert!(recorded.recorded_at > before && recorded.recorded_at < Utc::now() + secs(1));
        assert_envelope(recorded, new);
    }

    let other = store.commit(Commit::append("case-2", ExpectedVersion::Exact(0), events("b", 1))).await.unwrap();
    assert_eq!(positions(&other.events), [3]);
    assert_eq!(other.events[0].stream_version, 1);

    assert_eq!(store.read_stream("case-1", 1).await.unwrap(), committed.events);
    assert_eq!(store.read_stream("case-1", 0).await.unwrap(), committed.events);
    assert_eq!(store.read_stream("case-1", 2).await.unwrap(), committed.events[1..]);
    assert!(store.read_stream("case-1", 3).await.unwrap().is_empty());
    assert_eq!(store.stream_version("case-1").await.unwrap(), 2);
    assert_eq!(store.stream_version("case-2").await.unwrap(), 1);
    let asked = ["case-2".to_string(), "case-9".to_string(), "case-1".to_string()];
    let versions = store.stream_versions(&asked).await.unwrap();
    assert_eq!(versions, [("case-1".to_string(), 2), ("case-2".to_string(), 1)].into_iter().collect());

    let all = store.read_all(0, 10).await.unwrap();
    assert_eq!(all[..2], committed.events[..]);
    assert_eq!(all[2..], other.events[..]);
    assert_eq!(positions(&store.read_all(1, 10).await.unwrap()), [2, 3]);
    assert_eq!(positions(&store.read_all(0, 1).await.unwrap()), [1]);
    assert!(store.read_all(3, 10).await.unwrap().is_empty());
    assert_eq!(store.head_position().await.unwrap(), 3);

    let empty = store.commit(Commit::default()).await.unwrap();
    assert!(empty.events.is_empty());
    assert_eq!(empty.head, 3);
    // An append of no events still checks the version it expects.
    assert!(store.commit(Commit::append("case-1", ExpectedVersion::Exact(2), vec![])).await.is_ok());
    assert!(matches!(
        store.commit(Commit::append("case-1", ExpectedVersion::Exact(5), vec![])).await,
        Err(StoreError::Conflict { actual: 2, .. })
    ));
}

/// Every page of a scan, in order, until it ends.
async fn scanned(store: &EventStore, after: i64, head: i64, page: u32) -> Vec<Vec<RecordedEvent>> {
    let mut pages = store.scan(after, head, page);
    let mut all = Vec::new();
    while let Some(page) = pages.recv().await {
        all.push(page.unwrap());
    }
    all
}

async fn a_scan_hands_over_a_range_in_order_in_pages(h: Harness) {
    let store = h.connect().await;
    let first = store.commit(Commit::append("case-1", ExpectedVersion::NoStream, events("a", 5))).await.unwrap();
    let second = store.commit(Commit::append("case-2", ExpectedVersion::NoStream, events("b", 2))).await.unwrap();
    let all = [first.events, second.events].concat();

    let pages = scanned(&store, 0, 7, 3).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    assert_eq!(pages.concat(), all, "every column as committed, in position order");
    // A range: after position 2, up to the head it was given (later commits left out).
    store.commit(Commit::append("case-3", ExpectedVersion::NoStream, events("c", 1))).await.unwrap();
    assert_eq!(positions(&scanned(&store, 2, 7, 10).await.concat()), [3, 4, 5, 6, 7]);
    assert!(scanned(&store, 7, 7, 10).await.is_empty());
    // A reader that stops early ends the scan without an error.
    let mut pages = store.scan(0, 8, 1);
    assert_eq!(positions(&pages.recv().await.unwrap().unwrap()), [1]);
    drop(pages);
    assert_eq!(store.head_position().await.unwrap(), 8);
}

async fn expected_version_conflicts_write_nothing(h: Harness) {
    let store = h.connect().await;
    store.commit(Commit::append("s", ExpectedVersion::NoStream, events("s", 2))).await.unwrap();

    let retried = event("retry");
    for expected in
        [ExpectedVersion::NoStream, ExpectedVersion::Exact(0), ExpectedVersion::Exact(1), ExpectedVersion::Exact(3)]
    {
        let result = store.commit(Commit::append("s", expected, vec![retried.clone()])).await;
        match result {
            Err(StoreError::Conflict { stream, expected: reported, actual }) => {
                assert_eq!(stream, "s");
                assert_eq!(reported, expected);
                assert_eq!(actual, 2);
            }
            other => panic!("expected a conflict for {expected:?}, got {other:?}"),
        }
    }
    assert_eq!(store.stream_version("s").await.unwrap(), 2);
    assert_eq!(store.head_position().await.unwrap(), 2);
    assert_eq!(store.outbox_depth().await.unwrap(), 2);

    // The rejected event was not stored, so the same event can be appended correctly.
    let ok = store.commit(Commit::append("s", ExpectedVersion::Exact(2), vec![retried])).await.unwrap();
    assert_eq!(ok.events[0].stream_version, 3);
    let any = store.commit(Commit::append("s", ExpectedVersion::Any, events("any", 1))).await.unwrap();
    assert_eq!(any.events[0].stream_version, 4);
    assert_eq!(positions(&store.read_all(0, 10).await.unwrap()), [1, 2, 3, 4]);
}

/// A batch load (an import's big commits) keeps every event, and on SQLite leaves them in the
/// database file with the WAL checkpointed and truncated; writes go on as before afterwards.
async fn a_bulk_load_ends_with_its_events_in_the_database_file(h: Harness) {
    let store = h.connect().await;
    store.prepare_bulk_load().await.expect("prepare the bulk load");
    for batch in 0..4 {
        let appends = (0..500)
            .map(|i| StreamAppend {
                stream: format!("case-{batch}-{i}"),
                expected: ExpectedVersion::NoStream,
                events: events(&format!("{batch}-{i}"), 4),
            })
            .collect();
        store.commit(Commit { appends, ..Commit::default() }).await.expect("a commit of 500 streams");
    }
    store.finish_bulk_load().await.expect("finish the bulk load");
    assert_eq!(store.head_position().await.unwrap(), 8_000);
    if let Some(file) = h.url.strip_prefix("sqlite://") {
        let wal = std::fs::metadata(format!("{file}-wal")).map_or(0, |m| m.len());
        assert_eq!(wal, 0, "the WAL is checkpointed into the database file and truncated");
        let size = std::fs::metadata(file).expect("the database file").len();
        assert!(size > 8_000 * 100, "the database file holds the events ({size} bytes)");
    }
    let after = store.commit(Commit::append("case-0-0", ExpectedVersion::Exact(4), events("after", 1))).await;
    assert_eq!(after.expect("a commit after the bulk load").events[0].global_position, 8_001);
    assert_eq!(store.read_stream("case-3-499", 1).await.unwrap().len(), 4);
}

async fn multi_stream_commit_is_atomic(h: Harness) {
    let store = h.connect().await;
    store.commit(Commit::append("a", ExpectedVersion::NoStream, events("a", 1))).await.unwrap();
    schedule(&store, vec![timer("keep", t0())]).await;
    let claim = ("projector".to_owned(), Uuid::now_v7());

    let failing = Commit {
        appends: vec![
            StreamAppend { stream: "b".into(), expected: ExpectedVersion::NoStream, events: events("b", 2) },
            StreamAppend { stream: "a".into(), expected: ExpectedVersion::NoStream, events: events("a2", 1) },
        ],
        schedule: vec![timer("new", t0())],
        cancel: vec!["keep".into()],
        fire: None,
        inbox: Some(claim.clone()),
    };
    assert!(matches!(
        store.commit(failing.clone()).await,
        Err(StoreError::Conflict { ref stream, actual: 1, .. }) if stream == "a"
    ));
    assert_eq!(store.stream_version("b").await.unwrap(), 0);
    assert_eq!(store.head_position().await.unwrap(), 1);
    assert_eq!(store.outbox_depth().await.unwrap(), 1);
    let keys: Vec<String> = due(&store, t0()).await.into_iter().map(|t| t.key).collect();
    assert_eq!(keys, ["keep"]);

    // Fixed, the same commit goes through whole, inbox claim included.
    let mut fixed = failing;
    fixed.appends[1].expected = ExpectedVersion::Exact(1);
    let committed = store.commit(fixed).await.unwrap();
    assert_eq!(positions(&committed.events), [2, 3, 4]);
    assert_eq!(store.stream_version("a").await.unwrap(), 2);
    assert_eq!(store.stream_version("b").await.unwrap(), 2);
    let keys: Vec<String> = due(&store, t0()).await.into_iter().map(|t| t.key).collect();
    assert_eq!(keys, ["new"]);

    // Two appends to the same stream in one commit see each other.
    let twice = Commit {
        appends: vec![
            StreamAppend { stream: "c".into(), expected: ExpectedVersion::NoStream, events: events("c1", 1) },
            StreamAppend { stream: "c".into(), expected: ExpectedVersion::Exact(1), events: events("c2", 2) },
        ],
        ..Commit::default()
    };
    let committed = store.commit(twice).await.unwrap();
    let versions: Vec<u64> = committed.events.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, [1, 2, 3]);
}

async fn outbox_batches_take_in_what_another_process_wrote(h: Harness) {
    let store = h.connect().await;
    let other = h.connect().await;
    store.commit(Commit::append("a", ExpectedVersion::Any, events("a", 2))).await.unwrap();
    other.commit(Commit::append("b", ExpectedVersion::Any, events("b", 1))).await.unwrap();
    store.commit(Commit::append("a", ExpectedVersion::Any, events("a", 2))).await.unwrap();
    // This process wrote 1, 2, 4 and 5; the outbox fills the gap.
    let batch = store.outbox_batch(0, 10).await.unwrap();
    assert_eq!(positions(&batch), [1, 2, 3, 4, 5]);
    assert_eq!(batch, store.read_all(0, 10).await.unwrap());
    assert_eq!(positions(&store.outbox_batch(1, 3).await.unwrap()), [2, 3, 4]);
    assert_eq!(store.outbox_batch(3, 10).await.unwrap(), store.read_all(3, 10).await.unwrap());

    // A read model's transaction: its events once committed, none if it rolls back.
    let mut tx = store.begin().await.unwrap();
    tx.apply(Commit::append("c", ExpectedVersion::Any, events("c", 1))).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.apply(Commit::append("d", ExpectedVersion::Any, events("d", 1))).await.unwrap();
    drop(tx);
    assert_eq!(store.outbox_batch(5, 10).await.unwrap(), store.read_all(5, 10).await.unwrap());
    assert_eq!(positions(&store.outbox_batch(5, 10).await.unwrap()), [6]);

    // Acknowledged events are not served again.
    store.outbox_ack(&[1, 2, 3, 4, 5]).await.unwrap();
    assert_eq!(positions(&store.outbox_batch(0, 10).await.unwrap()), [6]);
    assert_eq!(positions(&store.outbox_batch(2, 10).await.unwrap()), [6]);
}

async fn reads_see_every_commit_also_after_reads_cut_short(h: Harness) {
    let store = h.connect().await;
    store.commit(Commit::append("r", ExpectedVersion::Any, events("r", 300))).await.unwrap();
    // Reads dropped before they finish: their connections go back to the store mid-statement.
    let mut cut_short = 0;
    for _ in 0..20 {
        if tokio::time::timeout(Duration::from_micros(1), store.read_stream("r", 1)).await.is_err() {
            cut_short += 1;
        }
    }
    assert!(cut_short > 0, "no read was cut short");
    store.commit(Commit::append("r", ExpectedVersion::Exact(300), events("s", 1))).await.unwrap();
    // The reads after them get the connection those left (the last one back is handed out
    // first): it is not stuck in an old snapshot.
    for _ in 0..20 {
        assert_eq!(store.read_stream("r", 1).await.unwrap().len(), 301);
        let mut reader = store.reader().await.unwrap();
        let version: i64 = sqlx::query_scalar("SELECT MAX(stream_version) FROM events WHERE stream = 'r'")
            .fetch_one(&mut *reader)
            .await
            .unwrap();
        assert_eq!(version, 301);
    }
}

async fn outbox_tracks_unrelayed_events(h: Harness) {
    let store = h.connect().await;
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    assert!(store.outbox_batch(0, 10).await.unwrap().is_empty());
    for (stream, count) in [("x", 2), ("y", 1), ("x", 2)] {
        store.commit(Commit::append(stream, ExpectedVersion::Any, events(stream, count))).await.unwrap();
    }
    assert_eq!(store.outbox_depth().await.unwrap(), 5);
    assert_eq!(positions(&store.outbox_batch(0, 2).await.unwrap()), [1, 2]);
    let batch = store.outbox_batch(0, 10).await.unwrap();
    assert_eq!(batch, store.read_all(0, 10).await.unwrap());

    store.outbox_ack(&[1, 2]).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 3);
    assert_eq!(positions(&store.outbox_batch(0, 10).await.unwrap()), [3, 4, 5]);
    // A relay that has published up to 3 reads on from there.
    assert_eq!(positions(&store.outbox_batch(3, 10).await.unwrap()), [4, 5]);
    store.outbox_ack(&[5, 3]).await.unwrap();
    assert_eq!(positions(&store.outbox_batch(0, 10).await.unwrap()), [4]);
    assert!(store.outbox_batch(4, 10).await.unwrap().is_empty());
    store.outbox_ack(&[]).await.unwrap();
    store.outbox_ack(&[4, 4, 1]).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    // Relayed events stay in the log.
    assert_eq!(store.read_all(0, 10).await.unwrap().len(), 5);

    // One commit's events are one range of the outbox: acknowledging some of them cuts it.
    store.commit(Commit::append("z", ExpectedVersion::Any, events("z", 6))).await.unwrap();
    store.commit(Commit::append("w", ExpectedVersion::Any, events("w", 2))).await.unwrap();
    store.outbox_ack(&[8, 7]).await.unwrap(); // the middle of 6..=11
    assert_eq!(store.outbox_depth().await.unwrap(), 6);
    assert_eq!(positions(&store.outbox_batch(0, 10).await.unwrap()), [6, 9, 10, 11, 12, 13]);
    assert_eq!(positions(&store.outbox_batch(6, 2).await.unwrap()), [9, 10]);
    store.outbox_ack(&[6, 11, 12]).await.unwrap(); // both ends, and across two ranges
    assert_eq!(positions(&store.outbox_batch(0, 10).await.unwrap()), [9, 10, 13]);
    store.outbox_ack(&[9, 10, 13, 14]).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
    assert!(store.outbox_batch(0, 10).await.unwrap().is_empty());
}

async fn an_outbox_of_single_positions_becomes_ranges_on_upgrade(h: Harness) {
    // The store as the version before ranges left it: its first two migrations, events 1..=6,
    // of which 1, 2, 4 and 6 not yet relayed (an outbox row each).
    sqlx::any::install_default_drivers();
    let backend = if h.url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
    let earlier = tempfile::tempdir().unwrap();
    for file in ["0001_eventstore.sql", "0002_inbox_retention.sql"] {
        let from = format!("{}/migrations/{backend}/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(from, earlier.path().join(file)).unwrap();
    }
    let pool = match h.options.schema.clone() {
        Some(schema) => {
            let mut admin = AnyConnection::connect(&h.url).await.unwrap();
            admin.execute(format!("CREATE SCHEMA {schema}").as_str()).await.unwrap();
            let set_path: Arc<str> = format!("SET search_path TO {schema}").into();
            AnyPoolOptions::new()
                .max_connections(1)
                .after_connect(move |conn, _| {
                    let set_path = Arc::clone(&set_path);
                    Box::pin(async move { conn.execute(&*set_path).await.map(drop) })
                })
                .connect(&h.url)
                .await
                .unwrap()
        }
        None => {
            let path = h.url.strip_prefix("sqlite://").unwrap();
            std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
            AnyPoolOptions::new().max_connections(1).connect(&format!("{}?mode=rwc", h.url)).await.unwrap()
        }
    };
    sqlx::migrate::Migrator::new(earlier.path()).await.unwrap().run(&pool).await.unwrap();
    for position in 1..=6_i64 {
        sqlx::query(
            "INSERT INTO events (global_position, stream, stream_version, event_id, event_type, occurred_at, \
             recorded_at, correlation_id, causation_id, actor_role, actor_id, actor_jurisdiction, traceparent, \
             schema_version, routing_key, payload) \
             VALUES ($1, 'old', $2, $3, 't', 0, 0, 'c', 'c', 'r', 'i', 'j', 'tp', 1, 'rk', $4)",
        )
        .bind(position)
        .bind(position)
        .bind(Uuid::now_v7().to_string())
        .bind(vec![position as u8])
        .execute(&pool)
        .await
        .unwrap();
    }
    for position in [1_i64, 2, 4, 6] {
        sqlx::query("INSERT INTO outbox (global_position) VALUES ($1)").bind(position).execute(&pool).await.unwrap();
    }
    sqlx::query("UPDATE sequencer SET position = 6").execute(&pool).await.unwrap();
    pool.close().await;

    let store = h.connect().await;
    assert_eq!(store.outbox_depth().await.unwrap(), 4);
    assert_eq!(positions(&store.outbox_batch(0, 10).await.unwrap()), [1, 2, 4, 6]);
    store.outbox_ack(&[2, 4]).await.unwrap();
    assert_eq!(positions(&store.outbox_batch(0, 10).await.unwrap()), [1, 6]);
    let next = store.commit(Commit::append("old", ExpectedVersion::Exact(6), events("new", 1))).await.unwrap();
    assert_eq!(positions(&next.events), [7]);
}

async fn checkpoints_save_load_overwrite(h: Harness) {
    let store = h.connect().await;
    assert_eq!(store.load_checkpoint("relay").await.unwrap(), None);
    store.save_checkpoint("relay", 5).await.unwrap();
    assert_eq!(store.load_checkpoint("relay").await.unwrap(), Some(5));
    store.save_checkpoint("relay", 42).await.unwrap();
    store.save_checkpoint("projector", 7).await.unwrap();
    assert_eq!(store.load_checkpoint("relay").await.unwrap(), Some(42));
    assert_eq!(store.load_checkpoint("projector").await.unwrap(), Some(7));
}

async fn inbox_makes_consumers_idempotent(h: Harness) {
    let store = h.connect().await;
    let handled = Uuid::now_v7();
    let handle = |consumer: &str, tag: &str| Commit {
        inbox: Some((consumer.into(), handled)),
        ..Commit::append("p", ExpectedVersion::Any, events(tag, 1))
    };
    assert!(!store.inbox_contains("projector", handled).await.unwrap());
    store.commit(handle("projector", "first")).await.unwrap();
    assert!(store.inbox_contains("projector", handled).await.unwrap());
    assert!(!store.inbox_contains("notifier", handled).await.unwrap(), "per consumer");
    match store.commit(handle("projector", "again")).await {
        Err(StoreError::AlreadyProcessed { consumer, event_id }) => {
            assert_eq!(consumer, "projector");
            assert_eq!(event_id, handled);
        }
        other => panic!("expected AlreadyProcessed, got {other:?}"),
    }
    assert_eq!(store.stream_version("p").await.unwrap(), 1);
    assert_eq!(store.head_position().await.unwrap(), 1);

    // Another consumer handles the same event independently.
    store.commit(handle("notifier", "other")).await.unwrap();

    // Concurrent deliveries of the same event: exactly one handler wins.
    let redelivered = Uuid::now_v7();
    let deliveries = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .commit(Commit {
                    inbox: Some(("mailer".into(), redelivered)),
                    ..Commit::append("m", ExpectedVersion::Any, events(&format!("m{i}"), 1))
                })
                .await
        })
    });
    let results = futures::future::join_all(deliveries).await;
    let won = results.iter().filter(|r| r.as_ref().unwrap().is_ok()).count();
    assert_eq!(won, 1);
    for result in results {
        if let Err(error) = result.unwrap() {
            assert!(matches!(error, StoreError::AlreadyProcessed { .. }), "{error}");
        }
    }
    assert_eq!(store.stream_version("m").await.unwrap(), 1);
}

async fn old_inbox_entries_are_pruned_and_recent_ones_kept(h: Harness) {
    let store = h.connect().await;
    let handled: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    for (i, event_id) in handled.iter().enumerate() {
        let commit = Commit {
            inbox: Some(("projector".into(), *event_id)),
            ..Commit::append("p", ExpectedVersion::Any, events(&format!("p{i}"), 1))
        };
        store.commit(commit).await.unwrap();
    }
    // Entries are stamped with the commit's wall-clock time: a cutoff before it keeps them all.
    assert_eq!(store.prune_inbox(Utc::now() - TimeDelta::hours(1)).await.unwrap(), 0);
    assert!(store.inbox_contains("projector", handled[0]).await.unwrap());
    // A cutoff after it forgets them, and nothing else: the events stay.
    assert_eq!(store.prune_inbox(Utc::now() + TimeDelta::seconds(1)).await.unwrap(), 3);
    for event_id in &handled {
        assert!(!store.inbox_contains("projector", *event_id).await.unwrap());
    }
    assert_eq!(store.stream_version("p").await.unwrap(), 3);
    // A newer entry survives a prune of the older ones.
    let recent = Uuid::now_v7();
    let commit = Commit {
        inbox: Some(("projector".into(), recent)),
        ..Commit::append("p", ExpectedVersion::Any, events("recent", 1))
    };
    store.commit(commit).await.unwrap();
    assert_eq!(store.prune_inbox(Utc::now() - TimeDelta::hours(1)).await.unwrap(), 0);
    assert!(store.inbox_contains("projector", recent).await.unwrap());
}

async fn timers_fire_exactly_once(h: Harness) {
    let store = h.connect().await;
    assert_eq!(store.due_timers_and_next(t0(), 10).await.unwrap(), (vec![], None));
    schedule(&store, vec![timer("a", t0() + secs(10)), timer("b", t0() + secs(5)), timer("c", t0() + secs(60))]).await;
    assert!(due(&store, t0()).await.is_empty());
    let due_now = due(&store, t0() + secs(10)).await;
    let keys: Vec<&str> = due_now.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, ["b", "a"]);
    assert_eq!(due_now[0].due_at, t0() + secs(5));
    assert_eq!(due_now[0].kind, "kind-b");
    assert_eq!(due_now[0].payload, b"b");
    assert_eq!(store.due_timers(t0() + secs(10), 1).await.unwrap(), due_now[..1]);
    // With the next one not yet due, in the same read.
    assert_eq!(store.due_timers_and_next(t0() + secs(10), 10).await.unwrap(), (due_now.clone(), Some(t0() + secs(60))));
    assert_eq!(store.due_timers_and_next(t0(), 10).await.unwrap(), (vec![], Some(t0() + secs(5))));
    assert_eq!(store.due_timers_and_next(t0() + secs(60), 1).await.unwrap().1, None);
    let a = due_now[1].clone();

    // Re-scheduling bumps the generation: the old one can no longer fire.
    schedule(&store, vec![timer("a", t0() + secs(8))]).await;
    let a2 = due(&store, t0() + secs(8)).await.into_iter().find(|t| t.key == "a").unwrap();
    assert!(a2.generation > a.generation);
    let stale = Commit {
        fire: Some(("a".into(), a.generation)),
        ..Commit::append("case-a", ExpectedVersion::Any, events("stale", 1))
    };
    assert!(matches!(
        store.commit(stale).await,
        Err(StoreError::TimerGone { ref key }) if key == "a"
    ));
    assert_eq!(store.head_position().await.unwrap(), 0);

    // Firing deletes the timer along with the handler's events.
    let fired = Commit {
        fire: Some(("a".into(), a2.generation)),
        ..Commit::append("case-a", ExpectedVersion::Any, events("fired", 1))
    };
    store.commit(fired).await.unwrap();
    assert_eq!(store.head_position().await.unwrap(), 1);
    assert!(matches!(store.commit(fire("a", a2.generation)).await, Err(StoreError::TimerGone { .. })));
    let keys: Vec<String> = due(&store, t0() + secs(100)).await.into_iter().map(|t| t.key).collect();
    assert_eq!(keys, ["b", "c"]);

    // Cancel (absent keys are fine); a cancelled-then-rescheduled key gets a new generation.
    let b = due(&store, t0() + secs(5)).await.remove(0);
    store.commit(Commit { cancel: vec!["b".into(), "never-scheduled".into()], ..Commit::default() }).await.unwrap();
    assert_eq!(due(&store, t0() + secs(100)).await.len(), 1);
    schedule(&store, vec![timer("b", t0())]).await;
    assert!(matches!(store.commit(fire("b", b.generation)).await, Err(StoreError::TimerGone { .. })));

    // Fire and re-schedule the same key in one commit.
    let c = due(&store, t0() + secs(60)).await.into_iter().find(|t| t.key == "c").unwrap();
    store
        .commit(Commit {
            fire: Some(("c".into(), c.generation)),
            schedule: vec![timer("c", t0() + secs(120))],
            ..Commit::default()
        })
        .await
        .unwrap();
    let c2 = due(&store, t0() + secs(120)).await.into_iter().find(|t| t.key == "c").unwrap();
    assert!(c2.generation > c.generation);
    assert_eq!(c2.due_at, t0() + secs(120));

    // Concurrent firers of the same timer: exactly one succeeds.
    let firers = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.commit(fire("c", c2.generation)).await })
    });
    let results = futures::future::join_all(firers).await;
    let fired = results.iter().filter(|r| r.as_ref().unwrap().is_ok()).count();
    assert_eq!(fired, 1);
    assert_eq!(store.due_timers_and_next(t0() - secs(1), 10).await.unwrap(), (vec![], Some(t0())));
}

/// Runs `commit` for each of `commits` concurrently, each from its own task.
async fn commit_concurrently(
    store: &EventStore,
    commits: Vec<Commit>,
) -> Vec<Result<gridloop_eventstore::Committed, StoreError>> {
    let tasks = commits.into_iter().map(|commit| {
        let store = store.clone();
        tokio::spawn(async move { store.commit(commit).await })
    });
    futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect()
}

async fn group_commit_isolates_failures(h: Harness) {
    let store = h.connect().await;
    let existing = event("existing");
    store.commit(Commit::append("taken", ExpectedVersion::NoStream, vec![existing.clone()])).await.unwrap();

    // 200 commits on different streams and, among them, one that conflicts.
    let mut commits: Vec<Commit> =
        (0..200).map(|i| Commit::append(format!("g-{i}"), ExpectedVersion::NoStream, events("g", 1))).collect();
    commits.insert(100, Commit::append("taken", ExpectedVersion::NoStream, events("c", 1)));
    let results = commit_concurrently(&store, commits).await;
    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(committed) => {
                assert_ne!(i, 100);
                assert_eq!(committed.events.len(), 1);
                assert_eq!(committed.events[0].stream_version, 1);
                assert!(committed.head >= committed.events[0].global_position);
            }
            Err(StoreError::Conflict { stream, .. }) if stream == "taken" => assert_eq!(i, 100),
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    // Commits shared transactions: some transaction's head lies beyond a commit's own event.
    assert!(results.iter().flatten().any(|c| c.head > c.events[0].global_position), "no two commits were grouped");
    assert_eq!(store.head_position().await.unwrap(), 201);
    let all = store.read_all(0, 1000).await.unwrap();
    assert_eq!(positions(&all), (1..=201).collect::<Vec<_>>());
    assert_eq!(store.stream_version("taken").await.unwrap(), 1);
    assert_eq!(store.outbox_depth().await.unwrap(), 201);

    // A commit the database rejects (a duplicate event id) fails alone too.
    let mut commits: Vec<Commit> =
        (0..20).map(|i| Commit::append(format!("h-{i}"), ExpectedVersion::NoStream, events("h", 1))).collect();
    commits.insert(10, Commit::append("dup", ExpectedVersion::Any, vec![existing]));
    let results = commit_concurrently(&store, commits).await;
    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(_) => assert_ne!(i, 10),
            Err(StoreError::Database(_)) => assert_eq!(i, 10),
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!(store.stream_version("dup").await.unwrap(), 0);
    let all = store.read_all(0, 1000).await.unwrap();
    assert_eq!(positions(&all), (1..=221).collect::<Vec<_>>());
}

async fn concurrent_writers_never_make_a_follower_skip(h: Harness) {
    const TX_WRITERS: u64 = 4;
    const COMMIT_WRITERS: u64 = 2;
    const ROUNDS: u64 = 12;

    let store = h.connect().await;
    // A second store on the same database: its writers are serialized with ours only by the
    // database (the sequencer row lock, or SQLite's write lock), not by our process.
    let other = h.connect().await;
    let done = Arc::new(AtomicBool::new(false));

    let follower = {
        let store = store.clone();
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut head = store.watch_head();
            let mut after = 0;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = store.read_all(after, 100).await.unwrap();
                for event in &batch {
                    assert_eq!(event.global_position, after + 1, "follower skipped");
                    after = event.global_position;
                    seen.push(event.event_id);
                }
                if batch.is_empty() {
                    if finished {
                        return (after, seen);
                    }
                    let _ = tokio::time::timeout(Duration::from_millis(5), head.changed()).await;
                }
            }
        })
    };

    let mut writers = Vec::new();
    for w in 0..TX_WRITERS {
        let store = if w % 2 == 0 { store.clone() } else { other.clone() };
        writers.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w + 1));
            let mut written = Vec::new();
            for round in 0..ROUNDS {
                let batch = events(&format!("tx{w}-{round}"), 1 + rng.below(3) as usize);
                written.extend(batch.iter().map(|e| e.event_id));
                let mut tx = store.begin().await.unwrap();
                tx.apply(Commit::append(format!("tx-{w}"), ExpectedVersion::Any, batch)).await.unwrap();
                tokio::time::sleep(Duration::from_millis(rng.below(4))).await;
                tx.commit().await.unwrap();
            }
            written
        }));
    }
    for w in 0..COMMIT_WRITERS {
        let store = if w % 2 == 0 { other.clone() } else { store.clone() };
        writers.push(tokio::spawn(async move {
            let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (w + 1));
            let mut written = Vec::new();
            for round in 0..ROUNDS {
                let batch = events(&format!("c{w}-{round}"), 1 + rng.below(2) as usize);
                written.extend(batch.iter().map(|e| e.event_id));
                store.commit(Commit::append(format!("c-{w}"), ExpectedVersion::Any, batch)).await.unwrap();
                tokio::time::sleep(Duration::from_millis(rng.below(3))).await;
            }
            written
        }));
    }

    let mut written = HashSet::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let (last, seen) = follower.await.unwrap();

    assert_eq!(seen.len(), written.len(), "every event seen exactly once");
    assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), written);
    assert_eq!(last, written.len() as i64);
    assert_eq!(store.head_position().await.unwrap(), last);
}

async fn two_processes_fire_a_timer_and_claim_an_event_once(h: Harness) {
    // Two stores on one database: only the database serializes their writers (on Postgres, the
    // epoch's compare-and-set or the sequencer's lock; on SQLite, its write lock).
    let (one, other) = (h.connect().await, h.connect().await);
    for round in 0..5 {
        let key = format!("deadline-{round}");
        schedule(&one, vec![timer(&key, t0())]).await;
        let generation = due(&other, t0()).await.into_iter().find(|t| t.key == key).unwrap().generation;
        let delivered = Uuid::now_v7();
        let attempts = (0..8).map(|i| {
            let store = if i % 2 == 0 { one.clone() } else { other.clone() };
            let (key, stream) = (key.clone(), format!("case-{round}"));
            tokio::spawn(async move {
                let fired = store
                    .commit(Commit {
                        fire: Some((key, generation)),
                        ..Commit::append(&stream, ExpectedVersion::Any, events("fired", 1))
                    })
                    .await;
                let claimed = store
                    .commit(Commit {
                        inbox: Some(("consumer".into(), delivered)),
                        ..Commit::append(&stream, ExpectedVersion::Any, events("claimed", 1))
                    })
                    .await;
                (fired, claimed)
            })
        });
        let results: Vec<_> = futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
        let fired: Vec<_> = results.iter().filter_map(|(fired, _)| fired.as_ref().ok()).collect();
        let claimed: Vec<_> = results.iter().filter_map(|(_, claimed)| claimed.as_ref().ok()).collect();
        assert_eq!((fired.len(), claimed.len()), (1, 1), "round {round}");
        for (fired, claimed) in &results {
            assert!(matches!(fired, Ok(_) | Err(StoreError::TimerGone { .. })), "{fired:?}");
            assert!(matches!(claimed, Ok(_) | Err(StoreError::AlreadyProcessed { .. })), "{claimed:?}");
        }
        assert_eq!(other.stream_version(&format!("case-{round}")).await.unwrap(), 2);
    }
    let all = one.read_all(0, 100).await.unwrap();
    assert_eq!(positions(&all), (1..=10).collect::<Vec<_>>());
}

async fn text_with_quotes_backslashes_and_braces_round_trips(h: Harness) {
    let store = h.connect().await;
    let odd = r#"a "quoted" \back\slash {x,y} NULL, 网格 ' ; --"#;
    let mut new = event(odd);
    new.actor.id = odd.into();
    new.payload = odd.as_bytes().to_vec();
    let stream = format!("case-{odd}");
    let committed = store
        .commit(Commit {
            schedule: vec![timer(odd, t0())],
            inbox: Some((odd.into(), new.event_id)),
            ..Commit::append(&stream, ExpectedVersion::NoStream, vec![new.clone()])
        })
        .await
        .unwrap();
    assert_envelope(&committed.events[0], &new);
    assert_eq!(store.read_stream(&stream, 1).await.unwrap(), committed.events);
    assert_eq!(store.read_all(0, 10).await.unwrap(), committed.events);
    assert!(store.inbox_contains(odd, new.event_id).await.unwrap());
    let due = due(&store, t0()).await;
    assert_eq!(
        (due[0].key.as_str(), due[0].kind.as_str(), due[0].payload.as_slice()),
        (odd, &*format!("kind-{odd}"), odd.as_bytes())
    );

    // And back through the checks: the stream's version, the inbox entry, the timer.
    let again = Commit {
        fire: Some((odd.into(), due[0].generation)),
        inbox: Some((odd.into(), new.event_id)),
        ..Commit::append(&stream, ExpectedVersion::Exact(1), events("again", 1))
    };
    assert!(matches!(store.commit(again).await, Err(StoreError::AlreadyProcessed { .. })));
    let fired = Commit {
        fire: Some((odd.into(), due[0].generation)),
        ..Commit::append(&stream, ExpectedVersion::Exact(1), events("fired", 1))
    };
    assert_eq!(positions(&store.commit(fired).await.unwrap().events), [2]);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.claim_inbox(odd, &[new.event_id, Uuid::nil()]).await.unwrap(), HashSet::from([Uuid::nil()]));
    tx.commit().await.unwrap();
}

async fn store_tx_serves_read_models(h: Harness) {
    let store = h.connect().await;
    let sqlite = sqlx::migrate!("tests/migrations/sqlite");
    let postgres = sqlx::migrate!("tests/migrations/postgres");
    store.migrate_extra(&sqlite, &postgres).await.unwrap();
    store.migrate_extra(&sqlite, &postgres).await.unwrap();
    let reserved = sqlx::migrate!("tests/migrations/reserved");
    assert!(matches!(store.migrate_extra(&reserved, &reserved).await, Err(StoreError::Migrate(_))));

    store.commit(Commit::append("case-1", ExpectedVersion::NoStream, events("a", 2))).await.unwrap();
    store.commit(Commit::append("case-2", ExpectedVersion::NoStream, events("b", 1))).await.unwrap();

    async fn project(tx: &mut gridloop_eventstore::StoreTx, events: &[RecordedEvent]) {
        for event in events {
            sqlx::query(
                "INSERT INTO case_summary (case_id, events) VALUES ($1, 1) \
                 ON CONFLICT (case_id) DO UPDATE SET events = case_summary.events + 1",
            )
            .bind(event.stream.as_str())
            .execute(tx.conn().await.unwrap())
            .await
            .unwrap();
        }
    }
    let summary = |store: EventStore| async move {
        sqlx::query_as::<_, (String, i64)>("SELECT case_id, events FROM case_summary ORDER BY case_id")
            .fetch_all(store.pool())
            .await
            .unwrap()
    };

    // Dropped without commit: nothing of it persists.
    let log = store.read_all(0, 100).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    project(&mut tx, &log).await;
    tx.save_checkpoint("summary", 3).await.unwrap();
    tx.apply(Commit::append("case-3", ExpectedVersion::Any, events("c", 1))).await.unwrap();
    drop(tx);
    assert!(summary(store.clone()).await.is_empty());
    assert_eq!(store.load_checkpoint("summary").await.unwrap(), None);
    assert_eq!(store.head_position().await.unwrap(), 3);

    // Committed: projection, checkpoint and appended events land together.
    let mut head = store.watch_head();
    let mut tx = store.begin().await.unwrap();
    project(&mut tx, &log).await;
    tx.save_checkpoint("summary", 3).await.unwrap();
    assert!(matches!(
        tx.apply(Commit::append("case-1", ExpectedVersion::NoStream, events("x", 1))).await,
        Err(StoreError::Conflict { .. })
    ));
    let appended = tx.apply(Commit::append("case-3", ExpectedVersion::NoStream, events("c", 2))).await.unwrap();
    assert_eq!(positions(&appended), [4, 5]);
    let more = tx.apply(Commit::append("case-3", ExpectedVersion::Exact(2), events("d", 1))).await.unwrap();
    assert_eq!(positions(&more), [6]);
    tx.commit().await.unwrap();
    assert_eq!(*head.borrow_and_update(), 6);

    assert_eq!(summary(store.clone()).await, [("case-1".to_owned(), 2), ("case-2".to_owned(), 1)]);
    assert_eq!(store.load_checkpoint("summary").await.unwrap(), Some(3));
    assert_eq!(store.read_stream("case-3", 1).await.unwrap().len(), 3);
    assert_eq!(store.outbox_depth().await.unwrap(), 6);

    // Later commits continue after the transaction's positions.
    let next = store.commit(Commit::append("case-4", ExpectedVersion::Any, events("e", 1))).await.unwrap();
    assert_eq!(positions(&next.events), [7]);

    // The store's own migrations tolerate the read model's on reopen.
    drop(store);
    let reopened = h.connect().await;
    assert_eq!(summary(reopened).await.len(), 2);
}

async fn a_store_tx_that_ends_without_commit_frees_the_database(h: Harness) {
    let store = h.connect().await;
    let other = h.connect().await;
    let mut tx = store.begin().await.unwrap();
    tx.apply(Commit::append("dropped", ExpectedVersion::Any, events("a", 1))).await.unwrap();
    drop(tx);
    // Another process sharing the database writes at once: the transaction was rolled back, not
    // left holding SQLite's write lock until this store's next write (the wait would run into
    // the busy timeout and fail).
    let written = tokio::time::timeout(
        Duration::from_secs(5),
        other.commit(Commit::append("other", ExpectedVersion::Any, events("b", 1))),
    )
    .await
    .expect("the database stayed locked")
    .unwrap();
    assert_eq!(positions(&written.events), [1]);

    // A database error (a duplicate event id) aborts the transaction; dropped, it leaves nothing.
    let mut tx = store.begin().await.unwrap();
    let event = event("dup");
    tx.apply(Commit::append("first", ExpectedVersion::Any, vec![event.clone()])).await.unwrap();
    assert!(matches!(
        tx.apply(Commit::append("second", ExpectedVersion::Any, vec![event])).await,
        Err(StoreError::Database(_))
    ));
    assert!(matches!(tx.claim_inbox("c", &[Uuid::now_v7()]).await, Err(StoreError::Aborted)));
    drop(tx);
    let next = store.commit(Commit::append("next", ExpectedVersion::Any, events("c", 1))).await.unwrap();
    assert_eq!(positions(&next.events), [2]);
    for stream in ["dropped", "first", "second"] {
        assert_eq!(store.stream_version(stream).await.unwrap(), 0, "{stream}");
    }

    // A transaction that wrote nothing commits, and the store writes on.
    store.begin().await.unwrap().commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.save_checkpoint("after", 2).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.load_checkpoint("after").await.unwrap(), Some(2));
    assert_eq!(store.head_position().await.unwrap(), 2);
}

async fn a_batch_consumer_claims_its_inbox_in_one_go(h: Harness) {
    let store = h.connect().await;
    let [a, b, c, d] = [(); 4].map(|_| Uuid::now_v7());
    let mut tx = store.begin().await.unwrap();
    // A redelivered batch may hold an event twice: it is claimed once.
    assert_eq!(tx.claim_inbox("batcher", &[a, b, a]).await.unwrap(), HashSet::from([a, b]));
    // Claims are the consumer's own: another consumer has handled none of these.
    assert_eq!(tx.claim_inbox("other", &[a]).await.unwrap(), HashSet::from([a]));
    tx.commit().await.unwrap();
    assert!(store.inbox_contains("batcher", b).await.unwrap());

    // The next batch overlaps: only the new event is the consumer's to handle.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.claim_inbox("batcher", &[b, c]).await.unwrap(), HashSet::from([c]));
    assert_eq!(tx.claim_inbox("batcher", &[c]).await.unwrap(), HashSet::new());
    // Rolled back with the transaction: a claim holds only with the effects it came with.
    tx.claim_inbox("batcher", &[d]).await.unwrap();
    drop(tx);
    assert!(!store.inbox_contains("batcher", c).await.unwrap());
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.claim_inbox("batcher", &[c, d]).await.unwrap(), HashSet::from([c, d]));
    // The same inbox as single commits use.
    assert!(matches!(
        tx.apply(Commit { inbox: Some(("batcher".into(), d)), ..Commit::default() }).await,
        Err(StoreError::AlreadyProcessed { .. })
    ));
    tx.commit().await.unwrap();
    assert!(store.inbox_contains("batcher", d).await.unwrap());

    // With the consumer's next reads in the same round trip: they see the claims before them.
    let e = Uuid::now_v7();
    let mut tx = store.begin().await.unwrap();
    let (fresh, rows) = tx
        .claim_inbox_and("batcher", &[d, e], |batch| {
            let sql = format!("SELECT event_id FROM inbox WHERE consumer = {}", batch.style().list(1, 1));
            batch.statement(&sql).bind("batcher");
            batch.statement("SELECT COUNT(*) FROM inbox");
        })
        .await
        .unwrap();
    assert_eq!(fresh, HashSet::from([e]));
    assert_eq!(rows.len(), 2);
    let mut ids: Vec<String> = rows[0].iter().map(|row| row.try_get(0).unwrap()).collect();
    ids.sort();
    let mut expected: Vec<String> = [a, b, c, d, e].iter().map(Uuid::to_string).collect();
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(rows[1][0].try_get::<i64, _>(0).unwrap(), 6); // and "other"'s one
    tx.commit().await.unwrap();
}

async fn watch_head_follows_commits(h: Harness) {
    let store = h.connect().await;
    let mut head = store.watch_head();
    assert_eq!(*head.borrow_and_update(), 0);
    let waiter = tokio::spawn(async move {
        head.changed().await.unwrap();
        *head.borrow_and_update()
    });
    store.commit(Commit::append("w", ExpectedVersion::Any, events("w", 2))).await.unwrap();
    assert_eq!(waiter.await.unwrap(), 2);
    // A commit that appends nothing does not move the head.
    let mut head = store.watch_head();
    head.mark_unchanged();
    store.save_checkpoint("x", 1).await.unwrap();
    store.commit(Commit::default()).await.unwrap();
    assert!(!head.has_changed().unwrap());
}

async fn scheduled_timers_wake_the_timer_loop_with_the_earliest_due_time(h: Harness) {
    let store = h.connect().await;
    let mut scheduled = store.watch_scheduled();
    assert_eq!(store.take_scheduled(), None);
    // Commits that schedule nothing do not wake the timer loop.
    store.commit(Commit::append("s", ExpectedVersion::Any, events("s", 1))).await.unwrap();
    store.commit(Commit { cancel: vec!["none".into()], ..Commit::default() }).await.unwrap();
    assert!(!scheduled.has_changed().unwrap());

    // Two commits before the loop looks: it learns the earlier of their timers, once.
    schedule(&store, vec![timer("late", t0() + secs(60))]).await;
    schedule(&store, vec![timer("early", t0() + secs(5)), timer("mid", t0() + secs(30))]).await;
    assert!(scheduled.has_changed().unwrap());
    scheduled.mark_unchanged();
    assert_eq!(store.take_scheduled(), Some(t0() + secs(5)));
    assert_eq!(store.take_scheduled(), None);
    // Taking does not wake the loop itself.
    assert!(!scheduled.has_changed().unwrap());

    // A commit refused for its precondition schedules nothing.
    let refused = Commit {
        schedule: vec![timer("refused", t0())],
        ..Commit::append("s", ExpectedVersion::Exact(7), events("s", 1))
    };
    assert!(matches!(store.commit(refused).await, Err(StoreError::Conflict { .. })));
    assert!(!scheduled.has_changed().unwrap());

    // A read model's transaction tells once it has committed, not before.
    let mut tx = store.begin().await.unwrap();
    tx.apply(Commit { schedule: vec![timer("tx", t0() + secs(9))], ..Commit::default() }).await.unwrap();
    assert!(!scheduled.has_changed().unwrap());
    tx.commit().await.unwrap();
    assert!(scheduled.has_changed().unwrap());
    assert_eq!(store.take_scheduled(), Some(t0() + secs(9)));
}

async fn data_survives_reopening(h: Harness) {
    let committed = {
        let store = h.connect().await;
        let committed = store
            .commit(Commit {
                schedule: vec![timer("t", t0())],
                inbox: Some(("projector".into(), Uuid::nil())),
                ..Commit::append("s", ExpectedVersion::NoStream, events("s", 2))
            })
            .await
            .unwrap();
        store.save_checkpoint("relay", 1).await.unwrap();
        store.outbox_ack(&[1]).await.unwrap();
        committed
    };

    let store = h.connect().await;
    assert_eq!(store.read_all(0, 10).await.unwrap(), committed.events);
    assert_eq!(store.head_position().await.unwrap(), 2);
    assert_eq!(*store.watch_head().borrow(), 2);
    assert!(format!("{store:?}").contains("head: 2"));
    assert_eq!(store.stream_version("s").await.unwrap(), 2);
    assert_eq!(store.load_checkpoint("relay").await.unwrap(), Some(1));
    assert_eq!(positions(&store.outbox_batch(0, 10).await.unwrap()), [2]);
    let timers = due(&store, t0()).await;
    assert_eq!(timers.len(), 1);
    assert!(matches!(
        store.commit(Commit { inbox: Some(("projector".into(), Uuid::nil())), ..Commit::default() }).await,
        Err(StoreError::AlreadyProcessed { .. })
    ));
    let next = store.commit(Commit::append("s", ExpectedVersion::Exact(2), events("t", 1))).await.unwrap();
    assert_eq!(positions(&next.events), [3]);
    store.commit(fire("t", timers[0].generation)).await.unwrap();
    // Generations keep growing across restarts.
    schedule(&store, vec![timer("t", t0())]).await;
    assert!(due(&store, t0()).await[0].generation > timers[0].generation);
}
