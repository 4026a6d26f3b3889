//! The OCI runtimes a daemon knows, as dockerd keeps them: the built-in one
//! (libcontainer in the shim, named [`BUILTIN_RUNTIME`]), `runc` (the `runc`
//! on PATH, always known, as dockerd's stock runtime), and those named in
//! `daemon.json` `runtimes` or by `--add-runtime`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::proto::{ExternalRuntime, BUILTIN_RUNTIME};

/// dockerd's stock runtime, known without configuration.
pub const RUNC: &str = "runc";

/// The runtimes containers may choose (`HostConfig.Runtime`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtimes {
    /// What a container that names none runs with.
    default: String,
    /// External runtimes by name, `runc` among them.
    external: BTreeMap<String, ExternalRuntime>,
}

/// Which runtime a name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen<'a> {
    Builtin,
    External(&'a ExternalRuntime),
}

impl Default for Runtimes {
    fn default() -> Runtimes {
        Runtimes::new(Vec::new(), None).expect("the stock runtimes are valid")
    }
}

impl Runtimes {
    /// The stock runtimes plus `configured`; `default` names the default
    /// (the built-in one when `None`). Errors are dockerd's words.
    pub fn new(
        configured: Vec<ExternalRuntime>,
        default: Option<String>,
    ) -> Result<Runtimes, String> {
        let mut external = BTreeMap::new();
        external.insert(
            RUNC.to_string(),
            ExternalRuntime {
                name: RUNC.into(),
                path: RUNC.into(),
                args: Vec::new(),
            },
        );
        for rt in configured {
            if rt.name == RUNC || rt.name == BUILTIN_RUNTIME {
                return Err(format!("runtime name '{}' is reserved", rt.name));
            }
            if rt.name.is_empty() || rt.name.contains('/') {
                return Err(format!("invalid runtime name {:?}", rt.name));
            }
            if rt.path.as_os_str().is_empty() {
                return Err(format!("runtime {} has no path", rt.name));
            }
            external.insert(rt.name.clone(), rt);
        }
        let default = default
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| BUILTIN_RUNTIME.into());
        let r = Runtimes { default, external };
        if r.get(&r.default).is_none() {
            return Err(format!(
                "specified default runtime '{}' does not exist",
                r.default
            ));
        }
        Ok(r)
    }

    pub fn default_name(&self) -> &str {
        &self.default
    }

    /// The runtime `name` stands for; `None` when it is unknown.
    pub fn get(&self, name: &str) -> Option<Chosen<'_>> {
        if name == BUILTIN_RUNTIME {
            return Some(Chosen::Builtin);
        }
        self.external.get(name).map(Chosen::External)
    }

    /// Every runtime by name with its binary and `runtimeArgs`, as `/info`
    /// lists them; the built-in one's binary is the shim.
    pub fn list<'a>(
        &'a self,
        shim: &'a Path,
    ) -> impl Iterator<Item = (&'a str, &'a Path, &'a [String])> + 'a {
        std::iter::once((BUILTIN_RUNTIME, shim, &[][..])).chain(
            self.external
                .values()
                .map(|r| (r.name.as_str(), r.path.as_path(), r.args.as_slice())),
        )
    }

    /// Where a runtime keeps its containers' state under the exec root:
    /// each its own, since runc cannot read libcontainer's state files
    /// (dockerd's `runtime-<name>`).
    pub fn root(exec_root: &Path, chosen: Chosen<'_>) -> PathBuf {
        match chosen {
            Chosen::Builtin => exec_root.join("runtime"),
            Chosen::External(r) => exec_root.join(format!("runtime-{}", r.name)),
        }
    }
}

/// The unknown-runtime error at create, dockerd's words.
pub fn unknown_runtime(name: &str) -> String {
    format!("unknown or invalid runtime name: {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(name: &str) -> ExternalRuntime {
        ExternalRuntime {
            name: name.into(),
            path: "/usr/bin/x".into(),
            args: vec!["--debug".into()],
        }
    }

    #[test]
    fn stock_runtimes_and_configured_ones() {
        let r = Runtimes::default();
        assert_eq!(r.default_name(), BUILTIN_RUNTIME);
        assert_eq!(r.get(BUILTIN_RUNTIME), Some(Chosen::Builtin));
        assert!(matches!(r.get("runc"), Some(Chosen::External(e)) if e.path == Path::new("runc")));
        assert_eq!(r.get("nope"), None);
        let r = Runtimes::new(vec![rt("crun")], Some("crun".into())).unwrap();
        assert_eq!(r.default_name(), "crun");
        assert!(matches!(r.get("crun"), Some(Chosen::External(e)) if e.args == ["--debug"]));
        let names: Vec<&str> = r.list(Path::new("/shim")).map(|(n, _, _)| n).collect();
        assert_eq!(names, [BUILTIN_RUNTIME, "crun", "runc"]);
        assert_eq!(
            Runtimes::new(vec![rt("runc")], None).unwrap_err(),
            "runtime name 'runc' is reserved"
        );
        assert_eq!(
            Runtimes::new(vec![], Some("nope".into())).unwrap_err(),
            "specified default runtime 'nope' does not exist"
        );
    }
}
