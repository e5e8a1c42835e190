//! Throughput of the one-process loop over real gRPC: report N cases with C concurrent clients,
//! then accept and resolve them all, and time how long until every case is dispatched and until
//! the evaluation projection has seen every resolution.
//!
//!     cargo run --release -p gridloop-tests --example loop_bench -- [CASES] [CONCURRENCY] [postgres-url]
//!
//! With `GRIDLOOP_NATS_URL` set the services exchange events over JetStream (a stream of the
//! bench's own, deleted at the end), else in process.

use futures::stream::{self, StreamExt};
use gridloop_bus::ManualClock;
use gridloop_proto::v1 as pb;
use gridloop_tests::{report_request, start_time, Gridloop};
use std::time::Instant;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let cases: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let database_url = args.next();
    let dir = tempfile::tempdir().unwrap();
    // Every report is at the same point in the same category: with duplicate detection on, all
    // but the first would be linked to one case, so it is off here.
    let bench_id = uuid::Uuid::now_v7().simple().to_string();
    let nats = gridloop::app::NatsArgs {
        url: std::env::var("GRIDLOOP_NATS_URL").ok(),
        stream: format!("BENCH_{bench_id}"),
        subject_prefix: format!("bench{bench_id}"),
        ..Default::default()
    };
    let transport = if nats.url.is_some() { "JetStream" } else { "in-process bus" };
    let up = gridloop::app::UpArgs {
        nats,
        store: gridloop::app::StoreLocation {
            database_url: database_url.clone(),
            schema_prefix: format!("bench_{bench_id}_"),
            data_dir: dir.path().into(),
        },
        duplicate_radius_m: 0.0,
        // One principal drives the whole load: no per-principal rate or concurrency limit.
        security: gridloop_auth::SecurityArgs { limits: gridloop_auth::LimitArgs::unthrottled(), ..Default::default() },
        ..gridloop::app::UpArgs::embedded(dir.path(), "127.0.0.1:0".parse().unwrap())
    };
    let mut g = Gridloop::start_with(up, ManualClock::new(start_time())).await;
    let category = g.a_category(pb::Level::Grid).await.code;
    let (location, _) = g.a_grid().await;
    println!("backend: {}, {transport}", if database_url.is_some() { "postgres" } else { "sqlite" });

    let started = Instant::now();
    let ids: Vec<String> = stream::iter(0..cases)
        .map(|i| {
            let mut intake = g.clients.intake.clone();
            let request = report_request(&category, &format!("bench-{i}"), location);
            async move { intake.report_case(request).await.expect("report").into_inner().case_id }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let reported = started.elapsed();
    wait_for(&mut g, cases, pb::CaseState::Dispatched).await;
    let dispatched = started.elapsed();
    println!(
        "report:   {cases} cases in {:.2?} → {:.0} reports/s accepted by intake",
        reported,
        cases as f64 / reported.as_secs_f64()
    );
    println!(
        "dispatch: all {cases} dispatched after {:.2?} → {:.0} cases/s report→dispatched",
        dispatched,
        cases as f64 / dispatched.as_secs_f64()
    );

    let started = Instant::now();
    stream::iter(ids.iter())
        .map(|id| {
            let mut dispatch = g.clients.dispatch.clone();
            let id = id.clone();
            async move {
                let accept =
                    pb::AcceptCaseRequest { case_id: id.clone(), assignee: "bench".into(), ..Default::default() };
                dispatch.accept_case(accept).await.expect("accept");
                let resolve = pb::ResolveCaseRequest { case_id: id, summary: "done".into(), ..Default::default() };
                dispatch.resolve_case(resolve).await.expect("resolve");
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
    let commanded = started.elapsed();
    wait_for(&mut g, cases, pb::CaseState::Resolved).await;
    let projected = started.elapsed();
    println!(
        "commands: {} accept+resolve in {:.2?} → {:.0} commands/s",
        cases * 2,
        commanded,
        (cases * 2) as f64 / commanded.as_secs_f64()
    );
    println!("project:  all {cases} resolved in the evaluation projection after {projected:.2?}");
    g.app.shutdown().await.unwrap();
    if let Some(url) = &g.args.nats.url {
        let jetstream = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        for stream in [format!("BENCH_{bench_id}"), format!("BENCH_{bench_id}_DLQ")] {
            jetstream.delete_stream(&stream).await.unwrap();
        }
    }
}

/// Poll the projection until `n` cases are in `state`.
async fn wait_for(g: &mut Gridloop, n: usize, state: pb::CaseState) {
    loop {
        let mut seen = 0;
        let mut token = String::new();
        loop {
            let page = g
                .clients
                .evaluation
                .list_cases(pb::ListCasesRequest {
                    state: state as i32,
                    page_size: 500,
                    page_token: token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            seen += page.cases.len();
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        if seen >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
