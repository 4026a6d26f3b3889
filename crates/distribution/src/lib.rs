//! Registry client: the OCI distribution flow as dockerd speaks it.
//!
//! - [`Endpoints`]: where a reference's registry is reached (`docker.io` →
//!   mirrors, then `registry-1.docker.io`), with which TLS trust
//!   (`certs.d/HOST:PORT/{*.crt,*.cert,*.key}`), and whether it is
//!   insecure (`insecure-registries`, 127.0.0.0/8 and `localhost` by
//!   default: unverified TLS, then plain HTTP, as dockerd does).
//! - [`Session`]: one repository on one registry, answering `401`
//!   challenges (Basic, and Bearer with realm/service/scope through the
//!   token service, as Docker Hub does).
//! - [`pull`]: manifests by tag or digest (schema2, manifest list, OCI
//!   manifest and index), platform pick, digest-verified blobs downloaded
//!   in parallel into the store's temp dir, progress as dockerd's JSON
//!   messages.
//! - [`push`]: only the blobs the registry lacks (HEAD), cross-repository
//!   mounts from where the engine last saw a layer, then uploads.
//! - [`search`]: the v1 search API of a registry's index.

mod auth;
mod endpoint;
pub mod plugin;
pub mod progress;
#[cfg(test)]
mod props;
mod pull;
mod push;
mod search;
mod session;

pub use auth::{AuthConfig, AuthConfigs};
pub use endpoint::{Endpoints, RegistryOptions};
pub use pull::{inspect, list_tags, login, pull, resolve, HasStore, Resolved};
pub use push::push;
pub use search::{search, split_term, SearchResult};
pub use session::Session;

/// Media types a pull accepts, in dockerd's order of preference.
pub const MEDIA_SCHEMA2: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
