//! Who is signed in: the bearer token the page sends with every call, passed on unchanged to the
//! services, which verify it and scope each answer to its principal.

use super::DashError;
use crate::backend::{with_bearer, Backend};
use crate::routes::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

/// A caller's token and the services to call with it.
pub struct Session {
    pub backend: Backend,
    token: String,
}

impl Session {
    /// `message` as a request carrying the caller's token.
    pub fn request<T>(&self, message: T) -> Result<tonic::Request<T>, DashError> {
        with_bearer(message, &self.token)
            .map_err(|_| DashError::Unauthenticated("the token contains characters a header cannot carry".into()))
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = DashError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| DashError::Unauthenticated("sign in: send the token as `Authorization: Bearer …`".into()))?;
        Ok(Session { backend: state.backend.clone(), token: token.to_string() })
    }
}

/// The signed-in principal: the services verify the token (a catalog read, which every role
/// may make), then its claims say whom the page starts with.
pub async fn me(State(state): State<AppState>, session: Session) -> Result<Json<Value>, DashError> {
    let request = session.request(pb::GetCatalogRequest {})?;
    session.backend.intake().get_catalog(request).await.map_err(|status| DashError::from_status(&status))?;
    let principal = state
        .key_claims
        .principal(&session.token)
        .ok_or_else(|| DashError::Unauthenticated("the token names no principal".into()))?;
    Ok(Json(json!({
        "subject": principal.subject,
        "role": principal.role.to_string(),
        "area": principal.area.as_ref().map(|area| area.as_str()),
    })))
}
