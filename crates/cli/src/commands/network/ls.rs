//! `network ls`: docker's rows, natural sort and time printing.

use serde_json::{json, Value};

use super::{with_usage, LsArgs};
use crate::client::{q, Client};
use crate::commands::container::{filters_json, headers};
use crate::format::render_rows;
use crate::Failure;

/// `github.com/fvbommel/sortorder.NaturalLess`: runs of digits compare as
/// numbers, the rest bytewise.
pub fn natural_less(a: &str, b: &str) -> bool {
    let (s1, s2) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < s1.len() && j < s2.len() {
        let (c1, c2) = (s1[i], s2[j]);
        let (d1, d2) = (c1.is_ascii_digit(), c2.is_ascii_digit());
        if d1 != d2 {
            return d1;
        }
        if !d1 {
            if c1 != c2 {
                return c1 < c2;
            }
            i += 1;
            j += 1;
            continue;
        }
        while i < s1.len() && s1[i] == b'0' {
            i += 1;
        }
        while j < s2.len() && s2[j] == b'0' {
            j += 1;
        }
        let (n1, n2) = (i, j);
        while i < s1.len() && s1[i].is_ascii_digit() {
            i += 1;
        }
        while j < s2.len() && s2[j].is_ascii_digit() {
            j += 1;
        }
        if i - n1 != j - n2 {
            return i - n1 < j - n2;
        }
        if s1[n1..i] != s2[n2..j] {
            return s1[n1..i] < s2[n2..j];
        }
        if n1 != n2 {
            return n1 < n2;
        }
    }
    s1.len() < s2.len()
}

pub(super) fn natural_sort(v: &mut [String]) {
    v.sort_by(|a, b| {
        if natural_less(a, b) {
            std::cmp::Ordering::Less
        } else if natural_less(b, a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
}

/// Go's `time.Time.String()` of an RFC 3339 time as the daemon sends it
/// (`2026-12-01 07:05:00.123456789 +0000 UTC`): fraction without trailing
/// zeros, the zone named only when it is UTC.
pub fn go_time_string(rfc: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc) else {
        return "0001-01-01 00:00:00 +0000 UTC".into();
    };
    let nanos = t.timestamp_subsec_nanos();
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    let off = t.format("%z").to_string();
    let zone = if rfc.ends_with('Z') || rfc.ends_with('z') {
        "UTC".to_string()
    } else {
        off.clone()
    };
    format!("{}{frac} {off} {zone}", t.format("%Y-%m-%d %H:%M:%S"))
}

/// Go's `time.RFC3339Nano` of a decoded time (how `json` prints it back):
/// the fraction without trailing zeros, `Z` for UTC.
pub fn go_rfc3339_nano(rfc: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc) else {
        return "0001-01-01T00:00:00Z".into();
    };
    let nanos = t.timestamp_subsec_nanos();
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    let off = if t.offset().local_minus_utc() == 0 {
        "Z".to_string()
    } else {
        t.format("%:z").to_string()
    };
    format!("{}{frac}{off}", t.format("%Y-%m-%dT%H:%M:%S"))
}

/// One `network ls` row: docker's networkContext fields (sorted by name,
/// as its JSON is).
pub fn network_row(n: &Value, trunc: bool) -> Value {
    let id = n["Id"].as_str().unwrap_or("");
    let labels: Vec<String> = n["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    let b = |k: &str| n[k].as_bool().unwrap_or(false).to_string();
    json!({
        "CreatedAt": go_time_string(n["Created"].as_str().unwrap_or("")),
        "Driver": n["Driver"].as_str().unwrap_or(""),
        "ID": if trunc { id.chars().take(12).collect::<String>() } else { id.to_string() },
        "IPv4": b("EnableIPv4"),
        "IPv6": b("EnableIPv6"),
        "Internal": b("Internal"),
        "Labels": labels.join(","),
        "Name": n["Name"].as_str().unwrap_or(""),
        "Scope": n["Scope"].as_str().unwrap_or(""),
    })
}

pub(super) const LS_HEADERS: &[(&str, &str)] = &[
    ("CreatedAt", "CREATED AT"),
    ("Driver", "DRIVER"),
    ("ID", "NETWORK ID"),
    ("IPv4", "IPV4"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("Name", "NAME"),
    ("Scope", "SCOPE"),
];

pub(super) const LS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

/// The template `network ls` uses for its flags (docker's `NewFormat`).
pub fn ls_format(format: Option<&str>, quiet: bool) -> String {
    match format {
        None | Some("") | Some("table") => {
            if quiet {
                "{{.ID}}".into()
            } else {
                LS_TABLE.into()
            }
        }
        Some("raw") => {
            if quiet {
                "network_id: {{.ID}}".into()
            } else {
                "network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n"
                    .into()
            }
        }
        Some(f) => f.into(),
    }
}

pub async fn ls(c: &Client, a: LsArgs) -> Result<i32, Failure> {
    let mut path = "/networks".to_string();
    if !a.filter.is_empty() {
        let f = filters_json(&a.filter).map_err(|e| with_usage(e, "network ls"))?;
        path.push_str(&format!("?filters={}", q(&f)));
    }
    let list = c.get_json(&path).await?;
    let mut nets: Vec<Value> = list.as_array().cloned().unwrap_or_default();
    nets.sort_by(|x, y| {
        let (a, b) = (
            x["Name"].as_str().unwrap_or(""),
            y["Name"].as_str().unwrap_or(""),
        );
        if natural_less(a, b) {
            std::cmp::Ordering::Less
        } else if natural_less(b, a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    let rows: Vec<Value> = nets.iter().map(|n| network_row(n, !a.no_trunc)).collect();
    let f = ls_format(a.format.as_deref(), a.quiet);
    let text = render_rows(
        Some(&f),
        LS_TABLE,
        &headers(LS_HEADERS),
        &rows,
        "*network.networkContext",
    )
    .map_err(Failure::msg)?;
    print!("{text}");
    Ok(0)
}
