//! `docker build` (the classic builder, `DOCKER_BUILDKIT=0`) with the real
//! docker CLI: the seeds' Dockerfiles rewritten for the local busybox, the
//! layer cache, multi-stage builds, and bad input. Runs against dockerd too
//! (`BERTH_E2E_DAEMON=dockerd`).

use std::fs;

use berth_e2e::build::{build, context};
use berth_e2e::{Cli, Daemon};

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
