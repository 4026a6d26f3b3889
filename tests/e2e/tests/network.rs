//! Networking as a docker user meets it: the default bridge with NAT and
//! published ports, user-defined networks, host/none/container modes,
//! isolation, and the errors. "Outside" is always a test host in a netns
//! the test made (`Daemon::test_host`).

use std::time::Duration;

use berth_e2e::{wait_for, Daemon};

/// busybox httpd serving `body` on port 80 from /www inside the container.
fn httpd(body: &str) -> String {
    format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www")
}

fn curl(d: &Daemon, url: &str) -> String {
    let o = d.host_sh(&format!("curl -s -m 5 {url}"));
    o.stdout.trim().to_string()
}

#[test]
fn published_port_reaches_the_container_from_loopback_and_other_hosts() {
    let d = Daemon::start();
    let port = 18080 + d.slot() as u16;
    let remote = d.test_host(1);
    let spec = format!("{port}:80");
    d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &spec,
        "busybox",
        "sh",
        "-c",
        &httpd("hello-web"),
    ])
    .ok();
    let page = wait_for(Duration::from_secs(10), || {
        let p = curl(&d, &format!("http://127.0.0.1:{port}/index.html"));
        (p == "hello-web").then_some(p)
    });
    assert_eq!(
        page.as_deref(),
        Some("hello-web"),
        "loopback to the published port"
    );
    // From a test host in its own netns, to the daemon host's address.
    let o = remote.sh(&format!(
        "curl -s -m 5 http://{}:{port}/index.html",
        remote.daemon_addr
    ));
    assert_eq!(o.stdout.trim(), "hello-web", "{o}");
    // docker port / ps / inspect show the binding.
    d.docker(&["port", "web"])
        .ok()
        .stdout_has(&format!("80/tcp -> 0.0.0.0:{port}"));
    d.docker(&["ps", "--format", "{{.Ports}}"])
        .ok()
        .stdout_has(&format!("0.0.0.0:{port}->80/tcp"));
    assert_eq!(
        d.inspect(
            "web",
            "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}"
        ),
        port.to_string()
    );
    d.docker(&[
        "ps",
        "--filter",
        &format!("publish={port}/tcp"),
        "--format",
        "{{.Names}}",
    ])
    .ok()
    .stdout_is("web\n");
    d.docker(&["ps", "--filter", "expose=80", "--format", "{{.Names}}"])
        .ok()
        .stdout_is("web\n");
    // A second container asking for the taken port gets a clear error.
    d.docker(&[
        "run", "-d", "--name", "web2", "-p", &spec, "busybox", "sleep", "60",
    ])
    .fails()
    .stderr_has("already allocated");
    // `-p 80` picks a random host port; `docker port` tells which.
    d.docker(&[
        "run",
        "-d",
        "--name",
        "web3",
        "-p",
        "80",
        "busybox",
        "sh",
        "-c",
        &httpd("three"),
    ])
    .ok();
    let out = d.docker(&["port", "web3", "80"]).ok().stdout.clone();
    let hp: u16 = out.trim().rsplit(':').next().unwrap().parse().unwrap();
    let p3 = wait_for(Duration::from_secs(10), || {
        let p = curl(&d, &format!("http://127.0.0.1:{hp}/index.html"));
        (p == "three").then_some(p)
    });
    assert_eq!(p3.as_deref(), Some("three"));
    // The port is freed when the container stops.
    d.docker(&["stop", "-t", "1", "web"]).ok();
    assert_eq!(curl(&d, &format!("http://127.0.0.1:{port}/index.html")), "");
    d.docker(&["rm", "web2"]).ok();
    d.docker(&[
        "run",
        "-d",
        "--name",
        "web4",
        "-p",
        &spec,
        "busybox",
        "sh",
        "-c",
        &httpd("four"),
    ])
    .ok();
    let p4 = wait_for(Duration::from_secs(10), || {
        let p = curl(&d, &format!("http://127.0.0.1:{port}/index.html"));
        (p == "four").then_some(p)
    });
    assert_eq!(p4.as_deref(), Some("four"));
}

#[test]
fn containers_reach_outside_through_nat_and_each_other_by_ip() {
    let d = Daemon::start();
    let remote = d.test_host(2);
    remote.serve(&d.tmp().join("outside"), "outside-page");
    // The default bridge: an address, a default route, masquerading out.
    let o = d
        .docker(&[
            "run",
            "--rm",
            "busybox",
            "wget",
            "-q",
            "-O-",
            &format!("http://{}/index.html", remote.addr),
        ])
        .ok()
        .stdout
        .clone();
    assert_eq!(o.trim(), "outside-page");
    let o = d
        .docker(&["run", "--rm", "busybox", "ip", "-4", "route"])
        .ok()
        .stdout
        .clone();
    let gw = d.bip.split('/').next().unwrap().to_string();
    assert!(o.contains(&format!("default via {gw}")), "{o}");
    // Two containers on the default bridge reach each other by IP.
    d.docker(&["run", "-d", "--name", "ping1", "busybox", "sleep", "300"])
        .ok();
    let ip1 = d.inspect("ping1", "{{.NetworkSettings.IPAddress}}");
    assert!(
        ip1.starts_with(&gw[..gw.rfind('.').unwrap()]) || ip1.starts_with("172."),
        "{ip1}"
    );
    d.docker(&["run", "--rm", "busybox", "ping", "-c", "1", "-W", "2", &ip1])
        .ok();
    // The container's own /etc/hosts names its address.
    let hosts = d
        .docker(&["exec", "ping1", "cat", "/etc/hosts"])
        .ok()
        .stdout
        .clone();
    let short = d.inspect("ping1", "{{.Config.Hostname}}");
    assert!(hosts.contains(&format!("{ip1}\t{short}")), "{hosts}");
}

#[test]
fn host_none_and_container_modes() {
    let d = Daemon::start();
    // host: the daemon's own interfaces, such as the link to a test host.
    let _remote = d.test_host(4);
    let outer = format!("{}v4", d.net_name);
    let o = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "ls",
            "/sys/class/net",
        ])
        .ok()
        .stdout
        .clone();
    assert!(o.lines().any(|l| l == outer), "{o}");
    // none: only lo.
    d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ls",
        "/sys/class/net",
    ])
    .ok()
    .stdout_is("lo\n");
    assert_eq!(
        d.docker(&["create", "--network", "none", "busybox"])
            .ok()
            .stdout
            .len(),
        65
    );
    // container:web reaches web on localhost.
    d.docker(&[
        "run",
        "-d",
        "--name",
        "cweb",
        "busybox",
        "sh",
        "-c",
        &httpd("shared-ns"),
    ])
    .ok();
    let page = wait_for(Duration::from_secs(10), || {
        let o = d.docker(&[
            "run",
            "--rm",
            "--network",
            "container:cweb",
            "busybox",
            "wget",
            "-q",
            "-O-",
            "http://127.0.0.1/index.html",
        ]);
        (o.code == Some(0)).then(|| o.stdout.trim().to_string())
    });
    assert_eq!(page.as_deref(), Some("shared-ns"));
    d.docker(&[
        "create",
        "--name",
        "joiner",
        "--network",
        "container:cweb",
        "busybox",
        "true",
    ])
    .ok();
    d.docker(&["stop", "-t", "1", "cweb"]).ok();
    d.docker(&["start", "joiner"])
        .fails()
        .stderr_has("cannot join network of a non running container");
}

#[test]
fn published_ports_survive_a_daemon_crash() {
    let mut d = Daemon::start();
    if d.is_dockerd() {
        return; // covered by live_restore for dockerd
    }
    let port = 18090 + d.slot() as u16;
    let spec = format!("{port}:80");
    d.docker(&[
        "run",
        "-d",
        "--name",
        "lr",
        "-p",
        &spec,
        "busybox",
        "sh",
        "-c",
        &httpd("still-here"),
    ])
    .ok();
    let up = wait_for(Duration::from_secs(10), || {
        (curl(&d, &format!("http://127.0.0.1:{port}/index.html")) == "still-here").then_some(())
    });
    assert!(up.is_some());
    let ip_before = d.inspect("lr", "{{.NetworkSettings.IPAddress}}");
    d.kill9();
    assert_eq!(
        curl(&d, &format!("http://127.0.0.1:{port}/index.html")),
        "still-here",
        "while the daemon is down"
    );
    d.restart();
    assert_eq!(
        curl(&d, &format!("http://127.0.0.1:{port}/index.html")),
        "still-here",
        "after restart"
    );
    // The restarted daemon knows the address is taken.
    d.docker(&["run", "-d", "--name", "lr2", "busybox", "sleep", "60"])
        .ok();
    assert_ne!(
        d.inspect("lr2", "{{.NetworkSettings.IPAddress}}"),
        ip_before
    );
    d.docker(&["run", "--rm", "-p", &spec, "busybox", "true"])
        .fails()
        .stderr_has("already allocated");
}

#[test]
fn user_network_dns_names_aliases_and_forwarding() {
    let d = Daemon::start();
    let remote = d.test_host(5);
    // A real DNS server on the test host answers an "outside" name.
    let conf = d.tmp().join("dnsmasq.conf");
    std::fs::write(
        &conf,
        format!(
            "no-resolv\nno-hosts\nlisten-address={}\nbind-interfaces\naddress=/outside.test/10.9.9.9\n",
            remote.addr
        ),
    )
    .unwrap();
    remote
        .sh(&format!(
            "dnsmasq --conf-file={} --pid-file={}",
            conf.display(),
            d.tmp().join("dnsmasq.pid").display()
        ))
        .ok();
    d.docker(&["network", "create", "my-net"]).ok();
    for (name, body) in [("web", "page-one"), ("web2", "page-two")] {
        d.docker(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "my-net",
            "--network-alias",
            "svc",
            "busybox",
            "sh",
            "-c",
            &httpd(body),
        ])
        .ok();
    }
    let dns_arg = format!("--dns={}", remote.addr);
    // By name, by alias, by short id; wget through the name.
    let page = wait_for(Duration::from_secs(10), || {
        let o = d.docker(&[
            "run",
            "--rm",
            "--network",
            "my-net",
            "busybox",
            "wget",
            "-q",
            "-O-",
            "http://web/index.html",
        ]);
        (o.code == Some(0)).then(|| o.stdout.trim().to_string())
    });
    assert_eq!(page.as_deref(), Some("page-one"));
    let short = d.inspect("web2", "{{.Id}}")[..12].to_string();
    let script = format!(
        "cat /etc/resolv.conf; nslookup web2 127.0.0.11; nslookup {short} 127.0.0.11; \
         for i in 1 2 3 4; do nslookup svc 127.0.0.11; done; nslookup -type=a outside.test 127.0.0.11"
    );
    let o = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            "my-net",
            &dns_arg,
            "busybox",
            "sh",
            "-c",
            &script,
        ])
        .ok()
        .stdout
        .clone();
    assert!(o.contains("nameserver 127.0.0.11"), "{o}");
    let ip1 = d.inspect(
        "web",
        "{{(index .NetworkSettings.Networks \"my-net\").IPAddress}}",
    );
    let ip2 = d.inspect(
        "web2",
        "{{(index .NetworkSettings.Networks \"my-net\").IPAddress}}",
    );
    assert!(o.contains(&format!("Address: {ip2}")), "{o}");
    assert!(o.contains(&ip1), "alias svc lists web: {o}");
    assert!(o.contains("10.9.9.9"), "forwarded to --dns: {o}");
    // The default bridge has no DNS for container names.
    d.docker(&["run", "-d", "--name", "plain", "busybox", "sleep", "60"])
        .ok();
    d.docker(&["run", "--rm", "busybox", "nslookup", "plain"])
        .fails();
}

#[test]
fn macvlan_puts_containers_on_the_parent_link() {
    let d = Daemon::start();
    let remote = d.test_host(6);
    let net = remote.addr.rsplit_once('.').unwrap().0.to_string();
    let subnet = format!("{net}.0/24");
    let range = format!("{net}.128/25");
    let gw = remote.daemon_addr.clone();
    let parent = format!("parent={}", remote.outer);
    d.docker(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "--subnet",
        &subnet,
        "--ip-range",
        &range,
        "--gateway",
        &gw,
        "-o",
        &parent,
        "mv",
    ])
    .ok();
    assert_eq!(
        d.docker(&[
            "network",
            "inspect",
            "-f",
            "{{.Driver}} {{.Options.parent}}",
            "mv"
        ])
        .ok()
        .stdout
        .trim(),
        format!("macvlan {}", remote.outer)
    );
    d.docker(&[
        "run",
        "-d",
        "--name",
        "mv1",
        "--network",
        "mv",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let ip1 = d.inspect("mv1", "{{.NetworkSettings.Networks.mv.IPAddress}}");
    assert!(
        ip1.starts_with(&format!("{net}.1")),
        "from the ip-range: {ip1}"
    );
    // The test host on the parent's link sees the container directly (L2).
    remote.sh(&format!("busybox ping -c 1 -W 2 {ip1}")).ok();
    d.docker(&[
        "run",
        "--rm",
        "--network",
        "mv",
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        &remote.addr,
    ])
    .ok();
    d.docker(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        "parent=nosuchlink0",
        "mv2",
    ])
    .fails()
    .stderr_has("nosuchlink0");
}

#[test]
fn hostname_dns_and_extra_hosts_land_in_the_files() {
    let d = Daemon::start();
    let o = d
        .docker(&[
            "run",
            "--rm",
            "--hostname",
            "box",
            "--domainname",
            "example.test",
            "--add-host",
            "db.local:10.1.2.3",
            "--dns",
            "10.0.0.53",
            "--dns-search",
            "corp.test",
            "--dns-option",
            "timeout:2",
            "busybox",
            "sh",
            "-c",
            "hostname; cat /etc/hostname /etc/hosts /etc/resolv.conf",
        ])
        .ok()
        .stdout
        .clone();
    assert!(o.starts_with("box\n"), "{o}");
    assert!(o.contains("10.1.2.3\tdb.local"), "{o}");
    assert!(o.contains("nameserver 10.0.0.53"), "{o}");
    assert!(o.contains("search corp.test"), "{o}");
    assert!(o.contains("options timeout:2"), "{o}");
    assert!(o.contains("box.example.test"), "{o}");
    // On a user network the nameserver is the embedded one, with the search list kept.
    d.docker(&["network", "create", "files-net"]).ok();
    let o = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            "files-net",
            "--dns-search",
            "corp.test",
            "busybox",
            "cat",
            "/etc/resolv.conf",
        ])
        .ok()
        .stdout
        .clone();
    assert!(
        o.contains("nameserver 127.0.0.11") && o.contains("search corp.test"),
        "{o}"
    );
}

#[test]
fn publish_all_ranges_udp_and_host_ip() {
    let d = Daemon::start();
    let base = 18200 + 10 * d.slot() as u16;
    // Two exposed ports; -P publishes both on random ports.
    d.docker(&[
        "run", "-d", "--name", "pa", "-P", "--expose", "80", "--expose", "81/udp", "busybox",
        "sleep", "300",
    ])
    .ok();
    let o = d.docker(&["port", "pa"]).ok().stdout.clone();
    assert!(
        o.contains("80/tcp -> 0.0.0.0:") && o.contains("81/udp -> 0.0.0.0:"),
        "{o}"
    );
    // A range and a host address.
    let range = format!("127.0.0.1:{}-{}:7000-7001", base, base + 1);
    d.docker(&[
        "run", "-d", "--name", "rg", "-p", &range, "busybox", "sleep", "300",
    ])
    .ok();
    let o = d.docker(&["port", "rg"]).ok().stdout.clone();
    assert!(o.contains(&format!("7000/tcp -> 127.0.0.1:{base}")), "{o}");
    assert!(
        o.contains(&format!("7001/tcp -> 127.0.0.1:{}", base + 1)),
        "{o}"
    );
    // (busybox here has no UDP server applet; UDP bindings are checked
    // through `docker port` above.)
    // Nonsense is refused at create.
    d.docker(&["create", "-p", "99999:80", "busybox"]).fails();
}
