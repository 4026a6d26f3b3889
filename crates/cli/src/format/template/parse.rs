//! Tokens into the tree: `if`/`range`/`with` blocks, pipelines, terms.

use serde_json::Value;

use super::lex::{lex_action, Piece, Tok};
use super::{Node, Pipe, Term};

pub(super) struct Parser {
    pub(super) pieces: Vec<Piece>,
    pub(super) at: usize,
}

pub(super) enum Stop {
    End,
    Else(Option<Pipe>),
    Eof,
}

impl Parser {
    pub(super) fn list(&mut self) -> Result<(Vec<Node>, Stop), String> {
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

pub(super) fn parse_pipe(toks: &[(Tok, usize)], allow_decl: bool) -> Result<Pipe, String> {
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

pub(super) fn parse_term(toks: &[(Tok, usize)]) -> Result<(Term, usize), String> {
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

pub(super) fn parse_number(n: &str) -> Result<Value, String> {
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
