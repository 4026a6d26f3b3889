//! `exec`: create, start (hijacked unless detached), the exit code.

use berth_api::model::{ExecConfig, ExecStartConfig};

use super::DEFAULT_DETACH_KEYS;
use crate::client::Client;
use crate::commands::stream::{parse_detach_keys, relay, term_size, watch_size, RawTerminal};
use crate::Failure;

pub struct ExecOpts {
    pub container: String,
    pub command: Vec<String>,
    pub interactive: bool,
    pub tty: bool,
    pub detach: bool,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub env: Vec<String>,
    pub privileged: bool,
    pub detach_keys: Option<String>,
}

/// `exec`: create, start (hijacked unless detached), then the exit code
/// from the exec's inspect, as the docker CLI does.
pub async fn exec(c: &Client, o: ExecOpts) -> Result<i32, Failure> {
    let console = if o.tty { term_size() } else { None };
    let keys_spec = o
        .detach_keys
        .clone()
        .unwrap_or_else(|| DEFAULT_DETACH_KEYS.into());
    let keys = parse_detach_keys(&keys_spec).map_err(Failure::msg)?;
    let config = ExecConfig {
        user: o.user.clone().unwrap_or_default(),
        privileged: o.privileged,
        tty: o.tty,
        attach_stdin: o.interactive && !o.detach,
        attach_stdout: !o.detach,
        attach_stderr: !o.detach,
        detach_keys: o.detach_keys.clone().unwrap_or_default(),
        env: Some(o.env.clone()),
        working_dir: o.workdir.clone().unwrap_or_default(),
        cmd: Some(o.command.clone()),
        console_size: console.map(|(h, w)| vec![h.into(), w.into()]),
    };
    let id = c.create_exec(&o.container, &config).await?;
    let start = ExecStartConfig {
        detach: o.detach,
        tty: o.tty,
        console_size: None,
    };
    let path = format!("/exec/{id}/start");
    if o.detach {
        c.post_no_answer(&path, &start).await?;
        return Ok(0);
    }
    // The hijack takes its body as JSON; the typed start config encodes
    // to it without fail (plain fields only).
    let body = serde_json::to_value(&start).map_err(|e| Failure::msg(e.to_string()))?;
    let (up, _) = c.hijack(&path, Some(body)).await?;
    let raw = (o.tty && o.interactive).then(RawTerminal::enable);
    let resize = o.tty.then(|| watch_size(c, format!("/exec/{id}")));
    let detached = relay(up, !o.tty, o.interactive, keys).await;
    drop(raw);
    if let Some(r) = resize {
        r.abort();
    }
    if detached {
        // The docker CLI's word and status for a detach.
        return Err(Failure::msg("read escape sequence"));
    }
    Ok(c.inspect_exec(&id).await?.exit_code as i32)
}
