//! Docker contexts for a remote daemon over mutual TLS (see
//! `berth_e2e::remote`): a context made by the docker CLI 28 works in
//! berth and one made by berth works in the docker CLI.

use std::path::Path;

use berth_e2e::remote::{assert_gone, setup, Remote};
use berth_e2e::Cli;

#[test]
fn contexts_made_by_either_cli_work_in_the_other() {
    let (ns, sif);
    {
        let r = setup();
        ns = r.net.ns.clone();
        sif = r.net.server_if.clone();
        let version = r.server_version();
        let host = r.net.host();
        let cfg = r.home.join(".docker");
        create_contexts(&r, &host, &cfg);
        each_cli_uses_the_others_contexts(&r, &version);
        a_copy_keeps_the_endpoint(&r, &version);
        listings_and_documents_match(&r, &host);
        context_use_is_followed_by_the_other_cli(&r, &version, &cfg);
        removal_needs_f_in_use_and_works_across_clis(&r, &cfg);
    }
    assert_gone(&ns, &sif);
}

/// Contexts made by berth (verified and skip-tls-verify) and by docker, with
/// config.json holding keys of other tools.
fn create_contexts(r: &Remote, host: &str, cfg: &Path) {
    // Keys of other tools must survive berth's writes.
    std::fs::write(
        cfg.join("config.json"),
        "{\"auths\":{},\"psFormat\":\"table {{.ID}}\",\"detachKeys\":\"ctrl-x,x\"}",
    )
    .unwrap();
    let spec = format!(
        "host={host},ca={},cert={},key={}",
        r.cert("ca.pem"),
        r.cert("client-cert.pem"),
        r.cert("client-key.pem")
    );
    let none: [(&str, &str); 0] = [];
    let cli = |c: Cli, args: &[&str]| r.cli_in(c, &none, args, None);

    let o = cli(
        Cli::Berth,
        &[
            "context",
            "create",
            "bcli-b",
            "--description",
            "made by berth",
            "--docker",
            &spec,
        ],
    );
    o.ok().stdout_is("bcli-b\n");
    assert_eq!(o.stderr, "Successfully created context \"bcli-b\"\n");
    cli(
        Cli::Docker,
        &["context", "create", "bcli-d", "--docker", &spec],
    )
    .ok();
    let skip = format!(
        "host={host},cert={},key={},skip-tls-verify=true",
        r.cert("client-cert.pem"),
        r.cert("client-key.pem")
    );
    cli(
        Cli::Berth,
        &["context", "create", "bcli-skip", "--docker", &skip],
    )
    .ok();
}

/// Each CLI uses the other's context.
fn each_cli_uses_the_others_contexts(r: &Remote, version: &str) {
    let none: [(&str, &str); 0] = [];
    let cli = |c: Cli, args: &[&str]| r.cli_in(c, &none, args, None);
    cli(
        Cli::Docker,
        &[
            "--context",
            "bcli-b",
            "version",
            "--format",
            "{{.Server.Version}}",
        ],
    )
    .ok()
    .stdout_is(version);
    cli(
        Cli::Docker,
        &[
            "--context",
            "bcli-b",
            "run",
            "--rm",
            "busybox",
            "echo",
            "hi",
        ],
    )
    .ok()
    .stdout_is("hi\n");
    cli(
        Cli::Docker,
        &[
            "--context",
            "bcli-skip",
            "version",
            "--format",
            "{{.Server.Version}}",
        ],
    )
    .ok()
    .stdout_is(version);
    cli(
        Cli::Berth,
        &[
            "--context",
            "bcli-d",
            "run",
            "--rm",
            "busybox",
            "echo",
            "hi",
        ],
    )
    .ok()
    .stdout_is("hi\n");
    cli(
        Cli::Berth,
        &[
            "-c",
            "bcli-skip",
            "version",
            "--format",
            "{{.Server.Version}} {{.Client.Context}}",
        ],
    )
    .ok()
    .stdout_is(&format!("{} bcli-skip\n", version.trim_end()));
    let o = r.cli_in(
        Cli::Berth,
        &[("DOCKER_CONTEXT", "bcli-d")],
        &["version", "--format", "{{.Client.Context}}"],
        None,
    );
    o.ok().stdout_is("bcli-d\n");
}

/// A copy (`--from`) keeps the endpoint and its TLS files.
fn a_copy_keeps_the_endpoint(r: &Remote, version: &str) {
    let none: [(&str, &str); 0] = [];
    let cli = |c: Cli, args: &[&str]| r.cli_in(c, &none, args, None);
    cli(
        Cli::Berth,
        &["context", "create", "bcli-copy", "--from", "bcli-d"],
    )
    .ok();
    cli(
        Cli::Docker,
        &[
            "--context",
            "bcli-copy",
            "version",
            "--format",
            "{{.Server.Version}}",
        ],
    )
    .ok()
    .stdout_is(version);
    cli(Cli::Docker, &["context", "rm", "bcli-copy"])
        .ok()
        .stdout_is("bcli-copy\n");
}

/// The listing and the documents, byte for byte (with DOCKER_HOST set, so
/// the default context shows the same endpoint in both).
fn listings_and_documents_match(r: &Remote, host: &str) {
    let env = [("DOCKER_HOST", host)];
    for args in [
        &["context", "ls"][..],
        &["context", "ls", "-q"],
        &["context", "ls", "--format", "json"],
        &[
            "context",
            "ls",
            "--format",
            "{{.Name}}: {{.DockerEndpoint}} {{.Current}}",
        ],
        &["context", "inspect", "bcli-b", "bcli-d", "bcli-skip"],
        &[
            "context",
            "inspect",
            "--format",
            "{{.Name}} {{.Endpoints.docker.Host}}",
            "bcli-b",
        ],
        &["context", "show"],
        &["--context", "bcli-nope", "ps"],
        &["--context", "bcli-b", "-H", host, "ps"],
        &["context", "use", "bcli-nope"],
        &["context", "create", "bcli-b", "--docker", "host=tcp://x:1"],
        &["context", "create", "bad name"],
        &["context", "create", "bcli-x", "--docker", "host=x,bogus=1"],
        &["context", "rm", "default"],
    ] {
        let d = r.cli_in(Cli::Docker, &env, args, None);
        let b = r.cli_in(Cli::Berth, &env, args, None);
        assert_eq!(
            (d.code, &d.stdout, &d.stderr),
            (b.code, &b.stdout, &b.stderr),
            "berth {args:?} differs from the docker CLI\n--- docker\n{d}\n--- berth\n{b}"
        );
    }
}

/// `context use` writes config.json; the other CLI follows it.
fn context_use_is_followed_by_the_other_cli(r: &Remote, version: &str, cfg: &Path) {
    let none: [(&str, &str); 0] = [];
    let cli = |c: Cli, args: &[&str]| r.cli_in(c, &none, args, None);
    let o = cli(Cli::Berth, &["context", "use", "bcli-d"]);
    o.ok().stdout_is("bcli-d\n");
    assert_eq!(o.stderr, "Current context is now \"bcli-d\"\n");
    cli(Cli::Docker, &["context", "show"])
        .ok()
        .stdout_is("bcli-d\n");
    cli(Cli::Docker, &["version", "--format", "{{.Server.Version}}"])
        .ok()
        .stdout_is(version);
    let cfg_text = std::fs::read_to_string(cfg.join("config.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&cfg_text).unwrap();
    assert_eq!(v["currentContext"], "bcli-d");
    assert_eq!(v["psFormat"], "table {{.ID}}");
    assert_eq!(v["detachKeys"], "ctrl-x,x");
    cli(Cli::Docker, &["context", "use", "bcli-b"]).ok();
    cli(Cli::Berth, &["context", "show"])
        .ok()
        .stdout_is("bcli-b\n");
    cli(
        Cli::Berth,
        &["run", "--rm", "busybox", "echo", "via current"],
    )
    .ok()
    .stdout_is("via current\n");
    // The listing marks the current one, in both.
    let d = cli(
        Cli::Docker,
        &["context", "ls", "--format", "{{.Name}} {{.Current}}"],
    );
    let b = cli(
        Cli::Berth,
        &["context", "ls", "--format", "{{.Name}} {{.Current}}"],
    );
    assert_eq!(d.stdout, b.stdout);
    b.stdout_has("bcli-b true\n");
}

/// The context in use goes only with -f, which also forgets it; docker
/// removes what berth made, and the reverse.
fn removal_needs_f_in_use_and_works_across_clis(r: &Remote, cfg: &Path) {
    let none: [(&str, &str); 0] = [];
    let cli = |c: Cli, args: &[&str]| r.cli_in(c, &none, args, None);
    let o = cli(Cli::Berth, &["context", "rm", "bcli-b"]);
    o.fails()
        .stderr_has("context \"bcli-b\" is in use, set -f flag to force remove");
    cli(Cli::Berth, &["context", "rm", "-f", "bcli-b"])
        .ok()
        .stdout_is("bcli-b\n");
    cli(Cli::Docker, &["context", "show"])
        .ok()
        .stdout_is("default\n");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cfg.join("config.json")).unwrap()).unwrap();
    assert!(v.get("currentContext").is_none());
    assert_eq!(v["psFormat"], "table {{.ID}}");
    let o = cli(Cli::Docker, &["context", "ls", "-q"]);
    o.ok().stdout_is("bcli-d\nbcli-skip\ndefault\n");
    // docker removes what berth made, and the reverse.
    cli(Cli::Docker, &["context", "rm", "bcli-skip"]).ok();
    cli(Cli::Berth, &["context", "rm", "bcli-d"]).ok();
    cli(Cli::Berth, &["context", "ls", "-q"])
        .ok()
        .stdout_is("default\n");
    let left: Vec<_> = std::fs::read_dir(cfg.join("contexts/meta"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "context metadata left: {left:?}");
}
