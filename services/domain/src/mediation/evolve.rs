//! How a session's events fold into its state.

use super::*;

/// Fold one event into the state, or refuse it as a [`Misfit`] when it cannot follow the state
/// (no decision produces it there): a stream holding such an event cannot be trusted.
pub fn evolve(state: Mediation, event: &MediationEvent) -> Result<Mediation, Misfit> {
    use MediationEvent as E;
    let misfit = |state: &'static str| Misfit { aggregate: "mediation", event: event.type_name(), state };
    let (mut session, stage) = match (state, event) {
        (Mediation::New, E::Opened { origin, level, topic, kind, professional, convenor, register }) => {
            return Ok(Mediation::Open {
                session: Session {
                    origin: origin.clone(),
                    level: *level,
                    topic: topic.clone(),
                    kind: *kind,
                    professional: *professional,
                    convenor: convenor.clone(),
                    register: register.clone(),
                    participants: vec![Participant { name: convenor.clone(), role: Role::Convenor }],
                    reconsiderations: 0,
                },
                stage: Stage::Proposed,
            })
        }
        (Mediation::Concluded { session, outcome, summary, signed_by, follow_up, follow_ups }, event) => {
            let (follow_up, follow_ups) = match (event, follow_up) {
                (E::FollowUpScheduled { due }, _) => (Some(*due), follow_ups),
                (E::FollowUpOverdue { next_due, .. }, Some(_)) => (Some(*next_due), follow_ups),
                (E::FollowedUp { next_due, .. }, Some(_)) => (*next_due, follow_ups + 1),
                _ => return Err(misfit("concluded")),
            };
            return Ok(Mediation::Concluded { session, outcome, summary, signed_by, follow_up, follow_ups });
        }
        (Mediation::Open { session, stage }, _) => (session, stage),
        (Mediation::New, _) => return Err(misfit("new")),
    };
    let stage = match (event, stage) {
        (E::Invited { participant }, stage @ (Stage::Proposed | Stage::Notified)) => {
            session.participants.push(participant.clone());
            stage
        }
        (E::Notified, Stage::Proposed) => Stage::Notified,
        (E::DeliberationOpened { present }, Stage::Notified) => {
            Stage::Deliberating { present: present.clone(), statements: vec![], ballot: None, residents_said: vec![] }
        }
        (E::StatementMade { statement }, Stage::Deliberating { present, mut statements, ballot, residents_said }) => {
            statements.push(statement.clone());
            Stage::Deliberating { present, statements, ballot, residents_said }
        }
        (
            E::ResidentStatementSubmitted { resident, text },
            Stage::Deliberating { present, statements, ballot, mut residents_said },
        ) => {
            residents_said.push(Statement { speaker: resident.clone(), text: text.clone() });
            Stage::Deliberating { present, statements, ballot, residents_said }
        }
        (
            E::BallotOpened { motion, secret, eligible },
            Stage::Deliberating { present, statements, ballot: None, residents_said },
        ) => {
            let ballot = Ballot { motion: motion.clone(), secret: *secret, eligible: eligible.clone(), cast: vec![] };
            Stage::Deliberating { present, statements, ballot: Some(ballot), residents_said }
        }
        (
            E::BallotCast { voter, choice },
            Stage::Deliberating { present, statements, ballot: Some(mut ballot), residents_said },
        ) => {
            ballot.cast.push((voter.clone(), *choice));
            Stage::Deliberating { present, statements, ballot: Some(ballot), residents_said }
        }
        (E::BallotClosed { motion, carried: true, .. }, Stage::Deliberating { ballot: Some(ballot), .. }) => {
            Stage::Decided {
                present: ballot.cast.into_iter().map(|(voter, _)| voter).collect(),
                motion: motion.clone(),
            }
        }
        (
            E::BallotClosed { carried: false, .. },
            Stage::Deliberating { present, statements, ballot: Some(_), residents_said },
        ) => Stage::Deliberating { present, statements, ballot: None, residents_said },
        (E::MotionVoted { motion, carried: true, .. }, Stage::Deliberating { present, .. }) => {
            Stage::Decided { present, motion: motion.clone() }
        }
        // A motion that did not carry leaves the session sitting.
        (E::MotionVoted { carried: false, .. }, stage @ Stage::Deliberating { .. }) => stage,
        (E::AgreementSigned { signed_by, notice_until, residents_concerned }, Stage::Decided { motion, .. }) => {
            Stage::InNotice(Notice {
                motion,
                signed_by: signed_by.clone(),
                until: *notice_until,
                residents_concerned: *residents_concerned,
                objectors: vec![],
            })
        }
        (E::ObjectionRaised { residents, threshold_reached }, Stage::InNotice(mut notice)) => {
            for name in residents {
                if !notice.objectors.contains(name) {
                    notice.objectors.push(name.clone());
                }
            }
            if *threshold_reached {
                Stage::Contested(notice)
            } else {
                Stage::InNotice(notice)
            }
        }
        (E::Reconsidered { .. }, Stage::Contested(_) | Stage::Suspended { .. }) => {
            session.reconsiderations += 1;
            Stage::Notified
        }
        (E::ExecutionSuspended { reason }, Stage::Contested(notice)) => {
            Stage::Suspended { notice, reason: reason.clone() }
        }
        // Residents objected: nothing concludes until the council reconsiders.
        (E::Concluded { outcome, summary, signed_by }, stage)
            if !matches!(stage, Stage::Contested(_) | Stage::Suspended { .. }) =>
        {
            return Ok(Mediation::Concluded {
                session,
                outcome: *outcome,
                summary: summary.clone(),
                signed_by: signed_by.clone(),
                follow_up: None,
                follow_ups: 0,
            })
        }
        (_, stage) => return Err(misfit(stage.name())),
    };
    Ok(Mediation::Open { session, stage })
}
