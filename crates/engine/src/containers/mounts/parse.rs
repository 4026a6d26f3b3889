//! Parsing and checking what a container asks to mount, as dockerd does at
//! create: `Binds` entries, `Mounts` objects, `Tmpfs`, `VolumesFrom`, and
//! the [`plan`] that merges them with the image's `VOLUME`s.

use std::collections::HashSet;
use std::path::PathBuf;

use berth_api::types::Mount;
use berth_api::{ContainerConfig, Error, HostConfig, Result};
use indexmap::IndexMap;
use serde_json::Value;

use super::{Kind, MountPoint, Plan, VolumeWant};

fn must_be_absolute(kind: &str, path: &str) -> Error {
    Error::invalid(format!(
        "invalid mount config for type \"{kind}\": invalid mount path: '{path}' mount path must be absolute"
    ))
}

/// Checks a container path: absolute, and not `/`.
fn check_target(kind: &str, target: &str) -> Result<String> {
    if !target.starts_with('/') {
        return Err(must_be_absolute(kind, target));
    }
    let clean = clean_path(target);
    if clean == "/" {
        return Err(Error::invalid(format!(
            "invalid mount config for type \"{kind}\": invalid specification: destination can't be '/'"
        )));
    }
    Ok(clean)
}

/// Lexical cleaning of an absolute path (Go's `filepath.Clean`).
pub fn clean_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            x => out.push(x),
        }
    }
    format!("/{}", out.join("/"))
}

const PROPAGATIONS: &[&str] = &[
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];

/// The mode of a `-v` spec (`ro,z,nocopy,rslave`): (rw, nocopy, propagation).
/// dockerd's rules: each of rw/ro, z/Z, nocopy and a propagation at most once.
pub fn parse_mode(mode: &str) -> Result<(bool, bool, String)> {
    let bad = || Error::invalid(format!("invalid mode: {mode}"));
    let (mut rw, mut label, mut copy, mut prop) = (None, false, None, None);
    if mode.is_empty() {
        return Ok((true, false, String::new()));
    }
    for o in mode.split(',') {
        match o {
            "rw" | "ro" if rw.is_none() => rw = Some(o == "rw"),
            "z" | "Z" if !label => label = true,
            "nocopy" if copy.is_none() => copy = Some(true),
            p if PROPAGATIONS.contains(&p) && prop.is_none() => prop = Some(p.to_string()),
            _ => return Err(bad()),
        }
    }
    Ok((
        rw.unwrap_or(true),
        copy.unwrap_or(false),
        prop.unwrap_or_default(),
    ))
}

/// One `HostConfig.Binds` entry: `/host:/ctr[:mode]` or `name:/ctr[:mode]`.
pub fn parse_bind(spec: &str) -> Result<(MountPoint, Option<VolumeWant>)> {
    let parts: Vec<&str> = spec.split(':').collect();
    let invalid = || Error::invalid(format!("invalid volume specification: '{spec}'"));
    let (src, dst, mode) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => return Err(invalid()),
    };
    if dst.is_empty() || (parts.len() > 1 && src.is_empty()) {
        return Err(invalid());
    }
    let bind = src.starts_with('/');
    let kind = if bind { Kind::Bind } else { Kind::Volume };
    let destination = check_target(kind.as_str(), dst).map_err(|e| {
        Error::invalid(format!(
            "invalid volume specification: '{spec}': {}",
            e.message
        ))
    })?;
    let (rw, nocopy, prop) = parse_mode(mode)?;
    if bind && nocopy {
        return Err(Error::invalid(format!("invalid mode: {mode}")));
    }
    if !bind && !prop.is_empty() {
        return Err(Error::invalid(format!("invalid mode: {mode}")));
    }
    let mp = MountPoint {
        kind,
        name: if bind { String::new() } else { src.to_string() },
        source: if bind { clean_path(src) } else { String::new() },
        destination,
        driver: if bind { String::new() } else { "local".into() },
        // dockerd shows a named volume's empty mode as `z`.
        mode: if !bind && !src.is_empty() && mode.is_empty() {
            "z".into()
        } else {
            mode.to_string()
        },
        rw,
        propagation: if bind && prop.is_empty() {
            "rprivate".into()
        } else {
            prop
        },
        nocopy,
        anonymous: !bind && src.is_empty(),
        tmpfs_options: String::new(),
        listed: true,
    };
    let want = (!bind).then(|| VolumeWant {
        name: src.to_string(),
        driver: "local".into(),
        ..Default::default()
    });
    Ok((mp, want))
}

fn opt_obj<'a>(
    v: &'a Option<Value>,
    what: &str,
) -> Result<Option<&'a serde_json::Map<String, Value>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(Error::invalid(format!("invalid {what}: not an object"))),
    }
}

fn str_map(v: Option<&Value>) -> IndexMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// One `HostConfig.Mounts` entry (`--mount`), with dockerd's checks.
pub fn parse_mount(m: &Mount) -> Result<(MountPoint, Option<VolumeWant>)> {
    let kind = match m.r#type.as_str() {
        "bind" => Kind::Bind,
        "volume" => Kind::Volume,
        "tmpfs" => Kind::Tmpfs,
        other => {
            return Err(Error::invalid(format!(
                "invalid mount config for type \"{other}\": mount type unknown"
            )))
        }
    };
    let t = kind.as_str();
    let cfg_err =
        |msg: &str| Error::invalid(format!("invalid mount config for type \"{t}\": {msg}"));
    if m.target.is_empty() {
        return Err(cfg_err("field Target must not be empty"));
    }
    let destination = check_target(t, &m.target)?;
    let bind_opts = opt_obj(&m.bind_options, "BindOptions")?;
    let vol_opts = opt_obj(&m.volume_options, "VolumeOptions")?;
    let tmpfs_opts = opt_obj(&m.tmpfs_options, "TmpfsOptions")?;
    if kind != Kind::Bind && bind_opts.is_some() {
        return Err(cfg_err("field BindOptions must not be specified"));
    }
    if kind != Kind::Volume && vol_opts.is_some() {
        return Err(cfg_err("field VolumeOptions must not be specified"));
    }
    if kind != Kind::Tmpfs && tmpfs_opts.is_some() {
        return Err(cfg_err("field TmpfsOptions must not be specified"));
    }
    let mut mp = MountPoint {
        kind,
        destination,
        rw: !m.read_only,
        listed: true,
        ..Default::default()
    };
    match kind {
        Kind::Bind => {
            if m.source.is_empty() {
                return Err(cfg_err("field Source must not be empty"));
            }
            if !m.source.starts_with('/') {
                return Err(cfg_err(&format!(
                    "invalid mount path: '{}' mount path must be absolute",
                    m.source
                )));
            }
            if std::fs::metadata(&m.source).is_err() {
                return Err(cfg_err(&format!(
                    "bind source path does not exist: {}",
                    m.source
                )));
            }
            let prop = bind_opts
                .and_then(|o| o.get("Propagation"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if !prop.is_empty() && !PROPAGATIONS.contains(&prop) {
                return Err(Error::invalid(format!(
                    "invalid mount config: unknown propagation mode: {prop}"
                )));
            }
            mp.source = clean_path(&m.source);
            mp.propagation = if prop.is_empty() { "rprivate" } else { prop }.into();
            Ok((mp, None))
        }
        Kind::Volume => {
            if m.source.starts_with('/') {
                return Err(cfg_err(&format!(
                    "invalid volume name: '{}': must not be an absolute path",
                    m.source
                )));
            }
            let vo = vol_opts;
            mp.nocopy = vo
                .and_then(|o| o.get("NoCopy"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let driver_cfg = vo.and_then(|o| o.get("DriverConfig"));
            let driver = driver_cfg
                .and_then(|d| d.get("Name"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("local")
                .to_string();
            mp.name = m.source.clone();
            mp.driver = driver.clone();
            mp.anonymous = m.source.is_empty();
            let want = VolumeWant {
                name: m.source.clone(),
                driver,
                labels: str_map(vo.and_then(|o| o.get("Labels"))),
                options: str_map(driver_cfg.and_then(|d| d.get("Options"))),
            };
            Ok((mp, Some(want)))
        }
        Kind::Tmpfs => {
            if !m.source.is_empty() {
                return Err(cfg_err("field Source must not be specified"));
            }
            let size = tmpfs_opts
                .and_then(|o| o.get("SizeBytes"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let mode = tmpfs_opts
                .and_then(|o| o.get("Mode"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if size < 0 {
                return Err(cfg_err("invalid tmpfs size"));
            }
            let mut opts = Vec::new();
            if size > 0 {
                // As dockerd: whole kibibytes.
                opts.push(format!("size={}k", (size + 1023) / 1024));
            }
            if mode > 0 {
                opts.push(format!("mode={:o}", mode & 0o7777));
            }
            mp.tmpfs_options = opts.join(",");
            Ok((mp, None))
        }
    }
}

/// `HostConfig.Tmpfs`: `{"/run": "size=64m,mode=1777"}`.
pub fn parse_tmpfs(dest: &str, opts: &str) -> Result<MountPoint> {
    if !dest.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid mount path: '{dest}' mount path must be absolute"
        )));
    }
    let destination = clean_path(dest);
    if destination == "/" {
        return Err(Error::invalid(
            "invalid specification: destination can't be '/'",
        ));
    }
    let mut rw = true;
    let mut kept = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => rw = false,
            "rw" => rw = true,
            o if o.starts_with("size=") => {
                let v = &o[5..];
                let bytes = berth_api::units::ram_in_bytes(v)
                    .map_err(|_| Error::invalid(format!("invalid tmpfs option \"{o}\"")))?;
                kept.push(format!("size={}k", (bytes + 1023) / 1024));
            }
            o => kept.push(o.to_string()),
        }
    }
    Ok(MountPoint {
        kind: Kind::Tmpfs,
        destination,
        rw,
        tmpfs_options: kept.join(","),
        listed: false,
        ..Default::default()
    })
}

/// `--volumes-from NAME[:ro|rw]` into (container, rw override).
pub fn parse_volumes_from(spec: &str) -> Result<(String, Option<bool>)> {
    match spec.split_once(':') {
        None => Ok((spec.to_string(), None)),
        Some((c, "rw")) => Ok((c.to_string(), Some(true))),
        Some((c, "ro")) => Ok((c.to_string(), Some(false))),
        Some((_, m)) => Err(Error::invalid(format!("invalid mode: {m}"))),
    }
}

/// Decides every mount of a new container, with dockerd's precedence:
/// `VolumesFrom`, then `Binds` (replacing those), then `Mounts`, `Tmpfs`,
/// and last `Config.Volumes` for targets nothing else covers. `from`
/// resolves `--volumes-from` to the other container's mount points.
pub fn plan(
    config: &ContainerConfig,
    hc: &HostConfig,
    from: &dyn Fn(&str) -> Result<Vec<MountPoint>>,
) -> Result<Plan> {
    let mut plan = Plan::default();
    let mut wants: IndexMap<String, (MountPoint, Option<VolumeWant>)> = IndexMap::new();
    for spec in hc.volumes_from.iter().flatten() {
        let (name, rw) = parse_volumes_from(spec)?;
        for mut mp in from(&name)? {
            if !mp.listed && mp.kind == Kind::Tmpfs {
                continue;
            }
            if let Some(rw) = rw {
                mp.rw = rw;
                mp.mode = if rw { "rw" } else { "ro" }.into();
            }
            // Not this container's to remove.
            mp.anonymous = false;
            wants.insert(mp.destination.clone(), (mp, None));
        }
    }
    let mut own = HashSet::new();
    for spec in hc.binds.iter().flatten() {
        let (mp, want) = parse_bind(spec)?;
        if !own.insert(mp.destination.clone()) {
            return Err(Error::invalid(format!(
                "Duplicate mount point: {}",
                mp.destination
            )));
        }
        if mp.kind == Kind::Bind && std::fs::symlink_metadata(&mp.source).is_err() {
            plan.mkdirs.push(PathBuf::from(&mp.source));
        }
        wants.insert(mp.destination.clone(), (mp, want));
    }
    for m in hc.mounts.iter().flatten() {
        let (mp, want) = parse_mount(m)?;
        if !own.insert(mp.destination.clone()) {
            return Err(Error::invalid(format!(
                "Duplicate mount point: {}",
                mp.destination
            )));
        }
        wants.insert(mp.destination.clone(), (mp, want));
    }
    for (dest, opts) in hc.tmpfs.iter().flatten() {
        let mp = parse_tmpfs(dest, opts)?;
        if !own.insert(mp.destination.clone()) {
            return Err(Error::invalid(format!(
                "Duplicate mount point: {}",
                mp.destination
            )));
        }
        wants.insert(mp.destination.clone(), (mp, None));
    }
    for dest in config.volumes.iter().flatten().map(|(k, _)| k) {
        let target = check_target("volume", dest)?;
        if wants.contains_key(&target) {
            continue;
        }
        let mp = MountPoint {
            kind: Kind::Volume,
            destination: target.clone(),
            driver: "local".into(),
            rw: true,
            anonymous: true,
            listed: true,
            ..Default::default()
        };
        let want = VolumeWant {
            driver: "local".into(),
            ..Default::default()
        };
        wants.insert(target, (mp, Some(want)));
    }
    for (_, (mp, want)) in wants {
        if let Some(w) = want {
            plan.volumes.push((plan.points.len(), w));
        }
        plan.points.push(mp);
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binds_like_dockerd() {
        let (m, w) = parse_bind("/h:/c:ro,rslave").unwrap();
        assert_eq!(m.kind, Kind::Bind);
        assert_eq!((m.source.as_str(), m.destination.as_str()), ("/h", "/c"));
        assert!(!m.rw);
        assert_eq!(m.propagation, "rslave");
        assert_eq!(m.mode, "ro,rslave");
        assert!(w.is_none());

        let (m, w) = parse_bind("data:/var/lib/x/:ro,nocopy").unwrap();
        assert_eq!(m.kind, Kind::Volume);
        assert_eq!(m.destination, "/var/lib/x");
        assert!(m.nocopy && !m.rw && !m.anonymous);
        assert_eq!(w.unwrap().name, "data");

        let (m, _) = parse_bind("/h:/c").unwrap();
        assert_eq!((m.propagation.as_str(), m.rw), ("rprivate", true));
        let (m, _) = parse_bind("/h:/c:rw,z").unwrap();
        assert_eq!(m.mode, "rw,z");
        let (m, _) = parse_bind("named:/c").unwrap();
        assert_eq!(m.mode, "z");
        let (m, _) = parse_bind("/anon").unwrap();
        assert!(m.anonymous && m.kind == Kind::Volume);

        let e = parse_bind("v:rel").unwrap_err();
        assert_eq!(e.message, "invalid volume specification: 'v:rel': invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute");
        assert_eq!(
            parse_bind("/h:/c:bogus").unwrap_err().message,
            "invalid mode: bogus"
        );
        assert!(parse_bind("/h:/c:ro,rw").is_err());
        assert!(parse_bind("/h:/c:nocopy").is_err());
        assert!(parse_bind("v:/c:rshared").is_err());
        assert!(parse_bind("a:b:c:d").is_err());
        assert!(parse_bind(":/c").is_err());
        assert!(parse_bind("/h:/").is_err());
        assert!(parse_bind("/h:").is_err());
    }

    fn mount(v: Value) -> Mount {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn mounts_like_dockerd() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().display().to_string();
        let (m, _) = parse_mount(&mount(json!({"Type": "bind", "Source": src, "Target": "/b", "ReadOnly": true, "BindOptions": {"Propagation": "rslave"}}))).unwrap();
        assert!(!m.rw);
        assert_eq!(m.propagation, "rslave");
        let e = parse_mount(&mount(
            json!({"Type": "bind", "Source": "/nonexistent/bvol", "Target": "/b"}),
        ))
        .unwrap_err();
        assert_eq!(e.message, "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent/bvol");
        let e = parse_mount(&mount(json!({"Type": "volume", "Target": "rel"}))).unwrap_err();
        assert_eq!(e.message, "invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute");
        let e = parse_mount(&mount(json!({"Type": "bogus", "Target": "/x"}))).unwrap_err();
        assert_eq!(
            e.message,
            "invalid mount config for type \"bogus\": mount type unknown"
        );
        let (m, w) = parse_mount(&mount(json!({"Type": "volume", "Source": "v1", "Target": "/v", "VolumeOptions": {"NoCopy": true, "Labels": {"a": "b"}, "DriverConfig": {"Options": {"type": "tmpfs", "device": "tmpfs"}}}}))).unwrap();
        assert!(m.nocopy);
        let w = w.unwrap();
        assert_eq!(w.labels["a"], "b");
        assert_eq!(w.options["type"], "tmpfs");
        let (m, _) = parse_mount(&mount(json!({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 1016}}))).unwrap();
        assert_eq!(m.tmpfs_options, "size=1024k,mode=1770");
        assert!(parse_mount(&mount(
            json!({"Type": "tmpfs", "Source": "x", "Target": "/t"})
        ))
        .is_err());
        assert!(parse_mount(&mount(
            json!({"Type": "volume", "Target": "/t", "BindOptions": {}})
        ))
        .is_err());
    }

    #[test]
    fn tmpfs_and_volumes_from() {
        let m = parse_tmpfs("/run", "size=64m,mode=1777").unwrap();
        assert_eq!(m.tmpfs_options, "size=65536k,mode=1777");
        assert!(m.rw && !m.listed);
        assert_eq!(
            parse_tmpfs("rel", "").unwrap_err().message,
            "invalid mount path: 'rel' mount path must be absolute"
        );
        assert_eq!(
            parse_volumes_from("db:ro").unwrap(),
            ("db".into(), Some(false))
        );
        assert_eq!(parse_volumes_from("db").unwrap(), ("db".into(), None));
        assert!(parse_volumes_from("db:x").is_err());
    }

    #[test]
    fn plan_precedence_and_duplicates() {
        let config = ContainerConfig {
            volumes: Some(IndexMap::from([
                ("/data".to_string(), json!({})),
                ("/img".to_string(), json!({})),
            ])),
            ..Default::default()
        };
        let hc = HostConfig {
            binds: Some(vec!["named:/data".into()]),
            tmpfs: Some(IndexMap::from([("/run".to_string(), String::new())])),
            ..Default::default()
        };
        let none = |_: &str| -> Result<Vec<MountPoint>> { Ok(vec![]) };
        let p = plan(&config, &hc, &none).unwrap();
        let dests: Vec<_> = p.points.iter().map(|m| m.destination.as_str()).collect();
        assert_eq!(dests, ["/data", "/run", "/img"]);
        assert_eq!(p.volumes.len(), 2);
        assert!(p.points[2].anonymous);

        let hc = HostConfig {
            binds: Some(vec!["a:/x".into(), "b:/x/".into()]),
            ..Default::default()
        };
        assert_eq!(
            plan(&config, &hc, &none).unwrap_err().message,
            "Duplicate mount point: /x"
        );
        let hc = HostConfig {
            binds: Some(vec!["a:/x".into()]),
            tmpfs: Some(IndexMap::from([("/x".to_string(), String::new())])),
            ..Default::default()
        };
        assert!(plan(&config, &hc, &none).is_err());
    }
}
