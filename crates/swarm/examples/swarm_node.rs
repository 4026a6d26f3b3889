//! One swarm node in a process, for trying the library by hand and for
//! measuring a node's idle memory and its lifecycle across processes
//! until berthd wires it in:
//!
//! ```text
//! swarm_node init <state-dir>                  # prints ADDR, TOKEN and WORKER lines
//! swarm_node join <state-dir> <addr> <token>   # joins as a manager or a worker (the token says)
//! swarm_node open <state-dir>                  # restarts from the state dir
//! ```
//!
//! `SWARM_HEARTBEAT_MS` sets the dispatcher's period at init (default 5 s).
//! The node then stays up (Ctrl-C or SIGTERM to stop); a manager prints
//! a line with the time whenever a node's state or message changes.

use std::time::Duration;

use berth_swarm::store::ClusterSpec;
use berth_swarm::{ManagerConfig, SwarmNode};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: swarm_node init <dir> | join <dir> <addr> <token> | open <dir>";
    let (cmd, dir) = match (args.get(1), args.get(2)) {
        (Some(c), Some(d)) => (c.as_str(), d.clone()),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let mut config = ManagerConfig::new(dir.clone(), "127.0.0.1:0".parse().expect("address"));
    config.hostname = format!("node-{}", std::process::id());
    let mut spec = ClusterSpec::default();
    if let Some(ms) = std::env::var("SWARM_HEARTBEAT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        spec.heartbeat_period_ns = ms * 1_000_000;
    }
    let started = std::time::Instant::now();
    let result = match (cmd, args.get(3), args.get(4)) {
        ("init", None, None) => SwarmNode::init(config, spec, None).await,
        ("join", Some(addr), Some(token)) => SwarmNode::join(config, addr, token).await,
        ("open", None, None) => match SwarmNode::open(config).await {
            Ok(Some(n)) => Ok(n),
            Ok(None) => {
                eprintln!("Error: no swarm state in {dir}");
                std::process::exit(1);
            }
            Err(e) => Err(e),
        },
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let node = match result {
        Ok(n) => n,
        Err(e) => {
            eprintln!("Error: {}", e.message);
            std::process::exit(1);
        }
    };
    let info = node.info();
    println!(
        "NODE {} {:?} in {:?}",
        info.node_id,
        info.role,
        started.elapsed()
    );
    println!("ADDR {}", info.addr);
    if let Some(cluster) = node.manager().and_then(|m| m.cluster()) {
        println!("TOKEN {}", cluster.join_tokens.manager);
        println!("WORKER {}", cluster.join_tokens.worker);
    }
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
    let mut seen = std::collections::BTreeMap::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(20)) => print_changes(&node, &mut seen),
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    node.shutdown().await;
}

fn print_changes(
    node: &SwarmNode,
    seen: &mut std::collections::BTreeMap<String, (berth_swarm::store::NodeState, String)>,
) {
    let Some(m) = node.manager() else { return };
    for n in m.nodes().values() {
        let now = (n.status.state, n.status.message.clone());
        if seen.get(&n.id) != Some(&now) {
            println!(
                "{} {} {} {:?} {:?}",
                epoch_now(),
                n.id,
                n.hostname,
                n.status.state,
                n.status.message
            );
            seen.insert(n.id.clone(), now);
        }
    }
}

/// Seconds since the epoch with milliseconds (for timing by hand).
fn epoch_now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:03}", t.as_secs(), t.subsec_millis())
}
