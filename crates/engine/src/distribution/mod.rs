//! The distribution service: pull and push as engine operations, so the
//! HTTP routes and the builder share them. Each operation resolves what it
//! can before it reports anything ([`Distribution::start_pull`],
//! [`Distribution::start_push`]): errors there (bad name, unknown manifest,
//! denied access, no local image) are the caller's to return as a plain
//! error, as dockerd answers them with an HTTP status. The returned job
//! then runs, reporting typed [`Message`]s into a [`ProgressSink`]; an
//! error it returns comes after progress began (the daemon writes it as an
//! `errorDetail` line). The engine publishes the `pull` and `push` events.

mod pull;
mod push;

pub use berth_api::progress::Message;
pub use berth_distribution::{AuthConfig, AuthConfigs};
pub use pull::{Pull, PullOptions};
pub use push::{Push, PushOptions};

service! {
    /// `engine.distribution()`: pull and push.
    Distribution
}

impl Distribution<'_> {
    /// `POST /auth`: checks the credentials against their registry, with
    /// the daemon's registry options (mirrors, insecure registries, certs).
    pub async fn login(&self, creds: AuthConfig) -> berth_api::Result<()> {
        berth_distribution::login(&self.config.registry, creds).await
    }

    /// `GET /distribution/{name}/json`: the registry's descriptor and
    /// platforms of a reference.
    pub async fn inspect(
        &self,
        reference: &berth_api::Reference,
        creds: AuthConfig,
    ) -> berth_api::Result<berth_api::views::DistributionInspect> {
        berth_distribution::inspect(&self.config.registry, reference, creds).await
    }

    /// `GET /images/search`: the registry's answer, before the daemon's
    /// filters.
    pub async fn search(
        &self,
        term: &str,
        limit: i64,
        creds: &AuthConfig,
    ) -> berth_api::Result<Vec<berth_distribution::SearchResult>> {
        berth_distribution::search(&self.config.registry, term, limit, creds).await
    }
}

/// Where a pull or push reports its progress.
pub type ProgressSink = tokio::sync::mpsc::UnboundedSender<Message>;
