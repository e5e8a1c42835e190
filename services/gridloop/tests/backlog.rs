//! A service taking in a backlog says how far behind it is and when it has caught up: a few
//! thousand rows of an open 311 export imported into dispatch's store (`gridloop import`), then
//! `gridloop up` relays them to intake's and evaluation's consumers, logging that it is taking in
//! a backlog and then `caught up: N events in S s`, with the gauge `gridloop_backlog_events` of
//! dispatch's outbox back at 0.
#![cfg(unix)]

mod common;

use common::cluster::{GRIDLOOP, POLL};
use common::up::Up;
use gridloop::app::{ServiceName, StoreLocation};
use gridloop_bus::backlog::MIN_BACKLOG;
use gridloop_bus::relay::RELAY_BATCH;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// Rows of the synthetic export: about 3.5 events each, several relay batches past the backlog
/// threshold.
const ROWS: u64 = 3_000;
const FEED: &str = "feed=\"outbox:dispatch\"";

/// The number in `line` right after `prefix`.
fn number_after(line: &str, prefix: &str) -> u64 {
    let rest = &line[line.find(prefix).unwrap_or_else(|| panic!("{prefix:?} in {line:?}")) + prefix.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("a number after {prefix:?} in {line:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_backlog_is_reported_while_it_is_taken_in_and_once_it_is_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("311.csv");
    let generated = Command::new("python3")
        .arg(format!("{ROOT}/tests/tools/gen_311_csv.py"))
        .arg(ROWS.to_string())
        .stdout(std::fs::File::create(&csv).unwrap())
        .status();
    if !generated.as_ref().is_ok_and(|status| status.success()) {
        assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "python3 is needed and CI=true: {generated:?}");
        eprintln!("skipping: python3 did not run tests/tools/gen_311_csv.py ({generated:?})");
        return;
    }
    let data = dir.path().join("data");
    let import = Command::new(GRIDLOOP)
        .args(["import", "--mapping", &format!("{ROOT}/deploy/config/import-311.example.toml"), "--data-dir"])
        .arg(&data)
        .args(["--max-rejected", "1%"])
        .arg(&csv)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(import.status.success(), "gridloop import: {}", String::from_utf8_lossy(&import.stderr));
    let imported = {
        let dispatch = StoreLocation::embedded(&data).open(ServiceName::Dispatch, None).await.unwrap();
        dispatch.outbox_depth().await.unwrap() as u64
    };
    assert!(imported >= MIN_BACKLOG + u64::from(RELAY_BATCH), "{imported} events are no backlog");

    let up = Up::start(&data, None);
    let deadline = Instant::now() + Duration::from_secs(600);
    let caught_up = loop {
        if let Some(line) = up.lines_with(&["caught up:", FEED]).pop() {
            break line;
        }
        assert!(Instant::now() < deadline, "dispatch's outbox never caught up; the log:\n{}", up.log());
        tokio::time::sleep(POLL * 10).await;
    };
    eprintln!("{caught_up}");
    let behind = up.lines_with(&["taking in a backlog:", FEED]);
    assert_eq!(behind.len(), 1, "one start of the backlog: {behind:?}");
    // Its first batch is out by the time the relay counts what is left.
    assert!(number_after(&behind[0], "a backlog: ") + u64::from(RELAY_BATCH) >= imported, "{behind:?}");
    assert!(number_after(&caught_up, "caught up: ") >= imported, "every imported event went out: {caught_up}");
    let gauge = format!("gridloop_backlog_events{{{FEED}}} 0");
    assert!(up.metrics().lines().any(|line| line == gauge), "{gauge} in:\n{}", up.metrics());
    up.stop();
}
