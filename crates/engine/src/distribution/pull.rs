//! `docker pull`: one tag, a digest, or every tag of a repository.

use std::sync::Arc;

use berth_api::{Error, Reference, Result};
use berth_distribution::{HasStore, Resolved};

use super::{AuthConfig, Distribution, ProgressSink};
use crate::Engine;

/// What to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The image; without tag or digest it means `:latest`, unless
    /// `all_tags`.
    pub reference: Reference,
    /// Every tag of the repository (`docker pull --all-tags`; the API's
    /// `fromImage` without a tag).
    pub all_tags: bool,
    /// `os/arch[/variant]`; `None`: the host's.
    pub platform: Option<String>,
    /// The credentials for the reference's registry.
    pub auth: AuthConfig,
}

/// A pull whose first image is resolved (manifest and config known).
pub struct Pull {
    engine: Arc<Engine>,
    first: Resolved,
    rest: Vec<Reference>,
    platform: Option<String>,
    auth: AuthConfig,
}

impl Distribution<'_> {
    /// Resolves what `opts` names: the tags (for `all_tags`) and the first
    /// image's manifest. Errors here come before any progress.
    pub async fn start_pull(&self, opts: PullOptions) -> Result<Pull> {
        let base = opts.reference;
        let mut refs = Vec::new();
        if base.tag.is_some() || base.digest.is_some() {
            refs.push(base.clone());
        } else if !opts.all_tags {
            refs.push(base.with_tag("latest"));
        } else {
            let mut tags =
                berth_distribution::list_tags(&self.config.registry, &base, opts.auth.clone())
                    .await?;
            tags.sort();
            refs.extend(tags.iter().map(|t| base.with_tag(t)));
        }
        let platform = opts.platform.filter(|p| !p.is_empty());
        let mut refs = refs.into_iter();
        let Some(first) = refs.next() else {
            return Err(Error::not_found(format!(
                "repository {} has no tags",
                base.familiar_name()
            )));
        };
        let first = berth_distribution::resolve(
            &self.config.registry,
            &first,
            platform.as_deref(),
            opts.auth.clone(),
        )
        .await?;
        Ok(Pull {
            engine: self.arc(),
            first,
            rest: refs.collect(),
            platform,
            auth: opts.auth,
        })
    }

    /// [`Distribution::start_pull`] and [`Pull::run`] in one: for callers that
    /// report every error the same way (the builder).
    pub async fn pull(&self, opts: PullOptions, sink: &ProgressSink) -> Result<()> {
        self.start_pull(opts).await?.run(sink).await
    }
}

impl Pull {
    /// Downloads each image in turn, publishing a `pull` event for each.
    pub async fn run(self, sink: &ProgressSink) -> Result<()> {
        let Pull {
            engine,
            first,
            rest,
            platform,
            auth,
        } = self;
        let mut next = Some(first);
        let mut rest = rest.into_iter();
        while let Some(resolved) = next.take() {
            let name = resolved.reference.familiar_string();
            let owner: Arc<dyn HasStore> = engine.clone();
            berth_distribution::pull(owner, resolved, sink).await?;
            engine.images().event("pull", &name, &name);
            if let Some(r) = rest.next() {
                next = Some(
                    berth_distribution::resolve(
                        &engine.config.registry,
                        &r,
                        platform.as_deref(),
                        auth.clone(),
                    )
                    .await?,
                );
            }
        }
        Ok(())
    }
}
