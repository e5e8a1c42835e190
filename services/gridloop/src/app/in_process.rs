//! The services' gRPC API called from inside the process that serves it.
//!
//! A TCP connection is served the edge stack — telemetry, then the auth layer (token, policy
//! table, limits, request inspection), then the services' routes. [`InProcessChannel`] is that
//! same stack as one tower service: a tonic client built on it sends the same encoded request
//! through the same layers to the same handlers, without HTTP/2 framing, sockets, or the
//! connection tasks a call would otherwise hop through. What only a connection has (TLS, its
//! maximum age, the server's request deadline) does not apply to a caller in the same process.

use std::task::{Context, Poll};
use tonic::body::Body;
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Stack = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, BoxError>;

/// A channel into this process's gRPC services; tonic clients take it where they take a
/// `Channel` (wrap it in `InterceptedService` with a `BearerToken` to authenticate).
#[derive(Clone)]
pub struct InProcessChannel(Stack);

impl InProcessChannel {
    /// `edge` is the layered service a connection would be served with.
    pub(crate) fn new<S>(edge: S) -> InProcessChannel
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        InProcessChannel(BoxCloneSyncService::new(edge.map_err(Into::into)))
    }
}

impl tower::Service<http::Request<Body>> for InProcessChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = <Stack as tower::Service<http::Request<Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        self.0.call(request)
    }
}
