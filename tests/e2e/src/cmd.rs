//! Running a client command with a deadline and capturing what a user sees.

use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a command printed and how it ended.
#[derive(Debug, Clone)]
pub struct Out {
    /// The command line, for messages.
    pub argv: String,
    /// Exit code; `None` when killed by a signal or by the deadline.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    /// Which daemon served it (for messages).
    pub target: String,
    /// The daemon's log, whose tail is shown when an expectation fails.
    pub daemon_log: Option<PathBuf>,
}

impl Out {
    /// Panics with the whole story unless the command exited 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        if self.code != Some(0) {
            panic!("expected exit 0\n{self}");
        }
        self
    }

    /// Panics unless the command exited with `code`.
    #[track_caller]
    pub fn code_is(&self, code: i32) -> &Self {
        if self.code != Some(code) {
            panic!("expected exit {code}\n{self}");
        }
        self
    }

    /// Panics unless the command failed on its own (non-zero exit, no deadline).
    #[track_caller]
    pub fn fails(&self) -> &Self {
        if self.timed_out || self.code == Some(0) || self.code.is_none() {
            panic!("expected a clean failure (non-zero exit)\n{self}");
        }
        self
    }

    /// Panics unless stdout is exactly `want`.
    #[track_caller]
    pub fn stdout_is(&self, want: &str) -> &Self {
        if self.stdout != want {
            panic!("stdout differs\n--- want\n{want:?}\n{self}");
        }
        self
    }

    /// Panics unless stderr contains `want`.
    #[track_caller]
    pub fn stderr_has(&self, want: &str) -> &Self {
        if !self.stderr.contains(want) {
            panic!("stderr lacks {want:?}\n{self}");
        }
        self
    }

    /// Panics unless stdout contains `want`.
    #[track_caller]
    pub fn stdout_has(&self, want: &str) -> &Self {
        if !self.stdout.contains(want) {
            panic!("stdout lacks {want:?}\n{self}");
        }
        self
    }

    /// stdout split in lines (without the line ends).
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Panic with `msg` and this command's story.
    #[track_caller]
    pub fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{self}")
    }
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.timed_out {
            "TIMED OUT (killed)".to_string()
        } else {
            match self.code {
                Some(c) => format!("exit {c}"),
                None => "killed by a signal".to_string(),
            }
        };
        writeln!(f, "--- command (against {}): {}", self.target, self.argv)?;
        writeln!(f, "--- result: {how}")?;
        writeln!(f, "--- stdout:\n{}", clip(&self.stdout, 4000))?;
        writeln!(f, "--- stderr:\n{}", clip(&self.stderr, 4000))?;
        if let Some(log) = &self.daemon_log {
            writeln!(f, "--- daemon log {} (tail):", log.display())?;
            writeln!(f, "{}", log_tail(log, 40))?;
        }
        Ok(())
    }
}

/// The last `n` lines of a file, or a note why not.
pub fn log_tail(path: &std::path::Path, n: usize) -> String {
    match std::fs::read(path) {
        Ok(b) => {
            let s = String::from_utf8_lossy(&b);
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read: {e})"),
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... [{} more bytes]", &s[..cut], s.len() - cut)
}

/// A printable form of a command line.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains([' ', '"', '\'', '{', '$']) {
            s.push_str(&format!(" '{a}'"));
        } else {
            s.push(' ');
            s.push_str(&a);
        }
    }
    s
}

/// Runs `cmd` to completion, feeding `stdin`, killing it after `timeout`.
pub fn run(mut cmd: Command, stdin: Option<Vec<u8>>, timeout: Duration) -> Out {
    let argv = describe(&cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Out {
                argv,
                code: Some(127),
                stdout: String::new(),
                stderr: format!("cannot spawn: {e}"),
                timed_out: false,
                target: String::new(),
                daemon_log: None,
            }
        }
    };
    let writer = stdin.map(|data| {
        let mut w = child.stdin.take().expect("piped stdin");
        thread::spawn(move || {
            let _ = w.write_all(&data);
        })
    });
    let mut so = child.stdout.take().expect("piped stdout");
    let mut se = child.stderr.take().expect("piped stderr");
    let ro = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let re = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(_) => break None,
        }
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    // A grandchild may hold the pipes open; don't wait for it forever.
    let stdout = join_bounded(ro, timed_out);
    let stderr = join_bounded(re, timed_out);
    Out {
        argv,
        code: if timed_out {
            None
        } else {
            status.and_then(|s| s.code())
        },
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        timed_out,
        target: String::new(),
        daemon_log: None,
    }
}

fn join_bounded(h: thread::JoinHandle<Vec<u8>>, short: bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(if short { 2 } else { 30 });
    while !h.is_finished() {
        if Instant::now() >= deadline {
            return b"(output still open: a child process kept the pipe)".to_vec();
        }
        thread::sleep(Duration::from_millis(10));
    }
    h.join().unwrap_or_default()
}
