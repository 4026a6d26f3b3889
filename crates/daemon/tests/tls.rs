//! berthd's `tcp://` listeners with TLS: certificates made by the real
//! `openssl` CLI with Docker's documented recipe, a listener built from
//! `tls::server_config` + `tls::serve_tcp` (the same functions berthd uses),
//! and real clients (rustls through tokio-rustls, and curl).
//!
//! berthd is a binary crate, so its modules are compiled in here by path.

#[path = "../src/config.rs"]
#[allow(dead_code)]
mod config;
#[path = "../src/server.rs"]
#[allow(dead_code)]
mod server;
#[path = "../src/tls.rs"]
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use config::TlsSettings;

// ---------------------------------------------------------------------------
// Certificates: generated once per test run with openssl, kept in memory
// (the scratch directory is removed at once); each test writes the files it
// needs into its own temporary directory.

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

/// A CSR for `key` signed by `ca` with the extensions in `ext`.
fn sign(dir: &Path, ca: &str, key: &str, cn: &str, ext: &str, out: &str) {
    let csr = format!("{out}.csr");
    let extfile = format!("{out}.ext");
    std::fs::write(dir.join(&extfile), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-subj",
            &format!("/CN={cn}"),
            "-new",
            "-key",
            key,
            "-out",
            &csr,
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
            &csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}-key.pem"),
            "-CAcreateserial",
            "-out",
            out,
            "-extfile",
            &extfile,
        ],
    );
}

const SERVER_EXT: &str =
    "subjectAltName = IP:127.0.0.1,DNS:localhost\nextendedKeyUsage = serverAuth\n";
const CLIENT_EXT: &str = "extendedKeyUsage = clientAuth\n";

fn generate() -> HashMap<String, Vec<u8>> {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // The CA (Docker's recipe, with 2048-bit keys to keep the test fast).
    openssl(d, &["genrsa", "-out", "ca-key.pem", "2048"]);
    self_signed_ca(d, "ca-key.pem", "berth test CA", "ca.pem");
    server_certs(d);
    client_certs(d);
    expired_client(d);
    let mut files = HashMap::new();
    for e in std::fs::read_dir(d).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".pem") {
            files.insert(name, std::fs::read(e.path()).unwrap());
        }
    }
    files
}

fn self_signed_ca(d: &Path, key: &str, cn: &str, out: &str) {
    let subj = format!("/CN={cn}");
    let args = [
        "req", "-new", "-x509", "-days", "365", "-key", key, "-sha256",
    ];
    openssl(d, &[&args[..], &["-subj", &subj, "-out", out]].concat());
}

/// A P-256 key in SEC1 form ("BEGIN EC PRIVATE KEY"), after an EC
/// PARAMETERS block unless `bare`.
fn ec_key(d: &Path, out: &str, bare: bool) {
    let mut args = vec!["ecparam", "-genkey", "-name", "prime256v1"];
    if bare {
        args.push("-noout");
    }
    args.extend(["-out", out]);
    openssl(d, &args);
}

/// Server certificates for a key in each form a daemon may be given.
fn server_certs(d: &Path) {
    // RSA key in PKCS#1 ("BEGIN RSA PRIVATE KEY").
    openssl(
        d,
        &["genrsa", "-traditional", "-out", "server-key.pem", "2048"],
    );
    sign(
        d,
        "ca",
        "server-key.pem",
        "localhost",
        SERVER_EXT,
        "server-cert.pem",
    );
    // EC P-256 key in PKCS#8 ("BEGIN PRIVATE KEY").
    let ec = [
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
    ];
    openssl(d, &[&ec[..], &["-out", "server-ec-key.pem"]].concat());
    let (key, cert) = ("server-ec-key.pem", "server-ec-cert.pem");
    sign(d, "ca", key, "localhost", SERVER_EXT, cert);
    // EC key in SEC1, after EC PARAMETERS.
    ec_key(d, "server-sec1-key.pem", false);
    let (key, cert) = ("server-sec1-key.pem", "server-sec1-cert.pem");
    sign(d, "ca", key, "localhost", SERVER_EXT, cert);
}

/// Client certificates of the CA (RSA and EC), and one of another CA.
fn client_certs(d: &Path) {
    // RSA key in PKCS#8, clientAuth.
    openssl(d, &["genrsa", "-out", "key.pem", "2048"]);
    sign(d, "ca", "key.pem", "client", CLIENT_EXT, "cert.pem");
    // EC key, clientAuth.
    ec_key(d, "ec-key.pem", true);
    sign(
        d,
        "ca",
        "ec-key.pem",
        "ec-client",
        CLIENT_EXT,
        "ec-cert.pem",
    );
    // A client of another CA.
    openssl(d, &["genrsa", "-out", "other-ca-key.pem", "2048"]);
    self_signed_ca(d, "other-ca-key.pem", "another CA", "other-ca.pem");
    ec_key(d, "other-key.pem", true);
    let (key, cert) = ("other-key.pem", "other-cert.pem");
    sign(d, "other-ca", key, "client", CLIENT_EXT, cert);
}

/// An expired client certificate from the right CA: `openssl ca` takes
/// explicit dates.
fn expired_client(d: &Path) {
    ec_key(d, "expired-key.pem", true);
    let csr = [
        "req",
        "-subj",
        "/CN=expired",
        "-new",
        "-key",
        "expired-key.pem",
    ];
    openssl(d, &[&csr[..], &["-out", "expired.csr"]].concat());
    std::fs::create_dir(d.join("newcerts")).unwrap();
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("serial"), "1000\n").unwrap();
    std::fs::write(
        d.join("ca.cnf"),
        format!(
            "[ca]\ndefault_ca = ca_default\n[ca_default]\ndir = {}\ndatabase = $dir/index.txt\n\
             new_certs_dir = $dir/newcerts\nserial = $dir/serial\ndefault_md = sha256\n\
             policy = policy_any\n[policy_any]\ncommonName = supplied\n[client]\n{CLIENT_EXT}",
            d.display()
        ),
    )
    .unwrap();
    let ca = [
        "ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.pem",
    ];
    let input = [
        "-keyfile",
        "ca-key.pem",
        "-in",
        "expired.csr",
        "-out",
        "expired-cert.pem",
    ];
    let dates = [
        "-startdate",
        "20200101000000Z",
        "-enddate",
        "20200201000000Z",
    ];
    openssl(
        d,
        &[&ca[..], &input, &dates, &["-extensions", "client"]].concat(),
    );
}

fn pem(name: &str) -> &'static [u8] {
    static CERTS: OnceLock<HashMap<String, Vec<u8>>> = OnceLock::new();
    CERTS
        .get_or_init(generate)
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
}

/// A per-test directory holding the named PEM files.
struct Files(tempfile::TempDir);

impl Files {
    fn new(names: &[&str]) -> Files {
        let dir = tempfile::tempdir().unwrap();
        for n in names {
            std::fs::write(dir.path().join(n), pem(n)).unwrap();
        }
        Files(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    fn str(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

// ---------------------------------------------------------------------------
// The server under test.

fn settings(f: &Files, verify: bool, cert: &str, key: &str) -> TlsSettings {
    TlsSettings {
        verify_clients: verify,
        ca: verify.then(|| f.path("ca.pem")),
        cert: f.path(cert),
        key: f.path(key),
    }
}

/// Echoes the hijacked stream back, as attach does with stdin/stdout.
async fn hijack(mut req: Request) -> Response<Body> {
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(up) = upgrade.await else { return };
        let mut io = TokioIo::new(up);
        let mut buf = [0u8; 1024];
        while let Ok(n) = io.read(&mut buf).await {
            if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(Body::empty())
        .unwrap()
}

async fn start(tls: Option<&TlsSettings>) -> SocketAddr {
    let config = tls.map(|s| tls::server_config(s).unwrap());
    let listener = tls::bind_tcp("tcp://127.0.0.1:0", config.is_some())
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/_ping", get(|| async { "OK" }))
        .route("/hijack", post(hijack));
    tokio::spawn(tls::serve_tcp(listener, config, router));
    addr
}

// ---------------------------------------------------------------------------
// Clients.

fn client(cert_key: Option<(&str, &str)>, tls12_only: bool) -> Arc<ClientConfig> {
    tls::install_crypto_provider();
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pem("ca.pem")).unwrap())
        .unwrap();
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let b = ClientConfig::builder_with_protocol_versions(versions).with_root_certificates(roots);
    Arc::new(match cert_key {
        None => b.with_no_client_auth(),
        Some((c, k)) => b
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(pem(c))
                    .collect::<Result<_, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(pem(k)).unwrap(),
            )
            .unwrap(),
    })
}

fn good() -> Arc<ClientConfig> {
    client(Some(("cert.pem", "key.pem")), false)
}

async fn tls_connect(
    addr: SocketAddr,
    client: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(client)
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
}

/// Sends `request` and reads the answer until the server closes: the text
/// read, and the error that ended it, if any.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    request: &[u8],
) -> (String, Option<String>) {
    let mut out = Vec::new();
    let r = async {
        s.write_all(request).await?;
        s.read_to_end(&mut out).await
    };
    let err = match tokio::time::timeout(Duration::from_secs(5), r).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("timed out".to_string()),
    };
    (String::from_utf8_lossy(&out).into_owned(), err)
}

const PING: &[u8] = b"GET /v1.47/_ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

/// GET /_ping over TLS: Ok(response) for a 200, Err(why) otherwise.
async fn ping(addr: SocketAddr, client: Arc<ClientConfig>) -> Result<String, String> {
    let s = match tls_connect(addr, client).await {
        Ok(s) => s,
        Err(e) => return Err(format!("handshake: {e}")),
    };
    match exchange(s, PING).await {
        (text, _) if text.starts_with("HTTP/1.1 200 OK") => Ok(text),
        (text, err) => Err(format!("{text:?} {err:?}")),
    }
}

async fn assert_refused(addr: SocketAddr, client: Arc<ClientConfig>, expect: &str) {
    let e = ping(addr, client).await.unwrap_err();
    assert!(e.contains(expect), "expected {expect:?} in {e}");
}

async fn plain_http(addr: SocketAddr) -> String {
    exchange(TcpStream::connect(addr).await.unwrap(), PING)
        .await
        .0
}

async fn curl(args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
        .await
        .expect("running curl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tlsverify_accepts_only_clients_of_the_ca() {
    let f = Files::new(&["ca.pem", "server-cert.pem", "server-key.pem"]);
    let addr = start(Some(&settings(
        &f,
        true,
        "server-cert.pem",
        "server-key.pem",
    )))
    .await;

    // Good clients, TLS 1.3 and 1.2, RSA and EC; requests go through dispatch.
    let r = ping(addr, good()).await.unwrap();
    assert!(r.ends_with("OK"), "{r}");
    assert!(r.contains("api-version: 1.47"), "{r}");
    ping(addr, client(Some(("cert.pem", "key.pem")), true))
        .await
        .unwrap();
    ping(addr, client(Some(("ec-cert.pem", "ec-key.pem")), false))
        .await
        .unwrap();

    // Refused at the handshake, for the right reason.
    assert_refused(addr, client(None, false), "CertificateRequired").await;
    assert_refused(addr, client(None, true), "CertificateRequired").await;
    let other = client(Some(("other-cert.pem", "other-key.pem")), false);
    assert_refused(addr, other, "UnknownCA").await;
    let expired = client(Some(("expired-cert.pem", "expired-key.pem")), false);
    assert_refused(addr, expired, "CertificateExpired").await;
    // A server certificate (serverAuth only) is no client certificate.
    let server_as_client = client(Some(("server-cert.pem", "server-key.pem")), false);
    assert_refused(addr, server_as_client, "UnsupportedCertificate").await;

    // Plain HTTP to the TLS port: Go's answer, as the docker CLI shows it.
    let r = plain_http(addr).await;
    assert!(
        r.starts_with("HTTP/1.0 400 Bad Request")
            && r.contains("Client sent an HTTP request to an HTTPS server."),
        "{r}"
    );

    // Still serving.
    ping(addr, good()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_with_the_docker_recipe_certificates() {
    let f = Files::new(&[
        "ca.pem",
        "server-cert.pem",
        "server-key.pem",
        "cert.pem",
        "key.pem",
        "other-cert.pem",
        "other-key.pem",
    ]);
    let addr = start(Some(&settings(
        &f,
        true,
        "server-cert.pem",
        "server-key.pem",
    )))
    .await;
    let (ca, cert, key) = (f.str("ca.pem"), f.str("cert.pem"), f.str("key.pem"));
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("https://{host}:{}/_ping", addr.port());
        let (ok, out) = curl(&["--cacert", &ca, "--cert", &cert, "--key", &key, &url]).await;
        assert!(ok && out == "OK", "{host}: {out}");
    }
    let url = format!("https://127.0.0.1:{}/_ping", addr.port());
    let (ok, out) = curl(&["--cacert", &ca, &url]).await;
    assert!(!ok, "no client certificate accepted: {out}");
    let (ok, out) = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &f.str("other-cert.pem"),
        "--key",
        &f.str("other-key.pem"),
        &url,
    ])
    .await;
    assert!(!ok, "another CA's client accepted: {out}");
    let (ok, out) = curl(&[&format!("http://127.0.0.1:{}/_ping", addr.port())]).await;
    assert!(
        ok && out.contains("Client sent an HTTP request to an HTTPS server."),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_verify_and_plain_tcp() {
    let f = Files::new(&["ca.pem", "server-ec-cert.pem", "server-ec-key.pem"]);
    // --tls alone: encrypted, no client certificate asked for.
    let addr = start(Some(&settings(
        &f,
        false,
        "server-ec-cert.pem",
        "server-ec-key.pem",
    )))
    .await;
    ping(addr, client(None, false)).await.unwrap();
    ping(addr, client(None, true)).await.unwrap();
    let (ok, out) = curl(&[
        "--cacert",
        &f.str("ca.pem"),
        &format!("https://localhost:{}/_ping", addr.port()),
    ])
    .await;
    assert!(ok && out == "OK", "{out}");

    // No TLS at all.
    let addr = start(None).await;
    let r = plain_http(addr).await;
    assert!(r.starts_with("HTTP/1.1 200 OK") && r.ends_with("OK"), "{r}");
    let w = tls::plain_tcp_warning("tcp://0.0.0.0:2375");
    assert!(
        w.starts_with("Binding to IP address without --tlsverify is insecure"),
        "{w}"
    );
    assert!(w.contains("host=\"tcp://0.0.0.0:2375\""), "{w}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hijacked_streams_work_over_tls() {
    let f = Files::new(&["ca.pem", "server-cert.pem", "server-key.pem"]);
    let addr = start(Some(&settings(
        &f,
        true,
        "server-cert.pem",
        "server-key.pem",
    )))
    .await;
    let mut s = tls_connect(addr, good()).await.unwrap();
    s.write_all(
        b"POST /v1.47/hijack HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(s.read(&mut b).await.unwrap(), 1, "{head:?}");
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    for msg in [&b"hello"[..], b"over TLS\n"] {
        s.write_all(msg).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut back))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back, msg);
    }
}

/// Captures what the daemon logs, to prove refusals stay at debug level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// 200 bad handshakes of every kind, with a few silent clients holding
/// connections open, while a good client keeps getting its 200s. A
/// current-thread runtime: one thread serves everyone, so a handshake that
/// blocked the accept loop would starve the good client.
#[tokio::test]
async fn bad_handshakes_do_not_disturb_good_clients() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .without_time()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let f = Files::new(&["ca.pem", "server-cert.pem", "server-key.pem"]);
    let addr = start(Some(&settings(
        &f,
        true,
        "server-cert.pem",
        "server-key.pem",
    )))
    .await;
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let bad_clients = [
        client(None, false),
        client(Some(("other-cert.pem", "other-key.pem")), false),
        client(Some(("expired-cert.pem", "expired-key.pem")), true),
        client(Some(("server-cert.pem", "server-key.pem")), false),
    ];
    let bad = tokio::spawn(async move {
        for i in 0..200 {
            match i % 6 {
                0..=3 => assert!(ping(addr, bad_clients[i % 6].clone()).await.is_err()),
                4 => assert!(plain_http(addr).await.starts_with("HTTP/1.0 400")),
                _ => {
                    // Garbage, then hang up.
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    let _ = s.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0, 1, 2]).await;
                }
            }
        }
    });
    let mut good_pings = 0;
    while !bad.is_finished() {
        tokio::time::timeout(Duration::from_secs(2), ping(addr, good()))
            .await
            .expect("a good client waited")
            .unwrap();
        good_pings += 1;
    }
    bad.await.unwrap();
    ping(addr, good()).await.unwrap();
    assert!(good_pings >= 5, "only {good_pings} good pings");
    drop(silent);

    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let refused = log.matches("TLS handshake refused").count();
    assert!(refused >= 150, "{refused} refusals logged:\n{log}");
    for line in log.lines() {
        assert!(
            line.trim_start().starts_with("DEBUG"),
            "not at debug level: {line}"
        );
    }
}

#[test]
fn server_config_names_the_file_at_fault() {
    let f = Files::new(&[
        "ca.pem",
        "server-cert.pem",
        "server-key.pem",
        "server-ec-cert.pem",
        "server-ec-key.pem",
        "server-sec1-cert.pem",
        "server-sec1-key.pem",
        "key.pem",
    ]);
    // Every key format of the recipe loads: PKCS#1 RSA, PKCS#8 EC, SEC1 EC.
    for (c, k) in [
        ("server-cert.pem", "server-key.pem"),
        ("server-ec-cert.pem", "server-ec-key.pem"),
        ("server-sec1-cert.pem", "server-sec1-key.pem"),
    ] {
        tls::server_config(&settings(&f, true, c, k)).unwrap();
        tls::server_config(&settings(&f, false, c, k)).unwrap();
    }
    let err = |s: TlsSettings| tls::server_config(&s).unwrap_err().to_string();

    let e = err(settings(&f, true, "server-cert.pem", "key.pem"));
    assert_eq!(
        e,
        format!(
            "the TLS certificate {} and key {} do not match",
            f.str("server-cert.pem"),
            f.str("key.pem")
        )
    );
    let e = err(settings(
        &f,
        true,
        "server-ec-cert.pem",
        "server-sec1-key.pem",
    ));
    assert!(e.contains("do not match"), "{e}");

    let e = err(settings(&f, true, "server-cert.pem", "missing-key.pem"));
    assert!(
        e.starts_with(&format!(
            "could not load the TLS key {}: ",
            f.str("missing-key.pem")
        )),
        "{e}"
    );
    let e = err(settings(&f, true, "missing-cert.pem", "server-key.pem"));
    assert!(
        e.starts_with(&format!(
            "could not load the TLS certificate {}: ",
            f.str("missing-cert.pem")
        )),
        "{e}"
    );
    let mut s = settings(&f, true, "server-cert.pem", "server-key.pem");
    s.ca = Some(f.path("missing-ca.pem"));
    let e = err(s);
    assert!(
        e.starts_with(&format!(
            "could not load the TLS CA certificate {}: ",
            f.str("missing-ca.pem")
        )),
        "{e}"
    );
    // --tls alone does not need the CA.
    let mut s = settings(&f, false, "server-cert.pem", "server-key.pem");
    s.ca = Some(f.path("missing-ca.pem"));
    tls::server_config(&s).unwrap();

    // Files of the wrong kind, garbage, an unreadable directory, encryption.
    let e = err(settings(&f, true, "server-key.pem", "server-key.pem"));
    assert!(
        e.contains("could not load the TLS certificate") && e.contains("no PEM certificate"),
        "{e}"
    );
    let e = err(settings(&f, true, "server-cert.pem", "server-cert.pem"));
    assert!(
        e.contains("could not load the TLS key") && e.contains("no PEM private key"),
        "{e}"
    );
    std::fs::write(
        f.path("garbage.pem"),
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = err(settings(&f, true, "garbage.pem", "server-key.pem"));
    assert!(
        e.starts_with(&format!(
            "could not load the TLS certificate {}",
            f.str("garbage.pem")
        )),
        "{e}"
    );
    std::fs::write(
        f.path("bad-der.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = err(settings(&f, true, "bad-der.pem", "server-key.pem"));
    assert!(
        e.starts_with(&format!(
            "could not load the TLS certificate {}",
            f.str("bad-der.pem")
        )),
        "{e}"
    );
    let mut s = settings(&f, true, "server-cert.pem", "server-key.pem");
    s.ca = Some(f.path("bad-der.pem"));
    let e = err(s);
    assert!(
        e.starts_with(&format!(
            "could not load the TLS CA certificate {}",
            f.str("bad-der.pem")
        )),
        "{e}"
    );
    let e = err(settings(&f, true, "server-cert.pem", ""));
    assert!(e.starts_with("could not load the TLS key "), "{e}");
    openssl(
        f.0.path(),
        &[
            "pkey",
            "-in",
            "server-key.pem",
            "-aes256",
            "-passout",
            "pass:secret",
            "-out",
            "encrypted-key.pem",
        ],
    );
    let e = err(settings(&f, true, "server-cert.pem", "encrypted-key.pem"));
    assert!(e.contains("encrypted-key.pem: the key is encrypted"), "{e}");
}

#[test]
fn tcp_addresses_as_dockerd_reads_them() {
    let a = |h: &str, tls: bool| tls::tcp_address(h, tls).map_err(|e| e.to_string());
    assert_eq!(a("tcp://0.0.0.0:2376", true).unwrap(), "0.0.0.0:2376");
    assert_eq!(a("tcp://127.0.0.1", true).unwrap(), "127.0.0.1:2376");
    assert_eq!(a("tcp://127.0.0.1", false).unwrap(), "127.0.0.1:2375");
    assert_eq!(a("tcp://:2380", false).unwrap(), "127.0.0.1:2380");
    assert_eq!(a("tcp://", false).unwrap(), "127.0.0.1:2375");
    assert_eq!(a("tcp://[::1]:2376", true).unwrap(), "[::1]:2376");
    assert_eq!(a("tcp://[::]", false).unwrap(), "[::]:2375");
    assert_eq!(a("tcp://localhost:2376/", true).unwrap(), "localhost:2376");
    assert_eq!(a("0.0.0.0:2376", true).unwrap(), "0.0.0.0:2376");
    assert!(a("tcp://1.2.3.4:2376/path", true)
        .unwrap_err()
        .contains("path element"));
    assert!(a("tcp://1.2.3.4:http", true)
        .unwrap_err()
        .contains("invalid port"));
    assert!(a("tcp://::1:2376", true).unwrap_err().contains("brackets"));
    assert!(a("fd://", true).unwrap_err().contains("not supported"));
}
