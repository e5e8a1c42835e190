//! The one tower layer in front of every gRPC server: who is calling (bearer token, API key or
//! client certificate), may that role call this RPC at all (the policy table), is the caller within
//! its limits, and does the request stay within the bounds — then the [`Principal`] goes into
//! the request's extensions for the handlers (see [`crate::principal`]).
//!
//! Health (`grpc.health.v1.Health`) is open; reflection is off, open or for authenticated
//! callers (`--reflection`).

use crate::api_keys::{is_api_key, ApiKeyCheck};
use crate::audit::{Audit, Subject};
use crate::inspect::{Inspection, RequestInspector};
use crate::limits::EdgeLimits;
use crate::tls::CertificatePrincipals;
use crate::verifier::{TokenError, Verifier};
use bytes::Bytes;
use futures::future::BoxFuture;
use gridloop_domain::access::{rpc_scope, Principal, Rpc};
use http_body_util::{BodyExt, Full, Limited};
use rustls::pki_types::CertificateDer;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";
const REFLECTION_PREFIX: &str = "/grpc.reflection.";

/// Who may use server reflection (`grpcurl list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReflectionMode {
    /// Not served.
    Off,
    /// Served to anyone who reaches the port.
    Open,
    /// Served to callers with a valid token or client certificate.
    Authenticated,
}

/// Everything the layer decides with.
pub struct Gate {
    pub verifier: Verifier,
    /// Integrators' API keys (bearer tokens that are no JWT).
    pub api_keys: Arc<ApiKeyCheck>,
    pub certificates: Option<CertificatePrincipals>,
    pub reflection: ReflectionMode,
    pub limits: EdgeLimits,
    pub requests: RequestInspector,
    /// The largest request body read for inspection (the gRPC message size limit, plus framing).
    pub max_request_bytes: usize,
    pub audit: Audit,
}

/// The layer; clone it into `Server::builder().layer(…)`.
#[derive(Clone)]
pub struct AuthLayer {
    gate: Arc<Gate>,
}

impl AuthLayer {
    pub fn new(gate: Gate) -> AuthLayer {
        AuthLayer { gate: Arc::new(gate) }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService { inner, gate: self.gate.clone() }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    gate: Arc<Gate>,
}

impl<S, ResBody> tower::Service<http::Request<Body>> for AuthService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The clone that was made ready is the one to call (tower's contract).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        Box::pin(async move {
            let path = request.uri().path();
            let open = path.starts_with(HEALTH_PREFIX)
                || (path.starts_with(REFLECTION_PREFIX) && gate.reflection != ReflectionMode::Authenticated);
            if open {
                return inner.call(request).await;
            }
            match gate.admit(request).await {
                Ok((request, in_flight)) => {
                    let response = inner.call(request).await;
                    drop(in_flight);
                    response
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

impl Gate {
    /// Authenticate, check the policy, the limits and the request; the request to pass on (with
    /// the principal in its extensions), or the status to answer with.
    async fn admit(
        &self,
        request: http::Request<Body>,
    ) -> Result<(http::Request<Body>, Option<crate::limits::InFlight>), Status> {
        let path = request.uri().path().to_string();
        let rpc = Rpc::from_path(&path);
        // Audit records and metrics name an RPC of the API by its method, anything else by path.
        let called = Subject { rpc: rpc.map_or(path.as_str(), |rpc| rpc.method()), ..Subject::default() };
        let principal = match self.authenticate(Credentials::of(&request)).await {
            Ok(principal) => principal,
            Err(error) => {
                self.audit.unauthenticated(&called, error.reason(), &error.to_string());
                return Err(Status::unauthenticated(error.to_string()));
            }
        };
        let in_flight = self.limits.admit(&principal.subject).map_err(|exceeded| {
            self.audit.denied(&principal, &called, exceeded.reason(), &exceeded.to_string());
            Status::resource_exhausted(format!("{}: {exceeded}", principal.subject))
        })?;
        let (mut parts, body) = request.into_parts();
        let Some(rpc) = rpc else {
            // Reflection, or a path the router will answer UNIMPLEMENTED: no policy row, and a
            // stream that must not be read to its end here.
            parts.extensions.insert(principal);
            return Ok((http::Request::from_parts(parts, body), in_flight));
        };
        let bytes = self.read_body(body).await?;
        let Inspection { case_id, mediation_id, violations, rewritten } =
            self.requests.inspect(&path, &bytes).unwrap_or_default();
        if let Err(denied) = rpc_scope(principal.role, rpc) {
            let about = Subject { case_id: case_id.as_deref(), mediation_id: mediation_id.as_deref(), ..called };
            self.audit.denied(&principal, &about, denied.reason(), &denied.to_string());
            return Err(Status::permission_denied(denied.to_string()));
        }
        if !violations.is_empty() {
            return Err(invalid_argument(violations));
        }
        parts.extensions.insert(principal);
        let body = Body::new(Full::new(rewritten.unwrap_or(bytes)));
        Ok((http::Request::from_parts(parts, body), in_flight))
    }

    /// The bearer token's principal; without a token, the mapped client certificate's.
    async fn authenticate(&self, credentials: Credentials) -> Result<Principal, TokenError> {
        if let Some(token) = credentials.token? {
            if is_api_key(&token) {
                return Ok(self.api_keys.verify(&token).await?);
            }
            return self.verifier.verify(&token).await;
        }
        let mapped = self
            .certificates
            .as_ref()
            .zip(credentials.certificates)
            .and_then(|(certificates, chain)| certificates.principal(&chain));
        mapped.ok_or(TokenError::Missing)
    }

    async fn read_body(&self, body: Body) -> Result<Bytes, Status> {
        match Limited::new(body, self.max_request_bytes).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                Err(Status::resource_exhausted(format!("the request is larger than {} bytes", self.max_request_bytes)))
            }
            Err(error) => Err(Status::new(Code::Cancelled, format!("reading the request failed: {error}"))),
        }
    }
}

/// What a request presents to prove who sent it.
struct Credentials {
    /// `authorization: Bearer <token>`; `Ok(None)` without the header.
    token: Result<Option<String>, TokenError>,
    /// The client certificate chain the TLS handshake verified.
    certificates: Option<Arc<Vec<CertificateDer<'static>>>>,
}

impl Credentials {
    fn of(request: &http::Request<Body>) -> Credentials {
        let token = match request.headers().get(http::header::AUTHORIZATION) {
            None => Ok(None),
            Some(value) => match value.to_str().ok().and_then(|v| v.split_once(' ')) {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
                    Ok(Some(token.trim().to_string()))
                }
                _ => Err(TokenError::Malformed("the authorization header is not `Bearer <token>`".into())),
            },
        };
        let certificates =
            request.extensions().get::<TlsConnectInfo<TcpConnectInfo>>().and_then(TlsConnectInfo::peer_certs);
        Credentials { token, certificates }
    }
}

fn invalid_argument(violations: Vec<(String, String)>) -> Status {
    let mut details = ErrorDetails::new();
    for (field, description) in &violations {
        details.add_bad_request_violation(field.clone(), description.clone());
    }
    let summary: Vec<String> =
        violations.iter().map(|(field, description)| format!("{field}: {description}")).collect();
    Status::with_error_details(Code::InvalidArgument, summary.join("; "), details)
}
