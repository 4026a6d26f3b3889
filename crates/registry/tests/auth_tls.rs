//! TLS, htpasswd and token auth against a real berth-registry, with curl;
//! and the tokens of berth-registry's token service checked by CNCF
//! distribution (`/usr/bin/docker-registry`, Debian's docker-registry).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A self-signed token-signing certificate and its PKCS#8 key.
fn token_key(dir: &Path, name: &str, rsa: bool) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let crt = dir.join(format!("{name}.crt"));
    let newkey: &[&str] = if rsa {
        &["-newkey", "rsa:2048"]
    } else {
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    };
    let mut args = vec![
        "req",
        "-x509",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=breg token signer",
    ];
    args.extend_from_slice(newkey);
    args.push("-keyout");
    let mut c = Command::new("openssl");
    c.args(&args).arg(&key).arg("-out").arg(&crt);
    let (ok, _, err) = run(&mut c);
    assert!(ok, "{err}");
    (crt, key)
}

#[test]
fn htpasswd_over_tls_from_the_environment() {
    let dir = Scratch::new("auth-basic");
    let (ca, crt, key) = make_certs(&dir.0);
    let users = dir.path("htpasswd");
    make_htpasswd(&users, "alice", "s3cret");
    let (c, k, u) = (
        crt.display().to_string(),
        key.display().to_string(),
        users.display().to_string(),
    );
    let s = Server::start_with(
        &dir.0,
        "",
        &[
            ("REGISTRY_AUTH", "htpasswd"),
            ("REGISTRY_AUTH_HTPASSWD_REALM", "breg realm"),
            ("REGISTRY_AUTH_HTPASSWD_PATH", &u),
            ("REGISTRY_HTTP_TLS_CERTIFICATE", &c),
            ("REGISTRY_HTTP_TLS_KEY", &k),
        ],
        "https",
    );
    let cacert = ca.display().to_string();
    let r = curl("GET", &s.url("/v2/"), &["--cacert", &cacert], None);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"breg realm\"")
    );
    assert_eq!(r.code(), "UNAUTHORIZED");
    let r = curl(
        "GET",
        &s.url("/v2/"),
        &["--cacert", &cacert, "-u", "alice:wrong"],
        None,
    );
    assert_eq!(r.status, 401);
    let r = curl(
        "GET",
        &s.url("/v2/"),
        &["--cacert", &cacert, "-u", "mallory:s3cret"],
        None,
    );
    assert_eq!(r.status, 401);
    let r = curl("GET", &s.url("/v2/_catalog"), &["--cacert", &cacert], None);
    assert_eq!(r.status, 401);
    let r = curl(
        "GET",
        &s.url("/v2/"),
        &["--cacert", &cacert, "-u", "alice:s3cret"],
        None,
    );
    assert_eq!(r.status, 200);
    let d = push_blob(
        &s,
        "team/app",
        b"data",
        &["--cacert", &cacert, "-u", "alice:s3cret"],
    );
    let r = curl(
        "GET",
        &s.url(&format!("/v2/team/app/blobs/{d}")),
        &["--cacert", &cacert],
        None,
    );
    assert_eq!(r.status, 401);
    // Without the CA the certificate is refused; plain HTTP gets nowhere.
    assert!(try_curl("GET", &s.url("/v2/"), &[], None).is_err());
    let plain = try_curl(
        "GET",
        &format!("http://127.0.0.1:{}/v2/", s.port),
        &["--max-time", "5"],
        None,
    );
    assert!(plain.map(|r| r.status != 200).unwrap_or(true));
}

#[test]
fn client_cas_require_a_client_certificate() {
    let dir = Scratch::new("auth-mtls");
    let (ca, crt, key) = make_certs(&dir.0);
    // A client certificate from the same CA.
    let (ck, csr, cc, ext) = (
        dir.path("client.key"),
        dir.path("client.csr"),
        dir.path("client.crt"),
        dir.path("cext.cnf"),
    );
    std::fs::write(&ext, "extendedKeyUsage=clientAuth\n").expect("ext");
    let mut c = Command::new("openssl");
    c.args([
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=client",
        "-keyout",
    ])
    .arg(&ck)
    .arg("-out")
    .arg(&csr);
    assert!(run(&mut c).0);
    let mut c = Command::new("openssl");
    c.args(["x509", "-req", "-days", "2", "-CAcreateserial", "-in"])
        .arg(&csr)
        .arg("-CA")
        .arg(&ca)
        .arg("-CAkey")
        .arg(dir.path("ca.key"))
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&cc);
    assert!(run(&mut c).0);
    let extra = format!(
        "  tls:\n    certificate: {}\n    key: {}\n    clientcas:\n      - {}\n",
        crt.display(),
        key.display(),
        ca.display()
    );
    let s = Server::start_with(&dir.0, &extra, &[], "https");
    let cacert = ca.display().to_string();
    assert!(
        try_curl("GET", &s.url("/v2/"), &["--cacert", &cacert], None).is_err(),
        "no client certificate"
    );
    let (ccs, cks) = (cc.display().to_string(), ck.display().to_string());
    let r = curl(
        "GET",
        &s.url("/v2/"),
        &["--cacert", &cacert, "--cert", &ccs, "--key", &cks],
        None,
    );
    assert_eq!(r.status, 200);
}

fn token_config(realm: &str, crt: &Path, key: &Path, users: &Path) -> String {
    format!(
        "auth:\n  token:\n    realm: {realm}\n    service: breg-service\n    issuer: breg-issuer\n    rootcertbundle: {}\n    signingkey: {}\n    htpasswd: {}\n",
        crt.display(),
        key.display(),
        users.display()
    )
}

fn get_token(s: &Server, user: &str, scope: &str) -> Resp {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("service", "breg-service")
        .append_pair("scope", scope)
        .finish();
    curl(
        "GET",
        &s.url(&format!("/auth/token?{q}")),
        &["-u", user],
        None,
    )
}

#[test]
fn token_auth_checks_scopes_signatures_and_issuers() {
    let dir = Scratch::new("auth-token");
    let users = dir.path("htpasswd");
    make_htpasswd(&users, "alice", "s3cret");
    let (crt, key) = token_key(&dir.0, "signer", false);
    // The realm is this registry's own token endpoint: the port is known
    // only once started, so start, rewrite, restart.
    let mut s = Server::start(
        &dir.0,
        &token_config("http://placeholder/auth/token", &crt, &key, &users),
    );
    let realm = s.url("/auth/token");
    s.kill9();
    let text = std::fs::read_to_string(&s.config)
        .expect("config")
        .replace("http://placeholder/auth/token", &realm);
    std::fs::write(&s.config, text).expect("config");
    s.spawn();

    let r = curl("GET", &s.url("/v2/"), &[], None);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some(format!("Bearer realm=\"{realm}\",service=\"breg-service\"").as_str())
    );
    let r = curl("POST", &s.url("/v2/team/a/blobs/uploads/"), &[], None);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some(format!("Bearer realm=\"{realm}\",service=\"breg-service\",scope=\"repository:team/a:pull,push\"").as_str())
    );
    assert_eq!(r.code(), "UNAUTHORIZED");

    assert_eq!(
        get_token(&s, "alice:wrong", "repository:team/a:pull").status,
        401
    );
    let t = get_token(&s, "alice:s3cret", "repository:team/a:pull,push");
    assert_eq!(t.status, 200, "{}", t.text());
    let token = t.json()["token"].as_str().expect("token").to_string();
    assert_eq!(t.json()["access_token"].as_str(), Some(token.as_str()));
    let bearer = format!("Authorization: Bearer {token}");

    let d = push_blob(&s, "team/a", b"data", &["-H", &bearer]);
    assert_eq!(
        curl(
            "GET",
            &s.url(&format!("/v2/team/a/blobs/{d}")),
            &["-H", &bearer],
            None
        )
        .body,
        b"data"
    );
    assert_eq!(
        curl("GET", &s.url("/v2/"), &["-H", &bearer], None).status,
        200
    );
    // Another repository: refused, with a challenge for the right scope.
    let r = curl(
        "GET",
        &s.url(&format!("/v2/team/b/blobs/{d}")),
        &["-H", &bearer],
        None,
    );
    assert_eq!(r.status, 401);
    let ch = r.header("WWW-Authenticate").unwrap_or("").to_string();
    assert!(
        ch.contains("scope=\"repository:team/b:pull\"")
            && ch.contains("error=\"insufficient_scope\""),
        "{ch}"
    );
    // More than granted: delete, the catalog, a mount from elsewhere.
    assert_eq!(
        curl(
            "DELETE",
            &s.url(&format!("/v2/team/a/blobs/{d}")),
            &["-H", &bearer],
            None
        )
        .status,
        401
    );
    assert_eq!(
        curl("GET", &s.url("/v2/_catalog"), &["-H", &bearer], None).status,
        401
    );
    let r = curl(
        "POST",
        &s.url(&format!("/v2/team/a/blobs/uploads/?mount={d}&from=team/b")),
        &["-H", &bearer],
        None,
    );
    assert_eq!(r.status, 401);
    // A pull-only token cannot push.
    let pull = get_token(&s, "alice:s3cret", "repository:team/a:pull").json()["token"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let r = curl(
        "POST",
        &s.url("/v2/team/a/blobs/uploads/"),
        &["-H", &format!("Authorization: Bearer {pull}")],
        None,
    );
    assert_eq!(r.status, 401);
    // A tampered token, and garbage.
    refuses_bad_tokens(&s, &token);
    // A token from another issuer (its own RSA key, not in our bundle).
    refuses_another_issuers_token(&s, &users, &d);
}

/// A tampered token, a malformed one and basic credentials get 401s.
fn refuses_bad_tokens(s: &Server, token: &str) {
    let mut bad = token.as_bytes().to_vec();
    let i = bad.len() - 5;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).expect("utf8");
    let r = curl(
        "GET",
        &s.url("/v2/"),
        &["-H", &format!("Authorization: Bearer {bad}")],
        None,
    );
    assert_eq!(r.status, 401);
    assert!(r
        .header("WWW-Authenticate")
        .unwrap_or("")
        .contains("invalid_token"));
    assert_eq!(
        curl(
            "GET",
            &s.url("/v2/"),
            &["-H", "Authorization: Bearer a.b.c"],
            None
        )
        .status,
        401
    );
    assert_eq!(
        curl("GET", &s.url("/v2/"), &["-u", "alice:s3cret"], None).status,
        401
    );
}

/// A token signed by another issuer's key (RSA, not in `s`'s bundle) is
/// refused by `s`, though its own registry takes it; `d` is a blob in
/// `team/a` on `s`.
fn refuses_another_issuers_token(s: &Server, users: &Path, d: &str) {
    let dir2 = Scratch::new("auth-token2");
    let (crt2, key2) = token_key(&dir2.0, "other", true);
    let s2 = Server::start(
        &dir2.0,
        &token_config("http://x/auth/token", &crt2, &key2, users),
    );
    let t2 = get_token(&s2, "alice:s3cret", "repository:team/a:pull,push");
    assert_eq!(t2.status, 200, "{}", t2.text());
    let other = format!(
        "Authorization: Bearer {}",
        t2.json()["token"].as_str().unwrap_or("")
    );
    assert_eq!(
        curl(
            "GET",
            &s2.url("/v2/team/a/tags/list"),
            &["-H", &other],
            None
        )
        .code(),
        "NAME_UNKNOWN",
        "RS256 works on its own registry"
    );
    assert_eq!(
        curl(
            "GET",
            &s.url(&format!("/v2/team/a/blobs/{d}")),
            &["-H", &other],
            None
        )
        .status,
        401
    );
}

struct Cncf {
    child: Child,
}

impl Drop for Cncf {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn cncf_distribution_accepts_berth_tokens() {
    assert!(
        Path::new("/usr/bin/docker-registry").exists(),
        "install docker-registry (.ci/run does)"
    );
    for rsa in [false, true] {
        let dir = Scratch::new(if rsa { "auth-cncf-rsa" } else { "auth-cncf-ec" });
        let users = dir.path("htpasswd");
        make_htpasswd(&users, "alice", "s3cret");
        let (crt, key) = token_key(&dir.0, "signer", rsa);
        let s = Server::start(
            &dir.0,
            &token_config("http://x/auth/token", &crt, &key, &users),
        );
        let port = free_port();
        let cfg = dir.path("cncf.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  token:\n    realm: {}\n    service: breg-service\n    issuer: breg-issuer\n    rootcertbundle: {}\n",
                dir.path("cncf-root").display(),
                s.url("/auth/token"),
                crt.display()
            ),
        )
        .expect("config");
        let log = std::fs::File::create(dir.path("cncf.log")).expect("log");
        let _cncf = Cncf {
            child: Command::new("/usr/bin/docker-registry")
                .arg("serve")
                .arg(&cfg)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("docker-registry"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let base = format!("http://127.0.0.1:{port}");
        let r = curl("GET", &format!("{base}/v2/team/a/tags/list"), &[], None);
        assert_eq!(r.status, 401);
        let t = get_token(&s, "alice:s3cret", "repository:team/a:pull,push");
        let bearer = format!(
            "Authorization: Bearer {}",
            t.json()["token"].as_str().unwrap_or("")
        );
        let r = curl(
            "GET",
            &format!("{base}/v2/team/a/tags/list"),
            &["-H", &bearer],
            None,
        );
        assert_eq!(
            (r.status, r.code().as_str()),
            (404, "NAME_UNKNOWN"),
            "rsa={rsa}: {} {}",
            r.text(),
            std::fs::read_to_string(dir.path("cncf.log")).unwrap_or_default()
        );
        let d = sha256(b"via cncf");
        let r = curl(
            "POST",
            &format!("{base}/v2/team/a/blobs/uploads/?digest={d}"),
            &["-H", &bearer],
            Some(b"via cncf"),
        );
        // distribution 2.8 answers a monolithic POST with an upload (202):
        // authorized either way.
        assert_eq!(r.status, 202, "{}", r.text());
        let r = curl(
            "GET",
            &format!("{base}/v2/team/b/tags/list"),
            &["-H", &bearer],
            None,
        );
        assert_eq!(r.status, 401, "a token for team/a does not open team/b");
    }
}

#[test]
fn minimum_tls_version_is_enforced() {
    let dir = Scratch::new("auth-tls13");
    let (ca, crt, key) = make_certs(&dir.0);
    let cacert = ca.display().to_string();
    let tls = format!(
        "  tls:\n    certificate: {}\n    key: {}\n",
        crt.display(),
        key.display()
    );
    let s = Server::start_with(&dir.0, &tls, &[], "https");
    let r = curl(
        "GET",
        &s.url("/v2/"),
        &["--cacert", &cacert, "--tls-max", "1.2"],
        None,
    );
    assert_eq!(r.status, 200, "TLS 1.2 by default");
    drop(s);
    let dir2 = Scratch::new("auth-tls13b");
    let s = Server::start_with(
        &dir2.0,
        &format!("{tls}    minimumtls: tls1.3\n"),
        &[],
        "https",
    );
    assert!(try_curl(
        "GET",
        &s.url("/v2/"),
        &["--cacert", &cacert, "--tls-max", "1.2"],
        None
    )
    .is_err());
    let r = curl("GET", &s.url("/v2/"), &["--cacert", &cacert], None);
    assert_eq!(r.status, 200);
}
