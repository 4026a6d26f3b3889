//! berth-swarm: the swarm cluster core as a library, swarmkit's parts in
//! Rust. No daemon wiring lives here; berthd drives a [`Manager`].
//!
//! # Layout
//!
//! - [`ca`]: the cluster root CA (generated with rcgen at init, or an
//!   external one loaded), node certificates issued from a CSR with
//!   swarmkit's subject (CN = node ID, OU = `swarm-manager`/`swarm-worker`,
//!   O = cluster ID; the CSR's own subject is ignored), 25-character base36
//!   IDs, and `SWMTKN-1-<CA digest>-<secret>` join tokens. The digest is
//!   SHA-256 over the root's PEM text, as swarmkit's
//!   `digest.FromBytes(rootCertBytes)`, so tokens read the same as
//!   dockerd's for the same root. Root rotation (`rotate_root_ca`, as
//!   swarmkit's reconciler): the next root is cross-signed by the current
//!   one, every node is re-issued from the next root with that
//!   certificate in its chain (nodes that trust only the old root keep
//!   accepting it), each node's issuer is recorded in its object
//!   (`tls_info`), and once all match, the leader makes the next root the
//!   root with new join tokens; managers' trust
//!   (`transport::trust::Trust`, roots changeable while serving) and
//!   `swarm-root-ca.crt` follow.
//! - [`lock`]: encryption at rest (swarmkit's manager/encryption). The
//!   Raft log entries, state rows, membership and snapshots are always
//!   sealed (XChaCha20-Poly1305) with a data key kept in
//!   `swarm-node.key`'s `raft-dek` PEM header beside the TLS key; with
//!   autolock on, that file is sealed under the unlock key
//!   (`SWMKEY-1-<unpadded base64>`), which the cluster object replicates
//!   so every manager re-seals its own file when it changes. Turning
//!   autolock on also moves the data to a new data key.
//! - [`store`]: the replicated objects (cluster, nodes) and the
//!   [`store::Command`]s that change them. Every object carries
//!   `meta.version` = the Raft index of its last write; an update with a
//!   stale version is refused ("update out of sequence"). Services, tasks,
//!   networks, secrets and configs come as further maps and commands.
//! - [`raft`]: openraft 0.9 (pinned) with our storage: log + vote +
//!   committed index in `raft/raft-log.db`, the store in
//!   `raft/raft-state.db` (SQLite, WAL, `synchronous=FULL`: what openraft
//!   was told is flushed is on disk). The state machine writes its rows and
//!   the applied log ID in one transaction. Snapshots (the whole store as
//!   JSON) are built every `snapshot_every` entries and the log is purged
//!   behind them; a lagging or new manager gets the snapshot.
//! - [`transport`]: the cluster port. Length-prefixed JSON frames over
//!   mutual TLS (rustls, ring provider per config, no process-wide
//!   default needed). Two ALPN protocols share the port: `berth-swarm/1`
//!   requires a client certificate from the cluster root (no certificate,
//!   or another CA's, fails the handshake), and `berth-swarm-join/1`
//!   serves only the root CA and the token-guarded join to a node without
//!   a certificate yet. RPCs other than those two need a manager's
//!   certificate (OU `swarm-manager`), but for a node's own session,
//!   heartbeats and certificate renewal, which any node's may call.
//! - [`manager`]: [`Manager`] ties it together: `init`, `join` (the joiner
//!   fetches the root on a provisional handshake, checks it hashes to the
//!   token's digest, then sends the token and its CSR over a connection
//!   that requires the remote's certificate to be from that root;
//!   a manager then starts Raft empty and asks the leader to add it as a
//!   learner and promote it to voter once caught up), `open` (restart from
//!   the state dir), `propose` (on the leader, forwarded there from a
//!   follower; refused with [`LOST_QUORUM`], dockerd's words, when there is
//!   no leader that heard from a majority within 2 election timeouts),
//!   reads from the local store (they answer without quorum), `managers`
//!   (MANAGER STATUS: Leader, Reachable/Unreachable as the leader sees
//!   its replication RPCs answered), `demote`, `remove_node`,
//!   `update_node`, `rotate_join_token`, `renew_certificate` (also done
//!   by a task at a random 50-80% of the certificate's life, as swarmkit;
//!   the TLS configs resolve the node key per handshake, so a renewed
//!   certificate is served without restarting the listener), `unlock`,
//!   `unlock_key`, `rotate_unlock_key`, `update_cluster_spec`,
//!   `force_new_cluster` (the single-voter membership written into the
//!   log at a new term before Raft starts), `rotate_root_ca`,
//!   `issue_node_certificate`.
//!   The leader also runs the dispatcher (`manager/dispatcher.rs`,
//!   swarmkit's): every node opens a session with its
//!   [`store::NodeDescription`] and heartbeats at the cluster's
//!   `heartbeat_period_ns`; a node silent for 3 periods goes `Down`
//!   ("heartbeat failure") and is `Ready` at its next session. Sessions
//!   are the leader's memory: a new leader marks the nodes that are up
//!   `Unknown` (swarmkit's message) and gives every node, and every node
//!   that joins, a full grace period from when it first sees it. A
//!   follower passes its nodes' messages to the leader (`DispatchFor`,
//!   manager-only, so a worker cannot speak for another node). `promote`
//!   sets the role; the node does the rest.
//! - [`agent`]: every node's agent, managers' too (their own port first):
//!   session, heartbeats, the managers from the answers (kept in
//!   `remotes.json`), failover to the next manager when one stops
//!   answering, a worker's certificate renewal (`RenewCertificate`,
//!   signed for the caller's certificate with the role the store gives
//!   it). Workers may call only the session, heartbeat and renewal RPCs.
//! - [`node`]: [`SwarmNode`], what the daemon holds: `init`, `join` (the
//!   role is the token's), `open`, `manager()` while a manager, `info()`,
//!   `leave` (dockerd's rules and words; a refused leave gives the node
//!   back), `shutdown`. A supervisor follows the agent's answers: promoted,
//!   the node gets a manager certificate, starts Raft and has the leader
//!   add it as a voter; demoted and out of the voters, it stops Raft, gets
//!   a worker certificate and carries on as a worker; removed (`node rm
//!   --force`), its agent stops and `info().error` says so.
//!
//! # State directory (`<data-root>/swarm`)
//!
//! `certificates/swarm-root-ca.crt`, `swarm-node.crt`, `swarm-node.key`
//! (dockerd's names; the key file also holds the Raft data key, and is
//! sealed with autolock on), `raft/raft-log.db`, `raft/raft-state.db`,
//! `state.json` (Raft ID, 0 on a worker; the cluster address, which a
//! worker keeps for a promotion), `remotes.json` (the managers the agent
//! last heard of, to start from after a restart). The CA key is in the
//! replicated cluster object so any manager can sign (as swarmkit keeps
//! it in its store), sealed at rest with the rest of the Raft data. A
//! backup is a copy of this directory taken with the manager stopped; the
//! unlock key is not in it.
//!
//! # Wiring into berthd
//!
//! berthd holds a [`cluster::Cluster`], moby's daemon/cluster: it turns
//! the API's requests into [`SwarmNode`] and [`Manager`] calls (init,
//! join, leave, unlock, force-new-cluster, swarm and node updates) and the
//! store's objects into the API's views, with dockerd's words.
//!
//! - Errors are `berth_api::Error`s with dockerd's messages. Two notes:
//!   dockerd answers "already part of a swarm" with 503, which has no
//!   `ErrorKind` yet (a conflict here); swarmkit's FailedPrecondition
//!   messages come as conflicts with the gRPC prefix dockerd shows.
//! - One `SwarmNode` per daemon; it spawns its tasks on the caller's
//!   tokio runtime and stops with `shutdown()` (dropping it stops it too).
//!
//! # Timing and memory
//!
//! tests/cluster.rs (debug build, 127.0.0.1): join of a manager 35-200 ms;
//! leader killed to the first accepted write on a survivor 0.85-1.0 s with
//! heartbeat 100 ms and election timeout 300..450 ms (openraft's leader
//! lease is the max timeout, so failover is about the max plus one random
//! timeout). examples/swarm_node, release build, three processes: join
//! 130-140 ms, idle resident memory about 10 MiB per manager.
//! tests/autolock.rs, tests/restore.rs, tests/ca_rotation.rs (debug
//! build, shared 2-core machine): unlock of a locked one-manager swarm
//! to leader 37-49 ms; `force_new_cluster` on a 3-manager backup or
//! survivor to leader with the store updated 175-225 ms; a root rotation
//! over 3 managers, start to end, 175-510 ms.
//! tests/node_lifecycle.rs, node_roles.rs (debug, dispatcher period 300 ms, grace
//! 900 ms): a worker's join 28-125 ms (until its first session answer),
//! a worker's death to `Down` 0.89-0.92 s, a promotion to voter about
//! 0.35-0.56 s. examples/swarm_node, debug, separate processes, period 200 ms:
//! a worker's join 65-92 ms, kill -9 of a worker to `Down` 0.59-0.63 s.

pub mod agent;
pub mod ca;
pub mod cluster;
pub mod lock;
pub mod manager;
pub mod node;
pub mod raft;
pub mod store;
pub mod transport;

pub use manager::{
    is_swarm_locked, Manager, ManagerConfig, ManagerStatus, Reachability, INVALID_UNLOCK_KEY,
    LOST_QUORUM, NOT_LOCKED, SWARM_LOCKED,
};
pub use node::{LeaveError, LocalNodeInfo, SwarmNode};
