//! `--init`: as dockerd, an init process runs as the container's pid 1,
//! reaping zombies and forwarding signals to the command. The init is
//! `docker-init` from the daemon's `PATH` (on Debian a link to
//! `tini-static`, package `tini`, which dockerd uses too), else
//! `tini-static`; it is bind-mounted read-only at `/sbin/docker-init`.

use std::path::PathBuf;

use berth_api::{Error, Result};

/// Where the init binary appears inside the container (moby's
/// `inits.DefaultInitBinary` mount point).
pub const CONTAINER_PATH: &str = "/sbin/docker-init";

/// The host's init binary, resolved through symlinks.
pub fn binary() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    for name in ["docker-init", "tini-static"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return std::fs::canonicalize(&p).map_err(|e| Error::internal(e.to_string()));
            }
        }
    }
    Err(Error::internal(
        "exec: \"docker-init\": executable file not found in $PATH",
    ))
}

/// The process arguments with the init in front (`docker-init -- CMD...`).
pub fn wrap(args: Vec<String>) -> Vec<String> {
    [CONTAINER_PATH.to_string(), "--".to_string()]
        .into_iter()
        .chain(args)
        .collect()
}
