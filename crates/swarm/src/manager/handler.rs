//! The cluster port's RPCs, served by a manager.

use berth_api::Error;

use super::Inner;
use crate::ca::NodeIdentity;
use crate::transport::{Handler, MembershipOp, Request, Response, WireError, WireErrorKind};

fn answer(r: Result<Response, Error>) -> Response {
    r.unwrap_or_else(|e| Response::Error(e.into()))
}

impl Handler for Inner {
    async fn handle(&self, peer: Option<NodeIdentity>, req: Request) -> Response {
        match req {
            Request::AppendEntries(r) => Response::AppendEntries(self.raft.append_entries(r).await),
            Request::Vote(r) => Response::Vote(self.raft.vote(r).await),
            Request::InstallSnapshot(r) => {
                Response::InstallSnapshot(self.raft.install_snapshot(r).await)
            }
            // A forwarded write: the sender believes we lead; we never
            // forward it again, so views that disagree during an election
            // cannot bounce it around.
            Request::Propose(cmd) => answer(self.propose_local(cmd).await.map(Response::Propose)),
            Request::Membership(op) => {
                // A manager may add only itself (its certificate names it).
                if let MembershipOp::Add { peer: p, .. } = &op {
                    if peer.as_ref().map(|id| id.node_id.as_str()) != Some(p.node_id.as_str()) {
                        return Response::Error(WireError {
                            kind: WireErrorKind::Forbidden,
                            message: "a manager can only add itself to raft".into(),
                        });
                    }
                }
                answer(self.membership(op).await.map(|_| Response::Membership))
            }
            Request::ManagerStatus => {
                let leading = self.raft.metrics().borrow().current_leader == Some(self.raft_id);
                Response::ManagerStatus(self.local_statuses(!leading))
            }
            Request::GetRootCa => Response::RootCa(self.ca.cert_pem().to_string()),
            Request::Join(j) => answer(self.handle_join(j).await.map(Response::Join)),
        }
    }
}
