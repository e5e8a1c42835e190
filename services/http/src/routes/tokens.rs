//! `GET tokens/{token}`: the request a token from `POST requests` stands for. A POST answers
//! with a token instead of an id when dispatch had not opened the case within its wait; the
//! token is the id the case will have, so once dispatch has the case the answer carries it.

use super::AppState;
use crate::error::{ApiError, Caller};
use crate::format::Format;
use crate::open311::TokenRequest;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use gridloop_proto::v1 as pb;
use serde::Deserialize;
use uuid::Uuid;

/// How long after its POST a token whose case dispatch does not have yet is answered as
/// pending. Past it, the case is there (the hand-off takes seconds even behind a backlog of
/// minutes) or the token was never issued.
const PENDING_FOR: chrono::Duration = chrono::Duration::minutes(10);

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// A district code; required only when the server holds more than one district.
    pub jurisdiction_id: Option<String>,
}

/// The request id of a token.
#[utoipa::path(
    get, path = "/open311/v2/tokens/{token}.{format}", tag = "open311", operation_id = "get_service_request_id",
    params(
        ("token" = String, Path, description = "the token POST requests answered with"),
        ("format" = String, Path, description = "json or xml"),
        TokenQuery,
    ),
    responses(
        (status = 200, description = "the request's id; without it while the request is not yet open", body = [TokenRequest]),
        (status = 404, description = "no request for this token", body = [crate::open311::SpecError]),
    )
)]
pub async fn one(
    format: Format,
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let result = async {
        let token = Format::split(&file).map_or(file.as_str(), |(token, _)| token);
        let reference = state.reference.get(&state.backend).await?;
        reference.check_jurisdiction(query.jurisdiction_id.as_deref())?;
        let answer = request_of(&state, token, Utc::now()).await?;
        Ok(format.list("service_requests", "request", &[answer]))
    };
    format.respond(result.await)
}

async fn request_of(state: &AppState, token: &str, now: DateTime<Utc>) -> Result<TokenRequest, ApiError> {
    let unknown = || ApiError::NotFound(format!("no request for token {token:?}"));
    let id = Uuid::parse_str(token).map_err(|_| unknown())?;
    let read = pb::GetCaseRequest { case_id: id.to_string(), min_version: 0 };
    let request = state.backend.as_service(read).map_err(ApiError::internal)?;
    match state.backend.dispatch().get_case(request).await {
        Ok(_) => Ok(TokenRequest { service_request_id: Some(id.to_string()), token: token.to_string() }),
        Err(status) if status.code() == tonic::Code::NotFound && is_pending(id, now) => {
            Ok(TokenRequest { service_request_id: None, token: token.to_string() })
        }
        Err(status) if status.code() == tonic::Code::NotFound => Err(unknown()),
        Err(status) => Err(ApiError::from_status(&status, Caller::Service)),
    }
}

/// Whether a token not yet known to dispatch may still become a request: case ids are UUIDv7,
/// which carry the time intake made them.
fn is_pending(id: Uuid, now: DateTime<Utc>) -> bool {
    let Some(made) = id.get_timestamp() else { return false };
    let (seconds, nanos) = made.to_unix();
    let Some(made) = DateTime::<Utc>::from_timestamp(seconds as i64, nanos) else { return false };
    made <= now + chrono::Duration::seconds(5) && now - made <= PENDING_FOR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_recent_time_ordered_id_is_pending() {
        let now = Utc::now();
        assert!(is_pending(Uuid::now_v7(), now), "made just now");
        assert!(!is_pending(Uuid::now_v7(), now + PENDING_FOR + chrono::Duration::seconds(1)), "too old");
        assert!(!is_pending(Uuid::now_v7(), now - chrono::Duration::minutes(1)), "made in the future");
        assert!(
            !is_pending(Uuid::parse_str("2f1c6a4e-8b3d-4c1a-9e7f-0a1b2c3d4e5f").unwrap(), now),
            "a random id carries no time"
        );
    }
}
