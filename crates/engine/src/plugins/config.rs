//! A plugin's `config.json` as its author writes it (moby's plugin config
//! format), and the settings users change with `plugin set`.

use berth_api::views::plugin::{PluginConfig, PluginSettings};
use berth_api::{Error, Result};

/// Reads a `config.json` by Go's decoding rules. Only its JSON is
/// checked here, as dockerd's create checks it; what running the plugin
/// needs is checked by [`check_runnable`] at enable.
pub fn parse(bytes: &[u8]) -> Result<PluginConfig> {
    berth_api::json::from_slice(bytes)
        .map_err(|e| Error::invalid(format!("invalid plugin config: {}", e.message)))
}

/// What an enable needs of the config: an entrypoint, and a socket name
/// (a file name in the socket directory).
pub fn check_runnable(name: &str, c: &PluginConfig) -> Result<()> {
    let bad = |why: &str| Error::invalid(format!("plugin {name} cannot run: {why}"));
    if c.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        return Err(bad("its config has no Entrypoint"));
    }
    let socket = &c.interface.socket;
    if socket.is_empty() {
        return Err(bad("its config has no Interface.Socket"));
    }
    if socket.contains('/') || socket == "." || socket == ".." {
        return Err(bad(&format!(
            "Interface.Socket {socket:?} is not a file name"
        )));
    }
    Ok(())
}

/// What a new plugin's settings start as: the config's mounts, devices
/// and args, and every env entry as `NAME=VALUE` (moby's
/// `InitEmptySettings`).
pub fn initial_settings(c: &PluginConfig) -> PluginSettings {
    PluginSettings {
        mounts: Some(c.mounts.clone().unwrap_or_default()),
        env: Some(
            c.env
                .iter()
                .flatten()
                .map(|e| format!("{}={}", e.name, e.value))
                .collect(),
        ),
        args: Some(c.args.value.clone().unwrap_or_default()),
        devices: Some(c.linux.devices.clone().unwrap_or_default()),
    }
}

/// Applies `plugin set` arguments (`NAME=VALUE` for an env variable,
/// `MOUNT.source=PATH`, `DEVICE.path=PATH`, `ARGS=a b`): each must name
/// something the config declares settable, or nothing changes.
pub fn apply_set(c: &PluginConfig, s: &mut PluginSettings, args: &[String]) -> Result<()> {
    let mut next = s.clone();
    for arg in args {
        // dockerd takes `NAME` alone as `NAME=`.
        let (key, value) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
        let (name, field) = match key.split_once('.') {
            Some((n, f)) => (n, Some(f)),
            None => (key, None),
        };
        if name.is_empty() {
            return Err(Error::invalid(format!("invalid settable {arg:?}: no name")));
        }
        if let Some(env) = c.env.iter().flatten().find(|e| e.name == name) {
            settable(&env.settable, field, "value", key)?;
            let list = next.env.get_or_insert_with(Vec::new);
            let entry = format!("{name}={value}");
            match list
                .iter_mut()
                .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == name)
            {
                Some(e) => *e = entry,
                None => list.push(entry),
            }
        } else if let Some(i) = c.mounts.iter().flatten().position(|m| m.name == name) {
            settable(
                &c.mounts
                    .as_ref()
                    .map(|m| m[i].settable.clone())
                    .unwrap_or_default(),
                field,
                "source",
                key,
            )?;
            let mounts = next.mounts.get_or_insert_with(Vec::new);
            if let Some(m) = mounts.iter_mut().find(|m| m.name == name) {
                m.source = value.into();
            }
        } else if let Some(d) = c.linux.devices.iter().flatten().find(|d| d.name == name) {
            settable(&d.settable, field, "path", key)?;
            let devices = next.devices.get_or_insert_with(Vec::new);
            if let Some(dev) = devices.iter_mut().find(|x| x.name == name) {
                dev.path = value.into();
            }
        } else if name == c.args.name && !name.is_empty() {
            settable(&c.args.settable, field, "value", key)?;
            next.args = Some(value.split_whitespace().map(String::from).collect());
        } else {
            // dockerd answers these with a 500, as untyped errors.
            return Err(Error::internal(format!(
                "setting {name:?} not found in the plugin configuration"
            )));
        }
    }
    *s = next;
    Ok(())
}

/// Whether `field` (default `default`) is among what the config lets
/// users set.
fn settable(
    allowed: &Option<Vec<String>>,
    field: Option<&str>,
    default: &str,
    key: &str,
) -> Result<()> {
    let field = field.unwrap_or(default);
    if allowed.iter().flatten().any(|a| a == field) {
        return Ok(());
    }
    Err(Error::internal(format!("{key:?} is not settable")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"Entrypoint":["/p"],"Interface":{"Types":["docker.volumedriver/1.0"],"Socket":"v.sock"},
        "Env":[{"Name":"DEBUG","Settable":["value"],"Value":"0"},{"Name":"FIXED","Value":"x"},{"Name":"EMPTY","Settable":["value"]}]}"#;

    #[test]
    fn interface_types_are_strings_in_the_file() {
        let c = parse(CONFIG.as_bytes()).expect("valid");
        assert!(c.interface.has_capability("volumedriver"));
        assert!(!c.interface.has_capability("authz"));
        assert!(parse(b"{not json").is_err());
        let no_socket =
            parse(br#"{"Entrypoint":["/p"],"Interface":{"Socket":""}}"#).expect("taken");
        assert!(check_runnable("p", &no_socket).is_err());
        let climbing =
            parse(br#"{"Entrypoint":["/p"],"Interface":{"Socket":"../x"}}"#).expect("taken");
        assert!(check_runnable("p", &climbing).is_err());
        assert!(check_runnable("p", &c).is_ok());
    }

    #[test]
    fn set_changes_only_what_is_settable() {
        let c = parse(CONFIG.as_bytes()).expect("valid");
        let mut s = initial_settings(&c);
        assert_eq!(
            s.env.as_deref(),
            Some(
                &[
                    "DEBUG=0".to_string(),
                    "FIXED=x".to_string(),
                    "EMPTY=".to_string()
                ][..]
            )
        );
        apply_set(&c, &mut s, &["DEBUG=1".into(), "EMPTY=y".into()]).expect("settable");
        assert_eq!(
            s.env.as_deref(),
            Some(
                &[
                    "DEBUG=1".to_string(),
                    "FIXED=x".to_string(),
                    "EMPTY=y".to_string()
                ][..]
            )
        );
        let before = s.clone();
        assert!(apply_set(&c, &mut s, &["DEBUG=2".into(), "FIXED=y".into()]).is_err());
        assert!(apply_set(&c, &mut s, &["NOPE=1".into()]).is_err());
        assert!(apply_set(&c, &mut s, &["DEBUG.source=x".into()]).is_err());
        assert_eq!(s, before, "a refused set changes nothing");
    }
}
