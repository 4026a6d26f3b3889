//! Plugin fixtures: a managed plugin's directory (`config.json` and
//! `rootfs/`) around the test volume plugin (`crates/testplugin`), as
//! `docker plugin create` takes it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{bin_dir, Daemon};

/// The test plugin's `config.json`: a volume driver listening on
/// `vol.sock`, its volumes under the propagated mount `/data`, the fault
/// switches (`HANG_ON`, `EXIT_AT_START`, `NO_SOCKET`) settable.
pub const VOLUME_PLUGIN_CONFIG: &str = r#"{
  "Description": "berth test volume plugin: a directory per volume",
  "Documentation": "https://github.com/berth/berth",
  "Entrypoint": ["/plugin", "/run/docker/plugins/vol.sock"],
  "Interface": {"Types": ["docker.volumedriver/1.0"], "Socket": "vol.sock"},
  "Network": {"Type": "host"},
  "PropagatedMount": "/data",
  "Linux": {"Capabilities": ["CAP_SYS_ADMIN"]},
  "Env": [
    {"Name": "HANG_ON", "Description": "a method never answered", "Settable": ["value"], "Value": ""},
    {"Name": "EXIT_AT_START", "Description": "1: exit at once", "Settable": ["value"], "Value": ""},
    {"Name": "NO_SOCKET", "Description": "1: never listen", "Settable": ["value"], "Value": ""}
  ]
}"#;

/// Writes `<tmp>/<name>/{config.json,rootfs/}` with the test volume
/// plugin as `/plugin` and returns the directory. The binary is built
/// with the workspace (dynamically linked), so the libraries `ldd` lists
/// go into the rootfs with it.
pub fn volume_plugin_dir(d: &Daemon, name: &str, config: &str) -> PathBuf {
    let dir = d.tmp().join(name);
    let rootfs = dir.join("rootfs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&rootfs).expect("mkdir rootfs");
    std::fs::write(dir.join("config.json"), config).expect("write config.json");
    let bin = bin_dir().join("berth-test-volume-plugin");
    assert!(
        bin.exists(),
        "{} is missing: cargo build -p berth-testplugin",
        bin.display()
    );
    copy_into(&bin, &rootfs, Path::new("/plugin"));
    for lib in shared_libraries(&bin) {
        copy_into(&lib, &rootfs, &lib);
    }
    dir
}

fn copy_into(src: &Path, rootfs: &Path, at: &Path) {
    let dst = rootfs.join(at.strip_prefix("/").unwrap_or(at));
    std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
    std::fs::copy(src, &dst)
        .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", src.display(), dst.display()));
}

/// The absolute paths `ldd` prints for `bin` (empty for a static binary).
fn shared_libraries(bin: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd").arg(bin).output().expect("ldd");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')))
        .map(PathBuf::from)
        .collect()
}

/// Removes every plugin when a test ends, passed or not: a plugin left
/// enabled would outlive the daemon (dockerd runs with live restore) and
/// count as a leak.
pub struct RemovePlugins<'a>(pub &'a Daemon);

impl Drop for RemovePlugins<'_> {
    fn drop(&mut self) {
        let o = self.0.docker(&["plugin", "ls", "-q", "--no-trunc"]);
        for id in o.stdout.split_whitespace() {
            let _ = self.0.docker(&["plugin", "rm", "-f", id]);
        }
    }
}

/// Creates the test volume plugin as `bvp` (disabled).
pub fn create_plugin(d: &Daemon) {
    let dir = volume_plugin_dir(d, "bvp-dir", VOLUME_PLUGIN_CONFIG);
    d.docker(&["plugin", "create", "bvp", &dir.display().to_string()])
        .ok()
        .stdout_is("bvp\n");
}
