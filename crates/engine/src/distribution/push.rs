//! `docker push`: one tag, or every local tag of a repository.

use std::sync::Arc;

use berth_api::progress::Message;
use berth_api::{Error, Reference, Result};
use berth_distribution::HasStore;

use super::{AuthConfig, Distribution, ProgressSink};
use crate::Engine;

/// What to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// The local image's name; without a tag it means `:latest`, unless
    /// `all_tags`.
    pub reference: Reference,
    /// Every local tag of the repository (the API's push without a tag).
    pub all_tags: bool,
    /// The credentials for the reference's registry.
    pub auth: AuthConfig,
}

/// A push whose local images are known to exist.
pub struct Push {
    engine: Arc<Engine>,
    repository: String,
    targets: Vec<Reference>,
    auth: AuthConfig,
}

impl Distribution<'_> {
    /// Finds the local images `opts` names; a missing one is an error
    /// before any progress, in dockerd's words.
    pub async fn start_push(&self, opts: PushOptions) -> Result<Push> {
        let base = opts.reference;
        let mut targets = Vec::new();
        if base.tag.is_some() {
            targets.push(base.clone());
        } else if !opts.all_tags {
            targets.push(base.with_tag("latest"));
        } else {
            let engine = self.arc();
            let images = tokio::task::spawn_blocking(move || engine.images.list())
                .await
                .map_err(|e| Error::internal(e.to_string()))??;
            for img in images {
                for t in &img.repo_tags {
                    if let Ok(r) = Reference::parse(t) {
                        if r.domain == base.domain && r.path == base.path {
                            targets.push(r);
                        }
                    }
                }
            }
            targets.sort_by_key(|r| r.to_string());
        }
        if targets.is_empty() {
            return Err(not_local(&base));
        }
        for t in &targets {
            if self.images.get(&t.to_string()).is_err() {
                return Err(not_local(t));
            }
        }
        Ok(Push {
            engine: self.arc(),
            repository: format!("{}/{}", base.domain, base.path),
            targets,
            auth: opts.auth,
        })
    }
}

fn not_local(r: &Reference) -> Error {
    Error::not_found(format!(
        "An image does not exist locally with the tag: {}",
        r.familiar_name()
    ))
}

impl Push {
    /// Uploads each tag in turn, publishing a `push` event for each.
    pub async fn run(self, sink: &ProgressSink) -> Result<()> {
        let _ = sink.send(Message::status(format!(
            "The push refers to repository [{}]",
            self.repository
        )));
        for t in self.targets {
            let owner: Arc<dyn HasStore> = self.engine.clone();
            let name = t.familiar_string();
            berth_distribution::push(
                owner,
                &self.engine.config.registry,
                &t,
                self.auth.clone(),
                sink,
            )
            .await?;
            self.engine.images().event("push", &name, &name);
        }
        Ok(())
    }
}
