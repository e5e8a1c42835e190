//! The gRPC side: one channel per service, and the bearer token each call carries — the
//! server's own service token for public reads, the caller's `api_key` for a report.

use anyhow::Context;
use gridloop_auth::SigningKey;
use gridloop_domain::access::{Principal, Role};
use gridloop_proto::v1 as pb;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::{Channel, Endpoint};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A case with a long history can exceed tonic's 4 MiB default.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// The subject of the token the server mints itself: the gRPC edge gives it a front end's
/// limits, since it reads for every HTTP client.
pub const SERVICE_SUBJECT: &str = gridloop_auth::args::HTTP_SERVICE_SUBJECT;
/// How long a minted service token lives, and when a fresh one replaces it.
const MINTED_TTL: chrono::Duration = chrono::Duration::hours(1);
const REMINT_AFTER: Duration = Duration::from_secs(30 * 60);

/// Where the services answer, and the server's own credentials (`gridloop serve http`).
#[derive(Debug, Clone, clap::Args)]
pub struct BackendArgs {
    /// The gridloop gRPC server (all services on one address).
    #[arg(long, env = "GRIDLOOP_SERVER", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// The intake service, when it runs on its own. Default: --server.
    #[arg(long = "intake", env = "GRIDLOOP_INTAKE_ADDR", value_name = "URL")]
    pub intake: Option<String>,
    /// The dispatch service, when it runs on its own. Default: --server.
    #[arg(long = "dispatch", env = "GRIDLOOP_DISPATCH_ADDR", value_name = "URL")]
    pub dispatch: Option<String>,
    /// The mediation service, when it runs on its own. Default: --server.
    #[arg(long = "mediation", env = "GRIDLOOP_MEDIATION_ADDR", value_name = "URL")]
    pub mediation: Option<String>,
    /// The evaluation service, when it runs on its own. Default: --server.
    #[arg(long = "evaluation", env = "GRIDLOOP_EVALUATION_ADDR", value_name = "URL")]
    pub evaluation: Option<String>,
    /// The token public reads are made with (a read-only principal, e.g. a city-wide
    /// supervisor). Default: one minted with the signing key in --data-dir.
    #[arg(long = "service-token", env = "GRIDLOOP_HTTP_SERVICE_TOKEN", hide_env_values = true)]
    pub service_token: Option<String>,
    /// The CA certificate (PEM) that signed an https:// service's certificate (default: the system's roots).
    #[arg(long, env = "GRIDLOOP_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

impl BackendArgs {
    /// All services on `url`, with the given credentials.
    pub fn single(url: impl Into<String>) -> Self {
        Self {
            server: url.into(),
            intake: None,
            dispatch: None,
            mediation: None,
            evaluation: None,
            service_token: None,
            ca_cert: None,
        }
    }
}

/// How the server proves who it is for public reads.
pub enum ServiceCredentials {
    /// A token given by flag or environment.
    Token(String),
    /// Tokens minted with the installation's key for a city-wide supervisor (read only).
    Minted { key: Arc<SigningKey>, current: Mutex<Option<(String, Instant)>> },
}

impl ServiceCredentials {
    pub fn minted(key: Arc<SigningKey>) -> Self {
        ServiceCredentials::Minted { key, current: Mutex::new(None) }
    }

    /// The flag's token, else one minted with the key in `data_dir`.
    pub fn from_args(args: &BackendArgs, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        if let Some(token) = &args.service_token {
            return Ok(ServiceCredentials::Token(token.trim().to_string()));
        }
        let key = SigningKey::load(data_dir)?.with_context(|| {
            format!(
                "no service token: give --service-token (GRIDLOOP_HTTP_SERVICE_TOKEN), or --data-dir holding the \
                 installation's signing key (none in {})",
                gridloop_auth::local::auth_dir(data_dir).display()
            )
        })?;
        Ok(Self::minted(Arc::new(key)))
    }

    fn token(&self) -> anyhow::Result<String> {
        match self {
            ServiceCredentials::Token(token) => Ok(token.clone()),
            ServiceCredentials::Minted { key, current } => {
                let mut current = current.lock().expect("service token lock");
                if let Some((token, minted)) = current.as_ref() {
                    if minted.elapsed() < REMINT_AFTER {
                        return Ok(token.clone());
                    }
                }
                let principal = Principal::new(SERVICE_SUBJECT, Role::Supervisor, None, None)?;
                let token = key.issue(&principal, MINTED_TTL)?;
                *current = Some((token.clone(), Instant::now()));
                Ok(token)
            }
        }
    }
}

/// Connections to the services the HTTP server calls.
#[derive(Clone)]
pub struct Backend {
    intake: Channel,
    dispatch: Channel,
    mediation: Channel,
    evaluation: Channel,
    credentials: Arc<ServiceCredentials>,
}

/// A call could not be made: the token cannot be sent as a header.
#[derive(Debug, thiserror::Error)]
#[error("the token contains characters a header cannot carry")]
pub struct BadToken;

impl Backend {
    /// Channels connect lazily: the HTTP server starts (and answers `/healthz`) before the
    /// services are reachable; `/readyz` tells when they are.
    pub fn connect(args: &BackendArgs, credentials: ServiceCredentials) -> anyhow::Result<Self> {
        let or_server = |own: &Option<String>| own.clone().unwrap_or_else(|| args.server.clone());
        let channel = |url: String| lazy_channel(&url, args.ca_cert.as_deref());
        Ok(Self {
            intake: channel(or_server(&args.intake))?,
            dispatch: channel(or_server(&args.dispatch))?,
            mediation: channel(or_server(&args.mediation))?,
            evaluation: channel(or_server(&args.evaluation))?,
            credentials: Arc::new(credentials),
        })
    }

    pub fn intake(&self) -> pb::intake_service_client::IntakeServiceClient<Channel> {
        pb::intake_service_client::IntakeServiceClient::new(self.intake.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn dispatch(&self) -> pb::dispatch_service_client::DispatchServiceClient<Channel> {
        pb::dispatch_service_client::DispatchServiceClient::new(self.dispatch.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn mediation(&self) -> pb::mediation_service_client::MediationServiceClient<Channel> {
        pb::mediation_service_client::MediationServiceClient::new(self.mediation.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn evaluation(&self) -> pb::evaluation_service_client::EvaluationServiceClient<Channel> {
        pb::evaluation_service_client::EvaluationServiceClient::new(self.evaluation.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// `message` as a request made with the server's own service token.
    pub fn as_service<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        Ok(with_bearer(message, &self.credentials.token()?)?)
    }
}

/// `message` as a request carrying `authorization: Bearer <token>`.
pub fn with_bearer<T>(message: T, token: &str) -> Result<tonic::Request<T>, BadToken> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {}", token.trim()).parse().map_err(|_| BadToken)?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

fn lazy_channel(url: &str, ca_cert: Option<&std::path::Path>) -> anyhow::Result<Channel> {
    let url = if url.contains("://") { url.to_string() } else { format!("http://{url}") };
    let mut endpoint = Endpoint::from_shared(url.clone())
        .with_context(|| format!("invalid service URL {url:?}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true);
    if url.starts_with("https://") {
        endpoint = endpoint.tls_config(gridloop_auth::tls::client_config(ca_cert)?)?;
    }
    Ok(endpoint.connect_lazy())
}
