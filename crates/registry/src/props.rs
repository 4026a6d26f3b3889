//! Property-based tests of berth-registry's parsers of outside input
//! (issue 21): request paths, digests, names and tags, `Range` and
//! `Content-Range` headers, pagination, manifest bodies, scopes,
//! `Authorization` headers and htpasswd files. Never a panic; refusals
//! carry the spec's error code and words. Cases are bounded.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::auth::{basic_credentials, bearer_token, Access, Htpasswd};
use crate::error::Code;
use crate::names::{valid_repo_name, valid_tag, Digest};
use crate::server::{
    content_range, manifest_refs, paginate, parse_range, parse_reference, route, Route,
};

fn config() -> ProptestConfig {
    ProptestConfig {
        // cases: PROPTEST_CASES, 256 when unset (proptest's default)
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn path() -> impl Strategy<Value = String> {
    let seg = prop::sample::select(
        &[
            "v2",
            "a",
            "b",
            "blobs",
            "uploads",
            "manifests",
            "tags",
            "list",
            "referrers",
            "_catalog",
            "",
            "..",
            "sha256:00",
            "%2F",
            "v1",
            "auth",
            "token",
        ][..],
    );
    prop_oneof![
        "\\PC{0,30}",
        prop::collection::vec(seg, 0..7).prop_map(|s| format!("/{}", s.join("/"))),
    ]
}

fn hex64() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}"
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn paths_route_without_panic(p in path()) {
        let r = route(&p);
        if let Route::Manifest(name, _) | Route::Blob(name, _) | Route::Tags(name) = &r {
            prop_assert!(p.contains(name.as_str()));
        }
    }

    #[test]
    fn known_paths_route(name in "[a-z0-9]{1,5}(/[a-z0-9]{1,5}){0,2}", tag in "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,10}", hex in hex64()) {
        let digest = format!("sha256:{hex}");
        prop_assert_eq!(route(&format!("/v2/{name}/manifests/{tag}")), Route::Manifest(name.clone(), tag.clone()));
        prop_assert_eq!(route(&format!("/v2/{name}/blobs/{digest}")), Route::Blob(name.clone(), digest.clone()));
        prop_assert_eq!(route(&format!("/v2/{name}/tags/list")), Route::Tags(name.clone()));
        prop_assert_eq!(route(&format!("/v2/{name}/blobs/uploads/")), Route::UploadStart(name.clone()));
        prop_assert_eq!(route(&format!("/v2/{name}/blobs/uploads/{tag}")), Route::Upload(name.clone(), tag.clone()));
        prop_assert!(valid_repo_name(&name) && valid_tag(&tag));
        let parsed = Digest::parse(&digest).unwrap();
        prop_assert_eq!(parsed.hex(), hex.as_str());
    }

    #[test]
    fn digests_and_references(s in "\\PC{0,20}|[a-z0-9+._-]{0,8}:[0-9a-fA-F]{0,70}", for_put in any::<bool>()) {
        match Digest::parse(&s) {
            Ok(d) => prop_assert_eq!(format!("sha256:{}", d.hex()), s.clone()),
            Err(e) => prop_assert!(e.to_string().contains(&format!("{s:?}")), "{}", e),
        }
        if let Err(e) = parse_reference(&s, for_put) {
            prop_assert!(matches!(e.code, Code::DigestInvalid | Code::Unsupported | Code::TagInvalid | Code::ManifestUnknown), "{:?}", e.code);
            prop_assert!(!e.message.is_empty());
        }
        let _ = (valid_repo_name(&s), valid_tag(&s));
    }

    #[test]
    fn ranges_never_panic(h in "\\PC{0,20}|(bytes[= ])?[0-9]{0,21}-[0-9]{0,21}(/[0-9*]{0,5})?", size in prop_oneof![Just(0u64), 0u64..1000, Just(u64::MAX)], len in prop::option::of("[0-9]{1,21}")) {
        if let Some((start, end)) = parse_range(&h, size) {
            prop_assert!(start <= end && end < size);
        }
        if let Err(e) = content_range(Some(&h), len.as_deref(), size) {
            prop_assert_eq!(e.code, Code::RangeInvalid);
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn ranges_known_good(size in 1u64..1 << 40, a in any::<u64>(), b in any::<u64>()) {
        let (start, end) = (a % size, b % size);
        let (start, end) = (start.min(end), start.max(end));
        prop_assert_eq!(parse_range(&format!("bytes={start}-{end}"), size), Some((start, end)));
        let (range, len) = (format!("{start}-{end}"), (end - start + 1).to_string());
        prop_assert!(content_range(Some(&range), Some(&len), start).is_ok());
    }

    #[test]
    fn pagination(names in prop::collection::btree_set("[a-z]{1,4}", 0..8), n in "\\PC{0,4}|[0-9]{1,3}", last in "[a-z]{0,4}") {
        let all: Vec<String> = names.into_iter().collect();
        let q = vec![("n".to_string(), n.clone()), ("last".to_string(), last.clone())];
        match paginate(all.clone(), &q) {
            Ok((items, _)) => prop_assert!(items.iter().all(|i| last.is_empty() || i > &last)),
            Err(e) => prop_assert_eq!(e.code, Code::PaginationNumberInvalid),
        }
    }

    #[test]
    fn manifests_never_panic(v in manifest_value(), media_type in prop::sample::select(&[
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "text/plain", "",
    ][..])) {
        if let Err(e) = manifest_refs(media_type, &v) {
            prop_assert!(matches!(e.code, Code::ManifestInvalid | Code::Unsupported | Code::DigestInvalid), "{:?}", e.code);
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn auth_headers(h in "\\PC{0,40}|(Basic|Bearer|basic) [A-Za-z0-9+/=]{0,30}", user in "[a-z]{0,8}", pass in "\\PC{0,8}") {
        let _ = (basic_credentials(&h), bearer_token(&h));
        use base64::Engine as _;
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        prop_assert_eq!(basic_credentials(&format!("Basic {enc}")), Some((user, pass)));
        if let Some(a) = Access::parse_scope(&h) {
            prop_assert!(!a.kind.is_empty() && !a.name.is_empty());
        }
        match Htpasswd::parse(&h) {
            Ok(_) => {}
            Err(e) => prop_assert!(e.starts_with("line "), "{}", e),
        }
    }

    #[test]
    fn scopes_round_trip(kind in "[a-z]{1,10}", name in "[a-z0-9]{1,5}(:[0-9]{1,4})?(/[a-z0-9]{1,5}){0,2}", actions in prop::collection::vec("[a-z]{1,5}", 0..3)) {
        let a = Access { kind, name, actions };
        prop_assert_eq!(Access::parse_scope(&a.scope()), Some(a));
    }
}

fn descriptor() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            hex64().prop_map(|h| json!(format!("sha256:{h}"))),
            Just(json!("sha256:zz")),
            Just(json!("md5:00")),
            Just(json!(1)),
            Just(Value::Null)
        ],
        prop_oneof![
            Just(json!(10)),
            Just(json!(-1)),
            Just(json!("10")),
            Just(json!(1e300)),
            Just(Value::Null)
        ],
        prop_oneof![
            Just(json!("application/vnd.oci.image.layer.v1.tar+gzip")),
            Just(json!(
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
            )),
            Just(json!(3))
        ],
        prop::option::of(prop_oneof![
            Just(json!(["https://x"])),
            Just(json!([])),
            Just(json!("u"))
        ]),
    )
        .prop_map(|(digest, size, mt, urls)| {
            let mut d = json!({"digest": digest, "size": size, "mediaType": mt});
            if let Some(u) = urls {
                d["urls"] = u;
            }
            d
        })
}

fn manifest_value() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just(json!(2)),
            Just(json!(1)),
            Just(json!("2")),
            Just(Value::Null)
        ],
        prop::option::of(descriptor()),
        prop::option::of(prop::collection::vec(descriptor(), 0..3)),
        prop::option::of(prop::collection::vec(descriptor(), 0..3)),
        prop::option::of(descriptor()),
        any::<bool>(),
    )
        .prop_map(|(version, config, layers, manifests, subject, as_array)| {
            if as_array {
                return json!([version]);
            }
            let mut m = json!({"schemaVersion": version});
            if let Some(c) = config {
                m["config"] = c;
            }
            if let Some(l) = layers {
                m["layers"] = json!(l);
            }
            if let Some(l) = manifests {
                m["manifests"] = json!(l);
            }
            if let Some(s) = subject {
                m["subject"] = s;
            }
            m
        })
}
