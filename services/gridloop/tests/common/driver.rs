//! Drives cases around the loop over gRPC against the four `gridloop serve` processes, one
//! step at a time from the case's current state, so that a lost response or a restarted
//! process in between never derails a case (a stale step is refused by version).
// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use super::cluster::{Cluster, POLL};
use gridloop_auth::{AuthChannel, Principal};
use gridloop_domain::access::Role;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_client::DispatchServiceClient;
use gridloop_proto::v1::evaluation_service_client::EvaluationServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use std::time::{Duration, Instant};
use tonic::Code;

/// How long one case may take around the loop, faults included (normally seconds).
pub const LOOP_DEADLINE: Duration = Duration::from_secs(600);

/// What the test does with a case, and so where it must end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Plan {
    /// accept → resolve → satisfied: closed at grid level.
    Close,
    /// rejected at dispatch.
    Reject,
    /// escalated to the community by request, then closed there.
    Escalate,
    /// the first evaluation is unsatisfied: reopened once, then closed.
    Reopen,
    /// accept → resolve, and the reporter never answers: the feedback deadline applies the
    /// default evaluation, which closes the case. The driver leaves it once it is resolved.
    Deadline,
}

impl Plan {
    /// Where the case must end: (state, settled level, escalations, reopenings), as the
    /// evaluation projection lists it.
    pub fn expected_end(self) -> (pb::CaseState, pb::Level, u32, u32) {
        match self {
            Plan::Close | Plan::Deadline => (pb::CaseState::Closed, pb::Level::Grid, 0, 0),
            Plan::Reject => (pb::CaseState::Rejected, pb::Level::Unspecified, 0, 0),
            Plan::Escalate => (pb::CaseState::Closed, pb::Level::Community, 1, 0),
            Plan::Reopen => (pb::CaseState::Closed, pb::Level::Grid, 0, 1),
        }
    }
}

/// The test's clients: staff as the admin; residents' evaluations taken by the hotline's callback.
#[derive(Clone)]
pub struct Clients {
    pub intake: IntakeServiceClient<AuthChannel>,
    pub dispatch: DispatchServiceClient<AuthChannel>,
    pub evaluation: EvaluationServiceClient<AuthChannel>,
    pub callback: EvaluationServiceClient<AuthChannel>,
}

impl Clients {
    pub async fn of(cluster: &Cluster) -> Clients {
        let admin = Principal::new("test-admin", Role::Admin, None, None).unwrap();
        let hotline = Principal::new("12345-hotline", Role::Hotline, None, None).unwrap();
        Clients {
            intake: IntakeServiceClient::new(cluster.channel("intake", &admin).await),
            dispatch: DispatchServiceClient::new(cluster.channel("dispatch", &admin).await),
            evaluation: EvaluationServiceClient::new(cluster.channel("evaluation", &admin).await),
            callback: EvaluationServiceClient::new(cluster.channel("evaluation", &hotline).await),
        }
    }
}

pub fn actor(role: &str) -> Option<pb::Actor> {
    Some(pb::Actor { role: role.into(), id: format!("{role}-1"), jurisdiction: String::new() })
}

/// Errors a client sees while a process restarts or a response is lost; the driver re-reads
/// the case and carries on. Anything else is a bug.
pub fn expected_while_faulty(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::Unknown
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::FailedPrecondition
            | Code::NotFound
    )
}

/// Report case `index` (client key `{key_prefix}-{index}`) until intake acknowledges it.
pub async fn report(
    clients: &mut Clients,
    key_prefix: &str,
    index: usize,
    location: pb::GeoPoint,
    category: &str,
) -> String {
    let request = report_request(key_prefix, index, location, category);
    loop {
        // Retries are safe: the client key makes the report idempotent.
        match clients.intake.report_case(request.clone()).await {
            Ok(response) => return response.into_inner().case_id,
            Err(status) if expected_while_faulty(&status) => tokio::time::sleep(POLL).await,
            Err(status) => panic!("report {index}: {status}"),
        }
    }
}

/// A resident's report of case `index`, with the client key `{key_prefix}-{index}`.
pub fn report_request(key_prefix: &str, index: usize, location: pb::GeoPoint, category: &str) -> pb::ReportCaseRequest {
    pb::ReportCaseRequest {
        client_key: format!("{key_prefix}-{index}"),
        category_code: category.into(),
        location: Some(location),
        description: format!("第{index}号: 楼道堆放杂物"),
        reporter: Some(pb::Reporter {
            kind: pb::ReporterKind::Resident as i32,
            id: format!("resident-{index}"),
            name: "王女士".into(),
            phone: String::new(),
            sealed: None,
        }),
        channel: pb::Channel::ResidentApp as i32,
        discovered_at: None,
        urgent: false,
        special_groups: vec![],
        media_url: String::new(),
    }
}

/// Drive one case to its end by looking at its state and taking the next step, so that a lost
/// response or a restart in between never derails it (a stale step is refused by version).
pub async fn drive(clients: &mut Clients, case_id: &str, plan: Plan) {
    let deadline = Instant::now() + LOOP_DEADLINE;
    loop {
        assert!(Instant::now() < deadline, "case {case_id} ({plan:?}) did not finish in {LOOP_DEADLINE:?}");
        let view =
            match clients.dispatch.get_case(pb::GetCaseRequest { case_id: case_id.into(), ..Default::default() }).await
            {
                Ok(response) => response.into_inner().case.expect("a case view"),
                Err(status) if expected_while_faulty(&status) => {
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                Err(status) => panic!("get case {case_id}: {status}"),
            };
        let version = view.version;
        let outcome = match view.state() {
            pb::CaseState::Closed | pb::CaseState::Rejected => return,
            pb::CaseState::Resolved if plan == Plan::Deadline => return,
            pb::CaseState::Dispatched if plan == Plan::Reject => {
                let request = pb::RejectCaseRequest {
                    case_id: case_id.into(),
                    expected_version: version,
                    actor: actor("grid_worker"),
                    reason: "不属于受理范围".into(),
                    ..Default::default()
                };
                clients.dispatch.reject_case(request).await.map(drop)
            }
            pb::CaseState::Dispatched if plan == Plan::Escalate && view.level() == pb::Level::Grid => {
                let request = pb::EscalateCaseRequest {
                    case_id: case_id.into(),
                    expected_version: version,
                    actor: actor("grid_worker"),
                    reason: "网格无法协调,需社区出面".into(),
                    ..Default::default()
                };
                clients.dispatch.escalate_case(request).await.map(drop)
            }
            pb::CaseState::Dispatched => {
                let request = pb::AcceptCaseRequest {
                    case_id: case_id.into(),
                    expected_version: version,
                    actor: actor("grid_worker"),
                    assignee: "网格员张三".into(),
                    ..Default::default()
                };
                clients.dispatch.accept_case(request).await.map(drop)
            }
            pb::CaseState::Accepted => {
                let request = pb::ResolveCaseRequest {
                    case_id: case_id.into(),
                    expected_version: version,
                    actor: actor("grid_worker"),
                    summary: "已清理".into(),
                    ..Default::default()
                };
                clients.dispatch.resolve_case(request).await.map(drop)
            }
            pb::CaseState::AwaitingVerification => {
                let request = pb::VerifyCaseRequest {
                    case_id: case_id.into(),
                    expected_version: version,
                    actor: actor("grid_worker"),
                    verifier: "网格员张三".into(),
                    passed: true,
                    note: String::new(),
                    ..Default::default()
                };
                clients.dispatch.verify_case(request).await.map(drop)
            }
            pb::CaseState::Resolved => {
                let satisfaction = if plan == Plan::Reopen && view.reopen_count == 0 {
                    pb::Satisfaction::Unsatisfied
                } else {
                    pb::Satisfaction::Satisfied
                };
                let request = pb::EvaluateCaseRequest {
                    case_id: case_id.into(),
                    actor: actor("resident"),
                    satisfaction: satisfaction as i32,
                    comment: String::new(),
                    ..Default::default()
                };
                clients.callback.evaluate_case(request).await.map(drop)
            }
            // Reported (dispatch has not opened it yet) or in between: look again shortly.
            _ => Ok(()),
        };
        match outcome {
            Ok(()) => {}
            Err(status) if expected_while_faulty(&status) => {}
            Err(status) => panic!("case {case_id} ({plan:?}) in {:?}: {status}", view.state()),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Every case in evaluation's projection, all pages.
pub async fn listed_cases(
    evaluation: &mut EvaluationServiceClient<AuthChannel>,
) -> Result<Vec<pb::CaseSummary>, tonic::Status> {
    let mut cases = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListCasesRequest { page_size: 500, page_token: page_token.clone(), ..Default::default() };
        let page = evaluation.list_cases(request).await?.into_inner();
        cases.extend(page.cases);
        if page.next_page_token.is_empty() {
            return Ok(cases);
        }
        page_token = page.next_page_token;
    }
}

pub fn short_type(entry: &pb::HistoryEntry) -> &str {
    let event_type = &entry.envelope.as_ref().expect("envelope").event_type;
    event_type.rsplit('.').next().unwrap_or(event_type)
}
