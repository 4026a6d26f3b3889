//! A stage's `FROM` image: the local one, else pulled through the
//! engine's distribution service with the credentials the build request
//! carries, its progress in the build's output, as dockerd's classic
//! builder (`pullForBuilder`) does.

use berth_api::progress::Message;
use berth_api::Reference;
use berth_engine::distribution::PullOptions;
use tokio::sync::mpsc;

use super::{cancelled, BuildError, Builder, R};

impl Builder {
    /// The id of the image `base` names; pulled when it is not present,
    /// or always with `--pull`.
    pub(super) async fn base_image(&self, base: &str, platform: Option<&str>) -> R<String> {
        if !self.opts.pull {
            if let Ok(img) = self.engine.images().get(base) {
                return Ok(img.id);
            }
        }
        // dockerd's `ParseNormalizedNamed` + `TagNameOnly`: a bare name
        // pulls `:latest`.
        let reference = Reference::parse_with_default_tag(base)?;
        let opts = PullOptions {
            auth: self.opts.auth_configs.for_registry(&reference.domain),
            reference: reference.clone(),
            all_tags: false,
            platform: platform.map(str::to_string),
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        let engine = self.engine.clone();
        // The pull runs on its own so that a client gone away stops the
        // build at once; the pull itself completes, as `docker pull` does.
        let pull = tokio::spawn(async move { engine.distribution().pull(opts, &tx).await });
        loop {
            let m = tokio::select! {
                m = rx.recv() => m,
                _ = cancelled(&self.tx, &self.cancel) => {
                    return Err(BuildError::new("build cancelled"));
                }
            };
            let Some(m) = m else { break };
            let _ = self.tx.send(m).await;
        }
        pull.await
            .map_err(|e| BuildError::new(format!("pulling {base}: {e}")))??;
        // By digest the pull tags nothing but the digest: look it up as named.
        let img = self.engine.images().get(&reference.to_string())?;
        Ok(img.id)
    }
}
