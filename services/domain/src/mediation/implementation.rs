//! How a matter's implementation goes (实施情况), read from its session's history: when the
//! council decided it, where it stands, and its follow-ups (监督) in a period — recorded, due,
//! missed — for the monthly report (每月通报) and the matter's record (一事一档).

use super::{Mediation, MediationEvent, Outcome, Stage};
use crate::Timestamp;

/// Where a matter stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatterStatus {
    /// Not decided yet (or deliberated again after 复议).
    Deliberating,
    /// A motion carried; the parties are to sign it.
    Decided,
    InNotice,
    Contested,
    Suspended,
    /// Executed or consulted, with follow-ups pending.
    Implementing,
    /// A follow-up found it settled.
    Settled,
    /// No agreement: referred elsewhere.
    Failed,
}

impl MatterStatus {
    pub fn of(state: &Mediation) -> MatterStatus {
        match state {
            Mediation::New => MatterStatus::Deliberating,
            Mediation::Open { stage, .. } => match stage {
                Stage::Proposed | Stage::Notified | Stage::Deliberating { .. } => MatterStatus::Deliberating,
                Stage::Decided { .. } => MatterStatus::Decided,
                Stage::InNotice(_) => MatterStatus::InNotice,
                Stage::Contested(_) => MatterStatus::Contested,
                Stage::Suspended { .. } => MatterStatus::Suspended,
            },
            Mediation::Concluded { outcome: Outcome::Failed(_), .. } => MatterStatus::Failed,
            Mediation::Concluded { follow_up: Some(_), .. } => MatterStatus::Implementing,
            Mediation::Concluded { follow_up: None, .. } => MatterStatus::Settled,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MatterStatus::Deliberating => "deliberating",
            MatterStatus::Decided => "decided",
            MatterStatus::InNotice => "in_notice",
            MatterStatus::Contested => "contested",
            MatterStatus::Suspended => "suspended",
            MatterStatus::Implementing => "implementing",
            MatterStatus::Settled => "settled",
            MatterStatus::Failed => "failed",
        }
    }
}

/// A matter's implementation within a period `[from, to)`, as of `as_of` (the period's end, or
/// now while it lasts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Implementation {
    /// The last decision: a motion or ballot carried, a consultation recorded, an informal agreement.
    pub decided_at: Option<Timestamp>,
    /// When it left implementation: settled by a follow-up, or concluded without agreement.
    pub closed_at: Option<Timestamp>,
    pub follow_ups_recorded: u32,
    pub follow_ups_due: u32,
    pub follow_ups_missed: u32,
    /// The follow-up pending at `as_of`, and whether its day has passed.
    pub next_follow_up: Option<Timestamp>,
    pub overdue: bool,
}

impl Implementation {
    /// Whether the matter belongs in the period's report: decided by its end, and not closed
    /// before it began.
    pub fn in_period(&self, from: Timestamp, to: Timestamp) -> bool {
        self.decided_at.is_some_and(|at| at < to) && self.closed_at.is_none_or(|at| at >= from)
    }
}

/// `YYYY-MM` as the month's bounds `[from, to)` in Beijing time (UTC+8), where the councils sit.
pub fn month_in_beijing(month: &str) -> Option<(Timestamp, Timestamp)> {
    use chrono::{FixedOffset, Months, NaiveDate, TimeZone};
    if month.len() != 7 {
        return None;
    }
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let next = first.checked_add_months(Months::new(1))?;
    let beijing = FixedOffset::east_opt(8 * 3600)?;
    let midnight = |day: NaiveDate| beijing.from_local_datetime(&day.and_hms_opt(0, 0, 0)?).single();
    Some((midnight(first)?.to_utc(), midnight(next)?.to_utc()))
}

/// Read the implementation of a matter from its history (each event with when it happened).
pub fn implementation(
    history: &[(Timestamp, &MediationEvent)],
    (from, to): (Timestamp, Timestamp),
    as_of: Timestamp,
) -> Implementation {
    use MediationEvent as E;
    let in_period = |at: Timestamp| (from..to).contains(&at);
    let mut report = Implementation {
        decided_at: None,
        closed_at: None,
        follow_ups_recorded: 0,
        follow_ups_due: 0,
        follow_ups_missed: 0,
        next_follow_up: None,
        overdue: false,
    };
    for (at, event) in history.iter().filter(|(at, _)| *at <= as_of) {
        let next_due = match event {
            E::MotionVoted { carried: true, .. }
            | E::BallotClosed { carried: true, .. }
            | E::Concluded { outcome: Outcome::Consultation, .. } => {
                report.decided_at = Some(*at);
                continue;
            }
            // An informal agreement never sat to vote: concluding it is its decision.
            E::Concluded { outcome: Outcome::Agreed, .. } => {
                report.decided_at.get_or_insert(*at);
                continue;
            }
            // 复议: the decision no longer stands until the council decides again.
            E::Reconsidered { .. } => {
                report.decided_at = None;
                continue;
            }
            E::Concluded { outcome: Outcome::Failed(_), .. } => {
                report.closed_at = Some(*at);
                continue;
            }
            E::FollowUpScheduled { due } => Some(*due),
            E::FollowUpOverdue { due, next_due } => {
                report.follow_ups_missed += u32::from(in_period(*due));
                Some(*next_due)
            }
            E::FollowedUp { next_due, .. } => {
                report.follow_ups_recorded += u32::from(in_period(*at));
                if next_due.is_none() {
                    report.closed_at = Some(*at);
                }
                *next_due
            }
            _ => continue,
        };
        // A follow-up falls due in the period whether it was made early, on time or missed.
        let replaced = std::mem::replace(&mut report.next_follow_up, next_due);
        report.follow_ups_due += u32::from(replaced.is_some_and(in_period));
    }
    report.follow_ups_due += u32::from(report.next_follow_up.is_some_and(in_period));
    report.overdue = report.next_follow_up.is_some_and(|due| due < as_of);
    report
}

#[cfg(test)]
mod tests {
    use super::{implementation, month_in_beijing, Implementation, MatterStatus};
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_month_runs_from_midnight_in_beijing_to_the_next_months() {
        let (from, to) = month_in_beijing("2026-11").unwrap();
        assert_eq!(from, Utc.with_ymd_and_hms(2026, 10, 31, 16, 0, 0).unwrap());
        assert_eq!(to, Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, 0).unwrap());
        let (_, december_end) = month_in_beijing("2026-12").unwrap();
        assert_eq!(december_end, Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap());
        for bad in ["2026-13", "2026-1", "November", "", "2026-11-01"] {
            assert_eq!(month_in_beijing(bad), None, "{bad:?}");
        }
    }
    use crate::mediation::{MediationCommand, MediationEvent};
    use crate::testing::mediation::*;
    use crate::{Duration, Timestamp};

    /// `events` one a day from t0.
    fn daily(events: &[MediationEvent]) -> Vec<(Timestamp, &MediationEvent)> {
        events.iter().enumerate().map(|(day, e)| (t0() + Duration::days(day as i64), e)).collect()
    }

    fn month(start_day: i64) -> (Timestamp, Timestamp) {
        (t0() + Duration::days(start_day), t0() + Duration::days(start_day + 30))
    }

    #[test]
    fn given_an_executed_agreement_then_it_was_decided_by_its_vote_and_is_implementing() {
        let events = executed();
        assert_eq!(MatterStatus::of(&state_of(&events)), MatterStatus::Implementing);
        let history = daily(&events);
        let voted = history.iter().find(|(_, e)| matches!(e, MediationEvent::MotionVoted { .. })).unwrap().0;
        let (from, to) = month(0);
        let report = implementation(&history, (from, to), to);
        let scheduled = events.iter().find_map(|e| match e {
            MediationEvent::FollowUpScheduled { due } => Some(*due),
            _ => None,
        });
        assert_eq!(report.decided_at, Some(voted));
        assert_eq!(report.next_follow_up, scheduled);
        assert_eq!((report.follow_ups_due, report.follow_ups_recorded, report.overdue), (1, 0, true));
        assert!(report.in_period(from, to));
    }

    #[test]
    fn given_follow_ups_recorded_missed_and_settling_then_the_month_counts_each_and_the_matter_leaves_the_next_report()
    {
        let mut events = executed();
        let due = events.iter().find_map(|e| match e {
            MediationEvent::FollowUpScheduled { due } => Some(*due),
            _ => None,
        });
        let due = due.expect("an executed agreement is followed up");
        events.extend(given(&events).at(due).when(MediationCommand::FollowUpTimerFired { due }).then_accept());
        let cmd = MediationCommand::FollowUp { note: "settled".into(), settled: true };
        events.extend(given(&events).at(due + Duration::days(1)).when(cmd).then_accept());
        let mut history = daily(&events[..events.len() - 2]);
        history.push((due, &events[events.len() - 2]));
        history.push((due + Duration::days(1), &events[events.len() - 1]));
        let (from, to) = (due - Duration::days(1), due + Duration::days(29));
        let report = implementation(&history, (from, to), to);
        assert_eq!(
            (report.follow_ups_due, report.follow_ups_missed, report.follow_ups_recorded),
            (2, 1, 1),
            "the missed one, then the next, made early and settling: {report:?}"
        );
        assert_eq!((report.next_follow_up, report.overdue), (None, false));
        assert_eq!(MatterStatus::of(&state_of(&events)), MatterStatus::Settled);
        assert!(report.in_period(from, to));
        let next_month = implementation(&history, (to, to + Duration::days(30)), to + Duration::days(30));
        assert!(!next_month.in_period(to, to + Duration::days(30)), "settled before the month began");
    }

    #[test]
    fn given_a_sitting_session_then_it_is_undecided_and_in_no_report() {
        let events = sitting();
        let report = implementation(&daily(&events), month(0), t0() + Duration::days(30));
        let undecided = Implementation {
            decided_at: None,
            closed_at: None,
            follow_ups_recorded: 0,
            follow_ups_due: 0,
            follow_ups_missed: 0,
            next_follow_up: None,
            overdue: false,
        };
        assert_eq!(report, undecided);
        assert!(!report.in_period(t0(), t0() + Duration::days(30)));
        assert_eq!(MatterStatus::of(&state_of(&events)), MatterStatus::Deliberating);
        assert_eq!(MatterStatus::of(&state_of(&contested())).as_str(), "contested");
        let mut reconsidered = contested();
        reconsidered.push(MediationEvent::Reconsidered { reason: "复议".into() });
        let report = implementation(&daily(&reconsidered), month(0), t0() + Duration::days(30));
        assert_eq!(report.decided_at, None, "a reconsidered decision no longer stands");
    }

    #[test]
    fn given_events_after_the_report_time_then_they_are_not_counted() {
        let events = executed();
        let history = daily(&events);
        let before_the_vote = t0() + Duration::days(1);
        let report = implementation(&history, month(0), before_the_vote);
        assert_eq!(report.decided_at, None, "the vote came later");
    }
}
