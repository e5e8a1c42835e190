//! The fault suite: the four services as `gridloop serve` processes on a Postgres cluster and a
//! NATS JetStream server of the test's own, while cases go around the loop (report → accept →
//! resolve → evaluate; some rejected, escalated, reopened, and some left to the feedback
//! deadline, which closes them by the default evaluation) and a schedule injects, in turn and
//! overlapping: SIGKILL of each service, a Postgres restart and a 20-second outage, NATS stopped
//! for 30 seconds, a consumer stalled past its AckWait, copies of published events put back on
//! the stream in order and reversed, and one undecodable event.
//!
//! Afterwards, from the stores and the stream: every acknowledged report is exactly one case,
//! in its expected final state, with each step once in dispatch's history and in evaluation's
//! projections, each feedback deadline fired once, and the dead-letter stream holding the
//! undecodable event only. It prints `fault suite: cases N, faults F, lost 0, doubled 0, stuck 0`.
//!
//! `cargo test -p gridloop --test faults` runs 300 cases; the full size:
//! `GRIDLOOP_FAULT_CASES=10000 cargo test --release -p gridloop --test faults -- --nocapture`.
#![cfg(unix)]

mod common;

use common::cluster::{Cluster, Nats, POLL};
use common::driver::{drive, listed_cases, report, short_type, Clients, Plan, LOOP_DEADLINE};
use common::nats_server_binary;
use common::postgres::Postgres;
use futures::stream::{self, StreamExt};
use gridloop_domain::jurisdiction::Jurisdiction;
use gridloop_eventstore::{EventStore, StoreOptions};
use gridloop_proto::v1 as pb;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Cases in a `cargo test` run; `GRIDLOOP_FAULT_CASES` sets another size.
const DEFAULT_CASES: usize = 300;
/// Cases driven at the same time.
const CONCURRENCY: usize = 48;
/// The services' JetStream AckWait (`JetStreamConfig::new`): a consumer stalled longer has its
/// unacknowledged deliveries handed out again.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// The category whose reporters never answer: its feedback deadline is short enough to fall due
/// while the faults go on.
const UNANSWERED: &str = "env.unanswered";
/// The undecodable event put on a subject intake's consumers read.
const POISON: &[u8] = b"\xff\xff\xff not an event envelope";
const POISON_SUBJECT: &str = "gridloop.evt.321012.001.001.001.intake.CaseReported";

fn case_count() -> usize {
    std::env::var("GRIDLOOP_FAULT_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_CASES)
}

fn plan_of(index: usize) -> Plan {
    match index % 10 {
        0 => Plan::Reject,
        1 => Plan::Escalate,
        2 => Plan::Reopen,
        3 => Plan::Deadline,
        _ => Plan::Close,
    }
}

/// The shipped responsibility list plus a category whose feedback deadline is 20 seconds.
fn catalog_with_a_short_feedback_deadline(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/k8s/base/city/catalog.toml");
    let mut catalog = std::fs::read_to_string(shipped).expect("the shipped catalog");
    catalog.push_str(&format!(
        r#"
[[categories]]
code = "{UNANSWERED}"
name = "无人回访"
class = "env"
start_level = "grid"
priority = "routine"
accept_sla = "1 working day"
resolve_sla = ["2 working days", "3 working days", "5 working days", "7 working days"]
feedback_sla = "20 s"
mediable = false

[categories.departments]
street = "urban-management"
district = "urban-management"
"#
    ));
    let path = dir.join("catalog.toml");
    std::fs::write(&path, catalog).unwrap();
    path
}

/// The faults, in the order the schedule injects them.
struct Faults<'a> {
    cluster: &'a mut Cluster,
    nats: &'a mut Nats,
    postgres: &'a Postgres,
    injected: Vec<String>,
}

impl Faults<'_> {
    fn note(&mut self, fault: impl Into<String>) {
        let fault = fault.into();
        eprintln!("fault: {fault}");
        self.injected.push(fault);
    }

    async fn kill_and_restart(&mut self, service: &'static str) {
        self.cluster.kill_9(service);
        self.note(format!("SIGKILL {service}"));
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.cluster.restart(service);
    }

    /// Dispatch killed and Postgres restarted under the others at the same moment.
    async fn postgres_restart_with_dispatch_killed(&mut self) {
        self.cluster.kill_9("dispatch");
        self.note("SIGKILL dispatch");
        self.postgres.restart();
        self.note("Postgres restart");
        self.cluster.restart("dispatch");
    }

    /// Evaluation stopped (SIGSTOP) past the AckWait, and mediation killed meanwhile.
    async fn evaluation_stalled_with_mediation_killed(&mut self) {
        self.cluster.signal_service("evaluation", "STOP");
        self.note("evaluation stalled past AckWait");
        tokio::time::sleep(ACK_WAIT / 2).await;
        self.kill_and_restart("mediation").await;
        tokio::time::sleep(ACK_WAIT / 2 + Duration::from_secs(5)).await;
        self.cluster.signal_service("evaluation", "CONT");
    }

    /// NATS gone for 30 seconds; evaluation killed while it is away.
    async fn nats_outage_with_evaluation_killed(&mut self) {
        self.nats.stop();
        self.note("NATS stopped 30 s");
        tokio::time::sleep(Duration::from_secs(10)).await;
        self.cluster.kill_9("evaluation");
        self.note("SIGKILL evaluation");
        tokio::time::sleep(Duration::from_secs(20)).await;
        self.nats.spawn();
        self.cluster.restart("evaluation");
    }

    /// Postgres gone for 20 seconds; intake killed while it is away.
    async fn postgres_outage_with_intake_killed(&mut self) {
        self.postgres.stop();
        self.note("Postgres stopped 20 s");
        tokio::time::sleep(Duration::from_secs(5)).await;
        self.cluster.kill_9("intake");
        self.note("SIGKILL intake");
        tokio::time::sleep(Duration::from_secs(15)).await;
        self.postgres.resume();
        self.cluster.restart("intake");
    }

    async fn duplicates(&mut self, reversed: bool) {
        let copies = republish_recent(&self.nats.url(), 300, reversed).await;
        assert!(copies > 0, "events to copy");
        self.note(if reversed { "reordered deliveries" } else { "duplicated deliveries" });
    }

    async fn poison(&mut self) {
        let client = async_nats::connect(self.nats.url()).await.unwrap();
        let jetstream = async_nats::jetstream::new(client);
        jetstream.publish(POISON_SUBJECT, POISON.into()).await.unwrap().await.unwrap();
        self.note("poison event");
    }
}

/// Publish again the last `count` events of the stream (reversed: newest first) under fresh
/// message ids, so JetStream's duplicate window keeps them: each consumer gets events it has
/// already handled, possibly before their predecessors. Returns how many were published.
async fn republish_recent(url: &str, count: u64, reversed: bool) -> usize {
    let client = async_nats::connect(url).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let mut events = jetstream.get_stream("GRIDLOOP").await.unwrap();
    let last = events.info().await.unwrap().state.last_sequence;
    let mut copies = Vec::new();
    for sequence in last.saturating_sub(count) + 1..=last {
        if let Ok(message) = events.get_raw_message(sequence).await {
            copies.push(message);
        }
    }
    if reversed {
        copies.reverse();
    }
    for message in &copies {
        let mut headers = async_nats::HeaderMap::new();
        for name in ["Gridloop-Source", "Gridloop-Event-Type", "Gridloop-Case-Id", "traceparent"] {
            if let Some(value) = message.headers.get(name) {
                headers.insert(name, value.as_str());
            }
        }
        let subject = message.subject.to_string();
        jetstream.publish_with_headers(subject, headers, message.payload.clone()).await.unwrap().await.unwrap();
    }
    copies.len()
}

/// The dead-letter stream's messages: (consumer, reason, payload).
async fn dead_letters(url: &str) -> Vec<(String, String, Vec<u8>)> {
    let client = async_nats::connect(url).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = jetstream.get_stream("GRIDLOOP_DLQ").await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    let mut letters = Vec::new();
    for sequence in state.first_sequence..=state.last_sequence {
        let Ok(message) = stream.get_raw_message(sequence).await else { continue };
        let header = |name: &str| message.headers.get(name).map(|v| v.as_str().to_string()).unwrap_or_default();
        letters.push((header("Gridloop-Consumer"), header("Gridloop-Reason"), message.payload.to_vec()));
    }
    letters
}

/// The durable consumers that read intake's events (each dead-letters the poison event once).
async fn intake_consumers(url: &str) -> HashSet<String> {
    let client = async_nats::connect(url).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream.get_stream("GRIDLOOP").await.unwrap();
    let mut infos = stream.consumers();
    let mut names = HashSet::new();
    while let Some(info) = infos.next().await {
        let info = info.unwrap();
        if info.config.filter_subject.contains(".intake.") {
            names.insert(info.name.replace('_', "."));
        }
    }
    names
}

/// Events of evaluation's store per case: event type → count.
async fn evaluation_events(cluster: &Cluster, url: &str) -> HashMap<String, BTreeMap<String, usize>> {
    let options =
        StoreOptions { schema: Some(cluster.schema("evaluation")), max_connections: 2, ..StoreOptions::default() };
    let store = EventStore::connect(url, options).await.expect("evaluation's store");
    let mut per_case: HashMap<String, BTreeMap<String, usize>> = HashMap::new();
    let mut after = 0;
    loop {
        let page = store.read_all(after, 1000).await.expect("read evaluation's log");
        let Some(last) = page.last() else { break };
        after = last.global_position;
        for event in page {
            let name = event.event_type.rsplit('.').next().unwrap_or_default().to_string();
            *per_case.entry(event.correlation_id).or_default().entry(name).or_default() += 1;
        }
    }
    per_case
}

/// What went wrong with the cases, by kind; the suite passes when all are empty.
#[derive(Default, Debug)]
struct Findings {
    /// Acknowledged reports without their case (in the projection or in dispatch).
    lost: BTreeMap<String, String>,
    /// Cases or steps that appear more than once.
    doubled: BTreeMap<String, String>,
    /// Cases that did not reach their expected end.
    stuck: BTreeMap<String, String>,
}

/// Dispatch's history of a case: each step the plan takes, exactly once.
fn check_history(findings: &mut Findings, case_id: &str, plan: Plan, history: &[pb::HistoryEntry]) {
    let count = |name: &str| history.iter().filter(|e| short_type(e) == name).count();
    let terminal = if plan == Plan::Reject { "CaseRejected" } else { "CaseClosed" };
    let expected = [
        ("CaseOpened", 1),
        (terminal, 1),
        ("CaseReopened", usize::from(plan == Plan::Reopen)),
        ("CaseEscalated", usize::from(plan == Plan::Escalate)),
        ("CaseVerified", usize::from(plan == Plan::Escalate)),
    ];
    for (name, want) in expected {
        let got = count(name);
        let note = format!("{plan:?}: {got} {name} in dispatch's history, expected {want}");
        match got.cmp(&want) {
            std::cmp::Ordering::Greater => findings.doubled.insert(case_id.to_string(), note),
            std::cmp::Ordering::Less => findings.stuck.insert(case_id.to_string(), note),
            std::cmp::Ordering::Equal => None,
        };
    }
}

/// Evaluation's own events of a case: a feedback round per resolution, and the default
/// evaluation (the deadline) exactly once when the reporter never answers.
fn check_feedback(findings: &mut Findings, case_id: &str, plan: Plan, events: Option<&BTreeMap<String, usize>>) {
    let count = |name: &str| events.and_then(|e| e.get(name)).copied().unwrap_or_default();
    let rounds = match plan {
        Plan::Reject => 0,
        Plan::Reopen => 2,
        _ => 1,
    };
    let expected = [("FeedbackRequested", rounds), ("FeedbackDefaulted", usize::from(plan == Plan::Deadline))];
    for (name, want) in expected {
        let got = count(name);
        let note = format!("{plan:?}: {got} {name} in evaluation's log, expected {want}");
        match got.cmp(&want) {
            std::cmp::Ordering::Greater => findings.doubled.insert(case_id.to_string(), note),
            std::cmp::Ordering::Less => findings.stuck.insert(case_id.to_string(), note),
            std::cmp::Ordering::Equal => None,
        };
    }
}

/// Waits until evaluation lists every case settled (or the loop deadline passes).
async fn settled_listing(clients: &mut Clients, cases: usize) -> Vec<pb::CaseSummary> {
    let deadline = Instant::now() + LOOP_DEADLINE;
    loop {
        let listed = listed_cases(&mut clients.evaluation).await.unwrap_or_default();
        let settled = listed.iter().filter(|c| matches!(c.state(), pb::CaseState::Closed | pb::CaseState::Rejected));
        if settled.count() >= cases || Instant::now() > deadline {
            return listed;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_loses_nothing_doubles_nothing_and_sticks_nowhere_under_faults() {
    let Some(nats_binary) = nats_server_binary() else {
        gridloop_eventstore::testing::backend_missing("nats-server is not installed");
        return;
    };
    let Some(postgres) = Postgres::start() else {
        gridloop_eventstore::testing::backend_missing("no Postgres server binaries (initdb, pg_ctl)");
        return;
    };
    let cases = case_count();
    let config = tempfile::tempdir().unwrap();
    let catalog = catalog_with_a_short_feedback_deadline(config.path());
    let mut nats = Nats::start(nats_binary);
    let catalog_env = catalog.display().to_string();
    let mut cluster = Cluster::start(postgres.url(), nats.url(), &[("GRIDLOOP_CATALOG", catalog_env.as_str())]);
    let mut clients = Clients::of(&cluster).await;
    let verified = clients.intake.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    let category = verified
        .categories
        .iter()
        .find(|c| c.start_level() == pb::Level::Grid && c.requires_verification)
        .expect("a grid-level category that requires verification")
        .code
        .clone();
    let grids: Vec<(f64, f64)> = Jurisdiction::default_city().grids().map(|g| g.interior_point()).collect();

    let finished = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let driving = {
        let (clients, finished) = (clients.clone(), finished.clone());
        tokio::spawn(async move {
            stream::iter(0..cases)
                .map(|index| {
                    let (mut clients, finished) = (clients.clone(), finished.clone());
                    let plan = plan_of(index);
                    let category = if plan == Plan::Deadline { UNANSWERED.to_string() } else { category.clone() };
                    let (lat, lon) = grids[index % grids.len()];
                    async move {
                        let location = pb::GeoPoint::wgs84(lat, lon);
                        let case_id = report(&mut clients, "faults", index, location, &category).await;
                        drive(&mut clients, &case_id, plan).await;
                        finished.fetch_add(1, Ordering::Relaxed);
                        (case_id, plan)
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
        })
    };
    let reached = |share: f64| {
        let (finished, count) = (finished.clone(), (cases as f64 * share) as usize);
        async move {
            let wait = async {
                while finished.load(Ordering::Relaxed) < count {
                    tokio::time::sleep(POLL).await;
                }
            };
            tokio::time::timeout(LOOP_DEADLINE, wait).await.expect("the cases progress between faults");
        }
    };

    let mut faults = Faults { cluster: &mut cluster, nats: &mut nats, postgres: &postgres, injected: vec![] };
    reached(0.05).await;
    faults.poison().await;
    reached(0.10).await;
    faults.kill_and_restart("intake").await;
    reached(0.20).await;
    faults.postgres_restart_with_dispatch_killed().await;
    reached(0.30).await;
    faults.duplicates(false).await;
    reached(0.40).await;
    faults.evaluation_stalled_with_mediation_killed().await;
    reached(0.50).await;
    faults.nats_outage_with_evaluation_killed().await;
    reached(0.65).await;
    faults.postgres_outage_with_intake_killed().await;
    reached(0.80).await;
    faults.duplicates(true).await;
    let injected = faults.injected.len();

    let driven = tokio::time::timeout(LOOP_DEADLINE, driving).await.expect("all cases finish").unwrap();
    eprintln!("{cases} cases around the loop in {:.1?}, {injected} faults included", started.elapsed());
    let findings = check(&mut clients, &cluster, &postgres, &driven).await;
    let letters = dead_letters(&nats.url()).await;
    let consumers = intake_consumers(&nats.url()).await;
    eprintln!("{cases} cases checked after {:.1?}", started.elapsed());
    println!(
        "fault suite: cases {cases}, faults {injected}, lost {}, doubled {}, stuck {}",
        findings.lost.len(),
        findings.doubled.len(),
        findings.stuck.len()
    );
    assert!(
        findings.lost.is_empty() && findings.doubled.is_empty() && findings.stuck.is_empty(),
        "{findings:#?}\n{}",
        cluster.logs_text()
    );

    // The dead-letter stream holds the poison event only: once per consumer of intake's events,
    // each with the reason it could not be decoded.
    let dead_consumers: HashSet<String> = letters.iter().map(|(consumer, _, _)| consumer.clone()).collect();
    assert_eq!(letters.len(), consumers.len(), "one dead letter per consumer of intake: {letters:?}");
    assert_eq!(dead_consumers, consumers, "{letters:?}");
    for (consumer, reason, payload) in &letters {
        assert_eq!(payload.as_slice(), POISON, "{consumer} dead-lettered another event: {reason}");
        assert!(reason.contains("decode") || reason.contains("invalid"), "{consumer}: {reason}");
    }
    cluster.stop_all();
}

/// Every check over the stores, the projections and dispatch's history.
async fn check(clients: &mut Clients, cluster: &Cluster, postgres: &Postgres, driven: &[(String, Plan)]) -> Findings {
    let mut findings = Findings::default();
    let plans: HashMap<&str, Plan> = driven.iter().map(|(id, plan)| (id.as_str(), *plan)).collect();
    if plans.len() != driven.len() {
        let ids: Vec<&str> = driven.iter().map(|(id, _)| id.as_str()).collect();
        for id in ids.iter().filter(|id| ids.iter().filter(|other| other == id).count() > 1) {
            findings.doubled.insert(id.to_string(), "two reports were acknowledged with one case".into());
        }
    }

    // Evaluation's case projection: every case once, in its expected final state.
    let listed = settled_listing(clients, driven.len()).await;
    let mut listed_once: HashMap<&str, &pb::CaseSummary> = HashMap::new();
    for case in &listed {
        if listed_once.insert(case.case_id.as_str(), case).is_some() {
            findings.doubled.insert(case.case_id.clone(), "listed twice by evaluation".into());
        }
    }
    for (case_id, plan) in &plans {
        let Some(case) = listed_once.get(case_id) else {
            findings.lost.insert(case_id.to_string(), format!("{plan:?}: not in evaluation's projection"));
            continue;
        };
        let end = (case.state(), case.settled_level(), case.escalations, case.reopen_count);
        if end != plan.expected_end() {
            let note = format!("{plan:?}: ended {end:?}, expected {:?}", plan.expected_end());
            if end.2 > plan.expected_end().2 || end.3 > plan.expected_end().3 {
                findings.doubled.insert(case_id.to_string(), note);
            } else {
                findings.stuck.insert(case_id.to_string(), note);
            }
        }
    }
    for case in &listed {
        if !plans.contains_key(case.case_id.as_str()) {
            findings.doubled.insert(case.case_id.clone(), "a case no acknowledged report opened".into());
        }
    }

    // The 4321 monitor counted each closure once.
    let closed = listed.iter().filter(|c| c.state() == pb::CaseState::Closed).count() as u64;
    let distribution = clients
        .evaluation
        .get_level_distribution(pb::GetLevelDistributionRequest::default())
        .await
        .unwrap()
        .into_inner();
    if distribution.closed_total != closed {
        let note = format!("the 4321 monitor counts {} closures, the projection {closed}", distribution.closed_total);
        findings.doubled.insert("4321 monitor".into(), note);
    }

    // Dispatch's history and evaluation's log, case by case.
    let histories: Vec<(String, Plan, Result<Vec<pb::HistoryEntry>, tonic::Status>)> = stream::iter(driven.to_vec())
        .map(|(case_id, plan)| {
            let mut dispatch = clients.dispatch.clone();
            async move {
                let request = pb::GetCaseRequest { case_id: case_id.clone(), ..Default::default() };
                let history = dispatch.get_case(request).await.map(|r| r.into_inner().history);
                (case_id, plan, history)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let evaluation = evaluation_events(cluster, &postgres.url()).await;
    for (case_id, plan, history) in histories {
        match history {
            Ok(history) => check_history(&mut findings, &case_id, plan, &history),
            Err(status) => {
                findings.lost.insert(case_id.clone(), format!("{plan:?}: dispatch has no case: {status}"));
            }
        }
        check_feedback(&mut findings, &case_id, plan, evaluation.get(&case_id));
    }
    findings
}
