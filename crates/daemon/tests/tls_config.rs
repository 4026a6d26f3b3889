//! berthd's TLS settings read as dockerd reads them: `tls::server_config`
//! names the file at fault for every bad certificate or key (made by the
//! real `openssl` CLI), and `tcp://` addresses get dockerd's defaults.
//!
//! berthd is a binary crate, so its modules are compiled in here by path.

#[path = "../src/config.rs"]
#[allow(dead_code)]
mod config;
#[path = "../src/server.rs"]
#[allow(dead_code)]
mod server;
// Only server_config and tcp_address are under test here.
#[path = "../src/tls.rs"]
#[allow(dead_code)]
mod tls;
// Shared with tls.rs; each test file uses only part of it.
#[path = "common/certs.rs"]
#[allow(dead_code)]
mod certs;

use certs::{openssl, settings, Files};
use config::TlsSettings;

#[test]
fn server_config_names_the_file_at_fault() {
    let f = Files::new(&[
        "ca.pem",
        "server-cert.pem",
        "server-key.pem",
        "server-ec-cert.pem",
        "server-ec-key.pem",
        "server-sec1-cert.pem",
        "server-sec1-key.pem",
        "key.pem",
    ]);
    // Every key format of the recipe loads: PKCS#1 RSA, PKCS#8 EC, SEC1 EC.
    for (c, k) in [
        ("server-cert.pem", "server-key.pem"),
        ("server-ec-cert.pem", "server-ec-key.pem"),
        ("server-sec1-cert.pem", "server-sec1-key.pem"),
    ] {
        tls::server_config(&settings(&f, true, c, k)).unwrap();
        tls::server_config(&settings(&f, false, c, k)).unwrap();
    }
    let err = |s: TlsSettings| tls::server_config(&s).unwrap_err().to_string();

    let e = err(settings(&f, true, "server-cert.pem", "key.pem"));
    assert_eq!(
        e,
        format!(
            "the TLS certificate {} and key {} do not match",
            f.str("server-cert.pem"),
            f.str("key.pem")
        )
    );
    let e = err(settings(
        &f,
        true,
        "server-ec-cert.pem",
        "server-sec1-key.pem",
    ));
    assert!(e.contains("do not match"), "{e}");

    let e = err(settings(&f, true, "server-cert.pem", "missing-key.pem"));
    assert!(
        e.starts_with(&format!(
            "could not load the TLS key {}: ",
            f.str("missing-key.pem")
        )),
        "{e}"
    );
    let e = err(settings(&f, true, "missing-cert.pem", "server-key.pem"));
    assert!(
        e.starts_with(&format!(
            "could not load the TLS certificate {}: ",
            f.str("missing-cert.pem")
        )),
        "{e}"
    );
    let mut s = settings(&f, true, "server-cert.pem", "server-key.pem");
    s.ca = Some(f.path("missing-ca.pem"));
    let e = err(s);
    assert!(
        e.starts_with(&format!(
            "could not load the TLS CA certificate {}: ",
            f.str("missing-ca.pem")
        )),
        "{e}"
    );
    // --tls alone does not need the CA.
    let mut s = settings(&f, false, "server-cert.pem", "server-key.pem");
    s.ca = Some(f.path("missing-ca.pem"));
    tls::server_config(&s).unwrap();

    // Files of the wrong kind, garbage, an unreadable directory, encryption.
    let e = err(settings(&f, true, "server-key.pem", "server-key.pem"));
    assert!(
        e.contains("could not load the TLS certificate") && e.contains("no PEM certificate"),
        "{e}"
    );
    let e = err(settings(&f, true, "server-cert.pem", "server-cert.pem"));
    assert!(
        e.contains("could not load the TLS key") && e.contains("no PEM private key"),
        "{e}"
    );
    std::fs::write(
        f.path("garbage.pem"),
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = err(settings(&f, true, "garbage.pem", "server-key.pem"));
    assert!(
        e.starts_with(&format!(
            "could not load the TLS certificate {}",
            f.str("garbage.pem")
        )),
        "{e}"
    );
    std::fs::write(
        f.path("bad-der.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = err(settings(&f, true, "bad-der.pem", "server-key.pem"));
    assert!(
        e.starts_with(&format!(
            "could not load the TLS certificate {}",
            f.str("bad-der.pem")
        )),
        "{e}"
    );
    let mut s = settings(&f, true, "server-cert.pem", "server-key.pem");
    s.ca = Some(f.path("bad-der.pem"));
    let e = err(s);
    assert!(
        e.starts_with(&format!(
            "could not load the TLS CA certificate {}",
            f.str("bad-der.pem")
        )),
        "{e}"
    );
    let e = err(settings(&f, true, "server-cert.pem", ""));
    assert!(e.starts_with("could not load the TLS key "), "{e}");
    openssl(
        f.0.path(),
        &[
            "pkey",
            "-in",
            "server-key.pem",
            "-aes256",
            "-passout",
            "pass:secret",
            "-out",
            "encrypted-key.pem",
        ],
    );
    let e = err(settings(&f, true, "server-cert.pem", "encrypted-key.pem"));
    assert!(e.contains("encrypted-key.pem: the key is encrypted"), "{e}");
}

#[test]
fn tcp_addresses_as_dockerd_reads_them() {
    let a = |h: &str, tls: bool| tls::tcp_address(h, tls).map_err(|e| e.to_string());
    assert_eq!(a("tcp://0.0.0.0:2376", true).unwrap(), "0.0.0.0:2376");
    assert_eq!(a("tcp://127.0.0.1", true).unwrap(), "127.0.0.1:2376");
    assert_eq!(a("tcp://127.0.0.1", false).unwrap(), "127.0.0.1:2375");
    assert_eq!(a("tcp://:2380", false).unwrap(), "127.0.0.1:2380");
    assert_eq!(a("tcp://", false).unwrap(), "127.0.0.1:2375");
    assert_eq!(a("tcp://[::1]:2376", true).unwrap(), "[::1]:2376");
    assert_eq!(a("tcp://[::]", false).unwrap(), "[::]:2375");
    assert_eq!(a("tcp://localhost:2376/", true).unwrap(), "localhost:2376");
    assert_eq!(a("0.0.0.0:2376", true).unwrap(), "0.0.0.0:2376");
    assert!(a("tcp://1.2.3.4:2376/path", true)
        .unwrap_err()
        .contains("path element"));
    assert!(a("tcp://1.2.3.4:http", true)
        .unwrap_err()
        .contains("invalid port"));
    assert!(a("tcp://::1:2376", true).unwrap_err().contains("brackets"));
    assert!(a("fd://", true).unwrap_err().contains("not supported"));
}
