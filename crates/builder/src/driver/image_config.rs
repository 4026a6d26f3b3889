//! The instructions that change only the image's config (`ENV`, `LABEL`,
//! `ARG`, `EXPOSE`, `VOLUME`, `HEALTHCHECK`, ...): each updates the
//! config and returns the step's history comment.

use std::collections::HashMap;

use berth_store::RunConfig;
use indexmap::IndexMap;
use serde_json::json;

use super::{step_err, Builder, StageState, R};
use crate::dockerfile::{ArgDecl, Cmd, Command, Healthcheck};

impl Builder {
    pub(super) fn env_instruction(
        &self,
        c: &Command,
        pairs: &[(String, String)],
        env: &HashMap<String, String>,
        config: &mut RunConfig,
    ) -> R<String> {
        let mut envs = config.env.clone().unwrap_or_default();
        let mut parts = Vec::new();
        // Each pair sees the ones before it on the same line.
        let mut local = env.clone();
        for (k, v) in pairs {
            let k = self
                .lex
                .process_word(k, &local)
                .map_err(|e| step_err(c, e))?;
            let v = self
                .lex
                .process_word(v, &local)
                .map_err(|e| step_err(c, e))?;
            local.insert(k.clone(), v.clone());
            envs.retain(|e| e.split_once('=').map(|(n, _)| n) != Some(k.as_str()));
            envs.push(format!("{k}={v}"));
            parts.push(format!("{k}={v}"));
        }
        config.env = Some(envs);
        Ok(format!("ENV {}", parts.join(" ")))
    }

    pub(super) fn label_instruction(
        &self,
        c: &Command,
        pairs: &[(String, String)],
        env: &HashMap<String, String>,
        config: &mut RunConfig,
    ) -> R<String> {
        let mut labels = config.labels.clone().unwrap_or_default();
        let mut parts = Vec::new();
        for (k, v) in pairs {
            let k = self.word(c, env, k)?;
            let v = self.word(c, env, v)?;
            parts.push(format!("{k}={v}"));
            labels.insert(k, v);
        }
        config.labels = Some(labels);
        Ok(format!("LABEL {}", parts.join(" ")))
    }

    /// `ARG`: the value from the build args, else the default, else the
    /// meta arg of that name; visible to the stage's later steps.
    pub(super) fn arg_instruction(
        &self,
        c: &Command,
        decls: &[ArgDecl],
        env: &HashMap<String, String>,
        st: &mut StageState,
        meta: &IndexMap<String, String>,
    ) -> R<String> {
        let mut parts = Vec::new();
        for d in decls {
            let v = match self.opts.build_args.get(&d.name) {
                Some(Some(v)) => {
                    self.use_arg(&d.name);
                    Some(v.clone())
                }
                _ => match &d.default {
                    Some(x) => Some(self.word(c, env, x)?),
                    None => meta.get(&d.name).cloned(),
                },
            };
            if self.opts.build_args.contains_key(&d.name) {
                self.use_arg(&d.name);
            }
            match &v {
                Some(v) => parts.push(format!("{}={}", d.name, v)),
                None => parts.push(d.name.clone()),
            }
            if let Some(v) = v {
                st.args.insert(d.name.clone(), v);
                if !st.declared.contains(&d.name) {
                    st.declared.push(d.name.clone());
                }
            }
        }
        Ok(format!("ARG {}", parts.join(" ")))
    }

    pub(super) fn expose_instruction(
        &self,
        c: &Command,
        ports: &[String],
        env: &HashMap<String, String>,
        config: &mut RunConfig,
    ) -> R<String> {
        let mut map = config.exposed_ports.clone().unwrap_or_default();
        let mut names = Vec::new();
        for p in ports {
            for w in self.lex.process_words(p, env).map_err(|e| step_err(c, e))? {
                let spec = if w.contains('/') {
                    w.to_ascii_lowercase()
                } else {
                    format!("{w}/tcp")
                };
                let (port, proto) = spec.split_once('/').unwrap_or((&spec, "tcp"));
                let ok = !port.is_empty()
                    && port.split('-').all(|n| n.parse::<u16>().is_ok())
                    && matches!(proto, "tcp" | "udp" | "sctp");
                if !ok {
                    return Err(step_err(c, format!("invalid containerPort: {w}")));
                }
                map.insert(spec.clone(), json!({}));
                names.push(spec);
            }
        }
        config.exposed_ports = Some(map);
        Ok(format!("EXPOSE {}", names.join(" ")))
    }

    pub(super) fn volume_instruction(
        &self,
        c: &Command,
        vs: &[String],
        env: &HashMap<String, String>,
        config: &mut RunConfig,
    ) -> R<String> {
        let mut map = config.volumes.clone().unwrap_or_default();
        let mut names = Vec::new();
        for v in vs {
            let v = self.word(c, env, v)?;
            if v.trim().is_empty() {
                return Err(step_err(c, "VOLUME specified can not be an empty string"));
            }
            map.insert(v.clone(), json!({}));
            names.push(v);
        }
        config.volumes = Some(map);
        Ok(format!("VOLUME [{}]", names.join(" ")))
    }
}

pub(super) fn healthcheck_instruction(
    c: &Command,
    h: &Healthcheck,
    config: &mut RunConfig,
) -> R<String> {
    let test = match &h.test {
        None => vec!["NONE".to_string()],
        Some(Cmd::Exec(v)) => {
            let mut t = vec!["CMD".to_string()];
            t.extend(v.iter().cloned());
            t
        }
        Some(Cmd::Shell(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
    };
    let dur = |v: &Option<String>, name: &str| -> R<Option<i64>> {
        match v {
            None => Ok(None),
            Some(s) => parse_duration(s)
                .map(Some)
                .ok_or_else(|| step_err(c, format!("invalid {name}: {s}"))),
        }
    };
    let mut hc = json!({ "Test": test });
    if let Some(d) = dur(&h.interval, "interval")? {
        hc["Interval"] = json!(d);
    }
    if let Some(d) = dur(&h.timeout, "timeout")? {
        hc["Timeout"] = json!(d);
    }
    if let Some(d) = dur(&h.start_period, "start-period")? {
        hc["StartPeriod"] = json!(d);
    }
    if let Some(d) = dur(&h.start_interval, "start-interval")? {
        hc["StartInterval"] = json!(d);
    }
    if let Some(r) = &h.retries {
        let n: i64 = r
            .parse()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| step_err(c, format!("invalid retries: {r}")))?;
        hc["Retries"] = json!(n);
    }
    config.healthcheck =
        Some(serde_json::from_value(hc.clone()).map_err(|e| step_err(c, e.to_string()))?);
    Ok(format!("HEALTHCHECK {}", hc["Test"]))
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub(super) fn go_quote_list(v: &[String]) -> String {
    let parts: Vec<String> = v
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", parts.join(" "))
}

/// Go durations as docker's HEALTHCHECK flags take them (`5s`, `1m30s`,
/// `500ms`), in nanoseconds.
pub(super) fn parse_duration(s: &str) -> Option<i64> {
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0);
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += num * mult;
    }
    Some(total as i64)
}
