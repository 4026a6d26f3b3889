//! A cluster of daemons for swarm tests: `n` nodes on this one machine,
//! each in its own network namespace (and UTS namespace, so each has its
//! own hostname as separate hosts do), joined by one bridge in the host
//! namespace, each with its own data root, exec root, cgroup parent, socket
//! and pidfile under `/tmp/be2e/cluster/n<i>/`.
//!
//! The same shape as `scripts/lab.sh`, with the suite's names so the leak
//! check covers it: netns `be2ecl<i>`, host-side veth `be2ecl<i>v`, bridge
//! `be2ecl0`, cgroup parent `be2e-cl<i>`. Node i (1-based) has the address
//! 10.78.0.(10+i)/24, a subnet neither the lab (10.77.0.0/24) nor any
//! other test of the suite uses. The bridge itself has no address: the
//! host is not part of the cluster's LAN, only the nodes are.
//!
//! A cluster takes every daemon slot of the harness (it runs up to nine
//! daemons, each dockerd with its own containerd), so nothing else of the
//! suite runs beside it, and it waits for the slots other tests hold.
//!
//! The daemon is berthd, or dockerd with `BERTH_E2E_DAEMON=dockerd`, as
//! for the rest of the suite. dockerd runs without `--live-restore` here:
//! dockerd refuses swarm mode with it.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{acquire_all_slots, bin_dir, cmd, http, leak, test_name, Cli, Flavor, Out, Slot};
use crate::{CMD_TIMEOUT, ROOT, TAG};

mod swarm;
pub use swarm::{has_field, pretty_fields, NodeRow, Role};

/// The first three octets of the cluster's /24.
pub const SUBNET_PREFIX: &str = "10.78.0";
/// Nodes a cluster can have (bounds the names and addresses).
pub const MAX_NODES: usize = 9;
/// How long a node may take to answer `/_ping` after its start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node may take to stop on SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

fn bridge_name() -> String {
    format!("{TAG}cl0")
}

fn netns_name(i: usize) -> String {
    format!("{TAG}cl{i}")
}

fn veth_name(i: usize) -> String {
    format!("{TAG}cl{i}v")
}

fn cgroup_parent(i: usize) -> String {
    format!("{TAG}-cl{i}")
}

fn cluster_dir() -> PathBuf {
    Path::new(ROOT).join("cluster")
}

/// Every netns and link name a cluster of [`MAX_NODES`] can make, in the
/// order to delete them: links before namespaces (deleting a namespace
/// takes its veth with it, and the host side vanishes only a moment later).
fn all_names() -> Vec<String> {
    let mut v = vec![bridge_name()];
    v.extend((1..=MAX_NODES).map(veth_name));
    v.extend((1..=MAX_NODES).map(netns_name));
    v
}

fn ip(args: &[&str]) -> Result<()> {
    let o = Command::new("ip")
        .args(args)
        .output()
        .context("running ip")?;
    if !o.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    Ok(())
}

/// One daemon of a [`Cluster`].
pub struct Node {
    /// 1-based, as in `scripts/lab.sh`.
    pub index: usize,
    pub flavor: Flavor,
    test: String,
    /// The node's network namespace, `be2ecl<i>`.
    pub netns: String,
    /// The node's address on the cluster LAN, `10.78.0.(10+i)`.
    pub addr: String,
    /// The node's hostname (its own UTS namespace): `node-<i>`.
    pub hostname: String,
    pub dir: PathBuf,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub sock: PathBuf,
    pub pidfile: PathBuf,
    pub log: PathBuf,
    cli_config: PathBuf,
    child: Option<Child>,
    /// Set once the node was SIGKILLed (a simulated crash).
    crashed: bool,
}

impl Node {
    fn new(index: usize, flavor: Flavor, test: &str) -> Node {
        let dir = cluster_dir().join(format!("n{index}"));
        Node {
            index,
            flavor,
            test: test.to_string(),
            netns: netns_name(index),
            addr: format!("{SUBNET_PREFIX}.{}", 10 + index),
            hostname: format!("node-{index}"),
            data_root: dir.join("d"),
            exec_root: dir.join("x"),
            sock: dir.join("d.sock"),
            pidfile: dir.join("d.pid"),
            log: dir.join("daemon.log"),
            cli_config: dir.join("cli"),
            dir,
            child: None,
            crashed: false,
        }
    }

    /// Makes the node's netns, its veth to the bridge and its address.
    fn make_network(&self) -> Result<()> {
        let (ns, veth) = (&self.netns, veth_name(self.index));
        ip(&["netns", "add", ns])?;
        ip(&[
            "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ])?;
        ip(&["link", "set", &veth, "master", &bridge_name(), "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{}/24", self.addr),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", ns, "link", "set", "eth0", "up"])
    }

    fn daemon_command(&self) -> Result<Command> {
        let mut c = match self.flavor {
            Flavor::Dockerd => Command::new("dockerd"),
            Flavor::Berthd => {
                let bin = bin_dir().join("berthd");
                if !bin.exists() {
                    bail!(
                        "{} does not exist: run `cargo build -p berth-daemon --bins` first \
                         (or set BERTH_E2E_BIN_DIR)",
                        bin.display()
                    );
                }
                let mut c = Command::new(bin);
                c.arg("--debug");
                c
            }
        };
        c.arg("--data-root")
            .arg(&self.data_root)
            .arg("--exec-root")
            .arg(&self.exec_root)
            .args(["--cgroup-parent", &cgroup_parent(self.index)])
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .arg("--pidfile")
            .arg(&self.pidfile);
        Ok(c)
    }

    /// Starts the daemon in the node's namespaces; does not wait for it.
    fn spawn(&mut self) -> Result<()> {
        std::fs::create_dir_all(&self.cli_config)?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        writeln_log(&log, "--- berth-e2e: starting the node's daemon");
        let mut c = self.daemon_command()?;
        let ns = File::open(Path::new("/run/netns").join(&self.netns))
            .context("opening the node's netns")?;
        let fd = ns.as_raw_fd();
        let hostname = CString::new(self.hostname.as_str())?;
        // SAFETY: setns, unshare, sethostname and setsid are plain syscalls,
        // safe between fork and exec; `ns` and `hostname` outlive the spawn.
        unsafe {
            c.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0
                    || libc::unshare(libc::CLONE_NEWUTS) != 0
                    || libc::sethostname(hostname.as_ptr(), hostname.as_bytes().len()) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                libc::setsid();
                Ok(())
            });
        }
        c.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        self.child = Some(
            c.spawn()
                .with_context(|| format!("spawning {}", self.flavor.name()))?,
        );
        Ok(())
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                bail!("{} exited during start-up: {st}", self.flavor.name());
            }
            if http::request(&self.sock, "GET", "/_ping", None, b"").is_ok_and(|r| r.status == 200)
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("did not answer GET /_ping within {START_TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    #[track_caller]
    fn start(&mut self) {
        if let Err(e) = self.spawn().and_then(|()| self.wait_ready()) {
            panic!(
                "[{}] starting {} on node {} failed: {e:#}\n--- its log {}:\n{}",
                self.test,
                self.flavor.name(),
                self.index,
                self.log.display(),
                cmd::log_tail(&self.log, 60)
            );
        }
    }

    /// The daemon's pid, while it runs.
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// The daemon process's resident memory in KiB (`VmRSS`), while it
    /// runs (dockerd's containerd, a separate process, is not counted).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// True while the fixture runs the node's daemon.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    fn kill9(&mut self) {
        if let Some(mut ch) = self.child.take() {
            let _ = ch.kill();
            let _ = ch.wait();
            self.crashed = true;
        }
    }

    /// Sends SIGTERM (the first half of a stop); [`Node::reap`] finishes it.
    fn terminate(&self) {
        if let Some(pid) = self.pid() {
            // SAFETY: kill(2) on our own child.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }

    /// Waits for a terminated daemon until `deadline`, then SIGKILLs it.
    fn reap(&mut self, deadline: Instant) {
        let Some(mut ch) = self.child.take() else {
            return;
        };
        loop {
            match ch.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    eprintln!(
                        "berth-e2e: [{}] node {} ignored SIGTERM for {STOP_TIMEOUT:?}; SIGKILL",
                        self.test, self.index
                    );
                    let _ = ch.kill();
                    let _ = ch.wait();
                    return;
                }
                Ok(None) => thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    // ---- clients -------------------------------------------------------

    fn client_env(&self, c: &mut Command) {
        for v in [
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "DOCKER_API_VERSION",
            "DOCKER_DEFAULT_PLATFORM",
        ] {
            c.env_remove(v);
        }
        c.env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", &self.cli_config)
            .env("DOCKER_CLI_HINTS", "false")
            .env("NO_COLOR", "1")
            .env(
                "PATH",
                "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            );
    }

    fn finish(&self, mut o: Out) -> Out {
        o.target = format!(
            "{} node {} ({}) for test {}",
            self.flavor.name(),
            self.index,
            self.addr,
            self.test
        );
        o.daemon_log = Some(self.log.clone());
        o
    }

    /// Runs `cli` with `args` against this node.
    pub fn run(&self, cli: Cli, args: &[&str]) -> Out {
        let mut c = Command::new(cli.path());
        self.client_env(&mut c);
        c.args(args);
        self.finish(cmd::run(c, None, CMD_TIMEOUT))
    }

    /// Runs the docker CLI 28 against this node.
    pub fn docker(&self, args: &[&str]) -> Out {
        self.run(Cli::Docker, args)
    }

    /// Runs the docker CLI 28 against this node with `stdin` fed.
    pub fn docker_stdin(&self, args: &[&str], stdin: &str) -> Out {
        let mut c = Command::new(Cli::Docker.path());
        self.client_env(&mut c);
        c.args(args);
        self.finish(cmd::run(c, Some(stdin.as_bytes().to_vec()), CMD_TIMEOUT))
    }

    /// Runs a shell script inside the node's network namespace (as a
    /// program on that host would run), with the client environment set.
    pub fn sh(&self, script: &str) -> Out {
        let mut c = Command::new("ip");
        self.client_env(&mut c);
        c.args(["netns", "exec", &self.netns, "/bin/sh", "-c", script]);
        let mut o = self.finish(cmd::run(c, None, CMD_TIMEOUT));
        o.argv = format!("[netns {}] sh -c {script:?}", self.netns);
        o
    }
}

fn writeln_log(mut f: &File, line: &str) {
    use std::io::Write;
    let _ = writeln!(f, "{line}");
}

/// `n` daemons on one LAN; see the module documentation.
pub struct Cluster {
    pub flavor: Flavor,
    pub test: String,
    nodes: Vec<Node>,
    _slots: Vec<Slot>,
}

impl Cluster {
    /// Brings up `n` nodes (1..=9), all answering `/_ping`, none in a swarm.
    #[track_caller]
    pub fn start(n: usize) -> Cluster {
        assert!(
            (1..=MAX_NODES).contains(&n),
            "a cluster has 1 to {MAX_NODES} nodes"
        );
        let flavor = Flavor::from_env();
        let slots = acquire_all_slots();
        let test = test_name();
        // Anything here is from a run killed before its teardown (we hold
        // every slot, so no other cluster is running).
        let names = all_names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        if cluster_dir().exists() || !leak::scan(&cluster_dir(), &names).is_empty() {
            eprintln!("berth-e2e: cleaning the stale cluster of an interrupted run");
            force_clean();
        }
        let mut c = Cluster {
            flavor,
            nodes: (1..=n).map(|i| Node::new(i, flavor, &test)).collect(),
            test,
            _slots: slots,
        };
        if let Err(e) = c.make_network() {
            panic!("[{}] making the cluster's network failed: {e:#}", c.test);
        }
        // Start every daemon first, then wait for each: they boot in parallel.
        for node in &mut c.nodes {
            if let Err(e) = node.spawn() {
                panic!("[{}] node {}: {e:#}", node.test, node.index);
            }
        }
        for node in &mut c.nodes {
            if let Err(e) = node.wait_ready() {
                panic!(
                    "[{}] node {} ({}) did not start: {e:#}\n--- its log {}:\n{}",
                    node.test,
                    node.index,
                    node.flavor.name(),
                    node.log.display(),
                    cmd::log_tail(&node.log, 60)
                );
            }
        }
        c
    }

    fn make_network(&self) -> Result<()> {
        let br = bridge_name();
        ip(&["link", "add", &br, "type", "bridge"])?;
        ip(&["link", "set", &br, "up"])?;
        for node in &self.nodes {
            std::fs::create_dir_all(&node.dir)?;
            node.make_network()
                .with_context(|| format!("node {}", node.index))?;
        }
        Ok(())
    }

    /// How many nodes the cluster has.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never true: a cluster has at least one node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i` (1-based).
    #[track_caller]
    pub fn node(&self, i: usize) -> &Node {
        assert!(
            (1..=self.nodes.len()).contains(&i),
            "node {i}: the cluster has nodes 1 to {}",
            self.nodes.len()
        );
        &self.nodes[i - 1]
    }

    #[track_caller]
    fn node_mut(&mut self, i: usize) -> &mut Node {
        self.node(i);
        &mut self.nodes[i - 1]
    }

    /// Node `i`'s address on the cluster LAN.
    pub fn addr(&self, i: usize) -> &str {
        &self.node(i).addr
    }

    /// SIGKILLs node `i`'s daemon (a crash); its data stays.
    pub fn kill9(&mut self, i: usize) {
        self.node_mut(i).kill9();
    }

    /// Stops node `i`'s daemon as an init system does (SIGTERM, then
    /// SIGKILL after 20 s).
    pub fn stop(&mut self, i: usize) {
        let node = self.node_mut(i);
        node.terminate();
        node.reap(Instant::now() + STOP_TIMEOUT);
    }

    /// Starts node `i`'s daemon again on the same roots (after `kill9` or
    /// `stop`) and waits until it answers.
    #[track_caller]
    pub fn restart(&mut self, i: usize) {
        let node = self.node_mut(i);
        assert!(!node.is_running(), "restart: node {i}'s daemon still runs");
        node.start();
    }

    /// Takes node `i`'s link down: it is cut off from every other node
    /// (its daemon keeps running and answering on its socket).
    #[track_caller]
    pub fn cut(&self, i: usize) {
        self.node(i);
        ip(&["link", "set", &veth_name(i), "down"]).expect("cut");
    }

    /// Brings node `i`'s link back up after [`Cluster::cut`].
    #[track_caller]
    pub fn heal(&self, i: usize) {
        self.node(i);
        ip(&["link", "set", &veth_name(i), "up"]).expect("heal");
    }

    fn teardown(&mut self) {
        for node in &self.nodes {
            node.terminate();
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        for node in &mut self.nodes {
            node.reap(deadline);
        }
        let dir = cluster_dir();
        leak::wait_processes_gone(&dir, Duration::from_secs(10));
        let mut leaks = leak::scan(&dir, &[]);
        for node in self.nodes.iter().filter(|_| self.flavor == Flavor::Dockerd) {
            // Quirks of the reference, not of the test: dockerd 20.10 in
            // swarm mode leaves the network namespaces of its ingress
            // sandbox and the ingress network mounted under its exec root
            // when it stops (its next start removes them); and after a
            // crash it never undoes the bind mount of its data root (as in
            // the harness).
            let netns = format!("mount {}/", node.exec_root.join("netns").display());
            let root = format!("mount {}", node.data_root.display());
            leaks.retain(|l| !l.starts_with(&netns) && (!node.crashed || *l != root));
        }
        self.report(leaks);
        force_clean();
    }

    /// Records what the daemons left for the suite's leak check, and keeps
    /// their logs.
    fn report(&self, leaks: Vec<String>) {
        let root = Path::new(ROOT);
        if !leaks.is_empty() {
            let report = format!(
                "test {} ({} cluster), left after stopping every node:\n{}\n",
                self.test,
                self.flavor.name(),
                leaks.join("\n")
            );
            eprintln!("berth-e2e: LEAK: {report}");
            let _ = std::fs::create_dir_all(root.join("leaks"));
            let _ = std::fs::write(
                root.join("leaks").join(format!("{}.txt", self.test)),
                report,
            );
        }
        let _ = std::fs::create_dir_all(root.join("logs"));
        for node in &self.nodes {
            let to = format!("{}-node{}.log", self.test, node.index);
            let _ = std::fs::copy(&node.log, root.join("logs").join(to));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Kills, unmounts and removes everything a cluster makes: processes and
/// mounts under its directory, its netns, links and cgroups.
fn force_clean() {
    let names = all_names();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    // Processes and mounts first (force_clean also removes the directory),
    // then the namespaces: deleting a netns with a daemon in it leaves it
    // running.
    leak::force_clean(&cluster_dir(), &refs);
    remove_cgroups();
}

/// Removes the cgroup parents of every node in every hierarchy (cgroup v1
/// controllers, the hybrid `unified` one, or a pure cgroup2 root), deepest
/// first. A daemon removes its containers' cgroups when they stop; this
/// catches what a crashed one left.
fn remove_cgroups() {
    let base = Path::new("/sys/fs/cgroup");
    let mut roots = vec![base.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(base) {
        roots.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for root in roots {
        for i in 1..=MAX_NODES {
            let p = root.join(cgroup_parent(i));
            if p.is_dir() {
                rmdir_tree(&p);
            }
        }
    }
}

/// cgroup directories can only be rmdir'ed (their files are not real),
/// children before parents.
fn rmdir_tree(p: &Path) {
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rmdir_tree(&e.path());
            }
        }
    }
    if let Err(e) = std::fs::remove_dir(p) {
        eprintln!("berth-e2e: cannot remove cgroup {}: {e}", p.display());
    }
}
