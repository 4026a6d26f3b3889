//! Writes: proposed on the leader (forwarded there from a follower),
//! refused with dockerd's message when there is no leader with a quorum.

use std::collections::BTreeSet;
use std::time::Duration;

use berth_api::Error;
use openraft::error::{ClientWriteError, RaftError};
use openraft::ChangeMembers;

use super::{Inner, Manager};
use crate::raft::RaftMetrics;
use crate::store::{Command, CommandResult};
use crate::transport::{MembershipOp, Request, Response};

/// What dockerd answers to a write without quorum: swarmkit's
/// `lostQuorumMessage` (manager/state/raft/raft.go) as gRPC renders it.
pub const LOST_QUORUM: &str = "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";

/// How long a write may wait for a quorum before it is refused.
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) fn lost_quorum() -> Error {
    Error::internal(LOST_QUORUM)
}

fn into_error(r: CommandResult) -> Result<u64, Error> {
    match r {
        CommandResult::Applied { version } => Ok(version),
        CommandResult::Conflict(m) => Err(Error::conflict(m)),
        CommandResult::NotFound(m) => Err(Error::not_found(m)),
    }
}

impl Inner {
    /// Whether this leader has clearly lost its majority: a leader cut off
    /// from the others keeps its role in openraft, and its last quorum
    /// acknowledgement ages. Unknown (None, as right after a membership
    /// change) is not lost: the write itself then decides, within
    /// `WRITE_TIMEOUT`.
    pub(super) fn quorum_lost(&self, m: &RaftMetrics) -> bool {
        let voters = m.membership_config.membership().voter_ids().count();
        let limit = self.config.election_timeout_ms.1 * 2;
        voters > 1 && m.millis_since_quorum_ack.is_some_and(|ms| ms > limit)
    }

    fn leader_addr(&self, m: &RaftMetrics) -> Option<String> {
        let leader = m.current_leader?;
        m.membership_config
            .membership()
            .get_node(&leader)
            .map(|p| p.addr.clone())
    }

    /// Apply `cmd` through Raft here, only if this node is the leader with
    /// a quorum (forwarded writes land here; they are never re-forwarded).
    pub(crate) async fn propose_local(&self, cmd: Command) -> Result<CommandResult, Error> {
        let m = self.raft.metrics().borrow().clone();
        if m.current_leader != Some(self.raft_id) || self.quorum_lost(&m) {
            return Err(lost_quorum());
        }
        match tokio::time::timeout(WRITE_TIMEOUT, self.raft.client_write(cmd)).await {
            Ok(Ok(resp)) => Ok(resp.data),
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))) => {
                Err(lost_quorum())
            }
            Ok(Err(e)) => Err(Error::internal(format!("raft: {e}"))),
            Err(_) => Err(lost_quorum()),
        }
    }

    /// Send `req` to the leader and return its answer.
    pub(crate) async fn to_leader(&self, req: Request) -> Result<Response, Error> {
        let m = self.raft.metrics().borrow().clone();
        let addr = self.leader_addr(&m).ok_or_else(lost_quorum)?;
        match self.peers.client(&addr).call(&req, WRITE_TIMEOUT).await {
            Ok(Response::Error(e)) => Err(e.into()),
            Ok(resp) => Ok(resp),
            Err(_) => Err(lost_quorum()),
        }
    }

    pub(crate) async fn propose(&self, cmd: Command) -> Result<CommandResult, Error> {
        if self.raft.metrics().borrow().current_leader == Some(self.raft_id) {
            return self.propose_local(cmd).await;
        }
        match self.to_leader(Request::Propose(cmd)).await? {
            Response::Propose(r) => Ok(r),
            other => Err(Error::internal(format!(
                "unexpected answer to a write: {other:?}"
            ))),
        }
    }

    /// A membership change on the leader.
    pub(crate) async fn membership_local(&self, op: MembershipOp) -> Result<(), Error> {
        let m = self.raft.metrics().borrow().clone();
        if m.current_leader != Some(self.raft_id) || self.quorum_lost(&m) {
            return Err(lost_quorum());
        }
        // One change at a time: openraft refuses a change while another is
        // in progress, and managers joining together must both get in.
        let _serial = self.membership_lock.lock().await;
        let raft_err = |e: RaftError<u64, ClientWriteError<u64, crate::raft::Peer>>| match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => lost_quorum(),
            e => Error::internal(format!("raft membership change: {e}")),
        };
        match op {
            MembershipOp::Add { raft_id, peer } => {
                // Only a node that joined with the manager token (its node
                // object, made then, names this Raft ID) becomes a voter;
                // the forwarding manager's identity says nothing about it.
                // A promoted node (its role says manager, no Raft ID
                // yet) gets its place recorded first.
                let node = self.reader.read(|d| d.nodes.get(&peer.node_id).cloned());
                let known = node.as_ref().is_some_and(|n| match &n.manager {
                    Some(m) => m.raft_id == raft_id,
                    None => n.spec.role == crate::ca::Role::Manager,
                });
                let Some(mut node) = node.filter(|_| known) else {
                    return Err(Error::new(
                        berth_api::ErrorKind::Forbidden,
                        format!("node {} is not a manager of this swarm", peer.node_id),
                    ));
                };
                if node.manager.is_none() {
                    node.manager = Some(crate::store::ManagerInfo {
                        raft_id,
                        addr: peer.addr.clone(),
                    });
                    into_error(
                        self.propose_local(Command::UpdateNode(Box::new(node)))
                            .await?,
                    )?;
                }
                // Blocking: returns once the learner has caught up, so the
                // promotion does not stall the quorum on a cold node.
                self.raft
                    .add_learner(raft_id, peer, true)
                    .await
                    .map_err(raft_err)?;
                let voters = BTreeSet::from([raft_id]);
                self.raft
                    .change_membership(ChangeMembers::AddVoterIds(voters), false)
                    .await
                    .map_err(raft_err)?;
            }
            MembershipOp::Remove { raft_id } => {
                let voters = BTreeSet::from([raft_id]);
                self.raft
                    .change_membership(ChangeMembers::RemoveVoters(voters), false)
                    .await
                    .map_err(raft_err)?;
            }
        }
        Ok(())
    }

    pub(crate) async fn membership(&self, op: MembershipOp) -> Result<(), Error> {
        if self.raft.metrics().borrow().current_leader == Some(self.raft_id) {
            return self.membership_local(op).await;
        }
        match self.to_leader(Request::Membership(op)).await? {
            Response::Membership => Ok(()),
            other => Err(Error::internal(format!(
                "unexpected answer to a membership change: {other:?}"
            ))),
        }
    }
}

impl Manager {
    /// Propose a write and wait until it is committed and applied; returns
    /// the object's new version. Without a leader with a quorum the write
    /// is refused with [`LOST_QUORUM`].
    pub async fn propose(&self, cmd: Command) -> Result<u64, Error> {
        into_error(self.inner.propose(cmd).await?)
    }

    /// Demote a manager (or prepare its removal): it leaves the Raft voters.
    pub async fn remove_manager(&self, raft_id: u64) -> Result<(), Error> {
        self.inner
            .membership(MembershipOp::Remove { raft_id })
            .await
    }
}
