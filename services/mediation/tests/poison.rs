//! A session stream that cannot be read back is poison wherever mediation meets it: the
//! follow-up timer that loads it is dropped instead of firing again and again, and a mediation
//! request that cannot be decoded goes to the dead letter.

use chrono::{DateTime, Duration};
use gridloop_bus::timers::{run_timers, TimerHandler};
use gridloop_bus::{Bus, Clock, DeliveryPolicy, HandlerError, InProcessBus, ManualClock};
use gridloop_domain::access::{Principal, Role};
use gridloop_domain::ids::MediationId;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_eventstore::{Actor, Commit, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreOptions};
use gridloop_kit::timer;
use gridloop_mediation::MediationSvc;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::mediation_service_server::MediationService;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const FOLLOW_UP: &str = "mediation-follow-up";

async fn service(dir: &tempfile::TempDir, clock: &ManualClock) -> (MediationSvc, EventStore) {
    let url = format!("sqlite://{}", dir.path().join("mediation.db").display());
    let store = EventStore::connect(&url, StoreOptions { schema: None, max_connections: 4, ..StoreOptions::default() })
        .await
        .unwrap();
    (MediationSvc::new(store.clone(), Arc::new(clock.clone())).await.unwrap(), store)
}

/// An event of `event_type` whose payload is not the message it names.
fn corrupt(event_type: &str, correlation_id: &str) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: event_type.into(),
        occurred_at: DateTime::from_timestamp(1_772_413_200, 0).unwrap(),
        correlation_id: correlation_id.into(),
        causation_id: "test".into(),
        actor: Actor::default(),
        traceparent: String::new(),
        schema_version: 1,
        routing_key: "321012001001001".into(),
        payload: vec![0xff, 0xff, 0xff],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_timer_of_a_corrupt_session_is_dropped_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(DateTime::from_timestamp(1_772_413_200, 0).unwrap()); // a Monday, 09:00 +08:00
    let (mediation, store) = service(&dir, &clock).await;
    let mut request = tonic::Request::new(pb::ProposeTopicRequest {
        level: pb::SessionLevel::Grid as i32,
        area_code: "321012001001001".into(),
        topic: "楼道堆物".into(),
        kind: pb::MatterKind::Consultation as i32,
        convenor: "网格长".into(),
        collected_from: "痛点箱".into(),
        ..Default::default()
    });
    // As the auth layer hands it on: a mediator of the street the topic's grid lies in.
    let street = AreaCode::new("321012001").unwrap();
    request.extensions_mut().insert(Principal::new("mediator", Role::Mediator, Some(street), None).unwrap());
    let proposed = mediation.propose_topic(request).await.unwrap().into_inner();
    let id = MediationId(Uuid::parse_str(&proposed.mediation_id).unwrap());
    // The session's stream gets an event that does not decode, and its follow-up falls due.
    let due = clock.now() + Duration::days(15);
    let (schedule, _) = timer::arm(FOLLOW_UP, id, Some(due));
    let mut commit = Commit::append(
        id.stream(),
        ExpectedVersion::Exact(1),
        vec![corrupt("gridloop.v1.MediationFollowUpScheduled", &id.to_string())],
    );
    commit.schedule = schedule;
    store.commit(commit).await.unwrap();
    clock.set(due);
    let timer = store.due_timers(due, 10).await.unwrap().remove(0);

    // The handler gives up on it for good: a retry could never read the stream.
    let fired = TimerHandler::fire(&mediation, &timer).await;
    assert!(matches!(&fired, Err(HandlerError::Poison(reason)) if reason.contains("unreadable")), "{fired:?}");

    // So the scheduler drops the timer once, and nothing is appended.
    let shutdown = CancellationToken::new();
    let scheduler =
        tokio::spawn(run_timers(store.clone(), Arc::new(clock.clone()), Arc::new(mediation), shutdown.clone()));
    let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !store.due_timers(due, 10).await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < give_up, "the timer is still due");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    scheduler.await.unwrap();
    assert_eq!(store.stream_version(&id.stream()).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_mediation_request_goes_to_the_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(DateTime::from_timestamp(1_772_413_200, 0).unwrap());
    let (mediation, store) = service(&dir, &clock).await;
    let bus = InProcessBus::new(DeliveryPolicy::default());
    for subscription in mediation.subscriptions() {
        bus.subscribe(subscription).unwrap();
    }
    let case_id = Uuid::now_v7().to_string();
    let request = corrupt("gridloop.v1.CaseMediationRequested", &case_id);
    let delivered = RecordedEvent {
        global_position: 1,
        stream: format!("case-{case_id}"),
        stream_version: 4,
        recorded_at: request.occurred_at,
        event_id: request.event_id,
        event_type: request.event_type.clone(),
        occurred_at: request.occurred_at,
        correlation_id: request.correlation_id.clone(),
        causation_id: request.causation_id.clone(),
        actor: request.actor.clone(),
        traceparent: request.traceparent.clone(),
        schema_version: request.schema_version,
        routing_key: request.routing_key.clone(),
        payload: request.payload.clone(),
    };
    bus.publish("dispatch", &[delivered]).await.expect("a poison event is acknowledged, not redelivered");
    let dead = bus.dead_letters();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        (dead[0].consumer.as_str(), dead[0].event_id.clone()),
        ("mediation.dispatch", request.event_id.to_string())
    );
    assert_eq!(store.head_position().await.unwrap(), 0, "no session was opened");
}
