//! Resources running out under `gridloop up`: a full disk under the SQLite stores and under a
//! Postgres database, a Postgres that turns read-only and one that goes away. Each time a command is refused with
//! UNAVAILABLE and a log line that says why ("disk full", "database read-only", "database
//! unreachable"); nothing of a refused command is written (the stores' events, outboxes and
//! timers agree afterwards); the service recovers by itself once space or the database is back,
//! without a restart; and while it is down, the relays and the timer loops retry a bounded
//! number of times (counted over a window), not in a loop.
#![cfg(unix)]

mod common;

use common::cluster::POLL;
use common::driver::report_request;
use common::postgres::Postgres;
use common::up::Up;
use gridloop::app::{ServiceName, StoreLocation};
use gridloop_auth::AuthChannel;
use gridloop_domain::jurisdiction::Jurisdiction;
use gridloop_eventstore::{EventStore, RecordedEvent};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_client::DispatchServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use tonic::Code;

/// A grid-level category of the default city.
const CATEGORY: &str = "env.debris";
/// How long a fault is held while the retries are counted.
const OUTAGE: Duration = Duration::from_secs(15);
/// Most attempts one relay or timer loop may make during [`OUTAGE`]: its pauses double from
/// 0.5 s (relay) or 1 s (timers) up to 10 s, so at most 6; a fixed half-second pause made 30.
const MAX_RETRIES_IN_OUTAGE: usize = 6;
/// Longest wait for something the test expects to happen (not a timed assertion: a bound
/// on a hang).
const PATIENCE: Duration = Duration::from_secs(120);

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skip with `reason` locally; fail under CI=true, where every backend must be there.
fn skip(reason: &str) {
    assert!(!under_ci(), "{reason} and CI=true");
    eprintln!("skipping: {reason}");
}

/// A small file system of the test's own, to fill up: a tmpfs, or else an ext4 loop file.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    const SIZE_MB: u32 = 32;

    fn mount() -> Result<SmallDisk, String> {
        let dir = tempfile::tempdir().unwrap();
        let disk = SmallDisk { dir };
        let mnt = disk.path();
        std::fs::create_dir(&mnt).unwrap();
        let size = format!("size={}m", Self::SIZE_MB);
        let tmpfs = run("mount", &["-t", "tmpfs", "-o", &size, "tmpfs", &mnt.display().to_string()]);
        if tmpfs.is_ok() {
            return Ok(disk);
        }
        let image = disk.dir.path().join("disk.img").display().to_string();
        run("truncate", &["-s", &format!("{}M", Self::SIZE_MB), &image])?;
        run("mkfs.ext4", &["-q", "-F", &image])?;
        run("mount", &["-o", "loop", &image, &mnt.display().to_string()])
            .map_err(|loop_error| format!("{}; {loop_error}", tmpfs.unwrap_err()))?;
        Ok(disk)
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Write a file until the file system has no block left.
    fn fill(&self) {
        let mut file = std::fs::File::create(self.filler()).unwrap();
        for chunk in [1 << 20, 64 << 10, 4 << 10, 512, 1] {
            let bytes = vec![0u8; chunk];
            while file.write_all(&bytes).and_then(|()| file.sync_all()).is_ok() {}
        }
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = run("umount", &["-l", &self.path().display().to_string()]);
    }
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!("{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())),
        Err(error) => Err(format!("{program}: {error}")),
    }
}

/// The test's clients, and the cases intake acknowledged.
struct Reporter {
    intake: IntakeServiceClient<AuthChannel>,
    dispatch: DispatchServiceClient<AuthChannel>,
    location: pb::GeoPoint,
    next: usize,
    acknowledged: BTreeSet<String>,
}

impl Reporter {
    async fn of(up: &Up) -> Reporter {
        let (lat, lon) = Jurisdiction::default_city().grids().next().expect("a grid").interior_point();
        Reporter {
            intake: IntakeServiceClient::new(up.channel().await),
            dispatch: DispatchServiceClient::new(up.channel().await),
            location: pb::GeoPoint::wgs84(lat, lon),
            next: 0,
            acknowledged: BTreeSet::new(),
        }
    }

    /// One report with a fresh client key, never retried: an acknowledged one is remembered,
    /// a refused one must leave nothing behind.
    async fn report(&mut self) -> Result<String, tonic::Status> {
        self.next += 1;
        let request = report_request("resources", self.next, self.location, CATEGORY);
        let case_id = self.intake.report_case(request).await?.into_inner().case_id;
        self.acknowledged.insert(case_id.clone());
        Ok(case_id)
    }

    /// A reporter whose first three reports the service took and dispatched, before any fault.
    async fn with_cases_dispatched(up: &Up) -> Reporter {
        let mut reporter = Reporter::of(up).await;
        for _ in 0..3 {
            reporter.report().await.expect("the service takes reports before the fault");
        }
        reporter.until_all_dispatched().await;
        reporter
    }

    /// Report until a report is refused as UNAVAILABLE for `reason` (at most `attempts`);
    /// the refusal. Refusals for another reason may come first (a session cut by the fault
    /// fails as the database going away).
    async fn until_refused(&mut self, reason: &str, attempts: usize) -> tonic::Status {
        for _ in 0..attempts {
            match self.report().await {
                Ok(_) => {}
                Err(status) if status.code() == Code::Unavailable && status.message().contains(reason) => {
                    return status
                }
                Err(status) if status.code() == Code::Unavailable => {
                    eprintln!("refused before the fault showed: {status:?}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(status) => panic!("refused other than as UNAVAILABLE: {status:?}"),
            }
        }
        panic!("{attempts} reports, none refused for {reason:?}");
    }

    /// Report until one is acknowledged: the service has recovered by itself. Only UNAVAILABLE
    /// may come before (the relay's or the pool's next attempt may still be due).
    async fn until_acknowledged(&mut self) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.report().await {
                Ok(case_id) => return case_id,
                Err(status) if status.code() == Code::Unavailable && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(status) => panic!("no recovery: {status:?}"),
            }
        }
    }

    /// Wait until dispatch has every acknowledged case open (the bus delivered each report).
    async fn until_all_dispatched(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        for case_id in self.acknowledged.clone() {
            let request = pb::GetCaseRequest { case_id: case_id.clone(), ..Default::default() };
            loop {
                let state = self.dispatch.get_case(request.clone()).await.ok().and_then(|r| r.into_inner().case);
                if state.is_some_and(|case| case.state() == pb::CaseState::Dispatched) {
                    break;
                }
                assert!(Instant::now() < deadline, "case {case_id} never reached dispatch");
                tokio::time::sleep(POLL * 4).await;
            }
        }
    }
}

/// Every event of `store`, in order.
async fn all_events(store: &EventStore) -> Vec<RecordedEvent> {
    let mut events: Vec<RecordedEvent> = Vec::new();
    loop {
        let after = events.last().map_or(0, |e| e.global_position);
        let batch = store.read_all(after, 1000).await.unwrap();
        if batch.is_empty() {
            return events;
        }
        events.extend(batch);
    }
}

/// The cases `store` holds an event of type `event_type` for, checking on the way that its log
/// has no gap (a commit is all or nothing) and that its outbox was relayed in full.
async fn cases_with(store: &EventStore, event_type: &str) -> BTreeSet<String> {
    let events = all_events(store).await;
    let positions: Vec<i64> = events.iter().map(|e| e.global_position).collect();
    assert_eq!(positions, (1..=events.len() as i64).collect::<Vec<_>>(), "the log has gaps");
    assert_eq!(store.head_position().await.unwrap(), events.len() as i64);
    assert_eq!(store.outbox_depth().await.unwrap(), 0, "events left unrelayed");
    events.iter().filter(|e| e.event_type.ends_with(event_type)).map(|e| e.correlation_id.clone()).collect()
}

/// After the service stopped: intake recorded exactly the acknowledged reports (a refused one
/// left nothing), dispatch opened exactly those cases, each with one deadline timer armed in
/// the same transaction.
async fn check_nothing_partial(stores: &StoreLocation, acknowledged: &BTreeSet<String>) {
    let intake = stores.open(ServiceName::Intake, None).await.unwrap();
    assert_eq!(&cases_with(&intake, ".CaseReported").await, acknowledged, "intake's reports");
    let dispatch = stores.open(ServiceName::Dispatch, None).await.unwrap();
    assert_eq!(&cases_with(&dispatch, ".CaseDispatched").await, acknowledged, "dispatch's cases");
    let far = chrono::Utc::now() + chrono::Duration::days(3650);
    let timers = dispatch.due_timers(far, 100_000).await.unwrap();
    let armed: Vec<String> =
        timers.iter().filter_map(|t| t.key.strip_prefix("deadline:")).map(str::to_string).collect();
    assert_eq!(armed.len(), acknowledged.len(), "one deadline timer per open case: {armed:?}");
    assert_eq!(&armed.into_iter().collect::<BTreeSet<_>>(), acknowledged);
}

/// Hold the fault for [`OUTAGE`] and count, from the log, the failed attempts in that window of
/// each relay and of the timer loops (all four together): a bounded number, whatever the
/// length of the outage.
async fn retries_during_outage(up: &Up) -> Vec<(String, usize)> {
    let counts = |up: &Up| -> Vec<(String, usize)> {
        let mut counts: Vec<(String, usize)> = ["intake", "dispatch", "mediation", "evaluation"]
            .iter()
            .map(|source| {
                let source_field = format!("source={source}");
                (format!("relay {source}"), up.lines_with(&["outbox relay failed", &source_field]).len())
            })
            .collect();
        counts.push(("timer loops".into(), up.lines_with(&["due timers", "failed"]).len()));
        counts
    };
    let before = counts(up);
    tokio::time::sleep(OUTAGE).await;
    let after = counts(up);
    before.into_iter().zip(after).map(|((name, before), (_, after))| (name, after - before)).collect()
}

fn assert_bounded(retries: &[(String, usize)]) {
    eprintln!("failed attempts in {OUTAGE:?}: {retries:?}");
    for (name, count) in retries {
        let bound = if name == "timer loops" { 4 * MAX_RETRIES_IN_OUTAGE } else { MAX_RETRIES_IN_OUTAGE };
        assert!(*count <= bound, "{name}: {count} attempts in {OUTAGE:?}, more than {bound}: {retries:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_commands_as_unavailable_keeps_nothing_partial_and_recovers_once_freed() {
    let disk = match SmallDisk::mount() {
        Ok(disk) => disk,
        Err(reason) => return skip(&format!("cannot mount a small file system ({reason})")),
    };
    let data = disk.path().join("data");
    let up = Up::start(&data, None);
    let mut reporter = Reporter::with_cases_dispatched(&up).await;

    disk.fill();
    // The WAL files have room left from earlier commits: reports go on until it runs out.
    reporter.until_refused("(disk full)", 2_000).await;
    assert!(!up.lines_with(&["storage unavailable (disk full)"]).is_empty(), "no log line says so:\n{}", up.log());
    let refused_again = reporter.report().await.expect_err("the disk is still full");
    assert_eq!(refused_again.code(), Code::Unavailable);
    assert_bounded(&retries_during_outage(&up).await);

    disk.free();
    reporter.until_acknowledged().await;
    reporter.until_all_dispatched().await;
    let acknowledged = reporter.acknowledged.clone();
    eprintln!("acknowledged {} reports", acknowledged.len());
    eprintln!("{}", up.lines_with(&["storage unavailable"]).join("\n"));
    up.stop();
    check_nothing_partial(&StoreLocation::embedded(&data), &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_or_stopped_postgres_refuses_commands_as_unavailable_and_the_service_recovers_by_itself() {
    let Some(postgres) = Postgres::start() else { return skip("no Postgres server is installed") };
    let data = tempfile::tempdir().unwrap();
    let up = Up::start(data.path(), Some(&postgres.url()));
    let mut reporter = Reporter::with_cases_dispatched(&up).await;

    // Read-only, as a standby or `default_transaction_read_only` makes it, for new sessions:
    // every session is cut, so the service's next ones are read-only.
    postgres.sql(&[
        "ALTER DATABASE postgres SET default_transaction_read_only = on",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'postgres'",
    ]);
    reporter.until_refused("(database read-only)", 50).await;
    assert!(!up.lines_with(&["storage unavailable (database read-only)"]).is_empty(), "{}", up.log());
    postgres.sql(&["ALTER DATABASE postgres RESET default_transaction_read_only"]);
    reporter.until_acknowledged().await;

    // Gone.
    postgres.stop();
    reporter.until_refused("(database unreachable)", 50).await;
    assert!(!up.lines_with(&["storage unavailable (database unreachable)"]).is_empty(), "{}", up.log());
    assert_bounded(&retries_during_outage(&up).await);
    postgres.resume();
    reporter.until_acknowledged().await;
    reporter.until_all_dispatched().await;

    let acknowledged = reporter.acknowledged.clone();
    for needle in ["storage unavailable", "relay", "timers"] {
        eprintln!("{}", up.lines_with(&[needle]).join("\n"));
    }
    up.stop();
    let stores = StoreLocation { database_url: Some(postgres.url()), ..StoreLocation::embedded(data.path()) };
    check_nothing_partial(&stores, &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_out_of_disk_refuses_commands_as_unavailable_and_recovers_once_freed() {
    let Some(postgres) = Postgres::start() else { return skip("no Postgres server is installed") };
    let disk = match SmallDisk::mount() {
        Ok(disk) => disk,
        Err(reason) => return skip(&format!("cannot mount a small file system ({reason})")),
    };
    // The database's tables on the small disk, the server's write-ahead log elsewhere: a full
    // disk then fails the extension of a table (SQLSTATE 53100), as when a tablespace's volume
    // fills, instead of stopping the server.
    let space = disk.path().join("tablespace");
    std::fs::create_dir(&space).unwrap();
    postgres.give_directory(&space);
    postgres.sql(&[
        &format!("CREATE TABLESPACE small LOCATION '{}'", space.display()),
        "CREATE DATABASE gridloop TABLESPACE small",
    ]);
    let data = tempfile::tempdir().unwrap();
    let url = postgres.url_of("gridloop");
    let up = Up::start(data.path(), Some(&url));
    let mut reporter = Reporter::with_cases_dispatched(&up).await;

    disk.fill();
    // Pages already allocated have room: reports go on until a table must grow.
    reporter.until_refused("(disk full)", 5_000).await;
    assert!(!up.lines_with(&["storage unavailable (disk full)"]).is_empty(), "no log line says so:\n{}", up.log());

    disk.free();
    reporter.until_acknowledged().await;
    reporter.until_all_dispatched().await;
    let acknowledged = reporter.acknowledged.clone();
    eprintln!("acknowledged {} reports", acknowledged.len());
    eprintln!("{}", up.lines_with(&["storage unavailable"]).join("\n"));
    up.stop();
    let stores = StoreLocation { database_url: Some(url), ..StoreLocation::embedded(data.path()) };
    check_nothing_partial(&stores, &acknowledged).await;
}
