//! Dispatch keeps the current state of recently used cases in memory. With two replicas writing
//! the same cases, each one's memory falls behind the other's writes: a command must then still
//! be decided on the case as stored, never refused or applied because of a stale copy.

mod common;

use chrono::{DateTime, Utc};
use common::details;
use gridloop_bus::{Clock, ManualClock};
use gridloop_dispatch::{Dispatch, DispatchError};
use gridloop_domain::case::{CaseCommand, CaseError, CaseEvent, CaseStatus, Satisfaction};
use gridloop_domain::ids::CaseId;
use gridloop_domain::policy::CityPolicy;
use gridloop_eventstore::{Actor, Commit, EventStore, StoreOptions};
use gridloop_kit::EventContext;
use std::sync::Arc;

fn context(case_id: CaseId, now: DateTime<Utc>) -> EventContext {
    EventContext {
        actor: Actor { role: "test".into(), id: "test".into(), jurisdiction: String::new() },
        correlation_id: case_id.to_string(),
        causation_id: "test".into(),
        traceparent: String::new(),
        occurred_at: now,
        routing_key: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_memory_is_behind_decides_on_the_stored_case() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("dispatch.db").display());
    let options = || StoreOptions { schema: None, max_connections: 4, ..StoreOptions::default() };
    let clock = ManualClock::new(DateTime::from_timestamp(1_772_413_200, 0).unwrap()); // a Monday, 09:00 +08:00
    let now = clock.now();
    let policy = Arc::new(CityPolicy::default_city());
    // Two replicas: each its own store handle (pool, writer) on the same database.
    let a = Dispatch::new(EventStore::connect(&url, options()).await.unwrap(), policy.clone(), Arc::new(clock.clone()));
    let b = Dispatch::new(EventStore::connect(&url, options()).await.unwrap(), policy, Arc::new(clock.clone()));
    let case_id = CaseId(uuid::Uuid::now_v7());
    let run = |replica: &Dispatch, command: CaseCommand, expected: Option<u64>| {
        let replica = replica.clone();
        async move { replica.execute(case_id, &command, expected, &context(case_id, now), Commit::default()).await }
    };

    // A opens the case (CaseOpened, CaseDispatched) and remembers it at version 2.
    let opened = run(&a, CaseCommand::Open { case_id, details: details("env.garbage", "321012001001001", now) }, None)
        .await
        .unwrap();
    assert_eq!(opened.version, 2);
    // The same report reaching B: B takes the case for new without reading it (it has just been
    // reported), the commit conflicts, and the case as stored refuses a second opening.
    let again =
        run(&b, CaseCommand::Open { case_id, details: details("env.garbage", "321012001001001", now) }, None).await;
    assert!(matches!(again, Err(DispatchError::Case(CaseError::AlreadyOpened))), "{:?}", again.map(|c| c.version));
    assert_eq!(b.store().stream_version(&case_id.stream()).await.unwrap(), 2);
    // B accepts it: A's copy is now one event behind.
    let accepted = run(&b, CaseCommand::Accept { assignee: "网格员".into() }, Some(2)).await.unwrap();
    assert_eq!(accepted.version, 3);

    // A client that saw B's reply resolves through A, expecting version 3: A reads the case again
    // instead of refusing the version or deciding on its copy (where the case is not accepted).
    let resolved = run(&a, CaseCommand::Resolve { summary: "已清运".into() }, Some(3)).await.unwrap();
    assert_eq!(resolved.version, 4);
    assert!(matches!(resolved.status, CaseStatus::Resolved { .. }), "{:?}", resolved.status);

    // B's copy still says accepted; the evaluation (no expected version, as from the consumer)
    // is refused by that copy but decided on the stored, resolved case.
    let evaluation = CaseCommand::RecordEvaluation {
        satisfaction: Satisfaction::Satisfied,
        comment: String::new(),
        defaulted: false,
        evaluated_by: None,
    };
    let closed = run(&b, evaluation, None).await.unwrap();
    assert!(matches!(closed.status, CaseStatus::Closed { .. }), "{:?}", closed.status);

    // A stale client version is refused by both, and nothing is stored.
    for replica in [&a, &b] {
        let refused = run(replica, CaseCommand::Escalate { reason: "已过期的版本".into() }, Some(3)).await;
        assert!(
            matches!(refused, Err(DispatchError::WrongVersion { expected: 3, actual })
                if actual == closed.version),
            "{:?}",
            refused.map(|c| c.version)
        );
    }
    // A command the stored case refuses is refused with the reason, from either replica.
    let refused = run(&a, CaseCommand::Resolve { summary: "again".into() }, None).await;
    assert!(matches!(refused, Err(DispatchError::Case(_))), "{:?}", refused.map(|c| c.version));

    let history = a.load(case_id).await.unwrap().history;
    let names: Vec<&str> = history.iter().map(|(record, _)| record.event_type.as_str()).collect();
    assert_eq!(names.len() as u64, closed.version, "{names:?}");
    assert!(matches!(history.last().map(|(_, e)| e), Some(CaseEvent::Closed { .. })), "{names:?}");
    assert_eq!(history.iter().filter(|(_, e)| matches!(e, CaseEvent::Resolved { .. })).count(), 1);
}
