//! `gridloop catalog`: the responsibility list (权责清单) — categories by class, their entry level,
//! SLAs up the ladder, owning departments and the on-site check (核查).

use super::output::{duration_text, emit, enum_json, enum_text, opt_str, or_dash, sla_ladder, Table};
use super::rpc::Server;
use super::Global;
use anyhow::Result;
use gridloop_proto::v1 as pb;
use serde_json::{json, Value};

pub async fn run(global: &Global) -> Result<()> {
    let server = Server::connect(&global.addresses()).await?;
    let catalog = server.intake().get_catalog(pb::GetCatalogRequest {}).await.map_err(server.fail("GetCatalog"))?;
    let groups = group_catalog(catalog.into_inner());
    emit(global.json, || catalog_json(&groups), || catalog_text(&groups))
}

/// Categories grouped by class, in the catalog's class order; a category whose class is not
/// listed gets a group of its own.
fn group_catalog(catalog: pb::GetCatalogResponse) -> Vec<(pb::CategoryClass, Vec<pb::Category>)> {
    let mut groups: Vec<(pb::CategoryClass, Vec<pb::Category>)> =
        catalog.classes.into_iter().map(|class| (class, Vec::new())).collect();
    for category in catalog.categories {
        match groups.iter_mut().find(|(class, _)| class.code == category.class_code) {
            Some((_, members)) => members.push(category),
            None => {
                let class = pb::CategoryClass { code: category.class_code.clone(), name: category.class_name.clone() };
                groups.push((class, vec![category]));
            }
        }
    }
    groups
}

fn catalog_json(groups: &[(pb::CategoryClass, Vec<pb::Category>)]) -> Value {
    let classes: Vec<Value> = groups
        .iter()
        .map(|(class, categories)| {
            let categories: Vec<Value> = categories
                .iter()
                .map(|c| {
                    // Per level, grid first; a server older than the strings sends none.
                    let resolve_sla: serde_json::Map<String, Value> = LADDER
                        .iter()
                        .zip(&c.resolve_sla)
                        .map(|(level, sla)| (enum_text::<pb::Level>(*level as i32), json!(sla)))
                        .collect();
                    // The owning department per level, where the list names one.
                    let departments: serde_json::Map<String, Value> = LADDER
                        .iter()
                        .zip(&c.departments)
                        .filter(|(_, code)| !code.is_empty())
                        .map(|(level, code)| (enum_text::<pb::Level>(*level as i32), json!(code)))
                        .collect();
                    json!({
                        "code": c.code,
                        "name": c.name,
                        "class_code": c.class_code,
                        "start_level": enum_json::<pb::Level>(c.start_level),
                        "accept_sla": opt_str(&c.accept_sla),
                        "resolve_sla": resolve_sla,
                        "feedback_sla": opt_str(&c.feedback_sla),
                        "accept_sla_seconds": c.accept_sla_seconds,
                        "resolve_sla_seconds": c.resolve_sla_seconds,
                        "departments": departments,
                        "requires_verification": c.requires_verification,
                        "verify_sla": opt_str(&c.verify_sla),
                    })
                })
                .collect();
            json!({ "code": class.code, "name": class.name, "categories": categories })
        })
        .collect();
    json!({ "classes": classes })
}

/// The levels of the ladder, in the order of `Category.resolve_sla`.
const LADDER: [pb::Level; 4] = [pb::Level::Grid, pb::Level::Community, pb::Level::Street, pb::Level::District];

fn catalog_text(groups: &[(pb::CategoryClass, Vec<pb::Category>)]) -> String {
    let mut out = String::new();
    for (class, categories) in groups {
        out.push_str(&format!("{} ({})\n", class.name, class.code));
        let mut table = Table::new(&[
            "code",
            "name",
            "start level",
            "accept SLA",
            "resolve SLA (start level up)",
            "feedback SLA",
            "核查 (above grid)",
        ]);
        for c in categories {
            // The strings are authoritative; a server older than them only sends nominal seconds.
            let accept =
                if c.accept_sla.is_empty() { duration_text(c.accept_sla_seconds) } else { c.accept_sla.clone() };
            let start = LADDER.iter().position(|l| *l as i32 == c.start_level).unwrap_or(0);
            let resolve = match c.resolve_sla.get(start..) {
                Some(ladder) if !ladder.is_empty() => sla_ladder(ladder),
                _ => duration_text(c.resolve_sla_seconds),
            };
            table.row(vec![
                c.code.clone(),
                c.name.clone(),
                enum_text::<pb::Level>(c.start_level),
                accept,
                resolve,
                or_dash(&c.feedback_sla),
                // The on-site check of a resolution above the grid, and its time.
                match (c.requires_verification, c.verify_sla.as_str()) {
                    (false, _) => "-".to_string(),
                    (true, "") => "yes".to_string(),
                    (true, sla) => sla.to_string(),
                },
            ]);
        }
        out.push_str(&table.render_indented("  "));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_groups_by_class_and_keeps_orphans() {
        let category = |code: &str, class: &str| pb::Category {
            code: code.into(),
            name: format!("类别{code}"),
            class_code: class.into(),
            class_name: format!("类{class}"),
            start_level: pb::Level::Grid as i32,
            resolve_sla_seconds: 86_400,
            accept_sla_seconds: 7_200,
            accept_sla: "2 working hours".into(),
            resolve_sla: ["1 working day", "2 working days", "3 working days", "5 working days"]
                .map(String::from)
                .into(),
            feedback_sla: "3 working days".into(),
            departments: ["", "", "urban-management", "urban-management"].map(String::from).into(),
            requires_verification: true,
            verify_sla: "1 working day".into(),
        };
        // A server older than the SLA strings sends the nominal seconds only.
        let old_server = pb::Category {
            accept_sla: String::new(),
            resolve_sla: vec![],
            feedback_sla: String::new(),
            departments: vec![],
            requires_verification: false,
            verify_sla: String::new(),
            ..category("B1", "B")
        };
        // An emergency entering at the community, on the wall clock.
        let emergency = pb::Category {
            start_level: pb::Level::Community as i32,
            accept_sla: "15 min".into(),
            resolve_sla: ["2 hours", "4 hours", "8 hours", "1 day"].map(String::from).into(),
            feedback_sla: "1 day".into(),
            verify_sla: "2 hours".into(),
            ..category("A2", "A")
        };
        let groups = group_catalog(pb::GetCatalogResponse {
            classes: vec![pb::CategoryClass { code: "A".into(), name: "城市管理".into() }],
            categories: vec![category("A1", "A"), old_server, emergency],
        });
        let codes: Vec<(String, Vec<String>)> =
            groups.iter().map(|(c, cs)| (c.code.clone(), cs.iter().map(|c| c.code.clone()).collect())).collect();
        assert_eq!(codes, vec![("A".into(), vec!["A1".into(), "A2".into()]), ("B".into(), vec!["B1".into()])]);
        let value = catalog_json(&groups);
        assert_eq!(value["classes"][0]["categories"][1]["start_level"], "community");
        assert_eq!(value["classes"][1]["name"], "类B");
        let a1 = &value["classes"][0]["categories"][0];
        assert_eq!(a1["accept_sla"], "2 working hours");
        assert_eq!(a1["resolve_sla"]["grid"], "1 working day");
        assert_eq!(a1["resolve_sla"]["district"], "5 working days");
        assert_eq!(a1["feedback_sla"], "3 working days");
        assert_eq!((&a1["requires_verification"], &a1["verify_sla"]), (&json!(true), &json!("1 working day")));
        assert_eq!(
            (a1["accept_sla_seconds"].as_u64(), a1["resolve_sla_seconds"].as_u64()),
            (Some(7_200), Some(86_400))
        );
        let b1 = &value["classes"][1]["categories"][0];
        assert_eq!((&b1["accept_sla"], &b1["feedback_sla"]), (&Value::Null, &Value::Null));
        assert_eq!(b1["resolve_sla"], json!({}));
        assert_eq!(a1["departments"], json!({ "street": "urban-management", "district": "urban-management" }));
        assert_eq!(b1["departments"], json!({}));
        let text = catalog_text(&groups);
        assert!(text.contains("城市管理 (A)\n"), "{text}");
        let row = |code: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(code))
                .unwrap()
                .split("  ")
                .filter(|c| !c.trim().is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            row("A1"),
            ["A1", "类别A1", "grid", "2 working hours", "1/2/3/5 working days", "3 working days", "1 working day"],
            "{text}"
        );
        assert_eq!(
            row("A2"),
            ["A2", "类别A2", "community", "15 min", "4 hours/8 hours/1 day", "1 day", "2 hours"],
            "{text}"
        );
        assert_eq!(row("B1"), ["B1", "类别B1", "grid", "2h", "1d", "-", "-"], "{text}");
        assert!(text.contains("resolve SLA (start level up)  feedback SLA    核查 (above grid)\n"), "{text}");
    }
}
