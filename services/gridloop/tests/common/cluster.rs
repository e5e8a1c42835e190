//! The four services as separate `gridloop serve` processes on Postgres (one schema each) and a
//! NATS JetStream server of the test's own, for the process-level tests of distributed mode.
// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use gridloop_auth::{AuthChannel, BearerToken, Principal, SigningKey};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tonic::transport::Channel;

use super::free_port;

pub const GRIDLOOP: &str = env!("CARGO_BIN_EXE_gridloop");
pub const STARTUP: Duration = Duration::from_secs(60);
pub const POLL: Duration = Duration::from_millis(25);

/// A NATS server with JetStream, owned by the test.
pub struct Nats {
    binary: PathBuf,
    port: u16,
    store: TempDir,
    child: Option<Child>,
}

impl Nats {
    pub fn start(binary: PathBuf) -> Nats {
        let mut nats = Nats { binary, port: free_port(), store: tempfile::tempdir().unwrap(), child: None };
        nats.spawn();
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn spawn(&mut self) {
        let child = Command::new(&self.binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        wait_until(STARTUP, "nats-server to listen", || std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok());
    }

    /// Graceful stop (SIGTERM), as an operator's restart or a node drain would do.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "TERM");
            child.wait().expect("nats-server exits");
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success(), "kill -{name} {}", child.id());
}

pub fn wait_until(timeout: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(POLL);
    }
}

/// One `gridloop serve <service>` process.
pub struct Service {
    name: &'static str,
    port: u16,
    metrics_port: u16,
    child: Option<Child>,
}

pub struct Cluster {
    database_url: String,
    schema_prefix: String,
    nats_url: String,
    /// More environment for every service.
    env: Vec<(String, String)>,
    logs: TempDir,
    /// The services' shared data directory: the first to start creates the installation's
    /// signing key there, the others load it, and the test mints its tokens with it.
    data: TempDir,
    services: Vec<Service>,
}

impl Cluster {
    pub fn start(database_url: String, nats_url: String, env: &[(&str, &str)]) -> Cluster {
        let mut cluster = Cluster {
            database_url,
            schema_prefix: format!("dist_{}_", uuid::Uuid::now_v7().simple()),
            nats_url,
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            logs: tempfile::tempdir().unwrap(),
            data: tempfile::tempdir().unwrap(),
            services: ["intake", "dispatch", "mediation", "evaluation"]
                .map(|name| Service { name, port: free_port(), metrics_port: free_port(), child: None })
                .into(),
        };
        for index in 0..cluster.services.len() {
            cluster.spawn(index);
        }
        cluster
    }

    pub fn index(&self, name: &str) -> usize {
        self.services.iter().position(|s| s.name == name).expect("a service")
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}", self.services[self.index(name)].port)
    }

    /// The services' shared data directory, whose signing key mints the installation's tokens.
    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.logs.path().join(format!("{name}.log"))
    }

    pub fn spawn(&mut self, index: usize) {
        let service = &self.services[index];
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path(service.name)).unwrap();
        let mut command = Command::new(GRIDLOOP);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("GRIDLOOP_") {
                command.env_remove(name);
            }
        }
        command
            .args(["serve", service.name])
            .args(["--listen", &format!("127.0.0.1:{}", service.port)])
            .args(["--metrics-listen", &format!("127.0.0.1:{}", service.metrics_port)])
            .arg("--data-dir")
            .arg(self.data.path())
            .env("GRIDLOOP_DATABASE_URL", &self.database_url)
            .env("GRIDLOOP_SCHEMA_PREFIX", &self.schema_prefix)
            .env("GRIDLOOP_NATS_URL", &self.nats_url)
            // Every report opens its own case: the test counts cases.
            .env("GRIDLOOP_DUPLICATE_RADIUS_M", "0")
            // One principal drives dozens of cases at once: no per-principal throttle.
            .env("GRIDLOOP_RATE_LIMIT", "0")
            .env("GRIDLOOP_MAX_IN_FLIGHT", "0")
            .env("RUST_LOG", "info,sqlx=warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let mut child = command.spawn().expect("start gridloop serve");
        let (name, port) = (service.name, service.port);
        // Fail with the service's own log when it exits or never listens: a bare timeout says
        // nothing about why.
        let deadline = Instant::now() + STARTUP;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = child.try_wait().unwrap();
            if exited.is_some() || Instant::now() >= deadline {
                let _ = child.kill();
                let log = std::fs::read_to_string(self.log_path(name)).unwrap_or_default();
                panic!("{name} did not listen on {port} within {STARTUP:?} (exit: {exited:?}); its log:\n{log}");
            }
            std::thread::sleep(POLL);
        }
        self.services[index].child = Some(child);
    }

    /// A connection to a service on which every call is made as `principal`.
    pub async fn channel(&self, name: &str, principal: &Principal) -> AuthChannel {
        let key = SigningKey::load(self.data.path()).unwrap().expect("the services created the signing key");
        let token = key.issue(principal, chrono::Duration::hours(1)).unwrap();
        BearerToken::new(&token).unwrap().channel(connect(self.url(name)).await)
    }

    pub fn kill_9(&mut self, name: &str) {
        let index = self.index(name);
        let mut child = self.services[index].child.take().expect("running");
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "{name} was killed by SIGKILL");
    }

    /// Send `signal` (STOP, CONT, …) to a running service.
    pub fn signal_service(&self, name: &str, signal_name: &str) {
        signal(self.services[self.index(name)].child.as_ref().expect("running"), signal_name);
    }

    /// The Postgres schema of a service's store.
    pub fn schema(&self, name: &str) -> String {
        format!("{}{name}", self.schema_prefix)
    }

    pub fn restart(&mut self, name: &str) {
        let index = self.index(name);
        self.spawn(index);
    }

    pub fn metrics(&self, name: &str) -> String {
        use std::io::{Read, Write};
        let port = self.services[self.index(name)].metrics_port;
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("metrics port");
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    pub fn logs_text(&self) -> String {
        self.services
            .iter()
            .map(|s| format!("--- {}\n{}", s.name, std::fs::read_to_string(self.log_path(s.name)).unwrap_or_default()))
            .collect()
    }

    /// SIGTERM every service; each must drain and exit 0.
    pub fn stop_all(&mut self) {
        for service in &mut self.services {
            let mut child = service.child.take().expect("running");
            signal(&child, "TERM");
            let status = child.wait().unwrap();
            assert!(status.success(), "{} exited with {status} after SIGTERM", service.name);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for service in &mut self.services {
            if let Some(child) = service.child.as_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

pub async fn connect(url: String) -> Channel {
    let deadline = Instant::now() + STARTUP;
    loop {
        match Channel::from_shared(url.clone()).unwrap().connect().await {
            Ok(channel) => return channel,
            Err(error) => {
                assert!(Instant::now() < deadline, "cannot reach {url}: {error}");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}
