//! Rendering shared by every client command: protobuf enums as names, timestamps, JSON objects for
//! the contract's views, aligned tables for people, and parsing of the CLI's time arguments.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use gridloop_domain::clock::{self, Tz};
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};
use std::path::Path;

/// A protobuf enum whose value names share a prefix (`LEVEL_GRID`, `CASE_STATE_IN_MEDIATION`).
pub trait ProtoEnum: Copy + TryFrom<i32> + Into<i32> {
    const PREFIX: &'static str;
    fn proto_name(self) -> &'static str;
    fn from_proto_name(name: &str) -> Option<Self>;
}

macro_rules! proto_enums {
    ($($ty:ty => $prefix:literal),* $(,)?) => {$(
        impl ProtoEnum for $ty {
            const PREFIX: &'static str = $prefix;
            fn proto_name(self) -> &'static str {
                self.as_str_name()
            }
            fn from_proto_name(name: &str) -> Option<Self> {
                Self::from_str_name(name)
            }
        }
    )*};
}

proto_enums!(
    pb::Level => "LEVEL_",
    pb::CaseState => "CASE_STATE_",
    pb::Satisfaction => "SATISFACTION_",
    pb::Channel => "CHANNEL_",
    pb::ReporterKind => "REPORTER_KIND_",
    pb::ContactDisclosure => "CONTACT_DISCLOSURE_",
    pb::MediationState => "MEDIATION_STATE_",
    pb::MediationOutcome => "MEDIATION_OUTCOME_",
    pb::MediationStage => "MEDIATION_STAGE_",
    pb::MediationReferral => "MEDIATION_REFERRAL_",
    pb::SessionLevel => "SESSION_LEVEL_",
    pb::MatterKind => "MATTER_KIND_",
    pb::ParticipantRole => "PARTICIPANT_ROLE_",
    pb::ObjectionResponse => "OBJECTION_RESPONSE_",
    pb::BallotChoice => "BALLOT_CHOICE_",
    pb::SpecialGroup => "SPECIAL_GROUP_",
    pb::CaseOrder => "CASE_ORDER_",
    pb::ReportPeriod => "REPORT_PERIOD_",
    pb::Datum => "DATUM_",
    pb::RegisterGroupKind => "REGISTER_GROUP_KIND_",
);

/// The lower-case snake name of an enum value (`in_mediation`, `basically_satisfied`); `None` when
/// unspecified (0); `unknown_<n>` for a value newer than this build.
pub fn enum_name<E: ProtoEnum>(raw: i32) -> Option<String> {
    if raw == 0 {
        return None;
    }
    Some(match E::try_from(raw) {
        Ok(value) => {
            let name = value.proto_name();
            name.strip_prefix(E::PREFIX).unwrap_or(name).to_ascii_lowercase()
        }
        Err(_) => format!("unknown_{raw}"),
    })
}

/// The enum value named by a CLI spelling: `in-mediation` or `in_mediation` → `CASE_STATE_IN_MEDIATION`.
pub fn enum_from_name<E: ProtoEnum>(name: &str) -> Option<E> {
    E::from_proto_name(&format!("{}{}", E::PREFIX, name.replace('-', "_").to_ascii_uppercase()))
}

/// The wire value of a CLI choice whose spelling names a protobuf enum value. Every noun's `…Arg`
/// enum is spelled so: the protobuf value name without its prefix, in kebab case (the snake
/// spelling is accepted too, as an alias).
pub fn enum_arg<E: ProtoEnum>(arg: &impl clap::ValueEnum) -> i32 {
    arg.to_possible_value().and_then(|value| enum_from_name::<E>(value.get_name())).map_or(0, Into::into)
}

/// Asserts that every CLI spelling of `A` names a value of the protobuf enum `E`.
#[cfg(test)]
pub fn every_spelling_maps<A: clap::ValueEnum, E: ProtoEnum>() {
    for arg in A::value_variants() {
        let name = arg.to_possible_value().expect("a visible value").get_name().to_string();
        assert_ne!(enum_arg::<E>(arg), 0, "{name} maps to no {}* value", E::PREFIX);
    }
}

/// An enum value for JSON: its snake name, or `null` when unspecified.
pub fn enum_json<E: ProtoEnum>(raw: i32) -> Value {
    enum_name::<E>(raw).map_or(Value::Null, Value::String)
}

/// An enum value for people: its snake name, or `-` when unspecified.
pub fn enum_text<E: ProtoEnum>(raw: i32) -> String {
    enum_name::<E>(raw).unwrap_or_else(|| "-".into())
}

/// A role as the CLI and the services spell it, in and out: kebab case (`grid-worker`), also for
/// an event recorded with another spelling (`grid_worker`).
pub fn role_spelling(role: &str) -> String {
    role.replace('_', "-")
}

/// `--actor-role`: any role, in its one spelling.
pub fn parse_role(role: &str) -> Result<String, String> {
    Ok(role_spelling(role.trim()))
}

/// A mediation participant's role for JSON: its kebab name, or `null` when unspecified.
pub fn role_json(raw: i32) -> Value {
    enum_name::<pb::ParticipantRole>(raw).map_or(Value::Null, |name| Value::String(role_spelling(&name)))
}

/// A mediation participant's role for people: its kebab name, or `-` when unspecified.
pub fn role_text(raw: i32) -> String {
    enum_name::<pb::ParticipantRole>(raw).map_or_else(|| "-".into(), |name| role_spelling(&name))
}

pub fn time(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

/// RFC 3339 in UTC (`2025-03-01T08:30:00Z`), or `None` when unset or out of range.
pub fn rfc3339(t: Option<&prost_types::Timestamp>) -> Option<String> {
    let t = t?;
    let t = DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)?;
    Some(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

pub fn time_json(t: Option<&prost_types::Timestamp>) -> Value {
    rfc3339(t).map_or(Value::Null, Value::String)
}

/// A time for people: local to the city (`--time-zone`), with its offset, to the second.
pub fn time_text(t: Option<&prost_types::Timestamp>, zone: Tz) -> String {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .map_or_else(|| "-".into(), |t| t.with_timezone(&zone).to_rfc3339_opts(SecondsFormat::Secs, false))
}

/// `--discovered-at`: an RFC 3339 instant with an offset.
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time like 2025-03-01T08:30:00+08:00 ({e})"))
}

/// A `--from`/`--to` bound: an instant, or the start of a local date in the city's time zone
/// (`--time-zone`), which becomes an instant only once the zone is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    At(DateTime<Utc>),
    StartOf(NaiveDate),
}

impl Bound {
    /// The instant: a date's local midnight in `zone` (the end of a skipped hour if midnight is
    /// skipped).
    pub fn at(self, zone: Tz) -> DateTime<Utc> {
        match self {
            Bound::At(at) => at,
            Bound::StartOf(date) => clock::start_of_day(date, zone).unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }
}

/// `--from`: an RFC 3339 instant, or a date meaning its first instant in the city's time zone.
pub fn parse_from(s: &str) -> Result<Bound, String> {
    parse_bound(s, 0)
}

/// `--to` (exclusive): an RFC 3339 instant, or a date meaning the end of that day in the city's
/// time zone, so the whole day is included (`--to 2025-03-31` → 2025-04-01 00:00 local).
pub fn parse_to(s: &str) -> Result<Bound, String> {
    parse_bound(s, 1)
}

fn parse_bound(s: &str, days_after: u64) -> Result<Bound, String> {
    let Ok(date) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") else {
        return parse_instant(s)
            .map(Bound::At)
            .map_err(|_| format!("{s:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time"));
    };
    date.checked_add_days(chrono::Days::new(days_after))
        .map(Bound::StartOf)
        .ok_or_else(|| format!("{s:?} is out of range"))
}

/// `--time-zone`: an IANA zone name.
pub fn parse_time_zone(name: &str) -> Result<Tz, String> {
    clock::parse_zone(name).map_err(|e| e.to_string())
}

/// A text given inline or, for long texts, read from a file (`-`: standard input); the line end
/// a file ends with is not part of the text.
pub fn read_text(inline: Option<String>, file: Option<&Path>, what: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    let Some(path) = file else { return Ok(inline.unwrap_or_default()) };
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
            .with_context(|| format!("cannot read the {what} from standard input"))?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read the {what} from {}", path.display()))?
    };
    Ok(text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text).to_string())
}

/// `7200` → `2h`, `93600` → `1d 2h`, `0` → `-`.
pub fn duration_text(seconds: u64) -> String {
    if seconds == 0 {
        return "-".into();
    }
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut rest = seconds;
    let mut parts = Vec::new();
    for (size, unit) in units {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    parts.join(" ")
}

/// Resolve SLAs up the ladder, compactly: `["2 working days", "3 working days"]` →
/// `2/3 working days`; `["1 working day", "2 working days"]` → `1/2 working days`; SLAs of
/// different units stay whole, `4 hours/8 hours/1 day`. Empty for no SLAs.
pub fn sla_ladder(slas: &[String]) -> String {
    let split = |sla: &str| {
        let (number, unit) = sla.split_once(' ')?;
        number.parse::<u64>().ok()?;
        Some((number.to_string(), unit.trim_end_matches('s').to_string()))
    };
    let parts: Option<Vec<(String, String)>> = slas.iter().map(|s| split(s)).collect();
    match (parts, slas.last()) {
        (Some(parts), Some(last)) if parts.iter().all(|(_, unit)| *unit == parts[0].1) => {
            let numbers: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
            let unit = last.split_once(' ').map_or("", |(_, unit)| unit);
            let unit = if slas.len() > 1 && !unit.ends_with('s') && !unit.ends_with("min") {
                format!("{unit}s")
            } else {
                unit.to_string()
            };
            format!("{} {unit}", numbers.join("/"))
        }
        _ => slas.join("/"),
    }
}

/// An empty protobuf string (unset) as `null`.
pub fn opt_str(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_string())
    }
}

pub fn point_json(p: Option<&pb::GeoPoint>) -> Value {
    p.map_or(Value::Null, |p| json!({ "lat": p.lat, "lon": p.lon }))
}

pub fn point_text(p: Option<&pb::GeoPoint>) -> String {
    p.map_or_else(|| "-".into(), |p| format!("{}, {}", p.lat, p.lon))
}

pub fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

/// Prints one JSON document, or the human text. A closed pipe (`| head`) is not an error.
pub fn emit(json: bool, to_json: impl FnOnce() -> Value, to_text: impl FnOnce() -> String) -> anyhow::Result<()> {
    use std::io::Write;
    let text = if json { serde_json::to_string_pretty(&to_json())? } else { to_text() };
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{}", text.trim_end_matches('\n')).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::new(e).context("writing to stdout")),
        _ => Ok(()),
    }
}

/// Columns of a terminal, counting CJK and full-width characters as two.
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let wide = matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF |
        0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 |
        0xFFE0..=0xFFE6 | 0x1F300..=0x1F64F | 0x1F900..=0x1F9FF | 0x20000..=0x3FFFD);
    if c.is_control() {
        0
    } else if wide {
        2
    } else {
        1
    }
}

/// At most `max` columns wide, ending in `…` when cut; newlines become spaces.
pub fn truncate(s: &str, max: usize) -> String {
    let s = s.replace(['\n', '\r'], " ");
    if display_width(&s) <= max {
        return s;
    }
    let mut out = String::new();
    let mut width = 0;
    for c in s.chars() {
        if width + char_width(c) + 1 > max {
            break;
        }
        width += char_width(c);
        out.push(c);
    }
    out.push('…');
    out
}

/// The columns text output may use: `COLUMNS` when set, else the terminal's width when stdout is
/// one; `None` (no limit) when it goes to a pipe or a file, so nothing is cut for `grep`.
pub fn terminal_width() -> Option<usize> {
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|c| *c > 0);
    columns.or_else(|| console::Term::stdout().size_checked().map(|(_, columns)| usize::from(columns)))
}

/// `s` in lines of at most `width` columns: broken after a space or a comma past the first third
/// of a line, else where the line is full; the text's own line breaks are kept.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for paragraph in s.split('\n') {
        let (mut line, mut line_width) = (String::new(), 0);
        // Where the line may break: the byte offset after a space or comma, and the width before it.
        let mut break_after: Option<(usize, usize)> = None;
        // Whether the line is the continuation of a broken one, where spaces at the start go.
        let mut continued = false;
        for c in paragraph.trim_end_matches('\r').chars() {
            let w = char_width(c);
            if line_width + w > width && !line.is_empty() {
                match break_after.filter(|(_, before)| before * 3 >= width) {
                    Some((at, before)) => {
                        let rest = line.split_off(at);
                        lines.push(line.trim_end().to_string());
                        (line, line_width) = (rest, line_width - before);
                    }
                    None => lines.push(std::mem::take(&mut line)),
                }
                if line.is_empty() {
                    line_width = 0;
                }
                (break_after, continued) = (None, true);
            }
            if continued && line.is_empty() && c == ' ' {
                continue;
            }
            line.push(c);
            line_width += w;
            if c == ' ' || c == ',' {
                break_after = Some((line.len(), line_width));
            }
        }
        lines.push(line);
    }
    lines
}

/// Below this many columns a fitted table's last column goes under its row instead of beside it:
/// a narrower column would hold a few words a line.
const MIN_LAST_COLUMN: usize = 40;

/// Left-aligned columns (right-aligned where asked) separated by two spaces; no trailing blanks.
/// Fitted to a width, the last column is wrapped into the room the others leave.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    right: Vec<usize>,
    width: Option<usize>,
}

impl Table {
    /// An empty `header` means no header line.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            right: Vec::new(),
            width: None,
        }
    }

    pub fn right_align(mut self, columns: &[usize]) -> Self {
        self.right = columns.to_vec();
        self
    }

    /// Keeps every line within `width` columns (`None`: no limit) by wrapping the last column.
    pub fn fit(mut self, width: Option<usize>) -> Self {
        self.width = width;
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        self.render_indented("")
    }

    pub fn render_indented(&self, indent: &str) -> String {
        let lines: Vec<&Vec<String>> =
            std::iter::once(&self.header).filter(|h| !h.is_empty()).chain(self.rows.iter()).collect();
        let columns = lines.iter().map(|l| l.len()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|i| lines.iter().filter_map(|l| l.get(i)).map(|c| display_width(c)).max().unwrap_or(0))
            .collect();
        let last = columns.saturating_sub(1);
        let before_last = display_width(indent) + widths[..last].iter().map(|w| w + 2).sum::<usize>();
        let mut out = String::new();
        let mut push = |line: String| {
            out.push_str(line.trim_end());
            out.push('\n');
        };
        let has_header = !self.header.is_empty();
        for (n, line) in lines.into_iter().enumerate() {
            // The header stays one line of labels.
            let is_header = has_header && n == 0;
            let Some(width) = self.width.filter(|_| !is_header && columns > 1 && line.len() == columns) else {
                push(self.cells(indent, line, &widths));
                continue;
            };
            let head = format!("{}  ", self.cells(indent, &line[..last], &widths));
            let room = width.saturating_sub(before_last);
            if room >= MIN_LAST_COLUMN {
                for (n, part) in wrap(&line[last], room).into_iter().enumerate() {
                    let lead = if n == 0 { head.clone() } else { " ".repeat(before_last) };
                    push(lead + &part);
                }
            } else {
                push(head);
                let under = format!("{indent}    ");
                for part in wrap(&line[last], width.saturating_sub(display_width(&under)).max(MIN_LAST_COLUMN)) {
                    push(format!("{under}{part}"));
                }
            }
        }
        out
    }

    /// `cells` padded to their columns' widths, after `indent`.
    fn cells(&self, indent: &str, cells: &[String], widths: &[usize]) -> String {
        let mut text = String::from(indent);
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = " ".repeat(widths[i] - display_width(cell));
            if self.right.contains(&i) {
                text.push_str(&pad);
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&pad);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_are_lower_snake_without_prefix() {
        assert_eq!(enum_name::<pb::CaseState>(pb::CaseState::InMediation as i32).as_deref(), Some("in_mediation"));
        assert_eq!(enum_name::<pb::Level>(pb::Level::Community as i32).as_deref(), Some("community"));
        assert_eq!(
            enum_name::<pb::Satisfaction>(pb::Satisfaction::BasicallySatisfied as i32).as_deref(),
            Some("basically_satisfied")
        );
        assert_eq!(enum_name::<pb::Channel>(pb::Channel::ResidentApp as i32).as_deref(), Some("resident_app"));
        assert_eq!(enum_name::<pb::Level>(0), None);
        assert_eq!(enum_name::<pb::Level>(42).as_deref(), Some("unknown_42"));
        assert_eq!(enum_json::<pb::Satisfaction>(0), Value::Null);
        assert_eq!(enum_text::<pb::Level>(0), "-");
    }

    #[test]
    fn enum_names_parse_back_in_either_spelling() {
        assert_eq!(enum_from_name::<pb::CaseState>("in-mediation"), Some(pb::CaseState::InMediation));
        assert_eq!(enum_from_name::<pb::CaseState>("in_mediation"), Some(pb::CaseState::InMediation));
        assert_eq!(enum_from_name::<pb::ReporterKind>("grid-worker"), Some(pb::ReporterKind::GridWorker));
        assert_eq!(enum_from_name::<pb::Level>("nowhere"), None);
    }

    #[test]
    fn roles_have_one_spelling() {
        assert_eq!(role_spelling("grid_worker"), "grid-worker");
        assert_eq!(parse_role(" grid-worker").unwrap(), "grid-worker");
        assert_eq!(role_json(pb::ParticipantRole::GridWorker as i32), json!("grid-worker"));
        assert_eq!(role_text(pb::ParticipantRole::PropertyCompany as i32), "property-company");
        assert_eq!((role_json(0), role_text(0)), (Value::Null, "-".to_string()));
    }

    #[test]
    fn dates_and_instants() {
        let t = parse_instant("2025-03-01T08:30:00+08:00").unwrap();
        assert_eq!(t.to_rfc3339_opts(SecondsFormat::AutoSi, true), "2025-03-01T00:30:00Z");
        assert!(parse_instant("yesterday").is_err());
        assert!(parse_instant("2025-03-01").is_err());
        let shanghai = clock::DEFAULT_ZONE;
        assert_eq!(parse_from("2025-03-01").unwrap().at(shanghai).to_rfc3339(), "2025-02-28T16:00:00+00:00");
        assert_eq!(parse_to("2025-03-31").unwrap().at(shanghai).to_rfc3339(), "2025-03-31T16:00:00+00:00");
        assert_eq!(parse_to("2025-03-31T12:00:00Z").unwrap().at(shanghai).to_rfc3339(), "2025-03-31T12:00:00+00:00");
        // New York: the day of 8 March 2026 starts in winter time and ends in summer time.
        let ny = parse_time_zone("America/New_York").unwrap();
        assert_eq!(parse_from("2026-03-08").unwrap().at(ny).to_rfc3339(), "2026-03-08T05:00:00+00:00");
        assert_eq!(parse_to("2026-03-08").unwrap().at(ny).to_rfc3339(), "2026-03-09T04:00:00+00:00");
        assert!(parse_time_zone("Beijing").unwrap_err().contains("IANA"));
        assert!(parse_from("2025-13-01").is_err());
    }

    #[test]
    fn timestamps_render_as_utc_rfc3339() {
        let ts = prost_types::Timestamp { seconds: 1_740_787_200, nanos: 0 };
        assert_eq!(rfc3339(Some(&ts)).as_deref(), Some("2025-03-01T00:00:00Z"));
        let ts = prost_types::Timestamp { seconds: 1_740_787_200, nanos: 500_000_000 };
        assert_eq!(rfc3339(Some(&ts)).as_deref(), Some("2025-03-01T00:00:00.500Z"));
        assert_eq!(time_json(None), Value::Null);
        let now = Utc::now();
        assert_eq!(rfc3339(Some(&time(now))), Some(now.to_rfc3339_opts(SecondsFormat::AutoSi, true)));
    }

    #[test]
    fn a_text_comes_inline_or_from_a_file_without_its_last_line_end() {
        assert_eq!(read_text(Some("楼道".into()), None, "description").unwrap(), "楼道");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.txt");
        std::fs::write(&path, "第一行\r\n第二行\n").unwrap();
        assert_eq!(read_text(None, Some(&path), "description").unwrap(), "第一行\r\n第二行");
        let missing = dir.path().join("missing.txt");
        let error = read_text(None, Some(&missing), "description").unwrap_err();
        assert!(format!("{error:#}").contains("cannot read the description from"), "{error:#}");
    }

    #[test]
    fn durations_are_human() {
        assert_eq!(duration_text(0), "-");
        assert_eq!(duration_text(1800), "30m");
        assert_eq!(duration_text(4 * 3600), "4h");
        assert_eq!(duration_text(86_400 + 2 * 3600), "1d 2h");
        assert_eq!(duration_text(7 * 86_400), "7d");
    }

    #[test]
    fn sla_ladders_share_their_unit() {
        let ladder = |slas: &[&str]| sla_ladder(&slas.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            ladder(&["2 working days", "3 working days", "5 working days", "7 working days"]),
            "2/3/5/7 working days"
        );
        assert_eq!(ladder(&["1 working day", "2 working days"]), "1/2 working days");
        assert_eq!(ladder(&["1 working day", "1 working day"]), "1/1 working days");
        assert_eq!(ladder(&["1 working day"]), "1 working day");
        assert_eq!(ladder(&["10 min", "15 min"]), "10/15 min");
        assert_eq!(ladder(&["4 hours", "8 hours", "1 day"]), "4 hours/8 hours/1 day");
        assert_eq!(ladder(&[]), "");
    }

    #[test]
    fn tables_align_chinese_by_display_width() {
        let mut t = Table::new(&["code", "name", "n"]).right_align(&[2]);
        t.row(vec!["A".into(), "占道经营".into(), "7".into()]);
        t.row(vec!["BB".into(), "noise".into(), "12".into()]);
        assert_eq!(t.render(), "code  name       n\nA     占道经营   7\nBB    noise     12\n");
        assert_eq!(display_width("网格a"), 5);
    }

    #[test]
    fn wrapping_breaks_after_spaces_and_commas_or_where_the_line_is_full() {
        assert_eq!(wrap("short", 10), ["short"]);
        assert_eq!(wrap("one two three four", 10), ["one two", "three four"]);
        assert_eq!(wrap(r#"{"a":1,"bb":2,"ccc":3}"#, 12), [r#"{"a":1,"#, r#""bb":2,"#, r#""ccc":3}"#]);
        assert_eq!(wrap("楼道堆放杂物堵塞消防通道", 8), ["楼道堆放", "杂物堵塞", "消防通道"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("line one\nline two", 20), ["line one", "line two"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("  indented, then  more", 12), ["  indented,", "then  more"]);
    }

    #[test]
    fn a_fitted_table_wraps_its_last_column_or_moves_it_under_the_row() {
        let payload = "a long payload that cannot fit on one line, not even on a wide one";
        let mut t = Table::new(&["v", "event", "payload"]).fit(Some(60));
        t.row(vec!["1".into(), "CaseOpened".into(), payload.into()]);
        let text = t.render_indented("  ");
        assert_eq!(
            text,
            "  v  event       payload\n  1  CaseOpened  a long payload that cannot fit on one line,\n                 not even on a wide one\n"
        );
        assert!(text.lines().all(|l| display_width(l) <= 60), "{text}");

        let mut narrow = Table::new(&["v", "event", "payload"]).fit(Some(50));
        narrow.row(vec!["1".into(), "CaseOpened".into(), payload.into()]);
        assert_eq!(
            narrow.render_indented("  "),
            "  v  event       payload\n  1  CaseOpened\n      a long payload that cannot fit on one line,\n      not even on a wide one\n"
        );

        let mut unlimited = Table::new(&[]).fit(None);
        unlimited.row(vec!["k".into(), "word ".repeat(30)]);
        assert_eq!(unlimited.render().lines().count(), 1);
    }

    #[test]
    fn truncation_respects_width() {
        assert_eq!(truncate("abcdef", 10), "abcdef");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("楼上漏水严重", 7), "楼上漏…");
        assert_eq!(truncate("a\nb", 5), "a b");
    }
}
