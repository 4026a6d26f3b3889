//! The container runtime side of berth: the OCI spec a container runs with,
//! the per-container shim (`berth-shim`) that runs it through youki's
//! libcontainer or an external OCI runtime binary (runc), the runtimes a
//! daemon knows, and the async client the daemon talks to shims with.

pub mod cgroups;
pub mod client;
pub mod proto;
pub mod runtimes;
pub mod seccomp;
pub mod shim;
pub mod spec;
