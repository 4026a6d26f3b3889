//! The typed instruction of one logical line (BuildKit's
//! `instructions.Parse`): its flags and words, then one builder per
//! instruction family, each checking its arguments with BuildKit's wording.

use super::{err, ArgDecl, Cmd, Command, CopyArgs, Healthcheck, Heredoc, Instruction, ParseError};

/// Splits off leading `--flag[=value]` words (BuildKit's
/// `extractBuilderFlags`).
pub(super) fn split_flags(rest: &str) -> (Vec<(String, Option<String>)>, &str) {
    let mut flags = Vec::new();
    let mut s = rest.trim_start();
    while let Some(body) = s.strip_prefix("--") {
        let end = body.find(char::is_whitespace).unwrap_or(body.len());
        let word = &body[..end];
        if word.is_empty() {
            // A bare `--` ends the flags.
            s = body[end..].trim_start();
            break;
        }
        match word.split_once('=') {
            Some((k, v)) => flags.push((k.to_ascii_lowercase(), Some(unquote_flag(v)))),
            None => flags.push((word.to_ascii_lowercase(), None)),
        }
        s = body[end..].trim_start();
    }
    (flags, s)
}

pub(super) fn unquote_flag(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// A JSON array of strings, or None (then it is the shell form).
pub(super) fn json_array(s: &str) -> Option<Vec<String>> {
    let t = s.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

/// Splits at unquoted whitespace, keeping quotes and escapes in the words
/// (BuildKit's `parseWords`), for `ENV`/`LABEL`/`ARG` and `COPY` words.
pub fn split_words(s: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                cur.push(c);
            }
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            _ if c == escape && quote != Some('\'') => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// `ENV`/`LABEL` pairs: `k=v k2=v2`, or the old `k v` form (one pair, the
/// rest of the line is the value).
pub(super) fn name_vals(
    kw: &str,
    rest: &str,
    escape: char,
    line: usize,
) -> Result<Vec<(String, String)>, ParseError> {
    let words = split_words(rest, escape);
    if words.is_empty() {
        return Err(err(line, format!("{kw} requires at least one argument")));
    }
    if !words[0].contains('=') {
        // Old form: `ENV KEY value with spaces`.
        let key = words[0].clone();
        let value = rest.trim_start()[words[0].len()..].trim().to_string();
        if value.is_empty() {
            return Err(err(line, format!("{kw} must have two arguments")));
        }
        return Ok(vec![(key, value)]);
    }
    let mut out = Vec::new();
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(err(
                line,
                format!("Syntax error - can't find = in \"{w}\". Must be of the form: name=value"),
            ));
        };
        if k.is_empty() {
            return Err(err(line, format!("{kw} names can not be blank")));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

pub(super) struct Flags {
    kw: String,
    line: usize,
    flags: Vec<(String, Option<String>)>,
}

impl Flags {
    fn check(&self, allowed: &[&str]) -> Result<(), ParseError> {
        for (k, _) in &self.flags {
            if !allowed.contains(&k.as_str()) {
                return Err(err(self.line, format!("unknown flag: {k}")));
            }
        }
        Ok(())
    }

    fn string(&self, name: &str) -> Result<Option<String>, ParseError> {
        let mut found = None;
        for (k, v) in &self.flags {
            if k == name {
                match v {
                    Some(v) => found = Some(v.clone()),
                    None => {
                        return Err(err(self.line, format!("missing a value on flag: {name}")));
                    }
                }
            }
        }
        Ok(found)
    }

    fn bool(&self, name: &str) -> Result<bool, ParseError> {
        for (k, v) in &self.flags {
            if k == name {
                return match v.as_deref() {
                    None | Some("true") => Ok(true),
                    Some("false") => Ok(false),
                    Some(o) => Err(err(
                        self.line,
                        format!("expecting boolean value for flag {name}, not: {o}"),
                    )),
                };
            }
        }
        Ok(false)
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(k, _)| k == name)
            .filter_map(|(_, v)| v.clone())
            .collect()
    }

    fn none(&self) -> Result<(), ParseError> {
        self.check(&[])?;
        let _ = &self.kw;
        Ok(())
    }
}

pub(super) fn cmd_of(rest: &str) -> Cmd {
    match json_array(rest) {
        Some(v) => Cmd::Exec(v),
        None => Cmd::Shell(rest.trim().to_string()),
    }
}

pub(super) fn one_arg(kw: &str, rest: &str, line: usize) -> Result<String, ParseError> {
    let t = rest.trim();
    if t.is_empty() {
        return Err(err(line, format!("{kw} requires exactly one argument")));
    }
    Ok(t.to_string())
}

/// Builds the typed instruction of one logical line.
pub(super) fn instruction(
    kw: &str,
    rest: &str,
    heredocs: Vec<Heredoc>,
    escape: char,
    line: usize,
    in_onbuild: bool,
) -> Result<Instruction, ParseError> {
    let (flag_list, rest) = split_flags(rest);
    let f = Flags {
        kw: kw.to_string(),
        line,
        flags: flag_list,
    };
    match kw {
        "FROM" => from_instruction(&f, rest, line),
        "RUN" => run_instruction(&f, rest, heredocs, line),
        "CMD" | "ENTRYPOINT" | "ENV" | "LABEL" | "ARG" | "EXPOSE" | "WORKDIR" | "USER"
        | "MAINTAINER" | "STOPSIGNAL" | "VOLUME" | "SHELL" => {
            config_instruction(kw, &f, rest, escape, line)
        }
        "HEALTHCHECK" => healthcheck_instruction(&f, rest, line),
        "ONBUILD" => onbuild_instruction(&f, rest, escape, line, in_onbuild),
        "COPY" | "ADD" => copy_instruction(kw, &f, rest, heredocs, escape, line),
        other => Err(err(line, format!("unknown instruction: {other}"))),
    }
    .map(|i| match (kw, i) {
        ("ADD", Instruction::Copy(a)) => Instruction::Add(a),
        (_, i) => i,
    })
}

/// An instruction's (flag-less) arguments must not be empty.
pub(super) fn need(what: &str, rest: &str, line: usize) -> Result<(), ParseError> {
    if rest.trim().is_empty() {
        Err(err(line, format!("{what} requires at least one argument")))
    } else {
        Ok(())
    }
}

/// `FROM [--platform=P] image [AS name]`.
pub(super) fn from_instruction(
    f: &Flags,
    rest: &str,
    line: usize,
) -> Result<Instruction, ParseError> {
    f.check(&["platform"])?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    let (image, name) = match words.as_slice() {
        [image] => (image.to_string(), None),
        [image, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                return Err(err(line, format!("invalid name for build stage: \"{name}\", name can't start with a number or contain symbols")));
            }
            (image.to_string(), Some(name.to_ascii_lowercase()))
        }
        _ => return Err(err(line, "FROM requires either one or three arguments")),
    };
    Ok(Instruction::From {
        image,
        name,
        platform: f.string("platform")?,
    })
}

/// `RUN [--mount/--network/--security] cmd` (a heredoc may be the command).
pub(super) fn run_instruction(
    f: &Flags,
    rest: &str,
    heredocs: Vec<Heredoc>,
    line: usize,
) -> Result<Instruction, ParseError> {
    f.check(&["mount", "network", "security"])?;
    if rest.trim().is_empty() && heredocs.is_empty() {
        need("RUN", rest, line)?;
    }
    let mut flags = Vec::new();
    for (k, v) in &f.flags {
        flags.push((k.clone(), v.clone().unwrap_or_default()));
    }
    Ok(Instruction::Run {
        cmd: cmd_of(rest),
        heredocs,
        flags,
    })
}

/// The instructions that take no flags and set the image's config.
pub(super) fn config_instruction(
    kw: &str,
    f: &Flags,
    rest: &str,
    escape: char,
    line: usize,
) -> Result<Instruction, ParseError> {
    f.none()?;
    Ok(match kw {
        "CMD" => Instruction::Cmd(cmd_of(rest)),
        "ENTRYPOINT" => Instruction::Entrypoint(cmd_of(rest)),
        "ENV" => Instruction::Env(name_vals("ENV", rest, escape, line)?),
        "LABEL" => Instruction::Label(name_vals("LABEL", rest, escape, line)?),
        "ARG" => Instruction::Arg(arg_decls(rest, escape, line)?),
        "EXPOSE" => {
            need("EXPOSE", rest, line)?;
            Instruction::Expose(split_words(rest, escape))
        }
        "WORKDIR" => Instruction::Workdir(one_arg("WORKDIR", rest, line)?),
        "USER" => Instruction::User(one_arg("USER", rest, line)?),
        "MAINTAINER" => Instruction::Maintainer(one_arg("MAINTAINER", rest, line)?),
        "STOPSIGNAL" => {
            let a = one_arg("STOPSIGNAL", rest, line)?;
            if a.split_whitespace().count() != 1 {
                return Err(err(line, "STOPSIGNAL requires exactly one argument"));
            }
            Instruction::Stopsignal(a)
        }
        "VOLUME" => {
            need("VOLUME", rest, line)?;
            let v = json_array(rest).unwrap_or_else(|| split_words(rest, escape));
            if v.iter().any(|p| p.trim().is_empty()) {
                return Err(err(line, "VOLUME specified can not be an empty string"));
            }
            Instruction::Volume(v)
        }
        "SHELL" => match json_array(rest) {
            Some(v) if !v.is_empty() => Instruction::Shell(v),
            _ => return Err(err(line, "SHELL requires the arguments to be in JSON form")),
        },
        other => return Err(err(line, format!("unknown instruction: {other}"))),
    })
}

/// `ARG name[=default] ...`.
pub(super) fn arg_decls(rest: &str, escape: char, line: usize) -> Result<Vec<ArgDecl>, ParseError> {
    let words = split_words(rest, escape);
    if words.is_empty() {
        return Err(err(line, "ARG requires at least one argument"));
    }
    let mut decls = Vec::new();
    for w in words {
        let (name, default) = match w.split_once('=') {
            Some((n, d)) => (n.to_string(), Some(d.to_string())),
            None => (w.clone(), None),
        };
        if name.is_empty() {
            return Err(err(line, "ARG names can not be blank"));
        }
        decls.push(ArgDecl { name, default });
    }
    Ok(decls)
}

/// `HEALTHCHECK [flags] CMD cmd` or `HEALTHCHECK NONE`.
pub(super) fn healthcheck_instruction(
    f: &Flags,
    rest: &str,
    line: usize,
) -> Result<Instruction, ParseError> {
    f.check(&[
        "interval",
        "timeout",
        "start-period",
        "start-interval",
        "retries",
    ])?;
    let t = rest.trim();
    let (typ, cmd) = match t.find(char::is_whitespace) {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, ""),
    };
    let test = match typ.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !cmd.is_empty() || !f.flags.is_empty() {
                return Err(err(line, "HEALTHCHECK NONE takes no arguments"));
            }
            None
        }
        "CMD" => {
            if cmd.is_empty() {
                return Err(err(line, "Missing command after HEALTHCHECK CMD"));
            }
            Some(cmd_of(cmd))
        }
        "" => return Err(err(line, "HEALTHCHECK requires at least one argument")),
        other => {
            return Err(err(
                line,
                format!("Unknown type \"{other}\" in HEALTHCHECK (try CMD)"),
            ))
        }
    };
    Ok(Instruction::Healthcheck(Healthcheck {
        test,
        interval: f.string("interval")?,
        timeout: f.string("timeout")?,
        start_period: f.string("start-period")?,
        start_interval: f.string("start-interval")?,
        retries: f.string("retries")?,
    }))
}

/// `ONBUILD instruction`: the trigger parsed now, so errors show at once.
pub(super) fn onbuild_instruction(
    f: &Flags,
    rest: &str,
    escape: char,
    line: usize,
    in_onbuild: bool,
) -> Result<Instruction, ParseError> {
    f.none()?;
    if in_onbuild {
        return Err(err(
            line,
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ));
    }
    let t = rest.trim();
    if t.is_empty() {
        return Err(err(line, "ONBUILD requires at least one argument"));
    }
    let (k, r) = match t.find(char::is_whitespace) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let k = k.to_ascii_uppercase();
    match k.as_str() {
        "ONBUILD" => {
            return Err(err(
                line,
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
            ))
        }
        "FROM" | "MAINTAINER" => {
            return Err(err(
                line,
                format!("{k} isn't allowed as an ONBUILD trigger"),
            ))
        }
        _ => {}
    }
    if !KEYWORDS.contains(&k.as_str()) {
        return Err(err(line, format!("unknown instruction: {k}")));
    }
    let inner = instruction(&k, r, Vec::new(), escape, line, true)?;
    Ok(Instruction::Onbuild(Box::new(Command {
        line,
        keyword: k,
        original: t.to_string(),
        instruction: inner,
    })))
}

/// `COPY`/`ADD [flags] src... dest` (JSON form too; heredocs as sources).
/// Both parse to `Instruction::Copy`; the caller renames `ADD`'s.
pub(super) fn copy_instruction(
    kw: &str,
    f: &Flags,
    rest: &str,
    heredocs: Vec<Heredoc>,
    escape: char,
    line: usize,
) -> Result<Instruction, ParseError> {
    if kw == "COPY" {
        f.check(&["from", "chown", "chmod", "link", "parents", "exclude"])?;
    } else {
        f.check(&[
            "chown",
            "chmod",
            "link",
            "checksum",
            "keep-git-dir",
            "exclude",
        ])?;
    }
    let (words, json) = match json_array(rest) {
        Some(v) => (v, true),
        None => (split_words(rest, escape), false),
    };
    let min = if heredocs.is_empty() { 2 } else { 1 };
    if words.len() < min {
        return Err(err(line, format!("{kw} requires at least two arguments, but only one was provided. Destination could not be determined.")));
    }
    let mut srcs = words;
    let dest = srcs.pop().unwrap_or_default();
    Ok(Instruction::Copy(CopyArgs {
        srcs,
        dest,
        from: f.string("from")?,
        chown: f.string("chown")?,
        chmod: f.string("chmod")?,
        link: f.bool("link")?,
        checksum: f.string("checksum")?,
        exclude: f.all("exclude"),
        heredocs,
        json,
    }))
}

pub(super) const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];
