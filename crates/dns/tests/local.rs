//! The embedded server answering container names, from inside real network
//! namespaces, asked by real clients (dig, busybox nslookup).

mod support;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use berth_dns::{Config, ContainerDns, DnsError, Endpoint, Server};
use support::*;

const WEB: &str = "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000001";
const DB: &str = "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000002";
const CLIENT: &str = "cccccccccccc0000000000000000000000000000000000000000000000000003";
const HIDDEN: &str = "dddddddddddd0000000000000000000000000000000000000000000000000004";

fn server() -> Server {
    Server::new(Config {
        forward_timeout: Duration::from_secs(1),
        ..Config::default()
    })
    .expect("server")
}

/// front: web, db (alias `www` on both), client. back: db, hidden.
fn names(dns: &Server) {
    dns.set_network(
        "n-front",
        network(
            "front",
            vec![
                endpoint(WEB, "/web", &["www"], "10.77.1.2"),
                Endpoint {
                    ipv6: Some("fd77::3".parse().expect("v6")),
                    ..endpoint(DB, "db", &["www"], "10.77.1.3")
                },
                endpoint(CLIENT, "client", &[], "10.77.1.4"),
            ],
        ),
    );
    dns.set_network(
        "n-back",
        network(
            "back",
            vec![
                endpoint(DB, "db", &[], "10.77.2.3"),
                endpoint(HIDDEN, "hidden", &[], "10.77.2.9"),
            ],
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_aliases_short_ids_and_network_suffix() {
    let ns = Ns::new();
    let dns = server();
    names(&dns);
    let _h = dns
        .attach(CLIENT, &ns.path(), ContainerDns::default())
        .await
        .expect("attach");

    let d = dig(&ns, &["web"]).await;
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert_eq!(
        d.answers,
        vec![(
            "web.".to_string(),
            600,
            "A".to_string(),
            "10.77.1.2".to_string()
        )],
        "{}",
        d.raw
    );
    assert!(d.flags.contains(&"ra".to_string()), "{}", d.raw);
    assert!(d.flags.contains(&"qr".to_string()), "{}", d.raw);
    assert!(!d.flags.contains(&"aa".to_string()), "{}", d.raw);

    for name in ["WEB.", "Web", "aaaaaaaaaaaa", "web.front", "WEB.FRONT."] {
        let d = dig(&ns, &[name]).await;
        assert_eq!(d.data(), vec!["10.77.1.2"], "{name}: {}", d.raw);
    }
    let mut both = dig(&ns, &["www"]).await.data();
    both.sort();
    assert_eq!(both, vec!["10.77.1.2", "10.77.1.3"]);
    // db.back: client is not on back; db.front is.
    assert_eq!(dig(&ns, &["db.front"]).await.data(), vec!["10.77.1.3"]);

    // A v4-only name: AAAA is NOERROR with no answers, not NXDOMAIN.
    let d = dig(&ns, &["web", "AAAA"]).await;
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(d.answers.is_empty(), "{}", d.raw);

    // MX of a container: empty NOERROR (implicit MX), not forwarded.
    let d = dig(&ns, &["web", "MX"]).await;
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(d.answers.is_empty(), "{}", d.raw);

    // IPv6: AAAA and its PTR.
    let d = dig(&ns, &["db", "AAAA"]).await;
    assert_eq!(
        d.answers,
        vec![(
            "db.".to_string(),
            600,
            "AAAA".to_string(),
            "fd77::3".to_string()
        )],
        "{}",
        d.raw
    );
    assert_eq!(dig(&ns, &["-x", "fd77::3"]).await.data(), vec!["db.front."]);

    // Names of networks the client is not on are not ours to answer: they go
    // to the upstreams, and there are none here: SERVFAIL.
    for name in ["hidden", "db.back", "nothing.example"] {
        let d = dig(&ns, &[name]).await;
        assert_eq!(d.status, "SERVFAIL", "{name}: {}", d.raw);
        assert!(d.answers.is_empty(), "{}", d.raw);
    }

    // busybox's nslookup (asks A and AAAA).
    let out = ns
        .cmd("busybox")
        .args(["nslookup", "web", "127.0.0.11"])
        .output()
        .expect("busybox (package busybox-static)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Address: 10.77.1.2"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_container_sees_its_own_networks_and_changes_apply_at_once() {
    let client_ns = Ns::new();
    let db_ns = Ns::new();
    let dns = server();
    names(&dns);
    let _c = dns
        .attach(CLIENT, &client_ns.path(), ContainerDns::default())
        .await
        .expect("attach client");
    let _d = dns
        .attach(DB, &db_ns.path(), ContainerDns::default())
        .await
        .expect("attach db");

    assert_eq!(dig(&db_ns, &["hidden"]).await.data(), vec!["10.77.2.9"]);
    assert_eq!(dig(&client_ns, &["hidden"]).await.status, "SERVFAIL");
    assert_eq!(dig(&db_ns, &["db.back"]).await.data(), vec!["10.77.2.3"]);

    // hidden joins front with an alias: the client sees it at once.
    dns.set_network(
        "n-front",
        network(
            "front",
            vec![
                endpoint(WEB, "web", &["www"], "10.77.1.2"),
                endpoint(CLIENT, "client", &[], "10.77.1.4"),
                endpoint(HIDDEN, "hidden", &["cache"], "10.77.1.9"),
            ],
        ),
    );
    assert_eq!(dig(&client_ns, &["hidden"]).await.data(), vec!["10.77.1.9"]);
    assert_eq!(dig(&client_ns, &["cache"]).await.data(), vec!["10.77.1.9"]);
    // db left front: the client no longer finds it, and db no longer sees web.
    assert_eq!(dig(&client_ns, &["db"]).await.status, "SERVFAIL");
    assert_eq!(dig(&db_ns, &["web"]).await.status, "SERVFAIL");
    // back removed: db is on no network.
    dns.remove_network("n-back");
    assert_eq!(dig(&db_ns, &["db"]).await.status, "SERVFAIL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_ptr_and_tcp() {
    let ns = Ns::new();
    let dns = server();
    dns.set_network(
        "n-rr",
        network(
            "rrnet",
            vec![
                endpoint(CLIENT, "client", &[], "10.77.3.10"),
                endpoint(WEB, "web1", &["svc"], "10.77.3.1"),
                endpoint(DB, "web2", &["svc"], "10.77.3.2"),
                endpoint(HIDDEN, "web3", &["svc"], "10.77.3.3"),
            ],
        ),
    );
    let _h = dns
        .attach(CLIENT, &ns.path(), ContainerDns::default())
        .await
        .expect("attach");

    let mut firsts = Vec::new();
    for _ in 0..3 {
        let mut got = dig(&ns, &["svc"]).await.data();
        assert_eq!(got.len(), 3, "{got:?}");
        firsts.push(got[0].clone());
        got.sort();
        assert_eq!(got, vec!["10.77.3.1", "10.77.3.2", "10.77.3.3"]);
    }
    firsts.sort();
    firsts.dedup();
    assert_eq!(firsts.len(), 3, "each query starts with another address");

    let d = dig(&ns, &["-x", "10.77.3.2"]).await;
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert_eq!(
        d.answers,
        vec![(
            "2.3.77.10.in-addr.arpa.".to_string(),
            600,
            "PTR".to_string(),
            "web2.rrnet.".to_string()
        )]
    );

    let d = dig(&ns, &["+tcp", "web1.rrnet"]).await;
    assert_eq!(d.data(), vec!["10.77.3.1"], "{}", d.raw);
    let d = dig(&ns, &["+tcp", "-x", "10.77.3.1"]).await;
    assert_eq!(d.data(), vec!["web1.rrnet."], "{}", d.raw);
}

/// A raw DNS query for `name` type A, id 0x4242.
fn query(name: &str) -> Vec<u8> {
    let mut q = vec![0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_packets_do_not_break_it() {
    let ns = Ns::new();
    let dns = server();
    names(&dns);
    let _h = dns
        .attach(CLIENT, &ns.path(), ContainerDns::default())
        .await
        .expect("attach");

    // Panics inside the server's tasks would not stop it (tokio catches
    // them per task): count those outside the tests' own code.
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_tests = info.location().is_some_and(|l| l.file().contains("tests/"));
        if !in_tests {
            PANICS.fetch_add(1, Ordering::SeqCst);
        }
        previous(info);
    }));

    let udp = ns.socket(|| UdpSocket::bind("127.0.0.1:0").expect("bind"));
    let flood_socket = ns.socket(|| {
        let s = UdpSocket::bind("127.0.0.1:0").ok()?;
        s.connect("127.0.0.11:53").ok()?;
        Some(s)
    });
    udp.connect("127.0.0.11:53").expect("connect");
    udp.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let ask = move |packet: &[u8]| -> Option<Vec<u8>> {
        udp.send(packet).expect("send");
        let mut buf = [0u8; 4096];
        udp.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
    };
    let result = tokio::task::spawn_blocking(move || {
        // Too short for a header, and responses: no answer.
        assert_eq!(ask(&[]), None);
        assert_eq!(ask(&[1, 2, 3, 4, 5]), None);
        let mut response = query("web");
        response[2] |= 0x80;
        assert_eq!(ask(&response), None);
        // A header promising a question that is not there: FORMERR, same ID.
        let r = ask(&[0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0]).expect("formerr");
        assert_eq!(&r[..2], &[0x12, 0x34]);
        assert_eq!(r[3] & 0x0f, 1, "FORMERR: {r:?}");
        // A label running past the end, a compression loop.
        let mut bad = query("web");
        bad[12] = 60;
        assert_eq!(ask(&bad).expect("answer")[3] & 0x0f, 1);
        let looped = [
            0x42, 0x42, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1,
        ];
        assert_eq!(ask(&looped).expect("answer")[3] & 0x0f, 1);
        // Two questions: FORMERR. Opcode STATUS: NOTIMP.
        let mut two = query("web");
        two[5] = 2;
        two.extend_from_slice(&query("db")[12..]);
        assert_eq!(ask(&two).expect("answer")[3] & 0x0f, 1);
        let mut status = query("web");
        status[2] = 0x10;
        assert_eq!(ask(&status).expect("answer")[3] & 0x0f, 4);
        // The largest datagram, all garbage after a query header.
        let mut big = query("web")[..12].to_vec();
        big.resize(65_000, 0xff);
        let r = ask(&big).expect("answer");
        assert_eq!(r[3] & 0x0f, 1, "FORMERR");
        // A flood of damaged queries (bytes flipped, cut, extended), from a
        // socket that never reads its answers.
        let flood = flood_socket.expect("flood socket");
        let mut valid = query("web");
        valid[11] = 1; // one additional record: an EDNS OPT for 4096 bytes
        valid.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5000 {
            let mut p = valid.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % p.len();
                p[i] = next() as u8;
            }
            match next() % 4 {
                0 => p.truncate((next() as usize) % p.len()),
                1 => p.extend((0..next() % 64).map(|_| next() as u8)),
                _ => {}
            }
            let _ = flood.send(&p);
        }
        // Still answering properly, once it has worked through the flood.
        let r = (0..20)
            .find_map(|_| ask(&query("web")))
            .expect("answer after the flood");
        assert_eq!(r[3] & 0x0f, 0);
        assert_eq!(&r[r.len() - 4..], &[10, 77, 1, 2]);
    })
    .await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }

    // TCP: garbage, a length longer than what follows, then hang up.
    let path_ns = ns.socket(|| TcpStream::connect("127.0.0.11:53").expect("tcp connect"));
    let result = tokio::task::spawn_blocking(move || {
        let mut s = path_ns;
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        s.write_all(&[0, 3, 1, 2, 3]).expect("write");
        s.write_all(&[0xff, 0xff, 1, 2]).expect("write");
        drop(s);
    })
    .await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
    let tcp = ns.socket(|| TcpStream::connect("127.0.0.11:53").expect("tcp connect"));
    let result = tokio::task::spawn_blocking(move || {
        let mut s = tcp;
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut bad = query("web");
        bad[12] = 60;
        let mut framed = (bad.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bad);
        let q = query("web");
        framed.extend_from_slice(&(q.len() as u16).to_be_bytes());
        framed.extend_from_slice(&q);
        s.write_all(&framed).expect("write");
        for rcode in [1u8, 0] {
            let mut len = [0u8; 2];
            s.read_exact(&mut len).expect("length");
            let mut r = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut r).expect("answer");
            assert_eq!(r[3] & 0x0f, rcode, "{r:?}");
        }
    })
    .await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
    assert_eq!(dig(&ns, &["web"]).await.data(), vec!["10.77.1.2"]);
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "the server panicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detach_reattach_and_restart() {
    let ns = Ns::new();
    let dns = server();
    names(&dns);
    let h = dns
        .attach(CLIENT, &ns.path(), ContainerDns::default())
        .await
        .expect("attach");
    assert_eq!(dig(&ns, &["web"]).await.data(), vec!["10.77.1.2"]);
    h.detach();
    h.detach(); // idempotent
    h.close().await;
    let d = dig(&ns, &["web"]).await;
    assert!(
        !d.ok && d.answers.is_empty(),
        "no server after detach: {}",
        d.raw
    );

    // Attach again; then attach the same key again without detaching: the
    // second replaces the first.
    let _h1 = dns
        .attach(CLIENT, &ns.path(), ContainerDns::default())
        .await
        .expect("reattach");
    assert_eq!(dig(&ns, &["web"]).await.data(), vec!["10.77.1.2"]);
    let h2 = dns
        .attach(CLIENT, &ns.path(), ContainerDns::default())
        .await
        .expect("replace");
    assert_eq!(dig(&ns, &["+tcp", "web"]).await.data(), vec!["10.77.1.2"]);
    drop(_h1); // the replaced handle's drop does not detach the new one
    assert_eq!(dig(&ns, &["web"]).await.data(), vec!["10.77.1.2"]);

    // A daemon restart: the old server goes away, a new one attaches to the
    // same namespace by its path.
    h2.close().await;
    drop(dns);
    let dns2 = server();
    names(&dns2);
    let _h3 = dns2
        .attach(CLIENT, &ns.path(), ContainerDns::default())
        .await
        .expect("attach after restart");
    assert_eq!(dig(&ns, &["db"]).await.data(), vec!["10.77.1.3"]);

    // A namespace that does not exist: a clear error.
    let err = dns2
        .attach(
            CLIENT,
            "/run/netns/bdns-no-such-netns".as_ref(),
            ContainerDns::default(),
        )
        .await
        .expect_err("no such netns");
    assert!(matches!(err, DnsError::Netns { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot open network namespace /run/netns/bdns-no-such-netns"),
        "{err}"
    );
    // A file that is not a network namespace (a mount namespace, a plain
    // file), even for the attached key: refused, and the attachment that
    // was there goes on serving.
    for path in ["/proc/self/ns/mnt", "/etc/hostname"] {
        let err = dns2
            .attach(CLIENT, path.as_ref(), ContainerDns::default())
            .await
            .expect_err("not a netns");
        assert!(
            err.to_string().contains("not a network namespace"),
            "{path}: {err}"
        );
    }
    assert_eq!(dig(&ns, &["web"]).await.data(), vec!["10.77.1.2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_needs_loopback_up() {
    let ns = Ns::new_down();
    let dns = server();
    names(&dns);
    let err = dns
        .attach(CLIENT, &ns.path(), ContainerDns::default())
        .await
        .expect_err("lo is down");
    assert!(matches!(err, DnsError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().starts_with(
            "cannot reach 127.0.0.11:53 in the container's network namespace (is lo up?)"
        ),
        "{err}"
    );
    ns.ip(&["link", "set", "lo", "up"]);
    let _h = dns
        .attach(CLIENT, &ns.path(), ContainerDns::default())
        .await
        .expect("attach with lo up");
    let d = dig(&ns, &["web"]).await;
    assert_eq!(d.data(), vec!["10.77.1.2"], "{}", d.raw);
}
