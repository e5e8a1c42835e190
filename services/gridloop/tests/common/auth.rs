//! Authentication helpers for the security tests: an in-process gridloop on the wall clock,
//! channels carrying tokens, forged tokens, and a capture of the audit log and the metrics.
// Shared by several test binaries, each using a part of it.
#![allow(dead_code)]

use gridloop::app::{App, UpArgs};
use gridloop_auth::{AuthChannel, BearerToken, Principal};
use gridloop_bus::SystemClock;
use gridloop_domain::access::Role;
use gridloop_domain::jurisdiction::AreaCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use tonic::transport::Channel;
use tracing_subscriber::Layer as _;

pub async fn start(args: UpArgs) -> App {
    App::start(&args, Arc::new(SystemClock)).await.expect("gridloop starts")
}

pub fn local_args(dir: &Path) -> UpArgs {
    UpArgs::embedded(dir, "127.0.0.1:0".parse().unwrap())
}

pub async fn plain_channel(app: &App) -> Channel {
    Channel::from_shared(format!("http://{}", app.addr)).unwrap().connect().await.expect("connect")
}

pub fn principal(subject: &str, role: Role, area: Option<&str>) -> Principal {
    Principal::new(subject, role, area.map(|a| AreaCode::new(a).unwrap()), None).unwrap()
}

/// A token minted with the installation's key, as `gridloop token issue` does.
pub fn token(app: &App, principal: &Principal) -> String {
    app.signing_key().expect("a signing key").issue(principal, chrono::Duration::hours(1)).unwrap()
}

pub fn with_token(channel: &Channel, token: &str) -> AuthChannel {
    BearerToken::new(token).unwrap().channel(channel.clone())
}

/// Registered claims the installation accepts (issuer and audience `gridloop`, valid for an
/// hour), for `role`; tests break one claim at a time.
pub fn valid_claims(role: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": "gridloop", "aud": "gridloop", "sub": "forger", "role": role, "iat": now, "nbf": now, "exp": now + 3600})
}

pub fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

/// The installation's own key, as a file reader on the server would have it.
pub fn installation_key(data_dir: &Path) -> (EncodingKey, String) {
    let pem = std::fs::read(data_dir.join("auth").join("signing-key.pem")).unwrap();
    let jwks: Value = serde_json::from_slice(&std::fs::read(data_dir.join("auth").join("jwks.json")).unwrap()).unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_string();
    (EncodingKey::from_ed_pem(&pem).unwrap(), kid)
}

pub fn header(alg: Algorithm, kid: Option<&str>) -> Header {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    header
}

/// Everything written to the `gridloop::audit` target by this test process.
pub fn audit_log() -> String {
    String::from_utf8_lossy(&capture().lock().unwrap()).into_owned()
}

/// Install (once) a subscriber capturing the audit log and a Prometheus recorder.
pub fn observe() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let audit = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(|| CaptureWriter).with_filter(
            tracing_subscriber::filter::Targets::new().with_target("gridloop::audit", tracing::Level::INFO),
        );
        let _ = tracing_subscriber::registry().with(audit).try_init();
        metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().expect("one recorder per test process")
    })
}

fn capture() -> &'static Mutex<Vec<u8>> {
    static CAPTURED: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    CAPTURED.get_or_init(Default::default)
}

struct CaptureWriter;

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        capture().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
