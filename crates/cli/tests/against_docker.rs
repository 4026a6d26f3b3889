//! Runs the built `berth` against a Docker-compatible daemon named by
//! `BERTH_TEST_DOCKER_HOST` (a dockerd peer; a daemon with a `busybox`
//! image). Skipped when unset: berthd itself is covered by tests/e2e.

use std::process::{Command, Output};

fn host() -> Option<String> {
    let h = std::env::var("BERTH_TEST_DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty());
    if h.is_none() {
        eprintln!("BERTH_TEST_DOCKER_HOST unset: skipping");
    }
    h
}

fn berth(host: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env("DOCKER_HOST", host)
        .env_remove("DOCKER_API_VERSION")
        .output()
        .expect("run berth")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn run_prints_output_and_exits_with_the_status() {
    let Some(h) = host() else { return };
    let o = berth(
        &h,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(text(&o.stdout), "out\n");
    assert_eq!(text(&o.stderr), "err\n");
}

#[test]
fn run_detached_then_ps_inspect_stop_rm() {
    let Some(h) = host() else { return };
    let name = format!("berth-cli-test-{}", std::process::id());
    let o = berth(
        &h,
        &[
            "run", "-d", "--name", &name, "-l", "k=v", "busybox", "sleep", "30",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let id = text(&o.stdout).trim().to_string();
    assert_eq!(id.len(), 64);
    let o = berth(
        &h,
        &[
            "ps",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.ID}} {{.Label \"k\"}} {{.State}}",
        ],
    );
    assert_eq!(text(&o.stdout), format!("{} v running\n", &id[..12]));
    let o = berth(&h, &["ps", "--filter", &format!("name={name}")]);
    let out = text(&o.stdout);
    assert!(
        out.starts_with("CONTAINER ID   IMAGE     COMMAND      CREATED"),
        "{out}"
    );
    let o = berth(
        &h,
        &["inspect", "-f", "{{.Name}} {{json .Config.Cmd}}", &name],
    );
    assert_eq!(text(&o.stdout), format!("/{name} [\"sleep\",\"30\"]\n"));
    let o = berth(&h, &["container", "stop", "-t", "0", &name]);
    assert_eq!(text(&o.stdout), format!("{name}\n"));
    let o = berth(&h, &["rm", &name]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn errors_read_like_docker() {
    let Some(h) = host() else { return };
    let o = berth(&h, &["rm", "no-such-container-xyz"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "Error response from daemon: No such container: no-such-container-xyz\n"
    );
    let o = berth(&h, &["inspect", "no-such-object-xyz"]);
    assert_eq!(text(&o.stdout), "[]\n");
    assert_eq!(
        text(&o.stderr),
        "Error: No such object: no-such-object-xyz\n"
    );
    let o = berth(&h, &["run", "--rm", "busybox", "no-such-binary"]);
    assert_eq!(o.status.code(), Some(127));
    let o = berth(&h, &["ps", "--xyz"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).starts_with("unknown flag: --xyz\n\nUsage:  berth ps [OPTIONS]\n"));
}

#[test]
fn images_and_history_tables() {
    let Some(h) = host() else { return };
    let o = berth(&h, &["images", "busybox"]);
    let out = text(&o.stdout);
    assert!(
        out.starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"),
        "{out}"
    );
    let o = berth(&h, &["image", "history", "-q", "busybox"]);
    assert_eq!(text(&o.stdout).trim().len(), 12);
    let o = berth(&h, &["version", "--format", "{{.Server.ApiVersion}}"]);
    assert!(!text(&o.stdout).trim().is_empty());
}
