//! Helpers shared by the `docker build` tests: a build context written
//! under the daemon's scratch directory, and a classic-builder build.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Daemon, Out};

pub fn context(d: &Daemon, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = d.tmp().join(format!("bbd-ctx-{name}"));
    let _ = fs::remove_dir_all(&dir);
    for (path, content) in files {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, content).expect("write");
    }
    dir
}

pub fn build(d: &Daemon, dir: &Path, args: &str) -> Out {
    d.sh(&format!(
        "DOCKER_BUILDKIT=0 docker build {args} {} 2>&1",
        dir.display()
    ))
}
