//! Go's `%v` and `json` of a decoded value, as docker prints them.

use serde_json::{Map, Value};

use super::exec::{MAP_FIELDS, SLICE_FIELDS};

/// Go's `%v` of a decoded value, as docker prints template results.
pub fn to_text(v: &Value) -> String {
    text_of(v, None)
}

pub(super) fn text_of(v: &Value, field: Option<&str>) -> String {
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
pub(super) fn looks_like_map(m: &Map<String, Value>) -> bool {
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
