//! The cluster port's trust: mutual TLS with the cluster CA, and join
//! tokens that pin the CA.

mod common;

use std::sync::Arc;
use std::time::Duration;

use berth_swarm::ca::{
    new_id, JoinToken, NodeCert, NodeIdentity, Role, RootCa, DEFAULT_CERT_EXPIRY,
};
use berth_swarm::transport::{tls, PeerClient, Request, Response};
use common::TestNode;
use rustls::pki_types::CertificateDer;

const T: Duration = Duration::from_secs(3);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client that trusts the cluster CA but presents no certificate.
fn client_without_cert(ca: &RootCa) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.cert_der().unwrap()))
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![tls::ALPN_CLUSTER.to_vec()];
    Arc::new(config)
}

/// Do the TLS handshake and read: the server's fatal alert, as text
/// (in TLS 1.3 the client learns of the refusal on its first read).
async fn handshake_alert(addr: &str, config: Arc<rustls::ClientConfig>) -> String {
    use tokio::io::AsyncReadExt;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from(tls::MANAGER_SERVER_NAME).unwrap();
    let mut stream = match tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
    {
        Ok(s) => s,
        Err(e) => return format!("{e:?}"),
    };
    let mut buf = [0u8; 1];
    match tokio::time::timeout(T, stream.read(&mut buf)).await {
        Ok(Err(e)) => format!("{e:?}"),
        other => panic!("the server accepted the connection: {other:?}"),
    }
}

#[test]
fn cluster_port_refuses_clients_without_a_cluster_certificate() {
    let a = TestNode::init(1000);
    let addr = a.mgr().addr().to_string();
    let ca = a.mgr().root_ca().clone();

    // Positive control: the node's own certificate is served.
    let own = tls::cluster_client_config(&ca, &a.mgr().node_cert()).unwrap();
    let resp = a
        .block_on(PeerClient::new(addr.clone(), own).call(&Request::ManagerStatus, T))
        .expect("a manager cert is served");
    assert!(
        matches!(resp, Response::ManagerStatus(ref l) if l.len() == 1),
        "{resp:?}"
    );

    // Even a manager cannot make a node that did not join with the manager
    // token a voter.
    let own = tls::cluster_client_config(&ca, &a.mgr().node_cert()).unwrap();
    let op = berth_swarm::transport::MembershipOp::Add {
        raft_id: 42,
        peer: berth_swarm::raft::Peer {
            addr: "127.0.0.1:1".into(),
            node_id: new_id(),
        },
    };
    let resp = a
        .block_on(PeerClient::new(addr.clone(), own).call(&Request::Membership(op), T))
        .unwrap();
    assert!(
        matches!(resp, Response::Error(ref e) if e.message.ends_with("is not a manager of this swarm")),
        "{resp:?}"
    );

    // No client certificate: the handshake fails (in TLS 1.3 the server's
    // alert arrives on the client's first read).
    let err = a.block_on(handshake_alert(&addr, client_without_cert(&ca)));
    eprintln!("without a certificate: {err}");
    assert!(err.contains("CertificateRequired"), "{err}");
    assert!(a
        .block_on(
            PeerClient::new(addr.clone(), client_without_cert(&ca))
                .call(&Request::ManagerStatus, T)
        )
        .is_err());

    // A certificate from another CA, even with a manager's OU: refused.
    let other = RootCa::generate().unwrap();
    let who = NodeIdentity {
        node_id: new_id(),
        role: Role::Manager,
        cluster_id: a.mgr().cluster_id().into(),
    };
    let forged = NodeCert::issue_local(&other, who, DEFAULT_CERT_EXPIRY).unwrap();
    let config = tls::cluster_client_config(&ca, &forged).unwrap();
    let err = a.block_on(handshake_alert(&addr, config.clone()));
    eprintln!("another CA's certificate: {err}");
    // Both roots are named "swarm-ca", so the server finds an issuer by
    // name and the signature check fails: a decrypt_error alert.
    assert!(
        err.contains("AlertReceived(DecryptError)") || err.contains("AlertReceived(UnknownCA)"),
        "{err}"
    );
    assert!(a
        .block_on(PeerClient::new(addr.clone(), config).call(&Request::ManagerStatus, T))
        .is_err());

    // The join protocol (no client certificate) serves the CA, nothing else.
    let join = PeerClient::new(addr.clone(), tls::join_client_config().unwrap());
    let resp = a.block_on(join.call(&Request::GetRootCa, T)).unwrap();
    assert!(
        matches!(resp, Response::RootCa(ref pem) if pem == ca.cert_pem()),
        "{resp:?}"
    );
    let resp = a.block_on(join.call(&Request::ManagerStatus, T)).unwrap();
    assert!(
        matches!(resp, Response::Error(ref e) if e.message.contains("certificate is required")),
        "{resp:?}"
    );

    // Once the root is known, the join client insists on it: a server
    // whose certificate is from another root is refused at the handshake.
    let pinned_elsewhere = tls::join_client_config_pinned(&RootCa::generate().unwrap()).unwrap();
    let err = a
        .block_on(PeerClient::new(addr.clone(), pinned_elsewhere).call(&Request::GetRootCa, T))
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    let pinned = tls::join_client_config_pinned(&ca).unwrap();
    assert!(matches!(
        a.block_on(PeerClient::new(addr.clone(), pinned).call(&Request::GetRootCa, T)),
        Ok(Response::RootCa(_))
    ));

    // A worker's certificate cannot call what only managers may.
    let worker = NodeCert::issue_local(
        &RootCa::from_pem(
            &a.mgr().cluster().unwrap().root_ca_cert,
            a.mgr().cluster().unwrap().root_ca_key.as_deref(),
        )
        .unwrap(),
        NodeIdentity {
            node_id: new_id(),
            role: Role::Worker,
            cluster_id: a.mgr().cluster_id().into(),
        },
        DEFAULT_CERT_EXPIRY,
    )
    .unwrap();
    let config = tls::cluster_client_config(&ca, &worker).unwrap();
    let resp = a
        .block_on(PeerClient::new(addr, config).call(&Request::ManagerStatus, T))
        .unwrap();
    assert!(
        matches!(resp, Response::Error(ref e) if e.message.contains("not a swarm manager")),
        "{resp:?}"
    );
}

#[test]
fn join_tokens_pin_the_ca_and_need_the_secret() {
    let a = TestNode::init(1000);
    let other = TestNode::init(1000);
    let good = JoinToken::parse(&a.manager_token()).unwrap();

    // Our secret with another cluster's CA digest: the joiner refuses the remote.
    let mut wrong_ca = good.clone();
    wrong_ca.ca_digest = other.mgr().root_ca().digest();
    let err = TestNode::try_join(a.mgr().addr(), &wrong_ca.to_string(), 1000)
        .err()
        .expect("refused");
    assert!(
        err.message
            .starts_with("remote CA does not match fingerprint. Expected: "),
        "{}",
        err.message
    );

    // The right CA, a wrong secret: the manager refuses.
    let mut wrong_secret = good.clone();
    wrong_secret.secret = JoinToken::generate(good.ca_digest).secret;
    let err = TestNode::try_join(a.mgr().addr(), &wrong_secret.to_string(), 1000)
        .err()
        .expect("refused");
    assert_eq!(
        err.message,
        "rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster"
    );

    // Another cluster's valid token: refused by its CA digest too.
    let err = TestNode::try_join(a.mgr().addr(), &other.manager_token(), 1000)
        .err()
        .expect("refused");
    assert!(
        err.message
            .starts_with("remote CA does not match fingerprint"),
        "{}",
        err.message
    );

    // Garbage: invalid join token.
    let err = TestNode::try_join(a.mgr().addr(), "SWMTKN-1-nope", 1000)
        .err()
        .expect("refused");
    assert_eq!(err.message, "invalid join token");

    // A rotated manager token stops working; the new one works.
    let old = a.manager_token();
    let new = a
        .block_on(a.mgr().rotate_join_token(Role::Manager))
        .unwrap()
        .to_string();
    assert_ne!(old, new);
    let err = TestNode::try_join(a.mgr().addr(), &old, 1000)
        .err()
        .expect("refused");
    assert_eq!(
        err.message,
        "rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster"
    );
    let (b, _) = TestNode::try_join(a.mgr().addr(), &new, 1000).expect("the rotated token joins");
    assert_eq!(b.mgr().cluster_id(), a.mgr().cluster_id());
    assert_eq!(b.mgr().node_cert().identity.role, Role::Manager);

    // Only the failed joins left nothing in the store: the two managers.
    assert_eq!(a.managers_in_store(), 2);
}

#[test]
fn a_worker_token_gets_a_worker_certificate_and_no_manager_rpcs() {
    let a = TestNode::init(1000);
    let token = a.worker_token();
    let (ca, cert, resp) = a
        .block_on(berth_swarm::manager::request_certificate(
            a.mgr().addr(),
            &token,
            "127.0.0.1:4000",
            "worker-1",
        ))
        .expect("worker join");
    assert_eq!(ca.digest(), a.mgr().root_ca().digest());
    assert_eq!(cert.identity.role, Role::Worker);
    assert_eq!(cert.identity.cluster_id, a.mgr().cluster_id());
    assert_eq!(resp.raft_id, 0, "a worker has no raft ID");
    let node = a
        .mgr()
        .nodes()
        .get(&cert.identity.node_id)
        .cloned()
        .expect("the worker is in the store");
    assert_eq!(node.spec.role, Role::Worker);
    assert_eq!(node.hostname, "worker-1");
    assert!(node.manager.is_none());

    // Its certificate is from the cluster CA (the handshake passes) but it
    // is refused what only managers may call.
    let config = tls::cluster_client_config(&ca, &cert).unwrap();
    let resp = a
        .block_on(PeerClient::new(a.mgr().addr().into(), config).call(&Request::ManagerStatus, T))
        .unwrap();
    assert!(
        matches!(resp, Response::Error(ref e) if e.message.contains("not a swarm manager")),
        "{resp:?}"
    );

    // And the manager-only join path refuses a worker token.
    let err = TestNode::try_join(a.mgr().addr(), &token, 1000)
        .err()
        .expect("refused");
    assert!(err.message.contains("worker join token"), "{}", err.message);
}

#[test]
fn a_renewed_certificate_is_served_at_once_and_kept_on_disk() {
    let a = TestNode::init(1000);
    let (b, _) = TestNode::join(&a, 1000);
    let old = a.mgr().node_cert();
    std::thread::sleep(Duration::from_millis(1100)); // a later not_after, to the second
    let new = a.mgr().renew_certificate().expect("renew");
    assert_ne!(new.cert_pem, old.cert_pem);
    assert_eq!(new.identity, old.identity);
    assert!(new.not_after().unwrap() > old.not_after().unwrap());

    // A new connection sees the new certificate, without a restart.
    let join = PeerClient::new(a.mgr().addr().into(), tls::join_client_config().unwrap());
    let chain = a.block_on(join.peer_chain()).unwrap();
    assert_eq!(
        chain[0].as_ref(),
        berth_swarm::ca::first_cert_der(&new.cert_pem)
            .unwrap()
            .as_slice()
    );

    // The cluster keeps working across the swap (b's writes reach the leader).
    let b_id = b.mgr().node_id().to_string();
    assert!(common::wait_until(Duration::from_secs(3), || b
        .set_label(&b_id, "renewed", "yes")
        .is_ok()));

    // On disk for the next start.
    let on_disk =
        std::fs::read_to_string(a.dir.path().join("swarm/certificates/swarm-node.crt")).unwrap();
    assert_eq!(on_disk, new.cert_pem);
}
