//! Residents' personal data end to end, on an in-process `gridloop up` (SQLite, in-process bus)
//! driven over gRPC with tokens, and the `gridloop` binary for `case show`, `export`, `replay`
//! and `reporter erase`: the phone number a resident reported with is in no store file and no
//! export, the grid worker of the case's grid sees it, a supervisor never does, and after
//! erasure nobody does while the history replays and the KPIs stay as they were.
#![cfg(unix)]

#[path = "common/auth.rs"]
mod auth;

use auth::{audit_log, local_args, observe, plain_channel, principal, start, token, with_token};
use gridloop::app::App;
use gridloop_auth::AuthChannel;
use gridloop_domain::access::Role;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_client::DispatchServiceClient;
use gridloop_proto::v1::evaluation_service_client::EvaluationServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use prost::Message;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tonic::Code;

const GRIDLOOP: &str = env!("CARGO_BIN_EXE_gridloop");
const PHONE: &str = "13800138000";
const NAME: &str = "张三丰";
const REPORTER_ID: &str = "resident-pii-42";
/// A number a resident typed into the description: shown only to those entitled to contacts.
const TYPED_PHONE: &str = "13912345678";
const GRID: &str = "321012001001001";

fn report(client_key: &str, reporter: pb::Reporter) -> pb::ReportCaseRequest {
    let (lat, lon) =
        gridloop_domain::jurisdiction::Jurisdiction::default_city().grids().next().unwrap().interior_point();
    pb::ReportCaseRequest {
        client_key: client_key.into(),
        category_code: "env.debris".into(),
        location: Some(pb::GeoPoint::wgs84(lat, lon)),
        description: format!("楼道堆放杂物,请联系{TYPED_PHONE}"),
        reporter: Some(reporter),
        channel: pb::Channel::Hotline as i32,
        ..Default::default()
    }
}

fn resident() -> pb::Reporter {
    pb::Reporter {
        kind: pb::ReporterKind::Resident as i32,
        id: REPORTER_ID.into(),
        name: NAME.into(),
        phone: PHONE.into(),
        sealed: None,
    }
}

struct Callers {
    admin: AuthChannel,
    hotline: AuthChannel,
    grid_worker: AuthChannel,
    supervisor: AuthChannel,
    other_street: AuthChannel,
    mediator: AuthChannel,
    grid_worker_token: String,
}

async fn callers(app: &App) -> Callers {
    let channel = plain_channel(app).await;
    let as_role = |subject: &str, role: Role, area: Option<&str>| token(app, &principal(subject, role, area));
    let grid_worker_token = as_role("网格员李四", Role::GridWorker, Some(GRID));
    Callers {
        admin: with_token(&channel, &as_role("admin", Role::Admin, None)),
        hotline: with_token(&channel, &as_role("12345", Role::Hotline, None)),
        grid_worker: with_token(&channel, &grid_worker_token),
        supervisor: with_token(&channel, &as_role("督查室", Role::Supervisor, Some("321012"))),
        other_street: with_token(&channel, &as_role("王五", Role::StreetOffice, Some("321012002"))),
        mediator: with_token(&channel, &as_role("调解员", Role::Mediator, Some("321012001"))),
        grid_worker_token,
    }
}

async fn show(caller: &AuthChannel, case_id: &str) -> pb::GetCaseResponse {
    DispatchServiceClient::new(caller.clone())
        .get_case(pb::GetCaseRequest { case_id: case_id.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
}

/// Polls until the case is in `state`.
async fn until_state(caller: &AuthChannel, case_id: &str, state: pb::CaseState) -> pb::GetCaseResponse {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let shown = DispatchServiceClient::new(caller.clone())
            .get_case(pb::GetCaseRequest { case_id: case_id.into(), ..Default::default() })
            .await
            .map(|r| r.into_inner());
        if let Ok(shown) = shown {
            if shown.case.as_ref().is_some_and(|c| c.state() == state) {
                return shown;
            }
        }
        assert!(Instant::now() < deadline, "case {case_id} never reached {state:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn contact(shown: &pb::GetCaseResponse) -> pb::ReporterContact {
    shown.case.as_ref().unwrap().reporter.clone().expect("GetCase discloses the reporter")
}

/// Everything a response carries, as bytes and as text: what a caller could find in it.
fn everything(shown: &pb::GetCaseResponse) -> String {
    format!("{shown:?}{}", String::from_utf8_lossy(&shown.encode_to_vec()))
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
            found.push(path);
        }
    }
    found
}

fn gridloop(args: &[&str]) -> std::process::Output {
    let output = Command::new(GRIDLOOP)
        .args(args)
        .env_remove("GRIDLOOP_DATABASE_URL")
        .env_remove("GRIDLOOP_TOKEN")
        .output()
        .expect("run gridloop");
    assert!(
        output.status.success(),
        "gridloop {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

async fn kpis(caller: &AuthChannel) -> pb::GetKpisResponse {
    EvaluationServiceClient::new(caller.clone()).get_kpis(pb::GetKpisRequest::default()).await.unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_phone_is_sealed_everywhere_shown_by_role_and_gone_after_erasure() {
    observe();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = start(local_args(&data)).await;
    let server = format!("http://{}", app.addr);
    let data_dir = data.to_str().unwrap();
    let c = callers(&app).await;

    // The hotline reports on a resident's behalf; the case goes around the loop.
    let reported = IntakeServiceClient::new(c.hotline.clone()).report_case(report("pii-1", resident())).await.unwrap();
    let case_id = reported.into_inner().case_id;
    until_state(&c.admin, &case_id, pb::CaseState::Dispatched).await;

    // The grid worker of the case's grid sees the contact in full, and the number typed in.
    let seen = show(&c.grid_worker, &case_id).await;
    let full = contact(&seen);
    assert_eq!(full.disclosure(), pb::ContactDisclosure::Full);
    assert_eq!((full.id.as_str(), full.name.as_str(), full.phone.as_str()), (REPORTER_ID, NAME, PHONE));
    assert!(seen.case.as_ref().unwrap().description.contains(TYPED_PHONE));
    let opened = seen
        .history
        .iter()
        .find(|h| h.envelope.as_ref().is_some_and(|e| e.event_type.ends_with("CaseOpened")))
        .expect("CaseOpened shown");
    assert!(opened.payload_json.contains(PHONE), "{}", opened.payload_json);
    assert!(audit_log().contains("reporter contact decrypted, shown full"), "{}", audit_log());

    // A street office elsewhere may not read the case at all; a mediator of its street and the
    // admin see the contact masked; a supervisor not at all.
    let elsewhere = DispatchServiceClient::new(c.other_street.clone())
        .get_case(pb::GetCaseRequest { case_id: case_id.clone(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), tonic::Code::PermissionDenied, "{elsewhere:?}");
    for caller in [&c.mediator, &c.admin] {
        let masked = show(caller, &case_id).await;
        let shown = contact(&masked);
        assert_eq!(shown.disclosure(), pb::ContactDisclosure::Masked);
        assert_eq!((shown.name.as_str(), shown.phone.as_str()), ("张**", "138****8000"));
        let text = everything(&masked);
        assert!(!text.contains(PHONE) && !text.contains(NAME) && !text.contains(TYPED_PHONE), "{text}");
        assert!(masked.case.as_ref().unwrap().description.contains("139****5678"));
    }
    let supervised = show(&c.supervisor, &case_id).await;
    assert_eq!(contact(&supervised).disclosure(), pb::ContactDisclosure::Withheld);
    let text = everything(&supervised);
    assert!(!text.contains(PHONE) && !text.contains("138****8000") && !text.contains(TYPED_PHONE), "{text}");

    // `case show` for the grid worker prints the contact.
    let shown = gridloop(&["case", "show", &case_id, "--server", &server, "--token", &c.grid_worker_token]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains(PHONE));

    // An anonymous report: no contact, no callback.
    let anonymous = pb::Reporter { kind: pb::ReporterKind::Resident as i32, ..Default::default() };
    let mut other = report("pii-2", anonymous);
    other.category_code = "env.garbage".into();
    let anonymous_case = IntakeServiceClient::new(c.hotline.clone()).report_case(other).await.unwrap().into_inner();
    until_state(&c.admin, &anonymous_case.case_id, pb::CaseState::Dispatched).await;
    let anonymous_view = show(&c.grid_worker, &anonymous_case.case_id).await;
    assert_eq!(contact(&anonymous_view).disclosure(), pb::ContactDisclosure::Anonymous);

    // Accepted, resolved by the grid, evaluated by the hotline's callback: closed.
    // A command's answer shows the case as GetCase would: the admin's note comes back with the
    // typed number masked, the grid worker's acceptance with it in full.
    let note = pb::AddCaseNoteRequest { case_id: case_id.clone(), text: "核实中".into(), ..Default::default() };
    let noted = DispatchServiceClient::new(c.admin.clone()).add_case_note(note).await.unwrap().into_inner();
    let noted = noted.case.unwrap().description;
    assert!(noted.contains("139****5678") && !noted.contains(TYPED_PHONE), "{noted}");
    let mut dispatch = DispatchServiceClient::new(c.grid_worker.clone());
    let accept = pb::AcceptCaseRequest { case_id: case_id.clone(), assignee: "李四".into(), ..Default::default() };
    let accepted = dispatch.accept_case(accept).await.unwrap().into_inner();
    assert!(accepted.case.unwrap().description.contains(TYPED_PHONE));
    let resolve =
        pb::ResolveCaseRequest { case_id: case_id.clone(), summary: "已清理".into(), ..Default::default() };
    dispatch.resolve_case(resolve).await.unwrap();
    let evaluate = pb::EvaluateCaseRequest {
        case_id: case_id.clone(),
        satisfaction: pb::Satisfaction::Satisfied as i32,
        ..Default::default()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Err(status) = EvaluationServiceClient::new(c.hotline.clone()).evaluate_case(evaluate.clone()).await {
        assert!(Instant::now() < deadline, "the feedback round never opened: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    until_state(&c.admin, &case_id, pb::CaseState::Closed).await;
    // Evaluation counts the closure once it has read dispatch's event: the figures to compare
    // against are those with the case closed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let figures = loop {
        let figures = kpis(&c.admin).await;
        if figures.total.as_ref().and_then(|t| t.counts.as_ref()).is_some_and(|c| c.closed == 1) {
            break figures;
        }
        assert!(Instant::now() < deadline, "evaluation never counted the closure: {figures:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // No store file and no export holds the phone number or the name (the scan does read them).
    let before = dir.path().join("before.ndjson");
    gridloop(&["export", "--data-dir", data_dir, "--format", "ndjson", "--out", before.to_str().unwrap()]);
    assert!(files_containing(&data, case_id.as_bytes()).len() >= 3, "intake's, dispatch's and evaluation's stores");
    assert!(std::fs::read_to_string(&before).unwrap().contains(&case_id));
    for needle in [PHONE, NAME] {
        assert_eq!(files_containing(&data, needle.as_bytes()), Vec::<PathBuf>::new(), "{needle} in a store");
        let export = std::fs::read_to_string(&before).unwrap();
        assert!(!export.contains(needle), "{needle} in the export");
    }

    // The admin's explicit export carries the contact, in the marked columns, and the typed number.
    let with_personal = dir.path().join("personal.ndjson");
    let out = with_personal.to_str().unwrap();
    gridloop(&["export", "--data-dir", data_dir, "--format", "ndjson", "--include-personal-data", "--out", out]);
    let lines = std::fs::read_to_string(&with_personal).unwrap();
    let opened: serde_json::Value = lines
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|line| line["event_type"] == "gridloop.v1.CaseOpened" && line["case_id"] == case_id.as_str())
        .expect("CaseOpened exported");
    assert_eq!(opened["personal_reporter_phone"], PHONE);
    assert_eq!(opened["personal_reporter_name"], NAME);
    assert!(opened["payload_json"]["description"].as_str().unwrap().contains(TYPED_PHONE));
    std::fs::remove_file(&with_personal).unwrap();
    assert!(!std::fs::read_to_string(&before).unwrap().contains(TYPED_PHONE), "masked without the flag");

    // Only the admin may erase; the reporter's data key goes, once.
    let refused = IntakeServiceClient::new(c.grid_worker.clone())
        .erase_reporter(pb::EraseReporterRequest { reporter: REPORTER_ID.into() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let erased =
        gridloop(&["reporter", "erase", "--reporter", REPORTER_ID, "--server", &server, "--data-dir", data_dir]);
    assert!(String::from_utf8_lossy(&erased.stdout).contains("1 data key deleted"));
    let again = IntakeServiceClient::new(c.admin.clone())
        .erase_reporter(pb::EraseReporterRequest { reporter: REPORTER_ID.into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.erased_keys, 0, "already erased");

    // Nobody sees the contact any more; the history is whole and the figures unchanged.
    let after = show(&c.grid_worker, &case_id).await;
    assert_eq!(contact(&after).disclosure(), pb::ContactDisclosure::Erased);
    assert!(!everything(&after).contains(PHONE));
    assert_eq!(after.history.len(), seen.history.len() + 5, "noted, accepted, resolved, evaluated, closed");
    assert_eq!(kpis(&c.admin).await, figures);
    let rebuilt = dir.path().join("rebuilt.db");
    gridloop(&["replay", "--data-dir", data_dir, "--into", rebuilt.to_str().unwrap(), "--verify"]);
    let exported = dir.path().join("after.ndjson");
    gridloop(&["export", "--data-dir", data_dir, "--format", "ndjson", "--out", exported.to_str().unwrap()]);
    assert!(!std::fs::read_to_string(&exported).unwrap().contains(PHONE));
    assert_eq!(files_containing(dir.path(), PHONE.as_bytes()), Vec::<PathBuf>::new());
    app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_key_is_created_private_and_a_restart_still_opens_the_contacts() {
    observe();
    let dir = tempfile::tempdir().unwrap();
    let app = start(local_args(dir.path())).await;
    let c = callers(&app).await;
    let reported = IntakeServiceClient::new(c.hotline.clone()).report_case(report("pii-3", resident())).await.unwrap();
    let case_id = reported.into_inner().case_id;
    until_state(&c.admin, &case_id, pb::CaseState::Dispatched).await;
    app.shutdown().await.unwrap();

    let key = dir.path().join("personal").join("master.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);

    let app = start(local_args(dir.path())).await;
    let c = callers(&app).await;
    assert_eq!(contact(&show(&c.grid_worker, &case_id).await).phone, PHONE, "the same key opens it after a restart");
    app.shutdown().await.unwrap();
}

/// Every message body of a JetStream stream, by sequence.
async fn stream_bodies(nats: &async_nats::Client, stream: &str) -> Vec<Vec<u8>> {
    let jetstream = async_nats::jetstream::new(nats.clone());
    let mut stream = jetstream.get_stream(stream).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut bodies = Vec::new();
    for sequence in 1..=last {
        bodies.push(stream.get_raw_message(sequence).await.unwrap().payload.to_vec());
    }
    bodies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jetstream_stream_carries_only_the_sealed_contact() {
    let Some(nats_url) = gridloop_eventstore::testing::nats_url() else { return };
    observe();
    let dir = tempfile::tempdir().unwrap();
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let mut args = local_args(dir.path());
    args.nats.url = Some(nats_url.clone());
    args.nats.stream = format!("TEST_PII_{unique}");
    args.nats.subject_prefix = format!("pii{unique}");
    let stream = args.nats.stream.clone();
    let app = start(args).await;
    let c = callers(&app).await;
    let reported = IntakeServiceClient::new(c.hotline.clone()).report_case(report("pii-js", resident())).await.unwrap();
    let case_id = reported.into_inner().case_id;
    until_state(&c.admin, &case_id, pb::CaseState::Dispatched).await;
    assert_eq!(contact(&show(&c.grid_worker, &case_id).await).phone, PHONE, "opened from the sealed event");

    let nats = async_nats::connect(&nats_url).await.unwrap();
    let bodies = stream_bodies(&nats, &stream).await;
    let carrying =
        |needle: &str| bodies.iter().filter(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())).count();
    assert!(carrying(&case_id) >= 2, "CaseReported and CaseOpened were published");
    assert_eq!((carrying(PHONE), carrying(NAME), carrying(REPORTER_ID)), (0, 0, 0));
    app.shutdown().await.unwrap();
    let jetstream = async_nats::jetstream::new(nats);
    for name in [stream.clone(), format!("{stream}_DLQ")] {
        jetstream.delete_stream(&name).await.unwrap();
    }
}
