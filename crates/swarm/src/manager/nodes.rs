//! Node operations (`node update`, `node demote`, `node rm`) with
//! swarmkit's checks and words (manager/controlapi/node.go), as dockerd
//! passes them through from gRPC.

use berth_api::Error;

use super::Manager;
use crate::ca::Role;
use crate::store::{Command, Node, NodeState};

fn precondition(msg: String) -> Error {
    Error::conflict(format!("rpc error: code = FailedPrecondition desc = {msg}"))
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!(
        "rpc error: code = NotFound desc = node {id} not found"
    ))
}

impl Manager {
    /// Change a node's spec (labels, availability) with `f`, as one write
    /// checked against the version read.
    pub async fn update_node(&self, id: &str, f: impl FnOnce(&mut Node)) -> Result<u64, Error> {
        let mut node = self.nodes().get(id).cloned().ok_or_else(|| not_found(id))?;
        f(&mut node);
        node.meta.updated_at =
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        self.propose(Command::UpdateNode(Box::new(node))).await
    }

    /// A change the caller made without a version (a role change, the
    /// user's update already checked against the version they read, the
    /// store after a restore): read, change, write, and read again if a
    /// status write (the dispatcher's) got in between.
    pub(crate) async fn update_node_unversioned(
        &self,
        id: &str,
        f: impl Fn(&mut Node),
    ) -> Result<u64, Error> {
        let mut tries = 0;
        loop {
            match self.update_node(id, &f).await {
                Err(e) if e.message == "update out of sequence" && tries < 5 => tries += 1,
                r => return r,
            }
        }
    }

    /// `node demote`: the node becomes a worker and leaves the Raft voters.
    /// The last manager is never demoted, nor one whose removal would lose
    /// the quorum.
    pub async fn demote(&self, id: &str) -> Result<(), Error> {
        let nodes = self.nodes();
        let node = nodes.get(id).ok_or_else(|| not_found(id))?;
        let Some(info) = node.manager.clone() else {
            // Promoted but not in Raft yet: only the role goes back.
            if node.spec.role == Role::Manager {
                self.update_node_unversioned(id, |n| n.spec.role = Role::Worker)
                    .await?;
            }
            return Ok(());
        };
        if nodes
            .values()
            .filter(|n| n.spec.role == Role::Manager)
            .count()
            == 1
        {
            return Err(precondition(
                "attempting to demote the last manager of the swarm".into(),
            ));
        }
        // Quorum safeguard: the managers left must still be a majority of
        // the reachable ones.
        let statuses = self.managers().await;
        let reachable_after = statuses
            .iter()
            .filter(|m| {
                m.raft_id != info.raft_id && m.reachability == super::Reachability::Reachable
            })
            .count();
        let total_after = statuses
            .iter()
            .filter(|m| m.raft_id != info.raft_id)
            .count();
        if reachable_after * 2 <= total_after {
            return Err(precondition(
                "can't remove member from the raft: this would result in a loss of quorum".into(),
            ));
        }
        self.update_node_unversioned(id, |n| {
            n.spec.role = Role::Worker;
            n.manager = None;
        })
        .await?;
        self.remove_manager(info.raft_id).await
    }

    /// `node promote`: the store's role says manager; the node sees it in
    /// its next heartbeat answer, gets a manager certificate, starts Raft
    /// and has the leader add it as a voter (swarmkit checks nothing more
    /// for a promotion).
    pub async fn promote(&self, id: &str) -> Result<(), Error> {
        let node = self.nodes().get(id).cloned().ok_or_else(|| not_found(id))?;
        if node.spec.role == Role::Manager {
            return Ok(());
        }
        self.update_node_unversioned(id, |n| n.spec.role = Role::Manager)
            .await?;
        Ok(())
    }

    /// `node rm [--force]`: managers must be demoted first; a node that is
    /// not down needs `force`.
    pub async fn remove_node(&self, id: &str, force: bool) -> Result<(), Error> {
        let node = self.nodes().get(id).cloned().ok_or_else(|| not_found(id))?;
        let in_raft = self.managers().await.iter().any(|m| m.node_id == id);
        if node.spec.role == Role::Manager || in_raft {
            return Err(precondition(format!(
                "node {id} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal"
            )));
        }
        if !force && node.status.state == NodeState::Ready {
            return Err(precondition(format!(
                "node {id} is not down and can't be removed"
            )));
        }
        self.propose(Command::RemoveNode { id: id.to_string() })
            .await?;
        Ok(())
    }
}
