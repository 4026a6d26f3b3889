//! A container's seccomp filter compiled once to a classic BPF program,
//! cached, and loaded with seccomp(2) in each process that needs it.
//!
//! Building Docker's default profile with libseccomp (hundreds of rules
//! over three architectures) takes about 30 ms; loading the finished
//! program takes microseconds. libcontainer builds the filter inside every
//! process it starts, so an exec paid the 30 ms each time. Here the shim
//! compiles the container's `linux.seccomp` once with libseccomp, exports
//! the program (`seccomp_export_bpf`), keeps it in memory and in a cache
//! directory shared by every shim of the daemon (the default profile is
//! the same for every container with the same capabilities), keyed by a
//! hash of the section, the native architecture, the kernel release and
//! the libseccomp version. A cache file holds the program's sha256 ahead of
//! it, is written to a temporary name and renamed into place, and is
//! recompiled when the digest does not match, so a torn or foreign file is
//! never loaded.
//!
//! The translation from the OCI section to libseccomp follows the runtime
//! spec and runc: `defaultErrnoRet`/`errnoRet` default to EPERM, a rule
//! whose action equals the default is left out (libseccomp refuses it),
//! names this libseccomp does not know are skipped (older kernels), an
//! argument index compared twice in one rule becomes one rule per
//! comparison, and for `SCMP_CMP_MASKED_EQ` `value` is the mask and
//! `valueTwo` the datum (moby's `clone` rule reads "flags & 0x7E020000 ==
//! 0"). `flags` become seccomp(2) flags at load. `SCMP_ACT_NOTIFY` needs a
//! listener the shim does not run, so such a section is refused here and
//! left to libcontainer.

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One classic BPF instruction (`struct sock_filter`).
const INSN: usize = std::mem::size_of::<libc::sock_filter>();
/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
const MAX_INSNS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    #[error("seccomp profile: {0}")]
    Profile(String),
    #[error("libseccomp: {0}")]
    Seccomp(#[from] libseccomp::error::SeccompError),
    #[error("seccomp program: {0}")]
    Io(#[from] std::io::Error),
}

/// A compiled filter, ready for seccomp(2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    insns: Vec<libc::sock_filter>,
    /// `SECCOMP_FILTER_FLAG_*` from the section's `flags`.
    flags: libc::c_ulong,
}

impl Program {
    /// Installs the filter on the calling thread. Makes no allocation, so it
    /// is safe in a freshly forked child.
    pub fn load(&self) -> nix::Result<()> {
        let prog = libc::sock_fprog {
            len: self.insns.len() as libc::c_ushort,
            filter: self.insns.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `len` initialised instructions that live
        // as long as `self`; the kernel copies them before returning.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                &prog as *const libc::sock_fprog,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(nix::errno::Errno::last())
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.insns.len()
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.insns.len() * INSN);
        for i in &self.insns {
            out.extend_from_slice(&i.code.to_ne_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_ne_bytes());
        }
        out
    }

    fn from_bytes(bytes: &[u8], flags: libc::c_ulong) -> Result<Self, BpfError> {
        if bytes.is_empty() || bytes.len() % INSN != 0 || bytes.len() / INSN > MAX_INSNS {
            return Err(BpfError::Profile(format!(
                "a program of {} bytes is not 1 to {MAX_INSNS} instructions",
                bytes.len()
            )));
        }
        let insns = bytes
            .chunks_exact(INSN)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Ok(Program { insns, flags })
    }
}

/// The program for `section` (the OCI `linux.seccomp` object): from
/// `cache_dir` when a valid copy is there, else compiled and stored there.
/// A cache that cannot be written only costs the next shim a compile.
pub fn cached(section: &Value, cache_dir: Option<&Path>) -> Result<Program, BpfError> {
    let flags = flags(section)?;
    let Some(dir) = cache_dir else {
        return compile(section);
    };
    let path = cache_path(dir, section);
    if let Ok(bytes) = fs::read(&path) {
        if let Some(p) = verify(&bytes).and_then(|b| Program::from_bytes(b, flags).ok()) {
            return Ok(p);
        }
    }
    let program = compile(section)?;
    if let Err(e) = store(&path, &program) {
        tracing::debug!(path = %path.display(), "seccomp cache not written: {e}");
    }
    Ok(program)
}

/// `digest ++ program` when the digest matches, the program part.
fn verify(bytes: &[u8]) -> Option<&[u8]> {
    let (digest, program) = bytes.split_at_checked(32)?;
    (Sha256::digest(program).as_slice() == digest).then_some(program)
}

fn store(path: &Path, program: &Program) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let bytes = program.to_bytes();
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(&Sha256::digest(&bytes))?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

fn cache_path(dir: &Path, section: &Value) -> PathBuf {
    let mut h = Sha256::new();
    h.update(b"berth seccomp bpf 1\0");
    h.update(std::env::consts::ARCH.as_bytes());
    h.update(b"\0");
    if let Ok(u) = nix::sys::utsname::uname() {
        h.update(u.release().as_encoded_bytes());
    }
    h.update(b"\0");
    let v = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    h.update(v.as_bytes());
    h.update(b"\0");
    h.update(serde_json::to_vec(section).unwrap_or_default());
    dir.join(format!("{:x}.bpf", h.finalize()))
}

fn flags(section: &Value) -> Result<libc::c_ulong, BpfError> {
    let mut out = 0;
    for f in strings(section.get("flags"))? {
        out |= match f {
            "SECCOMP_FILTER_FLAG_TSYNC" => libc::SECCOMP_FILTER_FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => libc::SECCOMP_FILTER_FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => {
                libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            }
            other => return Err(BpfError::Profile(format!("unknown flag {other}"))),
        };
    }
    Ok(out)
}

fn strings(v: Option<&Value>) -> Result<Vec<&str>, BpfError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| {
                s.as_str()
                    .ok_or_else(|| BpfError::Profile(format!("{s} is not a string")))
            })
            .collect(),
        Some(other) => Err(BpfError::Profile(format!("{other} is not a list"))),
    }
}

fn action(name: Option<&Value>, errno: Option<&Value>) -> Result<ScmpAction, BpfError> {
    let name = name
        .and_then(Value::as_str)
        .ok_or_else(|| BpfError::Profile("an action is missing".into()))?;
    if name == "SCMP_ACT_NOTIFY" {
        return Err(BpfError::Profile("SCMP_ACT_NOTIFY needs a listener".into()));
    }
    let errno = match errno.and_then(Value::as_u64) {
        Some(e) => i32::try_from(e).map_err(|_| BpfError::Profile(format!("errno {e}")))?,
        None => libc::EPERM,
    };
    Ok(ScmpAction::from_str(name, Some(errno))?)
}

fn u64_field(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Builds the filter with libseccomp and exports its program.
pub fn compile(section: &Value) -> Result<Program, BpfError> {
    let flags = flags(section)?;
    let default = action(section.get("defaultAction"), section.get("defaultErrnoRet"))?;
    let mut ctx = ScmpFilterContext::new(default)?;
    for arch in strings(section.get("architectures"))? {
        ctx.add_arch(ScmpArch::from_str(arch)?)?;
    }
    let empty = Vec::new();
    let rules = match section.get("syscalls") {
        None | Some(Value::Null) => &empty,
        Some(Value::Array(a)) => a,
        Some(_) => return Err(BpfError::Profile("syscalls is not a list".into())),
    };
    for rule in rules {
        let act = action(rule.get("action"), rule.get("errnoRet"))?;
        if act == default {
            continue;
        }
        let mut cmps = Vec::new();
        let mut seen = HashSet::new();
        let mut repeated = false;
        for arg in rule.get("args").and_then(Value::as_array).unwrap_or(&empty) {
            let index = u64_field(arg, "index");
            let index = u32::try_from(index)
                .ok()
                .filter(|i| *i < 6)
                .ok_or_else(|| BpfError::Profile(format!("argument index {index}")))?;
            let op = arg
                .get("op")
                .and_then(Value::as_str)
                .ok_or_else(|| BpfError::Profile("an argument has no op".into()))?;
            let (value, two) = (u64_field(arg, "value"), u64_field(arg, "valueTwo"));
            let cmp = match ScmpCompareOp::from_str(op)? {
                ScmpCompareOp::MaskedEqual(_) => {
                    ScmpArgCompare::new(index, ScmpCompareOp::MaskedEqual(value), two)
                }
                op => ScmpArgCompare::new(index, op, value),
            };
            repeated |= !seen.insert(index);
            cmps.push(cmp);
        }
        for name in strings(rule.get("names"))? {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                continue;
            };
            if cmps.is_empty() {
                ctx.add_rule(act, sc)?;
            } else if repeated {
                for c in &cmps {
                    ctx.add_rule_conditional(act, sc, std::slice::from_ref(c))?;
                }
            } else {
                ctx.add_rule_conditional(act, sc, &cmps)?;
            }
        }
    }
    let mut out = memfd()?;
    ctx.export_bpf(&out)?;
    out.rewind()?;
    let mut bytes = Vec::new();
    out.read_to_end(&mut bytes)?;
    Program::from_bytes(&bytes, flags)
}

/// An anonymous file for libseccomp's export (a pipe could fill up).
fn memfd() -> std::io::Result<fs::File> {
    let fd = nix::sys::memfd::memfd_create(
        c"berth-seccomp",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )?;
    Ok(fs::File::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn default_section() -> Value {
        let caps: Vec<String> = crate::spec::DEFAULT_CAPABILITIES
            .iter()
            .map(|s| s.to_string())
            .collect();
        crate::seccomp::to_oci(crate::seccomp::DEFAULT_PROFILE, &caps)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn compiles_the_default_profile() {
        let t = std::time::Instant::now();
        let p = compile(&default_section()).unwrap();
        eprintln!("{} instructions in {:?}", p.len(), t.elapsed());
        assert!(p.len() > 100 && p.len() <= MAX_INSNS);
        assert_eq!(Program::from_bytes(&p.to_bytes(), 0).unwrap(), p);
    }

    #[test]
    fn refuses_what_it_cannot_load() {
        let notify = json!({"defaultAction": "SCMP_ACT_NOTIFY"});
        assert!(compile(&notify).is_err());
        let bad = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_BOGUS"}]});
        assert!(compile(&bad).is_err());
        let flag = json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["NOPE"]});
        assert!(compile(&flag).is_err());
        assert!(Program::from_bytes(&[0; 7], 0).is_err());
        assert!(Program::from_bytes(&[], 0).is_err());
    }

    #[test]
    fn the_cache_is_reused_and_a_bad_copy_recompiled() {
        let tmp = tempfile::tempdir().unwrap();
        let section = json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]});
        let first = cached(&section, Some(tmp.path())).unwrap();
        let path = cache_path(tmp.path(), &section);
        let stored = fs::read(&path).unwrap();
        assert_eq!(verify(&stored).unwrap(), first.to_bytes());
        // A different section is a different file.
        let other = json!({"defaultAction": "SCMP_ACT_ALLOW"});
        assert_ne!(cache_path(tmp.path(), &other), path);
        // A torn copy is not loaded but replaced.
        fs::write(&path, &stored[..stored.len() - 8]).unwrap();
        assert_eq!(cached(&section, Some(tmp.path())).unwrap(), first);
        assert_eq!(fs::read(&path).unwrap(), stored);
        // A copy whose digest matches is used as it is.
        let mut forged = Program::from_bytes(&first.to_bytes()[..8], 0)
            .unwrap()
            .to_bytes();
        let mut file = Sha256::digest(&forged).to_vec();
        file.append(&mut forged);
        fs::write(&path, &file).unwrap();
        assert_eq!(cached(&section, Some(tmp.path())).unwrap().len(), 1);
    }

    fn exit_now(code: i32) -> ! {
        // SAFETY: _exit ends the process without running anything else.
        unsafe { libc::_exit(code) }
    }

    /// The errno of a raw syscall's result, 0 on success.
    fn errno_of(r: libc::c_long) -> i32 {
        if r == -1 {
            nix::errno::Errno::last_raw()
        } else {
            0
        }
    }

    /// clone(2) with `flags`; the child leaves at once. The errno, 0 on success.
    fn raw_clone(flags: libc::c_int) -> i32 {
        // SAFETY: a fork-like clone (no CLONE_VM, no new stack); the child
        // only calls _exit.
        let r = unsafe { libc::syscall(libc::SYS_clone, flags as libc::c_ulong, 0, 0, 0, 0) };
        if r == 0 {
            exit_now(0);
        }
        errno_of(r)
    }

    /// Runs `probe` in a forked child under `program`; its exit code.
    fn in_child(program: &Program, probe: fn() -> i32) -> i32 {
        // SAFETY: the child only makes raw syscalls (no allocation, no locks)
        // and leaves with _exit.
        match unsafe { libc::fork() } {
            0 => exit_now(match program.load() {
                Ok(()) => probe(),
                Err(_) => 99,
            }),
            pid => {
                let mut status = 0;
                // SAFETY: waiting on our own child into a local.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                libc::WEXITSTATUS(status)
            }
        }
    }

    #[test]
    fn the_default_program_refuses_namespaces_and_allows_fork() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: loading a filter without no_new_privs needs root");
            return;
        }
        let p = compile(&default_section()).unwrap();
        // unshare(CLONE_NEWUSER): refused without CAP_SYS_ADMIN, although
        // the kernel lets anyone make a user namespace.
        let unshare = || {
            // SAFETY: unshare takes flags only.
            errno_of(unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER) })
        };
        assert_eq!(in_child(&p, unshare), libc::EPERM);
        // clone with a namespace flag: refused by moby's masked rule.
        let clone_ns = || raw_clone(libc::CLONE_NEWUSER | libc::SIGCHLD);
        assert_eq!(in_child(&p, clone_ns), libc::EPERM);
        // A plain fork passes the same rule.
        assert_eq!(in_child(&p, || raw_clone(libc::SIGCHLD)), 0);
        // Unconfined, the same clone works: the refusal is the filter's.
        let allow = compile(&json!({"defaultAction": "SCMP_ACT_ALLOW"})).unwrap();
        assert_eq!(in_child(&allow, clone_ns), 0);
    }
}
