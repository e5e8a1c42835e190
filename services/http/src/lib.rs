//! gridloop over HTTP: Open311 GeoReport v2 under `/open311/v2/` (JSON and XML), health probes
//! and the OpenAPI description at `/openapi.json`, the command-centre dashboard at `/dashboard`
//! and the residents' pages (云议事) at `/residents`.
//!
//! The server holds no state of its own: every answer comes from the services over gRPC, with
//! the same clients the CLI uses — so it runs inside `gridloop up` and as its own process
//! (`gridloop serve http`) identically. Public reads go out under the server's own read-only
//! service token; a report goes out under the caller's `api_key`, which the gRPC edge verifies.

pub mod backend;
pub mod client_limits;
pub mod dashboard;
mod embedded;
pub mod error;
pub mod format;
pub mod key_claims;
pub mod open311;
pub mod openapi;
pub mod reference;
pub mod residents;
pub mod routes;
pub mod startup;
pub mod words;

pub use backend::{Backend, BackendArgs, ServiceCredentials};
pub use client_limits::{ClientLimitArgs, ClientLimits};
pub use key_claims::KeyClaims;
pub use startup::Application;
