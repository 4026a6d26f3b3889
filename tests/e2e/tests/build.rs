//! `docker build` (the classic builder, `DOCKER_BUILDKIT=0`) with the real
//! docker CLI: the seeds' Dockerfiles rewritten for the local busybox, the
//! layer cache, multi-stage builds, and bad input. Runs against dockerd too
//! (`BERTH_E2E_DAEMON=dockerd`).

use std::fs;
use std::path::{Path, PathBuf};

use berth_e2e::{Cli, Daemon, Out};

fn context(d: &Daemon, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = d.tmp().join(format!("bbd-ctx-{name}"));
    let _ = fs::remove_dir_all(&dir);
    for (path, content) in files {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, content).expect("write");
    }
    dir
}

fn build(d: &Daemon, dir: &Path, args: &str) -> Out {
    d.sh(&format!(
        "DOCKER_BUILDKIT=0 docker build {args} {} 2>&1",
        dir.display()
    ))
}

/// The seed's nginx-style image: ENV, WORKDIR, ADD, EXPOSE, CMD,
/// STOPSIGNAL, HEALTHCHECK; then it runs.
#[test]
fn seed_web_image_builds_and_runs() {
    let d = Daemon::start();
    let dir = context(
        &d,
        "web",
        &[
            (
                "Dockerfile",
                "FROM busybox\n\
                 ENV NGINX_VERSION 1.14.0-0ubuntu1.3\n\
                 RUN mkdir -p /var/www/html && echo \"version $NGINX_VERSION\" > /version\n\
                 WORKDIR /var/www/html\n\
                 ADD index.html ./\n\
                 EXPOSE 80\n\
                 CMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/var/www/html\"]\n\
                 STOPSIGNAL SIGTERM\n\
                 HEALTHCHECK CMD wget -q -O- localhost:80 || exit 1\n",
            ),
            ("index.html", "<h1>hello</h1>\n"),
        ],
    );
    let o = build(&d, &dir, "-t bbd-web");
    o.ok();
    o.stdout_has("Step 1/9 : FROM busybox\n")
        .stdout_has("Step 3/9 : RUN mkdir")
        .stdout_has("Successfully tagged bbd-web:latest\n");
    d.docker(&[
        "run",
        "--rm",
        "bbd-web",
        "sh",
        "-c",
        "cat /version; pwd; cat index.html",
    ])
    .ok()
    .stdout_is("version 1.14.0-0ubuntu1.3\n/var/www/html\n<h1>hello</h1>\n");
    d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Config.WorkingDir}}|{{.Config.Cmd}}|{{.Config.StopSignal}}|{{.Config.Healthcheck.Test}}|{{range $k, $v := .Config.ExposedPorts}}{{$k}}{{end}}",
        "bbd-web",
    ])
    .ok()
    .stdout_is("/var/www/html|[httpd -f -p 80 -h /var/www/html]|SIGTERM|[CMD-SHELL wget -q -O- localhost:80 || exit 1]|80/tcp\n");
    // image history shows each instruction as docker does.
    let h = d.docker(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "bbd-web",
    ]);
    h.ok()
        .stdout_has(
            "/bin/sh -c #(nop)  CMD [\"httpd\" \"-f\" \"-p\" \"80\" \"-h\" \"/var/www/html\"]\n",
        )
        .stdout_has("/bin/sh -c #(nop)  EXPOSE 80")
        .stdout_has("/bin/sh -c mkdir -p /var/www/html");
}

/// The seeds' inefficient vs efficient builds: the multi-stage image
/// takes only the binary from the compiler stage and is smaller.
#[test]
fn multi_stage_copies_only_the_binary() {
    let d = Daemon::start();
    let dir = context(
        &d,
        "ms",
        &[
            ("helloworld.src", "echo hello, world\n"),
            (
                "Dockerfile.inefficient",
                "FROM busybox\n\
                 WORKDIR /helloworld\n\
                 COPY helloworld.src .\n\
                 RUN dd if=/dev/zero of=/helloworld/toolchain bs=1024 count=512 2>/dev/null \\\n  && (echo '#!/bin/sh'; cat helloworld.src) > /helloworld/helloworld && chmod +x /helloworld/helloworld\n\
                 CMD [\"/helloworld/helloworld\"]\n",
            ),
            (
                "Dockerfile.efficient",
                "FROM busybox AS compiler\n\
                 WORKDIR /helloworld\n\
                 COPY helloworld.src .\n\
                 RUN dd if=/dev/zero of=/helloworld/toolchain bs=1024 count=512 2>/dev/null \\\n  && (echo '#!/bin/sh'; cat helloworld.src) > /helloworld/helloworld && chmod +x /helloworld/helloworld\n\
                 FROM busybox\n\
                 WORKDIR /root/\n\
                 COPY --from=compiler /helloworld/helloworld .\n\
                 CMD [\"./helloworld\"]\n",
            ),
        ],
    );
    build(
        &d,
        &dir,
        &format!("-t bbd-ineff -f {}/Dockerfile.inefficient", dir.display()),
    )
    .ok();
    build(
        &d,
        &dir,
        &format!("-t bbd-eff -f {}/Dockerfile.efficient", dir.display()),
    )
    .ok();
    d.docker(&["run", "--rm", "bbd-ineff"])
        .ok()
        .stdout_is("hello, world\n");
    d.docker(&["run", "--rm", "bbd-eff"])
        .ok()
        .stdout_is("hello, world\n");
    d.docker(&["run", "--rm", "bbd-eff", "ls", "/root", "/helloworld"])
        .fails()
        .stdout_has("helloworld");
    let size = |img: &str| -> u64 {
        d.docker(&["image", "inspect", "-f", "{{.Size}}", img])
            .stdout
            .trim()
            .parse()
            .unwrap_or(0)
    };
    assert!(
        size("bbd-eff") + 400 * 1024 < size("bbd-ineff"),
        "efficient image is not smaller"
    );
    // --target builds only the stages it needs.
    let o = build(
        &d,
        &dir,
        &format!(
            "--target compiler -t bbd-compiler -f {}/Dockerfile.efficient",
            dir.display()
        ),
    );
    o.ok();
    d.docker(&["run", "--rm", "bbd-compiler", "ls", "/helloworld/toolchain"])
        .ok();
}

/// A second build of an unchanged context is all cache; touching one
/// copied file rebuilds from that step on and no earlier.
#[test]
fn cache_hits_and_invalidation() {
    let d = Daemon::start();
    let dir = context(
        &d,
        "cache",
        &[
            (
                "Dockerfile",
                "FROM busybox\n\
                 ARG GREETING=hi\n\
                 RUN echo one > /one\n\
                 COPY a.txt /a.txt\n\
                 RUN echo $GREETING > /greet\n\
                 COPY b.txt /b.txt\n\
                 CMD [\"cat\", \"/b.txt\"]\n",
            ),
            ("a.txt", "a\n"),
            ("b.txt", "b\n"),
            ("ignored.log", "x\n"),
            (".dockerignore", "*.log\n"),
        ],
    );
    let first = build(&d, &dir, "-t bbd-cache");
    first.ok();
    assert!(!first.stdout.contains("Using cache"), "{first}");
    let second = build(&d, &dir, "-t bbd-cache");
    second.ok();
    assert_eq!(
        second.stdout.matches(" ---> Using cache").count(),
        6,
        "{second}"
    );
    let id = |o: &Out| {
        o.stdout
            .lines()
            .find_map(|l| l.strip_prefix("Successfully built "))
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(id(&first), id(&second));
    fs::write(dir.join("b.txt"), "b2\n").expect("write");
    let third = build(&d, &dir, "-t bbd-cache");
    third.ok();
    // FROM + ARG, RUN, COPY a, RUN cached; COPY b and CMD rebuilt.
    assert_eq!(
        third.stdout.matches(" ---> Using cache").count(),
        4,
        "{third}"
    );
    d.docker(&["run", "--rm", "bbd-cache"])
        .ok()
        .stdout_is("b2\n");
    // A build arg changes the RUN that uses it.
    let fourth = build(&d, &dir, "--build-arg GREETING=hello -t bbd-cache2");
    fourth.ok();
    d.docker(&["run", "--rm", "bbd-cache2", "cat", "/greet"])
        .ok()
        .stdout_is("hello\n");
    // .dockerignore kept ignored.log out of the context.
    let dir2 = context(
        &d,
        "ign",
        &[
            ("Dockerfile", "FROM busybox\nCOPY . /ctx/\n"),
            ("keep", "k"),
            ("x.log", "l"),
            (".dockerignore", "*.log\n"),
        ],
    );
    build(&d, &dir2, "-t bbd-ign").ok();
    d.docker(&["run", "--rm", "bbd-ign", "ls", "/ctx"])
        .ok()
        .stdout_is("Dockerfile\nkeep\n");
    // --no-cache uses none.
    let nc = build(&d, &dir, "--no-cache -t bbd-cache");
    nc.ok();
    assert!(!nc.stdout.contains("Using cache"), "{nc}");
}

#[test]
fn bad_input_is_refused() {
    let d = Daemon::start();
    let before = d.docker(&["images", "-q"]).stdout.lines().count();
    let dir = context(
        &d,
        "unknown",
        &[("Dockerfile", "FROM busybox\nRUN true\nFOO bar\n")],
    );
    build(&d, &dir, "-t bbd-bad")
        .fails()
        .stdout_has("line 3: unknown instruction: FOO");
    let dir = context(
        &d,
        "flag",
        &[("Dockerfile", "FROM busybox\nCOPY --nope=1 a /a\n")],
    );
    build(&d, &dir, "-t bbd-bad").fails().stdout_has("line 2");
    let dir = context(
        &d,
        "outside",
        &[("Dockerfile", "FROM busybox\nCOPY ../secret /s\n")],
    );
    build(&d, &dir, "-t bbd-bad")
        .fails()
        .stdout_has("forbidden path outside the build context");
    let dir = context(
        &d,
        "link",
        &[("Dockerfile", "FROM busybox\nCOPY link/passwd /p\n")],
    );
    std::os::unix::fs::symlink("/etc", dir.join("link")).expect("symlink");
    let o = build(&d, &dir, "-t bbd-bad");
    o.fails();
    assert!(!o.stdout.contains("Successfully built"), "{o}");
    let dir = context(
        &d,
        "fail",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo before\nRUN exit 3\nRUN echo after\n",
        )],
    );
    build(&d, &dir, "-t bbd-bad")
        .fails()
        .stdout_has("returned a non-zero code: 3");
    d.docker(&["image", "inspect", "bbd-bad"]).fails();
    let _ = before;
}

/// `berth build` (-q, --iidfile, --build-arg, --label, a Dockerfile on
/// stdin) and docker-py's `images.build`.
#[test]
fn berth_cli_and_python_sdk_build() {
    let d = Daemon::start();
    let dir = context(
        &d,
        "cli",
        &[
            (
                "Dockerfile",
                "FROM busybox\nARG X=1\nLABEL x=$X\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n",
            ),
            ("f", "F\n"),
        ],
    );
    let ctx = dir.display().to_string();
    if d.clis().contains(&Cli::Berth) {
        let iid = d.tmp().join("bbd-iid");
        let iid_s = iid.display().to_string();
        let o = d.run(
            Cli::Berth,
            &[
                "build",
                "-q",
                "--iidfile",
                &iid_s,
                "--build-arg",
                "X=2",
                "--label",
                "l=v",
                "-t",
                "bbd-cli",
                &ctx,
            ],
        );
        o.ok();
        assert!(o.stdout.starts_with("sha256:"), "{o}");
        assert_eq!(fs::read_to_string(&iid).expect("iidfile"), o.stdout.trim());
        d.docker(&["run", "--rm", "bbd-cli"]).ok().stdout_is("F\n");
        d.docker(&[
            "image",
            "inspect",
            "-f",
            "{{.Config.Labels.x}} {{.Config.Labels.l}}",
            "bbd-cli",
        ])
        .ok()
        .stdout_is("2 v\n");
        let berth = Cli::Berth.path().display().to_string();
        d.sh(&format!(
            "printf 'FROM busybox\\nCMD [\"echo\", \"from stdin\"]\\n' | {berth} build -t bbd-stdin -"
        ))
        .ok()
        .stdout_has("Successfully tagged bbd-stdin:latest");
        d.docker(&["run", "--rm", "bbd-stdin"])
            .ok()
            .stdout_is("from stdin\n");
        d.run(
            Cli::Berth,
            &["build", "-f", "/nonexistent/Dockerfile", &ctx],
        )
        .fails();
    }
    let script = format!(
        r#"python3 - <<'EOF'
import docker
c = docker.from_env()
img, logs = c.images.build(path="{ctx}", tag="bbd-py", buildargs={{"X": "3"}})
print(img.labels["x"], img.tags)
print(any("Successfully built" in l.get("stream", "") for l in logs))
try:
    c.images.build(fileobj=__import__("io").BytesIO(b"FROM busybox\nRUN exit 7\n"), tag="bbd-pyfail")
except docker.errors.BuildError as e:
    print("BuildError", "non-zero code: 7" in str(e))
EOF"#
    );
    d.sh(&script)
        .ok()
        .stdout_is("3 ['bbd-py:latest']\nTrue\nBuildError True\n");
}

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

/// `ADD` of a URL served on loopback, and of a local tar (extracted).
#[test]
fn add_url_and_local_tar() {
    let d = Daemon::start();
    // A one-shot HTTP server on loopback (dockerd here runs in its own
    // netns, so serve inside it when the harness says so).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut req = [0u8; 2048];
            let n = std::io::Read::read(&mut s, &mut req).unwrap_or(0);
            let req = String::from_utf8_lossy(&req[..n]).to_string();
            let resp = if req.starts_with("GET /files/hello.txt ") {
                "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello, http\n"
                    .to_string()
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = std::io::Write::write_all(&mut s, resp.as_bytes());
        }
    });
    let mut t = berth_e2e::fixture::TarBuilder::default();
    t.dir("pkg", 0o755);
    t.file("pkg/inside.txt", b"from the tar\n", 0o644);
    let tarball = t.finish();
    let dir = context(
        &d,
        "add",
        &[(
            "Dockerfile",
            &format!(
                "FROM busybox\nADD http://127.0.0.1:{port}/files/hello.txt /web/\nADD bundle.tar /opt/\n"
            ),
        )],
    );
    fs::write(dir.join("bundle.tar"), &tarball).expect("tar");
    if d.is_dockerd() {
        // dockerd fetches from its own network namespace, not this
        // loopback: check the local tar only.
        fs::write(
            dir.join("Dockerfile"),
            "FROM busybox\nADD bundle.tar /opt/\n",
        )
        .expect("write");
        build(&d, &dir, "-t bbd-add").ok();
        d.docker(&["run", "--rm", "bbd-add", "cat", "/opt/pkg/inside.txt"])
            .ok()
            .stdout_is("from the tar\n");
        drop(server);
        return;
    }
    build(&d, &dir, "-t bbd-add").ok();
    d.docker(&[
        "run",
        "--rm",
        "bbd-add",
        "sh",
        "-c",
        "cat /web/hello.txt; stat -c %a /web/hello.txt; cat /opt/pkg/inside.txt",
    ])
    .ok()
    .stdout_is("hello, http\n600\nfrom the tar\n");
    let bad = context(
        &d,
        "add404",
        &[(
            "Dockerfile",
            &format!("FROM busybox\nADD http://127.0.0.1:{port}/nope /x\n"),
        )],
    );
    build(&d, &bad, "-t bbd-add404").fails().stdout_has("404");
    let _ = server.join();
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

/// `ONBUILD` triggers: recorded in the base's `Config.OnBuild`, run right
/// after `FROM` in a child (in order, before the child's own steps), and
/// gone from the child so a grandchild does not run them again.
#[test]
fn onbuild_triggers_run_in_children_only() {
    let d = Daemon::start();
    let base = context(
        &d,
        "ob-base",
        &[(
            "Dockerfile",
            "FROM busybox\nONBUILD RUN echo triggered > /t1\nONBUILD COPY x.txt /x.txt\n",
        )],
    );
    build(&d, &base, "-t bbd-ob-base").ok();
    d.docker(&["inspect", "-f", "{{.Config.OnBuild}}", "bbd-ob-base"])
        .ok()
        .stdout_is("[RUN echo triggered > /t1 COPY x.txt /x.txt]\n");
    let child = context(
        &d,
        "ob-child",
        &[
            (
                "Dockerfile",
                "FROM bbd-ob-base\nRUN cat /t1 /x.txt > /both\n",
            ),
            ("x.txt", "from the child's context\n"),
        ],
    );
    build(&d, &child, "-t bbd-ob-child")
        .ok()
        .stdout_has("Step 1/2 : FROM bbd-ob-base\n# Executing 2 build triggers\n")
        .stdout_has("Step 2/2 : RUN cat /t1 /x.txt > /both\n");
    d.docker(&["run", "--rm", "bbd-ob-child", "cat", "/both"])
        .ok()
        .stdout_is("triggered\nfrom the child's context\n");
    d.docker(&["inspect", "-f", "{{.Config.OnBuild}}", "bbd-ob-child"])
        .ok()
        .stdout_is("[]\n");
    // The grandchild's context has no x.txt: a second run of the COPY
    // trigger would fail the build.
    let grand = context(
        &d,
        "ob-grand",
        &[("Dockerfile", "FROM bbd-ob-child\nRUN cat /both\n")],
    );
    let o = build(&d, &grand, "-t bbd-ob-grand");
    o.ok().stdout_has("triggered\n");
    assert!(!o.stdout.contains("Executing"), "{o}");
    // A failing trigger fails the child's build.
    let badbase = context(
        &d,
        "ob-badbase",
        &[("Dockerfile", "FROM busybox\nONBUILD RUN exit 3\n")],
    );
    build(&d, &badbase, "-t bbd-ob-bad").ok();
    let badchild = context(&d, "ob-badchild", &[("Dockerfile", "FROM bbd-ob-bad\n")]);
    build(&d, &badchild, "-t bbd-ob-badchild")
        .fails()
        .stdout_has("returned a non-zero code: 3");
}

/// Independent stages build concurrently (their `sleep`s overlap in
/// time), a stage the target does not need is not built, and the output
/// stays readable: every `Step N/M` line once, in order.
#[test]
fn independent_stages_build_concurrently() {
    let d = Daemon::start();
    if d.is_dockerd() {
        return;
    }
    // Host uptime (containers share the host's clock) before and after.
    let stage = |n: &str| {
        format!(
            "FROM busybox AS {n}\n\
             RUN echo {n}; cut -d' ' -f1 /proc/uptime > /start && sleep 2 && cut -d' ' -f1 /proc/uptime > /end\n"
        )
    };
    let dockerfile = format!(
        "{}{}FROM busybox AS unused\nRUN exit 7\nFROM busybox\n\
         COPY --from=a /start /a.start\nCOPY --from=a /end /a.end\n\
         COPY --from=b /start /b.start\nCOPY --from=b /end /b.end\n",
        stage("a"),
        stage("b")
    );
    let dir = context(&d, "par", &[("Dockerfile", &dockerfile)]);
    let t0 = std::time::Instant::now();
    let o = build(&d, &dir, "-t bbd-par");
    let took = t0.elapsed();
    o.ok();
    eprintln!("two 2 s stages built in {took:?}");
    let steps: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("Step "))
        .collect();
    let want: Vec<String> = (1..=9).map(|i| format!("Step {i}/9 : ")).collect();
    assert_eq!(steps.len(), 9, "{o}");
    for (s, w) in steps.iter().zip(&want) {
        assert!(s.starts_with(w.as_str()), "{s:?} out of order\n{o}");
    }
    assert!(!o.stdout.contains("exit 7"), "{o}");
    // Stage a's lines all come before stage b's first step.
    let a_out = o.stdout.find("\na\n").expect("stage a's output");
    let b_step = o.stdout.find("Step 3/9").expect("stage b's step");
    assert!(a_out < b_step, "{o}");
    let times = d.docker(&[
        "run", "--rm", "bbd-par", "cat", "/a.start", "/a.end", "/b.start", "/b.end",
    ]);
    times.ok();
    let t: Vec<f64> = times
        .stdout
        .lines()
        .map(|l| l.trim().parse().expect("uptime"))
        .collect();
    assert!(
        t[0] < t[3] && t[2] < t[1],
        "the stages' sleeps did not overlap: a {}..{}, b {}..{}",
        t[0],
        t[1],
        t[2],
        t[3]
    );
    // A failing stage stops its sibling (no 10 s wait) and fails the
    // build with its code; nothing is left behind with --force-rm.
    let failing = context(
        &d,
        "par-fail",
        &[(
            "Dockerfile",
            "FROM busybox AS a\nRUN sleep 0.5; exit 5\nFROM busybox AS b\nRUN sleep 10\n\
             FROM busybox\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\n",
        )],
    );
    let t0 = std::time::Instant::now();
    build(&d, &failing, "--force-rm -t bbd-par-fail")
        .fails()
        .stdout_has("returned a non-zero code: 5");
    eprintln!("failing build took {:?}", t0.elapsed());
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        t0.elapsed()
    );
    d.docker(&["ps", "-aq"]).ok().stdout_is("");
}

/// An HTTPS server on loopback (inside the daemon's network namespace
/// for dockerd) serving `dir`, with its CA; killed on drop.
struct HttpsServer {
    child: std::process::Child,
    port: u16,
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(args: &[&str], dir: &Path) {
    let o = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// (ca.crt path, server) with the CA and a 127.0.0.1 certificate made by
/// openssl in `certs`, serving `root`.
fn https_server(netns: Option<&str>, certs: &Path, root: &Path) -> (PathBuf, HttpsServer) {
    fs::create_dir_all(certs).expect("mkdir");
    fs::write(
        certs.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-days",
        "2",
        "-subj",
        "/CN=bbd test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    openssl(&ca, certs);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(&csr, certs);
    openssl(
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-CAcreateserial",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ],
        certs,
    );
    // Python's SimpleHTTPRequestHandler sends Last-Modified from the
    // file's mtime, which ADD gives the downloaded file.
    let script = "import http.server,ssl,sys,os\n\
        os.chdir(sys.argv[1])\n\
        s=http.server.ThreadingHTTPServer(('127.0.0.1',0),http.server.SimpleHTTPRequestHandler)\n\
        c=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
        c.load_cert_chain(sys.argv[2],sys.argv[3])\n\
        s.socket=c.wrap_socket(s.socket,server_side=True)\n\
        print(s.server_address[1],flush=True)\n\
        s.serve_forever()\n";
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", ns, "python3"]);
            c
        }
        None => std::process::Command::new("python3"),
    };
    let mut child = cmd
        .args(["-c", script])
        .arg(root)
        .arg(certs.join("server.crt"))
        .arg(certs.join("server.key"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    let out = child.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).expect("port");
    let port = line.trim().parse().expect("port");
    (certs.join("ca.crt"), HttpsServer { child, port })
}

/// `ADD https://...` from a loopback server whose CA the daemon trusts
/// through `SSL_CERT_FILE` (both dockerd and berthd read it): the file
/// lands with mode 600 and the server's Last-Modified as its mtime.
/// `--checksum` (BuildKit's; berthd only) refuses a body that differs.
#[test]
fn add_https_url() {
    let root = std::env::temp_dir().join(format!("bbd-https-{}", std::process::id()));
    let certs = root.join("certs");
    let www = root.join("www");
    fs::create_dir_all(www.join("files")).expect("mkdir");
    fs::write(www.join("files/hello.txt"), "hello, https\n").expect("write");
    // 2001-02-03 04:05:06 UTC
    let o = std::process::Command::new("touch")
        .args(["-d", "@981173106"])
        .arg(www.join("files/hello.txt"))
        .status()
        .expect("touch");
    assert!(o.success());
    let mut server = None;
    let ca = certs.join("ca.crt");
    let ca_s = ca.display().to_string();
    let d = Daemon::start_with_env(&[], &[("SSL_CERT_FILE", &ca_s)], |ns| {
        server = Some(https_server(ns, &certs, &www).1);
    });
    let server = server.expect("server");
    let url = format!("https://127.0.0.1:{}/files/hello.txt", server.port);
    let dir = context(
        &d,
        "add-https",
        &[("Dockerfile", &format!("FROM busybox\nADD {url} /web/\n"))],
    );
    build(&d, &dir, "-t bbd-add-https").ok();
    d.docker(&[
        "run",
        "--rm",
        "bbd-add-https",
        "stat",
        "-c",
        "%a %Y %s",
        "/web/hello.txt",
    ])
    .ok()
    .stdout_is("600 981173106 13\n");
    d.docker(&["run", "--rm", "bbd-add-https", "cat", "/web/hello.txt"])
        .ok()
        .stdout_is("hello, https\n");
    // A missing file: the status in the error.
    let missing = context(
        &d,
        "add-https-404",
        &[(
            "Dockerfile",
            &format!(
                "FROM busybox\nADD https://127.0.0.1:{}/nope /x\n",
                server.port
            ),
        )],
    );
    build(&d, &missing, "-t bbd-add-https-404")
        .fails()
        .stdout_has("404");
    if !d.is_dockerd() {
        let sum = "sha256:1f2ce2d9f7d1a8f1a4f0f7be1b6f4e2b2ab09b17a50d04c0b9d3ebc3e4a1a5c0";
        let bad = context(
            &d,
            "add-https-sum",
            &[(
                "Dockerfile",
                &format!("FROM busybox\nADD --checksum={sum} {url} /x\n"),
            )],
        );
        build(&d, &bad, "-t bbd-add-https-sum")
            .fails()
            .stdout_has("digest mismatch");
        let good = format!("sha256:{}", sha256_hex(b"hello, https\n"));
        fs::write(
            bad.join("Dockerfile"),
            format!("FROM busybox\nADD --checksum={good} {url} /x\n"),
        )
        .expect("write");
        build(&d, &bad, "-t bbd-add-https-sum").ok();
        let local = context(
            &d,
            "add-sum-local",
            &[
                (
                    "Dockerfile",
                    &format!("FROM busybox\nADD --checksum={good} f /x\n"),
                ),
                ("f", "x"),
            ],
        );
        build(&d, &local, "-t bbd-add-sum-local")
            .fails()
            .stdout_has("checksum can't be specified for non-HTTP(S) sources");
    }
    drop(server);
    drop(d);
    let _ = fs::remove_dir_all(&root);
}

fn sha256_hex(data: &[u8]) -> String {
    let o = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            std::io::Write::write_all(c.stdin.as_mut().expect("stdin"), data)?;
            c.wait_with_output()
        })
        .expect("sha256sum");
    String::from_utf8_lossy(&o.stdout)[..64].to_string()
}

/// `docker builder prune` as a cache GC over the classic builder's step
/// images: by default only the cache nothing needs (a failed build's
/// steps), with `-a` also the chain under an untagged (`<none>`) build
/// result, never what a tagged image needs; `until` and bad filters; the
/// cache survives `docker image prune` deleting images under it (lookups
/// verify). berthd only: dockerd's prune endpoint GCs BuildKit's cache,
/// not the classic builder's images.
#[test]
fn builder_prune_collects_only_unneeded_cache() {
    let d = Daemon::start();
    if d.is_dockerd() {
        return;
    }
    let keep = context(
        &d,
        "gc-keep",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN dd if=/dev/zero of=/keep bs=1024 count=300 2>/dev/null\nRUN echo kept > /k\n",
        )],
    );
    build(&d, &keep, "-t bbd-gc-keep").ok();
    let failed = context(
        &d,
        "gc-failed",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN dd if=/dev/zero of=/junk bs=1024 count=1024 2>/dev/null\nRUN exit 1\n",
        )],
    );
    // --force-rm: a kept failed container would hold the step image.
    build(&d, &failed, "--force-rm -t bbd-gc-failed").fails();
    let moved = context(
        &d,
        "gc-moved",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY f /f\nRUN dd if=/dev/zero of=/m bs=1024 count=200 2>/dev/null\n",
            ),
            ("f", "one"),
        ],
    );
    build(&d, &moved, "-t bbd-gc-moved").ok();
    let old = d.inspect("bbd-gc-moved", "{{.Id}}");
    fs::write(moved.join("f"), "two").expect("write");
    build(&d, &moved, "-t bbd-gc-moved").ok();
    assert_ne!(d.inspect("bbd-gc-moved", "{{.Id}}"), old);

    // A recent `until` keeps everything.
    d.docker(&["builder", "prune", "-f", "--filter", "until=1h"])
        .ok()
        .stdout_is("Total reclaimed space: 0B\n");
    d.docker(&["builder", "prune", "-f", "--filter", "foo=bar"])
        .fails()
        .stderr_has("invalid filter 'foo'");

    // Default: the failed build's step image (1 MiB) goes, nothing else.
    let p = d.docker(&["builder", "prune", "-f"]);
    p.ok()
        .stdout_has("Deleted build cache objects:\n")
        .stdout_has("Total reclaimed space: 1.");
    assert!(p.stdout.contains("MB\n"), "{p}");
    d.docker(&["image", "inspect", "-f", "{{.Id}}", &old]).ok();
    let again = build(&d, &keep, "-t bbd-gc-keep");
    again.ok();
    assert!(!again.stdout.contains("Running in"), "{again}");
    let refailed = build(&d, &failed, "--force-rm -t bbd-gc-failed");
    refailed.fails();
    assert_eq!(
        refailed.stdout.matches("Running in").count(),
        2,
        "{refailed}"
    );

    // Room to keep all of it: nothing goes.
    d.docker(&["builder", "prune", "-af", "--keep-storage", "1GB"])
        .ok()
        .stdout_is("Total reclaimed space: 0B\n");
    d.docker(&["image", "inspect", "-f", "{{.Id}}", &old]).ok();
    // -a: the old `<none>` result and its own steps go too; what the tags
    // need stays cached.
    d.docker(&["builder", "prune", "-af"])
        .ok()
        .stdout_has("Deleted build cache objects:\n");
    d.docker(&["image", "inspect", &old])
        .fails()
        .stderr_has("No such image");
    for ctx in [&keep, &moved] {
        let o = build(&d, ctx, "-t bbd-gc-x");
        o.ok();
        assert!(!o.stdout.contains("Running in"), "{o}");
    }
    d.docker(&["builder", "prune", "-af"])
        .ok()
        .stdout_is("Total reclaimed space: 0B\n");

    // `docker image prune` deletes images under the cache: the next
    // build verifies its entries and runs the steps again.
    d.docker(&["rmi", "bbd-gc-keep", "bbd-gc-x"]).ok();
    d.docker(&["image", "prune", "-f"]).ok();
    let rebuilt = build(&d, &keep, "-t bbd-gc-keep");
    rebuilt.ok();
    assert_eq!(rebuilt.stdout.matches("Running in").count(), 2, "{rebuilt}");

    // The berth CLI.
    d.run(berth_e2e::Cli::Berth, &["builder", "prune", "-f"])
        .ok()
        .stdout_has("Total reclaimed space:");
}

/// A build's step images are the cache: as on dockerd they hang off their
/// parents, `images` hides them (`-a` shows them), `image prune` keeps
/// them (so the next build is all cache), a parent can't be deleted
/// under its children, and `rmi` of the result takes the untagged chain.
#[test]
fn step_images_are_kept_as_parents() {
    let d = Daemon::start();
    let dir = context(
        &d,
        "steps",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo a > /a\nRUN echo b > /b\nLABEL x=y\n",
        )],
    );
    build(&d, &dir, "-t bbd-steps").ok();
    let rows = |args: &[&str]| {
        let mut a = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        a.extend_from_slice(args);
        let o = d.docker(&a);
        o.ok();
        let mut v: Vec<String> = o.stdout.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert!(!rows(&[]).contains(&"<none>:<none>".to_string()));
    let all = rows(&["-a"]);
    assert_eq!(
        all.iter().filter(|r| *r == "<none>:<none>").count(),
        2,
        "{all:?}"
    );
    // Parent and history name the step images.
    let parent = d.docker(&["inspect", "-f", "{{.Parent}}", "bbd-steps"]);
    parent.ok();
    let parent = parent.stdout.trim().to_string();
    assert!(parent.starts_with("sha256:"), "{parent}");
    let hist = d.docker(&["history", "-q", "--no-trunc", "bbd-steps"]);
    hist.ok();
    let ids: Vec<&str> = hist.stdout.lines().collect();
    assert_eq!(ids.get(1).copied(), Some(parent.as_str()), "{hist}");
    assert!(!ids.contains(&"<missing>"), "{hist}");
    // Prune leaves them; the rebuild is all cache.
    d.docker(&["image", "prune", "-f"])
        .ok()
        .stdout_is("Total reclaimed space: 0B\n");
    let again = build(&d, &dir, "-t bbd-steps");
    again.ok();
    assert_eq!(
        again.stdout.matches(" ---> Using cache").count(),
        3,
        "{again}"
    );
    // Parents can't go under their children, not even forced.
    for args in [
        vec!["rmi", parent.as_str()],
        vec!["rmi", "-f", parent.as_str()],
    ] {
        d.docker(&args)
            .code_is(1)
            .stderr_has("(cannot be forced) - image has dependent child images");
    }
    // The base image with children is only untagged.
    d.docker(&["tag", "busybox", "bbd-base"]).ok();
    d.docker(&["rmi", "bbd-base"])
        .ok()
        .stdout_is("Untagged: bbd-base:latest\n");
    // rmi of the result deletes it and its untagged parents, not busybox.
    let rmi = d.docker(&["rmi", "bbd-steps"]);
    rmi.ok();
    assert!(rmi.stdout.matches("Deleted: sha256:").count() >= 3, "{rmi}");
    assert_eq!(rows(&["-a"]), vec!["busybox:latest".to_string()]);
}
