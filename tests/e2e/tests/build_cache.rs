//! `docker build` (the classic builder) and its layer cache: cache hits
//! and invalidation, step images kept as parents, and `docker builder
//! prune`. Runs against dockerd too (`BERTH_E2E_DAEMON=dockerd`) where
//! a test says so.

use std::fs;

use berth_e2e::build::{build, context};
use berth_e2e::{Daemon, Out};

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
