//! Add a note (工作记录): the unit handling the case writes down what it did — "visited on site,
//! owner not home", "called the property company". Allowed from opened until closed; the note is
//! history and changes nothing of the routing (unit, level, deadline, priority).

use super::decide::{required, Decision};
use super::{CaseError, CaseEvent};

/// The longest note, in characters: a few paragraphs of field work, not a document.
pub const MAX_NOTE_CHARS: usize = 2_000;

pub(super) fn decide(at: &Decision, text: &str, author: &str) -> Result<Vec<CaseEvent>, CaseError> {
    if at.case.status.is_terminal() {
        return Err(at.forbidden("a closed or rejected case takes no more notes"));
    }
    let text = text.trim();
    required("text", text)?;
    let chars = text.chars().count();
    if chars > MAX_NOTE_CHARS {
        let reason = format!("{chars} characters, at most {MAX_NOTE_CHARS}");
        return Err(CaseError::Invalid { field: "text", reason });
    }
    required("author", author)?;
    Ok(vec![CaseEvent::NoteAdded { text: text.to_string(), author: author.to_string() }])
}

#[cfg(test)]
mod tests {
    use super::MAX_NOTE_CHARS;
    use crate::case::{Case, CaseCommand, CaseError, CaseEvent};
    use crate::level::Level;
    use crate::testing::case::*;

    /// The note is recorded as given (trimmed), and the case is where it was: same status, unit,
    /// deadline, priority, counters; only the version moves.
    #[track_caller]
    fn assert_note_is_recorded(history: &[CaseEvent]) {
        let before = replay(history);
        let after = given(history)
            .when(add_note("  visited on site, owner not home \n"))
            .then_expect(&[note_added("visited on site, owner not home")]);
        assert_eq!(after.version, before.version + 1);
        let unversioned = |case: &Case| Case { version: 0, ..case.clone() };
        assert_eq!(unversioned(&after), unversioned(&before), "a note changes nothing but the version");
    }

    #[test]
    fn given_a_dispatched_case_when_a_note_is_added_then_it_is_recorded_and_nothing_else_moves() {
        assert_note_is_recorded(&a_dispatched_case());
    }

    #[test]
    fn given_an_accepted_case_when_a_note_is_added_then_it_is_recorded() {
        assert_note_is_recorded(&an_accepted_case());
    }

    #[test]
    fn given_a_case_in_mediation_when_a_note_is_added_then_it_is_recorded() {
        assert_note_is_recorded(&a_case_in_mediation());
    }

    #[test]
    fn given_a_case_awaiting_verification_when_a_note_is_added_then_it_is_recorded() {
        assert_note_is_recorded(&a_gas_leak_awaiting_verification());
    }

    #[test]
    fn given_a_resolved_case_when_a_note_is_added_then_it_is_recorded() {
        assert_note_is_recorded(&a_resolved_case());
    }

    #[test]
    fn given_a_case_with_summoned_departments_when_a_note_is_added_then_the_summons_stand() {
        assert_note_is_recorded(&a_case_with_summoned_departments());
    }

    #[test]
    fn given_a_closed_case_when_a_note_is_added_then_it_is_forbidden() {
        let reason = given(&a_closed_case()).when(add_note("called the owner")).then_forbidden();
        assert!(reason.contains("closed"), "{reason}");
    }

    #[test]
    fn given_a_rejected_case_when_a_note_is_added_then_it_is_forbidden() {
        given(&a_rejected_case()).when(add_note("called the owner")).then_forbidden();
    }

    #[test]
    fn given_no_case_when_a_note_is_added_then_the_case_is_not_found() {
        given_no_case().when(add_note("called the owner")).then_refuse(|e| *e == CaseError::NotFound);
    }

    #[test]
    fn given_an_accepted_case_when_a_blank_note_is_added_then_the_text_is_invalid() {
        given(&an_accepted_case()).when(add_note("")).then_invalid("text");
        given(&an_accepted_case()).when(add_note(" \t\n ")).then_invalid("text");
    }

    #[test]
    fn given_an_accepted_case_when_a_note_is_longer_than_the_limit_then_the_text_is_invalid() {
        let at_limit = "记".repeat(MAX_NOTE_CHARS);
        given(&an_accepted_case()).when(add_note(&format!(" {at_limit} "))).then_expect(&[note_added(&at_limit)]);
        let over = "记".repeat(MAX_NOTE_CHARS + 1);
        let refused = given(&an_accepted_case()).when(add_note(&over)).then_refuse(
            |e| matches!(e, CaseError::Invalid { field: "text", reason } if reason.contains("2001 characters")),
        );
        assert!(refused.to_string().contains("at most 2000"), "{refused}");
    }

    #[test]
    fn given_an_accepted_case_when_a_note_has_no_author_then_the_author_is_invalid() {
        let command = CaseCommand::AddNote { text: "called the owner".into(), author: " ".into() };
        given(&an_accepted_case()).when(command).then_invalid("author");
    }

    #[test]
    fn given_notes_the_case_goes_on_around_the_loop_as_before() {
        let mut history = a_dispatched_case();
        history.push(note_added("called the owner, no answer"));
        let accepted = accepted(Level::Grid, at(hours(1)) + resolve_sla(Level::Grid));
        given(&history).at(at(hours(1))).when(accept("wang")).then_expect(std::slice::from_ref(&accepted));
        history.push(accepted);
        history.push(note_added("visited on site, owner not home"));
        let case = given(&history).when(resolve("quiet hours agreed")).then_expect(&[resolved(Level::Grid)]);
        assert_eq!(case.version, history.len() as u64 + 1);
    }
}
