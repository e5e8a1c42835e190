//! Open311 GeoReport v2 over real HTTP, against an in-process gridloop: discovery and services in
//! JSON and XML, a request posted with a platform's key becoming a dispatched case, read back
//! without the reporter's personal data and seen closed; every refusal in the specification's
//! error form; every path of the OpenAPI document answering.

use gridloop::app::UpArgs;
use gridloop_auth::{Principal, SigningKey};
use gridloop_bus::ManualClock;
use gridloop_domain::access::Role;
use gridloop_proto::v1 as pb;
use gridloop_tests::{start_time, Gridloop};
use serde_json::Value;
use std::collections::BTreeMap;

struct Open311 {
    g: Gridloop,
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A response: status, content type and body.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The specification's error array with one error of `code`; its description.
    fn spec_error(&self, code: u16) -> String {
        assert_eq!(self.status, code, "{}", self.body);
        let errors = self.json();
        let errors = errors.as_array().expect("an array of errors");
        assert_eq!(errors.len(), 1, "{}", self.body);
        assert_eq!(errors[0]["code"], code, "{}", self.body);
        errors[0]["description"].as_str().expect("a description").to_string()
    }
}

async fn start() -> Open311 {
    gridloop_auth::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let args = UpArgs {
        http_listen: Some("127.0.0.1:0".parse().unwrap()),
        // These tests send hundreds of requests from one address; the per-client limit is
        // checked on its own (gridloop-http's routes tests).
        http_limits: gridloop_http::ClientLimitArgs { http_rate_limit: 0, ..Default::default() },
        ..UpArgs::embedded(dir.path(), "127.0.0.1:0".parse().unwrap())
    };
    let g = Gridloop::start_with(args, ManualClock::new(start_time())).await;
    let base = format!("http://{}", g.app.http_addr.expect("HTTP is served"));
    Open311 { g, base, http: reqwest::Client::new(), _dir: dir }
}

impl Open311 {
    async fn get(&self, path: &str) -> Answer {
        answer(self.http.get(format!("{}{path}", self.base)).send().await.expect("GET")).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = serde_urlencoded::to_string(form).unwrap();
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        answer(request.send().await.expect("POST")).await
    }

    /// The id a POST answered with; or, when it answered with a token (dispatch had not opened
    /// the case yet), the id `GET tokens/{token}` gives once it has.
    async fn created_id(&self, created: &Value) -> String {
        if let Some(id) = created[0]["service_request_id"].as_str() {
            assert!(created[0].get("token").is_none(), "an id or a token, not both: {created}");
            return id.to_string();
        }
        let token = created[0]["token"].as_str().unwrap_or_else(|| panic!("neither an id nor a token: {created}"));
        for _ in 0..200 {
            let answer = self.get(&format!("/open311/v2/tokens/{token}.json")).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            if let Some(id) = answer.json()[0]["service_request_id"].as_str() {
                return id.to_string();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("token {token} never named a request")
    }

    fn key(&self, subject: &str, role: Role) -> String {
        let principal = Principal::new(subject, role, None, None).unwrap();
        self.g.app.signing_key().unwrap().issue(&principal, chrono::Duration::hours(1)).unwrap()
    }

    /// A form reporting `category` inside a grid, by a platform.
    async fn form(&mut self, category: &str) -> Vec<(String, String)> {
        let (point, _) = self.g.a_grid().await;
        vec![
            ("api_key".into(), self.key("fix-my-street", Role::Platform)),
            ("service_code".into(), category.into()),
            ("lat".into(), point.lat.to_string()),
            ("long".into(), point.lon.to_string()),
            ("description".into(), "楼道堆放杂物,堵塞消防通道".into()),
        ]
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    Answer { status, content_type, body: response.text().await.expect("body") }
}

fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Each `<item>` element of an XML document (at any depth), as its leaf children's text by name.
fn xml_records(xml: &str, item: &str) -> Vec<BTreeMap<String, String>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut records, mut stack, mut open) = (Vec::new(), Vec::<String>::new(), None::<usize>);
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("bad XML ({e}): {xml}")) {
            Event::Start(start) => {
                let name = String::from_utf8(start.name().as_ref().to_vec()).unwrap();
                if name == item {
                    records.push(BTreeMap::new());
                    open = Some(stack.len() + 1);
                }
                stack.push(name);
            }
            Event::Empty(empty) if open == Some(stack.len()) => {
                let name = String::from_utf8(empty.name().as_ref().to_vec()).unwrap();
                records.last_mut().unwrap().insert(name, String::new());
            }
            Event::Text(text) if open.is_some_and(|depth| stack.len() == depth + 1) => {
                let field = records.last_mut().unwrap().entry(stack.last().unwrap().clone()).or_default();
                field.push_str(&text.decode().unwrap());
            }
            // `&amp;` and its kind arrive apart from the text around them.
            Event::GeneralRef(reference) if open.is_some_and(|depth| stack.len() == depth + 1) => {
                let name = reference.decode().unwrap();
                let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                    .map(str::to_string)
                    .or_else(|| reference.resolve_char_ref().unwrap().map(String::from))
                    .unwrap_or_else(|| panic!("unknown entity &{name};"));
                let field = records.last_mut().unwrap().entry(stack.last().unwrap().clone()).or_default();
                field.push_str(&resolved);
            }
            Event::End(_) => {
                if open == Some(stack.len()) {
                    open = None;
                }
                stack.pop();
            }
            Event::Eof => return records,
            _ => {}
        }
    }
}

/// A JSON object's scalar fields as the XML spells them.
fn scalars(object: &Value) -> BTreeMap<String, String> {
    object
        .as_object()
        .expect("an object")
        .iter()
        .filter_map(|(key, value)| match value {
            Value::String(s) => Some((key.clone(), s.clone())),
            Value::Bool(b) => Some((key.clone(), b.to_string())),
            Value::Number(n) => Some((key.clone(), n.to_string())),
            _ => None,
        })
        .collect()
}

/// XML and JSON records agree field for field (coordinates as numbers).
fn assert_agree(xml: &[BTreeMap<String, String>], json: &Value) {
    let json = json.as_array().expect("a JSON array");
    assert_eq!(xml.len(), json.len());
    for (xml, json) in xml.iter().zip(json) {
        let mut json = scalars(json);
        let mut xml = xml.clone();
        for field in ["lat", "long"] {
            if let (Some(a), Some(b)) = (xml.remove(field), json.remove(field)) {
                // serde_json reads floats to within a unit in the last place.
                let (a, b) = (a.parse::<f64>().unwrap(), b.parse::<f64>().unwrap());
                assert!((a - b).abs() < 1e-9, "{field}: {a} and {b}");
            }
        }
        assert_eq!(xml, json);
    }
}

/// Wait until the case list (evaluation's projection, fed by events) shows the case in `state`.
async fn wait_until_listed(g: &mut Gridloop, id: &str, state: pb::CaseState) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !g.listed_cases().await.iter().any(|c| c.case_id == id && c.state() == state) {
        assert!(tokio::time::Instant::now() < deadline, "case {id} never listed as {state:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn discovery_and_services_agree_in_json_and_xml() {
    let mut o = start().await;
    let discovery = o.get("/open311/v2/discovery.json").await;
    assert_eq!((discovery.status, discovery.content_type.as_str()), (200, "application/json; charset=utf-8"));
    let endpoint = &discovery.json()["endpoints"][0];
    assert_eq!(endpoint["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(endpoint["url"], format!("{}/open311/v2", o.base));
    let xml = o.get("/open311/v2/discovery.xml").await;
    assert_eq!((xml.status, xml.content_type.as_str()), (200, "text/xml; charset=utf-8"));
    let endpoints = xml_records(&xml.body, "endpoint");
    assert_eq!(endpoints[0]["specification"], "http://wiki.open311.org/GeoReport_v2");
    let formats = "<formats><format>text/xml</format><format>application/json</format></formats>";
    assert!(xml.body.contains(formats), "{}", xml.body);

    let catalog = o.g.clients.intake.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    let services = o.get("/open311/v2/services.json").await.json();
    let codes: Vec<&str> = services.as_array().unwrap().iter().map(|s| s["service_code"].as_str().unwrap()).collect();
    let categories: Vec<&str> = catalog.categories.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, categories, "one service per category");
    let first = &services[0];
    let class = catalog.classes.iter().find(|c| c.code == catalog.categories[0].class_code).unwrap();
    assert_eq!((first["type"].as_str(), first["group"].as_str()), (Some("realtime"), Some(class.name.as_str())));
    assert_eq!(first["service_name"], catalog.categories[0].name);
    let xml = o.get("/open311/v2/services.xml").await;
    assert_agree(&xml_records(&xml.body, "service"), &services);

    let definition = o.get("/open311/v2/services/env.debris.json").await.json();
    let codes: Vec<&str> =
        definition["attributes"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["urgent", "special_group"]);
    let xml = o.get("/open311/v2/services/env.debris.xml").await;
    let attributes = xml_records(&xml.body, "attribute");
    assert_eq!(attributes.iter().map(|a| a["code"].as_str()).collect::<Vec<_>>(), ["urgent", "special_group"]);
    assert_eq!(xml_records(&xml.body, "value").len(), 2 + 4, "urgent's two values, the four special groups");

    assert!(o.get("/open311/v2/services/no.such.json").await.spec_error(404).contains("no.such"));
    assert!(o.get("/open311/v2/services.json?jurisdiction_id=999999").await.spec_error(404).contains("999999"));
    let district = o.get("/open311/v2/services.json?jurisdiction_id=321012").await;
    assert_eq!(district.status, 200, "the one district's code is accepted");
}

#[tokio::test]
async fn a_request_posted_by_a_platform_is_dispatched_shown_without_personal_data_and_seen_closed() {
    let mut o = start().await;
    let category = o.g.a_category(pb::Level::Grid).await;
    let mut form = o.form(&category.code).await;
    for (key, value) in [
        ("first_name", "Wenjing"),
        ("last_name", "Qiu"),
        ("phone", "13812345678"),
        ("email", "wenjing.qiu@example.com"),
        ("account_id", "fms-4711"),
        ("attribute[urgent]", "true"),
        ("attribute[special_group][]", "elderly-living-alone"),
        ("media_url", "https://fixmystreet.example/photo/4711.jpeg"),
    ] {
        form.push((key.into(), value.into()));
    }
    let created = o.post("/open311/v2/requests.json", &pairs(&form)).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let created = created.json();
    let id = o.created_id(&created).await;
    assert_eq!(created[0]["account_id"], "fms-4711");
    assert!(created[0]["service_notice"].as_str().unwrap().starts_with("accepted within"), "{created}");

    // A case in dispatch, with the attributes' priority; and in the case list.
    let case = o.g.case_in(&id, pb::CaseState::Dispatched).await.case.unwrap();
    assert_eq!(case.category_code, category.code);
    assert!(case.priority_reasons.len() >= 2, "urgent and a special group: {:?}", case.priority_reasons);
    wait_until_listed(&mut o.g, &id, pb::CaseState::Dispatched).await;

    let shown = o.get(&format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    for personal in ["Wenjing", "Qiu", "13812345678", "wenjing.qiu@example.com", "fms-4711"] {
        assert!(!shown.body.contains(personal), "{personal} shown publicly: {}", shown.body);
    }
    let request = &shown.json()[0];
    assert_eq!(
        (request["status"].as_str(), request["service_code"].as_str()),
        (Some("open"), Some(category.code.as_str()))
    );
    let notes = format!("dispatched to {}, awaiting acceptance", request["agency_responsible"].as_str().unwrap());
    assert_eq!(request["status_notes"], notes, "{request}");
    assert!(!request["agency_responsible"].as_str().unwrap().is_empty());
    assert!(request["expected_datetime"].is_string(), "the accept deadline: {request}");
    assert_eq!(request["media_url"], "https://fixmystreet.example/photo/4711.jpeg");
    let xml = o.get(&format!("/open311/v2/requests/{id}.xml")).await;
    assert_agree(&xml_records(&xml.body, "request"), &shown.json());

    let window = "start_date=2026-03-01&end_date=2026-03-03";
    let listed = |answer: Answer| answer.json().as_array().unwrap().iter().any(|r| r["service_request_id"] == id);
    assert!(listed(o.get(&format!("/open311/v2/requests.json?{window}&service_code={}", category.code)).await));
    assert!(!listed(o.get(&format!("/open311/v2/requests.json?{window}&status=closed")).await));
    assert!(listed(o.get(&format!("/open311/v2/requests.json?service_request_id=nope,{id}")).await));

    let settled = o.g.close_case(&id).await.case.unwrap().settled_level();
    let level = format!("{settled:?}").to_lowercase();
    wait_until_listed(&mut o.g, &id, pb::CaseState::Closed).await;
    let closed = o.get(&format!("/open311/v2/requests/{id}.json")).await.json();
    assert_eq!(closed[0]["status"], "closed");
    let notes = format!("closed: settled at {level} level, the reporter satisfied");
    assert_eq!(closed[0]["status_notes"], notes, "{closed}");
    assert!(closed[0].get("expected_datetime").is_none(), "no deadline once closed: {closed}");
    assert!(listed(o.get(&format!("/open311/v2/requests.json?{window}&status=closed")).await));
    assert!(o.get("/open311/v2/requests/0000.json").await.spec_error(404).contains("0000"));

    // Its updates: each change of stage once, oldest first, ending closed.
    let updates = o.get(&format!("/open311/v2/servicerequestupdates.json?{window}")).await;
    assert_eq!(updates.status, 200, "{}", updates.body);
    let updates = updates.json();
    let ours: Vec<&Value> = updates.as_array().unwrap().iter().filter(|u| u["service_request_id"] == id).collect();
    let statuses: Vec<&str> = ours.iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.last(), Some(&"closed"), "{updates}");
    assert!(statuses.iter().filter(|s| **s == "open").count() >= 2, "received and dispatched: {updates}");
    let descriptions: Vec<&str> = ours.iter().map(|u| u["description"].as_str().unwrap()).collect();
    assert!(descriptions.contains(&"dispatched to the responsible unit"), "{descriptions:?}");
    let ids: std::collections::BTreeSet<&str> = ours.iter().map(|u| u["update_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), ours.len(), "one id per update");
    assert!(ours.iter().all(|u| u["media_url"] == "https://fixmystreet.example/photo/4711.jpeg"));
    for personal in ["Wenjing", "13812345678", "fms-4711"] {
        assert!(!updates.to_string().contains(personal), "{personal} in the updates");
    }
    let xml = o.get(&format!("/open311/v2/servicerequestupdates.xml?{window}")).await;
    assert!(xml.body.contains("<service_request_updates>"), "{}", xml.body);
    assert_agree(&xml_records(&xml.body, "request_update"), &updates);
    let later = o.get("/open311/v2/servicerequestupdates.json?start_date=2026-04-01&end_date=2026-04-02").await;
    assert!(!later.body.contains(&id), "no updates outside the window: {}", later.body);
}

#[tokio::test]
async fn a_missing_bad_or_wrong_key_is_403_in_the_specifications_form() {
    let mut o = start().await;
    let category = o.g.a_category(pb::Level::Grid).await;
    let form = o.form(&category.code).await;
    let without: Vec<_> = pairs(&form).into_iter().filter(|(k, _)| *k != "api_key").collect();
    assert_eq!(o.post("/open311/v2/requests.json", &without).await.spec_error(403), "api_key is required");

    let other_installation = tempfile::tempdir().unwrap();
    let (foreign, _) = SigningKey::create_or_load(other_installation.path()).unwrap();
    let platform = Principal::new("fix-my-street", Role::Platform, None, None).unwrap();
    let keys = [
        "not-a-token".to_string(),
        o.key("zhang", Role::Resident),
        o.key("street", Role::Supervisor),
        foreign.issue(&platform, chrono::Duration::hours(1)).unwrap(),
    ];
    for key in keys {
        let mut form = pairs(&form);
        form.retain(|(k, _)| *k != "api_key");
        form.push(("api_key", &key));
        let refused = o.post("/open311/v2/requests.json", &form).await;
        let description = refused.spec_error(403);
        assert!(!description.contains(&key), "the key is never echoed");
    }
    let xml = o.post("/open311/v2/requests.xml", &without).await;
    assert_eq!(xml.status, 403);
    assert_eq!(xml_records(&xml.body, "error")[0]["code"], "403", "{}", xml.body);
    assert!(o.g.listed_cases().await.is_empty(), "no refused request became a case");
}

/// A form field set to a value, or removed.
type Change = (&'static str, Option<String>);

#[tokio::test]
async fn bad_fields_are_400_in_the_specifications_form() {
    let mut o = start().await;
    let category = o.g.a_category(pb::Level::Grid).await;
    let form = o.form(&category.code).await;
    let with = |changes: &[Change]| {
        let mut form = form.clone();
        for (key, value) in changes {
            form.retain(|(k, _)| k != key);
            if let Some(value) = value {
                form.push(((*key).into(), value.clone()));
            }
        }
        form
    };
    let long = "长".repeat(4001);
    let cases: [(&[Change], &str); 8] = [
        (&[("service_code", None)], "service_code is required"),
        (&[("service_code", Some("no.such".into()))], "no.such"),
        (&[("lat", Some("north".into()))], "lat must be a number"),
        (&[("lat", Some("95".into()))], "lat"),
        (&[("lat", Some("0".into())), ("long", Some("0".into()))], "outside every grid"),
        (&[("lat", None), ("long", None), ("address_string", Some("文昌东路1号".into()))], "no geocoder configured"),
        (&[("description", Some(long))], "4001 characters"),
        (&[("media_url", Some("file:///etc/passwd".into()))], "media_url"),
    ];
    for (changes, expected) in cases {
        let refused = o.post("/open311/v2/requests.json", &pairs(&with(changes))).await;
        let description = refused.spec_error(400);
        assert!(description.contains(expected), "{changes:?}: {description}");
    }
    let at_limit =
        o.post("/open311/v2/requests.json", &pairs(&with(&[("description", Some("长".repeat(4000)))]))).await;
    assert_eq!(at_limit.status, 200, "4,000 characters are allowed: {}", at_limit.body);
    let window = o.get("/open311/v2/requests.json?start_date=2026-01-01&end_date=2026-06-01").await;
    assert!(window.spec_error(400).contains("90 days"));
}

#[tokio::test]
async fn a_token_names_its_request_and_a_token_never_issued_is_404() {
    let mut o = start().await;
    let category = o.g.a_category(pb::Level::Grid).await;
    let form = o.form(&category.code).await;
    let created = o.post("/open311/v2/requests.json", &pairs(&form)).await.json();
    let id = o.created_id(&created).await;
    o.g.case_in(&id, pb::CaseState::Dispatched).await;

    let named = o.get(&format!("/open311/v2/tokens/{id}.json")).await;
    assert_eq!(named.json(), serde_json::json!([{"service_request_id": id, "token": id}]), "{}", named.body);
    let xml = o.get(&format!("/open311/v2/tokens/{id}.xml")).await;
    assert_eq!(xml.content_type, "text/xml; charset=utf-8");
    assert_agree(&xml_records(&xml.body, "request"), &named.json());

    // A time-ordered id made just now that dispatch does not have: pending, no id yet.
    let fresh = uuid::Uuid::now_v7().to_string();
    let pending = o.get(&format!("/open311/v2/tokens/{fresh}.json")).await;
    assert_eq!(pending.json(), serde_json::json!([{"token": fresh}]), "{}", pending.body);
    // Never a request: random ids, old ones, and what is not an id at all.
    for never in [
        "2f1c6a4e-8b3d-4c1a-9e7f-0a1b2c3d4e5f".to_string(),
        "01890a5d-ac96-774b-bcce-b302099a8057".into(),
        "nope".into(),
    ] {
        let refused = o.get(&format!("/open311/v2/tokens/{never}.json")).await.spec_error(404);
        assert!(refused.contains(&never), "{refused}");
    }
}

#[tokio::test]
async fn every_path_of_the_openapi_document_answers() {
    let mut o = start().await;
    let category = o.g.a_category(pb::Level::Grid).await;
    let form = o.form(&category.code).await;
    let created = o.post("/open311/v2/requests.json", &pairs(&form)).await.json();
    let id = o.created_id(&created).await;
    o.g.case_in(&id, pb::CaseState::Dispatched).await;

    let document = o.get("/openapi.json").await;
    assert_eq!(document.status, 200);
    let document = document.json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."), "an OpenAPI 3 document");
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 7, "{:?}", paths.keys());
    for (template, operations) in paths {
        for format in ["json", "xml"] {
            let path = template
                .replace("{format}", format)
                .replace("{service_code}", &category.code)
                .replace("{service_request_id}", &id)
                .replace("{token}", &id);
            for method in operations.as_object().unwrap().keys() {
                let answer = match method.as_str() {
                    "get" => o.get(&path).await,
                    "post" => o.post(&path, &[]).await,
                    other => panic!("{other} {template} is not served"),
                };
                let expected = if method == "post" { 403 } else { 200 };
                assert_eq!(answer.status, expected, "{method} {path}: {}", answer.body);
            }
        }
    }
}

/// The Python client in `tests/clients/` (PyPI's `georeport`, `requests`, `jsonschema`, `openapi-spec-validator`).
const PYTHON_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/open311_client.py");

#[tokio::test]
async fn an_open311_client_from_pypi_posts_and_reads_requests_and_validates_the_openapi_document() {
    let importable = std::process::Command::new("python3")
        .args(["-c", "import georeport, jsonschema, openapi_spec_validator, requests"])
        .status()
        .is_ok_and(|status| status.success());
    if !importable {
        let install = "python3 -m pip install georeport jsonschema openapi-spec-validator";
        assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "the Python Open311 client is missing: {install}");
        eprintln!("skipping: the Python Open311 client is missing ({install})");
        return;
    }
    let mut o = start().await;
    let category = o.g.a_category(pb::Level::Grid).await;
    let (point, _) = o.g.a_grid().await;
    let key = o.key("city-app", Role::Platform);
    let args = [o.base.clone(), key, category.code.clone(), point.lat.to_string(), point.lon.to_string()];
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3").arg(PYTHON_CLIENT).args(args).output().expect("run python3")
    })
    .await
    .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the Python client failed:\n{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "open311 client: ok");
    assert_eq!(o.g.listed_cases().await.len(), 1, "its request is the one case");
}
