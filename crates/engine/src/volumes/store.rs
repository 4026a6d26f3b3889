//! The volume store of dockerd's `local` driver: `<data-root>/volumes/<name>/_data`,
//! records in the engine's SQLite store (table `volumes` beside the
//! containers), options `type`/`device`/`o` mounted at first use.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_api::{Error, Result};
use indexmap::IndexMap;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

/// The label docker 23+ puts on anonymous volumes; `volume prune` without
/// `--all` removes only volumes that carry it.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// Options the `local` driver takes (moby `volume/local`).
const VALID_OPTS: &[&str] = &["type", "device", "o", "size"];

/// What the store keeps of a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    pub driver: String,
    /// RFC 3339, seconds, as dockerd prints it.
    pub created_at: String,
    pub labels: IndexMap<String, String>,
    pub options: IndexMap<String, String>,
}

impl VolumeRecord {
    pub fn anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
}

/// The longest file name Linux takes (`NAME_MAX`), hence volume name.
const NAME_MAX: usize = 255;

/// Volume names as dockerd's local driver takes them.
pub fn check_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok_chars = !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c));
    if !ok_chars {
        return Err(Error::invalid(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )));
    }
    if b.len() < 2 {
        return Err(Error::invalid(format!(
            "create {name}: volume name is too short, names should be at least two alphanumeric characters"
        )));
    }
    // The name is a directory's: longer than a file name may be, dockerd
    // fails with a 500 (`file name too long`) after taking the request.
    if b.len() > NAME_MAX {
        return Err(Error::invalid(format!(
            "create {name}: volume name is too long ({} characters), names can be at most {NAME_MAX} characters",
            b.len()
        )));
    }
    Ok(())
}

/// The local driver's option checks (moby `validateOpts`).
pub fn check_options(name: &str, opts: &IndexMap<String, String>) -> Result<()> {
    if opts.is_empty() {
        return Ok(());
    }
    for k in opts.keys() {
        if !VALID_OPTS.contains(&k.as_str()) {
            return Err(Error::invalid(format!(
                "create {name}: invalid option: \"{k}\""
            )));
        }
    }
    if opts.contains_key("size") {
        return Err(Error::invalid(format!(
            "create {name}: quota size requested but no quota support"
        )));
    }
    for k in ["type", "device"] {
        if !opts.contains_key(k) {
            return Err(Error::invalid(format!(
                "create {name}: missing required option: \"{k}\""
            )));
        }
    }
    Ok(())
}

fn internal(e: rusqlite::Error) -> Error {
    Error::internal(format!("state store: {e}"))
}

/// The volume store of one data root.
pub struct VolumeStore {
    root: PathBuf,
    conn: Mutex<Connection>,
    /// Serialises create/remove/mount so two starts never mount twice.
    lock: Mutex<()>,
}

impl VolumeStore {
    /// Opens the store in `db` (the engine's SQLite file) with the volumes
    /// under `root` (`<data-root>/volumes`).
    pub fn open(db: &Path, root: &Path) -> Result<VolumeStore> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o701)
            .create(root)
            .map_err(|e| Error::internal(format!("creating {}: {e}", root.display())))?;
        let conn = Connection::open(db).map_err(internal)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS volumes (
                 name TEXT PRIMARY KEY,
                 doc TEXT NOT NULL
             );",
        )
        .map_err(internal)?;
        Ok(VolumeStore {
            root: root.to_path_buf(),
            conn: Mutex::new(conn),
            lock: Mutex::new(()),
        })
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// `<root>/<name>/_data`: the volume's content, its `Mountpoint`.
    pub fn data_path(&self, name: &str) -> PathBuf {
        self.dir(name).join("_data")
    }

    pub fn list(&self) -> Result<Vec<VolumeRecord>> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn
            .prepare("SELECT doc FROM volumes ORDER BY name")
            .map_err(internal)?;
        let docs = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(internal)?;
        let mut out = Vec::new();
        for doc in docs {
            match serde_json::from_str(&doc.map_err(internal)?) {
                Ok(v) => out.push(v),
                Err(e) => tracing::error!("skipping an unreadable volume record: {e}"),
            }
        }
        Ok(out)
    }

    pub fn get(&self, name: &str) -> Result<VolumeRecord> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let doc: Option<String> = conn
            .query_row(
                "SELECT doc FROM volumes WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(internal(e)),
            })?;
        match doc {
            Some(d) => serde_json::from_str(&d).map_err(|e| Error::internal(e.to_string())),
            None => Err(Error::not_found(format!("get {name}: no such volume"))),
        }
    }

    /// Makes a volume (a fresh 64-hex name when `name` is `None`), or
    /// returns the one of that name. Its directory exists before its
    /// record, so a crash leaves at most an unlisted directory.
    pub fn create(
        &self,
        name: Option<&str>,
        labels: IndexMap<String, String>,
        options: IndexMap<String, String>,
    ) -> Result<VolumeRecord> {
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => crate::new_id(),
        };
        check_name(&name)?;
        check_options(&name, &options)?;
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(v) = self.get(&name) {
            return Ok(v);
        }
        let data = self.data_path(&name);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&data)
            .map_err(|e| Error::internal(format!("create {name}: {e}")))?;
        let created_at = std::fs::metadata(self.dir(&name))
            .ok()
            .and_then(|m| chrono::DateTime::from_timestamp(m.ctime(), 0))
            .unwrap_or_else(chrono::Utc::now)
            .with_timezone(&chrono::Local)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let v = VolumeRecord {
            name: name.clone(),
            driver: "local".into(),
            created_at,
            labels,
            options,
        };
        let doc = serde_json::to_string(&v).map_err(|e| Error::internal(e.to_string()))?;
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = conn.execute(
            "INSERT INTO volumes (name, doc) VALUES (?1, ?2)",
            params![name, doc],
        ) {
            let _ = std::fs::remove_dir_all(self.dir(&name));
            return Err(internal(e));
        }
        Ok(v)
    }

    /// Records a volume a plugin made (it has no directory here).
    pub fn insert_record(&self, v: &VolumeRecord) -> Result<()> {
        let doc = serde_json::to_string(v).map_err(|e| Error::internal(e.to_string()))?;
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute(
            "INSERT INTO volumes (name, doc) VALUES (?1, ?2)",
            params![v.name, doc],
        )
        .map_err(internal)?;
        Ok(())
    }

    /// Forgets a plugin's volume (the plugin removed its data).
    pub fn delete_record(&self, name: &str) -> Result<()> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute("DELETE FROM volumes WHERE name = ?1", params![name])
            .map_err(internal)?;
        Ok(())
    }

    /// Deletes the record, then the directory (unmounting it first).
    pub fn remove(&self, name: &str) -> Result<()> {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.get(name)
            .map_err(|_| Error::not_found(format!("get {name}: no such volume")))?;
        let data = self.data_path(name);
        if is_mountpoint(&data) {
            nix::mount::umount2(&data, nix::mount::MntFlags::MNT_DETACH)
                .map_err(|e| Error::internal(format!("remove {name}: unmount: {e}")))?;
        }
        {
            let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            conn.execute("DELETE FROM volumes WHERE name = ?1", params![name])
                .map_err(internal)?;
        }
        if let Err(e) = std::fs::remove_dir_all(self.dir(name)) {
            tracing::warn!(volume = %name, "removing the volume's directory: {e}");
        }
        Ok(())
    }

    /// Mounts a volume's device (`-o type=... device=... o=...`) on its
    /// `_data` unless it is mounted already; plain volumes need nothing.
    pub fn mount(&self, name: &str) -> Result<()> {
        let v = self.get(name)?;
        if v.options.is_empty() {
            return Ok(());
        }
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let data = self.data_path(name);
        if is_mountpoint(&data) {
            return Ok(());
        }
        let fstype = v.options.get("type").cloned().unwrap_or_default();
        let device = v.options.get("device").cloned().unwrap_or_default();
        let (mut flags, data_opts) =
            mount_flags(v.options.get("o").map(String::as_str).unwrap_or(""));
        let fs = if fstype == "none" {
            None
        } else {
            Some(fstype.as_str())
        };
        if fstype == "none" && !flags.contains(nix::mount::MsFlags::MS_BIND) {
            flags |= nix::mount::MsFlags::MS_BIND;
        }
        let data_opts = (!data_opts.is_empty()).then_some(data_opts);
        nix::mount::mount(
            Some(device.as_str()),
            &data,
            fs,
            flags,
            data_opts.as_deref(),
        )
        .map_err(|e| {
            Error::internal(format!(
                "error while mounting volume '{}': failed to mount local volume: mount {device}:{} , flags: {:#x}, data: {}: {}",
                data.display(),
                data.display(),
                flags.bits(),
                data_opts.as_deref().unwrap_or(""),
                e.desc().to_ascii_lowercase()
            ))
        })
    }

    /// Unmounts a device volume (no-op for plain ones).
    pub fn unmount(&self, name: &str) {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let data = self.data_path(name);
        if is_mountpoint(&data) {
            if let Err(e) = nix::mount::umount2(&data, nix::mount::MntFlags::MNT_DETACH) {
                tracing::warn!(volume = %name, "unmounting: {e}");
            }
        }
    }

    /// Bytes of the regular files in the volume, as dockerd counts them.
    pub fn size(&self, name: &str) -> i64 {
        dir_size(&self.data_path(name))
    }

    /// Unmounts every device volume: on daemon start (no container runs
    /// yet that was not re-adopted) the counts start from zero.
    pub fn unmount_all_unused(&self, in_use: &[String]) {
        if let Ok(list) = self.list() {
            for v in list.iter().filter(|v| !v.options.is_empty()) {
                if !in_use.contains(&v.name) {
                    self.unmount(&v.name);
                }
            }
        }
    }
}

/// `o=` of the local driver: mount flags and the rest as data.
fn mount_flags(o: &str) -> (nix::mount::MsFlags, String) {
    use nix::mount::MsFlags as F;
    let mut flags = F::empty();
    let mut data = Vec::new();
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        match opt {
            "ro" => flags |= F::MS_RDONLY,
            "rw" => flags &= !F::MS_RDONLY,
            "nosuid" => flags |= F::MS_NOSUID,
            "nodev" => flags |= F::MS_NODEV,
            "noexec" => flags |= F::MS_NOEXEC,
            "sync" => flags |= F::MS_SYNCHRONOUS,
            "noatime" => flags |= F::MS_NOATIME,
            "nodiratime" => flags |= F::MS_NODIRATIME,
            "relatime" => flags |= F::MS_RELATIME,
            "strictatime" => flags |= F::MS_STRICTATIME,
            "bind" => flags |= F::MS_BIND,
            "rbind" => flags |= F::MS_BIND | F::MS_REC,
            "defaults" | "suid" | "dev" | "exec" | "async" | "atime" => {}
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

/// Whether `p` is a mount point (in this process's mount table).
pub fn is_mountpoint(p: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = p.display().to_string();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| unescape_mount(m) == want)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn dir_size(p: &Path) -> i64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) if m.is_file() => m.len() as i64,
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_dockerd() {
        assert!(check_name("data").is_ok());
        assert!(check_name("a.b_c-d").is_ok());
        assert_eq!(check_name("a/b").unwrap_err().message, "create a/b: \"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path");
        assert!(check_name("..").is_err());
        assert!(check_name(&"v".repeat(255)).is_ok());
        assert!(check_name(&"v".repeat(256))
            .unwrap_err()
            .message
            .contains("volume name is too long (256 characters)"));
        assert!(check_name(".x").is_err());
        assert_eq!(check_name("x").unwrap_err().message, "create x: volume name is too short, names should be at least two alphanumeric characters");
    }

    #[test]
    fn options_like_dockerd() {
        let o = |kv: &[(&str, &str)]| -> IndexMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(check_options("v", &o(&[])).is_ok());
        assert!(check_options(
            "v",
            &o(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")])
        )
        .is_ok());
        assert_eq!(
            check_options("v", &o(&[("bogus", "1")]))
                .unwrap_err()
                .message,
            "create v: invalid option: \"bogus\""
        );
        assert_eq!(
            check_options("v", &o(&[("type", "tmpfs")]))
                .unwrap_err()
                .message,
            "create v: missing required option: \"device\""
        );
        let (f, d) = mount_flags("ro,size=1m,uid=5,nosuid");
        assert!(f.contains(nix::mount::MsFlags::MS_RDONLY | nix::mount::MsFlags::MS_NOSUID));
        assert_eq!(d, "size=1m,uid=5");
    }

    #[test]
    fn store_survives_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("c.db");
        let root = tmp.path().join("volumes");
        let s = VolumeStore::open(&db, &root).unwrap();
        let v = s
            .create(
                Some("keep"),
                IndexMap::from([("a".into(), "b".into())]),
                IndexMap::new(),
            )
            .unwrap();
        let anon = s.create(None, IndexMap::new(), IndexMap::new()).unwrap();
        assert_eq!(anon.name.len(), 64);
        assert!(s.data_path("keep").is_dir());
        std::fs::write(s.data_path("keep").join("f"), b"12345").unwrap();
        drop(s);
        let s = VolumeStore::open(&db, &root).unwrap();
        assert_eq!(s.get("keep").unwrap(), v);
        assert_eq!(s.size("keep"), 5);
        assert_eq!(s.list().unwrap().len(), 2);
        s.remove("keep").unwrap();
        assert!(!root.join("keep").exists());
        assert_eq!(
            s.get("keep").unwrap_err().message,
            "get keep: no such volume"
        );
        assert!(s
            .create(Some("a/b"), IndexMap::new(), IndexMap::new())
            .is_err());
        assert!(!root.join("a").exists());
    }
}
