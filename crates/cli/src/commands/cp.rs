//! `berth cp [-a] [-L] SRC DST`: docker's copy rules over the archive
//! endpoints, either way, with `-` for a tar on stdin or stdout. The tar is
//! held in memory (fine for the sizes `cp` is used for; a streaming body is
//! left for later).

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;

use crate::client::{collect, q, Client, ClientError};
use crate::Failure;

#[derive(Debug, Default, clap::Args)]
pub struct CpOpts {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    pub src: String,
    pub dst: String,
}

/// `CONTAINER:PATH` or a local path (a `:` after a `/` is a local path).
fn split_arg(a: &str) -> (Option<&str>, &str) {
    if a.starts_with('/') || a.starts_with('.') {
        return (None, a);
    }
    match a.split_once(':') {
        Some((c, p)) if !c.is_empty() && !c.contains('/') => (Some(c), p),
        _ => (None, a),
    }
}

async fn stat(c: &Client, ctr: &str, path: &str) -> Result<Option<Value>, Failure> {
    let url = format!("/containers/{}/archive?path={}", q(ctr), q(path));
    match c.send("HEAD", &url, None, "").await {
        Ok(resp) => {
            let h = resp
                .headers()
                .get("X-Docker-Container-Path-Stat")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(h)
                .unwrap_or_default();
            Ok(Some(serde_json::from_slice(&raw).unwrap_or(Value::Null)))
        }
        Err(ClientError::Daemon(s, _)) if s.as_u16() == 404 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn is_dir(st: &Value) -> bool {
    st["mode"].as_u64().unwrap_or(0) & (1 << 31) != 0
}

pub async fn cp(c: &Client, o: CpOpts) -> Result<i32, Failure> {
    match (split_arg(&o.src), split_arg(&o.dst)) {
        ((Some(ctr), src), (None, dst)) => from_container(c, &o, ctr, src, dst).await,
        ((None, src), (Some(ctr), dst)) => to_container(c, &o, src, ctr, dst).await,
        ((Some(_), _), (Some(_), _)) => {
            Err(Failure::msg("copying between containers is not supported"))
        }
        _ => Err(Failure::msg("must specify at least one container source")),
    }
}

fn not_found(path: &str, ctr: &str) -> Failure {
    Failure::msg(format!(
        "Error response from daemon: Could not find the file {path} in container {ctr}"
    ))
}

async fn from_container(
    c: &Client,
    o: &CpOpts,
    ctr: &str,
    src: &str,
    dst: &str,
) -> Result<i32, Failure> {
    let Some(st) = stat(c, ctr, src).await? else {
        return Err(not_found(src, ctr));
    };
    let mut src = src.to_string();
    let link = st["linkTarget"].as_str().unwrap_or("");
    if o.follow_link && !link.is_empty() {
        src = link.to_string();
    }
    let url = format!("/containers/{}/archive?path={}", q(ctr), q(&src));
    let tar = collect(c.send("GET", &url, None, "").await?).await?;
    if dst == "-" {
        std::io::stdout()
            .write_all(&tar)
            .map_err(|e| Failure::msg(e.to_string()))?;
        return Ok(0);
    }
    let dst_path = Path::new(dst);
    let contents_only = src.ends_with("/.");
    let dst_meta = std::fs::metadata(dst_path).ok();
    // (directory to extract into, new name for the top entry, strip it)
    let (into, rename, strip) = match &dst_meta {
        Some(m) if m.is_dir() => (dst_path.to_path_buf(), None, contents_only),
        Some(_) if contents_only || is_dir_entry(&tar) => {
            return Err(Failure::msg(format!(
                "cannot copy a directory to a file: {dst}"
            )))
        }
        Some(_) => (parent(dst_path), file_name(dst_path), false),
        None if contents_only => {
            std::fs::create_dir_all(dst_path).map_err(|e| Failure::msg(e.to_string()))?;
            (dst_path.to_path_buf(), None, true)
        }
        None => {
            if dst.ends_with('/') && !is_dir_entry(&tar) {
                return Err(Failure::msg(format!(
                    "destination directory {dst} does not exist"
                )));
            }
            (parent(dst_path), file_name(dst_path), false)
        }
    };
    extract_local(&tar, &into, rename.as_deref(), strip)?;
    Ok(0)
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(x) if !x.as_os_str().is_empty() => x.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn file_name(p: &Path) -> Option<String> {
    p.file_name().map(|n| n.to_string_lossy().into_owned())
}

fn is_dir_entry(tar: &[u8]) -> bool {
    let mut ar = tar::Archive::new(tar);
    ar.entries()
        .ok()
        .and_then(|mut e| e.next())
        .and_then(|e| e.ok())
        .map(|e| e.header().entry_type() == tar::EntryType::Directory)
        .unwrap_or(false)
}

/// Unpacks on the host: the top component renamed or stripped; entries with
/// `..` or absolute names are refused.
fn extract_local(
    tar: &[u8],
    into: &Path,
    rename: Option<&str>,
    strip: bool,
) -> Result<(), Failure> {
    let mut ar = tar::Archive::new(tar);
    let err = |e: std::io::Error| Failure::msg(e.to_string());
    for e in ar.entries().map_err(err)? {
        let mut e = e.map_err(err)?;
        let p = e.path().map_err(err)?.into_owned();
        let mut comps = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(n) => comps.push(n.to_os_string()),
                Component::CurDir => {
                    if comps.is_empty() {
                        comps.push(".".into());
                    }
                }
                _ => return Err(Failure::msg(format!("invalid tar entry {}", p.display()))),
            }
        }
        if comps.is_empty() {
            continue;
        }
        if strip {
            comps.remove(0);
            if comps.is_empty() {
                continue;
            }
        } else if let Some(r) = rename {
            comps[0] = r.into();
        }
        let target: PathBuf = std::iter::once(into.as_os_str().to_os_string())
            .chain(comps)
            .collect();
        e.set_preserve_permissions(true);
        e.set_preserve_mtime(true);
        e.unpack(&target)
            .map_err(|x| Failure::msg(format!("copying to {}: {x}", target.display())))?;
    }
    Ok(())
}

async fn to_container(
    c: &Client,
    o: &CpOpts,
    src: &str,
    ctr: &str,
    dst: &str,
) -> Result<i32, Failure> {
    let put = |path: String, body: Vec<u8>| async move {
        let mut url = format!(
            "/containers/{}/archive?path={}&noOverwriteDirNonDir=true",
            q(ctr),
            q(&path)
        );
        if o.archive {
            url.push_str("&copyUIDGID=true");
        }
        c.send("PUT", &url, Some(Bytes::from(body)), "application/x-tar")
            .await
            .map(|_| ())
            .map_err(Failure::from)
    };
    if src == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .map_err(|e| Failure::msg(e.to_string()))?;
        put(dst.to_string(), body).await?;
        return Ok(0);
    }
    let src_path = Path::new(src);
    let meta = if o.follow_link {
        std::fs::metadata(src_path)
    } else {
        std::fs::symlink_metadata(src_path)
    }
    .map_err(|e| Failure::msg(format!("lstat {src}: {e}")))?;
    let contents_only = src.ends_with("/.");
    let dst_stat = stat(c, ctr, dst).await?;
    let base = file_name(src_path).unwrap_or_else(|| ".".into());
    let (put_path, top): (String, Option<String>) = match &dst_stat {
        Some(st) if is_dir(st) => (dst.to_string(), (!contents_only).then(|| base.clone())),
        Some(_) if meta.is_dir() => {
            return Err(Failure::msg(format!(
                "cannot copy a directory to a file: {dst}"
            )))
        }
        Some(_) => (parent_str(dst), file_name(Path::new(dst))),
        None if dst.ends_with('/') && !meta.is_dir() => {
            return Err(Failure::msg(format!(
                "destination directory {dst} does not exist"
            )))
        }
        None => (parent_str(dst), file_name(Path::new(dst))),
    };
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(o.follow_link);
    let err = |e: std::io::Error| Failure::msg(e.to_string());
    match &top {
        Some(name) if meta.is_dir() => b.append_dir_all(name, src_path).map_err(err)?,
        Some(name) if o.follow_link => b
            .append_path_with_name(std::fs::canonicalize(src_path).map_err(err)?, name)
            .map_err(err)?,
        Some(name) => b.append_path_with_name(src_path, name).map_err(err)?,
        None => b.append_dir_all(".", src_path).map_err(err)?,
    }
    let body = b.into_inner().map_err(err)?;
    put(put_path, body).await?;
    Ok(0)
}

fn parent_str(p: &str) -> String {
    let t = p.trim_end_matches('/');
    match t.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => t[..i].to_string(),
        None => "/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_split_like_docker() {
        assert_eq!(split_arg("web:/etc"), (Some("web"), "/etc"));
        assert_eq!(split_arg("./a:b"), (None, "./a:b"));
        assert_eq!(split_arg("/x:y"), (None, "/x:y"));
        assert_eq!(split_arg("-"), (None, "-"));
        assert_eq!(parent_str("/tmp/x"), "/tmp");
        assert_eq!(parent_str("/x"), "/");
    }
}
