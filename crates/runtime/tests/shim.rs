//! Runs real containers through the real shim binary (root, real kernel).

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_runtime::client::{spawn_shim, ExecFrame, ExecStream, ShimClient};
use berth_runtime::proto::ShimConfig;
use berth_runtime::spec::{build_spec, NetNs, SpecParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// A busybox rootfs in a temp dir (the host's static busybox + applet links).
fn busybox_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for applet in [
        "sh", "echo", "cat", "sleep", "hostname", "ps", "ip", "true", "ls", "id",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    root
}

struct Fixture {
    _tmp: tempfile::TempDir,
    cfg: ShimConfig,
}

fn fixture(args: &[&str], tty: bool, stdin: bool) -> Fixture {
    let tmp = tempfile::Builder::new()
        .prefix("berth-rt-")
        .tempdir_in("/tmp")
        .unwrap();
    let rootfs = busybox_rootfs(tmp.path());
    let id = format!("rt{}{}", std::process::id(), rand_suffix());
    let state_dir = tmp.path().join("state");
    std::fs::create_dir_all(&state_dir).unwrap();
    let bundle = tmp.path().join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    let spec = build_spec(&SpecParams {
        rootfs,
        readonly_rootfs: false,
        args: args.iter().map(|s| s.to_string()).collect(),
        env: vec!["PATH=/bin".into()],
        cwd: "/".into(),
        uid: 0,
        gid: 0,
        additional_gids: vec![],
        hostname: "shimtest".into(),
        terminal: tty,
        netns: NetNs::Path(ShimConfig::netns_path(&state_dir)),
        binds: vec![],
        mounts: vec![],
        cgroups_path: format!("/berth-test/{id}"),
        privileged: false,
        host_capabilities: vec![],
        capabilities: None,
        shm_size: 0,
        seccomp: None,
        no_new_privileges: false,
        devices: vec![],
        device_rules: vec![],
        sysctl: vec![],
        resources: Default::default(),
    });
    std::fs::write(
        bundle.join("config.json"),
        serde_json::to_vec(&spec).unwrap(),
    )
    .unwrap();
    let cfg = ShimConfig {
        id,
        bundle,
        state_dir: state_dir.clone(),
        runtime_root: tmp.path().join("runtime"),
        log_path: Some(tmp.path().join("log.json")),
        tty,
        open_stdin: stdin,
        stdin_once: stdin,
        new_netns: true,
        log: Default::default(),
        seccomp_cache: None,
        runtime: None,
    };
    Fixture { _tmp: tmp, cfg }
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn shim_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth-shim"))
}

/// Reads stdcopy frames until EOF; returns (stdout, stderr).
async fn read_frames(conn: &mut tokio::net::UnixStream) -> (Vec<u8>, Vec<u8>) {
    let mut out = (Vec::new(), Vec::new());
    loop {
        let mut h = [0u8; 8];
        if conn.read_exact(&mut h).await.is_err() {
            return out;
        }
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let mut data = vec![0u8; len];
        conn.read_exact(&mut data).await.unwrap();
        if h[0] == 2 {
            out.1.extend(data)
        } else {
            out.0.extend(data)
        }
    }
}

#[tokio::test]
async fn runs_a_container_and_reports_its_exit() {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let f = fixture(
        &[
            "sh",
            "-c",
            "echo out; echo err >&2; hostname; echo $$; ip -o link | wc -l; exit 3",
        ],
        false,
        false,
    );
    let pid = spawn_shim(&shim_bin(), &f.cfg).await.expect("shim starts");
    assert!(pid > 0);
    let client = ShimClient::new(&f.cfg.state_dir);
    let mut stream = client.attach(false).await.unwrap();
    client.start().await.unwrap();
    let (out, err) = read_frames(&mut stream).await;
    let exit = tokio::time::timeout(Duration::from_secs(10), client.wait(&f.cfg.state_dir))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.exit_code, 3);
    // Own hostname, own pid 1, a netns with only lo.
    assert_eq!(String::from_utf8_lossy(&out), "out\nshimtest\n1\n1\n");
    assert_eq!(String::from_utf8_lossy(&err), "err\n");
    let log = std::fs::read_to_string(f.cfg.log_path.as_ref().unwrap()).unwrap();
    assert!(log.contains(r#""log":"out\n","stream":"stdout""#), "{log}");
    assert!(log.contains(r#""log":"err\n","stream":"stderr""#), "{log}");
    // Everything the shim made is gone.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!ShimConfig::netns_path(&f.cfg.state_dir).exists());
    assert!(!f.cfg.runtime_root.join(&f.cfg.id).exists());
}

#[tokio::test]
async fn takes_stdin_and_is_killed_by_signal() {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let f = fixture(&["cat"], false, true);
    spawn_shim(&shim_bin(), &f.cfg).await.unwrap();
    let client = ShimClient::new(&f.cfg.state_dir);
    let mut stream = client.attach(true).await.unwrap();
    client.start().await.unwrap();
    stream.write_all(b"hello\n").await.unwrap();
    stream.shutdown().await.unwrap();
    let (out, _) = read_frames(&mut stream).await;
    assert_eq!(out, b"hello\n");
    assert_eq!(client.wait(&f.cfg.state_dir).await.unwrap().exit_code, 0);

    let f = fixture(&["sleep", "100"], false, false);
    spawn_shim(&shim_bin(), &f.cfg).await.unwrap();
    let client = ShimClient::new(&f.cfg.state_dir);
    client.start().await.unwrap();
    client.kill(9, false).await.unwrap();
    assert_eq!(client.wait(&f.cfg.state_dir).await.unwrap().exit_code, 137);
}

#[tokio::test]
async fn gives_a_tty() {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let f = fixture(&["sh", "-c", "test -t 0 && echo isatty"], true, true);
    spawn_shim(&shim_bin(), &f.cfg).await.unwrap();
    let client = ShimClient::new(&f.cfg.state_dir);
    let mut stream = client.attach(true).await.unwrap();
    client.resize(40, 100).await.unwrap();
    client.start().await.unwrap();
    let (out, _) = read_frames(&mut stream).await;
    assert_eq!(String::from_utf8_lossy(&out), "isatty\r\n");
    assert_eq!(client.wait(&f.cfg.state_dir).await.unwrap().exit_code, 0);
}

#[tokio::test]
async fn reports_a_bad_command() {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let f = fixture(&["/nonexistent"], false, false);
    let r = spawn_shim(&shim_bin(), &f.cfg).await;
    // libcontainer reports a missing executable at create; either way no netns is left.
    if let Ok(_pid) = r {
        let client = ShimClient::new(&f.cfg.state_dir);
        let started = client.start().await;
        let _ = client.wait(&f.cfg.state_dir).await;
        eprintln!("start of a missing binary: {started:?}");
    } else {
        eprintln!("create of a missing binary: {r:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!ShimConfig::netns_path(&f.cfg.state_dir).exists());
}

/// Reads an exec stream through the client's decoder: (stdout, stderr, exit code).
async fn read_exec(s: &mut ExecStream) -> (Vec<u8>, Vec<u8>, Option<i64>) {
    let mut out = (Vec::new(), Vec::new(), None);
    loop {
        match s.output.next_frame().await {
            ExecFrame::Exit(code) => {
                out.2 = Some(code);
                return out;
            }
            ExecFrame::Output { stream: 2, data } => out.1.extend(data),
            ExecFrame::Output { data, .. } => out.0.extend(data),
        }
    }
}

#[tokio::test]
async fn execs_processes_in_the_running_container() {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let f = fixture(&["sleep", "100"], false, false);
    spawn_shim(&shim_bin(), &f.cfg).await.unwrap();
    let client = ShimClient::new(&f.cfg.state_dir);
    client.start().await.unwrap();
    let spec = |id: &str, args: &[&str], tty: bool, stdin: bool| berth_runtime::proto::ExecSpec {
        exec_id: id.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: vec!["PATH=/bin".into()],
        cwd: "/tmp".into(),
        uid: 0,
        gid: 0,
        additional_gids: vec![],
        tty,
        stdin,
        capabilities: None,
        console_size: None,
    };
    // Same namespaces as the container: its hostname, and pid 1 is `sleep`.
    let (pid, mut s) = client
        .exec(spec(
            "e1",
            &[
                "sh",
                "-c",
                "hostname; pwd; cat /proc/1/cmdline; echo err >&2; exit 5",
            ],
            false,
            false,
        ))
        .await
        .unwrap();
    assert!(pid > 0);
    let (out, err, code) = read_exec(&mut s).await;
    assert_eq!(
        String::from_utf8_lossy(&out),
        "shimtest\n/tmp\nsleep\u{0}100\u{0}"
    );
    assert_eq!(String::from_utf8_lossy(&err), "err\n");
    assert_eq!(code, Some(5));
    // stdin to a pipe, then EOF.
    let (_, mut s) = client
        .exec(spec("e2", &["sh", "-c", "cat; echo end"], false, true))
        .await
        .unwrap();
    s.stdin.write_all(b"hello\n").await.unwrap();
    s.stdin.shutdown().await.unwrap();
    let (out, _, code) = read_exec(&mut s).await;
    assert_eq!((out, code), (b"hello\nend\n".to_vec(), Some(0)));
    // A tty.
    let (_, mut s) = client
        .exec(spec(
            "e3",
            &["sh", "-c", "test -t 1 && echo tty"],
            true,
            true,
        ))
        .await
        .unwrap();
    let (out, _, code) = read_exec(&mut s).await;
    assert_eq!(
        (String::from_utf8_lossy(&out).to_string(), code),
        ("tty\r\n".to_string(), Some(0))
    );
    // A missing binary is an error at start.
    assert!(client
        .exec(spec("e4", &["/nope"], false, false))
        .await
        .is_err());
    client.kill(9, false).await.unwrap();
    assert_eq!(client.wait(&f.cfg.state_dir).await.unwrap().exit_code, 137);
}

/// The fixture run by the real runc binary instead of the built-in runtime.
fn under_runc(mut f: Fixture) -> Option<Fixture> {
    let runc = std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("runc"))
        .find(|p| p.exists())?;
    f.cfg.runtime = Some(berth_runtime::proto::ExternalRuntime {
        name: "runc".into(),
        path: runc,
        args: vec![],
    });
    f.cfg.runtime_root = f._tmp.path().join("runc-root");
    Some(f)
}

#[tokio::test]
async fn runs_execs_and_kills_under_runc() {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let Some(f) = under_runc(fixture(
        &[
            "sh",
            "-c",
            "echo out; echo err >&2; hostname; echo $$; exit 3",
        ],
        false,
        false,
    )) else {
        eprintln!("SKIPPED: no runc on PATH");
        return;
    };
    spawn_shim(&shim_bin(), &f.cfg).await.expect("shim starts");
    // runc holds the container in its own root.
    assert!(f
        .cfg
        .runtime_root
        .join(&f.cfg.id)
        .join("state.json")
        .exists());
    let client = ShimClient::new(&f.cfg.state_dir);
    let mut stream = client.attach(false).await.unwrap();
    client.start().await.unwrap();
    let (out, err) = read_frames(&mut stream).await;
    let exit = tokio::time::timeout(Duration::from_secs(10), client.wait(&f.cfg.state_dir))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.exit_code, 3);
    assert_eq!(String::from_utf8_lossy(&out), "out\nshimtest\n1\n");
    assert_eq!(String::from_utf8_lossy(&err), "err\n");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!ShimConfig::netns_path(&f.cfg.state_dir).exists());
    assert!(!f.cfg.runtime_root.join(&f.cfg.id).exists());

    // A tty, then execs with pipes and a tty, then a kill.
    let f = under_runc(fixture(
        &["sh", "-c", "test -t 0 && echo isatty; sleep 100"],
        true,
        true,
    ))
    .unwrap();
    spawn_shim(&shim_bin(), &f.cfg).await.unwrap();
    let client = ShimClient::new(&f.cfg.state_dir);
    let mut stream = client.attach(true).await.unwrap();
    client.start().await.unwrap();
    let mut first = [0u8; 8 + 8];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first[8..], b"isatty\r\n");
    let spec = |id: &str, args: &[&str], tty: bool| berth_runtime::proto::ExecSpec {
        exec_id: id.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: vec!["PATH=/bin".into()],
        cwd: "/tmp".into(),
        uid: 0,
        gid: 0,
        additional_gids: vec![],
        tty,
        stdin: tty,
        capabilities: None,
        console_size: None,
    };
    let (_, mut s) = client
        .exec(spec(
            "e1",
            &["sh", "-c", "pwd; cat /proc/1/cmdline; exit 5"],
            false,
        ))
        .await
        .unwrap();
    let (out, _, code) = read_exec(&mut s).await;
    // busybox sh execs its last command: pid 1 is `sleep`.
    assert_eq!(String::from_utf8_lossy(&out), "/tmp\nsleep\u{0}100\u{0}");
    assert_eq!(code, Some(5));
    let (_, mut s) = client
        .exec(spec("e2", &["sh", "-c", "test -t 1 && echo tty"], true))
        .await
        .unwrap();
    let (out, _, code) = read_exec(&mut s).await;
    assert_eq!((out, code), (b"tty\r\n".to_vec(), Some(0)));
    let e = client
        .exec(spec("e3", &["/nope"], false))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no such file"), "{e}");
    client.pause().await.unwrap();
    client.resume().await.unwrap();
    client.kill(9, false).await.unwrap();
    assert_eq!(client.wait(&f.cfg.state_dir).await.unwrap().exit_code, 137);
}
