//! Cutting a template into text and `{{...}}` actions, and an action
//! into tokens.

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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

pub(super) fn lex_action(s: &str, base: usize) -> Result<Vec<(Tok, usize)>, String> {
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

pub(super) fn number_end(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.' || b[j] == b'_') {
        j += 1;
    }
    j
}

/// One `{{...}}` or a run of text, with the byte offset of its contents.
pub(super) enum Piece {
    Text(String),
    Action(String, usize),
}

pub(super) fn split_pieces(src: &str) -> Result<Vec<Piece>, String> {
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
