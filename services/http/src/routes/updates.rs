//! `GET servicerequestupdates` (FixMyStreet's extension to GeoReport): since a time, how
//! requests moved — each change of stage is one update, named by its event id. Read, like the
//! requests, with the server's read-only token; only event types and times are read from the
//! history, never its payloads (which name the reporter).

use super::read_requests::{parse_date, w3c, CONCURRENT_READS, MAX_PAGE_SIZE, MAX_WINDOW_DAYS, SCAN_PAGE};
use super::AppState;
use crate::error::{ApiError, Caller};
use crate::format::Format;
use crate::open311::RequestUpdate;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use gridloop_domain::clock::Tz;
use gridloop_proto::convert::{from_timestamp, short_type};
use gridloop_proto::v1 as pb;
use serde::Deserialize;

/// Cases opened this long before `start_date` are not searched for updates: a case still
/// moving after a year is rare enough that the scan need not read the whole archive.
const OLDEST_CASE_DAYS: i64 = 365;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UpdatesQuery {
    /// A district code; required only when the server holds more than one district.
    pub jurisdiction_id: Option<String>,
    /// Changes at or after (W3C datetime, or a date). Default: a day before end_date.
    pub start_date: Option<String>,
    /// Changes before (W3C datetime, or a date: that whole day). Default: now.
    pub end_date: Option<String>,
}

/// The changes of stage in a window, oldest first.
#[utoipa::path(
    get, path = "/open311/v2/servicerequestupdates.{format}", tag = "open311", operation_id = "get_service_request_updates",
    params(("format" = String, Path, description = "json or xml"), UpdatesQuery),
    responses(
        (status = 200, description = "the updates, oldest first", body = [RequestUpdate]),
        (status = 400, description = "a bad window", body = [crate::open311::SpecError]),
    )
)]
pub async fn list(format: Format, State(state): State<AppState>, Query(query): Query<UpdatesQuery>) -> Response {
    let result = async {
        let reference = state.reference.get(&state.backend).await?;
        reference.check_jurisdiction(query.jurisdiction_id.as_deref())?;
        let (from, to) = window(&query, state.zone)?;
        let ids = updated_cases(&state, from, to).await?;
        let state = &state;
        let mut updates: Vec<RequestUpdate> = futures::stream::iter(ids)
            .map(|id| async move { case_updates(state, &id, from, to).await })
            .buffered(CONCURRENT_READS)
            .try_concat()
            .await?;
        updates.sort_by(|a, b| a.updated_datetime.cmp(&b.updated_datetime).then(a.update_id.cmp(&b.update_id)));
        Ok(format.list("service_request_updates", "request_update", &updates))
    };
    format.respond(result.await)
}

/// `[start_date, end_date)`, at most 90 days.
fn window(query: &UpdatesQuery, zone: Tz) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let to = query
        .end_date
        .as_deref()
        .map(|text| parse_date("end_date", text, true, zone))
        .transpose()?
        .unwrap_or_else(Utc::now);
    let from = match query.start_date.as_deref() {
        Some(text) => parse_date("start_date", text, false, zone)?,
        None => to - chrono::Duration::days(1),
    };
    if from > to {
        return Err(ApiError::BadRequest("start_date is after end_date".into()));
    }
    if to - from > chrono::Duration::days(MAX_WINDOW_DAYS) {
        return Err(ApiError::BadRequest(format!(
            "start_date and end_date may be at most {MAX_WINDOW_DAYS} days apart"
        )));
    }
    Ok((from, to))
}

/// The cases last changed at or after `from` (a case changed in the window was last changed
/// then or later), newest opened first; at most a page of them.
async fn updated_cases(state: &AppState, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<String>, ApiError> {
    let oldest = from - chrono::Duration::days(OLDEST_CASE_DAYS);
    let mut ids = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListCasesRequest { page_size: SCAN_PAGE, page_token, ..pb::ListCasesRequest::default() };
        let page = state
            .backend
            .evaluation()
            .list_cases(state.backend.as_service(request).map_err(ApiError::internal)?)
            .await
            .map_err(|status| ApiError::from_status(&status, Caller::Service))?
            .into_inner();
        for case in &page.cases {
            let opened = case.opened_at.as_ref().and_then(from_timestamp);
            if opened.is_some_and(|opened| opened < oldest) {
                return Ok(ids);
            }
            let updated = case.updated_at.as_ref().and_then(from_timestamp).or(opened);
            if opened.is_some_and(|opened| opened < to) && updated.is_some_and(|updated| updated >= from) {
                ids.push(case.case_id.clone());
                if ids.len() == MAX_PAGE_SIZE {
                    return Ok(ids);
                }
            }
        }
        if page.next_page_token.is_empty() {
            return Ok(ids);
        }
        page_token = page.next_page_token;
    }
}

/// Case `id`'s changes of stage in `[from, to)`.
async fn case_updates(
    state: &AppState,
    id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<RequestUpdate>, ApiError> {
    let request = state
        .backend
        .as_service(pb::GetCaseRequest { case_id: id.to_string(), min_version: 0 })
        .map_err(ApiError::internal)?;
    let found = match state.backend.dispatch().get_case(request).await {
        Ok(found) => found.into_inner(),
        Err(status) if status.code() == tonic::Code::NotFound => return Ok(Vec::new()),
        Err(status) => return Err(ApiError::from_status(&status, Caller::Service)),
    };
    let media_url = found.case.as_ref().map(|view| view.media_url.clone()).filter(|url| !url.is_empty());
    Ok(stage_changes(id, &found.history, media_url.as_deref())
        .into_iter()
        .filter(|(at, _)| *at >= from && *at < to)
        .map(|(_, update)| update)
        .collect())
}

/// Each event of `history` that moves the case to another stage, as an update, with the time
/// it happened. The status is the GeoReport status the case had right after it.
pub fn stage_changes(
    id: &str,
    history: &[pb::HistoryEntry],
    media_url: Option<&str>,
) -> Vec<(DateTime<Utc>, RequestUpdate)> {
    history
        .iter()
        .filter_map(|entry| entry.envelope.as_ref())
        .filter_map(|envelope| {
            let (status, description) = stage(short_type(&envelope.event_type))?;
            let at = envelope.occurred_at.as_ref().and_then(from_timestamp)?;
            let update = RequestUpdate {
                update_id: envelope.event_id.clone(),
                service_request_id: id.to_string(),
                status: status.into(),
                description: description.into(),
                updated_datetime: w3c(&at),
                media_url: media_url.map(str::to_string),
            };
            Some((at, update))
        })
        .collect()
}

/// The GeoReport status after an event of this type, and the change in words; `None` for
/// events that leave the stage as it was.
fn stage(event_type: &str) -> Option<(&'static str, &'static str)> {
    Some(match event_type {
        "CaseOpened" => ("open", "received"),
        "CaseDispatched" => ("open", "dispatched to the responsible unit"),
        "CaseAccepted" => ("open", "accepted; being handled"),
        "CaseEscalated" => ("open", "escalated to the level above"),
        "CaseTransferred" => ("open", "transferred to another unit"),
        "CaseMediationRequested" => ("open", "in mediation"),
        "CaseMediationConcluded" => ("open", "mediation concluded"),
        "CaseResolved" => ("open", "resolved; awaiting the reporter's evaluation"),
        "CaseVerified" => ("open", "verified on site"),
        "CaseReopened" => ("open", "reopened"),
        "CaseRejected" => ("closed", "rejected"),
        "CaseClosed" => ("closed", "closed"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, event_type: &str, seconds: i64) -> pb::HistoryEntry {
        let envelope = pb::EventEnvelope {
            event_id: id.into(),
            event_type: format!("gridloop.v1.{event_type}"),
            occurred_at: Some(prost_types::Timestamp { seconds, nanos: 0 }),
            ..pb::EventEnvelope::default()
        };
        pb::HistoryEntry { envelope: Some(envelope), payload_json: r#"{"reporter":"secret"}"#.into() }
    }

    #[test]
    fn only_changes_of_stage_are_updates_and_closing_closes() {
        let history = [
            entry("e1", "CaseReported", 1_800_000_000),
            entry("e2", "CaseOpened", 1_800_000_001),
            entry("e3", "CasePriorityChanged", 1_800_000_002),
            entry("e4", "CaseDispatched", 1_800_000_003),
            entry("e5", "CaseClosed", 1_800_000_004),
        ];
        let updates = stage_changes("c1", &history, Some("https://example.org/a.jpg"));
        let ids: Vec<&str> = updates.iter().map(|(_, u)| u.update_id.as_str()).collect();
        assert_eq!(ids, ["e2", "e4", "e5"]);
        let statuses: Vec<&str> = updates.iter().map(|(_, u)| u.status.as_str()).collect();
        assert_eq!(statuses, ["open", "open", "closed"]);
        assert_eq!(updates[2].1.media_url.as_deref(), Some("https://example.org/a.jpg"));
        assert!(updates.iter().all(|(_, u)| !u.description.contains("secret")));
    }

    #[test]
    fn the_window_is_the_last_day_by_default_and_at_most_ninety_days() {
        let (from, to) = window(&UpdatesQuery::default(), gridloop_domain::clock::DEFAULT_ZONE).unwrap();
        assert_eq!((to - from).num_hours(), 24);
        let reversed = UpdatesQuery {
            start_date: Some("2026-03-02".into()),
            end_date: Some("2026-03-01T00:00:00Z".into()),
            ..UpdatesQuery::default()
        };
        assert!(
            matches!(window(&reversed, gridloop_domain::clock::DEFAULT_ZONE), Err(ApiError::BadRequest(text)) if text.contains("after"))
        );
        let long = UpdatesQuery {
            start_date: Some("2026-01-01".into()),
            end_date: Some("2026-06-01".into()),
            ..UpdatesQuery::default()
        };
        assert!(
            matches!(window(&long, gridloop_domain::clock::DEFAULT_ZONE), Err(ApiError::BadRequest(text)) if text.contains("90 days"))
        );
        let day = UpdatesQuery { start_date: Some("2026-03-01".into()), end_date: Some("2026-03-01".into()), ..long };
        let (from, to) = window(&day, gridloop_domain::clock::DEFAULT_ZONE).unwrap();
        assert_eq!((to - from).num_hours(), 24);
    }
}
