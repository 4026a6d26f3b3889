pub mod ca;
pub mod manager;
pub mod raft;
pub mod store;
pub mod transport;

pub use manager::{Manager, ManagerConfig, ManagerStatus, Reachability, LOST_QUORUM};
