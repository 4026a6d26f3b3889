//! Certificates for the TLS tests (`tls.rs`, `tls_config.rs`): generated
//! once per test run by the real `openssl` CLI with Docker's documented
//! recipe, kept in memory (the scratch directory is removed at once); each
//! test writes the files it needs into its own temporary directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::config::TlsSettings;

pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CSR for `key` signed by `ca` with the extensions in `ext`.
pub fn sign(dir: &Path, ca: &str, key: &str, cn: &str, ext: &str, out: &str) {
    let csr = format!("{out}.csr");
    let extfile = format!("{out}.ext");
    std::fs::write(dir.join(&extfile), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-subj",
            &format!("/CN={cn}"),
            "-new",
            "-key",
            key,
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "365",
            "-sha256",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}-key.pem"),
            "-CAcreateserial",
            "-out",
            out,
            "-extfile",
            &extfile,
        ],
    );
}

pub const SERVER_EXT: &str =
    "subjectAltName = IP:127.0.0.1,DNS:localhost\nextendedKeyUsage = serverAuth\n";

pub const CLIENT_EXT: &str = "extendedKeyUsage = clientAuth\n";

pub fn generate() -> HashMap<String, Vec<u8>> {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // The CA (Docker's recipe, with 2048-bit keys to keep the test fast).
    openssl(d, &["genrsa", "-out", "ca-key.pem", "2048"]);
    self_signed_ca(d, "ca-key.pem", "berth test CA", "ca.pem");
    server_certs(d);
    client_certs(d);
    expired_client(d);
    let mut files = HashMap::new();
    for e in std::fs::read_dir(d).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".pem") {
            files.insert(name, std::fs::read(e.path()).unwrap());
        }
    }
    files
}

pub fn self_signed_ca(d: &Path, key: &str, cn: &str, out: &str) {
    let subj = format!("/CN={cn}");
    let args = [
        "req", "-new", "-x509", "-days", "365", "-key", key, "-sha256",
    ];
    openssl(d, &[&args[..], &["-subj", &subj, "-out", out]].concat());
}

/// A P-256 key in SEC1 form ("BEGIN EC PRIVATE KEY"), after an EC
/// PARAMETERS block unless `bare`.
pub fn ec_key(d: &Path, out: &str, bare: bool) {
    let mut args = vec!["ecparam", "-genkey", "-name", "prime256v1"];
    if bare {
        args.push("-noout");
    }
    args.extend(["-out", out]);
    openssl(d, &args);
}

/// Server certificates for a key in each form a daemon may be given.
pub fn server_certs(d: &Path) {
    // RSA key in PKCS#1 ("BEGIN RSA PRIVATE KEY").
    openssl(
        d,
        &["genrsa", "-traditional", "-out", "server-key.pem", "2048"],
    );
    sign(
        d,
        "ca",
        "server-key.pem",
        "localhost",
        SERVER_EXT,
        "server-cert.pem",
    );
    // EC P-256 key in PKCS#8 ("BEGIN PRIVATE KEY").
    let ec = [
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
    ];
    openssl(d, &[&ec[..], &["-out", "server-ec-key.pem"]].concat());
    let (key, cert) = ("server-ec-key.pem", "server-ec-cert.pem");
    sign(d, "ca", key, "localhost", SERVER_EXT, cert);
    // EC key in SEC1, after EC PARAMETERS.
    ec_key(d, "server-sec1-key.pem", false);
    let (key, cert) = ("server-sec1-key.pem", "server-sec1-cert.pem");
    sign(d, "ca", key, "localhost", SERVER_EXT, cert);
}

/// Client certificates of the CA (RSA and EC), and one of another CA.
pub fn client_certs(d: &Path) {
    // RSA key in PKCS#8, clientAuth.
    openssl(d, &["genrsa", "-out", "key.pem", "2048"]);
    sign(d, "ca", "key.pem", "client", CLIENT_EXT, "cert.pem");
    // EC key, clientAuth.
    ec_key(d, "ec-key.pem", true);
    sign(
        d,
        "ca",
        "ec-key.pem",
        "ec-client",
        CLIENT_EXT,
        "ec-cert.pem",
    );
    // A client of another CA.
    openssl(d, &["genrsa", "-out", "other-ca-key.pem", "2048"]);
    self_signed_ca(d, "other-ca-key.pem", "another CA", "other-ca.pem");
    ec_key(d, "other-key.pem", true);
    let (key, cert) = ("other-key.pem", "other-cert.pem");
    sign(d, "other-ca", key, "client", CLIENT_EXT, cert);
}

/// An expired client certificate from the right CA: `openssl ca` takes
/// explicit dates.
pub fn expired_client(d: &Path) {
    ec_key(d, "expired-key.pem", true);
    let csr = [
        "req",
        "-subj",
        "/CN=expired",
        "-new",
        "-key",
        "expired-key.pem",
    ];
    openssl(d, &[&csr[..], &["-out", "expired.csr"]].concat());
    std::fs::create_dir(d.join("newcerts")).unwrap();
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("serial"), "1000\n").unwrap();
    std::fs::write(
        d.join("ca.cnf"),
        format!(
            "[ca]\ndefault_ca = ca_default\n[ca_default]\ndir = {}\ndatabase = $dir/index.txt\n\
             new_certs_dir = $dir/newcerts\nserial = $dir/serial\ndefault_md = sha256\n\
             policy = policy_any\n[policy_any]\ncommonName = supplied\n[client]\n{CLIENT_EXT}",
            d.display()
        ),
    )
    .unwrap();
    let ca = [
        "ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.pem",
    ];
    let input = [
        "-keyfile",
        "ca-key.pem",
        "-in",
        "expired.csr",
        "-out",
        "expired-cert.pem",
    ];
    let dates = [
        "-startdate",
        "20200101000000Z",
        "-enddate",
        "20200201000000Z",
    ];
    openssl(
        d,
        &[&ca[..], &input, &dates, &["-extensions", "client"]].concat(),
    );
}

pub fn pem(name: &str) -> &'static [u8] {
    static CERTS: OnceLock<HashMap<String, Vec<u8>>> = OnceLock::new();
    CERTS
        .get_or_init(generate)
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
}

/// A per-test directory holding the named PEM files.
pub struct Files(pub tempfile::TempDir);

impl Files {
    pub fn new(names: &[&str]) -> Files {
        let dir = tempfile::tempdir().unwrap();
        for n in names {
            std::fs::write(dir.path().join(n), pem(n)).unwrap();
        }
        Files(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    pub fn str(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

pub fn settings(f: &Files, verify: bool, cert: &str, key: &str) -> TlsSettings {
    TlsSettings {
        verify_clients: verify,
        ca: verify.then(|| f.path("ca.pem")),
        cert: f.path(cert),
        key: f.path(key),
    }
}
