//! berth compose (`berth-compose`, also `berth compose` and the docker CLI
//! plugin) against the daemon: a multi-service project up, converged and
//! down; interop with Debian's docker-compose 1.29 both ways; bad input
//! changing nothing. Passes against dockerd too (`BERTH_E2E_DAEMON=dockerd`):
//! berth compose is the client in both runs.

use std::path::{Path, PathBuf};

use berth_e2e::{bin_dir, Daemon, Out};

fn compose_bin() -> PathBuf {
    bin_dir().join("berth-compose")
}

/// Runs `berth-compose ARGS` in the project directory `dir` (under the
/// test's scratch directory).
fn compose(d: &Daemon, dir: &str, args: &str) -> Out {
    d.sh(&format!("cd {dir} && {} {args}", compose_bin().display()))
}

/// Runs Debian's docker-compose 1.29 in `dir`.
fn compose129(d: &Daemon, dir: &str, args: &str) -> Out {
    d.sh(&format!("cd {dir} && /usr/bin/docker-compose {args}"))
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// `docker ps -a` names (sorted) with a label filter.
fn names(d: &Daemon, filter: &str) -> Vec<String> {
    let o = d.docker(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
    o.ok();
    let mut v: Vec<String> = o.stdout.lines().map(str::to_string).collect();
    v.sort();
    v
}

fn id(d: &Daemon, name: &str) -> String {
    d.inspect(name, "{{.Id}}")
}

const APP: &str = "\
name: app
x-busybox: &bb
  image: busybox
services:
  web:
    build: ./web
    command: httpd -f -p 80 -h /www
    ports:
      - \"80\"
    networks: [front, back]
  db:
    <<: *bb
    command: [\"sh\", \"-c\", \"echo stored > /data/f; exec sleep 1000\"]
    volumes:
      - data:/data
    healthcheck:
      test: [\"CMD\", \"test\", \"-f\", \"/data/f\"]
      interval: 1s
      retries: 20
    networks: [back]
  worker:
    <<: *bb
    command: sleep ${WORKER_SLEEP:-1000}
    environment:
      - ROLE=worker
    depends_on:
      db:
        condition: service_healthy
      web:
        condition: service_started
    secrets: [token, api_key]
    configs:
      - source: settings
        target: /etc/settings.conf
    networks: [back]
networks:
  front:
  back:
volumes:
  data:
secrets:
  token:
    file: ./token.txt
  api_key:
    environment: API_KEY
configs:
  settings:
    file: ./settings.conf
";

fn app_files(d: &Daemon) {
    let dir = d.tmp().join("app");
    write(&dir, "compose.yaml", APP);
    write(
        &dir,
        "web/Dockerfile",
        "FROM busybox\nRUN mkdir -p /www && echo hello-from-web > /www/index.html\n",
    );
    write(&dir, "token.txt", "s3cret\n");
    write(&dir, "settings.conf", "level=debug\n");
}

#[test]
fn multi_service_project_up_converge_down() {
    let d = Daemon::start();
    app_files(&d);
    d.sh(&format!(
        "cd app && API_KEY=k-123 {} up -d",
        compose_bin().display()
    ))
    .ok();
    let project = "label=com.docker.compose.project=app";
    assert_eq!(
        names(&d, project),
        vec!["app-db-1", "app-web-1", "app-worker-1"]
    );
    for n in ["app-db-1", "app-web-1", "app-worker-1"] {
        assert_eq!(d.inspect(n, "{{.State.Running}}"), "true", "{n}");
    }
    // The worker started after the db was healthy.
    assert_eq!(d.inspect("app-db-1", "{{.State.Health.Status}}"), "healthy");
    // Labels as docker compose v2 writes them.
    let labels = d.inspect("app-worker-1", "{{json .Config.Labels}}");
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(labels["com.docker.compose.project"], "app");
    assert_eq!(labels["com.docker.compose.service"], "worker");
    assert_eq!(labels["com.docker.compose.container-number"], "1");
    assert_eq!(labels["com.docker.compose.oneoff"], "False");
    assert!(labels["com.docker.compose.config-hash"]
        .as_str()
        .is_some_and(|h| h.len() == 64));
    assert!(labels["com.docker.compose.image"]
        .as_str()
        .is_some_and(|i| i.starts_with("sha256:")));
    assert!(labels["com.docker.compose.depends_on"]
        .as_str()
        .unwrap()
        .contains("db:service_healthy:false"));
    // Secrets and configs are the files, mounted read-only.
    let o = d.docker(&[
        "exec",
        "app-worker-1",
        "cat",
        "/run/secrets/token",
        "/etc/settings.conf",
    ]);
    assert_eq!(o.ok().stdout, "s3cret\nlevel=debug\n");
    // A secret from the environment is copied in.
    let o = d.docker(&["exec", "app-worker-1", "cat", "/run/secrets/api_key"]);
    assert_eq!(o.ok().stdout, "k-123");
    assert_eq!(
        d.docker(&["exec", "app-worker-1", "sh", "-c", "echo $ROLE"])
            .ok()
            .stdout
            .trim(),
        "worker"
    );
    // Networks and the volume under the project's names.
    d.docker(&["network", "inspect", "app_front", "app_back"])
        .ok();
    assert_eq!(
        d.docker(&["volume", "inspect", "-f", "{{.Name}}", "app_data"])
            .ok()
            .stdout
            .trim(),
        "app_data"
    );
    // The worker reaches web (built from its Dockerfile) by its service
    // name on the network they share.
    let page = d.docker(&["exec", "app-worker-1", "wget", "-q", "-O-", "http://web/"]);
    assert_eq!(page.ok().stdout, "hello-from-web\n");
    // Its port is published.
    let port = compose(&d, "app", "port web 80");
    assert!(port.ok().stdout.trim().contains(':'), "{port}");
    let ps = compose(&d, "app", "ps --services");
    assert_eq!(ps.ok().stdout, "db\nweb\nworker\n");

    // A second `up` with nothing changed recreates nothing.
    let before: Vec<String> = ["app-db-1", "app-web-1", "app-worker-1"]
        .iter()
        .map(|n| id(&d, n))
        .collect();
    let again = compose(&d, "app", "up -d");
    again.ok();
    assert!(!again.stderr.contains("Creat"), "{again}");
    let after: Vec<String> = ["app-db-1", "app-web-1", "app-worker-1"]
        .iter()
        .map(|n| id(&d, n))
        .collect();
    assert_eq!(before, after);

    // A changed service (through interpolation) is the only one recreated.
    let changed = d.sh(&format!(
        "cd app && WORKER_SLEEP=999 {} up -d",
        compose_bin().display()
    ));
    changed.ok();
    assert_eq!(id(&d, "app-db-1"), before[0]);
    assert_eq!(id(&d, "app-web-1"), before[1]);
    assert_ne!(id(&d, "app-worker-1"), before[2]);
    // The named volume kept its data through the recreation.
    assert_eq!(
        d.docker(&["exec", "app-db-1", "cat", "/data/f"])
            .ok()
            .stdout,
        "stored\n"
    );

    // A rebuilt image recreates its service, only that one.
    write(
        &d.tmp().join("app"),
        "web/Dockerfile",
        "FROM busybox\nRUN mkdir -p /www && echo rebuilt > /www/index.html\n",
    );
    let db_id = id(&d, "app-db-1");
    compose(&d, "app", "up -d --build").ok();
    assert_eq!(id(&d, "app-db-1"), db_id);
    let page = d.docker(&["exec", "app-worker-1", "wget", "-q", "-O-", "http://web/"]);
    assert_eq!(page.ok().stdout, "rebuilt\n");

    // --scale adds numbered containers.
    compose(&d, "app", "up -d --no-deps --scale worker=2 worker").ok();
    assert_eq!(
        names(&d, "label=com.docker.compose.service=worker"),
        vec!["app-worker-1", "app-worker-2"]
    );

    compose(&d, "app", "down -v").ok();
    assert!(names(&d, project).is_empty());
    d.docker(&["network", "inspect", "app_back"]).fails();
    d.docker(&["volume", "inspect", "app_data"]).fails();
}

const SIMPLE: &str = "\
services:
  one:
    image: busybox
    command: sleep 1000
  two:
    image: busybox
    command: sleep 1000
    depends_on: [one]
";

#[test]
fn docker_compose_129_and_berth_compose_manage_each_others_projects() {
    let d = Daemon::start();
    write(&d.tmp().join("proj"), "docker-compose.yml", SIMPLE);
    let label = "label=com.docker.compose.project=proj";

    // berth compose up; docker-compose 1.29 sees the project and downs it.
    compose(&d, "proj", "up -d").ok();
    let ps = compose129(&d, "proj", "ps");
    ps.ok();
    assert!(
        ps.stdout.contains("proj-one-1") && ps.stdout.contains("proj-two-1"),
        "{ps}"
    );
    compose129(&d, "proj", "down").ok();
    assert!(names(&d, label).is_empty());
    d.docker(&["network", "inspect", "proj_default"]).fails();

    // docker-compose 1.29 up; berth compose sees the project and downs it.
    compose129(&d, "proj", "up -d").ok();
    assert_eq!(names(&d, label).len(), 2);
    let ps = compose(&d, "proj", "ps --services");
    assert_eq!(ps.ok().stdout, "one\ntwo\n");
    compose(&d, "proj", "down").ok();
    assert!(names(&d, label).is_empty());
    d.docker(&["network", "inspect", "proj_default"]).fails();
}

/// Nothing of project `bad` on the daemon.
fn nothing_made(d: &Daemon) {
    assert!(names(d, "label=com.docker.compose.project=bad").is_empty());
    let nets = d.docker(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.ok().stdout.contains("bad_"), "{nets}");
    let vols = d.docker(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(!vols.ok().stdout.contains("bad_"), "{vols}");
}

#[test]
fn bad_input_changes_nothing() {
    let d = Daemon::start();
    let dir = d.tmp().join("bad");
    let base = "services:\n  a:\n    image: busybox\n    command: sleep 100\n    volumes: [v:/v]\nvolumes:\n  v:\n";
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "unknown key",
            "services:\n  a:\n    image: busybox\n    volumes: [v:/v]\n    comand: sleep 100\nvolumes:\n  v:\n",
            &["compose.yaml:5:", "services.a additional properties 'comand' not allowed"],
        ),
        (
            "required variable",
            "services:\n  a:\n    image: \"${IMAGE:?IMAGE must be set}\"\n",
            &["compose.yaml:3:", "required variable IMAGE is missing a value: IMAGE must be set"],
        ),
        (
            "cycle",
            "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n",
            &["dependency cycle detected"],
        ),
        (
            "missing env_file",
            "services:\n  a:\n    image: busybox\n    env_file: ./nope.env\n",
            &["nope.env not found"],
        ),
        (
            "missing external network",
            "services:\n  a:\n    image: busybox\n    networks: [ext]\n    volumes: [v:/v]\nnetworks:\n  ext:\n    external: true\n    name: no-such-net\nvolumes:\n  v:\n",
            &["network no-such-net declared as external, but could not be found"],
        ),
    ];
    for (what, text, wants) in cases {
        write(&dir, "compose.yaml", text);
        let o = compose(&d, "bad", "up -d");
        o.fails();
        for w in *wants {
            assert!(o.stderr.contains(w), "{what}: want {w:?}\n{o}");
        }
        nothing_made(&d);
    }
    // The good file still works after all that.
    write(&dir, "compose.yaml", base);
    compose(&d, "bad", "up -d").ok();
    compose(&d, "bad", "down -v").ok();
    nothing_made(&d);
}

#[test]
fn docker_cli_plugin_metadata() {
    let out = std::process::Command::new(compose_bin())
        .arg("docker-cli-plugin-metadata")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["SchemaVersion"], "0.1.0");
    assert_eq!(v["ShortDescription"], "Docker Compose");
}

/// The real docker CLI 28 runs berth-compose as its `docker compose`
/// plugin (installed in the test's private `DOCKER_CONFIG`, not `~/.docker`).
#[test]
fn docker_cli_runs_it_as_docker_compose() {
    let d = Daemon::start();
    write(&d.tmp().join("plug"), "compose.yaml", SIMPLE);
    let install = format!(
        "mkdir -p \"$DOCKER_CONFIG/cli-plugins\" && ln -sf {} \"$DOCKER_CONFIG/cli-plugins/docker-compose\"",
        compose_bin().display()
    );
    d.sh(&install).ok();
    d.sh("cd plug && docker compose up -d").ok();
    let label = "label=com.docker.compose.project=plug";
    assert_eq!(names(&d, label), vec!["plug-one-1", "plug-two-1"]);
    let ps = d.sh("cd plug && docker compose ps --services");
    assert_eq!(ps.ok().stdout, "one\ntwo\n");
    d.sh("cd plug && docker compose down").ok();
    assert!(names(&d, label).is_empty());
}

/// `berth compose` is the same code, and takes the daemon from berth's own
/// global options (`-H` here, with `DOCKER_HOST` unset).
#[test]
fn berth_compose_subcommand() {
    let d = Daemon::start();
    write(&d.tmp().join("sub"), "compose.yaml", SIMPLE);
    let berth = format!(
        "env -u DOCKER_HOST {} -H \"$DOCKER_HOST\" compose",
        bin_dir().join("berth").display()
    );
    d.sh(&format!("cd sub && {berth} up -d")).ok();
    let label = "label=com.docker.compose.project=sub";
    assert_eq!(names(&d, label), vec!["sub-one-1", "sub-two-1"]);
    let ps = d.sh(&format!("cd sub && {berth} ps --services"));
    assert_eq!(ps.ok().stdout, "one\ntwo\n");
    d.sh(&format!("cd sub && {berth} down")).ok();
    assert!(names(&d, label).is_empty());
}

/// `up` without `-d` streams every container's output behind a
/// `SERVICE-N  | ` prefix until they exit; `run` makes a one-off container
/// whose output and exit code are its own, removed with `--rm`.
#[test]
fn attached_up_and_one_off_run() {
    let d = Daemon::start();
    write(
        &d.tmp().join("att"),
        "compose.yaml",
        "services:\n  a:\n    image: busybox\n    command: echo hi-a\n  b:\n    image: busybox\n    command: sh -c 'echo hi-b; exit 3'\n",
    );
    let up = compose(&d, "att", "up");
    up.ok();
    assert!(up.stdout.contains("a-1  | hi-a\n"), "{up}");
    assert!(up.stdout.contains("b-1  | hi-b\n"), "{up}");
    assert!(up.stdout.contains("b-1 exited with code 3"), "{up}");

    let run = compose(&d, "att", "run --rm a echo one-off");
    run.ok();
    assert_eq!(run.stdout, "one-off\n");
    compose(&d, "att", "run --rm b").code_is(3);
    assert!(names(&d, "label=com.docker.compose.oneoff=True").is_empty());
    // A detached one-off container is the project's: `down` removes it.
    let bg = compose(&d, "att", "run -d a sleep 1000");
    assert!(bg.ok().stdout.starts_with("att-a-run-"), "{bg}");
    assert_eq!(names(&d, "label=com.docker.compose.oneoff=True").len(), 1);
    compose(&d, "att", "down -t 1").ok();
    assert!(names(&d, "label=com.docker.compose.project=att").is_empty());
}

/// The day-to-day commands on a running project: ps, logs, exec, stop,
/// start, restart, pause, unpause, kill, rm, ls, images, port, config.
#[test]
fn everyday_commands() {
    let d = Daemon::start();
    write(
        &d.tmp().join("ops"),
        "compose.yaml",
        "services:\n  svc:\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo ready; trap 'exit 0' TERM; sleep 1000 & wait\"]\n    ports: [\"8080\"]\n",
    );
    compose(&d, "ops", "up -d").ok();
    let ps = compose(&d, "ops", "ps");
    assert!(ps.ok().stdout.contains("ops-svc-1"), "{ps}");
    assert_eq!(
        compose(&d, "ops", "ps -q").ok().stdout.trim(),
        id(&d, "ops-svc-1")
    );
    let logs = compose(&d, "ops", "logs svc");
    assert_eq!(logs.ok().stdout, "svc-1  | ready\n");
    let no_prefix = compose(&d, "ops", "logs --no-log-prefix");
    assert_eq!(no_prefix.ok().stdout, "ready\n");
    let exec = compose(&d, "ops", "exec -T svc sh -c 'echo in-$HOSTNAME; exit 4'");
    exec.code_is(4);
    assert!(exec.stdout.starts_with("in-"), "{exec}");
    assert!(compose(&d, "ops", "port svc 8080")
        .ok()
        .stdout
        .contains(':'));
    let ls = compose(&d, "ops", "ls");
    assert!(
        ls.ok().stdout.contains("ops") && ls.stdout.contains("running(1)"),
        "{ls}"
    );
    let images = compose(&d, "ops", "images");
    assert!(images.ok().stdout.contains("busybox"), "{images}");
    let top = compose(&d, "ops", "top");
    assert!(top.ok().stdout.contains("sleep 1000"), "{top}");
    compose(&d, "ops", "scale svc=2").ok();
    assert_eq!(
        names(&d, "label=com.docker.compose.project=ops"),
        vec!["ops-svc-1", "ops-svc-2"]
    );
    compose(&d, "ops", "scale svc=1").ok();
    assert_eq!(
        names(&d, "label=com.docker.compose.project=ops"),
        vec!["ops-svc-1"]
    );

    compose(&d, "ops", "pause").ok();
    assert_eq!(d.inspect("ops-svc-1", "{{.State.Status}}"), "paused");
    compose(&d, "ops", "unpause").ok();
    assert_eq!(d.inspect("ops-svc-1", "{{.State.Status}}"), "running");
    compose(&d, "ops", "stop").ok();
    assert_eq!(d.inspect("ops-svc-1", "{{.State.Status}}"), "exited");
    assert!(compose(&d, "ops", "ps").ok().stdout.lines().count() == 1);
    assert!(compose(&d, "ops", "ps -a")
        .ok()
        .stdout
        .contains("ops-svc-1"));
    compose(&d, "ops", "start").ok();
    assert_eq!(d.inspect("ops-svc-1", "{{.State.Status}}"), "running");
    compose(&d, "ops", "restart").ok();
    assert_eq!(d.inspect("ops-svc-1", "{{.State.Running}}"), "true");
    compose(&d, "ops", "kill").ok();
    assert_eq!(d.inspect("ops-svc-1", "{{.State.Running}}"), "false");
    compose(&d, "ops", "rm -f").ok();
    assert!(names(&d, "label=com.docker.compose.project=ops").is_empty());
    compose(&d, "ops", "ps -x").fails();
    compose(&d, "ops", "logs nosuch").fails();
    compose(&d, "ops", "down").ok();
    d.docker(&["network", "inspect", "ops_default"]).fails();
}

/// `--exit-code-from` (and `--abort-on-container-exit`): the first
/// container to exit stops the others; `up` exits with the named
/// service's code.
#[test]
fn up_exit_code_from_stops_the_rest() {
    let d = Daemon::start();
    write(
        &d.tmp().join("abort"),
        "compose.yaml",
        "services:\n  job:\n    image: busybox\n    command: sh -c 'sleep 1; echo done; exit 5'\n  \
         server:\n    image: busybox\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 1000 & wait\"]\n",
    );
    let up = compose(&d, "abort", "up --exit-code-from job");
    up.code_is(5);
    assert!(up.stdout.contains("job-1     | done"), "{up}");
    assert_eq!(d.inspect("abort-server-1", "{{.State.Running}}"), "false");
    compose(&d, "abort", "down").ok();
}

/// A version-1 file (services at the top level, `links:`), as the compose
/// seed in ../shared/seeds has it; `service_completed_successfully` and
/// `--wait`.
#[test]
fn version_one_links_and_wait_conditions() {
    let d = Daemon::start();
    write(
        &d.tmp().join("v1"),
        "docker-compose.yml",
        "redis:\n  image: busybox\n  command: sh -c 'mkdir /w && echo pong > /w/index.html && exec httpd -f -p 80 -h /w'\n\
         vote:\n  image: busybox\n  command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 1000 & wait\"]\n  links:\n   - redis\n",
    );
    compose(&d, "v1", "up -d").ok();
    let o = d.docker(&["exec", "v1-vote-1", "wget", "-q", "-O-", "http://redis/"]);
    assert_eq!(o.ok().stdout, "pong\n");
    compose(&d, "v1", "down -t 1").ok();

    write(
        &d.tmp().join("cond"),
        "compose.yaml",
        "services:\n  migrate:\n    image: busybox\n    command: sh -c 'sleep 1; echo migrated > /shared/m'\n    volumes: [shared:/shared]\n  \
         app:\n    image: busybox\n    command: [\"sh\", \"-c\", \"cat /shared/m; trap 'exit 0' TERM; sleep 1000 & wait\"]\n    volumes: [shared:/shared]\n    \
         depends_on:\n      migrate:\n        condition: service_completed_successfully\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 1s\n\
         volumes:\n  shared:\n",
    );
    compose(&d, "cond", "up -d --wait").ok();
    assert_eq!(
        d.inspect("cond-app-1", "{{.State.Health.Status}}"),
        "healthy"
    );
    assert_eq!(d.inspect("cond-migrate-1", "{{.State.ExitCode}}"), "0");
    assert_eq!(
        compose(&d, "cond", "logs --no-log-prefix app").ok().stdout,
        "migrated\n"
    );
    compose(&d, "cond", "down -v").ok();
}

/// Service options reach the container as docker compose sets them.
#[test]
fn service_options_reach_the_container() {
    let d = Daemon::start();
    write(
        &d.tmp().join("opts"),
        "compose.yaml",
        "services:
  box:
    image: busybox
    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 1000 & wait\"]
    hostname: boxhost
    user: \"1000:1000\"
    working_dir: /tmp
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    read_only: true
    tmpfs: [/scratch]
    init: true
    ulimits:
      nofile: {soft: 1024, hard: 2048}
    extra_hosts: [\"db.local:10.1.2.3\"]
    dns: [9.9.9.9]
    stop_signal: SIGUSR1
    stop_grace_period: 3s
    restart: on-failure:2
    mem_limit: 64m
    cpus: 0.5
    labels: {team: core}
    logging:
      driver: json-file
      options: {max-size: 1m}
    networks:
      fixed:
        ipv4_address: 10.123.0.10
        aliases: [boxy]
networks:
  fixed:
    ipam:
      config:
        - subnet: 10.123.0.0/24
",
    );
    compose(&d, "opts", "up -d").ok();
    let c = "opts-box-1";
    let checks = [
        ("{{.Config.Hostname}}", "boxhost"),
        ("{{.Config.User}}", "1000:1000"),
        ("{{.Config.WorkingDir}}", "/tmp"),
        ("{{json .HostConfig.CapAdd}}", "[\"NET_ADMIN\"]"),
        ("{{json .HostConfig.CapDrop}}", "[\"MKNOD\"]"),
        ("{{.HostConfig.ReadonlyRootfs}}", "true"),
        ("{{json .HostConfig.Tmpfs}}", "{\"/scratch\":\"\"}"),
        ("{{.HostConfig.Init}}", "true"),
        ("{{json .HostConfig.ExtraHosts}}", "[\"db.local:10.1.2.3\"]"),
        ("{{json .HostConfig.Dns}}", "[\"9.9.9.9\"]"),
        ("{{.Config.StopSignal}}", "SIGUSR1"),
        ("{{.Config.StopTimeout}}", "3"),
        ("{{.HostConfig.RestartPolicy.Name}}", "on-failure"),
        ("{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "2"),
        ("{{.HostConfig.Memory}}", "67108864"),
        ("{{.HostConfig.NanoCpus}}", "500000000"),
        ("{{index .Config.Labels \"team\"}}", "core"),
        ("{{.HostConfig.LogConfig.Type}}", "json-file"),
        ("{{index .HostConfig.LogConfig.Config \"max-size\"}}", "1m"),
        (
            "{{.NetworkSettings.Networks.opts_fixed.IPAddress}}",
            "10.123.0.10",
        ),
    ];
    for (fmt, want) in checks {
        assert_eq!(d.inspect(c, fmt), want, "{fmt}");
    }
    let ul = d.inspect(c, "{{json .HostConfig.Ulimits}}");
    assert!(
        ul.contains("\"Soft\":1024") && ul.contains("\"Hard\":2048"),
        "{ul}"
    );
    let aliases = d.inspect(c, "{{json .NetworkSettings.Networks.opts_fixed.Aliases}}");
    assert!(
        aliases.contains("boxy") && aliases.contains("box"),
        "{aliases}"
    );
    let o = d.docker(&["exec", c, "sh", "-c", "id -u; grep db.local /etc/hosts; touch /x 2>&1 || echo ro; touch /scratch/y && echo tmp-ok"]);
    let out = o.ok().stdout.clone();
    assert!(
        out.starts_with("1000\n") && out.contains("10.1.2.3") && out.contains("tmp-ok"),
        "{o}"
    );
    compose(&d, "opts", "down").ok();
}

/// A port taken half-way: `up` fails with the daemon's error, the
/// services before it stay up (as docker compose leaves them), and `down`
/// removes everything the project made.
#[test]
fn port_conflict_half_way_then_down_cleans_up() {
    let d = Daemon::start();
    d.docker(&[
        "run", "-d", "--name", "squatter", "-p", "18080:80", "busybox", "sleep", "1000",
    ])
    .ok();
    write(
        &d.tmp().join("pc"),
        "compose.yaml",
        "services:\n  first:\n    image: busybox\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 1000 & wait\"]\n  \
         second:\n    image: busybox\n    command: sleep 1000\n    ports: [\"18080:80\"]\n    depends_on: [first]\n",
    );
    let up = compose(&d, "pc", "up -d");
    up.fails();
    assert_eq!(d.inspect("pc-first-1", "{{.State.Running}}"), "true");
    assert_eq!(d.inspect("pc-second-1", "{{.State.Running}}"), "false");
    compose(&d, "pc", "down -t 1").ok();
    assert!(names(&d, "label=com.docker.compose.project=pc").is_empty());
    d.docker(&["network", "inspect", "pc_default"]).fails();
    assert_eq!(d.inspect("squatter", "{{.State.Running}}"), "true");
    d.docker(&["rm", "-f", "squatter"]).ok();
}
