//! Who is calling and what they may do, at gridloop's gRPC edge.
//!
//! - [`verifier`]: bearer JWTs against trusted issuers — the installation's own key ([`local`])
//!   and an identity provider's JWKS (a file, or a URL / OIDC discovery kept fresh: [`remote`]);
//!   claims mapped onto a [`Principal`] ([`claims`]).
//! - [`layer`]: one tower layer that authenticates (token or client certificate, [`tls`]),
//!   applies the policy table to the RPC, the per-principal [`limits`] and the request bounds
//!   ([`inspect`]), and hands the principal to the handlers ([`principal`]).
//! - [`api_keys`]: integrators' long-lived keys, stored hashed, looked up in the store the
//!   process attaches.
//! - [`audit`]: the audit log of refusals and disclosures.
//! - [`args`]: the flags, and what they build for a server.

pub mod api_keys;
pub mod args;
pub mod audit;
pub mod claims;
pub mod client;
pub mod inspect;
pub mod keys;
pub mod layer;
pub mod limits;
pub mod local;
pub mod remote;
pub mod tls;
pub mod verifier;

pub use args::{AuthArgs, EdgeSecurity, LimitArgs, SecurityArgs, TlsArgs};
pub use audit::Audit;
pub use client::{AuthChannel, BearerToken};
pub use gridloop_domain::access::Principal;
pub use layer::ReflectionMode;
pub use local::SigningKey;

/// The principal the auth layer put on this request. Every RPC of the API passes the layer, so
/// a request without one never came through it: refused, never served anonymously.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<&Principal, tonic::Status> {
    request
        .extensions()
        .get::<Principal>()
        .ok_or_else(|| tonic::Status::unauthenticated("no authenticated principal on this request"))
}

/// rustls' process-wide crypto provider: ring, the one every TLS user in gridloop is built with
/// (tonic, async-nats, the JWKS client). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
