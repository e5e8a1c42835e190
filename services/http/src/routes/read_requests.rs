//! `GET requests/{id}` and `GET requests`: cases as the public may see them — state, stage,
//! unit, deadlines and place — read from dispatch and evaluation with the server's own
//! read-only token. Never the reporter: the case view carries no contact, and the history's
//! payloads (which do) are read for event types and times only.

use super::AppState;
use crate::error::{ApiError, Caller};
use crate::format::Format;
use crate::open311::ServiceRequest;
use crate::reference::Reference;
use crate::words;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use futures::{StreamExt, TryStreamExt};
use gridloop_domain::clock::{self, Tz};
use gridloop_proto::convert::from_timestamp;
use gridloop_proto::v1 as pb;
use serde::Deserialize;

/// GeoReport's window: at most 90 days, and by default the last 90 days.
pub(crate) const MAX_WINDOW_DAYS: i64 = 90;
/// A page of requests, by default and at most. Each request shown is one case read made with
/// the server's service principal, whose gRPC limit (a front end's: by default 2,000 per
/// second, bursts of 4,000) all public readers share, each held to its own share here.
const DEFAULT_PAGE_SIZE: usize = 100;
pub(crate) const MAX_PAGE_SIZE: usize = 200;
/// Cases read from the list per call while filtering.
pub(crate) const SCAN_PAGE: u32 = 500;
/// Case views read at once to fill a page.
pub(crate) const CONCURRENT_READS: usize = 8;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// A district code; required only when the server holds more than one district.
    pub jurisdiction_id: Option<String>,
    /// Comma-separated request ids; when given, the other filters are ignored.
    pub service_request_id: Option<String>,
    /// Comma-separated service codes.
    pub service_code: Option<String>,
    /// Requested at or after (W3C datetime, or a date). Default: 90 days before end_date.
    pub start_date: Option<String>,
    /// Requested before (W3C datetime, or a date: that whole day). Default: now.
    pub end_date: Option<String>,
    /// `open`, `closed`, or both comma-separated.
    pub status: Option<String>,
    /// The page, from 1 (the widely used extension).
    pub page: Option<usize>,
    /// Requests per page, at most 200 (default 100).
    pub page_size: Option<usize>,
}

/// One request.
#[utoipa::path(
    get, path = "/open311/v2/requests/{service_request_id}.{format}", tag = "open311", operation_id = "get_service_request",
    params(
        ("service_request_id" = String, Path, description = "the case id"),
        ("format" = String, Path, description = "json or xml"),
        ("jurisdiction_id" = Option<String>, Query, description = "a district code"),
    ),
    responses(
        (status = 200, description = "the request, as a list of one", body = [ServiceRequest]),
        (status = 404, description = "no such request", body = [crate::open311::SpecError]),
    )
)]
pub async fn one(
    format: Format,
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<RequestsQuery>,
) -> Response {
    let result = async {
        let id = Format::split(&file).map_or(file.as_str(), |(id, _)| id);
        let reference = state.reference.get(&state.backend).await?;
        reference.check_jurisdiction(query.jurisdiction_id.as_deref())?;
        let request =
            read(&state, reference, id).await?.ok_or_else(|| ApiError::NotFound(format!("no request {id:?}")))?;
        Ok(format.list("service_requests", "request", &[request]))
    };
    format.respond(result.await)
}

/// Requests by id, or by service, time window and status.
#[utoipa::path(
    get, path = "/open311/v2/requests.{format}", tag = "open311", operation_id = "get_service_requests",
    params(("format" = String, Path, description = "json or xml"), RequestsQuery),
    responses(
        (status = 200, description = "the requests, newest first", body = [ServiceRequest]),
        (status = 400, description = "a bad filter", body = [crate::open311::SpecError]),
    )
)]
pub async fn list(format: Format, State(state): State<AppState>, Query(query): Query<RequestsQuery>) -> Response {
    let result = async {
        let reference = state.reference.get(&state.backend).await?;
        reference.check_jurisdiction(query.jurisdiction_id.as_deref())?;
        let ids = match comma_list(&query.service_request_id) {
            Some(ids) if ids.len() > MAX_PAGE_SIZE => {
                return Err(ApiError::BadRequest(format!("at most {MAX_PAGE_SIZE} service_request_ids at once")))
            }
            Some(ids) => ids,
            None => matching_ids(&state, &Filter::from_query(&query, state.zone)?).await?,
        };
        let state = &state;
        let requests: Vec<ServiceRequest> = futures::stream::iter(ids)
            .map(|id| async move { read(state, reference, &id).await })
            .buffered(CONCURRENT_READS)
            .try_filter_map(|found| async move { Ok(found) })
            .try_collect()
            .await?;
        Ok(format.list("service_requests", "request", &requests))
    };
    format.respond(result.await)
}

/// The list's filters, checked.
struct Filter {
    service_codes: Option<Vec<String>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    open: bool,
    closed: bool,
    skip: usize,
    take: usize,
}

impl Filter {
    fn from_query(query: &RequestsQuery, zone: Tz) -> Result<Filter, ApiError> {
        let to = query
            .end_date
            .as_deref()
            .map(|text| parse_date("end_date", text, true, zone))
            .transpose()?
            .unwrap_or_else(Utc::now);
        let window = chrono::Duration::days(MAX_WINDOW_DAYS);
        let from = query
            .start_date
            .as_deref()
            .map(|text| parse_date("start_date", text, false, zone))
            .transpose()?
            .unwrap_or(to - window);
        if from > to {
            return Err(ApiError::BadRequest("start_date is after end_date".into()));
        }
        if to - from > window {
            return Err(ApiError::BadRequest(format!(
                "start_date and end_date may be at most {MAX_WINDOW_DAYS} days apart"
            )));
        }
        let (mut open, mut closed) = (true, true);
        if let Some(statuses) = comma_list(&query.status) {
            open = statuses.iter().any(|s| s == "open");
            closed = statuses.iter().any(|s| s == "closed");
            if let Some(other) = statuses.iter().find(|s| *s != "open" && *s != "closed") {
                return Err(ApiError::BadRequest(format!("status is open, closed or both, not {other:?}")));
            }
        }
        let take = query.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if take == 0 || take > MAX_PAGE_SIZE {
            return Err(ApiError::BadRequest(format!("page_size is between 1 and {MAX_PAGE_SIZE}")));
        }
        let page = query.page.unwrap_or(1);
        if page == 0 {
            return Err(ApiError::BadRequest("page counts from 1".into()));
        }
        let skip = (page - 1)
            .checked_mul(take)
            .ok_or_else(|| ApiError::BadRequest(format!("page {page} is past any list of requests")))?;
        Ok(Filter { service_codes: comma_list(&query.service_code), from, to, open, closed, skip, take })
    }

    fn admits(&self, case: &pb::CaseSummary, opened: DateTime<Utc>) -> bool {
        let open = words::status(case.state()) == "open";
        (if open { self.open } else { self.closed })
            && opened < self.to
            && self.service_codes.as_ref().is_none_or(|codes| codes.contains(&case.category_code))
    }
}

/// The ids of the page of cases the filter admits, newest first: the list is read newest first
/// until it is older than the window.
async fn matching_ids(state: &AppState, filter: &Filter) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    let mut page_token = String::new();
    let wanted = filter.skip + filter.take;
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
            let Some(opened) = case.opened_at.as_ref().and_then(from_timestamp) else { continue };
            if opened < filter.from {
                return Ok(ids.into_iter().skip(filter.skip).collect());
            }
            if filter.admits(case, opened) {
                ids.push(case.case_id.clone());
                if ids.len() == wanted {
                    return Ok(ids.into_iter().skip(filter.skip).collect());
                }
            }
        }
        if page.next_page_token.is_empty() {
            return Ok(ids.into_iter().skip(filter.skip).collect());
        }
        page_token = page.next_page_token;
    }
}

/// The public view of case `id`; `None` when there is no such case.
async fn read(state: &AppState, reference: &Reference, id: &str) -> Result<Option<ServiceRequest>, ApiError> {
    let request = state
        .backend
        .as_service(pb::GetCaseRequest { case_id: id.to_string(), ..Default::default() })
        .map_err(ApiError::internal)?;
    let found = match state.backend.dispatch().get_case(request).await {
        Ok(found) => found.into_inner(),
        Err(status) if status.code() == tonic::Code::NotFound => return Ok(None),
        // A malformed id names no case either.
        Err(status) if status.code() == tonic::Code::InvalidArgument => return Ok(None),
        Err(status) => return Err(ApiError::from_status(&status, Caller::Service)),
    };
    let Some(view) = found.case else { return Ok(None) };
    Ok(Some(public_view(&view, &found.history, reference)))
}

/// What GeoReport shows of a case.
pub fn public_view(view: &pb::CaseView, history: &[pb::HistoryEntry], reference: &Reference) -> ServiceRequest {
    let times: Vec<DateTime<Utc>> = history
        .iter()
        .filter_map(|entry| entry.envelope.as_ref()?.occurred_at.as_ref().and_then(from_timestamp))
        .collect();
    let category = reference.category(&view.category_code);
    let status = words::status(view.state());
    let (lat, long) = view.location.as_ref().map_or((0.0, 0.0), |p| (p.lat, p.lon));
    ServiceRequest {
        service_request_id: view.case_id.clone(),
        status: status.into(),
        status_notes: words::status_notes(view, history, reference),
        service_name: category.map_or_else(|| view.category_code.clone(), |c| c.name.clone()),
        service_code: view.category_code.clone(),
        description: view.description.clone(),
        agency_responsible: words::agency(view, reference),
        service_notice: category.map(|c| words::service_notice(c, view.level())).unwrap_or_default(),
        requested_datetime: times.iter().min().map(w3c).unwrap_or_default(),
        updated_datetime: times.iter().max().map(w3c).unwrap_or_default(),
        expected_datetime: (status == "open")
            .then(|| view.deadline.as_ref().and_then(from_timestamp).map(|t| w3c(&t)))
            .flatten(),
        address: reference.address(&view.grid_code),
        address_id: view.grid_code.clone(),
        lat,
        long,
        media_url: Some(view.media_url.clone()).filter(|url| !url.is_empty()),
    }
}

pub(crate) fn w3c(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A W3C datetime, or a date: the start of that local day in the city's `zone` (for an end, the
/// whole day included).
pub(crate) fn parse_date(field: &str, text: &str, end: bool, zone: Tz) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(time.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::BadRequest(format!(
            "{field} must be a W3C datetime (2026-12-05T08:00:00+08:00) or a date, not {text:?}"
        ))
    })?;
    let day = if end { date.succ_opt().unwrap_or(date) } else { date };
    clock::start_of_day(day, zone)
        .ok_or_else(|| ApiError::BadRequest(format!("{field} {text:?} has no local midnight")))
}

/// `a, b,,c` → `[a, b, c]`; absent or empty → `None`.
fn comma_list(text: &Option<String>) -> Option<Vec<String>> {
    let items: Vec<String> =
        text.as_deref()?.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    (!items.is_empty()).then_some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_at_most_ninety_days_and_dates_cover_whole_days() {
        let query = RequestsQuery {
            start_date: Some("2026-01-01".into()),
            end_date: Some("2026-06-01".into()),
            ..RequestsQuery::default()
        };
        assert!(
            matches!(Filter::from_query(&query, clock::DEFAULT_ZONE), Err(ApiError::BadRequest(text)) if text.contains("90 days"))
        );
        let query =
            RequestsQuery { start_date: Some("2026-03-01".into()), end_date: Some("2026-03-01".into()), ..query };
        let filter = Filter::from_query(&query, clock::DEFAULT_ZONE).unwrap();
        assert_eq!((filter.to - filter.from).num_hours(), 24);
        assert_eq!(filter.from.to_rfc3339(), "2026-02-28T16:00:00+00:00", "a date is the city's local day");
        let new_york: Tz = "America/New_York".parse().unwrap();
        let spring =
            RequestsQuery { start_date: Some("2026-03-08".into()), end_date: Some("2026-03-08".into()), ..query };
        let filter = Filter::from_query(&spring, new_york).unwrap();
        assert_eq!((filter.to - filter.from).num_hours(), 23, "the day the clocks go forward");
        let bad = RequestsQuery { status: Some("open,pending".into()), ..RequestsQuery::default() };
        assert!(
            matches!(Filter::from_query(&bad, clock::DEFAULT_ZONE), Err(ApiError::BadRequest(text)) if text.contains("pending"))
        );
    }

    #[test]
    fn pages_skip_whole_pages() {
        let query = RequestsQuery { page: Some(3), page_size: Some(20), ..RequestsQuery::default() };
        let filter = Filter::from_query(&query, clock::DEFAULT_ZONE).unwrap();
        assert_eq!((filter.skip, filter.take), (40, 20));
        assert_eq!(Filter::from_query(&RequestsQuery::default(), clock::DEFAULT_ZONE).unwrap().take, DEFAULT_PAGE_SIZE);
        let too_many = RequestsQuery { page_size: Some(MAX_PAGE_SIZE + 1), ..RequestsQuery::default() };
        assert!(
            matches!(Filter::from_query(&too_many, clock::DEFAULT_ZONE), Err(ApiError::BadRequest(text)) if text.contains("200"))
        );
        let past_the_end = RequestsQuery { page: Some(usize::MAX), page_size: Some(200), ..RequestsQuery::default() };
        assert!(
            matches!(Filter::from_query(&past_the_end, clock::DEFAULT_ZONE), Err(ApiError::BadRequest(text)) if text.contains("past"))
        );
        assert_eq!(comma_list(&Some(" a, b,,c ".into())), Some(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(comma_list(&Some(" , ".into())), None);
    }
}
