//! Test hosts for networking tests: network namespaces the test makes
//! itself, wired by a veth pair to where the daemon's containers route from
//! (the host namespace for berthd, the harness's own netns for dockerd).
//! Nothing here ever talks to a real outside address.

use std::process::Command;

use crate::{cmd, Daemon, Flavor, Out, CMD_TIMEOUT};

/// A "remote host": its own netns with one link to the daemon's network
/// view. The daemon side has `10.(100+slot).N.1/24`, the host `.2`.
pub struct TestHost {
    /// The netns name, `be2e<slot>h<n>`.
    pub name: String,
    /// The host's own address (`.2`), as containers and clients reach it.
    pub addr: String,
    /// The address of the daemon's side of the link (`.1`): a "host address"
    /// of the daemon's machine, as a remote client sees it.
    pub daemon_addr: String,
    /// The daemon side's link name (`be2e<slot>v<n>`), e.g. a macvlan parent.
    pub outer: String,
    daemon_netns: Option<String>,
}

fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        o.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
}

impl Daemon {
    /// Starts a daemon (busybox imported) inside `netns`, a network
    /// namespace the test made (named with [`crate::TAG`]) and deletes, with
    /// the daemon's default network names (berthd's `berth0` and table,
    /// dockerd's `docker0`): several daemons started so share them, as on
    /// one host.
    #[track_caller]
    pub fn start_in_netns(netns: &str) -> Daemon {
        let mut d = Daemon::start_bare_in(&[], &[], Some(netns.to_string()), |_| {});
        d.import_busybox();
        d
    }

    /// The network namespace the daemon runs in; `None`: the host's.
    pub fn netns(&self) -> Option<&str> {
        match (&self.shared_netns, self.flavor) {
            (Some(ns), _) => Some(ns),
            (None, Flavor::Dockerd) => Some(&self.net_name),
            (None, Flavor::Berthd) => None,
        }
    }

    /// The slot number of this daemon (0..9), for per-test addresses.
    pub fn slot(&self) -> usize {
        self.slot.idx
    }

    /// Runs a shell script in the daemon's network view (the "host" of its
    /// containers): the host namespace for berthd, the harness netns for
    /// dockerd.
    pub fn host_sh(&self, script: &str) -> Out {
        let mut c = match self.netns() {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "/bin/sh", "-c", script]);
                c
            }
            None => {
                let mut c = Command::new("/bin/sh");
                c.args(["-c", script]);
                c
            }
        };
        c.current_dir(self.tmp());
        cmd::run(c, None, CMD_TIMEOUT)
    }

    /// Makes test host number `n` (1..=9).
    pub fn test_host(&self, n: u8) -> TestHost {
        let name = format!("{}h{n}", self.net_name);
        let outer = format!("{}v{n}", self.net_name);
        let net = format!("10.{}.{n}", 100 + self.slot.idx);
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        let _ = Command::new("ip").args(["link", "del", &outer]).status();
        ip(&["netns", "add", &name]);
        ip(&[
            "link", "add", &outer, "type", "veth", "peer", "name", "eth0", "netns", &name,
        ]);
        let daemon_netns = (self.flavor == Flavor::Dockerd).then(|| self.net_name.clone());
        let pre: Vec<&str> = match &daemon_netns {
            Some(ns) => {
                ip(&["link", "set", &outer, "netns", ns]);
                vec!["-n", ns]
            }
            None => vec![],
        };
        let with = |rest: &[&str]| {
            let mut a = pre.clone();
            a.extend_from_slice(rest);
            ip(&a);
        };
        with(&["addr", "add", &format!("{net}.1/24"), "dev", &outer]);
        with(&["link", "set", &outer, "up"]);
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{net}.2/24"),
            "dev",
            "eth0",
        ]);
        ip(&["-n", &name, "link", "set", "eth0", "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        ip(&[
            "-n",
            &name,
            "route",
            "add",
            "default",
            "via",
            &format!("{net}.1"),
        ]);
        TestHost {
            name,
            addr: format!("{net}.2"),
            daemon_addr: format!("{net}.1"),
            outer,
            daemon_netns,
        }
    }
}

impl TestHost {
    /// Runs a shell script inside the test host.
    pub fn sh(&self, script: &str) -> Out {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, "/bin/sh", "-c", script]);
        cmd::run(c, None, CMD_TIMEOUT)
    }

    /// Serves `body` as `/index.html` on port 80 with busybox httpd; the
    /// server dies with the netns.
    pub fn serve(&self, dir: &std::path::Path, body: &str) {
        std::fs::create_dir_all(dir).expect("www dir");
        std::fs::write(dir.join("index.html"), body).expect("index.html");
        self.sh(&format!(
            "busybox httpd -p {}:80 -h {}",
            self.addr,
            dir.display()
        ))
        .ok();
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        // Processes first (httpd), then the netns; the veth goes with it.
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            });
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let mut del = Command::new("ip");
        if let Some(ns) = &self.daemon_netns {
            del.args(["-n", ns]);
        }
        let _ = del.args(["link", "del", &self.outer]).output();
    }
}
