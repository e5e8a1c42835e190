//! What evaluation does with dispatch's events — fold them into the case projection and the
//! 4321 monitor, and open a feedback round once a case is resolved — and when a feedback round's
//! deadline falls due.

use crate::drift;
use crate::kpi_days::{self, DayCounts};
use crate::projection::{self, CaseRow, Evolution};
use crate::{Evaluation, SERVICE};
use async_trait::async_trait;
use gridloop_bus::timers::TimerHandler;
use gridloop_bus::{BatchHandler, HandlerError};
use gridloop_domain::case::CaseEvent;
use gridloop_domain::drift::DriftPolicy;
use gridloop_domain::feedback::{self, FeedbackCommand};
use gridloop_domain::ids::CaseId;
use gridloop_domain::level::Level;
use gridloop_eventstore::{DueTimer, RecordedEvent, StoreTx};
use gridloop_kit::{EventContext, IMPORT_ROLE};
use gridloop_proto::convert;
use std::collections::{HashMap, HashSet};

fn store_failure(e: impl Into<gridloop_eventstore::StoreError>) -> HandlerError {
    HandlerError::store(e)
}

impl Evaluation {
    /// The feedback round (办完即反) a case event opens, in `tx`: once the case is resolved and,
    /// where the category requires it, verified on site (核查), never about a resolution the
    /// grid worker has not confirmed. `category` is the case's, as the projection knows it. The
    /// round is due counting from the event's time, as dispatch shows it, however late this
    /// consumer sees the event.
    async fn feedback_round(
        &self,
        tx: &mut StoreTx,
        case_id: CaseId,
        record: &RecordedEvent,
        event: &CaseEvent,
        category: Option<&str>,
    ) -> Result<(), HandlerError> {
        // History imported from another platform (`gridloop import`) is not asked for feedback:
        // its reporters are long gone and its closure follows in the import itself.
        if record.actor.role == IMPORT_ROLE {
            return Ok(());
        }
        // The category's feedback SLA on the city's calendar; a case the projection does not
        // know, or whose category left the catalog, gets the policy's fallback window.
        let category = category.unwrap_or_default();
        let Some(round) = feedback::round_opened_by(event, record.occurred_at, category, self.policy.as_ref()) else {
            return Ok(());
        };
        let command = FeedbackCommand::Request { level: round.level, due_at: round.due_at };
        // The batch claimed the event in the inbox already.
        let envelope = self.feedback.caused_by(case_id, command, record);
        self.feedback.execute_in(tx, envelope).await?;
        Ok(())
    }

    /// Apply a batch of dispatch's events inside `tx`: the events this consumer has not handled
    /// yet (one inbox claim for the batch, which reads the cases' rows too) are folded over the
    /// rows in memory, with the feedback rounds they open; the rows are written back with each
    /// closure's counts for the 4321 monitor and the reads its drift assessment needs (one more
    /// round trip), then each closure is assessed, with the KPI day counts they change. Returns the version each changed case's row
    /// reached, with the case's grid.
    async fn apply_batch(
        &self,
        tx: &mut StoreTx,
        source: &str,
        events: &[&RecordedEvent],
    ) -> Result<Vec<(CaseId, u64, String)>, HandlerError> {
        let event_ids: Vec<_> = events.iter().map(|event| event.event_id).collect();
        // Dispatch's other streams (the policy in force) hold no case events.
        let case_events = || events.iter().filter(|e| e.stream.starts_with("case-"));
        // The rows of every case in the batch, read with the claim (one round trip): a few more
        // than needed when the batch is partly a redelivery.
        let case_ids: Vec<String> = case_events()
            .filter_map(|record| CaseId::parse(&record.correlation_id).ok())
            .map(|case_id| case_id.to_string())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let consumer = format!("{SERVICE}.{source}");
        let (fresh, loaded) = tx
            .claim_inbox_and(&consumer, &event_ids, |batch| projection::queue_load(batch, &case_ids))
            .await
            .map_err(store_failure)?;
        let mut rows: HashMap<String, CaseRow> = HashMap::with_capacity(case_ids.len());
        for row in projection::loaded(&loaded).map_err(store_failure)? {
            rows.insert(row.case_id.clone(), row);
        }
        // As stored: what the KPI day counts hold of these cases.
        let stored = rows.clone();
        let mut decoded = Vec::with_capacity(fresh.len());
        for &record in case_events().filter(|e| fresh.contains(&e.event_id)) {
            let event = convert::decode_case_event(&record.event_type, &record.payload)
                .map_err(|e| HandlerError::Poison(e.to_string()))?;
            let case_id = CaseId::parse(&record.correlation_id)
                .map_err(|_| HandlerError::Poison(format!("bad case id {:?}", record.correlation_id)))?;
            decoded.push((record, case_id, event));
        }
        let mut changed = HashSet::new();
        let mut closures: Vec<(String, Level, &RecordedEvent)> = Vec::new();
        for (record, case_id, event) in decoded {
            let key = case_id.to_string();
            let category = rows.get(&key).map(|row| row.category_code.as_str());
            self.feedback_round(tx, case_id, record, &event, category).await?;
            let at = record.occurred_at.timestamp_micros();
            match projection::evolve(rows.get(&key), case_id, record.stream_version as i64, at, &event) {
                Evolution::AlreadyApplied => {}
                // The batch is retried event by event, after the earlier event.
                Evolution::Gap { have, got } => {
                    return Err(HandlerError::Transient(format!("case {case_id}: got version {got}, have {have}")));
                }
                Evolution::Applied(row) => {
                    if let CaseEvent::Closed { level, .. } = event {
                        closures.push((row.grid_code.clone(), level, record));
                    }
                    changed.insert(key.clone());
                    rows.insert(key, *row);
                }
            }
        }
        let changed: Vec<CaseRow> = changed.iter().filter_map(|key| rows.remove(key)).collect();
        let applied = changed
            .iter()
            .filter_map(|row| {
                Some((CaseId::parse(&row.case_id).ok()?, u64::try_from(row.version).ok()?, row.grid_code.clone()))
            })
            .collect();
        let mut day_counts = DayCounts::default();
        for row in &changed {
            day_counts.change(stored.get(&row.case_id), row, self.policy.calendar.zone());
        }
        let day_counts = day_counts.into_rows();
        let closures: Vec<(drift::Closure, &RecordedEvent)> = closures
            .into_iter()
            .filter_map(|(grid_code, level, record)| {
                Some((drift::Closure::new(&grid_code, level, record.occurred_at)?, record))
            })
            .collect();
        // The rows, each closure's counts and the reads its drift assessment needs: one round trip.
        let mut writes = tx.batch();
        projection::queue_upsert(&mut writes, &changed);
        kpi_days::queue_add(&mut writes, &day_counts);
        // History imported from another platform is counted in the monitor's windows but
        // assessed by no closure of its own: it closed long before anyone could act on an alert.
        let counting_only = DriftPolicy::disabled();
        let queued: Vec<_> = closures
            .iter()
            .map(|(closure, record)| {
                let policy = if record.actor.role == IMPORT_ROLE { &counting_only } else { &self.drift };
                drift::queue_closure(&mut writes, policy, closure)
            })
            .collect();
        let results = tx.run(writes).await.map_err(store_failure)?;
        let mut assessor = drift::Assessor::new(&self.drift);
        for ((closure, record), queued) in closures.iter().zip(&queued) {
            let context = EventContext::caused_by(record, self.feedback.system().actor, self.clock.now());
            assessor.assess(tx, closure, queued, &results, &context).await?;
        }
        Ok(applied)
    }
}

/// A whole relay batch in one transaction: one fsync instead of one per event; the versions it
/// applied are announced once it is committed.
#[async_trait]
impl BatchHandler for Evaluation {
    async fn handle_batch(&self, source: &str, events: &[&RecordedEvent]) -> Result<(), HandlerError> {
        let mut tx = self.store().begin().await.map_err(store_failure)?;
        let applied = self.apply_batch(&mut tx, source, events).await?;
        tx.commit().await.map_err(store_failure)?;
        // Committed: a client waiting for its own write may read it now, and a live view re-read.
        let mut grids = Vec::with_capacity(applied.len());
        for (case_id, version, grid) in applied {
            self.progress.advance(&case_id, version);
            grids.push(grid);
        }
        if !grids.is_empty() {
            let position = events.iter().map(|event| event.global_position).max().unwrap_or_default();
            self.watches.announce(u64::try_from(position).unwrap_or_default(), grids);
        }
        Ok(())
    }
}

#[async_trait]
impl TimerHandler for Evaluation {
    async fn fire(&self, timer: &DueTimer) -> Result<(), HandlerError> {
        self.feedback.fire(timer, |due_at| FeedbackCommand::Expire { due_at }).await
    }
}
