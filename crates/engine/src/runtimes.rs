//! Which OCI runtime a container runs with (`HostConfig.Runtime`): chosen
//! at create among the daemon's runtimes, looked up again at each start.

use berth_api::{Error, Result};
use berth_runtime::proto::ExternalRuntime;
use berth_runtime::runtimes::{unknown_runtime, Chosen, Runtimes};

use crate::Engine;

impl Engine {
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
