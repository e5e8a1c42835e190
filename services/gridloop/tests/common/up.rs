//! `gridloop up` as a process of the test's own: the four services over SQLite files in a data
//! directory (or over Postgres), its log in a file the test reads, metrics on a port of its own.
// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use gridloop_auth::{AuthChannel, BearerToken, Principal, SigningKey};
use gridloop_domain::access::Role;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;
use tempfile::TempDir;

use super::cluster::{connect, signal, GRIDLOOP, POLL, STARTUP};
use super::free_port;

pub struct Up {
    child: Option<Child>,
    pub data: PathBuf,
    pub port: u16,
    metrics_port: u16,
    /// Outside the data directory, so that a full disk there does not stop the log.
    logs: TempDir,
}

impl Up {
    /// Starts `gridloop up` on `data` (and on Postgres at `database_url`, if given) and waits
    /// until it serves.
    pub fn start(data: &Path, database_url: Option<&str>) -> Up {
        let logs = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(logs.path().join("up.log")).unwrap();
        let (port, metrics_port) = (free_port(), free_port());
        let mut command = Command::new(GRIDLOOP);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("GRIDLOOP_") {
                command.env_remove(name);
            }
        }
        command
            .args(["up", "--data-dir"])
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            .args(["--http-listen", "off"])
            .args(database_url.map(|url| ["--database-url", url]).into_iter().flatten())
            // Every report opens its own case (the tests count cases), and one principal may
            // send every call.
            .env("GRIDLOOP_DUPLICATE_RADIUS_M", "0")
            .env("GRIDLOOP_RATE_LIMIT", "0")
            .env("GRIDLOOP_MAX_IN_FLIGHT", "0")
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = command.spawn().expect("start gridloop up");
        let mut up = Up { child: Some(child), data: data.to_path_buf(), port, metrics_port, logs };
        let ready = format!("gridloop is up on 127.0.0.1:{port}");
        let deadline = Instant::now() + STARTUP;
        while !up.log().contains(&ready) {
            let exited = up.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "gridloop up did not start (exit: {exited:?}); its log:\n{}",
                up.log()
            );
            std::thread::sleep(POLL);
        }
        up
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("up.log")).unwrap_or_default()
    }

    /// The log's lines that contain every one of `needles`.
    pub fn lines_with(&self, needles: &[&str]) -> Vec<String> {
        self.log().lines().filter(|line| needles.iter().all(|n| line.contains(n))).map(str::to_string).collect()
    }

    /// A connection on which every call is made as an administrator.
    pub async fn channel(&self) -> AuthChannel {
        let admin = Principal::new("test-admin", Role::Admin, None, None).unwrap();
        let key = SigningKey::load(&self.data).unwrap().expect("gridloop up created the signing key");
        let token = key.issue(&admin, chrono::Duration::hours(1)).unwrap();
        BearerToken::new(&token).unwrap().channel(connect(format!("http://127.0.0.1:{}", self.port)).await)
    }

    /// The Prometheus text of `/metrics`.
    pub fn metrics(&self) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).expect("metrics port");
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    /// SIGTERM: it must drain (flush its outboxes) and exit 0.
    pub fn stop(mut self) {
        let mut child = self.child.take().expect("running");
        signal(&child, "TERM");
        let status = child.wait().unwrap();
        assert!(status.success(), "gridloop up exited with {status} after SIGTERM; its log:\n{}", self.log());
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
