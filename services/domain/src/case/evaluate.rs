//! Record the evaluation (办完即反): the reporter's answer, or the default one when they gave none
//! in time. Satisfied closes the case where it was resolved; unsatisfied reopens it there
//! (不满意再搭台协商).

use super::decide::Decision;
use super::{CaseError, CaseEvent, CaseStatus, Evaluator, OnTimeVerdict, Satisfaction};

pub(super) fn decide(
    at: &Decision,
    satisfaction: Satisfaction,
    comment: &str,
    defaulted: bool,
    evaluated_by: Option<&Evaluator>,
) -> Result<Vec<CaseEvent>, CaseError> {
    let CaseStatus::Resolved { level, unit, .. } = &at.case.status else {
        return Err(at.forbidden("only a resolved (and, where required, verified) case can be evaluated"));
    };
    let evaluated_by = evaluated_by.cloned();
    let evaluated = CaseEvent::Evaluated { satisfaction, comment: comment.to_string(), defaulted, evaluated_by };
    let next = if satisfaction.closes() {
        CaseEvent::Closed { level: *level, satisfaction: Some(satisfaction), on_time: OnTimeVerdict::ByDeadline }
    } else {
        let reason = if comment.trim().is_empty() { "reporter unsatisfied".to_string() } else { comment.to_string() };
        CaseEvent::Reopened { at: at.assign(*level, unit.clone(), at.resolve_deadline(*level)), reason }
    };
    Ok(vec![evaluated, next])
}

#[cfg(test)]
mod tests {
    use crate::case::{Assignment, CaseEvent, CaseStatus, OnTimeVerdict, Satisfaction};
    use crate::level::Level;
    use crate::testing::case::*;
    use chrono::Duration;

    #[test]
    fn given_a_case_awaiting_verification_when_the_reporter_evaluates_then_it_is_forbidden_until_verified() {
        let reason = given(&a_gas_leak_awaiting_verification())
            .when(evaluate(Satisfaction::Satisfied, "thanks", false))
            .then_forbidden();
        assert!(reason.contains("verified"), "{reason}");
    }

    #[test]
    fn given_a_case_resolved_at_the_street_when_the_resident_is_satisfied_then_it_is_closed_at_the_street() {
        let case = given(&a_case_resolved_at(Level::Street))
            .when(evaluate(Satisfaction::Satisfied, "thank you", false))
            .then_expect(&[
                CaseEvent::Evaluated {
                    satisfaction: Satisfaction::Satisfied,
                    comment: "thank you".into(),
                    defaulted: false,
                    evaluated_by: Some(the_hotline()),
                },
                CaseEvent::Closed {
                    level: Level::Street,
                    satisfaction: Some(Satisfaction::Satisfied),
                    on_time: OnTimeVerdict::ByDeadline,
                },
            ]);
        assert!(matches!(
            case.status,
            CaseStatus::Closed { level: Level::Street, satisfaction: Some(Satisfaction::Satisfied), .. }
        ));
        assert_eq!(case.status.level(), Some(Level::Street));
        assert_eq!(case.status.deadline(), None);
        assert!(case.status.is_terminal());
    }

    #[test]
    fn given_a_resolved_case_when_the_resident_is_basically_satisfied_then_it_is_closed() {
        let case =
            given(&a_resolved_case()).when(evaluate(Satisfaction::BasicallySatisfied, "", false)).then_expect(&[
                CaseEvent::Evaluated {
                    satisfaction: Satisfaction::BasicallySatisfied,
                    comment: "".into(),
                    defaulted: false,
                    evaluated_by: Some(the_hotline()),
                },
                CaseEvent::Closed {
                    level: Level::Grid,
                    satisfaction: Some(Satisfaction::BasicallySatisfied),
                    on_time: OnTimeVerdict::ByDeadline,
                },
            ]);
        assert!(matches!(
            case.status,
            CaseStatus::Closed { level: Level::Grid, satisfaction: Some(Satisfaction::BasicallySatisfied), .. }
        ));
    }

    #[test]
    fn given_a_case_resolved_at_the_community_when_the_resident_is_unsatisfied_then_it_is_reopened_there() {
        let now = at(hours(40));
        let case = given(&a_case_resolved_at(Level::Community))
            .at(now)
            .when(evaluate(Satisfaction::Unsatisfied, "still noisy", false))
            .then_expect(&[
                CaseEvent::Evaluated {
                    satisfaction: Satisfaction::Unsatisfied,
                    comment: "still noisy".into(),
                    defaulted: false,
                    evaluated_by: Some(the_hotline()),
                },
                CaseEvent::Reopened {
                    at: Assignment {
                        level: Level::Community,
                        unit: COMMUNITY.into(),
                        deadline: now + Duration::days(2),
                        department: department(Level::Community, COMMUNITY),
                    },
                    reason: "still noisy".into(),
                },
            ]);
        assert_eq!(
            case.status,
            CaseStatus::Accepted { at: assignment(Level::Community, now + Duration::days(2)), assignee: "wang".into() }
        );
        assert_eq!(case.reopen_count, 1);
        assert_eq!(case.status.deadline(), Some(now + Duration::days(2)));
    }

    #[test]
    fn given_a_resolved_case_when_the_resident_is_unsatisfied_without_a_comment_then_it_is_reopened_as_unsatisfied() {
        for comment in ["", "  "] {
            let now = at(hours(40));
            let case = given(&a_resolved_case())
                .at(now)
                .when(evaluate(Satisfaction::Unsatisfied, comment, false))
                .then_expect(&[
                    CaseEvent::Evaluated {
                        satisfaction: Satisfaction::Unsatisfied,
                        comment: comment.into(),
                        defaulted: false,
                        evaluated_by: Some(the_hotline()),
                    },
                    CaseEvent::Reopened {
                        at: Assignment {
                            level: Level::Grid,
                            unit: GRID.into(),
                            deadline: now + Duration::days(1),
                            department: department(Level::Grid, GRID),
                        },
                        reason: "reporter unsatisfied".into(),
                    },
                ]);
            assert_eq!(case.reopen_count, 1);
        }
    }

    #[test]
    fn given_a_resolved_case_when_no_answer_comes_then_the_default_evaluation_is_recorded_and_it_closes() {
        let case = given(&a_resolved_case())
            .when(evaluate(Satisfaction::Satisfied, "no answer within 3 days", true))
            .then_expect(&[
                CaseEvent::Evaluated {
                    satisfaction: Satisfaction::Satisfied,
                    comment: "no answer within 3 days".into(),
                    defaulted: true,
                    evaluated_by: None,
                },
                CaseEvent::Closed {
                    level: Level::Grid,
                    satisfaction: Some(Satisfaction::Satisfied),
                    on_time: OnTimeVerdict::ByDeadline,
                },
            ]);
        assert!(case.status.is_terminal());
    }

    #[test]
    fn given_an_accepted_case_when_an_evaluation_is_recorded_then_it_is_forbidden() {
        given(&an_accepted_case()).when(evaluate(Satisfaction::Satisfied, "", false)).then_forbidden();
    }

    #[test]
    fn given_a_dispatched_case_when_an_evaluation_is_recorded_then_it_is_forbidden() {
        given(&a_dispatched_case()).when(evaluate(Satisfaction::Unsatisfied, "", false)).then_forbidden();
    }

    #[test]
    fn given_a_case_in_mediation_when_an_evaluation_is_recorded_then_it_is_forbidden() {
        given(&a_case_in_mediation()).when(evaluate(Satisfaction::Satisfied, "", false)).then_forbidden();
    }

    #[test]
    fn given_a_closed_case_when_an_evaluation_is_recorded_again_then_it_is_forbidden() {
        given(&a_closed_case()).when(evaluate(Satisfaction::Unsatisfied, "changed my mind", false)).then_forbidden();
    }
}
