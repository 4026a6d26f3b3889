//! The build context: paths inside it (never leaving it) and the
//! entries a `COPY` source names.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::copy::CopyItem;
use super::{BuildError, Builder, R};

impl Builder {
    /// A path inside the context, refused when it leaves it (`..`, or a
    /// symlink aiming outside).
    pub(super) fn context_path(&self, rel: &str, follow_last: bool) -> R<PathBuf> {
        let cleaned = crate::dockerignore::clean(rel);
        if cleaned == ".." || cleaned.starts_with("../") {
            return Err(BuildError::new(format!(
                "forbidden path outside the build context: {rel} ()"
            )));
        }
        let mut cur = self.ctx.clone();
        let parts: Vec<&str> = cleaned.split('/').filter(|p| *p != ".").collect();
        let mut hops = 0;
        let mut stack: Vec<String> = parts.iter().rev().map(|s| s.to_string()).collect();
        while let Some(p) = stack.pop() {
            if p == ".." {
                if cur == self.ctx {
                    return Err(BuildError::new(format!(
                        "forbidden path outside the build context: {rel} ()"
                    )));
                }
                cur.pop();
                continue;
            }
            let next = cur.join(&p);
            let is_last = stack.is_empty();
            match fs::symlink_metadata(&next) {
                Ok(md) if md.file_type().is_symlink() && (!is_last || follow_last) => {
                    hops += 1;
                    if hops > 40 {
                        return Err(BuildError::new(format!("too many symlinks: {rel}")));
                    }
                    let target = fs::read_link(&next)?;
                    let t = target.to_string_lossy().into_owned();
                    if t.starts_with('/') {
                        return Err(BuildError::new(format!(
                            "forbidden path outside the build context: {rel} ({t})"
                        )));
                    }
                    for seg in t.split('/').rev() {
                        if !seg.is_empty() && seg != "." {
                            stack.push(seg.to_string());
                        }
                    }
                }
                _ => cur = next,
            }
        }
        if !cur.starts_with(&self.ctx) {
            return Err(BuildError::new(format!(
                "forbidden path outside the build context: {rel} ()"
            )));
        }
        Ok(cur)
    }

    /// The context entries a `COPY` source names (globs allowed), minus the
    /// ignored ones.
    pub(super) fn context_sources(&self, src: &str, add: bool) -> R<Vec<CopyItem>> {
        let cleaned = crate::dockerignore::clean(src);
        let has_glob = cleaned.contains(['*', '?', '[']);
        let mut out = Vec::new();
        if has_glob {
            let glob = crate::dockerignore::Glob::new(&cleaned)
                .map_err(|e| BuildError::new(e.to_string()))?;
            let mut all = Vec::new();
            walk_rel(&self.ctx, "", &mut all)?;
            for rel in all {
                if glob.matches(&rel) && !self.ignore.is_ignored(&rel) {
                    let p = self.context_path(&rel, false)?;
                    out.push(CopyItem {
                        src: p,
                        rel: rel.clone(),
                        extract: add && is_archive(&self.ctx.join(&rel)),
                    });
                }
            }
            if out.is_empty() {
                return Err(BuildError::new("no source files were specified"));
            }
            return Ok(out);
        }
        let p = self.context_path(&cleaned, true)?;
        if fs::symlink_metadata(&p).is_err() || (cleaned != "." && self.ignore.is_ignored(&cleaned))
        {
            return Err(BuildError::new(format!(
                "file not found in build context or excluded by .dockerignore: stat {src}: file does not exist"
            )));
        }
        let extract = add && p.is_file() && is_archive(&p);
        out.push(CopyItem {
            src: p,
            rel: cleaned,
            extract,
        });
        Ok(out)
    }
}

fn walk_rel(root: &Path, rel: &str, out: &mut Vec<String>) -> R<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries: Vec<_> = fs::read_dir(&dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        out.push(r.clone());
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            walk_rel(root, &r, out)?;
        }
    }
    Ok(())
}

fn is_archive(p: &Path) -> bool {
    let mut head = [0u8; 512];
    let Ok(mut f) = fs::File::open(p) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    if n >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        return true;
    }
    n >= 262 && &head[257..262] == b"ustar"
}
