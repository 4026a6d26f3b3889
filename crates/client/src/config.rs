//! The client's configuration directory (`--config`, else `DOCKER_CONFIG`,
//! else `~/.docker`) and its `config.json`. berth reads `currentContext`
//! and writes only that key back, keeping everything else in the file
//! (credentials, plugins' settings, ...) as it was, in docker's format
//! (tab-indented, no trailing newline).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The file inside the configuration directory.
pub const CONFIG_FILE: &str = "config.json";

/// The config dir in force (`--config`, `DOCKER_CONFIG`, `~/.docker`),
/// set once at start for the commands that keep credentials.
pub static CONFIG_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The configuration directory: the `--config` flag, else `DOCKER_CONFIG`,
/// else `$HOME/.docker`.
pub fn dir(flag: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(f) = flag.filter(|f| !f.is_empty()) {
        return PathBuf::from(f);
    }
    if let Some(d) = env("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = env("HOME")
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into());
    Path::new(&home).join(".docker")
}

/// `open PATH: no such file or directory`: Go's wording for a failed file
/// operation, which the docker CLI prints as is.
pub fn go_io_error(op: &str, path: &Path, e: &std::io::Error) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => {
            let s = e.to_string();
            let s = match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            };
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
                None => s,
            }
        }
    };
    format!("{op} {}: {why}", path.display())
}

/// The parsed `config.json` (an empty object when there is none).
/// A file that does not parse is reported as the docker CLI does, as a
/// warning, and read as empty.
pub fn load(dir: &Path) -> (Map<String, Value>, Option<String>) {
    let path = dir.join(CONFIG_FILE);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Map::new(), None),
        Err(e) => {
            return (
                Map::new(),
                Some(format!(
                    "WARNING: Error loading config file: {}",
                    go_io_error("open", &path, &e)
                )),
            )
        }
    };
    if text.iter().all(u8::is_ascii_whitespace) {
        return (Map::new(), None);
    }
    match serde_json::from_slice::<Value>(&text) {
        Ok(Value::Object(m)) => (m, None),
        Ok(_) => (
            Map::new(),
            Some(format!(
                "WARNING: Error parsing config file ({}): not a JSON object",
                path.display()
            )),
        ),
        Err(e) => (
            Map::new(),
            Some(format!(
                "WARNING: Error parsing config file ({}): {e}",
                path.display()
            )),
        ),
    }
}

/// `currentContext` of the file, when set.
pub fn current_context(cfg: &Map<String, Value>) -> Option<String> {
    cfg.get("currentContext")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `detachKeys` of the file, when set: the default escape sequence of
/// attach, run, start and exec.
pub fn detach_keys(cfg: &Map<String, Value>) -> Option<String> {
    cfg.get("detachKeys")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Sets (or, with `None`, removes) `currentContext`, keeping every other
/// key; written atomically (temp file and rename). A file that does not
/// parse is never overwritten.
pub fn set_current_context(dir: &Path, name: Option<&str>) -> Result<(), String> {
    let path = dir.join(CONFIG_FILE);
    let mut cfg = match std::fs::read(&path) {
        Ok(t) if t.iter().all(u8::is_ascii_whitespace) => Map::new(),
        Ok(t) => match serde_json::from_slice::<Value>(&t) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(format!("{}: not a JSON object", path.display())),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(go_io_error("open", &path, &e)),
    };
    // docker always writes `auths`, first.
    if !cfg.contains_key("auths") {
        let mut m = Map::new();
        m.insert("auths".into(), Value::Object(Map::new()));
        m.extend(cfg);
        cfg = m;
    }
    match name {
        Some(n) if n != crate::context::DEFAULT_NAME => {
            cfg.insert("currentContext".into(), Value::String(n.to_string()));
        }
        _ => {
            cfg.shift_remove("currentContext");
        }
    }
    write_atomic(&path, to_go_json(&Value::Object(cfg)).as_bytes(), 0o600)
}

/// Go's `json.MarshalIndent(v, "", "\t")` with its HTML escaping.
pub fn to_go_json(v: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    let _ = serde::Serialize::serialize(v, &mut ser);
    go_json_escape(&String::from_utf8_lossy(&out))
}

/// Go's `encoding/json` HTML escaping of `<`, `>` and `&`, which the docker
/// CLI's files and `{{json}}` carry.
pub fn go_json_escape(s: &str) -> String {
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Writes a file through a temporary file in the same directory and a
/// rename, creating the directory when missing.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| go_io_error("mkdir", dir, &e))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let res = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| go_io_error("open", &tmp, &e))?;
        f.write_all(data)
            .and_then(|_| f.sync_all())
            .map_err(|e| go_io_error("write", &tmp, &e))?;
        std::fs::rename(&tmp, path).map_err(|e| go_io_error("rename", path, &e))
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_follows_docker_precedence() {
        let env = |k: &str| match k {
            "DOCKER_CONFIG" => Some("/cfg".to_string()),
            "HOME" => Some("/home/u".to_string()),
            _ => None,
        };
        assert_eq!(dir(Some("/flag"), &env), PathBuf::from("/flag"));
        assert_eq!(dir(None, &env), PathBuf::from("/cfg"));
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
        assert_eq!(dir(None, &env), PathBuf::from("/home/u/.docker"));
    }

    #[test]
    fn writing_the_current_context_keeps_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(CONFIG_FILE);
        std::fs::write(
            &p,
            r#"{"auths":{"r.example":{"auth":"eDp5"}},"psFormat":"{{.ID}}","plugins":{"x":{"a":"b"}}}"#,
        )
        .unwrap();
        set_current_context(d.path(), Some("remote")).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            "{\n\t\"auths\": {\n\t\t\"r.example\": {\n\t\t\t\"auth\": \"eDp5\"\n\t\t}\n\t},\n\t\"psFormat\": \"{{.ID}}\",\n\t\"plugins\": {\n\t\t\"x\": {\n\t\t\t\"a\": \"b\"\n\t\t}\n\t},\n\t\"currentContext\": \"remote\"\n}"
        );
        let (m, w) = load(d.path());
        assert!(w.is_none());
        assert_eq!(current_context(&m).as_deref(), Some("remote"));
        set_current_context(d.path(), Some("default")).unwrap();
        let (m, _) = load(d.path());
        assert_eq!(current_context(&m), None);
        assert_eq!(m["psFormat"], "{{.ID}}");
    }

    #[test]
    fn a_new_file_looks_like_dockers() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("new");
        set_current_context(&sub, Some("x")).unwrap();
        assert_eq!(
            std::fs::read_to_string(sub.join(CONFIG_FILE)).unwrap(),
            "{\n\t\"auths\": {},\n\t\"currentContext\": \"x\"\n}"
        );
    }

    #[test]
    fn a_broken_file_is_a_warning_and_never_overwritten() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(CONFIG_FILE);
        std::fs::write(&p, "{not json").unwrap();
        let (m, w) = load(d.path());
        assert!(m.is_empty());
        assert!(w
            .unwrap()
            .starts_with("WARNING: Error parsing config file ("));
        assert!(set_current_context(d.path(), Some("x")).is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{not json");
    }

    #[test]
    fn io_errors_read_like_go() {
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(
            go_io_error("open", Path::new("/x/ca.pem"), &e),
            "open /x/ca.pem: no such file or directory"
        );
    }
}
