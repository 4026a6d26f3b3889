//! containerd (`ctr`, a third client with its own gzip reader) pulls and
//! unpacks an image the daemon pushed to a registry on loopback. Runs
//! against dockerd too (`BERTH_E2E_DAEMON=dockerd`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_e2e::registry::{free_port, in_daemon_net, ok, plain_registry};
use berth_e2e::Daemon;

/// A containerd of the test's own (its root under the daemon's tmp dir, its
/// sockets and state under /run), killed by its pid on drop, the image
/// mount undone first.
struct Containerd {
    child: Child,
    run: PathBuf,
    mnt: PathBuf,
}

impl Containerd {
    fn start(d: &Daemon) -> Containerd {
        let dir = d.tmp().join("bpl-containerd");
        let run = PathBuf::from(format!("/run/bpl-ctd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::create_dir_all(&run).expect("run dir");
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n[debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
                root = dir.join("root").display(),
                state = run.join("state").display(),
                sock = run.join("sock").display(),
            ),
        )
        .expect("config");
        let log = std::fs::File::create(dir.join("containerd.log")).expect("log");
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("containerd (Debian's containerd package)");
        let c = Containerd {
            child,
            run,
            mnt: dir.join("mnt"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !c
            .ctr()
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(Instant::now() < deadline, "containerd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    /// `ctr` against this containerd, in namespace `bpl`.
    fn ctr(&self) -> Command {
        self.ctr_in(Command::new("ctr"))
    }

    /// `ctr images pull`, run where the daemon's loopback is (ctr itself
    /// fetches from the registry). Only the pull: `ip netns exec` gives
    /// its command a mount namespace of its own, where a mount is lost.
    fn pull(&self, d: &Daemon, image: &str) -> String {
        ok(self
            .ctr_in(in_daemon_net(d, "ctr"))
            .args(["images", "pull", "--plain-http", image]))
    }

    fn ctr_in(&self, mut c: Command) -> Command {
        c.arg("-a").arg(self.run.join("sock")).args(["-n", "bpl"]);
        c
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).output();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.run);
    }
}

/// containerd (a third client, with its own gzip reader) pulls and unpacks
/// an image the daemon pushed, checking every layer against the config's
/// diff_ids: berthd compresses layers in windows, some deflated and some
/// stored. The layer mixes random bytes and text; the text must still be
/// compressed after the random stretch.
#[test]
fn containerd_pulls_what_the_daemon_pushes() {
    let d = Daemon::start();
    let port = free_port();
    let (_reg, _) = plain_registry(&d, "/usr/bin/docker-registry", "bpl-ctd-reg", port);
    let image = format!("127.0.0.1:{port}/bpl/mixed:1");
    // 5 MB random, 6 MB text, 5 MB random, 6 MB text: 22 MB, of which
    // the text compresses to almost nothing.
    let script = "head -c 5000000 /dev/urandom > /r.bin && yes 'text of a layer' | head -c 6000000 > /t.txt \
                  && head -c 5000000 /dev/urandom >> /t.txt && yes 'more text' | head -c 6000000 >> /t.txt";
    d.docker(&["run", "--name", "bpl-mixed", "busybox", "sh", "-c", script])
        .ok();
    d.docker(&["commit", "bpl-mixed", &image]).ok();
    d.docker(&["push", &image]).ok();
    let want = d.docker(&["run", "--rm", &image, "sha256sum", "/r.bin", "/t.txt"]);
    want.ok();
    let m = ok(in_daemon_net(&d, "curl")
        .args([
            "-sf",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
        ])
        .arg(format!("http://127.0.0.1:{port}/v2/bpl/mixed/manifests/1")));
    let m: serde_json::Value = serde_json::from_str(&m).expect("manifest json");
    let size = m["layers"][1]["size"].as_u64().expect("layer size");
    assert!(
        size < 11_000_000,
        "the layer's text is compressed: {size} bytes for 10 MB of random data and 12 MB of text"
    );

    let c = Containerd::start(&d);
    let pull = c.pull(&d, &image);
    assert!(pull.contains("unpacking linux/amd64"), "{pull}");
    std::fs::create_dir_all(&c.mnt).expect("mnt");
    ok(c.ctr().args(["images", "mount", &image]).arg(&c.mnt));
    let got = ok(Command::new("sha256sum")
        .arg(c.mnt.join("r.bin"))
        .arg(c.mnt.join("t.txt")));
    let sums = |s: &str| -> Vec<String> {
        s.lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    };
    assert_eq!(sums(&got), sums(&want.stdout), "containerd's files");
    ok(c.ctr().args(["images", "unmount"]).arg(&c.mnt));
    d.docker(&["rm", "bpl-mixed"]).ok();
}
