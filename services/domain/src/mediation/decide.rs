//! `decide`: the command goes to its step of the procedure. Each step lives in a file of its own,
//! beside its tests, and reads the open session through a [`Step`].

use super::{
    ballot, conclude, deliberate, follow_up, informal, invite, object, open, resident_statement, sign, vote, Mediation,
    MediationCommand, MediationError, MediationEvent, MediationRules, Session, Stage,
};
use crate::calendar::WorkingCalendar;
use crate::Timestamp;

/// Decide what a command does to a session. Pure: the same inputs give the same events.
pub fn decide(
    state: &Mediation,
    command: &MediationCommand,
    rules: &MediationRules,
    calendar: &WorkingCalendar,
    now: Timestamp,
) -> Result<Vec<MediationEvent>, MediationError> {
    use MediationCommand as C;
    let (session, stage) = match (state, command) {
        (Mediation::New, C::Open { origin, level, topic, kind, professional, convenor, register }) => {
            return open::decide(origin, *level, topic, *kind, *professional, convenor, register.as_ref());
        }
        // Opening an existing session again is a redelivery: nothing new.
        (_, C::Open { .. }) => return Ok(vec![]),
        (Mediation::New, _) => return Err(MediationError::NotFound),
        (Mediation::Concluded { session, follow_up, .. }, C::FollowUp { note, settled }) => {
            return follow_up::record(command, session, *follow_up, note, *settled, now)
        }
        (Mediation::Concluded { session, follow_up, .. }, C::FollowUpTimerFired { due }) => {
            return Ok(follow_up::timer_fired(session, *follow_up, *due, now))
        }
        (_, C::FollowUpTimerFired { .. }) => return Ok(vec![]),
        (Mediation::Concluded { .. }, _) => return Err(MediationError::AlreadyConcluded),
        (Mediation::Open { session, stage }, _) => (session, stage),
    };
    let at = Step { session, stage, command, rules, calendar, now };
    match command {
        C::Open { .. } | C::FollowUpTimerFired { .. } => unreachable!("decided above"),
        C::FollowUp { .. } => Err(at.refused("follow-ups start once the matter is concluded")),
        C::Invite { participant } => invite::invite(&at, participant),
        C::Notify => invite::notify(&at),
        C::OpenDeliberation { present } => deliberate::sit(&at, present),
        C::MakeStatement { statement } => deliberate::speak(&at, statement),
        C::SubmitResidentStatement { resident, text, registered } => {
            resident_statement::submit(&at, resident, text, *registered)
        }
        C::PutMotion { motion, yes, no, abstain } => vote::decide(&at, motion, yes, no, abstain),
        C::OpenBallot { motion, secret, concerned } => ballot::open(&at, motion, *secret, concerned.as_ref()),
        C::CastBallot { voter, choice } => ballot::cast(&at, voter, *choice),
        C::CloseBallot => ballot::close(&at),
        C::Object { resident, registered } => object::object(&at, resident, *registered),
        C::SignAgreement { signed_by, residents_concerned } => sign::decide(&at, signed_by, *residents_concerned),
        C::RaiseObjection { residents } => object::raise(&at, residents),
        C::RespondToObjection { response, reason } => object::respond(&at, *response, reason),
        C::Execute => conclude::execute(&at),
        C::RecordNoAgreement { referral, summary } => conclude::without_agreement(&at, *referral, summary),
        C::RecordConsultation { summary } => conclude::consultation(&at, summary),
        C::Conclude { agreed, summary, signed_by } => informal::conclude(&at, *agreed, summary, signed_by),
    }
}

/// What a step of an open session reads: the session, where it is in the procedure, the command,
/// the council's rules, the calendar and the time.
pub(super) struct Step<'a> {
    pub session: &'a Session,
    pub stage: &'a Stage,
    pub command: &'a MediationCommand,
    pub rules: &'a MediationRules,
    pub calendar: &'a WorkingCalendar,
    pub now: Timestamp,
}

impl Step<'_> {
    /// The procedure forbids the step now.
    pub fn refused(&self, reason: impl Into<String>) -> MediationError {
        MediationError::Refused { command: self.command.name(), stage: self.stage.name(), reason: reason.into() }
    }

    /// 监督: an agreement or a consultation is followed up, starting one period from now.
    pub fn follow_up_scheduled(&self) -> MediationEvent {
        MediationEvent::FollowUpScheduled { due: self.now + self.session.kind.follow_up_every() }
    }

    /// Everyone invited, the convenor first.
    pub fn invited(&self) -> Vec<String> {
        self.session.participants.iter().map(|p| p.name.clone()).collect()
    }
}

pub(super) fn invalid(field: &'static str, reason: impl Into<String>) -> MediationError {
    MediationError::Invalid { field, reason: reason.into() }
}

/// Text the command must carry, such as a topic or a summary.
pub(super) fn required(field: &'static str, value: &str) -> Result<(), MediationError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    Ok(())
}

/// Every name must be someone in `among`, and no name may appear twice across the lists.
pub(super) fn check_names<'a>(
    field: &'static str,
    names: impl IntoIterator<Item = &'a String>,
    among: &[String],
    what: &str,
) -> Result<(), MediationError> {
    let mut seen: Vec<&String> = Vec::new();
    for name in names {
        required(field, name)?;
        if !among.contains(name) {
            return Err(invalid(field, format!("{name} is not {what}")));
        }
        if seen.contains(&name) {
            return Err(invalid(field, format!("{name} is named twice")));
        }
        seen.push(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::mediation::{MediationCommand, MediationError};
    use crate::testing::mediation::*;

    #[test]
    fn given_no_session_when_any_step_is_taken_then_it_is_not_found() {
        given(&[]).when(MediationCommand::Notify).then_refuse(|e| *e == MediationError::NotFound);
    }
}
