//! Export of the case table: one row per case, from evaluation's projection `evaluation_cases`
//! (the read model folded from dispatch's events), read in pages by case id.

use crate::export::{rfc3339, writer_properties};
use crate::filter::EventFilter;
use crate::{ExportError, ExportStats, Format, Progress};
use arrow_array::builder::{BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::DateTime;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_domain::personal::mask_free_text;
use gridloop_evaluation::projection::COLUMNS;
use gridloop_evaluation::CaseRow;
use parquet::arrow::ArrowWriter;
use serde::Serialize;
use sqlx::AnyPool;
use std::io::{BufWriter, Write};
use std::sync::Arc;

/// Cases read per query.
pub const CASE_PAGE: i64 = 10_000;

/// The Arrow schema of the case table (documented in the README, "Export for analysts").
pub fn cases_schema() -> SchemaRef {
    let time = |name: &str, nullable| {
        Field::new(name, DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), nullable)
    };
    Arc::new(Schema::new(vec![
        Field::new("case_id", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
        Field::new("state", DataType::Utf8, false),
        Field::new("level", DataType::Utf8, true),
        Field::new("category_code", DataType::Utf8, false),
        Field::new("grid_code", DataType::Utf8, false),
        Field::new("district_code", DataType::Utf8, true),
        Field::new("street_code", DataType::Utf8, true),
        Field::new("community_code", DataType::Utf8, true),
        Field::new("description", DataType::Utf8, false),
        time("opened_at", false),
        time("updated_at", false),
        time("closed_at", true),
        Field::new("settled_level", DataType::Utf8, true),
        Field::new("satisfaction", DataType::Utf8, true),
        Field::new("escalations", DataType::Int64, false),
        Field::new("reopen_count", DataType::Int64, false),
        Field::new("linked_reports", DataType::Int64, false),
        Field::new("priority", DataType::Int64, false),
        Field::new("priority_reasons", DataType::Utf8, false),
        time("dispatched_at", true),
        time("accepted_at", true),
        Field::new("responded_on_time", DataType::Boolean, true),
        time("resolved_at", true),
        time("due_at", true),
        Field::new("deadline_misses", DataType::Int64, false),
        Field::new("mediations_requested", DataType::Int64, false),
        Field::new("mediations_agreed", DataType::Int64, false),
        Field::new("mediations_failed", DataType::Int64, false),
        Field::new("closed_on_time", DataType::Boolean, true),
        Field::new("imported", DataType::Boolean, false),
    ]))
}

/// The columns of `rows` as one record batch.
pub fn cases_batch(rows: &[CaseRow]) -> Result<RecordBatch, ExportError> {
    let n = rows.len();
    let strings = |f: &dyn Fn(&CaseRow) -> Option<&str>| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 16);
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    };
    let ints = |f: &dyn Fn(&CaseRow) -> i64| -> ArrayRef {
        let mut b = Int64Builder::with_capacity(n);
        for r in rows {
            b.append_value(f(r));
        }
        Arc::new(b.finish())
    };
    let times = |f: &dyn Fn(&CaseRow) -> Option<i64>| -> ArrayRef {
        let mut b = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    };
    let flags = |f: &dyn Fn(&CaseRow) -> Option<i64>| -> ArrayRef {
        let mut b = BooleanBuilder::with_capacity(n);
        for r in rows {
            b.append_option(f(r).map(|v| v != 0));
        }
        Arc::new(b.finish())
    };
    let code = |level: usize| -> ArrayRef { strings(&move |r| crate::export::area_codes(&r.grid_code)[level]) };
    let columns: Vec<ArrayRef> = vec![
        strings(&|r| Some(&r.case_id)),
        ints(&|r| r.version),
        strings(&|r| Some(&r.state)),
        strings(&|r| r.level.as_deref()),
        strings(&|r| Some(&r.category_code)),
        strings(&|r| Some(&r.grid_code)),
        code(0),
        code(1),
        code(2),
        strings(&|r| Some(&r.description)),
        times(&|r| Some(r.opened_at)),
        times(&|r| Some(r.updated_at)),
        times(&|r| r.closed_at),
        strings(&|r| r.settled_level.as_deref()),
        strings(&|r| r.satisfaction.as_deref()),
        ints(&|r| r.escalations),
        ints(&|r| r.reopen_count),
        ints(&|r| r.linked_reports),
        ints(&|r| r.priority),
        strings(&|r| Some(&r.priority_reasons)),
        times(&|r| r.dispatched_at),
        times(&|r| r.accepted_at),
        flags(&|r| r.responded_on_time),
        times(&|r| r.resolved_at),
        times(&|r| r.due_at),
        ints(&|r| r.deadline_misses),
        ints(&|r| r.mediations_requested),
        ints(&|r| r.mediations_agreed),
        ints(&|r| r.mediations_failed),
        flags(&|r| r.closed_on_time),
        flags(&|r| Some(r.imported)),
    ];
    Ok(RecordBatch::try_new(cases_schema(), columns)?)
}

fn micros_rfc3339(micros: i64) -> Option<String> {
    DateTime::from_timestamp_micros(micros).map(rfc3339)
}

#[derive(Serialize)]
struct CaseJson<'a> {
    case_id: &'a str,
    version: i64,
    state: &'a str,
    level: Option<&'a str>,
    category_code: &'a str,
    grid_code: &'a str,
    district_code: Option<&'a str>,
    street_code: Option<&'a str>,
    community_code: Option<&'a str>,
    description: &'a str,
    opened_at: Option<String>,
    updated_at: Option<String>,
    closed_at: Option<String>,
    settled_level: Option<&'a str>,
    satisfaction: Option<&'a str>,
    escalations: i64,
    reopen_count: i64,
    linked_reports: i64,
    priority: i64,
    priority_reasons: &'a str,
    dispatched_at: Option<String>,
    accepted_at: Option<String>,
    responded_on_time: Option<bool>,
    resolved_at: Option<String>,
    due_at: Option<String>,
    deadline_misses: i64,
    mediations_requested: i64,
    mediations_agreed: i64,
    mediations_failed: i64,
    closed_on_time: Option<bool>,
    imported: bool,
}

fn case_json(r: &CaseRow) -> CaseJson<'_> {
    let [district_code, street_code, community_code, _] = crate::export::area_codes(&r.grid_code);
    CaseJson {
        case_id: &r.case_id,
        version: r.version,
        state: &r.state,
        level: r.level.as_deref(),
        category_code: &r.category_code,
        grid_code: &r.grid_code,
        district_code,
        street_code,
        community_code,
        description: &r.description,
        opened_at: micros_rfc3339(r.opened_at),
        updated_at: micros_rfc3339(r.updated_at),
        closed_at: r.closed_at.and_then(micros_rfc3339),
        settled_level: r.settled_level.as_deref(),
        satisfaction: r.satisfaction.as_deref(),
        escalations: r.escalations,
        reopen_count: r.reopen_count,
        linked_reports: r.linked_reports,
        priority: r.priority,
        priority_reasons: &r.priority_reasons,
        dispatched_at: r.dispatched_at.and_then(micros_rfc3339),
        accepted_at: r.accepted_at.and_then(micros_rfc3339),
        responded_on_time: r.responded_on_time.map(|v| v != 0),
        resolved_at: r.resolved_at.and_then(micros_rfc3339),
        due_at: r.due_at.and_then(micros_rfc3339),
        deadline_misses: r.deadline_misses,
        mediations_requested: r.mediations_requested,
        mediations_agreed: r.mediations_agreed,
        mediations_failed: r.mediations_failed,
        closed_on_time: r.closed_on_time.map(|v| v != 0),
        imported: r.imported != 0,
    }
}

/// Stream the cases that pass `filter` (time window on opened_at, area on grid_code; event
/// types do not apply) to `out`, in case id order, with phone and ID-card numbers in
/// descriptions masked.
pub async fn export_cases<W: Write + Send>(
    pool: &AnyPool,
    filter: &EventFilter,
    format: Format,
    out: W,
    progress: &mut dyn FnMut(Progress),
) -> Result<ExportStats, ExportError> {
    let mut parquet = None;
    let mut ndjson = None;
    match format {
        Format::Parquet => parquet = Some(ArrowWriter::try_new(out, cases_schema(), Some(writer_properties()))?),
        Format::Ndjson => ndjson = Some(BufWriter::with_capacity(1 << 20, out)),
    }
    let from = filter.from.map_or(i64::MIN, |t| t.timestamp_micros());
    let to = filter.to.map_or(i64::MAX, |t| t.timestamp_micros());
    let area = format!("{}%", filter.area.as_ref().map_or("", AreaCode::as_str));
    let mut stats = ExportStats::default();
    let mut after = String::new();
    loop {
        let mut rows: Vec<CaseRow> = sqlx::query_as(&format!(
            "SELECT {} FROM evaluation_cases \
             WHERE case_id > $1 AND opened_at >= $2 AND opened_at < $3 AND grid_code LIKE $4 \
             ORDER BY case_id LIMIT $5",
            COLUMNS.join(", ")
        ))
        .bind(&after)
        .bind(from)
        .bind(to)
        .bind(&area)
        .bind(CASE_PAGE)
        .fetch_all(pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.case_id.clone();
        // Analysts get no personal data: phone and ID-card numbers typed into descriptions are masked.
        for row in &mut rows {
            row.description = mask_free_text(&row.description);
        }
        stats.read += rows.len() as u64;
        stats.written += rows.len() as u64;
        if let Some(writer) = parquet.as_mut() {
            writer.write(&cases_batch(&rows)?)?;
        }
        if let Some(writer) = ndjson.as_mut() {
            for row in &rows {
                serde_json::to_writer(&mut *writer, &case_json(row))?;
                writer.write_all(b"\n")?;
            }
        }
        progress(Progress { read: stats.read, written: stats.written });
    }
    if let Some(writer) = parquet {
        writer.close()?;
    }
    if let Some(mut writer) = ndjson {
        writer.flush()?;
    }
    Ok(stats)
}
