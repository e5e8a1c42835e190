//! Fixtures of the Case aggregate: a test city with its own [`RoutingPolicy`], histories (the
//! "given"s), events and commands, on one timeline.
//!
//! [`TestPolicy`] has fixed wall-clock SLAs (deadline = start + SLA, no working-time calendar, so
//! expectations are easy to compute by hand) and units derived from the codes themselves (a unit is
//! the prefix of the codes under it), so tests built on it depend on nothing but the Case aggregate
//! and the ladder.

use super::{Forbidden, Given, Named, Refusal};
use crate::case::{
    Assignment, Case, CaseCommand, CaseDetails, CaseError, CaseEvent, Channel, EscalationReason, Evaluator,
    LinkedReport, MediationVerdict, OnTimeVerdict, Reporter, ReporterKind, RoutingPolicy, Satisfaction,
    SummonedDepartment,
};
use crate::ids::CaseId;
use crate::jurisdiction::Department;
use crate::level::Level;
use crate::priority::{CategoryPriority, Priority};
use crate::Timestamp;
use chrono::{Duration, TimeZone, Utc};
use uuid::Uuid;

impl Named for Case {
    fn command_name(command: &CaseCommand) -> &'static str {
        command.name()
    }

    fn state_name(&self) -> &'static str {
        self.status.name()
    }
}

impl Refusal for CaseError {
    fn invalid_field(&self) -> Option<&str> {
        match self {
            CaseError::Invalid { field, .. } => Some(field),
            CaseError::InvalidFields(fields) => fields.first().map(|(field, _)| *field),
            _ => None,
        }
    }

    fn forbidden(&self) -> Option<Forbidden<'_>> {
        match self {
            CaseError::Forbidden { command, state, reason } => Some(Forbidden { command, state, reason }),
            _ => None,
        }
    }
}

/// The case folded from `history` in the test city; commands are decided at t0+12h unless
/// `.at(..)` says otherwise.
pub fn given(history: &[CaseEvent]) -> Given<'static, Case> {
    super::given::<Case>(&TestPolicy, history, at(hours(12)))
}

/// No case yet; commands are decided at t0.
pub fn given_no_case() -> Given<'static, Case> {
    super::given::<Case>(&TestPolicy, &[], t0())
}

// ---------------------------------------------------------------------------------------------
// The test city: one grid, its community, street and district; two more communities.
// ---------------------------------------------------------------------------------------------

pub const GRID: &str = "321012001001001";
pub const COMMUNITY: &str = "321012001001";
pub const STREET: &str = "321012001";
pub const DISTRICT: &str = "321012";
/// Another community under the same street: a transfer (一转) target.
pub const OTHER_COMMUNITY: &str = "321012001002";
/// A community under another street.
pub const FAR_COMMUNITY: &str = "321012002001";
pub const FAR_STREET: &str = "321012002";

/// Neighbour disputes start at the grid and may go to mediation (the default category).
pub const DISPUTE: &str = "neighbour.dispute";
/// Property-fee disputes start at the community (权责清单) and may go to mediation.
pub const PROPERTY_FEE: &str = "property.fee";
/// Gas leaks start at the grid, are not a matter for mediation, and have a short accept SLA.
pub const GAS_LEAK: &str = "safety.gas_leak";

pub const RULE_START: &str = "responsibility-list:start-level";
pub const RULE_URGENT: &str = "urgent-major:enter-at-street";

pub struct TestPolicy;

impl TestPolicy {
    pub fn accept_sla(&self, category_code: &str, level: Level) -> Duration {
        if category_code == GAS_LEAK {
            return Duration::minutes(30);
        }
        accept_sla(level)
    }

    pub fn resolve_sla(&self, _category_code: &str, level: Level) -> Duration {
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
pub fn summonable_in_test_city(holder: &str, reference: &str) -> Option<SummonedDepartment> {
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
pub fn department(level: Level, unit: &str) -> Option<Department> {
    TestPolicy.department_for(DISPUTE, unit, level)
}

/// The level of a unit or grid code (6, 9, 12 or 15 digits), or `None` for anything else.
pub fn code_level(code: &str) -> Option<Level> {
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Level::ALL.into_iter().find(|level| level.code_len() == code.len())
}

/// Accept SLA of the default category: 2h, 4h, 8h, 24h up the ladder.
pub fn accept_sla(level: Level) -> Duration {
    match level {
        Level::Grid => Duration::hours(2),
        Level::Community => Duration::hours(4),
        Level::Street => Duration::hours(8),
        Level::District => Duration::hours(24),
    }
}

/// Resolve SLA: 1, 2, 3, 5 days up the ladder.
pub fn resolve_sla(level: Level) -> Duration {
    match level {
        Level::Grid => Duration::days(1),
        Level::Community => Duration::days(2),
        Level::Street => Duration::days(3),
        Level::District => Duration::days(5),
    }
}

pub fn unit(level: Level) -> &'static str {
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
pub fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 3, 3, 9, 0, 0).unwrap()
}

/// `t0` plus `minutes`.
pub fn at(minutes: i64) -> Timestamp {
    t0() + Duration::minutes(minutes)
}

pub fn hours(h: i64) -> i64 {
    h * 60
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

pub fn case_id() -> CaseId {
    CaseId(Uuid::from_u128(0x0196_0000_0000_7000_8000_0000_0000_0001))
}

pub fn details(category: &str, urgent: bool) -> CaseDetails {
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
            sealed: None,
        },
        channel: Channel::ResidentApp,
        discovered_at: t0() - Duration::minutes(5),
        uploaded_at: t0(),
        urgent,
        special_groups: vec![],
        media_url: None,
    }
}

/// A priority as recorded: score and reasons.
pub fn priority(score: u32, reasons: &[&str]) -> Priority {
    Priority { score, reasons: reasons.iter().map(|r| r.to_string()).collect() }
}

/// The priority of a plain neighbour-dispute report.
pub fn routine() -> Priority {
    priority(10, &["category priority routine (+10)"])
}

pub fn opened() -> CaseEvent {
    opened_as(DISPUTE)
}

pub fn opened_as(category: &str) -> CaseEvent {
    CaseEvent::Opened { case_id: case_id(), details: details(category, false) }
}

pub fn assignment(level: Level, deadline: Timestamp) -> Assignment {
    Assignment { level, unit: unit(level).to_string(), deadline, department: department(level, unit(level)) }
}

pub fn dispatched(level: Level, deadline: Timestamp) -> CaseEvent {
    CaseEvent::Dispatched { to: assignment(level, deadline), rule: RULE_START.to_string(), priority: routine() }
}

pub fn accepted(level: Level, deadline: Timestamp) -> CaseEvent {
    CaseEvent::Accepted { at: assignment(level, deadline), assignee: "wang".to_string() }
}

pub fn escalated(from: Level, deadline: Timestamp, reason: EscalationReason, note: &str) -> CaseEvent {
    CaseEvent::Escalated { from, to: assignment(from.up().unwrap(), deadline), reason, note: note.to_string() }
}

pub fn mediation_requested(level: Level) -> CaseEvent {
    CaseEvent::MediationRequested {
        level,
        topic: "noise at night".to_string(),
        convenor: String::new(),
        register: None,
    }
}

pub fn resolved(level: Level) -> CaseEvent {
    CaseEvent::Resolved {
        level,
        unit: unit(level).to_string(),
        summary: "quiet hours agreed".to_string(),
        verify_by: None,
    }
}

pub fn evaluated(satisfaction: Satisfaction) -> CaseEvent {
    CaseEvent::Evaluated {
        satisfaction,
        comment: "ok".to_string(),
        defaulted: false,
        evaluated_by: Some(the_hotline()),
    }
}

pub fn closed(level: Level) -> CaseEvent {
    CaseEvent::Closed { level, satisfaction: Some(Satisfaction::Satisfied), on_time: OnTimeVerdict::ByDeadline }
}

pub fn rejected() -> CaseEvent {
    CaseEvent::Rejected { reason: "duplicate of an open case".to_string() }
}

// ---------------------------------------------------------------------------------------------
// Histories (the "given"s), on the default timeline:
// opened and dispatched to the grid at t0, accepted at t0+1h, ...
// ---------------------------------------------------------------------------------------------

/// Dispatched to the grid at t0; accept deadline t0+2h.
pub fn a_dispatched_case() -> Vec<CaseEvent> {
    vec![opened(), dispatched(Level::Grid, at(hours(2)))]
}

/// Accepted by the grid at t0+1h; resolve deadline t0+25h.
pub fn an_accepted_case() -> Vec<CaseEvent> {
    let mut h = a_dispatched_case();
    h.push(accepted(Level::Grid, at(hours(1)) + resolve_sla(Level::Grid)));
    h
}

/// Escalated on request, one level at a time, to `level`, and dispatched there (the n-th escalation
/// happens at t0+n hours). The last accept deadline is `escalated_at + accept_sla(level)`.
pub fn a_case_dispatched_at(level: Level) -> Vec<CaseEvent> {
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
pub fn accept_deadline_at(level: Level) -> Timestamp {
    let n = Level::ALL.iter().position(|l| *l == level).unwrap() as i64;
    if n == 0 {
        at(hours(2))
    } else {
        at(hours(n)) + accept_sla(level)
    }
}

/// Accepted at `level` at t0+10h; resolve deadline t0+10h+resolve_sla(level).
pub fn a_case_accepted_at(level: Level) -> Vec<CaseEvent> {
    let mut h = a_case_dispatched_at(level);
    h.push(accepted(level, at(hours(10)) + resolve_sla(level)));
    h
}

pub fn a_case_in_mediation() -> Vec<CaseEvent> {
    let mut h = an_accepted_case();
    h.push(mediation_requested(Level::Grid));
    h
}

pub fn a_case_resolved_at(level: Level) -> Vec<CaseEvent> {
    let mut h = a_case_accepted_at(level);
    h.push(resolved(level));
    h
}

pub fn a_resolved_case() -> Vec<CaseEvent> {
    a_case_resolved_at(Level::Grid)
}

pub fn a_closed_case() -> Vec<CaseEvent> {
    let mut h = a_resolved_case();
    h.push(evaluated(Satisfaction::Satisfied));
    h.push(closed(Level::Grid));
    h
}

pub fn a_rejected_case() -> Vec<CaseEvent> {
    let mut h = a_dispatched_case();
    h.push(rejected());
    h
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

pub fn open(category: &str, urgent: bool) -> CaseCommand {
    CaseCommand::Open { case_id: case_id(), details: details(category, urgent) }
}

pub fn reject(reason: &str) -> CaseCommand {
    CaseCommand::Reject { reason: reason.to_string() }
}

pub fn accept(assignee: &str) -> CaseCommand {
    CaseCommand::Accept { assignee: assignee.to_string() }
}

pub fn escalate(reason: &str) -> CaseCommand {
    CaseCommand::Escalate { reason: reason.to_string() }
}

pub fn expire(deadline: Timestamp) -> CaseCommand {
    CaseCommand::DeadlineExpired { deadline }
}

pub fn transfer(to_unit: &str, reason: &str) -> CaseCommand {
    CaseCommand::Transfer { to_unit: to_unit.to_string(), reason: reason.to_string() }
}

pub fn request_mediation(topic: &str) -> CaseCommand {
    CaseCommand::RequestMediation { topic: topic.to_string(), convenor: String::new(), register: None }
}

pub fn conclude_mediation(agreed: bool, summary: &str) -> CaseCommand {
    let verdict = if agreed { MediationVerdict::Agreed } else { MediationVerdict::BackToUnit };
    CaseCommand::ConcludeMediation { mediation_id: "med-1".to_string(), verdict, summary: summary.to_string() }
}

pub fn resolve(summary: &str) -> CaseCommand {
    CaseCommand::Resolve { summary: summary.to_string() }
}

pub fn verify(passed: bool, note: &str) -> CaseCommand {
    CaseCommand::Verify { verifier: "grid worker zhao".to_string(), passed, note: note.to_string() }
}

/// The hotline's callback (回访), answering for the reporter.
pub fn the_hotline() -> Evaluator {
    Evaluator { role: "hotline".into(), id: "12345-hotline".into(), area: String::new() }
}

/// The reporter's evaluation as the hotline took it, or (`defaulted`) the default one.
pub fn evaluate(satisfaction: Satisfaction, comment: &str, defaulted: bool) -> CaseCommand {
    let evaluated_by = (!defaulted).then(the_hotline);
    CaseCommand::RecordEvaluation { satisfaction, comment: comment.to_string(), defaulted, evaluated_by }
}

/// One command of every kind, with plausible arguments.
pub fn every_command(deadline: Timestamp) -> Vec<CaseCommand> {
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
        add_note("called the owner"),
    ]
}

/// Dispatched at `level` as in [`a_case_dispatched_at`], then transferred (一转) to `to_unit` at
/// t0+2h.
pub fn a_case_transferred_to(to_unit: &str, level: Level) -> Vec<CaseEvent> {
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

/// A gas leak (which the test policy has verified above the grid) escalated to the community and
/// accepted there at t0+10h.
pub fn a_gas_leak_accepted_at_the_community() -> Vec<CaseEvent> {
    let mut h = a_case_accepted_at(Level::Community);
    h[0] = opened_as(GAS_LEAK);
    h
}

pub fn a_gas_leak_awaiting_verification() -> Vec<CaseEvent> {
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
pub fn verify_by() -> Timestamp {
    at(hours(16))
}

pub fn verified(passed: bool, note: &str) -> CaseEvent {
    CaseEvent::Verified { level: Level::Community, verifier: "grid worker zhao".into(), passed, note: note.into() }
}

pub fn linked_report() -> LinkedReport {
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

pub fn link_report() -> CaseCommand {
    CaseCommand::LinkReport { report: linked_report() }
}

pub fn report_linked() -> CaseEvent {
    CaseEvent::ReportLinked { report: linked_report() }
}

/// A second report of a routine matter: a shared concern.
pub fn shared_concern() -> CaseEvent {
    CaseEvent::PriorityChanged {
        priority: priority(20, &["category priority routine (+10)", "shared concern: 2 reports (+10)"]),
    }
}

pub fn summon(departments: &[&str], reason: &str) -> CaseCommand {
    CaseCommand::SummonDepartments {
        departments: departments.iter().map(|d| d.to_string()).collect(),
        reason: reason.into(),
    }
}

pub fn report_in(department: &str, by: &str) -> CaseCommand {
    CaseCommand::ReportIn { department: department.into(), by: by.into(), note: "on site".into() }
}

/// The subject the test's notes are written by.
pub const NOTE_AUTHOR: &str = "gw-zhao";

pub fn add_note(text: &str) -> CaseCommand {
    CaseCommand::AddNote { text: text.into(), author: NOTE_AUTHOR.into() }
}

pub fn note_added(text: &str) -> CaseEvent {
    CaseEvent::NoteAdded { text: text.into(), author: NOTE_AUTHOR.into() }
}

pub fn summoned(unit: &str, code: &str) -> SummonedDepartment {
    summonable_in_test_city(unit, code).unwrap()
}

/// Accepted at the street, which summoned its 市场监管所 and the district's 生态环境局.
pub fn a_case_with_summoned_departments() -> Vec<CaseEvent> {
    let mut h = a_case_accepted_at(Level::Street);
    h.push(CaseEvent::DepartmentsSummoned {
        level: Level::Street,
        unit: STREET.into(),
        departments: vec![summoned(STREET, "market-regulation"), summoned(STREET, "ecology-environment")],
        reason: "restaurant fumes: licence and emissions".into(),
    });
    h
}

/// The case folded from `history`, which a test builds from decided events: a history that does
/// not fit is a bug in the test.
#[track_caller]
pub fn replay<'a>(history: impl IntoIterator<Item = &'a CaseEvent>) -> Case {
    crate::case::replay(history).unwrap_or_else(|misfit| panic!("the test's history does not fit: {misfit}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
