//! The containers service: a container's whole life (create, start, stop,
//! kill, wait, remove, rename, pause, update, restart policies, health) and
//! what is read from or copied into it (inspect, list, logs, stats, top,
//! attach, archive, changes, export, commit). The record and its state
//! machine are `container.rs`; what a create turns into the container's
//! spec (mounts, devices, resources, security, the runtime, the process)
//! has a file each.

pub mod archive;
pub mod attach;
pub(crate) mod checks;
pub mod commit;
pub mod container;
mod create;
pub mod devices;
pub mod health;
pub mod init;
pub mod lifecycle;
pub mod logdriver;
pub mod logs;
pub mod mounts;
pub(crate) mod names;
mod recover;
pub(crate) mod resolve;
pub mod resources;
pub(crate) mod runtimes;
pub mod security;
pub(crate) mod start;
pub mod stats;
mod top;
pub mod update;

service! {
    /// `engine.containers()`: containers.
    Containers
}
