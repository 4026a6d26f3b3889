//! `.dockerignore` with docker's rules (moby's `patternmatcher`): one
//! pattern a line, `#` comments, paths cleaned and relative to the context
//! root, `*`/`?`/`[...]` within a path segment, `**` across segments, `!`
//! re-includes, the last matching pattern wins, and a pattern that matches
//! a directory matches everything under it. Hand-written: the glob crates
//! do not follow Go's `filepath.Match` plus moby's `**` and parent rules.

/// A glob in Go's `filepath.Match` syntax plus `**`.
#[derive(Debug, Clone)]
pub struct Glob {
    tokens: Vec<Tok>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    /// `?`: one char but `/`.
    Any,
    /// `*`: any run without `/`.
    Star,
    /// `**`: any run, `/` included.
    StarStar,
    /// `[...]`: (negated, ranges).
    Class(bool, Vec<(char, char)>),
}

/// A bad pattern (`[` unclosed, a trailing escape).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern: {0}")]
pub struct PatternError(pub String);

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, PatternError> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '*' => {
                    if chars.get(i + 1) == Some(&'*') {
                        tokens.push(Tok::StarStar);
                        i += 2;
                        if chars.get(i) == Some(&'/') {
                            // `**/` also matches no directory at all: an
                            // optional `/` (NUL marks it; paths have none).
                            tokens.push(Tok::Lit('\u{0}'));
                            i += 1;
                        }
                        continue;
                    }
                    tokens.push(Tok::Star);
                }
                '?' => tokens.push(Tok::Any),
                '\\' => {
                    i += 1;
                    match chars.get(i) {
                        Some(&n) => tokens.push(Tok::Lit(n)),
                        None => return Err(PatternError(pattern.into())),
                    }
                }
                '[' => {
                    let mut j = i + 1;
                    let neg = matches!(chars.get(j), Some('^') | Some('!'));
                    if neg {
                        j += 1;
                    }
                    let mut ranges = Vec::new();
                    let mut closed = false;
                    let mut first = true;
                    while j < chars.len() {
                        let mut a = chars[j];
                        if a == ']' && !first {
                            closed = true;
                            break;
                        }
                        first = false;
                        if a == '\\' {
                            j += 1;
                            a = *chars.get(j).ok_or_else(|| PatternError(pattern.into()))?;
                        }
                        let mut b = a;
                        if chars.get(j + 1) == Some(&'-')
                            && chars.get(j + 2).is_some_and(|&c| c != ']')
                        {
                            b = chars[j + 2];
                            if b == '\\' {
                                b = *chars
                                    .get(j + 3)
                                    .ok_or_else(|| PatternError(pattern.into()))?;
                                j += 1;
                            }
                            j += 2;
                        }
                        ranges.push((a, b));
                        j += 1;
                    }
                    if !closed {
                        return Err(PatternError(pattern.into()));
                    }
                    tokens.push(Tok::Class(neg, ranges));
                    i = j;
                }
                _ => tokens.push(Tok::Lit(c)),
            }
            i += 1;
        }
        Ok(Glob { tokens })
    }

    pub fn matches(&self, path: &str) -> bool {
        let p: Vec<char> = path.chars().collect();
        // Iterative matcher with memo: (token, position) pairs, so hostile
        // patterns cannot blow up.
        let n = self.tokens.len();
        let m = p.len();
        let mut memo = vec![None::<bool>; (n + 1) * (m + 1)];
        self.rec(0, 0, &p, &mut memo)
    }

    fn rec(&self, t: usize, i: usize, p: &[char], memo: &mut Vec<Option<bool>>) -> bool {
        let key = t * (p.len() + 1) + i;
        if let Some(v) = memo[key] {
            return v;
        }
        let r = match self.tokens.get(t) {
            None => i == p.len(),
            Some(Tok::Lit('\u{0}')) => {
                // The optional `/` after `**`: either a `/` here, or none
                // when `**` matched nothing.
                (p.get(i) == Some(&'/') && self.rec(t + 1, i + 1, p, memo))
                    || ((i == 0 || p.get(i.wrapping_sub(1)) == Some(&'/'))
                        && self.rec(t + 1, i, p, memo))
            }
            Some(Tok::Lit(c)) => p.get(i) == Some(c) && self.rec(t + 1, i + 1, p, memo),
            Some(Tok::Any) => {
                p.get(i).is_some_and(|&c| c != '/') && self.rec(t + 1, i + 1, p, memo)
            }
            Some(Tok::Class(neg, ranges)) => {
                p.get(i).is_some_and(|&c| {
                    c != '/' && (ranges.iter().any(|&(a, b)| a <= c && c <= b) != *neg)
                }) && self.rec(t + 1, i + 1, p, memo)
            }
            Some(Tok::Star) => {
                let mut j = i;
                loop {
                    if self.rec(t + 1, j, p, memo) {
                        break true;
                    }
                    if j >= p.len() || p[j] == '/' {
                        break false;
                    }
                    j += 1;
                }
            }
            Some(Tok::StarStar) => (i..=p.len()).any(|j| self.rec(t + 1, j, p, memo)),
        };
        memo[key] = Some(r);
        r
    }
}

/// Cleans a path as Go's `filepath.Clean`, relative, without a leading
/// `/` or `./`.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !path.starts_with('/') {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[derive(Debug, Clone)]
struct Pattern {
    glob: Glob,
    exclusion: bool,
}

/// The patterns of a `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

impl Ignore {
    /// Parses `.dockerignore` content.
    pub fn parse(content: &str) -> Result<Ignore, PatternError> {
        let mut patterns = Vec::new();
        for line in content.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclusion, pat) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let cleaned = clean(pat);
            if cleaned == "." && !exclusion {
                // `.` would ignore the whole context: moby drops it too.
                continue;
            }
            patterns.push(Pattern {
                glob: Glob::new(&cleaned)?,
                exclusion,
            });
        }
        Ok(Ignore { patterns })
    }

    /// Whether the context-relative `path` is ignored: the last pattern that
    /// matches it or one of its parent directories decides.
    pub fn is_ignored(&self, path: &str) -> bool {
        let path = clean(path);
        let parents: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
        let mut ignored = false;
        for p in &self.patterns {
            if p.exclusion != ignored {
                continue;
            }
            let hit = p.glob.matches(&path) || parents.iter().any(|d| p.glob.matches(d));
            if hit {
                ignored = !p.exclusion;
            }
        }
        ignored
    }

    /// Whether any `!` pattern could re-include something under `dir`
    /// (then an ignored directory must still be walked).
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str, s: &str) -> bool {
        Glob::new(p).unwrap().matches(s)
    }

    #[test]
    fn globs() {
        assert!(g("*.md", "a.md"));
        assert!(!g("*.md", "d/a.md"));
        assert!(g("*/*.md", "d/a.md"));
        assert!(g("**/*.md", "a.md"));
        assert!(g("**/*.md", "d/e/a.md"));
        assert!(g("d/**", "d/e/f"));
        assert!(g("**", "anything/at/all"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "a/c"));
        assert!(g("[a-c]x", "bx"));
        assert!(!g("[^a-c]x", "bx"));
        assert!(g("[!a-c]x", "dx"));
        assert!(g("\\*", "*"));
        assert!(!g("\\*", "a"));
        assert!(g("d/**/x", "d/x"));
        assert!(g("d/**/x", "d/a/b/x"));
        assert!(Glob::new("[abc").is_err());
        assert!(Glob::new("a\\").is_err());
        // Hostile: exponential backtracking is memoised.
        let pat = "*a".repeat(30);
        assert!(!g(&pat, &"a".repeat(29)));
        assert!(g(&"**/".repeat(20), &"a/".repeat(40)));
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean("./a//b/"), "a/b");
        assert_eq!(clean("/a/../b"), "b");
        assert_eq!(clean("a/../../b"), "../b");
        assert_eq!(clean(""), ".");
    }

    #[test]
    fn ignore_rules() {
        let i = Ignore::parse("# comment\n*.log\n!keep.log\nbuild/\n**/*.tmp\n/secret\nnode_modules\n!node_modules/x\n").unwrap();
        assert!(i.is_ignored("a.log"));
        assert!(!i.is_ignored("keep.log"));
        assert!(!i.is_ignored("d/a.log"));
        assert!(i.is_ignored("build"));
        assert!(i.is_ignored("build/out/bin"));
        assert!(i.is_ignored("x/y/z.tmp"));
        assert!(i.is_ignored("secret"));
        assert!(i.is_ignored("./secret"));
        assert!(i.is_ignored("node_modules/a"));
        assert!(!i.is_ignored("node_modules/x"));
        assert!(!i.is_ignored("src/main.rs"));
        assert!(i.has_exclusions());
        let last_wins = Ignore::parse("!a\na").unwrap();
        assert!(last_wins.is_ignored("a"));
        let none = Ignore::parse("").unwrap();
        assert!(!none.is_ignored("x"));
        assert!(Ignore::parse("[").is_err());
    }
}
