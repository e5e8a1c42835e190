//! `gridloop bench` against an in-process gridloop: a few seconds at a low rate, asserting on
//! the JSON it reports (every case accounted for, no errors), never on timings.

use gridloop::app::{App, UpArgs};
use gridloop::bench::{measure, BenchArgs, Rate};
use gridloop::client::Global;
use gridloop_bus::SystemClock;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_bench_drives_every_case_around_the_loop_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Duplicate detection off, as for any load test: reports in one grid and category would be
    // linked to the first open case.
    let args = UpArgs { duplicate_radius_m: 0.0, ..UpArgs::embedded(dir.path(), "127.0.0.1:0".parse().unwrap()) };
    let app = App::start(&args, Arc::new(SystemClock)).await.expect("gridloop starts");

    let bench = BenchArgs {
        global: Global {
            server: format!("http://{}", app.addr),
            intake: None,
            dispatch: None,
            mediation: None,
            evaluation: None,
            json: true,
            token: None,
            // The installation's own key: the bench acts as its admin, and evaluates as a hotline.
            data_dir: dir.path().into(),
            ca_cert: None,
            time_zone: gridloop_domain::clock::DEFAULT_ZONE,
        },
        callback_token: None,
        rate: Rate::PerSecond(20.0),
        concurrency: 1,
        duration: Duration::from_secs(3),
        warmup: Duration::from_secs(1),
        plot: dir.path().join("bench.svg"),
        max_in_flight: 1_000,
    };
    let summary = measure(&bench).await.expect("the bench runs");
    let json: Value = serde_json::to_value(&summary).unwrap();

    let count = |field: &str| json[field].as_u64().unwrap_or_else(|| panic!("{field} in {json:#}"));
    let started = count("cases_started");
    // 20 arrivals a second for 3 s, give or take the arrival on the window's edge.
    assert!((59..=61).contains(&started), "{json:#}");
    assert_eq!(count("cases_completed"), started, "{json:#}");
    assert_eq!((count("reports_linked"), count("arrivals_dropped")), (0, 0), "{json:#}");
    assert_eq!(json["errors"], serde_json::json!({}), "{json:#}");
    let latency = |measure: &str| json["latency_ms"][measure]["count"].as_u64().unwrap();
    // One report, accept, resolve and evaluate per case, and its time to dispatch; at least one
    // GetCase each to see it dispatched.
    for measure in ["ReportCase", "AcceptCase", "ResolveCase", "EvaluateCase", "report_to_dispatched"] {
        assert_eq!(latency(measure), started, "{measure}: {json:#}");
    }
    assert!(latency("GetCase") >= started);
    assert_eq!(json["offered_per_second"], 20.0);
    let per_second = json["p99_report_to_dispatched_ms_per_second"].as_array().unwrap();
    assert!((3..=4).contains(&per_second.len()), "{json:#}");
    app.shutdown().await.expect("clean shutdown");
}
