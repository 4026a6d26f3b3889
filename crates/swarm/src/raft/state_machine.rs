//! The Raft state machine: the cluster store, kept in memory for reads and
//! written through to SQLite in the same transaction as the applied log
//! ID, so a restart resumes exactly where applying stopped. The last
//! snapshot is kept in the same file (openraft sends it to a lagging
//! follower and reads it back after a restart).

use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, RaftSnapshotBuilder, SnapshotMeta, StorageIOError, StoredMembership,
};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{io_err, open_db, LogId, Peer, StorageError, TypeConfig};
use crate::lock::DataKeys;
use crate::store::{CommandResult, RowChange, StoreData};

/// What each sealed value is for (see `crate::lock`): object rows, the
/// membership (manager addresses) and snapshots are sealed with the data
/// key; the applied log ID is not secret.
const ROW_PURPOSE: &[u8] = b"raft-state-row";
const MEMBERSHIP_PURPOSE: &[u8] = b"raft-state-membership";
const SNAPSHOT_PURPOSE: &[u8] = b"raft-state-snapshot";

/// A snapshot as stored and as sent: its meta and the whole store.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<u64, Peer>,
    data: Vec<u8>,
}

struct Inner {
    conn: Mutex<rusqlite::Connection>,
    keys: Arc<DataKeys>,
    data: Arc<RwLock<StoreData>>,
    state: Mutex<Applied>,
}

#[derive(Default, Clone)]
struct Applied {
    last_applied: Option<LogId>,
    membership: StoredMembership<u64, Peer>,
    snapshot_seq: u64,
}

/// The state machine; clones share it (the snapshot builder is a clone).
#[derive(Clone)]
pub struct StateMachine {
    inner: Arc<Inner>,
}

/// Read access to the store, for the manager's reads.
#[derive(Clone)]
pub struct StoreReader(Arc<RwLock<StoreData>>);

impl StoreReader {
    /// Run `f` on the current store contents.
    pub fn read<T>(&self, f: impl FnOnce(&StoreData) -> T) -> T {
        f(&self.0.read().unwrap_or_else(|p| p.into_inner()))
    }
}

fn write_rows(
    tx: &rusqlite::Transaction<'_>,
    keys: &DataKeys,
    rows: &[RowChange],
) -> rusqlite::Result<()> {
    for row in rows {
        match row {
            RowChange::Put { kind, id, body } => {
                tx.execute(
                    "INSERT OR REPLACE INTO objects (kind, id, body) VALUES (?1, ?2, ?3)",
                    params![kind, id, keys.seal(ROW_PURPOSE, body.as_bytes())],
                )?;
            }
            RowChange::Delete { kind, id } => {
                tx.execute(
                    "DELETE FROM objects WHERE kind = ?1 AND id = ?2",
                    params![kind, id],
                )?;
            }
        }
    }
    Ok(())
}

/// Store a meta value (JSON, as a blob), sealed when `keys` is given.
fn set_meta<T: Serialize>(
    tx: &rusqlite::Transaction<'_>,
    key: &str,
    v: &T,
    keys: Option<(&DataKeys, &[u8])>,
) -> Result<(), StorageError> {
    let mut value = serde_json::to_vec(v).map_err(io_err)?;
    if let Some((keys, purpose)) = keys {
        value = keys.seal(purpose, &value);
    }
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, value],
    )
    .map_err(io_err)?;
    Ok(())
}

impl StateMachine {
    pub fn open(path: &Path, keys: Arc<DataKeys>) -> Result<StateMachine, StorageError> {
        let conn = open_db(path).map_err(io_err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL, PRIMARY KEY (kind, id));
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);",
        )
        .map_err(io_err)?;
        let mut data = StoreData::default();
        let mut applied = Applied::default();
        {
            let mut stmt = conn
                .prepare("SELECT kind, body FROM objects")
                .map_err(io_err)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .map_err(io_err)?;
            fn read_err<E: std::error::Error + 'static>(e: &E) -> StorageIOError<u64> {
                StorageIOError::read_state_machine(e)
            }
            for row in rows {
                let (kind, blob) = row.map_err(io_err)?;
                let body = keys.open(ROW_PURPOSE, &blob).map_err(|e| read_err(&e))?;
                let body = String::from_utf8(body).map_err(|e| read_err(&e))?;
                data.load_row(&kind, &body).map_err(|e| read_err(&e))?;
            }
            let get = |key: &str| -> Result<Option<Vec<u8>>, StorageError> {
                conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                    .optional()
                    .map_err(|e| StorageIOError::read_state_machine(&e).into())
            };
            if let Some(t) = get("applied")? {
                applied.last_applied = serde_json::from_slice(&t).map_err(|e| read_err(&e))?;
            }
            if let Some(blob) = get("membership")? {
                let json = keys
                    .open(MEMBERSHIP_PURPOSE, &blob)
                    .map_err(|e| read_err(&e))?;
                applied.membership = serde_json::from_slice(&json).map_err(|e| read_err(&e))?;
            }
        }
        Ok(StateMachine {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                keys,
                data: Arc::new(RwLock::new(data)),
                state: Mutex::new(applied),
            }),
        })
    }

    pub fn reader(&self) -> StoreReader {
        StoreReader(self.inner.data.clone())
    }

    fn db(&self) -> MutexGuard<'_, rusqlite::Connection> {
        self.inner.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn applied(&self) -> MutexGuard<'_, Applied> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save_snapshot(&self, snap: &StoredSnapshot) -> Result<(), StorageError> {
        let json = serde_json::to_vec(snap).map_err(io_err)?;
        let blob = self.inner.keys.seal(SNAPSHOT_PURPOSE, &json);
        self.db()
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('snapshot', ?1)",
                [blob],
            )
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        Ok(())
    }

    /// Re-seal every row, the membership and the snapshot under the
    /// current data key (see `LogStore::reseal_all`).
    pub(crate) fn reseal_all(&self) -> Result<(), StorageError> {
        let keys = &self.inner.keys;
        let mut db = self.db();
        let tx = db.transaction().map_err(io_err)?;
        let rows: Vec<(String, String, Vec<u8>)> = {
            let mut stmt = tx
                .prepare("SELECT kind, id, body FROM objects")
                .map_err(io_err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(io_err)?;
            rows.collect::<Result<_, _>>().map_err(io_err)?
        };
        let reseal = |purpose: &[u8], blob: &[u8]| -> Result<Vec<u8>, StorageError> {
            let plain = keys
                .open(purpose, blob)
                .map_err(|e| StorageIOError::read_state_machine(&e))?;
            Ok(keys.seal(purpose, &plain))
        };
        for (kind, id, blob) in rows {
            tx.execute(
                "UPDATE objects SET body = ?3 WHERE kind = ?1 AND id = ?2",
                params![kind, id, reseal(ROW_PURPOSE, &blob)?],
            )
            .map_err(io_err)?;
        }
        for (key, purpose) in [
            ("membership", MEMBERSHIP_PURPOSE),
            ("snapshot", SNAPSHOT_PURPOSE),
        ] {
            let blob: Option<Vec<u8>> = tx
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(io_err)?;
            if let Some(blob) = blob {
                tx.execute(
                    "UPDATE meta SET value = ?2 WHERE key = ?1",
                    params![key, reseal(purpose, &blob)?],
                )
                .map_err(io_err)?;
            }
        }
        tx.commit().map_err(io_err)?;
        Ok(super::compact_db(&db).map_err(io_err)?)
    }

    fn load_snapshot(&self) -> Result<Option<StoredSnapshot>, StorageError> {
        let blob: Option<Vec<u8>> = self
            .db()
            .query_row("SELECT value FROM meta WHERE key = 'snapshot'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        let Some(blob) = blob else { return Ok(None) };
        let json = self
            .inner
            .keys
            .open(SNAPSHOT_PURPOSE, &blob)
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(Some(
            serde_json::from_slice(&json).map_err(|e| StorageIOError::read_snapshot(None, &e))?,
        ))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        // The data lock is held while reading the applied state so the two agree.
        let (data, applied) = {
            let data = self.inner.data.read().unwrap_or_else(|p| p.into_inner());
            let mut applied = self.applied();
            applied.snapshot_seq += 1;
            (serde_json::to_vec(&*data).map_err(io_err)?, applied.clone())
        };
        let last = applied.last_applied;
        let snapshot_id = match last {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, applied.snapshot_seq),
            None => format!("0-0-{}", applied.snapshot_seq),
        };
        let meta = SnapshotMeta {
            last_log_id: last,
            last_membership: applied.membership.clone(),
            snapshot_id,
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        };
        self.save_snapshot(&stored)?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership<u64, Peer>), StorageError> {
        let a = self.applied();
        Ok((a.last_applied, a.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut results = Vec::new();
        let mut data = self.inner.data.write().unwrap_or_else(|p| p.into_inner());
        let mut applied = self.applied();
        let mut db = self.db();
        let tx = db.transaction().map_err(io_err)?;
        for entry in entries {
            let log_id = entry.log_id;
            match entry.payload {
                EntryPayload::Blank => results.push(CommandResult::Applied {
                    version: log_id.index,
                }),
                EntryPayload::Normal(cmd) => {
                    let (result, rows) = data.apply(log_id.index, cmd);
                    write_rows(&tx, &self.inner.keys, &rows)
                        .map_err(|e| StorageIOError::apply(log_id, &e))?;
                    results.push(result);
                }
                EntryPayload::Membership(m) => {
                    applied.membership = StoredMembership::new(Some(log_id), m);
                    set_meta(
                        &tx,
                        "membership",
                        &applied.membership,
                        Some((&self.inner.keys, MEMBERSHIP_PURPOSE)),
                    )?;
                    results.push(CommandResult::Applied {
                        version: log_id.index,
                    });
                }
            }
            applied.last_applied = Some(log_id);
        }
        set_meta(&tx, "applied", &applied.last_applied, None)?;
        tx.commit().map_err(io_err)?;
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, Peer>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let bytes = snapshot.into_inner();
        let new: StoreData = serde_json::from_slice(&bytes)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        {
            let mut data = self.inner.data.write().unwrap_or_else(|p| p.into_inner());
            let mut applied = self.applied();
            let mut db = self.db();
            let tx = db.transaction().map_err(io_err)?;
            tx.execute("DELETE FROM objects", []).map_err(io_err)?;
            write_rows(&tx, &self.inner.keys, &new.rows()).map_err(io_err)?;
            applied.last_applied = meta.last_log_id;
            applied.membership = meta.last_membership.clone();
            set_meta(&tx, "applied", &applied.last_applied, None)?;
            set_meta(
                &tx,
                "membership",
                &applied.membership,
                Some((&self.inner.keys, MEMBERSHIP_PURPOSE)),
            )?;
            tx.commit().map_err(io_err)?;
            *data = new;
        }
        self.save_snapshot(&StoredSnapshot {
            meta: meta.clone(),
            data: bytes,
        })
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.load_snapshot()?.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}
