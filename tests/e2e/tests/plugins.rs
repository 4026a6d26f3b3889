//! Managed plugins through the docker CLI: `plugin create` of a real
//! plugin image (the test volume plugin of `crates/testplugin` in a
//! rootfs), its lifecycle (ls, inspect, enable, disable, set, rm, and
//! the refusals), volumes it serves to containers, every client's output,
//! daemon restarts. Faults: a bad plugin directory, a plugin that never
//! listens or dies at start, a plugin that hangs. Registries are in
//! `plugins_registry.rs`, legacy and authorization plugins in
//! `plugins_legacy.rs`. Every object a test makes is named `bvp...`.

use std::time::{Duration, Instant};

use berth_e2e::plugins::{create_plugin, volume_plugin_dir, RemovePlugins, VOLUME_PLUGIN_CONFIG};
use berth_e2e::{is_hex64, Daemon};

#[test]
fn volume_plugin_lifecycle_and_volumes_in_containers() {
    let d = Daemon::start();
    let _cleanup = RemovePlugins(&d);
    create_plugin(&d);
    let dir = d.tmp().join("bvp-dir").display().to_string();
    let o = d.docker(&["plugin", "create", "bvp", &dir]);
    o.fails();
    assert!(o.stderr.contains("plugin bvp:latest already exists"), "{o}");
    // The CLI cuts the description to 45 characters, --format or not.
    d.docker(&[
        "plugin",
        "ls",
        "--format",
        "{{.Name}} {{.Enabled}} {{.Description}}",
    ])
    .ok()
    .stdout_is("bvp:latest false berth test volume plugin: a directory per vo…\n");
    d.docker(&[
        "plugin",
        "inspect",
        "-f",
        "{{.Name}} {{.PluginReference}} {{.Enabled}} {{.Settings.Env}} {{.Config.Interface.Socket}} {{.Config.PropagatedMount}} {{.Config.Description}}",
        "bvp",
    ])
    .ok()
    .stdout_is("bvp:latest bvp:latest false [HANG_ON= EXIT_AT_START= NO_SOCKET=] vol.sock /data berth test volume plugin: a directory per volume\n");
    api_shapes_like_dockerd(&d);

    d.docker(&["plugin", "enable", "bvp"])
        .ok()
        .stdout_is("bvp\n");
    let o = d.docker(&["plugin", "enable", "bvp"]);
    o.fails();
    assert!(
        o.stderr
            .contains("plugin already enabled: plugin bvp:latest is enabled"),
        "{o}"
    );
    list_filters(&d);
    let o = d.docker(&["plugin", "set", "bvp", "HANG_ON=x"]);
    o.fails();
    assert!(
        o.stderr
            .contains("cannot set on an active plugin, disable plugin before setting"),
        "{o}"
    );

    volumes_served_to_containers(&d);
    in_use_and_enabled_refusals(&d);
}

/// The JSON dockerd answers: `Config.Interface.Types` as strings,
/// `User` as `{}`, settings' lists as `[]`, config lists as `null`.
fn api_shapes_like_dockerd(d: &Daemon) {
    let r = d.get("/plugins/bvp/json");
    r.status_is(200);
    let p = r.json();
    assert!(is_hex64(p["Id"].as_str().unwrap_or("")), "{p}");
    assert_eq!(
        p["Config"]["Interface"]["Types"][0], "docker.volumedriver/1.0",
        "{p}"
    );
    assert_eq!(p["Config"]["User"], serde_json::json!({}), "{p}");
    assert!(p["Config"]["Mounts"].is_null(), "{p}");
    assert_eq!(p["Settings"]["Mounts"], serde_json::json!([]), "{p}");
    assert_eq!(p["Settings"]["Args"], serde_json::json!([]), "{p}");
    assert_eq!(p["Config"]["rootfs"]["type"], "layers", "{p}");
    let diff = p["Config"]["rootfs"]["diff_ids"][0].as_str().unwrap_or("");
    assert!(diff.starts_with("sha256:"), "{p}");
    let r = d.get("/plugins/bvp-nope/json");
    r.status_is(404);
    assert_eq!(r.json()["message"], "plugin \"bvp-nope\" not found");
}

fn list_filters(d: &Daemon) {
    d.docker(&[
        "plugin",
        "ls",
        "--filter",
        "enabled=true",
        "--format",
        "{{.Name}}",
    ])
    .ok()
    .stdout_is("bvp:latest\n");
    d.docker(&["plugin", "ls", "--filter", "enabled=false", "-q"])
        .ok()
        .stdout_is("");
    let by_cap = |cap: &str| {
        let r = d.get(&format!(
            "/plugins?filters=%7B%22capability%22%3A%7B%22{cap}%22%3Atrue%7D%7D"
        ));
        r.status_is(200);
        r.json().as_array().map(Vec::len).unwrap_or(99)
    };
    assert_eq!(by_cap("volumedriver"), 1);
    assert_eq!(by_cap("authz"), 0);
    let r = d.get("/plugins?filters=%7B%22enabled%22%3A%7B%22maybe%22%3Atrue%7D%7D");
    r.status_is(400);
    assert_eq!(r.json()["message"], "Invalid filter 'enabled=[maybe]'");
}

/// A volume made through the plugin: its driver and path are the
/// plugin's, a container writes, another reads, the data sits in the
/// plugin's propagated mount on the host.
fn volumes_served_to_containers(d: &Daemon) {
    d.docker(&["volume", "create", "-d", "bvp", "bvp-data"])
        .ok()
        .stdout_is("bvp-data\n");
    d.docker(&[
        "volume",
        "inspect",
        "-f",
        "{{.Driver}} {{.Mountpoint}} {{.Scope}} {{.Status}}",
        "bvp-data",
    ])
    .ok()
    .stdout_is("bvp:latest /data/bvp-data local map[served:directory]\n");
    let o = d.docker(&["volume", "ls", "--format", "{{.Driver}} {{.Name}}"]);
    o.ok();
    assert!(o.stdout.lines().any(|l| l == "bvp:latest bvp-data"), "{o}");
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvp-data:/v",
        "busybox",
        "sh",
        "-c",
        "echo written-through-the-plugin > /v/msg",
    ])
    .ok();
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvp-data:/in:ro",
        "busybox",
        "cat",
        "/in/msg",
    ])
    .ok()
    .stdout_is("written-through-the-plugin\n");
    let id = d.inspect_plugin_id("bvp");
    let on_host = d
        .data_root
        .join("plugins")
        .join(&id)
        .join("propagated-mount/bvp-data/msg");
    assert_eq!(
        std::fs::read_to_string(&on_host).unwrap_or_default(),
        "written-through-the-plugin\n",
        "{} holds the volume's data",
        on_host.display()
    );
    // A volume named with --volume-driver at run is made by the plugin.
    d.docker(&[
        "run",
        "--rm",
        "--volume-driver",
        "bvp",
        "-v",
        "bvp-run:/v",
        "busybox",
        "touch",
        "/v/made",
    ])
    .ok();
    d.docker(&["volume", "inspect", "-f", "{{.Driver}}", "bvp-run"])
        .ok()
        .stdout_is("bvp:latest\n");
    d.docker(&["volume", "rm", "bvp-run"]).ok();
    let o = d.docker(&[
        "volume",
        "create",
        "-d",
        "bvp",
        "-o",
        "fail=refused by the plugin",
        "bvp-bad",
    ]);
    o.fails();
    assert!(
        o.stderr.contains("create bvp-bad: refused by the plugin"),
        "{o}"
    );
}

/// A plugin whose volume a container uses can be neither disabled nor
/// removed; an enabled one is not removed without force; `set` takes only
/// what the config declares.
fn in_use_and_enabled_refusals(d: &Daemon) {
    d.docker(&[
        "run",
        "-d",
        "--name",
        "bvp-user",
        "-v",
        "bvp-data:/v",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    for args in [["plugin", "disable", "bvp"], ["plugin", "rm", "bvp"]] {
        let o = d.docker(&args);
        o.fails();
        assert!(o.stderr.contains("plugin bvp:latest is in use"), "{o}");
    }
    d.docker(&["rm", "-f", "bvp-user"]).ok();
    d.docker(&["volume", "rm", "bvp-data"])
        .ok()
        .stdout_is("bvp-data\n");
    let o = d.docker(&["plugin", "rm", "bvp"]);
    o.fails();
    assert!(o.stderr.contains("plugin bvp:latest is enabled"), "{o}");
    d.docker(&["plugin", "disable", "bvp"])
        .ok()
        .stdout_is("bvp\n");
    let o = d.docker(&["plugin", "disable", "bvp"]);
    o.fails();
    assert!(
        o.stderr.contains("plugin bvp:latest found but disabled"),
        "{o}"
    );
    let o = d.docker(&["plugin", "set", "bvp", "BVP_NOPE=1"]);
    o.fails();
    assert!(
        o.stderr
            .contains("setting \"BVP_NOPE\" not found in the plugin configuration"),
        "{o}"
    );
    let o = d.docker(&["plugin", "set", "bvp", "HANG_ON.source=x"]);
    o.fails();
    assert!(
        o.stderr.contains("\"HANG_ON.source\" is not settable"),
        "{o}"
    );
    d.docker(&["plugin", "set", "bvp", "HANG_ON=VolumeDriver.Remove"])
        .ok();
    d.docker(&["plugin", "inspect", "-f", "{{.Settings.Env}}", "bvp"])
        .ok()
        .stdout_is("[HANG_ON=VolumeDriver.Remove EXIT_AT_START= NO_SOCKET=]\n");
    d.docker(&["plugin", "rm", "bvp"]).ok().stdout_is("bvp\n");
    d.docker(&["plugin", "ls", "-q"]).ok().stdout_is("");
    let o = d.docker(&["volume", "create", "-d", "bvp", "bvp-gone"]);
    o.fails();
    assert!(
        o.stderr
            .contains("error looking up volume plugin bvp: plugin \"bvp\" not found"),
        "{o}"
    );
}

trait PluginId {
    fn inspect_plugin_id(&self, name: &str) -> String;
}

impl PluginId for Daemon {
    fn inspect_plugin_id(&self, name: &str) -> String {
        let o = self.docker(&["plugin", "inspect", "-f", "{{.Id}}", name]);
        o.ok();
        o.stdout.trim().to_string()
    }
}

/// A plugin that never listens and one that dies at start: the enable
/// fails with the daemon's error, the plugin stays disabled, and the
/// engine keeps serving.
#[test]
fn plugin_that_never_listens_or_dies_is_refused_at_enable() {
    let d = Daemon::start();
    let _cleanup = RemovePlugins(&d);
    create_plugin(&d);
    for fault in ["NO_SOCKET=1", "EXIT_AT_START=1"] {
        d.docker(&["plugin", "set", "bvp", "NO_SOCKET=", "EXIT_AT_START="])
            .ok();
        d.docker(&["plugin", "set", "bvp", fault]).ok();
        let t = Instant::now();
        let o = d.docker(&["plugin", "enable", "--timeout", "5", "bvp"]);
        o.fails();
        assert!(o.stderr.contains("Error response from daemon"), "{o}");
        if !d.is_dockerd() {
            // dockerd names only the socket it could not dial; berthd
            // says why too (no answer in time, or the plugin's exit).
            let why = if fault.starts_with("NO_SOCKET") {
                "not activated within 5s"
            } else {
                "exited with code 3 before it was activated"
            };
            assert!(o.stderr.contains(why), "{fault}: {o}");
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "{fault}: {:?}",
                t.elapsed()
            );
        }
        d.docker(&["plugin", "ls", "--format", "{{.Name}} {{.Enabled}}"])
            .ok()
            .stdout_is("bvp:latest false\n");
        d.docker(&["version", "--format", "{{.Server.APIVersion}}"])
            .ok();
    }
    d.docker(&["plugin", "rm", "bvp"]).ok();
}

/// A plugin that hangs on `VolumeDriver.Create`: the create fails once
/// the call's deadline passes, and the daemon answers other requests
/// meanwhile.
#[test]
fn hanging_volume_plugin_times_out_and_the_daemon_keeps_serving() {
    let d = Daemon::start();
    let _cleanup = RemovePlugins(&d);
    create_plugin(&d);
    d.docker(&["plugin", "set", "bvp", "HANG_ON=VolumeDriver.Create"])
        .ok();
    d.docker(&["plugin", "enable", "bvp"]).ok();
    let hung = d.spawn_cli(
        berth_e2e::Cli::Docker,
        &["volume", "create", "-d", "bvp", "bvp-hang"],
    );
    std::thread::sleep(Duration::from_secs(2));
    let t = Instant::now();
    d.docker(&["ps", "-q"]).ok();
    d.docker(&["plugin", "ls", "-q"]).ok();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "the daemon answers while a plugin call hangs: {:?}",
        t.elapsed()
    );
    let started = Instant::now();
    let out = hung.wait_with_output().expect("volume create");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{stderr}");
    assert!(
        // Go words a client timeout either way, depending on when it hits.
        stderr.contains("create bvp-hang: Post ")
            && (stderr.contains("context deadline exceeded")
                || stderr.contains("Client.Timeout exceeded")),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the call's deadline (30 s) ends it: {:?}",
        started.elapsed()
    );
    d.docker(&["volume", "inspect", "bvp-hang"]).fails();
    d.docker(&["plugin", "rm", "-f", "bvp"]).ok();
}

/// What the daemon itself checks of a plugin directory (the docker CLI
/// checks `config.json` before sending, so these go to the API): a
/// config that is no JSON, no rootfs, no tar at all. Nothing is created.
#[test]
fn bad_plugin_directories_are_refused_and_leave_nothing() {
    let d = Daemon::start_bare();
    let _cleanup = RemovePlugins(&d);
    let tar_of = |files: &[(&str, &[u8])]| {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).expect("tar");
        }
        b.into_inner().expect("tar")
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "bvp-badjson",
            tar_of(&[("config.json", b"{\"Entrypoint\": ["), ("rootfs/x", b"x")]),
        ),
        (
            "bvp-norootfs",
            tar_of(&[("config.json", VOLUME_PLUGIN_CONFIG.as_bytes())]),
        ),
        (
            "bvp-notar",
            b"this is not a tar archive at all, just some words".to_vec(),
        ),
    ];
    for (name, body) in cases {
        let r = d.http(
            "POST",
            &format!("/plugins/create?name={name}"),
            Some("application/x-tar"),
            &body,
        );
        assert!(r.status >= 400, "{name}: {}", r.status);
        let msg = r.json()["message"].as_str().unwrap_or("").to_string();
        assert!(!msg.is_empty(), "{name}: a message says why");
    }
    d.docker(&["plugin", "ls", "-q"]).ok().stdout_is("");
    let leftovers: Vec<_> = std::fs::read_dir(d.data_root.join("plugins"))
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers.iter().all(|n| n == "tmp" || n == "storage"),
        "nothing but scratch dirs: {leftovers:?}"
    );
}

/// Every client (docker 28, docker 20.10, berth) prints the plugin
/// commands alike: what each printed is compared with docker 28's.
#[test]
fn plugin_commands_print_alike_in_every_client() {
    let d = Daemon::start_bare();
    let _cleanup = RemovePlugins(&d);
    let dir = volume_plugin_dir(&d, "bvp-dir", VOLUME_PLUGIN_CONFIG)
        .display()
        .to_string();
    let mut reference: Option<Vec<String>> = None;
    for cli in d.clis() {
        let run = |args: &[&str]| {
            let o = d.run(cli, args);
            o.ok();
            o.stdout.clone()
        };
        let outputs = vec![
            run(&["plugin", "create", "bvp-cli", &dir]),
            run(&["plugin", "ls"]).replace(&d.inspect_plugin_id("bvp-cli")[..12], "<short-id12>"),
            run(&[
                "plugin",
                "ls",
                "--no-trunc",
                "--format",
                "{{.Name}}|{{.Description}}|{{.Enabled}}",
            ]),
            run(&[
                "plugin",
                "inspect",
                "-f",
                "{{.Name}} {{.Enabled}} {{.Settings.Env}}",
                "bvp-cli",
            ]),
            run(&["plugin", "set", "bvp-cli", "HANG_ON=Plugin.Activate"]),
            run(&[
                "plugin",
                "inspect",
                "-f",
                "{{.Settings.Env}}",
                "bvp-cli:latest",
            ]),
            run(&["plugin", "set", "bvp-cli", "HANG_ON="]),
            run(&["plugin", "enable", "bvp-cli"]),
            run(&[
                "plugin",
                "ls",
                "--filter",
                "enabled=true",
                "--format",
                "{{.Name}} {{.Enabled}}",
            ]),
            run(&["plugin", "disable", "bvp-cli"]),
            run(&["plugin", "rm", "bvp-cli"]),
            run(&["plugin", "ls", "-q"]),
        ];
        let o = d.run(cli, &["plugin", "inspect", "bvp-cli"]);
        o.fails();
        // docker 20.10 words it its own way.
        assert!(
            o.stderr.contains("plugin \"bvp-cli\" not found")
                || o.stderr.contains("No such plugin: bvp-cli"),
            "{cli:?}: {o}"
        );
        match &reference {
            None => reference = Some(outputs),
            Some(want) => assert_eq!(&outputs, want, "{cli:?} prints as docker 28"),
        }
    }
    let want = reference.expect("docker 28 ran");
    assert_eq!(want[0], "bvp-cli\n");
    assert_eq!(
        want[1],
        "ID             NAME             DESCRIPTION                                     ENABLED\n\
         <short-id12>   bvp-cli:latest   berth test volume plugin: a directory per vo…   false\n"
    );
}

/// An enabled plugin outlives a clean stop and a crash: after each
/// restart it is enabled and its volumes mount as before.
#[test]
fn enabled_plugin_survives_daemon_restarts() {
    let mut d = Daemon::start();
    create_plugin(&d);
    d.docker(&["plugin", "enable", "bvp"]).ok();
    d.docker(&["volume", "create", "-d", "bvp", "bvp-keep"])
        .ok();
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvp-keep:/v",
        "busybox",
        "sh",
        "-c",
        "echo kept > /v/f",
    ])
    .ok();
    // dockerd 20.10 here cannot restart after a SIGKILL while a plugin
    // runs ("failed to start containerd: timeout waiting for containerd to
    // start": its own containerd is still up), so the crash is berthd's only.
    let crashes: &[bool] = if d.is_dockerd() {
        &[false]
    } else {
        &[false, true]
    };
    for &crash in crashes {
        if crash {
            d.kill9();
        } else {
            d.stop();
        }
        d.restart();
        d.docker(&["plugin", "ls", "--format", "{{.Name}} {{.Enabled}}"])
            .ok()
            .stdout_is("bvp:latest true\n");
        d.docker(&["run", "--rm", "-v", "bvp-keep:/v", "busybox", "cat", "/v/f"])
            .ok()
            .stdout_is("kept\n");
    }
    d.docker(&["volume", "rm", "bvp-keep"]).ok();
    d.docker(&["plugin", "rm", "-f", "bvp"]).ok();
}
