//! Legacy plugins (moby `pkg/plugins` discovery): a process the user runs
//! outside the engine, found by name as a socket in `/run/docker/plugins`
//! (`NAME.sock` or `NAME/NAME.sock`) or a spec file in
//! `/etc/docker/plugins` or `/usr/lib/docker/plugins` (`NAME.spec`
//! holding its address, or `NAME.json` with `Addr`). Activated with
//! `/Plugin.Activate` at each lookup, which also says what it implements.

use std::path::{Path, PathBuf};

use berth_api::{Error, Result};
use serde::Deserialize;

/// Where sockets of legacy plugins are looked for.
const SOCKET_DIRS: &[&str] = &["/run/docker/plugins"];
/// Where spec files of legacy plugins are looked for.
const SPEC_DIRS: &[&str] = &["/etc/docker/plugins", "/usr/lib/docker/plugins"];

/// A legacy plugin's socket, as its directory and file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacySocket {
    pub dir: PathBuf,
    pub file: String,
}

impl LegacySocket {
    fn of(path: &Path) -> Option<LegacySocket> {
        Some(LegacySocket {
            dir: path.parent()?.to_path_buf(),
            file: path.file_name()?.to_string_lossy().into_owned(),
        })
    }
}

/// A name that could be a file name (no path, not `.`/`..`).
fn plain(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && name != "." && name != ".."
}

/// Finds the legacy plugin `name`; `Ok(None)` when there is none.
pub fn find(name: &str) -> Result<Option<LegacySocket>> {
    find_in(name, SOCKET_DIRS, SPEC_DIRS)
}

fn find_in(name: &str, socket_dirs: &[&str], spec_dirs: &[&str]) -> Result<Option<LegacySocket>> {
    if !plain(name) {
        return Ok(None);
    }
    for dir in socket_dirs.iter().map(Path::new) {
        for p in [
            dir.join(format!("{name}.sock")),
            dir.join(name).join(format!("{name}.sock")),
        ] {
            if p.exists() {
                return Ok(LegacySocket::of(&p));
            }
        }
    }
    for dir in spec_dirs.iter().map(Path::new) {
        let spec = dir.join(format!("{name}.spec"));
        if let Ok(text) = std::fs::read_to_string(&spec) {
            return address(name, text.trim()).map(Some);
        }
        let json = dir.join(format!("{name}.json"));
        if let Ok(bytes) = std::fs::read(&json) {
            #[derive(Deserialize, Default)]
            #[serde(default)]
            struct Spec {
                #[serde(rename = "Addr")]
                addr: String,
            }
            let s: Spec = serde_json::from_slice(&bytes)
                .map_err(|e| Error::invalid(format!("plugin {name}: {}: {e}", json.display())))?;
            return address(name, s.addr.trim()).map(Some);
        }
    }
    Ok(None)
}

/// A spec's address: `unix:///path` (or a bare absolute path). TCP
/// plugins are not supported.
fn address(name: &str, addr: &str) -> Result<LegacySocket> {
    let path = addr.strip_prefix("unix://").unwrap_or(addr);
    if !path.starts_with('/') {
        return Err(Error::invalid(format!(
            "plugin {name}: address {addr:?} is not supported: berth reaches legacy plugins over unix sockets only"
        )));
    }
    LegacySocket::of(Path::new(path))
        .ok_or_else(|| Error::invalid(format!("plugin {name}: bad address {addr:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_as_sockets_and_spec_files() {
        let tmp = tempfile::tempdir().unwrap();
        let (socks, specs) = (tmp.path().join("run"), tmp.path().join("etc"));
        std::fs::create_dir_all(socks.join("nested")).unwrap();
        std::fs::create_dir_all(&specs).unwrap();
        std::fs::write(socks.join("flat.sock"), "").unwrap();
        std::fs::write(socks.join("nested/nested.sock"), "").unwrap();
        std::fs::write(specs.join("spec.spec"), "unix:///x/y.sock\n").unwrap();
        std::fs::write(
            specs.join("js.json"),
            r#"{"Name":"js","Addr":"unix:///j/s.sock"}"#,
        )
        .unwrap();
        std::fs::write(specs.join("tcp.spec"), "tcp://127.0.0.1:8080").unwrap();
        let (s, e) = (socks.to_str().unwrap(), specs.to_str().unwrap());
        let find = |n: &str| find_in(n, &[s], &[e]);
        assert_eq!(find("flat").unwrap().unwrap().file, "flat.sock");
        assert_eq!(find("nested").unwrap().unwrap().dir, socks.join("nested"));
        assert_eq!(find("spec").unwrap().unwrap().dir, PathBuf::from("/x"));
        assert_eq!(find("js").unwrap().unwrap().file, "s.sock");
        assert!(find("tcp").is_err());
        assert_eq!(find("none").unwrap(), None);
        assert_eq!(find("../etc").unwrap(), None);
    }
}
