//! The two representations GeoReport v2 defines, chosen by the path's suffix (`.json`, `.xml`),
//! and the rendering of documents, lists and errors in each.

use crate::error::ApiError;
use crate::open311::SpecError;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub const JSON_TYPE: &str = "application/json; charset=utf-8";
pub const XML_TYPE: &str = "text/xml; charset=utf-8";
const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// The format a path segment's suffix names, and the segment without it
    /// (`services.json` → `services`, JSON).
    pub fn split(segment: &str) -> Option<(&str, Format)> {
        if let Some(stem) = segment.strip_suffix(".json") {
            Some((stem, Format::Json))
        } else {
            segment.strip_suffix(".xml").map(|stem| (stem, Format::Xml))
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => JSON_TYPE,
            Format::Xml => XML_TYPE,
        }
    }

    /// A JSON array, or `<root><item>…</item>…</root>`.
    pub fn list<T: Serialize>(self, root: &str, item: &str, items: &[T]) -> Response {
        let body = match self {
            Format::Json => serde_json::to_string(items).map_err(ApiError::internal),
            Format::Xml => items
                .iter()
                .map(|value| quick_xml::se::to_string_with_root(item, value))
                .collect::<Result<Vec<_>, _>>()
                .map(|elements| format!("{XML_DECLARATION}<{root}>{}</{root}>", elements.concat()))
                .map_err(ApiError::internal),
        };
        self.body(StatusCode::OK, body)
    }

    /// One document: `json` as it is, or `xml` as the element `root`.
    pub fn document<J: Serialize, X: Serialize>(self, json: &J, root: &str, xml: &X) -> Response {
        let body = match self {
            Format::Json => serde_json::to_string(json).map_err(ApiError::internal),
            Format::Xml => quick_xml::se::to_string_with_root(root, xml)
                .map(|element| format!("{XML_DECLARATION}{element}"))
                .map_err(ApiError::internal),
        };
        self.body(StatusCode::OK, body)
    }

    /// The specification's error array (`<errors><error>…</error></errors>`) with its status.
    pub fn error(self, error: &ApiError) -> Response {
        let errors = [SpecError { code: error.status().as_u16(), description: error.to_string() }];
        let mut response = self.list("errors", "error", &errors);
        *response.status_mut() = error.status();
        response
    }

    /// A handler's result in this format.
    pub fn respond(self, result: Result<Response, ApiError>) -> Response {
        result.unwrap_or_else(|error| self.error(&error))
    }

    fn body(self, status: StatusCode, body: Result<String, ApiError>) -> Response {
        match body {
            Ok(body) => (status, [(header::CONTENT_TYPE, self.content_type())], body).into_response(),
            Err(error) => {
                let status = error.status();
                (
                    status,
                    [(header::CONTENT_TYPE, JSON_TYPE)],
                    format!(r#"[{{"code":{},"description":"{error}"}}]"#, status.as_u16()),
                )
                    .into_response()
            }
        }
    }
}

/// The format of the request's last path segment; a path without `.json` or `.xml` is not a
/// GeoReport resource (404, in JSON).
impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let last = parts.uri.path().rsplit('/').next().unwrap_or_default();
        Format::split(last).map(|(_, format)| format).ok_or_else(|| {
            Format::Json.error(&ApiError::NotFound("no such resource: GeoReport paths end in .json or .xml".into()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suffix_names_the_format() {
        assert_eq!(Format::split("services.json"), Some(("services", Format::Json)));
        assert_eq!(Format::split("env.debris.xml"), Some(("env.debris", Format::Xml)));
        assert_eq!(Format::split("services"), None);
    }

    #[tokio::test]
    async fn errors_are_the_specifications_array_in_either_format() {
        let error = ApiError::Forbidden("api_key is required".into());
        let json = Format::Json.error(&error);
        assert_eq!(json.status(), StatusCode::FORBIDDEN);
        let body = axum::body::to_bytes(json.into_body(), 1 << 16).await.unwrap();
        assert_eq!(body, r#"[{"code":403,"description":"api_key is required"}]"#);
        let xml = Format::Xml.error(&error);
        let body = axum::body::to_bytes(xml.into_body(), 1 << 16).await.unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            format!("{XML_DECLARATION}<errors><error><code>403</code><description>api_key is required</description></error></errors>")
        );
    }
}
