//! `docker exec` inside the shim: a process joined to the running
//! container through libcontainer's tenant builder, with its own pipes or
//! pty, streamed over the requesting connection and ended by an exit frame.
//!
//! The process description (`exec-<id>.json`) starts from the container's
//! own spec so it keeps the container's capabilities and settings, with the
//! request's args, env, cwd, user and terminal.

use std::fs;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use anyhow::anyhow;
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use super::io::AsyncFdIo;
use super::seccomp_bpf::{self, Program};
use super::{reply, Shared};
use crate::proto::{frame_header, ExecSpec, Response, STREAM_EXIT};

struct Started {
    pid: i32,
    outputs: Vec<(u8, OwnedFd)>,
    stdin: Option<OwnedFd>,
    master: Option<OwnedFd>,
}

/// Writes the process description and starts it (synchronously: the tenant
/// builder forks, which is safe here because the shim has one thread).
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
    // The container's filter, loaded by the executor (seccomp_executor.rs).
    let filter = match bundle.pointer("/linux/seccomp") {
        Some(s) => Some((
            seccomp_program(shared, s)?,
            super::seccomp_executor::lend_admin(&mut process),
        )),
        None => None,
    };
    let process_path = cfg.state_dir.join(format!("exec-{}.json", spec.exec_id));
    fs::write(&process_path, serde_json::to_vec(&process)?)?;

    let builder = ContainerBuilder::new(cfg.id.clone(), SyscallType::default())
        .with_root_path(&cfg.runtime_root)
        .map_err(|e| anyhow!("runtime root: {e}"))?;
    let socket_name = format!("exec-{}.sock", spec.exec_id);
    let (builder, stdio) =
        super::stdio::wire(builder, spec.tty, spec.stdin, &cfg.state_dir, &socket_name)?;
    // The tenant builder drops the container's seccomp filter; the
    // executor loads it in the exec'd process.
    let builder = match filter {
        Some((program, lent_admin)) => {
            builder.with_executor(super::seccomp_executor::SeccompExecutor {
                program,
                lent_admin,
            })
        }
        None => builder,
    };
    let result = builder
        .as_tenant()
        .with_process(Some(&process_path))
        .with_detach(true)
        .build();
    let _ = fs::remove_file(&process_path);
    let pid = result.map_err(|e| anyhow!("{e}"))?.as_raw();
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

/// The container's compiled filter: the shim's copy, else the shared cache's
/// or a fresh compile (see seccomp_bpf.rs).
fn seccomp_program(shared: &Shared, section: &Value) -> anyhow::Result<Rc<Program>> {
    if let Some(p) = shared.exec_seccomp.borrow().as_ref() {
        return Ok(p.clone());
    }
    let program = Rc::new(seccomp_bpf::cached(
        section,
        shared.cfg.seccomp_cache.as_deref(),
    )?);
    *shared.exec_seccomp.borrow_mut() = Some(program.clone());
    Ok(program)
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
