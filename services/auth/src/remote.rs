//! An identity provider's keys fetched over HTTP(S): from a JWKS URL, or found through OIDC
//! discovery (`<issuer>/.well-known/openid-configuration` → `jwks_uri`). Refreshed periodically,
//! and at once (at most every [`MIN_REFETCH`]) when a token names a key id not seen yet, so a
//! key rotation at the provider is picked up without a restart.

use crate::keys::KeySet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The shortest time between two fetches triggered by unknown key ids.
pub const MIN_REFETCH: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest key document accepted.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// Where the keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    /// A JWKS document's URL.
    Jwks(String),
    /// An OIDC issuer: its discovery document names the JWKS.
    Discovery { issuer: String },
}

/// Keys fetched from a URL, kept current.
pub struct RemoteKeys {
    location: KeyLocation,
    client: reqwest::Client,
    keys: RwLock<Option<Arc<KeySet>>>,
    last_fetch: Mutex<Option<Instant>>,
    last_error: RwLock<String>,
}

#[derive(serde::Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl RemoteKeys {
    pub fn new(location: KeyLocation) -> anyhow::Result<Arc<RemoteKeys>> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build()?;
        Ok(Arc::new(RemoteKeys {
            location,
            client,
            keys: RwLock::new(None),
            last_fetch: Mutex::new(None),
            last_error: RwLock::new("not fetched yet".into()),
        }))
    }

    pub fn location(&self) -> &KeyLocation {
        &self.location
    }

    /// The current keys; when `kid` is not among them, fetch again first (rate limited).
    pub async fn keys_for(&self, kid: Option<&str>) -> Result<Arc<KeySet>, String> {
        let current = self.current();
        let known = match (&current, kid) {
            (Some(keys), Some(kid)) => keys.has_kid(kid),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !known && self.may_fetch_now() {
            if let Err(error) = self.refresh().await {
                tracing::warn!(location = ?self.location, %error, "fetching the identity provider's keys failed");
            }
        }
        self.current().ok_or_else(|| self.last_error.read().expect("lock").clone())
    }

    fn current(&self) -> Option<Arc<KeySet>> {
        self.keys.read().expect("lock").clone()
    }

    fn may_fetch_now(&self) -> bool {
        let mut last = self.last_fetch.lock().expect("lock");
        let due = last.is_none_or(|at| at.elapsed() >= MIN_REFETCH);
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// Fetch the keys now; on failure the keys held so far stay in use.
    pub async fn refresh(&self) -> Result<(), String> {
        *self.last_fetch.lock().expect("lock") = Some(Instant::now());
        let outcome = self.fetch().await;
        match &outcome {
            Ok(keys) => {
                tracing::info!(location = ?self.location, keys = keys.len(), "identity provider keys loaded");
                *self.keys.write().expect("lock") = Some(Arc::new(keys.clone()));
            }
            Err(error) => *self.last_error.write().expect("lock") = error.clone(),
        }
        outcome.map(drop)
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let jwks_uri = match &self.location {
            KeyLocation::Jwks(url) => url.clone(),
            KeyLocation::Discovery { issuer } => {
                let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
                let discovery: Discovery =
                    serde_json::from_slice(&self.get(&url).await?).map_err(|e| format!("{url}: {e}"))?;
                // OIDC discovery: the document must name the issuer it was fetched for.
                if discovery.issuer != *issuer {
                    return Err(format!("{url} names issuer {:?}, not {issuer:?}", discovery.issuer));
                }
                discovery.jwks_uri
            }
        };
        KeySet::from_jwks(&self.get(&jwks_uri).await?).map_err(|e| format!("{jwks_uri}: {e}"))
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut response = self.client.get(url).send().await.map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("{url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Refresh every `every` until the last other holder of `keys` is gone.
    pub fn spawn_refresh(keys: &Arc<RemoteKeys>, every: Duration) {
        let weak = Arc::downgrade(keys);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(keys) = weak.upgrade() else { return };
                if let Err(error) = keys.refresh().await {
                    tracing::warn!(location = ?keys.location, %error, "refreshing the identity provider's keys failed; keeping the last ones");
                }
            }
        });
    }
}
