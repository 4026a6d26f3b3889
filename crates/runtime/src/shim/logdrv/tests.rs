use std::collections::BTreeMap;

use super::fluentd::Fluentd;
use super::gelf::Gelf;
use super::syslog::Syslog;
use super::*;

fn spec(driver: &str, opts: &[(&str, &str)]) -> LogSpec {
    LogSpec {
        driver: driver.into(),
        opts: opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        tag: "abc123".into(),
        container_name: "/web".into(),
        ..Default::default()
    }
}

fn line(s: &str, stream: u8) -> Line {
    Line {
        stream,
        text: s.as_bytes().to_vec(),
        time: chrono::Utc::now(),
    }
}

#[test]
fn syslog_lines() {
    let sp = spec(
        "syslog",
        &[
            ("syslog-address", "udp://127.0.0.1:5514"),
            ("syslog-facility", "local3"),
        ],
    );
    assert!(Driver::new(&sp, "f00").unwrap().is_some());
    let (s, _) = Syslog::new(&sp).unwrap();
    let p = String::from_utf8(s.line(&line("hello\n", 1), &sp, false)).unwrap();
    assert!(p.starts_with("<158>"), "{p}");
    assert!(p.contains(" abc123[") && p.ends_with("]: hello"), "{p}");
    let sp = spec(
        "syslog",
        &[
            ("syslog-address", "tcp://127.0.0.1:5514"),
            ("syslog-format", "rfc5424"),
        ],
    );
    let (s, _) = Syslog::new(&sp).unwrap();
    let p = String::from_utf8(s.line(&line("oops\n", 2), &sp, true)).unwrap();
    let (len, rest) = p.split_once(' ').unwrap();
    assert_eq!(len.parse::<usize>().unwrap(), rest.len());
    assert!(rest.starts_with("<27>1 "), "{rest}");
    assert!(Driver::new(&spec("syslog", &[("syslog-facility", "nope")]), "x").is_err());
}

#[test]
fn gelf_and_fluentd_payloads() {
    let sp = spec(
        "gelf",
        &[
            ("gelf-address", "udp://127.0.0.1:12201"),
            ("gelf-compression-type", "none"),
        ],
    );
    let (g, _) = Gelf::new(&sp).unwrap();
    let j: serde_json::Value =
        serde_json::from_slice(&g.json(&line("hi\n", 1), &sp, "f00")).unwrap();
    assert_eq!(j["short_message"], "hi");
    assert_eq!(j["_container_name"], "web");
    assert_eq!(j["_tag"], "abc123");
    let big = "x".repeat(5000);
    let parts = g.datagrams(&line(&big, 1), &sp, "f00");
    assert!(parts.len() > 1 && parts.iter().all(|p| p[0] == 0x1e && p[1] == 0x0f));
    assert!(Driver::new(&spec("gelf", &[]), "x").is_err());
    let sp = spec("fluentd", &[("fluentd-address", "127.0.0.1:24224")]);
    let (f, _) = Fluentd::new(&sp).unwrap();
    let (tag, _t, rec): (String, u64, BTreeMap<String, String>) =
        rmp_serde::from_slice(&f.record(&line("msg\n", 2), &sp, "f00")).unwrap();
    assert_eq!(tag, "abc123");
    assert_eq!(rec["log"], "msg");
    assert_eq!(rec["source"], "stderr");
    assert_eq!(rec["container_id"], "f00");
}
