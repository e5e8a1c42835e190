//! Harness for gridloop's end-to-end tests: a one-process gridloop on a virtual clock, served on
//! a real port, and gRPC clients generated from `proto/`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use gridloop::app::{App, StoreLocation, UpArgs};
use gridloop_auth::{AuthChannel, BearerToken, Principal};
use gridloop_bus::ManualClock;
use gridloop_domain::access::Role;
use gridloop_proto::convert::short_type;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_client::DispatchServiceClient;
use gridloop_proto::v1::evaluation_service_client::EvaluationServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use gridloop_proto::v1::mediation_service_client::MediationServiceClient;
use std::path::Path;
use std::sync::Arc;
use tonic::transport::Channel;

pub mod history;

/// Monday 2 March 2026, 09:00 in Beijing.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap()
}

pub use gridloop_eventstore::testing::postgres_url;

/// Clients of the four services, acting as the installation's admin; `hotline` is the
/// evaluation service as the 12345 hotline's callback (回访), which records residents'
/// satisfaction (the admin may not). `channel` carries no token (health is open).
pub struct Clients {
    pub intake: IntakeServiceClient<AuthChannel>,
    pub dispatch: DispatchServiceClient<AuthChannel>,
    pub mediation: MediationServiceClient<AuthChannel>,
    pub evaluation: EvaluationServiceClient<AuthChannel>,
    pub hotline: EvaluationServiceClient<AuthChannel>,
    pub channel: Channel,
}

/// The administrator the harness acts as.
pub fn admin() -> Principal {
    Principal::new("test-admin", Role::Admin, None, None).unwrap()
}

/// The city's 12345 hotline, calling residents back for their evaluation.
pub fn hotline() -> Principal {
    Principal::new("12345-hotline", Role::Hotline, None, None).unwrap()
}

pub struct Gridloop {
    pub app: App,
    pub clock: ManualClock,
    pub clients: Clients,
    pub args: UpArgs,
}

impl Gridloop {
    /// Start on SQLite files under `data_dir`, on a free port, with `clock`.
    pub async fn start(data_dir: &Path, clock: ManualClock) -> Gridloop {
        Self::start_with(UpArgs::embedded(data_dir, "127.0.0.1:0".parse().unwrap()), clock).await
    }

    /// Start on the test Postgres (schemas of its own) at a virtual clock starting at
    /// [`start_time`]; `None` when Postgres is absent outside CI (see [`postgres_url`]).
    /// `data_dir` only holds what the embedded mode would keep there.
    pub async fn start_on_postgres(data_dir: &Path) -> Option<Gridloop> {
        let args = UpArgs {
            store: StoreLocation {
                database_url: Some(postgres_url()?),
                schema_prefix: format!("e2e_{}_", uuid::Uuid::now_v7().simple()),
                data_dir: data_dir.into(),
            },
            ..UpArgs::embedded(data_dir, "127.0.0.1:0".parse().unwrap())
        };
        Some(Self::start_with(args, ManualClock::new(start_time())).await)
    }

    pub async fn start_with(args: UpArgs, clock: ManualClock) -> Gridloop {
        let app = App::start(&args, Arc::new(clock.clone())).await.expect("gridloop starts");
        let channel = Channel::from_shared(format!("http://{}", app.addr)).unwrap().connect().await.expect("connect");
        let as_admin = authenticated(&app, &channel, &admin());
        let clients = Clients {
            intake: IntakeServiceClient::new(as_admin.clone()),
            dispatch: DispatchServiceClient::new(as_admin.clone()),
            mediation: MediationServiceClient::new(as_admin.clone()),
            evaluation: EvaluationServiceClient::new(as_admin),
            hotline: EvaluationServiceClient::new(authenticated(&app, &channel, &hotline())),
            channel,
        };
        Gridloop { app, clock, clients, args }
    }

    /// A channel whose calls are made as `principal` (a token minted with the installation's key).
    pub fn channel_as(&self, principal: &Principal) -> AuthChannel {
        authenticated(&self.app, &self.clients.channel, principal)
    }

    /// Stop gracefully and start again on the same data, like an operator's restart.
    pub async fn restart(self) -> Gridloop {
        let Gridloop { app, clock, args, .. } = self;
        app.shutdown().await.expect("clean shutdown");
        Self::start_with(args, clock).await
    }

    /// A point inside some grid of the default city, and that grid's code.
    pub async fn a_grid(&mut self) -> (pb::GeoPoint, String) {
        let nodes =
            self.clients.intake.get_jurisdiction(pb::GetJurisdictionRequest {}).await.unwrap().into_inner().nodes;
        let grid = nodes.into_iter().find(|n| n.level() == pb::Level::Grid).expect("a grid");
        (grid.interior_point.expect("interior point"), grid.code)
    }

    /// The `n`th grid of the default city (in jurisdiction order): a point inside it and its code.
    pub async fn nth_grid(&mut self, n: usize) -> (pb::GeoPoint, String) {
        let nodes =
            self.clients.intake.get_jurisdiction(pb::GetJurisdictionRequest {}).await.unwrap().into_inner().nodes;
        let grid = nodes.into_iter().filter(|n| n.level() == pb::Level::Grid).nth(n).expect("enough grids");
        (grid.interior_point.expect("interior point"), grid.code)
    }

    /// A category entering at grid level; `mediable` picks a dispute category when true.
    pub async fn a_category(&mut self, start: pb::Level) -> pb::Category {
        let catalog = self.clients.intake.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
        catalog.categories.into_iter().find(|c| c.start_level() == start).expect("a category at that level")
    }

    pub async fn report(&mut self, category: &str, client_key: &str) -> pb::ReportCaseResponse {
        let (location, _) = self.a_grid().await;
        self.clients
            .intake
            .report_case(report_request(category, client_key, location))
            .await
            .expect("report accepted")
            .into_inner()
    }

    /// Report at `location` (the duplicate rules compare locations).
    pub async fn report_at(
        &mut self,
        category: &str,
        client_key: &str,
        location: pb::GeoPoint,
    ) -> pb::ReportCaseResponse {
        self.clients
            .intake
            .report_case(report_request(category, client_key, location))
            .await
            .expect("report accepted")
            .into_inner()
    }

    /// Every case in the case list (evaluation's projection), first page of up to 500.
    pub async fn listed_cases(&mut self) -> Vec<pb::CaseSummary> {
        let request = pb::ListCasesRequest { page_size: 500, ..Default::default() };
        self.clients.evaluation.list_cases(request).await.unwrap().into_inner().cases
    }

    pub async fn case(&mut self, case_id: &str) -> Option<pb::GetCaseResponse> {
        match self.clients.dispatch.get_case(pb::GetCaseRequest { case_id: case_id.into(), ..Default::default() }).await
        {
            Ok(r) => Some(r.into_inner()),
            Err(status) if status.code() == tonic::Code::NotFound => None,
            Err(status) => panic!("get_case failed: {status}"),
        }
    }

    /// Wait until the case exists and `ready` holds (events flow asynchronously between services).
    pub async fn case_when(
        &mut self,
        case_id: &str,
        ready: impl Fn(&pb::GetCaseResponse) -> bool,
    ) -> pb::GetCaseResponse {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let last = self.case(case_id).await;
            if let Some(case) = &last {
                if ready(case) {
                    return case.clone();
                }
            }
            if tokio::time::Instant::now() > deadline {
                panic!("case {case_id} never reached the expected state; last seen: {last:#?}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn case_in(&mut self, case_id: &str, state: pb::CaseState) -> pb::GetCaseResponse {
        self.case_when(case_id, |c| c.case.as_ref().is_some_and(|v| v.state() == state)).await
    }

    /// Take a dispatched case around the rest of the loop to closed: accept, resolve, verify
    /// where the category requires it, and a satisfied evaluation, each naming the version the
    /// step before it returned (its consistency token), so no step is refused for a service that
    /// has not caught up yet.
    pub async fn close_case(&mut self, case_id: &str) -> pb::GetCaseResponse {
        let dispatched = self.case_in(case_id, pb::CaseState::Dispatched).await;
        let accept = pb::AcceptCaseRequest {
            case_id: case_id.into(),
            actor: actor("grid_worker"),
            assignee: "网格员张三".into(),
            min_version: dispatched.case.map_or(0, |c| c.version),
            ..Default::default()
        };
        let accepted = self.clients.dispatch.accept_case(accept).await.expect("accept").into_inner();
        let resolve = pb::ResolveCaseRequest {
            case_id: case_id.into(),
            actor: actor("grid_worker"),
            summary: "已处理".into(),
            min_version: accepted.version,
            ..Default::default()
        };
        let mut resolved = self.clients.dispatch.resolve_case(resolve).await.expect("resolve").into_inner();
        if resolved.case.as_ref().is_some_and(|c| c.state() == pb::CaseState::AwaitingVerification) {
            resolved = self.verify(case_id, true, "现场核查无误").await.expect("verify");
        }
        let evaluate = pb::EvaluateCaseRequest {
            case_id: case_id.into(),
            actor: actor("resident"),
            satisfaction: pb::Satisfaction::Satisfied as i32,
            min_version: resolved.version,
            ..Default::default()
        };
        self.clients.hotline.evaluate_case(evaluate).await.expect("evaluate right after the resolution");
        self.case_in(case_id, pb::CaseState::Closed).await
    }

    /// 核查: the grid worker's on-site verification of a resolved case.
    pub async fn verify(
        &mut self,
        case_id: &str,
        passed: bool,
        note: &str,
    ) -> Result<pb::CaseCommandResponse, tonic::Status> {
        let verify = pb::VerifyCaseRequest {
            case_id: case_id.into(),
            expected_version: 0,
            actor: actor("grid_worker"),
            verifier: "网格员李四".into(),
            passed,
            note: note.into(),
            ..Default::default()
        };
        self.clients.dispatch.verify_case(verify).await.map(|r| r.into_inner())
    }

    /// Wait until the case list (evaluation's projection) shows `case_id` and `ready` holds for it.
    pub async fn listed_when(&mut self, case_id: &str, ready: impl Fn(&pb::CaseSummary) -> bool) -> pb::CaseSummary {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let last = self.listed_cases().await.into_iter().find(|c| c.case_id == case_id);
            if let Some(summary) = &last {
                if ready(summary) {
                    return summary.clone();
                }
            }
            if tokio::time::Instant::now() > deadline {
                panic!("case {case_id} never showed as expected in the case list; last seen: {last:#?}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

fn authenticated(app: &App, channel: &Channel, principal: &Principal) -> AuthChannel {
    let key = app.signing_key().expect("the installation's signing key");
    let token = key.issue(principal, Duration::hours(1)).expect("a token");
    BearerToken::new(&token).expect("a header value").channel(channel.clone())
}

pub fn actor(role: &str) -> Option<pb::Actor> {
    Some(pb::Actor { role: role.into(), id: format!("{role}-1"), jurisdiction: String::new() })
}

pub fn report_request(category: &str, client_key: &str, location: pb::GeoPoint) -> pb::ReportCaseRequest {
    pb::ReportCaseRequest {
        client_key: client_key.into(),
        category_code: category.into(),
        location: Some(location),
        description: "楼道堆放杂物,堵塞消防通道".into(),
        reporter: Some(pb::Reporter {
            kind: pb::ReporterKind::Resident as i32,
            id: "resident-42".into(),
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

/// Short event type names of a case's history, in order.
pub fn history_types(case: &pb::GetCaseResponse) -> Vec<String> {
    case.history.iter().map(|h| short_type(&h.envelope.as_ref().expect("envelope").event_type).to_string()).collect()
}
