//! Output as docker prints it: tables padded by three spaces, go-units
//! sizes and durations, and the Go-template subset users type in
//! `--format` / `inspect -f`.
//!
//! The template evaluator is hand-written: it covers field paths, `json`,
//! `index`, `join`, `upper`, `lower`, `title`, `len`, `println`, pipes,
//! `if`/`else`/`end` and `range`/`end`. No crate we found evaluates Go's
//! templates over JSON values with docker's helper functions.

use serde_json::Value;

/// go-units `HumanSizeWithPrecision(size, 3)`: decimal units.
pub fn human_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut s = size;
    let mut i = 0;
    while s >= 1000.0 && i < UNITS.len() - 1 {
        s /= 1000.0;
        i += 1;
    }
    format!(
        "{}{}",
        trim_float(&format!("{:.*}", precision(s), s)),
        UNITS[i]
    )
}

fn precision(v: f64) -> usize {
    // %.3g: three significant digits.
    if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    }
}

fn trim_float(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

pub use berth_api::units::human_duration;

pub fn ago(unix: i64) -> String {
    format!(
        "{} ago",
        human_duration(chrono::Utc::now().timestamp() - unix)
    )
}

/// Renders rows as docker's tabwriter does: columns padded to width + 3, at least 10.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    table_min(header, rows, 10)
}

/// The same with another minimum cell width (`docker top` uses 20).
pub fn table_min(header: &[&str], rows: &[Vec<String>], min: usize) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let n = cells.len();
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push_str(c);
            if i + 1 < n {
                // docker's tabwriter: padding 3, minimum cell width 10.
                let cell = (widths[i] + 3).max(min);
                s.push_str(&" ".repeat(cell - c.chars().count()));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// A parsed Go template.
#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(String),
    If(String, Vec<Node>, Vec<Node>),
    Range(String, Vec<Node>),
}

pub struct Template {
    nodes: Vec<Node>,
    /// A `table` prefix asks for a header row and aligned columns.
    pub table: bool,
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, String> {
        let src = src.replace("\\t", "\t").replace("\\n", "\n");
        let (table, body) = match src.trim_start().strip_prefix("table") {
            Some(rest) => (true, rest.trim_start().to_string()),
            None => (false, src.clone()),
        };
        let tokens = tokenize(&body)?;
        let mut pos = 0;
        let (nodes, end) = parse_nodes(&tokens, &mut pos)?;
        if end.is_some() {
            return Err("template: unexpected {{end}} or {{else}}".into());
        }
        Ok(Template { nodes, table })
    }

    pub fn render(&self, v: &Value) -> Result<String, String> {
        let mut out = String::new();
        render_nodes(&self.nodes, v, &mut out)?;
        Ok(out)
    }

    /// The header for a table template: each field action's name, upper-cased in docker's style.
    pub fn header(&self) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(a) => out.push_str(&header_name(a)),
                _ => {}
            }
        }
        out
    }
}

fn header_name(action: &str) -> String {
    let field = action.trim().trim_start_matches('.');
    let mut s = String::new();
    let mut prev_upper = true;
    for c in field.chars() {
        if c.is_uppercase() && !prev_upper {
            s.push(' ');
        }
        prev_upper = c.is_uppercase();
        s.push(c.to_ascii_uppercase());
    }
    match s.as_str() {
        "ID" => "CONTAINER ID".into(),
        "RUNNING FOR" => "CREATED".into(),
        _ => s,
    }
}

fn tokenize(src: &str) -> Result<Vec<(bool, String)>, String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_string();
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("template: unclosed action")?;
        let mut action = &after[..end];
        if let Some(a) = action.strip_prefix('-') {
            text = text.trim_end().to_string();
            action = a;
        }
        let mut next = &after[end + 2..];
        if let Some(a) = action.strip_suffix('-') {
            action = a;
            next = next.trim_start();
        }
        if !text.is_empty() {
            out.push((false, text));
        }
        out.push((true, action.trim().to_string()));
        rest = next;
    }
    if !rest.is_empty() {
        out.push((false, rest.to_string()));
    }
    Ok(out)
}

fn parse_nodes(
    tokens: &[(bool, String)],
    pos: &mut usize,
) -> Result<(Vec<Node>, Option<String>), String> {
    let mut nodes = Vec::new();
    while *pos < tokens.len() {
        let (is_action, s) = &tokens[*pos];
        *pos += 1;
        if !is_action {
            nodes.push(Node::Text(s.clone()));
            continue;
        }
        if s == "end" || s == "else" {
            return Ok((nodes, Some(s.clone())));
        }
        if let Some(cond) = s.strip_prefix("if ") {
            let (then, end) = parse_nodes(tokens, pos)?;
            let otherwise = if end.as_deref() == Some("else") {
                parse_nodes(tokens, pos)?.0
            } else {
                vec![]
            };
            nodes.push(Node::If(cond.to_string(), then, otherwise));
        } else if let Some(over) = s.strip_prefix("range ") {
            let (body, _) = parse_nodes(tokens, pos)?;
            nodes.push(Node::Range(over.to_string(), body));
        } else {
            nodes.push(Node::Action(s.clone()));
        }
    }
    Ok((nodes, None))
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn render_nodes(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), String> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Action(a) => out.push_str(&to_text(&eval(a, dot)?)),
            Node::If(c, then, otherwise) => {
                if truthy(&eval(c, dot)?) {
                    render_nodes(then, dot, out)?;
                } else {
                    render_nodes(otherwise, dot, out)?;
                }
            }
            Node::Range(over, body) => match eval(over, dot)? {
                Value::Array(items) => {
                    for i in items {
                        render_nodes(body, &i, out)?;
                    }
                }
                Value::Object(m) => {
                    for (_, i) in m {
                        render_nodes(body, &i, out)?;
                    }
                }
                _ => {}
            },
        }
    }
    Ok(())
}

/// Go's `%v` of a value, as docker prints template results.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(to_text).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            format!(
                "map[{}]",
                m.iter()
                    .map(|(k, v)| format!("{k}:{}", to_text(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = false;
    for c in s.chars() {
        match c {
            '"' => {
                quote = !quote;
                cur.push(c);
            }
            c if c.is_whitespace() && !quote => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn eval(expr: &str, dot: &Value) -> Result<Value, String> {
    let mut piped: Option<Value> = None;
    for stage in expr.split('|') {
        let args = split_args(stage.trim());
        let Some(first) = args.first() else { continue };
        let mut vals: Vec<Value> = args[1..]
            .iter()
            .map(|a| operand(a, dot))
            .collect::<Result<_, _>>()?;
        if let Some(p) = piped.take() {
            vals.push(p);
        }
        let v = match first.as_str() {
            "json" => Value::String(
                serde_json::to_string(vals.first().unwrap_or(&Value::Null)).unwrap_or_default(),
            ),
            "upper" => Value::String(to_text(vals.first().unwrap_or(&Value::Null)).to_uppercase()),
            "lower" => Value::String(to_text(vals.first().unwrap_or(&Value::Null)).to_lowercase()),
            "title" => Value::String({
                let s = to_text(vals.first().unwrap_or(&Value::Null));
                let mut c = s.chars();
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default()
            }),
            "len" => Value::from(match vals.first() {
                Some(Value::Array(a)) => a.len(),
                Some(Value::Object(o)) => o.len(),
                Some(Value::String(s)) => s.len(),
                _ => 0,
            }),
            "index" => {
                let mut cur = vals.first().cloned().unwrap_or(Value::Null);
                for k in &vals[1..] {
                    cur = match (&cur, k) {
                        (Value::Object(m), Value::String(k)) => {
                            m.get(k).cloned().unwrap_or(Value::Null)
                        }
                        (Value::Array(a), Value::Number(n)) => a
                            .get(n.as_u64().unwrap_or(0) as usize)
                            .cloned()
                            .unwrap_or(Value::Null),
                        _ => Value::Null,
                    };
                }
                cur
            }
            "join" => {
                let sep = vals.get(1).map(to_text).unwrap_or_default();
                match vals.first() {
                    Some(Value::Array(a)) => {
                        Value::String(a.iter().map(to_text).collect::<Vec<_>>().join(&sep))
                    }
                    _ => Value::String(String::new()),
                }
            }
            "println" => Value::String(format!(
                "{}\n",
                vals.iter().map(to_text).collect::<Vec<_>>().join(" ")
            )),
            "print" => Value::String(vals.iter().map(to_text).collect::<Vec<_>>().join(" ")),
            "eq" => Value::Bool(vals.len() >= 2 && vals[1..].iter().any(|v| *v == vals[0])),
            "ne" => Value::Bool(vals.len() >= 2 && vals[0] != vals[1]),
            "not" => Value::Bool(!truthy(vals.first().unwrap_or(&Value::Null))),
            _ => {
                if args.len() > 1 {
                    return Err(format!("template: function {first:?} not defined"));
                }
                operand(first, dot)?
            }
        };
        piped = Some(v);
    }
    Ok(piped.unwrap_or(Value::Null))
}

fn operand(a: &str, dot: &Value) -> Result<Value, String> {
    if let Some(s) = a.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return Ok(Value::String(s.replace("\\n", "\n").replace("\\t", "\t")));
    }
    if let Ok(n) = a.parse::<i64>() {
        return Ok(Value::from(n));
    }
    if a == "." {
        return Ok(dot.clone());
    }
    if let Some(path) = a.strip_prefix('.') {
        let mut cur = dot.clone();
        for part in path.split('.') {
            cur = match cur {
                Value::Object(m) => match m.get(part) {
                    Some(v) => v.clone(),
                    None => return Err(format!("template: can't evaluate field {part}")),
                },
                Value::Null => Value::Null,
                _ => return Err(format!("template: can't evaluate field {part}")),
            };
        }
        return Ok(cur);
    }
    Err(format!("template: function {a:?} not defined"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(40.0), "40B");
        assert_eq!(human_size(1_982_256.0), "1.98MB");
        assert_eq!(human_size(4_260_000.0), "4.26MB");
        assert_eq!(human_size(123_456_789.0), "123MB");
        assert_eq!(human_size(12_345.0), "12.3kB");
    }

    #[test]
    fn templates() {
        let v = json!({"State": {"Pid": 42, "Running": true}, "Config": {"Env": ["A=1", "B=2"]}, "RestartCount": 0, "Name": "/web"});
        let r = |t: &str| Template::parse(t).unwrap().render(&v).unwrap();
        assert_eq!(r("{{.State.Pid}}"), "42");
        assert_eq!(r("{{ .RestartCount }}"), "0");
        assert_eq!(r("{{json .Config.Env}}"), r#"["A=1","B=2"]"#);
        assert_eq!(r("{{join .Config.Env \",\"}}"), "A=1,B=2");
        assert_eq!(r("{{range .Config.Env}}{{.}};{{end}}"), "A=1;B=2;");
        assert_eq!(r("{{if .State.Running}}up{{else}}down{{end}}"), "up");
        assert_eq!(r("{{.Name | upper}}"), "/WEB");
        assert_eq!(r("{{index .State \"Pid\"}}"), "42");
        assert!(Template::parse("{{.Nope}}").unwrap().render(&v).is_err());
    }

    #[test]
    fn tables_pad_by_three() {
        let t = table(&["A", "BB"], &[vec!["xxxx".into(), "y".into()]]);
        assert_eq!(t, "A         BB\nxxxx      y\n");
        let t = table(&["LONGER HEADER", "X"], &[vec!["a".into(), "b".into()]]);
        assert_eq!(t, "LONGER HEADER   X\na               b\n");
    }
}
