//! The dashboard's errors: a JSON body `{"error": <kind>, "message": <why>}` with the matching
//! HTTP status; the services' gRPC statuses are translated here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tonic::Code;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DashError {
    /// No token, or one the services do not accept (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The token's principal may not read this area or case (403).
    #[error("{0}")]
    Forbidden(String),
    /// A parameter is missing or invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// No such case or area (404).
    #[error("{0}")]
    NotFound(String),
    /// The services cannot be reached or did not answer in time (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged in full, answered without detail (500).
    #[error("internal error")]
    Internal,
}

impl DashError {
    fn status(&self) -> StatusCode {
        match self {
            DashError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            DashError::Forbidden(_) => StatusCode::FORBIDDEN,
            DashError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DashError::NotFound(_) => StatusCode::NOT_FOUND,
            DashError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            DashError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            DashError::Unauthenticated(_) => "unauthenticated",
            DashError::Forbidden(_) => "forbidden",
            DashError::BadRequest(_) => "bad_request",
            DashError::NotFound(_) => "not_found",
            DashError::Unavailable(_) => "unavailable",
            DashError::Internal => "internal",
        }
    }

    /// A failed gRPC call made under the caller's token.
    pub fn from_status(status: &tonic::Status) -> DashError {
        let message = status.message().to_string();
        match status.code() {
            Code::Unauthenticated => DashError::Unauthenticated(message),
            Code::PermissionDenied => DashError::Forbidden(message),
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => DashError::BadRequest(message),
            Code::NotFound => DashError::NotFound(message),
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => {
                tracing::warn!(code = ?status.code(), %message, "a service did not answer the dashboard");
                DashError::Unavailable("the case services are not available; retry later".into())
            }
            _ => {
                tracing::error!(code = ?status.code(), %message, "dashboard query failed");
                DashError::Internal
            }
        }
    }
}

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.kind(), "message": self.to_string() });
        (self.status(), axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_by_the_services_is_the_callers_403_and_a_bad_token_its_401() {
        let outside = tonic::Status::permission_denied("321012002 lies outside the caller's area");
        let response = DashError::from_status(&outside).into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let expired = tonic::Status::unauthenticated("token expired");
        assert_eq!(DashError::from_status(&expired).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(DashError::from_status(&tonic::Status::internal("boom")), DashError::Internal);
    }
}
