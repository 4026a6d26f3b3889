//! syslog: RFC 3164 and RFC 5424 lines (octet-counted on a stream for
//! 5424, as RFC 5425 says), to `syslog-address` or `/dev/log`.

use anyhow::anyhow;

use super::{hostname, opt, parse_target, Format, Target};
use crate::proto::LogSpec;
use crate::shim::log::Line;

#[derive(Debug)]
pub(super) struct Syslog {
    facility: u8,
    format: String,
    hostname: String,
}

impl Syslog {
    pub(super) fn new(spec: &LogSpec) -> anyhow::Result<(Syslog, Target)> {
        let addr = opt(spec, "syslog-address");
        let target = if addr.is_empty() {
            Target::UnixStream("/dev/log".into())
        } else {
            parse_target(addr, 514, "udp")?
        };
        let fac = match opt(spec, "syslog-facility") {
            "" => "daemon",
            f => f,
        };
        let syslog = Syslog {
            facility: facility(fac)?,
            format: opt(spec, "syslog-format").to_string(),
            hostname: hostname(),
        };
        Ok((syslog, target))
    }

    /// One line as the daemon's syslog writer formats it.
    pub(super) fn line(&self, line: &Line, spec: &LogSpec, stream: bool) -> Vec<u8> {
        let severity = if line.stream == 2 { 3 } else { 6 };
        let pri = self.facility as u32 * 8 + severity;
        let (tag, hostname) = (&spec.tag, &self.hostname);
        let pid = std::process::id();
        let msg = line.message();
        let rfc5424 = self.format.starts_with("rfc5424");
        let text = match self.format.as_str() {
            "rfc3164" => format!(
                "<{pri}>{} {tag}[{pid}]: {msg}",
                line.time.format("%b %e %H:%M:%S")
            ),
            "rfc5424" => format!(
                "<{pri}>1 {} {hostname} {tag} {pid} {tag} - {msg}",
                line.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            "rfc5424micro" => format!(
                "<{pri}>1 {} {hostname} {tag} {pid} {tag} - {msg}",
                line.time
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            ),
            _ => format!(
                "<{pri}>{} {hostname} {tag}[{pid}]: {msg}",
                line.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        };
        match (stream, rfc5424) {
            // RFC 5425 octet counting.
            (true, true) => format!("{} {text}", text.len()).into_bytes(),
            (true, false) => format!("{text}\n").into_bytes(),
            (false, _) => text.into_bytes(),
        }
    }
}

impl Format for Syslog {
    fn payloads(&self, line: &Line, spec: &LogSpec, _id: &str, stream: bool) -> Vec<Vec<u8>> {
        vec![self.line(line, spec, stream)]
    }

    fn checks_unix_target(&self) -> bool {
        true
    }
}

fn facility(name: &str) -> anyhow::Result<u8> {
    const NAMES: [&str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp", "", "", "", "", "local0", "local1", "local2", "local3", "local4",
        "local5", "local6", "local7",
    ];
    if let Ok(n) = name.parse::<u8>() {
        if n < 24 {
            return Ok(n);
        }
    }
    NAMES
        .iter()
        .position(|n| !n.is_empty() && *n == name)
        .map(|p| p as u8)
        .ok_or_else(|| anyhow!("invalid syslog facility value: {name}"))
}
