//! The command-centre dashboard in a real browser: `gridloop up` over two simulated days, then
//! tests/browser/dashboard.mjs drives Debian's chromium through it as a street's supervisor
//! (step counts and 4321 shares against the CLI's, drill-down, a case page, a CLI report pushed
//! live within 2 s, a refused street) and saves screenshots to target/dashboard-screenshots/.
//! Needs node, chromium and `npm ci` in tests/browser (.ci/run provides them); without them
//! the test is skipped, and fails under CI=true.

#[path = "common/browser.rs"]
mod browser;

use browser::{gridloop, repository, tools_or_skip, up, GRIDLOOP};
use std::process::Command;

const STREET: &str = "321012001";
const OTHER_STREET: &str = "321012002";

#[test]
fn a_supervisor_sees_its_street_live_in_chromium_and_is_refused_another() {
    let Some((chromium, script_dir)) = tools_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // Two virtual days ending now, so that today's intake and the open deadlines are current.
    let start = (chrono::Utc::now() - chrono::Duration::days(2)).format("%Y-%m-%dT%H:%M:00Z").to_string();
    gridloop(&["simulate", "--days", "2", "--cases-per-day", "150", "--start", &start], &data_dir);

    let (_up, server, url) = up(&data_dir);
    let token =
        gridloop(&["token", "issue", "--role", "supervisor", "--area", STREET, "--subject", "dash-sup"], &data_dir);

    let shots = repository().join("target/dashboard-screenshots");
    let output = Command::new("node")
        .arg("dashboard.mjs")
        .current_dir(&script_dir)
        .env("DASH_URL", &url)
        .env("DASH_TOKEN", token.trim())
        .env("DASH_AREA", STREET)
        .env("DASH_OUTSIDE", OTHER_STREET)
        .env("DASH_SHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .env("GRIDLOOP", GRIDLOOP)
        .env("GRIDLOOP_SERVER", &server)
        .env("GRIDLOOP_DATA_DIR", &data_dir)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "browser test failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let measured: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON");
    assert!(measured["live_ms"].as_u64().is_some_and(|ms| ms <= 2000), "{measured}");
    assert_eq!(measured["grids_on_map"], 25, "the street's grids: {measured}");
    assert!(shots.join("live.png").is_file());
}
