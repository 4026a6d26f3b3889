//! Go's `text/template` over JSON values, with docker's functions.
//!
//! Hand-written because no crate fits: `gtmpl` (the Rust port) has had no
//! release since 2021, has its own value model and none of docker's
//! semantics: `missingkey=error` on inspect documents, Go's `%v` printing
//! (sorted `map[k:v]`, `{struct fields}`, `<nil>`), `json` with Go's HTML
//! escaping, error texts with `:line:col` positions, and the header
//! functions of `table` formats. This covers what docker users type:
//! fields and chains, variables, `if`/`else if`/`else`, `range` (with
//! `$i, $v :=`), `with`, pipelines, parentheses, comments, trim markers, Go's
//! builtins (`and or not len index print printf println eq ne lt le gt ge
//! slice`) and docker's (`json split join title lower upper pad truncate`).

use serde_json::{Map, Value};

/// How a missing field is reported: `map has no entry for key` (inspect's
/// raw documents) or `can't evaluate field X in type T` (formatter rows).
#[derive(Debug, Clone, PartialEq)]
pub enum Missing {
    MapKey,
    Field(String),
}

#[derive(Debug, Clone)]
pub struct Template {
    src: String,
    nodes: Vec<Node>,
    /// A `table` prefix asks for a header row and aligned columns.
    pub table: bool,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipe),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone)]
struct Pipe {
    decl: Vec<String>,
    assign: bool,
    cmds: Vec<Vec<Term>>,
}

#[derive(Debug, Clone)]
enum Term {
    Dot,
    /// A field chain on dot, with the chain's position and its text.
    Field(Vec<String>, usize),
    /// `$x.A.B`.
    Var(String, Vec<String>, usize),
    Str(String),
    Num(Value),
    Bool(bool),
    Nil,
    Ident(String, usize),
    /// `(pipeline).A.B`
    Sub(Box<Pipe>, Vec<String>, usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(String),
    /// A field right after an operand, no space between: `.A.B`, `$x.B`, `(..).B`.
    Chain(String),
    Var(String),
    Str(String),
    Num(String),
    Ident(String),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

fn lex_action(s: &str, base: usize) -> Result<Vec<(Tok, usize)>, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let ident = |b: &[u8], mut j: usize| {
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
            j += 1;
        }
        j
    };
    while i < b.len() {
        let c = b[i];
        let pos = base + i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((Tok::LParen, pos));
                i += 1
            }
            b')' => {
                out.push((Tok::RParen, pos));
                i += 1
            }
            b'|' => {
                out.push((Tok::Pipe, pos));
                i += 1
            }
            b',' => {
                out.push((Tok::Comma, pos));
                i += 1
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                out.push((Tok::Declare, pos));
                i += 2
            }
            b'=' => {
                out.push((Tok::Assign, pos));
                i += 1
            }
            b'.' if b.get(i + 1).is_some_and(|d| d.is_ascii_digit()) => {
                let j = number_end(b, i);
                out.push((Tok::Num(s[i..j].to_string()), pos));
                i = j
            }
            b'.' => {
                let j = ident(b, i + 1);
                let name = s[i + 1..j].to_string();
                let glued = i > 0
                    && !b[i - 1].is_ascii_whitespace()
                    && matches!(
                        out.last(),
                        Some((Tok::Field(_) | Tok::Chain(_) | Tok::Var(_) | Tok::RParen, _))
                    )
                    && !name.is_empty();
                out.push((
                    if glued {
                        Tok::Chain(name)
                    } else {
                        Tok::Field(name)
                    },
                    pos,
                ));
                i = j
            }
            b'$' => {
                let j = ident(b, i + 1);
                out.push((Tok::Var(s[i..j].to_string()), pos));
                i = j
            }
            b'"' => {
                let mut j = i + 1;
                let mut v = String::new();
                loop {
                    let Some(&d) = b.get(j) else {
                        return Err("unterminated quoted string".into());
                    };
                    match d {
                        b'"' => break,
                        b'\\' => {
                            let e = *b.get(j + 1).ok_or("unterminated quoted string")?;
                            v.push(match e {
                                b'n' => '\n',
                                b't' => '\t',
                                b'r' => '\r',
                                b'0' => '\0',
                                other => other as char,
                            });
                            j += 2;
                        }
                        _ => {
                            let ch = s[j..].chars().next().unwrap_or('\0');
                            v.push(ch);
                            j += ch.len_utf8();
                        }
                    }
                }
                out.push((Tok::Str(v), pos));
                i = j + 1
            }
            b'`' => {
                let end = s[i + 1..]
                    .find('`')
                    .ok_or("unterminated raw quoted string")?;
                out.push((Tok::Str(s[i + 1..i + 1 + end].to_string()), pos));
                i += end + 2
            }
            b'\'' => {
                let ch = s[i + 1..]
                    .chars()
                    .next()
                    .ok_or("unterminated character constant")?;
                out.push((Tok::Num((ch as u32).to_string()), pos));
                i += 2 + ch.len_utf8()
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let j = number_end(b, i + 1);
                out.push((Tok::Num(s[i..j].to_string()), pos));
                i = j
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let j = ident(b, i);
                out.push((Tok::Ident(s[i..j].to_string()), pos));
                i = j
            }
            _ => {
                return Err(format!(
                    "unexpected {:?} in command",
                    s[i..].chars().next().unwrap_or('?')
                ))
            }
        }
    }
    Ok(out)
}

fn number_end(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.' || b[j] == b'_') {
        j += 1;
    }
    j
}

/// One `{{...}}` or a run of text, with the byte offset of its contents.
enum Piece {
    Text(String),
    Action(String, usize),
}

fn split_pieces(src: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut trim_next = false;
    while let Some(rel) = src[at..].find("{{") {
        let start = at + rel;
        let mut text = &src[at..start];
        if trim_next {
            text = text.trim_start();
        }
        let mut inner_start = start + 2;
        let trim_left = src[inner_start..].starts_with("- ")
            || src[inner_start..].starts_with("-\t")
            || src[inner_start..].starts_with("-\n");
        if trim_left {
            text = text.trim_end();
            inner_start += 1;
        }
        let close = src[inner_start..]
            .find("}}")
            .ok_or_else(|| "unclosed action".to_string())?
            + inner_start;
        let mut inner_end = close;
        trim_next = false;
        if close > inner_start + 1
            && src.as_bytes()[close - 1] == b'-'
            && src.as_bytes()[close - 2].is_ascii_whitespace()
        {
            inner_end -= 1;
            trim_next = true;
        }
        if !text.is_empty() {
            out.push(Piece::Text(text.to_string()));
        }
        out.push(Piece::Action(
            src[inner_start..inner_end].to_string(),
            inner_start,
        ));
        at = close + 2;
    }
    let mut rest = &src[at..];
    if trim_next {
        rest = rest.trim_start();
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

struct Parser {
    pieces: Vec<Piece>,
    at: usize,
}

enum Stop {
    End,
    Else(Option<Pipe>),
    Eof,
}

impl Parser {
    fn list(&mut self) -> Result<(Vec<Node>, Stop), String> {
        let mut nodes = Vec::new();
        while self.at < self.pieces.len() {
            let piece = std::mem::replace(&mut self.pieces[self.at], Piece::Text(String::new()));
            self.at += 1;
            let (action, base) = match piece {
                Piece::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Piece::Action(a, base) => (a, base),
            };
            let trimmed = action.trim();
            if trimmed.starts_with("/*") {
                continue;
            }
            let toks = lex_action(&action, base)?;
            let Some((first, _)) = toks.first() else {
                return Err("missing value for command".into());
            };
            match first {
                Tok::Ident(k) if k == "end" => return Ok((nodes, Stop::End)),
                Tok::Ident(k) if k == "else" => {
                    let rest = &toks[1..];
                    let cond = match rest.first() {
                        Some((Tok::Ident(k), _)) if k == "if" => {
                            Some(parse_pipe(&rest[1..], true)?)
                        }
                        Some(_) => return Err("unexpected token after else".into()),
                        None => None,
                    };
                    return Ok((nodes, Stop::Else(cond)));
                }
                Tok::Ident(k) if k == "if" => {
                    let mut branches = vec![];
                    let mut cond = parse_pipe(&toks[1..], true)?;
                    loop {
                        let (body, stop) = self.list()?;
                        branches.push((cond, body));
                        match stop {
                            Stop::End => {
                                nodes.push(Node::If(branches, vec![]));
                                break;
                            }
                            Stop::Else(Some(c)) => cond = c,
                            Stop::Else(None) => {
                                let (otherwise, stop) = self.list()?;
                                if !matches!(stop, Stop::End) {
                                    return Err("unexpected EOF".into());
                                }
                                nodes.push(Node::If(branches, otherwise));
                                break;
                            }
                            Stop::Eof => return Err("unexpected EOF".into()),
                        }
                    }
                }
                Tok::Ident(k) if k == "range" || k == "with" => {
                    let is_range = k == "range";
                    let pipe = parse_pipe(&toks[1..], true)?;
                    let (body, stop) = self.list()?;
                    let otherwise = match stop {
                        Stop::End => vec![],
                        Stop::Else(None) => {
                            let (o, stop) = self.list()?;
                            if !matches!(stop, Stop::End) {
                                return Err("unexpected EOF".into());
                            }
                            o
                        }
                        _ => return Err("unexpected EOF".into()),
                    };
                    nodes.push(if is_range {
                        Node::Range(pipe, body, otherwise)
                    } else {
                        Node::With(pipe, body, otherwise)
                    });
                }
                _ => nodes.push(Node::Action(parse_pipe(&toks, true)?)),
            }
        }
        Ok((nodes, Stop::Eof))
    }
}

fn parse_pipe(toks: &[(Tok, usize)], allow_decl: bool) -> Result<Pipe, String> {
    let mut decl = Vec::new();
    let mut assign = false;
    let mut rest = toks;
    if allow_decl {
        let mut i = 0;
        let mut vars = Vec::new();
        while let Some((Tok::Var(v), _)) = rest.get(i) {
            vars.push(v.clone());
            match rest.get(i + 1) {
                Some((Tok::Comma, _)) => i += 2,
                Some((Tok::Declare, _)) | Some((Tok::Assign, _)) => {
                    assign = matches!(rest[i + 1].0, Tok::Assign);
                    decl = vars.clone();
                    rest = &rest[i + 2..];
                    break;
                }
                _ => break,
            }
        }
    }
    let mut cmds = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        match &rest[i].0 {
            Tok::Pipe => {
                if cur.is_empty() {
                    return Err("missing command".into());
                }
                cmds.push(std::mem::take(&mut cur));
                i += 1;
            }
            _ => {
                let (t, n) = parse_term(&rest[i..])?;
                cur.push(t);
                i += n;
            }
        }
    }
    if cur.is_empty() {
        return Err("missing value for command".into());
    }
    cmds.push(cur);
    Ok(Pipe { decl, assign, cmds })
}

fn parse_term(toks: &[(Tok, usize)]) -> Result<(Term, usize), String> {
    let (tok, pos) = &toks[0];
    let mut used = 1;
    let chain = |toks: &[(Tok, usize)], used: &mut usize| {
        let mut fields = Vec::new();
        let mut second = None;
        while let Some((Tok::Chain(f), p)) = toks.get(*used) {
            second.get_or_insert(*p);
            fields.push(f.clone());
            *used += 1;
        }
        (fields, second)
    };
    let term = match tok {
        Tok::Field(f) if f.is_empty() => {
            // A lone `.`; `. .X` is two operands.
            Term::Dot
        }
        Tok::Field(f) => {
            let (more, second) = chain(toks, &mut used);
            let mut fields = vec![f.clone()];
            fields.extend(more);
            Term::Field(fields, second.unwrap_or(*pos))
        }
        Tok::Var(v) => {
            let (fields, second) = chain(toks, &mut used);
            Term::Var(v.clone(), fields, second.unwrap_or(*pos))
        }
        Tok::Str(s) => Term::Str(s.clone()),
        Tok::Num(n) => Term::Num(parse_number(n)?),
        Tok::Ident(i) if i == "true" => Term::Bool(true),
        Tok::Ident(i) if i == "false" => Term::Bool(false),
        Tok::Ident(i) if i == "nil" => Term::Nil,
        Tok::Ident(i) => Term::Ident(i.clone(), *pos),
        Tok::LParen => {
            let mut depth = 1;
            let mut j = 1;
            while j < toks.len() {
                match toks[j].0 {
                    Tok::LParen => depth += 1,
                    Tok::RParen => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if depth != 0 {
                return Err("unclosed left paren".into());
            }
            let inner = parse_pipe(&toks[1..j], false)?;
            used = j + 1;
            let (fields, second) = chain(toks, &mut used);
            Term::Sub(Box::new(inner), fields, second.unwrap_or(*pos))
        }
        Tok::RParen => return Err("unexpected right paren".into()),
        other => return Err(format!("unexpected {other:?} in operand")),
    };
    Ok((term, used))
}

fn parse_number(n: &str) -> Result<Value, String> {
    let clean = n.replace('_', "");
    if let Ok(i) = clean.parse::<i64>() {
        return Ok(Value::from(i));
    }
    if let Some(h) = clean.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(h, 16) {
            return Ok(Value::from(i));
        }
    }
    clean
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| format!("bad number syntax: {n:?}"))
}

impl Template {
    /// Parses a template; docker's `table` prefix is noted and removed.
    /// Errors read as Go's (`template: :1: unclosed action`).
    pub fn parse(src: &str) -> Result<Template, String> {
        let (table, body) = match src.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start().to_string()),
            None => (false, src.to_string()),
        };
        // docker expands the two escapes users type in a shell.
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let pieces = split_pieces(&body).map_err(|e| format!("template: :1: {e}"))?;
        let mut p = Parser { pieces, at: 0 };
        let (nodes, stop) = p.list().map_err(|e| format!("template: :1: {e}"))?;
        match stop {
            Stop::Eof => {}
            Stop::End => return Err("template: :1: unexpected {{end}}".into()),
            Stop::Else(_) => return Err("template: :1: unexpected {{else}}".into()),
        }
        Ok(Template {
            src: body,
            nodes,
            table,
        })
    }

    /// Renders with `missingkey=error` over maps (inspect's documents).
    pub fn render(&self, v: &Value) -> Result<String, String> {
        self.render_with(v, &Missing::MapKey)
    }

    pub fn render_with(&self, v: &Value, missing: &Missing) -> Result<String, String> {
        let mut st = State {
            src: &self.src,
            vars: vec![("$".into(), v.clone())],
            missing,
            header: false,
        };
        let mut out = String::new();
        st.nodes(&self.nodes, v, &mut out)?;
        Ok(out)
    }

    /// The header row of a `table` format: the template run over the
    /// column titles, with docker's header functions (each returns its
    /// argument). Stops at the first error, as docker's does.
    pub fn render_header(&self, headers: &Value) -> String {
        let mut st = State {
            src: &self.src,
            vars: vec![("$".into(), headers.clone())],
            missing: &Missing::MapKey,
            header: true,
        };
        let mut out = String::new();
        let _ = st.nodes(&self.nodes, headers, &mut out);
        out
    }
}

struct State<'a> {
    src: &'a str,
    vars: Vec<(String, Value)>,
    missing: &'a Missing,
    header: bool,
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
const MAP_FIELDS: &[&str] = &[
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
const NIL_FIELDS: &[&str] = &["Health", "SizeRw", "SizeRootFs", "Node", "Healthcheck"];

/// `omitempty` string fields of docker's typed documents (a network's
/// `IPAM.Config` entries): absent from the JSON, `""` to a template.
const OMITTED_STRINGS: &[&str] = &["Subnet", "IPRange", "Gateway"];

/// Fields that are Go slices: a JSON `null` there prints `[]`.
const SLICE_FIELDS: &[&str] = &[
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

    fn nodes(&mut self, nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), String> {
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
                let v = self
                    .call(f, args)
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
                let v = self
                    .call(f, vec![])
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

    fn call(&self, f: &str, args: Vec<Value>) -> Result<Value, String> {
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
        let want = |n: usize| {
            if args.len() != n {
                Err(format!(
                    "wrong number of args for {f}: want {n} got {}",
                    args.len()
                ))
            } else {
                Ok(())
            }
        };
        if self.header
            && matches!(
                f,
                "json" | "split" | "join" | "title" | "lower" | "upper" | "pad" | "truncate"
            )
        {
            return Ok(Value::String(to_text(&arg(0))));
        }
        Ok(match f {
            "json" => {
                want(1)?;
                Value::String(go_json(&arg(0)))
            }
            "upper" => Value::String(to_text(&arg(0)).to_uppercase()),
            "lower" => Value::String(to_text(&arg(0)).to_lowercase()),
            "title" => Value::String(title(&to_text(&arg(0)))),
            "split" => {
                want(2)?;
                let s = to_text(&arg(0));
                let sep = to_text(&arg(1));
                let parts: Vec<Value> = if sep.is_empty() {
                    s.chars().map(|c| Value::String(c.to_string())).collect()
                } else {
                    s.split(sep.as_str())
                        .map(|p| Value::String(p.to_string()))
                        .collect()
                };
                Value::Array(parts)
            }
            "join" => {
                want(2)?;
                let sep = to_text(&arg(1));
                match arg(0) {
                    Value::Array(a) => {
                        Value::String(a.iter().map(to_text).collect::<Vec<_>>().join(&sep))
                    }
                    Value::Null => Value::String(String::new()),
                    other => {
                        return Err(format!(
                            "wrong type for value; expected []string; got {}",
                            go_type(&other)
                        ))
                    }
                }
            }
            "pad" => {
                want(3)?;
                let n = |v: &Value| v.as_i64().unwrap_or(0).max(0) as usize;
                Value::String(format!(
                    "{}{}{}",
                    " ".repeat(n(&arg(1))),
                    to_text(&arg(0)),
                    " ".repeat(n(&arg(2)))
                ))
            }
            "truncate" => {
                want(2)?;
                let s = to_text(&arg(0));
                let n = arg(1).as_i64().unwrap_or(0).max(0) as usize;
                Value::String(s.chars().take(n).collect())
            }
            "len" => {
                want(1)?;
                Value::from(match arg(0) {
                    Value::Array(a) => a.len(),
                    Value::Object(o) => o.len(),
                    Value::String(s) => s.len(),
                    other => {
                        return Err(format!(
                            "error calling len: len of type {}",
                            go_type(&other)
                        ))
                    }
                })
            }
            "index" => {
                let mut cur = arg(0);
                for k in args.iter().skip(1) {
                    cur = match (&cur, k) {
                        (Value::Object(m), Value::String(k)) => {
                            m.get(k).cloned().unwrap_or(Value::Null)
                        }
                        (Value::Array(a), Value::Number(n)) => {
                            let i = n.as_i64().unwrap_or(-1);
                            if i < 0 || i as usize >= a.len() {
                                return Err(format!(
                                    "error calling index: index out of range: {i}"
                                ));
                            }
                            a[i as usize].clone()
                        }
                        (Value::Null, _) => {
                            return Err("error calling index: index of untyped nil".into())
                        }
                        _ => {
                            return Err(format!(
                                "error calling index: cannot index slice/array with type {}",
                                go_type(k)
                            ))
                        }
                    };
                }
                cur
            }
            "slice" => {
                let s = arg(0);
                let from = args.get(1).and_then(Value::as_i64).unwrap_or(0).max(0) as usize;
                match s {
                    Value::String(st) => {
                        let to = args
                            .get(2)
                            .and_then(Value::as_i64)
                            .map(|t| t as usize)
                            .unwrap_or(st.len());
                        Value::String(st.get(from..to).unwrap_or("").to_string())
                    }
                    Value::Array(a) => {
                        let to = args
                            .get(2)
                            .and_then(Value::as_i64)
                            .map(|t| t as usize)
                            .unwrap_or(a.len());
                        Value::Array(a.get(from..to).map(<[Value]>::to_vec).unwrap_or_default())
                    }
                    _ => return Err("error calling slice: can't slice item".into()),
                }
            }
            "print" => Value::String(go_print(&args)),
            "println" => Value::String(format!(
                "{}\n",
                args.iter().map(to_text).collect::<Vec<_>>().join(" ")
            )),
            "printf" => {
                let fmt = to_text(&arg(0));
                Value::String(sprintf(&fmt, &args[1.min(args.len())..]))
            }
            "not" => {
                want(1)?;
                Value::Bool(!truthy(&arg(0)))
            }
            "and" => args
                .iter()
                .find(|a| !truthy(a))
                .or(args.last())
                .cloned()
                .unwrap_or(Value::Null),
            "or" => args
                .iter()
                .find(|a| truthy(a))
                .or(args.last())
                .cloned()
                .unwrap_or(Value::Null),
            "eq" => {
                if args.len() < 2 {
                    return Err("error calling eq: missing argument for comparison".into());
                }
                Value::Bool(args[1..].iter().any(|v| values_eq(&args[0], v)))
            }
            "ne" => {
                want(2)?;
                Value::Bool(!values_eq(&args[0], &args[1]))
            }
            "lt" | "le" | "gt" | "ge" => {
                want(2)?;
                let ord = compare(&args[0], &args[1]).ok_or_else(|| {
                    format!("error calling {f}: incompatible types for comparison")
                })?;
                Value::Bool(match f {
                    "lt" => ord.is_lt(),
                    "le" => ord.is_le(),
                    "gt" => ord.is_gt(),
                    _ => ord.is_ge(),
                })
            }
            _ => return Err(format!("function \"{f}\" not defined")),
        })
    }
}

fn values_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "interface {}",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// strings.Title: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        if !prev_letter && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn go_print(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !a.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        out.push_str(&to_text(a));
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%s %v %d %q %t %f %x %X %%`
/// with flags `-`, `0`, `+`, width and precision.
pub fn sprintf(fmt: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut n = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut zero, mut plus) = (false, false, false);
        while let Some(&f) = it.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            it.next();
        }
        let mut width = String::new();
        while let Some(&d) = it.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            it.next();
        }
        let mut prec: Option<usize> = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = String::new();
            while let Some(&d) = it.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                it.next();
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(a) = args.get(n) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        n += 1;
        let mut s = match verb {
            'd' => match a.as_i64() {
                Some(i) if plus && i >= 0 => format!("+{i}"),
                Some(i) => i.to_string(),
                None => format!("%!d({})", to_text(a)),
            },
            'f' | 'F' => match a.as_f64() {
                Some(x) => format!("{:.*}", prec.unwrap_or(6), x),
                None => format!("%!f({})", to_text(a)),
            },
            'q' => serde_json::to_string(&to_text(a)).unwrap_or_default(),
            'x' | 'X' => {
                let h = match a {
                    Value::Number(x) if x.as_i64().is_some() => {
                        format!("{:x}", x.as_i64().unwrap_or(0))
                    }
                    other => to_text(other).bytes().map(|b| format!("{b:02x}")).collect(),
                };
                if verb == 'X' {
                    h.to_uppercase()
                } else {
                    h
                }
            }
            't' => match a {
                Value::Bool(b) => b.to_string(),
                other => format!("%!t({})", to_text(other)),
            },
            _ => {
                let t = to_text(a);
                match prec {
                    Some(p) if verb == 's' || verb == 'v' => t.chars().take(p).collect(),
                    _ => t,
                }
            }
        };
        if let Ok(w) = width.parse::<usize>() {
            let len = s.chars().count();
            if len < w {
                let pad = w - len;
                if left {
                    s.push_str(&" ".repeat(pad));
                } else if zero && matches!(verb, 'd' | 'f' | 'x' | 'X') {
                    let sign = s.starts_with(['-', '+']);
                    let at = usize::from(sign);
                    s.insert_str(at, &"0".repeat(pad));
                } else {
                    s.insert_str(0, &" ".repeat(pad));
                }
            }
        }
        out.push_str(&s);
    }
    if n < args.len() {
        out.push_str("%!(EXTRA ");
        out.push_str(
            &args[n..]
                .iter()
                .map(|a| format!("{}={}", go_type(a), to_text(a)))
                .collect::<Vec<_>>()
                .join(", "),
        );
        out.push(')');
    }
    out
}

/// Go's `%v` of a decoded value, as docker prints template results.
pub fn to_text(v: &Value) -> String {
    text_of(v, None)
}

fn text_of(v: &Value, field: Option<&str>) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|x| text_of(x, None))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Value::Object(m) if field.is_some_and(|f| MAP_FIELDS.contains(&f)) => {
            let mut kv: Vec<(&String, &Value)> = m.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            format!(
                "map[{}]",
                kv.iter()
                    .map(|(k, x)| format!("{k}:{}", text_of(x, None)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        Value::Object(m) if field.is_none() && looks_like_map(m) => {
            let mut kv: Vec<(&String, &Value)> = m.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            format!(
                "map[{}]",
                kv.iter()
                    .map(|(k, x)| format!("{k}:{}", text_of(x, None)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, x)| match x {
                    Value::Null if SLICE_FIELDS.contains(&k.as_str()) => "[]".to_string(),
                    Value::Null if MAP_FIELDS.contains(&k.as_str()) => "map[]".to_string(),
                    _ => text_of(x, Some(k)),
                })
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// A top-level object prints as a Go struct when its keys look like
/// exported field names (Capitalised), else as a map.
fn looks_like_map(m: &Map<String, Value>) -> bool {
    m.is_empty()
        || m.keys()
            .any(|k| !k.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
}

/// Go's `json.Marshal`: compact, with `<`, `>` and `&` escaped.
pub fn go_json(v: &Value) -> String {
    go_json_escape(&serde_json::to_string(v).unwrap_or_default())
}

/// Go's JSON encoder escapes `<`, `>` and `&` (in JSON text they only occur
/// inside strings).
pub use berth_client::config::go_json_escape;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "Name": "/web",
            "State": {"Status": "running", "Running": true, "Pid": 42, "Health": null},
            "Config": {"Env": ["A=1", "B=2"], "Cmd": null, "Labels": {"z": "1", "a": "2"}},
            "RestartCount": 0,
            "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}}
        })
    }

    fn r(t: &str) -> String {
        Template::parse(t).unwrap().render(&doc()).unwrap()
    }

    #[test]
    fn fields_and_functions() {
        assert_eq!(r("{{.State.Pid}}"), "42");
        assert_eq!(r("{{ .RestartCount }}"), "0");
        assert_eq!(r("{{json .Config.Env}}"), r#"["A=1","B=2"]"#);
        assert_eq!(r("{{join .Config.Env \",\"}}"), "A=1,B=2");
        assert_eq!(r("{{.Name | upper}}"), "/WEB");
        assert_eq!(r("{{.Name | lower | title}}"), "/Web");
        assert_eq!(r("{{index .Config.Labels \"a\"}}"), "2");
        assert_eq!(r("{{index .Config.Env 1}}"), "B=2");
        assert_eq!(r("{{len .Config.Env}}"), "2");
        assert_eq!(r("{{split \"a:b:c\" \":\"}}"), "[a b c]");
        assert_eq!(
            r("{{printf \"%s-%d|%5s|%-3d|\" .Name .State.Pid \"x\" 7}}"),
            "/web-42|    x|7  |"
        );
        assert_eq!(r("{{println .Name}}"), "/web\n");
        assert_eq!(r("{{truncate .Name 2}}|{{pad .Name 1 1}}"), "/w| /web ");
        assert_eq!(r("{{(index .Config.Env 0) | len}}"), "3");
        assert_eq!(
            r("{{.Config.Cmd}} {{.State.Health}} {{.Config.Labels}}"),
            "[] <nil> map[a:2 z:1]"
        );
        assert_eq!(r("{{json .State.Health}}"), "null");
        assert_eq!(r("{{json \"<a>\"}}"), "\"\\u003ca\\u003e\"");
    }

    #[test]
    fn control_flow() {
        assert_eq!(r("{{range .Config.Env}}{{.}};{{end}}"), "A=1;B=2;");
        assert_eq!(
            r("{{range $i, $e := .Config.Env}}{{$i}}={{$e}} {{end}}"),
            "0=A=1 1=B=2 "
        );
        assert_eq!(
            r("{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}{{end}}"),
            "bridge 172.17.0.2"
        );
        assert_eq!(r("{{range .Config.Cmd}}x{{else}}none{{end}}"), "none");
        assert_eq!(r("{{if .State.Running}}up{{else}}down{{end}}"), "up");
        assert_eq!(r("{{if eq .State.Status \"exited\"}}a{{else if eq .State.Status \"running\"}}b{{else}}c{{end}}"), "b");
        assert_eq!(
            r("{{if and .State.Running (gt .State.Pid 1)}}y{{end}}"),
            "y"
        );
        assert_eq!(r("{{if not .RestartCount}}zero{{end}}"), "zero");
        assert_eq!(r("{{with .State}}{{.Status}}{{end}}"), "running");
        assert_eq!(r("{{$n := .Name}}{{$n}}"), "/web");
        assert_eq!(r("{{- /* c */ -}} a {{- .Name -}} b"), "a/webb");
        assert_eq!(r("{{range .Config.Env -}}\n  {{.}}\n{{- end}}"), "A=1B=2");
        assert_eq!(r("{{.State.Status}}\\t{{.Name}}"), "running\t/web");
    }

    #[test]
    fn errors_read_like_go() {
        let e = Template::parse("{{.State.Nope}}")
            .unwrap()
            .render(&doc())
            .unwrap_err();
        assert_eq!(
            e,
            "template: :1:8: executing \"\" at <.State.Nope>: map has no entry for key \"Nope\""
        );
        let e = Template::parse("{{.Nope}}")
            .unwrap()
            .render_with(
                &doc(),
                &Missing::Field("*formatter.ContainerContext".into()),
            )
            .unwrap_err();
        assert_eq!(e, "template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext");
        assert_eq!(
            Template::parse("{{.ID").unwrap_err(),
            "template: :1: unclosed action"
        );
        assert!(Template::parse("{{if .A}}x").is_err());
        // A constant given an argument: the proptests found this one without
        // the template prefix.
        assert_eq!(
            Template::parse("{{\"a,b\".}}")
                .unwrap()
                .render(&doc())
                .unwrap_err(),
            "template: :1: executing \"\": can't give argument to non-function a,b"
        );
        assert!(Template::parse("{{nope .A}}")
            .unwrap()
            .render(&doc())
            .is_err());
    }

    #[test]
    fn a_missing_header_key_is_false_in_a_condition() {
        let t = Template::parse("table {{.Name}}{{if .Current}} *{{end}}\t{{.Current}}").unwrap();
        assert_eq!(
            t.render_header(&json!({"Name": "NAME"})),
            "NAME\t<no value>"
        );
    }

    #[test]
    fn table_headers() {
        let t = Template::parse("table {{.ID}}\\t{{.Names}}\\t{{.Label \"com.x-y\"}}").unwrap();
        assert!(t.table);
        let h = json!({"ID": "CONTAINER ID", "Names": "NAMES"});
        assert_eq!(t.render_header(&h), "CONTAINER ID\tNAMES\tx y");
        let row = json!({"ID": "abc", "Names": "web", "Labels": "a=b,com.x-y=1"});
        assert_eq!(
            t.render_with(&row, &Missing::Field("T".into())).unwrap(),
            "abc\tweb\t1"
        );
        let t = Template::parse("table {{json .ID}}").unwrap();
        assert_eq!(t.render_header(&h), "CONTAINER ID");
    }
}
