//! Import of another platform's case history (a CSV export, e.g. a city's open 311 data) into
//! dispatch's store as case events, so old cases can be replayed, exported and measured like
//! new ones.
//!
//! Each good row becomes the stream `case-<uuid v5(source, row id)>`: `CaseOpened` and
//! `CaseDispatched` at the opened time (deadline = the due column), and for a closed row
//! `CaseResolved` and `CaseClosed { satisfaction: none }` at the closed time. Event ids are uuid
//! v5 too, so a re-import finds what it wrote: it adds nothing for a case already there, and
//! only the missing events for a case that was open and is now closed. Every event has actor
//! role [`IMPORT_ROLE`] and causation `import:<source>`.
//!
//! Parsing the rows and planning their events are pure ([`Importer::rows`], [`Importer::plan`]).
//! Before anything is written, the case's stored events and the planned ones must fold through
//! the Case aggregate's `evolve`: the import cannot write a history the aggregate would refuse
//! (such a row is reported as bad). [`import_csv`] streams the file in chunks and writes each
//! chunk's new cases in one transaction (see `write`; only with the `io` feature, the parsing and
//! planning build without it).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
pub use gridloop_domain::access::IMPORT_ROLE;
use gridloop_domain::access::IMPORT_RULE_PREFIX;
use gridloop_domain::case::{Assignment, CaseDetails, CaseEvent, Channel, OnTimeVerdict, Reporter, ReporterKind};
use gridloop_domain::clock::{self, Tz};
use gridloop_domain::ids::CaseId;
use gridloop_domain::jurisdiction::{AreaCode, Department};
use gridloop_domain::policy::CityPolicy;
use gridloop_domain::priority::Priority;
use gridloop_eventstore::{Actor, NewEvent};
use gridloop_proto::convert::encode_case_event;
use gridloop_proto::SCHEMA_VERSION;
use std::collections::{BTreeSet, HashMap, HashSet};
use uuid::Uuid;

mod mapping;
mod rows;
#[cfg(feature = "io")]
mod write;

#[cfg(feature = "io")]
pub use write::import_csv;

pub use mapping::{AreaMap, CategoryMap, Columns, Mapping, MissingDue, OnTimeValues, StatusValues};
#[cfg(test)]
use rows::CrlfToLf;
pub use rows::{ParsedRow, Rows};

/// Namespace of the uuid v5 case and event ids of imported history.
pub const IMPORT_NAMESPACE: Uuid = Uuid::from_u128(0x6772_6964_6c6f_6f70_b000_696d_706f_7274);
const DEFAULT_TIME_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
];

/// Why an import could not run at all (bad rows are not errors: see [`ImportReport`]).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("mapping file: {0}")]
    Mapping(String),
    #[error("CSV file: {0}")]
    Csv(#[from] csv::Error),
    #[error("the CSV header has no column {0} (named in the mapping file)")]
    MissingColumn(String),
    #[cfg(feature = "io")]
    #[error("dispatch store: {0}")]
    Store(#[from] gridloop_eventstore::StoreError),
}

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// Line of the row in the file (the header is line 1).
    pub line: u64,
    /// The row's case id, when it had one.
    pub row_id: Option<String>,
    pub reason: String,
    /// A repetition of a row imported from an earlier line (the same id): the case is there,
    /// so nothing of the file is missing for it.
    pub duplicate: bool,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.row_id {
            Some(id) => write!(f, "line {} (id {id}): {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Cases new to the store.
    pub imported: u64,
    /// Cases whose every event was there already.
    pub already_present: u64,
    /// Cases that got the events they lacked (open before, closed now).
    pub updated: u64,
    /// Events appended in all.
    pub events: u64,
    pub rejected: Vec<BadRow>,
    /// Years of rows given a due time from the SLA on a calendar without that year's holidays
    /// (weekends only were skipped).
    pub uncovered_years: BTreeSet<i32>,
}

impl ImportReport {
    pub fn summary(&self) -> String {
        let duplicates = self.duplicates();
        let rejected = match duplicates {
            0 => self.rejected.len().to_string(),
            n => format!("{} ({n} of them repeated ids of imported rows)", self.rejected.len()),
        };
        format!(
            "imported {}, already present {}, updated {}, rejected {rejected} ({} events written)",
            self.imported, self.already_present, self.updated, self.events
        )
    }

    /// Rejected rows that repeat an imported row's id.
    pub fn duplicates(&self) -> usize {
        self.rejected.iter().filter(|row| row.duplicate).count()
    }

    /// Rejected rows whose case is not in the store: the file's rows that were lost.
    pub fn lost(&self) -> usize {
        self.rejected.len() - self.duplicates()
    }
}

/// A row's events in stream order, as written and as the case sees them.
pub type Planned = Vec<(NewEvent, CaseEvent)>;

/// A good row, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedCase {
    pub row_id: String,
    pub case_id: CaseId,
    pub opened: DateTime<Utc>,
    /// The due time: the file's, or from the SLA (`missing_due = "sla"`), or none.
    pub due: Option<DateTime<Utc>>,
    /// Whether the due time came from the SLA.
    pub due_from_sla: bool,
    /// The closed time, for a closed row.
    pub closed: Option<DateTime<Utc>>,
    /// The file's own verdict: closed on time (true) or late (false).
    pub on_time: Option<bool>,
    pub status: String,
    pub category_code: String,
    pub grid_code: String,
    pub lat: f64,
    pub lon: f64,
    pub department: Option<String>,
    pub description: String,
}

/// Column positions in the file.
#[derive(Debug, Clone)]
struct Positions {
    case_id: usize,
    opened: usize,
    due: Option<usize>,
    closed: Option<usize>,
    status: Option<usize>,
    category: usize,
    department: Option<usize>,
    latitude: Option<usize>,
    longitude: Option<usize>,
    location: Option<usize>,
    neighbourhood: Option<usize>,
    description: Option<usize>,
    on_time: Option<usize>,
}

/// A validated mapping bound to a city policy.
pub struct Importer<'p> {
    mapping: Mapping,
    policy: &'p CityPolicy,
    zone: Tz,
    formats: Vec<String>,
    closed_status: HashSet<String>,
    open_status: HashSet<String>,
    categories: HashMap<String, String>,
    areas: HashMap<String, String>,
    on_time: HashSet<String>,
    late: HashSet<String>,
    causation: String,
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

impl<'p> Importer<'p> {
    /// Parse and check a mapping file against the city: category codes must be in the catalog
    /// and grid codes in the jurisdiction.
    pub fn from_toml(text: &str, policy: &'p CityPolicy) -> Result<Self, ImportError> {
        let mapping: Mapping = toml::from_str(text).map_err(|e| ImportError::Mapping(e.to_string()))?;
        Self::new(mapping, policy)
    }

    pub fn new(mapping: Mapping, policy: &'p CityPolicy) -> Result<Self, ImportError> {
        let bad = |m: String| Err(ImportError::Mapping(m));
        if mapping.source.trim().is_empty() {
            return bad("`source` must name the platform the file comes from".into());
        }
        // The CSV reader splits on a byte: a wider character would be cut to its low byte.
        if let Some(delimiter) = mapping.delimiter.filter(|c| !c.is_ascii()) {
            return bad(format!("delimiter {delimiter:?} is not one ASCII character"));
        }
        if let Some(offset) = &mapping.utc_offset {
            return bad(format!(
                "utc_offset = {offset:?}: name the file's IANA time zone instead, e.g. time_zone = \"Asia/Shanghai\" \
                 (daylight saving included)"
            ));
        }
        let zone = match &mapping.time_zone {
            Some(name) => clock::parse_zone(name).map_err(|e| ImportError::Mapping(e.to_string()))?,
            None => policy.calendar.zone(),
        };
        for code in mapping.categories.map.values().chain(mapping.categories.default.iter()) {
            if policy.catalog.get(code).is_none() {
                return bad(format!("category code {code:?} is not in the catalog"));
            }
        }
        for code in mapping.areas.map.values().chain(mapping.areas.default_grid.iter()) {
            let known = AreaCode::new(code.clone()).ok().and_then(|c| policy.jurisdiction.grid(&c).map(|_| ()));
            if known.is_none() {
                return bad(format!("grid code {code:?} is not a grid of the jurisdiction"));
            }
        }
        if mapping.columns.status.is_some() && mapping.status.closed.is_empty() {
            return bad("with a status column, [status] closed must list the values that mean closed".into());
        }
        if mapping.columns.on_time.is_some() && (mapping.on_time.on_time.is_empty() || mapping.on_time.late.is_empty())
        {
            return bad("with an on_time column, [on_time] must list the values meaning on time and late".into());
        }
        if mapping.columns.location.is_none()
            && (mapping.columns.latitude.is_some() != mapping.columns.longitude.is_some())
        {
            return bad("name both latitude and longitude columns, or neither".into());
        }
        let formats = if mapping.time_formats.is_empty() {
            DEFAULT_TIME_FORMATS.iter().map(|f| f.to_string()).collect()
        } else {
            mapping.time_formats.clone()
        };
        Ok(Self {
            zone,
            formats,
            closed_status: mapping.status.closed.iter().map(|s| norm(s)).collect(),
            open_status: mapping.status.open.iter().map(|s| norm(s)).collect(),
            categories: mapping.categories.map.iter().map(|(k, v)| (norm(k), v.clone())).collect(),
            areas: mapping.areas.map.iter().map(|(k, v)| (norm(k), v.clone())).collect(),
            on_time: mapping.on_time.on_time.iter().map(|s| norm(s)).collect(),
            late: mapping.on_time.late.iter().map(|s| norm(s)).collect(),
            causation: format!("{IMPORT_RULE_PREFIX}{}", mapping.source),
            mapping,
            policy,
        })
    }

    pub fn source(&self) -> &str {
        &self.mapping.source
    }

    fn positions(&self, headers: &csv::StringRecord) -> Result<Positions, ImportError> {
        let find = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim().trim_start_matches('\u{feff}') == name)
                .ok_or_else(|| ImportError::MissingColumn(name.to_string()))
        };
        let optional = |name: &Option<String>| name.as_deref().map(find).transpose();
        let c = &self.mapping.columns;
        Ok(Positions {
            case_id: find(&c.case_id)?,
            opened: find(&c.opened)?,
            due: optional(&c.due)?,
            closed: optional(&c.closed)?,
            status: optional(&c.status)?,
            category: find(&c.category)?,
            department: optional(&c.department)?,
            latitude: optional(&c.latitude)?,
            longitude: optional(&c.longitude)?,
            location: optional(&c.location)?,
            neighbourhood: optional(&c.neighbourhood)?,
            description: optional(&c.description)?,
            on_time: optional(&c.on_time)?,
        })
    }

    /// The case id of a row id.
    pub fn case_id(&self, row_id: &str) -> CaseId {
        CaseId(Uuid::new_v5(&IMPORT_NAMESPACE, format!("{}\n{row_id}", self.mapping.source).as_bytes()))
    }

    /// A time in the file: RFC 3339, or one of the formats in the mapping's time zone.
    pub fn parse_time(&self, text: &str) -> Option<DateTime<Utc>> {
        let text = text.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(t.with_timezone(&Utc));
        }
        let local = self.formats.iter().find_map(|f| NaiveDateTime::parse_from_str(text, f).ok()).or_else(|| {
            ["%Y-%m-%d", "%m/%d/%Y"]
                .into_iter()
                .chain(self.formats.iter().map(String::as_str))
                .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
        clock::instant_of(self.zone, local)
    }

    /// Parse one row (`get` gives the trimmed field at a position, empty when absent); every
    /// reason it is bad, when it is.
    fn parse_fields(&self, p: &Positions, get: &dyn Fn(Option<usize>) -> String) -> Result<ImportedCase, Vec<String>> {
        let mut reasons = Vec::new();
        let row_id = get(Some(p.case_id));
        if row_id.is_empty() {
            reasons.push("no case id".to_string());
        }
        let time = |name: &str, pos: Option<usize>, reasons: &mut Vec<String>| {
            let text = get(pos);
            if text.is_empty() {
                return None;
            }
            let parsed = self.parse_time(&text);
            if parsed.is_none() {
                reasons.push(format!("{name} time {text:?} matches no time format"));
            }
            parsed
        };
        let opened_text = get(Some(p.opened));
        let opened = time("opened", Some(p.opened), &mut reasons);
        if opened_text.is_empty() {
            reasons.push("no opened time".into());
        }
        let due = time("due", p.due, &mut reasons);
        let closed_at = time("closed", p.closed, &mut reasons);
        let status = get(p.status);
        let closed = match p.status {
            None => closed_at.is_some(),
            Some(_) if self.closed_status.contains(&norm(&status)) => true,
            Some(_) if self.open_status.is_empty() || self.open_status.contains(&norm(&status)) => false,
            Some(_) => {
                reasons.push(format!("status {status:?} is neither a closed nor an open status of the mapping"));
                false
            }
        };
        if closed && closed_at.is_none() && get(p.closed).is_empty() {
            reasons.push(format!("status {status:?} means closed but the closed time is empty"));
        }
        if let (Some(opened), Some(closed_at), true) = (opened, closed_at, closed) {
            if closed_at < opened {
                reasons.push(format!("closed ({closed_at}) before opened ({opened})"));
            }
        }
        let category_value = get(Some(p.category));
        let category = self.categories.get(&norm(&category_value)).or(self.mapping.categories.default.as_ref());
        if category.is_none() {
            reasons.push(format!("category {category_value:?} is not in the category map and there is no default"));
        }
        let point = self.point(p, get);
        let located =
            point.and_then(|(lat, lon)| self.policy.jurisdiction.locate(lat, lon)).map(|g| g.code.as_str().to_string());
        let neighbourhood = get(p.neighbourhood);
        let grid = located
            .or_else(|| self.areas.get(&norm(&neighbourhood)).cloned())
            .or_else(|| self.mapping.areas.default_grid.clone());
        if grid.is_none() {
            reasons.push(format!(
                "no grid: the location is in no grid, neighbourhood {neighbourhood:?} is not in the area map, and there is no default grid"
            ));
        }
        let (due, due_from_sla) = match (due, opened, category) {
            (Some(due), _, _) => (Some(due), false),
            (None, Some(opened), Some(category)) if self.mapping.missing_due == MissingDue::Sla => {
                let sla = self.policy.resolve_sla(category, self.mapping.level);
                (Some(self.policy.calendar.deadline(opened, &sla)), true)
            }
            (None, _, _) => {
                if self.mapping.missing_due == MissingDue::Reject && get(p.due).is_empty() {
                    reasons.push("no due time".into());
                }
                (None, false)
            }
        };
        let verdict = norm(&get(p.on_time));
        let on_time = if self.on_time.contains(&verdict) {
            Some(true)
        } else if self.late.contains(&verdict) {
            Some(false)
        } else {
            None
        };
        if !reasons.is_empty() {
            return Err(reasons);
        }
        let (Some(opened), Some(category), Some(grid)) = (opened, category, grid) else {
            return Err(vec!["incomplete row".into()]);
        };
        let (lat, lon) = point.unwrap_or_else(|| {
            AreaCode::new(grid.clone())
                .ok()
                .and_then(|c| self.policy.jurisdiction.grid(&c).map(|g| g.interior_point()))
                .unwrap_or((0.0, 0.0))
        });
        let description = Some(get(p.description)).filter(|d| !d.is_empty()).unwrap_or(category_value);
        let department = Some(get(p.department)).filter(|d| !d.is_empty());
        Ok(ImportedCase {
            case_id: self.case_id(&row_id),
            row_id,
            opened,
            due,
            due_from_sla,
            closed: if closed { closed_at } else { None },
            on_time: if closed { on_time } else { None },
            status,
            category_code: category.clone(),
            grid_code: grid,
            lat,
            lon,
            department,
            description,
        })
    }

    fn point(&self, p: &Positions, get: &dyn Fn(Option<usize>) -> String) -> Option<(f64, f64)> {
        let valid = |(lat, lon): (f64, f64)| {
            (lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0 && (lat, lon) != (0.0, 0.0))
                .then_some((lat, lon))
        };
        if p.location.is_some() {
            return parse_location(&get(p.location)).and_then(valid);
        }
        let lat = get(p.latitude).parse::<f64>().ok()?;
        let lon = get(p.longitude).parse::<f64>().ok()?;
        valid((lat, lon))
    }

    /// The events a parsed row becomes, in stream order, as written and as the case sees them
    /// (ids, times and payloads are a function of the row alone).
    pub fn plan(&self, case: &ImportedCase) -> Planned {
        let level = self.mapping.level;
        let grid = AreaCode::new(case.grid_code.clone()).ok();
        let unit = grid
            .as_ref()
            .and_then(|g| self.policy.jurisdiction.unit_for(g, level))
            .map_or_else(|| case.grid_code.clone(), |u| u.as_str().to_string());
        let owner = self.policy.catalog.get(&case.category_code).and_then(|c| c.department_at(level));
        let department = match (&case.department, owner) {
            (Some(name), code) => Some(Department { code: code.unwrap_or("imported").to_string(), name: name.clone() }),
            (None, Some(code)) => {
                AreaCode::new(unit.clone()).ok().and_then(|u| self.policy.jurisdiction.department(&u, code).cloned())
            }
            (None, None) => None,
        };
        // Without a due time the deadline recorded is the opening, which judges nothing: the
        // closure says its timeliness is not known (unless the file gives its verdict).
        let assignment =
            Assignment { level, unit: unit.clone(), deadline: case.due.unwrap_or(case.opened), department };
        let details = CaseDetails {
            category_code: case.category_code.clone(),
            grid_code: case.grid_code.clone(),
            lat: case.lat,
            lon: case.lon,
            description: case.description.clone(),
            reporter: Reporter {
                kind: ReporterKind::Platform,
                id: format!("{}:{}", self.mapping.source, case.row_id),
                name: self.mapping.source.clone(),
                phone: String::new(),
                sealed: None,
            },
            channel: Channel::Platform,
            discovered_at: case.opened,
            uploaded_at: case.opened,
            urgent: false,
            special_groups: Vec::new(),
            media_url: None,
        };
        let mut events = vec![
            ("opened", case.opened, CaseEvent::Opened { case_id: case.case_id, details }),
            (
                "dispatched",
                case.opened,
                CaseEvent::Dispatched {
                    to: assignment,
                    rule: self.causation.clone(),
                    priority: Priority { score: 0, reasons: vec![format!("imported from {}", self.mapping.source)] },
                },
            ),
        ];
        if let Some(closed) = case.closed {
            let summary = format!("closed in {} (status {:?})", self.mapping.source, case.status);
            // The other platform closed it: whatever checks it made are its own record.
            let resolved = CaseEvent::Resolved { level, unit, summary, verify_by: None };
            events.push(("resolved", closed, resolved));
            let on_time = match (case.on_time, case.due) {
                (Some(true), _) => OnTimeVerdict::OnTime,
                (Some(false), _) => OnTimeVerdict::Late,
                (None, Some(_)) => OnTimeVerdict::ByDeadline,
                (None, None) => OnTimeVerdict::Unknown,
            };
            events.push(("closed", closed, CaseEvent::Closed { level, satisfaction: None, on_time }));
        }
        let trace_span = self.event_id(case, "opened").simple().to_string();
        let traceparent = format!("00-{}-{}-01", case.case_id.0.simple(), &trace_span[16..]);
        events
            .into_iter()
            .map(|(kind, at, event)| {
                let written = NewEvent {
                    event_id: self.event_id(case, kind),
                    event_type: String::new(),
                    occurred_at: at,
                    correlation_id: case.case_id.to_string(),
                    causation_id: self.causation.clone(),
                    actor: Actor {
                        role: IMPORT_ROLE.into(),
                        id: self.mapping.source.clone(),
                        jurisdiction: String::new(),
                    },
                    traceparent: traceparent.clone(),
                    schema_version: SCHEMA_VERSION,
                    routing_key: case.grid_code.clone(),
                    payload: Vec::new(),
                }
                .with(encode_case_event(case.case_id, &event));
                (written, event)
            })
            .collect()
    }

    fn event_id(&self, case: &ImportedCase, kind: &str) -> Uuid {
        Uuid::new_v5(&IMPORT_NAMESPACE, format!("{}\n{}\n{kind}", self.mapping.source, case.row_id).as_bytes())
    }
}

trait WithPayload {
    fn with(self, encoded: (String, Vec<u8>)) -> Self;
}

impl WithPayload for NewEvent {
    fn with(mut self, (event_type, payload): (String, Vec<u8>)) -> Self {
        self.event_type = event_type;
        self.payload = payload;
        self
    }
}

/// "(lat, lon)", "lat,lon" or WKT "POINT (lon lat)".
fn parse_location(text: &str) -> Option<(f64, f64)> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("POINT").or_else(|| text.strip_prefix("point")) {
        let inner = rest.trim().trim_start_matches('(').trim_end_matches(')');
        let mut parts = inner.split_whitespace();
        let lon = parts.next()?.parse().ok()?;
        let lat = parts.next()?.parse().ok()?;
        return Some((lat, lon));
    }
    let inner = text.trim_start_matches('(').trim_end_matches(')');
    let (lat, lon) = inner.split_once(',')?;
    Some((lat.trim().parse().ok()?, lon.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::write::fits;
    use super::*;
    use gridloop_domain::case::CaseStatus;
    use std::io::Read;

    #[test]
    fn local_times_are_read_in_the_mapping_zone_or_the_city_zone() {
        let policy = CityPolicy::default_city();
        let columns = "[columns]\ncase_id = \"id\"\nopened = \"opened\"\ncategory = \"type\"\n";
        let new_york =
            Importer::from_toml(&format!("source = \"p\"\ntime_zone = \"America/New_York\"\n{columns}"), &policy)
                .unwrap();
        let utc = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        assert_eq!(new_york.parse_time("2026-01-15 09:00:00"), utc("2026-01-15T14:00:00Z"), "EST");
        assert_eq!(new_york.parse_time("2026-07-15 09:00:00"), utc("2026-07-15T13:00:00Z"), "EDT");
        assert_eq!(new_york.parse_time("2026-03-08 02:30:00"), utc("2026-03-08T07:30:00Z"), "skipped: 03:30 EDT");
        let city = Importer::from_toml(&format!("source = \"p\"\n{columns}"), &policy).unwrap();
        assert_eq!(city.parse_time("2026-07-15 09:00:00"), utc("2026-07-15T01:00:00Z"), "the city's Asia/Shanghai");
        let Err(ImportError::Mapping(offset)) =
            Importer::from_toml(&format!("source = \"p\"\nutc_offset = \"+08:00\"\n{columns}"), &policy)
        else {
            panic!("a fixed offset must be refused")
        };
        assert!(offset.contains("time_zone"), "{offset}");
        let Err(ImportError::Mapping(unknown)) =
            Importer::from_toml(&format!("source = \"p\"\ntime_zone = \"Mars/Olympus\"\n{columns}"), &policy)
        else {
            panic!("an unknown zone must be refused")
        };
        assert!(unknown.contains("Mars/Olympus"), "{unknown}");
    }

    #[test]
    fn a_row_is_written_only_when_the_case_accepts_its_history() {
        let policy = CityPolicy::default_city();
        let mapping = "source = \"p\"\n[columns]\ncase_id = \"id\"\nopened = \"opened\"\ncategory = \"type\"\n";
        let importer = Importer::from_toml(mapping, &policy).unwrap();
        let opened = DateTime::parse_from_rfc3339("2024-01-02T09:00:00Z").unwrap().with_timezone(&Utc);
        let row = ImportedCase {
            row_id: "1".into(),
            case_id: importer.case_id("1"),
            opened,
            due: Some(opened + chrono::Duration::days(3)),
            due_from_sla: false,
            closed: Some(opened + chrono::Duration::days(1)),
            on_time: None,
            status: "closed".into(),
            category_code: "env.debris".into(),
            grid_code: policy.jurisdiction.grids().next().unwrap().code.as_str().to_string(),
            lat: 0.0,
            lon: 0.0,
            department: None,
            description: "bags".into(),
        };
        let planned = importer.plan(&row);
        let case = fits(&[], planned.iter().map(|(_, event)| event)).unwrap();
        assert!(matches!(case.status, CaseStatus::Closed { satisfaction: None, .. }), "{:?}", case.status);
        // The closure without the opening and the resolution it follows does not fit a case.
        let refused = fits(&[], [&planned[3].1]).unwrap_err();
        assert_eq!(refused, "the row's history does not fit the case: CaseClosed cannot follow a case that is new");
    }

    #[test]
    fn crlf_becomes_lf_across_chunk_boundaries_and_lone_cr_stays() {
        // One byte per inner read: every '\r' ends a chunk.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else { return Ok(0) };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let mut out = String::new();
        CrlfToLf::new(Trickle(b"a,b\r\nc\rd\r\n\r")).read_to_string(&mut out).unwrap();
        assert_eq!(out, "a,b\nc\rd\n\r");
    }

    #[test]
    fn locations_parse() {
        assert_eq!(parse_location("(32.4, 119.5)"), Some((32.4, 119.5)));
        assert_eq!(parse_location("32.4,119.5"), Some((32.4, 119.5)));
        assert_eq!(parse_location("POINT (119.5 32.4)"), Some((32.4, 119.5)));
        assert_eq!(parse_location("nowhere"), None);
    }

    #[test]
    fn a_delimiter_that_is_not_one_ascii_byte_is_refused() {
        let policy = CityPolicy::default_city();
        let mapping = |delimiter: &str| {
            format!(
                "source = \"p\"\ndelimiter = \"{delimiter}\"\n[columns]\ncase_id = \"id\"\nopened = \"opened\"\ncategory = \"type\"\n"
            )
        };
        assert!(Importer::from_toml(&mapping(";"), &policy).is_ok());
        let refused = Importer::from_toml(&mapping("，"), &policy).err().expect("a full-width comma is refused");
        assert!(refused.to_string().contains("ASCII"), "{refused}");
    }
}
