//! Short syntax to long syntax, on the YAML tree of one file before the
//! files are merged (so that `- "80:80"` in one file and a long-form port
//! in an override merge as equals) and before typed decoding. Anything not
//! recognised is left alone: the typed decode then reports it with its
//! file, line and key.

use serde_yaml_ng::{Mapping, Value};

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

/// A scalar as the string compose would read (`80` -> `"80"`).
pub fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `[K=V, K]` -> `{K: V, K: null}`; a map keeps its entries with scalar
/// values as strings (`environment: {N: 1}` is `"1"`).
fn list_to_map(v: &mut Value, null_for_bare: bool) {
    match v {
        Value::Sequence(items) => {
            let mut m = Mapping::new();
            for item in items.iter() {
                let Some(text) = scalar_string(item) else {
                    return;
                };
                match text.split_once('=') {
                    Some((k, val)) => m.insert(s(k), s(val)),
                    None if null_for_bare => m.insert(s(&text), Value::Null),
                    None => m.insert(s(&text), s("")),
                };
            }
            *v = Value::Mapping(m);
        }
        Value::Mapping(m) => {
            for (_, val) in m.iter_mut() {
                if let Some(t) = scalar_string(val).filter(|_| !val.is_string()) {
                    *val = s(&t);
                }
            }
        }
        _ => {}
    }
}

/// A string or a list of strings -> a list.
fn to_list(v: &mut Value) {
    if let Some(t) = scalar_string(v) {
        *v = Value::Sequence(vec![s(&t)]);
    } else if let Value::Sequence(items) = v {
        for item in items.iter_mut() {
            if let Some(t) = scalar_string(item).filter(|_| !item.is_string()) {
                *item = s(&t);
            }
        }
    }
}

/// `command: "echo hi"` -> `["echo", "hi"]` (compose v2 splits it as a
/// shell would).
fn shell_split(v: &mut Value) {
    if let Value::String(t) = v {
        if let Some(words) = shlex::split(t) {
            *v = Value::Sequence(words.iter().map(|w| s(w)).collect());
        }
    }
}

/// `"[ip:][published:]target[/proto]"` -> the long form.
pub fn parse_port(text: &str) -> Option<Vec<Value>> {
    let (spec, proto) = match text.rsplit_once('/') {
        Some((a, p)) => (a, p),
        None => (text, "tcp"),
    };
    // An IPv6 host address is bracketed: `[::1]:80:80`.
    let (host_ip, rest) = if let Some(r) = spec.strip_prefix('[') {
        let (ip, rest) = r.split_once("]:")?;
        (Some(ip.to_string()), rest.to_string())
    } else {
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.len() == 3 {
            (
                Some(parts[0].to_string()),
                format!("{}:{}", parts[1], parts[2]),
            )
        } else {
            (None, spec.to_string())
        }
    };
    let (published, target) = match rest.split_once(':') {
        Some((p, t)) => (Some(p.to_string()).filter(|p| !p.is_empty()), t.to_string()),
        None => (None, rest.clone()),
    };
    // A target range `8000-8001` gives one entry per port.
    let (t0, t1) = match target.split_once('-') {
        Some((a, b)) => (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?),
        None => {
            let t = target.parse::<u16>().ok()?;
            (t, t)
        }
    };
    if t0 > t1 {
        return None;
    }
    let pub_range = published.as_deref().and_then(|p| p.split_once('-'));
    let mut out = Vec::new();
    for (k, t) in (t0..=t1).enumerate() {
        let mut m = Mapping::new();
        m.insert(s("mode"), s("ingress"));
        if let Some(ip) = &host_ip {
            m.insert(s("host_ip"), s(ip));
        }
        m.insert(s("target"), Value::Number(t.into()));
        let published = match (pub_range, &published) {
            (Some((a, b)), _) if t0 != t1 => {
                let a: u16 = a.parse().ok()?;
                let _ = b;
                Some(a.checked_add(k as u16)?.to_string())
            }
            (_, p) => p.clone(),
        };
        if let Some(p) = published {
            m.insert(s("published"), s(&p));
        }
        m.insert(s("protocol"), s(proto));
        out.push(Value::Mapping(m));
    }
    Some(out)
}

fn ports(v: &mut Value) {
    let Value::Sequence(items) = v else { return };
    let mut out = Vec::new();
    for item in items.drain(..) {
        match scalar_string(&item).and_then(|t| parse_port(&t)) {
            Some(mut long) => out.append(&mut long),
            None => {
                let mut item = item;
                if let Value::Mapping(m) = &mut item {
                    if let Some(p) = m.get_mut("published") {
                        if let Some(t) = scalar_string(p) {
                            *p = s(&t);
                        }
                    }
                }
                out.push(item);
            }
        }
    }
    *items = out;
}

/// `"src:dst[:mode]"` / `"dst"` -> the long form.
pub fn parse_volume(text: &str) -> Value {
    let mut m = Mapping::new();
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [a, b] => (Some(*a), *b, None),
        [a, b, c, ..] => (Some(*a), *b, Some(*c)),
        [] => (None, "", None),
    };
    let kind = match source {
        None => "volume",
        Some(src) if src.starts_with(['.', '/', '~']) => "bind",
        Some(_) => "volume",
    };
    m.insert(s("type"), s(kind));
    if let Some(src) = source {
        m.insert(s("source"), s(src));
    }
    m.insert(s("target"), s(target));
    let opts: Vec<&str> = mode.map(|m| m.split(',').collect()).unwrap_or_default();
    if opts.contains(&"ro") {
        m.insert(s("read_only"), Value::Bool(true));
    }
    if kind == "bind" {
        let mut b = Mapping::new();
        b.insert(s("create_host_path"), Value::Bool(true));
        if let Some(p) = opts
            .iter()
            .find(|o| o.contains("private") || o.contains("slave") || o.contains("shared"))
        {
            b.insert(s("propagation"), s(p));
        }
        if let Some(z) = opts.iter().find(|o| **o == "z" || **o == "Z") {
            b.insert(s("selinux"), s(z));
        }
        m.insert(s("bind"), Value::Mapping(b));
    } else if opts.contains(&"nocopy") {
        let mut vo = Mapping::new();
        vo.insert(s("nocopy"), Value::Bool(true));
        m.insert(s("volume"), Value::Mapping(vo));
    }
    Value::Mapping(m)
}

/// `[a, b]` -> `{a: {condition: service_started, required: true}, ...}`.
fn depends_on(v: &mut Value) {
    if let Value::Sequence(items) = v {
        let mut m = Mapping::new();
        for item in items.iter() {
            if let Some(name) = scalar_string(item) {
                let mut d = Mapping::new();
                d.insert(s("condition"), s("service_started"));
                d.insert(s("required"), Value::Bool(true));
                m.insert(s(&name), Value::Mapping(d));
            }
        }
        *v = Value::Mapping(m);
    } else if let Value::Mapping(m) = v {
        for (_, d) in m.iter_mut() {
            if let Value::Mapping(d) = d {
                if !d.contains_key("condition") {
                    d.insert(s("condition"), s("service_started"));
                }
            }
        }
    }
}

/// `[a, {source: b, target: t}]` -> a list of long forms.
fn file_refs(v: &mut Value) {
    if let Value::Sequence(items) = v {
        for item in items.iter_mut() {
            if let Some(name) = scalar_string(item) {
                let mut m = Mapping::new();
                m.insert(s("source"), s(&name));
                *item = Value::Mapping(m);
            }
        }
    }
}

/// One service's mapping, in place.
pub fn service(svc: &mut Value) {
    let Value::Mapping(m) = svc else { return };
    if let Some(b) = m.get_mut("build") {
        if let Some(ctx) = scalar_string(b) {
            let mut bm = Mapping::new();
            bm.insert(s("context"), s(&ctx));
            *b = Value::Mapping(bm);
        }
        if let Value::Mapping(bm) = b {
            if let Some(a) = bm.get_mut("args") {
                list_to_map(a, true);
            }
            if let Some(l) = bm.get_mut("labels") {
                list_to_map(l, false);
            }
            if !bm.contains_key("context") {
                bm.insert(s("context"), s("."));
            }
        }
    }
    for key in ["command", "entrypoint"] {
        if let Some(c) = m.get_mut(key) {
            shell_split(c);
        }
    }
    if let Some(e) = m.get_mut("environment") {
        list_to_map(e, true);
    }
    for key in ["labels", "sysctls"] {
        if let Some(l) = m.get_mut(key) {
            list_to_map(l, false);
        }
    }
    if let Some(Value::Mapping(ann)) = m.get_mut("extra_hosts") {
        // `{host: ip}` -> `["host=ip"]`, as compose v2 prints it.
        let list = ann
            .iter()
            .map(|(k, v)| {
                s(&format!(
                    "{}={}",
                    scalar_string(k).unwrap_or_default(),
                    scalar_string(v).unwrap_or_default()
                ))
            })
            .collect();
        m.insert(s("extra_hosts"), Value::Sequence(list));
    }
    for key in [
        "env_file",
        "dns",
        "dns_search",
        "tmpfs",
        "expose",
        "cap_add",
        "cap_drop",
        "profiles",
        "external_links",
        "links",
        "security_opt",
        "volumes_from",
        "extra_hosts",
        "devices",
        "group_add",
    ] {
        if let Some(l) = m.get_mut(key) {
            to_list(l);
        }
    }
    if let Some(Value::Sequence(files)) = m.get_mut("env_file") {
        for f in files.iter_mut() {
            if let Some(p) = scalar_string(f) {
                let mut fm = Mapping::new();
                fm.insert(s("path"), s(&p));
                fm.insert(s("required"), Value::Bool(true));
                *f = Value::Mapping(fm);
            }
        }
    }
    if let Some(p) = m.get_mut("ports") {
        ports(p);
    }
    if let Some(Value::Sequence(vols)) = m.get_mut("volumes") {
        for v in vols.iter_mut() {
            if let Some(t) = scalar_string(v) {
                *v = parse_volume(&t);
            }
        }
    }
    if let Some(d) = m.get_mut("depends_on") {
        depends_on(d);
    }
    for key in ["secrets", "configs"] {
        if let Some(r) = m.get_mut(key) {
            file_refs(r);
        }
    }
    if let Some(Value::Sequence(nets)) = m.get_mut("networks") {
        let mut nm = Mapping::new();
        for n in nets.iter() {
            if let Some(name) = scalar_string(n) {
                nm.insert(s(&name), Value::Null);
            }
        }
        m.insert(s("networks"), Value::Mapping(nm));
    }
    if let Some(Value::Mapping(h)) = m.get_mut("healthcheck") {
        if let Some(t) = h.get_mut("test") {
            if let Some(text) = scalar_string(t) {
                *t = Value::Sequence(vec![s("CMD-SHELL"), s(&text)]);
            }
        }
    }
    if let Some(Value::Mapping(u)) = m.get_mut("ulimits") {
        for (_, l) in u.iter_mut() {
            if matches!(l, Value::Number(_) | Value::String(_)) {
                let mut lm = Mapping::new();
                lm.insert(s("soft"), l.clone());
                lm.insert(s("hard"), l.clone());
                *l = Value::Mapping(lm);
            }
        }
    }
    for key in ["stop_grace_period", "mem_limit", "shm_size", "cpus"] {
        if let Some(v) = m.get_mut(key) {
            if let Some(t) = scalar_string(v).filter(|_| !v.is_string()) {
                *v = s(&t);
            }
        }
    }
}

/// Top-level `networks`/`volumes`/`secrets`/`configs`: `name: ~` is `{}`,
/// `external: {name: x}` (the old form) is `external: true, name: x`.
pub fn top_level(doc: &mut Value) {
    let Value::Mapping(root) = doc else { return };
    for key in ["networks", "volumes", "secrets", "configs"] {
        let Some(Value::Mapping(defs)) = root.get_mut(key) else {
            continue;
        };
        for (_, def) in defs.iter_mut() {
            if def.is_null() {
                *def = Value::Mapping(Mapping::new());
            }
            if let Value::Mapping(d) = def {
                if let Some(Value::Mapping(ext)) = d.get("external").cloned() {
                    if let Some(n) = ext.get("name").cloned() {
                        d.insert(s("name"), n);
                    }
                    d.insert(s("external"), Value::Bool(true));
                }
                if let Some(l) = d.get_mut("labels") {
                    list_to_map(l, false);
                }
            }
        }
    }
    if let Some(Value::Mapping(svcs)) = root.get_mut("services") {
        for (_, svc) in svcs.iter_mut() {
            service(svc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(t: &str) -> Value {
        serde_yaml_ng::from_str(t).unwrap()
    }

    #[test]
    fn ports_short_to_long() {
        let p = parse_port("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(
            p[0],
            yaml(
                "{mode: ingress, host_ip: 127.0.0.1, target: 80, published: '8080', protocol: udp}"
            )
        );
        let p = parse_port("3000").unwrap();
        assert_eq!(p[0], yaml("{mode: ingress, target: 3000, protocol: tcp}"));
        assert_eq!(parse_port("9000-9001:80-81").unwrap().len(), 2);
        assert!(parse_port("nope").is_none());
        assert!(parse_port("81-80").is_none());
        assert!(parse_port("65535-65536:80-81").is_none());
        assert!(parse_port("65535-65535:80-81").is_none());
    }

    #[test]
    fn volumes_short_to_long() {
        assert_eq!(
            parse_volume("data:/var/lib/db:ro"),
            yaml("{type: volume, source: data, target: /var/lib/db, read_only: true}")
        );
        assert_eq!(
            parse_volume("./src:/src"),
            yaml("{type: bind, source: ./src, target: /src, bind: {create_host_path: true}}")
        );
        assert_eq!(
            parse_volume("/cache"),
            yaml("{type: volume, target: /cache}")
        );
    }

    #[test]
    fn service_forms() {
        let mut v = yaml(
            "{build: ./app, command: 'sh -c \"echo hi\"', environment: [A=1, B], depends_on: [db], \
             networks: [front], healthcheck: {test: 'true'}, ulimits: {nofile: 1024}, secrets: [s]}",
        );
        service(&mut v);
        assert_eq!(v["build"], yaml("{context: ./app}"));
        assert_eq!(v["command"], yaml("[sh, -c, echo hi]"));
        assert_eq!(v["environment"], yaml("{A: '1', B: null}"));
        assert_eq!(
            v["depends_on"],
            yaml("{db: {condition: service_started, required: true}}")
        );
        assert_eq!(v["networks"], yaml("{front: null}"));
        assert_eq!(v["healthcheck"]["test"], yaml("[CMD-SHELL, 'true']"));
        assert_eq!(v["ulimits"]["nofile"], yaml("{soft: 1024, hard: 1024}"));
        assert_eq!(v["secrets"], yaml("[{source: s}]"));
    }
}
