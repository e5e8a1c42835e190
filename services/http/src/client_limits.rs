//! Each client's share of the HTTP server. Every public read goes to the services under the
//! server's one service principal, so the gRPC edge cannot tell one reader from another (its
//! per-principal limit would cap all readers together): the requests are limited here, per
//! client address, with `governor`'s GCRA keyed by IP. Health probes are never limited.

use crate::error::ApiError;
use crate::format::Format;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How often (in checks) addresses that have been quiet are forgotten, so memory stays bounded
/// by the active clients.
const FORGET_EVERY: u64 = 4096;

/// The flags of the per-client limit.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientLimitArgs {
    /// HTTP requests per second each client address may make (0: no limit). A `GET requests`
    /// page reads up to 200 cases from the services: the limit is per request, not per case.
    #[arg(long, env = "GRIDLOOP_HTTP_RATE_LIMIT", default_value_t = 10)]
    pub http_rate_limit: u32,
    /// Requests a client may send at once beyond that rate.
    #[arg(long, env = "GRIDLOOP_HTTP_RATE_LIMIT_BURST", default_value_t = 20)]
    pub http_rate_limit_burst: u32,
    /// Take the client's address from the last `X-Forwarded-For` entry (the one the proxy in
    /// front added): only behind an ingress, which every request passes — anyone else could
    /// name any address there.
    #[arg(long, env = "GRIDLOOP_HTTP_TRUST_FORWARDED_FOR")]
    pub http_trust_forwarded_for: bool,
}

impl Default for ClientLimitArgs {
    fn default() -> Self {
        Self { http_rate_limit: 10, http_rate_limit_burst: 20, http_trust_forwarded_for: false }
    }
}

/// The per-client rate limiter.
pub struct ClientLimits {
    rate: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_second: u32,
    burst: u32,
    trust_forwarded_for: bool,
    checks: AtomicU64,
}

impl ClientLimits {
    pub fn new(args: &ClientLimitArgs) -> ClientLimits {
        let burst = args.http_rate_limit_burst.max(args.http_rate_limit);
        let rate = NonZeroU32::new(args.http_rate_limit).map(|per_second| {
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(NonZeroU32::new(burst).unwrap_or(per_second)))
        });
        ClientLimits {
            rate,
            per_second: args.http_rate_limit,
            burst,
            trust_forwarded_for: args.http_trust_forwarded_for,
            checks: AtomicU64::new(0),
        }
    }

    /// The address a request is counted against.
    pub fn client(&self, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
        if !self.trust_forwarded_for {
            return peer;
        }
        let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).next_back();
        forwarded.and_then(|v| v.rsplit(',').next()).and_then(|ip| ip.trim().parse().ok()).unwrap_or(peer)
    }

    /// Admit one request of `client`, or say how many whole seconds to wait.
    pub fn admit(&self, client: IpAddr) -> Result<(), u64> {
        let Some(rate) = &self.rate else { return Ok(()) };
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            rate.retain_recent();
        }
        rate.check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()).as_secs() + 1)
    }
}

/// The middleware: a client over its share gets 429 with `Retry-After`, as a GeoReport error
/// in the format the path asks for.
pub async fn limit(
    State(limits): State<Arc<ClientLimits>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(request).await;
    }
    let client = limits.client(request.headers(), peer.ip());
    match limits.admit(client) {
        Ok(()) => next.run(request).await,
        Err(retry_after) => {
            let format = Format::split(path.rsplit('/').next().unwrap_or_default()).map_or(Format::Json, |(_, f)| f);
            let error = ApiError::TooManyRequests(format!(
                "more than {} requests per second (bursts of {}) from {client}; retry in {retry_after} s",
                limits.per_second, limits.burst
            ));
            let mut response = format.error(&error);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(http_trust_forwarded_for: bool) -> ClientLimits {
        ClientLimits::new(&ClientLimitArgs { http_rate_limit: 1, http_rate_limit_burst: 2, http_trust_forwarded_for })
    }

    #[test]
    fn each_address_has_its_own_share() {
        let limits = limits(false);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert_eq!((limits.admit(a), limits.admit(a)), (Ok(()), Ok(())));
        assert!(limits.admit(a).unwrap_err() >= 1, "the third within a second waits");
        assert_eq!(limits.admit(b), Ok(()), "another client is not held back");
    }

    #[test]
    fn forwarded_for_is_read_only_when_trusted_and_then_its_last_entry() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.7, 203.0.113.9"));
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(limits(false).client(&headers, peer), peer);
        assert_eq!(limits(true).client(&headers, peer), "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(limits(true).client(&HeaderMap::new(), peer), peer);
    }
}
