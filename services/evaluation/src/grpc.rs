//! Evaluation's gRPC API: a reporter's answer is a feedback command on the kit's command path;
//! the case list, the distribution, the KPIs and the drift alerts are queries of its read models.

use crate::projection::{self, CaseRow};
use crate::{drift, kpi, kpi_days, level_shares, Evaluation};
use gridloop_domain::feedback::{FeedbackCommand, FeedbackError};
use gridloop_domain::ids::CaseId;
use gridloop_domain::kpi::Report;
use gridloop_domain::level::Level;
use gridloop_kit::grpc::{self, query_status};
use gridloop_kit::Caller;
use gridloop_proto::convert;
use gridloop_proto::status::{failed_precondition, invalid_argument, optional_area, parse_uuid, Violations};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::evaluation_service_server::EvaluationService;
use tonic::{Request, Response, Status};

const MAX_COMMENT: usize = 2000;
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

/// A feedback round's refusal of an answer: the case was never resolved (no round was ever
/// opened), or its round is answered already.
fn refused(case_id: CaseId, error: FeedbackError, version: u64) -> Status {
    match error {
        FeedbackError::NotAwaiting if version == 0 => {
            failed_precondition("case", "NOT_RESOLVED", format!("case {case_id} is not resolved (or does not exist)"))
        }
        FeedbackError::NotAwaiting => failed_precondition("case", "NOT_AWAITING_EVALUATION", error.to_string()),
    }
}

/// A `[from, to)` window in µs from optional timestamps; `to` must come after `from`.
pub(crate) fn time_window(
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
) -> Result<(Option<i64>, Option<i64>), Status> {
    let bound = |t: Option<&prost_types::Timestamp>, field: &str| -> Result<Option<i64>, Status> {
        t.map(|t| {
            convert::from_timestamp(t)
                .map(|t| t.timestamp_micros())
                .ok_or_else(|| invalid_argument(field, "not a valid timestamp"))
        })
        .transpose()
    };
    let (from, to) = (bound(from, "from")?, bound(to, "to")?);
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            return Err(invalid_argument("to", "must be after from"));
        }
    }
    Ok((from, to))
}

#[tonic::async_trait]
impl EvaluationService for Evaluation {
    async fn evaluate_case(
        &self,
        request: Request<pb::EvaluateCaseRequest>,
    ) -> Result<Response<pb::EvaluateCaseResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::default();
        let case_id = parse_uuid("case_id", &r.case_id).map(CaseId);
        if let Err(status) = &case_id {
            v.add("case_id", status.message());
        }
        let satisfaction = convert::from_satisfaction(r.satisfaction());
        v.check(satisfaction.is_some(), "satisfaction", "required (satisfied, basically satisfied or unsatisfied)");
        v.check(r.comment.chars().count() <= MAX_COMMENT, "comment", &format!("at most {MAX_COMMENT} characters"));
        v.into_result()?;
        let (Ok(case_id), Some(satisfaction)) = (case_id, satisfaction) else { unreachable!("checked above") };

        let command = FeedbackCommand::Answer { satisfaction, comment: r.comment };
        let envelope = self.feedback.request(case_id, command, Caller::from_request(r.actor.as_ref()), None);
        self.feedback
            .execute(envelope)
            .await
            .map_err(|e| grpc::status(e, |reason, version| refused(case_id, reason, version)))?;
        Ok(Response::new(pb::EvaluateCaseResponse {
            case_id: case_id.to_string(),
            satisfaction: convert::satisfaction(satisfaction) as i32,
        }))
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let r = request.into_inner();
        let area = optional_area("area", &r.area)?;
        let offset: i64 = if r.page_token.is_empty() {
            0
        } else {
            r.page_token.parse().map_err(|_| invalid_argument("page_token", "not a token from a previous page"))?
        };
        let limit = match r.page_size {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let state = convert::from_case_state(r.state());
        let order = match r.order() {
            pb::CaseOrder::Unspecified | pb::CaseOrder::Newest => projection::Order::Newest,
            pb::CaseOrder::Priority => projection::Order::Priority,
        };
        let rows = projection::list(self.store().pool(), state, area.as_ref(), order, limit, offset)
            .await
            .map_err(query_status)?;
        let next_page_token =
            if rows.len() as u32 == limit { (offset + i64::from(limit)).to_string() } else { String::new() };
        Ok(Response::new(pb::ListCasesResponse { cases: rows.iter().map(CaseRow::summary).collect(), next_page_token }))
    }

    async fn get_level_distribution(
        &self,
        request: Request<pb::GetLevelDistributionRequest>,
    ) -> Result<Response<pb::GetLevelDistributionResponse>, Status> {
        let r = request.into_inner();
        let area = optional_area("area", &r.area)?;
        let (from, to) = time_window(r.from.as_ref(), r.to.as_ref())?;
        let counts =
            projection::settled_counts(self.store().pool(), area.as_ref(), from, to).await.map_err(query_status)?;
        let per_level = Level::ALL.map(|level| counts.iter().find(|(l, _)| *l == level).map_or(0, |(_, n)| *n));
        Ok(Response::new(pb::GetLevelDistributionResponse {
            closed_total: per_level.iter().sum(),
            levels: level_shares(per_level),
        }))
    }

    async fn get_kpis(&self, request: Request<pb::GetKpisRequest>) -> Result<Response<pb::GetKpisResponse>, Status> {
        let r = request.into_inner();
        let filter = kpi::filter_from(&r)?;
        let period = kpi::period_of(r.period());
        let offset = self.policy.calendar.offset();
        let mut report = Report::new(period, offset);
        kpi_days::report(self.store().pool(), &filter, &mut report).await.map_err(query_status)?;
        Ok(Response::new(kpi::response(period, offset, &report)))
    }

    async fn list_drift_alerts(
        &self,
        request: Request<pb::ListDriftAlertsRequest>,
    ) -> Result<Response<pb::ListDriftAlertsResponse>, Status> {
        let r = request.into_inner();
        let area = optional_area("area", &r.area)?;
        let rows = drift::list(self.store().pool(), area.as_ref(), r.include_cleared).await.map_err(query_status)?;
        Ok(Response::new(pb::ListDriftAlertsResponse {
            alerts: rows.iter().map(drift::DriftRow::alert).collect(),
            tolerance: if self.drift.is_enabled() { self.drift.tolerance } else { 0.0 },
            window_days: u32::try_from(self.drift.window.num_days()).unwrap_or_default(),
        }))
    }
}
