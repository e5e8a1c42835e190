//! Schema-evolution guard for the `gridloop.v1` contract: add fields, never renumber or reuse.
//!
//! [`contract_has_no_breaking_changes`] compares the compiled contract
//! (`gridloop_proto::FILE_DESCRIPTOR_SET`, only the `gridloop/` files, without source info) with
//! the committed baseline `proto/baseline/gridloop-v1.binpb`, and fails listing every breaking
//! change: a message, enum, service or RPC removed or renamed; a field removed without reserving
//! its number and name; a field renumbered, renamed or its number reused; a field's type, message
//! or enum type, label or oneof changed; an enum value removed, renumbered or renamed; an RPC's
//! input, output or streaming changed; a file removed or its package or syntax changed; a reserved
//! number or name reused or no longer reserved. New messages, fields, enum values, RPCs and comments pass.
//!
//! After a deliberate change — an addition, or a break agreed on — refresh the baseline and commit
//! it with the proto change:
//!
//! ```sh
//! GRIDLOOP_UPDATE_PROTO_BASELINE=1 cargo test -p gridloop-proto --test schema_evolution
//! ```
//!
//! The refresh prints the breaking changes it accepts. The checker itself is in
//! `schema_evolution/checker.rs`; its tests are in [`checker_tests`] below.

#[path = "schema_evolution/checker.rs"]
mod checker;

use std::path::{Path, PathBuf};

use prost::Message;
use prost_types::FileDescriptorSet;

use checker::breaking_changes;

const UPDATE_VAR: &str = "GRIDLOOP_UPDATE_PROTO_BASELINE";
const REFRESH: &str = "GRIDLOOP_UPDATE_PROTO_BASELINE=1 cargo test -p gridloop-proto --test schema_evolution";

fn baseline_path() -> PathBuf {
    let workspace =
        Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("services/proto is two levels down");
    workspace.join("proto/baseline/gridloop-v1.binpb")
}

/// The contract as built: the `gridloop/` files of the descriptor set (not the imported
/// `google/protobuf` ones), without source info, so that comment edits do not touch the baseline.
fn current_contract() -> FileDescriptorSet {
    let mut set = FileDescriptorSet::decode(gridloop_proto::FILE_DESCRIPTOR_SET).expect("FILE_DESCRIPTOR_SET decodes");
    set.file.retain(|f| f.name().starts_with("gridloop/"));
    for file in &mut set.file {
        file.source_code_info = None;
    }
    set
}

fn bullets(lines: &[String]) -> String {
    lines.iter().map(|l| format!("\n  - {l}")).collect()
}

#[test]
fn contract_has_no_breaking_changes() {
    let current = current_contract();
    let path = baseline_path();

    if std::env::var(UPDATE_VAR).is_ok_and(|v| v == "1") {
        if let Ok(bytes) = std::fs::read(&path) {
            let baseline = FileDescriptorSet::decode(bytes.as_slice()).expect("the old baseline decodes");
            let accepted = breaking_changes(&baseline, &current);
            if !accepted.is_empty() {
                eprintln!("accepting {} breaking change(s):{}", accepted.len(), bullets(&accepted));
            }
        }
        std::fs::create_dir_all(path.parent().expect("baseline has a parent directory"))
            .expect("create proto/baseline");
        std::fs::write(&path, current.encode_to_vec()).expect("write the baseline");
        eprintln!("wrote {}", path.display());
        return;
    }

    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("cannot read the baseline {}: {e}; create it with `{REFRESH}`", path.display()));
    let baseline = FileDescriptorSet::decode(bytes.as_slice())
        .unwrap_or_else(|e| panic!("the baseline {} does not decode: {e}", path.display()));
    let violations = breaking_changes(&baseline, &current);
    assert!(
        violations.is_empty(),
        "{} breaking change(s) to the gridloop.v1 contract against proto/baseline/gridloop-v1.binpb:{}\n\n\
         Add fields with new numbers and reserve removed ones (`reserved 3; reserved \"location\";`) instead. \
         If the break is deliberate and agreed on, refresh the baseline: `{REFRESH}`",
        violations.len(),
        bullets(&violations)
    );
    if baseline != current {
        eprintln!("note: the contract has additions the baseline lacks; refresh it with `{REFRESH}`");
    }
}

/// The checker on small contracts compiled by protox from inline sources.
mod checker_tests {
    use super::*;
    use protox::file::{File, FileResolver, GoogleFileResolver};

    /// In-memory sources, with the well-known `google/protobuf` files for imports.
    struct Sources(Vec<(String, String)>);

    impl FileResolver for Sources {
        fn open_file(&self, name: &str) -> Result<File, protox::Error> {
            match self.0.iter().find(|(n, _)| n == name) {
                Some((_, source)) => File::from_source(name, source),
                None => GoogleFileResolver::new().open_file(name),
            }
        }
    }

    fn compile(files: &[(&str, &str)]) -> FileDescriptorSet {
        let sources = files.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect();
        let mut compiler = protox::Compiler::with_file_resolver(Sources(sources));
        for (name, source) in files {
            compiler.open_file(name).unwrap_or_else(|e| panic!("{name} does not compile: {e:?}\n{source}"));
        }
        compiler.file_descriptor_set()
    }

    const FILE: &str = "test/v1/a.proto";

    fn proto(body: &str) -> String {
        format!("syntax = \"proto3\";\npackage test.v1;\n{body}")
    }

    /// The violations from one file `old` to the same file `new` (bodies after the package line).
    fn diff(old: &str, new: &str) -> Vec<String> {
        breaking_changes(&compile(&[(FILE, &proto(old))]), &compile(&[(FILE, &proto(new))]))
    }

    #[track_caller]
    fn assert_allowed(old: &str, new: &str) {
        let violations = diff(old, new);
        assert!(violations.is_empty(), "expected no violations, got:{}", bullets(&violations));
    }

    #[track_caller]
    fn assert_breaks(old: &str, new: &str, expected: &[&str]) {
        assert_eq!(diff(old, new), expected);
    }

    // ---- allowed ------------------------------------------------------------------------------

    const CONTRACT: &str = r#"
        message GeoPoint { double lat = 1; double lon = 2; }
        enum Level { LEVEL_UNSPECIFIED = 0; LEVEL_GRID = 1; }
        message CaseOpened {
          string case_id = 1;
          Level level = 2;
          GeoPoint location = 3;
          repeated string tags = 4;
          map<string, string> labels = 5;
          oneof source { string hotline = 6; string app = 7; }
          message Note { string text = 1; }
          enum Kind { KIND_UNSPECIFIED = 0; }
        }
        service CaseService {
          rpc Open(CaseOpened) returns (GeoPoint);
          rpc Watch(GeoPoint) returns (stream CaseOpened);
        }
    "#;

    #[test]
    fn an_unchanged_contract_passes() {
        assert_allowed(CONTRACT, CONTRACT);
    }

    #[test]
    fn additions_and_comments_pass() {
        assert_allowed(
            CONTRACT,
            r#"
            // A new comment.
            message GeoPoint { double lat = 1; double lon = 2; double alt = 3; }
            enum Level { LEVEL_UNSPECIFIED = 0; LEVEL_GRID = 1; LEVEL_COMMUNITY = 2; }
            message CaseOpened {
              // The case.
              string case_id = 1;
              Level level = 2;
              GeoPoint location = 3;
              repeated string tags = 4;
              map<string, string> labels = 5;
              oneof source { string hotline = 6; string app = 7; string walk_in = 9; }
              message Note { string text = 1; string author = 2; }
              enum Kind { KIND_UNSPECIFIED = 0; KIND_URGENT = 1; }
              message Attachment { string uri = 1; }
              repeated Attachment attachments = 8;
              optional bool urgent = 10;
            }
            message CaseClosed { string case_id = 1; }
            enum Outcome { OUTCOME_UNSPECIFIED = 0; }
            service CaseService {
              rpc Open(CaseOpened) returns (GeoPoint);
              rpc Watch(GeoPoint) returns (stream CaseOpened);
              rpc Close(CaseClosed) returns (CaseClosed);
            }
            service AuditService { rpc Get(CaseClosed) returns (CaseClosed); }
            "#,
        );
    }

    #[test]
    fn a_removed_field_with_number_and_name_reserved_passes() {
        assert_allowed(
            "message M { string a = 1; string b = 2; map<string, int32> c = 3; }",
            r#"message M { reserved 2, 3; reserved "b", "c"; string a = 1; }"#,
        );
    }

    #[test]
    fn growing_reservations_pass() {
        assert_allowed(
            r#"message M { reserved 2; reserved "b"; string a = 1; }
               enum E { E_UNSPECIFIED = 0; reserved 2; reserved "E_OLD"; }"#,
            r#"message M { reserved 2 to 5, 9 to max; reserved "b", "c"; string a = 1; }
               enum E { E_UNSPECIFIED = 0; reserved 2 to 4; reserved "E_OLD", "E_OLDER"; }"#,
        );
    }

    #[test]
    fn making_a_field_proto3_optional_passes() {
        assert_allowed("message M { string a = 1; }", "message M { optional string a = 1; }");
    }

    #[test]
    fn moving_a_message_to_another_file_of_the_package_passes() {
        let old = compile(&[(FILE, &proto("message A { B x = 1; }\nmessage B { string y = 1; }"))]);
        let new = compile(&[
            (FILE, &proto("import \"test/v1/b.proto\";\nmessage A { B x = 1; }")),
            ("test/v1/b.proto", &proto("message B { string y = 1; }")),
        ]);
        let violations = breaking_changes(&old, &new);
        assert!(violations.is_empty(), "expected no violations, got:{}", bullets(&violations));
    }

    // ---- removed or renamed types -------------------------------------------------------------

    #[test]
    fn removed_or_renamed_messages_enums_and_services_break() {
        assert_breaks(
            CONTRACT,
            r#"
            message Point { double lat = 1; double lon = 2; }
            enum Rung { RUNG_UNSPECIFIED = 0; }
            message CaseOpened {
              string case_id = 1;
              Rung level = 2;
              Point location = 3;
              repeated string tags = 4;
              map<string, string> labels = 5;
              oneof source { string hotline = 6; string app = 7; }
            }
            service Cases {
              rpc Open(CaseOpened) returns (Point);
            }
            "#,
            &[
                "test.v1.GeoPoint: message removed or renamed",
                "test.v1.CaseOpened.field 2 (level): type changed from enum .test.v1.Level to enum .test.v1.Rung",
                "test.v1.CaseOpened.field 3 (location): type changed from message .test.v1.GeoPoint to message \
                 .test.v1.Point",
                "test.v1.CaseOpened.Note: message removed or renamed",
                "test.v1.CaseOpened.Kind: enum removed or renamed",
                "test.v1.Level: enum removed or renamed",
                "test.v1.CaseService: service removed or renamed",
            ],
        );
    }

    #[test]
    fn a_removed_parent_is_reported_once_for_its_nested_types() {
        assert_breaks(
            "message A { message B { message C {} } enum E { E_UNSPECIFIED = 0; } }",
            "message Z {}",
            &["test.v1.A: message removed or renamed"],
        );
    }

    // ---- fields -------------------------------------------------------------------------------

    #[test]
    fn a_removed_field_must_reserve_its_number_and_name() {
        let old = "message M { string a = 1; string b = 2; }";
        assert_breaks(
            old,
            "message M { string a = 1; }",
            &["test.v1.M.field 2 (b): removed without reserving its number 2 and name \"b\""],
        );
        assert_breaks(
            old,
            "message M { reserved 2; string a = 1; }",
            &["test.v1.M.field 2 (b): removed without reserving its name \"b\""],
        );
        assert_breaks(
            old,
            r#"message M { reserved "b"; string a = 1; }"#,
            &["test.v1.M.field 2 (b): removed without reserving its number 2"],
        );
    }

    #[test]
    fn a_field_number_reused_by_a_different_name_breaks() {
        assert_breaks(
            "message M { string b = 2; }",
            "message M { repeated int32 c = 2; }",
            &["test.v1.M.field 2 (b): number reused by a different field c (repeated int32; was string)"],
        );
    }

    #[test]
    fn a_field_rename_breaks_because_the_json_name_changes() {
        assert_breaks(
            "message M { string b = 2; }",
            "message M { string bee = 2; }",
            &["test.v1.M.field 2 (b): renamed to bee (a rename changes the field's JSON name; add a new field and \
               reserve the old number and name instead)"],
        );
    }

    #[test]
    fn a_json_name_change_breaks() {
        assert_breaks(
            "message M { string b = 2; }",
            r#"message M { string b = 2 [json_name = "bee"]; }"#,
            &["test.v1.M.field 2 (b): JSON name changed from b to bee"],
        );
    }

    #[test]
    fn renumbered_fields_break() {
        assert_breaks(
            "message M { string a = 1; string b = 2; }",
            "message M { string a = 1; string b = 3; }",
            &["test.v1.M.field 2 (b): renumbered to 3"],
        );
        assert_breaks(
            "message M { string a = 1; string b = 2; }",
            "message M { string a = 2; string b = 1; }",
            &[
                "test.v1.M.field 1 (a): renumbered to 2, and number 1 reused by b",
                "test.v1.M.field 2 (b): renumbered to 1, and number 2 reused by a",
            ],
        );
    }

    #[test]
    fn field_type_changes_break() {
        assert_breaks(
            "message GeoPoint {} message CaseOpened { GeoPoint location = 3; int32 n = 4; Kind k = 5; }
             enum Kind { KIND_UNSPECIFIED = 0; }",
            "message GeoPoint {} message CaseOpened { string location = 3; int64 n = 4; int32 k = 5; }
             enum Kind { KIND_UNSPECIFIED = 0; }",
            &[
                "test.v1.CaseOpened.field 3 (location): type changed from message .test.v1.GeoPoint to string",
                "test.v1.CaseOpened.field 4 (n): type changed from int32 to int64",
                "test.v1.CaseOpened.field 5 (k): type changed from enum .test.v1.Kind to int32",
            ],
        );
    }

    #[test]
    fn a_field_type_name_change_breaks() {
        assert_breaks(
            "message A {} message B {} message M { A x = 1; }",
            "message A {} message B {} message M { B x = 1; }",
            &["test.v1.M.field 1 (x): type changed from message .test.v1.A to message .test.v1.B"],
        );
    }

    #[test]
    fn label_changes_break() {
        assert_breaks(
            "message M { string a = 1; repeated string b = 2; }",
            "message M { repeated string a = 1; string b = 2; }",
            &[
                "test.v1.M.field 1 (a): label changed from singular to repeated",
                "test.v1.M.field 2 (b): label changed from repeated to singular",
            ],
        );
    }

    #[test]
    fn a_map_value_type_change_breaks() {
        assert_breaks(
            "message M { map<string, string> m = 1; }",
            "message M { map<string, int32> m = 1; }",
            &["test.v1.M.MEntry.field 2 (value): type changed from string to int32"],
        );
    }

    #[test]
    fn oneof_membership_changes_break() {
        assert_breaks(
            "message M { string a = 1; oneof o { string b = 2; } oneof p { string c = 3; } }",
            "message M { oneof o { string a = 1; } string b = 2; oneof q { string c = 3; } }",
            &[
                "test.v1.M.field 1 (a): moved into oneof o",
                "test.v1.M.field 2 (b): moved out of oneof o",
                "test.v1.M.field 3 (c): moved from oneof p to oneof q",
            ],
        );
    }

    #[test]
    fn reusing_or_dropping_a_field_reservation_breaks() {
        let old = r#"message M { reserved 2, 5 to 7; reserved "b", "e"; string a = 1; }"#;
        assert_breaks(
            old,
            "message M { string a = 1; string b = 2; int32 f = 6; }",
            &[
                "test.v1.M.field 2 (b): reuses reserved number 2",
                "test.v1.M.field 2 (b): reuses reserved name \"b\"",
                "test.v1.M.field 6 (f): reuses reserved number 6",
                "test.v1.M: reserved name \"e\" no longer reserved",
            ],
        );
        assert_breaks(
            old,
            r#"message M { reserved 5; reserved "b"; string a = 1; }"#,
            &[
                "test.v1.M: reserved number 2 no longer reserved",
                "test.v1.M: reserved numbers 5 to 7 no longer reserved",
                "test.v1.M: reserved name \"e\" no longer reserved",
            ],
        );
    }

    // ---- enums --------------------------------------------------------------------------------

    #[test]
    fn enum_value_removals_renumberings_and_renames_break() {
        assert_breaks(
            "enum E { E_UNSPECIFIED = 0; E_A = 1; E_B = 2; E_C = 3; }",
            "enum E { E_UNSPECIFIED = 0; E_A = 4; E_BEE = 2; }",
            &[
                "test.v1.E.value 1 (E_A): renumbered to 4",
                "test.v1.E.value 2 (E_B): renamed to E_BEE (JSON writes enum values by name, so a rename breaks JSON \
                 readers)",
                "test.v1.E.value 3 (E_C): removed (stored events may still carry it; keep the value and deprecate it)",
            ],
        );
    }

    #[test]
    fn reusing_or_dropping_an_enum_reservation_breaks() {
        assert_breaks(
            r#"enum E { E_UNSPECIFIED = 0; reserved 2 to 3, 9; reserved "E_OLD", "E_GONE"; }"#,
            "enum E { E_UNSPECIFIED = 0; E_OLD = 3; }",
            &[
                "test.v1.E.value 3 (E_OLD): reuses reserved number 3",
                "test.v1.E.value 3 (E_OLD): reuses reserved name \"E_OLD\"",
                "test.v1.E: reserved number 9 no longer reserved",
                "test.v1.E: reserved name \"E_GONE\" no longer reserved",
            ],
        );
    }

    // ---- services -----------------------------------------------------------------------------

    #[test]
    fn rpc_removals_and_signature_changes_break() {
        let types = "message A {} message B {}";
        assert_breaks(
            &format!(
                "{types} service S {{ rpc Get(A) returns (A); rpc Put(A) returns (A); rpc Up(A) returns (A); \
                 rpc Down(stream A) returns (stream A); rpc Gone(A) returns (A); }}"
            ),
            &format!(
                "{types} service S {{ rpc Get(B) returns (A); rpc Put(A) returns (B); rpc Up(stream A) returns \
                 (stream A); rpc Down(A) returns (A); rpc Went(A) returns (A); }}"
            ),
            &[
                "test.v1.S.rpc Get: input type changed from .test.v1.A to .test.v1.B",
                "test.v1.S.rpc Put: output type changed from .test.v1.A to .test.v1.B",
                "test.v1.S.rpc Up: request streaming changed from false to true",
                "test.v1.S.rpc Up: response streaming changed from false to true",
                "test.v1.S.rpc Down: request streaming changed from true to false",
                "test.v1.S.rpc Down: response streaming changed from true to false",
                "test.v1.S.rpc Gone: removed or renamed",
            ],
        );
    }

    // ---- files --------------------------------------------------------------------------------

    #[test]
    fn a_package_change_breaks() {
        let old = compile(&[(FILE, "syntax = \"proto3\";\npackage test.v1;\nmessage M {}")]);
        let new = compile(&[(FILE, "syntax = \"proto3\";\npackage test.v2;\nmessage M {}")]);
        assert_eq!(
            breaking_changes(&old, &new),
            ["file test/v1/a.proto: package changed from test.v1 to test.v2", "test.v1.M: message removed or renamed"]
        );
    }

    #[test]
    fn a_removed_file_breaks() {
        let old =
            compile(&[(FILE, &proto("import \"test/v1/b.proto\";")), ("test/v1/b.proto", &proto("message B {}"))]);
        let new = compile(&[(FILE, &proto(""))]);
        assert_eq!(
            breaking_changes(&old, &new),
            [
                "file test/v1/b.proto: removed (importers name a file by its path)",
                "test.v1.B: message removed or renamed",
            ]
        );
    }

    #[test]
    fn every_violation_is_listed() {
        let violations = diff(CONTRACT, "message GeoPoint { string lat = 1; } enum Level { LEVEL_UNSPECIFIED = 0; }");
        assert_eq!(
            violations,
            [
                "test.v1.GeoPoint.field 1 (lat): type changed from double to string",
                "test.v1.GeoPoint.field 2 (lon): removed without reserving its number 2 and name \"lon\"",
                "test.v1.CaseOpened: message removed or renamed",
                "test.v1.Level.value 1 (LEVEL_GRID): removed (stored events may still carry it; keep the value and \
                 deprecate it)",
                "test.v1.CaseService: service removed or renamed",
            ]
        );
    }

    // ---- the real contract --------------------------------------------------------------------

    #[test]
    fn the_current_contract_is_compatible_with_itself() {
        let current = current_contract();
        assert!(current.file.iter().any(|f| f.name() == "gridloop/v1/events.proto"));
        assert!(breaking_changes(&current, &current).is_empty());
    }

    #[test]
    fn a_break_in_the_real_contract_is_caught() {
        use prost_types::field_descriptor_proto::Type;

        let baseline = current_contract();
        let mut changed = baseline.clone();
        let location = changed
            .file
            .iter_mut()
            .flat_map(|f| f.message_type.iter_mut())
            .find(|m| m.name() == "CaseOpened")
            .and_then(|m| m.field.iter_mut().find(|f| f.name() == "location"))
            .expect("CaseOpened.location exists");
        location.set_type(Type::String);
        location.type_name = None;
        assert_eq!(
            breaking_changes(&baseline, &changed),
            ["gridloop.v1.CaseOpened.field 3 (location): type changed from message .gridloop.v1.GeoPoint to string"]
        );
    }
}
