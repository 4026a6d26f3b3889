//! `berth volume ...`.

use crate::args::VolumeCmd;
use crate::client::Client;
use crate::commands::volume;
use crate::Failure;

pub async fn run(c: &Client, cmd: VolumeCmd) -> Result<i32, Failure> {
    match cmd {
        VolumeCmd::Create(a) => {
            if a.name.is_some() && a.name_flag.is_some() {
                return Err(Failure::usage(
                    "conflicting options: cannot specify a volume-name through both --name and as a positional arg",
                ));
            }
            volume::create(c, a.name.or(a.name_flag), a.driver, a.label, a.opt).await
        }
        VolumeCmd::Ls(a) => volume::ls(c, a.quiet, a.filter, a.format).await,
        VolumeCmd::Inspect(a) => volume::inspect(c, a.names, a.format).await,
        VolumeCmd::Rm(a) => volume::rm(c, a.names, a.force).await,
        VolumeCmd::Prune(a) => volume::prune(c, a.all, a.prune.force, a.prune.filter).await,
    }
}
