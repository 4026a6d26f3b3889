//! Registry credentials in `config.json`, as the docker CLI keeps them:
//! `auths[SERVER].auth` (base64 of `user:password`), or a
//! `docker-credential-*` helper named by `credHelpers[SERVER]` or
//! `credsStore`. Every other key of the file is kept.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::config::{go_io_error, to_go_json, write_atomic, CONFIG_FILE};

/// The key docker uses for Docker Hub.
pub const INDEX_SERVER: &str = "https://index.docker.io/v1/";

/// The `auths` key of a registry host (`docker.io` → Docker Hub's URL).
pub fn server_key(host: &str) -> String {
    let h = host
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    match h {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" | "index.docker.io/v1" => {
            INDEX_SERVER.to_string()
        }
        h => h.split('/').next().unwrap_or(h).to_string(),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Creds {
    pub username: String,
    pub password: String,
}

fn read(dir: &Path) -> Result<Map<String, Value>, String> {
    let path = dir.join(CONFIG_FILE);
    match std::fs::read(&path) {
        Ok(t) if t.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(t) => match serde_json::from_slice::<Value>(&t) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(format!("{}: not a JSON object", path.display())),
            Err(e) => Err(format!("{}: {e}", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(go_io_error("open", &path, &e)),
    }
}

fn helper_for(cfg: &Map<String, Value>, key: &str) -> Option<String> {
    cfg.get("credHelpers")
        .and_then(|h| h.get(key))
        .and_then(Value::as_str)
        .or_else(|| cfg.get("credsStore").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(|s| format!("docker-credential-{s}"))
}

fn run_helper(helper: &str, verb: &str, input: &str) -> Result<String, String> {
    let mut child = Command::new(helper)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("error getting credentials - err: exec: \"{helper}\": {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{helper} {verb}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        let msg = if stdout.is_empty() {
            String::from_utf8_lossy(&out.stderr).trim().to_string()
        } else {
            stdout
        };
        return Err(msg);
    }
    Ok(stdout)
}

/// The stored credentials for `key`, if any.
pub fn get(dir: &Path, key: &str) -> Result<Option<Creds>, String> {
    let cfg = read(dir)?;
    if let Some(helper) = helper_for(&cfg, key) {
        return match run_helper(&helper, "get", key) {
            Ok(out) => {
                let v: Value =
                    serde_json::from_str(&out).map_err(|e| format!("{helper} get: {e}"))?;
                Ok(Some(Creds {
                    username: v["Username"].as_str().unwrap_or("").to_string(),
                    password: v["Secret"].as_str().unwrap_or("").to_string(),
                }))
            }
            // The helpers' answer for an unknown server.
            Err(e) if e.contains("credentials not found") => Ok(None),
            Err(e) => Err(e),
        };
    }
    let Some(auth) = cfg
        .get("auths")
        .and_then(|a| a.get(key))
        .and_then(|e| e.get("auth"))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|e| format!("invalid auth configuration file: {e}"))?;
    let s = String::from_utf8_lossy(&raw);
    let (u, p) = s.split_once(':').ok_or("invalid auth configuration file")?;
    Ok(Some(Creds {
        username: u.to_string(),
        password: p.to_string(),
    }))
}

/// Stores credentials: in the helper when one is configured, else
/// base64 in `auths` (the file written atomically, mode 0600).
pub fn store(dir: &Path, key: &str, c: &Creds) -> Result<bool, String> {
    let mut cfg = read(dir)?;
    if let Some(helper) = helper_for(&cfg, key) {
        let input = json!({"ServerURL": key, "Username": c.username, "Secret": c.password});
        run_helper(&helper, "store", &input.to_string())?;
        cfg.entry("auths")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .map(|a| a.insert(key.to_string(), json!({})));
        write_atomic(
            &dir.join(CONFIG_FILE),
            to_go_json(&Value::Object(cfg)).as_bytes(),
            0o600,
        )?;
        return Ok(true);
    }
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
    let auths = cfg
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    if let Some(a) = auths.as_object_mut() {
        a.insert(key.to_string(), json!({"auth": auth}));
    }
    write_atomic(
        &dir.join(CONFIG_FILE),
        to_go_json(&Value::Object(cfg)).as_bytes(),
        0o600,
    )?;
    Ok(false)
}

/// Removes the credentials of `key`; false when there were none.
pub fn erase(dir: &Path, key: &str) -> Result<bool, String> {
    let mut cfg = read(dir)?;
    let mut found = false;
    if let Some(helper) = helper_for(&cfg, key) {
        found = run_helper(&helper, "erase", key).is_ok();
    }
    if let Some(a) = cfg.get_mut("auths").and_then(Value::as_object_mut) {
        found |= a.shift_remove(key).is_some();
    }
    if found {
        write_atomic(
            &dir.join(CONFIG_FILE),
            to_go_json(&Value::Object(cfg)).as_bytes(),
            0o600,
        )?;
    }
    Ok(found)
}

/// Every stored credential, by `auths` key (the keys of `auths` and
/// `credHelpers`), as the docker CLI's `GetAllCredentials` gathers them
/// for a build. A key whose helper fails is left out, as docker does.
pub fn all(dir: &Path) -> Result<Vec<(String, Creds)>, String> {
    let cfg = read(dir)?;
    let mut keys: Vec<String> = Vec::new();
    for section in ["auths", "credHelpers"] {
        if let Some(m) = cfg.get(section).and_then(Value::as_object) {
            keys.extend(
                m.keys()
                    .filter(|k| !keys.contains(k))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
    }
    Ok(keys
        .into_iter()
        .filter_map(|k| get(dir, &k).ok().flatten().map(|c| (k, c)))
        .collect())
}

/// The `X-Registry-Config` header of `POST /build`: base64url of a JSON
/// map from registry key to credentials.
pub fn registry_config_header(all: &[(String, Creds)]) -> String {
    let mut m = Map::new();
    for (key, c) in all {
        m.insert(
            key.clone(),
            json!({"username": c.username, "password": c.password, "serveraddress": key}),
        );
    }
    base64::engine::general_purpose::URL_SAFE.encode(Value::Object(m).to_string())
}

/// The `X-Registry-Auth` header value for `key` (empty JSON without creds).
pub fn registry_auth_header(c: Option<&Creds>, key: &str) -> String {
    let v = match c {
        Some(c) => json!({"username": c.username, "password": c.password, "serveraddress": key}),
        None => json!({}),
    };
    base64::engine::general_purpose::URL_SAFE.encode(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_get_erase_keep_other_keys() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            r#"{"currentContext":"x","psFormat":"{{.ID}}"}"#,
        )
        .expect("write");
        let c = Creds {
            username: "alice".into(),
            password: "p:w".into(),
        };
        assert!(!store(dir.path(), "127.0.0.1:5000", &c).expect("store"));
        assert_eq!(get(dir.path(), "127.0.0.1:5000").expect("get"), Some(c));
        let text = std::fs::read_to_string(dir.path().join(CONFIG_FILE)).expect("read");
        assert!(
            text.contains("psFormat") && text.contains("currentContext"),
            "{text}"
        );
        assert!(text.contains("YWxpY2U6cDp3"), "{text}");
        assert!(erase(dir.path(), "127.0.0.1:5000").expect("erase"));
        assert!(!erase(dir.path(), "127.0.0.1:5000").expect("erase"));
        assert_eq!(get(dir.path(), "127.0.0.1:5000").expect("get"), None);
        assert_eq!(server_key("docker.io"), INDEX_SERVER);
        assert_eq!(server_key("127.0.0.1:5000"), "127.0.0.1:5000");
    }

    /// `X-Registry-Config`: every stored registry, as the daemon decodes it.
    #[test]
    fn all_for_build() {
        let dir = tempfile::tempdir().expect("tmp");
        let c = |u: &str| Creds {
            username: u.into(),
            password: "pw".into(),
        };
        store(dir.path(), "127.0.0.1:5000", &c("alice")).expect("store");
        store(dir.path(), INDEX_SERVER, &c("hub")).expect("store");
        let all = all(dir.path()).expect("all");
        assert_eq!(all.len(), 2);
        let h = registry_config_header(&all);
        let raw = base64::engine::general_purpose::URL_SAFE
            .decode(h)
            .expect("base64url");
        let v: Value = serde_json::from_slice(&raw).expect("json");
        assert_eq!(v["127.0.0.1:5000"]["username"], "alice");
        assert_eq!(v[INDEX_SERVER]["password"], "pw");
    }
}
