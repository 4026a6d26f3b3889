//! `docker exec` inside the shim: a process joined to the running
//! container by its runtime (libcontainer's tenant builder, or `runc exec`), with its own pipes or
//! pty, streamed over the requesting connection and ended by an exit frame.
//!
//! The process description (`exec-<id>.json`) starts from the container's
//! own spec so it keeps the container's capabilities and settings, with the
//! request's args, env, cwd, user and terminal.

use std::fs;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use super::io::AsyncFdIo;
use super::{reply, Shared};
use crate::proto::{frame_header, ExecSpec, Response, STREAM_EXIT};

struct Started {
    pid: i32,
    outputs: Vec<(u8, OwnedFd)>,
    stdin: Option<OwnedFd>,
    master: Option<OwnedFd>,
}

/// Builds the process description and has the runtime start it
/// (synchronously: libcontainer forks, and an external runtime's process
/// must be waited for before the reaper runs again; the shim has one thread).
fn start(shared: &Shared, spec: &ExecSpec) -> anyhow::Result<Started> {
    let cfg = &shared.cfg;
    let bundle: Value = serde_json::from_slice(&fs::read(cfg.bundle.join("config.json"))?)?;
    let mut process = bundle.get("process").cloned().unwrap_or_else(|| json!({}));
    process["args"] = json!(spec.args);
    process["env"] = json!(spec.env);
    process["cwd"] = json!(if spec.cwd.is_empty() {
        "/"
    } else {
        spec.cwd.as_str()
    });
    process["terminal"] = json!(spec.tty);
    process["user"] =
        json!({"uid": spec.uid, "gid": spec.gid, "additionalGids": spec.additional_gids});
    if let Some(caps) = &spec.capabilities {
        process["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    }
    if let Some((h, w)) = spec.console_size {
        process["consoleSize"] = json!({"height": h, "width": w});
    }
    let process_path = cfg.state_dir.join(format!("exec-{}.json", spec.exec_id));
    let socket_name = format!("exec-{}.sock", spec.exec_id);
    let (io, stdio) = super::stdio::wire(spec.tty, spec.stdin, &cfg.state_dir, &socket_name)?;
    let pid = shared
        .runtime
        .borrow_mut()
        .exec(process, &process_path, io)?;
    let super::stdio::Stdio {
        outputs,
        stdin,
        master,
        ..
    } = stdio.finish()?;
    Ok(Started {
        pid,
        outputs,
        stdin,
        master,
    })
}

pub(super) async fn run(
    shared: Rc<Shared>,
    spec: ExecSpec,
    mut read: BufReader<OwnedReadHalf>,
    mut write: OwnedWriteHalf,
) {
    let started = match start(&shared, &spec) {
        Ok(s) => s,
        Err(e) => {
            let _ = reply(
                &mut write,
                Response {
                    error: Some(format!("{e:#}")),
                    ..Default::default()
                },
            )
            .await;
            return;
        }
    };
    let pid = started.pid;
    if let Some(m) = &started.master {
        if let Ok(dup) = m.try_clone() {
            shared
                .exec_ttys
                .borrow_mut()
                .insert(spec.exec_id.clone(), dup);
        }
    }
    if reply(
        &mut write,
        Response {
            pid: Some(pid),
            ..Default::default()
        },
    )
    .await
    .is_err()
    {
        return;
    }
    // Input: the connection's bytes into the process; EOF closes its stdin pipe.
    if let Some(fd) = started.stdin {
        let tty = spec.tty;
        if let Ok(target) = AsyncFdIo::new(fd) {
            tokio::task::spawn_local(async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match read.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if target.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                if tty {
                    // A pty's input stays open until the process ends.
                    std::future::pending::<()>().await;
                }
                drop(target);
            });
        }
    }
    // Output: every stream into frames on the connection.
    let (tx, mut rx) = mpsc::unbounded_channel::<(u8, Vec<u8>)>();
    for (stream, fd) in started.outputs {
        let Ok(io) = AsyncFdIo::new(fd) else { continue };
        let tx = tx.clone();
        tokio::task::spawn_local(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match io.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send((stream, buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
    drop(tx);
    let mut client_gone = false;
    while let Some((stream, data)) = rx.recv().await {
        if client_gone {
            continue;
        }
        let header = frame_header(stream, data.len());
        if write.write_all(&header).await.is_err() || write.write_all(&data).await.is_err() {
            client_gone = true;
        }
    }
    let code = wait_exit(&shared, pid).await;
    shared.exec_ttys.borrow_mut().remove(&spec.exec_id);
    let text = code.to_string();
    let _ = write
        .write_all(&frame_header(STREAM_EXIT, text.len()))
        .await;
    let _ = write.write_all(text.as_bytes()).await;
    let _ = write.shutdown().await;
}

/// The exec'd process's exit code, from the shim's reaper; 137 when the
/// container itself ended first and took the process with it.
async fn wait_exit(shared: &Shared, pid: i32) -> i32 {
    let mut exit = shared.exit.subscribe();
    loop {
        let notified = shared.reaped.notify.notified();
        if let Some(code) = shared.reaped.statuses.borrow_mut().remove(&pid) {
            return code;
        }
        if exit.borrow_and_update().is_some() {
            return 137;
        }
        tokio::select! {
            _ = notified => {}
            _ = exit.changed() => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
    }
}
