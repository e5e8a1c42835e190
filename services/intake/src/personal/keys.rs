//! The key table (`intake_personal_keys`): one data key per reporter, wrapped by the master key
//! whose id it records, found by the reporter's blind index. Deleting a row is erasure.

use gridloop_eventstore::{Batch, EventStore, StoreError};
use sqlx::Row as _;

/// One row of the key table: the data key still wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub key_ref: String,
    pub blind_index: String,
    pub master_key_id: String,
    /// `nonce || ciphertext || tag`, base64.
    pub wrapped: String,
}

const COLUMNS: &str = "key_ref, blind_index, master_key_id, wrapped_key";

fn row(r: &sqlx::any::AnyRow) -> Result<WrappedKey, StoreError> {
    Ok(WrappedKey {
        key_ref: r.try_get(0)?,
        blind_index: r.try_get(1)?,
        master_key_id: r.try_get(2)?,
        wrapped: r.try_get(3)?,
    })
}

async fn one(store: &EventStore, column: &str, value: &str) -> Result<Option<WrappedKey>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM intake_personal_keys WHERE {column} = $1");
    let found = sqlx::query(&sql).bind(value).fetch_optional(&mut *store.reader().await?).await?;
    found.as_ref().map(row).transpose()
}

/// The data key of the reporter with this blind index.
pub async fn by_blind_index(store: &EventStore, blind_index: &str) -> Result<Option<WrappedKey>, StoreError> {
    one(store, "blind_index", blind_index).await
}

/// The data key a sealed contact names.
pub async fn by_ref(store: &EventStore, key_ref: &str) -> Result<Option<WrappedKey>, StoreError> {
    one(store, "key_ref", key_ref).await
}

/// Records `key` unless the reporter has one already (two first reports at once: one wins, and
/// both then read the winner).
pub async fn insert(store: &EventStore, key: &WrappedKey, now_micros: i64) -> Result<(), StoreError> {
    let tx = store.begin().await?;
    let mut batch = tx.batch();
    let sql = batch.style().adapt(
        "INSERT INTO intake_personal_keys (key_ref, blind_index, master_key_id, wrapped_key, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (blind_index) DO NOTHING",
    );
    batch
        .statement(&sql)
        .bind(key.key_ref.clone())
        .bind(key.blind_index.clone())
        .bind(key.master_key_id.clone())
        .bind(key.wrapped.clone())
        .bind(now_micros);
    tx.commit_with(batch).await
}

/// Deletes the data key of the reporter with this blind index; how many rows went (0 or 1). The
/// wrapped key is overwritten before the row is deleted, so the page the row leaves behind does
/// not hold it.
pub async fn delete(store: &EventStore, blind_index: &str) -> Result<u64, StoreError> {
    let mut tx = store.begin().await?;
    let mut batch = tx.batch();
    let style = batch.style();
    batch
        .statement(&style.adapt("UPDATE intake_personal_keys SET wrapped_key = '' WHERE blind_index = $1"))
        .bind(blind_index.to_string());
    batch
        .statement(&style.adapt("DELETE FROM intake_personal_keys WHERE blind_index = $1 RETURNING key_ref"))
        .bind(blind_index.to_string());
    let rows = tx.run(batch).await?;
    tx.commit().await?;
    Ok(rows.last().map_or(0, |deleted| deleted.len() as u64))
}

/// The keys wrapped by a master key other than `current_id`: to re-wrap after a rotation.
pub async fn wrapped_by_others(store: &EventStore, current_id: &str) -> Result<Vec<WrappedKey>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM intake_personal_keys WHERE master_key_id <> $1");
    let rows = sqlx::query(&sql).bind(current_id).fetch_all(&mut *store.reader().await?).await?;
    rows.iter().map(row).collect()
}

/// Replaces a key's wrapping (same data key, wrapped by another master key).
pub async fn rewrap(store: &EventStore, key: &WrappedKey) -> Result<(), StoreError> {
    let tx = store.begin().await?;
    let mut batch = tx.batch();
    let sql =
        batch.style().adapt("UPDATE intake_personal_keys SET master_key_id = $1, wrapped_key = $2 WHERE key_ref = $3");
    batch.statement(&sql).bind(key.master_key_id.clone()).bind(key.wrapped.clone()).bind(key.key_ref.clone());
    tx.commit_with(batch).await
}

/// Queues: the case `case_id` holds a report sealed under `key_ref` (its reporter's key stays
/// while the case is open).
pub fn queue_case_key(batch: &mut Batch<'_>, case_id: &str, key_ref: &str) {
    let sql = batch.style().adapt(
        "INSERT INTO intake_personal_case_keys (case_id, key_ref) VALUES ($1, $2) \
         ON CONFLICT (case_id, key_ref) DO NOTHING",
    );
    batch.statement(&sql).bind(case_id.to_string()).bind(key_ref.to_string());
}

/// Queues: the case `case_id` ended (closed or rejected) at `at_micros`; its reporters' keys
/// count their retention from then.
pub fn queue_case_ended(batch: &mut Batch<'_>, case_id: &str, at_micros: i64) {
    let style = batch.style();
    batch
        .statement(&style.adapt(
            "UPDATE intake_personal_keys SET last_closed_at = $1 WHERE key_ref IN \
             (SELECT key_ref FROM intake_personal_case_keys WHERE case_id = $2)",
        ))
        .bind(at_micros)
        .bind(case_id.to_string());
    batch.statement(&style.adapt("DELETE FROM intake_personal_case_keys WHERE case_id = $1")).bind(case_id.to_string());
}

/// Deletes the keys whose reporter has no open case and whose last case ended at or before
/// `cutoff_micros`; how many went. Overwritten first, as on erasure by request.
pub async fn delete_expired(store: &EventStore, cutoff_micros: i64) -> Result<u64, StoreError> {
    const EXPIRED: &str = "last_closed_at IS NOT NULL AND last_closed_at <= $1 \
         AND key_ref NOT IN (SELECT key_ref FROM intake_personal_case_keys)";
    let mut tx = store.begin().await?;
    let mut batch = tx.batch();
    let style = batch.style();
    batch
        .statement(&style.adapt(&format!("UPDATE intake_personal_keys SET wrapped_key = '' WHERE {EXPIRED}")))
        .bind(cutoff_micros);
    batch
        .statement(&style.adapt(&format!("DELETE FROM intake_personal_keys WHERE {EXPIRED} RETURNING key_ref")))
        .bind(cutoff_micros);
    let rows = tx.run(batch).await?;
    tx.commit().await?;
    Ok(rows.last().map_or(0, |deleted| deleted.len() as u64))
}
