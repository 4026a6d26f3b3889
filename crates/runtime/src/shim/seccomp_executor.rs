//! Loading the container's seccomp filter as the last step before the
//! exec, for the container's own process and for `docker exec` ones.
//!
//! libcontainer 0.7 would build the filter with libseccomp inside every
//! process it starts (about 30 ms for moby's profile), and its tenant
//! (exec) builder drops the filter altogether, where runc applies it. So the
//! shim compiles the filter once (seccomp_bpf.rs), gives libcontainer a
//! spec without it, and this executor loads the finished program with
//! seccomp(2) just before handing over to libcontainer's default executor.
//!
//! By then libcontainer has dropped the capabilities, and the kernel loads
//! a filter without CAP_SYS_ADMIN only under no_new_privs, which docker
//! sets only when asked (`--security-opt no-new-privileges`): setuid
//! binaries in a container must keep working. So the shim lends the
//! process CAP_SYS_ADMIN in its *permitted* set only ([`lend_admin`]): not
//! effective, not bounding, not inheritable or ambient. Here it is raised
//! to effective for the load and then dropped from both sets before the
//! exec; execve would not keep it anyway, since it is not in the bounding
//! set and the new permitted set comes from the bounding set (root) or the
//! file and ambient sets (other users). Where that fails, no_new_privs is
//! set and the load retried: the process always runs confined, at worst
//! without setuid gains.

use std::collections::HashMap;
use std::rc::Rc;

use caps::{CapSet, Capability};
use libcontainer::workload::{
    default::get_executor, Executor, ExecutorError, ExecutorSetEnvsError, ExecutorValidationError,
};
use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use super::seccomp_bpf::Program;

const ADMIN: &str = "CAP_SYS_ADMIN";

#[derive(Clone)]
pub(super) struct SeccompExecutor {
    pub(super) program: Rc<Program>,
    /// CAP_SYS_ADMIN was lent in the permitted set ([`lend_admin`]).
    pub(super) lent_admin: bool,
}

/// Adds CAP_SYS_ADMIN to `process.capabilities.permitted` when the process
/// would not have it in effect; true when it did. The bounding set is left
/// alone, so the process can never keep it past its exec.
pub(super) fn lend_admin(process: &mut Value) -> bool {
    let has = |set: &str| {
        process
            .pointer(&format!("/capabilities/{set}"))
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|c| c == ADMIN))
    };
    if has("effective") || has("permitted") {
        return false;
    }
    if !process["capabilities"].is_object() {
        process["capabilities"] = json!({});
    }
    let caps = &mut process["capabilities"];
    match caps.get_mut("permitted").and_then(Value::as_array_mut) {
        Some(list) => list.push(json!(ADMIN)),
        None => caps["permitted"] = json!([ADMIN]),
    }
    true
}

impl SeccompExecutor {
    fn load(&self) -> Result<(), ExecutorError> {
        let lent = self.lent_admin;
        let mut loaded = self.program.load().is_ok();
        if !loaded
            && lent
            && caps::raise(None, CapSet::Effective, Capability::CAP_SYS_ADMIN).is_ok()
        {
            loaded = self.program.load().is_ok();
        }
        if lent {
            // Effective first: the kernel refuses an effective set that is
            // not within the permitted one.
            caps::drop(None, CapSet::Effective, Capability::CAP_SYS_ADMIN)
                .and_then(|()| caps::drop(None, CapSet::Permitted, Capability::CAP_SYS_ADMIN))
                .map_err(|e| ExecutorError::Other(format!("dropping CAP_SYS_ADMIN: {e}")))?;
        }
        if !loaded {
            nix::sys::prctl::set_no_new_privs()
                .map_err(|e| ExecutorError::Other(format!("no_new_privs: {e}")))?;
            self.program
                .load()
                .map_err(|e| ExecutorError::Other(format!("failed to load seccomp filter: {e}")))?;
        }
        Ok(())
    }
}

impl Executor for SeccompExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        self.load()?;
        get_executor().exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        get_executor().validate(spec)
    }

    fn setup_envs(&self, envs: HashMap<String, String>) -> Result<(), ExecutorSetEnvsError> {
        get_executor().setup_envs(envs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_is_lent_in_permitted_only() {
        let mut p = json!({"capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}});
        assert!(lend_admin(&mut p));
        assert_eq!(p["capabilities"]["permitted"], json!(["CAP_KILL", ADMIN]));
        assert_eq!(p["capabilities"]["effective"], json!(["CAP_KILL"]));
        assert_eq!(p["capabilities"]["bounding"], json!(["CAP_KILL"]));
        // Already there (--cap-add SYS_ADMIN): nothing to lend.
        let mut q = json!({"capabilities": {"bounding": [ADMIN], "effective": [ADMIN], "permitted": [ADMIN]}});
        assert!(!lend_admin(&mut q));
        assert_eq!(q["capabilities"]["permitted"], json!([ADMIN]));
        let mut r = json!({});
        assert!(lend_admin(&mut r));
        assert_eq!(r["capabilities"]["permitted"], json!([ADMIN]));
    }
}
