//! Authorization by role and jurisdiction over real gRPC against an in-process `gridloop up`.
//!
//! The matrix is generated from the policy table: every RPC × every role × a caller whose area
//! holds (or contains) what the call acts on, and one whose area does not. What the table allows
//! is never refused for authorization (it may fail for domain reasons: a step the case's state
//! forbids); what it forbids is PERMISSION_DENIED and stores nothing. The expected outcome of a
//! call is the domain's pure check applied to facts this test knows of its own fixtures (where the
//! case lies, the unit it was escalated to, who reported it, which department was summoned), so
//! the test checks that the services apply the table to the right facts at every door.
//!
//! Then the cases people ask about, spelled out.

#[path = "common/auth.rs"]
mod auth;

use auth::{audit_log, local_args, observe, plain_channel, start, with_token};
use gridloop::app::{App, ServiceName, StoreLocation};
use gridloop_auth::{AuthChannel, LimitArgs};
use gridloop_domain::access::UnitDepartment;
use gridloop_domain::access::{confine_query, may_act_on_case, rpc_scope, CaseFacts, Principal, Role, Rpc};
use gridloop_domain::jurisdiction::{AreaCode, Jurisdiction};
use gridloop_domain::level::Level;
use gridloop_eventstore::EventStore;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_client::DispatchServiceClient;
use gridloop_proto::v1::evaluation_service_client::EvaluationServiceClient;
use gridloop_proto::v1::intake_service_client::IntakeServiceClient;
use gridloop_proto::v1::mediation_service_client::MediationServiceClient;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// The resident who reports every case of the fixtures.
const REPORTER: &str = "resident-a";
/// The street department summoned to the case held by the street.
const DEPARTMENT: &str = "urban-management";
const FLOW: Duration = Duration::from_secs(20);

/// A running installation, the grid everything lies in (A) and a grid of another street (B).
struct World {
    app: App,
    _dir: tempfile::TempDir,
    channel: Channel,
    stores: Vec<EventStore>,
    a: AreaCode,
    b: AreaCode,
    at_a: pb::GeoPoint,
    /// A grid-level category that needs no on-site check.
    category: String,
    admin: AuthChannel,
    tokens: HashMap<Principal, AuthChannel>,
}

impl World {
    async fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut args = local_args(dir.path());
        // Hundreds of calls by one admin in a row, and reports at one spot each opening a case.
        args.security.limits = LimitArgs { rate_limit: 0, ..LimitArgs::default() };
        args.duplicate_radius_m = 0.0;
        let location: StoreLocation = args.store.clone();
        let app = start(args).await;
        let mut stores = Vec::new();
        for service in ServiceName::ALL {
            stores.push(location.open_existing(service).await.unwrap());
        }
        let channel = plain_channel(&app).await;
        let city = Jurisdiction::default_city();
        let grid_a = city.grids().next().unwrap();
        let street = |code: &AreaCode| code.ancestor(Level::Street);
        let grid_b = city.grids().find(|g| street(&g.code) != street(&grid_a.code)).expect("a second street");
        let (lat, lon) = grid_a.interior_point();
        let admin = Principal::new("admin", Role::Admin, None, None).unwrap();
        let mut world = World {
            admin: with_token(&channel, &auth::token(&app, &admin)),
            app,
            _dir: dir,
            channel,
            stores,
            a: grid_a.code.clone(),
            b: grid_b.code.clone(),
            at_a: pb::GeoPoint::wgs84(lat, lon),
            category: String::new(),
            tokens: HashMap::new(),
        };
        let catalog = IntakeServiceClient::new(world.admin.clone()).get_catalog(pb::GetCatalogRequest {}).await;
        let catalog = catalog.unwrap().into_inner();
        let category =
            catalog.categories.iter().find(|c| c.start_level == pb::Level::Grid as i32 && !c.requires_verification);
        world.category = category.expect("a grid-level category without an on-site check").code.clone();
        world
    }

    fn area(&self, inside: bool, level: Level) -> AreaCode {
        let grid = if inside { &self.a } else { &self.b };
        grid.ancestor(level).unwrap()
    }

    /// The caller of `role` whose area holds or contains grid A (`inside`), or lies elsewhere.
    fn caller(&self, role: Role, inside: bool) -> Principal {
        let (subject, area, department) = match role {
            // A resident's token names the grid they are registered in.
            Role::Resident => {
                (if inside { REPORTER } else { "resident-b" }, Some(self.area(inside, Level::Grid)), None)
            }
            Role::GridWorker => ("worker", Some(self.area(inside, Level::Grid)), None),
            Role::CommunityOffice => ("community", Some(self.area(inside, Level::Community)), None),
            Role::DistrictOffice if !inside => ("district", Some(AreaCode::new("321099").unwrap()), None),
            Role::DistrictOffice => ("district", Some(self.area(inside, Level::District)), None),
            Role::Department => ("department", Some(self.area(inside, Level::Street)), Some(DEPARTMENT.to_string())),
            Role::Admin => ("admin", None, None),
            Role::StreetOffice | Role::Mediator | Role::Hotline | Role::Platform | Role::Supervisor => {
                (role.as_str(), Some(self.area(inside, Level::Street)), None)
            }
        };
        Principal::new(subject, role, area, department).unwrap()
    }

    fn channel_of(&mut self, principal: &Principal) -> AuthChannel {
        if !self.tokens.contains_key(principal) {
            let channel = with_token(&self.channel, &auth::token(&self.app, principal));
            self.tokens.insert(principal.clone(), channel);
        }
        self.tokens[principal].clone()
    }

    /// Every event stored so far, all services together.
    async fn stored(&self) -> i64 {
        let mut total = 0;
        for store in &self.stores {
            total += store.head_position().await.unwrap();
        }
        total
    }

    fn report(&self, key: &str) -> pb::ReportCaseRequest {
        pb::ReportCaseRequest {
            client_key: key.into(),
            category_code: self.category.clone(),
            location: Some(self.at_a),
            description: "楼道堆放杂物,堵塞消防通道".into(),
            reporter: Some(pb::Reporter { kind: pb::ReporterKind::Resident as i32, ..Default::default() }),
            channel: pb::Channel::ResidentApp as i32,
            ..Default::default()
        }
    }

    /// A case `REPORTER` reported in grid A, once dispatch holds it.
    async fn reported_case(&mut self, key: &str) -> String {
        let resident = self.caller(Role::Resident, true);
        let reported = IntakeServiceClient::new(self.channel_of(&resident)).report_case(self.report(key)).await;
        let case_id = reported.unwrap().into_inner().case_id;
        self.case_when(&case_id, |c| c.state() == pb::CaseState::Dispatched).await;
        case_id
    }

    async fn case_when(&self, case_id: &str, ready: impl Fn(&pb::CaseView) -> bool) -> pb::CaseView {
        let mut dispatch = DispatchServiceClient::new(self.admin.clone());
        let deadline = Instant::now() + FLOW;
        loop {
            let shown = dispatch.get_case(pb::GetCaseRequest { case_id: case_id.into(), ..Default::default() }).await;
            if let Some(case) = shown.ok().and_then(|r| r.into_inner().case).filter(|c| ready(c)) {
                return case;
            }
            assert!(Instant::now() < deadline, "case {case_id} never got ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A reported case the admin escalated to `level`; at the street it is accepted and the
    /// street's department summoned.
    async fn case_held_at(&mut self, level: Level, key: &str) -> String {
        let case_id = self.reported_case(key).await;
        let mut dispatch = DispatchServiceClient::new(self.admin.clone());
        for _ in Level::ALL.iter().take_while(|l| **l < level) {
            let escalate =
                pb::EscalateCaseRequest {
                    case_id: case_id.clone(), reason: "需上级协调".into(), ..Default::default()
                };
            dispatch.escalate_case(escalate).await.unwrap();
        }
        if level == Level::Street {
            let accept =
                pb::AcceptCaseRequest { case_id: case_id.clone(), assignee: "街道".into(), ..Default::default() };
            dispatch.accept_case(accept).await.unwrap();
            let summon = pb::SummonDepartmentsRequest {
                case_id: case_id.clone(),
                departments: vec![DEPARTMENT.into()],
                reason: "联合执法".into(),
                ..Default::default()
            };
            dispatch.summon_departments(summon).await.unwrap();
        }
        let case = self.case_when(&case_id, |_| true).await;
        assert_eq!(case.unit_code, self.a.ancestor(level).unwrap().as_str(), "held by A's unit at {level:?}");
        case_id
    }

    /// A case accepted and resolved at grid A, whose feedback round is open.
    async fn resolved_case(&mut self, key: &str) -> String {
        let case_id = self.reported_case(key).await;
        let mut dispatch = DispatchServiceClient::new(self.admin.clone());
        let accept =
            pb::AcceptCaseRequest { case_id: case_id.clone(), assignee: "网格员".into(), ..Default::default() };
        dispatch.accept_case(accept).await.unwrap();
        let resolve =
            pb::ResolveCaseRequest { case_id: case_id.clone(), summary: "已清理".into(), ..Default::default() };
        dispatch.resolve_case(resolve).await.unwrap();
        let round = format!("feedback-{case_id}");
        let evaluation = &self.stores[3];
        let deadline = Instant::now() + FLOW;
        while evaluation.stream_version(&round).await.unwrap() == 0 {
            assert!(Instant::now() < deadline, "no feedback round for {case_id}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        case_id
    }

    /// A session on a topic collected in grid A.
    async fn topic_session(&self) -> String {
        let propose = pb::ProposeTopicRequest {
            level: pb::SessionLevel::Grid as i32,
            area_code: self.a.as_str().into(),
            topic: "楼道堆物".into(),
            kind: pb::MatterKind::Consultation as i32,
            convenor: "网格长".into(),
            collected_from: "痛点箱".into(),
            ..Default::default()
        };
        let proposed = MediationServiceClient::new(self.admin.clone()).propose_topic(propose).await;
        proposed.unwrap().into_inner().mediation_id
    }
}

/// What one RPC's calls act on, made before any call of the matrix.
#[derive(Default)]
struct Objects {
    /// Cases held at the grid, community, street and district (in `Level::ALL` order).
    held: Vec<String>,
    resolved: String,
    session: String,
}

/// What a call acts on.
enum On<'a> {
    /// Reference data: no object.
    Nothing,
    /// A query of an area (grid A).
    Area,
    /// A case, a session or a report located in grid A, with its facts.
    Object { id: &'a str, facts: CaseFacts },
}

const CASE_RPCS: [Rpc; 11] = [
    Rpc::AcceptCase,
    Rpc::EscalateCase,
    Rpc::TransferCase,
    Rpc::RequestMediation,
    Rpc::ResolveCase,
    Rpc::VerifyCase,
    Rpc::RejectCase,
    Rpc::SummonDepartments,
    Rpc::ReportIn,
    Rpc::AddCaseNote,
    Rpc::GetCase,
];

const QUERIES: [Rpc; 10] = [
    Rpc::ListCases,
    Rpc::GetKpis,
    Rpc::GetLevelDistribution,
    Rpc::ListDriftAlerts,
    Rpc::CountCases,
    Rpc::WatchFigures,
    Rpc::GetMediationFigures,
    Rpc::GetImplementationReport,
    Rpc::ListWaitingMediations,
    Rpc::ListAreaSessions,
];

impl World {
    async fn objects(&mut self, rpc: Rpc) -> Objects {
        let key = |what: &str| format!("{}-{what}", rpc.method());
        let mut objects = Objects::default();
        if CASE_RPCS.contains(&rpc) {
            for level in Level::ALL {
                objects.held.push(self.case_held_at(level, &key(level.as_str())).await);
            }
        } else if rpc == Rpc::EvaluateCase {
            objects.resolved = self.resolved_case(&key("resolved")).await;
        } else if rpc.service() == gridloop_domain::access::Service::Mediation && !QUERIES.contains(&rpc) {
            objects.session = self.topic_session().await;
        }
        objects
    }

    /// The facts of a case reported by `REPORTER` in grid A and held at `level`.
    fn held_facts(&self, level: Level) -> CaseFacts {
        let summoned = match level {
            Level::Street => {
                vec![UnitDepartment { unit: self.area(true, Level::Street), department: DEPARTMENT.into() }]
            }
            _ => vec![],
        };
        CaseFacts { unit: self.area(true, level), area: self.a.clone(), reporter: Some(REPORTER.into()), summoned }
    }

    /// What `principal`'s call of `rpc` acts on: an office acts on the case its level holds, a
    /// department on the case it is summoned to, everyone else on the case the grid holds.
    fn target<'o>(&self, rpc: Rpc, principal: &Principal, objects: &'o Objects) -> On<'o> {
        if QUERIES.contains(&rpc) {
            return On::Area;
        }
        if CASE_RPCS.contains(&rpc) {
            let level = match principal.role {
                Role::CommunityOffice => Level::Community,
                Role::StreetOffice | Role::Department => Level::Street,
                Role::DistrictOffice => Level::District,
                _ => Level::Grid,
            };
            let index = Level::ALL.iter().position(|l| *l == level).unwrap();
            return On::Object { id: &objects.held[index], facts: self.held_facts(level) };
        }
        match rpc {
            // Erasure names a reporter, not a case: the operator's, wherever they reported. API
            // keys are credentials, the operator's to hand out wherever the integrator acts.
            Rpc::GetCatalog
            | Rpc::GetJurisdiction
            | Rpc::EraseReporter
            | Rpc::CreateApiKey
            | Rpc::ListApiKeys
            | Rpc::RevokeApiKey => On::Nothing,
            Rpc::ReportCase => On::Object { id: "", facts: CaseFacts::at(self.a.clone()) },
            Rpc::EvaluateCase => On::Object {
                id: &objects.resolved,
                facts: CaseFacts { reporter: Some(REPORTER.into()), ..CaseFacts::at(self.a.clone()) },
            },
            // The register and the agenda of grid A.
            Rpc::RegisterResidents
            | Rpc::RemoveResident
            | Rpc::GetRegister
            | Rpc::ProposeAgendaTopic
            | Rpc::MergeAgendaTopics
            | Rpc::OpenRanking
            | Rpc::RankTopics
            | Rpc::CloseRanking
            | Rpc::GetAgenda => On::Object { id: "", facts: CaseFacts::at(self.a.clone()) },
            _ => On::Object { id: &objects.session, facts: CaseFacts::at(self.a.clone()) },
        }
    }

    /// Whether the policy table lets `principal` call `rpc` on `on`.
    fn allowed(&self, rpc: Rpc, principal: &Principal, on: &On<'_>) -> bool {
        match on {
            On::Nothing => rpc_scope(principal.role, rpc).is_ok(),
            On::Area => confine_query(principal, rpc, Some(&self.a)).is_ok(),
            On::Object { facts, .. } => may_act_on_case(principal, rpc, facts).is_ok(),
        }
    }
}

/// Calls `rpc` with a valid request on what `on` names; the status when it fails.
async fn call(
    channel: AuthChannel,
    rpc: Rpc,
    on: &On<'_>,
    area: &AreaCode,
    report: pb::ReportCaseRequest,
) -> Result<(), Status> {
    let id = match on {
        On::Object { id, .. } => id.to_string(),
        _ => String::new(),
    };
    let area = area.as_str().to_string();
    let mut intake = IntakeServiceClient::new(channel.clone());
    let mut dispatch = DispatchServiceClient::new(channel.clone());
    let mut mediation = MediationServiceClient::new(channel.clone());
    let mut evaluation = EvaluationServiceClient::new(channel);
    let case_id = id.clone();
    let mediation_id = id;
    macro_rules! done {
        ($call:expr) => {
            $call.await.map(|_| ())
        };
    }
    match rpc {
        Rpc::ReportCase => done!(intake.report_case(report)),
        Rpc::GetCatalog => done!(intake.get_catalog(pb::GetCatalogRequest {})),
        Rpc::GetJurisdiction => done!(intake.get_jurisdiction(pb::GetJurisdictionRequest {})),
        Rpc::EraseReporter => {
            done!(intake.erase_reporter(pb::EraseReporterRequest { reporter: "a reporter never seen".into() }))
        }
        Rpc::CreateApiKey => done!(intake.create_api_key(pb::CreateApiKeyRequest {
            subject: "fix-my-street".into(),
            role: "platform".into(),
            ..Default::default()
        })),
        Rpc::ListApiKeys => done!(intake.list_api_keys(pb::ListApiKeysRequest { include_revoked: true })),
        Rpc::RevokeApiKey => {
            done!(intake.revoke_api_key(pb::RevokeApiKeyRequest { key_id: "a key never created".into() }))
        }
        Rpc::AcceptCase => {
            done!(dispatch.accept_case(pb::AcceptCaseRequest {
                case_id,
                assignee: "张三".into(),
                ..Default::default()
            }))
        }
        Rpc::EscalateCase => {
            done!(dispatch.escalate_case(pb::EscalateCaseRequest {
                case_id,
                reason: "需上级协调".into(),
                ..Default::default()
            }))
        }
        Rpc::TransferCase => done!(dispatch.transfer_case(pb::TransferCaseRequest {
            case_id,
            to_unit: area,
            reason: "不属本单位".into(),
            ..Default::default()
        })),
        Rpc::RequestMediation => done!(dispatch.request_mediation(pb::RequestMediationRequest {
            case_id,
            topic: "邻里纠纷".into(),
            ..Default::default()
        })),
        Rpc::ResolveCase => {
            done!(dispatch.resolve_case(pb::ResolveCaseRequest {
                case_id,
                summary: "已处理".into(),
                ..Default::default()
            }))
        }
        Rpc::VerifyCase => done!(dispatch.verify_case(pb::VerifyCaseRequest {
            case_id,
            verifier: "网格员".into(),
            passed: true,
            ..Default::default()
        })),
        Rpc::RejectCase => {
            done!(dispatch.reject_case(pb::RejectCaseRequest {
                case_id,
                reason: "不属受理范围".into(),
                ..Default::default()
            }))
        }
        Rpc::SummonDepartments => done!(dispatch.summon_departments(pb::SummonDepartmentsRequest {
            case_id,
            departments: vec![DEPARTMENT.into()],
            reason: "联合执法".into(),
            ..Default::default()
        })),
        Rpc::ReportIn => done!(dispatch.report_in(pb::ReportInRequest {
            case_id,
            department: DEPARTMENT.into(),
            by: "中队长".into(),
            ..Default::default()
        })),
        Rpc::AddCaseNote => done!(dispatch.add_case_note(pb::AddCaseNoteRequest {
            case_id,
            text: "上门走访，业主不在家".into(),
            ..Default::default()
        })),
        Rpc::GetCase => done!(dispatch.get_case(pb::GetCaseRequest { case_id, ..Default::default() })),
        Rpc::GetMediation => {
            done!(mediation.get_mediation(pb::GetMediationRequest { mediation_id, ..Default::default() }))
        }
        Rpc::ConcludeMediation => done!(mediation.conclude_mediation(pb::ConcludeMediationRequest {
            mediation_id,
            outcome: pb::MediationOutcome::Agreed as i32,
            summary: "达成一致".into(),
            ..Default::default()
        })),
        Rpc::ProposeTopic => done!(mediation.propose_topic(pb::ProposeTopicRequest {
            level: pb::SessionLevel::Grid as i32,
            area_code: area,
            topic: "楼道堆物".into(),
            kind: pb::MatterKind::Consultation as i32,
            convenor: "网格长".into(),
            collected_from: "痛点箱".into(),
            ..Default::default()
        })),
        Rpc::InviteParticipant => done!(mediation.invite_participant(pb::InviteParticipantRequest {
            mediation_id,
            name: "张先生".into(),
            role: pb::ParticipantRole::Party as i32,
            ..Default::default()
        })),
        Rpc::NotifyParticipants => {
            done!(mediation.notify_participants(pb::MediationStepRequest { mediation_id, ..Default::default() }))
        }
        Rpc::OpenDeliberation => done!(mediation.open_deliberation(pb::OpenDeliberationRequest {
            mediation_id,
            present: vec!["网格长".into()],
            ..Default::default()
        })),
        Rpc::MakeStatement => done!(mediation.make_statement(pb::MakeStatementRequest {
            mediation_id,
            speaker: "网格长".into(),
            text: "请各方发言".into(),
            ..Default::default()
        })),
        Rpc::PutMotion => done!(mediation.put_motion(pb::PutMotionRequest {
            mediation_id,
            motion: "清理楼道".into(),
            yes: vec!["网格长".into()],
            ..Default::default()
        })),
        Rpc::SignAgreement => done!(mediation.sign_agreement(pb::SignAgreementRequest {
            mediation_id,
            signed_by: vec!["张先生".into()],
            residents_concerned: 10,
            ..Default::default()
        })),
        Rpc::RaiseObjection => done!(mediation.raise_objection(pb::RaiseObjectionRequest {
            mediation_id,
            residents: vec!["李女士".into()],
            ..Default::default()
        })),
        Rpc::RespondToObjection => done!(mediation.respond_to_objection(pb::RespondToObjectionRequest {
            mediation_id,
            response: pb::ObjectionResponse::Reconsider as i32,
            reason: "复议".into(),
            ..Default::default()
        })),
        Rpc::ExecuteAgreement => {
            done!(mediation.execute_agreement(pb::MediationStepRequest { mediation_id, ..Default::default() }))
        }
        Rpc::RecordNoAgreement => done!(mediation.record_no_agreement(pb::RecordNoAgreementRequest {
            mediation_id,
            referral: pb::MediationReferral::Litigation as i32,
            summary: "未达成一致".into(),
            ..Default::default()
        })),
        Rpc::RecordConsultation => done!(mediation.record_consultation(pb::RecordConsultationRequest {
            mediation_id,
            summary: "已听取意见".into(),
            ..Default::default()
        })),
        Rpc::RecordFollowUp => done!(mediation.record_follow_up(pb::RecordFollowUpRequest {
            mediation_id,
            note: "已回访".into(),
            ..Default::default()
        })),
        Rpc::GetMediationFigures => {
            done!(mediation.get_mediation_figures(pb::GetMediationFiguresRequest { area, ..Default::default() }))
        }
        Rpc::OpenBallot => done!(mediation.open_ballot(pb::OpenBallotRequest {
            mediation_id,
            motion: "清理楼道".into(),
            secret: false
        })),
        Rpc::CastBallot => {
            done!(mediation.cast_ballot(pb::CastBallotRequest { mediation_id, choice: pb::BallotChoice::Yes as i32 }))
        }
        Rpc::CloseBallot => {
            done!(mediation.close_ballot(pb::MediationStepRequest { mediation_id, ..Default::default() }))
        }
        Rpc::ObjectToDecision => {
            done!(mediation.object_to_decision(pb::MediationStepRequest { mediation_id, ..Default::default() }))
        }
        Rpc::RegisterResidents => done!(mediation.register_residents(pb::RegisterResidentsRequest {
            area_code: area,
            residents: vec![REPORTER.into()],
            group: None
        })),
        Rpc::RemoveResident => {
            done!(mediation.remove_resident(pb::RemoveResidentRequest {
                area_code: area,
                resident: "nobody".into(),
                group: None
            }))
        }
        Rpc::GetRegister => done!(mediation.get_register(pb::GetRegisterRequest { area_code: area, group: None })),
        Rpc::ProposeAgendaTopic => done!(mediation.propose_agenda_topic(pb::ProposeAgendaTopicRequest {
            area_code: area,
            title: "加装电梯".into(),
            ..Default::default()
        })),
        Rpc::MergeAgendaTopics => done!(mediation.merge_agenda_topics(pb::MergeAgendaTopicsRequest {
            area_code: area,
            duplicate: 2,
            into: 1
        })),
        Rpc::OpenRanking => done!(mediation.open_ranking(pb::OpenRankingRequest {
            area_code: area,
            method: pb::RankingMethod::D21 as i32,
            plus_votes: 0
        })),
        Rpc::RankTopics => {
            done!(mediation.rank_topics(pb::RankTopicsRequest { area_code: area, plus: vec![1], ..Default::default() }))
        }
        Rpc::CloseRanking => done!(mediation.close_ranking(pb::GetAgendaRequest { area_code: area })),
        Rpc::GetAgenda => done!(mediation.get_agenda(pb::GetAgendaRequest { area_code: area })),
        Rpc::SubmitResidentStatement => {
            done!(mediation.submit_resident_statement(pb::SubmitResidentStatementRequest {
                mediation_id,
                text: "楼道要清理".into()
            }))
        }
        Rpc::GetMatterRecord => done!(mediation.get_matter_record(pb::GetMatterRecordRequest { mediation_id })),
        Rpc::ListWaitingMediations => {
            done!(mediation.list_waiting_mediations(pb::ListWaitingMediationsRequest { area, ..Default::default() }))
        }
        Rpc::ListAreaSessions => {
            done!(mediation.list_area_sessions(pb::ListAreaSessionsRequest { area_code: area, ..Default::default() }))
        }
        Rpc::GetImplementationReport => {
            done!(mediation.get_implementation_report(pb::GetImplementationReportRequest {
                area_code: area,
                month: "2026-11".into()
            }))
        }
        Rpc::EvaluateCase => done!(evaluation.evaluate_case(pb::EvaluateCaseRequest {
            case_id,
            satisfaction: pb::Satisfaction::Satisfied as i32,
            ..Default::default()
        })),
        Rpc::ListCases => done!(evaluation.list_cases(pb::ListCasesRequest { area, ..Default::default() })),
        Rpc::GetLevelDistribution => {
            done!(evaluation.get_level_distribution(pb::GetLevelDistributionRequest { area, ..Default::default() }))
        }
        Rpc::ListDriftAlerts => {
            done!(evaluation.list_drift_alerts(pb::ListDriftAlertsRequest { area, ..Default::default() }))
        }
        Rpc::GetKpis => done!(evaluation.get_kpis(pb::GetKpisRequest { area, ..Default::default() })),
        Rpc::CountCases => done!(evaluation.count_cases(pb::CountCasesRequest { area, ..Default::default() })),
        Rpc::WatchFigures => done!(evaluation.watch_figures(pb::WatchFiguresRequest { area })),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_by_every_role_inside_and_outside_its_area_is_decided_by_the_policy_table() {
    assert_eq!(Rpc::ALL.len(), 59, "the API's RPCs");
    let mut world = World::start().await;
    // Everything the calls act on exists before the first call, so that nothing moves while
    // refusals are checked to store nothing.
    let mut objects = HashMap::new();
    for &rpc in Rpc::ALL {
        objects.insert(rpc, world.objects(rpc).await);
    }
    let mut planned = Vec::new();
    for &rpc in Rpc::ALL {
        for role in Role::ALL {
            for inside in [true, false] {
                let principal = world.caller(role, inside);
                let allowed = world.allowed(rpc, &principal, &world.target(rpc, &principal, &objects[&rpc]));
                planned.push((rpc, principal, inside, allowed));
            }
        }
    }
    assert_eq!(planned.len(), Rpc::ALL.len() * Role::ALL.len() * 2);

    // Refused: PERMISSION_DENIED, and not one event more in any store.
    let stored = world.stored().await;
    let mut refused_per_rpc: HashMap<Rpc, usize> = HashMap::new();
    for (n, (rpc, principal, inside, _)) in planned.iter().filter(|(.., allowed)| !allowed).enumerate() {
        let on = world.target(*rpc, principal, &objects[rpc]);
        let channel = world.channel_of(principal);
        let outcome = call(channel, *rpc, &on, &world.a, world.report(&format!("refused-{n}"))).await;
        let status = outcome.expect_err(&format!("{rpc} by {principal} (inside: {inside}) must be refused"));
        assert_eq!(status.code(), Code::PermissionDenied, "{rpc} by {principal} (inside: {inside}): {status:?}");
        assert_eq!(world.stored().await, stored, "{rpc} refused to {principal} stored nothing");
        *refused_per_rpc.entry(*rpc).or_default() += 1;
    }

    // Allowed: never refused for authorization; some fail for the state the object is in.
    let (mut succeeded, mut allowed_per_rpc) = (0, HashMap::<Rpc, usize>::new());
    for (n, (rpc, principal, inside, _)) in planned.iter().filter(|(.., allowed)| *allowed).enumerate() {
        let on = world.target(*rpc, principal, &objects[rpc]);
        let channel = world.channel_of(principal);
        match call(channel, *rpc, &on, &world.a, world.report(&format!("allowed-{n}"))).await {
            Ok(()) => succeeded += 1,
            Err(status) => assert!(
                !matches!(status.code(), Code::PermissionDenied | Code::Unauthenticated),
                "{rpc} by {principal} (inside: {inside}) is allowed by the table: {status:?}"
            ),
        }
        *allowed_per_rpc.entry(*rpc).or_default() += 1;
    }

    for &rpc in Rpc::ALL {
        assert!(allowed_per_rpc.get(&rpc).is_some_and(|n| *n >= 2), "someone may call {rpc}");
        let open = matches!(rpc, Rpc::GetCatalog | Rpc::GetJurisdiction);
        assert_eq!(refused_per_rpc.contains_key(&rpc), !open, "{rpc}: refused to someone unless it is reference data");
    }
    // Calls made inside their area by the roles that hold the case succeed (not just "not refused").
    assert!(succeeded >= 60, "{succeeded} allowed calls succeeded");
    world.app.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Spelled out

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_worker_acts_on_its_grids_cases_only_and_is_recorded_as_itself() {
    let metrics = observe();
    let mut world = World::start().await;
    let case_id = world.reported_case("gw").await;
    let outsider = world.caller(Role::GridWorker, false);
    let before = world.case_when(&case_id, |_| true).await;

    // The request claims a district office acting; the token says a grid worker of grid B.
    let accept = pb::AcceptCaseRequest {
        case_id: case_id.clone(),
        assignee: "张三".into(),
        actor: Some(pb::Actor { role: "district-office".into(), id: "x".into(), jurisdiction: "321012".into() }),
        ..Default::default()
    };
    let refused =
        DispatchServiceClient::new(world.channel_of(&outsider)).accept_case(accept.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains(&format!("held by {}", world.a)), "{}", refused.message());
    assert_eq!(world.case_when(&case_id, |_| true).await, before, "a refused command stores nothing");
    let audit = audit_log();
    let line = audit
        .lines()
        .find(|l| l.contains(&case_id) && l.contains("not_holding_unit"))
        .unwrap_or_else(|| panic!("{audit}"));
    assert!(
        line.contains("rpc=\"AcceptCase\"") && line.contains("role=\"grid-worker\"") && line.contains(world.b.as_str()),
        "{line}"
    );
    let counted = r#"gridloop_auth_denied_total{rpc="AcceptCase",role="grid-worker",reason="not_holding_unit"}"#;
    assert!(metrics.render().contains(counted), "{}", metrics.render());

    let insider = world.caller(Role::GridWorker, true);
    let accepted =
        DispatchServiceClient::new(world.channel_of(&insider)).accept_case(accept).await.unwrap().into_inner();
    assert_eq!(accepted.case.unwrap().state(), pb::CaseState::Accepted);
    let shown = DispatchServiceClient::new(world.admin.clone())
        .get_case(pb::GetCaseRequest { case_id: case_id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let actor = shown.history.last().and_then(|h| h.envelope.as_ref()).and_then(|e| e.actor.clone()).unwrap();
    let recorded = pb::Actor { role: "grid-worker".into(), id: "worker".into(), jurisdiction: world.a.as_str().into() };
    assert_eq!(actor, recorded, "the actor is the token's principal, not the request's field");
    world.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_worker_notes_what_it_did_on_its_grids_case_and_the_history_shows_it_with_the_author() {
    let mut world = World::start().await;
    let case_id = world.reported_case("note").await;
    let note =
        |text: &str| pb::AddCaseNoteRequest { case_id: case_id.clone(), text: text.into(), ..Default::default() };
    let outsider = world.caller(Role::GridWorker, false);
    let stored = world.stored().await;
    let refused =
        DispatchServiceClient::new(world.channel_of(&outsider)).add_case_note(note("路过看了一眼")).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(world.stored().await, stored, "a refused note stores nothing");

    let insider = world.caller(Role::GridWorker, true);
    let mut as_worker = DispatchServiceClient::new(world.channel_of(&insider));
    let noted = as_worker.add_case_note(note("  上门走访，业主不在家  ")).await.unwrap().into_inner();
    let case = noted.case.unwrap();
    assert_eq!((case.state(), case.unit_code.as_str()), (pb::CaseState::Dispatched, world.a.as_str()));
    let blank = as_worker.add_case_note(note("   ")).await.unwrap_err();
    assert_eq!(blank.code(), Code::InvalidArgument, "{blank:?}");

    let shown = as_worker
        .get_case(pb::GetCaseRequest { case_id: case_id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let last = shown.history.last().unwrap();
    let envelope = last.envelope.clone().unwrap();
    assert_eq!(envelope.event_type, "gridloop.v1.CaseNoteAdded");
    assert_eq!(envelope.stream_version, noted.version);
    let payload: serde_json::Value = serde_json::from_str(&last.payload_json).unwrap();
    assert_eq!((payload["text"].as_str(), payload["author"].as_str()), (Some("上门走访，业主不在家"), Some("worker")));
    let recorded = pb::Actor { role: "grid-worker".into(), id: "worker".into(), jurisdiction: world.a.as_str().into() };
    assert_eq!(envelope.actor, Some(recorded));
    world.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_cannot_accept_and_sees_only_the_cases_they_reported() {
    let mut world = World::start().await;
    let own = world.reported_case("own").await;
    let resident = world.caller(Role::Resident, true);
    let accept = pb::AcceptCaseRequest { case_id: own.clone(), assignee: "我".into(), ..Default::default() };
    let refused = DispatchServiceClient::new(world.channel_of(&resident)).accept_case(accept).await.unwrap_err();
    assert_eq!((refused.code(), refused.message()), (Code::PermissionDenied, "role resident may not call AcceptCase"));

    // Another resident's case in the same grid: not theirs to read.
    let other = world.caller(Role::Resident, false);
    let theirs = IntakeServiceClient::new(world.channel_of(&other)).report_case(world.report("theirs")).await;
    let theirs = theirs.unwrap().into_inner().case_id;
    world.case_when(&theirs, |c| c.state() == pb::CaseState::Dispatched).await;
    let mut as_resident = DispatchServiceClient::new(world.channel_of(&resident));
    as_resident
        .get_case(pb::GetCaseRequest { case_id: own.clone(), ..Default::default() })
        .await
        .expect("their own case");
    let refused =
        as_resident.get_case(pb::GetCaseRequest { case_id: theirs.clone(), ..Default::default() }).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    let mut evaluation = EvaluationServiceClient::new(world.channel_of(&resident));
    let deadline = Instant::now() + FLOW;
    let listed = loop {
        let everything =
            EvaluationServiceClient::new(world.admin.clone()).list_cases(pb::ListCasesRequest::default()).await;
        if everything.unwrap().into_inner().cases.len() == 2 {
            break evaluation.list_cases(pb::ListCasesRequest::default()).await.unwrap().into_inner();
        }
        assert!(Instant::now() < deadline, "the projection never listed both cases");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ids: Vec<&str> = listed.cases.iter().map(|c| c.case_id.as_str()).collect();
    assert_eq!(ids, [own.as_str()], "a resident lists the cases they reported, whatever area they ask for");
    world.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_reads_its_streets_figures_but_not_the_neighbours_and_changes_nothing() {
    let mut world = World::start().await;
    let case_id = world.reported_case("sv").await;
    let supervisor = world.caller(Role::Supervisor, true);
    let (own, neighbour) = (world.area(true, Level::Street), world.area(false, Level::Street));
    let mut evaluation = EvaluationServiceClient::new(world.channel_of(&supervisor));
    let kpis = |area: &AreaCode| pb::GetKpisRequest { area: area.as_str().into(), ..Default::default() };
    evaluation.get_kpis(kpis(&own)).await.expect("its own street");
    evaluation.get_kpis(kpis(&world.a)).await.expect("a grid of its street");
    evaluation.get_kpis(pb::GetKpisRequest::default()).await.expect("no area: its own");
    let refused = evaluation.get_kpis(kpis(&neighbour)).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains(neighbour.as_str()), "{}", refused.message());
    let distribution = pb::GetLevelDistributionRequest { area: neighbour.as_str().into(), ..Default::default() };
    assert_eq!(evaluation.get_level_distribution(distribution).await.unwrap_err().code(), Code::PermissionDenied);

    let stored = world.stored().await;
    let accept = pb::AcceptCaseRequest { case_id, assignee: "督查".into(), ..Default::default() };
    let refused = DispatchServiceClient::new(world.channel_of(&supervisor)).accept_case(accept).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let report = IntakeServiceClient::new(world.channel_of(&supervisor)).report_case(world.report("sv-2")).await;
    assert_eq!(report.unwrap_err().code(), Code::PermissionDenied);
    assert_eq!(world.stored().await, stored, "a supervisor stores nothing");
    world.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grid_worker_who_resolved_a_case_cannot_evaluate_it_but_the_hotline_can() {
    let mut world = World::start().await;
    let case_id = world.reported_case("ev").await;
    let worker = world.caller(Role::GridWorker, true);
    let mut dispatch = DispatchServiceClient::new(world.channel_of(&worker));
    let accept = pb::AcceptCaseRequest { case_id: case_id.clone(), assignee: "张三".into(), ..Default::default() };
    dispatch.accept_case(accept).await.unwrap();
    let resolve =
        pb::ResolveCaseRequest { case_id: case_id.clone(), summary: "已清理".into(), ..Default::default() };
    dispatch.resolve_case(resolve).await.unwrap();

    let evaluate = pb::EvaluateCaseRequest {
        case_id: case_id.clone(),
        satisfaction: pb::Satisfaction::Satisfied as i32,
        ..Default::default()
    };
    let refused =
        EvaluationServiceClient::new(world.channel_of(&worker)).evaluate_case(evaluate.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let hotline = world.caller(Role::Hotline, true);
    let mut as_hotline = EvaluationServiceClient::new(world.channel_of(&hotline));
    let deadline = Instant::now() + FLOW;
    loop {
        match as_hotline.evaluate_case(evaluate.clone()).await {
            Ok(_) => break,
            Err(status) if status.code() == Code::FailedPrecondition && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(status) => panic!("the hotline's callback: {status:?}"),
        }
    }
    world.case_when(&case_id, |c| c.state() == pb::CaseState::Closed).await;
    world.app.shutdown().await.unwrap();
}
