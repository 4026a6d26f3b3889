//! `berth container ...` (and `run`, `ps`, `exec`... at the top level).

use crate::args::ContainerCmd as C;
use crate::client::Client;
use crate::commands::{commit, container, cp, network, resources, system};
use crate::Failure;

pub async fn run(c: &Client, cmd: C) -> Result<i32, Failure> {
    match cmd {
        C::Run(a) => container::run(c, a.opts, a.detach, with_config(a.detach_keys)).await,
        C::Create(o) => container::create(c, o).await,
        C::Start(a) => {
            let keys = with_config(a.detach_keys);
            container::start(c, a.ids, a.attach, a.interactive, keys).await
        }
        C::Stop(a) => {
            let q = query(&[("t", a.time.map(|t| t.to_string())), ("signal", a.signal)]);
            container::simple(c, a.ids, "stop", q).await
        }
        C::Restart(a) => {
            let q = query(&[("t", a.time.map(|t| t.to_string())), ("signal", a.signal)]);
            container::simple(c, a.ids, "restart", q).await
        }
        C::Kill(a) => container::simple(c, a.ids, "kill", query(&[("signal", a.signal)])).await,
        C::Pause(a) => container::simple(c, a.ids, "pause", String::new()).await,
        C::Unpause(a) => container::simple(c, a.ids, "unpause", String::new()).await,
        C::Top { container, ps_args } => container::top(c, &container, &ps_args.join(" ")).await,
        C::Diff { container } => commit::diff(c, &container).await,
        C::Export(a) => commit::export(c, &a.container, a.output).await,
        C::Commit(a) => {
            commit::commit(
                c,
                &a.container,
                a.reference,
                a.author,
                a.message,
                a.change,
                a.pause,
            )
            .await
        }
        C::Cp(o) => cp::cp(c, o).await,
        C::Update(o) => resources::update(c, o).await,
        C::Stats(o) => resources::stats(c, o).await,
        C::Rm(a) => container::rm(c, a.ids, a.force, a.volumes).await,
        C::Rename {
            container,
            new_name,
        } => container::rename(c, &container, &new_name).await,
        C::Ls(a) => {
            let opts = container::PsOpts {
                all: a.all,
                quiet: a.quiet,
                no_trunc: a.no_trunc,
                size: a.size,
                latest: a.latest,
                last: a.last,
                filters: a.filter,
                format: a.format,
            };
            container::ps(c, opts).await
        }
        C::Logs(a) => {
            let opts = container::LogsOpts {
                follow: a.follow,
                tail: a.tail,
                since: a.since,
                until: a.until,
                timestamps: a.timestamps,
                details: a.details,
            };
            container::logs(c, &a.container, opts).await
        }
        C::Attach(a) => {
            container::attach(
                c,
                &a.container,
                a.no_stdin,
                a.sig_proxy,
                with_config(a.detach_keys),
            )
            .await
        }
        C::Wait(a) => container::wait(c, a.ids).await,
        C::Exec(a) => {
            let opts = container::ExecOpts {
                container: a.container,
                command: a.command,
                interactive: a.interactive,
                tty: a.tty,
                detach: a.detach,
                user: a.user,
                workdir: a.workdir,
                env: a.env,
                privileged: a.privileged,
                detach_keys: with_config(a.detach_keys),
            };
            container::exec(c, opts).await
        }
        C::Inspect(a) => {
            system::inspect(c, a.names, a.format, Some("container".into()), a.size).await
        }
        C::Prune(a) => container::prune(c, a.force, a.filter).await,
        C::Port(a) => network::port(c, a).await,
    }
}

/// `?k=v&...` of the pairs that are set; "" when none is.
/// `--detach-keys`, else the client config's `detachKeys`, as the docker
/// CLI takes them for run, start, attach and exec.
fn with_config(flag: Option<String>) -> Option<String> {
    flag.or_else(|| {
        let dir = crate::config::CONFIG_DIR.get()?;
        crate::config::detach_keys(&crate::config::load(dir).0)
    })
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", crate::client::q(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}
