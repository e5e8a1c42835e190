//! The policy table, checked exhaustively: every RPC × every role against a matrix written out
//! independently below, and the object check for every granted pair inside and outside the
//! caller's reach.

use gridloop_domain::access::{
    confine_query, may_act_on_case, rpc_scope, CaseFacts, Denied, Principal, QueryScope, Role, Rpc, Scope,
    UnitDepartment,
};
use gridloop_domain::jurisdiction::AreaCode;

/// Columns: resident, grid-worker, community-office, street-office, district-office, department,
/// mediator, hotline, platform, supervisor, admin. `.` refused; A anywhere; O own case; H held by
/// the caller's unit; I in the caller's area; S summoned department; R in the area a resident's
/// token names (where they are registered).
const MATRIX: &str = "
ReportCase           A I I I I . . I I . A
GetCatalog           A A A A A A A A A A A
GetJurisdiction      A A A A A A A A A A A
EraseReporter        . . . . . . . . . . A
CreateApiKey         . . . . . . . . . . A
ListApiKeys          . . . . . . . . . . A
RevokeApiKey         . . . . . . . . . . A
AcceptCase           . H H H H . . . . . A
EscalateCase         . H H H H . . . . . A
TransferCase         . H H H H . . . . . A
RequestMediation     . H H H H . . . . . A
ResolveCase          . H H H H . . . . . A
VerifyCase           . I . . . . . . . . A
RejectCase           . H H H H . . . . . A
SummonDepartments    . . . H H . . . . . A
ReportIn             . . . . . S . . . . A
AddCaseNote          . H H H H S . . . . A
GetCase              O I I I I S I I I I A
GetMediation         R I I I I . I I I I A
ConcludeMediation    . H H H H . I . . . A
ProposeTopic         . . . . . . I . . . A
InviteParticipant    . . . . . . I . . . A
NotifyParticipants   . . . . . . I . . . A
OpenDeliberation     . . . . . . I . . . A
MakeStatement        . . . . . . I . . . A
PutMotion            . . . . . . I . . . A
SignAgreement        . . . . . . I . . . A
RaiseObjection       . . . . . . I . . . A
RespondToObjection   . . . . . . I . . . A
ExecuteAgreement     . . . . . . I . . . A
RecordNoAgreement    . . . . . . I . . . A
RecordConsultation   . . . . . . I . . . A
RecordFollowUp       . . . . . . I . . . A
GetMediationFigures  . . I I I . I . I I A
OpenBallot           . . . . . . I . . . A
CastBallot           R . . . . . . . . . A
CloseBallot          . . . . . . I . . . A
ObjectToDecision     R . . . . . . . . . A
RegisterResidents    . . I . . . I . . . A
RemoveResident       . . I . . . I . . . A
GetRegister          . . I I . . I . . I A
ProposeAgendaTopic   R . . . . . . . . . A
MergeAgendaTopics    . . . . . . I . . . A
OpenRanking          . . . . . . I . . . A
RankTopics           R . . . . . . . . . A
CloseRanking         . . . . . . I . . . A
GetAgenda            R I I I I . I I I I A
SubmitResidentStatement R . . . . . . . . . A
GetMatterRecord      R I I I I . I I I I A
GetImplementationReport . . I I I . I . I I A
ListWaitingMediations . . I I I . I . I I A
ListAreaSessions     R I I I I . I I I I A
EvaluateCase         O . . . . . . I I . .
ListCases            O I I I I . I I I I A
GetLevelDistribution . . I I I . . . I I A
ListDriftAlerts      . . I I I . . . I I A
GetKpis              . . I I I . . . I I A
CountCases           . . I I I . . . I I A
WatchFigures         . . I I I . . . I I A
";

fn expected() -> Vec<(Rpc, Vec<Option<Scope>>)> {
    MATRIX
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut cells = line.split_whitespace();
            let name = cells.next().unwrap();
            let rpc = *Rpc::ALL.iter().find(|rpc| rpc.method() == name).unwrap_or_else(|| panic!("no RPC {name}"));
            let scopes = cells
                .map(|cell| match cell {
                    "." => None,
                    "A" => Some(Scope::Anywhere),
                    "O" => Some(Scope::OwnCase),
                    "H" => Some(Scope::HeldByUnit),
                    "I" => Some(Scope::InArea),
                    "S" => Some(Scope::Summoned),
                    "R" => Some(Scope::Registered),
                    other => panic!("bad cell {other:?} in {line}"),
                })
                .collect::<Vec<_>>();
            assert_eq!(scopes.len(), Role::ALL.len(), "{line}");
            (rpc, scopes)
        })
        .collect()
}

#[test]
fn the_table_is_the_matrix_for_every_rpc_and_role() {
    let expected = expected();
    assert_eq!(expected.len(), Rpc::ALL.len(), "the matrix lists every RPC once");
    for &rpc in Rpc::ALL {
        let (_, scopes) = expected.iter().find(|(listed, _)| *listed == rpc).unwrap_or_else(|| panic!("{rpc} missing"));
        for (role, want) in Role::ALL.into_iter().zip(scopes) {
            let got = rpc_scope(role, rpc).ok();
            assert_eq!(got, *want, "{role} × {rpc}");
            if want.is_none() {
                assert_eq!(rpc_scope(role, rpc), Err(Denied::RoleNotAllowed { role, rpc }));
            }
        }
    }
}

#[test]
fn each_rpc_has_one_row_and_each_role_one_grant_in_it() {
    use gridloop_domain::access::policy::POLICY;
    for &rpc in Rpc::ALL {
        let rows: Vec<_> = POLICY.iter().filter(|(listed, _)| *listed == rpc).collect();
        assert_eq!(rows.len(), 1, "{rpc}");
        let mut roles: Vec<Role> = rows[0].1.iter().flat_map(|grants| grants.iter().map(|(role, _)| *role)).collect();
        let granted = roles.len();
        roles.sort();
        roles.dedup();
        assert_eq!(roles.len(), granted, "a role granted twice for {rpc}");
    }
}

#[test]
fn a_supervisor_only_reads_and_satisfaction_is_the_reporters_or_a_callbacks() {
    for &rpc in Rpc::ALL {
        // Who holds the integrators' credentials is the operator's business alone.
        let reads = rpc.is_query() && rpc != Rpc::ListApiKeys;
        assert_eq!(
            rpc_scope(Role::Supervisor, rpc).is_ok(),
            reads,
            "a supervisor reads everything but the API keys, changes nothing: {rpc}"
        );
    }
    let evaluators: Vec<Role> = Role::ALL.into_iter().filter(|r| rpc_scope(*r, Rpc::EvaluateCase).is_ok()).collect();
    assert_eq!(evaluators, [Role::Resident, Role::Hotline, Role::Platform]);
}

fn code(s: &str) -> AreaCode {
    AreaCode::new(s).unwrap()
}

/// A principal of each role, in street 321012001 of district 321012 (grid 321012001001001); the
/// resident is registered in that grid.
fn principal(role: Role) -> Principal {
    let (area, department) = match role {
        Role::Admin => (None, None),
        Role::Resident => (Some(code("321012001001001")), None),
        Role::GridWorker => (Some(code("321012001001001")), None),
        Role::CommunityOffice => (Some(code("321012001001")), None),
        Role::StreetOffice | Role::Mediator | Role::Supervisor => (Some(code("321012001")), None),
        Role::Department => (Some(code("321012001")), Some("urban-management".to_string())),
        Role::DistrictOffice | Role::Hotline | Role::Platform => (Some(code("321012")), None),
    };
    Principal::new(format!("{role}-1"), role, area, department).unwrap()
}

/// A case the principal's unit holds, in its area, that it reported and is summoned to.
fn inside(principal: &Principal) -> CaseFacts {
    let area = principal.area.clone().unwrap_or_else(|| code("321012001001001"));
    let mut grid = area.as_str().to_string();
    while grid.len() < 15 {
        grid.push_str("001");
    }
    CaseFacts {
        unit: area.clone(),
        area: code(&grid),
        reporter: Some(principal.subject.clone()),
        summoned: vec![UnitDepartment { unit: area, department: principal.department.clone().unwrap_or_default() }],
    }
}

/// A case of another district, held there, reported and summoned by others.
fn outside() -> CaseFacts {
    CaseFacts {
        unit: code("321013002"),
        area: code("321013002001001"),
        reporter: Some("someone-else".into()),
        summoned: vec![UnitDepartment { unit: code("321013002"), department: "urban-management".into() }],
    }
}

#[test]
fn every_granted_pair_acts_inside_its_reach_and_is_refused_outside() {
    for &rpc in Rpc::ALL {
        for role in Role::ALL {
            let caller = principal(role);
            let Ok(scope) = rpc_scope(role, rpc) else {
                assert!(may_act_on_case(&caller, rpc, &inside(&caller)).is_err(), "{role} × {rpc}");
                continue;
            };
            assert_eq!(may_act_on_case(&caller, rpc, &inside(&caller)), Ok(()), "{role} × {rpc} inside");
            let outcome = may_act_on_case(&caller, rpc, &outside());
            if scope == Scope::Anywhere {
                assert_eq!(outcome, Ok(()), "{role} × {rpc} anywhere");
            } else {
                assert!(outcome.is_err(), "{role} × {rpc} outside its reach ({scope:?})");
            }
        }
    }
}

#[test]
fn the_object_check_says_why() {
    let worker = principal(Role::GridWorker);
    let mut escalated = inside(&worker);
    escalated.unit = code("321012001001");
    assert_eq!(
        may_act_on_case(&worker, Rpc::AcceptCase, &escalated),
        Err(Denied::NotHoldingUnit { unit: code("321012001001"), role: Role::GridWorker })
    );
    assert_eq!(may_act_on_case(&worker, Rpc::VerifyCase, &escalated), Ok(()), "核查 of a case in its grid");
    let neighbour = CaseFacts::at(code("321012001001002"));
    assert_eq!(
        may_act_on_case(&worker, Rpc::AcceptCase, &neighbour),
        Err(Denied::NotHoldingUnit { unit: code("321012001001002"), role: Role::GridWorker })
    );
    assert_eq!(
        may_act_on_case(&principal(Role::Resident), Rpc::AcceptCase, &neighbour),
        Err(Denied::RoleNotAllowed { role: Role::Resident, rpc: Rpc::AcceptCase })
    );
    let resident = principal(Role::Resident);
    assert_eq!(may_act_on_case(&resident, Rpc::EvaluateCase, &neighbour), Err(Denied::NotTheReporter));
    let department = principal(Role::Department);
    assert_eq!(may_act_on_case(&department, Rpc::ReportIn, &neighbour), Err(Denied::NotSummoned));
    assert_eq!(
        may_act_on_case(&resident, Rpc::CastBallot, &neighbour),
        Err(Denied::OutsideArea { area: code("321012001001002") })
    );
    let city_resident = Principal::new("r", Role::Resident, None, None).unwrap();
    assert_eq!(
        may_act_on_case(&city_resident, Rpc::ObjectToDecision, &neighbour),
        Err(Denied::NoRegisteredArea),
        "a resident takes part where they are registered, never city-wide"
    );
    let hotline = principal(Role::Hotline);
    assert_eq!(
        may_act_on_case(&hotline, Rpc::EvaluateCase, &outside()),
        Err(Denied::OutsideArea { area: code("321013002001001") })
    );
    assert_eq!(Denied::OutsideArea { area: code("321013") }.to_string(), "321013 lies outside the caller's area");
}

#[test]
fn queries_are_confined_to_the_callers_subtree() {
    let supervisor = principal(Role::Supervisor);
    assert_eq!(confine_query(&supervisor, Rpc::GetKpis, None), Ok(QueryScope::Area(code("321012001"))));
    assert_eq!(
        confine_query(&supervisor, Rpc::GetKpis, Some(&code("321012001002"))),
        Ok(QueryScope::Area(code("321012001002")))
    );
    assert_eq!(
        confine_query(&supervisor, Rpc::GetKpis, Some(&code("321012002"))),
        Err(Denied::OutsideArea { area: code("321012002") }),
        "a neighbouring street"
    );
    assert_eq!(
        confine_query(&supervisor, Rpc::GetKpis, Some(&code("321012"))),
        Err(Denied::OutsideArea { area: code("321012") }),
        "the district above it"
    );
    let admin = principal(Role::Admin);
    assert_eq!(confine_query(&admin, Rpc::ListCases, None), Ok(QueryScope::Everywhere));
    assert_eq!(confine_query(&admin, Rpc::ListCases, Some(&code("321013"))), Ok(QueryScope::Area(code("321013"))));
    let resident = principal(Role::Resident);
    assert_eq!(confine_query(&resident, Rpc::ListCases, None), Ok(QueryScope::ReportedBy("resident-1".into())));
    assert!(confine_query(&resident, Rpc::GetKpis, None).is_err());
    let city_hotline = Principal::new("12345", Role::Hotline, None, None).unwrap();
    assert_eq!(confine_query(&city_hotline, Rpc::ListCases, None), Ok(QueryScope::Everywhere));
}

#[test]
fn a_resident_lists_the_sessions_of_the_area_they_are_registered_in_and_no_other() {
    let resident = principal(Role::Resident);
    let own = code("321012001001001");
    assert_eq!(confine_query(&resident, Rpc::ListAreaSessions, None), Ok(QueryScope::Area(own.clone())));
    assert_eq!(confine_query(&resident, Rpc::ListAreaSessions, Some(&own)), Ok(QueryScope::Area(own)));
    let neighbour = code("321012001001002");
    assert_eq!(
        confine_query(&resident, Rpc::ListAreaSessions, Some(&neighbour)),
        Err(Denied::OutsideArea { area: neighbour }),
        "a neighbouring grid's sessions"
    );
    assert_eq!(
        confine_query(&resident, Rpc::ListAreaSessions, Some(&code("321012001001"))),
        Err(Denied::OutsideArea { area: code("321012001001") }),
        "the community above their grid"
    );
    let city_resident = Principal::new("r", Role::Resident, None, None).unwrap();
    assert_eq!(
        confine_query(&city_resident, Rpc::ListAreaSessions, None),
        Err(Denied::NoRegisteredArea),
        "never the whole city"
    );
    let worker = principal(Role::GridWorker);
    assert_eq!(confine_query(&worker, Rpc::ListAreaSessions, None), Ok(QueryScope::Area(code("321012001001001"))));
}
