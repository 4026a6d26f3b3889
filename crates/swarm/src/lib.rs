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
//!   dockerd's for the same root.
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
//!   certificate (OU `swarm-manager`).
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
//!   certificate is served without restarting the listener).
//!
//! # State directory (`<data-root>/swarm`)
//!
//! `certificates/swarm-root-ca.crt`, `swarm-node.crt`, `swarm-node.key`
//! (dockerd's names), `raft/raft-log.db`, `raft/raft-state.db`,
//! `state.json` (Raft ID, advertised address). The CA key is in the
//! replicated cluster object so any manager can sign (as swarmkit keeps
//! it in its store); autolock will encrypt it with the Raft data.
//!
//! # Wiring into berthd (next session)
//!
//! - `POST /swarm/init`: `Manager::init(ManagerConfig { state_dir:
//!   <data-root>/swarm, listen_addr: --listen-addr (0.0.0.0:2377),
//!   advertise_addr, .. }, ClusterSpec from the request, None)`.
//! - `POST /swarm/join` with a manager token: `Manager::join(config,
//!   RemoteAddrs[0], token)`; with a worker token:
//!   `manager::request_certificate` and save the certificate (the worker
//!   agent is the next issue's).
//! - At daemon start, if `<data-root>/swarm/state.json` exists:
//!   `Manager::open(config)`.
//! - `/nodes`: `Manager::nodes()` + `managers()` for `ManagerStatus`;
//!   `/nodes/{id}/update`: `update_node`/`demote`; `DELETE /nodes/{id}`:
//!   `remove_node`. `/swarm` (inspect): `cluster()` with `join_tokens`.
//! - Errors are `berth_api::Error`s with dockerd's messages. Two notes:
//!   dockerd answers "already part of a swarm" with 503, which has no
//!   `ErrorKind` yet (a conflict here); swarmkit's FailedPrecondition
//!   messages come as conflicts with the gRPC prefix dockerd shows.
//! - One `Manager` per daemon; it spawns its tasks on the caller's tokio
//!   runtime and stops with `shutdown()` (dropping it stops the listener).
//!
//! # Timing and memory
//!
//! tests/cluster.rs (debug build, 127.0.0.1): join of a manager 35-200 ms;
//! leader killed to the first accepted write on a survivor 0.85-1.0 s with
//! heartbeat 100 ms and election timeout 300..450 ms (openraft's leader
//! lease is the max timeout, so failover is about the max plus one random
//! timeout). examples/swarm_node, release build, three processes: join
//! 130-140 ms, idle resident memory about 10 MiB per manager.

pub mod ca;
pub mod cluster;
pub mod manager;
pub mod raft;
pub mod store;
pub mod transport;

pub use manager::{Manager, ManagerConfig, ManagerStatus, Reachability, LOST_QUORUM};
