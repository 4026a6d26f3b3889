use super::*;
use std::collections::HashMap;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| m.get(k).cloned()
}

#[test]
fn the_store_path_is_the_sha256_of_the_name() {
    // Values docker 28 wrote for these names.
    assert_eq!(
        Store::id("bcli-a"),
        "5d2eee435eabbe89c02a9c49d39457914c1b215a5dad0ec5eb3ef8899f0a3bb1"
    );
    assert_eq!(
        Store::id("nope"),
        "ca3704aa0b06f5954c79ee837faa152d84d6b2d42838f0637a15eda8337dbdce"
    );
    let s = Store::new(Path::new("/c"));
    assert_eq!(
        s.meta_dir("bcli-tls"),
        PathBuf::from(
            "/c/contexts/meta/d3eaf731901a5466f87d01d3070779ffcb658bfe8033922ec199a5d08e1decad"
        )
    );
    assert_eq!(
        s.tls_dir("bcli-tls"),
        PathBuf::from(
            "/c/contexts/tls/d3eaf731901a5466f87d01d3070779ffcb658bfe8033922ec199a5d08e1decad"
        )
    );
}

#[test]
fn context_precedence_is_dockers() {
    let d = tempfile::tempdir().unwrap();
    crate::config::set_current_context(d.path(), Some("fromfile")).unwrap();
    let none = env_of(&[]);
    let mut o = GlobalOpts::default();
    assert_eq!(current_name(&o, &none, d.path()), "fromfile");
    let ctx_env = env_of(&[("DOCKER_CONTEXT", "fromenv")]);
    assert_eq!(current_name(&o, &ctx_env, d.path()), "fromenv");
    let host_env = env_of(&[("DOCKER_CONTEXT", "fromenv"), ("DOCKER_HOST", "tcp://x:1")]);
    assert_eq!(current_name(&o, &host_env, d.path()), "default");
    o.hosts = vec!["tcp://h:1".into()];
    assert_eq!(current_name(&o, &ctx_env, d.path()), "default");
    o.context = Some("flag".into());
    assert_eq!(current_name(&o, &host_env, d.path()), "flag");
    assert_eq!(
        check_conflict(&o).unwrap_err(),
        "conflicting options: cannot specify both --host and --context"
    );
    o.hosts.clear();
    assert!(check_conflict(&o).is_ok());
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        current_name(&GlobalOpts::default(), &none, empty.path()),
        "default"
    );
}

#[test]
fn tls_flags_follow_docker() {
    let none = env_of(&[]);
    let mut o = GlobalOpts::default();
    assert_eq!(tls_mode(&o, &none), (false, false));
    o.tls = true;
    assert_eq!(tls_mode(&o, &none), (true, false));
    o.tls = false;
    o.tlsverify = Some(true);
    assert_eq!(tls_mode(&o, &none), (true, true));
    // `--tlsverify=false` still turns TLS on, unverified.
    o.tlsverify = Some(false);
    assert_eq!(
        tls_mode(&o, &env_of(&[("DOCKER_TLS_VERIFY", "1")])),
        (true, false)
    );
    let o = GlobalOpts::default();
    // Any non-empty value counts, "0" too, as in docker.
    assert_eq!(
        tls_mode(&o, &env_of(&[("DOCKER_TLS_VERIFY", "0")])),
        (true, true)
    );
    assert_eq!(
        tls_mode(&o, &env_of(&[("DOCKER_TLS_VERIFY", "")])),
        (false, false)
    );
    assert_eq!(tls_mode(&o, &env_of(&[("DOCKER_TLS", "1")])), (true, false));
}

#[test]
fn default_hosts() {
    let none = env_of(&[]);
    let mut o = GlobalOpts::default();
    assert_eq!(default_host(&o, &none).unwrap(), DEFAULT_HOST);
    o.tlsverify = Some(true);
    assert_eq!(default_host(&o, &none).unwrap(), "tcp://localhost:2376");
    // A port-less tcp host gets 2375, with TLS too (docker 28 does so).
    o.hosts = vec!["tcp://10.1.2.3".into()];
    assert_eq!(default_host(&o, &none).unwrap(), "tcp://10.1.2.3:2375");
    o.hosts = vec!["tcp://a:1".into(), "tcp://b:2".into()];
    assert_eq!(default_host(&o, &none).unwrap_err(), "Specify only one -H");
    let o = GlobalOpts::default();
    let e = env_of(&[("DOCKER_HOST", "tcp://")]);
    assert_eq!(default_host(&o, &e).unwrap(), "tcp://localhost:2375");
    let e = env_of(&[("DOCKER_HOST", "bogus://x")]);
    assert_eq!(
        default_host(&o, &e).unwrap_err(),
        "invalid bind address format: bogus://x"
    );
}

#[test]
fn tls_files_come_from_the_cert_path() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("cfg");
    let certs = d.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let env = env_of(&[("DOCKER_CERT_PATH", certs.to_str().unwrap())]);
    let o = GlobalOpts {
        tlsverify: Some(true),
        hosts: vec!["tcp://127.0.0.1:2376".into()],
        ..Default::default()
    };
    // No CA: docker's error names the file.
    assert_eq!(
        default_endpoint(&o, &env, &cfg).unwrap_err(),
        format!("open {}/ca.pem: no such file or directory", certs.display())
    );
    std::fs::write(certs.join("ca.pem"), "CA").unwrap();
    let ep = default_endpoint(&o, &env, &cfg).unwrap();
    assert_eq!(ep.tls.as_ref().unwrap().ca.as_deref(), Some(&b"CA"[..]));
    assert!(ep.tls.as_ref().unwrap().cert.is_none());
    assert!(!ep.skip_tls_verify);
    // A named client file must exist; a default one may be absent.
    let o2 = GlobalOpts {
        tlscert: Some(certs.join("nope.pem").display().to_string()),
        ..o.clone()
    };
    assert!(default_endpoint(&o2, &env, &cfg)
        .unwrap_err()
        .ends_with("nope.pem: no such file or directory"));
    std::fs::write(certs.join("cert.pem"), "C").unwrap();
    std::fs::write(certs.join("key.pem"), "K").unwrap();
    let ep = default_endpoint(&o, &env, &cfg).unwrap();
    assert_eq!(
        ep.tls.unwrap().file_names(),
        ["ca.pem", "cert.pem", "key.pem"]
    );
    // Without DOCKER_CERT_PATH the configuration directory is used.
    let none = env_of(&[]);
    assert!(default_endpoint(&o, &none, &cfg)
        .unwrap_err()
        .contains("cfg/ca.pem"));
}

#[test]
fn names_are_validated() {
    assert!(validate_name("bcli-a").is_ok());
    assert!(validate_name("a.b+c_d").is_ok());
    assert_eq!(
        validate_name("default").unwrap_err(),
        "\"default\" is a reserved context name"
    );
    assert_eq!(
            validate_name("bad name").unwrap_err(),
            "context name \"bad name\" is invalid, names are validated against regexp \"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$\""
        );
    assert!(validate_name("a").is_err());
    assert!(validate_name("-a").is_err());
    assert!(validate_name("").is_err());
    assert!(validate_name("../x").is_err());
}

#[test]
fn docker_options_parse_like_docker() {
    let no = |_: &str| -> Result<Endpoint, String> { Err("no".into()) };
    let e = parse_docker_opt("host=tcp://1.2.3.4:2376,skip-tls-verify=true", &no).unwrap();
    assert_eq!(e.host, "tcp://1.2.3.4:2376");
    assert!(e.skip_tls_verify);
    assert!(e.tls.is_none());
    assert_eq!(
        parse_docker_opt("host=x,foo=bar", &no).unwrap_err(),
        "unrecognized config key: foo"
    );
    assert_eq!(
        parse_docker_opt("host=x,skip-tls-verify=maybe", &no).unwrap_err(),
        "skip-tls-verify: parsing \"maybe\": invalid syntax"
    );
    assert_eq!(
        parse_docker_opt("host=x,ca=/nonexist/ca.pem", &no).unwrap_err(),
        "open /nonexist/ca.pem: no such file or directory"
    );
    assert_eq!(parse_docker_opt("from=x", &no).unwrap_err(), "no");
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.pem");
    std::fs::write(&bad, "not pem").unwrap();
    assert_eq!(
            parse_docker_opt(&format!("host=x,ca={}", bad.display()), &no).unwrap_err(),
            "invalid docker endpoint options: failed to retrieve context tls info: ca.pem seems invalid"
        );
    assert_eq!(split_csv("a=1,\"b=2,3\",c"), ["a=1", "b=2,3", "c"]);
}

#[test]
fn contexts_round_trip_and_keep_unknown_fields() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::new(d.path());
    let ep = Endpoint {
        host: "tcp://1.2.3.4:2376".into(),
        skip_tls_verify: false,
        tls: Some(TlsData {
            ca: Some(b"CA".to_vec()),
            cert: None,
            key: Some(b"K".to_vec()),
        }),
    };
    let c = Context::new("bcli-x", Some("desc"), &ep);
    s.save(&c).unwrap();
    let meta = std::fs::read_to_string(s.meta_dir("bcli-x").join("meta.json")).unwrap();
    assert_eq!(
        meta,
        r#"{"Name":"bcli-x","Metadata":{"Description":"desc"},"Endpoints":{"docker":{"Host":"tcp://1.2.3.4:2376","SkipTLSVerify":false}}}"#
    );
    let back = s.load("bcli-x").unwrap();
    assert_eq!(back.endpoint(), ep);
    assert_eq!(back.description(), "desc");
    // A field another tool wrote survives an update.
    let p = s.meta_dir("bcli-x").join("meta.json");
    std::fs::write(
            &p,
            r#"{"Name":"bcli-x","Metadata":{"Description":"desc","StackOrchestrator":"swarm"},"Endpoints":{"docker":{"Host":"tcp://1.2.3.4:2376","SkipTLSVerify":false},"kubernetes":{"x":1}}}"#,
        )
        .unwrap();
    let mut c = s.load("bcli-x").unwrap();
    c.set_description("");
    s.save(&c).unwrap();
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        r#"{"Name":"bcli-x","Metadata":{"StackOrchestrator":"swarm"},"Endpoints":{"docker":{"Host":"tcp://1.2.3.4:2376","SkipTLSVerify":false},"kubernetes":{"x":1}}}"#
    );
    assert_eq!(s.list().unwrap().len(), 1);
    let err = s.load("nope").unwrap_err();
    assert_eq!(
        err,
        format!(
            "context \"nope\": context not found: open {}/meta.json: no such file or directory",
            s.meta_dir("nope").display()
        )
    );
    s.remove("bcli-x").unwrap();
    assert!(!s.exists("bcli-x"));
    assert!(!s.tls_dir("bcli-x").exists());
    assert!(s.list().unwrap().is_empty());
}
