//! The dispatcher's messages: what every node's agent sends to the
//! managers (a session start with its description, then heartbeats) and
//! what it gets back (swarmkit's `SessionMessage` and `HeartbeatResponse`
//! folded into one answer). Workers may call these; the caller's node ID
//! is taken from its verified certificate, never from the message.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ca::Role;
use crate::store::NodeDescription;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DispatchRequest {
    /// Open a session (again after a manager or leader change).
    Session { description: NodeDescription },
    /// Keep the session alive.
    Heartbeat { session_id: String },
}

/// A manager a node may talk to (swarmkit's `WeightedPeer`, unweighted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteManager {
    pub node_id: String,
    pub addr: String,
}

/// The leader's answer to a session start or a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAnswer {
    pub session_id: String,
    /// When the next heartbeat is due, in nanoseconds (the cluster's
    /// `Dispatcher.HeartbeatPeriod`).
    pub heartbeat_period_ns: u64,
    /// The managers in the Raft membership now.
    pub managers: Vec<RemoteManager>,
    /// The role the store gives this node: a change is a promotion or a
    /// demotion the node must carry out.
    pub role: Role,
}

impl SessionAnswer {
    pub fn heartbeat_period(&self) -> Duration {
        Duration::from_nanos(self.heartbeat_period_ns.max(1_000_000))
    }
}

/// swarmkit's dispatcher errors, as its agents see them.
pub const NODE_NOT_FOUND: &str = "node not found";
pub const SESSION_INVALID: &str = "session invalid";
