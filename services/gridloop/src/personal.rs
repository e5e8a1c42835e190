//! Residents' personal data in the running services: the master key's flags, and intake's vault
//! lent to dispatch so that `GetCase` can show the contact to those entitled to it.

use crate::app::{ServiceName, StoreLocation};
use anyhow::Context;
use async_trait::async_trait;
use gridloop_analytics::personal::ContactSource;
use gridloop_bus::Clock;
use gridloop_dispatch::ContactOpener;
use gridloop_domain::personal::{Contact, SealedContact};
use gridloop_intake::personal::master::{self, MasterKey, MasterKeys};
use gridloop_intake::personal::Vault;
use gridloop_kit::ReporterIndex;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The environment variable that may hold the master key itself (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "GRIDLOOP_MASTER_KEY";

/// The master key that wraps reporters' data keys, and the ones it replaced.
#[derive(Debug, Clone, clap::Args)]
pub struct PersonalDataArgs {
    /// A file holding the master key (base64 of 32 random bytes), e.g. a mounted Kubernetes
    /// Secret. `GRIDLOOP_MASTER_KEY` (the key itself) takes precedence. Unset: the data
    /// directory's `personal/master.key`, created (mode 0600) on first start.
    #[arg(long, env = "GRIDLOOP_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Master keys this one replaced (repeatable, or comma-separated in the environment): data
    /// keys still wrapped by them are re-wrapped by the current key at start.
    #[arg(long = "previous-master-key-file", env = "GRIDLOOP_PREVIOUS_MASTER_KEY_FILES", value_delimiter = ',')]
    pub previous_master_key_files: Vec<PathBuf>,
    /// Erase a reporter's contact data (their data key) this many days after the last of their
    /// cases closed, when none is open; checked hourly. 0: keep until erased on request.
    #[arg(long, env = "GRIDLOOP_PERSONAL_DATA_RETENTION_DAYS", default_value_t = DEFAULT_RETENTION_DAYS)]
    pub personal_data_retention_days: u32,
}

/// How long contact data is kept after a reporter's last case closed, by default.
pub const DEFAULT_RETENTION_DAYS: u32 = 180;
/// How often expired contact data is looked for.
const RETENTION_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

impl Default for PersonalDataArgs {
    fn default() -> Self {
        PersonalDataArgs {
            master_key_file: None,
            previous_master_key_files: Vec::new(),
            personal_data_retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

impl PersonalDataArgs {
    /// The retention period; `None` keeps contact data until erased on request.
    pub fn retention(&self) -> Option<chrono::Duration> {
        (self.personal_data_retention_days > 0)
            .then(|| chrono::Duration::days(i64::from(self.personal_data_retention_days)))
    }

    /// The configured master keys; without any, the data directory's own (created if absent).
    pub fn master_keys(&self, data_dir: &Path) -> anyhow::Result<MasterKeys> {
        self.keys(data_dir, true)
    }

    /// The configured master keys; without any, the data directory's own, which must exist.
    pub fn existing_master_keys(&self, data_dir: &Path) -> anyhow::Result<MasterKeys> {
        self.keys(data_dir, false)
    }

    fn keys(&self, data_dir: &Path, create: bool) -> anyhow::Result<MasterKeys> {
        let current = match (std::env::var(MASTER_KEY_ENV).ok().filter(|v| !v.trim().is_empty()), &self.master_key_file)
        {
            (Some(text), _) => MasterKey::parse(&text).with_context(|| format!("invalid {MASTER_KEY_ENV}"))?,
            (None, Some(path)) => MasterKey::load(path)?,
            (None, None) if !create => MasterKey::load(&master::default_path(data_dir))?,
            (None, None) => {
                let path = master::default_path(data_dir);
                let (key, created) = MasterKey::load_or_create(&path)?;
                if created {
                    tracing::info!(path = %path.display(), key = key.id(), "created the master key for personal data");
                }
                key
            }
        };
        let previous =
            self.previous_master_key_files.iter().map(|path| MasterKey::load(path)).collect::<Result<_, _>>()?;
        Ok(MasterKeys { current, previous })
    }
}

/// Intake's vault over its store where intake runs elsewhere (dispatch in its own process).
pub async fn intake_vault(store: &StoreLocation, masters: MasterKeys) -> anyhow::Result<Vault> {
    let intake =
        store.open(ServiceName::Intake, None).await.context("dispatch opens contacts with intake's key table")?;
    Ok(gridloop_intake::open_vault(intake, masters).await?)
}

/// Intake's vault as dispatch's (and an admin's export's) contact opener.
pub struct VaultContacts(pub Vault);

#[async_trait]
impl ContactSource for VaultContacts {
    async fn open(&self, sealed: &SealedContact) -> Result<Option<Contact>, String> {
        self.0.open_contact(sealed).await.map_err(|e| e.to_string())
    }
}

#[async_trait]
impl ContactOpener for VaultContacts {
    async fn open(&self, sealed: &SealedContact) -> Result<Option<Contact>, tonic::Status> {
        self.0.open_contact(sealed).await.map_err(gridloop_intake::vault_status)
    }
}

impl ReporterIndex for VaultContacts {
    fn index(&self, identity: &str) -> String {
        self.0.blind_index(identity)
    }
}

/// Erases, hourly, the contact data whose retention has run out (the same deletion as
/// `reporter erase`), counted in `gridloop_personal_data_erased_total{reason="retention"}`.
pub async fn erase_expired(vault: Vault, retention: chrono::Duration, clock: Arc<dyn Clock>, stop: CancellationToken) {
    loop {
        match vault.erase_expired(clock.now() - retention).await {
            Ok(0) => {}
            Ok(erased) => {
                metrics::counter!("gridloop_personal_data_erased_total", "reason" => "retention").increment(erased);
                tracing::info!(erased, "erased contact data past its retention");
            }
            Err(error) => tracing::warn!(%error, "erasing expired contact data failed; retrying next hour"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RETENTION_SWEEP_EVERY) => {}
        }
    }
}
