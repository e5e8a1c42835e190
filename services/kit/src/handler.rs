//! The command handler: the path every command of every service takes, whether a client sent it,
//! a consumed event asked for it or a durable timer fired it.
//!
//! Load the aggregate (from the cache when there is one, else by folding its stream), check the
//! caller, decide, fold the new events, arm or disarm the aggregate's timer, and commit — with
//! the exact version the decision was made on, plus what the caller adds (the inbox entry of a
//! consumed event, the timer being fired), plus the read model's rows in the same transaction
//! when the aggregate has one. A conflict with a concurrent writer is decided again on fresh
//! state a few times, unless the client named the version it decided on.

use crate::aggregate::{Aggregate, TimerChange};
use crate::authorize::{Authorize, ServiceOnly, Target};
use crate::cache::{Current, StateCache};
use crate::context::{command_causation, Caller, EventContext, Origin};
use crate::error::CommandError;
use crate::progress::{Progress, WaitError};
use crate::timer;
use async_trait::async_trait;
use gridloop_bus::{Clock, HandlerError};
use gridloop_domain::Timestamp;
use gridloop_eventstore::{
    Commit, DueTimer, EventStore, ExpectedVersion, RecordedEvent, StoreError, StoreTx, StreamAppend,
};
use std::sync::Arc;
use std::time::Duration;

/// Decisions made again after losing a race to a concurrent writer, for a command that did not
/// name the version it expects.
pub const CONFLICT_RETRIES: usize = 3;

/// One command as the handler receives it.
pub struct Envelope<A: Aggregate> {
    pub id: A::Id,
    pub command: A::Command,
    /// Who asks: the actor of the events, and whom the authorization check judges.
    pub caller: Caller,
    /// The version the caller decided on (a client's optimistic check): a stream that has moved
    /// past it refuses the command instead of deciding again.
    pub expected_version: Option<u64>,
    /// What caused the command, recorded on its events.
    pub causation: String,
    /// The correlation, trace and routing the events carry; `None` for the stream's own.
    pub origin: Option<Origin>,
    pub at: Timestamp,
    /// Written in the same commit: the inbox entry of a consumed event, the timer being fired.
    pub also: Commit,
}

/// An aggregate read from its stream.
pub struct Loaded<A: Aggregate> {
    pub state: A,
    pub version: u64,
    /// The stored events and what they decode to, in order.
    pub history: Vec<(RecordedEvent, A::Event)>,
}

impl<A: Aggregate> Loaded<A> {
    /// What the stream's events carry from its first; `None` for a stream not yet written.
    pub fn origin(&self) -> Option<Origin> {
        self.history.first().map(|(record, _)| Origin::of(record))
    }

    fn current(&self) -> Current<A> {
        Current { state: self.state.clone(), version: self.version, origin: self.origin() }
    }
}

/// A command carried out.
pub struct Executed<A: Aggregate> {
    /// The aggregate after the command.
    pub state: A,
    /// The stream's version after the commit: the consistency token a client can wait for.
    pub version: u64,
    /// The events the command appended, as stored and as decided.
    pub appended: Vec<(RecordedEvent, A::Event)>,
    /// The stream before them, when it was read for the decision (not taken from the cache).
    pub before: Option<Vec<(RecordedEvent, A::Event)>>,
}

impl<A: Aggregate> Executed<A> {
    /// The store position of the last event appended: a consistency token across streams.
    pub fn position(&self) -> Option<i64> {
        self.appended.last().map(|(record, _)| record.global_position)
    }

    /// The whole stream after the command, when it was read for the decision.
    pub fn history(self) -> Option<Vec<(RecordedEvent, A::Event)>> {
        let mut history = self.before?;
        history.extend(self.appended);
        Some(history)
    }
}

/// A read model kept in the same transaction as the aggregate's events (a service's own table of
/// its sessions, say), so that it never misses or doubles one.
#[async_trait]
pub trait ReadModel<A: Aggregate>: Send + Sync {
    /// Apply `appended` (just added to `id`'s stream, which they left in `state`) inside `tx`.
    async fn record(
        &self,
        tx: &mut StoreTx,
        id: A::Id,
        state: &A,
        appended: &[(RecordedEvent, A::Event)],
    ) -> Result<(), StoreError>;
}

pub struct CommandHandler<A: Aggregate> {
    service: &'static str,
    store: EventStore,
    clock: Arc<dyn Clock>,
    policy: Arc<A::Policy>,
    cache: Option<Arc<StateCache<A>>>,
    authorizer: Arc<dyn Authorize<A>>,
    read_model: Option<Arc<dyn ReadModel<A>>>,
    observer: Option<Observer<A>>,
    /// The versions its commits reached, for clients waiting on their own writes.
    progress: Arc<Progress<A::Id>>,
}

/// Told of every event a commit appended (to count escalations, say).
pub type Observer<A> = Arc<dyn Fn(&<A as gridloop_domain::decider::Decider>::Event) + Send + Sync>;

impl<A: Aggregate> Clone for CommandHandler<A> {
    fn clone(&self) -> Self {
        Self {
            service: self.service,
            store: self.store.clone(),
            clock: self.clock.clone(),
            policy: self.policy.clone(),
            cache: self.cache.clone(),
            authorizer: self.authorizer.clone(),
            read_model: self.read_model.clone(),
            observer: self.observer.clone(),
            progress: self.progress.clone(),
        }
    }
}

impl<A: Aggregate> CommandHandler<A> {
    /// The handler of `service`'s `A` aggregates, decided under `policy`; until an authorizer
    /// is given, only the service itself may run commands.
    pub fn new(service: &'static str, store: EventStore, clock: Arc<dyn Clock>, policy: Arc<A::Policy>) -> Self {
        Self {
            service,
            store,
            clock,
            policy,
            cache: None,
            authorizer: Arc::new(ServiceOnly),
            read_model: None,
            observer: None,
            progress: Arc::default(),
        }
    }

    /// Decide under `policy` from now on.
    pub fn with_policy(self, policy: Arc<A::Policy>) -> Self {
        Self { policy, ..self }
    }

    /// Keep the current state of the `capacity` most recently used aggregates in memory.
    pub fn with_cache(self, capacity: usize) -> Self {
        Self { cache: Some(Arc::new(StateCache::new(capacity))), ..self }
    }

    /// Check every caller with `authorizer` before deciding.
    pub fn with_authorizer(self, authorizer: Arc<dyn Authorize<A>>) -> Self {
        Self { authorizer, ..self }
    }

    /// Keep `read_model` in the transaction of every commit.
    pub fn with_read_model(self, read_model: Arc<dyn ReadModel<A>>) -> Self {
        Self { read_model: Some(read_model), ..self }
    }

    /// Tell `observer` of every event committed.
    pub fn with_observer(self, observer: Observer<A>) -> Self {
        Self { observer: Some(observer), ..self }
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    pub fn policy(&self) -> &A::Policy {
        &self.policy
    }

    /// The service acting on its own (a consumer, a timer).
    pub fn system(&self) -> Caller {
        Caller::system(self.service)
    }

    /// A caller's command: caused by the command itself, the events carrying the stream's
    /// correlation, trace and routing.
    pub fn request(
        &self,
        id: A::Id,
        command: A::Command,
        caller: Caller,
        expected_version: Option<u64>,
    ) -> Envelope<A> {
        Envelope {
            causation: command_causation(A::command_name(&command)),
            id,
            command,
            caller,
            expected_version,
            origin: None,
            at: self.clock.now(),
            also: Commit::default(),
        }
    }

    /// The service's command caused by `event`, whose correlation, trace and routing the events
    /// carry on.
    pub fn caused_by(&self, id: A::Id, command: A::Command, event: &RecordedEvent) -> Envelope<A> {
        Envelope {
            id,
            command,
            caller: self.system(),
            expected_version: None,
            causation: event.event_id.to_string(),
            origin: Some(Origin::of(event)),
            at: self.clock.now(),
            also: Commit::default(),
        }
    }

    /// The command the service's consumer of `source`'s events (`<service>.<source>`) runs for
    /// `event`: recorded in that consumer's inbox in the same commit, so a redelivery finds it
    /// handled.
    pub fn consumed(&self, id: A::Id, command: A::Command, event: &RecordedEvent, source: &str) -> Envelope<A> {
        let mut envelope = self.caused_by(id, command, event);
        envelope.also.inbox = Some((format!("{}.{source}", self.service), event.event_id));
        envelope
    }

    /// Wait until the aggregate's stream has reached `version` — the version a client's earlier
    /// write answered with — for at most `within`: woken by this handler's own commits, and
    /// finding in the store a version another process wrote. Zero never waits.
    pub async fn caught_up(
        &self,
        id: A::Id,
        version: u64,
        within: Duration,
    ) -> Result<(), WaitError<CommandError<A::Error>>> {
        self.progress.wait_for(&id, version, within, || self.stored_version(id, version)).await
    }

    /// The stream's version: the cached one when it has reached `wanted`, else the store's (a
    /// cached state may lag behind another replica's commits).
    async fn stored_version(&self, id: A::Id, wanted: u64) -> Result<u64, CommandError<A::Error>> {
        match self.cache.as_ref().and_then(|cache| cache.get(id)).filter(|current| current.version >= wanted) {
            Some(current) => Ok(current.version),
            None => Ok(self.store.stream_version(&A::stream_name(id)).await?),
        }
    }

    /// Read and fold the aggregate's stream.
    pub async fn load(&self, id: A::Id) -> Result<Loaded<A>, CommandError<A::Error>> {
        let records = self.store.read_stream(&A::stream_name(id), 1).await?;
        let mut state = A::initial();
        let mut history = Vec::with_capacity(records.len());
        for record in records {
            let event = A::decode(&record.event_type, &record.payload)?;
            state = state.evolve(&event)?;
            history.push((record, event));
        }
        Ok(Loaded { state, version: history.len() as u64, history })
    }

    /// Carry out a command, committing through the store's group commit (or in a transaction of
    /// its own when the aggregate keeps a read model).
    pub async fn execute(&self, envelope: Envelope<A>) -> Result<Executed<A>, CommandError<A::Error>> {
        self.run(None, envelope).await
    }

    /// Carry out a command inside the caller's transaction (a consumer's batch).
    pub async fn execute_in(
        &self,
        tx: &mut StoreTx,
        envelope: Envelope<A>,
    ) -> Result<Executed<A>, CommandError<A::Error>> {
        self.run(Some(tx), envelope).await
    }

    /// Carry out the command a consumed event asks for ([`CommandHandler::consumed`]): done when
    /// it commits, and also when the event was handled before.
    pub async fn consume(&self, envelope: Envelope<A>) -> Result<(), HandlerError> {
        let inbox = envelope.also.inbox.clone();
        match self.execute(envelope).await {
            Ok(_) => Ok(()),
            Err(error) if error.already_processed() => Ok(()),
            Err(CommandError::Refused { reason, .. }) if A::is_repeat(&reason) => Ok(()),
            // Refused now, but maybe because this very event was applied before (a redelivery
            // after a lost ack): the inbox tells, and then there is nothing to do.
            Err(error @ (CommandError::Refused { .. } | CommandError::Denied(_))) => match inbox {
                Some((consumer, event_id)) => match self.store.inbox_contains(&consumer, event_id).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(error.into()),
                    Err(store) => Err(HandlerError::store(store)),
                },
                None => Err(error.into()),
            },
            Err(error) => Err(error.into()),
        }
    }

    /// Fire a due timer of this aggregate: `command` is what the instant the timer stands for
    /// asks of it. The timer is deleted in the command's commit, so it fires once; one that
    /// names no aggregate or instant is poison (dropped).
    pub async fn fire(
        &self,
        due: &DueTimer,
        command: impl FnOnce(Timestamp) -> A::Command,
    ) -> Result<(), HandlerError> {
        let kind = A::TIMER.ok_or_else(|| HandlerError::Poison(format!("{} keeps no timers", self.service)))?;
        let (id, at) = timer::parse::<A::Id>(kind, due).map_err(HandlerError::Poison)?;
        let mut envelope = self.request(id, command(at), self.system(), None);
        envelope.causation = format!("timer:{}:{}", due.key, due.generation);
        envelope.also.fire = Some((due.key.clone(), due.generation));
        match self.execute(envelope).await {
            Ok(_) => Ok(()),
            Err(error) if error.timer_gone() => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    async fn run(
        &self,
        mut tx: Option<&mut StoreTx>,
        envelope: Envelope<A>,
    ) -> Result<Executed<A>, CommandError<A::Error>> {
        let mut attempts = 0;
        // The first decision may be made on the cached state; one that the stored state might
        // answer differently (a version mismatch, a refusal, a conflict) is made again on it.
        let mut try_guess = self.cache.is_some();
        loop {
            let guess = if std::mem::take(&mut try_guess) { self.guess(envelope.id, &envelope.command) } else { None };
            let guessed = guess.is_some();
            let (current, before) = match guess {
                Some(current) => (current, None),
                None => {
                    attempts += 1;
                    let loaded = self.load(envelope.id).await?;
                    let current = loaded.current();
                    self.remember(envelope.id, &current);
                    (current, Some(loaded.history))
                }
            };
            let events = match self.decide(&envelope, &current).await {
                Ok(events) => events,
                Err(_) if guessed => continue,
                Err(error) => {
                    if let CommandError::Denied(denied) = &error {
                        denied.audit();
                    }
                    return Err(error);
                }
            };
            match self.record(tx.as_deref_mut(), &envelope, current, events).await {
                Ok(executed) => return Ok(Executed { before, ..executed }),
                Err(CommandError::Conflict { .. })
                    if guessed || (envelope.expected_version.is_none() && attempts < CONFLICT_RETRIES) =>
                {
                    // Decided on a cached state another writer has moved past, or lost a race.
                    self.forget(envelope.id);
                }
                Err(error) => {
                    // The outcome may be unknown (the commit may have been applied): read it again.
                    self.forget(envelope.id);
                    return Err(error);
                }
            }
        }
    }

    /// The events the envelope's command produces on `current`, once the caller's version and
    /// authorization are checked.
    async fn decide(
        &self,
        envelope: &Envelope<A>,
        current: &Current<A>,
    ) -> Result<Vec<A::Event>, CommandError<A::Error>> {
        // A stream that does not exist is the aggregate's to report (not found), not a stale version.
        let exists = current.version > 0 || A::opens(&envelope.command);
        if let Some(expected) = envelope.expected_version.filter(|v| exists && *v != current.version) {
            return Err(CommandError::WrongVersion { expected, actual: current.version });
        }
        let origin = envelope.origin.as_ref().or(current.origin.as_ref());
        let target = Target { id: envelope.id, state: &current.state, origin };
        self.authorizer.authorize(&envelope.caller, target, &envelope.command).await?;
        current
            .state
            .decide(&envelope.command, &self.policy, envelope.at)
            .map_err(|reason| CommandError::Refused { reason, version: current.version })
    }

    /// Fold `events` onto `current` and commit them (in `tx`, when given) in the envelope's
    /// context, with the timer change and what the envelope adds; a command that changed
    /// nothing and has nothing to record commits nothing.
    async fn record(
        &self,
        tx: Option<&mut StoreTx>,
        envelope: &Envelope<A>,
        current: Current<A>,
        events: Vec<A::Event>,
    ) -> Result<Executed<A>, CommandError<A::Error>> {
        let id = envelope.id;
        let after = current.state.clone().fold(&events)?;
        let also = &envelope.also;
        if events.is_empty() && also.inbox.is_none() && also.fire.is_none() {
            return Ok(Executed { state: after, version: current.version, appended: vec![], before: None });
        }
        let origin = envelope.origin.as_ref().or(current.origin.as_ref()).cloned().unwrap_or_default();
        let context =
            EventContext::new(envelope.caller.actor.clone(), &origin, envelope.causation.clone(), envelope.at);
        let commit = self.commit(id, current.version, &after, &events, &context, also);
        let version = current.version + events.len() as u64;
        let in_callers_tx = tx.is_some();
        let appended = self.write(tx, id, &after, events, commit).await?;
        if let Some(observer) = &self.observer {
            appended.iter().for_each(|(_, event)| observer(event));
        }
        if in_callers_tx {
            // Not committed yet: the caller's transaction may still roll back.
            self.forget(id);
        } else {
            let origin = current.origin.or_else(|| appended.first().map(|(record, _)| Origin::of(record)));
            self.remember(id, &Current { state: after.clone(), version, origin });
            self.progress.advance(&id, version);
        }
        Ok(Executed { state: after, version, appended, before: None })
    }

    /// The state to decide on without reading the stream: the cached one, or the initial state
    /// for a command that creates the aggregate.
    fn guess(&self, id: A::Id, command: &A::Command) -> Option<Current<A>> {
        let cache = self.cache.as_ref()?;
        cache.get(id).or_else(|| A::opens(command).then(Current::initial))
    }

    fn remember(&self, id: A::Id, current: &Current<A>) {
        // An aggregate that does not exist yet is not remembered: another replica may create it.
        if let Some(cache) = self.cache.as_ref().filter(|_| current.version > 0) {
            cache.put(id, current.clone());
        }
    }

    fn forget(&self, id: A::Id) {
        if let Some(cache) = &self.cache {
            cache.forget(id);
        }
    }

    /// The commit that appends `events` to a stream at `version`, with the aggregate's timer
    /// armed for the state after them, and what the caller adds.
    fn commit(
        &self,
        id: A::Id,
        version: u64,
        after: &A,
        events: &[A::Event],
        context: &EventContext,
        also: &Commit,
    ) -> Commit {
        let (schedule, cancel) = match (A::TIMER, A::timer(after, events)) {
            (Some(kind), TimerChange::Arm(at)) => timer::arm(kind, id, Some(at)),
            (Some(kind), TimerChange::Disarm) => timer::arm(kind, id, None),
            _ => (vec![], vec![]),
        };
        // A fired timer is deleted by the commit that fires it.
        let fired = also.fire.as_ref().map(|(key, _)| key.as_str());
        let cancel = cancel.into_iter().filter(|key| Some(key.as_str()) != fired);
        let mut appends = vec![StreamAppend {
            stream: A::stream_name(id),
            expected: ExpectedVersion::Exact(version),
            events: events.iter().map(|event| context.event(A::encode(id, after, event))).collect(),
        }];
        appends.extend(also.appends.iter().cloned());
        Commit {
            appends,
            schedule: also.schedule.iter().cloned().chain(schedule).collect(),
            cancel: also.cancel.iter().cloned().chain(cancel).collect(),
            fire: also.fire.clone(),
            inbox: also.inbox.clone(),
        }
    }

    /// Write `commit`, and the read model with it: through the group commit, in a transaction of
    /// its own, or in the caller's.
    async fn write(
        &self,
        tx: Option<&mut StoreTx>,
        id: A::Id,
        after: &A,
        events: Vec<A::Event>,
        commit: Commit,
    ) -> Result<Vec<(RecordedEvent, A::Event)>, CommandError<A::Error>> {
        let appended = |recorded: Vec<RecordedEvent>| recorded.into_iter().zip(events).collect::<Vec<_>>();
        match (tx, &self.read_model) {
            (None, None) => Ok(appended(self.store.commit(commit).await?.events)),
            (None, Some(model)) => {
                let mut tx = self.store.begin().await?;
                let appended = appended(tx.apply(commit).await?);
                model.record(&mut tx, id, after, &appended).await?;
                tx.commit().await?;
                Ok(appended)
            }
            (Some(tx), model) => {
                let appended = appended(tx.apply(commit).await?);
                if let Some(model) = model {
                    model.record(tx, id, after, &appended).await?;
                }
                Ok(appended)
            }
        }
    }
}
