//! Reading one compose file: YAML text to a `serde_yaml_ng::Value` with
//! anchors resolved and `<<` merge keys applied, and finding the line a
//! key path sits on, for error messages.
//!
//! `serde_yaml_ng` (the maintained successor of `serde_yaml`, already in
//! the tree for berth-registry) keeps line and column in its own syntax
//! errors and resolves anchors and aliases; merge keys are applied with
//! `Value::apply_merge`. A `Value` has no positions, so the line of a key
//! that fails later (interpolation, a wrong type, an unknown key) is found
//! again in the text by [`locate`], which walks the block structure.

use serde_yaml_ng::Value;

use crate::Error;

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

pub fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Parses `text` (the file `file`): a syntax error names the file and line.
pub fn parse(file: &str, text: &str) -> Result<Value, Error> {
    let mut v: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(":{}", l.line()))
            .unwrap_or_default();
        Error::new(format!("{file}{at}: yaml: {e}"))
    })?;
    v.apply_merge()
        .map_err(|e| Error::new(format!("{file}: yaml: merge key: {e}")))?;
    Ok(match v {
        Value::Null => Value::Mapping(Default::default()),
        other => other,
    })
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#') || t == "---"
}

/// Whether `content` (a line without its indentation, perhaps after `- `)
/// opens the key `key`.
fn opens_key(content: &str, key: &str) -> bool {
    for quoted in [key.to_string(), format!("\"{key}\""), format!("'{key}'")] {
        if let Some(rest) = content.strip_prefix(&quoted) {
            let rest = rest.trim_start();
            if rest.starts_with(':') {
                return true;
            }
        }
    }
    false
}

/// The 1-based line of `path` in block-style YAML `text`, or of the
/// deepest part of it found. Flow collections (`{a: 1}`) end the walk at
/// the line they open on, which is still the line to show.
pub fn locate(text: &str, path: &[Seg]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    // The block we search: lines (start..end) deeper than `parent_indent`.
    let (mut start, mut end) = (0usize, lines.len());
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    // Set when the block is a `- key: v` item: its keys sit at this column,
    // the first one on the item's own line.
    let mut item_col: Option<usize> = None;
    for seg in path {
        let mut hit = None;
        let mut item = 0usize;
        let mut child_indent = item_col.take();
        let mut i = start;
        while i < end {
            let line = lines[i];
            if is_blank(line) {
                i += 1;
                continue;
            }
            let mut ind = indent_of(line);
            if parent_indent.is_some_and(|p| ind <= p) && i > start {
                break;
            }
            let mut content = line.trim_start();
            if i == start && child_indent.is_some() && content.starts_with("- ") {
                ind += 2;
                content = &content[2..];
            }
            let ci = *child_indent.get_or_insert(ind);
            if ind == ci {
                match seg {
                    Seg::Key(k) => {
                        let c = content.strip_prefix("- ").unwrap_or(content);
                        if opens_key(c, k) {
                            hit = Some((i, ind));
                            break;
                        }
                    }
                    Seg::Index(n) => {
                        if content.starts_with('-') {
                            if item == *n {
                                hit = Some((i, ind));
                                break;
                            }
                            item += 1;
                        }
                    }
                }
            }
            i += 1;
        }
        let (line_no, ind) = hit?;
        found = Some(line_no + 1);
        // The value's block: the lines after it that are deeper.
        let mut stop = line_no + 1;
        while stop < end && (is_blank(lines[stop]) || indent_of(lines[stop]) > ind) {
            stop += 1;
        }
        // A `- key: v` item keeps its other keys at the column after `- `.
        let first = lines[line_no].trim_start();
        if matches!(seg, Seg::Index(_)) && first.starts_with("- ") {
            start = line_no;
            parent_indent = Some(ind);
            end = stop;
            item_col = Some(ind + 2);
            continue;
        }
        start = line_no + 1;
        end = stop;
        parent_indent = Some(ind);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
services:
  web:
    image: nginx
    ports:
      - \"80:80\"
      - target: 81
        published: 8081
  db:
    image: postgres
    bogus: 1
";

    fn k(s: &str) -> Seg {
        Seg::Key(s.into())
    }

    #[test]
    fn finds_nested_keys() {
        assert_eq!(locate(DOC, &[k("services"), k("db"), k("bogus")]), Some(10));
        assert_eq!(locate(DOC, &[k("services"), k("web"), k("image")]), Some(3));
        assert_eq!(
            locate(DOC, &[k("services"), k("web"), k("ports"), Seg::Index(1)]),
            Some(6)
        );
        assert_eq!(
            locate(
                DOC,
                &[
                    k("services"),
                    k("web"),
                    k("ports"),
                    Seg::Index(1),
                    k("published")
                ]
            ),
            Some(7)
        );
        // A key of another service is not found under this one.
        assert_eq!(locate(DOC, &[k("services"), k("web"), k("bogus")]), None);
    }

    #[test]
    fn merge_keys_and_anchors() {
        let v = parse(
            "f.yml",
            "x-base: &base\n  image: busybox\nservices:\n  a:\n    <<: *base\n    command: true\n",
        )
        .unwrap();
        assert_eq!(v["services"]["a"]["image"].as_str(), Some("busybox"));
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let e = parse("f.yml", "services:\n  a: [\n").unwrap_err();
        assert!(e.to_string().starts_with("f.yml:"), "{e}");
    }
}
