//! Filesystem storage under one root directory:
//!
//! ```text
//! blobs/sha256/<hex>                                   content (blobs and manifests)
//! repositories/<name>/_layers/sha256/<hex>             blob linked into the repository
//! repositories/<name>/_manifests/revisions/sha256/<hex> manifest in the repository
//!                                                       (the file holds its media type)
//! repositories/<name>/_manifests/tags/<tag>            the tag's digest
//! pending/sha256/<hex>                                 uploaded blobs, verified, not yet fsynced
//! uploads/<id>/{data,repo}                             blob uploads in progress
//! tmp/                                                 files on their way in
//! ```
//!
//! Crash safety: every file is written to `tmp/`, fsynced and renamed into
//! place (then the directory fsynced), and the order of the renames makes
//! each step visible only after what it points to: blob content, then the
//! repository's link, then the manifest's revision link, then the tag. A
//! kill -9 at any point leaves at most unreferenced files in `tmp/` and
//! `uploads/` (removed at the next start). Concurrent writes of the same
//! blob rename identical content onto the same path, which is safe.
//!
//! Uploaded blobs are the exception that keeps uploads fast: their digest
//! is checked as they stream in, and they land in `pending/` without an
//! fsync (a client gets its 201 at once, and can already read the blob).
//! [`Storage::make_durable`] then fsyncs each into `blobs/` (in the
//! background, and always before a manifest naming it is stored), so a
//! manifest never points at a blob a power cut could lose. At start,
//! whatever is still pending is hashed again: moved to `blobs/` when its
//! content matches its name, removed otherwise.
//! Repository path components can never start with `_`, so the `_layers` and
//! `_manifests` folders cannot clash with a repository name.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::Digest as _;

use crate::names::{Digest, Reference};

/// The registry's files.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    /// Held while a pending blob is fsynced and moved into `blobs/`, so no
    /// other file can take its place between the fsync and the rename.
    durable: Arc<Mutex<()>>,
}

/// A manifest read back: its digest, media type as pushed, and bytes.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// Whether an upload belongs to a repository, and how large it is.
#[derive(Debug, Clone)]
pub struct Upload {
    pub id: String,
    pub repo: String,
    pub size: u64,
}

impl Storage {
    /// Opens (creating) the root and removes what a crash left in `tmp/`.
    pub fn open(root: &Path) -> io::Result<Storage> {
        let s = Storage {
            root: root.to_path_buf(),
            durable: Arc::new(Mutex::new(())),
        };
        for d in [
            "blobs/sha256",
            "pending/sha256",
            "repositories",
            "uploads",
            "tmp",
        ] {
            fs::create_dir_all(root.join(d))?;
        }
        for entry in fs::read_dir(root.join("tmp"))? {
            let entry = entry?;
            let _ = fs::remove_file(entry.path());
        }
        s.resolve_pending()?;
        Ok(s)
    }

    /// Blobs a crash left in `pending/`: hashed again, made durable when
    /// the content matches the name, removed otherwise.
    fn resolve_pending(&self) -> io::Result<()> {
        for entry in fs::read_dir(self.root.join("pending/sha256"))? {
            let path = entry?.path();
            let named = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| Digest::parse(&format!("sha256:{n}")).ok());
            let good = match &named {
                Some(d) => &hash_file(&path)?.0 == d,
                None => false,
            };
            match named {
                Some(d) if good => {
                    self.make_durable(&d)?;
                }
                _ => {
                    tracing::warn!(path = %path.display(), "removing a pending blob whose content does not match its name");
                    fs::remove_file(&path)?;
                }
            }
        }
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    fn pending_path(&self, d: &Digest) -> PathBuf {
        self.root.join("pending/sha256").join(d.hex())
    }

    /// Where the content of `d` is: durable, else pending.
    pub fn blob_file(&self, d: &Digest) -> Option<PathBuf> {
        [self.blob_path(d), self.pending_path(d)]
            .into_iter()
            .find(|p| p.is_file())
    }

    fn repo_dir(&self, repo: &str) -> PathBuf {
        self.root.join("repositories").join(repo)
    }

    fn layer_link(&self, repo: &str, d: &Digest) -> PathBuf {
        self.repo_dir(repo).join("_layers/sha256").join(d.hex())
    }

    fn revision_link(&self, repo: &str, d: &Digest) -> PathBuf {
        self.repo_dir(repo)
            .join("_manifests/revisions/sha256")
            .join(d.hex())
    }

    fn tags_dir(&self, repo: &str) -> PathBuf {
        self.repo_dir(repo).join("_manifests/tags")
    }

    fn upload_dir(&self, id: &str) -> PathBuf {
        self.root.join("uploads").join(id)
    }

    /// A new temporary file path under `tmp/`.
    pub fn temp_path(&self) -> PathBuf {
        self.root.join("tmp").join(random_id())
    }

    /// Writes `data` to `path` atomically (temp file, fsync, rename, fsync
    /// of the directory).
    pub fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let tmp = self.temp_path();
        let res = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            let dir = parent(path)?;
            fs::create_dir_all(dir)?;
            fs::rename(&tmp, path)?;
            sync_dir(dir)
        })();
        if res.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        res
    }

    // ---- blobs -------------------------------------------------------------

    /// Whether the content of `d` is stored.
    pub fn blob_exists(&self, d: &Digest) -> bool {
        self.blob_file(d).is_some()
    }

    /// Whether `d` is linked into `repo` and its content is stored: the
    /// size if so.
    pub fn repo_blob_size(&self, repo: &str, d: &Digest) -> Option<u64> {
        if !self.layer_link(repo, d).is_file() {
            return None;
        }
        fs::metadata(self.blob_file(d)?).ok().map(|m| m.len())
    }

    /// Links a stored blob into `repo`.
    pub fn link_blob(&self, repo: &str, d: &Digest) -> io::Result<()> {
        let link = self.layer_link(repo, d);
        if link.is_file() {
            return Ok(());
        }
        self.atomic_write(&link, d.to_string().as_bytes())
    }

    /// Removes `d`'s link from `repo` (the content stays for the garbage
    /// collector). False when it was not linked.
    pub fn unlink_blob(&self, repo: &str, d: &Digest) -> io::Result<bool> {
        match fs::remove_file(self.layer_link(repo, d)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Moves the finished file `tmp` into the content store if its digest
    /// is `expected`; on a mismatch removes it and answers the real digest.
    /// Must run off the async threads (it reads the whole file). The blob
    /// is pending until [`Storage::make_durable`].
    pub fn commit_file(&self, tmp: &Path, expected: &Digest) -> io::Result<Result<u64, Digest>> {
        let (got, size) = hash_file(tmp)?;
        if &got != expected {
            let _ = fs::remove_file(tmp);
            return Ok(Err(got));
        }
        self.commit_verified(tmp, expected)?;
        Ok(Ok(size))
    }

    /// Moves `tmp`, whose content the caller hashed to `d`, into
    /// `pending/` (not fsynced): readable at once, durable after
    /// [`Storage::make_durable`].
    pub fn commit_verified(&self, tmp: &Path, d: &Digest) -> io::Result<()> {
        if !self.blob_path(d).is_file() {
            // A link, not a rename: a pending file of the same name (the
            // same content) is never replaced, so the inode that
            // make_durable fsyncs is the one it renames.
            match fs::hard_link(tmp, self.pending_path(d)) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
        }
        fs::remove_file(tmp)
    }

    /// Makes the blob `d` durable: a pending blob is fsynced and renamed
    /// into `blobs/` (then the directory fsynced). False when `d` is
    /// neither pending nor stored.
    pub fn make_durable(&self, d: &Digest) -> io::Result<bool> {
        let _held = self.durable.lock().unwrap_or_else(|e| e.into_inner());
        let pending = self.pending_path(d);
        let f = match File::open(&pending) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(self.blob_path(d).is_file())
            }
            Err(e) => return Err(e),
        };
        f.sync_all()?;
        drop(f);
        let dest = self.blob_path(d);
        fs::rename(&pending, &dest)?;
        sync_dir(parent(&dest)?)?;
        Ok(true)
    }

    /// Stores `data` as the blob `d` (which the caller computed).
    pub fn put_blob_bytes(&self, d: &Digest, data: &[u8]) -> io::Result<()> {
        let dest = self.blob_path(d);
        if dest.is_file() {
            return Ok(());
        }
        self.atomic_write(&dest, data)
    }

    /// Every blob in the content store.
    pub fn all_blobs(&self) -> io::Result<Vec<Digest>> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.root.join("blobs/sha256"))? {
            let e = e?;
            if let Some(name) = e.file_name().to_str() {
                if let Ok(d) = Digest::parse(&format!("sha256:{name}")) {
                    out.push(d);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes a blob's content.
    pub fn remove_blob(&self, d: &Digest) -> io::Result<()> {
        for p in [self.blob_path(d), self.pending_path(d)] {
            match fs::remove_file(p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// The blobs linked into `repo`.
    pub fn repo_blobs(&self, repo: &str) -> io::Result<Vec<Digest>> {
        list_digests(&self.repo_dir(repo).join("_layers/sha256"))
    }

    // ---- manifests ---------------------------------------------------------

    /// Stores a manifest (whose references the caller checked) and, for a
    /// tag, points the tag at it. Content, then revision link, then tag.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &Reference,
        media_type: &str,
        bytes: &[u8],
    ) -> io::Result<Digest> {
        let d = Digest::of(bytes);
        self.put_blob_bytes(&d, bytes)?;
        self.atomic_write(&self.revision_link(repo, &d), media_type.as_bytes())?;
        if let Reference::Tag(t) = reference {
            self.atomic_write(&self.tags_dir(repo).join(t), d.to_string().as_bytes())?;
        }
        Ok(d)
    }

    /// Resolves a tag to its digest.
    pub fn resolve_tag(&self, repo: &str, tag: &str) -> io::Result<Option<Digest>> {
        match fs::read_to_string(self.tags_dir(repo).join(tag)) {
            Ok(s) => Ok(Digest::parse(s.trim()).ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the manifest `d` is in `repo`: its media type if so.
    pub fn manifest_media_type(&self, repo: &str, d: &Digest) -> io::Result<Option<String>> {
        match fs::read_to_string(self.revision_link(repo, d)) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads the manifest `reference` of `repo`.
    pub fn get_manifest(
        &self,
        repo: &str,
        reference: &Reference,
    ) -> io::Result<Option<StoredManifest>> {
        let d = match reference {
            Reference::Digest(d) => d.clone(),
            Reference::Tag(t) => match self.resolve_tag(repo, t)? {
                Some(d) => d,
                None => return Ok(None),
            },
        };
        let Some(media_type) = self.manifest_media_type(repo, &d)? else {
            return Ok(None);
        };
        let bytes = match fs::read(self.blob_path(&d)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(StoredManifest {
            digest: d,
            media_type,
            bytes,
        }))
    }

    /// Removes the manifest `d` from `repo` and every tag pointing at it.
    /// False when it was not there.
    pub fn delete_manifest(&self, repo: &str, d: &Digest) -> io::Result<bool> {
        if self.manifest_media_type(repo, d)?.is_none() {
            return Ok(false);
        }
        for (tag, td) in self.tags(repo)? {
            if &td == d {
                fs::remove_file(self.tags_dir(repo).join(tag))?;
            }
        }
        fs::remove_file(self.revision_link(repo, d))?;
        Ok(true)
    }

    /// Removes a tag. False when there was none.
    pub fn delete_tag(&self, repo: &str, tag: &str) -> io::Result<bool> {
        match fs::remove_file(self.tags_dir(repo).join(tag)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The manifests of `repo`.
    pub fn revisions(&self, repo: &str) -> io::Result<Vec<Digest>> {
        list_digests(&self.repo_dir(repo).join("_manifests/revisions/sha256"))
    }

    /// The tags of `repo` and their digests, sorted by tag.
    pub fn tags(&self, repo: &str) -> io::Result<Vec<(String, Digest)>> {
        let mut out = Vec::new();
        let dir = self.tags_dir(repo);
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for e in rd {
            let e = e?;
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if let Ok(s) = fs::read_to_string(e.path()) {
                if let Ok(d) = Digest::parse(s.trim()) {
                    out.push((name, d));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Whether `repo` exists (something was ever pushed to it).
    pub fn repo_exists(&self, repo: &str) -> bool {
        let d = self.repo_dir(repo);
        d.join("_manifests").is_dir() || d.join("_layers").is_dir()
    }

    /// Every repository holding manifests, sorted.
    pub fn repositories(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        walk_repos(&self.root.join("repositories"), "", &mut out)?;
        out.sort();
        Ok(out)
    }

    // ---- uploads -----------------------------------------------------------

    /// Starts an upload into `repo`.
    pub fn new_upload(&self, repo: &str) -> io::Result<Upload> {
        let id = random_uuid();
        let dir = self.upload_dir(&id);
        fs::create_dir_all(&dir)?;
        File::create(dir.join("data"))?;
        fs::write(dir.join("repo"), repo)?;
        Ok(Upload {
            id,
            repo: repo.to_string(),
            size: 0,
        })
    }

    /// The upload `id` of `repo`, if there is one.
    pub fn upload(&self, repo: &str, id: &str) -> io::Result<Option<Upload>> {
        if !valid_upload_id(id) {
            return Ok(None);
        }
        let dir = self.upload_dir(id);
        let owner = match fs::read_to_string(dir.join("repo")) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if owner != repo {
            return Ok(None);
        }
        let size = fs::metadata(dir.join("data"))?.len();
        Ok(Some(Upload {
            id: id.to_string(),
            repo: owner,
            size,
        }))
    }

    /// Where an upload's bytes go.
    pub fn upload_data(&self, id: &str) -> PathBuf {
        self.upload_dir(id).join("data")
    }

    /// Uploads not written to for `age`: (id, repository).
    pub fn stale_uploads(&self, age: std::time::Duration) -> io::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.root.join("uploads"))? {
            let e = e?;
            let Some(id) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let data = e.path().join("data");
            let old = fs::metadata(&data)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|el| el >= age);
            if old {
                let repo = fs::read_to_string(e.path().join("repo")).unwrap_or_default();
                out.push((id, repo));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes an upload.
    pub fn remove_upload(&self, id: &str) -> io::Result<()> {
        match fs::remove_dir_all(self.upload_dir(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn parent(p: &Path) -> io::Result<&Path> {
    p.parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path without a parent"))
}

/// The digest and size of a file's content.
fn hash_file(path: &Path) -> io::Result<(Digest, u64)> {
    let mut f = File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((Digest::from_hasher(h), size))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn list_digests(dir: &Path) -> io::Result<Vec<Digest>> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        if let Some(name) = e.file_name().to_str() {
            if let Ok(d) = Digest::parse(&format!("sha256:{name}")) {
                out.push(d);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn walk_repos(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if name.starts_with('_') || !e.file_type()?.is_dir() {
            continue;
        }
        let full = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if e.path().join("_manifests/revisions").is_dir() {
            out.push(full.clone());
        }
        walk_repos(&e.path(), &full, out)?;
    }
    Ok(())
}

/// Random hex, for temporary file names.
fn random_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A random version-4 UUID, as distribution names its uploads.
fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Upload ids are our UUIDs: anything else (a `..`, a slash) is unknown.
fn valid_upload_id(id: &str) -> bool {
    id.len() == 36
        && id
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c) || c == b'-')
}
