//! A deadline timer fired: a missed accept or resolve deadline escalates the case one level (at
//! the district, the top, the miss is recorded for supervision, 督办); a missed on-site check is
//! recorded and watched again. A timer for a deadline that is no longer running does nothing.

use super::decide::Decision;
use super::escalate::one_level_up;
use super::{CaseError, CaseEvent, CaseStatus, EscalationReason};
use crate::Timestamp;

pub(super) fn expired(at: &Decision, expired: Timestamp) -> Result<Vec<CaseEvent>, CaseError> {
    match &at.case.status {
        CaseStatus::Dispatched { at: held } | CaseStatus::Accepted { at: held, .. } => {
            if held.deadline != expired || at.now < held.deadline {
                return Ok(vec![]); // a stale timer (the case moved on) or an early one: nothing to do
            }
            if held.level.up().is_none() {
                let next_deadline = match at.case.status {
                    CaseStatus::Dispatched { .. } => at.accept_deadline(held.level),
                    _ => at.resolve_deadline(held.level),
                };
                return Ok(vec![CaseEvent::DeadlineMissed {
                    level: held.level,
                    deadline: held.deadline,
                    next_deadline,
                }]);
            }
            one_level_up(at, held, EscalationReason::DeadlineMissed, "deadline missed")
        }
        CaseStatus::AwaitingVerification { level, deadline, .. } => {
            if *deadline != expired || at.now < *deadline {
                return Ok(vec![]); // a stale or early timer
            }
            // 督办: recorded, and watched again; the check itself cannot be done by anyone else.
            // (Should the catalog have dropped the check meanwhile, the level's resolve SLA paces
            // the reminders: a deadline must always lie ahead, or its timer would fire at once.)
            let next_deadline =
                at.policy.verify_deadline(at.category, *level, at.now).unwrap_or_else(|| at.resolve_deadline(*level));
            Ok(vec![CaseEvent::VerificationOverdue { deadline: *deadline, next_deadline }])
        }
        _ => Ok(vec![]),
    }
}

#[cfg(test)]
mod tests {
    use crate::case::{Assignment, CaseEvent, CaseStatus, EscalationReason};
    use crate::level::Level;
    use crate::testing::case::*;
    use chrono::Duration;

    #[test]
    fn given_a_dispatched_case_when_its_accept_deadline_expires_then_it_is_escalated_for_a_missed_deadline() {
        let deadline = at(hours(2));
        let case =
            given(&a_dispatched_case()).at(deadline).when(expire(deadline)).then_expect(&[CaseEvent::Escalated {
                from: Level::Grid,
                to: Assignment {
                    level: Level::Community,
                    unit: COMMUNITY.into(),
                    deadline: deadline + Duration::hours(4),
                    department: department(Level::Community, COMMUNITY),
                },
                reason: EscalationReason::DeadlineMissed,
                note: "deadline missed".into(),
            }]);
        assert_eq!(case.status.level(), Some(Level::Community));
        assert_eq!(case.status.deadline(), Some(deadline + Duration::hours(4)));
    }

    #[test]
    fn given_an_accepted_case_when_the_timer_fires_late_then_it_is_escalated_with_a_deadline_from_now() {
        let deadline = at(hours(1)) + Duration::days(1);
        let now = deadline + Duration::minutes(7);
        given(&an_accepted_case()).at(now).when(expire(deadline)).then_expect(&[CaseEvent::Escalated {
            from: Level::Grid,
            to: Assignment {
                level: Level::Community,
                unit: COMMUNITY.into(),
                deadline: now + Duration::hours(4),
                department: department(Level::Community, COMMUNITY),
            },
            reason: EscalationReason::DeadlineMissed,
            note: "deadline missed".into(),
        }]);
    }

    #[test]
    fn given_an_accepted_case_when_a_stale_dispatch_timer_fires_then_nothing_happens() {
        // The accept deadline (t0+2h) was superseded by the resolve deadline when the grid accepted.
        given(&an_accepted_case()).at(at(hours(3))).when(expire(at(hours(2)))).then_nothing();
    }

    #[test]
    fn given_a_dispatched_case_when_a_timer_fires_for_another_deadline_then_nothing_happens() {
        given(&a_dispatched_case()).at(at(hours(5))).when(expire(at(hours(2)) + Duration::seconds(1))).then_nothing();
    }

    #[test]
    fn given_a_dispatched_case_when_the_timer_fires_before_the_deadline_then_nothing_happens() {
        let deadline = at(hours(2));
        given(&a_dispatched_case()).at(deadline - Duration::milliseconds(1)).when(expire(deadline)).then_nothing();
    }

    #[test]
    fn given_a_case_accepted_at_the_district_when_its_deadline_expires_then_the_miss_is_recorded_and_it_stays() {
        let deadline = at(hours(10)) + Duration::days(5);
        let now = deadline + Duration::hours(1);
        let history = a_case_accepted_at(Level::District);
        let before = replay(&history);
        let after = given(&history).at(now).when(expire(deadline)).then_expect(&[CaseEvent::DeadlineMissed {
            level: Level::District,
            deadline,
            next_deadline: now + resolve_sla(Level::District),
        }]);
        assert_eq!(
            after.status,
            CaseStatus::Accepted {
                at: assignment(Level::District, now + resolve_sla(Level::District)),
                assignee: "wang".into()
            },
            "the district keeps the case, under a new resolve deadline"
        );
        assert_eq!(after.status.deadline(), Some(now + Duration::days(5)));
        assert_eq!(after.escalations, before.escalations);
        assert_eq!(after.version, before.version + 1);
    }

    #[test]
    fn given_a_case_dispatched_to_the_district_when_its_deadline_expires_then_the_miss_is_recorded_and_it_stays() {
        let deadline = accept_deadline_at(Level::District);
        let case = given(&a_case_dispatched_at(Level::District)).at(deadline).when(expire(deadline)).then_expect(&[
            CaseEvent::DeadlineMissed {
                level: Level::District,
                deadline,
                next_deadline: deadline + accept_sla(Level::District),
            },
        ]);
        assert_eq!(
            case.status,
            CaseStatus::Dispatched { at: assignment(Level::District, deadline + Duration::hours(24)) }
        );
    }

    #[test]
    fn given_a_gas_leak_dispatched_to_the_district_when_its_deadline_expires_then_the_new_deadline_uses_the_category_sla(
    ) {
        let mut history = a_case_dispatched_at(Level::District);
        history[0] = opened_as(GAS_LEAK);
        let deadline = accept_deadline_at(Level::District);
        let now = deadline + Duration::minutes(3);
        given(&history).at(now).when(expire(deadline)).then_expect(&[CaseEvent::DeadlineMissed {
            level: Level::District,
            deadline,
            next_deadline: now + Duration::minutes(30),
        }]);
    }

    /// Dispatch re-arms the timer from `status.deadline()` after every command, so a missed district
    /// deadline must move: the old timer firing again is stale, the new one is missed in its turn.
    #[test]
    fn given_a_district_case_whose_deadline_was_missed_when_the_same_timer_fires_again_then_nothing_happens() {
        let deadline = accept_deadline_at(Level::District);
        let next_deadline = deadline + Duration::minutes(1) + accept_sla(Level::District);
        let mut history = a_case_dispatched_at(Level::District);
        history.push(CaseEvent::DeadlineMissed { level: Level::District, deadline, next_deadline });
        let case = replay(&history);
        assert_eq!(case.status.deadline(), Some(next_deadline), "the timer is re-armed at the new deadline");
        assert_eq!(case.status.level(), Some(Level::District));

        for now in [deadline + Duration::minutes(2), next_deadline + Duration::minutes(1)] {
            given(&history).at(now).when(expire(deadline)).then_nothing();
        }

        let now = next_deadline + Duration::minutes(5);
        let case = given(&history).at(now).when(expire(next_deadline)).then_expect(&[CaseEvent::DeadlineMissed {
            level: Level::District,
            deadline: next_deadline,
            next_deadline: now + accept_sla(Level::District),
        }]);
        assert_eq!(case.status.deadline(), Some(now + accept_sla(Level::District)));
        assert!(case.status.deadline() > Some(next_deadline));
        assert_eq!(case.escalations, 3, "missing a deadline at the district is not an escalation");
    }

    #[test]
    fn given_a_district_case_whose_deadline_was_missed_when_the_new_deadline_fires_early_then_nothing_happens() {
        let deadline = accept_deadline_at(Level::District);
        let next_deadline = deadline + accept_sla(Level::District);
        let mut history = a_case_dispatched_at(Level::District);
        history.push(CaseEvent::DeadlineMissed { level: Level::District, deadline, next_deadline });
        given(&history).at(next_deadline - Duration::seconds(1)).when(expire(next_deadline)).then_nothing();
    }

    #[test]
    fn given_a_district_case_whose_accept_deadline_was_missed_when_it_is_accepted_then_the_resolve_deadline_replaces_it(
    ) {
        let deadline = accept_deadline_at(Level::District);
        let next_deadline = deadline + accept_sla(Level::District);
        let mut history = a_case_dispatched_at(Level::District);
        history.push(CaseEvent::DeadlineMissed { level: Level::District, deadline, next_deadline });
        let now = deadline + Duration::hours(2);
        let case = given(&history).at(now).when(accept("zhao")).then_expect(&[CaseEvent::Accepted {
            at: assignment(Level::District, now + resolve_sla(Level::District)),
            assignee: "zhao".into(),
        }]);
        assert_eq!(case.status.deadline(), Some(now + Duration::days(5)));
        history.push(CaseEvent::Accepted {
            at: assignment(Level::District, now + resolve_sla(Level::District)),
            assignee: "zhao".into(),
        });
        given(&history).at(next_deadline).when(expire(next_deadline)).then_nothing();
    }

    #[test]
    fn given_a_case_in_mediation_when_a_timer_fires_then_nothing_happens() {
        // The resolve deadline is suspended during mediation.
        let deadline = at(hours(1)) + Duration::days(1);
        given(&a_case_in_mediation()).at(deadline + Duration::days(1)).when(expire(deadline)).then_nothing();
    }

    #[test]
    fn given_a_resolved_case_when_a_timer_fires_then_nothing_happens() {
        let deadline = at(hours(10)) + Duration::days(1);
        given(&a_resolved_case()).at(deadline + Duration::days(1)).when(expire(deadline)).then_nothing();
    }

    #[test]
    fn given_a_case_awaiting_verification_when_its_deadline_passes_then_the_miss_is_recorded_and_watched_again() {
        let now = verify_by() + Duration::minutes(1);
        let case = given(&a_gas_leak_awaiting_verification()).at(now).when(expire(verify_by())).then_expect(&[
            CaseEvent::VerificationOverdue { deadline: verify_by(), next_deadline: now + Duration::hours(4) },
        ]);
        assert_eq!(case.status.name(), "awaiting_verification", "nobody else can do the check: it still waits");
        assert_eq!(case.status.deadline(), Some(now + Duration::hours(4)));
        assert_eq!((case.escalations, case.reopen_count), (1, 0), "not an escalation, not a rework");
        // A stale timer (the deadline already moved on) and an early one do nothing.
        let mut history = a_gas_leak_awaiting_verification();
        history.push(CaseEvent::VerificationOverdue { deadline: verify_by(), next_deadline: now + Duration::hours(4) });
        given(&history).at(now + Duration::hours(1)).when(expire(verify_by())).then_expect(&[]);
        given(&a_gas_leak_awaiting_verification())
            .at(verify_by() - Duration::minutes(1))
            .when(expire(verify_by()))
            .then_expect(&[]);
    }

    #[test]
    fn given_a_check_the_catalog_no_longer_asks_for_when_its_deadline_passes_then_reminders_keep_a_deadline_ahead() {
        // Resolved while disputes were checked on site; the list has dropped the check since.
        let mut history = a_case_accepted_at(Level::Community);
        history.push(CaseEvent::Resolved {
            level: Level::Community,
            unit: COMMUNITY.into(),
            summary: "talked to both families".into(),
            verify_by: Some(verify_by()),
        });
        let now = verify_by() + Duration::minutes(1);
        given(&history).at(now).when(expire(verify_by())).then_expect(&[CaseEvent::VerificationOverdue {
            deadline: verify_by(),
            next_deadline: now + resolve_sla(Level::Community),
        }]);
    }
}
