//! The connection to a gridloop server and the translation of gRPC errors into messages for people.

use super::error::{CallError, Unreachable};
use anyhow::{Context, Result};
use gridloop_auth::{AuthChannel, BearerToken};
use gridloop_domain::access::Role;
use gridloop_proto::v1 as pb;
use std::path::PathBuf;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The largest response the CLI accepts (a long case history can exceed tonic's 4 MiB default).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Where each service answers — one address for `gridloop up`, four in distributed mode — and
/// how the CLI proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addresses {
    pub intake: String,
    pub dispatch: String,
    pub mediation: String,
    pub evaluation: String,
    pub credentials: Credentials,
}

/// The CLI's credentials: a bearer token if given, else a short admin token minted with the
/// signing key of the local installation in `data_dir` (when this user can read it); and the
/// CA that signed an `https://` server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub token: Option<String>,
    pub data_dir: PathBuf,
    pub ca_cert: Option<PathBuf>,
    /// Whom a token minted with the local key stands for: the admin, unless a command acts in
    /// another role (the bench's evaluations are a hotline's callback).
    pub local: (&'static str, Role),
}

impl Default for Credentials {
    fn default() -> Self {
        Self { token: None, data_dir: PathBuf::from("./gridloop-data"), ca_cert: None, local: LOCAL_ADMIN }
    }
}

/// The local principal the CLI acts as by default.
pub const LOCAL_ADMIN: (&str, Role) = (crate::token_cli::LOCAL_ADMIN, Role::Admin);

impl Credentials {
    /// The token to send to `urls`. The local installation's admin token only ever goes to a
    /// server on this machine: a remote server (even one the user mistyped) never receives it.
    fn bearer(&self, urls: &[String]) -> Result<BearerToken> {
        let token = match &self.token {
            Some(token) => Some(token.clone()),
            None if urls.iter().all(|url| is_loopback(url)) => {
                crate::token_cli::local_token(&self.data_dir, self.local.0, self.local.1)?
            }
            None => None,
        };
        token.map_or_else(|| Ok(BearerToken::default()), |token| BearerToken::new(&token))
    }
}

/// Whether `url` names this machine (localhost, 127.0.0.0/8, ::1).
fn is_loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else { return false };
    match uri.host().map(|host| host.trim_start_matches('[').trim_end_matches(']')) {
        Some("localhost") => true,
        Some(host) => host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

impl Addresses {
    /// All four services on one address.
    pub fn single(url: &str) -> Self {
        Self {
            intake: url.into(),
            dispatch: url.into(),
            mediation: url.into(),
            evaluation: url.into(),
            credentials: Credentials::default(),
        }
    }
}

/// Connections to the four services (one channel per distinct address).
pub struct Server {
    /// For messages: the one address, or each service's.
    url: String,
    channels: [AuthChannel; 4],
}

impl Server {
    /// Connects eagerly, so an unreachable server is reported once, clearly, before any request.
    pub async fn connect(addresses: &Addresses) -> Result<Self> {
        let urls = [&addresses.intake, &addresses.dispatch, &addresses.mediation, &addresses.evaluation]
            .map(|url| with_scheme(url));
        let bearer = addresses.credentials.bearer(&urls)?;
        let mut connected: Vec<(String, AuthChannel)> = Vec::new();
        for url in &urls {
            if !connected.iter().any(|(known, _)| known == url) {
                let channel = connect(url, addresses.credentials.ca_cert.as_deref()).await?;
                connected.push((url.clone(), bearer.clone().channel(channel)));
            }
        }
        let channel_of = |url: &String| connected.iter().find(|(known, _)| known == url).expect("connected").1.clone();
        let url = match connected.as_slice() {
            [(only, _)] => only.clone(),
            _ => format!("intake {}, dispatch {}, mediation {}, evaluation {}", urls[0], urls[1], urls[2], urls[3]),
        };
        Ok(Self { url, channels: urls.each_ref().map(channel_of) })
    }

    pub fn intake(&self) -> pb::intake_service_client::IntakeServiceClient<AuthChannel> {
        pb::intake_service_client::IntakeServiceClient::new(self.channels[0].clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn dispatch(&self) -> pb::dispatch_service_client::DispatchServiceClient<AuthChannel> {
        pb::dispatch_service_client::DispatchServiceClient::new(self.channels[1].clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn mediation(&self) -> pb::mediation_service_client::MediationServiceClient<AuthChannel> {
        pb::mediation_service_client::MediationServiceClient::new(self.channels[2].clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn evaluation(&self) -> pb::evaluation_service_client::EvaluationServiceClient<AuthChannel> {
        pb::evaluation_service_client::EvaluationServiceClient::new(self.channels[3].clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Maps a failed call of `rpc` to an error whose message says what went wrong and what to do.
    pub fn fail(&self, rpc: &'static str) -> impl Fn(Status) -> anyhow::Error + '_ {
        move |status| CallError { rpc, url: self.url.clone(), status }.into()
    }
}

async fn connect(url: &str, ca_cert: Option<&std::path::Path>) -> Result<Channel> {
    let mut endpoint = Endpoint::from_shared(url.to_string())
        .with_context(|| format!("invalid server URL {url:?}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT);
    if url.starts_with("https://") {
        endpoint = endpoint.tls_config(gridloop_auth::tls::client_config(ca_cert)?)?;
    }
    let unreachable = |error| Unreachable { url: url.to_string(), reason: error_chain(&error) };
    Ok(endpoint.connect().await.map_err(unreachable)?)
}

/// `127.0.0.1:50051` means `http://127.0.0.1:50051`.
fn with_scheme(url: &str) -> String {
    if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    }
}

/// An error and all its sources, joined with ": ".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// The human message for a gRPC status, decoding the rich error details the services attach.
pub fn describe_status(status: &Status, url: &str) -> String {
    let message = status.message();
    match status.code() {
        Code::InvalidArgument => {
            let violations = status.get_details_bad_request().map(|b| b.field_violations).unwrap_or_default();
            if violations.is_empty() {
                format!("invalid request: {message}")
            } else {
                let lines: Vec<String> =
                    violations.iter().map(|v| format!("\n  {}: {}", v.field, v.description)).collect();
                format!("invalid request:{}", lines.concat())
            }
        }
        // The cause comes first; the precondition's type and subject are for scripts (`--json`).
        Code::FailedPrecondition => {
            let mut text = format!("refused: {message}");
            for v in status.get_details_precondition_failure().map(|p| p.violations).unwrap_or_default() {
                if v.description != message {
                    text.push_str(&format!("\n  {}", v.description));
                }
            }
            text
        }
        Code::Aborted => format!("conflict: {message} (it changed meanwhile: show it again, then retry)"),
        Code::NotFound => format!("not found: {message}"),
        Code::AlreadyExists => format!("already exists: {message}"),
        Code::PermissionDenied => format!("permission denied: {message}"),
        Code::Unauthenticated => format!(
            "unauthenticated: {message} (give --token or GRIDLOOP_TOKEN, or --data-dir of the local installation whose key you may read)"
        ),
        Code::DeadlineExceeded => format!("the gridloop server at {url} did not answer in time: {message}"),
        Code::Unavailable => {
            format!("the gridloop server at {url} is unavailable ({message}); check that it is running (`gridloop up`)")
        }
        Code::Unimplemented => format!("the server at {url} does not implement this call: {message}"),
        code => format!("{code:?}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn invalid_argument_lists_every_field_violation() {
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation("location.lat", "must be within -90..=90");
        details.add_bad_request_violation("category_code", "unknown category \"X\"");
        let status = Status::with_error_details(Code::InvalidArgument, "two bad fields", details);
        let text = describe_status(&status, "http://x");
        assert_eq!(
            text,
            "invalid request:\n  location.lat: must be within -90..=90\n  category_code: unknown category \"X\""
        );
    }

    #[test]
    fn invalid_argument_without_details_keeps_the_message() {
        let text = describe_status(&Status::invalid_argument("bad"), "http://x");
        assert_eq!(text, "invalid request: bad");
    }

    #[test]
    fn a_refusal_says_its_cause_without_the_precondition_type() {
        let cause = "Zhang has used all 3 turns (cannot make_statement a session that is deliberating)";
        let details = ErrorDetails::with_precondition_failure_violation("STAGE_DELIBERATING", "mediation", cause);
        let status = Status::with_error_details(Code::FailedPrecondition, cause, details);
        assert_eq!(describe_status(&status, "http://x"), format!("refused: {cause}"));
    }

    #[test]
    fn a_refusal_adds_a_violation_that_says_something_else() {
        let details = ErrorDetails::with_precondition_failure_violation("STATE_CLOSED", "case", "the case is closed");
        let status = Status::with_error_details(Code::FailedPrecondition, "nothing to do", details);
        assert_eq!(describe_status(&status, "http://x"), "refused: nothing to do\n  the case is closed");
    }

    #[test]
    fn unavailable_names_the_server() {
        let text = describe_status(&Status::unavailable("down"), "http://127.0.0.1:1");
        assert!(text.contains("http://127.0.0.1:1"), "{text}");
        assert!(text.contains("gridloop up"), "{text}");
    }

    #[test]
    fn the_local_admin_token_is_for_servers_on_this_machine_only() {
        for url in ["http://127.0.0.1:50051", "http://localhost:1", "https://[::1]:50051", "http://127.0.0.2:5"] {
            assert!(is_loopback(url), "{url}");
        }
        for url in ["http://10.0.0.1:50051", "https://grid.example", "http://localhost.evil.example:1", "nonsense"] {
            assert!(!is_loopback(url), "{url}");
        }
        let dir = tempfile::tempdir().unwrap();
        gridloop_auth::SigningKey::create_or_load(dir.path()).unwrap();
        let credentials = Credentials { data_dir: dir.path().into(), ..Credentials::default() };
        let header = |bearer: BearerToken| {
            let mut interceptor = bearer;
            let request = tonic::service::Interceptor::call(&mut interceptor, tonic::Request::new(())).unwrap();
            request.metadata().get("authorization").is_some()
        };
        assert!(header(credentials.bearer(&["http://127.0.0.1:50051".into()]).unwrap()));
        let mixed = ["http://127.0.0.1:50061".into(), "https://dispatch.city.example".into()];
        assert!(!header(credentials.bearer(&mixed).unwrap()), "not when one service is elsewhere");
    }

    #[test]
    fn a_bare_address_gets_http() {
        assert_eq!(with_scheme("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(with_scheme("https://grid.example"), "https://grid.example");
    }

    #[tokio::test]
    async fn connection_refused_says_how_to_start_the_server() {
        // Bind then drop a listener to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let error =
            Server::connect(&Addresses::single(&format!("http://127.0.0.1:{port}"))).await.err().expect("refused");
        let text = format!("{error:#}");
        assert!(text.contains(&format!("http://127.0.0.1:{port} is not reachable")), "{text}");
        assert!(text.contains("gridloop up"), "{text}");
    }
}
