//! Log drivers as the engine sees them: which drivers and options exist
//! (checked at create, dockerd's 400s), the daemon's defaults
//! (`log-driver`, `log-opts`), the `tag` template, `labels`/`env`
//! attributes, and which file the shim keeps for `docker logs`: the
//! json-file log itself, the `local` driver's file, or the dual-logging
//! cache of a remote driver. The shim does the writing and the sending.

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_api::{Error, Result};
use berth_runtime::proto::LogSpec;

use crate::containers::container::Record;
use crate::containers::Containers;

const COMMON: &[&str] = &["mode", "max-buffer-size"];
const ATTRS: &[&str] = &["tag", "labels", "labels-regex", "env", "env-regex"];
const CACHE: &[&str] = &[
    "cache-disabled",
    "cache-max-size",
    "cache-max-file",
    "cache-compress",
];

fn allowed(driver: &str) -> Option<Vec<&'static str>> {
    let mut v: Vec<&str> = COMMON.to_vec();
    match driver {
        "json-file" => v.extend(["max-size", "max-file", "compress"].iter().chain(ATTRS)),
        "local" => v.extend(["max-size", "max-file", "compress"]),
        "none" => {}
        "syslog" => v.extend(
            [
                "syslog-address",
                "syslog-facility",
                "syslog-tls-ca-cert",
                "syslog-tls-cert",
                "syslog-tls-key",
                "syslog-tls-skip-verify",
                "syslog-format",
            ]
            .iter()
            .chain(ATTRS)
            .chain(CACHE),
        ),
        "journald" => v.extend(ATTRS.iter().chain(CACHE)),
        "fluentd" => v.extend(
            [
                "fluentd-address",
                "fluentd-async",
                "fluentd-async-connect",
                "fluentd-buffer-limit",
                "fluentd-retry-wait",
                "fluentd-max-retries",
                "fluentd-sub-second-precision",
                "fluentd-request-ack",
            ]
            .iter()
            .chain(ATTRS)
            .chain(CACHE),
        ),
        "gelf" => v.extend(
            [
                "gelf-address",
                "gelf-compression-type",
                "gelf-compression-level",
                "gelf-tcp-max-reconnect",
                "gelf-tcp-reconnect-delay",
            ]
            .iter()
            .chain(ATTRS)
            .chain(CACHE),
        ),
        _ => return None,
    }
    Some(v)
}

fn size(v: &str, key: &str) -> Result<u64> {
    parse_size(v).ok_or_else(|| Error::invalid(format!("invalid value for {key}: {v}")))
}

/// `10m`, `1k`, `512`: docker's log-option sizes.
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t).to_string();
    let (num, mul) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1u64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        _ => (t.as_str(), 1),
    };
    let n: f64 = num.trim().parse().ok()?;
    (n >= 0.0 && n.is_finite()).then_some((n * mul as f64) as u64)
}

/// Options whose values dockerd's json-file driver reads only when the
/// container starts (its create check, `ValidateLogOpt`, looks at names).
const JSON_FILE_AT_START: &[&str] = &["max-size", "max-file", "compress"];

/// The checks dockerd makes when the container starts and its log driver
/// is made (json-file's `New`): a value it cannot use fails the start.
pub fn check_at_start(driver: &str, opts: &indexmap::IndexMap<String, String>) -> Result<()> {
    if driver != "json-file" {
        return Ok(());
    }
    let fail = |why: String| Error::invalid(format!("failed to initialize logging driver: {why}"));
    if let Some(v) = opts.get("max-size") {
        match parse_size(v) {
            None => return Err(fail(format!("invalid size: '{v}'"))),
            Some(0) => return Err(fail("max-size must be a positive number".into())),
            Some(_) => {}
        }
    }
    if let Some(v) = opts.get("max-file") {
        match v.parse::<i64>() {
            Err(_) => {
                return Err(fail(format!(
                    "strconv.Atoi: parsing \"{v}\": invalid syntax"
                )))
            }
            Ok(n) if n < 1 => return Err(fail("max-file cannot be less than 1".into())),
            Ok(_) => {}
        }
    }
    if let Some(v) = opts.get("compress") {
        if v.parse::<bool>().is_err() {
            return Err(fail(format!(
                "error reading compress log option: strconv.ParseBool: parsing \"{v}\": invalid syntax"
            )));
        }
    }
    Ok(())
}

/// Checks a container's `LogConfig` as dockerd does at create.
pub fn validate(driver: &str, opts: &indexmap::IndexMap<String, String>) -> Result<()> {
    let Some(ok) = allowed(driver) else {
        // dockerd looks an unknown driver up as a plugin, and says so.
        return Err(Error::invalid(format!(
            "error looking up logging plugin {driver}: plugin \"{driver}\" not found"
        )));
    };
    for (k, v) in opts {
        if !ok.contains(&k.as_str()) {
            return Err(Error::invalid(format!(
                "unknown log opt '{k}' for {driver} log driver"
            )));
        }
        if driver == "json-file" && JSON_FILE_AT_START.contains(&k.as_str()) {
            continue;
        }
        match k.as_str() {
            "mode" if v != "blocking" && v != "non-blocking" => {
                return Err(Error::invalid(format!(
                    "logger: logging mode not supported: {v}"
                )))
            }
            "max-size" | "max-buffer-size" | "cache-max-size" => {
                size(v, k)?;
            }
            "max-file" | "cache-max-file"
                if v.parse::<u32>().ok().filter(|n| *n >= 1).is_none() =>
            {
                return Err(Error::invalid(format!(
                    "invalid value for {k}: {v}: max-file must be a positive integer"
                )));
            }
            "compress"
            | "cache-compress"
            | "cache-disabled"
            | "fluentd-async"
            | "fluentd-async-connect"
                if v.parse::<bool>().is_err() =>
            {
                return Err(Error::invalid(format!("invalid value for {k}: {v}")));
            }
            "syslog-facility" => {
                const F: &[&str] = &[
                    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
                    "cron", "authpriv", "ftp", "local0", "local1", "local2", "local3", "local4",
                    "local5", "local6", "local7",
                ];
                if !F.contains(&v.as_str()) && v.parse::<u8>().ok().filter(|n| *n < 24).is_none() {
                    return Err(Error::invalid(format!(
                        "invalid syslog facility value: {v}"
                    )));
                }
            }
            "syslog-format"
                if !["", "rfc3164", "rfc5424", "rfc5424micro"].contains(&v.as_str()) =>
            {
                return Err(Error::invalid(format!("Invalid syslog format: {v}")));
            }
            "gelf-compression-type" if !["gzip", "zlib", "none"].contains(&v.as_str()) => {
                return Err(Error::invalid(format!(
                    "Unknown gelf compression type: {v}"
                )));
            }
            "syslog-address" | "gelf-address" | "fluentd-address" => check_address(k, v)?,
            _ => {}
        }
    }
    // json-file takes max-file alone (it rotates nothing without max-size).
    if driver != "json-file"
        && opts.get("max-file").is_some_and(|n| n != "1")
        && !opts.contains_key("max-size")
    {
        return Err(Error::invalid("max-file cannot be set without max-size"));
    }
    if driver == "gelf" && !opts.contains_key("gelf-address") {
        return Err(Error::invalid("gelf-address is a required parameter"));
    }
    if opts.contains_key("max-buffer-size") && opts.get("mode").is_none_or(|m| m != "non-blocking")
    {
        return Err(Error::invalid(
            "max-buffer-size option is only supported with 'mode=non-blocking'",
        ));
    }
    Ok(())
}

fn check_address(key: &str, v: &str) -> Result<()> {
    let (proto, rest) = v.split_once("://").unwrap_or(("", v));
    let ok_proto = match key {
        "syslog-address" => ["udp", "tcp", "unix", "unixgram"].contains(&proto),
        "gelf-address" => ["udp", "tcp"].contains(&proto),
        _ => ["", "tcp", "unix"].contains(&proto),
    };
    if !ok_proto || rest.is_empty() {
        return Err(Error::invalid(format!("{key}: invalid address {v}")));
    }
    Ok(())
}

/// Renders docker's log `tag` template: `{{.ID}}`, `{{.FullID}}`,
/// `{{.Name}}`, `{{.ImageName}}`, `{{.ImageID}}`, `{{.ImageFullID}}`,
/// `{{.DaemonName}}`; anything else stays as written. Only field lookups
/// are supported: they are what log tags use.
pub fn render_tag(template: &str, r: &Record, image_name: &str) -> String {
    let fields = [
        ("ID", r.id.get(..12).unwrap_or(&r.id).to_string()),
        ("FullID", r.id.clone()),
        ("Name", crate::record_name(r)),
        ("ImageName", image_name.to_string()),
        (
            "ImageID",
            r.image_id
                .trim_start_matches("sha256:")
                .get(..12)
                .unwrap_or("")
                .to_string(),
        ),
        ("ImageFullID", r.image_id.clone()),
        ("DaemonName", "docker".to_string()),
    ];
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = rest[start + 2..start + end].trim();
        match fields.iter().find(|(k, _)| inner == format!(".{k}")) {
            Some((_, v)) => out.push_str(v),
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

impl Containers<'_> {
    /// The daemon's default driver when the client named none.
    pub(crate) fn default_log_config(&self, hc: &mut berth_api::HostConfig) {
        if hc.log_config.r#type.is_empty() {
            hc.log_config.r#type = self.config.log_driver.clone();
            if hc.log_config.config.is_empty() {
                hc.log_config.config = self
                    .config
                    .log_opts
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
            }
        }
    }

    /// The file `docker logs` reads for this container, if any.
    pub fn log_file(&self, r: &Record) -> Option<PathBuf> {
        let lc = &r.host_config.log_config;
        match lc.r#type.as_str() {
            "json-file" | "" => Some(self.log_path(&r.id)),
            "none" => None,
            _ if lc.config.get("cache-disabled").is_some_and(|v| v == "true") => None,
            _ => Some(
                self.container_dir(&r.id)
                    .join("local-logs")
                    .join("container.log"),
            ),
        }
    }

    /// What the shim needs to log this container.
    pub(crate) fn log_spec(&self, r: &Record, image_name: &str) -> LogSpec {
        let lc = &r.host_config.log_config;
        let o = |k: &str| lc.config.get(k).cloned();
        let driver = lc.r#type.clone();
        let tag = render_tag(&o("tag").unwrap_or_else(|| "{{.ID}}".into()), r, image_name);
        let mut attrs = BTreeMap::new();
        if let Some(keys) = o("labels") {
            let labels = r.config.labels.clone().unwrap_or_default();
            for k in keys.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                if let Some(v) = labels.get(k) {
                    attrs.insert(k.to_string(), v.clone());
                }
            }
        }
        if let Some(keys) = o("env") {
            for k in keys.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                if let Some(v) = r
                    .config
                    .env
                    .iter()
                    .flatten()
                    .find_map(|e| e.strip_prefix(&format!("{k}=")))
                {
                    attrs.insert(k.to_string(), v.to_string());
                }
            }
        }
        // json-file carries `tag` in attrs only when asked for.
        if driver == "json-file" && o("tag").is_some() {
            attrs.insert("tag".into(), tag.clone());
        }
        let (max_size, max_count, compress) = match driver.as_str() {
            "json-file" => (
                o("max-size").and_then(|s| parse_size(&s)),
                o("max-file").and_then(|n| n.parse().ok()).unwrap_or(1),
                o("compress").is_some_and(|v| v == "true"),
            ),
            "local" => (
                Some(
                    o("max-size")
                        .and_then(|s| parse_size(&s))
                        .unwrap_or(20 << 20),
                ),
                o("max-file").and_then(|n| n.parse().ok()).unwrap_or(5),
                o("compress").is_none_or(|v| v != "false"),
            ),
            _ => (
                Some(
                    o("cache-max-size")
                        .and_then(|s| parse_size(&s))
                        .unwrap_or(20 << 20),
                ),
                o("cache-max-file")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(5),
                o("cache-compress").is_none_or(|v| v != "false"),
            ),
        };
        LogSpec {
            driver,
            opts: lc
                .config
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            tag,
            // Attributes go to json-file's entries and to every remote driver.
            attrs,
            container_name: r.name.clone(),
            image_id: r.image_id.clone(),
            image_name: image_name.to_string(),
            command: crate::containers::container::command_string(r),
            created: r.created.clone(),
            file_max_size: max_size,
            file_max_count: max_count,
            file_compress: compress,
            max_buffer_size: o("max-buffer-size").and_then(|s| parse_size(&s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> indexmap::IndexMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn validation_reads_like_dockerd() {
        assert!(validate(
            "json-file",
            &opts(&[("max-size", "10m"), ("max-file", "3")])
        )
        .is_ok());
        let e = validate("nope", &opts(&[])).unwrap_err();
        assert_eq!(
            e.message,
            "error looking up logging plugin nope: plugin \"nope\" not found"
        );
        let e = validate("json-file", &opts(&[("bogus", "1")])).unwrap_err();
        assert_eq!(
            e.message,
            "unknown log opt 'bogus' for json-file log driver"
        );
        // json-file's values wait for the start, as dockerd's driver.
        assert!(validate("json-file", &opts(&[("max-size", "lots")])).is_ok());
        assert!(validate("json-file", &opts(&[("max-file", "3")])).is_ok());
        assert!(check_at_start("json-file", &opts(&[("max-size", "lots")])).is_err());
        assert!(check_at_start("json-file", &opts(&[("max-file", "0")])).is_err());
        assert!(check_at_start("json-file", &opts(&[("max-file", "3")])).is_ok());
        assert!(validate("local", &opts(&[("max-file", "3")])).is_err());
        assert!(validate("json-file", &opts(&[("mode", "sometimes")])).is_err());
        assert!(validate("gelf", &opts(&[])).is_err());
        assert!(validate("gelf", &opts(&[("gelf-address", "udp://127.0.0.1:12201")])).is_ok());
        assert!(validate("syslog", &opts(&[("syslog-address", "ftp://x")])).is_err());
        assert!(validate("syslog", &opts(&[("syslog-facility", "local9")])).is_err());
        assert!(validate("local", &opts(&[("tag", "x")])).is_err());
        assert!(validate("json-file", &opts(&[("max-buffer-size", "1m")])).is_err());
        assert!(validate(
            "json-file",
            &opts(&[("mode", "non-blocking"), ("max-buffer-size", "1m")])
        )
        .is_ok());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("2kb"), Some(2048));
        assert_eq!(parse_size("7"), Some(7));
        assert_eq!(parse_size("x"), None);
    }
}
