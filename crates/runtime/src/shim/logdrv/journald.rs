//! journald's native protocol: one datagram of `KEY=value` fields per line
//! (binary-safe length-prefixed values where a value has a newline).

use std::path::PathBuf;

use anyhow::bail;

use super::{Format, Target};
use crate::proto::LogSpec;
use crate::shim::log::Line;

#[derive(Debug)]
pub(super) struct Journald;

impl Journald {
    pub(super) fn new(_spec: &LogSpec) -> anyhow::Result<(Journald, Target)> {
        let sock = PathBuf::from("/run/systemd/journal/socket");
        if !sock.exists() {
            bail!("journald is not enabled on this host");
        }
        Ok((Journald, Target::UnixDgram(sock)))
    }
}

impl Format for Journald {
    fn payloads(&self, line: &Line, spec: &LogSpec, id: &str, _stream: bool) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let prio = if line.stream == 2 { "3" } else { "6" };
        let mut field = |k: &str, v: &[u8]| {
            out.extend_from_slice(k.as_bytes());
            if v.contains(&b'\n') {
                out.push(b'\n');
                out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            } else {
                out.push(b'=');
            }
            out.extend_from_slice(v);
            out.push(b'\n');
        };
        field("MESSAGE", line.message().as_bytes());
        field("PRIORITY", prio.as_bytes());
        field("CONTAINER_ID", id.get(..12).unwrap_or(id).as_bytes());
        field("CONTAINER_ID_FULL", id.as_bytes());
        field(
            "CONTAINER_NAME",
            spec.container_name.trim_start_matches('/').as_bytes(),
        );
        field("CONTAINER_TAG", spec.tag.as_bytes());
        field("SYSLOG_IDENTIFIER", spec.tag.as_bytes());
        field("IMAGE_NAME", spec.image_name.as_bytes());
        for (k, v) in &spec.attrs {
            let key: String = k
                .to_ascii_uppercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            field(&key, v.as_bytes());
        }
        vec![out]
    }
}
