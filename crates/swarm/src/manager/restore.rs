//! `swarm init --force-new-cluster`: a manager's state (its own after the
//! others are lost, or a backup copied to another node) becomes a new
//! one-manager cluster with everything the old one held: the cluster ID,
//! the CA, the tokens, the nodes and all objects, and this node's
//! identity. As swarmkit's `ForceNewCluster`, Raft's membership is
//! rewritten to this node alone, as an entry in the log (at a new term,
//! voted for by this node) that the node commits on its own once it
//! leads; the other managers are no longer members.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use berth_api::Error;
use openraft::storage::{RaftLogReader, RaftLogStorage};
use openraft::{CommittedLeaderId, Entry, EntryPayload, Membership, Vote};

use super::{write_synced, LocalState, Manager, ManagerConfig, Paths};
use crate::lock::UnlockKey;
use crate::raft::log_store::LogStore;
use crate::raft::{LogId, Peer};
use crate::store::NodeState;

/// How long the restored node may take to elect itself.
const ELECTION_WAIT: Duration = Duration::from_secs(5);

fn storage(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("rewriting the raft membership: {e}"))
}

/// Append the single-voter membership of `me` to the log, at a term above
/// any the log or the vote has seen, with this node's vote for that term.
async fn force_single_voter(log: &mut LogStore, raft_id: u64, me: Peer) -> Result<(), Error> {
    let state = log.get_log_state().await.map_err(storage)?;
    let vote = log.read_vote().await.map_err(storage)?;
    let mut last: Option<LogId> = state.last_log_id;
    // As swarmkit, drop what the old cluster never committed: a write its
    // client was told had failed (no quorum) must not come back.
    if let (Some(committed), Some(l)) = (log.read_committed().await.map_err(storage)?, last) {
        if l.index > committed.index {
            let next = committed.index + 1;
            let first = log
                .try_get_log_entries(next..next + 1)
                .await
                .map_err(storage)?;
            if let Some(e) = first.first() {
                log.truncate(e.log_id).await.map_err(storage)?;
                last = Some(committed);
            }
        }
    }
    let term = vote
        .map(|v| v.leader_id().term)
        .into_iter()
        .chain(last.map(|l| l.leader_id.term))
        .max()
        .unwrap_or(0)
        + 1;
    let index = last.map(|l| l.index + 1).unwrap_or(0);
    let membership = Membership::new(
        vec![BTreeSet::from([raft_id])],
        BTreeMap::from([(raft_id, me)]),
    );
    let entry = Entry {
        log_id: LogId::new(CommittedLeaderId::new(term, raft_id), index),
        payload: EntryPayload::Membership(membership),
    };
    // The vote first: a log entry of a term this node never voted in
    // would be one it could not have accepted.
    log.save_vote(&Vote::new(term, raft_id))
        .await
        .map_err(storage)?;
    log.append_before_start(&entry).map_err(storage)
}

impl Manager {
    /// `swarm init --force-new-cluster` on a stopped manager's state
    /// directory (its own, or a backup restored here with another
    /// address): this node becomes the only manager and leader; the other
    /// managers' node objects stay, marked down, no longer in Raft (demote
    /// and remove them). A locked state needs `unlock_key` (it is never in
    /// the backup); without it the answer is
    /// [`SWARM_LOCKED`](crate::SWARM_LOCKED).
    pub async fn force_new_cluster(
        config: ManagerConfig,
        unlock_key: Option<&str>,
    ) -> Result<Manager, Error> {
        let paths = Paths::new(&config.state_dir);
        let key = unlock_key.map(str::parse::<UnlockKey>).transpose()?;
        let loaded = match Self::load(&paths, None) {
            Err(e) if super::is_swarm_locked(&e) && key.is_some() => {
                Self::load(&paths, key.as_ref())
            }
            other => other,
        };
        let (old, ca, node, at_rest) = loaded?;
        let (listener, addr) = Self::bind(&config).await?;
        let state = LocalState {
            raft_id: old.raft_id,
            addr: addr.clone(),
        };
        let me = Peer {
            addr: addr.clone(),
            node_id: node.identity.node_id.clone(),
        };
        let mut log =
            LogStore::open(&paths.raft.join("raft-log.db"), at_rest.keys()).map_err(storage)?;
        force_single_voter(&mut log, state.raft_id, me).await?;
        drop(log);
        let json = serde_json::to_vec(&state).map_err(|e| Error::internal(e.to_string()))?;
        write_synced(&paths.state, &json)?;
        let manager = Self::start(config, listener, ca, node, state, at_rest).await?;
        if manager.wait_for_leader(ELECTION_WAIT).await != Some(manager.raft_id()) {
            manager.shutdown().await;
            return Err(Error::internal(
                "the forced new cluster did not elect this manager",
            ));
        }
        if let Err(e) = manager.record_new_cluster(&addr).await {
            manager.shutdown().await;
            return Err(e);
        }
        Ok(manager)
    }

    /// The store's view after the membership change: this node at its
    /// (maybe new) address, the other managers down.
    async fn record_new_cluster(&self, addr: &str) -> Result<(), Error> {
        let me = self.node_id().to_string();
        let others: Vec<String> = self
            .nodes()
            .values()
            .filter(|n| n.id != me && n.manager.is_some())
            .map(|n| n.id.clone())
            .collect();
        for id in others {
            self.update_node_unversioned(&id, |n| n.status.state = NodeState::Down)
                .await?;
        }
        let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
        if !self.nodes().contains_key(&me) {
            return Err(Error::internal(format!(
                "node {me} is not in the restored store"
            )));
        }
        // the dispatcher writes node statuses as this manager starts to
        // lead: a write of ours that meets one is read and made again
        self.update_node_unversioned(&me, |node| {
            if let Some(m) = node.manager.as_mut() {
                m.addr = addr.to_string();
            }
            node.status.addr = host.to_string();
            node.status.state = NodeState::Ready;
        })
        .await?;
        Ok(())
    }
}
