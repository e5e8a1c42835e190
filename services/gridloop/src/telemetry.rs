//! Logs, traces and metrics of a running service.
//!
//! - Logs: `tracing` to stderr, filtered by `RUST_LOG` (default `info,sqlx=warn`).
//! - Traces: exported over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the exporter
//!   reads the standard `OTEL_*` variables), off otherwise. Event handling joins the case's
//!   trace (see `gridloop_bus::trace`); a gRPC request joins the caller's `traceparent`.
//! - Metrics: Prometheus text format on `--metrics-listen` (`GET /metrics`).

use anyhow::Context as _;
use futures::future::BoxFuture;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Flushes buffered spans when dropped (at the end of `up`/`serve`).
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("warning: flushing traces failed: {error}");
            }
        }
    }
}

/// Install the log subscriber, with an OTLP trace exporter when `OTEL_EXPORTER_OTLP_ENDPOINT`
/// is set. `service` names the process in the traces (`OTEL_SERVICE_NAME` overrides it).
pub fn init(service: &str) -> anyhow::Result<Telemetry> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let provider = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()
                .with_context(|| format!("cannot set up the OTLP exporter for {endpoint}"))?;
            let name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_string());
            let resource = opentelemetry_sdk::Resource::builder().with_service_name(name).build();
            Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
        }
        _ => None,
    };
    let traces =
        provider.as_ref().map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("gridloop")));
    tracing_subscriber::registry().with(filter).with(logs).with(traces).try_init().context("logging already set up")?;
    Ok(Telemetry { provider })
}

/// Serve Prometheus metrics on `addr`. One recorder per process: a second call (several
/// services started in one test process) keeps the first.
pub fn serve_metrics(addr: SocketAddr) -> anyhow::Result<()> {
    match metrics_exporter_prometheus::PrometheusBuilder::new().with_http_listener(addr).install() {
        Ok(()) => Ok(()),
        Err(metrics_exporter_prometheus::BuildError::FailedToSetGlobalRecorder(_)) => {
            tracing::warn!(%addr, "metrics are already served by this process");
            Ok(())
        }
        Err(error) => Err(error).with_context(|| format!("cannot serve metrics on {addr}")),
    }
}

/// Counts and times every gRPC request (`gridloop_grpc_requests_total{method, code}`,
/// `gridloop_grpc_request_seconds{method}`) and runs it in a span that joins the caller's trace.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcLayer;

impl<S> tower::Layer<S> for GrpcLayer {
    type Service = GrpcTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcTelemetry { inner }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcTelemetry<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for GrpcTelemetry<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_string();
        let span = tracing::info_span!("grpc", rpc = %method);
        if let Some(traceparent) = request.headers().get("traceparent").and_then(|v| v.to_str().ok()) {
            gridloop_bus::trace::join_trace(&span, traceparent);
        }
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(
            async move {
                let response = response.await;
                if let Ok(response) = &response {
                    // Errors come as trailers-only responses (grpc-status in the headers);
                    // a success carries it in the trailers, after the body.
                    let code = response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i32>().ok())
                        .map_or(tonic::Code::Ok, tonic::Code::from_i32);
                    metrics::counter!("gridloop_grpc_requests_total", "method" => method.clone(), "code" => format!("{code:?}"))
                        .increment(1);
                    metrics::histogram!("gridloop_grpc_request_seconds", "method" => method)
                        .record(started.elapsed().as_secs_f64());
                }
                response
            }
            .instrument(span),
        )
    }
}
