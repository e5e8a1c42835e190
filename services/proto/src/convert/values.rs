//! Plain values shared by many messages: times, levels, satisfaction, channels, reporters,
//! special groups, departments and map datums.

use crate::v1 as pb;
use chrono::{DateTime, Utc};
use gridloop_domain::case::{Channel, OnTimeVerdict, Reporter, ReporterKind, Satisfaction, SummonedDepartment};
use gridloop_domain::datum::Datum;
use gridloop_domain::jurisdiction::Department;
use gridloop_domain::level::Level;
use gridloop_domain::personal::{Disclosure, SealedContact};
use gridloop_domain::priority::SpecialGroup;

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

/// The first and last second a `google.protobuf.Timestamp` may hold: 0001-01-01T00:00:00Z and
/// 9999-12-31T23:59:59Z.
const TIMESTAMP_SECONDS: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

/// The time a Timestamp holds, or `None` when it holds none: seconds outside the range the
/// protobuf documents, or nanos outside 0..1e9 (which chrono would read as a leap second).
pub fn from_timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(t.nanos).ok().filter(|n| *n < 1_000_000_000)?;
    if !TIMESTAMP_SECONDS.contains(&t.seconds) {
        return None;
    }
    DateTime::from_timestamp(t.seconds, nanos)
}

pub fn level(l: Level) -> pb::Level {
    match l {
        Level::Grid => pb::Level::Grid,
        Level::Community => pb::Level::Community,
        Level::Street => pb::Level::Street,
        Level::District => pb::Level::District,
    }
}

pub fn from_level(l: pb::Level) -> Option<Level> {
    match l {
        pb::Level::Unspecified => None,
        pb::Level::Grid => Some(Level::Grid),
        pb::Level::Community => Some(Level::Community),
        pb::Level::Street => Some(Level::Street),
        pb::Level::District => Some(Level::District),
    }
}

pub fn satisfaction(s: Satisfaction) -> pb::Satisfaction {
    match s {
        Satisfaction::Satisfied => pb::Satisfaction::Satisfied,
        Satisfaction::BasicallySatisfied => pb::Satisfaction::BasicallySatisfied,
        Satisfaction::Unsatisfied => pb::Satisfaction::Unsatisfied,
    }
}

pub fn on_time_verdict(v: OnTimeVerdict) -> pb::OnTimeVerdict {
    match v {
        OnTimeVerdict::ByDeadline => pb::OnTimeVerdict::Unspecified,
        OnTimeVerdict::OnTime => pb::OnTimeVerdict::OnTime,
        OnTimeVerdict::Late => pb::OnTimeVerdict::Late,
        OnTimeVerdict::Unknown => pb::OnTimeVerdict::Unknown,
    }
}

pub fn from_on_time_verdict(v: pb::OnTimeVerdict) -> OnTimeVerdict {
    match v {
        pb::OnTimeVerdict::Unspecified => OnTimeVerdict::ByDeadline,
        pb::OnTimeVerdict::OnTime => OnTimeVerdict::OnTime,
        pb::OnTimeVerdict::Late => OnTimeVerdict::Late,
        pb::OnTimeVerdict::Unknown => OnTimeVerdict::Unknown,
    }
}

pub fn from_satisfaction(s: pb::Satisfaction) -> Option<Satisfaction> {
    match s {
        pb::Satisfaction::Unspecified => None,
        pb::Satisfaction::Satisfied => Some(Satisfaction::Satisfied),
        pb::Satisfaction::BasicallySatisfied => Some(Satisfaction::BasicallySatisfied),
        pb::Satisfaction::Unsatisfied => Some(Satisfaction::Unsatisfied),
    }
}

pub fn channel(c: Channel) -> pb::Channel {
    match c {
        Channel::Patrol => pb::Channel::Patrol,
        Channel::ResidentApp => pb::Channel::ResidentApp,
        Channel::Hotline => pb::Channel::Hotline,
        Channel::SuggestionBox => pb::Channel::SuggestionBox,
        Channel::WalkIn => pb::Channel::WalkIn,
        Channel::Platform => pb::Channel::Platform,
    }
}

pub fn from_channel(c: pb::Channel) -> Option<Channel> {
    match c {
        pb::Channel::Unspecified => None,
        pb::Channel::Patrol => Some(Channel::Patrol),
        pb::Channel::ResidentApp => Some(Channel::ResidentApp),
        pb::Channel::Hotline => Some(Channel::Hotline),
        pb::Channel::SuggestionBox => Some(Channel::SuggestionBox),
        pb::Channel::WalkIn => Some(Channel::WalkIn),
        pb::Channel::Platform => Some(Channel::Platform),
    }
}

pub fn reporter(r: &Reporter) -> pb::Reporter {
    let kind = match r.kind {
        ReporterKind::Resident => pb::ReporterKind::Resident,
        ReporterKind::GridWorker => pb::ReporterKind::GridWorker,
        ReporterKind::Platform => pb::ReporterKind::Platform,
    };
    pb::Reporter {
        kind: kind as i32,
        id: r.id.clone(),
        name: r.name.clone(),
        phone: r.phone.clone(),
        sealed: r.sealed.as_ref().map(sealed_contact),
    }
}

pub fn from_reporter(r: &pb::Reporter) -> Option<Reporter> {
    let kind = match r.kind() {
        pb::ReporterKind::Unspecified => return None,
        pb::ReporterKind::Resident => ReporterKind::Resident,
        pb::ReporterKind::GridWorker => ReporterKind::GridWorker,
        pb::ReporterKind::Platform => ReporterKind::Platform,
    };
    Some(Reporter {
        kind,
        id: r.id.clone(),
        name: r.name.clone(),
        phone: r.phone.clone(),
        sealed: r.sealed.as_ref().map(from_sealed_contact),
    })
}

pub fn sealed_contact(s: &SealedContact) -> pb::SealedContact {
    pb::SealedContact {
        key_ref: s.key_ref.clone(),
        blind_index: s.blind_index.clone(),
        id: s.id.clone(),
        name: s.name.clone(),
        phone: s.phone.clone(),
    }
}

pub fn from_sealed_contact(s: &pb::SealedContact) -> SealedContact {
    SealedContact {
        key_ref: s.key_ref.clone(),
        blind_index: s.blind_index.clone(),
        id: s.id.clone(),
        name: s.name.clone(),
        phone: s.phone.clone(),
    }
}

/// A view's disclosure of the reporter's contact.
pub fn reporter_contact(d: &Disclosure) -> pb::ReporterContact {
    let disclosure = match d {
        Disclosure::Full(_) => pb::ContactDisclosure::Full,
        Disclosure::Masked(_) => pb::ContactDisclosure::Masked,
        Disclosure::Withheld => pb::ContactDisclosure::Withheld,
        Disclosure::Erased => pb::ContactDisclosure::Erased,
        Disclosure::Anonymous => pb::ContactDisclosure::Anonymous,
    };
    let contact = d.contact();
    pb::ReporterContact { disclosure: disclosure as i32, id: contact.id, name: contact.name, phone: contact.phone }
}

pub fn special_group(g: SpecialGroup) -> pb::SpecialGroup {
    match g {
        SpecialGroup::ElderlyLivingAlone => pb::SpecialGroup::ElderlyLivingAlone,
        SpecialGroup::Disabled => pb::SpecialGroup::Disabled,
        SpecialGroup::LeftBehindChild => pb::SpecialGroup::LeftBehindChild,
        SpecialGroup::Hardship => pb::SpecialGroup::Hardship,
    }
}

pub fn from_special_group(g: pb::SpecialGroup) -> Option<SpecialGroup> {
    match g {
        pb::SpecialGroup::Unspecified => None,
        pb::SpecialGroup::ElderlyLivingAlone => Some(SpecialGroup::ElderlyLivingAlone),
        pb::SpecialGroup::Disabled => Some(SpecialGroup::Disabled),
        pb::SpecialGroup::LeftBehindChild => Some(SpecialGroup::LeftBehindChild),
        pb::SpecialGroup::Hardship => Some(SpecialGroup::Hardship),
    }
}

/// Special groups as protobuf enum values.
pub fn special_groups(groups: &[SpecialGroup]) -> Vec<i32> {
    groups.iter().map(|g| special_group(*g) as i32).collect()
}

/// Special groups from protobuf enum values, or the first value that names none.
pub fn from_special_groups(raw: &[i32]) -> Result<Vec<SpecialGroup>, i32> {
    raw.iter().map(|&v| pb::SpecialGroup::try_from(v).ok().and_then(from_special_group).ok_or(v)).collect()
}

pub fn summoned_department(d: &SummonedDepartment) -> pb::SummonedDepartment {
    pb::SummonedDepartment {
        unit_code: d.unit.clone(),
        department_code: d.department.code.clone(),
        department_name: d.department.name.clone(),
    }
}

pub(super) fn from_summoned_department(d: pb::SummonedDepartment) -> SummonedDepartment {
    SummonedDepartment {
        unit: d.unit_code,
        department: Department { code: d.department_code, name: d.department_name },
    }
}

/// The function code of an assignment's department, empty for none.
pub fn department_code(department: &Option<Department>) -> String {
    department.as_ref().map(|d| d.code.clone()).unwrap_or_default()
}

/// The name of an assignment's department, empty for none.
pub fn department_name(department: &Option<Department>) -> String {
    department.as_ref().map(|d| d.name.clone()).unwrap_or_default()
}

/// The department carried by an event's `department_code`/`department_name` (none when empty).
pub(super) fn department_from(code: String, name: String) -> Option<Department> {
    (!code.is_empty()).then_some(Department { code, name })
}

impl pb::GeoPoint {
    /// A point in WGS 84: every point gridloop returns or records as a location.
    pub fn wgs84(lat: f64, lon: f64) -> Self {
        Self { lat, lon, datum: pb::Datum::Wgs84 as i32 }
    }
}

/// The domain datum of a point's wire datum (unspecified = WGS 84).
pub fn from_datum(d: pb::Datum) -> Datum {
    match d {
        pb::Datum::Unspecified | pb::Datum::Wgs84 => Datum::Wgs84,
        pb::Datum::Gcj02 => Datum::Gcj02,
        pb::Datum::Bd09 => Datum::Bd09,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_special_group_is_named() {
        assert_eq!(from_special_groups(&[1, 2]), Ok(vec![SpecialGroup::ElderlyLivingAlone, SpecialGroup::Disabled]));
        assert_eq!(from_special_groups(&[1, 0]), Err(0));
        assert_eq!(from_special_groups(&[99]), Err(99));
    }

    #[test]
    fn a_timestamp_outside_the_protobuf_range_or_with_bad_nanos_holds_no_time() {
        let at = |seconds, nanos| from_timestamp(&prost_types::Timestamp { seconds, nanos });
        assert_eq!(at(-62_135_596_800, 0).unwrap().to_rfc3339(), "0001-01-01T00:00:00+00:00");
        assert_eq!(at(253_402_300_799, 999_999_999).unwrap().timestamp(), 253_402_300_799);
        for (seconds, nanos) in
            [(-62_135_596_801, 0), (253_402_300_800, 0), (i64::MIN, 0), (i64::MAX, 0), (0, -1), (0, 1_000_000_000)]
        {
            assert_eq!(at(seconds, nanos), None, "{seconds} s {nanos} ns");
        }
        let now = chrono::Utc::now();
        assert_eq!(from_timestamp(&timestamp(now)), Some(now));
    }
}
