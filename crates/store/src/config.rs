//! The image config JSON with Docker's fields (oci-spec's type drops
//! `Healthcheck`, `OnBuild`, `Shell`, and reorders maps). Lenient on input:
//! unknown fields are kept in `extra` and written back, so a loaded config
//! re-serialises to what it was.

use berth_api::model::EmptyObject;
use berth_api::types::HealthConfig;
use berth_api::views::ImageInspectConfig;
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
/// at API 1.47 (the view says which fields are left out when unset).
/// The fields this type keeps in `extra` are read as dockerd's Go decoder
/// types them; a value of another type (which dockerd would refuse to
/// load) prints as the field's zero value.
pub fn legacy_config(c: &RunConfig) -> ImageInspectConfig {
    let s = |k: &str| {
        c.extra
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let b = |k: &str| c.extra.get(k).and_then(Value::as_bool).unwrap_or(false);
    // `ExposedPorts` and `Volumes` are sets: their values are always `{}`.
    let set = |m: &IndexMap<String, Value>| -> IndexMap<String, EmptyObject> {
        m.keys().map(|k| (k.clone(), EmptyObject {})).collect()
    };
    ImageInspectConfig {
        hostname: s("Hostname"),
        domainname: s("Domainname"),
        user: c.user.clone(),
        attach_stdin: b("AttachStdin"),
        attach_stdout: b("AttachStdout"),
        attach_stderr: b("AttachStderr"),
        exposed_ports: c.exposed_ports.as_ref().filter(|p| !p.is_empty()).map(set),
        tty: b("Tty"),
        open_stdin: b("OpenStdin"),
        stdin_once: b("StdinOnce"),
        env: c.env.clone(),
        cmd: c.cmd.clone(),
        healthcheck: c.healthcheck.clone(),
        args_escaped: c.args_escaped,
        image: s("Image"),
        volumes: c.volumes.as_ref().map(set),
        working_dir: c.working_dir.clone(),
        entrypoint: c.entrypoint.clone(),
        network_disabled: b("NetworkDisabled"),
        mac_address: s("MacAddress"),
        on_build: c.on_build.clone(),
        labels: c.labels.clone(),
        stop_signal: c.stop_signal.clone().unwrap_or_default(),
        stop_timeout: c.extra.get("StopTimeout").and_then(Value::as_i64),
        shell: c.shell.clone().filter(|s| !s.is_empty()),
    }
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

    /// The legacy `Config` keeps Go's field order, prints the unset
    /// always-present fields as `""`, `false` or `null` and leaves the
    /// `omitempty` ones out: an imported image (only `Cmd`) and a built
    /// one with every Dockerfile-settable field, as `GET /images/{name}/json`
    /// printed them before the view was typed.
    #[test]
    fn legacy_config_prints_dockerd_order_and_nulls() {
        let plain: RunConfig = serde_json::from_str(r#"{"Cmd":["sh"]}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&legacy_config(&plain)).unwrap(),
            r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["sh"],"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}"#
        );
        let full: RunConfig = serde_json::from_str(
            r#"{"Hostname":"h","User":"nobody","ExposedPorts":{"80/tcp":{},"53/udp":{}},
            "Env":["A=1"],"Cmd":null,"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000},
            "ArgsEscaped":true,"Image":"sha256:ab","Volumes":{"/data":{}},"WorkingDir":"/w",
            "Entrypoint":["sh","-c"],"NetworkDisabled":true,"MacAddress":"02:42:ac:11:00:02",
            "OnBuild":["RUN echo hi"],"Labels":{"b":"2","a":"1"},"StopSignal":"SIGTERM",
            "StopTimeout":3,"Shell":["/bin/sh","-c"]}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&legacy_config(&full)).unwrap(),
            r#"{"Hostname":"h","Domainname":"","User":"nobody","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"ExposedPorts":{"80/tcp":{},"53/udp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["A=1"],"Cmd":null,"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000},"ArgsEscaped":true,"Image":"sha256:ab","Volumes":{"/data":{}},"WorkingDir":"/w","Entrypoint":["sh","-c"],"NetworkDisabled":true,"MacAddress":"02:42:ac:11:00:02","OnBuild":["RUN echo hi"],"Labels":{"b":"2","a":"1"},"StopSignal":"SIGTERM","StopTimeout":3,"Shell":["/bin/sh","-c"]}"#
        );
        // Empty `ExposedPorts`, `StopSignal` and `Shell` are left out, as unset.
        let empty: RunConfig =
            serde_json::from_str(r#"{"ExposedPorts":{},"StopSignal":"","Shell":[]}"#).unwrap();
        let out = serde_json::to_string(&legacy_config(&empty)).unwrap();
        for key in ["ExposedPorts", "StopSignal", "Shell"] {
            assert!(!out.contains(key), "{key} in {out}");
        }
    }

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
