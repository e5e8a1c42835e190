//! `gridloop up`: all four services in one process. Each service keeps its own store (one SQLite
//! file per service under the data directory, or one Postgres schema per service), and they talk
//! through the in-process bus exactly as they would over JetStream: outbox → relay → idempotent
//! consumers.

use anyhow::Context;
use gridloop_bus::relay::run_relay;
use gridloop_bus::timers::run_timers;
use gridloop_bus::{Bus, Clock, DeliveryPolicy, InProcessBus, SystemClock};
use gridloop_dispatch::Dispatch;
use gridloop_domain::duplicates::DuplicatePolicy;
use gridloop_domain::jurisdiction::Jurisdiction;
use gridloop_domain::policy::CityPolicy;
use gridloop_evaluation::Evaluation;
use gridloop_eventstore::{EventStore, StoreOptions};
use gridloop_intake::Intake;
use gridloop_mediation::MediationSvc;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

/// Largest gRPC message accepted or sent (a case history with its payloads fits easily).
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Where the embedded stores live (one SQLite file per service).
    #[arg(long, env = "GRIDLOOP_DATA_DIR", default_value = "./gridloop-data")]
    pub data_dir: PathBuf,
    /// gRPC listen address for all four services, health and reflection.
    #[arg(long, env = "GRIDLOOP_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Use this Postgres database instead of SQLite (one schema per service).
    #[arg(long, env = "GRIDLOOP_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Prefix for the Postgres schemas (`<prefix>intake`, …), so several deployments can share a database.
    #[arg(long, env = "GRIDLOOP_SCHEMA_PREFIX", default_value = "")]
    pub schema_prefix: String,
    /// The city's jurisdiction tree and grid boundaries (TOML; see deploy/config/jurisdiction.toml).
    /// Unset: the shipped default city.
    #[arg(long, env = "GRIDLOOP_JURISDICTION")]
    pub jurisdiction: Option<PathBuf>,
    /// Duplicate detection: a report of the same category within this many metres of an open
    /// case is linked to it instead of opening a second case. 0 disables duplicate detection.
    #[arg(long, env = "GRIDLOOP_DUPLICATE_RADIUS_M", default_value_t = DuplicatePolicy::DEFAULT_RADIUS_M)]
    pub duplicate_radius_m: f64,
    /// Duplicate detection: only cases opened at most this many hours before the report count.
    #[arg(long, env = "GRIDLOOP_DUPLICATE_WINDOW_HOURS", default_value_t = DuplicatePolicy::DEFAULT_WINDOW_HOURS)]
    pub duplicate_window: i64,
}

impl UpArgs {
    /// Embedded defaults on `data_dir`, listening on `listen`.
    pub fn embedded(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen,
            database_url: None,
            schema_prefix: String::new(),
            jurisdiction: None,
            duplicate_radius_m: DuplicatePolicy::DEFAULT_RADIUS_M,
            duplicate_window: DuplicatePolicy::DEFAULT_WINDOW_HOURS,
        }
    }

    /// The duplicate policy the flags describe; a radius or window of 0 disables it.
    pub fn duplicate_policy(&self) -> anyhow::Result<DuplicatePolicy> {
        anyhow::ensure!(
            self.duplicate_radius_m.is_finite() && self.duplicate_radius_m >= 0.0,
            "--duplicate-radius-m must be a distance in metres, 0 or more (0 disables duplicate detection)"
        );
        anyhow::ensure!(self.duplicate_window >= 0, "--duplicate-window must be a number of hours, 0 or more");
        let window = chrono::Duration::try_hours(self.duplicate_window).context("--duplicate-window is too large")?;
        if self.duplicate_radius_m == 0.0 || self.duplicate_window == 0 {
            return Ok(DuplicatePolicy::disabled());
        }
        Ok(DuplicatePolicy { radius_m: self.duplicate_radius_m, window })
    }
}

/// The routing policy: the shipped catalog over the configured (or default) jurisdiction.
fn load_policy(args: &UpArgs) -> anyhow::Result<CityPolicy> {
    let mut policy = CityPolicy::default_city();
    if let Some(path) = &args.jurisdiction {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the jurisdiction file {}", path.display()))?;
        policy.jurisdiction =
            Jurisdiction::from_toml(&text).with_context(|| format!("invalid jurisdiction file {}", path.display()))?;
    }
    Ok(policy)
}

pub const SERVICES: [&str; 4] = ["intake", "dispatch", "mediation", "evaluation"];

/// A running one-process gridloop.
pub struct App {
    pub addr: SocketAddr,
    pub bus: Arc<InProcessBus>,
    shutdown: CancellationToken,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    workers: Vec<JoinHandle<()>>,
}

async fn open_store(args: &UpArgs, service: &str) -> anyhow::Result<EventStore> {
    let (url, schema) = match &args.database_url {
        Some(url) => (url.clone(), Some(format!("{}{service}", args.schema_prefix))),
        None => {
            std::fs::create_dir_all(&args.data_dir)
                .with_context(|| format!("cannot create data directory {}", args.data_dir.display()))?;
            (format!("sqlite://{}", args.data_dir.join(format!("{service}.db")).display()), None)
        }
    };
    EventStore::connect(&url, StoreOptions { schema, max_connections: 8 })
        .await
        .with_context(|| format!("cannot open the {service} store"))
}

impl App {
    /// Open the stores, wire the services through the bus, and serve gRPC on `args.listen`
    /// (port 0 picks a free port; see `addr`).
    pub async fn start(args: &UpArgs, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let policy = Arc::new(load_policy(args)?);
        let duplicates = args.duplicate_policy()?;
        let [intake_store, dispatch_store, mediation_store, evaluation_store] = [
            open_store(args, "intake").await?,
            open_store(args, "dispatch").await?,
            open_store(args, "mediation").await?,
            open_store(args, "evaluation").await?,
        ];

        let intake = Intake::new(intake_store.clone(), policy.clone(), clock.clone(), duplicates).await?;
        let dispatch = Dispatch::new(dispatch_store.clone(), policy.clone(), clock.clone());
        let mediation = MediationSvc::new(mediation_store.clone(), clock.clone()).await?;
        let evaluation = Evaluation::new(evaluation_store.clone(), policy.clone(), clock.clone()).await?;

        // Consumers first, then the relays that feed them. Intake's read model of open cases
        // first of all: the bus hands a batch to consumers in subscription order, so by the time
        // dispatch or evaluation show a case opened or closed, intake's duplicate check knows it.
        let bus = Arc::new(InProcessBus::new(DeliveryPolicy::default()));
        for subscription in intake
            .subscriptions()
            .into_iter()
            .chain(dispatch.subscriptions())
            .chain(mediation.subscriptions())
            .chain(evaluation.subscriptions())
        {
            bus.subscribe(subscription)?;
        }
        let shutdown = CancellationToken::new();
        let mut workers = Vec::new();
        for (service, store) in
            SERVICES.iter().zip([&intake_store, &dispatch_store, &mediation_store, &evaluation_store])
        {
            let dyn_bus: Arc<dyn Bus> = bus.clone();
            workers.push(tokio::spawn(run_relay(store.clone(), dyn_bus, service.to_string(), shutdown.clone())));
        }
        workers.push(tokio::spawn(run_timers(
            dispatch_store,
            clock.clone(),
            Arc::new(dispatch.clone()),
            shutdown.clone(),
        )));
        workers.push(tokio::spawn(run_timers(
            evaluation_store,
            clock.clone(),
            Arc::new(evaluation.clone()),
            shutdown.clone(),
        )));

        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(gridloop_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let intake_server = intake
            .into_server()
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let dispatch_server = dispatch
            .into_server()
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let mediation_server = mediation
            .into_server()
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let evaluation_server = evaluation
            .into_server()
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        health_reporter.set_serving::<gridloop_proto::v1::intake_service_server::IntakeServiceServer<Intake>>().await;
        health_reporter
            .set_serving::<gridloop_proto::v1::dispatch_service_server::DispatchServiceServer<Dispatch>>()
            .await;
        health_reporter
            .set_serving::<gridloop_proto::v1::mediation_service_server::MediationServiceServer<MediationSvc>>()
            .await;
        health_reporter
            .set_serving::<gridloop_proto::v1::evaluation_service_server::EvaluationServiceServer<Evaluation>>()
            .await;
        health_reporter.set_service_status("", tonic_health::ServingStatus::Serving).await;

        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        // Small request/response pairs: without TCP_NODELAY, pipelined calls on one connection
        // wait on Nagle's algorithm (measured: ~45 ms instead of ~5 ms per simulator step).
        let incoming = tokio_stream::StreamExt::map(tokio_stream::wrappers::TcpListenerStream::new(listener), |conn| {
            if let Ok(stream) = &conn {
                let _ = stream.set_nodelay(true);
            }
            conn
        });
        let stop = shutdown.clone();
        let server = tokio::spawn(
            Server::builder()
                .add_service(health_service)
                .add_service(reflection)
                .add_service(intake_server)
                .add_service(dispatch_server)
                .add_service(mediation_server)
                .add_service(evaluation_server)
                .serve_with_incoming_shutdown(incoming, async move { stop.cancelled().await }),
        );
        tracing::info!(%addr, "gridloop is up: intake, dispatch, mediation and evaluation");
        Ok(App { addr, bus, shutdown, server, workers })
    }

    /// Stop taking requests, let in-flight ones finish, flush the outboxes, stop the workers.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.server.await.context("server task")??;
        for worker in self.workers {
            worker.await.context("worker task")?;
        }
        Ok(())
    }
}

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let app = App::start(&args, Arc::new(SystemClock)).await?;
    match &args.database_url {
        Some(_) => eprintln!("gridloop is up on {} (Postgres, one schema per service)", app.addr),
        None => eprintln!("gridloop is up on {} (data in {})", app.addr, args.data_dir.display()),
    }
    shutdown_signal().await;
    eprintln!("shutting down: draining requests and flushing outboxes");
    app.shutdown().await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/config/jurisdiction.toml");

    /// The shipped example is the default city, so operators start from what `gridloop up` runs.
    /// `GRIDLOOP_WRITE_CONFIG=1` rewrites it after a deliberate change to the default city.
    #[test]
    fn the_shipped_jurisdiction_file_is_the_default_city() {
        let default = Jurisdiction::default_city().to_toml();
        if std::env::var("GRIDLOOP_WRITE_CONFIG").is_ok_and(|v| v == "1") {
            std::fs::write(SHIPPED, &default).unwrap();
        }
        let shipped = std::fs::read_to_string(SHIPPED).expect("deploy/config/jurisdiction.toml");
        assert_eq!(shipped, default, "regenerate with GRIDLOOP_WRITE_CONFIG=1 cargo test -p gridloop --lib");
        let args =
            UpArgs { jurisdiction: Some(SHIPPED.into()), ..UpArgs::embedded("unused", "127.0.0.1:0".parse().unwrap()) };
        assert_eq!(load_policy(&args).unwrap().jurisdiction.grids().count(), 200);
    }

    #[test]
    fn a_bad_jurisdiction_file_is_refused_with_its_path_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("city.toml");
        std::fs::write(&path, "code = \"32101\"\nname = \"x\"\n").unwrap();
        let args =
            UpArgs { jurisdiction: Some(path.clone()), ..UpArgs::embedded(dir.path(), "127.0.0.1:0".parse().unwrap()) };
        let Err(error) = load_policy(&args) else { panic!("a five-digit district code must be refused") };
        let error = format!("{error:#}");
        assert!(error.contains("city.toml"), "{error}");
        assert!(error.contains("32101"), "{error}");
    }
}
