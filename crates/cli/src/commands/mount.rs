//! `--mount type=...,source=...,target=...`: docker CLI's CSV syntax into a
//! `HostConfig.Mounts` entry, with its error wording (opts/mount.go).

use std::path::{Component, Path};

use berth_api::types::Mount;
use serde_json::{json, Map, Value};

/// Lexically cleans an absolute path (Go's `filepath.Clean`).
pub fn clean(p: &Path) -> String {
    let mut out: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    format!("/{}", out.join("/"))
}

/// One CSV record (Go's `encoding/csv`): commas split fields, a field may be
/// double-quoted with `""` for a quote inside.
fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            }
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            ',' if !quoted => {
                fields.push(std::mem::take(&mut cur));
                at_start = true;
            }
            c => {
                cur.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err(format!(
            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
            s.len() + 1
        ));
    }
    fields.push(cur);
    Ok(fields)
}

fn parse_bool(key: &str, val: &str) -> Result<bool, String> {
    match val {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid value for {key}: {val}")),
    }
}

fn set_kv(map: &mut Map<String, Value>, kv: &str) {
    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
    map.insert(k.to_string(), json!(v));
}

/// Parses one `--mount` value into the API's `Mount` object.
pub fn parse_mount(value: &str) -> Result<Mount, String> {
    let mut kind = "volume".to_string();
    let (mut source, mut target) = (String::new(), String::new());
    let mut read_only = false;
    let mut consistency = String::new();
    let mut bind: Option<Map<String, Value>> = None;
    let mut vol: Option<Map<String, Value>> = None;
    let mut tmpfs: Option<Map<String, Value>> = None;
    for field in csv_fields(value)? {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_string())),
            None => (field.to_ascii_lowercase(), None),
        };
        let Some(val) = val else {
            match key.as_str() {
                "readonly" | "ro" => read_only = true,
                "volume-nocopy" => {
                    vol.get_or_insert_with(Map::new)
                        .insert("NoCopy".into(), json!(true));
                }
                "bind-nonrecursive" => {
                    bind.get_or_insert_with(Map::new)
                        .insert("NonRecursive".into(), json!(true));
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        match key.as_str() {
            "type" => kind = val.to_ascii_lowercase(),
            "source" | "src" => {
                source = if val == "." || val.starts_with("./") {
                    std::env::current_dir()
                        .map(|d| clean(&d.join(&val)))
                        .unwrap_or(val)
                } else {
                    val
                }
            }
            "target" | "dst" | "destination" => target = val,
            "readonly" | "ro" => read_only = parse_bool(&key, &val)?,
            "consistency" => consistency = val.to_ascii_lowercase(),
            "bind-propagation" => {
                bind.get_or_insert_with(Map::new)
                    .insert("Propagation".into(), json!(val.to_ascii_lowercase()));
            }
            "bind-nonrecursive" => {
                let b = parse_bool(&key, &val)?;
                bind.get_or_insert_with(Map::new)
                    .insert("NonRecursive".into(), json!(b));
            }
            "volume-nocopy" => {
                let b = parse_bool(&key, &val)
                    .map_err(|_| format!("invalid value for volume-nocopy: {val}"))?;
                vol.get_or_insert_with(Map::new)
                    .insert("NoCopy".into(), json!(b));
            }
            "volume-label" => {
                let v = vol.get_or_insert_with(Map::new);
                let labels = v.entry("Labels").or_insert_with(|| json!({}));
                if let Some(m) = labels.as_object_mut() {
                    set_kv(m, &val);
                }
            }
            "volume-driver" => {
                let v = vol.get_or_insert_with(Map::new);
                let dc = v.entry("DriverConfig").or_insert_with(|| json!({}));
                dc["Name"] = json!(val);
            }
            "volume-opt" => {
                let v = vol.get_or_insert_with(Map::new);
                let dc = v.entry("DriverConfig").or_insert_with(|| json!({}));
                if !dc["Options"].is_object() {
                    dc["Options"] = json!({});
                }
                if let Some(m) = dc["Options"].as_object_mut() {
                    set_kv(m, &val);
                }
            }
            "tmpfs-size" => {
                let n = berth_api::units::ram_in_bytes(&val)
                    .map_err(|_| format!("invalid value for {key}: {val}"))?;
                tmpfs
                    .get_or_insert_with(Map::new)
                    .insert("SizeBytes".into(), json!(n));
            }
            "tmpfs-mode" => {
                let n = u32::from_str_radix(&val, 8)
                    .map_err(|_| format!("invalid value for {key}: {val}"))?;
                tmpfs
                    .get_or_insert_with(Map::new)
                    .insert("Mode".into(), json!(n));
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if kind.is_empty() {
        return Err("type is required".into());
    }
    if target.is_empty() {
        return Err("target is required".into());
    }
    if vol.is_some() && kind != "volume" {
        return Err(format!(
            "cannot mix 'volume-*' options with mount type '{kind}'"
        ));
    }
    if bind.is_some() && kind != "bind" {
        return Err(format!(
            "cannot mix 'bind-*' options with mount type '{kind}'"
        ));
    }
    if tmpfs.is_some() && kind != "tmpfs" {
        return Err(format!(
            "cannot mix 'tmpfs-*' options with mount type '{kind}'"
        ));
    }
    // The option blocks are `Value` in the API's `Mount` too.
    Ok(Mount {
        target,
        source,
        r#type: kind,
        read_only,
        consistency,
        bind_options: bind.map(Value::Object),
        volume_options: vol.map(Value::Object),
        image_options: None,
        tmpfs_options: tmpfs.map(Value::Object),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mount as the JSON sent.
    fn mount_json(value: &str) -> Value {
        serde_json::to_value(parse_mount(value).unwrap()).unwrap()
    }

    #[test]
    fn mounts_like_the_docker_cli() {
        assert_eq!(
            mount_json("type=bind,source=/h,target=/c,readonly,bind-propagation=rslave"),
            json!({"Type": "bind", "Source": "/h", "Target": "/c", "ReadOnly": true, "BindOptions": {"Propagation": "rslave"}})
        );
        assert_eq!(
            mount_json("src=v,dst=/d,volume-nocopy,volume-opt=type=tmpfs,volume-opt=o=size=1m,volume-label=a=b"),
            json!({"Type": "volume", "Source": "v", "Target": "/d", "VolumeOptions": {"NoCopy": true, "DriverConfig": {"Options": {"type": "tmpfs", "o": "size=1m"}}, "Labels": {"a": "b"}}})
        );
        assert_eq!(
            mount_json("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770"),
            json!({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 1016}})
        );
        assert_eq!(mount_json("\"type=volume\",target=/q")["Target"], "/q");
        assert_eq!(mount_json("ro=false,target=/x").get("ReadOnly"), None);
        assert_eq!(
            parse_mount("type=volume").unwrap_err(),
            "target is required"
        );
        assert_eq!(
            parse_mount("bogus=1,target=/x").unwrap_err(),
            "unexpected key 'bogus' in 'bogus=1'"
        );
        assert_eq!(
            parse_mount("nokey,target=/x").unwrap_err(),
            "invalid field 'nokey' must be a key=value pair"
        );
        assert_eq!(
            parse_mount("type=bind,target=/x,volume-nocopy").unwrap_err(),
            "cannot mix 'volume-*' options with mount type 'bind'"
        );
        assert_eq!(
            parse_mount("type=tmpfs,target=/x,tmpfs-mode=9").unwrap_err(),
            "invalid value for tmpfs-mode: 9"
        );
        assert_eq!(
            parse_mount("target=/x,readonly=maybe").unwrap_err(),
            "invalid value for readonly: maybe"
        );
        assert!(parse_mount("\"type=volume,target=/x").is_err());
    }

    #[test]
    fn cleans_paths() {
        assert_eq!(clean(Path::new("/a/b/../c/./d")), "/a/c/d");
        assert_eq!(clean(Path::new("/..")), "/");
    }
}
