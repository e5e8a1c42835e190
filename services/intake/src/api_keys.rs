//! The key table of integrators' API keys (`intake_api_keys`) in intake's store: created,
//! listed, revoked through intake's admin RPCs, and looked up by hash at every gRPC edge that
//! reaches this store ([`ApiKeyTable`] is the edge's [`ApiKeyStore`]).

use futures::future::BoxFuture;
use gridloop_auth::api_keys::{self, ApiKeyStore};
use gridloop_domain::access::{Principal, PrincipalError, Role};
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_eventstore::{EventStore, StoreError};
use sqlx::Row as _;

/// One key as listed: never its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub key_id: String,
    pub principal: Principal,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Why a key table operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyTableError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored key {key_id} names no valid principal: {reason}")]
    Corrupt { key_id: String, reason: String },
    #[error("no API key {0}")]
    NotFound(String),
}

/// The key table of one intake store.
#[derive(Clone)]
pub struct ApiKeyTable {
    store: EventStore,
}

const COLUMNS: &str = "key_id, subject, role, area, department, created_at, last_used_at, revoked_at";

fn row(r: &sqlx::any::AnyRow) -> Result<ApiKeyRow, ApiKeyTableError> {
    let key_id: String = r.try_get(0).map_err(StoreError::from)?;
    let text = |i: usize| r.try_get::<String, _>(i).map_err(StoreError::from);
    let (subject, role, area, department) = (text(1)?, text(2)?, text(3)?, text(4)?);
    let corrupt = |reason: String| ApiKeyTableError::Corrupt { key_id: key_id.clone(), reason };
    let role: Role = role.parse().map_err(|e: gridloop_domain::access::UnknownRole| corrupt(e.to_string()))?;
    let area = (!area.is_empty()).then(|| AreaCode::new(&area)).transpose().map_err(|e| corrupt(e.to_string()))?;
    let department = (!department.is_empty()).then_some(department);
    let principal =
        Principal::new(subject, role, area, department).map_err(|e: PrincipalError| corrupt(e.to_string()))?;
    Ok(ApiKeyRow {
        principal,
        created_at: r.try_get(5).map_err(StoreError::from)?,
        last_used_at: r.try_get(6).map_err(StoreError::from)?,
        revoked_at: r.try_get(7).map_err(StoreError::from)?,
        key_id,
    })
}

impl ApiKeyTable {
    /// The table in `store` (intake's, migrated).
    pub fn new(store: EventStore) -> ApiKeyTable {
        ApiKeyTable { store }
    }

    /// Stores a new key for `principal`; the key itself is returned, once.
    pub async fn create(
        &self,
        principal: &Principal,
        now_micros: i64,
    ) -> Result<(ApiKeyRow, String), ApiKeyTableError> {
        let new = api_keys::generate(principal.role);
        let tx = self.store.begin().await?;
        let mut batch = tx.batch();
        let sql = batch.style().adapt(
            "INSERT INTO intake_api_keys (key_id, key_hash, subject, role, area, department, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        );
        batch
            .statement(&sql)
            .bind(new.key_id.clone())
            .bind(new.hash.clone())
            .bind(principal.subject.clone())
            .bind(principal.role.as_str().to_string())
            .bind(principal.area.as_ref().map_or_else(String::new, |a| a.as_str().to_string()))
            .bind(principal.department.clone().unwrap_or_default())
            .bind(now_micros);
        tx.commit_with(batch).await?;
        let row = ApiKeyRow {
            key_id: new.key_id,
            principal: principal.clone(),
            created_at: now_micros,
            last_used_at: None,
            revoked_at: None,
        };
        Ok((row, new.key))
    }

    /// The keys, oldest first; revoked ones only when asked.
    pub async fn list(&self, include_revoked: bool) -> Result<Vec<ApiKeyRow>, ApiKeyTableError> {
        let filter = if include_revoked { "" } else { "WHERE revoked_at IS NULL" };
        let sql = format!("SELECT {COLUMNS} FROM intake_api_keys {filter} ORDER BY created_at, key_id");
        let rows = sqlx::query(&sql).fetch_all(&mut *self.store.reader().await?).await.map_err(StoreError::from)?;
        rows.iter().map(row).collect()
    }

    /// Revokes a key (again: keeps the first revocation time); the key as it now stands.
    pub async fn revoke(&self, key_id: &str, now_micros: i64) -> Result<ApiKeyRow, ApiKeyTableError> {
        let tx = self.store.begin().await?;
        let mut batch = tx.batch();
        let sql =
            batch.style().adapt("UPDATE intake_api_keys SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL");
        batch.statement(&sql).bind(now_micros).bind(key_id.to_string());
        tx.commit_with(batch).await?;
        self.one("key_id", key_id).await?.ok_or_else(|| ApiKeyTableError::NotFound(key_id.to_string()))
    }

    async fn one(&self, column: &str, value: &str) -> Result<Option<ApiKeyRow>, ApiKeyTableError> {
        let sql = format!("SELECT {COLUMNS} FROM intake_api_keys WHERE {column} = $1");
        let found = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&mut *self.store.reader().await?)
            .await
            .map_err(StoreError::from)?;
        found.as_ref().map(row).transpose()
    }

    /// The principal of the live key with this hash, noting its use.
    pub async fn principal_for(&self, hash: &str, now_micros: i64) -> Result<Option<Principal>, ApiKeyTableError> {
        let Some(key) = self.one("key_hash", hash).await? else { return Ok(None) };
        if key.revoked_at.is_some() {
            return Ok(None);
        }
        let tx = self.store.begin().await?;
        let mut batch = tx.batch();
        let sql = batch.style().adapt("UPDATE intake_api_keys SET last_used_at = $1 WHERE key_id = $2");
        batch.statement(&sql).bind(now_micros).bind(key.key_id.clone());
        tx.commit_with(batch).await?;
        Ok(Some(key.principal))
    }
}

impl ApiKeyStore for ApiKeyTable {
    fn principal(&self, hash: &str) -> BoxFuture<'_, Result<Option<Principal>, String>> {
        let hash = hash.to_string();
        Box::pin(async move {
            let now = chrono::Utc::now().timestamp_micros();
            self.principal_for(&hash, now).await.map_err(|error| error.to_string())
        })
    }
}
