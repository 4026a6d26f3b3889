//! The built-in runtime: youki's libcontainer, in the shim's own process
//! (so it must stay single-threaded: libcontainer forks).

use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{anyhow, Context};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use super::oci::OciRuntime;
use super::seccomp_bpf::{self, Program};
use super::seccomp_executor::{lend_admin, SeccompExecutor};
use super::stdio::ChildIo;
use crate::proto::ShimConfig;

pub(super) struct Builtin {
    id: String,
    root: PathBuf,
    bundle: PathBuf,
    state_dir: PathBuf,
    seccomp_cache: Option<PathBuf>,
    container: Option<Container>,
    /// The container's compiled seccomp filter, also for its execs.
    seccomp: Option<Rc<Program>>,
}

impl Builtin {
    pub(super) fn new(cfg: &ShimConfig) -> Builtin {
        Builtin {
            id: cfg.id.clone(),
            root: cfg.runtime_root.clone(),
            bundle: cfg.bundle.clone(),
            state_dir: cfg.state_dir.clone(),
            seccomp_cache: cfg.seccomp_cache.clone(),
            container: None,
            seccomp: None,
        }
    }

    fn builder(&self, io: ChildIo) -> anyhow::Result<ContainerBuilder> {
        let builder = ContainerBuilder::new(self.id.clone(), SyscallType::default())
            .with_root_path(&self.root)
            .map_err(|e| anyhow!("runtime root: {e}"))?;
        Ok(match io {
            ChildIo::Console { path, .. } => builder.with_console_socket(Some(&path)),
            ChildIo::Pipes {
                stdin,
                stdout,
                stderr,
            } => builder
                .with_stdin(stdin)
                .with_stdout(stdout)
                .with_stderr(stderr),
        })
    }

    fn container(&mut self) -> anyhow::Result<&mut Container> {
        self.container
            .as_mut()
            .ok_or_else(|| anyhow!("the container is not created"))
    }

    /// The bundle libcontainer creates the container from, and the filter
    /// the executor loads. With a `linux.seccomp` section the filter is
    /// compiled here (or taken from the cache) and libcontainer gets a copy
    /// of the spec without it, in `<state>/oci`, with CAP_SYS_ADMIN lent for
    /// the load (see seccomp_executor.rs); `config.json` itself stays as the
    /// engine wrote it. A section the compiler refuses is left to libcontainer.
    fn runtime_bundle(&mut self) -> anyhow::Result<(PathBuf, Option<SeccompExecutor>)> {
        let path = self.bundle.join("config.json");
        let mut spec: Value = serde_json::from_slice(
            &fs::read(&path).with_context(|| format!("{}", path.display()))?,
        )?;
        let Some(section) = spec.pointer("/linux/seccomp") else {
            return Ok((self.bundle.clone(), None));
        };
        let program = match seccomp_bpf::cached(section, self.seccomp_cache.as_deref()) {
            Ok(p) => Rc::new(p),
            Err(e) => {
                eprintln!("shim: seccomp filter left to the runtime: {e}");
                return Ok((self.bundle.clone(), None));
            }
        };
        if let Some(linux) = spec.get_mut("linux").and_then(|l| l.as_object_mut()) {
            linux.remove("seccomp");
        }
        let lent_admin = lend_admin(&mut spec["process"]);
        let dir = self.state_dir.join("oci");
        fs::create_dir_all(&dir)?;
        fs::write(dir.join("config.json"), serde_json::to_vec(&spec)?)?;
        self.seccomp = Some(program.clone());
        Ok((
            dir,
            Some(SeccompExecutor {
                program,
                lent_admin,
            }),
        ))
    }

    /// The container's compiled filter for an exec: the shim's copy, else
    /// the shared cache's or a fresh compile (see seccomp_bpf.rs).
    fn exec_program(&mut self, section: &Value) -> anyhow::Result<Rc<Program>> {
        if let Some(p) = &self.seccomp {
            return Ok(p.clone());
        }
        let program = Rc::new(seccomp_bpf::cached(section, self.seccomp_cache.as_deref())?);
        self.seccomp = Some(program.clone());
        Ok(program)
    }
}

impl OciRuntime for Builtin {
    fn create(&mut self, io: ChildIo) -> anyhow::Result<i32> {
        let builder = self.builder(io)?;
        let (bundle, executor) = self.runtime_bundle()?;
        let builder = match executor {
            Some(e) => builder.with_executor(e),
            None => builder,
        };
        let container = builder
            .as_init(&bundle)
            .with_systemd(false)
            .with_detach(true)
            .build()
            .map_err(|e| anyhow!("{e}"))?;
        let pid = container
            .pid()
            .map(|p| p.as_raw())
            .ok_or_else(|| anyhow!("container has no pid"))?;
        self.container = Some(container);
        Ok(pid)
    }

    fn start(&mut self) -> anyhow::Result<()> {
        Ok(self.container()?.start()?)
    }

    fn kill(&mut self, sig: Signal, all: bool) -> anyhow::Result<()> {
        let c = self.container()?;
        if all {
            return Ok(c.kill(sig, true)?);
        }
        let pid = c.pid().ok_or_else(|| anyhow!("container has no pid"))?;
        Ok(kill(Pid::from_raw(pid.as_raw()), sig)?)
    }

    fn pause(&mut self) -> anyhow::Result<()> {
        Ok(self.container()?.pause()?)
    }

    fn resume(&mut self) -> anyhow::Result<()> {
        Ok(self.container()?.resume()?)
    }

    fn exec(
        &mut self,
        mut process: Value,
        process_path: &Path,
        io: ChildIo,
    ) -> anyhow::Result<i32> {
        let bundle: Value = serde_json::from_slice(&fs::read(self.bundle.join("config.json"))?)?;
        // libcontainer's tenant builder drops the container's seccomp
        // filter; the executor loads it in the exec'd process.
        let executor = match bundle.pointer("/linux/seccomp") {
            Some(s) => Some(SeccompExecutor {
                program: self.exec_program(s)?,
                lent_admin: lend_admin(&mut process),
            }),
            None => None,
        };
        fs::write(process_path, serde_json::to_vec(&process)?)?;
        let builder = self.builder(io)?;
        let builder = match executor {
            Some(e) => builder.with_executor(e),
            None => builder,
        };
        let result = builder
            .as_tenant()
            .with_process(Some(process_path))
            .with_detach(true)
            .build();
        let _ = fs::remove_file(process_path);
        Ok(result.map_err(|e| anyhow!("{e}"))?.as_raw())
    }

    fn delete(&mut self) -> anyhow::Result<()> {
        Ok(self.container()?.delete(true)?)
    }
}
