//! The reporter's evaluation is due at one instant, whichever service names it: dispatch's
//! `CaseView.feedback_due` and the evaluation service's feedback round, whose timer applies the
//! default evaluation, both count from the resolution event's own time. Here for a mediated
//! resolution (商定即办) that the evaluation service sees a day after dispatch recorded it, as
//! after an outage of its consumer.

use chrono::{DateTime, Duration, TimeZone, Utc};
use gridloop_bus::{BatchHandler, ManualClock};
use gridloop_domain::case::RoutingPolicy;
use gridloop_domain::case::{self, Assignment, Case, CaseDetails, CaseEvent, Channel, Reporter, ReporterKind};
use gridloop_domain::drift::DriftPolicy;
use gridloop_domain::feedback::FeedbackEvent;
use gridloop_domain::ids::CaseId;
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use gridloop_domain::priority::Priority;
use gridloop_evaluation::Evaluation;
use gridloop_eventstore::{Actor, EventStore, RecordedEvent, StoreOptions};
use gridloop_proto::convert;
use std::sync::Arc;
use uuid::Uuid;

/// A neighbour dispute: it starts at the grid and may go to mediation.
const CATEGORY: &str = "dispute.neighbour-noise";

/// Monday 2 March 2026, 09:00 in the city (a working day).
fn opened_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap()
}

/// A dispute's case stream up to its mediated resolution, as dispatch records it: the agreement
/// and the resolution it makes are one commit, at `resolved_at`.
fn mediated_case(case_id: CaseId, grid: &str, resolved_at: DateTime<Utc>) -> Vec<(DateTime<Utc>, CaseEvent)> {
    let at = opened_at();
    let grid_unit = |deadline| Assignment { level: Level::Grid, unit: grid.to_string(), deadline, department: None };
    let details = CaseDetails {
        category_code: CATEGORY.into(),
        grid_code: grid.to_string(),
        lat: 32.4,
        lon: 119.5,
        description: "楼上夜间噪音".into(),
        reporter: Reporter {
            kind: ReporterKind::Resident,
            id: "r-1".into(),
            name: String::new(),
            phone: String::new(),
            sealed: None,
        },
        channel: Channel::ResidentApp,
        discovered_at: at,
        uploaded_at: at,
        urgent: false,
        special_groups: vec![],
        media_url: None,
    };
    let summary = "双方签字: 夜间十点后不再装修".to_string();
    vec![
        (at, CaseEvent::Opened { case_id, details }),
        (
            at,
            CaseEvent::Dispatched {
                to: grid_unit(at + Duration::hours(2)),
                rule: "entry".into(),
                priority: Priority { score: 0, reasons: vec![] },
            },
        ),
        (
            at + Duration::hours(1),
            CaseEvent::Accepted { at: grid_unit(at + Duration::days(2)), assignee: "张三".into() },
        ),
        (
            at + Duration::hours(1),
            CaseEvent::MediationRequested {
                level: Level::Grid,
                topic: "夜间噪音".into(),
                convenor: "王主任".into(),
                register: None,
            },
        ),
        (resolved_at, CaseEvent::MediationAgreed { mediation_id: "m-1".into(), summary: summary.clone() }),
        (resolved_at, CaseEvent::Resolved { level: Level::Grid, unit: grid.to_string(), summary, verify_by: None }),
    ]
}

fn recorded(case_id: CaseId, grid: &str, events: Vec<(DateTime<Utc>, CaseEvent)>) -> Vec<(RecordedEvent, CaseEvent)> {
    let dispatch = Actor { role: "system".into(), id: "dispatch".into(), jurisdiction: String::new() };
    let records = events.into_iter().enumerate().map(|(index, (at, event))| {
        let (event_type, payload) = convert::encode_case_event(case_id, &event);
        let record = RecordedEvent {
            global_position: index as i64 + 1,
            stream: case_id.stream(),
            stream_version: index as u64 + 1,
            recorded_at: at,
            event_id: Uuid::now_v7(),
            event_type,
            occurred_at: at,
            correlation_id: case_id.to_string(),
            causation_id: String::new(),
            actor: dispatch.clone(),
            traceparent: String::new(),
            schema_version: 1,
            routing_key: grid.to_string(),
            payload,
        };
        (record, event)
    });
    records.collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mediated_resolution_seen_late_by_evaluation_is_due_when_dispatch_says() {
    let policy = Arc::new(CityPolicy::default_city());
    assert!(policy.mediable(CATEGORY), "{CATEGORY} is a matter for mediation");
    let grid = policy.jurisdiction.grids().next().expect("a grid").code.as_str().to_string();
    let case_id = CaseId(Uuid::now_v7());
    let resolved_at = opened_at() + Duration::hours(4);
    let history = recorded(case_id, &grid, mediated_case(case_id, &grid, resolved_at));

    // Evaluation sees the resolution a day after it was recorded (the feedback SLA counts whole
    // working days, so a few hours would not move the deadline).
    let seen_at = resolved_at + Duration::days(1);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("evaluation.db").display());
    let store = EventStore::connect(&url, StoreOptions::default()).await.unwrap();
    let clock = Arc::new(ManualClock::new(seen_at));
    let evaluation = Evaluation::new(store.clone(), policy.clone(), DriftPolicy::disabled(), clock).await.unwrap();
    let records: Vec<&RecordedEvent> = history.iter().map(|(record, _)| record).collect();
    evaluation.handle_batch("dispatch", &records).await.expect("the batch applies");

    let rounds = store.read_stream(&format!("feedback-{case_id}"), 1).await.unwrap();
    let asked: Vec<FeedbackEvent> =
        rounds.iter().map(|r| convert::decode_feedback_event(&r.event_type, &r.payload).unwrap()).collect();
    let [FeedbackEvent::Requested { level, due_at }] = asked.as_slice() else {
        panic!("one feedback round opened by the resolution, got {asked:?}")
    };
    assert_eq!(*level, Level::Grid);
    assert_eq!(*due_at, policy.feedback_deadline(CATEGORY, resolved_at), "due from the resolution's time");
    assert_ne!(*due_at, policy.feedback_deadline(CATEGORY, seen_at), "not from when evaluation saw it");

    // Dispatch folds the same history and shows the same instant.
    let mut case = Case::default();
    for (_, event) in &history {
        case = case::evolve(case, event).expect("the history folds");
    }
    let view = gridloop_dispatch::with_times(gridloop_dispatch::case_view(&case), &case, &history, policy.as_ref());
    assert_eq!(view.feedback_due, Some(convert::timestamp(*due_at)), "{view:?}");
    assert_eq!(view.resolved_at, Some(convert::timestamp(resolved_at)));
}
