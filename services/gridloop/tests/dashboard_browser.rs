//! The command-centre dashboard in a real browser: `gridloop up` over two simulated days, then
//! tests/browser/dashboard.mjs drives Debian's chromium through it as a street's supervisor
//! (step counts and 4321 shares against the CLI's, drill-down, a case page, a CLI report pushed
//! live within 2 s, a refused street) and saves screenshots to target/dashboard-screenshots/.
//! Needs node, chromium and `npm ci` in tests/browser (.ci/run provides them); without them
//! the test is skipped, and fails under CI=true.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const GRIDLOOP: &str = env!("CARGO_BIN_EXE_gridloop");
const STREET: &str = "321012001";
const OTHER_STREET: &str = "321012002";
const STARTUP: Duration = Duration::from_secs(60);

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().unwrap().port()
}

/// Whether `/readyz` answers 200 on `port`.
fn ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let mut answer = String::new();
    stream.write_all(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.split_whitespace().nth(1) == Some("200")
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Node, chromium and the test's node_modules, or why the test cannot run.
fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if !chromium.is_file() {
        return Err(format!("no chromium at {}", chromium.display()));
    }
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("no node on PATH".into());
    }
    let script_dir = repository().join("tests/browser");
    if !script_dir.join("node_modules/playwright-core").is_dir() {
        return Err("tests/browser/node_modules is missing: run `npm ci` there".into());
    }
    Ok((chromium, script_dir))
}

fn gridloop(args: &[&str], data_dir: &Path) -> String {
    let output = Command::new(GRIDLOOP).args(args).arg("--data-dir").arg(data_dir).output().expect("run gridloop");
    assert!(output.status.success(), "gridloop {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

#[test]
fn a_supervisor_sees_its_street_live_in_chromium_and_is_refused_another() {
    let (chromium, script_dir) = match browser_tools() {
        Ok(tools) => tools,
        Err(missing) => {
            assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{missing} and CI=true");
            eprintln!("skipped: {missing}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // Two virtual days ending now, so that today's intake and the open deadlines are current.
    let start = (chrono::Utc::now() - chrono::Duration::days(2)).format("%Y-%m-%dT%H:%M:00Z").to_string();
    gridloop(&["simulate", "--days", "2", "--cases-per-day", "150", "--start", &start], &data_dir);

    let (grpc_port, http_port) = (free_port(), free_port());
    let server = format!("http://127.0.0.1:{grpc_port}");
    let url = format!("http://127.0.0.1:{http_port}");
    let up = Command::new(GRIDLOOP)
        .args(["up", "--listen", &format!("127.0.0.1:{grpc_port}"), "--http-listen", &format!("127.0.0.1:{http_port}")])
        .arg("--data-dir")
        .arg(&data_dir)
        .env_remove("GRIDLOOP_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gridloop up");
    let _up = Process(up);
    let started = Instant::now();
    while !ready(http_port) {
        assert!(started.elapsed() < STARTUP, "gridloop up never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }
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
