//! `gridloop serve http` as its own process answers as the HTTP server inside `gridloop up` does:
//! both call the same gRPC server, one in process, one from outside with a token it mints from
//! the installation's key; and it stops cleanly on SIGTERM.

use gridloop::app::{App, UpArgs};
use gridloop_bus::SystemClock;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const GRIDLOOP: &str = env!("CARGO_BIN_EXE_gridloop");
/// How long the process may take to answer `/readyz`.
const STARTUP: Duration = Duration::from_secs(30);

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(http: &reqwest::Client, url: &str) -> Option<(u16, String)> {
    let response = http.get(url).send().await.ok()?;
    Some((response.status().as_u16(), response.text().await.ok()?))
}

#[tokio::test]
async fn serve_http_alone_answers_as_the_in_process_server_does() {
    gridloop_auth::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let args = UpArgs {
        http_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..UpArgs::embedded(dir.path(), "127.0.0.1:0".parse().unwrap())
    };
    let app = App::start(&args, Arc::new(SystemClock)).await.expect("gridloop starts");
    let in_process = format!("http://{}", app.http_addr.expect("HTTP served in process"));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = Command::new(GRIDLOOP);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GRIDLOOP_") {
            command.env_remove(name);
        }
    }
    let child = command
        .args(["serve", "http", "--server", &format!("http://{}", app.addr)])
        .args(["--http-listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gridloop serve http");
    let mut process = Process(child);
    let alone = format!("http://127.0.0.1:{port}");

    let http = reqwest::Client::new();
    let started = tokio::time::Instant::now();
    while get(&http, &format!("{alone}/readyz")).await != Some((200, "ready".into())) {
        assert!(started.elapsed() < STARTUP, "serve http never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for path in ["/open311/v2/services.json", "/open311/v2/services/env.debris.xml", "/openapi.json"] {
        let (ours, theirs) =
            (get(&http, &format!("{in_process}{path}")).await, get(&http, &format!("{alone}{path}")).await);
        assert_eq!(ours.as_ref().map(|(status, _)| *status), Some(200), "{path}");
        assert_eq!(ours, theirs, "{path}");
    }

    // SIGTERM: it finishes and exits 0.
    let pid = process.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || process.0.wait()).await.unwrap().unwrap();
    assert!(status.success(), "serve http exited with {status}");
    app.shutdown().await.unwrap();
}
