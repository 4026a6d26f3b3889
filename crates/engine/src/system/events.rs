//! The event bus: every action on an object is published live and kept in a
//! ring of recent events, so `/events?since=` can replay them as dockerd does.

use std::collections::VecDeque;
use std::sync::Mutex;

use berth_api::types::{EventActor, EventMessage};
use indexmap::IndexMap;
use tokio::sync::broadcast;

const KEEP: usize = 1024;

pub struct EventBus {
    live: broadcast::Sender<EventMessage>,
    recent: Mutex<VecDeque<EventMessage>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            live: broadcast::channel(4096).0,
            recent: Mutex::new(VecDeque::with_capacity(KEEP)),
        }
    }
}

impl EventBus {
    pub fn publish(
        &self,
        kind: &str,
        action: &str,
        id: &str,
        attributes: IndexMap<String, String>,
    ) {
        let now = chrono::Utc::now();
        let nanos = now.timestamp_nanos_opt().unwrap_or(0);
        let legacy = kind == "container" || kind == "image";
        let ev = EventMessage {
            status: legacy.then(|| action.to_string()),
            id: legacy.then(|| id.to_string()),
            from: if kind == "container" {
                attributes.get("image").cloned()
            } else {
                None
            },
            r#type: kind.to_string(),
            action: action.to_string(),
            actor: EventActor {
                id: id.to_string(),
                attributes,
            },
            scope: "local".into(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
        };
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == KEEP {
            recent.pop_front();
        }
        recent.push_back(ev.clone());
        // Subscribe under the same lock (see `subscribe`) so no event is missed or doubled.
        let _ = self.live.send(ev);
    }

    /// The events kept so far with time >= `since_nanos`, and a receiver for
    /// every later one.
    pub fn subscribe(
        &self,
        since_nanos: i64,
    ) -> (Vec<EventMessage>, broadcast::Receiver<EventMessage>) {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let past = recent
            .iter()
            .filter(|e| e.time_nano >= since_nanos)
            .cloned()
            .collect();
        (past, self.live.subscribe())
    }
}
