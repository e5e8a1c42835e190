//! `gridloop replay` and the "as of" KPIs: rebuild the evaluation service's case projection from
//! dispatch's event log — read from dispatch's store, or from the JetStream stream in
//! distributed mode — into a fresh read model, in place, or into a scratch file for "as of".

use crate::analytics_cli::progress_bar;
use crate::app::{ServiceName, StoreLocation};
pub use crate::client::output::Bound;
use crate::client::output::{parse_from, parse_time_zone, parse_to};
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::{ArgGroup, Args, ValueEnum};
use gridloop_bus::jetstream::{HistoryReader, JetStreamConfig, ReplayStart};
use gridloop_domain::clock::Tz;
use gridloop_domain::kpi::{Period, Report};
use gridloop_evaluation::kpi::CaseFilter;
use gridloop_evaluation::replay::{self, Rebuild, ReplayStats, Scratch};
use gridloop_eventstore::{EventStore, Pages, RecordedEvent, StoreOptions};
use gridloop_proto::v1 as pb;
use indicatif::ProgressBar;
use std::time::Instant;

/// Events read from the store per page.
const PAGE: u32 = 10_000;

/// Where the history comes from.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub store: StoreLocation,
    /// Read dispatch's events from the JetStream stream instead of its store (distributed mode;
    /// the stream holds only what its retention keeps, the store holds everything).
    #[arg(long)]
    pub jetstream: bool,
    /// NATS server of the stream (with --jetstream).
    #[arg(long = "nats-url", env = "GRIDLOOP_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// The JetStream stream holding the events.
    #[arg(long, env = "GRIDLOOP_STREAM", default_value = "GRIDLOOP")]
    pub stream: String,
    /// First token of every subject.
    #[arg(long = "subject-prefix", env = "GRIDLOOP_SUBJECT_PREFIX", default_value = "gridloop")]
    pub subject_prefix: String,
    #[command(flatten)]
    pub nats_auth: crate::app::NatsAuthArgs,
    /// JetStream: start at this stream sequence (cases opened before it are skipped and counted).
    #[arg(long, requires = "jetstream", conflicts_with = "start_time")]
    pub start_sequence: Option<u64>,
    /// JetStream: start at the first message stored at or after this time (RFC 3339, or
    /// YYYY-MM-DD = that day's local midnight, --time-zone).
    #[arg(long, requires = "jetstream", value_parser = parse_from)]
    pub start_time: Option<Bound>,
    /// Only events that occurred at or before this instant: the projection as it stood then
    /// (RFC 3339, or YYYY-MM-DD = as that local day ended, --time-zone).
    #[arg(long = "as-of", value_parser = parse_to)]
    pub until: Option<Bound>,
}

impl HistoryArgs {
    /// Dispatch's history from the embedded store on `data_dir`.
    pub fn embedded(data_dir: impl Into<std::path::PathBuf>) -> Self {
        Self {
            store: StoreLocation::embedded(data_dir),
            jetstream: false,
            nats_url: String::new(),
            stream: String::new(),
            subject_prefix: String::new(),
            nats_auth: crate::app::NatsAuthArgs::default(),
            start_sequence: None,
            start_time: None,
            until: None,
        }
    }
}

/// dispatch's events in order, a batch at a time.
pub enum History {
    Store { pages: Pages, head: i64, until: Option<DateTime<Utc>> },
    JetStream { reader: Box<HistoryReader>, until: Option<DateTime<Utc>> },
}

impl History {
    /// The history `args` name; their dates are local days in `zone`.
    pub async fn open(args: &HistoryArgs, zone: Tz) -> Result<Self> {
        let until = args.until.map(|bound| bound.at(zone));
        if args.jetstream {
            let config = JetStreamConfig {
                stream: args.stream.clone(),
                subject_prefix: args.subject_prefix.clone(),
                auth: args.nats_auth.auth(),
                ..JetStreamConfig::new(args.nats_url.clone())
            };
            let start = match (args.start_sequence, args.start_time) {
                (Some(sequence), _) => ReplayStart::Sequence(sequence),
                (None, Some(at)) => ReplayStart::Time(at.at(zone)),
                (None, None) => ReplayStart::Beginning,
            };
            let reader = HistoryReader::open(&config, ServiceName::Dispatch.as_str(), start)
                .await
                .with_context(|| format!("cannot read stream {} at {}", args.stream, args.nats_url))?;
            return Ok(History::JetStream { reader: Box::new(reader), until });
        }
        let store = args.store.open_existing(ServiceName::Dispatch).await?;
        let head = store.head_position().await?;
        Ok(History::Store { pages: store.scan(0, head, PAGE), head, until })
    }

    /// Events to read in all (for the progress bar).
    pub fn total(&self) -> u64 {
        match self {
            History::Store { head, .. } => u64::try_from(*head).unwrap_or_default(),
            History::JetStream { reader, .. } => reader.total(),
        }
    }

    /// The next batch (events after `until` left out), with how many events were read for it;
    /// `None` at the end.
    pub async fn next_batch(&mut self) -> Result<Option<(Vec<RecordedEvent>, u64)>> {
        let (mut batch, until) = match self {
            History::Store { pages, until, .. } => match pages.recv().await {
                Some(batch) => (batch?, *until),
                None => return Ok(None),
            },
            History::JetStream { reader, until } => {
                let batch = reader.next_batch(PAGE as usize).await?;
                if batch.is_empty() {
                    return Ok(None);
                }
                (batch, *until)
            }
        };
        let read = batch.len() as u64;
        if let Some(until) = until {
            batch.retain(|e| e.occurred_at <= until);
        }
        Ok(Some((batch, read)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProjectionArg {
    /// The evaluation service's one-row-per-case projection (case list, 4321, KPIs).
    Cases,
}

/// `gridloop replay`: rebuild a projection from the event log.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["into", "in_place"])))]
pub struct ReplayArgs {
    /// The projection to rebuild.
    #[arg(long, value_enum, default_value = "cases")]
    pub projection: ProjectionArg,
    #[command(flatten)]
    pub history: HistoryArgs,
    /// Build the projection in this fresh database: a SQLite file (`sqlite://rebuilt.db` or a
    /// path) or a Postgres URL (with --into-schema).
    #[arg(long)]
    pub into: Option<String>,
    /// The Postgres schema for --into [default: evaluation_replay].
    #[arg(long = "into-schema", requires = "into")]
    pub into_schema: Option<String>,
    /// Rebuild the evaluation service's own projection (stop the evaluation service first): how a
    /// projection added or changed by an upgrade is computed over the whole history.
    #[arg(long = "in-place")]
    pub in_place: bool,
    /// Then compare the rebuilt projection with the evaluation service's live one, byte for
    /// byte, and fail if they differ.
    #[arg(long, conflicts_with = "in_place")]
    pub verify: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// The city's IANA time zone: dates in --as-of and --start-time are its local days, and the
    /// KPI day counts of a fresh projection are cut in it.
    #[arg(long, env = "GRIDLOOP_TIME_ZONE", default_value = "Asia/Shanghai", value_parser = parse_time_zone)]
    pub time_zone: Tz,
}

/// What a replay did.
#[derive(Debug, Clone, Copy)]
pub struct ReplaySummary {
    pub stats: ReplayStats,
    pub seconds: f64,
}

impl ReplaySummary {
    pub fn events_per_second(&self) -> f64 {
        self.stats.events as f64 / self.seconds.max(1e-9)
    }
}

/// Fold the whole history into `target`.
pub async fn rebuild(history: &mut History, target: &mut Rebuild, bar: &ProgressBar) -> Result<ReplaySummary> {
    let started = Instant::now();
    while let Some((batch, read)) = history.next_batch().await? {
        target.apply(&batch).await?;
        bar.inc(read);
    }
    bar.finish_and_clear();
    Ok(ReplaySummary { stats: target.stats(), seconds: started.elapsed().as_secs_f64() })
}

/// Evaluation's store for an offline command. When the data dir holds dispatch's store but not
/// yet evaluation's — history was imported and the services have not run on it since — it is
/// created and its read model built from dispatch's log, as the service would on its first start.
/// Its KPI day counts are cut in `zone`.
pub async fn evaluation_store(location: &StoreLocation, zone: Tz) -> Result<EventStore> {
    if location.exists(ServiceName::Evaluation) {
        return location.open(ServiceName::Evaluation, None).await;
    }
    if !location.exists(ServiceName::Dispatch) {
        return location.open_existing(ServiceName::Evaluation).await;
    }
    let store = location.open(ServiceName::Evaluation, None).await?;
    let mut target = Rebuild::new(store.clone(), false, zone).await?;
    let history_args = HistoryArgs { store: location.clone(), ..HistoryArgs::embedded(&location.data_dir) };
    let mut history = History::open(&history_args, zone).await?;
    let bar = progress_bar(history.total(), "events");
    let summary = rebuild(&mut history, &mut target, &bar).await?;
    eprintln!(
        "no evaluation store yet: built its read model from dispatch's {} events in {:.1} s",
        summary.stats.events, summary.seconds
    );
    Ok(store)
}

async fn open_target(args: &ReplayArgs) -> Result<EventStore> {
    if args.in_place {
        // In place over a data dir whose evaluation store is not there yet: a fresh one.
        let location = &args.history.store;
        if !location.exists(ServiceName::Evaluation) && location.exists(ServiceName::Dispatch) {
            return location.open(ServiceName::Evaluation, None).await;
        }
        return location.open_existing(ServiceName::Evaluation).await;
    }
    let into = args.into.as_deref().expect("clap requires --into or --in-place");
    let (url, schema) = if into.starts_with("postgres://") || into.starts_with("postgresql://") {
        (into.to_string(), Some(args.into_schema.clone().unwrap_or_else(|| "evaluation_replay".into())))
    } else if into.starts_with("sqlite:") {
        (into.to_string(), None)
    } else {
        (format!("sqlite://{into}"), None)
    };
    EventStore::connect(&url, StoreOptions { schema, max_connections: 4, ..StoreOptions::default() })
        .await
        .with_context(|| format!("cannot open the replay target {into}"))
}

pub async fn run(args: ReplayArgs) -> Result<()> {
    let ProjectionArg::Cases = args.projection;
    // Said before the replay, not after it.
    if args.verify && !args.history.store.exists(ServiceName::Evaluation) {
        bail!(
            "--verify compares with the evaluation service's read model, and {} has none: the services \
             have not run on this data (`gridloop replay --in-place` builds it)",
            args.history.store.data_dir.display()
        );
    }
    // The history first: a wrong --data-dir leaves no target behind.
    let mut history = History::open(&args.history, args.time_zone).await?;
    let target_store = open_target(&args).await?;
    let mut target = Rebuild::new(target_store.clone(), args.in_place, args.time_zone).await?;
    let bar = progress_bar(history.total(), "events");
    let summary = rebuild(&mut history, &mut target, &bar).await?;
    let verified = if args.verify {
        let live = args.history.store.open_existing(ServiceName::Evaluation).await?;
        Some(replay::same_read_model(live.pool(), target_store.pool()).await?)
    } else {
        None
    };
    let stats = summary.stats;
    if args.json {
        let out = serde_json::json!({
            "projection": "cases",
            "events": stats.events,
            "applied": stats.applied,
            "skipped": stats.skipped,
            "policy": stats.policy,
            "seconds": summary.seconds,
            "events_per_second": summary.events_per_second(),
            "equals_live": verified,
        });
        println!("{out}");
    } else {
        println!(
            "replayed {} events ({} applied, {} skipped, {} policy) in {:.2} s: {:.0} events/s",
            stats.events,
            stats.applied,
            stats.skipped,
            stats.policy,
            summary.seconds,
            summary.events_per_second()
        );
        if verified == Some(true) {
            println!("the rebuilt projection equals the live one");
        }
    }
    if stats.skipped > 0 {
        eprintln!(
            "warning: {} case events were skipped: their cases' earlier events were not replayed (history \
             starts mid-way) or were delivered twice",
            stats.skipped
        );
    }
    if verified == Some(false) {
        bail!("the rebuilt projection differs from the live one");
    }
    Ok(())
}

/// The KPIs as they stood at `history.until`: the log folded into a scratch read model (a
/// temporary SQLite file, so memory stays flat however long the history) and queried as the
/// live service queries its own.
pub async fn kpis_as_of(
    history: &HistoryArgs,
    filter: &CaseFilter,
    period: Period,
    zone: Tz,
) -> Result<pb::GetKpisResponse> {
    let mut source = History::open(history, zone).await?;
    let bar = progress_bar(source.total(), "events");
    let mut cases = Scratch::new(zone).await?;
    while let Some((batch, read)) = source.next_batch().await? {
        cases.apply(&batch).await?;
        bar.inc(read);
    }
    bar.finish_and_clear();
    let mut report = Report::new(period, zone);
    cases.report(filter, &mut report).await?;
    Ok(gridloop_evaluation::kpi::response(period, &report, Utc::now()))
}
