//! The functions a template can call: Go's builtins and docker's own
//! (`json split join title lower upper pad truncate`).

use serde_json::Value;

use super::exec::truthy;
use super::print::{go_json, to_text};

/// docker's functions, which a `table` header row runs over the column
/// titles: there each returns its argument.
pub(super) const DOCKER_FUNCS: &[&str] = &[
    "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];

/// Calls `f`; `header` when rendering a `table` format's header row.
pub(super) fn call(header: bool, f: &str, args: Vec<Value>) -> Result<Value, String> {
    if DOCKER_FUNCS.contains(&f) {
        if header {
            return Ok(Value::String(to_text(&arg(&args, 0))));
        }
        return docker(f, &args);
    }
    match f {
        "index" => index(&args),
        "slice" => slice(&args),
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => comparison(f, &args),
        _ => builtin(f, &args),
    }
}

/// The `i`th argument, Go's nil when missing.
pub(super) fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::Null)
}

/// Go's arity check, in its words.
pub(super) fn want(f: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() != n {
        Err(format!(
            "wrong number of args for {f}: want {n} got {}",
            args.len()
        ))
    } else {
        Ok(())
    }
}

pub(super) fn docker(f: &str, args: &[Value]) -> Result<Value, String> {
    let arg = |i: usize| arg(args, i);
    let want = |n: usize| want(f, args, n);
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
        _ => return Err(format!("function \"{f}\" not defined")),
    })
}

/// `index x k...`: map keys and slice positions, Go's errors.
pub(super) fn index(args: &[Value]) -> Result<Value, String> {
    let mut cur = arg(args, 0);
    for k in args.iter().skip(1) {
        cur = match (&cur, k) {
            (Value::Object(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Null),
            (Value::Array(a), Value::Number(n)) => {
                let i = n.as_i64().unwrap_or(-1);
                if i < 0 || i as usize >= a.len() {
                    return Err(format!("error calling index: index out of range: {i}"));
                }
                a[i as usize].clone()
            }
            (Value::Null, _) => return Err("error calling index: index of untyped nil".into()),
            _ => {
                return Err(format!(
                    "error calling index: cannot index slice/array with type {}",
                    go_type(k)
                ))
            }
        };
    }
    Ok(cur)
}

/// `slice x from [to]` of a string or a slice.
pub(super) fn slice(args: &[Value]) -> Result<Value, String> {
    let from = args.get(1).and_then(Value::as_i64).unwrap_or(0).max(0) as usize;
    Ok(match arg(args, 0) {
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
    })
}

pub(super) fn comparison(f: &str, args: &[Value]) -> Result<Value, String> {
    let want = |n: usize| want(f, args, n);
    Ok(match f {
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
        // lt, le, gt, ge
        _ => {
            want(2)?;
            let ord = compare(&args[0], &args[1])
                .ok_or_else(|| format!("error calling {f}: incompatible types for comparison"))?;
            Value::Bool(match f {
                "lt" => ord.is_lt(),
                "le" => ord.is_le(),
                "gt" => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
    })
}

pub(super) fn builtin(f: &str, args: &[Value]) -> Result<Value, String> {
    let arg = |i: usize| arg(args, i);
    let want = |n: usize| want(f, args, n);
    Ok(match f {
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
        "print" => Value::String(go_print(args)),
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
        _ => return Err(format!("function \"{f}\" not defined")),
    })
}

pub(super) fn values_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

pub(super) fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

pub(super) fn go_type(v: &Value) -> &'static str {
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
pub(super) fn title(s: &str) -> String {
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
pub(super) fn go_print(args: &[Value]) -> String {
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
