//! The shipped NATS users (`deploy/nats/accounts.conf`) on a nats-server of the test's own: the
//! four services, each connected as its own user, take a case around the loop; a street office's
//! user reads its street's events, is refused another street's and cannot publish; a service
//! cannot publish another's events. Every permission violation the server logs is one of those
//! the test provoked — none from the services' own work.
#![cfg(unix)]

mod common;

use common::{free_port, nats_server_binary};
use futures::StreamExt;
use gridloop::app::{App, NatsArgs, NatsAuthArgs, ServiceName, UpArgs};
use gridloop_auth::{BearerToken, Principal};
use gridloop_bus::jetstream::{JetStreamBus, JetStreamConfig, NatsAuth};
use gridloop_bus::SystemClock;
use gridloop_domain::access::Role;
use gridloop_domain::jurisdiction::Jurisdiction;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_client::DispatchServiceClient;
use gridloop_proto::v1::evaluation_service_client::EvaluationServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

const ACCOUNTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/nats/accounts.conf");
const USERS: [&str; 8] =
    ["migrate", "intake", "dispatch", "mediation", "evaluation", "operator", "street-321012001", "city-platform"];
const WAIT: Duration = Duration::from_secs(30);

fn password(user: &str) -> String {
    format!("pw-{user}-{}", std::process::id())
}

/// nats-server with the shipped accounts, each user's password in its environment.
struct Nats {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Nats {
    fn start(binary: &Path) -> Nats {
        Nats::start_with(binary, |_| String::new())
    }

    /// With more configuration, written by `extra` given the server's directory.
    fn start_with(binary: &Path, extra: impl FnOnce(&Path) -> String) -> Nats {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(ACCOUNTS, dir.path().join("accounts.conf")).unwrap();
        let port = free_port();
        let config = format!(
            "port: {port}\nhost: 127.0.0.1\njetstream {{ store_dir: \"{}\" }}\ninclude ./accounts.conf\n{}",
            dir.path().join("js").display(),
            extra(dir.path())
        );
        std::fs::write(dir.path().join("server.conf"), config).unwrap();
        let mut command = Command::new(binary);
        command.arg("-c").arg(dir.path().join("server.conf")).arg("-l").arg(dir.path().join("server.log"));
        for user in USERS {
            let variable = format!("GRIDLOOP_NATS_{}_PASSWORD", user.to_uppercase().replace('-', "_"));
            command.env(variable, password(user));
        }
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start nats-server");
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                panic!("nats-server did not listen: {}", String::from_utf8_lossy(&output.stderr));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Nats { child, url: format!("nats://127.0.0.1:{port}"), dir }
    }

    fn auth(user: &str) -> NatsAuth {
        NatsAuth { user: Some(user.into()), password: Some(password(user)), ..NatsAuth::default() }
    }

    /// A plain client as `user`, recording the server's errors (permission violations).
    async fn client(&self, user: &str) -> (async_nats::Client, Arc<Mutex<Vec<String>>>) {
        let errors = Arc::new(Mutex::new(Vec::new()));
        let seen = errors.clone();
        let options =
            Nats::auth(user).apply(async_nats::ConnectOptions::new()).await.unwrap().event_callback(move |event| {
                let seen = seen.clone();
                async move {
                    if let async_nats::Event::ServerError(error) = event {
                        seen.lock().unwrap().push(error.to_string());
                    }
                }
            });
        (options.connect(&self.url).await.expect("connect"), errors)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One service on its own, connected as its own NATS user (all four share a data directory,
/// and so the installation's signing key).
async fn service(service: ServiceName, nats: &Nats, data: &Path) -> App {
    let user = service.as_str();
    let args = UpArgs {
        nats: NatsArgs {
            url: Some(nats.url.clone()),
            auth: NatsAuthArgs {
                nats_user: Some(user.into()),
                nats_password: Some(password(user)),
                ..NatsAuthArgs::default()
            },
            ..NatsArgs::default()
        },
        ..UpArgs::embedded(data, "127.0.0.1:0".parse().unwrap())
    };
    App::start_services(&[service], &args, None, Arc::new(SystemClock)).await.expect("the service starts")
}

async fn channel(app: &App, principal: &Principal) -> gridloop_auth::AuthChannel {
    let token = app.signing_key().unwrap().issue(principal, chrono::Duration::hours(1)).unwrap();
    let channel = Channel::from_shared(format!("http://{}", app.addr)).unwrap().connect().await.unwrap();
    BearerToken::new(&token).unwrap().channel(channel)
}

async fn eventually<T, F: std::future::Future<Output = Option<T>>>(what: &str, mut attempt: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn case_reaches(
    dispatch: &DispatchServiceClient<gridloop_auth::AuthChannel>,
    case_id: &str,
    state: pb::CaseState,
) {
    eventually(&format!("case {case_id} to be {state:?}"), || {
        let mut dispatch = dispatch.clone();
        let request = pb::GetCaseRequest { case_id: case_id.into(), ..Default::default() };
        async move {
            let view = dispatch.get_case(request).await.ok()?.into_inner().case?;
            (view.state() == state).then_some(())
        }
    })
    .await
}

fn report(grid: usize, key: &str) -> pb::ReportCaseRequest {
    let (lat, lon) = Jurisdiction::default_city().grids().nth(grid).unwrap().interior_point();
    pb::ReportCaseRequest {
        client_key: key.into(),
        category_code: "env.debris".into(),
        location: Some(pb::GeoPoint::wgs84(lat, lon)),
        description: "楼道堆放杂物".into(),
        reporter: Some(pb::Reporter { kind: pb::ReporterKind::Resident as i32, ..Default::default() }),
        channel: pb::Channel::ResidentApp as i32,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_nats_user_reaches_only_its_own_subjects() {
    let Some(binary) = nats_server_binary() else {
        gridloop_eventstore::testing::backend_missing("nats-server is not installed");
        return;
    };
    let nats = Nats::start(&binary);
    // gridloop migrate: the streams, created by the one user allowed to.
    let migrate = JetStreamConfig { auth: Nats::auth("migrate"), ..JetStreamConfig::new(nats.url.clone()) };
    JetStreamBus::connect(migrate, "migrate")
        .await
        .unwrap()
        .ensure_streams()
        .await
        .expect("migrate creates the streams");

    let (street, street_errors) = nats.client("street-321012001").await;
    let mut own_street = street.subscribe("gridloop.evt.321012.001.>").await.unwrap();
    let mut other_street = street.subscribe("gridloop.evt.321012.002.>").await.unwrap();
    street.flush().await.unwrap();

    let data = tempfile::tempdir().unwrap();
    let mut apps = Vec::new();
    for name in ServiceName::ALL {
        apps.push(service(name, &nats, data.path()).await);
    }
    let admin = Principal::new("test-admin", Role::Admin, None, None).unwrap();
    let hotline = Principal::new("12345", Role::Hotline, None, None).unwrap();
    let mut intake = IntakeServiceClient::new(channel(&apps[0], &admin).await);
    let mut dispatch = DispatchServiceClient::new(channel(&apps[1], &admin).await);
    let evaluation = EvaluationServiceClient::new(channel(&apps[3], &admin).await);
    let callback = EvaluationServiceClient::new(channel(&apps[3], &hotline).await);

    // A case in street 001 (the first grid) and one in street 002 (grids 0–24 are street 001's).
    let ours = intake.report_case(report(0, "ours")).await.unwrap().into_inner().case_id;
    let theirs = intake.report_case(report(25, "theirs")).await.unwrap().into_inner();
    assert!(theirs.grid_code.starts_with("321012002"), "{}", theirs.grid_code);

    // Around the loop, every hop over NATS under its service's user.
    case_reaches(&dispatch, &ours, pb::CaseState::Dispatched).await;
    let accept = pb::AcceptCaseRequest { case_id: ours.clone(), assignee: "网格员".into(), ..Default::default() };
    dispatch.accept_case(accept).await.unwrap();
    let resolve = pb::ResolveCaseRequest { case_id: ours.clone(), summary: "已清理".into(), ..Default::default() };
    dispatch.resolve_case(resolve).await.unwrap();
    eventually("the feedback round", || {
        let mut callback = callback.clone();
        let request = pb::EvaluateCaseRequest {
            case_id: ours.clone(),
            satisfaction: pb::Satisfaction::Satisfied as i32,
            ..Default::default()
        };
        async move { callback.evaluate_case(request).await.ok().map(drop) }
    })
    .await;
    case_reaches(&dispatch, &ours, pb::CaseState::Closed).await;
    eventually("the closure in evaluation's list", || {
        let mut evaluation = evaluation.clone();
        let ours = ours.clone();
        async move {
            let cases = evaluation.list_cases(pb::ListCasesRequest::default()).await.ok()?.into_inner().cases;
            cases.iter().any(|c| c.case_id == ours && c.state() == pb::CaseState::Closed).then_some(())
        }
    })
    .await;

    // The street office read its own street's events, from every service that produced one.
    let mut producers = std::collections::BTreeSet::new();
    while producers.len() < 3 {
        let message = tokio::time::timeout(WAIT, own_street.next()).await.expect("street events").expect("open");
        assert!(message.subject.starts_with("gridloop.evt.321012.001."), "{}", message.subject);
        producers.insert(message.subject.split('.').nth(6).unwrap().to_string());
    }
    assert_eq!(producers, ["dispatch", "evaluation", "intake"].map(str::to_string).into());
    // … and nothing of the other street: the server refused that subscription.
    let leaked = tokio::time::timeout(Duration::from_millis(300), other_street.next()).await;
    assert!(!matches!(leaked, Ok(Some(_))), "an event of street 002 reached street 001's office");
    let refused = eventually("the refusal of the other street", || {
        let errors = street_errors.lock().unwrap().clone();
        async move { errors.into_iter().find(|e| e.contains("gridloop.evt.321012.002.>")) }
    })
    .await;
    assert!(refused.to_lowercase().contains("permissions violation for subscription"), "{refused}");

    // The street office cannot publish; dispatch cannot publish intake's events.
    let (platform, _) = nats.client("city-platform").await;
    let mut everything = platform.subscribe("gridloop.evt.>").await.unwrap();
    platform.flush().await.unwrap();
    street.publish("gridloop.evt.321012.001.001.001.intake.CaseReported", "forged".into()).await.unwrap();
    street.flush().await.unwrap();
    let (dispatch_user, dispatch_errors) = nats.client("dispatch").await;
    dispatch_user.publish("gridloop.evt.321012.001.001.001.intake.CaseReported", "forged".into()).await.unwrap();
    dispatch_user.flush().await.unwrap();
    for errors in [&street_errors, &dispatch_errors] {
        eventually("the publish refusal", || {
            let errors = errors.lock().unwrap().clone();
            async move { errors.into_iter().find(|e| e.to_lowercase().contains("permissions violation for publish")) }
        })
        .await;
    }
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_millis(300), everything.next()).await {
        assert_ne!(message.payload.as_ref(), b"forged", "a refused publish reached a subscriber");
    }

    for app in apps {
        app.shutdown().await.unwrap();
    }
    // The services' own work never hit a permission: every violation logged is one provoked above.
    let log = nats.log();
    let violations: Vec<&str> = log.lines().filter(|line| line.contains("Violation")).collect();
    assert!(violations.len() >= 3, "the provoked violations are logged:\n{log}");
    for line in violations {
        let provoked = line.contains("street-321012001")
            || (line.contains("\"dispatch\"") && line.contains("intake.CaseReported"));
        assert!(provoked, "a service hit a permission it needs: {line}");
    }
    let _ = other_street.unsubscribe().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_reach_a_tls_only_nats_with_its_ca() {
    let Some(binary) = nats_server_binary() else {
        gridloop_eventstore::testing::backend_missing("nats-server is not installed");
        return;
    };
    let nats = Nats::start_with(&binary, |dir| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap();
        let issuer = rcgen::Issuer::new(params, key);
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
        std::fs::write(dir.join("server.crt"), server.pem()).unwrap();
        std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
        let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
        format!("tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n", cert.display(), key.display())
    });
    let ca = nats.dir.path().join("ca.crt");
    let with_tls = NatsAuth { tls_ca: Some(ca), ..Nats::auth("migrate") };
    let config = JetStreamConfig { auth: with_tls, ..JetStreamConfig::new(nats.url.clone()) };
    let bus = JetStreamBus::connect(config, "migrate").await.unwrap();
    tokio::time::timeout(WAIT, bus.connected()).await.expect("connected over TLS");
    bus.ensure_streams().await.expect("the streams, over TLS");

    // Without the CA the server's certificate is not trusted: no connection.
    let untrusted = NatsAuth { require_tls: true, ..Nats::auth("migrate") };
    let options = untrusted.apply(async_nats::ConnectOptions::new()).await.unwrap();
    assert!(options.connect(&nats.url).await.is_err(), "a server certificate signed by an unknown CA");
}
