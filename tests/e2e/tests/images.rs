//! Images: save/load, import, history, system df.

use berth_e2e::fixture::{tar_entries, TarBuilder};
use berth_e2e::{columns, is_hex64, Cli, Daemon};

#[test]
fn save_pipe_load_and_load_after_rmi() {
    let d = Daemon::start();
    let id = d.inspect("busybox", "{{.Id}}");
    assert!(
        id.starts_with("sha256:") && is_hex64(&id[7..]),
        "image ID {id}"
    );

    // The pipe a user types.
    d.sh("docker save busybox | docker load")
        .ok()
        .stdout_is("Loaded image: busybox:latest\n");

    // A saved archive names its tag and layers in manifest.json.
    let file = d.tmp().join("bb.tar");
    let f = file.to_str().unwrap();
    d.docker(&["save", "-o", f, "busybox:latest"])
        .ok()
        .stdout_is("");
    let entries = tar_entries(&std::fs::read(&file).unwrap()).expect("docker save output is a tar");
    let manifest = entries
        .iter()
        .find(|e| e.0 == "manifest.json")
        .unwrap_or_else(|| {
            panic!(
                "no manifest.json in {:?}",
                entries.iter().map(|e| &e.0).collect::<Vec<_>>()
            )
        });
    let m: serde_json::Value = serde_json::from_slice(&manifest.3).expect("manifest.json is JSON");
    assert_eq!(
        m[0]["RepoTags"],
        serde_json::json!(["busybox:latest"]),
        "{m}"
    );
    assert_eq!(m[0]["Layers"].as_array().map(Vec::len), Some(1), "{m}");

    // Remove it (the image, then its only layer), load it back: same ID, runs.
    let layer = d.inspect("busybox", "{{index .RootFS.Layers 0}}");
    let o = d.docker(&["rmi", "busybox"]);
    o.ok();
    assert_eq!(
        o.lines(),
        [
            "Untagged: busybox:latest".to_string(),
            format!("Deleted: {id}"),
            format!("Deleted: {layer}")
        ],
        "{o}"
    );
    d.docker(&["image", "ls", "-q"]).ok().stdout_is("");
    d.docker(&["run", "--rm", "--pull=never", "busybox", "true"])
        .code_is(125);
    d.docker(&["load", "-i", f])
        .ok()
        .stdout_is("Loaded image: busybox:latest\n");
    assert_eq!(d.inspect("busybox", "{{.Id}}"), id);
    d.docker(&["run", "--rm", "busybox", "echo", "back"])
        .ok()
        .stdout_is("back\n");

    // The old CLI, stdin form.
    d.docker(&["rmi", "busybox"]).ok();
    d.sh(&format!("docker20 load < {f}"))
        .ok()
        .stdout_is("Loaded image: busybox:latest\n");
    assert_eq!(d.inspect("busybox", "{{.Id}}"), id);
}

#[test]
fn import_file_with_message_and_changes() {
    let d = Daemon::start();
    let mut b = TarBuilder::default();
    b.dir("bin", 0o755);
    b.file(
        "bin/busybox",
        &std::fs::read("/bin/busybox").unwrap(),
        0o755,
    );
    b.file("hello.txt", b"hello from import\n", 0o644);
    let file = d.tmp().join("rootfs.tar");
    std::fs::write(&file, b.finish()).unwrap();

    let o = d.docker(&[
        "import",
        "-m",
        "my message",
        "--change",
        "CMD [\"/bin/busybox\", \"cat\", \"/hello.txt\"]",
        "--change",
        "ENV GREETING=hi",
        file.to_str().unwrap(),
        "imp:1",
    ]);
    o.ok();
    let out = o.stdout.trim_end();
    if !(out.starts_with("sha256:") && is_hex64(&out[7..]) && o.stdout.ends_with('\n')) {
        o.fail("docker import prints the image ID sha256:<64 hex>");
    }
    assert_eq!(d.inspect("imp:1", "{{.Id}}"), out);
    assert_eq!(
        d.inspect(
            "imp:1",
            "{{json .Config.Cmd}} {{json .Config.Env}} {{.Comment}} {{.Os}}"
        ),
        "[\"/bin/busybox\",\"cat\",\"/hello.txt\"] [\"GREETING=hi\"] my message linux"
    );
    d.docker(&["run", "--rm", "imp:1"])
        .ok()
        .stdout_is("hello from import\n");
    d.docker(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "imp"])
        .ok()
        .stdout_is("imp:1\n");
    // From stdin with the old CLI.
    let mut c = d.cli_command(Cli::Docker20);
    c.args(["import", "-", "imp:2"]);
    let o = berth_e2e::cmd::run(
        c,
        Some(std::fs::read(&file).unwrap()),
        berth_e2e::CMD_TIMEOUT,
    );
    o.ok();
    assert!(o.stdout.starts_with("sha256:"), "{o}");
    d.docker(&["image", "history", "--format", "{{.Comment}}", "imp:2"])
        .ok()
        .stdout_is("Imported from -\n");
}

#[test]
fn image_history_of_an_imported_image() {
    let d = Daemon::start();
    let id = d.inspect("busybox", "{{.Id}}");
    let o = d.docker(&["image", "history", "busybox"]);
    o.ok();
    let lines = o.lines();
    assert_eq!(lines.len(), 2, "header and one row\n{o}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"],
        "{o}"
    );
    assert!(
        lines[1].starts_with(&id[7..19]),
        "row starts with the short ID\n{o}"
    );
    assert!(lines[1].ends_with("Imported from -"), "{o}");
    d.docker(&[
        "image",
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}}|{{.CreatedBy}}|{{.Comment}}",
        "busybox",
    ])
    .ok()
    .stdout_is(&format!("{id}||Imported from -\n"));
    // Size in history equals the image size.
    let size = d.inspect("busybox", "{{.Size}}");
    let hsize = d.docker(&[
        "image",
        "history",
        "--human=false",
        "--format",
        "{{.Size}}",
        "busybox",
    ]);
    hsize.ok().stdout_is(&format!("{size}\n"));
    assert!(
        size.parse::<u64>().unwrap() > 1_000_000,
        "busybox image size {size}"
    );
    d.docker(&["image", "history", "nosuch"])
        .code_is(1)
        .stderr_has("No such image: nosuch");
}

#[test]
fn system_df_counts_images_and_containers() {
    let d = Daemon::start();
    let o = d.docker(&["system", "df"]);
    o.ok();
    let lines = o.lines();
    assert_eq!(
        columns(lines[0]),
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        "{o}"
    );
    let fmt = [
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Active}}",
    ];
    d.docker(&fmt)
        .ok()
        .stdout_is("Images|1|0\nContainers|0|0\nLocal Volumes|0|0\nBuild Cache|0|0\n");
    d.docker(&["run", "-d", "--name", "c-a", "busybox", "sleep", "1000"])
        .ok();
    d.docker(&["create", "--name", "c-b", "busybox"]).ok();
    d.docker(&fmt)
        .ok()
        .stdout_is("Images|1|1\nContainers|2|1\nLocal Volumes|0|0\nBuild Cache|0|0\n");
    // Images row: the image's size, nothing reclaimable while in use.
    let o = d.docker(&["system", "df", "--format", "{{.Type}}|{{.Reclaimable}}"]);
    o.ok().stdout_has("Images|0B (0%)\n");
    // A one-letter name is not a valid container name (docker's rule).
    d.docker(&["create", "--name", "a", "busybox"])
        .code_is(1)
        .stderr_has("Invalid container name (a), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
}

/// `rmi`'s conflicts, with dockerd's words and order.
#[test]
fn rmi_conflicts_as_dockerd() {
    let d = Daemon::start();
    d.docker(&["tag", "busybox", "rmic:1"]).ok();
    d.docker(&["create", "--name", "rmic-c", "rmic:1", "true"])
        .ok();
    let id = d.docker(&["inspect", "-f", "{{.Id}}", "busybox"]);
    id.ok();
    let short = &id.stdout.trim()["sha256:".len().."sha256:".len() + 12];
    // Another tag remains: only untagged.
    d.docker(&["rmi", "rmic:1"])
        .ok()
        .stdout_is("Untagged: rmic:1\n");
    // The last reference of an image a container uses needs force.
    d.docker(&["rmi", "busybox"])
        .code_is(1)
        .stderr_has(
            "conflict: unable to remove repository reference \"busybox\" (must force) - container ",
        )
        .stderr_has(&format!("is using its referenced image {short}"));
    // By id with two repositories: that conflict comes first.
    d.docker(&["tag", "busybox", "rmic:2"]).ok();
    d.docker(&["rmi", short]).code_is(1).stderr_has(&format!(
        "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
    ));
    d.docker(&["rmi", "rmic:2"]).ok();
    d.docker(&["rmi", short]).code_is(1).stderr_has(&format!(
        "conflict: unable to delete {short} (must be forced) - image is being used by stopped container "
    ));
    d.docker(&["rm", "rmic-c"]).ok();
}
