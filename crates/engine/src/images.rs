//! Image operations that need the engine's view: removal policy against the
//! containers that use an image, filters, and image events.

use berth_api::types::{HistoryItem, ImageDeleteItem, ImageSummary};
use berth_api::{Error, Reference, Result};
use indexmap::IndexMap;

use crate::lifecycle::{parse_time, Filters};
use crate::Engine;

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

impl Engine {
    pub fn image_event(&self, action: &str, id: &str, name: &str) {
        let mut attrs = IndexMap::new();
        if !name.is_empty() {
            attrs.insert("name".to_string(), name.to_string());
        }
        self.events.publish("image", action, id, attrs);
    }

    /// `GET /images/json`.
    pub fn list_images(&self, all: bool, filters: &Filters) -> Result<Vec<ImageSummary>> {
        filters.validate(&["dangling", "reference", "label", "before", "since", "until"])?;
        let _ = all;
        let images = self.images.list()?;
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
        let mut out = Vec::new();
        for img in images {
            let dangling = img.repo_tags.is_empty();
            if let Some(d) = filters.get("dangling").first() {
                let want = match d.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(Error::invalid(format!("Invalid filter 'dangling={d}'"))),
                };
                if want != dangling {
                    continue;
                }
            }
            let refs = filters.get("reference");
            if !refs.is_empty()
                && !img
                    .repo_tags
                    .iter()
                    .any(|t| refs.iter().any(|p| reference_matches(p, t)))
            {
                continue;
            }
            let labels = img
                .config
                .config
                .as_ref()
                .and_then(|c| c.labels.clone())
                .unwrap_or_default();
            let label_ok = filters
                .get("label")
                .iter()
                .all(|l| match l.split_once('=') {
                    Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
                    None => labels.contains_key(l.as_str()),
                });
            if !label_ok {
                continue;
            }
            if before.iter().any(|b| img.created >= *b) || since.iter().any(|s| img.created <= *s) {
                continue;
            }
            if let Some(u) = filters.get("until").first() {
                let limit =
                    parse_time(u).ok_or_else(|| Error::invalid(format!("invalid until: {u}")))?;
                let created = chrono::DateTime::parse_from_rfc3339(&img.created)
                    .map(|t| t.timestamp())
                    .unwrap_or(0);
                if created >= limit {
                    continue;
                }
            }
            let containers = self.users_of_image(&img.id).len() as i64;
            out.push(self.images.summary(&img, containers));
        }
        out.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(out)
    }

    /// `DELETE /images/{name}` with dockerd's rules: a reference untags
    /// (and deletes with the last tag); an id deletes; images used by
    /// containers need force, and never while a container runs.
    pub fn delete_image(&self, name: &str, force: bool) -> Result<Vec<ImageDeleteItem>> {
        let img = self.images.get(name)?;
        let by_reference = !is_id_like(name, &img.id);
        let users = self.users_of_image(&img.id);
        let mut out = Vec::new();
        if by_reference
            && (img.repo_tags.len() > 1 || (img.repo_tags.len() == 1 && !users.is_empty() && force))
        {
            let r = Reference::parse_with_default_tag(name)?;
            self.images.untag(&r)?;
            out.push(ImageDeleteItem {
                untagged: Some(r.familiar_string()),
                deleted: None,
            });
            self.image_event("untag", &img.id, &r.familiar_string());
            return Ok(out);
        }
        if let Some((cid, _)) = users.iter().find(|(_, running)| *running) {
            return Err(Error::conflict(format!(
                "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                short(&img.id),
                short(cid)
            )));
        }
        if !force {
            if let Some((cid, _)) = users.first() {
                return Err(Error::conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                    short(&img.id),
                    short(cid)
                )));
            }
            if !by_reference && img.repo_tags.len() > 1 {
                return Err(Error::conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    short(&img.id)
                )));
            }
        }
        for tag in &img.repo_tags {
            if let Ok(r) = Reference::parse_with_default_tag(tag) {
                self.images.untag(&r)?;
                out.push(ImageDeleteItem {
                    untagged: Some(tag.clone()),
                    deleted: None,
                });
                self.image_event("untag", &img.id, tag);
            }
        }
        if !users.is_empty() {
            return Ok(out);
        }
        out.extend(
            self.images
                .delete(&img.id)?
                .into_iter()
                .filter(|i| i.deleted.is_some()),
        );
        self.image_event("delete", &img.id, "");
        Ok(out)
    }

    /// `POST /images/prune`: dangling images (all unused with `dangling=false`).
    pub fn prune_images(&self, filters: &Filters) -> Result<(Vec<ImageDeleteItem>, i64)> {
        filters.validate(&["dangling", "label", "until"])?;
        let only_dangling = filters
            .get("dangling")
            .first()
            .is_none_or(|d| d == "true" || d == "1");
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for img in self.images.list()? {
            if (only_dangling && !img.repo_tags.is_empty())
                || !self.users_of_image(&img.id).is_empty()
            {
                continue;
            }
            let size = img.size;
            match self.delete_image(&img.id, true) {
                Ok(items) => {
                    reclaimed += size;
                    deleted.extend(items);
                }
                Err(e) => tracing::warn!("prune: {}: {e}", img.id),
            }
        }
        self.events.publish(
            "image",
            "prune",
            "",
            IndexMap::from([("reclaimed".to_string(), reclaimed.to_string())]),
        );
        Ok((deleted, reclaimed))
    }

    pub fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>> {
        self.images.history(name)
    }

    pub fn tag_image(&self, source: &str, repo: &str, tag: &str) -> Result<()> {
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
        self.image_event("tag", &img.id, &r.familiar_string());
        Ok(())
    }
}

fn is_id_like(name: &str, id: &str) -> bool {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    let n = name.strip_prefix("sha256:").unwrap_or(name);
    !n.is_empty() && hex.starts_with(n)
}

/// `reference` filter: a glob over the familiar name (with or without tag).
fn reference_matches(pattern: &str, tag: &str) -> bool {
    let name = tag.rsplit_once(':').map(|(n, _)| n).unwrap_or(tag);
    glob(pattern, tag) || glob(pattern, name)
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
