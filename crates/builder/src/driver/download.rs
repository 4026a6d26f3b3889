//! `ADD <url>`: the download and its HTTP client.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::copy::CopyItem;
use super::files::set_mtime;
use super::{BuildError, R};

/// `ADD http(s)://...`: the body saved as a file named after the URL's
/// last path segment (mode 0600, as docker), in `dir`, its mtime from
/// `Last-Modified` as dockerd sets it. Redirects are followed (Go's client
/// does too). With `--checksum=sha256:<hex>` the body must match.
pub(super) async fn download(url: &str, dir: &Path, checksum: Option<&str>) -> R<CopyItem> {
    use std::io::Write;
    let parsed =
        reqwest::Url::parse(url).map_err(|e| BuildError::new(format!("invalid URL {url}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(BuildError::new(format!(
            "ADD of {url}: only http:// and https:// URLs are supported"
        )));
    }
    let want = match checksum {
        None => None,
        Some(c) => match c.strip_prefix("sha256:") {
            Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(h.to_ascii_lowercase())
            }
            _ => {
                return Err(BuildError::new(format!(
                    "invalid checksum digest format: {c} (want sha256:<64 hex digits>)"
                )))
            }
        },
    };
    let name = parsed
        .path_segments()
        .and_then(|mut s| s.rfind(|x| !x.is_empty()))
        .unwrap_or("")
        .to_string();
    if name.is_empty() || name == ".." || name == "." {
        return Err(BuildError::new(format!(
            "cannot determine filename from url: {url}"
        )));
    }
    let client = http_client()?;
    let mut resp = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| BuildError::new(format!("failed to GET {url}: {}", error_chain(&e))))?;
    if !resp.status().is_success() {
        return Err(BuildError::new(format!(
            "failed to GET {url} with status {}",
            resp.status()
        )));
    }
    let mtime = resp
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(|t| (t.timestamp(), 0));
    let path = dir.join(&name);
    let mut f = fs::File::create(&path)?;
    let mut digest = Sha256::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| BuildError::new(format!("failed to GET {url}: {}", error_chain(&e))))?
    {
        digest.update(&chunk);
        f.write_all(&chunk)?;
    }
    f.sync_all()?;
    drop(f);
    if let Some(want) = want {
        let got = hex::encode(digest.finalize());
        if got != want {
            return Err(BuildError::new(format!(
                "digest mismatch for {url}: expected sha256:{want}, got sha256:{got}"
            )));
        }
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
    if let Some(t) = mtime {
        set_mtime(&path, t)?;
    }
    Ok(CopyItem {
        src: path,
        rel: name,
        extract: false,
    })
}

/// The client for `ADD <url>`: the system's CA bundle, or the file
/// `SSL_CERT_FILE` names (plus PEM files in `SSL_CERT_DIR`), as Go's
/// crypto/x509 reads them for dockerd, so one environment works for both.
pub(super) fn http_client() -> R<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    let file = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
    let mut pems = vec![file];
    if let Some(dirs) = std::env::var_os("SSL_CERT_DIR") {
        for d in std::env::split_paths(&dirs) {
            if let Ok(rd) = fs::read_dir(&d) {
                pems.extend(rd.flatten().map(|e| e.path()));
            }
        }
    }
    for p in pems {
        if let Ok(data) = fs::read(&p) {
            roots.add_parsable_certificates(rustls_pemfile::certs(&mut data.as_slice()).flatten());
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| BuildError::new(format!("tls: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .map_err(|e| BuildError::new(format!("http client: {e}")))
}

/// An error with its causes (reqwest's own message hides the TLS reason).
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
