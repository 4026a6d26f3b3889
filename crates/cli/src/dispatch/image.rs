//! `berth image ...` (and `images`, `build`, `pull`... at the top level).

use crate::args::ImageCmd as I;
use crate::client::Client;
use crate::commands::{build, distribution, image, system};
use crate::Failure;

pub async fn run(c: &Client, cmd: I) -> Result<i32, Failure> {
    match cmd {
        I::Ls(a) => {
            let opts = image::ImagesOpts {
                all: a.all,
                quiet: a.quiet,
                digests: a.digests,
                no_trunc: a.no_trunc,
                filters: a.filter,
                format: a.format,
                reference: a.reference,
            };
            image::images(c, opts).await
        }
        I::Inspect(a) => system::inspect(c, a.names, a.format, Some("image".into()), false).await,
        I::Rm(a) => image::rmi(c, a.names, a.force, a.no_prune).await,
        I::Tag { source, target } => image::tag(c, &source, &target).await,
        I::Build(a) => {
            let opts = build::BuildOpts {
                path: a.path,
                tags: a.tag,
                file: a.file,
                build_args: a.build_arg,
                target: a.target,
                no_cache: a.no_cache,
                quiet: a.quiet,
                iidfile: a.iidfile,
                labels: a.label,
                network: a.network,
                pull: a.pull,
            };
            build::build(c, opts).await
        }
        I::Import(a) => image::import(c, &a.file, a.reference, a.message, a.change).await,
        I::Save(a) => image::save(c, a.images, a.output).await,
        I::Load(a) => image::load(c, a.input, a.quiet).await,
        I::Pull(a) => {
            // Content trust is not implemented; docker's default is off.
            let _ = a.disable_content_trust;
            distribution::pull(c, &a.name, a.all_tags, a.quiet, a.platform).await
        }
        I::Push(a) => distribution::push(c, &a.name, a.all_tags, a.quiet).await,
        I::History(a) => image::history(c, &a.image, a.no_trunc, a.quiet, a.human, a.format).await,
        I::Prune(a) => image::prune(c, a.all, a.prune.force, a.prune.filter).await,
    }
}
