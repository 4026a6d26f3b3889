//! The images service: the image store (`berth-store`) as the engine
//! serves it, with what needs the engine's view: removal policy against
//! the containers that use an image, filters, and image events.

use berth_api::types::{HistoryItem, ImageDeleteItem, ImageSummary};
use berth_api::views::ImageInspect;
use berth_api::{Error, Reference, Result};
use std::io::{Read, Write};

use berth_store::{Image, ImageStore};
use indexmap::IndexMap;

use crate::{parse_time, Filters};

service! {
    /// `engine.images()`: local images.
    Images
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

impl Images<'_> {
    /// The store itself, for the builder's layer work (rw layers, commits)
    /// and the store's own reports; image operations go through the
    /// methods here, which publish their events.
    pub fn store(&self) -> &ImageStore {
        &self.images
    }

    /// An image by name, reference, id or id prefix.
    pub fn get(&self, name: &str) -> Result<Image> {
        self.images.get(name)
    }

    /// `GET /images/{name}/json`.
    pub fn inspect(&self, name: &str) -> Result<ImageInspect> {
        let img = self.images.get(name)?;
        Ok(self.images.inspect(&img))
    }

    /// `POST /images/create?fromSrc=-`: a tar becomes a one-layer image.
    pub fn import(
        &self,
        src: &mut dyn Read,
        reference: Option<&Reference>,
        message: &str,
        changes: &[String],
    ) -> Result<Image> {
        let img = self.images.import(src, reference, message, changes)?;
        let name = img.repo_tags.first().cloned().unwrap_or_default();
        self.event("import", &img.id, &name);
        Ok(img)
    }

    /// `POST /images/load`: the lines the store reported (`Loaded image:
    /// name`), each published as a `load` event.
    pub fn load(&self, src: &mut dyn Read) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        self.images.load(src, &mut |line| lines.push(line))?;
        for line in &lines {
            let name = line.rsplit(": ").next().unwrap_or("");
            self.event("load", name, name);
        }
        Ok(lines)
    }

    /// `GET /images/get`: the images as a tar into `dst`; a `save` event
    /// for each once all is written.
    pub fn save(&self, names: &[String], dst: &mut dyn Write) -> Result<()> {
        self.images.save(names, dst)?;
        // As before the move: a failed flush is the client gone, which the
        // events do not depend on.
        let _ = dst.flush();
        for n in names {
            if let Ok(img) = self.images.get(n) {
                self.event("save", &img.id, n);
            }
        }
        Ok(())
    }

    pub fn event(&self, action: &str, id: &str, name: &str) {
        let mut attrs = IndexMap::new();
        if !name.is_empty() {
            attrs.insert("name".to_string(), name.to_string());
        }
        self.events.publish("image", action, id, attrs);
    }

    /// `GET /images/json`, as dockerd lists: without `all`, untagged
    /// images with children (a build's step images) are left out;
    /// `dangling=true` lists only untagged images without children; the
    /// `reference` filter keeps only the matching tags and digests.
    pub fn list(&self, all: bool, filters: &Filters) -> Result<Vec<ImageSummary>> {
        filters.validate(&["dangling", "reference", "label", "before", "since", "until"])?;
        let dangling_only = match filters.get("dangling").first().map(String::as_str) {
            None => None,
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(d) => return Err(Error::invalid(format!("Invalid filter 'dangling={d}'"))),
        };
        let images = self.images.list()?;
        let parents = self.images.parents()?;
        let created_of = |name: &str| -> Result<String> { Ok(self.images.get(name)?.created) };
        let before = filters
            .get("before")
            .iter()
            .map(|n| created_of(n))
            .collect::<Result<Vec<_>>>()?;
        let since = filters
            .get("since")
            .iter()
            .map(|n| created_of(n))
            .collect::<Result<Vec<_>>>()?;
        let until = filters
            .get("until")
            .first()
            .map(|u| parse_time(u).ok_or_else(|| Error::invalid(format!("invalid until: {u}"))))
            .transpose()?;
        let refs = filters.get("reference");
        let mut out = Vec::new();
        for mut img in images {
            let has_children = parents.contains(&img.id);
            if dangling_only == Some(true) && has_children {
                continue;
            }
            if !refs.is_empty() {
                let keep = |r: &String| refs.iter().any(|p| reference_matches(p, r));
                img.repo_tags.retain(keep);
                img.repo_digests.retain(keep);
            }
            let untagged = img.repo_tags.is_empty() && img.repo_digests.is_empty();
            if untagged {
                if (!all && has_children) || dangling_only == Some(false) || !refs.is_empty() {
                    continue;
                }
            } else if dangling_only == Some(true) && !img.repo_tags.is_empty() {
                continue;
            }
            if !filters.matches_labels(&img.labels()) {
                continue;
            }
            if before.iter().any(|b| img.created >= *b) || since.iter().any(|s| img.created <= *s) {
                continue;
            }
            if until.is_some_and(|limit| img.created_unix() >= limit) {
                continue;
            }
            let containers = self.users_of_image(&img.id).len() as i64;
            out.push(self.images.summary(&img, containers));
        }
        out.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(out)
    }

    /// `DELETE /images/{name}` with dockerd's rules (moby's `ImageDelete`):
    /// a reference is untagged first and the image deleted only with its
    /// last reference; an id deletes the image and its single repository's
    /// references. Images with children or a running container can never
    /// be deleted, those with a stopped container or several repositories
    /// only with `force`. With `prune` (the API's default, `noprune=0`)
    /// the untagged parents nothing else needs go too.
    pub fn delete(&self, name: &str, force: bool, prune: bool) -> Result<Vec<ImageDeleteItem>> {
        let img = self.images.get(name)?;
        let mut out = Vec::new();
        let quiet = if !is_id_like(name, &img.id) {
            if !force && is_single_reference(&img) {
                if let Some((cid, _)) = self.users_of_image(&img.id).first() {
                    return Err(Error::conflict(format!(
                        "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                        short(cid),
                        short(&img.id)
                    )));
                }
            }
            let r = Reference::parse_with_default_tag(name)?;
            self.untag_reference(&img.id, &r, &mut out)?;
            // The last tag of a repository takes its digests with it.
            if r.digest.is_none() {
                let repo = ref_name(&r.familiar_string()).to_string();
                let after = self.images.get(&img.id)?;
                if !after.repo_tags.iter().any(|t| ref_name(t) == repo) {
                    for d in after.repo_digests.iter().filter(|d| ref_name(d) == repo) {
                        if let Ok(dr) = Reference::parse(d) {
                            self.untag_reference(&img.id, &dr, &mut out)?;
                        }
                    }
                }
            }
            let after = self.images.get(&img.id)?;
            if !after.repo_tags.is_empty() || !after.repo_digests.is_empty() {
                return Ok(out);
            }
            true
        } else {
            if is_single_reference(&img) {
                let check = Conflicts {
                    stopped: !force,
                    ..Conflicts::HARD
                };
                if let Some(c) = self.delete_conflict(&img, check)? {
                    return Err(c.error);
                }
                let refs: Vec<String> = img
                    .repo_tags
                    .iter()
                    .chain(&img.repo_digests)
                    .cloned()
                    .collect();
                for t in refs {
                    if let Ok(r) = Reference::parse(&t) {
                        self.untag_reference(&img.id, &r, &mut out)?;
                    }
                }
            }
            false
        };
        self.delete_image_and_parents(&img.id, &mut out, force, prune, quiet)?;
        Ok(out)
    }

    fn untag_reference(
        &self,
        id: &str,
        r: &Reference,
        out: &mut Vec<ImageDeleteItem>,
    ) -> Result<()> {
        if self.images.untag(r)? {
            let name = r.familiar_string();
            self.event("untag", id, &name);
            out.push(ImageDeleteItem {
                untagged: Some(name),
                deleted: None,
            });
        }
        Ok(())
    }

    /// moby's `imageDeleteHelper`: deletes `id` unless a conflict stops it
    /// (`quiet`: a conflict on an image that is not dangling, or one used
    /// by a container, ends the walk silently), then walks up the parents.
    fn delete_image_and_parents(
        &self,
        id: &str,
        out: &mut Vec<ImageDeleteItem>,
        force: bool,
        prune: bool,
        quiet: bool,
    ) -> Result<()> {
        let img = self.images.get(id)?;
        let check = Conflicts {
            references: !force,
            stopped: !force,
            ..Conflicts::HARD
        };
        if let Some(c) = self.delete_conflict(&img, check)? {
            let dangling = img.repo_tags.is_empty()
                && img.repo_digests.is_empty()
                && self.images.children(&img.id)?.is_empty();
            if quiet && (!dangling || c.used) {
                return Ok(());
            }
            return Err(c.error);
        }
        for item in self.images.delete(&img.id)? {
            if let Some(t) = &item.untagged {
                self.event("untag", &img.id, t);
            }
            out.push(item);
        }
        self.event("delete", &img.id, "");
        match img.parent {
            Some(parent) if prune && self.images.get(&parent).is_ok() => {
                self.delete_image_and_parents(&parent, out, false, true, true)
            }
            _ => Ok(()),
        }
    }

    /// The first of the conflicts `check` asks for (moby's order).
    fn delete_conflict(&self, img: &Image, check: Conflicts) -> Result<Option<DeleteConflict>> {
        let conflict = |hard: bool, used: bool, what: String| {
            let how = if hard {
                "cannot be forced"
            } else {
                "must be forced"
            };
            Some(DeleteConflict {
                used,
                error: Error::conflict(format!(
                    "conflict: unable to delete {} ({how}) - {what}",
                    short(&img.id)
                )),
            })
        };
        if check.children && !self.images.children(&img.id)?.is_empty() {
            return Ok(conflict(
                true,
                false,
                "image has dependent child images".into(),
            ));
        }
        let users = self.users_of_image(&img.id);
        if check.running {
            if let Some((cid, _)) = users.iter().find(|(_, running)| *running) {
                let what = format!("image is being used by running container {}", short(cid));
                return Ok(conflict(true, true, what));
            }
        }
        if check.references && (!img.repo_tags.is_empty() || !img.repo_digests.is_empty()) {
            return Ok(conflict(
                false,
                false,
                "image is referenced in multiple repositories".into(),
            ));
        }
        if check.stopped {
            if let Some((cid, _)) = users.iter().find(|(_, running)| !*running) {
                let what = format!("image is being used by stopped container {}", short(cid));
                return Ok(conflict(false, true, what));
            }
        }
        Ok(None)
    }

    /// `POST /images/prune` as moby's `ImagesPrune`: the images without
    /// children that are untagged (all unused ones with `dangling=false`),
    /// each deleted with its untagged parents; the space is that of the
    /// layers deleted.
    pub fn prune(&self, filters: &Filters) -> Result<(Vec<ImageDeleteItem>, i64)> {
        filters.validate(&["dangling", "label", "label!", "until"])?;
        let only_dangling = filters
            .get("dangling")
            .first()
            .is_none_or(|d| d == "true" || d == "1");
        let until = filters
            .get("until")
            .first()
            .map(|u| parse_time(u).ok_or_else(|| Error::invalid(format!("invalid until: {u}"))))
            .transpose()?;
        let parents = self.images.parents()?;
        let layer_sizes = self.images.layer_sizes()?;
        let mut deleted = Vec::new();
        for img in self.images.list()? {
            let has_refs = !img.repo_tags.is_empty() || !img.repo_digests.is_empty();
            if parents.contains(&img.id) && (only_dangling || !has_refs) {
                continue;
            }
            if until.is_some_and(|limit| img.created_unix() >= limit)
                || !filters.matches_labels(&img.labels())
            {
                continue;
            }
            let names: Vec<String> = if !has_refs {
                vec![img.id.clone()]
            } else if !only_dangling || img.repo_tags.is_empty() {
                img.repo_tags
                    .iter()
                    .chain(&img.repo_digests)
                    .cloned()
                    .collect()
            } else {
                continue;
            };
            for name in names {
                match self.delete(&name, false, true) {
                    Ok(items) => deleted.extend(items),
                    Err(e)
                        if matches!(
                            e.kind,
                            berth_api::ErrorKind::Conflict | berth_api::ErrorKind::NotFound
                        ) => {}
                    Err(e) => tracing::warn!("prune: {name}: {}", e.message),
                }
            }
        }
        let reclaimed: i64 = deleted
            .iter()
            .filter_map(|d| d.deleted.as_ref())
            .filter_map(|id| layer_sizes.get(id))
            .sum();
        self.events.publish(
            "image",
            "prune",
            "",
            IndexMap::from([("reclaimed".to_string(), reclaimed.to_string())]),
        );
        Ok((deleted, reclaimed))
    }

    pub fn history(&self, name: &str) -> Result<Vec<HistoryItem>> {
        self.images.history(name)
    }

    pub fn tag(&self, source: &str, repo: &str, tag: &str) -> Result<()> {
        let target = if tag.is_empty() {
            repo.to_string()
        } else {
            format!("{repo}:{tag}")
        };
        let r = Reference::parse_with_default_tag(&target)?;
        if r.digest.is_some() {
            return Err(Error::invalid(
                "refusing to create a tag with a digest reference",
            ));
        }
        let img = self.images.get(source)?;
        self.images.tag(source, &r)?;
        self.event("tag", &img.id, &r.familiar_string());
        Ok(())
    }
}

/// Which of dockerd's delete conflicts to check.
#[derive(Clone, Copy)]
struct Conflicts {
    children: bool,
    running: bool,
    references: bool,
    stopped: bool,
}

impl Conflicts {
    /// What not even `force` overrides.
    const HARD: Conflicts = Conflicts {
        children: true,
        running: true,
        references: false,
        stopped: false,
    };
}

struct DeleteConflict {
    /// A container uses the image.
    used: bool,
    error: Error,
}

/// moby's `isSingleReference`: one tag (with or without digests of the
/// same repository), or digests of one repository only.
fn is_single_reference(img: &Image) -> bool {
    let all = img.repo_tags.len() + img.repo_digests.len();
    if all <= 1 {
        return all == 1;
    }
    if img.repo_tags.len() > 1 {
        return false;
    }
    let digest_repos: std::collections::BTreeSet<&str> =
        img.repo_digests.iter().map(|d| ref_name(d)).collect();
    let single = img
        .repo_tags
        .first()
        .or(img.repo_digests.first())
        .map(|r| ref_name(r))
        .unwrap_or_default();
    digest_repos.len() == 1 && digest_repos.contains(single)
}

/// The repository of a familiar reference (`host:5000/app:1` ->
/// `host:5000/app`, `app@sha256:..` -> `app`).
fn ref_name(r: &str) -> &str {
    if let Some((name, _)) = r.split_once('@') {
        return name;
    }
    match r.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => r,
    }
}

fn is_id_like(name: &str, id: &str) -> bool {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    let n = name.strip_prefix("sha256:").unwrap_or(name);
    !n.is_empty() && hex.starts_with(n)
}

/// `reference` filter: a glob over the familiar reference, else over its
/// repository name (moby's `FamiliarMatch`).
fn reference_matches(pattern: &str, reference: &str) -> bool {
    glob(pattern, reference) || glob(pattern, ref_name(reference))
}

fn glob(p: &str, s: &str) -> bool {
    fn m(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], s) || (!s.is_empty() && s[0] != b'/' && m(p, &s[1..])),
            (Some(b'?'), Some(c)) if *c != b'/' => m(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &s[1..]),
            _ => false,
        }
    }
    m(p.as_bytes(), s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_globs() {
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busy*", "busybox:latest"));
        assert!(reference_matches("busybox:lat*", "busybox:latest"));
        assert!(!reference_matches("bus", "busybox:latest"));
        assert!(!reference_matches("*", "user/app:1"));
        assert!(reference_matches("user/*", "user/app:1"));
    }
}
