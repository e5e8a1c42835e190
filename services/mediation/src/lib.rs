//! The mediation service: opens a session (调解 / 议事) when dispatch asks for one or when a topic
//! collected from residents is proposed (议题征集), runs the council's procedure step by step, and
//! tells dispatch the outcome through its events (`MediationConcluded`).
//!
//! Residents take part themselves ([`residents`]): each area keeps a register of the residents
//! concerned and an agenda of topics they propose and rank, each a stream of its own.
//!
//! Each matter has its record (一事一档, [`record`]) read from its streams, and each area its
//! monthly implementation report (每月通报, [`report`]).
//!
//! Every step, whichever way it arrives ([`grpc`], [`handlers`]), takes the kit's one command
//! path; the sessions' table for the figures ([`sessions`]) is written in the same transaction
//! as the events.

mod grpc;
mod handlers;
mod listing;
mod record;
mod report;
mod residents;
mod sessions;
mod view;

use gridloop_bus::{Clock, Subscription};
use gridloop_domain::agenda::Agenda;
use gridloop_domain::calendar::WorkingCalendar;
use gridloop_domain::decider::Council;
use gridloop_domain::mediation::{Mediation, MediationRules};
use gridloop_domain::register::Register;
use gridloop_eventstore::{EventStore, StoreError};
use gridloop_kit::{AgendaPolicy, CommandHandler, RegisterPolicy, SessionPolicy};
use gridloop_proto::convert;
use gridloop_proto::v1::mediation_service_server::MediationServiceServer;
use std::sync::Arc;

pub const SERVICE: &str = "mediation";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct MediationSvc {
    sessions: CommandHandler<Mediation>,
    registers: CommandHandler<Register>,
    agendas: CommandHandler<Agenda>,
    clock: Arc<dyn Clock>,
}

impl MediationSvc {
    /// Runs the sessions table's migrations; the council's default rules on the mainland calendar.
    pub async fn new(store: EventStore, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        store.migrate_extra(&MIGRATOR, &MIGRATOR).await?;
        let council = Council { rules: MediationRules::default(), calendar: WorkingCalendar::china_mainland() };
        let registers = CommandHandler::new(SERVICE, store.clone(), clock.clone(), Arc::new(()))
            .with_authorizer(Arc::new(RegisterPolicy));
        let agendas = CommandHandler::new(SERVICE, store.clone(), clock.clone(), Arc::new(()))
            .with_authorizer(Arc::new(AgendaPolicy));
        let sessions = CommandHandler::new(SERVICE, store, clock.clone(), Arc::new(council))
            .with_authorizer(Arc::new(SessionPolicy))
            .with_read_model(Arc::new(sessions::SessionsTable));
        Ok(Self { sessions, registers, agendas, clock })
    }

    /// The council rules in force (quorum, notice period, turns) and the city's calendar.
    pub fn with_rules(self, rules: MediationRules, calendar: WorkingCalendar) -> Self {
        Self { sessions: self.sessions.with_policy(Arc::new(Council { rules, calendar })), ..self }
    }

    pub fn into_server(self) -> MediationServiceServer<Self> {
        MediationServiceServer::new(self)
    }

    pub fn subscriptions(&self) -> Vec<Subscription> {
        vec![Subscription {
            consumer: format!("{SERVICE}.dispatch"),
            sources: vec!["dispatch".into()],
            event_types: vec![convert::event_type("CaseMediationRequested")],
            handler: Arc::new(self.clone()),
        }]
    }

    fn store(&self) -> &EventStore {
        self.sessions.store()
    }
}
