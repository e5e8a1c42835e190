//! Running the services. `gridloop up` runs all four in one process; `gridloop serve <service>`
//! runs one. Either way each service keeps its own store (one SQLite file per service under the
//! data directory, or one Postgres schema per service) and services only meet on the bus:
//! outbox → relay → idempotent consumers, in process or over NATS JetStream.

pub use crate::nats_auth::NatsAuthArgs;
use crate::personal::{self, PersonalDataArgs, VaultContacts};
use crate::telemetry;
use anyhow::Context;
use gridloop_auth::{ReflectionMode, SecurityArgs, SigningKey};
use gridloop_bus::jetstream::{JetStreamBus, JetStreamConfig};
use gridloop_bus::relay::run_relay;
use gridloop_bus::timers::{run_timers, TimerHandler};
use gridloop_bus::{Bus, Clock, DeliveryPolicy, InProcessBus, Subscription, SystemClock};
use gridloop_dispatch::Dispatch;
use gridloop_domain::calendar::{HolidaySchedule, Sla, WorkingCalendar, WorkingTime};
use gridloop_domain::catalog::Catalog;
use gridloop_domain::drift::DriftPolicy;
use gridloop_domain::duplicates::DuplicatePolicy;
use gridloop_domain::jurisdiction::Jurisdiction;
use gridloop_domain::mediation::MediationRules;
use gridloop_domain::policy::CityPolicy;
use gridloop_evaluation::Evaluation;
use gridloop_eventstore::{EventStore, StoreOptions};
use gridloop_intake::personal::master::MasterKeys;
use gridloop_intake::Intake;
use gridloop_mediation::MediationSvc;
use gridloop_proto::v1::{
    dispatch_service_server::DispatchServiceServer, evaluation_service_server::EvaluationServiceServer,
    intake_service_server::IntakeServiceServer, mediation_service_server::MediationServiceServer,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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

/// The four services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceName {
    Intake,
    Dispatch,
    Mediation,
    Evaluation,
}

impl ServiceName {
    /// In start order: intake's read model of open cases subscribes first (see `App::start_services`).
    pub const ALL: [ServiceName; 4] =
        [ServiceName::Intake, ServiceName::Dispatch, ServiceName::Mediation, ServiceName::Evaluation];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Intake => "intake",
            ServiceName::Dispatch => "dispatch",
            ServiceName::Mediation => "mediation",
            ServiceName::Evaluation => "evaluation",
        }
    }
}

/// The JetStream transport's settings. Without `--nats-url` the services talk in process.
#[derive(Debug, Clone, clap::Args)]
pub struct NatsArgs {
    /// NATS server with JetStream; set, the services exchange events over it.
    #[arg(long = "nats-url", env = "GRIDLOOP_NATS_URL")]
    pub url: Option<String>,
    /// The JetStream stream holding the events (dead letters go to `<stream>_DLQ`).
    #[arg(long = "stream", env = "GRIDLOOP_STREAM", default_value = "GRIDLOOP")]
    pub stream: String,
    /// First token of every subject (`<prefix>.evt.<district>.<street>.<community>.<grid>.<service>.<Type>`).
    #[arg(long = "subject-prefix", env = "GRIDLOOP_SUBJECT_PREFIX", default_value = "gridloop")]
    pub subject_prefix: String,
    /// Replicas of the streams when the services create them (1, 3 or 5 on a cluster).
    #[arg(long = "stream-replicas", env = "GRIDLOOP_STREAM_REPLICAS", default_value_t = 1)]
    pub replicas: usize,
    /// Days events stay in the stream (the Postgres event store keeps them for good).
    #[arg(long = "stream-max-age-days", env = "GRIDLOOP_STREAM_MAX_AGE_DAYS", default_value_t = 30)]
    pub max_age_days: u64,
    #[command(flatten)]
    pub auth: NatsAuthArgs,
}

impl Default for NatsArgs {
    fn default() -> Self {
        let defaults = JetStreamConfig::new("");
        Self {
            url: None,
            stream: defaults.stream,
            subject_prefix: defaults.subject_prefix,
            replicas: defaults.replicas,
            max_age_days: defaults.max_age.as_secs() / 86_400,
            auth: NatsAuthArgs::default(),
        }
    }
}

impl NatsArgs {
    pub fn config(&self) -> Option<JetStreamConfig> {
        let url = self.url.as_ref()?;
        Some(JetStreamConfig {
            stream: self.stream.clone(),
            subject_prefix: self.subject_prefix.clone(),
            replicas: self.replicas,
            max_age: Duration::from_secs(self.max_age_days * 86_400),
            auth: self.auth.auth(),
            ..JetStreamConfig::new(url.clone())
        })
    }
}

/// Where the services' stores are: `gridloop up` and `serve`, and the commands that read or write
/// the stores directly (`replay`, `export`, `import`).
#[derive(Debug, Clone, clap::Args)]
pub struct StoreLocation {
    /// Where the embedded stores live (one SQLite file per service).
    #[arg(long, env = "GRIDLOOP_DATA_DIR", default_value = "./gridloop-data")]
    pub data_dir: PathBuf,
    /// Use this Postgres database instead of SQLite (one schema per service).
    #[arg(long, env = "GRIDLOOP_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Prefix for the Postgres schemas (`<prefix>intake`, …), so several deployments can share a database.
    #[arg(long, env = "GRIDLOOP_SCHEMA_PREFIX", default_value = "")]
    pub schema_prefix: String,
}

impl StoreLocation {
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: data_dir.into(), database_url: None, schema_prefix: String::new() }
    }

    /// Whether a service's store is there (SQLite: its file; Postgres: assumed).
    pub fn exists(&self, service: ServiceName) -> bool {
        self.database_url.is_some() || self.sqlite_file(service).exists()
    }

    fn sqlite_file(&self, service: ServiceName) -> PathBuf {
        self.data_dir.join(format!("{}.db", service.as_str()))
    }

    /// Open a store that must already exist: a command that reads or exports history from a
    /// wrong directory says so, instead of creating an empty store and reporting nothing.
    pub async fn open_existing(&self, service: ServiceName) -> anyhow::Result<EventStore> {
        if !self.exists(service) {
            anyhow::bail!(
                "no {} store at {} (is --data-dir right?)",
                service.as_str(),
                self.sqlite_file(service).display()
            );
        }
        self.open(service, None).await
    }

    /// Open (creating it if absent) one service's store; `schema` overrides the Postgres schema.
    pub async fn open(&self, service_name: ServiceName, schema: Option<&str>) -> anyhow::Result<EventStore> {
        let service = service_name.as_str();
        let (url, schema) = match &self.database_url {
            Some(url) => {
                (url.clone(), Some(schema.map_or_else(|| format!("{}{service}", self.schema_prefix), str::to_string)))
            }
            None => {
                std::fs::create_dir_all(&self.data_dir)
                    .with_context(|| format!("cannot create data directory {}", self.data_dir.display()))?;
                (format!("sqlite://{}", self.sqlite_file(service_name).display()), None)
            }
        };
        EventStore::connect(&url, StoreOptions { schema, max_connections: 8 })
            .await
            .with_context(|| format!("cannot open the {service} store"))
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub store: StoreLocation,
    /// gRPC listen address for the services, health and reflection.
    #[arg(long, env = "GRIDLOOP_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub policy: PolicyFiles,
    /// Duplicate detection: a report of the same category within this many metres of an open
    /// case is linked to it instead of opening a second case. 0 disables duplicate detection.
    #[arg(long, env = "GRIDLOOP_DUPLICATE_RADIUS_M", default_value_t = DuplicatePolicy::DEFAULT_RADIUS_M)]
    pub duplicate_radius_m: f64,
    /// Duplicate detection: only cases opened at most this many hours before the report count.
    #[arg(long, env = "GRIDLOOP_DUPLICATE_WINDOW_HOURS", default_value_t = DuplicatePolicy::DEFAULT_WINDOW_HOURS)]
    pub duplicate_window: i64,
    /// Serve Prometheus metrics on this address (`GET /metrics`).
    #[arg(long, env = "GRIDLOOP_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Close each client's HTTP/2 connection gracefully (GOAWAY) after this many seconds, so
    /// clients reconnect and spread over the replicas behind a load balancer. 0: never.
    #[arg(long, env = "GRIDLOOP_MAX_CONNECTION_AGE_SECS", default_value_t = 300)]
    pub max_connection_age_secs: u64,
    /// Forget consumers' inbox entries (the record that an event was handled) after this many
    /// days, checked hourly: far longer than any redelivery. 0: keep them forever.
    #[arg(long, env = "GRIDLOOP_INBOX_RETENTION_DAYS", default_value_t = 7)]
    pub inbox_retention_days: u32,
    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub security: SecurityArgs,
    #[command(flatten)]
    pub personal: PersonalDataArgs,
    /// Also serve grpc.health.v1 — and nothing else — in plaintext on this address, for probes
    /// that cannot speak TLS (Kubernetes' gRPC probes).
    #[arg(long, env = "GRIDLOOP_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,
    /// 4321 drift alert: an area whose settled-level shares deviate from 40/30/20/10 by more than
    /// this many percentage points (at any level) is alerted once, and cleared once back within.
    /// 0 disables the monitor.
    #[arg(long, env = "GRIDLOOP_DRIFT_TOLERANCE_PP", default_value_t = DriftPolicy::DEFAULT_TOLERANCE_PP)]
    pub drift_tolerance_pp: f64,
    /// 4321 drift alert: the window of closures (days up to the latest one) that counts.
    #[arg(long, env = "GRIDLOOP_DRIFT_WINDOW_DAYS", default_value_t = DriftPolicy::DEFAULT_WINDOW_DAYS)]
    pub drift_window_days: i64,
    /// 4321 drift alert: areas with fewer closed cases in the window are not judged.
    #[arg(long, env = "GRIDLOOP_DRIFT_MIN_CASES", default_value_t = DriftPolicy::DEFAULT_MIN_CASES)]
    pub drift_min_cases: u64,
    /// Mediation councils: the share of invited participants who must attend, in percent.
    #[arg(long, env = "GRIDLOOP_MEDIATION_QUORUM_PERCENT", default_value_t = 50)]
    pub mediation_quorum_percent: u32,
    /// Mediation councils: how long results are published before execution (公示, at least 7 days).
    #[arg(long, env = "GRIDLOOP_MEDIATION_NOTICE_DAYS", default_value_t = 7)]
    pub mediation_notice_days: i64,
    /// Count the notice period in working days on the city's calendar instead of wall-clock days.
    #[arg(long, env = "GRIDLOOP_MEDIATION_NOTICE_WORKING_DAYS")]
    pub mediation_notice_working_days: bool,
    /// Mediation councils: how many statements each participant may make per sitting (限时限次).
    #[arg(long, env = "GRIDLOOP_MEDIATION_MAX_TURNS", default_value_t = 3)]
    pub mediation_max_turns: u32,
    /// Serve Open311 GeoReport v2 and the OpenAPI document over HTTP on this address (`gridloop
    /// up`, `gridloop serve http`); `off` serves no HTTP.
    // Fully qualified: clap reads the parser's `None` (`off`) as a value, not as an absent flag.
    #[arg(long, env = "GRIDLOOP_HTTP_LISTEN", default_value = DEFAULT_HTTP_LISTEN, value_parser = parse_http_listen)]
    pub http_listen: ::std::option::Option<SocketAddr>,
    /// Serve HTTP in plaintext on a non-loopback address (TLS terminated by an ingress in front):
    /// an `api_key` travels in the request body.
    #[arg(long, env = "GRIDLOOP_HTTP_ALLOW_PLAINTEXT")]
    pub http_allow_plaintext: bool,
}

/// Where `gridloop up` serves HTTP unless told otherwise.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8080";

/// An address, or `off`.
fn parse_http_listen(text: &str) -> Result<Option<SocketAddr>, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| format!("{text:?} is neither an address (127.0.0.1:8080) nor `off`"))
}

impl UpArgs {
    /// Embedded defaults on `data_dir`, listening on `listen`.
    pub fn embedded(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        Self {
            store: StoreLocation::embedded(data_dir),
            listen,
            policy: PolicyFiles::default(),
            duplicate_radius_m: DuplicatePolicy::DEFAULT_RADIUS_M,
            duplicate_window: DuplicatePolicy::DEFAULT_WINDOW_HOURS,
            metrics_listen: None,
            max_connection_age_secs: 300,
            inbox_retention_days: 7,
            nats: NatsArgs::default(),
            security: SecurityArgs::default(),
            personal: PersonalDataArgs::default(),
            health_listen: None,
            drift_tolerance_pp: DriftPolicy::DEFAULT_TOLERANCE_PP,
            drift_window_days: DriftPolicy::DEFAULT_WINDOW_DAYS,
            drift_min_cases: DriftPolicy::DEFAULT_MIN_CASES,
            mediation_quorum_percent: 50,
            mediation_notice_days: 7,
            mediation_notice_working_days: false,
            mediation_max_turns: 3,
            http_listen: None,
            http_allow_plaintext: false,
        }
    }

    /// The mediation councils' rules the flags describe.
    pub fn mediation_rules(&self) -> anyhow::Result<MediationRules> {
        anyhow::ensure!(
            (1..=100).contains(&self.mediation_quorum_percent),
            "--mediation-quorum-percent must be between 1 and 100"
        );
        anyhow::ensure!(self.mediation_notice_days >= 7, "--mediation-notice-days must be at least 7 (公示不少于7天)");
        anyhow::ensure!(self.mediation_max_turns >= 1, "--mediation-max-turns must be at least 1");
        let notice = if self.mediation_notice_working_days {
            let days = u32::try_from(self.mediation_notice_days).context("--mediation-notice-days is too large")?;
            Sla::Working(WorkingTime::Days(days))
        } else {
            Sla::Calendar(
                chrono::Duration::try_days(self.mediation_notice_days)
                    .context("--mediation-notice-days is too large")?,
            )
        };
        Ok(MediationRules {
            quorum_percent: self.mediation_quorum_percent,
            notice,
            max_turns: self.mediation_max_turns,
        })
    }

    /// The drift alert the flags describe; a tolerance of 0 disables it.
    pub fn drift_policy(&self) -> anyhow::Result<DriftPolicy> {
        anyhow::ensure!(
            self.drift_tolerance_pp.is_finite() && (0.0..=100.0).contains(&self.drift_tolerance_pp),
            "--drift-tolerance-pp must be between 0 and 100 percentage points (0 disables the drift alert)"
        );
        anyhow::ensure!(self.drift_window_days >= 1, "--drift-window-days must be at least 1");
        if self.drift_tolerance_pp == 0.0 {
            return Ok(DriftPolicy::disabled());
        }
        let window = chrono::Duration::try_days(self.drift_window_days).context("--drift-window-days is too large")?;
        Ok(DriftPolicy { tolerance: self.drift_tolerance_pp / 100.0, window, min_cases: self.drift_min_cases })
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

/// `gridloop serve <service>`: one service in its own process.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[arg(value_enum)]
    pub service: ServeTarget,
    /// The Postgres schema of this service's store. Default: `<schema prefix><service>`.
    #[arg(long, env = "GRIDLOOP_SCHEMA")]
    pub schema: Option<String>,
    #[command(flatten)]
    pub up: UpArgs,
    /// `serve http`: where the services are, and the HTTP server's own credentials.
    #[command(flatten)]
    pub backends: gridloop_http::BackendArgs,
}

/// What `gridloop serve` runs: one of the services, or the HTTP server in front of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServeTarget {
    Intake,
    Dispatch,
    Mediation,
    Evaluation,
    /// Open311 GeoReport v2 over HTTP, calling the services over gRPC (on --http-listen).
    Http,
}

impl ServeTarget {
    /// The service, unless it is the HTTP server.
    fn service(self) -> Option<ServiceName> {
        match self {
            ServeTarget::Intake => Some(ServiceName::Intake),
            ServeTarget::Dispatch => Some(ServiceName::Dispatch),
            ServeTarget::Mediation => Some(ServiceName::Mediation),
            ServeTarget::Evaluation => Some(ServiceName::Evaluation),
            ServeTarget::Http => None,
        }
    }
}

/// `gridloop migrate`: create or upgrade the services' stores (and the JetStream streams), then exit.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// Only these services (repeatable). Default: all four.
    #[arg(long = "service", value_enum)]
    pub services: Vec<ServiceName>,
    #[command(flatten)]
    pub store: StoreLocation,
    /// The city's files are checked, and dispatch records the policy they make.
    #[command(flatten)]
    pub policy: PolicyFiles,
    #[command(flatten)]
    pub nats: NatsArgs,
}

/// The city's routing policy as files (`deploy/k8s/base/city/` ships the default city's); each one unset
/// falls back to the built-in default.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyFiles {
    /// The city's jurisdiction tree and grid boundaries (TOML; see deploy/k8s/base/city/jurisdiction.toml).
    /// Unset: the shipped default city.
    #[arg(long, env = "GRIDLOOP_JURISDICTION")]
    pub jurisdiction: Option<PathBuf>,
    /// The responsibility list (权责清单): categories, entry levels, priorities, SLAs, owning
    /// departments (TOML; see deploy/k8s/base/city/catalog.toml). Unset: the built-in list.
    #[arg(long, env = "GRIDLOOP_CATALOG")]
    pub catalog: Option<PathBuf>,
    /// Public holidays and make-up working days (调休) by year (TOML; see
    /// deploy/k8s/base/city/holidays.toml): add next year's when the State Council publishes it.
    /// Unset: the built-in 2025 and 2026 schedules.
    #[arg(long, env = "GRIDLOOP_HOLIDAYS")]
    pub holidays: Option<PathBuf>,
}

impl PolicyFiles {
    /// The routing policy: each file given, or the built-in default city's part. A file that
    /// cannot be read or is invalid stops startup with its path and the reason.
    pub fn load(&self) -> anyhow::Result<CityPolicy> {
        fn read(path: &Path, what: &str) -> anyhow::Result<String> {
            std::fs::read_to_string(path).with_context(|| format!("cannot read the {what} file {}", path.display()))
        }
        let mut policy = CityPolicy::default_city();
        if let Some(path) = &self.jurisdiction {
            policy.jurisdiction = Jurisdiction::from_toml(&read(path, "jurisdiction")?)
                .with_context(|| format!("invalid jurisdiction file {}", path.display()))?;
        }
        if let Some(path) = &self.catalog {
            policy.catalog = Catalog::from_toml(&read(path, "catalog")?)
                .with_context(|| format!("invalid catalog file {}", path.display()))?;
        }
        if let Some(path) = &self.holidays {
            let schedule = HolidaySchedule::from_toml(&read(path, "holidays")?)
                .with_context(|| format!("invalid holidays file {}", path.display()))?;
            policy.calendar = WorkingCalendar::builder()
                .schedule(&schedule)
                .build()
                .with_context(|| format!("holidays file {}", path.display()))?;
        }
        if self.jurisdiction.is_some() || self.catalog.is_some() {
            policy.check_departments().context("the catalog names departments the jurisdiction lacks")?;
        }
        Ok(policy)
    }
}

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
        let http = gridloop_http::Application::build(listen, backend, key_claims).await?;
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
            masters: Some(args.personal.master_keys(&args.store.data_dir)?),
        };
        let mut nodes = Vec::with_capacity(services.len());
        // In ALL order: intake's read model of open cases subscribes first, and the in-process
        // bus hands a batch to consumers in subscription order, so by the time dispatch or
        // evaluation show a case opened or closed, intake's duplicate check knows it.
        for service in ServiceName::ALL.into_iter().filter(|s| services.contains(s)) {
            let store = args.store.open(service, schema).await?;
            nodes.push(build_node(service, store, &policy, &clock, &settings).await?);
        }
        if let Some(masters) = &settings.masters {
            lend_vault(&mut nodes, &args.store, masters).await?;
        }

        let stop_work = CancellationToken::new();
        let stop_relays = CancellationToken::new();
        let mut work = Vec::new();
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
            routes.add_service(
                tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(gridloop_proto::FILE_DESCRIPTOR_SET)
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                    .build_v1()?,
            );
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
        let stop = stop_work.clone();
        let server = tokio::spawn(
            builder
                .layer(telemetry::GrpcLayer)
                .layer(security.layer.clone())
                .add_routes(routes.routes())
                .serve_with_incoming_shutdown(incoming, async move { stop.cancelled().await }),
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
        })
    }

    /// The installation's signing key, when it has one: in-process tools and tests mint their
    /// tokens with it (see `gridloop token issue`).
    pub fn signing_key(&self) -> Option<&SigningKey> {
        self.signing_key.as_deref()
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
    let http =
        gridloop_http::startup::build_standalone(listen, &args.backends, &args.up.store.data_dir, key_claims).await?;
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
        }
        .load()
        .unwrap();
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
