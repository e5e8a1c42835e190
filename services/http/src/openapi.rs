//! The OpenAPI description of everything the HTTP server serves, generated from the handlers and
//! the documents' types, at `/openapi.json`: integrators generate their clients from it.

use crate::open311::{
    Attribute, AttributeValue, Discovery, Endpoint, RequestCreated, RequestUpdate, Service, ServiceDefinition,
    ServiceRequest, SpecError, TokenRequest,
};
use crate::routes::{discovery, health, read_requests, report, services, tokens, updates};
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gridloop HTTP API",
        description = "Open311 GeoReport v2 (JSON and XML: the path's suffix chooses) over gridloop's case routing, \
                       and the server's health probes. Errors are GeoReport's array of {code, description}."
    ),
    paths(
        health::live,
        health::ready,
        discovery::discovery,
        services::list,
        services::definition,
        report::post,
        tokens::one,
        read_requests::one,
        read_requests::list,
        updates::list,
    ),
    components(schemas(
        SpecError, Discovery, Endpoint, Service, ServiceDefinition, Attribute, AttributeValue, RequestCreated,
        ServiceRequest, RequestUpdate, TokenRequest, report::NewRequest,
    )),
    tags((name = "open311", description = "GeoReport v2"), (name = "health", description = "probes"))
)]
pub struct ApiDoc;

/// The document as JSON.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serializes")
}

/// `GET /openapi.json`.
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, crate::format::JSON_TYPE)], document())
}
