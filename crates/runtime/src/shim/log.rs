//! The container's log as the shim writes it: output split into lines (at
//! newlines and at 16 KiB, as dockerd does), then the json-file format, one
//! JSON object per line, `{"log":"...","stream":"stdout","time":"<RFC 3339
//! nano>"}` (plus `attrs` from the `labels`/`env`/`tag` options), with
//! `max-size`/`max-file` rotation and gzip of rotated files. The same file
//! serves `local` and the dual-logging cache of the remote drivers, so
//! `docker logs` works whatever the driver.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

const MAX_PARTIAL: usize = 16 * 1024;

/// One log line: the bytes (with their newline unless cut), the stream (1
/// stdout, 2 stderr) and when it was read.
#[derive(Debug, Clone)]
pub struct Line {
    pub stream: u8,
    pub text: Vec<u8>,
    pub time: chrono::DateTime<chrono::Utc>,
}

impl Line {
    pub fn stream_name(&self) -> &'static str {
        if self.stream == 2 {
            "stderr"
        } else {
            "stdout"
        }
    }

    /// The text without its trailing newline, as remote drivers send it.
    pub fn message(&self) -> String {
        let t = self.text.strip_suffix(b"\n").unwrap_or(&self.text);
        String::from_utf8_lossy(t).into_owned()
    }
}

/// Cuts output into lines, per stream.
#[derive(Default)]
pub struct Splitter {
    partial: [Vec<u8>; 2],
}

impl Splitter {
    pub fn push(&mut self, stream: u8, mut data: &[u8], out: &mut Vec<Line>) {
        let idx = usize::from(stream == 2);
        let now = chrono::Utc::now();
        while let Some(nl) = data.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.partial[idx]);
            line.extend_from_slice(&data[..=nl]);
            out.push(Line {
                stream,
                text: line,
                time: now,
            });
            data = &data[nl + 1..];
        }
        self.partial[idx].extend_from_slice(data);
        if self.partial[idx].len() >= MAX_PARTIAL {
            out.push(Line {
                stream,
                text: std::mem::take(&mut self.partial[idx]),
                time: now,
            });
        }
    }

    pub fn flush(&mut self, stream: u8) -> Option<Line> {
        let idx = usize::from(stream == 2);
        (!self.partial[idx].is_empty()).then(|| Line {
            stream,
            text: std::mem::take(&mut self.partial[idx]),
            time: chrono::Utc::now(),
        })
    }
}

#[derive(Serialize)]
struct Entry<'a> {
    log: &'a str,
    stream: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attrs: Option<&'a std::collections::BTreeMap<String, String>>,
    time: String,
}

/// The json-lines file, rotated at `max_size` keeping `max_count` files in
/// all (`x.log`, `x.log.1`, ... oldest last), rotated ones gzip'd when asked.
pub struct FileSink {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_count: u32,
    compress: bool,
    attrs: Option<std::collections::BTreeMap<String, String>>,
}

impl FileSink {
    pub fn open(
        path: &Path,
        max_size: Option<u64>,
        max_count: u32,
        compress: bool,
        attrs: std::collections::BTreeMap<String, String>,
    ) -> std::io::Result<FileSink> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(FileSink {
            path: path.to_owned(),
            file,
            size,
            max_size: max_size.filter(|m| *m > 0),
            max_count: max_count.max(1),
            compress,
            attrs: (!attrs.is_empty()).then_some(attrs),
        })
    }

    pub fn write(&mut self, line: &Line) {
        let text = String::from_utf8_lossy(&line.text);
        let entry = Entry {
            log: &text,
            stream: line.stream_name(),
            attrs: self.attrs.as_ref(),
            time: line
                .time
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        };
        let Ok(mut bytes) = serde_json::to_vec(&entry) else {
            return;
        };
        bytes.push(b'\n');
        if let Some(max) = self.max_size {
            if self.size > 0 && self.size + bytes.len() as u64 > max {
                self.rotate();
            }
        }
        if self.file.write_all(&bytes).is_ok() {
            self.size += bytes.len() as u64;
        }
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let gz = if self.compress { ".gz" } else { "" };
        PathBuf::from(format!("{}.{n}{gz}", self.path.display()))
    }

    /// `x.log` becomes `x.log.1` (gzip'd to `x.log.1.gz` with compress),
    /// older ones shift up, the oldest beyond `max_count` goes.
    fn rotate(&mut self) {
        if self.max_count <= 1 {
            // One file: start it again, as dockerd does with max-file=1.
            if self.file.set_len(0).is_ok() {
                self.size = 0;
            }
            return;
        }
        let _ = std::fs::remove_file(self.rotated(self.max_count - 1));
        for n in (1..self.max_count - 1).rev() {
            let _ = std::fs::rename(self.rotated(n), self.rotated(n + 1));
        }
        let first = PathBuf::from(format!("{}.1", self.path.display()));
        if std::fs::rename(&self.path, &first).is_ok() && self.compress {
            if let Ok(mut src) = File::open(&first) {
                let dst = self.rotated(1);
                if let Ok(out) = File::create(&dst) {
                    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
                    if std::io::copy(&mut src, &mut gz).is_ok() && gz.finish().is_ok() {
                        let _ = std::fs::remove_file(&first);
                    }
                }
            }
        }
        if let Ok(f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            self.file = f;
            self.size = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn splits_lines_and_keeps_partials() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-json.log");
        let mut sink = FileSink::open(&path, None, 1, false, Default::default()).unwrap();
        let mut sp = Splitter::default();
        let mut out = Vec::new();
        sp.push(1, b"hello\nwor", &mut out);
        sp.push(2, b"oops\n", &mut out);
        sp.push(1, b"ld\n", &mut out);
        sp.push(1, b"tail", &mut out);
        out.extend(sp.flush(1));
        for l in &out {
            sink.write(l);
        }
        let got: Vec<(String, String)> = lines(&path)
            .iter()
            .map(|v| {
                (
                    v["stream"].as_str().unwrap().to_string(),
                    v["log"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = [
            ("stdout", "hello\n"),
            ("stderr", "oops\n"),
            ("stdout", "world\n"),
            ("stdout", "tail"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn rotates_and_compresses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut attrs = std::collections::BTreeMap::new();
        attrs.insert("tag".to_string(), "web".to_string());
        let mut sink = FileSink::open(&path, Some(300), 3, true, attrs).unwrap();
        for i in 0..40 {
            sink.write(&Line {
                stream: 1,
                text: format!("line {i}\n").into_bytes(),
                time: chrono::Utc::now(),
            });
        }
        assert!(std::fs::metadata(&path).unwrap().len() <= 300);
        assert!(dir.path().join("c.log.1.gz").exists());
        assert!(dir.path().join("c.log.2.gz").exists());
        assert!(!dir.path().join("c.log.3.gz").exists());
        let last = lines(&path);
        assert_eq!(last.last().unwrap()["log"], "line 39\n");
        assert_eq!(last.last().unwrap()["attrs"]["tag"], "web");
        // max-file 1 keeps one file, never above max-size.
        let one = dir.path().join("one.log");
        let mut sink = FileSink::open(&one, Some(200), 1, false, Default::default()).unwrap();
        for i in 0..40 {
            sink.write(&Line {
                stream: 2,
                text: format!("l{i}\n").into_bytes(),
                time: chrono::Utc::now(),
            });
        }
        assert!(std::fs::metadata(&one).unwrap().len() <= 200);
    }
}
