//! docker's `--detach-keys` syntax (`ctrl-p,ctrl-q`, `a`, `ctrl-@`,
//! `ctrl-[`...), shared by the daemon (which watches attach input for it)
//! and the CLI (which watches the terminal for it).

pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// The byte sequence a detach-keys spec stands for.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, String> {
    let mut keys = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        if let Some(c) = part.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [c @ b'a'..=b'z'] => c - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(format!("Unknown character: '{part}'")),
            };
            keys.push(b);
        } else if part.len() == 1 {
            keys.push(part.as_bytes()[0]);
        } else {
            return Err(format!("Unknown character: '{part}'"));
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            parse_detach_keys(DEFAULT_DETACH_KEYS).unwrap(),
            vec![16, 17]
        );
        assert_eq!(
            parse_detach_keys("a,ctrl-@,ctrl-[").unwrap(),
            vec![b'a', 0, 27]
        );
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("abc").is_err());
    }
}
