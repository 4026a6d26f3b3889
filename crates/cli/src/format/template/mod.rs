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

mod exec;
mod funcs;
mod lex;
mod parse;
mod print;
#[cfg(test)]
mod tests;

pub use exec::truthy;
pub use funcs::sprintf;
pub use print::{go_json, go_json_escape, to_text};

use exec::State;
use lex::split_pieces;
use parse::{Parser, Stop};
use serde_json::Value;

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
