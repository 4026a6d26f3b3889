//! Property-based tests of the builder's parsers of outside input (issue
//! 21): Dockerfiles, shell words (variables, quotes, heredocs) and
//! .dockerignore patterns. Never a panic, a refusal names the problem, and
//! generated well-formed input is accepted. Cases are bounded.

use std::collections::HashMap;

use proptest::prelude::*;

use crate::dockerfile::{parse, split_words, Instruction};
use crate::dockerignore::{clean, Glob, Ignore};
use crate::shell::Lex;

fn config() -> ProptestConfig {
    ProptestConfig {
        // cases: PROPTEST_CASES, 256 when unset (proptest's default)
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Dockerfile-looking text: instructions, flags, JSON, heredocs, escapes,
/// continuation lines and parser directives in any order.
fn dockerfile_text() -> impl Strategy<Value = String> {
    let token = prop::sample::select(
        &[
            "FROM ",
            "from ",
            "RUN ",
            "CMD ",
            "ENTRYPOINT ",
            "COPY ",
            "ADD ",
            "ENV ",
            "ARG ",
            "LABEL ",
            "EXPOSE ",
            "WORKDIR ",
            "USER ",
            "VOLUME ",
            "HEALTHCHECK ",
            "SHELL ",
            "ONBUILD ",
            "STOPSIGNAL ",
            "MAINTAINER ",
            "AS ",
            " as ",
            "busybox",
            "alpine:3",
            "scratch",
            "${X}",
            "$X",
            "${X:-d}",
            "${X:+a}",
            "${",
            "}",
            "\"",
            "'",
            "[",
            "]",
            "[\"a\",",
            "\"b\"]",
            "--from=0 ",
            "--chown=1:1 ",
            "--chmod=755 ",
            "--mount=type=cache,target=/c ",
            "--platform=$BUILDPLATFORM ",
            "--interval=1s ",
            "NONE",
            "<<EOF",
            "<<-EOT ",
            "EOF",
            "EOT",
            "a=b ",
            "a ",
            "b",
            "=",
            "/x",
            ".",
            "..",
            "80/tcp ",
            "\\",
            "`",
            "\n",
            "\n",
            "\\\n",
            "# comment\n",
            "# syntax=docker/dockerfile:1\n",
            "# escape=`\n",
            "# escape=x\n",
            "\t",
            " ",
            "\r\n",
            "é",
            "\0",
        ][..],
    );
    prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

fn well_formed() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "RUN [a-z]{1,6}( [a-z0-9-]{1,5}){0,3}",
        "ENV [A-Z]{1,4}=[a-z0-9]{0,5}",
        "ARG [A-Z]{1,4}(=[a-z0-9]{1,5})?",
        "LABEL [a-z]{1,4}=\"[a-z ]{0,5}\"",
        "EXPOSE [1-9][0-9]{0,3}(/udp)?",
        "WORKDIR /[a-z]{1,6}",
        "USER [a-z]{1,6}",
        "COPY [a-z]{1,6} /[a-z]{1,6}/",
        "CMD \\[\"[a-z]{1,5}\"(, \"[a-z]{1,5}\"){0,2}\\]",
        "ENTRYPOINT [a-z]{1,6}",
    ];
    (
        "[a-z]{1,8}(:[a-z0-9.]{1,5})?",
        prop::collection::vec(line, 0..8),
    )
        .prop_map(|(image, lines)| format!("FROM {image}\n{}\n", lines.join("\n")))
}

fn shell_word() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "([a-z ]|\\$|\\$\\{|\\}|:|-|\\+|\\?|#|%|/|'|\"|\\\\|`|X|EMPTY|\\$X|\\$\\{X\\}){0,30}",
    ]
}

fn env() -> HashMap<String, String> {
    HashMap::from([
        ("X".to_string(), "value with space".to_string()),
        ("EMPTY".to_string(), String::new()),
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn dockerfiles_never_panic(src in prop_oneof![dockerfile_text(), "\\PC{0,60}"]) {
        match parse(&src) {
            Ok(df) => {
                let _ = df.steps(df.stages.len().saturating_sub(1));
                let _ = df.stage_index("0");
            }
            Err(e) => {
                prop_assert!(!e.message.is_empty());
                prop_assert!(e.line <= src.lines().count() + 1, "line {} of {:?}", e.line, src);
            }
        }
        let _ = split_words(&src, '\\');
        let _ = split_words(&src, '`');
    }

    #[test]
    fn well_formed_dockerfiles_parse(src in well_formed()) {
        let df = parse(&src).map_err(|e| TestCaseError::fail(format!("{src}: {e}")))?;
        prop_assert_eq!(df.stages.len(), 1);
        let instructions = src.lines().filter(|l| !l.is_empty()).count() - 1;
        prop_assert_eq!(df.stages[0].commands.len(), instructions);
        let no_from = df.stages[0].commands.iter().all(|c| !matches!(c.instruction, Instruction::From { .. }));
        prop_assert!(no_from);
    }

    #[test]
    fn shell_words_never_panic(word in shell_word()) {
        for escape in ['\\', '`'] {
            let lex = Lex::new(escape);
            for r in [
                lex.process_word(&word, &env()).map(|_| ()),
                lex.process_words(&word, &env()).map(|_| ()),
                lex.process_heredoc(&word, &env()).map(|_| ()),
            ] {
                if let Err(e) = r {
                    prop_assert!(!e.0.is_empty());
                }
            }
        }
    }

    #[test]
    fn shell_words_expand(prefix in "[a-z]{0,5}", suffix in "[a-z]{0,5}", default in "[a-z]{1,5}") {
        let lex = Lex::default();
        let got = lex.process_word(&format!("{prefix}${{X}}{suffix}"), &env()).unwrap();
        prop_assert_eq!(got, format!("{prefix}value with space{suffix}"));
        let got = lex.process_word(&format!("${{NOPE:-{default}}}"), &env()).unwrap();
        prop_assert_eq!(got, default.clone());
        let got = lex.process_words(&format!("'{prefix} {suffix}' $X"), &env()).unwrap();
        prop_assert_eq!(got, vec![format!("{prefix} {suffix}"), "value".into(), "with".into(), "space".into()]);
    }

    #[test]
    fn dockerignore_never_panics(
        content in "(\\PC{0,12}|!?[a-z*?/.\\[\\]\\\\^-]{0,12}|\\*\\*(/\\*\\*){0,6})(\n(\\PC{0,12}|!?[a-z*?/.\\[\\]\\\\^-]{0,12})){0,5}",
        path in "[a-z./]{0,30}|(a/){0,15}b",
    ) {
        match Ignore::parse(&content) {
            Ok(ig) => {
                let _ = ig.is_ignored(&path);
                let _ = ig.has_exclusions();
            }
            Err(e) => prop_assert!(!e.0.is_empty()),
        }
        let _ = clean(&path);
    }

    #[test]
    fn dockerignore_literal_paths(dirs in prop::collection::vec("[a-z]{1,6}", 1..5)) {
        let path = dirs.join("/");
        let ig = Ignore::parse(&path).unwrap();
        prop_assert!(ig.is_ignored(&path));
        let (below, longer) = (format!("{path}/below"), format!("{path}x"));
        prop_assert!(ig.is_ignored(&below));
        prop_assert!(!ig.is_ignored(&longer));
        let glob = Glob::new(&format!("**/{}", dirs[dirs.len() - 1])).unwrap();
        prop_assert!(glob.matches(&path));
    }
}

/// A pattern of many `*` against a long path that almost matches must not
/// take exponential time (a hostile .dockerignore in a build context).
#[test]
fn dockerignore_stars_are_not_exponential() {
    let start = std::time::Instant::now();
    let ig =
        Ignore::parse("**/*a*a*a*a*a*a*a*a*a*a*a*a*b\n**/**/**/**/**/**/**/**/**/**/c").unwrap();
    let long = "a/".repeat(30) + &"a".repeat(60);
    assert!(!ig.is_ignored(&long));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}
