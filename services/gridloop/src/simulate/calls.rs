//! The simulator's gRPC calls: the lanes they run on, the report of an arrival and the command of
//! an agent's action, and what each call came back with.

use super::cases::{Action, Case};
use super::model::{self, Answer, Area};
use crate::app::{App, InProcessChannel};
use anyhow::{bail, Context, Result};
use futures::future::BoxFuture;
use futures::FutureExt;
use gridloop_auth::{BearerToken, Principal};
use gridloop_domain::access::Role;
use gridloop_domain::level::Level;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_client::DispatchServiceClient;
use gridloop_proto::v1::evaluation_service_client::EvaluationServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use tonic::service::interceptor::InterceptedService;

/// A finished gRPC call of one step.
pub(super) enum Done {
    Reported {
        slot: usize,
        case_id: String,
        linked: bool,
    },
    /// `asks_feedback`: the command left the case resolved, so evaluation opens a feedback round.
    Command {
        slot: usize,
        version: u64,
        asks_feedback: bool,
    },
    Answered {
        slot: usize,
    },
    Refused {
        slot: usize,
        kind: &'static str,
        status: tonic::Status,
    },
}

impl Done {
    pub(super) fn slot(&self) -> usize {
        match self {
            Done::Reported { slot, .. }
            | Done::Command { slot, .. }
            | Done::Answered { slot }
            | Done::Refused { slot, .. } => *slot,
        }
    }
}

/// The app's gRPC API in process, each call carrying a principal's token.
type Channel = InterceptedService<InProcessChannel, BearerToken>;

/// The simulator's clients: the city's staff as the installation's admin, and the residents'
/// evaluations taken by the 12345 hotline's callback (回访) — the admin may not record them.
#[derive(Clone)]
pub(super) struct Clients {
    pub(super) intake: IntakeServiceClient<Channel>,
    pub(super) dispatch: DispatchServiceClient<Channel>,
    pub(super) evaluation: EvaluationServiceClient<Channel>,
    pub(super) callback: EvaluationServiceClient<Channel>,
}

impl Clients {
    /// Clients of `app`'s services through the same edge (authentication, authorization,
    /// limits) a remote client passes, without a socket in between.
    pub(super) fn connect(app: &App) -> Result<Clients> {
        let channel = app.in_process_channel();
        let key = app.signing_key().context("the simulated installation has no signing key")?;
        let as_principal = |subject: &str, role: Role| -> Result<Channel> {
            let token = key.issue(&Principal::new(subject, role, None, None)?, chrono::Duration::days(1))?;
            Ok(InterceptedService::new(channel.clone(), BearerToken::new(&token)?))
        };
        let staff = as_principal("simulator", Role::Admin)?;
        Ok(Clients {
            intake: IntakeServiceClient::new(staff.clone()),
            dispatch: DispatchServiceClient::new(staff.clone()),
            evaluation: EvaluationServiceClient::new(staff),
            callback: EvaluationServiceClient::new(as_principal("simulator-12345", Role::Hotline)?),
        })
    }
}

/// One gRPC call of a step, run on whichever lane it is given to.
pub(super) type Job = Box<dyn FnOnce(Clients) -> BoxFuture<'static, Done> + Send>;

/// Run the step's calls on `lanes`: each lane carries one call at a time, the lanes run
/// concurrently (`--concurrency`). Jobs go to lanes round robin.
pub(super) async fn run_jobs(lanes: &[Clients], jobs: Vec<Job>) -> Vec<Done> {
    let mut per_lane: Vec<Vec<Job>> = lanes.iter().map(|_| Vec::new()).collect();
    for (i, job) in jobs.into_iter().enumerate() {
        per_lane[i % lanes.len()].push(job);
    }
    let runs = per_lane.into_iter().zip(lanes).filter(|(jobs, _)| !jobs.is_empty()).map(|(jobs, clients)| async move {
        let mut done = Vec::with_capacity(jobs.len());
        for job in jobs {
            done.push(job(clients.clone()).await);
        }
        done
    });
    futures::future::join_all(runs).await.into_iter().flatten().collect()
}

/// The city and catalog as the services describe them.
pub(super) struct City {
    pub(super) grids: Vec<Area>,
    pub(super) categories: Vec<pb::Category>,
    pub(super) weights: Vec<f64>,
}

pub(super) async fn load_city(clients: &mut Clients) -> Result<City> {
    let mut nodes = clients
        .intake
        .get_jurisdiction(pb::GetJurisdictionRequest {})
        .await
        .context("GetJurisdiction")?
        .into_inner()
        .nodes;
    nodes.retain(|n| n.level() == pb::Level::Grid && n.interior_point.is_some());
    nodes.sort_by(|a, b| a.code.cmp(&b.code));
    let grids: Vec<Area> = nodes
        .into_iter()
        .filter_map(|n| {
            let interior = n.interior_point?;
            Some(Area {
                interior: (interior.lat, interior.lon),
                boundary: n.boundary.iter().map(|p| (p.lat, p.lon)).collect(),
            })
        })
        .collect();
    let mut categories =
        clients.intake.get_catalog(pb::GetCatalogRequest {}).await.context("GetCatalog")?.into_inner().categories;
    categories.sort_by(|a, b| a.code.cmp(&b.code));
    if grids.is_empty() || categories.is_empty() {
        bail!("the city has no grids or no categories to simulate");
    }
    let weights = categories.iter().map(|c| model::category_weight(&c.code)).collect();
    Ok(City { grids, categories, weights })
}

/// The actor a unit at `level` acts as.
fn actor(level: Level) -> Option<pb::Actor> {
    let role = match level {
        Level::Grid => "grid_worker",
        Level::Community => "community_office",
        Level::Street => "street_office",
        Level::District => "district_office",
    };
    Some(pb::Actor { role: role.into(), id: format!("sim-{}", level.as_str()), jurisdiction: String::new() })
}

pub(super) fn action_kind(action: Action) -> &'static str {
    match action {
        Action::Accept => "accept",
        Action::Resolve => "resolve",
        Action::Escalate(_) => "escalate",
        Action::Verify(_) => "verify",
        Action::Answer(_) => "evaluate",
    }
}

const ASSIGNEES: [&str; 4] = ["网格员", "社区干部", "街道干部", "区职能部门"];

/// The gRPC call for an agent's action on a case, checked against the version it last saw.
pub(super) fn command(slot: usize, case: &Case, action: Action) -> Job {
    let kind = action_kind(action);
    let (case_id, version, level) = (case.id.clone(), case.version, case.level);
    Box::new(move |clients: Clients| {
        let Clients { mut dispatch, mut callback, .. } = clients;
        async move {
            let reply = match action {
                Action::Accept => dispatch
                    .accept_case(pb::AcceptCaseRequest {
                        case_id,
                        expected_version: version,
                        actor: actor(level),
                        assignee: ASSIGNEES[level as usize].into(),
                        ..Default::default()
                    })
                    .await
                    .map(tonic::Response::into_inner),
                Action::Resolve => dispatch
                    .resolve_case(pb::ResolveCaseRequest {
                        case_id,
                        expected_version: version,
                        actor: actor(level),
                        summary: format!("{}已办结", level.chinese_name()),
                        ..Default::default()
                    })
                    .await
                    .map(tonic::Response::into_inner),
                Action::Escalate(note) => dispatch
                    .escalate_case(pb::EscalateCaseRequest {
                        case_id,
                        expected_version: version,
                        actor: actor(level),
                        reason: note.into(),
                        ..Default::default()
                    })
                    .await
                    .map(tonic::Response::into_inner),
                Action::Verify(passed) => dispatch
                    .verify_case(pb::VerifyCaseRequest {
                        case_id,
                        expected_version: version,
                        actor: actor(Level::Grid),
                        verifier: ASSIGNEES[Level::Grid as usize].into(),
                        passed,
                        note: if passed { String::new() } else { "现场核查未通过".into() },
                        ..Default::default()
                    })
                    .await
                    .map(tonic::Response::into_inner),
                Action::Answer(answer) => {
                    let satisfaction = match answer {
                        Answer::Satisfied => pb::Satisfaction::Satisfied,
                        Answer::BasicallySatisfied => pb::Satisfaction::BasicallySatisfied,
                        Answer::Unsatisfied => pb::Satisfaction::Unsatisfied,
                    };
                    let request = pb::EvaluateCaseRequest {
                        case_id,
                        actor: Some(pb::Actor {
                            role: "resident".into(),
                            id: "sim-reporter".into(),
                            jurisdiction: String::new(),
                        }),
                        satisfaction: satisfaction as i32,
                        comment: if answer == Answer::Unsatisfied { "问题未解决".into() } else { String::new() },
                        ..Default::default()
                    };
                    return match callback.evaluate_case(request).await {
                        Ok(_) => Done::Answered { slot },
                        Err(status) => Done::Refused { slot, kind, status },
                    };
                }
            };
            match reply {
                Ok(reply) => {
                    let resolved = reply.case.is_some_and(|c| c.state() == pb::CaseState::Resolved);
                    Done::Command { slot, version: reply.version, asks_feedback: resolved }
                }
                Err(status) => Done::Refused { slot, kind, status },
            }
        }
        .boxed()
    })
}

/// The report of one arrival (上报), idempotent by a client key derived from seed and index.
pub(super) fn report(city: &City, seed: u64, slot: usize, case: &Case) -> Job {
    let category = &city.categories[case.category];
    let (kind, channel, name) = if case.patrol {
        (pb::ReporterKind::GridWorker, pb::Channel::Patrol, "网格员巡查")
    } else {
        (pb::ReporterKind::Resident, pb::Channel::ResidentApp, "居民")
    };
    let request = pb::ReportCaseRequest {
        client_key: format!("sim-{seed}-{}", case.index),
        category_code: category.code.clone(),
        location: Some(pb::GeoPoint::wgs84(case.location.0, case.location.1)),
        description: format!("{}(模拟案件 #{})", category.name, case.index),
        reporter: Some(pb::Reporter {
            kind: kind as i32,
            id: format!("sim-reporter-{}", case.index),
            name: name.into(),
            phone: String::new(),
            sealed: None,
        }),
        channel: channel as i32,
        discovered_at: None,
        urgent: false,
        special_groups: vec![],
        media_url: String::new(),
    };
    Box::new(move |clients: Clients| {
        let mut intake = clients.intake;
        async move {
            match intake.report_case(request).await {
                Ok(reply) => {
                    let reply = reply.into_inner();
                    Done::Reported { slot, case_id: reply.case_id, linked: reply.linked }
                }
                Err(status) => Done::Refused { slot, kind: "report", status },
            }
        }
        .boxed()
    })
}
