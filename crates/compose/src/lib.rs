//! berth compose: docker compose v2 on berth's typed client.
//!
//! Layout:
//! - [`model`]: the Compose Specification as typed data (long syntax only).
//! - [`loader`]: files, environment, YAML, interpolation, normalisation,
//!   merge, `extends`, typed decode with file:line:key errors, validation,
//!   profiles.
//! - [`project`]: the engine side: names and `com.docker.compose.*` labels,
//!   the create body of a service's container, and the commands (`up`,
//!   `down`, `ps`, ...) converging the project through `berth_client`.
//! - [`cli`]: the command line (docker compose's grammar) and [`run`], called
//!   by the `berth-compose` binary (also a docker CLI plugin) and by
//!   `berth compose`.

pub mod cli;
pub mod loader;
pub mod model;
pub mod project;

pub use cli::{run, run_with};

/// A compose error: the message as docker compose prints it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

impl Error {
    pub fn new(msg: impl Into<String>) -> Error {
        Error(msg.into())
    }
}

impl From<berth_client::ClientError> for Error {
    fn from(e: berth_client::ClientError) -> Error {
        Error(e.message())
    }
}

/// An I/O error in Go's words (`no such file or directory`), as compose
/// prints them.
pub(crate) fn io_words(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

/// The docker CLI plugin metadata (`docker-cli-plugin-metadata`).
pub fn plugin_metadata() -> String {
    serde_json::json!({
        "SchemaVersion": "0.1.0",
        "Vendor": "berth",
        "Version": format!("v{}", env!("CARGO_PKG_VERSION")),
        "ShortDescription": "Docker Compose",
        "URL": "https://github.com/berth"
    })
    .to_string()
}
