//! The intake service: discover and upload (发现, 上报). It validates a report, classifies it
//! against the catalog, places it in its grid and records `CaseReported`. Submission is
//! idempotent by client key: the report's stream is named after the key, so a retry finds the
//! stream taken and answers with the first result.
//!
//! Duplicate detection: intake keeps a read model of the open cases (`intake_open_cases`, fed by
//! its own `CaseReported` and dispatch's `CaseClosed` / `CaseRejected`). A report of the same
//! category within the [`DuplicatePolicy`]'s radius and window of an open case opens no case: it
//! records `CaseReportLinked` on its own report stream (so client-key idempotency holds for it
//! too) and answers with the existing case; dispatch adds the report to that case's history.
//! The read model follows the log, so two reports of one matter submitted within the same instant
//! (before the first one's event has been relayed back) may still open two cases.
//!
//! Personal data: the reporter's contact is sealed by the [`personal::Vault`] before the report
//! is recorded (only ciphertext and a key reference leave intake), and erased on request by
//! deleting the reporter's data key.
//!
//! Integrators' API keys live in intake's store too ([`api_keys`]): created, listed and revoked
//! by its admin RPCs, looked up by hash at the gRPC edge.
//!
//! The gRPC API ([`grpc`]) records reports; the open cases read model ([`open_cases`]) follows
//! the log.

pub mod api_keys;
mod grpc;
pub use grpc::vault_status;
mod open_cases;
pub mod personal;

use api_keys::ApiKeyTable;
use gridloop_bus::{Clock, EventHandler, Subscription};
use gridloop_domain::duplicates::DuplicatePolicy;
use gridloop_domain::policy::CityPolicy;
use gridloop_eventstore::EventStore;
use gridloop_proto::convert;
use gridloop_proto::v1::intake_service_server::IntakeServiceServer;
use personal::master::MasterKeys;
use personal::{Vault, VaultError};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub const SERVICE: &str = "intake";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct Intake {
    store: EventStore,
    policy: Arc<CityPolicy>,
    clock: Arc<dyn Clock>,
    duplicates: DuplicatePolicy,
    vault: Vault,
    api_keys: ApiKeyTable,
}

/// Creates or upgrades intake's read models and key table in `store`.
pub async fn migrate(store: &EventStore) -> Result<(), gridloop_eventstore::StoreError> {
    store.migrate_extra(&MIGRATOR, &MIGRATOR).await
}

/// The vault over an intake store's key table, migrating the store first: for intake itself, and
/// for the views of another process that open contacts (dispatch's `GetCase`, an export with
/// personal data).
pub async fn open_vault(store: EventStore, masters: MasterKeys) -> Result<Vault, VaultError> {
    migrate(&store).await?;
    Vault::open(store, masters).await
}

/// The API key table of an intake store, migrating the store first: for the gRPC edge of a
/// process where intake runs elsewhere.
pub async fn open_api_keys(store: EventStore) -> Result<ApiKeyTable, gridloop_eventstore::StoreError> {
    migrate(&store).await?;
    Ok(ApiKeyTable::new(store))
}

/// The intake stream of the report submitted with `client_key`.
pub fn report_stream(client_key: &str) -> String {
    let digest = Sha256::digest(client_key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("report-{hex}")
}

impl Intake {
    /// Runs intake's read-model migrations. `duplicates` decides when a report is linked to an
    /// open case instead of opening one ([`DuplicatePolicy::disabled`] turns that off); `masters`
    /// wrap the reporters' data keys.
    pub async fn new(
        store: EventStore,
        policy: Arc<CityPolicy>,
        clock: Arc<dyn Clock>,
        duplicates: DuplicatePolicy,
        masters: MasterKeys,
    ) -> Result<Self, VaultError> {
        let vault = open_vault(store.clone(), masters).await?;
        let api_keys = ApiKeyTable::new(store.clone());
        Ok(Self { store, policy, clock, duplicates, vault, api_keys })
    }

    /// Integrators' API keys in this intake's store: what the gRPC edge checks keys against.
    pub fn api_keys(&self) -> &ApiKeyTable {
        &self.api_keys
    }

    /// The vault that seals and opens reporters' contact data in this intake's store.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The consumers that keep `intake_open_cases`: intake's own reports open a row, dispatch's
    /// closures and rejections remove it.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        let handler: Arc<dyn EventHandler> = Arc::new(self.clone());
        let types = |names: &[&str]| names.iter().map(|n| convert::event_type(n)).collect();
        vec![
            Subscription {
                consumer: "intake.self".into(),
                sources: vec![SERVICE.into()],
                event_types: types(&["CaseReported", "CaseReportLinked"]),
                handler: handler.clone(),
            },
            Subscription {
                consumer: "intake.dispatch".into(),
                sources: vec!["dispatch".into()],
                event_types: types(&["CaseClosed", "CaseRejected"]),
                handler,
            },
        ]
    }

    pub fn into_server(self) -> IntakeServiceServer<Self> {
        IntakeServiceServer::new(self)
    }
}
