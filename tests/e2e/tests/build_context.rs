//! `docker build` (the classic builder): what the context and the
//! Dockerfile put in the image (`COPY --chown/--chmod`, heredocs), hostile
//! context tars, and a build cancelled half-way. Runs against dockerd too
//! (`BERTH_E2E_DAEMON=dockerd`).

use std::fs;
use std::path::Path;

use berth_e2e::build::{build, context};
use berth_e2e::{Cli, Daemon};

/// Hostile context tars are refused and write nothing outside.
#[test]
fn hostile_context_tars_are_refused() {
    let d = Daemon::start();
    let before = d.docker(&["images", "-q"]).stdout.lines().count();
    let mut cases = Vec::new();
    let mut t = berth_e2e::fixture::TarBuilder::default();
    t.file("Dockerfile", b"FROM busybox\nCOPY . /\n", 0o644);
    t.file("../bbd-evil1", b"x", 0o644);
    cases.push(t.finish());
    let mut t = berth_e2e::fixture::TarBuilder::default();
    t.file("Dockerfile", b"FROM busybox\nCOPY . /\n", 0o644);
    t.symlink("link", "/tmp");
    t.file("link/bbd-evil2", b"x", 0o644);
    cases.push(t.finish());
    let mut t = berth_e2e::fixture::TarBuilder::default();
    t.file("Dockerfile", b"FROM busybox\nCOPY . /\n", 0o644);
    t.symlink("up", "../../../../../../../../tmp");
    t.file("up/bbd-evil3", b"x", 0o644);
    cases.push(t.finish());
    for (i, body) in cases.iter().enumerate() {
        let r = d.http(
            "POST",
            "/build?t=bbd-hostile",
            Some("application/x-tar"),
            body,
        );
        let text = r.text();
        // berthd refuses such a context; dockerd cleans the names and
        // builds. Either way nothing may land outside.
        if !d.is_dockerd() {
            assert!(
                r.status == 400 && text.contains("invalid build context"),
                "case {i}: accepted: {} {text}",
                r.status
            );
        }
    }
    for n in ["bbd-evil1", "bbd-evil2", "bbd-evil3"] {
        assert!(!Path::new("/tmp").join(n).exists(), "{n} escaped to /tmp");
        let found = d.sh(&format!("find /tmp/be2e -name {n} 2>/dev/null"));
        let outside: Vec<&str> = found
            .stdout
            .lines()
            // Inside an image's layer is inside the image, not an escape.
            .filter(|l| !l.contains("/overlay2/"))
            .collect();
        assert!(outside.is_empty(), "{n} written at {outside:?}");
    }
    if !d.is_dockerd() {
        d.docker(&["image", "inspect", "bbd-hostile"]).fails();
        assert_eq!(d.docker(&["images", "-q"]).stdout.lines().count(), before);
    }
}

/// A build whose client goes away half-way leaves no image and no container.
#[test]
fn cancelled_build_leaves_nothing() {
    let d = Daemon::start();
    let dir = context(
        &d,
        "cancel",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo started; sleep 60\nRUN echo never\n",
        )],
    );
    let mut c = d.cli_command(Cli::Docker);
    c.env("DOCKER_BUILDKIT", "0")
        .args(["build", "-t", "bbd-cancel", &dir.display().to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().expect("docker build");
    let mut out = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("started") {
        assert!(
            std::time::Instant::now() < deadline,
            "no RUN output: {}",
            String::from_utf8_lossy(&seen)
        );
        let n = std::io::Read::read(&mut out, &mut buf).expect("read");
        assert!(
            n > 0,
            "build ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(out);
    // The daemon notices, stops the RUN container and removes it.
    let mut left = String::new();
    for _ in 0..100 {
        left = d.docker(&["ps", "-aq"]).stdout;
        if left.trim().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(left.trim().is_empty(), "containers left: {left}");
    d.docker(&["image", "inspect", "bbd-cancel"]).fails();
}

/// `COPY --chown` (numbers and names from the image's files), `--chmod`,
/// a directory source, and a relative destination under `WORKDIR`.
#[test]
fn copy_chown_chmod_and_dirs() {
    let d = Daemon::start();
    // dockerd's classic builder refuses --chmod ("requires BuildKit");
    // berth takes it, as BuildKit does.
    let (chmod, mode) = if d.is_dockerd() {
        ("", "644")
    } else {
        ("--chmod=0750 ", "750")
    };
    let dockerfile = format!(
        "FROM busybox\nWORKDIR /w\nCOPY --chown=1000:1001 {chmod}f.sh sub/\nCOPY --chown=root d/ dd/\nCOPY d/x.txt d/y.txt multi/\n"
    );
    let dir = context(
        &d,
        "chown",
        &[
            ("Dockerfile", &dockerfile),
            ("f.sh", "#!/bin/sh\n"),
            ("d/x.txt", "x\n"),
            ("d/y.txt", "y\n"),
        ],
    );
    build(&d, &dir, "-t bbd-chown").ok();
    d.docker(&[
        "run",
        "--rm",
        "bbd-chown",
        "sh",
        "-c",
        "stat -c '%u:%g %a' sub/f.sh; stat -c '%u:%g' dd/x.txt; cat dd/y.txt; ls multi",
    ])
    .ok()
    .stdout_is(&format!("1000:1001 {mode}\n0:0\ny\nx.txt\ny.txt\n"));
    let bad = context(
        &d,
        "chown-bad",
        &[
            ("Dockerfile", "FROM busybox\nCOPY --chown=nosuchuser f /f\n"),
            ("f", "f"),
        ],
    );
    build(&d, &bad, "-t bbd-chown-bad")
        .fails()
        .stdout_has("nosuchuser");
}

/// Heredocs as BuildKit's Dockerfile frontend defines them (dockerd's
/// classic builder has none, so berthd only): a lone `RUN <<EOF` script,
/// a `#!` script run as the program, heredocs fed to a named program,
/// quoted delimiters, `<<-`, `COPY`/`ADD <<EOF` files with `--chmod` and
/// `--chown`, and the content in the cache key.
#[test]
fn heredocs_run_copy_and_add() {
    let d = Daemon::start();
    if d.is_dockerd() {
        return;
    }
    let df = |shebang_word: &str| {
        format!(
            "FROM busybox\n\
             ARG NAME=world\n\
             RUN <<EOF\n\
             echo \"hello $NAME\" > /greet\n\
             EOF\n\
             RUN <<EOF\n\
             #!/bin/sh\n\
             echo \"{shebang_word} $0\" > /shebang\n\
             EOF\n\
             RUN cat <<'EOF' > /quoted && cat <<X > /two\n\
             lit $NAME\n\
             EOF\n\
             exp $NAME\n\
             X\n\
             RUN <<EOF awk '{{print \"awk:\" $0}}' > /awk\n\
             line1\n\
             EOF\n\
             RUN <<-EOF\n\
             \techo tabs > /tabs\n\
             \tEOF\n\
             COPY --chmod=755 <<EOF /usr/local/bin/hi\n\
             #!/bin/sh\n\
             echo hi $NAME\n\
             EOF\n\
             COPY <<'A' <<B /docs/\n\
             raw $NAME \"q\"\n\
             A\n\
             exp ${{NAME}} \"q\"\n\
             B\n\
             ADD --chown=1:2 <<EOF /added\n\
             added\n\
             EOF\n"
        )
    };
    let dir = context(&d, "heredoc", &[("Dockerfile", &df("shebang"))]);
    let o = build(&d, &dir, "-t bbd-heredoc");
    o.ok()
        .stdout_has("Step 10/10 : ADD --chown=1:2 <<EOF /added\n");
    d.docker(&[
        "run",
        "--rm",
        "bbd-heredoc",
        "sh",
        "-c",
        "cat /greet /shebang /quoted /two /awk /tabs; hi; stat -c '%a' /usr/local/bin/hi; \
         cat /docs/A /docs/B /added; stat -c '%u:%g %a' /added",
    ])
    .ok()
    .stdout_is(
        "hello world\nshebang /dev/pipes/EOF\nlit $NAME\nexp world\nawk:line1\ntabs\n\
         hi world\n755\nraw $NAME \"q\"\nexp world \"q\"\nadded\n1:2 644\n",
    );
    // Same Dockerfile: every step from the cache.
    let again = build(&d, &dir, "-t bbd-heredoc");
    again.ok();
    assert!(!again.stdout.contains("Running in"), "{again}");
    // A heredoc's content is in the key: the `#!` script (whose history
    // line shows only its path) runs again when it changes.
    fs::write(dir.join("Dockerfile"), df("changed")).expect("write");
    let changed = build(&d, &dir, "-t bbd-heredoc");
    changed.ok().stdout_has("Running in");
    d.docker(&["run", "--rm", "bbd-heredoc", "cat", "/shebang"])
        .ok()
        .stdout_is("changed /dev/pipes/EOF\n");
    // A failing script fails the build with its code.
    let bad = context(
        &d,
        "heredoc-bad",
        &[("Dockerfile", "FROM busybox\nRUN <<EOF\nfalse\nEOF\n")],
    );
    build(&d, &bad, "-t bbd-heredoc-bad")
        .fails()
        .stdout_has("returned a non-zero code: 1");
}
