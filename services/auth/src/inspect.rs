//! One generic bound on every request, whatever the RPC: the decoded message is walked by its
//! descriptor (`prost-reflect`), every string and every list is held to a length, and a
//! `page_size` above the maximum is lowered to it (the caller gets a next page token for the
//! rest). The case or session the request names is read out for the audit log.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value};
use std::collections::HashMap;

/// The bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Characters in any string field.
    pub max_string_chars: usize,
    /// Items in any repeated field.
    pub max_list_items: usize,
    /// Largest page a list RPC returns (`page_size` fields).
    pub max_page_size: u32,
}

/// What inspecting a request found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Inspection {
    pub case_id: Option<String>,
    pub mediation_id: Option<String>,
    /// (field path, what is wrong), e.g. `("signed_by[3]", "longer than 4000 characters")`.
    pub violations: Vec<(String, String)>,
    /// The request body to pass on instead, when a field was lowered to its bound.
    pub rewritten: Option<Bytes>,
}

/// Inspects requests of the `gridloop.v1` API.
pub struct RequestInspector {
    inputs: HashMap<String, MessageDescriptor>,
    limits: RequestLimits,
}

const PAGE_SIZE: &str = "page_size";

impl RequestInspector {
    pub fn new(limits: RequestLimits) -> anyhow::Result<RequestInspector> {
        let pool = DescriptorPool::decode(gridloop_proto::FILE_DESCRIPTOR_SET)?;
        let inputs = pool
            .services()
            .flat_map(|service| {
                let methods: Vec<_> = service
                    .methods()
                    .map(|method| (format!("/{}/{}", service.full_name(), method.name()), method.input()))
                    .collect();
                methods
            })
            .collect();
        Ok(RequestInspector { inputs, limits })
    }

    pub fn limits(&self) -> RequestLimits {
        self.limits
    }

    /// Inspect the body of a call to `path`. `None` when there is nothing to inspect: not an
    /// RPC of the API, or a body that is not one uncompressed gRPC message (tonic then answers
    /// as it would without this inspection).
    pub fn inspect(&self, path: &str, body: &[u8]) -> Option<Inspection> {
        let descriptor = self.inputs.get(path)?;
        let message = single_uncompressed_frame(body)?;
        let mut decoded = DynamicMessage::decode(descriptor.clone(), message).ok()?;
        let mut inspection = Inspection {
            case_id: top_level_string(&decoded, "case_id"),
            mediation_id: top_level_string(&decoded, "mediation_id"),
            ..Inspection::default()
        };
        self.walk(&decoded, "", &mut inspection.violations);
        if inspection.violations.is_empty() && self.lower_page_size(&mut decoded) {
            inspection.rewritten = Some(frame(&decoded.encode_to_vec()));
        }
        Some(inspection)
    }

    fn walk(&self, message: &DynamicMessage, prefix: &str, violations: &mut Vec<(String, String)>) {
        for (field, value) in message.fields() {
            let path = if prefix.is_empty() { field.name().to_string() } else { format!("{prefix}.{}", field.name()) };
            match value {
                Value::List(items) => {
                    if items.len() > self.limits.max_list_items {
                        violations.push((path.clone(), format!("more than {} items", self.limits.max_list_items)));
                    }
                    for (index, item) in items.iter().enumerate().take(self.limits.max_list_items) {
                        self.check_value(item, &format!("{path}[{index}]"), violations);
                    }
                }
                Value::Map(entries) => {
                    if entries.len() > self.limits.max_list_items {
                        violations.push((path.clone(), format!("more than {} entries", self.limits.max_list_items)));
                    }
                    for (key, item) in entries.iter().take(self.limits.max_list_items) {
                        self.check_value(item, &format!("{path}[{key:?}]"), violations);
                    }
                }
                other => self.check_value(other, &path, violations),
            }
        }
    }

    fn check_value(&self, value: &Value, path: &str, violations: &mut Vec<(String, String)>) {
        match value {
            Value::String(text) if text.chars().count() > self.limits.max_string_chars => {
                violations.push((path.to_string(), format!("longer than {} characters", self.limits.max_string_chars)))
            }
            Value::Bytes(bytes) if bytes.len() > self.limits.max_string_chars => {
                violations.push((path.to_string(), format!("longer than {} bytes", self.limits.max_string_chars)))
            }
            Value::Message(nested) => self.walk(nested, path, violations),
            _ => {}
        }
    }

    fn lower_page_size(&self, message: &mut DynamicMessage) -> bool {
        let max = self.limits.max_page_size;
        match message.get_field_by_name_mut(PAGE_SIZE) {
            Some(Value::U32(size)) if *size > max => {
                *size = max;
                true
            }
            _ => false,
        }
    }
}

fn top_level_string(message: &DynamicMessage, name: &str) -> Option<String> {
    match message.get_field_by_name(name)?.as_ref() {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        _ => None,
    }
}

/// The message of a body holding exactly one uncompressed gRPC frame (flag byte, big-endian
/// length, message).
fn single_uncompressed_frame(body: &[u8]) -> Option<&[u8]> {
    let (&compressed, rest) = body.split_first()?;
    let length = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let message = rest.get(4..)?;
    (compressed == 0 && message.len() == length).then_some(message)
}

fn frame(message: &[u8]) -> Bytes {
    let mut framed = BytesMut::with_capacity(message.len() + 5);
    framed.put_u8(0);
    framed.put_u32(u32::try_from(message.len()).expect("a request under 4 GiB"));
    framed.put_slice(message);
    framed.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridloop_proto::v1 as pb;

    fn inspector() -> RequestInspector {
        RequestInspector::new(RequestLimits { max_string_chars: 10, max_list_items: 2, max_page_size: 50 }).unwrap()
    }

    fn body(message: &impl prost::Message) -> Bytes {
        frame(&message.encode_to_vec())
    }

    #[test]
    fn long_strings_and_lists_anywhere_in_a_request_are_named() {
        let request = pb::SignAgreementRequest {
            mediation_id: "m-1".into(),
            actor: Some(pb::Actor { role: "x".into(), id: "12345678901".into(), jurisdiction: String::new() }),
            signed_by: vec!["a".into(), "b".into(), "张三李四王五赵六钱七孙八".into()],
            residents_concerned: 3,
        };
        let found = inspector().inspect("/gridloop.v1.MediationService/SignAgreement", &body(&request)).unwrap();
        assert_eq!(found.mediation_id.as_deref(), Some("m-1"));
        assert_eq!(
            found.violations,
            [
                ("actor.id".to_string(), "longer than 10 characters".to_string()),
                ("signed_by".to_string(), "more than 2 items".to_string()),
            ]
        );
        let fine =
            pb::ReportInRequest {
                case_id: "c-1".into(), department: "十个字以内的部门".into(), ..Default::default()
            };
        let found = inspector().inspect("/gridloop.v1.DispatchService/ReportIn", &body(&fine)).unwrap();
        assert_eq!((found.case_id.as_deref(), found.violations.len()), (Some("c-1"), 0), "characters, not bytes");
    }

    #[test]
    fn an_oversized_page_is_lowered_to_the_maximum() {
        let inspector = inspector();
        let path = "/gridloop.v1.EvaluationService/ListCases";
        let request = pb::ListCasesRequest { page_size: 10_000, area: "321012".into(), ..Default::default() };
        let rewritten = inspector.inspect(path, &body(&request)).unwrap().rewritten.expect("rewritten");
        let lowered = pb::ListCasesRequest::decode(single_uncompressed_frame(&rewritten).unwrap()).unwrap();
        assert_eq!(lowered, pb::ListCasesRequest { page_size: 50, ..request });
        let small = pb::ListCasesRequest { page_size: 20, ..Default::default() };
        assert_eq!(inspector.inspect(path, &body(&small)).unwrap().rewritten, None);
    }

    #[test]
    fn what_is_not_one_plain_message_of_the_api_is_left_alone() {
        let inspector = inspector();
        let request = body(&pb::GetCaseRequest { case_id: "c".into(), ..Default::default() });
        assert!(inspector.inspect("/grpc.health.v1.Health/Check", &request).is_none());
        let mut compressed = request.to_vec();
        compressed[0] = 1;
        assert!(inspector.inspect("/gridloop.v1.DispatchService/GetCase", &compressed).is_none());
        assert!(inspector.inspect("/gridloop.v1.DispatchService/GetCase", &request[..3]).is_none());
        assert!(inspector.inspect("/gridloop.v1.DispatchService/GetCase", &request).is_some());
    }
}
