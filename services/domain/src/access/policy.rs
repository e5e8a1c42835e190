//! The one policy table — role × RPC → allowed, and under which scope rule — and the checks that
//! apply it: [`rpc_scope`] at the edge (may this role call this RPC at all?), [`may_act_on_case`]
//! in the command path (is this case within the caller's reach?), [`confine_query`] in the query
//! handlers (which part of the city may this caller read?).

use super::{Principal, Role, Rpc};
use crate::jurisdiction::AreaCode;

/// How far a granted RPC reaches: the object check applied to the case (or session) it acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// No object check: reference data, a resident's report from wherever they are, the admin.
    Anywhere,
    /// Only cases the principal reported.
    OwnCase,
    /// Only cases the principal's unit holds now (the case's current unit is the principal's area).
    HeldByUnit,
    /// Cases lying in the principal's area (its subtree; the whole city without an area).
    InArea,
    /// Cases the principal's department is summoned to (吹哨报到).
    Summoned,
    /// A resident's own part in deliberation: only where their token names the area they are
    /// registered in (never city-wide); the command checks the area's register itself.
    Registered,
}

use Role::*;
use Scope::*;

/// A group of grants a row of the policy table is made of.
type Grants = &'static [(Role, Scope)];

const ADMIN: Grants = &[(Admin, Anywhere)];

/// The offices acting on what their unit holds (the case's current unit is theirs).
const HOLDING_UNITS: Grants = &[
    (GridWorker, HeldByUnit),
    (CommunityOffice, HeldByUnit),
    (StreetOffice, HeldByUnit),
    (DistrictOffice, HeldByUnit),
];

const OFFICES_IN_AREA: Grants = &[(CommunityOffice, InArea), (StreetOffice, InArea), (DistrictOffice, InArea)];

/// Those who report on behalf of residents and call them back for their evaluation (回访).
const CALLBACKS: Grants = &[(Hotline, InArea), (Platform, InArea)];

/// Those who read the cases and sessions of their area.
const READERS: Grants = &[
    (GridWorker, InArea),
    (CommunityOffice, InArea),
    (StreetOffice, InArea),
    (DistrictOffice, InArea),
    (Mediator, InArea),
    (Hotline, InArea),
    (Platform, InArea),
    (Supervisor, InArea),
];

/// Figures of an area: its offices, a platform, the supervisor.
const FIGURES: &[Grants] = &[OFFICES_IN_AREA, &[(Platform, InArea), (Supervisor, InArea)], ADMIN];

/// The council procedure: the mediator of the session's area.
const COUNCIL: &[Grants] = &[&[(Mediator, InArea)], ADMIN];

/// What residents do themselves (propose and rank topics, vote, object): within their token's
/// area; the register of the session's or agenda's area must hold them, which the command checks.
const RESIDENTS: &[Grants] = &[&[(Resident, Registered)], ADMIN];

/// Keeping the register of residents concerned: the mediator and the community of the area.
const REGISTRARS: &[Grants] = &[&[(Mediator, InArea), (CommunityOffice, InArea)], ADMIN];

const EVERYONE: Grants = &[
    (Resident, Anywhere),
    (GridWorker, Anywhere),
    (CommunityOffice, Anywhere),
    (StreetOffice, Anywhere),
    (DistrictOffice, Anywhere),
    (Department, Anywhere),
    (Mediator, Anywhere),
    (Hotline, Anywhere),
    (Platform, Anywhere),
    (Supervisor, Anywhere),
    (Admin, Anywhere),
];

/// The policy table: per RPC, the roles that may call it (in groups) and each one's scope rule.
/// An RPC missing here, or a role missing from its row, is refused.
pub const POLICY: &[(Rpc, &[Grants])] = &[
    // Intake. A resident reports wherever they are; everyone else within their area (the
    // object is the grid the report is located in).
    (Rpc::ReportCase, &[&[(Resident, Anywhere), (GridWorker, InArea)], OFFICES_IN_AREA, CALLBACKS, ADMIN]),
    (Rpc::GetCatalog, &[EVERYONE]),
    (Rpc::GetJurisdiction, &[EVERYONE]),
    // Erasing a reporter's personal data (crypto-shredding) is the operator's.
    (Rpc::EraseReporter, &[ADMIN]),
    // Credentials for integrators are the operator's to hand out and withdraw.
    (Rpc::CreateApiKey, &[ADMIN]),
    (Rpc::ListApiKeys, &[ADMIN]),
    (Rpc::RevokeApiKey, &[ADMIN]),
    // Dispatch: the unit holding the case acts on it.
    (Rpc::AcceptCase, &[HOLDING_UNITS, ADMIN]),
    (Rpc::EscalateCase, &[HOLDING_UNITS, ADMIN]),
    (Rpc::TransferCase, &[HOLDING_UNITS, ADMIN]),
    (Rpc::RequestMediation, &[HOLDING_UNITS, ADMIN]),
    (Rpc::ResolveCase, &[HOLDING_UNITS, ADMIN]),
    (Rpc::RejectCase, &[HOLDING_UNITS, ADMIN]),
    // 核查 is the grid worker's on-site check of a case in its grid, whoever resolved it.
    (Rpc::VerifyCase, &[&[(GridWorker, InArea)], ADMIN]),
    // 吹哨: a street or the district summons departments.
    (Rpc::SummonDepartments, &[&[(StreetOffice, HeldByUnit), (DistrictOffice, HeldByUnit)], ADMIN]),
    // 报到: the summoned department itself.
    (Rpc::ReportIn, &[&[(Department, Summoned)], ADMIN]),
    // 工作记录: whoever works on the case writes down what it did.
    (Rpc::AddCaseNote, &[HOLDING_UNITS, &[(Department, Summoned)], ADMIN]),
    (Rpc::GetCase, &[&[(Resident, OwnCase), (Department, Summoned)], READERS, ADMIN]),
    // Mediation: sessions lie in an area (the case's grid, or the area a collected topic serves).
    (Rpc::GetMediation, &[&[(Resident, Registered)], READERS, ADMIN]),
    // An informal mediation (入户商) is concluded by the mediator or by the unit holding the case.
    (Rpc::ConcludeMediation, &[HOLDING_UNITS, &[(Mediator, InArea)], ADMIN]),
    (Rpc::ProposeTopic, COUNCIL),
    (Rpc::InviteParticipant, COUNCIL),
    (Rpc::NotifyParticipants, COUNCIL),
    (Rpc::OpenDeliberation, COUNCIL),
    (Rpc::MakeStatement, COUNCIL),
    (Rpc::PutMotion, COUNCIL),
    (Rpc::SignAgreement, COUNCIL),
    (Rpc::RaiseObjection, COUNCIL),
    (Rpc::RespondToObjection, COUNCIL),
    (Rpc::ExecuteAgreement, COUNCIL),
    (Rpc::RecordNoAgreement, COUNCIL),
    (Rpc::RecordConsultation, COUNCIL),
    (Rpc::RecordFollowUp, COUNCIL),
    // 云议事: residents rank topics, vote in ballots they are invited to and object themselves.
    (Rpc::OpenBallot, COUNCIL),
    (Rpc::CastBallot, RESIDENTS),
    (Rpc::CloseBallot, COUNCIL),
    (Rpc::ObjectToDecision, RESIDENTS),
    (Rpc::RegisterResidents, REGISTRARS),
    (Rpc::RemoveResident, REGISTRARS),
    (
        Rpc::GetRegister,
        &[&[(Mediator, InArea), (CommunityOffice, InArea), (StreetOffice, InArea), (Supervisor, InArea)], ADMIN],
    ),
    (Rpc::ProposeAgendaTopic, RESIDENTS),
    (Rpc::MergeAgendaTopics, COUNCIL),
    (Rpc::OpenRanking, COUNCIL),
    (Rpc::RankTopics, RESIDENTS),
    (Rpc::CloseRanking, COUNCIL),
    (Rpc::GetAgenda, &[&[(Resident, Registered)], READERS, ADMIN]),
    (Rpc::SubmitResidentStatement, RESIDENTS),
    // 一事一档 is read by whoever may read the session; the monthly report (每月通报) by those
    // who read the area's figures.
    (Rpc::GetMatterRecord, &[&[(Resident, Registered)], READERS, ADMIN]),
    (
        Rpc::GetImplementationReport,
        &[OFFICES_IN_AREA, &[(Mediator, InArea), (Platform, InArea), (Supervisor, InArea)], ADMIN],
    ),
    (
        Rpc::GetMediationFigures,
        &[OFFICES_IN_AREA, &[(Mediator, InArea), (Platform, InArea), (Supervisor, InArea)], ADMIN],
    ),
    // Which agreements wait out their notice and which matters their follow-up: the area's
    // figures, listed.
    (
        Rpc::ListWaitingMediations,
        &[OFFICES_IN_AREA, &[(Mediator, InArea), (Platform, InArea), (Supervisor, InArea)], ADMIN],
    ),
    // The sessions of an area, for whoever reads its sessions: a resident finds those of the
    // area their token names whose register holds them (which the query checks).
    (Rpc::ListAreaSessions, &[&[(Resident, Registered)], READERS, ADMIN]),
    // Evaluation: satisfaction is the reporter's, or taken by the hotline or a platform calling
    // the reporter back (回访) — never by the unit that resolved the case, nor the admin.
    (Rpc::EvaluateCase, &[&[(Resident, OwnCase)], CALLBACKS]),
    (Rpc::ListCases, &[&[(Resident, OwnCase)], READERS, ADMIN]),
    (Rpc::GetLevelDistribution, FIGURES),
    (Rpc::ListDriftAlerts, FIGURES),
    (Rpc::GetKpis, FIGURES),
    (Rpc::CountCases, FIGURES),
    (Rpc::WatchFigures, FIGURES),
];

/// Why a call was refused. The message names the reason, never personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("role {role} may not call {rpc}")]
    RoleNotAllowed { role: Role, rpc: Rpc },
    #[error("only the resident who reported the case may do this")]
    NotTheReporter,
    #[error("the case is held by {unit}, not by this {role}'s unit")]
    NotHoldingUnit { unit: AreaCode, role: Role },
    #[error("{area} lies outside the caller's area")]
    OutsideArea { area: AreaCode },
    #[error("this department is not summoned to the case")]
    NotSummoned,
    #[error("a resident takes part only in the area their token names")]
    NoRegisteredArea,
}

impl Denied {
    /// A short stable label for metrics (`gridloop_auth_denied_total{reason}`).
    pub fn reason(&self) -> &'static str {
        match self {
            Denied::RoleNotAllowed { .. } => "role",
            Denied::NotTheReporter => "not_reporter",
            Denied::NotHoldingUnit { .. } => "not_holding_unit",
            Denied::OutsideArea { .. } => "outside_area",
            Denied::NotSummoned => "not_summoned",
            Denied::NoRegisteredArea => "no_registered_area",
        }
    }
}

/// The scope rule under which `role` may call `rpc`, or why it may not.
pub fn rpc_scope(role: Role, rpc: Rpc) -> Result<Scope, Denied> {
    POLICY
        .iter()
        .find(|(listed, _)| *listed == rpc)
        .and_then(|(_, groups)| groups.iter().flat_map(|grants| grants.iter()).find(|(granted, _)| *granted == role))
        .map(|&(_, scope)| scope)
        .ok_or(Denied::RoleNotAllowed { role, rpc })
}

/// A department of a unit: the unit's area code and the department's function code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitDepartment {
    pub unit: AreaCode,
    pub department: String,
}

/// What the object check needs to know about the case (or mediation session) a call acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    /// The unit holding the case now: the area code at its current level. For a session, the
    /// unit holding its case (or, without a case, the area the session serves).
    pub unit: AreaCode,
    /// Where the case lies: its grid. For a session without a case, the area it serves; for a
    /// report, the grid it was located in.
    pub area: AreaCode,
    /// The reporter's id as recorded with the case, when a resident reported it.
    pub reporter: Option<String>,
    /// Departments summoned to the case.
    pub summoned: Vec<UnitDepartment>,
}

impl CaseFacts {
    /// An object that is just a place (a report's grid, the area of a collected topic).
    pub fn at(area: AreaCode) -> CaseFacts {
        CaseFacts { unit: area.clone(), area, reporter: None, summoned: Vec::new() }
    }
}

/// The object check: may `principal` call `rpc` on the case `facts` describes?
pub fn may_act_on_case(principal: &Principal, rpc: Rpc, facts: &CaseFacts) -> Result<(), Denied> {
    match rpc_scope(principal.role, rpc)? {
        Anywhere => Ok(()),
        OwnCase if facts.reporter.as_deref() == Some(principal.subject.as_str()) => Ok(()),
        OwnCase => Err(Denied::NotTheReporter),
        HeldByUnit if principal.area.as_ref() == Some(&facts.unit) => Ok(()),
        HeldByUnit => Err(Denied::NotHoldingUnit { unit: facts.unit.clone(), role: principal.role }),
        InArea if principal.reaches(&facts.area) => Ok(()),
        InArea => Err(Denied::OutsideArea { area: facts.area.clone() }),
        Registered => match &principal.area {
            Some(own) if own.contains(&facts.area) => Ok(()),
            Some(_) => Err(Denied::OutsideArea { area: facts.area.clone() }),
            None => Err(Denied::NoRegisteredArea),
        },
        Summoned => {
            let summoned = facts.summoned.iter().any(|s| {
                principal.area.as_ref() == Some(&s.unit) && principal.department.as_deref() == Some(&s.department)
            });
            summoned.then_some(()).ok_or(Denied::NotSummoned)
        }
    }
}

/// The part of the city a query may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryScope {
    /// Everything (a city-wide principal that asked for no area).
    Everywhere,
    /// This area's subtree.
    Area(AreaCode),
    /// Only the cases this subject reported.
    ReportedBy(String),
}

/// Query confinement: the area a query of `rpc` by `principal` reads, given the area it asked
/// for. No area means the caller's own; an area outside the caller's reach is refused.
pub fn confine_query(principal: &Principal, rpc: Rpc, requested: Option<&AreaCode>) -> Result<QueryScope, Denied> {
    let scope = rpc_scope(principal.role, rpc)?;
    if scope == OwnCase {
        return Ok(QueryScope::ReportedBy(principal.subject.clone()));
    }
    // A resident reads only where they are registered: never the whole city.
    if scope == Registered && principal.area.is_none() {
        return Err(Denied::NoRegisteredArea);
    }
    let reach = if scope == Anywhere { None } else { principal.area.as_ref() };
    match (requested, reach) {
        (Some(area), Some(own)) if !own.contains(area) => Err(Denied::OutsideArea { area: area.clone() }),
        (Some(area), _) => Ok(QueryScope::Area(area.clone())),
        (None, Some(own)) => Ok(QueryScope::Area(own.clone())),
        (None, None) => Ok(QueryScope::Everywhere),
    }
}
