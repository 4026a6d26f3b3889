//! Test support: a real berth-registry process per test on a free loopback
//! port with its own root under /tmp/breg-*, curl as the HTTP client,
//! openssl-made certificates. Everything is removed on drop.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_berth-registry");

/// A scratch directory /tmp/breg-<name>-<pid>, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let p = PathBuf::from(format!("/tmp/breg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running berth-registry.
pub struct Server {
    pub child: Option<Child>,
    pub port: u16,
    pub config: PathBuf,
    pub root: PathBuf,
    pub log: PathBuf,
    pub env: Vec<(String, String)>,
    pub scheme: &'static str,
}

impl Server {
    /// Writes a config (`extra` YAML appended after storage/http, with
    /// `{PORT}` replaced by the registry's port), starts
    /// the registry and waits for it to listen.
    pub fn start(dir: &Path, extra: &str) -> Server {
        Server::start_with(dir, extra, &[], "http")
    }

    pub fn start_with(
        dir: &Path,
        extra: &str,
        env: &[(&str, &str)],
        scheme: &'static str,
    ) -> Server {
        let port = free_port();
        let root = dir.join("root");
        let config = dir.join("config.yml");
        let text = format!(
            "version: 0.1\nlog:\n  level: debug\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{}",
            root.display(),
            extra.replace("{PORT}", &port.to_string())
        );
        std::fs::write(&config, text).expect("config");
        let mut s = Server {
            child: None,
            port,
            config,
            root,
            log: dir.join("registry.log"),
            env: env
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            scheme,
        };
        s.spawn();
        s
    }

    /// (Re)starts the process on the same config and port.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let child = Command::new(BIN)
            .arg("serve")
            .arg(&self.config)
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn berth-registry");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("berth-registry exited {st}: {}", self.log_text());
                }
            }
            assert!(
                Instant::now() < deadline,
                "berth-registry did not listen: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://127.0.0.1:{}{path}", self.scheme, self.port)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .get(&k.to_ascii_lowercase())
            .map(String::as_str)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// The first error code of an error body.
    pub fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// Runs curl: `method url`, extra args (headers `-H`, `-u`, `--cacert`),
/// optional body.
pub fn curl(method: &str, url: &str, args: &[&str], body: Option<&[u8]>) -> Resp {
    match try_curl(method, url, args, body) {
        Ok(r) => r,
        Err(e) => panic!("curl {method} {url}: {e}"),
    }
}

/// As [`curl`], with curl's failure (no connection, cut) as an error.
pub fn try_curl(
    method: &str,
    url: &str,
    args: &[&str],
    body: Option<&[u8]>,
) -> Result<Resp, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let hdr = dir.path().join("h");
    let out = dir.path().join("b");
    let mut c = Command::new("curl");
    c.args(["-s", "-S", "-X", method, "-D"])
        .arg(&hdr)
        .arg("-o")
        .arg(&out)
        .args(args);
    if method == "HEAD" {
        c.arg("-I");
    }
    if let Some(b) = body {
        let bf = dir.path().join("in");
        std::fs::write(&bf, b).expect("body");
        c.arg("--data-binary").arg(format!("@{}", bf.display()));
        if !args
            .iter()
            .any(|a| a.to_ascii_lowercase().starts_with("content-type"))
        {
            c.args(["-H", "Content-Type: application/octet-stream"]);
        }
    }
    c.arg(url);
    let o = c.output().expect("curl");
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    let raw = std::fs::read_to_string(&hdr).unwrap_or_default();
    // The last header block (after any 100 Continue).
    let block = raw
        .split("\r\n\r\n")
        .filter(|b| b.starts_with("HTTP/"))
        .last()
        .unwrap_or("")
        .to_string();
    let mut lines = block.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Resp {
        status,
        headers,
        body: std::fs::read(&out).unwrap_or_default(),
    })
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// Pushes a blob monolithically (POST ?digest=).
pub fn push_blob(s: &Server, repo: &str, data: &[u8], args: &[&str]) -> String {
    let d = sha256(data);
    let r = curl(
        "POST",
        &s.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")),
        args,
        Some(data),
    );
    assert_eq!(r.status, 201, "push blob: {}", r.text());
    d
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// An OCI image manifest over a config and layers (digest, size).
pub fn image_manifest(config: (&str, usize), layers: &[(&str, usize)]) -> Vec<u8> {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|(d, n)| serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1},
        "layers": layers,
    }))
    .expect("json")
}

pub fn put_manifest(
    s: &Server,
    repo: &str,
    reference: &str,
    media_type: &str,
    body: &[u8],
    args: &[&str],
) -> Resp {
    let ct = format!("Content-Type: {media_type}");
    let mut a: Vec<&str> = vec!["-H", &ct];
    a.extend_from_slice(args);
    curl(
        "PUT",
        &s.url(&format!("/v2/{repo}/manifests/{reference}")),
        &a,
        Some(body),
    )
}

/// Runs a command, returning (success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A CA and a server certificate for 127.0.0.1 (and localhost), made with
/// openssl: (ca.crt, server.crt, server.key).
pub fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = dir.join("ca.key");
    let ca = dir.join("ca.crt");
    let key = dir.join("server.key");
    let csr = dir.join("server.csr");
    let crt = dir.join("server.crt");
    let ext = dir.join("ext.cnf");
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").expect("ext");
    let ok = |c: &mut Command| {
        let (ok, _, err) = run(c);
        assert!(ok, "{c:?}: {err}");
    };
    ok(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=breg test CA",
        ])
        .arg("-keyout")
        .arg(&ca_key)
        .arg("-out")
        .arg(&ca));
    ok(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    ok(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(&csr)
        .arg("-CA")
        .arg(&ca)
        .arg("-CAkey")
        .arg(&ca_key)
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&crt));
    (ca, crt, key)
}

/// An htpasswd file (bcrypt, made by `htpasswd -B`) with one user.
pub fn make_htpasswd(path: &Path, user: &str, password: &str) {
    let (ok, out, err) = run(Command::new("htpasswd").args(["-Bbn", user, password]));
    assert!(ok, "htpasswd: {err}");
    let mut f = std::fs::File::create(path).expect("htpasswd file");
    f.write_all(out.as_bytes()).expect("write");
}

/// `n` bytes that differ by `seed`.
pub fn blob(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
