//! Container rows and filters as docker prints and sends them.

use serde_json::json;

use super::*;

#[test]
fn filters() {
    assert_eq!(
        filters_json(&[
            "name=web".into(),
            "status=exited".into(),
            "status=created".into()
        ])
        .unwrap(),
        r#"{"name":{"web":true},"status":{"exited":true,"created":true}}"#
    );
    assert!(filters_json(&["bad".into()]).is_err());
    assert_eq!(filters_json(&[]).unwrap(), "{}");
}

#[test]
fn rows_like_docker() {
    let v = json!({
        "Id": "e260463987cf0123456789", "Names": ["/web", "/other/alias"], "Image": "busybox",
        "ImageID": "sha256:ce7e", "Command": "sh -c 'echo \"a \\\"b\\\"\"'", "Created": 0,
        "Ports": [{"PrivatePort": 80, "PublicPort": 8080, "Type": "tcp", "IP": "::"},
                  {"PrivatePort": 80, "PublicPort": 8080, "Type": "tcp", "IP": "0.0.0.0"},
                  {"PrivatePort": 70, "Type": "tcp"}],
        "Labels": {"b": "2", "a": "1"}, "State": "running", "Status": "Up 2 seconds",
        "NetworkSettings": {"Networks": {"bridge": {}}}, "Mounts": []
    });
    let r = container_row(&v, true);
    assert_eq!(r["ID"], "e260463987cf");
    assert_eq!(r["Names"], "web");
    assert_eq!(r["Command"], "\"sh -c 'echo \\\"a \\\\\\\"b\\\\…\"");
    assert_eq!(
        r["Ports"],
        "70/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
    );
    assert_eq!(r["Labels"], "a=1,b=2");
    assert_eq!(r["Networks"], "bridge");
    assert_eq!(r["Size"], "0B");
    let full = container_row(&v, false);
    assert_eq!(full["Names"], "web,other/alias");
}

#[test]
fn run_exit_codes() {
    assert_eq!(
        run_failure(
            "run",
            Failure::msg("exec: \"x\": executable file not found in $PATH")
        )
        .code,
        127
    );
    assert_eq!(
        run_failure("run", Failure::msg("permission denied")).code,
        126
    );
    let f = run_failure(
        "run",
        Failure::msg("Error response from daemon: No command specified"),
    );
    assert_eq!(f.code, 125);
    assert_eq!(f.message, "berth: Error response from daemon: No command specified\n\nRun 'berth run --help' for more information");
}
