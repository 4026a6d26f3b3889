//! Running the tree over a value: Go's truth, fields, variables, pipelines.

use serde_json::{Map, Value};

use super::funcs::call;
use super::funcs::go_type;
use super::print::{text_of, to_text};
use super::{Missing, Node, Pipe, Term};

pub(super) struct State<'a> {
    pub(super) src: &'a str,
    pub(super) vars: Vec<(String, Value)>,
    pub(super) missing: &'a Missing,
    pub(super) header: bool,
}

/// Go's truth: false, 0, nil and empty things are false.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Fields that are Go maps in docker's types (printed `map[k:v]`);
/// other objects are structs (printed `{v1 v2}`).
pub(super) const MAP_FIELDS: &[&str] = &[
    "Labels",
    "Volumes",
    "ExposedPorts",
    "Ports",
    "Networks",
    "Options",
    "Data",
    "DriverOpts",
    "Sysctls",
    "StorageOpt",
    "Tmpfs",
    "Attributes",
    "Config",
    "DriverData",
    "Annotations",
    "Containers",
];

/// Pointer fields docker's inspect types may omit: they print `<nil>`.
pub(super) const NIL_FIELDS: &[&str] = &["Health", "SizeRw", "SizeRootFs", "Node", "Healthcheck"];

/// `omitempty` string fields of docker's typed documents (a network's
/// `IPAM.Config` entries): absent from the JSON, `""` to a template.
pub(super) const OMITTED_STRINGS: &[&str] = &["Subnet", "IPRange", "Gateway"];

/// Fields that are Go slices: a JSON `null` there prints `[]`.
pub(super) const SLICE_FIELDS: &[&str] = &[
    "Cmd",
    "Entrypoint",
    "Env",
    "Binds",
    "Links",
    "CapAdd",
    "CapDrop",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "SecurityOpt",
    "OnBuild",
    "Shell",
    "RepoTags",
    "RepoDigests",
    "Aliases",
    "Mounts",
    "ExecIDs",
    "Args",
    "Devices",
    "GroupAdd",
    "Layers",
];

impl State<'_> {
    fn pos(&self, offset: usize) -> String {
        let before = &self.src[..offset.min(self.src.len())];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(n) => offset - n - 1,
            None => offset,
        };
        format!("template: :{line}:{col}")
    }

    pub(super) fn nodes(
        &mut self,
        nodes: &[Node],
        dot: &Value,
        out: &mut String,
    ) -> Result<(), String> {
        for n in nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(p) => {
                    let (v, name) = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        out.push_str(&text_of(&v, name.as_deref()));
                    }
                }
                Node::If(branches, otherwise) => {
                    let mark = self.vars.len();
                    let mut done = false;
                    for (cond, body) in branches {
                        let v = self.pipe(cond, dot)?.0;
                        // A header's missing key is Go's nil: printed
                        // `<no value>`, false in a condition.
                        let nil = self.header && v.as_str() == Some("<no value>");
                        if !nil && truthy(&v) {
                            self.nodes(body, dot, out)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.nodes(otherwise, dot, out)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::With(p, body, otherwise) => {
                    let mark = self.vars.len();
                    let (v, _) = self.pipe(p, dot)?;
                    if truthy(&v) {
                        self.nodes(body, &v, out)?;
                    } else {
                        self.nodes(otherwise, dot, out)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(p, body, otherwise) => {
                    let mark = self.vars.len();
                    let decl = p.decl.clone();
                    let bare = Pipe {
                        decl: vec![],
                        assign: false,
                        cmds: p.cmds.clone(),
                    };
                    let (v, _) = self.pipe(&bare, dot)?;
                    let items: Vec<(Value, Value)> = match v {
                        Value::Array(a) => a
                            .into_iter()
                            .enumerate()
                            .map(|(i, x)| (Value::from(i), x))
                            .collect(),
                        Value::Object(m) => {
                            let mut kv: Vec<(String, Value)> = m.into_iter().collect();
                            kv.sort_by(|a, b| a.0.cmp(&b.0));
                            kv.into_iter().map(|(k, x)| (Value::String(k), x)).collect()
                        }
                        Value::Number(n) if n.as_i64().is_some() => (0..n.as_i64().unwrap_or(0))
                            .map(|i| (Value::from(i), Value::from(i)))
                            .collect(),
                        Value::Null => vec![],
                        other => {
                            return Err(format!("range can't iterate over {}", to_text(&other)))
                        }
                    };
                    if items.is_empty() {
                        self.nodes(otherwise, dot, out)?;
                    }
                    for (k, x) in items {
                        let inner = self.vars.len();
                        match decl.len() {
                            1 => self.vars.push((decl[0].clone(), x.clone())),
                            2 => {
                                self.vars.push((decl[0].clone(), k));
                                self.vars.push((decl[1].clone(), x.clone()));
                            }
                            _ => {}
                        }
                        self.nodes(body, &x, out)?;
                        self.vars.truncate(inner);
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<(Value, Option<String>), String> {
        let mut piped: Option<Value> = None;
        let mut name = None;
        for cmd in &p.cmds {
            let (v, n) = self.command(cmd, dot, piped.take())?;
            piped = Some(v);
            name = n;
        }
        let v = piped.unwrap_or(Value::Null);
        if !p.decl.is_empty() {
            if p.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(k, _)| *k == p.decl[0]) {
                    slot.1 = v.clone();
                }
            } else {
                self.vars.push((p.decl[0].clone(), v.clone()));
            }
        }
        Ok((v, name))
    }

    fn command(
        &mut self,
        cmd: &[Term],
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<(Value, Option<String>), String> {
        match &cmd[0] {
            Term::Ident(f, pos) => {
                let mut args = Vec::new();
                for t in &cmd[1..] {
                    args.push(self.term(t, dot)?.0);
                }
                if let Some(p) = piped {
                    args.push(p);
                }
                let v = call(self.header, f, args)
                    .map_err(|e| format!("{}: executing \"\" at <{f}>: {e}", self.pos(*pos)))?;
                Ok((v, None))
            }
            Term::Field(fields, pos) if cmd.len() > 1 || piped.is_some() => {
                // A method call: docker's `.Label "name"` on formatter rows.
                let mut args = Vec::new();
                for t in &cmd[1..] {
                    args.push(self.term(t, dot)?.0);
                }
                args.extend(piped);
                if fields.last().map(String::as_str) == Some("Label") && args.len() == 1 {
                    let key = to_text(&args[0]);
                    if self.header {
                        let last = key.rsplit('.').next().unwrap_or("");
                        return Ok((Value::String(last.replace(['-', '_'], " ")), None));
                    }
                    let labels = dot.get("Labels").and_then(Value::as_str).unwrap_or("");
                    let found = labels.split(',').find_map(|kv| {
                        kv.split_once('=')
                            .filter(|(k, _)| *k == key)
                            .map(|(_, v)| v.to_string())
                    });
                    return Ok((Value::String(found.unwrap_or_default()), None));
                }
                Err(format!(
                    "{}: executing \"\" at <.{}>: {} has arguments but cannot accept any",
                    self.pos(*pos),
                    fields.join("."),
                    fields.last().cloned().unwrap_or_default()
                ))
            }
            t => {
                if cmd.len() > 1 || piped.is_some() {
                    // Go's wording, under the template prefix every error
                    // from a template carries.
                    let (value, _) = self.term(t, dot)?;
                    return Err(format!(
                        "template: :1: executing \"\": can't give argument to non-function {}",
                        to_text(&value)
                    ));
                }
                self.term(t, dot)
            }
        }
    }

    fn fields(
        &self,
        mut cur: Value,
        fields: &[String],
        pos: usize,
        node: &str,
    ) -> Result<(Value, Option<String>), String> {
        let mut name = None;
        for f in fields {
            cur = match cur {
                Value::Object(mut m) => match m.remove(f) {
                    Some(Value::Null) if SLICE_FIELDS.contains(&f.as_str()) => Value::Array(vec![]),
                    Some(Value::Null) if MAP_FIELDS.contains(&f.as_str()) => {
                        Value::Object(Map::new())
                    }
                    Some(v) => v,
                    None if self.header => Value::String("<no value>".into()),
                    // Optional pointers of docker's typed documents: nil, not missing.
                    None if self.missing == &Missing::MapKey
                        && NIL_FIELDS.contains(&f.as_str()) =>
                    {
                        Value::Null
                    }
                    None if self.missing == &Missing::MapKey
                        && OMITTED_STRINGS.contains(&f.as_str()) =>
                    {
                        Value::String(String::new())
                    }
                    None if self.missing == &Missing::MapKey && f == "AuxiliaryAddresses" => {
                        Value::Object(Map::new())
                    }
                    None => {
                        let why = match self.missing {
                            Missing::MapKey => format!("map has no entry for key \"{f}\""),
                            Missing::Field(t) => {
                                format!("can't evaluate field {f} in type {t}")
                            }
                        };
                        return Err(format!(
                            "{}: executing \"\" at <{node}>: {why}",
                            self.pos(pos)
                        ));
                    }
                },
                Value::Null => {
                    return Err(format!(
                        "{}: executing \"\" at <{node}>: nil pointer evaluating interface {{}}.{f}",
                        self.pos(pos)
                    ))
                }
                other => {
                    return Err(format!(
                        "{}: executing \"\" at <{node}>: can't evaluate field {f} in type {}",
                        self.pos(pos),
                        go_type(&other)
                    ))
                }
            };
            name = Some(f.clone());
        }
        Ok((cur, name))
    }

    fn term(&mut self, t: &Term, dot: &Value) -> Result<(Value, Option<String>), String> {
        match t {
            Term::Dot => Ok((dot.clone(), None)),
            Term::Field(fields, pos) => {
                let node = format!(".{}", fields.join("."));
                self.fields(dot.clone(), fields, *pos, &node)
            }
            Term::Var(name, fields, pos) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("template: :1: undefined variable: {name}"))?;
                let node = if fields.is_empty() {
                    name.clone()
                } else {
                    format!("{name}.{}", fields.join("."))
                };
                self.fields(v, fields, *pos, &node)
            }
            Term::Str(s) => Ok((Value::String(s.clone()), None)),
            Term::Num(n) => Ok((n.clone(), None)),
            Term::Bool(b) => Ok((Value::Bool(*b), None)),
            Term::Nil => Ok((Value::Null, None)),
            Term::Ident(f, pos) => {
                let v = call(self.header, f, vec![])
                    .map_err(|e| format!("{}: executing \"\" at <{f}>: {e}", self.pos(*pos)))?;
                Ok((v, None))
            }
            Term::Sub(p, fields, pos) => {
                let (v, _) = self.pipe(p, dot)?;
                if fields.is_empty() {
                    return Ok((v, None));
                }
                self.fields(v, fields, *pos, &format!("(...).{}", fields.join(".")))
            }
        }
    }
}
