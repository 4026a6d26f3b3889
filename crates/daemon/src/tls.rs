//! The `tcp://` listeners: dockerd's `--tls` / `--tlsverify` over rustls,
//! and the same HTTP serving as the unix socket (hyper HTTP/1.1 with
//! upgrades, through `server::dispatch`).
//!
//! Each accepted connection gets its own task: the TLS handshake runs there
//! under a timeout, so a slow, silent or hostile client never holds up the
//! accept loop or anyone else. Refused handshakes are logged at debug level
//! only: a port scanner must not flood the daemon's log.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use axum::Router;
use hyper_util::rt::TokioIo;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{InconsistentKeys, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsSettings;

/// How long a client has, from connecting, to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What Go's HTTP server (so dockerd) answers plain HTTP sent to a TLS port.
const PLAIN_HTTP_TO_TLS: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Installs ring as the process-wide rustls `CryptoProvider`. Call once at
/// start, before any TLS configuration is built; later calls are no-ops.
pub fn install_crypto_provider() {
    // An error only means a provider is installed already: keep that one.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    install_crypto_provider();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// The rustls server configuration for `s`: the server's certificate and key,
/// and with `verify_clients` a verifier that accepts only client
/// certificates chaining to `s.ca`, within their validity, and carrying the
/// clientAuth extended key usage (when they carry any). Every error names
/// the file at fault.
pub fn server_config(s: &TlsSettings) -> anyhow::Result<Arc<ServerConfig>> {
    let provider = provider();
    let certs = load_certs(&s.cert, "TLS certificate")?;
    let key = load_key(&s.key)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| anyhow!("could not load the TLS key {}: {e}", s.key.display()))?;
    let certified = CertifiedKey::new(certs, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => bail!(
            "the TLS certificate {} and key {} do not match",
            s.cert.display(),
            s.key.display()
        ),
        Err(e) => bail!(
            "could not load the TLS certificate {}: {e}",
            s.cert.display()
        ),
    }

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("TLS configuration: {e}"))?;
    let builder = if s.verify_clients {
        let Some(ca) = &s.ca else {
            bail!("--tlsverify needs the CA certificate that signs the clients (--tlscacert)");
        };
        let mut roots = RootCertStore::empty();
        for cert in load_certs(ca, "TLS CA certificate")? {
            roots.add(cert).map_err(|e| {
                anyhow!(
                    "could not load the TLS CA certificate {}: {e}",
                    ca.display()
                )
            })?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| {
                anyhow!(
                    "could not load the TLS CA certificate {}: {e}",
                    ca.display()
                )
            })?;
        builder.with_client_cert_verifier(verifier)
    } else {
        // dockerd with --tls alone does not even read the CA.
        builder.with_no_client_auth()
    };
    let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_pem(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow!("could not load the {what} {}: {e}", path.display()))
}

fn load_certs(path: &Path, what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = read_pem(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("could not load the {what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        bail!(
            "could not load the {what} {}: no PEM certificate found",
            path.display()
        );
    }
    Ok(certs)
}

fn load_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = read_pem(path, "TLS key")?;
    let fail = |why: String| anyhow!("could not load the TLS key {}: {why}", path.display());
    if pem.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err(fail(
            "the key is encrypted; berthd needs it unencrypted (openssl pkey -in KEY -out KEY.plain)"
                .into(),
        ));
    }
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(k) => Ok(k),
        Err(pem::Error::NoItemsFound) => Err(fail(
            "no PEM private key found (PKCS#1 RSA, PKCS#8 or SEC1 EC)".into(),
        )),
        Err(e) => Err(fail(e.to_string())),
    }
}

/// The socket address of a `-H` value for TCP, as dockerd reads it:
/// `tcp://HOST:PORT` or a bare `HOST:PORT`; an empty host is 127.0.0.1, a
/// missing port 2376 with TLS, else 2375; IPv6 hosts in brackets.
pub fn tcp_address(host: &str, tls: bool) -> anyhow::Result<String> {
    let rest = match host.split_once("://") {
        Some(("tcp", rest)) => rest,
        Some(_) => bail!("listening on {host} is not supported (only unix:// and tcp://)"),
        None => host,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        bail!("invalid bind address ({host}): should not contain a path element");
    }
    let (h, port) = if let Some(r) = rest.strip_prefix('[') {
        let Some((h, after)) = r.split_once(']') else {
            bail!("invalid bind address ({host}): missing ']' in address");
        };
        match after {
            "" => (h, None),
            p => match p.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => bail!("invalid bind address ({host})"),
            },
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                bail!("invalid bind address ({host}): put an IPv6 address in brackets")
            }
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    let h = if h.is_empty() { "127.0.0.1" } else { h };
    let port: u16 = match port {
        None | Some("") => {
            if tls {
                2376
            } else {
                2375
            }
        }
        Some(p) => p
            .parse()
            .map_err(|_| anyhow!("invalid bind address ({host}): invalid port {p:?}"))?,
    };
    Ok(if h.contains(':') {
        format!("[{h}]:{port}")
    } else {
        format!("{h}:{port}")
    })
}

/// Binds a `-H tcp://...` listener (see [`tcp_address`]).
pub async fn bind_tcp(host: &str, tls: bool) -> anyhow::Result<TcpListener> {
    let addr = tcp_address(host, tls)?;
    TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow!("listening on {host}: {e}"))
}

/// dockerd's warning for an API reachable over TCP by clients it does not
/// verify (plain HTTP, or `--tls` without `--tlsverify`), one log line per
/// line. dockerd also sleeps 15 s here; berthd only warns.
pub fn plain_tcp_warning(addr: &str) -> String {
    [
        "Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.",
        "Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there!",
        "[DEPRECATION NOTICE] In future versions this will be a hard failure preventing the daemon from starting! Learn more at: https://docs.docker.com/go/api-security/",
    ]
    .iter()
    .map(|l| format!("{l} host=\"{addr}\""))
    .collect::<Vec<_>>()
    .join("\n")
}

/// Serves the Engine API on a TCP listener, over TLS when `tls` is given;
/// requests go through `server::dispatch` exactly as on the unix socket,
/// hijacked (upgraded) connections included.
pub async fn serve_tcp(listener: TcpListener, tls: Option<Arc<ServerConfig>>, router: Router) {
    let acceptor = tls.map(TlsAcceptor::from);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Attach streams carry keystrokes: no Nagle delay.
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Some(acceptor) = acceptor else {
                serve_connection(stream, router).await;
                return;
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&acceptor, stream)).await {
                Ok(Ok(tls)) => serve_connection(tls, router).await,
                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake refused: {e}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// The TLS handshake; plain HTTP gets Go's `400 Client sent an HTTP request
/// to an HTTPS server.` (what the docker CLI shows against dockerd) and is
/// then refused like any other failed handshake.
async fn handshake(
    acceptor: &TlsAcceptor,
    mut stream: TcpStream,
) -> io::Result<TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed before the handshake",
        ));
    }
    // A TLS connection opens with a handshake record (0x16); an HTTP
    // request with its method in capitals.
    if first[0].is_ascii_uppercase() {
        let _ = stream.write_all(PLAIN_HTTP_TO_TLS).await;
        let _ = stream.shutdown().await;
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "plain HTTP request to a TLS port (answered 400)",
        ));
    }
    acceptor.accept(stream).await
}

async fn serve_connection<S>(io: S, router: Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| crate::server::dispatch(router.clone(), req));
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!("connection: {e}");
    }
}
