//! Analytics end to end: the KPIs against a count by hand, `gridloop replay` rebuilding the case
//! projection equal to the live one byte for byte (SQLite, Postgres, in place), and "as of"
//! KPIs folded from the log.

use chrono::{DateTime, Duration, Utc};
use gridloop::app::ServiceName;
use gridloop::replay::{kpis_as_of, rebuild, Bound, History, HistoryArgs};
use gridloop_bus::Clock;
use gridloop_domain::kpi::Period;
use gridloop_evaluation::kpi::CaseFilter;
use gridloop_evaluation::replay::{self, Rebuild};
use gridloop_eventstore::{EventStore, StoreOptions};
use gridloop_proto::v1 as pb;
use gridloop_tests::{actor, Gridloop};
use indicatif::ProgressBar;
use tonic::Code;

async fn evaluate(g: &mut Gridloop, case_id: &str, satisfaction: pb::Satisfaction) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let request = pb::EvaluateCaseRequest {
            case_id: case_id.into(),
            actor: actor("resident"),
            satisfaction: satisfaction as i32,
            comment: "还是有积水".into(),
            ..Default::default()
        };
        match g.clients.hotline.evaluate_case(request).await {
            Ok(_) => return,
            Err(s) if s.code() == Code::FailedPrecondition && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(s) => panic!("evaluate failed: {s}"),
        }
    }
}

/// Report in the `n`th grid: far apart, so none is linked to another as a duplicate.
async fn report_in_grid(g: &mut Gridloop, category: &str, client_key: &str, n: usize) -> String {
    let (location, _) = g.nth_grid(n * 10).await;
    g.report_at(category, client_key, location).await.case_id
}

async fn resolve(g: &mut Gridloop, case_id: &str) {
    let request = pb::ResolveCaseRequest {
        case_id: case_id.into(),
        expected_version: 0,
        actor: actor("grid_worker"),
        summary: "已处理".into(),
        ..Default::default()
    };
    g.clients.dispatch.resolve_case(request).await.expect("resolve");
}

/// Five cases with five different fates — closed on time at the grid; escalated to the
/// community when the grid missed its deadline, then closed there; unsatisfied once, reopened and
/// closed at the grid; left open; rejected — and the evaluation projection caught up with them.
/// Returns when the first case had closed and nothing else had been reported.
async fn story(g: &mut Gridloop) -> DateTime<Utc> {
    let category = g.a_category(pb::Level::Grid).await.code;

    let on_time = report_in_grid(g, &category, "kpi-on-time", 0).await;
    g.close_case(&on_time).await;
    g.listed_when(&on_time, |c| c.state() == pb::CaseState::Closed).await;
    let after_first = g.clock.now();
    g.advance(Duration::minutes(5));

    let escalated = report_in_grid(g, &category, "kpi-escalated", 1).await;
    g.case_in(&escalated, pb::CaseState::Dispatched).await;
    g.advance(Duration::days(3)); // past the grid's deadline to accept
    g.case_when(&escalated, |c| c.case.as_ref().unwrap().level() == pb::Level::Community).await;
    g.close_case(&escalated).await;

    let reworked = report_in_grid(g, &category, "kpi-reworked", 2).await;
    g.case_in(&reworked, pb::CaseState::Dispatched).await;
    let accept = pb::AcceptCaseRequest {
        case_id: reworked.clone(),
        expected_version: 0,
        actor: actor("grid_worker"),
        assignee: "网格员李四".into(),
        ..Default::default()
    };
    g.clients.dispatch.accept_case(accept).await.expect("accept");
    resolve(g, &reworked).await;
    evaluate(g, &reworked, pb::Satisfaction::Unsatisfied).await;
    g.case_when(&reworked, |c| c.case.as_ref().unwrap().reopen_count == 1).await;
    resolve(g, &reworked).await;
    evaluate(g, &reworked, pb::Satisfaction::Satisfied).await;
    g.case_in(&reworked, pb::CaseState::Closed).await;

    let open = report_in_grid(g, &category, "kpi-open", 3).await;
    g.case_in(&open, pb::CaseState::Dispatched).await;

    let rejected = report_in_grid(g, &category, "kpi-rejected", 4).await;
    g.case_in(&rejected, pb::CaseState::Dispatched).await;
    let reject = pb::RejectCaseRequest {
        case_id: rejected.clone(),
        expected_version: 0,
        actor: actor("grid_worker"),
        reason: "不属于网格事项".into(),
        ..Default::default()
    };
    g.clients.dispatch.reject_case(reject).await.expect("reject");

    for (case_id, state) in [
        (&escalated, pb::CaseState::Closed),
        (&reworked, pb::CaseState::Closed),
        (&open, pb::CaseState::Dispatched),
        (&rejected, pb::CaseState::Rejected),
    ] {
        g.listed_when(case_id, |c| c.state() == state).await;
    }
    after_first
}

async fn kpis(g: &mut Gridloop, period: pb::ReportPeriod) -> pb::GetKpisResponse {
    let request = pb::GetKpisRequest { period: period as i32, ..Default::default() };
    g.clients.evaluation.get_kpis(request).await.expect("GetKpis").into_inner()
}

fn counts(p: &pb::KpiPeriod) -> pb::KpiCounts {
    p.counts.expect("counts")
}

fn rates(p: &pb::KpiPeriod) -> pb::KpiRates {
    p.rates.clone().expect("rates")
}

async fn evaluation_store(g: &Gridloop) -> EventStore {
    g.args.store.open(ServiceName::Evaluation, None).await.expect("evaluation store")
}

/// Rebuild the case projection from `g`'s dispatch store into `target`.
async fn replay_into(g: &Gridloop, target: EventStore, replace: bool) -> gridloop::replay::ReplaySummary {
    let history = HistoryArgs { store: g.args.store.clone(), ..HistoryArgs::embedded(&g.args.store.data_dir) };
    let mut source = History::open(&history, gridloop_domain::clock::DEFAULT_ZONE).await.expect("history");
    let mut rebuilt = Rebuild::new(target, replace, gridloop_domain::clock::DEFAULT_ZONE).await.expect("fresh target");
    let summary = rebuild(&mut source, &mut rebuilt, &ProgressBar::hidden()).await.expect("replay");
    let s = summary.stats;
    assert_eq!(s.applied + s.skipped + s.policy, s.events, "every event counted once: {s:?}");
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kpis_match_a_count_by_hand_and_a_replay_equals_the_live_projection() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), gridloop_bus::ManualClock::new(gridloop_tests::start_time())).await;
    let after_first = story(&mut g).await;

    // By hand: 5 reported, 5 dispatched; accepted in time: on_time and reworked (the escalated
    // one missed the grid's deadline first); resolved: 3; closed: 3, on time 2 (the escalated
    // one missed a deadline); 3 evaluated at closure, all satisfied; 1 of 3 resolved reworked;
    // settled grid, community, grid.
    let report = kpis(&mut g, pb::ReportPeriod::Month).await;
    let total = report.total.clone().unwrap();
    let c = counts(&total);
    assert_eq!((c.reported, c.dispatched, c.rejected), (5, 5, 1));
    assert_eq!((c.responded_on_time, c.resolved, c.closed, c.closed_on_time), (2, 3, 3, 2));
    assert_eq!((c.evaluated, c.satisfied, c.reopened), (3, 3, 1));
    assert_eq!((c.settled_grid, c.settled_community, c.settled_street, c.settled_district), (2, 1, 0, 0));
    let r = rates(&total);
    assert_eq!(r.response_rate, Some(2.0 / 5.0));
    assert_eq!(r.resolution_rate, Some(3.0 / 5.0));
    assert_eq!(r.satisfaction_rate, Some(1.0));
    assert_eq!(r.on_time_rate, Some(2.0 / 3.0));
    assert_eq!(r.rework_rate, Some(1.0 / 3.0));
    assert_eq!(r.mediation_success_rate, None, "no mediation concluded");
    // All in March 2026 (the virtual clock starts on 2 March): one month row, labelled.
    assert_eq!(report.periods.len(), 1);
    assert_eq!(report.periods[0].label, "2026-03");
    assert_eq!((report.utc_offset.as_str(), report.time_zone.as_str()), ("+08:00", "Asia/Shanghai"));
    // Daily: the first case on 2 March, the others three days later.
    let daily = kpis(&mut g, pb::ReportPeriod::Day).await;
    let days: Vec<(String, u64)> = daily.periods.iter().map(|p| (p.label.clone(), counts(p).reported)).collect();
    assert_eq!(days, vec![("2026-03-02".into(), 2), ("2026-03-05".into(), 3)]);

    // Filters: the escalated case is the only one held at the community.
    let request = pb::GetKpisRequest { level: pb::Level::Community as i32, ..Default::default() };
    let community = g.clients.evaluation.get_kpis(request).await.unwrap().into_inner();
    assert_eq!(counts(community.total.as_ref().unwrap()).reported, 1);
    let bad = pb::GetKpisRequest { area: "12ab".into(), ..Default::default() };
    let status = g.clients.evaluation.get_kpis(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    // Replay into a fresh SQLite read model: equal to the live projection, byte for byte.
    // The read model: five case rows, then the 4321 monitor's level counts (per area, day, level).
    let live = replay::dump(evaluation_store(&g).await.pool()).await.unwrap();
    let lines: Vec<serde_json::Value> =
        live.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
    let cases = lines.iter().filter(|line| line.get("case_id").is_some()).count();
    let level_counts: Vec<&serde_json::Value> = lines.iter().filter(|line| line.get("level_count").is_some()).collect();
    assert_eq!(cases, 5);
    let district_closures: i64 = level_counts
        .iter()
        .filter(|c| c["level_count"]["area"].as_str().unwrap().len() == 6)
        .map(|c| c["n"].as_i64().unwrap())
        .sum();
    assert_eq!(district_closures, 3, "each of the three closures counted once for the district");
    let target = EventStore::connect(
        &format!("sqlite://{}", dir.path().join("rebuilt/evaluation.db").display()),
        StoreOptions::default(),
    )
    .await
    .unwrap();
    let summary = replay_into(&g, target.clone(), false).await;
    assert!(summary.stats.applied >= 20, "every case event folded: {:?}", summary.stats);
    assert_eq!(summary.stats.skipped, 0);
    assert_eq!(
        String::from_utf8(replay::dump(target.pool()).await.unwrap()).unwrap(),
        String::from_utf8(live.clone()).unwrap()
    );
    // A replay never writes over a read model that holds cases (unless told to replace it).
    assert!(Rebuild::new(target, false, gridloop_domain::clock::DEFAULT_ZONE).await.is_err());

    // As of: folded from the log, the same figures as the live service now…
    let zone = gridloop_domain::clock::DEFAULT_ZONE;
    let mut history = HistoryArgs::embedded(&g.args.store.data_dir);
    history.until = Some(Bound::At(g.clock.now()));
    let now = kpis_as_of(&history, &CaseFilter::default(), Period::Month, zone).await.unwrap();
    assert_eq!(now, report);
    // …and as they stood when only the first case existed (and had closed).
    history.until = Some(Bound::At(after_first));
    let then = kpis_as_of(&history, &CaseFilter::default(), Period::Month, zone).await.unwrap();
    let c = counts(then.total.as_ref().unwrap());
    assert_eq!((c.reported, c.closed, c.closed_on_time), (1, 1, 1));

    // In place, after an upgrade added columns the old rows lack: stop the service, blank them,
    // replay over the whole history, and the projection is whole again.
    let args = g.args.clone();
    g.app.shutdown().await.unwrap();
    let store = args.store.open(ServiceName::Evaluation, None).await.unwrap();
    sqlx::query("UPDATE evaluation_cases SET dispatched_at = NULL, accepted_at = NULL, responded_on_time = NULL, closed_on_time = NULL, deadline_misses = 0")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM evaluation_level_counts").execute(store.pool()).await.unwrap();
    assert_ne!(replay::dump(store.pool()).await.unwrap(), live);
    let history = HistoryArgs::embedded(&args.store.data_dir);
    let mut source = History::open(&history, gridloop_domain::clock::DEFAULT_ZONE).await.unwrap();
    let mut in_place = Rebuild::new(store.clone(), true, gridloop_domain::clock::DEFAULT_ZONE).await.unwrap();
    rebuild(&mut source, &mut in_place, &ProgressBar::hidden()).await.unwrap();
    assert_eq!(replay::dump(store.pool()).await.unwrap(), live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_replay_into_a_fresh_schema_equals_the_live_projection() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut g) = Gridloop::start_on_postgres(dir.path()).await else { return };
    story(&mut g).await;
    let live = replay::dump(evaluation_store(&g).await.pool()).await.unwrap();
    let url = g.args.store.database_url.clone().unwrap();
    let schema = format!("{}evaluation_rebuilt", g.args.store.schema_prefix);
    let target =
        EventStore::connect(&url, StoreOptions { schema: Some(schema), max_connections: 4, ..StoreOptions::default() })
            .await
            .unwrap();
    let summary = replay_into(&g, target.clone(), false).await;
    assert_eq!(summary.stats.skipped, 0);
    assert_eq!(replay::dump(target.pool()).await.unwrap(), live);
    let total = kpis(&mut g, pb::ReportPeriod::Year).await.total.unwrap();
    assert_eq!(counts(&total).closed, 3);
}
