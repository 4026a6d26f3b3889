//! Property-based tests of the registry client's parsers of outside input
//! (issue 21): `X-Registry-Auth` / `X-Registry-Config` headers,
//! `WWW-Authenticate` challenges, `--platform`, search terms and
//! insecure-registry rules. Never a panic; round trips where the wire form
//! is generated. Cases are bounded.

use base64::Engine as _;
use proptest::prelude::*;

use crate::auth::{parse_challenge, AuthConfig, AuthConfigs};
use crate::endpoint::{is_insecure, RegistryOptions};
use crate::pull::wanted_platform;
use crate::search::split_term;

fn config() -> ProptestConfig {
    ProptestConfig {
        // cases: PROPTEST_CASES, 256 when unset (proptest's default)
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn auth_headers_never_panic(h in "\\PC{0,60}|[A-Za-z0-9+/=_-]{0,60}", domain in "\\PC{0,12}|[a-z.:0-9]{1,12}") {
        let _ = AuthConfig::from_header(&h);
        let configs = AuthConfigs::from_header(&h);
        let _ = configs.for_registry(&domain);
    }

    #[test]
    fn auth_headers_round_trip(
        user in "\\PC{0,12}",
        password in "\\PC{0,12}",
        server in "[a-z0-9.:/]{0,20}",
        engine in 0usize..4,
        via_auth in any::<bool>(),
    ) {
        let doc = if via_auth && !user.is_empty() && !user.contains(':') {
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            serde_json::json!({"auth": auth, "serveraddress": server})
        } else {
            serde_json::json!({"username": user, "password": password, "serveraddress": server})
        };
        let engines = [
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
        ];
        let header = engines[engine].encode(doc.to_string());
        let a = AuthConfig::from_header(&header);
        prop_assert_eq!(&a.username, &user);
        prop_assert_eq!(&a.password, &password);
        prop_assert_eq!(&a.serveraddress, &server);
        let configs = serde_json::json!({ format!("https://{server}/v1/"): doc.clone(), "reg.example:5000": doc });
        let configs = AuthConfigs::from_header(&engines[engine].encode(configs.to_string()));
        prop_assert_eq!(configs.for_registry("reg.example:5000").username, user);
    }

    #[test]
    fn challenges_never_panic(h in "\\PC{0,60}|[A-Za-z =,\"\\\\]{0,40}") {
        if let Some(c) = parse_challenge(&h) {
            prop_assert!(!c.scheme.is_empty());
            prop_assert!(c.params.iter().all(|(k, _)| !k.is_empty()));
        }
    }

    #[test]
    fn challenges_round_trip(
        scheme in "[A-Za-z]{1,8}",
        params in prop::collection::vec(("[a-z][a-z_]{0,8}", "[a-zA-Z0-9 :/=,.\"\\\\-]{0,20}"), 0..5),
    ) {
        let quoted: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        let h = format!("{scheme} {}", quoted.join(","));
        let c = parse_challenge(&h).unwrap();
        prop_assert_eq!(c.scheme, scheme.to_ascii_lowercase());
        let want: Vec<(String, String)> = params.iter().map(|(k, v)| (k.clone(), v.trim().to_string())).collect();
        prop_assert_eq!(c.params, want);
    }

    #[test]
    fn platforms(p in "\\PC{0,20}|[a-zA-Z0-9_/-]{0,20}") {
        match wanted_platform(Some(&p)) {
            Ok(pl) => prop_assert!(!pl.os.is_empty() && !pl.architecture.is_empty()),
            Err(e) => prop_assert!(e.message.contains("unknown operating system or architecture"), "{}", e.message),
        }
    }

    #[test]
    fn hosts(term in "\\PC{0,20}|[a-z.:/\\[\\]0-9]{0,20}", rules in prop::collection::vec("\\PC{0,12}|[0-9./:a-z]{1,18}", 0..3)) {
        let (host, rest) = split_term(&term);
        prop_assert!(!host.is_empty());
        prop_assert!(term.ends_with(rest));
        let opts = RegistryOptions { insecure: rules, ..RegistryOptions::default() };
        let _ = is_insecure(&opts, host);
        let _ = is_insecure(&opts, &term);
    }
}
