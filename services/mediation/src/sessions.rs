//! The sessions table (`mediation_sessions`): which sessions a case had, and the figures per area
//! and period (held, mediated, succeeded, referred, time to agreement). Written in the
//! transaction of the events it follows, so it never misses or doubles one.

use async_trait::async_trait;
use gridloop_domain::ids::MediationId;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::mediation::{Mediation, MediationEvent, Outcome, Referral, Waiting};
use gridloop_eventstore::{EventStore, RecordedEvent, StoreError, StoreTx};
use gridloop_kit::ReadModel;
use gridloop_proto::v1 as pb;
use uuid::Uuid;

pub(crate) struct SessionsTable;

#[async_trait]
impl ReadModel<Mediation> for SessionsTable {
    async fn record(
        &self,
        tx: &mut StoreTx,
        id: MediationId,
        state: &Mediation,
        appended: &[(RecordedEvent, MediationEvent)],
    ) -> Result<(), StoreError> {
        for (record, event) in appended {
            let query = match event {
                // Where and at which level the session sits, and for which case.
                MediationEvent::Opened { .. } => {
                    let session =
                        state.session().ok_or_else(|| StoreError::Corrupt(format!("{id} opened no session")))?;
                    sqlx::query(
                        "INSERT INTO mediation_sessions \
                         (mediation_id, case_id, opened_position, area_code, session_level, opened_at, topic) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(id.to_string())
                    .bind(session.origin.case_id().map(|c| c.to_string()).unwrap_or_default())
                    .bind(record.global_position)
                    .bind(record.routing_key.clone())
                    .bind(session.level.as_str())
                    .bind(record.occurred_at.timestamp_micros())
                    .bind(session.topic.clone())
                }
                MediationEvent::DeliberationOpened { .. } => {
                    sqlx::query("UPDATE mediation_sessions SET held = 1 WHERE mediation_id = $1").bind(id.to_string())
                }
                MediationEvent::Concluded { outcome, .. } => {
                    sqlx::query("UPDATE mediation_sessions SET concluded_at = $2, outcome = $3 WHERE mediation_id = $1")
                        .bind(id.to_string())
                        .bind(record.occurred_at.timestamp_micros())
                        .bind(outcome_name(outcome))
                }
                _ => continue,
            };
            query.execute(tx.conn().await?).await?;
        }
        if !appended.is_empty() {
            // What the session waits on follows from its state after the events, whichever they were.
            let waiting = state.waiting();
            sqlx::query("UPDATE mediation_sessions SET waiting_on = $2, waiting_until = $3 WHERE mediation_id = $1")
                .bind(id.to_string())
                .bind(waiting.map(Waiting::as_str))
                .bind(waiting.map(|w| w.until().timestamp_micros()))
                .execute(tx.conn().await?)
                .await?;
        }
        Ok(())
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Agreed => "agreed",
        Outcome::Consultation => "consultation",
        Outcome::Failed(Referral::BackToUnit) => "failed:back_to_unit",
        Outcome::Failed(Referral::EscalateOneLevel) => "failed:escalate_one_level",
        Outcome::Failed(Referral::Litigation) => "failed:litigation",
    }
}

/// The session opened last for `case_id`, if any.
pub(crate) async fn latest_for_case(store: &EventStore, case_id: &str) -> Result<Option<MediationId>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT mediation_id FROM mediation_sessions WHERE case_id = $1 ORDER BY opened_position DESC LIMIT 1",
    )
    .bind(case_id)
    .fetch_optional(store.pool())
    .await?;
    row.map(|(id,)| Uuid::parse_str(&id).map(MediationId).map_err(|e| StoreError::Corrupt(format!("session id: {e}"))))
        .transpose()
}

/// Every session in `area` (its sub-areas included), with the area it lies in, oldest first.
pub(crate) async fn in_area(store: &EventStore, area: &AreaCode) -> Result<Vec<(MediationId, String)>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT mediation_id, area_code FROM mediation_sessions WHERE area_code LIKE $1 ORDER BY opened_position",
    )
    .bind(format!("{}%", area.as_str()))
    .fetch_all(store.pool())
    .await?;
    rows.into_iter()
        .map(|(id, area)| {
            let id = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("session id: {e}")))?;
            Ok((MediationId(id), area))
        })
        .collect()
}

/// The newest sessions in `area` (every area when none; its sub-areas included), at most
/// `limit`, with the area each lies in: the open ones, or all of them with `concluded`.
pub(crate) async fn newest_in_area(
    store: &EventStore,
    area: Option<&AreaCode>,
    concluded: bool,
    limit: u32,
) -> Result<Vec<(MediationId, AreaCode)>, StoreError> {
    // Sessions recorded before the table kept their area have none, and are not listed.
    let open_only = if concluded { "" } else { "AND concluded_at IS NULL" };
    let query = format!(
        "SELECT mediation_id, area_code FROM mediation_sessions WHERE area_code LIKE $1 AND area_code <> '' \
         {open_only} ORDER BY opened_position DESC LIMIT $2"
    );
    let rows: Vec<(String, String)> = sqlx::query_as(&query)
        .bind(format!("{}%", area.map_or("", AreaCode::as_str)))
        .bind(i64::from(limit))
        .fetch_all(store.pool())
        .await?;
    rows.into_iter()
        .map(|(id, area)| {
            let id = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("session id: {e}")))?;
            let area = AreaCode::new(area).map_err(|e| StoreError::Corrupt(format!("session {id} area: {e}")))?;
            Ok((MediationId(id), area))
        })
        .collect()
}

#[derive(Debug, sqlx::FromRow)]
struct WaitingRow {
    mediation_id: String,
    case_id: String,
    area_code: String,
    topic: String,
    waiting_on: String,
    waiting_until: i64,
}

/// The sessions in `area` (every area when none) waiting on a notice period or a follow-up,
/// earliest date first: at most `limit` of them, and how many there are in all.
pub(crate) async fn waiting(
    store: &EventStore,
    area: Option<&AreaCode>,
    limit: u32,
) -> Result<(Vec<pb::WaitingMediation>, u64), StoreError> {
    let area = format!("{}%", area.map_or("", AreaCode::as_str));
    let rows: Vec<WaitingRow> = sqlx::query_as(
        "SELECT mediation_id, case_id, area_code, topic, waiting_on, waiting_until FROM mediation_sessions \
         WHERE waiting_on IS NOT NULL AND area_code LIKE $1 ORDER BY waiting_until, mediation_id LIMIT $2",
    )
    .bind(&area)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM mediation_sessions WHERE waiting_on IS NOT NULL AND area_code LIKE $1",
    )
    .bind(&area)
    .fetch_one(store.pool())
    .await?;
    let sessions = rows.into_iter().map(WaitingRow::entry).collect();
    Ok((sessions, u64::try_from(total).unwrap_or_default()))
}

impl WaitingRow {
    fn entry(self) -> pb::WaitingMediation {
        let waiting_on = match self.waiting_on.as_str() {
            "notice_period" => pb::WaitingOn::NoticePeriod,
            "follow_up" => pb::WaitingOn::FollowUp,
            _ => pb::WaitingOn::Unspecified,
        };
        pb::WaitingMediation {
            mediation_id: self.mediation_id,
            case_id: self.case_id,
            area_code: self.area_code,
            topic: self.topic,
            waiting_on: waiting_on as i32,
            until: gridloop_domain::DateTime::from_timestamp_micros(self.waiting_until)
                .map(gridloop_proto::convert::timestamp),
        }
    }
}

/// The figures of the sessions in `area` (every area when none) opened or concluded within
/// `[from, to)`, in µs.
pub(crate) async fn figures(
    store: &EventStore,
    area: Option<&AreaCode>,
    (from, to): (i64, i64),
) -> Result<pb::MediationFigures, StoreError> {
    let rows: Vec<(i64, i64, Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT opened_at, held, concluded_at, outcome FROM mediation_sessions WHERE area_code LIKE $1")
            .bind(format!("{}%", area.map_or("", AreaCode::as_str)))
            .fetch_all(store.pool())
            .await?;
    let mut figures = pb::MediationFigures::default();
    let mut days_to_agreement = Vec::new();
    for (opened_at, held, concluded_at, outcome) in rows {
        if held == 1 && (from..to).contains(&opened_at) {
            figures.sessions_held += 1;
        }
        let (Some(concluded_at), Some(outcome)) = (concluded_at, outcome) else { continue };
        if !(from..to).contains(&concluded_at) {
            continue;
        }
        match outcome.as_str() {
            "consultation" => figures.consultations += 1,
            "agreed" => {
                figures.succeeded += 1;
                days_to_agreement.push((concluded_at - opened_at) as f64 / 86_400_000_000.0);
            }
            "failed:litigation" => figures.referred_to_litigation += 1,
            "failed:escalate_one_level" => figures.escalated += 1,
            _ => {}
        }
        if outcome != "consultation" {
            figures.mediated += 1;
        }
    }
    figures.median_days_to_agreement = median(&mut days_to_agreement);
    Ok(figures)
}

/// The median of `values` (the mean of the middle two for an even count); 0 when empty.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&mut []), 0.0);
        assert_eq!(median(&mut [9.0, 1.0, 4.0]), 4.0);
        assert_eq!(median(&mut [9.0, 1.0, 4.0, 2.0]), 3.0);
    }
}
