//! Duplicate detection end to end: a report of the same category within the
//! radius (default 50 m) and window (default 72 h) of an open case is linked to that case instead
//! of opening a second one, and the reporter is told so.

use chrono::Duration;
use gridloop::app::UpArgs;
use gridloop_bus::ManualClock;
use gridloop_proto::v1 as pb;
use gridloop_tests::{history_types, start_time, Gridloop};

/// `metres` north of `p`.
fn north(p: pb::GeoPoint, metres: f64) -> pb::GeoPoint {
    pb::GeoPoint::wgs84(p.lat + (metres / 6_371_008.8_f64).to_degrees(), p.lon)
}

/// Two different categories that enter at grid level.
async fn two_categories(g: &mut Gridloop) -> (String, String) {
    let catalog = g.clients.intake.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    let mut codes = catalog.categories.into_iter().filter(|c| c.start_level() == pb::Level::Grid).map(|c| c.code);
    (codes.next().expect("a grid category"), codes.next().expect("a second grid category"))
}

/// The whole story on whichever backend `g` runs on.
async fn duplicates_are_linked_while_the_case_is_open(g: &mut Gridloop) {
    let (category, other_category) = two_categories(g).await;
    let (here, _) = g.a_grid().await;

    let first = g.report_at(&category, "dup-first", here).await;
    assert!(!first.linked && first.linked_reason.is_empty());
    // Once dispatch has the case, intake's read model has it too (it is subscribed first).
    g.case_in(&first.case_id, pb::CaseState::Dispatched).await;

    // The same matter reported again 10 m away: linked, no second case.
    let second = g.report_at(&category, "dup-second", north(here, 10.0)).await;
    assert_eq!(second.case_id, first.case_id, "linked to the open case");
    assert!(second.linked, "{second:?}");
    assert!(!second.replayed);
    assert_eq!(second.grid_code, first.grid_code);
    assert!(
        second.linked_reason.starts_with(&format!("same category within 10 m of case {}", first.case_id)),
        "{}",
        second.linked_reason
    );
    let case = g.case_when(&first.case_id, |c| history_types(c).contains(&"CaseReportLinked".to_string())).await;
    // The second report makes the matter a shared concern: its priority is re-assessed.
    assert_eq!(history_types(&case), ["CaseOpened", "CaseDispatched", "CaseReportLinked", "CasePriorityChanged"]);
    let entry = &case.history[2];
    assert!(entry.payload_json.contains("dup-second"), "{}", entry.payload_json);
    assert_eq!(case.case.as_ref().unwrap().state(), pb::CaseState::Dispatched, "a link changes no state");
    let listed = g.listed_when(&first.case_id, |c| c.linked_reports == 1).await;
    assert_eq!(listed.state(), pb::CaseState::Dispatched);
    assert_eq!(g.listed_cases().await.len(), 1, "one matter, one case");

    // A retry of the linked report gets the same answer.
    let retry = g.report_at(&category, "dup-second", north(here, 10.0)).await;
    assert_eq!(retry.case_id, first.case_id);
    assert!(retry.linked && retry.replayed, "{retry:?}");
    assert_eq!(retry.linked_reason, second.linked_reason);
    assert_eq!(retry.uploaded_at, second.uploaded_at);

    // Another category at the very same point is another matter.
    let other = g.report_at(&other_category, "dup-other-category", here).await;
    assert_ne!(other.case_id, first.case_id);
    assert!(!other.linked);

    // The same category beyond the radius is another matter too.
    let far = g.report_at(&category, "dup-far", north(here, 80.0)).await;
    assert_ne!(far.case_id, first.case_id);
    assert!(!far.linked);
    // Evaluation's case list follows dispatch over the bus: wait until it shows all three.
    for case_id in [&first.case_id, &other.case_id, &far.case_id] {
        g.listed_when(case_id, |c| c.state() == pb::CaseState::Dispatched).await;
    }
    assert_eq!(g.listed_cases().await.len(), 3);

    // Once the case is closed, the same matter reported again opens a new case. The case list
    // (evaluation) sees the closure after intake's read model does (intake is subscribed first).
    g.close_case(&first.case_id).await;
    g.listed_when(&first.case_id, |c| c.state() == pb::CaseState::Closed).await;
    let again = g.report_at(&category, "dup-after-closure", north(here, 10.0)).await;
    assert_ne!(again.case_id, first.case_id, "a closed case takes no new reports");
    assert!(!again.linked);
    g.case_in(&again.case_id, pb::CaseState::Dispatched).await;
    g.listed_when(&again.case_id, |_| true).await;
    assert_eq!(g.listed_cases().await.len(), 4);
    let closed = g.case(&first.case_id).await.unwrap();
    assert_eq!(history_types(&closed).iter().filter(|t| *t == "CaseReportLinked").count(), 1);
}

#[tokio::test]
async fn a_nearby_report_of_the_same_category_is_linked_to_the_open_case() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    duplicates_are_linked_while_the_case_is_open(&mut g).await;
    assert!(g.app.bus.dead_letters().is_empty(), "{:?}", g.app.bus.dead_letters());
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn duplicates_are_linked_on_postgres_too() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut g) = Gridloop::start_on_postgres(dir.path()).await else { return };
    duplicates_are_linked_while_the_case_is_open(&mut g).await;
    assert!(g.app.bus.dead_letters().is_empty(), "{:?}", g.app.bus.dead_letters());
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_report_outside_the_window_opens_a_new_case() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let (category, _) = two_categories(&mut g).await;
    let (here, _) = g.a_grid().await;
    let first = g.report_at(&category, "window-1", here).await;
    g.case_in(&first.case_id, pb::CaseState::Dispatched).await;

    // 71 hours on (the case has climbed the ladder meanwhile, but is still open): linked.
    g.advance(Duration::hours(71));
    let within = g.report_at(&category, "window-2", here).await;
    assert_eq!(within.case_id, first.case_id);
    assert!(within.linked);
    assert!(within.linked_reason.ends_with("opened 2 days 23 h ago"), "{}", within.linked_reason);

    // Past the 72-hour window: the case is still open, but the report opens a new case.
    g.advance(Duration::hours(2));
    let outside = g.report_at(&category, "window-3", here).await;
    assert_ne!(outside.case_id, first.case_id);
    assert!(!outside.linked);
    g.case_in(&outside.case_id, pb::CaseState::Dispatched).await;
    let view = g.case(&first.case_id).await.unwrap().case.unwrap();
    assert!(!matches!(view.state(), pb::CaseState::Closed | pb::CaseState::Rejected), "{view:?}");
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rejected_case_takes_no_more_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let (category, _) = two_categories(&mut g).await;
    let (here, _) = g.a_grid().await;
    let first = g.report_at(&category, "reject-1", here).await;
    g.case_in(&first.case_id, pb::CaseState::Dispatched).await;
    let reject = pb::RejectCaseRequest {
        case_id: first.case_id.clone(),
        expected_version: 0,
        actor: gridloop_tests::actor("grid_worker"),
        reason: "不属于受理范围".into(),
        ..Default::default()
    };
    g.clients.dispatch.reject_case(reject).await.expect("reject");
    g.listed_when(&first.case_id, |c| c.state() == pb::CaseState::Rejected).await;
    let again = g.report_at(&category, "reject-2", here).await;
    assert_ne!(again.case_id, first.case_id);
    assert!(!again.linked);
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_zero_radius_turns_duplicate_detection_off() {
    let dir = tempfile::tempdir().unwrap();
    let args = UpArgs { duplicate_radius_m: 0.0, ..UpArgs::embedded(dir.path(), "127.0.0.1:0".parse().unwrap()) };
    let mut g = Gridloop::start_with(args, ManualClock::new(start_time())).await;
    let (category, _) = two_categories(&mut g).await;
    let (here, _) = g.a_grid().await;
    let first = g.report_at(&category, "off-1", here).await;
    g.case_in(&first.case_id, pb::CaseState::Dispatched).await;
    let second = g.report_at(&category, "off-2", here).await;
    assert_ne!(second.case_id, first.case_id);
    assert!(!second.linked);
    g.app.shutdown().await.unwrap();
}
