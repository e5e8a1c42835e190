//! One case around the loop, as a load generator drives it: report → dispatched visible →
//! accept → resolve (→ verify where the category requires it) → evaluate, each RPC timed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use gridloop_proto::v1 as pb;
use rand::Rng;
use tonic::{Code, Request, Status};

use super::stats::Recorder;
use crate::client::rpc::Server;

/// Longest wait for one step (the case to become visible as dispatched, the feedback round to
/// open) before the case counts as failed.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// First and longest pause between two polls of a step.
const FIRST_POLL: Duration = Duration::from_millis(1);
const LONGEST_POLL: Duration = Duration::from_millis(20);

/// The server, the places reports can come from and how to authenticate.
pub struct Target {
    pub server: Server,
    /// A point inside each grid of the server's jurisdiction.
    pub points: Vec<pb::GeoPoint>,
    /// Catalog categories that start at grid level (the grid worker accepts them).
    pub categories: Vec<String>,
    /// The same server as a hotline's callback (回访), which records the reporters' evaluations.
    pub callback: Server,
    /// Distinguishes this run's client keys from every other run's.
    pub run: String,
}

impl Target {
    /// Asks the server for its grids and categories.
    pub async fn discover(server: Server, callback: Server) -> Result<Self> {
        let mut target = Self {
            server,
            points: Vec::new(),
            categories: Vec::new(),
            callback,
            run: uuid::Uuid::now_v7().to_string(),
        };
        let jurisdiction = target.server.intake().get_jurisdiction(Request::new(pb::GetJurisdictionRequest {})).await;
        let nodes = jurisdiction.map_err(target.server.fail("GetJurisdiction"))?.into_inner().nodes;
        target.points = nodes
            .into_iter()
            .filter(|node| node.level() == pb::Level::Grid)
            .filter_map(|node| node.interior_point)
            .collect();
        let catalog = target.server.intake().get_catalog(Request::new(pb::GetCatalogRequest {})).await;
        target.categories = catalog
            .map_err(target.server.fail("GetCatalog"))?
            .into_inner()
            .categories
            .into_iter()
            .filter(|category| category.start_level() == pb::Level::Grid)
            .map(|category| category.code)
            .collect();
        if target.points.is_empty() || target.categories.is_empty() {
            return Err(anyhow!(
                "the server has no grid with an interior point, or no category that starts at grid level"
            ));
        }
        Ok(target)
    }
}

/// Drives case `n` around the loop, recording into `recorder` when `measured` (a case reported
/// during the warm-up drives the same way, unrecorded); `second` is when in the window it was
/// reported. Returns when the case is closed, linked to another, or a step failed.
pub async fn drive(target: Arc<Target>, recorder: Arc<Recorder>, n: u64, measured: bool, second: usize) {
    let record = |measure, elapsed| {
        if measured {
            recorder.latency(measure, elapsed);
        }
    };
    let fail = |rpc, status: &Status| {
        if measured {
            recorder.error(rpc, status.code());
        }
    };
    if measured {
        recorder.started();
    }
    let reported = Instant::now();
    let report = timed(target.server.intake().report_case(Request::new(report_request(&target, n)))).await;
    record("ReportCase", report.1);
    let case = match report.0 {
        Ok(response) if response.get_ref().linked => {
            if measured {
                recorder.linked();
            }
            return;
        }
        Ok(response) => response.into_inner().case_id,
        Err(status) => return fail("ReportCase", &status),
    };
    let version = match until_dispatched(&target, &case, &record).await {
        Ok(version) => version,
        Err(status) => return fail("GetCase", &status),
    };
    if measured {
        recorder.dispatched(second, reported.elapsed());
    }
    if let Err((rpc, status)) = close(&target, &case, version, &record).await {
        return fail(rpc, &status);
    }
    if measured {
        recorder.completed();
    }
}

/// Polls `GetCase` (backing off from 1 to 20 ms) until the case shows as dispatched; its version.
async fn until_dispatched(
    target: &Target,
    case: &str,
    record: &impl Fn(&'static str, Duration),
) -> Result<u64, Status> {
    let give_up = Instant::now() + STEP_TIMEOUT;
    let mut pause = FIRST_POLL;
    loop {
        let (response, elapsed) = timed(
            target
                .server
                .dispatch()
                .get_case(Request::new(pb::GetCaseRequest { case_id: case.into(), ..Default::default() })),
        )
        .await;
        record("GetCase", elapsed);
        match response.map(|response| response.into_inner().case) {
            Ok(Some(view)) if view.state() == pb::CaseState::Dispatched => return Ok(view.version),
            Ok(Some(view)) if view.state() == pb::CaseState::Rejected => {
                return Err(Status::failed_precondition("the case was rejected, not dispatched"))
            }
            // Not yet opened by dispatch (the report's event is on its way), or not yet routed.
            Ok(_) if Instant::now() < give_up => {}
            Err(status) if status.code() == Code::NotFound && Instant::now() < give_up => {}
            Ok(_) => return Err(Status::deadline_exceeded("the case was never dispatched")),
            Err(status) => return Err(status),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(LONGEST_POLL);
    }
}

/// Accept, resolve (verify if the category asks for it) and evaluate a dispatched case.
async fn close(
    target: &Target,
    case: &str,
    version: u64,
    record: &impl Fn(&'static str, Duration),
) -> Result<(), (&'static str, Status)> {
    let accept = pb::AcceptCaseRequest {
        case_id: case.into(),
        expected_version: version,
        actor: actor("grid_worker"),
        assignee: "bench".into(),
        ..Default::default()
    };
    let (accepted, elapsed) = timed(target.server.dispatch().accept_case(Request::new(accept))).await;
    record("AcceptCase", elapsed);
    let version = accepted.map_err(|status| ("AcceptCase", status))?.into_inner().version;
    let resolve = pb::ResolveCaseRequest {
        case_id: case.into(),
        expected_version: version,
        actor: actor("grid_worker"),
        summary: "done".into(),
        ..Default::default()
    };
    let (resolved, elapsed) = timed(target.server.dispatch().resolve_case(Request::new(resolve))).await;
    record("ResolveCase", elapsed);
    let resolved = resolved.map_err(|status| ("ResolveCase", status))?.into_inner();
    if resolved.case.is_some_and(|view| view.state() == pb::CaseState::AwaitingVerification) {
        let verify = pb::VerifyCaseRequest {
            case_id: case.into(),
            expected_version: resolved.version,
            actor: actor("grid_worker"),
            verifier: "bench".into(),
            passed: true,
            note: String::new(),
            ..Default::default()
        };
        let (verified, elapsed) = timed(target.server.dispatch().verify_case(Request::new(verify))).await;
        record("VerifyCase", elapsed);
        verified.map_err(|status| ("VerifyCase", status))?;
    }
    // Evaluation opens the feedback round once the resolution reaches it: until then the
    // evaluation is refused as premature.
    let give_up = Instant::now() + STEP_TIMEOUT;
    let mut pause = FIRST_POLL;
    loop {
        let evaluate = pb::EvaluateCaseRequest {
            case_id: case.into(),
            actor: actor("resident"),
            satisfaction: pb::Satisfaction::Satisfied as i32,
            comment: String::new(),
            ..Default::default()
        };
        let (evaluated, elapsed) = timed(target.callback.evaluation().evaluate_case(Request::new(evaluate))).await;
        match evaluated {
            Ok(_) => {
                record("EvaluateCase", elapsed);
                return Ok(());
            }
            Err(status)
                if matches!(status.code(), Code::FailedPrecondition | Code::NotFound) && Instant::now() < give_up => {}
            Err(status) => return Err(("EvaluateCase", status)),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(LONGEST_POLL);
    }
}

fn report_request(target: &Target, n: u64) -> pb::ReportCaseRequest {
    let mut rng = rand::thread_rng();
    let point = target.points[rng.gen_range(0..target.points.len())];
    let category = &target.categories[rng.gen_range(0..target.categories.len())];
    pb::ReportCaseRequest {
        client_key: format!("bench-{}-{n}", target.run),
        category_code: category.clone(),
        location: Some(point),
        description: "bench: 楼道堆放杂物".into(),
        reporter: Some(pb::Reporter {
            kind: pb::ReporterKind::Resident as i32,
            id: format!("bench-{n}"),
            name: String::new(),
            phone: String::new(),
            sealed: None,
        }),
        channel: pb::Channel::ResidentApp as i32,
        discovered_at: None,
        urgent: false,
        special_groups: Vec::new(),
        media_url: String::new(),
    }
}

fn actor(role: &str) -> Option<pb::Actor> {
    Some(pb::Actor { role: role.into(), id: format!("bench-{role}"), jurisdiction: String::new() })
}

async fn timed<T>(call: impl std::future::Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let result = call.await;
    (result, start.elapsed())
}
