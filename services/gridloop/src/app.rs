//! Running the services. `gridloop up` runs all four in one process; `gridloop serve <service>`
//! runs one. Either way each service keeps its own store (one SQLite file per service under the
//! data directory, or one Postgres schema per service) and services only meet on the bus:
//! outbox → relay → idempotent consumers, in process or over NATS JetStream.

pub use crate::nats_auth::NatsAuthArgs;
use crate::personal::{self, VaultContacts};
use crate::telemetry;
use anyhow::Context;
use gridloop_auth::{ReflectionMode, SigningKey};
use gridloop_bus::jetstream::JetStreamBus;
use gridloop_bus::relay::run_relay;
use gridloop_bus::timers::{run_timers, TimerHandler};
use gridloop_bus::{Bus, Clock, DeliveryPolicy, InProcessBus, Subscription, SystemClock};
use gridloop_dispatch::Dispatch;
use gridloop_domain::drift::DriftPolicy;
use gridloop_domain::duplicates::DuplicatePolicy;
use gridloop_domain::mediation::MediationRules;
use gridloop_domain::policy::CityPolicy;
use gridloop_evaluation::Evaluation;
use gridloop_eventstore::EventStore;
use gridloop_intake::personal::master::MasterKeys;
use gridloop_intake::Intake;
use gridloop_mediation::MediationSvc;
use gridloop_proto::v1::{
    dispatch_service_server::DispatchServiceServer, evaluation_service_server::EvaluationServiceServer,
    intake_service_server::IntakeServiceServer, mediation_service_server::MediationServiceServer,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::Server;

/// Largest gRPC message accepted or sent (a case history with its payloads fits easily).
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// How often the outbox depth gauge is refreshed.
const OUTBOX_SAMPLE: Duration = Duration::from_secs(5);
/// How often old inbox entries are pruned.
const INBOX_PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// The grpc.health.v1 service name a liveness probe checks: SERVING as long as gRPC is served.
/// The overall status ("") is readiness: SERVING once the bus is connected (see `report_ready`).
pub const LIVENESS_SERVICE: &str = "liveness";

mod args;
mod in_process;
pub use args::{
    MigrateArgs, NatsArgs, PolicyFiles, ServeArgs, ServeTarget, ServiceName, StoreLocation, UpArgs, DEFAULT_HTTP_LISTEN,
};
pub use in_process::InProcessChannel;

/// A service's gRPC API, before it is added to a server.
enum Api {
    Intake(Intake),
    Dispatch(Dispatch),
    Mediation(MediationSvc),
    Evaluation(Evaluation),
}

impl Api {
    /// Add the service to `routes`; returns its gRPC name (for health).
    fn add_to(self, routes: &mut RoutesBuilder) -> &'static str {
        macro_rules! add {
            ($server:expr, $ty:ty) => {{
                routes.add_service(
                    $server.max_decoding_message_size(MAX_MESSAGE_BYTES).max_encoding_message_size(MAX_MESSAGE_BYTES),
                );
                <$ty as NamedService>::NAME
            }};
        }
        match self {
            Api::Intake(s) => add!(s.into_server(), IntakeServiceServer<Intake>),
            Api::Dispatch(s) => add!(s.into_server(), DispatchServiceServer<Dispatch>),
            Api::Mediation(s) => add!(s.into_server(), MediationServiceServer<MediationSvc>),
            Api::Evaluation(s) => add!(s.into_server(), EvaluationServiceServer<Evaluation>),
        }
    }
}

/// One service's working parts: the same in one process and in its own.
struct Node {
    service: ServiceName,
    store: EventStore,
    subscriptions: Vec<Subscription>,
    timers: Option<Arc<dyn TimerHandler>>,
    api: Api,
}

/// What the services' flags decide, beyond the city's policy.
struct Settings {
    duplicates: DuplicatePolicy,
    drift: DriftPolicy,
    mediation_rules: MediationRules,
    /// Intake's master keys (a migration needs none).
    masters: Option<MasterKeys>,
}

async fn build_node(
    service: ServiceName,
    store: EventStore,
    policy: &Arc<CityPolicy>,
    clock: &Arc<dyn Clock>,
    settings: &Settings,
) -> anyhow::Result<Node> {
    let Settings { duplicates, drift, mediation_rules, .. } = *settings;
    let (subscriptions, timers, api): (_, Option<Arc<dyn TimerHandler>>, _) = match service {
        ServiceName::Intake => {
            let masters = settings.masters.clone().context("intake needs the master key of personal data")?;
            let intake = Intake::new(store.clone(), policy.clone(), clock.clone(), duplicates, masters).await?;
            (intake.subscriptions(), None, Api::Intake(intake))
        }
        ServiceName::Dispatch => {
            let dispatch = Dispatch::new(store.clone(), policy.clone(), clock.clone());
            if dispatch.record_policy(gridloop_proto::convert::policy_configured(policy)).await? {
                tracing::info!("routing policy changed: recorded PolicyConfigured on stream `policy`");
            }
            (dispatch.subscriptions(), Some(Arc::new(dispatch.clone())), Api::Dispatch(dispatch))
        }
        ServiceName::Mediation => {
            let mediation = MediationSvc::new(store.clone(), clock.clone())
                .await?
                .with_rules(mediation_rules, policy.calendar.clone());
            (mediation.subscriptions(), Some(Arc::new(mediation.clone())), Api::Mediation(mediation))
        }
        ServiceName::Evaluation => {
            let evaluation = Evaluation::new(store.clone(), policy.clone(), drift, clock.clone()).await?;
            (evaluation.subscriptions(), Some(Arc::new(evaluation.clone())), Api::Evaluation(evaluation))
        }
    };
    Ok(Node { service, store, subscriptions, timers, api })
}

/// Every gRPC edge checks integrators' API keys against intake's key table: the table of the
/// intake in this process, or of intake's store opened for the purpose.
async fn attach_api_keys(
    nodes: &[Node],
    store: &StoreLocation,
    check: &gridloop_auth::api_keys::ApiKeyCheck,
) -> anyhow::Result<()> {
    let local = nodes.iter().find_map(|node| match &node.api {
        Api::Intake(intake) => Some(intake.api_keys().clone()),
        _ => None,
    });
    let table = match local {
        Some(table) => table,
        None => {
            let intake =
                store.open(ServiceName::Intake, None).await.context("API keys are checked in intake's key table")?;
            gridloop_intake::open_api_keys(intake).await?
        }
    };
    check.attach(Arc::new(table));
    Ok(())
}

/// Whether any of `services` seals reporters' contacts (intake) or opens them (dispatch's
/// `GetCase`, evaluation's residents' own cases).
fn needs_master_key(services: &[ServiceName]) -> bool {
    services.iter().any(|s| matches!(s, ServiceName::Intake | ServiceName::Dispatch | ServiceName::Evaluation))
}

/// Dispatch's `GetCase` shows reporters' contacts opened with intake's vault, and dispatch and
/// evaluation recognise a resident as the reporter of their cases under the vault's blind index:
/// the vault the intake in this process holds, or one over intake's store when intake runs elsewhere.
async fn lend_vault(nodes: &mut [Node], store: &StoreLocation, masters: &MasterKeys) -> anyhow::Result<()> {
    if !nodes.iter().any(|node| matches!(node.service, ServiceName::Dispatch | ServiceName::Evaluation)) {
        return Ok(());
    }
    let local = nodes.iter().find_map(|node| match &node.api {
        Api::Intake(intake) => Some(intake.vault().clone()),
        _ => None,
    });
    let vault = match local {
        Some(vault) => vault,
        None => personal::intake_vault(store, masters.clone()).await?,
    };
    let contacts = Arc::new(VaultContacts(vault));
    for node in nodes.iter_mut() {
        match &mut node.api {
            Api::Dispatch(dispatch) => {
                *dispatch = dispatch.clone().with_contacts(contacts.clone()).with_reporter_index(contacts.clone());
            }
            Api::Evaluation(evaluation) => *evaluation = evaluation.clone().with_reporter_index(contacts.clone()),
            _ => {}
        }
    }
    Ok(())
}

/// Running gridloop services (all four, or one).
pub struct App {
    pub addr: SocketAddr,
    pub bus: Arc<dyn Bus>,
    /// Stops the gRPC server, the consumers and the timers: no new work.
    stop_work: CancellationToken,
    /// Stops the relays, after one last flush of the outboxes.
    stop_relays: CancellationToken,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    work: Vec<JoinHandle<()>>,
    relays: Vec<JoinHandle<()>>,
    signing_key: Option<Arc<SigningKey>>,
    /// Where Open311 is served over HTTP, when it is (`--http-listen`).
    pub http_addr: Option<SocketAddr>,
    in_process: InProcessChannel,
}

impl App {
    /// All four services in one process (`gridloop up`), and the HTTP server in front of them
    /// unless `--http-listen off`.
    pub async fn start(args: &UpArgs, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let mut app = Self::start_services(&ServiceName::ALL, args, None, clock).await?;
        if let Some(listen) = args.http_listen {
            app.start_http(listen, args).await?;
        }
        Ok(app)
    }

    /// The HTTP server, in process: it calls this process's gRPC server like any client, with
    /// service tokens minted from the installation's key.
    async fn start_http(&mut self, listen: SocketAddr, args: &UpArgs) -> anyhow::Result<()> {
        gridloop_http::startup::check_plaintext(listen, args.http_allow_plaintext)?;
        let key = self.signing_key.clone().context(
            "the HTTP server needs the installation's signing key for its own token: with an identity provider, \
             run `gridloop serve http --service-token …` instead, or give --http-listen off",
        )?;
        let tls = args.security.tls.tls_cert.is_some();
        let host = if self.addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { self.addr.ip().to_string() };
        let url = format!("{}://{host}:{}", if tls { "https" } else { "http" }, self.addr.port());
        let backends = gridloop_http::BackendArgs {
            ca_cert: args.security.tls.tls_cert.clone(),
            ..gridloop_http::BackendArgs::single(url)
        };
        let backend = gridloop_http::Backend::connect(&backends, gridloop_http::ServiceCredentials::minted(key))?;
        let key_claims = gridloop_http::KeyClaims::from_auth_args(&args.security.auth);
        let http = gridloop_http::Application::build(
            listen,
            backend,
            key_claims,
            gridloop_http::ClientLimits::new(&args.http_limits),
            args.policy.time_zone,
        )
        .await?;
        self.http_addr = Some(http.addr());
        tracing::info!(addr = %http.addr(), "Open311 GeoReport v2 is served over HTTP");
        let stop = self.stop_work.clone();
        self.work.push(tokio::spawn(async move {
            if let Err(error) = http.run_until_stopped(stop).await {
                tracing::error!(%error, "the HTTP server failed");
            }
        }));
        Ok(())
    }

    /// Open the stores of `services`, wire them to the bus, and serve their gRPC APIs on
    /// `args.listen` (port 0 picks a free port; see `addr`). Fewer than four services need
    /// JetStream: the others run elsewhere. `schema` overrides the Postgres schema (one service).
    pub async fn start_services(
        services: &[ServiceName],
        args: &UpArgs,
        schema: Option<&str>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<App> {
        let jetstream = args.nats.config();
        anyhow::ensure!(
            jetstream.is_some() || services.len() == ServiceName::ALL.len(),
            "a service on its own needs --nats-url (GRIDLOOP_NATS_URL): the others reach it over JetStream"
        );
        // First: a server that would be insecure (plaintext on a public address, no way to
        // authenticate anyone) stops here, before any store is touched.
        let security = args.security.prepare(&args.store.data_dir, args.listen, MAX_MESSAGE_BYTES).await?;
        let policy = Arc::new(args.policy.load()?);
        let settings = Settings {
            duplicates: args.duplicate_policy()?,
            drift: args.drift_policy()?,
            mediation_rules: args.mediation_rules()?,
            // Only the services that seal or open contacts read (or create) the master key: a
            // mediation process on its own has none to find.
            masters: needs_master_key(services).then(|| args.personal.master_keys(&args.store.data_dir)).transpose()?,
        };
        let mut nodes = Vec::with_capacity(services.len());
        // In ALL order: intake's read model of open cases subscribes first, and the in-process
        // bus hands a batch to consumers in subscription order, so by the time dispatch or
        // evaluation show a case opened or closed, intake's duplicate check knows it.
        for service in ServiceName::ALL.into_iter().filter(|s| services.contains(s)) {
            let store = args.store.open_with(service, schema, args.durability).await?;
            nodes.push(build_node(service, store, &policy, &clock, &settings).await?);
        }
        if let Some(masters) = &settings.masters {
            lend_vault(&mut nodes, &args.store, masters).await?;
        }
        attach_api_keys(&nodes, &args.store, &security.api_keys).await?;

        let stop_work = CancellationToken::new();
        let stop_relays = CancellationToken::new();
        let mut work = Vec::new();
        for node in &nodes {
            if let Api::Evaluation(evaluation) = &node.api {
                // Live views' streams end when the server stops, or its graceful shutdown would
                // wait for them forever.
                let (evaluation, stop) = (evaluation.clone(), stop_work.clone());
                work.push(tokio::spawn(async move {
                    stop.cancelled().await;
                    evaluation.stop_watches();
                }));
            }
        }
        let mut jetstream_bus = None;
        let subscriptions: Vec<Subscription> =
            nodes.iter_mut().flat_map(|node| std::mem::take(&mut node.subscriptions)).collect();
        let bus: Arc<dyn Bus> = match jetstream {
            None => {
                let bus = InProcessBus::new(DeliveryPolicy::default());
                for subscription in subscriptions {
                    bus.subscribe(subscription)?;
                }
                Arc::new(bus)
            }
            Some(config) => {
                let names: Vec<&str> = nodes.iter().map(|n| n.service.as_str()).collect();
                let bus = JetStreamBus::connect(config, &format!("gridloop-{}", names.join("+"))).await?;
                for subscription in subscriptions {
                    bus.subscribe(subscription)?;
                }
                work.extend(bus.spawn_consumers(stop_work.clone()));
                jetstream_bus = Some(bus.clone());
                bus
            }
        };
        let mut relays = Vec::new();
        for node in &nodes {
            relays.push(tokio::spawn(run_relay(
                node.store.clone(),
                bus.clone(),
                node.service.as_str().to_string(),
                stop_relays.clone(),
            )));
            if let Some(handler) = &node.timers {
                work.push(tokio::spawn(run_timers(
                    node.store.clone(),
                    clock.clone(),
                    handler.clone(),
                    stop_work.clone(),
                )));
            }
        }
        if args.inbox_retention_days > 0 {
            let stores: Vec<_> = nodes.iter().map(|n| (n.service.as_str(), n.store.clone())).collect();
            let retention = chrono::Duration::days(i64::from(args.inbox_retention_days));
            work.push(tokio::spawn(prune_inboxes(stores, retention, stop_work.clone())));
        }
        if let Some(retention) = args.personal.retention() {
            let vaults = nodes.iter().filter_map(|node| match &node.api {
                Api::Intake(intake) => Some(intake.vault().clone()),
                _ => None,
            });
            for vault in vaults {
                work.push(tokio::spawn(personal::erase_expired(vault, retention, clock.clone(), stop_work.clone())));
            }
        }
        if let Some(addr) = args.metrics_listen {
            telemetry::serve_metrics(addr)?;
            let stores: Vec<_> = nodes.iter().map(|n| (n.service.as_str(), n.store.clone())).collect();
            work.push(tokio::spawn(sample_outbox_depth(stores, stop_work.clone())));
        }

        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter.set_service_status("", tonic_health::ServingStatus::NotServing).await;
        health_reporter.set_service_status(LIVENESS_SERVICE, tonic_health::ServingStatus::Serving).await;
        if let Some(addr) = args.health_listen {
            work.push(serve_health(addr, health_service.clone(), stop_work.clone()).await?);
        }
        let mut routes = RoutesBuilder::default();
        routes.add_service(health_service);
        if security.reflection != ReflectionMode::Off {
            // Both versions of the reflection protocol: older tools speak only v1alpha.
            let described = || {
                tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(gridloop_proto::FILE_DESCRIPTOR_SET)
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            };
            routes.add_service(described().build_v1()?);
            routes.add_service(described().build_v1alpha()?);
        }
        let names: Vec<&str> = nodes.iter().map(|n| n.service.as_str()).collect();
        let apis = nodes.into_iter().map(|node| node.api.add_to(&mut routes)).collect();
        // In process the bus is there already: ready before `start` returns.
        let over_jetstream = jetstream_bus.is_some();
        let ready = report_ready(health_reporter, apis, jetstream_bus, stop_work.clone());
        if over_jetstream {
            work.push(tokio::spawn(ready));
        } else {
            ready.await;
        }

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
        let mut builder = Server::builder();
        if args.max_connection_age_secs > 0 {
            builder = builder.max_connection_age(Duration::from_secs(args.max_connection_age_secs));
        }
        if let Some(tls) = security.tls.clone() {
            builder = builder.tls_config(tls).context("invalid TLS settings")?;
        }
        if let Some(timeout) = security.request_timeout {
            builder = builder.timeout(timeout);
        }
        // The edge every call passes, over a connection or in process: telemetry, then auth.
        let edge = tower::ServiceBuilder::new().layer(telemetry::GrpcLayer).layer(security.layer.clone());
        let routes = routes.routes().prepare();
        let in_process = InProcessChannel::new(edge.service(routes.clone()));
        let stop = stop_work.clone();
        let server = tokio::spawn(
            builder.layer(edge).serve_with_incoming_shutdown(routes, incoming, async move { stop.cancelled().await }),
        );
        let tls = if security.tls.is_some() { "TLS" } else { "plaintext" };
        tracing::info!(%addr, services = %names.join(", "), tls, "gridloop is up");
        Ok(App {
            addr,
            bus,
            stop_work,
            stop_relays,
            server,
            work,
            relays,
            signing_key: security.signing_key,
            http_addr: None,
            in_process,
        })
    }

    /// The installation's signing key, when it has one: in-process tools and tests mint their
    /// tokens with it (see `gridloop token issue`).
    pub fn signing_key(&self) -> Option<&SigningKey> {
        self.signing_key.as_deref()
    }

    /// The gRPC API as this process's own callers reach it: through the same edge (telemetry,
    /// authentication, authorization, limits) as a connection, without one.
    pub fn in_process_channel(&self) -> InProcessChannel {
        self.in_process.clone()
    }

    /// Stop taking requests, let in-flight requests and handlers finish, flush the outboxes.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stop_work.cancel();
        self.server.await.context("server task")??;
        for task in self.work {
            task.await.context("worker task")?;
        }
        self.stop_relays.cancel();
        for relay in self.relays {
            relay.await.context("relay task")?;
        }
        Ok(())
    }
}

/// grpc.health.v1 alone, in plaintext on `addr`, until `stop`: what a probe without TLS can ask.
async fn serve_health<T: tonic_health::pb::health_server::Health>(
    addr: SocketAddr,
    health: tonic_health::pb::health_server::HealthServer<T>,
    stop: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for health checks on {addr}"))?;
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    Ok(tokio::spawn(async move {
        let served =
            Server::builder().add_service(health).serve_with_incoming_shutdown(incoming, stop.cancelled_owned()).await;
        if let Err(error) = served {
            tracing::error!(%error, "the health listener failed");
        }
    }))
}

/// Readiness: the stores are open and migrated by now; with JetStream, wait until the client is
/// connected (it connects in the background), then report the services and "" SERVING.
async fn report_ready(
    reporter: tonic_health::server::HealthReporter,
    apis: Vec<&'static str>,
    jetstream: Option<Arc<JetStreamBus>>,
    stop: CancellationToken,
) {
    if let Some(bus) = jetstream {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = bus.connected() => {}
        }
    }
    for api in apis {
        reporter.set_service_status(api, tonic_health::ServingStatus::Serving).await;
    }
    reporter.set_service_status("", tonic_health::ServingStatus::Serving).await;
}

/// Hourly, forget inbox entries older than `retention` (the store stamps them with the wall
/// clock, so this uses the wall clock too, whatever clock drives the services).
async fn prune_inboxes(stores: Vec<(&'static str, EventStore)>, retention: chrono::Duration, stop: CancellationToken) {
    loop {
        for (service, store) in &stores {
            match store.prune_inbox(chrono::Utc::now() - retention).await {
                Ok(0) => {}
                Ok(pruned) => {
                    metrics::counter!("gridloop_inbox_pruned_total", "service" => *service).increment(pruned);
                    tracing::info!(service, pruned, "pruned old inbox entries");
                }
                Err(error) => tracing::warn!(service, %error, "inbox pruning failed; retrying next hour"),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(INBOX_PRUNE_EVERY) => {}
        }
    }
}

async fn sample_outbox_depth(stores: Vec<(&'static str, EventStore)>, stop: CancellationToken) {
    loop {
        for (service, store) in &stores {
            if let Ok(depth) = store.outbox_depth().await {
                metrics::gauge!("gridloop_outbox_depth", "service" => *service).set(depth as f64);
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(OUTBOX_SAMPLE) => {}
        }
    }
}

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let _telemetry = telemetry::init("gridloop")?;
    // Held until the process exits: one server per data directory.
    let _data_dir = crate::data_lock::DataDirLock::acquire(&args.store.data_dir)?;
    let app = App::start(&args, Arc::new(SystemClock)).await?;
    let transport = if args.nats.url.is_some() { "JetStream" } else { "in-process bus" };
    match &args.store.database_url {
        Some(_) => eprintln!("gridloop is up on {} (Postgres, one schema per service; {transport})", app.addr),
        None => eprintln!("gridloop is up on {} (data in {}; {transport})", app.addr, args.store.data_dir.display()),
    }
    if let Some(addr) = app.http_addr {
        eprintln!("Open311 GeoReport v2 on http://{addr}/open311/v2/ (OpenAPI: http://{addr}/openapi.json)");
    }
    shutdown_signal().await;
    eprintln!("shutting down: draining requests and flushing outboxes");
    app.shutdown().await
}

/// `gridloop serve <service>`, or `gridloop serve http`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let Some(service_name) = args.service.service() else { return serve_http(args).await };
    let service = service_name.as_str();
    let _telemetry = telemetry::init(&format!("gridloop-{service}"))?;
    let app = App::start_services(&[service_name], &args.up, args.schema.as_deref(), Arc::new(SystemClock)).await?;
    eprintln!("gridloop {service} is up on {}", app.addr);
    shutdown_signal().await;
    eprintln!("{service} shutting down: draining requests and handlers, flushing the outbox");
    app.shutdown().await
}

/// `gridloop serve http`: the HTTP server alone, calling the services at `--server` (or each
/// service's own address) over gRPC.
async fn serve_http(args: ServeArgs) -> anyhow::Result<()> {
    let _telemetry = telemetry::init("gridloop-http")?;
    let listen = args.up.http_listen.context("`serve http` needs --http-listen")?;
    gridloop_http::startup::check_plaintext(listen, args.up.http_allow_plaintext)?;
    if let Some(addr) = args.up.metrics_listen {
        telemetry::serve_metrics(addr)?;
    }
    let key_claims = gridloop_http::KeyClaims::from_auth_args(&args.up.security.auth);
    let http = gridloop_http::startup::build_standalone(
        listen,
        &args.backends,
        &args.up.store.data_dir,
        key_claims,
        gridloop_http::ClientLimits::new(&args.up.http_limits),
        args.up.policy.time_zone,
    )
    .await?;
    eprintln!("gridloop http is up on http://{}/open311/v2/ (services at {})", http.addr(), args.backends.server);
    let stop = CancellationToken::new();
    let server = tokio::spawn(http.run_until_stopped(stop.clone()));
    shutdown_signal().await;
    eprintln!("http shutting down: finishing the requests in flight");
    stop.cancel();
    server.await.context("HTTP server task")??;
    Ok(())
}

/// `gridloop migrate`: open (and so create or upgrade) each store and its read models, and,
/// with `--nats-url`, create the JetStream streams if absent.
pub async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let services = if args.services.is_empty() { ServiceName::ALL.to_vec() } else { args.services };
    let policy = Arc::new(args.policy.load()?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    for service in services {
        let store = args.store.open(service, None).await?;
        if service == ServiceName::Intake {
            // Its key table, without touching the keys: the master key is the running service's.
            gridloop_intake::migrate(&store).await?;
            eprintln!("intake: store migrated");
            continue;
        }
        // The running services' settings (duplicates, drift, council rules) shape no store.
        let settings = Settings {
            duplicates: DuplicatePolicy::disabled(),
            drift: DriftPolicy::disabled(),
            mediation_rules: MediationRules::default(),
            masters: None,
        };
        build_node(service, store, &policy, &clock, &settings).await?;
        eprintln!("{}: store migrated", service.as_str());
    }
    if let Some(config) = args.nats.config() {
        let (url, stream) = (config.url.clone(), config.stream.clone());
        let bus = JetStreamBus::connect(config, "gridloop-migrate").await?;
        bus.ensure_streams().await.with_context(|| format!("cannot create the JetStream streams on {url}"))?;
        eprintln!("JetStream: streams {stream} and {stream}_DLQ ready on {url}");
    }
    Ok(())
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
    use gridloop_domain::calendar::{Sla, WorkingTime};
    use gridloop_domain::jurisdiction::Jurisdiction;

    const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/k8s/base/city/jurisdiction.toml");

    /// The shipped example is the default city, so operators start from what `gridloop up` runs.
    /// `GRIDLOOP_WRITE_CONFIG=1` rewrites it after a deliberate change to the default city.
    #[test]
    fn the_shipped_jurisdiction_file_is_the_default_city() {
        let default = Jurisdiction::default_city().to_toml();
        if std::env::var("GRIDLOOP_WRITE_CONFIG").is_ok_and(|v| v == "1") {
            std::fs::write(SHIPPED, &default).unwrap();
        }
        let shipped = std::fs::read_to_string(SHIPPED).expect("deploy/k8s/base/city/jurisdiction.toml");
        assert_eq!(shipped, default, "regenerate with GRIDLOOP_WRITE_CONFIG=1 cargo test -p gridloop --lib");
        let files = PolicyFiles { jurisdiction: Some(SHIPPED.into()), ..PolicyFiles::default() };
        assert_eq!(files.load().unwrap().jurisdiction.grids().count(), 200);
    }

    const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/k8s/base/city");

    #[test]
    fn the_shipped_catalog_and_holidays_are_the_built_in_ones_and_a_citys_own_files_replace_them() {
        let shipped = PolicyFiles {
            jurisdiction: Some(format!("{CONFIG}/jurisdiction.toml").into()),
            catalog: Some(format!("{CONFIG}/catalog.toml").into()),
            holidays: Some(format!("{CONFIG}/holidays.toml").into()),
            ..PolicyFiles::default()
        };
        let built_in = CityPolicy::default_city();
        assert_eq!(shipped.load().unwrap().fingerprint(), built_in.fingerprint(), "same rules, same fingerprint");

        // A city's own: a shorter accept SLA, and next year's Spring Festival.
        let dir = tempfile::tempdir().unwrap();
        let catalog = std::fs::read_to_string(format!("{CONFIG}/catalog.toml")).unwrap().replacen(
            "accept_sla = \"2 working hours\"",
            "accept_sla = \"30 working minutes\"",
            1,
        );
        let holidays = std::fs::read_to_string(format!("{CONFIG}/holidays.toml")).unwrap()
            + "\n[years.2027]\nsource = \"test\"\nperiods = [ { name = \"春节\", from = 2027-02-05, to = 2027-02-11 } ]\n";
        std::fs::write(dir.path().join("catalog.toml"), catalog).unwrap();
        std::fs::write(dir.path().join("holidays.toml"), holidays).unwrap();
        let own = PolicyFiles {
            jurisdiction: None,
            catalog: Some(dir.path().join("catalog.toml")),
            holidays: Some(dir.path().join("holidays.toml")),
            time_zone: crate::client::output::parse_time_zone("Europe/Berlin").unwrap(),
        }
        .load()
        .unwrap();
        assert_eq!(own.calendar.zone().name(), "Europe/Berlin", "the city's clock is the calendar's");
        let debris = own.catalog.get("env.debris").unwrap();
        assert_eq!(debris.accept_sla, Sla::Working(WorkingTime::Minutes(30)));
        let monday = chrono::NaiveDate::from_ymd_opt(2027, 2, 8).unwrap();
        assert!(own.calendar.is_holiday(monday) && !built_in.calendar.is_holiday(monday));
        let fingerprint = (own.fingerprint(), built_in.fingerprint());
        assert_ne!(fingerprint.0.catalog, fingerprint.1.catalog);
        assert_ne!(fingerprint.0.calendar, fingerprint.1.calendar);
        assert_eq!(fingerprint.0.jurisdiction, fingerprint.1.jurisdiction);

        // A bad file stops startup with its path and reason.
        std::fs::write(dir.path().join("catalog.toml"), "[[classes]]\ncode = \"env\"\n").unwrap();
        let files = PolicyFiles { catalog: Some(dir.path().join("catalog.toml")), ..PolicyFiles::default() };
        let Err(error) = files.load() else { panic!("a class without a name must be refused") };
        let error = format!("{error:#}");
        assert!(error.contains("catalog.toml") && error.contains("name"), "{error}");
    }

    #[test]
    fn http_is_served_on_the_default_address_unless_turned_off() {
        #[derive(clap::Parser)]
        struct Up {
            #[command(flatten)]
            up: UpArgs,
        }
        let parse = |args: &[&str]| {
            <Up as clap::Parser>::try_parse_from(std::iter::once("up").chain(args.iter().copied()))
                .map(|u| u.up.http_listen)
        };
        if std::env::var_os("GRIDLOOP_HTTP_LISTEN").is_none() {
            assert_eq!(parse(&[]).unwrap(), Some(DEFAULT_HTTP_LISTEN.parse().unwrap()));
        }
        assert_eq!(parse(&["--http-listen", "off"]).unwrap(), None);
        assert_eq!(parse(&["--http-listen", "0.0.0.0:9000"]).unwrap(), Some("0.0.0.0:9000".parse().unwrap()));
        assert!(parse(&["--http-listen", "nowhere"]).is_err());
    }

    #[test]
    fn drift_flags_become_a_policy_and_bad_ones_are_refused() {
        let base = UpArgs::embedded("unused", "127.0.0.1:0".parse().unwrap());
        let policy = base.drift_policy().unwrap();
        assert_eq!((policy.tolerance, policy.window.num_days(), policy.min_cases), (0.10, 30, 20));
        let off = UpArgs { drift_tolerance_pp: 0.0, ..base.clone() };
        assert!(!off.drift_policy().unwrap().is_enabled());
        for bad in [UpArgs { drift_tolerance_pp: -1.0, ..base.clone() }, UpArgs { drift_window_days: 0, ..base }] {
            assert!(bad.drift_policy().is_err());
        }
    }

    #[test]
    fn mediation_flags_become_the_council_rules_and_bad_ones_are_refused() {
        let base = UpArgs::embedded("unused", "127.0.0.1:0".parse().unwrap());
        assert_eq!(base.mediation_rules().unwrap(), MediationRules::default());
        let longer = UpArgs { mediation_notice_days: 10, mediation_quorum_percent: 60, ..base.clone() };
        let rules = longer.mediation_rules().unwrap();
        assert_eq!((rules.notice, rules.quorum_percent), (Sla::Calendar(chrono::Duration::days(10)), 60));
        let working = UpArgs { mediation_notice_working_days: true, ..base.clone() };
        assert_eq!(working.mediation_rules().unwrap().notice, Sla::Working(WorkingTime::Days(7)));
        for bad in [
            UpArgs { mediation_notice_days: 6, ..base.clone() },
            UpArgs { mediation_quorum_percent: 0, ..base.clone() },
            UpArgs { mediation_max_turns: 0, ..base },
        ] {
            assert!(bad.mediation_rules().is_err());
        }
    }

    #[test]
    fn a_bad_jurisdiction_file_is_refused_with_its_path_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("city.toml");
        std::fs::write(&path, "code = \"32101\"\nname = \"x\"\n").unwrap();
        let files = PolicyFiles { jurisdiction: Some(path.clone()), ..PolicyFiles::default() };
        let Err(error) = files.load() else { panic!("a five-digit district code must be refused") };
        let error = format!("{error:#}");
        assert!(error.contains("city.toml"), "{error}");
        assert!(error.contains("32101"), "{error}");
    }
}
