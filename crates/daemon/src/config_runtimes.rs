//! `runtimes` and `default-runtime` (flags `--add-runtime NAME=PATH` and
//! `--default-runtime NAME`): the OCI runtimes containers may choose.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::bail;
use berth_runtime::runtimes::{ExternalRuntime, Runtimes};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Flags;

/// One entry of `daemon.json` `runtimes`, as dockerd reads it.
#[derive(Deserialize)]
struct Entry {
    path: PathBuf,
    #[serde(rename = "runtimeArgs", default)]
    runtime_args: Vec<String>,
}

pub(super) fn settings(
    flags: &Flags,
    file: &Map<String, Value>,
    path: &Path,
) -> anyhow::Result<Runtimes> {
    let mut configured = Vec::new();
    for spec in &flags.add_runtimes {
        let Some((name, bin)) = spec
            .split_once('=')
            .filter(|(n, b)| !n.is_empty() && !b.is_empty())
        else {
            bail!("invalid argument {spec:?} for \"--add-runtime\" flag: expected NAME=PATH");
        };
        configured.push(ExternalRuntime {
            name: name.to_string(),
            path: bin.into(),
            args: Vec::new(),
        });
    }
    if let Some(v) = file.get("runtimes") {
        let entries: BTreeMap<String, Entry> = serde_json::from_value(v.clone()).map_err(|e| {
            anyhow::anyhow!(
                "unable to configure the daemon with file {}: runtimes: {e}",
                path.display()
            )
        })?;
        configured.extend(entries.into_iter().map(|(name, e)| ExternalRuntime {
            name,
            path: e.path,
            args: e.runtime_args,
        }));
    }
    let default = flags.default_runtime.clone().or_else(|| {
        file.get("default-runtime")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    Runtimes::new(configured, default).map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use super::super::{Config, Flags};
    use berth_runtime::runtimes::Chosen;
    use clap::Parser;

    fn load(args: &[&str], file: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        std::fs::write(&path, file).unwrap();
        let args = ["berthd", "--config-file", path.to_str().unwrap()]
            .into_iter()
            .chain(args.iter().copied());
        Config::load(&Flags::parse_from(args))
    }

    #[test]
    fn runtimes_from_file_and_flags() {
        let c = load(
            &[],
            r#"{"runtimes": {"crun": {"path": "/usr/bin/crun", "runtimeArgs": ["--debug"]}}, "default-runtime": "crun"}"#,
        )
        .unwrap();
        assert_eq!(c.runtimes.default_name(), "crun");
        assert!(
            matches!(c.runtimes.get("crun"), Some(Chosen::External(r)) if r.args == ["--debug"])
        );
        let c = load(&["--add-runtime", "myrunc=/usr/bin/runc"], "{}").unwrap();
        assert_eq!(c.runtimes.default_name(), "berth");
        assert!(c.runtimes.get("myrunc").is_some() && c.runtimes.get("runc").is_some());
        let e = load(
            &["--add-runtime", "x=/y"],
            r#"{"runtimes": {"z": {"path": "/z"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("runtimes: (from flag: [x=/y]"), "{e}");
        let e = load(&["--default-runtime", "nope"], "{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("default runtime 'nope'"), "{e}");
        let e = load(&[], r#"{"runtimes": {"runc": {"path": "/x"}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'runc' is reserved"), "{e}");
    }
}
