//! fluentd's forward protocol: a msgpack `[tag, time, record]` per line.

use std::collections::BTreeMap;

use super::{opt, parse_target, Format, Target};
use crate::proto::LogSpec;
use crate::shim::log::Line;

#[derive(Debug)]
pub(super) struct Fluentd;

impl Fluentd {
    pub(super) fn new(spec: &LogSpec) -> anyhow::Result<(Fluentd, Target)> {
        let addr = match opt(spec, "fluentd-address") {
            "" => "localhost:24224",
            a => a,
        };
        Ok((Fluentd, parse_target(addr, 24224, "tcp")?))
    }

    pub(super) fn record(&self, line: &Line, spec: &LogSpec, id: &str) -> Vec<u8> {
        let mut rec: BTreeMap<String, String> = spec.attrs.clone();
        rec.insert("container_id".into(), id.to_string());
        rec.insert("container_name".into(), spec.container_name.clone());
        rec.insert("source".into(), line.stream_name().into());
        rec.insert("log".into(), line.message());
        rmp_serde::to_vec(&(&spec.tag, line.time.timestamp() as u64, rec)).unwrap_or_default()
    }
}

impl Format for Fluentd {
    fn payloads(&self, line: &Line, spec: &LogSpec, id: &str, _stream: bool) -> Vec<Vec<u8>> {
        vec![self.record(line, spec, id)]
    }

    /// `fluentd-async` (and the older `fluentd-async-connect`): the
    /// container starts before fluentd answers.
    fn connects_later(&self, spec: &LogSpec) -> bool {
        ["fluentd-async", "fluentd-async-connect"]
            .iter()
            .any(|k| opt(spec, k) == "true")
    }
}
