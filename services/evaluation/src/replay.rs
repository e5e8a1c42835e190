//! Rebuilding evaluation's read model from dispatch's event log (`gridloop replay`): the case
//! projection and the 4321 monitor's level counts, into a fresh read model, in place, or into a
//! scratch SQLite file for "as of" queries. Cases fold with [`projection::evolve`] and closures
//! count with [`drift::level_count_keys`], the rules the live consumer uses, so a rebuilt read
//! model equals the live one.

use crate::drift::{self, LevelCountKey};
use crate::kpi::CaseFilter;
use crate::kpi_days::{self, DayCounts};
use crate::projection::{self, CaseRow, Evolution};
use gridloop_domain::case::CaseEvent;
use gridloop_domain::clock::Tz;
use gridloop_domain::ids::CaseId;
use gridloop_domain::kpi::Report;
use gridloop_domain::level::Level;
use gridloop_eventstore::{Durability, EventStore, RecordedEvent, StoreError, StoreOptions};
use gridloop_proto::convert;
use std::collections::{HashMap, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("read model: {0}")]
    Sql(#[from] sqlx::Error),
    #[error(
        "the target already holds {0} cases or level counts: replay builds a fresh read model (or pass --replace)"
    )]
    NotEmpty(i64),
    #[error("cannot make the scratch read model's directory: {0}")]
    Scratch(#[from] std::io::Error),
    #[error("event at position {position} ({event_type}): {reason}")]
    Undecodable { position: i64, event_type: String, reason: String },
}

/// What a replay went through: every event read is counted once, as applied, skipped or policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Events read.
    pub events: u64,
    /// Case events folded into a row.
    pub applied: u64,
    /// Case events not folded: their case's earlier events were not in the replayed range (a
    /// replay that starts mid-history, e.g. from a JetStream sequence after retention dropped
    /// the beginning), or the row already held them (a duplicate delivery).
    pub skipped: u64,
    /// Events of dispatch's other streams (the city policy): no case row to fold them into.
    pub policy: u64,
}

/// The case event an envelope carries, or `None` for dispatch's other streams (the policy).
fn decode(record: &RecordedEvent) -> Result<Option<(CaseId, CaseEvent)>, ReplayError> {
    if !record.stream.starts_with("case-") {
        return Ok(None);
    }
    let undecodable = |reason: String| ReplayError::Undecodable {
        position: record.global_position,
        event_type: record.event_type.clone(),
        reason,
    };
    let event =
        convert::decode_case_event(&record.event_type, &record.payload).map_err(|e| undecodable(e.to_string()))?;
    let case_id = CaseId::parse(&record.correlation_id)
        .map_err(|_| undecodable(format!("bad case id {:?}", record.correlation_id)))?;
    Ok(Some((case_id, event)))
}

/// A row changed by [`fold`]: its case id, and the level when the event closed the case.
struct Folded {
    key: String,
    closed_at_level: Option<Level>,
}

/// Fold `record` into `rows`; says which row changed, if one did.
fn fold(
    rows: &mut HashMap<String, CaseRow>,
    stats: &mut ReplayStats,
    record: &RecordedEvent,
) -> Result<Option<Folded>, ReplayError> {
    stats.events += 1;
    let Some((case_id, event)) = decode(record)? else {
        stats.policy += 1;
        return Ok(None);
    };
    let key = case_id.to_string();
    let at = record.occurred_at.timestamp_micros();
    match projection::evolve(rows.get(&key), case_id, record.stream_version as i64, at, &event) {
        Evolution::Applied(row) => {
            stats.applied += 1;
            rows.insert(key.clone(), *row);
            let closed_at_level = match event {
                CaseEvent::Closed { level, .. } => Some(level),
                _ => None,
            };
            Ok(Some(Folded { key, closed_at_level }))
        }
        Evolution::AlreadyApplied | Evolution::Gap { .. } => {
            stats.skipped += 1;
            Ok(None)
        }
    }
}

/// A replay into a read model store (the evaluation service's tables): each batch of events is
/// folded in memory over the rows it touches and the closures it holds are counted, then both are
/// written in one transaction.
pub struct Rebuild {
    store: EventStore,
    stats: ReplayStats,
    /// The time zone of the KPI day counts.
    zone: Tz,
}

impl Rebuild {
    /// Prepare `store` (migrations); it must hold no cases unless `replace`, which empties the
    /// projection first (the evaluation service must be stopped meanwhile). The KPI day counts
    /// are cut in `zone`, the city's time zone.
    pub async fn new(store: EventStore, replace: bool, zone: Tz) -> Result<Self, ReplayError> {
        store.migrate_extra(&crate::MIGRATOR, &crate::MIGRATOR).await?;
        for table in ["evaluation_cases", "evaluation_level_counts", "evaluation_kpi_days"] {
            if replace {
                sqlx::query(&format!("DELETE FROM {table}")).execute(store.pool()).await?;
            } else {
                let (n,): (i64,) =
                    sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(store.pool()).await?;
                if n > 0 {
                    return Err(ReplayError::NotEmpty(n));
                }
            }
        }
        let mut conn = store.pool().acquire().await?;
        kpi_days::set_zone(&mut conn, zone).await?;
        Ok(Self { store, stats: ReplayStats::default(), zone })
    }

    pub async fn apply(&mut self, events: &[RecordedEvent]) -> Result<(), ReplayError> {
        let case_ids: Vec<String> = events
            .iter()
            .filter(|record| record.stream.starts_with("case-"))
            .map(|record| record.correlation_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut tx = self.store.pool().begin().await?;
        let mut rows = HashMap::with_capacity(case_ids.len());
        for row in projection::load(&mut tx, &case_ids).await? {
            rows.insert(row.case_id.clone(), row);
        }
        let stored = rows.clone();
        let mut dirty = HashSet::new();
        let mut closures: HashMap<LevelCountKey, i64> = HashMap::new();
        for record in events {
            let Some(Folded { key, closed_at_level }) = fold(&mut rows, &mut self.stats, record)? else { continue };
            if let (Some(level), Some(row)) = (closed_at_level, rows.get(&key)) {
                for count in drift::level_count_keys(&row.grid_code, level, record.occurred_at).unwrap_or_default() {
                    *closures.entry(count).or_default() += 1;
                }
            }
            dirty.insert(key);
        }
        let changed: Vec<CaseRow> = dirty.iter().filter_map(|k| rows.remove(k)).collect();
        let mut day_counts = DayCounts::default();
        for row in &changed {
            day_counts.change(stored.get(&row.case_id), row, self.zone);
        }
        projection::upsert(&mut tx, &changed).await?;
        kpi_days::add(&mut tx, &day_counts.into_rows()).await?;
        let closures: Vec<(LevelCountKey, i64)> = closures.into_iter().collect();
        drift::add_level_counts(&mut tx, &closures).await?;
        tx.commit().await?;
        Ok(())
    }

    pub fn stats(&self) -> ReplayStats {
        self.stats
    }
}

/// A replay into a scratch read model: a SQLite file in a fresh temporary directory, removed
/// when this is dropped. "As of" reports fold the log here rather than in memory, so that their
/// memory stays flat however many cases the history holds, and query it as the live service
/// queries its own read model.
pub struct Scratch {
    rebuild: Rebuild,
    store: EventStore,
    _dir: tempfile::TempDir,
}

impl Scratch {
    /// A fresh scratch read model whose KPI day counts are cut in `zone`. The directory is made
    /// under `std::env::temp_dir()` (`TMPDIR`).
    pub async fn new(zone: Tz) -> Result<Self, ReplayError> {
        let dir = tempfile::Builder::new().prefix("gridloop-as-of-").tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("evaluation.db").display());
        // Thrown away afterwards: no sync at commit.
        let options = StoreOptions { durability: Durability::Relaxed, max_connections: 2, ..StoreOptions::default() };
        let store = EventStore::connect(&url, options).await?;
        let rebuild = Rebuild::new(store.clone(), false, zone).await?;
        Ok(Self { rebuild, store, _dir: dir })
    }

    pub async fn apply(&mut self, events: &[RecordedEvent]) -> Result<(), ReplayError> {
        self.rebuild.apply(events).await
    }

    pub fn stats(&self) -> ReplayStats {
        self.rebuild.stats()
    }

    /// Add the cases `filter` selects to `report`, by the live service's own KPI query.
    pub async fn report(&self, filter: &CaseFilter, report: &mut Report) -> Result<(), ReplayError> {
        Ok(kpi_days::report(self.store.pool(), filter, report).await?)
    }
}

/// Rows compared per page by [`same_read_model`].
const COMPARE_PAGE: i64 = 5_000;

/// Whether two read models hold the same case rows, level counts and KPI day counts: what
/// [`dump`] shows, compared a page at a time so that memory stays flat however long the
/// history (both in the same backend, whose order the pages follow).
pub async fn same_read_model(live: &sqlx::AnyPool, rebuilt: &sqlx::AnyPool) -> Result<bool, sqlx::Error> {
    let (mut a, mut b) = (live.acquire().await?, rebuilt.acquire().await?);
    let mut after = String::new();
    loop {
        let page = projection::page(&mut a, &after, COMPARE_PAGE).await?;
        if page != projection::page(&mut b, &after, COMPARE_PAGE).await? {
            return Ok(false);
        }
        let Some(last) = page.last() else { break };
        after = last.case_id.clone();
    }
    // One row per area, day and level closures happened on: small beside the rows.
    if drift::level_counts(live).await? != drift::level_counts(rebuilt).await? {
        return Ok(false);
    }
    let mut after = None;
    loop {
        let page = kpi_days::page(&mut a, after.as_ref(), COMPARE_PAGE).await?;
        if page != kpi_days::page(&mut b, after.as_ref(), COMPARE_PAGE).await? {
            return Ok(false);
        }
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
    }
    Ok(true)
}

/// The read model a replay rebuilds, in canonical form for comparing a rebuilt one with the live
/// one byte for byte: every case row in case-id order, then every level count and every KPI day
/// count in key order, one JSON object per line.
pub async fn dump(pool: &sqlx::AnyPool) -> Result<Vec<u8>, sqlx::Error> {
    let mut out = projection::dump(pool).await?;
    for (key, n) in drift::level_counts(pool).await? {
        serde_json::to_writer(&mut out, &serde_json::json!({ "level_count": key, "n": n }))
            .expect("a count serialises");
        out.push(b'\n');
    }
    for (key, counts) in kpi_days::dump(pool).await? {
        serde_json::to_writer(&mut out, &serde_json::json!({ "kpi_day": key, "counts": counts }))
            .expect("a count serialises");
        out.push(b'\n');
    }
    Ok(out)
}
