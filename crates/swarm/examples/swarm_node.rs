//! One swarm manager in a process, for trying the library by hand and for
//! measuring a manager's idle memory until berthd wires it in:
//!
//! ```text
//! swarm_node init <state-dir>                  # prints ADDR and TOKEN lines
//! swarm_node join <state-dir> <addr> <token>   # joins as a manager
//! swarm_node open <state-dir>                  # restarts from the state dir
//! ```
//!
//! It then stays up (Ctrl-C or SIGTERM to stop), printing the managers'
//! status every 5 seconds.

use std::time::Duration;

use berth_swarm::{Manager, ManagerConfig};

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
    let config = ManagerConfig::new(dir, "127.0.0.1:0".parse().expect("address"));
    let started = std::time::Instant::now();
    let result = match (cmd, args.get(3), args.get(4)) {
        ("init", None, None) => Manager::init(config, Default::default(), None).await,
        ("join", Some(addr), Some(token)) => Manager::join(config, addr, token).await,
        ("open", None, None) => Manager::open(config).await,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let manager = match result {
        Ok(m) => m,
        Err(e) => {
            eprintln!("Error: {}", e.message);
            std::process::exit(1);
        }
    };
    println!("NODE {} in {:?}", manager.node_id(), started.elapsed());
    println!("ADDR {}", manager.addr());
    if let Some(cluster) = manager.cluster() {
        println!("TOKEN {}", cluster.join_tokens.manager);
    }
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {
                for m in manager.managers().await {
                    println!("{} {} {:?}{}", m.node_id, m.addr, m.reachability, if m.leader { " Leader" } else { "" });
                }
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    manager.shutdown().await;
}
