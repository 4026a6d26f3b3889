//! Root CA rotation (`swarm ca --rotate`) on running managers: every
//! manager gets a certificate from the new root, the cluster keeps working
//! throughout, the tokens change to the new digest and the old root is
//! dropped at the end.

mod common;

use std::time::Duration;

use berth_swarm::ca::{JoinToken, RootCa};
use berth_swarm::transport::{tls, PeerClient, Request, Response};
use common::{wait_until, TestNode};

const T: Duration = Duration::from_secs(3);

/// Call `node`'s cluster port trusting only `root`, presenting `cert`.
fn status_call(
    caller: &TestNode,
    node: &TestNode,
    root: &RootCa,
    cert: &berth_swarm::ca::NodeCert,
) -> Result<Response, std::io::Error> {
    let config = tls::cluster_client_config(root, cert).unwrap();
    caller.block_on(
        PeerClient::new(node.mgr().addr().to_string(), config).call(&Request::ManagerStatus, T),
    )
}

/// Every node has applied the rotation's end and followed it (its trust
/// is switched before its root file is written).
fn rotation_done(nodes: &[TestNode], old_root: &str) -> bool {
    nodes.iter().all(|n| {
        let on_disk =
            std::fs::read_to_string(n.dir.path().join("swarm/certificates/swarm-root-ca.crt"))
                .unwrap_or_default();
        n.mgr().cluster().is_some_and(|c| {
            c.root_rotation.is_none() && c.root_ca_cert != old_root && on_disk == c.root_ca_cert
        })
    })
}

#[test]
fn a_rotated_root_reaches_every_manager_and_the_old_one_is_dropped() {
    let mut nodes = vec![TestNode::init(1000)];
    for _ in 0..2 {
        let (n, _) = TestNode::join(&nodes[0], 1000);
        nodes.push(n);
    }
    let old = nodes[0].mgr().cluster().unwrap();
    let old_root = RootCa::from_pem(&old.root_ca_cert, None).unwrap();
    let old_cert = nodes[2].mgr().node_cert();
    let next = RootCa::generate().unwrap();

    // `--ca-cert --ca-key` without the key is refused and changes nothing.
    let keyless = RootCa::from_pem(next.cert_pem(), None).unwrap();
    let err = nodes[1]
        .block_on(nodes[1].mgr().rotate_root_ca(Some(keyless)))
        .unwrap_err();
    assert!(err.message.contains("needs its key"), "{}", err.message);
    assert_eq!(nodes[0].mgr().cluster().unwrap().root_rotation, None);

    // Started on a follower (forwarded to the leader).
    let start = std::time::Instant::now();
    nodes[1]
        .block_on(nodes[1].mgr().rotate_root_ca(Some(next.clone())))
        .expect("rotate");
    let done = wait_until(Duration::from_secs(10), || {
        rotation_done(&nodes, &old.root_ca_cert)
    });
    eprintln!("root rotation over 3 managers: {:?}", start.elapsed());
    assert!(
        done,
        "the rotation ends: {:?}",
        nodes[0].mgr().cluster().unwrap().root_rotation.is_some()
    );
    let cluster = nodes[0].mgr().cluster().unwrap();
    assert_eq!(cluster.root_ca_cert, next.cert_pem());
    for n in nodes[0].mgr().nodes().values() {
        let info = n.tls_info.as_ref().expect("TLSInfo recorded");
        assert_eq!(info.trust_root, next.cert_pem(), "node {}", n.id);
        assert_eq!(info, &next.issuer_info().unwrap());
    }
    assert_ne!(cluster.join_tokens, old.join_tokens);
    for token in [&cluster.join_tokens.manager, &cluster.join_tokens.worker] {
        let parsed = JoinToken::parse(&token.to_string()).unwrap();
        assert_eq!(
            parsed.ca_digest,
            next.digest(),
            "tokens carry the new digest"
        );
    }

    // Every manager serves a certificate from the new root and accepts one;
    // the old root's certificates are refused now.
    for n in &nodes {
        let cert = n.mgr().node_cert();
        let r = status_call(&nodes[0], n, &next, &cert).expect("new root only");
        assert!(matches!(r, Response::ManagerStatus(_)), "{r:?}");
        assert!(
            status_call(&nodes[0], n, &old_root, &old_cert).is_err(),
            "the old root is no longer trusted"
        );
        // What kept the rotation seamless: a node that still trusts only
        // the old root accepts the new certificates (their chain carries
        // the new root cross-signed by the old).
        let r = status_call(&nodes[0], n, &old_root, &cert).expect("cross-signed chain");
        assert!(matches!(r, Response::ManagerStatus(_)), "{r:?}");
        let on_disk =
            std::fs::read_to_string(n.dir.path().join("swarm/certificates/swarm-root-ca.crt"))
                .unwrap();
        assert_eq!(on_disk, next.cert_pem());
    }

    // The cluster kept working: writes, statuses, a join with the new token
    // (and the old token is refused: its digest pins the old root).
    let id = nodes[0].mgr().node_id().to_string();
    let leader = common::leader_index(&nodes).unwrap();
    nodes[leader].set_label(&id, "after", "rotation").unwrap();
    let err = TestNode::try_join(
        nodes[0].mgr().addr(),
        &old.join_tokens.manager.to_string(),
        1000,
    )
    .err()
    .unwrap();
    assert!(
        err.message
            .starts_with("remote CA does not match fingerprint"),
        "{}",
        err.message
    );
    let (joined, _) = TestNode::join(&nodes[0], 1000);
    assert_eq!(joined.mgr().root_ca().cert_pem(), next.cert_pem());

    // A restarted manager trusts the new root from its files.
    nodes[2].crash();
    nodes[2].restart();
    assert!(wait_until(Duration::from_secs(5), || {
        nodes[2].mgr().leader().is_some()
    }));
    let statuses = nodes[0].block_on(nodes[0].mgr().managers());
    assert_eq!(statuses.len(), 4);
}

#[test]
fn a_worker_blocks_the_rotation_until_it_renews_from_the_new_root() {
    let a = TestNode::init(1000);
    let old = a.mgr().cluster().unwrap();
    // A worker joins by token (its agent is another module's; the
    // certificate request is the real one).
    let (_, worker, _) = a
        .block_on(berth_swarm::manager::request_certificate(
            a.mgr().addr(),
            &old.join_tokens.worker.to_string(),
            "127.0.0.1:1",
            "worker-1",
        ))
        .expect("worker join");
    let worker_id = worker.identity.node_id.clone();
    a.block_on(a.mgr().rotate_root_ca(None)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let cluster = a.mgr().cluster().unwrap();
    assert!(
        cluster.root_rotation.is_some(),
        "the rotation waits for the worker's new certificate"
    );
    let next = cluster.root_rotation.unwrap();

    let csr = berth_swarm::ca::NodeCert::csr_for(&worker.key_pem).unwrap();
    let chain = a
        .block_on(a.mgr().issue_node_certificate(&worker_id, &csr))
        .expect("renewal");
    let renewed =
        berth_swarm::ca::NodeCert::from_pem(chain.clone(), worker.key_pem.clone()).unwrap();
    assert_eq!(renewed.identity, worker.identity, "same node, same role");
    assert!(
        chain.ends_with(&next.cross_signed_ca_cert),
        "the chain to the old root"
    );
    let err = a
        .block_on(a.mgr().issue_node_certificate("nosuchnode", &csr))
        .unwrap_err();
    assert_eq!(err.kind(), berth_api::ErrorKind::NotFound);

    assert!(wait_until(Duration::from_secs(10), || rotation_done(
        std::slice::from_ref(&a),
        &old.root_ca_cert
    )));
    // The worker's renewed certificate is from the new root: a manager
    // that now trusts only the new root accepts it (the worker calls what
    // a worker may: not ManagerStatus, so the refusal is by role, after
    // the handshake).
    let root = RootCa::from_pem(&a.mgr().cluster().unwrap().root_ca_cert, None).unwrap();
    let call = |cert: &berth_swarm::ca::NodeCert| {
        let config = tls::cluster_client_config(&root, cert).unwrap();
        a.block_on(PeerClient::new(a.mgr().addr().to_string(), config).call(&Request::GetRootCa, T))
    };
    assert!(matches!(call(&renewed), Ok(Response::RootCa(_))));
    assert!(call(&worker).is_err(), "the old certificate is refused");
}

#[test]
fn a_generated_root_rotation_on_one_manager_and_a_second_one_after() {
    let a = TestNode::init(1000);
    let first = a.mgr().cluster().unwrap().root_ca_cert;
    let me = a.mgr().nodes()[a.mgr().node_id()].clone();
    assert_eq!(
        me.tls_info.map(|t| t.trust_root),
        Some(first.clone()),
        "init records the first manager's issuer"
    );
    a.block_on(a.mgr().rotate_root_ca(None)).unwrap();
    assert!(wait_until(Duration::from_secs(10), || rotation_done(
        std::slice::from_ref(&a),
        &first
    )));
    let second = a.mgr().cluster().unwrap().root_ca_cert;
    a.block_on(a.mgr().rotate_root_ca(None)).unwrap();
    assert!(wait_until(Duration::from_secs(10), || rotation_done(
        std::slice::from_ref(&a),
        &second
    )));
    let third = RootCa::from_pem(&a.mgr().cluster().unwrap().root_ca_cert, None).unwrap();
    let r = status_call(&a, &a, &third, &a.mgr().node_cert()).unwrap();
    assert!(matches!(r, Response::ManagerStatus(_)));
}
