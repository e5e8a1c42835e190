//! An integrator's first script, from another language: `tests/clients/grpc_client.py` generates
//! a Python client from `proto/` at run time (PyPI's `grpcio-tools`; nothing generated is kept),
//! mints its tokens with the installation's signing key (`gridloop token issue`), and takes 200
//! cases from report to evaluation back to back — each read and command straight after the write
//! before it, passing that write's consistency token — with not one NOT_FOUND or refusal.
//!
//! Against `gridloop up`, and against the four services as separate `gridloop serve` processes
//! on Postgres and JetStream. Needs `python3` with `grpcio` and `grpcio-tools` (`.ci/run` installs
//! them): skipped without, failed under `CI=true`. A second `gridloop up` on a data directory in
//! use is `cli.rs`'s `a_second_server_on_a_data_directory_in_use_exits_non_zero_and_says_why`.
#![cfg(unix)]

mod common;

use common::cluster::{Cluster, Nats, GRIDLOOP};
use common::nats_server_binary;
use common::up::Up;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/clients/grpc_client.py");
const CASES: usize = 200;

/// Whether python3 can generate and run the client; says why not (a failure under `CI=true`).
fn python_ready() -> bool {
    let importable = Command::new("python3")
        .args(["-c", "import grpc, grpc_tools.protoc"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !importable {
        gridloop_eventstore::testing::backend_missing(
            "python3 lacks grpcio and grpcio-tools (python3 -m pip install grpcio grpcio-tools)",
        );
    }
    importable
}

/// Runs the client against `servers` (`--server URL`, or one flag per service) as the
/// installation in `data_dir`, and asserts it took every case around.
fn run_client(data_dir: &Path, servers: &[(&str, String)]) {
    let mut command = Command::new("python3");
    command.arg(SCRIPT).arg("--data-dir").arg(data_dir).args(["--cases", &CASES.to_string(), "--gridloop", GRIDLOOP]);
    for (flag, url) in servers {
        command.args([*flag, url.as_str()]);
    }
    let Output { status, stdout, stderr } = command.output().expect("run python3");
    let (stdout, stderr) = (String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr));
    assert!(status.success(), "the Python client failed ({status}):\n{stdout}\n{stderr}");
    let expected =
        format!("grpc client: ok, {CASES} cases reported, read, accepted, resolved and evaluated, none refused");
    assert_eq!(stdout.trim(), expected, "{stderr}");
}

#[test]
fn a_python_client_generated_from_the_proto_reads_its_own_writes_on_gridloop_up() {
    if !python_ready() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let up = Up::start(data.path(), None);
    run_client(data.path(), &[("--server", format!("http://127.0.0.1:{}", up.port))]);
}

#[test]
fn a_python_client_generated_from_the_proto_reads_its_own_writes_on_four_processes() {
    if !python_ready() {
        return;
    }
    let Some(database_url) = gridloop_eventstore::testing::postgres_url() else { return };
    let Some(nats_binary) = nats_server_binary() else {
        gridloop_eventstore::testing::backend_missing("nats-server is not installed");
        return;
    };
    let nats = Nats::start(nats_binary);
    let mut cluster = Cluster::start(database_url, nats.url(), &[]);
    let servers = ["intake", "dispatch", "evaluation"].map(|name| (["--", name].concat(), cluster.url(name)));
    let servers: Vec<(&str, String)> = servers.iter().map(|(flag, url)| (flag.as_str(), url.clone())).collect();
    run_client(cluster.data_dir(), &servers);
    cluster.stop_all();
}
