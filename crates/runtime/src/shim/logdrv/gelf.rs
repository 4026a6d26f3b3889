//! GELF: a JSON document per line, compressed and chunked into datagrams
//! over UDP as go-gelf does, or NUL-terminated on a TCP stream.

use std::io::Write;

use anyhow::{anyhow, bail};

use super::{hostname, opt, parse_target, Format, Target};
use crate::proto::LogSpec;
use crate::shim::log::Line;

#[derive(Debug)]
pub(super) struct Gelf {
    compression: String,
    level: u32,
    hostname: String,
}

impl Gelf {
    pub(super) fn new(spec: &LogSpec) -> anyhow::Result<(Gelf, Target)> {
        let addr = opt(spec, "gelf-address");
        if addr.is_empty() {
            bail!("gelf-address is a required parameter");
        }
        let target = parse_target(addr, 12201, "udp")?;
        let compression = match opt(spec, "gelf-compression-type") {
            "" => "gzip".to_string(),
            c @ ("gzip" | "zlib" | "none") => c.to_string(),
            c => bail!("Unknown gelf compression type: {c}"),
        };
        let level = match opt(spec, "gelf-compression-level") {
            "" => 6,
            l => l
                .parse::<i32>()
                .ok()
                .filter(|l| (-1..=9).contains(l))
                .map(|l| if l < 0 { 6 } else { l as u32 })
                .ok_or_else(|| anyhow!("invalid gelf-compression-level: {l}"))?,
        };
        let gelf = Gelf {
            compression,
            level,
            hostname: hostname(),
        };
        Ok((gelf, target))
    }

    /// The GELF 1.1 document of one line.
    pub(super) fn json(&self, line: &Line, spec: &LogSpec, id: &str) -> Vec<u8> {
        let mut m = serde_json::Map::new();
        m.insert("version".into(), "1.1".into());
        m.insert("host".into(), self.hostname.clone().into());
        m.insert("short_message".into(), line.message().into());
        let ts =
            line.time.timestamp() as f64 + f64::from(line.time.timestamp_subsec_micros()) / 1e6;
        m.insert("timestamp".into(), serde_json::json!(ts));
        m.insert("level".into(), if line.stream == 2 { 3 } else { 6 }.into());
        for (k, v) in [
            ("_container_id", id.to_string()),
            (
                "_container_name",
                spec.container_name.trim_start_matches('/').to_string(),
            ),
            ("_image_id", spec.image_id.clone()),
            ("_image_name", spec.image_name.clone()),
            ("_command", spec.command.clone()),
            ("_tag", spec.tag.clone()),
            ("_created", spec.created.clone()),
        ] {
            m.insert(k.into(), v.into());
        }
        for (k, v) in &spec.attrs {
            m.insert(format!("_{k}"), v.clone().into());
        }
        serde_json::to_vec(&m).unwrap_or_default()
    }

    /// The datagrams of one line: compressed, and chunked when over a
    /// WAN-sized datagram, as go-gelf does.
    pub(super) fn datagrams(&self, line: &Line, spec: &LogSpec, id: &str) -> Vec<Vec<u8>> {
        let json = self.json(line, spec, id);
        let body = match self.compression.as_str() {
            "none" => json,
            "zlib" => {
                let level = flate2::Compression::new(self.level);
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
                let _ = e.write_all(&json);
                e.finish().unwrap_or_default()
            }
            _ => {
                let level = flate2::Compression::new(self.level);
                let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
                let _ = e.write_all(&json);
                e.finish().unwrap_or_default()
            }
        };
        const CHUNK: usize = 1420;
        const HEAD: usize = 12;
        if body.len() <= CHUNK {
            return vec![body];
        }
        let id: [u8; 8] = rand_id();
        let parts: Vec<&[u8]> = body.chunks(CHUNK - HEAD).collect();
        if parts.len() > 128 {
            return vec![]; // too big for GELF: dropped, as go-gelf does
        }
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut d = vec![0x1e, 0x0f];
                d.extend_from_slice(&id);
                d.push(i as u8);
                d.push(parts.len() as u8);
                d.extend_from_slice(p);
                d
            })
            .collect()
    }
}

impl Format for Gelf {
    fn payloads(&self, line: &Line, spec: &LogSpec, id: &str, stream: bool) -> Vec<Vec<u8>> {
        if stream {
            let mut j = self.json(line, spec, id);
            j.push(0);
            vec![j]
        } else {
            self.datagrams(line, spec, id)
        }
    }
}

/// A chunked message's id: random, else the clock.
fn rand_id() -> [u8; 8] {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most `len` bytes into the buffer we own.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != 8 {
        let t = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        b = t.to_le_bytes();
    }
    b
}
