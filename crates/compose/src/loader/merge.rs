//! Merging YAML trees as docker compose merges several `-f` files and
//! `extends`: mappings merge key by key, the later file winning for
//! scalars; `command`, `entrypoint` and `healthcheck.test` are replaced
//! whole; `volumes` merge by target, `secrets`/`configs` by source, `ports`
//! and the other lists are appended without duplicates.

use serde_yaml_ng::Value;

/// Lists replaced whole rather than appended.
const REPLACED: &[&str] = &["command", "entrypoint", "test", "profiles"];

fn keyed_by(key: &str) -> Option<&'static str> {
    match key {
        "volumes" => Some("target"),
        "secrets" | "configs" => Some("source"),
        "env_file" => Some("path"),
        _ => None,
    }
}

/// Merges `over` into `base` (the later file into the earlier one).
pub fn merge(base: &mut Value, over: Value) {
    merge_at(base, over, "");
}

fn merge_at(base: &mut Value, over: Value, key: &str) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                let name = k.as_str().unwrap_or_default().to_string();
                match b.get_mut(&k) {
                    Some(existing) if !v.is_null() => merge_at(existing, v, &name),
                    Some(existing) if existing.is_null() => {}
                    Some(_) => {}
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Sequence(b), Value::Sequence(o)) if !REPLACED.contains(&key) => {
            match keyed_by(key) {
                Some(field) => {
                    for item in o {
                        let id = item.get(field).cloned();
                        match b
                            .iter_mut()
                            .find(|x| id.is_some() && x.get(field) == id.as_ref())
                        {
                            Some(slot) => *slot = item,
                            None => b.push(item),
                        }
                    }
                }
                None => {
                    for item in o {
                        if !b.contains(&item) {
                            b.push(item);
                        }
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(t: &str) -> Value {
        serde_yaml_ng::from_str(t).unwrap()
    }

    #[test]
    fn override_rules() {
        let mut base = yaml(
            "{image: a, command: [x, y], environment: {A: '1', B: '2'}, ports: [{target: 80}], \
             volumes: [{type: volume, source: d, target: /d}], dns: [1.1.1.1]}",
        );
        merge(
            &mut base,
            yaml(
                "{image: b, command: [z], environment: {B: '3'}, ports: [{target: 80}, {target: 81}], \
                 volumes: [{type: bind, source: /h, target: /d}], dns: [8.8.8.8]}",
            ),
        );
        assert_eq!(base["image"], yaml("b"));
        assert_eq!(base["command"], yaml("[z]"));
        assert_eq!(base["environment"], yaml("{A: '1', B: '3'}"));
        assert_eq!(base["ports"], yaml("[{target: 80}, {target: 81}]"));
        assert_eq!(
            base["volumes"],
            yaml("[{type: bind, source: /h, target: /d}]")
        );
        assert_eq!(base["dns"], yaml("[1.1.1.1, 8.8.8.8]"));
    }
}
