//! `docker build` (the classic builder, `DOCKER_BUILDKIT=0`) whose `FROM`
//! image is only in a registry: the build pulls it, with the credentials
//! the CLI sends in `X-Registry-Config` after `docker login`, its progress
//! in the build output, as dockerd does. Registries on loopback (CNCF
//! distribution, and berth-registry with TLS + htpasswd); runs against
//! dockerd too (`BERTH_E2E_DAEMON=dockerd`). Names start with `bbp`.

use std::fs;
use std::path::{Path, PathBuf};

use berth_e2e::registry::{berth_registry, free_port, plain_registry};
use berth_e2e::{Cli, Daemon, Out};

fn context(d: &Daemon, name: &str, dockerfile: &str) -> PathBuf {
    let dir = d.tmp().join(format!("bbp-ctx-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join("Dockerfile"), dockerfile).expect("write");
    dir
}

fn build(d: &Daemon, dir: &Path, args: &str) -> Out {
    d.sh(&format!(
        "DOCKER_BUILDKIT=0 docker build {args} {} 2>&1",
        dir.display()
    ))
}

/// Makes `image` (busybox with `/base` reading `content`), pushes it and
/// removes it here, so that only the registry has it.
fn push_base(d: &Daemon, image: &str, content: &str) {
    let dir = context(
        d,
        "base",
        &format!("FROM busybox\nRUN echo {content} > /base\n"),
    );
    build(d, &dir, &format!("-t {image}")).ok();
    d.docker(&["push", image]).ok();
    d.docker(&["rmi", image]).ok();
    d.docker(&["image", "inspect", image]).fails();
}

#[test]
fn from_an_image_only_in_a_registry_is_pulled() {
    let d = Daemon::start();
    let (_reg, _) = plain_registry(&d, "/usr/bin/docker-registry", "bbp-cncf", free_port());
    let host = format!("127.0.0.1:{}", _reg.port);
    let image = format!("{host}/bbp/base:v1");
    push_base(&d, &image, "from-registry");

    let dir = context(
        &d,
        "child",
        &format!("FROM {image}\nRUN cat /base > /child\n"),
    );
    let o = build(&d, &dir, "-t bbp-child");
    o.ok()
        .stdout_has(&format!("Step 1/2 : FROM {image}\n"))
        // The pull's own lines, as `docker pull` prints them.
        .stdout_has("v1: Pulling from bbp/base")
        .stdout_has("Pull complete")
        .stdout_has(&format!("Status: Downloaded newer image for {image}"))
        .stdout_has("Successfully tagged bbp-child:latest");
    d.docker(&["run", "--rm", "bbp-child", "cat", "/child"])
        .ok()
        .stdout_is("from-registry\n");
    // The base is now local: the next build does not pull ...
    let o = build(&d, &dir, "-t bbp-child");
    o.ok();
    assert!(!o.stdout.contains("Pulling from"), "{}", o.stdout);
    // ... unless asked to (`--pull`).
    build(&d, &dir, "--pull -t bbp-child")
        .ok()
        .stdout_has("v1: Pulling from bbp/base")
        .stdout_has(&format!("Status: Image is up to date for {image}"));
    // `-q`: the image id alone; the pull's lines are held back too.
    let o = build(&d, &dir, "-q --pull -t bbp-child");
    o.ok().stdout_has("sha256:");
    assert!(!o.stdout.contains("Pulling from"), "{}", o.stdout);

    // A tag the registry lacks: dockerd's pull error ends the build.
    let dir = context(&d, "nope", &format!("FROM {host}/bbp/base:nope\n"));
    build(&d, &dir, "").fails().stdout_has(&format!(
        "manifest for {host}/bbp/base:nope not found: manifest unknown"
    ));
    d.docker(&["rmi", "bbp-child", &image]).ok();
}

#[test]
fn from_a_private_registry_uses_the_login() {
    let d = Daemon::start();
    let (_reg, host) = berth_registry(&d);
    d.docker_stdin(
        &["login", "-u", "alice", "--password-stdin", &host],
        b"s3cret\n",
    )
    .ok();
    let image = format!("{host}/bbp/private:v1");
    push_base(&d, &image, "private");

    // Logged out, the CLI sends no credentials: the pull is refused.
    d.docker(&["logout", &host]).ok();
    let dir = context(
        &d,
        "private",
        &format!("FROM {image}\nRUN cat /base > /child\n"),
    );
    let o = build(&d, &dir, "-t bbp-private");
    o.fails();
    d.docker(&["image", "inspect", &image]).fails();

    // Logged in, the build request carries them (`X-Registry-Config`).
    d.docker_stdin(
        &["login", "-u", "alice", "--password-stdin", &host],
        b"s3cret\n",
    )
    .ok();
    build(&d, &dir, "-t bbp-private")
        .ok()
        .stdout_has("v1: Pulling from bbp/private")
        .stdout_has(&format!("Status: Downloaded newer image for {image}"));
    d.docker(&["run", "--rm", "bbp-private", "cat", "/child"])
        .ok()
        .stdout_is("private\n");
    // The docker CLI 20.10 sends them the same way.
    d.docker(&["rmi", "bbp-private", &image]).ok();
    d.sh(&format!(
        "DOCKER_BUILDKIT=0 docker20 build -t bbp-private {} 2>&1",
        dir.display()
    ))
    .ok()
    .stdout_has(&format!("Status: Downloaded newer image for {image}"));
    d.docker(&["rmi", "bbp-private", &image]).ok();
    // And berth's CLI, from the same config.json.
    if d.clis().contains(&Cli::Berth) {
        let ctx = dir.display().to_string();
        d.run(Cli::Berth, &["build", "-t", "bbp-private", &ctx])
            .ok()
            .stdout_has("v1: Pulling from bbp/private")
            .stdout_has(&format!("Status: Downloaded newer image for {image}"));
        d.docker(&["rmi", "bbp-private", &image]).ok();
    }
    d.docker(&["logout", &host]).ok();
}
