//! The configuration, read as CNCF distribution reads it: a YAML file
//! (`version: 0.1`) with `REGISTRY_*` environment overrides, where
//! `REGISTRY_A_B_C=v` sets `a.b.c` (the value read as a YAML scalar) and
//! `REGISTRY_AUTH=htpasswd` / `REGISTRY_STORAGE=filesystem` pick a driver.
//!
//! Keys distribution knows but this registry has no use for (`http.headers`,
//! `storage.cache`, `health`, `notifications`, ...) are accepted and
//! ignored; any other key, a wrong type or a missing value is an error that
//! names it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read the configuration {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The settings the registry runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// `log.level`: error, warn, info or debug.
    pub log_level: String,
    /// `storage.filesystem.rootdirectory`.
    pub root: PathBuf,
    /// `storage.delete.enabled`.
    pub delete_enabled: bool,
    /// `storage.maintenance.readonly.enabled`.
    pub readonly: bool,
    /// `http.addr`, as a socket address (`:5000` means every interface).
    pub addr: String,
    pub tls: Option<TlsConfig>,
    pub auth: Option<AuthConfig>,
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub certificate: PathBuf,
    pub key: PathBuf,
    /// With CAs, clients must present a certificate one of them signed.
    pub clientcas: Vec<PathBuf>,
    /// `http.tls.minimumtls: tls1.3`: refuse TLS 1.2 (rustls never speaks
    /// below 1.2, so `tls1.0`..`tls1.2` all mean 1.2).
    pub tls13_only: bool,
}

#[derive(Debug, Clone)]
pub enum AuthConfig {
    Htpasswd {
        realm: String,
        path: PathBuf,
    },
    Token {
        realm: String,
        service: String,
        issuer: String,
        rootcertbundle: PathBuf,
        /// berth extension: serve the token endpoint (`/auth/token`) here,
        /// signing with this key (PEM, PKCS#8 EC P-256 or RSA), whose
        /// certificate is in `rootcertbundle`.
        signingkey: Option<PathBuf>,
        /// berth extension: the users the token endpoint authenticates.
        htpasswd: Option<PathBuf>,
    },
}

// ---- the file's shape --------------------------------------------------

// Fields distribution knows but this registry ignores are read, never used.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: Option<Value>,
    log: Option<LogSection>,
    loglevel: Option<String>,
    storage: Option<StorageSection>,
    http: Option<HttpSection>,
    auth: Option<AuthSection>,
    // Known to distribution; nothing here for this registry to do.
    health: Option<Value>,
    notifications: Option<Value>,
    redis: Option<Value>,
    proxy: Option<Value>,
    validation: Option<Value>,
    compatibility: Option<Value>,
    reporting: Option<Value>,
    middleware: Option<Value>,
    catalog: Option<Value>,
}

// Fields distribution knows but this registry ignores are read, never used.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSection {
    level: Option<String>,
    formatter: Option<Value>,
    fields: Option<Value>,
    accesslog: Option<Value>,
    hooks: Option<Value>,
    reportcaller: Option<Value>,
}

// Fields distribution knows but this registry ignores are read, never used.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageSection {
    filesystem: Option<FilesystemSection>,
    delete: Option<Enabled>,
    maintenance: Option<MaintenanceSection>,
    cache: Option<Value>,
    redirect: Option<Value>,
    tag: Option<Value>,
}

// Fields distribution knows but this registry ignores are read, never used.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesystemSection {
    rootdirectory: Option<PathBuf>,
    maxthreads: Option<Value>,
}

// Fields distribution knows but this registry ignores are read, never used.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Enabled {
    enabled: Option<bool>,
}

// Fields distribution knows but this registry ignores are read, never used.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaintenanceSection {
    readonly: Option<Enabled>,
    uploadpurging: Option<Value>,
}

// Fields distribution knows but this registry ignores are read, never used.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSection {
    addr: Option<String>,
    net: Option<String>,
    prefix: Option<String>,
    host: Option<Value>,
    secret: Option<Value>,
    relativeurls: Option<Value>,
    draintimeout: Option<Value>,
    tls: Option<TlsSection>,
    debug: Option<Value>,
    headers: Option<Value>,
    http2: Option<Value>,
}

// Fields distribution knows but this registry ignores are read, never used.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
    clientcas: Option<Vec<PathBuf>>,
    minimumtls: Option<String>,
    ciphersuites: Option<Value>,
    letsencrypt: Option<Value>,
}

// Fields distribution knows but this registry ignores are read, never used.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthSection {
    htpasswd: Option<HtpasswdSection>,
    token: Option<TokenSection>,
    silly: Option<Value>,
}

// Fields distribution knows but this registry ignores are read, never used.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HtpasswdSection {
    realm: Option<String>,
    path: Option<PathBuf>,
}

// Fields distribution knows but this registry ignores are read, never used.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenSection {
    realm: Option<String>,
    service: Option<String>,
    issuer: Option<String>,
    rootcertbundle: Option<PathBuf>,
    autoredirect: Option<Value>,
    jwks: Option<Value>,
    signingalgorithms: Option<Value>,
    signingkey: Option<PathBuf>,
    htpasswd: Option<PathBuf>,
}

/// The top-level keys an environment variable may set; any other
/// `REGISTRY_*` variable (Kubernetes' `REGISTRY_PORT`, say) is ignored.
const TOP_KEYS: &[&str] = &[
    "version",
    "log",
    "loglevel",
    "storage",
    "http",
    "auth",
    "health",
    "notifications",
    "redis",
    "proxy",
    "validation",
    "compatibility",
    "reporting",
    "middleware",
    "catalog",
];

/// Sections whose value may be given as a driver name alone.
const DRIVER_SECTIONS: &[&str] = &["auth", "storage"];

impl Config {
    /// Reads `path` and applies the `REGISTRY_*` variables of the process.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, std::env::vars(), path)
    }

    /// Parses `text` with the overrides in `env` (name, value pairs).
    pub fn parse(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
        path: &Path,
    ) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let file = read_file(text, env).map_err(invalid)?;
        check_version(file.version.as_ref()).map_err(invalid)?;
        let log_level = log_level(file.log.as_ref(), file.loglevel.as_deref()).map_err(invalid)?;
        let (root, delete_enabled, readonly) = storage(file.storage).map_err(invalid)?;
        let (addr, tls) = http(file.http).map_err(invalid)?;
        let auth = file.auth.map(auth).transpose().map_err(invalid)?.flatten();
        Ok(Config {
            log_level,
            root,
            delete_enabled,
            readonly,
            addr,
            tls,
            auth,
        })
    }
}

// Each section below is read as distribution reads it; an error is the
// message `ConfigError::Invalid` carries with the file's path.

/// The YAML with the `REGISTRY_*` environment overrides applied.
fn read_file(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<File, String> {
    let mut root: Value = if text.trim().is_empty() {
        Value::Mapping(Mapping::new())
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
    };
    if !root.is_mapping() {
        return Err("the configuration must be a YAML mapping".into());
    }
    let mut overrides: Vec<(Vec<String>, String)> = env
        .into_iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix("REGISTRY_")?;
            let path: Vec<String> = rest.split('_').map(|s| s.to_ascii_lowercase()).collect();
            if path.iter().any(|s| s.is_empty()) || !TOP_KEYS.contains(&path[0].as_str()) {
                return None;
            }
            Some((path, v))
        })
        .collect();
    // Shallow first, so REGISTRY_AUTH=htpasswd lands before
    // REGISTRY_AUTH_HTPASSWD_REALM.
    overrides.sort_by_key(|(p, _)| p.len());
    for (p, v) in overrides {
        set_path(&mut root, &p, &v);
    }
    serde_path_to_error::deserialize(root).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner().to_string();
        if at == "." || at.is_empty() {
            inner
        } else {
            format!("{at}: {inner}")
        }
    })
}

fn check_version(version: Option<&Value>) -> Result<(), String> {
    match version {
        Some(Value::Number(n)) if n.as_f64() == Some(0.1) => Ok(()),
        Some(Value::String(s)) if s == "0.1" => Ok(()),
        Some(v) => Err(format!(
            "unsupported version {}: only 0.1 is supported",
            serde_yaml_ng::to_string(v).unwrap_or_default().trim()
        )),
        None => Err("version is missing (version: 0.1)".into()),
    }
}

/// `log.level`, else the old top-level `loglevel`, else `info`.
fn log_level(log: Option<&LogSection>, loglevel: Option<&str>) -> Result<String, String> {
    let level = log
        .and_then(|l| l.level.clone())
        .or(loglevel.map(str::to_string))
        .unwrap_or_else(|| "info".into())
        .to_ascii_lowercase();
    if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
        return Err(format!(
            "invalid log.level {level:?}: use error, warn, info or debug"
        ));
    }
    Ok(level)
}

/// The root directory, whether deletes are enabled, whether read-only.
fn storage(storage: Option<StorageSection>) -> Result<(PathBuf, bool, bool), String> {
    let storage =
        storage.ok_or("storage is missing (storage.filesystem.rootdirectory)".to_string())?;
    let fs = storage
        .filesystem
        .ok_or("no storage driver: only storage.filesystem is supported".to_string())?;
    let root_dir = fs
        .rootdirectory
        .unwrap_or_else(|| PathBuf::from("/var/lib/registry"));
    if !root_dir.is_absolute() {
        return Err(format!(
            "storage.filesystem.rootdirectory {} must be an absolute path",
            root_dir.display()
        ));
    }
    let delete_enabled = storage.delete.and_then(|d| d.enabled).unwrap_or(false);
    let readonly = storage
        .maintenance
        .and_then(|m| m.readonly)
        .and_then(|r| r.enabled)
        .unwrap_or(false);
    Ok((root_dir, delete_enabled, readonly))
}

/// The listen address and TLS.
fn http(http: Option<HttpSection>) -> Result<(String, Option<TlsConfig>), String> {
    let raw_addr = http
        .as_ref()
        .and_then(|h| h.addr.clone())
        .unwrap_or_else(|| ":5000".into());
    let addr = listen_address(&raw_addr)?;
    if let Some(net) = http.as_ref().and_then(|h| h.net.as_deref()) {
        if net != "tcp" {
            return Err(format!("http.net {net:?} is not supported: only tcp"));
        }
    }
    if let Some(prefix) = http.as_ref().and_then(|h| h.prefix.as_deref()) {
        if !prefix.is_empty() && prefix != "/" {
            return Err(format!("http.prefix {prefix:?} is not supported"));
        }
    }
    let tls = http.and_then(|h| h.tls).map(tls).transpose()?.flatten();
    Ok((addr, tls))
}

/// `http.tls`: none without a certificate and key.
fn tls(t: TlsSection) -> Result<Option<TlsConfig>, String> {
    if t.letsencrypt.is_some() {
        return Err("http.tls.letsencrypt is not supported".into());
    }
    let tls13_only = match t.minimumtls.as_deref() {
        None | Some("" | "tls1.0" | "tls1.1" | "tls1.2") => false,
        Some("tls1.3") => true,
        Some(other) => {
            return Err(format!(
                "http.tls.minimumtls {other:?}: use tls1.2 or tls1.3"
            ))
        }
    };
    match (t.certificate, t.key) {
        (None, None) => Ok(None),
        (Some(certificate), Some(key)) => Ok(Some(TlsConfig {
            certificate,
            key,
            clientcas: t.clientcas.unwrap_or_default(),
            tls13_only,
        })),
        (Some(_), None) => Err("http.tls.certificate is set but http.tls.key is not".into()),
        (None, Some(_)) => Err("http.tls.key is set but http.tls.certificate is not".into()),
    }
}

/// `auth`: one scheme at most; none for an empty section.
fn auth(a: AuthSection) -> Result<Option<AuthConfig>, String> {
    let n = a.htpasswd.is_some() as u8 + a.token.is_some() as u8 + a.silly.is_some() as u8;
    if n > 1 {
        return Err("more than one auth scheme is configured".into());
    }
    if a.silly.is_some() {
        return Err("auth.silly is not supported: use htpasswd or token".into());
    }
    if let Some(h) = a.htpasswd {
        return Ok(Some(AuthConfig::Htpasswd {
            realm: h
                .realm
                .ok_or("auth.htpasswd.realm is missing".to_string())?,
            path: h.path.ok_or("auth.htpasswd.path is missing".to_string())?,
        }));
    }
    let Some(t) = a.token else {
        return Ok(None);
    };
    if t.jwks.is_some() {
        return Err("auth.token.jwks is not supported: use rootcertbundle".into());
    }
    let need = |v: Option<String>, k: &str| {
        v.filter(|s| !s.is_empty())
            .ok_or_else(|| format!("auth.token.{k} is missing"))
    };
    if t.signingkey.is_some() != t.htpasswd.is_some() {
        return Err(
            "the token service needs both auth.token.signingkey and auth.token.htpasswd".into(),
        );
    }
    Ok(Some(AuthConfig::Token {
        realm: need(t.realm, "realm")?,
        service: need(t.service, "service")?,
        issuer: need(t.issuer, "issuer")?,
        rootcertbundle: t
            .rootcertbundle
            .ok_or("auth.token.rootcertbundle is missing".to_string())?,
        signingkey: t.signingkey,
        htpasswd: t.htpasswd,
    }))
}

/// `:5000` -> `0.0.0.0:5000`, as Go's listener reads an empty host.
fn listen_address(addr: &str) -> Result<String, String> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("invalid http.addr {addr:?}: expected HOST:PORT"))?;
    port.parse::<u16>()
        .map_err(|_| format!("invalid http.addr {addr:?}: bad port {port:?}"))?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok(format!("{host}:{port}"))
}

fn env_value(v: &str) -> Value {
    match serde_yaml_ng::from_str::<Value>(v) {
        Ok(x @ (Value::Bool(_) | Value::Number(_) | Value::String(_))) => x,
        _ => Value::String(v.to_string()),
    }
}

fn set_path(root: &mut Value, path: &[String], v: &str) {
    let mut node = root;
    for (i, key) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        // A driver given by name (`auth: htpasswd`) becomes `{htpasswd: {}}`.
        if let Value::String(s) = node {
            let mut m = Mapping::new();
            m.insert(Value::String(s.clone()), Value::Mapping(Mapping::new()));
            *node = Value::Mapping(m);
        }
        if !node.is_mapping() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else { return };
        let k = Value::String(key.clone());
        if last {
            if i == 0 && DRIVER_SECTIONS.contains(&key.as_str()) {
                // Keep what the file says about this driver, drop the others.
                let kept = map
                    .get(&k)
                    .and_then(|cur| cur.as_mapping())
                    .and_then(|m| m.get(Value::String(v.to_string())))
                    .cloned()
                    .unwrap_or(Value::Mapping(Mapping::new()));
                let mut m = Mapping::new();
                m.insert(Value::String(v.to_string()), kept);
                map.insert(k, Value::Mapping(m));
            } else {
                map.insert(k, env_value(v));
            }
            return;
        }
        node = map
            .entry(k)
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::parse(
            text,
            env.iter().map(|(a, b)| (a.to_string(), b.to_string())),
            Path::new("config.yml"),
        )
    }

    const DEBIAN: &str = "version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/docker-registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
";

    #[test]
    fn debian_default_config() {
        let c = parse(DEBIAN, &[]).expect("parse");
        assert_eq!(c.root, PathBuf::from("/var/lib/docker-registry"));
        assert_eq!(c.addr, "0.0.0.0:5000");
        assert!(!c.delete_enabled && !c.readonly);
        assert!(c.auth.is_none() && c.tls.is_none());
    }

    #[test]
    fn env_overrides() {
        let c = parse(
            DEBIAN,
            &[
                ("REGISTRY_HTTP_ADDR", "127.0.0.1:5050"),
                ("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/srv/reg"),
                ("REGISTRY_STORAGE_DELETE_ENABLED", "true"),
                ("REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm"),
                ("REGISTRY_AUTH", "htpasswd"),
                ("REGISTRY_AUTH_HTPASSWD_PATH", "/auth/htpasswd"),
                ("REGISTRY_HTTP_TLS_CERTIFICATE", "/c.pem"),
                ("REGISTRY_HTTP_TLS_KEY", "/k.pem"),
                ("REGISTRY_LOG_LEVEL", "debug"),
                ("REGISTRY_PORT", "tcp://10.0.0.1:5000"),
            ],
        )
        .expect("parse");
        assert_eq!(c.addr, "127.0.0.1:5050");
        assert_eq!(c.root, PathBuf::from("/srv/reg"));
        assert!(c.delete_enabled);
        assert_eq!(c.log_level, "debug");
        assert!(
            matches!(c.auth, Some(AuthConfig::Htpasswd { ref realm, ref path })
            if realm == "Registry Realm" && path == Path::new("/auth/htpasswd"))
        );
        let tls = c.tls.expect("tls");
        assert_eq!(tls.certificate, PathBuf::from("/c.pem"));
    }

    #[test]
    fn env_switches_auth_driver() {
        let text = format!(
            "{DEBIAN}auth:\n  token:\n    realm: r\n    service: s\n    issuer: i\n    rootcertbundle: /b\n"
        );
        let c = parse(
            &text,
            &[
                ("REGISTRY_AUTH", "htpasswd"),
                ("REGISTRY_AUTH_HTPASSWD_REALM", "x"),
                ("REGISTRY_AUTH_HTPASSWD_PATH", "/p"),
            ],
        )
        .expect("parse");
        assert!(matches!(c.auth, Some(AuthConfig::Htpasswd { .. })));
    }

    #[test]
    fn bad_configs_are_refused_with_the_key_named() {
        let cases: &[(&str, &str)] = &[
            (
                "version: 0.1\nstorage:\n  filesystem:\n    rootdir: /x\n",
                "rootdir",
            ),
            ("version: 0.1\nstorage:\n  s3:\n    bucket: b\n", "s3"),
            ("version: 0.2\nstorage:\n  filesystem: {}\n", "version"),
            ("storage:\n  filesystem: {}\n", "version"),
            (
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: rel\n",
                "absolute",
            ),
            (
                "version: 0.1\nstorage:\n  filesystem: {}\nhttp:\n  addr: nope\n",
                "http.addr",
            ),
            (
                "version: 0.1\nstorage:\n  filesystem: {}\nhttp:\n  tls:\n    certificate: /c\n",
                "http.tls.key",
            ),
            (
                "version: 0.1\nstorage:\n  filesystem: {}\nauth:\n  htpasswd:\n    realm: r\n",
                "auth.htpasswd.path",
            ),
            (
                "version: 0.1\nstorage:\n  filesystem: {}\nlog:\n  level: loud\n",
                "log.level",
            ),
            (
                "version: 0.1\nstorage:\n  filesystem: {}\nbogus: 1\n",
                "bogus",
            ),
            (
                "version: 0.1\nstorage:\n  delete:\n    enabled: maybe\n  filesystem: {}\n",
                "enabled",
            ),
            ("- a\n- b\n", "mapping"),
            ("version: [0.1\n", "invalid configuration"),
        ];
        for (text, needle) in cases {
            let e = parse(text, &[]).expect_err(text).to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }
}
