//! Reliability under faults, concurrency and bad input (issue 21): several
//! daemons sharing one network namespace, build contexts and build
//! containers after disconnects and crashes, concurrent creates, and what
//! create refuses up front.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use berth_e2e::{wait_for, Daemon, TAG};

/// A network namespace the test makes and deletes (processes first).
struct Netns {
    name: String,
}

impl Netns {
    fn new(suffix: &str) -> Netns {
        let name = format!("{TAG}{suffix}");
        let n = Netns { name };
        n.delete();
        let ok = |args: &[&str]| {
            let o = Command::new("ip").args(args).output().expect("ip");
            assert!(o.status.success(), "ip {args:?}: {o:?}");
        };
        ok(&["netns", "add", &n.name]);
        ok(&["-n", &n.name, "link", "set", "lo", "up"]);
        n
    }

    fn ip(&self, args: &str) -> String {
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!("ip -n {} {args}", self.name))
            .output()
            .expect("ip");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn nft_tables(&self) -> Vec<String> {
        let o = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "list", "tables"])
            .output()
            .expect("nft");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("table ip "))
            .map(str::to_string)
            .collect()
    }

    fn delete(&self) {
        if let Ok(o) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.delete();
    }
}

fn httpd(body: &str) -> String {
    format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www")
}

fn page(d: &Daemon, port: u16) -> String {
    d.host_sh(&format!("curl -s -m 5 http://127.0.0.1:{port}/index.html"))
        .stdout
        .trim()
        .to_string()
}

/// Finding 1: two daemons with the default bridge and rules names in one
/// network namespace; stopping one must not take the other's network.
#[test]
fn stopping_one_daemon_leaves_another_in_the_same_netns_working() {
    // Dropped last (declared first): the daemons stop before it goes.
    let ns = Netns::new("shared");
    let a = Daemon::start_in_netns(&ns.name);
    let mut b = Daemon::start_in_netns(&ns.name);
    a.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "8080:80",
        "busybox",
        "sh",
        "-c",
        &httpd("from-a"),
    ])
    .ok();
    let up = wait_for(Duration::from_secs(10), || {
        (page(&a, 8080) == "from-a").then_some(())
    });
    assert!(up.is_some(), "A's published port before B stops");
    // B works too (its own rules, a published port of its own), then stops.
    b.docker(&["run", "--rm", "-p", "8081:80", "busybox", "true"])
        .ok();
    let tables_before = ns.nft_tables();
    b.stop();
    a.docker(&["run", "--rm", "busybox", "true"]).ok();
    assert_eq!(
        page(&a, 8080),
        "from-a",
        "A's published port after B stopped"
    );
    a.docker(&["run", "--rm", "-p", "8082:80", "busybox", "true"])
        .ok();
    if !a.is_dockerd() {
        // Each berthd keeps its rules in a table of its own: B's went with
        // it, A's stayed; B's gateway address left the shared bridge.
        let tables = ns.nft_tables();
        assert_eq!(
            tables_before.len(),
            2,
            "one table per daemon: {tables_before:?}"
        );
        assert_eq!(tables.len(), 1, "B's table is gone: {tables:?}");
        let addrs = ns.ip("-4 addr show berth0");
        assert_eq!(addrs.matches("inet ").count(), 1, "{addrs}");
        // The last daemon to leave takes the bridge and its rules with it.
        let mut a = a;
        a.docker(&["rm", "-f", "web"]).ok();
        a.stop();
        assert!(
            !ns.ip("link show").contains("berth0"),
            "berth0 outlived its last daemon"
        );
        assert!(ns.nft_tables().is_empty(), "{:?}", ns.nft_tables());
    }
}
