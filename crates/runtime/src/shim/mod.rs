//! `berth-shim`: one per running container. It creates the container through
//! its OCI runtime (libcontainer in this process, or a runc-like binary: see
//! oci.rs), holds its stdio (pipes or a pty), writes its json-file log,
//! reaps its exit status and serves the daemon over a unix socket. It outlives
//! the daemon, so containers keep running and logging while berthd restarts.
//!
//! It must stay single-threaded: libcontainer forks, and forking from a
//! process with other busy threads can deadlock (CRATES.md). So the container
//! is created before the async loop starts, and that loop is tokio's
//! current-thread runtime with no blocking pool in use (no `tokio::fs`).

mod builtin;
mod exec;
mod external;
mod io;
mod log;
mod logdrv;
mod netns;
mod oci;
mod seccomp_bpf;
mod seccomp_executor;
mod stdio;

use std::cell::RefCell;
use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, watch};

use crate::proto::{frame_header, ExitInfo, Request, Response, ShimConfig};
use io::AsyncFdIo;
use log::{FileSink, Splitter};
use oci::OciRuntime;

/// Gives every signal the shim has ignored an empty handler instead.
///
/// Ignored signals stay ignored across execve, so without this the
/// container's processes would inherit them: SIGPIPE, which Rust's runtime
/// ignores before `main` (then `yes | head -1` never ends, as `yes` is
/// never killed by the closed pipe), and whatever berthd's own parent
/// ignored (a shell's background job has SIGINT and SIGQUIT ignored). A
/// caught signal is reset to its default by execve, so the container
/// starts with every signal at its default, as under runc, while the shim
/// itself still shrugs them off (a write to a closed pipe fails with EPIPE
/// and a stray SIGQUIT does nothing).
fn catch_ignored_signals() {
    extern "C" fn ignore(_: libc::c_int) {}
    for sig in (1..32).chain(libc::SIGRTMIN()..=libc::SIGRTMAX()) {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: sigaction with a null new action only reads the current
        // one into `old`, a zeroed sigaction owned here.
        let ignored = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
        };
        if !ignored {
            continue;
        }
        // SAFETY: installs a handler that does nothing (async-signal-safe)
        // for a signal that was ignored; `act` is fully initialised.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = ignore as extern "C" fn(libc::c_int) as libc::sighandler_t;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
    // glibc keeps the signals between 31 and SIGRTMIN (its SIGCANCEL and
    // SIGSETXID) to itself: its sigaction refuses them. One inherited as
    // ignored (seen: 32, from the process tree CI ran under) is set back
    // to its default with the system call itself. glibc installs its own
    // handlers for them when it needs them, so the default is safe here.
    for sig in 32..libc::SIGRTMIN() {
        reset_if_ignored_raw(sig);
    }
}

/// The kernel's `struct sigaction` (rt_sigaction(2)), not glibc's.
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

fn reset_if_ignored_raw(sig: libc::c_int) {
    let size = std::mem::size_of::<u64>();
    let mut old = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: rt_sigaction with a null new action only writes the current
    // one into `old`, laid out as the kernel's sigaction; `size` is the
    // kernel's sigset size.
    let read = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            std::ptr::null::<KernelSigaction>(),
            &mut old as *mut KernelSigaction,
            size,
        )
    };
    if read != 0 || old.handler != libc::SIG_IGN {
        return;
    }
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: as above; SIG_DFL needs no handler or restorer.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &dfl as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            size,
        );
    }
}

/// Entry point of the shim binary. Reports `ok <pid>` or `error: <why>` on
/// stdout once the container is created, then serves until it has exited.
pub fn main(config_path: &Path) -> i32 {
    catch_ignored_signals();
    let cfg: ShimConfig = match fs::read(config_path)
        .map_err(anyhow::Error::from)
        .and_then(|b| serde_json::from_slice(&b).map_err(anyhow::Error::from))
    {
        Ok(c) => c,
        Err(e) => {
            let _ = report(&format!(
                "error: reading shim config {}: {e}",
                config_path.display()
            ));
            return 1;
        }
    };
    // A log target that cannot be reached refuses the start, as dockerd.
    match logdrv::Driver::new(&cfg.log, &cfg.id).and_then(|d| d.map_or(Ok(()), |d| d.check())) {
        Ok(()) => {}
        Err(e) => {
            let _ = report(&format!("error: {e:#}"));
            return 1;
        }
    }
    let created = match create(&cfg) {
        Ok(c) => c,
        Err(e) => {
            cleanup_netns(&cfg);
            let _ = report(&format!("error: {e:#}"));
            return 1;
        }
    };
    if let Err(e) = report(&format!("ok {}", created.pid)) {
        abandon(&cfg, created, e);
        return 1;
    }
    detach_stdout();

    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shim: runtime: {e}");
            return 1;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, serve(cfg, created));
    0
}

/// What `create` leaves for the serving loop.
struct Created {
    runtime: Box<dyn OciRuntime>,
    pid: i32,
    listener: StdUnixListener,
    /// Container stdout/stderr read ends, or the pty master as stdout.
    outputs: Vec<(u8, OwnedFd)>,
    /// Where stdin goes: a pipe's write end or a dup of the pty master.
    stdin: Option<OwnedFd>,
    /// The pty master, for resizes.
    master: Option<OwnedFd>,
}

fn create(cfg: &ShimConfig) -> anyhow::Result<Created> {
    // The shim reaps what its container runs: exec'd processes, and with an
    // external runtime the init it leaves behind when it exits.
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer argument and touches no memory.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if cfg.new_netns {
        netns::create_with_loopback(&ShimConfig::netns_path(&cfg.state_dir))
            .context("creating the network namespace")?;
        // The daemon plugs the interfaces while the runtime works.
        report(crate::proto::NETNS_READY).context("reporting to the daemon")?;
    }
    let mut runtime: Box<dyn OciRuntime> = match &cfg.runtime {
        None => Box::new(builtin::Builtin::new(cfg)),
        Some(rt) => Box::new(external::External::new(cfg, rt)),
    };
    let (io, stdio) = stdio::wire(cfg.tty, cfg.open_stdin, &cfg.state_dir, "console.sock")?;
    let pid = runtime.create(io)?;
    let stdio::Stdio {
        outputs,
        stdin,
        master,
        ..
    } = stdio.finish()?;
    let _ = fs::remove_file(ShimConfig::socket_path(&cfg.state_dir));
    let sock = crate::proto::socket_path(&cfg.state_dir, "shim.sock")?;
    let listener = StdUnixListener::bind(&sock.path).context("shim socket")?;
    listener.set_nonblocking(true)?;
    fs::write(
        cfg.state_dir.join("shim.pid"),
        std::process::id().to_string(),
    )?;
    Ok(Created {
        runtime,
        pid,
        listener,
        outputs,
        stdin,
        master,
    })
}

/// Writes one line of the start-up report on stdout, the daemon's pipe;
/// an error (not println's panic) when the daemon is gone.
fn report(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// The daemon died before it heard that the container was created (its
/// end of the report pipe is closed): nobody will start, wait on or remove
/// this container, so the shim undoes it and ends, rather than keep its
/// netns, runtime state and a waiting init for good.
fn abandon(cfg: &ShimConfig, mut created: Created, e: std::io::Error) {
    eprintln!("shim: the daemon is gone ({e}); removing the container");
    if created.runtime.kill(Signal::SIGKILL, true).is_ok() {
        // Ours to reap (a child, or reparented to this subreaper).
        let _ = waitpid(Pid::from_raw(created.pid), None);
    }
    if let Err(e) = created.runtime.delete() {
        eprintln!("shim: deleting runtime state: {e}");
    }
    cleanup_netns(cfg);
    let _ = fs::remove_file(ShimConfig::socket_path(&cfg.state_dir));
    let _ = fs::remove_file(cfg.state_dir.join("shim.pid"));
}

fn detach_stdout() {
    if let Ok(null) = fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 onto fd 1 of an fd we own; nothing else holds fd 1's Rust handle.
        unsafe { libc::dup2(null.as_raw_fd(), 1) };
    }
}

fn cleanup_netns(cfg: &ShimConfig) {
    if cfg.new_netns {
        netns::remove(&ShimConfig::netns_path(&cfg.state_dir));
    }
}

pub(super) struct Shared {
    pub(super) cfg: ShimConfig,
    pub(super) pid: i32,
    pub(super) runtime: RefCell<Box<dyn OciRuntime>>,
    pub(super) output: RefCell<Option<broadcast::Sender<(u8, Bytes)>>>,
    pub(super) stdin: RefCell<Option<Rc<AsyncFdIo>>>,
    pub(super) master: Option<OwnedFd>,
    pub(super) exit: watch::Sender<Option<ExitInfo>>,
    pub(super) started: std::cell::Cell<bool>,
    pub(super) reaped: Rc<Reaped>,
    /// TTY masters of running execs, for resizes.
    pub(super) exec_ttys: RefCell<std::collections::HashMap<String, OwnedFd>>,
}

async fn serve(cfg: ShimConfig, created: Created) {
    let (out_tx, _) = broadcast::channel(1024);
    let (exit_tx, _) = watch::channel(None);
    let stdin = match created.stdin {
        Some(fd) => AsyncFdIo::new(fd).ok().map(Rc::new),
        None => None,
    };
    let shared = Rc::new(Shared {
        cfg,
        pid: created.pid,
        runtime: RefCell::new(created.runtime),
        output: RefCell::new(Some(out_tx.clone())),
        stdin: RefCell::new(stdin),
        master: created.master,
        exit: exit_tx,
        started: std::cell::Cell::new(false),
        reaped: Rc::new(Reaped::default()),
        exec_ttys: RefCell::new(std::collections::HashMap::new()),
    });
    let spec = &shared.cfg.log;
    let file = Rc::new(RefCell::new(shared.cfg.log_path.as_ref().and_then(|p| {
        FileSink::open(
            p,
            spec.file_max_size,
            spec.file_max_count,
            spec.file_compress,
            spec.attrs.clone(),
        )
        .ok()
    })));
    let splitter = Rc::new(RefCell::new(Splitter::default()));
    let (remote, sender) = match logdrv::Driver::new(spec, &shared.cfg.id) {
        Ok(Some(d)) => {
            let (r, t) = logdrv::Remote::start(d);
            (Some(r), Some(t))
        }
        Ok(None) => (None, None),
        Err(e) => {
            eprintln!("shim: log driver: {e:#}");
            (None, None)
        }
    };

    // Output pumps: container stdio -> log file and attached clients.
    let mut pumps = Vec::new();
    for (stream, fd) in created.outputs {
        let Ok(io) = AsyncFdIo::new(fd) else { continue };
        let tx = out_tx.clone();
        let file = file.clone();
        let splitter = splitter.clone();
        let remote = remote.clone();
        pumps.push(tokio::task::spawn_local(async move {
            let mut buf = vec![0u8; 32 * 1024];
            let mut lines = Vec::new();
            loop {
                match io.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        splitter.borrow_mut().push(stream, &buf[..n], &mut lines);
                        deliver(&file, remote.as_ref(), &mut lines).await;
                        let _ = tx.send((stream, Bytes::copy_from_slice(&buf[..n])));
                    }
                }
            }
            lines.extend(splitter.borrow_mut().flush(stream));
            deliver(&file, remote.as_ref(), &mut lines).await;
        }));
    }
    drop(out_tx);
    drop(remote);

    let listener = match UnixListener::from_std(created.listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("shim: listener: {e}");
            return;
        }
    };
    let accept_shared = shared.clone();
    tokio::task::spawn_local(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::task::spawn_local(handle(accept_shared.clone(), conn));
        }
    });

    let status = reap_until_exit(shared.pid, shared.reaped.clone()).await;
    // The pid namespace is gone with its init, so the stdio ends close; give
    // the pumps a moment to drain what is still buffered.
    for p in pumps {
        let _ = tokio::time::timeout(Duration::from_secs(2), p).await;
    }
    // What the remote driver still has queued goes out before the exit is
    // announced (bounded: a dead log server must not hold the exit).
    if let Some(t) = sender {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    // The kernel counts its OOM kills in the container's cgroup, which
    // still exists until the runtime state is deleted below.
    let oom_killed = spec_cgroups_path(&shared.cfg.bundle)
        .map(|p| crate::cgroups::Cgroup::new(&p).oom_kills() > 0)
        .unwrap_or(false);
    let info = ExitInfo {
        exit_code: status,
        finished_at: berth_api::units::go_rfc3339_nano(
            &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        ),
        oom_killed,
    };
    if let Err(e) = write_atomic(
        &ShimConfig::exit_path(&shared.cfg.state_dir),
        &serde_json::to_vec(&info).unwrap_or_default(),
    ) {
        eprintln!("shim: writing exit status: {e}");
    }
    shared.output.borrow_mut().take();
    shared.stdin.borrow_mut().take();
    // Release everything the next run of this container reuses by path (its
    // runtime state, netns mount and socket) before the exit is announced:
    // once the daemon hears of it, it may start the container again at once.
    // Connections already waiting still get their answer; a later waiter
    // finds no socket and reads exit.json, written above.
    if let Err(e) = shared.runtime.borrow_mut().delete() {
        eprintln!("shim: deleting runtime state: {e}");
    }
    cleanup_netns(&shared.cfg);
    let _ = fs::remove_file(ShimConfig::socket_path(&shared.cfg.state_dir));
    shared.exit.send_replace(Some(info));
    // Let the waiting connections write their answers before the process ends.
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// `linux.cgroupsPath` of the bundle's `config.json`.
fn spec_cgroups_path(bundle: &Path) -> Option<String> {
    let text = fs::read(bundle.join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    Some(v["linux"]["cgroupsPath"].as_str()?.to_string())
}

/// Exit statuses of reaped processes other than init (exec'd ones), and a
/// wake-up for whoever waits on one.
#[derive(Default)]
pub(super) struct Reaped {
    pub(super) statuses: RefCell<std::collections::HashMap<i32, i32>>,
    pub(super) notify: tokio::sync::Notify,
}

/// Reaps every child (the shim is a subreaper) until the container's init
/// exits; returns its exit code (128 + signal when killed). Other statuses
/// go to `reaped` for the exec streams.
async fn reap_until_exit(init: i32, reaped: Rc<Reaped>) -> i32 {
    let mut sigchld = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child()) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("shim: SIGCHLD handler: {e}");
            None
        }
    };
    loop {
        loop {
            let (pid, code) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid.as_raw(), code),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid.as_raw(), 128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            };
            if pid == init {
                return code;
            }
            reaped.statuses.borrow_mut().insert(pid, code);
            reaped.notify.notify_waiters();
        }
        match sigchld.as_mut() {
            Some(s) => {
                // A periodic re-check covers a SIGCHLD that raced the handler's install.
                let _ = tokio::time::timeout(Duration::from_secs(1), s.recv()).await;
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn handle(shared: Rc<Shared>, conn: UnixStream) {
    let (read, mut write) = conn.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    if read.read_line(&mut line).await.unwrap_or(0) == 0 {
        return;
    }
    let req: Request = match serde_json::from_str(&line) {
        Ok(r) => r,
        Err(e) => {
            let _ = reply(&mut write, failure(format!("bad request: {e}"))).await;
            return;
        }
    };
    match req {
        Request::Wait => {
            let mut rx = shared.exit.subscribe();
            let info = loop {
                if let Some(info) = rx.borrow_and_update().clone() {
                    break info;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            };
            let _ = reply(
                &mut write,
                Response {
                    exit: Some(info),
                    ..Default::default()
                },
            )
            .await;
        }
        Request::Exec(spec) => exec::run(shared, spec, read, write).await,
        Request::Attach { stdin } => attach(shared, stdin, read, write).await,
        req => {
            let resp = control(&shared, req);
            let _ = reply(&mut write, resp).await;
        }
    }
}

/// A request answered at once: start, kill, resize, pause, resume, state.
fn control(shared: &Shared, req: Request) -> Response {
    match req {
        Request::Start => {
            if !shared.started.get() {
                if let Err(e) = shared.runtime.borrow_mut().start() {
                    return failure(e);
                }
                shared.started.set(true);
            }
            Response {
                pid: Some(shared.pid),
                ..Default::default()
            }
        }
        Request::Kill { signal, all } => match Signal::try_from(signal) {
            Err(e) => failure(format!("invalid signal {signal}: {e}")),
            Ok(sig) => answer(shared.runtime.borrow_mut().kill(sig, all)),
        },
        Request::Resize { height, width } => match &shared.master {
            Some(m) => answer(io::set_winsize(m, height, width)),
            None => failure("the container has no tty"),
        },
        Request::Pause => answer(shared.runtime.borrow_mut().pause()),
        Request::Resume => answer(shared.runtime.borrow_mut().resume()),
        Request::ResizeExec {
            exec_id,
            height,
            width,
        } => match shared.exec_ttys.borrow().get(&exec_id) {
            Some(m) => answer(io::set_winsize(m, height, width)),
            None => failure(format!("exec {exec_id} has no tty")),
        },
        Request::State => {
            let status = if shared.exit.borrow().is_some() {
                "stopped"
            } else if shared.started.get() {
                "running"
            } else {
                "created"
            };
            Response {
                pid: Some(shared.pid),
                status: Some(status.into()),
                exit: shared.exit.borrow().clone(),
                ..Default::default()
            }
        }
        // Served by `handle` itself.
        Request::Wait | Request::Exec(_) | Request::Attach { .. } => {
            failure("not a control request")
        }
    }
}

fn failure(e: impl std::fmt::Display) -> Response {
    Response {
        error: Some(e.to_string()),
        ..Default::default()
    }
}

fn answer<E: std::fmt::Display>(r: Result<(), E>) -> Response {
    match r {
        Ok(()) => Response::default(),
        Err(e) => failure(e),
    }
}

/// `attach`: the container's output as stream frames, and with `stdin`
/// what the client sends into the process's stdin.
async fn attach(
    shared: Rc<Shared>,
    stdin: bool,
    mut read: BufReader<tokio::net::unix::OwnedReadHalf>,
    mut write: tokio::net::unix::OwnedWriteHalf,
) {
    let rx = shared.output.borrow().as_ref().map(|tx| tx.subscribe());
    let Some(mut rx) = rx else {
        let _ = reply(&mut write, failure("container has exited")).await;
        return;
    };
    if reply(&mut write, Response::default()).await.is_err() {
        return;
    }
    if stdin {
        let shared2 = shared.clone();
        tokio::task::spawn_local(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        // Look the target up per write: it is dropped (closed) on EOF.
                        let target = shared2.stdin.borrow().clone();
                        let Some(target) = target else { break };
                        if target.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            if shared2.cfg.stdin_once && !shared2.cfg.tty {
                // Dropping the only handle on the pipe gives the process EOF.
                shared2.stdin.borrow_mut().take();
            }
        });
    }
    loop {
        match rx.recv().await {
            Ok((stream, data)) => {
                let header = frame_header(stream, data.len());
                if write.write_all(&header).await.is_err() || write.write_all(&data).await.is_err()
                {
                    break;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    let _ = write.shutdown().await;
}

pub(super) async fn reply(
    w: &mut tokio::net::unix::OwnedWriteHalf,
    resp: Response,
) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(&resp).unwrap_or_default();
    line.push(b'\n');
    w.write_all(&line).await
}

/// Temp file and rename: a reader sees the old file or the whole new one.
/// No fsync: exit.json must survive a crash of the daemon (the page cache
/// does), not of the host (the exec root is a tmpfs and the containers are
/// gone with the host anyway); an fsync here costs milliseconds per exit.
fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, data)?;
    fs::rename(&tmp, path)
}

/// Writes lines to the log file and hands them to the remote driver.
async fn deliver(
    file: &RefCell<Option<FileSink>>,
    remote: Option<&logdrv::Remote>,
    lines: &mut Vec<log::Line>,
) {
    if let Some(f) = file.borrow_mut().as_mut() {
        for l in lines.iter() {
            f.write(l);
        }
    }
    for l in lines.drain(..) {
        if let Some(r) = remote {
            r.send(l).await;
        }
    }
}
