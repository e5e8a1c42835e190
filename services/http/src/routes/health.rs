//! Probes: `/healthz` answers while the process serves HTTP; `/readyz` once the services answer
//! the server's own token.

use super::AppState;
use crate::error::{ApiError, Caller};
use axum::extract::State;
use axum::http::StatusCode;
use gridloop_proto::v1 as pb;

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "healthz", responses((status = 200, description = "serving HTTP", body = String)))]
pub async fn live() -> &'static str {
    "ok"
}

/// Readiness: the catalog can be read with the server's service token.
#[utoipa::path(
    get, path = "/readyz", tag = "health", operation_id = "readyz",
    responses(
        (status = 200, description = "the services answer", body = String),
        (status = 503, description = "the services do not answer, or refuse the service token", body = String),
    )
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    let request = match state.backend.as_service(pb::GetCatalogRequest {}) {
        Ok(request) => request,
        Err(error) => return (StatusCode::SERVICE_UNAVAILABLE, format!("no service token: {error}")),
    };
    match state.backend.intake().get_catalog(request).await {
        Ok(_) => (StatusCode::OK, "ready".into()),
        Err(status) => {
            let reason = match ApiError::from_status(&status, Caller::Service) {
                ApiError::Internal => format!("{:?}: {}", status.code(), status.message()),
                other => other.to_string(),
            };
            (StatusCode::SERVICE_UNAVAILABLE, reason)
        }
    }
}
