//! Reject: a case not yet accepted is turned down, with the reason.

use super::decide::{required, Decision};
use super::{CaseError, CaseEvent, CaseStatus};

pub(super) fn decide(at: &Decision, reason: &str) -> Result<Vec<CaseEvent>, CaseError> {
    match at.case.status {
        CaseStatus::Reported | CaseStatus::Dispatched { .. } => {
            required("reason", reason)?;
            Ok(vec![CaseEvent::Rejected { reason: reason.to_string() }])
        }
        _ => Err(at.forbidden("only a case not yet accepted can be rejected")),
    }
}

#[cfg(test)]
mod tests {
    use crate::case::{CaseEvent, CaseStatus};
    use crate::testing::case::*;

    #[test]
    fn given_a_dispatched_case_when_it_is_rejected_with_a_reason_then_it_is_rejected() {
        let case = given(&a_dispatched_case())
            .when(reject("not within the grid's remit"))
            .then_expect(&[CaseEvent::Rejected { reason: "not within the grid's remit".into() }]);
        assert_eq!(case.status, CaseStatus::Rejected { reason: "not within the grid's remit".into() });
        assert!(case.status.is_terminal());
        assert_eq!(case.status.level(), None);
        assert_eq!(case.status.deadline(), None);
    }

    #[test]
    fn given_a_dispatched_case_when_it_is_rejected_without_a_reason_then_the_reason_is_invalid() {
        given(&a_dispatched_case()).when(reject("  ")).then_invalid("reason");
    }

    #[test]
    fn given_an_accepted_case_when_it_is_rejected_then_it_is_forbidden() {
        given(&an_accepted_case()).when(reject("duplicate")).then_forbidden();
    }

    #[test]
    fn given_a_resolved_case_when_it_is_rejected_then_it_is_forbidden() {
        given(&a_resolved_case()).when(reject("duplicate")).then_forbidden();
    }

    #[test]
    fn given_a_closed_case_when_it_is_rejected_then_it_is_forbidden() {
        given(&a_closed_case()).when(reject("duplicate")).then_forbidden();
    }
}
