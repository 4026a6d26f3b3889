//! Who may join a swarm and talk to its managers, through the real docker
//! CLI 28 and openssl, on a cluster of separate nodes
//! (`berth_e2e::cluster`): malformed, wrong and rotated join tokens, a
//! token pinning another CA, and mutual TLS on the cluster port 2377.
//!
//! Run with `--test-threads=1`: each test takes the whole machine's
//! daemon slots.

use berth_e2e::cluster::{Cluster, Role};
use berth_e2e::Out;

/// dockerd's answer to a join whose secret the managers do not know.
const INVALID_TOKEN: &str = "Error response from daemon: rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster";

/// A token's four dash-separated fields: `SWMTKN`, `1`, the CA digest (50
/// base-36 digits) and the secret (25).
fn token_parts(token: &str) -> (String, String) {
    let f: Vec<&str> = token.split('-').collect();
    assert_eq!(f.len(), 4, "{token}");
    assert_eq!(
        (f[0], f[1], f[2].len(), f[3].len()),
        ("SWMTKN", "1", 50, 25),
        "{token}"
    );
    (f[2].to_string(), f[3].to_string())
}

/// Another digit in base 36 for each one: a well-formed digest (or secret)
/// that is not this one.
fn other_base36(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'z' => '0',
            '9' => 'a',
            c => (c as u8 + 1) as char,
        })
        .collect()
}

#[track_caller]
fn still_out(c: &Cluster, i: usize, o: &Out) {
    let state = c.node(i).info("{{.Swarm.LocalNodeState}}");
    if state != "inactive" {
        o.fail(&format!("node {i} is {state} after a refused join"));
    }
}

#[test]
fn joins_with_bad_tokens_are_refused_and_change_nothing() {
    let c = Cluster::start(2);
    c.swarm_init(1);
    let token = c.join_token(1, Role::Worker);
    let (digest, secret) = token_parts(&token);

    let o = c.try_join(2, "SWMTKN-1-garbage", 1);
    o.code_is(1)
        .stderr_has("Error response from daemon: invalid join token");
    still_out(&c, 2, &o);

    let wrong_secret = format!("SWMTKN-1-{digest}-{}", other_base36(&secret));
    let o = c.try_join(2, &wrong_secret, 1);
    o.code_is(1).stderr_has(INVALID_TOKEN);
    still_out(&c, 2, &o);

    // A token pinning another CA: the joiner refuses the managers' CA
    // before it sends its secret, and says which CA it was shown.
    let other_ca = format!("SWMTKN-1-{}-{secret}", other_base36(&digest));
    let o = c.try_join(2, &other_ca, 1);
    o.code_is(1)
        .stderr_has("Error response from daemon: remote CA does not match fingerprint. Expected: ");
    still_out(&c, 2, &o);
    assert_eq!(c.node(1).node_ls().len(), 1);

    c.join(2, &token, 1, Role::Worker);
    assert_eq!(c.node(1).node_ls().len(), 2);
}

#[test]
fn a_rotated_join_token_refuses_the_old_one() {
    let c = Cluster::start(3);
    c.swarm_init(1);
    let old = c.join_token(1, Role::Worker);
    let manager = c.join_token(1, Role::Manager);
    let o = c
        .node(1)
        .docker(&["swarm", "join-token", "--rotate", "worker"]);
    o.ok()
        .stdout_has("Successfully rotated worker join token.\n\nTo add a worker to this swarm, run the following command:\n\n    docker swarm join --token SWMTKN-1-");
    let new = c.join_token(1, Role::Worker);
    assert_ne!(new, old);
    assert!(o.stdout.contains(&new), "{o}");
    // Same CA, new secret; the other role's token is untouched.
    assert_eq!(token_parts(&new).0, token_parts(&old).0);
    assert_eq!(c.join_token(1, Role::Manager), manager);

    let refused = c.try_join(2, &old, 1);
    refused.code_is(1).stderr_has(INVALID_TOKEN);
    still_out(&c, 2, &refused);
    c.join(2, &new, 1, Role::Worker);
    // `-q --rotate` prints only the new token.
    let q = c
        .node(1)
        .docker(&["swarm", "join-token", "-q", "--rotate", "manager"]);
    q.ok();
    let rotated = q.stdout.trim();
    assert_eq!(rotated, c.join_token(1, Role::Manager));
    c.try_join(3, &manager, 1)
        .code_is(1)
        .stderr_has(INVALID_TOKEN);
    c.join(3, rotated, 1, Role::Manager);
}

/// `openssl s_client` from node `from`'s host to node 1's cluster port,
/// trusting the cluster's root CA (`swarm ca`), with `crt` and `key` as the
/// client certificate. TLS 1.2 (which both daemons speak), so the server
/// judges the client's certificate within the handshake: in TLS 1.3 its
/// alert comes after the client's side is done, and s_client may have quit
/// before reading it. `then` is a pipe stage for s_client's output.
fn s_client(c: &Cluster, from: usize, ca: &str, crt: &str, key: &str, then: &str) -> Out {
    c.node(from).sh(&format!(
        "echo hello | timeout 20 openssl s_client -tls1_2 -connect {}:2377 -CAfile {ca} \
         -cert {crt} -key {key} 2>&1 {then}",
        c.addr(1)
    ))
}

/// What this test does not check: a connection with no client certificate
/// at all. dockerd completes that handshake (swarmkit serves its CA's join
/// calls to nodes that have no certificate yet, and refuses the rest per
/// call), berthd refuses it at the handshake (alert 116,
/// certificate_required), as the issue asks.
#[test]
fn the_cluster_port_speaks_mutual_tls_under_the_cluster_ca() {
    let c = Cluster::start(2);
    c.swarm_init(1);
    c.join(2, &c.join_token(1, Role::Worker), 1, Role::Worker);
    let dir = c.node(2).dir.join("tls");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let ca = dir.join("ca.pem").display().to_string();
    let o = c.node(1).docker(&["swarm", "ca"]);
    o.ok().stdout_has("-----BEGIN CERTIFICATE-----");
    std::fs::write(&ca, &o.stdout).expect("write ca.pem");

    // The worker's own certificate, issued at its join, is accepted.
    let certs = c.node(2).data_root.join("swarm/certificates");
    let worker_crt = certs.join("swarm-node.crt").display().to_string();
    let worker_key = dir.join("worker.key").display().to_string();
    c.node(2)
        .sh(&format!(
            // swarmkit keeps headers (kek-version) in its PEM key; openssl
            // reads the key without them.
            "grep -v ': ' {} > {worker_key}",
            certs.join("swarm-node.key").display(),
        ))
        .ok();
    let member = s_client(&c, 2, &ca, &worker_crt, &worker_key, "");
    // The handshake is the check. What follows it is not: the server
    // hangs up on "hello" (not a frame of its protocol) without a TLS
    // close_notify, and s_client's exit code then depends on which side
    // is quicker (an "unexpected eof" is exit 1).
    member
        .stdout_has("Verify return code: 0 (ok)")
        .stdout_has("New, TLSv1.2, Cipher is");
    assert!(!member.stdout.contains("SSL alert number"), "{member}");
    // The manager's certificate, issued by the cluster CA as swarmkit
    // issues them: O the cluster ID, OU the role, CN the node ID.
    let x509 = "| openssl x509 -noout -subject -issuer -nameopt RFC2253";
    let subject = s_client(&c, 2, &ca, &worker_crt, &worker_key, x509);
    subject.ok().stdout_is(&format!(
        "subject=CN={},OU=swarm-manager,O={}\nissuer=CN=swarm-ca\n",
        c.node(1).swarm_node_id(),
        c.node(1).info("{{.Swarm.Cluster.ID}}")
    ));

    // A client certificate from elsewhere is refused at the handshake.
    let (crt, key) = (dir.join("x.crt"), dir.join("x.key"));
    let (crt, key) = (crt.display().to_string(), key.display().to_string());
    c.node(2)
        .sh(&format!(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
             -keyout {key} -out {crt} -subj /CN=intruder -days 1 2>&1"
        ))
        .ok();
    let intruder = s_client(&c, 2, &ca, &crt, &key, "");
    intruder.fails().stdout_has("SSL alert number");
}
