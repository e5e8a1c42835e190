//! The documents of GeoReport v2 (http://wiki.open311.org/GeoReport_v2), field for field. Where
//! the XML nests a list in a wrapper element (`<endpoints><endpoint>`), an `…Xml` twin carries it.

use serde::Serialize;
use utoipa::ToSchema;

pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";

/// One error of the specification's error array.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SpecError {
    /// The HTTP status code.
    pub code: u16,
    pub description: String,
}

/// `GET discovery`: where the API is and what it speaks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Discovery {
    pub changeset: String,
    pub contact: String,
    pub key_service: String,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Endpoint {
    pub specification: String,
    pub url: String,
    pub changeset: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub formats: Vec<String>,
}

#[derive(Serialize)]
pub struct DiscoveryXml<'a> {
    pub changeset: &'a str,
    pub contact: &'a str,
    pub key_service: &'a str,
    pub endpoints: EndpointsXml<'a>,
}

#[derive(Serialize)]
pub struct EndpointsXml<'a> {
    pub endpoint: Vec<EndpointXml<'a>>,
}

#[derive(Serialize)]
pub struct EndpointXml<'a> {
    pub specification: &'a str,
    pub url: &'a str,
    pub changeset: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub formats: FormatsXml<'a>,
}

#[derive(Serialize)]
pub struct FormatsXml<'a> {
    pub format: &'a [String],
}

impl Discovery {
    pub fn xml(&self) -> DiscoveryXml<'_> {
        DiscoveryXml {
            changeset: &self.changeset,
            contact: &self.contact,
            key_service: &self.key_service,
            endpoints: EndpointsXml {
                endpoint: self
                    .endpoints
                    .iter()
                    .map(|e| EndpointXml {
                        specification: &e.specification,
                        url: &e.url,
                        changeset: &e.changeset,
                        kind: &e.kind,
                        formats: FormatsXml { format: &e.formats },
                    })
                    .collect(),
            },
        }
    }
}

/// `GET services`: one per category of the responsibility list (权责清单).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Service {
    /// The category's code, e.g. `env.debris`.
    pub service_code: String,
    pub service_name: String,
    pub description: String,
    /// Whether `GET services/{service_code}` lists attributes.
    pub metadata: bool,
    /// Always `realtime`: a request is a case from the moment it is posted.
    #[serde(rename = "type")]
    pub kind: String,
    pub keywords: String,
    /// The category's class.
    pub group: String,
}

/// `GET services/{service_code}`: the attributes a request of this service may carry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceDefinition {
    pub service_code: String,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attribute {
    /// Whether the attribute takes input (false: informational only).
    pub variable: bool,
    pub code: String,
    /// string, number, datetime, text, singlevaluelist or multivaluelist.
    pub datatype: String,
    pub required: bool,
    pub datatype_description: String,
    pub order: u32,
    pub description: String,
    pub values: Vec<AttributeValue>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttributeValue {
    pub key: String,
    pub name: String,
}

#[derive(Serialize)]
pub struct ServiceDefinitionXml<'a> {
    pub service_code: &'a str,
    pub attributes: AttributesXml<'a>,
}

#[derive(Serialize)]
pub struct AttributesXml<'a> {
    pub attribute: Vec<AttributeXml<'a>>,
}

#[derive(Serialize)]
pub struct AttributeXml<'a> {
    pub variable: bool,
    pub code: &'a str,
    pub datatype: &'a str,
    pub required: bool,
    pub datatype_description: &'a str,
    pub order: u32,
    pub description: &'a str,
    pub values: ValuesXml<'a>,
}

#[derive(Serialize)]
pub struct ValuesXml<'a> {
    pub value: &'a [AttributeValue],
}

impl ServiceDefinition {
    pub fn xml(&self) -> ServiceDefinitionXml<'_> {
        ServiceDefinitionXml {
            service_code: &self.service_code,
            attributes: AttributesXml {
                attribute: self
                    .attributes
                    .iter()
                    .map(|a| AttributeXml {
                        variable: a.variable,
                        code: &a.code,
                        datatype: &a.datatype,
                        required: a.required,
                        datatype_description: &a.datatype_description,
                        order: a.order,
                        description: &a.description,
                        values: ValuesXml { value: &a.values },
                    })
                    .collect(),
            },
        }
    }
}

/// `POST requests`: the request created (a case; or the open case it was linked to).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestCreated {
    /// The request's id, once dispatch has it open (read it with `GET requests/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_request_id: Option<String>,
    /// Instead of the id when the case was not yet open in dispatch within the wait: ask
    /// `GET tokens/{token}` for the id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// What happens next, with the deadlines in words.
    pub service_notice: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// `GET tokens/{token}`: the request a token stands for; no id while it is not yet open.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_request_id: Option<String>,
    pub token: String,
}

/// `GET requests` and `GET requests/{id}`: a request as the public may see it — never the
/// reporter's name, contact or account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceRequest {
    pub service_request_id: String,
    /// `open` or `closed`.
    pub status: String,
    /// The stage in words: dispatched to which unit, escalated, in mediation, awaiting verification …
    pub status_notes: String,
    pub service_name: String,
    pub service_code: String,
    pub description: String,
    /// The unit holding the case, and its department when the responsibility list names one.
    pub agency_responsible: String,
    pub service_notice: String,
    /// W3C datetimes (RFC 3339).
    pub requested_datetime: String,
    pub updated_datetime: String,
    /// The deadline in force; absent once closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_datetime: Option<String>,
    /// The grid and the units above it, by name.
    pub address: String,
    /// The grid's code.
    pub address_id: String,
    pub lat: f64,
    pub long: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
}

/// `GET servicerequestupdates` (FixMyStreet's extension): one change of a request's stage.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestUpdate {
    /// The id of the event that made the change.
    pub update_id: String,
    pub service_request_id: String,
    /// `open` or `closed`, right after the change.
    pub status: String,
    /// The change in words.
    pub description: String,
    /// W3C datetime (RFC 3339) of the change.
    pub updated_datetime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
}
