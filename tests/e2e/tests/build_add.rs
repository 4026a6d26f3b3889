//! `docker build` (the classic builder): `ADD` of URLs (HTTP and HTTPS
//! on loopback) and of local tars. Runs against dockerd too
//! (`BERTH_E2E_DAEMON=dockerd`).

use std::fs;
use std::path::{Path, PathBuf};

use berth_e2e::build::{build, context};
use berth_e2e::Daemon;

/// `ADD` of a URL served on loopback, and of a local tar (extracted).
#[test]
fn add_url_and_local_tar() {
    let d = Daemon::start();
    // A one-shot HTTP server on loopback (dockerd here runs in its own
    // netns, so serve inside it when the harness says so).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut req = [0u8; 2048];
            let n = std::io::Read::read(&mut s, &mut req).unwrap_or(0);
            let req = String::from_utf8_lossy(&req[..n]).to_string();
            let resp = if req.starts_with("GET /files/hello.txt ") {
                "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello, http\n"
                    .to_string()
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = std::io::Write::write_all(&mut s, resp.as_bytes());
        }
    });
    let mut t = berth_e2e::fixture::TarBuilder::default();
    t.dir("pkg", 0o755);
    t.file("pkg/inside.txt", b"from the tar\n", 0o644);
    let tarball = t.finish();
    let dir = context(
        &d,
        "add",
        &[(
            "Dockerfile",
            &format!(
                "FROM busybox\nADD http://127.0.0.1:{port}/files/hello.txt /web/\nADD bundle.tar /opt/\n"
            ),
        )],
    );
    fs::write(dir.join("bundle.tar"), &tarball).expect("tar");
    if d.is_dockerd() {
        // dockerd fetches from its own network namespace, not this
        // loopback: check the local tar only.
        fs::write(
            dir.join("Dockerfile"),
            "FROM busybox\nADD bundle.tar /opt/\n",
        )
        .expect("write");
        build(&d, &dir, "-t bbd-add").ok();
        d.docker(&["run", "--rm", "bbd-add", "cat", "/opt/pkg/inside.txt"])
            .ok()
            .stdout_is("from the tar\n");
        drop(server);
        return;
    }
    build(&d, &dir, "-t bbd-add").ok();
    d.docker(&[
        "run",
        "--rm",
        "bbd-add",
        "sh",
        "-c",
        "cat /web/hello.txt; stat -c %a /web/hello.txt; cat /opt/pkg/inside.txt",
    ])
    .ok()
    .stdout_is("hello, http\n600\nfrom the tar\n");
    let bad = context(
        &d,
        "add404",
        &[(
            "Dockerfile",
            &format!("FROM busybox\nADD http://127.0.0.1:{port}/nope /x\n"),
        )],
    );
    build(&d, &bad, "-t bbd-add404").fails().stdout_has("404");
    let _ = server.join();
}

/// An HTTPS server on loopback (inside the daemon's network namespace
/// for dockerd) serving `dir`, with its CA; killed on drop.
struct HttpsServer {
    child: std::process::Child,
    port: u16,
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(args: &[&str], dir: &Path) {
    let o = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// (ca.crt path, server) with the CA and a 127.0.0.1 certificate made by
/// openssl in `certs`, serving `root`.
fn https_server(netns: Option<&str>, certs: &Path, root: &Path) -> (PathBuf, HttpsServer) {
    fs::create_dir_all(certs).expect("mkdir");
    fs::write(
        certs.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-days",
        "2",
        "-subj",
        "/CN=bbd test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    openssl(&ca, certs);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(&csr, certs);
    openssl(
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-CAcreateserial",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ],
        certs,
    );
    // Python's SimpleHTTPRequestHandler sends Last-Modified from the
    // file's mtime, which ADD gives the downloaded file.
    let script = "import http.server,ssl,sys,os\n\
        os.chdir(sys.argv[1])\n\
        s=http.server.ThreadingHTTPServer(('127.0.0.1',0),http.server.SimpleHTTPRequestHandler)\n\
        c=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
        c.load_cert_chain(sys.argv[2],sys.argv[3])\n\
        s.socket=c.wrap_socket(s.socket,server_side=True)\n\
        print(s.server_address[1],flush=True)\n\
        s.serve_forever()\n";
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", ns, "python3"]);
            c
        }
        None => std::process::Command::new("python3"),
    };
    let mut child = cmd
        .args(["-c", script])
        .arg(root)
        .arg(certs.join("server.crt"))
        .arg(certs.join("server.key"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    let out = child.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).expect("port");
    let port = line.trim().parse().expect("port");
    (certs.join("ca.crt"), HttpsServer { child, port })
}

/// `ADD https://...` from a loopback server whose CA the daemon trusts
/// through `SSL_CERT_FILE` (both dockerd and berthd read it): the file
/// lands with mode 600 and the server's Last-Modified as its mtime.
/// `--checksum` (BuildKit's; berthd only) refuses a body that differs.
#[test]
fn add_https_url() {
    let root = std::env::temp_dir().join(format!("bbd-https-{}", std::process::id()));
    let certs = root.join("certs");
    let www = root.join("www");
    fs::create_dir_all(www.join("files")).expect("mkdir");
    fs::write(www.join("files/hello.txt"), "hello, https\n").expect("write");
    // 2001-02-03 04:05:06 UTC
    let o = std::process::Command::new("touch")
        .args(["-d", "@981173106"])
        .arg(www.join("files/hello.txt"))
        .status()
        .expect("touch");
    assert!(o.success());
    let mut server = None;
    let ca = certs.join("ca.crt");
    let ca_s = ca.display().to_string();
    let d = Daemon::start_with_env(&[], &[("SSL_CERT_FILE", &ca_s)], |ns| {
        server = Some(https_server(ns, &certs, &www).1);
    });
    let server = server.expect("server");
    let url = format!("https://127.0.0.1:{}/files/hello.txt", server.port);
    let dir = context(
        &d,
        "add-https",
        &[("Dockerfile", &format!("FROM busybox\nADD {url} /web/\n"))],
    );
    build(&d, &dir, "-t bbd-add-https").ok();
    d.docker(&[
        "run",
        "--rm",
        "bbd-add-https",
        "stat",
        "-c",
        "%a %Y %s",
        "/web/hello.txt",
    ])
    .ok()
    .stdout_is("600 981173106 13\n");
    d.docker(&["run", "--rm", "bbd-add-https", "cat", "/web/hello.txt"])
        .ok()
        .stdout_is("hello, https\n");
    // A missing file: the status in the error.
    let missing = context(
        &d,
        "add-https-404",
        &[(
            "Dockerfile",
            &format!(
                "FROM busybox\nADD https://127.0.0.1:{}/nope /x\n",
                server.port
            ),
        )],
    );
    build(&d, &missing, "-t bbd-add-https-404")
        .fails()
        .stdout_has("404");
    if !d.is_dockerd() {
        let sum = "sha256:1f2ce2d9f7d1a8f1a4f0f7be1b6f4e2b2ab09b17a50d04c0b9d3ebc3e4a1a5c0";
        let bad = context(
            &d,
            "add-https-sum",
            &[(
                "Dockerfile",
                &format!("FROM busybox\nADD --checksum={sum} {url} /x\n"),
            )],
        );
        build(&d, &bad, "-t bbd-add-https-sum")
            .fails()
            .stdout_has("digest mismatch");
        let good = format!("sha256:{}", sha256_hex(b"hello, https\n"));
        fs::write(
            bad.join("Dockerfile"),
            format!("FROM busybox\nADD --checksum={good} {url} /x\n"),
        )
        .expect("write");
        build(&d, &bad, "-t bbd-add-https-sum").ok();
        let local = context(
            &d,
            "add-sum-local",
            &[
                (
                    "Dockerfile",
                    &format!("FROM busybox\nADD --checksum={good} f /x\n"),
                ),
                ("f", "x"),
            ],
        );
        build(&d, &local, "-t bbd-add-sum-local")
            .fails()
            .stdout_has("checksum can't be specified for non-HTTP(S) sources");
    }
    drop(server);
    drop(d);
    let _ = fs::remove_dir_all(&root);
}

fn sha256_hex(data: &[u8]) -> String {
    let o = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            std::io::Write::write_all(c.stdin.as_mut().expect("stdin"), data)?;
            c.wait_with_output()
        })
        .expect("sha256sum");
    String::from_utf8_lossy(&o.stdout)[..64].to_string()
}
