//! Interpolation as the Compose Specification defines it: `$VAR`,
//! `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
//! `${VAR:?error}`/`${VAR?error}`, `${VAR:+alt}`/`${VAR+alt}`, and `$$`
//! for a literal `$`. Defaults may themselves hold interpolations. Also
//! the `.env` / `env_file` format (`KEY=value`, `export`, quotes, comments).
//! Written by hand: the dotenv crates do not follow compose's quoting and
//! none interpolates with compose's operators.

use indexmap::IndexMap;

/// Variables looked up during interpolation; `None` is unset.
pub trait Lookup {
    fn get(&self, name: &str) -> Option<String>;
}

impl Lookup for IndexMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        IndexMap::get(self, name).cloned()
    }
}

/// What went wrong, without the location (the caller adds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpError {
    /// `${VAR:?msg}` with VAR unset (or empty): compose's wording.
    Required {
        var: String,
        message: String,
    },
    Syntax(String),
}

impl std::fmt::Display for InterpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterpError::Required { var, message } => {
                write!(f, "required variable {var} is missing a value")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            InterpError::Syntax(s) => write!(f, "invalid interpolation format for {s:?}"),
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Interpolates `input`; `unset` collects the names looked up but unset
/// (compose warns about each, once, and uses "").
pub fn interpolate(
    input: &str,
    env: &dyn Lookup,
    unset: &mut Vec<String>,
) -> Result<String, InterpError> {
    let mut out = String::with_capacity(input.len());
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                // Find the matching brace (defaults may nest `${...}`).
                let mut depth = 1;
                let mut j = i + 2;
                while j < chars.len() && depth > 0 {
                    match chars[j] {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    j += 1;
                }
                if depth != 0 {
                    return Err(InterpError::Syntax(input.to_string()));
                }
                let body: String = chars[i + 2..j - 1].iter().collect();
                out.push_str(&braced(&body, input, env, unset)?);
                i = j;
            }
            Some(&n) if is_name_char(n) && !n.is_ascii_digit() => {
                let mut j = i + 1;
                while j < chars.len() && is_name_char(chars[j]) {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().collect();
                out.push_str(&value_or_blank(&name, env, unset));
                i = j;
            }
            _ => {
                // A lone `$` (end of string, `$ `, `$1`) stays as written.
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

fn value_or_blank(name: &str, env: &dyn Lookup, unset: &mut Vec<String>) -> String {
    match env.get(name) {
        Some(v) => v,
        None => {
            if !unset.iter().any(|u| u == name) {
                unset.push(name.to_string());
            }
            String::new()
        }
    }
}

fn braced(
    body: &str,
    whole: &str,
    env: &dyn Lookup,
    unset: &mut Vec<String>,
) -> Result<String, InterpError> {
    let name_end = body.find(|c: char| !is_name_char(c)).unwrap_or(body.len());
    let name = &body[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(InterpError::Syntax(whole.to_string()));
    }
    let rest = &body[name_end..];
    if rest.is_empty() {
        return Ok(value_or_blank(name, env, unset));
    }
    let value = env.get(name);
    let (op, arg) = if let Some(a) = rest.strip_prefix(":-") {
        (":-", a)
    } else if let Some(a) = rest.strip_prefix(":?") {
        (":?", a)
    } else if let Some(a) = rest.strip_prefix(":+") {
        (":+", a)
    } else if let Some(a) = rest.strip_prefix('-') {
        ("-", a)
    } else if let Some(a) = rest.strip_prefix('?') {
        ("?", a)
    } else if let Some(a) = rest.strip_prefix('+') {
        ("+", a)
    } else {
        return Err(InterpError::Syntax(whole.to_string()));
    };
    let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    let present = if op.starts_with(':') {
        set_nonempty
    } else {
        value.is_some()
    };
    match op.trim_start_matches(':') {
        "-" if present => Ok(value.unwrap_or_default()),
        "-" => interpolate(arg, env, unset),
        "?" if present => Ok(value.unwrap_or_default()),
        "?" => Err(InterpError::Required {
            var: name.to_string(),
            message: interpolate(arg, env, unset)?,
        }),
        _ if present => interpolate(arg, env, unset),
        _ => Ok(String::new()),
    }
}

/// Parses a `.env` or `env_file` document: `KEY=value` lines, an optional
/// `export `, `#` comments, single quotes literal, double quotes with
/// `\n`/`\"` escapes, unquoted values trimmed and cut at ` #`. A bare
/// `KEY` takes its value from `lookup` (unset if absent there), as
/// compose does. Unquoted and double-quoted values are interpolated with
/// the variables above them and `lookup`.
pub fn parse_env_file(
    text: &str,
    lookup: &IndexMap<String, String>,
) -> Result<IndexMap<String, Option<String>>, String> {
    let mut out: IndexMap<String, Option<String>> = IndexMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            let key = line.to_string();
            if key.chars().any(char::is_whitespace) {
                return Err(format!("line {}: invalid variable name {key:?}", n + 1));
            }
            let v = lookup.get(&key).cloned();
            out.insert(key, v);
            continue;
        };
        let key = key.trim().to_string();
        if key.is_empty() || key.chars().any(char::is_whitespace) {
            return Err(format!("line {}: invalid variable name {key:?}", n + 1));
        }
        let value = value.trim_start();
        let mut scope = lookup.clone();
        for (k, v) in &out {
            if let Some(v) = v {
                scope.insert(k.clone(), v.clone());
            }
        }
        let mut unset = Vec::new();
        let parsed = if let Some(inner) = value.strip_prefix('\'') {
            inner
                .rfind('\'')
                .map(|e| inner[..e].to_string())
                .ok_or_else(|| format!("line {}: unterminated quote", n + 1))?
        } else if let Some(inner) = value.strip_prefix('"') {
            let e = inner
                .rfind('"')
                .ok_or_else(|| format!("line {}: unterminated quote", n + 1))?;
            let s = inner[..e]
                .replace("\\n", "\n")
                .replace("\\\"", "\"")
                .replace("\\\\", "\\");
            interpolate(&s, &scope, &mut unset).map_err(|e| e.to_string())?
        } else {
            let v = match value.find(" #") {
                Some(c) => &value[..c],
                None => value,
            };
            interpolate(v.trim_end(), &scope, &mut unset).map_err(|e| e.to_string())?
        };
        out.insert(key, Some(parsed));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> IndexMap<String, String> {
        [("A", "a"), ("EMPTY", ""), ("N", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(s: &str) -> Result<String, InterpError> {
        interpolate(s, &env(), &mut Vec::new())
    }

    #[test]
    fn forms() {
        assert_eq!(run("x${A}y$A-$$A").unwrap(), "xaya-$A");
        assert_eq!(
            run("${UNSET:-d}|${EMPTY:-d}|${EMPTY-d}|${UNSET-d}").unwrap(),
            "d|d||d"
        );
        assert_eq!(
            run("${A:+alt}|${EMPTY:+alt}|${EMPTY+alt}").unwrap(),
            "alt||alt"
        );
        assert_eq!(run("${UNSET:-${A}x}").unwrap(), "ax");
        assert_eq!(run("cost: $ 5 and $1").unwrap(), "cost: $ 5 and $1");
    }

    #[test]
    fn required() {
        let e = run("${UNSET:?please set it}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "required variable UNSET is missing a value: please set it"
        );
        assert!(run("${EMPTY:?x}").is_err());
        assert_eq!(run("${EMPTY?x}").unwrap(), "");
    }

    #[test]
    fn unset_is_blank_and_reported() {
        let mut unset = Vec::new();
        assert_eq!(interpolate("${NOPE}$NOPE", &env(), &mut unset).unwrap(), "");
        assert_eq!(unset, vec!["NOPE".to_string()]);
    }

    #[test]
    fn bad_syntax() {
        assert!(run("${A").is_err());
        assert!(run("${}").is_err());
        assert!(run("${A*b}").is_err());
    }

    #[test]
    fn env_file_format() {
        let text = "# c\nexport X=1\nY = 'lit $X'\nZ=\"q $X\\n\"\nW=v # comment\nA\nB\n";
        let got = parse_env_file(text, &env()).unwrap();
        assert_eq!(got["X"].as_deref(), Some("1"));
        assert_eq!(got["Y"].as_deref(), Some("lit $X"));
        assert_eq!(got["Z"].as_deref(), Some("q 1\n"));
        assert_eq!(got["W"].as_deref(), Some("v"));
        assert_eq!(got["A"].as_deref(), Some("a"));
        assert_eq!(got["B"], None);
    }
}
