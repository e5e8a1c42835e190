//! Domain tests for the Case aggregate: one given/when/then test per transition and per refused
//! transition, then property tests for the escalation ladder (never moves down, never skips a
//! level without a reason, ends at exactly one level).
//!
//! The tests use their own `RoutingPolicy` (`TestPolicy`) with fixed wall-clock SLAs (deadline =
//! start + SLA, no working-time calendar, so expectations are easy to compute by hand) and units
//! derived from the codes themselves (a unit is the prefix of the codes under it), so they depend
//! on nothing but `case.rs` and `level.rs`.

use chrono::{Duration, TimeZone, Utc};
use gridloop_domain::case::{
    self, decide, Assignment, Case, CaseCommand, CaseDetails, CaseError, CaseEvent, CaseStatus, Channel,
    EscalationReason, MediationVerdict, Reporter, ReporterKind, RoutingPolicy, Satisfaction, SummonedDepartment,
    Summons,
};
use gridloop_domain::decider::Misfit;
use gridloop_domain::ids::CaseId;
use gridloop_domain::jurisdiction::Department;
use gridloop_domain::level::Level;
use gridloop_domain::priority::{CategoryPriority, Priority, SpecialGroup};
use gridloop_domain::Timestamp;
use proptest::prelude::*;
use uuid::Uuid;

/// Fold an event these tests know fits (they build histories from decided events).
fn evolve(case: Case, event: &CaseEvent) -> Case {
    case::evolve(case, event).expect("the event fits the case")
}

/// Rebuild a case from a history these tests know fits.
fn replay<'a>(events: impl IntoIterator<Item = &'a CaseEvent>) -> Case {
    case::replay(events).expect("the history fits the case")
}

// ---------------------------------------------------------------------------------------------
// The test city: one grid, its community, street and district; two more communities.
// ---------------------------------------------------------------------------------------------

const GRID: &str = "321012001001001";
const COMMUNITY: &str = "321012001001";
const STREET: &str = "321012001";
const DISTRICT: &str = "321012";
/// Another community under the same street: a transfer (一转) target.
const OTHER_COMMUNITY: &str = "321012001002";
/// A community under another street.
const FAR_COMMUNITY: &str = "321012002001";
const FAR_STREET: &str = "321012002";

/// Neighbour disputes start at the grid and may go to mediation (the default category).
const DISPUTE: &str = "neighbour.dispute";
/// Property-fee disputes start at the community (权责清单) and may go to mediation.
const PROPERTY_FEE: &str = "property.fee";
/// Gas leaks start at the grid, are not a matter for mediation, and have a short accept SLA.
const GAS_LEAK: &str = "safety.gas_leak";

const RULE_START: &str = "responsibility-list:start-level";
const RULE_URGENT: &str = "urgent-major:enter-at-street";

struct TestPolicy;

impl TestPolicy {
    fn accept_sla(&self, category_code: &str, level: Level) -> Duration {
        if category_code == GAS_LEAK {
            return Duration::minutes(30);
        }
        accept_sla(level)
    }

    fn resolve_sla(&self, _category_code: &str, level: Level) -> Duration {
        resolve_sla(level)
    }
}

impl RoutingPolicy for TestPolicy {
    fn entry_level(&self, category_code: &str, urgent: bool) -> Option<(Level, &'static str)> {
        let start = match category_code {
            DISPUTE | GAS_LEAK => Level::Grid,
            PROPERTY_FEE => Level::Community,
            _ => return None,
        };
        if urgent && start < Level::Street {
            Some((Level::Street, RULE_URGENT))
        } else {
            Some((start, RULE_START))
        }
    }

    /// The ancestor at `level` of `code` (a grid or a unit at or below `level`): its code prefix.
    fn unit_for(&self, code: &str, level: Level) -> Option<String> {
        let own = code_level(code)?;
        (level >= own).then(|| code[..level.code_len()].to_string())
    }

    fn is_unit_at(&self, unit: &str, level: Level) -> bool {
        code_level(unit) == Some(level)
    }

    fn accept_deadline(&self, category_code: &str, level: Level, from: Timestamp) -> Timestamp {
        from + self.accept_sla(category_code, level)
    }

    fn resolve_deadline(&self, category_code: &str, level: Level, from: Timestamp) -> Timestamp {
        from + self.resolve_sla(category_code, level)
    }

    fn feedback_deadline(&self, _category_code: &str, from: Timestamp) -> Timestamp {
        from + Duration::days(3)
    }

    fn mediable(&self, category_code: &str) -> bool {
        matches!(category_code, DISPUTE | PROPERTY_FEE)
    }

    /// A gas leak fixed above the grid is checked on site by the grid worker (核查) within 4 hours.
    fn verify_deadline(&self, category_code: &str, level: Level, from: Timestamp) -> Option<Timestamp> {
        (category_code == GAS_LEAK && level > Level::Grid).then(|| from + Duration::hours(4))
    }

    /// Gas leaks are critical, property-fee disputes important, neighbour disputes routine.
    fn category_priority(&self, category_code: &str) -> CategoryPriority {
        match category_code {
            GAS_LEAK => CategoryPriority::Critical,
            PROPERTY_FEE => CategoryPriority::Important,
            _ => CategoryPriority::Routine,
        }
    }

    fn summonable(&self, holder: &str, reference: &str) -> Option<SummonedDepartment> {
        summonable_in_test_city(holder, reference)
    }

    /// Streets and districts own cases through a department: gas leaks the emergency office,
    /// everything else the comprehensive-governance centre (综治中心).
    fn department_for(&self, category_code: &str, unit: &str, level: Level) -> Option<Department> {
        let code = if category_code == GAS_LEAK { "emergency-management" } else { "comprehensive-governance" };
        (level >= Level::Street).then(|| Department { code: code.into(), name: format!("{unit} {code}") })
    }
}

/// What a unit may summon in the test city: every street its own 市场监管所 and 城管中队, and
/// the district's 生态环境局.
fn summonable_in_test_city(holder: &str, reference: &str) -> Option<SummonedDepartment> {
    let (area, code) = match reference.split_once('/') {
        Some((area, code)) => (Some(area), code),
        None => (None, reference),
    };
    let unit = match code {
        "market-regulation" | "urban-management" if code_level(holder) == Some(Level::Street) => holder,
        "ecology-environment" if code_level(holder).is_some() => DISTRICT,
        _ => return None,
    };
    if area.is_some_and(|area| area != unit) {
        return None;
    }
    Some(SummonedDepartment {
        unit: unit.into(),
        department: Department { code: code.into(), name: format!("{unit} {code}") },
    })
}

/// The department `TestPolicy` assigns a case of the default category at `unit` on `level`.
fn department(level: Level, unit: &str) -> Option<Department> {
    TestPolicy.department_for(DISPUTE, unit, level)
}

/// The level of a unit or grid code (6, 9, 12 or 15 digits), or `None` for anything else.
fn code_level(code: &str) -> Option<Level> {
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Level::ALL.into_iter().find(|level| level.code_len() == code.len())
}

/// Accept SLA of the default category: 2h, 4h, 8h, 24h up the ladder.
fn accept_sla(level: Level) -> Duration {
    match level {
        Level::Grid => Duration::hours(2),
        Level::Community => Duration::hours(4),
        Level::Street => Duration::hours(8),
        Level::District => Duration::hours(24),
    }
}

/// Resolve SLA: 1, 2, 3, 5 days up the ladder.
fn resolve_sla(level: Level) -> Duration {
    match level {
        Level::Grid => Duration::days(1),
        Level::Community => Duration::days(2),
        Level::Street => Duration::days(3),
        Level::District => Duration::days(5),
    }
}

fn unit(level: Level) -> &'static str {
    match level {
        Level::Grid => GRID,
        Level::Community => COMMUNITY,
        Level::Street => STREET,
        Level::District => DISTRICT,
    }
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// Monday 2025-03-03 09:00 UTC: the report comes in.
fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 3, 3, 9, 0, 0).unwrap()
}

/// `t0` plus `minutes`.
fn at(minutes: i64) -> Timestamp {
    t0() + Duration::minutes(minutes)
}

fn hours(h: i64) -> i64 {
    h * 60
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

fn case_id() -> CaseId {
    CaseId(Uuid::from_u128(0x0196_0000_0000_7000_8000_0000_0000_0001))
}

fn details(category: &str, urgent: bool) -> CaseDetails {
    CaseDetails {
        category_code: category.to_string(),
        grid_code: GRID.to_string(),
        lat: 31.2304,
        lon: 121.4737,
        description: "noise from the flat upstairs every night".to_string(),
        reporter: Reporter {
            kind: ReporterKind::Resident,
            id: "resident-17".to_string(),
            name: "Li Hua".to_string(),
            phone: "13800000000".to_string(),
        },
        channel: Channel::ResidentApp,
        discovered_at: t0() - Duration::minutes(5),
        uploaded_at: t0(),
        urgent,
        special_groups: vec![],
    }
}

/// A priority as recorded: score and reasons.
fn priority(score: u32, reasons: &[&str]) -> Priority {
    Priority { score, reasons: reasons.iter().map(|r| r.to_string()).collect() }
}

/// The priority of a plain neighbour-dispute report.
fn routine() -> Priority {
    priority(10, &["category priority routine (+10)"])
}

fn opened() -> CaseEvent {
    opened_as(DISPUTE)
}

fn opened_as(category: &str) -> CaseEvent {
    CaseEvent::Opened { case_id: case_id(), details: details(category, false) }
}

fn assignment(level: Level, deadline: Timestamp) -> Assignment {
    Assignment { level, unit: unit(level).to_string(), deadline, department: department(level, unit(level)) }
}

fn dispatched(level: Level, deadline: Timestamp) -> CaseEvent {
    CaseEvent::Dispatched { to: assignment(level, deadline), rule: RULE_START.to_string(), priority: routine() }
}

fn accepted(level: Level, deadline: Timestamp) -> CaseEvent {
    CaseEvent::Accepted { at: assignment(level, deadline), assignee: "wang".to_string() }
}

fn escalated(from: Level, deadline: Timestamp, reason: EscalationReason, note: &str) -> CaseEvent {
    CaseEvent::Escalated { from, to: assignment(from.up().unwrap(), deadline), reason, note: note.to_string() }
}

fn mediation_requested(level: Level) -> CaseEvent {
    CaseEvent::MediationRequested { level, topic: "noise at night".to_string() }
}

fn resolved(level: Level) -> CaseEvent {
    CaseEvent::Resolved {
        level,
        unit: unit(level).to_string(),
        summary: "quiet hours agreed".to_string(),
        verify_by: None,
    }
}

fn evaluated(satisfaction: Satisfaction) -> CaseEvent {
    CaseEvent::Evaluated { satisfaction, comment: "ok".to_string(), defaulted: false }
}

fn closed(level: Level) -> CaseEvent {
    CaseEvent::Closed { level, satisfaction: Some(Satisfaction::Satisfied) }
}

fn rejected() -> CaseEvent {
    CaseEvent::Rejected { reason: "duplicate of an open case".to_string() }
}

// ---------------------------------------------------------------------------------------------
// Histories (the "given"s), on the default timeline:
// opened and dispatched to the grid at t0, accepted at t0+1h, ...
// ---------------------------------------------------------------------------------------------

/// Dispatched to the grid at t0; accept deadline t0+2h.
fn a_dispatched_case() -> Vec<CaseEvent> {
    vec![opened(), dispatched(Level::Grid, at(hours(2)))]
}

/// Accepted by the grid at t0+1h; resolve deadline t0+25h.
fn an_accepted_case() -> Vec<CaseEvent> {
    let mut h = a_dispatched_case();
    h.push(accepted(Level::Grid, at(hours(1)) + resolve_sla(Level::Grid)));
    h
}

/// Escalated on request, one level at a time, to `level`, and dispatched there (the n-th escalation
/// happens at t0+n hours). The last accept deadline is `escalated_at + accept_sla(level)`.
fn a_case_dispatched_at(level: Level) -> Vec<CaseEvent> {
    let mut h = a_dispatched_case();
    let mut current = Level::Grid;
    let mut n = 0;
    while current < level {
        n += 1;
        let next = current.up().unwrap();
        h.push(escalated(current, at(hours(n)) + accept_sla(next), EscalationReason::Requested, "cannot settle"));
        current = next;
    }
    h
}

/// The deadline of the last assignment in [`a_case_dispatched_at`].
fn accept_deadline_at(level: Level) -> Timestamp {
    let n = Level::ALL.iter().position(|l| *l == level).unwrap() as i64;
    if n == 0 {
        at(hours(2))
    } else {
        at(hours(n)) + accept_sla(level)
    }
}

/// Accepted at `level` at t0+10h; resolve deadline t0+10h+resolve_sla(level).
fn a_case_accepted_at(level: Level) -> Vec<CaseEvent> {
    let mut h = a_case_dispatched_at(level);
    h.push(accepted(level, at(hours(10)) + resolve_sla(level)));
    h
}

fn a_case_in_mediation() -> Vec<CaseEvent> {
    let mut h = an_accepted_case();
    h.push(mediation_requested(Level::Grid));
    h
}

fn a_case_resolved_at(level: Level) -> Vec<CaseEvent> {
    let mut h = a_case_accepted_at(level);
    h.push(resolved(level));
    h
}

fn a_resolved_case() -> Vec<CaseEvent> {
    a_case_resolved_at(Level::Grid)
}

fn a_closed_case() -> Vec<CaseEvent> {
    let mut h = a_resolved_case();
    h.push(evaluated(Satisfaction::Satisfied));
    h.push(closed(Level::Grid));
    h
}

fn a_rejected_case() -> Vec<CaseEvent> {
    let mut h = a_dispatched_case();
    h.push(rejected());
    h
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

fn open(category: &str, urgent: bool) -> CaseCommand {
    CaseCommand::Open { case_id: case_id(), details: details(category, urgent) }
}

fn reject(reason: &str) -> CaseCommand {
    CaseCommand::Reject { reason: reason.to_string() }
}

fn accept(assignee: &str) -> CaseCommand {
    CaseCommand::Accept { assignee: assignee.to_string() }
}

fn escalate(reason: &str) -> CaseCommand {
    CaseCommand::Escalate { reason: reason.to_string() }
}

fn expire(deadline: Timestamp) -> CaseCommand {
    CaseCommand::DeadlineExpired { deadline }
}

fn transfer(to_unit: &str, reason: &str) -> CaseCommand {
    CaseCommand::Transfer { to_unit: to_unit.to_string(), reason: reason.to_string() }
}

fn request_mediation(topic: &str) -> CaseCommand {
    CaseCommand::RequestMediation { topic: topic.to_string() }
}

fn conclude_mediation(agreed: bool, summary: &str) -> CaseCommand {
    let verdict = if agreed { MediationVerdict::Agreed } else { MediationVerdict::BackToUnit };
    CaseCommand::ConcludeMediation { mediation_id: "med-1".to_string(), verdict, summary: summary.to_string() }
}

fn resolve(summary: &str) -> CaseCommand {
    CaseCommand::Resolve { summary: summary.to_string() }
}

fn verify(passed: bool, note: &str) -> CaseCommand {
    CaseCommand::Verify { verifier: "grid worker zhao".to_string(), passed, note: note.to_string() }
}

fn evaluate(satisfaction: Satisfaction, comment: &str, defaulted: bool) -> CaseCommand {
    CaseCommand::RecordEvaluation { satisfaction, comment: comment.to_string(), defaulted }
}

/// One command of every kind, with plausible arguments.
fn every_command(deadline: Timestamp) -> Vec<CaseCommand> {
    vec![
        open(DISPUTE, false),
        reject("duplicate"),
        accept("wang"),
        escalate("cannot settle"),
        expire(deadline),
        transfer(OTHER_COMMUNITY, "wrong community"),
        request_mediation("noise"),
        conclude_mediation(true, "agreed"),
        conclude_mediation(false, "no agreement"),
        resolve("done"),
        verify(true, "fixed"),
        verify(false, "still leaking"),
        evaluate(Satisfaction::Satisfied, "thanks", false),
        evaluate(Satisfaction::Unsatisfied, "still noisy", false),
    ]
}

// ---------------------------------------------------------------------------------------------
// given / when / then
// ---------------------------------------------------------------------------------------------

struct Given {
    history: Vec<CaseEvent>,
    now: Timestamp,
}

/// The case as folded from `history`; commands are decided at t0+12h unless `.at(..)` says otherwise.
fn given(history: &[CaseEvent]) -> Given {
    Given { history: history.to_vec(), now: at(hours(12)) }
}

fn given_no_case() -> Given {
    Given { history: vec![], now: t0() }
}

impl Given {
    fn at(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }

    fn when(self, command: CaseCommand) -> When {
        let before = replay(&self.history);
        let result = decide(&before, &command, &TestPolicy, self.now);
        When { before, command, result }
    }
}

struct When {
    before: Case,
    command: CaseCommand,
    result: Result<Vec<CaseEvent>, CaseError>,
}

impl When {
    /// Asserts the command produced exactly `expected`; returns the case with them folded in.
    #[track_caller]
    fn then(self, expected: &[CaseEvent]) -> Case {
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "events of {:?}", self.command);
                events.iter().fold(self.before, evolve)
            }
            Err(error) => panic!("expected {expected:?}, but {:?} was refused: {error:?}", self.command),
        }
    }

    /// Asserts the command was accepted but produced no events; returns the unchanged case.
    #[track_caller]
    fn then_nothing(self) -> Case {
        self.then(&[])
    }

    #[track_caller]
    fn then_refused(self, matches: impl FnOnce(&CaseError) -> bool) -> CaseError {
        match self.result {
            Ok(events) => panic!("expected {:?} to be refused, but it produced {events:?}", self.command),
            Err(error) => {
                assert!(matches(&error), "{:?} was refused with an unexpected error: {error:?}", self.command);
                error
            }
        }
    }

    /// Refused as forbidden by the case's state, naming the command and the state.
    #[track_caller]
    fn then_forbidden(self) -> &'static str {
        let command = self.command.name();
        let state = self.before.status.name();
        match self.then_refused(|e| matches!(e, CaseError::Forbidden { .. })) {
            CaseError::Forbidden { command: c, state: s, reason } => {
                assert_eq!((c, s), (command, state), "the error names the command and the state");
                assert!(!reason.is_empty());
                reason
            }
            _ => unreachable!(),
        }
    }

    #[track_caller]
    fn then_invalid(self, field: &str) {
        self.then_refused(|e| matches!(e, CaseError::Invalid { field: f, .. } if *f == field));
    }
}

// =============================================================================================
// The test policy
// =============================================================================================

#[test]
fn the_test_policy_maps_a_grid_or_a_unit_to_its_ancestor_at_a_level_at_or_above_its_own() {
    let p = TestPolicy;
    for level in Level::ALL {
        assert_eq!(p.unit_for(GRID, level).as_deref(), Some(unit(level)));
        assert_eq!(p.unit_for(unit(level), level).as_deref(), Some(unit(level)), "a unit is its own unit");
    }
    assert_eq!(p.unit_for(FAR_COMMUNITY, Level::Street).as_deref(), Some(FAR_STREET));
    assert_eq!(p.unit_for(FAR_COMMUNITY, Level::District).as_deref(), Some(DISTRICT));
    assert_eq!(p.unit_for(COMMUNITY, Level::Grid), None, "no unit below the code's own level");
    assert_eq!(p.unit_for(DISTRICT, Level::Street), None);
    for code in ["", "32101", "3210120010", "32101200100100a", "not-a-grid", "3210120010010010"] {
        assert_eq!(p.unit_for(code, Level::District), None, "{code:?}");
    }
}

// =============================================================================================
// Open
// =============================================================================================

#[test]
fn given_no_case_when_a_report_is_opened_then_it_is_dispatched_to_the_grid_with_an_accept_deadline() {
    let case = given_no_case().at(t0()).when(open(DISPUTE, false)).then(&[
        CaseEvent::Opened { case_id: case_id(), details: details(DISPUTE, false) },
        CaseEvent::Dispatched {
            to: Assignment {
                level: Level::Grid,
                unit: GRID.into(),
                deadline: t0() + Duration::hours(2),
                department: department(Level::Grid, GRID),
            },
            rule: RULE_START.into(),
            priority: routine(),
        },
    ]);
    assert_eq!(case.id, Some(case_id()));
    assert_eq!(case.details, Some(details(DISPUTE, false)));
    assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::Grid, t0() + Duration::hours(2)) });
    assert_eq!(case.version, 2);
}

#[test]
fn given_no_case_when_a_category_that_starts_at_the_community_is_opened_then_it_is_dispatched_to_the_community() {
    given_no_case().at(t0()).when(open(PROPERTY_FEE, false)).then(&[
        CaseEvent::Opened { case_id: case_id(), details: details(PROPERTY_FEE, false) },
        CaseEvent::Dispatched {
            to: Assignment {
                level: Level::Community,
                unit: COMMUNITY.into(),
                deadline: t0() + Duration::hours(4),
                department: department(Level::Community, COMMUNITY),
            },
            rule: RULE_START.into(),
            priority: priority(20, &["category priority important (+20)"]),
        },
    ]);
}

#[test]
fn given_no_case_when_a_report_is_opened_then_the_accept_deadline_uses_the_category_sla() {
    given_no_case().at(t0()).when(open(GAS_LEAK, false)).then(&[
        CaseEvent::Opened { case_id: case_id(), details: details(GAS_LEAK, false) },
        CaseEvent::Dispatched {
            to: Assignment {
                level: Level::Grid,
                unit: GRID.into(),
                deadline: t0() + Duration::minutes(30),
                department: department(Level::Grid, GRID),
            },
            rule: RULE_START.into(),
            priority: priority(30, &["category priority critical (+30)"]),
        },
    ]);
}

#[test]
fn given_no_case_when_an_urgent_report_is_opened_then_it_enters_at_the_street_under_the_urgent_rule() {
    let case = given_no_case().at(t0()).when(open(DISPUTE, true)).then(&[
        CaseEvent::Opened { case_id: case_id(), details: details(DISPUTE, true) },
        CaseEvent::Dispatched {
            to: Assignment {
                level: Level::Street,
                unit: STREET.into(),
                deadline: t0() + Duration::hours(8),
                department: department(Level::Street, STREET),
            },
            rule: RULE_URGENT.into(),
            priority: priority(110, &["category priority routine (+10)", "urgent or major (+100)"]),
        },
    ]);
    assert_eq!(case.status.level(), Some(Level::Street));
    assert_eq!(case.escalations, 0, "entering higher up is not an escalation");
}

#[test]
fn given_no_case_when_a_report_for_a_special_group_is_opened_then_its_priority_says_so() {
    let mut report = details(DISPUTE, false);
    report.special_groups = vec![SpecialGroup::ElderlyLivingAlone, SpecialGroup::Disabled];
    let events =
        given_no_case().at(t0()).when(CaseCommand::Open { case_id: case_id(), details: report.clone() }).then(&[
            CaseEvent::Opened { case_id: case_id(), details: report },
            CaseEvent::Dispatched {
                to: assignment(Level::Grid, t0() + Duration::hours(2)),
                rule: RULE_START.into(),
                priority: priority(
                    30,
                    &["category priority routine (+10)", "special group: elderly_living_alone, disabled (+20)"],
                ),
            },
        ]);
    assert_eq!(events.priority.score, 30);
    assert_eq!(events.signals.special_groups.len(), 2);
}

#[test]
fn given_an_opened_case_when_it_is_opened_again_then_it_is_refused_as_already_opened() {
    given(&a_dispatched_case()).when(open(DISPUTE, false)).then_refused(|e| *e == CaseError::AlreadyOpened);
}

#[test]
fn given_a_closed_case_when_it_is_opened_again_then_it_is_refused_as_already_opened() {
    given(&a_closed_case()).when(open(DISPUTE, false)).then_refused(|e| *e == CaseError::AlreadyOpened);
}

#[test]
fn given_no_case_when_a_report_of_an_unknown_category_is_opened_then_the_category_code_is_invalid() {
    given_no_case().when(open("no.such.category", false)).then_invalid("category_code");
}

#[test]
fn given_no_case_when_a_report_from_a_grid_without_units_is_opened_then_the_grid_code_is_invalid() {
    let mut details = details(DISPUTE, false);
    details.grid_code = "not-a-grid".into();
    given_no_case().when(CaseCommand::Open { case_id: case_id(), details }).then_invalid("grid_code");
}

#[test]
fn given_no_case_when_any_other_command_is_sent_then_the_case_is_not_found() {
    for command in every_command(at(hours(2))).into_iter().filter(|c| c.name() != "open") {
        given_no_case().when(command).then_refused(|e| *e == CaseError::NotFound);
    }
}

// =============================================================================================
// Reject
// =============================================================================================

#[test]
fn given_a_dispatched_case_when_it_is_rejected_with_a_reason_then_it_is_rejected() {
    let case = given(&a_dispatched_case())
        .when(reject("not within the grid's remit"))
        .then(&[CaseEvent::Rejected { reason: "not within the grid's remit".into() }]);
    assert_eq!(case.status, CaseStatus::Rejected { reason: "not within the grid's remit".into() });
    assert!(case.status.is_terminal());
    assert_eq!(case.status.level(), None);
    assert_eq!(case.status.deadline(), None);
}

#[test]
fn given_a_dispatched_case_when_it_is_rejected_without_a_reason_then_the_reason_is_invalid() {
    given(&a_dispatched_case()).when(reject("  ")).then_invalid("reason");
}

#[test]
fn given_an_accepted_case_when_it_is_rejected_then_it_is_forbidden() {
    given(&an_accepted_case()).when(reject("duplicate")).then_forbidden();
}

#[test]
fn given_a_resolved_case_when_it_is_rejected_then_it_is_forbidden() {
    given(&a_resolved_case()).when(reject("duplicate")).then_forbidden();
}

#[test]
fn given_a_closed_case_when_it_is_rejected_then_it_is_forbidden() {
    given(&a_closed_case()).when(reject("duplicate")).then_forbidden();
}

// =============================================================================================
// Accept
// =============================================================================================

#[test]
fn given_a_dispatched_case_when_the_grid_accepts_then_it_is_accepted_with_a_resolve_deadline() {
    let now = at(hours(1));
    let case = given(&a_dispatched_case()).at(now).when(accept("wang")).then(&[CaseEvent::Accepted {
        at: Assignment {
            level: Level::Grid,
            unit: GRID.into(),
            deadline: now + Duration::days(1),
            department: department(Level::Grid, GRID),
        },
        assignee: "wang".into(),
    }]);
    assert_eq!(
        case.status,
        CaseStatus::Accepted { at: assignment(Level::Grid, now + Duration::days(1)), assignee: "wang".into() }
    );
}

#[test]
fn given_a_case_dispatched_to_the_street_when_the_street_accepts_then_the_resolve_deadline_is_the_streets() {
    let now = at(hours(3));
    given(&a_case_dispatched_at(Level::Street)).at(now).when(accept("zhao")).then(&[CaseEvent::Accepted {
        at: assignment(Level::Street, now + Duration::days(3)),
        assignee: "zhao".into(),
    }]);
}

#[test]
fn given_a_dispatched_case_when_it_is_accepted_without_an_assignee_then_the_assignee_is_invalid() {
    given(&a_dispatched_case()).when(accept("")).then_invalid("assignee");
}

#[test]
fn given_an_accepted_case_when_it_is_accepted_again_then_it_is_forbidden() {
    given(&an_accepted_case()).when(accept("wang")).then_forbidden();
}

#[test]
fn given_a_resolved_case_when_it_is_accepted_then_it_is_forbidden() {
    given(&a_resolved_case()).when(accept("wang")).then_forbidden();
}

#[test]
fn given_a_closed_case_when_it_is_accepted_then_it_is_forbidden() {
    given(&a_closed_case()).when(accept("wang")).then_forbidden();
}

#[test]
fn given_a_rejected_case_when_it_is_accepted_then_it_is_forbidden() {
    given(&a_rejected_case()).when(accept("wang")).then_forbidden();
}

#[test]
fn given_a_case_in_mediation_when_it_is_accepted_then_it_is_forbidden() {
    given(&a_case_in_mediation()).when(accept("wang")).then_forbidden();
}

// =============================================================================================
// Escalate (on request: 三提)
// =============================================================================================

#[test]
fn given_a_dispatched_case_when_the_grid_asks_to_escalate_then_it_is_escalated_to_the_community() {
    let now = at(hours(1));
    let case =
        given(&a_dispatched_case()).at(now).when(escalate("the grid cannot settle it")).then(&[CaseEvent::Escalated {
            from: Level::Grid,
            to: Assignment {
                level: Level::Community,
                unit: COMMUNITY.into(),
                deadline: now + Duration::hours(4),
                department: department(Level::Community, COMMUNITY),
            },
            reason: EscalationReason::Requested,
            note: "the grid cannot settle it".into(),
        }]);
    assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::Community, now + Duration::hours(4)) });
    assert_eq!(case.escalations, 1);
}

#[test]
fn given_a_case_accepted_at_the_community_when_it_asks_to_escalate_then_it_is_dispatched_to_the_street() {
    let now = at(hours(11));
    let case = given(&a_case_accepted_at(Level::Community)).at(now).when(escalate("needs the street")).then(&[
        CaseEvent::Escalated {
            from: Level::Community,
            to: Assignment {
                level: Level::Street,
                unit: STREET.into(),
                deadline: now + Duration::hours(8),
                department: department(Level::Street, STREET),
            },
            reason: EscalationReason::Requested,
            note: "needs the street".into(),
        },
    ]);
    assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::Street, now + Duration::hours(8)) });
    assert_eq!(case.escalations, 2);
}

#[test]
fn given_a_case_accepted_at_the_street_when_it_asks_to_escalate_then_the_district_takes_it() {
    let now = at(hours(11));
    given(&a_case_accepted_at(Level::Street)).at(now).when(escalate("departments needed")).then(&[
        CaseEvent::Escalated {
            from: Level::Street,
            to: Assignment {
                level: Level::District,
                unit: DISTRICT.into(),
                deadline: now + Duration::hours(24),
                department: department(Level::District, DISTRICT),
            },
            reason: EscalationReason::Requested,
            note: "departments needed".into(),
        },
    ]);
}

#[test]
fn given_a_dispatched_case_when_it_asks_to_escalate_without_a_reason_then_the_reason_is_invalid() {
    given(&a_dispatched_case()).when(escalate("")).then_invalid("reason");
}

#[test]
fn given_a_case_at_the_district_when_it_asks_to_escalate_then_it_is_forbidden_at_the_top_of_the_ladder() {
    let reason = given(&a_case_dispatched_at(Level::District)).when(escalate("higher please")).then_forbidden();
    assert!(reason.contains("top of the ladder"), "{reason}");
    let reason = given(&a_case_accepted_at(Level::District)).when(escalate("higher please")).then_forbidden();
    assert!(reason.contains("top of the ladder"), "{reason}");
}

#[test]
fn given_a_case_in_mediation_when_it_asks_to_escalate_then_it_is_forbidden() {
    given(&a_case_in_mediation()).when(escalate("no progress")).then_forbidden();
}

#[test]
fn given_a_resolved_case_when_it_asks_to_escalate_then_it_is_forbidden() {
    given(&a_resolved_case()).when(escalate("no progress")).then_forbidden();
}

#[test]
fn given_a_closed_case_when_it_asks_to_escalate_then_it_is_forbidden() {
    given(&a_closed_case()).when(escalate("no progress")).then_forbidden();
}

// =============================================================================================
// DeadlineExpired (the SLA ladder)
// =============================================================================================

#[test]
fn given_a_dispatched_case_when_its_accept_deadline_expires_then_it_is_escalated_for_a_missed_deadline() {
    let deadline = at(hours(2));
    let case = given(&a_dispatched_case()).at(deadline).when(expire(deadline)).then(&[CaseEvent::Escalated {
        from: Level::Grid,
        to: Assignment {
            level: Level::Community,
            unit: COMMUNITY.into(),
            deadline: deadline + Duration::hours(4),
            department: department(Level::Community, COMMUNITY),
        },
        reason: EscalationReason::DeadlineMissed,
        note: "deadline missed".into(),
    }]);
    assert_eq!(case.status.level(), Some(Level::Community));
    assert_eq!(case.status.deadline(), Some(deadline + Duration::hours(4)));
}

#[test]
fn given_an_accepted_case_when_the_timer_fires_late_then_it_is_escalated_with_a_deadline_from_now() {
    let deadline = at(hours(1)) + Duration::days(1);
    let now = deadline + Duration::minutes(7);
    given(&an_accepted_case()).at(now).when(expire(deadline)).then(&[CaseEvent::Escalated {
        from: Level::Grid,
        to: Assignment {
            level: Level::Community,
            unit: COMMUNITY.into(),
            deadline: now + Duration::hours(4),
            department: department(Level::Community, COMMUNITY),
        },
        reason: EscalationReason::DeadlineMissed,
        note: "deadline missed".into(),
    }]);
}

#[test]
fn given_an_accepted_case_when_a_stale_dispatch_timer_fires_then_nothing_happens() {
    // The accept deadline (t0+2h) was superseded by the resolve deadline when the grid accepted.
    given(&an_accepted_case()).at(at(hours(3))).when(expire(at(hours(2)))).then_nothing();
}

#[test]
fn given_a_dispatched_case_when_a_timer_fires_for_another_deadline_then_nothing_happens() {
    given(&a_dispatched_case()).at(at(hours(5))).when(expire(at(hours(2)) + Duration::seconds(1))).then_nothing();
}

#[test]
fn given_a_dispatched_case_when_the_timer_fires_before_the_deadline_then_nothing_happens() {
    let deadline = at(hours(2));
    given(&a_dispatched_case()).at(deadline - Duration::milliseconds(1)).when(expire(deadline)).then_nothing();
}

#[test]
fn given_a_case_accepted_at_the_district_when_its_deadline_expires_then_the_miss_is_recorded_and_it_stays() {
    let deadline = at(hours(10)) + Duration::days(5);
    let now = deadline + Duration::hours(1);
    let history = a_case_accepted_at(Level::District);
    let before = replay(&history);
    let after = given(&history).at(now).when(expire(deadline)).then(&[CaseEvent::DeadlineMissed {
        level: Level::District,
        deadline,
        next_deadline: now + resolve_sla(Level::District),
    }]);
    assert_eq!(
        after.status,
        CaseStatus::Accepted {
            at: assignment(Level::District, now + resolve_sla(Level::District)),
            assignee: "wang".into()
        },
        "the district keeps the case, under a new resolve deadline"
    );
    assert_eq!(after.status.deadline(), Some(now + Duration::days(5)));
    assert_eq!(after.escalations, before.escalations);
    assert_eq!(after.version, before.version + 1);
}

#[test]
fn given_a_case_dispatched_to_the_district_when_its_deadline_expires_then_the_miss_is_recorded_and_it_stays() {
    let deadline = accept_deadline_at(Level::District);
    let case = given(&a_case_dispatched_at(Level::District)).at(deadline).when(expire(deadline)).then(&[
        CaseEvent::DeadlineMissed {
            level: Level::District,
            deadline,
            next_deadline: deadline + accept_sla(Level::District),
        },
    ]);
    assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::District, deadline + Duration::hours(24)) });
}

#[test]
fn given_a_gas_leak_dispatched_to_the_district_when_its_deadline_expires_then_the_new_deadline_uses_the_category_sla() {
    let mut history = a_case_dispatched_at(Level::District);
    history[0] = opened_as(GAS_LEAK);
    let deadline = accept_deadline_at(Level::District);
    let now = deadline + Duration::minutes(3);
    given(&history).at(now).when(expire(deadline)).then(&[CaseEvent::DeadlineMissed {
        level: Level::District,
        deadline,
        next_deadline: now + Duration::minutes(30),
    }]);
}

/// Dispatch re-arms the timer from `status.deadline()` after every command, so a missed district
/// deadline must move: the old timer firing again is stale, the new one is missed in its turn.
#[test]
fn given_a_district_case_whose_deadline_was_missed_when_the_same_timer_fires_again_then_nothing_happens() {
    let deadline = accept_deadline_at(Level::District);
    let next_deadline = deadline + Duration::minutes(1) + accept_sla(Level::District);
    let mut history = a_case_dispatched_at(Level::District);
    history.push(CaseEvent::DeadlineMissed { level: Level::District, deadline, next_deadline });
    let case = replay(&history);
    assert_eq!(case.status.deadline(), Some(next_deadline), "the timer is re-armed at the new deadline");
    assert_eq!(case.status.level(), Some(Level::District));

    for now in [deadline + Duration::minutes(2), next_deadline + Duration::minutes(1)] {
        given(&history).at(now).when(expire(deadline)).then_nothing();
    }

    let now = next_deadline + Duration::minutes(5);
    let case = given(&history).at(now).when(expire(next_deadline)).then(&[CaseEvent::DeadlineMissed {
        level: Level::District,
        deadline: next_deadline,
        next_deadline: now + accept_sla(Level::District),
    }]);
    assert_eq!(case.status.deadline(), Some(now + accept_sla(Level::District)));
    assert!(case.status.deadline() > Some(next_deadline));
    assert_eq!(case.escalations, 3, "missing a deadline at the district is not an escalation");
}

#[test]
fn given_a_district_case_whose_deadline_was_missed_when_the_new_deadline_fires_early_then_nothing_happens() {
    let deadline = accept_deadline_at(Level::District);
    let next_deadline = deadline + accept_sla(Level::District);
    let mut history = a_case_dispatched_at(Level::District);
    history.push(CaseEvent::DeadlineMissed { level: Level::District, deadline, next_deadline });
    given(&history).at(next_deadline - Duration::seconds(1)).when(expire(next_deadline)).then_nothing();
}

#[test]
fn given_a_district_case_whose_accept_deadline_was_missed_when_it_is_accepted_then_the_resolve_deadline_replaces_it() {
    let deadline = accept_deadline_at(Level::District);
    let next_deadline = deadline + accept_sla(Level::District);
    let mut history = a_case_dispatched_at(Level::District);
    history.push(CaseEvent::DeadlineMissed { level: Level::District, deadline, next_deadline });
    let now = deadline + Duration::hours(2);
    let case = given(&history).at(now).when(accept("zhao")).then(&[CaseEvent::Accepted {
        at: assignment(Level::District, now + resolve_sla(Level::District)),
        assignee: "zhao".into(),
    }]);
    assert_eq!(case.status.deadline(), Some(now + Duration::days(5)));
    history.push(CaseEvent::Accepted {
        at: assignment(Level::District, now + resolve_sla(Level::District)),
        assignee: "zhao".into(),
    });
    given(&history).at(next_deadline).when(expire(next_deadline)).then_nothing();
}

#[test]
fn given_a_case_in_mediation_when_a_timer_fires_then_nothing_happens() {
    // The resolve deadline is suspended during mediation.
    let deadline = at(hours(1)) + Duration::days(1);
    given(&a_case_in_mediation()).at(deadline + Duration::days(1)).when(expire(deadline)).then_nothing();
}

#[test]
fn given_a_resolved_case_when_a_timer_fires_then_nothing_happens() {
    let deadline = at(hours(10)) + Duration::days(1);
    given(&a_resolved_case()).at(deadline + Duration::days(1)).when(expire(deadline)).then_nothing();
}

#[test]
fn given_a_dispatched_case_when_no_level_accepts_in_time_then_it_climbs_grid_community_street_district() {
    let mut history = a_dispatched_case();
    let mut deadline = at(hours(2));
    for (from, to) in
        [(Level::Grid, Level::Community), (Level::Community, Level::Street), (Level::Street, Level::District)]
    {
        let events = given(&history).at(deadline).when(expire(deadline)).then(&[CaseEvent::Escalated {
            from,
            to: Assignment {
                level: to,
                unit: unit(to).into(),
                deadline: deadline + accept_sla(to),
                department: department(to, unit(to)),
            },
            reason: EscalationReason::DeadlineMissed,
            note: "deadline missed".into(),
        }]);
        assert_eq!(events.status.level(), Some(to));
        history.push(CaseEvent::Escalated {
            from,
            to: assignment(to, deadline + accept_sla(to)),
            reason: EscalationReason::DeadlineMissed,
            note: "deadline missed".into(),
        });
        deadline += accept_sla(to);
    }
    assert_eq!(deadline, at(hours(2 + 4 + 8 + 24)));
    let next_deadline = deadline + accept_sla(Level::District);
    let case = given(&history).at(deadline).when(expire(deadline)).then(&[CaseEvent::DeadlineMissed {
        level: Level::District,
        deadline,
        next_deadline,
    }]);
    assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::District, next_deadline) });
    assert_eq!(case.escalations, 3);
    assert_eq!(case.version, 2 + 3 + 1);
}

// =============================================================================================
// Transfer (一转)
// =============================================================================================

#[test]
fn given_a_case_dispatched_to_the_community_when_it_is_transferred_to_another_community_then_that_community_has_it() {
    let now = at(hours(2));
    let case = given(&a_case_dispatched_at(Level::Community))
        .at(now)
        .when(transfer(OTHER_COMMUNITY, "the building belongs to the next community"))
        .then(&[CaseEvent::Transferred {
            from_unit: COMMUNITY.into(),
            to: Assignment {
                level: Level::Community,
                unit: OTHER_COMMUNITY.into(),
                deadline: now + Duration::hours(4),
                department: department(Level::Community, OTHER_COMMUNITY),
            },
            reason: "the building belongs to the next community".into(),
        }]);
    assert_eq!(
        case.status,
        CaseStatus::Dispatched {
            at: Assignment {
                level: Level::Community,
                unit: OTHER_COMMUNITY.into(),
                deadline: now + Duration::hours(4),
                department: department(Level::Community, OTHER_COMMUNITY),
            }
        }
    );
    assert_eq!(case.escalations, 1, "a transfer is not an escalation (the one escalation is grid → community)");
}

#[test]
fn given_an_accepted_case_when_it_is_transferred_then_the_new_unit_must_accept_it() {
    let now = at(hours(3));
    let other_grid = "321012001001002";
    let case =
        given(&an_accepted_case()).at(now).when(transfer(other_grid, "wrong grid")).then(&[CaseEvent::Transferred {
            from_unit: GRID.into(),
            to: Assignment {
                level: Level::Grid,
                unit: other_grid.into(),
                deadline: now + Duration::hours(2),
                department: department(Level::Grid, other_grid),
            },
            reason: "wrong grid".into(),
        }]);
    assert_eq!(case.status.name(), "dispatched");
    assert_eq!(case.status.unit(), Some(other_grid));
    assert_eq!(case.status.level(), Some(Level::Grid));
}

#[test]
fn given_a_dispatched_case_when_it_is_transferred_to_its_own_unit_then_the_target_unit_is_invalid() {
    given(&a_dispatched_case()).when(transfer(GRID, "again")).then_invalid("to_unit");
}

#[test]
fn given_a_dispatched_case_when_it_is_transferred_to_a_unit_at_another_level_then_the_target_unit_is_invalid() {
    given(&a_dispatched_case()).when(transfer(COMMUNITY, "let the community do it")).then_invalid("to_unit");
    given(&a_case_dispatched_at(Level::Community)).when(transfer(STREET, "up")).then_invalid("to_unit");
}

#[test]
fn given_a_dispatched_case_when_it_is_transferred_without_a_target_or_reason_then_it_is_invalid() {
    given(&a_dispatched_case()).when(transfer("", "wrong grid")).then_invalid("to_unit");
    given(&a_dispatched_case()).when(transfer("321012001001002", "")).then_invalid("reason");
}

#[test]
fn given_a_resolved_case_when_it_is_transferred_then_it_is_forbidden() {
    given(&a_resolved_case()).when(transfer("321012001001002", "wrong grid")).then_forbidden();
}

#[test]
fn given_a_closed_case_when_it_is_transferred_then_it_is_forbidden() {
    given(&a_closed_case()).when(transfer("321012001001002", "wrong grid")).then_forbidden();
}

#[test]
fn given_a_case_in_mediation_when_it_is_transferred_then_it_is_forbidden() {
    given(&a_case_in_mediation()).when(transfer("321012001001002", "wrong grid")).then_forbidden();
}

/// Dispatched at `level` as in [`a_case_dispatched_at`], then transferred (一转) to `to_unit` at
/// t0+2h.
fn a_case_transferred_to(to_unit: &str, level: Level) -> Vec<CaseEvent> {
    let mut history = a_case_dispatched_at(level);
    history.push(CaseEvent::Transferred {
        from_unit: unit(level).into(),
        to: Assignment {
            level,
            unit: to_unit.into(),
            deadline: at(hours(2)) + accept_sla(level),
            department: department(level, to_unit),
        },
        reason: "the building belongs to another unit".into(),
    });
    history
}

/// An escalation goes to the level above the unit that holds the case, not above the reported
/// grid: after a transfer to a community of another street, that street takes it.
#[test]
fn given_a_case_transferred_to_a_community_of_another_street_when_it_is_escalated_then_that_street_takes_it() {
    let history = a_case_transferred_to(FAR_COMMUNITY, Level::Community);
    let now = at(hours(3));
    let escalation = CaseEvent::Escalated {
        from: Level::Community,
        to: Assignment {
            level: Level::Street,
            unit: FAR_STREET.into(),
            deadline: now + accept_sla(Level::Street),
            department: department(Level::Street, FAR_STREET),
        },
        reason: EscalationReason::Requested,
        note: "cannot settle".into(),
    };
    let case = given(&history).at(now).when(escalate("cannot settle")).then(std::slice::from_ref(&escalation));
    assert_eq!(case.status.unit(), Some(FAR_STREET));
    // From there, on to the district over that street (the same district).
    let mut history = history;
    history.push(escalation);
    let now = at(hours(4));
    given(&history).at(now).when(escalate("departments needed")).then(&[CaseEvent::Escalated {
        from: Level::Street,
        to: Assignment {
            level: Level::District,
            unit: DISTRICT.into(),
            deadline: now + accept_sla(Level::District),
            department: department(Level::District, DISTRICT),
        },
        reason: EscalationReason::Requested,
        note: "departments needed".into(),
    }]);
}

#[test]
fn given_a_case_transferred_to_a_community_of_another_street_when_its_deadline_expires_then_that_street_takes_it() {
    let mut history = a_case_transferred_to(FAR_COMMUNITY, Level::Community);
    let deadline = at(hours(3)) + resolve_sla(Level::Community);
    history.push(CaseEvent::Accepted {
        at: Assignment {
            level: Level::Community,
            unit: FAR_COMMUNITY.into(),
            deadline,
            department: department(Level::Community, FAR_COMMUNITY),
        },
        assignee: "sun".into(),
    });
    given(&history).at(deadline).when(expire(deadline)).then(&[CaseEvent::Escalated {
        from: Level::Community,
        to: Assignment {
            level: Level::Street,
            unit: FAR_STREET.into(),
            deadline: deadline + accept_sla(Level::Street),
            department: department(Level::Street, FAR_STREET),
        },
        reason: EscalationReason::DeadlineMissed,
        note: "deadline missed".into(),
    }]);
}

#[test]
fn given_a_case_transferred_to_a_grid_of_another_community_when_it_is_escalated_then_that_community_takes_it() {
    let other_grid = "321012001002003";
    let history = a_case_transferred_to(other_grid, Level::Grid);
    let now = at(hours(3));
    given(&history).at(now).when(escalate("cannot settle")).then(&[CaseEvent::Escalated {
        from: Level::Grid,
        to: Assignment {
            level: Level::Community,
            unit: OTHER_COMMUNITY.into(),
            deadline: now + accept_sla(Level::Community),
            department: department(Level::Community, OTHER_COMMUNITY),
        },
        reason: EscalationReason::Requested,
        note: "cannot settle".into(),
    }]);
}

#[test]
fn given_a_case_transferred_to_a_community_of_the_same_street_when_it_is_escalated_then_the_same_street_takes_it() {
    let history = a_case_transferred_to(OTHER_COMMUNITY, Level::Community);
    let now = at(hours(3));
    given(&history).at(now).when(escalate("cannot settle")).then(&[CaseEvent::Escalated {
        from: Level::Community,
        to: Assignment {
            level: Level::Street,
            unit: STREET.into(),
            deadline: now + accept_sla(Level::Street),
            department: department(Level::Street, STREET),
        },
        reason: EscalationReason::Requested,
        note: "cannot settle".into(),
    }]);
}

/// A holder whose code the policy cannot place (e.g. recorded by an older version) falls back to
/// the unit above the reported grid.
#[test]
fn given_a_case_held_by_a_unit_the_policy_cannot_place_when_it_is_escalated_then_the_reported_grids_unit_takes_it() {
    let history = a_case_transferred_to("community-desk", Level::Community);
    let now = at(hours(3));
    given(&history).at(now).when(escalate("cannot settle")).then(&[CaseEvent::Escalated {
        from: Level::Community,
        to: Assignment {
            level: Level::Street,
            unit: STREET.into(),
            deadline: now + accept_sla(Level::Street),
            department: department(Level::Street, STREET),
        },
        reason: EscalationReason::Requested,
        note: "cannot settle".into(),
    }]);
}

// =============================================================================================
// Mediation (接诉即商, 商定即办)
// =============================================================================================

#[test]
fn given_an_accepted_dispute_when_mediation_is_requested_then_it_is_in_mediation_without_a_deadline() {
    let case = given(&an_accepted_case())
        .when(request_mediation("noise at night"))
        .then(&[CaseEvent::MediationRequested { level: Level::Grid, topic: "noise at night".into() }]);
    assert_eq!(
        case.status,
        CaseStatus::InMediation {
            level: Level::Grid,
            unit: GRID.into(),
            assignee: "wang".into(),
            topic: "noise at night".into()
        }
    );
    assert_eq!(case.status.deadline(), None);
    assert_eq!(case.status.level(), Some(Level::Grid));
    assert_eq!(case.status.unit(), Some(GRID));
}

#[test]
fn given_an_accepted_case_when_mediation_is_requested_without_a_topic_then_the_topic_is_invalid() {
    given(&an_accepted_case()).when(request_mediation("")).then_invalid("topic");
}

#[test]
fn given_an_accepted_gas_leak_when_mediation_is_requested_then_it_is_forbidden_as_not_mediable() {
    let history = vec![
        opened_as(GAS_LEAK),
        dispatched(Level::Grid, t0() + Duration::minutes(30)),
        accepted(Level::Grid, at(hours(1)) + resolve_sla(Level::Grid)),
    ];
    let reason = given(&history).when(request_mediation("who pays")).then_forbidden();
    assert!(reason.contains("mediation"), "{reason}");
}

#[test]
fn given_a_dispatched_case_when_mediation_is_requested_then_it_is_forbidden() {
    given(&a_dispatched_case()).when(request_mediation("noise")).then_forbidden();
}

#[test]
fn given_a_case_in_mediation_when_mediation_is_requested_again_then_it_is_forbidden() {
    given(&a_case_in_mediation()).when(request_mediation("noise")).then_forbidden();
}

#[test]
fn given_a_case_in_mediation_when_the_parties_agree_then_it_is_resolved_where_it_was_mediated() {
    let mut history = a_case_accepted_at(Level::Community);
    history.push(mediation_requested(Level::Community));
    let case = given(&history).when(conclude_mediation(true, "quiet hours 22:00-07:00, signed")).then(&[
        CaseEvent::MediationAgreed { mediation_id: "med-1".into(), summary: "quiet hours 22:00-07:00, signed".into() },
        CaseEvent::Resolved {
            level: Level::Community,
            unit: COMMUNITY.into(),
            summary: "quiet hours 22:00-07:00, signed".into(),
            verify_by: None,
        },
    ]);
    assert_eq!(
        case.status,
        CaseStatus::Resolved {
            level: Level::Community,
            unit: COMMUNITY.into(),
            assignee: "wang".into(),
            summary: "quiet hours 22:00-07:00, signed".into()
        }
    );
}

#[test]
fn given_a_case_in_mediation_when_the_parties_do_not_agree_then_it_is_back_with_its_unit_under_a_new_deadline() {
    let now = at(hours(30));
    let case = given(&a_case_in_mediation()).at(now).when(conclude_mediation(false, "no agreement")).then(&[
        CaseEvent::MediationFailed {
            mediation_id: "med-1".into(),
            summary: "no agreement".into(),
            back_to: Assignment {
                level: Level::Grid,
                unit: GRID.into(),
                deadline: now + Duration::days(1),
                department: department(Level::Grid, GRID),
            },
        },
    ]);
    assert_eq!(
        case.status,
        CaseStatus::Accepted { at: assignment(Level::Grid, now + Duration::days(1)), assignee: "wang".into() }
    );
}

#[test]
fn given_a_case_in_mediation_when_the_council_refers_it_up_then_it_is_escalated_one_level() {
    let now = at(hours(30));
    let command = CaseCommand::ConcludeMediation {
        mediation_id: "med-1".into(),
        verdict: MediationVerdict::EscalateOneLevel,
        summary: "no agreement".into(),
    };
    let case = given(&a_case_in_mediation()).at(now).when(command).then(&[
        CaseEvent::MediationFailed {
            mediation_id: "med-1".into(),
            summary: "no agreement".into(),
            back_to: assignment(Level::Grid, now + Duration::days(1)),
        },
        CaseEvent::Escalated {
            from: Level::Grid,
            to: assignment(Level::Community, now + Duration::hours(4)),
            reason: EscalationReason::Requested,
            note: "三提: the grid council reached no agreement: no agreement".into(),
        },
    ]);
    assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::Community, now + Duration::hours(4)) });
}

#[test]
fn given_a_case_in_mediation_when_an_agreement_without_a_summary_is_recorded_then_the_summary_is_invalid() {
    given(&a_case_in_mediation()).when(conclude_mediation(true, "")).then_invalid("summary");
    given(&a_case_in_mediation()).when(conclude_mediation(true, "  ")).then_invalid("summary");
}

#[test]
fn given_a_case_in_mediation_when_a_failure_without_a_summary_is_recorded_then_the_summary_is_invalid() {
    given(&a_case_in_mediation()).when(conclude_mediation(false, "")).then_invalid("summary");
    given(&a_case_in_mediation()).when(conclude_mediation(false, " ")).then_invalid("summary");
}

#[test]
fn given_an_accepted_case_when_a_mediation_is_concluded_then_it_is_forbidden() {
    given(&an_accepted_case()).when(conclude_mediation(true, "agreed")).then_forbidden();
}

#[test]
fn given_a_resolved_case_when_a_mediation_is_concluded_then_it_is_forbidden() {
    given(&a_resolved_case()).when(conclude_mediation(false, "no agreement")).then_forbidden();
}

// =============================================================================================
// Resolve (办结)
// =============================================================================================

#[test]
fn given_an_accepted_case_when_it_is_resolved_then_it_waits_for_the_evaluation() {
    let case = given(&an_accepted_case()).when(resolve("talked to both families")).then(&[CaseEvent::Resolved {
        level: Level::Grid,
        unit: GRID.into(),
        summary: "talked to both families".into(),
        verify_by: None,
    }]);
    assert_eq!(
        case.status,
        CaseStatus::Resolved {
            level: Level::Grid,
            unit: GRID.into(),
            assignee: "wang".into(),
            summary: "talked to both families".into()
        }
    );
    assert_eq!(case.status.deadline(), None);
}

#[test]
fn given_a_case_accepted_at_the_street_when_it_is_resolved_then_it_is_resolved_at_the_street() {
    given(&a_case_accepted_at(Level::Street)).when(resolve("departments summoned (吹哨报到)")).then(&[
        CaseEvent::Resolved {
            level: Level::Street,
            unit: STREET.into(),
            summary: "departments summoned (吹哨报到)".into(),
            verify_by: None,
        },
    ]);
}

#[test]
fn given_an_accepted_case_when_it_is_resolved_without_a_summary_then_the_summary_is_invalid() {
    given(&an_accepted_case()).when(resolve(" ")).then_invalid("summary");
}

#[test]
fn given_a_dispatched_case_when_it_is_resolved_then_it_is_forbidden_until_accepted() {
    let reason = given(&a_dispatched_case()).when(resolve("done")).then_forbidden();
    assert!(reason.contains("accepted"), "{reason}");
}

#[test]
fn given_a_case_in_mediation_when_it_is_resolved_then_it_is_forbidden() {
    given(&a_case_in_mediation()).when(resolve("done")).then_forbidden();
}

#[test]
fn given_a_resolved_case_when_it_is_resolved_again_then_it_is_forbidden() {
    given(&a_resolved_case()).when(resolve("done")).then_forbidden();
}

// =============================================================================================
// Verify (核查): the grid worker checks on site before the reporter is asked
// =============================================================================================

/// A gas leak (which the test policy has verified above the grid) escalated to the community and
/// accepted there at t0+10h.
fn a_gas_leak_accepted_at_the_community() -> Vec<CaseEvent> {
    let mut h = a_case_accepted_at(Level::Community);
    h[0] = opened_as(GAS_LEAK);
    h
}

fn a_gas_leak_awaiting_verification() -> Vec<CaseEvent> {
    let mut h = a_gas_leak_accepted_at_the_community();
    h.push(CaseEvent::Resolved {
        level: Level::Community,
        unit: COMMUNITY.into(),
        summary: "valve replaced".into(),
        verify_by: Some(verify_by()),
    });
    h
}

/// The check's deadline of [`a_gas_leak_awaiting_verification`]: resolved at t0+12h, 4 hours.
fn verify_by() -> Timestamp {
    at(hours(16))
}

fn verified(passed: bool, note: &str) -> CaseEvent {
    CaseEvent::Verified { level: Level::Community, verifier: "grid worker zhao".into(), passed, note: note.into() }
}

#[test]
fn given_a_gas_leak_accepted_at_the_community_when_it_is_resolved_then_it_waits_for_the_verification() {
    let case =
        given(&a_gas_leak_accepted_at_the_community()).when(resolve("valve replaced")).then(&[CaseEvent::Resolved {
            level: Level::Community,
            unit: COMMUNITY.into(),
            summary: "valve replaced".into(),
            verify_by: Some(verify_by()),
        }]);
    assert_eq!(
        case.status,
        CaseStatus::AwaitingVerification {
            level: Level::Community,
            unit: COMMUNITY.into(),
            assignee: "wang".into(),
            summary: "valve replaced".into(),
            deadline: verify_by(),
        }
    );
    assert_eq!(case.status.deadline(), Some(verify_by()), "the check's deadline is watched");
    assert_eq!((case.status.level(), case.status.unit()), (Some(Level::Community), Some(COMMUNITY)));
}

#[test]
fn given_a_gas_leak_fixed_by_the_grid_itself_when_it_is_resolved_then_no_verification_is_needed() {
    let mut history = an_accepted_case();
    history[0] = opened_as(GAS_LEAK);
    let resolved_at_grid =
        CaseEvent::Resolved { level: Level::Grid, unit: GRID.into(), summary: "valve closed".into(), verify_by: None };
    let case = given(&history).when(resolve("valve closed")).then(std::slice::from_ref(&resolved_at_grid));
    assert_eq!(case.status.name(), "resolved");
    history.push(resolved_at_grid);
    given(&history).when(verify(true, "fine")).then_forbidden();
}

#[test]
fn given_a_case_awaiting_verification_when_its_deadline_passes_then_the_miss_is_recorded_and_watched_again() {
    let now = verify_by() + Duration::minutes(1);
    let case = given(&a_gas_leak_awaiting_verification())
        .at(now)
        .when(expire(verify_by()))
        .then(&[CaseEvent::VerificationOverdue { deadline: verify_by(), next_deadline: now + Duration::hours(4) }]);
    assert_eq!(case.status.name(), "awaiting_verification", "nobody else can do the check: it still waits");
    assert_eq!(case.status.deadline(), Some(now + Duration::hours(4)));
    assert_eq!((case.escalations, case.reopen_count), (1, 0), "not an escalation, not a rework");
    // A stale timer (the deadline already moved on) and an early one do nothing.
    let mut history = a_gas_leak_awaiting_verification();
    history.push(CaseEvent::VerificationOverdue { deadline: verify_by(), next_deadline: now + Duration::hours(4) });
    given(&history).at(now + Duration::hours(1)).when(expire(verify_by())).then(&[]);
    given(&a_gas_leak_awaiting_verification())
        .at(verify_by() - Duration::minutes(1))
        .when(expire(verify_by()))
        .then(&[]);
}

#[test]
fn given_a_check_the_catalog_no_longer_asks_for_when_its_deadline_passes_then_reminders_keep_a_deadline_ahead() {
    // Resolved while disputes were checked on site; the list has dropped the check since.
    let mut history = a_case_accepted_at(Level::Community);
    history.push(CaseEvent::Resolved {
        level: Level::Community,
        unit: COMMUNITY.into(),
        summary: "talked to both families".into(),
        verify_by: Some(verify_by()),
    });
    let now = verify_by() + Duration::minutes(1);
    given(&history).at(now).when(expire(verify_by())).then(&[CaseEvent::VerificationOverdue {
        deadline: verify_by(),
        next_deadline: now + resolve_sla(Level::Community),
    }]);
}

#[test]
fn given_a_case_awaiting_verification_when_the_reporter_evaluates_then_it_is_forbidden_until_verified() {
    let reason = given(&a_gas_leak_awaiting_verification())
        .when(evaluate(Satisfaction::Satisfied, "thanks", false))
        .then_forbidden();
    assert!(reason.contains("verified"), "{reason}");
}

#[test]
fn given_a_case_awaiting_verification_when_the_check_passes_then_it_waits_for_the_evaluation_and_closes_there() {
    let history = a_gas_leak_awaiting_verification();
    let case =
        given(&history).when(verify(true, "no smell, valve sealed")).then(&[verified(true, "no smell, valve sealed")]);
    assert_eq!(
        case.status,
        CaseStatus::Resolved {
            level: Level::Community,
            unit: COMMUNITY.into(),
            assignee: "wang".into(),
            summary: "valve replaced".into()
        }
    );
    let mut history = history;
    history.push(verified(true, "no smell, valve sealed"));
    let case = given(&history).when(evaluate(Satisfaction::Satisfied, "thanks", false)).then(&[
        CaseEvent::Evaluated { satisfaction: Satisfaction::Satisfied, comment: "thanks".into(), defaulted: false },
        CaseEvent::Closed { level: Level::Community, satisfaction: Some(Satisfaction::Satisfied) },
    ]);
    assert!(case.status.is_terminal());
}

#[test]
fn given_a_case_awaiting_verification_when_the_check_fails_then_the_resolving_unit_reworks_it_under_a_new_deadline() {
    let now = at(hours(30));
    let case = given(&a_gas_leak_awaiting_verification()).at(now).when(verify(false, "still smells of gas")).then(&[
        verified(false, "still smells of gas"),
        CaseEvent::Reopened {
            at: Assignment {
                level: Level::Community,
                unit: COMMUNITY.into(),
                deadline: now + resolve_sla(Level::Community),
                department: None,
            },
            reason: "核查未通过 (verification failed): still smells of gas".into(),
        },
    ]);
    assert_eq!(case.status.name(), "accepted");
    assert_eq!(case.status.deadline(), Some(now + resolve_sla(Level::Community)));
    assert_eq!((case.reopen_count, case.escalations), (1, 1), "rework, not an escalation");
    match &case.status {
        CaseStatus::Accepted { assignee, .. } => assert_eq!(assignee, "wang", "the same handler reworks it"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn given_a_case_awaiting_verification_when_a_failure_is_recorded_without_a_note_then_the_note_is_invalid() {
    given(&a_gas_leak_awaiting_verification()).when(verify(false, " ")).then_invalid("note");
    // A pass needs no note.
    given(&a_gas_leak_awaiting_verification()).when(verify(true, "")).then(&[verified(true, "")]);
}

#[test]
fn given_a_case_awaiting_verification_when_nobody_is_named_as_verifier_then_the_verifier_is_invalid() {
    let command = CaseCommand::Verify { verifier: "  ".into(), passed: true, note: "ok".into() };
    given(&a_gas_leak_awaiting_verification()).when(command).then_invalid("verifier");
}

#[test]
fn given_a_case_not_awaiting_verification_when_it_is_verified_then_it_is_forbidden() {
    given(&a_resolved_case()).when(verify(true, "fine")).then_forbidden();
    given(&a_gas_leak_accepted_at_the_community()).when(verify(true, "fine")).then_forbidden();
    given(&a_closed_case()).when(verify(true, "fine")).then_forbidden();
}

// =============================================================================================
// RecordEvaluation (办完即反)
// =============================================================================================

#[test]
fn given_a_case_resolved_at_the_street_when_the_resident_is_satisfied_then_it_is_closed_at_the_street() {
    let case =
        given(&a_case_resolved_at(Level::Street)).when(evaluate(Satisfaction::Satisfied, "thank you", false)).then(&[
            CaseEvent::Evaluated {
                satisfaction: Satisfaction::Satisfied,
                comment: "thank you".into(),
                defaulted: false,
            },
            CaseEvent::Closed { level: Level::Street, satisfaction: Some(Satisfaction::Satisfied) },
        ]);
    assert!(matches!(
        case.status,
        CaseStatus::Closed { level: Level::Street, satisfaction: Some(Satisfaction::Satisfied), .. }
    ));
    assert_eq!(case.status.level(), Some(Level::Street));
    assert_eq!(case.status.deadline(), None);
    assert!(case.status.is_terminal());
}

#[test]
fn given_a_resolved_case_when_the_resident_is_basically_satisfied_then_it_is_closed() {
    let case = given(&a_resolved_case()).when(evaluate(Satisfaction::BasicallySatisfied, "", false)).then(&[
        CaseEvent::Evaluated { satisfaction: Satisfaction::BasicallySatisfied, comment: "".into(), defaulted: false },
        CaseEvent::Closed { level: Level::Grid, satisfaction: Some(Satisfaction::BasicallySatisfied) },
    ]);
    assert!(matches!(
        case.status,
        CaseStatus::Closed { level: Level::Grid, satisfaction: Some(Satisfaction::BasicallySatisfied), .. }
    ));
}

#[test]
fn given_a_case_resolved_at_the_community_when_the_resident_is_unsatisfied_then_it_is_reopened_there() {
    let now = at(hours(40));
    let case = given(&a_case_resolved_at(Level::Community))
        .at(now)
        .when(evaluate(Satisfaction::Unsatisfied, "still noisy", false))
        .then(&[
            CaseEvent::Evaluated {
                satisfaction: Satisfaction::Unsatisfied,
                comment: "still noisy".into(),
                defaulted: false,
            },
            CaseEvent::Reopened {
                at: Assignment {
                    level: Level::Community,
                    unit: COMMUNITY.into(),
                    deadline: now + Duration::days(2),
                    department: department(Level::Community, COMMUNITY),
                },
                reason: "still noisy".into(),
            },
        ]);
    assert_eq!(
        case.status,
        CaseStatus::Accepted { at: assignment(Level::Community, now + Duration::days(2)), assignee: "wang".into() }
    );
    assert_eq!(case.reopen_count, 1);
    assert_eq!(case.status.deadline(), Some(now + Duration::days(2)));
}

#[test]
fn given_a_resolved_case_when_the_resident_is_unsatisfied_without_a_comment_then_it_is_reopened_as_unsatisfied() {
    for comment in ["", "  "] {
        let now = at(hours(40));
        let case = given(&a_resolved_case()).at(now).when(evaluate(Satisfaction::Unsatisfied, comment, false)).then(&[
            CaseEvent::Evaluated { satisfaction: Satisfaction::Unsatisfied, comment: comment.into(), defaulted: false },
            CaseEvent::Reopened {
                at: Assignment {
                    level: Level::Grid,
                    unit: GRID.into(),
                    deadline: now + Duration::days(1),
                    department: department(Level::Grid, GRID),
                },
                reason: "reporter unsatisfied".into(),
            },
        ]);
        assert_eq!(case.reopen_count, 1);
    }
}

#[test]
fn given_a_resolved_case_when_no_answer_comes_then_the_default_evaluation_is_recorded_and_it_closes() {
    let case =
        given(&a_resolved_case()).when(evaluate(Satisfaction::Satisfied, "no answer within 3 days", true)).then(&[
            CaseEvent::Evaluated {
                satisfaction: Satisfaction::Satisfied,
                comment: "no answer within 3 days".into(),
                defaulted: true,
            },
            CaseEvent::Closed { level: Level::Grid, satisfaction: Some(Satisfaction::Satisfied) },
        ]);
    assert!(case.status.is_terminal());
}

#[test]
fn given_an_accepted_case_when_an_evaluation_is_recorded_then_it_is_forbidden() {
    given(&an_accepted_case()).when(evaluate(Satisfaction::Satisfied, "", false)).then_forbidden();
}

#[test]
fn given_a_dispatched_case_when_an_evaluation_is_recorded_then_it_is_forbidden() {
    given(&a_dispatched_case()).when(evaluate(Satisfaction::Unsatisfied, "", false)).then_forbidden();
}

#[test]
fn given_a_case_in_mediation_when_an_evaluation_is_recorded_then_it_is_forbidden() {
    given(&a_case_in_mediation()).when(evaluate(Satisfaction::Satisfied, "", false)).then_forbidden();
}

#[test]
fn given_a_closed_case_when_an_evaluation_is_recorded_again_then_it_is_forbidden() {
    given(&a_closed_case()).when(evaluate(Satisfaction::Unsatisfied, "changed my mind", false)).then_forbidden();
}

// =============================================================================================
// Terminal states
// =============================================================================================

fn assert_terminal(history: &[CaseEvent]) {
    let case = replay(history);
    assert!(case.status.is_terminal());
    let now = at(hours(24 * 30));
    for deadline in [at(hours(2)), at(hours(1)) + Duration::days(1), now] {
        for command in every_command(deadline) {
            let name = command.name();
            match decide(&case, &command, &TestPolicy, now) {
                Err(CaseError::AlreadyOpened) => assert_eq!(name, "open"),
                Err(CaseError::Forbidden { command, state, .. }) => {
                    assert_eq!((command, state), (name, case.status.name()));
                }
                Ok(events) => {
                    assert_eq!(name, "deadline_expired", "{name} was not refused");
                    assert!(events.is_empty(), "{name} produced {events:?}");
                }
                Err(other) => panic!("{name} refused with {other:?}"),
            }
        }
    }
}

#[test]
fn given_a_closed_case_when_any_command_is_sent_then_it_is_refused_or_does_nothing() {
    assert_terminal(&a_closed_case());
}

#[test]
fn given_a_rejected_case_when_any_command_is_sent_then_it_is_refused_or_does_nothing() {
    assert_terminal(&a_rejected_case());
}

// =============================================================================================
// evolve bookkeeping
// =============================================================================================

#[test]
fn evolve_counts_every_event_in_the_version() {
    let history = a_closed_case();
    let mut case = Case::default();
    assert_eq!(case.version, 0);
    for (i, event) in history.iter().enumerate() {
        case = evolve(case, event);
        assert_eq!(case.version, i as u64 + 1);
    }
    assert_eq!(replay(&history), case);
    // Events that only move the deadline still count.
    let deadline = accept_deadline_at(Level::District);
    let next_deadline = deadline + accept_sla(Level::District);
    let missed = CaseEvent::DeadlineMissed { level: Level::District, deadline, next_deadline };
    let case = evolve(replay(&a_case_dispatched_at(Level::District)), &missed);
    assert_eq!(case.version, 2 + 3 + 1);
    assert_eq!(case.status, CaseStatus::Dispatched { at: assignment(Level::District, next_deadline) });
}

#[test]
fn evolve_moves_the_running_deadline_of_a_missed_district_deadline_and_nothing_else() {
    let next_deadline = at(hours(500));
    let missed = CaseEvent::DeadlineMissed { level: Level::District, deadline: at(hours(10)), next_deadline };
    let accepted = evolve(replay(&a_case_accepted_at(Level::District)), &missed);
    assert_eq!(
        accepted.status,
        CaseStatus::Accepted { at: assignment(Level::District, next_deadline), assignee: "wang".into() }
    );
    assert_eq!(accepted.escalations, 3);
    // Without a running deadline no deadline can have been missed: the event does not fit.
    let mut in_mediation = a_case_accepted_at(Level::District);
    in_mediation.push(mediation_requested(Level::District));
    let refused = case::evolve(replay(&in_mediation), &missed);
    assert_eq!(refused, Err(Misfit { aggregate: "case", event: "CaseDeadlineMissed", state: "in_mediation" }));
}

#[test]
fn evolve_counts_escalations_but_not_transfers_or_entry_level() {
    assert_eq!(replay(&a_case_dispatched_at(Level::Grid)).escalations, 0);
    assert_eq!(replay(&a_case_dispatched_at(Level::Community)).escalations, 1);
    assert_eq!(replay(&a_case_dispatched_at(Level::Street)).escalations, 2);
    assert_eq!(replay(&a_case_accepted_at(Level::District)).escalations, 3);
    let mut history = a_case_dispatched_at(Level::Community);
    history.push(CaseEvent::Transferred {
        from_unit: COMMUNITY.into(),
        to: Assignment {
            level: Level::Community,
            unit: OTHER_COMMUNITY.into(),
            deadline: at(hours(9)),
            department: department(Level::Community, OTHER_COMMUNITY),
        },
        reason: "next door".into(),
    });
    assert_eq!(replay(&history).escalations, 1);
}

#[test]
fn evolve_counts_reopenings() {
    let mut history = a_resolved_case();
    for round in 1..=2u32 {
        history.push(evaluated(Satisfaction::Unsatisfied));
        history.push(CaseEvent::Reopened { at: assignment(Level::Grid, at(hours(100))), reason: "again".into() });
        assert_eq!(replay(&history).reopen_count, round);
        history.push(resolved(Level::Grid));
    }
    history.push(evaluated(Satisfaction::Satisfied));
    history.push(closed(Level::Grid));
    let case = replay(&history);
    assert_eq!(case.reopen_count, 2);
    assert!(matches!(
        case.status,
        CaseStatus::Closed { level: Level::Grid, satisfaction: Some(Satisfaction::Satisfied), .. }
    ));
}

/// A state and its expected `level()`, `unit()` and `deadline()`.
type StatusExpectation = (CaseStatus, Option<Level>, Option<&'static str>, Option<Timestamp>);

#[test]
fn case_status_reports_the_level_unit_and_deadline_of_each_state() {
    let d = at(hours(2));
    let cases: Vec<StatusExpectation> = vec![
        (CaseStatus::New, None, None, None),
        (CaseStatus::Reported, None, None, None),
        (CaseStatus::Rejected { reason: "dup".into() }, None, None, None),
        (CaseStatus::Dispatched { at: assignment(Level::Grid, d) }, Some(Level::Grid), Some(GRID), Some(d)),
        (
            CaseStatus::Accepted { at: assignment(Level::Street, d), assignee: "wang".into() },
            Some(Level::Street),
            Some(STREET),
            Some(d),
        ),
        (
            CaseStatus::InMediation {
                level: Level::Community,
                unit: COMMUNITY.into(),
                assignee: "wang".into(),
                topic: "noise".into(),
            },
            Some(Level::Community),
            Some(COMMUNITY),
            None,
        ),
        (
            CaseStatus::Resolved {
                level: Level::District,
                unit: DISTRICT.into(),
                assignee: "wang".into(),
                summary: "done".into(),
            },
            Some(Level::District),
            Some(DISTRICT),
            None,
        ),
        (
            CaseStatus::Closed {
                level: Level::Street,
                unit: STREET.into(),
                assignee: "wang".into(),
                satisfaction: Some(Satisfaction::Satisfied),
            },
            Some(Level::Street),
            Some(STREET),
            None,
        ),
    ];
    for (status, level, unit, deadline) in cases {
        assert_eq!(status.level(), level, "level of {status:?}");
        assert_eq!(status.unit(), unit, "unit of {status:?}");
        assert_eq!(status.deadline(), deadline, "deadline of {status:?}");
        assert_eq!(
            status.is_terminal(),
            matches!(status, CaseStatus::Rejected { .. } | CaseStatus::Closed { .. }),
            "{status:?}"
        );
    }
}

#[test]
fn evolve_keeps_the_assignee_through_mediation_resolution_and_reopening() {
    let mut history = a_case_in_mediation();
    history.push(CaseEvent::MediationFailed {
        mediation_id: "med-1".into(),
        summary: "no".into(),
        back_to: assignment(Level::Grid, at(hours(50))),
    });
    history.push(resolved(Level::Grid));
    history.push(evaluated(Satisfaction::Unsatisfied));
    history.push(CaseEvent::Reopened { at: assignment(Level::Grid, at(hours(80))), reason: "no".into() });
    assert_eq!(
        replay(&history).status,
        CaseStatus::Accepted { at: assignment(Level::Grid, at(hours(80))), assignee: "wang".into() }
    );
}

// =============================================================================================
// Property tests: the ladder
// =============================================================================================

#[derive(Debug, Clone)]
enum Advance {
    /// Let some minutes pass.
    Minutes(i64),
    /// Jump to the running deadline plus an offset (never back in time).
    ToDeadline(i64),
}

#[derive(Debug, Clone)]
enum Expiry {
    /// The running deadline (or `now` when none is running).
    Current,
    /// A deadline off the running one by some minutes: a stale or unknown timer.
    Off(i64),
}

#[derive(Debug, Clone)]
enum TransferTo {
    SameUnit,
    OtherUnitSameLevel,
    /// A unit at the same level under another parent (a community of another street, ...).
    OtherUnitOtherParent,
    UnitOneLevelUp,
    Nowhere,
}

#[derive(Debug, Clone)]
enum Op {
    Open(bool),
    Reject(bool),
    Accept(bool),
    Escalate(bool),
    Expire(Expiry),
    Transfer(TransferTo, bool),
    RequestMediation(bool),
    ConcludeMediation(bool, bool),
    Resolve(bool),
    /// Passed, with a note.
    Verify(bool, bool),
    /// Satisfaction, defaulted, with a comment.
    Evaluate(Satisfaction, bool, bool),
}

fn text(present: bool, s: &str) -> String {
    if present {
        s.to_string()
    } else {
        [" ", ""][s.len() % 2].to_string()
    }
}

/// Another unit code at `level` (same length, last digit changed).
fn other_unit(unit: &str) -> String {
    let mut s = unit.to_string();
    let last = s.pop().unwrap_or('0');
    s.push(if last == '9' { '1' } else { char::from(last as u8 + 1) });
    s
}

/// Another unit code at the same level as `unit` under another parent (the last digit of the
/// parent's code changed); at the district, just another district.
fn other_unit_elsewhere(unit: &str) -> String {
    let Some(parent) = code_level(unit).and_then(Level::up) else {
        return other_unit(unit);
    };
    let cut = parent.code_len();
    format!("{}{}", other_unit(&unit[..cut]), &unit[cut..])
}

fn command_for(op: &Op, case: &Case, now: Timestamp) -> CaseCommand {
    let details = case.details.clone().unwrap_or_else(|| details(DISPUTE, false));
    match op {
        Op::Open(urgent) => {
            CaseCommand::Open { case_id: case_id(), details: CaseDetails { urgent: *urgent, ..details } }
        }
        Op::Reject(ok) => reject(&text(*ok, "duplicate")),
        Op::Accept(ok) => accept(&text(*ok, "wang")),
        Op::Escalate(ok) => escalate(&text(*ok, "cannot settle here")),
        Op::Expire(Expiry::Current) => expire(case.status.deadline().unwrap_or(now)),
        Op::Expire(Expiry::Off(minutes)) => expire(case.status.deadline().unwrap_or(now) + Duration::minutes(*minutes)),
        Op::Transfer(to, ok) => {
            let current = case.status.unit().unwrap_or(GRID).to_string();
            let to_unit = match to {
                TransferTo::SameUnit => current,
                TransferTo::OtherUnitSameLevel => other_unit(&current),
                TransferTo::OtherUnitOtherParent => other_unit_elsewhere(&current),
                TransferTo::UnitOneLevelUp => {
                    let level = case.status.level().unwrap_or(Level::Grid);
                    match level.up() {
                        Some(up) => GRID[..up.code_len()].to_string(),
                        None => GRID[..Level::Street.code_len()].to_string(),
                    }
                }
                TransferTo::Nowhere => String::new(),
            };
            transfer(&to_unit, &text(*ok, "wrong unit"))
        }
        Op::RequestMediation(ok) => request_mediation(&text(*ok, "noise")),
        Op::ConcludeMediation(agreed, ok) => conclude_mediation(*agreed, &text(*ok, "outcome")),
        Op::Resolve(ok) => resolve(&text(*ok, "done")),
        Op::Verify(passed, ok) => verify(*passed, &text(*ok, "checked on site")),
        Op::Evaluate(satisfaction, defaulted, comment) => {
            evaluate(*satisfaction, &text(*comment, "comment"), *defaulted)
        }
    }
}

fn satisfaction() -> impl Strategy<Value = Satisfaction> {
    prop_oneof![Just(Satisfaction::Satisfied), Just(Satisfaction::BasicallySatisfied), Just(Satisfaction::Unsatisfied)]
}

fn op() -> impl Strategy<Value = Op> {
    // Mostly well-formed arguments (so cases get somewhere), some empty ones.
    let ok = || prop::bool::weighted(0.9);
    prop_oneof![
        1 => any::<bool>().prop_map(Op::Open),
        1 => ok().prop_map(Op::Reject),
        6 => ok().prop_map(Op::Accept),
        4 => ok().prop_map(Op::Escalate),
        5 => Just(Op::Expire(Expiry::Current)),
        2 => (-120i64..120).prop_filter("off", |m| *m != 0).prop_map(|m| Op::Expire(Expiry::Off(m))),
        3 => (
            prop_oneof![
                1 => Just(TransferTo::SameUnit),
                3 => Just(TransferTo::OtherUnitSameLevel),
                2 => Just(TransferTo::OtherUnitOtherParent),
                1 => Just(TransferTo::UnitOneLevelUp),
                1 => Just(TransferTo::Nowhere)
            ],
            ok()
        )
            .prop_map(|(to, ok)| Op::Transfer(to, ok)),
        3 => ok().prop_map(Op::RequestMediation),
        3 => (any::<bool>(), ok()).prop_map(|(agreed, ok)| Op::ConcludeMediation(agreed, ok)),
        5 => ok().prop_map(Op::Resolve),
        3 => (prop::bool::weighted(0.7), ok()).prop_map(|(passed, ok)| Op::Verify(passed, ok)),
        5 => (satisfaction(), any::<bool>(), ok()).prop_map(|(s, d, c)| Op::Evaluate(s, d, c)),
    ]
}

fn advance() -> impl Strategy<Value = Advance> {
    prop_oneof![
        3 => (0i64..=3 * 24 * 60).prop_map(Advance::Minutes),
        2 => (-30i64..=30).prop_map(Advance::ToDeadline),
    ]
}

fn opening() -> impl Strategy<Value = (&'static str, bool)> {
    (prop_oneof![Just(DISPUTE), Just(PROPERTY_FEE), Just(GAS_LEAK)], prop::bool::weighted(0.2))
}

/// What one run recorded.
struct Run {
    history: Vec<CaseEvent>,
    case: Case,
}

/// Open a case, then apply each step: advance the clock, decide, check the step's invariants,
/// evolve. Returns the history and the folded state.
fn run(category: &str, urgent: bool, steps: &[(Advance, Op)]) -> Result<Run, TestCaseError> {
    let mut now = t0();
    let mut history = decide(&Case::default(), &open(category, urgent), &TestPolicy, now)
        .map_err(|e| TestCaseError::fail(format!("open refused: {e:?}")))?;
    let mut case = replay(&history);
    let mut closed_at: Option<CaseStatus> = None;

    for (advance, op) in steps {
        now = match advance {
            Advance::Minutes(m) => now + Duration::minutes(*m),
            Advance::ToDeadline(m) => match case.status.deadline() {
                Some(deadline) => now.max(deadline + Duration::minutes(*m)),
                None => now,
            },
        };
        let command = command_for(op, &case, now);
        let Ok(events) = decide(&case, &command, &TestPolicy, now) else {
            continue; // refused: nothing happens
        };

        // (5) decide never returns events for a terminal case.
        if case.status.is_terminal() {
            prop_assert!(events.is_empty(), "{command:?} on terminal {:?} produced {events:?}", case.status);
        }

        for event in &events {
            let before = case.status.clone();
            case = evolve(case, event);
            history.push(event.clone());
            let after = &case.status;

            // (1) the level never moves down.
            if let (Some(from), Some(to)) = (before.level(), after.level()) {
                prop_assert!(to >= from, "{event:?} moved the case down from {from} to {to}");

                // (2) every level change is one step up by an Escalated event with a reason.
                if to != from {
                    match event {
                        CaseEvent::Escalated { from: f, to: assignment, reason, note } => {
                            prop_assert_eq!(*f, from);
                            prop_assert_eq!(Some(assignment.level), from.up(), "skipped a level: {:?}", event);
                            prop_assert_eq!(assignment.level, to);
                            match reason {
                                EscalationReason::DeadlineMissed => {}
                                EscalationReason::Requested => {
                                    prop_assert!(!note.trim().is_empty(), "requested without a note: {event:?}")
                                }
                            }
                        }
                        other => prop_assert!(false, "{other:?} changed the level from {from} to {to}"),
                    }
                }
            }
            // Every escalation, wherever it happens, is exactly one step up, to the unit above the
            // one that held the case (which may not be above the reported grid after a transfer).
            if let CaseEvent::Escalated { from, to, .. } = event {
                prop_assert_eq!(Some(*from), before.level());
                prop_assert_eq!(Some(to.level), from.up());
                let holder = before.unit().unwrap_or_default();
                prop_assert_eq!(Some(to.unit.as_str()), holder.get(..to.level.code_len()), "{:?}", event);
                prop_assert_eq!(to.deadline, now + TestPolicy.accept_sla(category, to.level));
            }
            // A missed deadline is only recorded at the district, which keeps the case under a
            // later deadline: the timer that fired is stale from then on.
            if let CaseEvent::DeadlineMissed { level, deadline, next_deadline } = event {
                prop_assert_eq!(*level, Level::District);
                prop_assert_eq!(before.level(), Some(Level::District));
                prop_assert_eq!(before.deadline(), Some(*deadline));
                prop_assert!(next_deadline > deadline, "{:?}", event);
                let sla = match before {
                    CaseStatus::Dispatched { .. } => TestPolicy.accept_sla(category, *level),
                    _ => TestPolicy.resolve_sla(category, *level),
                };
                prop_assert_eq!(*next_deadline, now + sla);
                prop_assert_eq!(after.deadline(), Some(*next_deadline));
                prop_assert_eq!(
                    (after.name(), after.level(), after.unit()),
                    (before.name(), before.level(), before.unit())
                );
            }
            // What closes a step of the loop is always written down.
            match event {
                CaseEvent::Resolved { summary, .. }
                | CaseEvent::MediationAgreed { summary, .. }
                | CaseEvent::MediationFailed { summary, .. } => {
                    prop_assert!(!summary.trim().is_empty(), "{:?} without a summary", event)
                }
                CaseEvent::Reopened { reason, .. } => prop_assert!(!reason.trim().is_empty(), "{:?}", event),
                _ => {}
            }
            // Transfers, reopenings and failed mediations keep the level.
            if matches!(
                event,
                CaseEvent::Transferred { .. } | CaseEvent::Reopened { .. } | CaseEvent::MediationFailed { .. }
            ) {
                prop_assert_eq!(after.level(), before.level(), "{:?} changed the level", event);
            }

            // (3) once closed, always closed (and the same close).
            if let Some(closed) = &closed_at {
                prop_assert_eq!(after, closed, "a closed case changed");
            } else if matches!(after, CaseStatus::Closed { .. }) {
                closed_at = Some(after.clone());
            }
            if before.is_terminal() {
                prop_assert_eq!(after, &before, "a terminal case changed");
            }
        }

        // (4) replaying the history gives the state folded step by step.
        prop_assert_eq!(&replay(&history), &case);
    }
    Ok(Run { history, case })
}

fn check_closing(run: &Run) -> Result<(), TestCaseError> {
    let closes: Vec<usize> =
        run.history.iter().enumerate().filter(|(_, e)| matches!(e, CaseEvent::Closed { .. })).map(|(i, _)| i).collect();
    match &run.case.status {
        CaseStatus::Closed { level, .. } => {
            // (3) exactly one Closed event, at the level that resolved the case.
            prop_assert_eq!(closes.len(), 1, "closed {} times", closes.len());
            let i = closes[0];
            let resolved_level = run.history[..i].iter().rev().find_map(|e| match e {
                CaseEvent::Resolved { level, .. } => Some(*level),
                _ => None,
            });
            prop_assert_eq!(resolved_level, Some(*level), "closed at a level other than the resolving one");
            let closed_there = matches!(run.history[i], CaseEvent::Closed { level: l, .. } if l == *level);
            prop_assert!(closed_there, "the Closed event and the state disagree");
            prop_assert_eq!(i, run.history.len() - 1, "events after the Closed event");
        }
        _ => prop_assert!(closes.is_empty(), "a Closed event but the case is {:?}", run.case.status),
    }
    Ok(())
}

fn check_bookkeeping(run: &Run) -> Result<(), TestCaseError> {
    let count = |f: fn(&CaseEvent) -> bool| run.history.iter().filter(|e| f(e)).count() as u32;
    prop_assert_eq!(run.case.version, run.history.len() as u64);
    prop_assert_eq!(run.case.escalations, count(|e| matches!(e, CaseEvent::Escalated { .. })));
    prop_assert_eq!(run.case.reopen_count, count(|e| matches!(e, CaseEvent::Reopened { .. })));
    prop_assert_eq!(count(|e| matches!(e, CaseEvent::Opened { .. })), 1);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn the_ladder_never_moves_down_never_skips_and_settles_at_exactly_one_level(
        (category, urgent) in opening(),
        steps in prop::collection::vec((advance(), op()), 0..60),
    ) {
        let run = run(category, urgent, &steps)?;
        check_closing(&run)?;
        check_bookkeeping(&run)?;
    }

    #[test]
    fn deadline_expiries_alone_climb_the_ladder_one_step_at_a_time_to_the_district(
        (category, urgent) in opening(),
        lateness in prop::collection::vec(0i64..=600, 0..8),
    ) {
        let steps: Vec<(Advance, Op)> =
            lateness.iter().map(|m| (Advance::ToDeadline(*m), Op::Expire(Expiry::Current))).collect();
        let run = run(category, urgent, &steps)?;
        let entry = TestPolicy.entry_level(category, urgent).unwrap().0;
        let levels_above = Level::ALL.iter().filter(|l| **l > entry).count();
        let expected_level = Level::ALL[Level::ALL.iter().position(|l| *l == entry).unwrap()
            + lateness.len().min(levels_above)];
        prop_assert_eq!(run.case.status.level(), Some(expected_level));
        prop_assert_eq!(run.case.escalations as usize, lateness.len().min(levels_above));
        let missed: Vec<(Level, Timestamp, Timestamp)> = run
            .history
            .iter()
            .filter_map(|e| match e {
                CaseEvent::DeadlineMissed { level, deadline, next_deadline } => {
                    Some((*level, *deadline, *next_deadline))
                }
                _ => None,
            })
            .collect();
        prop_assert_eq!(missed.len(), lateness.len().saturating_sub(levels_above));
        // Each miss moves the deadline on; the next miss is of that new deadline.
        for pair in missed.windows(2) {
            prop_assert_eq!(pair[1].1, pair[0].2, "a miss of a deadline that was not running");
        }
        for (level, deadline, next_deadline) in &missed {
            prop_assert_eq!(*level, Level::District);
            prop_assert!(next_deadline > deadline);
        }
        if let Some((_, _, last)) = missed.last() {
            prop_assert_eq!(run.case.status.deadline(), Some(*last));
        }
        check_bookkeeping(&run)?;
    }

    #[test]
    fn decide_never_returns_events_for_a_terminal_case(
        terminal in prop_oneof![Just(a_closed_case()), Just(a_rejected_case())],
        ops in prop::collection::vec((advance(), op()), 1..20),
    ) {
        let case = replay(&terminal);
        let mut now = at(hours(48));
        for (advance, op) in &ops {
            if let Advance::Minutes(m) = advance { now += Duration::minutes(*m); }
            let command = command_for(op, &case, now);
            if let Ok(events) = decide(&case, &command, &TestPolicy, now) {
                prop_assert!(events.is_empty(), "{:?} produced {:?}", command, events);
            }
        }
    }
}

// =============================================================================================
// LinkReport: a duplicate report intake linked to this case
// =============================================================================================

use gridloop_domain::case::LinkedReport;

fn linked_report() -> LinkedReport {
    let mut details = details(DISPUTE, false);
    details.lat += 0.0001;
    details.description = "the same noise again, reported by a neighbour".into();
    details.reporter.id = "resident-99".into();
    details.channel = Channel::Hotline;
    details.uploaded_at = at(hours(3));
    LinkedReport {
        details,
        client_key: "neighbour-1".into(),
        distance_m: 11.1,
        reason: "same category within 11 m of case …, opened 3 h ago".into(),
    }
}

fn link_report() -> CaseCommand {
    CaseCommand::LinkReport { report: linked_report() }
}

fn report_linked() -> CaseEvent {
    CaseEvent::ReportLinked { report: linked_report() }
}

/// A second report of a routine matter: a shared concern.
fn shared_concern() -> CaseEvent {
    CaseEvent::PriorityChanged {
        priority: priority(20, &["category priority routine (+10)", "shared concern: 2 reports (+10)"]),
    }
}

/// The command records the linked report (and the re-assessed priority while the case is being
/// handled) and changes neither the status nor the escalation counters.
#[track_caller]
fn assert_link_is_recorded(history: &[CaseEvent]) {
    let before = replay(history);
    let handled = !before.status.is_terminal()
        && !matches!(before.status, CaseStatus::Resolved { .. } | CaseStatus::AwaitingVerification { .. });
    let expected = if handled { vec![report_linked(), shared_concern()] } else { vec![report_linked()] };
    let after = given(history).when(link_report()).then(&expected);
    assert_eq!(after.status, before.status, "a linked report changes no state");
    assert_eq!(after.version, before.version + expected.len() as u64);
    assert_eq!(after.signals.reports, 2);
    assert_eq!((after.escalations, after.reopen_count), (before.escalations, before.reopen_count));
    assert_eq!(after.details, before.details, "the case keeps its own report");
}

#[test]
fn given_a_dispatched_case_when_a_report_is_linked_then_it_is_recorded_and_the_deadline_stands() {
    assert_link_is_recorded(&a_dispatched_case());
    let after = given(&a_dispatched_case()).when(link_report()).then(&[report_linked(), shared_concern()]);
    assert_eq!(after.status.deadline(), replay(&a_dispatched_case()).status.deadline());
    assert_eq!(after.priority.score, 20);
}

#[test]
fn given_a_shared_concern_when_another_report_adds_nothing_new_then_the_priority_moves_with_the_count_only() {
    // Given a case with three reports already (capped points reached at four),
    let mut history = a_dispatched_case();
    for _ in 0..3 {
        history.push(report_linked());
    }
    history.push(CaseEvent::PriorityChanged {
        priority: priority(40, &["category priority routine (+10)", "shared concern: 4 reports (+30)"]),
    });
    // when a fifth report arrives, the count in the reason moves (the score is capped),
    given(&history).when(link_report()).then(&[
        report_linked(),
        CaseEvent::PriorityChanged {
            priority: priority(40, &["category priority routine (+10)", "shared concern: 5 reports (+30)"]),
        },
    ]);
}

#[test]
fn given_a_dispatched_case_when_an_urgent_report_for_a_special_group_is_linked_then_it_goes_first() {
    let mut report = linked_report();
    report.details.urgent = true;
    report.details.special_groups = vec![SpecialGroup::Hardship];
    let after = given(&a_dispatched_case()).when(CaseCommand::LinkReport { report: report.clone() }).then(&[
        CaseEvent::ReportLinked { report },
        CaseEvent::PriorityChanged {
            priority: priority(
                140,
                &[
                    "category priority routine (+10)",
                    "urgent or major (+100)",
                    "special group: hardship (+20)",
                    "shared concern: 2 reports (+10)",
                ],
            ),
        },
    ]);
    assert_eq!(after.status.level(), Some(Level::Grid), "a linked urgent report reorders, it does not re-route");
}

#[test]
fn given_an_accepted_case_when_a_report_is_linked_then_it_is_recorded() {
    assert_link_is_recorded(&an_accepted_case());
}

#[test]
fn given_a_case_in_mediation_when_a_report_is_linked_then_it_is_recorded() {
    assert_link_is_recorded(&a_case_in_mediation());
}

#[test]
fn given_a_resolved_case_when_a_report_is_linked_then_it_is_recorded() {
    assert_link_is_recorded(&a_resolved_case());
}

/// Intake decided the link while the case was open as far as it knew; the reporter was told
/// so. A case that closed (or was rejected) meanwhile still records the report: it is a fact.
#[test]
fn given_a_closed_or_rejected_case_when_a_report_is_linked_then_it_is_still_recorded() {
    assert_link_is_recorded(&a_closed_case());
    assert_link_is_recorded(&a_rejected_case());
    assert!(given(&a_closed_case()).when(link_report()).then(&[report_linked()]).status.is_terminal());
    assert_eq!(given(&a_closed_case()).when(link_report()).then(&[report_linked()]).priority, routine());
}

#[test]
fn given_no_case_when_a_report_is_linked_then_the_case_is_not_found() {
    given_no_case().when(link_report()).then_refused(|e| *e == CaseError::NotFound);
}

#[test]
fn given_a_linked_report_the_case_goes_on_around_the_loop_as_before() {
    let mut history = a_dispatched_case();
    history.push(report_linked());
    history.push(shared_concern());
    history.push(report_linked());
    let case = given(&history).at(at(hours(1))).when(accept("wang")).then(&[CaseEvent::Accepted {
        at: assignment(Level::Grid, at(hours(1)) + resolve_sla(Level::Grid)),
        assignee: "wang".into(),
    }]);
    assert_eq!(case.version, history.len() as u64 + 1);
}

// =============================================================================================
// 吹哨报到: the street summons departments, the departments report in
// =============================================================================================

fn summon(departments: &[&str], reason: &str) -> CaseCommand {
    CaseCommand::SummonDepartments {
        departments: departments.iter().map(|d| d.to_string()).collect(),
        reason: reason.into(),
    }
}

fn report_in(department: &str, by: &str) -> CaseCommand {
    CaseCommand::ReportIn { department: department.into(), by: by.into(), note: "on site".into() }
}

fn summoned(unit: &str, code: &str) -> SummonedDepartment {
    summonable_in_test_city(unit, code).unwrap()
}

/// Accepted at the street, which summoned its 市场监管所 and the district's 生态环境局.
fn a_case_with_summoned_departments() -> Vec<CaseEvent> {
    let mut h = a_case_accepted_at(Level::Street);
    h.push(CaseEvent::DepartmentsSummoned {
        level: Level::Street,
        unit: STREET.into(),
        departments: vec![summoned(STREET, "market-regulation"), summoned(STREET, "ecology-environment")],
        reason: "restaurant fumes: licence and emissions".into(),
    });
    h
}

#[test]
fn given_a_case_accepted_at_the_street_when_it_summons_departments_then_they_are_summoned_and_the_case_stays() {
    let before = replay(&a_case_accepted_at(Level::Street));
    let case = given(&a_case_accepted_at(Level::Street))
        .when(summon(&["market-regulation", "ecology-environment"], "restaurant fumes: licence and emissions"))
        .then(&[CaseEvent::DepartmentsSummoned {
            level: Level::Street,
            unit: STREET.into(),
            departments: vec![
                SummonedDepartment {
                    unit: STREET.into(),
                    department: Department {
                        code: "market-regulation".into(),
                        name: format!("{STREET} market-regulation"),
                    },
                },
                SummonedDepartment {
                    unit: DISTRICT.into(),
                    department: Department {
                        code: "ecology-environment".into(),
                        name: format!("{DISTRICT} ecology-environment"),
                    },
                },
            ],
            reason: "restaurant fumes: licence and emissions".into(),
        }]);
    assert_eq!(case.status, before.status, "the street keeps the case and its deadline");
    assert_eq!(case.summons.len(), 2);
    assert!(case.summons.iter().all(|s| !s.reported_in));
}

#[test]
fn given_a_case_accepted_at_the_district_when_it_summons_then_it_may() {
    given(&a_case_accepted_at(Level::District)).when(summon(&["ecology-environment"], "joint inspection")).then(&[
        CaseEvent::DepartmentsSummoned {
            level: Level::District,
            unit: DISTRICT.into(),
            departments: vec![summoned(DISTRICT, "ecology-environment")],
            reason: "joint inspection".into(),
        },
    ]);
}

#[test]
fn given_a_case_below_the_street_when_it_summons_then_it_is_refused() {
    for history in [an_accepted_case(), a_case_accepted_at(Level::Community)] {
        given(&history).when(summon(&["ecology-environment"], "help")).then_refused(
            |e| matches!(e, CaseError::Forbidden { reason, .. } if reason.contains("street or the district")),
        );
    }
}

#[test]
fn given_a_case_not_accepted_at_the_street_when_it_summons_then_it_is_refused() {
    for history in [a_case_dispatched_at(Level::Street), a_case_resolved_at(Level::Street)] {
        given(&history)
            .when(summon(&["market-regulation"], "help"))
            .then_refused(|e| matches!(e, CaseError::Forbidden { command: "summon_departments", .. }));
    }
}

#[test]
fn given_a_case_accepted_at_the_street_when_the_summons_is_malformed_then_the_field_is_named() {
    let history = a_case_accepted_at(Level::Street);
    given(&history)
        .when(summon(&[], "help"))
        .then_refused(|e| matches!(e, CaseError::Invalid { field: "departments", .. }));
    given(&history)
        .when(summon(&["market-regulation"], " "))
        .then_refused(|e| matches!(e, CaseError::Invalid { field: "reason", .. }));
    given(&history).when(summon(&["fire-brigade"], "help")).then_refused(
        |e| matches!(e, CaseError::Invalid { field: "departments", reason } if reason.contains("fire-brigade")),
    );
    given(&history)
        .when(summon(&["market-regulation", format!("{STREET}/market-regulation").as_str()], "help"))
        .then_refused(
            |e| matches!(e, CaseError::Invalid { field: "departments", reason } if reason.contains("already")),
        );
}

#[test]
fn given_summoned_departments_when_one_is_summoned_again_before_reporting_in_then_it_is_refused() {
    given(&a_case_with_summoned_departments())
        .when(summon(&["market-regulation"], "again"))
        .then_refused(|e| matches!(e, CaseError::Invalid { field: "departments", .. }));
    // Once it has reported in, it may be summoned again.
    let mut history = a_case_with_summoned_departments();
    history.push(CaseEvent::DepartmentReportedIn {
        department: summoned(STREET, "market-regulation"),
        by: "officer-3".into(),
        note: String::new(),
    });
    given(&history).when(summon(&["market-regulation"], "second visit")).then(&[CaseEvent::DepartmentsSummoned {
        level: Level::Street,
        unit: STREET.into(),
        departments: vec![summoned(STREET, "market-regulation")],
        reason: "second visit".into(),
    }]);
}

#[test]
fn given_summoned_departments_when_one_reports_in_then_its_summons_is_answered() {
    let before = replay(&a_case_with_summoned_departments());
    let case =
        given(&a_case_with_summoned_departments()).when(report_in("ecology-environment", "inspector-7")).then(&[
            CaseEvent::DepartmentReportedIn {
                department: summoned(STREET, "ecology-environment"),
                by: "inspector-7".into(),
                note: "on site".into(),
            },
        ]);
    assert_eq!(case.status, before.status);
    assert_eq!(
        case.summons,
        vec![
            Summons { summoned: summoned(STREET, "market-regulation"), reported_in: false },
            Summons { summoned: summoned(STREET, "ecology-environment"), reported_in: true },
        ]
    );
    // The qualified reference works too, and a second report-in finds nothing waiting.
    let mut history = a_case_with_summoned_departments();
    history.push(CaseEvent::DepartmentReportedIn {
        department: summoned(STREET, "market-regulation"),
        by: "officer-3".into(),
        note: String::new(),
    });
    given(&history)
        .when(report_in(&format!("{STREET}/market-regulation"), "officer-3"))
        .then_refused(|e| matches!(e, CaseError::Forbidden { command: "report_in", .. }));
    given(&history).when(report_in(&format!("{DISTRICT}/ecology-environment"), "inspector-7")).then(&[
        CaseEvent::DepartmentReportedIn {
            department: summoned(STREET, "ecology-environment"),
            by: "inspector-7".into(),
            note: "on site".into(),
        },
    ]);
}

#[test]
fn given_no_summons_or_a_closed_case_when_a_department_reports_in_then_it_is_refused() {
    given(&a_case_accepted_at(Level::Street))
        .when(report_in("market-regulation", "officer-3"))
        .then_refused(|e| matches!(e, CaseError::Forbidden { command: "report_in", .. }));
    given(&a_case_with_summoned_departments())
        .when(report_in("market-regulation", ""))
        .then_refused(|e| matches!(e, CaseError::Invalid { field: "by", .. }));
    given(&a_closed_case())
        .when(report_in("market-regulation", "officer-3"))
        .then_refused(|e| matches!(e, CaseError::Forbidden { reason, .. } if reason.contains("over")));
}
