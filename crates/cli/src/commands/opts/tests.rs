//! The create body and flag values as the docker CLI makes them.

use serde_json::json;

use super::*;

fn opts(image: &str) -> CreateOpts {
    CreateOpts {
        image: image.into(),
        sig_proxy: true,
        ..Default::default()
    }
}

#[test]
fn blkio_device_flags_like_docker() {
    assert_eq!(
        parse_throttle_device("/dev/vda:1mb", false).unwrap(),
        json!({"Path": "/dev/vda", "Rate": 1048576})
    );
    assert_eq!(
        parse_throttle_device("/dev/vda:100", true).unwrap(),
        json!({"Path": "/dev/vda", "Rate": 100})
    );
    assert_eq!(
        parse_throttle_device("/dev/vda", false).unwrap_err(),
        "bad format: /dev/vda"
    );
    assert_eq!(
        parse_throttle_device("vda:1mb", false).unwrap_err(),
        "bad format for device path: vda:1mb"
    );
    assert!(parse_throttle_device("/dev/vda:1k", true)
        .unwrap_err()
        .starts_with(
            "invalid rate for device: /dev/vda:1k. The correct format is <device-path>:<number>. "
        ));
    assert!(parse_throttle_device("/dev/vda:x", false)
        .unwrap_err()
        .contains("Unit is optional and can be kb, mb, or gb"));
    assert_eq!(
        parse_weight_device("/dev/vda:300").unwrap(),
        json!({"Path": "/dev/vda", "Weight": 300})
    );
    for bad in ["/dev/vda:5", "/dev/vda:1001", "/dev/vda:x"] {
        assert_eq!(
            parse_weight_device(bad).unwrap_err(),
            format!("invalid weight for device: {bad}")
        );
    }
}

#[test]
fn env_files_like_docker() {
    std::env::set_var("BERTH_TEST_PASS", "x y");
    let got = parse_env_file(
        "f",
        "# comment\n\n  A=1\nB= spaced \"q\"\nBERTH_TEST_PASS\nBERTH_TEST_UNSET_VAR\nC=\n",
    )
    .unwrap();
    assert_eq!(
        got,
        vec![
            "A=1",
            "B= spaced \"q\"",
            "BERTH_TEST_PASS=x y",
            "BERTH_TEST_UNSET_VAR",
            "C="
        ]
    );
    assert!(parse_env_file("f", "BAD NAME=1").is_err());
}

#[test]
fn env_flags() {
    let mut o = opts("busybox");
    o.env = vec![
        "A=1".into(),
        "EMPTY=".into(),
        "BERTH_TEST_UNSET_VAR2".into(),
    ];
    assert_eq!(
        env_list(&o).unwrap(),
        vec!["A=1", "EMPTY=", "BERTH_TEST_UNSET_VAR2"]
    );
}

/// Found by the property tests: an unknown protocol (`80/foo`) was
/// sent to the daemon; docker refuses it in the CLI.
#[test]
fn port_protocols() {
    let err = parse_ports(&["80/foo".into()]).unwrap_err();
    assert_eq!(err.message, "invalid proto: foo");
    let (exp, _) = parse_ports(&["80/UDP".into(), "81/".into()]).unwrap();
    assert!(exp.contains_key("80/udp") && exp.contains_key("81/tcp"));
}

#[test]
fn ports() {
    let (exp, b) = parse_ports(&[
        "8080:80".into(),
        "127.0.0.1:9000-9001:90-91/udp".into(),
        "70".into(),
        "[::1]:53:53/udp".into(),
        "127.0.0.1::443".into(),
    ])
    .unwrap();
    let b = serde_json::to_value(b).unwrap();
    assert!(exp.contains_key("80/tcp") && exp.contains_key("91/udp") && exp.contains_key("70/tcp"));
    assert_eq!(b["80/tcp"], json!([{"HostIp": "", "HostPort": "8080"}]));
    assert_eq!(
        b["91/udp"],
        json!([{"HostIp": "127.0.0.1", "HostPort": "9001"}])
    );
    assert_eq!(b["70/tcp"], json!([{"HostIp": "", "HostPort": ""}]));
    assert_eq!(b["53/udp"], json!([{"HostIp": "::1", "HostPort": "53"}]));
    assert_eq!(
        b["443/tcp"],
        json!([{"HostIp": "127.0.0.1", "HostPort": ""}])
    );
    assert!(parse_ports(&["x:80".into()]).is_err());
    assert!(parse_ports(&["0".into()]).is_err());
    assert!(parse_ports(&["1-3:1-2".into()]).is_err());
}

#[test]
fn volumes() {
    let (v, b) = parse_volumes(&["/data".into(), "/h:/c:ro".into(), "named:/n".into()]).unwrap();
    assert_eq!(v.keys().collect::<Vec<_>>(), vec!["/data"]);
    assert_eq!(b, vec!["/h:/c:ro", "named:/n"]);
    assert!(parse_volumes(&["rel".into()]).is_err());
    assert!(parse_volumes(&["a:b:c:d".into()]).is_err());
}

#[test]
fn labels_and_restart_and_sizes() {
    let l = parse_labels(&["a=b".into(), "c".into(), "d=e=f".into()]);
    assert_eq!(
        serde_json::to_value(l).unwrap(),
        json!({"a": "b", "c": "", "d": "e=f"})
    );
    assert_eq!(
        serde_json::to_value(restart_policy(Some("on-failure:3")).unwrap()).unwrap(),
        json!({"Name": "on-failure", "MaximumRetryCount": 3})
    );
    // The daemon judges the name, as dockerd does.
    assert_eq!(restart_policy(Some("always")).unwrap().name, "always");
    assert!(restart_policy(Some("on-failure:x")).is_err());
    assert_eq!(ram_in_bytes("512m").unwrap(), 512 * 1024 * 1024);
    assert_eq!(ram_in_bytes("1GB").unwrap(), 1 << 30);
    assert_eq!(ram_in_bytes("100").unwrap(), 100);
    assert!(ram_in_bytes("12x").is_err());
}

#[test]
fn body_carries_flags() {
    let mut o = opts("busybox");
    o.command = vec!["true".into()];
    o.interactive = true;
    o.tty = true;
    o.entrypoint = Some(String::new());
    o.memory = Some("64m".into());
    o.rm = true;
    let b = serde_json::to_value(create_body(&o, true, Some((24, 80))).unwrap()).unwrap();
    assert_eq!(b["Cmd"], json!(["true"]));
    assert_eq!(b["Entrypoint"], json!([""]));
    assert_eq!(b["AttachStdin"], json!(true));
    assert_eq!(b["StdinOnce"], json!(true));
    assert_eq!(b["HostConfig"]["Memory"], json!(64 << 20));
    assert_eq!(b["HostConfig"]["AutoRemove"], json!(true));
    assert_eq!(b["HostConfig"]["ConsoleSize"], json!([24, 80]));
    let d = serde_json::to_value(create_body(&o, false, None).unwrap()).unwrap();
    assert_eq!(d["AttachStdout"], json!(false));
    assert_eq!(d["StdinOnce"], json!(false));
}
