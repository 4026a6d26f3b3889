//! The cluster port's RPCs, served by a manager.

use berth_api::Error;

use super::Inner;
use crate::ca::NodeIdentity;
use crate::transport::{Handler, Request, Response};

fn answer(r: Result<Response, Error>) -> Response {
    r.unwrap_or_else(|e| Response::Error(e.into()))
}

impl Handler for Inner {
    // The transport already refused non-managers everything but the CA,
    // the join, their own session and heartbeats and their renewal.
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
            // Only managers get here (the transport checks the OU); who
            // may be added is checked against the store on the leader.
            Request::Membership(op) => {
                answer(self.membership(op).await.map(|_| Response::Membership))
            }
            Request::ManagerStatus => {
                let leading = self.raft.metrics().borrow().current_leader == Some(self.raft_id);
                Response::ManagerStatus(self.local_statuses(!leading))
            }
            // The cluster's root now (it changes with a rotation's end).
            Request::GetRootCa => Response::RootCa(
                self.reader
                    .read(|d| d.cluster.as_ref().map(|c| c.root_ca_cert.clone()))
                    .unwrap_or_else(|| self.ca.cert_pem().to_string()),
            ),
            Request::Join(j) => answer(self.handle_join(j).await.map(Response::Join)),
            // The node is the caller's certificate; a follower passes it on
            // as DispatchFor, which only managers may send.
            Request::Dispatch(d) => match peer {
                Some(caller) => answer(
                    self.dispatch(&caller.node_id, d)
                        .await
                        .map(Response::Dispatch),
                ),
                None => answer(Err(Error::new(
                    berth_api::ErrorKind::Forbidden,
                    "a node certificate is required",
                ))),
            },
            Request::DispatchFor { node_id, req } => answer(
                self.dispatch_local(&node_id, req)
                    .await
                    .map(Response::Dispatch),
            ),
            Request::RenewCertificate { csr_pem } => match peer {
                Some(caller) => answer(self.sign_for(&caller, &csr_pem).map(Response::Certificate)),
                None => answer(Err(Error::new(
                    berth_api::ErrorKind::Forbidden,
                    "a node certificate is required",
                ))),
            },
        }
    }
}
