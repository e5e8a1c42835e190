//! Building and running the HTTP server: `build` binds and wires it (so a caller learns the
//! address, port 0 included), `run_until_stopped` serves until the token is cancelled.

use crate::backend::{Backend, BackendArgs, ServiceCredentials};
use crate::client_limits::ClientLimits;
use crate::key_claims::KeyClaims;
use crate::reference::ReferenceCache;
use crate::routes::{router, AppState};
use anyhow::Context;
use gridloop_domain::clock::Tz;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub struct Application {
    addr: SocketAddr,
    listener: tokio::net::TcpListener,
    router: axum::Router,
    /// The routes' signal to end endless responses.
    stopping: CancellationToken,
}

impl Application {
    /// Bind `listen` and wire the routes to `backend`; posted keys' roles are read as `key_claims`
    /// says, each client is held to its share by `limits`, and a date without a time in a query
    /// is a local day in the city's `zone`.
    pub async fn build(
        listen: SocketAddr,
        backend: Backend,
        key_claims: KeyClaims,
        limits: ClientLimits,
        zone: Tz,
    ) -> anyhow::Result<Application> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen for HTTP on {listen}"))?;
        let addr = listener.local_addr()?;
        let stopping = CancellationToken::new();
        let state = AppState {
            backend,
            reference: ReferenceCache::default(),
            key_claims: Arc::new(key_claims),
            zone,
            stopping: stopping.clone(),
        };
        let router = router(state, limits);
        Ok(Application { addr, listener, router, stopping })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until `stop` is cancelled, then end the live feeds and finish the requests in flight.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> std::io::Result<()> {
        // The peer's address is what each client's share is counted against.
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let stopping = self.stopping;
        let stopped = async move {
            stop.cancelled().await;
            stopping.cancel();
        };
        axum::serve(self.listener, service).with_graceful_shutdown(stopped).await
    }
}

/// The server as its own process (`gridloop serve http`): the services at `args`, its own
/// credentials from `args` or the signing key in `data_dir`.
pub async fn build_standalone(
    listen: SocketAddr,
    args: &BackendArgs,
    data_dir: &Path,
    key_claims: KeyClaims,
    limits: ClientLimits,
    zone: Tz,
) -> anyhow::Result<Application> {
    let credentials = ServiceCredentials::from_args(args, data_dir)?;
    Application::build(listen, Backend::connect(args, credentials)?, key_claims, limits, zone).await
}

/// Plaintext HTTP carries `api_key`s and residents' reports in the clear: only on a loopback
/// address, unless TLS is terminated in front (an ingress).
pub fn check_plaintext(listen: SocketAddr, allow_plaintext: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        allow_plaintext || listen.ip().is_loopback(),
        "refusing to serve plaintext HTTP on {listen}, which is not a loopback address: give \
         --http-allow-plaintext when TLS is terminated in front of gridloop (an ingress), or --http-listen off"
    );
    Ok(())
}
