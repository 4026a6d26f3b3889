//! The image config JSON with Docker's fields (oci-spec's type drops
//! `Healthcheck`, `OnBuild`, `Shell`, and reorders maps). Lenient on input:
//! unknown fields are kept in `extra` and written back, so a loaded config
//! re-serialises to what it was.

use berth_api::types::HealthConfig;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `config` block: what a container of this image runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    #[serde(rename = "User", default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exposed_ports: Option<IndexMap<String, Value>>,
    #[serde(rename = "Env", default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(
        rename = "Healthcheck",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub healthcheck: Option<HealthConfig>,
    #[serde(rename = "Volumes", default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<IndexMap<String, Value>>,
    #[serde(
        rename = "WorkingDir",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    #[serde(rename = "Labels", default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<IndexMap<String, String>>,
    #[serde(
        rename = "StopSignal",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_signal: Option<String>,
    #[serde(rename = "Shell", default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    #[serde(rename = "OnBuild", default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(
        rename = "ArgsEscaped",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub args_escaped: bool,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub r#type: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RunConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

/// The image's `Config` as dockerd prints it in `GET /images/{name}/json`
/// at API 1.47: Go's `container.Config` field order, with its
/// always-present fields (empty or null when unset) and its `omitempty`
/// ones only when set.
pub fn legacy_config_json(c: &RunConfig) -> Value {
    let s = |k: &str| c.extra.get(k).cloned().unwrap_or_else(|| Value::from(""));
    let b = |k: &str| c.extra.get(k).cloned().unwrap_or(Value::Bool(false));
    let j = |v: Option<Value>| v.unwrap_or(Value::Null);
    let mut m = serde_json::Map::new();
    m.insert("Hostname".into(), s("Hostname"));
    m.insert("Domainname".into(), s("Domainname"));
    m.insert("User".into(), Value::from(c.user.clone()));
    m.insert("AttachStdin".into(), b("AttachStdin"));
    m.insert("AttachStdout".into(), b("AttachStdout"));
    m.insert("AttachStderr".into(), b("AttachStderr"));
    if let Some(p) = c.exposed_ports.as_ref().filter(|p| !p.is_empty()) {
        m.insert("ExposedPorts".into(), to(p));
    }
    m.insert("Tty".into(), b("Tty"));
    m.insert("OpenStdin".into(), b("OpenStdin"));
    m.insert("StdinOnce".into(), b("StdinOnce"));
    m.insert("Env".into(), j(c.env.as_ref().map(to)));
    m.insert("Cmd".into(), j(c.cmd.as_ref().map(to)));
    if let Some(h) = &c.healthcheck {
        m.insert("Healthcheck".into(), to(h));
    }
    if c.args_escaped {
        m.insert("ArgsEscaped".into(), Value::Bool(true));
    }
    m.insert("Image".into(), s("Image"));
    m.insert("Volumes".into(), j(c.volumes.as_ref().map(to)));
    m.insert("WorkingDir".into(), Value::from(c.working_dir.clone()));
    m.insert("Entrypoint".into(), j(c.entrypoint.as_ref().map(to)));
    for k in ["NetworkDisabled", "MacAddress"] {
        if let Some(v) = c.extra.get(k).filter(|v| !is_zero(v)) {
            m.insert(k.into(), v.clone());
        }
    }
    m.insert("OnBuild".into(), j(c.on_build.as_ref().map(to)));
    m.insert("Labels".into(), j(c.labels.as_ref().map(to)));
    if let Some(sig) = c.stop_signal.as_ref().filter(|s| !s.is_empty()) {
        m.insert("StopSignal".into(), Value::from(sig.clone()));
    }
    if let Some(v) = c.extra.get("StopTimeout").filter(|v| !v.is_null()) {
        m.insert("StopTimeout".into(), v.clone());
    }
    if let Some(sh) = c.shell.as_ref().filter(|s| !s.is_empty()) {
        m.insert("Shell".into(), to(sh));
    }
    Value::Object(m)
}

fn is_zero(v: &Value) -> bool {
    matches!(v, Value::Null | Value::Bool(false)) || v.as_str() == Some("")
}

/// A plain field value as JSON (never fails for these types).
fn to<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Applies `docker import -c` / commit changes: Dockerfile instructions
/// that only touch the config.
pub fn apply_changes(c: &mut RunConfig, changes: &[String]) -> berth_api::Result<()> {
    for change in changes {
        let change = change.trim();
        if change.is_empty() {
            continue;
        }
        let (instr, rest) = change
            .split_once(char::is_whitespace)
            .unwrap_or((change, ""));
        let rest = rest.trim();
        let list = || -> Vec<String> {
            serde_json::from_str::<Vec<String>>(rest)
                .unwrap_or_else(|_| vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
        };
        match instr.to_ascii_uppercase().as_str() {
            "CMD" => c.cmd = Some(list()),
            "ENTRYPOINT" => c.entrypoint = Some(list()),
            "ENV" => {
                for (k, v) in key_values(rest) {
                    let env = c.env.get_or_insert_with(Vec::new);
                    env.retain(|e| e.split('=').next() != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
            }
            "LABEL" => {
                for (k, v) in key_values(rest) {
                    c.labels.get_or_insert_with(IndexMap::new).insert(k, v);
                }
            }
            "EXPOSE" => {
                for p in rest.split_whitespace() {
                    let p = if p.contains('/') {
                        p.to_string()
                    } else {
                        format!("{p}/tcp")
                    };
                    c.exposed_ports
                        .get_or_insert_with(IndexMap::new)
                        .insert(p, Value::Object(Default::default()));
                }
            }
            "VOLUME" => {
                let vols = serde_json::from_str::<Vec<String>>(rest)
                    .unwrap_or_else(|_| rest.split_whitespace().map(str::to_string).collect());
                for v in vols {
                    c.volumes
                        .get_or_insert_with(IndexMap::new)
                        .insert(v, Value::Object(Default::default()));
                }
            }
            "USER" => c.user = rest.to_string(),
            "WORKDIR" => c.working_dir = rest.to_string(),
            "STOPSIGNAL" => c.stop_signal = Some(rest.to_string()),
            other => {
                return Err(berth_api::Error::invalid(format!(
                    "{other} is not a valid change command"
                )));
            }
        }
    }
    Ok(())
}

/// `K=V K2="v 2"` or the legacy `K V` form.
fn key_values(s: &str) -> Vec<(String, String)> {
    if !s.contains('=') {
        let (k, v) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
        return vec![(k.to_string(), v.trim().to_string())];
    }
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                chars.next();
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        let mut val = String::new();
        let mut quote = None;
        while let Some(&c) = chars.peek() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => val.push(c),
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c.is_whitespace() => break,
                None => val.push(c),
            }
            chars.next();
        }
        out.push((key, val));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_apply() {
        let mut c = RunConfig::default();
        apply_changes(
            &mut c,
            &[
                "CMD [\"sh\"]".into(),
                "ENV A=1 B=\"x y\"".into(),
                "EXPOSE 80".into(),
                "WORKDIR /app".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(c.env, Some(vec!["A=1".to_string(), "B=x y".to_string()]));
        assert!(c.exposed_ports.unwrap().contains_key("80/tcp"));
        assert_eq!(c.working_dir, "/app");
        assert!(apply_changes(&mut RunConfig::default(), &["RUN ls".into()]).is_err());
        let mut c = RunConfig::default();
        apply_changes(&mut c, &["CMD echo hi".into()]).unwrap();
        assert_eq!(
            c.cmd,
            Some(vec![
                "/bin/sh".to_string(),
                "-c".to_string(),
                "echo hi".to_string()
            ])
        );
    }

    #[test]
    fn keeps_unknown_fields() {
        let text = r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Cmd":["sh"],"Hostname":"x"},"container":"abc"}"#;
        let c: ImageConfig = serde_json::from_str(text).unwrap();
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["container"], "abc");
        assert_eq!(back["config"]["Hostname"], "x");
    }
}
