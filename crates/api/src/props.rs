//! Property-based tests of the parsers of outside input in this crate
//! (issue 21): references, sizes, durations, API versions, detach keys and
//! the Go-compatible JSON decoder. Never a panic, errors that name the
//! problem, and round trips where a formatter exists. Cases are bounded so
//! the set runs in seconds in CI.

use indexmap::IndexMap;
use proptest::prelude::*;
use serde_json::Value;

use crate::detach::parse_detach_keys;
use crate::model::{
    AuthConfig, ContainerCreateBody, ContainerUpdateBody, ExecConfig, ExecStartConfig,
    NetworkCreateRequest, VolumeCreateOptions,
};
use crate::reference::{validate_digest, Reference};
use crate::units::{parse_duration, ram_in_bytes};
use crate::version::{split_version_prefix, ApiVersion};
use crate::ErrorKind;

/// 256 cases a test; a failure is kept as a plain unit test beside the
/// parser rather than in a regressions file.
fn config() -> ProptestConfig {
    ProptestConfig {
        // cases: PROPTEST_CASES, 256 when unset (proptest's default)
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A path component as the reference grammar allows it.
fn component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,6}((\\.|_|__|-{1,3})[a-z0-9]{1,6}){0,2}"
}

fn domain() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("localhost".to_string())),
        "[a-z][a-z0-9-]{0,6}[a-z0-9](\\.[a-z0-9]{1,5}){1,2}(:[0-9]{1,5})?".prop_map(Some),
        "localhost:[0-9]{1,5}".prop_map(Some),
        "\\[(::1|fe80::[0-9a-f]{1,4})\\](:[0-9]{1,5})?".prop_map(Some),
    ]
}

fn reference_text() -> impl Strategy<Value = String> {
    (
        domain(),
        prop::collection::vec(component(), 1..4),
        prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        prop::option::of("[0-9a-f]{64}"),
    )
        .prop_map(|(domain, mut path, tag, digest)| {
            // Without a domain, a first component that looks like one
            // (`a.b/c`) is taken for it, as docker does.
            if domain.is_none() && (path[0].contains('.') || path[0] == "localhost") {
                path.insert(0, "x".into());
            }
            let mut s = domain.map(|d| format!("{d}/")).unwrap_or_default();
            s.push_str(&path.join("/"));
            if let Some(t) = tag {
                s.push(':');
                s.push_str(&t);
            }
            if let Some(d) = digest {
                s.push_str("@sha256:");
                s.push_str(&d);
            }
            s
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn reference_never_panics(s in "\\PC{0,80}|[a-zA-Z0-9:/@._\\[\\]-]{0,80}|[a-z/]{240,270}") {
        if let Err(e) = Reference::parse(&s) {
            prop_assert_eq!(e.kind, ErrorKind::InvalidArgument);
            let named = e.message.contains("invalid reference format")
                || e.message == "repository name must not be more than 255 characters";
            prop_assert!(named, "{}", e.message);
        }
        let _ = Reference::parse_with_default_tag(&s);
        let _ = validate_digest(&s);
    }

    #[test]
    fn reference_accepts_the_grammar_and_round_trips(s in reference_text()) {
        let r = Reference::parse(&s).map_err(|e| TestCaseError::fail(format!("{s}: {}", e.message)))?;
        prop_assert_eq!(&Reference::parse(&r.to_string()).unwrap(), &r);
        prop_assert_eq!(&Reference::parse(&r.familiar_string()).unwrap(), &r);
        let tagged = r.with_tag("v1");
        prop_assert_eq!(Reference::parse(&tagged.to_string()).unwrap(), tagged);
    }

    #[test]
    fn sizes_never_panic(s in "\\PC{0,20}|[0-9. ]{0,12}[kKmMgGtTpPbBiI]{0,3}") {
        match ram_in_bytes(&s) {
            Ok(n) => prop_assert!(n >= 0),
            Err(e) => prop_assert!(e.contains(&s) || e.contains("suffix"), "{}", e),
        }
        let _ = parse_duration(&s);
    }

    #[test]
    fn sizes_round_trip(n in 0i64..1 << 40, unit in 0usize..5) {
        let (suffix, mult) = [("", 1), ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("t", 1i64 << 40)][unit];
        let n = n % (1 << 20);
        prop_assert_eq!(ram_in_bytes(&format!("{n}{suffix}")), Ok(n * mult));
        prop_assert_eq!(ram_in_bytes(&format!("{n}{}B", suffix.to_uppercase())), Ok(n * mult));
    }

    #[test]
    fn durations_round_trip(h in 0u32..100, m in 0u32..60, s in 0u32..60, ms in 0u32..1000) {
        let text = format!("{h}h{m}m{s}s{ms}ms");
        let want = f64::from(h) * 3600.0 + f64::from(m) * 60.0 + f64::from(s) + f64::from(ms) / 1000.0;
        let got = parse_duration(&text).unwrap();
        prop_assert!((got - want).abs() < 1e-6, "{} -> {}", text, got);
    }

    #[test]
    fn versions(s in "\\PC{0,12}|[0-9.]{0,10}", major in 0u32..100, minor in 0u32..1000) {
        let _ = ApiVersion::parse(&s);
        let v = ApiVersion(major, minor);
        prop_assert_eq!(ApiVersion::parse(&v.to_string()), Some(v));
        let path = format!("/{s}");
        let (_, rest) = split_version_prefix(&path);
        prop_assert!(rest.starts_with('/'));
        let prefixed = format!("/v{v}{path}");
        let want = v.to_string();
        let (pv, prest) = split_version_prefix(&prefixed);
        prop_assert_eq!(pv, Some(want.as_str()));
        prop_assert_eq!(prest, path.as_str());
    }

    #[test]
    fn detach_keys(s in "\\PC{0,20}|(ctrl-)?[a-z@\\[\\\\\\]^_,]{0,3}(,(ctrl-)?[a-z@^_]){0,3}") {
        match parse_detach_keys(&s) {
            Ok(keys) => prop_assert!(!keys.is_empty()),
            Err(e) => prop_assert!(e.starts_with("Unknown character: '"), "{}", e),
        }
    }

    #[test]
    fn detach_keys_known_good(keys in prop::collection::vec(prop_oneof![
        "[a-z]".prop_map(|c| (format!("ctrl-{c}"), c.as_bytes()[0] - b'a' + 1)),
        "[a-zA-Z0-9]".prop_map(|c| (c.clone(), c.as_bytes()[0])),
    ], 1..5)) {
        let spec = keys.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>().join(",");
        let want: Vec<u8> = keys.iter().map(|(_, b)| *b).collect();
        prop_assert_eq!(parse_detach_keys(&spec), Ok(want));
    }

    #[test]
    fn json_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..200)) {
        decode_all(&body)?;
    }

    #[test]
    fn json_values_never_panic(value in body_value()) {
        let body = serde_json::to_vec(&value).unwrap();
        decode_all(&body)?;
    }
}

/// Decodes `body` into every request type the daemon takes: a refusal is
/// an `invalid` error with words in it.
fn decode_all(body: &[u8]) -> Result<(), TestCaseError> {
    fn check<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<(), TestCaseError> {
        for r in [
            crate::json::from_body::<T>(body).map(|_| ()),
            crate::json::from_slice::<T>(body).map(|_| ()),
        ] {
            if let Err(e) = r {
                prop_assert_eq!(e.kind, ErrorKind::InvalidArgument);
                prop_assert!(e.message.len() > 5, "{}", e.message);
            }
        }
        Ok(())
    }
    check::<ContainerCreateBody>(body)?;
    check::<ContainerUpdateBody>(body)?;
    check::<ExecConfig>(body)?;
    check::<ExecStartConfig>(body)?;
    check::<NetworkCreateRequest>(body)?;
    check::<VolumeCreateOptions>(body)?;
    check::<AuthConfig>(body)?;
    check::<IndexMap<String, String>>(body)?;
    check::<Vec<String>>(body)?;
    Ok(())
}

/// Field names of the request bodies (in Go's case-folded variants too),
/// so that generated objects reach into nested fields rather than being
/// ignored as unknown.
const KEYS: &[&str] = &[
    "Hostname",
    "User",
    "Env",
    "Cmd",
    "Entrypoint",
    "Image",
    "Labels",
    "ExposedPorts",
    "HostConfig",
    "NetworkingConfig",
    "EndpointsConfig",
    "Binds",
    "PortBindings",
    "HostPort",
    "Memory",
    "memory",
    "MEMORY",
    "CpuShares",
    "Ulimits",
    "Name",
    "Soft",
    "Hard",
    "Mounts",
    "Type",
    "Source",
    "Target",
    "Healthcheck",
    "Test",
    "Interval",
    "RestartPolicy",
    "MaximumRetryCount",
    "Devices",
    "LogConfig",
    "Config",
    "Driver",
    "DriverOpts",
    "IPAM",
    "Options",
    "Tty",
    "AttachStdin",
    "Detach",
    "StopTimeout",
    "ConsoleSize",
    "Volumes",
    "BlkioWeightDevice",
    "Weight",
    "Path",
    "username",
    "password",
    "serveraddress",
    "",
];

fn body_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,10}".prop_map(Value::String),
        Just(Value::String("80/tcp".into())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS).prop_map(str::to_string),
                        "\\PC{0,6}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}
