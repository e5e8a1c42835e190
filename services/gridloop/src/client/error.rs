//! How a client command fails: a call the server refused, or a server that cannot be reached.
//! For people the error is a message on stderr; under `--json` it is also one JSON document on
//! stdout, so a script reads the gRPC code and every detail the service attached (the fields it
//! refused, the precondition that failed) without parsing the message.

use super::rpc::describe_status;
use serde_json::{json, Value};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// A gRPC call the server answered with an error.
#[derive(Debug, thiserror::Error)]
#[error("{rpc}: {}", describe_status(status, url))]
pub struct CallError {
    pub rpc: &'static str,
    /// The server it went to, for the message.
    pub url: String,
    pub status: Status,
}

/// No connection to the server at all.
#[derive(Debug, thiserror::Error)]
#[error("the gridloop server at {url} is not reachable ({reason}); start it with `gridloop up`")]
pub struct Unreachable {
    pub url: String,
    pub reason: String,
}

/// The JSON document of a failed command:
/// `{"error": {"code", "message", "rpc", "details": {"field_violations", "precondition_failures",
/// "retry_delay_seconds"}}}`. `code` is the gRPC status code in lower snake case
/// (`invalid_argument`, `failed_precondition`, `unavailable` for an unreachable server), or null
/// for an error of the CLI itself (a file it cannot read); `message` is the server's message.
pub fn error_json(error: &anyhow::Error) -> Value {
    let call = error.chain().find_map(|cause| cause.downcast_ref::<CallError>());
    let unreachable = error.chain().find_map(|cause| cause.downcast_ref::<Unreachable>());
    let body = match (call, unreachable) {
        (Some(call), _) => json!({
            "code": code_name(call.status.code()),
            "message": call.status.message(),
            "rpc": call.rpc,
            "details": details_json(&call.status.get_error_details()),
        }),
        (None, Some(unreachable)) => json!({
            "code": code_name(Code::Unavailable),
            "message": unreachable.to_string(),
            "rpc": null,
            "details": details_json(&ErrorDetails::new()),
        }),
        (None, None) => json!({
            "code": null,
            "message": format!("{error:#}"),
            "rpc": null,
            "details": details_json(&ErrorDetails::new()),
        }),
    };
    json!({ "error": body })
}

/// The rich error details (google.rpc) the services attach, decoded.
fn details_json(details: &ErrorDetails) -> Value {
    let field_violations: Vec<Value> = details
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| json!({ "field": v.field, "description": v.description })).collect())
        .unwrap_or_default();
    let precondition_failures: Vec<Value> = details
        .precondition_failure()
        .map(|p| {
            p.violations
                .iter()
                .map(|v| json!({ "type": v.r#type, "subject": v.subject, "description": v.description }))
                .collect()
        })
        .unwrap_or_default();
    let retry_delay = details.retry_info().and_then(|r| r.retry_delay).map(|d| d.as_secs_f64());
    json!({
        "field_violations": field_violations,
        "precondition_failures": precondition_failures,
        "retry_delay_seconds": retry_delay,
    })
}

/// `InvalidArgument` → `invalid_argument`: the code's name as the CLI spells enum values.
fn code_name(code: Code) -> String {
    let mut name = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(status: Status) -> anyhow::Error {
        CallError { rpc: "ReportCase", url: "http://x".into(), status }.into()
    }

    #[test]
    fn a_refused_call_carries_its_code_message_and_field_violations() {
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation("location.lat", "must be within -90..=90");
        details.add_bad_request_violation("category_code", "unknown category \"X\"");
        let error = call(Status::with_error_details(Code::InvalidArgument, "two bad fields", details));
        assert_eq!(
            error_json(&error),
            json!({ "error": {
                "code": "invalid_argument",
                "message": "two bad fields",
                "rpc": "ReportCase",
                "details": {
                    "field_violations": [
                        { "field": "location.lat", "description": "must be within -90..=90" },
                        { "field": "category_code", "description": "unknown category \"X\"" },
                    ],
                    "precondition_failures": [],
                    "retry_delay_seconds": null,
                },
            }})
        );
        // The message for people is unchanged.
        assert!(error.to_string().starts_with("ReportCase: invalid request:\n  location.lat"), "{error}");
    }

    #[test]
    fn a_refusal_in_the_current_state_carries_its_precondition() {
        let details = ErrorDetails::with_precondition_failure_violation("STATE_CLOSED", "case", "case is closed");
        let error = call(Status::with_error_details(Code::FailedPrecondition, "case is closed", details))
            .context("while resolving");
        let value = error_json(&error);
        assert_eq!(value["error"]["code"], "failed_precondition");
        assert_eq!(
            value["error"]["details"]["precondition_failures"],
            json!([{ "type": "STATE_CLOSED", "subject": "case", "description": "case is closed" }])
        );
    }

    #[test]
    fn a_retry_hint_is_kept() {
        let details = ErrorDetails::with_retry_info(Some(std::time::Duration::from_millis(1500)));
        let value = error_json(&call(Status::with_error_details(Code::Unavailable, "catching up", details)));
        assert_eq!(
            (&value["error"]["code"], &value["error"]["details"]["retry_delay_seconds"]),
            (&json!("unavailable"), &json!(1.5))
        );
    }

    #[test]
    fn an_unreachable_server_is_unavailable_and_a_local_error_has_no_code() {
        let error = anyhow::Error::new(Unreachable { url: "http://127.0.0.1:1".into(), reason: "refused".into() });
        let value = error_json(&error);
        assert_eq!(value["error"]["code"], "unavailable");
        assert!(value["error"]["message"].as_str().unwrap().contains("http://127.0.0.1:1 is not reachable"));
        let value = error_json(&anyhow::anyhow!("cannot read notes.txt"));
        assert_eq!(
            (&value["error"]["code"], &value["error"]["message"]),
            (&Value::Null, &json!("cannot read notes.txt"))
        );
    }

    #[test]
    fn code_names_are_lower_snake() {
        assert_eq!(code_name(Code::Ok), "ok");
        assert_eq!(code_name(Code::NotFound), "not_found");
        assert_eq!(code_name(Code::DeadlineExceeded), "deadline_exceeded");
    }
}
