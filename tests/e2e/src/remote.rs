//! A remote daemon over TCP with mutual TLS for the `remote*` tests, as
//! the docker documentation sets one up: certificates made with openssl (a
//! CA, a server certificate for the server's address, a client
//! certificate), the daemon listening on `tcp://ADDR:2376 --tlsverify` on
//! one end of a veth pair, and the clients run from a network namespace of
//! the test's own on the other end.
//!
//! Everything made on the host is named `bcli*`; a guard deletes the
//! namespace and the links on every path.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::{cmd, Cli, Daemon, Out};

// ---------------------------------------------------------------------------
// Network: a netns for the clients, a veth pair to the daemon's side.

pub static NEXT: AtomicUsize = AtomicUsize::new(0);

pub fn ip(args: &[&str]) -> std::process::Output {
    Command::new("ip").args(args).output().expect("running ip")
}

pub fn ip_ok(args: &[&str]) {
    let o = ip(args);
    assert!(
        o.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The client's network namespace and the veth pair; deleted on drop.
pub struct Net {
    pub ns: String,
    /// The daemon's end (in the host, or in dockerd's netns).
    pub server_if: String,
    pub client_if: String,
    pub server_ip: String,
    pub client_ip: String,
    pub server_ns: RefCell<Option<String>>,
}

impl Net {
    /// Names and addresses, unique per process and test.
    pub fn plan() -> Net {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let tag = format!("{}{n}", pid % 100_000);
        // 10.213.<x>.0/30: a link-local-sized subnet of the test's own.
        let x = (pid as usize * 7 + n * 31) % 250 + 1;
        Net {
            ns: format!("bcli-{tag}"),
            server_if: format!("bcli{tag}s"),
            client_if: format!("bcli{tag}c"),
            server_ip: format!("10.213.{x}.1"),
            client_ip: format!("10.213.{x}.2"),
            server_ns: RefCell::new(None),
        }
    }

    /// Makes the namespace and the pair; the daemon's end goes into
    /// `server_ns` when the daemon runs in one (dockerd in the harness).
    pub fn create(&self, server_ns: Option<&str>) {
        // Leftovers of a run that was killed with these very names.
        let _ = ip(&["netns", "del", &self.ns]);
        let _ = ip(&["link", "del", &self.server_if]);
        *self.server_ns.borrow_mut() = server_ns.map(str::to_string);
        ip_ok(&["netns", "add", &self.ns]);
        ip_ok(&["-n", &self.ns, "link", "set", "lo", "up"]);
        ip_ok(&[
            "link",
            "add",
            &self.server_if,
            "type",
            "veth",
            "peer",
            "name",
            &self.client_if,
        ]);
        ip_ok(&["link", "set", &self.client_if, "netns", &self.ns]);
        let client_addr = format!("{}/30", self.client_ip);
        ip_ok(&[
            "-n",
            &self.ns,
            "addr",
            "add",
            &client_addr,
            "dev",
            &self.client_if,
        ]);
        ip_ok(&["-n", &self.ns, "link", "set", &self.client_if, "up"]);
        let server_addr = format!("{}/30", self.server_ip);
        match server_ns {
            Some(sns) => {
                ip_ok(&["link", "set", &self.server_if, "netns", sns]);
                ip_ok(&[
                    "-n",
                    sns,
                    "addr",
                    "add",
                    &server_addr,
                    "dev",
                    &self.server_if,
                ]);
                ip_ok(&["-n", sns, "link", "set", &self.server_if, "up"]);
            }
            None => {
                ip_ok(&["addr", "add", &server_addr, "dev", &self.server_if]);
                ip_ok(&["link", "set", &self.server_if, "up"]);
            }
        }
    }

    pub fn host(&self) -> String {
        format!("tcp://{}:2376", self.server_ip)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting the namespace deletes the client end, and with it the pair.
        let _ = ip(&["netns", "del", &self.ns]);
        let _ = ip(&["link", "del", &self.server_if]);
        if let Some(sns) = self.server_ns.borrow().as_deref() {
            let _ = ip(&["-n", sns, "link", "del", &self.server_if]);
        }
    }
}

/// Nothing of `net` is left on the machine (checked after the guard ran).
pub fn assert_gone(ns: &str, server_if: &str) {
    let list = String::from_utf8_lossy(&ip(&["netns", "list"]).stdout).into_owned();
    assert!(
        !list.split_whitespace().any(|w| w == ns),
        "netns {ns} left behind"
    );
    assert!(
        !ip(&["link", "show", server_if]).status.success(),
        "link {server_if} left behind"
    );
}

// ---------------------------------------------------------------------------
// Certificates: docker's openssl recipe (2048-bit keys to keep it quick).

pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn make_ca(dir: &Path, name: &str, cn: &str) {
    openssl(dir, &["genrsa", "-out", &format!("{name}-key.pem"), "2048"]);
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-x509",
            "-days",
            "365",
            "-key",
            &format!("{name}-key.pem"),
            "-sha256",
            "-subj",
            &format!("/CN={cn}"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

pub fn sign(dir: &Path, ca: &str, out: &str, cn: &str, ext: &str) {
    openssl(dir, &["genrsa", "-out", &format!("{out}-key.pem"), "2048"]);
    std::fs::write(dir.join(format!("{out}.ext")), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-subj",
            &format!("/CN={cn}"),
            "-new",
            "-key",
            &format!("{out}-key.pem"),
            "-out",
            &format!("{out}.csr"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "365",
            "-sha256",
            "-in",
            &format!("{out}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}-key.pem"),
            "-CAcreateserial",
            "-out",
            &format!("{out}-cert.pem"),
            "-extfile",
            &format!("{out}.ext"),
        ],
    );
}

/// `ca`, `server` (for `server_ip`), `client`, and `other-ca` with a
/// client certificate of its own (`rogue`).
pub fn make_certs(dir: &Path, server_ip: &str) {
    make_ca(dir, "ca", "bcli test CA");
    sign(
        dir,
        "ca",
        "server",
        "bcli-server",
        &format!("subjectAltName = IP:{server_ip}\nextendedKeyUsage = serverAuth\n"),
    );
    sign(
        dir,
        "ca",
        "client",
        "client",
        "extendedKeyUsage = clientAuth\n",
    );
    make_ca(dir, "other-ca", "another CA");
    sign(
        dir,
        "other-ca",
        "rogue",
        "client",
        "extendedKeyUsage = clientAuth\n",
    );
}

/// A `~/.docker`-style directory with the given files as ca/cert/key.pem.
pub fn cert_dir(certs: &Path, to: &Path, ca: Option<&str>, cert: Option<&str>, key: Option<&str>) {
    std::fs::create_dir_all(to).unwrap();
    for (src, dst) in [(ca, "ca.pem"), (cert, "cert.pem"), (key, "key.pem")] {
        if let Some(s) = src {
            std::fs::copy(certs.join(s), to.join(dst)).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// The setting of one test.

pub struct Remote {
    // Field order is drop order: the daemon stops before the network goes.
    pub d: Daemon,
    pub net: Net,
    /// openssl's output.
    pub certs: PathBuf,
    /// The client's `$HOME`, with `.docker/{ca,cert,key}.pem`.
    pub home: PathBuf,
}

pub fn setup() -> Remote {
    let net = Net::plan();
    let scratch = tempfile::Builder::new()
        .prefix("bcli-certs")
        .tempdir()
        .unwrap();
    make_certs(scratch.path(), &net.server_ip);
    let s = |f: &str| scratch.path().join(f).display().to_string();
    let args = vec![
        "-H".to_string(),
        net.host(),
        "--tlsverify".into(),
        "--tlscacert".into(),
        s("ca.pem"),
        "--tlscert".into(),
        s("server-cert.pem"),
        "--tlskey".into(),
        s("server-key.pem"),
    ];
    let d = Daemon::start_with(&args, |ns| net.create(ns));
    // Keep the files with the daemon's scratch space (removed at teardown).
    let certs = d.tmp().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    for e in std::fs::read_dir(scratch.path()).unwrap().flatten() {
        std::fs::copy(e.path(), certs.join(e.file_name())).unwrap();
    }
    let home = d.tmp().join("home");
    cert_dir(
        &certs,
        &home.join(".docker"),
        Some("ca.pem"),
        Some("client-cert.pem"),
        Some("client-key.pem"),
    );
    assert!(
        Cli::Berth.path().exists(),
        "{} is missing: build the workspace's binaries first",
        Cli::Berth.path().display()
    );
    Remote {
        d,
        net,
        certs,
        home,
    }
}

impl Remote {
    /// Runs a client inside the client namespace with only the given
    /// DOCKER_* variables, `HOME` the test's.
    pub fn cli_in(
        &self,
        cli: Cli,
        env: &[(&str, &str)],
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Out {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.net.ns])
            .arg(cli.path())
            .args(args);
        for v in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_CONFIG",
            "DOCKER_TLS",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "DOCKER_API_VERSION",
        ] {
            c.env_remove(v);
        }
        c.env("HOME", &self.home)
            .env("DOCKER_CLI_HINTS", "false")
            .env("NO_COLOR", "1")
            .env(
                "PATH",
                "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            );
        for (k, v) in env {
            c.env(k, v);
        }
        let mut o = cmd::run(c, stdin.map(<[u8]>::to_vec), Duration::from_secs(120));
        o.target = format!("{} over TLS for test {}", self.d.flavor.name(), self.d.test);
        o.daemon_log = Some(self.d.log.clone());
        o
    }

    /// The seeds' setting: `DOCKER_HOST=tcp://ADDR:2376 DOCKER_TLS_VERIFY=1`.
    pub fn tls(&self, cli: Cli, args: &[&str]) -> Out {
        let host = self.net.host();
        self.cli_in(
            cli,
            &[("DOCKER_HOST", &host), ("DOCKER_TLS_VERIFY", "1")],
            args,
            None,
        )
    }

    pub fn cert(&self, f: &str) -> String {
        self.certs.join(f).display().to_string()
    }

    /// The server's version as the unix socket reports it.
    pub fn server_version(&self) -> String {
        let o = self
            .d
            .docker(&["version", "--format", "{{.Server.Version}}"]);
        o.ok();
        o.stdout.clone()
    }
}

/// stderr with the URL of `error during connect: Get "URL"` blanked (the
/// clients negotiate different API versions) and docker's name of the
/// daemon made berth's.
pub fn normalized(err: &str) -> String {
    let mut out = String::new();
    let mut rest = err;
    while let Some(i) = rest.find("\"https://") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('"') {
            Some(j) => {
                out.push_str("\"URL\"");
                rest = &after[j + 1..];
            }
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("Docker daemon", "berth daemon")
        .replace("docker daemon", "berth daemon")
}

/// Both clients fail the same way (exit code and words).
#[track_caller]
pub fn same_failure(docker: &Out, berth: &Out, want: &str) {
    docker.fails();
    berth.fails().stderr_has(want);
    assert_eq!(
        normalized(&docker.stderr),
        normalized(&berth.stderr),
        "the docker CLI and berth word the failure differently\n--- docker\n{docker}\n--- berth\n{berth}"
    );
    assert_eq!(
        docker.code, berth.code,
        "exit codes differ\n{docker}\n{berth}"
    );
}
