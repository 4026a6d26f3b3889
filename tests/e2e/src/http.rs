//! A deliberately small HTTP/1.1 client over a unix socket, for status-code
//! and body tests. Hand-written because the tests need to send exactly the
//! bytes they mean (malformed JSON, odd headers) and read exactly what came
//! back; one request per connection (`Connection: close`).

use std::fmt;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// A complete response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub request: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the response when it is not JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e})\n{self}"))
    }

    /// `{"message": ...}` of an error body; panics if the body has no such field.
    #[track_caller]
    pub fn message(&self) -> String {
        match self.json().get("message").and_then(|m| m.as_str()) {
            Some(m) => m.to_string(),
            None => panic!("error body has no string \"message\"\n{self}"),
        }
    }

    /// Panics unless the status is `want`.
    #[track_caller]
    pub fn status_is(&self, want: u16) -> &Self {
        if self.status != want {
            panic!("expected HTTP {want}\n{self}");
        }
        self
    }
}

impl fmt::Display for Resp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "--- request: {}", self.request)?;
        writeln!(f, "--- response: HTTP {}", self.status)?;
        for (k, v) in &self.headers {
            writeln!(f, "{k}: {v}")?;
        }
        let t = self.text();
        let t = if t.len() > 2000 { &t[..2000] } else { &t[..] };
        writeln!(f, "\n{t}")
    }
}

/// Sends one request and reads the whole response.
pub fn request(
    sock: &Path,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: berth-e2e\r\nConnection: close\r\n");
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let mut r = parse(&raw)?;
    r.request = format!(
        "{method} {path} {}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    Ok(r)
}

/// A hijacked request (`Upgrade: tcp`, as the docker CLI sends attach and
/// exec start): the response head, then `stdin` written after `pause`
/// (which lets the stream start first), then everything the daemon sends
/// until it closes the connection (or `limit` passes); `true` when it closed.
pub fn hijack(
    sock: &Path,
    path: &str,
    body: &str,
    stdin: &[u8],
    pause: Duration,
    limit: Duration,
) -> std::io::Result<(Resp, Vec<u8>, bool)> {
    let mut s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(limit))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: berth-e2e\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(bad("connection closed before the response head"));
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let mut resp = parse(&raw[..end])?;
    resp.request = format!("POST {path} {body}");
    let mut out = raw[end..].to_vec();
    std::thread::sleep(pause);
    if !stdin.is_empty() {
        s.write_all(stdin)?;
    }
    let deadline = std::time::Instant::now() + limit;
    let mut closed = false;
    while std::time::Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
            Err(e) => return Err(e),
        }
    }
    Ok((resp, out, closed))
}

impl crate::Daemon {
    /// A hijacked `POST path` (attach, exec start); see [`hijack`].
    #[track_caller]
    pub fn hijack(
        &self,
        path: &str,
        body: &str,
        stdin: &[u8],
        limit: Duration,
    ) -> (Resp, Vec<u8>, bool) {
        hijack(
            &self.sock,
            path,
            body,
            stdin,
            Duration::from_millis(500),
            limit,
        )
        .unwrap_or_else(|e| panic!("[{}] hijacked POST {path} failed: {e}", self.test))
    }
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

fn parse(raw: &[u8]) -> std::io::Result<Resp> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            bad(&format!(
                "no end of headers in {:?}",
                String::from_utf8_lossy(raw)
            ))
        })?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad(&format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Ok(Resp {
        request: String::new(),
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("truncated chunk size"))?;
        let size_s = String::from_utf8_lossy(&b[..nl]);
        let size_s = size_s.split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_s, 16).map_err(|_| bad("bad chunk size"))?;
        b = &b[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size {
            return Err(bad("truncated chunk"));
        }
        out.extend_from_slice(&b[..size]);
        b = b.get(size + 2..).unwrap_or(&[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chunked() {
        let r = parse(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n")
            .unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.text(), "{\"a\":1}");
    }

    #[test]
    fn parses_plain() {
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK").unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "OK"));
        assert_eq!(r.header("content-length"), Some("2"));
    }
}
