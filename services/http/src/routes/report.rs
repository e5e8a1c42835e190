//! `POST requests`: a city platform or the hotline reports on a resident's behalf. The form
//! becomes intake's `ReportCase`, sent with the caller's `api_key` as its bearer token, so the
//! gRPC edge verifies the key and applies the policy exactly as for any other caller.

use super::services::{SPECIAL_GROUP, SPECIAL_GROUPS, URGENT};
use super::AppState;
use crate::backend::with_bearer;
use crate::error::{ApiError, Caller};
use crate::format::Format;
use crate::key_claims::KeyClaims;
use crate::open311::RequestCreated;
use crate::reference::Reference;
use crate::words;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use gridloop_auth::api_keys;
use gridloop_domain::access::Role;
use gridloop_proto::v1 as pb;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// GeoReport's limit on a request's description.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

/// The largest form read: a description at its limit in percent-encoded Chinese (9 bytes a
/// character) with every other field, several times over.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// The form of `POST requests` (application/x-www-form-urlencoded).
#[derive(Debug, Default, Clone, ToSchema)]
pub struct NewRequest {
    /// An API key (`gridloop api-key create --role platform …`) or a bearer token of a hotline or
    /// platform principal (or send either as `Authorization: Bearer …`).
    pub api_key: String,
    pub jurisdiction_id: Option<String>,
    /// A category code (see `GET services`).
    pub service_code: String,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    /// Refused: no geocoder is configured; give lat and long.
    pub address_string: Option<String>,
    pub address_id: Option<String>,
    pub email: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// At most 4,000 characters.
    pub description: Option<String>,
    pub media_url: Option<String>,
    /// `attribute[code]`, and `attribute[code][]` for each value of a multivaluelist.
    pub attribute: BTreeMap<String, Vec<String>>,
}

impl NewRequest {
    /// The form's fields; an unknown field is ignored, as the specification's clients expect.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<NewRequest, ApiError> {
        let mut form = NewRequest::default();
        for (key, value) in pairs {
            let text = || (!value.trim().is_empty()).then(|| value.trim().to_string());
            match key.as_str() {
                "api_key" => form.api_key = value.trim().to_string(),
                "jurisdiction_id" => form.jurisdiction_id = text(),
                "service_code" => form.service_code = value.trim().to_string(),
                "lat" => form.lat = coordinate("lat", &value)?,
                "long" => form.long = coordinate("long", &value)?,
                "address_string" => form.address_string = text(),
                "address_id" => form.address_id = text(),
                "email" => form.email = text(),
                "device_id" => form.device_id = text(),
                "account_id" => form.account_id = text(),
                "first_name" => form.first_name = text(),
                "last_name" => form.last_name = text(),
                "phone" => form.phone = text(),
                "description" => form.description = text(),
                "media_url" => form.media_url = text(),
                _ => {
                    if let Some(code) = attribute_code(&key) {
                        form.attribute.entry(code.to_string()).or_default().push(value.trim().to_string());
                    }
                }
            }
        }
        Ok(form)
    }

    /// Intake's report for this form, or the first thing wrong with it.
    pub fn report(&self, reference: &Reference, role: Role) -> Result<pb::ReportCaseRequest, ApiError> {
        reference.check_jurisdiction(self.jurisdiction_id.as_deref())?;
        let bad = |text: String| Err(ApiError::BadRequest(text));
        if self.service_code.is_empty() {
            return bad("service_code is required (see GET services)".into());
        }
        let Some(category) = reference.category(&self.service_code) else {
            return bad(format!("service_code {:?} is not a service (see GET services)", self.service_code));
        };
        let location = match (self.lat, self.long) {
            (Some(lat), Some(lon)) => pb::GeoPoint::wgs84(lat, lon),
            (None, None) if self.address_string.is_some() || self.address_id.is_some() => {
                return bad("no geocoder configured: give the location as lat and long".into())
            }
            (None, None) => return bad("lat and long are required".into()),
            _ => return bad("lat and long go together: give both".into()),
        };
        let description = self.description.clone().unwrap_or_else(|| category.name.clone());
        let length = description.chars().count();
        if length > MAX_DESCRIPTION_CHARS {
            return bad(format!("description is {length} characters; at most {MAX_DESCRIPTION_CHARS} are allowed"));
        }
        let (urgent, special_groups) = self.attributes()?;
        let name = [&self.first_name, &self.last_name].into_iter().flatten().cloned().collect::<Vec<_>>().join(" ");
        let id = [&self.account_id, &self.device_id, &self.email].into_iter().flatten().next().cloned();
        let channel = if role == Role::Hotline { pb::Channel::Hotline } else { pb::Channel::Platform };
        Ok(pb::ReportCaseRequest {
            // GeoReport has no idempotency key: every POST is a new report (a repeat of the same
            // matter nearby is linked to the open case by intake's duplicate check).
            client_key: format!("open311-{}", uuid::Uuid::now_v7()),
            category_code: category.code.clone(),
            location: Some(location),
            description,
            reporter: Some(pb::Reporter {
                kind: pb::ReporterKind::Resident.into(),
                id: id.unwrap_or_default(),
                name,
                phone: self.phone.clone().unwrap_or_default(),
                sealed: None,
            }),
            channel: channel.into(),
            discovered_at: None,
            urgent,
            special_groups: special_groups.into_iter().map(Into::into).collect(),
            media_url: self.media_url.clone().unwrap_or_default(),
        })
    }

    fn attributes(&self) -> Result<(bool, Vec<pb::SpecialGroup>), ApiError> {
        let mut urgent = false;
        let mut groups = Vec::new();
        for (code, values) in &self.attribute {
            match code.as_str() {
                URGENT => {
                    urgent = match values.last().map(String::as_str) {
                        Some("true") => true,
                        Some("false") | None => false,
                        Some(other) => {
                            return Err(ApiError::BadRequest(format!(
                                "attribute[urgent] is true or false, not {other:?}"
                            )))
                        }
                    }
                }
                SPECIAL_GROUP => {
                    for value in values {
                        let group = SPECIAL_GROUPS.iter().find(|(key, _, _)| key == value).ok_or_else(|| {
                            let keys: Vec<&str> = SPECIAL_GROUPS.iter().map(|(key, _, _)| *key).collect();
                            ApiError::BadRequest(format!(
                                "attribute[special_group]: {value:?} is not one of {}",
                                keys.join(", ")
                            ))
                        })?;
                        groups.push(group.2);
                    }
                }
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "attribute[{other}] is not an attribute of this service (see GET services/{}.json)",
                        self.service_code
                    )))
                }
            }
        }
        Ok((urgent, groups))
    }
}

/// `attribute[code]` or `attribute[code][]` → `code`.
fn attribute_code(key: &str) -> Option<&str> {
    let inner = key.strip_prefix("attribute[")?;
    let inner = inner.strip_suffix("[]").unwrap_or(inner);
    inner.strip_suffix(']').filter(|code| !code.is_empty() && !code.contains(['[', ']']))
}

fn coordinate(field: &str, value: &str) -> Result<Option<f64>, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<f64>() {
        Ok(number) if number.is_finite() => Ok(Some(number)),
        _ => Err(ApiError::BadRequest(format!("{field} must be a number in decimal degrees, not {value:?}"))),
    }
}

/// The role the key names, when it is one that may report through GeoReport: an API key's own,
/// or a token's claims. Read here only to choose: the key itself is verified by the gRPC edge
/// the report is sent to.
pub fn reporting_role(api_key: &str, key_claims: &KeyClaims) -> Result<Role, ApiError> {
    if api_key.is_empty() {
        return Err(ApiError::Forbidden("api_key is required".into()));
    }
    let invalid = || ApiError::Forbidden("api_key is not a valid key".into());
    let role = if api_keys::is_api_key(api_key) {
        // An integrator's API key names its role in the clear (the whole key is what is verified).
        api_keys::role_of(api_key).ok_or_else(invalid)?
    } else {
        key_claims.principal(api_key).ok_or_else(invalid)?.role
    };
    match role {
        Role::Hotline | Role::Platform => Ok(role),
        other => Err(ApiError::Forbidden(format!(
            "api_key belongs to a {other}: only hotline and platform keys may post requests"
        ))),
    }
}

/// Create a request.
#[utoipa::path(
    post, path = "/open311/v2/requests.{format}", tag = "open311", operation_id = "post_service_request",
    params(("format" = String, Path, description = "json or xml")),
    request_body(content = NewRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "the request created (or the open one it was linked to): its id, or a token \
                                        when dispatch had not opened it within 2 s", body = [RequestCreated]),
        (status = 400, description = "a field is missing or invalid", body = [crate::open311::SpecError]),
        (status = 403, description = "api_key missing, invalid, or not a hotline or platform key", body = [crate::open311::SpecError]),
    )
)]
pub async fn post(
    format: Format,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let created = match body {
        Ok(body) => create(&state, &headers, &body).await,
        Err(rejection) => Err(unread(&rejection)),
    };
    format.respond(created.map(|created| format.list("service_requests", "request", &[created])))
}

/// Why a body was not read, in the specification's error form.
fn unread(rejection: &BytesRejection) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(format!("the form is over {MAX_FORM_BYTES} bytes"))
    } else {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// Whether every name and value of a form is UTF-8 once percent-decoded. The form parser would
/// replace anything else with U+FFFD, silently changing what the reporter wrote.
fn form_is_utf8(body: &[u8]) -> bool {
    body.split(|&byte| byte == b'&')
        .flat_map(|pair| pair.splitn(2, |&byte| byte == b'='))
        .all(|part| std::str::from_utf8(&percent_decoded(part)).is_ok())
}

fn percent_decoded(part: &[u8]) -> Vec<u8> {
    let hex = |byte: Option<&u8>| byte.and_then(|&b| char::from(b).to_digit(16));
    let mut decoded = Vec::with_capacity(part.len());
    let mut i = 0;
    while i < part.len() {
        match (part[i], hex(part.get(i + 1)), hex(part.get(i + 2))) {
            (b'%', Some(high), Some(low)) => {
                decoded.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    decoded
}

async fn create(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<RequestCreated, ApiError> {
    if !form_is_utf8(body) {
        return Err(ApiError::BadRequest("the form is not UTF-8 (percent-encode UTF-8 text)".into()));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|error| {
        ApiError::BadRequest(format!("the body is not a form (application/x-www-form-urlencoded): {error}"))
    })?;
    let mut form = NewRequest::from_pairs(pairs)?;
    if form.api_key.is_empty() {
        // The key may come as a bearer token instead, as on every other gridloop API.
        let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        form.api_key = bearer.and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default().trim().to_string();
    }
    let role = reporting_role(&form.api_key, &state.key_claims)?;
    let reference = state.reference.get(&state.backend).await?;
    let report = form.report(reference, role)?;
    let request =
        with_bearer(report, &form.api_key).map_err(|_| ApiError::Forbidden("api_key is not a valid key".into()))?;
    let created = state
        .backend
        .intake()
        .report_case(request)
        .await
        .map_err(|status| ApiError::from_status(&status, Caller::Client))?
        .into_inner();
    let category = reference.category(&created.category_code).ok_or(ApiError::Internal)?;
    let mut notice = words::service_notice(category, category.start_level());
    if created.linked {
        notice = format!("linked to the open request {}: {}; {notice}", created.case_id, created.linked_reason);
    }
    let open = is_open_in_dispatch(state, &created.case_id, created.case_version).await?;
    let (service_request_id, token) = if open { (Some(created.case_id), None) } else { (None, Some(created.case_id)) };
    Ok(RequestCreated { service_request_id, token, service_notice: notice, account_id: form.account_id })
}

/// How long a POST waits for dispatch to open the case before answering with a token instead of
/// the id: long enough for the usual hand-off between services, short enough for a form post.
const OPEN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether dispatch has the case open, waiting up to [`OPEN_WAIT`] for the report's consistency
/// token, so that an id handed out can be read straight away with `GET requests/{id}`.
async fn is_open_in_dispatch(state: &AppState, case_id: &str, case_version: u64) -> Result<bool, ApiError> {
    let read = pb::GetCaseRequest { case_id: case_id.to_string(), min_version: case_version };
    let request = state.backend.as_service(read).map_err(ApiError::internal)?;
    match tokio::time::timeout(OPEN_WAIT, state.backend.dispatch().get_case(request)).await {
        Ok(Ok(_)) => Ok(true),
        // Dispatch is behind (its own wait ran out) or the wait here did: the token stands in.
        Ok(Err(status)) if status.code() == tonic::Code::Unavailable => Ok(false),
        Err(_elapsed) => Ok(false),
        Ok(Err(status)) => Err(ApiError::from_status(&status, Caller::Service)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    #[test]
    fn a_form_is_utf8_only_when_every_percent_decoded_part_is() {
        assert!(form_is_utf8(b"description=%E6%A5%BC%E9%81%93+a&lat=32.4&x=%zz%"));
        assert!(form_is_utf8("description=楼道".as_bytes()));
        assert!(!form_is_utf8(b"description=%FF%FE"));
        assert!(!form_is_utf8(b"a=1&%C3=2"));
        assert!(!form_is_utf8(b"description=\xff"));
        assert!(!form_is_utf8(&[b'a', b'=', 0xff]));
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn attributes_single_and_multi_valued_are_read() {
        let form = NewRequest::from_pairs(pairs(&[
            ("attribute[urgent]", "true"),
            ("attribute[special_group][]", "disabled"),
            ("attribute[special_group][]", "hardship"),
            ("attribute[]", "ignored"),
        ]))
        .unwrap();
        assert_eq!(form.attribute["special_group"], ["disabled", "hardship"]);
        let (urgent, groups) = form.attributes().unwrap();
        assert!(urgent);
        assert_eq!(groups, [pb::SpecialGroup::Disabled, pb::SpecialGroup::Hardship]);
        let unknown = NewRequest::from_pairs(pairs(&[("attribute[colour]", "red")])).unwrap();
        assert!(matches!(unknown.attributes(), Err(ApiError::BadRequest(text)) if text.contains("colour")));
    }

    #[test]
    fn a_coordinate_that_is_not_a_number_is_refused_by_name() {
        let error = NewRequest::from_pairs(pairs(&[("lat", "north")])).unwrap_err();
        assert_eq!(error, ApiError::BadRequest("lat must be a number in decimal degrees, not \"north\"".into()));
    }

    #[test]
    fn only_hotline_and_platform_keys_may_post() {
        let key = |claims: serde_json::Value| format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let platform = key(serde_json::json!({"sub": "fix-my-street", "role": "platform"}));
        let own = KeyClaims::default();
        assert_eq!(reporting_role(&platform, &own), Ok(Role::Platform));
        let resident = key(serde_json::json!({"sub": "zhang", "role": "resident"}));
        assert!(matches!(reporting_role(&resident, &own), Err(ApiError::Forbidden(text)) if text.contains("resident")));
        assert_eq!(reporting_role("", &own), Err(ApiError::Forbidden("api_key is required".into())));
        assert_eq!(reporting_role("garbage", &own), Err(ApiError::Forbidden("api_key is not a valid key".into())));
        let platform_key = gridloop_auth::api_keys::generate(Role::Platform).key;
        assert_eq!(reporting_role(&platform_key, &own), Ok(Role::Platform), "an API key names its role");
        let supervisor_key = gridloop_auth::api_keys::generate(Role::Supervisor).key;
        let refused = reporting_role(&supervisor_key, &own);
        assert!(matches!(refused, Err(ApiError::Forbidden(text)) if text.contains("supervisor")));

        // An identity provider's key, as the servers' flags map its claims.
        let keycloak = key(serde_json::json!({
            "sub": "f:1234", "realm_access": {"roles": ["offline_access", "gridloop-platform"]}
        }));
        assert_eq!(reporting_role(&keycloak, &own), Err(ApiError::Forbidden("api_key is not a valid key".into())));
        let auth = gridloop_auth::AuthArgs {
            oidc_issuer: Some("https://sso.city.example/realms/city".into()),
            jwt_role_claim: "realm_access.roles".into(),
            jwt_role_map: vec![("gridloop-platform".into(), Role::Platform)],
            ..gridloop_auth::AuthArgs::default()
        };
        assert_eq!(reporting_role(&keycloak, &KeyClaims::from_auth_args(&auth)), Ok(Role::Platform));
    }
}
