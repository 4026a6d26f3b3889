//! Property-based tests of the CLI's parsers of user input (issue 21):
//! `-p`, `-v`, `--mount`, `--device`, the throttle and weight devices,
//! `--ulimit`, `--restart`, env files and Go templates. Never a panic; a
//! refusal names the flag or the value at fault. Cases are bounded.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::commands::mount::parse_mount;
use crate::commands::opts::{
    parse_device, parse_env_file, parse_ports, parse_throttle_device, parse_ulimit, parse_volumes,
    parse_weight_device, restart_policy,
};
use crate::format::template::{sprintf, Missing, Template};

fn config() -> ProptestConfig {
    ProptestConfig {
        // cases: PROPTEST_CASES, 256 when unset (proptest's default)
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text built from the characters these grammars give meaning to.
fn spec() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,30}",
        "[0-9:\\[\\]/.a-z,=-]{0,30}",
        "[0-9]{0,6}(-[0-9]{0,6})?(:[0-9]{0,6}(-[0-9]{0,6})?){0,3}(/[a-z]{0,4})?",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ports_never_panic(s in spec()) {
        if let Err(f) = parse_ports(std::slice::from_ref(&s)) {
            prop_assert_eq!(f.code, 125);
            let named = f.message.contains("-p, --publish") && f.message.contains(&s);
            prop_assert!(named || f.message.starts_with("invalid proto: "), "{}", f.message);
        }
    }

    #[test]
    fn ports_known_good(
        ip in prop_oneof![Just(String::new()), Just("127.0.0.1:".to_string()), Just("[::1]:".to_string())],
        host in prop::option::of(1u32..65536),
        ctr in 1u32..65536,
        width in 0u32..4,
        proto in prop::sample::select(&["", "/tcp", "/udp", "/sctp"][..]),
    ) {
        let ctr_end = (ctr + width).min(65535);
        let ctr_spec = if ctr_end == ctr { ctr.to_string() } else { format!("{ctr}-{ctr_end}") };
        let (host_spec, host) = match host {
            Some(h) => {
                let h_end = h + (ctr_end - ctr);
                if h_end > 65535 { (String::new(), None) }
                else if h_end == h { (format!("{h}:"), Some(h)) }
                else { (format!("{h}-{h_end}:"), Some(h)) }
            }
            None => (String::new(), None),
        };
        let ip = if host.is_none() && !ip.is_empty() { format!("{ip}:") } else { ip };
        let s = format!("{ip}{host_spec}{ctr_spec}{proto}");
        let (exposed, bindings) = parse_ports(std::slice::from_ref(&s))
            .map_err(|f| TestCaseError::fail(format!("{s}: {}", f.message)))?;
        let proto = if proto.is_empty() { "tcp" } else { &proto[1..] };
        prop_assert_eq!(exposed.len() as u32, ctr_end - ctr + 1);
        for (i, port) in (ctr..=ctr_end).enumerate() {
            let key = format!("{port}/{proto}");
            prop_assert!(exposed.contains_key(&key));
            let want = host.map(|h| (h + i as u32).to_string()).unwrap_or_default();
            prop_assert_eq!(&bindings[&key].as_deref().unwrap_or_default()[0].host_port, &want);
        }
    }

    #[test]
    fn volumes_never_panic(s in spec()) {
        if let Err(f) = parse_volumes(std::slice::from_ref(&s)) {
            prop_assert!(f.message.contains("-v, --volume") && f.message.contains(&s), "{}", f.message);
        }
    }

    #[test]
    fn mounts_never_panic(s in prop_oneof![
        "\\PC{0,40}",
        "((type|source|src|target|dst|readonly|ro|volume-opt|tmpfs-size|tmpfs-mode|bind-propagation|volume-nocopy|consistency)(=[a-z0-9/\"=,]{0,8})?,?){0,5}",
    ]) {
        if let Err(e) = parse_mount(&s) {
            prop_assert!(!e.is_empty());
        }
    }

    #[test]
    fn mounts_known_good(
        kind in prop::sample::select(&["bind", "volume", "tmpfs"][..]),
        src in "/[a-z]{1,8}(/[a-z0-9]{1,8}){0,2}",
        dst in "/[a-z]{1,8}(/[a-z0-9]{1,8}){0,2}",
        ro in any::<bool>(),
    ) {
        let mut s = format!("type={kind},target={dst}");
        if kind != "tmpfs" {
            s.push_str(&format!(",source={src}"));
        }
        if ro {
            s.push_str(",readonly");
        }
        let m = parse_mount(&s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(&m.r#type, &kind);
        prop_assert_eq!(&m.target, &dst);
    }

    #[test]
    fn devices_never_panic(s in spec()) {
        if let Err(f) = parse_device(&s) {
            prop_assert!(f.message.contains("--device") && f.message.contains(&s), "{}", f.message);
        }
        for r in [parse_throttle_device(&s, true), parse_throttle_device(&s, false), parse_weight_device(&s)] {
            if let Err(e) = r {
                prop_assert!(e.contains(&s), "{}", e);
            }
        }
    }

    #[test]
    fn ulimits(s in spec(), name in "[a-z]{1,8}", soft in any::<i64>(), hard in any::<i64>()) {
        if let Err(e) = parse_ulimit(&s) {
            prop_assert!(e.contains("ulimit"), "{}", e);
        }
        let r = parse_ulimit(&format!("{name}={soft}:{hard}"));
        if soft <= hard {
            prop_assert_eq!(r, Ok(json!({"Name": name, "Soft": soft, "Hard": hard})));
        } else {
            prop_assert!(r.unwrap_err().contains("soft limit must be less than or equal to hard limit"));
        }
    }

    #[test]
    fn restart_policies(s in spec()) {
        if let Err(f) = restart_policy(Some(&s)) {
            prop_assert!(f.message.contains("restart policy"), "{}", f.message);
        }
    }

    #[test]
    fn env_files(text in "(\\PC{0,12}|#[a-z ]{0,5}|[A-Z_]{1,5}=[a-z =]{0,5}| [a-z]{1,3})(\n(\\PC{0,12}|#[a-z ]{0,5}|[A-Z_]{1,5}=[a-z =]{0,5}| [a-z]{1,3})){0,6}") {
        match parse_env_file("env.list", &text) {
            Ok(vars) => prop_assert!(vars.iter().all(|v| !v.is_empty())),
            Err(f) => prop_assert!(f.message.starts_with("invalid env file (env.list): variable '"), "{}", f.message),
        }
    }

    #[test]
    fn templates_never_panic(src in template_text()) {
        let doc = document();
        if let Ok(t) = Template::parse(&src) {
            for missing in [Missing::MapKey, Missing::Field("Container".into())] {
                if let Err(e) = t.render_with(&doc, &missing) {
                    prop_assert!(e.starts_with("template: "), "{}", e);
                }
            }
            let _ = t.render_header(&doc);
        } else if let Err(e) = Template::parse(&src) {
            prop_assert!(e.starts_with("template: "), "{}", e);
        }
    }

    #[test]
    fn templates_print_fields(key in "[A-Z][a-zA-Z]{0,6}", text in "[a-zA-Z0-9 .,-]{0,20}") {
        let doc = json!({ key.clone(): text.clone() });
        let t = Template::parse(&format!("<{{{{.{key}}}}}>")).unwrap();
        prop_assert_eq!(t.render(&doc).unwrap(), format!("<{text}>"));
    }

    #[test]
    fn printf_never_panics(fmt in "(%[-+# 0]{0,2}[0-9]{0,2}(\\.[0-9]{0,2})?[a-zA-Z%*]|[a-z ]){0,6}", n in any::<i64>(), f in any::<f64>()) {
        let _ = sprintf(&fmt, &[json!(n), json!(f), json!("s"), Value::Null, json!([1, "a"]), json!({"k": true})]);
        let _ = sprintf(&fmt, &[]);
    }
}

/// A fixed document shaped as `docker inspect` output.
fn document() -> Value {
    json!({
        "Id": "0123456789ab",
        "Name": "/web",
        "Config": {"Image": "busybox", "Env": ["A=1", "B=2"], "Labels": {"a": "x", "b": ""}, "Cmd": null},
        "State": {"Running": true, "Pid": 42, "ExitCode": 0},
        "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}},
        "Mounts": [],
        "Size": 1.5,
    })
}

/// Templates from the tokens of Go's grammar and docker's functions, in any
/// order: most are wrong, some are right, none may panic.
fn template_text() -> impl Strategy<Value = String> {
    let token = prop::sample::select(
        &[
            " ",
            ".",
            ".Name",
            ".Config.Env",
            ".Config.Labels",
            ".State",
            ".Nope.Deeper",
            ".Size",
            "$",
            "$x",
            "$i",
            ":=",
            "=",
            ",",
            "|",
            "(",
            ")",
            "\"a,b\"",
            "\"\"",
            "`raw`",
            "'c'",
            "0",
            "1",
            "-1",
            "2.5",
            "1e3",
            "99999999999999999999",
            "true",
            "nil",
            "if",
            "else",
            "end",
            "range",
            "with",
            "json",
            "index",
            "len",
            "slice",
            "printf",
            "\"%s-%d\"",
            "print",
            "println",
            "split",
            "join",
            "upper",
            "lower",
            "title",
            "pad",
            "truncate",
            "eq",
            "ne",
            "lt",
            "and",
            "or",
            "not",
            "table",
            "-",
            "/*",
            "*/",
            "{{",
            "}}",
            "{{-",
            "-}}",
            "\t",
            "\n",
            "\\",
            "\"",
        ][..],
    );
    prop::collection::vec(token, 0..24).prop_map(|t| t.concat())
}

/// Actions that are valid Go templates against [`document`], to check that
/// well-formed templates are accepted and rendered.
fn action() -> impl Strategy<Value = String> {
    prop::sample::select(
        &[
            "{{.Name}}",
            "{{.Config.Image}}",
            "{{json .Config.Labels}}",
            "{{range .Config.Env}}[{{.}}]{{end}}",
            "{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}",
            "{{if .State.Running}}up{{else}}down{{end}}",
            "{{with .State}}{{.Pid}}{{end}}",
            "{{index .Config.Labels \"a\"}}",
            "{{len .Config.Env}}",
            "{{printf \"%s:%d\" .Name .State.Pid}}",
            "{{upper .Name}}",
            "{{join .Config.Env \",\"}}",
            "{{range $p, $b := .NetworkSettings.Ports}}{{$p}}->{{(index $b 0).HostPort}}{{end}}",
            "{{- \" trimmed \" -}}",
            "{{/* a comment */}}",
            "{{$x := .Id}}{{$x}}",
            "{{if and .State.Running (eq .State.ExitCode 0)}}ok{{end}}",
            " text ",
        ][..],
    )
    .prop_map(str::to_string)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn well_formed_templates_render(parts in prop::collection::vec(action(), 1..6)) {
        let src = parts.concat();
        let t = Template::parse(&src).map_err(|e| TestCaseError::fail(format!("{src}: {e}")))?;
        t.render(&document()).map_err(|e| TestCaseError::fail(format!("{src}: {e}")))?;
    }
}
