//! Where a build's messages go, and the cancellation they signal.

use berth_api::progress::Message;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Builder;

/// Resolves when the client went away or the build was cancelled.
pub(super) async fn cancelled(tx: &Sink, cancel: &CancellationToken) {
    tokio::select! {
        _ = tx.closed() => {}
        _ = cancel.cancelled() => {}
    }
}

pub(super) fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// Where a builder's messages go: the client's stream (bounded, so a slow
/// client slows the build), or a stage's buffer while an earlier stage
/// still owns the stream (unbounded, so a stage building in the
/// background never waits for the client).
#[derive(Clone)]
pub(super) enum Sink {
    Client(mpsc::Sender<Message>),
    Stage(mpsc::UnboundedSender<Message>),
}

impl Sink {
    pub(super) async fn send(&self, v: Message) -> std::result::Result<(), ()> {
        match self {
            Sink::Client(t) => t.send(v).await.map_err(|_| ()),
            Sink::Stage(t) => t.send(v).map_err(|_| ()),
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        match self {
            Sink::Client(t) => t.is_closed(),
            Sink::Stage(t) => t.is_closed(),
        }
    }

    pub(super) async fn closed(&self) {
        match self {
            Sink::Client(t) => t.closed().await,
            Sink::Stage(t) => t.closed().await,
        }
    }
}

impl Builder {
    pub(super) async fn say(&self, s: impl Into<String>) {
        let _ = self.tx.send(Message::stream(s)).await;
    }

    pub(super) fn cancelled(&self) -> bool {
        self.tx.is_closed() || self.cancel.is_cancelled()
    }
}
