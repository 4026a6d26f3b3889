//! Real clients whose request bodies carry `null` fields, odd-case names or
//! fields berth does not model: dockerd's Go decoder accepts them all, so
//! berthd must (issue 15).

use berth_e2e::Daemon;
use serde_json::json;

/// docker-compose 1.29 (Debian's) sends a `healthcheck:` block with `null`
/// for what the file leaves out (`Timeout`, `Retries`, `StartPeriod`).
#[test]
fn compose_1_29_brings_up_a_service_with_a_healthcheck() {
    let d = Daemon::start();
    let dir = d.tmp().join("hcproj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        r#"version: "2.4"
services:
  web:
    image: busybox
    command: ["sleep", "300"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 2s
"#,
    )
    .unwrap();
    let up = "cd hcproj && /usr/bin/docker-compose --no-ansi -p hcproj up -d 2>&1";
    d.sh(up).ok();
    assert_eq!(d.inspect("hcproj_web_1", "{{.State.Running}}"), "true");
    assert_eq!(
        d.inspect("hcproj_web_1", "{{json .Config.Healthcheck.Test}}"),
        r#"["CMD","true"]"#
    );
    assert_eq!(
        d.inspect("hcproj_web_1", "{{.Config.Healthcheck.Interval}}"),
        "2s"
    );
    assert_eq!(
        d.inspect("hcproj_web_1", "{{.Config.Healthcheck.Retries}}"),
        "0"
    );
    d.sh("cd hcproj && /usr/bin/docker-compose --no-ansi -p hcproj down -t 1 2>&1")
        .ok();
    d.docker(&["ps", "-aq"]).ok().stdout_is("");
}

/// docker-py's `Healthcheck` sends `null` for every duration left unset;
/// `runtime=` sends `HostConfig.Runtime` (refused by berth's old strict
/// decoding).
#[test]
fn python_sdk_healthcheck_with_unset_fields() {
    let d = Daemon::start();
    let script = r#"/usr/bin/python3 - <<'EOF'
import docker
c = docker.from_env()
hc = docker.types.Healthcheck(test=["CMD", "true"])
ct = c.containers.run("busybox", ["sleep", "30"], detach=True, name="pyhc", healthcheck=hc,
                      runtime="runc")
ct.reload()
h = ct.attrs["Config"]["Healthcheck"]
print(ct.status, h["Test"], h.get("Interval", 0), h.get("Retries", 0))
print(ct.attrs["HostConfig"]["Runtime"])
ct.remove(force=True)
EOF"#;
    d.sh(script)
        .ok()
        .stdout_is("running ['CMD', 'true'] 0 0\nrunc\n");
}

/// Go matches field names case-insensitively and reads `null` as the
/// zero value, at every depth.
#[test]
fn create_bodies_decode_as_go_does() {
    let d = Daemon::start();
    let r = d.post_json(
        "/containers/create?name=lower",
        r#"{"image":"busybox","cmd":["true"],"hostconfig":{"memory":33554432}}"#,
    );
    r.status_is(201);
    let i = d.get("/containers/lower/json").json();
    assert_eq!(i["Config"]["Image"], json!("busybox"));
    assert_eq!(i["Config"]["Cmd"], json!(["true"]));
    assert_eq!(i["HostConfig"]["Memory"], json!(33554432));

    let r = d.post_json(
        "/containers/create?name=nulls",
        r#"{"Image":"busybox","Cmd":["true"],"Env":null,"Labels":null,"Tty":null,
            "Healthcheck":{"Test":["CMD","true"],"Interval":null,"Retries":null},
            "HostConfig":{"Binds":null,"RestartPolicy":null,"LogConfig":null,
                          "Memory":null,"PortBindings":null},
            "NetworkingConfig":null}"#,
    );
    r.status_is(201);
    let i = d.get("/containers/nulls/json").json();
    assert_eq!(i["Config"]["Healthcheck"]["Test"], json!(["CMD", "true"]));
    assert_eq!(i["HostConfig"]["Memory"], json!(0));

    // Fields berth does not model (and some nobody does) are ignored.
    let r = d.post_json(
        "/containers/create?name=extra",
        r#"{"Image":"busybox","Cmd":["true"],"NoSuchField":{"a":1},
            "HostConfig":{"NoSuchEither":[1,2]}}"#,
    );
    r.status_is(201);
    d.docker(&["rm", "lower", "nulls", "extra"]).ok();
}

/// The other bodies follow the same rules: exec create and start, update,
/// network create and connect, volume create.
#[test]
fn other_bodies_decode_as_go_does() {
    let d = Daemon::start();
    d.docker(&["run", "-d", "--name", "c1", "busybox", "sleep", "300"])
        .ok();
    let r = d.post_json(
        "/containers/c1/exec",
        r#"{"cmd":["true"],"attachstdout":null,"Env":null,"Unknown":1}"#,
    );
    r.status_is(201);
    let id = r.json()["Id"].as_str().unwrap().to_string();
    let r = d.post_json(
        &format!("/exec/{id}/start"),
        r#"{"detach":true,"Tty":null,"ConsoleSize":null,"Unknown":1}"#,
    );
    r.status_is(200);

    let r = d.post_json(
        "/containers/c1/update",
        r#"{"memory":67108864,"MemorySwap":-1,"RestartPolicy":null,"Unknown":1}"#,
    );
    r.status_is(200);
    assert_eq!(d.inspect("c1", "{{.HostConfig.Memory}}"), "67108864");

    let r = d.post_json(
        "/networks/create",
        r#"{"name":"gonet","Labels":null,"Options":null,"IPAM":null,"Unknown":1}"#,
    );
    r.status_is(201);
    let r = d.post_json(
        "/networks/gonet/connect",
        r#"{"container":"c1","endpointconfig":{"aliases":["al1"]},"Unknown":1}"#,
    );
    r.status_is(200);
    // dockerd 20.10 adds the short id to the aliases.
    let aliases = d.inspect("c1", "{{json .NetworkSettings.Networks.gonet.Aliases}}");
    assert!(aliases.starts_with(r#"["al1""#), "{aliases}");
    let r = d.post_json(
        "/networks/gonet/disconnect",
        r#"{"container":"c1","force":null}"#,
    );
    r.status_is(200);

    let r = d.post_json(
        "/volumes/create",
        r#"{"name":"govol","Labels":null,"DriverOpts":null,"Unknown":1}"#,
    );
    r.status_is(201);
    assert_eq!(r.json()["Name"], json!("govol"));

    d.docker(&["rm", "-f", "c1"]).ok();
    d.docker(&["network", "rm", "gonet"]).ok();
    d.docker(&["volume", "rm", "govol"]).ok();
}

/// A field of the wrong type stays a 400 naming the field, as Go's
/// decoder's error does (dockerd 20.10 answers 500 with the same text).
#[test]
fn wrong_types_name_the_field() {
    let d = Daemon::start();
    let r = d.post_json(
        "/containers/create",
        r#"{"Image":"busybox","HostConfig":{"Memory":"lots"}}"#,
    );
    r.status_is(if d.is_dockerd() { 500 } else { 400 });
    assert!(
        r.message().contains("Memory") && r.message().contains("int64"),
        "{r}"
    );
}
