//! Evaluation's gRPC API: a reporter's answer is a feedback command on the kit's command path;
//! the case list, the distribution, the KPIs and the drift alerts are queries of its read models.

use crate::case_list::{self, Cursor, ListFilter, Order};
use crate::counts::{self, CountFilter};
use crate::projection::{self, CaseRow};
use crate::watch::FiguresStream;
use crate::{drift, kpi, kpi_days, level_shares, settled, Evaluation};
use gridloop_domain::access::{Principal, QueryScope, Rpc};
use gridloop_domain::due_soon;
use gridloop_domain::feedback::{FeedbackCommand, FeedbackError};
use gridloop_domain::ids::CaseId;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::kpi::Report;
use gridloop_domain::personal::{contact_access, mask_free_text};
use gridloop_kit::grpc::{self, query_status};
use gridloop_kit::{Caller, CommandError, CATCH_UP_WAIT};
use gridloop_proto::convert;
use gridloop_proto::status::{failed_precondition, invalid_argument, optional_area, parse_uuid, Violations};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::evaluation_service_server::EvaluationService;
use tonic::{Request, Response, Status};

const MAX_COMMENT: usize = 2000;
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

/// A feedback round's refusal of an answer: its round is answered already (one never opened is
/// [`Evaluation::never_asked`]).
fn refused(error: FeedbackError) -> Status {
    match error {
        FeedbackError::NotAwaiting => failed_precondition("case", "NOT_AWAITING_EVALUATION", error.to_string()),
    }
}

/// A `[from, to)` window in µs from optional timestamps; `to` must come after `from`.
pub(crate) fn time_window(
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
) -> Result<(Option<i64>, Option<i64>), Status> {
    window_of(from, to, ("from", "to"))
}

/// [`time_window`] of the request fields named `fields`.
fn window_of(
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
    fields: (&str, &str),
) -> Result<(Option<i64>, Option<i64>), Status> {
    let bound = |t: Option<&prost_types::Timestamp>, field: &str| -> Result<Option<i64>, Status> {
        t.map(|t| {
            convert::from_timestamp(t)
                .map(|t| t.timestamp_micros())
                .ok_or_else(|| invalid_argument(field, "not a valid timestamp"))
        })
        .transpose()
    };
    let (from, to) = (bound(from, fields.0)?, bound(to, fields.1)?);
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            return Err(invalid_argument(fields.1, format!("must be after {}", fields.0)));
        }
    }
    Ok((from, to))
}

impl Evaluation {
    /// Wait until the projection has applied `case_id` up to `min_version`, a client's
    /// consistency token (0: don't).
    async fn caught_up(&self, case_id: CaseId, min_version: u64) -> Result<(), Status> {
        let pool = self.store().pool();
        self.progress
            .wait_for(&case_id, min_version, CATCH_UP_WAIT, || projection::version_of(pool, case_id))
            .await
            .map_err(|error| grpc::behind_status(error, query_status))
    }

    /// The optimistic check of a command: the case is still at the version the caller saw (0:
    /// no check). ABORTED when dispatch has moved it on, so that an answer about a resolution
    /// is not recorded against a case that was reopened or transferred since.
    async fn at_expected_version(&self, case_id: CaseId, expected: u64) -> Result<(), Status> {
        if expected == 0 {
            return Ok(());
        }
        match projection::version_of(self.store().pool(), case_id).await.map_err(query_status)? {
            0 => Err(Status::not_found(format!("case {case_id} not found"))),
            actual if actual == expected => Ok(()),
            actual => {
                Err(grpc::status(CommandError::<FeedbackError>::WrongVersion { expected, actual }, |reason, _| {
                    refused(reason)
                }))
            }
        }
    }

    /// An optional area filter of a query: empty, or the code of a unit of this jurisdiction
    /// (an unknown one is a mistake, not an empty answer).
    fn known_area(&self, area: &str) -> Result<Option<AreaCode>, Status> {
        let area = optional_area("area", area)?;
        match area {
            Some(code) if !self.policy.jurisdiction.contains_code(&code) => {
                Err(invalid_argument("area", format!("{code} is no unit of this jurisdiction (see GetJurisdiction)")))
            }
            known => Ok(known),
        }
    }

    /// A category filter of a query: none, or one of the catalog's.
    fn known_category(&self, category: Option<&str>) -> Result<(), Status> {
        match category {
            Some(category) if self.policy.catalog.get(category).is_none() => {
                Err(invalid_argument("category_code", format!("unknown category {category:?} (see GetCatalog)")))
            }
            _ => Ok(()),
        }
    }

    /// The cases a `ListCases` request shows, within the caller's scope.
    fn list_filter(&self, r: &pb::ListCasesRequest, scope: QueryScope) -> Result<ListFilter, Status> {
        let category = (!r.category_code.is_empty()).then(|| r.category_code.clone());
        self.known_category(category.as_deref())?;
        let level = match r.level() {
            pb::Level::Unspecified => None,
            other => Some(convert::from_level(other).ok_or_else(|| invalid_argument("level", "not a level"))?),
        };
        let (from, to) = window_of(r.opened_from.as_ref(), r.opened_to.as_ref(), ("opened_from", "opened_to"))?;
        let (area, reporter) = match scope {
            QueryScope::Everywhere => (None, None),
            QueryScope::Area(area) => (Some(area), None),
            QueryScope::ReportedBy(reporter) => (None, Some(reporter)),
        };
        Ok(ListFilter {
            cases: kpi::CaseFilter { area, category, level, from, to },
            state: convert::from_case_state(r.state()),
            reporter,
        })
    }

    /// The refusal of an answer for a case no round was ever opened for: NOT_FOUND when the
    /// projection does not know the case at all, else it is not resolved.
    async fn never_asked(&self, case_id: CaseId) -> Status {
        match projection::version_of(self.store().pool(), case_id).await {
            Ok(0) => Status::not_found(format!("case {case_id} not found")),
            Ok(_) => failed_precondition("case", "NOT_RESOLVED", format!("case {case_id} is not resolved")),
            Err(error) => query_status(error),
        }
    }
}

#[tonic::async_trait]
impl EvaluationService for Evaluation {
    async fn evaluate_case(
        &self,
        request: Request<pb::EvaluateCaseRequest>,
    ) -> Result<Response<pb::EvaluateCaseResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        let case_id = v.uuid("case_id", &r.case_id).map(CaseId);
        let satisfaction = convert::from_satisfaction(r.satisfaction());
        v.check(satisfaction.is_some(), "satisfaction", "required (satisfied, basically satisfied or unsatisfied)");
        v.check(r.comment.chars().count() <= MAX_COMMENT, "comment", &format!("at most {MAX_COMMENT} characters"));
        v.into_result()?;
        let (Some(case_id), Some(satisfaction)) = (case_id, satisfaction) else { unreachable!("checked above") };
        self.caught_up(case_id, r.min_version).await?;
        self.at_expected_version(case_id, r.expected_version).await?;

        let command = FeedbackCommand::Answer { satisfaction, comment: r.comment };
        let envelope = self.feedback.request(case_id, command, caller, None);
        match self.feedback.execute(envelope).await {
            Ok(_) => {}
            Err(CommandError::Refused { reason: FeedbackError::NotAwaiting, version: 0 }) => {
                return Err(self.never_asked(case_id).await)
            }
            Err(error) => return Err(grpc::status(error, |reason, _| refused(reason))),
        }
        Ok(Response::new(pb::EvaluateCaseResponse {
            case_id: case_id.to_string(),
            satisfaction: convert::satisfaction(satisfaction) as i32,
        }))
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let area = self.known_area(&request.get_ref().area)?;
        let scope = grpc::confine_reporter(&request, Rpc::ListCases, area.as_ref(), self.reporters.as_deref())?;
        let viewer = request.extensions().get::<Principal>().cloned();
        let r = request.into_inner();
        let consistency = match (r.min_case_id.as_str(), r.min_version) {
            ("", 0) => None,
            (case_id, version) => Some((CaseId(parse_uuid("min_case_id", case_id)?), version)),
        };
        if let Some((case_id, version)) = consistency {
            self.caught_up(case_id, version).await?;
        }
        let order = match r.order() {
            pb::CaseOrder::Unspecified | pb::CaseOrder::Newest => Order::Newest,
            pb::CaseOrder::Priority => Order::Priority,
        };
        // A token names where its page ended, in the order it was listed in.
        let after = match r.page_token.as_str() {
            "" => None,
            token => Some(
                Cursor::parse(token, order)
                    .ok_or_else(|| invalid_argument("page_token", "not a token from a previous page of this order"))?,
            ),
        };
        let limit = match r.page_size {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let filter = self.list_filter(&r, scope)?;
        let rows =
            case_list::list(self.store().pool(), &filter, order, limit, after.as_ref()).await.map_err(query_status)?;
        let next_page_token = match rows.last() {
            Some(last) if rows.len() as u32 == limit => Cursor::after(last, order).token(),
            _ => String::new(),
        };
        // Phone and ID-card numbers typed into a description are for those entitled to the contact.
        let shown = |row: &CaseRow| {
            let mut summary = row.summary();
            if !contact_access(viewer.as_ref(), &summary.grid_code).sees_free_text() {
                summary.description = mask_free_text(&summary.description);
            }
            summary
        };
        Ok(Response::new(pb::ListCasesResponse { cases: rows.iter().map(shown).collect(), next_page_token }))
    }

    async fn get_level_distribution(
        &self,
        request: Request<pb::GetLevelDistributionRequest>,
    ) -> Result<Response<pb::GetLevelDistributionResponse>, Status> {
        let area = self.known_area(&request.get_ref().area)?;
        let area = grpc::confine_area(&request, Rpc::GetLevelDistribution, area.as_ref())?;
        let r = request.into_inner();
        let (from, to) = time_window(r.from.as_ref(), r.to.as_ref())?;
        let counts = settled::counts(self.store().pool(), area.as_ref(), from, to).await.map_err(query_status)?;
        let per_level = counts.map(|(_, n)| n);
        Ok(Response::new(pb::GetLevelDistributionResponse {
            closed_total: per_level.iter().sum(),
            levels: level_shares(per_level),
        }))
    }

    async fn get_kpis(&self, request: Request<pb::GetKpisRequest>) -> Result<Response<pb::GetKpisResponse>, Status> {
        self.known_area(&request.get_ref().area)?;
        let mut filter = kpi::filter_from(request.get_ref())?;
        filter.area = grpc::confine_area(&request, Rpc::GetKpis, filter.area.as_ref())?;
        let r = request.into_inner();
        self.known_category(filter.category.as_deref())?;
        let period = kpi::period_of(r.period());
        let mut report = Report::new(period, self.policy.calendar.zone());
        kpi_days::report(self.store().pool(), &filter, &mut report).await.map_err(query_status)?;
        Ok(Response::new(kpi::response(period, &report, self.clock.now())))
    }

    async fn list_drift_alerts(
        &self,
        request: Request<pb::ListDriftAlertsRequest>,
    ) -> Result<Response<pb::ListDriftAlertsResponse>, Status> {
        let area = self.known_area(&request.get_ref().area)?;
        let area = grpc::confine_area(&request, Rpc::ListDriftAlerts, area.as_ref())?;
        let r = request.into_inner();
        let rows = drift::list(self.store().pool(), area.as_ref(), r.include_cleared).await.map_err(query_status)?;
        Ok(Response::new(pb::ListDriftAlertsResponse {
            alerts: rows.iter().map(drift::DriftRow::alert).collect(),
            tolerance: if self.drift.is_enabled() { self.drift.tolerance } else { 0.0 },
            window_days: u32::try_from(self.drift.window.num_days()).unwrap_or_default(),
        }))
    }

    type WatchFiguresStream = FiguresStream;

    async fn watch_figures(
        &self,
        request: Request<pb::WatchFiguresRequest>,
    ) -> Result<Response<Self::WatchFiguresStream>, Status> {
        let area = self.known_area(&request.get_ref().area)?;
        let area = grpc::confine_area(&request, Rpc::WatchFigures, area.as_ref())?;
        Ok(Response::new(self.watches.stream(area)))
    }

    async fn count_cases(
        &self,
        request: Request<pb::CountCasesRequest>,
    ) -> Result<Response<pb::CountCasesResponse>, Status> {
        let area = self.known_area(&request.get_ref().area)?;
        let area = grpc::confine_area(&request, Rpc::CountCases, area.as_ref())?;
        let r = request.into_inner();
        let (closed_from, _) = time_window(r.closed_from.as_ref(), None)?;
        let (opened_from, _) = time_window(r.opened_from.as_ref(), None)?;
        let now = self.clock.now();
        let due_soon_before = match (r.due_within_seconds, r.due_within_working_seconds) {
            (wall, 0) => now + chrono::Duration::seconds(i64::from(wall)),
            (0, working) => due_soon::cutoff(&self.policy.calendar, now, chrono::Duration::seconds(i64::from(working))),
            _ => {
                return Err(invalid_argument(
                    "due_within_working_seconds",
                    "give either wall-clock or working seconds, not both",
                ))
            }
        };
        let filter = CountFilter {
            area: area.as_ref(),
            closed_from,
            now: now.timestamp_micros(),
            due_soon_before: due_soon_before.timestamp_micros(),
        };
        let pool = self.store().pool();
        let counts = counts::count(pool, &filter).await.map_err(query_status)?;
        let intake = match opened_from {
            Some(from) => counts::intake(pool, area.as_ref(), from).await.map_err(query_status)?,
            None => Vec::new(),
        };
        Ok(Response::new(pb::CountCasesResponse {
            counts,
            intake,
            due_soon_before: Some(convert::timestamp(due_soon_before)),
        }))
    }
}
