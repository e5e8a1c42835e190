//! Residents' personal data in the running services: the master key's flags, and intake's vault
//! lent to dispatch so that `GetCase` can show the contact to those entitled to it.

use crate::app::{ServiceName, StoreLocation};
use anyhow::Context;
use async_trait::async_trait;
use gridloop_analytics::personal::ContactSource;
use gridloop_dispatch::ContactOpener;
use gridloop_domain::personal::{Contact, SealedContact};
use gridloop_intake::personal::master::{self, MasterKey, MasterKeys};
use gridloop_intake::personal::Vault;
use std::path::{Path, PathBuf};

/// The environment variable that may hold the master key itself (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "GRIDLOOP_MASTER_KEY";

/// The master key that wraps reporters' data keys, and the ones it replaced.
#[derive(Debug, Clone, Default, clap::Args)]
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
}

impl PersonalDataArgs {
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
    async fn open(&self, sealed: &SealedContact) -> Result<Option<Contact>, String> {
        self.0.open_contact(sealed).await.map_err(|e| e.to_string())
    }
}
