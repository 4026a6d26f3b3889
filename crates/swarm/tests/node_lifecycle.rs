//! Workers through the `SwarmNode` facade on 127.0.0.1: they join and
//! heartbeat, go Down when they die and Ready when they return, fail
//! over between managers and across a leader change, renew their
//! certificates, may call only their own RPCs; leave and rm rules.

mod node_harness;

use std::time::{Duration, Instant};

use berth_swarm::ca::Role;
use berth_swarm::store::{ClusterSpec, NodeState};
use berth_swarm::SwarmNode;
use node_harness::{config, leader, runtime, wait_until, DownWatcher, TNode, GRACE};

#[test]
fn workers_heartbeat_go_down_when_killed_and_come_back_ready() {
    let m = TNode::init("mgr-1");
    // Joins well after the leader started: a new node gets its grace from
    // when the leader first sees it.
    std::thread::sleep(GRACE * 2);
    let watcher = DownWatcher::start(m.mgr());
    let (mut w1, took1) = TNode::join(&m, Role::Worker, "worker-1");
    let (w2, took2) = TNode::join(&m, Role::Worker, "worker-2");
    eprintln!("worker join: {took1:?} {took2:?}");
    let (w1_id, w2_id) = (w1.id(), w2.id());

    // Everyone heartbeats, the manager too; descriptions come with the session.
    assert!(
        wait_until(Duration::from_secs(5), || [&m.id(), &w1_id, &w2_id]
            .iter()
            .all(|id| m.state_of(id) == Some(NodeState::Ready))),
        "all Ready: {:?}",
        m.mgr().nodes()
    );
    // ... and stay so: no flap to Down right after the join.
    std::thread::sleep(GRACE * 2);
    assert_eq!(watcher.stop(), Vec::<String>::new(), "nodes seen Down");
    let seen = m.seen(&w1_id).unwrap();
    let desc = seen.description.expect("a description");
    assert_eq!(desc.hostname, "worker-1");
    assert_eq!(desc.platform.os, std::env::consts::OS);
    assert_eq!(desc.platform.architecture, std::env::consts::ARCH);
    assert!(desc.resources.nano_cpus >= 1_000_000_000, "{desc:?}");
    assert!(desc.resources.memory_bytes > 0, "{desc:?}");
    assert_eq!(desc.engine.engine_version, "test-engine");
    assert_eq!(seen.spec.role, Role::Worker);
    let info = w1.node().info();
    assert_eq!(info.role, Role::Worker);
    assert!(w1.node().manager().is_none());
    assert_eq!(info.cluster_id, m.node().info().cluster_id);
    assert_eq!(info.remote_managers.len(), 1, "{info:?}");
    assert_eq!(info.remote_managers[0].node_id, m.id());
    assert_eq!(info.remote_managers[0].addr, m.mgr().addr());

    // A dead worker goes Down within the grace period (plus a check tick).
    w1.crash();
    let died = Instant::now();
    assert!(
        wait_until(Duration::from_secs(5), || m.state_of(&w1_id)
            == Some(NodeState::Down)),
        "the dead worker goes down"
    );
    let to_down = died.elapsed();
    eprintln!("worker death to Down: {to_down:?} (grace {GRACE:?})");
    assert!(to_down >= GRACE / 2, "{to_down:?}: too early");
    assert!(to_down < GRACE * 3, "{to_down:?}");
    assert_eq!(m.seen(&w1_id).unwrap().status.message, "heartbeat failure");
    assert_eq!(m.state_of(&w2_id), Some(NodeState::Ready));
    assert_eq!(m.state_of(&m.id()), Some(NodeState::Ready));

    // Back from its state directory: the same node, Ready again.
    w1.restart();
    assert_eq!(w1.id(), w1_id);
    assert!(
        wait_until(Duration::from_secs(5), || m.state_of(&w1_id)
            == Some(NodeState::Ready)),
        "the restarted worker is Ready again"
    );
    assert_eq!(m.seen(&w1_id).unwrap().status.message, "");
    assert_eq!(m.mgr().nodes().len(), 3, "no new node object");
}

#[test]
fn a_worker_fails_over_to_another_manager_when_its_manager_dies() {
    let a = TNode::init("mgr-a");
    let (b, _) = TNode::join(&a, Role::Manager, "mgr-b");
    let (c, _) = TNode::join(&a, Role::Manager, "mgr-c");
    let mut managers = [a, b, c];
    let (w, _) = TNode::join(&managers[1], Role::Worker, "worker");
    let w_id = w.id();
    assert!(
        wait_until(Duration::from_secs(5), || w
            .node()
            .info()
            .remote_managers
            .len()
            == 3),
        "the worker learns of the three managers: {:?}",
        w.node().info()
    );
    let talks_to = w.node().agent_status().manager.expect("a session");
    let victim = managers
        .iter()
        .position(|m| m.mgr().addr() == talks_to)
        .expect("the worker's manager is one of the three");
    let victim_id = managers[victim].id();
    managers[victim].crash();
    let died = Instant::now();

    // The worker moves to a survivor and stays (or is soon again) Ready there.
    let survivor = (victim + 1) % 3;
    assert!(
        wait_until(Duration::from_secs(10), || {
            let now = w.node().agent_status().manager;
            now.is_some() && now.as_deref() != Some(talks_to.as_str())
        }),
        "the worker moves to another manager: {:?}",
        w.node().agent_status()
    );
    eprintln!(
        "worker failover to {:?} after {:?}",
        w.node().agent_status().manager,
        died.elapsed()
    );
    let refs: Vec<&TNode> = managers.iter().collect();
    assert!(
        wait_until(Duration::from_secs(10), || leader(&refs).is_some()),
        "a leader among the survivors"
    );
    let s = &managers[survivor];
    assert!(
        wait_until(Duration::from_secs(10), || s.state_of(&w_id)
            == Some(NodeState::Ready)),
        "the worker is Ready: {:?}",
        s.seen(&w_id)
    );
    // ... and stays so past a grace period, while the dead manager goes Down.
    std::thread::sleep(GRACE * 2);
    assert_eq!(s.state_of(&w_id), Some(NodeState::Ready));
    assert!(
        wait_until(Duration::from_secs(5), || s.state_of(&victim_id)
            == Some(NodeState::Down)),
        "the dead manager goes down: {:?}",
        s.seen(&victim_id)
    );
}

#[test]
fn leave_and_rm_follow_dockerds_rules() {
    let mut m = TNode::init("mgr");
    let (mut w1, _) = TNode::join(&m, Role::Worker, "worker-1");
    let (w2, _) = TNode::join(&m, Role::Worker, "worker-2");
    let (w1_id, w2_id) = (w1.id(), w2.id());
    assert!(wait_until(Duration::from_secs(5), || [&w1_id, &w2_id]
        .iter()
        .all(|id| m.state_of(id) == Some(NodeState::Ready))));

    // rm of a live worker without --force: swarmkit's refusal.
    let err = m.block_on(m.mgr().remove_node(&w1_id, false)).unwrap_err();
    assert_eq!(
        err.message,
        format!("rpc error: code = FailedPrecondition desc = node {w1_id} is not down and can't be removed")
    );

    // The last manager may not leave without --force (dockerd's words,
    // 503); the refused node is given back, still the manager.
    let node = m.node.take().unwrap();
    let refused = m.block_on(node.leave(false)).expect_err("refused");
    assert_eq!(refused.error.kind, berth_api::ErrorKind::Unavailable);
    assert_eq!(refused.error.message, "You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ");
    m.node = refused.node;
    assert!(m.mgr().is_leader());

    // A worker leaves freely: its state is gone, the managers see it Down,
    // then rm without --force works.
    let node = w1.node.take().unwrap();
    w1.block_on(node.leave(false)).expect("a worker leaves");
    w1.crash();
    let left = std::fs::read_dir(w1.dir.path().join("swarm"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "the state directory is emptied");
    assert!(runtime()
        .block_on(SwarmNode::open(config(w1.dir.path(), "worker-1")))
        .unwrap()
        .is_none());
    assert!(wait_until(Duration::from_secs(5), || m.state_of(&w1_id)
        == Some(NodeState::Down)));
    m.block_on(m.mgr().remove_node(&w1_id, false))
        .expect("rm of a down node");
    assert!(m.seen(&w1_id).is_none());

    // rm --force of a live worker: it is told (its certificate is refused
    // from then on) and stops.
    m.block_on(m.mgr().remove_node(&w2_id, true))
        .expect("rm --force");
    assert!(
        wait_until(Duration::from_secs(5), || w2.node().agent_status().removed),
        "the removed worker learns it: {:?}",
        w2.node().agent_status()
    );
    assert_eq!(
        w2.node().info().error,
        Some(berth_swarm::transport::dispatch::removed_node_error(&w2_id))
    );
    std::thread::sleep(GRACE);
    assert!(m.seen(&w2_id).is_none(), "a removed node stays removed");
}

#[test]
fn a_worker_certificate_opens_its_own_session_and_nothing_more() {
    use berth_swarm::transport::dispatch::DispatchRequest;
    use berth_swarm::transport::{tls, PeerClient, Request, Response};
    let m = TNode::init("mgr");
    let (mut w, _) = TNode::join(&m, Role::Worker, "worker");
    // Its agent stopped, the test speaks for the worker with its certificate.
    w.crash();
    let certs = w.dir.path().join("swarm/certificates");
    let read = |f: &str| std::fs::read_to_string(certs.join(f)).unwrap();
    // the key file also holds the Raft data key (a PEM header)
    let key = berth_swarm::lock::keyfile::decode(&read("swarm-node.key"), None)
        .unwrap()
        .node_key_pem;
    let cert = berth_swarm::ca::NodeCert::from_pem(read("swarm-node.crt"), key).unwrap();
    assert_eq!(cert.identity.role, Role::Worker);
    let ca = m.mgr().root_ca().clone();
    let client = PeerClient::new(
        m.mgr().addr().into(),
        tls::cluster_client_config(&ca, &cert).unwrap(),
    );
    let t = Duration::from_secs(3);
    let call = |req: Request| m.block_on(client.call(&req, t)).expect("an answer");
    let refused = |resp: Response| matches!(resp, Response::Error(ref e) if e.message.contains("not a swarm manager"));

    // Its own session: yes, as itself (the certificate names the node).
    let description = berth_swarm::store::NodeDescription::local("impostor");
    let resp = call(Request::Dispatch(DispatchRequest::Session {
        description: description.clone(),
    }));
    assert!(
        matches!(resp, Response::Dispatch(ref a) if a.role == Role::Worker),
        "{resp:?}"
    );
    assert!(wait_until(Duration::from_secs(3), || m
        .seen(&cert.identity.node_id)
        .and_then(|n| n.description)
        .is_some_and(|d| d.hostname == "impostor")));

    // Another node's session, a write, Raft, the managers' view: no.
    let other = DispatchRequest::Session { description };
    assert!(refused(call(Request::DispatchFor {
        node_id: m.id(),
        req: other
    })));
    let node = m.seen(&m.id()).unwrap();
    assert!(refused(call(Request::Propose(
        berth_swarm::store::Command::UpdateNode(Box::new(node))
    ))));
    assert!(refused(call(Request::Membership(
        berth_swarm::transport::MembershipOp::Remove {
            raft_id: m.mgr().raft_id()
        }
    ))));
    assert!(refused(call(Request::ManagerStatus)));
    let vote: openraft::raft::VoteRequest<u64> =
        openraft::raft::VoteRequest::new(openraft::Vote::new(u64::MAX, 1), None);
    assert!(refused(call(Request::Vote(vote))));
    assert!(m.mgr().is_leader(), "the forged vote changed nothing");

    // Its own renewal: yes, with the role the store gives it.
    let csr_pem = berth_swarm::ca::NodeCert::csr_for(&cert.key_pem).unwrap();
    match call(Request::RenewCertificate { csr_pem }) {
        Response::Certificate(pem) => {
            let renewed = berth_swarm::ca::NodeCert::from_pem(pem, cert.key_pem.clone()).unwrap();
            assert_eq!(renewed.identity, cert.identity);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_new_leader_gives_every_node_a_full_grace_period() {
    let a = TNode::init("mgr-a");
    let (b, _) = TNode::join(&a, Role::Manager, "mgr-b");
    let (c, _) = TNode::join(&a, Role::Manager, "mgr-c");
    let mut managers = [a, b, c];
    // The worker talks to the leader, which then dies.
    let (w, _) = TNode::join(&managers[0], Role::Worker, "worker");
    let w_id = w.id();
    assert!(managers[0].mgr().is_leader());
    assert_eq!(
        w.node().agent_status().manager.as_deref(),
        Some(managers[0].mgr().addr())
    );
    assert!(wait_until(Duration::from_secs(5), || managers
        .iter()
        .all(|m| m.state_of(&w_id) == Some(NodeState::Ready))));
    let watchers = [
        DownWatcher::start(managers[1].mgr()),
        DownWatcher::start(managers[2].mgr()),
    ];
    let a_id = managers[0].id();
    managers[0].crash();

    // A new leader: the nodes that were up are Unknown (swarmkit's words)
    // until they open a session with it, then Ready; none goes Down but
    // the dead manager.
    let refs: Vec<&TNode> = managers.iter().collect();
    assert!(wait_until(Duration::from_secs(10), || leader(&refs).is_some()));
    let l = &managers[leader(&refs).unwrap()];
    assert!(
        wait_until(Duration::from_secs(10), || l.state_of(&w_id)
            == Some(NodeState::Ready)
            && l.state_of(&a_id) == Some(NodeState::Down)),
        "{:?}",
        l.mgr().nodes()
    );
    let a_seen = l.seen(&a_id).unwrap();
    assert_eq!(
        a_seen.status.message,
        "heartbeat failure for node in \"unknown\" state"
    );
    std::thread::sleep(GRACE * 2);
    assert_eq!(l.state_of(&w_id), Some(NodeState::Ready));
    for watcher in watchers {
        let down = watcher.stop();
        assert_eq!(
            down,
            vec![a_id.clone()],
            "only the dead manager was Down (worker {w_id}); now: {:?}",
            l.mgr()
                .nodes()
                .values()
                .map(|n| (&n.id, n.status.state, &n.status.message))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_worker_renews_its_certificate_and_keeps_heartbeating() {
    // A short life (certificates are backdated an hour, as swarmkit's):
    // the renewal point, 50-80% of the life, is due at once.
    let spec = ClusterSpec {
        cert_expiry_secs: 120,
        ..ClusterSpec::default()
    };
    let m = TNode::init_with("mgr", spec);
    let (w, _) = TNode::join(&m, Role::Worker, "worker");
    let certs = w.dir.path().join("swarm/certificates");
    let load = || {
        let read = |f: &str| std::fs::read_to_string(certs.join(f)).unwrap();
        berth_swarm::ca::NodeCert::from_pem(read("swarm-node.crt"), read("swarm-node.key")).unwrap()
    };
    let first = load();
    assert!(
        wait_until(Duration::from_secs(5), || load().not_after().unwrap()
            > first.not_after().unwrap()),
        "the worker's agent renewed its certificate"
    );
    let renewed = load();
    assert_eq!(renewed.identity, first.identity, "same node, same role");
    // The worker works on across the swap: the manager restarts, the
    // worker connects again (with the key and certificate it has now)
    // and is Ready again.
    let w_id = w.id();
    let mut m = m;
    m.crash();
    m.restart();
    assert!(
        wait_until(Duration::from_secs(10), || m.state_of(&w_id)
            == Some(NodeState::Ready)),
        "{:?}",
        m.seen(&w_id)
    );
    std::thread::sleep(GRACE * 2);
    assert_eq!(m.state_of(&w_id), Some(NodeState::Ready));
}

#[test]
fn a_refused_join_leaves_nothing_and_a_joined_node_cannot_join_again() {
    let m = TNode::init("mgr");
    let good = m.mgr().cluster().unwrap().join_tokens.worker;
    let mut wrong = good.clone();
    wrong.secret = berth_swarm::ca::JoinToken::generate(good.ca_digest).secret;
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let err = rt
        .block_on(SwarmNode::join(
            config(dir.path(), "w"),
            m.mgr().addr(),
            &wrong.to_string(),
        ))
        .err()
        .expect("refused");
    assert_eq!(
        err.message,
        "rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster"
    );
    assert!(rt
        .block_on(SwarmNode::open(config(dir.path(), "w")))
        .unwrap()
        .is_none());
    assert_eq!(
        m.mgr().nodes().len(),
        1,
        "no node object for a refused join"
    );

    let (w, _) = TNode::join(&m, Role::Worker, "worker");
    let err = w
        .block_on(SwarmNode::join(
            config(w.dir.path(), "worker"),
            m.mgr().addr(),
            &good.to_string(),
        ))
        .err()
        .expect("refused");
    assert_eq!(err.message, berth_swarm::manager::ALREADY_IN_SWARM);
    assert_eq!(m.mgr().nodes().len(), 2);
}
