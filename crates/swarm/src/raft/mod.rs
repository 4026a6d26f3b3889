//! Raft for the managers: openraft 0.9 with our storage. The log and the
//! vote live in `<state dir>/raft-log.db`, the state machine (the cluster
//! store) in `<state dir>/raft-state.db`; both SQLite in WAL mode with
//! `synchronous=FULL`, so a write openraft was told is durable (and so a
//! write a client saw acknowledged) survives kill -9 and power loss.
//! Two files, so appending to the log never waits on applying.

// openraft's StorageError (224 bytes) is the error its storage traits
// require; our helpers return it as is rather than box and unbox it.
#![allow(clippy::result_large_err)]

pub mod log_store;
pub mod state_machine;

use std::io::Cursor;
use std::path::Path;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::store::{Command, CommandResult};

/// A manager as Raft knows it: where to reach it and which node it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// host:port of its cluster listener.
    pub addr: String,
    /// The swarm node ID (its certificate's CN).
    pub node_id: String,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.node_id, self.addr)
    }
}

openraft::declare_raft_types!(
    /// Raft's types for the cluster store. Raft IDs are u64 (openraft wants
    /// a Copy ID); swarmkit too keeps a numeric Raft ID beside the node ID.
    pub TypeConfig:
        D = Command,
        R = CommandResult,
        NodeId = u64,
        Node = Peer,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type RaftMetrics = openraft::RaftMetrics<u64, Peer>;
pub type LogId = openraft::LogId<u64>;
pub type StorageError = openraft::StorageError<u64>;

/// Open a SQLite file with the durability the log needs.
pub(crate) fn open_db(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // WAL: a commit is one append + fsync of the WAL; FULL: fsync on every
    // commit, so an acknowledged write is on disk, not in the page cache.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Rewrite the file and empty the WAL, so freed pages (blobs sealed
/// under a data key just retired) are gone from disk.
pub(crate) fn compact_db(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("VACUUM;")?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
}

pub(crate) fn io_err(e: impl std::error::Error + 'static) -> openraft::StorageIOError<u64> {
    openraft::StorageIOError::write(&e)
}
