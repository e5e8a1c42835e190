//! Integrators' API keys end to end, on an in-process `gridloop up` (SQLite): the admin creates
//! a platform key, the key reports over gRPC and through Open311's `api_key`, only its hash is
//! stored, its use is noted, and once revoked it is refused — at once here, where lookups are
//! not remembered (`--api-key-cache-secs 0`). The CLI creates, lists and revokes.
#![cfg(unix)]

#[path = "common/auth.rs"]
mod auth;

use auth::{local_args, plain_channel, principal, start, token, with_token};
use gridloop_auth::AuthChannel;
use gridloop_domain::access::Role;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use std::process::Command;
use tonic::Code;

const GRIDLOOP: &str = env!("CARGO_BIN_EXE_gridloop");

fn report(client_key: &str) -> pb::ReportCaseRequest {
    let (lat, lon) =
        gridloop_domain::jurisdiction::Jurisdiction::default_city().grids().next().unwrap().interior_point();
    pb::ReportCaseRequest {
        client_key: client_key.into(),
        category_code: "env.debris".into(),
        location: Some(pb::GeoPoint::wgs84(lat, lon)),
        description: "楼道堆物".into(),
        reporter: Some(pb::Reporter { kind: pb::ReporterKind::Resident as i32, ..Default::default() }),
        channel: pb::Channel::Platform as i32,
        ..Default::default()
    }
}

fn intake(channel: &AuthChannel) -> IntakeServiceClient<AuthChannel> {
    IntakeServiceClient::new(channel.clone())
}

fn gridloop(args: &[&str]) -> std::process::Output {
    Command::new(GRIDLOOP).args(args).env_remove("GRIDLOOP_TOKEN").output().expect("run gridloop")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reports_over_grpc_and_open311_is_stored_hashed_and_stops_when_revoked() {
    gridloop_auth::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut args = local_args(&data);
    args.security.auth.api_key_cache_secs = 0;
    args.http_listen = Some("127.0.0.1:0".parse().unwrap());
    let app = start(args).await;
    let channel = plain_channel(&app).await;
    let admin = with_token(&channel, &token(&app, &principal("admin", Role::Admin, None)));

    let request = pb::CreateApiKeyRequest {
        subject: "fix-my-street".into(),
        role: "platform".into(),
        area: "321012".into(),
        ..Default::default()
    };
    let created = intake(&admin).create_api_key(request).await.unwrap().into_inner();
    let key = created.secret;
    let key_id = created.key.unwrap().key_id;
    assert!(key.starts_with("glk_platform_") && key.contains(&key_id), "{key}");
    let bad = pb::CreateApiKeyRequest { subject: "x".into(), role: "street-office".into(), ..Default::default() };
    let refused = intake(&admin).create_api_key(bad).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "a street office needs its area: {refused:?}");

    // The key is a bearer token like any other, and Open311's api_key.
    let platform = with_token(&channel, &key);
    intake(&platform).report_case(report("api-key-1")).await.unwrap();
    let not_its_own = intake(&platform).list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap_err();
    assert_eq!(not_its_own.code(), Code::PermissionDenied, "a platform key may not manage keys");
    let http = reqwest::Client::new();
    let (lat, lon) = report("").location.map(|p| (p.lat, p.lon)).unwrap();
    // Every value is URL-safe as it stands (the key is letters, digits and underscores).
    let form = format!("api_key={key}&service_code=env.debris&lat={lat}&long={lon}");
    let url = format!("http://{}/open311/v2/requests.json", app.http_addr.unwrap());
    let posted = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.clone())
        .send()
        .await
        .unwrap();
    let status = posted.status();
    let body = posted.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("service_request_id"), "{body}");

    // Listed with its use noted; the store holds its hash, never the key.
    let listed = intake(&admin).list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner();
    let [listed] = listed.keys.as_slice() else { panic!("one key: {listed:?}") };
    assert_eq!(
        (listed.subject.as_str(), listed.role.as_str(), listed.area.as_str()),
        ("fix-my-street", "platform", "321012")
    );
    assert!(listed.last_used_at.is_some() && listed.revoked_at.is_none());
    // Intake's SQLite file and its write-ahead log, where fresh rows are until a checkpoint.
    let intake_db: Vec<u8> = ["intake.db", "intake.db-wal"]
        .iter()
        .flat_map(|name| std::fs::read(data.join(name)).unwrap_or_default())
        .collect();
    let secret_part = key.rsplit('_').next().unwrap();
    assert!(!intake_db.windows(secret_part.len()).any(|w| w == secret_part.as_bytes()), "the key is not stored");
    let hash = gridloop_auth::api_keys::hash(&key);
    assert!(intake_db.windows(hash.len()).any(|w| w == hash.as_bytes()), "its hash is");

    // Revoked: refused from the next call on, over gRPC and over HTTP.
    let revoked = intake(&admin).revoke_api_key(pb::RevokeApiKeyRequest { key_id: key_id.clone() }).await.unwrap();
    assert!(revoked.into_inner().revoked_at.is_some());
    let refused = intake(&platform).report_case(report("api-key-2")).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains("unknown or revoked"), "{refused:?}");
    let posted = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 403);
    let listed = intake(&admin).list_api_keys(pb::ListApiKeysRequest::default()).await.unwrap().into_inner();
    assert!(listed.keys.is_empty(), "revoked keys are listed only when asked");
    let unknown = intake(&admin).revoke_api_key(pb::RevokeApiKeyRequest { key_id: "nope".into() }).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    // The CLI, as the local admin: create prints the key first, list shows it, revoke says so.
    let server = format!("http://{}", app.addr);
    let data_dir = data.to_str().unwrap();
    let common = ["--server", server.as_str(), "--data-dir", data_dir];
    let out = gridloop(&[&["api-key", "create", "--role", "hotline", "--name", "12345"][..], &common].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    let cli_key = printed.lines().next().unwrap();
    assert!(cli_key.starts_with("glk_hotline_"), "{printed}");
    intake(&with_token(&channel, cli_key)).report_case(report("api-key-3")).await.unwrap();
    let out = gridloop(&[&["api-key", "list", "--all", "--json"][..], &common].concat());
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert!(!listed.to_string().contains(cli_key), "a listing never shows a key");
    let out = gridloop(&[&["api-key", "revoke", "--key-id", "nope"][..], &common].concat());
    assert!(!out.status.success(), "an unknown key id fails the command");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no API key nope"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.shutdown().await.unwrap();
}
