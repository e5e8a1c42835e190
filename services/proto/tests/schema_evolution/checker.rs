//! The breaking-change checker: compares a baseline `FileDescriptorSet` with the current one and
//! lists every change that breaks the wire form, the JSON form or the gRPC surface.
//!
//! Types are matched by fully qualified name across the whole set (so moving a message between
//! files of the same package is not a violation by itself), fields by number, enum values by
//! name and number, RPCs by name. Additions are never violations.

use std::collections::{HashMap, HashSet};

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
    ServiceDescriptorProto,
};

/// Every breaking change from `baseline` to `current`, one human-readable line each, in the
/// declaration order of the baseline. Empty when `current` is a compatible evolution.
pub fn breaking_changes(baseline: &FileDescriptorSet, current: &FileDescriptorSet) -> Vec<String> {
    let index = Index::new(current);
    let mut out = Vec::new();
    for file in &baseline.file {
        check_file(file, &index, &mut out);
    }
    out
}

/// The current set's files and types, by name.
struct Index<'a> {
    files: HashMap<&'a str, &'a FileDescriptorProto>,
    messages: HashMap<String, &'a DescriptorProto>,
    enums: HashMap<String, &'a EnumDescriptorProto>,
    services: HashMap<String, &'a ServiceDescriptorProto>,
}

impl<'a> Index<'a> {
    fn new(set: &'a FileDescriptorSet) -> Self {
        let mut index =
            Index { files: HashMap::new(), messages: HashMap::new(), enums: HashMap::new(), services: HashMap::new() };
        for file in &set.file {
            index.files.insert(file.name(), file);
            let package = file.package();
            for message in &file.message_type {
                index.add_message(package, message);
            }
            for e in &file.enum_type {
                index.enums.insert(qualify(package, e.name()), e);
            }
            for service in &file.service {
                index.services.insert(qualify(package, service.name()), service);
            }
        }
        index
    }

    fn add_message(&mut self, scope: &str, message: &'a DescriptorProto) {
        let name = qualify(scope, message.name());
        for nested in &message.nested_type {
            self.add_message(&name, nested);
        }
        for e in &message.enum_type {
            self.enums.insert(qualify(&name, e.name()), e);
        }
        self.messages.insert(name, message);
    }
}

fn qualify(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_owned()
    } else {
        format!("{scope}.{name}")
    }
}

fn check_file(old: &FileDescriptorProto, index: &Index, out: &mut Vec<String>) {
    let at = format!("file {}", old.name());
    match index.files.get(old.name()) {
        None => out.push(format!("{at}: removed (importers name a file by its path)")),
        Some(new) => {
            if old.package() != new.package() {
                out.push(format!("{at}: package changed from {} to {}", old.package(), new.package()));
            }
            if syntax(old) != syntax(new) {
                out.push(format!("{at}: syntax changed from {} to {}", syntax(old), syntax(new)));
            }
        }
    }
    let package = old.package();
    for message in &old.message_type {
        check_message(package, message, index, out);
    }
    for e in &old.enum_type {
        check_enum(package, e, index, out);
    }
    for service in &old.service {
        check_service(package, service, index, out);
    }
}

fn syntax(file: &FileDescriptorProto) -> &str {
    match file.syntax() {
        "" => "proto2",
        s => s,
    }
}

fn check_message(scope: &str, old: &DescriptorProto, index: &Index, out: &mut Vec<String>) {
    let name = qualify(scope, old.name());
    let Some(new) = index.messages.get(&name) else {
        // A map field's synthetic entry message goes away with its field, which is checked there.
        if !old.options.as_ref().is_some_and(|o| o.map_entry()) {
            out.push(format!("{name}: message removed or renamed"));
        }
        // Its nested types are gone with it: one line is enough.
        return;
    };
    check_fields(&name, old, new, out);
    for nested in &old.nested_type {
        check_message(&name, nested, index, out);
    }
    for e in &old.enum_type {
        check_enum(&name, e, index, out);
    }
}

fn check_fields(message: &str, old: &DescriptorProto, new: &DescriptorProto, out: &mut Vec<String>) {
    let by_number: HashMap<i32, &FieldDescriptorProto> = new.field.iter().map(|f| (f.number(), f)).collect();
    let by_name: HashMap<&str, &FieldDescriptorProto> = new.field.iter().map(|f| (f.name(), f)).collect();
    let new_reserved = field_ranges(new);
    let new_reserved_names: HashSet<&str> = new.reserved_name.iter().map(String::as_str).collect();

    for f in &old.field {
        let at = format!("{message}.field {} ({})", f.number(), f.name());
        if let Some(g) = by_number.get(&f.number()) {
            if g.name() != f.name() {
                if let Some(h) = by_name.get(f.name()) {
                    out.push(format!(
                        "{at}: renumbered to {}, and number {} reused by {}",
                        h.number(),
                        f.number(),
                        g.name()
                    ));
                } else if same_type(f, g) && f.label() == g.label() {
                    out.push(format!(
                        "{at}: renamed to {} (a rename changes the field's JSON name; add a new field and reserve \
                         the old number and name instead)",
                        g.name()
                    ));
                } else {
                    out.push(format!(
                        "{at}: number reused by a different field {} ({}; was {})",
                        g.name(),
                        describe(g),
                        describe(f)
                    ));
                }
                continue;
            }
            if !same_type(f, g) {
                out.push(format!("{at}: type changed from {} to {}", type_of(f), type_of(g)));
            }
            if f.label() != g.label() {
                out.push(format!("{at}: label changed from {} to {}", label_of(f), label_of(g)));
            }
            if f.json_name.is_some() && g.json_name.is_some() && f.json_name() != g.json_name() {
                out.push(format!("{at}: JSON name changed from {} to {}", f.json_name(), g.json_name()));
            }
            match (real_oneof(old, f), real_oneof(new, g)) {
                (None, Some(b)) => out.push(format!("{at}: moved into oneof {b}")),
                (Some(a), None) => out.push(format!("{at}: moved out of oneof {a}")),
                (Some(a), Some(b)) if a != b => out.push(format!("{at}: moved from oneof {a} to oneof {b}")),
                _ => {}
            }
        } else if let Some(g) = by_name.get(f.name()) {
            out.push(format!("{at}: renumbered to {}", g.number()));
        } else {
            let mut missing = Vec::new();
            if !contains(&new_reserved, f.number().into()) {
                missing.push(format!("number {}", f.number()));
            }
            if !new_reserved_names.contains(f.name()) {
                missing.push(format!("name \"{}\"", f.name()));
            }
            if !missing.is_empty() {
                out.push(format!("{at}: removed without reserving its {}", missing.join(" and ")));
            }
        }
    }

    let reservations = Reservations {
        kind: "field",
        old_ranges: field_ranges(old),
        new_ranges: new_reserved,
        old_names: &old.reserved_name,
        new_names: new_reserved_names,
        declared: new.field.iter().map(|f| (f.number().into(), f.name())).collect(),
    };
    check_reservations(message, &reservations, out);
}

fn same_type(a: &FieldDescriptorProto, b: &FieldDescriptorProto) -> bool {
    a.r#type == b.r#type && a.type_name() == b.type_name()
}

/// The name of the oneof a field belongs to, not counting the synthetic oneof of a proto3
/// `optional` field.
fn real_oneof<'a>(message: &'a DescriptorProto, field: &FieldDescriptorProto) -> Option<&'a str> {
    if field.proto3_optional() {
        return None;
    }
    let index = usize::try_from(field.oneof_index?).ok()?;
    message.oneof_decl.get(index).map(|o| o.name())
}

fn describe(f: &FieldDescriptorProto) -> String {
    match f.label() {
        Label::Optional => type_of(f),
        _ => format!("{} {}", label_of(f), type_of(f)),
    }
}

fn label_of(f: &FieldDescriptorProto) -> &'static str {
    match f.label() {
        Label::Optional => "singular",
        Label::Required => "required",
        Label::Repeated => "repeated",
    }
}

fn type_of(f: &FieldDescriptorProto) -> String {
    let Some(t) = f.r#type.and_then(|t| Type::try_from(t).ok()) else {
        // Unresolved descriptors (not produced by protoc or protox) carry only a type name.
        return f.type_name().to_owned();
    };
    let scalar = match t {
        Type::Message => return format!("message {}", f.type_name()),
        Type::Enum => return format!("enum {}", f.type_name()),
        Type::Group => return format!("group {}", f.type_name()),
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
    };
    scalar.to_owned()
}

fn check_enum(scope: &str, old: &EnumDescriptorProto, index: &Index, out: &mut Vec<String>) {
    let name = qualify(scope, old.name());
    let Some(new) = index.enums.get(&name) else {
        out.push(format!("{name}: enum removed or renamed"));
        return;
    };
    for v in &old.value {
        let at = format!("{name}.value {} ({})", v.number(), v.name());
        if new.value.iter().any(|w| w.name() == v.name() && w.number() == v.number()) {
            continue;
        }
        if let Some(w) = new.value.iter().find(|w| w.name() == v.name()) {
            out.push(format!("{at}: renumbered to {}", w.number()));
        } else if let Some(w) = new.value.iter().find(|w| w.number() == v.number()) {
            out.push(format!(
                "{at}: renamed to {} (JSON writes enum values by name, so a rename breaks JSON readers)",
                w.name()
            ));
        } else {
            out.push(format!("{at}: removed (stored events may still carry it; keep the value and deprecate it)"));
        }
    }

    let reservations = Reservations {
        kind: "value",
        old_ranges: enum_ranges(old),
        new_ranges: enum_ranges(new),
        old_names: &old.reserved_name,
        new_names: new.reserved_name.iter().map(String::as_str).collect(),
        declared: new.value.iter().map(|v| (v.number().into(), v.name())).collect(),
    };
    check_reservations(&name, &reservations, out);
}

fn check_service(scope: &str, old: &ServiceDescriptorProto, index: &Index, out: &mut Vec<String>) {
    let name = qualify(scope, old.name());
    let Some(new) = index.services.get(&name) else {
        out.push(format!("{name}: service removed or renamed"));
        return;
    };
    for m in &old.method {
        let at = format!("{name}.rpc {}", m.name());
        let Some(n) = new.method.iter().find(|n| n.name() == m.name()) else {
            out.push(format!("{at}: removed or renamed"));
            continue;
        };
        if m.input_type() != n.input_type() {
            out.push(format!("{at}: input type changed from {} to {}", m.input_type(), n.input_type()));
        }
        if m.output_type() != n.output_type() {
            out.push(format!("{at}: output type changed from {} to {}", m.output_type(), n.output_type()));
        }
        if m.client_streaming() != n.client_streaming() {
            out.push(format!(
                "{at}: request streaming changed from {} to {}",
                m.client_streaming(),
                n.client_streaming()
            ));
        }
        if m.server_streaming() != n.server_streaming() {
            out.push(format!(
                "{at}: response streaming changed from {} to {}",
                m.server_streaming(),
                n.server_streaming()
            ));
        }
    }
}

/// Half-open `[start, end)` ranges, widened so that an enum's inclusive `i32::MAX` end fits.
type Ranges = Vec<(i64, i64)>;

fn field_ranges(message: &DescriptorProto) -> Ranges {
    message.reserved_range.iter().map(|r| (r.start().into(), r.end().into())).collect()
}

/// Enum reserved ranges are inclusive at both ends, unlike message ones.
fn enum_ranges(e: &EnumDescriptorProto) -> Ranges {
    e.reserved_range.iter().map(|r| (r.start().into(), i64::from(r.end()) + 1)).collect()
}

fn contains(ranges: &Ranges, number: i64) -> bool {
    ranges.iter().any(|&(start, end)| start <= number && number < end)
}

/// Whether `[start, end)` lies entirely within the union of `ranges`.
fn covered(ranges: &Ranges, start: i64, end: i64) -> bool {
    let mut at = start;
    while at < end {
        match ranges.iter().filter(|&&(s, e)| s <= at && at < e).map(|&(_, e)| e).max() {
            Some(next) => at = next,
            None => return false,
        }
    }
    true
}

fn show_range(start: i64, end: i64) -> String {
    if end - start == 1 {
        format!("number {start}")
    } else {
        format!("numbers {start} to {}", end - 1)
    }
}

/// The reservations of one message or enum, baseline and current, and what it declares now.
struct Reservations<'a> {
    /// "field" or "value".
    kind: &'a str,
    old_ranges: Ranges,
    new_ranges: Ranges,
    old_names: &'a [String],
    new_names: HashSet<&'a str>,
    /// The current fields or values, as (number, name).
    declared: Vec<(i64, &'a str)>,
}

/// Reservations may grow but never shrink, and nothing may take a reserved number or name: a
/// declared field or value in a baseline reservation is reported as reuse, any other part of a
/// baseline reservation missing now as dropped (it would let a later change reuse it).
fn check_reservations(at: &str, r: &Reservations, out: &mut Vec<String>) {
    for &(number, name) in &r.declared {
        if contains(&r.old_ranges, number) {
            out.push(format!("{at}.{} {number} ({name}): reuses reserved number {number}", r.kind));
        }
        if r.old_names.iter().any(|n| n == name) {
            out.push(format!("{at}.{} {number} ({name}): reuses reserved name \"{name}\"", r.kind));
        }
    }
    for &(start, end) in &r.old_ranges {
        let reused = r.declared.iter().any(|&(number, _)| start <= number && number < end);
        if !reused && !covered(&r.new_ranges, start, end) {
            out.push(format!("{at}: reserved {} no longer reserved", show_range(start, end)));
        }
    }
    for name in r.old_names {
        let reused = r.declared.iter().any(|&(_, declared)| declared == name);
        if !reused && !r.new_names.contains(name.as_str()) {
            out.push(format!("{at}: reserved name \"{name}\" no longer reserved"));
        }
    }
}
