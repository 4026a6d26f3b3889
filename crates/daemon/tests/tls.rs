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
// Shared with tls_config.rs; each test file uses only part of it.
#[path = "common/certs.rs"]
#[allow(dead_code)]
mod certs;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
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

use certs::{pem, settings, Files};
use config::TlsSettings;

// ---------------------------------------------------------------------------
// The server under test.

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
