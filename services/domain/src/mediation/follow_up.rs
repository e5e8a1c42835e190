//! 监督: an agreed or consulted matter is followed up every period until a follow-up finds it
//! settled; a follow-up that comes due unrecorded is a reminder, and the next one is set.

use super::decide::required;
use super::{MediationCommand, MediationError, MediationEvent, Session};
use crate::Timestamp;

/// Record a follow-up of a concluded session whose next follow-up is `pending`.
pub(super) fn record(
    command: &MediationCommand,
    session: &Session,
    pending: Option<Timestamp>,
    note: &str,
    settled: bool,
    now: Timestamp,
) -> Result<Vec<MediationEvent>, MediationError> {
    required("note", note)?;
    if pending.is_none() {
        return Err(MediationError::Refused {
            command: command.name(),
            stage: "concluded",
            reason: "no follow-up is pending: the matter failed or is settled".into(),
        });
    }
    let next_due = (!settled).then(|| now + session.kind.follow_up_every());
    Ok(vec![MediationEvent::FollowedUp { note: note.to_string(), next_due }])
}

/// The follow-up timer for `due` fired. A stale timer (the follow-up was made, or settled) or an
/// early one does nothing.
pub(super) fn timer_fired(
    session: &Session,
    pending: Option<Timestamp>,
    due: Timestamp,
    now: Timestamp,
) -> Vec<MediationEvent> {
    if pending != Some(due) || now < due {
        return vec![];
    }
    vec![MediationEvent::FollowUpOverdue { due, next_due: due + session.kind.follow_up_every() }]
}

#[cfg(test)]
mod tests {
    use crate::mediation::{Mediation, MediationCommand, MediationEvent, Referral};
    use crate::testing::mediation::*;
    use crate::{Duration, Timestamp};

    fn follow_up_of(events: &[MediationEvent]) -> (Option<Timestamp>, u32) {
        match state_of(events) {
            Mediation::Concluded { follow_up, follow_ups, .. } => (follow_up, follow_ups),
            other => panic!("not concluded: {other:?}"),
        }
    }

    #[test]
    fn given_an_executed_agreement_when_it_is_followed_up_then_the_next_is_due_in_half_a_month_until_settled() {
        let first_due = t0() + Duration::days(22);
        assert_eq!(follow_up_of(&executed()), (Some(first_due), 0));
        let mut events = executed();
        let later = t0() + Duration::days(20);
        let cmd = MediationCommand::FollowUp { note: "no noise after 22:00".into(), settled: false };
        events.extend(given(&events).at(later).when(cmd).then_accept());
        assert_eq!(follow_up_of(&events), (Some(later + Duration::days(15)), 1));
        let settle = MediationCommand::FollowUp { note: "settled".into(), settled: true };
        events.extend(given(&events).at(later).when(settle.clone()).then_accept());
        assert_eq!(follow_up_of(&events), (None, 2));
        given(&events).at(later).when(settle).then_forbidden_in("concluded", "no follow-up is pending");
    }

    #[test]
    fn given_a_pending_follow_up_when_its_timer_fires_then_it_is_overdue_and_the_next_is_set() {
        let due = t0() + Duration::days(22);
        let fired = given(&executed()).at(due).when(MediationCommand::FollowUpTimerFired { due }).then_accept();
        assert_eq!(fired, vec![MediationEvent::FollowUpOverdue { due, next_due: due + Duration::days(15) }]);
        let mut events = executed();
        events.extend(fired);
        assert_eq!(follow_up_of(&events), (Some(due + Duration::days(15)), 0));
        // The same timer again (stale), or one that fires early, does nothing.
        given(&events).at(due).when(MediationCommand::FollowUpTimerFired { due }).then_expect(&[]);
        let next = due + Duration::days(15);
        given(&events).at(due).when(MediationCommand::FollowUpTimerFired { due: next }).then_expect(&[]);
    }

    #[test]
    fn given_a_failed_or_open_session_when_followed_up_then_it_is_refused() {
        let cmd = MediationCommand::FollowUp { note: "n".into(), settled: false };
        given(&sitting()).when(cmd.clone()).then_forbidden_in("deliberating", "once the matter is concluded");
        let mut failed = sitting();
        let litigation = MediationCommand::RecordNoAgreement { referral: Referral::Litigation, summary: "x".into() };
        failed.extend(given(&failed).when(litigation).then_accept());
        assert_eq!(follow_up_of(&failed), (None, 0));
        given(&failed).when(cmd).then_forbidden_in("concluded", "no follow-up is pending");
        let empty = MediationCommand::FollowUp { note: " ".into(), settled: false };
        given(&executed()).at(t0() + Duration::days(8)).when(empty).then_invalid("note");
    }
}
