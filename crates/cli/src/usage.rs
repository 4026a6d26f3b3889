//! docker's wording for command-line mistakes (cobra's): `unknown flag`,
//! `requires at least 1 argument`, `accepts no arguments`, each followed by
//! the command's usage line and a pointer to `--help`, with docker's exit
//! codes (125 for flag errors, 1 for argument-count errors).

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// The usage line docker shows for a command path (`run`, `container ls`).
pub fn usage_line(path: &str) -> String {
    let tail = match path {
        "run" | "container run" | "create" | "container create" => {
            "[OPTIONS] IMAGE [COMMAND] [ARG...]"
        }
        "start" | "container start" | "stop" | "container stop" | "restart"
        | "container restart" | "kill" | "container kill" | "rm" | "container rm" | "pause"
        | "container pause" | "unpause" | "container unpause" | "wait" | "container wait" => {
            "[OPTIONS] CONTAINER [CONTAINER...]"
        }
        "rename" | "container rename" => "CONTAINER NEW_NAME",
        "logs" | "container logs" | "attach" | "container attach" => "[OPTIONS] CONTAINER",
        "exec" | "container exec" => "[OPTIONS] CONTAINER COMMAND [ARG...]",
        "top" | "container top" => "CONTAINER [ps OPTIONS]",
        "inspect" => "[OPTIONS] NAME|ID [NAME|ID...]",
        "container inspect" => "[OPTIONS] CONTAINER [CONTAINER...]",
        "image inspect" | "rmi" | "image rm" => "[OPTIONS] IMAGE [IMAGE...]",
        "images" | "image ls" => "[OPTIONS] [REPOSITORY[:TAG]]",
        "history" | "image history" => "[OPTIONS] IMAGE",
        "tag" | "image tag" => "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
        "import" | "image import" => "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
        "save" | "image save" => "[OPTIONS] IMAGE [IMAGE...]",
        "context create" => "[OPTIONS] CONTEXT",
        "context update" => "[OPTIONS] CONTEXT",
        "context use" => "CONTEXT",
        "context inspect" => "[OPTIONS] [CONTEXT] [CONTEXT...]",
        "context rm" => "CONTEXT [CONTEXT...]",
        "network create" => "[OPTIONS] NETWORK",
        "network connect" => "[OPTIONS] NETWORK CONTAINER",
        "network disconnect" => "[OPTIONS] NETWORK CONTAINER",
        "network inspect" => "[OPTIONS] NETWORK [NETWORK...]",
        "network rm" | "network remove" => "NETWORK [NETWORK...]",
        "port" | "container port" => "CONTAINER [PRIVATE_PORT[/PROTO]]",
        "swarm init" | "swarm update" | "swarm unlock-key" | "swarm ca" | "swarm leave"
        | "node ls" | "node list" => "[OPTIONS]",
        "swarm unlock" => "",
        "swarm join" => "[OPTIONS] HOST:PORT",
        "swarm join-token" => "[OPTIONS] (worker|manager)",
        "node inspect" => "[OPTIONS] self|NODE [NODE...]",
        "node update" => "[OPTIONS] NODE",
        "node promote" | "node demote" => "NODE [NODE...]",
        "node rm" | "node remove" => "[OPTIONS] NODE [NODE...]",
        "node ps" => "[OPTIONS] [NODE...]",
        "container" | "image" | "system" | "context" | "context show" | "network" | "swarm"
        | "node" => "",
        _ => "[OPTIONS]",
    };
    if tail.is_empty() {
        format!("Usage:  berth {path}")
    } else {
        format!("Usage:  berth {path} {tail}")
    }
}

/// The command path the user typed: `ps`, `container ls`...
fn command_path() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if matches!(
            a.as_str(),
            "-H" | "--host"
                | "-c"
                | "--context"
                | "--config"
                | "-l"
                | "--log-level"
                | "--tlscacert"
                | "--tlscert"
                | "--tlskey"
        ) {
            i += 2;
            continue;
        }
        if a.starts_with('-') {
            i += 1;
            continue;
        }
        words.push(a.clone());
        if !matches!(
            a.as_str(),
            "container" | "image" | "system" | "context" | "network" | "swarm" | "node"
        ) || words.len() == 2
        {
            break;
        }
        i += 1;
    }
    words.join(" ")
}

fn context(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        _ => None,
    }
}

/// cobra's wrong-number-of-arguments error for `path`, where the command
/// checks its positional arguments itself; `what` is `exactly 1 argument`
/// or `at least 1 argument`.
pub fn arg_count_failure(path: &str, what: &str) -> crate::Failure {
    let (what, verb) = match what.strip_prefix("exactly ") {
        Some(n) => (n, "Run"),
        None => (what, "See"),
    };
    crate::Failure::msg(format!(
        "berth: 'berth {path}' requires {what}\n\n{}\n\n{verb} 'berth {path} --help' for more information",
        usage_line(path)
    ))
}

/// docker's message and exit code for a parse error.
pub fn docker_error(e: &clap::Error, root: &clap::Command) -> (String, i32) {
    let path = command_path();
    let usage = usage_line(&path);
    let help = |verb: &str| format!("{verb} 'berth {path} --help' for more information");
    if path == "context use"
        && matches!(
            e.kind(),
            ErrorKind::MissingRequiredArgument | ErrorKind::UnknownArgument
        )
    {
        // cobra's ExactArgs(1), which docker's `context use` prints bare.
        let given = std::env::args()
            .skip_while(|a| a != "use")
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .count();
        if given != 1 {
            return (format!("accepts 1 arg(s), received {given}"), 1);
        }
    }
    let count_error = matches!(
        e.kind(),
        ErrorKind::MissingRequiredArgument | ErrorKind::TooFewValues
    ) || (e.kind() == ErrorKind::UnknownArgument
        && !context(e, ContextKind::InvalidArg)
            .unwrap_or_default()
            .starts_with('-'));
    if count_error {
        if let Some(what) = arg_count_rule(&path) {
            let verb = if what.starts_with("at least 1 argument") {
                "See"
            } else {
                "Run"
            };
            return (
                format!(
                    "berth: 'berth {path}' requires {what}\n\n{usage}\n\n{}",
                    help(verb)
                ),
                1,
            );
        }
    }
    match e.kind() {
        ErrorKind::InvalidSubcommand => {
            let bad = context(e, ContextKind::InvalidSubcommand).unwrap_or_default();
            if path.is_empty() || path == bad {
                return (
                    format!("berth: unknown command: berth {bad}\n\nRun 'berth --help' for more information"),
                    1,
                );
            }
            let group = path.split(' ').next().unwrap_or("");
            (
                format!("berth: unknown command: berth {group} {bad}\n\nUsage:  berth {group}\n\nRun 'berth {group} --help' for more information"),
                1,
            )
        }
        ErrorKind::UnknownArgument => {
            let arg = context(e, ContextKind::InvalidArg).unwrap_or_default();
            let flag = arg.split('=').next().unwrap_or(&arg).to_string();
            if let Some(long) = flag.strip_prefix("--") {
                (
                    format!("unknown flag: --{long}\n\n{usage}\n\n{}", help("Run")),
                    125,
                )
            } else if let Some(short) = flag.strip_prefix('-').filter(|s| !s.is_empty()) {
                let c = short.chars().next().unwrap_or('?');
                (
                    format!(
                        "unknown shorthand flag: '{c}' in {flag}\n\n{usage}\n\n{}",
                        help("Run")
                    ),
                    125,
                )
            } else {
                (
                    format!(
                        "berth: 'berth {path}' accepts no arguments\n\n{usage}\n\n{}",
                        help("Run")
                    ),
                    1,
                )
            }
        }
        ErrorKind::MissingRequiredArgument | ErrorKind::TooFewValues => {
            let exact = matches!(
                path.as_str(),
                "rename"
                    | "container rename"
                    | "tag"
                    | "image tag"
                    | "logs"
                    | "container logs"
                    | "attach"
                    | "container attach"
                    | "history"
                    | "image history"
                    | "context create"
                    | "context update"
                    | "context use"
            );
            let (what, verb) = if exact {
                let n = if path.ends_with("rename") || path.ends_with("tag") {
                    2
                } else {
                    1
                };
                let s = if n == 1 { "argument" } else { "arguments" };
                (format!("requires {n} {s}"), "Run")
            } else {
                ("requires at least 1 argument".to_string(), "See")
            };
            (
                format!("berth: 'berth {path}' {what}\n\n{usage}\n\n{}", help(verb)),
                1,
            )
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = context(e, ContextKind::InvalidArg).unwrap_or_default();
            let value = context(e, ContextKind::InvalidValue).unwrap_or_default();
            let flag = flag_names(&arg, root, &path);
            let why = e
                .source()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "invalid syntax".into());
            let why = if why.contains("invalid digit") || why.contains("invalid float") {
                format!("strconv.ParseInt: parsing \"{value}\": invalid syntax")
            } else {
                why
            };
            (
                format!(
                    "invalid argument \"{value}\" for \"{flag}\" flag: {why}\n\n{usage}\n\n{}",
                    help("Run")
                ),
                125,
            )
        }
        _ => (
            format!(
                "{}\n\n{usage}\n\n{}",
                e.to_string().trim_start_matches("error: ").trim(),
                help("Run")
            ),
            125,
        ),
    }
}

/// What cobra says a command's positional arguments must be, for the
/// `network` commands and `port` (the older commands are handled below).
fn arg_count_rule(path: &str) -> Option<&'static str> {
    Some(match path {
        "network create" => "1 argument",
        "network connect" | "network disconnect" => "2 arguments",
        "network inspect" | "network rm" | "network remove" => "at least 1 argument",
        "port" | "container port" => "at least 1 and at most 2 arguments",
        _ => return None,
    })
}

/// clap's `--time <TIME>` as docker's `-t, --time`.
fn flag_names(arg: &str, root: &clap::Command, path: &str) -> String {
    let long = arg
        .split_whitespace()
        .find_map(|w| w.strip_prefix("--"))
        .unwrap_or("")
        // An optional value shows as `--flag[=<FLAG>]`.
        .split('[')
        .next()
        .unwrap_or("")
        .to_string();
    let mut cmd = Some(root);
    for word in path.split(' ').filter(|w| !w.is_empty()) {
        cmd = cmd.and_then(|c| c.find_subcommand(word));
    }
    let short = cmd.and_then(|c| {
        c.get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()))
            .and_then(|a| a.get_short())
    });
    match short {
        Some(s) => format!("-{s}, --{long}"),
        None => format!("--{long}"),
    }
}

use std::error::Error as _;
