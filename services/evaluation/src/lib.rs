//! The evaluation service: asks the reporter for satisfaction once a case is resolved (办完即反),
//! applies the default evaluation when nobody answers in time, and keeps the case projection that
//! serves the case list and the 4321 distribution.

mod drift;
pub mod kpi;
pub mod projection;
pub mod replay;

use async_trait::async_trait;
use gridloop_bus::timers::TimerHandler;
use gridloop_bus::{Clock, EventHandler, HandlerError, Subscription};
use gridloop_domain::case::{CaseEvent, RoutingPolicy, Satisfaction};
use gridloop_domain::drift::DriftPolicy;
use gridloop_domain::feedback::{self, Feedback, FeedbackCommand, FeedbackError};
use gridloop_domain::ids::CaseId;
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use gridloop_eventstore::{
    Commit, DueTimer, EventStore, ExpectedVersion, RecordedEvent, StoreError, StoreTx, StreamAppend,
};
use gridloop_proto::convert::{self, decode_feedback_event, encode_feedback_event};
use gridloop_proto::edge::{
    self, actor_from, case_timer, failed_precondition, invalid_argument, EventContext, Violations,
};
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::evaluation_service_server::{EvaluationService, EvaluationServiceServer};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tonic::{Request, Response, Status};

use gridloop_domain::kpi::Report;
pub use projection::CaseRow;
use projection::Evolution;

pub const SERVICE: &str = "evaluation";
const FEEDBACK_TIMER: &str = "feedback";
const MAX_COMMENT: usize = 2000;
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct Evaluation {
    store: EventStore,
    policy: Arc<CityPolicy>,
    drift: DriftPolicy,
    clock: Arc<dyn Clock>,
}

fn feedback_stream(case_id: CaseId) -> String {
    format!("feedback-{case_id}")
}

fn transient(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Transient(e.to_string())
}

impl Evaluation {
    /// `drift` configures the 4321 drift alert ([`DriftPolicy::disabled`] turns it off).
    pub async fn new(
        store: EventStore,
        policy: Arc<CityPolicy>,
        drift: DriftPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        store.migrate_extra(&MIGRATOR, &MIGRATOR).await?;
        Ok(Self { store, policy, drift, clock })
    }

    pub fn into_server(self) -> EvaluationServiceServer<Self> {
        EvaluationServiceServer::new(self)
    }

    pub fn subscriptions(&self) -> Vec<Subscription> {
        vec![Subscription {
            consumer: "evaluation.dispatch".into(),
            sources: vec!["dispatch".into()],
            event_types: vec![],
            handler: Arc::new(self.clone()),
        }]
    }

    async fn load_feedback(&self, case_id: CaseId) -> Result<(Feedback, Vec<RecordedEvent>), StoreError> {
        let records = self.store.read_stream(&feedback_stream(case_id), 1).await?;
        let mut state = Feedback::default();
        for record in &records {
            let event = decode_feedback_event(&record.event_type, &record.payload)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            state = feedback::evolve(state, &event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        Ok((state, records))
    }

    /// Decide a feedback command and the timer change that goes with it, as a commit.
    fn feedback_commit(
        case_id: CaseId,
        state: &Feedback,
        version: usize,
        events: &[feedback::FeedbackEvent],
        context: &EventContext,
    ) -> Commit {
        let after = events.iter().try_fold(state.clone(), feedback::evolve).unwrap_or_default();
        let due_at = match after {
            Feedback::Awaiting { due_at, .. } => Some(due_at),
            Feedback::Idle => None,
        };
        let (schedule, cancel) = case_timer::arm(FEEDBACK_TIMER, case_id, due_at);
        Commit {
            appends: vec![StreamAppend {
                stream: feedback_stream(case_id),
                expected: ExpectedVersion::Exact(version as u64),
                events: events.iter().map(|e| context.event(encode_feedback_event(case_id, e))).collect(),
            }],
            schedule,
            cancel,
            ..Commit::default()
        }
    }
}

impl Evaluation {
    /// The feedback round (办完即反) a case event opens, as a commit: once the case is resolved
    /// and, where the category requires it, verified on site (核查), never about a resolution the
    /// grid worker has not confirmed. `category` is the case's, as the projection knows it.
    async fn feedback_round(
        &self,
        case_id: CaseId,
        record: &RecordedEvent,
        event: &CaseEvent,
        category: Option<&str>,
    ) -> Result<Option<Commit>, HandlerError> {
        let ask_at_level = match event {
            CaseEvent::Resolved { level, verify_by: None, .. } => *level,
            CaseEvent::Verified { level, passed: true, .. } => *level,
            _ => return Ok(None),
        };
        // History imported from another platform (`gridloop import`) is not asked for feedback:
        // its reporters are long gone and its closure follows in the import itself.
        if record.actor.role == edge::IMPORT_ROLE {
            return Ok(None);
        }
        let (state, records) = self.load_feedback(case_id).await.map_err(transient)?;
        let now = self.clock.now();
        // The category's feedback SLA on the city's calendar; a case the projection does not
        // know, or whose category left the catalog, gets the policy's fallback window.
        let due_at = self.policy.feedback_deadline(category.unwrap_or_default(), now);
        let command = FeedbackCommand::Request { level: ask_at_level, due_at };
        let events = feedback::decide(&state, &command, now).map_err(|e| HandlerError::Poison(e.to_string()))?;
        if events.is_empty() {
            return Ok(None);
        }
        let context = EventContext::caused_by(record, edge::system_actor(SERVICE), now);
        Ok(Some(Self::feedback_commit(case_id, &state, records.len(), &events, &context)))
    }

    /// Apply a batch of dispatch's events inside `tx`: the events this consumer has not handled
    /// yet (one inbox claim for the batch, which reads the cases' rows too) are folded over the
    /// rows in memory, with the feedback rounds they open; the rows are written back with each
    /// closure's counts for the 4321 monitor and the reads its drift assessment needs (one more
    /// round trip), then each closure is assessed.
    async fn apply_batch(&self, tx: &mut StoreTx, source: &str, events: &[&RecordedEvent]) -> Result<(), HandlerError> {
        let event_ids: Vec<_> = events.iter().map(|event| event.event_id).collect();
        // Dispatch's other streams (the policy in force) hold no case events.
        let case_events = || events.iter().filter(|e| e.stream.starts_with("case-"));
        // The rows of every case in the batch, read with the claim (one round trip): a few more
        // than needed when the batch is partly a redelivery.
        let case_ids: Vec<String> = case_events()
            .filter_map(|record| CaseId::parse(&record.correlation_id).ok())
            .map(|case_id| case_id.to_string())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let consumer = format!("evaluation.{source}");
        let (fresh, loaded) = tx
            .claim_inbox_and(&consumer, &event_ids, |batch| projection::queue_load(batch, &case_ids))
            .await
            .map_err(transient)?;
        let mut rows: HashMap<String, CaseRow> = HashMap::with_capacity(case_ids.len());
        for row in projection::loaded(&loaded).map_err(transient)? {
            rows.insert(row.case_id.clone(), row);
        }
        let mut decoded = Vec::with_capacity(fresh.len());
        for &record in case_events().filter(|e| fresh.contains(&e.event_id)) {
            let event = convert::decode_case_event(&record.event_type, &record.payload)
                .map_err(|e| HandlerError::Poison(e.to_string()))?;
            let case_id = CaseId::parse(&record.correlation_id)
                .map_err(|_| HandlerError::Poison(format!("bad case id {:?}", record.correlation_id)))?;
            decoded.push((record, case_id, event));
        }
        let mut changed = HashSet::new();
        let mut closures: Vec<(String, Level, &RecordedEvent)> = Vec::new();
        for (record, case_id, event) in decoded {
            let key = case_id.to_string();
            let category = rows.get(&key).map(|row| row.category_code.as_str());
            if let Some(round) = self.feedback_round(case_id, record, &event, category).await? {
                tx.apply(round).await.map_err(transient)?;
            }
            let at = record.occurred_at.timestamp_micros();
            match projection::evolve(rows.get(&key), case_id, record.stream_version as i64, at, &event) {
                Evolution::AlreadyApplied => {}
                // The batch is retried event by event, after the earlier event.
                Evolution::Gap { have, got } => {
                    return Err(HandlerError::Transient(format!("case {case_id}: got version {got}, have {have}")));
                }
                Evolution::Applied(row) => {
                    if let CaseEvent::Closed { level, .. } = event {
                        closures.push((row.grid_code.clone(), level, record));
                    }
                    changed.insert(key.clone());
                    rows.insert(key, *row);
                }
            }
        }
        let changed: Vec<CaseRow> = changed.iter().filter_map(|key| rows.remove(key)).collect();
        let closures: Vec<(drift::Closure, &RecordedEvent)> = closures
            .into_iter()
            .filter_map(|(grid_code, level, record)| {
                Some((drift::Closure::new(&grid_code, level, record.occurred_at)?, record))
            })
            .collect();
        // The rows, each closure's counts and the reads its drift assessment needs: one round trip.
        let mut writes = tx.batch();
        projection::queue_upsert(&mut writes, &changed);
        let queued: Vec<_> =
            closures.iter().map(|(closure, _)| drift::queue_closure(&mut writes, &self.drift, closure)).collect();
        let results = tx.run(writes).await.map_err(transient)?;
        let mut assessor = drift::Assessor::new(&self.drift);
        for ((closure, record), queued) in closures.iter().zip(&queued) {
            let context = EventContext::caused_by(record, edge::system_actor(SERVICE), self.clock.now());
            assessor.assess(tx, closure, queued, &results, &context).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl EventHandler for Evaluation {
    async fn handle(&self, source: &str, event: &RecordedEvent) -> Result<(), HandlerError> {
        self.handle_batch(source, &[event]).await
    }

    /// A whole relay batch in one transaction: one fsync instead of one per event.
    async fn handle_batch(&self, source: &str, events: &[&RecordedEvent]) -> Result<(), HandlerError> {
        let mut tx = self.store.begin().await.map_err(transient)?;
        self.apply_batch(&mut tx, source, events).await?;
        tx.commit().await.map_err(transient)
    }

    fn batches(&self) -> bool {
        true
    }
}

#[async_trait]
impl TimerHandler for Evaluation {
    async fn fire(&self, timer: &DueTimer) -> Result<(), HandlerError> {
        let (case_id, due_at) = case_timer::parse(FEEDBACK_TIMER, timer).map_err(HandlerError::Poison)?;
        let (state, records) = self.load_feedback(case_id).await.map_err(transient)?;
        let now = self.clock.now();
        let events = feedback::decide(&state, &FeedbackCommand::Expire { due_at }, now)
            .map_err(|e| HandlerError::Poison(e.to_string()))?;
        let Some(first) = records.first() else {
            return Err(HandlerError::Poison(format!("no feedback round for {case_id}")));
        };
        let context = EventContext {
            actor: edge::system_actor(SERVICE),
            correlation_id: case_id.to_string(),
            causation_id: format!("timer:{}:{}", timer.key, timer.generation),
            traceparent: first.traceparent.clone(),
            occurred_at: now,
            routing_key: first.routing_key.clone(),
        };
        let mut commit = Self::feedback_commit(case_id, &state, records.len(), &events, &context);
        // Firing deletes the timer; a default evaluation needs no new one.
        commit.cancel.clear();
        commit.fire = Some((timer.key.clone(), timer.generation));
        match self.store.commit(commit).await {
            Ok(_) | Err(StoreError::TimerGone { .. }) => Ok(()),
            Err(e) => Err(transient(e)),
        }
    }
}

/// Closed cases per settled level (grid, community, street, district) as shares against 4321.
pub fn level_shares(per_level: [u64; 4]) -> Vec<pb::LevelShare> {
    let total: u64 = per_level.iter().sum();
    Level::ALL
        .iter()
        .zip(per_level)
        .map(|(level, count)| {
            let share = if total == 0 { 0.0 } else { count as f64 / total as f64 };
            pb::LevelShare {
                level: convert::level(*level) as i32,
                count,
                share,
                target: level.target_share(),
                deviation: share - level.target_share(),
            }
        })
        .collect()
}

/// A `[from, to)` window in µs from optional timestamps; `to` must come after `from`.
fn time_window(
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
) -> Result<(Option<i64>, Option<i64>), Status> {
    let bound = |t: Option<&prost_types::Timestamp>, field: &str| -> Result<Option<i64>, Status> {
        t.map(|t| {
            convert::from_timestamp(t)
                .map(|t| t.timestamp_micros())
                .ok_or_else(|| invalid_argument(field, "not a valid timestamp"))
        })
        .transpose()
    };
    let (from, to) = (bound(from, "from")?, bound(to, "to")?);
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            return Err(invalid_argument("to", "must be after from"));
        }
    }
    Ok((from, to))
}

fn parse_area(area: &str) -> Result<Option<&str>, Status> {
    if area.is_empty() {
        return Ok(None);
    }
    if !area.bytes().all(|b| b.is_ascii_digit()) || ![6, 9, 12, 15].contains(&area.len()) {
        return Err(invalid_argument("area", "a jurisdiction code: 6, 9, 12 or 15 digits"));
    }
    Ok(Some(area))
}

#[tonic::async_trait]
impl EvaluationService for Evaluation {
    async fn evaluate_case(
        &self,
        request: Request<pb::EvaluateCaseRequest>,
    ) -> Result<Response<pb::EvaluateCaseResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::default();
        let case_id = edge::parse_uuid("case_id", &r.case_id).map(CaseId);
        if let Err(status) = &case_id {
            v.add("case_id", status.message());
        }
        let satisfaction = convert::from_satisfaction(r.satisfaction());
        v.check(satisfaction.is_some(), "satisfaction", "required (satisfied, basically satisfied or unsatisfied)");
        v.check(r.comment.chars().count() <= MAX_COMMENT, "comment", &format!("at most {MAX_COMMENT} characters"));
        v.into_result()?;
        let (Ok(case_id), Some(satisfaction)) = (case_id, satisfaction) else { unreachable!("checked above") };

        let (state, records) = self.load_feedback(case_id).await.map_err(edge::store_error)?;
        let now = self.clock.now();
        let command = FeedbackCommand::Answer { satisfaction, comment: r.comment };
        let events = feedback::decide(&state, &command, now).map_err(|e| match e {
            FeedbackError::NotAwaiting if records.is_empty() => failed_precondition(
                "case",
                "NOT_RESOLVED",
                format!("case {case_id} is not resolved (or does not exist)"),
            ),
            FeedbackError::NotAwaiting => failed_precondition("case", "NOT_AWAITING_EVALUATION", e.to_string()),
        })?;
        let first = records.first().ok_or_else(|| Status::internal("feedback round without its request"))?;
        let context = EventContext {
            actor: actor_from(r.actor.as_ref()),
            correlation_id: case_id.to_string(),
            causation_id: "command:evaluate".into(),
            traceparent: first.traceparent.clone(),
            occurred_at: now,
            routing_key: first.routing_key.clone(),
        };
        let commit = Self::feedback_commit(case_id, &state, records.len(), &events, &context);
        self.store.commit(commit).await.map_err(edge::store_error)?;
        Ok(Response::new(pb::EvaluateCaseResponse {
            case_id: case_id.to_string(),
            satisfaction: convert::satisfaction(satisfaction) as i32,
        }))
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let r = request.into_inner();
        let area = parse_area(&r.area)?;
        let offset: i64 = if r.page_token.is_empty() {
            0
        } else {
            r.page_token.parse().map_err(|_| invalid_argument("page_token", "not a token from a previous page"))?
        };
        let limit = match r.page_size {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let state = match r.state() {
            pb::CaseState::Unspecified => None,
            other => Some(projection::state_name(other)),
        };
        let order = match r.order() {
            pb::CaseOrder::Unspecified | pb::CaseOrder::Newest => projection::Order::Newest,
            pb::CaseOrder::Priority => projection::Order::Priority,
        };
        let rows = projection::list(self.store.pool(), state, area, order, limit, offset)
            .await
            .map_err(|e| edge::store_error(e.into()))?;
        let next_page_token =
            if rows.len() as u32 == limit { (offset + i64::from(limit)).to_string() } else { String::new() };
        Ok(Response::new(pb::ListCasesResponse { cases: rows.iter().map(CaseRow::summary).collect(), next_page_token }))
    }

    async fn get_level_distribution(
        &self,
        request: Request<pb::GetLevelDistributionRequest>,
    ) -> Result<Response<pb::GetLevelDistributionResponse>, Status> {
        let r = request.into_inner();
        let area = parse_area(&r.area)?;
        let (from, to) = time_window(r.from.as_ref(), r.to.as_ref())?;
        let counts = projection::settled_counts(self.store.pool(), area, from, to)
            .await
            .map_err(|e| edge::store_error(e.into()))?;
        let per_level = Level::ALL.map(|level| counts.iter().find(|(l, _)| *l == level).map_or(0, |(_, n)| *n));
        Ok(Response::new(pb::GetLevelDistributionResponse {
            closed_total: per_level.iter().sum(),
            levels: level_shares(per_level),
        }))
    }

    async fn get_kpis(&self, request: Request<pb::GetKpisRequest>) -> Result<Response<pb::GetKpisResponse>, Status> {
        let r = request.into_inner();
        let filter = kpi::filter_from(&r)?;
        let period = kpi::period_of(r.period());
        let offset = self.policy.calendar.offset();
        let mut report = Report::new(period, offset);
        projection::report(self.store.pool(), &filter, &mut report).await.map_err(|e| edge::store_error(e.into()))?;
        Ok(Response::new(kpi::response(period, offset, &report)))
    }

    async fn list_drift_alerts(
        &self,
        request: Request<pb::ListDriftAlertsRequest>,
    ) -> Result<Response<pb::ListDriftAlertsResponse>, Status> {
        let r = request.into_inner();
        let area = parse_area(&r.area)?;
        let rows =
            drift::list(self.store.pool(), area, r.include_cleared).await.map_err(|e| edge::store_error(e.into()))?;
        Ok(Response::new(pb::ListDriftAlertsResponse {
            alerts: rows.iter().map(drift::DriftRow::alert).collect(),
            tolerance: if self.drift.is_enabled() { self.drift.tolerance } else { 0.0 },
            window_days: u32::try_from(self.drift.window.num_days()).unwrap_or_default(),
        }))
    }
}

/// The satisfaction names the projection stores.
pub fn satisfaction_name(s: Satisfaction) -> &'static str {
    match s {
        Satisfaction::Satisfied => "satisfied",
        Satisfaction::BasicallySatisfied => "basically_satisfied",
        Satisfaction::Unsatisfied => "unsatisfied",
    }
}
