//! Intake's read model of the open cases (`intake_open_cases`): fed by its own `CaseReported`
//! and dispatch's `CaseClosed` / `CaseRejected`, it answers the duplicate check.

use crate::personal::keys;
use crate::{Intake, SERVICE};
use async_trait::async_trait;
use gridloop_bus::{BatchHandler, HandlerError};
use gridloop_domain::case::CaseDetails;
use gridloop_domain::duplicates::{DuplicateMatch, OpenCase};
use gridloop_eventstore::{Batch, RecordedEvent};
use gridloop_kit::grpc::{query_status, store_status};
use gridloop_proto::convert::{self, short_type};
use gridloop_proto::v1 as pb;
use prost::Message;
use tonic::Status;

fn store_failure(e: impl Into<gridloop_eventstore::StoreError>) -> HandlerError {
    HandlerError::store(e)
}

impl Intake {
    /// The open case of the same category nearest to the report within the radius and window, if
    /// any: one indexed query (category, latitude range; longitude and window filtered alongside)
    /// for the few cases in the bounding box, then the exact distance on those.
    pub(crate) async fn find_duplicate(
        &self,
        details: &CaseDetails,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<DuplicateMatch>, Status> {
        if !self.duplicates.enabled() {
            return Ok(None);
        }
        let b = self.duplicates.bounding_box(details.lat, details.lon);
        let rows: Vec<(String, f64, f64, String, i64)> = sqlx::query_as(
            "SELECT case_id, lat, lon, grid_code, opened_at FROM intake_open_cases \
             WHERE category_code = $1 AND lat BETWEEN $2 AND $3 AND lon BETWEEN $4 AND $5 AND opened_at >= $6",
        )
        .bind(&details.category_code)
        .bind(b.min_lat)
        .bind(b.max_lat)
        .bind(b.min_lon)
        .bind(b.max_lon)
        .bind(self.duplicates.opened_after(now).timestamp_micros())
        .fetch_all(&mut *self.store.reader().await.map_err(store_status)?)
        .await
        .map_err(query_status)?;
        let candidates = rows.into_iter().filter_map(|(case_id, lat, lon, grid_code, opened_at)| {
            let opened_at = chrono::DateTime::from_timestamp_micros(opened_at)?;
            Some(OpenCase { case_id, grid_code, lat, lon, opened_at })
        });
        Ok(self.duplicates.pick(details.lat, details.lon, now, candidates))
    }

    /// Queue the change one event (its inbox entry already claimed) makes to `intake_open_cases`.
    fn queue_event(batch: &mut Batch<'_>, source: &str, event: &RecordedEvent) -> Result<(), HandlerError> {
        let style = batch.style();
        match (source, short_type(&event.event_type)) {
            (SERVICE, "CaseReported") => {
                let reported = pb::CaseReported::decode(event.payload.as_slice())
                    .map_err(|e| HandlerError::Poison(format!("undecodable CaseReported: {e}")))?;
                let (case_id, details) =
                    convert::details_from_reported(&reported).map_err(|e| HandlerError::Poison(e.to_string()))?;
                let sql = format!(
                    "INSERT INTO intake_open_cases (case_id, category_code, lat, lon, grid_code, opened_at) \
                     VALUES {} ON CONFLICT (case_id) DO NOTHING",
                    style.values_rows(1, 6)
                );
                batch
                    .statement(&sql)
                    .bind(case_id.to_string())
                    .bind(details.category_code)
                    .bind(details.lat)
                    .bind(details.lon)
                    .bind(details.grid_code)
                    .bind(details.uploaded_at.timestamp_micros());
                if let Some(sealed) = &details.reporter.sealed {
                    keys::queue_case_key(batch, &case_id.to_string(), &sealed.key_ref);
                }
            }
            (SERVICE, "CaseReportLinked") => {
                let linked = pb::CaseReportLinked::decode(event.payload.as_slice())
                    .map_err(|e| HandlerError::Poison(format!("undecodable CaseReportLinked: {e}")))?;
                if let Some(sealed) = linked.reporter.as_ref().and_then(|r| r.sealed.as_ref()) {
                    keys::queue_case_key(batch, &linked.case_id, &sealed.key_ref);
                }
            }
            ("dispatch", "CaseClosed" | "CaseRejected") => {
                let sql = format!("DELETE FROM intake_open_cases WHERE case_id = {}", style.list(1, 1));
                batch.statement(&sql).bind(event.correlation_id.clone());
                keys::queue_case_ended(batch, &event.correlation_id, event.occurred_at.timestamp_micros());
            }
            _ => {}
        }
        Ok(())
    }
}

/// A whole relay batch in one transaction, inbox entries included.
#[async_trait]
impl BatchHandler for Intake {
    async fn handle_batch(&self, source: &str, events: &[&RecordedEvent]) -> Result<(), HandlerError> {
        let mut tx = self.store.begin().await.map_err(store_failure)?;
        let consumer = if source == SERVICE { "intake.self".to_string() } else { format!("intake.{source}") };
        let event_ids: Vec<_> = events.iter().map(|event| event.event_id).collect();
        let mut fresh = tx.claim_inbox(&consumer, &event_ids).await.map_err(store_failure)?;
        let mut changes = tx.batch();
        // Removing as it goes: an event delivered twice in one batch is applied once.
        for event in events.iter().filter(|event| fresh.remove(&event.event_id)) {
            Self::queue_event(&mut changes, source, event)?;
        }
        // The changes go with the commit: one round trip.
        tx.commit_with(changes).await.map_err(store_failure)
    }
}
