//! `WatchFigures` end to end over real gRPC: a street's watcher hears of a case reported in its
//! street once evaluation has projected it, and stopping the server ends the watch instead of
//! waiting on it (an open stream would hold the graceful shutdown forever).

use gridloop_bus::ManualClock;
use gridloop_proto::v1 as pb;
use gridloop_tests::{start_time, Gridloop};
use std::time::Duration;

/// Long enough for a loaded machine; only a hang reaches it.
const HANG: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streets_watcher_hears_a_case_reported_there_and_the_shutdown_ends_the_watch() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gridloop::start(dir.path(), ManualClock::new(start_time())).await;
    let (location, grid) = g.a_grid().await;
    let street = grid[..9].to_string();
    let mut watch = g
        .clients
        .evaluation
        .watch_figures(pb::WatchFiguresRequest { area: street.clone() })
        .await
        .unwrap()
        .into_inner();
    let before = watch.message().await.unwrap().expect("the position at once").position;

    let category = g.a_category(pb::Level::Grid).await;
    g.report_at(&category.code, "live-figures-1", location).await;
    let heard = tokio::time::timeout(HANG, watch.message()).await.expect("heard before the hang guard");
    let after = heard.unwrap().expect("a change").position;
    assert!(after > before, "the projection moved on: {before} → {after}");
    let listed = g
        .clients
        .evaluation
        .list_cases(pb::ListCasesRequest { area: street, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.cases.len(), 1, "announced once projected: the case is there to re-read");

    tokio::time::timeout(HANG, g.app.shutdown()).await.expect("the shutdown did not wait on the watch").unwrap();
    let ended = tokio::time::timeout(HANG, watch.message()).await.expect("the watch ended");
    assert!(!matches!(ended, Ok(Some(_))), "no more changes after the shutdown: {ended:?}");
}
