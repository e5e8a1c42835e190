//! 实施情况每月报告: per area and month, every matter decided by the month's end and still being
//! implemented when it began — its status at the month's end, its follow-ups recorded, due and
//! missed, and whether one is overdue. The sessions of the area come from the sessions table,
//! each matter's figures from its own stream.

use crate::grpc::status;
use crate::sessions;
use crate::MediationSvc;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::mediation::{evolve, implementation, month_in_beijing, MatterStatus, Mediation};
use gridloop_domain::Timestamp;
use gridloop_kit::grpc::store_status;
use gridloop_proto::convert;
use gridloop_proto::status::invalid_argument;
use gridloop_proto::v1 as pb;
use tonic::Status;

/// `YYYY-MM` as the month's bounds, or a clear refusal.
fn month_bounds(month: &str) -> Result<(Timestamp, Timestamp), Status> {
    month_in_beijing(month).ok_or_else(|| invalid_argument("month", format!("{month:?} is not a month (YYYY-MM)")))
}

impl MediationSvc {
    pub(crate) async fn implementation_report(
        &self,
        area: &AreaCode,
        month: &str,
    ) -> Result<pb::ImplementationReport, Status> {
        let (from, to) = month_bounds(month)?;
        let as_of = to.min(self.clock.now());
        let mut report =
            pb::ImplementationReport { area_code: area.to_string(), month: month.to_string(), ..Default::default() };
        for (id, session_area) in sessions::in_area(self.store(), area).await.map_err(store_status)? {
            let loaded = self.sessions.load(id).await.map_err(|e| status(id, e))?;
            let timed: Vec<_> = loaded.history.iter().map(|(record, event)| (record.occurred_at, event)).collect();
            let implemented = implementation(&timed, (from, to), as_of);
            if !implemented.in_period(from, to) {
                continue;
            }
            // Where the matter stood at the report's time, folded from its events until then.
            let mut state = Mediation::New;
            for (_, event) in timed.iter().filter(|(at, _)| *at <= as_of) {
                state = evolve(state, event).map_err(|e| Status::internal(e.to_string()))?;
            }
            let status = MatterStatus::of(&state);
            let decided_this_month = implemented.decided_at.is_some_and(|at| (from..to).contains(&at));
            report.decided += u32::from(decided_this_month);
            report.implementing += u32::from(status == MatterStatus::Implementing);
            report.settled += u32::from(status == MatterStatus::Settled);
            report.follow_ups_recorded += implemented.follow_ups_recorded;
            report.follow_ups_due += implemented.follow_ups_due;
            report.follow_ups_missed += implemented.follow_ups_missed;
            report.overdue += u32::from(implemented.overdue);
            report.matters.push(pb::ImplementationLine {
                mediation_id: id.to_string(),
                area_code: session_area,
                topic: state.session().map(|s| s.topic.clone()).unwrap_or_default(),
                decided_at: implemented.decided_at.map(convert::timestamp),
                decided_this_month,
                status: status.as_str().to_string(),
                follow_ups_recorded: implemented.follow_ups_recorded,
                follow_ups_due: implemented.follow_ups_due,
                follow_ups_missed: implemented.follow_ups_missed,
                overdue: implemented.overdue,
                next_follow_up_due: implemented.next_follow_up.map(convert::timestamp),
            });
        }
        Ok(report)
    }
}
