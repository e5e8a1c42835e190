//! Export of the event log: one row per event, as Parquet or NDJSON.
//!
//! Each store is read in pages up to the head it had when the export started (a consistent
//! snapshot even while the services write), by a reader task one page ahead of the encoder
//! ([`EventStore::scan`]), and
//! every page is written as soon as it is encoded: memory holds two pages and one Parquet row
//! group at most, however long the history.

use crate::filter::EventFilter;
use crate::personal::{contacts, masked, PersonalData, PERSONAL_COLUMNS, PERSONAL_MARK};
use crate::{ExportError, ExportStats, Format, Progress};
use arrow_array::builder::{BinaryBuilder, StringBuilder};
use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use gridloop_domain::level::Level;
use gridloop_domain::personal::Contact;
use gridloop_eventstore::{EventStore, RecordedEvent, StoreError};
use gridloop_proto::event_json::EventJson;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::Serialize;
use std::borrow::Cow;
use std::io::{BufWriter, Write};
use std::sync::Arc;

/// Events read from the store per query.
pub const PAGE_SIZE: u32 = 10_000;
/// Rows per Parquet row group (the writer buffers one row group).
pub const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Threads that render a page at most, and the fewest events worth a thread of their own.
const MAX_RENDER_THREADS: usize = 4;
const MIN_EVENTS_PER_THREAD: usize = 1_000;

/// `render` of consecutive parts of `items`, in order, the parts rendered on as many threads as
/// the machine has cores (this one among them). Rendering `payload_json` — each payload decoded
/// by reflection and written out in canonical order — is most of an export's work, and no event
/// needs another to be rendered.
fn render_in_parts<T: Sync, R: Send>(items: &[T], render: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads = cores.min(MAX_RENDER_THREADS).min(items.len() / MIN_EVENTS_PER_THREAD).max(1);
    if threads == 1 {
        return vec![render(items)];
    }
    let mut parts = items.chunks(items.len().div_ceil(threads));
    let first = parts.next().unwrap_or_default();
    let render = &render;
    std::thread::scope(|scope| {
        let others: Vec<_> = parts.map(|part| scope.spawn(move || render(part))).collect();
        let mut rendered = vec![render(first)];
        rendered.extend(others.into_iter().map(|thread| thread.join().expect("a rendering thread panicked")));
        rendered
    })
}

/// One service's store to export.
#[derive(Debug, Clone)]
pub struct Source {
    /// Service name, written in the `service` column.
    pub service: String,
    pub store: EventStore,
}

/// The Arrow schema of the events table (documented in the README, "Export for analysts").
pub fn events_schema() -> SchemaRef {
    let utf8 = |name: &str| Field::new(name, DataType::Utf8, false);
    let code = |name: &str| Field::new(name, DataType::Utf8, true);
    let time = |name: &str| Field::new(name, DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false);
    Arc::new(Schema::new(vec![
        utf8("service"),
        Field::new("global_position", DataType::Int64, false),
        utf8("event_id"),
        utf8("stream"),
        Field::new("stream_version", DataType::Int64, false),
        utf8("event_type"),
        time("occurred_at"),
        time("recorded_at"),
        utf8("case_id"),
        utf8("causation_id"),
        utf8("actor_role"),
        utf8("actor_id"),
        utf8("actor_jurisdiction"),
        utf8("routing_key"),
        code("district_code"),
        code("street_code"),
        code("community_code"),
        code("grid_code"),
        Field::new("schema_version", DataType::Int32, false),
        utf8("traceparent"),
        Field::new("payload", DataType::Binary, false),
        Field::new("payload_json", DataType::Utf8, true),
    ]))
}

/// The events table with the admin's decrypted contacts: the `personal_*` columns, each marked
/// as personal data in its field metadata.
pub fn events_schema_with_personal_data() -> SchemaRef {
    let marked = |name: &str| {
        let (key, value) = PERSONAL_MARK;
        Field::new(name, DataType::Utf8, true)
            .with_metadata(std::collections::HashMap::from([(key.to_string(), value.to_string())]))
    };
    let mut fields: Vec<Field> = events_schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(PERSONAL_COLUMNS.map(marked));
    Arc::new(Schema::new(fields))
}

/// `batch` with the contacts (one per row) in the `personal_*` columns.
fn with_personal_columns(batch: RecordBatch, contacts: &[Option<Contact>]) -> Result<RecordBatch, ExportError> {
    let column = |field: fn(&Contact) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter(contacts.iter().map(|c| c.as_ref().map(field))))
    };
    let mut columns = batch.columns().to_vec();
    columns.extend([column(|c| &c.id), column(|c| &c.name), column(|c| &c.phone)]);
    Ok(RecordBatch::try_new(events_schema_with_personal_data(), columns)?)
}

/// The district, street, community and grid codes a routing key (a jurisdiction code) starts
/// with; `None` where the key is shorter or not a code.
pub fn area_codes(key: &str) -> [Option<&str>; 4] {
    let is_code = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit());
    [Level::District, Level::Street, Level::Community, Level::Grid]
        .map(|level| (is_code && key.len() >= level.code_len()).then(|| &key[..level.code_len()]))
}

/// The columns of `events` (already filtered) as one record batch.
pub fn events_batch(service: &str, events: &[&RecordedEvent], decoder: &EventJson) -> Result<RecordBatch, ExportError> {
    let n = events.len();
    let strings = |f: &dyn Fn(&RecordedEvent) -> &str| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 16);
        for e in events {
            b.append_value(f(e));
        }
        Arc::new(b.finish())
    };
    let times = |f: &dyn Fn(&RecordedEvent) -> DateTime<Utc>| -> ArrayRef {
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(events.iter().map(|e| f(e).timestamp_micros()))
                .with_timezone("UTC"),
        )
    };
    let code = |level: usize| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 15);
        for e in events {
            b.append_option(area_codes(&e.routing_key)[level]);
        }
        Arc::new(b.finish())
    };
    let mut event_ids = StringBuilder::with_capacity(n, n * 36);
    let mut uuid_buf = uuid::Uuid::encode_buffer();
    for e in events {
        event_ids.append_value(e.event_id.hyphenated().encode_lower(&mut uuid_buf));
    }
    let mut payload = BinaryBuilder::with_capacity(n, events.iter().map(|e| e.payload.len()).sum());
    for e in events {
        payload.append_value(&e.payload);
    }
    let rendered = render_in_parts(events, |part| {
        part.iter().map(|e| decoder.to_string(&e.event_type, &e.payload)).collect::<Vec<_>>()
    });
    let mut payload_json = StringBuilder::with_capacity(n, n * 256);
    for json in rendered.into_iter().flatten() {
        payload_json.append_option(json);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(service, n))),
        Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.global_position))),
        Arc::new(event_ids.finish()),
        strings(&|e| &e.stream),
        Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.stream_version as i64))),
        strings(&|e| &e.event_type),
        times(&|e| e.occurred_at),
        times(&|e| e.recorded_at),
        strings(&|e| &e.correlation_id),
        strings(&|e| &e.causation_id),
        strings(&|e| &e.actor.role),
        strings(&|e| &e.actor.id),
        strings(&|e| &e.actor.jurisdiction),
        strings(&|e| &e.routing_key),
        code(0),
        code(1),
        code(2),
        code(3),
        Arc::new(Int32Array::from_iter_values(
            events.iter().map(|e| i32::try_from(e.schema_version).unwrap_or(i32::MAX)),
        )),
        strings(&|e| &e.traceparent),
        Arc::new(payload.finish()),
        Arc::new(payload_json.finish()),
    ];
    Ok(RecordBatch::try_new(events_schema(), columns)?)
}

/// One event as an NDJSON line: the same columns, times in RFC 3339 (µs, UTC), `payload` in
/// base64 and `payload_json` as a nested object.
#[derive(Serialize)]
struct EventLine<'a> {
    service: &'a str,
    global_position: i64,
    event_id: String,
    stream: &'a str,
    stream_version: u64,
    event_type: &'a str,
    occurred_at: String,
    recorded_at: String,
    case_id: &'a str,
    causation_id: &'a str,
    actor_role: &'a str,
    actor_id: &'a str,
    actor_jurisdiction: &'a str,
    routing_key: &'a str,
    district_code: Option<&'a str>,
    street_code: Option<&'a str>,
    community_code: Option<&'a str>,
    grid_code: Option<&'a str>,
    schema_version: u32,
    traceparent: &'a str,
    payload: String,
    payload_json: Option<serde_json::Value>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    personal: Option<PersonalLine<'a>>,
}

/// The admin's decrypted contact on an NDJSON line (null where the event carries none).
#[derive(Serialize)]
struct PersonalLine<'a> {
    personal_reporter_id: Option<&'a str>,
    personal_reporter_name: Option<&'a str>,
    personal_reporter_phone: Option<&'a str>,
}

impl<'a> PersonalLine<'a> {
    fn of(contact: Option<&'a Contact>) -> Self {
        PersonalLine {
            personal_reporter_id: contact.map(|c| c.id.as_str()),
            personal_reporter_name: contact.map(|c| c.name.as_str()),
            personal_reporter_phone: contact.map(|c| c.phone.as_str()),
        }
    }
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn write_ndjson_line(
    out: &mut impl Write,
    service: &str,
    e: &RecordedEvent,
    decoder: &EventJson,
    personal: Option<PersonalLine<'_>>,
) -> Result<(), ExportError> {
    let [district_code, street_code, community_code, grid_code] = area_codes(&e.routing_key);
    let line = EventLine {
        service,
        global_position: e.global_position,
        event_id: e.event_id.to_string(),
        stream: &e.stream,
        stream_version: e.stream_version,
        event_type: &e.event_type,
        occurred_at: rfc3339(e.occurred_at),
        recorded_at: rfc3339(e.recorded_at),
        case_id: &e.correlation_id,
        causation_id: &e.causation_id,
        actor_role: &e.actor.role,
        actor_id: &e.actor.id,
        actor_jurisdiction: &e.actor.jurisdiction,
        routing_key: &e.routing_key,
        district_code,
        street_code,
        community_code,
        grid_code,
        schema_version: e.schema_version,
        traceparent: &e.traceparent,
        payload: base64::engine::general_purpose::STANDARD.encode(&e.payload),
        payload_json: decoder.to_value(&e.event_type, &e.payload),
        personal,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Parquet writer settings shared by both tables.
pub(crate) fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_size(ROW_GROUP_ROWS)
        .set_created_by(format!("gridloop {}", env!("CARGO_PKG_VERSION")))
        .build()
}

enum Sink<W: Write + Send> {
    Parquet(Box<ArrowWriter<W>>),
    Ndjson(BufWriter<W>),
}

/// Stream the events of `sources` that pass `filter` to `out`, service after service, each in
/// its global order, with no personal data in the clear. `progress` is called after every page.
pub async fn export_events<W: Write + Send>(
    sources: &[Source],
    filter: &EventFilter,
    format: Format,
    out: W,
    progress: &mut dyn FnMut(Progress),
) -> Result<ExportStats, ExportError> {
    export_events_with(sources, filter, format, out, progress, PersonalData::Withheld).await
}

/// [`export_events`], carrying residents' personal data as `personal` says.
pub async fn export_events_with<W: Write + Send>(
    sources: &[Source],
    filter: &EventFilter,
    format: Format,
    out: W,
    progress: &mut dyn FnMut(Progress),
    personal: PersonalData<'_>,
) -> Result<ExportStats, ExportError> {
    let decoder = EventJson::shared();
    let schema = match personal {
        PersonalData::Withheld => events_schema(),
        PersonalData::Included(_) => events_schema_with_personal_data(),
    };
    let mut sink = match format {
        Format::Parquet => Sink::Parquet(Box::new(ArrowWriter::try_new(out, schema, Some(writer_properties()))?)),
        Format::Ndjson => Sink::Ndjson(BufWriter::with_capacity(1 << 20, out)),
    };
    let mut stats = ExportStats::default();
    for source in sources {
        let store_error =
            |source_error: StoreError| ExportError::Store { service: source.service.clone(), source: source_error };
        let head = source.store.head_position().await.map_err(store_error)?;
        let mut pages = source.store.scan(0, head, PAGE_SIZE);
        while let Some(page) = pages.recv().await {
            let page = page.map_err(store_error)?;
            let kept: Vec<&RecordedEvent> = page.iter().filter(|e| filter.matches(e)).collect();
            stats.read += page.len() as u64;
            stats.written += kept.len() as u64;
            if !kept.is_empty() {
                let (shown, contacts) = match personal {
                    PersonalData::Withheld => {
                        let shown = render_in_parts(&kept, |part: &[&RecordedEvent]| {
                            part.iter().map(|e| masked(e).map_or(Cow::Borrowed(*e), Cow::Owned)).collect::<Vec<_>>()
                        });
                        (shown.into_iter().flatten().collect::<Vec<Cow<'_, RecordedEvent>>>(), None)
                    }
                    PersonalData::Included(opener) => {
                        let opened = contacts(opener, &kept).await.map_err(ExportError::Personal)?;
                        (kept.iter().map(|e| Cow::Borrowed(*e)).collect(), Some(opened))
                    }
                };
                let rows: Vec<&RecordedEvent> = shown.iter().map(AsRef::as_ref).collect();
                match &mut sink {
                    Sink::Parquet(writer) => {
                        let batch = events_batch(&source.service, &rows, decoder)?;
                        match &contacts {
                            Some(contacts) => writer.write(&with_personal_columns(batch, contacts)?)?,
                            None => writer.write(&batch)?,
                        }
                    }
                    Sink::Ndjson(writer) => {
                        let numbered: Vec<(usize, &RecordedEvent)> = rows.iter().copied().enumerate().collect();
                        let parts = render_in_parts(&numbered, |part: &[(usize, &RecordedEvent)]| {
                            let mut lines = Vec::with_capacity(part.len() * 1024);
                            for (index, e) in part {
                                let personal = contacts.as_ref().map(|c| PersonalLine::of(c[*index].as_ref()));
                                write_ndjson_line(&mut lines, &source.service, e, decoder, personal)?;
                            }
                            Ok::<_, ExportError>(lines)
                        });
                        for lines in parts {
                            writer.write_all(&lines?)?;
                        }
                    }
                }
            }
            progress(Progress { read: stats.read, written: stats.written });
        }
    }
    match sink {
        Sink::Parquet(writer) => {
            writer.close()?;
        }
        Sink::Ndjson(mut writer) => writer.flush()?,
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_rendered_on_several_threads_come_back_whole_and_in_order() {
        let items: Vec<u32> = (0..10_000).collect();
        let parts = render_in_parts(&items, <[u32]>::to_vec);
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        assert_eq!(parts.len(), cores.min(MAX_RENDER_THREADS));
        assert_eq!(parts.concat(), items);
        assert_eq!(render_in_parts(&items[..10], <[u32]>::len), [10], "too few for a second thread");
        assert_eq!(render_in_parts(&items[..0], <[u32]>::len), [0]);
    }

    #[test]
    fn routing_keys_split_into_the_four_area_codes() {
        assert_eq!(
            area_codes("321012001002003"),
            [Some("321012"), Some("321012001"), Some("321012001002"), Some("321012001002003")]
        );
        assert_eq!(area_codes("321012001"), [Some("321012"), Some("321012001"), None, None]);
        assert_eq!(area_codes(""), [None, None, None, None]);
        assert_eq!(area_codes("policy-x"), [None, None, None, None]);
    }
}
