//! A client on a real pseudo-terminal: the test holds the master side, the
//! CLI gets the slave as its controlling terminal, exactly as in a shell.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::pty::{openpty, Winsize};

type Shared = Arc<(Mutex<(Vec<u8>, bool)>, Condvar)>;

/// A process running on a pty.
pub struct Pty {
    child: Child,
    master: File,
    shared: Shared,
    /// Bytes of the transcript already matched by `expect`.
    cursor: usize,
    argv: String,
}

impl Pty {
    /// Spawns `cmd` with a `rows`x`cols` terminal as its stdio and
    /// controlling terminal.
    pub fn spawn(mut cmd: Command, rows: u16, cols: u16) -> anyhow::Result<Pty> {
        let argv = crate::cmd::describe(&cmd);
        let ws = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&ws), None)?;
        let slave: OwnedFd = pty.slave;
        cmd.stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave.try_clone()?));
        // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        drop(slave);
        let master = File::from(pty.master);
        let mut reader = master.try_clone()?;
        let shared: Shared = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
        let s2 = shared.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break, // EIO once the slave side is gone
                    Ok(n) => {
                        let (m, cv) = &*s2;
                        m.lock().unwrap().0.extend_from_slice(&buf[..n]);
                        cv.notify_all();
                    }
                }
            }
            let (m, cv) = &*s2;
            m.lock().unwrap().1 = true;
            cv.notify_all();
        });
        Ok(Pty {
            child,
            master,
            shared,
            cursor: 0,
            argv,
        })
    }

    /// Everything the terminal showed so far.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.shared.0.lock().unwrap().0).into_owned()
    }

    /// Waits until `needle` appears after what earlier `expect`s matched;
    /// returns the text from the previous match up to and including it.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.shared;
        let mut g = m.lock().unwrap();
        loop {
            let hay = &g.0[self.cursor.min(g.0.len())..];
            if let Some(p) = hay
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
            {
                let got = String::from_utf8_lossy(&hay[..p + needle.len()]).into_owned();
                self.cursor += p + needle.len();
                return Ok(got);
            }
            let now = Instant::now();
            if now >= deadline || g.1 {
                let why = if g.1 { "terminal closed" } else { "timed out" };
                return Err(format!(
                    "{why} waiting for {needle:?} on the terminal of `{}`\n--- transcript:\n{:?}",
                    self.argv,
                    String::from_utf8_lossy(&g.0)
                ));
            }
            g = cv.wait_timeout(g, deadline - now).unwrap().0;
        }
    }

    /// Types `bytes` on the terminal.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.master.write_all(bytes)?;
        self.master.flush()
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                // Let the reader drain what the process wrote before exiting.
                let (m, cv) = &*self.shared;
                let mut g = m.lock().unwrap();
                while !g.1 && Instant::now() < deadline {
                    g = cv.wait_timeout(g, Duration::from_millis(100)).unwrap().0;
                }
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn master_fd(&self) -> i32 {
        self.master.as_raw_fd()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
