//! `GET services` and `GET services/{service_code}`: the responsibility list (权责清单) as
//! GeoReport services, one per category, with the attributes every report may carry.

use super::AppState;
use crate::error::ApiError;
use crate::format::Format;
use crate::open311::{Attribute, AttributeValue, Service, ServiceDefinition};
use crate::reference::Reference;
use crate::words;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use gridloop_proto::v1 as pb;
use serde::Deserialize;

/// The attribute codes a request may carry (`attribute[urgent]`, `attribute[special_group][]`).
pub const URGENT: &str = "urgent";
pub const SPECIAL_GROUP: &str = "special_group";

/// The special groups whose matters go first, by the key a request names them with.
pub const SPECIAL_GROUPS: [(&str, &str, pb::SpecialGroup); 4] = [
    ("elderly-living-alone", "an elderly person living alone (独居老人)", pb::SpecialGroup::ElderlyLivingAlone),
    ("disabled", "a person with a disability (残疾人)", pb::SpecialGroup::Disabled),
    ("left-behind-child", "a left-behind child (留守儿童)", pb::SpecialGroup::LeftBehindChild),
    ("hardship", "a family in hardship (困难家庭)", pb::SpecialGroup::Hardship),
];

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JurisdictionQuery {
    /// A district code; required only when the server holds more than one district.
    pub jurisdiction_id: Option<String>,
}

/// Every category as a service.
#[utoipa::path(
    get, path = "/open311/v2/services.{format}", tag = "open311", operation_id = "get_service_list",
    params(("format" = String, Path, description = "json or xml"), JurisdictionQuery),
    responses(
        (status = 200, description = "one service per category", body = [Service]),
        (status = 404, description = "unknown jurisdiction_id", body = [crate::open311::SpecError]),
    )
)]
pub async fn list(format: Format, State(state): State<AppState>, Query(query): Query<JurisdictionQuery>) -> Response {
    let result = async {
        let reference = state.reference.get(&state.backend).await?;
        reference.check_jurisdiction(query.jurisdiction_id.as_deref())?;
        let services: Vec<Service> = reference.catalog.categories.iter().map(|c| service(c, reference)).collect();
        Ok(format.list("services", "service", &services))
    };
    format.respond(result.await)
}

/// A service's definition: its attributes.
#[utoipa::path(
    get, path = "/open311/v2/services/{service_code}.{format}", tag = "open311", operation_id = "get_service_definition",
    params(
        ("service_code" = String, Path, description = "a category code, e.g. env.debris"),
        ("format" = String, Path, description = "json or xml"),
        JurisdictionQuery,
    ),
    responses(
        (status = 200, description = "the attributes a request of this service may carry", body = ServiceDefinition),
        (status = 404, description = "no such service", body = [crate::open311::SpecError]),
    )
)]
pub async fn definition(
    format: Format,
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<JurisdictionQuery>,
) -> Response {
    let result = async {
        let code = Format::split(&file).map_or(file.as_str(), |(code, _)| code);
        let reference = state.reference.get(&state.backend).await?;
        reference.check_jurisdiction(query.jurisdiction_id.as_deref())?;
        let category = reference.category(code).ok_or_else(|| ApiError::NotFound(format!("no service {code:?}")))?;
        let definition = ServiceDefinition { service_code: category.code.clone(), attributes: attributes() };
        Ok(format.document(&definition, "service_definition", &definition.xml()))
    };
    format.respond(result.await)
}

fn service(category: &pb::Category, reference: &Reference) -> Service {
    let class = reference.class_name(&category.class_code);
    Service {
        service_code: category.code.clone(),
        service_name: category.name.clone(),
        description: format!(
            "{} ({class}): handled first at {} level; {}",
            category.name,
            words::level_name(category.start_level()),
            words::service_notice(category, category.start_level())
        ),
        metadata: true,
        kind: "realtime".into(),
        keywords: [category.name.as_str(), class, category.code.as_str()].join(","),
        group: class.to_string(),
    }
}

/// What every category's requests may say beyond the specification's fields: whether the matter
/// is urgent, and the special groups it concerns — both put the case first in its unit's queue.
pub fn attributes() -> Vec<Attribute> {
    vec![
        Attribute {
            variable: true,
            code: URGENT.into(),
            datatype: "singlevaluelist".into(),
            required: false,
            datatype_description: "true or false".into(),
            order: 1,
            description: "Urgent: the case goes first in its unit's queue".into(),
            values: vec![
                AttributeValue { key: "true".into(), name: "urgent".into() },
                AttributeValue { key: "false".into(), name: "not urgent".into() },
            ],
        },
        Attribute {
            variable: true,
            code: SPECIAL_GROUP.into(),
            datatype: "multivaluelist".into(),
            required: false,
            datatype_description: "one or more of the keys".into(),
            order: 2,
            description: "The special groups the matter concerns (特殊群体): the case goes first".into(),
            values: SPECIAL_GROUPS
                .iter()
                .map(|(key, name, _)| AttributeValue { key: (*key).into(), name: (*name).into() })
                .collect(),
        },
    ]
}
