//! The HTTP routes, one module per group: health, discovery, services, posting a request,
//! a token's request, reading requests and their updates.

pub mod discovery;
pub mod health;
pub mod read_requests;
pub mod report;
pub mod services;
pub mod tokens;
pub mod updates;

use crate::backend::Backend;
use crate::client_limits::{self, ClientLimits};
use crate::error::ApiError;
use crate::format::Format;
use crate::reference::ReferenceCache;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

/// What every handler reaches: the services, and the reference data read from them.
#[derive(Clone)]
pub struct AppState {
    pub backend: Backend,
    pub reference: ReferenceCache,
    /// Where a posted `api_key`'s role is.
    pub key_claims: std::sync::Arc<crate::key_claims::KeyClaims>,
    /// The city's time zone: a date without a time (`start_date=2026-12-01`) is its local day.
    pub zone: gridloop_domain::clock::Tz,
    /// Cancelled when the server stops: endless responses (the dashboard's live feed) end then,
    /// or the graceful shutdown would wait for them forever.
    pub stopping: tokio_util::sync::CancellationToken,
}

/// The base of the GeoReport v2 paths.
pub const BASE: &str = "/open311/v2";

/// The routes, each client held to its share by `limits`.
pub fn router(state: AppState, limits: ClientLimits) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/openapi.json", get(crate::openapi::serve))
        .route(&format!("{BASE}/services/{{file}}"), get(services::definition))
        .route(&format!("{BASE}/requests/{{file}}"), get(read_requests::one))
        .route(&format!("{BASE}/tokens/{{file}}"), get(tokens::one));
    for suffix in ["json", "xml"] {
        router = router
            .route(&format!("{BASE}/discovery.{suffix}"), get(discovery::discovery))
            .route(&format!("{BASE}/services.{suffix}"), get(services::list))
            .route(
                &format!("{BASE}/requests.{suffix}"),
                get(read_requests::list).post(report::post).layer(DefaultBodyLimit::max(report::MAX_FORM_BYTES)),
            )
            .route(&format!("{BASE}/servicerequestupdates.{suffix}"), get(updates::list));
    }
    // The per-client limit guards the public Open311 reads; the dashboard's and the residents'
    // pages' calls carry the caller's own token and meet that principal's limits at the gRPC edge instead.
    let open311 = router.layer(axum::middleware::from_fn_with_state(std::sync::Arc::new(limits), client_limits::limit));
    open311.merge(crate::dashboard::router()).merge(crate::residents::router()).fallback(not_found).with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    let last = uri.path().rsplit('/').next().unwrap_or_default();
    let format = Format::split(last).map_or(Format::Json, |(_, format)| format);
    format.error(&ApiError::NotFound(format!("no such resource: {}", uri.path())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{BackendArgs, ServiceCredentials};
    use crate::client_limits::ClientLimitArgs;
    use axum::extract::ConnectInfo;
    use axum::http::{Request, StatusCode};
    use std::net::SocketAddr;
    use tower::ServiceExt as _;

    async fn get(router: &Router, path: &str, from: &str) -> axum::response::Response {
        let mut request = Request::get(path).body(axum::body::Body::empty()).unwrap();
        request.extensions_mut().insert(ConnectInfo(from.parse::<SocketAddr>().unwrap()));
        router.clone().oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn a_client_over_its_share_gets_429_and_others_and_probes_do_not() {
        // No service answers on port 1: the routes used here never call one.
        let backend =
            Backend::connect(&BackendArgs::single("http://127.0.0.1:1"), ServiceCredentials::Token("t".into()));
        let state = AppState {
            backend: backend.unwrap(),
            reference: ReferenceCache::default(),
            key_claims: Default::default(),
            zone: gridloop_domain::clock::DEFAULT_ZONE,
            stopping: Default::default(),
        };
        let limits = ClientLimitArgs { http_rate_limit: 1, http_rate_limit_burst: 2, http_trust_forwarded_for: false };
        let router = router(state, ClientLimits::new(&limits));
        let (busy, quiet) = ("192.0.2.1:40000", "192.0.2.2:40000");
        for _ in 0..2 {
            assert_eq!(get(&router, "/openapi.json", busy).await.status(), StatusCode::OK);
        }
        let refused = get(&router, &format!("{BASE}/discovery.xml"), busy).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers().contains_key("retry-after"));
        let body = axum::body::to_bytes(refused.into_body(), 1 << 16).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("<code>429</code>"), "a GeoReport error in XML");
        assert_eq!(get(&router, "/healthz", busy).await.status(), StatusCode::OK, "probes are never limited");
        assert_eq!(get(&router, "/openapi.json", quiet).await.status(), StatusCode::OK, "another client has its share");
    }
}
