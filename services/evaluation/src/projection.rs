//! The case projection (`evaluation_cases`): one row per case, folded from dispatch's events.

use crate::kpi::CaseFilter;
use crate::padding;
use crate::satisfaction_name;
use futures::TryStreamExt;
use gridloop_domain::case::{Assignment, CaseEvent, EscalationReason, OnTimeVerdict, ReporterKind, Satisfaction};
use gridloop_domain::case_state::CaseState;
use gridloop_domain::ids::CaseId;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::kpi::{CaseFacts, Report};
use gridloop_domain::level::Level;
use gridloop_domain::priority::Priority;
use gridloop_eventstore::{Batch, Binds, Placeholders};
use gridloop_proto::convert;
use gridloop_proto::v1 as pb;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, FromRow};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct CaseRow {
    pub case_id: String,
    pub version: i64,
    pub state: String,
    pub level: Option<String>,
    pub category_code: String,
    pub grid_code: String,
    pub description: String,
    pub opened_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub settled_level: Option<String>,
    pub satisfaction: Option<String>,
    pub escalations: i64,
    pub reopen_count: i64,
    pub linked_reports: i64,
    pub priority: i64,
    /// The reasons, one per line.
    pub priority_reasons: String,
    /// First dispatch to a unit.
    pub dispatched_at: Option<i64>,
    /// First acceptance by a unit (the response).
    pub accepted_at: Option<i64>,
    /// 1 when the first acceptance came within the deadline then in force with none missed
    /// before it, 0 when late.
    pub responded_on_time: Option<i64>,
    /// The last resolution.
    pub resolved_at: Option<i64>,
    /// The deadline in force (to accept, or to resolve once accepted).
    pub due_at: Option<i64>,
    /// Deadlines missed: escalations on expiry and misses recorded at the district.
    pub deadline_misses: i64,
    pub mediations_requested: i64,
    pub mediations_agreed: i64,
    pub mediations_failed: i64,
    /// Once closed: 1 when its last resolution met the deadline in force and no deadline was
    /// ever missed (or the platform it was imported from says so), 0 when late; none while
    /// open, or when imported history had no deadline and no verdict.
    pub closed_on_time: Option<i64>,
    /// The resident who reported the case (their subject), when a resident did: whose own
    /// cases a resident may list and evaluate.
    pub reporter_id: Option<String>,
    /// 1 for history imported from another platform.
    pub imported: i64,
    /// The channel it was reported through ([`gridloop_domain::case::Channel::as_str`]); empty for rows projected
    /// before the projection kept it.
    pub channel: String,
}

pub use gridloop_domain::access::IMPORT_RULE_PREFIX;

/// The columns in [`CaseRow`] order.
pub const COLUMNS: [&str; 30] = [
    "case_id",
    "version",
    "state",
    "level",
    "category_code",
    "grid_code",
    "description",
    "opened_at",
    "updated_at",
    "closed_at",
    "settled_level",
    "satisfaction",
    "escalations",
    "reopen_count",
    "linked_reports",
    "priority",
    "priority_reasons",
    "dispatched_at",
    "accepted_at",
    "responded_on_time",
    "resolved_at",
    "due_at",
    "deadline_misses",
    "mediations_requested",
    "mediations_agreed",
    "mediations_failed",
    "closed_on_time",
    "reporter_id",
    "imported",
    "channel",
];

fn column_list() -> String {
    COLUMNS.join(", ")
}

/// The wire state of a stored state name (`UNSPECIFIED` for a name no state has).
fn state_of(name: &str) -> pb::CaseState {
    name.parse::<CaseState>().map_or(pb::CaseState::Unspecified, convert::case_state)
}

fn level_of(name: Option<&str>) -> pb::Level {
    name.and_then(|n| n.parse::<Level>().ok()).map_or(pb::Level::Unspecified, convert::level)
}

fn time(micros: i64) -> Option<prost_types::Timestamp> {
    chrono::DateTime::from_timestamp_micros(micros).map(convert::timestamp)
}

impl CaseRow {
    pub fn summary(&self) -> pb::CaseSummary {
        pb::CaseSummary {
            case_id: self.case_id.clone(),
            state: state_of(&self.state) as i32,
            level: level_of(self.level.as_deref()) as i32,
            category_code: self.category_code.clone(),
            grid_code: self.grid_code.clone(),
            opened_at: time(self.opened_at),
            updated_at: time(self.updated_at),
            settled_level: level_of(self.settled_level.as_deref()) as i32,
            escalations: u32::try_from(self.escalations).unwrap_or_default(),
            reopen_count: u32::try_from(self.reopen_count).unwrap_or_default(),
            description: self.description.clone(),
            linked_reports: u32::try_from(self.linked_reports).unwrap_or_default(),
            priority: u32::try_from(self.priority).unwrap_or_default(),
            priority_reasons: self.priority_reasons.lines().map(str::to_string).collect(),
            due_at: self.due_at.and_then(time),
        }
    }

    /// The row's facts for the KPIs.
    pub fn facts(&self) -> CaseFacts {
        let at = |micros: i64| chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default();
        CaseFacts {
            opened_at: at(self.opened_at),
            rejected: self.state == CaseState::Rejected.name(),
            dispatched: self.dispatched_at.is_some(),
            responded_on_time: self.responded_on_time.map(|flag| flag == 1),
            resolved: self.resolved_at.is_some(),
            closed: self.closed_at.is_some(),
            closed_on_time: self.closed_on_time.map(|flag| flag == 1),
            satisfaction: self.satisfaction.as_deref().and_then(satisfaction_of),
            reopened: self.reopen_count > 0,
            settled_level: self.settled_level.as_deref().and_then(|l| l.parse().ok()),
            mediations_agreed: u32::try_from(self.mediations_agreed).unwrap_or_default(),
            mediations_failed: u32::try_from(self.mediations_failed).unwrap_or_default(),
            imported: self.imported != 0,
        }
    }
}

fn satisfaction_of(name: &str) -> Option<Satisfaction> {
    [Satisfaction::Satisfied, Satisfaction::BasicallySatisfied, Satisfaction::Unsatisfied]
        .into_iter()
        .find(|s| satisfaction_name(*s) == name)
}

/// What one event does to a case's row.
#[derive(Debug, Clone, PartialEq)]
pub enum Evolution {
    Applied(Box<CaseRow>),
    /// The row is already at or past this event's version.
    AlreadyApplied,
    /// An earlier event of the case has not been applied yet.
    Gap {
        have: i64,
        got: i64,
    },
}

/// Fold one case event (stream `version`, occurred `at` in µs) into the case's row: the one
/// rule for the live consumer, `gridloop replay` and "as of" queries alike.
pub fn evolve(current: Option<&CaseRow>, case_id: CaseId, version: i64, at: i64, event: &CaseEvent) -> Evolution {
    let mut row = match (current, event) {
        (Some(row), _) if row.version >= version => return Evolution::AlreadyApplied,
        (Some(row), _) if row.version + 1 == version => row.clone(),
        (None, CaseEvent::Opened { details, .. }) if version == 1 => CaseRow {
            case_id: case_id.to_string(),
            version: 0,
            state: CaseState::Reported.name().into(),
            level: None,
            category_code: details.category_code.clone(),
            grid_code: details.grid_code.clone(),
            description: details.description.clone(),
            opened_at: at,
            updated_at: at,
            closed_at: None,
            settled_level: None,
            satisfaction: None,
            escalations: 0,
            reopen_count: 0,
            linked_reports: 0,
            priority: 0,
            priority_reasons: String::new(),
            dispatched_at: None,
            accepted_at: None,
            responded_on_time: None,
            resolved_at: None,
            due_at: None,
            deadline_misses: 0,
            mediations_requested: 0,
            mediations_agreed: 0,
            mediations_failed: 0,
            closed_on_time: None,
            reporter_id: (details.reporter.kind == ReporterKind::Resident)
                .then(|| details.reporter.identity().to_string()),
            imported: 0,
            channel: details.channel.as_str().into(),
        },
        (current, _) => return Evolution::Gap { have: current.map_or(0, |r| r.version), got: version },
    };
    let set = |row: &mut CaseRow, state: CaseState, level: Option<Level>| {
        row.state = state.name().into();
        if let Some(level) = level {
            row.level = Some(level.as_str().into());
        }
    };
    let prioritise = |row: &mut CaseRow, priority: &Priority| {
        row.priority = i64::from(priority.score);
        row.priority_reasons = priority.reasons.join("\n");
    };
    let assign = |row: &mut CaseRow, to: &Assignment| row.due_at = Some(to.deadline.timestamp_micros());
    match event {
        CaseEvent::Opened { .. }
        | CaseEvent::DepartmentsSummoned { .. }
        | CaseEvent::DepartmentReportedIn { .. }
        | CaseEvent::NoteAdded { .. } => {}
        CaseEvent::DeadlineMissed { next_deadline, .. } => {
            row.deadline_misses += 1;
            row.due_at = Some(next_deadline.timestamp_micros());
        }
        CaseEvent::Rejected { .. } => set(&mut row, CaseState::Rejected, None),
        CaseEvent::Dispatched { to, priority, rule } => {
            if rule.starts_with(IMPORT_RULE_PREFIX) {
                row.imported = 1;
            }
            prioritise(&mut row, priority);
            row.dispatched_at.get_or_insert(at);
            assign(&mut row, to);
            set(&mut row, CaseState::Dispatched, Some(to.level))
        }
        CaseEvent::PriorityChanged { priority } => prioritise(&mut row, priority),
        CaseEvent::Transferred { to, .. } => {
            assign(&mut row, to);
            set(&mut row, CaseState::Dispatched, Some(to.level))
        }
        CaseEvent::Escalated { to, reason, .. } => {
            row.escalations += 1;
            if *reason == EscalationReason::DeadlineMissed {
                row.deadline_misses += 1;
            }
            assign(&mut row, to);
            set(&mut row, CaseState::Dispatched, Some(to.level));
        }
        CaseEvent::Accepted { at: to, .. } => {
            if row.accepted_at.is_none() {
                // In time: within the deadline in force, and none missed before (an escalation
                // on expiry means the first unit did not respond).
                let in_time = row.deadline_misses == 0 && row.due_at.is_none_or(|due| at <= due);
                row.accepted_at = Some(at);
                row.responded_on_time = Some(i64::from(in_time));
            }
            assign(&mut row, to);
            set(&mut row, CaseState::Accepted, Some(to.level))
        }
        CaseEvent::MediationFailed { back_to, .. } => {
            row.mediations_failed += 1;
            assign(&mut row, back_to);
            set(&mut row, CaseState::Accepted, Some(back_to.level))
        }
        CaseEvent::MediationAgreed { .. } => row.mediations_agreed += 1,
        CaseEvent::MediationRequested { level, .. } => {
            row.mediations_requested += 1;
            set(&mut row, CaseState::InMediation, Some(*level))
        }
        CaseEvent::Resolved { level, verify_by, .. } => {
            row.resolved_at = Some(at);
            let state = if verify_by.is_some() { CaseState::AwaitingVerification } else { CaseState::Resolved };
            set(&mut row, state, Some(*level))
        }
        // Recorded for supervision on the case's history; no KPI counts it (yet).
        CaseEvent::VerificationOverdue { .. } => {}
        // A failed check is followed by `Reopened`, which counts the rework.
        CaseEvent::Verified { passed, .. } => {
            if *passed {
                set(&mut row, CaseState::Resolved, None)
            }
        }
        CaseEvent::Evaluated { satisfaction, .. } => row.satisfaction = Some(satisfaction_name(*satisfaction).into()),
        CaseEvent::Reopened { at: to, .. } => {
            row.reopen_count += 1;
            assign(&mut row, to);
            set(&mut row, CaseState::Accepted, Some(to.level));
        }
        CaseEvent::Closed { level, satisfaction, on_time } => {
            set(&mut row, CaseState::Closed, Some(*level));
            row.settled_level = Some(level.as_str().into());
            row.satisfaction = satisfaction.map(|s| satisfaction_name(s).into());
            row.closed_at = Some(at);
            let met_deadline = match (row.resolved_at, row.due_at) {
                (Some(resolved), Some(due)) => resolved <= due,
                (_, None) => true,
                (None, Some(_)) => false,
            };
            row.closed_on_time = match on_time {
                OnTimeVerdict::ByDeadline => Some(i64::from(met_deadline && row.deadline_misses == 0)),
                OnTimeVerdict::OnTime => Some(1),
                OnTimeVerdict::Late => Some(0),
                OnTimeVerdict::Unknown => None,
            };
        }
        CaseEvent::ReportLinked { .. } => row.linked_reports += 1,
    }
    row.version = version;
    row.updated_at = at;
    Evolution::Applied(Box::new(row))
}

/// Write rows (new or updated) in one statement.
pub async fn upsert(conn: &mut AnyConnection, rows: &[CaseRow]) -> Result<(), sqlx::Error> {
    let mut batch = Batch::new(Placeholders::of(conn));
    queue_upsert(&mut batch, rows);
    batch.execute(conn).await
}

/// Queue the upsert of `rows`, in upserts padded to a few sizes.
pub fn queue_upsert<'q>(batch: &mut Batch<'q>, rows: &'q [CaseRow]) {
    let style = batch.style();
    let updates: Vec<String> = COLUMNS[1..].iter().map(|c| format!("{c} = excluded.{c}")).collect();
    for chunk in rows.chunks(padding::CHUNK) {
        let size = padding::padded(chunk.len());
        let sql = format!(
            "{} ON CONFLICT (case_id) DO UPDATE SET {}",
            padding::insert_values(style, "evaluation_cases", &column_list(), size, COLUMNS.len()),
            updates.join(", ")
        );
        let mut binds = batch.statement(&sql);
        for row in chunk {
            bind_row(&mut binds, Some(row.case_id.as_str()), row);
        }
        // A padding row: a NULL case id, so it is filtered out before the insert.
        for _ in chunk.len()..size {
            bind_row(&mut binds, None, &chunk[0]);
        }
    }
}

fn bind_row<'q>(binds: &mut Binds<'_, 'q>, case_id: Option<&'q str>, row: &'q CaseRow) {
    binds
        .bind(case_id)
        .bind(row.version)
        .bind(row.state.as_str())
        .bind(row.level.as_deref())
        .bind(row.category_code.as_str())
        .bind(row.grid_code.as_str())
        .bind(row.description.as_str())
        .bind(row.opened_at)
        .bind(row.updated_at)
        .bind(row.closed_at)
        .bind(row.settled_level.as_deref())
        .bind(row.satisfaction.as_deref())
        .bind(row.escalations)
        .bind(row.reopen_count)
        .bind(row.linked_reports)
        .bind(row.priority)
        .bind(row.priority_reasons.as_str())
        .bind(row.dispatched_at)
        .bind(row.accepted_at)
        .bind(row.responded_on_time)
        .bind(row.resolved_at)
        .bind(row.due_at)
        .bind(row.deadline_misses)
        .bind(row.mediations_requested)
        .bind(row.mediations_agreed)
        .bind(row.mediations_failed)
        .bind(row.closed_on_time)
        .bind(row.reporter_id.as_deref())
        .bind(row.imported)
        .bind(row.channel.as_str());
}

pub async fn load(conn: &mut AnyConnection, case_ids: &[String]) -> Result<Vec<CaseRow>, sqlx::Error> {
    let mut batch = Batch::new(Placeholders::of(conn));
    queue_load(&mut batch, case_ids);
    loaded(&batch.fetch(conn).await?)
}

/// Queue the read of these cases' rows (one statement per [`padding::CHUNK`] ids).
pub fn queue_load<'q>(batch: &mut Batch<'q>, case_ids: &'q [String]) {
    for chunk in case_ids.chunks(padding::CHUNK) {
        // The list padded with its first id again (which finds nothing more), so the read
        // takes a few texts, as the upserts do.
        let size = padding::padded(chunk.len());
        let list = batch.style().list(1, size);
        let sql = format!("SELECT {} FROM evaluation_cases WHERE case_id IN ({list})", column_list());
        let mut binds = batch.statement(&sql);
        for id in chunk.iter().chain(std::iter::repeat_n(&chunk[0], size - chunk.len())) {
            binds.bind(id.as_str());
        }
    }
}

/// The rows of the statements [`queue_load`] queued.
pub fn loaded(results: &[Vec<AnyRow>]) -> Result<Vec<CaseRow>, sqlx::Error> {
    results.iter().flatten().map(CaseRow::from_row).collect()
}

/// The version of the case the projection has applied; 0 for a case it does not know.
pub async fn version_of(pool: &AnyPool, case_id: CaseId) -> Result<u64, sqlx::Error> {
    let version: Option<i64> = sqlx::query_scalar("SELECT version FROM evaluation_cases WHERE case_id = $1")
        .bind(case_id.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(version.and_then(|v| u64::try_from(v).ok()).unwrap_or_default())
}

/// Where a case lies and who reported it, for the check of an evaluation: its grid and its
/// resident reporter; `None` for a case the projection has not seen.
pub async fn reported(pool: &AnyPool, case_id: &str) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    sqlx::query_as("SELECT grid_code, reporter_id FROM evaluation_cases WHERE case_id = $1")
        .bind(case_id)
        .fetch_optional(pool)
        .await
}

/// Closed cases per settled level, within an area prefix and a closure window (micros).
pub async fn settled_counts(
    pool: &AnyPool,
    area: Option<&AreaCode>,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Vec<(Level, u64)>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT settled_level, COUNT(*) FROM evaluation_cases \
         WHERE state = $1 AND grid_code LIKE $2 AND closed_at >= $3 AND closed_at < $4 \
         GROUP BY settled_level",
    )
    .bind(CaseState::Closed.name())
    .bind(format!("{}%", area.map_or("", AreaCode::as_str)))
    .bind(from.unwrap_or(i64::MIN))
    .bind(to.unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(|(level, n)| Some((level.parse::<Level>().ok()?, u64::try_from(n).ok()?))).collect())
}

/// Add every case the filter selects to `report` from the case rows, streaming them (memory
/// stays flat): the counting `kpi_days` answers from, and the one it takes for parts of days.
pub async fn report(pool: &AnyPool, filter: &CaseFilter, report: &mut Report) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM evaluation_cases \
         WHERE grid_code LIKE $1 AND ($2 = '' OR category_code = $2) AND ($3 = '' OR level = $3) \
         AND opened_at >= $4 AND opened_at < $5",
        column_list()
    );
    let mut rows = sqlx::query_as::<_, CaseRow>(&sql)
        .bind(format!("{}%", filter.area.as_ref().map_or("", AreaCode::as_str)))
        .bind(filter.category.clone().unwrap_or_default())
        .bind(filter.level.map(Level::as_str).unwrap_or_default())
        .bind(filter.from.unwrap_or(i64::MIN))
        .bind(filter.to.unwrap_or(i64::MAX))
        .fetch(pool);
    while let Some(row) = rows.try_next().await? {
        report.add(&row.facts());
    }
    Ok(())
}

/// Up to `limit` rows after the case id `after`, in case-id order (a page of the whole table).
pub async fn page(conn: &mut AnyConnection, after: &str, limit: i64) -> Result<Vec<CaseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {} FROM evaluation_cases WHERE case_id > $1 ORDER BY case_id LIMIT $2",
        column_list()
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Every row in case-id order, one JSON object per line: the projection's canonical form, for
/// comparing a rebuilt projection with the live one byte for byte.
pub async fn dump(pool: &AnyPool) -> Result<Vec<u8>, sqlx::Error> {
    let sql = format!("SELECT {} FROM evaluation_cases ORDER BY case_id", column_list());
    let mut rows = sqlx::query_as::<_, CaseRow>(&sql).fetch(pool);
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await? {
        serde_json::to_writer(&mut out, &row).expect("a row serialises");
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use gridloop_domain::case::{CaseDetails, Channel, Reporter, ReporterKind};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap()
    }

    fn case_id() -> CaseId {
        CaseId(uuid::Uuid::from_u128(7))
    }

    fn assignment(level: Level, deadline: DateTime<Utc>) -> Assignment {
        Assignment { level, unit: "321012001002003".into(), deadline, department: None }
    }

    fn opened() -> CaseEvent {
        CaseEvent::Opened {
            case_id: case_id(),
            details: CaseDetails {
                category_code: "A01".into(),
                grid_code: "321012001002003".into(),
                lat: 31.0,
                lon: 121.0,
                description: "楼道堆物".into(),
                reporter: Reporter {
                    kind: ReporterKind::Resident,
                    id: "r1".into(),
                    name: "李华".into(),
                    phone: String::new(),
                    sealed: None,
                },
                channel: Channel::ResidentApp,
                discovered_at: t0(),
                uploaded_at: t0(),
                urgent: false,
                special_groups: vec![],
                media_url: None,
            },
        }
    }

    /// Fold `events` (the n-th at t0 + n hours) from nothing.
    fn fold(events: &[CaseEvent]) -> CaseRow {
        let mut row: Option<CaseRow> = None;
        for (n, event) in events.iter().enumerate() {
            let at = (t0() + Duration::hours(n as i64)).timestamp_micros();
            match evolve(row.as_ref(), case_id(), n as i64 + 1, at, event) {
                Evolution::Applied(next) => row = Some(*next),
                other => panic!("event {n} not applied: {other:?}"),
            }
        }
        row.expect("at least one event")
    }

    fn dispatched(deadline_hours: i64) -> CaseEvent {
        CaseEvent::Dispatched {
            to: assignment(Level::Grid, t0() + Duration::hours(deadline_hours)),
            rule: "start at the grid".into(),
            priority: Priority::default(),
        }
    }

    fn accepted(level: Level, deadline_hours: i64) -> CaseEvent {
        CaseEvent::Accepted { at: assignment(level, t0() + Duration::hours(deadline_hours)), assignee: "张三".into() }
    }

    fn resolved(level: Level, summary: &str, verified: bool) -> CaseEvent {
        let verify_by = verified.then(|| t0() + Duration::days(1));
        CaseEvent::Resolved { level, unit: "u".into(), summary: summary.into(), verify_by }
    }

    fn verified(passed: bool) -> CaseEvent {
        CaseEvent::Verified { level: Level::Community, verifier: "赵".into(), passed, note: "看过".into() }
    }

    #[test]
    fn given_a_failed_verification_when_reworked_and_verified_then_the_rework_counts_and_the_last_resolution_is_judged()
    {
        let history = [
            opened(),
            dispatched(4),
            accepted(Level::Community, 24),
            resolved(Level::Community, "修好了", true),
            verified(false),
            CaseEvent::Reopened {
                at: assignment(Level::Community, t0() + Duration::hours(30)),
                reason: "核查未通过".into(),
            },
            resolved(Level::Community, "重新修好了", true),
            verified(true),
            CaseEvent::Closed {
                level: Level::Community,
                satisfaction: Some(Satisfaction::Satisfied),
                on_time: OnTimeVerdict::ByDeadline,
            },
        ];
        assert_eq!(fold(&history[..4]).state, "awaiting_verification");
        assert_eq!(fold(&history[..5]).state, "awaiting_verification", "the reopening follows");
        assert_eq!(fold(&history[..6]).state, "accepted");
        assert_eq!(fold(&history[..8]).state, "resolved", "verified: waiting for the reporter");
        let row = fold(&history);
        assert_eq!(row.reopen_count, 1, "a failed check is rework");
        assert_eq!(row.resolved_at, Some((t0() + Duration::hours(6)).timestamp_micros()), "the last resolution");
        assert_eq!(row.due_at, Some((t0() + Duration::hours(30)).timestamp_micros()), "the rework's deadline");
        assert_eq!((row.state.as_str(), row.closed_on_time), ("closed", Some(1)));
    }

    #[test]
    fn given_a_case_resolved_within_its_deadline_when_closed_then_it_closed_on_time() {
        let row = fold(&[
            opened(),
            dispatched(4),
            accepted(Level::Grid, 24),
            resolved(Level::Grid, "ok", false),
            CaseEvent::Closed {
                level: Level::Grid,
                satisfaction: Some(Satisfaction::Satisfied),
                on_time: OnTimeVerdict::ByDeadline,
            },
        ]);
        assert_eq!((row.responded_on_time, row.closed_on_time), (Some(1), Some(1)));
        assert_eq!(row.dispatched_at, Some((t0() + Duration::hours(1)).timestamp_micros()));
        assert_eq!(row.due_at, Some((t0() + Duration::hours(24)).timestamp_micros()));
        assert_eq!(row.satisfaction.as_deref(), Some("satisfied"));
        assert_eq!(row.facts().settled_level, Some(Level::Grid));
    }

    #[test]
    fn given_an_escalation_on_expiry_when_the_next_level_responds_then_the_response_was_late() {
        let row = fold(&[
            opened(),
            dispatched(1),
            CaseEvent::Escalated {
                from: Level::Grid,
                to: assignment(Level::Community, t0() + Duration::hours(30)),
                reason: EscalationReason::DeadlineMissed,
                note: String::new(),
            },
            accepted(Level::Community, 48),
            resolved(Level::Community, "ok", false),
            CaseEvent::Closed {
                level: Level::Community,
                satisfaction: Some(Satisfaction::Satisfied),
                on_time: OnTimeVerdict::ByDeadline,
            },
        ]);
        assert_eq!((row.deadline_misses, row.escalations), (1, 1));
        assert_eq!(row.responded_on_time, Some(0), "the grid never responded");
        assert_eq!(row.closed_on_time, Some(0), "a deadline was missed on the way");
    }

    #[test]
    fn given_a_resolution_after_the_deadline_when_closed_then_not_on_time() {
        // Resolved at t0+3h against a deadline of t0+2h.
        let row = fold(&[
            opened(),
            dispatched(10),
            accepted(Level::Grid, 2),
            resolved(Level::Grid, "late", false),
            CaseEvent::Closed { level: Level::Grid, satisfaction: None, on_time: OnTimeVerdict::ByDeadline },
        ]);
        assert_eq!((row.responded_on_time, row.closed_on_time), (Some(1), Some(0)));
        assert_eq!(row.satisfaction, None, "imported history closes without an evaluation");
    }

    #[test]
    fn given_a_row_when_an_old_or_a_future_event_arrives_then_it_is_skipped_or_waits() {
        let row = fold(&[opened(), dispatched(4)]);
        assert_eq!(evolve(Some(&row), case_id(), 2, 0, &dispatched(4)), Evolution::AlreadyApplied);
        assert_eq!(evolve(Some(&row), case_id(), 4, 0, &accepted(Level::Grid, 5)), Evolution::Gap { have: 2, got: 4 });
        assert_eq!(evolve(None, case_id(), 2, 0, &dispatched(4)), Evolution::Gap { have: 0, got: 2 });
    }

    #[test]
    fn given_imported_history_then_it_is_marked_and_its_closure_judged_by_its_verdict() {
        let imported = CaseEvent::Dispatched {
            to: assignment(Level::Street, t0() + Duration::hours(4)),
            rule: format!("{IMPORT_RULE_PREFIX}city311"),
            priority: Priority::default(),
        };
        let closed = |on_time| {
            fold(&[
                opened(),
                imported.clone(),
                resolved(Level::Street, "closed in city311", false),
                CaseEvent::Closed { level: Level::Street, satisfaction: None, on_time },
            ])
        };
        let by_deadline = closed(OnTimeVerdict::ByDeadline);
        assert_eq!((by_deadline.imported, by_deadline.closed_on_time), (1, Some(1)), "resolved at t0+2h, due t0+4h");
        assert_eq!(closed(OnTimeVerdict::Late).closed_on_time, Some(0), "the platform's verdict wins");
        assert_eq!(closed(OnTimeVerdict::OnTime).closed_on_time, Some(1));
        let unknown = closed(OnTimeVerdict::Unknown);
        assert_eq!(unknown.closed_on_time, None);
        let facts = unknown.facts();
        assert!(facts.imported && facts.closed && facts.responded_on_time.is_none());
        assert_eq!(fold(&[opened(), dispatched(4)]).imported, 0);
    }

    #[test]
    fn mediation_outcomes_are_counted() {
        let row = fold(&[
            opened(),
            dispatched(4),
            accepted(Level::Grid, 24),
            CaseEvent::MediationRequested {
                level: Level::Grid,
                topic: "噪音".into(),
                convenor: String::new(),
                register: None,
            },
            CaseEvent::MediationFailed {
                mediation_id: "m1".into(),
                summary: "未达成".into(),
                back_to: assignment(Level::Grid, t0() + Duration::hours(48)),
            },
            CaseEvent::MediationRequested {
                level: Level::Grid,
                topic: "噪音".into(),
                convenor: String::new(),
                register: None,
            },
            CaseEvent::MediationAgreed { mediation_id: "m2".into(), summary: "签字".into() },
        ]);
        assert_eq!((row.mediations_requested, row.mediations_failed, row.mediations_agreed), (2, 1, 1));
        let facts = row.facts();
        assert_eq!((facts.mediations_agreed, facts.mediations_failed), (1, 1));
    }
}
