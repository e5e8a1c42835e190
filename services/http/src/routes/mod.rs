//! The HTTP routes, one module per group: health, discovery, services, posting a request,
//! reading requests and their updates.

pub mod discovery;
pub mod health;
pub mod read_requests;
pub mod report;
pub mod services;
pub mod updates;

use crate::backend::Backend;
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
}

/// The base of the GeoReport v2 paths.
pub const BASE: &str = "/open311/v2";

pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/openapi.json", get(crate::openapi::serve))
        .route(&format!("{BASE}/services/{{file}}"), get(services::definition))
        .route(&format!("{BASE}/requests/{{file}}"), get(read_requests::one));
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
    router.fallback(not_found).with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    let last = uri.path().rsplit('/').next().unwrap_or_default();
    let format = Format::split(last).map_or(Format::Json, |(_, format)| format);
    format.error(&ApiError::NotFound(format!("no such resource: {}", uri.path())))
}
