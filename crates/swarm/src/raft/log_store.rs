//! The Raft log and vote in SQLite (see the module docs of `raft`).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, RaftLogReader, StorageIOError, Vote};
use rusqlite::{params, OptionalExtension};

use super::{io_err, open_db, LogId, StorageError, TypeConfig};
use crate::lock::DataKeys;

/// What log entries are sealed for (see `crate::lock`).
const ENTRY_PURPOSE: &[u8] = b"raft-log";

/// The log store; clones share the connection (the reader openraft asks for).
/// Entries are sealed with the data key; the vote and indexes are not secret.
#[derive(Clone)]
pub struct LogStore {
    conn: Arc<Mutex<rusqlite::Connection>>,
    keys: Arc<DataKeys>,
}

fn read_entry(keys: &DataKeys, blob: &[u8]) -> Result<Entry<TypeConfig>, StorageError> {
    let json = keys
        .open(ENTRY_PURPOSE, blob)
        .map_err(|e| StorageIOError::read_logs(&e))?;
    serde_json::from_slice(&json).map_err(|e| StorageIOError::read_logs(&e).into())
}

impl LogStore {
    pub fn open(path: &Path, keys: Arc<DataKeys>) -> Result<LogStore, StorageError> {
        let conn = open_db(path).map_err(io_err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .map_err(io_err)?;
        Ok(LogStore {
            conn: Arc::new(Mutex::new(conn)),
            keys,
        })
    }

    /// Append one entry before Raft is started on this log (the single
    /// voter membership `--force-new-cluster` writes).
    pub(crate) fn append_before_start(
        &self,
        entry: &Entry<TypeConfig>,
    ) -> Result<(), StorageError> {
        let json = serde_json::to_vec(entry).map_err(|e| StorageIOError::write_logs(&e))?;
        let blob = self.keys.seal(ENTRY_PURPOSE, &json);
        self.db()
            .execute(
                "INSERT INTO log (idx, entry) VALUES (?1, ?2)",
                params![entry.log_id.index as i64, blob],
            )
            .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }

    /// Re-seal every entry under the current data key (after
    /// `DataKeys::begin_rotation`), then rewrite the file so no page keeps
    /// a blob under the old key.
    pub(crate) fn reseal_all(&self) -> Result<(), StorageError> {
        let mut db = self.db();
        let tx = db.transaction().map_err(io_err)?;
        let rows: Vec<(i64, Vec<u8>)> = {
            let mut stmt = tx.prepare("SELECT idx, entry FROM log").map_err(io_err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(io_err)?;
            rows.collect::<Result<_, _>>().map_err(io_err)?
        };
        for (idx, blob) in rows {
            let plain = self
                .keys
                .open(ENTRY_PURPOSE, &blob)
                .map_err(|e| StorageIOError::read_logs(&e))?;
            let blob = self.keys.seal(ENTRY_PURPOSE, &plain);
            tx.execute(
                "UPDATE log SET entry = ?2 WHERE idx = ?1",
                params![idx, blob],
            )
            .map_err(io_err)?;
        }
        tx.commit().map_err(io_err)?;
        Ok(super::compact_db(&db).map_err(io_err)?)
    }

    fn db(&self) -> MutexGuard<'_, rusqlite::Connection> {
        // A poisoned lock means a panic mid-call; the SQLite transaction
        // rolled back, so the connection itself is still consistent.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StorageError> {
        let text: Option<String> = self
            .db()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| StorageIOError::read(&e))?;
        match text {
            None => Ok(None),
            Some(t) => serde_json::from_str(&t).map_err(|e| StorageIOError::read(&e).into()),
        }
    }

    fn set_meta<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), StorageError> {
        let text = serde_json::to_string(value).map_err(io_err)?;
        self.db()
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, text],
            )
            .map_err(io_err)?;
        Ok(())
    }
}

fn bound_to_sql(range: &impl RangeBounds<u64>) -> (i64, i64) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s + 1,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => u64::MAX,
    };
    (
        start.min(i64::MAX as u64) as i64,
        end.min(i64::MAX as u64) as i64,
    )
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let (start, end) = bound_to_sql(&range);
        let db = self.db();
        let mut stmt = db
            .prepare_cached("SELECT entry FROM log WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
            .map_err(|e| StorageIOError::read_logs(&e))?;
        let rows = stmt
            .query_map(params![start, end], |r| r.get::<_, Vec<u8>>(0))
            .map_err(|e| StorageIOError::read_logs(&e))?;
        let mut out = Vec::new();
        for row in rows {
            let blob = row.map_err(|e| StorageIOError::read_logs(&e))?;
            out.push(read_entry(&self.keys, &blob)?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId> = self.get_meta("purged")?;
        let last: Option<Vec<u8>> = self
            .db()
            .query_row("SELECT entry FROM log ORDER BY idx DESC LIMIT 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| StorageIOError::read_logs(&e))?;
        let last_log_id = match last {
            Some(blob) => Some(read_entry(&self.keys, &blob)?.log_id),
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        self.set_meta("vote", vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        self.get_meta("vote")
    }

    // Keeping the committed index lets a restarted manager re-apply its own
    // committed entries at once instead of waiting for a leader.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.set_meta("committed", &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.get_meta::<Option<LogId>>("committed")?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let result = (|| -> Result<(), StorageError> {
            let mut db = self.db();
            let tx = db
                .transaction()
                .map_err(|e| StorageIOError::write_logs(&e))?;
            {
                let mut stmt = tx
                    .prepare_cached("INSERT OR REPLACE INTO log (idx, entry) VALUES (?1, ?2)")
                    .map_err(|e| StorageIOError::write_logs(&e))?;
                for entry in entries {
                    let json =
                        serde_json::to_vec(&entry).map_err(|e| StorageIOError::write_logs(&e))?;
                    let blob = self.keys.seal(ENTRY_PURPOSE, &json);
                    stmt.execute(params![entry.log_id.index as i64, blob])
                        .map_err(|e| StorageIOError::write_logs(&e))?;
                }
            }
            // The commit's fsync (synchronous=FULL) is what makes the
            // callback's "flushed" true.
            tx.commit().map_err(|e| StorageIOError::write_logs(&e))?;
            Ok(())
        })();
        match &result {
            Ok(()) => callback.log_io_completed(Ok(())),
            Err(e) => callback.log_io_completed(Err(std::io::Error::other(e.to_string()))),
        }
        result
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.db()
            .execute("DELETE FROM log WHERE idx >= ?1", [log_id.index as i64])
            .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // The purge mark first: a crash between the two leaves extra rows
        // below the mark, which are never read.
        self.set_meta("purged", &log_id)?;
        self.db()
            .execute("DELETE FROM log WHERE idx <= ?1", [log_id.index as i64])
            .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }
}
