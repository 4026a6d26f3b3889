//! The container object: its persisted record, its live handle (state
//! watchers, attach hub), and the views the API shows of it.

use std::sync::{Arc, Mutex};

use berth_api::types::{ContainerState, ContainerSummary};
use berth_api::units::human_duration;
use berth_api::{ContainerConfig, HostConfig};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use crate::containers::attach::Hub;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StateRecord {
    pub status: Status,
    /// Waiting out the restart policy's back-off.
    #[serde(default)]
    pub restarting: bool,
    /// Frozen by `docker pause`.
    #[serde(default)]
    pub paused: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub oom_killed: bool,
    pub started_at: String,
    pub finished_at: String,
    /// `State.Health` (see `health.rs`); reset at each start. Stored as the
    /// API prints it (`{"Status", "FailingStreak", "Log"}`).
    #[serde(default)]
    pub health: Option<berth_api::views::Health>,
}

/// What the state store keeps of a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// With the leading slash, as the API shows it: `/web`.
    pub name: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// `sha256:...`
    pub image_id: String,
    pub state: StateRecord,
    pub restart_count: i64,
    /// Set while a `stop` or `kill` by the user is in progress, so the exit
    /// it causes is not treated as a failure.
    #[serde(default)]
    pub stopped_by_user: bool,
    /// The last stop was the daemon's shutdown, not a user's: `unless-stopped`
    /// containers start again with the daemon.
    #[serde(default)]
    pub shutdown_stop: bool,
    /// The networks the container is connected to, by network name.
    #[serde(default)]
    pub endpoints: indexmap::IndexMap<String, crate::networks::Endpoint>,
    /// Host ports held while it runs.
    #[serde(default)]
    pub published: Vec<crate::networks::Published>,
    /// Volumes, binds and tmpfs, decided at create (`mounts.rs`).
    #[serde(default)]
    pub mount_points: Vec<crate::containers::mounts::MountPoint>,
    /// `host_config.runtime` names the runtime the container runs with.
    /// Records written before berth ran external runtimes say `runc` for
    /// the built-in one; they are read as `berth` (runtimes.rs).
    #[serde(default)]
    pub runtime_named: bool,
    /// A build step's container while its build runs: the daemon's next
    /// start removes it if the daemon died during the build.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub building: bool,
}

/// Go's zero time, which dockerd prints for a timestamp never set.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub fn now_rfc3339() -> String {
    berth_api::units::go_rfc3339_nano(
        &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    )
}

/// What waiters watch: enough to answer every `wait` condition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Watch {
    pub running: bool,
    /// Counts exits, so `next-exit` can wait for the one after now.
    pub exits: u64,
    pub exit_code: i64,
    pub removed: bool,
}

/// The live object the engine holds per container.
pub struct Handle {
    pub id: String,
    pub record: Mutex<Record>,
    pub watch: watch::Sender<Watch>,
    /// Serialises start/stop/remove on one container.
    pub op: tokio::sync::Mutex<()>,
    /// Where attached clients get output and send input; replaced per run.
    pub hub: Mutex<Arc<Hub>>,
}

impl Handle {
    pub fn new(record: Record) -> Arc<Handle> {
        let running = record.state.status == Status::Running;
        let exit_code = record.state.exit_code;
        Arc::new(Handle {
            id: record.id.clone(),
            record: Mutex::new(record),
            watch: watch::channel(Watch {
                running,
                exits: 0,
                exit_code,
                removed: false,
            })
            .0,
            op: tokio::sync::Mutex::new(()),
            hub: Mutex::new(Arc::new(Hub::new())),
        })
    }

    pub fn snapshot(&self) -> Record {
        self.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Record) -> R) -> R {
        f(&mut self.record.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn hub(&self) -> Arc<Hub> {
        self.hub.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// `docker ps` STATUS text: "Up 5 seconds", "Exited (0) 3 minutes ago", "Created".
pub fn status_text(r: &Record) -> String {
    let now = chrono::Utc::now();
    let since = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| human_duration((now - t.with_timezone(&chrono::Utc)).num_seconds()))
            .unwrap_or_default()
    };
    if r.state.restarting {
        return format!(
            "Restarting ({}) {} ago",
            r.state.exit_code,
            since(&r.state.finished_at)
        );
    }
    match r.state.status {
        Status::Running if r.state.paused => format!("Up {} (Paused)", since(&r.state.started_at)),
        Status::Running => format!(
            "Up {}{}",
            since(&r.state.started_at),
            crate::containers::health::ps_suffix(r.state.health.as_ref())
        ),
        Status::Exited if r.state.finished_at.is_empty() || r.state.finished_at == ZERO_TIME => {
            format!("Exited ({})", r.state.exit_code)
        }
        Status::Exited => format!(
            "Exited ({}) {} ago",
            r.state.exit_code,
            since(&r.state.finished_at)
        ),
        Status::Created => "Created".into(),
        Status::Dead => "Dead".into(),
    }
}

/// The command as `docker ps` shows it.
pub fn command_string(r: &Record) -> String {
    let mut parts = vec![r.path.clone()];
    parts.extend(r.args.iter().cloned());
    parts.join(" ")
}

pub fn network_mode(hc: &HostConfig) -> String {
    match hc.network_mode.as_str() {
        "" | "default" => "bridge".to_string(),
        m => m.to_string(),
    }
}

pub fn summary(r: &Record, image_name: String) -> ContainerSummary {
    let mode = network_mode(&r.host_config);
    ContainerSummary {
        id: r.id.clone(),
        names: vec![r.name.clone()],
        image: image_name,
        image_id: r.image_id.clone(),
        command: command_string(r),
        created: chrono::DateTime::parse_from_rfc3339(&r.created)
            .map(|t| t.timestamp())
            .unwrap_or(0),
        ports: vec![],
        size_rw: None,
        size_root_fs: None,
        labels: r.config.labels.clone().unwrap_or_default(),
        state: if r.state.restarting {
            "restarting".into()
        } else if r.state.paused && r.state.status == Status::Running {
            "paused".into()
        } else {
            r.state.status.as_str().into()
        },
        status: status_text(r),
        host_config: json!({"NetworkMode": mode}),
        network_settings: Default::default(),
        mounts: vec![],
    }
}

pub fn state_view(r: &Record) -> ContainerState {
    let s = &r.state;
    let or_zero = |t: &str| {
        if t.is_empty() {
            ZERO_TIME.to_string()
        } else {
            t.to_string()
        }
    };
    let status = if s.restarting {
        "restarting"
    } else if s.paused && s.status == Status::Running {
        "paused"
    } else {
        s.status.as_str()
    };
    ContainerState {
        status: status.into(),
        // moby's SetRestarting keeps `Running` true during the back-off.
        running: s.status == Status::Running || s.restarting,
        paused: s.paused,
        restarting: s.restarting,
        oom_killed: s.oom_killed,
        dead: s.status == Status::Dead,
        pid: if s.status == Status::Running {
            s.pid
        } else {
            0
        },
        exit_code: s.exit_code,
        error: s.error.clone(),
        started_at: or_zero(&s.started_at),
        finished_at: or_zero(&s.finished_at),
        health: s.health.clone(),
    }
}

/// Container names as dockerd accepts them: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let n = name.strip_prefix('/').unwrap_or(name);
    let b = n.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("web"));
        assert!(valid_name("/web-1.a_b"));
        assert!(!valid_name("a"));
        assert!(!valid_name("-web"));
        assert!(!valid_name("we b"));
        assert!(!valid_name("../x"));
    }
}
