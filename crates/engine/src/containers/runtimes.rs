//! Which OCI runtime a container runs with (`HostConfig.Runtime`): chosen
//! at create among the daemon's runtimes, looked up again at each start.

use berth_api::{Error, Result};
use berth_runtime::proto::ExternalRuntime;
use berth_runtime::runtimes::{unknown_runtime, Chosen, Runtimes, BUILTIN_RUNTIME, RUNC};

use crate::containers::container::Record;

use crate::containers::Containers;

impl Containers<'_> {
    /// At create: an empty `Runtime` gets the daemon's default; an unknown
    /// one is refused, as dockerd refuses it.
    pub(crate) fn choose_runtime(&self, hc: &mut berth_api::HostConfig) -> Result<()> {
        if hc.runtime.is_empty() {
            hc.runtime = self.config.runtimes.default_name().to_string();
        }
        match self.config.runtimes.get(&hc.runtime) {
            Some(_) => Ok(()),
            None => Err(Error::invalid(unknown_runtime(&hc.runtime))),
        }
    }

    /// At start: the runtime binary for the shim (`None`: the built-in
    /// one) and its state root. A runtime the daemon no longer has (it was
    /// restarted without it) refuses the start.
    pub(crate) fn runtime_for(
        &self,
        name: &str,
    ) -> Result<(Option<ExternalRuntime>, std::path::PathBuf)> {
        let chosen = self
            .config
            .runtimes
            .get(name)
            .ok_or_else(|| Error::invalid(unknown_runtime(name)))?;
        let root = Runtimes::root(&self.config.exec_root, chosen);
        Ok(match chosen {
            Chosen::Builtin => (None, root),
            Chosen::External(rt) => (Some(rt.clone()), root),
        })
    }
}

/// A record from before berth ran external runtimes said `runc` (or
/// nothing) and ran the built-in runtime: it keeps doing so.
pub(crate) fn name_builtin_runtime(r: &mut Record) {
    if !r.runtime_named {
        if r.host_config.runtime.is_empty() || r.host_config.runtime == RUNC {
            r.host_config.runtime = BUILTIN_RUNTIME.into();
        }
        r.runtime_named = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_records_keep_the_builtin_runtime() {
        let mut old: Record = serde_json::from_value(serde_json::json!({
            "id": "x", "name": "/x", "created": "", "path": "sh", "args": [],
            "config": {}, "host_config": {"Runtime": "runc"}, "image_id": "",
            "state": crate::containers::container::StateRecord::default(), "restart_count": 0
        }))
        .unwrap();
        name_builtin_runtime(&mut old);
        assert_eq!(old.host_config.runtime, BUILTIN_RUNTIME);
        // A new record's `runc` is the real runc.
        let mut new = old.clone();
        new.host_config.runtime = RUNC.into();
        name_builtin_runtime(&mut new);
        assert_eq!(new.host_config.runtime, RUNC);
    }
}
