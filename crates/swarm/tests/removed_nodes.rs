//! A removed node is refused (swarmkit's blacklisted certificates): its
//! certificate is still valid until it expires, but `node rm` records the
//! node in the cluster object and every manager refuses calls made with
//! it, with swarmkit's words. A live worker removed with `--force` is
//! refused at its next heartbeat and its agent stops and says why.

mod node_harness;

use std::time::Duration;

use berth_swarm::ca::{NodeCert, Role};
use berth_swarm::store::NodeState;
use berth_swarm::transport::dispatch::{removed_node_error, DispatchRequest};
use berth_swarm::transport::{tls, PeerClient, Request, Response};
use node_harness::{wait_until, TNode};

const T: Duration = Duration::from_secs(3);

/// The certificate a node keeps on disk.
fn disk_cert(node: &TNode) -> NodeCert {
    let certs = node.dir.path().join("swarm/certificates");
    let read = |f: &str| std::fs::read_to_string(certs.join(f)).unwrap();
    // the key file also holds the Raft data key (a PEM header)
    let key = berth_swarm::lock::keyfile::decode(&read("swarm-node.key"), None)
        .unwrap()
        .node_key_pem;
    NodeCert::from_pem(read("swarm-node.crt"), key).unwrap()
}

/// Call manager `m` with `cert` (trusting the cluster's root).
fn call(m: &TNode, cert: &NodeCert, req: Request) -> Response {
    let config = tls::cluster_client_config(&m.mgr().root_ca().clone(), cert).unwrap();
    let client = PeerClient::new(m.mgr().addr().to_string(), config);
    m.block_on(client.call(&req, T)).expect("an answer")
}

fn refused_as_removed(resp: &Response, id: &str) -> bool {
    matches!(resp, Response::Error(e) if e.message == removed_node_error(id))
}

#[test]
fn a_live_worker_removed_with_force_is_refused_and_its_agent_stops() {
    let m = TNode::init("mgr");
    let (w, _) = TNode::join(&m, Role::Worker, "worker");
    let id = w.id();
    assert!(wait_until(Duration::from_secs(5), || m.state_of(&id)
        == Some(NodeState::Ready)));
    let cert = disk_cert(&w);
    let csr_pem = NodeCert::csr_for(&cert.key_pem).unwrap();
    // Its certificate works before the removal.
    let r = call(
        &m,
        &cert,
        Request::RenewCertificate {
            csr_pem: csr_pem.clone(),
        },
    );
    assert!(matches!(r, Response::Certificate(_)), "{r:?}");
    let version_before = m.mgr().cluster().unwrap().meta.version;

    m.block_on(m.mgr().remove_node(&id, true))
        .expect("rm --force");
    let cluster = m.mgr().cluster().unwrap();
    let until = cluster.removed_nodes.get(&id).copied().expect("recorded");
    let expiry = cluster.spec.cert_expiry_secs as i64;
    let now = chrono::Utc::now().timestamp();
    assert!(
        until > now && until <= now + expiry,
        "refused until its certificates expire"
    );
    assert!(cluster.meta.version > version_before);

    // Its agent's next heartbeat is refused; it stops and says why.
    assert!(
        wait_until(Duration::from_secs(5), || w.node().agent_status().removed),
        "{:?}",
        w.node().agent_status()
    );
    let expected = removed_node_error(&id);
    assert_eq!(
        expected,
        format!("rpc error: code = PermissionDenied desc = Permission denied: node {id} was removed from swarm")
    );
    assert_eq!(w.node().info().error.as_deref(), Some(expected.as_str()));

    // Every call with its still valid certificate is refused, and changes nothing.
    let description = berth_swarm::store::NodeDescription::local("back-again");
    let session = Request::Dispatch(DispatchRequest::Session { description });
    for req in [
        session,
        Request::RenewCertificate { csr_pem },
        Request::GetRootCa,
    ] {
        let r = call(&m, &cert, req);
        assert!(refused_as_removed(&r, &id), "{r:?}");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(m.seen(&id).is_none(), "a removed node stays removed");
    // The agent made no further attempt after stopping.
    assert!(w.node().agent_status().removed);
}

#[test]
fn a_removed_managers_certificate_cannot_call_manager_rpcs() {
    let m1 = TNode::init("mgr-1");
    let (m2, _) = TNode::join(&m1, Role::Manager, "mgr-2");
    let (mut m3, _) = TNode::join(&m1, Role::Manager, "mgr-3");
    assert!(wait_until(Duration::from_secs(10), || {
        m1.block_on(m1.mgr().managers()).len() == 3
    }));
    let id = m3.id();
    let cert = m3.mgr().node_cert();
    assert_eq!(cert.identity.role, Role::Manager);
    // Down for good (its certificate stolen, say); demoted, then removed.
    m3.crash();
    for m in [&m1, &m2] {
        let r = call(m, &cert, Request::ManagerStatus);
        assert!(
            matches!(r, Response::ManagerStatus(_)),
            "works before: {r:?}"
        );
    }
    let leader = node_harness::leader(&[&m1, &m2]).expect("a leader");
    let lead = [&m1, &m2][leader];
    lead.block_on(lead.mgr().demote(&id)).expect("demote");
    assert!(wait_until(Duration::from_secs(5), || m1.state_of(&id)
        == Some(NodeState::Down)));
    lead.block_on(lead.mgr().remove_node(&id, false))
        .expect("rm");

    // Leader and follower alike refuse its manager certificate, for a
    // read, a write and Raft.
    for m in [&m1, &m2] {
        assert!(wait_until(Duration::from_secs(5), || m
            .mgr()
            .cluster()
            .is_some_and(|c| c.removed_nodes.contains_key(&id))));
        let node = m.seen(&m.id()).unwrap();
        let vote: openraft::raft::VoteRequest<u64> =
            openraft::raft::VoteRequest::new(openraft::Vote::new(u64::MAX, 1), None);
        for req in [
            Request::ManagerStatus,
            Request::Propose(berth_swarm::store::Command::UpdateNode(Box::new(node))),
            Request::Vote(vote),
        ] {
            let r = call(m, &cert, req);
            assert!(refused_as_removed(&r, &id), "{r:?}");
        }
    }
    // The forged vote changed nothing; the two managers still lead.
    assert!(node_harness::leader(&[&m1, &m2]).is_some());
    assert_eq!(m1.block_on(m1.mgr().managers()).len(), 2);
}
