//! The dispatcher, as swarmkit's (manager/dispatcher): it runs on the
//! leader. Every node's agent opens a session (with its description) and
//! heartbeats at the cluster's period; a node silent for the grace period
//! (3 periods, swarmkit's multiplier) goes `Down` with "heartbeat
//! failure", and is `Ready` again at its next session. Sessions live in
//! the leader's memory only: a new leader marks every node that is not
//! down `Unknown` (swarmkit's words) and gives each a full grace period
//! to open a session with it before marking it down. A follower passes
//! its nodes' messages to the leader.

use std::collections::HashMap;
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use berth_api::Error;

use super::Inner;
use crate::ca::{new_id, NodeIdentity, RootCa};
use crate::store::{Command, CommandResult, Node, NodeDescription, NodeState};
use crate::transport::dispatch::{
    DispatchRequest, RemoteManager, SessionAnswer, NODE_NOT_FOUND, SESSION_INVALID,
};
use crate::transport::{Request, Response};

/// swarmkit's `GracePeriodMultiplier`: missed periods before a node is down.
const GRACE_PERIODS: u32 = 3;
const HEARTBEAT_FAILURE: &str = "heartbeat failure";
const UNKNOWN_HEARTBEAT_FAILURE: &str = "heartbeat failure for node in \"unknown\" state";
const MOVED_TO_UNKNOWN: &str =
    "Node moved to \"unknown\" state due to leadership change in cluster";

struct Session {
    id: String,
    last: Instant,
}

#[derive(Default)]
struct State {
    /// Whether this manager leads (as of the last check).
    leading: bool,
    sessions: HashMap<String, Session>,
    /// When this leader first saw each node that has no session yet (a
    /// node that just joined gets its grace from then).
    first_seen: HashMap<String, Instant>,
}

/// The leader's sessions; empty on followers.
#[derive(Default)]
pub(crate) struct Dispatcher {
    state: Mutex<State>,
}

impl Dispatcher {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn node_not_found() -> Error {
    Error::not_found(NODE_NOT_FOUND)
}

impl Inner {
    fn heartbeat_period(&self) -> Duration {
        let ns = self
            .reader
            .read(|d| d.cluster.as_ref().map(|c| c.spec.heartbeat_period_ns))
            .unwrap_or(5_000_000_000);
        Duration::from_nanos(ns.max(1_000_000))
    }

    fn remote_managers(&self) -> Vec<RemoteManager> {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let voters: std::collections::BTreeSet<u64> = membership.voter_ids().collect();
        membership
            .nodes()
            .filter(|(id, _)| voters.contains(id))
            .map(|(_, p)| RemoteManager {
                node_id: p.node_id.clone(),
                addr: p.addr.clone(),
            })
            .collect()
    }

    /// Change node `id`'s status with `f` unless `f` says there is nothing
    /// to do (returns false); retried when another write got in between.
    async fn update_status(&self, id: &str, f: impl Fn(&mut Node) -> bool) -> Result<(), Error> {
        for _ in 0..3 {
            let Some(mut node) = self.reader.read(|d| d.nodes.get(id).cloned()) else {
                return Err(node_not_found());
            };
            if !f(&mut node) {
                return Ok(());
            }
            node.meta.updated_at =
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            match self.propose(Command::UpdateNode(Box::new(node))).await? {
                CommandResult::Applied { .. } => return Ok(()),
                CommandResult::NotFound(_) => return Err(node_not_found()),
                CommandResult::Conflict(_) => continue,
            }
        }
        Err(Error::conflict("update out of sequence"))
    }

    async fn mark_ready(
        &self,
        id: &str,
        description: Option<NodeDescription>,
    ) -> Result<(), Error> {
        self.update_status(id, |n| {
            let same_description = description.is_none() || n.description == description;
            if n.status.state == NodeState::Ready && same_description {
                return false;
            }
            n.status.state = NodeState::Ready;
            n.status.message.clear();
            if description.is_some() {
                n.description = description.clone();
            }
            true
        })
        .await
    }

    /// A node's session start or heartbeat, from this node's port or
    /// passed on by a follower.
    pub(crate) async fn dispatch(
        &self,
        node_id: &str,
        req: DispatchRequest,
    ) -> Result<SessionAnswer, Error> {
        let leader = self.raft.metrics().borrow().current_leader;
        if leader != Some(self.raft_id) {
            let forward = Request::DispatchFor {
                node_id: node_id.to_string(),
                req,
            };
            return match self.to_leader(forward).await? {
                Response::Dispatch(a) => Ok(a),
                other => Err(Error::internal(format!(
                    "unexpected answer from the leader: {other:?}"
                ))),
            };
        }
        self.dispatch_local(node_id, req).await
    }

    /// The dispatcher itself, on the leader (a passed-on message is never
    /// passed on again).
    pub(crate) async fn dispatch_local(
        &self,
        node_id: &str,
        req: DispatchRequest,
    ) -> Result<SessionAnswer, Error> {
        if self.raft.metrics().borrow().current_leader != Some(self.raft_id) {
            return Err(super::propose::lost_quorum());
        }
        let node = self
            .reader
            .read(|d| d.nodes.get(node_id).cloned())
            .ok_or_else(node_not_found)?;
        let session_id = match req {
            DispatchRequest::Session { description } => {
                let id = new_id();
                self.mark_ready(node_id, Some(description)).await?;
                self.dispatcher.lock().first_seen.remove(node_id);
                self.dispatcher.lock().sessions.insert(
                    node_id.to_string(),
                    Session {
                        id: id.clone(),
                        last: Instant::now(),
                    },
                );
                id
            }
            DispatchRequest::Heartbeat { session_id } => {
                {
                    let mut state = self.dispatcher.lock();
                    match state.sessions.get_mut(node_id) {
                        Some(s) if s.id == session_id => s.last = Instant::now(),
                        _ => return Err(Error::invalid(SESSION_INVALID)),
                    }
                }
                // Marked down while it was slow, or unknown after a
                // leader change: it is back.
                if node.status.state != NodeState::Ready {
                    self.mark_ready(node_id, None).await?;
                }
                session_id
            }
        };
        Ok(SessionAnswer {
            session_id,
            heartbeat_period_ns: self.heartbeat_period().as_nanos() as u64,
            managers: self.remote_managers(),
            role: node.spec.role,
        })
    }

    /// Sign a renewal for the calling node with the role the store gives
    /// it (how a promoted or demoted node gets its new certificate).
    pub(crate) fn sign_for(&self, caller: &NodeIdentity, csr_pem: &str) -> Result<String, Error> {
        let cluster = self
            .reader
            .read(|d| d.cluster.clone())
            .ok_or_else(super::propose::lost_quorum)?;
        let role = self
            .reader
            .read(|d| d.nodes.get(&caller.node_id).map(|n| n.spec.role))
            .ok_or_else(node_not_found)?;
        let key = cluster.root_ca_key.as_deref().ok_or_else(|| {
            Error::internal("this swarm's CA signs externally, which berth does not do yet")
        })?;
        let ca = RootCa::from_pem(&cluster.root_ca_cert, Some(key))?;
        let identity = NodeIdentity {
            node_id: caller.node_id.clone(),
            role,
            cluster_id: cluster.id.clone(),
        };
        ca.issue(
            csr_pem,
            &identity,
            Duration::from_secs(cluster.spec.cert_expiry_secs),
        )
    }

    /// One pass of the leader's watch: start leading (mark nodes unknown),
    /// or mark down the nodes whose grace has run out.
    async fn check_heartbeats(&self) {
        let leading = self.raft.metrics().borrow().current_leader == Some(self.raft_id);
        let newly = {
            let mut state = self.dispatcher.lock();
            if !leading {
                state.leading = false;
                state.sessions.clear();
                state.first_seen.clear();
                return;
            }
            !std::mem::replace(&mut state.leading, true)
        };
        let nodes = self.reader.read(|d| d.nodes.clone());
        if newly {
            for id in nodes.keys() {
                let r = self
                    .update_status(id, |n| {
                        let has_session = self.dispatcher.lock().sessions.contains_key(&n.id);
                        if n.status.state == NodeState::Down || has_session {
                            return false;
                        }
                        n.status.state = NodeState::Unknown;
                        n.status.message = MOVED_TO_UNKNOWN.into();
                        true
                    })
                    .await;
                if let Err(e) = r {
                    tracing::debug!("swarm: marking node {id} unknown: {}", e.message);
                }
            }
            return;
        }
        let grace = self.heartbeat_period() * GRACE_PERIODS;
        for (id, node) in nodes {
            if node.status.state == NodeState::Down {
                continue;
            }
            let last = {
                let mut state = self.dispatcher.lock();
                match state.sessions.get(&id) {
                    Some(s) => s.last,
                    None => *state
                        .first_seen
                        .entry(id.clone())
                        .or_insert_with(Instant::now),
                }
            };
            if last.elapsed() <= grace {
                continue;
            }
            {
                let mut state = self.dispatcher.lock();
                state.sessions.remove(&id);
                state.first_seen.remove(&id);
            }
            let r = self
                .update_status(&id, |n| {
                    if n.status.state == NodeState::Down {
                        return false;
                    }
                    n.status.message = if n.status.state == NodeState::Unknown {
                        UNKNOWN_HEARTBEAT_FAILURE.into()
                    } else {
                        HEARTBEAT_FAILURE.into()
                    };
                    n.status.state = NodeState::Down;
                    true
                })
                .await;
            match r {
                Ok(()) => tracing::info!("swarm: node {id} is down: {HEARTBEAT_FAILURE}"),
                Err(e) => tracing::debug!("swarm: marking node {id} down: {}", e.message),
            }
        }
    }
}

/// Watch heartbeats for as long as the manager lives.
pub(crate) async fn run(inner: Weak<Inner>) {
    let Some(mut metrics) = inner.upgrade().map(|i| i.raft.metrics()) else {
        return;
    };
    loop {
        let Some(i) = inner.upgrade() else { return };
        // Often enough that a node is marked down within a fraction of a
        // period after its grace ends.
        let tick =
            (i.heartbeat_period() / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
        i.check_heartbeats().await;
        let (me, leading) = (i.raft_id, i.dispatcher.lock().leading);
        drop(i);
        // A leadership change is acted on at once (a new leader starts its
        // sessions before the nodes it leads can join or report).
        let changed = metrics.wait_for(|m| (m.current_leader == Some(me)) != leading);
        if let Ok(Err(_)) = tokio::time::timeout(tick, changed).await {
            return; // Raft stopped
        }
    }
}
