//! The dispatch service: routes each case up the ladder until it is settled (派单, 接单, 上提,
//! 转办, 办结, 重办). It owns the `case-<id>` streams; it listens to intake (new reports), mediation
//! (session outcomes) and evaluation (satisfaction), and to its own deadline timers. A report
//! intake linked to an existing case as a duplicate is added to that case's history.

use async_trait::async_trait;
use gridloop_bus::timers::TimerHandler;
use gridloop_bus::{Clock, EventHandler, HandlerError, Subscription};
use gridloop_domain::case::{
    self, Case, CaseCommand, CaseError, CaseEvent, CaseStatus, MediationVerdict, RoutingPolicy,
};
use gridloop_domain::feedback::FeedbackEvent;
use gridloop_domain::ids::CaseId;
use gridloop_domain::mediation::{MediationEvent, Outcome, Referral};
use gridloop_eventstore::{
    Commit, Committed, DueTimer, EventStore, ExpectedVersion, RecordedEvent, StoreError, StreamAppend,
};
use gridloop_proto::convert::{self, decode_case_event, encode_case_event};
use gridloop_proto::edge::{self, actor_from, case_timer, failed_precondition, invalid_argument, EventContext};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_server::{DispatchService, DispatchServiceServer};
use lru::LruCache;
use prost::Message;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use tonic::{Request, Response, Status};

pub const SERVICE: &str = "dispatch";
const DEADLINE_TIMER: &str = "deadline";
/// Retries of a command without an expected version when a concurrent writer got there first.
const CONFLICT_RETRIES: usize = 3;
/// Cases whose current state dispatch keeps in memory (see [`CaseCache`]).
const CACHED_CASES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Case(#[from] CaseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored event is unreadable: {0}")]
    Decode(#[from] convert::DecodeError),
    #[error("expected version {expected}, the case is at version {actual}")]
    WrongVersion { expected: u64, actual: u64 },
}

impl From<DispatchError> for Status {
    fn from(error: DispatchError) -> Status {
        match error {
            DispatchError::Case(CaseError::Invalid { field, reason }) => invalid_argument(field, reason),
            DispatchError::Case(CaseError::NotFound) => Status::not_found("case not found"),
            DispatchError::Case(CaseError::AlreadyOpened) => Status::already_exists("case already exists"),
            DispatchError::Case(e @ CaseError::Forbidden { state, .. }) => {
                failed_precondition("case", &format!("STATE_{}", state.to_uppercase()), e.to_string())
            }
            DispatchError::Store(e) => edge::store_error(e),
            DispatchError::WrongVersion { .. } => Status::aborted(error.to_string()),
            DispatchError::Decode(e) => Status::internal(e.to_string()),
        }
    }
}

impl From<DispatchError> for HandlerError {
    fn from(error: DispatchError) -> HandlerError {
        match error {
            DispatchError::Store(StoreError::Conflict { .. }) | DispatchError::Store(StoreError::Database(_)) => {
                HandlerError::Transient(error.to_string())
            }
            other => HandlerError::Poison(other.to_string()),
        }
    }
}

/// The case loaded from its stream, with the stored events it was folded from.
pub struct LoadedCase {
    pub case: Case,
    pub history: Vec<(RecordedEvent, CaseEvent)>,
}

impl LoadedCase {
    /// The case's trace, carried since its report.
    pub fn traceparent(&self) -> String {
        self.history.first().map(|(record, _)| record.traceparent.clone()).unwrap_or_default()
    }
}

/// A case as of its latest event, and the trace it has carried since its report.
#[derive(Clone)]
struct Current {
    case: Case,
    traceparent: String,
}

/// The current state of recently used cases, so that a command or a timer does not read and
/// fold the case's whole stream again. Only a shortcut: every commit still expects the exact
/// version its decision was made on, so a state that another writer (a second replica, an
/// import) has moved past fails with a conflict and is read again from the store.
struct CaseCache(Mutex<LruCache<CaseId, Current>>);

impl CaseCache {
    fn new(capacity: usize) -> Self {
        Self(Mutex::new(LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN))))
    }

    fn get(&self, case_id: CaseId) -> Option<Current> {
        self.0.lock().expect("case cache lock").get(&case_id).cloned()
    }

    fn put(&self, case_id: CaseId, current: Current) {
        self.0.lock().expect("case cache lock").put(case_id, current);
    }

    fn forget(&self, case_id: CaseId) {
        self.0.lock().expect("case cache lock").pop(&case_id);
    }
}

#[derive(Clone)]
pub struct Dispatch {
    store: EventStore,
    policy: Arc<dyn RoutingPolicy + Send + Sync>,
    clock: Arc<dyn Clock>,
    cache: Arc<CaseCache>,
}

/// Each part of a recorded policy and its hash.
fn fingerprint_parts(policy: &pb::PolicyConfigured) -> [(&'static str, &str); 3] {
    [
        ("jurisdiction", &policy.jurisdiction_sha256),
        ("catalog", &policy.catalog_sha256),
        ("calendar", &policy.calendar_sha256),
    ]
}

/// The stream of `PolicyConfigured` events: which routing rules were in force from when.
pub const POLICY_STREAM: &str = "policy";

impl Dispatch {
    /// Record `configured` unless the last recorded policy has the same fingerprint; returns
    /// whether it recorded. Several replicas may start at once: the append expects the version
    /// it read, and the one that loses the race re-reads and finds the same fingerprint.
    pub async fn record_policy(&self, mut configured: pb::PolicyConfigured) -> Result<bool, DispatchError> {
        let event_type = convert::event_type("PolicyConfigured");
        loop {
            let last = self.store.read_stream(POLICY_STREAM, 1).await?.pop();
            let previous = match &last {
                Some(event) => Some(
                    pb::PolicyConfigured::decode(event.payload.as_slice())
                        .map_err(|source| convert::DecodeError::Protobuf { event_type: event_type.clone(), source })?,
                ),
                None => None,
            };
            let changed: Vec<String> = fingerprint_parts(&configured)
                .into_iter()
                .enumerate()
                .filter(|(index, (_, hash))| previous.as_ref().is_none_or(|p| fingerprint_parts(p)[*index].1 != *hash))
                .map(|(_, (part, _))| part.to_string())
                .collect();
            configured.changed = changed;
            if configured.changed.is_empty() {
                return Ok(false);
            }
            let context = EventContext {
                actor: edge::system_actor("dispatch"),
                correlation_id: POLICY_STREAM.into(),
                causation_id: String::new(),
                traceparent: String::new(),
                occurred_at: self.clock.now(),
                routing_key: configured.district_code.clone(),
            };
            let event = context.event((event_type.clone(), configured.encode_to_vec()));
            let expected = ExpectedVersion::Exact(last.map_or(0, |e| e.stream_version));
            match self.store.commit(Commit::append(POLICY_STREAM, expected, vec![event])).await {
                Ok(_) => return Ok(true),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    pub fn new(store: EventStore, policy: Arc<dyn RoutingPolicy + Send + Sync>, clock: Arc<dyn Clock>) -> Self {
        Self { store, policy, clock, cache: Arc::new(CaseCache::new(CACHED_CASES)) }
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// The case now, and whether that is the cached state (tried first with `use_cache`) rather
    /// than read from its stream.
    async fn current(&self, case_id: CaseId, use_cache: bool) -> Result<(Current, bool), DispatchError> {
        if let Some(current) = use_cache.then(|| self.cache.get(case_id)).flatten() {
            return Ok((current, true));
        }
        let loaded = self.load(case_id).await?;
        let current = Current { traceparent: loaded.traceparent(), case: loaded.case };
        // A case that does not exist yet is not remembered: another replica may open it.
        if current.case.details.is_some() {
            self.cache.put(case_id, current.clone());
        }
        Ok((current, false))
    }

    pub async fn load(&self, case_id: CaseId) -> Result<LoadedCase, DispatchError> {
        let stored = self.store.read_stream(&case_id.stream(), 1).await?;
        let mut history = Vec::with_capacity(stored.len());
        let mut case = Case::default();
        for record in stored {
            let event = decode_case_event(&record.event_type, &record.payload)?;
            case = case::evolve(case, &event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            history.push((record, event));
        }
        Ok(LoadedCase { case, history })
    }

    /// Decide `command` on the current case and append the result, with the deadline timer
    /// re-armed for the new state, plus whatever `extra` carries (inbox entry, fired timer), in
    /// one transaction. Without `expected_version`, a concurrent write is retried on fresh state.
    pub async fn execute(
        &self,
        case_id: CaseId,
        command: &CaseCommand,
        expected_version: Option<u64>,
        context: &EventContext,
        extra: Commit,
    ) -> Result<Case, DispatchError> {
        let Commit { fire, inbox, .. } = extra;
        let mut attempts = 0;
        // The first attempt may decide on the cached state; a version mismatch, a refusal or a
        // conflict on it is checked against the stream (another writer may have moved it on).
        let mut use_cache = true;
        loop {
            let opening = use_cache && matches!(command, CaseCommand::Open { .. });
            let (Current { case, traceparent }, cached) = match opening.then(|| self.cache.get(case_id)) {
                // A report opens a case under the id intake has just given it: decide on the empty
                // case as on a cached state, without reading the stream (if the case were there
                // already, the commit would conflict and the case would be read).
                Some(None) => (Current { case: Case::default(), traceparent: String::new() }, true),
                Some(Some(current)) => (current, true),
                None => self.current(case_id, use_cache).await?,
            };
            use_cache = false;
            if let Some(expected) = expected_version.filter(|v| *v != case.version) {
                if cached {
                    continue;
                }
                return Err(DispatchError::WrongVersion { expected, actual: case.version });
            }
            if !cached {
                attempts += 1;
            }
            let events = match case::decide(&case, command, self.policy.as_ref(), context.occurred_at) {
                Ok(events) => events,
                Err(_) if cached => continue,
                Err(error) => return Err(error.into()),
            };
            let after =
                events.iter().try_fold(case.clone(), case::evolve).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let commit = Commit {
                appends: vec![StreamAppend {
                    stream: case_id.stream(),
                    expected: ExpectedVersion::Exact(case.version),
                    events: events.iter().map(|e| context.event(encode_case_event(case_id, e))).collect(),
                }],
                fire: fire.clone(),
                inbox: inbox.clone(),
                ..deadline_timer(case_id, &after.status)
            };
            match self.store.commit(commit).await {
                Ok(Committed { .. }) => {
                    for event in &events {
                        if let CaseEvent::Escalated { to, .. } = event {
                            metrics::counter!("gridloop_escalations_total", "to_level" => to.level.as_str())
                                .increment(1);
                        }
                    }
                    // A new case's trace is the one its first event carries.
                    let traceparent = if case.version == 0 { context.traceparent.clone() } else { traceparent };
                    self.cache.put(case_id, Current { case: after.clone(), traceparent });
                    return Ok(after);
                }
                Err(StoreError::Conflict { .. })
                    if cached || (expected_version.is_none() && attempts < CONFLICT_RETRIES) =>
                {
                    // Decided on a cached state another writer has moved past, or lost a race.
                    self.cache.forget(case_id);
                    continue;
                }
                Err(error) => {
                    // The outcome is unknown (the commit may have been applied): read it again.
                    self.cache.forget(case_id);
                    return Err(error.into());
                }
            }
        }
    }

    /// The event subscriptions dispatch needs.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        let handler: Arc<dyn EventHandler> = Arc::new(self.clone());
        let types = |names: &[&str]| names.iter().map(|n| convert::event_type(n)).collect();
        vec![
            Subscription {
                consumer: "dispatch.intake".into(),
                sources: vec!["intake".into()],
                event_types: types(&["CaseReported", "CaseReportLinked"]),
                handler: handler.clone(),
            },
            Subscription {
                consumer: "dispatch.mediation".into(),
                sources: vec!["mediation".into()],
                event_types: types(&["MediationConcluded"]),
                handler: handler.clone(),
            },
            Subscription {
                consumer: "dispatch.evaluation".into(),
                sources: vec!["evaluation".into()],
                event_types: types(&["FeedbackReceived", "FeedbackDefaulted"]),
                handler,
            },
        ]
    }

    pub fn into_server(self) -> DispatchServiceServer<Self> {
        DispatchServiceServer::new(self)
    }

    async fn command(
        &self,
        case_id: &str,
        expected_version: u64,
        actor: Option<&pb::Actor>,
        command: CaseCommand,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let case_id = CaseId(edge::parse_uuid("case_id", case_id)?);
        let now = self.clock.now();
        let (current, _) = self.current(case_id, true).await?;
        let details = current.case.details.as_ref().ok_or_else(|| Status::not_found("case not found"))?;
        let context = EventContext {
            actor: actor_from(actor),
            correlation_id: case_id.to_string(),
            causation_id: format!("command:{}", command.name()),
            traceparent: current.traceparent.clone(),
            occurred_at: now,
            routing_key: details.grid_code.clone(),
        };
        let expected = (expected_version > 0).then_some(expected_version);
        let case = self.execute(case_id, &command, expected, &context, Commit::default()).await?;
        Ok(Response::new(pb::CaseCommandResponse {
            case_id: case_id.to_string(),
            version: case.version,
            case: Some(case_view(&case)),
        }))
    }
}

/// Arm the deadline timer for the state's running deadline, or disarm it.
fn deadline_timer(case_id: CaseId, status: &CaseStatus) -> Commit {
    let (schedule, cancel) = case_timer::arm(DEADLINE_TIMER, case_id, status.deadline());
    Commit { schedule, cancel, ..Commit::default() }
}

pub fn case_view(case: &Case) -> pb::CaseView {
    let details = case.details.as_ref();
    let state = match &case.status {
        CaseStatus::New => pb::CaseState::Unspecified,
        CaseStatus::Reported => pb::CaseState::Reported,
        CaseStatus::Rejected { .. } => pb::CaseState::Rejected,
        CaseStatus::Dispatched { .. } => pb::CaseState::Dispatched,
        CaseStatus::Accepted { .. } => pb::CaseState::Accepted,
        CaseStatus::InMediation { .. } => pb::CaseState::InMediation,
        CaseStatus::AwaitingVerification { .. } => pb::CaseState::AwaitingVerification,
        CaseStatus::Resolved { .. } => pb::CaseState::Resolved,
        CaseStatus::Closed { .. } => pb::CaseState::Closed,
    };
    let (settled_level, satisfaction) = match &case.status {
        CaseStatus::Closed { level, satisfaction, .. } => {
            (convert::level(*level), satisfaction.map_or(pb::Satisfaction::Unspecified, convert::satisfaction))
        }
        _ => (pb::Level::Unspecified, pb::Satisfaction::Unspecified),
    };
    let department = match &case.status {
        CaseStatus::Dispatched { at } | CaseStatus::Accepted { at, .. } => at.department.clone(),
        _ => None,
    };
    let assignee = match &case.status {
        CaseStatus::Accepted { assignee, .. }
        | CaseStatus::InMediation { assignee, .. }
        | CaseStatus::AwaitingVerification { assignee, .. }
        | CaseStatus::Resolved { assignee, .. }
        | CaseStatus::Closed { assignee, .. } => assignee.clone(),
        _ => String::new(),
    };
    pb::CaseView {
        case_id: case.id.map(|id| id.to_string()).unwrap_or_default(),
        state: state as i32,
        level: case.status.level().map_or(pb::Level::Unspecified, convert::level) as i32,
        unit_code: case.status.unit().unwrap_or_default().to_string(),
        category_code: details.map(|d| d.category_code.clone()).unwrap_or_default(),
        grid_code: details.map(|d| d.grid_code.clone()).unwrap_or_default(),
        description: details.map(|d| d.description.clone()).unwrap_or_default(),
        deadline: case.status.deadline().map(convert::timestamp),
        version: case.version,
        assignee,
        settled_level: settled_level as i32,
        satisfaction: satisfaction as i32,
        reopen_count: case.reopen_count,
        location: details.map(|d| pb::GeoPoint { lat: d.lat, lon: d.lon }),
        department_code: convert::department_code(&department),
        department_name: convert::department_name(&department),
        priority: case.priority.score,
        priority_reasons: case.priority.reasons.clone(),
        summons: case
            .summons
            .iter()
            .map(|s| pb::Summons {
                department: Some(convert::summoned_department(&s.summoned)),
                reported_in: s.reported_in,
            })
            .collect(),
    }
}

#[async_trait]
impl EventHandler for Dispatch {
    async fn handle(&self, source: &str, event: &RecordedEvent) -> Result<(), HandlerError> {
        let poison = |e: convert::DecodeError| HandlerError::Poison(e.to_string());
        let (case_id, command) = match event.event_type.strip_prefix("gridloop.v1.").unwrap_or_default() {
            "CaseReported" => {
                let reported = pb::CaseReported::decode(event.payload.as_slice())
                    .map_err(|e| HandlerError::Poison(format!("undecodable CaseReported: {e}")))?;
                let (case_id, details) = convert::details_from_reported(&reported).map_err(poison)?;
                (case_id, CaseCommand::Open { case_id, details })
            }
            "CaseReportLinked" => {
                let linked = pb::CaseReportLinked::decode(event.payload.as_slice())
                    .map_err(|e| HandlerError::Poison(format!("undecodable CaseReportLinked: {e}")))?;
                let (case_id, report) = convert::linked_from_proto(linked).map_err(poison)?;
                (case_id, CaseCommand::LinkReport { report })
            }
            "MediationConcluded" => {
                let concluded = pb::MediationConcluded::decode(event.payload.as_slice())
                    .map_err(|e| HandlerError::Poison(format!("undecodable MediationConcluded: {e}")))?;
                if concluded.case_id.is_empty() {
                    return Ok(()); // a session on a collected topic: no case to move
                }
                let case_id = case_of(event)?;
                let mediation_id = event.stream.strip_prefix("mediation-").unwrap_or(&event.stream).to_string();
                let MediationEvent::Concluded { outcome, summary, .. } =
                    convert::decode_mediation_event(&event.event_type, &event.payload).map_err(poison)?
                else {
                    return Err(HandlerError::Poison(format!("{} is not a conclusion", event.event_type)));
                };
                let verdict = match outcome {
                    Outcome::Agreed => MediationVerdict::Agreed,
                    Outcome::Failed(Referral::EscalateOneLevel) => MediationVerdict::EscalateOneLevel,
                    Outcome::Failed(Referral::BackToUnit | Referral::Litigation) | Outcome::Consultation => {
                        MediationVerdict::BackToUnit
                    }
                };
                (case_id, CaseCommand::ConcludeMediation { mediation_id, verdict, summary })
            }
            "FeedbackReceived" | "FeedbackDefaulted" => {
                let case_id = case_of(event)?;
                let command = match convert::decode_feedback_event(&event.event_type, &event.payload).map_err(poison)? {
                    FeedbackEvent::Received { satisfaction, comment } => {
                        CaseCommand::RecordEvaluation { satisfaction, comment, defaulted: false }
                    }
                    FeedbackEvent::Defaulted { satisfaction } => {
                        CaseCommand::RecordEvaluation { satisfaction, comment: String::new(), defaulted: true }
                    }
                    FeedbackEvent::Requested { .. } => return Ok(()),
                };
                (case_id, command)
            }
            _ => return Ok(()),
        };
        let context = EventContext::caused_by(event, edge::system_actor(SERVICE), self.clock.now());
        let consumer = format!("dispatch.{source}");
        let inbox = Commit { inbox: Some((consumer.clone(), event.event_id)), ..Commit::default() };
        match self.execute(case_id, &command, None, &context, inbox).await {
            Ok(_) | Err(DispatchError::Store(StoreError::AlreadyProcessed { .. })) => Ok(()),
            // A report redelivered after its case was opened (the inbox is the first line of defence).
            Err(DispatchError::Case(CaseError::AlreadyOpened)) => Ok(()),
            // Refused by the case now, but maybe because this very event was applied before (a
            // redelivery after a lost ack): the inbox tells, and then there is nothing to do.
            Err(error @ DispatchError::Case(_)) => match self.store.inbox_contains(&consumer, event.event_id).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(error.into()),
                Err(store) => Err(HandlerError::Transient(store.to_string())),
            },
            Err(error) => Err(error.into()),
        }
    }
}

fn case_of(event: &RecordedEvent) -> Result<CaseId, HandlerError> {
    CaseId::parse(&event.correlation_id)
        .map_err(|_| HandlerError::Poison(format!("correlation id {:?} is not a case id", event.correlation_id)))
}

#[async_trait]
impl TimerHandler for Dispatch {
    async fn fire(&self, timer: &DueTimer) -> Result<(), HandlerError> {
        let (case_id, deadline) = case_timer::parse(DEADLINE_TIMER, timer).map_err(HandlerError::Poison)?;
        let (current, _) = self.current(case_id, true).await.map_err(HandlerError::from)?;
        let grid = current.case.details.as_ref().map(|d| d.grid_code.clone()).unwrap_or_default();
        let context = EventContext {
            actor: edge::system_actor(SERVICE),
            correlation_id: case_id.to_string(),
            causation_id: format!("timer:{}:{}", timer.key, timer.generation),
            traceparent: current.traceparent,
            occurred_at: self.clock.now(),
            routing_key: grid,
        };
        let fire = Commit { fire: Some((timer.key.clone(), timer.generation)), ..Commit::default() };
        match self.execute(case_id, &CaseCommand::DeadlineExpired { deadline }, None, &context, fire).await {
            Ok(_) | Err(DispatchError::Store(StoreError::TimerGone { .. })) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

#[tonic::async_trait]
impl DispatchService for Dispatch {
    async fn accept_case(
        &self,
        request: Request<pb::AcceptCaseRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let r = request.into_inner();
        self.command(&r.case_id, r.expected_version, r.actor.as_ref(), CaseCommand::Accept { assignee: r.assignee })
            .await
    }

    async fn escalate_case(
        &self,
        request: Request<pb::EscalateCaseRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let r = request.into_inner();
        self.command(&r.case_id, r.expected_version, r.actor.as_ref(), CaseCommand::Escalate { reason: r.reason }).await
    }

    async fn transfer_case(
        &self,
        request: Request<pb::TransferCaseRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let r = request.into_inner();
        let command = CaseCommand::Transfer { to_unit: r.to_unit, reason: r.reason };
        self.command(&r.case_id, r.expected_version, r.actor.as_ref(), command).await
    }

    async fn request_mediation(
        &self,
        request: Request<pb::RequestMediationRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let r = request.into_inner();
        self.command(&r.case_id, r.expected_version, r.actor.as_ref(), CaseCommand::RequestMediation { topic: r.topic })
            .await
    }

    async fn resolve_case(
        &self,
        request: Request<pb::ResolveCaseRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let r = request.into_inner();
        self.command(&r.case_id, r.expected_version, r.actor.as_ref(), CaseCommand::Resolve { summary: r.summary })
            .await
    }

    async fn verify_case(
        &self,
        request: Request<pb::VerifyCaseRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let r = request.into_inner();
        let command = CaseCommand::Verify { verifier: r.verifier, passed: r.passed, note: r.note };
        self.command(&r.case_id, r.expected_version, r.actor.as_ref(), command).await
    }

    async fn reject_case(
        &self,
        request: Request<pb::RejectCaseRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let r = request.into_inner();
        self.command(&r.case_id, r.expected_version, r.actor.as_ref(), CaseCommand::Reject { reason: r.reason }).await
    }

    async fn summon_departments(
        &self,
        request: Request<pb::SummonDepartmentsRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let r = request.into_inner();
        let command = CaseCommand::SummonDepartments { departments: r.departments, reason: r.reason };
        self.command(&r.case_id, r.expected_version, r.actor.as_ref(), command).await
    }

    async fn report_in(
        &self,
        request: Request<pb::ReportInRequest>,
    ) -> Result<Response<pb::CaseCommandResponse>, Status> {
        let r = request.into_inner();
        let command = CaseCommand::ReportIn { department: r.department, by: r.by, note: r.note };
        self.command(&r.case_id, r.expected_version, r.actor.as_ref(), command).await
    }

    async fn get_case(&self, request: Request<pb::GetCaseRequest>) -> Result<Response<pb::GetCaseResponse>, Status> {
        let case_id = CaseId(edge::parse_uuid("case_id", &request.get_ref().case_id)?);
        let loaded = self.load(case_id).await?;
        if loaded.case.details.is_none() {
            return Err(Status::not_found(format!("case {case_id} not found")));
        }
        let history = loaded
            .history
            .iter()
            .map(|(record, event)| pb::HistoryEntry {
                envelope: Some(edge::envelope(record, SERVICE)),
                payload_json: serde_json::to_string(event).unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(pb::GetCaseResponse { case: Some(case_view(&loaded.case)), history }))
    }
}
