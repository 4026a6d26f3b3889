//! Container records in an embedded SQLite database under the data root.
//! Each record is one row holding its JSON document, written in a
//! transaction, so a crash leaves either the old or the new record.

use std::path::Path;
use std::sync::Mutex;

use berth_api::{Error, Result};
use rusqlite::{params, Connection};

use crate::containers::container::Record;
use crate::networks::NetworkRecord;

pub struct Db {
    conn: Mutex<Connection>,
}

fn internal(e: rusqlite::Error) -> Error {
    Error::internal(format!("state store: {e}"))
}

impl Db {
    pub fn open(path: &Path) -> Result<Db> {
        let conn = Connection::open(path).map_err(internal)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS containers (
                 id TEXT PRIMARY KEY,
                 name TEXT NOT NULL UNIQUE,
                 doc TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS networks (
                 id TEXT PRIMARY KEY,
                 doc TEXT NOT NULL
             );",
        )
        .map_err(internal)?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    pub fn load_all(&self) -> Result<Vec<Record>> {
        self.load_docs("containers")
    }

    /// Every JSON document of `table`; an unreadable one is skipped (and
    /// logged) so one bad row never keeps the daemon from starting.
    fn load_docs<T: serde::de::DeserializeOwned>(&self, table: &str) -> Result<Vec<T>> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn
            .prepare(&format!("SELECT doc FROM {table}"))
            .map_err(internal)?;
        let docs = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(internal)?;
        let mut out = Vec::new();
        for doc in docs {
            let doc = doc.map_err(internal)?;
            match serde_json::from_str(&doc) {
                Ok(r) => out.push(r),
                Err(e) => tracing::error!("skipping an unreadable row of {table}: {e}"),
            }
        }
        Ok(out)
    }

    pub fn put(&self, r: &Record) -> Result<()> {
        let doc = serde_json::to_string(r).map_err(|e| Error::internal(e.to_string()))?;
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute(
            "INSERT INTO containers (id, name, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, doc = excluded.doc",
            params![r.id, r.name, doc],
        )
        .map_err(internal)?;
        Ok(())
    }

    pub fn delete(&self, id: &str) -> Result<()> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute("DELETE FROM containers WHERE id = ?1", params![id])
            .map_err(internal)?;
        Ok(())
    }

    pub fn load_networks(&self) -> Result<Vec<NetworkRecord>> {
        self.load_docs("networks")
    }

    pub fn put_network(&self, n: &NetworkRecord) -> Result<()> {
        let doc = serde_json::to_string(n).map_err(|e| Error::internal(e.to_string()))?;
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute(
            "INSERT INTO networks (id, doc) VALUES (?1, ?2)
             ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
            params![n.id, doc],
        )
        .map_err(internal)?;
        Ok(())
    }

    pub fn delete_network(&self, id: &str) -> Result<()> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute("DELETE FROM networks WHERE id = ?1", params![id])
            .map_err(internal)?;
        Ok(())
    }
}
