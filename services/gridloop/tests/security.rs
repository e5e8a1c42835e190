//! Authentication and the RPC policy over real gRPC against an in-process `gridloop up`: no
//! token, forged and broken tokens, roles calling RPCs their role may not call, an identity
//! provider found through OIDC discovery, and the per-principal limits and request bounds.

#[path = "common/auth.rs"]
mod auth;

use auth::{
    audit_log, header, installation_key, local_args, observe, plain_channel, principal, sign, start, token,
    valid_claims, with_token,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gridloop_auth::{LimitArgs, SecurityArgs};
use gridloop_domain::access::Role;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_client::DispatchServiceClient;
use gridloop_proto::v1::evaluation_service_client::EvaluationServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tonic::service::interceptor::InterceptedService;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_types::StatusExt;

fn report_request(client_key: &str, description: &str) -> pb::ReportCaseRequest {
    // Inside grid 321012001001001 of the default city.
    let (lat, lon) =
        gridloop_domain::jurisdiction::Jurisdiction::default_city().grids().next().unwrap().interior_point();
    pb::ReportCaseRequest {
        client_key: client_key.into(),
        category_code: "env.debris".into(),
        location: Some(pb::GeoPoint::wgs84(lat, lon)),
        description: description.into(),
        reporter: Some(pb::Reporter { kind: pb::ReporterKind::Resident as i32, ..Default::default() }),
        channel: pb::Channel::ResidentApp as i32,
        ..Default::default()
    }
}

async fn catalog(channel: gridloop_auth::AuthChannel) -> Result<(), tonic::Status> {
    IntakeServiceClient::new(channel).get_catalog(pb::GetCatalogRequest {}).await.map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_every_rpc_is_unauthenticated_while_health_answers_serving() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(local_args(dir.path())).await;
    let channel = plain_channel(&app).await;

    let refused = IntakeServiceClient::new(channel.clone()).get_catalog(pb::GetCatalogRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(refused.message().contains("no bearer token"), "{refused:?}");
    let refused = DispatchServiceClient::new(channel.clone())
        .get_case(pb::GetCaseRequest { case_id: "x".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let answer = health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.unwrap();
    assert_eq!(answer.into_inner().status(), ServingStatus::Serving);
    let bad_scheme = with_raw_authorization(&channel, "Basic YWRtaW46YWRtaW4=").await;
    assert_eq!(bad_scheme.code(), Code::Unauthenticated);
    assert!(bad_scheme.message().contains("Bearer"), "{bad_scheme:?}");
    app.shutdown().await.unwrap();
}

/// A caller in the same process passes the same edge as one over a socket: no token, no call;
/// a role the policy table refuses, refused; a token the installation issued, served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_channel_is_authenticated_and_authorized_as_a_connection_is() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(local_args(dir.path())).await;
    let channel = app.in_process_channel();
    let as_role = |subject: &str, role: Role| {
        let token = gridloop_auth::BearerToken::new(&token(&app, &principal(subject, role, None))).unwrap();
        InterceptedService::new(channel.clone(), token)
    };

    let refused = IntakeServiceClient::new(channel.clone()).get_catalog(pb::GetCatalogRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(refused.message().contains("no bearer token"), "{refused:?}");

    let refused = IntakeServiceClient::new(as_role("supervisor-1", Role::Supervisor))
        .report_case(report_request("k-in-process", "楼道堆放杂物"))
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), refused.message()),
        (Code::PermissionDenied, "role supervisor may not call ReportCase")
    );

    let mut admin = IntakeServiceClient::new(as_role("admin", Role::Admin));
    let catalog = admin.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    assert!(!catalog.categories.is_empty(), "the admin is served the catalog");
    let reported = admin.report_case(report_request("k-in-process", "楼道堆放杂物")).await.unwrap().into_inner();
    assert!(!reported.case_id.is_empty() && !reported.linked, "{reported:?}");
    app.shutdown().await.unwrap();
}

async fn with_raw_authorization(channel: &tonic::transport::Channel, value: &str) -> tonic::Status {
    let mut request = tonic::Request::new(pb::GetCatalogRequest {});
    request.metadata_mut().insert("authorization", value.parse().unwrap());
    IntakeServiceClient::new(channel.clone()).get_catalog(request).await.unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_misdirected_tokens_are_unauthenticated_and_audited() {
    let metrics = observe();
    let dir = tempfile::tempdir().unwrap();
    let app = start(local_args(dir.path())).await;
    let channel = plain_channel(&app).await;
    let (key, kid) = installation_key(dir.path());
    let now = chrono::Utc::now().timestamp();
    let claims = |change: Value| {
        let mut claims = valid_claims("admin");
        for (name, value) in change.as_object().unwrap() {
            claims[name] = value.clone();
        }
        claims
    };
    let ed = header(Algorithm::EdDSA, Some(&kid));

    // The control: a token signed by the installation's key with these claims is accepted.
    let valid = sign(&ed, &claims(json!({})), &key);
    catalog(with_token(&channel, &valid)).await.expect("a valid forged-by-the-test token");

    // Someone else's Ed25519 key, with and without the installation's key id.
    let other_pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap().serialize_pem();
    let other = EncodingKey::from_ed_pem(other_pem.as_bytes()).unwrap();
    // A resident's token turned into an admin's: the payload changed, the signature kept.
    let resident = token(&app, &principal("resident-42", Role::Resident, None));
    let parts: Vec<&str> = resident.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["role"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);
    // alg none: no signature at all.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{}.", URL_SAFE_NO_PAD.encode(claims(json!({})).to_string()));
    // HS256 "signed" with the installation's public key, the classic algorithm confusion.
    let jwks = std::fs::read(dir.path().join("auth").join("jwks.json")).unwrap();
    let public_x: Value = serde_json::from_slice(&jwks).unwrap();
    let public_raw = URL_SAFE_NO_PAD.decode(public_x["keys"][0]["x"].as_str().unwrap()).unwrap();
    let hmac_raw = sign(
        &header(Algorithm::HS256, Some(&kid)),
        &claims(json!({})),
        &EncodingKey::from_secret(&public_raw).unwrap(),
    );
    let hmac_jwks =
        sign(&header(Algorithm::HS256, Some(&kid)), &claims(json!({})), &EncodingKey::from_secret(&jwks).unwrap());

    let attacks = [
        ("bad signature", tampered, "signature is invalid"),
        ("another key, same kid", sign(&ed, &claims(json!({})), &other), "signature is invalid"),
        (
            "another key, no kid",
            sign(&header(Algorithm::EdDSA, None), &claims(json!({})), &other),
            "signature is invalid",
        ),
        ("alg none", unsigned, "algorithm none is not accepted"),
        ("HS256 with the raw public key", hmac_raw, "algorithm HS256 is not accepted"),
        ("HS256 with the JWKS", hmac_jwks, "algorithm HS256 is not accepted"),
        ("expired", sign(&ed, &claims(json!({"exp": now - 3600})), &key), "expired"),
        ("not yet valid", sign(&ed, &claims(json!({"nbf": now + 3600})), &key), "not valid yet"),
        ("nbf not a number", sign(&ed, &claims(json!({"nbf": format!("{}", now + 3600)})), &key), "nbf"),
        ("wrong issuer", sign(&ed, &claims(json!({"iss": "https://evil.example"})), &key), "issuer"),
        ("wrong audience", sign(&ed, &claims(json!({"aud": "another-app"})), &key), "not meant for gridloop"),
        ("no audience", sign(&ed, &claims(json!({"aud": null})), &key), "aud"),
        ("unknown role", sign(&ed, &claims(json!({"role": "随便什么角色"})), &key), "names no gridloop role"),
        ("garbage", "not.a.token".to_string(), "malformed"),
    ];
    for (attack, forged, reason) in &attacks {
        let refused = catalog(with_token(&channel, forged)).await.expect_err(attack);
        assert_eq!(refused.code(), Code::Unauthenticated, "{attack}: {refused:?}");
        assert!(refused.message().contains(reason), "{attack}: {refused:?}");
        assert!(!refused.message().contains(forged.as_str()), "{attack}: the token is never echoed");
    }

    let audit = audit_log();
    for reason in ["bad_signature", "expired", "not_yet_valid", "issuer", "audience", "algorithm"] {
        assert!(audit.contains(&format!("reason=\"{reason}\"")), "{reason} missing from the audit log:\n{audit}");
    }
    assert!(audit.contains("rpc=\"GetCatalog\"") && audit.contains("outcome=\"unauthenticated\""), "{audit}");
    let rendered = metrics.render();
    let expired = r#"gridloop_auth_denied_total{rpc="GetCatalog",role="none",reason="expired"}"#;
    assert!(rendered.contains(expired), "{rendered}");
    app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_not_allowed_an_rpc_is_permission_denied_and_stores_nothing() {
    observe();
    let dir = tempfile::tempdir().unwrap();
    let app = start(local_args(dir.path())).await;
    let channel = plain_channel(&app).await;
    let as_role = |subject: &str, role: Role, area: Option<&str>| {
        with_token(&channel, &token(&app, &principal(subject, role, area)))
    };
    let admin = as_role("admin", Role::Admin, None);
    let reported =
        IntakeServiceClient::new(admin.clone()).report_case(report_request("k-1", "楼道堆放杂物")).await.unwrap();
    let case_id = reported.into_inner().case_id;
    let mut dispatch = DispatchServiceClient::new(admin.clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    let before = loop {
        let shown = dispatch.get_case(pb::GetCaseRequest { case_id: case_id.clone(), ..Default::default() }).await;
        if let Ok(shown) = shown.map(|r| r.into_inner()).as_ref() {
            if shown.case.as_ref().is_some_and(|c| c.state() == pb::CaseState::Dispatched) {
                break shown.clone();
            }
        }
        assert!(Instant::now() < deadline, "the case was never dispatched");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // A resident may not accept; nothing is stored.
    let resident = as_role("resident-42", Role::Resident, None);
    let accept = pb::AcceptCaseRequest { case_id: case_id.clone(), assignee: "x".into(), ..Default::default() };
    let refused = DispatchServiceClient::new(resident).accept_case(accept.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(refused.message(), "role resident may not call AcceptCase");
    let after = dispatch
        .get_case(pb::GetCaseRequest { case_id: case_id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after, before, "a refused command stores nothing");

    // A supervisor reads figures but reports nothing; nothing is stored.
    let supervisor = as_role("supervisor-1", Role::Supervisor, Some("321012001"));
    let refused = IntakeServiceClient::new(supervisor.clone())
        .report_case(report_request("k-2", "楼道堆放杂物"))
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), refused.message()),
        (Code::PermissionDenied, "role supervisor may not call ReportCase")
    );
    let kpis = EvaluationServiceClient::new(supervisor).get_kpis(pb::GetKpisRequest::default()).await;
    assert!(kpis.is_ok(), "{kpis:?}");
    let mut evaluation = EvaluationServiceClient::new(admin.clone());
    let listed = loop {
        let request = pb::ListCasesRequest { page_size: 100, ..Default::default() };
        let listed = evaluation.list_cases(request).await.unwrap().into_inner().cases;
        if listed.iter().any(|c| c.case_id == case_id) {
            break listed;
        }
        assert!(Instant::now() < deadline, "the admin's case never showed in the list");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(listed.len(), 1, "only the admin's report was stored: {listed:?}");

    // Satisfaction is never the admin's to record, nor the grid worker's.
    let evaluate = pb::EvaluateCaseRequest {
        case_id: case_id.clone(),
        satisfaction: pb::Satisfaction::Satisfied as i32,
        ..Default::default()
    };
    let refused = EvaluationServiceClient::new(admin).evaluate_case(evaluate.clone()).await.unwrap_err();
    assert_eq!((refused.code(), refused.message()), (Code::PermissionDenied, "role admin may not call EvaluateCase"));
    let worker = as_role("worker-1", Role::GridWorker, Some("321012001001001"));
    let refused = EvaluationServiceClient::new(worker).evaluate_case(evaluate).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    let audit = audit_log();
    assert!(
        audit.contains("who=\"resident-42\"") && audit.contains("rpc=\"AcceptCase\"") && audit.contains(&case_id),
        "the denial is audited with who, what and which case:\n{audit}"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_lists_and_pages_are_bounded_for_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = local_args(dir.path());
    args.security.limits = LimitArgs { max_string_chars: 100, max_page_size: 2, ..LimitArgs::default() };
    // Three reports at one spot each open a case.
    args.duplicate_radius_m = 0.0;
    let app = start(args).await;
    let admin = with_token(&plain_channel(&app).await, &token(&app, &principal("admin", Role::Admin, None)));

    let long = "堵".repeat(101);
    let refused = IntakeServiceClient::new(admin.clone()).report_case(report_request("long", &long)).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let violations = refused.get_details_bad_request().expect("field violations").field_violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(
        (violations[0].field.as_str(), violations[0].description.as_str()),
        ("description", "longer than 100 characters")
    );

    let mut intake = IntakeServiceClient::new(admin.clone());
    for key in ["p-1", "p-2", "p-3"] {
        intake.report_case(report_request(key, "楼道堆放杂物")).await.unwrap();
    }
    let mut evaluation = EvaluationServiceClient::new(admin);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page =
            evaluation.list_cases(pb::ListCasesRequest { page_size: 10_000, ..Default::default() }).await.unwrap();
        let page = page.into_inner();
        assert!(page.cases.len() <= 2, "a page holds at most --max-page-size cases: {}", page.cases.len());
        if page.cases.len() == 2 {
            assert!(!page.next_page_token.is_empty(), "the rest is a page further");
            let rest =
                pb::ListCasesRequest { page_size: 10_000, page_token: page.next_page_token, ..Default::default() };
            let next = evaluation.list_cases(rest).await.unwrap().into_inner();
            if next.cases.len() == 1 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the three cases never showed in the list");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_over_its_rate_is_held_back_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = local_args(dir.path());
    args.security.limits = LimitArgs { rate_limit: 1, rate_limit_burst: 3, ..LimitArgs::default() };
    let app = start(args).await;
    let channel = plain_channel(&app).await;
    let flood = with_token(&channel, &token(&app, &principal("flood", Role::Platform, Some("321012"))));
    let mut refusals = Vec::new();
    for _ in 0..8 {
        if let Err(status) = catalog(flood.clone()).await {
            refusals.push(status);
        }
    }
    // Eight calls at one per second with a burst of three: at least four are held back unless
    // every call took longer than a second.
    assert!(!refusals.is_empty(), "no call was held back");
    for status in &refusals {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(status.message().contains("more than 1 requests per second"), "{status:?}");
    }
    let quiet = with_token(&channel, &token(&app, &principal("quiet", Role::Platform, Some("321012"))));
    catalog(quiet).await.expect("another principal has its own budget");
    app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_providers_tokens_are_verified_through_oidc_discovery() {
    let idp = idp::IdentityProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut args = local_args(dir.path());
    args.security = SecurityArgs {
        auth: gridloop_auth::AuthArgs {
            oidc_issuer: Some(idp.issuer.clone()),
            jwt_audience: Some("gridloop-api".into()),
            jwt_role_claim: "realm_access.roles".into(),
            jwt_area_claim: "gridloop_area".into(),
            jwt_role_map: vec![("gridloop-street".into(), Role::StreetOffice)],
            ..Default::default()
        },
        ..Default::default()
    };
    let app = start(args).await;
    assert!(app.signing_key().is_none(), "with an identity provider no local key is created");
    let channel = plain_channel(&app).await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": idp.issuer, "aud": "gridloop-api", "sub": "f:3b2c:wang", "exp": now + 300, "iat": now,
        "gridloop_area": "321012001", "realm_access": {"roles": ["offline_access", "gridloop-street"]}
    });
    let street = idp.sign(&claims);
    let kpis =
        EvaluationServiceClient::new(with_token(&channel, &street)).get_kpis(pb::GetKpisRequest::default()).await;
    assert!(kpis.is_ok(), "a street office's token from the identity provider: {kpis:?}");
    let evaluate = pb::EvaluateCaseRequest { case_id: "c".into(), ..Default::default() };
    let refused =
        EvaluationServiceClient::new(with_token(&channel, &street)).evaluate_case(evaluate).await.unwrap_err();
    assert_eq!(
        refused.message(),
        "role street-office may not call EvaluateCase",
        "mapped to street-office: {refused:?}"
    );

    let mut other_audience = claims.clone();
    other_audience["aud"] = json!("account");
    let refused = catalog(with_token(&channel, &idp.sign(&other_audience))).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let mut no_role = claims;
    no_role["realm_access"] = json!({"roles": ["offline_access"]});
    let refused = catalog(with_token(&channel, &idp.sign(&no_role))).await.unwrap_err();
    assert!(refused.message().contains("realm_access.roles names no gridloop role"), "{refused:?}");
    app.shutdown().await.unwrap();
}

/// A stand-in identity provider: OIDC discovery and a JWKS over plain HTTP, one ES256 key.
mod idp {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::{json, Value};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    pub struct IdentityProvider {
        pub issuer: String,
        key: EncodingKey,
    }

    impl IdentityProvider {
        pub async fn start() -> IdentityProvider {
            let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let point = pair.public_key_raw().to_vec();
            let b64 = |bytes: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
            let jwks = json!({"keys": [{
                "kty": "EC", "crv": "P-256", "kid": "idp-1", "use": "sig", "alg": "ES256",
                "x": b64(&point[1..33]), "y": b64(&point[33..65])
            }]});
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let issuer = format!("http://{}/realms/city", listener.local_addr().unwrap());
            let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/protocol/openid-connect/certs")});
            tokio::spawn(serve(listener, discovery, jwks));
            IdentityProvider { issuer, key: EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap() }
        }

        pub fn sign(&self, claims: &Value) -> String {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some("idp-1".into());
            jsonwebtoken::encode(&header, claims, &self.key).unwrap()
        }
    }

    async fn serve(listener: tokio::net::TcpListener, discovery: Value, jwks: Value) {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let (discovery, jwks) = (discovery.clone(), jwks.clone());
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let read = stream.read(&mut request).await.unwrap_or(0);
                let line = String::from_utf8_lossy(&request[..read]).lines().next().unwrap_or_default().to_string();
                let body = if line.contains("/.well-known/openid-configuration") {
                    discovery.to_string()
                } else if line.contains("/protocol/openid-connect/certs") {
                    jwks.to_string()
                } else {
                    String::new()
                };
                let status = if body.is_empty() { "404 Not Found" } else { "200 OK" };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    }
}
