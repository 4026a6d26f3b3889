//! BuildKit's shell word processing (`frontend/dockerfile/shell/lex.go`):
//! quotes, the escape character and variable substitution, as applied to
//! the arguments of `ENV`, `ARG`, `LABEL`, `COPY`, `WORKDIR`, ... at build
//! time. `RUN` is never processed: the shell in the container does that.

use std::collections::HashMap;

/// A substitution error: a missing `}`, an unsupported modifier, or a
/// `${VAR:?message}` whose variable is unset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LexError(pub String);

/// The word processor, with the Dockerfile's escape character.
#[derive(Debug, Clone, Copy)]
pub struct Lex {
    pub escape: char,
}

impl Default for Lex {
    fn default() -> Self {
        Lex { escape: '\\' }
    }
}

struct Scan<'a> {
    chars: Vec<char>,
    pos: usize,
    env: &'a dyn Fn(&str) -> Option<String>,
    escape: char,
    /// Nesting of `${...}`, bounded so hostile input cannot overflow the stack.
    depth: usize,
}

/// Deepest `${A:-${B:-...}}` nesting accepted.
const MAX_DEPTH: usize = 256;

impl Lex {
    pub fn new(escape: char) -> Lex {
        Lex { escape }
    }

    /// Processes `word` into one string (quotes removed, variables expanded,
    /// whitespace kept).
    pub fn process_word(
        &self,
        word: &str,
        env: &HashMap<String, String>,
    ) -> Result<String, LexError> {
        let get = |k: &str| env.get(k).cloned();
        let mut s = Scan {
            chars: word.chars().collect(),
            pos: 0,
            env: &get,
            escape: self.escape,
            depth: 0,
        };
        let words = s.process(false)?;
        Ok(words.join(""))
    }

    /// Expands variables in a heredoc's content (an unquoted delimiter):
    /// quotes stay as written, as BuildKit's raw-quote lexer leaves them
    /// for `COPY <<EOF`; the escape character keeps its meaning only
    /// before `$` and itself (as in a shell heredoc), so `\$X` stays `$X`.
    pub fn process_heredoc(
        &self,
        text: &str,
        env: &HashMap<String, String>,
    ) -> Result<String, LexError> {
        let get = |k: &str| env.get(k).cloned();
        let mut s = Scan {
            chars: text.chars().collect(),
            pos: 0,
            env: &get,
            escape: self.escape,
            depth: 0,
        };
        let mut out = String::new();
        while let Some(c) = s.next() {
            if c == s.escape {
                match s.peek() {
                    Some(n) if n == '$' || n == s.escape => {
                        s.pos += 1;
                        out.push(n);
                    }
                    _ => out.push(c),
                }
            } else if c == '$' {
                out.push_str(&s.dollar()?);
            } else {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Processes `word` into words split at unquoted whitespace (an
    /// unquoted expansion to nothing gives no word), as `COPY` and
    /// `EXPOSE` arguments are.
    pub fn process_words(
        &self,
        word: &str,
        env: &HashMap<String, String>,
    ) -> Result<Vec<String>, LexError> {
        let get = |k: &str| env.get(k).cloned();
        let mut s = Scan {
            chars: word.chars().collect(),
            pos: 0,
            env: &get,
            escape: self.escape,
            depth: 0,
        };
        s.process(true)
    }
}

impl Scan<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// The whole input; with `split`, words at unquoted whitespace
    /// (whitespace produced by an expansion splits too, as in BuildKit).
    fn process(&mut self, split: bool) -> Result<Vec<String>, LexError> {
        let mut words = Vec::new();
        let mut cur = String::new();
        // Whether the current word has content (a quoted "" counts).
        let mut in_word = false;
        while let Some(c) = self.next() {
            if split && c.is_whitespace() {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
                continue;
            }
            if c == self.escape {
                match self.next() {
                    Some(n) => cur.push(n),
                    // A trailing escape stays, as BuildKit keeps it.
                    None => cur.push(c),
                }
                in_word = true;
            } else if c == '\'' {
                in_word = true;
                loop {
                    match self.next() {
                        Some('\'') => break,
                        Some(n) => cur.push(n),
                        None => return Err(LexError(
                            "unexpected end of statement while looking for matching single-quote"
                                .into(),
                        )),
                    }
                }
            } else if c == '"' {
                in_word = true;
                loop {
                    match self.next() {
                        Some('"') => break,
                        Some('$') => {
                            let v = self.dollar()?;
                            cur.push_str(&v);
                        }
                        Some(n) if n == self.escape => match self.peek() {
                            Some(m) if m == '"' || m == '$' || m == self.escape => {
                                self.pos += 1;
                                cur.push(m);
                            }
                            _ => cur.push(n),
                        },
                        Some(n) => cur.push(n),
                        None => return Err(LexError(
                            "unexpected end of statement while looking for matching double-quote"
                                .into(),
                        )),
                    }
                }
            } else if c == '$' {
                let v = self.dollar()?;
                if split {
                    // Unquoted expansions split at whitespace.
                    let mut parts = v.split(char::is_whitespace).peekable();
                    let starts_ws = v.starts_with(char::is_whitespace);
                    if starts_ws && in_word {
                        words.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                    while let Some(p) = parts.next() {
                        if !p.is_empty() {
                            cur.push_str(p);
                            in_word = true;
                        }
                        if parts.peek().is_some() && in_word {
                            words.push(std::mem::take(&mut cur));
                            in_word = false;
                        }
                    }
                } else {
                    cur.push_str(&v);
                    in_word = true;
                }
            } else {
                cur.push(c);
                in_word = true;
            }
        }
        if in_word || (!split && words.is_empty()) {
            words.push(cur);
        }
        Ok(words)
    }

    fn name(&mut self) -> String {
        let mut n = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                n.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        n
    }

    /// After a `$`: `$NAME`, `${NAME}`, `${NAME<mod>word}`; anything else
    /// leaves the `$` as it is.
    fn dollar(&mut self) -> Result<String, LexError> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(LexError("bad substitution: nested too deeply".into()));
                }
                let r = self.braced();
                self.depth -= 1;
                r
            }
            Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
                let name = self.name();
                Ok((self.env)(&name).unwrap_or_default())
            }
            _ => Ok("$".into()),
        }
    }

    /// After `${`.
    fn braced(&mut self) -> Result<String, LexError> {
        {
            {
                let name = self.name();
                if name.is_empty() {
                    return Err(LexError("bad substitution: missing variable name".into()));
                }
                match self.next() {
                    Some('}') => Ok((self.env)(&name).unwrap_or_default()),
                    Some(':') => {
                        let m = self.next();
                        let word = self.sub_word()?;
                        let val = (self.env)(&name);
                        let set = val.as_deref().is_some_and(|v| !v.is_empty());
                        match m {
                            Some('-') => Ok(if set { val.unwrap_or_default() } else { word }),
                            Some('+') => Ok(if set { word } else { String::new() }),
                            Some('?') => {
                                if set {
                                    Ok(val.unwrap_or_default())
                                } else if word.is_empty() {
                                    Err(LexError(format!("{name}: is not allowed to be unset")))
                                } else {
                                    Err(LexError(format!("{name}: {word}")))
                                }
                            }
                            Some(o) => Err(LexError(format!(
                                "unsupported modifier ({o}) in substitution"
                            ))),
                            None => Err(LexError("missing ':' modifier in substitution".into())),
                        }
                    }
                    Some(m @ ('-' | '+' | '?')) => {
                        let word = self.sub_word()?;
                        let val = (self.env)(&name);
                        match m {
                            '-' => Ok(val.unwrap_or(word)),
                            '+' => Ok(if val.is_some() { word } else { String::new() }),
                            _ => val.ok_or_else(|| {
                                if word.is_empty() {
                                    LexError(format!("{name}: is not allowed to be unset"))
                                } else {
                                    LexError(format!("{name}: {word}"))
                                }
                            }),
                        }
                    }
                    Some(o) => Err(LexError(format!(
                        "unsupported modifier ({o}) in substitution"
                    ))),
                    None => Err(LexError("missing '}'".into())),
                }
            }
        }
    }

    /// The word of a `${VAR:-word}` up to its `}` (nested `${...}`,
    /// quotes and escapes processed).
    fn sub_word(&mut self) -> Result<String, LexError> {
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err(LexError("missing '}'".into())),
                Some('}') => return Ok(out),
                Some('$') => {
                    let v = self.dollar()?;
                    out.push_str(&v);
                }
                Some('\'') => loop {
                    match self.next() {
                        Some('\'') => break,
                        Some(n) => out.push(n),
                        None => return Err(LexError("missing '}'".into())),
                    }
                },
                Some(c) if c == self.escape => match self.next() {
                    Some(n) => out.push(n),
                    None => return Err(LexError("missing '}'".into())),
                },
                Some(c) => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> HashMap<String, String> {
        [("A", "a"), ("E", ""), ("SP", "x y"), ("P", "/usr")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn w(s: &str) -> String {
        Lex::default().process_word(s, &env()).unwrap()
    }

    #[test]
    fn heredoc_raw() {
        let l = Lex::default();
        assert_eq!(
            l.process_heredoc("say \"$A\" '${P}' \\$A \\n ${B:-d}\n", &env())
                .unwrap(),
            "say \"a\" '/usr' $A \\n d\n"
        );
        assert!(l.process_heredoc("${A", &env()).is_err());
    }

    #[test]
    fn plain_and_braced() {
        assert_eq!(w("$A"), "a");
        assert_eq!(w("${A}b"), "ab");
        assert_eq!(w("$Ab"), "");
        assert_eq!(w("$P/bin"), "/usr/bin");
        assert_eq!(w("x$"), "x$");
        assert_eq!(w("$-"), "$-");
        assert_eq!(w("$UNSET."), ".");
    }

    #[test]
    fn modifiers() {
        assert_eq!(w("${A:-d}"), "a");
        assert_eq!(w("${U:-d}"), "d");
        assert_eq!(w("${E:-d}"), "d");
        assert_eq!(w("${E-d}"), "");
        assert_eq!(w("${U-d}"), "d");
        assert_eq!(w("${A:+alt}"), "alt");
        assert_eq!(w("${E:+alt}"), "");
        assert_eq!(w("${E+alt}"), "alt");
        assert_eq!(w("${U:+alt}"), "");
        assert_eq!(w("${U:-${A}x}"), "ax");
        assert_eq!(w("${U:-a b}"), "a b");
        assert_eq!(w("${A:?must}"), "a");
    }

    #[test]
    fn errors() {
        let l = Lex::default();
        let e = env();
        assert_eq!(
            l.process_word("${U:?must be set}", &e).unwrap_err().0,
            "U: must be set"
        );
        assert_eq!(
            l.process_word("${U:?}", &e).unwrap_err().0,
            "U: is not allowed to be unset"
        );
        assert_eq!(l.process_word("${A", &e).unwrap_err().0, "missing '}'");
        assert_eq!(l.process_word("${A:-x", &e).unwrap_err().0, "missing '}'");
        assert!(l
            .process_word("${A:=x}", &e)
            .unwrap_err()
            .0
            .contains("unsupported modifier (=)"));
        assert!(l.process_word("${}", &e).is_err());
        assert!(l.process_word("'abc", &e).is_err());
        assert!(l.process_word("\"abc", &e).is_err());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w("'$A'"), "$A");
        assert_eq!(w("\"$A b\""), "a b");
        assert_eq!(w("\\$A"), "$A");
        assert_eq!(w("\"\\$A\""), "$A");
        assert_eq!(w("\"a\\\"b\""), "a\"b");
        assert_eq!(w("\"a\\nb\""), "a\\nb");
        assert_eq!(w("a\\ b"), "a b");
        assert_eq!(w(""), "");
        assert_eq!(Lex::new('`').process_word("`$A", &env()).unwrap(), "$A");
        assert_eq!(
            Lex::new('`').process_word("C:\\dir", &env()).unwrap(),
            "C:\\dir"
        );
    }

    #[test]
    fn words() {
        let l = Lex::default();
        let e = env();
        assert_eq!(l.process_words("a  b\tc", &e).unwrap(), ["a", "b", "c"]);
        assert_eq!(l.process_words("\"a b\" c", &e).unwrap(), ["a b", "c"]);
        assert_eq!(l.process_words("$SP z", &e).unwrap(), ["x", "y", "z"]);
        assert_eq!(l.process_words("\"$SP\" z", &e).unwrap(), ["x y", "z"]);
        assert_eq!(l.process_words("$U z", &e).unwrap(), ["z"]);
        assert_eq!(l.process_words("\"\" z", &e).unwrap(), ["", "z"]);
        assert_eq!(l.process_words("p$SP", &e).unwrap(), ["px", "y"]);
        assert!(l.process_words("", &e).unwrap().is_empty());
    }

    #[test]
    fn hostile() {
        let l = Lex::default();
        let e = env();
        let deep = "${U:-".repeat(200) + &"}".repeat(200);
        assert_eq!(l.process_word(&deep, &e).unwrap(), "");
        let deeper = "${U:-".repeat(100_000) + &"}".repeat(100_000);
        assert!(l
            .process_word(&deeper, &e)
            .unwrap_err()
            .0
            .contains("nested too deeply"));
        let long = "$A".repeat(10_000);
        assert_eq!(l.process_word(&long, &e).unwrap().len(), 10_000);
        assert_eq!(w("é${A}ü"), "éaü");
        assert_eq!(w("\\"), "\\");
    }
}
