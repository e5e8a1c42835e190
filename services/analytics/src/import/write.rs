//! Writing an import to dispatch's store, a chunk of planned cases at a time.
//!
//! The cases new to the store go in one commit: one transaction for the whole chunk. The
//! `event_id` and `(stream, stream_version)` indexes are keyed by uuids, so every case lands on
//! pages of its own; a transaction writes each page it changed once, so the more cases share it,
//! the fewer times a page is written over the import. Cases already in the store (a re-import,
//! an open case now closed) and a chunk whose commit lost a race to another writer go case by
//! case, each checked against the stored history.

use super::{BadRow, ImportError, ImportReport, Importer, ParsedRow, Planned};
use chrono::Datelike;
use futures::stream::{self, StreamExt};
use gridloop_domain::case::{Case, CaseEvent};
use gridloop_domain::clock;
use gridloop_domain::decider::Decider;
use gridloop_eventstore::{Commit, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError, StreamAppend};
use gridloop_proto::convert::decode_case_event;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use uuid::Uuid;

/// Cases committed concurrently when they go one by one (the store's group commit batches them).
const CONCURRENCY: usize = 256;
/// Rows parsed before their cases are written: the new ones in one transaction.
const CHUNK_ROWS: usize = 10_000;

/// Import a CSV file (read as a stream) into dispatch's store. Bad rows are collected in the
/// report, and `on_bad` sees each as it is found; they never stop the good rows.
pub async fn import_csv<R: Read>(
    store: &EventStore,
    importer: &Importer<'_>,
    input: R,
    on_bad: &mut dyn FnMut(&BadRow),
    on_progress: &mut dyn FnMut(&ImportReport),
) -> Result<ImportReport, ImportError> {
    let mut rows = importer.rows(input)?;
    let mut report = ImportReport::default();
    // Row ids seen so far and their lines: a second row with the same id is a bad row.
    let mut seen: HashMap<Uuid, u64> = HashMap::new();
    loop {
        let mut chunk: Vec<PlannedCase> = Vec::with_capacity(CHUNK_ROWS);
        let mut done = true;
        for row in rows.by_ref() {
            let mut reject = |report: &mut ImportReport, row: BadRow| {
                on_bad(&row);
                report.rejected.push(row);
            };
            let (line, case) = match row? {
                ParsedRow::Bad(row) => {
                    reject(&mut report, row);
                    continue;
                }
                ParsedRow::Good { line, case } => (line, case),
            };
            if let Some(first) = seen.get(&case.case_id.0) {
                let reason = format!("duplicate case id (first on line {first})");
                reject(&mut report, BadRow { line, row_id: Some(case.row_id), reason, duplicate: true });
                continue;
            }
            seen.insert(case.case_id.0, line);
            if case.due_from_sla {
                let year = clock::local_date(case.opened, importer.policy.calendar.zone()).year();
                if !importer.policy.calendar.has_holiday_data(year) {
                    report.uncovered_years.insert(year);
                }
            }
            let (row_id, stream) = (case.row_id.clone(), case.case_id.stream());
            chunk.push(PlannedCase { line, row_id, stream, planned: importer.plan(&case) });
            if chunk.len() == CHUNK_ROWS {
                done = false;
                break;
            }
        }
        let outcomes = write_chunk(store, chunk).await?;
        let mut refused = Vec::new();
        for (line, row_id, outcome) in outcomes {
            match outcome {
                Outcome::Imported(n) => {
                    report.imported += 1;
                    report.events += n;
                }
                Outcome::Updated(n) => {
                    report.updated += 1;
                    report.events += n;
                }
                Outcome::AlreadyPresent => report.already_present += 1,
                Outcome::Refused(reason) => {
                    refused.push(BadRow { line, row_id: Some(row_id), reason, duplicate: false })
                }
            }
        }
        refused.sort_by_key(|r| r.line);
        for row in refused {
            on_bad(&row);
            report.rejected.push(row);
        }
        on_progress(&report);
        if done {
            break;
        }
    }
    report.rejected.sort_by_key(|r| r.line);
    Ok(report)
}

/// What happened to one case in the store.
enum Outcome {
    Imported(u64),
    AlreadyPresent,
    Updated(u64),
    Refused(String),
}

/// A case of the chunk: its line in the file, the row's id, its stream and its planned events.
struct PlannedCase {
    pub line: u64,
    pub row_id: String,
    pub stream: String,
    pub planned: Planned,
}

/// Writes the chunk's cases; returns each case's line, row id and outcome, in no particular order.
async fn write_chunk(store: &EventStore, chunk: Vec<PlannedCase>) -> Result<Vec<(u64, String, Outcome)>, StoreError> {
    let streams: Vec<String> = chunk.iter().map(|case| case.stream.clone()).collect();
    let versions = store.stream_versions(&streams).await?;
    let (new, stored): (Vec<PlannedCase>, Vec<PlannedCase>) =
        chunk.into_iter().partition(|case| !versions.contains_key(&case.stream));
    let mut outcomes = Vec::with_capacity(new.len() + stored.len());
    let mut appends = Vec::with_capacity(new.len());
    let mut written = Vec::with_capacity(new.len());
    for case in new {
        match fits(&[], case.planned.iter().map(|(_, event)| event)) {
            Err(reason) => outcomes.push((case.line, case.row_id, Outcome::Refused(reason))),
            Ok(_) => {
                let events: Vec<NewEvent> = case.planned.iter().map(|(event, _)| event.clone()).collect();
                appends.push(StreamAppend { stream: case.stream.clone(), expected: ExpectedVersion::NoStream, events });
                written.push(case);
            }
        }
    }
    let one_by_one = match store.commit(Commit { appends, ..Commit::default() }).await {
        Ok(_) => {
            outcomes.extend(
                written.into_iter().map(|case| (case.line, case.row_id, Outcome::Imported(case.planned.len() as u64))),
            );
            stored
        }
        // Another writer created one of the streams since they were read: the commit wrote
        // nothing, and each case is checked against what is there now.
        Err(StoreError::Conflict { .. }) => written.into_iter().chain(stored).collect(),
        Err(e) => return Err(e),
    };
    outcomes.extend(apply_each(store, one_by_one, &versions).await?);
    Ok(outcomes)
}

/// [`apply`] to each case, concurrently.
async fn apply_each(
    store: &EventStore,
    cases: Vec<PlannedCase>,
    versions: &HashMap<String, u64>,
) -> Result<Vec<(u64, String, Outcome)>, StoreError> {
    stream::iter(cases.into_iter().map(|case| async move {
        let version = versions.get(&case.stream).copied().unwrap_or(0);
        let outcome = apply(store, case.stream, version, case.planned).await?;
        Ok((case.line, case.row_id, outcome))
    }))
    .buffer_unordered(CONCURRENCY)
    .collect::<Vec<Result<_, StoreError>>>()
    .await
    .into_iter()
    .collect()
}

/// Write one case's planned events: all of them to a new stream, or the missing tail to a
/// stream holding exactly the first ones (an open case now closed). Only if the case's history
/// with them still folds: the import never writes what the aggregate would refuse.
async fn apply(store: &EventStore, stream: String, version: u64, planned: Planned) -> Result<Outcome, StoreError> {
    let stored = if version == 0 { Vec::new() } else { store.read_stream(&stream, 1).await? };
    let existing: HashSet<Uuid> = stored.iter().map(|e| e.event_id).collect();
    let present = planned.iter().take_while(|(e, _)| existing.contains(&e.event_id)).count();
    if version > 0 && present == planned.len() {
        return Ok(Outcome::AlreadyPresent);
    }
    if version != present as u64 || planned[present..].iter().any(|(e, _)| existing.contains(&e.event_id)) {
        return Ok(Outcome::Refused(format!(
            "case stream {stream} has {version} events, {present} of them from this import: it changed after \
             the import, so the row's newer state is not applied"
        )));
    }
    let missing: Planned = planned.into_iter().skip(present).collect();
    if let Err(reason) = fits(&stored, missing.iter().map(|(_, event)| event)) {
        return Ok(Outcome::Refused(reason));
    }
    let expected = if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
    let missing: Vec<NewEvent> = missing.into_iter().map(|(event, _)| event).collect();
    let n = missing.len() as u64;
    match store.commit(Commit::append(stream, expected, missing)).await {
        Ok(_) if version == 0 => Ok(Outcome::Imported(n)),
        Ok(_) => Ok(Outcome::Updated(n)),
        Err(StoreError::Conflict { actual, .. }) => Ok(Outcome::Refused(format!(
            "the case stream changed during the import (now at version {actual}); import again"
        ))),
        Err(e) => Err(e),
    }
}

/// The case after its `stored` history and the `new` events, or why they do not fold.
pub(super) fn fits<'e>(stored: &[RecordedEvent], new: impl IntoIterator<Item = &'e CaseEvent>) -> Result<Case, String> {
    let mut case = Case::initial();
    for record in stored {
        let event = decode_case_event(&record.event_type, &record.payload)
            .map_err(|e| format!("the stored case cannot be read: {e}"))?;
        case = case.evolve(&event).map_err(|e| format!("the stored case is inconsistent: {e}"))?;
    }
    case.fold(new).map_err(|e| format!("the row's history does not fit the case: {e}"))
}
