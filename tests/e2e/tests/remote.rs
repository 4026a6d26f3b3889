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

use berth_e2e::remote::{assert_gone, cert_dir, openssl, same_failure, setup, Remote};
use berth_e2e::Cli;

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
        streams_cross_the_hijacked_tls_stream(&r, &host);
        global_flags_instead_of_the_environment(&r, &host, &version);
        cert_path_with_an_ec_client_key(&r, &host, &version);
    }
    assert_gone(&ns, &sif);
}

/// stdin over the hijacked TLS stream and its half-close, the exit code,
/// and exec in a detached container.
fn streams_cross_the_hijacked_tls_stream(r: &Remote, host: &str) {
    let env = [("DOCKER_HOST", host), ("DOCKER_TLS_VERIFY", "1")];
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
}

/// The global flags instead of the environment; `--tls` alone encrypts
/// without checking the server.
fn global_flags_instead_of_the_environment(r: &Remote, host: &str, version: &str) {
    // The global flags instead of the environment.
    let flags = |cli| {
        r.cli_in(
            cli,
            &[],
            &[
                "-H",
                host,
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
    flags(Cli::Docker).ok().stdout_is(version);
    flags(Cli::Berth).ok().stdout_is(version);
    // `--tls` alone encrypts without checking the server: a CA that
    // did not sign it is not consulted.
    for cli in [Cli::Docker, Cli::Berth] {
        r.cli_in(
            cli,
            &[],
            &[
                "-H",
                host,
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
        .stdout_is(version);
    }
}

/// DOCKER_CERT_PATH instead of ~/.docker; EC client key in SEC1.
fn cert_path_with_an_ec_client_key(r: &Remote, host: &str, version: &str) {
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
                ("DOCKER_HOST", host),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", &ec_s),
            ],
            &["version", "--format", "{{.Server.Version}}"],
            None,
        )
        .ok()
        .stdout_is(version);
    }
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
