//! Distributed mode under faults: the four services as separate `gridloop serve` processes on
//! Postgres (one schema each) and a NATS JetStream server of the test's own (so it can be
//! stopped and restarted without disturbing anything else on the machine).
//!
//! 1,000 cases are reported and driven around the loop over gRPC (some rejected, some escalated
//! and verified on site, some reopened after an unsatisfied evaluation); meanwhile the dispatch
//! process is killed with SIGKILL and restarted, and NATS is stopped for a few seconds and
//! restarted. Then every case must be in its expected final state exactly once in the evaluation
//! projection, dispatch's history must hold each step exactly once, the dead-letter stream must
//! be empty, and every service must exit 0 on SIGTERM.
//!
//! Run on its own: `cargo test -p gridloop --test distributed`.
#![cfg(unix)]

mod common;

use common::cluster::{Cluster, Nats, POLL};
use common::driver::{actor, drive, listed_cases, report, short_type, Clients, Plan, LOOP_DEADLINE};
use common::nats_server_binary;
use futures::stream::{self, StreamExt};
use gridloop_auth::{AuthChannel, Principal};
use gridloop_bus::jetstream::{JetStreamBus, JetStreamConfig};
use gridloop_domain::access::Role;
use gridloop_domain::jurisdiction::Jurisdiction;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_client::DispatchServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::Code;

const CASES: usize = 1_000;
/// Cases driven at the same time.
const CONCURRENCY: usize = 48;

fn plan_of(index: usize) -> Plan {
    match index % 10 {
        0 => Plan::Reject,
        1 => Plan::Escalate,
        2 => Plan::Reopen,
        _ => Plan::Close,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_loop_survives_a_killed_dispatch_and_a_nats_restart() {
    let Some(database_url) = gridloop_eventstore::testing::postgres_url() else { return };
    let Some(nats_binary) = nats_server_binary() else {
        assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "nats-server is not installed and CI=true");
        eprintln!("skipping: nats-server is not installed");
        return;
    };
    let mut nats = Nats::start(nats_binary);
    let mut cluster = Cluster::start(database_url, nats.url(), &[]);

    let mut clients = Clients::of(&cluster).await;
    let city = Jurisdiction::default_city();
    let grids: Vec<(f64, f64)> = city.grids().map(|g| g.interior_point()).collect();
    let catalog = clients.intake.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    let category = catalog
        .categories
        .iter()
        // Verified on site when resolved above the grid: the escalated cases take that step too.
        .find(|c| c.start_level() == pb::Level::Grid && c.requires_verification)
        .expect("a grid-level category that requires verification")
        .code
        .clone();

    // Drive all cases; the faults are injected while they are under way.
    let finished = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let driving = {
        let (clients, finished, category) = (clients.clone(), finished.clone(), category.clone());
        tokio::spawn(async move {
            stream::iter(0..CASES)
                .map(|index| {
                    let (mut clients, finished, category) = (clients.clone(), finished.clone(), category.clone());
                    let (lat, lon) = grids[index % grids.len()];
                    async move {
                        let location = pb::GeoPoint::wgs84(lat, lon);
                        let case_id = report(&mut clients, "distributed", index, location, &category).await;
                        drive(&mut clients, &case_id, plan_of(index)).await;
                        finished.fetch_add(1, Ordering::Relaxed);
                        (case_id, plan_of(index))
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
        })
    };
    let wait_for_finished = |count: usize| {
        let finished = finished.clone();
        async move {
            while finished.load(Ordering::Relaxed) < count {
                tokio::time::sleep(POLL).await;
            }
        }
    };
    tokio::time::timeout(LOOP_DEADLINE, wait_for_finished(CASES / 4)).await.expect("a quarter of the cases finish");
    cluster.kill_9("dispatch");
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.restart("dispatch");
    tokio::time::timeout(LOOP_DEADLINE, wait_for_finished(CASES / 2)).await.expect("half of the cases finish");
    nats.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    nats.spawn();
    let driven: HashMap<String, Plan> =
        tokio::time::timeout(LOOP_DEADLINE, driving).await.expect("all cases finish").unwrap().into_iter().collect();
    eprintln!("{CASES} cases around the loop in {:.1?}, faults included", started.elapsed());
    assert_eq!(driven.len(), CASES, "every report opened its own case");

    // The evaluation projection catches up: every case once, in its expected final state.
    let deadline = Instant::now() + LOOP_DEADLINE;
    let listed = loop {
        let listed = listed_cases(&mut clients.evaluation).await.unwrap_or_default();
        let settled = listed.iter().filter(|c| matches!(c.state(), pb::CaseState::Closed | pb::CaseState::Rejected));
        if settled.count() == CASES || Instant::now() > deadline {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for case in &listed {
        *seen.entry(case.case_id.as_str()).or_default() += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "a case listed twice");
    assert_eq!(listed.len(), CASES, "{}", cluster.logs_text());
    for case in &listed {
        let plan = driven.get(&case.case_id).unwrap_or_else(|| panic!("unknown case {}", case.case_id));
        assert_eq!(
            (case.state(), case.settled_level(), case.escalations, case.reopen_count),
            plan.expected_end(),
            "case {} ({plan:?}) in the evaluation projection",
            case.case_id
        );
    }

    // Dispatch's own history: each step exactly once (a redelivered report or feedback that
    // was applied twice would show as a second CaseOpened, CaseReopened or CaseClosed).
    for (case_id, plan) in &driven {
        let history = clients
            .dispatch
            .get_case(pb::GetCaseRequest { case_id: case_id.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .history;
        let count = |name: &str| history.iter().filter(|e| short_type(e) == name).count();
        let terminal = if *plan == Plan::Reject { "CaseRejected" } else { "CaseClosed" };
        assert_eq!(count("CaseOpened"), 1, "{case_id}");
        assert_eq!(count(terminal), 1, "{case_id}");
        assert_eq!(count("CaseReopened"), usize::from(*plan == Plan::Reopen), "{case_id} ({plan:?})");
        assert_eq!(count("CaseEscalated"), usize::from(*plan == Plan::Escalate), "{case_id} ({plan:?})");
        // Only the community's resolutions wait for the grid worker's check.
        assert_eq!(count("CaseVerified"), usize::from(*plan == Plan::Escalate), "{case_id} ({plan:?})");
    }

    // Nothing was dead-lettered.
    let bus = JetStreamBus::connect(JetStreamConfig::new(nats.url()), "distributed-test").await.unwrap();
    assert_eq!(bus.dead_letter_count().await.unwrap(), 0, "{}", cluster.logs_text());

    // Metrics are served per service.
    let metrics = cluster.metrics("dispatch");
    assert!(metrics.contains("gridloop_events_published_total{service=\"dispatch\"}"), "{metrics}");
    assert!(metrics.contains("gridloop_grpc_requests_total{"), "{metrics}");
    assert!(metrics.contains("gridloop_escalations_total{to_level=\"community\"}"), "{metrics}");

    cluster.stop_all();
}

/// A stand-in OpenTelemetry collector: keeps every exported span with its process's name.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<std::sync::Mutex<Vec<(String, Span)>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                    AnyValue::StringValue(name) => Some(name.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                spans.push((service.clone(), span));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_one_case_is_one_trace_across_the_four_processes() {
    let Some(database_url) = gridloop_eventstore::testing::postgres_url() else { return };
    let Some(nats_binary) = nats_server_binary() else {
        gridloop_eventstore::testing::backend_missing("nats-server is not installed");
        return;
    };
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let nats = Nats::start(nats_binary);
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "100")];
    let mut cluster = Cluster::start(database_url, nats.url(), &env);
    let mut clients = Clients::of(&cluster).await;
    let admin = Principal::new("test-admin", Role::Admin, None, None).unwrap();
    let mut mediation = gridloop_proto::v1::mediation_service_client::MediationServiceClient::new(
        cluster.channel("mediation", &admin).await,
    );
    let (mut dispatch, mut evaluation) = (clients.dispatch.clone(), clients.evaluation.clone());

    // A dispute reported by a platform that traces its own requests.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let catalog = clients.intake.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    let dispute = catalog
        .categories
        .iter()
        .find(|c| c.class_code.starts_with("dispute") && c.start_level() == pb::Level::Grid)
        .expect("a dispute category at grid level");
    let (lat, lon) = Jurisdiction::default_city().grids().next().unwrap().interior_point();
    let mut report = tonic::Request::new(pb::ReportCaseRequest {
        client_key: "traced-1".into(),
        category_code: dispute.code.clone(),
        location: Some(pb::GeoPoint::wgs84(lat, lon)),
        description: "楼上噪音扰民".into(),
        reporter: Some(pb::Reporter { kind: pb::ReporterKind::Platform as i32, ..Default::default() }),
        channel: pb::Channel::ResidentApp as i32,
        ..Default::default()
    });
    report.metadata_mut().insert("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01").parse().unwrap());
    let case_id = clients.intake.report_case(report).await.unwrap().into_inner().case_id;

    // Accept, ask for mediation, sign an agreement, evaluate: every service takes part.
    let view = |dispatch: &mut DispatchServiceClient<AuthChannel>, case_id: String| {
        let mut dispatch = dispatch.clone();
        async move {
            dispatch
                .get_case(pb::GetCaseRequest { case_id, ..Default::default() })
                .await
                .map(|r| r.into_inner().case.unwrap())
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the case did not reach dispatch");
        if view(&mut dispatch, case_id.clone()).await.is_ok_and(|v| v.state() == pb::CaseState::Dispatched) {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let accept = pb::AcceptCaseRequest {
        case_id: case_id.clone(),
        expected_version: 0,
        actor: actor("grid_worker"),
        assignee: "网格员张三".into(),
        ..Default::default()
    };
    dispatch.accept_case(accept).await.unwrap();
    let request = pb::RequestMediationRequest {
        case_id: case_id.clone(),
        expected_version: 0,
        actor: actor("grid_worker"),
        topic: "楼上噪音扰民".into(),
        ..Default::default()
    };
    dispatch.request_mediation(request).await.unwrap();
    let session = loop {
        let lookup = pb::GetMediationRequest { case_id: case_id.clone(), ..Default::default() };
        match mediation.get_mediation(lookup).await {
            Ok(view) => break view.into_inner(),
            Err(status) if status.code() == Code::NotFound && Instant::now() < deadline => {
                tokio::time::sleep(POLL).await
            }
            Err(status) => panic!("no mediation session: {status}"),
        }
    };
    let conclude = pb::ConcludeMediationRequest {
        mediation_id: session.mediation_id,
        actor: actor("convenor"),
        outcome: pb::MediationOutcome::Agreed as i32,
        summary: "22点后不再装修".into(),
        signed_by: vec!["张先生".into(), "李女士".into()],
    };
    mediation.conclude_mediation(conclude).await.unwrap();
    drive(&mut clients, &case_id, Plan::Close).await;
    let listed = loop {
        let cases = listed_cases(&mut evaluation).await.unwrap();
        if cases.iter().any(|c| c.case_id == case_id && c.state() == pb::CaseState::Closed) || Instant::now() > deadline
        {
            break cases;
        }
        tokio::time::sleep(POLL).await;
    };
    assert!(listed.iter().any(|c| c.case_id == case_id && c.state() == pb::CaseState::Closed));

    // SIGTERM flushes each process's spans.
    cluster.stop_all();
    let spans = collector.spans.lock().unwrap().clone();
    let in_trace: Vec<&(String, Span)> = spans.iter().filter(|(_, s)| hex(&s.trace_id) == trace_id).collect();
    let processes: std::collections::BTreeSet<&str> = in_trace.iter().map(|(service, _)| service.as_str()).collect();
    assert_eq!(
        processes,
        ["gridloop-dispatch", "gridloop-evaluation", "gridloop-intake", "gridloop-mediation"].into(),
        "every process joins the case's trace; spans seen: {:?}",
        spans.iter().map(|(service, s)| (service, &s.name, hex(&s.trace_id))).collect::<Vec<_>>()
    );
    // The report's request span is a child of the caller's span.
    assert!(in_trace.iter().any(|(service, s)| service == "gridloop-intake"
        && s.name == "grpc"
        && hex(&s.parent_span_id) == "00f067aa0ba902b7"));
    // And each consumer handled the case's events inside the trace.
    let consumers: std::collections::BTreeSet<&str> =
        in_trace.iter().filter(|(_, s)| s.name == "consume").map(|(service, _)| service.as_str()).collect();
    assert_eq!(consumers.len(), 4, "{consumers:?}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
