//! The settings merged from flags and `daemon.json` for TLS, networking
//! and logging, each checked as dockerd checks it.

use std::path::{Path, PathBuf};

use anyhow::bail;
use serde_json::{Map, Value};

use super::{Flags, TlsSettings};

/// dockerd's rules: `--tlsverify` given at all (even `=false`) turns TLS on;
/// `--tls` alone encrypts without asking clients for a certificate; paths
/// not given default to `ca.pem`, `cert.pem`, `key.pem` in
/// `$DOCKER_CERT_PATH`, else `~/.docker`. The CA is only needed (and only
/// defaulted) when verifying clients.
pub(super) fn tls_settings(
    flags: &Flags,
    file: &Map<String, Value>,
    path: &Path,
) -> anyhow::Result<Option<TlsSettings>> {
    let bool_key = |k: &str| -> anyhow::Result<Option<bool>> {
        match file.get(k) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => bail!(
                "unable to configure the daemon with file {}: {k} must be a boolean, not {v}",
                path.display()
            ),
        }
    };
    let path_key = |k: &str| -> anyhow::Result<Option<PathBuf>> {
        match file.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(PathBuf::from(s))),
            Some(v) => bail!(
                "unable to configure the daemon with file {}: {k} must be a file path, not {v}",
                path.display()
            ),
        }
    };
    let tlsverify = flags.tlsverify.or(bool_key("tlsverify")?);
    let tls = flags.tls.or(bool_key("tls")?).unwrap_or(false);
    let cacert = flags.tlscacert.clone().or(path_key("tlscacert")?);
    let cert = flags.tlscert.clone().or(path_key("tlscert")?);
    let key = flags.tlskey.clone().or(path_key("tlskey")?);
    if !tls && tlsverify.is_none() {
        return Ok(None);
    }
    let verify_clients = tlsverify.unwrap_or(false);
    let dir = default_cert_dir();
    Ok(Some(TlsSettings {
        verify_clients,
        ca: cacert.or_else(|| verify_clients.then(|| dir.join("ca.pem"))),
        cert: cert.unwrap_or_else(|| dir.join("cert.pem")),
        key: key.unwrap_or_else(|| dir.join("key.pem")),
    }))
}

/// Where dockerd looks for `ca.pem`, `cert.pem` and `key.pem` by default.
pub(super) fn default_cert_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CERT_PATH").filter(|d| !d.is_empty()) {
        return d.into();
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return d.into();
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker")
}

/// The networking keys: `bridge`, `bip`, `default-address-pools`,
/// `iptables`, `ip-forward`, `ip-masq`, `mtu`, `dns`, `dns-search`, `dns-opts`.
pub(super) fn network_settings(
    flags: &Flags,
    file: &Map<String, Value>,
    path: &Path,
) -> anyhow::Result<berth_engine::networks::NetConfig> {
    use berth_engine::networks::NetConfig;
    let bad = |k: &str, why: &str| {
        anyhow::anyhow!(
            "unable to configure the daemon with file {}: {k}: {why}",
            path.display()
        )
    };
    let s = |k: &str| file.get(k).and_then(Value::as_str).map(str::to_string);
    let b = |k: &str| file.get(k).and_then(Value::as_bool);
    let list = |k: &str| -> Vec<String> {
        file.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut c = NetConfig::default();
    if let Some(br) = flags.bridge.clone().or(s("bridge")) {
        if br.is_empty() || br.len() > 15 || br == "none" {
            bail!("invalid bridge name {br:?}: 1 to 15 characters");
        }
        c.bridge = br;
    }
    if let Some(bip) = flags.bip.clone().or(s("bip")) {
        c.bip = Some(
            bip.parse()
                .map_err(|_| anyhow::anyhow!("invalid bip {bip:?}: not an IPv4 CIDR address"))?,
        );
    }
    let mut pools: Vec<(ipnet::Ipv4Net, u8)> = Vec::new();
    for p in &flags.default_address_pools {
        let mut base = None;
        let mut size = None;
        for kv in p.split(',') {
            match kv.split_once('=') {
                Some(("base", v)) => base = v.parse().ok(),
                Some(("size", v)) => size = v.parse().ok(),
                _ => bail!("invalid default address pool {p:?}: want base=CIDR,size=N"),
            }
        }
        match (base, size) {
            (Some(b), Some(s)) => pools.push((b, s)),
            _ => bail!("invalid default address pool {p:?}: want base=CIDR,size=N"),
        }
    }
    if let Some(v) = file.get("default-address-pools") {
        let arr = v
            .as_array()
            .ok_or_else(|| bad("default-address-pools", "not a list"))?;
        for p in arr {
            let base = p
                .get("base")
                .and_then(Value::as_str)
                .and_then(|b| b.parse().ok())
                .ok_or_else(|| bad("default-address-pools", "base must be an IPv4 CIDR"))?;
            let size = p
                .get("size")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("default-address-pools", "size must be a number"))?;
            pools.push((base, size as u8));
        }
    }
    if !pools.is_empty() {
        c.pools =
            berth_network::ipam::pools_from(&pools).map_err(|e| anyhow::anyhow!(e.message))?;
    }
    c.iptables = flags.iptables.or(b("iptables")).unwrap_or(true);
    c.ip_forward = flags.ip_forward.or(b("ip-forward")).unwrap_or(true);
    c.ip_masq = flags.ip_masq.or(b("ip-masq")).unwrap_or(true);
    c.mtu = flags
        .mtu
        .or(file.get("mtu").and_then(Value::as_u64).map(|m| m as u32))
        .filter(|m| *m != 0 && *m != 1500);
    c.dns = if flags.dns.is_empty() {
        list("dns")
    } else {
        flags.dns.clone()
    };
    for d in &c.dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            bail!("{d} is not an ip address");
        }
    }
    c.dns_search = if flags.dns_search.is_empty() {
        list("dns-search")
    } else {
        flags.dns_search.clone()
    };
    c.dns_options = if flags.dns_opts.is_empty() {
        list("dns-opts")
    } else {
        flags.dns_opts.clone()
    };
    Ok(c)
}

/// `log-driver` / `log-opts` (`--log-driver`, `--log-opt k=v`), checked
/// as a container's would be.
pub(super) fn log_settings(
    flags: &Flags,
    file: &Map<String, Value>,
) -> anyhow::Result<(String, std::collections::BTreeMap<String, String>)> {
    let driver = flags
        .log_driver
        .clone()
        .or_else(|| {
            file.get("log-driver")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "json-file".into());
    let mut opts = std::collections::BTreeMap::new();
    if let Some(m) = file.get("log-opts").and_then(Value::as_object) {
        for (k, v) in m {
            let Some(v) = v.as_str() else {
                bail!("log-opts: the value of {k} must be a string");
            };
            opts.insert(k.clone(), v.to_string());
        }
    }
    for kv in &flags.log_opts {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("invalid key value pair format in log opts: {kv}");
        };
        opts.insert(k.to_string(), v.to_string());
    }
    let as_map: indexmap::IndexMap<String, String> =
        opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    berth_engine::containers::logdriver::validate(&driver, &as_map)
        .map_err(|e| anyhow::anyhow!("failed to set log opts: {}", e.message))?;
    Ok((driver, opts))
}
