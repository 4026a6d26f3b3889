//! Registries on loopback for the distribution and build tests:
//! berth-registry (TLS + htpasswd) and CNCF distribution
//! (`docker-registry`). They run where the daemon's loopback is: on the
//! host for berthd, in the harness's netns for dockerd.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{bin_dir, Daemon};

/// A registry process, killed (by its pid) on drop.
pub struct Registry {
    pub child: Child,
    pub port: u16,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command run where the daemon's loopback is.
pub fn in_daemon_net(d: &Daemon, program: &str) -> Command {
    if d.is_dockerd() {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &d.net_name, program]);
        c
    } else {
        Command::new(program)
    }
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

pub fn ok(c: &mut Command) -> String {
    let o = c.output().expect("spawn");
    assert!(
        o.status.success(),
        "{c:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn start_registry(d: &Daemon, program: &str, config: &Path, port: u16) -> Registry {
    let log = std::fs::File::create(config.with_extension("log")).expect("log");
    let child = in_daemon_net(d, program)
        .arg("serve")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("registry");
    let r = Registry { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = in_daemon_net(d, "curl")
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("https://127.0.0.1:{port}/v2/"))
            .output()
            .map(|o| o.stdout != b"000")
            .unwrap_or(false)
            || in_daemon_net(d, "curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                .arg(format!("http://127.0.0.1:{port}/v2/"))
                .output()
                .map(|o| o.stdout != b"000")
                .unwrap_or(false);
        if up {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{program} did not start: {}",
            std::fs::read_to_string(config.with_extension("log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `program` (CNCF distribution or berth-registry) on 127.0.0.1:`port`,
/// plain HTTP without auth, its config and storage in the daemon's tmp
/// dir `name`; also that dir (its log is `config.log` there).
pub fn plain_registry(d: &Daemon, program: &str, name: &str, port: u16) -> (Registry, PathBuf) {
    let dir = d.tmp().join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("root").display()
        ),
    )
    .expect("config");
    (start_registry(d, program, &config, port), dir)
}

/// (ca.crt, server.crt, server.key) for 127.0.0.1, made by openssl.
pub fn make_certs(dir: &Path) -> (PathBuf, PathBuf) {
    make_certs_for(dir, "127.0.0.1")
}

/// A CA (`ca.crt`, `ca.key`) and a server certificate for `ip` signed by it.
pub fn make_certs_for(dir: &Path, ip: &str) -> (PathBuf, PathBuf) {
    let ext = dir.join("ext.cnf");
    std::fs::write(
        &ext,
        format!("subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
    )
    .expect("ext");
    let p = |n: &str| dir.join(n);
    ok(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=bpl test CA",
            "-keyout",
        ])
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.crt")));
    ok(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-subj", &format!("/CN={ip}"), "-keyout"])
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    ok(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial", "-in"])
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.crt"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(p("server.crt")));
    (p("server.crt"), p("server.key"))
}

/// berth-registry with TLS (a self-signed CA) and htpasswd (alice/s3cret).
pub fn berth_registry(d: &Daemon) -> (Registry, String) {
    let dir = d.tmp().join("bpl-breg");
    std::fs::create_dir_all(&dir).expect("dir");
    let (crt, key) = make_certs(&dir);
    let htpasswd = ok(Command::new("htpasswd").args(["-Bbn", "alice", "s3cret"]));
    std::fs::write(dir.join("htpasswd"), htpasswd).expect("htpasswd");
    let port = free_port();
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: bpl\n    path: {}\n",
            dir.join("root").display(),
            crt.display(),
            key.display(),
            dir.join("htpasswd").display()
        ),
    )
    .expect("config");
    let reg = start_registry(
        d,
        &bin_dir().join("berth-registry").display().to_string(),
        &config,
        port,
    );
    let host = format!("127.0.0.1:{}", reg.port);
    (reg, host)
}
