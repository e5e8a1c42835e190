//! The contract's error statuses: precise gRPC codes with their details (never everything →
//! INTERNAL). `INVALID_ARGUMENT` carries a `BadRequest` with a violation per bad field,
//! `FAILED_PRECONDITION` a `PreconditionFailure` naming the state that forbids the step.

use gridloop_domain::jurisdiction::AreaCode;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use uuid::Uuid;

/// Collects field violations so a request reports every bad field at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    pub fn check(&mut self, ok: bool, field: &str, description: &str) {
        if !ok {
            self.add(field, description);
        }
    }

    /// A required jurisdiction code field: the code, or its violation recorded.
    pub fn area(&mut self, field: &str, value: &str) -> Option<AreaCode> {
        if value.trim().is_empty() {
            self.add(field, "required");
            return None;
        }
        AreaCode::new(value).map_err(|e| self.add(field, e.to_string())).ok()
    }

    /// A required UUID field: the UUID, or its violation recorded (the field named once, by
    /// the violation).
    pub fn uuid(&mut self, field: &str, value: &str) -> Option<Uuid> {
        if value.trim().is_empty() {
            self.add(field, "required");
            return None;
        }
        Uuid::parse_str(value).map_err(|_| self.add(field, format!("{value:?} is not a UUID"))).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when no field is bad, else INVALID_ARGUMENT with a `BadRequest` detail per field.
    pub fn into_result(self) -> Result<(), Status> {
        if self.0.is_empty() {
            return Ok(());
        }
        let message = self.0.iter().map(|(f, d)| format!("{f}: {d}")).collect::<Vec<_>>().join("; ");
        let mut details = ErrorDetails::new();
        for (field, description) in self.0 {
            details.add_bad_request_violation(field, description);
        }
        Err(Status::with_error_details(Code::InvalidArgument, message, details))
    }
}

pub fn invalid_argument(field: &str, description: impl Into<String>) -> Status {
    let mut v = Violations::default();
    v.add(field, description);
    v.into_result().expect_err("one violation")
}

/// A transition the state forbids: FAILED_PRECONDITION with a `PreconditionFailure` detail.
pub fn failed_precondition(subject: &str, kind: &str, description: impl Into<String>) -> Status {
    let description = description.into();
    let details = ErrorDetails::with_precondition_failure_violation(kind, subject, description.clone());
    Status::with_error_details(Code::FailedPrecondition, description, details)
}

/// The service has not caught up with something the request waits for (a version a client's
/// earlier write returned): UNAVAILABLE with a `RetryInfo` detail saying when to try again.
pub fn unavailable_retry(message: impl Into<String>, retry_after: std::time::Duration) -> Status {
    let details = ErrorDetails::with_retry_info(Some(retry_after));
    Status::with_error_details(Code::Unavailable, message, details)
}

/// An optional jurisdiction code field (an area filter): none when empty, else a valid code.
pub fn optional_area(field: &str, value: &str) -> Result<Option<AreaCode>, Status> {
    if value.is_empty() {
        return Ok(None);
    }
    AreaCode::new(value).map(Some).map_err(|e| invalid_argument(field, e.to_string()))
}

pub fn parse_uuid(field: &str, value: &str) -> Result<Uuid, Status> {
    let mut v = Violations::default();
    let uuid = v.uuid(field, value);
    v.into_result()?;
    Ok(uuid.expect("a UUID when there is no violation"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_field_is_a_violation_of_one_invalid_argument() {
        let mut v = Violations::default();
        v.check(true, "fine", "never reported");
        v.add("a", "required");
        v.add("b", "too long");
        let status = v.into_result().unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let violations = status.get_details_bad_request().unwrap().field_violations;
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["a", "b"]);
        assert_eq!(parse_uuid("id", " ").unwrap_err().message(), "id: required");
    }

    #[test]
    fn a_bad_uuid_names_its_field_once() {
        let mut v = Violations::default();
        assert_eq!(v.uuid("case_id", "x"), None);
        v.check(false, "satisfaction", "required");
        let status = v.into_result().unwrap_err();
        assert_eq!(status.message(), "case_id: \"x\" is not a UUID; satisfaction: required");
        let violations = status.get_details_bad_request().unwrap().field_violations;
        assert_eq!(violations[0].description, "\"x\" is not a UUID");
        assert_eq!(parse_uuid("case_id", "x").unwrap_err().message(), "case_id: \"x\" is not a UUID");
    }

    #[test]
    fn a_service_behind_says_when_to_retry() {
        let status = unavailable_retry("catching up", std::time::Duration::from_secs(1));
        assert_eq!(status.code(), Code::Unavailable);
        let retry = status.get_details_retry_info().expect("a RetryInfo detail");
        assert_eq!(retry.retry_delay, Some(std::time::Duration::from_secs(1)));
    }

    #[test]
    fn an_area_is_a_jurisdiction_code() {
        assert_eq!(optional_area("area", "").unwrap(), None);
        assert_eq!(optional_area("area", "321012001").unwrap().unwrap().as_str(), "321012001");
        let bad = optional_area("area", "12x").unwrap_err();
        assert_eq!(bad.code(), Code::InvalidArgument);
        assert!(bad.message().starts_with("area: "), "{}", bad.message());
        let mut v = Violations::default();
        assert_eq!(v.area("area_code", ""), None);
        assert_eq!(v.area("area_code", "3210"), None);
        assert!(v.area("area_code", "321012001001001").is_some());
        let fields: Vec<String> = v.0.into_iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["area_code", "area_code"]);
    }
}
