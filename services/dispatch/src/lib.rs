//! The dispatch service: routes each case up the ladder until it is settled (派单, 接单, 上提,
//! 转办, 办结, 重办). It owns the `case-<id>` streams; it listens to intake (new reports), mediation
//! (session outcomes) and evaluation (satisfaction), and to its own deadline timers. A report
//! intake linked to an existing case as a duplicate is added to that case's history.
//!
//! Every command, whichever way it arrives ([`grpc`], [`handlers`]), takes the kit's one command
//! path; dispatch adds the cache of current cases and the escalation metrics.

mod contact;
mod grpc;
mod handlers;
mod view;

pub use contact::ContactOpener;
pub use view::{case_view, with_times};

use gridloop_bus::{Clock, EventHandler, Subscription};
use gridloop_domain::case::{Case, CaseCommand, CaseError, CaseEvent, RoutingPolicy};
use gridloop_domain::ids::CaseId;
use gridloop_eventstore::{Commit, EventStore, ExpectedVersion, RecordedEvent, StoreError};
use gridloop_kit::context::system_actor;
use gridloop_kit::{
    Caller, CasePolicy, CommandError, CommandHandler, Envelope, EventContext, Loaded, Origin, ReporterIndex,
};
use gridloop_proto::convert;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::dispatch_service_server::DispatchServiceServer;
use prost::Message;
use std::sync::Arc;

pub const SERVICE: &str = "dispatch";
/// Cases whose current state dispatch keeps in memory, so that a command or a timer does not
/// read and fold the case's whole stream again.
const CACHED_CASES: usize = 10_000;

/// Why a case command failed: the case refused it, the client's expected version is stale, or
/// the command path could not complete it (a conflict, storage, an unreadable stream).
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Case(CaseError),
    #[error("expected version {expected}, the case is at version {actual}")]
    WrongVersion { expected: u64, actual: u64 },
    #[error(transparent)]
    Command(CommandError<CaseError>),
}

impl From<CommandError<CaseError>> for DispatchError {
    fn from(error: CommandError<CaseError>) -> Self {
        match error {
            CommandError::Refused { reason, .. } => DispatchError::Case(reason),
            CommandError::WrongVersion { expected, actual } => DispatchError::WrongVersion { expected, actual },
            other => DispatchError::Command(other),
        }
    }
}

impl From<StoreError> for DispatchError {
    fn from(error: StoreError) -> Self {
        DispatchError::Command(error.into())
    }
}

fn count_escalations(event: &CaseEvent) {
    if let CaseEvent::Escalated { to, .. } = event {
        metrics::counter!("gridloop_escalations_total", "to_level" => to.level.as_str()).increment(1);
    }
}

/// The case loaded from its stream, with the stored events it was folded from.
pub struct LoadedCase {
    pub case: Case,
    pub history: Vec<(RecordedEvent, CaseEvent)>,
}

#[derive(Clone)]
pub struct Dispatch {
    cases: CommandHandler<Case>,
    clock: Arc<dyn Clock>,
    /// Opens reporters' sealed contacts for `GetCase`; without it nobody sees them.
    contacts: Option<Arc<dyn ContactOpener>>,
    /// Recognises a resident as the reporter of a case whose contact is sealed.
    reporters: Option<Arc<dyn ReporterIndex>>,
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
    pub fn new(store: EventStore, policy: Arc<dyn RoutingPolicy + Send + Sync>, clock: Arc<dyn Clock>) -> Self {
        let cases = CommandHandler::new(SERVICE, store, clock.clone(), policy)
            .with_cache(CACHED_CASES)
            .with_authorizer(Arc::new(CasePolicy))
            .with_observer(Arc::new(count_escalations));
        Self { cases, clock, contacts: None, reporters: None }
    }

    /// Shows reporters' contacts in `GetCase` to the callers entitled to them, opened by `contacts`.
    pub fn with_contacts(mut self, contacts: Arc<dyn ContactOpener>) -> Self {
        self.contacts = Some(contacts);
        self
    }

    /// Lets a resident read the cases they reported, recognised under `reporters`.
    pub fn with_reporter_index(mut self, reporters: Arc<dyn ReporterIndex>) -> Self {
        self.reporters = Some(reporters);
        self
    }

    pub fn store(&self) -> &EventStore {
        self.cases.store()
    }

    /// The routing rules cases are decided under.
    pub fn routing_policy(&self) -> &(dyn RoutingPolicy + Send + Sync) {
        self.cases.policy()
    }

    /// Record `configured` unless the last recorded policy has the same fingerprint; returns
    /// whether it recorded. Several replicas may start at once: the append expects the version
    /// it read, and the one that loses the race re-reads and finds the same fingerprint.
    pub async fn record_policy(&self, mut configured: pb::PolicyConfigured) -> Result<bool, DispatchError> {
        let event_type = convert::event_type("PolicyConfigured");
        loop {
            let last = self.store().read_stream(POLICY_STREAM, 1).await?.pop();
            let previous = match &last {
                Some(event) => Some(pb::PolicyConfigured::decode(event.payload.as_slice()).map_err(|source| {
                    CommandError::from(convert::DecodeError::Protobuf { event_type: event_type.clone(), source })
                })?),
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
            let origin = Origin {
                correlation_id: POLICY_STREAM.into(),
                traceparent: String::new(),
                routing_key: configured.district_code.clone(),
            };
            let context = EventContext::new(system_actor(SERVICE), &origin, String::new(), self.clock.now());
            let event = context.event((event_type.clone(), configured.encode_to_vec()));
            let expected = ExpectedVersion::Exact(last.map_or(0, |e| e.stream_version));
            match self.store().commit(Commit::append(POLICY_STREAM, expected, vec![event])).await {
                Ok(_) => return Ok(true),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    pub async fn load(&self, case_id: CaseId) -> Result<LoadedCase, DispatchError> {
        let Loaded { state, history, .. } = self.cases.load(case_id).await?;
        Ok(LoadedCase { case: state, history })
    }

    /// Decide `command` on the current case and append the result in the given context, with
    /// the deadline timer re-armed for the new state, plus whatever `extra` carries (inbox entry,
    /// fired timer), in one transaction. Without `expected_version`, a concurrent write is
    /// retried on fresh state.
    pub async fn execute(
        &self,
        case_id: CaseId,
        command: &CaseCommand,
        expected_version: Option<u64>,
        context: &EventContext,
        extra: Commit,
    ) -> Result<Case, DispatchError> {
        let envelope = Envelope {
            id: case_id,
            command: command.clone(),
            caller: Caller { actor: context.actor.clone(), principal: None },
            expected_version,
            causation: context.causation_id.clone(),
            origin: Some(context.origin()),
            at: context.occurred_at,
            also: extra,
        };
        Ok(self.cases.execute(envelope).await?.state)
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
}
