//! What a session waits on, for the lists a command centre watches: an agreement published for
//! its notice period (公示) until it may be executed, or a concluded matter until its next
//! follow-up (监督). A contested or suspended agreement waits on the council, not on a date, and
//! a settled or failed matter on nothing.

use super::{Mediation, Stage};
use crate::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// 公示: executed once the notice period is over, at `until`.
    NoticePeriod { until: Timestamp },
    /// 监督: the next follow-up is due at `due` (in the past when it is overdue).
    FollowUp { due: Timestamp },
}

impl Waiting {
    /// The date waited for.
    pub fn until(self) -> Timestamp {
        match self {
            Waiting::NoticePeriod { until } => until,
            Waiting::FollowUp { due } => due,
        }
    }

    /// The name read models store.
    pub fn as_str(self) -> &'static str {
        match self {
            Waiting::NoticePeriod { .. } => "notice_period",
            Waiting::FollowUp { .. } => "follow_up",
        }
    }
}

impl Mediation {
    /// The date the session waits on, if it waits on one.
    pub fn waiting(&self) -> Option<Waiting> {
        match self {
            Mediation::Open { stage: Stage::InNotice(notice), .. } => {
                Some(Waiting::NoticePeriod { until: notice.until })
            }
            Mediation::Concluded { follow_up: Some(due), .. } => Some(Waiting::FollowUp { due: *due }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Waiting;
    use crate::mediation::{MediationCommand, MediationEvent};
    use crate::testing::mediation::*;
    use crate::Duration;

    #[test]
    fn a_published_agreement_waits_on_its_notice_period_and_a_contested_one_on_nothing() {
        assert_eq!(state_of(&decided()).waiting(), None, "not signed yet");
        let until = t0() + Duration::days(7);
        assert_eq!(state_of(&in_notice()).waiting(), Some(Waiting::NoticePeriod { until }));
        assert_eq!(state_of(&contested()).waiting(), None, "the council answers the objection first");
    }

    #[test]
    fn an_executed_agreement_waits_on_each_follow_up_until_one_finds_it_settled() {
        let mut events = executed();
        let first = t0() + Duration::days(22);
        assert_eq!(state_of(&events).waiting(), Some(Waiting::FollowUp { due: first }));
        let overdue = MediationEvent::FollowUpOverdue { due: first, next_due: first + Duration::days(15) };
        events.push(overdue);
        assert_eq!(state_of(&events).waiting().map(Waiting::until), Some(first + Duration::days(15)));
        let settled = MediationCommand::FollowUp { note: "quiet since".into(), settled: true };
        events.extend(given(&events).at(first + Duration::days(16)).when(settled).then_accept());
        assert_eq!(state_of(&events).waiting(), None, "settled");
    }
}
