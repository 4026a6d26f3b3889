//! `network inspect`: the document as the docker CLI 28 decodes it, and Go's JSON indenting.

use http_body_util::BodyExt;
use serde_json::{json, Map, Value};

use super::ls::go_rfc3339_nano;
use super::InspectArgs;
use crate::client::{q, Client, ClientError};
use crate::format::Template;
use crate::Failure;

/// Go's `json.Indent(dst, src, "", "    ")`: the raw bytes re-indented,
/// strings kept byte for byte (docker prints inspect output so).
pub fn go_indent(src: &[u8]) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut need_indent = false;
    let mut in_str = false;
    let mut escaped = false;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(b"    ");
        }
    };
    for &c in src {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        if need_indent && c != b'}' && c != b']' {
            need_indent = false;
            depth += 1;
            newline(&mut out, depth);
        }
        match c {
            b'"' => {
                in_str = true;
                out.push(c);
            }
            b'{' | b'[' => {
                need_indent = true;
                out.push(c);
            }
            b',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b'}' | b']' => {
                if need_indent {
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Go's `json.Compact`: whitespace outside strings dropped.
pub fn go_compact(src: &[u8]) -> String {
    let mut out = Vec::with_capacity(src.len());
    let (mut in_str, mut escaped) = (false, false);
    for &c in src {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_str = false;
            }
        } else if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            in_str = c == b'"';
            out.push(c);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The network as the docker CLI 28 decodes it (`network.Inspect`): the
/// fields its templates see, in its order, with Go's zero values.
pub fn typed_network(raw: &Value) -> Value {
    let s = |v: &Value| json!(v.as_str().unwrap_or(""));
    let b = |v: &Value| json!(v.as_bool().unwrap_or(false));
    let string_map = |v: &Value| match v.as_object() {
        Some(m) => {
            let mut kv: Vec<(&String, &Value)> = m.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(kv.into_iter().map(|(k, v)| (k.clone(), s(v))).collect())
        }
        None => Value::Null,
    };
    let ipam = &raw["IPAM"];
    let config: Value = match ipam["Config"].as_array() {
        Some(list) => Value::Array(
            list.iter()
                .map(|c| {
                    let mut m = Map::new();
                    for k in ["Subnet", "IPRange", "Gateway"] {
                        if let Some(v) = c[k].as_str().filter(|v| !v.is_empty()) {
                            m.insert(k.into(), json!(v));
                        }
                    }
                    if c["AuxiliaryAddresses"]
                        .as_object()
                        .is_some_and(|a| !a.is_empty())
                    {
                        m.insert(
                            "AuxiliaryAddresses".into(),
                            string_map(&c["AuxiliaryAddresses"]),
                        );
                    }
                    Value::Object(m)
                })
                .collect(),
        ),
        None => Value::Null,
    };
    let containers = match raw["Containers"].as_object() {
        Some(m) => {
            let mut kv: Vec<(&String, &Value)> = m.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                kv.into_iter()
                    .map(|(k, e)| {
                        (
                            k.clone(),
                            json!({
                                "Name": s(&e["Name"]),
                                "EndpointID": s(&e["EndpointID"]),
                                "MacAddress": s(&e["MacAddress"]),
                                "IPv4Address": s(&e["IPv4Address"]),
                                "IPv6Address": s(&e["IPv6Address"]),
                            }),
                        )
                    })
                    .collect(),
            )
        }
        None => Value::Null,
    };
    let mut m = Map::new();
    m.insert("Name".into(), s(&raw["Name"]));
    m.insert("Id".into(), s(&raw["Id"]));
    m.insert(
        "Created".into(),
        json!(go_rfc3339_nano(raw["Created"].as_str().unwrap_or(""))),
    );
    m.insert("Scope".into(), s(&raw["Scope"]));
    m.insert("Driver".into(), s(&raw["Driver"]));
    m.insert("EnableIPv4".into(), b(&raw["EnableIPv4"]));
    m.insert("EnableIPv6".into(), b(&raw["EnableIPv6"]));
    m.insert(
        "IPAM".into(),
        json!({"Driver": s(&ipam["Driver"]), "Options": string_map(&ipam["Options"]), "Config": config}),
    );
    m.insert("Internal".into(), b(&raw["Internal"]));
    m.insert("Attachable".into(), b(&raw["Attachable"]));
    m.insert("Ingress".into(), b(&raw["Ingress"]));
    m.insert(
        "ConfigFrom".into(),
        json!({"Network": s(&raw["ConfigFrom"]["Network"])}),
    );
    m.insert("ConfigOnly".into(), b(&raw["ConfigOnly"]));
    m.insert("Containers".into(), containers);
    m.insert("Options".into(), string_map(&raw["Options"]));
    m.insert("Labels".into(), string_map(&raw["Labels"]));
    for k in ["Peers", "Services"] {
        let v = &raw[k];
        let present = match v {
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => false,
        };
        if present {
            m.insert(k.into(), v.clone());
        }
    }
    Value::Object(m)
}

pub(super) async fn raw_get(c: &Client, path: &str) -> Result<bytes::Bytes, ClientError> {
    let resp = c.send("GET", path, None, "").await?;
    resp.into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| ClientError::Other(e.to_string()))
}

pub async fn inspect(c: &Client, a: InspectArgs) -> Result<i32, Failure> {
    let compact = a.format.as_deref() == Some("json");
    let template = match a.format.as_deref() {
        None | Some("") | Some("json") => None,
        Some(f) => Some(
            Template::parse(f).map_err(|e| Failure::msg(format!("template parsing error: {e}")))?,
        ),
    };
    let query = if a.verbose { "?verbose=true" } else { "" };
    let mut raws: Vec<bytes::Bytes> = Vec::new();
    let mut errors = Vec::new();
    for n in &a.names {
        match raw_get(c, &format!("/networks/{}{query}", q(n))).await {
            Ok(r) => raws.push(r),
            Err(e) => errors.push(e.to_string()),
        }
    }
    match template {
        Some(t) => {
            for raw in &raws {
                let v: Value = serde_json::from_slice(raw)
                    .map_err(|e| Failure::msg(format!("bad answer: {e}")))?;
                match t.render(&typed_network(&v)) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        // docker flushes the failed element's empty line first.
                        println!();
                        return Err(Failure::msg(format!("template parsing error: {e}")));
                    }
                }
            }
        }
        None if compact => {
            // `-f json`: the raw documents in one compact array.
            let all: Vec<String> = raws.iter().map(|r| go_compact(r)).collect();
            println!("[{}]", all.join(","));
        }
        None => {
            if raws.is_empty() {
                println!("[]");
            } else {
                let mut all = b"[".to_vec();
                for (i, r) in raws.iter().enumerate() {
                    if i > 0 {
                        all.push(b',');
                    }
                    all.extend_from_slice(r);
                }
                all.push(b']');
                println!("{}", go_indent(&all));
            }
        }
    }
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(Failure::msg(errors.join("\n")))
    }
}
