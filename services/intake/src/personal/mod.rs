//! Residents' personal data, encrypted at rest (envelope encryption). Intake seals a reporter's
//! id, name and phone before anything is recorded, so every store, every NATS subject and every
//! export carries only ciphertext and a key reference:
//!
//! - [`seal`]: AES-256-GCM (a fresh nonce per value) and HMAC-SHA256;
//! - [`master`]: the master key (file or environment) that wraps the data keys;
//! - [`keys`]: the key table — one data key per reporter, found by the blind index.
//!
//! The [`Vault`] ties them together: it seals a contact, opens one for a view entitled to it
//! (`None` once erased), and erases a reporter by deleting their data key (crypto-shredding):
//! the events stay as they are and still replay, but nothing can read the contact any more.

pub mod keys;
pub mod master;
pub mod seal;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use gridloop_domain::personal::{Contact, SealedContact};
use gridloop_eventstore::{EventStore, StoreError};
use keys::WrappedKey;
use master::MasterKeys;
use seal::Key;
use std::sync::Arc;

/// The key table's row holding the blind-index key: derived from the master key when first
/// needed and kept wrapped like a data key, so that rotating the master key keeps every blind
/// index valid.
const INDEX_KEY_REF: &str = "@blind-index";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("data key {key_ref} is wrapped by master key {master_key_id}, which is not configured (pass it as a previous master key)")]
    UnknownMasterKey { key_ref: String, master_key_id: String },
    #[error("data key {0} does not unwrap: wrong master key or a damaged key table")]
    Unwrap(String),
    #[error("the sealed {field} of a contact under key {key_ref} does not open: damaged or forged")]
    Damaged { key_ref: String, field: &'static str },
}

/// Seals, opens and erases reporters' contact data with the data keys of one intake store.
#[derive(Clone)]
pub struct Vault {
    store: EventStore,
    masters: Arc<MasterKeys>,
    index_key: Arc<Key>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("master_key", &self.masters.current.id()).finish_non_exhaustive()
    }
}

impl Vault {
    /// The vault over `store`'s key table (intake's migrations create it). Data keys wrapped by a
    /// previous master key are re-wrapped by the current one.
    pub async fn open(store: EventStore, masters: MasterKeys) -> Result<Vault, VaultError> {
        let masters = Arc::new(masters);
        let derived = seal::hmac(masters.current.key(), b"gridloop blind index v1");
        let index_key = Arc::new(derived);
        let mut vault = Vault { store, masters, index_key };
        vault.rewrap_all().await?;
        vault.index_key = Arc::new(vault.data_key_for(INDEX_KEY_REF, INDEX_KEY_REF, derived).await?);
        Ok(vault)
    }

    /// The blind index of a reporter's identity (their id, else phone, else name): the same for
    /// every report of theirs, and useless without the installation's master key.
    pub fn blind_index(&self, identity: &str) -> String {
        seal::hmac(self.index_key.as_ref(), identity.trim().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `contact` sealed under its reporter's data key (created on their first report); `None`
    /// for an anonymous report.
    pub async fn seal(&self, contact: &Contact) -> Result<Option<SealedContact>, VaultError> {
        let Some(identity) = contact.identity() else { return Ok(None) };
        let blind_index = self.blind_index(identity);
        let existing = keys::by_blind_index(&self.store, &blind_index).await?;
        let (key_ref, key) = match existing {
            Some(row) => (row.key_ref.clone(), self.unwrap(&row)?),
            None => {
                // Random: a key reference tells nothing about the reporter or when they reported.
                let key_ref = uuid::Builder::from_random_bytes(seal::random_key()[..16].try_into().expect("16 bytes"))
                    .into_uuid()
                    .to_string();
                // A fresh reference names no row yet: the key goes straight in, and the table
                // then says which key the reporter has.
                let key = seal::random_key();
                let row = self.wrap(&key_ref, &blind_index, &key);
                keys::insert(&self.store, &row, chrono::Utc::now().timestamp_micros()).await?;
                // Another report of the same reporter may have won the race: use its key.
                let row = keys::by_blind_index(&self.store, &blind_index).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("data key for {blind_index} vanished as it was written"))
                })?;
                if row.key_ref == key_ref {
                    (key_ref, key)
                } else {
                    (row.key_ref.clone(), self.unwrap(&row)?)
                }
            }
        };
        let field = |name: &str, value: &str| {
            if value.is_empty() {
                Vec::new()
            } else {
                seal::seal(&key, value.as_bytes(), &context(&key_ref, name))
            }
        };
        Ok(Some(SealedContact {
            id: field("id", &contact.id),
            name: field("name", &contact.name),
            phone: field("phone", &contact.phone),
            key_ref,
            blind_index,
        }))
    }

    /// The contact `sealed` holds, or `None` when its data key was erased.
    pub async fn open_contact(&self, sealed: &SealedContact) -> Result<Option<Contact>, VaultError> {
        let Some(row) = keys::by_ref(&self.store, &sealed.key_ref).await? else { return Ok(None) };
        let key = self.unwrap(&row)?;
        let field = |name: &'static str, value: &[u8]| -> Result<String, VaultError> {
            if value.is_empty() {
                return Ok(String::new());
            }
            let damaged = || VaultError::Damaged { key_ref: sealed.key_ref.clone(), field: name };
            let plain = seal::open(&key, value, &context(&sealed.key_ref, name)).map_err(|_| damaged())?;
            String::from_utf8(plain).map_err(|_| damaged())
        };
        Ok(Some(Contact {
            id: field("id", &sealed.id)?,
            name: field("name", &sealed.name)?,
            phone: field("phone", &sealed.phone)?,
        }))
    }

    /// Erases the reporter with this identity: deletes their data key, and on SQLite truncates
    /// the write-ahead log so no older page image holds it. Returns the keys deleted (0: none
    /// held, e.g. already erased) and the reporter's blind index.
    pub async fn erase(&self, identity: &str) -> Result<(u64, String), VaultError> {
        let blind_index = self.blind_index(identity);
        let deleted = keys::delete(&self.store, &blind_index).await?;
        self.store.truncate_log().await?;
        Ok((deleted, blind_index))
    }

    /// Erases the reporters whose last case ended at or before `cutoff` and who have none open
    /// (retention); returns how many data keys went.
    pub async fn erase_expired(&self, cutoff: chrono::DateTime<chrono::Utc>) -> Result<u64, VaultError> {
        let deleted = keys::delete_expired(&self.store, cutoff.timestamp_micros()).await?;
        if deleted > 0 {
            self.store.truncate_log().await?;
        }
        Ok(deleted)
    }

    /// The data key recorded under `key_ref`, or — when there is none — `fresh` wrapped and
    /// recorded under it. Returns the key the table holds.
    async fn data_key_for(&self, key_ref: &str, blind_index: &str, fresh: Key) -> Result<Key, VaultError> {
        if let Some(row) = keys::by_ref(&self.store, key_ref).await? {
            return self.unwrap(&row);
        }
        let row = self.wrap(key_ref, blind_index, &fresh);
        keys::insert(&self.store, &row, chrono::Utc::now().timestamp_micros()).await?;
        match keys::by_ref(&self.store, key_ref).await? {
            Some(row) => self.unwrap(&row),
            // The reporter already had a key under another reference (a concurrent first report).
            None => Ok(fresh),
        }
    }

    fn wrap(&self, key_ref: &str, blind_index: &str, key: &Key) -> WrappedKey {
        let master = &self.masters.current;
        WrappedKey {
            key_ref: key_ref.to_string(),
            blind_index: blind_index.to_string(),
            master_key_id: master.id().to_string(),
            wrapped: STANDARD.encode(seal::seal(master.key(), key, key_ref.as_bytes())),
        }
    }

    fn unwrap(&self, row: &WrappedKey) -> Result<Key, VaultError> {
        let master = self.masters.find(&row.master_key_id).ok_or_else(|| VaultError::UnknownMasterKey {
            key_ref: row.key_ref.clone(),
            master_key_id: row.master_key_id.clone(),
        })?;
        let unwrap_error = || VaultError::Unwrap(row.key_ref.clone());
        let wrapped = STANDARD.decode(&row.wrapped).map_err(|_| unwrap_error())?;
        let key = seal::open(master.key(), &wrapped, row.key_ref.as_bytes()).map_err(|_| unwrap_error())?;
        key.try_into().map_err(|_| unwrap_error())
    }

    /// Re-wraps every data key wrapped by a previous master key with the current one.
    async fn rewrap_all(&self) -> Result<u64, VaultError> {
        let stale = keys::wrapped_by_others(&self.store, self.masters.current.id()).await?;
        for row in &stale {
            let key = self.unwrap(row)?;
            keys::rewrap(&self.store, &self.wrap(&row.key_ref, &row.blind_index, &key)).await?;
        }
        if !stale.is_empty() {
            tracing::info!(keys = stale.len(), master_key = self.masters.current.id(), "re-wrapped data keys");
        }
        Ok(stale.len() as u64)
    }
}

/// What a sealed field is bound to: its key reference and its name.
fn context(key_ref: &str, field: &str) -> Vec<u8> {
    format!("{key_ref}/{field}").into_bytes()
}
