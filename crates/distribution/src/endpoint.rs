//! Where a registry is reached and how it is trusted.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_api::{Error, Result};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The daemon's registry settings (`daemon.json` / flags).
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// `insecure-registries`: `host:port`, `host` or CIDRs.
    pub insecure: Vec<String>,
    /// `registry-mirrors` for docker.io: URLs.
    pub mirrors: Vec<String>,
    /// Where `HOST:PORT/` trust dirs are looked up, in order
    /// (`/etc/docker/certs.d`, `<data-root>/certs.d`).
    pub certs_dirs: Vec<PathBuf>,
}

/// One way to reach a registry: a base URL and its HTTP client.
#[derive(Clone)]
pub struct Endpoint {
    /// `https://127.0.0.1:5000`, no trailing slash.
    pub base: String,
    pub client: reqwest::Client,
    pub mirror: bool,
}

/// The endpoints of one registry host, in the order dockerd tries them.
pub struct Endpoints;

impl Endpoints {
    /// `domain` as in a reference (`docker.io`, `127.0.0.1:5000`).
    pub fn for_domain(opts: &RegistryOptions, domain: &str) -> Result<Vec<Endpoint>> {
        let mut out = Vec::new();
        if domain == "docker.io" {
            for m in &opts.mirrors {
                let m = m.trim_end_matches('/');
                let host = m
                    .strip_prefix("https://")
                    .or_else(|| m.strip_prefix("http://"))
                    .unwrap_or(m);
                let insecure = is_insecure(opts, host);
                out.push(Endpoint {
                    base: m.to_string(),
                    client: client_for(opts, host, insecure)?,
                    mirror: true,
                });
            }
            out.push(Endpoint {
                base: "https://registry-1.docker.io".into(),
                client: client_for(opts, "registry-1.docker.io", false)?,
                mirror: false,
            });
            return Ok(out);
        }
        let insecure = is_insecure(opts, domain);
        out.push(Endpoint {
            base: format!("https://{domain}"),
            client: client_for(opts, domain, insecure)?,
            mirror: false,
        });
        if insecure {
            out.push(Endpoint {
                base: format!("http://{domain}"),
                client: client_for(opts, domain, true)?,
                mirror: false,
            });
        }
        Ok(out)
    }
}

/// dockerd's rule: listed by name (`host:port` or `host`), or an IP in a
/// listed CIDR or in 127.0.0.0/8 (`localhost` too).
pub fn is_insecure(opts: &RegistryOptions, host: &str) -> bool {
    let name = host_only(host);
    if name == "localhost" {
        return true;
    }
    let ip: Option<IpAddr> = name.trim_matches(['[', ']']).parse().ok();
    if ip.is_some_and(|ip| ip.is_loopback()) {
        return true;
    }
    opts.insecure.iter().any(|entry| {
        let e = entry
            .trim()
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/');
        if e == host || e == name {
            return true;
        }
        match (e.parse::<ipnet::IpNet>(), ip) {
            (Ok(net), Some(ip)) => net.contains(&ip),
            _ => false,
        }
    })
}

fn host_only(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let data = std::fs::read(path)
        .map_err(|e| Error::internal(format!("reading {}: {e}", path.display())))?;
    rustls_pemfile::certs(&mut data.as_slice())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::internal(format!("parsing {}: {e}", path.display())))
}

fn pem_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let data = std::fs::read(path)
        .map_err(|e| Error::internal(format!("reading {}: {e}", path.display())))?;
    rustls_pemfile::private_key(&mut data.as_slice())
        .map_err(|e| Error::internal(format!("parsing {}: {e}", path.display())))?
        .ok_or_else(|| Error::internal(format!("no private key in {}", path.display())))
}

/// The HTTP client for `host`: the system roots plus every `*.crt` in the
/// host's certs.d dirs, a client certificate from `*.cert` + `*.key` (as
/// dockerd pairs them), and no verification at all when `insecure`.
pub(crate) fn client_for(
    opts: &RegistryOptions,
    host: &str,
    insecure: bool,
) -> Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for sys in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ] {
        if let Ok(certs) = pem_certs(Path::new(sys)) {
            roots.add_parsable_certificates(certs);
            break;
        }
    }
    let mut client_auth: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> = None;
    for dir in &opts.certs_dirs {
        let d = dir.join(host);
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            match ext {
                "crt" => {
                    for c in pem_certs(&p)? {
                        roots.add(c).map_err(|e| {
                            Error::internal(format!("loading CA {}: {e}", p.display()))
                        })?;
                    }
                }
                "cert" => {
                    let key = p.with_extension("key");
                    if !key.exists() {
                        return Err(Error::internal(format!(
                            "missing key {} for client certificate {}. CA certificates must use the extension .crt",
                            key.display(),
                            p.display()
                        )));
                    }
                    client_auth = Some((pem_certs(&p)?, pem_key(&key)?));
                }
                "key" if !p.with_extension("cert").exists() => {
                    return Err(Error::internal(format!(
                        "missing client certificate {} for key {}",
                        p.with_extension("cert").display(),
                        p.display()
                    )));
                }
                _ => {}
            }
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("tls: {e}")))?;
    let builder = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(berth_tls::SignaturesOnly::new(provider))
    } else {
        builder.with_root_certificates(roots)
    };
    let mut tls = match client_auth {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| Error::internal(format!("client certificate for {host}: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(15))
        .no_proxy()
        .build()
        .map_err(|e| Error::internal(format!("http client: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_rules() {
        let opts = RegistryOptions {
            insecure: vec!["reg.test:5000".into(), "10.1.0.0/16".into()],
            ..Default::default()
        };
        assert!(is_insecure(&opts, "127.0.0.1:5000"));
        assert!(is_insecure(&opts, "127.5.0.1"));
        assert!(is_insecure(&opts, "localhost:5000"));
        assert!(is_insecure(&opts, "reg.test:5000"));
        assert!(is_insecure(&opts, "10.1.2.3:443"));
        assert!(!is_insecure(&opts, "10.2.2.3:443"));
        assert!(!is_insecure(&opts, "reg.test:5001"));
        assert!(!is_insecure(&opts, "registry-1.docker.io"));
    }
}
