//! The session as clients see it (`MediationView`): its state, and its history in words. What
//! residents said online is theirs: their names and any phone or ID numbers in their words are
//! shown as the personal-data rules allow the reader.

use gridloop_domain::access::Principal;
use gridloop_domain::ids::MediationId;
use gridloop_domain::mediation::{
    fifth_of, Ballot, Mediation, MediationEvent, Notice, Origin, Outcome, Referral, Stage, Statement,
};
use gridloop_domain::personal::{contact_access, mask_free_text, mask_name, ContactAccess};
use gridloop_eventstore::RecordedEvent;
use gridloop_proto::convert;
use gridloop_proto::v1 as pb;

/// Who reads a view, and the area of the session read: what they may see of residents.
pub(crate) struct Reader<'a> {
    principal: Option<&'a Principal>,
    access: ContactAccess,
}

impl<'a> Reader<'a> {
    /// `principal` reading a session whose stream is `history`, routed to its area.
    pub(crate) fn of(principal: Option<&'a Principal>, history: &[(RecordedEvent, MediationEvent)]) -> Self {
        let area = history.first().map_or("", |(record, _)| record.routing_key.as_str());
        Reader { principal, access: contact_access(principal, area) }
    }

    /// A resident's name: in full to themselves and to those who may see the area's residents,
    /// masked (`居**`) to other readers, withheld from those who read no people.
    pub(crate) fn resident(&self, name: &str) -> String {
        match self.access {
            _ if self.is(name) => name.to_string(),
            ContactAccess::Full => name.to_string(),
            ContactAccess::Masked => mask_name(name),
            ContactAccess::Withheld => "居民".to_string(),
        }
    }

    /// What `resident` said, with phone and ID-card numbers masked for readers other than them
    /// not entitled to those.
    pub(crate) fn words(&self, resident: &str, text: &str) -> String {
        if self.is(resident) || self.access.sees_free_text() {
            text.to_string()
        } else {
            mask_free_text(text)
        }
    }

    fn is(&self, resident: &str) -> bool {
        self.principal.is_some_and(|p| p.subject == resident)
    }
}

/// The session after `history` (its stream, in order) left it in `state` at `version`, as
/// `reader` may see it.
pub(crate) fn view(
    id: MediationId,
    state: &Mediation,
    version: u64,
    history: &[(RecordedEvent, MediationEvent)],
    reader: &Reader,
) -> pb::MediationView {
    let mut view = pb::MediationView {
        mediation_id: id.to_string(),
        version,
        history: history_entries(history, reader),
        ..Default::default()
    };
    let Some(session) = state.session() else { return view };
    view.case_id = session.origin.case_id().map(|c| c.to_string()).unwrap_or_default();
    view.collected_from = match &session.origin {
        Origin::Case { .. } => String::new(),
        Origin::CollectedTopic { collected_from, .. } => collected_from.clone(),
    };
    view.level = convert::level(convert::ladder_level(session.level)) as i32;
    view.session_level = convert::session_level(session.level) as i32;
    view.topic = session.topic.clone();
    view.agenda_topic = session.origin.agenda_topic().unwrap_or(0);
    view.kind = convert::matter_kind(session.kind) as i32;
    view.professional = session.professional.map_or(pb::ParticipantRole::Unspecified, convert::role) as i32;
    view.convenor = session.convenor.clone();
    view.register_group = session.register.as_ref().map(gridloop_proto::convert::register_group);
    view.reconsiderations = session.reconsiderations;
    view.participants = session
        .participants
        .iter()
        .map(|p| pb::MediationParticipant { name: p.name.clone(), role: convert::role(p.role) as i32 })
        .collect();
    let statements = |list: &[Statement]| {
        list.iter().map(|s| pb::MediationStatement { speaker: s.speaker.clone(), text: s.text.clone() }).collect()
    };
    let notice = |view: &mut pb::MediationView, n: &Notice| {
        view.motion = n.motion.clone();
        view.signed_by = n.signed_by.clone();
        view.notice_until = Some(convert::timestamp(n.until));
        view.residents_concerned = n.residents_concerned;
        view.objectors = n.objectors.iter().map(|name| reader.resident(name)).collect();
        view.objections_needed = fifth_of(n.residents_concerned);
    };
    let (state, stage) = match state {
        Mediation::New => return view,
        Mediation::Open { stage, .. } => {
            let stage = match stage {
                Stage::Proposed => pb::MediationStage::Proposed,
                Stage::Notified => pb::MediationStage::Notified,
                Stage::Deliberating { present, statements: said, ballot, residents_said } => {
                    view.present = present.clone();
                    view.statements = statements(said);
                    view.resident_statements = residents_said
                        .iter()
                        .map(|s| pb::MediationStatement {
                            speaker: reader.resident(&s.speaker),
                            text: reader.words(&s.speaker, &s.text),
                        })
                        .collect();
                    if let Some(b) = ballot {
                        ballot_view(&mut view, b);
                    }
                    pb::MediationStage::Deliberating
                }
                Stage::Decided { present, motion } => {
                    view.present = present.clone();
                    view.motion = motion.clone();
                    pb::MediationStage::Decided
                }
                Stage::InNotice(n) => {
                    notice(&mut view, n);
                    pb::MediationStage::InNotice
                }
                Stage::Contested(n) => {
                    notice(&mut view, n);
                    pb::MediationStage::Contested
                }
                Stage::Suspended { notice: n, reason } => {
                    notice(&mut view, n);
                    view.summary = reason.clone();
                    pb::MediationStage::Suspended
                }
            };
            (pb::MediationState::Open, stage)
        }
        Mediation::Concluded { outcome, summary, signed_by, follow_up, follow_ups, .. } => {
            view.summary = summary.clone();
            view.signed_by = signed_by.clone();
            view.follow_up_due = follow_up.map(convert::timestamp);
            view.follow_ups = *follow_ups;
            let state = match outcome {
                Outcome::Agreed => pb::MediationState::Agreed,
                Outcome::Failed(referral) => {
                    view.referral = convert::referral(*referral) as i32;
                    pb::MediationState::Failed
                }
                Outcome::Consultation => pb::MediationState::Consulted,
            };
            (state, pb::MediationStage::Concluded)
        }
    };
    view.state = state as i32;
    view.stage = stage as i32;
    view
}

/// The ballot under way: who may vote and who did; the running tally only of an open ballot, as
/// a secret one's would tell, vote by vote, who voted how.
fn ballot_view(view: &mut pb::MediationView, ballot: &Ballot) {
    view.ballot_motion = ballot.motion.clone();
    view.ballot_secret = ballot.secret;
    view.ballot_eligible = ballot.eligible.clone();
    view.ballot_voted = ballot.cast.iter().map(|(voter, _)| voter.clone()).collect();
    if !ballot.secret {
        (view.ballot_yes, view.ballot_no, view.ballot_abstain) = ballot.tally();
    }
}

/// The session's history in words; a secret ballot's votes say only who voted, a resident's
/// statement names them as `reader` may see them.
pub(crate) fn history_entries(
    history: &[(RecordedEvent, MediationEvent)],
    reader: &Reader,
) -> Vec<pb::MediationHistoryEntry> {
    let mut secret = false;
    history
        .iter()
        .map(|(record, event)| {
            if let MediationEvent::BallotOpened { secret: s, .. } = event {
                secret = *s;
            }
            let (detail, actor_id) = match event {
                MediationEvent::BallotCast { voter, .. } if secret => {
                    (format!("{voter} voted (secret ballot)"), record.actor.id.clone())
                }
                MediationEvent::ResidentStatementSubmitted { resident, text } => (
                    format!("resident {}: {}", reader.resident(resident), reader.words(resident, text)),
                    reader.resident(&record.actor.id),
                ),
                // Objectors are residents of the register: named as the reader may see them,
                // and so is the actor when a resident objected themselves.
                MediationEvent::ObjectionRaised { residents, threshold_reached } => {
                    let shown = MediationEvent::ObjectionRaised {
                        residents: residents.iter().map(|name| reader.resident(name)).collect(),
                        threshold_reached: *threshold_reached,
                    };
                    let actor = &record.actor.id;
                    let actor = if residents.contains(actor) { reader.resident(actor) } else { actor.clone() };
                    (describe(&shown), actor)
                }
                _ => (describe(event), record.actor.id.clone()),
            };
            pb::MediationHistoryEntry {
                version: record.stream_version,
                occurred_at: Some(convert::timestamp(record.occurred_at)),
                event_type: convert::short_type(&record.event_type).to_string(),
                actor_id,
                detail,
            }
        })
        .collect()
}

/// One line for the session's history.
pub(crate) fn describe(event: &MediationEvent) -> String {
    let list = |names: &[String]| names.join(", ");
    match event {
        MediationEvent::Opened { level, topic, kind, convenor, register, .. } => {
            let concerned = register.as_ref().map_or(String::new(), |group| {
                format!("; residents concerned: the register of {} {}", group.kind().as_str(), group.name())
            });
            format!("{} session on {topic:?} ({kind:?}), convenor {convenor}{concerned}", level.as_str())
        }
        MediationEvent::Invited { participant } => format!("invited {} ({:?})", participant.name, participant.role),
        MediationEvent::Notified => "participants notified".into(),
        MediationEvent::DeliberationOpened { present } => format!("sitting; present: {}", list(present)),
        MediationEvent::StatementMade { statement } => format!("{}: {}", statement.speaker, statement.text),
        MediationEvent::ResidentStatementSubmitted { resident, text } => format!("resident {resident}: {text}"),
        MediationEvent::MotionVoted { motion, yes, no, abstain, carried } => format!(
            "motion {motion:?} {} ({} yes, {} no, {} abstain)",
            if *carried { "carried" } else { "not carried" },
            yes.len(),
            no.len(),
            abstain.len()
        ),
        MediationEvent::BallotOpened { motion, secret, eligible } => format!(
            "{} ballot on {motion:?} opened to {} participants",
            if *secret { "secret" } else { "open" },
            eligible.len()
        ),
        MediationEvent::BallotCast { voter, choice } => format!("{voter} voted {choice:?}"),
        MediationEvent::BallotClosed { motion, yes, no, abstain, eligible, quorate, carried } => format!(
            "ballot on {motion:?} {} ({yes} yes, {no} no, {abstain} abstain of {eligible} eligible{})",
            if *carried { "carried" } else { "not carried" },
            if *quorate { "" } else { "; no quorum" }
        ),
        MediationEvent::AgreementSigned { signed_by, notice_until, residents_concerned } => {
            format!("signed by {}; published until {notice_until} to {residents_concerned} residents", list(signed_by))
        }
        MediationEvent::ObjectionRaised { residents, threshold_reached } => format!(
            "objection by {}{}",
            list(residents),
            if *threshold_reached { " (one fifth reached: execution waits for the council)" } else { "" }
        ),
        MediationEvent::Reconsidered { reason } => format!("reconsideration (复议): {reason}"),
        MediationEvent::ExecutionSuspended { reason } => format!("execution suspended (暂缓执行): {reason}"),
        MediationEvent::Concluded { outcome, summary, .. } => match outcome {
            Outcome::Agreed => format!("agreement executed: {summary}"),
            Outcome::Failed(Referral::BackToUnit) => format!("no agreement, back to the unit: {summary}"),
            Outcome::Failed(Referral::EscalateOneLevel) => format!("no agreement, escalated one level: {summary}"),
            Outcome::Failed(Referral::Litigation) => format!("no agreement, referred to litigation: {summary}"),
            Outcome::Consultation => format!("consultation recorded: {summary}"),
        },
        MediationEvent::FollowUpScheduled { due } => format!("follow-up (监督) due {due}"),
        MediationEvent::FollowUpOverdue { due, next_due } => {
            format!("follow-up due {due} not recorded; next due {next_due}")
        }
        MediationEvent::FollowedUp { note, next_due: Some(next) } => format!("followed up: {note}; next due {next}"),
        MediationEvent::FollowedUp { note, next_due: None } => format!("followed up, settled: {note}"),
    }
}
