//! Autolock: Raft data and the node key at rest, locked restarts, the
//! unlock key's rotation, on real managers with their state on disk.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_api::ErrorKind;
use berth_swarm::lock::keyfile;
use berth_swarm::lock::{DataKey, UnlockKey};
use berth_swarm::store::ClusterSpec;
use berth_swarm::{Manager, ManagerConfig};
use common::{wait_until, TestNode};

/// Every file under `dir` with its bytes (to prove a refusal wrote nothing).
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The body of a PEM block as it appears in the file (a line of it).
fn pem_line(pem: &str) -> String {
    pem.lines()
        .find(|l| !l.starts_with("-----") && l.len() >= 40)
        .unwrap()
        .to_string()
}

fn config(node: &TestNode) -> ManagerConfig {
    let mut c = ManagerConfig::new(
        node.dir.path().join("swarm"),
        ([127, 0, 0, 1], node.port).into(),
    );
    c.snapshot_every = 10;
    c
}

/// Start `node`'s manager again with `key`, retrying while the old
/// listener is released; returns the manager or the refusal.
fn unlock(
    rt: &tokio::runtime::Runtime,
    node: &TestNode,
    key: &str,
) -> Result<Manager, berth_api::Error> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match rt.block_on(Manager::unlock(config(node), key)) {
            Err(e) if e.message.contains("failed to listen") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            r => return r,
        }
    }
}

/// Every sealed blob of the Raft files: (purpose, blob).
fn raft_blobs(state: &Path) -> Vec<(&'static [u8], Vec<u8>)> {
    let mut out = Vec::new();
    let log = rusqlite::Connection::open(state.join("raft/raft-log.db")).unwrap();
    let mut stmt = log.prepare("SELECT entry FROM log").unwrap();
    for blob in stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).unwrap() {
        out.push((b"raft-log".as_slice(), blob.unwrap()));
    }
    let sm = rusqlite::Connection::open(state.join("raft/raft-state.db")).unwrap();
    let mut stmt = sm.prepare("SELECT body FROM objects").unwrap();
    for blob in stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).unwrap() {
        out.push((b"raft-state-row".as_slice(), blob.unwrap()));
    }
    assert!(out.len() > 3, "the files hold entries and rows");
    out
}

/// Whether every blob opens with `new` and none with `old`.
fn sealed_only_under(state: &Path, new: &DataKey, old: &DataKey) -> bool {
    raft_blobs(state).iter().all(|(purpose, blob)| {
        new.sealer().open(purpose, blob).is_ok() && old.sealer().open(purpose, blob).is_err()
    })
}

fn enable_autolock(node: &TestNode, on: bool) -> Option<UnlockKey> {
    let cluster = node.mgr().cluster().unwrap();
    let spec = ClusterSpec {
        autolock: on,
        ..cluster.spec
    };
    node.block_on(node.mgr().update_cluster_spec(cluster.meta.version, spec))
        .expect("swarm update");
    node.mgr().unlock_key()
}

#[test]
fn a_locked_manager_opens_only_with_its_key_and_nothing_is_readable_at_rest() {
    let mut a = TestNode::init(10);
    let id = a.mgr().node_id().to_string();
    // Enough writes for a snapshot and a log tail.
    for i in 0..25 {
        a.set_label(&id, &format!("k{i}"), &format!("needle-{i}-zq"))
            .unwrap();
    }
    let ca_key = a.mgr().cluster().unwrap().root_ca_key.unwrap();
    let node_key = a.mgr().node_cert().key_pem;
    let state = a.dir.path().join("swarm");
    // A copy of the key file from before: its data key is in the clear.
    let before = std::fs::read_to_string(state.join("certificates/swarm-node.key")).unwrap();
    let old_dek = keyfile::decode(&before, None).unwrap().dek;
    let key = enable_autolock(&a, true).expect("autolock makes a key");
    a.crash();
    // Turning autolock on moved the Raft data to a new data key: the old
    // copy opens none of it.
    let sealed = std::fs::read_to_string(state.join("certificates/swarm-node.key")).unwrap();
    let secrets = keyfile::decode(&sealed, Some(&key)).unwrap();
    assert_eq!(secrets.previous_dek, None, "the re-seal finished");
    assert!(sealed_only_under(&state, &secrets.dek, &old_dek));

    let locked = files(&state);
    for (path, body) in &locked {
        for needle in [
            b"needle-".as_slice(),
            pem_line(&ca_key).as_bytes(),
            pem_line(&node_key).as_bytes(),
            key.to_string().as_bytes(),
        ] {
            assert!(!contains(body, needle), "{} holds a secret", path.display());
        }
    }
    let key_file = std::fs::read_to_string(state.join("certificates/swarm-node.key")).unwrap();
    assert!(keyfile::is_sealed(&key_file));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(Manager::open(config(&a))).err().unwrap();
    assert!(berth_swarm::is_swarm_locked(&err), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err
        .message
        .starts_with("Swarm is encrypted and needs to be unlocked"));

    let wrong = UnlockKey::generate().to_string();
    let err = unlock(&rt, &a, &wrong).err().unwrap();
    assert_eq!(
        (err.kind(), err.message.as_str()),
        (
            ErrorKind::Unauthorized,
            "swarm could not be unlocked: invalid key provided"
        )
    );
    let err = unlock(&rt, &a, "SWMKEY-2-nope").err().unwrap();
    assert_eq!(
        (err.kind(), err.message.as_str()),
        (ErrorKind::InvalidArgument, "invalid key string")
    );
    assert!(
        files(&state) == locked,
        "a refused key changed nothing on disk"
    );

    let start = Instant::now();
    let mgr = unlock(&rt, &a, &key.to_string()).expect("the right key unlocks");
    let took = start.elapsed();
    assert!(rt
        .block_on(mgr.wait_for_leader(Duration::from_secs(5)))
        .is_some());
    eprintln!("unlock to leader: {:?}", start.elapsed());
    eprintln!("unlock (open): {took:?}");
    let labels = mgr.nodes()[&id].spec.labels.clone();
    for i in 0..25 {
        assert_eq!(labels[&format!("k{i}")], format!("needle-{i}-zq"));
    }
    assert_eq!(mgr.unlock_key(), Some(key.clone()));
    // An unlocked node asked to unlock again: dockerd's "swarm is not locked".
    rt.block_on(mgr.shutdown());
    std::fs::write(state.join("certificates/swarm-node.key"), {
        let secrets = keyfile::decode(&key_file, Some(&key)).unwrap();
        keyfile::encode(&secrets, None).unwrap()
    })
    .unwrap();
    let err = unlock(&rt, &a, &key.to_string()).err().unwrap();
    assert_eq!(
        (err.kind(), err.message.as_str()),
        (ErrorKind::Conflict, "swarm is not locked")
    );
}

#[test]
fn rotation_and_turning_autolock_off_reach_every_manager() {
    let mut nodes = vec![TestNode::init(1000)];
    for _ in 0..2 {
        let (n, _) = TestNode::join(&nodes[0], 1000);
        nodes.push(n);
    }
    let key_file = |n: &TestNode| {
        std::fs::read_to_string(n.dir.path().join("swarm/certificates/swarm-node.key")).unwrap()
    };
    let opens_with = |n: &TestNode, k: &UnlockKey| keyfile::decode(&key_file(n), Some(k)).is_ok();

    // Turned on from a follower: forwarded to the leader, every manager seals.
    let first = enable_autolock(&nodes[1], true).expect("a key");
    assert!(wait_until(Duration::from_secs(5), || nodes
        .iter()
        .all(|n| opens_with(n, &first))));

    let second = nodes[2]
        .block_on(nodes[2].mgr().rotate_unlock_key())
        .unwrap()
        .expect("autolock is on");
    assert_ne!(first, second);
    assert!(
        opens_with(&nodes[2], &second),
        "the rotating manager re-sealed before answering"
    );
    assert!(wait_until(Duration::from_secs(5), || nodes
        .iter()
        .all(|n| opens_with(n, &second) && !opens_with(n, &first))));
    assert_eq!(nodes[0].mgr().unlock_key(), Some(second.clone()));
    // A manager that joins a locked swarm seals its own file.
    let (late, _) = TestNode::join(&nodes[0], 1000);
    assert!(wait_until(Duration::from_secs(5), || opens_with(
        &late, &second
    )));
    drop(late);

    // A restarted follower: the old key is refused, the new one opens it.
    nodes[1].crash();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = unlock(&rt, &nodes[1], &first.to_string()).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    let m1 = unlock(&rt, &nodes[1], &second.to_string()).expect("new key opens");
    assert!(wait_until(Duration::from_secs(5), || m1.leader().is_some()));

    // Off: every key file is plain again, and a restart needs no key.
    assert_eq!(enable_autolock(&nodes[0], false), None);
    assert!(wait_until(Duration::from_secs(5), || {
        !keyfile::is_sealed(&key_file(&nodes[0]))
            && !keyfile::is_sealed(&key_file(&nodes[1]))
            && !keyfile::is_sealed(&key_file(&nodes[2]))
    }));
    assert_eq!(
        nodes[0]
            .block_on(nodes[0].mgr().rotate_unlock_key())
            .unwrap(),
        None,
        "nothing to rotate with autolock off"
    );
    rt.block_on(m1.shutdown());
    nodes[2].crash();
    nodes[2].restart();
    assert!(wait_until(Duration::from_secs(5), || nodes[2]
        .mgr()
        .leader()
        .is_some()));
}

#[test]
fn init_with_autolock_is_locked_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = ManagerConfig::new(dir.path().join("swarm"), "127.0.0.1:0".parse().unwrap());
    let spec = ClusterSpec {
        autolock: true,
        ..ClusterSpec::default()
    };
    let mgr = rt.block_on(Manager::init(cfg.clone(), spec, None)).unwrap();
    let key = mgr.unlock_key().expect("init --autolock prints a key");
    let text =
        std::fs::read_to_string(dir.path().join("swarm/certificates/swarm-node.key")).unwrap();
    assert!(keyfile::is_sealed(&text));
    rt.block_on(mgr.shutdown());
    drop(rt);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(Manager::open(cfg.clone())).err().unwrap();
    assert!(berth_swarm::is_swarm_locked(&err));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mgr = loop {
        match rt.block_on(Manager::unlock(cfg.clone(), &key.to_string())) {
            Err(e) if e.message.contains("failed to listen") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            r => break r.expect("unlock"),
        }
    };
    assert!(rt
        .block_on(mgr.wait_for_leader(Duration::from_secs(5)))
        .is_some());
    rt.block_on(mgr.shutdown());
}

#[test]
fn a_re_seal_cut_short_by_a_crash_is_finished_at_the_next_start() {
    let mut a = TestNode::init(1000);
    let id = a.mgr().node_id().to_string();
    for i in 0..5 {
        a.set_label(&id, &format!("k{i}"), "v").unwrap();
    }
    a.crash();
    // As the file is right after a crash in the middle of turning autolock
    // on: the next data key recorded, the data still under the previous.
    let path = a.dir.path().join("swarm/certificates/swarm-node.key");
    let mut secrets = keyfile::decode(&std::fs::read_to_string(&path).unwrap(), None).unwrap();
    let old = secrets.dek.clone();
    secrets.previous_dek = Some(old.clone());
    secrets.dek = DataKey::generate();
    std::fs::write(&path, keyfile::encode(&secrets, None).unwrap()).unwrap();

    a.restart();
    assert!(wait_until(Duration::from_secs(5), || {
        keyfile::decode(&std::fs::read_to_string(&path).unwrap(), None)
            .is_ok_and(|s| s.previous_dek.is_none())
    }));
    assert_eq!(a.label(&id, "k4").as_deref(), Some("v"));
    a.set_label(&id, "after", "resume").unwrap();
    let state = a.dir.path().join("swarm");
    a.crash();
    assert!(sealed_only_under(&state, &secrets.dek, &old));
}
