//! The mediation service: opens a session (调解 / 议事) when dispatch asks for one or when a topic
//! collected from residents is proposed (议题征集), runs the council's procedure step by step, and
//! tells dispatch the outcome through its events (`MediationConcluded`).

use async_trait::async_trait;
use gridloop_bus::timers::TimerHandler;
use gridloop_bus::{Clock, EventHandler, HandlerError, Subscription};
use gridloop_domain::calendar::WorkingCalendar;
use gridloop_domain::case::CaseEvent;
use gridloop_domain::ids::{CaseId, MediationId};
use gridloop_domain::mediation::{
    self, Mediation, MediationCommand, MediationError, MediationEvent, MediationRules, Notice, Origin, Outcome,
    Participant, Referral, Response as ObjectionResponse, Session, Stage, Statement,
};
use gridloop_eventstore::{
    Commit, DueTimer, EventStore, ExpectedVersion, RecordedEvent, StoreError, StoreTx, StreamAppend,
};
use gridloop_proto::convert::{self, decode_mediation_event, encode_mediation_event};
use gridloop_proto::edge::{
    self, actor_from, case_timer, failed_precondition, invalid_argument, EventContext, Violations,
};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::mediation_service_server::{MediationService, MediationServiceServer};
use std::sync::Arc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub const SERVICE: &str = "mediation";
/// The durable timer of a session's next follow-up (监督).
const FOLLOW_UP_TIMER: &str = "mediation-follow-up";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct MediationSvc {
    store: EventStore,
    clock: Arc<dyn Clock>,
    rules: MediationRules,
    /// The working-time calendar a notice period in working days is counted on.
    calendar: Arc<WorkingCalendar>,
}

struct Loaded {
    state: Mediation,
    records: Vec<RecordedEvent>,
}

impl Loaded {
    fn version(&self) -> u64 {
        self.records.len() as u64
    }
}

fn mediation_error(id: MediationId, e: MediationError) -> Status {
    match e {
        MediationError::Invalid { field, reason } => invalid_argument(field, reason),
        MediationError::NotFound => Status::not_found(format!("mediation {id} not found")),
        MediationError::AlreadyConcluded => failed_precondition("mediation", "STATE_CONCLUDED", e.to_string()),
        MediationError::Refused { stage, .. } => {
            failed_precondition("mediation", &format!("STAGE_{}", stage.to_uppercase()), e.to_string())
        }
    }
}

/// Record that a session exists (for which case, where, at which level) in the same transaction
/// as its opening.
async fn record_session(
    tx: &mut StoreTx,
    id: MediationId,
    opened: &RecordedEvent,
    session: &Session,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mediation_sessions (mediation_id, case_id, opened_position, area_code, session_level, opened_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.to_string())
    .bind(session.origin.case_id().map(|c| c.to_string()).unwrap_or_default())
    .bind(opened.global_position)
    .bind(&opened.routing_key)
    .bind(session.level.as_str())
    .bind(opened.occurred_at.timestamp_micros())
    .execute(tx.conn().await?)
    .await?;
    Ok(())
}

/// Keep the figures' read model in step with a session's later events, in their transaction.
async fn record_progress(tx: &mut StoreTx, id: MediationId, events: &[RecordedEvent]) -> Result<(), Status> {
    for record in events {
        let event =
            decode_mediation_event(&record.event_type, &record.payload).map_err(|e| Status::internal(e.to_string()))?;
        let query = match &event {
            MediationEvent::DeliberationOpened { .. } => {
                sqlx::query("UPDATE mediation_sessions SET held = 1 WHERE mediation_id = $1").bind(id.to_string())
            }
            MediationEvent::Concluded { outcome, .. } => {
                let outcome = match outcome {
                    Outcome::Agreed => "agreed",
                    Outcome::Consultation => "consultation",
                    Outcome::Failed(Referral::BackToUnit) => "failed:back_to_unit",
                    Outcome::Failed(Referral::EscalateOneLevel) => "failed:escalate_one_level",
                    Outcome::Failed(Referral::Litigation) => "failed:litigation",
                };
                sqlx::query("UPDATE mediation_sessions SET concluded_at = $2, outcome = $3 WHERE mediation_id = $1")
                    .bind(id.to_string())
                    .bind(record.occurred_at.timestamp_micros())
                    .bind(outcome)
            }
            _ => continue,
        };
        query.execute(tx.conn().await.map_err(edge::store_error)?).await.map_err(|e| edge::store_error(e.into()))?;
    }
    Ok(())
}

impl MediationSvc {
    pub async fn new(store: EventStore, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        store.migrate_extra(&MIGRATOR, &MIGRATOR).await?;
        Ok(Self {
            store,
            clock,
            rules: MediationRules::default(),
            calendar: Arc::new(WorkingCalendar::china_mainland()),
        })
    }

    /// The council rules in force (quorum, notice period, turns) and the city's calendar.
    pub fn with_rules(self, rules: MediationRules, calendar: WorkingCalendar) -> Self {
        Self { rules, calendar: Arc::new(calendar), ..self }
    }

    pub fn into_server(self) -> MediationServiceServer<Self> {
        MediationServiceServer::new(self)
    }

    pub fn subscriptions(&self) -> Vec<Subscription> {
        vec![Subscription {
            consumer: "mediation.dispatch".into(),
            sources: vec!["dispatch".into()],
            event_types: vec![convert::event_type("CaseMediationRequested")],
            handler: Arc::new(self.clone()),
        }]
    }

    async fn load(&self, id: MediationId) -> Result<Loaded, Status> {
        let records = self.store.read_stream(&id.stream(), 1).await.map_err(edge::store_error)?;
        let mut state = Mediation::default();
        for record in &records {
            let event = decode_mediation_event(&record.event_type, &record.payload)
                .map_err(|e| Status::internal(e.to_string()))?;
            state = mediation::evolve(state, &event).map_err(|e| Status::internal(e.to_string()))?;
        }
        Ok(Loaded { state, records })
    }

    async fn load_existing(&self, id: MediationId) -> Result<Loaded, Status> {
        let loaded = self.load(id).await?;
        if loaded.state == Mediation::New {
            return Err(Status::not_found(format!("mediation {id} not found")));
        }
        Ok(loaded)
    }

    async fn latest_for_case(&self, case_id: &str) -> Result<MediationId, Status> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT mediation_id FROM mediation_sessions WHERE case_id = $1 ORDER BY opened_position DESC LIMIT 1",
        )
        .bind(case_id)
        .fetch_optional(self.store.pool())
        .await
        .map_err(|e| edge::store_error(e.into()))?;
        let (id,) = row.ok_or_else(|| Status::not_found(format!("no mediation for case {case_id}")))?;
        Ok(MediationId(Uuid::parse_str(&id).map_err(|e| Status::internal(e.to_string()))?))
    }

    /// Run one step of the procedure on an existing session and return the session after it.
    async fn step(
        &self,
        mediation_id: &str,
        actor: Option<&pb::Actor>,
        command: MediationCommand,
    ) -> Result<Response<pb::MediationView>, Status> {
        let id = MediationId(edge::parse_uuid("mediation_id", mediation_id)?);
        let loaded = self.load(id).await?;
        let now = self.clock.now();
        let events = mediation::decide(&loaded.state, &command, &self.rules, &self.calendar, now)
            .map_err(|e| mediation_error(id, e))?;
        let Some(first) = loaded.records.first() else {
            return Err(Status::internal("open mediation without its opening event"));
        };
        let context = EventContext {
            actor: actor_from(actor),
            correlation_id: first.correlation_id.clone(),
            causation_id: format!("command:{}", command.name()),
            traceparent: first.traceparent.clone(),
            occurred_at: now,
            routing_key: first.routing_key.clone(),
        };
        let commit = Self::commit_for(id, &loaded, &events, &context);
        let mut tx = self.store.begin().await.map_err(edge::store_error)?;
        let applied = tx.apply(commit).await.map_err(edge::store_error)?;
        record_progress(&mut tx, id, &applied).await?;
        tx.commit().await.map_err(edge::store_error)?;
        Ok(Response::new(view(id, &self.load(id).await?)))
    }

    /// The commit that appends `events` to a loaded session, with its follow-up timer armed for
    /// the state after them (or disarmed once the matter is settled).
    fn commit_for(id: MediationId, loaded: &Loaded, events: &[MediationEvent], context: &EventContext) -> Commit {
        let after = events.iter().try_fold(loaded.state.clone(), mediation::evolve).unwrap_or_default();
        let case_id = after.session().and_then(|s| s.origin.case_id()).map(|c| c.to_string()).unwrap_or_default();
        let (schedule, cancel) = match &after {
            Mediation::Concluded { follow_up, .. } if !events.is_empty() => {
                case_timer::arm(FOLLOW_UP_TIMER, id, *follow_up)
            }
            _ => (vec![], vec![]),
        };
        Commit {
            appends: vec![StreamAppend {
                stream: id.stream(),
                expected: ExpectedVersion::Exact(loaded.version()),
                events: events
                    .iter()
                    .map(|e| context.event(encode_mediation_event(&id.to_string(), &case_id, e)))
                    .collect(),
            }],
            schedule,
            cancel,
            ..Commit::default()
        }
    }
}

fn view(id: MediationId, loaded: &Loaded) -> pb::MediationView {
    let mut view = pb::MediationView {
        mediation_id: id.to_string(),
        version: loaded.version(),
        history: loaded.records.iter().map(history_entry).collect(),
        ..Default::default()
    };
    let Some(session) = loaded.state.session() else { return view };
    view.case_id = session.origin.case_id().map(|c| c.to_string()).unwrap_or_default();
    view.collected_from = match &session.origin {
        Origin::Case { .. } => String::new(),
        Origin::CollectedTopic { collected_from } => collected_from.clone(),
    };
    view.level = convert::level(convert::ladder_level(session.level)) as i32;
    view.session_level = convert::session_level(session.level) as i32;
    view.topic = session.topic.clone();
    view.kind = convert::matter_kind(session.kind) as i32;
    view.professional = session.professional.map_or(pb::ParticipantRole::Unspecified, convert::role) as i32;
    view.convenor = session.convenor.clone();
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
        view.objectors = n.objectors.clone();
    };
    let (state, stage) = match &loaded.state {
        Mediation::New => return view,
        Mediation::Open { stage, .. } => {
            let stage = match stage {
                Stage::Proposed => pb::MediationStage::Proposed,
                Stage::Notified => pb::MediationStage::Notified,
                Stage::Deliberating { present, statements: said } => {
                    view.present = present.clone();
                    view.statements = statements(said);
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

fn history_entry(record: &RecordedEvent) -> pb::MediationHistoryEntry {
    let detail = decode_mediation_event(&record.event_type, &record.payload)
        .map_or_else(|e| format!("undecodable: {e}"), |event| describe(&event));
    pb::MediationHistoryEntry {
        version: record.stream_version,
        occurred_at: Some(convert::timestamp(record.occurred_at)),
        event_type: record.event_type.strip_prefix("gridloop.v1.").unwrap_or(&record.event_type).to_string(),
        actor_id: record.actor.id.clone(),
        detail,
    }
}

/// One line for the session's history.
fn describe(event: &MediationEvent) -> String {
    let list = |names: &[String]| names.join(", ");
    match event {
        MediationEvent::Opened { level, topic, kind, convenor, .. } => {
            format!("{} session on {topic:?} ({kind:?}), convenor {convenor}", level.as_str())
        }
        MediationEvent::Invited { participant } => format!("invited {} ({:?})", participant.name, participant.role),
        MediationEvent::Notified => "participants notified".into(),
        MediationEvent::DeliberationOpened { present } => format!("sitting; present: {}", list(present)),
        MediationEvent::StatementMade { statement } => format!("{}: {}", statement.speaker, statement.text),
        MediationEvent::MotionVoted { motion, yes, no, abstain, carried } => format!(
            "motion {motion:?} {} ({} yes, {} no, {} abstain)",
            if *carried { "carried" } else { "not carried" },
            yes.len(),
            no.len(),
            abstain.len()
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

fn role_field(field: &str, value: i32, v: &mut Violations) -> Option<mediation::Role> {
    let role = pb::ParticipantRole::try_from(value).ok().and_then(convert::from_role);
    v.check(role.is_some(), field, "a participant role is required");
    role
}

#[async_trait]
impl EventHandler for MediationSvc {
    async fn handle(&self, source: &str, event: &RecordedEvent) -> Result<(), HandlerError> {
        let Ok(CaseEvent::MediationRequested { level, topic }) =
            convert::decode_case_event(&event.event_type, &event.payload)
        else {
            return Err(HandlerError::Poison(format!("{} is not a mediation request", event.event_type)));
        };
        let case_id = CaseId::parse(&event.correlation_id)
            .map_err(|_| HandlerError::Poison(format!("bad case id {:?}", event.correlation_id)))?;
        // The session id is derived from the request, so a redelivery names the same session.
        let id = MediationId(Uuid::new_v5(&Uuid::NAMESPACE_OID, event.event_id.as_bytes()));
        // The unit that asked (its handler, else the unit) convenes the session.
        let convenor = if event.actor.id.is_empty() { event.routing_key.clone() } else { event.actor.id.clone() };
        let command = MediationCommand::Open {
            origin: Origin::Case { case_id },
            level: mediation::SessionLevel::for_case(level),
            topic,
            kind: mediation::MatterKind::Deliberation,
            professional: None,
            convenor,
        };
        let events = mediation::decide(&Mediation::New, &command, &self.rules, &self.calendar, self.clock.now())
            .map_err(|e| HandlerError::Poison(e.to_string()))?;
        let context = EventContext::caused_by(event, edge::system_actor(SERVICE), self.clock.now());
        let commit = Commit {
            appends: vec![StreamAppend {
                stream: id.stream(),
                expected: ExpectedVersion::NoStream,
                events: events
                    .iter()
                    .map(|e| context.event(encode_mediation_event(&id.to_string(), &case_id.to_string(), e)))
                    .collect(),
            }],
            inbox: Some((format!("mediation.{source}"), event.event_id)),
            ..Commit::default()
        };
        let transient = |e: StoreError| HandlerError::Transient(e.to_string());
        let mut tx = self.store.begin().await.map_err(transient)?;
        let applied = match tx.apply(commit).await {
            Ok(applied) => applied,
            Err(StoreError::AlreadyProcessed { .. } | StoreError::Conflict { .. }) => return Ok(()),
            Err(e) => return Err(transient(e)),
        };
        let (Some(opened), Some(session)) = (
            applied.first(),
            events.iter().try_fold(Mediation::New, mediation::evolve).ok().and_then(|m| m.session().cloned()),
        ) else {
            return Err(HandlerError::Poison("opening a session appended nothing".into()));
        };
        record_session(&mut tx, id, opened, &session).await.map_err(|e| HandlerError::Transient(e.to_string()))?;
        tx.commit().await.map_err(transient)
    }
}

#[async_trait]
impl TimerHandler for MediationSvc {
    async fn fire(&self, timer: &DueTimer) -> Result<(), HandlerError> {
        let (id, due): (MediationId, _) = case_timer::parse(FOLLOW_UP_TIMER, timer).map_err(HandlerError::Poison)?;
        let transient = |e: Status| HandlerError::Transient(e.to_string());
        let loaded = self.load(id).await.map_err(transient)?;
        let now = self.clock.now();
        let events = mediation::decide(
            &loaded.state,
            &MediationCommand::FollowUpTimerFired { due },
            &self.rules,
            &self.calendar,
            now,
        )
        .map_err(|e| HandlerError::Poison(e.to_string()))?;
        let Some(first) = loaded.records.first() else {
            return Err(HandlerError::Poison(format!("no session {id} for timer {}", timer.key)));
        };
        let context = EventContext {
            actor: edge::system_actor(SERVICE),
            correlation_id: first.correlation_id.clone(),
            causation_id: format!("timer:{}:{}", timer.key, timer.generation),
            traceparent: first.traceparent.clone(),
            occurred_at: now,
            routing_key: first.routing_key.clone(),
        };
        let commit = Commit {
            fire: Some((timer.key.clone(), timer.generation)),
            ..Self::commit_for(id, &loaded, &events, &context)
        };
        match self.store.commit(commit).await {
            Ok(_) | Err(StoreError::TimerGone { .. }) => Ok(()),
            Err(e) => Err(HandlerError::Transient(e.to_string())),
        }
    }
}

#[tonic::async_trait]
impl MediationService for MediationSvc {
    async fn get_mediation(
        &self,
        request: Request<pb::GetMediationRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        let id = match (r.mediation_id.is_empty(), r.case_id.is_empty()) {
            (false, _) => MediationId(edge::parse_uuid("mediation_id", &r.mediation_id)?),
            (true, false) => self.latest_for_case(&edge::parse_uuid("case_id", &r.case_id)?.to_string()).await?,
            (true, true) => return Err(invalid_argument("mediation_id", "give mediation_id or case_id")),
        };
        Ok(Response::new(view(id, &self.load_existing(id).await?)))
    }

    async fn conclude_mediation(
        &self,
        request: Request<pb::ConcludeMediationRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        let agreed = match r.outcome() {
            pb::MediationOutcome::Agreed => true,
            pb::MediationOutcome::Failed => false,
            pb::MediationOutcome::Unspecified | pb::MediationOutcome::Consultation => {
                return Err(invalid_argument("outcome", "required (agreed or failed)"))
            }
        };
        let command = MediationCommand::Conclude { agreed, summary: r.summary, signed_by: r.signed_by };
        self.step(&r.mediation_id, r.actor.as_ref(), command).await
    }

    async fn propose_topic(
        &self,
        request: Request<pb::ProposeTopicRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let id = MediationId(Uuid::now_v7());
        let traceparent = edge::case_traceparent(request.metadata(), id.0);
        let r = request.into_inner();
        let mut v = Violations::default();
        let level = convert::from_session_level(r.level());
        v.check(level.is_some(), "level", "a session level is required");
        let kind = convert::from_matter_kind(r.kind());
        v.check(kind.is_some(), "kind", "a matter kind is required");
        v.check(!r.area_code.trim().is_empty(), "area_code", "required");
        let professional = match r.professional() {
            pb::ParticipantRole::Unspecified => None,
            _ => role_field("professional", r.professional, &mut v),
        };
        v.into_result()?;
        let (Some(level), Some(kind)) = (level, kind) else { unreachable!("checked above") };
        let command = MediationCommand::Open {
            origin: Origin::CollectedTopic { collected_from: r.collected_from },
            level,
            topic: r.topic,
            kind,
            professional,
            convenor: r.convenor,
        };
        let now = self.clock.now();
        let events = mediation::decide(&Mediation::New, &command, &self.rules, &self.calendar, now)
            .map_err(|e| mediation_error(id, e))?;
        let context = EventContext {
            actor: actor_from(r.actor.as_ref()),
            correlation_id: id.to_string(),
            causation_id: "command:propose_topic".into(),
            traceparent,
            occurred_at: now,
            routing_key: r.area_code,
        };
        let commit = Commit {
            appends: vec![StreamAppend {
                stream: id.stream(),
                expected: ExpectedVersion::NoStream,
                events: events.iter().map(|e| context.event(encode_mediation_event(&id.to_string(), "", e))).collect(),
            }],
            ..Commit::default()
        };
        let mut tx = self.store.begin().await.map_err(edge::store_error)?;
        let applied = tx.apply(commit).await.map_err(edge::store_error)?;
        let (Some(opened), Some(session)) = (
            applied.first(),
            events.iter().try_fold(Mediation::New, mediation::evolve).ok().and_then(|m| m.session().cloned()),
        ) else {
            return Err(Status::internal("opening a session appended nothing"));
        };
        record_session(&mut tx, id, opened, &session).await.map_err(edge::store_error)?;
        tx.commit().await.map_err(edge::store_error)?;
        Ok(Response::new(view(id, &self.load(id).await?)))
    }

    async fn invite_participant(
        &self,
        request: Request<pb::InviteParticipantRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        let mut v = Violations::default();
        let role = role_field("role", r.role, &mut v);
        v.into_result()?;
        let Some(role) = role else { unreachable!("checked above") };
        let command = MediationCommand::Invite { participant: Participant { name: r.name, role } };
        self.step(&r.mediation_id, r.actor.as_ref(), command).await
    }

    async fn notify_participants(
        &self,
        request: Request<pb::MediationStepRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        self.step(&r.mediation_id, r.actor.as_ref(), MediationCommand::Notify).await
    }

    async fn open_deliberation(
        &self,
        request: Request<pb::OpenDeliberationRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        self.step(&r.mediation_id, r.actor.as_ref(), MediationCommand::OpenDeliberation { present: r.present }).await
    }

    async fn make_statement(
        &self,
        request: Request<pb::MakeStatementRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        let command = MediationCommand::MakeStatement { statement: Statement { speaker: r.speaker, text: r.text } };
        self.step(&r.mediation_id, r.actor.as_ref(), command).await
    }

    async fn put_motion(&self, request: Request<pb::PutMotionRequest>) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        let command = MediationCommand::PutMotion { motion: r.motion, yes: r.yes, no: r.no, abstain: r.abstain };
        self.step(&r.mediation_id, r.actor.as_ref(), command).await
    }

    async fn sign_agreement(
        &self,
        request: Request<pb::SignAgreementRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        let command =
            MediationCommand::SignAgreement { signed_by: r.signed_by, residents_concerned: r.residents_concerned };
        self.step(&r.mediation_id, r.actor.as_ref(), command).await
    }

    async fn raise_objection(
        &self,
        request: Request<pb::RaiseObjectionRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        self.step(&r.mediation_id, r.actor.as_ref(), MediationCommand::RaiseObjection { residents: r.residents }).await
    }

    async fn respond_to_objection(
        &self,
        request: Request<pb::RespondToObjectionRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        let response = match r.response() {
            pb::ObjectionResponse::Reconsider => ObjectionResponse::Reconsider,
            pb::ObjectionResponse::Suspend => ObjectionResponse::Suspend,
            pb::ObjectionResponse::Unspecified => {
                return Err(invalid_argument("response", "required (reconsider or suspend)"))
            }
        };
        let command = MediationCommand::RespondToObjection { response, reason: r.reason };
        self.step(&r.mediation_id, r.actor.as_ref(), command).await
    }

    async fn execute_agreement(
        &self,
        request: Request<pb::MediationStepRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        self.step(&r.mediation_id, r.actor.as_ref(), MediationCommand::Execute).await
    }

    async fn record_no_agreement(
        &self,
        request: Request<pb::RecordNoAgreementRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        let referral = match r.referral() {
            pb::MediationReferral::EscalateOneLevel => Referral::EscalateOneLevel,
            pb::MediationReferral::Litigation => Referral::Litigation,
            pb::MediationReferral::Unspecified => {
                return Err(invalid_argument("referral", "required (escalate one level or litigation)"))
            }
        };
        let command = MediationCommand::RecordNoAgreement { referral, summary: r.summary };
        self.step(&r.mediation_id, r.actor.as_ref(), command).await
    }

    async fn record_consultation(
        &self,
        request: Request<pb::RecordConsultationRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        self.step(&r.mediation_id, r.actor.as_ref(), MediationCommand::RecordConsultation { summary: r.summary }).await
    }

    async fn record_follow_up(
        &self,
        request: Request<pb::RecordFollowUpRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        let command = MediationCommand::FollowUp { note: r.note, settled: r.settled };
        self.step(&r.mediation_id, r.actor.as_ref(), command).await
    }

    async fn get_mediation_figures(
        &self,
        request: Request<pb::GetMediationFiguresRequest>,
    ) -> Result<Response<pb::MediationFigures>, Status> {
        let r = request.into_inner();
        if !r.area.is_empty()
            && (!r.area.bytes().all(|b| b.is_ascii_digit()) || ![6, 9, 12, 15].contains(&r.area.len()))
        {
            return Err(invalid_argument("area", "a jurisdiction code: 6, 9, 12 or 15 digits"));
        }
        let micros = |t: Option<&prost_types::Timestamp>, field: &str, unbounded: i64| match t {
            None => Ok(unbounded),
            Some(t) => convert::from_timestamp(t)
                .map(|t| t.timestamp_micros())
                .ok_or_else(|| invalid_argument(field, "not a valid timestamp")),
        };
        let from = micros(r.from.as_ref(), "from", i64::MIN)?;
        let to = micros(r.to.as_ref(), "to", i64::MAX)?;
        let rows: Vec<(i64, i64, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT opened_at, held, concluded_at, outcome FROM mediation_sessions WHERE area_code LIKE $1",
        )
        .bind(format!("{}%", r.area))
        .fetch_all(self.store.pool())
        .await
        .map_err(|e| edge::store_error(e.into()))?;
        let mut figures = pb::MediationFigures::default();
        let mut days_to_agreement = Vec::new();
        for (opened_at, held, concluded_at, outcome) in rows {
            if held == 1 && (from..to).contains(&opened_at) {
                figures.sessions_held += 1;
            }
            let (Some(concluded_at), Some(outcome)) = (concluded_at, outcome) else { continue };
            if !(from..to).contains(&concluded_at) {
                continue;
            }
            match outcome.as_str() {
                "consultation" => figures.consultations += 1,
                "agreed" => {
                    figures.succeeded += 1;
                    days_to_agreement.push((concluded_at - opened_at) as f64 / 86_400_000_000.0);
                }
                "failed:litigation" => figures.referred_to_litigation += 1,
                "failed:escalate_one_level" => figures.escalated += 1,
                _ => {}
            }
            if outcome != "consultation" {
                figures.mediated += 1;
            }
        }
        figures.median_days_to_agreement = median(&mut days_to_agreement);
        Ok(Response::new(figures))
    }
}

/// The median of `values` (the mean of the middle two for an even count); 0 when empty.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&mut []), 0.0);
        assert_eq!(median(&mut [9.0, 1.0, 4.0]), 4.0);
        assert_eq!(median(&mut [9.0, 1.0, 4.0, 2.0]), 3.0);
    }
}
