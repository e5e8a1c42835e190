//! What the browser tests share: `gridloop up` as a child process on free ports, the CLI run
//! against its data directory, and the node + chromium + playwright-core they drive pages with
//! (tests/browser). Without those tools a test is skipped, and fails under CI=true.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const GRIDLOOP: &str = env!("CARGO_BIN_EXE_gridloop");
const STARTUP: Duration = Duration::from_secs(60);

/// A child process, killed when dropped.
pub struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
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

pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Node, chromium and the tests' node_modules, or why a browser test cannot run.
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

/// Chromium and the scripts' directory; `None` (after saying why) when a tool is missing and
/// the test may be skipped. Under CI=true a missing tool fails the test instead.
pub fn tools_or_skip() -> Option<(PathBuf, PathBuf)> {
    match browser_tools() {
        Ok(tools) => Some(tools),
        Err(missing) => {
            assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{missing} and CI=true");
            eprintln!("skipped: {missing}");
            None
        }
    }
}

/// Runs the CLI on `data_dir` (acting as the installation's admin); its standard output.
pub fn gridloop(args: &[&str], data_dir: &Path) -> String {
    let output = Command::new(GRIDLOOP).args(args).arg("--data-dir").arg(data_dir).output().expect("run gridloop");
    assert!(output.status.success(), "gridloop {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

/// `gridloop up` on `data_dir`, serving gRPC and HTTP on free ports, once `/readyz` answers:
/// the process, the gRPC URL and the HTTP URL.
pub fn up(data_dir: &Path) -> (Process, String, String) {
    let (grpc_port, http_port) = (free_port(), free_port());
    let up = Command::new(GRIDLOOP)
        .args(["up", "--listen", &format!("127.0.0.1:{grpc_port}"), "--http-listen", &format!("127.0.0.1:{http_port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("GRIDLOOP_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gridloop up");
    let process = Process(up);
    let started = Instant::now();
    while !ready(http_port) {
        assert!(started.elapsed() < STARTUP, "gridloop up never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    (process, format!("http://127.0.0.1:{grpc_port}"), format!("http://127.0.0.1:{http_port}"))
}
