//! `GET discovery`: where this GeoReport v2 endpoint is and what it speaks.

use crate::format::Format;
use crate::open311::{Discovery, Endpoint, SPECIFICATION};
use axum::http::{header, HeaderMap};
use axum::response::Response;

/// When this API last changed (GeoReport's `changeset`).
pub const CHANGESET: &str = "2026-12-05T00:00:00Z";

/// The endpoint's own description, at the address the client reached it by.
#[utoipa::path(
    get, path = "/open311/v2/discovery.{format}", tag = "open311", operation_id = "get_discovery",
    params(("format" = String, Path, description = "json or xml")),
    responses((status = 200, description = "the endpoint, its formats and how to get a key", body = Discovery))
)]
pub async fn discovery(format: Format, headers: HeaderMap) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    let discovery = Discovery {
        changeset: CHANGESET.into(),
        contact: "the operator of this gridloop installation".into(),
        key_service: "api_key: a bearer token of a hotline or platform principal, from the city's identity \
                      provider or `gridloop token issue --role platform`"
            .into(),
        endpoints: vec![Endpoint {
            specification: SPECIFICATION.into(),
            url: format!("{scheme}://{host}{}", super::BASE),
            changeset: CHANGESET.into(),
            kind: "production".into(),
            formats: vec!["text/xml".into(), "application/json".into()],
        }],
    };
    format.document(&discovery, "discovery", &discovery.xml())
}
