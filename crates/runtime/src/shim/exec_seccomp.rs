//! The container's seccomp filter for `docker exec` processes.
//!
//! libcontainer 0.7's tenant builder keeps only the namespaces, cgroup,
//! personality and time offsets of the container's `linux` section, so an
//! exec'd process would run without the container's filter (runc applies
//! it). This executor loads the filter as the very last step before the
//! exec, then hands over to libcontainer's default executor. The filter is
//! the program the shim compiled once for the container (seccomp_bpf.rs),
//! so an exec costs a seccomp(2) call, not a libseccomp compile.
//!
//! By then the process has dropped its capabilities; the kernel loads a
//! filter without CAP_SYS_ADMIN only under no_new_privs, so when the first
//! attempt is refused, no_new_privs is set and the load retried: an exec'd
//! process always runs confined (setuid binaries in it do not gain
//! privileges, where runc's exec would allow that).

use std::collections::HashMap;
use std::rc::Rc;

use libcontainer::workload::{
    default::get_executor, Executor, ExecutorError, ExecutorSetEnvsError, ExecutorValidationError,
};
use oci_spec::runtime::Spec;

use super::seccomp_bpf::Program;

#[derive(Clone)]
pub(super) struct SeccompExecutor {
    pub(super) program: Rc<Program>,
}

impl Executor for SeccompExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if self.program.load().is_err() {
            nix::sys::prctl::set_no_new_privs()
                .map_err(|e| ExecutorError::Other(format!("no_new_privs: {e}")))?;
            self.program
                .load()
                .map_err(|e| ExecutorError::Other(format!("failed to load seccomp filter: {e}")))?;
        }
        get_executor().exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        get_executor().validate(spec)
    }

    fn setup_envs(&self, envs: HashMap<String, String>) -> Result<(), ExecutorSetEnvsError> {
        get_executor().setup_envs(envs)
    }
}
