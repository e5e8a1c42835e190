//! 一事一档: the record of one matter, assembled from its session's stream and, when the session
//! deliberates a topic from its area's agenda, the agenda's events about that topic — the
//! streams themselves, no second store.

use crate::grpc::status;
use crate::residents::agenda_refused;
use crate::view::{history_entries, Reader};
use crate::MediationSvc;
use gridloop_domain::access::Rpc;
use gridloop_domain::agenda::{AgendaEvent, AgendaId, Method};
use gridloop_domain::ids::MediationId;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::mediation::{fifth_of, MatterStatus, Mediation, MediationEvent, Origin, Stage};
use gridloop_eventstore::RecordedEvent;
use gridloop_kit::authorize::{session_object, Named};
use gridloop_kit::{grpc, Caller};
use gridloop_proto::convert;
use gridloop_proto::v1 as pb;
use tonic::{Request, Status};

/// Which part of the record a session event belongs to.
fn section(event: &MediationEvent) -> &'static str {
    use MediationEvent as E;
    match event {
        E::Opened { .. } => "proposal",
        E::Invited { .. } | E::Notified => "preparation",
        E::DeliberationOpened { .. } => "sitting",
        E::StatementMade { .. } => "statement",
        E::ResidentStatementSubmitted { .. } => "resident_statement",
        E::BallotOpened { .. } | E::BallotCast { .. } => "ballot",
        E::MotionVoted { .. } | E::BallotClosed { .. } => "decision",
        E::AgreementSigned { .. } => "publication",
        E::ObjectionRaised { .. } => "objection",
        E::Reconsidered { .. } | E::ExecutionSuspended { .. } => "council_response",
        E::Concluded { .. } => "outcome",
        E::FollowUpScheduled { .. } | E::FollowUpOverdue { .. } | E::FollowedUp { .. } => "follow_up",
    }
}

fn method_name(method: Method) -> String {
    match method {
        Method::D21 { plus_votes } => format!("D21, {plus_votes} plus votes"),
        Method::Points531 => "531".to_string(),
    }
}

/// What the agenda says about topic `number`, one line an event; `None` for events about others.
fn agenda_detail(event: &AgendaEvent, number: u32, reader: &Reader) -> Option<(&'static str, String)> {
    match event {
        AgendaEvent::TopicProposed { number: n, title, proposer, collected_from, priorities } if *n == number => {
            let flags = [
                (priorities.shared_concern, "shared concern"),
                (priorities.special_groups, "special groups"),
                (priorities.urgent, "urgent"),
            ];
            let flags: Vec<&str> = flags.iter().filter(|(set, _)| *set).map(|(_, name)| *name).collect();
            let detail = format!(
                "topic {n} {title:?} proposed by {} via {collected_from}; priorities: {}",
                reader.resident(proposer),
                if flags.is_empty() { "none".to_string() } else { flags.join(", ") }
            );
            Some(("proposal", detail))
        }
        AgendaEvent::TopicsMerged { duplicate, into } if *into == number => {
            Some(("proposal", format!("topic {duplicate} merged into it as a duplicate")))
        }
        AgendaEvent::RankingOpened { method, topics } if topics.contains(&number) => {
            Some(("ranking", format!("ranking opened ({}) among {} topics", method_name(*method), topics.len())))
        }
        AgendaEvent::RankingClosed { ballots, order } => {
            let place = order.iter().position(|r| r.number == number)?;
            let ranked = &order[place];
            let detail = format!(
                "ranked {} of {} with score {} ({} plus, {} minus) from {ballots} ballots{}",
                place + 1,
                order.len(),
                ranked.score,
                ranked.plus,
                ranked.minus,
                if ranked.tied { "; tie broken by priorities, then the order proposed" } else { "" }
            );
            Some(("ranking", detail))
        }
        _ => None,
    }
}

fn agenda_entries(
    history: &[(RecordedEvent, AgendaEvent)],
    number: u32,
    reader: &Reader,
) -> Vec<pb::MatterRecordEntry> {
    history
        .iter()
        .filter_map(|(record, event)| {
            let (section, detail) = agenda_detail(event, number, reader)?;
            Some(pb::MatterRecordEntry {
                occurred_at: Some(convert::timestamp(record.occurred_at)),
                section: section.to_string(),
                event_type: convert::short_type(&record.event_type).to_string(),
                actor_id: reader.resident(&record.actor.id),
                detail,
            })
        })
        .collect()
}

/// The motion the council carried last, from the history.
fn last_motion(history: &[(RecordedEvent, MediationEvent)]) -> String {
    history
        .iter()
        .rev()
        .find_map(|(_, event)| match event {
            MediationEvent::MotionVoted { motion, carried: true, .. }
            | MediationEvent::BallotClosed { motion, carried: true, .. } => Some(motion.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The record's heading: the matter, where it stands, its notice and follow-ups.
fn heading(
    id: MediationId,
    area: &str,
    state: &Mediation,
    history: &[(RecordedEvent, MediationEvent)],
) -> pb::MatterRecord {
    let mut record = pb::MatterRecord {
        mediation_id: id.to_string(),
        area_code: area.to_string(),
        status: MatterStatus::of(state).as_str().to_string(),
        motion: last_motion(history),
        ..Default::default()
    };
    if let Some(session) = state.session() {
        record.topic = session.topic.clone();
        record.session_level = convert::session_level(session.level) as i32;
        record.kind = convert::matter_kind(session.kind) as i32;
        record.convenor = session.convenor.clone();
        record.case_id = session.origin.case_id().map(|c| c.to_string()).unwrap_or_default();
        record.agenda_topic = session.origin.agenda_topic().unwrap_or(0);
        record.collected_from = match &session.origin {
            Origin::CollectedTopic { collected_from, .. } => collected_from.clone(),
            Origin::Case { .. } => String::new(),
        };
        record.participants = session
            .participants
            .iter()
            .map(|p| pb::MediationParticipant { name: p.name.clone(), role: convert::role(p.role) as i32 })
            .collect();
    }
    match state {
        Mediation::Open {
            stage: Stage::InNotice(notice) | Stage::Contested(notice) | Stage::Suspended { notice, .. },
            ..
        } => {
            record.residents_concerned = notice.residents_concerned;
            record.objections = notice.objectors.len() as u32;
            record.objections_needed = fifth_of(notice.residents_concerned);
        }
        Mediation::Concluded { follow_up, follow_ups, .. } => {
            record.follow_ups = *follow_ups;
            record.follow_up_due = follow_up.map(convert::timestamp);
        }
        _ => {}
    }
    record
}

impl MediationSvc {
    /// The record of the matter session `id` deliberates, as the caller may read it.
    pub(crate) async fn matter_record<T>(
        &self,
        request: &Request<T>,
        id: MediationId,
    ) -> Result<pb::MatterRecord, Status> {
        let loaded = self.sessions.load(id).await.map_err(|e| status(id, e))?;
        let (Some(session), Some(origin)) = (loaded.state.session(), loaded.origin()) else {
            return Err(Status::not_found(format!("mediation {id} not found")));
        };
        let (mediation_id, case_id) = (id.to_string(), session.origin.case_id().map(|c| c.to_string()));
        let named = Named { case_id: case_id.as_deref(), mediation_id: Some(&mediation_id) };
        let facts = session_object(&loaded.state, Some(&origin));
        grpc::may_read(request, Rpc::GetMatterRecord, facts.as_ref(), named)?;
        let principal = Caller::of(request)?.principal;
        let reader = Reader::of(principal.as_ref(), &loaded.history);
        let mut record = heading(id, &origin.routing_key, &loaded.state, &loaded.history);
        let said = history_entries(&loaded.history, &reader);
        let mut entries: Vec<pb::MatterRecordEntry> = loaded
            .history
            .iter()
            .zip(said)
            .map(|((_, event), entry)| pb::MatterRecordEntry {
                occurred_at: entry.occurred_at,
                section: section(event).to_string(),
                event_type: entry.event_type,
                actor_id: entry.actor_id,
                detail: entry.detail,
            })
            .collect();
        if let Some(number) = session.origin.agenda_topic() {
            let area = AreaCode::new(&origin.routing_key)
                .map_err(|e| Status::internal(format!("session {id} routed to no area: {e}")))?;
            let agenda = self.agendas.load(AgendaId::of(&area)).await.map_err(agenda_refused)?;
            let mut before = agenda_entries(&agenda.history, number, &reader);
            before.append(&mut entries);
            entries = before;
            // Proposal and ranking come before the session; a later ranking takes its place in time.
            entries.sort_by_key(|e| e.occurred_at.as_ref().map(|t| (t.seconds, t.nanos)));
        }
        record.entries = entries;
        Ok(record)
    }
}
