//! The mediation session's events (`mediation-<id>` streams) and its enumerations.

use super::{event_type, invalid, short_type, values::*, DecodeError};
use crate::v1 as pb;
use gridloop_domain::ids::CaseId;
use gridloop_domain::level::Level;
use gridloop_domain::mediation::{
    Choice, MatterKind, MediationEvent, Origin, Outcome, Participant, Referral, Role, SessionLevel, Statement,
};
use gridloop_domain::register::{Group, GroupKind};
use prost::Message;

/// The building's and the courtyard's names of a session's register group, as its opening
/// records them (at most one set).
pub(super) fn register_names(group: Option<&Group>) -> (String, String) {
    match group {
        None => (String::new(), String::new()),
        Some(g) if g.kind() == GroupKind::Building => (g.name().to_string(), String::new()),
        Some(g) => (String::new(), g.name().to_string()),
    }
}

pub(super) fn register_from_names(ty: &str, building: &str, courtyard: &str) -> Result<Option<Group>, DecodeError> {
    let group = |kind, name| Group::new(kind, name).map(Some).map_err(|e| invalid(ty, &e.to_string()));
    match (building.is_empty(), courtyard.is_empty()) {
        (true, true) => Ok(None),
        (false, true) => group(GroupKind::Building, building),
        (true, false) => group(GroupKind::Courtyard, courtyard),
        (false, false) => Err(invalid(ty, "a session names one building or one courtyard")),
    }
}

pub fn session_level(l: SessionLevel) -> pb::SessionLevel {
    match l {
        SessionLevel::Building => pb::SessionLevel::Building,
        SessionLevel::Grid => pb::SessionLevel::Grid,
        SessionLevel::Community => pb::SessionLevel::Community,
        SessionLevel::Street => pb::SessionLevel::Street,
    }
}

pub fn from_session_level(l: pb::SessionLevel) -> Option<SessionLevel> {
    match l {
        pb::SessionLevel::Unspecified => None,
        pb::SessionLevel::Building => Some(SessionLevel::Building),
        pb::SessionLevel::Grid => Some(SessionLevel::Grid),
        pb::SessionLevel::Community => Some(SessionLevel::Community),
        pb::SessionLevel::Street => Some(SessionLevel::Street),
    }
}

pub fn matter_kind(k: MatterKind) -> pb::MatterKind {
    match k {
        MatterKind::Deliberation => pb::MatterKind::Deliberation,
        MatterKind::Decision => pb::MatterKind::Decision,
        MatterKind::Consultation => pb::MatterKind::Consultation,
        MatterKind::Hearing => pb::MatterKind::Hearing,
    }
}

pub fn from_matter_kind(k: pb::MatterKind) -> Option<MatterKind> {
    match k {
        pb::MatterKind::Unspecified => None,
        pb::MatterKind::Deliberation => Some(MatterKind::Deliberation),
        pb::MatterKind::Decision => Some(MatterKind::Decision),
        pb::MatterKind::Consultation => Some(MatterKind::Consultation),
        pb::MatterKind::Hearing => Some(MatterKind::Hearing),
    }
}

pub fn role(r: Role) -> pb::ParticipantRole {
    match r {
        Role::Convenor => pb::ParticipantRole::Convenor,
        Role::GridWorker => pb::ParticipantRole::GridWorker,
        Role::PropertyCompany => pb::ParticipantRole::PropertyCompany,
        Role::OwnersCommittee => pb::ParticipantRole::OwnersCommittee,
        Role::CppccMember => pb::ParticipantRole::CppccMember,
        Role::GridPolice => pb::ParticipantRole::GridPolice,
        Role::LegalWorker => pb::ParticipantRole::LegalWorker,
        Role::ResidentRepresentative => pb::ParticipantRole::ResidentRepresentative,
        Role::SocialOrganisation => pb::ParticipantRole::SocialOrganisation,
        Role::Party => pb::ParticipantRole::Party,
    }
}

pub fn from_role(r: pb::ParticipantRole) -> Option<Role> {
    Some(match r {
        pb::ParticipantRole::Unspecified => return None,
        pb::ParticipantRole::Convenor => Role::Convenor,
        pb::ParticipantRole::GridWorker => Role::GridWorker,
        pb::ParticipantRole::PropertyCompany => Role::PropertyCompany,
        pb::ParticipantRole::OwnersCommittee => Role::OwnersCommittee,
        pb::ParticipantRole::CppccMember => Role::CppccMember,
        pb::ParticipantRole::GridPolice => Role::GridPolice,
        pb::ParticipantRole::LegalWorker => Role::LegalWorker,
        pb::ParticipantRole::ResidentRepresentative => Role::ResidentRepresentative,
        pb::ParticipantRole::SocialOrganisation => Role::SocialOrganisation,
        pb::ParticipantRole::Party => Role::Party,
    })
}

pub fn referral(r: Referral) -> pb::MediationReferral {
    match r {
        Referral::BackToUnit => pb::MediationReferral::Unspecified,
        Referral::EscalateOneLevel => pb::MediationReferral::EscalateOneLevel,
        Referral::Litigation => pb::MediationReferral::Litigation,
    }
}

fn from_referral(r: pb::MediationReferral) -> Referral {
    match r {
        pb::MediationReferral::Unspecified => Referral::BackToUnit,
        pb::MediationReferral::EscalateOneLevel => Referral::EscalateOneLevel,
        pb::MediationReferral::Litigation => Referral::Litigation,
    }
}

/// The ladder level a council sits at (a building session belongs to its grid).
pub fn ladder_level(l: SessionLevel) -> Level {
    match l {
        SessionLevel::Building | SessionLevel::Grid => Level::Grid,
        SessionLevel::Community => Level::Community,
        SessionLevel::Street => Level::Street,
    }
}

pub fn choice(c: Choice) -> pb::BallotChoice {
    match c {
        Choice::Yes => pb::BallotChoice::Yes,
        Choice::No => pb::BallotChoice::No,
        Choice::Abstain => pb::BallotChoice::Abstain,
    }
}

pub fn from_choice(c: pb::BallotChoice) -> Option<Choice> {
    match c {
        pb::BallotChoice::Unspecified => None,
        pb::BallotChoice::Yes => Some(Choice::Yes),
        pb::BallotChoice::No => Some(Choice::No),
        pb::BallotChoice::Abstain => Some(Choice::Abstain),
    }
}

/// Encode a mediation event; `case_id` is the session's case, empty for a collected topic.
pub fn encode_mediation_event(mediation_id: &str, case_id: &str, event: &MediationEvent) -> (String, Vec<u8>) {
    let id = mediation_id.to_string();
    let payload = match event {
        MediationEvent::Opened { origin, level: l, topic, kind, professional, convenor, register } => {
            let (register_building, register_courtyard) = register_names(register.as_ref());
            pb::MediationOpened {
                mediation_id: id,
                case_id: case_id.to_string(),
                level: level(ladder_level(*l)) as i32,
                topic: topic.clone(),
                session_level: session_level(*l) as i32,
                kind: matter_kind(*kind) as i32,
                professional: professional.map_or(pb::ParticipantRole::Unspecified, role) as i32,
                convenor: convenor.clone(),
                collected_from: match origin {
                    Origin::Case { .. } => String::new(),
                    Origin::CollectedTopic { collected_from, .. } => collected_from.clone(),
                },
                agenda_topic: origin.agenda_topic().unwrap_or(0),
                register_building,
                register_courtyard,
            }
            .encode_to_vec()
        }
        MediationEvent::Invited { participant } => pb::MediationParticipantInvited {
            mediation_id: id,
            name: participant.name.clone(),
            role: role(participant.role) as i32,
        }
        .encode_to_vec(),
        MediationEvent::Notified => pb::MediationParticipantsNotified { mediation_id: id }.encode_to_vec(),
        MediationEvent::DeliberationOpened { present } => {
            pb::MediationDeliberationOpened { mediation_id: id, present: present.clone() }.encode_to_vec()
        }
        MediationEvent::StatementMade { statement } => pb::MediationStatementMade {
            mediation_id: id,
            speaker: statement.speaker.clone(),
            text: statement.text.clone(),
        }
        .encode_to_vec(),
        MediationEvent::ResidentStatementSubmitted { resident, text } => {
            pb::MediationResidentStatementSubmitted { mediation_id: id, resident: resident.clone(), text: text.clone() }
                .encode_to_vec()
        }
        MediationEvent::MotionVoted { motion, yes, no, abstain, carried } => pb::MediationMotionVoted {
            mediation_id: id,
            motion: motion.clone(),
            yes: yes.clone(),
            no: no.clone(),
            abstain: abstain.clone(),
            carried: *carried,
        }
        .encode_to_vec(),
        MediationEvent::AgreementSigned { signed_by, notice_until, residents_concerned } => {
            pb::MediationAgreementSigned {
                mediation_id: id,
                signed_by: signed_by.clone(),
                notice_until: Some(timestamp(*notice_until)),
                residents_concerned: *residents_concerned,
            }
            .encode_to_vec()
        }
        MediationEvent::BallotOpened { motion, secret, eligible } => pb::MediationBallotOpened {
            mediation_id: id,
            motion: motion.clone(),
            secret: *secret,
            eligible: eligible.clone(),
        }
        .encode_to_vec(),
        MediationEvent::BallotCast { voter, choice: c } => {
            pb::MediationBallotCast { mediation_id: id, voter: voter.clone(), choice: choice(*c) as i32 }
                .encode_to_vec()
        }
        MediationEvent::BallotClosed { motion, yes, no, abstain, eligible, quorate, carried } => {
            pb::MediationBallotClosed {
                mediation_id: id,
                motion: motion.clone(),
                yes: *yes,
                no: *no,
                abstain: *abstain,
                eligible: *eligible,
                quorate: *quorate,
                carried: *carried,
            }
            .encode_to_vec()
        }
        MediationEvent::ObjectionRaised { residents, threshold_reached } => pb::MediationObjectionRaised {
            mediation_id: id,
            residents: residents.clone(),
            threshold_reached: *threshold_reached,
        }
        .encode_to_vec(),
        MediationEvent::Reconsidered { reason } => {
            pb::MediationReconsidered { mediation_id: id, reason: reason.clone() }.encode_to_vec()
        }
        MediationEvent::ExecutionSuspended { reason } => {
            pb::MediationExecutionSuspended { mediation_id: id, reason: reason.clone() }.encode_to_vec()
        }
        MediationEvent::FollowUpScheduled { due } => {
            pb::MediationFollowUpScheduled { mediation_id: id, due: Some(timestamp(*due)) }.encode_to_vec()
        }
        MediationEvent::FollowUpOverdue { due, next_due } => pb::MediationFollowUpOverdue {
            mediation_id: id,
            due: Some(timestamp(*due)),
            next_due: Some(timestamp(*next_due)),
        }
        .encode_to_vec(),
        MediationEvent::FollowedUp { note, next_due } => {
            pb::MediationFollowedUp { mediation_id: id, note: note.clone(), next_due: next_due.map(timestamp) }
                .encode_to_vec()
        }
        MediationEvent::Concluded { outcome, summary, signed_by } => pb::MediationConcluded {
            mediation_id: id,
            case_id: case_id.to_string(),
            outcome: match outcome {
                Outcome::Agreed => pb::MediationOutcome::Agreed,
                Outcome::Failed(_) => pb::MediationOutcome::Failed,
                Outcome::Consultation => pb::MediationOutcome::Consultation,
            } as i32,
            summary: summary.clone(),
            signed_by: signed_by.clone(),
            referral: match outcome {
                Outcome::Failed(r) => referral(*r),
                Outcome::Agreed | Outcome::Consultation => pb::MediationReferral::Unspecified,
            } as i32,
        }
        .encode_to_vec(),
    };
    (event_type(event.type_name()), payload)
}

pub fn decode_mediation_event(event_type: &str, payload: &[u8]) -> Result<MediationEvent, DecodeError> {
    let ty = event_type;
    let proto = |source| DecodeError::Protobuf { event_type: ty.to_string(), source };
    Ok(match short_type(ty) {
        "MediationOpened" => {
            let m = pb::MediationOpened::decode(payload).map_err(proto)?;
            let origin = if m.case_id.is_empty() {
                let agenda_topic = (m.agenda_topic != 0).then_some(m.agenda_topic);
                Origin::CollectedTopic { collected_from: m.collected_from.clone(), agenda_topic }
            } else {
                Origin::Case { case_id: CaseId::parse(&m.case_id).map_err(|_| invalid(ty, "case_id is not a UUID"))? }
            };
            // Sessions recorded before the council procedure carry only the ladder level.
            let level = match from_session_level(m.session_level()) {
                Some(l) => l,
                None => SessionLevel::for_case(from_level(m.level()).ok_or_else(|| invalid(ty, "level"))?),
            };
            MediationEvent::Opened {
                origin,
                level,
                kind: from_matter_kind(m.kind()).unwrap_or(MatterKind::Deliberation),
                professional: from_role(m.professional()),
                register: register_from_names(ty, &m.register_building, &m.register_courtyard)?,
                convenor: m.convenor,
                topic: m.topic,
            }
        }
        "MediationParticipantInvited" => {
            let m = pb::MediationParticipantInvited::decode(payload).map_err(proto)?;
            let role = from_role(m.role()).ok_or_else(|| invalid(ty, "role missing"))?;
            MediationEvent::Invited { participant: Participant { name: m.name, role } }
        }
        "MediationParticipantsNotified" => MediationEvent::Notified,
        "MediationDeliberationOpened" => {
            let m = pb::MediationDeliberationOpened::decode(payload).map_err(proto)?;
            MediationEvent::DeliberationOpened { present: m.present }
        }
        "MediationStatementMade" => {
            let m = pb::MediationStatementMade::decode(payload).map_err(proto)?;
            MediationEvent::StatementMade { statement: Statement { speaker: m.speaker, text: m.text } }
        }
        "MediationResidentStatementSubmitted" => {
            let m = pb::MediationResidentStatementSubmitted::decode(payload).map_err(proto)?;
            MediationEvent::ResidentStatementSubmitted { resident: m.resident, text: m.text }
        }
        "MediationMotionVoted" => {
            let m = pb::MediationMotionVoted::decode(payload).map_err(proto)?;
            MediationEvent::MotionVoted {
                motion: m.motion,
                yes: m.yes,
                no: m.no,
                abstain: m.abstain,
                carried: m.carried,
            }
        }
        "MediationAgreementSigned" => {
            let m = pb::MediationAgreementSigned::decode(payload).map_err(proto)?;
            MediationEvent::AgreementSigned {
                signed_by: m.signed_by,
                notice_until: m
                    .notice_until
                    .as_ref()
                    .and_then(from_timestamp)
                    .ok_or_else(|| invalid(ty, "notice_until missing"))?,
                residents_concerned: m.residents_concerned,
            }
        }
        "MediationObjectionRaised" => {
            let m = pb::MediationObjectionRaised::decode(payload).map_err(proto)?;
            MediationEvent::ObjectionRaised { residents: m.residents, threshold_reached: m.threshold_reached }
        }
        "MediationBallotOpened" => {
            let m = pb::MediationBallotOpened::decode(payload).map_err(proto)?;
            MediationEvent::BallotOpened { motion: m.motion, secret: m.secret, eligible: m.eligible }
        }
        "MediationBallotCast" => {
            let m = pb::MediationBallotCast::decode(payload).map_err(proto)?;
            let choice = from_choice(m.choice()).ok_or_else(|| invalid(ty, "choice missing"))?;
            MediationEvent::BallotCast { voter: m.voter, choice }
        }
        "MediationBallotClosed" => {
            let m = pb::MediationBallotClosed::decode(payload).map_err(proto)?;
            MediationEvent::BallotClosed {
                motion: m.motion,
                yes: m.yes,
                no: m.no,
                abstain: m.abstain,
                eligible: m.eligible,
                quorate: m.quorate,
                carried: m.carried,
            }
        }
        "MediationReconsidered" => {
            let m = pb::MediationReconsidered::decode(payload).map_err(proto)?;
            MediationEvent::Reconsidered { reason: m.reason }
        }
        "MediationExecutionSuspended" => {
            let m = pb::MediationExecutionSuspended::decode(payload).map_err(proto)?;
            MediationEvent::ExecutionSuspended { reason: m.reason }
        }
        "MediationFollowUpScheduled" => {
            let m = pb::MediationFollowUpScheduled::decode(payload).map_err(proto)?;
            MediationEvent::FollowUpScheduled {
                due: m.due.as_ref().and_then(from_timestamp).ok_or_else(|| invalid(ty, "due missing"))?,
            }
        }
        "MediationFollowUpOverdue" => {
            let m = pb::MediationFollowUpOverdue::decode(payload).map_err(proto)?;
            MediationEvent::FollowUpOverdue {
                due: m.due.as_ref().and_then(from_timestamp).ok_or_else(|| invalid(ty, "due missing"))?,
                next_due: m
                    .next_due
                    .as_ref()
                    .and_then(from_timestamp)
                    .ok_or_else(|| invalid(ty, "next_due missing"))?,
            }
        }
        "MediationFollowedUp" => {
            let m = pb::MediationFollowedUp::decode(payload).map_err(proto)?;
            MediationEvent::FollowedUp { note: m.note, next_due: m.next_due.as_ref().and_then(from_timestamp) }
        }
        "MediationConcluded" => {
            let m = pb::MediationConcluded::decode(payload).map_err(proto)?;
            let outcome = match m.outcome() {
                pb::MediationOutcome::Agreed => Outcome::Agreed,
                pb::MediationOutcome::Failed => Outcome::Failed(from_referral(m.referral())),
                pb::MediationOutcome::Consultation => Outcome::Consultation,
                pb::MediationOutcome::Unspecified => return Err(invalid(ty, "outcome missing")),
            };
            MediationEvent::Concluded { outcome, summary: m.summary, signed_by: m.signed_by }
        }
        _ => return Err(DecodeError::UnknownType { event_type: ty.to_string() }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn every_mediation_event_round_trips() {
        let at = Utc.with_ymd_and_hms(2026, 3, 9, 1, 0, 0).unwrap();
        let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let events = [
            MediationEvent::Opened {
                origin: Origin::CollectedTopic { collected_from: "痛点箱".into(), agenda_topic: Some(3) },
                level: SessionLevel::Building,
                topic: "e-bike charging".into(),
                kind: MatterKind::Hearing,
                professional: Some(Role::PropertyCompany),
                convenor: "Chair".into(),
                register: Some(Group::new(GroupKind::Courtyard, "幸福里院落").unwrap()),
            },
            MediationEvent::Opened {
                origin: Origin::CollectedTopic { collected_from: "楼栋长".into(), agenda_topic: None },
                level: SessionLevel::Grid,
                topic: "3号楼加装电梯".into(),
                kind: MatterKind::Decision,
                professional: None,
                convenor: "Chair".into(),
                register: Some(Group::new(GroupKind::Building, "3号楼").unwrap()),
            },
            MediationEvent::Invited { participant: Participant { name: "Zhang".into(), role: Role::Party } },
            MediationEvent::Notified,
            MediationEvent::DeliberationOpened { present: names(&["Chair", "Zhang"]) },
            MediationEvent::StatementMade { statement: Statement { speaker: "Zhang".into(), text: "t".into() } },
            MediationEvent::ResidentStatementSubmitted { resident: "居民07".into(), text: "请早点开工".into() },
            MediationEvent::MotionVoted {
                motion: "m".into(),
                yes: names(&["Chair"]),
                no: names(&["Zhang"]),
                abstain: vec![],
                carried: false,
            },
            MediationEvent::AgreementSigned { signed_by: names(&["Zhang"]), notice_until: at, residents_concerned: 40 },
            MediationEvent::ObjectionRaised { residents: names(&["r1"]), threshold_reached: true },
            MediationEvent::BallotOpened { motion: "m".into(), secret: true, eligible: names(&["r1", "r2"]) },
            MediationEvent::BallotCast { voter: "r1".into(), choice: Choice::Abstain },
            MediationEvent::BallotClosed {
                motion: "m".into(),
                yes: 3,
                no: 1,
                abstain: 1,
                eligible: 9,
                quorate: true,
                carried: true,
            },
            MediationEvent::Reconsidered { reason: "复议".into() },
            MediationEvent::ExecutionSuspended { reason: "暂缓".into() },
            MediationEvent::Concluded {
                outcome: Outcome::Failed(Referral::Litigation),
                summary: "s".into(),
                signed_by: vec![],
            },
            MediationEvent::Concluded { outcome: Outcome::Consultation, summary: "s".into(), signed_by: vec![] },
            MediationEvent::FollowUpScheduled { due: at },
            MediationEvent::FollowUpOverdue { due: at, next_due: at + chrono::Duration::days(15) },
            MediationEvent::FollowedUp { note: "n".into(), next_due: Some(at) },
            MediationEvent::FollowedUp { note: "settled".into(), next_due: None },
        ];
        for event in events {
            let (ty, payload) = encode_mediation_event("m1", "", &event);
            assert_eq!(decode_mediation_event(&ty, &payload).unwrap(), event, "{ty}");
        }
    }

    #[test]
    fn a_session_opened_before_the_council_procedure_decodes_at_its_ladder_level() {
        let case_id = CaseId(uuid::Uuid::nil());
        let old = pb::MediationOpened {
            mediation_id: "m1".into(),
            case_id: case_id.to_string(),
            level: pb::Level::District as i32,
            topic: "noise".into(),
            ..Default::default()
        };
        let event = decode_mediation_event("gridloop.v1.MediationOpened", &old.encode_to_vec()).unwrap();
        assert_eq!(
            event,
            MediationEvent::Opened {
                origin: Origin::Case { case_id },
                level: SessionLevel::Street,
                topic: "noise".into(),
                kind: MatterKind::Deliberation,
                professional: None,
                convenor: String::new(),
                register: None,
            }
        );
    }
}
