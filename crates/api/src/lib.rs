//! Docker Engine API wire types, version negotiation, image references and
//! error kinds. No I/O: every other crate builds on this one.

pub mod container_config;
pub mod detach;
pub mod error;
pub mod json;
pub mod model;
pub mod network;
pub mod progress;
pub mod reference;
pub mod types;
pub mod units;
pub mod version;
pub mod views;

#[cfg(test)]
mod props;

pub use container_config::{ContainerConfig, HostConfig};
pub use error::{Error, ErrorKind, Result};
pub use reference::Reference;
