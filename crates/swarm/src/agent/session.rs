//! The agent's loop: open a session with a manager, heartbeat, move to
//! the next manager when this one fails, stop when the node is removed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

use super::{lock, Shared};
use crate::transport::dispatch::{DispatchRequest, SessionAnswer, NODE_NOT_FOUND, SESSION_INVALID};
use crate::transport::{PeerClient, Request, Response};

/// The period before the first answer says otherwise (swarmkit's default).
const DEFAULT_PERIOD: Duration = Duration::from_secs(5);
/// Wait before trying the next manager after a failure, at most.
const RETRY_MAX: Duration = Duration::from_millis(500);
/// Answers of "node not found" in a row that mean the node was removed
/// (one could be a new leader that has not applied the join yet).
const REMOVED_AFTER: u32 = 2;
/// Retry delay after a failed certificate renewal.
const RENEW_RETRY: Duration = Duration::from_secs(60);

/// How a session ended.
enum Ended {
    /// The manager failed or refused: try the next one.
    ManagerFailed(String),
    /// Open a new session with the same manager (the leader lost ours).
    SessionLost,
    /// Start over from the first manager (a role change).
    Reconnect,
    Removed,
}

struct Loop {
    shared: Arc<Shared>,
    period: Duration,
    not_found: u32,
    renew_due: Instant,
}

/// When the certificate should be renewed: a random 50-80% of its life,
/// as swarmkit (and the manager's own renewal) does.
fn renew_due(shared: &Shared) -> Instant {
    let node = lock(&shared.node).clone();
    let (Ok(from), Ok(to)) = (node.not_before(), node.not_after()) else {
        return Instant::now() + RENEW_RETRY;
    };
    let life = (to - from).max(0) as f64;
    let at = from + (life * rand::rng().random_range(0.5..0.8)) as i64;
    let wait = at.saturating_sub(chrono::Utc::now().timestamp()).max(1) as u64;
    Instant::now() + Duration::from_secs(wait)
}

impl Loop {
    fn call_timeout(&self) -> Duration {
        self.period.max(Duration::from_millis(500))
    }

    fn apply(&mut self, addr: &str, answer: SessionAnswer) {
        self.not_found = 0;
        self.period = answer.heartbeat_period();
        self.shared.save_managers(&answer.managers);
        self.shared.publish(|s| {
            s.manager = Some(addr.to_string());
            s.answer = Some(answer);
            s.error = None;
        });
    }

    /// Sort a failed answer: removed, session gone, or the manager's fault.
    fn failed(&mut self, e: crate::transport::WireError) -> Ended {
        if e.message == NODE_NOT_FOUND {
            self.not_found += 1;
            if self.not_found >= REMOVED_AFTER {
                return Ended::Removed;
            }
        } else if e.message == SESSION_INVALID {
            return Ended::SessionLost;
        }
        Ended::ManagerFailed(e.message)
    }

    async fn call(
        &mut self,
        client: &PeerClient,
        req: DispatchRequest,
    ) -> Result<SessionAnswer, Ended> {
        match client
            .call(&Request::Dispatch(req), self.call_timeout())
            .await
        {
            Ok(Response::Dispatch(a)) => Ok(a),
            Ok(Response::Error(e)) => Err(self.failed(e)),
            Ok(other) => Err(Ended::ManagerFailed(format!(
                "unexpected answer: {other:?}"
            ))),
            Err(e) => Err(Ended::ManagerFailed(e.to_string())),
        }
    }

    async fn renew_if_due(&mut self, addr: &str) {
        if !self.shared.renews.load(Ordering::SeqCst) || Instant::now() < self.renew_due {
            return;
        }
        match self.shared.renew_at(addr).await {
            Ok(_) => self.renew_due = renew_due(&self.shared),
            Err(e) => {
                tracing::warn!("swarm: renewing the node certificate: {}", e.message);
                self.renew_due = Instant::now() + RENEW_RETRY;
            }
        }
    }

    async fn session(&mut self, addr: &str) -> Ended {
        let client = match self.shared.client(addr) {
            Ok(c) => c,
            Err(e) => return Ended::ManagerFailed(e.message),
        };
        let open = DispatchRequest::Session {
            description: self.shared.description.clone(),
        };
        let mut session_id = match self.call(&client, open).await {
            Ok(a) => {
                let id = a.session_id.clone();
                self.apply(addr, a);
                id
            }
            Err(end) => return end,
        };
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.period) => {}
                _ = self.shared.reconnect.notified() => return Ended::Reconnect,
            }
            self.renew_if_due(addr).await;
            let beat = DispatchRequest::Heartbeat { session_id };
            match self.call(&client, beat).await {
                Ok(a) => {
                    session_id = a.session_id.clone();
                    self.apply(addr, a);
                }
                Err(end) => return end,
            }
        }
    }
}

pub(super) async fn run(shared: Arc<Shared>) {
    let mut l = Loop {
        renew_due: renew_due(&shared),
        shared,
        period: DEFAULT_PERIOD,
        not_found: 0,
    };
    let mut next = 0usize;
    loop {
        let candidates = l.shared.candidates();
        if candidates.is_empty() {
            tokio::time::sleep(RETRY_MAX).await;
            continue;
        }
        let addr = candidates[next % candidates.len()].clone();
        match l.session(&addr).await {
            Ended::Removed => {
                l.shared.publish(|s| {
                    s.removed = true;
                    s.error = Some(NODE_NOT_FOUND.to_string());
                });
                return;
            }
            Ended::SessionLost => {}
            Ended::Reconnect => next = 0,
            Ended::ManagerFailed(why) => {
                tracing::debug!("swarm: session with {addr} ended: {why}");
                l.shared.publish(|s| {
                    s.manager = None;
                    s.error = Some(why);
                });
                next += 1;
                // Straight on to the next manager; a pause once all failed.
                if next % candidates.len() == 0 {
                    tokio::time::sleep(l.period.min(RETRY_MAX)).await;
                }
            }
        }
    }
}
