//! `network create|ls|inspect|rm|prune|connect|disconnect` and `port`, as
//! the docker CLI 28 prints them.

use clap::{Args, Subcommand};
use http_body_util::BodyExt;
use serde_json::{json, Map, Value};

use super::container::{filters_json, headers};
use crate::client::{q, Client, ClientError};
use crate::format::{render_rows, Template};
use crate::Failure;

#[derive(Debug, Subcommand)]
pub enum NetworkCmd {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

#[derive(Debug, Args, Default)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Set metadata on a network
    #[arg(long)]
    pub label: Vec<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Enable or disable IPv4 address assignment
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true, value_parser = go_bool)]
    pub ipv4: Option<bool>,
    /// Enable or disable IPv6 address assignment
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true, value_parser = go_bool)]
    pub ipv6: Option<bool>,
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Create swarm routing-mesh network
    #[arg(long)]
    pub ingress: bool,
    /// Control the network's scope
    #[arg(long)]
    pub scope: Option<String>,
    /// Create a configuration only network
    #[arg(long = "config-only")]
    pub config_only: bool,
    /// The network from which to copy the configuration
    #[arg(long = "config-from")]
    pub config_from: Option<String>,
    /// IP Address Management Driver
    #[arg(long = "ipam-driver", default_value = "default")]
    pub ipam_driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long, value_delimiter = ',')]
    pub subnet: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_delimiter = ',')]
    pub ip_range: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long, value_delimiter = ',')]
    pub gateway: Vec<String>,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver
    #[arg(long = "aux-address")]
    pub aux_address: Vec<String>,
    /// Set IPAM driver specific options
    #[arg(long = "ipam-opt")]
    pub ipam_opt: Vec<String>,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Verbose output for diagnostics
    #[arg(short = 'v', long)]
    pub verbose: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add link to another container
    #[arg(long)]
    pub link: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long, value_delimiter = ',')]
    pub alias: Vec<String>,
    /// Add a link-local address for the container
    #[arg(long = "link-local-ip", value_delimiter = ',')]
    pub link_local_ip: Vec<String>,
    /// driver options for the network
    #[arg(long = "driver-opt", value_delimiter = ',')]
    pub driver_opt: Vec<String>,
    /// Highest gw-priority provides the default gateway. Accepts positive and negative values.
    #[arg(long = "gw-priority", allow_negative_numbers = true)]
    pub gw_priority: Option<i64>,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}

/// Go's `strconv.ParseBool`, as pflag's bool flags take values.
pub fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing \"{s}\": invalid syntax"
        )),
    }
}

/// Runs one `network` subcommand.
pub async fn dispatch(c: &Client, cmd: NetworkCmd) -> Result<i32, Failure> {
    match cmd {
        NetworkCmd::Create(a) => create(c, a).await,
        NetworkCmd::Ls(a) => ls(c, a).await,
        NetworkCmd::Inspect(a) => inspect(c, a).await,
        NetworkCmd::Rm(a) => rm(c, a).await,
        NetworkCmd::Prune(a) => prune(c, a).await,
        NetworkCmd::Connect(a) => connect(c, a).await,
        NetworkCmd::Disconnect(a) => disconnect(c, a).await,
    }
}

/// `k=v` / `k` flags into a map (docker's `MapOpts` and
/// `ConvertKVStringsToMap`: a bare key maps to "").
fn kv_map(items: &[String]) -> Map<String, Value> {
    items
        .iter()
        .map(|i| match i.split_once('=') {
            Some((k, v)) => (k.to_string(), json!(v)),
            None => (i.clone(), json!("")),
        })
        .collect()
}

/// A flag error with the command's usage after it, as cobra prints it.
fn with_usage(f: Failure, path: &str) -> Failure {
    Failure {
        message: format!(
            "{}\n\n{}\n\nRun 'berth {path} --help' for more information",
            f.message,
            crate::usage::usage_line(path)
        ),
        code: f.code,
    }
}

fn flag_error(value: &str, flag: &str, why: &str) -> Failure {
    Failure::usage(format!(
        "invalid argument \"{value}\" for \"{flag}\" flag: {why}\n\n{}\n\nRun 'berth network create --help' for more information",
        crate::usage::usage_line("network create")
    ))
}

/// An address (Go's `net.ParseIP`).
fn parse_ip(s: &str) -> Option<std::net::IpAddr> {
    s.parse().ok()
}

/// A CIDR (`net.ParseCIDR`): the address and the network of its prefix.
fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, std::net::IpAddr, u8)> {
    let (a, p) = s.split_once('/')?;
    let ip: std::net::IpAddr = a.parse().ok()?;
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 3 {
        return None;
    }
    let bits: u8 = p.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if bits > max {
        return None;
    }
    Some((ip, mask(ip, bits), bits))
}

fn mask(ip: std::net::IpAddr, bits: u8) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V4(v) => {
            let m = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            std::net::IpAddr::V4((u32::from(v) & m).into())
        }
        std::net::IpAddr::V6(v) => {
            let m = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            std::net::IpAddr::V6((u128::from(v) & m).into())
        }
    }
}

/// docker's `subnetMatches`: does `subnet` contain the address of `data`
/// (a bare address or a CIDR)?
fn subnet_contains(subnet: &str, data: &str) -> Result<bool, String> {
    let (_, net, bits) = parse_cidr(subnet)
        .ok_or_else(|| format!("invalid subnet: invalid CIDR address: {subnet}"))?;
    let ip = if data.contains('/') {
        parse_cidr(data)
            .map(|(ip, _, _)| ip)
            .ok_or_else(|| format!("invalid CIDR address: {data}"))?
    } else {
        match parse_ip(data) {
            Some(ip) => ip,
            None => return Ok(false),
        }
    };
    if ip.is_ipv4() != net.is_ipv4() {
        return Ok(false);
    }
    Ok(mask(ip, bits) == net)
}

/// The `IPAM` of `network create`, as the docker CLI 28 builds it from
/// `--subnet`, `--ip-range`, `--gateway`, `--aux-address`, with its checks
/// (values are sent as typed; the daemon judges a lone subnet).
pub fn ipam_config(a: &CreateArgs) -> Result<Value, Failure> {
    if a.subnet.len() < a.ip_range.len() || a.subnet.len() < a.gateway.len() {
        return Err(Failure::msg(
            "every ip-range or gateway must have a corresponding subnet",
        ));
    }
    let mut configs: Vec<(String, Map<String, Value>)> = Vec::new();
    for s in &a.subnet {
        for (k, _) in &configs {
            if subnet_contains(s, k).map_err(Failure::msg)?
                || subnet_contains(k, s).map_err(Failure::msg)?
            {
                return Err(Failure::msg(
                    "multiple overlapping subnet configuration is not supported",
                ));
            }
        }
        let mut m = Map::new();
        m.insert("Subnet".into(), json!(s));
        configs.push((s.clone(), m));
    }
    for r in &a.ip_range {
        let mut matched = false;
        for (s, m) in configs.iter_mut() {
            if parse_cidr(r).is_none() {
                return Err(Failure::msg(format!("invalid CIDR address: {r}")));
            }
            if !subnet_contains(s, r).map_err(Failure::msg)? {
                continue;
            }
            if let Some(old) = m.get("IPRange").and_then(Value::as_str) {
                return Err(Failure::msg(format!(
                    "cannot configure multiple ranges ({r}, {old}) on the same subnet ({s})"
                )));
            }
            m.insert("IPRange".into(), json!(r));
            matched = true;
        }
        if !matched {
            return Err(Failure::msg(format!("no matching subnet for range {r}")));
        }
    }
    for g in &a.gateway {
        let mut matched = false;
        for (s, m) in configs.iter_mut() {
            if !subnet_contains(s, g).map_err(Failure::msg)? {
                continue;
            }
            if let Some(old) = m.get("Gateway").and_then(Value::as_str) {
                return Err(Failure::msg(format!(
                    "cannot configure multiple gateways ({g}, {old}) for the same subnet ({s})"
                )));
            }
            m.insert("Gateway".into(), json!(g));
            matched = true;
        }
        if !matched {
            return Err(Failure::msg(format!("no matching subnet for gateway {g}")));
        }
    }
    for (key, addr) in kv_map(&a.aux_address) {
        let addr = addr.as_str().unwrap_or("").to_string();
        let mut matched = false;
        for (s, m) in configs.iter_mut() {
            if !subnet_contains(s, &addr).map_err(Failure::msg)? {
                continue;
            }
            if let Some(aux) = m
                .entry("AuxiliaryAddresses")
                .or_insert_with(|| json!({}))
                .as_object_mut()
            {
                aux.insert(key.clone(), json!(addr));
            }
            matched = true;
        }
        if !matched {
            return Err(Failure::msg(format!(
                "no matching subnet for aux-address {addr}"
            )));
        }
    }
    Ok(json!({
        "Driver": a.ipam_driver,
        "Options": kv_map(&a.ipam_opt),
        "Config": configs.into_iter().map(|(_, m)| Value::Object(m)).collect::<Vec<_>>(),
    }))
}

/// docker's label check: the key must not be empty.
fn check_labels(labels: &[String]) -> Result<(), Failure> {
    for l in labels {
        let key = l.split_once('=').map(|(k, _)| k).unwrap_or(l).trim();
        if key.is_empty() {
            return Err(flag_error(
                l,
                "--label",
                &format!("invalid label '{l}': empty name"),
            ));
        }
    }
    Ok(())
}

/// The body of `POST /networks/create`, in the docker CLI 28's field order.
pub fn create_body(a: &CreateArgs) -> Result<Value, Failure> {
    check_labels(&a.label)?;
    let ipam = ipam_config(a)?;
    let mut b = Map::new();
    b.insert("Driver".into(), json!(a.driver));
    b.insert("Scope".into(), json!(a.scope.clone().unwrap_or_default()));
    if let Some(v) = a.ipv4 {
        b.insert("EnableIPv4".into(), json!(v));
    }
    if let Some(v) = a.ipv6 {
        b.insert("EnableIPv6".into(), json!(v));
    }
    b.insert("IPAM".into(), ipam);
    b.insert("Internal".into(), json!(a.internal));
    b.insert("Attachable".into(), json!(a.attachable));
    b.insert("Ingress".into(), json!(a.ingress));
    b.insert("ConfigOnly".into(), json!(a.config_only));
    b.insert(
        "ConfigFrom".into(),
        match &a.config_from {
            Some(n) if !n.is_empty() => json!({"Network": n}),
            _ => Value::Null,
        },
    );
    b.insert("Options".into(), Value::Object(kv_map(&a.opt)));
    b.insert("Labels".into(), Value::Object(kv_map(&a.label)));
    b.insert("Name".into(), json!(a.name));
    Ok(Value::Object(b))
}

/// Whether the negotiated API version is below `min` (`1.44`...).
async fn api_below(c: &Client, min: &str) -> Result<Option<String>, Failure> {
    use berth_api::version::ApiVersion;
    let v = c.api_version().await?;
    let below = match (ApiVersion::parse(&v), ApiVersion::parse(min)) {
        (Some(have), Some(min)) => have < min,
        _ => false,
    };
    Ok(below.then_some(v))
}

pub async fn create(c: &Client, a: CreateArgs) -> Result<i32, Failure> {
    let mut body = create_body(&a)?;
    // Before API 1.44 the daemon makes duplicates unless asked not to; the
    // docker client asks.
    if api_below(c, "1.44").await?.is_some() {
        if let Some(m) = body.as_object_mut() {
            m.insert("CheckDuplicate".into(), json!(true));
        }
    }
    // The docker CLI prints the ID only (no `Warning`).
    let v = c.post_json("/networks/create", &body).await?;
    println!("{}", v["Id"].as_str().unwrap_or(""));
    Ok(0)
}

/// The docker client's refusal of a per-network MAC address (which is
/// where `--mac-address` goes) before API 1.44.
pub async fn check_create_version(c: &Client, body: &Value) -> Result<(), Failure> {
    let has_mac = body["NetworkingConfig"]["EndpointsConfig"]
        .as_object()
        .into_iter()
        .flatten()
        .any(|(_, e)| e["MacAddress"].as_str().is_some_and(|m| !m.is_empty()));
    if has_mac {
        if let Some(v) = api_below(c, "1.44").await? {
            return Err(Failure::msg(format!(
                "\"specify mac-address per network\" requires API version 1.44, but the berth daemon API version is {v}"
            )));
        }
    }
    Ok(())
}

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

fn natural_sort(v: &mut [String]) {
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

const LS_HEADERS: &[(&str, &str)] = &[
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

const LS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

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

async fn raw_get(c: &Client, path: &str) -> Result<bytes::Bytes, ClientError> {
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

pub async fn rm(c: &Client, a: RmArgs) -> Result<i32, Failure> {
    let mut code = 0;
    for n in &a.names {
        match c.call("DELETE", &format!("/networks/{}", q(n))).await {
            Ok(()) => println!("{n}"),
            Err(e) if a.force && e.status() == Some(404) => {}
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    if code != 0 {
        // docker 28's bare StatusError prints so.
        return Err(Failure::msg("exit status 1"));
    }
    Ok(0)
}

pub const PRUNE_WARNING: &str =
    "WARNING! This will remove all custom networks not used by at least one container.";

pub async fn prune(c: &Client, a: PruneArgs) -> Result<i32, Failure> {
    let filters = filters_json(&a.filter).map_err(|e| {
        let mut e = with_usage(e, "network prune");
        e.message = e.message.replacen("\"-f, --filter\"", "\"--filter\"", 1);
        e
    })?;
    let Some(v) = super::prune_post(c, "networks", PRUNE_WARNING, a.force, || Ok(filters)).await?
    else {
        return Ok(0);
    };
    super::print_deleted("Deleted Networks:", &v["NetworksDeleted"]);
    Ok(0)
}

/// The body of `network connect` (docker's `EndpointSettings` as the CLI
/// 28 sends it).
pub fn connect_body(a: &ConnectArgs) -> Value {
    let driver_opts: Map<String, Value> = a
        .driver_opt
        .iter()
        .filter_map(|o| o.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), json!(v.trim())))
        .collect();
    let att = Attachment {
        target: a.network.clone(),
        aliases: a.alias.clone(),
        ipv4: a.ip.clone().unwrap_or_default(),
        ipv6: a.ip6.clone().unwrap_or_default(),
        link_local: a.link_local_ip.clone(),
        driver_opts,
        gw_priority: a.gw_priority.unwrap_or(0),
        ..Default::default()
    };
    let mut ep = endpoint_json(&att);
    // `network connect` always sends these three, empty or not.
    for (k, empty) in [
        ("IPAMConfig", json!({})),
        ("Aliases", json!([])),
        ("DriverOpts", json!({})),
    ] {
        if ep[k].is_null() {
            ep[k] = empty;
        }
    }
    if !a.link.is_empty() {
        ep["Links"] = json!(a.link);
    }
    json!({"Container": a.container, "EndpointConfig": ep})
}

pub async fn connect(c: &Client, a: ConnectArgs) -> Result<i32, Failure> {
    c.post_json(
        &format!("/networks/{}/connect", q(&a.network)),
        &connect_body(&a),
    )
    .await?;
    Ok(0)
}

pub async fn disconnect(c: &Client, a: DisconnectArgs) -> Result<i32, Failure> {
    c.post_json(
        &format!("/networks/{}/disconnect", q(&a.network)),
        &json!({"Container": a.container, "Force": a.force}),
    )
    .await?;
    Ok(0)
}

/// One `--network` value: a name, or docker's long form
/// (`name=NET,alias=A,ip=IP,ip6=IP,mac-address=MAC,link-local-ip=IP,driver-opt=K=V,gw-priority=N`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Attachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub ipv4: String,
    pub ipv6: String,
    pub mac: String,
    pub link_local: Vec<String>,
    pub driver_opts: Map<String, Value>,
    pub gw_priority: i64,
}

/// docker's `NetworkOpt.Set`: the long form when the value looks like
/// `key=value[,key=value...]` (keys and values lower-cased, as docker does).
pub fn parse_attachment(value: &str) -> Result<Attachment, String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let long = value.char_indices().any(|(i, c)| {
        c == '='
            && value[..i].chars().next_back().is_some_and(word)
            && value[i + 1..].chars().next().is_some_and(word)
    });
    if !long {
        return Ok(Attachment {
            target: value.to_string(),
            ..Default::default()
        });
    }
    let mut a = Attachment::default();
    for field in value.split(',') {
        let lower = field.to_lowercase();
        let Some((key, val)) = lower.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("invalid field {field}"));
        };
        let (key, val) = (key.trim(), val.trim().to_string());
        match key {
            "name" => a.target = val,
            "alias" => a.aliases.push(val),
            "ip" => a.ipv4 = val,
            "ip6" => a.ipv6 = val,
            "mac-address" => a.mac = val,
            "link-local-ip" => a.link_local.push(val),
            "driver-opt" => {
                let (k, v) = val.split_once('=').ok_or_else(|| {
                    format!("invalid key value pair format in driver options: {val}")
                })?;
                a.driver_opts
                    .insert(k.trim().to_lowercase(), json!(v.trim()));
            }
            "gw-priority" => {
                a.gw_priority = val
                    .parse()
                    .map_err(|_| format!("invalid gw-priority: {val}"))?;
            }
            _ => return Err(format!("invalid field key {key}")),
        }
    }
    if a.target.is_empty() {
        return Err("network name not specified".into());
    }
    Ok(a)
}

/// docker's `NetworkMode.IsUserDefined`.
pub fn is_user_defined(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// Go's `net.ParseMAC` (the colon, dash and dot forms).
fn valid_mac(s: &str) -> bool {
    let s = s.trim();
    let hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit());
    for sep in [':', '-'] {
        let parts: Vec<&str> = s.split(sep).collect();
        if matches!(parts.len(), 6 | 8 | 20) && parts.iter().all(|p| hex(p, 2)) {
            return true;
        }
    }
    let parts: Vec<&str> = s.split('.').collect();
    matches!(parts.len(), 3 | 4 | 10) && parts.iter().all(|p| hex(p, 4))
}

/// docker's `EndpointSettings` JSON for an attachment (the CLI 28 sends
/// every field), or `None` when it carries nothing.
fn endpoint_settings(a: &Attachment) -> Result<Value, String> {
    if a.target.trim().is_empty() {
        return Err("no name set for network".into());
    }
    if !is_user_defined(&a.target) && !a.aliases.is_empty() {
        return Err("network-scoped aliases are only supported for user-defined networks".into());
    }
    if !a.mac.is_empty() && !valid_mac(&a.mac) {
        return Err(format!("{} is not a valid mac address", a.mac));
    }
    Ok(endpoint_json(a))
}

/// The `EndpointSettings` JSON of an attachment, every field as docker
/// sends it (`IPAMConfig` only when an address is asked, its fields
/// `omitempty`).
fn endpoint_json(a: &Attachment) -> Value {
    let ipam = if !a.ipv4.is_empty() || !a.ipv6.is_empty() || !a.link_local.is_empty() {
        let mut m = Map::new();
        if !a.ipv4.is_empty() {
            m.insert("IPv4Address".into(), json!(a.ipv4));
        }
        if !a.ipv6.is_empty() {
            m.insert("IPv6Address".into(), json!(a.ipv6));
        }
        if !a.link_local.is_empty() {
            m.insert("LinkLocalIPs".into(), json!(a.link_local));
        }
        Value::Object(m)
    } else {
        Value::Null
    };
    json!({
        "IPAMConfig": ipam,
        "Links": null,
        "Aliases": if a.aliases.is_empty() { Value::Null } else { json!(a.aliases) },
        "MacAddress": a.mac,
        "DriverOpts": if a.driver_opts.is_empty() { Value::Null } else { Value::Object(a.driver_opts.clone()) },
        "GwPriority": a.gw_priority,
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": null,
    })
}

/// `HostConfig.NetworkMode` and `NetworkingConfig.EndpointsConfig` for
/// `run`/`create`'s `--network`, `--network-alias`, `--ip`, `--ip6`,
/// `--link-local-ip` and `--mac-address`, as docker 28's
/// `parseNetworkOpts` builds them: the container-wide flags apply to the
/// first network; a lone network with nothing set gets no endpoint entry;
/// no `--network` means an entry for `default`.
pub fn endpoints_config(
    o: &super::opts::CreateOpts,
) -> Result<(String, Map<String, Value>), Failure> {
    let bad = |m: String| Failure::usage(m);
    let mut nets = Vec::new();
    for n in &o.network {
        nets.push(parse_attachment(n).map_err(|e| {
            Failure::usage(format!(
                "invalid argument \"{n}\" for \"--network\" flag: {e}"
            ))
        })?);
    }
    let apply = |a: &mut Attachment| -> Result<(), Failure> {
        let conflict = |what: &str| bad(format!("conflicting options: cannot specify both {what}"));
        if !a.aliases.is_empty() && !o.network_alias.is_empty() {
            return Err(conflict("--network-alias and per-network alias"));
        }
        if !a.ipv4.is_empty() && o.ip.is_some() {
            return Err(conflict("--ip and per-network IPv4 address"));
        }
        if !a.ipv6.is_empty() && o.ip6.is_some() {
            return Err(conflict("--ip6 and per-network IPv6 address"));
        }
        if !a.mac.is_empty() && o.mac_address.is_some() {
            return Err(conflict("--mac-address and per-network MAC address"));
        }
        if !a.link_local.is_empty() && !o.link_local_ip.is_empty() {
            return Err(conflict(
                "--link-local-ip and per-network link-local IP addresses",
            ));
        }
        if !o.network_alias.is_empty() {
            a.aliases = o.network_alias.clone();
        }
        if let Some(ip) = o.ip.as_ref().filter(|i| !i.is_empty()) {
            a.ipv4 = ip.clone();
        }
        if let Some(ip) = o.ip6.as_ref().filter(|i| !i.is_empty()) {
            a.ipv6 = ip.clone();
        }
        if let Some(m) = o.mac_address.as_ref().filter(|m| !m.is_empty()) {
            a.mac = m.clone();
        }
        if !o.link_local_ip.is_empty() {
            a.link_local = o.link_local_ip.clone();
        }
        Ok(())
    };
    let mut endpoints = Map::new();
    if nets.is_empty() {
        let mut a = Attachment {
            target: "default".into(),
            ..Default::default()
        };
        apply(&mut a)?;
        endpoints.insert("default".into(), endpoint_settings(&a).map_err(bad)?);
        return Ok(("default".into(), endpoints));
    }
    let (mut user, mut other) = (false, false);
    let single = nets.len() == 1;
    for (i, mut a) in nets.clone().into_iter().enumerate() {
        if is_user_defined(&a.target) {
            user = true;
        } else {
            other = true;
        }
        if i == 0 {
            apply(&mut a)?;
        }
        let ep = endpoint_settings(&a).map_err(bad)?;
        if endpoints.contains_key(&a.target) {
            return Err(bad(format!(
                "network \"{}\" is specified multiple times",
                a.target
            )));
        }
        let empty = Attachment {
            target: a.target.clone(),
            ..Default::default()
        };
        if i == 0 && single && a == empty {
            continue;
        }
        endpoints.insert(a.target.clone(), ep);
    }
    if user && other {
        return Err(bad(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
                .into(),
        ));
    }
    Ok((nets[0].target.clone(), endpoints))
}

/// Go's `net.JoinHostPort`: an IPv6 host is bracketed.
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The lines `port` prints for a container's `NetworkSettings.Ports`.
pub fn port_lines(
    ports: &Value,
    want: Option<&str>,
    container: &str,
) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    let frontends = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                join_host_port(
                    f["HostIp"].as_str().unwrap_or(""),
                    f["HostPort"].as_str().unwrap_or(""),
                )
            })
            .collect()
    };
    match want {
        Some(spec) => {
            let (port, proto) = spec.split_once('/').unwrap_or((spec, ""));
            let proto = if proto.is_empty() { "tcp" } else { proto };
            if port.parse::<u16>().is_err() {
                let why = if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() {
                    "value out of range"
                } else {
                    "invalid syntax"
                };
                return Err(Failure::msg(format!(
                    "Error: invalid port ({port}): strconv.ParseUint: parsing \"{port}\": {why}"
                )));
            }
            match ports.get(format!("{port}/{proto}")) {
                Some(v) if !v.is_null() => out.extend(frontends(v)),
                _ => {
                    return Err(Failure::msg(format!(
                        "Error: No public port '{spec}' published for {container}"
                    )))
                }
            }
        }
        None => {
            for (from, v) in ports.as_object().into_iter().flatten() {
                for f in frontends(v) {
                    out.push(format!("{from} -> {f}"));
                }
            }
        }
    }
    natural_sort(&mut out);
    Ok(out)
}

pub async fn port(c: &Client, a: PortArgs) -> Result<i32, Failure> {
    let info = c.inspect_container_json(&a.container).await?;
    let lines = port_lines(
        &info["NetworkSettings"]["Ports"],
        a.port.as_deref(),
        &a.container,
    )?;
    if !lines.is_empty() {
        println!("{}", lines.join("\n"));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: NetworkCmd,
    }

    fn parse(args: &[&str]) -> Result<NetworkCmd, clap::Error> {
        let mut v = vec!["network"];
        v.extend_from_slice(args);
        T::try_parse_from(v).map(|t| t.cmd)
    }

    fn create_args(args: &[&str]) -> CreateArgs {
        let mut v = vec!["create"];
        v.extend_from_slice(args);
        match parse(&v) {
            Ok(NetworkCmd::Create(a)) => a,
            other => panic!("not a create: {other:?}"),
        }
    }

    #[test]
    fn create_flags_build_dockers_body() {
        let a = create_args(&[
            "-d",
            "bridge",
            "--subnet",
            "10.9.0.0/24",
            "--gateway",
            "10.9.0.254",
            "--ip-range",
            "10.9.0.130/25",
            "--internal",
            "--attachable",
            "--label",
            "a=b",
            "--label",
            "flag",
            "-o",
            "com.docker.network.bridge.name=bcnx",
            "--aux-address",
            "host=10.9.0.5",
            "n1",
        ]);
        let b = create_body(&a).unwrap();
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"Driver":"bridge","Scope":"","IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"10.9.0.0/24","IPRange":"10.9.0.130/25","Gateway":"10.9.0.254","AuxiliaryAddresses":{"host":"10.9.0.5"}}]},"Internal":true,"Attachable":true,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{"com.docker.network.bridge.name":"bcnx"},"Labels":{"a":"b","flag":""},"Name":"n1"}"#
        );
        // Defaults: bridge, the default IPAM driver, no config.
        let d = create_body(&create_args(&["plain"])).unwrap();
        assert_eq!(d["Driver"], "bridge");
        assert_eq!(
            d["IPAM"],
            json!({"Driver": "default", "Options": {}, "Config": []})
        );
        assert!(d.get("EnableIPv6").is_none());
        let v6 = create_body(&create_args(&["--ipv6", "x"])).unwrap();
        assert_eq!(v6["EnableIPv6"], json!(true));
        let no6 = create_body(&create_args(&["--ipv6=false", "x"])).unwrap();
        assert_eq!(no6["EnableIPv6"], json!(false));
        // Comma-separated slices, as pflag's StringSlice.
        let two = create_body(&create_args(&["--subnet", "10.1.0.0/24,10.2.0.0/24", "x"])).unwrap();
        assert_eq!(two["IPAM"]["Config"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn create_rejects_what_docker_rejects() {
        let err = |args: &[&str]| create_body(&create_args(args)).unwrap_err().message;
        assert_eq!(
            err(&["--gateway", "10.0.0.1", "x"]),
            "every ip-range or gateway must have a corresponding subnet"
        );
        assert_eq!(
            err(&["--subnet", "10.0.0.0/16", "--subnet", "10.0.1.0/24", "x"]),
            "multiple overlapping subnet configuration is not supported"
        );
        assert_eq!(
            err(&["--subnet", "10.0.0.0/24", "--gateway", "10.1.0.1", "x"]),
            "no matching subnet for gateway 10.1.0.1"
        );
        assert_eq!(
            err(&["--subnet", "10.0.0.0/24", "--ip-range", "10.1.0.0/25", "x"]),
            "no matching subnet for range 10.1.0.0/25"
        );
        assert_eq!(
            err(&["--subnet", "10.0.0.0/24", "--subnet", "nope", "x"]),
            "invalid subnet: invalid CIDR address: nope"
        );
        // A lone subnet goes to the daemon as typed.
        assert_eq!(
            create_body(&create_args(&["--subnet", "nope", "x"])).unwrap()["IPAM"]["Config"],
            json!([{"Subnet": "nope"}])
        );
        assert_eq!(
            err(&["--subnet", "10.0.0.0/24", "--gateway", "bad", "x"]),
            "no matching subnet for gateway bad"
        );
        assert_eq!(
            err(&["--subnet", "10.0.0.0/24", "--ip-range", "bad", "x"]),
            "invalid CIDR address: bad"
        );
        assert_eq!(
            err(&[
                "--subnet",
                "10.0.0.0/24",
                "--aux-address",
                "a=10.1.0.1",
                "x"
            ]),
            "no matching subnet for aux-address 10.1.0.1"
        );
        assert!(err(&["--label", "=v", "x"]).starts_with(
            "invalid argument \"=v\" for \"--label\" flag: invalid label '=v': empty name"
        ));
        assert!(parse(&["create"]).is_err());
        assert!(parse(&["create", "--bogus", "x"]).is_err());
    }

    #[test]
    fn ls_inspect_rm_prune_flags() {
        match parse(&[
            "ls",
            "-q",
            "--no-trunc",
            "-f",
            "name=a",
            "--format",
            "{{.Name}}",
        ]) {
            Ok(NetworkCmd::Ls(a)) => {
                assert!(a.quiet && a.no_trunc);
                assert_eq!(a.filter, ["name=a"]);
                assert_eq!(a.format.as_deref(), Some("{{.Name}}"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse(&["list"]), Ok(NetworkCmd::Ls(_))));
        match parse(&["inspect", "-f", "{{.Name}}", "a", "b"]) {
            Ok(NetworkCmd::Inspect(a)) => assert_eq!(a.names, ["a", "b"]),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["inspect"]).is_err());
        match parse(&["remove", "-f", "a", "b"]) {
            Ok(NetworkCmd::Rm(a)) => assert!(a.force && a.names == ["a", "b"]),
            other => panic!("{other:?}"),
        }
        match parse(&["prune", "-f", "--filter", "label=x"]) {
            Ok(NetworkCmd::Prune(a)) => assert!(a.force && a.filter == ["label=x"]),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["prune", "extra"]).is_err());
        assert_eq!(ls_format(None, true), "{{.ID}}");
        assert_eq!(ls_format(Some("{{.Name}}"), true), "{{.Name}}");
        assert_eq!(ls_format(Some("table"), false), LS_TABLE);
    }

    #[test]
    fn connect_and_disconnect_flags() {
        match parse(&[
            "connect", "--alias", "a,b", "--alias", "c", "--ip", "10.0.0.9", "n", "ctr",
        ]) {
            Ok(NetworkCmd::Connect(a)) => {
                let b = connect_body(&a);
                assert_eq!(b["Container"], "ctr");
                assert_eq!(b["EndpointConfig"]["Aliases"], json!(["a", "b", "c"]));
                assert_eq!(b["EndpointConfig"]["IPAMConfig"]["IPv4Address"], "10.0.0.9");
            }
            other => panic!("{other:?}"),
        }
        match parse(&["connect", "n", "ctr"]) {
            Ok(NetworkCmd::Connect(a)) => {
                let ep = &connect_body(&a)["EndpointConfig"];
                assert_eq!(
                    (
                        &ep["IPAMConfig"],
                        &ep["Aliases"],
                        &ep["DriverOpts"],
                        &ep["Links"]
                    ),
                    (&json!({}), &json!([]), &json!({}), &Value::Null)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["connect", "n"]).is_err());
        match parse(&["disconnect", "-f", "n", "c"]) {
            Ok(NetworkCmd::Disconnect(a)) => assert!(a.force && a.network == "n"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn natural_order() {
        let mut v: Vec<String> = ["net10", "net2", "bridge", "net02", "a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        natural_sort(&mut v);
        assert_eq!(v, ["a", "bridge", "net2", "net02", "net10"]);
        assert!(natural_less(
            "80/tcp -> 0.0.0.0:8080",
            "443/tcp -> 0.0.0.0:8443"
        ));
    }

    #[test]
    fn indents_like_go() {
        let raw = br#"{"a":[],"b":{},"c":[1,{"d":"x, y: {z}"}],"e":"q\"}"}"#;
        assert_eq!(
            go_indent(raw),
            "{\n    \"a\": [],\n    \"b\": {},\n    \"c\": [\n        1,\n        {\n            \"d\": \"x, y: {z}\"\n        }\n    ],\n    \"e\": \"q\\\"}\"\n}"
        );
    }

    #[test]
    fn compacts_like_go() {
        assert_eq!(
            go_compact(b"{ \"a\" : [ 1, \"x \\\" y\" ] }\n"),
            "{\"a\":[1,\"x \\\" y\"]}"
        );
    }

    #[test]
    fn times_like_go() {
        assert_eq!(
            go_time_string("2026-12-01T07:05:00.1234Z"),
            "2026-12-01 07:05:00.1234 +0000 UTC"
        );
        assert_eq!(
            go_rfc3339_nano("2026-12-01T07:15:40.389477430Z"),
            "2026-12-01T07:15:40.38947743Z"
        );
        assert_eq!(
            go_time_string("2026-12-01T07:05:00Z"),
            "2026-12-01 07:05:00 +0000 UTC"
        );
    }

    #[test]
    fn ports_like_docker() {
        let p = json!({
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
            "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
            "9/tcp": null,
        });
        assert_eq!(
            port_lines(&p, None, "c").unwrap(),
            [
                "53/udp -> 127.0.0.1:5353",
                "80/tcp -> 0.0.0.0:8080",
                "80/tcp -> [::]:8080"
            ]
        );
        assert_eq!(
            port_lines(&p, Some("80"), "c").unwrap(),
            ["0.0.0.0:8080", "[::]:8080"]
        );
        assert_eq!(
            port_lines(&p, Some("9"), "c").unwrap_err().message,
            "Error: No public port '9' published for c"
        );
        assert_eq!(
            port_lines(&p, Some("81/udp"), "web").unwrap_err().message,
            "Error: No public port '81/udp' published for web"
        );
        assert_eq!(
            port_lines(&p, Some("x"), "c").unwrap_err().message,
            "Error: invalid port (x): strconv.ParseUint: parsing \"x\": invalid syntax"
        );
    }

    fn create_opts(args: &[&str]) -> crate::commands::opts::CreateOpts {
        #[derive(Parser)]
        #[command(disable_help_flag = true)]
        struct C {
            #[command(flatten)]
            o: crate::commands::opts::CreateOpts,
        }
        let mut v = vec!["create"];
        v.extend_from_slice(args);
        v.push("busybox");
        C::try_parse_from(v)
            .map(|c| c.o)
            .expect("create flags parse")
    }

    #[test]
    fn run_network_flags_as_docker_sends_them() {
        // No --network: an entry for `default`, carrying the MAC address.
        let (mode, eps) =
            endpoints_config(&create_opts(&["--mac-address", "02:42:aa:bb:cc:01"])).unwrap();
        assert_eq!(mode, "default");
        assert_eq!(eps["default"]["MacAddress"], "02:42:aa:bb:cc:01");
        assert_eq!(eps["default"]["IPAMConfig"], Value::Null);
        // A lone network with nothing set: no entry.
        let (mode, eps) = endpoints_config(&create_opts(&["--network", "bridge"])).unwrap();
        assert_eq!(mode, "bridge");
        assert!(eps.is_empty());
        // The container-wide flags land on the first network.
        let (mode, eps) = endpoints_config(&create_opts(&[
            "--net",
            "n1",
            "--network-alias",
            "a",
            "--ip",
            "10.0.0.5",
            "--ip6",
            "fd00::5",
        ]))
        .unwrap();
        assert_eq!(mode, "n1");
        assert_eq!(eps["n1"]["Aliases"], json!(["a"]));
        assert_eq!(
            eps["n1"]["IPAMConfig"],
            json!({"IPv4Address": "10.0.0.5", "IPv6Address": "fd00::5"})
        );
        // The long form, lower-cased as docker does.
        let (_, eps) =
            endpoints_config(&create_opts(&["--network", "name=N1,alias=ZZ,ip=10.0.0.6"])).unwrap();
        assert_eq!(eps["n1"]["Aliases"], json!(["zz"]));
        let (_, eps) =
            endpoints_config(&create_opts(&["--network", "n1", "--network", "n2"])).unwrap();
        assert_eq!(eps.len(), 2);
        let err = |args: &[&str]| endpoints_config(&create_opts(args)).unwrap_err();
        let e = err(&["--network-alias", "x"]);
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                125,
                "network-scoped aliases are only supported for user-defined networks"
            )
        );
        assert_eq!(
            err(&["--network", "n1", "--network", "bridge"]).message,
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
        );
        assert_eq!(
            err(&["--network", "n1", "--network", "n1"]).message,
            "network \"n1\" is specified multiple times"
        );
        assert_eq!(
            err(&["--network", "name=n1,bogus=1"]).message,
            "invalid argument \"name=n1,bogus=1\" for \"--network\" flag: invalid field key bogus"
        );
        assert_eq!(
            err(&["--network", "alias=x"]).message,
            "invalid argument \"alias=x\" for \"--network\" flag: network name not specified"
        );
        assert_eq!(
            err(&["--network", "name=n1,alias=a", "--network-alias", "b"]).message,
            "conflicting options: cannot specify both --network-alias and per-network alias"
        );
        assert_eq!(
            err(&["--mac-address", "zz"]).message,
            "zz is not a valid mac address"
        );
        let o = create_opts(&[
            "--dns-search",
            "ex.test",
            "--dns-opt",
            "ndots:2",
            "--dns-option",
            "x",
        ]);
        let b = crate::commands::opts::create_body(&o, false, None).unwrap();
        assert_eq!(b["HostConfig"]["DnsSearch"], json!(["ex.test"]));
        assert_eq!(b["HostConfig"]["DnsOptions"], json!(["ndots:2", "x"]));
    }
}
