//! Errors as GeoReport v2 defines them: an array of `{code, description}` with the matching
//! HTTP status. gRPC statuses from the services are translated here, at the edge.

use axum::http::StatusCode;
use tonic::Code;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or names something invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// The `api_key` is missing, invalid, or not a key that may report (403).
    #[error("{0}")]
    Forbidden(String),
    /// The request body is over the size the endpoint reads (413).
    #[error("{0}")]
    TooLarge(String),
    /// No such service, request or jurisdiction (404).
    #[error("{0}")]
    NotFound(String),
    /// This client sent more requests than its share (429).
    #[error("{0}")]
    TooManyRequests(String),
    /// The services cannot be reached or did not answer in time (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged in full, answered without detail (500).
    #[error("internal error")]
    Internal,
}

/// Whose credentials a failed call was made with: the caller's `api_key`, or the server's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Client,
    Service,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A failure the server itself is to blame for: logged, answered as 500.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "HTTP request failed");
        ApiError::Internal
    }

    /// A failed gRPC call. A refusal of the caller's key is the caller's 403; a refusal of the
    /// server's own token is a misconfiguration, not the caller's fault.
    pub fn from_status(status: &tonic::Status, caller: Caller) -> ApiError {
        let message = status.message().to_string();
        match (status.code(), caller) {
            (Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange, _) => {
                ApiError::BadRequest(describe_invalid(status))
            }
            (Code::NotFound, _) => ApiError::NotFound(message),
            (Code::Unauthenticated | Code::PermissionDenied, Caller::Client) => {
                ApiError::Forbidden(format!("api_key refused: {message}"))
            }
            (Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted, _) => {
                tracing::warn!(code = ?status.code(), %message, "a service did not answer");
                ApiError::Unavailable("the case services are not available; retry later".into())
            }
            _ => ApiError::internal(format!("gRPC {:?}: {message}", status.code())),
        }
    }
}

/// The message with each field violation the service attached (`location.lat: must be …`).
fn describe_invalid(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    let violations = status.get_details_bad_request().map(|b| b.field_violations).unwrap_or_default();
    if violations.is_empty() {
        return status.message().to_string();
    }
    violations.iter().map(|v| format!("{}: {}", open311_field(&v.field), v.description)).collect::<Vec<_>>().join("; ")
}

/// The Open311 name of a field of the report the services validated.
fn open311_field(field: &str) -> &str {
    match field {
        "category_code" => "service_code",
        "location.lat" => "lat",
        "location.lon" => "long",
        "location" => "lat/long",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn a_refused_key_is_403_for_the_caller_and_500_for_the_servers_own_token() {
        let denied = tonic::Status::permission_denied("role resident may not call ReportCase");
        assert_eq!(ApiError::from_status(&denied, Caller::Client).status(), StatusCode::FORBIDDEN);
        assert_eq!(ApiError::from_status(&denied, Caller::Service), ApiError::Internal);
    }

    #[test]
    fn field_violations_name_the_open311_fields() {
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation("location", "(1, 2) is outside every grid of this jurisdiction");
        details.add_bad_request_violation("category_code", "unknown category \"x\"");
        let status = tonic::Status::with_error_details(Code::InvalidArgument, "bad", details);
        let ApiError::BadRequest(text) = ApiError::from_status(&status, Caller::Client) else { panic!("not 400") };
        assert_eq!(
            text,
            "lat/long: (1, 2) is outside every grid of this jurisdiction; service_code: unknown category \"x\""
        );
    }
}
