//! The residents' pages (云议事) in a real browser on a phone-sized viewport (390×844): `gridloop
//! up`, a grid with 50 registered residents each holding their own token, then
//! tests/browser/residents.mjs drives Debian's chromium through /residents — residents propose
//! topics, rank them by D21 and by 531 (the expected orders), find the sitting among their area's
//! sessions (a resident the register does not hold finds none), follow it live and speak to it,
//! vote in its ballot (carried by simple majority), and object to the published decision: nine
//! objections leave it in notice, the tenth (found in the list, through the page) puts it back
//! to the council.
//! The council's steps go through the CLI under a mediator's token. Screenshots are saved to
//! target/residents-screenshots/. Needs node, chromium and `npm ci` in tests/browser; without
//! them the test is skipped, and fails under CI=true.

#[path = "common/browser.rs"]
mod browser;

use browser::{gridloop, repository, tools_or_skip, up, GRIDLOOP};
use gridloop_auth::{Principal, SigningKey};
use gridloop_domain::access::Role;
use gridloop_domain::jurisdiction::{AreaCode, Jurisdiction};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const RESIDENTS: u32 = 50;

fn resident(n: u32) -> String {
    format!("居民{n:02}")
}

/// Tokens for the grid's mediator and its residents (and one resident on no register), minted
/// with the installation's key as `gridloop token issue` does.
fn tokens(data_dir: &Path, area: &str) -> Value {
    let key = SigningKey::load(data_dir).unwrap().expect("gridloop up created the signing key");
    let issue = |subject: &str, role: Role| {
        let principal = Principal::new(subject, role, Some(AreaCode::new(area).unwrap()), None).unwrap();
        key.issue(&principal, chrono::Duration::hours(2)).unwrap()
    };
    let residents: serde_json::Map<String, Value> =
        (1..=RESIDENTS).map(|n| (resident(n), Value::String(issue(&resident(n), Role::Resident)))).collect();
    json!({ "mediator": issue("调解员", Role::Mediator), "stranger": issue("外人", Role::Resident), "residents": residents })
}

#[test]
fn fifty_registered_residents_take_part_from_their_phones_and_ten_objections_reopen_the_decision() {
    let Some((chromium, script_dir)) = tools_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (_up, server, url) = up(&data_dir);
    let area = Jurisdiction::default_city().grids().next().unwrap().code.to_string();

    let register = dir.path().join("residents.csv");
    let rows: Vec<String> = std::iter::once("resident".to_string()).chain((1..=RESIDENTS).map(resident)).collect();
    std::fs::write(&register, rows.join("\n") + "\n").unwrap();
    let imported = gridloop(
        &["register", "import", "--area", &area, register.to_str().unwrap(), "--json", "--server", &server],
        &data_dir,
    );
    let imported: Value = serde_json::from_str(&imported).expect("JSON");
    assert_eq!(imported["residents_concerned"], RESIDENTS, "{imported}");
    let tokens_file = dir.path().join("tokens.json");
    std::fs::write(&tokens_file, tokens(&data_dir, &area).to_string()).unwrap();

    let shots = repository().join("target/residents-screenshots");
    let output = Command::new("node")
        .arg("residents.mjs")
        .current_dir(&script_dir)
        .env("RES_URL", &url)
        .env("RES_AREA", &area)
        .env("RES_TOKENS", &tokens_file)
        .env("RES_SHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .env("GRIDLOOP", GRIDLOOP)
        .env("GRIDLOOP_SERVER", &server)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "browser test failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON");

    // The orders as the page shows them: D21 (1 and 3 tie at +6, the one proposed first leads;
    // 4: +4; 2: +3 −6) and 531 (5, 3 and 1 points).
    assert_eq!(seen["d21_order"], json!([[1, 6], [3, 6], [4, 4], [2, -3]]), "{seen}");
    assert_eq!(seen["points531_order"], json!([[3, 27], [4, 20], [2, 9], [1, 4]]), "{seen}");
    assert_eq!(seen["listed_to_stranger"], 0, "a resident the register does not hold sees no session: {seen}");
    assert_eq!(seen["found_in_list"], true, "found among the area's sessions, not handed its id: {seen}");
    assert_eq!(seen["listed_in_notice"], true, "{seen}");
    assert!(seen["listed_objections"].as_str().unwrap_or_default().contains("异议 9/10"), "{seen}");
    assert_eq!(seen["ballot"], "carried (4 yes, 1 no, 1 abstain of 8 eligible", "{seen}");
    assert_eq!(seen["after_nine"], json!({ "stage": "in_notice", "objections": 9, "needed": 10 }), "{seen}");
    assert_eq!(seen["after_ten"], "contested", "{seen}");
    assert_eq!(seen["after_council"], "notified", "reconsidered: {seen}");
    for section in ["proposal", "ranking", "resident_statement", "ballot", "decision", "objection", "council_response"]
    {
        assert!(seen["record_sections"].as_array().unwrap().iter().any(|s| s == section), "{section}: {seen}");
    }
    assert!(shots.join("contested.png").is_file());
}
