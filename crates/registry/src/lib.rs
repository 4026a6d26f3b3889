//! berth-registry: an OCI distribution registry server, configured like
//! CNCF distribution. Standalone: it depends on no other berth crate.

pub mod auth;
pub mod config;
pub mod error;
pub mod gc;
pub mod names;
#[cfg(test)]
mod props;
pub mod server;
pub mod storage;
pub mod tls;

use std::sync::Arc;

use anyhow::Context as _;

use crate::config::{AuthConfig, Config};
use crate::server::{AuthMode, Registry};

/// Builds the registry a configuration describes: opens the storage,
/// loads htpasswd files, certificates and keys (each error names its file).
pub fn build(config: &Config) -> anyhow::Result<Registry> {
    let storage = storage::Storage::open(&config.root)
        .with_context(|| format!("opening the storage root {}", config.root.display()))?;
    let (auth, issuer) = match &config.auth {
        None => (AuthMode::None, None),
        Some(AuthConfig::Htpasswd { realm, path }) => (
            AuthMode::Htpasswd {
                realm: realm.clone(),
                users: auth::Htpasswd::load(path)?,
            },
            None,
        ),
        Some(AuthConfig::Token {
            realm,
            service,
            issuer,
            rootcertbundle,
            signingkey,
            htpasswd,
        }) => {
            let verifier = auth::TokenVerifier::new(realm, service, issuer, rootcertbundle)?;
            let iss = match (signingkey, htpasswd) {
                (Some(k), Some(h)) => Some(auth::TokenIssuer::new(
                    issuer,
                    service,
                    k,
                    rootcertbundle,
                    h,
                )?),
                _ => None,
            };
            (AuthMode::Token(verifier), iss)
        }
    };
    Ok(Registry::new(
        storage,
        config.delete_enabled,
        config.readonly,
        auth,
        issuer,
    ))
}

/// Serves the registry on `config.http.addr` until the process ends.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let tls = match &config.tls {
        Some(t) => Some(tokio_rustls::TlsAcceptor::from(tls::server_config(t)?)),
        None => None,
    };
    let reg = Arc::new(build(&config)?);
    let listener = tokio::net::TcpListener::bind(&config.addr)
        .await
        .with_context(|| format!("listening on {}", config.addr))?;
    tracing::info!(
        addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        tls = tls.is_some(),
        root = %config.root.display(),
        "listening"
    );
    server::serve(reg, listener, tls).await;
    Ok(())
}
