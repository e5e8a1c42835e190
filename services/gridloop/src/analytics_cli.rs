//! `gridloop export` and `gridloop import`: the stores read and written directly, for analysts.

use crate::app::{ServiceName, StoreLocation};
use crate::client::output::{parse_from, parse_time_zone, parse_to, Bound};
use crate::personal::{intake_vault, PersonalDataArgs, VaultContacts};
use anyhow::{bail, Context};
use gridloop_analytics::export::{export_events_with, Source};
use gridloop_analytics::import::{import_csv, Importer};
use gridloop_analytics::personal::PersonalData;
use gridloop_analytics::{EventFilter, ExportStats, Format, Progress};
use gridloop_domain::clock::Tz;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Parquet,
    Ndjson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportTable {
    /// One row per event of the services' event logs.
    Events,
    /// One row per case, from evaluation's case projection.
    Cases,
}

/// `gridloop export`: the event log (or the case table) as Parquet or NDJSON.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreLocation,
    /// What to export.
    #[arg(long, value_enum, default_value = "events")]
    pub table: ExportTable,
    /// The services whose event logs to export (repeatable; default: all four).
    #[arg(long = "service", value_enum)]
    pub services: Vec<ServiceName>,
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: ExportFormat,
    /// Output file; `-` writes to stdout.
    #[arg(long)]
    pub out: PathBuf,
    /// Keep events that occurred at or after this (RFC 3339, or YYYY-MM-DD = that day's local
    /// midnight, --time-zone); for cases, opened at or after.
    #[arg(long, value_parser = parse_from)]
    pub from: Option<Bound>,
    /// Keep events that occurred before this (RFC 3339, or YYYY-MM-DD = through that local day).
    #[arg(long, value_parser = parse_to)]
    pub to: Option<Bound>,
    /// The city's IANA time zone: the local days of --from/--to, and the KPI day counts when the
    /// case table's read model is built for the export.
    #[arg(long, env = "GRIDLOOP_TIME_ZONE", default_value = "Asia/Shanghai", value_parser = parse_time_zone)]
    pub time_zone: Tz,
    /// Jurisdiction code prefix (6, 9, 12 or 15 digits), matched against the case's grid code.
    #[arg(long)]
    pub area: Option<String>,
    /// Event type, with or without `gridloop.v1.` (repeatable; default: every type).
    #[arg(long = "type")]
    pub types: Vec<String>,
    /// Decrypt reporters' contacts into the columns `personal_reporter_id`, `_name` and `_phone`
    /// (marked as personal data) and keep descriptions as typed: for the installation's admin,
    /// who holds the master key. Without it an export carries no personal data in the clear.
    #[arg(long)]
    pub include_personal_data: bool,
    #[command(flatten)]
    pub personal: PersonalDataArgs,
}

/// `gridloop import`: another platform's case history (CSV) into dispatch's store.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub store: StoreLocation,
    /// The mapping file (TOML; see deploy/config/import-311.example.toml).
    #[arg(long)]
    pub mapping: PathBuf,
    /// The city's jurisdiction, catalog and holidays, as given to `gridloop up`.
    #[command(flatten)]
    pub policy: crate::app::PolicyFiles,
    /// Rejected rows the import tolerates before it fails (exit 1): a number of rows, or a share
    /// of the file's rows such as `0.5%`. A row repeating the id of a row imported from an
    /// earlier line never counts: its case is there.
    #[arg(long = "max-rejected", default_value = "0", value_parser = MaxRejected::parse)]
    pub max_rejected: MaxRejected,
    /// The CSV file.
    pub file: PathBuf,
}

/// How many rejected rows an import tolerates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxRejected {
    Rows(u64),
    /// A fraction of the file's rows (0.005 for `0.5%`).
    Share(f64),
}

impl MaxRejected {
    fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a number of rows or a percentage such as 0.5%");
        match text.trim().strip_suffix('%') {
            Some(percent) => {
                let share = percent.trim().parse::<f64>().map_err(|_| bad())? / 100.0;
                (0.0..=1.0).contains(&share).then_some(MaxRejected::Share(share)).ok_or_else(bad)
            }
            None => text.trim().parse().map(MaxRejected::Rows).map_err(|_| bad()),
        }
    }

    /// The rows tolerated of a file of `rows` rows.
    fn allowed(self, rows: u64) -> u64 {
        match self {
            MaxRejected::Rows(n) => n,
            MaxRejected::Share(share) => (share * rows as f64).floor() as u64,
        }
    }
}

/// A progress bar on stderr when it is a terminal (hidden otherwise), with the rate.
pub(crate) fn progress_bar(total: u64, unit: &str) -> ProgressBar {
    let target =
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {unit} {{per_sec}} eta {{eta}} {{msg}}"))
            .expect("valid template"),
    );
    bar
}

/// The installation's vault, to decrypt contacts for an admin's export: the master key must
/// exist (an export never creates one).
async fn personal_data_opener(args: &ExportArgs) -> anyhow::Result<VaultContacts> {
    let masters = args.personal.existing_master_keys(&args.store.data_dir)?;
    anyhow::ensure!(args.store.exists(ServiceName::Intake), "no intake store: it holds the reporters' data keys");
    Ok(VaultContacts(intake_vault(&args.store, masters).await?))
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let (from, to) = (args.from.map(|b| b.at(args.time_zone)), args.to.map(|b| b.at(args.time_zone)));
    let filter = EventFilter::new(from, to, args.area.as_deref(), &args.types)?;
    let format = match args.format {
        ExportFormat::Parquet => Format::Parquet,
        ExportFormat::Ndjson => Format::Ndjson,
    };
    let to_stdout = args.out == Path::new("-");
    if to_stdout && format == Format::Parquet && std::io::stdout().is_terminal() {
        bail!("Parquet is binary: give --out FILE, or pipe stdout");
    }
    let started = Instant::now();
    let (stats, unit) = match args.table {
        ExportTable::Events => {
            let explicit = !args.services.is_empty();
            let services = if explicit { args.services.clone() } else { ServiceName::ALL.to_vec() };
            let mut sources = Vec::new();
            for service in services {
                if !explicit && !args.store.exists(service) {
                    continue;
                }
                let store = args.store.open_existing(service).await?;
                sources.push(Source { service: service.as_str().to_string(), store });
            }
            if sources.is_empty() {
                bail!("no store in {}: nothing to export", args.store.data_dir.display());
            }
            let mut total = 0;
            for source in &sources {
                total += source.store.head_position().await? as u64;
            }
            let opener = match args.include_personal_data {
                true => Some(personal_data_opener(&args).await?),
                false => None,
            };
            let personal = match &opener {
                Some(opener) => PersonalData::Included(opener),
                None => PersonalData::Withheld,
            };
            let bar = progress_bar(total, "events");
            let mut progress = |p: Progress| bar.set_position(p.read);
            let stats = with_output(&args.out, |out| async move {
                Ok(export_events_with(&sources, &filter, format, out, &mut progress, personal).await?)
            })
            .await?;
            bar.finish_and_clear();
            (stats, "events")
        }
        ExportTable::Cases => {
            if !args.types.is_empty() || !args.services.is_empty() || args.include_personal_data {
                bail!("--type, --service and --include-personal-data apply to --table events only");
            }
            let store = crate::replay::evaluation_store(&args.store, args.time_zone).await?;
            let bar = progress_bar(0, "cases");
            let mut progress = |p: Progress| bar.set_position(p.read);
            let stats = with_output(&args.out, |out| async move {
                Ok(gridloop_analytics::cases::export_cases(store.pool(), &filter, format, out, &mut progress).await?)
            })
            .await?;
            bar.finish_and_clear();
            (stats, "cases")
        }
    };
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "wrote {} {unit} (of {} read) to {} in {secs:.1} s: {:.0} {unit}/s written, {:.0} read",
        stats.written,
        stats.read,
        args.out.display(),
        stats.written as f64 / secs.max(1e-9),
        stats.read as f64 / secs.max(1e-9)
    );
    Ok(())
}

async fn with_output<F, Fut>(out: &Path, run: F) -> anyhow::Result<ExportStats>
where
    F: FnOnce(Box<dyn Write + Send>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExportStats>>,
{
    if out == Path::new("-") {
        return run(Box::new(std::io::stdout())).await;
    }
    // Written to a temporary name and renamed when complete, so a failed export leaves no
    // truncated file that looks whole.
    let partial = out.with_extension("partial");
    let file = std::fs::File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    match run(Box::new(file)).await {
        Ok(stats) => {
            std::fs::rename(&partial, out).with_context(|| format!("cannot write {}", out.display()))?;
            Ok(stats)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let policy = args.policy.load()?;
    let text = std::fs::read_to_string(&args.mapping)
        .with_context(|| format!("cannot read the mapping file {}", args.mapping.display()))?;
    let importer =
        Importer::from_toml(&text, &policy).with_context(|| format!("mapping file {}", args.mapping.display()))?;
    let file = std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let store = args.store.open(ServiceName::Dispatch, None).await?;
    store.prepare_bulk_load().await.context("cannot prepare the dispatch store for the import")?;
    let bar = progress_bar(size, "bytes");
    let counting = CountingReader { inner: std::io::BufReader::with_capacity(1 << 20, file), bar: bar.clone() };
    let started = Instant::now();
    let mut on_bad = |row: &gridloop_analytics::import::BadRow| bar.suspend(|| eprintln!("rejected {row}"));
    let mut on_progress = |r: &gridloop_analytics::import::ImportReport| bar.set_message(r.summary());
    let report = import_csv(&store, &importer, counting, &mut on_bad, &mut on_progress)
        .await
        .with_context(|| format!("importing {}", args.file.display()))?;
    store.finish_bulk_load().await.context("cannot checkpoint the dispatch store after the import")?;
    bar.finish_and_clear();
    let rows = report.imported + report.already_present + report.updated;
    println!(
        "{}: {} in {:.1} s ({:.0} rows/s)",
        args.file.display(),
        report.summary(),
        started.elapsed().as_secs_f64(),
        rows as f64 / started.elapsed().as_secs_f64().max(1e-9)
    );
    if !report.uncovered_years.is_empty() {
        let years: Vec<String> = report.uncovered_years.iter().map(i32::to_string).collect();
        eprintln!(
            "warning: due times from the SLA in {} skip weekends only: the working calendar has no holidays for \
             those years (--holidays)",
            years.join(", ")
        );
    }
    let rows = rows + report.rejected.len() as u64;
    let allowed = args.max_rejected.allowed(rows);
    if report.lost() as u64 > allowed {
        bail!(
            "{} rows rejected (listed above), more than the {allowed} --max-rejected allows; the other rows were imported",
            report.lost()
        );
    }
    Ok(())
}

/// Moves the progress bar as the CSV is read.
struct CountingReader<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::MaxRejected;

    #[test]
    fn max_rejected_is_a_number_of_rows_or_a_share_of_the_file() {
        assert_eq!(MaxRejected::parse("3"), Ok(MaxRejected::Rows(3)));
        assert_eq!(MaxRejected::parse("0.5%"), Ok(MaxRejected::Share(0.005)));
        assert_eq!(MaxRejected::parse("0.5%").unwrap().allowed(1_000), 5);
        assert_eq!(MaxRejected::parse("0.5%").unwrap().allowed(199), 0);
        assert_eq!(MaxRejected::Rows(2).allowed(1), 2);
        assert!(MaxRejected::parse("150%").is_err());
        assert!(MaxRejected::parse("a few").unwrap_err().contains("percentage"));
    }
}
