//! The command path against a real (SQLite) store: what it commits, what it refuses, what it
//! decides again, and what it writes beside the events.

use async_trait::async_trait;
use chrono::{DateTime, Duration};
use gridloop_bus::{Clock, HandlerError, ManualClock};
use gridloop_domain::case::{Case, CaseCommand, CaseDetails, CaseError, CaseEvent, CaseStatus, Channel};
use gridloop_domain::case::{Reporter, ReporterKind, Satisfaction};
use gridloop_domain::feedback::{Feedback, FeedbackCommand, FeedbackError, FeedbackEvent};
use gridloop_domain::ids::CaseId;
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use gridloop_domain::Timestamp;
use gridloop_eventstore::{Actor, EventStore, RecordedEvent, StoreError, StoreOptions, StoreTx};
use gridloop_kit::{
    Authorize, Caller, CommandError, CommandHandler, Denied, Infrastructure, ReadModel, Target, Unauthorized,
};
use std::sync::Arc;
use uuid::Uuid;

struct Fixture {
    _dir: tempfile::TempDir,
    url: String,
    clock: ManualClock,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("kit.db").display());
        // A Monday, 09:00 in Beijing.
        Self { _dir: dir, url, clock: ManualClock::new(DateTime::from_timestamp(1_772_413_200, 0).unwrap()) }
    }

    /// A store handle of its own: a second one on the same database is a second replica.
    async fn store(&self) -> EventStore {
        EventStore::connect(&self.url, StoreOptions { schema: None, max_connections: 4, ..StoreOptions::default() })
            .await
            .unwrap()
    }

    async fn feedback(&self) -> CommandHandler<Feedback> {
        CommandHandler::new("evaluation", self.store().await, Arc::new(self.clock.clone()), Arc::new(()))
    }

    async fn cases(&self) -> CommandHandler<Case> {
        let policy: Arc<dyn gridloop_domain::case::RoutingPolicy + Send + Sync> = Arc::new(CityPolicy::default_city());
        CommandHandler::new("dispatch", self.store().await, Arc::new(self.clock.clone()), policy).with_cache(16)
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

fn person() -> Caller {
    // Recorded as given, and judged by no policy: the caller is not an authenticated principal.
    Caller { actor: Actor { role: "resident".into(), id: "r-1".into(), jurisdiction: String::new() }, principal: None }
}

fn request(due_at: Timestamp) -> FeedbackCommand {
    FeedbackCommand::Request { level: Level::Grid, due_at }
}

fn answer() -> FeedbackCommand {
    FeedbackCommand::Answer { satisfaction: Satisfaction::Satisfied, comment: "fixed".into() }
}

/// An event of another service, as a consumer receives it.
fn delivered(case_id: CaseId) -> RecordedEvent {
    RecordedEvent {
        global_position: 1,
        stream: format!("case-{case_id}"),
        stream_version: 5,
        recorded_at: Timestamp::default(),
        event_id: Uuid::now_v7(),
        event_type: "gridloop.v1.CaseResolved".into(),
        occurred_at: Timestamp::default(),
        correlation_id: case_id.to_string(),
        causation_id: String::new(),
        actor: Actor::default(),
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        schema_version: 1,
        routing_key: "321012001001001".into(),
        payload: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_is_committed_with_its_context_and_its_timer_armed() {
    let f = Fixture::new();
    let feedback = f.feedback().await;
    let case_id = CaseId(Uuid::now_v7());
    let due_at = f.now() + Duration::days(3);
    let cause = delivered(case_id);

    let opened = feedback.execute(feedback.caused_by(case_id, request(due_at), &cause)).await.unwrap();
    assert_eq!((opened.version, opened.state.clone()), (1, Feedback::Awaiting { level: Level::Grid, due_at }));
    let (record, event) = &opened.appended[0];
    assert_eq!(event, &FeedbackEvent::Requested { level: Level::Grid, due_at });
    assert_eq!(opened.position(), Some(record.global_position), "the consistency token is the commit's position");
    assert_eq!(record.causation_id, cause.event_id.to_string());
    assert_eq!((record.traceparent.as_str(), record.routing_key.as_str()), (&*cause.traceparent, "321012001001001"));
    assert_eq!((record.actor.role.as_str(), record.actor.id.as_str()), ("system", "evaluation"));
    let due = feedback.store().due_timers(due_at, 10).await.unwrap();
    assert_eq!(due.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(), [format!("feedback:{case_id}")]);

    // A caller's command carries the stream's trace and routing, and disarms the timer.
    let answered = feedback.execute(feedback.request(case_id, answer(), person(), None)).await.unwrap();
    let (record, _) = &answered.appended[0];
    assert_eq!(record.causation_id, "command:evaluate");
    assert_eq!((record.traceparent.as_str(), record.routing_key.as_str()), (&*cause.traceparent, "321012001001001"));
    assert_eq!(record.actor.id, "r-1");
    assert!(feedback.store().due_timers(due_at, 10).await.unwrap().is_empty());
    assert_eq!(answered.history().map(|h| h.len()), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_and_a_stale_version_write_nothing() {
    let f = Fixture::new();
    let feedback = f.feedback().await;
    let case_id = CaseId(Uuid::now_v7());
    let refused = feedback.execute(feedback.request(case_id, answer(), person(), None)).await;
    assert!(
        matches!(refused, Err(CommandError::Refused { reason: FeedbackError::NotAwaiting, version: 0 })),
        "{:?}",
        refused.err()
    );
    let due_at = f.now() + Duration::days(3);
    feedback.execute(feedback.caused_by(case_id, request(due_at), &delivered(case_id))).await.unwrap();
    let stale = feedback.execute(feedback.request(case_id, answer(), person(), Some(7))).await;
    assert!(matches!(stale, Err(CommandError::WrongVersion { expected: 7, actual: 1 })), "{:?}", stale.err());
    assert_eq!(feedback.store().stream_version(&format!("feedback-{case_id}")).await.unwrap(), 1);
    // A command with nothing to do and nothing to record writes nothing either.
    let again = feedback.execute(feedback.caused_by(case_id, request(due_at), &delivered(case_id))).await.unwrap();
    assert!(again.appended.is_empty());
    assert_eq!(again.version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_on_a_state_another_writer_moved_on_is_made_again() {
    let f = Fixture::new();
    // Two replicas, each with its cache of current cases.
    let (a, b) = (f.cases().await, f.cases().await);
    let case_id = CaseId(Uuid::now_v7());
    let details = CaseDetails {
        category_code: "env.garbage".into(),
        grid_code: "321012001001001".into(),
        lat: 0.0,
        lon: 0.0,
        description: "rubbish".into(),
        reporter: Reporter {
            kind: ReporterKind::Resident,
            id: "r".into(),
            name: String::new(),
            phone: String::new(),
            sealed: None,
        },
        channel: Channel::Hotline,
        discovered_at: f.now(),
        uploaded_at: f.now(),
        urgent: false,
        special_groups: vec![],
        media_url: None,
    };
    let open = CaseCommand::Open { case_id, details };
    assert_eq!(a.execute(a.request(case_id, open, person(), None)).await.unwrap().version, 2);
    let accept = CaseCommand::Accept { assignee: "网格员".into() };
    b.execute(b.request(case_id, accept, person(), Some(2))).await.unwrap();

    // A still remembers the case dispatched at version 2: its escalation conflicts, and is
    // decided again on the accepted case.
    let escalate = CaseCommand::Escalate { reason: "needs the community".into() };
    let escalated = a.execute(a.request(case_id, escalate, person(), None)).await.unwrap();
    assert_eq!(escalated.version, 4);
    assert!(matches!(escalated.state.status, CaseStatus::Dispatched { ref at } if at.level == Level::Community));
    assert!(escalated.before.is_some(), "decided on the stream as read, not the cached copy");
    let history = a.load(case_id).await.unwrap().history;
    let kinds: Vec<&str> = history.iter().map(|(_, e)| e.type_name()).collect();
    assert_eq!(kinds, ["CaseOpened", "CaseDispatched", "CaseAccepted", "CaseEscalated"]);

    // The same report again is a repeat: the consumer is done, nothing is appended.
    let report = history[0].1.clone();
    let CaseEvent::Opened { details, .. } = report else { unreachable!("the first event opens the case") };
    let cause = delivered(case_id);
    let reopen = b.consumed(case_id, CaseCommand::Open { case_id, details }, &cause, "intake");
    assert!(b.consume(reopen).await.is_ok());
    let refused = b.execute(b.request(case_id, CaseCommand::Resolve { summary: "done".into() }, person(), None)).await;
    assert!(matches!(refused, Err(CommandError::Refused { reason: CaseError::Forbidden { .. }, .. })));
    assert_eq!(b.store().stream_version(&case_id.stream()).await.unwrap(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumed_event_is_applied_once() {
    let f = Fixture::new();
    let feedback = f.feedback().await;
    let case_id = CaseId(Uuid::now_v7());
    let cause = delivered(case_id);
    let due_at = f.now() + Duration::days(3);
    for _ in 0..2 {
        let envelope = feedback.consumed(case_id, request(due_at), &cause, "dispatch");
        feedback.consume(envelope).await.unwrap();
    }
    assert_eq!(feedback.store().stream_version(&format!("feedback-{case_id}")).await.unwrap(), 1);
    assert!(feedback.store().inbox_contains("evaluation.dispatch", cause.event_id).await.unwrap());
    // Refused for good (no round is open to answer) and never handled before: poison.
    let unanswerable = feedback.consumed(CaseId(Uuid::now_v7()), answer(), &delivered(case_id), "dispatch");
    assert!(matches!(feedback.consume(unanswerable).await, Err(HandlerError::Poison(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_timer_fires_once() {
    let f = Fixture::new();
    let feedback = f.feedback().await;
    let case_id = CaseId(Uuid::now_v7());
    let due_at = f.now() + Duration::days(3);
    feedback.execute(feedback.caused_by(case_id, request(due_at), &delivered(case_id))).await.unwrap();
    let timer = feedback.store().due_timers(due_at, 10).await.unwrap().remove(0);
    f.clock.set(due_at);
    for _ in 0..2 {
        feedback.fire(&timer, |due_at| FeedbackCommand::Expire { due_at }).await.unwrap();
    }
    let loaded = feedback.load(case_id).await.unwrap();
    let last = &loaded.history.last().unwrap().0;
    assert_eq!(loaded.state, Feedback::Idle);
    assert_eq!(loaded.version, 2, "defaulted once");
    assert_eq!(last.causation_id, format!("timer:{}:{}", timer.key, timer.generation));
    assert!(feedback.store().due_timers(due_at, 10).await.unwrap().is_empty());
}

/// Lets nobody in.
struct DenyAll;

#[async_trait]
impl Authorize<Feedback> for DenyAll {
    async fn authorize(
        &self,
        caller: &Caller,
        _: Target<'_, Feedback>,
        _: &FeedbackCommand,
    ) -> Result<(), Unauthorized> {
        Err(Denied::new(format!("{} may not", caller.actor.id)).into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_check_sees_the_caller_before_anything_is_decided() {
    let f = Fixture::new();
    let feedback = f.feedback().await.with_authorizer(Arc::new(DenyAll));
    let case_id = CaseId(Uuid::now_v7());
    let denied = feedback.execute(feedback.request(case_id, request(f.now()), person(), None)).await;
    assert!(matches!(&denied, Err(CommandError::Denied(Denied { reason, .. })) if reason == "r-1 may not"));
    assert!(matches!(HandlerError::from(denied.err().unwrap()), HandlerError::Poison(_)));
    assert_eq!(feedback.store().stream_version(&format!("feedback-{case_id}")).await.unwrap(), 0);
}

/// Counts the rounds opened in a table of its own; refuses the one named `refused`.
struct Rounds {
    refused: Option<CaseId>,
}

#[async_trait]
impl ReadModel<Feedback> for Rounds {
    async fn record(
        &self,
        tx: &mut StoreTx,
        id: CaseId,
        _: &Feedback,
        appended: &[(RecordedEvent, FeedbackEvent)],
    ) -> Result<(), StoreError> {
        if self.refused == Some(id) {
            return Err(StoreError::Corrupt("this round cannot be recorded".into()));
        }
        for (record, _) in appended {
            sqlx::query("INSERT INTO rounds (case_id, position) VALUES ($1, $2)")
                .bind(id.to_string())
                .bind(record.global_position)
                .execute(tx.conn().await?)
                .await?;
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_model_is_written_in_the_transaction_of_the_events() {
    let f = Fixture::new();
    let (kept, lost) = (CaseId(Uuid::now_v7()), CaseId(Uuid::now_v7()));
    let feedback = f.feedback().await.with_read_model(Arc::new(Rounds { refused: Some(lost) }));
    sqlx::query("CREATE TABLE rounds (case_id TEXT NOT NULL, position BIGINT NOT NULL)")
        .execute(feedback.store().pool())
        .await
        .unwrap();
    let due_at = f.now() + Duration::days(3);
    let recorded = feedback.execute(feedback.caused_by(kept, request(due_at), &delivered(kept))).await.unwrap();
    let failed = feedback.execute(feedback.caused_by(lost, request(due_at), &delivered(lost))).await;
    assert!(matches!(failed, Err(CommandError::Infrastructure(Infrastructure::Store(StoreError::Corrupt(_))))));

    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT case_id, position FROM rounds").fetch_all(feedback.store().pool()).await.unwrap();
    assert_eq!(rows, [(kept.to_string(), recorded.position().unwrap())]);
    assert_eq!(feedback.store().stream_version(&format!("feedback-{lost}")).await.unwrap(), 0, "rolled back");
}
