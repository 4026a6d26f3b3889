//! Networks as dockerd answers them: the names it accepts, the create
//! body's `CheckDuplicate`, `Scope`, `Attachable`, `Ingress` and `Labels`,
//! containers' MAC addresses (02:42 and the IPv4 address on a bridge, as
//! dockerd 20.10 derives them) and `--mac-address` in inspect, and the
//! drivers `/info` lists.

use berth_e2e::Daemon;

#[test]
fn network_names_with_spaces_and_create_fields() {
    let d = Daemon::start();
    // A name with a space, as dockerd takes it.
    d.docker(&["network", "create", "my net"]).ok();
    assert_eq!(
        d.inspect("my net", "{{.Name}} {{.Driver}}"),
        "my net bridge"
    );
    d.docker(&["network", "rm", "my net"]).ok();
    // CheckDuplicate: the second create of a name is a conflict.
    d.post_json(
        "/networks/create",
        r#"{"Name":"dup","CheckDuplicate":true}"#,
    )
    .status_is(201);
    let r = d.post_json(
        "/networks/create",
        r#"{"Name":"dup","CheckDuplicate":true}"#,
    );
    r.status_is(409);
    assert_eq!(r.message(), "network with name dup already exists");
    // Scope local, Attachable on a bridge: taken, and shown.
    d.post_json(
        "/networks/create",
        r#"{"Name":"att","Scope":"local","Attachable":true}"#,
    )
    .status_is(201);
    assert_eq!(d.inspect("att", "{{.Scope}} {{.Attachable}}"), "local true");
    // Labels must be strings: Go's decoding error, 400.
    let r = d.post_json("/networks/create", r#"{"Name":"lab","Labels":{"a":1}}"#);
    r.status_is(400);
    assert!(
        r.message().contains("cannot unmarshal number") && r.message().contains("Labels"),
        "{r}"
    );
    d.docker(&["network", "inspect", "lab"]).fails();
    // Swarm scope and ingress, with no swarm: dockerd's 403s.
    let r = d.post_json("/networks/create", r#"{"Name":"sw","Scope":"swarm"}"#);
    r.status_is(403);
    assert_eq!(
        r.message(),
        "cannot create a swarm scoped network when swarm is not active"
    );
    let r = d.post_json("/networks/create", r#"{"Name":"ing","Ingress":true}"#);
    r.status_is(403);
    assert_eq!(
        r.message(),
        "Ingress network can only be global scope network"
    );
    // Any other scope goes to the (absent) cluster, as dockerd sends it.
    let r = d.post_json("/networks/create", r#"{"Name":"sb","Scope":"nope"}"#);
    r.status_is(500);
    assert!(
        r.message().starts_with("This node is not a swarm manager."),
        "{r}"
    );
    // CheckDuplicate false: dockerd 20.10 makes a second network of the
    // same name (and warns); berthd refuses it as moby does from API 1.44
    // on, since two networks of one name make every later use of the
    // name ambiguous.
    let r = d.post_json(
        "/networks/create",
        r#"{"Name":"dup","CheckDuplicate":false}"#,
    );
    if d.is_dockerd() {
        r.status_is(201);
        assert!(r.json()["Warning"]
            .as_str()
            .is_some_and(|w| w.contains("already exists")));
    } else {
        r.status_is(409);
        assert_eq!(r.message(), "network with name dup already exists");
    }
    for id in d
        .docker(&["network", "ls", "-q", "--filter", "name=dup"])
        .stdout
        .lines()
    {
        d.docker(&["network", "rm", id]).ok();
    }
    d.docker(&["network", "rm", "att"]).ok();
    for n in ["sw", "ing", "sb"] {
        d.docker(&["network", "inspect", n]).fails();
    }
}

#[test]
fn mac_addresses_as_dockerd_derives_them() {
    let d = Daemon::start();
    let out = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /sys/class/net/eth0/address; ip -4 -o addr show eth0",
    ]);
    out.ok();
    let mut lines = out.stdout.lines();
    let mac = lines.next().expect("a MAC").to_string();
    let ip = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|a| a.split('/').next())
        .expect("an address")
        .to_string();
    let octets: Vec<u8> = ip.split('.').map(|o| o.parse().expect("octet")).collect();
    let want = format!(
        "02:42:{:02x}:{:02x}:{:02x}:{:02x}",
        octets[0], octets[1], octets[2], octets[3]
    );
    assert_eq!(mac, want, "the MAC of {ip}");
    // Inspect shows the same MAC; on a user network too.
    d.docker(&["network", "create", "macnet"]).ok();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "m1",
        "--network",
        "macnet",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let ip = d.inspect("m1", "{{.NetworkSettings.Networks.macnet.IPAddress}}");
    let mac = d.inspect("m1", "{{.NetworkSettings.Networks.macnet.MacAddress}}");
    let octets: Vec<u8> = ip.split('.').map(|o| o.parse().expect("octet")).collect();
    assert_eq!(
        mac,
        format!(
            "02:42:{:02x}:{:02x}:{:02x}:{:02x}",
            octets[0], octets[1], octets[2], octets[3]
        )
    );
    // --mac-address: in the container, and in inspect (the docker CLI 20.10:
    // CLI 28 sends it per network, which needs API 1.44).
    d.docker20(&[
        "run",
        "-d",
        "--name",
        "m2",
        "--mac-address",
        "02:42:ac:11:ff:01",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    d.docker(&["exec", "m2", "cat", "/sys/class/net/eth0/address"])
        .ok()
        .stdout_is("02:42:ac:11:ff:01\n");
    assert_eq!(
        d.inspect(
            "m2",
            "{{.Config.MacAddress}} {{.NetworkSettings.MacAddress}}"
        ),
        "02:42:ac:11:ff:01 02:42:ac:11:ff:01"
    );
    d.docker(&["rm", "-f", "m1", "m2"]).ok();
    d.docker(&["network", "rm", "macnet"]).ok();
}

#[test]
fn info_lists_the_drivers() {
    let d = Daemon::start();
    let info = d.get("/info").json();
    let names = |kind: &str| -> Vec<String> {
        info["Plugins"][kind]
            .as_array()
            .unwrap_or_else(|| panic!("Plugins.{kind}"))
            .iter()
            .map(|v| v.as_str().expect("a name").to_string())
            .collect()
    };
    assert!(names("Volume").contains(&"local".to_string()));
    for n in ["bridge", "host", "macvlan", "null"] {
        assert!(names("Network").contains(&n.to_string()), "{n}");
    }
    for n in ["json-file", "local", "journald", "syslog"] {
        assert!(names("Log").contains(&n.to_string()), "{n}");
    }
    // Every log driver listed is one the daemon has (some want options).
    for n in names("Log") {
        let c = d.docker(&["create", "--log-driver", &n, "busybox", "true"]);
        assert!(!c.stderr.contains("not found"), "{n}: {}", c.stderr);
    }
    // Every network driver listed makes networks (bar host and null, one each,
    // and the swarm-only overlay).
    for n in names("Network") {
        if ["host", "null", "overlay"].contains(&n.as_str()) {
            continue;
        }
        // (ipvlan may be refused by this kernel, "operation not supported";
        // an unknown driver is `plugin "x" not found`.)
        let name = format!("drv-{n}");
        let c = d.docker(&["network", "create", "-d", &n, &name]);
        assert!(!c.stderr.contains("not found"), "{n}: {}", c.stderr);
        if c.code == Some(0) {
            d.docker(&["network", "rm", &name]).ok();
        }
    }
}
