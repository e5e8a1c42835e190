//! `gridloop jurisdiction`: the tree district → street → community → grid, with each grid's
//! interior point, the units' departments and the grid workers.

use super::output::{emit, enum_json, enum_text, opt_str, point_json, point_text, Table};
use super::rpc::Server;
use super::Global;
use anyhow::Result;
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub async fn run(global: &Global) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    let response = server
        .intake()
        .get_jurisdiction(pb::GetJurisdictionRequest {})
        .await
        .map_err(server.fail("GetJurisdiction"))?;
    let nodes = tree_order(response.into_inner().nodes);
    emit(global.json, || jurisdiction_json(&nodes), || jurisdiction_text(&nodes))
}

/// Nodes depth-first from the roots (children by code), each with its depth.
fn tree_order(nodes: Vec<pb::JurisdictionNode>) -> Vec<(usize, pb::JurisdictionNode)> {
    let codes: std::collections::HashSet<String> = nodes.iter().map(|n| n.code.clone()).collect();
    let mut children: BTreeMap<String, Vec<pb::JurisdictionNode>> = BTreeMap::new();
    for node in nodes {
        let parent = if codes.contains(&node.parent_code) { node.parent_code.clone() } else { String::new() };
        children.entry(parent).or_default().push(node);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.code.cmp(&b.code));
    }
    let mut ordered = Vec::new();
    let mut stack: Vec<(usize, pb::JurisdictionNode)> =
        children.remove("").unwrap_or_default().into_iter().rev().map(|n| (0, n)).collect();
    while let Some((depth, node)) = stack.pop() {
        if let Some(kids) = children.remove(&node.code) {
            stack.extend(kids.into_iter().rev().map(|n| (depth + 1, n)));
        }
        ordered.push((depth, node));
    }
    ordered
}

fn jurisdiction_json(nodes: &[(usize, pb::JurisdictionNode)]) -> Value {
    let nodes: Vec<Value> = nodes
        .iter()
        .map(|(_, n)| {
            json!({
                "code": n.code,
                "name": n.name,
                "level": enum_json::<pb::Level>(n.level),
                "parent_code": opt_str(&n.parent_code),
                "interior_point": point_json(n.interior_point.as_ref()),
                "boundary": n.boundary.iter().map(|p| point_json(Some(p))).collect::<Vec<_>>(),
                "departments": n.departments.iter().map(|d| json!({ "code": d.code, "name": d.name })).collect::<Vec<_>>(),
                "workers": n.workers.iter().map(|w| json!({ "id": w.id, "name": w.name })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "nodes": nodes })
}

fn jurisdiction_text(nodes: &[(usize, pb::JurisdictionNode)]) -> String {
    let mut table = Table::new(&["code", "name", "level", "interior point (lat, lon)", "units"]);
    for (depth, n) in nodes {
        let point = if n.interior_point.is_some() { point_text(n.interior_point.as_ref()) } else { String::new() };
        let units: Vec<&str> =
            n.departments.iter().map(|d| d.name.as_str()).chain(n.workers.iter().map(|w| w.name.as_str())).collect();
        table.row(vec![
            format!("{}{}", "  ".repeat(*depth), n.code),
            n.name.clone(),
            enum_text::<pb::Level>(n.level),
            point,
            units.join(", "),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jurisdiction_is_a_depth_first_tree() {
        let node = |code: &str, parent: &str, level: pb::Level| pb::JurisdictionNode {
            code: code.into(),
            name: format!("n{code}"),
            level: level as i32,
            parent_code: parent.into(),
            boundary: vec![],
            interior_point: (level == pb::Level::Grid).then_some(pb::GeoPoint::wgs84(39.9, 116.4)),
            departments: (level != pb::Level::Grid)
                .then(|| pb::Department { code: "office".into(), name: format!("n{code}办") })
                .into_iter()
                .collect(),
            workers: (level == pb::Level::Grid)
                .then(|| pb::GridWorker { id: format!("gw-{code}"), name: "王建国".into() })
                .into_iter()
                .collect(),
        };
        let nodes = vec![
            node("110105001001002", "110105001001", pb::Level::Grid),
            node("110105001", "110105", pb::Level::Street),
            node("110105", "", pb::Level::District),
            node("110105001001", "110105001", pb::Level::Community),
            node("110105001001001", "110105001001", pb::Level::Grid),
        ];
        let ordered = tree_order(nodes);
        let codes: Vec<(usize, &str)> = ordered.iter().map(|(d, n)| (*d, n.code.as_str())).collect();
        assert_eq!(
            codes,
            vec![(0, "110105"), (1, "110105001"), (2, "110105001001"), (3, "110105001001001"), (3, "110105001001002")]
        );
        let value = jurisdiction_json(&ordered);
        assert_eq!(value["nodes"][3]["interior_point"], json!({ "lat": 39.9, "lon": 116.4 }));
        assert_eq!(value["nodes"][0]["interior_point"], Value::Null);
        assert_eq!(value["nodes"][0]["parent_code"], Value::Null);
        assert_eq!(value["nodes"][3]["level"], "grid");
        assert_eq!(value["nodes"][1]["departments"], json!([{ "code": "office", "name": "n110105001办" }]));
        assert_eq!(value["nodes"][3]["workers"], json!([{ "id": "gw-110105001001001", "name": "王建国" }]));
        let text = jurisdiction_text(&ordered);
        assert!(text.contains("n110105001办"), "{text}");
        assert!(text.contains("王建国"), "{text}");
    }
}
