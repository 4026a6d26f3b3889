use super::*;

fn p(s: &str) -> Dockerfile {
    parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn e(s: &str) -> String {
    parse(s).unwrap_err().to_string()
}

fn first(s: &str) -> Instruction {
    p(&format!("FROM busybox\n{s}")).stages[0].commands[0]
        .instruction
        .clone()
}

#[test]
fn every_instruction() {
    let d = p(r#"# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS Build
RUN echo hi
RUN ["echo", "x"]
CMD ["sh"]
ENTRYPOINT echo a
ENV A=1 B="two words"
ENV OLD value with spaces
LABEL a=b "c d"=e
ARG X Y=2
EXPOSE 80 443/tcp
WORKDIR /app
USER 1000:1000
VOLUME ["/data", "/logs"]
VOLUME /v1 /v2
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost || exit 1
HEALTHCHECK NONE
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo built
MAINTAINER someone
COPY --chown=1:1 --chmod=0755 a b /dst/
ADD --chown=1 x.tar /
FROM build
COPY --from=build /app/bin /bin
"#);
    assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(d.meta_args.len(), 1);
    assert_eq!(d.stages.len(), 2);
    assert_eq!(d.stages[0].name.as_deref(), Some("build"));
    let c = &d.stages[0].commands;
    assert_eq!(c.len(), 21);
    assert_eq!(
        c[0].instruction,
        Instruction::Run {
            cmd: Cmd::Shell("echo hi".into()),
            heredocs: vec![],
            flags: vec![]
        }
    );
    assert_eq!(c[0].line, 4);
    assert_eq!(
        c[1].instruction,
        Instruction::Run {
            cmd: Cmd::Exec(vec!["echo".into(), "x".into()]),
            heredocs: vec![],
            flags: vec![]
        }
    );
    assert_eq!(
        c[2].instruction,
        Instruction::Cmd(Cmd::Exec(vec!["sh".into()]))
    );
    assert_eq!(
        c[3].instruction,
        Instruction::Entrypoint(Cmd::Shell("echo a".into()))
    );
    assert_eq!(
        c[4].instruction,
        Instruction::Env(vec![
            ("A".into(), "1".into()),
            ("B".into(), "\"two words\"".into())
        ])
    );
    assert_eq!(
        c[5].instruction,
        Instruction::Env(vec![("OLD".into(), "value with spaces".into())])
    );
    assert_eq!(
        c[6].instruction,
        Instruction::Label(vec![
            ("a".into(), "b".into()),
            ("\"c d\"".into(), "e".into())
        ])
    );
    assert_eq!(
        c[7].instruction,
        Instruction::Arg(vec![
            ArgDecl {
                name: "X".into(),
                default: None
            },
            ArgDecl {
                name: "Y".into(),
                default: Some("2".into())
            }
        ])
    );
    assert_eq!(
        c[8].instruction,
        Instruction::Expose(vec!["80".into(), "443/tcp".into()])
    );
    assert_eq!(
        c[11].instruction,
        Instruction::Volume(vec!["/data".into(), "/logs".into()])
    );
    assert_eq!(
        c[12].instruction,
        Instruction::Volume(vec!["/v1".into(), "/v2".into()])
    );
    match &c[14].instruction {
        Instruction::Healthcheck(h) => {
            assert_eq!(h.interval.as_deref(), Some("5s"));
            assert_eq!(h.retries.as_deref(), Some("3"));
            assert_eq!(
                h.test,
                Some(Cmd::Shell("wget -q localhost || exit 1".into()))
            );
        }
        o => panic!("{o:?}"),
    }
    assert!(matches!(&c[15].instruction, Instruction::Healthcheck(h) if h.test.is_none()));
    assert_eq!(
        c[16].instruction,
        Instruction::Shell(vec!["/bin/sh".into(), "-ec".into()])
    );
    match &c[17].instruction {
        Instruction::Onbuild(inner) => assert_eq!(inner.original, "RUN echo built"),
        o => panic!("{o:?}"),
    }
    match &c[19].instruction {
        Instruction::Copy(a) => {
            assert_eq!(a.srcs, ["a", "b"]);
            assert_eq!(a.dest, "/dst/");
            assert_eq!(a.chown.as_deref(), Some("1:1"));
            assert_eq!(a.chmod.as_deref(), Some("0755"));
        }
        o => panic!("{o:?}"),
    }
    assert!(matches!(&c[20].instruction, Instruction::Add(a) if a.srcs == ["x.tar"]));
    assert!(
        matches!(&d.stages[1].commands[0].instruction, Instruction::Copy(a) if a.from.as_deref() == Some("build"))
    );
    assert_eq!(d.stage_index("BUILD"), Some(0));
    assert_eq!(d.stage_index("1"), Some(1));
    assert_eq!(d.stage_index("2"), None);
    assert_eq!(d.steps(1), 24);
}

#[test]
fn case_and_whitespace() {
    let d = p("  from busybox as x\n\trun   echo  hi  \n");
    assert_eq!(d.stages[0].commands[0].keyword, "RUN");
    assert_eq!(d.stages[0].commands[0].original, "run   echo  hi");
    assert!(
        matches!(&d.stages[0].commands[0].instruction, Instruction::Run { cmd: Cmd::Shell(s), .. } if s == "echo  hi")
    );
    let d = p("FROM busybox\r\nRUN a\r\n");
    assert_eq!(d.stages[0].commands[0].original, "RUN a");
    let d = p("\u{feff}FROM busybox");
    assert_eq!(d.stages.len(), 1);
}

#[test]
fn continuations() {
    let d = p("FROM busybox\nRUN echo a \\\n  # a comment\n\n  && echo b \\\n   c\nCMD x\n");
    let c = &d.stages[0].commands;
    assert_eq!(c[0].original, "RUN echo a   && echo b    c");
    assert_eq!(c[0].line, 2);
    assert_eq!(c[1].line, 7);
    // A continuation at the end of the file ends the instruction.
    let d = p("FROM busybox\nRUN echo a \\");
    assert_eq!(d.stages[0].commands[0].original, "RUN echo a");
    // Escape char followed by spaces still continues.
    let d = p("FROM busybox\nRUN a \\   \nb");
    assert_eq!(d.stages[0].commands[0].original, "RUN a b");
}

#[test]
fn escape_directive() {
    let d = p("# escape=`\nFROM busybox\nRUN dir c:\\ `\n  && echo\n");
    assert_eq!(d.escape, '`');
    assert_eq!(d.stages[0].commands[0].original, "RUN dir c:\\   && echo");
    assert_eq!(
        e("# escape=x\nFROM busybox"),
        "Dockerfile parse error on line 1: invalid escape token 'x' does not match ` or \\"
    );
    assert!(e("# escape=`\n# escape=\\\nFROM a").contains("only one escape parser directive"));
    // Directives after a comment, an instruction or a blank line are comments.
    let d = p("# hello\n# escape=`\nFROM busybox\nRUN a \\\nb");
    assert_eq!(d.escape, '\\');
    assert_eq!(d.stages[0].commands[0].original, "RUN a b");
    let d = p("\n# escape=`\nFROM busybox");
    assert_eq!(d.escape, '\\');
    // An unknown directive ends the directives.
    let d = p("# foo=bar\n# escape=`\nFROM busybox");
    assert_eq!(d.escape, '\\');
    let d = p("#ESCAPE = `\n#Syntax=x\nFROM busybox");
    assert_eq!(d.escape, '`');
    assert_eq!(d.syntax.as_deref(), Some("x"));
}

#[test]
fn heredocs() {
    let d = p("FROM busybox\nRUN <<EOF\necho a\necho $B\nEOF\nRUN <<-\"X\" cat > /f\n\tline\n\tX\nCOPY <<A <<B /d/\n1\nA\n2\nB\nCMD x\n");
    let c = &d.stages[0].commands;
    match &c[0].instruction {
        Instruction::Run { heredocs, .. } => {
            assert_eq!(heredocs.len(), 1);
            assert_eq!(heredocs[0].content, "echo a\necho $B\n");
            assert!(heredocs[0].expand);
        }
        o => panic!("{o:?}"),
    }
    match &c[1].instruction {
        Instruction::Run { heredocs, cmd, .. } => {
            assert_eq!(heredocs[0].content, "line\n");
            assert!(!heredocs[0].expand);
            assert!(heredocs[0].chomp);
            assert_eq!(cmd, &Cmd::Shell("<<-\"X\" cat > /f".into()));
        }
        o => panic!("{o:?}"),
    }
    match &c[2].instruction {
        Instruction::Copy(a) => {
            assert_eq!(a.heredocs.len(), 2);
            assert_eq!(a.heredocs[1].content, "2\n");
            assert_eq!(a.dest, "/d/");
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(c[3].line, 14);
    assert_eq!(
        e("FROM busybox\nRUN <<EOF\necho"),
        "Dockerfile parse error on line 2: unterminated heredoc EOF"
    );
    // `<<` inside a shell command that is not a heredoc name.
    let d = p("FROM busybox\nRUN echo $((1<<2))\n");
    assert!(
        matches!(&d.stages[0].commands[0].instruction, Instruction::Run { heredocs, .. } if heredocs.is_empty())
    );
    // Not in exec form, not in other instructions.
    let d = p("FROM busybox\nRUN [\"sh\", \"<<EOF\"]\nCMD <<EOF\n");
    assert_eq!(d.stages[0].commands.len(), 2);
}

#[test]
fn errors_name_the_line() {
    assert_eq!(
        e("FROM busybox\n\nFOO bar"),
        "Dockerfile parse error on line 3: unknown instruction: FOO"
    );
    assert_eq!(
        e("FROM busybox\nfoo"),
        "Dockerfile parse error on line 2: unknown instruction: FOO"
    );
    assert_eq!(
        e("FROM busybox\nCOPY --frm=a b c"),
        "Dockerfile parse error on line 2: unknown flag: frm"
    );
    assert_eq!(
        e("FROM busybox\nRUN --chown=1 ls"),
        "Dockerfile parse error on line 2: unknown flag: chown"
    );
    assert_eq!(
        e("FROM --foo=x busybox"),
        "Dockerfile parse error on line 1: unknown flag: foo"
    );
    assert_eq!(e("FROM busybox\nCOPY a"), "Dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined.");
    assert_eq!(
        e("FROM a b"),
        "Dockerfile parse error on line 1: FROM requires either one or three arguments"
    );
    assert_eq!(e("FROM a AS 1x"), "Dockerfile parse error on line 1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols");
    assert_eq!(
        e("FROM a AS x\nFROM b AS X"),
        "Dockerfile parse error on line 2: duplicate stage name \"x\""
    );
    assert_eq!(
        e("FROM busybox\nRUN"),
        "Dockerfile parse error on line 2: RUN requires at least one argument"
    );
    assert_eq!(
        e("FROM busybox\nENV"),
        "Dockerfile parse error on line 2: ENV requires at least one argument"
    );
    assert_eq!(
        e("FROM busybox\nENV A"),
        "Dockerfile parse error on line 2: ENV must have two arguments"
    );
    assert_eq!(
        e("FROM busybox\nENV =x"),
        "Dockerfile parse error on line 2: ENV names can not be blank"
    );
    assert!(e("FROM busybox\nENV a=b c").contains("can't find = in \"c\""));
    assert_eq!(
        e("FROM busybox\nSHELL sh -c"),
        "Dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(
        e("FROM busybox\nWORKDIR"),
        "Dockerfile parse error on line 2: WORKDIR requires exactly one argument"
    );
    assert_eq!(
        e("FROM busybox\nSTOPSIGNAL A B"),
        "Dockerfile parse error on line 2: STOPSIGNAL requires exactly one argument"
    );
    assert_eq!(
        e("FROM busybox\nHEALTHCHECK NONE x"),
        "Dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments"
    );
    assert_eq!(
        e("FROM busybox\nHEALTHCHECK FOO x"),
        "Dockerfile parse error on line 2: Unknown type \"FOO\" in HEALTHCHECK (try CMD)"
    );
    assert_eq!(
        e("FROM busybox\nONBUILD ONBUILD RUN x"),
        "Dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    assert_eq!(
        e("FROM busybox\nONBUILD FROM x"),
        "Dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        e("FROM busybox\nONBUILD BAD x"),
        "Dockerfile parse error on line 2: unknown instruction: BAD"
    );
    assert_eq!(
        e("RUN echo"),
        "Dockerfile parse error on line 1: no build stage in current context"
    );
    assert_eq!(
        e("ARG A\n"),
        "Dockerfile parse error on line 1: no build stage in current context"
    );
    assert_eq!(
        e(""),
        "Dockerfile parse error on line 1: file with no instructions"
    );
    assert_eq!(
        e("# just a comment\n\n"),
        "Dockerfile parse error on line 1: file with no instructions"
    );
    assert_eq!(
        e("FROM busybox\nVOLUME [\"\"]"),
        "Dockerfile parse error on line 2: VOLUME specified can not be an empty string"
    );
    assert_eq!(
        e("FROM busybox\nCOPY --link=maybe a b"),
        "Dockerfile parse error on line 2: expecting boolean value for flag link, not: maybe"
    );
    assert_eq!(
        e("FROM busybox\nCOPY --from a b"),
        "Dockerfile parse error on line 2: missing a value on flag: from"
    );
}

#[test]
fn json_and_shell_forms() {
    assert_eq!(
        first("CMD [\"a\",\"b c\"]"),
        Instruction::Cmd(Cmd::Exec(vec!["a".into(), "b c".into()]))
    );
    // Not valid JSON: shell form, as BuildKit does.
    assert_eq!(
        first("CMD [\"a\", 'b']"),
        Instruction::Cmd(Cmd::Shell("[\"a\", 'b']".into()))
    );
    assert_eq!(first("CMD [1]"), Instruction::Cmd(Cmd::Shell("[1]".into())));
    assert_eq!(first("CMD []"), Instruction::Cmd(Cmd::Exec(vec![])));
    assert_eq!(
        first("ENTRYPOINT [\"a\\u0041\"]"),
        Instruction::Entrypoint(Cmd::Exec(vec!["aA".into()]))
    );
    assert!(
        matches!(first("COPY [\"a b\", \"/c d/\"]"), Instruction::Copy(a) if a.json && a.srcs == ["a b"] && a.dest == "/c d/")
    );
}

#[test]
fn flags() {
    assert!(
        matches!(first("RUN --mount=type=cache,target=/c --network=none echo"),
            Instruction::Run { flags, cmd: Cmd::Shell(s), .. } if flags.len() == 2 && s == "echo")
    );
    assert!(
        matches!(first("COPY --chown=\"1:2\" a b"), Instruction::Copy(a) if a.chown.as_deref() == Some("1:2"))
    );
    assert!(matches!(first("COPY --link a b"), Instruction::Copy(a) if a.link));
    assert!(
        matches!(first("COPY --exclude=*.md --exclude=x a b"), Instruction::Copy(a) if a.exclude == ["*.md", "x"])
    );
    assert!(matches!(first("COPY -- --weird b"), Instruction::Copy(a) if a.srcs == ["--weird"]));
    let d = p("FROM --platform=linux/amd64 busybox");
    assert!(
        matches!(&d.stages[0].from.instruction, Instruction::From { platform: Some(p), .. } if p == "linux/amd64")
    );
}

#[test]
fn arg_scoping_shape() {
    let d = p("ARG V=1\nARG W\nFROM busybox:${V}\nARG V\nRUN echo $V\nFROM scratch\nARG W=2\n");
    assert_eq!(d.meta_args.len(), 2);
    assert_eq!(d.stages[0].commands.len(), 2);
    assert_eq!(d.stages[1].commands.len(), 1);
    assert!(
        matches!(&d.stages[0].from.instruction, Instruction::From { image, .. } if image == "busybox:${V}")
    );
}

#[test]
fn hostile_inputs() {
    // Long lines, many continuations, odd bytes: no panic, sane errors.
    let long = format!("FROM busybox\nRUN {}\n", "x".repeat(1 << 20));
    assert_eq!(p(&long).stages[0].commands.len(), 1);
    let many = format!("FROM busybox\nRUN a{}\n", " \\\nb".repeat(10_000));
    assert_eq!(p(&many).stages[0].commands.len(), 1);
    let _ = parse("FROM \u{0}\u{7f}\nRUN \u{202e}");
    let _ = parse("\\\n\\\n\\");
    let _ = parse("FROM a\nCOPY <<");
    let _ = parse("FROM a\nCOPY <<\"unterminated");
    let _ = parse("FROM a\nRUN <<-");
    let _ = parse("FROM a\nHEALTHCHECK");
    let _ = parse("FROM a\nHEALTHCHECK CMD");
    let _ = parse("FROM a\nONBUILD");
    let _ = parse("FROM a\nCOPY --=x a b");
    let _ = parse("FROM a\nLABEL \"unterminated=x");
    let _ = parse("FROM a\nENV é=ü");
    for s in [
        "FROM",
        "FROM\t",
        "FROM a AS",
        "FROM a AS b c",
        "#escape=\\\n#escape",
    ] {
        assert!(parse(s).is_err(), "{s}");
    }
    assert!(e(&"x".repeat(MAX_DOCKERFILE + 1)).contains("too large"));
    // Every prefix of a real Dockerfile parses or errors without panic.
    let src = "# escape=\\\nARG A=1\nFROM busybox AS b\nRUN <<EOF\necho \"${A:-x}\"\nEOF\nCOPY --from=b [\"a\", \"b\"]\nENV X=\"y z\" \\\n  W=1\n";
    for n in 0..=src.len() {
        if src.is_char_boundary(n) {
            let _ = parse(&src[..n]);
        }
    }
}

#[test]
fn words_keep_quotes() {
    assert_eq!(
        split_words("a \"b c\" 'd e' f\\ g", '\\'),
        ["a", "\"b c\"", "'d e'", "f\\ g"]
    );
    assert_eq!(split_words("  ", '\\'), Vec::<String>::new());
    assert_eq!(split_words("x=\"1 2\"", '\\'), ["x=\"1 2\""]);
}
