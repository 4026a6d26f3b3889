//! Root CA rotation with workers (their agents, through `SwarmNode`):
//! the dispatcher's answers tell a worker about the rotation, it renews
//! from the new root at once and trusts both roots meanwhile, keeps
//! heartbeating, and keeps only the new root once the rotation ends. A
//! worker down during the rotation holds it open until it comes back.

mod node_harness;

use std::time::Duration;

use berth_swarm::ca::{NodeCert, Role, RootCa};
use berth_swarm::store::NodeState;
use berth_swarm::transport::{tls, PeerClient, Request, Response};
use node_harness::{wait_until, DownWatcher, TNode};

/// Long enough for a rotation over a few nodes on a loaded machine.
const ROTATION: Duration = Duration::from_secs(20);

/// The certificate a node keeps on disk (its agent's, for a worker).
fn disk_cert(node: &TNode) -> NodeCert {
    let certs = node.dir.path().join("swarm/certificates");
    let read = |f: &str| std::fs::read_to_string(certs.join(f)).unwrap();
    // the key file also holds the Raft data key (a PEM header)
    let key = berth_swarm::lock::keyfile::decode(&read("swarm-node.key"), None)
        .unwrap()
        .node_key_pem;
    NodeCert::from_pem(read("swarm-node.crt"), key).unwrap()
}

fn disk_root(node: &TNode) -> String {
    std::fs::read_to_string(node.dir.path().join("swarm/certificates/swarm-root-ca.crt"))
        .unwrap_or_default()
}

/// Call the manager `m` with `cert`, trusting only `root`: a handshake
/// both ways, so the answer says `cert` chains to a root `m` trusts.
fn root_ca_call(m: &TNode, root: &RootCa, cert: &NodeCert) -> std::io::Result<Response> {
    let config = tls::cluster_client_config(root, cert).unwrap();
    let client = PeerClient::new(m.mgr().addr().to_string(), config);
    m.block_on(client.call(&Request::GetRootCa, Duration::from_secs(3)))
}

fn rotation_over(m: &TNode, old_root: &str) -> bool {
    m.mgr()
        .cluster()
        .is_some_and(|c| c.root_rotation.is_none() && c.root_ca_cert != old_root)
}

fn all_ready(m: &TNode, ids: &[String]) -> bool {
    ids.iter()
        .all(|id| m.state_of(id) == Some(NodeState::Ready))
}

#[test]
fn workers_follow_a_root_rotation_and_keep_heartbeating() {
    let m = TNode::init("mgr");
    let (mut w1, _) = TNode::join(&m, Role::Worker, "worker-1");
    let (w2, _) = TNode::join(&m, Role::Worker, "worker-2");
    let ids = [m.id(), w1.id(), w2.id()];
    assert!(wait_until(Duration::from_secs(5), || all_ready(&m, &ids)));
    let old = m.mgr().cluster().unwrap();
    let old_root = RootCa::from_pem(&old.root_ca_cert, None).unwrap();
    let old_w1_cert = disk_cert(&w1);
    let answers_before = [&w1, &w2].map(|w| w.node().agent_status().answer.is_some());
    assert_eq!(answers_before, [true, true]);

    let watcher = DownWatcher::start(m.mgr());
    let start = std::time::Instant::now();
    m.block_on(m.mgr().rotate_root_ca(None)).expect("rotate");
    let next_pem = m.mgr().cluster().unwrap().root_rotation.unwrap().ca_cert;
    let next = RootCa::from_pem(&next_pem, None).unwrap();
    assert!(
        wait_until(ROTATION, || rotation_over(&m, &old.root_ca_cert)),
        "the rotation ends with workers in the swarm: {:?}",
        m.mgr()
            .nodes()
            .values()
            .map(|n| (
                n.id.clone(),
                n.tls_info.as_ref().map(|t| t.trust_root == next_pem)
            ))
            .collect::<Vec<_>>()
    );
    eprintln!("root rotation, 1 manager 2 workers: {:?}", start.elapsed());
    let cluster = m.mgr().cluster().unwrap();
    assert_eq!(cluster.root_ca_cert, next_pem);
    for n in m.mgr().nodes().values() {
        assert_eq!(
            n.tls_info.as_ref(),
            Some(&next.issuer_info().unwrap()),
            "node {} is recorded with a certificate from the new root",
            n.id
        );
    }
    // Each worker's certificate on disk is from the new root (the manager
    // now trusts only that one) and it keeps only the new root.
    for w in [&w1, &w2] {
        let cert = disk_cert(w);
        let r = root_ca_call(&m, &next, &cert).expect("a new-root certificate");
        assert!(
            matches!(r, Response::RootCa(ref pem) if *pem == next_pem),
            "{r:?}"
        );
        assert!(
            wait_until(Duration::from_secs(5), || disk_root(w) == next_pem),
            "the worker keeps the new root for a restart"
        );
    }
    assert!(
        root_ca_call(&m, &old_root, &old_w1_cert).is_err(),
        "the old root's certificates are refused after the rotation"
    );
    // Nobody missed a heartbeat while it ran.
    let down = watcher.stop();
    assert!(down.is_empty(), "nodes went down: {down:?}");
    assert!(all_ready(&m, &ids));

    // A worker restarted now trusts only the new root (from its files)
    // and still reaches the manager.
    w1.crash();
    w1.restart();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let s = w1.node().agent_status();
            s.manager.is_some() && s.answer.is_some() && s.error.is_none()
        }),
        "{:?}",
        w1.node().agent_status()
    );
    assert!(all_ready(&m, &ids));
}

#[test]
fn a_worker_down_during_a_rotation_holds_it_open_until_it_returns() {
    let m = TNode::init("mgr");
    let (w1, _) = TNode::join(&m, Role::Worker, "worker-1");
    let (mut w2, _) = TNode::join(&m, Role::Worker, "worker-2");
    let (w1_id, w2_id) = (w1.id(), w2.id());
    assert!(wait_until(Duration::from_secs(5), || all_ready(
        &m,
        &[w1_id.clone(), w2_id.clone()]
    )));
    let old_root = m.mgr().cluster().unwrap().root_ca_cert;
    w2.crash();
    assert!(wait_until(Duration::from_secs(5), || m.state_of(&w2_id)
        == Some(NodeState::Down)));

    m.block_on(m.mgr().rotate_root_ca(None)).expect("rotate");
    let next = RootCa::from_pem(
        &m.mgr().cluster().unwrap().root_rotation.unwrap().ca_cert,
        None,
    )
    .unwrap();
    let renewed = |id: &str| {
        m.seen(id)
            .and_then(|n| n.tls_info)
            .is_some_and(|t| t == next.issuer_info().unwrap())
    };
    // Everyone up follows it; the down worker holds it open.
    assert!(wait_until(ROTATION, || renewed(&w1_id) && renewed(&m.id())));
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        m.mgr().cluster().unwrap().root_rotation.is_some(),
        "the rotation waits for the down worker"
    );
    assert!(!renewed(&w2_id));
    assert_eq!(disk_root(&w2), old_root);

    // Back (trusting only the old root from its files: the managers'
    // cross-signed chains get it through), it renews and the rotation ends.
    w2.restart();
    assert!(wait_until(ROTATION, || rotation_over(&m, &old_root)));
    assert!(renewed(&w2_id));
    assert!(wait_until(Duration::from_secs(5), || disk_root(&w2) == next.cert_pem()));
    let r = root_ca_call(&m, &next, &disk_cert(&w2)).expect("its new certificate");
    assert!(matches!(r, Response::RootCa(_)), "{r:?}");
    assert!(wait_until(Duration::from_secs(5), || m.state_of(&w2_id)
        == Some(NodeState::Ready)));
}
