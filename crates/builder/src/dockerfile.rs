//! The Dockerfile parser: BuildKit's `parser.Parse` (directives, lines,
//! continuations, heredocs) and `instructions.Parse` (typed instructions,
//! flags, argument checks) in one pass. Variables are not expanded here:
//! the build driver does that with [`crate::shell::Lex`] at dispatch, when
//! the stage's `ARG`/`ENV` values are known.

mod instructions;

// The instruction builders, in scope here as they were before the split,
// for `parse` and for the tests that reach them through `super::*`.
pub use instructions::split_words;
use instructions::*;

/// An error naming the line: `Dockerfile parse error on line N: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Dockerfile parse error on line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Shell form or exec (JSON) form of `RUN`, `CMD`, `ENTRYPOINT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    Shell(String),
    Exec(Vec<String>),
}

/// A heredoc (`<<EOF` ... `EOF`) of `RUN`, `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    pub content: String,
    /// Unquoted delimiters expand variables in the content.
    pub expand: bool,
    /// `<<-`: leading tabs were stripped.
    pub chomp: bool,
}

/// One `ARG` declaration (an `ARG` line may declare several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    /// Raw (unexpanded) default.
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// `NONE`, or `CMD` with its command.
    pub test: Option<Cmd>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<String>,
}

/// A typed instruction; words are raw (unexpanded, quotes kept where
/// the driver's word processing removes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    From {
        image: String,
        name: Option<String>,
        platform: Option<String>,
    },
    Run {
        cmd: Cmd,
        heredocs: Vec<Heredoc>,
        /// `--mount`, `--network`, `--security` as given (repeatable).
        flags: Vec<(String, String)>,
    },
    Cmd(Cmd),
    Entrypoint(Cmd),
    /// Raw `KEY=VALUE` pairs (values processed at dispatch).
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Arg(Vec<ArgDecl>),
    Expose(Vec<String>),
    Workdir(String),
    User(String),
    Volume(Vec<String>),
    Stopsignal(String),
    Healthcheck(Healthcheck),
    Shell(Vec<String>),
    Onbuild(Box<Command>),
    Maintainer(String),
    Copy(CopyArgs),
    Add(CopyArgs),
}

/// `COPY`/`ADD`: sources and destination (raw words), flags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyArgs {
    pub srcs: Vec<String>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub checksum: Option<String>,
    pub exclude: Vec<String>,
    pub heredocs: Vec<Heredoc>,
    /// The arguments were in JSON form (no word splitting at dispatch).
    pub json: bool,
}

/// An instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// 1-based line of the instruction's first line.
    pub line: usize,
    /// The instruction keyword in upper case (`RUN`).
    pub keyword: String,
    /// The logical line as written (continuations joined), for messages
    /// (`Step 2/5 : RUN ...`) and the cache key.
    pub original: String,
    pub instruction: Instruction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `AS name`, lower-cased as BuildKit does.
    pub name: Option<String>,
    /// The `FROM` command itself.
    pub from: Command,
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub escape: char,
    pub syntax: Option<String>,
    /// `ARG`s before the first `FROM` (usable only in `FROM` lines).
    pub meta_args: Vec<Command>,
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    /// The index of the stage `name` (by `AS` name, case-insensitive, or
    /// by number).
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        if let Some(i) = self
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Some(i);
        }
        name.parse::<usize>()
            .ok()
            .filter(|&i| i < self.stages.len())
    }

    /// The number of instructions of the stages up to `last`, as `Step N/M`
    /// counts them (each stage's `FROM` included).
    pub fn steps(&self, last: usize) -> usize {
        self.stages
            .iter()
            .take(last + 1)
            .map(|s| 1 + s.commands.len())
            .sum()
    }
}

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

/// Parser directives at the top (`# syntax=`, `# escape=`, `# check=`):
/// returns the escape char, the syntax and the number of lines consumed.
fn directives(lines: &[&str]) -> Result<(char, Option<String>, usize), ParseError> {
    let mut escape = None;
    let mut syntax = None;
    let mut check = false;
    let mut used = 0;
    for (i, raw) in lines.iter().enumerate() {
        let t = raw.trim();
        let Some(body) = t.strip_prefix('#') else {
            break;
        };
        let Some((k, v)) = body.split_once('=') else {
            break;
        };
        let key = k.trim().to_ascii_lowercase();
        let value = v.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        match key.as_str() {
            "escape" => {
                if escape.is_some() {
                    return Err(err(i + 1, "only one escape parser directive can be used"));
                }
                escape = Some(match value {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(err(
                            i + 1,
                            format!("invalid escape token '{value}' does not match ` or \\"),
                        ))
                    }
                });
            }
            "syntax" => {
                if syntax.is_some() {
                    return Err(err(i + 1, "only one syntax parser directive can be used"));
                }
                syntax = Some(value.to_string());
            }
            "check" => {
                if check {
                    return Err(err(i + 1, "only one check parser directive can be used"));
                }
                check = true;
            }
            // An unknown directive is a comment and ends the directives.
            _ => break,
        }
        used = i + 1;
    }
    Ok((escape.unwrap_or('\\'), syntax, used))
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Strips a trailing escape char (after trailing whitespace): the line
/// continues on the next one.
fn continuation(line: &str, escape: char) -> Option<&str> {
    let t = line.trim_end();
    t.strip_suffix(escape)
}

/// The heredoc markers in a line: (name, quoted, chomp).
fn heredoc_markers(line: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let b: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == '<' && b[i + 1] == '<' && (i + 2 >= b.len() || b[i + 2] != '<') {
            let mut j = i + 2;
            let chomp = b.get(j) == Some(&'-');
            if chomp {
                j += 1;
            }
            let quote = match b.get(j) {
                Some(&q @ ('"' | '\'')) => {
                    j += 1;
                    Some(q)
                }
                _ => None,
            };
            let start = j;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == '_') {
                j += 1;
            }
            let name: String = b[start..j].iter().collect();
            let closed = match quote {
                Some(q) => {
                    if b.get(j) == Some(&q) {
                        j += 1;
                        true
                    } else {
                        false
                    }
                }
                None => true,
            };
            if !name.is_empty() && closed && !name.chars().all(|c| c.is_ascii_digit()) {
                out.push((name, quote.is_some(), chomp));
            }
            i = j.max(i + 2);
        } else {
            i += 1;
        }
    }
    out
}

/// Largest Dockerfile accepted (BuildKit has no limit; a build context's
/// Dockerfile larger than this is surely not one).
pub const MAX_DOCKERFILE: usize = 16 << 20;

/// Parses a Dockerfile.
pub fn parse(src: &str) -> Result<Dockerfile, ParseError> {
    if src.len() > MAX_DOCKERFILE {
        return Err(err(0, "Dockerfile is too large"));
    }
    // A UTF-8 BOM is ignored, as BuildKit does.
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let lines: Vec<&str> = src
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let (escape, syntax, mut i) = directives(&lines)?;
    let mut commands: Vec<Command> = Vec::new();
    while i < lines.len() {
        let first = lines[i];
        let start = i + 1;
        i += 1;
        let t = first.trim();
        if t.is_empty() || is_comment(first) {
            continue;
        }
        // Join continuation lines; comment and blank lines inside are dropped.
        let mut logical = String::new();
        let mut cur = first.trim_start();
        loop {
            match continuation(cur, escape) {
                Some(body) => {
                    logical.push_str(body);
                    let mut next = None;
                    while i < lines.len() {
                        let l = lines[i];
                        i += 1;
                        if is_comment(l) || l.trim().is_empty() {
                            continue;
                        }
                        next = Some(l);
                        break;
                    }
                    match next {
                        Some(l) => cur = l,
                        None => break,
                    }
                }
                None => {
                    logical.push_str(cur);
                    break;
                }
            }
        }
        let logical = logical.trim().to_string();
        let (word, rest) = match logical.find(char::is_whitespace) {
            Some(p) => (&logical[..p], &logical[p..]),
            None => (logical.as_str(), ""),
        };
        let kw = word.to_ascii_uppercase();
        if !KEYWORDS.contains(&kw.as_str()) {
            return Err(err(start, format!("unknown instruction: {kw}")));
        }
        // Heredocs: only RUN, COPY, ADD, and not in the exec form.
        let mut heredocs = Vec::new();
        if matches!(kw.as_str(), "RUN" | "COPY" | "ADD")
            && json_array(split_flags(rest).1).is_none()
        {
            for (name, quoted, chomp) in heredoc_markers(rest) {
                let mut content = String::new();
                let mut done = false;
                while i < lines.len() {
                    let l = lines[i];
                    i += 1;
                    let cmp = if chomp { l.trim_start_matches('\t') } else { l };
                    if cmp == name {
                        done = true;
                        break;
                    }
                    content.push_str(cmp);
                    content.push('\n');
                }
                if !done {
                    return Err(err(start, format!("unterminated heredoc {name}")));
                }
                heredocs.push(Heredoc {
                    name,
                    content,
                    expand: !quoted,
                    chomp,
                });
            }
        }
        let instr = instruction(&kw, rest, heredocs, escape, start, false)?;
        commands.push(Command {
            line: start,
            keyword: kw,
            original: logical.clone(),
            instruction: instr,
        });
    }
    if commands.is_empty() {
        return Err(err(1, "file with no instructions"));
    }
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for c in commands {
        if let Instruction::From { name, .. } = &c.instruction {
            if let Some(n) = name {
                if stages.iter().any(|s| s.name.as_deref() == Some(n.as_str())) {
                    return Err(err(c.line, format!("duplicate stage name \"{n}\"")));
                }
            }
            stages.push(Stage {
                name: name.clone(),
                from: c,
                commands: Vec::new(),
            });
            continue;
        }
        match stages.last_mut() {
            Some(s) => s.commands.push(c),
            None if matches!(c.instruction, Instruction::Arg(_)) => meta_args.push(c),
            None => return Err(err(c.line, "no build stage in current context")),
        }
    }
    if stages.is_empty() {
        return Err(err(1, "no build stage in current context"));
    }
    Ok(Dockerfile {
        escape,
        syntax,
        meta_args,
        stages,
    })
}

#[cfg(test)]
mod tests;
