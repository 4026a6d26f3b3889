//! `network ...` and `port` through both CLIs against the same daemon:
//! `berth` must print byte for byte what the docker CLI 28 prints (with
//! its own name in usage text), and exit with the same code. The docker
//! CLI's own output is checked too, so the tests mean something against a
//! real dockerd (`BERTH_E2E_DAEMON=dockerd`).
//!
//! Names start with `bcn`; subnets are 10.231-233.x.0/24, chosen by the
//! tests so no daemon-wide pool decides them.

use berth_e2e::{cmd, is_hex64, Cli, Daemon, Out, CMD_TIMEOUT};

/// Whether `berth` takes part: always against berthd (it must be built),
/// against dockerd only with `BERTH_E2E_BERTH_CLI=1`.
fn with_berth(d: &Daemon) -> bool {
    let on = d.clis().contains(&Cli::Berth);
    if !d.is_dockerd() && !on {
        panic!(
            "{} is missing: build the workspace's binaries first",
            Cli::Berth.path().display()
        );
    }
    on
}

fn run_with_stdin(d: &Daemon, cli: Cli, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let mut c = d.cli_command(cli);
    c.args(args);
    cmd::run(c, stdin.map(<[u8]>::to_vec), CMD_TIMEOUT)
}

/// The docker CLI's text with berth's name in it (usage lines, hints).
fn as_berth(s: &str) -> String {
    s.replace("docker", "berth")
        .replace("Docker daemon", "berth daemon")
}

/// Runs `args` through the docker CLI 28 and through berth; panics unless
/// both print the same and exit the same. Returns the docker CLI's result.
#[track_caller]
fn same_with_stdin(d: &Daemon, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let docker = run_with_stdin(d, Cli::Docker, args, stdin);
    if with_berth(d) {
        let berth = run_with_stdin(d, Cli::Berth, args, stdin);
        let want_err = as_berth(&docker.stderr);
        if berth.stdout != docker.stdout || berth.stderr != want_err || berth.code != docker.code {
            panic!(
                "berth differs from the docker CLI for {args:?}\n=== docker:\n{docker}\n=== berth:\n{berth}"
            );
        }
    }
    docker
}

#[track_caller]
fn same(d: &Daemon, args: &[&str]) -> Out {
    same_with_stdin(d, args, None)
}

#[test]
fn create_ls_inspect_rm_match_docker() {
    let d = Daemon::start();
    let id = d
        .docker(&[
            "network",
            "create",
            "--subnet",
            "10.231.0.0/24",
            "--gateway",
            "10.231.0.254",
            "--label",
            "team=blue",
            "-o",
            "com.example.x=1",
            "bcn-a",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert!(is_hex64(&id), "network create prints the ID: {id:?}");
    let cli = if with_berth(&d) {
        Cli::Berth
    } else {
        Cli::Docker
    };
    let id2 = d
        .run(
            cli,
            &[
                "network",
                "create",
                "--internal",
                "--attachable",
                "--subnet",
                "10.232.0.0/24",
                "--ip-range",
                "10.232.0.128/25",
                "bcn-b",
            ],
        )
        .ok()
        .stdout
        .trim()
        .to_string();
    assert!(is_hex64(&id2), "network create prints the ID: {id2:?}");

    ls_shows_both(&d, &id);
    inspect_shows_both(&d, &id);
    inspect_finds_networks(&d);
    clash_then_removal(&d);
}

/// Both are there, with what was asked.
fn ls_shows_both(d: &Daemon, id: &str) {
    let ls = same(d, &["network", "ls"]);
    ls.ok();
    assert_eq!(
        ls.lines()[0].split_whitespace().collect::<Vec<_>>(),
        ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    );
    assert!(
        ls.lines()
            .iter()
            .any(|l| l.starts_with(&id[..12]) && l.contains(" bcn-a ")),
        "{ls}"
    );
    same(d, &["network", "ls", "-q"])
        .ok()
        .stdout_has(&format!("{}\n", &id[..12]));
    same(d, &["network", "ls", "--no-trunc"])
        .ok()
        .stdout_has(id);
    same(d, &["network", "ls", "--format", "{{json .}}"]).ok();
    same(
        d,
        &[
            "network",
            "ls",
            "-f",
            "name=bcn",
            "--format",
            "{{.Name}} {{.Driver}} {{.Internal}} {{.Labels}}",
        ],
    )
    .ok()
    .stdout_is("bcn-a bridge false team=blue\nbcn-b bridge true \n");
    same(
        d,
        &["network", "ls", "-f", "label=team=blue", "-q", "--no-trunc"],
    )
    .ok()
    .stdout_is(&format!("{id}\n"));
    same(
        d,
        &[
            "network",
            "ls",
            "--format",
            "table {{.Name}}\t{{.Internal}}\t{{.Label \"team\"}}",
            "-f",
            "name=bcn",
        ],
    )
    .ok();
    same(d, &["network", "ls", "-f", "bogus=1"]).code_is(1);
    same(d, &["network", "ls", "-f", "nofilter"]).code_is(125);
}

/// `network inspect` of both, by name and ID, formatted, and missing ones.
fn inspect_shows_both(d: &Daemon, id: &str) {
    same(d, &["network", "inspect", "bcn-a"])
        .ok()
        .stdout_has("\"Subnet\": \"10.231.0.0/24\"");
    same(d, &["network", "inspect", "bcn-b", "bridge", id]).ok();
    same(d, &["network", "inspect", "-f", "{{.Name}} {{.Internal}} {{.Attachable}} {{range .IPAM.Config}}{{.Subnet}} {{.IPRange}} {{.Gateway}}{{end}}", "bcn-a", "bcn-b"])
        .ok()
        .stdout_is("bcn-a false false 10.231.0.0/24  10.231.0.254\nbcn-b true true 10.232.0.0/24 10.232.0.128/25 \n");
    same(
        d,
        &[
            "network",
            "inspect",
            "-f",
            "{{json .IPAM}} {{json .Labels}} {{.Options}}",
            "bcn-a",
        ],
    )
    .ok()
    .stdout_is("{\"Driver\":\"default\",\"Options\":{},\"Config\":[{\"Subnet\":\"10.231.0.0/24\",\"Gateway\":\"10.231.0.254\"}]} {\"team\":\"blue\"} map[com.example.x:1]\n");
    same(d, &["network", "inspect", "-f", "{{json .}}", "bcn-b"]).ok();
    same(d, &["network", "inspect", "-f", "json", "bcn-a", "bcn-b"])
        .ok()
        .stdout_has("},{");
    same(
        d,
        &[
            "network",
            "inspect",
            "-f",
            "{{.Containers}} {{.Labels}}",
            "bcn-a",
        ],
    )
    .ok()
    .stdout_is("map[] map[team:blue]\n");
    // A missing one: the others are still printed, then the error, exit 1.
    let o = same(d, &["network", "inspect", "bcn-a", "bcn-nope"]);
    o.code_is(1).stderr_has("bcn-nope");
    assert!(
        o.stdout
            .starts_with("[\n    {\n        \"Name\": \"bcn-a\""),
        "{o}"
    );
    same(d, &["network", "inspect", "bcn-nope"])
        .code_is(1)
        .stdout_is("[]\n");
    same(d, &["network", "inspect", "-f", "{{.Nope}}", "bcn-a"]).code_is(1);
}

/// `inspect` finds networks too (after containers and images).
fn inspect_finds_networks(d: &Daemon) {
    same(d, &["inspect", "bcn-a"])
        .ok()
        .stdout_has("\"Name\": \"bcn-a\"");
    same(d, &["inspect", "--type", "network", "bcn-b"]).ok();
    same(
        d,
        &["inspect", "-f", "{{.Name}} {{.Driver}}", "bcn-a", "bridge"],
    )
    .ok()
    .stdout_is("bcn-a bridge\nbridge bridge\n");
    same(d, &["inspect", "--type", "network", "bcn-nope"])
        .code_is(1)
        .stdout_is("[]\n");
    same(d, &["inspect", "bcn-nope"]).code_is(1);
}

/// A clash, then removal: each name answered in turn, exit 1 if any failed.
fn clash_then_removal(d: &Daemon) {
    same(d, &["network", "create", "bcn-a"])
        .code_is(1)
        .stderr_has("bcn-a");
    same(d, &["network", "rm", "bcn-nope", "bcn-nope2"]).code_is(1);
    same(d, &["network", "rm", "-f", "bcn-nope"])
        .ok()
        .stdout_is("");
    // Each removes one of its own and fails on a missing one, alike.
    d.docker(&["network", "create", "bcn-c"]).ok();
    d.docker(&["network", "create", "bcn-d"]).ok();
    let o = d.docker(&["network", "rm", "bcn-c", "bcn-nope"]);
    o.code_is(1).stdout_is("bcn-c\n");
    if with_berth(d) {
        let b = d.run(Cli::Berth, &["network", "rm", "bcn-d", "bcn-nope"]);
        b.code_is(1).stdout_is("bcn-d\n");
        assert_eq!(b.stderr, o.stderr, "{b}");
        d.run(Cli::Berth, &["network", "rm", "bcn-a", "bcn-b"])
            .ok()
            .stdout_is("bcn-a\nbcn-b\n");
    } else {
        d.docker(&["network", "rm", "bcn-d", "bcn-a", "bcn-b"]).ok();
    }
    same(d, &["network", "ls", "-q", "-f", "name=bcn"])
        .ok()
        .stdout_is("");
}

#[test]
fn create_checks_its_flags_as_docker() {
    let d = Daemon::start();
    for args in [
        &["network", "create", "--gateway", "10.231.0.1", "bcn-x"][..],
        &[
            "network",
            "create",
            "--subnet",
            "10.231.0.0/16",
            "--subnet",
            "10.231.1.0/24",
            "bcn-x",
        ],
        &[
            "network",
            "create",
            "--subnet",
            "10.231.0.0/24",
            "--gateway",
            "10.232.0.1",
            "bcn-x",
        ],
        &[
            "network",
            "create",
            "--subnet",
            "10.231.0.0/24",
            "--gateway",
            "bad",
            "bcn-x",
        ],
        &[
            "network",
            "create",
            "--subnet",
            "10.231.0.0/24",
            "--ip-range",
            "bad",
            "bcn-x",
        ],
        &[
            "network",
            "create",
            "--subnet",
            "10.231.0.0/24",
            "--ip-range",
            "10.232.0.0/25",
            "bcn-x",
        ],
        &[
            "network",
            "create",
            "--subnet",
            "10.231.0.0/24",
            "--subnet",
            "nope",
            "bcn-x",
        ],
        &[
            "network",
            "create",
            "--subnet",
            "10.231.0.0/24",
            "--aux-address",
            "a=10.232.0.1",
            "bcn-x",
        ],
    ] {
        same(&d, args).code_is(1);
    }
    same(&d, &["network", "create", "--label", "=v", "bcn-x"]).code_is(125);
    same(&d, &["network", "create", "--ipv6=maybe", "bcn-x"]).code_is(125);
    same(&d, &["network", "create", "--bogus", "bcn-x"]).code_is(125);
    // Nothing was made.
    same(&d, &["network", "ls", "-q", "-f", "name=bcn-x"])
        .ok()
        .stdout_is("");
}

#[test]
fn usage_errors_match_docker() {
    let d = Daemon::start();
    for args in [
        &["network", "create"][..],
        &["network", "create", "a", "b"],
        &["network", "rm"],
        &["network", "inspect"],
        &["network", "ls", "extra"],
        &["network", "prune", "extra"],
        &["network", "connect", "a"],
        &["network", "disconnect", "a"],
        &["network", "bogus"],
        &["port"],
        &["port", "a", "b", "c"],
        &["container", "port"],
    ] {
        let o = same(&d, args);
        o.code_is(1);
        assert!(
            o.stderr.contains("Usage:") || o.stderr.contains("unknown command"),
            "{o}"
        );
    }
    same(&d, &["network", "prune", "--filter", "nofilter"]).code_is(125);
}

#[test]
fn prune_asks_first() {
    let d = Daemon::start();
    let prompt = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ";
    d.docker(&["network", "create", "--label", "keep=1", "bcn-keep"])
        .ok();
    d.docker(&["network", "create", "bcn-gone1"]).ok();
    // Declined (or no answer): nothing happens.
    same_with_stdin(&d, &["network", "prune"], Some(b"n\n"))
        .ok()
        .stdout_is(prompt);
    same_with_stdin(&d, &["network", "prune"], None)
        .ok()
        .stdout_is(prompt);
    same(&d, &["network", "ls", "-q", "-f", "name=bcn"]).ok();
    assert_eq!(
        d.docker(&["network", "ls", "-q", "-f", "name=bcn"])
            .ok()
            .lines()
            .len(),
        2
    );
    // Filters narrow it; -f skips the question.
    same(&d, &["network", "prune", "-f", "--filter", "label=nomatch"])
        .ok()
        .stdout_is("");
    let cli = if with_berth(&d) {
        Cli::Berth
    } else {
        Cli::Docker
    };
    run_with_stdin(
        &d,
        cli,
        &["network", "prune", "--filter", "label!=keep"],
        Some(b"y\n"),
    )
    .ok()
    .stdout_is(&format!("{prompt}Deleted Networks:\nbcn-gone1\n\n"));
    d.docker(&["network", "create", "bcn-gone2"]).ok();
    d.docker(&["network", "prune", "-f", "--filter", "label!=keep"])
        .ok()
        .stdout_is("Deleted Networks:\nbcn-gone2\n\n");
    same(
        &d,
        &["network", "ls", "--format", "{{.Name}}", "-f", "name=bcn"],
    )
    .ok()
    .stdout_is("bcn-keep\n");
}

#[test]
fn connect_disconnect_and_port() {
    let d = Daemon::start();
    d.docker(&["network", "create", "--subnet", "10.233.0.0/24", "bcn-net"])
        .ok();
    d.docker(&[
        "network",
        "create",
        "--subnet",
        "10.233.1.0/24",
        "bcn-other",
    ])
    .ok();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "bcn-web",
        "--network",
        "bcn-net",
        "-p",
        "127.0.0.1::80",
        "-p",
        "127.0.0.1::53/udp",
        "--expose",
        "7000",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    // port: every published mapping, or one.
    let all = same(&d, &["port", "bcn-web"]);
    all.ok();
    let lines = all.lines();
    assert_eq!(lines.len(), 2, "{all}");
    assert!(
        lines[0].starts_with("53/udp -> 127.0.0.1:")
            && lines[1].starts_with("80/tcp -> 127.0.0.1:"),
        "{all}"
    );
    let host80 = lines[1].rsplit(':').next().unwrap_or("").to_string();
    assert!(host80.parse::<u16>().is_ok_and(|p| p > 0), "{all}");
    same(&d, &["port", "bcn-web", "80"])
        .ok()
        .stdout_is(&format!("127.0.0.1:{host80}\n"));
    same(&d, &["port", "bcn-web", "80/tcp"])
        .ok()
        .stdout_is(&format!("127.0.0.1:{host80}\n"));
    same(&d, &["container", "port", "bcn-web", "53/udp"]).ok();
    same(&d, &["port", "bcn-web", "7000"])
        .code_is(1)
        .stderr_has("Error: No public port '7000' published for bcn-web");
    same(&d, &["port", "bcn-web", "53"]).code_is(1);
    same(&d, &["port", "bcn-web", "http"]).code_is(1);
    same(&d, &["port", "bcn-web", "99999"]).code_is(1);
    same(&d, &["port", "bcn-nope"]).code_is(1);

    // connect with an alias and an address; then what inspect shows.
    let cli = if with_berth(&d) {
        Cli::Berth
    } else {
        Cli::Docker
    };
    d.run(
        cli,
        &[
            "network",
            "connect",
            "--alias",
            "al1,al2",
            "--ip",
            "10.233.1.50",
            "bcn-other",
            "bcn-web",
        ],
    )
    .ok()
    .stdout_is("");
    // (dockerd 20.10 adds the short ID to the aliases: not asserted.)
    let eps = "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{range $v.Aliases}}{{.}},{{end}} {{$v.IPAddress}}\n{{end}}";
    let v = d.inspect("bcn-web", eps);
    assert!(
        v.lines()
            .any(|l| l.starts_with("bcn-other al1,al2,") && l.ends_with(" 10.233.1.50")),
        "{v}"
    );
    same(
        &d,
        &[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
            "bcn-other",
        ],
    )
    .ok()
    .stdout_is("bcn-web 10.233.1.50/24\n");
    same(&d, &["network", "inspect", "bcn-other"]).ok();
    same(&d, &["network", "connect", "bcn-other", "bcn-web"]).code_is(1);
    same(&d, &["network", "connect", "bcn-nope", "bcn-web"]).code_is(1);
    same(&d, &["network", "connect", "bcn-other", "bcn-nope"]).code_is(1);
    same(&d, &["network", "rm", "bcn-other"]).code_is(1);
    d.run(cli, &["network", "disconnect", "bcn-other", "bcn-web"])
        .ok()
        .stdout_is("");
    same(&d, &["network", "disconnect", "bcn-other", "bcn-web"]).code_is(1);
    same(
        &d,
        &["network", "disconnect", "-f", "bcn-other", "bcn-nope"],
    )
    .fails();
    same(
        &d,
        &[
            "network",
            "inspect",
            "-f",
            "{{json .Containers}}",
            "bcn-other",
        ],
    )
    .ok()
    .stdout_is("{}\n");
    let v = d.inspect("bcn-web", eps);
    assert!(!v.contains("bcn-other"), "{v}");
}

#[test]
fn run_network_flags_as_docker() {
    let d = Daemon::start();
    d.docker(&["network", "create", "--subnet", "10.233.2.0/24", "bcn-run"])
        .ok();
    let flags = [
        "--network",
        "bcn-run",
        "--network-alias",
        "a1",
        "--network-alias",
        "a2",
        "-p",
        "127.0.0.1::80",
        "-P",
        "--expose",
        "81",
        "--dns",
        "10.233.2.1",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:2",
        "--add-host",
        "h1:10.1.1.1",
        "--hostname",
        "hh",
        "--domainname",
        "dd.test",
    ];
    let show = "{{.HostConfig.NetworkMode}} {{json .HostConfig.Dns}} {{json .HostConfig.DnsSearch}} \
        {{json .HostConfig.DnsOptions}} {{json .HostConfig.ExtraHosts}} {{json .HostConfig.PortBindings}} \
        {{.HostConfig.PublishAllPorts}} {{.Config.Hostname}} {{.Config.Domainname}} {{json .Config.ExposedPorts}} \
        {{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{json $v.IPAMConfig}} {{json $v.Aliases}}{{end}}";
    let mut seen = Vec::new();
    let clis: Vec<Cli> = if with_berth(&d) {
        vec![Cli::Docker, Cli::Berth]
    } else {
        vec![Cli::Docker]
    };
    for (i, cli) in clis.into_iter().enumerate() {
        let name = format!("bcn-r{i}");
        // Each its own address: a daemon may reserve it at create.
        let ip = format!("10.233.2.{}", 77 + i);
        let mut args = vec!["create", "--name", name.as_str(), "--ip", ip.as_str()];
        args.extend_from_slice(&flags);
        args.extend_from_slice(&["busybox", "true"]);
        d.run(cli, &args).ok();
        seen.push(d.inspect(&name, show));
    }
    let want = "bcn-run [\"10.233.2.1\"] [\"example.test\"] [\"ndots:2\"] [\"h1:10.1.1.1\"] \
        {\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"\"}]} true hh dd.test";
    assert!(seen[0].starts_with(want), "docker's container: {}", seen[0]);
    assert!(
        seen[0].contains("bcn-run {\"IPv4Address\":\"10.233.2.77\"} [\"a1\",\"a2\"]"),
        "{}",
        seen[0]
    );
    if seen.len() == 2 {
        assert_eq!(
            seen[1].replace("10.233.2.78", "10.233.2.77"),
            seen[0],
            "berth's container differs from docker's"
        );
    }
    mac_address_on_the_endpoint(&d);
    flag_errors_and_the_address_asked(&d);
}

/// --mac-address goes on the endpoint, which needs API 1.44: refused by
/// both CLIs against an older daemon, sent alike to a newer one.
fn mac_address_on_the_endpoint(d: &Daemon) {
    let mac = [
        "--network",
        "bcn-run",
        "--mac-address",
        "02:42:0a:e9:02:4d",
        "busybox",
        "true",
    ];
    if d.is_dockerd() {
        let mut args = vec!["create"];
        args.extend_from_slice(&mac);
        same(d, &args)
            .code_is(1)
            .stderr_has("requires API version 1.44");
    } else {
        let mut macs = Vec::new();
        let clis: Vec<Cli> = if with_berth(d) {
            vec![Cli::Docker, Cli::Berth]
        } else {
            vec![Cli::Docker]
        };
        for (i, cli) in clis.into_iter().enumerate() {
            let name = format!("bcn-m{i}");
            let mut args = vec!["create", "--name", name.as_str()];
            args.extend_from_slice(&mac);
            d.run(cli, &args).ok();
            macs.push(d.inspect(
                &name,
                "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.MacAddress}} {{json $v.IPAMConfig}} {{json $v.Aliases}}{{end}} {{.Config.MacAddress}}",
            ));
        }
        if macs.len() == 2 {
            assert_eq!(macs[1], macs[0], "berth's MAC endpoint differs");
        }
    }
}

/// The container-wide flags' errors, through run and create; then both
/// clients reach the container on its own network with the address asked.
fn flag_errors_and_the_address_asked(d: &Daemon) {
    for args in [
        &["run", "--rm", "--network-alias", "x", "busybox", "true"][..],
        &[
            "create",
            "--network",
            "bcn-run",
            "--network",
            "bridge",
            "busybox",
            "true",
        ],
        &[
            "create",
            "--network",
            "name=bcn-run,bogus=1",
            "busybox",
            "true",
        ],
        &["create", "--mac-address", "zz", "busybox", "true"],
        &[
            "create",
            "--network",
            "bcn-run",
            "--network",
            "bcn-run",
            "busybox",
            "true",
        ],
    ] {
        same(d, args).code_is(125);
    }
    same(d, &["run", "--rm", "--ip", "10.20.0.9", "busybox", "true"]).code_is(125);
    // Both clients reach the container on its own network with the address asked.
    let out = same(
        d,
        &[
            "run",
            "--rm",
            "--network",
            "bcn-run",
            "--ip",
            "10.233.2.99",
            "busybox",
            "sh",
            "-c",
            "ip -4 -o addr show eth0 | cut -d' ' -f7",
        ],
    );
    out.ok().stdout_is("10.233.2.99/24\n");
}
