//! The exec service, `docker exec`: exec instances are created against a running container,
//! started through its shim (which joins the container's namespaces), and
//! kept for inspection of their exit code, as dockerd keeps them. The
//! session of a started exec (its streams, its exit-code rules) is in
//! `session.rs`.

mod session;

pub use session::{ExecSession, ExecStreams, EXEC_START_FAILED_EXIT_CODE};

service! {
    /// `engine.exec()`: exec instances in running containers.
    Exec
}

use std::sync::{Arc, Mutex};

use berth_api::{Error, Result};
use berth_runtime::client::ShimClient;
use berth_runtime::proto::ExecSpec;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::containers::container::Status;
use crate::containers::resolve;
use crate::record_name;

/// The body of `POST /containers/{id}/exec`: the generated model's,
/// decoded by Go's rules ([`berth_api::json`]).
pub use berth_api::model::ExecConfig;

/// The answer of `GET /exec/{id}/json`, in dockerd's field order. Not the
/// generated `ExecInspectResponse`: the spec has `ExitCode` as an integer,
/// but dockerd prints `null` until the exec ends (moby's `*int`).
#[derive(Debug, Clone, Serialize)]
pub struct ExecInspect {
    #[serde(rename = "CanRemove")]
    pub can_remove: bool,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    #[serde(rename = "DetachKeys")]
    pub detach_keys: String,
    #[serde(rename = "ExitCode")]
    pub exit_code: Option<i64>,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "OpenStderr")]
    pub open_stderr: bool,
    #[serde(rename = "OpenStdin")]
    pub open_stdin: bool,
    #[serde(rename = "OpenStdout")]
    pub open_stdout: bool,
    #[serde(rename = "ProcessConfig")]
    pub process_config: ExecProcessConfig,
    #[serde(rename = "Running")]
    pub running: bool,
    #[serde(rename = "Pid")]
    pub pid: i64,
}

/// `ProcessConfig` of an exec's inspect (lower-case names, as dockerd's).
#[derive(Debug, Clone, Serialize)]
pub struct ExecProcessConfig {
    pub arguments: Vec<String>,
    pub entrypoint: String,
    pub privileged: bool,
    pub tty: bool,
    pub user: String,
}

#[derive(Debug, Clone)]
pub struct ExecRecord {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub pid: i64,
}

pub type Execs = Mutex<IndexMap<String, Arc<Mutex<ExecRecord>>>>;

/// `process.user` of the container's bundle `config.json` (what its init
/// process runs as), as dockerd takes it from containerd's copy of the spec.
fn init_user(state_dir: &std::path::Path) -> Option<(u32, u32, Vec<u32>)> {
    let text = std::fs::read(state_dir.join("config.json")).ok()?;
    let spec: Value = serde_json::from_slice(&text).ok()?;
    let u = &spec["process"]["user"];
    let id = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
    let gids = match &u["additionalGids"] {
        Value::Null => vec![],
        v => v.as_array()?.iter().map(id).collect::<Option<Vec<u32>>>()?,
    };
    Some((id(&u["uid"])?, id(&u["gid"])?, gids))
}

impl Exec<'_> {
    fn record(&self, id: &str) -> Result<Arc<Mutex<ExecRecord>>> {
        self.execs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such exec instance: {id}")))
    }

    fn event(&self, action: &str, container_id: &str, extra: &[(&str, String)]) {
        if let Ok(h) = self.lookup(container_id) {
            let r = h.snapshot();
            let mut attrs = IndexMap::new();
            attrs.insert("image".to_string(), r.config.image.clone());
            attrs.insert("name".to_string(), record_name(&r));
            for (k, v) in extra {
                attrs.insert(k.to_string(), v.clone());
            }
            self.events.publish("container", action, &r.id, attrs);
        }
    }

    /// `POST /containers/{id}/exec`.
    pub fn create(&self, key: &str, config: ExecConfig) -> Result<String> {
        let h = self.lookup(key)?;
        let r = h.snapshot();
        if r.state.status != Status::Running {
            return Err(Error::conflict(format!(
                "container {} is not running",
                r.id
            )));
        }
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(Error::invalid("No exec command specified"));
        }
        if !config.detach_keys.is_empty()
            && berth_api::detach::parse_detach_keys(&config.detach_keys).is_err()
        {
            return Err(Error::invalid(format!(
                "Invalid escape keys ({}) provided",
                config.detach_keys
            )));
        }
        let id = crate::new_id();
        let cmd = config.cmd.clone().unwrap_or_default().join(" ");
        self.execs.lock().unwrap_or_else(|e| e.into_inner()).insert(
            id.clone(),
            Arc::new(Mutex::new(ExecRecord {
                id: id.clone(),
                container_id: r.id.clone(),
                config,
                running: false,
                exit_code: None,
                pid: 0,
            })),
        );
        self.event(
            &format!("exec_create: {cmd}"),
            &r.id,
            &[("execID", id.clone())],
        );
        Ok(id)
    }

    /// `POST /exec/{id}/start`: runs the process; returns its session, which
    /// [`Exec::drain`] or [`Exec::attach`] runs to its end.
    pub async fn start(&self, id: &str) -> Result<ExecSession> {
        let rec = self.record(id)?;
        let (container_id, config) = {
            let r = rec.lock().unwrap_or_else(|e| e.into_inner());
            if r.running || r.exit_code.is_some() {
                return Err(Error::conflict(format!(
                    "Exec command {id} has already run"
                )));
            }
            (r.container_id.clone(), r.config.clone())
        };
        let h = self.lookup(&container_id)?;
        let c = h.snapshot();
        if c.state.status != Status::Running {
            return Err(Error::conflict(format!(
                "container {container_id} is not running"
            )));
        }
        let rootfs = self.images.rw_layer(&container_id)?.merged;
        // moby: the exec's user is its own or the container's, resolved now
        // with the container's `--group-add`; with neither, the init
        // process's user exactly as it was resolved at start.
        let user = if config.user.is_empty() {
            c.config.user.clone()
        } else {
            config.user.clone()
        };
        let (uid, gid, additional_gids) = match user.is_empty() {
            false => resolve::process_user(&rootfs, &user, &c.host_config)?,
            true => match init_user(&self.state_dir(&container_id)) {
                Some(u) => u,
                None => resolve::process_user(&rootfs, "", &c.host_config)?,
            },
        };
        let mut env = resolve::process_env(&c.config);
        for e in config.env.clone().unwrap_or_default() {
            let key = e.split('=').next().unwrap_or("").to_string();
            env.retain(|x| x.split('=').next() != Some(key.as_str()));
            env.push(e);
        }
        if config.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        let cwd = if config.working_dir.is_empty() {
            c.config.working_dir.clone()
        } else {
            config.working_dir.clone()
        };
        let spec = ExecSpec {
            exec_id: id.to_string(),
            args: config.cmd.clone().unwrap_or_default(),
            env,
            cwd,
            uid,
            gid,
            additional_gids,
            tty: config.tty,
            stdin: config.attach_stdin,
            capabilities: config
                .privileged
                .then(crate::containers::lifecycle::host_capabilities),
            console_size: config.console_size.as_deref().and_then(|s| match s {
                [h, w] => Some((u16::try_from(*h).ok()?, u16::try_from(*w).ok()?))
                    .filter(|(h, w)| *h > 0 && *w > 0),
                _ => None,
            }),
        };
        let streams = ExecStreams::of(&config);
        let client = ShimClient::new(&self.state_dir(&container_id));
        let (pid, stream) = client.exec(spec).await.map_err(|e| {
            Error::invalid(crate::containers::lifecycle::exec_message(&e.to_string()))
        })?;
        {
            let mut r = rec.lock().unwrap_or_else(|e| e.into_inner());
            r.running = true;
            r.pid = pid as i64;
        }
        let cmd = config.cmd.unwrap_or_default().join(" ");
        self.event(
            &format!("exec_start: {cmd}"),
            &container_id,
            &[("execID", id.to_string())],
        );
        Ok(ExecSession {
            id: id.to_string(),
            streams,
            detach_keys: config.detach_keys.clone(),
            stream,
        })
    }

    /// The host pid of a started exec (health probes kill theirs on timeout).
    pub fn pid(&self, id: &str) -> Option<i64> {
        let rec = self.record(id).ok()?;
        let pid = rec.lock().unwrap_or_else(|e| e.into_inner()).pid;
        Some(pid)
    }

    /// Records an exec's end (the stream's exit frame).
    /// The `exec_detach` event of a client that typed the detach keys.
    pub(crate) fn detached(&self, id: &str) {
        let container = self.record(id).map(|r| {
            r.lock()
                .unwrap_or_else(|e| e.into_inner())
                .container_id
                .clone()
        });
        if let Ok(container) = container {
            self.event("exec_detach", &container, &[("execID", id.to_string())]);
        }
    }

    pub(crate) fn finished(&self, id: &str, code: i64) {
        let Ok(rec) = self.record(id) else {
            return;
        };
        let container_id = {
            let mut r = rec.lock().unwrap_or_else(|e| e.into_inner());
            r.running = false;
            r.exit_code = Some(code);
            r.container_id.clone()
        };
        self.event(
            "exec_die",
            &container_id,
            &[("execID", id.to_string()), ("exitCode", code.to_string())],
        );
    }

    /// `GET /exec/{id}/json`.
    pub fn inspect(&self, id: &str) -> Result<ExecInspect> {
        let r = self
            .record(id)?
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut cmd = r.config.cmd.clone().unwrap_or_default().into_iter();
        Ok(ExecInspect {
            can_remove: false,
            container_id: r.container_id,
            detach_keys: r.config.detach_keys,
            exit_code: r.exit_code,
            id: r.id,
            open_stderr: r.config.attach_stderr,
            open_stdin: r.config.attach_stdin,
            open_stdout: r.config.attach_stdout,
            process_config: ExecProcessConfig {
                entrypoint: cmd.next().unwrap_or_default(),
                arguments: cmd.collect(),
                privileged: r.config.privileged,
                tty: r.config.tty,
                user: r.config.user,
            },
            running: r.running,
            pid: r.pid,
        })
    }

    /// `POST /exec/{id}/resize`.
    pub async fn resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        let r = self
            .record(id)?
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        ShimClient::new(&self.state_dir(&r.container_id))
            .resize_exec(id, height, width)
            .await
            .map_err(|e| Error::conflict(e.to_string()))
    }

    /// Exec ids of a container, for its inspect.
    pub fn ids(&self, container_id: &str) -> Option<Vec<String>> {
        let ids: Vec<String> = self
            .execs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|r| {
                let r = r.lock().unwrap_or_else(|e| e.into_inner());
                (r.container_id == container_id && r.running).then(|| r.id.clone())
            })
            .collect();
        (!ids.is_empty()).then_some(ids)
    }

    /// Forgets the exec instances of a container that is gone.
    pub(crate) fn forget(&self, container_id: &str) {
        self.execs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, r| {
                r.lock().unwrap_or_else(|e| e.into_inner()).container_id != container_id
            });
    }
}
