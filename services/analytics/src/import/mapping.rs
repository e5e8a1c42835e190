//! The mapping file (TOML) of an import: which columns of the other platform's export hold
//! what, and how to read their values.

use gridloop_domain::level::Level;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The mapping file (TOML): which columns hold what, and how to read them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Name of the platform the file comes from: ids derive from it, so keep it stable.
    pub source: String,
    /// `chrono` formats of the time columns, tried in order after RFC 3339 (which carries its
    /// own offset). A value that is only a date (`%Y-%m-%d`, `%m/%d/%Y`) means midnight.
    #[serde(default)]
    pub time_formats: Vec<String>,
    /// The IANA time zone of times without an offset, daylight saving included, e.g.
    /// "America/Los_Angeles" (default: the city's, `--time-zone`). A local time repeated when
    /// clocks go back is read as the first of the two.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Replaced by `time_zone`; only read to say so.
    #[serde(default)]
    pub utc_offset: Option<String>,
    /// The level the file's departments sit at: the unit of that level above the case's grid
    /// holds the imported case.
    #[serde(default = "default_level")]
    pub level: Level,
    /// Field delimiter (default ',').
    #[serde(default)]
    pub delimiter: Option<char>,
    /// A row without a due time: `"none"` (default) keeps none, so its closure is judged only
    /// by the file's own verdict (`columns.on_time`) or not at all; `"sla"` takes the
    /// category's resolve SLA at `level` from the opened time on the city's working calendar
    /// (`--holidays`; the import warns of the years it does not cover); `"reject"` reports the
    /// row as bad.
    #[serde(default)]
    pub missing_due: MissingDue,
    pub columns: Columns,
    #[serde(default)]
    pub status: StatusValues,
    /// The values of the `on_time` column.
    #[serde(default)]
    pub on_time: OnTimeValues,
    #[serde(default)]
    pub categories: CategoryMap,
    #[serde(default)]
    pub areas: AreaMap,
}

fn default_level() -> Level {
    Level::Street
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingDue {
    #[default]
    None,
    Sla,
    Reject,
}

/// Column names (as in the CSV header).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub case_id: String,
    pub opened: String,
    pub due: Option<String>,
    pub closed: Option<String>,
    /// Without it, a row with a closed time is closed.
    pub status: Option<String>,
    pub category: String,
    pub department: Option<String>,
    pub latitude: Option<String>,
    pub longitude: Option<String>,
    /// One column with both coordinates: "(lat, lon)", "lat,lon" or "POINT (lon lat)".
    pub location: Option<String>,
    pub neighbourhood: Option<String>,
    /// Text of the case (default: the file's category value).
    pub description: Option<String>,
    /// The platform's own verdict on a closed case's timeliness (an `OnTime_Status`-like
    /// column), read with `[on_time]`: where it says on time or late, that is the fact; where
    /// it is empty or says anything else, the due time judges (or nothing, without one).
    pub on_time: Option<String>,
}

/// Values of the on-time column (compared trimmed and case-insensitively).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnTimeValues {
    #[serde(default)]
    pub on_time: Vec<String>,
    #[serde(default)]
    pub late: Vec<String>,
}

/// Status values (compared trimmed and case-insensitively).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusValues {
    #[serde(default)]
    pub closed: Vec<String>,
    /// Empty: every status not in `closed` means open; else a status in neither is a bad row.
    #[serde(default)]
    pub open: Vec<String>,
}

/// The file's category values → catalog codes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryMap {
    /// Code for values the map does not name; without it such rows are bad.
    pub default: Option<String>,
    #[serde(default)]
    pub map: BTreeMap<String, String>,
}

/// Neighbourhood names → grid codes. A located point inside a grid wins over both.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaMap {
    pub default_grid: Option<String>,
    #[serde(default)]
    pub map: BTreeMap<String, String>,
}
