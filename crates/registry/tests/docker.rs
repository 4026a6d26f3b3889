//! The real docker CLI and Debian's dockerd 20.10 against berth-registry:
//! login, push, rmi, pull back, over TLS (the CA in dockerd's certs.d)
//! with htpasswd, and with token auth from the built-in token service.
//! The dockerd is private: its own data root, exec root, socket, no
//! bridge and no iptables, so the host's networking is never touched.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn docker_cli() -> &'static str {
    if Path::new("/usr/local/bin/docker").exists() {
        "/usr/local/bin/docker"
    } else {
        "docker"
    }
}

struct Dockerd {
    child: Option<Child>,
    dir: PathBuf,
}

impl Dockerd {
    fn start(dir: &Path) -> Dockerd {
        assert!(
            Path::new("/usr/sbin/dockerd").exists(),
            "install docker.io (.ci/run does)"
        );
        let log = std::fs::File::create(dir.join("dockerd.log")).expect("log");
        let child = Command::new("/usr/sbin/dockerd")
            .arg("--data-root")
            .arg(dir.join("root"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", dir.join("d.sock").display()))
            .arg("--pidfile")
            .arg(dir.join("d.pid"))
            .args(["--bridge", "none", "--iptables=false", "--ip-masq=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dockerd");
        let d = Dockerd {
            child: Some(child),
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (ok, _, _) = d.docker(&["version"]);
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "dockerd did not start: {}",
                std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        d
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(docker_cli());
        c.arg("-H")
            .arg(format!("unix://{}", self.dir.join("d.sock").display()))
            .args(args)
            .env("DOCKER_CONFIG", self.dir.join("cli"))
            .stdin(Stdio::null());
        c
    }

    fn docker(&self, args: &[&str]) -> (bool, String, String) {
        run(&mut self.cmd(args))
    }

    fn login(&self, host: &str, user: &str, password: &str) -> (bool, String, String) {
        let mut c = self.cmd(&["login", "-u", user, "--password-stdin", host]);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("docker login");
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(password.as_bytes());
        }
        let o = child.wait_with_output().expect("docker login");
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on the pid of a child this test started.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        // Anything dockerd left mounted under its roots.
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let prefix = self.dir.display().to_string();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&prefix))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").args(["-l", p]).status();
        }
    }
}

/// `/etc/docker/certs.d/HOST/ca.crt`, removed on drop.
struct CertsD(PathBuf);

impl CertsD {
    fn install(host: &str, ca: &Path) -> CertsD {
        let d = PathBuf::from("/etc/docker/certs.d").join(host);
        std::fs::create_dir_all(&d).expect("certs.d");
        std::fs::copy(ca, d.join("ca.crt")).expect("ca.crt");
        CertsD(d)
    }
}

impl Drop for CertsD {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn docker_login_push_rmi_pull_over_tls_with_htpasswd_and_tokens() {
    let dir = Scratch::new("docker");
    let (ca, crt, key) = make_certs(&dir.0);
    let users = dir.path("htpasswd");
    make_htpasswd(&users, "alice", "s3cret");
    let tls = format!(
        "  tls:\n    certificate: {}\n    key: {}\n",
        crt.display(),
        key.display()
    );
    let basic_dir = dir.path("basic");
    std::fs::create_dir_all(&basic_dir).expect("dir");
    let s = Server::start_with(
        &basic_dir,
        &format!(
            "{tls}auth:\n  htpasswd:\n    realm: breg\n    path: {}\n",
            users.display()
        ),
        &[],
        "https",
    );
    let host = s.addr();
    let _certs = CertsD::install(&host, &ca);

    let dd_dir = dir.path("dockerd");
    std::fs::create_dir_all(&dd_dir).expect("dir");
    let d = Dockerd::start(&dd_dir);
    let tar = dir.path("busybox.tar");
    berth_testkit::write_busybox_tar(&tar).expect("busybox tar");
    let (ok, out, err) = d.docker(&["import", &tar.display().to_string(), "breg-busybox:1"]);
    assert!(ok, "import: {err}");
    let id = out.trim().to_string();
    let image = format!("{host}/team/app:1");
    assert!(d.docker(&["tag", "breg-busybox:1", &image]).0);

    // Not logged in: the push is refused.
    let (ok, _, err) = d.docker(&["push", &image]);
    assert!(!ok, "push without login must fail");
    assert!(
        err.contains("no basic auth credentials") || err.contains("unauthorized"),
        "{err}"
    );
    let (ok, _, err) = d.login(&host, "alice", "wrong");
    assert!(!ok, "wrong password must fail");
    assert!(err.contains("unauthorized") || err.contains("401"), "{err}");
    let (ok, out, err) = d.login(&host, "alice", "s3cret");
    assert!(ok, "login: {err}");
    assert!(out.contains("Login Succeeded"), "{out}");

    let (ok, out, err) = d.docker(&["push", &image]);
    assert!(ok, "push: {out} {err}\n{}", s.log_text());
    let digest = out
        .split_whitespace()
        .skip_while(|w| *w != "digest:")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(digest.starts_with("sha256:"), "{out}");

    let cacert = ca.display().to_string();
    let r = curl(
        "GET",
        &s.url(&format!("/v2/team/app/manifests/{digest}")),
        &["--cacert", &cacert, "-u", "alice:s3cret"],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Type"),
        Some("application/vnd.docker.distribution.manifest.v2+json")
    );
    assert_eq!(sha256(&r.body), digest);

    assert!(d.docker(&["rmi", &image, "breg-busybox:1"]).0);
    assert!(!d.docker(&["image", "inspect", &id]).0, "the image is gone");
    let (ok, out, err) = d.docker(&["pull", &image]);
    assert!(ok, "pull: {out} {err}");
    assert!(out.contains(&digest), "{out}");
    let (ok, out, _) = d.docker(&["image", "inspect", "--format", "{{.Id}}", &image]);
    assert!(ok);
    assert_eq!(out.trim(), id, "the image pulled back is the image pushed");

    // Logged out: the pull is refused.
    assert!(d.docker(&["logout", &host]).0);
    assert!(d.docker(&["rmi", &image]).0);
    // (dockerd treats 127.0.0.0/8 as an insecure registry, so after the
    // refusal over HTTPS it also tries plain HTTP and reports that error.)
    let refusals = |s: &Server| {
        s.log_text()
            .lines()
            .filter(|l| l.contains("status=401"))
            .count()
    };
    let before = refusals(&s);
    let (ok, _, err) = d.docker(&["pull", &image]);
    assert!(!ok, "pull after logout must fail: {err}");
    assert!(!d.docker(&["image", "inspect", &image]).0);
    assert!(
        refusals(&s) > before,
        "the registry refused the anonymous pull"
    );

    // Token auth: docker fetches tokens from the built-in token service.
    let ts = token_server(&dir, &tls, &users);
    let thost = ts.addr();
    let _tcerts = CertsD::install(&thost, &ca);
    let (ok, _, err) = d.login(&thost, "alice", "wrong");
    assert!(!ok, "wrong password must fail: {err}");
    let (ok, out, err) = d.login(&thost, "alice", "s3cret");
    assert!(
        ok && out.contains("Login Succeeded"),
        "token login: {out} {err}\n{}",
        ts.log_text()
    );
    assert!(d.login(&host, "alice", "s3cret").0);
    assert!(d.docker(&["pull", &image]).0);
    let timage = format!("{thost}/team/tok:1");
    assert!(d.docker(&["tag", &image, &timage]).0);
    let (ok, out, err) = d.docker(&["push", &timage]);
    assert!(ok, "token push: {out} {err}\n{}", ts.log_text());
    assert!(d.docker(&["rmi", &timage, &image]).0);
    let (ok, out, err) = d.docker(&["pull", &timage]);
    assert!(ok, "token pull: {out} {err}");
    let (_, out, _) = d.docker(&["image", "inspect", "--format", "{{.Id}}", &timage]);
    assert_eq!(out.trim(), id);

    // dockerd and its containerd are gone, nothing stays mounted.
    drop(d);
    assert_nothing_left_under(&dd_dir);
}

/// A registry with token auth whose built-in token service signs with a
/// fresh EC key and checks `users`.
fn token_server(dir: &Scratch, tls: &str, users: &Path) -> Server {
    let (tcrt, tkey) = (dir.path("token.crt"), dir.path("token.key"));
    let mut c = Command::new("openssl");
    c.args([
        "req",
        "-x509",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=breg token",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-keyout",
    ])
    .arg(&tkey)
    .arg("-out")
    .arg(&tcrt);
    assert!(run(&mut c).0);
    let token_dir = dir.path("token");
    std::fs::create_dir_all(&token_dir).expect("dir");
    Server::start_with(
        &token_dir,
        &format!(
            "{tls}auth:\n  token:\n    realm: https://127.0.0.1:{{PORT}}/auth/token\n    service: breg-service\n    issuer: breg-issuer\n    rootcertbundle: {}\n    signingkey: {}\n    htpasswd: {}\n",
            tcrt.display(),
            tkey.display(),
            users.display()
        ),
        &[],
        "https",
    )
}

/// No mount and no process is left under `dir` (dockerd's and its
/// containerd's).
fn assert_nothing_left_under(dir: &Path) {
    let prefix = dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    assert!(!mounts.contains(&prefix), "mounts left under {prefix}");
    for e in std::fs::read_dir("/proc").expect("proc").flatten() {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(!cmdline.contains(&prefix), "process left: {cmdline}");
    }
}
