//! Registry authentication and trust with the docker CLI: token auth
//! (berth-registry and CNCF distribution), `certs.d` CAs and client
//! certificates. Registries run where the daemon's loopback is: on the
//! host for berthd, in the harness's netns for dockerd
//! (`BERTH_E2E_DAEMON=dockerd`). Everything the tests make is under the
//! daemon's tmp dir (prefix `bpl`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_e2e::registry::{
    free_port, in_daemon_net, make_certs, make_certs_for, ok, start_registry, Registry,
};
use berth_e2e::{bin_dir, Daemon};

/// An EC key and self-signed certificate for signing tokens.
fn token_keys(dir: &Path) -> (PathBuf, PathBuf) {
    let (crt, key) = (dir.join("token.crt"), dir.join("token.key"));
    ok(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=bpl token",
        ])
        .args([
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&crt));
    (crt, key)
}

/// Token auth end to end: berth-registry's own token service, and CNCF
/// distribution trusting that service's tokens. Login (a wrong password
/// refused), push (a cross-repository mount needs pull on the source in
/// the token), pull, and no access once logged out.
#[test]
fn token_auth_berth_registry_and_cncf() {
    let d = Daemon::start();
    let dir = d.tmp().join("bpl-tok");
    std::fs::create_dir_all(&dir).expect("dir");
    let (crt, key) = make_certs(&dir);
    let (tcrt, tkey) = token_keys(&dir);
    let htpasswd = ok(Command::new("htpasswd").args(["-Bbn", "alice", "s3cret"]));
    std::fs::write(dir.join("htpasswd"), htpasswd).expect("htpasswd");
    let tport = free_port();
    let realm = format!("https://127.0.0.1:{tport}/auth/token");
    let auth = format!(
        "auth:\n  token:\n    realm: {realm}\n    service: bpl-service\n    issuer: bpl-issuer\n    rootcertbundle: {}\n",
        tcrt.display()
    );
    let bconfig = dir.join("berth.yml");
    std::fs::write(
        &bconfig,
        format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{tport}\n  tls:\n    certificate: {}\n    key: {}\n{auth}    signingkey: {}\n    htpasswd: {}\n",
            dir.join("broot").display(),
            crt.display(),
            key.display(),
            tkey.display(),
            dir.join("htpasswd").display()
        ),
    )
    .expect("config");
    let breg = start_registry(
        &d,
        &bin_dir().join("berth-registry").display().to_string(),
        &bconfig,
        tport,
    );
    let cport = free_port();
    let cconfig = dir.join("cncf.yml");
    std::fs::write(
        &cconfig,
        format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{cport}\n{auth}",
            dir.join("croot").display()
        ),
    )
    .expect("config");
    let creg = start_registry(&d, "/usr/bin/docker-registry", &cconfig, cport);
    let bhost = format!("127.0.0.1:{tport}");
    let chost = format!("127.0.0.1:{cport}");
    // The challenge names the realm and service; the token service
    // answers only a good password.
    let h = ok(in_daemon_net(&d, "curl")
        .args(["-sk", "-D", "-", "-o", "/dev/null"])
        .arg(format!("https://{bhost}/v2/")));
    assert!(
        h.contains(&format!("realm=\"{realm}\",service=\"bpl-service\"")),
        "{h}"
    );
    d.docker(&["login", "-u", "alice", "-p", "wrong", &bhost])
        .fails()
        .stderr_has("unauthorized");
    for host in [&bhost, &chost] {
        d.docker_stdin(
            &["login", "-u", "alice", "--password-stdin", host],
            b"s3cret\n",
        )
        .ok()
        .stdout_has("Login Succeeded");
        let a = format!("{host}/bpl/a:1");
        let b = format!("{host}/bpl/b:1");
        d.docker(&["tag", "busybox", &a]).ok();
        d.docker(&["push", &a])
            .ok()
            .stdout_has("1: digest: sha256:");
        d.docker(&["tag", &a, &b]).ok();
        d.docker(&["push", &b])
            .ok()
            .stdout_has("Mounted from bpl/a");
        d.docker(&["rmi", &a, &b]).ok();
        d.docker(&["pull", &b])
            .ok()
            .stdout_has(&format!("Status: Downloaded newer image for {b}"));
        d.docker(&["rmi", &b]).ok();
        if host == &bhost {
            // Search sends the login's Basic credentials, which the
            // built-in token service's users may use.
            d.docker(&["search", "--format", "{{.Name}}", &format!("{host}/bpl")])
                .ok()
                .stdout_is("bpl/a\nbpl/b\n");
        }
        d.docker(&["logout", host]).ok();
        d.docker(&["pull", &b]).fails();
    }
    d.docker(&["search", &format!("{bhost}/bpl")])
        .fails()
        .stderr_has("Unexpected status code 401");
    // The token requests carried the push scope of the target and the
    // pull scope of the mount's source.
    let log = std::fs::read_to_string(bconfig.with_extension("log")).unwrap_or_default();
    assert!(log.contains("/auth/token"), "{log}");
    drop((breg, creg));
}

/// A registry on another host (a test netns, so not the insecure
/// loopback): its CA is trusted only once it is in the daemon's certs
/// dir (`--registry-certs-dir`, per test, never the machine's
/// /etc/docker/certs.d), and a registry asking for client certificates
/// gets `client.cert`/`client.key` from there. berthd only: dockerd's
/// certs dir is fixed at /etc/docker/certs.d.
#[test]
fn certs_d_trust_and_client_certificates() {
    if berth_e2e::Flavor::from_env() == berth_e2e::Flavor::Dockerd {
        eprintln!("dockerd reads only /etc/docker/certs.d, which tests must not touch: skipped");
        return;
    }
    let certs = std::env::temp_dir().join(format!("bpl-certs-{}", std::process::id()));
    struct Rm(PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _rm = Rm(certs.clone());
    std::fs::create_dir_all(&certs).expect("certs dir");
    let d = Daemon::start_with(
        &["--registry-certs-dir".into(), certs.display().to_string()],
        |_| {},
    );
    let host = d.test_host(1);
    let dir = d.tmp().join("bpl-certs");
    std::fs::create_dir_all(&dir).expect("dir");
    let (crt, key) = make_certs_for(&dir, &host.addr);
    // A client certificate signed by the same CA.
    let p = |n: &str| dir.join(n);
    std::fs::write(p("client.cnf"), "extendedKeyUsage=clientAuth\n").expect("cnf");
    ok(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-subj", "/CN=bpl client", "-keyout"])
        .arg(p("client.key"))
        .arg("-out")
        .arg(p("client.csr")));
    ok(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial", "-in"])
        .arg(p("client.csr"))
        .args(["-CA"])
        .arg(p("ca.crt"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("client.cnf"))
        .arg("-out")
        .arg(p("client.cert")));
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {}:5000\n  tls:\n    certificate: {}\n    key: {}\n    clientcas:\n      - {}\n",
            dir.join("root").display(),
            host.addr,
            crt.display(),
            key.display(),
            p("ca.crt").display()
        ),
    )
    .expect("config");
    let log = std::fs::File::create(config.with_extension("log")).expect("log");
    let child = Command::new("ip")
        .args(["netns", "exec", &host.name])
        .arg(bin_dir().join("berth-registry"))
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("registry");
    let _reg = Registry { child, port: 5000 };
    let reg = format!("{}:5000", host.addr);
    berth_e2e::wait_for(Duration::from_secs(20), || {
        let o = host.sh(&format!(
            "curl -s --cacert {} --cert {} --key {} -o /dev/null -w '%{{http_code}}' https://{reg}/v2/ || true",
            p("ca.crt").display(),
            p("client.cert").display(),
            p("client.key").display()
        ));
        (o.stdout != "000").then_some(())
    })
    .expect("registry up");
    let image = format!("{reg}/bpl/tls:1");
    d.docker(&["tag", "busybox", &image]).ok();
    // Not trusted yet: not loopback, so verified.
    d.docker(&["push", &image])
        .fails()
        .stderr_has("certificate");
    // The CA, but no client certificate: the registry refuses.
    let hd = certs.join(&reg);
    std::fs::create_dir_all(&hd).expect("host dir");
    std::fs::copy(p("ca.crt"), hd.join("ca.crt")).expect("ca");
    d.docker(&["push", &image]).fails();
    // A key without its certificate is a clear error.
    std::fs::copy(p("client.key"), hd.join("client.key")).expect("key");
    d.docker(&["push", &image])
        .fails()
        .stderr_has("missing client certificate");
    std::fs::copy(p("client.cert"), hd.join("client.cert")).expect("cert");
    d.docker(&["push", &image])
        .ok()
        .stdout_has("1: digest: sha256:");
    d.docker(&["rmi", &image]).ok();
    d.docker(&["pull", &image])
        .ok()
        .stdout_has(&format!("Status: Downloaded newer image for {image}"));
}
