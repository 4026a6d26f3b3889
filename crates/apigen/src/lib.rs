//! The Engine API model generator: reads the Swagger 2.0 spec
//! (`crates/api/spec/docker-engine-api-v1.47.yaml`) and writes one Rust
//! type for every definition and for every inline request and response
//! body schema, into `crates/api/src/model/generated.rs`.
//!
//! The types follow Go's encoding, which is what dockerd prints and reads:
//! scalar fields are plain values (zero when unset), lists and maps are
//! `Option` (Go prints a nil slice or map as `null`), `x-nullable` fields
//! are `Option` (Go pointers), `allOf` parts are merged into one struct, and
//! enums stay `String` (dockerd passes unknown values through to its
//! validation, whose error text clients see). Decoding leniency (`null`,
//! key case, unknown fields) is not the types' job: request bodies go
//! through `berth_api::json`.

use std::collections::HashSet;
use std::fmt::Write;

use anyhow::{anyhow, Context, Result};
use serde_yaml_ng::{Mapping, Value};

/// Where the spec and the generated file live, from the workspace root.
pub const SPEC: &str = "crates/api/spec/docker-engine-api-v1.47.yaml";
pub const OUTPUT: &str = "crates/api/src/model/generated.rs";

struct Field {
    json: String,
    rust: String,
    ty: String,
    doc: Option<String>,
}

enum Item {
    Struct {
        name: String,
        doc: Option<String>,
        fields: Vec<Field>,
    },
    Alias {
        name: String,
        doc: Option<String>,
        ty: String,
    },
}

/// Where the spec's `x-nullable` is wrong, by moby's Go types
/// (api/types/container): `(definition, property, nullable)`. A pointer in
/// Go is `Option` here (`null` is "not set", distinct from zero); a plain
/// value with `omitempty` is not.
const NULLABLE: &[(&str, &str, bool)] = &[
    // `*int64` and `*bool`: 0 / false are real settings, `null` is unset.
    ("Resources", "MemorySwappiness", true),
    ("Resources", "OomKillDisable", true),
    // `*HealthConfig`: no healthcheck is not a zero healthcheck.
    ("ContainerConfig", "Healthcheck", true),
    // plain `string` / `bool` in Go's `container.Config`.
    ("ContainerConfig", "ArgsEscaped", false),
    ("ContainerConfig", "NetworkDisabled", false),
    ("ContainerConfig", "MacAddress", false),
    ("ContainerConfig", "StopSignal", false),
    // Pointers in the requests, where a present zero value means something
    // else than none: a volume with any `ClusterVolumeSpec` is a cluster
    // volume (swarm only), a network `ConfigFrom` names a config-only
    // network. The inline `POST /networks/create` body is owner "".
    ("VolumeCreateOptions", "ClusterVolumeSpec", true),
    ("", "ConfigFrom", true),
    // `*bool` in the network create request: unset is the daemon's default
    // (IPv4 on), which a present `false` would override.
    ("", "EnableIPv4", true),
    ("", "EnableIPv6", true),
    // `*EndpointIPAMConfig`: the docker CLI sends `null` and dockerd keeps
    // what it got, so inspect shows `null` rather than an empty object.
    ("EndpointSettings", "IPAMConfig", true),
];

struct Gen<'a> {
    defs: &'a Mapping,
    items: Vec<Item>,
    names: HashSet<String>,
}

fn get<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    v.as_mapping().and_then(|m| m.get(key))
}

fn str_of<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    get(v, key).and_then(Value::as_str)
}

fn nullable(v: &Value) -> bool {
    get(v, "x-nullable").and_then(Value::as_bool) == Some(true)
}

/// `FooBar` from a JSON name (`Foo-bar`, `fooBar`).
fn camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = true;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if up {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            up = false;
        } else {
            up = true;
        }
    }
    out
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "do", "dyn", "else", "enum",
    "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro",
    "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "static", "struct",
    "trait", "true", "try", "type", "typeof", "unsafe", "use", "virtual", "where", "while",
    "yield",
];

/// `snake_case` from a Go field name: `CPUShares` -> `cpu_shares`. Mixed
/// initialisms come out odd (`IPv4Address` -> `i_pv4_address`) but stay
/// unique, and the wire name is in the `rename`.
fn snake(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if (prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || prev.is_ascii_uppercase() && next_lower)
                && !out.ends_with('_')
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("f_{out}")
    } else if matches!(out.as_str(), "self" | "super" | "crate") {
        format!("{out}_")
    } else if KEYWORDS.contains(&out.as_str()) {
        format!("r#{out}")
    } else {
        out
    }
}

/// The first paragraph of a description, on one line (the rest, with its
/// examples and indented blocks, would turn into doctests).
fn doc(v: &Value) -> Option<String> {
    let d = str_of(v, "description")?;
    let para = d.trim().split("\n\n").next()?;
    let line = para.split_whitespace().collect::<Vec<_>>().join(" ");
    (!line.is_empty()).then_some(line)
}

impl<'a> Gen<'a> {
    fn ref_name(r: &str) -> Result<String> {
        r.strip_prefix("#/definitions/")
            .map(camel)
            .ok_or_else(|| anyhow!("unsupported $ref {r}"))
    }

    fn resolve(&self, r: &str) -> Result<&'a Value> {
        let name = r.strip_prefix("#/definitions/").unwrap_or(r);
        self.defs
            .get(name)
            .ok_or_else(|| anyhow!("no definition {name}"))
    }

    /// A name not yet taken (inline schemas are named after their owner).
    fn fresh(&mut self, want: &str) -> String {
        let mut name = want.to_string();
        let mut n = 2;
        while self.names.contains(&name) {
            name = format!("{want}{n}");
            n += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// Whether a schema is a list or a map (after following a `$ref`): Go
    /// prints those as `null` when unset, so their fields are `Option`.
    fn is_collection(&self, s: &Value) -> Result<bool> {
        if let Some(r) = str_of(s, "$ref") {
            return self.is_collection(self.resolve(r)?);
        }
        Ok(str_of(s, "type") == Some("array")
            || get(s, "properties").is_none()
                && get(s, "allOf").is_none()
                && get(s, "additionalProperties").is_some_and(|a| a.as_bool() != Some(false)))
    }

    /// The Rust type of a schema; inline objects become structs named `ctx`.
    fn ty(&mut self, s: &Value, ctx: &str) -> Result<String> {
        if let Some(r) = str_of(s, "$ref") {
            return Self::ref_name(r);
        }
        // `allOf: [$ref]` alone only attaches a description to the type it
        // names (Mount.Type is a MountType string): use that type.
        if let Some([only]) = get(s, "allOf")
            .and_then(Value::as_sequence)
            .map(Vec::as_slice)
        {
            if get(s, "properties").is_none() {
                return self.ty(only, ctx);
            }
        }
        if get(s, "allOf").is_some() || get(s, "properties").is_some() {
            let name = self.fresh(ctx);
            self.emit_struct(&name, s)?;
            return Ok(name);
        }
        Ok(match str_of(s, "type") {
            Some("array") => {
                let items = get(s, "items").cloned().unwrap_or(Value::Null);
                let inner = self.ty(&items, &format!("{ctx}Item"))?;
                if nullable(&items) {
                    format!("Vec<Option<{inner}>>")
                } else {
                    format!("Vec<{inner}>")
                }
            }
            Some("string") => "String".into(),
            Some("boolean") => "bool".into(),
            Some("number") => "f64".into(),
            Some("integer") => match str_of(s, "format") {
                Some("uint64") => "u64".into(),
                _ => "i64".into(),
            },
            Some("object") | None => match get(s, "additionalProperties") {
                Some(ap) if ap.is_mapping() && !ap.as_mapping().is_some_and(Mapping::is_empty) => {
                    let inner = self.ty(ap, &format!("{ctx}Value"))?;
                    if nullable(ap) {
                        format!("IndexMap<String, Option<{inner}>>")
                    } else {
                        format!("IndexMap<String, {inner}>")
                    }
                }
                Some(ap) if ap.as_bool() != Some(false) => "IndexMap<String, Value>".into(),
                // `{}` values (ExposedPorts, Volumes): an empty object.
                _ if get(s, "enum")
                    .and_then(Value::as_sequence)
                    .is_some_and(|e| {
                        e.len() == 1 && e[0].as_mapping().is_some_and(Mapping::is_empty)
                    }) =>
                {
                    "EmptyObject".into()
                }
                _ => "Value".into(),
            },
            Some(other) => return Err(anyhow!("{ctx}: unsupported type {other}")),
        })
    }

    /// The properties of a schema with its `allOf` parts merged (a later
    /// part's property replaces an earlier one of the same name), with
    /// [`NULLABLE`]'s corrections applied; `owner` is the definition the
    /// schema is (or `""` for an inline one).
    fn properties(&self, s: &Value, owner: &str, out: &mut Vec<(String, Value)>) -> Result<()> {
        if let Some(r) = str_of(s, "$ref") {
            let def = r.strip_prefix("#/definitions/").unwrap_or(r);
            return self.properties(self.resolve(r)?, def, out);
        }
        for part in get(s, "allOf")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            self.properties(part, owner, out)?;
        }
        for (k, v) in get(s, "properties")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
        {
            let k = k.as_str().context("property name")?.to_string();
            let mut v = v.clone();
            if let Some((_, _, nullable)) = NULLABLE.iter().find(|(d, p, _)| *d == owner && *p == k)
            {
                if let Some(m) = v.as_mapping_mut() {
                    m.insert("x-nullable".into(), Value::Bool(*nullable));
                }
            }
            match out.iter_mut().find(|(n, _)| *n == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        Ok(())
    }

    fn emit_struct(&mut self, name: &str, s: &Value) -> Result<()> {
        let mut props = Vec::new();
        let owner = if self.defs.contains_key(name) {
            name
        } else {
            ""
        };
        self.properties(s, owner, &mut props)?;
        let mut fields = Vec::new();
        let mut taken = HashSet::new();
        for (json, schema) in &props {
            let base = self.ty(schema, &format!("{name}{}", camel(json)))?;
            let ty = if nullable(schema) || self.is_collection(schema)? {
                format!("Option<{base}>")
            } else {
                base
            };
            let mut rust = snake(json);
            while !taken.insert(rust.clone()) {
                rust.push('_');
            }
            fields.push(Field {
                json: json.clone(),
                rust,
                ty,
                doc: doc(schema),
            });
        }
        self.items.push(Item::Struct {
            name: name.to_string(),
            doc: doc(s),
            fields,
        });
        Ok(())
    }

    fn definition(&mut self, name: &str, s: &Value) -> Result<()> {
        if get(s, "allOf").is_some() || get(s, "properties").is_some() {
            return self.emit_struct(&camel(name), s);
        }
        let ty = self.ty(s, &format!("{}Value", camel(name)))?;
        self.items.push(Item::Alias {
            name: camel(name),
            doc: doc(s),
            ty,
        });
        Ok(())
    }

    /// Inline (not `$ref`) body and response schemas of the operations,
    /// named by their `title` or after the operation.
    fn operations(&mut self, paths: &Mapping) -> Result<()> {
        for (_, methods) in paths {
            for (_, op) in methods.as_mapping().into_iter().flatten() {
                let Some(id) = str_of(op, "operationId") else {
                    continue;
                };
                for p in get(op, "parameters")
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                {
                    if str_of(p, "in") == Some("body") {
                        if let Some(s) = get(p, "schema") {
                            self.inline(s, &format!("{id}Body"))?;
                        }
                    }
                }
                for (code, r) in get(op, "responses")
                    .and_then(Value::as_mapping)
                    .into_iter()
                    .flatten()
                {
                    let ok = code.as_u64().is_some_and(|c| (200..300).contains(&c));
                    if let (true, Some(s)) = (ok, get(r, "schema")) {
                        self.inline(s, &format!("{id}Response"))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn inline(&mut self, s: &Value, fallback: &str) -> Result<()> {
        if get(s, "allOf").is_some() || get(s, "properties").is_some() {
            let want = str_of(s, "title")
                .map(camel)
                .unwrap_or_else(|| fallback.to_string());
            let name = self.fresh(&want);
            return self.emit_struct(&name, s);
        }
        if str_of(s, "type") == Some("array") {
            if let Some(items) = get(s, "items") {
                if get(items, "properties").is_some() {
                    let name = self.fresh(&format!("{fallback}Item"));
                    self.emit_struct(&name, items)?;
                }
            }
        }
        Ok(())
    }
}

fn write_doc(out: &mut String, doc: &Option<String>, indent: &str) {
    if let Some(d) = doc {
        let _ = writeln!(out, "{indent}/// {d}");
    }
}

/// The generated module's text, before rustfmt.
pub fn generate(spec_text: &str) -> Result<String> {
    let spec: Value = serde_yaml_ng::from_str(spec_text).context("parsing the spec")?;
    let defs = get(&spec, "definitions")
        .and_then(Value::as_mapping)
        .context("no definitions")?;
    let mut g = Gen {
        defs,
        items: Vec::new(),
        names: defs
            .keys()
            .filter_map(Value::as_str)
            .map(camel)
            .chain(["EmptyObject".to_string()])
            .collect(),
    };
    for (name, s) in defs {
        g.definition(name.as_str().context("definition name")?, s)?;
    }
    if let Some(paths) = get(&spec, "paths").and_then(Value::as_mapping) {
        g.operations(paths)?;
    }
    let mut out = String::from(HEADER);
    for item in &g.items {
        match item {
            Item::Alias { name, doc, ty } => {
                write_doc(&mut out, doc, "");
                let _ = writeln!(out, "pub type {name} = {ty};\n");
            }
            Item::Struct { name, doc, fields } => {
                write_doc(&mut out, doc, "");
                out.push_str(DERIVE);
                let _ = writeln!(out, "pub struct {name} {{");
                for f in fields {
                    write_doc(&mut out, &f.doc, "    ");
                    let _ = writeln!(out, "    #[serde(rename = {:?})]", f.json);
                    let _ = writeln!(out, "    pub {}: {},", f.rust, f.ty);
                }
                out.push_str("}\n\n");
            }
        }
    }
    Ok(out)
}

const HEADER: &str = "\
// Generated by berth-apigen (crates/apigen) from
// crates/api/spec/docker-engine-api-v1.47.yaml: do not edit.
// Regenerate with `cargo run -p berth-apigen`; a test fails when this file
// and the generator's output differ. Longer than 800 lines because the
// spec is.
//! Every definition and inline body schema of Engine API v1.47.

#![allow(clippy::all)]

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A `{}` value (the values of `ExposedPorts` and `Volumes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmptyObject {}

";

const DERIVE: &str =
    "#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]\n#[serde(default)]\n";

/// Formats generated code as `cargo fmt` would.
pub fn rustfmt(code: &str) -> Result<String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("running rustfmt")?;
    child
        .stdin
        .take()
        .context("rustfmt stdin")?
        .write_all(code.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(anyhow!("rustfmt failed"));
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The workspace root (this crate is `crates/apigen`).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_names() {
        assert_eq!(snake("CpuShares"), "cpu_shares");
        assert_eq!(snake("OomKillDisable"), "oom_kill_disable");
        assert_eq!(snake("IOMaximumIOps"), "io_maximum_i_ops");
        assert_eq!(snake("KernelMemoryTCP"), "kernel_memory_tcp");
        assert_eq!(snake("Type"), "r#type");
        assert_eq!(snake("ID"), "id");
        assert_eq!(snake("IPv4Address"), "i_pv4_address");
    }

    /// The checked-in model is exactly what the generator makes of the
    /// checked-in spec.
    #[test]
    fn generated_file_is_up_to_date() {
        let root = workspace_root();
        let spec = std::fs::read_to_string(root.join(SPEC)).unwrap();
        let want = rustfmt(&generate(&spec).unwrap()).unwrap();
        let have = std::fs::read_to_string(root.join(OUTPUT)).unwrap();
        assert!(
            want == have,
            "{OUTPUT} is stale: run `cargo run -p berth-apigen`"
        );
    }
}
