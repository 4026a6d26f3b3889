//! Real network namespaces, veths, dnsmasq and dig for the berth-dns tests.
//! Everything made here is named `bdns-<pid>-<n>` and removed on drop, on
//! success and on failure alike.

#![allow(dead_code)]

use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_dns::{Endpoint, Network};

static SEQ: AtomicUsize = AtomicUsize::new(0);

pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "berth-dns tests make network namespaces: run them as root"
    );
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace `bdns-<pid>-<n>`, deleted on drop.
pub struct Ns {
    pub name: String,
}

impl Ns {
    /// A new namespace with `lo` up.
    pub fn new() -> Ns {
        let ns = Ns::new_down();
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// A new namespace whose `lo` is still down.
    pub fn new_down() -> Ns {
        require_root();
        let name = format!(
            "bdns-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        run("ip", &["netns", "add", &name]);
        Ns { name }
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }

    /// `ip -n NAME ARGS...`
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        run("ip", &all);
    }

    /// A command run inside the namespace.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// A socket made inside the namespace (on a thread of its own, so the
    /// test's threads stay where they are).
    pub fn socket<T: Send + 'static>(&self, make: impl FnOnce() -> T + Send + 'static) -> T {
        let path = self.path();
        std::thread::spawn(move || {
            let f = File::open(&path).expect("open netns");
            nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            make()
        })
        .join()
        .expect("socket thread")
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// Connect `a` and `b` with a veth (`v0` in `a`, `v1` in `b`; names are
/// per namespace, so they never meet other tests' links), addresses
/// `a_addr` and `b_addr` (CIDR). Deleting either namespace removes it.
pub fn veth(a: &Ns, a_addr: &str, b: &Ns, b_addr: &str) {
    a.ip(&[
        "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", &b.name,
    ]);
    a.ip(&["addr", "add", a_addr, "dev", "v0"]);
    b.ip(&["addr", "add", b_addr, "dev", "v1"]);
    a.ip(&["link", "set", "v0", "up"]);
    b.ip(&["link", "set", "v1", "up"]);
}

/// A child process killed and reaped on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// dnsmasq in `ns`, listening on `addr`, answering only from its own
/// configuration (`extra` adds options such as `--address=/x/1.2.3.4`).
pub fn dnsmasq(ns: &Ns, addr: &str, extra: &[&str]) -> Proc {
    let listen = format!("--listen-address={addr}");
    let mut c = ns.cmd("dnsmasq");
    c.args([
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--bind-interfaces",
        "--except-interface=lo",
        "--user=root",
        "--group=root",
        "--pid-file",
        "--log-facility=-",
        &listen,
    ]);
    c.args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = c.spawn().expect("start dnsmasq (package dnsmasq-base)");
    Proc(child)
}

/// What `dig` printed, parsed.
#[derive(Debug, Default)]
pub struct Dig {
    pub status: String,
    pub flags: Vec<String>,
    /// Answer section: (name, ttl, type, data).
    pub answers: Vec<(String, u32, String, String)>,
    pub raw: String,
    pub ok: bool,
    pub elapsed: Duration,
}

impl Dig {
    pub fn data(&self) -> Vec<String> {
        self.answers.iter().map(|a| a.3.clone()).collect()
    }
}

/// `dig @127.0.0.11 ARGS` inside `ns`, one try, `timeout_s` seconds.
pub async fn dig(ns: &Ns, args: &[&str]) -> Dig {
    dig_at(ns, "@127.0.0.11", args).await
}

pub async fn dig_at(ns: &Ns, server: &str, args: &[&str]) -> Dig {
    dig_in(
        ns.name.clone(),
        server.to_string(),
        args.iter().map(|a| a.to_string()).collect(),
    )
    .await
}

/// `dig` in the namespace named `ns`, with owned arguments (for tasks).
pub async fn dig_in(ns: String, server: String, args: Vec<String>) -> Dig {
    let start = Instant::now();
    let out = tokio::process::Command::new("ip")
        .args(["netns", "exec", &ns, "dig", &server, "+tries=1", "+time=5"])
        .args(["+nocmd", "+nostats", "+noquestion"])
        .args(&args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run dig (package bind9-dnsutils)");
    let elapsed = start.elapsed();
    let raw =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let mut d = Dig {
        raw: raw.clone(),
        ok: out.status.success(),
        elapsed,
        ..Dig::default()
    };
    let mut in_answer = false;
    for line in raw.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            d.status = rest.split(',').next().unwrap_or("").to_string();
        }
        if let Some(rest) = line.strip_prefix(";; flags: ") {
            let flags = rest.split(';').next().unwrap_or("");
            d.flags = flags.split_whitespace().map(str::to_string).collect();
        }
        if line.starts_with(";; ANSWER SECTION") {
            in_answer = true;
            continue;
        }
        if line.starts_with(";;") || line.trim().is_empty() {
            in_answer = false;
            continue;
        }
        if in_answer {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() >= 5 {
                d.answers.push((
                    w[0].to_string(),
                    w[1].parse().unwrap_or(0),
                    w[3].to_string(),
                    w[4..].join(" "),
                ));
            }
        }
    }
    d
}

pub fn endpoint(id: &str, name: &str, aliases: &[&str], v4: &str) -> Endpoint {
    Endpoint {
        container_id: id.to_string(),
        name: name.to_string(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        ipv4: Some(v4.parse().expect("ipv4")),
        ipv6: None,
    }
}

pub fn network(name: &str, endpoints: Vec<Endpoint>) -> Network {
    Network {
        name: name.to_string(),
        endpoints,
    }
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

/// Wait until `check` holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
