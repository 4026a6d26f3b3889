//! Plugins the engine does not run: legacy plugins found by a spec file
//! in `/etc/docker/plugins` (a volume driver) and an authorization plugin
//! (`--authorization-plugin`). Both are the test plugin run on the host
//! by the test. Objects are `bvp...`.

use std::time::Duration;

use berth_e2e::Daemon;

/// A legacy plugin the test runs itself on the host, found through a
/// spec file in `/etc/docker/plugins` (named after the daemon's slot, so
/// parallel tests never share it), serves volumes at host paths.
#[test]
fn legacy_plugin_found_by_spec_file_serves_volumes() {
    struct Legacy {
        child: std::process::Child,
        spec: std::path::PathBuf,
    }
    impl Drop for Legacy {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.spec);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
    let d = Daemon::start();
    let name = format!("bvpl-{}", d.net_name);
    let (sock, data) = (d.tmp().join("legacy.sock"), d.tmp().join("legacy-data"));
    let child = std::process::Command::new(berth_e2e::bin_dir().join("berth-test-volume-plugin"))
        .arg(&sock)
        .env("DATA_DIR", &data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting the legacy plugin");
    std::fs::create_dir_all("/etc/docker/plugins").expect("mkdir /etc/docker/plugins");
    let legacy = Legacy {
        child,
        spec: std::path::PathBuf::from(format!("/etc/docker/plugins/{name}.spec")),
    };
    std::fs::write(&legacy.spec, format!("unix://{}\n", sock.display())).expect("spec");
    berth_e2e::wait_for(Duration::from_secs(10), || sock.exists().then_some(()))
        .expect("the legacy plugin listens");

    d.docker(&["volume", "create", "-d", &name, "bvpl-vol"])
        .ok();
    d.docker(&[
        "volume",
        "inspect",
        "-f",
        "{{.Driver}} {{.Mountpoint}}",
        "bvpl-vol",
    ])
    .ok()
    .stdout_is(&format!("{name} {}\n", data.join("bvpl-vol").display()));
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvpl-vol:/v",
        "busybox",
        "sh",
        "-c",
        "echo legacy > /v/f",
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(data.join("bvpl-vol/f")).unwrap_or_default(),
        "legacy\n"
    );
    d.docker(&["volume", "rm", "bvpl-vol"]).ok();
    assert!(
        !data.join("bvpl-vol").exists(),
        "the plugin removed its data"
    );
    drop(legacy);
}

/// An authorization plugin (`--authorization-plugin`, the test plugin run
/// as a legacy plugin found by its spec file): a `POST /containers/create`
/// of a container labelled `bvp.deny` is refused with the plugin's
/// message; everything else passes.
#[test]
fn authorization_plugin_refuses_what_it_denies() {
    struct Authz {
        child: std::process::Child,
        spec: std::path::PathBuf,
    }
    impl Drop for Authz {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.spec);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let name = format!("bvpa-{}", std::process::id());
    let sock = tmp.path().join("authz.sock");
    let child = std::process::Command::new(berth_e2e::bin_dir().join("berth-test-volume-plugin"))
        .arg(&sock)
        .env("DATA_DIR", tmp.path().join("data"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(tmp.path().join("plugin.log")).expect("log"))
        .spawn()
        .expect("starting the authorization plugin");
    std::fs::create_dir_all("/etc/docker/plugins").expect("mkdir /etc/docker/plugins");
    let authz = Authz {
        child,
        spec: std::path::PathBuf::from(format!("/etc/docker/plugins/{name}.spec")),
    };
    std::fs::write(&authz.spec, format!("unix://{}\n", sock.display())).expect("spec");
    berth_e2e::wait_for(Duration::from_secs(10), || sock.exists().then_some(()))
        .expect("the plugin listens");

    let d = Daemon::start_with(
        &["--authorization-plugin".to_string(), name.clone()],
        |_| {},
    );
    d.docker(&["run", "--rm", "--label", "bvp.ok=1", "busybox", "true"])
        .ok();
    let o = d.docker(&["run", "--rm", "--label", "bvp.deny=1", "busybox", "true"]);
    if o.code == Some(0) {
        let log = std::fs::read_to_string(tmp.path().join("plugin.log")).unwrap_or_default();
        panic!("not refused; what the plugin was asked:\n{log}");
    }
    o.fails();
    assert!(
        o.stderr.contains(&format!(
            "authorization denied by plugin {name}: containers labelled bvp.deny are not allowed"
        )),
        "{o}"
    );
    d.docker(&["ps", "-a", "-q", "--filter", "label=bvp.deny"])
        .ok()
        .stdout_is("");
    drop(d);
    drop(authz);
}
