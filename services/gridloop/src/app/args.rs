//! What `gridloop up`, `gridloop serve` and `gridloop migrate` are told: the services, where
//! their stores and the bus are, the city's policy files, and each command's flags.

use crate::client::output::parse_time_zone;
use crate::nats_auth::NatsAuthArgs;
use crate::personal::PersonalDataArgs;
use anyhow::Context;
use gridloop_auth::SecurityArgs;
use gridloop_bus::jetstream::JetStreamConfig;
use gridloop_domain::calendar::{HolidaySchedule, Sla, WorkingCalendar, WorkingTime};
use gridloop_domain::catalog::Catalog;
use gridloop_domain::clock::{self, Tz};
use gridloop_domain::drift::DriftPolicy;
use gridloop_domain::duplicates::DuplicatePolicy;
use gridloop_domain::jurisdiction::Jurisdiction;
use gridloop_domain::mediation::MediationRules;
use gridloop_domain::policy::CityPolicy;
use gridloop_eventstore::{Durability, EventStore, StoreOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
        self.open_with(service_name, schema, Durability::Full).await
    }

    /// [`open`](Self::open), with what its SQLite commits survive.
    pub async fn open_with(
        &self,
        service_name: ServiceName,
        schema: Option<&str>,
        durability: Durability,
    ) -> anyhow::Result<EventStore> {
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
        EventStore::connect(&url, StoreOptions { schema, max_connections: 8, durability })
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
    #[command(flatten)]
    pub http_limits: gridloop_http::ClientLimitArgs,
    /// What the embedded stores' commits survive: `Full` for a city that is kept; the
    /// simulator's throwaway city takes `Relaxed`. Not a flag: a server's data is always kept.
    #[arg(skip)]
    pub durability: Durability,
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
            http_limits: gridloop_http::ClientLimitArgs::default(),
            durability: Durability::Full,
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
    pub(super) fn service(self) -> Option<ServiceName> {
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
#[derive(Debug, Clone, clap::Args)]
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
    /// The city's IANA time zone (daylight saving included): working hours, KPI days and weeks,
    /// and the local dates of imported history are read in it.
    #[arg(long, env = "GRIDLOOP_TIME_ZONE", default_value = "Asia/Shanghai", value_parser = parse_time_zone)]
    pub time_zone: Tz,
}

impl Default for PolicyFiles {
    fn default() -> Self {
        Self { jurisdiction: None, catalog: None, holidays: None, time_zone: clock::DEFAULT_ZONE }
    }
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
        let schedule = match &self.holidays {
            Some(path) => HolidaySchedule::from_toml(&read(path, "holidays")?)
                .with_context(|| format!("invalid holidays file {}", path.display()))?,
            None => HolidaySchedule::china_mainland(),
        };
        policy.calendar =
            WorkingCalendar::builder().schedule(&schedule).zone(self.time_zone).build().with_context(|| {
                self.holidays
                    .as_ref()
                    .map_or("the built-in holidays".into(), |path| format!("holidays file {}", path.display()))
            })?;
        if self.jurisdiction.is_some() || self.catalog.is_some() {
            policy.check_departments().context("the catalog names departments the jurisdiction lacks")?;
        }
        Ok(policy)
    }
}
