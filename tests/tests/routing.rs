//! The routing policy end to end: the owning department on dispatch, priority ordering
//! of the case list, 吹哨报到 over gRPC, the 4321 drift alert, and configuration changes recorded
//! as events.

use chrono::Duration;
use gridloop_bus::{Clock, ManualClock};
use gridloop_proto::v1 as pb;
use gridloop_tests::{actor, report_request, start_time, Gridloop};
use tonic::Code;
use tonic_types::StatusExt;

async fn report(g: &mut Gridloop, request: pb::ReportCaseRequest) -> String {
    g.clients.intake.report_case(request).await.expect("report").into_inner().case_id
}

async fn accept(g: &mut Gridloop, case_id: &str) -> pb::CaseView {
    g.case_in(case_id, pb::CaseState::Dispatched).await;
    let request = pb::AcceptCaseRequest {
        case_id: case_id.into(),
        expected_version: 0,
        actor: actor("street_officer"),
        assignee: "李科长".into(),
        ..Default::default()
    };
    g.clients.dispatch.accept_case(request).await.expect("accept").into_inner().case.expect("view")
}

fn summon(case_id: &str, departments: &[&str]) -> pb::SummonDepartmentsRequest {
    pb::SummonDepartmentsRequest {
        case_id: case_id.into(),
        expected_version: 0,
        actor: actor("street_officer"),
        departments: departments.iter().map(|d| d.to_string()).collect(),
        reason: "餐饮油烟扰民,需执法与环保联合处置".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn departments_priorities_and_summons_through_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let (here, _) = g.nth_grid(0).await;
    let (there, _) = g.nth_grid(7).await;

    // Given a plain street-vendor report, a debris report concerning an elderly resident living
    // alone, and an urgent garbage report (which enters at the street),
    let plain = report(&mut g, report_request("order.street-vendor", "plain", here)).await;
    let mut elderly = report_request("env.debris", "elderly", there);
    elderly.special_groups = vec![pb::SpecialGroup::ElderlyLivingAlone as i32];
    let elderly = report(&mut g, elderly).await;
    let mut urgent = report_request("env.garbage", "urgent", there);
    urgent.urgent = true;
    let urgent = report(&mut g, urgent).await;
    // and a neighbour's second report of the street vendor (linked: a shared concern),
    let again = g.clients.intake.report_case(report_request("order.street-vendor", "again", here)).await.unwrap();
    assert!(again.get_ref().linked, "the second report joins the first case");

    // then the urgent case went to the street's 城管中队, recorded on its dispatch,
    let view = g.case_in(&urgent, pb::CaseState::Dispatched).await.case.unwrap();
    assert_eq!(view.level(), pb::Level::Street);
    let street = view.unit_code.clone();
    assert_eq!(view.department_code, "urban-management");
    assert!(view.department_name.ends_with("城管中队"), "{}", view.department_name);
    assert!(view.priority_reasons.iter().any(|r| r.starts_with("urgent")), "{:?}", view.priority_reasons);

    // and the case list in priority order puts urgent first, then the special group, then the
    // shared concern, each with its reasons.
    g.listed_when(&plain, |c| c.priority == 20).await;
    let request = pb::ListCasesRequest { order: pb::CaseOrder::Priority as i32, ..Default::default() };
    let listed = g.clients.evaluation.list_cases(request).await.unwrap().into_inner().cases;
    let order: Vec<(&str, u32)> = listed.iter().map(|c| (c.case_id.as_str(), c.priority)).collect();
    assert_eq!(order, [(urgent.as_str(), 110), (elderly.as_str(), 30), (plain.as_str(), 20)]);
    assert_eq!(listed[2].priority_reasons, ["category priority routine (+10)", "shared concern: 2 reports (+10)"]);

    // 吹哨报到: not before the street accepted the case,
    let refused = g.clients.dispatch.summon_departments(summon(&urgent, &["market-regulation"])).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    accept(&mut g, &urgent).await;
    // an unknown department is a bad field,
    let bad = g.clients.dispatch.summon_departments(summon(&urgent, &["fire-brigade"])).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let violations = bad.get_details_bad_request().expect("field violations").field_violations;
    assert_eq!(violations[0].field, "departments");
    // then the street summons its 市场监管所 and the district's 生态环境局,
    let view = g
        .clients
        .dispatch
        .summon_departments(summon(&urgent, &["market-regulation", "ecology-environment"]))
        .await
        .expect("summon")
        .into_inner()
        .case
        .unwrap();
    let summoned: Vec<(String, String, bool)> = view
        .summons
        .iter()
        .map(|s| {
            let d = s.department.clone().unwrap();
            (d.unit_code, d.department_code, s.reported_in)
        })
        .collect();
    assert_eq!(
        summoned,
        [
            (street, "market-regulation".to_string(), false),
            ("321012".to_string(), "ecology-environment".to_string(), false),
        ]
    );
    // and the district's department reports in, once.
    let report_in = pb::ReportInRequest {
        case_id: urgent.clone(),
        expected_version: 0,
        actor: actor("inspector"),
        department: "ecology-environment".into(),
        by: "环保执法员王五".into(),
        note: "已到场".into(),
        ..Default::default()
    };
    let view = g.clients.dispatch.report_in(report_in.clone()).await.expect("report in").into_inner().case.unwrap();
    assert_eq!(view.summons.iter().map(|s| s.reported_in).collect::<Vec<_>>(), [false, true]);
    let twice = g.clients.dispatch.report_in(report_in).await.unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let history = g.case(&urgent).await.unwrap();
    let types = gridloop_tests::history_types(&history);
    assert_eq!(&types[types.len() - 2..], ["CaseDepartmentsSummoned", "DepartmentReportedIn"]);

    // A grid cannot blow the whistle.
    accept(&mut g, &plain).await;
    let grid_level = g.clients.dispatch.summon_departments(summon(&plain, &["market-regulation"])).await.unwrap_err();
    assert_eq!(grid_level.code(), Code::FailedPrecondition);
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_drift_alert_is_recorded_once_per_crossing() {
    // Given a monitor judging areas from 3 closed cases, with a 10 pp tolerance,
    let dir = tempfile::tempdir().unwrap();
    // (duplicate linking off: the five reports share a place and a category, and the next one
    // may come before intake has learnt that the previous case closed)
    let args = gridloop::app::UpArgs {
        drift_min_cases: 3,
        duplicate_radius_m: 0.0,
        ..gridloop::app::UpArgs::embedded(dir.path(), "127.0.0.1:0".parse().unwrap())
    };
    let mut g = Gridloop::start_with(args, ManualClock::new(start_time())).await;
    let (location, grid) = g.a_grid().await;
    let none = pb::ListDriftAlertsRequest::default();
    let alerts = g.clients.evaluation.list_drift_alerts(none.clone()).await.unwrap().into_inner();
    assert_eq!((alerts.tolerance, alerts.window_days, alerts.alerts.len()), (0.1, 30, 0));

    // when five grid matters in one grid are each settled at the grid (100% vs the 40% target),
    // a day apart,
    let mut closed_at = Vec::new();
    for i in 0..5 {
        g.advance(Duration::days(1));
        let case_id = report(&mut g, report_request("env.garbage", &format!("drift-{i}"), location)).await;
        g.close_case(&case_id).await;
        closed_at.push(g.clock.now());
    }

    // then each area above the grid (and the grid) was alerted once, at the fourth closure (the
    // first whose finished days hold three), and not again for the fifth.
    let mut alerts = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while alerts.len() < 4 && tokio::time::Instant::now() < deadline {
        alerts = g.clients.evaluation.list_drift_alerts(none.clone()).await.unwrap().into_inner().alerts;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut areas: Vec<&str> = alerts.iter().map(|a| a.area.as_str()).collect();
    areas.sort();
    assert_eq!(areas, [&grid[..6], &grid[..9], &grid[..12], &grid[..]]);
    for alert in &alerts {
        assert!(alert.drifted);
        assert_eq!(alert.closed_total, 3, "{alert:?}");
        assert_eq!(alert.changed_at, Some(gridloop_proto::convert::timestamp(closed_at[3])), "{alert:?}");
        assert!((alert.deviation - 0.6).abs() < 1e-9, "{alert:?}");
        assert_eq!(alert.levels[0].share, 1.0);
    }
    // The area filter narrows to a subtree.
    let street = pb::ListDriftAlertsRequest { area: grid[..12].to_string(), include_cleared: false };
    assert_eq!(g.clients.evaluation.list_drift_alerts(street).await.unwrap().into_inner().alerts.len(), 2);
    g.app.shutdown().await.unwrap();
}

/// Changing the configuration is recorded as an event (`PolicyConfigured` on dispatch's `policy`
/// stream), once per change, so a replay knows which rules were in force.
#[tokio::test]
async fn a_configuration_change_is_recorded_once_per_change() {
    use prost::Message;
    let dir = tempfile::tempdir().unwrap();
    let g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    // Restarted on the same configuration: nothing new.
    let Gridloop { app, clock, mut args, .. } = g.restart().await;
    app.shutdown().await.unwrap();
    // The shipped city with its district renamed.
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/k8s/base/city/jurisdiction.toml"))
            .expect("the shipped jurisdiction");
    let renamed = shipped.replacen("江都区", "江都新区", 1);
    let path = dir.path().join("city.toml");
    std::fs::write(&path, &renamed).unwrap();
    args.policy.jurisdiction = Some(path);
    let g = Gridloop::start_with(args.clone(), clock.clone()).await;
    g.app.shutdown().await.unwrap();
    let g = Gridloop::start_with(args, clock).await;
    g.app.shutdown().await.unwrap();

    let url = format!("sqlite://{}", dir.path().join("dispatch.db").display());
    let store = gridloop_eventstore::EventStore::connect(&url, Default::default()).await.unwrap();
    let recorded: Vec<pb::PolicyConfigured> = store
        .read_stream("policy", 1)
        .await
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e.event_type, "gridloop.v1.PolicyConfigured");
            pb::PolicyConfigured::decode(e.payload.as_slice()).unwrap()
        })
        .collect();
    assert_eq!(recorded.len(), 2, "one for the first start, one for the change");
    assert_eq!(recorded[0].changed, ["jurisdiction", "catalog", "calendar"]);
    assert_eq!(recorded[1].changed, ["jurisdiction"]);
    assert_ne!(recorded[0].jurisdiction_sha256, recorded[1].jurisdiction_sha256);
    assert_eq!(recorded[0].catalog_sha256, recorded[1].catalog_sha256);
    assert_eq!((recorded[1].district_code.as_str(), recorded[1].grids), ("321012", 200));
    assert!(recorded[1].jurisdiction_toml.contains("江都新区") && !recorded[0].jurisdiction_toml.contains("江都新区"));
}
