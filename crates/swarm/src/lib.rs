pub mod ca;
pub mod raft;
pub mod store;
pub mod transport;
