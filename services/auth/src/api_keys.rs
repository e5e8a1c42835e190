//! Long-lived API keys for integrators (a city platform, an Open311 client's `api_key`): an
//! opaque secret sent as the bearer token, which the edge maps onto the [`Principal`] it was
//! created for. Only the SHA-256 of a key is stored (the key is 256 random bits, so a plain hash
//! is enough: there is nothing to guess); the key itself is shown once, when it is created.
//!
//! A key reads `glk_<role>_<key id>_<secret>`: the role is in the clear so that a front end can
//! choose what a key may do before sending it on (as it reads a JWT's claims), and every part
//! is covered by the hash, so a key with another role written in it is simply unknown.
//!
//! Verified keys are remembered for [`ApiKeyCheck::remember_for`] (`--api-key-cache-secs`,
//! default [`DEFAULT_CACHE_SECS`]): a revoked key is refused by every server within that time.

use futures::future::BoxFuture;
use gridloop_domain::access::{Principal, Role};
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// What every API key starts with (and a JWT never does).
pub const PREFIX: &str = "glk_";
/// How long a verified (or unknown) key is remembered by default, in seconds.
pub const DEFAULT_CACHE_SECS: u64 = 30;
/// How many keys are remembered (the active integrators).
const REMEMBERED: usize = 4096;

/// A new key: the text handed to the integrator once, and what is stored of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub key_id: String,
    pub key: String,
    pub hash: String,
}

/// A fresh key for `role`.
pub fn generate(role: Role) -> NewKey {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let key_id = hex::encode(id);
    let key = format!("{PREFIX}{}_{key_id}_{}", role.as_str(), hex::encode(secret));
    NewKey { hash: hash(&key), key_id, key }
}

/// What the key store holds of `key`.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.trim().as_bytes()))
}

/// Whether `token` is an API key (not a JWT).
pub fn is_api_key(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// The role written in an API key. Not proof of anything until the key is verified.
pub fn role_of(key: &str) -> Option<Role> {
    let rest = key.strip_prefix(PREFIX)?;
    let mut parts = rest.rsplitn(3, '_');
    let (_secret, _id, role) = (parts.next()?, parts.next()?, parts.next()?);
    role.parse().ok()
}

/// Where the keys are: the principal a stored key hash stands for, `None` when no live key has
/// it (unknown or revoked). A lookup may note the key's use.
pub trait ApiKeyStore: Send + Sync {
    fn principal(&self, hash: &str) -> BoxFuture<'_, Result<Option<Principal>, String>>;
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("the API key is unknown or revoked")]
    Unknown,
    #[error("API keys cannot be checked here: {0}")]
    Unavailable(String),
}

/// Checks API keys against the store the process attaches, remembering answers briefly.
pub struct ApiKeyCheck {
    store: OnceLock<Arc<dyn ApiKeyStore>>,
    remember_for: Duration,
    remembered: Mutex<HashMap<String, (Option<Principal>, Instant)>>,
}

impl ApiKeyCheck {
    pub fn new(remember_for: Duration) -> ApiKeyCheck {
        ApiKeyCheck { store: OnceLock::new(), remember_for, remembered: Mutex::default() }
    }

    /// The store keys are looked up in, once the process has opened it. Later calls are ignored.
    pub fn attach(&self, store: Arc<dyn ApiKeyStore>) {
        let _ = self.store.set(store);
    }

    /// How long an answer is trusted: the longest a revoked key keeps working.
    pub fn remember_for(&self) -> Duration {
        self.remember_for
    }

    /// The principal `key` stands for.
    pub async fn verify(&self, key: &str) -> Result<Principal, ApiKeyError> {
        let hash = hash(key);
        let known = self.remembered.lock().expect("lock").get(&hash).cloned();
        let principal = match known {
            Some((principal, at)) if at.elapsed() < self.remember_for => principal,
            _ => {
                let store = self.store.get().ok_or_else(|| {
                    ApiKeyError::Unavailable("this server does not reach the key store (intake's)".into())
                })?;
                let principal = store.principal(&hash).await.map_err(ApiKeyError::Unavailable)?;
                self.remember(hash, principal.clone());
                principal
            }
        };
        principal.ok_or(ApiKeyError::Unknown)
    }

    fn remember(&self, hash: String, principal: Option<Principal>) {
        if self.remember_for.is_zero() {
            return;
        }
        let mut remembered = self.remembered.lock().expect("lock");
        if remembered.len() >= REMEMBERED {
            let remember_for = self.remember_for;
            remembered.retain(|_, (_, at)| at.elapsed() < remember_for);
            if remembered.len() >= REMEMBERED {
                remembered.clear();
            }
        }
        remembered.insert(hash, (principal, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_its_role_and_only_its_hash_is_kept() {
        let new = generate(Role::GridWorker);
        assert!(is_api_key(&new.key) && new.key.contains(&new.key_id));
        assert_eq!(role_of(&new.key), Some(Role::GridWorker));
        assert_eq!(new.hash, hash(&new.key));
        assert_eq!(new.hash.len(), 64);
        assert!(!new.hash.contains(&new.key_id), "the hash reveals nothing of the key");
        assert_ne!(generate(Role::GridWorker).key, new.key);
        assert_eq!(role_of("glk_chief_00_11"), None);
        assert_eq!(role_of("eyJhbGciOi.x.y"), None);
    }

    #[tokio::test]
    async fn without_a_store_keys_are_refused_as_unavailable() {
        let check = ApiKeyCheck::new(Duration::from_secs(30));
        let refused = check.verify(&generate(Role::Platform).key).await.unwrap_err();
        assert!(matches!(refused, ApiKeyError::Unavailable(_)), "{refused:?}");
    }
}
