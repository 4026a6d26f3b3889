//! What a node tells the managers about itself when its session starts
//! (swarmkit's `NodeDescription`): `docker node inspect` shows it under
//! `Description`, and the scheduler will place tasks by it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `Description.Platform.OS` ("linux").
    pub os: String,
    /// `Description.Platform.Architecture` ("x86_64", as uname -m).
    pub architecture: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub nano_cpus: i64,
    pub memory_bytes: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineDescription {
    pub engine_version: String,
    /// The daemon's `--label`s.
    pub labels: BTreeMap<String, String>,
    /// The engine's drivers as (type, name): ("Log", "json-file"), ...
    #[serde(default)]
    pub plugins: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeDescription {
    pub hostname: String,
    pub platform: Platform,
    pub resources: Resources,
    pub engine: EngineDescription,
}

impl NodeDescription {
    /// This machine as far as the library can see it: the platform, the
    /// CPUs this process may use and the memory in /proc/meminfo. The
    /// daemon sets the engine version and labels.
    pub fn local(hostname: &str) -> NodeDescription {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        NodeDescription {
            hostname: hostname.to_string(),
            platform: Platform {
                os: std::env::consts::OS.to_string(),
                architecture: std::env::consts::ARCH.to_string(),
            },
            resources: Resources {
                nano_cpus: cpus * 1_000_000_000,
                memory_bytes: mem_total().unwrap_or(0),
            },
            engine: EngineDescription::default(),
        }
    }
}

/// `MemTotal` from /proc/meminfo in bytes (a one-line read; no crate needed).
fn mem_total() -> Option<i64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
