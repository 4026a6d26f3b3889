//! A node that is not in a swarm: each swarm endpoint answers dockerd's
//! 503 and message (never a 404), and the docker CLI prints them as it
//! does against dockerd.

use berth_e2e::Daemon;

const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

#[test]
fn swarm_calls_on_a_node_in_no_swarm_answer_as_dockerd() {
    let d = Daemon::start();
    for path in [
        "/swarm",
        "/nodes",
        "/nodes/abc",
        "/services",
        "/services/abc",
        "/tasks",
        "/secrets",
        "/configs/abc",
        "/swarm/unlockkey",
    ] {
        let r = d.get(path);
        r.status_is(503);
        assert_eq!(r.message(), NOT_A_MANAGER, "GET {path}");
    }
    for path in [
        "/services/create",
        "/swarm/update?version=1",
        "/swarm/unlock",
    ] {
        let r = d.post_json(path, "{}");
        r.status_is(503);
        assert_eq!(r.message(), NOT_A_MANAGER, "POST {path}");
    }
    let r = d.post_json("/swarm/leave", "{}");
    r.status_is(503);
    assert_eq!(r.message(), "This node is not part of a swarm");
    let info = d.get("/info").json();
    assert_eq!(info["Swarm"]["LocalNodeState"], "inactive");
    assert_eq!(info["Swarm"]["ControlAvailable"], false);

    for args in [
        &["node", "ls"][..],
        &["service", "ls"],
        &["secret", "ls"],
        &["config", "ls"],
        &["stack", "ls"],
    ] {
        d.docker(args)
            .code_is(1)
            .stderr_has(&format!("Error response from daemon: {NOT_A_MANAGER}"));
    }
    d.docker(&["swarm", "leave"])
        .code_is(1)
        .stderr_has("Error response from daemon: This node is not part of a swarm");
}
