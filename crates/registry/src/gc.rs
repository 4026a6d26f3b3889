//! `garbage-collect`: mark every blob a manifest references, then sweep the
//! rest, as distribution's collector does. Run it with the registry stopped
//! (an upload committing during the sweep could lose its blob).

use std::collections::BTreeSet;
use std::io::{self, Write};

use serde_json::Value;

use crate::names::{Digest, Reference};
use crate::storage::Storage;

/// How long an upload may stay untouched before the collector drops it.
pub const UPLOAD_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// What a run found (and, unless dry, removed).
#[derive(Debug, Default)]
pub struct GcReport {
    pub marked: usize,
    pub uploads_deleted: Vec<String>,
    pub blobs_deleted: Vec<Digest>,
    pub manifests_deleted: Vec<(String, Digest)>,
}

fn children(bytes: &[u8]) -> (Vec<Digest>, Vec<Digest>, Option<Digest>) {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return (vec![], vec![], None);
    };
    let digests = |key: &str| -> Vec<Digest> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.get("digest").and_then(Value::as_str))
                    .filter_map(|s| Digest::parse(s).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut blobs = digests("layers");
    if let Some(c) = v
        .get("config")
        .and_then(|c| c.get("digest"))
        .and_then(Value::as_str)
        .and_then(|s| Digest::parse(s).ok())
    {
        blobs.push(c);
    }
    let subject = v
        .get("subject")
        .and_then(|c| c.get("digest"))
        .and_then(Value::as_str)
        .and_then(|s| Digest::parse(s).ok());
    (blobs, digests("manifests"), subject)
}

/// Marks and sweeps, writing what it does to `out`.
pub fn collect(
    storage: &Storage,
    dry_run: bool,
    delete_untagged: bool,
    out: &mut dyn Write,
) -> io::Result<GcReport> {
    let mut report = GcReport::default();
    let mut marked: BTreeSet<Digest> = BTreeSet::new();
    for repo in storage.repositories()? {
        writeln!(out, "{repo}")?;
        let revisions = storage.revisions(&repo)?;
        // The manifests kept: all, or with --delete-untagged those reachable
        // from a tag (through indexes, and the referrers of kept ones).
        let mut keep: BTreeSet<Digest> = if delete_untagged {
            storage.tags(&repo)?.into_iter().map(|(_, d)| d).collect()
        } else {
            revisions.iter().cloned().collect()
        };
        let mut parsed = Vec::new();
        for d in &revisions {
            if let Some(m) = storage.get_manifest(&repo, &Reference::Digest(d.clone()))? {
                parsed.push((d.clone(), children(&m.bytes)));
            }
        }
        loop {
            let before = keep.len();
            for (d, (_, manifests, subject)) in &parsed {
                if keep.contains(d) {
                    keep.extend(manifests.iter().cloned());
                } else if subject.as_ref().is_some_and(|s| keep.contains(s)) {
                    keep.insert(d.clone());
                }
            }
            if keep.len() == before {
                break;
            }
        }
        for (d, (blobs, _, _)) in &parsed {
            if !keep.contains(d) {
                writeln!(out, "{repo}: manifest eligible for deletion: {d}")?;
                report.manifests_deleted.push((repo.clone(), d.clone()));
                if !dry_run {
                    storage.delete_manifest(&repo, d)?;
                }
                continue;
            }
            writeln!(out, "{repo}: marking manifest {d}")?;
            marked.insert(d.clone());
            for b in blobs {
                writeln!(out, "{repo}: marking blob {b}")?;
                marked.insert(b.clone());
            }
        }
    }
    for b in storage.all_blobs()? {
        if !marked.contains(&b) {
            report.blobs_deleted.push(b);
        }
    }
    report.marked = marked.len();
    writeln!(
        out,
        "\n{} blobs marked, {} blobs and {} manifests eligible for deletion",
        report.marked,
        report.blobs_deleted.len(),
        report.manifests_deleted.len()
    )?;
    for b in &report.blobs_deleted {
        writeln!(out, "blob eligible for deletion: {b}")?;
        if !dry_run {
            storage.remove_blob(b)?;
        }
    }
    // Uploads untouched for a week are abandoned (distribution's
    // uploadpurging default age).
    for (id, repo) in storage.stale_uploads(UPLOAD_MAX_AGE)? {
        writeln!(out, "upload eligible for deletion: {repo} {id}")?;
        if !dry_run {
            storage.remove_upload(&id)?;
        }
        report.uploads_deleted.push(id);
    }
    if !dry_run {
        // Links to swept blobs would only answer 404 later: drop them.
        for repo in storage.repositories()? {
            for b in storage.repo_blobs(&repo)? {
                if !storage.blob_exists(&b) {
                    storage.unlink_blob(&repo, &b)?;
                }
            }
        }
    }
    Ok(report)
}
