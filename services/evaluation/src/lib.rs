//! The evaluation service: asks the reporter for satisfaction once a case is resolved (办完即反),
//! applies the default evaluation when nobody answers in time, and keeps the case projection that
//! serves the case list and the 4321 distribution.
//!
//! Feedback rounds take the kit's one command path, from a case event ([`handlers`]), a
//! reporter's answer ([`grpc`]) or their deadline; the projection ([`projection`], paged by
//! [`case_list`]), the 4321 monitor ([`drift`]) and the KPIs ([`kpi`]) are read models of
//! dispatch's events.

mod access;
pub mod case_list;
mod counts;
mod drift;
mod grpc;
mod handlers;
pub mod kpi;
pub mod kpi_days;
mod padding;
pub mod projection;
pub mod replay;
pub mod settled;
mod watch;

use gridloop_bus::{Clock, Subscription};
use gridloop_domain::case::Satisfaction;
use gridloop_domain::drift::DriftPolicy;
use gridloop_domain::feedback::Feedback;
use gridloop_domain::ids::CaseId;
use gridloop_domain::level::Level;
use gridloop_domain::policy::CityPolicy;
use gridloop_eventstore::{EventStore, StoreError};
use gridloop_kit::{CommandHandler, Progress, ReporterIndex};
use gridloop_proto::convert;
use gridloop_proto::v1 as pb;
use gridloop_proto::v1::evaluation_service_server::EvaluationServiceServer;
use std::sync::Arc;

pub use projection::CaseRow;
use watch::Watches;

pub const SERVICE: &str = "evaluation";
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct Evaluation {
    feedback: CommandHandler<Feedback>,
    policy: Arc<CityPolicy>,
    drift: DriftPolicy,
    clock: Arc<dyn Clock>,
    /// The versions of the cases the projection has applied, for clients waiting on their writes.
    progress: Arc<Progress<CaseId>>,
    /// Recognises a resident as the reporter of a case whose contact is sealed.
    reporters: Option<Arc<dyn ReporterIndex>>,
    /// The live views watching the projection move.
    watches: Arc<Watches>,
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
        kpi_days::ensure(store.pool(), policy.calendar.zone()).await?;
        let authorizer = Arc::new(access::FeedbackPolicy { store: store.clone(), reporters: None });
        let feedback = CommandHandler::new(SERVICE, store, clock.clone(), Arc::new(())).with_authorizer(authorizer);
        Ok(Self { feedback, policy, drift, clock, progress: Arc::default(), reporters: None, watches: Arc::default() })
    }

    /// Lets a resident list and evaluate the cases they reported, recognised under `reporters`.
    pub fn with_reporter_index(self, reporters: Arc<dyn ReporterIndex>) -> Self {
        let policy = access::FeedbackPolicy { store: self.store().clone(), reporters: Some(reporters.clone()) };
        let feedback = self.feedback.clone().with_authorizer(Arc::new(policy));
        Self { feedback, reporters: Some(reporters), ..self }
    }

    pub fn into_server(self) -> EvaluationServiceServer<Self> {
        EvaluationServiceServer::new(self)
    }

    pub fn subscriptions(&self) -> Vec<Subscription> {
        vec![Subscription {
            consumer: format!("{SERVICE}.dispatch"),
            sources: vec!["dispatch".into()],
            event_types: vec![],
            handler: Arc::new(self.clone()),
        }]
    }

    /// End every `WatchFigures` stream: the server is stopping, and an open stream would keep
    /// its graceful shutdown waiting.
    pub fn stop_watches(&self) {
        self.watches.stop();
    }

    fn store(&self) -> &EventStore {
        self.feedback.store()
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

/// The satisfaction names the projection stores.
pub fn satisfaction_name(s: Satisfaction) -> &'static str {
    match s {
        Satisfaction::Satisfied => "satisfied",
        Satisfaction::BasicallySatisfied => "basically_satisfied",
        Satisfaction::Unsatisfied => "unsatisfied",
    }
}
