//! A remote daemon over TCP with mutual TLS, as the docker documentation
//! sets one up: certificates made with openssl (a CA, a server certificate
//! for the server's address, a client certificate), the daemon listening
//! on `tcp://ADDR:2376 --tlsverify` on one end of a veth pair, and the
//! clients run from a network namespace of the test's own on the other
//! end, with `DOCKER_HOST=tcp://ADDR:2376 DOCKER_TLS_VERIFY=1` and the
//! client's files in `~/.docker`. Both the docker CLI 28 and berth must
//! reach the daemon, run a container through the TLS attach hijack, give
//! the same errors when refused, and share docker contexts both ways.
//!
//! Everything the test makes on the host is named `bcli*`; a guard deletes
//! the namespace and the links on every path.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use berth_e2e::{cmd, Cli, Daemon, Out};

// ---------------------------------------------------------------------------
// Network: a netns for the clients, a veth pair to the daemon's side.

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn ip(args: &[&str]) -> std::process::Output {
    Command::new("ip").args(args).output().expect("running ip")
}

fn ip_ok(args: &[&str]) {
    let o = ip(args);
    assert!(
        o.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The client's network namespace and the veth pair; deleted on drop.
struct Net {
    ns: String,
    /// The daemon's end (in the host, or in dockerd's netns).
    server_if: String,
    client_if: String,
    server_ip: String,
    client_ip: String,
    server_ns: RefCell<Option<String>>,
}

impl Net {
    /// Names and addresses, unique per process and test.
    fn plan() -> Net {
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
    fn create(&self, server_ns: Option<&str>) {
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

    fn host(&self) -> String {
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
fn assert_gone(ns: &str, server_if: &str) {
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

fn openssl(dir: &Path, args: &[&str]) {
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

fn make_ca(dir: &Path, name: &str, cn: &str) {
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

fn sign(dir: &Path, ca: &str, out: &str, cn: &str, ext: &str) {
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
fn make_certs(dir: &Path, server_ip: &str) {
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
fn cert_dir(certs: &Path, to: &Path, ca: Option<&str>, cert: Option<&str>, key: Option<&str>) {
    std::fs::create_dir_all(to).unwrap();
    for (src, dst) in [(ca, "ca.pem"), (cert, "cert.pem"), (key, "key.pem")] {
        if let Some(s) = src {
            std::fs::copy(certs.join(s), to.join(dst)).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// The setting of one test.

struct Remote {
    // Field order is drop order: the daemon stops before the network goes.
    d: Daemon,
    net: Net,
    /// openssl's output.
    certs: PathBuf,
    /// The client's `$HOME`, with `.docker/{ca,cert,key}.pem`.
    home: PathBuf,
}

fn setup() -> Remote {
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
    fn cli_in(&self, cli: Cli, env: &[(&str, &str)], args: &[&str], stdin: Option<&[u8]>) -> Out {
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
    fn tls(&self, cli: Cli, args: &[&str]) -> Out {
        let host = self.net.host();
        self.cli_in(
            cli,
            &[("DOCKER_HOST", &host), ("DOCKER_TLS_VERIFY", "1")],
            args,
            None,
        )
    }

    fn cert(&self, f: &str) -> String {
        self.certs.join(f).display().to_string()
    }

    /// The server's version as the unix socket reports it.
    fn server_version(&self) -> String {
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
fn normalized(err: &str) -> String {
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
fn same_failure(docker: &Out, berth: &Out, want: &str) {
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

// ---------------------------------------------------------------------------

#[test]
fn both_clients_reach_the_daemon_over_mutual_tls_from_another_netns() {
    let (ns, sif);
    {
        let r = setup();
        ns = r.net.ns.clone();
        sif = r.net.server_if.clone();
        let version = r.server_version();
        for cli in [Cli::Docker, Cli::Berth] {
            let o = r.tls(cli, &["version"]);
            o.ok().stdout_has("Server:").stdout_has(" Engine:");
            let o = r.tls(cli, &["version", "--format", "{{.Server.Version}}"]);
            o.ok().stdout_is(&version);
            // A container through the attach hijack inside TLS.
            r.tls(cli, &["run", "--rm", "busybox", "echo", "hi"])
                .ok()
                .stdout_is("hi\n");
        }
        let host = r.net.host();
        let env = [("DOCKER_HOST", host.as_str()), ("DOCKER_TLS_VERIFY", "1")];
        // stdin over the hijacked TLS stream, and its half-close.
        r.cli_in(
            Cli::Berth,
            &env,
            &["run", "--rm", "-i", "busybox", "cat"],
            Some(b"through tls\n"),
        )
        .ok()
        .stdout_is("through tls\n");
        // The exit code crosses too.
        r.tls(
            Cli::Berth,
            &["run", "--rm", "busybox", "sh", "-c", "exit 3"],
        )
        .code_is(3);
        // exec, detached container, over TLS.
        r.tls(
            Cli::Berth,
            &["run", "-d", "--name", "bcli-exec", "busybox", "sleep", "60"],
        )
        .ok();
        r.cli_in(
            Cli::Berth,
            &env,
            &["exec", "-i", "bcli-exec", "cat"],
            Some(b"exec in\n"),
        )
        .ok()
        .stdout_is("exec in\n");
        r.tls(Cli::Berth, &["rm", "-f", "bcli-exec"]).ok();

        // The global flags instead of the environment.
        let flags = |cli| {
            r.cli_in(
                cli,
                &[],
                &[
                    "-H",
                    &host,
                    "--tlsverify",
                    "--tlscacert",
                    &r.cert("ca.pem"),
                    "--tlscert",
                    &r.cert("client-cert.pem"),
                    "--tlskey",
                    &r.cert("client-key.pem"),
                    "version",
                    "--format",
                    "{{.Server.Version}}",
                ],
                None,
            )
        };
        flags(Cli::Docker).ok().stdout_is(&version);
        flags(Cli::Berth).ok().stdout_is(&version);
        // `--tls` alone encrypts without checking the server: a CA that
        // did not sign it is not consulted.
        for cli in [Cli::Docker, Cli::Berth] {
            r.cli_in(
                cli,
                &[],
                &[
                    "-H",
                    &host,
                    "--tls",
                    "--tlscacert",
                    &r.cert("other-ca.pem"),
                    "--tlscert",
                    &r.cert("client-cert.pem"),
                    "--tlskey",
                    &r.cert("client-key.pem"),
                    "version",
                    "--format",
                    "{{.Server.Version}}",
                ],
                None,
            )
            .ok()
            .stdout_is(&version);
        }
        // DOCKER_CERT_PATH instead of ~/.docker; EC client key in SEC1.
        let ec = r.d.tmp().join("ec");
        std::fs::create_dir_all(&ec).unwrap();
        std::fs::copy(r.certs.join("ca.pem"), ec.join("ca.pem")).unwrap();
        openssl(
            &ec,
            &[
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-out",
                "key.pem",
            ],
        );
        std::fs::write(ec.join("c.ext"), "extendedKeyUsage = clientAuth\n").unwrap();
        openssl(
            &ec,
            &[
                "req", "-subj", "/CN=ec", "-new", "-key", "key.pem", "-out", "c.csr",
            ],
        );
        openssl(
            &ec,
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                "c.csr",
                "-CA",
                &r.cert("ca.pem"),
                "-CAkey",
                &r.cert("ca-key.pem"),
                "-CAcreateserial",
                "-CAserial",
                "ca.srl",
                "-out",
                "cert.pem",
                "-extfile",
                "c.ext",
            ],
        );
        let ec_s = ec.display().to_string();
        for cli in [Cli::Docker, Cli::Berth] {
            r.cli_in(
                cli,
                &[
                    ("DOCKER_HOST", &host),
                    ("DOCKER_TLS_VERIFY", "1"),
                    ("DOCKER_CERT_PATH", &ec_s),
                ],
                &["version", "--format", "{{.Server.Version}}"],
                None,
            )
            .ok()
            .stdout_is(&version);
        }
    }
    assert_gone(&ns, &sif);
}

#[test]
fn refusals_read_as_the_docker_cli_prints_them() {
    let (ns, sif);
    {
        let r = setup();
        ns = r.net.ns.clone();
        sif = r.net.server_if.clone();
        let host = r.net.host();
        let run_both = |env: &[(&str, &str)], args: &[&str]| {
            (
                r.cli_in(Cli::Docker, env, args, None),
                r.cli_in(Cli::Berth, env, args, None),
            )
        };
        let dir = |name: &str, ca, cert, key| {
            let p = r.d.tmp().join(name);
            cert_dir(&r.certs, &p, ca, cert, key);
            p.display().to_string()
        };

        // No client certificate: the daemon refuses the handshake.
        let no_cert = dir("no-cert", Some("ca.pem"), None, None);
        let env = [
            ("DOCKER_HOST", host.as_str()),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", no_cert.as_str()),
        ];
        let (d, b) = run_both(&env, &["version", "--format", "{{.Server.Version}}"]);
        same_failure(&d, &b, "remote error: tls:");

        // A client certificate of another CA.
        let rogue = dir(
            "rogue",
            Some("ca.pem"),
            Some("rogue-cert.pem"),
            Some("rogue-key.pem"),
        );
        let env = [
            ("DOCKER_HOST", host.as_str()),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", rogue.as_str()),
        ];
        let (d, b) = run_both(&env, &["ps"]);
        same_failure(&d, &b, "remote error: tls:");

        // A server the client's CA did not sign.
        let other = dir(
            "other",
            Some("other-ca.pem"),
            Some("client-cert.pem"),
            Some("client-key.pem"),
        );
        let env = [
            ("DOCKER_HOST", host.as_str()),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", other.as_str()),
        ];
        let (d, b) = run_both(&env, &["ps"]);
        same_failure(
            &d,
            &b,
            "tls: failed to verify certificate: x509: certificate signed by unknown authority",
        );

        // No CA file at all: refused before connecting, the file named.
        let empty = dir("empty", None, None, None);
        let env = [
            ("DOCKER_HOST", host.as_str()),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", empty.as_str()),
        ];
        let (d, b) = run_both(&env, &["ps"]);
        same_failure(
            &d,
            &b,
            &format!(
                "Failed to initialize: unable to resolve docker endpoint: open {empty}/ca.pem: no such file or directory"
            ),
        );

        // Certificate and key swapped.
        let env = [("DOCKER_HOST", host.as_str())];
        let args = [
            "--tlsverify",
            "--tlscacert",
            &r.cert("ca.pem"),
            "--tlscert",
            &r.cert("client-key.pem"),
            "--tlskey",
            &r.cert("client-key.pem"),
            "ps",
        ];
        let (d, b) = run_both(&env, &args);
        same_failure(&d, &b, "PEM inputs may have been switched");

        // Plain HTTP to the TLS port: the daemon says so.
        let (d, b) = run_both(&[("DOCKER_HOST", host.as_str())], &["ps"]);
        same_failure(&d, &b, "Client sent an HTTP request to an HTTPS server.");

        // Nobody listens there.
        let closed = format!("tcp://{}:2377", r.net.server_ip);
        let env = [("DOCKER_HOST", closed.as_str()), ("DOCKER_TLS_VERIFY", "1")];
        let (d, b) = run_both(&env, &["ps"]);
        same_failure(
            &d,
            &b,
            &format!(
                "Cannot connect to the berth daemon at {closed}. Is the berth daemon running?"
            ),
        );

        // The daemon serves the good client all along.
        r.tls(Cli::Berth, &["ps", "-q"]).ok();
    }
    assert_gone(&ns, &sif);
}

#[test]
fn contexts_made_by_either_cli_work_in_the_other() {
    let (ns, sif);
    {
        let r = setup();
        ns = r.net.ns.clone();
        sif = r.net.server_if.clone();
        let version = r.server_version();
        let host = r.net.host();
        let cfg = r.home.join(".docker");
        // Keys of other tools must survive berth's writes.
        std::fs::write(
            cfg.join("config.json"),
            "{\"auths\":{},\"psFormat\":\"table {{.ID}}\",\"detachKeys\":\"ctrl-x,x\"}",
        )
        .unwrap();
        let spec = format!(
            "host={host},ca={},cert={},key={}",
            r.cert("ca.pem"),
            r.cert("client-cert.pem"),
            r.cert("client-key.pem")
        );
        let none: [(&str, &str); 0] = [];
        let cli = |c: Cli, args: &[&str]| r.cli_in(c, &none, args, None);

        let o = cli(
            Cli::Berth,
            &[
                "context",
                "create",
                "bcli-b",
                "--description",
                "made by berth",
                "--docker",
                &spec,
            ],
        );
        o.ok().stdout_is("bcli-b\n");
        assert_eq!(o.stderr, "Successfully created context \"bcli-b\"\n");
        cli(
            Cli::Docker,
            &["context", "create", "bcli-d", "--docker", &spec],
        )
        .ok();
        let skip = format!(
            "host={host},cert={},key={},skip-tls-verify=true",
            r.cert("client-cert.pem"),
            r.cert("client-key.pem")
        );
        cli(
            Cli::Berth,
            &["context", "create", "bcli-skip", "--docker", &skip],
        )
        .ok();

        // Each CLI uses the other's context.
        cli(
            Cli::Docker,
            &[
                "--context",
                "bcli-b",
                "version",
                "--format",
                "{{.Server.Version}}",
            ],
        )
        .ok()
        .stdout_is(&version);
        cli(
            Cli::Docker,
            &[
                "--context",
                "bcli-b",
                "run",
                "--rm",
                "busybox",
                "echo",
                "hi",
            ],
        )
        .ok()
        .stdout_is("hi\n");
        cli(
            Cli::Docker,
            &[
                "--context",
                "bcli-skip",
                "version",
                "--format",
                "{{.Server.Version}}",
            ],
        )
        .ok()
        .stdout_is(&version);
        cli(
            Cli::Berth,
            &[
                "--context",
                "bcli-d",
                "run",
                "--rm",
                "busybox",
                "echo",
                "hi",
            ],
        )
        .ok()
        .stdout_is("hi\n");
        cli(
            Cli::Berth,
            &[
                "-c",
                "bcli-skip",
                "version",
                "--format",
                "{{.Server.Version}} {{.Client.Context}}",
            ],
        )
        .ok()
        .stdout_is(&format!("{} bcli-skip\n", version.trim_end()));
        let o = r.cli_in(
            Cli::Berth,
            &[("DOCKER_CONTEXT", "bcli-d")],
            &["version", "--format", "{{.Client.Context}}"],
            None,
        );
        o.ok().stdout_is("bcli-d\n");

        // A copy (`--from`) keeps the endpoint and its TLS files.
        cli(
            Cli::Berth,
            &["context", "create", "bcli-copy", "--from", "bcli-d"],
        )
        .ok();
        cli(
            Cli::Docker,
            &[
                "--context",
                "bcli-copy",
                "version",
                "--format",
                "{{.Server.Version}}",
            ],
        )
        .ok()
        .stdout_is(&version);
        cli(Cli::Docker, &["context", "rm", "bcli-copy"])
            .ok()
            .stdout_is("bcli-copy\n");

        // The listing and the documents, byte for byte (with DOCKER_HOST
        // set, so the default context shows the same endpoint in both).
        let env = [("DOCKER_HOST", host.as_str())];
        for args in [
            &["context", "ls"][..],
            &["context", "ls", "-q"],
            &["context", "ls", "--format", "json"],
            &[
                "context",
                "ls",
                "--format",
                "{{.Name}}: {{.DockerEndpoint}} {{.Current}}",
            ],
            &["context", "inspect", "bcli-b", "bcli-d", "bcli-skip"],
            &[
                "context",
                "inspect",
                "--format",
                "{{.Name}} {{.Endpoints.docker.Host}}",
                "bcli-b",
            ],
            &["context", "show"],
            &["--context", "bcli-nope", "ps"],
            &["--context", "bcli-b", "-H", host.as_str(), "ps"],
            &["context", "use", "bcli-nope"],
            &["context", "create", "bcli-b", "--docker", "host=tcp://x:1"],
            &["context", "create", "bad name"],
            &["context", "create", "bcli-x", "--docker", "host=x,bogus=1"],
            &["context", "rm", "default"],
        ] {
            let d = r.cli_in(Cli::Docker, &env, args, None);
            let b = r.cli_in(Cli::Berth, &env, args, None);
            assert_eq!(
                (d.code, &d.stdout, &d.stderr),
                (b.code, &b.stdout, &b.stderr),
                "berth {args:?} differs from the docker CLI\n--- docker\n{d}\n--- berth\n{b}"
            );
        }

        // `context use` writes config.json; the other CLI follows it.
        let o = cli(Cli::Berth, &["context", "use", "bcli-d"]);
        o.ok().stdout_is("bcli-d\n");
        assert_eq!(o.stderr, "Current context is now \"bcli-d\"\n");
        cli(Cli::Docker, &["context", "show"])
            .ok()
            .stdout_is("bcli-d\n");
        cli(Cli::Docker, &["version", "--format", "{{.Server.Version}}"])
            .ok()
            .stdout_is(&version);
        let cfg_text = std::fs::read_to_string(cfg.join("config.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&cfg_text).unwrap();
        assert_eq!(v["currentContext"], "bcli-d");
        assert_eq!(v["psFormat"], "table {{.ID}}");
        assert_eq!(v["detachKeys"], "ctrl-x,x");
        cli(Cli::Docker, &["context", "use", "bcli-b"]).ok();
        cli(Cli::Berth, &["context", "show"])
            .ok()
            .stdout_is("bcli-b\n");
        cli(
            Cli::Berth,
            &["run", "--rm", "busybox", "echo", "via current"],
        )
        .ok()
        .stdout_is("via current\n");
        // The listing marks the current one, in both.
        let d = cli(
            Cli::Docker,
            &["context", "ls", "--format", "{{.Name}} {{.Current}}"],
        );
        let b = cli(
            Cli::Berth,
            &["context", "ls", "--format", "{{.Name}} {{.Current}}"],
        );
        assert_eq!(d.stdout, b.stdout);
        b.stdout_has("bcli-b true\n");

        // The context in use goes only with -f, which also forgets it.
        let o = cli(Cli::Berth, &["context", "rm", "bcli-b"]);
        o.fails()
            .stderr_has("context \"bcli-b\" is in use, set -f flag to force remove");
        cli(Cli::Berth, &["context", "rm", "-f", "bcli-b"])
            .ok()
            .stdout_is("bcli-b\n");
        cli(Cli::Docker, &["context", "show"])
            .ok()
            .stdout_is("default\n");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(cfg.join("config.json")).unwrap())
                .unwrap();
        assert!(v.get("currentContext").is_none());
        assert_eq!(v["psFormat"], "table {{.ID}}");
        let o = cli(Cli::Docker, &["context", "ls", "-q"]);
        o.ok().stdout_is("bcli-d\nbcli-skip\ndefault\n");
        // docker removes what berth made, and the reverse.
        cli(Cli::Docker, &["context", "rm", "bcli-skip"]).ok();
        cli(Cli::Berth, &["context", "rm", "bcli-d"]).ok();
        cli(Cli::Berth, &["context", "ls", "-q"])
            .ok()
            .stdout_is("default\n");
        let left: Vec<_> = std::fs::read_dir(cfg.join("contexts/meta"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "context metadata left: {left:?}");
    }
    assert_gone(&ns, &sif);
}
