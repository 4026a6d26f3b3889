//! Where a pull or push reports its progress: typed messages
//! ([`berth_api::progress::Message`]) that the caller encodes or relays.

use berth_api::progress::Message;
use tokio::sync::mpsc::UnboundedSender;

/// Where progress messages go (unbounded: a slow reader never stalls a
/// download; the daemon relays them to the client as they come).
pub type Sink = UnboundedSender<Message>;

/// A line of its own, or a layer's state when `id` is given.
pub fn status(tx: &Sink, status: &str, id: Option<&str>) {
    let _ = tx.send(match id {
        Some(id) => Message::layer(status, id),
        None => Message::status(status),
    });
}

/// A status line with an id but no progressDetail, as "Pulling from" is.
pub fn status_id(tx: &Sink, status: &str, id: &str) {
    let _ = tx.send(Message::status_id(status, id));
}

pub fn bytes(tx: &Sink, status: &str, id: &str, current: u64, total: u64) {
    let _ = tx.send(Message::bytes(status, id, current, total));
}

pub fn error(tx: &Sink, message: &str) {
    let _ = tx.send(Message::error(message));
}
