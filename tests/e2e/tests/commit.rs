//! `docker diff`, `docker export`, `docker commit` with the real docker CLI
//! (run against dockerd too: `BERTH_E2E_DAEMON=dockerd`).

use berth_e2e::{Cli, Daemon};

/// The same steps give dockerd's `docker diff` listing.
#[test]
fn diff_lists_added_changed_deleted() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "--name",
        "df",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /new/sub && echo x > /new/sub/f && echo y >> /etc/passwd && rm /bin/ls && rm -r /home && touch /tmp/t \\
         && touch /var && mkdir -p /var/x && rmdir /var/x && mkdir /var/x && chmod 700 /root",
    ])
    .ok();
    // dockerd lists in Go's random map order; berth sorts. Compare sets.
    let want = [
        "A /new",
        "A /new/sub",
        "A /new/sub/f",
        "A /tmp/t",
        "A /var/x",
        "C /bin",
        "C /etc",
        "C /etc/passwd",
        "C /root",
        "C /tmp",
        "C /var",
        "D /bin/ls",
        "D /home",
    ];
    for cli in d.clis() {
        let o = d.run(cli, &["diff", "df"]);
        o.ok();
        let mut got: Vec<&str> = o.stdout.lines().collect();
        got.sort();
        assert_eq!(got, want, "{cli:?}");
    }
    // A container that changed nothing lists nothing.
    d.docker(&["run", "--name", "quiet", "busybox", "true"])
        .ok();
    d.docker(&["diff", "quiet"]).ok().stdout_is("");
    d.docker(&["diff", "nosuch"])
        .fails()
        .stderr_has("No such container: nosuch");
}

#[test]
fn commit_then_run_sees_the_change() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "--name",
        "cm",
        "busybox",
        "sh",
        "-c",
        "echo committed > /hello && rm /bin/ls && mkdir /d && touch /d/keep",
    ])
    .ok();
    let id = d
        .docker(&[
            "commit",
            "-a",
            "Ann <ann@example.com>",
            "-m",
            "a message",
            "-c",
            "ENV FOO=bar",
            "-c",
            "CMD [\"cat\", \"/hello\"]",
            "cm",
            "bbd-committed:v1",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    d.docker(&["run", "--rm", "bbd-committed:v1"])
        .ok()
        .stdout_is("committed\n");
    d.docker(&[
        "run",
        "--rm",
        "bbd-committed:v1",
        "sh",
        "-c",
        "echo $FOO; ls /bin/ls; ls /d",
    ])
    .stdout_has("bar\n")
    .stdout_has("keep\n");
    let o = d.docker(&["run", "--rm", "bbd-committed:v1", "ls", "/bin/ls"]);
    assert_ne!(o.code, Some(0), "deleted file is back:\n{o}");
    d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Author}}|{{.Comment}}|{{len .RootFS.Layers}}|{{.Config.Cmd}}",
        "bbd-committed:v1",
    ])
    .ok()
    .stdout_is("Ann <ann@example.com>|a message|2|[cat /hello]\n");
    d.docker(&["history", "--format", "{{.Comment}}", "bbd-committed:v1"])
        .ok()
        .stdout_has("a message\n");
    // The image id is the config's digest.
    let inspected = d
        .docker(&["image", "inspect", "-f", "{{.Id}}", "bbd-committed:v1"])
        .stdout;
    assert_eq!(inspected.trim(), id);
    // A running container, paused while committing (default), then not.
    d.docker(&[
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        "echo 1 > /live; sleep 300",
    ])
    .ok();
    std::thread::sleep(std::time::Duration::from_millis(500));
    d.docker(&["commit", "live", "bbd-live"]).ok();
    d.docker(&["commit", "-p=false", "live", "bbd-live2"]).ok();
    assert_eq!(
        d.inspect("live", "{{.State.Status}} {{.State.Paused}}"),
        "running false"
    );
    d.docker(&["run", "--rm", "bbd-live2", "cat", "/live"])
        .ok()
        .stdout_is("1\n");
    // berth's own CLI.
    if d.clis().contains(&Cli::Berth) {
        d.run(
            Cli::Berth,
            &["commit", "-c", "WORKDIR /d", "cm", "bbd-berthcli"],
        )
        .ok();
        d.docker(&["run", "--rm", "bbd-berthcli", "pwd"])
            .ok()
            .stdout_is("/d\n");
    }
    // Bad input changes nothing.
    let images = || {
        let mut v: Vec<String> = d
            .docker(&["images", "-q"])
            .stdout
            .lines()
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    let before = images();
    d.docker(&["commit", "-c", "RUN ls", "cm", "bbd-bad"])
        .fails();
    d.docker(&["commit", "nosuch", "bbd-bad"])
        .fails()
        .stderr_has("No such container: nosuch");
    d.docker(&["commit", "cm", "Bad_Repo:x"]).fails();
    assert_eq!(images(), before);
    d.docker(&["rm", "-f", "live"]).ok();
}

/// The seeds' flattening recipe: `docker export | docker import -` gives a
/// one-layer image with the same files.
#[test]
fn export_import_flattens() {
    let d = Daemon::start();
    d.docker(&[
        "run",
        "--name",
        "base",
        "busybox",
        "sh",
        "-c",
        "echo one > /one",
    ])
    .ok();
    d.docker(&["commit", "base", "bbd-two-layers"]).ok();
    d.docker(&[
        "run",
        "--name",
        "web",
        "bbd-two-layers",
        "sh",
        "-c",
        "echo two > /two && rm /one && ln -s /two /link",
    ])
    .ok();
    d.sh("docker export web | docker import - bbd-flat:latest")
        .ok();
    d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{len .RootFS.Layers}}",
        "bbd-flat",
    ])
    .ok()
    .stdout_is("1\n");
    d.docker(&[
        "run",
        "--rm",
        "bbd-flat",
        "sh",
        "-c",
        "cat /two; readlink /link; test -e /one || echo gone; ls /bin/sh",
    ])
    .ok()
    .stdout_is("two\n/two\ngone\n/bin/sh\n");
    // -o writes a file; the tar lists the files.
    for cli in d.clis() {
        let out = d.tmp().join(format!("web-{cli:?}.tar"));
        let p = out.display().to_string();
        d.run(cli, &["export", "-o", &p, "web"]).ok();
        let data = std::fs::read(&out).expect("export file");
        let names: Vec<String> = berth_e2e::fixture::tar_entries(&data)
            .expect("a tar")
            .into_iter()
            .map(|e| e.0)
            .collect();
        for want in ["two", "link", "bin/busybox", "etc/passwd"] {
            assert!(
                names.iter().any(|n| n.trim_start_matches("./") == want),
                "{cli:?} lacks {want}: {names:?}"
            );
        }
        assert!(!names.iter().any(|n| n.trim_start_matches("./") == "one"));
    }
    d.docker(&["export", "nosuch"])
        .fails()
        .stderr_has("No such container: nosuch");
}
