//! Docker's filter query (`{"status":["running"]}` or
//! `{"status":{"running":true}}`) and how containers match it.

use crate::containers::container::{Record, Status};
use crate::Engine;
use berth_api::{Error, Result};
use indexmap::IndexMap;

/// Docker's filter query: `{"status":["running"]}` or `{"status":{"running":true}}`.
#[derive(Debug, Default, Clone)]
pub struct Filters(pub IndexMap<String, Vec<String>>);

impl Filters {
    pub fn parse(s: Option<&str>) -> Result<Filters> {
        let Some(s) = s.filter(|s| !s.is_empty()) else {
            return Ok(Filters::default());
        };
        let v: serde_json::Value =
            serde_json::from_str(s).map_err(|e| Error::invalid(format!("invalid filter: {e}")))?;
        let mut out = IndexMap::new();
        let Some(obj) = v.as_object() else {
            return Err(Error::invalid("invalid filter: not an object"));
        };
        for (k, v) in obj {
            let values = match v {
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                serde_json::Value::Object(o) => o
                    .iter()
                    .filter(|(_, b)| b.as_bool() == Some(true))
                    .map(|(k, _)| k.clone())
                    .collect(),
                _ => return Err(Error::invalid(format!("invalid filter value for {k}"))),
            };
            out.insert(k.clone(), values);
        }
        Ok(Filters(out))
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Validates keys against the endpoint's accepted set, as dockerd does.
    pub fn validate(&self, accepted: &[&str]) -> Result<()> {
        for k in self.0.keys() {
            if !accepted.contains(&k.as_str()) {
                return Err(Error::invalid(format!("invalid filter '{k}'")));
            }
        }
        Ok(())
    }

    /// The `label` (`key`, `key=value`: all must hold) and `label!` (none
    /// may hold) filters.
    pub(crate) fn matches_labels(&self, labels: &IndexMap<String, String>) -> bool {
        let has = |l: &String| match l.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
            None => labels.contains_key(l.as_str()),
        };
        self.get("label").iter().all(has) && !self.get("label!").iter().any(has)
    }

    pub(crate) fn matches(&self, r: &Record, engine: &Engine) -> bool {
        let any = |key: &str, f: &dyn Fn(&str) -> bool| {
            let vals = self.get(key);
            vals.is_empty() || vals.iter().any(|v| f(v))
        };
        let labels = r.config.labels.clone().unwrap_or_default();
        any("status", &|v| v == r.state.status.as_str())
            && any("name", &|v| {
                r.name
                    .trim_start_matches('/')
                    .contains(v.trim_start_matches('/'))
            })
            && any("id", &|v| r.id.starts_with(v))
            && any("exited", &|v| {
                r.state.status == Status::Exited && v.parse::<i64>().ok() == Some(r.state.exit_code)
            })
            && any("ancestor", &|v| {
                engine
                    .images
                    .get(v)
                    .map(|img| img.id == r.image_id)
                    .unwrap_or(false)
                    || v == r.config.image
            })
            && any("volume", &|v| {
                r.mount_points
                    .iter()
                    .any(|m| m.name == v || m.destination == v || m.source == v)
            })
            && any("network", &|v| {
                r.endpoints.iter().any(|(name, e)| {
                    name == v || (!e.network_id.is_empty() && e.network_id.starts_with(v))
                })
            })
            && any("publish", &|v| port_filter(v, r, true))
            && any("expose", &|v| port_filter(v, r, false))
            && any("health", &|v| {
                crate::containers::health::matches_filter(r.state.health.as_ref(), v)
            })
            && self.matches_labels(&labels)
    }

    pub(crate) fn matches_prune(&self, r: &Record) -> bool {
        let labels = r.config.labels.clone().unwrap_or_default();
        let until_ok = self.get("until").iter().all(|u| {
            let created = chrono::DateTime::parse_from_rfc3339(&r.created)
                .map(|t| t.timestamp())
                .unwrap_or(0);
            parse_time(u).is_some_and(|t| created < t)
        });
        until_ok && self.matches_labels(&labels)
    }
}

/// A docker timestamp: unix seconds (with optional fraction), RFC 3339, or
/// a duration before now (`10m`, `1h30m`, `5s`).
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        return Some(f as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    berth_api::units::parse_duration(s).map(|d| chrono::Utc::now().timestamp() - d as i64)
}

/// `publish=` / `expose=` filters of `docker ps`: `80`, `80/tcp`, `8000-8080/tcp`.
fn port_filter(v: &str, r: &Record, published: bool) -> bool {
    let (range, proto) = v.split_once('/').unwrap_or((v, "tcp"));
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (a.parse::<u16>().ok(), b.parse::<u16>().ok()),
        None => (range.parse::<u16>().ok(), range.parse::<u16>().ok()),
    };
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return false;
    };
    let hit = |port: u16, p: &str| port >= lo && port <= hi && p == proto;
    if published {
        r.published.iter().any(|p| {
            let pp = p.port.split_once('/').map(|x| x.1).unwrap_or("tcp");
            hit(p.host_port, pp)
        })
    } else {
        crate::networks::exposed_ports(r).iter().any(|p| {
            let (n, pp) = p.split_once('/').unwrap_or((p, "tcp"));
            n.parse::<u16>().is_ok_and(|n| hit(n, pp))
        })
    }
}
