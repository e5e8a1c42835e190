//! Errors that say what happened: an unknown case is NOT_FOUND wherever it is named, a bad field
//! is named once, a query for an area or category this city does not have is a mistake rather
//! than an empty answer, and every bad field of a command is reported at once.

use gridloop_bus::ManualClock;
use gridloop_proto::v1 as pb;
use gridloop_tests::{actor, start_time, Gridloop};
use tonic::Code;
use tonic_types::StatusExt;

fn fields(status: &tonic::Status) -> Vec<String> {
    let request = status.get_details_bad_request().unwrap_or_else(|| panic!("no BadRequest detail: {status:?}"));
    request.field_violations.into_iter().map(|v| v.field).collect()
}

#[tokio::test]
async fn evaluating_an_unknown_case_is_not_found_and_an_unresolved_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let evaluate = |case_id: &str| pb::EvaluateCaseRequest {
        case_id: case_id.into(),
        actor: actor("resident"),
        satisfaction: pb::Satisfaction::Satisfied as i32,
        ..Default::default()
    };
    let unknown = uuid::Uuid::now_v7().to_string();
    let status = g.clients.hotline.evaluate_case(evaluate(&unknown)).await.expect_err("unknown case");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(status.message().contains(&unknown), "{status:?}");

    let category = g.a_category(pb::Level::Grid).await;
    let reported = g.report(&category.code, "errors-unresolved").await;
    let listed = pb::ListCasesRequest {
        min_case_id: reported.case_id.clone(),
        min_version: reported.case_version,
        ..Default::default()
    };
    g.clients.evaluation.list_cases(listed).await.expect("evaluation knows the case");
    let status = g.clients.hotline.evaluate_case(evaluate(&reported.case_id)).await.expect_err("not resolved");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("is not resolved"), "{status:?}");
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bad_case_id_is_named_once_beside_the_other_bad_fields() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let request = pb::EvaluateCaseRequest { case_id: "x".into(), ..Default::default() };
    let status = g.clients.hotline.evaluate_case(request).await.expect_err("bad fields");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("case_id: \"x\" is not a UUID; satisfaction: "), "{}", status.message());
    assert_eq!(status.message().matches("case_id").count(), 1, "{}", status.message());
    assert_eq!(fields(&status), ["case_id", "satisfaction"]);
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_query_for_an_area_or_category_the_city_does_not_have_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let evaluation = &mut g.clients.evaluation;

    let list = pb::ListCasesRequest { area: "999999".into(), ..Default::default() };
    let status = evaluation.list_cases(list).await.expect_err("no such area");
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["area".to_string()]));
    let distribution = pb::GetLevelDistributionRequest { area: "321012999".into(), ..Default::default() };
    let status = evaluation.get_level_distribution(distribution).await.expect_err("no such street");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let kpis = pb::GetKpisRequest { category_code: "env.nope".into(), ..Default::default() };
    let status = evaluation.get_kpis(kpis).await.expect_err("no such category");
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["category_code".to_string()]));

    // What the city has is answered, empty or not.
    let (_, grid) = g.a_grid().await;
    let list = pb::ListCasesRequest { area: grid, ..Default::default() };
    assert!(g.clients.evaluation.list_cases(list).await.expect("a grid of the city").into_inner().cases.is_empty());
    let category = g.a_category(pb::Level::Grid).await;
    let kpis = pb::GetKpisRequest { category_code: category.code, ..Default::default() };
    g.clients.evaluation.get_kpis(kpis).await.expect("a category of the catalog");
    g.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_transfer_reports_every_bad_field_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let category = g.a_category(pb::Level::Grid).await;
    let reported = g.report(&category.code, "errors-transfer").await;
    let community = &reported.grid_code[..12];
    let transfer = pb::TransferCaseRequest {
        case_id: reported.case_id.clone(),
        min_version: reported.case_version,
        actor: actor("grid_worker"),
        // A community is not a grid: the wrong level, and no reason either.
        to_unit: community.into(),
        reason: " ".into(),
        ..Default::default()
    };
    let status = g.clients.dispatch.transfer_case(transfer).await.expect_err("two bad fields");
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["to_unit".into(), "reason".into()]));
    g.app.shutdown().await.unwrap();
}
