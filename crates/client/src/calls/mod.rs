//! The typed calls, one file per kind of object: each takes and returns
//! `berth_api` types, so a caller (the CLI, the e2e suite, compose) writes
//! no JSON. The transport under them is `crate::client`.

mod containers;
mod exec;
mod images;
mod networks;
mod swarm;
mod system;
mod volumes;

pub use containers::CreateRequest;
pub use exec::ExecOutput;
pub use networks::NetworkCreate;
pub use swarm::{JoinRequest, RotateFlags};
