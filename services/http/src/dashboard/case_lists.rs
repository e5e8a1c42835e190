//! The lists the page shows: overdue and about-to-be-overdue cases, cases in mediation and the
//! sessions waiting on a notice period or a follow-up, and one case with its timeline —
//! ListCases, CountCases, ListWaitingMediations and GetCase under the caller's token.

use super::figures::{ViewQuery, DUE_SOON_WORKING_SECONDS};
use super::wire::{self, case_summary};
use super::{DashError, Session};
use axum::extract::{Path, Query};
use axum::Json;
use chrono::{DateTime, Utc};
use gridloop_proto::convert;
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

/// The most cases a list shows, and the most open cases read to find them.
const SHOWN: usize = 30;
const PAGE: u32 = 500;
const SCANNED: usize = 5000;

fn grpc_failed(status: tonic::Status) -> DashError {
    DashError::from_status(&status)
}

/// Up to `SCANNED` cases in `state` within `area`, highest priority first.
async fn cases_in(session: &Session, area: &str, state: pb::CaseState) -> Result<Vec<pb::CaseSummary>, DashError> {
    let mut cases = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListCasesRequest {
            state: state as i32,
            area: area.to_string(),
            page_size: PAGE,
            page_token,
            order: pb::CaseOrder::Priority as i32,
            ..Default::default()
        };
        let page =
            session.backend.evaluation().list_cases(session.request(request)?).await.map_err(grpc_failed)?.into_inner();
        cases.extend(page.cases);
        if page.next_page_token.is_empty() || cases.len() >= SCANNED {
            return Ok(cases);
        }
        page_token = page.next_page_token;
    }
}

/// The instant before which an open deadline is about to be overdue, as the service counts it
/// (two working hours on the city's calendar, which only the service knows).
async fn due_soon_before(session: &Session, area: &str) -> Result<Option<DateTime<Utc>>, DashError> {
    let request = pb::CountCasesRequest {
        area: area.to_string(),
        closed_from: Some(convert::timestamp(Utc::now())),
        due_within_working_seconds: DUE_SOON_WORKING_SECONDS,
        ..Default::default()
    };
    let counts =
        session.backend.evaluation().count_cases(session.request(request)?).await.map_err(grpc_failed)?.into_inner();
    Ok(counts.due_soon_before.as_ref().and_then(convert::from_timestamp))
}

/// Cases waiting to be accepted or resolved past their deadline, and those with less than two
/// working hours left, earliest deadline first.
pub async fn deadlines(session: Session, Query(query): Query<ViewQuery>) -> Result<Json<Value>, DashError> {
    let soon = due_soon_before(&session, &query.area).await?;
    let mut open = cases_in(&session, &query.area, pb::CaseState::Dispatched).await?;
    open.extend(cases_in(&session, &query.area, pb::CaseState::Accepted).await?);
    let due = |case: &pb::CaseSummary| case.due_at.as_ref().and_then(convert::from_timestamp);
    open.retain(|case| due(case).is_some());
    open.sort_by_key(|case| due(case));
    let now = Utc::now();
    let soon = soon.unwrap_or(now);
    let overdue: Vec<Value> =
        open.iter().filter(|c| due(c).is_some_and(|d| d < now)).take(SHOWN).map(case_summary).collect();
    let due_soon: Vec<Value> =
        open.iter().filter(|c| due(c).is_some_and(|d| d >= now && d < soon)).take(SHOWN).map(case_summary).collect();
    Ok(Json(json!({ "overdue": overdue, "due_soon": due_soon, "due_soon_before": soon.to_rfc3339() })))
}

/// Cases in mediation, highest priority first, and the sessions waiting on a notice period
/// (公示) or a follow-up (监督), earliest date first.
pub async fn mediations(session: Session, Query(query): Query<ViewQuery>) -> Result<Json<Value>, DashError> {
    let cases = cases_in(&session, &query.area, pb::CaseState::InMediation).await?;
    let request = pb::ListWaitingMediationsRequest { area: query.area.clone(), limit: SHOWN as u32 };
    let waiting = session
        .backend
        .mediation()
        .list_waiting_mediations(session.request(request)?)
        .await
        .map_err(grpc_failed)?
        .into_inner();
    Ok(Json(json!({
        "total": cases.len(),
        "cases": cases.iter().take(SHOWN).map(case_summary).collect::<Vec<_>>(),
        "waiting_total": waiting.total,
        "waiting": waiting.sessions.iter().map(wire::waiting_session).collect::<Vec<_>>(),
    })))
}

/// One case where it is on the ladder, and its timeline (the event history).
pub async fn case(session: Session, Path(case_id): Path<String>) -> Result<Json<Value>, DashError> {
    let request = session.request(pb::GetCaseRequest { case_id, min_version: 0 })?;
    let response = session.backend.dispatch().get_case(request).await.map_err(grpc_failed)?.into_inner();
    let case = response.case.ok_or(DashError::Internal)?;
    let history: Vec<Value> = response
        .history
        .iter()
        .filter_map(|entry| entry.envelope.as_ref().map(|envelope| (envelope, &entry.payload_json)))
        .map(|(envelope, payload)| {
            json!({
                "type": envelope.event_type,
                "at": wire::time(envelope.occurred_at.as_ref()),
                "source": envelope.source,
                "payload": serde_json::from_str::<Value>(payload).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(Json(json!({
        "case_id": case.case_id,
        "state": wire::state_name(case.state),
        "level": wire::level_name(case.level),
        "unit": case.unit_code,
        "department": case.department_name,
        "category": case.category_code,
        "grid": case.grid_code,
        "description": case.description,
        "deadline": wire::time(case.deadline.as_ref()),
        "settled_level": wire::level_name(case.settled_level),
        "priority": case.priority,
        "priority_reasons": case.priority_reasons,
        "reopen_count": case.reopen_count,
        "history": history,
    })))
}
