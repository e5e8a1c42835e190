//! The case projection (`evaluation_cases`): one row per case, folded from dispatch's events.

use crate::satisfaction_name;
use gridloop_bus::HandlerError;
use gridloop_domain::case::CaseEvent;
use gridloop_domain::ids::CaseId;
use gridloop_domain::level::Level;
use gridloop_eventstore::RecordedEvent;
use gridloop_proto::convert;
use gridloop_proto::v1 as pb;
use sqlx::{AnyConnection, AnyPool};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
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
}

const COLUMNS: &str = "case_id, version, state, level, category_code, grid_code, description, opened_at, updated_at, \
                       closed_at, settled_level, satisfaction, escalations, reopen_count, linked_reports";

pub fn state_name(state: pb::CaseState) -> &'static str {
    match state {
        pb::CaseState::Unspecified => "unspecified",
        pb::CaseState::Reported => "reported",
        pb::CaseState::Rejected => "rejected",
        pb::CaseState::Dispatched => "dispatched",
        pb::CaseState::Accepted => "accepted",
        pb::CaseState::InMediation => "in_mediation",
        pb::CaseState::Resolved => "resolved",
        pb::CaseState::Closed => "closed",
    }
}

fn state_of(name: &str) -> pb::CaseState {
    match name {
        "reported" => pb::CaseState::Reported,
        "rejected" => pb::CaseState::Rejected,
        "dispatched" => pb::CaseState::Dispatched,
        "accepted" => pb::CaseState::Accepted,
        "in_mediation" => pb::CaseState::InMediation,
        "resolved" => pb::CaseState::Resolved,
        "closed" => pb::CaseState::Closed,
        _ => pb::CaseState::Unspecified,
    }
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
        }
    }
}

pub async fn category_of(conn: &mut AnyConnection, case_id: CaseId) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as("SELECT category_code FROM evaluation_cases WHERE case_id = $1")
        .bind(case_id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(c,)| c))
}

/// Fold one case event into the row, exactly once and in stream order.
pub async fn apply(
    conn: &mut AnyConnection,
    case_id: CaseId,
    record: &RecordedEvent,
    event: &CaseEvent,
) -> Result<(), HandlerError> {
    let transient = |e: sqlx::Error| HandlerError::Transient(e.to_string());
    let current: Option<CaseRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM evaluation_cases WHERE case_id = $1"))
            .bind(case_id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(transient)?;
    let version = record.stream_version as i64;
    let at = record.occurred_at.timestamp_micros();
    let mut row = match (current, event) {
        (Some(row), _) if row.version >= version => return Ok(()), // already applied
        (Some(row), _) if row.version + 1 == version => row,
        (None, CaseEvent::Opened { details, .. }) if version == 1 => CaseRow {
            case_id: case_id.to_string(),
            version: 0,
            state: "reported".into(),
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
        },
        // An earlier event of this case has not been applied yet: retry after it.
        (current, _) => {
            let have = current.map_or(0, |r| r.version);
            return Err(HandlerError::Transient(format!("case {case_id}: got version {version}, have {have}")));
        }
    };
    let set = |row: &mut CaseRow, state: &str, level: Option<Level>| {
        row.state = state.into();
        if let Some(level) = level {
            row.level = Some(level.as_str().into());
        }
    };
    match event {
        CaseEvent::Opened { .. } | CaseEvent::DeadlineMissed { .. } | CaseEvent::MediationAgreed { .. } => {}
        CaseEvent::Rejected { .. } => set(&mut row, "rejected", None),
        CaseEvent::Dispatched { to, .. } | CaseEvent::Transferred { to, .. } => {
            set(&mut row, "dispatched", Some(to.level))
        }
        CaseEvent::Escalated { to, .. } => {
            row.escalations += 1;
            set(&mut row, "dispatched", Some(to.level));
        }
        CaseEvent::Accepted { at, .. } | CaseEvent::MediationFailed { back_to: at, .. } => {
            set(&mut row, "accepted", Some(at.level))
        }
        CaseEvent::MediationRequested { level, .. } => set(&mut row, "in_mediation", Some(*level)),
        CaseEvent::Resolved { level, .. } => set(&mut row, "resolved", Some(*level)),
        CaseEvent::Evaluated { satisfaction, .. } => row.satisfaction = Some(satisfaction_name(*satisfaction).into()),
        CaseEvent::Reopened { at, .. } => {
            row.reopen_count += 1;
            set(&mut row, "accepted", Some(at.level));
        }
        CaseEvent::Closed { level, satisfaction } => {
            set(&mut row, "closed", Some(*level));
            row.settled_level = Some(level.as_str().into());
            row.satisfaction = Some(satisfaction_name(*satisfaction).into());
            row.closed_at = Some(at);
        }
        CaseEvent::ReportLinked { .. } => row.linked_reports += 1,
    }
    row.version = version;
    row.updated_at = at;
    sqlx::query(&format!(
        "INSERT INTO evaluation_cases ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (case_id) DO UPDATE SET version = excluded.version, state = excluded.state, level = excluded.level, \
         updated_at = excluded.updated_at, closed_at = excluded.closed_at, settled_level = excluded.settled_level, \
         satisfaction = excluded.satisfaction, escalations = excluded.escalations, reopen_count = excluded.reopen_count, \
         linked_reports = excluded.linked_reports"
    ))
    .bind(row.case_id)
    .bind(row.version)
    .bind(row.state)
    .bind(row.level)
    .bind(row.category_code)
    .bind(row.grid_code)
    .bind(row.description)
    .bind(row.opened_at)
    .bind(row.updated_at)
    .bind(row.closed_at)
    .bind(row.settled_level)
    .bind(row.satisfaction)
    .bind(row.escalations)
    .bind(row.reopen_count)
    .bind(row.linked_reports)
    .execute(&mut *conn)
    .await
    .map_err(transient)?;
    Ok(())
}

pub async fn list(
    pool: &AnyPool,
    state: Option<&str>,
    area: Option<&str>,
    limit: u32,
    offset: i64,
) -> Result<Vec<CaseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM evaluation_cases \
         WHERE ($1 = '' OR state = $1) AND grid_code LIKE $2 \
         ORDER BY opened_at DESC, case_id LIMIT $3 OFFSET $4"
    ))
    .bind(state.unwrap_or_default())
    .bind(format!("{}%", area.unwrap_or_default()))
    .bind(i64::from(limit))
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// Closed cases per settled level, within an area prefix and a closure window (micros).
pub async fn settled_counts(
    pool: &AnyPool,
    area: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Vec<(Level, u64)>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT settled_level, COUNT(*) FROM evaluation_cases \
         WHERE state = 'closed' AND grid_code LIKE $1 AND closed_at >= $2 AND closed_at < $3 \
         GROUP BY settled_level",
    )
    .bind(format!("{}%", area.unwrap_or_default()))
    .bind(from.unwrap_or(i64::MIN))
    .bind(to.unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(|(level, n)| Some((level.parse::<Level>().ok()?, u64::try_from(n).ok()?))).collect())
}
