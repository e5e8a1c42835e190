//! Read your own writes: a client that passes each write's consistency token to its next call is
//! never refused because a service has not caught up yet. Every case is reported and at once
//! read back (`GetCase`, and every tenth listed), accepted, resolved and at once evaluated, back
//! to back, each call naming the version the previous write returned; a single NOT_FOUND,
//! refusal or UNAVAILABLE fails the test.
//!
//! Once against `gridloop up` (the four services in one process, SQLite, in-process bus), once
//! against the four services as separate `gridloop serve` processes on Postgres and JetStream.
//! Run on its own: `cargo test -p gridloop --test read_your_writes`.
#![cfg(unix)]

mod common;

use common::cluster::{connect, wait_until, Cluster, Nats, GRIDLOOP, STARTUP};
use common::{free_port, nats_server_binary};
use futures::stream::{self, StreamExt};
use gridloop_auth::{AuthChannel, BearerToken, Principal, SigningKey};
use gridloop_domain::access::Role;
use gridloop_domain::jurisdiction::Jurisdiction;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_client::DispatchServiceClient;
use gridloop_proto::v1::evaluation_service_client::EvaluationServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;
use tempfile::TempDir;

/// Cases taken around, each a report→get and a resolve→evaluate pair.
const CASES: usize = 1_000;
/// Clients driving cases at the same time, each one case after another.
const CLIENTS: usize = 4;

/// The test's clients: staff as the admin, the reporter's evaluation as the hotline's callback.
#[derive(Clone)]
struct Clients {
    intake: IntakeServiceClient<AuthChannel>,
    dispatch: DispatchServiceClient<AuthChannel>,
    evaluation: EvaluationServiceClient<AuthChannel>,
    callback: EvaluationServiceClient<AuthChannel>,
}

fn admin() -> Principal {
    Principal::new("test-admin", Role::Admin, None, None).unwrap()
}

fn hotline() -> Principal {
    Principal::new("12345-hotline", Role::Hotline, None, None).unwrap()
}

fn actor(role: &str) -> Option<pb::Actor> {
    Some(pb::Actor { role: role.into(), id: format!("{role}-1"), jurisdiction: String::new() })
}

/// A grid-level category: its cases are settled by the grid, with no check on site.
async fn grid_category(clients: &mut Clients) -> String {
    let catalog = clients.intake.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    let category = catalog.categories.iter().find(|c| c.start_level() == pb::Level::Grid).expect("a grid category");
    category.code.clone()
}

/// One case around the loop, each call naming the version the write before it returned.
async fn take_around(mut clients: Clients, index: usize, (lat, lon): (f64, f64), category: String) {
    let report = pb::ReportCaseRequest {
        client_key: format!("read-your-writes-{index}"),
        category_code: category,
        location: Some(pb::GeoPoint::wgs84(lat, lon)),
        description: format!("第{index}号: 楼道堆放杂物"),
        reporter: Some(pb::Reporter { kind: pb::ReporterKind::Resident as i32, ..Default::default() }),
        channel: pb::Channel::ResidentApp as i32,
        ..Default::default()
    };
    let reported = clients.intake.report_case(report).await.expect("report").into_inner();
    let case_id = reported.case_id.clone();
    assert_eq!(reported.case_version, 1, "a report's token is the case open in dispatch");

    let get = pb::GetCaseRequest { case_id: case_id.clone(), min_version: reported.case_version };
    let shown = match clients.dispatch.get_case(get).await {
        Ok(shown) => shown.into_inner(),
        Err(status) => panic!("GetCase of case {case_id} right after its report: {status:?}"),
    };
    let view = shown.case.expect("a case view");
    assert_eq!(view.state(), pb::CaseState::Dispatched, "case {case_id}");

    if index.is_multiple_of(10) {
        let list = pb::ListCasesRequest {
            area: reported.grid_code.clone(),
            page_size: 500,
            min_case_id: case_id.clone(),
            min_version: reported.case_version,
            ..Default::default()
        };
        let listed = match clients.evaluation.list_cases(list).await {
            Ok(listed) => listed.into_inner(),
            Err(status) => panic!("ListCases right after the report of case {case_id}: {status:?}"),
        };
        assert!(listed.cases.iter().any(|c| c.case_id == case_id), "case {case_id} listed right after its report");
    }

    let accept = pb::AcceptCaseRequest {
        case_id: case_id.clone(),
        min_version: view.version,
        actor: actor("grid_worker"),
        assignee: "网格员张三".into(),
        ..Default::default()
    };
    let accepted = match clients.dispatch.accept_case(accept).await {
        Ok(accepted) => accepted.into_inner(),
        Err(status) => panic!("AcceptCase of case {case_id}: {status:?}"),
    };
    let resolve = pb::ResolveCaseRequest {
        case_id: case_id.clone(),
        min_version: accepted.version,
        actor: actor("grid_worker"),
        summary: "已清理".into(),
        ..Default::default()
    };
    let resolved = match clients.dispatch.resolve_case(resolve).await {
        Ok(resolved) => resolved.into_inner(),
        Err(status) => panic!("ResolveCase of case {case_id}: {status:?}"),
    };
    let evaluate = pb::EvaluateCaseRequest {
        case_id: case_id.clone(),
        actor: actor("resident"),
        satisfaction: pb::Satisfaction::Satisfied as i32,
        min_version: resolved.version,
        ..Default::default()
    };
    if let Err(status) = clients.callback.evaluate_case(evaluate).await {
        panic!("EvaluateCase of case {case_id} right after its resolution: {status:?}");
    }
}

/// `CASES` cases around the loop, `CLIENTS` at a time.
async fn take_cases_around(mut clients: Clients) {
    let category = grid_category(&mut clients).await;
    let grids: Vec<(f64, f64)> = Jurisdiction::default_city().grids().map(|g| g.interior_point()).collect();
    let started = Instant::now();
    stream::iter(0..CASES)
        .map(|index| take_around(clients.clone(), index, grids[index % grids.len()], category.clone()))
        .buffer_unordered(CLIENTS)
        .collect::<Vec<()>>()
        .await;
    eprintln!("{CASES} report→get and resolve→evaluate pairs in {:.1?}, none refused", started.elapsed());
}

/// A `gridloop up` process; dropping it kills it.
struct Up {
    child: Child,
    url: String,
    data: TempDir,
}

impl Up {
    fn start() -> Up {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut command = Command::new(GRIDLOOP);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("GRIDLOOP_") {
                command.env_remove(name);
            }
        }
        let child = command
            .args(["up", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data.path())
            // Every report opens its own case, and one principal drives them all.
            .env("GRIDLOOP_DUPLICATE_RADIUS_M", "0")
            .env("GRIDLOOP_RATE_LIMIT", "0")
            .env("GRIDLOOP_MAX_IN_FLIGHT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gridloop up");
        wait_until(STARTUP, "gridloop up to listen", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        Up { child, url: format!("http://127.0.0.1:{port}"), data }
    }

    async fn clients(&self) -> Clients {
        let channel = |principal: Principal| channel(&self.url, self.data.path(), principal);
        Clients {
            intake: IntakeServiceClient::new(channel(admin()).await),
            dispatch: DispatchServiceClient::new(channel(admin()).await),
            evaluation: EvaluationServiceClient::new(channel(admin()).await),
            callback: EvaluationServiceClient::new(channel(hotline()).await),
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn channel(url: &str, data_dir: &Path, principal: Principal) -> AuthChannel {
    let key = SigningKey::load(data_dir).unwrap().expect("the server created the signing key");
    let token = key.issue(&principal, chrono::Duration::hours(1)).unwrap();
    BearerToken::new(&token).unwrap().channel(connect(url.to_string()).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gridloop_up_on_sqlite_never_refuses_a_read_of_a_clients_own_write() {
    let up = Up::start();
    take_cases_around(up.clients().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_on_postgres_and_jetstream_never_refuse_a_read_of_a_clients_own_write() {
    let Some(database_url) = gridloop_eventstore::testing::postgres_url() else { return };
    let Some(nats_binary) = nats_server_binary() else {
        gridloop_eventstore::testing::backend_missing("nats-server is not installed");
        return;
    };
    let nats = Nats::start(nats_binary);
    let mut cluster = Cluster::start(database_url, nats.url(), &[]);
    let clients = Clients {
        intake: IntakeServiceClient::new(cluster.channel("intake", &admin()).await),
        dispatch: DispatchServiceClient::new(cluster.channel("dispatch", &admin()).await),
        evaluation: EvaluationServiceClient::new(cluster.channel("evaluation", &admin()).await),
        callback: EvaluationServiceClient::new(cluster.channel("evaluation", &hotline()).await),
    };
    take_cases_around(clients).await;
    cluster.stop_all();
}
