//! The json-file log driver, as dockerd writes it: one JSON object per line,
//! `{"log":"...","stream":"stdout","time":"<RFC 3339 nano>"}`, split at
//! newlines and at 16 KiB, so `docker logs` and tools reading the files work.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use serde::Serialize;

const MAX_PARTIAL: usize = 16 * 1024;

pub struct JsonLog {
    file: File,
    /// Bytes of an unfinished line, per stream (index 0 = stdout, 1 = stderr).
    partial: [Vec<u8>; 2],
}

#[derive(Serialize)]
struct Entry<'a> {
    log: &'a str,
    stream: &'a str,
    time: String,
}

impl JsonLog {
    pub fn open(path: &Path) -> std::io::Result<JsonLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonLog {
            file,
            partial: [Vec::new(), Vec::new()],
        })
    }

    pub fn write(&mut self, stream: u8, mut data: &[u8]) {
        let idx = usize::from(stream == 2);
        while let Some(nl) = data.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.partial[idx]);
            line.extend_from_slice(&data[..=nl]);
            self.emit(idx, &line);
            data = &data[nl + 1..];
        }
        self.partial[idx].extend_from_slice(data);
        if self.partial[idx].len() >= MAX_PARTIAL {
            let line = std::mem::take(&mut self.partial[idx]);
            self.emit(idx, &line);
        }
    }

    pub fn flush_partial(&mut self, stream: u8) {
        let idx = usize::from(stream == 2);
        if !self.partial[idx].is_empty() {
            let line = std::mem::take(&mut self.partial[idx]);
            self.emit(idx, &line);
        }
    }

    fn emit(&mut self, idx: usize, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let entry = Entry {
            log: &text,
            stream: if idx == 0 { "stdout" } else { "stderr" },
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        };
        if let Ok(mut bytes) = serde_json::to_vec(&entry) {
            bytes.push(b'\n');
            let _ = self.file.write_all(&bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_keeps_partials() {
        let dir = std::env::temp_dir().join(format!("berth-log-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x-json.log");
        let mut log = JsonLog::open(&path).unwrap();
        log.write(1, b"hello\nwor");
        log.write(2, b"oops\n");
        log.write(1, b"ld\n");
        log.write(1, b"tail");
        log.flush_partial(1);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let got: Vec<(&str, &str)> = lines
            .iter()
            .map(|v| (v["stream"].as_str().unwrap(), v["log"].as_str().unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("stdout", "hello\n"),
                ("stderr", "oops\n"),
                ("stdout", "world\n"),
                ("stdout", "tail")
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
