//! Forwarding to a real upstream: dnsmasq in a second namespace, joined to
//! the container's by a veth. The upstream's subnet exists only inside
//! those two namespaces, so an answer proves the forwarding sockets were
//! made inside the container's namespace.

mod support;

use std::time::Duration;

use berth_dns::{Config, ContainerDns, Server};
use support::*;

const ME: &str = "eeeeeeeeeeee0000000000000000000000000000000000000000000000000005";
const WEB: &str = "ffffffffffff0000000000000000000000000000000000000000000000000006";

/// A container namespace `c` (10.77.0.2) and an upstream namespace `u`
/// (10.77.0.1) running dnsmasq, which knows `outside.test`, `printer` and a
/// TXT set too big for one UDP answer.
struct World {
    c: Ns,
    _dnsmasq: Proc,
    _u: Ns,
}

/// 8 TXT records of 250 bytes: about 2 KiB.
fn big_txt_args() -> Vec<String> {
    (0..8)
        .map(|i| format!("--txt-record=big.test,{}{}", i, "x".repeat(249)))
        .collect()
}

async fn world() -> World {
    let c = Ns::new();
    let u = Ns::new();
    veth(&c, "10.77.0.2/24", &u, "10.77.0.1/24");
    let mut extra = vec![
        "--address=/outside.test/10.77.0.9".to_string(),
        "--address=/printer/10.77.0.7".to_string(),
    ];
    extra.extend(big_txt_args());
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let dnsmasq = dnsmasq(&u, "10.77.0.1", &extra);
    let ready = eventually(Duration::from_secs(10), || async {
        dig_at(&c, "@10.77.0.1", &["outside.test"]).await.data() == vec!["10.77.0.9"]
    })
    .await;
    assert!(ready, "dnsmasq did not come up in {}", u.name);
    World {
        c,
        _dnsmasq: dnsmasq,
        _u: u,
    }
}

fn server(timeout: Duration) -> Server {
    let dns = Server::new(Config {
        forward_timeout: timeout,
        ..Config::default()
    })
    .expect("server");
    dns.set_network(
        "n-fwd",
        network(
            "fwd",
            vec![
                endpoint(ME, "me", &[], "10.77.5.2"),
                endpoint(WEB, "web", &[], "10.77.5.3"),
            ],
        ),
    );
    dns
}

fn upstream() -> ContainerDns {
    ContainerDns {
        upstreams: vec![addr("10.77.0.1:53")],
        ..ContainerDns::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_over_udp_and_tcp_with_tcp_on_truncation() {
    let w = world().await;
    let dns = server(Duration::from_secs(2));
    let _h = dns
        .attach(ME, &w.c.path(), upstream())
        .await
        .expect("attach");

    let d = dig(&w.c, &["outside.test"]).await;
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert_eq!(d.data(), vec!["10.77.0.9"], "{}", d.raw);
    assert!(d.flags.contains(&"ra".to_string()), "{}", d.raw);
    assert!(
        !d.flags.contains(&"aa".to_string()),
        "forwarded, not ours: {}",
        d.raw
    );

    let d = dig(&w.c, &["+tcp", "OUTSIDE.test"]).await;
    assert_eq!(d.data(), vec!["10.77.0.9"], "{}", d.raw);

    // Local names stay local with an upstream.
    assert_eq!(dig(&w.c, &["web"]).await.data(), vec!["10.77.5.3"]);
    // A name dnsmasq refuses: SERVFAIL.
    assert_eq!(dig(&w.c, &["nothing.test"]).await.status, "SERVFAIL");

    // dnsmasq truncates the big TXT set over UDP...
    let direct = dig_at(
        &w.c,
        "@10.77.0.1",
        &["+ignore", "+bufsize=4096", "big.test", "TXT"],
    )
    .await;
    assert!(direct.flags.contains(&"tc".to_string()), "{}", direct.raw);
    // ...the embedded server asks again over TCP and, as the client takes
    // 4096 bytes, answers in full over UDP.
    let d = dig(&w.c, &["+ignore", "+bufsize=4096", "big.test", "TXT"]).await;
    assert!(!d.flags.contains(&"tc".to_string()), "{}", d.raw);
    assert_eq!(d.answers.len(), 8, "{}", d.raw);
    // A client without EDNS (512 bytes) gets TC, then retries over TCP.
    let d = dig(&w.c, &["+noedns", "+ignore", "big.test", "TXT"]).await;
    assert!(d.flags.contains(&"tc".to_string()), "{}", d.raw);
    let d = dig(&w.c, &["+noedns", "big.test", "TXT"]).await;
    assert_eq!(d.answers.len(), 8, "{}", d.raw);
    let d = dig(&w.c, &["+tcp", "big.test", "TXT"]).await;
    assert_eq!(d.answers.len(), 8, "{}", d.raw);

    // busybox nslookup through the embedded server.
    let out =
        w.c.cmd("busybox")
            .args(["nslookup", "outside.test", "127.0.0.11"])
            .output()
            .expect("busybox");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Address: 10.77.0.9"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_upstream_times_out_without_blocking_local_answers() {
    let w = world().await;
    // 10.77.0.66 is a black hole: a neighbour nobody owns, so packets to it
    // leave and vanish, with no ICMP error to end the wait early.
    w.c.ip(&[
        "neigh",
        "add",
        "10.77.0.66",
        "lladdr",
        "02:00:00:00:00:66",
        "dev",
        "v0",
        "nud",
        "permanent",
    ]);
    let dead = ContainerDns {
        upstreams: vec![addr("10.77.0.66:53")],
        ..ContainerDns::default()
    };
    // A long timeout, so "waited for it" and "did not" stay far apart even
    // on a loaded machine.
    let dns = server(Duration::from_secs(3));
    let h = dns
        .attach(ME, &w.c.path(), dead.clone())
        .await
        .expect("attach");

    for tcp in [false, true] {
        let args: &[&str] = if tcp {
            &["+tcp", "outside.test"]
        } else {
            &["outside.test"]
        };
        let slow = tokio::spawn(dig_in(
            w.c.name.clone(),
            "@127.0.0.11".to_string(),
            args.iter().map(|a| a.to_string()).collect(),
        ));
        tokio::time::sleep(Duration::from_millis(150)).await;
        let local = dig(&w.c, &["web"]).await;
        assert_eq!(local.data(), vec!["10.77.5.3"], "{}", local.raw);
        assert!(
            local.elapsed < Duration::from_millis(1500),
            "a local answer waited for the dead upstream: {:?}",
            local.elapsed
        );
        let d = slow.await.expect("dig task");
        assert_eq!(d.status, "SERVFAIL", "tcp={tcp}: {}", d.raw);
        assert!(
            d.elapsed >= Duration::from_millis(2900) && d.elapsed < Duration::from_secs(6),
            "tcp={tcp}: {:?}",
            d.elapsed
        );
    }

    // Dead first, live second: the answer comes from the second.
    h.update(ContainerDns {
        upstreams: vec![addr("10.77.0.66:53"), addr("10.77.0.1:53")],
        ..ContainerDns::default()
    });
    let d = dig(&w.c, &["outside.test"]).await;
    assert_eq!(d.data(), vec!["10.77.0.9"], "{}", d.raw);
    assert!(d.elapsed >= Duration::from_millis(2900), "{:?}", d.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_answers_servfail_at_once_and_ndots_keeps_short_names_local() {
    let w = world().await;
    let dns = server(Duration::from_secs(2));
    let h = dns
        .attach(ME, &w.c.path(), upstream())
        .await
        .expect("attach");
    assert_eq!(dig(&w.c, &["outside.test"]).await.data(), vec!["10.77.0.9"]);
    assert_eq!(dig(&w.c, &["printer"]).await.data(), vec!["10.77.0.7"]);

    h.update(ContainerDns {
        internal: true,
        ..upstream()
    });
    let d = dig(&w.c, &["outside.test"]).await;
    assert_eq!(d.status, "SERVFAIL", "{}", d.raw);
    assert!(d.elapsed < Duration::from_millis(1500), "{:?}", d.elapsed);
    assert_eq!(dig(&w.c, &["web"]).await.data(), vec!["10.77.5.3"]);

    // An explicit ndots > 0: single-label names that are not containers get
    // an empty answer (the client moves on to its search domains).
    h.update(ContainerDns {
        options: vec!["ndots:2".into()],
        ..upstream()
    });
    let d = dig(&w.c, &["printer"]).await;
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(d.answers.is_empty(), "{}", d.raw);
    assert_eq!(dig(&w.c, &["outside.test"]).await.data(), vec!["10.77.0.9"]);
    assert_eq!(dig(&w.c, &["web"]).await.data(), vec!["10.77.5.3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_forwards_in_flight_are_refused() {
    let w = world().await;
    w.c.ip(&[
        "neigh",
        "add",
        "10.77.0.66",
        "lladdr",
        "02:00:00:00:00:66",
        "dev",
        "v0",
        "nud",
        "permanent",
    ]);
    let dns = Server::new(Config {
        forward_timeout: Duration::from_secs(2),
        max_concurrent_forwards: 1,
        ..Config::default()
    })
    .expect("server");
    dns.set_network(
        "n-fwd",
        network("fwd", vec![endpoint(ME, "me", &[], "10.77.5.2")]),
    );
    // Two dead upstreams: the one forward slot stays taken for 4 s.
    let _h = dns
        .attach(
            ME,
            &w.c.path(),
            ContainerDns {
                upstreams: vec![addr("10.77.0.66:53"), addr("10.77.0.66:5353")],
                ..ContainerDns::default()
            },
        )
        .await
        .expect("attach");
    let first = tokio::spawn(dig_in(
        w.c.name.clone(),
        "@127.0.0.11".to_string(),
        vec!["first.test".to_string()],
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The second waits for the slot as long as one upstream may take, then
    // is refused, as Docker does; local names never wait.
    let second = tokio::spawn(dig_in(
        w.c.name.clone(),
        "@127.0.0.11".to_string(),
        vec!["second.test".to_string()],
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let local = dig(&w.c, &["me"]).await;
    assert_eq!(local.data(), vec!["10.77.5.2"], "{}", local.raw);
    let d = second.await.expect("dig task");
    assert_eq!(d.status, "REFUSED", "{}", d.raw);
    assert!(d.elapsed >= Duration::from_millis(1900), "{:?}", d.elapsed);
    // The first gets SERVFAIL once both dead upstreams timed out (4 s).
    let d = first.await.expect("dig task");
    assert_eq!(d.status, "SERVFAIL", "{}", d.raw);
}
