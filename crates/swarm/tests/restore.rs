//! Backup and restore with `--force-new-cluster`: a stopped manager's
//! state copied to another directory and address, and the survivor of a
//! cluster that lost its quorum, each back as a one-manager cluster with
//! everything the old one held.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use berth_swarm::ca::Role;
use berth_swarm::store::{ClusterSpec, NodeState};
use berth_swarm::{Manager, ManagerConfig, Reachability, LOST_QUORUM};
use common::{wait_until, TestNode};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// A three-manager cluster with a label written through it.
fn three_managers() -> Vec<TestNode> {
    let a = TestNode::init(1000);
    let (b, _) = TestNode::join(&a, 1000);
    let (c, _) = TestNode::join(&a, 1000);
    let id = a.mgr().node_id().to_string();
    a.set_label(&id, "before", "restore").unwrap();
    assert!(wait_until(Duration::from_secs(5), || {
        b.label(&id, "before").is_some() && c.label(&id, "before").is_some()
    }));
    vec![a, b, c]
}

/// Force a new cluster on `dir` at a new 127.0.0.1 port, timing it.
fn restore(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    port: u16,
    key: Option<&str>,
) -> Result<(Manager, Duration), berth_api::Error> {
    let cfg = ManagerConfig::new(dir, ([127, 0, 0, 1], port).into());
    let start = Instant::now();
    let deadline = start + Duration::from_secs(5);
    loop {
        match rt.block_on(Manager::force_new_cluster(cfg.clone(), key)) {
            Err(e) if e.message.contains("failed to listen") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            r => return r.map(|m| (m, start.elapsed())),
        }
    }
}

/// What must survive a restore, and the new cluster works: writes, the
/// old managers removable, a new manager joins with the old token.
fn check_restored(
    rt: &tokio::runtime::Runtime,
    mgr: &Manager,
    old: &berth_swarm::store::Cluster,
    old_nodes: usize,
) {
    let cluster = mgr.cluster().unwrap();
    assert_eq!(cluster.id, old.id);
    assert_eq!(cluster.root_ca_cert, old.root_ca_cert);
    assert_eq!(cluster.join_tokens, old.join_tokens);
    assert_eq!(mgr.nodes().len(), old_nodes, "every node object is kept");
    let managers = rt.block_on(mgr.managers());
    assert_eq!(managers.len(), 1, "{managers:?}");
    assert!(managers[0].leader && managers[0].reachability == Reachability::Reachable);
    assert_eq!(managers[0].addr, mgr.addr());
    let me = mgr.node_id().to_string();
    assert_eq!(
        mgr.nodes()[&me].manager.as_ref().unwrap().addr,
        mgr.addr(),
        "the node object has the new address"
    );
    let mut node = mgr.nodes()[&me].clone();
    node.spec.labels.insert("after".into(), "restore".into());
    rt.block_on(mgr.propose(berth_swarm::store::Command::UpdateNode(Box::new(node))))
        .expect("writes are accepted");
    // The other old managers: down, not in Raft; demote, then remove.
    let others: Vec<String> = mgr
        .nodes()
        .values()
        .filter(|n| n.id != me && n.spec.role == Role::Manager)
        .map(|n| n.id.clone())
        .collect();
    assert!(!others.is_empty());
    for id in others {
        assert_eq!(mgr.nodes()[&id].status.state, NodeState::Down);
        rt.block_on(mgr.demote(&id)).expect("demote an old manager");
        rt.block_on(mgr.remove_node(&id, false))
            .expect("remove an old manager");
    }
}

#[test]
fn a_backup_restored_elsewhere_becomes_a_new_cluster_with_everything() {
    let mut nodes = three_managers();
    let old = nodes[0].mgr().cluster().unwrap();
    let old_nodes = nodes[0].mgr().nodes().len();
    let b_id = nodes[1].mgr().node_id().to_string();
    let a_id = nodes[0].mgr().node_id().to_string();
    // Stop manager b, back up its state, then lose the whole cluster.
    nodes[1].crash();
    let backup = tempfile::tempdir().unwrap();
    copy_dir(&nodes[1].dir.path().join("swarm"), backup.path());
    for n in nodes.iter_mut().filter(|n| n.is_up()) {
        n.crash();
    }

    let rt = runtime();
    let (mgr, took) = restore(&rt, backup.path(), 0, None).expect("force new cluster");
    eprintln!("restore (force-new-cluster to leader and store updated): {took:?}");
    assert_eq!(mgr.node_id(), b_id, "the node keeps its identity");
    assert_ne!(mgr.addr(), format!("127.0.0.1:{}", nodes[1].port));
    assert_eq!(
        mgr.nodes()[&a_id]
            .spec
            .labels
            .get("before")
            .map(String::as_str),
        Some("restore")
    );
    check_restored(&rt, &mgr, &old, old_nodes);

    // The restored cluster takes a new manager with the old token.
    let (joined, _) =
        TestNode::try_join(mgr.addr(), &old.join_tokens.manager.to_string(), 1000).expect("join");
    assert!(wait_until(Duration::from_secs(5), || {
        rt.block_on(mgr.managers()).len() == 2
    }));
    assert_eq!(joined.mgr().cluster_id(), old.id);

    rt.block_on(mgr.shutdown());
}

#[test]
fn the_survivor_of_a_lost_quorum_forces_a_new_cluster() {
    let mut nodes = three_managers();
    let old = nodes[0].mgr().cluster().unwrap();
    let old_nodes = nodes[0].mgr().nodes().len();
    let leader = common::leader_index(&nodes).expect("a leader");
    let survivor = (leader + 1) % 3;
    for (i, n) in nodes.iter_mut().enumerate() {
        if i != survivor {
            n.crash();
        }
    }
    let s = &nodes[survivor];
    let id = s.mgr().node_id().to_string();
    let err = s.set_label(&id, "x", "y").unwrap_err();
    assert_eq!(err.message, LOST_QUORUM);

    let port = s.port;
    nodes[survivor].crash();
    let rt = runtime();
    let dir = nodes[survivor].dir.path().join("swarm");
    let (mgr, took) = restore(&rt, &dir, port, None).expect("force new cluster");
    eprintln!("survivor force-new-cluster: {took:?}");
    assert_eq!(mgr.node_id(), id);
    check_restored(&rt, &mgr, &old, old_nodes);
    rt.block_on(mgr.shutdown());

    // A plain restart keeps the one-manager cluster.
    let cfg = ManagerConfig::new(&dir, ([127, 0, 0, 1], port).into());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mgr = loop {
        match rt.block_on(Manager::open(cfg.clone())) {
            Err(e) if e.message.contains("failed to listen") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            r => break r.expect("reopen"),
        }
    };
    assert!(wait_until(Duration::from_secs(5), || mgr.is_leader()));
    assert_eq!(rt.block_on(mgr.managers()).len(), 1);
    rt.block_on(mgr.shutdown());
}

#[test]
fn an_autolocked_backup_needs_its_key_to_restore() {
    let mut a = TestNode::init(1000);
    let cluster = a.mgr().cluster().unwrap();
    let spec = ClusterSpec {
        autolock: true,
        ..cluster.spec.clone()
    };
    a.block_on(a.mgr().update_cluster_spec(cluster.meta.version, spec))
        .unwrap();
    let key = a.mgr().unlock_key().unwrap().to_string();
    let id = a.mgr().node_id().to_string();
    a.crash();
    let backup = tempfile::tempdir().unwrap();
    copy_dir(&a.dir.path().join("swarm"), backup.path());
    for (path, body) in walk(backup.path()) {
        assert!(
            !body.windows(key.len()).any(|w| w == key.as_bytes()),
            "{} holds the unlock key",
            path.display()
        );
    }

    let rt = runtime();
    let err = restore(&rt, backup.path(), 0, None).err().unwrap();
    assert!(berth_swarm::is_swarm_locked(&err), "{err:?}");
    let wrong = berth_swarm::lock::UnlockKey::generate().to_string();
    let err = restore(&rt, backup.path(), 0, Some(&wrong)).err().unwrap();
    assert_eq!(err.message, berth_swarm::INVALID_UNLOCK_KEY);
    let (mgr, _) = restore(&rt, backup.path(), 0, Some(&key)).expect("restore with the key");
    assert_eq!(mgr.node_id(), id);
    assert!(mgr.is_leader());
    assert_eq!(mgr.unlock_key().map(|k| k.to_string()), Some(key));
    rt.block_on(mgr.shutdown());
}

fn walk(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}
