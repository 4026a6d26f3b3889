//! `GET /containers/{id}/logs`: read back the json-file log the shim writes,
//! with tail, since/until, timestamps, and follow (which keeps reading the
//! file while the container runs, so it works across daemon restarts).

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use berth_api::{Error, Result};
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::containers::container::Status;
use crate::containers::Containers;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Unix seconds; entries before are skipped.
    pub since: Option<f64>,
    pub until: Option<f64>,
    pub timestamps: bool,
    /// `None` = all.
    pub tail: Option<usize>,
}

#[derive(Deserialize)]
struct Entry {
    log: String,
    stream: String,
    time: String,
}

impl Containers<'_> {
    /// Returns whether the stream is raw (TTY) and a channel of the output.
    pub fn logs(&self, key: &str, opts: LogOptions) -> Result<(bool, mpsc::Receiver<Bytes>)> {
        let h = self.lookup(key)?;
        let r = h.snapshot();
        let Some(path) = self.log_file(&r) else {
            return Err(Error::invalid(
                "configured logging driver does not support reading",
            ));
        };
        if !opts.stdout && !opts.stderr {
            return Err(Error::invalid(
                "Bad parameters: you must choose at least one stream",
            ));
        }
        let tty = r.config.tty;
        let (tx, rx) = mpsc::channel(64);
        let engine = self.arc();
        let id = r.id.clone();
        tokio::task::spawn_blocking(move || {
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(_) => {
                    // No output yet; follow still waits for some.
                    if !opts.follow {
                        return;
                    }
                    loop {
                        std::thread::sleep(Duration::from_millis(50));
                        if let Ok(f) = std::fs::File::open(&path) {
                            break f;
                        }
                        if !engine.containers().is_running(&id) || tx.is_closed() {
                            return;
                        }
                    }
                }
            };
            let mut inode = file.metadata().map(|m| m.ino()).unwrap_or(0);
            let mut reader = BufReader::new(file);
            // Rotated files first, oldest first (json-file max-file, local).
            let mut lines = rotated_lines(&path);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if line.ends_with('\n') {
                    lines.push(std::mem::take(&mut line));
                } else {
                    break;
                }
            }
            let mut pos = reader.stream_position().unwrap_or(0) - line.len() as u64;
            let start = match opts.tail {
                Some(n) => lines.len().saturating_sub(n),
                None => 0,
            };
            for l in &lines[start..] {
                if let Some(b) = render(l, &opts, tty) {
                    if tx.blocking_send(b).is_err() {
                        return;
                    }
                }
            }
            if !opts.follow {
                return;
            }
            let until_passed = || {
                opts.until
                    .is_some_and(|u| (chrono::Utc::now().timestamp() as f64) >= u)
            };
            // The file last read, kept open: a container removed while it
            // is followed (docker-py's `run(remove=True)` removes before it
            // reads its follow stream) takes the path away, not the lines
            // its handle can still read.
            let mut held: Option<std::fs::File> = None;
            loop {
                let running = engine.containers().is_running(&id);
                // Gone: one last pass over the held handle.
                let (file, gone) = match std::fs::File::open(&path) {
                    Ok(f) => (f, false),
                    Err(_) => match held.take() {
                        Some(f) => (f, true),
                        None => return,
                    },
                };
                held = file.try_clone().ok();
                // Rotated or truncated meanwhile: the new file from its start.
                let meta = file.metadata().ok();
                let ino = meta.as_ref().map(|m| m.ino()).unwrap_or(0);
                if ino != inode || meta.is_some_and(|m| m.len() < pos) {
                    inode = ino;
                    pos = 0;
                }
                let mut reader = BufReader::new(file);
                if reader.seek(SeekFrom::Start(pos)).is_err() {
                    return;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line.ends_with('\n') {
                    pos += line.len() as u64;
                    if let Some(b) = render(&line, &opts, tty) {
                        if tx.blocking_send(b).is_err() {
                            return;
                        }
                    }
                    line.clear();
                }
                if gone || !running || tx.is_closed() || until_passed() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Ok((tty, rx))
    }

    pub(crate) fn is_running(&self, id: &str) -> bool {
        self.lookup(id)
            .map(|h| h.snapshot().state.status == Status::Running)
            .unwrap_or(false)
    }
}

/// The lines of `path.N[.gz]`, oldest file first.
fn rotated_lines(path: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for n in (1..=32).rev() {
        let plain = std::path::PathBuf::from(format!("{}.{n}", path.display()));
        let gz = std::path::PathBuf::from(format!("{}.{n}.gz", path.display()));
        let text = if let Ok(t) = std::fs::read_to_string(&plain) {
            t
        } else if let Ok(f) = std::fs::File::open(&gz) {
            let mut t = String::new();
            if std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(f), &mut t).is_err()
            {
                continue;
            }
            t
        } else {
            continue;
        };
        out.extend(
            text.split_inclusive('\n')
                .filter(|l| l.ends_with('\n'))
                .map(str::to_string),
        );
    }
    out
}

fn render(line: &str, opts: &LogOptions, tty: bool) -> Option<Bytes> {
    let e: Entry = serde_json::from_str(line).ok()?;
    let stream = if e.stream == "stderr" { 2u8 } else { 1u8 };
    if (stream == 1 && !opts.stdout) || (stream == 2 && !opts.stderr) {
        return None;
    }
    let t = chrono::DateTime::parse_from_rfc3339(&e.time).ok()?;
    let secs = t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9;
    if opts.since.is_some_and(|s| secs < s) || opts.until.is_some_and(|u| secs > u) {
        return None;
    }
    let mut payload = Vec::with_capacity(e.log.len() + 40);
    if opts.timestamps {
        payload.extend_from_slice(
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%S%.9fZ ")
                .to_string()
                .as_bytes(),
        );
    }
    payload.extend_from_slice(e.log.as_bytes());
    if tty {
        return Some(Bytes::from(payload));
    }
    let mut framed = Vec::with_capacity(payload.len() + 8);
    framed.extend_from_slice(&berth_runtime::proto::frame_header(stream, payload.len()));
    framed.extend_from_slice(&payload);
    Some(Bytes::from(framed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_frames_and_timestamps() {
        let line = r#"{"log":"hi\n","stream":"stderr","time":"2026-11-22T10:00:00.5Z"}"#;
        let all = LogOptions {
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let b = render(line, &all, false).unwrap();
        assert_eq!(&b[..8], &[2, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(&b[8..], b"hi\n");
        let ts = LogOptions {
            timestamps: true,
            ..all.clone()
        };
        assert_eq!(
            &render(line, &ts, true).unwrap()[..],
            b"2026-11-22T10:00:00.500000000Z hi\n"
        );
        let only_out = LogOptions {
            stdout: true,
            ..Default::default()
        };
        assert!(render(line, &only_out, false).is_none());
        let later = LogOptions {
            since: Some(2e9),
            ..all
        };
        assert!(render(line, &later, false).is_none());
    }
}
