//! The mediation service: opens a session (调解 / 议事) when dispatch asks for one, records the
//! outcome (a signed agreement or a failure) and tells dispatch through its events.

use async_trait::async_trait;
use gridloop_bus::{Clock, EventHandler, HandlerError, Subscription};
use gridloop_domain::case::CaseEvent;
use gridloop_domain::ids::{CaseId, MediationId};
use gridloop_domain::mediation::{self, Mediation, MediationCommand, MediationError, Outcome};
use gridloop_eventstore::{Commit, EventStore, ExpectedVersion, RecordedEvent, StoreError, StreamAppend};
use gridloop_proto::convert::{self, decode_mediation_event, encode_mediation_event};
use gridloop_proto::edge::{self, actor_from, failed_precondition, invalid_argument, EventContext};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::mediation_service_server::{MediationService, MediationServiceServer};
use std::sync::Arc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub const SERVICE: &str = "mediation";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct MediationSvc {
    store: EventStore,
    clock: Arc<dyn Clock>,
}

struct Loaded {
    state: Mediation,
    version: u64,
    first: Option<RecordedEvent>,
}

impl MediationSvc {
    pub async fn new(store: EventStore, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        store.migrate_extra(&MIGRATOR, &MIGRATOR).await?;
        Ok(Self { store, clock })
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
            state = mediation::evolve(state, &event);
        }
        Ok(Loaded { state, version: records.len() as u64, first: records.into_iter().next() })
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

    fn view(id: MediationId, loaded: &Loaded) -> pb::MediationView {
        let mut view =
            pb::MediationView { mediation_id: id.to_string(), version: loaded.version, ..Default::default() };
        let (case_id, level, topic, state) = match &loaded.state {
            Mediation::New => return view,
            Mediation::Open { case_id, level, topic } => (case_id, level, topic, pb::MediationState::Open),
            Mediation::Concluded { case_id, level, topic, outcome, summary, signed_by } => {
                view.summary = summary.clone();
                view.signed_by = signed_by.clone();
                let state = match outcome {
                    Outcome::Agreed => pb::MediationState::Agreed,
                    Outcome::Failed => pb::MediationState::Failed,
                };
                (case_id, level, topic, state)
            }
        };
        view.case_id = case_id.to_string();
        view.level = convert::level(*level) as i32;
        view.topic = topic.clone();
        view.state = state as i32;
        view
    }
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
        let events = mediation::decide(&Mediation::New, &MediationCommand::Open { case_id, level, topic })
            .map_err(|e| HandlerError::Poison(e.to_string()))?;
        let context = EventContext::caused_by(event, edge::system_actor(SERVICE), self.clock.now());
        let commit = Commit {
            appends: vec![StreamAppend {
                stream: id.stream(),
                expected: ExpectedVersion::NoStream,
                events: events
                    .iter()
                    .map(|e| context.event(encode_mediation_event(&id.to_string(), case_id, e)))
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
        let position = applied.first().map_or(0, |e| e.global_position);
        sqlx::query("INSERT INTO mediation_sessions (mediation_id, case_id, opened_position) VALUES ($1, $2, $3)")
            .bind(id.to_string())
            .bind(case_id.to_string())
            .bind(position)
            .execute(tx.conn())
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))?;
        tx.commit().await.map_err(transient)
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
        let loaded = self.load(id).await?;
        if loaded.state == Mediation::New {
            return Err(Status::not_found(format!("mediation {id} not found")));
        }
        Ok(Response::new(Self::view(id, &loaded)))
    }

    async fn conclude_mediation(
        &self,
        request: Request<pb::ConcludeMediationRequest>,
    ) -> Result<Response<pb::MediationView>, Status> {
        let r = request.into_inner();
        let id = MediationId(edge::parse_uuid("mediation_id", &r.mediation_id)?);
        let outcome = match r.outcome() {
            pb::MediationOutcome::Agreed => Outcome::Agreed,
            pb::MediationOutcome::Failed => Outcome::Failed,
            pb::MediationOutcome::Unspecified => {
                return Err(invalid_argument("outcome", "required (agreed or failed)"))
            }
        };
        let loaded = self.load(id).await?;
        let command = MediationCommand::Conclude { outcome, summary: r.summary, signed_by: r.signed_by };
        let events = mediation::decide(&loaded.state, &command).map_err(|e| match e {
            MediationError::Invalid { field, reason } => invalid_argument(field, reason),
            MediationError::NotFound => Status::not_found(format!("mediation {id} not found")),
            MediationError::AlreadyConcluded => failed_precondition("mediation", "STATE_CONCLUDED", e.to_string()),
        })?;
        let (Mediation::Open { case_id, .. }, Some(first)) = (&loaded.state, &loaded.first) else {
            return Err(Status::internal("open mediation without its opening event"));
        };
        let context = EventContext {
            actor: actor_from(r.actor.as_ref()),
            correlation_id: case_id.to_string(),
            causation_id: "command:conclude_mediation".into(),
            traceparent: first.traceparent.clone(),
            occurred_at: self.clock.now(),
            routing_key: first.routing_key.clone(),
        };
        let case_id = *case_id;
        let commit = Commit {
            appends: vec![StreamAppend {
                stream: id.stream(),
                expected: ExpectedVersion::Exact(loaded.version),
                events: events
                    .iter()
                    .map(|e| context.event(encode_mediation_event(&id.to_string(), case_id, e)))
                    .collect(),
            }],
            ..Commit::default()
        };
        self.store.commit(commit).await.map_err(edge::store_error)?;
        let after = Loaded {
            state: events.iter().fold(loaded.state, mediation::evolve),
            version: loaded.version + events.len() as u64,
            first: loaded.first,
        };
        Ok(Response::new(Self::view(id, &after)))
    }
}
