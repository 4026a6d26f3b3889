//! Plugins through a registry: `docker plugin push` to berth-registry,
//! `/plugins/privileges`, `docker plugin install` (granted privileges,
//! `--alias`, `--disable`, settings) and `upgrade`. Objects are `bvp...`.

use berth_e2e::plugins::{volume_plugin_dir, RemovePlugins, VOLUME_PLUGIN_CONFIG};
use berth_e2e::Daemon;

/// A plugin pushed to berth-registry and installed back: the privileges
/// the config asks for are shown and must be granted, `--alias` names it,
/// settings given at install are applied, and it serves volumes.
#[test]
fn plugin_push_then_install_from_berth_registry() {
    use berth_e2e::registry::{free_port, plain_registry};
    let d = Daemon::start();
    let _cleanup = RemovePlugins(&d);
    let registry = berth_e2e::bin_dir().join("berth-registry");
    let (_reg, _dir) = plain_registry(&d, &registry.display().to_string(), "bvp-reg", free_port());
    let host = format!("127.0.0.1:{}", _reg.port);
    let remote = format!("{host}/bvp/volumes:v1");
    let dir = volume_plugin_dir(&d, "bvp-dir", VOLUME_PLUGIN_CONFIG);
    d.docker(&["plugin", "create", &remote, &dir.display().to_string()])
        .ok();
    let o = d.docker(&["plugin", "push", &remote]);
    o.ok();
    assert!(
        o.stdout.contains(&format!(
            "The push refers to repository [{host}/bvp/volumes]"
        )),
        "{o}"
    );
    d.docker(&["plugin", "rm", &remote]).ok();

    let r = d.get(&format!("/plugins/privileges?remote={remote}"));
    r.status_is(200);
    let privileges = r.json();
    assert_eq!(
        privileges,
        serde_json::json!([
            {"Name": "network", "Description": "permissions to access a network", "Value": ["host"]},
            {"Name": "capabilities", "Description": "list of additional capabilities required", "Value": ["CAP_SYS_ADMIN"]}
        ])
    );
    // Granting less than the plugin asks is refused, and installs nothing.
    let r = d.http(
        "POST",
        &format!("/plugins/pull?remote={remote}&name=bvp-ungranted"),
        Some("application/json"),
        b"[]",
    );
    assert!(r.text().contains("incorrect privileges"), "{}", r.text());
    d.docker(&["plugin", "ls", "-q"]).ok().stdout_is("");

    let o = d.docker(&[
        "plugin",
        "install",
        "--grant-all-permissions",
        "--alias",
        "bvp-installed",
        &remote,
        "HANG_ON=VolumeDriver.Remove",
    ]);
    o.ok();
    assert!(o.stdout.contains("Installed plugin"), "{o}");
    d.docker(&[
        "plugin",
        "inspect",
        "-f",
        "{{.Name}} {{.PluginReference}} {{.Enabled}} {{.Settings.Env}}",
        "bvp-installed",
    ])
    .ok()
    .stdout_is(&format!(
        "bvp-installed:latest {remote} true [HANG_ON=VolumeDriver.Remove EXIT_AT_START= NO_SOCKET=]\n"
    ));
    d.docker(&["volume", "create", "-d", "bvp-installed", "bvp-inst"])
        .ok();
    d.docker(&[
        "run",
        "--rm",
        "-v",
        "bvp-inst:/v",
        "busybox",
        "sh",
        "-c",
        "echo ok > /v/f && cat /v/f",
    ])
    .ok()
    .stdout_is("ok\n");
    // An upgrade to another tag: refused while enabled, then the new
    // config and reference, the settings kept.
    let v2 = format!("{host}/bvp/volumes:v2");
    let v2_dir = volume_plugin_dir(
        &d,
        "bvp-dir-v2",
        &VOLUME_PLUGIN_CONFIG.replace("a directory per volume", "version two"),
    );
    d.docker(&["plugin", "create", &v2, &v2_dir.display().to_string()])
        .ok();
    d.docker(&["plugin", "push", &v2]).ok();
    d.docker(&["plugin", "rm", &v2]).ok();
    // The CLI asks first: the plugin's name is not the remote's.
    let upgrade = [
        "plugin",
        "upgrade",
        "--grant-all-permissions",
        "bvp-installed",
        &v2,
    ];
    let o = d.docker_stdin(&upgrade, b"y\n");
    o.fails();
    assert!(
        o.stderr
            .contains("plugin must be disabled before upgrading"),
        "{o}"
    );
    d.docker(&["plugin", "disable", "-f", "bvp-installed"]).ok();
    let o = d.docker_stdin(&upgrade, b"y\n");
    o.ok();
    assert!(o.stdout.contains("Upgraded plugin bvp-installed"), "{o}");
    d.docker(&[
        "plugin",
        "inspect",
        "-f",
        "{{.PluginReference}} {{.Config.Description}} {{.Settings.Env}}",
        "bvp-installed",
    ])
    .ok()
    .stdout_is(&format!(
        "{v2} berth test volume plugin: version two [HANG_ON=VolumeDriver.Remove EXIT_AT_START= NO_SOCKET=]\n"
    ));
    // --disable installs without enabling.
    d.docker(&[
        "plugin",
        "install",
        "--grant-all-permissions",
        "--disable",
        "--alias",
        "bvp-off",
        &remote,
    ])
    .ok();
    d.docker(&["plugin", "inspect", "-f", "{{.Enabled}}", "bvp-off"])
        .ok()
        .stdout_is("false\n");
    d.docker(&["plugin", "rm", "-f", "bvp-installed", "bvp-off"])
        .ok();
}
