//! `berth context ...`: runs before a client is made, as these commands
//! manage what the client would connect to.

use crate::args::ContextCmd;
use crate::commands::context as ctxcmd;
use crate::context::{self, GlobalOpts};
use crate::Failure;

pub fn run(gopts: &GlobalOpts, cmd: ContextCmd) -> Result<i32, Failure> {
    let env = context::process_env;
    let ctx = ctxcmd::Ctx::new(gopts, &env);
    match cmd {
        ContextCmd::Create(a) => ctxcmd::create(
            &ctx,
            &a.spec.name,
            a.spec.description,
            a.spec.docker,
            a.from,
        ),
        ContextCmd::Update(a) => ctxcmd::update(&ctx, &a.name, a.description, a.docker),
        ContextCmd::Ls { format, quiet } => ctxcmd::ls(&ctx, format, quiet),
        ContextCmd::Use { name } => ctxcmd::use_(&ctx, &name),
        ContextCmd::Show => ctxcmd::show(&ctx),
        ContextCmd::Inspect { format, names } => ctxcmd::inspect(&ctx, names, format),
        ContextCmd::Rm { force, names } => ctxcmd::rm(&ctx, names, force),
    }
}
