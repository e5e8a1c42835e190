//! The security settings of a gRPC server (`gridloop up` and `gridloop serve`), as flags and
//! `GRIDLOOP_*` variables, and what they build: the layer, the TLS config, the request deadline.

use crate::api_keys::ApiKeyCheck;
use crate::claims::{parse_role_mapping, ClaimMapping};
use crate::inspect::{RequestInspector, RequestLimits};
use crate::layer::{AuthLayer, Gate, ReflectionMode};
use crate::limits::{EdgeLimits, LimitSettings};
use crate::local::{SigningKey, LOCAL_AUDIENCE, LOCAL_ISSUER};
use crate::remote::{KeyLocation, RemoteKeys};
use crate::tls::{self, CertificatePrincipals};
use crate::verifier::{Issuer, Keys, Verifier};
use anyhow::Context;
use gridloop_domain::access::Role;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::ServerTlsConfig;

/// Who may call: the installation's own key (always trusted) and an identity provider's.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthArgs {
    /// The identity provider's public keys as a JWKS file (re-read at start).
    #[arg(long, env = "GRIDLOOP_JWKS_FILE", conflicts_with_all = ["jwks_url", "oidc_issuer"])]
    pub jwks_file: Option<PathBuf>,
    /// The identity provider's JWKS URL (fetched at start, refreshed, and re-fetched for an unknown key id).
    #[arg(long, env = "GRIDLOOP_JWKS_URL", conflicts_with = "oidc_issuer")]
    pub jwks_url: Option<String>,
    /// An OpenID Connect issuer: its keys are found through `<issuer>/.well-known/openid-configuration`.
    #[arg(long, env = "GRIDLOOP_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The `iss` the identity provider's tokens carry (default: the OIDC issuer).
    #[arg(long, env = "GRIDLOOP_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The `aud` the identity provider's tokens must carry (its client id for gridloop).
    #[arg(long, env = "GRIDLOOP_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    #[arg(long, env = "GRIDLOOP_JWT_LEEWAY_SECS", default_value_t = 60)]
    pub jwt_leeway_secs: u64,
    /// How often the keys behind --jwks-url / --oidc-issuer are refreshed, in seconds.
    #[arg(long, env = "GRIDLOOP_JWKS_REFRESH_SECS", default_value_t = 300)]
    pub jwks_refresh_secs: u64,
    /// The claim holding the subject in the identity provider's tokens.
    #[arg(long, env = "GRIDLOOP_JWT_SUBJECT_CLAIM", default_value = "sub")]
    pub jwt_subject_claim: String,
    /// The claim holding the role: a string, or an array such as Keycloak's `realm_access.roles`
    /// (a dotted path) of which exactly one value must name a gridloop role.
    #[arg(long, env = "GRIDLOOP_JWT_ROLE_CLAIM", default_value = "role")]
    pub jwt_role_claim: String,
    /// The claim holding the area (a jurisdiction code).
    #[arg(long, env = "GRIDLOOP_JWT_AREA_CLAIM", default_value = "area")]
    pub jwt_area_claim: String,
    /// The claim holding the department's function code.
    #[arg(long, env = "GRIDLOOP_JWT_DEPARTMENT_CLAIM", default_value = "department")]
    pub jwt_department_claim: String,
    /// IDP_ROLE=GRIDLOOP_ROLE: an identity provider's role name meaning a gridloop role
    /// (repeatable, or comma-separated in the variable).
    #[arg(long = "jwt-role-map", env = "GRIDLOOP_JWT_ROLE_MAP", value_delimiter = ',', value_parser = parse_role_mapping)]
    pub jwt_role_map: Vec<(String, Role)>,
    /// Server reflection: off, open to anyone, or for authenticated callers.
    #[arg(long, env = "GRIDLOOP_REFLECTION", value_enum, default_value_t = ReflectionMode::Authenticated)]
    pub reflection: ReflectionMode,
    /// Seconds an API key's lookup is remembered: the longest a revoked key keeps working (and
    /// how stale its last-used time may be). 0: looked up on every request.
    #[arg(long, env = "GRIDLOOP_API_KEY_CACHE_SECS", default_value_t = crate::api_keys::DEFAULT_CACHE_SECS)]
    pub api_key_cache_secs: u64,
}

impl Default for AuthArgs {
    fn default() -> Self {
        Self {
            jwks_file: None,
            jwks_url: None,
            oidc_issuer: None,
            jwt_issuer: None,
            jwt_audience: None,
            jwt_leeway_secs: 60,
            jwks_refresh_secs: 300,
            jwt_subject_claim: "sub".into(),
            jwt_role_claim: "role".into(),
            jwt_area_claim: "area".into(),
            jwt_department_claim: "department".into(),
            jwt_role_map: Vec::new(),
            reflection: ReflectionMode::Authenticated,
            api_key_cache_secs: crate::api_keys::DEFAULT_CACHE_SECS,
        }
    }
}

/// TLS on the gRPC listener.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// The server's certificate chain (PEM); with --tls-key, gRPC is served over TLS.
    #[arg(long, env = "GRIDLOOP_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The server's private key (PEM).
    #[arg(long, env = "GRIDLOOP_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The CA that signs client certificates (mutual TLS): a presented certificate must verify.
    #[arg(long, env = "GRIDLOOP_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Client certificates that stand for principals (TOML; see deploy/k8s/overlays/prod/mtls-clients.example.toml).
    #[arg(long, env = "GRIDLOOP_MTLS_CLIENTS", requires = "tls_client_ca")]
    pub mtls_clients: Option<PathBuf>,
    /// Serve plaintext gRPC on a non-loopback address (TLS terminated in front of gridloop).
    #[arg(long, env = "GRIDLOOP_ALLOW_PLAINTEXT")]
    pub allow_plaintext: bool,
}

/// Limits on what one caller may take (0 turns a limit off).
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Requests per second per principal.
    #[arg(long, env = "GRIDLOOP_RATE_LIMIT", default_value_t = 100)]
    pub rate_limit: u32,
    /// Requests a principal may make at once above the rate.
    #[arg(long, env = "GRIDLOOP_RATE_LIMIT_BURST", default_value_t = 200)]
    pub rate_limit_burst: u32,
    /// Requests in flight per principal.
    #[arg(long, env = "GRIDLOOP_MAX_IN_FLIGHT", default_value_t = 32)]
    pub max_in_flight: usize,
    /// Seconds a request may take on the server (a client's shorter `grpc-timeout` wins).
    #[arg(long, env = "GRIDLOOP_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// The largest page a list returns; a larger `page_size` is lowered to it.
    #[arg(long, env = "GRIDLOOP_MAX_PAGE_SIZE", default_value_t = 500)]
    pub max_page_size: u32,
    /// Characters in any string field of a request.
    #[arg(long, env = "GRIDLOOP_MAX_STRING_CHARS", default_value_t = 4000)]
    pub max_string_chars: usize,
    /// Items in any list field of a request.
    #[arg(long, env = "GRIDLOOP_MAX_LIST_ITEMS", default_value_t = 1000)]
    pub max_list_items: usize,
    /// Subjects of gridloop's own front ends — the HTTP server's service principal, whose public
    /// reads serve every HTTP client (each limited by the HTTP server per address): they get the
    /// service limits below instead of a caller's.
    #[arg(long = "service-subject", env = "GRIDLOOP_SERVICE_SUBJECTS", value_delimiter = ',', default_value = HTTP_SERVICE_SUBJECT)]
    pub service_subjects: Vec<String>,
    /// Requests per second each front end's service principal may make (all its clients together).
    #[arg(long, env = "GRIDLOOP_SERVICE_RATE_LIMIT", default_value_t = 2000)]
    pub service_rate_limit: u32,
    /// Requests a front end's service principal may make at once above that rate.
    #[arg(long, env = "GRIDLOOP_SERVICE_RATE_LIMIT_BURST", default_value_t = 4000)]
    pub service_rate_limit_burst: u32,
    /// Requests in flight per front end's service principal.
    #[arg(long, env = "GRIDLOOP_SERVICE_MAX_IN_FLIGHT", default_value_t = 256)]
    pub service_max_in_flight: usize,
}

/// The subject of the HTTP server's own service principal (its minted tokens').
pub const HTTP_SERVICE_SUBJECT: &str = "gridloop-http";

impl Default for LimitArgs {
    fn default() -> Self {
        Self {
            rate_limit: 100,
            rate_limit_burst: 200,
            max_in_flight: 32,
            request_timeout_secs: 30,
            max_page_size: 500,
            max_string_chars: 4000,
            max_list_items: 1000,
            service_subjects: vec![HTTP_SERVICE_SUBJECT.to_string()],
            service_rate_limit: 2000,
            service_rate_limit_burst: 4000,
            service_max_in_flight: 256,
        }
    }
}

impl LimitArgs {
    /// No per-principal rate or concurrency limit: for tools that drive their own in-process
    /// server hard (the simulator, benchmarks). Request bounds and the deadline stay.
    pub fn unthrottled() -> LimitArgs {
        LimitArgs {
            rate_limit: 0,
            max_in_flight: 0,
            service_rate_limit: 0,
            service_max_in_flight: 0,
            ..LimitArgs::default()
        }
    }
}

/// All of a server's security settings.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SecurityArgs {
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// What a server is secured with.
pub struct EdgeSecurity {
    pub layer: AuthLayer,
    pub tls: Option<ServerTlsConfig>,
    /// The server-side deadline of every request (`None`: none).
    pub request_timeout: Option<Duration>,
    pub reflection: ReflectionMode,
    /// Where integrators' API keys are checked; the process attaches the key store.
    pub api_keys: Arc<ApiKeyCheck>,
    /// The installation's own key, when it has one.
    pub signing_key: Option<Arc<SigningKey>>,
}

impl SecurityArgs {
    /// Build the server's security. The installation's key in `data_dir` is created on the first
    /// start unless an identity provider is configured (then it is trusted only if present).
    /// `max_message_bytes` is the gRPC message limit the request inspection reads up to.
    pub async fn prepare(
        &self,
        data_dir: &Path,
        listen: SocketAddr,
        max_message_bytes: usize,
    ) -> anyhow::Result<EdgeSecurity> {
        let tls = match (&self.tls.tls_cert, &self.tls.tls_key) {
            (Some(cert), Some(key)) => Some(tls::server_config(cert, key, self.tls.tls_client_ca.as_deref())?),
            _ => None,
        };
        tls::check_plaintext(listen, tls.is_some(), self.tls.allow_plaintext)?;
        let certificates = match &self.tls.mtls_clients {
            Some(path) => Some(
                CertificatePrincipals::from_toml(
                    &std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
                )
                .with_context(|| format!("invalid client certificate mapping {}", path.display()))?,
            ),
            None => None,
        };
        let (verifier, signing_key) = self.verifier(data_dir).await?;
        let limits = &self.limits;
        let requests = RequestInspector::new(RequestLimits {
            max_string_chars: limits.max_string_chars,
            max_list_items: limits.max_list_items,
            max_page_size: limits.max_page_size.max(1),
        })?;
        let api_keys = Arc::new(ApiKeyCheck::new(Duration::from_secs(self.auth.api_key_cache_secs)));
        let gate = Gate {
            verifier,
            api_keys: api_keys.clone(),
            certificates,
            reflection: self.auth.reflection,
            limits: EdgeLimits::new(
                LimitSettings {
                    requests_per_second: limits.rate_limit,
                    burst: limits.rate_limit_burst,
                    max_in_flight: limits.max_in_flight,
                },
                LimitSettings {
                    requests_per_second: limits.service_rate_limit,
                    burst: limits.service_rate_limit_burst,
                    max_in_flight: limits.service_max_in_flight,
                },
                &limits.service_subjects,
            ),
            requests,
            // A gRPC frame: one flag byte and a 4-byte length before the message.
            max_request_bytes: max_message_bytes + 5,
            audit: crate::audit::Audit,
        };
        Ok(EdgeSecurity {
            layer: AuthLayer::new(gate),
            tls,
            request_timeout: (limits.request_timeout_secs > 0)
                .then(|| Duration::from_secs(limits.request_timeout_secs)),
            reflection: self.auth.reflection,
            api_keys,
            signing_key,
        })
    }

    async fn verifier(&self, data_dir: &Path) -> anyhow::Result<(Verifier, Option<Arc<SigningKey>>)> {
        let mut issuers = Vec::new();
        let provider = self.identity_provider()?;
        let signing_key = if provider.is_some() {
            SigningKey::load(data_dir)?
        } else {
            let (key, created) = SigningKey::create_or_load(data_dir)?;
            if created {
                tracing::info!(path = %key.path().display(), "created the installation's signing key");
            }
            Some(key)
        };
        if let Some(key) = &signing_key {
            issuers.push(Issuer {
                issuer: LOCAL_ISSUER.into(),
                audience: LOCAL_AUDIENCE.into(),
                keys: Keys::Fixed(Arc::new(key.key_set()?)),
                claims: ClaimMapping::default(),
            });
        }
        if let Some(provider) = provider {
            if let Keys::Remote(remote) = &provider.keys {
                if let Err(error) = remote.refresh().await {
                    tracing::warn!(%error, "the identity provider's keys are not available yet; retrying in the background");
                }
                RemoteKeys::spawn_refresh(remote, Duration::from_secs(self.auth.jwks_refresh_secs.max(10)));
            }
            issuers.push(provider);
        }
        Ok((Verifier::new(issuers, self.auth.jwt_leeway_secs), signing_key.map(Arc::new)))
    }

    /// The identity provider the flags describe, if any.
    fn identity_provider(&self) -> anyhow::Result<Option<Issuer>> {
        let auth = &self.auth;
        let keys = match (&auth.jwks_file, &auth.jwks_url, &auth.oidc_issuer) {
            (None, None, None) => return Ok(None),
            (Some(path), _, _) => {
                let json =
                    std::fs::read(path).with_context(|| format!("cannot read the JWKS file {}", path.display()))?;
                Keys::Fixed(Arc::new(
                    crate::keys::KeySet::from_jwks(&json).with_context(|| format!("JWKS file {}", path.display()))?,
                ))
            }
            (None, Some(url), _) => Keys::Remote(RemoteKeys::new(KeyLocation::Jwks(url.clone()))?),
            (None, None, Some(issuer)) => {
                Keys::Remote(RemoteKeys::new(KeyLocation::Discovery { issuer: issuer.clone() })?)
            }
        };
        let issuer = auth.jwt_issuer.clone().or_else(|| auth.oidc_issuer.clone()).context(
            "the identity provider's issuer is needed: give --jwt-issuer (or --oidc-issuer) with --jwks-file / --jwks-url",
        )?;
        let audience = auth.jwt_audience.clone().context(
            "the audience gridloop's tokens carry is needed: give --jwt-audience (the client id the identity provider issues them for)",
        )?;
        let claims = ClaimMapping {
            subject: auth.jwt_subject_claim.clone(),
            role: auth.jwt_role_claim.clone(),
            area: auth.jwt_area_claim.clone(),
            department: auth.jwt_department_claim.clone(),
            role_map: auth.jwt_role_map.iter().cloned().collect(),
        };
        Ok(Some(Issuer { issuer, audience, keys, claims }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwks_file(dir: &Path) -> PathBuf {
        let (key, _) = SigningKey::create_or_load(&dir.join("idp")).unwrap();
        let path = dir.join("jwks.json");
        std::fs::write(&path, key.jwks_json()).unwrap();
        path
    }

    #[tokio::test]
    async fn an_identity_provider_needs_its_issuer_and_audience_and_then_no_local_key_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut args = SecurityArgs::default();
        args.auth.jwks_file = Some(jwks_file(dir.path()));
        let data = dir.path().join("data");
        let error = args.prepare(&data, listen, 1024).await.err().expect("no issuer").to_string();
        assert!(error.contains("--jwt-issuer"), "{error}");
        args.auth.jwt_issuer = Some("https://sso.city.example/realms/city".into());
        let error = args.prepare(&data, listen, 1024).await.err().expect("no audience").to_string();
        assert!(error.contains("--jwt-audience"), "{error}");
        args.auth.jwt_audience = Some("gridloop".into());
        let security = args.prepare(&data, listen, 1024).await.unwrap();
        assert!(security.signing_key.is_none() && !data.join("auth").exists(), "no local key with a provider");

        let security = SecurityArgs::default().prepare(&data, listen, 1024).await.unwrap();
        assert!(security.signing_key.is_some(), "without a provider the installation's key is made");
    }

    #[tokio::test]
    async fn tls_files_that_cannot_be_read_stop_the_start_with_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut args = SecurityArgs::default();
        args.tls.tls_cert = Some(dir.path().join("missing.crt"));
        args.tls.tls_key = Some(dir.path().join("missing.key"));
        let error = format!("{:#}", args.prepare(dir.path(), listen, 1024).await.err().expect("no such files"));
        assert!(error.contains("missing.crt"), "{error}");
    }
}
