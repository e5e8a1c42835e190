//! The monthly implementation report (实施情况每月报告) over a consultation's life on a manual
//! clock: recorded in March, its April follow-up missed and then made, settling it; each month's
//! report counts what happened in that month, and a settled matter leaves the reports after it.
//! An area's report reads the stream of every session held in it and in its sub-areas.

use chrono::{DateTime, Duration, Utc};
use gridloop_bus::timers::TimerHandler;
use gridloop_bus::{Clock, ManualClock};
use gridloop_domain::access::{Principal, Role};
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_eventstore::{EventStore, StoreOptions};
use gridloop_mediation::MediationSvc;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::mediation_service_server::MediationService;
use std::sync::Arc;
use tonic::Request;

const GRID: &str = "321012001001001";

/// `message` as the auth layer hands it on: from a mediator of the street the grid lies in.
fn as_mediator<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    let street = AreaCode::new("321012001").unwrap();
    request.extensions_mut().insert(Principal::new("mediator", Role::Mediator, Some(street), None).unwrap());
    request
}

async fn report(mediation: &MediationSvc, month: &str) -> pb::ImplementationReport {
    report_of(mediation, GRID, month).await
}

async fn report_of(mediation: &MediationSvc, area: &str, month: &str) -> pb::ImplementationReport {
    let request = as_mediator(pb::GetImplementationReportRequest { area_code: area.into(), month: month.into() });
    mediation.get_implementation_report(request).await.unwrap().into_inner()
}

/// A consultation on a collected topic in `grid`, sat and recorded now; its id.
async fn consultation_recorded(mediation: &MediationSvc, grid: &str) -> String {
    let propose = pb::ProposeTopicRequest {
        level: pb::SessionLevel::Grid as i32,
        area_code: grid.into(),
        topic: "楼道堆物".into(),
        kind: pb::MatterKind::Consultation as i32,
        convenor: "网格长".into(),
        collected_from: "痛点箱".into(),
        ..Default::default()
    };
    let id = mediation.propose_topic(as_mediator(propose)).await.unwrap().into_inner().mediation_id;
    let invite = pb::InviteParticipantRequest {
        mediation_id: id.clone(),
        name: "物业经理".into(),
        role: pb::ParticipantRole::PropertyCompany as i32,
        ..Default::default()
    };
    mediation.invite_participant(as_mediator(invite)).await.unwrap();
    let step = pb::MediationStepRequest { mediation_id: id.clone(), ..Default::default() };
    mediation.notify_participants(as_mediator(step)).await.unwrap();
    let present = vec!["网格长".to_string(), "物业经理".to_string()];
    let sit = pb::OpenDeliberationRequest { mediation_id: id.clone(), present, ..Default::default() };
    mediation.open_deliberation(as_mediator(sit)).await.unwrap();
    let say = pb::MakeStatementRequest {
        mediation_id: id.clone(),
        speaker: "物业经理".into(),
        text: "每周清理一次".into(),
        ..Default::default()
    };
    mediation.make_statement(as_mediator(say)).await.unwrap();
    let record = pb::RecordConsultationRequest {
        mediation_id: id.clone(),
        summary: "物业每周清理楼道".into(),
        ..Default::default()
    };
    mediation.record_consultation(as_mediator(record)).await.unwrap();
    id
}

/// The mediation service on a SQLite store in `dir`, its clock at Monday 2026-03-02 09:00 in
/// Beijing.
async fn mediation_on(dir: &tempfile::TempDir) -> (MediationSvc, EventStore, ManualClock) {
    let url = format!("sqlite://{}", dir.path().join("mediation.db").display());
    let store = EventStore::connect(&url, StoreOptions { schema: None, max_connections: 4, ..StoreOptions::default() })
        .await
        .unwrap();
    let clock = ManualClock::new(DateTime::<Utc>::from_timestamp(1_772_413_200, 0).unwrap());
    let mediation = MediationSvc::new(store.clone(), Arc::new(clock.clone())).await.unwrap();
    (mediation, store, clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_month_reports_the_follow_ups_of_its_own_and_a_settled_matter_leaves_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let (mediation, store, clock) = mediation_on(&dir).await;
    let id = consultation_recorded(&mediation, GRID).await;

    // March: decided, implementing; its first follow-up falls due a month on, in April.
    let march = report(&mediation, "2026-03").await;
    assert_eq!((march.decided, march.implementing, march.matters.len()), (1, 1, 1), "{march:?}");
    let line = &march.matters[0];
    assert_eq!((line.mediation_id.as_str(), line.status.as_str()), (id.as_str(), "implementing"));
    assert_eq!((line.follow_ups_due, line.follow_ups_recorded, line.overdue), (0, 0, false));
    let due = clock.now() + Duration::days(30);
    assert_eq!(line.next_follow_up_due, Some(gridloop_proto::convert::timestamp(due)));

    // April: the follow-up comes due unrecorded (the reminder fires), then one settles it.
    clock.set(due + Duration::hours(1));
    let timer = store.due_timers(clock.now(), 10).await.unwrap().remove(0);
    TimerHandler::fire(&mediation, &timer).await.unwrap();
    let before_settling = report(&mediation, "2026-04").await;
    assert_eq!((before_settling.follow_ups_missed, before_settling.overdue), (1, 0), "{before_settling:?}");
    clock.set(due + Duration::days(1));
    let settle = pb::RecordFollowUpRequest {
        mediation_id: id.clone(),
        note: "楼道已清理".into(),
        settled: true,
        ..Default::default()
    };
    mediation.record_follow_up(as_mediator(settle)).await.unwrap();
    clock.set(due + Duration::days(40));
    let april = report(&mediation, "2026-04").await;
    assert_eq!((april.decided, april.settled, april.matters.len()), (0, 1, 1), "decided in March: {april:?}");
    let line = &april.matters[0];
    assert_eq!(line.status, "settled");
    assert_eq!(
        (line.follow_ups_due, line.follow_ups_recorded, line.follow_ups_missed, line.overdue),
        (1, 1, 1, false),
        "the one due in April was missed; the next, due in May, was made early and settled it"
    );

    // May: nothing left to implement.
    let may = report(&mediation, "2026-05").await;
    assert!(may.matters.is_empty(), "{may:?}");
    let bad = as_mediator(pb::GetImplementationReportRequest { area_code: GRID.into(), month: "2026-13".into() });
    let refused = mediation.get_implementation_report(bad).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_community_report_lists_the_matters_of_each_of_its_grids_and_none_of_the_next_community() {
    let dir = tempfile::tempdir().unwrap();
    let (mediation, _, _) = mediation_on(&dir).await;
    let mut ids = Vec::new();
    for grid in [GRID, "321012001001002", "321012001002001"] {
        ids.push(consultation_recorded(&mediation, grid).await);
    }

    let community = report_of(&mediation, "321012001001", "2026-03").await;
    let listed: Vec<&str> = community.matters.iter().map(|m| m.mediation_id.as_str()).collect();
    assert_eq!(listed, vec![ids[0].as_str(), ids[1].as_str()], "{community:?}");
    assert_eq!((community.decided, community.implementing), (2, 2));
    let street = report_of(&mediation, "321012001", "2026-03").await;
    assert_eq!(street.matters.len(), 3, "the street's report reads every session of its communities");
}
